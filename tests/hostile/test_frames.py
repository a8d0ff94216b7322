"""What a chunk's own bytes declare, and files that are not files: forged headers, bombs, pipes, loops.

The safety gate bounds what the metadata declares; these stores lie in their chunk frames (a
blosc header claiming 2 GiB of compressed bytes segfaulted c-blosc; a 20 KB zlib chunk of a
4 KiB array inflated to 20 MB, a 14 MB one to 3 GiB; a vlen frame asked for 2^31 items), in
the store's files (a FIFO blocked ``open()`` for ever; two symlinks back to their own group
made the walk exponential) or in a zip member that inflates to more than a document may hold.
Every case must end in an error naming the node or key, within bounded time and memory.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

from zarr_browser.core.codec_guard import DecodeRefusedError, expect_decoded, zstd_content_size, zstd_stream_bound
from zarr_browser.core.conventions import default_registry
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.safety import check_environment, open_array, read_region
from zarr_browser.core.store import RequestPolicy, run_sync
from zarr_browser.errors import ArrayReadError, DocumentTooLargeError, ZarrBrowserError

ROOT = Path(__file__).resolve().parents[2]


def v2_array(store: Path, *, compressor: dict[str, Any] | None, dtype: str = "|u1", filters: Any = None,
             shape: tuple[int, ...] = (64, 64), chunk: bytes = b"", key: str = "0.0") -> Path:
    """A v2 group with one array ``x`` whose only chunk holds *chunk* verbatim."""
    (store / "x").mkdir(parents=True)
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    (store / "x" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": list(shape), "chunks": list(shape), "dtype": dtype, "compressor": compressor,
        "filters": filters, "fill_value": 0 if dtype != "|O" else "", "order": "C"}))
    (store / "x" / key).write_bytes(chunk)
    return store


def read_x(store: Path) -> Any:
    """``/x`` read as zarr-python reads it for us (diagnostics, histograms): errors name the node."""
    hierarchy = Hierarchy.open(str(store), hints=default_registry().child_hints)
    node = hierarchy.node("/x")
    return read_region(open_array(hierarchy.access, node), node, hierarchy.url, ...)


def stream_x(store: Path) -> Any:
    """``/x`` read as napari and the previews read it (the streaming engine, knowing the chunk size)."""
    from zarr_browser.streaming.levels import LevelArray

    hierarchy = Hierarchy.open(str(store), hints=default_registry().child_hints)
    return LevelArray.open(hierarchy.access, hierarchy.node("/x"))[...]


FORGED_BLOSC = struct.pack("<BBBBIIIi", 2, 1, 0x21, 1, 4096, 4096, 0x7FFFFFFF, 0x7FFFFFF0)
"""A 20-byte blosc1 frame: nbytes 4096 (the chunk), cbytes 2 GiB (a lie), one block offset far out."""


def test_a_forged_blosc_header_is_refused_not_a_segfault(tmp_path: Path) -> None:
    """Run in a child process: before the guard, c-blosc read past the 20 bytes and the process died."""
    store = v2_array(tmp_path / "b.zarr", chunk=FORGED_BLOSC, compressor={
        "id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0})
    script = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from test_frames import read_x; from pathlib import Path\n"
        "try:\n    read_x(Path(sys.argv[1]))\nexcept Exception as err:\n    print(type(err).__name__, err)\n"
        "from zarr_browser.core.preview import make_thumbnail\n"
        "from zarr_browser.core.conventions import default_registry\n"
        "from zarr_browser.core.hierarchy import Hierarchy\n"
        "from zarr_browser.core.validate import HierarchyContext\n"
        "r = default_registry(); h = Hierarchy.open(sys.argv[1], hints=r.child_hints)\n"
        "try:\n    make_thumbnail(h.access, h.node('/x'), r, HierarchyContext(h))\n"
        "except Exception as err:\n    print(type(err).__name__, err)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(store), str(Path(__file__).parent)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, f"the process died ({result.returncode}): {result.stderr[-2000:]}"
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2, result.stdout
    for line in lines:
        assert line.startswith("ArrayReadError") and "/x" in line and "2,147,483,647 compressed bytes" in line


def test_a_zlib_bomb_is_refused_at_the_chunk_size(tmp_path: Path) -> None:
    """A 20 KB chunk that inflates to 20 MB for a 4 KiB chunk: refused after 4 KiB of output."""
    store = v2_array(tmp_path / "z.zarr", chunk=zlib.compress(bytes(20_000_000), 9),
                     compressor={"id": "zlib", "level": 1})
    with pytest.raises(ArrayReadError, match=r"x/0\.0.*decodes to more than 4,160 bytes"):
        stream_x(store)
    with pytest.raises(ArrayReadError, match=r"/x.*decodes to more than 4,160 bytes"):  # zarr's own pipeline
        read_x(store)


def test_a_vlen_item_count_beyond_its_frame_is_refused(tmp_path: Path) -> None:
    store = v2_array(tmp_path / "v.zarr", chunk=struct.pack("<I", 2**31 - 1) + bytes(16), compressor=None,
                     dtype="|O", filters=[{"id": "vlen-utf8"}], shape=(4,), key="0")
    with pytest.raises(ArrayReadError, match=r"/x.*2,147,483,647 items in 20 bytes"):
        read_x(store)


@pytest.mark.parametrize("codec", [
    numcodecs.Blosc(), numcodecs.Blosc(cname="zstd", shuffle=2), numcodecs.Zlib(), numcodecs.GZip(),
    numcodecs.BZ2(), numcodecs.LZMA(), numcodecs.LZ4(), numcodecs.Zstd(),
], ids=lambda c: type(c).__name__ + getattr(c, "cname", ""))
def test_guarded_codecs_decode_what_they_encode_and_refuse_more_than_expected(codec: Any) -> None:
    check_environment()
    data = (np.arange(100_000) % 251).astype("u1")
    frame = codec.encode(data)
    assert np.array_equal(np.frombuffer(codec.decode(frame), "u1"), data)
    out = np.empty_like(data)
    codec.decode(frame, out)
    assert np.array_equal(out, data)
    with expect_decoded(len(data)):
        codec.decode(frame)  # exactly the chunk: fine
    with expect_decoded(len(data) - 1), pytest.raises(DecodeRefusedError, match="at most 99,999"):
        codec.decode(frame)


def test_frame_headers_that_lie_are_refused() -> None:
    check_environment()
    with pytest.raises(DecodeRefusedError, match="declares 4,294,967,295 decoded bytes"):
        numcodecs.LZ4().decode(struct.pack("<I", 2**32 - 1) + bytes(8))
    # a single-segment zstd frame header declaring 2^40 bytes (8-byte content size field)
    zstd_header = struct.pack("<IB", 0xFD2FB528, 0b1110_0000) + struct.pack("<Q", 2**40) + bytes(8)
    with pytest.raises(DecodeRefusedError, match="declares 1,099,511,627,776 decoded bytes"):
        numcodecs.Zstd().decode(zstd_header)
    with pytest.raises(DecodeRefusedError, match="shorter than its 16-byte header"):
        numcodecs.Blosc().decode(b"\x02\x01")


def _zstd_stream(data: bytes) -> bytes:
    """*data* compressed by the ``zstd`` command from a pipe: a frame that declares no size."""
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True, timeout=60).stdout


def _zstd_frame(*blocks: bytes) -> bytes:
    """A zstd frame without a content size (window descriptor 2^17) holding *blocks*."""
    return struct.pack("<IBB", 0xFD2FB528, 0, 7 << 3) + b"".join(blocks)


def _rle_block(size: int, *, last: bool = False) -> bytes:
    return ((size << 3) | (1 << 1) | int(last)).to_bytes(3, "little") + b"\x07"


def test_a_zstd_chunk_streamed_without_its_size_is_read(tmp_path: Path) -> None:
    """A stream compressor writes no content size: such chunks were refused as unboundable; their
    blocks bound them (a raw or RLE block states its size, a compressed one holds at most 128 KiB)."""
    pixels = (np.arange(300 * 300) % 251).astype("u1").reshape(300, 300)
    frame = _zstd_stream(pixels.tobytes())
    assert zstd_content_size(memoryview(frame)) is None  # what the zstd command wrote from a pipe
    store = v2_array(tmp_path / "s.zarr", chunk=frame, compressor={"id": "zstd", "level": 3}, shape=(300, 300))
    assert np.array_equal(read_x(store), pixels)  # zarr's own pipeline
    assert np.array_equal(stream_x(store), pixels)  # the streaming engine, knowing the chunk's size
    check_environment()
    with expect_decoded(pixels.nbytes - 1), pytest.raises(DecodeRefusedError, match="more than 89,999 bytes"):
        numcodecs.Zstd().decode(frame)  # within a block's slack of the bound: decoded, then refused


def test_a_zstd_stream_bomb_is_refused_from_its_block_headers(tmp_path: Path) -> None:
    """40,000 RLE blocks of 4 bytes each decode to 5 GiB: refused before any is decoded."""
    bomb = _zstd_frame(*(_rle_block(128 * 1024) for _ in range(39_999)), _rle_block(128 * 1024, last=True))
    assert zstd_stream_bound(memoryview(bomb)) == 40_000 * 128 * 1024
    store = v2_array(tmp_path / "b.zarr", chunk=bomb, compressor={"id": "zstd", "level": 3})
    with pytest.raises(ArrayReadError, match=r"x/0\.0.*without a declared size has blocks that may decode to "
                                             r"more than 135,232 bytes; at most 4,160 are expected"):
        stream_x(store)
    with pytest.raises(ArrayReadError, match=r"/x.*may decode to more than 135,232 bytes"):
        read_x(store)
    empty = _zstd_frame(*(bytes(3) for _ in range(1_000_000)))  # a million empty raw blocks, never a last one
    with expect_decoded(4096), pytest.raises(DecodeRefusedError, match="may decode to more than"):
        numcodecs.Zstd().decode(empty)  # walked only until the bound passed: 131 blocks
    check_environment()
    with pytest.raises(DecodeRefusedError, match="zstd block is truncated"):
        numcodecs.Zstd().decode(_zstd_frame((100 << 3 | 1).to_bytes(3, "little") + bytes(10)))  # raw, cut short
    with pytest.raises(DecodeRefusedError, match="reserved type"):
        numcodecs.Zstd().decode(_zstd_frame((3 << 1 | 1).to_bytes(3, "little")))
    small = _zstd_frame(_rle_block(4096, last=True))  # a well-formed streamed frame: 4096 sevens
    assert numcodecs.Zstd().decode(small) == b"\x07" * 4096


@pytest.mark.timeout(60)  # a regression blocks in open() for ever
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_in_place_of_a_document_or_a_chunk_is_refused_not_waited_on(tmp_path: Path) -> None:
    """``open()`` of a FIFO blocks until a writer comes: for ever, in an untrusted store."""
    store = tmp_path / "f.zarr"
    (store / "g").mkdir(parents=True)
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    (store / "g" / ".zgroup").write_text('{"zarr_format": 2}')
    os.mkfifo(store / "g" / ".zattrs")
    hierarchy = Hierarchy.open(str(store), hints=default_registry().child_hints)
    node = hierarchy.node("/g")
    assert node.kind == "error" and "not a regular file" in str(node.error) and ".zattrs" in str(node.error)
    chunked = v2_array(tmp_path / "c.zarr", chunk=b"", compressor=None)
    (chunked / "x" / "0.0").unlink()
    os.mkfifo(chunked / "x" / "0.0")
    with pytest.raises(ZarrBrowserError, match=r"x/0\.0 is not a regular file"):
        read_x(chunked)


@pytest.mark.timeout(60)  # a regression walks 2^depth nodes
def test_symlinks_back_to_their_own_group_are_loops_not_an_endless_walk(tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    (store / "g").mkdir(parents=True)
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    (store / "g" / ".zgroup").write_text('{"zarr_format": 2}')
    (store / "g" / "l1").symlink_to("../g")
    (store / "g" / "l2").symlink_to("../g")  # 2^depth nodes without the check
    hierarchy = Hierarchy.open(str(store), hints=default_registry().child_hints)
    nodes = {node.path: node for node, _listing in hierarchy.walk()}
    assert sorted(nodes) == ["/", "/g", "/g/l1", "/g/l2"]
    for link in ("/g/l1", "/g/l2"):
        assert nodes[link].kind == "error" and "symlink loop: it leads back to g" in str(nodes[link].error)


def test_a_zip_member_that_inflates_past_the_bound_is_not_inflated(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(".zgroup", '{"zarr_format": 2}')
        zf.writestr(".zattrs", '{"a": 1}' + " " * 3_000_000)
    policy = RequestPolicy(max_document_bytes=1_000_000)
    hierarchy = Hierarchy.open(str(archive), hints=default_registry().child_hints, policy=policy)
    (note,) = [n for n in hierarchy.root.notes if ".zattrs" in n]
    assert "inflates" not in note and "over the 1000000-byte bound" in note


def test_an_oversized_remote_document_is_refused_before_it_is_downloaded(tmp_path: Path, http_server: Any) -> None:
    store = http_server.root / "big.zarr"
    store.mkdir()
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    (store / ".zattrs").write_text('{"a": "' + "x" * 200_000 + '"}')
    access_policy = RequestPolicy(max_document_bytes=10_000)
    hierarchy = Hierarchy.open(http_server.url_for("big.zarr"), hints=default_registry().child_hints,
                               policy=access_policy)
    results = run_sync(hierarchy.access.get_many([".zattrs", ".zgroup"]))
    assert isinstance(results[".zattrs"], DocumentTooLargeError) and "big.zarr/.zattrs" in str(results[".zattrs"])
    assert results[".zgroup"] == b'{"zarr_format": 2}'


def test_unread_metadata_is_an_error_in_info_and_validate(tmp_path: Path) -> None:
    """A group whose attributes could not be read was printed as if it had none, and validate
    passed with a warning: what is shown is incomplete, and CI must know."""
    import io

    from zarr_browser.cli import main

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(".zgroup", '{"zarr_format": 2}')
        zf.writestr(".zattrs", '{"a": 1}' + " " * (70 << 20))  # 70 MB inflated, ~70 KB stored
    out = io.StringIO()
    assert main(["info", str(archive)], out=out) == 0
    first = out.getvalue().splitlines()[0]
    assert "ERROR: some documents could not be read" in first and ".zattrs" in first
    out = io.StringIO()
    assert main(["validate", str(archive)], out=out) == 1
    assert "[zarr] some documents could not be read" in out.getvalue() and "1 error(s)" in out.getvalue()
