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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import EllipsisType
from typing import TYPE_CHECKING, Any

import numpy as np

from zarr_browser.errors import ZarrBrowserError
from zarr_browser.streaming.engine import Hole, get_engine, new_token

if TYPE_CHECKING:
    from zarr_browser.streaming.levels import Index, LevelArray

__all__ = ["MosaicGeometry", "MosaicSource"]

logger = logging.getLogger(__name__)

TileOpener = Callable[[str], "LevelArray | None"]
"""Opens the tile of one cell (by its key, e.g. a well path); None when there is nothing to show."""

_MAX_WORKERS = 8
_OPENERS = 4
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _opener_pool() -> ThreadPoolExecutor:
    """Workers that resolve tiles for never-waiting reads (well and field metadata, concurrently)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_OPENERS, thread_name_prefix="zb-mosaic")
        return _pool


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


def _tile_clips(
    tile: LevelArray | None, y_local: Index, y_out: slice | None, x_local: Index, x_out: slice | None
) -> tuple[tuple[Index, slice | None], tuple[Index, slice | None]] | None:
    """The y and x parts of a cell's segment that *tile* covers (None: nothing, or no tile)."""
    if tile is None:
        return None
    tile_h, tile_w = tile.shape[-2:]
    y_clip, x_clip = _clip(y_local, y_out, tile_h), _clip(x_local, x_out, tile_w)
    if y_clip is None or x_clip is None:
        return None
    return y_clip, x_clip


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
        self._opening: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self.token = new_token()

    coarse_first = True
    """Nothing of a mosaic is read ahead: a display drawing a finer level requests this one too."""

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

    def _open_later(self, cells: list[tuple[int, int]]) -> None:
        """Resolve the tiles of *cells* in a worker (their metadata read together, when the opener
        can); listeners of this mosaic hear when they are ready."""
        with self._lock:
            cells = [c for c in cells if c not in self._tiles and c not in self._opening]
            self._opening.update(cells)
        if not cells:
            return

        def work() -> None:
            try:
                self._prepare(cells)
                for cell in cells:
                    tile = self.tile(cell)
                    if tile is not None and hasattr(tile.source, "token"):
                        get_engine().add_listener(tile.source.token, self._forward)
            finally:
                with self._lock:
                    self._opening.difference_update(cells)
                get_engine().notify(self.token)

        _opener_pool().submit(work)

    def _prepare(self, cells: list[tuple[int, int]]) -> None:
        """Read the metadata of the tiles of *cells* not resolved yet together, when the opener can."""
        prepare = getattr(self._open_tile, "prepare", None)
        with self._lock:
            cells = [c for c in cells if c not in self._tiles]
        if prepare is None or len(cells) < 2:
            return
        try:
            prepare([self.geometry.cells[c] for c in cells])
        except ZarrBrowserError as err:  # each tile reports its own problem when it is opened
            logger.info("mosaic %s: prefetching tile metadata failed: %s", self._name, err)

    def _forward(self, _token: int) -> None:
        get_engine().notify(self.token)

    def _jobs(self, y_index: Index, x_index: Index) -> list[tuple[Any, ...]]:
        height, width = self.geometry.tile_shape[-2:]
        return [
            ((row, column), y_local, y_out, x_local, x_out)
            for row, y_local, y_out in _segments(y_index, height)
            for column, x_local, x_out in _segments(x_index, width)
            if (row, column) in self.geometry.cells
        ]

    def read_cached(
        self, key: tuple[Index, ...], *, request: bool = True, neighbours: bool = False,
        neighbour_axes: Sequence[int] | None = None, wait: float = 0.0,
    ) -> tuple[np.ndarray, list[Hole]]:
        """What is ready of region *key* now (never waits); tiles not opened yet are opened in workers."""
        del neighbours, neighbour_axes, wait  # one small level, nothing to prefetch; tiles are not waited for
        *lead, y_index, x_index = key
        out = np.zeros(self._out_shape(key), dtype=self._dtype)
        holes: list[Hole] = []
        lead_dims = sum(isinstance(k, slice) for k in lead)
        unopened: list[tuple[int, int]] = []
        for cell, y_local, y_out, x_local, x_out in self._jobs(y_index, x_index):
            target = tuple(s for s in (y_out, x_out) if s is not None)
            region = (*(slice(None),) * lead_dims, *target)
            with self._lock:
                known = cell in self._tiles
                tile = self._tiles.get(cell)
            if not known:
                unopened.append(cell)
                holes.append(Hole(region, "pending", self.geometry.cells[cell]))
                continue
            clips = _tile_clips(tile, y_local, y_out, x_local, x_out)
            if tile is None or clips is None:
                continue
            y_clip, x_clip = clips
            try:
                full = tile.full_key((*lead, y_clip[0], x_clip[0]))
                read = getattr(tile.source, "read_cached", None)
                if read is None:
                    data, tile_holes = tile.source.read(full), []
                else:
                    data, tile_holes = read(full, request=request)
                clipped = tuple(s for s in (y_clip[1], x_clip[1]) if s is not None)
                where: tuple[EllipsisType | slice, ...] = (Ellipsis, *clipped)
                out[where] = data
            except (IndexError, ValueError) as err:  # a tile with other leading axes than the first
                logger.warning("mosaic %s: tile %s does not fit the grid: %s", self._name, cell, err)
                continue
            offsets = [0] * lead_dims + [s.start for s in clipped]
            for hole in tile_holes:
                shifted = tuple(slice(h.start + o, h.stop + o) for h, o in zip(hole.out, offsets, strict=True))
                holes.append(Hole(shifted, hole.status, hole.key))
        if unopened and request:
            self._open_later(unopened)
        return out, holes

    def _out_shape(self, key: tuple[Index, ...]) -> list[int]:
        return [len(range(k.start, k.stop, k.step)) for k in key if isinstance(k, slice)]

    def read(self, key: tuple[Index, ...]) -> np.ndarray:
        *lead, y_index, x_index = key
        out = np.zeros(self._out_shape(key), dtype=self._dtype)
        jobs = self._jobs(y_index, x_index)
        if not jobs:
            return out
        self._prepare([job[0] for job in jobs])

        def fill(job: tuple[Any, ...]) -> None:
            cell, y_local, y_out, x_local, x_out = job
            tile = self.tile(cell)
            clips = _tile_clips(tile, y_local, y_out, x_local, x_out)
            if tile is None or clips is None:
                return
            y_clip, x_clip = clips
            try:
                data = tile[(*lead, y_clip[0], x_clip[0])]
            except IndexError as err:  # a tile with fewer channels/planes than the first
                logger.warning("mosaic %s: tile %s has no such region: %s", self._name, cell, err)
                return
            target = tuple(s for s in (y_clip[1], x_clip[1]) if s is not None)
            where: tuple[EllipsisType | slice, ...] = (Ellipsis, *target)
            try:
                out[where] = data
            except ValueError as err:  # leading axes of another size than the first tile's
                logger.warning("mosaic %s: tile %s does not fit the grid: %s", self._name, cell, err)

        if len(jobs) == 1:
            fill(jobs[0])
        else:
            with ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(jobs))) as pool:
                for result in pool.map(fill, jobs):
                    del result
        return out
