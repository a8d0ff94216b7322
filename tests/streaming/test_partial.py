"""Planes of deep blosc chunks decoded alone (``streaming/partial.py`` and the engine's slabs).

Every store is written by zarr-python with numcodecs' blosc; every read is compared with
zarr-python reading the same region.  The corrupt-chunk test runs in a subprocess, so that a
crash in C would fail the test with its output instead of taking pytest down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.errors import ZarrBrowserError
from zarr_browser.streaming import partial
from zarr_browser.streaming.engine import StreamingEngine
from zarr_browser.streaming.levels import LevelArray

pytestmark = pytest.mark.skipif(not partial.getitem_available(), reason="numcodecs links no c-blosc ≥ 1.21")


def write(path: Path, data: np.ndarray, chunks: tuple[int, ...], *, zarr_format: int = 3, cname: str = "zstd",
          clevel: int = 5, shuffle: str = "shuffle") -> None:
    import numcodecs
    import zarr
    from zarr.codecs import BloscCodec

    kinds = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}
    group = zarr.open_group(str(path), mode="a", zarr_format=zarr_format)
    if zarr_format == 2:
        compressor: Any = numcodecs.Blosc(cname=cname, clevel=clevel, shuffle=kinds[shuffle])
    else:
        compressor = BloscCodec(cname=cname, clevel=clevel, shuffle=shuffle)
    array = group.create_array("a", shape=data.shape, chunks=chunks, dtype=data.dtype, compressors=compressor,
                               fill_value=0)
    array[...] = data


def level(url: str) -> LevelArray:
    hierarchy = Hierarchy.open(url)
    return LevelArray.open(hierarchy.access, hierarchy.node("/a"))


def volume(shape: tuple[int, ...], dtype: str = "uint16", seed: int = 0) -> np.ndarray:
    """Smooth, microscopy-like data (compressible, so blocks differ in size)."""
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.integers(-3, 4, shape), axis=-1)
    return (base - base.min()).astype(dtype)


def test_slab_layouts() -> None:
    layout = partial.slab_layout((1, 32, 256, 256), 2)
    assert layout is not None
    assert (layout.axis, layout.thickness, layout.slab_shape) == (1, 1, (1, 1, 256, 256))
    assert layout.per_chunk == (1, 32, 1, 1) and layout.offset((0, 37, 4, 4)) == 5 * 256 * 256 * 2
    thin = partial.slab_layout((64, 128, 128), 1)  # 16 KiB planes: grouped by 4 to reach 64 KiB
    assert thin is not None and thin.slab_shape == (4, 128, 128)
    assert partial.slab_layout((2048, 2048), 2) is None  # no axis outside the plane
    assert partial.slab_layout((4, 64, 64), 2) is None  # too small to gain anything


def test_a_plane_reads_only_its_compressed_blocks(engine: StreamingEngine, tmp_path: Path) -> None:
    truth = volume((64, 256, 512))
    write(tmp_path / "v.zarr", truth, (32, 256, 256))
    array = level(str(tmp_path / "v.zarr"))
    assert array.source.block_reader().slabbed
    plane = array[40]
    np.testing.assert_array_equal(plane, truth[40])
    stats = engine.stats()
    compressed = sum(f.stat().st_size for f in (tmp_path / "v.zarr" / "a" / "c").rglob("*") if f.is_file())
    # two chunks are touched; far less than their compressed size is read, one plane each is decoded
    assert stats["fetched_bytes"] < compressed / 2 / 4
    assert stats["cache_bytes"] == truth[40].nbytes
    np.testing.assert_array_equal(array[10:50:3, 100:300, 7], truth[10:50:3, 100:300, 7])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_slabs_equal_zarr_for_any_codec_and_region(
    data: Any, engine: StreamingEngine, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    dtype = data.draw(st.sampled_from(["uint8", "uint16", "int32", "float32", "float64"]))
    cz, cy, cx = data.draw(st.tuples(st.integers(2, 12), st.integers(3, 40), st.integers(3, 40)))
    monkeypatch.setattr(partial, "MIN_CHUNK_BYTES", 1)  # slabs of planes, or of 2 planes when they are small
    monkeypatch.setattr(partial, "MIN_SLAB_BYTES", cy * cx * np.dtype(dtype).itemsize * data.draw(st.integers(1, 2)))
    shape = (data.draw(st.integers(1, 3)), data.draw(st.integers(cz, 3 * cz)), data.draw(st.integers(cy, 2 * cy)),
             data.draw(st.integers(cx, 2 * cx)))
    truth = volume(shape, dtype, seed=data.draw(st.integers(0, 99)))
    cname = data.draw(st.sampled_from(["zstd", "lz4", "blosclz", "zlib"]))
    clevel = data.draw(st.sampled_from([0, 1, 5, 9]))  # 0: stored uncompressed (memcpyed)
    shuffle = data.draw(st.sampled_from(["noshuffle", "shuffle", "bitshuffle"]))
    zarr_format = data.draw(st.sampled_from([2, 3]))
    path = tmp_path_factory.mktemp("slabs") / "s.zarr"
    write(path, truth, (1, cz, cy, cx), zarr_format=zarr_format, cname=cname, clevel=clevel, shuffle=shuffle)
    array = level(str(path))
    planes = partial.MIN_SLAB_BYTES // (cy * cx * truth.itemsize)  # planes per slab at least: 1 or 2
    assert array.source.block_reader().slabbed == any(cz % t == 0 for t in range(planes, cz))
    for _ in range(3):
        key = tuple(
            data.draw(st.one_of(st.integers(0, n - 1), st.builds(slice, st.integers(0, n - 1), st.integers(1, n),
                                                                 st.integers(1, 3))))
            for n in shape
        )
        key = tuple(slice(k.start, max(k.start + 1, k.stop), k.step) if isinstance(k, slice) else k for k in key)
        np.testing.assert_array_equal(array[key], truth[key])
    engine.clear_cache()


def test_remote_planes_of_one_chunk_download_it_once(engine: StreamingEngine, http_server: Any) -> None:
    truth = volume((1, 32, 256, 256))
    write(http_server.root / "r.zarr", truth, (1, 32, 256, 256))
    array = level(http_server.url_for("r.zarr"))
    assert array.source.block_reader().slabbed
    http_server.reset_stats()
    for z in (3, 4, 20, 31):  # the display path: one download, then decodes from the kept bytes
        data, holes = array.source.read_cached((0, z, slice(0, 256, 1), slice(0, 256, 1)))
        deadline = time.monotonic() + 20
        while holes:
            assert time.monotonic() < deadline
            time.sleep(0.005)
            data, holes = array.source.read_cached((0, z, slice(0, 256, 1), slice(0, 256, 1)))
        np.testing.assert_array_equal(data, truth[0, z])
    chunk_requests = [p for p in http_server.stats.paths() if "/c/" in p]
    assert len(chunk_requests) == 1, chunk_requests
    assert engine.stats()["raw_bytes"] > 0
    engine.forget(array.source.token)  # a rewritten store: the kept bytes go too
    assert engine.stats()["raw_bytes"] == 0


def test_a_missing_chunk_gives_fill_planes(engine: StreamingEngine, tmp_path: Path) -> None:
    truth = volume((64, 128, 128))
    write(tmp_path / "m.zarr", truth, (32, 128, 128))
    (tmp_path / "m.zarr" / "a" / "c" / "1" / "0" / "0").unlink()
    array = level(str(tmp_path / "m.zarr"))
    np.testing.assert_array_equal(array[40], np.zeros((128, 128), truth.dtype))
    np.testing.assert_array_equal(array[20], truth[20])


def test_a_truncated_chunk_fails_naming_it(engine: StreamingEngine, tmp_path: Path) -> None:
    truth = volume((32, 256, 256))
    write(tmp_path / "t.zarr", truth, (32, 256, 256))
    chunk = tmp_path / "t.zarr" / "a" / "c" / "0" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    array = level(str(tmp_path / "t.zarr"))
    with pytest.raises(ZarrBrowserError, match=r"t\.zarr/a/c/0/0/0"):
        array[30]


CORRUPT = textwrap.dedent(
    """
    import json, sys, numpy as np
    from pathlib import Path
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.errors import ZarrBrowserError
    from zarr_browser.streaming import partial
    from zarr_browser.streaming.engine import StreamingEngine, set_engine
    from zarr_browser.streaming.levels import LevelArray

    root = Path(sys.argv[1])
    chunk = root / "a" / "c" / "0" / "0" / "0"
    good = chunk.read_bytes()
    rng = np.random.default_rng(7)
    outcomes = {"error": 0, "data": 0}
    for trial in range(int(sys.argv[2])):
        bad = bytearray(good)
        kind = trial % 4
        if kind == 0:  # header and offset table
            for _ in range(rng.integers(1, 4)):
                bad[rng.integers(0, 16 + 4 * 32)] = rng.integers(0, 256)
        elif kind == 1:  # anywhere
            for _ in range(rng.integers(1, 16)):
                bad[rng.integers(0, len(bad))] = rng.integers(0, 256)
        elif kind == 2:  # an offset pointing anywhere
            at = 16 + 4 * int(rng.integers(0, 32))
            bad[at:at + 4] = int(rng.integers(-2**31, 2**31)).to_bytes(4, "little", signed=True)
        else:  # cut short or padded
            bad = bad[: rng.integers(0, len(bad))] if rng.random() < 0.5 else bad + bytes(rng.integers(1, 999))
        chunk.write_bytes(bytes(bad))
        set_engine(StreamingEngine(64 << 20))
        hierarchy = Hierarchy.open(str(root))
        array = LevelArray.open(hierarchy.access, hierarchy.node("/a"))
        assert array.source.block_reader().slabbed
        z = int(rng.integers(0, 32))
        try:
            plane = array[z]
            assert plane.shape == (256, 256)
            outcomes["data"] += 1
        except ZarrBrowserError as err:
            assert "a/c/0/0/0" in str(err), err
            outcomes["error"] += 1
    print(json.dumps(outcomes))
    """
)


def test_corrupt_chunks_never_crash_and_errors_name_the_chunk(tmp_path: Path) -> None:
    truth = volume((32, 256, 256))
    write(tmp_path / "c.zarr", truth, (32, 256, 256))
    script = tmp_path / "corrupt.py"
    script.write_text(CORRUPT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "c.zarr"), "1500"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcomes["error"] > 50, outcomes
