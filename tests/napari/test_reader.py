"""The napari plugin in a real viewer: reader, sample data and the browser dock.

Run under Xvfb: ``xvfb-run -a .venv/bin/pytest tests/napari -q -p no:xvfb``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_browser._reader import napari_get_reader
from zarr_browser.errors import ZarrBrowserError

pytestmark = pytest.mark.gui


def names(layers: Any) -> list[str]:
    return [layer.name for layer in layers]


def kinds(layers: Any) -> list[str]:
    return [type(layer).__name__ for layer in layers]


# -- the sniff -------------------------------------------------------------------------------


def test_get_reader_declines_what_is_not_zarr_and_never_raises(
    stores: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    fake_zip = tmp_path / "fake.zip"
    fake_zip.write_text("not a zip")
    for path in (stores.not_zarr(), text, fake_zip, stores.broken(), tmp_path / "missing.zarr", "gs://bucket/a.zarr"):
        assert napari_get_reader(str(path)) is None, path
    image, array = stores.image("0.5"), stores.v3_array()
    assert napari_get_reader([str(image), str(array)]) is None
    assert callable(napari_get_reader(str(image)))
    assert callable(napari_get_reader([str(array)]))

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug while opening")

    unreachable = napari_get_reader("http://127.0.0.1:9/missing.zarr")  # nothing listens on port 9
    assert unreachable is not None
    with pytest.raises(ZarrBrowserError, match=r"127\.0\.0\.1:9"):
        unreachable("http://127.0.0.1:9/missing.zarr")

    from zarr_browser.core import enclosing

    monkeypatch.setattr(enclosing, "open_enclosing", boom)  # what the reader opens stores with
    assert napari_get_reader(str(stores.image("0.4", name="other.ome.zarr"))) is None


# -- viewer.open for every kind --------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_open_ome_image_with_labels(make_napari_viewer: Any, stores: Any, version: str) -> None:
    viewer = make_napari_viewer()
    layers = viewer.open(str(stores.image(version)), plugin="zarr-browser")
    assert names(layers) == ["image: DAPI", "image: GFP", "image: cells"]
    assert kinds(layers) == ["Image", "Image", "Labels"]
    dapi, gfp, cells = layers
    assert dapi.multiscale and len(dapi.data) == 3
    assert dapi.colormap.name == "blue" and gfp.colormap.name == "green"
    assert tuple(dapi.contrast_limits) == (10.0, 900.0)
    # the slider spans the omero window's min/max: napari made it the limits, which then could not widen
    assert dapi.contrast_limits_range == [0.0, 1000.0] and gfp.contrast_limits_range == [0.0, 1000.0]
    assert dapi.visible and not gfp.visible
    assert tuple(dapi.scale) == (0.5, 0.25) and tuple(cells.scale) == (0.5, 0.25)
    assert tuple(dapi.axis_labels) == ("y", "x")
    assert [str(u) for u in dapi.units] == ["micrometer", "micrometer"]
    np.testing.assert_allclose(cells.colormap.map(np.array([1, 2])), [[1, 0, 0, 1], [0, 1, 0, 128 / 255]],
                               atol=1e-6)
    assert list(cells.features["class"]) == ["a", "b"]
    assert cells.metadata["zarr_browser"]["path"] == "/labels/cells"
    assert gfp.metadata["zarr_browser"] == {"url": str(stores.root / "image.ome.zarr"), "path": "/",
                                            "role": "image", "channel": 1, "contrast_range": [0.0, 1000.0]}


def test_open_plate_zip_and_http(make_napari_viewer: Any, stores: Any, http_server: Any, tmp_path: Path) -> None:
    viewer = make_napari_viewer()
    plate = viewer.open(str(stores.plate("0.4", labels=True)), plugin="zarr-browser")
    assert kinds(plate) == ["Image", "Image", "Labels"]
    assert plate[0].multiscale and [d.shape for d in plate[0].data] == [(64, 144), (32, 72), (16, 36)]
    assert plate[2].multiscale and plate[2].data[0].shape == (64, 144)  # labels at the image's resolution

    assert [str(u) for u in plate[2].units] == ["micrometer", "micrometer"]  # from the image axes
    viewer.layers.clear()
    image = stores.image("0.5", labels=False)
    archive = Path(shutil.make_archive(str(tmp_path / "zipped"), "zip", root_dir=image))
    zipped = viewer.open(str(archive), plugin="zarr-browser")
    assert names(zipped) == ["zipped: DAPI", "zipped: GFP"]  # named after the store: ome-zarr calls every image "image"

    viewer.layers.clear()
    shutil.copytree(image, http_server.root / "remote.ome.zarr")
    remote = viewer.open(http_server.url_for("remote.ome.zarr"), plugin="zarr-browser")
    assert names(remote) == ["remote: DAPI", "remote: GFP"]
    np.testing.assert_array_equal(np.asarray(remote[1].data[-1]), np.asarray(zipped[1].data[-1]))
    assert remote[0].metadata["zarr_browser"]["url"].startswith("http://127.0.0.1")

    viewer.layers.clear()
    (http_server.root / "zipped.zip").write_bytes(archive.read_bytes())
    remote_zip = viewer.open(http_server.url_for("zipped.zip"), plugin="zarr-browser")  # read in place
    assert names(remote_zip) == ["zipped: DAPI", "zipped: GFP"]
    np.testing.assert_array_equal(np.asarray(remote_zip[1].data[-1]), np.asarray(zipped[1].data[-1]))


def test_a_server_answering_403_for_missing_keys_keeps_labels_and_wells(
    make_napari_viewer: Any, stores: Any, http_server: Any
) -> None:
    """S3 or GCS to a caller who may not list answer 403 for a missing key: the image lost its
    labels layer (the labels group, whose v2 probes were refused, was an error) and a v2 plate
    gave no layer at all, "no well has a readable field" (audit H, 3)."""
    viewer = make_napari_viewer()
    image = stores.image("0.5", labels=True)
    plate = stores.plate("0.4", labels=True)
    local_image = viewer.open(str(image), plugin="zarr-browser")
    local_plate = viewer.open(str(plate), plugin="zarr-browser")
    viewer.layers.clear()
    shutil.copytree(image, http_server.root / "image.ome.zarr")
    shutil.copytree(plate, http_server.root / "plate.ome.zarr")
    http_server.listing, http_server.listing_status, http_server.missing_status = False, 403, 403
    remote_image = viewer.open(http_server.url_for("image.ome.zarr"), plugin="zarr-browser")
    remote_plate = viewer.open(http_server.url_for("plate.ome.zarr"), plugin="zarr-browser")
    assert names(remote_image) == names(local_image) == ["image: DAPI", "image: GFP", "image: cells"]
    assert kinds(remote_plate) == kinds(local_plate) == ["Image", "Image", "Labels"]
    for remote, local in ((remote_image[2], local_image[2]), (remote_plate[2], local_plate[2])):
        # the blocking views (napari's own never wait: a block still on its way is a placeholder)
        np.testing.assert_array_equal(np.asarray(remote.data[0].level), np.asarray(local.data[0].level))


def test_a_folder_inside_a_store_keeps_what_its_parents_say(stores: Any) -> None:
    """A variable, a pyramid level or a label image opened by its own folder is placed as when it
    is opened from the store's root: the reader opens the enclosing store."""
    dataset = stores.xarray()
    (_, kwargs, _), = napari_get_reader(str(dataset / "temperature"))(str(dataset / "temperature"))
    assert kwargs["scale"] == pytest.approx((1.0, 10.0, 4.0)) and kwargs["translate"] == pytest.approx((0, -45, 0))
    image = stores.image("0.4", labels=True)
    whole = {kw["name"]: kw for _, kw, _ in napari_get_reader(str(image))(str(image))}
    (_, level, _), = napari_get_reader(str(image / "s0"))(str(image / "s0"))
    first = next(kw for name, kw in whole.items() if "cells" not in name)
    assert level["scale"][1:] == pytest.approx(first["scale"])  # (c, y, x): the level is not split in channels
    assert level["axis_labels"] == ("c", *first["axis_labels"])
    label_folder = image / "labels" / "cells"
    (_, labels, kind), = napari_get_reader(str(label_folder))(str(label_folder))
    assert kind == "labels" and [str(u) for u in labels["units"]] == ["micrometer", "micrometer"]
    assert napari_get_reader(str(label_folder / "s0" / "0")) is None  # a chunk folder: not a node
    (_, group_labels, _), = napari_get_reader(str(image / "labels"))(str(image / "labels"))  # the labels group
    assert [str(u) for u in group_labels["units"]] == ["micrometer", "micrometer"]


def test_a_node_inside_a_zip_opens_from_the_archive(stores: Any, tmp_path: Path) -> None:
    """What Copy URL gives for a member of a zip (fsspec's chain), or a path through the archive."""
    from zarr_browser.core.snippets import node_url

    image = stores.image("0.4", labels=True)
    archive = Path(shutil.make_archive(str(tmp_path / "zipped"), "zip", root_dir=image))
    for url in (node_url(str(archive), "/labels/cells"), str(archive / "labels" / "cells")):
        (_, labels, kind), = napari_get_reader(url)(url)
        assert kind == "labels" and [str(u) for u in labels["units"]] == ["micrometer", "micrometer"]
        assert labels["metadata"]["zarr_browser"] == {"url": str(archive), "path": "/labels/cells", "role": "labels"}
    assert napari_get_reader(str(archive / "nothing" / "here")) is None
    assert napari_get_reader(f"zip://labels::{tmp_path / 'missing.zip'}") is None


def test_a_remote_array_inside_a_store_keeps_what_its_parents_say(stores: Any, http_server: Any) -> None:
    import zarr

    shutil.copytree(stores.xarray(), http_server.root / "dataset.zarr")
    zarr.open_group(str(http_server.root / "collection.zarr"), mode="w", zarr_format=2)  # a group of images
    shutil.copytree(stores.image("0.4", labels=True), http_server.root / "collection.zarr" / "image.ome.zarr")
    url = http_server.url_for("dataset.zarr/temperature")
    (_, kwargs, _), = napari_get_reader(url)(url)
    assert kwargs["scale"] == pytest.approx((1.0, 10.0, 4.0)) and kwargs["translate"] == pytest.approx((0, -45, 0))
    url = http_server.url_for("collection.zarr/image.ome.zarr/labels/cells")
    (_, labels, kind), = napari_get_reader(url)(url)
    assert kind == "labels" and [str(u) for u in labels["units"]] == ["micrometer", "micrometer"]
    http_server.reset_stats()
    url = http_server.url_for("collection.zarr/image.ome.zarr")  # placed by its own metadata: no parent read
    assert len(napari_get_reader(url)(url)) == 3
    assert not any(path.startswith("collection.zarr/.z") for path in http_server.stats.by_path)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_open_a_plain_rgb_array(make_napari_viewer: Any, tmp_path: Path, zarr_format: int) -> None:
    import zarr

    pixels = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    array = zarr.create_array(str(tmp_path / "rgb.zarr"), shape=pixels.shape, chunks=(10, 10, 3), dtype="uint8",
                              zarr_format=zarr_format)
    array[...] = pixels
    if zarr_format == 2:  # as xarray writes it: its v2 rule masks the fill value 0, but colours are no CF values
        array.attrs["_ARRAY_DIMENSIONS"] = ["y", "x", "rgb"]
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "rgb.zarr"), plugin="zarr-browser")
    assert layer.rgb and layer.ndim == 2 and tuple(layer.scale) == (1.0, 1.0)  # placed by y and x only
    np.testing.assert_array_equal(np.asarray(layer.data.level), pixels)


def test_open_plain_arrays_and_groups(make_napari_viewer: Any, stores: Any) -> None:
    viewer = make_napari_viewer()
    (array,) = viewer.open(str(stores.v3_array()), plugin="zarr-browser")
    assert tuple(array.axis_labels) == ("z", "y", "x") and array.data.shape == (4, 40, 50)
    dataset = viewer.open(str(stores.xarray()), plugin="zarr-browser")
    assert names(dataset) == ["dataset/mask", "dataset/temperature"]  # the store's arrays, named where they are
    assert tuple(dataset[1].scale) == pytest.approx((1.0, 10.0, 4.0))
    group = viewer.open(str(stores.plain_group(n_images=10)), plugin="zarr-browser")
    assert names(group) == [f"group/img{i}" for i in range(8)]


def test_the_contrast_slider_spans_the_data_type(make_napari_viewer: Any, tmp_path: Path) -> None:
    """napari made a layer's slider range its first contrast limits (here those of the data),
    so the slider could not widen them; a 16-bit array's spans its type, a float's is napari's."""
    import zarr

    from zarr_browser._reader import open_node
    from zarr_browser.core.hierarchy import Hierarchy

    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=3)
    group.create_array("counts", shape=(8, 8), dtype="uint16")[...] = np.arange(64).reshape(8, 8) + 100
    group.create_array("heat", shape=(8, 8), dtype="float32")[...] = np.arange(64).reshape(8, 8) / 7
    viewer = make_napari_viewer()
    counts, heat = viewer.open(str(tmp_path / "g.zarr"), plugin="zarr-browser")
    assert counts.contrast_limits_range == [0.0, 65535.0] and counts.contrast_limits[0] >= 100
    assert "contrast_range" not in heat.metadata["zarr_browser"]
    viewer.layers.clear()
    _, (again,) = open_node(viewer, Hierarchy.open(str(tmp_path / "g.zarr")), "/counts")  # the dock's way
    assert again.contrast_limits_range == [0.0, 65535.0]


def test_arrays_napari_cannot_draw_are_noted_and_the_rest_open(make_napari_viewer: Any, tmp_path: Path) -> None:
    """An empty array and datetime values: left out with a note naming each; the group's other
    arrays still open (an empty one used to stop the whole open in napari). Complex values open
    as their magnitude."""
    import zarr
    from napari.utils.notifications import notification_manager

    group = zarr.open_group(str(tmp_path / "mixed.zarr"), mode="w", zarr_format=3)
    group.create_array("a", shape=(8, 8), dtype="uint8")[...] = 3
    group.create_array("empty", shape=(0, 5), dtype="float32")
    group.create_array("waves", shape=(8, 8), dtype="complex64")
    group.create_array("when", shape=(8, 8), dtype="datetime64[ns]")
    group.create_array("z", shape=(8, 8), dtype="uint16")[...] = 9
    viewer = make_napari_viewer()
    seen: list[str] = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    group["waves"][...] = np.full((8, 8), 3 + 4j, dtype="complex64")
    layers = viewer.open(str(tmp_path / "mixed.zarr"), plugin="zarr-browser")
    assert names(layers) == ["mixed/a", "mixed/waves |z|", "mixed/z"]  # complex: shown as its magnitude, and said so
    assert layers[1].metadata["zarr_browser"]["values"] == "magnitude"
    np.testing.assert_array_equal(np.asarray(layers[1].data[:, :]), np.full((8, 8), 5, dtype="float32"))
    note = next(m for m in seen if "not shown in napari" in m)
    assert "empty (the array is empty (0 × 5))" in note and "waves" not in note and "when (" in note
    assert any("waves: complex values (complex64) are shown as their magnitude |z|" in m for m in seen), seen
    assert viewer.open(str(tmp_path / "mixed.zarr" / "empty"), plugin="zarr-browser") == []
    assert any("mixed.zarr/empty" in m or "/empty: the array is empty" in m for m in seen), seen


def test_64_bit_ids_above_2_53_open_with_contrast_limits(make_napari_viewer: Any, tmp_path: Path) -> None:
    """Segmentation ids as plain uint64: napari's own float contrast collapses (2**63 .. 2**63+99
    are one float64) and refuses the layer; ours gives limits it accepts."""
    import zarr

    values = (np.uint64(2**63) + np.arange(64 * 64, dtype="uint64") % 100).reshape(64, 64)
    zarr.create_array(str(tmp_path / "ids.zarr"), shape=values.shape, dtype="uint64", chunks=(32, 32))[...] = values
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(tmp_path / "ids.zarr"), plugin="zarr-browser")
    low, high = layer.contrast_limits
    assert low == float(2**63) and high > low


def test_bf2raw_opens_nothing_and_lists_the_series_in_the_dock(
    make_napari_viewer: Any, stores: Any, qtbot: Any
) -> None:
    viewer = make_napari_viewer()
    layers = viewer.open(str(stores.bf2raw(2)), plugin="zarr-browser")
    assert layers == []
    widget = viewer.window.dock_widgets["Zarr browser (zarr-browser)"]
    qtbot.waitUntil(lambda: not widget.is_busy() and widget.browser.current_path() == "/0", timeout=10_000)
    proxy = widget.browser.proxy
    root = proxy.index(0, 0)
    assert [proxy.index(i, 0, root).data() for i in range(2)] == ["0", "1"]


def test_pickle_array_is_refused_with_a_message(make_napari_viewer: Any, stores: Any) -> None:
    from napari.utils.notifications import notification_manager

    viewer = make_napari_viewer()
    array, marker = stores.pickle_array()
    seen: list[str] = []
    notification_manager.notification_ready.connect(lambda n: seen.append(n.message))
    assert viewer.open(str(array), plugin="zarr-browser") == []
    assert any("'pickle' is refused" in m for m in seen), seen
    assert not marker.exists()


def double_click(qtbot: Any, tree: Any, index: Any) -> None:
    """Double-click the row of *index* in *tree* (a QTreeView), as a user would."""
    from qtpy.QtCore import Qt

    tree.scrollTo(index)
    point = tree.visualRect(index).center()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=point)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=point)


# -- sample data and the dock ----------------------------------------------------------------


def test_sample_data(make_napari_viewer: Any, small_demo: Path, monkeypatch: pytest.MonkeyPatch,
                     tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(small_demo, cache / "zarr-browser" / "demo")  # reused: not written again
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    viewer = make_napari_viewer()
    layers = viewer.open_sample("zarr-browser", "demo")
    assert names(layers) == ["cells: DAPI", "cells: Membrane", "cells: Spots", "cells: nuclei"]
    assert kinds(layers) == ["Image", "Image", "Image", "Labels"]


def test_dock_opens_nodes_and_follows_the_layer_selection(
    make_napari_viewer: Any, stores: Any, qtbot: Any
) -> None:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    path = stores.image("0.5")
    widget.show_store(str(path), select="/labels/cells")
    qtbot.waitUntil(lambda: not widget.is_busy() and widget.browser.current_path() == "/labels/cells",
                    timeout=10_000)
    widget.open_path("/labels/cells")
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=10_000)
    assert kinds(viewer.layers) == ["Labels"] and viewer.layers[0].name == "image: cells"  # named as its image names it

    double_click(qtbot, widget.browser.tree, widget.browser.proxy.index(0, 0))  # the root: image and labels
    qtbot.waitUntil(lambda: len(viewer.layers) == 3, timeout=10_000)
    # the labels open already are not added again; they stay above their image
    assert names(viewer.layers) == ["image: DAPI", "image: GFP", "image: cells"]
    assert "2 layer(s) added, 1 open already" in widget.status.text()
    assert widget.browser.current_path() == "/"  # napari made the last layer active; the dock stays put

    viewer.layers.selection.active = viewer.layers["image: GFP"]
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/", timeout=5_000)
    viewer.layers.selection.active = viewer.layers["image: cells"]
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/labels/cells", timeout=5_000)
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=5_000)
    # and the other way round: a node chosen in the dock selects the layers it was opened as
    from qtpy.QtCore import Qt

    tree = widget.browser.tree
    point = tree.visualRect(widget.browser.proxy.index(0, 0)).center()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=point)  # a user's choice
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/", timeout=5_000)
    # the image's channels (its labels layer was opened as /labels/cells)
    assert {layer.name for layer in viewer.layers.selection} == {"image: DAPI", "image: GFP"}
    assert widget.browser.current_path() == "/"  # selecting them did not move the dock again


def test_the_dock_does_not_open_a_plain_group_on_double_click_and_has_its_keys(
        make_napari_viewer: Any, qtbot: Any, tmp_path: Path) -> None:
    """A double-click expands a plain group (its arrays are what opens); F5 and Ctrl+F act in the dock."""
    import zarr

    group = zarr.open_group(tmp_path / "g.zarr", mode="w")
    group.create_group("plain").create_array("a", shape=(8, 8), dtype="u1")
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    widget.show_store(str(tmp_path / "g.zarr"), select="/plain")
    qtbot.waitUntil(lambda: not widget.is_busy() and widget.browser.current_path() == "/plain", timeout=10_000)
    widget.browser.nodeActivated.emit("/plain")  # what a double-click or Enter on the row sends
    qtbot.wait(300)
    assert len(viewer.layers) == 0 and "a group" in widget.status.text()
    widget.open_path("/plain/a")
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=10_000)
    assert widget.browser.refreshAction.shortcut().toString() == "F5"
    assert widget.browser.findAction.shortcut().toString() == "Ctrl+F"
    assert widget.browser.refreshAction in widget.browser.actions()  # active while the dock has the focus


def test_the_dock_shows_the_store_asked_for_last(make_napari_viewer: Any, stores: Any, qtbot: Any,
                                                http_server: Any) -> None:
    """A slow load that ends after a later, faster one no longer replaces it (the tree showed one
    store while the URL box and the layers named another)."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    shutil.copytree(stores.image("0.5"), http_server.root / "slow.ome.zarr")
    http_server.faults.add("slow.ome.zarr/zarr.json", "slow:0.6")
    local = str(stores.xarray())
    widget.show_store(http_server.url_for("slow.ome.zarr"))
    widget.show_store(local)
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=15_000)
    qtbot.wait(200)
    assert widget.hierarchy is not None and widget.hierarchy.url == local
    assert widget.url_edit.text() == local and not widget.status.text().startswith("error")


# -- the command line ------------------------------------------------------------------------


def test_cli_napari_flag_opens_the_store_with_the_dock(
    stores: Any, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    import napari

    from zarr_browser import cli

    ran: list[bool] = []
    monkeypatch.setattr(napari, "run", lambda *a, **k: ran.append(True))
    path = stores.image("0.5")
    assert cli.main([str(path), "--napari"]) == 0
    viewer = napari.current_viewer()
    try:
        assert ran == [True]
        assert names(viewer.layers) == ["image: DAPI", "image: GFP", "image: cells"]
        dock = viewer.window.dock_widgets["Zarr browser (zarr-browser)"]
        qtbot.waitUntil(lambda: dock.hierarchy is not None and not dock.is_busy(), timeout=10_000)
        assert dock.hierarchy.url == str(path)
    finally:
        viewer.close()
    assert cli.main([str(stores.not_zarr()), "--napari"]) == cli.EXIT_UNREADABLE


@pytest.mark.parametrize("timeout", [[], ["--timeout", "5"]])  # napari's reader, or ours with a deadline
def test_cli_napari_flag_opens_a_folder_inside_a_store_from_the_store(
    stores: Any, monkeypatch: pytest.MonkeyPatch, qtbot: Any, timeout: list[str]
) -> None:
    import napari

    from zarr_browser import cli

    monkeypatch.setattr(napari, "run", lambda *a, **k: None)
    image = stores.image("0.4", labels=True)
    assert cli.main([str(image / "labels" / "cells"), "--napari", *timeout]) == 0
    viewer = napari.current_viewer()
    try:
        (labels,) = viewer.layers
        assert labels.name == "image: cells" and [str(u) for u in labels.units] == ["micrometer", "micrometer"]
        assert tuple(labels.scale) == (0.5, 0.25)  # the image's scale: read from the store above
        dock = viewer.window.dock_widgets["Zarr browser (zarr-browser)"]
        qtbot.waitUntil(lambda: not dock.is_busy() and dock.browser.current_path() == "/labels/cells",
                        timeout=10_000)
        assert dock.hierarchy.url == str(image.resolve())
    finally:
        viewer.close()


def test_the_dock_opens_a_store_with_the_storage_options_it_was_opened_with(
    stores: Any, s3_server: Any, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    import napari

    from zarr_browser import cli

    bucket = s3_server.new_bucket()
    s3_server.upload_tree(stores.image("0.5"), bucket, "image.ome.zarr")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # only the options carry the credentials
        monkeypatch.delenv(name)
    monkeypatch.setattr(napari, "run", lambda *a, **k: None)
    url = f"s3://{bucket}/image.ome.zarr"
    options = [arg for key, value in s3_server.storage_options.items() for arg in ("-O", f"{key}={value}")]
    assert cli.main([url, "--napari", "--node", "/labels/cells", *options]) == 0  # what "Open in napari" runs
    viewer = napari.current_viewer()
    try:
        assert names(viewer.layers) == ["image: cells"]
        dock = viewer.window.dock_widgets["Zarr browser (zarr-browser)"]
        qtbot.waitUntil(lambda: not dock.is_busy() and dock.browser.current_path() == "/labels/cells",
                        timeout=20_000)
        assert dock.hierarchy.url == url and not dock.status.text().startswith("error")
        other = stores.image("0.4", name="other.ome.zarr")
        dock.show_store(str(other))
        qtbot.waitUntil(lambda: dock.hierarchy is not None and dock.hierarchy.url == str(other), timeout=10_000)
        viewer.layers.selection.active = None
        viewer.layers.selection.active = viewer.layers["image: cells"]  # its store shows again (kept for it)
        qtbot.waitUntil(lambda: dock.hierarchy.url == url and dock.browser.current_path() == "/labels/cells",
                        timeout=20_000)
        assert not dock.status.text().startswith("error")
        kept = dock.hierarchy
        dock.show_store(url, reload=True)  # read afresh: with the options it was opened with
        qtbot.waitUntil(lambda: dock.hierarchy is not kept and not dock.is_busy(), timeout=20_000)
        assert dock.hierarchy.url == url and not dock.browser.errorText()
    finally:
        viewer.close()


def test_a_view_moved_while_the_dock_settles_is_left_as_it_is(make_napari_viewer: Any, stores: Any,
                                                              qtbot: Any) -> None:
    viewer = make_napari_viewer(show=True)
    viewer.open(str(stores.plate("0.5")), plugin="zarr-browser")
    viewer.scene.camera.zoom = 1.5  # the user zooms before the dock has taken its room
    widget = viewer.window.dock_widgets["Zarr browser (zarr-browser)"]
    qtbot.waitUntil(lambda: not widget.is_busy() and widget.browser.current_path() == "/A/1", timeout=10_000)
    qtbot.wait(500)
    assert viewer.scene.camera.zoom == 1.5


def test_dock_opens_a_plate_field_at_full_resolution(make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    viewer = make_napari_viewer(show=True)  # shown: the dock takes room from the canvas
    (mosaic, _) = viewer.open(str(stores.plate("0.5")), plugin="zarr-browser")
    assert mosaic.multiscale  # zooming in on the mosaic reaches full resolution too
    widget = viewer.window.dock_widgets["Zarr browser (zarr-browser)"]  # shown with the wells listed
    qtbot.waitUntil(lambda: not widget.is_busy() and widget.browser.current_path() == "/A/1", timeout=10_000)
    qtbot.wait(500)  # the dock's rows came in and widened it: the plate is fitted once it has settled
    fitted = viewer.scene.camera.zoom
    viewer.reset_view()  # the plate was fitted to the canvas the dock left, not the one before it
    assert viewer.scene.camera.zoom == pytest.approx(fitted)
    widget.open_path("/A/3/0")
    qtbot.waitUntil(lambda: len(viewer.layers) == 4, timeout=10_000)
    field = viewer.layers[2]
    assert field.multiscale and field.data[0].shape == (32, 48)
    assert field.metadata["zarr_browser"]["path"] == "/A/3/0"
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=5_000)


def test_dock_shows_the_inspector_and_opens_a_double_clicked_node(
    make_napari_viewer: Any, stores: Any, qtbot: Any
) -> None:
    from zarr_browser.qt.browser_panel import BrowserPanel
    from zarr_browser.qt.inspector import Inspector

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    panel = widget.findChild(BrowserPanel)
    inspector = widget.findChild(Inspector)
    assert panel is widget.browser and inspector is panel.inspector
    shown: list[str] = []
    original = inspector.setNode

    def set_node(hierarchy: Any, node: Any) -> None:
        shown.append(node.path)
        original(hierarchy, node)

    inspector.setNode = set_node  # type: ignore[method-assign]
    widget.show_store(str(stores.image("0.5")), select="/labels/cells")
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/labels/cells", timeout=10_000)
    assert shown[-1] == "/labels/cells", "selecting a node in the dock's tree shows it in the inspector"

    # the root (the image) is an array/image node: double-clicking it adds its layers
    assert len(viewer.layers) == 0
    before = len(shown)
    double_click(qtbot, panel.tree, panel.proxy.index(0, 0))
    qtbot.waitUntil(lambda: len(viewer.layers) == 3, timeout=10_000)
    assert names(viewer.layers) == ["image: DAPI", "image: GFP", "image: cells"]
    assert "/" in shown[before:]  # clicked, then the active layer (the labels) selected its node

    # the context menu offers "Open in napari": it adds to this viewer
    menu = panel.contextMenuFor(panel.proxy.index(0, 0))
    action = next(a for a in menu.actions() if a.text() == "Open in napari")
    assert action.isEnabled()
    qtbot.waitUntil(lambda: panel.select_path("/labels/cells") is None and panel.current_path() == "/labels/cells",
                    timeout=10_000)
    viewer.layers.selection.clear()
    viewer.layers["image: cells"].visible = False
    action.trigger()
    # the labels were opened with the image: they are selected and shown, not added again
    qtbot.waitUntil(lambda: "open already" in widget.status.text(), timeout=10_000)
    assert len(viewer.layers) == 3 and viewer.layers[-1].metadata["zarr_browser"]["path"] == "/labels/cells"
    assert [layer.name for layer in viewer.layers.selection] == ["image: cells"]
    assert viewer.layers["image: cells"].visible and "open already: 1 layer selected" in widget.status.text()

    # Enter on a row opens it too
    from qtpy.QtCore import Qt

    viewer.layers.remove("image: cells")
    panel.tree.setFocus()
    qtbot.keyClick(panel.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(viewer.layers) == 3, timeout=10_000)
    assert kinds(viewer.layers)[-1] == "Labels" and viewer.layers[-1].name == "image: cells"
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=10_000)


def test_window_open_in_napari_runs_a_napari_with_the_node_and_the_dock(
    stores: Any, monkeypatch: pytest.MonkeyPatch, qtbot: Any, tmp_path: Path
) -> None:
    """The browser window's "Open in napari" starts a new process; run exactly that command
    (only ``napari.run`` replaced, so that it returns) and look at what napari got."""
    import json
    import os
    import subprocess
    import sys

    from zarr_browser.qt import window as window_module

    path = stores.image("0.5")
    launched: list[list[str]] = []
    class Started:  # what the window watches: a process that has exited
        def poll(self) -> int:
            return 0

    monkeypatch.setattr(window_module.subprocess, "Popen",
                        lambda command, *a, **k: launched.append(command) or Started())
    monkeypatch.setattr(window_module, "napari_available", lambda: True)
    from qtpy.QtCore import QSettings

    from zarr_browser.core.conventions import default_registry
    from zarr_browser.qt.workers import ThreadRunner

    runner = ThreadRunner()
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    window = window_module.BrowserWindow(runner=runner, registry=default_registry(), settings=settings)
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(window.storeOpened, timeout=20_000):
            window.openStore(str(path))
        found: list[bool] = []
        window.revealPath("/labels/cells", found.append)
        qtbot.waitUntil(lambda: bool(found), timeout=10_000)
        assert found == [True]
        window.openCurrentInNapari()
    finally:
        window.close()
        runner.shutdown()
    monkeypatch.undo()  # subprocess.Popen itself was replaced
    (command,) = launched
    assert command[:3] == [sys.executable, "-m", "zarr_browser"]
    assert command[3:] == [str(path), "--napari", "--node", "/labels/cells"]
    probe = (
        "import json, sys, napari\n"
        "def report(*a, **k):\n"
        "    viewer = napari.current_viewer()\n"
        "    dock = viewer.window.dock_widgets['Zarr browser (zarr-browser)']\n"
        "    print('REPORT ' + json.dumps({'layers': [l.name for l in viewer.layers],\n"
        "        'kinds': [type(l).__name__ for l in viewer.layers], 'dock': dock is not None}), flush=True)\n"
        "    import os; os._exit(0)  # what happens after napari.run() returns is not the question\n"
        "napari.run = report\n"
        "from zarr_browser.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command[3:]], capture_output=True, text=True, timeout=120,
                          env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.split("REPORT ", 1)[1].splitlines()[0])
    assert report == {"layers": ["image: cells"], "kinds": ["Labels"], "dock": True}


def test_dock_reports_a_mistyped_path_in_its_error_bar_only(
    make_napari_viewer: Any, tmp_path: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    missing = tmp_path / "does_not_exist.zarr"
    with caplog.at_level(logging.INFO, logger="zarr_browser"):
        widget.url_edit.setText(str(missing))
        widget._on_load_clicked()
        qtbot.waitUntil(lambda: widget.browser.errorText() != "", timeout=10_000)
        qtbot.wait(50)  # an error re-raised in the GUI thread would reach pytest-qt's capture here
    assert "no such directory" in widget.browser.errorText()
    assert widget.url_edit.property("failed") and widget.url_edit.text() == str(missing)  # to correct it
    assert not any(record.exc_info for record in caplog.records)  # napari would show a traceback
    assert not widget.is_busy()


def test_a_remote_zarr_url_that_answers_a_web_page_says_so(http_server: Any) -> None:
    """A token-protected server answering its login page: napari is told why, not 'no reader'."""
    folder = http_server.root / "guarded.zarr"
    folder.mkdir()
    (folder / "zarr.json").write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    url = http_server.url_for("guarded.zarr")
    reader = napari_get_reader(url)
    assert reader is not None
    with pytest.raises(ZarrBrowserError, match="HTML page, not JSON"):
        reader(url)


def test_the_dock_fits_a_small_screen(make_napari_viewer: Any) -> None:
    """Its minimum height was 487-510 px (the labels, plate and validation pages did not scroll):
    docked left or at the bottom on a 768-px screen, napari's window grew past the screen."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    assert widget.minimumSizeHint().height() <= 400


def test_the_dock_cancels_a_hanging_load_and_keeps_the_store_shown(
        make_napari_viewer: Any, stores: Any, qtbot: Any, http_server: Any) -> None:
    """A server that never answers showed "opening …" for 15 s with no way to stop it; a load
    that fails keeps the store shown, and the URL box marks the URL that failed."""
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    local = str(stores.xarray())
    widget.show_store(local)
    qtbot.waitUntil(lambda: widget.hierarchy is not None and not widget.is_busy(), timeout=10_000)
    assert widget.load_button.text() == "Load" and not widget.cancel_action.isEnabled()

    shutil.copytree(stores.image("0.5"), http_server.root / "hang.ome.zarr")
    http_server.faults.add("hang.ome.zarr/zarr.json", "hang")
    widget.url_edit.setText(http_server.url_for("hang.ome.zarr"))
    qtbot.keyClick(widget.url_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: widget.load_button.text() == "Cancel", timeout=5_000)
    assert widget.cancel_action.isEnabled() and widget.cancel_action.shortcut().toString() == "Esc"
    qtbot.wait(200)
    widget.cancel_action.trigger()  # what Esc does while the dock has the focus
    qtbot.waitUntil(lambda: widget.load_button.text() == "Load", timeout=5_000)
    assert widget.hierarchy is not None and widget.hierarchy.url == local
    assert widget.browser.hierarchy() is widget.hierarchy and widget.url_edit.text() == local
    assert "Cancelled opening" in widget.browser.errorText()

    # a load that fails: the error bar says why, the tree still shows the store it showed
    missing = str(Path(local).parent / "missing.zarr")
    widget.url_edit.setText(missing)
    widget.load_button.click()
    qtbot.waitUntil(lambda: "no such directory" in widget.browser.errorText(), timeout=10_000)
    assert widget.hierarchy.url == local and widget.browser.hierarchy() is widget.hierarchy
    assert widget.url_edit.property("failed") and widget.status.text() == local
    qtbot.keyClicks(widget.url_edit, "x")  # correcting it clears the mark
    assert not widget.url_edit.property("failed")


def test_the_dock_lists_recent_stores_and_opens_a_url_inside_a_store_at_its_node(
        make_napari_viewer: Any, stores: Any, qtbot: Any, tmp_path: Path) -> None:
    """The dock remembered nothing across napari sessions; the window's recent stores are shared."""
    from zarr_browser.qt.app import app_settings
    from zarr_browser.qt.recent import RecentStores

    RecentStores(app_settings()).clear()
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    assert not widget.open_button.isEnabled()  # nothing to open yet
    widget.recent_menu.aboutToShow.emit()
    assert [a.text() for a in widget.recent_menu.actions()] == ["No recent stores", "", "Open URL with storage options…",
                                                               "Close store"]

    image = stores.image("0.5")
    widget.url_edit.setText(str(image / "labels" / "cells"))  # a folder inside the store
    widget.load_button.click()
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/labels/cells", timeout=10_000)
    assert widget.hierarchy.url == str(image) and widget.open_button.isEnabled()
    xarray = str(stores.xarray())
    widget.show_store(xarray)
    qtbot.waitUntil(lambda: widget.hierarchy is not None and widget.hierarchy.url == xarray, timeout=10_000)
    assert [r.url for r in RecentStores(app_settings()).load()][:2] == [xarray, str(image / "labels" / "cells")]

    # a new dock (a new napari session) offers them, newest first
    viewer.window.remove_dock_widget(viewer.window.dock_widgets["Zarr browser (zarr-browser)"])
    _, dock = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    dock.recent_menu.aboutToShow.emit()
    actions = dock.recent_menu.actions()
    assert [a.text() for a in actions][:2] == [xarray, str(image / "labels" / "cells")]
    actions[1].trigger()
    qtbot.waitUntil(lambda: dock.browser.current_path() == "/labels/cells", timeout=10_000)
    assert dock.hierarchy.url == str(image)
    qtbot.waitUntil(lambda: not dock.is_busy(), timeout=10_000)


def test_a_recent_store_whose_credentials_were_not_saved_asks_for_them(make_napari_viewer: Any, stores: Any,
                                                                      qtbot: Any, s3_server: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from qtpy.QtWidgets import QDialog

    from zarr_browser.qt.recent import RecentStore
    from zarr_browser.qt.window import OpenUrlDialog

    bucket = s3_server.new_bucket()
    s3_server.upload_tree(stores.image("0.5"), bucket, "image.zarr")
    url = f"s3://{bucket}/image.zarr"
    options = s3_server.storage_options
    shown: list[OpenUrlDialog] = []
    answers = iter([QDialog.DialogCode.Rejected, QDialog.DialogCode.Accepted, QDialog.DialogCode.Rejected])

    def answer(dialog: OpenUrlDialog) -> int:  # no modal loop: the credentials are typed in, or not
        shown.append(dialog)
        dialog.keyEdit.setText(options["key"])
        dialog.secretEdit.setText(options["secret"])
        return next(answers)

    monkeypatch.setattr(OpenUrlDialog, "exec", answer)
    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    saved = RecentStore(url, {"endpoint_url": options["endpoint_url"]}, credentials_removed=True)
    dock._open_recent(saved)  # cancelled: nothing opens
    dialog = shown[-1]
    assert dialog.url() == url and dialog.endpointEdit.text() == options["endpoint_url"]
    assert "not saved" in dialog.noteLabel.text() and not dock.is_busy() and dock.hierarchy is None
    dock._open_recent(saved)  # entered: the store opens with them, and they are kept for the session
    qtbot.waitUntil(lambda: dock.hierarchy is not None and dock.hierarchy.url == url, timeout=20_000)
    assert dock._storage_options[url]["secret"] == options["secret"]
    dock._open_recent(saved)  # known in this session: not asked again
    assert len(shown) == 2
    qtbot.waitUntil(lambda: not dock.is_busy(), timeout=10_000)

    # the URL box's own storage options, from the recent menu
    dock.recent_menu.aboutToShow.emit()
    assert dock.options_action in dock.recent_menu.actions()
    dock.options_action.trigger()
    assert shown[-1].url() == url and shown[-1].endpointEdit.text() == options["endpoint_url"]
    qtbot.waitUntil(lambda: not dock.is_busy(), timeout=10_000)


def test_the_dock_follows_napari_theme(make_napari_viewer: Any) -> None:
    """napari styles with a stylesheet and leaves the palette white: alternate table rows were
    pale text on near-white under the dark theme (audit A)."""
    from napari.utils.theme import get_theme
    from qtpy.QtGui import QColor, QPalette

    viewer = make_napari_viewer()
    _, dock = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    for theme in ("dark", "light"):
        viewer.theme = theme
        palette = dock.browser.tree.palette()
        colours = get_theme(theme)
        assert palette.color(QPalette.ColorRole.AlternateBase) == QColor(colours.foreground.as_hex())
        text, alternate = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.AlternateBase)
        assert abs(text.lightness() - alternate.lightness()) > 128, theme  # readable
