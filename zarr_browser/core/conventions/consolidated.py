"""Consolidated metadata: v2 ``.zmetadata`` and v3 inline ``consolidated_metadata``.

The root carries the index (detected as role ``"index"``, version ``"1"`` for
``zarr_consolidated_format: 1`` or ``"inline"`` for v3).  Every node read from the store knows
how it compares with its consolidated copy (:attr:`Node.consolidated`); stale and missing
copies are warnings, because zarr and xarray opened with consolidated metadata (their default)
show the copy, not the node.

The root's ``.zmetadata`` is looked for among the root node's documents; a v2 root flagged by
the hierarchy (``node.consolidated`` set) without that document is still detected, with
the entry count unknown.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from zarr_browser.core.conventions.base import BaseConvention, Context, Detection
from zarr_browser.core.issues import Issue, Severity, pointer
from zarr_browser.core.jsonio import JSON
from zarr_browser.core.model import parent_path
from zarr_browser.errors import ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.core.hierarchy import ConsolidatedIndex
    from zarr_browser.core.model import Node

__all__ = ["ConsolidatedConvention", "own_v2_copy_issues"]

logger = logging.getLogger(__name__)

CONVENTION = "consolidated"
_REMEDY = "run zarr.consolidate_metadata() on the root to refresh it"
_MISSING_SHOWN = 5


def _v3_block(node: Node) -> JSON:
    doc = node.documents.get("zarr.json")
    if doc is None or not isinstance(doc.value, dict):
        return None
    return doc.value.get("consolidated_metadata")


class ConsolidatedConvention(BaseConvention):
    """The consolidated-metadata index at the root, and each node's freshness against it."""

    name = CONVENTION
    title = "Consolidated metadata"

    def detect(self, node: Node) -> Detection | None:
        """The index on the root group (v2 ``.zmetadata`` or v3 inline)."""
        if node.path != "/" or not node.is_group:
            return None
        block = _v3_block(node)
        if block is not None:
            kind = block.get("kind") if isinstance(block, dict) else None
            return Detection(CONVENTION, kind if isinstance(kind, str) else None, ("index",))
        zmeta = node.documents.get(".zmetadata")
        if zmeta is not None:
            value = zmeta.value
            ok = isinstance(value, dict) and value.get("zarr_consolidated_format") == 1 and isinstance(
                value.get("metadata"), dict)
            return Detection(CONVENTION, "1" if ok else None, ("index",))
        if node.zarr_format == 2 and node.consolidated is not None:
            return Detection(CONVENTION, "1", ("index",))
        return None

    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        """Kind, document and number of entries of the index."""
        from zarr_browser.core.hierarchy import ConsolidatedIndex

        index = None
        hierarchy = getattr(ctx, "hierarchy", None)  # the index the hierarchy parsed already
        if hierarchy is not None and node.path == "/" and hierarchy.consolidated is not None:
            root = getattr(hierarchy, "_root", None)
            if root is not None and root.documents is node.documents:
                index = hierarchy.consolidated
        if index is None:
            index = ConsolidatedIndex.parse(node.documents)
        if index is None:
            return {"kind": "v2 .zmetadata", "entries": None} if node.consolidated is not None else {}
        arrays = groups = 0
        for path, docs in index.documents.items():
            if path == "/":
                continue
            v3 = docs.get("zarr.json")
            is_array = ".zarray" in docs or (v3 is not None and isinstance(v3.value, dict)
                                             and v3.value.get("node_type") == "array")
            arrays += is_array
            groups += not is_array
        return {
            "kind": "inline (zarr.json)" if index.zarr_format == 3 else "v2 .zmetadata",
            "document": index.key,
            "entries": len([p for p in index.documents if p != "/"]),
            "arrays": arrays,
            "groups": groups,
            "problems": list(index.problems),
        }

    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """Stale or missing consolidated copies; a malformed index on the root."""
        issues: list[Issue] = []
        broken = _broken_copy(node, ctx) if node.consolidated == "stale" else None
        if broken is not None:
            issues.append(broken)
        elif node.consolidated == "stale":
            differs = node.consolidated_differs
            if not differs:
                what = "its documents differ from their consolidated copies"
            elif len(differs) == 1:
                what = f"{differs[0]} differs from its consolidated copy"
            else:
                what = f"{', '.join(differs)} differ from their consolidated copies"
            issues.append(Issue(Severity.WARNING, f"consolidated metadata is stale for this node: {what}, which zarr "
                                f"and xarray show when opened consolidated; {_REMEDY}", node.path, "", CONVENTION,
                                differs[0] if len(differs) == 1 else ""))
        elif node.consolidated == "absent" and not _unusable(ctx):  # (an unusable index is one error, on the root)
            issues.append(Issue(Severity.WARNING, "node missing from consolidated metadata (invisible to zarr/xarray "
                                f"when opened consolidated); {_REMEDY}", node.path, "", CONVENTION, ""))
        if node.path == "/":
            issues.extend(_root_issues(node, ctx))
        elif node.is_group and node.zarr_format == 3:
            issues.extend(_own_copy_issues(node, ctx))
        return issues


OWN_COPY_CHECKED = 1000
"""Entries of a group's own consolidated copy compared with the nodes they copy, at most."""


def _own_copy_issues(node: Node, ctx: Context) -> list[Issue]:
    """A v3 group below the root holding its own consolidated copy (``zarr.consolidate_metadata(
    store, path=...)``; ``zarr.open_group(store, path=...)`` reads it): entries whose attributes or
    dimension names differ from their node's, and entries of nodes that are gone."""
    block = _v3_block(node)
    metadata = block.get("metadata") if isinstance(block, dict) else None
    if not isinstance(metadata, dict) or not metadata:
        return []
    stale: list[str] = []
    gone: list[str] = []
    for rel, entry in list(metadata.items())[:OWN_COPY_CHECKED]:
        if not isinstance(rel, str) or not isinstance(entry, dict):
            continue
        try:
            actual = ctx.node(f"{node.path}/{rel}")
        except ZarrBrowserError:
            continue  # unreadable: said on that node
        if actual is None:
            gone.append(rel)
        elif actual.kind != "error" and actual.zarr_format == 3 and _copy_differs(entry, actual):
            stale.append(rel)
    return _own_copy_verdict(node.path, stale, gone, "zarr.json", "/consolidated_metadata")


def own_v2_copy_issues(path: str, document: JSON, ctx: Context) -> list[Issue]:
    """The same for a v2 group below the root with a ``.zmetadata`` of its own (*document*, as
    read): ``.zattrs`` entries that differ from their node's attributes (the group's own
    included), and ``.zarray``/``.zgroup`` entries of nodes that are gone."""
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict) or not metadata:
        return []
    stale: list[str] = []
    gone: list[str] = []
    for key, entry in list(metadata.items())[:OWN_COPY_CHECKED]:
        if not isinstance(key, str):
            continue
        rel, _, name = key.rpartition("/")
        if name not in (".zattrs", ".zarray", ".zgroup"):
            continue
        try:
            actual = ctx.node(f"{path}/{rel}" if rel else path)
        except ZarrBrowserError:
            continue
        shown = rel or "its own attributes"
        if actual is None:
            if name != ".zattrs" and shown not in gone:
                gone.append(shown)
            continue
        if actual.kind == "error" or actual.zarr_format != 2 or shown in stale:
            continue
        if name == ".zattrs":
            copied = entry if isinstance(entry, dict) else None
        elif (f"{rel}/.zattrs" if rel else ".zattrs") in metadata:
            continue  # compared at its .zattrs entry
        else:
            copied = {}  # no entry: zarr reads no attributes
        if copied != dict(actual.attributes):
            stale.append(shown)
    return _own_copy_verdict(path, stale, gone, ".zmetadata", "")


def _own_copy_verdict(path: str, stale: list[str], gone: list[str], document: str, where: str) -> list[Issue]:
    def listed(names: list[str]) -> str:
        more = len(names) - _MISSING_SHOWN
        return ", ".join(names[:_MISSING_SHOWN]) + (f" and {more} more" if more > 0 else "")

    remedy = f"run zarr.consolidate_metadata(store, path={path.lstrip('/')!r}) to refresh it"
    issues = []
    if stale:
        issues.append(Issue(Severity.WARNING, f"this group's own consolidated copy is stale for {listed(stale)}: "
                            f"zarr.open_group(store, path={path.lstrip('/')!r}) and xarray opening this group "
                            f"show the old attributes; {remedy}", path, where, CONVENTION, document))
    if gone:
        issues.append(Issue(Severity.WARNING, f"this group's own consolidated copy lists {listed(gone)}, not in the "
                            f"store; {remedy}", path, where, CONVENTION, document))
    return issues


def _copy_differs(entry: dict[str, JSON], actual: Node) -> bool:
    """Whether a consolidated *entry* holds other attributes or dimension names than its node."""
    if (entry.get("attributes") or {}) != dict(actual.attributes):
        return True
    names = entry.get("dimension_names")
    return actual.array is not None and isinstance(names, list) and tuple(names) != actual.array.dimension_names


def _broken_copy(node: Node, ctx: Context) -> Issue | None:
    """An error when the node's consolidated copy breaks the zarr spec where zarr-python parses it.

    zarr-python and xarray parse every array and group entry of the index when a store is
    opened (consolidated is their default), so one bad copy (``"shape": "x"``) fails the whole
    store, however valid the node's own documents are.  Attribute documents are parsed later,
    node by node: a bad copy of those stays a stale-copy warning.
    """
    from zarr_browser.core.conventions.zarr_core import ZarrCoreConvention

    index = getattr(getattr(ctx, "hierarchy", None), "consolidated", None)
    copy = index.node(node.path) if index is not None else None
    if index is None or copy is None:
        return None
    found = [i for i in ZarrCoreConvention().validate(copy, ctx)
             if i.severity is Severity.ERROR and i.document != ".zattrs"]
    if not found:
        return None
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return Issue(Severity.ERROR, f"the consolidated copy of this node in {index.key} is invalid: {found[0].message}"
                 f"{more}; zarr-python and xarray read that copy when they open the store and fail; {_REMEDY}",
                 node.path, "", CONVENTION, "")


def _unusable(ctx: Context) -> bool:
    """Whether the hierarchy's consolidated index could not be read at all."""
    index = getattr(getattr(ctx, "hierarchy", None), "consolidated", None)
    return bool(getattr(index, "unusable", False))


def _root_issues(node: Node, ctx: Context) -> list[Issue]:
    from zarr_browser.core.hierarchy import ConsolidatedIndex

    block = _v3_block(node)
    if block is not None:
        document, ptr = "zarr.json", pointer("consolidated_metadata")
    elif ".zmetadata" in node.documents:
        document, ptr = ".zmetadata", ""
    else:
        return []
    index = ConsolidatedIndex.parse(node.documents)
    issues = []
    problems = list(index.problems) if index is not None else []
    if index is None and block is not None:
        problems.append(f"consolidated_metadata is {block!r}, expected an object with 'kind' and 'metadata'")
    unusable = index is None or index.unusable
    for problem in problems:
        if unusable:
            issues.append(Issue(Severity.ERROR, f"malformed consolidated metadata: {problem}; zarr-python and xarray "
                                "read this index first and fail to open the store: write it again "
                                "(zarr.consolidate_metadata) or remove it", node.path, ptr, CONVENTION, document))
        else:
            issues.append(Issue(Severity.WARNING, f"malformed consolidated metadata: {problem}", node.path, ptr,
                                CONVENTION, document))
    if index is not None and not unusable:
        issues.extend(_missing_nodes(node, ctx, index))
    if isinstance(block, dict) and block.get("must_understand", False) is not False:
        issues.append(Issue(Severity.WARNING, "consolidated_metadata.must_understand is "
                            f"{block.get('must_understand')!r}; it should be false so that other readers may ignore "
                            "it", node.path, pointer("consolidated_metadata", "must_understand"), CONVENTION,
                            document))
    return issues


def _missing_nodes(root: Node, ctx: Context, index: ConsolidatedIndex) -> list[Issue]:
    """Nodes the consolidated metadata lists but the store does not hold.

    zarr and xarray opened consolidated (their default) show such nodes and read fill values
    from their arrays.  Only a hierarchy listed from the store's own files can tell: one listed
    from the consolidated copy (remote stores) serves every entry from the copy itself.
    """
    from zarr_browser.core.hierarchy import natural_key

    paths = sorted((p for p in index.documents if p != "/"), key=lambda p: [natural_key(s) for s in p.split("/")])
    if not paths or ctx.node(root.path) is None:
        return []  # a context that does not hold the root sees no store to compare with
    prefetch = getattr(ctx, "prefetch", None)
    if prefetch is not None:  # read them together, not one round trip each
        prefetch(paths)
    missing = [p for p in paths if ctx.node(p) is None]
    if not missing:
        return []
    gone = set(missing)
    tops = [p for p in missing if parent_path(p) not in gone]  # a missing group's entries say nothing new
    shown = ", ".join(tops[:_MISSING_SHOWN])
    more = len(missing) - min(len(tops), _MISSING_SHOWN)
    listed = f"{shown} and {more} more" if more else shown
    which = "a node" if len(missing) == 1 else f"{len(missing)} nodes"
    them = "it (reading fill values" if len(missing) == 1 else "them (reading fill values"
    first = missing[0]
    if index.zarr_format == 3:
        document, ptr = "zarr.json", pointer("consolidated_metadata", "metadata", first.lstrip("/"))
    else:
        document, ptr = ".zmetadata", pointer("metadata", next(iter(index.documents[first].values())).key)
    return [Issue(Severity.WARNING, f"consolidated metadata lists {which} that the store does not hold: {listed}; "
                  f"zarr and xarray opened consolidated (their default) show {them} for arrays); {_REMEDY}",
                  root.path, ptr, CONVENTION, document)]
