"""Histograms of one channel of an image level, for contrast windows (the editor's channel form).

The lowest-resolution level is read through the safety gate with a bound on the elements read:
axes other than the channel and the last two keep their middle index, and the plane is cropped
around its centre when it is larger than the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zarr_browser.core.safety import open_array, read_region

if TYPE_CHECKING:
    from collections.abc import Iterable

    from zarr_browser.core.hierarchy import Hierarchy

__all__ = ["Histogram", "channel_histogram", "channel_ranges"]

MAX_ELEMENTS = 4_000_000
"""Elements read for one histogram at most."""


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts per bin between ``edges[0]`` and ``edges[-1]``, with the data range and the level read."""

    counts: tuple[int, ...]
    edges: tuple[float, ...]
    minimum: float
    maximum: float
    level: str


def _channel_values(hierarchy: Hierarchy, level: str, channel_axis: int | None, channel: int) -> np.ndarray:
    """The finite values of *channel* read from *level* (a plane, bounded by MAX_ELEMENTS), as float64."""
    node = hierarchy.node(level)
    if node.array is None:
        raise ValueError(f"{level} is not an array")
    shape = node.array.shape
    selection: list[int | slice] = []
    for axis, size in enumerate(shape):
        if axis == channel_axis:
            selection.append(min(channel, size - 1))
        elif axis >= len(shape) - 2:
            selection.append(slice(None))
        else:
            selection.append(size // 2)
    plane = [i for i in range(max(0, len(shape) - 2), len(shape)) if i != channel_axis]
    elements = int(np.prod([shape[i] for i in plane])) if plane else 1
    if elements > MAX_ELEMENTS:
        side = int(MAX_ELEMENTS ** (1 / len(plane)))
        for i in plane:
            start = max(0, shape[i] // 2 - side // 2)
            selection[i] = slice(start, min(shape[i], start + side))
    data = read_region(open_array(hierarchy.access, node), node, hierarchy.url, tuple(selection))
    values = np.asarray(data, dtype=np.float64).ravel()
    return values[np.isfinite(values)]


def channel_histogram(
    hierarchy: Hierarchy, level: str, channel_axis: int | None, channel: int, *, bins: int = 128
) -> Histogram:
    """Histogram of *channel* (along *channel_axis*, None: the whole array) of the array at *level*."""
    values = _channel_values(hierarchy, level, channel_axis, channel)
    if values.size == 0:
        return Histogram((), (), 0.0, 0.0, level)
    low, high = float(values.min()), float(values.max())
    counts, edges = np.histogram(values, bins=bins, range=(low, high if high > low else low + 1))
    return Histogram(tuple(int(c) for c in counts), tuple(float(e) for e in edges), low, high, level)


def channel_ranges(
    hierarchy: Hierarchy, level: str, channel_axis: int | None, channels: Iterable[int]
) -> dict[int, tuple[float, float]]:
    """The smallest and largest finite value of each of *channels* in the array at *level*
    (read as :func:`channel_histogram` reads it); channels without any finite value are left out."""
    out: dict[int, tuple[float, float]] = {}
    for channel in channels:
        values = _channel_values(hierarchy, level, channel_axis, channel)
        if values.size:
            out[channel] = (float(values.min()), float(values.max()))
    return out
