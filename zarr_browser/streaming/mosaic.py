"""A lazily tiled mosaic: a grid of equally sized tiles read only where a region touches them.

An HCS plate is shown as one picture: each well contributes one tile (the lowest resolution
level of one field) at its row and column of the plate.  :class:`MosaicSource` is the
:class:`~zarr_browser.streaming.levels.ArraySource` behind that picture: the last two axes are
the grid of tiles, the leading axes (time, channel, z) are the tiles' own.  A tile is resolved
(well metadata read, array opened through the safety gate) the first time a region touches it,
and only the tiles a region touches are read.  Missing wells, wells that cannot be read and the
parts of tiles smaller than the grid cell are filled with zeros; larger tiles are cropped, and
channels (or planes) beyond the grid's are left out.

A never-waiting read opens the tiles it touches in a worker, a batch at a time (one round trip
of the store's requests for the first batch, :data:`BATCH_ROUNDS` for the others, two of them
at once after the first), and tells its listeners after each batch: the picture fills in as
wells arrive, and
:meth:`MosaicSource.loading` says how many of them are open so far (a 384-well plate behind a
server that takes 6 requests at once needs more than 1,000 metadata requests before its last
tile: they all went first, and the plate stayed black for 15 s; audit I, F6).

What a mosaic cannot show as stored is kept as :class:`TileProblem` values
(:meth:`MosaicSource.problems`): tiles that cannot be opened, tiles that do not fit the grid,
notes of the opener, and chunks of opened tiles that failed.  The napari glue names those wells
in a warning; nothing of it needs I/O.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from zarr_browser.errors import ZarrBrowserError
from zarr_browser.streaming.engine import Hole, get_engine, new_token

if TYPE_CHECKING:
    from zarr_browser.streaming.levels import Index, LevelArray

__all__ = ["MosaicGeometry", "MosaicSource", "TileProblem", "TileUnavailable", "problems_message"]

logger = logging.getLogger(__name__)

TileOpener = Callable[[str], "LevelArray | None"]
"""Opens the tile of one cell (by its key, e.g. a well path); None when there is nothing to show.

It raises :class:`TileUnavailable` to say why a cell stays empty; it may have a ``note(key)``
method giving what the user should know of a tile it did open (a well whose own metadata was
unreadable, opened as the others), a ``prepare(keys)`` method reading many tiles'
metadata together, and an ``at_once`` attribute: how many requests its store takes at once
(the size of the first batch of tiles opened together)."""

ProblemKind = Literal["unavailable", "fit", "note", "chunks"]


class TileUnavailable(ZarrBrowserError, LookupError):
    """A cell of a mosaic has no tile to show; the message says why (missing well, missing level...)."""


@dataclass(frozen=True, slots=True)
class TileProblem:
    """Something of one cell of a mosaic that is not shown as stored.

    Attributes
    ----------
    key
        The tile key of the cell (a well path).
    kind
        ``"unavailable"`` (the cell is empty), ``"fit"`` (cropped, channels left out, ...),
        ``"note"`` (shown, but the user should know) or ``"chunks"`` (chunks failed).
    message
        What happened, without the key (``"listed in the plate but missing"``).
    """

    key: str
    kind: ProblemKind
    message: str

_MAX_WORKERS = 8
BATCH_ROUNDS = 4
"""Tiles opened together after the first batch, in round trips of the store (times the opener's
``at_once``): a batch's wells, fields and levels are each read together (3 stages), and a few
round trips per stage waste little of the last, partly filled one."""
MAX_NAMED = 8
"""Wells :func:`problems_message` names one by one; the others are counted."""
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


def _tile_region(
    tile: LevelArray | None, lead: Sequence[Index], y: tuple[Index, slice | None], x: tuple[Index, slice | None]
) -> tuple[tuple[Index, ...], tuple[slice, ...]] | None:
    """The key to read of *tile* for one cell's segment, and where it lands in the output: every
    axis clipped to the tile, which may be smaller than the cell (or have fewer channels or
    planes); None when nothing of the tile is there, or there is no tile."""
    if tile is None or tile.ndim != len(lead) + 2:
        return None
    key: list[Index] = []
    where: list[slice] = []
    parts = [(index, None if isinstance(index, int) else slice(0, len(range(index.start, index.stop, index.step))))
             for index in lead]
    for (local, out), size in zip((*parts, y, x), tile.shape, strict=True):
        clipped = _clip(local, out, size)
        if clipped is None:
            return None
        key.append(clipped[0])
        if clipped[1] is not None:
            where.append(clipped[1])
    return tuple(key), tuple(where)


def _times(shape: Sequence[int]) -> str:
    return "×".join(str(n) for n in shape)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _channels(first: int, stop: int) -> str:
    """Channels *first* to *stop* - 1 (0-based) as a user counts them: "the 3rd is", "the 3rd to 5th are"."""
    if stop - first == 1:
        return f"the {_ordinal(first + 1)} is"
    return f"the {_ordinal(first + 1)} to {_ordinal(stop)} are"


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
        What the mosaic shows, for reprs and log messages (one level of a plate).
    title
        What the user knows the mosaic by (the plate's layer name), for messages; *name* by default.
    axis_names
        Names of the axes (``c``, ``z``, ``y``, ``x``), for messages about tiles that do not fit.
    channel_axis
        Which axis holds channels (messages count channels on it).
    whole
        What the mosaic shows, for messages: a ``"plate"`` (a tile per well) or a ``"well"``
        (a tile per field).
    """

    def __init__(
        self, geometry: MosaicGeometry, dtype: np.dtype, open_tile: TileOpener, *, name: str, title: str | None = None,
        axis_names: Sequence[str] | None = None, channel_axis: int | None = None, whole: str = "plate",
    ) -> None:
        self.geometry = geometry
        self._dtype = np.dtype(dtype)
        self._open_tile = open_tile
        self._name = name
        self.title = title or name
        self._axis_names = tuple(axis_names) if axis_names is not None else None
        self._channel_axis = channel_axis
        self.whole = whole
        self.unit = "field" if whole == "well" else "well"
        self._tiles: dict[tuple[int, int], LevelArray | None] = {}
        self._problems: dict[tuple[str, ProblemKind], TileProblem] = {}
        self._opening: set[tuple[int, int]] = set()
        self._asked: set[tuple[int, int]] = set()  # cells asked to open since none was opening (loading())
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

    def loading(self) -> tuple[frozenset[tuple[int, int]], frozenset[tuple[int, int]]] | None:
        """``(asked, opening)``: the cells never-waiting reads asked a worker to open since none
        was opening (a batch of wells at a time), and those of them not open yet; None when
        none is opening.  No I/O."""
        with self._lock:
            if not self._opening:
                return None
            return frozenset(self._asked), frozenset(self._opening)

    def tile(self, cell: tuple[int, int]) -> LevelArray | None:
        """The tile of *cell*, resolved on first use (None for an empty or unreadable cell)."""
        with self._lock:
            if cell in self._tiles:
                return self._tiles[cell]
        key = self.geometry.cells.get(cell)
        tile: LevelArray | None = None
        found: list[TileProblem] = []
        if key is not None:
            try:
                tile = self._open_tile(key)
            except TileUnavailable as err:
                found.append(TileProblem(key, "unavailable", str(err)))
            except (ZarrBrowserError, OSError, ValueError) as err:
                logger.warning("mosaic %s: tile %s cannot be opened: %s", self._name, key, err)
                found.append(TileProblem(key, "unavailable", f"cannot be opened: {err}"))
            note = getattr(self._open_tile, "note", None)
            said = note(key) if callable(note) else None
            if said:
                found.append(TileProblem(key, "note", said))
            if tile is not None:
                misfit, usable = self._misfit(key, tile)
                if misfit:
                    found.append(TileProblem(key, "fit", misfit))
                if not usable:
                    tile = None
        with self._lock:
            if cell not in self._tiles:
                for problem in found:
                    self._problems.setdefault((problem.key, problem.kind), problem)
            return self._tiles.setdefault(cell, tile)

    def _misfit(self, key: str, tile: LevelArray) -> tuple[str | None, bool]:
        """How *tile* does not fit the grid's cells (None: it fits), and whether it can be drawn."""
        cell, shape = self.geometry.tile_shape, tile.shape
        what = _tile_name(key, tile, self.unit)
        if len(shape) != len(cell):
            return (f"{what} has {len(shape)} axes ({_times(shape)}), the {self.whole}'s cells {len(cell)} "
                    f"({_times(cell)}): not shown"), False
        parts: list[str] = []
        (height, width), (cell_height, cell_width) = shape[-2:], cell[-2:]
        if (height, width) != (cell_height, cell_width):
            if height > cell_height or width > cell_width:
                outcome = f"cropped to {min(height, cell_height)}×{min(width, cell_width)}"
            else:
                outcome = "the rest of its cell is empty"
            parts.append(f"{what} is {height}×{width}, the {self.whole}'s cells are {cell_height}×{cell_width}: {outcome}")
        for axis, (size, cell_size) in enumerate(zip(shape[:-2], cell[:-2], strict=True)):
            if size == cell_size:
                continue
            if axis == self._channel_axis:
                counted = f"{size} channel{'s' if size != 1 else ''}, the {self.whole} shows {cell_size}"
                parts.append(f"{counted}: {_channels(cell_size, size)} not shown" if size > cell_size
                             else f"{counted}: {_channels(size, cell_size)} empty in its cell")
            else:
                name = self._axis_names[axis] if self._axis_names and axis < len(self._axis_names) else f"axis {axis}"
                parts.append(f"{name} has {size}, the {self.whole}'s cells {cell_size}: "
                             + ("the rest is not shown" if size > cell_size else "the rest of its cell is empty"))
        if not np.can_cast(tile.dtype, self._dtype, "safe"):
            parts.append(f"its values are {tile.dtype}, the {self.whole}'s {self._dtype}: converted (values "
                         f"{self._dtype} cannot hold are wrong)")
        return ("; ".join(parts) or None), True

    def problems(self, *, blocking: bool = False) -> list[TileProblem]:
        """What of the tiles opened so far is not shown as stored (no I/O: what is known now).

        With *blocking*, failed chunks are worded as :meth:`read` leaves them (the tile's part
        of the region empty) rather than as a never-waiting display draws them (a checkerboard).
        """
        with self._lock:
            found = list(self._problems.values())
            opened = [(self.geometry.cells[cell], tile) for cell, tile in self._tiles.items()
                      if tile is not None and cell in self.geometry.cells]
        tiles = {token: (key, tile) for key, tile in opened
                 if (token := getattr(tile.source, "token", None)) is not None}
        if tiles:
            for token, messages in get_engine().failures_of(tiles).items():
                key, tile = tiles[token]
                more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
                drawn = "its cell is left empty" if blocking else "are drawn as a checkerboard"
                found.append(TileProblem(key, "chunks", f"chunks of {_tile_name(key, tile, self.unit)} failed and {drawn}: "
                                                        f"{messages[0]}{more}"))
        order = {"unavailable": 0, "fit": 1, "chunks": 2, "note": 3}
        return sorted(found, key=lambda p: (_natural(p.key), order[p.kind]))

    def _open_later(self, cells: list[tuple[int, int]]) -> None:
        """Resolve the tiles of *cells* in a worker, a batch at a time (their metadata read
        together, when the opener can); listeners of this mosaic hear when the opening starts
        and after each batch, so the picture fills in as the wells arrive."""
        with self._lock:
            cells = [c for c in cells if c not in self._tiles and c not in self._opening]
            if not self._opening:
                self._asked.clear()
            self._opening.update(cells)
            self._asked.update(cells)
        if not cells:
            return
        queue = deque(self._batches(cells))
        taking = threading.Lock()
        engine = get_engine()

        def open_batch(batch: list[tuple[int, int]]) -> None:
            try:
                self._prepare(batch)
                for cell in batch:
                    tile = self.tile(cell)
                    if tile is not None and hasattr(tile.source, "token"):
                        engine.add_listener(tile.source.token, self._forward)
            finally:
                with self._lock:
                    self._opening.difference_update(batch)
            engine.notify(self.token)

        def lane() -> None:
            while True:
                with taking:
                    if not queue:
                        return
                    batch = queue.popleft()
                open_batch(batch)

        def work() -> None:
            try:
                open_batch(queue.popleft())  # the first batch alone: its wells are drawn soonest
                if queue:
                    # then two batches at a time: one's requests fill the round trips the other
                    # leaves unused between its stages (well, field, level) and while the
                    # chunks of its wells are asked for
                    helper = threading.Thread(target=lane, name="zb-mosaic-lane", daemon=True)
                    helper.start()
                    try:
                        lane()
                    finally:
                        helper.join()
            finally:
                with self._lock:  # a batch that raised: its cells and the later ones may be asked again
                    self._opening.difference_update(cells)
                engine.notify(self.token)

        get_engine().notify(self.token)  # the opening has begun (progress can be shown)
        _opener_pool().submit(work)

    def _batches(self, cells: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
        """*cells* in the batches they are opened in: as many as the store takes requests at
        once first (one round trip per stage: the first wells appear soon), then
        :data:`BATCH_ROUNDS` times that; all at once when the opener does not say."""
        at_once = getattr(self._open_tile, "at_once", None)
        if not isinstance(at_once, int) or at_once < 1:
            return [cells]
        out: list[list[tuple[int, int]]] = []
        start, size = 0, at_once
        while start < len(cells):
            out.append(cells[start:start + size])
            start += size
            size = at_once * BATCH_ROUNDS
        return out

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
            with self._lock:
                known = cell in self._tiles
                tile = self._tiles.get(cell)
            if not known:
                target = tuple(s for s in (y_out, x_out) if s is not None)
                unopened.append(cell)
                holes.append(Hole((*(slice(None),) * lead_dims, *target), "pending", self.geometry.cells[cell]))
                continue
            region = _tile_region(tile, lead, (y_local, y_out), (x_local, x_out))
            if tile is None or region is None:
                continue
            tile_key, where = region
            try:
                full = tile.full_key(tile_key)
                read = getattr(tile.source, "read_cached", None)
                if read is None:
                    data, tile_holes = tile.source.read(full), []
                else:
                    data, tile_holes = read(full, request=request)
                out[where] = data
            except (IndexError, ValueError) as err:  # a tile the fit check let through: left empty
                logger.warning("mosaic %s: tile %s does not fit the grid: %s", self._name, cell, err)
                continue
            offsets = [s.start for s in where]
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
            region = _tile_region(tile, lead, (y_local, y_out), (x_local, x_out))
            if tile is None or region is None:
                return
            tile_key, where = region
            try:
                out[where] = tile[tile_key]
            except ZarrBrowserError as err:  # a chunk failed (the engine keeps it for problems()): left empty
                logger.warning("mosaic %s: tile %s cannot be read: %s", self._name, cell, err)
            except (IndexError, ValueError) as err:  # a tile the fit check let through: left empty
                logger.warning("mosaic %s: tile %s does not fit the grid: %s", self._name, cell, err)

        try:
            if len(jobs) == 1:
                fill(jobs[0])
            else:
                with ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(jobs))) as pool:
                    for result in pool.map(fill, jobs):
                        del result
        finally:  # what the read found (problems() of its tiles) is known now
            get_engine().notify(self.token)
        return out


def _natural(key: str) -> list[tuple[int, str]]:
    """Sort key of well paths as a plate reads: /A/2 before /A/10."""
    return [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", key)]


def _tile_name(key: str, tile: LevelArray, unit: str = "well") -> str:
    """A tile as the user finds it under its well: ``field 0 at level s0`` (its array's path);
    under its field (*unit* ``"field"``): ``level s0``, ``labels/nuclei at level 0``."""
    node = getattr(tile.source, "node", None)
    path = getattr(node, "path", None)
    if not isinstance(path, str):
        return tile.source.describe()
    prefix = key.rstrip("/") + "/"
    relative = path[len(prefix):] if path.startswith(prefix) else path
    field, _, level = relative.rpartition("/")
    if unit == "field":
        return f"{field} at level {level}" if field else f"level {level}"
    return f"field {field} at level {level}" if field else f"level {relative}"


def problems_message(title: str, problems: Sequence[TileProblem], *, whole: str = "plate") -> str:
    """One message for the user naming the wells (tiles) of *problems*, a line each, at most
    :data:`MAX_NAMED` of them: ``plate: 2 wells with problems:`` then ``/A/2: listed in the
    plate but missing`` ...  A well's mosaic (*whole* ``"well"``) names its fields."""
    unit = "field" if whole == "well" else "well"
    by_key: dict[str, list[str]] = {}
    for problem in problems:
        by_key.setdefault(problem.key, []).append(problem.message)
    keys = sorted(by_key, key=_natural)
    lines = [f"{key}: {'; '.join(by_key[key])}" for key in keys[:MAX_NAMED]]
    if len(keys) > MAX_NAMED:
        lines.append(f"(and {len(keys) - MAX_NAMED} more {unit}s)")
    if any(problem.kind == "fit" for problem in problems):
        lines.append(f"The {whole}'s cells are the size of the first {unit}"
                     + ("'s field" if unit == "well" else "")
                     + f": open a {unit} by itself (in the Zarr browser) to see all of it.")
    count = f"{len(keys)} {unit}{'s' if len(keys) != 1 else ''}"
    return f"{title}: {count} with problems:\n" + "\n".join(lines)
