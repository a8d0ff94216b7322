"""Level arrays: one zarr array (or an assembled mosaic) as the array-like napari draws.

napari accepts any object with ``shape``, ``dtype``, ``ndim`` and ``__getitem__`` returning
numpy as a level of a (multiscale) layer (performance.md).  :class:`LevelArray` is that object:
a read-only, lazily opened view of an :class:`ArraySource`.  Building one does no I/O beyond the
metadata already in the :class:`~zarr_browser.core.model.Node`: the safety gate runs at once
(so a refused codec is reported when the layer is built, not when it is first drawn) and the
zarr array is built from the node's documents (:func:`~zarr_browser.core.safety.array_from_documents`) and
read through the streaming engine (:mod:`zarr_browser.streaming.engine`).

:meth:`LevelArray.take` fixes one axis at an index without reading anything; that is how one
multichannel level becomes one level per channel layer.  :meth:`LevelArray.to_dask` is the
compute path (statistics, histograms, analysis): one dask chunk per stored object.

Indexing a :class:`LevelArray` blocks until the region is read (every missing chunk fetched
at once, decoded chunks kept in the shared cache); napari gets the never-waiting
:class:`~zarr_browser.streaming.display.DisplayLevel` built on top of it.
"""

from __future__ import annotations

import math
import operator
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from zarr_browser.core.safety import array_from_documents, ensure_safe
from zarr_browser.errors import ArrayReadError, ZarrBrowserError
from zarr_browser.streaming.engine import BlockReader, Hole, StreamingEngine, get_engine, new_token

if TYPE_CHECKING:
    import dask.array
    import zarr

    from zarr_browser.core.conventions.cf import CfDecoding
    from zarr_browser.core.model import Node
    from zarr_browser.core.safety import Limits
    from zarr_browser.core.store import StoreAccess

__all__ = ["ArraySource", "DecodedSource", "LevelArray", "StridedSource", "ZarrSource", "normalize_key",
           "stored_region"]

Index = int | slice
"""A normalised index along one axis: an in-range integer or a slice with a positive step."""


@runtime_checkable
class ArraySource(Protocol):
    """Something a :class:`LevelArray` reads regions from.

    ``read`` receives one normalised index per axis (in-range integers and slices with
    ``0 <= start <= stop <= size`` and ``step >= 1``) and returns a numpy array of exactly the
    selected shape (integer axes dropped).
    """

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def chunks(self) -> tuple[int, ...]:
        """The read unit along each axis (the dask chunks of :meth:`LevelArray.to_dask`)."""

    def read(self, key: tuple[Index, ...]) -> np.ndarray: ...

    def describe(self) -> str:
        """A short human-readable name (the node path) for reprs and messages."""


def normalize_key(key: Any, shape: Sequence[int]) -> tuple[tuple[Index, ...], tuple[int, ...]]:
    """Turn a basic-indexing *key* into one normalised index per axis.

    Returns the normalised key and the output axes whose order must be reversed afterwards
    (negative steps are read forwards, then flipped).  Supports integers (numpy ones too),
    slices and one Ellipsis; anything else raises :class:`TypeError`, out-of-range integers
    :class:`IndexError`.
    """
    if not isinstance(key, tuple):
        key = (key,)
    ellipses = [i for i, k in enumerate(key) if k is Ellipsis]
    if len(ellipses) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if ellipses:
        i = ellipses[0]
        fill = len(shape) - (len(key) - 1)
        key = key[:i] + (slice(None),) * max(fill, 0) + key[i + 1 :]
    if len(key) > len(shape):
        raise IndexError(f"too many indices: {len(key)} for an array of {len(shape)} dimensions")
    key = key + (slice(None),) * (len(shape) - len(key))
    out: list[Index] = []
    flips: list[int] = []
    out_axis = 0
    for axis, (item, size) in enumerate(zip(key, shape, strict=True)):
        if isinstance(item, slice):
            start, stop, step = item.indices(size)
            if step < 0:
                count = len(range(start, stop, step))
                if count == 0:
                    out.append(slice(0, 0, 1))
                else:
                    last = start + (count - 1) * step
                    out.append(slice(last, start + 1, -step))
                    flips.append(out_axis)
            else:
                out.append(slice(start, max(start, stop), step))
            out_axis += 1
            continue
        if isinstance(item, bool | np.bool_):
            raise TypeError(f"boolean index {item!r} is not supported (basic indexing only)")
        try:
            index = operator.index(item)
        except TypeError:
            raise TypeError(
                f"index {item!r} is not supported: level arrays take integers, slices and '...' only"
            ) from None
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"index {operator.index(item)} is out of bounds for axis {axis} with size {size}")
        out.append(index)
    return tuple(out), tuple(flips)


class ZarrSource:
    """One zarr array of a store, read through the streaming engine.

    Building it does no I/O: the safety gate runs at once and the zarr array is built from the
    metadata documents the node already holds.  :meth:`read` blocks until the region is read
    (the compute path); :meth:`read_cached` never waits (the display path).

    Parameters
    ----------
    access
        The store the array lives in.
    node
        The array node (its metadata gives shape, dtype and chunks without I/O).
    limits
        Bounds for the safety gate.
    engine
        The streaming engine; the process-wide one by default.

    Raises
    ------
    UnsafeArrayError
        At construction, when the safety gate refuses the array.
    """

    def __init__(
        self, access: StoreAccess, node: Node, limits: Limits | None = None, engine: StreamingEngine | None = None
    ) -> None:
        if node.array is None:
            raise ValueError(f"{node.path} is not an array")
        ensure_safe(node, limits)  # no I/O: refuse before anything is built
        self._access = access
        self._node = node
        self._limits = limits
        self._engine = engine
        self._array: zarr.Array | None = None
        self._reader: BlockReader | None = None
        self._lock = threading.Lock()
        self.token = new_token()
        self.remote = access.is_remote
        meta = node.array
        self._shape = tuple(meta.shape)
        self._dtype = _numpy_dtype(meta.dtype)
        # one dask chunk per stored object: a shard when sharded (reading an inner chunk alone
        # costs a shard-index read each time), the chunk otherwise
        self._chunks = tuple(max(1, c) for c in (meta.shards or meta.chunks))

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def dtype(self) -> np.dtype:
        if self._dtype is None:
            self._dtype = self.zarr_array().dtype
        return self._dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        return self._chunks

    @property
    def node(self) -> Node:
        return self._node

    @property
    def access(self) -> StoreAccess:
        return self._access

    @property
    def engine(self) -> StreamingEngine:
        return self._engine or get_engine()

    def describe(self) -> str:
        return self._node.path

    def zarr_array(self) -> zarr.Array:
        """The zarr array, built from the node's documents (no I/O) on the first call."""
        with self._lock:
            if self._array is None:
                self._array = array_from_documents(self._access, self._node, self._limits)
            return self._array

    def block_reader(self) -> BlockReader:
        """How the engine reads this array's blocks (built without I/O on first use)."""
        with self._lock:
            reader = self._reader
        if reader is None:
            array = self.zarr_array()
            try:
                reader = BlockReader(array, self._access.describe_key, self.read_local)
            except ZarrBrowserError:
                raise
            except Exception as err:  # metadata zarr accepts but the engine cannot plan
                raise ArrayReadError(f"cannot read {self._node.path} of {self._access.url}: {err}") from err
            with self._lock:
                self._reader = reader
        return reader

    @property
    def read_local(self) -> Callable[[str, tuple[int, int] | None], bytes | None] | None:
        """Boundary-checked raw reads of store keys, for local directory stores (else None)."""
        return self._access.read_local if self._access.local_root is not None else None

    def read(self, key: tuple[Index, ...]) -> np.ndarray:
        """Region *key*, complete (blocks while fetching); ArrayReadError names a failed chunk."""
        try:
            return self.engine.read(self, key)
        except ZarrBrowserError as err:
            if self._node.path in str(err) or self._access.url in str(err):
                raise
            raise ArrayReadError(f"{self._node.path}: {err}") from err

    def read_cached(
        self, key: tuple[Index, ...], *, request: bool = True, neighbours: bool = False,
        neighbour_axes: Sequence[int] | None = None, wait: float = 0.0,
    ) -> tuple[np.ndarray, list[Hole]]:
        """What is cached of region *key* now, and the holes (see :meth:`StreamingEngine.read_cached`)."""
        return self.engine.read_cached(self, key, request=request, neighbours=neighbours,
                                       neighbour_axes=neighbour_axes, wait=wait)


def stored_region(source: Any, key: tuple[Index, ...]) -> tuple[ZarrSource | None, tuple[Index, ...]]:
    """The zarr array and region whose stored chunks *key* of *source* reads (through decoding
    and striding views), or ``(None, key)`` for sources that are no view of one array (mosaics)."""
    while isinstance(source, _SourceView):
        source, key = source.inner, source.inner_key(key)
    return (source, key) if isinstance(source, ZarrSource) else (None, key)


class _SourceView:
    """A view of another source: its shape, chunks and name, and anything the engine asks of it
    (``token``, ``remote``, ``engine``, ``block_reader``, …), unless the view says otherwise."""

    inner: ArraySource

    @property
    def shape(self) -> tuple[int, ...]:
        return self.inner.shape

    @property
    def dtype(self) -> np.dtype:
        return self.inner.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        return self.inner.chunks

    def describe(self) -> str:
        return self.inner.describe()

    def inner_key(self, key: tuple[Index, ...]) -> tuple[Index, ...]:
        """*key* of this view as a key of the inner source."""
        return key

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet: no recursion through __getattr__
            raise AttributeError(name)
        return getattr(self.inner, name)


class DecodedSource(_SourceView):
    """A :class:`ZarrSource` whose values are decoded as CF says (unpacked, fill values as NaN).

    The engine and its cache keep the stored values (smaller, shared with every other reader);
    decoding happens on the way out, after holes are known, so the display still marks failed
    chunks.  Everything but ``dtype``, ``read`` and ``read_cached`` is the stored source's.
    """

    inner: ZarrSource

    def __init__(self, inner: ZarrSource, decoding: CfDecoding) -> None:
        self.inner = inner
        self.decoding = decoding

    @property
    def dtype(self) -> np.dtype:
        return self.decoding.dtype

    def read(self, key: tuple[Index, ...]) -> np.ndarray:
        return self.decoding.apply(self.inner.read(key))

    def read_cached(self, key: tuple[Index, ...], **options: Any) -> tuple[np.ndarray, list[Hole]]:
        data, holes = self.inner.read_cached(key, **options)
        data = self.decoding.apply(data)
        if data.dtype.kind == "f":
            for hole in holes:
                if hole.status == "pending":  # not the decoded fill value: nothing is known yet
                    data[hole.out] = np.nan
        return data, holes


class MagnitudeSource(_SourceView):
    """A complex-valued source seen as its magnitude ``|z|`` (napari draws no complex numbers).

    The cache keeps the stored values; chunks still on their way are NaN, as in
    :class:`DecodedSource`.
    """

    def __init__(self, inner: ArraySource) -> None:
        self.inner = inner

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.float32) if self.inner.dtype.itemsize <= 8 else np.dtype(np.float64)

    def read(self, key: tuple[Index, ...]) -> np.ndarray:
        return np.abs(self.inner.read(key)).astype(self.dtype, copy=False)

    def read_cached(self, key: tuple[Index, ...], **options: Any) -> tuple[np.ndarray, list[Hole]]:
        data, holes = self.inner.read_cached(key, **options)  # type: ignore[attr-defined]
        magnitude = np.abs(data).astype(self.dtype, copy=False)
        for hole in holes:
            if hole.status == "pending":
                magnitude[hole.out] = np.nan
        return magnitude, holes


class StridedSource(_SourceView):
    """Every *f*-th element of a source along each axis: a coarser level made from a finer one.

    A single-level array with a large plane, or a plate well whose field has fewer pyramid
    levels than the first well's, gets levels made this way (nearest neighbour, as a
    pyramid's coarse levels are drawn meanwhile anyway).  Only the elements kept are read.
    """

    def __init__(self, inner: ArraySource, factors: Sequence[int]) -> None:
        self.inner = inner
        self.factors = tuple(max(1, int(f)) for f in factors)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(-(-n // f) for n, f in zip(self.inner.shape, self.factors, strict=True))

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(max(1, c // f) for c, f in zip(self.inner.chunks, self.factors, strict=True))

    def describe(self) -> str:
        return f"{self.inner.describe()} (every {'×'.join(map(str, self.factors))})"

    def inner_key(self, key: tuple[Index, ...]) -> tuple[Index, ...]:
        out: list[Index] = []
        for index, factor, size in zip(key, self.factors, self.inner.shape, strict=True):
            if isinstance(index, int):
                out.append(index * factor)
                continue
            start = index.start * factor
            count = len(range(index.start, index.stop, index.step))
            step = index.step * factor
            out.append(slice(start, min(size, start + (count - 1) * step + 1), step) if count else
                       slice(start, start, step))
        return tuple(out)

    def read(self, key: tuple[Index, ...]) -> np.ndarray:
        return self.inner.read(self.inner_key(key))

    def read_cached(self, key: tuple[Index, ...], **options: Any) -> tuple[np.ndarray, list[Hole]]:
        read_cached = getattr(self.inner, "read_cached", None)
        if read_cached is None:
            return self.inner.read(self.inner_key(key)), []
        # holes come back in the coordinates of the output, which has this view's shape
        result: tuple[np.ndarray, list[Hole]] = read_cached(self.inner_key(key), **options)
        return result


def _numpy_dtype(name: str) -> np.dtype | None:
    """numpy's dtype for a node's dtype name, or None when numpy has no plain equivalent."""
    try:
        dtype = np.dtype(name)
    except TypeError:
        return None
    return None if dtype.kind in "OSUV" else dtype


class LevelArray:
    """A read-only array-like over an :class:`ArraySource`, optionally with axes fixed at an index.

    Use :meth:`open` for a zarr array node.  Indexing returns numpy arrays (never views of a
    cache); :meth:`take` returns another :class:`LevelArray` without reading.
    """

    __slots__ = ("_fixed", "_source")

    def __init__(self, source: ArraySource, fixed: tuple[tuple[int, int], ...] = ()) -> None:
        self._source = source
        self._fixed = tuple(sorted(fixed))

    @classmethod
    def open(cls, access: StoreAccess, node: Node, limits: Limits | None = None, *, cf: bool = False) -> LevelArray:
        """The level array of array *node*; raises UnsafeArrayError when the gate refuses it.

        With *cf*, values are decoded as xarray decodes CF variables (``scale_factor``,
        ``add_offset``, ``_FillValue`` and ``missing_value``; see
        :func:`~zarr_browser.core.conventions.cf.cf_decoding`) when the node asks for it.
        Complex values are read as their magnitude (:class:`MagnitudeSource`), by ``to_dask()``
        too: the values napari shows.
        """
        source = ZarrSource(access, node, limits)
        if source.dtype.kind == "c":
            return cls(MagnitudeSource(source))
        if cf:
            from zarr_browser.core.conventions.cf import cf_decoding

            decoding = cf_decoding(node)
            if decoding is not None:
                return cls(DecodedSource(source, decoding))
        return cls(source)

    # -- the array protocol napari uses -----------------------------------------------------
    @property
    def source(self) -> ArraySource:
        return self._source

    @property
    def shape(self) -> tuple[int, ...]:
        fixed = {axis for axis, _ in self._fixed}
        return tuple(n for axis, n in enumerate(self._source.shape) if axis not in fixed)

    @property
    def dtype(self) -> np.dtype:
        return self._source.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)  # Python ints: hostile shapes overflow int64

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def chunks(self) -> tuple[int, ...]:
        """The read unit along each (remaining) axis."""
        fixed = {axis for axis, _ in self._fixed}
        return tuple(c for axis, c in enumerate(self._source.chunks) if axis not in fixed)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    @property
    def fixed(self) -> tuple[tuple[int, int], ...]:
        """The source axes fixed by :meth:`take`, with their index."""
        return self._fixed

    def full_key(self, key: tuple[Index, ...]) -> tuple[Index, ...]:
        """A normalised key of this view as a key of the source (fixed axes inserted)."""
        full: list[Index] = list(key)
        for axis, index in self._fixed:  # ascending, so earlier insertions keep later axes right
            full.insert(axis, index)
        return tuple(full)

    def __getitem__(self, key: Any) -> np.ndarray:
        normalized, flips = normalize_key(key, self.shape)
        data = self._source.read(self.full_key(normalized))
        for axis in flips:
            data = np.flip(data, axis=axis)
        return data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)

    def __repr__(self) -> str:
        fixed = "".join(f", axis {axis}={index}" for axis, index in self._fixed)
        return f"<LevelArray {self._source.describe()} {self.shape} {self.dtype}{fixed}>"

    def missing(self, key: Any) -> list[str]:
        """The URLs of the stored chunks of region *key*, read already, that a remote store did
        not have (shown as the fill value); no I/O: what the engine noted when it read them."""
        normalized, _flips = normalize_key(key, self.shape)
        source, region = stored_region(self._source, self.full_key(normalized))
        return [] if source is None else source.engine.missing(source, region)

    # -- lazy views and the compute path ----------------------------------------------------
    def take(self, axis: int, index: int) -> LevelArray:
        """This array with *axis* fixed at *index* (one dimension fewer); reads nothing."""
        ndim = self.ndim
        if not -ndim <= axis < ndim:
            raise IndexError(f"axis {axis} is out of bounds for an array of {ndim} dimensions")
        axis %= ndim
        size = self.shape[axis]
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")
        fixed_axes = {a for a, _ in self._fixed}
        base_axis = [a for a in range(len(self._source.shape)) if a not in fixed_axes][axis]
        return LevelArray(self._source, (*self._fixed, (base_axis, index)))

    def to_dask(self) -> dask.array.Array:
        """A dask array of this level with one chunk per stored object (the compute path)."""
        import dask.array as da

        whole = LevelArray(self._source)
        array = da.from_array(
            whole,
            chunks=self._source.chunks,
            name=False,  # a random name: tokenizing the source would hash the whole object
            fancy=False,
            lock=False,
            meta=np.empty((0,) * len(self._source.shape), dtype=self.dtype),
        )
        if not self._fixed:
            return array
        key: list[Any] = [slice(None)] * len(self._source.shape)
        for axis, index in self._fixed:
            key[axis] = index
        return array[tuple(key)]
