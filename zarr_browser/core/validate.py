"""Validate a hierarchy (or a subtree) against every convention in a registry."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zarr_browser.core.conventions.base import Context, ConventionRegistry
from zarr_browser.core.conventions.consolidated import own_v2_copy_issues
from zarr_browser.core.dimensions import dimension_issues
from zarr_browser.core.hierarchy import Expectation, Hierarchy, Listing
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import JSON, parse_document
from zarr_browser.core.model import Node, key_prefix, parent_path
from zarr_browser.core.safety import check_array, read_values
from zarr_browser.core.store import run_sync
from zarr_browser.core.tempfiles import leftovers
from zarr_browser.errors import NodeNotFoundError, StoreOpenError, StoreReadError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["HierarchyContext", "ValidationReport", "validate_hierarchy"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, str], None]


class HierarchyContext:
    """A :class:`~zarr_browser.core.conventions.base.Context` backed by a Hierarchy."""

    def __init__(self, hierarchy: Hierarchy, *, strict: bool = False, max_children: int | None = None) -> None:
        self.hierarchy = hierarchy
        self.strict = strict
        self.max_children = max_children
        """At most this many children per group are read for descriptions (None: all).  Interactive
        views set it: summarising a group of 10,000 arrays must not build 10,000 nodes."""
        self._values: dict[str, np.ndarray | None] = {}  # small arrays read, by path (a tree's index coordinates)

    def node(self, path: str) -> Node | None:
        try:
            return self.hierarchy.node(path)
        except (NodeNotFoundError, StoreReadError, StoreOpenError):  # the root read again may fail to open
            return None

    def prefetch(self, paths: Sequence[str], expect: Mapping[str, Expectation] | None = None) -> None:
        """Read the nodes at *paths* together (one round trip) before they are asked for one by one;
        unreadable ones are left for :meth:`node` to report."""
        self.hierarchy.prefetch(paths, expect=expect)

    def children(self, path: str) -> Sequence[Node]:
        try:
            return self.hierarchy.children(path, limit=self.max_children).nodes
        except (NodeNotFoundError, StoreReadError, StoreOpenError):
            return ()

    def parent(self, node: Node) -> Node | None:
        parent = parent_path(node.path)
        return None if parent is None else self.node(parent)

    VALUES_KEPT = 64
    """How many small arrays :meth:`read_values` keeps: an ancestor's index coordinate is compared
    with those of all the groups below it."""

    def read_values(self, node: Node, *, max_elements: int) -> np.ndarray | None:
        if node.path in self._values:
            values = self._values[node.path]
            return values if values is None or values.size <= max_elements else None
        values = read_values(self.hierarchy.access, node, max_elements=max_elements)
        if len(self._values) >= self.VALUES_KEPT:
            del self._values[next(iter(self._values))]
        self._values[node.path] = values
        return values


@dataclass
class ValidationReport:
    """Issues found in a hierarchy, with how much was checked."""

    url: str
    issues: list[Issue] = field(default_factory=list)
    nodes_checked: int = 0
    cancelled: bool = False

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is Severity.ERROR]

    def by_node(self) -> dict[str, list[Issue]]:
        out: dict[str, list[Issue]] = {}
        for issue in self.issues:
            out.setdefault(issue.path, []).append(issue)
        return out


def validate_node(node: Node, registry: ConventionRegistry, ctx: Context) -> list[Issue]:
    """Every issue about one node: its conventions, and dimension conflicts."""
    issues = list(registry.validate(node, ctx))
    if node.is_array:
        for reason in check_array(node):
            severity = Severity.ERROR if "is refused" in reason else Severity.WARNING
            issues.append(Issue(severity, f"data will not be decoded: {reason}", node.path, convention="safety"))
        sources = registry.dimension_sources(node, ctx.parent(node))
        issues.extend(dimension_issues(node, sources))
    return [_strictness(i, ctx.strict) for i in issues]


def _strictness(issue: Issue, strict: bool) -> Issue:
    """Rules only the strict schemas require (flagged ``[strict]``): errors when *strict*, else info.

    They are SHOULDs that almost every writer skips (a multiscale's ``type`` and ``metadata``),
    so by default they are shown without raising a warning on every image.
    """
    if issue.severity is Severity.WARNING and issue.message.startswith("[strict]"):
        from dataclasses import replace

        return replace(issue, severity=Severity.ERROR if strict else Severity.INFO)
    return issue


def validate_hierarchy(
    hierarchy: Hierarchy,
    registry: ConventionRegistry,
    *,
    path: str = "/",
    depth: int | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    batch: int = 64,
) -> ValidationReport:
    """Validate every node from *path* down; never raises on bad metadata.

    The tree is walked level by level; the groups of a level are listed concurrently, *batch*
    at a time, and *cancel* is checked between batches and between nodes, so even a huge
    remote hierarchy stops promptly.

    Parameters
    ----------
    strict
        Treat the SHOULD rules of the strict OME-NGFF schemas as errors.
    progress
        Called with (nodes checked so far, current path).
    cancel
        When set, stop early and mark the report ``cancelled``.
    """
    ctx = HierarchyContext(hierarchy, strict=strict)
    report = ValidationReport(hierarchy.url)

    def cancelled() -> bool:
        if cancel is not None and cancel.is_set():
            report.cancelled = True
        return report.cancelled

    frontier = [hierarchy.node(path)]
    level = 0
    while frontier and not cancelled():
        # list the level's groups first (concurrently, a batch at a time): the checks of a group
        # look at its children, which are then read already instead of one group after another
        groups = [n for n in frontier if n.lists_children] if depth is None or level < depth else []
        listings: list[Listing] = []
        copies: dict[str, JSON] = {}
        for first in range(0, len(groups), batch):
            if cancelled():
                return report
            listings.extend(run_sync(_list_all(hierarchy, [g.path for g in groups[first : first + batch]])))
            copies.update(run_sync(_own_v2_copies(hierarchy, groups[first : first + batch])))
        for node in frontier:
            if cancelled():
                return report
            report.issues.extend(validate_node(node, registry, ctx))
            report.nodes_checked += 1
            if progress is not None:
                progress(report.nodes_checked, node.path)
        if level == 0 and path == "/" and not any(g.path == "/" for g in groups):
            report.issues.extend(_leftover_issues(hierarchy, "/"))  # an array at the root: its folder too
        frontier = []
        for group, listing in zip(groups, listings, strict=True):
            report.issues.extend(_leftover_issues(hierarchy, group.path))
            if group.path in copies:
                report.issues.extend(own_v2_copy_issues(group.path, copies[group.path], ctx))
            if not listing.complete:
                report.issues.append(
                    Issue(Severity.WARNING,
                          f"children could not be listed ({listing.error}); "
                          + (f"only the {_count(len(listing.nodes), 'child', 'children')} its metadata declares "
                             "were checked" if listing.nodes else "its metadata declares none"),
                          group.path, convention="zarr")
                )
            frontier.extend(listing.nodes)
        level += 1
    return report


def _leftover_issues(hierarchy: Hierarchy, path: str) -> list[Issue]:
    """A warning for each temporary file a killed zarr-browser save left in the folder of *path*,
    as its listing showed it (audit E, 8: they stayed unseen, as large as the document, until a
    writable session loaded that node).  Saves write them in the store's root folder, which is
    listed here (locally) even when the children came from consolidated metadata.  Nothing is
    removed: validating reads only; a writable session removes them."""
    names = hierarchy.temp_files(path)
    if names is None and path == "/" and hierarchy.access.local_root is not None:
        try:
            names = tuple(run_sync(hierarchy.access.list_dir("")))
        except StoreReadError:
            return []
    out = []
    for leftover in leftovers(hierarchy.access, key_prefix(path), names or ()):
        size = "size unknown" if leftover.size is None else f"{leftover.size:,} bytes"
        out.append(Issue(
            Severity.WARNING,
            f"{leftover.key} ({size}) is a temporary file left by an interrupted zarr-browser save: not part of "
            "the store, safe to delete (opening the store for editing in zarr-browser removes it)",
            path, convention="zarr"))
    return out


async def _own_v2_copies(hierarchy: Hierarchy, groups: list[Node]) -> dict[str, JSON]:
    """The ``.zmetadata`` of each v2 group below the root that has one of its own (``zarr.
    consolidate_metadata(store, path=...)``), parsed; one read per such group, none for v3 (whose
    copy is in its ``zarr.json``).  A copy that cannot be read or parsed is left out: zarr
    opening the group falls back to its documents then."""
    wanted = [g.path for g in groups if g.path != "/" and g.zarr_format == 2 and g.kind == "group"]
    if not wanted:
        return {}
    keys = {key_prefix(path) + ".zmetadata": path for path in wanted}
    found = await hierarchy.access.get_many(list(keys))
    out: dict[str, JSON] = {}
    for key, data in found.items():
        if isinstance(data, bytes):
            parsed = parse_document(key, data)
            if parsed.ok:
                out[keys[key]] = parsed.value
    return out


async def _list_all(hierarchy: Hierarchy, paths: list[str]) -> list[Listing]:
    return list(await asyncio.gather(*(hierarchy.achildren(p) for p in paths)))


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
