"""Dimension names, units and scales from every source, side by side.

Sources (each from its convention): v3 ``dimension_names`` (zarr), ``_ARRAY_DIMENSIONS``
(xarray), NCZarr dimension references, OME-NGFF axes of the parent multiscale image.  The
*resolved* names follow xarray's read order, then OME; disagreements are issues.
"""

from __future__ import annotations

from collections.abc import Sequence

from zarr_browser.core.conventions.base import DimensionSource
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.model import Node

__all__ = ["RESOLUTION_ORDER", "dimension_issues", "resolve_dimension_names"]

RESOLUTION_ORDER = ("zarr", "xarray", "nczarr", "ome-ngff")
"""Which convention's names win, first to last (xarray's own read order, then OME axes)."""


def _usable(source: DimensionSource, ndim: int) -> bool:
    return len(source.names) == ndim and all(isinstance(n, str) and n for n in source.names)


def resolve_dimension_names(node: Node, sources: Sequence[DimensionSource]) -> tuple[str, ...] | None:
    """The dimension names of array *node*, from the first usable source, or None."""
    if node.array is None:
        return None
    ndim = node.array.ndim
    ranked = sorted(
        sources,
        key=lambda s: RESOLUTION_ORDER.index(s.convention) if s.convention in RESOLUTION_ORDER else len(RESOLUTION_ORDER),
    )
    for source in ranked:
        if _usable(source, ndim):
            return tuple(n for n in source.names if n is not None)
    return None


def dimension_issues(node: Node, sources: Sequence[DimensionSource]) -> list[Issue]:
    """Warnings where two sources disagree on the name of an axis."""
    if node.array is None:
        return []
    ndim = node.array.ndim
    usable = [s for s in sources if len(s.names) == ndim]
    issues = []
    for axis in range(ndim):
        named = [(s, s.names[axis]) for s in usable if s.names[axis]]
        distinct = {name for _, name in named}
        if len(distinct) > 1:
            detail = ", ".join(f"{s.source} says {name!r}" for s, name in named)
            first = named[0][0]
            issues.append(
                Issue(Severity.WARNING, f"axis {axis} has conflicting names: {detail}", node.path,
                      first.pointer, "dimensions", first.document)
            )
    return issues
