"""The streaming engine: concurrent chunk fetches, a decoded-chunk cache and non-blocking reads.

napari asks for pixels with one blocking ``level[region]`` call per refresh, on the GUI thread
(performance.md).  Through dask that costs a graph over every chunk of the level and keeps two
requests in flight; through zarr-python it reads the inner chunks of a shard one after another.
The engine does what the hardware allows instead:

* **Blocks.**  The unit of reading and caching is a *block*: a chunk, or the inner chunk of a
  shard.  A region is mapped to the blocks it touches arithmetically (no graph).
* **Everything in flight at once.**  The missing blocks of a region are fetched concurrently on
  zarr's I/O event loop (bounded by :attr:`RequestPolicy.concurrency`), through the guarded
  store (boundary checks, deadlines, retries).  Sharded arrays read each shard index once (and
  keep it), then fetch the inner chunks with coalesced byte-range reads: two round trips for
  any view inside one shard.
* **A decoded-chunk cache** bounded in bytes, shared by every level of every array: panning
  back and stepping through planes of a chunk are served from memory.
* **Two ways to read.**  :meth:`StreamingEngine.read` blocks until the region is complete
  (the compute path, previews, dask); :meth:`StreamingEngine.read_cached` never waits: it
  returns what the cache holds, requests the rest, and says which parts are still pending,
  failed or missing, so the display can draw coarser data meanwhile and mark failures.
  Listeners (:meth:`StreamingEngine.add_listener`) hear when blocks of a source arrive.
* **Prefetch.**  Neighbours of the last view are fetched when no view is waiting, within a
  share of the cache.

A block that fails (network error after the retries, a corrupt chunk) is never cached and never
drawn as data: it is reported with the URL of its key, and retried after
:data:`RETRY_AFTER` seconds when asked again.  A chunk that a *remote* store says does not exist
(404) is filled with the fill value, as zarr specifies, and recorded as *missing* so that the
display can flag it.  So is a chunk a server refuses with 403 once the store is known to answer
403 for keys that do not exist (S3 or GCS to a caller who may not list: the hierarchy saw a node's
own document read beside refused probes; :meth:`GuardedStore.get`): zarr writers leave chunks of
the fill value out, and a labels image on such a bucket is mostly those.  On any other store a
403 is a failure saying access was denied.

Nothing here imports Qt or napari.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import itertools
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from zarr_browser.core.codec_guard import expect_decoded, frame_bound
from zarr_browser.errors import ArrayReadError, ZarrBrowserError
from zarr_browser.streaming import partial
from zarr_browser.streaming.partial import SlabLayout, slab_layout

if TYPE_CHECKING:
    import zarr

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "BlockPlan",
    "DecodedCache",
    "Hole",
    "StreamingEngine",
    "get_engine",
    "set_engine",
]


Gate = Callable[[Sequence[tuple[int, ...]]], Awaitable[None]]
"""Awaited by a prefetch before it fetches or decodes the blocks it is given (views go first)."""

LocalRead = Callable[[str, tuple[int, int] | None], bytes | None]
"""Raw read of a store key of a local store, optionally a (start, stop) byte range (None: absent)."""

logger = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
"""Default bound of the decoded-chunk cache (``ZARR_BROWSER_CACHE_MB`` overrides it)."""

RETRY_AFTER = 10.0
"""Seconds before a failed block is fetched again when a view asks for it."""

COALESCE_GAP = 64 * 1024
"""Byte ranges of one shard closer than this are fetched as one request."""

COALESCE_MAX = 16 * 1024 * 1024
"""Largest merged byte range."""

MAX_BLOCKS_PER_READ = 1 << 16
"""A single read touching more blocks than this is refused (a region, not a whole huge level)."""

LOCAL_BATCH = 64
"""Blocking reads of at most this many local blocks decode in the calling thread."""

HAND_OVER = 0.005
"""At most this long, the thread that asked for a view's blocks waits (without the GIL) for the
I/O loop to send their requests; see :meth:`StreamingEngine._hand_over`."""

HAND_OVER_ROUNDS = 16
"""Rounds of the I/O loop the hand-over waits for.  Requests on kept-alive connections go out in
the first few; 16 new connections to a loopback server were not always made and written to in 8
rounds (the engine test), and were in 16.  It took 1–3 ms in the benchmark's views."""

INLINE_DECODE_BYTES = 512 * 1024
"""Fetched chunks up to this size (decoded) are decoded on the I/O loop, without a thread hop."""

LOCAL_BLOCK_BYTES = 16 * 1024 * 1024
"""...and only blocks up to this size (larger ones go through zarr's pipeline, in parallel)."""

PREFETCH_SHARE = 4
"""Prefetching may fill at most 1/PREFETCH_SHARE of the cache per view."""

STRAGGLER = 0.05
"""Seconds after a block a view waits for arrived within which its listeners hear of it, even
while other blocks of the same fetch are still on their way."""

RAW_SHARE = 8
"""The cache of compressed chunks (remote slabbed arrays) is 1/RAW_SHARE of the decoded cache."""

DECODERS = max(2, (os.cpu_count() or 2))
"""Blocks decoded at once (decoded chunks held in flight stay bounded; codecs release the GIL)."""

Status = Literal["pending", "failed", "missing"]


BlockKey = tuple[int, tuple[int, ...]]
Index = int | slice


# -- the decoded-chunk cache -------------------------------------------------------------------


class DecodedCache:
    """A thread-safe LRU of decoded blocks, bounded in bytes.

    Values are read-only numpy arrays (a broadcast fill costs nothing and counts as 0 bytes).
    A single block larger than the bound is not kept.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self._max = int(max_bytes)
        self._items: OrderedDict[BlockKey, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _size(value: np.ndarray) -> int:
        return 0 if value.base is not None and value.strides and 0 in value.strides else int(value.nbytes)

    @property
    def max_bytes(self) -> int:
        return self._max

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: BlockKey) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: BlockKey) -> np.ndarray | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: BlockKey, value: np.ndarray) -> None:
        size = self._size(value)
        if size > self._max:
            return
        value.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= self._size(old)
            self._items[key] = value
            self._bytes += size
            while self._bytes > self._max and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= self._size(evicted)

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self._max = int(max_bytes)
            while self._bytes > self._max and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= self._size(evicted)

    def drop(self, token: int | None = None) -> None:
        """Forget every block (of source *token*, or all)."""
        with self._lock:
            if token is None:
                self._items.clear()
                self._bytes = 0
                return
            for key in [k for k in self._items if k[0] == token]:
                self._bytes -= self._size(self._items.pop(key))


# -- regions → blocks --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _AxisPart:
    block: int
    local: Index
    out: slice | None  # None: the axis is dropped (integer index)


def _axis_parts(index: Index, block: int, size: int) -> list[_AxisPart]:
    if isinstance(index, int):
        b = index // block
        return [_AxisPart(b, index - b * block, None)]
    start, stop, step = index.start, index.stop, index.step
    n = len(range(start, stop, step))
    if n == 0:
        return []
    last = start + (n - 1) * step
    parts = []
    for b in range(start // block, last // block + 1):
        b0 = b * block
        b1 = b0 + block
        o0 = max(0, -((start - b0) // step))  # ceil((b0 - start) / step)
        o1 = min(n, -((start - b1) // step))
        if o0 >= o1:
            continue
        first = start + o0 * step - b0
        final = start + (o1 - 1) * step - b0
        parts.append(_AxisPart(b, slice(first, final + 1, step), slice(o0, o1)))
    return parts


def _span(index: Index, block: int) -> int:
    """How many blocks an axis index may touch (an upper bound, computed without iterating)."""
    if isinstance(index, int):
        return 1
    n = len(range(index.start, index.stop, index.step))
    if n == 0:
        return 0
    last = index.start + (n - 1) * index.step
    return min(n, last // block - index.start // block + 1)


@dataclass(frozen=True, slots=True)
class Hole:
    """A part of a read that holds no valid data (yet)."""

    out: tuple[slice, ...]
    """Where it is in the returned array."""
    status: Status
    key: str
    """The store key (URL) of the block, for messages."""


@dataclass(slots=True)
class BlockPlan:
    """The blocks a region touches and where each lands in the output."""

    out_shape: tuple[int, ...]
    parts: list[tuple[tuple[int, ...], tuple[Index, ...], tuple[slice, ...]]]

    @classmethod
    def of(cls, key: Sequence[Index], shape: Sequence[int], block_shape: Sequence[int]) -> BlockPlan:
        count = math.prod(_span(k, b) for k, b in zip(key, block_shape, strict=True))
        if count > MAX_BLOCKS_PER_READ:
            raise ArrayReadError(
                f"a read of {count:,} chunks was refused (more than {MAX_BLOCKS_PER_READ:,} at once)"
            )
        per_axis = [_axis_parts(k, b, n) for k, b, n in zip(key, block_shape, shape, strict=True)]
        out_shape = tuple(len(range(k.start, k.stop, k.step)) for k in key if isinstance(k, slice))
        parts = []
        for combo in itertools.product(*per_axis):
            coords = tuple(p.block for p in combo)
            local = tuple(p.local for p in combo)
            out = tuple(p.out for p in combo if p.out is not None)
            parts.append((coords, local, out))
        return cls(out_shape, parts)


# -- reading blocks of one array ---------------------------------------------------------------


class _Missing:
    """A block the store does not have (zarr: filled with the fill value)."""


MISSING = _Missing()

Part = dict[tuple[int, ...], "np.ndarray | _Missing | Exception"]
"""The results of the blocks of one stored object (or of a whole fetch)."""


class BlockReader:
    """Fetches and decodes blocks of one zarr array on zarr's event loop (async methods).

    Built from an opened :class:`zarr.Array` (no I/O).  Sharded v3 arrays whose only codec is
    ``sharding_indexed`` are read block = inner chunk, with cached shard indexes and coalesced
    range reads; every other array block = chunk.
    """

    def __init__(
        self, array: zarr.Array, describe_key: Callable[[str], str],
        local_read: LocalRead | None = None,
    ) -> None:
        from zarr.codecs.sharding import ShardingCodec
        from zarr.core.buffer import default_buffer_prototype

        inner = array.async_array
        self._metadata = inner.metadata
        self._pipeline = inner.codec_pipeline
        self._store_path = inner.store_path
        self._config = inner.config
        if self._metadata.zarr_format == 2:
            from dataclasses import replace

            self._config = replace(self._config, order=self._metadata.order)
        self._prototype = default_buffer_prototype()
        self._describe_key = describe_key
        grid = self._metadata.chunk_grid if self._metadata.zarr_format == 3 else None
        self.chunk_shape: tuple[int, ...] = tuple(grid.chunk_shape if grid is not None else self._metadata.chunks)
        codecs: Sequence[object] = getattr(self._metadata, "codecs", ())
        self._sharding: ShardingCodec | None = None
        if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
            self._sharding = codecs[0]
            self.block_shape = tuple(self._sharding.chunk_shape)
            self._per_shard = tuple(s // c for s, c in zip(self.chunk_shape, self.block_shape, strict=True))
        else:
            self.block_shape = self.chunk_shape
            self._per_shard = tuple(1 for _ in self.chunk_shape)
        # deep blosc chunks are read slab by slab (planes decoded alone: partial.py)
        self._local_read = local_read
        self._dtype: np.dtype | None = None
        self._slabs: SlabLayout | None = None
        if self._sharding is None:
            self._dtype = _plain_blosc_dtype(self._metadata, pipeline=self._pipeline)
            if self._dtype is not None:
                self._slabs = slab_layout(self.chunk_shape, self._dtype.itemsize)
        if self._slabs is not None:
            self.block_shape = self._slabs.slab_shape
            self._per_shard = self._slabs.per_chunk
        self.shape = tuple(self._metadata.shape)
        # small chunks decode on the I/O loop itself: a thread hop per chunk costs more than the
        # decode, and 16 of them queue behind the GUI thread's paint for the GIL
        small = math.prod(self.chunk_shape) * self._metadata.dtype.to_native_dtype().itemsize <= INLINE_DECODE_BYTES
        self._inline = self.sync_decoder() if small else None
        # the inner chunks of a shard that are plain blosc decode straight into their block, on
        # the loop: zarr's codec pipeline spent 18-25 ms on the 16 inner chunks of a view (a
        # thread hop and buffers per chunk) that blosc decodes in about 1 ms
        self._inner_blosc: Callable[[bytes, tuple[int, ...]], np.ndarray] | None = None
        if self._sharding is not None:
            inner_dtype = _plain_blosc_dtype(self._metadata, pipeline=self._sharding.codec_pipeline)
            if inner_dtype is not None and math.prod(self.block_shape) * inner_dtype.itemsize <= INLINE_DECODE_BYTES:
                self._inner_blosc = self._blosc_decoder(inner_dtype, self.block_shape)
        self._indexes: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._decoding = asyncio.Semaphore(DECODERS)
        self._on_bytes: Callable[[int], None] = lambda n: None

    def sync_decoder(self) -> Callable[[bytes, tuple[int, ...]], np.ndarray] | None:
        """A plain-function decoder of one chunk (no event loop), when the codec chain allows.

        zarr v2 chunks are decoded with the metadata's numcodecs compressor and filters (numeric
        dtypes); zarr v3 chunks whose codecs are ``bytes`` plus bytes-to-bytes codecs with a
        synchronous path.  Sharded arrays and array-to-array codecs get None (the async path).
        """
        if self._sharding is not None or self._slabs is not None:
            return None
        if self._dtype is not None:
            return self._blosc_decoder(self._dtype)
        return self._generic_decoder()

    def _generic_decoder(self) -> Callable[[bytes, tuple[int, ...]], np.ndarray] | None:
        """:meth:`sync_decoder` through the metadata's own codecs (numcodecs for v2, zarr's for v3)."""
        metadata, pipeline = self._metadata, self._pipeline
        if metadata.zarr_format == 2:
            dtype = metadata.dtype.to_native_dtype()
            if dtype.kind not in "biufcmM":
                return None
            compressor, filters = metadata.compressor, list(metadata.filters or ())
            shape, order = self.chunk_shape, metadata.order
            # what a frame may decode to: the chunk (filters such as astype may widen what is stored)
            expected = frame_bound(math.prod(shape) * dtype.itemsize, widened=bool(filters))

            def decode_v2(raw: bytes, coords: tuple[int, ...]) -> np.ndarray:
                with expect_decoded(expected):
                    chunk = compressor.decode(raw) if compressor is not None else raw
                    for codec in reversed(filters):
                        chunk = codec.decode(chunk)
                array = np.frombuffer(chunk, dtype=np.uint8) if isinstance(chunk, bytes) else np.asarray(chunk)
                return array.view(dtype).reshape(-1, order="A").reshape(shape, order=order)

            return decode_v2
        if getattr(pipeline, "array_array_codecs", True):
            return None
        codecs = [*reversed(getattr(pipeline, "bytes_bytes_codecs", ())), getattr(pipeline, "array_bytes_codec", None)]
        if not all(hasattr(c, "_decode_sync") for c in codecs):
            return None
        make_buffer = self._prototype.buffer.from_bytes
        expected = frame_bound(math.prod(self.chunk_shape) * self._metadata.dtype.to_native_dtype().itemsize)

        def decode_v3(raw: bytes, coords: tuple[int, ...]) -> np.ndarray:
            spec = self._metadata.get_chunk_spec(coords, self._config, prototype=self._prototype)
            data: Any = make_buffer(raw)
            with expect_decoded(expected):
                for codec in codecs:
                    data = codec._decode_sync(data, spec)
            return data.as_numpy_array()

        return decode_v3

    def _blosc_decoder(
        self, dtype: np.dtype, inner: tuple[int, ...] | None = None,
    ) -> Callable[[bytes, tuple[int, ...]], np.ndarray]:
        """Chunks that are nothing but blosc over C-order bytes: decompressed straight into the
        block (no zarr buffers and codec specs per chunk; a short read after an idle spell
        spent more time in them than in blosc).  A frame whose header does not announce
        exactly the chunk's size goes through zarr's codecs, which name what is wrong.  With
        *inner* (the shape of a shard's inner chunks), those are decoded instead, and such a
        frame is refused."""
        from numcodecs import blosc

        shape = inner if inner is not None else self.chunk_shape
        size = math.prod(shape) * dtype.itemsize
        generic = self._generic_decoder() if inner is None else None

        def decode_blosc(raw: bytes, coords: tuple[int, ...]) -> np.ndarray:
            if len(raw) < 16 or int.from_bytes(raw[4:8], "little") != size:
                if generic is None:
                    raise ValueError(f"blosc frame of {len(raw)} bytes does not hold a chunk of {size} bytes")
                return generic(raw, coords)
            out = np.empty(shape, dtype=dtype)
            blosc.decompress(raw, out)  # checked: the frame's header against its length and *out*
            return out

        return decode_blosc

    def chunk_key(self, coords: tuple[int, ...]) -> str:
        """The store key of the chunk (shard) holding block *coords*."""
        chunk = tuple(c // p for c, p in zip(coords, self._per_shard, strict=True))
        path = self._store_path.path
        key = self._metadata.encode_chunk_key(chunk)
        return f"{path}/{key}" if path else key

    def describe(self, coords: tuple[int, ...]) -> str:
        return self._describe_key(self.chunk_key(coords))

    def fill_block(self, coords: tuple[int, ...]) -> np.ndarray:
        spec = self._metadata.get_chunk_spec(self._chunk_of(coords), self._config, prototype=self._prototype)
        dtype = spec.dtype.to_native_dtype()
        value = spec.fill_value
        if value is None:  # v2 allows fill_value null: zarr-python reads the dtype's default (0, False)
            value = spec.dtype.default_scalar()
        return np.broadcast_to(np.asarray(value, dtype=dtype), self.block_shape)

    def _chunk_of(self, coords: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(c // p for c, p in zip(coords, self._per_shard, strict=True))

    @property
    def slabbed(self) -> bool:
        """Whether blocks are slabs of deep blosc chunks (decoded alone)."""
        return self._slabs is not None

    async def fetch(
        self,
        blocks: Sequence[tuple[int, ...]],
        semaphore: asyncio.Semaphore,
        decoding: asyncio.Semaphore | None = None,
        on_bytes: Callable[[int], None] | None = None,
        gate: Gate | None = None,
        raw: tuple[DecodedCache, int] | None = None,
        on_part: Callable[[Part], None] | None = None,
    ) -> Part:
        """Fetch and decode *blocks*; each result is an array, MISSING, or the exception.

        *semaphore* bounds the requests in flight, *decoding* the blocks decoded at once;
        *on_bytes* hears the size of every response; *gate* (prefetches) is awaited before each
        request and each decode, so that work a view waits for goes first.  *raw* (a cache and
        the source's token) keeps the compressed chunks of remote slabbed arrays, so that the
        next plane of a chunk costs a decode, not a download.  The result may hold more blocks
        than asked for (the other slabs of a chunk that was decoded whole).  *on_part* hears the
        results of each stored object as soon as they are in.
        """
        if decoding is not None:  # this fetch's tasks (gather copies the context) use these slots
            _DECODING.set(decoding)
        self._on_bytes = on_bytes or self._on_bytes
        jobs: Iterable[Awaitable[Part]]
        if self._slabs is None and self._sharding is None:  # block = chunk
            jobs = (self._fetch_one(c, semaphore, gate) for c in blocks)
        # several blocks per stored object (slabs of a chunk, inner chunks of a shard): one job each
        elif self._slabs is not None:
            jobs = (self._fetch_slabs(c, cs, semaphore, gate, raw) for c, cs in self._by_chunk(blocks).items())
        else:
            jobs = (self._fetch_shard(s, cs, semaphore, gate) for s, cs in self._by_chunk(blocks).items())

        async def heard(job: Awaitable[Part]) -> Part:
            part = await job
            if on_part is not None:
                on_part(part)
            return part

        out: Part = {}
        for part in await asyncio.gather(*(heard(job) for job in jobs)):
            out.update(part)
        return out

    async def _fetch_one(self, coords: tuple[int, ...], semaphore: asyncio.Semaphore, gate: Gate | None) -> Part:
        return {coords: await self._fetch_chunk(coords, semaphore, gate)}

    def _by_chunk(self, blocks: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], list[tuple[int, ...]]]:
        """*blocks* grouped by the stored object (chunk or shard) that holds them."""
        groups: dict[tuple[int, ...], list[tuple[int, ...]]] = {}
        for coords in blocks:
            groups.setdefault(self._chunk_of(coords), []).append(coords)
        return groups

    async def _fetch_chunk(
        self, coords: tuple[int, ...], semaphore: asyncio.Semaphore, gate: Gate | None = None
    ) -> np.ndarray | _Missing | Exception:
        key = self._metadata.encode_chunk_key(coords)
        try:
            if gate is not None:
                await gate((coords,))
            async with semaphore:
                buffer = await (self._store_path / key).get(prototype=self._prototype)
            if buffer is None:
                return MISSING
            self._on_bytes(len(buffer))
            if gate is not None:
                await gate((coords,))
            if self._inline is not None:
                return self._check(self._inline(buffer.to_bytes(), coords), coords)
            spec = self._metadata.get_chunk_spec(coords, self._config, prototype=self._prototype)
            async with _DECODING.get(self._decoding):
                (decoded,) = await self._pipeline.decode([(buffer, spec)])
            if decoded is None:
                return MISSING
            return self._check(decoded.as_numpy_array(), coords)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as err:  # the boundary of one block: network, codec, shape errors
            return _named(err, self.describe(coords))

    # -- slabs of deep blosc chunks ---------------------------------------------------------
    async def _fetch_slabs(
        self, chunk: tuple[int, ...], blocks: list[tuple[int, ...]], semaphore: asyncio.Semaphore,
        gate: Gate | None, raw: tuple[DecodedCache, int] | None,
    ) -> Part:
        try:
            if gate is not None:
                await gate(blocks)
            if self._local_read is not None:  # partial reads of the file, in a worker thread
                async with _DECODING.get(self._decoding):  # the read is part of the decode work
                    return await asyncio.to_thread(self.read_slabs_local, chunk, blocks, self._on_bytes)
            kept, token = raw if raw is not None else (None, 0)
            data = kept.get((token, chunk)) if kept is not None else None
            if data is None:
                async with semaphore:
                    buffer = await (self._store_path / self._metadata.encode_chunk_key(chunk)).get(prototype=self._prototype)
                if buffer is None:
                    return dict.fromkeys(blocks, MISSING)
                self._on_bytes(len(buffer))
                data = np.frombuffer(buffer.to_bytes(), dtype=np.uint8)
                if kept is not None:
                    kept.put((token, chunk), data)
            if gate is not None:
                await gate(blocks)
            async with _DECODING.get(self._decoding):
                return await asyncio.to_thread(self._decode_slabs, data, blocks)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as err:  # the boundary of one chunk
            return dict.fromkeys(blocks, _named(err, self.describe(blocks[0])))

    def read_slabs_local(
        self, chunk: tuple[int, ...], blocks: Sequence[tuple[int, ...]], on_bytes: Callable[[int], None] | None = None,
    ) -> Part:
        """Read slabs *blocks* of *chunk* from a local file: the header and offset table, then
        only the compressed blocks that hold them (the whole chunk when most slabs are wanted)."""
        assert self._slabs is not None and self._local_read is not None
        read, layout = self._local_read, self._slabs
        count = on_bytes or self._on_bytes
        key = self.chunk_key(blocks[0])
        try:
            if len(blocks) < partial.WHOLE_SHARE * math.prod(layout.per_chunk):
                prefix = read(key, (0, partial.PREFIX))
                if prefix is None:
                    return dict.fromkeys(blocks, MISSING)
                count(len(prefix))
                header = partial.parse_header(prefix, layout.chunk_bytes)
                if header is not None:
                    if header.table_end > len(prefix):
                        prefix = read(key, (0, header.table_end)) or b""
                        count(len(prefix))
                        if len(prefix) < header.table_end:
                            raise ValueError(f"the chunk is truncated ({len(prefix)} bytes)")
                    table = None if header.memcpyed else np.frombuffer(prefix, "<i4", header.nblocks, partial.HEADER)
                    spans = [partial.block_span(header, table, layout.offset(c), layout.offset(c) + layout.slab_bytes)
                             for c in blocks]
                    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
                    if hi - lo < header.cbytes // 2:
                        data = read(key, (lo, hi)) or b""
                        count(len(data))
                        if len(data) < hi - lo:
                            raise ValueError(f"the chunk is truncated (bytes {lo}–{hi} of {header.cbytes} asked)")
                        buffer = np.zeros(header.cbytes, dtype=np.uint8)
                        buffer[: header.table_end] = np.frombuffer(prefix, np.uint8, header.table_end)
                        buffer[lo:hi] = np.frombuffer(data, np.uint8)
                        return self._getitems(buffer, header, blocks)
            whole = read(key, None)
            if whole is None:
                return dict.fromkeys(blocks, MISSING)
            count(len(whole))
            return self._decode_slabs(np.frombuffer(whole, dtype=np.uint8), blocks)
        except ZarrBrowserError as err:
            return dict.fromkeys(blocks, err)
        except Exception as err:  # the boundary of one chunk: I/O, codec and shape errors
            return dict.fromkeys(blocks, _named(err, self.describe(blocks[0])))

    def read_local_blocks(
        self, blocks: Sequence[tuple[int, ...]], on_bytes: Callable[[int], None] | None = None,
    ) -> Part:
        """Slabs *blocks* of a local array, read in the calling thread."""
        out: Part = {}
        groups = list(self._by_chunk(blocks).items())
        for part in _shared_map(lambda group: self.read_slabs_local(group[0], group[1], on_bytes), groups):
            out.update(part)
        return out

    def _decode_slabs(
        self, data: np.ndarray, blocks: Sequence[tuple[int, ...]],
    ) -> Part:
        """Slabs *blocks* from a whole compressed chunk: decoded alone when few are wanted,
        else the chunk is decoded whole and all its slabs are returned."""
        assert self._slabs is not None and self._dtype is not None
        layout = self._slabs
        if len(blocks) < partial.WHOLE_SHARE * math.prod(layout.per_chunk):
            header = partial.parse_header(data[: partial.HEADER].tobytes(), layout.chunk_bytes)
            if header is not None and header.cbytes == data.nbytes:
                return self._getitems(data, header, blocks)
        import numcodecs.blosc

        decoded = numcodecs.blosc.decompress(data)
        if len(decoded) != layout.chunk_bytes:
            raise ValueError(f"decoded {len(decoded)} bytes, the chunk has {layout.chunk_bytes}")
        whole = np.frombuffer(decoded, dtype=self._dtype).reshape(self.chunk_shape)
        axis, t = layout.axis, layout.thickness
        first = blocks[0]
        out: Part = {}
        for s in range(layout.per_chunk[axis]):
            coords = tuple(c - c % layout.per_chunk[a] + s if a == axis else c for a, c in enumerate(first))
            if coords[axis] * t >= self.shape[axis]:
                break
            out[coords] = whole[(slice(None),) * axis + (slice(s * t, (s + 1) * t),)]
        return out

    def _getitems(
        self, buffer: np.ndarray, header: partial.BloscHeader, blocks: Sequence[tuple[int, ...]],
    ) -> Part:
        assert self._slabs is not None and self._dtype is not None
        out: Part = {}
        for coords in blocks:
            slab = np.empty(self._slabs.slab_shape, dtype=self._dtype)
            partial.getitem(buffer, header, self._slabs.offset(coords), slab)
            out[coords] = slab
        return out

    def check(self, data: np.ndarray, coords: tuple[int, ...]) -> np.ndarray:
        """*data*, when it has the block shape; else ValueError."""
        return self._check(data, coords)

    def _check(self, data: np.ndarray, coords: tuple[int, ...]) -> np.ndarray:
        if data.shape != self.block_shape:
            raise ValueError(f"decoded shape {data.shape} is not the chunk shape {self.block_shape}")
        return data

    async def _shard_index(self, shard: tuple[int, ...], semaphore: asyncio.Semaphore) -> Any:
        cached = self._indexes.get(shard)
        if cached is not None:
            self._indexes.move_to_end(shard)
            return cached
        assert self._sharding is not None
        async with semaphore:
            index = await self._sharding._load_shard_index_maybe(
                self._store_path / self._metadata.encode_chunk_key(shard), self._per_shard
            )
        if index is None:
            return None
        self._indexes[shard] = index
        while len(self._indexes) > 4096:
            self._indexes.popitem(last=False)
        return index

    async def _fetch_shard(
        self, shard: tuple[int, ...], blocks: list[tuple[int, ...]], semaphore: asyncio.Semaphore,
        gate: Gate | None = None,
    ) -> Part:
        from zarr.abc.store import RangeByteRequest

        assert self._sharding is not None
        sharding = self._sharding
        out: Part = {}
        try:
            index = await self._shard_index(shard, semaphore)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as err:  # the index of this shard cannot be read: all its blocks fail
            failure = _named(err, self.describe(blocks[0]))
            return dict.fromkeys(blocks, failure)
        if index is None:
            return dict.fromkeys(blocks, MISSING)
        spans: list[tuple[int, int, tuple[int, ...]]] = []
        for coords in blocks:
            local = tuple(c % p for c, p in zip(coords, self._per_shard, strict=True))
            where = index.get_chunk_slice(local)
            if where is None:  # an empty inner chunk: the writer left it out (fill value)
                out[coords] = self.fill_block(coords)
            else:
                spans.append((int(where[0]), int(where[1]), coords))
        spans.sort()
        groups: list[list[tuple[int, int, tuple[int, ...]]]] = []
        for span in spans:
            if groups and span[0] - groups[-1][-1][1] <= COALESCE_GAP and span[1] - groups[-1][0][0] <= COALESCE_MAX:
                groups[-1].append(span)
            else:
                groups.append([span])
        shard_path = self._store_path / self._metadata.encode_chunk_key(shard)
        spec = None if self._inner_blosc is not None else sharding._get_chunk_spec(  # only zarr's codecs need it
            self._metadata.get_chunk_spec(shard, self._config, prototype=self._prototype)
        )

        async def one(group: list[tuple[int, int, tuple[int, ...]]]) -> None:
            start, stop = group[0][0], max(s[1] for s in group)
            try:
                if gate is not None:
                    await gate([coords for _, _, coords in group])
                async with semaphore:
                    buffer = await shard_path.get(prototype=self._prototype, byte_range=RangeByteRequest(start, stop))
                if buffer is None:
                    raise ValueError("the shard disappeared while it was read")
                if len(buffer) < stop - start:
                    raise ValueError(f"the shard is truncated: {len(buffer)} of {stop - start} bytes")
                self._on_bytes(len(buffer))
                if self._inner_blosc is not None:
                    for s, e, coords in group:
                        try:
                            out[coords] = self._check(self._inner_blosc(buffer[s - start : e - start].to_bytes(), coords),
                                                      coords)
                        except Exception as err:  # the boundary of one inner chunk
                            out[coords] = _named(err, self.describe(coords))
                    return
                assert spec is not None  # made when zarr's codecs decode
                pieces = [(buffer[s - start : e - start], spec) for s, e, _ in group]
                async with _DECODING.get(self._decoding):
                    decoded = await sharding.codec_pipeline.decode(pieces)
                for (_, _, coords), data in zip(group, decoded, strict=True):
                    out[coords] = MISSING if data is None else self._check(data.as_numpy_array(), coords)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as err:  # the boundary of one range read
                failure = _named(err, self.describe(group[0][2]))
                for _, _, coords in group:
                    out[coords] = failure

        await asyncio.gather(*(one(g) for g in groups))
        return out


_DECODING: contextvars.ContextVar[asyncio.Semaphore] = contextvars.ContextVar("zarr_browser_decoding")
"""The decode slots of the fetch a task belongs to (views and prefetches have their own)."""

_pool: Any = None
_pool_lock = threading.Lock()


def _shared_map(function: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``[function(x) for x in items]``, with the calling thread and DECODERS - 1 workers
    taking items in turn (codecs release the GIL: a blocking read of local chunks uses every
    core, and a small one never waits for a worker)."""
    global _pool
    if len(items) < 4 or DECODERS < 2:
        return [function(x) for x in items]
    with _pool_lock:
        if _pool is None:
            from concurrent.futures import ThreadPoolExecutor

            _pool = ThreadPoolExecutor(DECODERS - 1, thread_name_prefix="zarr-browser-decode")
    results: list[Any] = [None] * len(items)
    lock = threading.Lock()
    position = iter(range(len(items)))

    def drain() -> None:
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                return
            results[i] = function(items[i])

    helpers = [_pool.submit(drain) for _ in range(DECODERS - 1)]
    drain()
    for helper in helpers:
        helper.result()
    return results


def _plain_blosc_dtype(metadata: Any, pipeline: Any) -> np.dtype | None:
    """The native dtype when a chunk is nothing but blosc over its C-order bytes (else None)."""
    import sys

    from numcodecs.blosc import Blosc

    try:
        dtype = np.dtype(metadata.dtype.to_native_dtype())
    except Exception:  # a dtype numpy cannot hold plainly
        return None
    if dtype.kind not in "biuf" or not dtype.isnative:
        return None
    dtype = dtype.newbyteorder("=")
    if metadata.zarr_format == 2:
        if not isinstance(metadata.compressor, Blosc) or metadata.filters or metadata.order != "C":
            return None
        return dtype
    from zarr.codecs import BloscCodec, BytesCodec

    if getattr(pipeline, "array_array_codecs", True):
        return None
    codec = getattr(pipeline, "array_bytes_codec", None)
    bytes_codecs = tuple(getattr(pipeline, "bytes_bytes_codecs", ()))
    if not isinstance(codec, BytesCodec) or len(bytes_codecs) != 1 or not isinstance(bytes_codecs[0], BloscCodec):
        return None
    endian = getattr(codec.endian, "value", codec.endian)
    if endian not in (None, sys.byteorder):
        return None
    return dtype


def _named(err: Exception, where: str) -> Exception:
    if isinstance(err, ZarrBrowserError):
        return err
    return ArrayReadError(f"cannot read {where}: {type(err).__name__}: {err}")


# -- the engine --------------------------------------------------------------------------------


class EngineSource(Protocol):
    """What the engine needs of an array: a token, a name, a remote flag and a reader.

    :class:`~zarr_browser.streaming.levels.ZarrSource` implements it.  A source may also have a
    ``read_local`` attribute (raw reads of a local store, or None); the engine looks it up with
    ``getattr``.
    """

    token: int
    remote: bool

    @property
    def shape(self) -> tuple[int, ...]: ...  # pragma: no cover - protocol

    @property
    def dtype(self) -> np.dtype: ...  # pragma: no cover - protocol

    def block_reader(self) -> BlockReader: ...  # pragma: no cover - protocol

    def describe(self) -> str: ...  # pragma: no cover - protocol


@dataclass(slots=True)
class _Batch:
    """One fetch of blocks of one source: what arrived, and whether listeners heard of it."""

    token: int
    arrived: set[tuple[int, ...]] = field(default_factory=set)
    unheard: bool = False  # blocks a view waited for arrived, listeners not told yet
    timer: asyncio.TimerHandle | None = None


_tokens = itertools.count(1)


def new_token() -> int:
    """A process-unique token for a new source (cache keys never collide, never reused)."""
    return next(_tokens)


@dataclass(slots=True)
class _Counters:
    blocks: int = 0
    bytes: int = 0
    fetched: int = 0
    failures: int = 0
    missing: int = 0
    prefetched: int = 0
    reads: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class StreamingEngine:
    """Concurrent block fetches, the shared decoded cache, and change listeners.

    One engine serves the whole process (:func:`get_engine`); tests make their own.
    """

    def __init__(self, cache_bytes: int = DEFAULT_CACHE_BYTES, concurrency: int = 64) -> None:
        self.cache = DecodedCache(cache_bytes)
        self.raw = DecodedCache(max(16 << 20, cache_bytes // RAW_SHARE))
        """Compressed chunks of remote slabbed arrays (their other planes decode without a download)."""
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._inflight: dict[BlockKey, bool] = {}  # block → wanted by a view (not only a prefetch)
        self._batches = 0  # fetches under way, until their prefetch has been started
        self._display_inflight = 0
        self._view_since = 0.0  # when the view blocks now in flight started to be (monotonic)
        self._view_time: float | None = None  # how long views took to arrive (a moving average)
        self._untold = 0  # batches whose listeners have not heard of blocks a view waited for
        self._failed: dict[BlockKey, tuple[float, str]] = {}
        self._missing: set[BlockKey] = set()
        self._listeners: dict[int, list[Callable[[int], None]]] = {}
        self._prefetch: dict[tuple[int, Any], tuple[EngineSource, list[tuple[int, ...]]]] = {}
        self._positions: dict[tuple[int, Any], dict[int, int]] = {}  # last stepped indices per view
        self._semaphore: asyncio.Semaphore | None = None
        self._decoding: asyncio.Semaphore | None = None
        self._prefetch_decoding: asyncio.Semaphore | None = None
        self._counters = _Counters()
        self._arrived = threading.Condition(self._lock)  # notified whenever fetched blocks settle
        self.drawing = False
        """Set by the napari glue while a canvas draws a frame: the views asked for then are
        handed over to the I/O loop before the frame goes on (:meth:`_hand_over`)."""

    # -- introspection ----------------------------------------------------------------------
    def pending(self) -> int:
        """Blocks requested by views and not delivered yet (prefetches excluded)."""
        with self._lock:
            return self._display_inflight

    def view_due(self) -> float | None:
        """Seconds until the blocks views wait for should all be in, judging by how long views
        took so far (negative: overdue); None when no view waits, nothing is known yet, or
        the view has taken over twice as long as views take (a straggler, not to be waited for)."""
        with self._lock:
            if self._display_inflight == 0 or self._view_time is None:
                return None
            due = self._view_since + self._view_time - time.monotonic()
            return None if due < -self._view_time else due

    def wait_views(self, timeout: float) -> bool:
        """Wait at most *timeout* seconds until no view waits for blocks and the listeners have
        heard of every block that came in for one; whether that is so."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self._display_inflight or self._untold:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._arrived.wait(remaining)
            return True

    def idle(self) -> bool:
        """Whether nothing is being fetched at all (views and prefetches)."""
        with self._lock:
            return not self._inflight and not self._batches

    def stats(self) -> dict[str, int]:
        c = self._counters
        with c.lock:
            return {
                "blocks": c.blocks,
                "bytes": c.bytes,
                "fetched_bytes": c.fetched,
                "failures": c.failures,
                "missing": c.missing,
                "prefetched": c.prefetched,
                "reads": c.reads,
                "cache_bytes": self.cache.nbytes,
                "cache_blocks": len(self.cache),
                "raw_bytes": self.raw.nbytes,
                "pending": self.pending(),
            }

    def clear_cache(self) -> None:
        """Forget decoded blocks, failures and missing marks (a reload)."""
        self.cache.drop()
        self.raw.drop()
        with self._lock:
            self._failed.clear()
            self._missing.clear()

    def forget(self, token: int) -> None:
        """Forget everything about source *token* (its store was rewritten or closed)."""
        self.cache.drop(token)
        self.raw.drop(token)
        with self._lock:
            self._failed = {k: v for k, v in self._failed.items() if k[0] != token}
            self._missing = {k for k in self._missing if k[0] != token}
            self._positions = {k: v for k, v in self._positions.items() if k[0] != token}
            self._prefetch = {k: v for k, v in self._prefetch.items() if k[0] != token}

    def failures(self, token: int) -> list[str]:
        """Messages of the blocks of *token* that failed and were not fetched since."""
        with self._lock:
            return [message for key, (_, message) in self._failed.items() if key[0] == token]

    def failures_of(self, tokens: Collection[int]) -> dict[int, list[str]]:
        """:meth:`failures` of many sources at once (one pass): token → messages, failed ones only."""
        wanted = set(tokens)
        out: dict[int, list[str]] = {}
        with self._lock:
            for key, (_, message) in self._failed.items():
                if key[0] in wanted:
                    out.setdefault(key[0], []).append(message)
        return out

    # -- listeners ----------------------------------------------------------------------------
    def add_listener(self, token: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(token)`` (from the I/O thread) when blocks of *token* arrive or fail."""
        with self._lock:
            self._listeners.setdefault(token, []).append(callback)

    def remove_listener(self, token: int, callback: Callable[[int], None]) -> None:
        with self._lock:
            callbacks = self._listeners.get(token, [])
            if callback in callbacks:
                callbacks.remove(callback)
            if not callbacks:
                self._listeners.pop(token, None)

    def notify(self, token: int) -> None:
        """Call the listeners of *token* (sources that are not arrays use it: mosaics)."""
        with self._lock:
            callbacks = list(self._listeners.get(token, ()))
        for callback in callbacks:
            try:
                callback(token)
            except Exception:  # a listener must not break delivery to the others
                logger.exception("streaming listener failed")

    # -- reading ------------------------------------------------------------------------------
    def read(self, source: EngineSource, key: Sequence[Index], timeout: float | None = None) -> np.ndarray:
        """The region *key* (normalised indices) of *source*, complete; blocks until read.

        Raises ArrayReadError naming the chunk when a block fails.  Never call it on zarr's
        I/O event loop.
        """
        from zarr_browser.core.store import run_sync

        reader = source.block_reader()
        plan = BlockPlan.of(key, source.shape, reader.block_shape)
        blocks: dict[tuple[int, ...], np.ndarray] = {}
        wanted = []
        for coords, _, _ in plan.parts:
            value = self.cache.get((source.token, coords))
            if value is None:
                wanted.append(coords)
            else:
                blocks[coords] = value
        if wanted:
            read_local: LocalRead | None = getattr(source, "read_local", None)
            small = math.prod(reader.block_shape) * source.dtype.itemsize <= LOCAL_BLOCK_BYTES
            decode = reader.sync_decoder() if read_local is not None and small and len(wanted) <= LOCAL_BATCH else None
            if read_local is not None and decode is not None:  # a local store: read and decode here, no loop hops
                results = self._read_local(source, reader, wanted, read_local, decode)
            elif read_local is not None and reader.slabbed and len(wanted) <= LOCAL_BATCH:
                results = self._settle(source, reader, reader.read_local_blocks(wanted, self._count_fetched))
            else:
                results = run_sync(self._fetch(source, reader, wanted, display=False), timeout=timeout)
            for coords, result in results.items():
                if isinstance(result, Exception):
                    raise result
                blocks[coords] = result
        out = np.empty(plan.out_shape, dtype=source.dtype)
        for coords, local, where in plan.parts:
            out[where] = blocks[coords][local]
        with self._counters.lock:
            self._counters.reads += 1
        return out

    def missing(self, source: EngineSource, key: Sequence[Index]) -> list[str]:
        """The store keys (URLs) of the blocks of region *key* that a remote store did not have
        when they were read (read as the fill value); no I/O."""
        reader = source.block_reader()
        plan = BlockPlan.of(key, source.shape, reader.block_shape)
        token = source.token
        with self._lock:
            found = [coords for coords, _, _ in plan.parts if (token, coords) in self._missing]
        return [reader.describe(coords) for coords in found]

    def read_cached(
        self,
        source: EngineSource,
        key: Sequence[Index],
        *,
        request: bool = True,
        fill: Any = 0,
        neighbours: bool = False,
        neighbour_axes: Sequence[int] | None = None,
        wait: float = 0.0,
    ) -> tuple[np.ndarray, list[Hole]]:
        """What the cache holds of region *key*, without waiting; the rest is requested.

        Returns the array (holes filled with *fill*) and the holes: ``pending`` (being
        fetched, or not requested when *request* is false), ``failed`` (fetching failed; not
        retried before :data:`RETRY_AFTER`), ``missing`` (a remote store has no such chunk; the
        array holds the fill value there).  With *neighbours*, the blocks around the region
        are prefetched once no view waits (along *neighbour_axes* only, when given: not along
        a channel axis that another layer shows).  With *wait* > 0 the call waits at most that
        many seconds for the blocks it requested (a local store delivers a view in a few
        milliseconds: drawing it at once spares a coarse frame and a refresh).
        """
        waiting: list[tuple[tuple[int, ...], tuple[Index, ...], tuple[slice, ...]]] = []
        reader = source.block_reader()
        plan = BlockPlan.of(key, source.shape, reader.block_shape)
        out = np.empty(plan.out_shape, dtype=source.dtype)
        holes: list[Hole] = []
        wanted: list[tuple[int, ...]] = []
        now = time.monotonic()
        token = source.token
        for coords, local, where in plan.parts:
            block_key = (token, coords)
            value = self.cache.get(block_key)
            if value is None:
                with self._lock:
                    failed = self._failed.get(block_key)
                    inflight = self._inflight.get(block_key)
                    if inflight is None:  # it may have landed since the lookup: not fetched twice
                        value = self.cache.get(block_key)
                    elif request and inflight is False:  # being prefetched: now a view waits for it
                        self._inflight[block_key] = True
                        if self._display_inflight == 0:
                            self._view_since = now
                        self._display_inflight += 1
            if value is not None:
                out[where] = value[local]
                if block_key in self._missing:
                    holes.append(Hole(where, "missing", reader.describe(coords)))
                continue
            out[where] = fill
            if failed is not None and now - failed[0] < RETRY_AFTER:
                holes.append(Hole(where, "failed", failed[1]))
                continue
            holes.append(Hole(where, "pending", reader.describe(coords)))
            if request and inflight is None:
                wanted.append(coords)
            if request and wait > 0:
                waiting.append((coords, local, where))
        if neighbours and request:
            self._plan_prefetch(source, reader, plan, key, neighbour_axes)  # before submitting: a fast fetch starts it
        if wanted:
            self._submit(source, reader, self._affordable(source, reader, plan, wanted), display=True)
        elif neighbours and request and self.pending() == 0:
            self._start_prefetch()
        if waiting and self._wait_for(token, [c for c, _, _ in waiting], time.monotonic() + wait):
            holes = self._fill_arrived(token, waiting, out, holes)
        return out, holes

    def _wait_for(self, token: int, blocks: list[tuple[int, ...]], deadline: float) -> bool:
        """Wait until none of *blocks* is in flight, or until *deadline*; whether any settled."""
        with self._arrived:
            while any((token, c) in self._inflight for c in blocks):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._arrived.wait(remaining)
            return any((token, c) not in self._inflight for c in blocks)

    def _fill_arrived(
        self, token: int, waiting: list[tuple[tuple[int, ...], tuple[Index, ...], tuple[slice, ...]]],
        out: np.ndarray, holes: list[Hole],
    ) -> list[Hole]:
        """Copy the waited-for blocks that arrived into *out*; the holes that remain."""
        filled: set[int] = set()  # ids of the holes' `out` tuples (slices are not hashable before 3.12)
        for coords, local, where in waiting:
            value = self.cache.get((token, coords))
            if value is not None and (token, coords) not in self._missing:
                out[where] = value[local]
                filled.add(id(where))
        if not filled:
            return holes
        return [h for h in holes if not (h.status == "pending" and id(h.out) in filled)]

    def _affordable(
        self, source: EngineSource, reader: BlockReader, plan: BlockPlan, wanted: list[tuple[int, ...]]
    ) -> list[tuple[int, ...]]:
        """The blocks of *wanted* to fetch, nearest the view's centre first.

        A view whose blocks would not fit in 3/4 of the cache only ever gets its central blocks
        that fit (the rest stays coarse): fetching it all would evict its own blocks before they
        are drawn, and every refresh would fetch them again.
        """
        if len(wanted) < 2:
            return wanted
        coords = np.array([c for c, _, _ in plan.parts], dtype=np.float64)
        centre = coords.mean(axis=0)

        def distance(c: tuple[int, ...]) -> float:
            return float(np.square(np.asarray(c, dtype=np.float64) - centre).sum())

        block_bytes = max(1, math.prod(reader.block_shape) * source.dtype.itemsize)
        fits = self.cache.max_bytes * 3 // 4 // block_bytes
        if len(plan.parts) > fits:
            allowed = set(sorted((c for c, _, _ in plan.parts), key=distance)[: max(1, fits)])
            wanted = [c for c in wanted if c in allowed]
        return sorted(wanted, key=distance)

    def is_cached(self, source: EngineSource, key: Sequence[Index]) -> bool:
        """Whether every block of region *key* is in the cache (failed blocks count as absent)."""
        reader = source.block_reader()
        plan = BlockPlan.of(key, source.shape, reader.block_shape)
        return all((source.token, coords) in self.cache for coords, _, _ in plan.parts)

    def request(self, source: EngineSource, key: Sequence[Index]) -> int:
        """Start fetching the blocks of region *key* not cached yet; returns how many."""
        reader = source.block_reader()
        plan = BlockPlan.of(key, source.shape, reader.block_shape)
        wanted = []
        with self._lock:
            for coords, _, _ in plan.parts:
                block_key = (source.token, coords)
                if block_key not in self._inflight and block_key not in self.cache:
                    wanted.append(coords)
        if wanted:
            self._submit(source, reader, wanted, display=True)
        return len(wanted)

    # -- fetching -----------------------------------------------------------------------------
    def _submit(self, source: EngineSource, reader: BlockReader, blocks: list[tuple[int, ...]], *, display: bool) -> None:
        from zarr.core.sync import _get_loop

        with self._lock:  # not what is in flight, nor what landed since the caller looked
            blocks = [c for c in blocks if (source.token, c) not in self._inflight and (source.token, c) not in self.cache]
            for c in blocks:
                self._inflight[(source.token, c)] = display
            if display and blocks:
                if self._display_inflight == 0:
                    self._view_since = time.monotonic()
                self._display_inflight += len(blocks)
        if not blocks:
            return
        with self._lock:
            self._batches += 1
        loop = _get_loop()
        asyncio.run_coroutine_threadsafe(self._deliver(source, reader, blocks, display=display), loop)
        # a local store's blocks are read in moments, not sent; outside a frame (napari building
        # layers) the thread goes on with Python work that lets the loop run (it cost an open 20 ms)
        if display and source.remote and self.drawing:
            self.drawing = False  # once per frame: the loop sends what later layers of it ask for too
            self._hand_over(loop)

    @staticmethod
    def _hand_over(loop: asyncio.AbstractEventLoop) -> None:
        """Let the I/O loop send a view's requests before the caller goes on.

        The caller is the GUI thread, slicing inside a frame it is drawing (:attr:`drawing`); a
        frame drawn under Mesa's software GL holds the GIL for 15–30 ms (Qt composes the window in
        napari's ``event`` override, with the GIL held), and the loop thread could not write the
        rest of the requests until it ends: a 16-chunk view went out in two waves, a round trip
        apart.  So the caller waits, without the GIL, for a few rounds of the loop (each one
        runs what is ready and polls the sockets), at most :data:`HAND_OVER` seconds.
        """
        if threading.get_ident() == getattr(loop, "_thread_id", None):
            return  # on the loop itself (a prefetch turned view): nothing to wait for
        sent = threading.Event()

        def round_(left: int) -> None:
            if left <= 1:
                sent.set()
            else:
                loop.call_soon(round_, left - 1)

        try:
            loop.call_soon_threadsafe(round_, HAND_OVER_ROUNDS)
        except RuntimeError:  # the loop is closed (interpreter shutdown)
            return
        sent.wait(HAND_OVER)

    async def _deliver(self, source: EngineSource, reader: BlockReader, blocks: list[tuple[int, ...]], *, display: bool) -> None:
        """Fetch *blocks* as one batch; each stored object is settled as soon as it is in."""
        batch = _Batch(source.token)
        try:
            await self._fetch(source, reader, blocks, display=display,
                              on_part=lambda part: self._arrive(source, reader, part, batch))
        except Exception as err:  # boundary of the batch: its blocks fail (shown as failed), never pend forever
            logger.warning("reading %d block(s) of %s failed", len(blocks), reader.describe(blocks[0]), exc_info=err)
            failed = _named(err, reader.describe(blocks[0]))
            self._settle(source, reader, {c: failed for c in blocks if c not in batch.arrived})
        finally:
            # blocks that never arrived (the batch was cancelled or failed as a whole)
            self._release(source.token, [c for c in blocks if c not in batch.arrived], batch)
            self._tell(batch)
            try:
                with self._lock:
                    idle = self._display_inflight == 0
                if idle:
                    self._start_prefetch()
            finally:
                with self._lock:
                    self._batches -= 1

    def _arrive(self, source: EngineSource, reader: BlockReader, part: Part, batch: _Batch) -> None:
        """Settle the blocks of one stored object as soon as they are in (I/O loop): they are
        cached at once; listeners hear of them when the view they were waiting for is complete,
        at the end of the batch, or STRAGGLER seconds later (one slow request holds none back)."""
        self._settle(source, reader, part)
        batch.arrived.update(part)
        complete = self._release(source.token, list(part), batch)
        if complete:
            self._tell(batch)
        elif batch.unheard and batch.timer is None:
            batch.timer = asyncio.get_running_loop().call_later(STRAGGLER, self._tell, batch)

    def _tell(self, batch: _Batch) -> None:
        """Tell the listeners of *batch*'s source about the blocks of it a view waited for."""
        if batch.timer is not None:
            batch.timer.cancel()  # harmless when it is what called us
            batch.timer = None
        if batch.unheard:
            batch.unheard = False
            try:
                self.notify(batch.token)
            finally:
                with self._arrived:
                    self._untold -= 1
                    self._arrived.notify_all()

    def _release(self, token: int, blocks: list[tuple[int, ...]], batch: _Batch) -> bool:
        """*blocks* are no longer in flight; whether no view waits for any block now."""
        with self._lock:
            wanted = 0
            for c in blocks:
                wanted += bool(self._inflight.pop((token, c), False))
            self._display_inflight -= wanted
            complete = self._display_inflight == 0
            if wanted and complete:
                took = time.monotonic() - self._view_since
                self._view_time = took if self._view_time is None else 0.7 * self._view_time + 0.3 * took
            if wanted and not batch.unheard:  # prefetched blocks nobody looks at yet: no refresh
                batch.unheard = True
                self._untold += 1
        with self._arrived:
            self._arrived.notify_all()
        return complete

    async def _fetch(
        self, source: EngineSource, reader: BlockReader, blocks: list[tuple[int, ...]], *, display: bool,
        on_part: Callable[[Part], None] | None = None,
    ) -> dict[tuple[int, ...], np.ndarray | Exception]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._decoding = asyncio.Semaphore(DECODERS)
            self._prefetch_decoding = asyncio.Semaphore(1)
        assert self._decoding is not None and self._prefetch_decoding is not None
        # a prefetch decodes one block at a time in slots of its own: a view never queues behind it
        decoding = self._decoding if display else self._prefetch_decoding
        gate = None if display else functools.partial(self._views_first, source.token)
        results = await reader.fetch(blocks, self._semaphore, decoding, self._count_fetched, gate,
                                     raw=(self.raw, source.token), on_part=on_part)
        if on_part is not None:  # settled part by part already
            return {}
        return self._settle(source, reader, results)

    def _settle(
        self, source: EngineSource, reader: BlockReader,
        results: Part,
    ) -> dict[tuple[int, ...], np.ndarray | Exception]:
        """Record fetched blocks: failures remembered, missing ones filled (and flagged when
        remote), the rest counted; everything that is not a failure goes into the cache."""
        out: dict[tuple[int, ...], np.ndarray | Exception] = {}
        counters = self._counters
        token = source.token
        for coords, value in results.items():
            key = (token, coords)
            if isinstance(value, Exception):
                with self._lock:
                    self._failed[key] = (time.monotonic(), str(value))
                with counters.lock:
                    counters.failures += 1
                out[coords] = value
                continue
            if isinstance(value, _Missing):
                value = reader.fill_block(coords)
                if source.remote:
                    with self._lock:
                        self._missing.add(key)
                    with counters.lock:
                        counters.missing += 1
            else:
                with counters.lock:
                    counters.blocks += 1
                    counters.bytes += value.nbytes
            with self._lock:
                self._failed.pop(key, None)
            self.cache.put(key, value)
            out[coords] = value
        return out

    def _read_local(
        self, source: EngineSource, reader: BlockReader, blocks: list[tuple[int, ...]],
        read: LocalRead, decode: Callable[[bytes, tuple[int, ...]], np.ndarray],
    ) -> dict[tuple[int, ...], np.ndarray | Exception]:
        """Read and decode local *blocks* (shared between the calling thread and the decode
        workers, no event loop involved), then settle them like :meth:`_fetch`."""

        def one(coords: tuple[int, ...]) -> np.ndarray | _Missing | Exception:
            try:
                raw = read(reader.chunk_key(coords), None)
                if raw is None:
                    return MISSING
                self._count_fetched(len(raw))
                return reader.check(decode(raw, coords), coords)
            except ZarrBrowserError as err:
                return err
            except Exception as err:  # the boundary of one block: codec and shape errors
                return _named(err, reader.describe(coords))

        return self._settle(source, reader, dict(zip(blocks, _shared_map(one, blocks), strict=True)))

    async def _views_first(self, token: int, blocks: Sequence[tuple[int, ...]]) -> None:
        """Hold a prefetch of *blocks* while a view waits for other blocks (checked every few
        milliseconds); blocks a view now waits for themselves go at once."""
        while True:
            with self._lock:
                if self._display_inflight == 0 or any(self._inflight.get((token, c)) for c in blocks):
                    return
            await asyncio.sleep(0.004)

    def _count_fetched(self, n: int) -> None:
        with self._counters.lock:
            self._counters.fetched += n

    # -- prefetch -----------------------------------------------------------------------------
    def _plan_prefetch(
        self, source: EngineSource, reader: BlockReader, plan: BlockPlan, key: Sequence[Index],
        axes: Sequence[int] | None,
    ) -> None:
        """Remember the blocks around a view, to fetch once no view waits.

        Neighbours along the axes the view does not display (the next and previous planes or
        time points) come first, then the ring around it; at most 1/PREFETCH_SHARE of the cache
        per view.  Each view (a channel taken apart counts as its own) keeps its plan.
        """
        if not plan.parts:
            return
        coords = np.array([c for c, _, _ in plan.parts])
        low, high = coords.min(axis=0), coords.max(axis=0)
        grid = [math.ceil(n / b) for n, b in zip(source.shape, reader.block_shape, strict=True)]
        block_bytes = math.prod(reader.block_shape) * source.dtype.itemsize
        budget = max(1, self.cache.max_bytes // PREFETCH_SHARE // max(1, block_bytes))
        grow = [axes is None or axis in axes for axis in range(len(grid))]
        ranges = [range(max(0, lo - g_), min(g, hi + 1 + g_))
                  for lo, hi, g, g_ in zip(low, high, grid, (int(x) for x in grow), strict=True)]
        if math.prod(len(r) for r in ranges) > 4 * MAX_BLOCKS_PER_READ:
            return
        inside = {c for c, _, _ in plan.parts}
        stepped = [isinstance(k, int) for k in key]  # axes the view shows one index of

        view = tuple((a, k) for a, k in enumerate(key) if isinstance(k, int) and not grow[a])
        here = {a: k for a, k in enumerate(key) if isinstance(k, int)}
        with self._lock:
            before = self._positions.get((source.token, view), {})
            self._positions[(source.token, view)] = here
        # the direction the user steps in along each stepped axis: that side first
        ahead = {a: 1 if k > before[a] else -1 for a, k in here.items() if a in before and k != before[a]}

        def order(c: tuple[int, ...]) -> tuple[int, int, int]:
            off_plane = sum(1 for a, v in enumerate(c) if not stepped[a] and not low[a] <= v <= high[a])
            distance = sum(max(0, lo - v, v - hi) for v, lo, hi in zip(c, low, high, strict=True))
            behind = sum(1 for a, sign in ahead.items() if (c[a] - low[a]) * sign < 0)
            return off_plane, behind, distance

        ring = sorted((c for c in itertools.product(*ranges) if c not in inside), key=order)[:budget]
        with self._lock:
            self._prefetch[(source.token, view)] = (source, ring)

    def _start_prefetch(self) -> None:
        with self._lock:
            jobs = list(self._prefetch.values())
            self._prefetch.clear()
        for source, ring in jobs:
            wanted = [c for c in ring if (source.token, c) not in self.cache]
            if not wanted:
                continue
            with self._counters.lock:
                self._counters.prefetched += len(wanted)
            self._submit(source, source.block_reader(), wanted, display=False)


_engine: StreamingEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> StreamingEngine:
    """The process-wide engine (cache size from ``ZARR_BROWSER_CACHE_MB``, default 512)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import os

            size = DEFAULT_CACHE_BYTES
            value = os.environ.get("ZARR_BROWSER_CACHE_MB", "").strip()
            if value:
                try:
                    size = max(16, int(value)) * 1024 * 1024
                except ValueError:
                    logger.warning("ZARR_BROWSER_CACHE_MB=%r is not a number; using %d MB", value, size >> 20)
            _engine = StreamingEngine(size)
        return _engine


def set_engine(engine: StreamingEngine | None) -> StreamingEngine | None:
    """Replace the process-wide engine (tests); returns the previous one."""
    global _engine
    with _engine_lock:
        previous, _engine = _engine, engine
        return previous

