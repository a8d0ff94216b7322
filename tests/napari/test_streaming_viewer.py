"""The streaming display in a real napari viewer (under Xvfb): never waits, refines, marks failures.

The store is an OME-Zarr 0.5 image written by ome-zarr and served over loopback HTTP; faults
make the full-resolution chunks slow, hang or fail.  Figures (longest event-loop stall) are
printed, and only a generous "never freezes" bound is asserted (timings are not asserted in
unit tests; the benchmark reports them).
"""

from __future__ import annotations

import shutil
from typing import Any

import numpy as np
import pytest

from tests.stall import StallMeter
from zarr_browser._display import pending_holes
from zarr_browser.streaming.display import DisplayLevel
from zarr_browser.streaming.engine import StreamingEngine

FREEZE = 1.0


def shown(layer: Any) -> np.ndarray:
    """What the layer currently draws (napari's sliced data of the current level)."""
    return np.asarray(layer._slice.image.raw)


@pytest.mark.parametrize("fault", ["slow:3", "hang"])
def test_slow_full_resolution_never_blocks_and_refines(
    make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any, engine: StreamingEngine, fault: str
) -> None:
    image = stores.image("0.5", labels=False)
    shutil.copytree(image, http_server.root / "slow.ome.zarr")
    truth = np.asarray(__import__("zarr").open_array(str(image / "s0"), mode="r"))
    viewer = make_napari_viewer()
    http_server.faults.add("slow.ome.zarr/s0/c/*", fault)
    layers = viewer.open(http_server.url_for("slow.ome.zarr"), plugin="zarr-browser")
    dapi = layers[0]
    assert isinstance(dapi.data[0], DisplayLevel)
    assert dapi.data_level == 0  # a small image: napari shows full resolution
    meter = StallMeter()
    meter.start()
    for _ in range(3):  # pans and a zoom while the chunks are on their way
        viewer.scene.camera.center = (viewer.scene.camera.center[0] + 1, viewer.scene.camera.center[1] + 2)
        qtbot.wait(60)
    viewer.scene.camera.zoom *= 1.5
    qtbot.wait(300)
    stall = meter.stop()
    print(f"\n[{fault}] longest event-loop stall while full resolution loads: {stall * 1000:.0f} ms")
    assert stall < FREEZE
    assert pending_holes(dapi) > 0  # still loading: coarse data is drawn meanwhile
    coarse = shown(dapi)
    assert coarse.shape == truth.shape[1:] and coarse.any()
    http_server.faults.clear()
    http_server._release.set()
    qtbot.waitUntil(lambda: pending_holes(dapi) == 0 and np.array_equal(shown(dapi), truth[0]), timeout=20_000)


def test_opening_a_store_with_slow_metadata_keeps_the_window_live(
    make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any, engine: StreamingEngine
) -> None:
    """napari calls the reader on the GUI thread and needs the metadata before it returns: the
    reads run in a worker while the window handles events, so a store that takes 0.6 s per
    metadata document (several seconds in all) never freezes it, and the layers are right."""
    image = stores.image("0.5", labels=False)
    shutil.copytree(image, http_server.root / "slowmeta.ome.zarr")
    truth = np.asarray(__import__("zarr").open_array(str(image / "s0"), mode="r"))
    viewer = make_napari_viewer()
    http_server.faults.add("slowmeta.ome.zarr/*zarr.json", "slow:0.6")
    ticks: list[float] = []
    meter = StallMeter()
    meter.timer.timeout.connect(lambda: ticks.append(0.0))
    meter.start()
    layers = viewer.open(http_server.url_for("slowmeta.ome.zarr"), plugin="zarr-browser")
    stall = meter.stop()
    slowed = sum(http_server.stats.faults.values())
    print(f"\nviewer.open over 0.6 s metadata requests ({slowed} slowed): longest stall {stall * 1000:.0f} ms, "
          f"{len(ticks)} timer ticks during the open")
    assert slowed >= 2, "the metadata was not slowed: nothing was measured"
    assert stall < FREEZE
    assert len(ticks) > 20  # the event loop ran while the metadata came
    assert len(layers) == truth.shape[0]  # one layer per channel
    qtbot.waitUntil(lambda: pending_holes(layers[0]) == 0 and np.array_equal(shown(layers[0]), truth[0]), timeout=20_000)


def test_failed_chunks_are_drawn_as_failed_and_reported(
    make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any, engine: StreamingEngine
) -> None:
    from napari.utils.notifications import notification_manager

    image = stores.image("0.5", labels=False)
    shutil.copytree(image, http_server.root / "bad.ome.zarr")
    viewer = make_napari_viewer()
    http_server.faults.add("bad.ome.zarr/s0/c/*", "500")
    before = len(notification_manager.records)
    dapi = viewer.open(http_server.url_for("bad.ome.zarr"), plugin="zarr-browser")[0]
    qtbot.waitUntil(lambda: any(h.status == "failed" for h in dapi.data[0].last_holes), timeout=20_000)
    qtbot.waitUntil(lambda: any("checkerboard" in str(r.message) for r in notification_manager.records[before:]),
                    timeout=5_000)
    message = next(str(r.message) for r in notification_manager.records[before:] if "checkerboard" in str(r.message))
    assert "bad.ome.zarr/s0/c/" in message
    drawn = shown(dapi)
    assert set(np.unique(drawn)) == {0, 65535}  # failed, not data


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_plate_mosaic_opens_tiles_together_and_never_waits(
    stores: Any, http_server: Any, engine: Any, version: str
) -> None:
    import time

    from zarr_browser._reader import napari_get_reader

    plate = stores.plate(version)
    shutil.copytree(plate, http_server.root / "plate.ome.zarr")
    url = http_server.url_for("plate.ome.zarr")
    truth = np.asarray(napari_get_reader(url)(url)[0][0][-1].level)  # a blocking read, for comparison
    engine.clear_cache()
    http_server.latency = 0.05
    http_server.reset_stats()
    mosaic = napari_get_reader(url)(url)[0][0][-1]  # the overview level; a fresh hierarchy: nothing cached
    assert isinstance(mosaic, DisplayLevel) and mosaic.shape == (16, 36)
    first = mosaic[...]
    assert {h.status for h in mosaic.last_holes} == {"pending"} and not first.any()
    deadline = time.monotonic() + 20
    while mosaic.last_holes and time.monotonic() < deadline:
        time.sleep(0.02)
        mosaic[...]
    np.testing.assert_array_equal(mosaic[...], truth)
    # opening: the plate's own metadata and the first field (a few round trips, one after
    # another); then the tiles: wells, fields and levels each read together, then the chunks
    trips = http_server.stats.round_trips
    print(f"\n[plate {version}] {http_server.stats.requests} requests in {trips} round trips")
    assert trips <= 14, trips


def test_plate_labels_over_http_are_drawn_when_their_tiles_arrive(
    make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any, engine: StreamingEngine
) -> None:
    """napari reads a labels layer twice per refresh (the view, then a row for the cursor value):
    a complete second read must not hide that the view itself was drawn without its tiles."""
    import zarr

    plate = stores.plate("0.5", labels=True)
    shutil.copytree(plate, http_server.root / "plate.ome.zarr")
    http_server.latency = 0.03
    viewer = make_napari_viewer()
    layers = viewer.open(http_server.url_for("plate.ome.zarr"), plugin="zarr-browser")
    labels = layers[-1]
    assert labels.__class__.__name__ == "Labels" and labels.multiscale
    cells = zarr.open_group(str(plate / "A" / "1" / "0" / "labels" / "cells"), mode="r")
    datasets = cells.attrs["ome"]["multiscales"][0]["datasets"]
    truth = np.asarray(cells[datasets[labels.data_level]["path"]])  # well A/1 at the level napari shows
    height, width = truth.shape[-2:]
    qtbot.waitUntil(lambda: np.array_equal(shown(labels)[:height, :width], truth), timeout=20_000)


def test_coarsest_level_shown_before_it_arrived_is_redrawn(
    make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any, engine: StreamingEngine
) -> None:
    """napari 0.9 keeps its own copy of a multiscale layer's coarsest level (for the thumbnail and
    for the view at that level): when that level arrives after the layer was made, the copy must
    be dropped, or the placeholders stay on screen."""
    import zarr

    image = stores.image("0.5", labels=False)
    shutil.copytree(image, http_server.root / "late.ome.zarr")
    coarsest = np.asarray(zarr.open_array(str(image / "s2"), mode="r"))
    viewer = make_napari_viewer()
    viewer.window._qt_window.resize(400, 300)
    http_server.faults.add("late.ome.zarr/s2/c/*", "slow:1")  # longer than the reader waits for it
    layers = viewer.open(http_server.url_for("late.ome.zarr"), plugin="zarr-browser")
    dapi = layers[0]
    dapi.locked_data_level = len(dapi.data) - 1  # the coarsest level is what the view shows
    qtbot.waitUntil(lambda: np.array_equal(shown(dapi), coarsest[0]), timeout=20_000)
    assert dapi.thumbnail.any()


def test_absent_chunks_of_a_remote_float_array_are_the_fill_value(
    make_napari_viewer: Any, http_server: Any, qtbot: Any, engine: StreamingEngine
) -> None:
    """zarr-python (like xarray and ome-zarr) leaves chunks that are all fill value out: over HTTP
    they answer 404 and must be drawn as the fill value - not as marks whose extreme values
    would become the contrast range (for float32 that looped napari's contrast into a
    RecursionError)."""
    import zarr

    array = zarr.create_array(str(http_server.root / "sparse.zarr"), shape=(200, 200), chunks=(50, 50),
                              dtype="float32", fill_value=0)
    array[0:50, 0:50] = np.linspace(1, 2, 2500, dtype="float32").reshape(50, 50)  # 1 of 16 chunks
    truth = np.asarray(array)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(http_server.url_for("sparse.zarr"), plugin="zarr-browser")
    qtbot.waitUntil(lambda: np.array_equal(shown(layer), truth), timeout=20_000)
    assert {h.status for h in layer.data.last_holes} == {"missing"}  # 15 chunks the server does not have
    low, high = layer.contrast_limits
    assert 0 <= low < high <= 2.0  # the data's range, not the dtype's


def test_failed_float_chunks_are_nan_not_the_dtype_extremes() -> None:
    from zarr_browser.streaming.display import failed_pattern

    assert np.isnan(failed_pattern((4, 4), np.dtype("float32"))).all()
    assert set(np.unique(failed_pattern((16, 16), np.dtype("uint8")))) == {0, 255}


def test_a_frame_drawn_after_the_views_chunks_landed_draws_them(
    make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any, engine: StreamingEngine
) -> None:
    """The refresh waited for its queued signal, which the frame already being drawn held back:
    that frame drew the placeholders once more and the data came a frame later (3 paints for a
    view over HTTP, 2 now).  A frame about to be drawn takes up the chunks that landed first."""
    import time
    from types import SimpleNamespace

    import zarr

    from zarr_browser import _display

    image = stores.image("0.5", labels=False)
    shutil.copytree(image, http_server.root / "frame.ome.zarr")
    truth = np.asarray(zarr.open_array(str(image / "s0"), mode="r"))
    viewer = make_napari_viewer()
    http_server.faults.add("frame.ome.zarr/s0/c/*", "hang")
    layers = viewer.open(http_server.url_for("frame.ome.zarr"), plugin="zarr-browser")
    dapi = layers[0]
    qtbot.waitUntil(lambda: pending_holes(dapi) > 0, timeout=10_000)
    refresher = _display._refresher
    canvas = viewer.window._qt_viewer.canvas._scene_canvas
    assert refresher is not None and canvas in refresher._canvases  # it hears this viewer's frames
    assert not np.array_equal(shown(dapi), truth[0])
    http_server.faults.clear()
    http_server._release.set()  # the hanging requests fail; their retries succeed
    deadline = time.monotonic() + 20
    while engine.pending():  # no Qt event runs meanwhile: the "arrived" signal stays queued
        assert time.monotonic() < deadline, "chunks still pending"
        time.sleep(0.01)
    refresher._before_draw(SimpleNamespace(source=canvas))  # what the next frame does first
    assert pending_holes(dapi) == 0 and np.array_equal(shown(dapi), truth[0])
