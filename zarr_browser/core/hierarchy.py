"""The hierarchy of a zarr store, listed lazily one level at a time.

:class:`Hierarchy` reads raw documents through a :class:`~zarr_browser.core.store.StoreAccess`
and never goes through ``zarr.Group.members()`` (one unreadable child makes that fail for the
whole group).  Each child is parsed on its own; a broken child becomes an error node and its
siblings still list.

Consolidated metadata (v2 ``.zmetadata``, v3 inline ``consolidated_metadata``) is read with the
root.  Remote stores list from it (one round trip for the whole tree); local stores list the
real files and compare each node with its consolidated copy, flagging stale copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from zarr_browser.core.jsonio import JSON, Document, canonical, parse_document, parse_members, quiet_collector
from zarr_browser.core.model import (
    DENIED_NOTE,
    METADATA_NAMES,
    UNREAD_NOTE,
    Node,
    build_node,
    join_path,
    key_prefix,
    metadata_keys,
    parent_path,
)
from zarr_browser.core.store import AccessMode, RequestPolicy, StoreAccess, open_store, run_sync
from zarr_browser.core.tempfiles import TEMP_PREFIX
from zarr_browser.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    DocumentTooLargeError,
    NodeNotFoundError,
    StoreBoundaryError,
    StoreOpenError,
    StoreReadError,
    ZarrBrowserError,
)

__all__ = ["ConsolidatedIndex", "Hierarchy", "Listing", "natural_key"]

logger = logging.getLogger(__name__)

ConsolidatedPolicy = Literal["auto", "always", "never"]
HintFunction = Callable[[Node], Iterable[str]]
_SKIP_NAMES = frozenset(METADATA_NAMES) | {".zmetadata"}
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that orders ``2`` before ``10`` (``"A10" > "A2"``): text and numbers alternate,
    text first.  (Testing each part with ``str.isdigit`` made a child named ``²`` - a digit to
    ``isdigit``, not to ``int`` - fail the whole listing.)"""
    parts: list[Any] = _DIGITS.split(name)
    if len(parts) == 1:
        return (name.casefold(),)
    parts[::2] = [part.casefold() for part in parts[::2]]
    parts[1::2] = [int(part) for part in parts[1::2]]
    return tuple(parts)


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a group's children.

    Attributes
    ----------
    path
        The group listed.
    names
        Every child name known (naturally sorted), including those outside this page.
    nodes
        The nodes of this page, in order.
    offset
        Index of the first node of the page in ``names``.
    complete
        False when the group could not be listed and the names came from convention hints
        (OME datasets, plate wells, NCZarr variables...); such a listing may miss children.
    error
        Why the group could not be listed, or None.
    source
        ``"store"``, ``"consolidated"`` or ``"hints"``.
    pending
        Names of this page still being read when the listing's patience ran out (see
        :meth:`Hierarchy.achildren`), in order; :meth:`Hierarchy.node` waits for them.
    """

    path: str
    names: tuple[str, ...]
    nodes: tuple[Node, ...]
    offset: int = 0
    complete: bool = True
    error: str | None = None
    source: Literal["store", "consolidated", "hints"] = "store"
    pending: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return len(self.names)

    @property
    def end(self) -> int:
        """Index in ``names`` just after this page (its nodes and its pending names)."""
        return self.offset + len(self.nodes) + len(self.pending)

    @property
    def has_more(self) -> bool:
        return self.end < len(self.names)


@dataclass(frozen=True, slots=True)
class ConsolidatedIndex:
    """The consolidated copies of a hierarchy's documents.

    ``documents`` maps a node path to its documents by file name; ``children`` maps a group
    path to its child names.  ``problems`` lists what was wrong with the consolidated document
    itself (malformed entries are skipped, never fatal).
    """

    zarr_format: Literal[2, 3]
    key: str
    documents: Mapping[str, Mapping[str, Document]]
    children: Mapping[str, tuple[str, ...]]
    problems: tuple[str, ...] = ()
    unusable: bool = False
    """The index could not be read at all (not JSON, no ``metadata`` object): zarr-python and
    xarray, which read it first, then fail to open the store."""

    def node(self, path: str) -> Node | None:
        docs = self.documents.get(path)
        if docs is None:
            return None
        node = build_node(path, docs, source="consolidated", implicit_ok=True)
        if node is not None and node.is_group:
            from dataclasses import replace

            node = replace(node, consolidated_dataset=self.lists_dataset(path))
        return node

    def lists_dataset(self, path: str) -> bool:
        """Whether the group at *path* has child arrays here, all with dimension names (xarray's
        rule for a dataset; a 0-d v3 array has none to write)."""
        found = False
        for name in self.children.get(path, ()):
            docs = self.documents.get(join_path(path, name)) or {}
            if self.zarr_format == 3:
                doc = docs.get("zarr.json")
                meta = doc.value if doc is not None and isinstance(doc.value, dict) else {}
                if meta.get("node_type") != "array":
                    continue
                dims = meta.get("dimension_names")
                if dims is None and meta.get("shape") == []:
                    dims = []
            else:
                if ".zarray" not in docs:
                    continue
                attrs = docs.get(".zattrs")
                dims = attrs.value.get("_ARRAY_DIMENSIONS") if attrs is not None and isinstance(attrs.value, dict) else None
            if not isinstance(dims, list):
                return False
            found = True
        return found

    @classmethod
    def parse(cls, root_docs: Mapping[str, Document]) -> ConsolidatedIndex | None:
        """Build the index from the root's documents, or None when there is none."""
        v3 = root_docs.get("zarr.json")
        with quiet_collector():  # a document each of thousands of nodes, kept while the store is open
            if v3 is not None and isinstance(v3.value, dict) and "consolidated_metadata" in v3.value:
                return cls._parse_v3(v3)
            v2 = root_docs.get(".zmetadata")
            if v2 is not None:
                return cls._parse_v2(v2)
        return None

    @classmethod
    def _parse_v3(cls, doc: Document) -> ConsolidatedIndex | None:
        block = doc.value.get("consolidated_metadata")
        if block is None:
            return None
        problems: list[str] = []
        if not isinstance(block, dict) or not isinstance(block.get("metadata"), dict):
            return cls(3, doc.key, {}, {}, ("consolidated_metadata is not an object with 'metadata'",), unusable=True)
        if block.get("kind") != "inline":
            problems.append(f"consolidated_metadata.kind is {block.get('kind')!r}, expected 'inline'")
        documents: dict[str, dict[str, Document]] = {}
        children: dict[str, dict[str, None]] = {}
        for rel, meta in block["metadata"].items():
            if not isinstance(rel, str) or not _valid_rel(rel):
                problems.append(f"entry {rel!r} is not a valid relative node path; skipped")
                continue
            path = "/" + rel
            key = key_prefix(path) + "zarr.json"
            documents[path] = {"zarr.json": Document.of_value(key, meta)}
            _add_child(children, path)
        return cls(3, doc.key, documents, {k: tuple(sorted(v, key=natural_key)) for k, v in children.items()}, tuple(problems))

    @classmethod
    def _parse_v2(cls, doc: Document) -> ConsolidatedIndex | None:
        value = doc.value
        if not doc.ok:
            return cls(2, doc.key, {}, {}, (f"{doc.key}: {doc.error}",), unusable=True)
        if not isinstance(value, dict) or not isinstance(value.get("metadata"), dict):
            return cls(2, doc.key, {}, {}, (".zmetadata has no 'metadata' object",), unusable=True)
        problems: list[str] = []
        if value.get("zarr_consolidated_format") != 1:
            problems.append(f"zarr_consolidated_format is {value.get('zarr_consolidated_format')!r}, expected 1")
        documents: dict[str, dict[str, Document]] = {}
        children: dict[str, dict[str, None]] = {}
        for key, meta in value["metadata"].items():
            if not isinstance(key, str):
                continue
            head, _, name = key.rpartition("/")
            if name not in (".zarray", ".zgroup", ".zattrs"):
                continue
            if head and not _valid_rel(head):
                problems.append(f"entry {key!r} is not a valid relative key; skipped")
                continue
            path = "/" + head if head else "/"
            documents.setdefault(path, {})[name] = Document.of_value(key, meta)
            if path != "/":
                _add_child(children, path)
        return cls(2, doc.key, documents, {k: tuple(sorted(v, key=natural_key)) for k, v in children.items()}, tuple(problems))

    def compare(self, node: Node) -> Literal["fresh", "stale", "absent"]:
        """How the node's own documents compare with their consolidated copies."""
        differing = self.differences(node)
        if differing is None:
            return "absent"
        return "stale" if differing else "fresh"

    def differences(self, node: Node) -> tuple[str, ...] | None:
        """The names of the node's documents that differ from their consolidated copies.

        None when the node has no consolidated copy at all.  A missing empty ``.zattrs`` on
        either side is no difference, and neither is a group's ``consolidated_metadata`` key:
        zarr-python puts a (nested) consolidated block into every group entry of the copy,
        v2 ``.zgroup`` entries included, so it is not part of the node's own metadata.
        """
        copy = self.documents.get(node.path)
        if copy is None:
            return None
        differing: list[str] = []
        for name in sorted({*node.documents, *copy} - {".zmetadata"}):
            mine, theirs = node.documents.get(name), copy.get(name)
            if mine is None or theirs is None:
                present = mine or theirs
                assert present is not None
                if not (name == ".zattrs" and present.value == {}):
                    differing.append(name)
                continue
            a, b = _own_metadata(name, mine.value), _own_metadata(name, theirs.value)
            # == first (no text for the common equal case; 1 and 1.0 are the same metadata), the
            # canonical text where they differ (NaN is not equal to itself)
            if a != b and canonical(a) != canonical(b):
                differing.append(name)
        return tuple(differing)


def _identical(a: JSON, b: JSON) -> bool:
    """Whether two parsed JSON values are the same value written the same way: same types (1,
    1.0 and true differ), same key order, -0.0 and NaN told apart as their text tells them."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return len(a) == len(b) and all(ka == kb and _identical(va, vb)
                                        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True))
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        assert isinstance(b, float)
        return repr(a) == repr(b)
    return a == b


def _own_metadata(name: str, value: JSON) -> JSON:
    """A document without the consolidated block a group's metadata may carry."""
    if name in ("zarr.json", ".zgroup") and isinstance(value, dict) and "consolidated_metadata" in value:
        return {k: v for k, v in value.items() if k != "consolidated_metadata"}
    return value


def _valid_rel(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and not rel.startswith("/") and all(p not in ("", ".", "..") for p in parts) and "\\" not in rel


def _add_child(children: dict[str, dict[str, None]], path: str) -> None:
    """Register *path* and its ancestors as children of their parents (an ordered set each: a
    list made 100,000 siblings a quadratic parse, 3 minutes)."""
    while True:
        parent = parent_path(path)
        if parent is None:
            return
        name = path.rsplit("/", 1)[-1]
        siblings = children.setdefault(parent, {})
        if name in siblings:
            return
        siblings[name] = None
        path = parent


Expectation = tuple[Literal[2, 3], Literal["group", "array", "array-data", "image"]]
"""What a node is expected to be, for :meth:`Hierarchy.prefetch`: ``array-data`` is an array
whose attributes are not needed (a mosaic tile: a v2 ``.zattrs`` is not asked for); ``image`` a
group with attributes (a multiscale image or label image) where, when none of its documents
exists, there is no image: nothing more is asked (a plate's label images, missing in most wells)."""

_EXPECTED: dict[Expectation, tuple[str, ...]] = {
    (2, "group"): (".zgroup", ".zattrs"),
    (2, "array"): (".zarray", ".zattrs"),
    (2, "array-data"): (".zarray",),
    (2, "image"): (".zgroup", ".zattrs"),
    (3, "image"): ("zarr.json",),
    (3, "group"): ("zarr.json",),
    (3, "array"): ("zarr.json",),
    (3, "array-data"): ("zarr.json",),
}


class Hierarchy:
    """A lazily listed zarr hierarchy.

    Build it with :meth:`open` (does I/O: reads the root) or construct it on a
    :class:`StoreAccess` and call :meth:`load_root`.  All methods are synchronous facades over
    async implementations (``a``-prefixed) that run on zarr's I/O loop; call them from worker
    threads, never from a GUI thread.

    Parameters
    ----------
    access
        The store.
    consolidated
        ``"auto"``: list remote stores from consolidated metadata, local ones from the files
        (flagging stale copies); ``"always"``: list from consolidated metadata when present;
        ``"never"``: ignore it.
    hints
        Returns child names a node declares (OME datasets, plate wells...), used when a
        remote group cannot be listed.
    """

    def __init__(
        self,
        access: StoreAccess,
        *,
        consolidated: ConsolidatedPolicy = "auto",
        hints: HintFunction | None = None,
    ) -> None:
        self.access = access
        self.consolidated_policy: ConsolidatedPolicy = consolidated
        self._hints = hints
        self._root: Node | None = None
        self.consolidated: ConsolidatedIndex | None = None
        self._nodes: dict[str, Node] = {}
        self._prefetching: dict[str, asyncio.Future[None]] = {}  # paths a prefetch is reading now
        self._loading: dict[str, asyncio.Future[None]] = {}  # children a listing is reading now
        self._tasks: set[asyncio.Task[None]] = set()  # listings' reads that outlive their patience
        self._absent: set[str] = set()  # remote paths known to hold no node
        self._names: dict[str, tuple[tuple[str, ...], bool, str | None, str]] = {}
        self._temp_names: dict[str, tuple[str, ...]] = {}  # our temporary files a folder's listing showed

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        url: str,
        *,
        storage_options: dict | None = None,
        mode: AccessMode = "r",
        policy: RequestPolicy | None = None,
        consolidated: ConsolidatedPolicy = "auto",
        hints: HintFunction | None = None,
    ) -> Hierarchy:
        """Open the store at *url* and read its root.  Raises StoreOpenError when unreadable."""
        access = open_store(url, storage_options=storage_options, mode=mode, policy=policy)
        hierarchy = cls(access, consolidated=consolidated, hints=hints)
        hierarchy.load_root()
        return hierarchy

    @property
    def url(self) -> str:
        return self.access.url

    @property
    def root(self) -> Node:
        if self._root is None:
            raise RuntimeError("call load_root() (or Hierarchy.open) before using the hierarchy")
        return self._root

    def load_root(self) -> Node:
        """Read the root documents and consolidated metadata (one round trip)."""
        return run_sync(self.aload_root())

    async def aload_root(self) -> Node:
        keys = [*metadata_keys("/"), ".zmetadata"]
        try:
            raw = await self.access.get_many(keys)
        except StoreReadError as err:
            raise StoreOpenError(str(err)) from err
        skipped = raw.get("zarr.json")
        if isinstance(skipped, DocumentTooLargeError):
            # zarr-python writes a v3 root's consolidated metadata inline, ~1 KB per array: past
            # 69,000 arrays the root zarr.json passes the document bound.  Browse it from the store.
            raw = {k: v for k, v in raw.items() if k != "zarr.json"}
        docs, failures, notes = self._parse_docs("/", raw)
        if failures and not docs:
            if any(isinstance(v, AccessDeniedError) for v in raw.values()):  # refused: say what that may mean
                raise StoreOpenError(f"cannot read {self.url}: {failures[0]}; or there is no zarr store at this path "
                                     "(a server that does not let the caller list answers 403 for keys that do not "
                                     "exist)")
            raise StoreOpenError(f"cannot read {self.url}: {failures[0]}")
        gone = self._gone("/") if not docs else None
        if gone is not None:  # deleted since it was opened: not an empty implicit group
            raise StoreOpenError(f"{gone} no longer exists")
        if isinstance(skipped, DocumentTooLargeError) and not docs:
            peeked = await self._large_group_attributes()
            if peeked is None:
                raise StoreOpenError(f"cannot read {self.url}: {skipped}")
            attributes, complete = peeked
            note = (f"{skipped}: its consolidated metadata is not read (the children are listed from the "
                    "store)" + ("" if complete else ", nor its attributes"))
            self._root = self._nodes["/"] = Node("/", "group", 3, {}, attributes, notes=(note,))
            return self._root
        if self.consolidated_policy != "never":
            self.consolidated = ConsolidatedIndex.parse(docs)
        # .zmetadata stays among the root's documents: conventions describe it, the raw view shows it
        node = build_node("/", docs, implicit_ok=self.access.protocol in ("local", "zip", "memory")
                          or self.access.is_archive)
        if node is None and self.access.is_remote and await self._lists_something():
            node = build_node("/", docs, implicit_ok=True)  # a bucket or folder of stores: browse it
        if node is None:
            raise StoreOpenError(f"no zarr metadata found at {self.url} (no zarr.json, .zgroup or .zarray)")
        if failures:
            node = _with_error(node, "; ".join(failures))
        if notes:
            node = _with_notes(node, notes)
        node = self._flag_consolidated(node)
        self._root = node
        self._nodes["/"] = node
        return node

    LARGE_ROOT_PEEK = 1 << 16
    """Bytes read from each end of a root ``zarr.json`` over the document bound."""

    async def _large_group_attributes(self) -> tuple[dict[str, JSON], bool] | None:
        """The attributes of a v3 root group whose ``zarr.json`` is over the document bound, and
        whether they were read (whole in its first or last bytes, in any order of keys); None when its
        ends do not show a group with consolidated metadata - only such a group is opened
        without its document."""
        from zarr.abc.store import RangeByteRequest, SuffixByteRequest
        from zarr.core.buffer import default_buffer_prototype

        prototype = default_buffer_prototype()
        try:
            head = await self.access.zarr_store.get("zarr.json", prototype, RangeByteRequest(0, self.LARGE_ROOT_PEEK))
            tail = await self.access.zarr_store.get("zarr.json", prototype, SuffixByteRequest(self.LARGE_ROOT_PEEK))
        except ZarrBrowserError:
            return None
        if head is None or tail is None:
            return None
        start = head.to_bytes().decode("utf-8", "replace")
        end = tail.to_bytes().decode("utf-8", "replace")
        first = _leading_members(start)
        last = _trailing_members(end)
        if {**first, **last}.get("node_type") != "group" or '"consolidated_metadata"' not in start + end:
            return None
        value = first.get("attributes", last.get("attributes"))  # whole, before or after the copy
        return (value, True) if isinstance(value, dict) else ({}, False)

    ROOT_PROBE = 20
    """Entries of a remote root without metadata probed for zarr children (one round trip)."""

    async def _lists_something(self) -> bool:
        """Whether a remote root without metadata is a bucket or served folder of stores: it lists
        entries, and one of the first :attr:`ROOT_PROBE` has zarr metadata.  A URL that lists
        nothing (a typo on static hosting), or only other files, stays an error."""
        try:
            names = await self.access.list_dir(key_prefix("/"))
        except BucketNotFoundError as err:  # (it said "no zarr metadata found")
            raise StoreOpenError(f"cannot open {self.url}: {err}") from err
        except ZarrBrowserError:
            return False
        entries = [n for n in names if n not in _SKIP_NAMES and not n.startswith(".")][: self.ROOT_PROBE]
        if not entries:
            return False
        keys = [f"{name}/{doc}" for name in entries for doc in ("zarr.json", ".zgroup", ".zarray")]
        try:
            found = await self.access.get_many(keys)
        except ZarrBrowserError:
            return False
        return any(value is not None and not isinstance(value, Exception) for value in found.values())

    # -- reading nodes ---------------------------------------------------------------------
    def _parse_docs(
        self, path: str, raw: Mapping[str, bytes | Exception | None]
    ) -> tuple[dict[str, Document], list[str], list[str]]:
        """The documents read at *path*, the failures (messages), and the notes the node gets.

        A refused read (HTTP 403, S3 AccessDenied) is what S3 and GCS answer for a key that
        does not exist when the caller may not list: where a document of the node was read, the
        refused ones - the other zarr format's, an optional ``.zattrs`` or ``.zmetadata`` - are
        absent (the store is then known to answer so, and the first node says it:
        :data:`DENIED_NOTE`).  Where nothing was read, on a store known to answer so the node is
        absent (a hinted ``labels`` that is not there, a missing level), as a 404 would have it;
        elsewhere the refusal is the node's failure, saying access was denied.
        """
        docs: dict[str, Document] = {}
        failures: list[str] = []
        denied: list[tuple[str, AccessDeniedError]] = []
        escapes: dict[tuple[str, str], list[str]] = {}  # (resolved, root) -> the paths that lead there
        for key, value in raw.items():
            name = key.rsplit("/", 1)[-1]
            escape = getattr(value, "escape", None) if isinstance(value, StoreBoundaryError) else None
            if escape is not None:
                escapes.setdefault((str(escape[1]), str(escape[2])), []).append(str(escape[0]))
            elif isinstance(value, AccessDeniedError):
                denied.append((name, value))
            elif isinstance(value, Exception):
                failures.append(str(value))
            elif value is not None:
                docs[name] = self._shared(path, name, parse_document(key, value))
        notes: list[str] = []
        if denied and docs:
            if self.access.note_denies_missing():
                notes.append(DENIED_NOTE)
        elif denied and not (self.access.denies_missing and not failures):
            refused = [n for n, _ in denied]
            listed = refused[0] if len(refused) == 1 else ", ".join(refused[:-1]) + f" and {refused[-1]}"
            where = "" if path == "/" else f" at {self.access.describe_key(key_prefix(path).rstrip('/'))}"
            refusal = denied[0][1]
            failures.insert(0, f"{refusal.reason} for {listed}{where}" + (f": {refusal.advice}" if refusal.advice else ""))
        for (resolved, root), paths in escapes.items():  # one line for the documents of one link
            if len(paths) == 1:
                failures.append(f"{paths[0]} resolves to {resolved}, outside the store root {root}")
            else:
                names = ", ".join(p.rsplit("/", 1)[-1] for p in paths[1:])
                failures.append(f"{paths[0]} (and {names}) resolve to {resolved}, outside the store root {root}")
        return docs, list(dict.fromkeys(failures)), notes  # a folder that leads out refuses each document alike

    def _shared(self, path: str, name: str, doc: Document) -> Document:
        """*doc* holding the parsed value of its consolidated copy when the two are equal: a
        consolidated store's nodes read from their own documents kept every value twice (a third
        of the memory of a 100,000-array store's loaded rows).  The values are never changed in
        place (edits work on deep copies)."""
        index = self.consolidated
        copies = index.documents.get(path) if index is not None else None
        copy = copies.get(name) if copies is not None else None
        if copy is None or doc.value is None or copy.value is doc.value or not _identical(copy.value, doc.value):
            return doc
        return Document(doc.key, doc.text, copy.value, doc.error)

    def _flag_consolidated(self, node: Node) -> Node:
        index = self.consolidated
        if index is None or node.source != "store" or node.kind == "error":
            return node
        from dataclasses import replace

        # (decided here from the index's lists of children, for the root too: detection scanned
        # the root's 60,000 consolidated entries on the GUI thread, 3 times per selection)
        dataset = node.is_group and index.lists_dataset(node.path)
        if node.path == "/" and node.zarr_format == 3 and index.zarr_format == 3:
            return replace(node, consolidated_dataset=dataset)  # the v3 root holds the consolidated copy itself
        differing = index.differences(node)
        if differing is None:
            return replace(node, consolidated="absent", consolidated_dataset=dataset)
        return replace(node, consolidated="stale" if differing else "fresh", consolidated_differs=differing,
                       consolidated_dataset=dataset)

    @property
    def reads_consolidated(self) -> bool:
        """Whether nodes come from the consolidated copy rather than from their own documents."""
        return self._use_consolidated()

    def _use_consolidated(self) -> bool:
        if self.consolidated is None or not self.consolidated.documents:
            return False
        if self.consolidated_policy == "always":
            return True
        return self.consolidated_policy == "auto" and self.access.is_remote

    async def _aread(
        self, path: str, *, implicit_ok: bool, names: Sequence[str] | None = None,
        raw_out: dict[str, bytes | Exception | None] | None = None,
        known: Mapping[str, bytes | Exception | None] | None = None, semaphore: asyncio.Semaphore | None = None,
    ) -> Node | None:
        """The node at *path* from its documents (only *names* of them, when given).  The
        documents in *known* (store key → what a read gave) are not asked again; what this read
        gave is added to *raw_out*."""
        keys = metadata_keys(path)
        if names is not None:
            keys = [k for k in keys if k.rsplit("/", 1)[-1] in names]
        asked = [k for k in keys if known is None or k not in known]
        raw = await self.access.get_many(asked, semaphore=semaphore) if asked else {}
        if raw_out is not None:
            raw_out.update(raw)
        if known:
            raw = {**{k: v for k, v in known.items() if k in keys}, **raw}
        docs, failures, notes = self._parse_docs(path, raw)
        if failures:
            return Node(path, "error", None, docs, error="; ".join(failures))
        node = build_node(path, docs, implicit_ok=implicit_ok)
        return self._flag_consolidated(_with_notes(node, notes)) if node is not None else None

    def node(self, path: str) -> Node:
        """The node at *path* (``"/"`` or ``"/a/b"``); raises NodeNotFoundError if none."""
        return run_sync(self.anode(path))

    async def anode(self, path: str) -> Node:
        path = _normalise(path)
        cached = self._nodes.get(path)
        if cached is not None:
            return cached
        loading = self._loading.get(path)
        if loading is not None:  # a listing is reading it: wait for that read, do not read again
            await asyncio.wait([loading])
            cached = self._nodes.get(path)
            if cached is not None:
                return cached
        if path == "/":
            return await self.aload_root()
        if path in self._absent:
            raise NodeNotFoundError(f"no zarr node at {path} in {self.url}")
        node: Node | None = None
        if self._use_consolidated():
            assert self.consolidated is not None
            node = self.consolidated.node(path)
        if node is None:
            node = await self._aread(path, implicit_ok=False)
        if node is None:
            if self.access.is_remote:  # remembered until refresh(): probing again costs a round trip
                self._absent.add(path)
            raise NodeNotFoundError(f"no zarr node at {path} in {self.url}")
        self._nodes[path] = node
        return node

    def prefetch(
        self, paths: Iterable[str], *, expect: Expectation | Mapping[str, Expectation] | None = None,
        concurrency: int | None = None,
    ) -> set[str]:
        """Read the nodes at *paths* concurrently (they are then served without I/O by :meth:`node`).

        Paths that hold no node or cannot be read are skipped: :meth:`node` reports them later.
        With *expect* (``(zarr_format, "group" | "array")``, e.g. the wells of a v2 plate) a remote
        store is asked only for the documents such a node has (two instead of four requests
        each); a node where they are missing is read again in full.  A mapping gives the
        expectation of each path (paths it does not name are read in full).  With *concurrency*,
        at most that many of these requests (with *expect*) are in flight at once: what may wait
        (a plate's label images) leaves the connections to what the user waits for.

        Returns the paths expected as ``image`` where none of its documents exists (they are not
        read in full: no image is there, though :meth:`node` may find another node).
        """
        return run_sync(self.aprefetch(paths, expect=expect, concurrency=concurrency))

    async def aprefetch(
        self, paths: Iterable[str], *, expect: Expectation | Mapping[str, Expectation] | None = None,
        concurrency: int | None = None,
    ) -> set[str]:
        semaphore = asyncio.Semaphore(concurrency) if concurrency else None
        no_image: set[str] = set()
        # a path known to hold nothing is not asked again (a plate's missing label images, one
        # prefetch per level of the labels mosaic)
        todo = sorted({_normalise(p) for p in paths} - set(self._nodes) - set(self._loading) - self._absent)
        listed = [self._loading[p] for p in {_normalise(p) for p in paths} if p in self._loading]

        def names_of(path: str) -> tuple[str, ...] | None:
            if expect is None or not self.access.is_remote:
                return None
            return _EXPECTED.get(hint) if (hint := expectation(path)) is not None else None

        def expectation(path: str) -> Expectation | None:
            return expect.get(path) if isinstance(expect, Mapping) else expect

        async def one(path: str) -> None:
            names = names_of(path)
            with contextlib.suppress(ZarrBrowserError):
                if names is not None and not self._use_consolidated():
                    asked: dict[str, bytes | Exception | None] = {}
                    node = await self._aread(path, implicit_ok=False, names=names, raw_out=asked, semaphore=semaphore)
                    if node is not None and node.kind != "error" and names[0] in node.documents:
                        self._nodes.setdefault(path, node)
                        return
                    if path in self._nodes or path in self._absent:
                        return  # found meanwhile (a listing, a node() call)
                    hint = expectation(path)
                    if hint is not None and hint[1] == "image" and all(v is None for v in asked.values()):
                        no_image.add(path)
                        return
                    # read in full, without asking again for the documents found absent (a
                    # missing node costs one request per document, never two)
                    absent = {k: v for k, v in asked.items() if v is None}
                    node = await self._aread(path, implicit_ok=False, known=absent, semaphore=semaphore)
                    if node is None:
                        self._absent.add(path)  # (remote: expect is used for remote stores only)
                    else:
                        self._nodes.setdefault(path, node)
                    return
                await self.anode(path)

        # a path another prefetch is reading (the image and the labels mosaic of a plate ask for
        # the same wells at once) is waited for, not read twice
        waits = [self._prefetching[p] for p in todo if p in self._prefetching]
        mine = [p for p in todo if p not in self._prefetching]
        loop = asyncio.get_running_loop()
        for path in mine:
            self._prefetching[path] = loop.create_future()
        try:
            await asyncio.gather(*(one(p) for p in mine))
        finally:
            for path in mine:
                future = self._prefetching.pop(path)
                if not future.done():
                    future.set_result(None)
        if waits or listed:
            await asyncio.wait([*waits, *listed])  # never cancels them (gather would, if we were)
        return no_image

    def refresh(self, path: str = "/") -> None:
        """Forget what is cached at and below *path* (the next read goes to the store)."""
        path = _normalise(path)
        prefix = path.rstrip("/") + "/"
        for key in [k for k in self._nodes if k == path or k.startswith(prefix)]:
            del self._nodes[key]
        for key in [k for k in self._names if k == path or k.startswith(prefix)]:
            del self._names[key]
            self._temp_names.pop(key, None)
        for key in [k for k in self._loading if k == path or k.startswith(prefix)]:
            del self._loading[key]  # the read in flight finishes, but no longer stores its node
        self._absent = {k for k in self._absent if not (k == path or k.startswith(prefix))}
        if path == "/":
            self._root = None
            self.consolidated = None

    # -- listing ---------------------------------------------------------------------------
    def children(
        self, path: str = "/", *, offset: int = 0, limit: int | None = None, patience: float | None = None
    ) -> Listing:
        """One page of the children of the group at *path* (all of them by default).

        With *patience*, children still being read after that many seconds are the listing's
        ``pending`` names instead of holding back the page (see :meth:`achildren`).
        """
        return run_sync(self.achildren(path, offset=offset, limit=limit, patience=patience))

    async def achildren(
        self, path: str = "/", *, offset: int = 0, limit: int | None = None, patience: float | None = None
    ) -> Listing:
        """One page of children; see :meth:`children`.

        With *patience* (seconds), the page comes back once that time has passed even if some
        children are still being read (a slow or hanging server): their names are the listing's
        ``pending``, the reads go on under their own deadline, and :meth:`node` waits for them.

        An error node that may be a group (its ``zarr.json`` is invalid JSON, say) is listed from
        its folder, as an implicit group is, where the store can list: the children with documents
        of their own are nodes (zarr-python v3 opens them without their parent's), the node stays
        an error.
        """
        path = _normalise(path)
        parent = await self.anode(path)
        if not parent.lists_children:
            return Listing(path, (), (), offset)
        names, complete, error, source = await self._anames(parent)
        if parent.kind == "error" and not complete:
            # a group whose documents are broken declares no children: where the store cannot
            # list its folder either, nothing more is known of it than its error
            return Listing(path, (), (), offset)
        page = names[offset : None if limit is None else offset + limit]
        children = [join_path(path, n) for n in page]
        todo = [p for p in children if p not in self._nodes]
        if todo:
            fresh = [p for p in todo if p not in self._loading]
            if fresh:
                await self._start_loading(path, fresh, source)
            waits = [self._loading[p] for p in todo if p in self._loading]
            if waits:
                await asyncio.wait(waits, timeout=patience)  # on timeout or cancel the reads go on
        nodes = tuple(self._nodes[p] for p in children if p in self._nodes)
        pending = tuple(p.rsplit("/", 1)[-1] for p in children if p not in self._nodes and p in self._loading)
        if len(nodes) + len(pending) != len(page):  # some names were not nodes after all (stray files)
            gone = {p.rsplit("/", 1)[-1] for p in children if p not in self._nodes and p not in self._loading}
            names = tuple(n for n in names if n not in gone)
            self._names[path] = (names, complete, error, source)
        return Listing(path, names, nodes, offset, complete, error, source, pending)  # type: ignore[arg-type]

    async def _anames(self, parent: Node) -> tuple[tuple[str, ...], bool, str | None, str]:
        cached = self._names.get(parent.path)
        if cached is not None:
            return cached
        path = parent.path
        result: tuple[tuple[str, ...], bool, str | None, str]
        if self._use_consolidated():
            assert self.consolidated is not None
            names = self.consolidated.children.get(path, ())
            result = (names, True, None, "consolidated")
        else:
            hinted = self._hinted_names(parent)
            try:
                listed = await self.access.list_dir(key_prefix(path))
                names = tuple(sorted((n for n in listed if n not in _SKIP_NAMES and not n.startswith(".")), key=natural_key))
                temp = tuple(n for n in listed if n.startswith(TEMP_PREFIX))  # (rare: kept only when found)
                if temp:
                    self._temp_names[path] = temp
                else:
                    self._temp_names.pop(path, None)
                result = (names, True, None, "store")
                if not names and hinted and self.access.is_remote:
                    # an empty listing of a group whose metadata declares children: the server
                    # did not really list it (an HTTP index page without links, say)
                    message = f"listing {self.access.describe_key(key_prefix(path))} returned nothing"
                    result = (hinted, False, message, "hints")
            except StoreReadError as err:
                result = (hinted, False, str(err), "hints")
            gone = self._gone(path) if not result[0] else None
            if gone is not None:  # a local folder lists nothing once deleted: that is no empty group
                raise StoreReadError(f"{gone} no longer exists")
        self._names[path] = result
        return result

    def temp_files(self, path: str) -> tuple[str, ...] | None:
        """Names of zarr-browser's temporary files (:mod:`~zarr_browser.core.tempfiles`) in the
        folder of the group *path*, as its listing showed them (never as nodes); None when the
        folder was not listed from the store (children from consolidated metadata or hints)."""
        path = _normalise(path)
        listed = self._names.get(path)
        if listed is None or listed[3] != "store":
            return None
        return self._temp_names.get(path, ())

    def _gone(self, path: str) -> str | None:
        """The folder of *path* in a local store when it does not exist (deleted while the store
        is open; the store's own folder when that is gone), else None; a stat or two, for what
        lists or reads as empty."""
        import os

        root = self.access.local_root
        if root is None:
            return None
        folder = os.path.join(root, key_prefix(path)).rstrip("/")
        if os.path.isdir(folder):
            return None
        return folder if os.path.isdir(root) else str(root)

    HINT_DEPTH = 8
    """Ancestors whose declared paths may name a group's children (a plate names its wells
    ``A/1`` two levels down; a bioformats2raw root ``OME``, ``0``)."""

    def _hinted_names(self, parent: Node) -> tuple[str, ...]:
        """Child names of *parent* that metadata declares: its own, and those its loaded
        ancestors declare below it (a plate's ``A/1`` names the child ``1`` of row ``A``, which
        declares nothing itself) - all a server that cannot list leaves us."""
        if not self._hints:
            return ()
        names: dict[str, None] = {}
        below: list[str] = []  # parent's path relative to the ancestor being asked
        node: Node | None = parent
        for _ in range(self.HINT_DEPTH):
            if node is None:
                break
            for declared in self._hints(node):
                parts = declared.split("/")
                if len(parts) > len(below) and parts[: len(below)] == below:
                    names.setdefault(parts[len(below)], None)
            if node.path == "/":
                break
            below.insert(0, node.name)
            node = self._nodes.get(parent_path(node.path) or "/")
        return tuple(names)

    async def _start_loading(self, path: str, children: list[str], source: str) -> None:
        """Read the nodes at *children* (below the group at *path*) in a task of their own.

        Each child is in ``_loading`` until its node is stored, so a listing that stops waiting
        (its patience ran out, or it was cancelled) leaves reads that :meth:`anode` can join.
        """
        if source == "consolidated":  # nothing to read
            assert self.consolidated is not None
            for child in children:
                found = self.consolidated.node(child)
                if found is not None:
                    self._nodes[child] = found
            return
        loop = asyncio.get_running_loop()
        futures = {child: loop.create_future() for child in children}
        self._loading.update(futures)

        def store(child: str, node: Node | None) -> None:
            future = futures[child]
            if self._loading.get(child) is future:  # not refreshed meanwhile
                del self._loading[child]
                if node is not None:
                    self._nodes[child] = node
                elif self.access.is_remote:
                    self._absent.add(child)
            if not future.done():
                future.set_result(None)

        async def load() -> None:
            try:
                await self._aload_children(path, children, store)
            finally:  # an unexpected failure or a cancel still releases whoever waits
                for child, future in futures.items():
                    if not future.done():
                        if self._loading.get(child) is future:
                            del self._loading[child]  # not known absent: the next read tries again
                        future.set_result(None)

        task = loop.create_task(load())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _aload_children(self, path: str, paths: list[str], store: Callable[[str, Node | None], None]) -> None:
        """Read the nodes at *paths* (children of *path*) and hand each to *store* as it is read."""
        names = [p.rsplit("/", 1)[-1] for p in paths]
        parent = self._nodes.get(path)
        # below a group whose documents are broken, a folder without metadata is no implicit group:
        # an array's chunk folders (c/0/…) look alike when the broken document was an array's
        implicit = parent is None or parent.kind != "error"
        if self.access.protocol == "local":
            # a child's own consolidated copy too (a stat on disk; remotely only for groups,
            # below): a dataset in a folder of stores is then told as when it is opened itself
            keys = {p: [*metadata_keys(p), key_prefix(p) + ".zmetadata"] for p in paths}
            raw = await self.access.get_many([k for p in paths for k in keys[p]])
            for p in paths:  # an extra: one that cannot be read (too large) does not make the child an error
                if isinstance(raw[key_prefix(p) + ".zmetadata"], Exception):
                    raw[key_prefix(p) + ".zmetadata"] = None
            is_dir = await asyncio.to_thread(_local_dirs, self.access, path, names) if implicit else set()
            for child in paths:
                store(child, self._child_node(child, {k: raw[k] for k in keys[child]}, child.rsplit("/", 1)[-1] in is_dir))
            return
        v3 = parent is not None and parent.zarr_format == 3
        v2 = parent is not None and parent.zarr_format == 2
        folders = self.access.listed_folders(key_prefix(path)) if implicit else set()  # folders: implicit groups
        # one bound for the whole page (each child's own get_many would have its own)
        semaphore = asyncio.Semaphore(self.access.policy.concurrency)

        async def one(child: str) -> None:
            keys = metadata_keys(child)
            if v3:
                # children of a v3 group are v3 nodes (a mixed hierarchy is rare, and warned
                # about): ask for zarr.json first, and for the v2 documents only where it is absent
                first = key_prefix(child) + "zarr.json"
                raw = await self.access.get_many([first], semaphore=semaphore)
                # (refused: absent, on a server that answers 403 for keys that do not exist)
                if raw[first] is None or isinstance(raw[first], AccessDeniedError):
                    raw.update(await self.access.get_many([k for k in keys if k != first], semaphore=semaphore))
                for k in keys:
                    raw.setdefault(k, None)
            elif v2:
                # children of a v2 group are v2 nodes, likewise: zarr.json only where neither
                # .zgroup nor .zarray exists (3 requests an array, as zarr-python asks; was 4)
                second = key_prefix(child) + "zarr.json"
                raw = await self.access.get_many([k for k in keys if k != second], semaphore=semaphore)
                if not any(isinstance(raw[key_prefix(child) + n], bytes) for n in (".zgroup", ".zarray")):
                    raw.update(await self.access.get_many([second], semaphore=semaphore))
                raw.setdefault(second, None)
            else:
                raw = await self.access.get_many(keys, semaphore=semaphore)
            if not v3:
                extra = key_prefix(child) + ".zmetadata"
                if isinstance(raw.get(key_prefix(child) + ".zgroup"), bytes):
                    # a v2 group's own consolidated copy, as on disk: a dataset in a folder of
                    # stores is told as when opened itself (one more request, for groups only;
                    # a v3 group carries its copy in zarr.json); unreadable, it is left out
                    more = await self.access.get_many([extra], semaphore=semaphore)
                    raw[extra] = more[extra] if isinstance(more[extra], bytes) else None
            store(child, self._child_node(child, raw, child.rsplit("/", 1)[-1] in folders))

        await asyncio.gather(*(one(p) for p in paths))

    def _child_node(self, child: str, raw: Mapping[str, bytes | Exception | None], is_dir: bool) -> Node | None:
        docs, failures, notes = self._parse_docs(child, raw)
        if failures:
            return Node(child, "error", None, docs, error="; ".join(failures))
        node = build_node(child, docs, implicit_ok=is_dir)
        return self._flag_consolidated(_with_notes(node, notes)) if node is not None else None

    def walk(self, path: str = "/", *, depth: int | None = None,
             progress: Callable[[int, str], None] | None = None) -> list[tuple[Node, Listing | None]]:
        """Every node from *path* down to *depth* levels below it, in tree (pre-)order.

        Each entry pairs a node with its listing (None for arrays, error nodes and nodes at
        the depth limit).  Groups of one level are listed concurrently.  *progress* is told the
        nodes found so far and the last group listed, after each level (on the I/O loop).
        """
        return run_sync(self.awalk(path, depth=depth, progress=progress))

    async def awalk(self, path: str = "/", *, depth: int | None = None,
                    progress: Callable[[int, str], None] | None = None) -> list[tuple[Node, Listing | None]]:
        start = await self.anode(path)
        seen = 1
        listings: dict[str, Listing] = {}
        frontier = [start]
        level = 0
        while frontier and (depth is None or level < depth):
            groups = [n for n in frontier if n.lists_children]
            results = await asyncio.gather(*(self.achildren(g.path) for g in groups))
            frontier = []
            for group, listing in zip(groups, results, strict=True):
                listings[group.path] = listing
                frontier.extend(listing.nodes)
            level += 1
            seen += len(frontier)
            if progress is not None and groups:
                progress(seen, groups[-1].path)
        # an explicit stack, not recursion: a store may nest groups deeper than Python's
        # recursion limit (1100 levels is a 2.2 KB path), and a walk must not die of it
        out: list[tuple[Node, Listing | None]] = []
        stack = [start]
        while stack:
            node = stack.pop()
            found = listings.get(node.path)
            out.append((node, found))
            if found is not None:
                stack.extend(reversed(found.nodes))
        return out

    def close(self) -> None:
        self.access.close()


def _local_dirs(access: StoreAccess, path: str, names: list[str]) -> set[str]:
    import os

    assert access._local is not None
    base = os.path.join(access._local.root, key_prefix(path))
    return {n for n in names if os.path.isdir(os.path.join(base, n))}


def _normalise(path: str) -> str:
    path = "/" + path.strip("/")
    return path


def _leading_members(text: str) -> dict[str, JSON]:
    """The members of the JSON object that *text* begins, up to the first one it does not hold
    whole (the head of a document too large to read)."""
    members: dict[str, JSON] = {}
    at = len(text) - len(text.lstrip())
    if text.startswith("{", at):
        with contextlib.suppress(ValueError):  # cut off (or not JSON): what was read whole is kept
            parse_members(text, at, members)
    return members


_MEMBER_START = re.compile(r',\s*"[^"\\]*"\s*:')


def _trailing_members(text: str, tries: int = 64) -> dict[str, JSON]:
    """The members that end the JSON object whose tail *text* is, in whatever order of keys.

    From each of the last *tries* member starts (``, "key":``), the rest is parsed as an object
    of its own; the longest that parses wins.  Only members of the outermost object do: from
    inside a nested value, the closing braces that follow would be left over.
    """
    starts = [m.start() for m in _MEMBER_START.finditer(text)][-tries:]
    found: dict[str, JSON] = {}
    for at in reversed(starts):
        try:
            value = json.loads("{" + text[at + 1:])
        except ValueError:
            continue
        if isinstance(value, dict):
            found = value
    return found


def _with_error(node: Node, message: str) -> Node:
    from dataclasses import replace

    return replace(node, notes=(*node.notes, f"{UNREAD_NOTE}: {message}"))


def _with_notes(node: Node, notes: Sequence[str]) -> Node:
    from dataclasses import replace

    return replace(node, notes=(*node.notes, *notes)) if notes else node
