"""On-demand storage diagnostics of one array: objects initialised, bytes stored, ratio.

These facts need a listing of every stored object of the array, which for big remote arrays
is slow, so they are never computed while browsing: callers run :func:`diagnose_array` in a
worker with a progress callback and a cancel event.

The compression ratio is that of what is stored: the decoded size of the stored chunks (edge
chunks clipped to the array) over their bytes.  The logical size of the whole array over the
bytes stored would count unwritten chunks as compressed to nothing (random data written in one
chunk of four read as 4×).  A stored shard counts the inner chunks its index lists, read with
one small range request per shard; where the index is not read (a remote store with many
shards, index codecs other than ``bytes`` + ``crc32c``), the shard counts whole.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from zarr_browser.core.model import ArrayMeta, CodecInfo, Node, key_prefix
from zarr_browser.core.safety import Limits, itemsize
from zarr_browser.core.store import StoreAccess, run_sync
from zarr_browser.errors import StoreBoundaryError, StoreReadError

__all__ = ["ArrayDiagnostics", "diagnose_array"]

ProgressCallback = Callable[[int, int], None]
"""Called with (objects seen so far, objects expected)."""

REMOTE_INDEX_READS = 64
"""Shard indexes read on a remote store at most (one concurrent round of small requests); with
more shards stored, each counts whole rather than the run costing a request per shard."""
_INDEX_BATCH = 256
_EMPTY = np.uint64(2**64 - 1)  # offset and length of an inner chunk that is not stored


@dataclass(frozen=True, slots=True)
class ArrayDiagnostics:
    """What is stored for one array.

    Attributes
    ----------
    unit
        ``"chunks"``, or ``"shards"`` for sharded arrays (the stored objects).
    expected
        Number of objects a fully written array has.
    initialised
        Number of objects present in the store.
    bytes_stored
        Sum of their sizes.
    logical_bytes
        Size of the whole decoded array (None for variable-length types).
    stray
        Keys below the array that are neither metadata nor valid chunk keys.
    cancelled
        True when the run was cancelled (the counts are partial).
    decoded_bytes
        Decoded size of what is stored: the stored chunks, clipped to the array at its edges;
        for shards, the inner chunks their indexes list (None for variable-length types).
    inner_initialised
        For shards whose indexes were all read: the inner chunks stored in them, else None.
    inner_expected
        The inner chunks those shards hold when fully written (within the array), else None.
    """

    path: str
    unit: Literal["chunks", "shards"]
    expected: int
    initialised: int
    bytes_stored: int
    logical_bytes: int | None
    stray: int = 0
    cancelled: bool = False
    decoded_bytes: int | None = None
    inner_initialised: int | None = None
    inner_expected: int | None = None

    @property
    def ratio(self) -> float | None:
        """Compression ratio of what is stored (decoded size of the stored chunks / bytes
        stored), or None when undefined (nothing stored, variable-length types)."""
        if not self.decoded_bytes or not self.bytes_stored:
            return None
        return self.decoded_bytes / self.bytes_stored

    @property
    def shards_counted_whole(self) -> bool:
        """True when stored shards were counted whole (their indexes were not read)."""
        return self.unit == "shards" and self.initialised > 0 and self.inner_initialised is None

    @property
    def fraction_initialised(self) -> float:
        return self.initialised / self.expected if self.expected else 1.0


def _chunk_key_pattern(node: Node) -> re.Pattern[str]:
    assert node.array is not None
    array = node.array
    sep = re.escape(array.separator)
    index = r"(\d+)"
    if array.ndim == 0:
        body = "c" if array.chunk_key_encoding == "default" else "0"
        return re.compile(f"^{body}$")
    indices = sep.join([index] * array.ndim)
    if array.chunk_key_encoding == "default":
        return re.compile(f"^c{sep}{indices}$")
    return re.compile(f"^{indices}$")


def diagnose_array(
    access: StoreAccess,
    node: Node,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    report_every: int = 1000,
) -> ArrayDiagnostics:
    """Count the stored objects of array *node* and their bytes (blocking; run in a worker)."""
    return run_sync(adiagnose_array(access, node, progress=progress, cancel=cancel, report_every=report_every))


async def adiagnose_array(
    access: StoreAccess,
    node: Node,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    report_every: int = 1000,
) -> ArrayDiagnostics:
    if node.array is None:
        raise ValueError(f"{node.path} is not an array")
    array = node.array
    grid = array.grid
    outer = array.shards or array.chunks
    expected = math.prod(grid)
    pattern = _chunk_key_pattern(node)
    prefix = key_prefix(node.path)
    initialised = stored = stray = seen = elements = 0
    shards: list[tuple[str, tuple[int, ...]]] = []
    cancelled = False
    async for key, size in access.list_sizes(prefix):
        rel = key[len(prefix):] if key.startswith(prefix) else key
        if rel in ("zarr.json", ".zarray", ".zattrs", ".zgroup"):
            continue
        match = pattern.match(rel)
        coords = tuple(int(i) for i in match.groups()) if match else None
        if coords is not None and all(i < n for i, n in zip(coords, grid, strict=True)):
            initialised += 1
            stored += size
            elements += _clipped(coords, outer, array.shape)
            if array.shards:
                shards.append((key, coords))
        else:
            stray += 1
        seen += 1
        if seen % report_every == 0:
            if progress is not None:
                progress(initialised, expected)
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
    if progress is not None and not cancelled:
        progress(initialised, expected)
    inner: tuple[int, int] | None = None
    if shards and not cancelled and (not access.is_remote or len(shards) <= REMOTE_INDEX_READS):
        counted = await _count_inner(access, array, shards, cancel)
        if counted is not None:
            elements, inner = counted
        cancelled = cancel is not None and cancel.is_set()
    item_size = itemsize(array)
    logical = math.prod(array.shape) * item_size if item_size is not None else None
    return ArrayDiagnostics(
        node.path, "shards" if array.shards else "chunks", expected, initialised, stored, logical, stray, cancelled,
        decoded_bytes=elements * item_size if item_size is not None else None,
        inner_initialised=inner[0] if inner else None, inner_expected=inner[1] if inner else None,
    )


def _clipped(coords: Sequence[int], outer: Sequence[int], shape: Sequence[int]) -> int:
    """Elements of the array inside the chunk (or shard) at *coords*: an edge one holds fewer."""
    return math.prod(max(0, min(c, s - i * c)) for i, c, s in zip(coords, outer, shape, strict=True))


def _index_layout(array: ArrayMeta) -> tuple[CodecInfo, tuple[int, ...], str, int] | None:
    """The sharding codec, inner chunks per shard, dtype and byte size of a shard index that can
    be read here (``bytes`` with an optional ``crc32c``, as zarr-python writes it), else None."""
    sharding = next((c for c in array.codecs if c.name == "sharding_indexed"), None)
    if sharding is None or array.shards is None:
        return None
    if any(c == 0 or s % c for s, c in zip(array.shards, array.chunks, strict=True)):
        return None
    per_shard = tuple(s // c for s, c in zip(array.shards, array.chunks, strict=True))
    if math.prod(per_shard) > Limits.from_env().max_shard_index_entries:
        return None
    names = [c.name for c in sharding.index]
    if names not in (["bytes"], ["bytes", "crc32c"]):
        return None
    endian = sharding.index[0].configuration.get("endian", "little")
    if endian not in ("little", "big"):
        return None
    size = 16 * math.prod(per_shard) + (4 if "crc32c" in names else 0)
    return sharding, per_shard, "<u8" if endian == "little" else ">u8", size


async def _count_inner(
    access: StoreAccess,
    array: ArrayMeta,
    shards: Sequence[tuple[str, tuple[int, ...]]],
    cancel: threading.Event | None,
) -> tuple[int, tuple[int, int] | None] | None:
    """The elements of the stored inner chunks and (inner chunks stored, inner chunks the shards
    hold within the array), read from the shards' indexes; None when they cannot be read here
    (or the run was cancelled).

    A shard whose index cannot be read counts whole, and the inner counts are then unknown."""
    from zarr.abc.store import RangeByteRequest, SuffixByteRequest
    from zarr.core.buffer import default_buffer_prototype

    layout = _index_layout(array)
    if layout is None:
        return None
    sharding, per_shard, dtype, size = layout
    at_start = sharding.configuration.get("index_location", "end") == "start"
    wanted = RangeByteRequest(0, size) if at_start else SuffixByteRequest(size)
    prototype = default_buffer_prototype()
    assert array.shards is not None
    elements = present = holds = 0
    complete = True

    async def one(key: str) -> bytes | None:
        try:
            buffer = await access.zarr_store.get(key, prototype, wanted)
        except (StoreReadError, StoreBoundaryError, OSError):
            return None
        return None if buffer is None else buffer.to_bytes()

    for start in range(0, len(shards), _INDEX_BATCH):
        if cancel is not None and cancel.is_set():
            return None
        batch = shards[start : start + _INDEX_BATCH]
        indexes = await asyncio.gather(*(one(key) for key, _ in batch))
        for (_, coords), data in zip(batch, indexes, strict=True):
            # elements of each inner chunk of this shard inside the array (0 past its edge)
            sizes = [np.clip(s - (i * p + np.arange(p)) * c, 0, c)
                     for i, p, c, s in zip(coords, per_shard, array.chunks, array.shape, strict=True)]
            inside = sizes[0]
            for axis in sizes[1:]:
                inside = np.multiply.outer(inside, axis)
            if data is None or len(data) < size:
                complete = False
                elements += _clipped(coords, array.shards, array.shape)
                continue
            table = np.frombuffer(data, dtype, 2 * math.prod(per_shard)).reshape(*per_shard, 2)
            stored = ~((table[..., 0] == _EMPTY) & (table[..., 1] == _EMPTY))
            elements += int(inside[stored].sum())
            present += int(np.count_nonzero(stored & (inside > 0)))
            holds += int(np.count_nonzero(inside))
    return elements, (present, holds) if complete else None
