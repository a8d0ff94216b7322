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

__all__ = [
    "RESOLUTION_ORDER",
    "RGB_NAMES",
    "UNNAMED",
    "dimension_issues",
    "dimension_labels",
    "looks_rgb",
    "plane_axes",
    "resolve_dimension_names",
]

RESOLUTION_ORDER = ("zarr", "xarray", "nczarr", "ome-ngff")
"""Which convention's names win, first to last (xarray's own read order, then OME axes)."""


UNNAMED = "–"
"""How an axis a source leaves unnamed (a null in v3 ``dimension_names``) is shown."""


RGB_NAMES = frozenset({"c", "channel", "channels", "rgb", "rgba", "band", "bands", "color", "colour"})
"""Names a last axis of 3 or 4 colour components may have (or none)."""

_Y_NAMES = ("y", "lat", "latitude", "row", "rows", "height")
_X_NAMES = ("x", "lon", "longitude", "col", "column", "columns", "width")


def looks_rgb(shape: Sequence[int], dtype: str, names: Sequence[str] | None) -> bool:
    """Whether an array is colour pixels: uint8 with a last axis of 3 (RGB) or 4 (RGBA) that is
    not named otherwise (a ``z`` of 3 planes is not colour)."""
    last = names[-1] if names else None
    return bool(len(shape) >= 3 and shape[-1] in (3, 4) and dtype == "uint8"
                and (last is None or last.lower() in RGB_NAMES))


def plane_axes(ndim: int, names: Sequence[str] | None) -> tuple[int, int]:
    """The (row, column) axes of the plane to draw: the axes named like y and x when there are
    such names (a ``(y, x, z)`` array is drawn as y × x), else the last two."""
    if names is not None and len(names) == ndim:
        lowered = [n.lower() for n in names]
        row = next((i for i, n in enumerate(lowered) if n in _Y_NAMES), None)
        column = next((i for i, n in enumerate(lowered) if n in _X_NAMES), None)
        if row is not None and column is not None and row != column:
            return row, column
    return ndim - 2, ndim - 1


def _usable(source: DimensionSource, ndim: int) -> bool:
    return len(source.names) == ndim and all(isinstance(n, str) and n for n in source.names)


def _ranked(sources: Sequence[DimensionSource]) -> list[DimensionSource]:
    return sorted(
        sources,
        key=lambda s: RESOLUTION_ORDER.index(s.convention) if s.convention in RESOLUTION_ORDER else len(RESOLUTION_ORDER),
    )


def resolve_dimension_names(node: Node, sources: Sequence[DimensionSource]) -> tuple[str, ...] | None:
    """The dimension names of array *node*, from the first source that names every axis, or None."""
    if node.array is None:
        return None
    ndim = node.array.ndim
    for source in _ranked(sources):
        if _usable(source, ndim):
            return tuple(n for n in source.names if n is not None)
    return None


def dimension_labels(node: Node, sources: Sequence[DimensionSource]) -> tuple[str | None, ...] | None:
    """The dimension names of array *node* to show: :func:`resolve_dimension_names`, else those of
    the first source that names some axes and leaves the others null (v3 ``dimension_names``
    ``["time", null, "x"]``, which xarray opens with a dimension named None), None where unnamed."""
    names = resolve_dimension_names(node, sources)
    if names is not None or node.array is None:
        return names
    ndim = node.array.ndim
    for source in _ranked(sources):
        if len(source.names) == ndim and any(isinstance(n, str) and n for n in source.names):
            return tuple(n if isinstance(n, str) and n else None for n in source.names)
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
            # names cut to 60 characters: a 100,000-character axis name made a 100,000-character message
            detail = ", ".join(f"{s.source} says {_quoted(name)}" for s, name in named)
            if any(s.convention == "nczarr" for s, _ in named):  # what an edit of _ARRAY_DIMENSIONS leaves alone
                detail += " (netCDF readers take the NCZarr dimension references; the other names are xarray's)"
            first = named[0][0]
            issues.append(
                Issue(Severity.WARNING, f"axis {axis} has conflicting names: {detail}", node.path,
                      first.pointer, "dimensions", first.document)
            )
    return issues


def _quoted(name: str | None, limit: int = 60) -> str:
    """*name* quoted for a message, cut to *limit* characters."""
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 1] + "…"
