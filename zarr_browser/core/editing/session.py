"""An edit session: original and working copies of documents, undo/redo, validation, save.

:class:`EditSession` sits on a :class:`~zarr_browser.core.hierarchy.Hierarchy`.  The documents
of a node are read from the store (never from the consolidated copy) the first time the node is
edited or loaded, each with a version token for conflict detection.  Edits are commands
(:mod:`~zarr_browser.core.editing.commands`); each :meth:`EditSession.apply` is one undo step.
:meth:`EditSession.validate` runs the convention registry over the *working* state;
:meth:`EditSession.save` refuses to write with errors unless forced, refuses to overwrite a
document that changed since it was read, writes each changed document atomically, and updates
consolidated metadata in the same save.  Nothing here imports Qt.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from psygnal import Signal

from zarr_browser.core.conventions import ConventionRegistry, default_registry
from zarr_browser.core.editing.commands import (
    ABSENT,
    Batch,
    Command,
    Delete,
    EditError,
    Rename,
    SetValue,
    check_protected,
    compared_text,
    document_location,
    same,
)
from zarr_browser.core.editing.save import (
    ConflictError,
    DocumentBackend,
    SaveFailedError,
    Snapshot,
    backend_for,
    reconsolidate,
)
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import JSON, Document, dumps, parse_document, render_numbers
from zarr_browser.core.model import Node, build_node, key_prefix, metadata_keys, parent_path
from zarr_browser.core.safety import read_values
from zarr_browser.core.store import AccessMode
from zarr_browser.core.textdiff import unified_diff
from zarr_browser.core.yielding import pause
from zarr_browser.errors import NodeNotFoundError, ReadOnlyError, StoreReadError

if TYPE_CHECKING:
    import numpy as np

    from zarr_browser.core.editing.review import Review

__all__ = ["EditSession", "NotLoadedError", "SaveResult", "SessionState", "ValidationRefusedError"]

logger = logging.getLogger(__name__)


class ValidationRefusedError(EditError):
    """Saving was refused because the working state has validation errors (use ``force``)."""

    def __init__(self, message: str, issues: Sequence[Issue]) -> None:
        super().__init__(message)
        self.issues = list(issues)


class NotLoadedError(EditError):
    """Inside :meth:`EditSession.memory_only`, an edit needed a node whose documents were not read yet.

    Nothing was changed; :attr:`path` is the node to :meth:`~EditSession.load` (elsewhere) first.
    """

    def __init__(self, path: str) -> None:
        super().__init__(f"the documents of {path} are not loaded yet")
        self.path = path



def node_paths(keys: Iterable[str]) -> list[str]:
    """The node paths of store *keys* (``a/b/.zattrs`` → ``/a/b``), each once, in order."""
    out: dict[str, None] = {}
    for key in keys:
        head = key.rpartition("/")[0]
        out["/" + head if head else "/"] = None
    return list(out)


@dataclass
class _Doc:
    snapshot: Snapshot
    original: JSON
    working: JSON
    error: str | None = None

    @property
    def text(self) -> str:
        data = self.snapshot.data
        return "" if data is None else data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Step:
    command: Command
    before: Mapping[str, JSON]
    after: Mapping[str, JSON]
    label: str


@dataclass
class SaveResult:
    """What a save wrote: the keys (consolidated document last) and the issues it was saved with."""

    written: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    removed_temp_files: list[str] = field(default_factory=list)
    cancelled: bool = False
    """The save was stopped between documents (``stop``): :attr:`written` are saved, :attr:`remaining`
    are not and stay unsaved changes (a second save writes them)."""
    remaining: list[str] = field(default_factory=list)
    """Documents a stopped save did not write (their consolidated entries included: see :meth:`EditSession.save`)."""


@dataclass(frozen=True)
class SessionState:
    """What a GUI shows of a session, read in one go (:meth:`EditSession.state`): a window reads
    it in the worker that changed the session, and never reads the session itself while one
    works (after a dimension renamed in 10,000 arrays, telling which documents changed compares
    10,000 serialised documents: 0.4-0.8 s)."""

    dirty: bool = False
    can_undo: bool = False
    can_redo: bool = False
    history: tuple[str, ...] = ()
    """Labels of the undoable steps, oldest first."""
    changed_paths: frozenset[str] = frozenset()
    """Node paths with documents that differ from what was read."""


SaveProgress = Callable[[str, int, int], None]
"""``progress(phase, done, total)`` of a save: ``"validating"`` (0, 0), ``"checking"`` (documents
compared with the store so far, of how many) and ``"writing"`` (documents written, of how many)."""


def _style(text: str) -> tuple[int | str | None, str, bool, str]:
    """Indentation (a number of spaces, or one level's text: a tab), trailing text, ASCII-only
    escaping (``\\u00d7`` rather than ``×``, as Python's json writes by default) and line ending
    of an existing document, so a rewrite keeps its look: a document indented with tabs and
    ending its lines with CRLF was rewritten with 2 spaces and LF, its trailing CRLF kept
    (mixed line endings, audit E, 9)."""
    stripped = text.rstrip()
    tail = text[len(stripped):]
    ascii_only = stripped.isascii() and "\\u" in stripped
    newline = "\r\n" if "\r\n" in stripped else "\r" if "\r" in stripped and "\n" not in stripped else "\n"
    if "\n" not in stripped and "\r" not in stripped and len(stripped) > 2:
        return None, tail, ascii_only, newline
    for line in stripped.splitlines()[1:]:
        lead = line[: len(line) - len(line.lstrip(" \t"))]
        if lead:
            return (len(lead) if "\t" not in lead else lead), tail, ascii_only, newline
    return 2, tail, ascii_only, newline


#: one-line styles other than Python's own: (between object items, after a key, between list items)
_ONE_LINE_STYLES = ((", ", ": ", ","), (",", ":", ","))


def _one_line(value: JSON, separators: tuple[str, str, str], ascii_only: bool) -> str:
    """*value* on one line with *separators* (objects' items, keys, lists' items)."""
    items, key_sep, list_sep = separators
    if isinstance(value, dict):
        return "{" + items.join(dumps(k, indent=None, ensure_ascii=ascii_only) + key_sep
                                 + _one_line(v, separators, ascii_only) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + list_sep.join(_one_line(v, separators, ascii_only) for v in value) + "]"
    return dumps(value, indent=None, ensure_ascii=ascii_only)


def _one_line_separators(text: str, original: JSON, ascii_only: bool, *,
                         keep_numbers: bool = False) -> tuple[str, str, str] | None:
    """The one-line style that writes *original* exactly as *text* (None: none does, Python's
    default then): a rewrite of netCDF-C's documents keeps ``[-500,500]`` as it was.  With
    *keep_numbers*, numbers are written as the document has them (:func:`render_numbers`)."""
    if original is ABSENT or not isinstance(original, dict | list):
        return None
    for separators in _ONE_LINE_STYLES:
        def render(value: JSON, separators: tuple[str, str, str] = separators) -> str:
            return _one_line(value, separators, ascii_only)

        if (render_numbers(render, original) if keep_numbers else render(original)) == text:
            return separators
    return None


def _attrs_of(key: str, value: JSON) -> dict[str, JSON]:
    if value is ABSENT or not isinstance(value, dict):
        return {}
    if key.endswith("zarr.json"):
        attrs = value.get("attributes")
        return attrs if isinstance(attrs, dict) else {}
    return value


class EditSession:
    """Original and working copies of a hierarchy's documents, with undo, validation and save.

    Parameters
    ----------
    hierarchy
        The hierarchy to edit.  Its store must be open with ``mode="r+"`` to save; a session on
        a read-only store can still edit in memory, validate and preview diffs (dry runs).
    registry
        Conventions used for validation (the default registry when omitted).
    strict
        Validate with the strict OME-NGFF SHOULD rules as errors.
    backend
        How documents are read and written (chosen from the store when omitted).
    """

    changed = Signal()
    """Emitted after every apply, undo, redo, reload and save."""

    def __init__(
        self,
        hierarchy: Hierarchy,
        registry: ConventionRegistry | None = None,
        *,
        strict: bool = False,
        backend: DocumentBackend | None = None,
    ) -> None:
        self.hierarchy = hierarchy
        self.registry = registry or default_registry()
        self.strict = strict
        self.backend = backend or backend_for(hierarchy.access)
        self._docs: dict[str, _Doc] = {}
        self._loaded: set[str] = set()
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._touched: set[str] = set()  # every document an edit changed, saved or not: their consolidated entries
        self._changed: dict[str, tuple[JSON, JSON, bool]] = {}  # key → (original, working, whether they differ)
        self._dumps: dict[int, tuple[JSON, str]] = {}  # id → (value, its serialisation): see _dumped
        self._local = threading.local()
        self.removed_temp_files: list[str] = self.backend.cleanup([""]) if self.backend.writable else []
        hierarchy.root  # noqa: B018 - raises unless the root was read (Hierarchy.open does it)
        self.consolidated_key: str | None = None
        if hierarchy.consolidated is not None:
            self.consolidated_key = hierarchy.consolidated.key
        self.load("/")
        if self.consolidated_key is not None:
            self._load_key(self.consolidated_key)

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        url: str,
        *,
        storage_options: dict | None = None,
        writable: bool = True,
        allow_remote: bool = False,
        registry: ConventionRegistry | None = None,
        strict: bool = False,
    ) -> EditSession:
        """Open *url* for editing (``mode="r+"`` when *writable*).

        Remote stores are opened writable only with ``allow_remote=True`` (an explicit choice);
        otherwise a ReadOnlyError is raised.
        """
        from zarr_browser.core.store import _classify

        registry = registry or default_registry()
        mode: AccessMode = "r+" if writable else "r"
        if writable and _classify(url).protocol not in ("local", "memory") and not allow_remote:
            raise ReadOnlyError(f"{url} is a remote store: writing to it needs an explicit choice (allow_remote=True)")
        hierarchy = Hierarchy.open(url, storage_options=storage_options, mode=mode, hints=registry.child_hints)
        return cls(hierarchy, registry, strict=strict)

    @property
    def writable(self) -> bool:
        """Whether :meth:`save` can write."""
        return self.backend.writable

    # -- loading ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def memory_only(self) -> Iterator[None]:
        """In this block, on this thread, reading the store raises :class:`NotLoadedError` instead.

        A GUI applies edits on its own thread inside this block: an edit of documents already
        loaded goes through, one that would read the store is refused before anything changed
        (load the node in a worker, then apply the edit again).  Other threads are not affected.
        """
        previous = getattr(self._local, "memory_only", False)
        self._local.memory_only = True
        try:
            yield
        finally:
            self._local.memory_only = previous

    def _refuse_io(self, path: str) -> None:
        if getattr(self._local, "memory_only", False):
            raise NotLoadedError(path)

    def _load_key(self, key: str) -> _Doc:
        doc = self._docs.get(key)
        if doc is not None:
            return doc
        head = key.rpartition("/")[0]
        self._refuse_io("/" + head if head else "/")
        pause()  # (10,000 documents read one after the other: see zarr_browser.core.yielding)
        snapshot = self.backend.read(key)
        if snapshot.data is None:
            doc = _Doc(snapshot, ABSENT, ABSENT)
        else:
            parsed = parse_document(key, snapshot.data, keep_numbers=True)
            value = parsed.value if parsed.ok else ABSENT
            doc = _Doc(snapshot, value, copy.deepcopy(value), parsed.error)
        self._docs[key] = doc
        return doc

    def load(self, path: str) -> Node:
        """Read the documents of the node at *path* from the store (once) and return its working node."""
        path = "/" + path.strip("/")
        if path not in self._loaded:
            self._refuse_io(path)
            # groups above may hold their own consolidated copy (zarr.consolidate_metadata(store,
            # path=...)): v3 in their zarr.json, v2 in a .zmetadata of their own, which copies
            # the group's own .zattrs too
            v3 = self.hierarchy.root.zarr_format == 3
            ancestor = parent_path(path)
            while ancestor not in (None, "/"):
                self._load_key(key_prefix(ancestor) + ("zarr.json" if v3 else ".zmetadata"))
                ancestor = parent_path(ancestor)
            if self.backend.writable:
                prefix = path.strip("/")
                self.removed_temp_files.extend(self.backend.cleanup([prefix]))
            for key in metadata_keys(path):
                self._load_key(key)
            if not v3 and path != "/" and self._docs[key_prefix(path) + ".zgroup"].original is not ABSENT:
                self._load_key(key_prefix(path) + ".zmetadata")  # (a v2 group's own; not read for arrays)
            self._loaded.add(path)
        node = self._build(path, original=False)
        if node is None:
            raise NodeNotFoundError(f"no zarr node at {path} in {self.hierarchy.url}")
        return node

    def _build(self, path: str, *, original: bool) -> Node | None:
        docs: dict[str, Document] = {}
        for key in metadata_keys(path):
            doc = self._docs[key]
            value = doc.original if original else doc.working
            if doc.error is not None:
                docs[key.rsplit("/", 1)[-1]] = Document(key, doc.text, None, doc.error)
            elif value is not ABSENT:
                docs[key.rsplit("/", 1)[-1]] = Document(key, self._text(key, value, original=original), value)
        implicit = path == "/" and self.hierarchy.access.protocol in ("local", "zip", "memory")
        return build_node(path, docs, implicit_ok=implicit)

    def is_loaded(self, path: str) -> bool:
        """Whether the documents of *path* were read already (editing it then needs no I/O)."""
        return "/" + path.strip("/") in self._loaded

    def node(self, path: str) -> Node:
        """The working node at *path* (loading it first)."""
        return self.load(path)

    def original_node(self, path: str) -> Node:
        """The node at *path* as read, before any edit."""
        self.load(path)
        node = self._build("/" + path.strip("/"), original=True)
        assert node is not None
        return node

    def attributes(self, path: str) -> dict[str, JSON]:
        """A copy of the working attributes of the node at *path*."""
        return copy.deepcopy(dict(self.node(path).attributes))

    def document(self, key: str) -> JSON:
        """The working value of the document at *key* (ABSENT when it does not exist)."""
        return copy.deepcopy(self._load_key(key).working)

    def original_document(self, key: str) -> JSON:
        """The value of the document at *key* as read."""
        return copy.deepcopy(self._load_key(key).original)

    # -- editing ---------------------------------------------------------------------------
    def locate(self, path: str, pointer: str) -> tuple[str, str]:
        """``(key, document pointer)`` for *pointer* into the attributes of *path*, or
        ``DOC#POINTER`` (``zarr.json#/dimension_names``)."""
        return document_location(self.node(path), pointer)

    def set(self, path: str, pointer: str, value: JSON, *, label: str = "") -> None:
        """Set *pointer* (into the attributes of *path*) to *value*."""
        key, where = self.locate(path, pointer)
        self.apply(SetValue(where, value, key=key), label=label or f"set {path}:{pointer}")

    def delete(self, path: str, pointer: str, *, label: str = "") -> None:
        """Delete the attribute member at *pointer* of *path*."""
        key, where = self.locate(path, pointer)
        self.apply(Delete(where, key=key), label=label or f"delete {path}:{pointer}")

    def rename(self, path: str, pointer: str, new_key: str, *, label: str = "") -> None:
        """Rename the attribute member at *pointer* of *path* to *new_key*."""
        key, where = self.locate(path, pointer)
        self.apply(Rename(where, new_key, key=key), label=label or f"rename {path}:{pointer}")

    def apply(self, command: Command, *, label: str = "", allow_nczarr: bool = False) -> None:
        """Apply *command* (keyed commands, possibly a batch over several documents) as one step.

        Raises EditError (nothing changed) when the command does not apply or touches read-only
        metadata.  On NCZarr nodes, ``_nczarr_attr.types`` follows attribute edits.
        """
        from zarr_browser.core.editing.conventions import nczarr_type_updates

        allow_nczarr = allow_nczarr or bool(getattr(command, "allow_protected", False))
        for key in command.document_keys():
            if not key:
                raise EditError("every command given to a session needs a document key")
            self._ensure_key(key)
        before = {key: self._docs[key].working for key in command.document_keys()}
        for key in before:
            if self._docs[key].error is not None:
                raise EditError(f"{key} could not be parsed ({self._docs[key].error}); it cannot be edited here")
        after = command.apply_many(before)
        for key, value in after.items():
            check_protected(key, before[key], value, allow_nczarr=allow_nczarr)
        if not allow_nczarr:
            sync: list[Command] = []
            for key, value in after.items():
                sync.extend(nczarr_type_updates(key, _attrs_of(key, before[key]), _attrs_of(key, value),
                                                self._variable_type(key)))
            if sync:
                extra = Batch(sync).apply_many(after)
                after.update(extra)
                command = Batch([command, *sync], label=label)
        addressed = set(after)
        after = {k: v for k, v in after.items() if not self._same(v, before[k])}
        if not after:
            # the documents hold the edit already (a save that stopped before the consolidated
            # copy, run again): their consolidated entries are still owed
            if not addressed <= self._touched:
                self._touched.update(addressed)
                self.changed.emit()
            return
        step = _Step(command, {k: before[k] for k in after}, after, label or command.describe())
        for key, value in after.items():
            self._docs[key].working = value
        self._touched.update(after)
        self._undo.append(step)
        self._redo.clear()
        self.changed.emit()

    def _variable_type(self, key: str) -> str | None:
        """The ``.zarray`` dtype of the v2 array whose ``.zattrs`` is *key* (NCZarr attribute types)."""
        if not key.endswith(".zattrs"):
            return None
        from zarr_browser.core.editing.conventions import variable_type

        doc = self._docs.get(key[: -len(".zattrs")] + ".zarray")
        return variable_type(doc.working) if doc is not None else None

    def _ensure_key(self, key: str) -> None:
        if key in self._docs:
            return
        head, _, _name = key.rpartition("/")
        self.load("/" + head if head else "/")
        if key not in self._docs:
            self._load_key(key)

    # -- undo / redo -----------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def history(self) -> list[str]:
        """Labels of the undoable steps, oldest first."""
        return [step.label for step in self._undo]

    def step_size(self, *, redo: bool = False) -> int:
        """How many documents the next :meth:`undo` (or :meth:`redo`) puts back (0: none to do)."""
        steps = self._redo if redo else self._undo
        return len(steps[-1].before) if steps else 0

    def undo(self) -> bool:
        """Undo the last step; returns False when there is nothing to undo."""
        if not self._undo:
            return False
        step = self._undo.pop()
        for key, value in step.before.items():
            self._docs[key].working = value  # (shared with the step: values are never changed in place)
        self._redo.append(step)
        self.changed.emit()
        return True

    def redo(self) -> bool:
        """Redo the last undone step; returns False when there is nothing to redo."""
        if not self._redo:
            return False
        step = self._redo.pop()
        for key, value in step.after.items():
            self._docs[key].working = value  # (shared with the step: values are never changed in place)
        self._undo.append(step)
        self.changed.emit()
        return True

    # -- state -----------------------------------------------------------------------------
    def _doc_changed(self, key: str) -> bool:
        doc = self._docs[key]
        known = self._changed.get(key)
        # (documents are replaced, never changed in place: the same pair compares as before)
        if known is not None and known[0] is doc.original and known[1] is doc.working:
            return known[2]
        if doc.original is ABSENT and isinstance(doc.working, dict) and not doc.working:
            changed = False  # a .zattrs created and emptied again: nothing to write
        else:
            changed = not self._same(doc.original, doc.working)
        self._changed[key] = (doc.original, doc.working, changed)
        return changed

    def _same(self, a: JSON, b: JSON) -> bool:
        """:func:`same`, with the serialisations remembered (:meth:`_dumped`)."""
        if a is ABSENT or b is ABSENT or a is b:
            return a is b
        return self._dumped(a) == self._dumped(b)

    def _dumped(self, value: JSON) -> str:
        """``value`` serialised as :func:`same` compares it, remembered for the same object: an
        undo or redo puts back objects compared before (10,000 documents: 0.3 s a comparison
        pass, twice per step, on the window's GUI thread)."""
        known = self._dumps.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if len(self._dumps) > 4 * len(self._docs) + 1024:  # (it holds the objects: bounded)
            self._dumps.clear()
        text = compared_text(value)
        self._dumps[id(value)] = (value, text)
        return text

    def _edited_keys(self) -> list[str]:
        """The loaded documents an edit may have changed: only those (:attr:`_touched`) differ
        from what was read.  Comparing all 30,000 loaded documents of a group of 10,000 arrays,
        serialised, took 1.5 s on the window's GUI thread after each edit, undo and redo (audit K)."""
        docs = self._docs
        return [k for k in list(self._touched) if k in docs]  # a copy: workers may load meanwhile

    @property
    def dirty(self) -> bool:
        """Whether a save would write: a document differs from what was read, or the consolidated
        copy lags behind documents edited (a save that stopped half-way, another writer's)."""
        if any(self._doc_changed(k) for k in self._edited_keys()):
            return True
        if not self._touched:
            return False
        for ckey, prefix in self._copies():
            working = self._docs[ckey].working
            if reconsolidate(ckey, working, self._owed(ckey, prefix)) is not working:
                return True
        return False

    def _copies(self) -> list[tuple[str, str]]:
        """``(key, key prefix of what it holds)`` of each consolidated copy to keep up: groups
        below the root that hold their own (``zarr.consolidate_metadata(store, path=...)``: v3 in
        their ``zarr.json``, v2 in a ``.zmetadata``), deepest first, then the store's (written last)."""
        out = []
        for key, doc in list(self._docs.items()):
            value = doc.working
            if not isinstance(value, dict) or key == self.consolidated_key:
                continue
            if key.endswith("/zarr.json") and value.get("node_type") == "group" \
                    and isinstance(value.get("consolidated_metadata"), dict):
                out.append((key, key[: -len("zarr.json")]))
            elif key.endswith("/.zmetadata") and isinstance(value.get("metadata"), dict):
                out.append((key, key[: -len(".zmetadata")]))
        out.sort(key=lambda copy_: -copy_[1].count("/"))
        if self.consolidated_key is not None:
            out.append((self.consolidated_key, ""))
        return out

    def _owed(self, ckey: str, prefix: str = "") -> dict[str, JSON]:
        """The working documents below *prefix* whose entries the consolidated copy *ckey* must
        hold (keyed relative to it): all an edit changed, saved or not (a save that stopped before
        the consolidated copy, an undo of a v3 root whose ``consolidated_metadata`` held older entries)."""
        out: dict[str, JSON] = {}
        for key in sorted(self._touched):
            doc = self._docs.get(key)
            if key != ckey and key.startswith(prefix) and doc is not None:
                empty_new = doc.original is ABSENT and doc.working == {}  # not written: see _doc_changed
                out[key[len(prefix):]] = ABSENT if empty_new else doc.working
        return out

    def state(self) -> SessionState:
        """Dirty, undo, redo, history and changed nodes, read together (see :class:`SessionState`)."""
        return SessionState(self.dirty, self.can_undo, self.can_redo, tuple(self.history()),
                            frozenset(self.changed_paths()))

    def changed_keys(self) -> list[str]:
        """Store keys of the documents that differ from what was read."""
        return sorted(k for k in self._edited_keys() if self._doc_changed(k))

    def changed_paths(self) -> list[str]:
        """Node paths with changed documents."""
        return node_paths(self.changed_keys())

    def _text(self, key: str, value: JSON, *, original: bool = False) -> str:
        doc = self._docs[key]
        if original or same(value, doc.original):
            return doc.text
        from zarr_browser.core.jsonio import keeps_numbers

        indent, tail, ascii_only, newline = _style(doc.text) if doc.snapshot.data else (2, "", False, "\n")
        # numbers the user did not change are written as they were: 1e400 became the bare Infinity
        # (invalid JSON), 1E5 100000.0, 1.50 1.5 (audit E, 9)
        keep = keeps_numbers(doc.text)

        def rendered(render: Callable[[JSON], str]) -> str:
            return render_numbers(render, value) if keep else render(value)

        if indent is None:  # one line: the separators its writer used (netCDF-C: "[1,2]" in {"a": ...})
            separators = _one_line_separators(doc.text.rstrip(), doc.original, ascii_only, keep_numbers=keep)
            if separators is not None:
                return rendered(lambda v: _one_line(v, separators, ascii_only)) + tail
        text = rendered(lambda v: dumps(v, indent=indent, ensure_ascii=ascii_only))
        return (text if newline == "\n" else text.replace("\n", newline)) + tail

    def plan(self) -> list[tuple[str, bytes, Snapshot]]:
        """What a save would write: ``(key, bytes, snapshot read)``, consolidated document last."""
        return [(key, self._text(key, value).encode("utf-8"), self._docs[key].snapshot)
                for key, value in self._final().items()]

    def _final(self) -> dict[str, JSON]:
        """The values a save would write, by key, consolidated documents last."""
        final = {key: self._docs[key].working for key in self.changed_keys()}
        if final or self._touched:
            for ckey, prefix in self._copies():
                cdoc = self._docs[ckey]
                current = final.get(ckey, cdoc.working)
                # (the changed documents are among those owed: every change comes from an edit)
                updated = reconsolidate(ckey, current, self._owed(ckey, prefix))
                if ckey in final or updated is not current:  # (else nothing changed in it: current is as read)
                    final.pop(ckey, None)  # a copy is written after what it copies
                    if updated is not current or not same(updated, cdoc.original):
                        final[ckey] = updated
        # (deleting documents is not an edit we offer)
        return {key: value for key, value in final.items() if value is not ABSENT}

    def diff(self) -> dict[str, str]:
        """A unified diff per document that a save would write (consolidated included)."""
        return self._diffs(self.plan())

    def review(self) -> Review:
        """The diffs of :meth:`diff`, with the documents grouped by the change they get (a
        dimension renamed in 10,000 arrays: one group of 10,000 documents and the consolidated
        copy); see :mod:`~zarr_browser.core.editing.review`."""
        from zarr_browser.core.editing.review import build_review

        final = self._final()
        plan = [(key, self._text(key, value).encode("utf-8"), self._docs[key].snapshot)
                for key, value in final.items()]
        copies = {key for key, _prefix in self._copies()}
        before = {key: self._docs[key].original for key in final}
        return build_review(self._diffs(plan), before, final, copies)

    def _diffs(self, plan: Sequence[tuple[str, bytes, Snapshot]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, data, snapshot in plan:
            pause()
            old = "" if snapshot.data is None else snapshot.data.decode("utf-8", errors="replace")
            new = data.decode("utf-8")
            note = ""
            if max(len(old), len(new)) > _ONE_LINE_DIFF and max(old.count("\n"), new.count("\n")) <= 1:
                # a one-line document (zarr writes .zmetadata so): compare it indented, or a diff
                # would be the whole store's metadata twice
                old, new, note = _indented(old), _indented(new), " (one line in the store; compared indented)"
            lines = unified_diff(
                old.splitlines(keepends=True), new.splitlines(keepends=True),
                fromfile=(f"a/{key}" if snapshot.exists else "/dev/null") + note, tofile=f"b/{key}{note}",
            )
            text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
            out[key] = text
        return out

    # -- validation ------------------------------------------------------------------------
    def affected_paths(self) -> list[str]:
        """Changed nodes and their parents: what validation of the working state looks at."""
        out: dict[str, None] = {}
        for path in self.changed_paths():
            for candidate in (path, parent_path(path)):
                if candidate is not None:
                    out[candidate] = None
        return list(out)

    def validate(self, paths: Iterable[str] | None = None, *, original: bool = False,
                 stop: Callable[[], bool] | None = None) -> list[Issue]:
        """Issues of the working state (or the *original* one) at *paths* (the affected nodes).

        *stop* is asked before each node: when it says True, validation ends there and returns
        the issues found so far (incomplete: the caller that stops it must not rely on them).
        """
        from zarr_browser.core.validate import validate_node

        ctx = _WorkingContext(self, original=original)
        issues: list[Issue] = []
        wanted = list(self.affected_paths() if paths is None else paths)
        for path in wanted:
            if stop is not None and stop():
                return issues
            pause()
            node = ctx.node(path)
            if node is not None:
                issues.extend(validate_node(node, self.registry, ctx))
        if not original:
            from zarr_browser.core.editing.conventions import lost_index_coordinates

            issues.extend(i for i in self._oversized() if i.path in wanted)
            issues.extend(lost_index_coordinates(self, ctx, wanted))
        return issues

    def _oversized(self) -> list[Issue]:
        """Documents a save would make larger than the bound metadata is read up to: the node
        would then show as an error here (``info``, ``validate``, the window), its consolidated
        copy unread.  The consolidated document's size is estimated from the changes."""
        bound = self.hierarchy.access.policy.max_document_bytes
        ckey = self.consolidated_key
        sizes: dict[str, int] = {}
        grown = 0
        for key in self.changed_keys():
            doc = self._docs[key]
            if key == ckey or doc.working is ABSENT:
                continue
            sizes[key] = len(self._text(key, doc.working).encode("utf-8"))
            grown += sizes[key] - len(doc.snapshot.data or b"")
        if ckey is not None and sizes:
            sizes[ckey] = len(self._docs[ckey].snapshot.data or b"") + grown
        out = []
        for key, size in sizes.items():
            if size > bound:
                head = key.rpartition("/")[0]
                out.append(Issue(Severity.ERROR, f"{key} would be {size:,} bytes, over the {bound:,} bytes metadata "
                                 "documents are read up to: zarr-browser would then show this node as an error",
                                 "/" + head if head else "/", "", "zarr", key.rpartition("/")[2]))
        return out

    def new_errors(self) -> tuple[list[Issue], list[Issue]]:
        """``(errors the edits introduced, errors that were already there)`` at the affected nodes."""
        new, old = self.new_issues(Severity.ERROR)
        return new, old

    def new_issues(self, *severities: Severity) -> tuple[list[Issue], list[Issue]]:
        """``(issues the edits introduced, issues that were already there)`` of *severities* at
        the affected nodes (errors, warnings...), found by validating before and after."""
        paths = self.affected_paths()
        wanted = set(severities)
        now = [i for i in self.validate(paths) if i.severity in wanted]
        before = {(i.path, i.message, i.pointer) for i in self.validate(paths, original=True) if i.severity in wanted}
        new = [i for i in now if (i.path, i.message, i.pointer) not in before]
        old = [i for i in now if (i.path, i.message, i.pointer) in before]
        return new, old

    # -- saving ----------------------------------------------------------------------------
    def conflicts(self) -> list[str]:
        """Keys of the documents to save that changed in the store since they were read."""
        out = []
        for key, _data, snapshot in self.plan():
            if self.backend.read(key).version != snapshot.version:
                out.append(key)
        return out

    def refusal(self, issues: Sequence[Issue] | None = None, *,
                stop: Callable[[], bool] | None = None) -> ValidationRefusedError | None:
        """Why :meth:`save` without force would refuse (the edits introduce errors), or None.

        Errors that were there before the edits do not refuse a save (an edit that fixes
        something else must not wait for them), as in the window's Save dialog.  *issues* are
        those of :meth:`validate`, when the caller has them already.  *stop*: see :meth:`validate`
        (the answer is then meaningless).
        """
        errors = [i for i in (self.validate(stop=stop) if issues is None else issues) if i.severity is Severity.ERROR]
        if not errors:
            return None
        before = {(i.path, i.message, i.pointer) for i in self.validate(original=True, stop=stop)
                  if i.severity is Severity.ERROR}
        new = [i for i in errors if (i.path, i.message, i.pointer) not in before]
        if not new:
            return None
        old = len(errors) - len(new)
        first = new[0]
        also = f" ({old} other error(s) were there before)" if old else ""
        return ValidationRefusedError(
            f"the edits introduce {len(new)} validation error(s), e.g. {first.path}: {first.message}{also}",
            new,
        )

    def save(self, *, force: bool = False, progress: SaveProgress | None = None,
             stop: Callable[[], bool] | None = None) -> SaveResult:
        """Write every changed document (and the consolidated copy) safely.

        Raises ValidationRefusedError when the affected nodes have errors and not *force*,
        ConflictError when a document changed in the store since it was read (nothing of it
        is overwritten; :meth:`reload` then), ReadOnlyError on read-only stores.

        *progress* is called as the save goes (:data:`SaveProgress`; from the thread saving).
        *stop* is asked before each document is compared and written: when it says True, the
        save stops there and returns a result with ``cancelled`` set.  The documents written
        stay written; the consolidated copies are then written for them alone (each entry as
        its document now is in the store), so the store agrees with itself; the other documents
        stay unsaved changes, which a second save writes.
        """
        plan = self.plan()
        if not plan:
            return SaveResult()
        if not self.backend.writable:
            what = getattr(self.backend, "description", "") or "read-only"
            raise ReadOnlyError(f"cannot save to {self.hierarchy.url}: it is {what}; nothing was saved")

        def report(phase: str, done: int, total: int) -> None:
            if progress is not None:
                progress(phase, done, total)

        def stopped() -> bool:
            return stop is not None and stop()

        report("validating", 0, 0)
        # (stop is asked between nodes here too: validating 10,000 arrays twice takes seconds)
        issues = self.validate(stop=stopped)
        refusal = None if force or stopped() else self.refusal(issues, stop=stopped)
        if stopped():  # (before the refusal: validation cut short says nothing)
            return SaveResult([], [], list(self.removed_temp_files), cancelled=True,
                              remaining=[key for key, _data, _snapshot in plan])
        if refusal is not None:
            raise refusal
        conflicts = self._conflicts(plan, report, stopped)
        if conflicts is None:
            return SaveResult([], issues, list(self.removed_temp_files), cancelled=True,
                              remaining=[key for key, _data, _snapshot in plan])
        if conflicts and self._rebase_consolidated(conflicts):
            plan = self.plan()
            conflicts = self._conflicts(plan, report, stopped)
            if conflicts is None:
                return SaveResult([], issues, list(self.removed_temp_files), cancelled=True,
                                  remaining=[key for key, _data, _snapshot in plan])
        if conflicts:
            had = {key for key, _data, snapshot in plan if snapshot.exists}
            deleted = [key for key in conflicts if key in had and not self.backend.read(key).exists]
            changed = [key for key in conflicts if key not in deleted]
            parts = ([f"changed in the store since they were read: {', '.join(changed)}"] if changed else []) + \
                    ([f"deleted from the store since they were read: {', '.join(deleted)}"] if deleted else [])
            raise ConflictError("; ".join(parts) + "; reload before saving", conflicts, deleted=deleted)
        self.backend.check_writable([key for key, _data, _snapshot in plan])
        written: list[str] = []
        retries = CONSOLIDATED_RETRIES
        total = len(plan)
        report("writing", 0, total)
        copies = frozenset(key for key, _prefix in self._copies())
        while plan:
            if stopped() and not all(key in copies for key, _data, _snapshot in plan):
                return self._stop_saving(plan, written, issues, copies)
            key, data, snapshot = plan.pop(0)
            pause()
            try:
                new_snapshot = self.backend.write(key, data, snapshot)
            except ConflictError as err:
                if retries and self._rebase_consolidated(err.keys):
                    # another writer saved other entries of the consolidated copy meanwhile: ours
                    # go into theirs (a copy derived from the documents merges entry by entry)
                    retries -= 1
                    plan = self.plan()
                    total = len(written) + len(plan)
                    continue
                self._after_save(written)
                if not written:
                    raise
                raise ConflictError(f"{err}; {_partly(written)}", err.keys, written, deleted=err.deleted) from err
            except SaveFailedError as err:
                self._after_save(written)
                if not written:
                    raise SaveFailedError(f"{err}; nothing was saved") from err
                raise SaveFailedError(f"{err}; {_partly(written)}", written) from err
            self._saved_as(key, data, new_snapshot)
            written.append(key)
            report("writing", len(written), total)
        self._after_save(written)
        return SaveResult(written, issues, list(self.removed_temp_files))

    def _conflicts(self, plan: Sequence[tuple[str, bytes, Snapshot]], report: SaveProgress,
                   stopped: Callable[[], bool]) -> list[str] | None:
        """:meth:`conflicts` of *plan*, reporting progress; None when stopped meanwhile."""
        out = []
        total = len(plan)
        for done, (key, _data, snapshot) in enumerate(plan):
            if stopped():
                return None
            pause()
            report("checking", done, total)
            if self.backend.read(key).version != snapshot.version:
                out.append(key)
        report("checking", total, total)
        return out

    def _saved_as(self, key: str, data: bytes, snapshot: Snapshot) -> None:
        """The document *key* was written as *data*: it is what was read now."""
        doc = self._docs[key]
        parsed = parse_document(key, data, keep_numbers=True)
        doc.snapshot = snapshot
        doc.original = parsed.value
        doc.working = copy.deepcopy(parsed.value)

    def _stop_saving(self, plan: list[tuple[str, bytes, Snapshot]], written: list[str], issues: list[Issue],
                     copies: frozenset[str]) -> SaveResult:
        """Stop a save before the documents of *plan*: write the consolidated copies among them
        for the documents *written* alone, so that each entry is as its document now is in the
        store (a reader of consolidated metadata sees what a reader of the documents sees)."""
        remaining = [key for key, _data, _snapshot in plan]
        if written:
            done = set(written)
            for key in [key for key in remaining if key in copies]:
                # from the copy as in the store: a v3 group's own attributes edited (its zarr.json
                # is its copy) are not written either
                doc = self._docs[key]
                prefix = "" if key == self.consolidated_key else key[: -len(key.rpartition("/")[2])]
                owed = {k[len(prefix):]: self._docs[k].original for k in done if k.startswith(prefix) and k != key}
                updated = reconsolidate(key, doc.original, owed)
                if updated is doc.original:
                    continue
                data = self._text(key, updated).encode("utf-8")
                try:
                    snapshot = self.backend.write(key, data, doc.snapshot)
                except ConflictError as err:
                    self._after_save(written)
                    raise ConflictError(f"{err}; {_partly(written)}", err.keys, written, deleted=err.deleted) from err
                except SaveFailedError as err:
                    self._after_save(written)
                    raise SaveFailedError(f"{err}; {_partly(written)}", written) from err
                working = doc.working
                self._saved_as(key, data, snapshot)
                doc.working = working  # (the edits and entries not written yet: the next save's)
                written.append(key)
                done.add(key)
        self._after_save(written)
        return SaveResult(written, issues, list(self.removed_temp_files), cancelled=True,
                          remaining=[key for key in remaining if key not in written])

    def _derived(self, key: str) -> bool:
        """Whether *key* is a consolidated copy and nothing else: the store's, a v2 group's own
        ``.zmetadata`` (a v3 group's copy sits in its own ``zarr.json``, with its attributes)."""
        return key == self.consolidated_key or key.endswith("/.zmetadata")

    def _rebase_consolidated(self, conflicts: Sequence[str]) -> bool:
        """Take the store's consolidated documents as they are now, when they are the only
        conflicts and the session holds no edit of its own in them (only entries copied from
        other documents, which the next plan copies into the new ones).  Returns whether they
        were taken."""
        if not conflicts or any(not self._derived(key) or key in self._touched for key in conflicts):
            return False
        fresh = {}
        for key in conflicts:
            snapshot = self.backend.read(key)
            if snapshot.data is None:
                return False  # deleted: a conflict to report, not to merge
            parsed = parse_document(key, snapshot.data, keep_numbers=True)
            if not parsed.ok:
                return False
            fresh[key] = _Doc(snapshot, parsed.value, copy.deepcopy(parsed.value))
        self._docs.update(fresh)
        return True

    def _after_save(self, written: Sequence[str]) -> None:
        for key in written:
            head = key.rpartition("/")[0]
            self.hierarchy.refresh("/" + head if head else "/")
        if written and self.consolidated_key in written:
            self.hierarchy.refresh("/")
        self.changed.emit()

    def reload(self, *, reapply: bool = False) -> None:
        """Re-read every loaded document from the store.

        Without *reapply* the edits are dropped (undo history cleared).  With it, the edits are
        applied again on top of the fresh documents (raises EditError, with the session reset
        to the fresh documents, when one no longer applies).
        """
        steps = [step.command for step in self._undo] if reapply else []
        labels = [step.label for step in self._undo] if reapply else []
        keys = list(self._docs)
        self._docs.clear()
        for key in keys:
            self._load_key(key)
        self._undo.clear()
        self._redo.clear()
        self.hierarchy.refresh("/")
        self.changed.emit()
        for command, label in zip(steps, labels, strict=True):
            self.apply(command, label=label, allow_nczarr=True)


class _WorkingContext:
    """A validation context over the session's working (or original) documents."""

    def __init__(self, session: EditSession, *, original: bool) -> None:
        self.session = session
        self.original = original
        self.strict = session.strict

    def node(self, path: str) -> Node | None:
        path = "/" + path.strip("/")
        session = self.session
        if path in session._loaded:
            return session._build(path, original=self.original)
        try:
            return session.hierarchy.node(path)
        except (NodeNotFoundError, StoreReadError):
            return None

    def children(self, path: str) -> Sequence[Node]:
        try:
            nodes = self.session.hierarchy.children(path).nodes
        except (NodeNotFoundError, StoreReadError):
            return ()
        out = []
        for child in nodes:
            replaced = self.node(child.path) if child.path in self.session._loaded else child
            if replaced is not None:
                out.append(replaced)
        return out

    def parent(self, node: Node) -> Node | None:
        parent = parent_path(node.path)
        return None if parent is None else self.node(parent)

    def read_values(self, node: Node, *, max_elements: int) -> np.ndarray | None:
        return read_values(self.session.hierarchy.access, node, max_elements=max_elements)


_ONE_LINE_DIFF = 200
"""Documents on one line longer than this are compared indented in :meth:`EditSession.diff`."""


def _partly(written: Sequence[str]) -> str:
    """What a save that stopped half-way says it had written."""
    return (f"{', '.join(written)} had been saved before: the store is partly saved (save again to finish, "
            "including its consolidated copy)")


CONSOLIDATED_RETRIES = 3
"""How many times a save takes in a consolidated copy another writer saved while it wrote."""


def _indented(text: str) -> str:
    """*text* (a JSON document) indented, as it is compared; unchanged when it is not JSON."""
    if not text:
        return text
    try:
        return dumps(json.loads(text), indent=2) + "\n"  # (jsonio's: json's indenting leaves reference cycles)
    except ValueError:
        return text
