"""Partial decoding of blosc chunks: one plane of a deep chunk without decoding the rest.

A volume chunk of 32 planes holds 32 times what a 2D view of one plane needs; decoding it whole
to show one plane is most of the cost of a Z step (performance.md).  A blosc (version 1 format)
chunk is split into independently compressed *blosc blocks*, with a table of their offsets after
the 16-byte header, so a contiguous range of items can be decoded by reading the header, the
table and the blocks that hold the range.  c-blosc's ``blosc_getitem`` does this; numcodecs
links c-blosc but does not expose it, so it is called here through ctypes.

Safety with untrusted bytes: ``blosc_getitem`` (c-blosc ≥ 1.21) checks every block offset and
every stream length against the header's compressed size.  It is only ever handed a buffer
allocated here with exactly that size, after the header was checked against the chunk the
metadata declares (format version, uncompressed size, typesize, block size), so it cannot read
or write outside memory we own.  A chunk whose header does not qualify is decoded whole by the
ordinary codec instead.

Nothing here imports Qt or napari.
"""

from __future__ import annotations

import ctypes
import logging
import math
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["BloscHeader", "SlabLayout", "getitem_available", "parse_header", "slab_layout"]

logger = logging.getLogger(__name__)

HEADER = 16
"""Bytes of a blosc (format 2) header."""

PREFIX = 4096
"""Bytes read first from a chunk: the header and an offset table of up to 1020 blocks."""

MIN_CHUNK_BYTES = 1 << 20
"""Chunks smaller than this (decoded) are always decoded whole."""

MIN_SLAB_BYTES = 64 * 1024
"""A slab holds at least this many bytes (planes are grouped when they are smaller)."""

WHOLE_SHARE = 0.5
"""When a fetch needs at least this share of a chunk's slabs, the chunk is decoded whole."""

_MEMCPYED = 0x02
_FORMAT = 2
_MAX_BLOCKSIZE = 2**31 - 1 - 16
_MAX_TYPESIZE = 255

_lib_lock = threading.Lock()
_getitem: Callable[..., int] | None = None
_loaded = False


def _load() -> Callable[..., int] | None:
    global _getitem, _loaded
    with _lib_lock:
        if _loaded:
            return _getitem
        _loaded = True
        try:
            import numcodecs.blosc

            lib = ctypes.CDLL(numcodecs.blosc.__file__)
            function = lib.blosc_getitem
            function.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
            function.restype = ctypes.c_int
            version = getattr(numcodecs.blosc, "VERSION_STRING", "0")
            major, minor = (int(p) for p in version.split(".")[:2])
            if (major, minor) < (1, 21):  # before 1.21, getitem did not check offsets
                logger.info("c-blosc %s: partial decoding is off", version)
                return None
            _getitem = function
        except (ImportError, OSError, AttributeError, ValueError) as err:
            logger.info("blosc partial decoding is unavailable: %s", err)
        return _getitem


def getitem_available() -> bool:
    """Whether c-blosc's ``blosc_getitem`` can be called."""
    return _load() is not None


@dataclass(frozen=True, slots=True)
class BloscHeader:
    flags: int
    typesize: int
    nbytes: int
    blocksize: int
    cbytes: int

    @property
    def memcpyed(self) -> bool:
        return bool(self.flags & _MEMCPYED)

    @property
    def nblocks(self) -> int:
        return -(-self.nbytes // self.blocksize)

    @property
    def table_end(self) -> int:
        """Where the block offset table ends (the header alone for an uncompressed chunk)."""
        return HEADER if self.memcpyed else HEADER + 4 * self.nblocks


def parse_header(prefix: bytes | memoryview, nbytes: int) -> BloscHeader | None:
    """The header of a blosc chunk whose decoded size must be *nbytes*; None when it is not one
    that partial decoding handles (another format, another size, implausible sizes)."""
    if len(prefix) < HEADER:
        return None
    version, _, flags, typesize, size, blocksize, cbytes = struct.unpack_from("<BBBBiii", prefix)
    if version != _FORMAT or size != nbytes or not 0 < typesize <= _MAX_TYPESIZE:
        return None
    if not 0 < blocksize <= min(size, _MAX_BLOCKSIZE):
        return None
    header = BloscHeader(flags, typesize, size, blocksize, cbytes)
    if header.memcpyed:
        if cbytes != size + HEADER:
            return None
    elif not header.table_end < cbytes <= 2 * size + header.table_end + 4 * typesize * header.nblocks + 64:
        return None
    return header


def block_span(header: BloscHeader, table: np.ndarray | None, start: int, stop: int) -> tuple[int, int]:
    """The compressed byte range holding decoded bytes [*start*, *stop*) (offsets in the chunk)."""
    if header.memcpyed:
        return HEADER + start, HEADER + stop
    assert table is not None
    first, last = start // header.blocksize, (stop - 1) // header.blocksize
    starts = table.astype(np.int64)
    lo = int(starts[first : last + 1].min())
    top = int(starts[first : last + 1].max())
    after = starts[starts > top]
    hi = int(after.min()) if after.size else header.cbytes
    return max(lo, header.table_end), min(max(hi, lo), header.cbytes)


def getitem(buffer: np.ndarray, header: BloscHeader, start: int, out: np.ndarray) -> None:
    """Decode bytes [*start*, *start* + out.nbytes) of the chunk in *buffer* into *out*.

    *buffer* is exactly ``header.cbytes`` long (bytes not needed may be left zero).
    """
    function = _load()
    if function is None:
        raise RuntimeError("blosc partial decoding is unavailable")
    if buffer.nbytes != header.cbytes or buffer.dtype != np.uint8 or not buffer.flags.c_contiguous:
        raise ValueError("the compressed buffer does not match its header")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("the output must be a writable contiguous array")
    size = out.nbytes
    if start % header.typesize or size % header.typesize or start + size > header.nbytes:
        raise ValueError(f"bytes {start}–{start + size} do not fit items of {header.typesize} bytes")
    done = function(buffer.ctypes.data, start // header.typesize, size // header.typesize, out.ctypes.data)
    if done != size:
        raise ValueError(f"blosc could not decode bytes {start}–{start + size} (code {done})")


@dataclass(frozen=True, slots=True)
class SlabLayout:
    """How the chunks of an array split into slabs: contiguous runs of planes along one axis."""

    axis: int
    thickness: int
    slab_shape: tuple[int, ...]
    per_chunk: tuple[int, ...]
    slab_bytes: int
    chunk_bytes: int

    def offset(self, coords: Sequence[int]) -> int:
        """Where slab *coords* (block coordinates) starts in its decoded chunk, in bytes."""
        return (coords[self.axis] % self.per_chunk[self.axis]) * self.slab_bytes


def slab_layout(chunk_shape: Sequence[int], itemsize: int) -> SlabLayout | None:
    """Slabs for chunks of *chunk_shape*: along the first axis longer than 1 that leaves at least
    two axes inside (the displayed plane), thick enough to hold MIN_SLAB_BYTES; None when chunks
    are too small or too flat to gain anything."""
    chunk_shape = tuple(int(n) for n in chunk_shape)
    chunk_bytes = math.prod(chunk_shape) * itemsize
    if chunk_bytes < MIN_CHUNK_BYTES or not getitem_available():
        return None
    axis = next((a for a, n in enumerate(chunk_shape) if n > 1), None)
    if axis is None or axis > len(chunk_shape) - 3:
        return None
    plane = math.prod(chunk_shape[axis + 1 :]) * itemsize
    depth = chunk_shape[axis]
    thickness = next((t for t in range(1, depth + 1) if depth % t == 0 and t * plane >= MIN_SLAB_BYTES), depth)
    if thickness == depth:
        return None
    slab_shape = tuple(thickness if a == axis else n for a, n in enumerate(chunk_shape))
    per_chunk = tuple(depth // thickness if a == axis else 1 for a in range(len(chunk_shape)))
    return SlabLayout(axis, thickness, slab_shape, per_chunk, thickness * plane, chunk_bytes)
