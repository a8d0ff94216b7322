"""The streaming engine: block plans, the decoded cache, concurrency, coalescing, failures.

Stores are written by zarr-python and served by the loopback HTTP server of ``tests/servers.py``
(which counts requests, round trips and the peak in flight).  Nothing here asserts a timing:
round trips and requests are counts, "never waits" is shown by reads that return while the
server still holds every request.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.errors import ArrayReadError, ZarrBrowserError
from zarr_browser.streaming.display import CHECKER, DisplayLevel, display_levels
from zarr_browser.streaming.engine import BlockPlan, DecodedCache, StreamingEngine, set_engine
from zarr_browser.streaming.levels import LevelArray, normalize_key


def microscopy(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4000, shape, dtype="uint16")


def write(path: Path, data: np.ndarray, *, chunks: tuple[int, ...], shards: tuple[int, ...] | None = None,
          zarr_format: int = 3, name: str = "a", fill_value: int = 0) -> None:
    import zarr

    group = zarr.open_group(str(path), mode="a", zarr_format=zarr_format)
    array = group.create_array(name, shape=data.shape, chunks=chunks, shards=shards, dtype=data.dtype,
                               fill_value=fill_value)
    array[...] = data


def level(url: str, name: str = "a") -> LevelArray:
    hierarchy = Hierarchy.open(url)
    return LevelArray.open(hierarchy.access, hierarchy.node(f"/{name}"))


def wait_idle(engine: StreamingEngine, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while engine.pending():
        assert time.monotonic() < deadline, "blocks still pending"
        time.sleep(0.005)


# -- block plans -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_block_plan_assembles_any_basic_index(data: Any) -> None:
    ndim = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.integers(1, 23)) for _ in range(ndim))
    blocks = tuple(data.draw(st.integers(1, 7)) for _ in range(ndim))
    truth = np.arange(int(np.prod(shape))).reshape(shape)
    key: list[Any] = []
    for n in shape:
        if data.draw(st.booleans()):
            key.append(data.draw(st.integers(-n, n - 1)))
        else:
            key.append(slice(data.draw(st.integers(-n - 2, n + 2)), data.draw(st.integers(-n - 2, n + 2)),
                             data.draw(st.sampled_from([1, 1, 2, 3, 9]))))
    normalized, _ = normalize_key(tuple(key), shape)
    plan = BlockPlan.of(normalized, shape, blocks)
    out = np.full(plan.out_shape, -1)
    for coords, local, where in plan.parts:
        origin = tuple(c * b for c, b in zip(coords, blocks, strict=True))
        block = np.full(blocks, -2)
        region = tuple(slice(o, min(o + b, n)) for o, b, n in zip(origin, blocks, shape, strict=True))
        block[tuple(slice(0, r.stop - r.start) for r in region)] = truth[region]
        out[where] = block[local]
    np.testing.assert_array_equal(out, truth[tuple(key)])


def test_a_read_of_too_many_blocks_is_refused_before_planning() -> None:
    with pytest.raises(ArrayReadError, match="refused"):
        BlockPlan.of((slice(0, 10**12, 1), slice(0, 10**12, 1)), (10**12, 10**12), (1, 1))


# -- the cache -------------------------------------------------------------------------------


def test_cache_is_bounded_in_bytes_and_least_recently_used() -> None:
    cache = DecodedCache(3000)
    for i in range(5):
        cache.put((1, (i,)), np.zeros(1000, dtype="uint8"))
    assert cache.nbytes <= 3000 and len(cache) == 3
    assert cache.get((1, (0,))) is None and cache.get((1, (4,))) is not None
    cache.get((1, (2,)))  # 2 becomes most recent: 3 is evicted next
    cache.put((1, (5,)), np.zeros(1000, dtype="uint8"))
    assert (1, (2,)) in cache and (1, (3,)) not in cache
    cache.put((1, (9,)), np.zeros(5000, dtype="uint8"))  # larger than the bound: not kept
    assert (1, (9,)) not in cache and cache.nbytes <= 3000
    fill = np.broadcast_to(np.uint16(7), (1000, 1000))
    cache.put((2, (0,)), fill)  # a broadcast fill value costs nothing
    assert cache.nbytes <= 3000 and (2, (0,)) in cache


def test_a_small_cache_still_reads_a_larger_region_correctly(tmp_path: Path) -> None:
    truth = microscopy((256, 256))
    write(tmp_path / "s.zarr", truth, chunks=(32, 32))
    small = StreamingEngine(cache_bytes=4 * 32 * 32 * 2)
    previous = set_engine(small)
    try:
        array = level(str(tmp_path / "s.zarr"))
        np.testing.assert_array_equal(array[...], truth)
        assert small.cache.nbytes <= small.cache.max_bytes
    finally:
        set_engine(previous)


def test_levels_share_the_cache_and_panning_back_reads_nothing(engine: StreamingEngine, http_server: Any) -> None:
    truth = microscopy((128, 128))
    write(http_server.root / "p.zarr", truth, chunks=(32, 32))
    write(http_server.root / "p.zarr", truth[::2, ::2].copy(), chunks=(32, 32), name="b")
    url = http_server.url_for("p.zarr")
    a, b = level(url, "a"), level(url, "b")
    np.testing.assert_array_equal(a[0:64, 0:64], truth[0:64, 0:64])
    np.testing.assert_array_equal(b[...], truth[::2, ::2])
    http_server.reset_stats()
    np.testing.assert_array_equal(a[0:64, 0:64], truth[0:64, 0:64])  # pan back
    np.testing.assert_array_equal(b[0:10, 0:10], truth[0:20:2, 0:20:2])
    assert http_server.stats.requests == 0
    assert engine.stats()["cache_blocks"] == 4 + 4


# -- concurrency and coalescing (counted by the server) ----------------------------------------


def test_every_chunk_of_a_view_is_requested_at_once(engine: StreamingEngine, http_server: Any) -> None:
    truth = microscopy((512, 512))
    write(http_server.root / "v.zarr", truth, chunks=(128, 128))
    array = level(http_server.url_for("v.zarr"))
    http_server.latency = 0.05
    http_server.reset_stats()
    np.testing.assert_array_equal(array[...], truth)
    stats = http_server.stats
    assert stats.requests == 16
    assert stats.round_trips == 1  # all overlapping: none waited for another to finish
    assert stats.peak_in_flight >= 8  # (a loaded machine may start the last after the first ended)


def test_sharded_view_reads_the_index_once_then_coalesced_ranges(engine: StreamingEngine, http_server: Any) -> None:
    truth = microscopy((512, 512))
    write(http_server.root / "sh.zarr", truth, chunks=(64, 64), shards=(512, 512))
    array = level(http_server.url_for("sh.zarr"))
    http_server.latency = 0.05
    http_server.reset_stats()
    view = (slice(0, 256), slice(0, 256))  # 16 inner chunks of one shard
    np.testing.assert_array_equal(array[view], truth[view])
    stats = http_server.stats
    # one index read, then the 16 inner chunks in (at most) 4 coalesced range reads, concurrently
    assert stats.round_trips == 2, stats.intervals
    assert stats.requests <= 1 + 4
    http_server.reset_stats()
    other = (slice(256, 512), slice(256, 512))
    np.testing.assert_array_equal(array[other], truth[other])
    assert http_server.stats.round_trips == 1  # the index is kept


def test_blosc_inner_chunks_decode_straight_into_blocks_and_fail_alone(engine: StreamingEngine,
                                                                      http_server: Any) -> None:
    """ome-zarr's codecs (blosc over bytes) inside shards skip zarr's codec pipeline; an inner
    chunk whose frame is damaged fails alone, named, and the rest of its shard is drawn."""
    import zarr
    from zarr.codecs import BloscCodec

    truth = microscopy((256, 256))
    group = zarr.open_group(str(http_server.root / "b.zarr"), mode="w", zarr_format=3)
    group.create_array("a", shape=truth.shape, chunks=(64, 64), shards=(256, 256), dtype=truth.dtype,
                       compressors=BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle"))[...] = truth
    array = level(http_server.url_for("b.zarr"))
    assert array.source.block_reader()._inner_blosc is not None  # the fast path, not zarr's pipeline
    np.testing.assert_array_equal(array[...], truth)

    shard = http_server.root / "b.zarr" / "a" / "c" / "0" / "0"
    raw = bytearray(shard.read_bytes())
    raw[4:8] = (1 << 30).to_bytes(4, "little")  # the first inner chunk's frame claims 1 GiB
    shard.write_bytes(bytes(raw))
    damaged = level(http_server.url_for("b.zarr"))
    data, holes = damaged.source.read_cached((slice(0, 256, 1), slice(0, 256, 1)))
    wait_idle(engine)
    data, holes = damaged.source.read_cached((slice(0, 256, 1), slice(0, 256, 1)))
    assert [h.status for h in holes] == ["failed"]
    (message,) = engine.failures(damaged.source.token)
    assert "b.zarr/a/c/0/0" in message and "does not hold a chunk" in message
    where = holes[0].out
    good = np.ones(truth.shape, dtype=bool)
    good[where] = False
    np.testing.assert_array_equal(data[good], truth[good])


def test_empty_inner_chunks_of_a_shard_are_fill_without_a_request(engine: StreamingEngine, http_server: Any) -> None:
    import zarr

    group = zarr.open_group(str(http_server.root / "e.zarr"), mode="w")
    array = group.create_array("a", shape=(64, 64), chunks=(16, 16), shards=(64, 64), dtype="uint16", fill_value=9)
    array[0:16, 0:16] = 1
    mine = level(http_server.url_for("e.zarr"))
    expected = np.full((64, 64), 9, dtype="uint16")
    expected[0:16, 0:16] = 1
    np.testing.assert_array_equal(mine[...], expected)


# -- the display path: never waits, coarse first, failures visible ------------------------------


def test_cached_reads_never_wait_and_listeners_hear_arrivals(engine: StreamingEngine, http_server: Any) -> None:
    truth = microscopy((256, 256))
    write(http_server.root / "slow.zarr", truth, chunks=(64, 64))
    array = level(http_server.url_for("slow.zarr"))
    heard: list[int] = []
    engine.add_listener(array.source.token, heard.append)
    http_server.faults.add("slow.zarr/a/c/*", "hang")  # every chunk request hangs
    data, holes = array.source.read_cached((slice(0, 256, 1), slice(0, 256, 1)))
    # the call returned while the server holds every request: nothing delivered, all pending
    assert len(holes) == 16 and {h.status for h in holes} == {"pending"}
    assert engine.pending() == 16 and heard == []
    assert not data.any()
    http_server.faults.clear()
    http_server._release.set()  # the hanging requests now fail; retries succeed
    wait_idle(engine)
    assert heard
    data, holes = array.source.read_cached((slice(0, 256, 1), slice(0, 256, 1)))
    assert holes == []
    np.testing.assert_array_equal(data, truth)


def test_coarse_data_is_shown_until_the_fine_level_arrives(engine: StreamingEngine, http_server: Any) -> None:
    truth = microscopy((128, 128))
    write(http_server.root / "pyr.zarr", truth, chunks=(32, 32))
    write(http_server.root / "pyr.zarr", truth[::4, ::4].copy(), chunks=(32, 32), name="b")
    url = http_server.url_for("pyr.zarr")
    fine, coarse = level(url, "a"), level(url, "b")
    coarse[...]  # the coarsest level is read ahead (as the napari glue does)
    shown = display_levels([fine, coarse])[0]
    http_server.faults.add("pyr.zarr/a/c/*", "hang")
    first = shown[0:128, 0:128]
    assert {h.status for h in shown.last_holes} == {"pending"}
    np.testing.assert_array_equal(first, np.repeat(np.repeat(truth[::4, ::4], 4, 0), 4, 1))
    http_server.faults.clear()
    http_server._release.set()
    wait_idle(engine)
    np.testing.assert_array_equal(shown[0:128, 0:128], truth)
    assert shown.last_holes == []


def test_a_view_drawn_with_placeholders_stays_awaited_after_a_complete_small_read(
    engine: StreamingEngine, http_server: Any
) -> None:
    """napari reads a view, then a small region (the cursor value, a thumbnail row): the second
    read being complete must not hide that the view still waits for data (plate labels over HTTP
    stayed blank until something else refreshed them)."""
    from types import SimpleNamespace

    from zarr_browser._display import _awaits_data

    truth = microscopy((64, 128))
    write(http_server.root / "w.zarr", truth, chunks=(64, 64))
    array = level(http_server.url_for("w.zarr"))
    array[:, 0:64]  # the left chunk is cached
    http_server.faults.add("w.zarr/a/c/0/1", "hang")
    shown = DisplayLevel([array], 0)
    shown[...]  # the view: the right chunk is pending
    np.testing.assert_array_equal(shown[0, 0:10], truth[0, 0:10])  # a small complete read after it
    assert shown.last_holes == [] and shown.awaiting
    layer = SimpleNamespace(data=shown)
    assert _awaits_data(layer)  # the refresher refreshes the layer…
    assert not _awaits_data(layer)  # …once, until a read draws placeholders again
    http_server.faults.clear()
    http_server._release.set()
    wait_idle(engine)
    np.testing.assert_array_equal(shown[...], truth)
    assert not shown.awaiting


def _right_chunk_failed(engine: StreamingEngine, http_server: Any,
                        dtype: str = "uint16") -> tuple[np.ndarray, LevelArray, DisplayLevel]:
    """A 64 × 128 array of two chunks whose right one the server fails (500), drawn once and
    awaited: the truth, the level and its display level."""
    truth = microscopy((64, 128)).astype(dtype)
    write(http_server.root / "f.zarr", truth, chunks=(64, 64))
    array = level(http_server.url_for("f.zarr"))
    http_server.faults.add("f.zarr/a/c/0/1", "500")
    shown = DisplayLevel([array], 0)
    shown[...]
    wait_idle(engine)
    return truth, array, shown


def test_failed_chunks_are_drawn_as_failed_and_named(engine: StreamingEngine, http_server: Any) -> None:
    truth, array, shown = _right_chunk_failed(engine, http_server)
    data = shown[...]
    assert [h.status for h in shown.last_holes] == ["failed"]
    np.testing.assert_array_equal(data[:, :64], truth[:, :64])
    right = data[:, 64:]
    assert set(np.unique(right)) == {0, 65535}  # the checkerboard of the extremes, never data
    assert right[0, 0] != right[0, CHECKER]
    (message,) = engine.failures(array.source.token)
    assert "f.zarr/a/c/0/1" in message
    with pytest.raises(ZarrBrowserError, match=r"f\.zarr/a/c/0/1"):
        array[...]  # the compute path raises instead of returning wrong data


def test_failed_float_chunks_are_a_checkerboard_of_the_contrast_limits(engine: StreamingEngine,
                                                                       http_server: Any) -> None:
    """A failed float chunk was NaN, drawn like data that is not there (audit A); with the
    layer's contrast limits it is a black-and-white checkerboard like an integer one."""
    truth, _, shown = _right_chunk_failed(engine, http_server, "float32")
    assert np.isnan(shown[...][:, 64:]).all()  # no limits known: no value
    shown.checker_values = (10.0, 3000.0)
    data = shown[...]
    assert set(np.unique(data[:, 64:])) == {10.0, 3000.0} and data[0, 64] != data[0, 64 + CHECKER]
    np.testing.assert_array_equal(data[:, :64], truth[:, :64])


def test_remote_404_chunk_is_flagged_missing_and_striped(engine: StreamingEngine, http_server: Any) -> None:
    truth = microscopy((64, 128))
    write(http_server.root / "m.zarr", truth, chunks=(64, 64), fill_value=5)
    (http_server.root / "m.zarr" / "a" / "c" / "0" / "1").unlink()
    array = level(http_server.url_for("m.zarr"))
    shown = DisplayLevel([array], 0, flag_missing=True)
    shown[...]
    wait_idle(engine)
    data = shown[...]
    assert [h.status for h in shown.last_holes] == ["missing"]
    assert "m.zarr/a/c/0/1" in shown.last_holes[0].key
    assert set(np.unique(data[:, 64:])) == {5, 65535}  # fill value, striped
    assert engine.stats()["missing"] == 1
    np.testing.assert_array_equal(array[:, 64:], np.full((64, 64), 5))  # compute path: zarr's fill


def test_neighbours_are_prefetched_when_no_view_waits(engine: StreamingEngine, tmp_path: Path) -> None:
    truth = microscopy((8, 256, 256))
    write(tmp_path / "z.zarr", truth, chunks=(1, 64, 64))
    array = level(str(tmp_path / "z.zarr"))
    shown = DisplayLevel([array], 0)
    shown[3, 64:128, 64:128]  # as napari asks for one plane of a volume
    wait_idle(engine)
    deadline = time.monotonic() + 10
    while engine.stats()["cache_blocks"] < 27 and time.monotonic() < deadline:
        time.sleep(0.01)
    # the view's block and its 26 neighbours (in y, x and the planes above and below)
    assert engine.stats()["prefetched"] == 26
    for z in (2, 3, 4):
        for y in (0, 1, 2):
            for x in (0, 1, 2):
                assert (array.source.token, (z, y, x)) in engine.cache


def test_dask_stays_the_compute_path(engine: StreamingEngine, tmp_path: Path) -> None:
    truth = microscopy((100, 90))
    write(tmp_path / "d.zarr", truth, chunks=(32, 32), shards=(64, 64))
    array = level(str(tmp_path / "d.zarr"))
    dask_array = array.to_dask()
    assert dask_array.chunks[0][0] == 64  # one dask chunk per stored object (the shard)
    assert int(dask_array.sum().compute()) == int(truth.astype(np.int64).sum())


def test_complex_values_are_read_as_their_magnitude(engine: StreamingEngine, http_server: Any) -> None:
    rng = np.random.default_rng(3)
    truth = (rng.normal(size=(128, 96)) + 1j * rng.normal(size=(128, 96))).astype(np.complex64)
    write(http_server.root / "c.zarr", truth, chunks=(64, 32))
    array = level(http_server.url_for("c.zarr"))
    assert array.dtype == np.float32
    http_server.faults.add("c.zarr/a/c/1/*", "hang")  # the lower half waits
    array.source.read_cached((slice(0, 128, 1), slice(0, 96, 1)))  # asks for all 6 chunks
    deadline = time.monotonic() + 20
    while engine.pending() > 3:  # the upper half arrives
        assert time.monotonic() < deadline
        time.sleep(0.005)
    data, holes = array.source.read_cached((slice(0, 128, 1), slice(0, 96, 1)))
    assert {h.status for h in holes} == {"pending"} and len(holes) == 3
    assert np.isnan(data[64:]).all()  # on its way: not a magnitude of 0
    np.testing.assert_allclose(data[:64], np.abs(truth[:64]), rtol=1e-6)
    http_server.faults.clear()
    http_server._release.set()
    wait_idle(engine)
    data, holes = array.source.read_cached((slice(0, 128, 1), slice(0, 96, 1)))
    assert holes == [] and data.dtype == np.float32
    np.testing.assert_allclose(data, np.abs(truth), rtol=1e-6)
    np.testing.assert_allclose(array.to_dask().compute(), np.abs(truth), rtol=1e-6)


def test_a_view_larger_than_the_cache_loads_its_centre_once(tmp_path: Path) -> None:
    truth = microscopy((256, 256))
    write(tmp_path / "big.zarr", truth, chunks=(32, 32))
    small = StreamingEngine(cache_bytes=16 * 32 * 32 * 2)  # 16 blocks; the view has 64
    previous = set_engine(small)
    try:
        array = level(str(tmp_path / "big.zarr"))
        shown = DisplayLevel([array], 0)
        for _ in range(3):  # refreshes after arrivals request nothing new: no eviction loop
            shown[...]
            wait_idle(small)
        assert small.stats()["blocks"] == 12  # the 3/4 of the cache nearest the centre
        data = shown[...]
        assert len(shown.last_holes) == 64 - 12 and {h.status for h in shown.last_holes} == {"pending"}
        np.testing.assert_array_equal(data[96:160, 96:160], truth[96:160, 96:160])
    finally:
        set_engine(previous)


def test_channels_taken_apart_are_not_prefetched_as_neighbours(engine: StreamingEngine, tmp_path: Path) -> None:
    truth = microscopy((3, 128, 128))
    write(tmp_path / "c.zarr", truth, chunks=(1, 64, 64))
    array = level(str(tmp_path / "c.zarr"))
    shown = DisplayLevel([array.take(0, 1)], 0)  # one channel, as a channel layer
    shown[0:64, 0:64]
    wait_idle(engine)
    deadline = time.monotonic() + 10
    while not engine.idle() and time.monotonic() < deadline:
        time.sleep(0.01)
    cached = {coords for token, coords in list(engine.cache._items) if token == array.source.token}
    assert cached == {(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)}  # its own plane only


def test_a_volume_region_is_read_only_where_napari_indexes_it(
    engine: StreamingEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zarr_browser.streaming import display
    from zarr_browser.streaming.display import LazyRegion

    monkeypatch.setattr(display, "grace_left", lambda source: 0.0)  # requests only, nothing waited for

    truth = microscopy((128, 256, 256))
    write(tmp_path / "vol.zarr", truth, chunks=(16, 64, 64))
    shown = DisplayLevel([level(str(tmp_path / "vol.zarr"))], 0)
    region = shown[:, 0:256, 0:256]  # napari first takes every plane of the displayed region...
    assert isinstance(region, LazyRegion) and region.shape == (128, 256, 256)
    assert engine.stats()["blocks"] == 0 and engine.pending() == 0  # ...which reads nothing
    plane = np.asarray(region[20])  # ...then the plane it shows
    assert plane.shape == (256, 256) and 0 < engine.pending() <= 16
    deadline = time.monotonic() + 20
    while not engine.idle():  # the view, then its neighbours along z
        assert time.monotonic() < deadline
        time.sleep(0.01)
    stats = engine.stats()
    assert stats["blocks"] - stats["prefetched"] == 16  # the view read one z-chunk of blocks
    np.testing.assert_array_equal(np.asarray(shown[:, 0:256, 0:256][20, 10:20, 5:7]), truth[20, 10:20, 5:7])


def test_a_whole_volume_level_converts_to_an_array(engine: StreamingEngine, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``np.asarray(level)`` of a level too big to read eagerly (a LazyRegion inside) still gives
    the array (it used to fail: "__array__ method not producing an array")."""
    from zarr_browser.streaming.display import LazyRegion

    monkeypatch.setattr(LazyRegion, "EAGER_ELEMENTS", 1 << 10)
    truth = microscopy((8, 64, 64))
    write(tmp_path / "v.zarr", truth, chunks=(4, 32, 32))
    shown = DisplayLevel([level(str(tmp_path / "v.zarr"))], 0)
    assert isinstance(shown[...], LazyRegion)
    deadline = time.monotonic() + 10
    while True:  # the first reads may leave holes (requested, not waited for)
        data = np.asarray(shown, dtype=np.float32)
        if not shown.last_holes or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert data.dtype == np.float32 and data.shape == truth.shape
    np.testing.assert_array_equal(data, truth.astype(np.float32))


def test_local_views_are_drawn_complete_remote_ones_never_wait(
    engine: StreamingEngine, http_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zarr_browser.streaming import display

    monkeypatch.setattr(display, "GRACE", 10.0)  # a loaded CI machine must not make this flaky
    monkeypatch.setattr(display, "_grace", display._Grace())
    truth = microscopy((256, 256))
    write(tmp_path / "l.zarr", truth, chunks=(64, 64))
    local = DisplayLevel([level(str(tmp_path / "l.zarr"))], 0)
    np.testing.assert_array_equal(local[0:256, 0:256], truth)  # waited for its 16 local chunks
    assert local.last_holes == []
    write(http_server.root / "r.zarr", truth, chunks=(64, 64))
    remote = DisplayLevel([level(http_server.url_for("r.zarr"))], 0)
    http_server.faults.add("r.zarr/a/c/*", "hang")
    monkeypatch.setattr(display, "_grace", display._Grace())  # a fresh budget: remote stores are still not waited for
    started = time.monotonic()
    remote[0:256, 0:256]
    assert time.monotonic() - started < 0.5 and len(remote.last_holes) == 16
    http_server.faults.clear()
    http_server._release.set()
    wait_idle(engine)


def test_layers_sliced_one_after_another_share_the_waiting_budget(
    engine: StreamingEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """napari creates a multichannel image's layers one after another, and spends time between
    them: the budget counts waiting, not the time between reads, so every layer is drawn
    complete (the grace used to be a window of wall-clock time, gone by the second layer)."""
    from zarr_browser.streaming import display

    monkeypatch.setattr(display, "GRACE", 0.5)  # a loaded CI machine must not make this flaky
    monkeypatch.setattr(display, "BURST", 60.0)
    monkeypatch.setattr(display, "_grace", display._Grace())
    truth = microscopy((3, 256, 256))
    write(tmp_path / "c.zarr", truth, chunks=(1, 64, 64))
    array = level(str(tmp_path / "c.zarr"))
    for channel in range(3):  # a layer per channel, as the reader makes them
        shown = DisplayLevel([array.take(0, channel)], 0)
        np.testing.assert_array_equal(shown[0:256, 0:256], truth[channel])  # waited: complete
        assert shown.last_holes == []
        time.sleep(0.55)  # longer than GRACE: napari building the next layer on a slow machine
    assert display._grace.left() > 0  # what was waited is a fraction of the budget


def test_the_waiting_budget_is_spent_once_per_burst(monkeypatch: pytest.MonkeyPatch) -> None:
    from zarr_browser.streaming import display

    monkeypatch.setattr(display, "GRACE", 0.03)
    monkeypatch.setattr(display, "BURST", 60.0)
    grace = display._Grace()
    assert grace.left() == pytest.approx(0.03)
    grace.spend(0.02)
    assert grace.left() == pytest.approx(0.01)
    grace.spend(0.02)
    assert grace.left() == 0.0  # nothing left until the burst is over
    monkeypatch.setattr(display, "BURST", 0.0)
    time.sleep(0.001)
    assert grace.left() == pytest.approx(0.03)  # a new burst


def test_one_hanging_chunk_holds_back_no_other_chunk_of_the_view(engine: StreamingEngine, http_server: Any,
                                                                tmp_path: Path) -> None:
    truth = microscopy((256, 256))
    write(http_server.root / "h.zarr", truth, chunks=(64, 64))
    array = level(http_server.url_for("h.zarr"))
    shown = DisplayLevel([array], 0)
    http_server.faults.add("h.zarr/a/c/2/1", "hang")
    shown[...]
    deadline = time.monotonic() + 10
    while len(shown.last_holes) > 1:  # the 15 others arrive and are drawn while one request hangs
        assert time.monotonic() < deadline, f"{len(shown.last_holes)} holes left"
        time.sleep(0.01)
        data = shown[...]
    assert [h.status for h in shown.last_holes] == ["pending"]
    assert engine._inflight.get((array.source.token, (2, 1))) is True  # still on its way
    expected = truth.copy()
    expected[128:192, 64:128] = 0
    np.testing.assert_array_equal(data, expected)
    http_server.faults.clear()
    http_server._release.set()
    wait_idle(engine)


def test_a_view_is_not_held_behind_a_prefetch_of_its_own_blocks(engine: StreamingEngine, http_server: Any,
                                                              tmp_path: Path) -> None:
    """A prefetch waits while views wait; a block a view now wants from it must go at once,
    even while another view's blocks hang (it used to wait for that view: a deadlock)."""
    truth = microscopy((512, 512))
    write(http_server.root / "g.zarr", truth, chunks=(64, 64))
    array = level(http_server.url_for("g.zarr"))
    token = array.source.token
    shown = DisplayLevel([array], 0)
    http_server.latency = 0.3
    http_server.faults.add("g.zarr/a/c/7/7", "hang")
    shown[0:64, 0:64]  # view A: block (0, 0); its ring (0, 1), (1, 0), (1, 1) is prefetched once it is in
    wait_idle(engine)
    deadline = time.monotonic() + 10
    while engine._inflight.get((token, (1, 1))) is not False:
        assert time.monotonic() < deadline, "the ring was never prefetched"
        time.sleep(0.002)
    shown[448:512, 448:512]  # view B, while the ring's requests are out: its block (7, 7) hangs
    assert engine._inflight.get((token, (7, 7))) is True
    heard = threading.Event()
    engine.add_listener(token, lambda _: heard.set())
    shown[64:128, 64:128]  # view C wants (1, 1), which the prefetch holds back (views first) when it lands
    deadline = time.monotonic() + 10
    while shown[64:128, 64:128] is not None and shown.last_holes:
        assert time.monotonic() < deadline, "view C waited behind the hanging view B"
        time.sleep(0.01)
    np.testing.assert_array_equal(shown[64:128, 64:128], truth[64:128, 64:128])
    assert heard.wait(5)  # listeners were told...
    assert engine._inflight.get((token, (7, 7))) is True  # ...while B still hangs
    http_server.faults.clear()
    http_server.latency = 0.0
    http_server._release.set()
    wait_idle(engine)


def test_a_block_that_lands_during_a_read_is_not_fetched_again(engine: StreamingEngine, http_server: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A block that arrives between a view's cache lookup and its in-flight check is taken from
    the cache: it used to be requested a second time (one more pending block and one more request)."""
    truth = microscopy((128, 128))
    write(http_server.root / "g.zarr", truth, chunks=(64, 64))
    array = level(http_server.url_for("g.zarr"))
    token = array.source.token
    http_server.latency = 0.05
    region = normalize_key((slice(0, 64), slice(0, 64)), array.shape)[0]
    http_server.reset_stats()
    assert engine.request(array.source, region) == 1
    lookup = engine.cache.get
    late = [(token, (0, 0))]

    def get(key: Any) -> Any:
        if key in late:  # this lookup misses; the block lands right after it
            late.remove(key)
            wait_idle(engine)
            return None
        return lookup(key)

    monkeypatch.setattr(engine.cache, "get", get)
    shown = DisplayLevel([array], 0)
    np.testing.assert_array_equal(shown.read(region), truth[:64, :64])
    assert not late and not shown.last_holes
    assert engine.pending() == 0
    assert http_server.stats.by_path["g.zarr/a/c/0/0"] == 1


def test_stepping_prefetches_ahead_in_the_direction_of_travel(tmp_path: Path) -> None:
    truth = microscopy((8, 128, 128))
    write(tmp_path / "s.zarr", truth, chunks=(1, 64, 64))
    block = 64 * 64 * 2
    small = StreamingEngine(cache_bytes=4 * 4 * block)  # prefetch budget: 4 blocks, one plane
    previous = set_engine(small)
    try:
        array = level(str(tmp_path / "s.zarr"))
        shown = DisplayLevel([array], 0)
        for z in (3, 4):  # stepping up
            shown[z, 0:128, 0:128]
            wait_idle(small)
            deadline = time.monotonic() + 10
            while not small.idle() and time.monotonic() < deadline:
                time.sleep(0.01)
        planes = {coords[0] for token, coords in list(small.cache._items)}
        assert 5 in planes, planes  # the plane ahead was prefetched...
        assert shown[5, 0:128, 0:128] is not None and shown.last_holes == []  # ...and is shown at once
    finally:
        set_engine(previous)


@pytest.mark.parametrize("case", ["v2-filters-F-order", "v2-no-compressor", "v3-zstd-crc32c", "v3-gzip"])
def test_local_reads_decode_like_zarr(engine: StreamingEngine, tmp_path: Path, case: str) -> None:
    """Blocking local reads decode in the calling thread; the pixels are zarr-python's."""
    import numcodecs
    import zarr

    truth = microscopy((70, 90)).astype("int32")
    path = str(tmp_path / "l.zarr")
    if case == "v2-filters-F-order":
        array = zarr.create_array(path, shape=truth.shape, chunks=(32, 32), dtype="int32", zarr_format=2,
                                  order="F", filters=[numcodecs.Delta(dtype="int32")], compressors=numcodecs.Zstd())
    elif case == "v2-no-compressor":
        array = zarr.create_array(path, shape=truth.shape, chunks=(32, 32), dtype="int32", zarr_format=2,
                                  compressors=None)
    elif case == "v3-zstd-crc32c":
        from zarr.codecs import Crc32cCodec, ZstdCodec

        array = zarr.create_array(path, shape=truth.shape, chunks=(32, 32), dtype="int32",
                                  compressors=[ZstdCodec(), Crc32cCodec()])
    else:
        from zarr.codecs import GzipCodec

        array = zarr.create_array(path, shape=truth.shape, chunks=(32, 32), dtype="int32", compressors=[GzipCodec()])
    array[...] = truth
    hierarchy = Hierarchy.open(path)
    mine = LevelArray.open(hierarchy.access, hierarchy.root)
    assert mine.source.block_reader().sync_decoder() is not None  # the fast path is taken
    np.testing.assert_array_equal(mine[...], truth)
    np.testing.assert_array_equal(mine[5:66:3, 80], truth[5:66:3, 80])


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_plain_blosc_chunks_decode_straight_into_blocks(engine: StreamingEngine, tmp_path: Path,
                                                        zarr_format: int) -> None:
    """Chunks that are blosc over C-order bytes skip zarr's per-chunk codec machinery; edge chunks,
    and a frame that announces another size, behave as through zarr (the latter: a named error)."""
    import zarr
    from numcodecs import Blosc, blosc
    from zarr.codecs import BloscCodec

    truth = microscopy((100, 70))  # edge chunks on both axes
    group = zarr.open_group(str(tmp_path / "p.zarr"), mode="w", zarr_format=zarr_format)
    codec = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle") if zarr_format == 3 else \
        Blosc(cname="zstd", clevel=5, shuffle=Blosc.BITSHUFFLE)
    group.create_array("a", shape=truth.shape, chunks=(32, 32), dtype=truth.dtype, compressors=[codec])[...] = truth
    array = level(str(tmp_path / "p.zarr"))
    reader = array.source.block_reader()
    assert reader.sync_decoder().__name__ == "decode_blosc"  # the straight path is taken
    np.testing.assert_array_equal(array[...], truth)
    key = "a/c/1/0" if zarr_format == 3 else "a/1.0"
    chunk = tmp_path / "p.zarr" / key
    chunk.write_bytes(blosc.compress(np.zeros((16, 32), dtype=truth.dtype).tobytes(), b"zstd", 5, 1))
    engine.clear_cache()
    with pytest.raises(ZarrBrowserError, match=r"p\.zarr.*" + key.replace(".", r"\.")):
        array[...]
    np.testing.assert_array_equal(array[0:32, :], truth[0:32, :])  # the others still read


def test_a_corrupt_local_chunk_is_named_not_drawn(engine: StreamingEngine, tmp_path: Path) -> None:
    truth = microscopy((64, 64))
    write(tmp_path / "bad.zarr", truth, chunks=(32, 32))
    chunk = tmp_path / "bad.zarr" / "a" / "c" / "1" / "0"
    chunk.write_bytes(chunk.read_bytes()[:10])
    array = level(str(tmp_path / "bad.zarr"))
    with pytest.raises(ZarrBrowserError, match=r"bad\.zarr.*a/c/1/0"):
        array[...]
    np.testing.assert_array_equal(array[0:32, :], truth[0:32, :])  # the others still read


@pytest.mark.parametrize("dtype", ["int32", "float32", "bool"])
def test_a_v2_fill_value_null_reads_as_zarr_does(engine: StreamingEngine, http_server: Any, tmp_path: Path,
                                                dtype: str) -> None:
    """xarray writes v2 integer variables with fill_value null, and zarr skips all-zero chunks:
    the missing chunks read as the dtype's default (0, False), as zarr-python reads them - never
    an error, nor NaN, nor blocks pending forever."""
    import zarr

    for root in (tmp_path, http_server.root):  # local and remote reads take different paths
        group = zarr.open_group(str(root / "n.zarr"), mode="w", zarr_format=2)
        array = group.create_array("a", shape=(32, 32), chunks=(16, 16), dtype=dtype, fill_value=None)
        array[:16, :16] = np.ones((16, 16), dtype=dtype)
        meta = (root / "n.zarr" / "a" / ".zarray").read_text()
        assert '"fill_value": null' in meta and not (root / "n.zarr" / "a" / "1.1").exists()
    truth = zarr.open_array(str(tmp_path / "n.zarr" / "a"), mode="r")[...]
    for url in (str(tmp_path / "n.zarr"), http_server.url_for("n.zarr")):
        array = level(url)
        shown = DisplayLevel([array], 0)
        shown[...]
        wait_idle(engine)
        np.testing.assert_array_equal(shown[...], truth)
        np.testing.assert_array_equal(array[...], truth)  # the compute path alike


def test_a_batch_that_fails_outside_any_block_shows_its_blocks_failed(engine: StreamingEngine, http_server: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """An error no block's own reading catches (here: making a missing chunk's fill) fails the
    blocks of the batch, named and drawn as failed; they do not pend, nor get asked for again."""
    from zarr_browser.streaming.engine import BlockReader

    write(http_server.root / "b.zarr", microscopy((32, 64)), chunks=(32, 32))
    (http_server.root / "b.zarr" / "a" / "c" / "0" / "1").unlink()
    array = level(http_server.url_for("b.zarr"))

    def broken(self: Any, coords: tuple[int, ...]) -> np.ndarray:
        raise RuntimeError("no fill today")

    monkeypatch.setattr(BlockReader, "fill_block", broken)
    shown = DisplayLevel([array], 0)
    shown[...]
    wait_idle(engine)
    requests = http_server.stats.requests
    shown[...]
    assert {h.status for h in shown.last_holes} == {"failed"}
    assert http_server.stats.requests == requests  # remembered as failed, not fetched again at once


def test_a_frame_can_wait_for_a_view_due_now_but_never_for_a_straggler(
        engine: StreamingEngine, http_server: Any) -> None:
    """``view_due`` says when the blocks a view waits for should be in (from how long views
    took), ``wait_views`` waits for them, bounded; a view late past twice that is not waited for."""
    truth = microscopy((256, 256))
    write(http_server.root / "due.zarr", truth, chunks=(64, 64))
    array = level(http_server.url_for("due.zarr"))
    heard: list[int] = []
    engine.add_listener(array.source.token, heard.append)
    assert engine.view_due() is None  # no view waits
    array.source.read_cached((slice(0, 128, 1), slice(0, 128, 1)))
    assert engine.wait_views(20.0) and heard  # in, and the listeners told before it returns
    assert engine.view_due() is None and engine._view_time is not None
    http_server.faults.add("due.zarr/a/c/*", "hang")
    array.source.read_cached((slice(128, 256, 1), slice(128, 256, 1)))
    due = engine.view_due()
    assert due is not None and due <= engine._view_time  # due within what views took
    assert not engine.wait_views(0.05)  # bounded: the server holds every request
    time.sleep(max(0.3, 3 * engine._view_time))
    assert engine.view_due() is None  # a straggler now: frames do not wait for it
    http_server.faults.clear()
    http_server._release.set()
    wait_idle(engine)


def hold_gil(seconds: float) -> float:
    """Hold the GIL for about *seconds* in one C call, as Qt composing a frame drawn with Mesa's
    software GL does in napari (``_QtMainWindow.event``); returns when it ended (monotonic)."""
    n = 1_000_000
    started = time.monotonic()
    sum(range(n))  # builtin sum of a range: a C loop that never lets another thread run
    per_item = max(1e-10, (time.monotonic() - started) / n)
    sum(range(int(seconds / per_item)))
    return time.monotonic()


def test_a_views_requests_are_sent_before_the_thread_that_asked_goes_on(
    engine: StreamingEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The thread slicing for a frame goes on to draw it; the requests of the view it asked for
    must be on the wire by then, not wait for the GIL until the frame is drawn.  (Without the
    hand-over, 3 of the 16 requests reached the server before the GIL was let go.)"""
    from servers import ProcessServer

    from zarr_browser.streaming import engine as engine_module

    monkeypatch.setattr(engine_module, "HAND_OVER", 2.0)  # the rounds, not the time cap, on a loaded machine

    truth = microscopy((512, 512))
    write(tmp_path / "v.zarr", truth, chunks=(128, 128))
    with ProcessServer(tmp_path, latency=0.05) as server:  # its own GIL: it answers while we hold ours
        array = level(server.url_for("v.zarr"))
        server.reset_stats()
        engine.drawing = True  # napari slices inside the frame it draws
        _, holes = array.source.read_cached((slice(0, 512, 1), slice(0, 512, 1)))
        assert len(holes) == 16  # nothing cached: all 16 chunks requested
        held_until = hold_gil(0.3)
        assert engine.wait_views(10)
        started = sorted(start for start, _, path in server.stats.spans if "/c/" in path)
    assert len(started) == 16
    assert started[-1] < held_until, [round(held_until - start, 3) for start in started]
    np.testing.assert_array_equal(array.source.read_cached((slice(0, 512, 1), slice(0, 512, 1)))[0], truth)
