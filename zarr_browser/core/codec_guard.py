"""Codecs that check what a frame declares before they allocate or read: bombs and forged headers.

The safety gate (:mod:`zarr_browser.core.safety`) bounds what the *metadata* declares.  A
chunk's own bytes declare sizes too, and numcodecs trusts them:

* c-blosc 1.x has no source-length argument: a 20-byte frame whose header claims 2 GiB of
  compressed bytes (``cbytes``) makes it read far past the buffer — a segmentation fault;
* zlib, gzip, bz2 and lzma inflate without a bound (a 14 MB zlib chunk of a 4 KiB array is
  3 GiB), and lz4 and zstd allocate the size their frame header announces;
* ``vlen-utf8`` / ``vlen-bytes`` / ``vlen-array`` allocate an object array of the item count
  in their first four bytes (2^31 − 1 items for a 20-byte chunk: 16 GiB).

:func:`install` wraps the ``decode`` method of those numcodecs classes (which zarr v2 and v3
both use) with checks that refuse such frames with a ValueError before anything is allocated,
and bounds every decoded frame at :attr:`Limits.max_chunk_bytes` — or, inside
:func:`expect_decoded`, at the chunk size the caller knows.  Well-formed frames decode as
before (through the original methods).  The wrappers are installed once per process, by
:func:`zarr_browser.core.safety.check_environment`.
"""

from __future__ import annotations

import bz2
import contextlib
import contextvars
import lzma
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["DecodeRefusedError", "decoded_limit", "expect_decoded", "frame_bound", "install", "zstd_stream_bound"]

_ZSTD_MAGIC = 0xFD2FB528
_installed = False
_install_lock = threading.Lock()
_expected: contextvars.ContextVar[int | None] = contextvars.ContextVar("zarr_browser_expected_decoded", default=None)


class DecodeRefusedError(ValueError):
    """A frame declares more than the chunk may hold, or more bytes than it has."""


@contextlib.contextmanager
def expect_decoded(nbytes: int) -> Iterator[None]:
    """Within the block, frames decoded may hold at most *nbytes* (the chunk): on this thread,
    and in the tasks and worker threads (``asyncio.to_thread``) started from it, which copy
    the context — zarr's own pipeline decodes there."""
    token = _expected.set(nbytes)
    try:
        yield
    finally:
        _expected.reset(token)


def frame_bound(nbytes: int, *, widened: bool = False) -> int:
    """Most bytes one frame of a chunk of *nbytes* may decode to: the chunk plus a checksum's
    slack (a crc32c inside the compressor), or 16 times it behind array-to-array codecs that
    may widen the stored type — bounded by the chunk either way, never by what the frame claims."""
    return (16 * nbytes if widened else nbytes) + 64


def decoded_limit() -> int:
    """Most bytes one frame may decode to here: the expected chunk size, else the global bound."""
    from zarr_browser.core.safety import Limits

    expected = _expected.get()
    bound = Limits.from_env().max_chunk_bytes
    return bound if expected is None else min(expected, bound)


def _bytes_of(buf: Any) -> memoryview:
    """The bytes of any buffer numcodecs accepts (bytes, numpy arrays, zarr buffers' memory)."""
    if isinstance(buf, bytes):
        return memoryview(buf)
    array: Any = np.ascontiguousarray(buf).reshape(-1).view(np.uint8)
    return memoryview(array)


def _copy_out(data: bytes, out: Any) -> Any:
    if out is None:
        return data
    from numcodecs.compat import ndarray_copy

    return ndarray_copy(data, out)


def _too_big(kind: str, declared: int | None, limit: int) -> DecodeRefusedError:
    what = f"declares {declared:,} decoded bytes" if declared is not None else f"decodes to more than {limit:,} bytes"
    return DecodeRefusedError(f"{kind} frame {what}; at most {limit:,} are expected (a decompression bomb or a "
                              "corrupt chunk)")


# -- checks of declared sizes -----------------------------------------------------------------------


def check_blosc(buf: Any, out: Any = None) -> None:
    """A blosc1 frame: a 16-byte header whose compressed size is the frame's own and whose
    decoded size fits (c-blosc trusts both, and reads or writes past the buffers otherwise)."""
    data = _bytes_of(buf)
    if len(data) < 16:
        raise DecodeRefusedError(f"blosc frame of {len(data)} bytes is shorter than its 16-byte header")
    nbytes = int.from_bytes(data[4:8], "little")
    blocksize = int.from_bytes(data[8:12], "little")
    cbytes = int.from_bytes(data[12:16], "little")
    if cbytes > len(data) or cbytes < 16:
        raise DecodeRefusedError(f"blosc header says {cbytes:,} compressed bytes, the frame has {len(data):,}")
    if nbytes and blocksize == 0:
        raise DecodeRefusedError("blosc header has a block size of 0")
    limit = decoded_limit()
    if out is not None:
        limit = min(limit, np.asarray(out).nbytes)
    if nbytes > limit:
        raise _too_big("blosc", nbytes, limit)


def _prefix(buf: Any, kind: str, what: str) -> tuple[memoryview, int]:
    """The frame's bytes and the little-endian 32-bit number it starts with (*what* it counts)."""
    data = _bytes_of(buf)
    if len(data) < 4:
        raise DecodeRefusedError(f"{kind} frame of {len(data)} bytes is shorter than its {what}")
    return data, int.from_bytes(data[:4], "little")


def check_lz4(buf: Any) -> None:
    _data, declared = _prefix(buf, "lz4", "size prefix")
    limit = decoded_limit()
    if declared > limit:
        raise _too_big("lz4", declared, limit)


def zstd_content_size(data: memoryview) -> int | None:
    """The decoded size the first zstd frame declares (None when it declares none)."""
    if len(data) < 5 or int.from_bytes(data[:4], "little") != _ZSTD_MAGIC:
        raise DecodeRefusedError("not a zstd frame (bad magic number)")
    descriptor = data[4]
    fcs_flag, single_segment, dict_flag = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    at = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
    width = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    if width == 0:
        return None
    if len(data) < at + width:
        raise DecodeRefusedError("zstd frame header is truncated")
    size = int.from_bytes(data[at:at + width], "little")
    return size + 256 if width == 2 else size


#: the most one zstd block decodes to (RFC 8878 3.1.1.2: Block_Maximum_Size, at most 128 KiB)
_ZSTD_BLOCK_MAX = 128 * 1024
_ZSTD_SKIPPABLE = range(0x184D2A50, 0x184D2A60)
#: each block counts as at least this much in the bound: a frame of tiny or empty blocks (3 bytes
#: each) cannot make the walk long; real encoders' blocks are far larger except the last
_ZSTD_BLOCK_MIN = 1024


def zstd_stream_bound(data: memoryview, stop: int | None = None) -> int:
    """Most bytes the zstd frames in *data* can decode to, from their block headers alone.

    For frames that do not declare their size (written by a streaming compressor: the ``zstd``
    command reading a pipe, zstd-jni's streams): a raw or RLE block decodes to its stated size,
    a compressed block to at most 128 KiB, so summing them over every frame bounds the output
    before anything is decoded (every block counts as at least 1 KiB).  The walk ends as soon as
    the bound passes *stop*.  Raises DecodeRefusedError for a malformed or truncated frame.
    """
    total, at, end = 0, 0, len(data)
    while at < end:
        if end - at < 8 and not data[at:].tobytes().strip(b"\0"):
            break  # zero padding after the last frame
        if end - at < 5:
            raise DecodeRefusedError("zstd frame header is truncated")
        magic = int.from_bytes(data[at:at + 4], "little")
        if magic in _ZSTD_SKIPPABLE:
            if end - at < 8:
                raise DecodeRefusedError("zstd skippable frame is truncated")
            at += 8 + int.from_bytes(data[at + 4:at + 8], "little")
            continue
        if magic != _ZSTD_MAGIC:
            raise DecodeRefusedError("not a zstd frame (bad magic number)")
        descriptor = data[at + 4]
        fcs_flag, single_segment, checksum, dict_flag = (descriptor >> 6, (descriptor >> 5) & 1,
                                                         (descriptor >> 2) & 1, descriptor & 3)
        at += 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag] \
            + (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
        while True:
            if end - at < 3:
                raise DecodeRefusedError("zstd block header is truncated")
            header = int.from_bytes(data[at:at + 3], "little")
            last, kind, size = header & 1, (header >> 1) & 3, header >> 3
            at += 3
            if kind == 3:
                raise DecodeRefusedError("zstd frame has a block of the reserved type")
            stored = 1 if kind == 1 else size  # an RLE block stores one byte
            if end - at < stored:
                raise DecodeRefusedError("zstd block is truncated")
            total += _ZSTD_BLOCK_MAX if kind == 2 else max(size, _ZSTD_BLOCK_MIN)
            at += stored
            if last or (stop is not None and total > stop):
                break
        if stop is not None and total > stop:
            break
        at += 4 * checksum
    return total


def check_zstd(buf: Any) -> None:
    data = _bytes_of(buf)
    declared = zstd_content_size(data)
    limit = decoded_limit()
    if declared is None:  # streamed: bounded by its blocks, then numcodecs decodes it by streaming
        # a block may hold less than the bound counts: one block's slack is let through here
        # (memory stays bounded) and the size decoded is checked afterwards (_checked_zstd)
        stop = limit + _ZSTD_BLOCK_MAX
        bound = zstd_stream_bound(data, stop)
        if bound > stop:
            raise DecodeRefusedError(f"zstd frame without a declared size has blocks that may decode to more than "
                                     f"{stop:,} bytes; at most {limit:,} are expected (a decompression bomb or a "
                                     "corrupt chunk)")
        return
    if declared > limit:
        raise _too_big("zstd", declared, limit)


def check_vlen(buf: Any) -> None:
    """A vlen frame's item count: each item needs at least its 4-byte length."""
    data, count = _prefix(buf, "vlen", "item count")
    if count > (len(data) - 4) // 4:
        raise DecodeRefusedError(f"vlen frame declares {count:,} items in {len(data):,} bytes")


# -- bounded inflation ------------------------------------------------------------------------------


def bounded_zlib(data: Any, *, wbits: int = zlib.MAX_WBITS) -> bytes:
    limit = decoded_limit()
    view = _bytes_of(data)
    pieces, total = [], 0
    while True:  # gzip may hold several members
        decompressor = zlib.decompressobj(wbits)
        piece = decompressor.decompress(view, limit + 1 - total)
        total += len(piece)
        pieces.append(piece)
        if total > limit or decompressor.unconsumed_tail:
            raise _too_big("gzip" if wbits > 15 else "zlib", None, limit)
        if not decompressor.eof:
            raise DecodeRefusedError("compressed stream is truncated")
        rest = decompressor.unused_data
        if not rest or wbits <= 15 or not rest.strip(b"\0"):
            return b"".join(pieces)
        view = memoryview(rest)


def _bounded_stdlib(make: Callable[[], Any], kind: str, data: Any) -> bytes:
    limit = decoded_limit()
    decompressor = make()
    out = decompressor.decompress(_bytes_of(data), limit + 1)
    if len(out) > limit or (not decompressor.eof and not decompressor.needs_input):
        raise _too_big(kind, None, limit)
    if not decompressor.eof:
        raise DecodeRefusedError(f"{kind} stream is truncated")
    return out


# -- installing the wrappers ------------------------------------------------------------------------


def _checked(original: Callable[..., Any], check: Callable[..., None], *, with_out: bool = False) -> Callable[..., Any]:
    def decode(self: Any, buf: Any, out: Any = None) -> Any:
        if with_out:
            check(buf, out)
        else:
            check(buf)
        return original(self, buf, out)

    decode.__doc__ = original.__doc__
    decode._zarr_browser_guard = True  # type: ignore[attr-defined]
    return decode


def _checked_zstd(original: Callable[..., Any]) -> Callable[..., Any]:
    """Zstd's decode, checked before (:func:`check_zstd`) and after: a frame without a declared
    size is bounded by its blocks only within a block's slack."""
    def decode(self: Any, buf: Any, out: Any = None) -> Any:
        check_zstd(buf)
        decoded = original(self, buf, out)
        limit = decoded_limit()
        if out is None and len(_bytes_of(decoded)) > limit:
            raise _too_big("zstd", None, limit)
        return decoded

    decode.__doc__ = original.__doc__
    decode._zarr_browser_guard = True  # type: ignore[attr-defined]
    return decode


def install() -> None:
    """Wrap numcodecs' decoders with the checks above (once per process; idempotent)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        from numcodecs import blosc, lz4, vlen, zstd
        from numcodecs import bz2 as nc_bz2
        from numcodecs import gzip as nc_gzip
        from numcodecs import lzma as nc_lzma
        from numcodecs import zlib as nc_zlib

        blosc.Blosc.decode = _checked(blosc.Blosc.decode, check_blosc, with_out=True)
        original_decompress = blosc.decompress

        def decompress(source: Any, dest: Any = None) -> Any:  # what the engine's fast path calls
            check_blosc(source, dest)
            return original_decompress(source, dest)

        blosc.decompress = decompress
        lz4.LZ4.decode = _checked(lz4.LZ4.decode, check_lz4)
        zstd.Zstd.decode = _checked_zstd(zstd.Zstd.decode)
        for cls in (vlen.VLenUTF8, vlen.VLenBytes, vlen.VLenArray):
            cls.decode = _checked(cls.decode, check_vlen)
        nc_zlib.Zlib.decode = lambda self, buf, out=None: _copy_out(bounded_zlib(buf), out)
        nc_gzip.GZip.decode = lambda self, buf, out=None: _copy_out(bounded_zlib(buf, wbits=31), out)
        nc_bz2.BZ2.decode = lambda self, buf, out=None: _copy_out(
            _bounded_stdlib(bz2.BZ2Decompressor, "bz2", buf), out)
        nc_lzma.LZMA.decode = lambda self, buf, out=None: _copy_out(
            _bounded_stdlib(lambda: lzma.LZMADecompressor(format=self.format, filters=self.filters), "lzma", buf), out)
        _installed = True
