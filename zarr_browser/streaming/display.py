"""What napari draws: level arrays that never wait, showing coarse data until fine data arrives.

napari reads a (multiscale) layer with one blocking ``level[region]`` per refresh, on the GUI
thread.  :class:`DisplayLevel` answers at once from the decoded-chunk cache
(:meth:`~zarr_browser.streaming.engine.StreamingEngine.read_cached`) and requests what is
missing; until it arrives the region is drawn from the finest coarser level that has it
(nearest-neighbour upsampled), so the picture sharpens as chunks land.  The napari glue listens
to the engine (:meth:`DisplayLevel.tokens`) and refreshes the layer when blocks arrive.

Chunks that failed are drawn as a checkerboard of the dtype's extremes (NaN for floats), never
as data; chunks a store does not have (a 404) are the fill value, as zarr specifies (writers
leave empty chunks out), and striped only when *flag_missing* is set (the napari reader does not
set it).  The last holes of every read are kept (:attr:`DisplayLevel.last_holes`) for status
messages and tests.

Nothing here imports Qt or napari.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from zarr_browser.streaming.engine import Hole
from zarr_browser.streaming.levels import Index, LevelArray, normalize_key

__all__ = ["DisplayLevel", "LazyRegion", "display_levels", "failed_pattern", "missing_pattern"]

GRACE = 0.03
"""Seconds the reads of a *local* store may wait in all for the blocks of their view, per burst
of reads (the layers napari creates or slices one after another): the view is drawn complete at
once instead of coarse, then refreshed.  Remote stores are never waited for."""

BURST = 0.25
"""Seconds from the first read of a burst during which later reads share its GRACE (napari
creates a 3-channel image's layers within about 0.15 s, and spends that time between them)."""


class _Grace:
    """The waiting budget of the current burst of reads (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = -math.inf
        self._spent = 0.0

    def left(self) -> float:
        now = time.monotonic()
        with self._lock:
            if now - self._start > BURST:  # a new burst, a new budget
                self._start = now
                self._spent = 0.0
            return max(0.0, GRACE - self._spent)

    def spend(self, seconds: float) -> None:
        with self._lock:
            self._spent += seconds


_grace = _Grace()


def grace_left(source: Any) -> float:
    """Seconds the next read of *source* may wait: what the reads of this burst have not used of
    GRACE (so that many layers sliced together wait GRACE in all, not each)."""
    if getattr(source, "remote", True) or not hasattr(source, "block_reader"):
        return 0.0
    return _grace.left()


CHECKER = 8
"""Side of the squares of the failed-chunk checkerboard, in pixels."""


def _extremes(dtype: np.dtype) -> tuple[Any, Any]:
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return info.min, info.max
    if dtype.kind == "f":
        info_f = np.finfo(dtype)
        return info_f.min, info_f.max
    if dtype.kind == "b":
        return False, True
    return 0, 1


def failed_pattern(shape: Sequence[int], dtype: np.dtype, values: tuple[float, float] | None = None) -> np.ndarray:
    """A checkerboard of the dtype's extremes over the last two axes (the failed-chunk mark).

    Floats use *values* (the layer's contrast limits: black and white squares), or NaN without
    them: ±3.4e38 in a float image would become napari's contrast range, and make every real
    value one grey.
    """
    if np.dtype(dtype).kind == "f":
        if values is None:
            return np.full(tuple(shape), np.nan, dtype=dtype)
        low, high = values
    else:
        low, high = _extremes(np.dtype(dtype))
    out = np.full(tuple(shape), low, dtype=dtype)
    if len(shape) >= 2:
        y = (np.arange(shape[-2]) // CHECKER)[:, None]
        x = (np.arange(shape[-1]) // CHECKER)[None, :]
        out[..., (y + x) % 2 == 1] = high
    elif len(shape) == 1:
        out[(np.arange(shape[0]) // CHECKER) % 2 == 1] = high
    else:
        out[...] = high
    return out


def missing_pattern(data: np.ndarray) -> None:
    """Stripe *data* in place (the missing-chunk mark over the fill value)."""
    _, high = _extremes(data.dtype)
    if data.ndim >= 2:
        y = np.arange(data.shape[-2])[:, None]
        x = np.arange(data.shape[-1])[None, :]
        data[..., (y + x) % (2 * CHECKER) < 2] = high


class DisplayLevel:
    """Level *index* of a pyramid, as a never-waiting array-like for napari.

    Parameters
    ----------
    levels
        The pyramid, finest first (blocking :class:`LevelArray` views with the same fixed axes).
    index
        Which level this is.
    flag_missing
        Stripe chunks that a remote store does not have (images); labels leave them as fill.
    """

    def __init__(self, levels: Sequence[LevelArray], index: int, *, flag_missing: bool = False) -> None:
        self._levels = list(levels)
        self._index = index
        self._level = self._levels[index]
        self.flag_missing = flag_missing
        self.last_holes: list[Hole] = []
        self.needs_contrast = False
        """Set by the napari glue when the contrast was computed before this level arrived."""
        self.checker_values: tuple[float, float] | None = None
        """The low and high squares of a float level's failed-chunk checkerboard (the layer's
        contrast limits, set by the napari glue); None draws failed float chunks as NaN."""
        self.awaiting = False
        """Set when a read drew placeholders (pending holes); the napari glue clears it when it
        refreshes the layer.  Unlike :attr:`last_holes`, a later small read that happens to be
        complete (napari reads a row for the thumbnail or the cursor value) does not clear it."""
        self.drawn = False
        """Set by the first read: napari drew this level (an invisible layer's levels are not read)."""
        fixed = {axis for axis, _ in getattr(self._level, "fixed", ())}
        self._free_axes = tuple(a for a in range(len(self._level.source.shape)) if a not in fixed)
        # coarser levels are read ahead by the reader, except mosaics (their tiles open lazily):
        # their coarse levels are requested as placeholders as the view needs them
        self._coarse_first = any(getattr(level.source, "coarse_first", False) for level in self._levels[index + 1:])
        self._lock = threading.Lock()

    # -- the array protocol napari uses -----------------------------------------------------
    @property
    def level(self) -> LevelArray:
        """The blocking view of the same level (compute path)."""
        return self._level

    @property
    def shape(self) -> tuple[int, ...]:
        return self._level.shape

    @property
    def dtype(self) -> np.dtype:
        return self._level.dtype

    @property
    def ndim(self) -> int:
        return self._level.ndim

    @property
    def size(self) -> int:
        return self._level.size

    @property
    def nbytes(self) -> int:
        return self._level.nbytes

    @property
    def chunks(self) -> tuple[int, ...]:
        return self._level.chunks

    def __len__(self) -> int:
        return len(self._level)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        region = self[...]  # a large volume comes back as a LazyRegion: read it
        data = region if isinstance(region, np.ndarray) else np.asarray(region)
        return data if dtype is None else data.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"<DisplayLevel {self._index} of {self._level!r}>"

    def tokens(self) -> list[int]:
        """Engine tokens of every source this level may draw from (itself and coarser levels)."""
        out = []
        for level in self._levels[self._index :]:
            token = getattr(level.source, "token", None)
            if token is not None:
                out.append(token)
        return out

    def to_dask(self) -> Any:
        return self._level.to_dask()

    def __getitem__(self, key: Any) -> np.ndarray | LazyRegion:
        normalized, flips = normalize_key(key, self.shape)
        if not flips and LazyRegion.worth_it(normalized):
            return LazyRegion(self, normalized)
        data = self.read(normalized)
        for axis in flips:
            data = np.flip(data, axis=axis)
        return data

    def read(self, key: tuple[Index, ...]) -> np.ndarray:
        """Region *key* (normalised) as it can be drawn now; requests what is missing."""
        data, holes, _ = self._best(self._index, key, request=True)
        with self._lock:
            self.last_holes = holes
            self.drawn = True
            if any(h.status == "pending" for h in holes):
                self.awaiting = True
        return data

    # -- coarse to fine ---------------------------------------------------------------------
    def _best(self, k: int, key: tuple[Index, ...], *, request: bool) -> tuple[np.ndarray, list[Hole], bool]:
        """The best data available now for *key* of level *k*, the holes that remain, and
        whether nothing at all is there yet (every block of it, and of the coarser levels, pending)."""
        level = self._levels[k]
        source = level.source
        full = level.full_key(key)
        read_cached = getattr(source, "read_cached", None)
        if read_cached is None:  # a source without a cache: read it (blocking)
            return source.read(full), [], False
        wait = grace_left(source) if request and k == self._index else 0.0
        started = time.monotonic()
        own = request and k == self._index
        data, holes = read_cached(full, request=request, neighbours=own, neighbour_axes=self._free_axes,
                                  wait=wait)
        if wait > 0:
            _grace.spend(min(wait, time.monotonic() - started))
        pending = [h for h in holes if h.status == "pending"]
        empty = bool(pending) and sum(data[h.out].size for h in pending) == data.size  # holes are disjoint
        if pending and k + 1 < len(self._levels) and data.size:
            coarse = self._upsampled(k, key, data.shape)
            if coarse is not None:
                for hole in pending:
                    data[hole.out] = coarse[hole.out]
                empty = False
        for hole in holes:
            if hole.status == "failed":
                data[hole.out] = failed_pattern(data[hole.out].shape, data.dtype, self.checker_values)
            elif hole.status == "missing" and self.flag_missing:
                missing_pattern(data[hole.out])
        return data, holes, empty

    def _upsampled(self, k: int, key: tuple[Index, ...], shape: tuple[int, ...]) -> np.ndarray | None:
        """Region *key* of level *k* drawn from level k+1 (and coarser), nearest neighbour; None
        when that has nothing yet (the placeholders stay: no upsampling of placeholders)."""
        fine, coarse_level = self._levels[k], self._levels[k + 1]
        coarse_key: list[Index] = []
        take: list[np.ndarray] = []
        for index, n_fine, n_coarse in zip(key, fine.shape, coarse_level.shape, strict=True):
            if isinstance(index, int):
                coarse_key.append(min(n_coarse - 1, index * n_coarse // n_fine))
                continue
            positions = np.arange(index.start, index.stop, index.step, dtype=np.int64)
            mapped = np.minimum(n_coarse - 1, positions * n_coarse // n_fine)
            low = int(mapped.min())
            coarse_key.append(slice(low, int(mapped.max()) + 1, 1))
            take.append(mapped - low)
        coarse, _, empty = self._best(k + 1, tuple(coarse_key), request=self._coarse_first)
        if empty:
            return None
        if not take:
            return coarse.reshape(shape)
        out = coarse
        for axis in reversed(range(len(take))):  # axis by axis, innermost first: ~10× an np.ix_ gather
            out = out.take(take[axis], axis=axis)
        return out if out.shape == shape else None


def display_levels(levels: Sequence[LevelArray], *, flag_missing: bool = False) -> list[DisplayLevel]:
    """One :class:`DisplayLevel` per level of a pyramid (finest first)."""
    return [DisplayLevel(levels, i, flag_missing=flag_missing) for i in range(len(levels))]


class LazyRegion:
    """A region of a :class:`DisplayLevel` not read yet: indexing it narrows it, ``np.asarray`` reads it.

    napari's multiscale slicing first takes ``level[region]`` with every non-displayed axis
    whole (a lazy dask or zarr view for other readers), then indexes the plane it shows; reading
    that first region would fetch every plane of a volume.  Regions of up to two dimensions (or
    small ones) are read at once instead.
    """

    EAGER_ELEMENTS = 1 << 22

    __slots__ = ("_key", "_owner", "_shape")

    def __init__(self, owner: DisplayLevel, key: tuple[Index, ...]) -> None:
        self._owner = owner
        self._key = key
        self._shape = tuple(len(range(k.start, k.stop, k.step)) for k in key if isinstance(k, slice))

    @classmethod
    def worth_it(cls, key: tuple[Index, ...]) -> bool:
        sizes = [len(range(k.start, k.stop, k.step)) for k in key if isinstance(k, slice)]
        return len(sizes) > 2 and math.prod(sizes) > cls.EAGER_ELEMENTS

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        return self._owner.dtype

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> int:
        return math.prod(self._shape)

    def __len__(self) -> int:
        return self._shape[0]

    def __repr__(self) -> str:
        return f"<LazyRegion {self._shape} of {self._owner!r}>"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = self._owner.read(self._key)
        return data if dtype is None else data.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> np.ndarray | LazyRegion:
        inner, flips = normalize_key(key, self._shape)
        composed: list[Index] = []
        pending = iter(inner)
        for outer in self._key:
            if isinstance(outer, int):
                composed.append(outer)
                continue
            index = next(pending)
            if isinstance(index, int):
                composed.append(outer.start + index * outer.step)
            else:
                start = outer.start + index.start * outer.step
                stop = outer.start + index.stop * outer.step
                composed.append(slice(start, max(start, min(stop, outer.stop)), outer.step * index.step))
        full = tuple(composed)
        if not flips and LazyRegion.worth_it(full):
            return LazyRegion(self._owner, full)
        data = self._owner.read(full)
        for axis in flips:
            data = np.flip(data, axis=axis)
        return data
