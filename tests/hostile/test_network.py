"""Network faults: a fault-injecting loopback HTTP server, and moto's S3 behind a fault proxy.

* 20 % of requests failing (500, 503, dropped connections, truncated bodies): every chunk is
  read correctly or fails with an error naming its URL, never wrong data;
* a never-answering chunk: an error naming the URL within the deadline (15 s by default);
* 3 s latency: reads succeed;
* a 404 chunk whose neighbours exist: zarr draws fill; :meth:`LevelArray.missing` flags it (what previews say);
* a group that cannot be listed says so instead of looking empty;
* the browser window and napari (through our reader) while chunks are slow, hang, fail or are
  missing: the event loop never stalls more than 250 ms, and nothing wrong is drawn as data.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from stall import StallMeter  # tests/stall.py

from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.safety import open_array
from zarr_browser.core.store import RequestPolicy, open_store
from zarr_browser.errors import StoreReadError, StoreTimeoutError
from zarr_browser.streaming.levels import LevelArray

pytestmark = pytest.mark.network

SHAPE, CHUNKS = (48, 48), (8, 8)
EXPECTED = np.arange(SHAPE[0] * SHAPE[1], dtype="int32").reshape(SHAPE)
FAST = RequestPolicy(attempt_timeout=1.0, deadline=4.0, retries=3, backoff=0.01)
HANG = RequestPolicy(attempt_timeout=1.0, deadline=2.0, retries=3, backoff=0.01)  # CI: a short deadline


def write_store(root: Path, zarr_format: int = 3) -> Path:
    path = root / "f.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    arr = group.create_array("x", shape=SHAPE, chunks=CHUNKS, dtype="int32", fill_value=-1)
    arr[...] = EXPECTED
    return path


def chunk_slices() -> list[tuple[slice, slice]]:
    ys = range(0, SHAPE[0], CHUNKS[0])
    xs = range(0, SHAPE[1], CHUNKS[1])
    return [(slice(y, y + CHUNKS[0]), slice(x, x + CHUNKS[1])) for y, x in itertools.product(ys, xs)]


def read_every_chunk(url: str, figures: Any, suite: str, *, policy: RequestPolicy = FAST,
                     storage_options: dict | None = None) -> tuple[int, int]:
    """Read each chunk on its own; returns (good, failed).  Wrong data fails the test."""
    started = time.monotonic()
    hierarchy = Hierarchy.open(url, policy=policy, storage_options=storage_options)
    array = open_array(hierarchy.access, hierarchy.node("/x"))
    good = failed = wrong = 0
    longest = 0.0
    for sel in chunk_slices():
        t0 = time.monotonic()
        try:
            data = array[sel]
        except StoreReadError as err:
            assert "/x/" in str(err) and ("http://" in str(err) or "s3://" in str(err)), err
            failed += 1
        else:
            if np.array_equal(data, EXPECTED[sel]):
                good += 1
            else:
                wrong += 1
        longest = max(longest, time.monotonic() - t0)
    figures.add(suite, cases=len(chunk_slices()), wrong_data=wrong, failed_reads=failed,
                max_hang_s=round(longest, 2), seconds=round(time.monotonic() - started, 1))
    hierarchy.close()
    assert wrong == 0, f"{wrong} chunks read as wrong data"
    return good, failed


# -- HTTP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_http_20_percent_faults_never_give_wrong_data(http_server: Any, figures: Any, seed: int,
                                                      zarr_format: int) -> None:
    write_store(http_server.root, zarr_format)
    http_server.faults.random(0.2, seed=seed, behaviours=("500", "503", "drop", "truncate"))
    good, failed = read_every_chunk(http_server.url_for("f.zarr"), figures, "network: http 20% faults")
    assert sum(http_server.stats.faults.values()) > 5, http_server.stats.faults
    assert good + failed == len(chunk_slices())
    assert good >= 0.9 * len(chunk_slices()), f"retries should recover most chunks: {failed} failed"


def test_http_persistent_chunk_failure_names_the_url(http_server: Any, figures: Any) -> None:
    write_store(http_server.root)
    http_server.faults.add("f.zarr/x/c/2/3", "503")
    good, failed = read_every_chunk(http_server.url_for("f.zarr"), figures, "network: http 20% faults")
    assert failed == 1 and good == len(chunk_slices()) - 1


def test_http_never_answering_chunk_fails_within_the_deadline(http_server: Any, figures: Any) -> None:
    write_store(http_server.root)
    http_server.faults.add("f.zarr/x/c/1/1", "hang")
    hierarchy = Hierarchy.open(http_server.url_for("f.zarr"), policy=HANG)
    array = open_array(hierarchy.access, hierarchy.node("/x"))
    started = time.monotonic()
    with pytest.raises(StoreTimeoutError, match=r"http://127\.0\.0\.1:\d+/f\.zarr/x/c/1/1"):
        array[8:16, 8:16]
    elapsed = time.monotonic() - started
    figures.add("network: hang", cases=1, max_hang_s=round(elapsed, 2))
    assert elapsed < HANG.deadline + 1


@pytest.mark.slow
def test_http_never_answering_chunk_fails_within_15_s_by_default(http_server: Any, figures: Any) -> None:
    write_store(http_server.root)
    http_server.faults.add("f.zarr/x/c/1/1", "hang")
    hierarchy = Hierarchy.open(http_server.url_for("f.zarr"))  # the default policy
    array = open_array(hierarchy.access, hierarchy.node("/x"))
    started = time.monotonic()
    with pytest.raises(StoreTimeoutError, match=r"f\.zarr/x/c/1/1"):
        array[8:16, 8:16]
    elapsed = time.monotonic() - started
    figures.add("network: hang", cases=1, max_hang_s=round(elapsed, 2))
    assert elapsed < 15 + 1


def test_http_3_s_latency_still_reads(http_server: Any, figures: Any) -> None:
    write_store(http_server.root)
    http_server.faults.add("f.zarr/x/c/*", "slow:3")
    policy = RequestPolicy(attempt_timeout=5.0, deadline=15.0, retries=1, backoff=0.01)
    hierarchy = Hierarchy.open(http_server.url_for("f.zarr"), policy=policy)
    array = open_array(hierarchy.access, hierarchy.node("/x"))
    started = time.monotonic()
    np.testing.assert_array_equal(array[:16, :16], EXPECTED[:16, :16])  # 4 chunks, concurrently
    elapsed = time.monotonic() - started
    figures.add("network: latency 3 s", cases=1, max_hang_s=round(elapsed, 2))
    assert 3 <= elapsed < 10


def test_http_404_chunk_between_present_neighbours_is_flagged_missing(http_server: Any, figures: Any) -> None:
    path = write_store(http_server.root)
    (path / "x" / "c" / "2" / "2").unlink()  # the server answers 404; neighbours exist
    hierarchy = Hierarchy.open(http_server.url_for("f.zarr"), policy=FAST)
    node = hierarchy.node("/x")
    data = open_array(hierarchy.access, node)[8:32, 8:32]
    assert (data[8:16, 8:16] == -1).all()  # zarr: an absent chunk is the fill value...
    level = LevelArray.open(hierarchy.access, node)
    np.testing.assert_array_equal(level[8:32, 8:32], data)  # ...and so does the engine, which flags it
    assert level.missing((slice(8, 32), slice(8, 32))) == [http_server.url_for("f.zarr/x/c/2/2")]
    level[0:8, 0:48]
    assert level.missing((slice(0, 8), slice(0, 48))) == []
    figures.add("network: 404 chunk", cases=1, wrong_data=0)


def test_http_404_chunk_is_not_drawn_as_fill_by_the_thumbnail(http_server: Any) -> None:
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.preview import make_thumbnail
    from zarr_browser.core.validate import HierarchyContext

    path = write_store(http_server.root)
    (path / "x" / "c" / "2" / "2").unlink()
    registry = default_registry()
    hierarchy = Hierarchy.open(http_server.url_for("f.zarr"), policy=FAST)
    http_server.reset_stats()
    thumb = make_thumbnail(hierarchy.access, hierarchy.node("/x"), registry, HierarchyContext(hierarchy))
    assert "1 chunk(s) missing on the server" in thumb.note
    assert http_server.url_for("f.zarr/x/c/2/2") in thumb.note
    # each chunk asked once: the note comes from the read (an existence check per chunk, a whole
    # GET over HTTP, doubled what a thumbnail downloads: audit I, 4)
    chunks = {path: n for path, n in http_server.stats.by_path.items() if "/c/" in path}
    assert chunks and set(chunks.values()) == {1}, chunks


def test_http_group_that_cannot_be_listed_says_so(http_server: Any, figures: Any) -> None:
    write_store(http_server.root)
    http_server.faults.add("f.zarr", "500")  # the directory listing fails; documents still read
    http_server.faults.add("f.zarr/", "500")
    hierarchy = Hierarchy.open(http_server.url_for("f.zarr"), policy=FAST)
    listing = hierarchy.children("/")
    assert not listing.complete
    assert listing.error and "http://127.0.0.1" in listing.error and "f.zarr" in listing.error
    figures.add("network: unlistable group", cases=1)


def _six_arrays(root: Path, zarr_format: int) -> None:
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)  # type: ignore[arg-type]
    for name in "abcdef":
        group.create_array(name, shape=(4,), dtype="u1")


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_http_hanging_child_does_not_hold_back_its_siblings(http_server: Any, zarr_format: int) -> None:
    _six_arrays(Path(http_server.root) / "g.zarr", zarr_format)
    document = "zarr.json" if zarr_format == 3 else ".zarray"
    http_server.faults.add(f"g.zarr/c/{document}", "hang")
    hierarchy = Hierarchy.open(http_server.url_for("g.zarr"), policy=HANG)
    started = time.monotonic()
    listing = hierarchy.children("/", patience=0.5)
    assert time.monotonic() - started < HANG.deadline  # the siblings came after the patience, not the deadline
    assert [n.name for n in listing.nodes] == ["a", "b", "d", "e", "f"]
    assert listing.pending == ("c",)
    assert listing.names == tuple("abcdef") and not listing.has_more and listing.end == 6
    # the read goes on under its own deadline; node() waits for it instead of asking again
    node = hierarchy.node("/c")
    assert node.kind == "error" and f"c/{document}" in (node.error or "")
    assert http_server.stats.by_path[f"g.zarr/c/{document}"] <= HANG.retries + 1
    # a second listing serves every child from what was read
    again = hierarchy.children("/", patience=0.5)
    assert [n.name for n in again.nodes] == list("abcdef") and again.pending == ()


def test_http_listing_without_patience_waits_for_every_child(http_server: Any) -> None:
    _six_arrays(Path(http_server.root) / "g.zarr", 3)
    http_server.faults.add("g.zarr/c/zarr.json", "slow:0.5")
    hierarchy = Hierarchy.open(http_server.url_for("g.zarr"), policy=FAST)
    listing = hierarchy.children("/")
    assert [n.name for n in listing.nodes] == list("abcdef") and listing.pending == ()
    assert listing.nodes[2].kind == "array"


def test_http_refresh_while_a_child_is_read_reads_it_again(http_server: Any) -> None:
    _six_arrays(Path(http_server.root) / "g.zarr", 3)
    rule = http_server.faults.add("g.zarr/c/zarr.json", "slow:0.6", times=1)
    hierarchy = Hierarchy.open(http_server.url_for("g.zarr"), policy=FAST)
    assert hierarchy.children("/", patience=0.2).pending == ("c",)
    hierarchy.refresh("/")  # the slow read finishes, but its node is no longer stored
    assert rule.hits == 1
    listing = hierarchy.children("/")
    assert [n.name for n in listing.nodes] == list("abcdef") and listing.nodes[2].kind == "array"
    assert http_server.stats.by_path["g.zarr/c/zarr.json"] == 2


# -- S3 through the fault proxy ---------------------------------------------------------------


@pytest.fixture
def s3_proxy(s3_server: Any) -> Any:
    from servers_faults import FaultProxy

    with FaultProxy(s3_server.endpoint_url) as proxy:
        yield proxy


def _s3_store(s3_server: Any, tmp_path: Path) -> str:
    bucket = s3_server.new_bucket()
    s3_server.upload_tree(write_store(tmp_path), bucket, "f.zarr")
    return f"s3://{bucket}/f.zarr"


@pytest.mark.parametrize("seed", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_s3_20_percent_faults_never_give_wrong_data(s3_server: Any, s3_proxy: Any, tmp_path: Path,
                                                    figures: Any, seed: int) -> None:
    url = _s3_store(s3_server, tmp_path)
    s3_proxy.faults.random(0.2, seed=seed, behaviours=("500", "503", "drop", "truncate"))
    options = {**s3_server.storage_options, "endpoint_url": s3_proxy.url}
    good, failed = read_every_chunk(url, figures, "network: s3 20% faults", storage_options=options)
    assert sum(s3_proxy.stats.faults.values()) > 5, s3_proxy.stats.faults
    assert good >= 0.9 * len(chunk_slices()), f"retries should recover most chunks: {failed} failed"


def test_s3_never_answering_chunk_fails_within_the_deadline(s3_server: Any, s3_proxy: Any, tmp_path: Path,
                                                            figures: Any) -> None:
    url = _s3_store(s3_server, tmp_path)
    bucket = url.split("/")[2]
    s3_proxy.faults.add(f"{bucket}/f.zarr/x/c/1/1", "hang")
    options = {**s3_server.storage_options, "endpoint_url": s3_proxy.url}
    hierarchy = Hierarchy.open(url, policy=HANG, storage_options=options)
    array = open_array(hierarchy.access, hierarchy.node("/x"))
    started = time.monotonic()
    with pytest.raises(StoreReadError, match=r"s3://.*/f\.zarr/x/c/1/1"):
        array[8:16, 8:16]
    elapsed = time.monotonic() - started
    figures.add("network: hang", cases=1, max_hang_s=round(elapsed, 2))
    assert elapsed < HANG.deadline + 2


def test_s3_404_chunk_is_flagged_missing(s3_server: Any, tmp_path: Path) -> None:
    url = _s3_store(s3_server, tmp_path)
    bucket = url.split("/")[2]
    s3_server.client().delete_object(Bucket=bucket, Key="f.zarr/x/c/2/2")
    access = open_store(url, storage_options=s3_server.storage_options, policy=FAST)
    hierarchy = Hierarchy(access)
    hierarchy.load_root()
    level = LevelArray.open(access, hierarchy.node("/x"))
    level[8:32, 8:32]
    missing = level.missing((slice(8, 32), slice(8, 32)))
    assert len(missing) == 1 and missing[0].endswith("f.zarr/x/c/2/2")


# -- the GUI under faults ---------------------------------------------------------------------


def settle_earlier_tests() -> None:
    """Delete what earlier tests left for deletion and collect their garbage now: the stall
    measured is this window's, not a 250,000-row tree of another test being freed meanwhile."""
    import gc

    from qtpy.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.mark.parametrize("fault", ["slow:3", "hang", "503"])
def test_window_event_loop_never_stalls_on_a_faulty_store(qtbot: Any, http_server: Any, tmp_path: Path,
                                                          figures: Any, fault: str) -> None:
    """Open a store whose chunks are slow / never answer / fail, select the array (the inspector
    draws its thumbnail in a worker): the event loop never stalls more than 250 ms."""
    from qtpy.QtCore import QSettings

    from zarr_browser.core.conventions import default_registry
    from zarr_browser.qt.window import BrowserWindow
    from zarr_browser.qt.workers import ThreadRunner

    write_store(http_server.root)
    http_server.faults.add("f.zarr/x/c/*", fault)
    runner = ThreadRunner()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = BrowserWindow(runner=runner, registry=default_registry(), settings=settings, policy=HANG)
    qtbot.addWidget(window)
    window.show()
    settle_earlier_tests()
    meter = StallMeter()
    meter.start()
    try:
        with qtbot.waitSignal(window.storeOpened, timeout=20_000):
            window.openStore(http_server.url_for("f.zarr"))
        qtbot.waitUntil(lambda: window.selectPath("/x"), timeout=10_000)
        qtbot.wait(2500)  # the thumbnail's chunk reads are slow, hang or fail meanwhile
        stall = meter.stop()
        faults = sum(http_server.stats.faults.values())
    finally:
        window.close()
        http_server.reset()  # free hanging requests before the runner shuts down
        runner.shutdown()
    figures.add("gui under faults", cases=1, max_stall_ms=round(stall * 1000))
    assert faults > 0, "the window never asked for a chunk: nothing was measured"
    assert stall < 0.25, f"the event loop stalled {stall * 1000:.0f} ms"


NAPARI_FAULTS = ["20%", "slow:3", "hang", "404"]


@pytest.mark.parametrize("fault", NAPARI_FAULTS)
def test_napari_event_loop_never_stalls_on_a_faulty_store(make_napari_viewer: Any, qtbot: Any, http_server: Any,
                                                          figures: Any, engine: Any, fault: str) -> None:
    """Our reader in a real napari viewer over a store whose chunks fail 20 % of the time, take
    3 s, never answer or are missing: while they load (and the view pans) the event loop never
    stalls more than 250 ms, and nothing wrong is drawn as data."""
    truth = np.random.default_rng(0).integers(0, 60000, (512, 512), dtype="uint16")
    group = zarr.open_group(http_server.root / "n.zarr", mode="w")
    group.create_array("x", shape=truth.shape, chunks=(32, 32), dtype="uint16", fill_value=0)[...] = truth
    if fault == "20%":
        http_server.faults.random(0.2, pattern="n.zarr/x/c/*")
    elif fault == "404":
        for name in ("3/4", "7/7", "10/2"):
            (http_server.root / "n.zarr" / "x" / "c" / name).unlink()
    else:
        http_server.faults.add("n.zarr/x/c/*", fault)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(http_server.url_for("n.zarr/x"), plugin="zarr-browser")
    settle_earlier_tests()
    meter = StallMeter()
    meter.start()
    try:
        for step in range(8):  # pan and zoom while the chunks are on their way
            viewer.scene.camera.center = (0, 200 + 10 * step, 200 + 15 * step)
            viewer.scene.camera.zoom *= 1.1
            qtbot.wait(150)
        qtbot.wait(1000)
        stall = meter.stop()
        requests = http_server.stats.requests
        drawn = np.asarray(layer._slice.image.raw)
        holes = list(layer.data.last_holes)
    finally:
        http_server.reset()  # free hanging requests
    print(f"\n[napari {fault}] longest stall {stall * 1000:.0f} ms, {requests} requests, {len(holes)} holes")
    figures.add("napari under faults", cases=1, max_stall_ms=round(stall * 1000))
    assert requests > 0, "no chunk was asked for: nothing was measured"
    assert stall < 0.25, f"the event loop stalled {stall * 1000:.0f} ms ({fault})"
    # what is drawn is the data, the coarse/fill placeholder of a pending chunk, the failed
    # checkerboard or the missing stripes — never other data
    good = np.ones(drawn.shape, dtype=bool) if drawn.shape == truth.shape else None
    if good is not None:
        for hole in holes:
            good[hole.out] = False
        assert np.array_equal(drawn[good], truth[good])
    if fault == "404":
        assert {h.status for h in holes} >= {"missing"} or engine.stats()["missing"] > 0


def test_a_cancelled_detection_is_not_logged_as_a_convention_failure(http_server: Any,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Clicking on while a group's children are read cancels the read: the cancel reaches the
    caller, and nothing says a convention failed (it logged an ERROR with a traceback)."""
    import logging
    import threading

    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.store import cancellable
    from zarr_browser.errors import OperationCancelledError

    _six_arrays(Path(http_server.root) / "g.zarr", 3)
    http_server.faults.add("g.zarr/c/zarr.json", "hang")
    hierarchy = Hierarchy.open(http_server.url_for("g.zarr"), policy=HANG)
    registry = default_registry()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    with caplog.at_level(logging.WARNING), cancellable(cancel), pytest.raises(OperationCancelledError):
        registry.detect(hierarchy.root, children=lambda: hierarchy.children("/").nodes)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    http_server.reset()
