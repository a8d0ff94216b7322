"""A lazily tiled mosaic: a grid of equally sized tiles read only where a region touches them.

An HCS plate is shown as one picture: each well contributes one tile (the lowest resolution
level of one field) at its row and column of the plate.  :class:`MosaicSource` is the
:class:`~zarr_browser.streaming.levels.ArraySource` behind that picture: the last two axes are
the grid of tiles, the leading axes (time, channel, z) are the tiles' own.  A tile is resolved
(well metadata read, array opened through the safety gate) the first time a region touches it,
and only the tiles a region touches are read.  Missing wells, wells that cannot be read and the
parts of tiles smaller than the grid cell are filled with zeros; larger tiles are cropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zarr_browser.errors import ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.streaming.levels import Index, LevelArray

__all__ = ["MosaicGeometry", "MosaicSource"]

logger = logging.getLogger(__name__)

TileOpener = Callable[[str], "LevelArray | None"]
"""Opens the tile of one cell (by its key, e.g. a well path); None when there is nothing to show."""

_MAX_WORKERS = 8


@dataclass(frozen=True, slots=True)
class MosaicGeometry:
    """Where the tiles go.

    Attributes
    ----------
    rows, columns
        Size of the grid, in tiles.
    tile_shape
        Shape of one tile (leading axes, then height and width).
    cells
        The occupied cells: ``(row, column)`` → tile key passed to the opener.
    """

    rows: int
    columns: int
    tile_shape: tuple[int, ...]
    cells: Mapping[tuple[int, int], str]

    @property
    def shape(self) -> tuple[int, ...]:
        *lead, height, width = self.tile_shape
        return (*lead, self.rows * height, self.columns * width)

    def cell_at(self, y: float, x: float) -> tuple[int, int] | None:
        """The (row, column) of the tile under pixel (y, x) of the mosaic, or None outside it."""
        height, width = self.tile_shape[-2:]
        row, column = int(y // height), int(x // width)
        if 0 <= row < self.rows and 0 <= column < self.columns:
            return row, column
        return None


def _segments(index: Index, tile: int) -> list[tuple[int, Index, slice | None]]:
    """Split one axis index of the mosaic into (tile number, index inside the tile, output range)."""
    if isinstance(index, int):
        return [(index // tile, index % tile, None)]
    start, stop, step = index.start, index.stop, index.step
    positions = range(start, stop, step)
    out: list[tuple[int, Index, slice | None]] = []
    i = 0
    while i < len(positions):
        first = positions[i]
        number = first // tile
        end = (number + 1) * tile
        count = min(len(positions) - i, -(-(end - first) // step))
        last = positions[i + count - 1]
        out.append((number, slice(first - number * tile, last - number * tile + 1, step), slice(i, i + count)))
        i += count
    return out


def _clip(local: Index, out: slice | None, size: int) -> tuple[Index, slice | None] | None:
    """Restrict a tile-local index to a tile of *size* along that axis (None: nothing left)."""
    if isinstance(local, int):
        return (local, out) if local < size else None
    stop = min(local.stop, size)
    count = len(range(local.start, stop, local.step))
    if count <= 0:
        return None
    assert out is not None
    return slice(local.start, stop, local.step), slice(out.start, out.start + count)


class MosaicSource:
    """The pixels of a tiled mosaic (see the module docstring).

    Parameters
    ----------
    geometry
        The grid and the tile shape.
    dtype
        The data type of the tiles.
    open_tile
        Called (at most once per cell, from worker threads) to open the tile of a cell.
    name
        What the mosaic shows, for reprs and messages.
    """

    def __init__(self, geometry: MosaicGeometry, dtype: np.dtype, open_tile: TileOpener, *, name: str) -> None:
        self.geometry = geometry
        self._dtype = np.dtype(dtype)
        self._open_tile = open_tile
        self._name = name
        self._tiles: dict[tuple[int, int], LevelArray | None] = {}
        self._lock = threading.Lock()

    @property
    def shape(self) -> tuple[int, ...]:
        return self.geometry.shape

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        *lead, height, width = self.geometry.tile_shape
        return (*(1 for _ in lead), height, width)

    def describe(self) -> str:
        return self._name

    def opened_cells(self) -> list[tuple[int, int]]:
        """The cells whose tile has been resolved so far (for tests and diagnostics)."""
        with self._lock:
            return sorted(self._tiles)

    def tile(self, cell: tuple[int, int]) -> LevelArray | None:
        """The tile of *cell*, resolved on first use (None for an empty or unreadable cell)."""
        with self._lock:
            if cell in self._tiles:
                return self._tiles[cell]
        key = self.geometry.cells.get(cell)
        tile: LevelArray | None = None
        if key is not None:
            try:
                tile = self._open_tile(key)
            except (ZarrBrowserError, OSError, ValueError) as err:
                logger.warning("mosaic %s: tile %s cannot be opened: %s", self._name, key, err)
        with self._lock:
            return self._tiles.setdefault(cell, tile)

    def read(self, key: tuple[Index, ...]) -> np.ndarray:
        *lead, y_index, x_index = key
        height, width = self.geometry.tile_shape[-2:]
        out_shape = [len(range(k.start, k.stop, k.step)) for k in lead if isinstance(k, slice)]
        for index in (y_index, x_index):
            if isinstance(index, slice):
                out_shape.append(len(range(index.start, index.stop, index.step)))
        out = np.zeros(out_shape, dtype=self._dtype)
        jobs = [
            ((row, column), y_local, y_out, x_local, x_out)
            for row, y_local, y_out in _segments(y_index, height)
            for column, x_local, x_out in _segments(x_index, width)
            if (row, column) in self.geometry.cells
        ]
        if not jobs:
            return out

        def fill(job: tuple) -> None:  # type: ignore[type-arg]
            cell, y_local, y_out, x_local, x_out = job
            tile = self.tile(cell)
            if tile is None:
                return
            tile_h, tile_w = tile.shape[-2:]
            y_clip, x_clip = _clip(y_local, y_out, tile_h), _clip(x_local, x_out, tile_w)
            if y_clip is None or x_clip is None:
                return
            try:
                data = tile[(*lead, y_clip[0], x_clip[0])]
            except IndexError as err:  # a tile with fewer channels/planes than the first
                logger.warning("mosaic %s: tile %s has no such region: %s", self._name, cell, err)
                return
            target = tuple(s for s in (y_clip[1], x_clip[1]) if s is not None)
            try:
                out[(Ellipsis, *target)] = data
            except ValueError as err:  # leading axes of another size than the first tile's
                logger.warning("mosaic %s: tile %s does not fit the grid: %s", self._name, cell, err)

        if len(jobs) == 1:
            fill(jobs[0])
        else:
            with ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(jobs))) as pool:
                for result in pool.map(fill, jobs):
                    del result
        return out
