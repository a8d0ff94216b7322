"""The inspector: panels per node kind and convention, async work, cancel, links and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.qt.inspector import Inspector
from zarr_browser.qt.workers import Task


@pytest.fixture
def make_inspector(qtbot, registry, immediate_runner):  # type: ignore[no-untyped-def]
    def make(runner: Any = None) -> Inspector:
        inspector = Inspector(runner=runner or immediate_runner, registry=registry)
        qtbot.addWidget(inspector)
        inspector.resize(800, 800)
        return inspector

    return make


def _open(store: Path) -> Hierarchy:
    return Hierarchy.open(str(store))


def _click(qtbot, view, index) -> None:  # type: ignore[no-untyped-def]
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())


# -- OME ---------------------------------------------------------------------------------------


def test_ome_image_shows_levels_and_channels(make_inspector, demo_root, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    assert inspector.isTabVisible("image") and not inspector.isTabVisible("array")
    assert "ome-ngff 0.5 · image, omero" in inspector.overview.badgeTexts()

    inspector.showTab("image")  # tabs are filled when shown
    levels = inspector.image.levels.texts()
    assert [row[0] for row in levels] == ["0", "1", "2", "3"]
    assert levels[0][1] == "3 × 256 × 256"
    assert levels[1][5] == "1, 0.65, 0.65"  # scale of level 1 (the demo's pixel size is 0.325 µm)
    channels = inspector.image.channels
    assert [row[0] for row in channels.texts()] == ["DAPI", "Membrane", "Spots"]
    swatch = channels.index(2, 0).data(Qt.ItemDataRole.DecorationRole)
    assert swatch.name() == "#ff00ff"
    assert channels.cell(0, 0).swatch == "#0000ff"
    assert channels.texts()[0][2].count("–") == 1  # window start – end
    assert [row[0] for row in inspector.image.labels.texts()] == ["nuclei"]
    assert "0.325" in inspector.image.headerText()
    qtmodeltester.check(inspector.image.levels)
    qtmodeltester.check(channels)


def test_level_double_click_and_label_link_request_nodes(make_inspector, demo_root, qtbot) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    inspector.showTab("image")
    view = inspector.image._labels_view
    with qtbot.waitSignal(inspector.nodeRequested) as blocker:
        _click(qtbot, view, inspector.image.labels.index(0, 0))
    assert blocker.args == ["/labels/nuclei"]


def test_label_image_shows_colours(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/labels/nuclei"))
    assert inspector.isTabVisible("labels") and inspector.isTabVisible("image")
    inspector.showTab("labels")  # tabs are filled when shown
    colours = inspector.labels.colours
    assert colours.rowCount() >= 3
    assert colours.headers()[:2] == ["Value", "Colour"] and "class" in colours.headers()
    assert colours.texts()[0][0] == "1" and colours.cell(0, 1).swatch is not None
    assert "/" in inspector.labels.headerText()  # the source image


def test_plate_grid_click_selects_the_well(make_inspector, demo_root, qtbot, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "plate.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    assert inspector.isTabVisible("plate")
    inspector.showTab("plate")
    plate = inspector.plate
    assert plate.grid.headers() == ["1", "2", "3"]
    assert plate.grid.texts() == [["●", "●", ""], ["●", "", "●"]]
    qtmodeltester.check(plate.grid)
    with qtbot.waitSignal(inspector.nodeRequested) as blocker:
        _click(qtbot, plate.grid_view, plate.wellIndex("A", "1"))
    assert blocker.args == ["/A/1"]
    with qtbot.assertNotEmitted(inspector.nodeRequested):  # B/2 does not exist
        _click(qtbot, plate.grid_view, plate.wellIndex("B", "2"))


def test_plate_grid_marks_wells_that_cannot_be_opened(make_inspector, demo_root, qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A listed well with no group, and one whose metadata is not JSON, were drawn as ordinary
    wells; clicking the first selected nothing, without a word (audit I, 8)."""
    import shutil

    plate_path = tmp_path / "plate.ome.zarr"
    shutil.copytree(demo_root / "plate.ome.zarr", plate_path)
    shutil.rmtree(plate_path / "A" / "2")
    (plate_path / "B" / "3" / ".zattrs").write_text("{not json")
    hierarchy = _open(plate_path)
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    inspector.showTab("plate")
    plate = inspector.plate
    qtbot.waitUntil(lambda: plate.grid.texts() == [["●", "✕", ""], ["●", "", "✕"]], timeout=10_000)
    missing, broken = plate.grid.cell(0, 1), plate.grid.cell(1, 2)
    assert missing.link is None and "no group at /A/2" in (missing.tooltip or "")
    assert broken.link == "/B/3" and "cannot be read" in (broken.tooltip or "")
    assert "2 wells cannot be opened" in plate._header.text()
    with qtbot.assertNotEmitted(inspector.nodeRequested):
        _click(qtbot, plate.grid_view, plate.wellIndex("A", "2"))


def test_well_lists_fields(make_inspector, demo_root, qtbot) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "plate.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/B/3"))
    inspector.showTab("well")  # tabs are filled when shown
    assert inspector.isTabVisible("well") and inspector.well.fields.texts() == [["0", "0"]]


# -- xarray / CF ------------------------------------------------------------------------------


def test_dataset_panel_splits_coordinates_and_data_variables(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "climate.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    assert inspector.isTabVisible("dataset") and inspector.tabTitle("dataset") == "Dataset"
    inspector.showTab("dataset")  # tabs are filled when shown
    dataset = inspector.dataset
    assert [r[0] for r in dataset.data_variables.texts()] == ["temperature"]
    assert sorted(r[0] for r in dataset.coordinates.texts()) == ["lat", "lon", "time"]
    assert dict((r[0], r[1]) for r in dataset.dims.texts()) == {"lat": "90", "lon": "180", "time": "12"}
    time_row = next(r for r in dataset.coordinates.texts() if r[0] == "time")
    assert time_row[5].startswith("days from 2000-01-01")


def test_variable_panel_decodes_cf(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "climate.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/temperature"))
    inspector.showTab("dataset")  # tabs are filled when shown
    facts = inspector.dataset.factTexts()
    assert inspector.tabTitle("dataset") == "Variable"
    assert facts["units"] == "K" and "0.01" in facts["Packing"] and "273.15" in facts["Packing"]
    inspector.setNode(hierarchy, hierarchy.node("/time"))
    inspector.showTab("dataset")  # tabs are filled when shown
    assert "days since 2000-01-01" in inspector.dataset.factTexts()["Decoded time"]


# -- attributes, raw JSON, overview -----------------------------------------------------------


def test_attributes_search_filters_rows_and_long_values_are_elided(make_inspector, tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    long_text = "word " * 400
    attrs = {"title": "sample", "units": "counts", "nested": {"deep": {"needle": 1}}, "long": long_text,
             "list": [1, 2, 3]}
    zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3, attributes=attrs)
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    panel = inspector.attributes
    assert inspector.tabTitle("attributes") == "Attributes (5)"
    assert panel.visibleTopLevelKeys() == list(attrs)
    qtbot.keyClicks(panel.filter, "NEEDLE")
    assert panel.visibleTopLevelKeys() == ["nested"]
    panel.filter.setText("count")  # matches a value
    assert panel.visibleTopLevelKeys() == ["units"]
    panel.filter.clear()
    assert panel.visibleTopLevelKeys() == list(attrs)

    item = next(panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())
                if panel.tree.topLevelItem(i).text(0) == "long")
    assert len(item.text(1)) <= 160 and item.text(1).endswith("…")
    dialog = panel.showFullValue(item)
    qtbot.addWidget(dialog)
    text = dialog.findChild(type(inspector.raw.text)).toPlainText()
    assert text == json.dumps(long_text)
    assert panel.selectPointer("/attributes/nested/deep/needle")
    assert panel.tree.currentItem().text(0) == "needle"


def test_raw_json_shows_each_document(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "plate.ome.zarr")
    node = hierarchy.node("/A/1")
    inspector = make_inspector()
    inspector.setNode(hierarchy, node)
    raw = inspector.raw
    names = [raw.chooser.itemText(i) for i in range(raw.chooser.count())]
    assert names == list(node.documents) and ".zattrs" in names
    raw.chooser.setCurrentText(".zattrs")
    assert raw.currentText() == node.documents[".zattrs"].text
    assert '"well"' in raw.currentText()


def test_error_node_shows_its_error_not_a_traceback(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    group.create_array("broken", shape=(4,), dtype="i4")
    (tmp_path / "s.zarr" / "broken" / ".zarray").write_text('{"zarr_format": 2, "shape": [4], oops')
    hierarchy = _open(tmp_path / "s.zarr")
    node = hierarchy.node("/broken")
    assert node.kind == "error"
    inspector = make_inspector()
    inspector.setNode(hierarchy, node)
    assert ".zarray" in inspector.overview.errorText()
    assert not inspector.isTabVisible("array") and not inspector.isTabVisible("conventions")
    assert "oops" in inspector.raw.currentText()
    assert not inspector.overview.preview.isVisibleTo(inspector)


def test_breadcrumb_segments_and_copy_path(make_inspector, demo_root, qtbot) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/labels/nuclei/0"))
    buttons = inspector.breadcrumb.segmentButtons()
    assert [b.text() for b in buttons] == ["cells.ome.zarr", "labels", "nuclei", "0"]
    with qtbot.waitSignal(inspector.nodeRequested) as blocker:
        qtbot.mouseClick(buttons[1], Qt.MouseButton.LeftButton)
    assert blocker.args == ["/labels"]
    inspector.breadcrumb._copy.click()
    assert QApplication.clipboard().text() == "/labels/nuclei/0"


# -- array, dimensions, diagnostics -------------------------------------------------------------


def test_array_facts_and_dimensions(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/0"))
    facts = inspector.array.factTexts()
    assert facts["Shape"] == "3 × 256 × 256" and facts["Data type"] == "uint16"
    assert facts["Logical size"] == "384.0 KiB"
    assert [r[1] for r in inspector.array.codecs.texts()] == ["bytes", "blosc"]
    inspector.showTab("dimensions")  # tabs are filled when shown
    dims = inspector.dimensions.model
    headers = dims.headers()
    assert headers[:4] == ["Axis", "Size", "Chunk", "Name"]
    assert "OME: unit" in headers and "OME: scale" in headers
    rows = dims.texts()
    assert [r[3] for r in rows] == ["c", "y", "x"]
    assert rows[1][headers.index("OME: unit")] == "micrometer"
    assert rows[2][headers.index("OME: scale")] == "0.325"
    assert inspector.dimensions.conflictAxes() == []


def test_a_shards_index_codecs_are_told_apart_from_its_chunks_codecs(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """They looked like a second array-bytes codec of the inner chunks (audit C, 6)."""
    zarr.create_array(tmp_path / "s.zarr", shape=(100, 100), chunks=(10, 10), shards=(50, 50), dtype="u2",
                      compressors=zarr.codecs.ZstdCodec())
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.root)
    codecs = inspector.array.codecs
    assert [r[:2] for r in codecs.texts()] == [
        ["array-bytes", "sharding_indexed"],
        ["    ↳ array-bytes", "bytes"], ["    ↳ bytes-bytes", "zstd"],
        ["    ↳ index: array-bytes", "bytes"], ["    ↳ index: bytes-bytes", "crc32c"]]
    tip = codecs.index(3, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "shard index" in tip and "at the end of each shard" in tip


def test_conflicting_dimension_names_are_highlighted(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    group.create_array("a", shape=(2, 3), dtype="f4", attributes={"_ARRAY_DIMENSIONS": ["y", "x"]})
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "y", "type": "space"},
                                                              {"name": "q", "type": "space"}],
                                   "datasets": [{"path": "a", "coordinateTransformations": [
                                       {"type": "scale", "scale": [1.0, 1.0]}]}]}]
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/a"))
    inspector.showTab("dimensions")  # tabs are filled when shown
    assert inspector.dimensions.conflictAxes() == [1]
    assert "Conflicting names" in inspector.dimensions.summaryText()


def _chunky_array(store: Path) -> Hierarchy:
    group = zarr.open_group(store, mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(60, 50), chunks=(1, 1), dtype="u1", fill_value=0)
    arr[...] = 1  # 3000 chunk objects
    return _open(store)


def test_diagnostics_report_counts_bytes_and_ratio(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _chunky_array(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/x"))
    inspector.array.diagnose_button.click()
    result = inspector.array.result
    assert result is not None and not result.cancelled
    assert (result.initialised, result.expected) == (3000, 3000)
    texts = inspector.array.resultTexts()
    assert texts["Initialised chunks"] == "3,000 of 3,000 (100.0 %)"
    assert "Compression ratio" in texts and inspector.array.status.text() == "Done."


def test_diagnostics_ratio_is_that_of_the_chunks_stored(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One chunk of four written with random numbers: the ratio is about 1, and says what it
    divides (the whole array's size over the bytes stored said 4 ×)."""
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(200, 200), chunks=(100, 100), dtype="f8", fill_value=0)
    arr[:100, :100] = np.random.default_rng(0).normal(size=(100, 100))
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/x"))
    inspector.array.diagnose_button.click()
    texts = inspector.array.resultTexts()
    assert texts["Initialised chunks"] == "1 of 4 (25.0 %)"
    assert texts["Decoded size"] == "78.1 KiB in the stored chunks"
    assert texts["Logical size"] == "312.5 KiB (the whole array)"
    ratio, rest = texts["Compression ratio"].split(" × ")
    assert 1.0 < float(ratio) < 1.1 and rest == "(decoded size ÷ bytes stored)"


def test_diagnostics_cancel_stops_the_listing_midway(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _chunky_array(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/x"))
    panel = inspector.array
    seen: list[object] = []

    def cancel_on_first_report(run: int, done: object, total: object) -> None:
        # runs in the worker (direct connection): what the Cancel button's event does, at a
        # known point of the listing
        seen.append(done)
        panel._cancel.set()

    panel._relay.progressed.connect(cancel_on_first_report, Qt.ConnectionType.DirectConnection)
    panel.runDiagnostics()
    assert len(seen) == 1
    result = panel.result
    assert result is not None and result.cancelled and result.initialised < result.expected == 3000
    assert panel.status.text() == "Cancelled: the counts below are partial."
    assert not panel.isRunning() and panel.diagnose_button.isEnabled()


def test_diagnostics_cancel_button_drops_the_run(make_inspector, tmp_path, qtbot, thread_runner) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _chunky_array(tmp_path / "s.zarr")
    inspector = make_inspector(thread_runner)
    inspector.setNode(hierarchy, hierarchy.node("/x"))
    qtbot.waitUntil(lambda: not inspector.hasPendingOperations(), timeout=10_000)
    panel = inspector.array
    panel.diagnose_button.click()
    assert panel.isRunning() and not panel.cancel_button.isHidden()
    panel.cancel_button.click()
    assert panel.status.text() == "Cancelled." and not panel.isRunning()
    qtbot.waitUntil(lambda: thread_runner.pending() == 0, timeout=10_000)
    assert panel.result is None and panel.status.text() == "Cancelled."  # the late result was dropped
    panel.diagnose_button.click()  # and a new run works
    qtbot.waitUntil(lambda: panel.result is not None, timeout=10_000)
    assert panel.result.initialised == 3000


# -- validation --------------------------------------------------------------------------------


def _checked_store_with_a_bad_array(make_inspector, tmp_path):  # type: ignore[no-untyped-def]
    """An inspector on the root of a store whose /bad has one name for two dimensions, its
    Validation tab shown (which runs the check), and the row of that issue."""
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    group.create_array("bad", shape=(2, 3), dtype="f4", attributes={"_ARRAY_DIMENSIONS": ["only_one"]})
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    inspector.showTab("validation")
    issues = inspector.validation.shownIssues()
    row = next(i for i, issue in enumerate(issues) if issue.path == "/bad" and "_ARRAY_DIMENSIONS" in issue.pointer)
    return hierarchy, inspector, row


def test_validation_issue_click_selects_node_and_shows_pointer(make_inspector, tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    hierarchy, inspector, row = _checked_store_with_a_bad_array(make_inspector, tmp_path)
    panel = inspector.validation
    with qtbot.waitSignal(inspector.nodeRequested) as blocker:
        _click(qtbot, panel.view, panel.model.index(row, 2))
    assert blocker.args == ["/bad"]
    assert "/_ARRAY_DIMENSIONS" in panel.detailText() and ".zattrs" in panel.detailText()
    # the browser follows the request: the report is kept, filtered to the node
    inspector.setNode(hierarchy, hierarchy.node("/bad"))
    assert inspector.currentTab() == "validation"
    assert panel.shownIssues() and all(i.path == "/bad" for i in panel.shownIssues())
    assert "/_ARRAY_DIMENSIONS" in panel.detailText()
    panel.show_raw.click()
    assert inspector.currentTab() == "raw" and inspector.raw.chooser.currentText() == ".zattrs"


def test_validation_issues_are_reached_by_keyboard(make_inspector, tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Moving through the issues shows each one's detail; Enter goes to its node (click only, before)."""
    _, inspector, row = _checked_store_with_a_bad_array(make_inspector, tmp_path)
    panel = inspector.validation
    panel.view.setFocus()
    panel.view.setCurrentIndex(panel.model.index(row, 0))
    assert "/_ARRAY_DIMENSIONS" in panel.detailText()
    with qtbot.waitSignal(inspector.nodeRequested) as blocker:
        qtbot.keyClick(panel.view, Qt.Key.Key_Return)
    assert blocker.args == ["/bad"]


# -- preview -----------------------------------------------------------------------------------


def test_thumbnail_of_the_demo_image_has_colour(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    preview = inspector.overview.preview
    assert preview.hasPicture()
    rgb = preview.thumbnail().rgb
    assert rgb.size and rgb.max() > 0
    assert np.any(rgb[..., 0] != rgb[..., 1])  # coloured, not grey
    assert "DAPI" in preview.note()


def test_thumbnail_of_a_pickle_array_shows_the_refusal(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    arr = group.create_array("strings", shape=(2, 2), chunks=(2, 2), dtype=str)
    arr[...] = np.array([["a", "b"], ["c", "d"]])
    meta_path = tmp_path / "s.zarr" / "strings" / ".zarray"
    meta = json.loads(meta_path.read_text())
    meta["filters"] = [{"id": "vlen-utf8"}, {"id": "pickle", "protocol": 5}]
    meta_path.write_text(json.dumps(meta))
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/strings"))
    preview = inspector.overview.preview
    assert not preview.hasPicture()
    assert "refused" in preview.message() and "pickle" in preview.message()
    assert "Data will not be decoded" in inspector.array._safety.text()


# -- async behaviour ---------------------------------------------------------------------------


class DeferredRunner:
    """Runs nothing until :meth:`flush`; then delivers every result, even of cancelled tasks.

    A deliberately careless runner: the inspector itself must drop results of an older node.
    """

    def __init__(self) -> None:
        self.queue: list[tuple[Task, Callable[..., Any], tuple[Any, ...], Any, Any]] = []

    def submit(self, fn, *args, on_done=None, on_error=None) -> Task:  # type: ignore[no-untyped-def]
        task = Task()
        self.queue.append((task, fn, args, on_done, on_error))
        return task

    def pending(self) -> int:
        return len(self.queue)

    def flush(self) -> list[Task]:
        done = []
        while self.queue:
            task, fn, args, on_done, on_error = self.queue.pop(0)
            try:
                value = fn(*args)
            except Exception as err:
                if on_error:
                    on_error(err)
            else:
                if on_done:
                    on_done(value)
            task.done = True
            done.append(task)
        return done


def test_newer_node_cancels_and_ignores_late_results(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    runner = DeferredRunner()
    inspector = make_inspector(runner)
    cells = _open(demo_root / "cells.ome.zarr")
    plate = _open(demo_root / "plate.ome.zarr")
    inspector.setNode(cells, cells.node("/"))
    first_tasks = [entry[0] for entry in runner.queue]
    assert first_tasks and inspector.image.headerText() == "Loading…"
    assert inspector.overview.preview.message() == "Loading preview…"
    inspector.setNode(plate, plate.node("/"))
    assert all(task.cancelled for task in first_tasks)
    runner.flush()  # the image's results arrive late, after the plate's were queued
    assert inspector.image.levels.rowCount() == 0
    inspector.showTab("plate")  # tabs are filled when shown
    assert inspector.plate.grid.rowCount() == 2
    assert inspector.overview.preview.thumbnail().source_path.startswith("/A/1")


def test_with_a_thread_runner(make_inspector, demo_root, qtbot, thread_runner) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector(thread_runner)
    inspector.setNode(hierarchy, hierarchy.node("/"))
    # the panels that need no I/O are filled at once; the rest arrives from the worker
    assert inspector.overview.badgeTexts() and inspector.attributes.visibleTopLevelKeys() == ["ome"]
    inspector.showTab("image")  # tabs are filled when shown
    qtbot.waitUntil(lambda: inspector.image.levels.rowCount() == 4, timeout=10_000)
    qtbot.waitUntil(inspector.overview.preview.hasPicture, timeout=10_000)
    qtbot.waitUntil(lambda: not inspector.hasPendingOperations(), timeout=10_000)
    assert "Voxel size" in inspector.overview.highlightsText()


def test_huge_raw_document_is_deferred_and_capped(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A root holding consolidated metadata of thousands of arrays must not freeze the GUI."""
    import zarr

    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.qt.inspector import Inspector
    from zarr_browser.qt.inspector.raw_json import PREVIEW_CHARS
    from zarr_browser.qt.workers import ImmediateRunner

    group = zarr.open_group(tmp_path / "wide.zarr", mode="w", zarr_format=3)
    for i in range(600):
        group.create_array(f"a{i}", shape=(4,), dtype="u1")
    zarr.consolidate_metadata(tmp_path / "wide.zarr")
    hierarchy = Hierarchy.open(str(tmp_path / "wide.zarr"))
    inspector = Inspector(runner=ImmediateRunner(), registry=default_registry())
    qtbot.addWidget(inspector)
    inspector.show()
    inspector.setNode(hierarchy, hierarchy.root)
    raw = inspector.raw
    assert raw.text.toPlainText() == ""  # the Raw JSON tab is hidden: nothing laid out yet
    full = hierarchy.root.documents["zarr.json"].text
    assert len(full) > PREVIEW_CHARS
    assert raw.currentText() == full[:PREVIEW_CHARS]
    assert raw.show_all.isVisibleTo(raw)
    raw.show_all.click()
    assert raw.currentText() == full


# -- small panels, consistent wording, previews that explain themselves --------------------------


def test_a_narrow_inspector_elides_names_and_paths_and_folds_the_breadcrumb(make_inspector, tmp_path, qtbot) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / ("a_store_with_a_rather_long_name_" * 3 + ".zarr")
    root = zarr.open_group(store, mode="w", zarr_format=3)
    deep = root.create_group("first_group").create_group("second_group")
    deep.create_array("an_array_with_a_long_name_too", shape=(4, 4), dtype="u1")
    hierarchy = _open(store)
    inspector = make_inspector()
    inspector.resize(400, 600)  # about napari's dock
    inspector.show()
    qtbot.waitExposed(inspector)
    path = "/first_group/second_group/an_array_with_a_long_name_too"
    inspector.setNode(hierarchy, hierarchy.node(path))
    overview = inspector.tabs.currentWidget()
    qtbot.waitUntil(lambda: overview.widget().width() <= overview.viewport().width())
    assert overview.horizontalScrollBar().maximum() == 0, "nothing of the overview is cut at the right edge"
    crumb = inspector.breadcrumb
    assert crumb._segments.sizeHint().width() <= crumb._scroll.width() + 1, "the breadcrumb fits"
    assert " … " in crumb.visibleText()  # the middle ancestors folded...
    assert "…" in crumb.visibleText().rsplit(" › ", 1)[-1]  # ...and the long name elided
    assert "first_group" not in crumb.visibleText()
    assert [b.text() for b in crumb.segmentButtons()][1:3] == ["first_group", "second_group"]  # hidden, kept
    assert path in crumb.segmentButtons()[-1].toolTip()
    inspector.resize(1600, 600)
    qtbot.waitUntil(lambda: "first_group" in crumb.visibleText())
    assert "…" not in crumb.visibleText()
    inspector.resize(270, 600)  # napari's default dock: even folded and elided the ends did not fit, and
    qtbot.waitUntil(lambda: crumb.visibleText().count("›") == 0)  # segments drew over each other
    assert crumb._segments.sizeHint().width() <= crumb._scroll.width() + 1
    assert crumb.visibleText().startswith("an_") and path in crumb.segmentButtons()[-1].toolTip()


def _demo_preview(make_inspector: Any, demo_root: Path, qtbot: Any) -> tuple[Inspector, Any]:
    """An inspector shown on the demo image, once its preview has its picture."""
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    inspector.show()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    preview = inspector.overview.preview
    qtbot.waitUntil(preview.hasPicture)
    return inspector, preview


def test_the_preview_caption_goes_below_the_picture_when_narrow(make_inspector, demo_root, qtbot) -> None:  # type: ignore[no-untyped-def]
    inspector, preview = _demo_preview(make_inspector, demo_root, qtbot)
    assert preview.isCaptionBeside()
    inspector.resize(330, 800)
    qtbot.waitUntil(lambda: not preview.isCaptionBeside())
    note = preview._note
    qtbot.waitUntil(lambda: note.width() >= 200)  # the caption gets the panel's width, not one word per line


def test_the_preview_shrinks_to_a_narrow_panel_instead_of_scrolling_sideways(  # type: ignore[no-untyped-def]
        make_inspector, demo_root, qtbot) -> None:
    """In napari's dock (about 250 px for the inspector) the 258-px picture made the Overview
    scroll sideways to read the facts beside its labels."""
    inspector, preview = _demo_preview(make_inspector, demo_root, qtbot)
    assert preview.pictureSide() == 256
    inspector.resize(240, 700)
    qtbot.waitUntil(lambda: preview.pictureSide() < 240)
    area = inspector.overview.parentWidget().parentWidget()  # the scroll area's viewport, then the area
    qtbot.waitUntil(lambda: not area.horizontalScrollBar().isVisible())
    assert preview._image.pixmap().width() <= preview.pictureSide()
    assert preview.width() <= area.viewport().width()
    inspector.resize(700, 700)
    qtbot.waitUntil(lambda: preview.pictureSide() == 256)
    assert preview._image.pixmap().width() == 256


def test_numbers_and_label_images_are_written_consistently(make_inspector, demo_root) -> None:  # type: ignore[no-untyped-def]
    hierarchy = _open(demo_root / "cells.ome.zarr")
    inspector = make_inspector()
    store = zarr.open_group(demo_root / "cells.ome.zarr", mode="r")
    assert store["0"].shape[1] == 256
    inspector.setNode(hierarchy, hierarchy.node("/labels/nuclei"))
    assert inspector.overview.highlightsText().startswith("OME label image: ")
    inspector.setNode(hierarchy, hierarchy.node("/"))
    assert inspector.overview.highlightsText().startswith("OME image: ")
    crumb = inspector.breadcrumb
    copy_path, copy_url = crumb._copy, crumb._copy_url
    assert copy_path.icon().isNull() == copy_url.icon().isNull()
    assert copy_path.toolButtonStyle() == copy_url.toolButtonStyle()
    assert copy_path.sizeHint().height() == copy_url.sizeHint().height()


def test_dimension_sizes_are_written_like_chunks_and_shards(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "s.zarr"
    zarr.open_group(store, mode="w", zarr_format=3).create_array(
        "a", shape=(2048, 4096), chunks=(512, 512), shards=(1024, 1024), dtype="u1")
    hierarchy = _open(store)
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/a"))
    inspector.showTab("dimensions")
    headers = inspector.dimensions.model.headers()
    rows = inspector.dimensions.model.texts()
    assert [(r[headers.index("Size")], r[headers.index("Shard")]) for r in rows] == [("2048", "1024"),
                                                                                     ("4096", "1024")]


def test_previews_say_why_they_show_nothing(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3)
    root.create_array("unwritten", shape=(4, 5), dtype="f4", fill_value=1.5)
    root.create_array("strings", shape=(4,), dtype=str)
    written = root.create_array("written", shape=(4, 5), dtype="f4", fill_value=1.5)
    written[:] = np.arange(20, dtype="f4").reshape(4, 5)
    hierarchy = _open(store)
    inspector = make_inspector()
    preview = inspector.overview.preview
    inspector.setNode(hierarchy, hierarchy.node("/unwritten"))
    assert not preview.isHidden()
    assert preview.message() == "No chunk written: every value is the fill value (1.5)"
    inspector.setNode(hierarchy, hierarchy.node("/strings"))
    assert not preview.isHidden() and preview.message() == "No preview for text (string)"
    inspector.setNode(hierarchy, hierarchy.node("/written"))
    assert preview.hasPicture() and preview.message() == ""


def test_a_bioformats2raw_collection_lists_its_images_in_the_overview(tmp_path: Path, registry: Any) -> None:
    from zarr_browser.core.validate import HierarchyContext
    from zarr_browser.qt.inspector.overview import highlights

    root = zarr.open_group(str(tmp_path / "b2r.zarr"), mode="w", zarr_format=2)
    root.attrs["bioformats2raw.layout"] = 3
    root.create_group("OME").attrs["series"] = ["0", "1", "2"]
    for name in ("0", "1", "2"):
        root.create_group(name)
    hierarchy = _open(tmp_path / "b2r.zarr")
    ctx = HierarchyContext(hierarchy)
    ome = registry.get("ome-ngff")
    lines = highlights({"ome-ngff": ome.describe(hierarchy.root, ctx)})
    assert "bioformats2raw collection: 3 images: 0, 1, 2 (listed in OME/series)" in lines
    lines = highlights({"ome-ngff": ome.describe(hierarchy.node("/OME"), ctx)})
    assert any(line.startswith("bioformats2raw collection: 3 images") for line in lines)


def test_a_label_image_without_colours_says_so(qtbot: Any) -> None:
    from zarr_browser.qt.inspector.ome_panels import LabelsPanel

    panel = LabelsPanel()
    qtbot.addWidget(panel)
    panel.setDescription("/labels/cells", {"roles": ["label-image"], "label": {"source_path": "../../"}})
    assert "lists no colours or properties" in panel.headerText()
    panel.setDescription("/labels/cells", {"roles": ["label-image"], "label": {
        "source_path": "../../", "colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}})
    assert "lists no colours" not in panel.headerText()


def test_a_dataset_whose_variables_cannot_be_read_is_not_called_empty(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The consolidated copy makes the group a dataset; its variables' own documents are broken. It
    said "Dataset: 0 data variables, 0 coordinates, dimensions " (audit C, 8)."""
    root = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    group = root.create_group("g")
    for name in ("t", "x", "y"):
        group.create_array(name, shape=(3,), dtype="f4", attributes={"_ARRAY_DIMENSIONS": ["x"]})
    zarr.consolidate_metadata(tmp_path / "s.zarr")
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/g"))
    assert inspector.overview.highlightsText() == "Dataset: 2 data variables, 1 coordinate, dimensions x=3"
    for name in ("t", "x"):
        (tmp_path / "s.zarr" / "g" / name / ".zarray").write_text("{oops")
    hierarchy = _open(tmp_path / "s.zarr")
    inspector.setNode(hierarchy, hierarchy.node("/g"))
    assert inspector.overview.highlightsText() == "Dataset: 1 data variable, 0 coordinates, dimensions x=3; " \
                                                  "2 more could not be read"
    (tmp_path / "s.zarr" / "g" / "y" / ".zarray").write_text("{oops")
    hierarchy = _open(tmp_path / "s.zarr")
    inspector.setNode(hierarchy, hierarchy.node("/g"))
    assert inspector.overview.highlightsText() == "Dataset: its variables could not be read (3 failed)"


def test_a_dataset_described_from_its_first_children_says_so(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A group of 10,000 variables was "Dataset: 500 data variables": what the first page of
    children said (the inspector reads DESCRIBE_CHILDREN of them), as if it were all (audit K)."""
    from zarr_browser.qt.inspector.panel import DESCRIBE_CHILDREN

    root = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    for i in range(DESCRIBE_CHILDREN + 20):
        root.create_array(f"v{i:04d}", shape=(3,), dtype="f4", attributes={"_ARRAY_DIMENSIONS": ["x"]})
    zarr.consolidate_metadata(tmp_path / "s.zarr")
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.root)
    assert inspector.overview.highlightsText().startswith(
        f"Dataset: {DESCRIBE_CHILDREN} data variables, 0 coordinates (of its first {DESCRIBE_CHILDREN} children; "
        f"{DESCRIBE_CHILDREN + 20} in all), dimensions x=3")
    inspector.showTab("dataset")
    assert f"(of its first {DESCRIBE_CHILDREN} children; {DESCRIBE_CHILDREN + 20} in all)" in \
        inspector.dataset._header.text()


def test_an_unconsolidated_dataset_gets_its_dataset_tab(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The worker lists the group's children: they make it an xarray dataset (no consolidated copy)."""
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset({"temp": (("time", "lat"), np.zeros((2, 4), "f4"), {"units": "K"})},
                    coords={"lat": np.arange(4.0)})
    ds.to_zarr(tmp_path / "ds.zarr", zarr_format=3, consolidated=False)
    hierarchy = _open(tmp_path / "ds.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.root)
    assert "xarray · dataset" in inspector.overview.badgeTexts()
    assert inspector.isTabVisible("dataset") and inspector.tabTitle("dataset") == "Dataset"
    inspector.showTab("dataset")
    assert [r[0] for r in inspector.dataset.data_variables.texts()] == ["temp"]
    assert dict((r[0], r[1]) for r in inspector.dataset.dims.texts()) == {"time": "2", "lat": "4"}


def test_an_axis_left_null_in_dimension_names_is_shown_unnamed(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """v3 dimension_names ["time", null, "x"]: the other names are shown, the null one as –."""
    xr = pytest.importorskip("xarray")
    xr.Dataset({"t": (("time",), np.zeros(2), {"units": "K"})}).to_zarr(tmp_path / "n.zarr", zarr_format=3,
                                                                        consolidated=False)
    zarr.open_group(tmp_path / "n.zarr", mode="r+").create_array("grid", shape=(2, 3, 4), dtype="f4",
                                                                 dimension_names=["time", None, "x"])
    hierarchy = _open(tmp_path / "n.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/grid"))
    inspector.showTab("dimensions")
    headers = inspector.dimensions.model.headers()
    assert [r[headers.index("Name")] for r in inspector.dimensions.model.texts()] == ["time", "–", "x"]
    inspector.setNode(hierarchy, hierarchy.root)
    inspector.showTab("dataset")
    rows = {r[0]: r for r in inspector.dataset.data_variables.texts()}
    assert rows["grid"][1] == "time, –, x"


@pytest.mark.filterwarnings("ignore::UserWarning:zarr")  # v3 consolidated metadata
def test_a_datatree_group_shows_the_coordinates_it_inherits(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A DataTree child's Dataset tab: its ancestors' index coordinates and their dimensions, with
    the group they come from (and links to it), as tree["/child"].to_dataset() has them."""
    xr = pytest.importorskip("xarray")
    tree = xr.DataTree.from_dict({"/": xr.Dataset(coords={"x": [1, 2, 3]}),
                                  "/child": xr.Dataset({"v": (("x", "y"), np.zeros((3, 2)))}, coords={"y": [5, 6]})})
    tree.to_zarr(tmp_path / "t.zarr", zarr_format=3)
    hierarchy = _open(tmp_path / "t.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/child"))
    inspector.showTab("dataset")
    dataset = inspector.dataset
    assert dataset.coordinates.headers()[-1] == "Inherited from"
    rows = {r[0]: r for r in dataset.coordinates.texts()}
    assert rows["x"][-1] == "/" and rows["y"][-1] == ""
    x_row = [r[0] for r in dataset.coordinates.texts()].index("x")
    assert dataset.coordinates.cell(x_row, 0).link == "/x"
    assert dict((r[0], r[1]) for r in dataset.dims.texts()) == {"x": "3", "y": "2"}
    assert "2 coordinates (1 inherited)" in dataset.headerText()
    inspector.setNode(hierarchy, hierarchy.root)  # the root inherits nothing: no such column
    inspector.showTab("dataset")
    assert "Inherited from" not in dataset.coordinates.headers()


def test_store_failures_are_logged_in_one_line_and_bugs_with_their_traceback(caplog) -> None:  # type: ignore[no-untyped-def]
    import logging

    from zarr_browser.errors import StoreReadError
    from zarr_browser.qt.workers import log_failure

    log = logging.getLogger("zarr_browser.test")
    with caplog.at_level(logging.WARNING, logger="zarr_browser.test"):
        log_failure(log, "preview of %s failed", "/a", err=StoreReadError("reading x timed out"))
        log_failure(log, "preview of %s failed", "/b", err=RuntimeError("a bug"))
    network, bug = caplog.records
    assert network.getMessage() == "preview of /a failed: reading x timed out" and network.exc_info is None
    assert bug.exc_info is not None and bug.exc_info[0] is RuntimeError


def test_fill_values_are_shown_as_readers_get_them(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A time array's NaT fill is NaT, not -9223372036854775808; a v2 null fill is what zarr reads."""
    group = zarr.open_group(tmp_path / "f.zarr", mode="w", zarr_format=2)
    group.create_array("when", shape=(4,), dtype="<M8[ns]", fill_value=np.datetime64("NaT"))
    group.create_array("mask", shape=(4,), dtype="i4", fill_value=None)
    hierarchy = _open(tmp_path / "f.zarr")
    inspector = make_inspector()
    shown = {}
    for name in ("when", "mask"):
        inspector.setNode(hierarchy, hierarchy.node(f"/{name}"))
        inspector.showTab("array")
        shown[name] = inspector.array.factTexts()["Fill value"]
    assert shown["when"].startswith("NaT") and shown["mask"] == "null (unset: zarr-python reads 0)"


def test_fill_values_data_types_and_codecs_are_shown_as_zarr_reads_them(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Fill values were raw JSON ("NaN" in quotes, [1.0, 2.0], true), a big-endian v2 type had no name
    where a little-endian one had, and an array without codecs showed an empty table (audit C, 13)."""
    group = zarr.open_group(tmp_path / "v3.zarr", mode="w", zarr_format=3)
    group.create_array("nan", shape=(2,), dtype="f4", fill_value=float("nan"))
    group.create_array("cplx", shape=(2,), dtype="c8", fill_value=1 + 2j)
    group.create_array("flag", shape=(2,), dtype="bool", fill_value=True)
    group.create_array("seven", shape=(2,), dtype="i2", fill_value=7)
    hex_nan = json.loads((tmp_path / "v3.zarr" / "nan" / "zarr.json").read_text())
    hex_nan["fill_value"] = "0x7fc00000"  # the spec's hex spelling of a float's bits
    (tmp_path / "v3.zarr" / "hex").mkdir()
    (tmp_path / "v3.zarr" / "hex" / "zarr.json").write_text(json.dumps(hex_nan))
    v2 = zarr.open_group(tmp_path / "v2.zarr", mode="w", zarr_format=2)
    v2.create_array("big", shape=(2,), dtype=">u2", fill_value=7)
    v2.create_array("little", shape=(2,), dtype="<u2", fill_value=7, compressors=None, filters=None)
    v2.create_array("when", shape=(2,), dtype=">M8[ns]", fill_value=np.datetime64("NaT"))
    inspector = make_inspector()
    inspector.showTab("array")
    shown = {}
    for store, names in (("v3.zarr", ("nan", "cplx", "flag", "seven", "hex")), ("v2.zarr", ("big", "when", "little"))):
        hierarchy = _open(tmp_path / store)
        for name in names:
            inspector.setNode(hierarchy, hierarchy.node(f"/{name}"))
            facts = inspector.array.factTexts()
            shown[name] = (facts["Fill value"], facts["Data type"], inspector.array.noCodecsLabel.isVisibleTo(inspector))
    assert shown["nan"][0] == 'nan  (stored as "NaN")' and shown["hex"][0] == 'nan  (stored as "0x7fc00000")'
    assert shown["cplx"][0] == "1+2j  (stored as [1.0, 2.0])" and shown["flag"][0] == "True  (stored as true)"
    assert shown["seven"][0] == "7"
    assert shown["big"][1] == 'uint16  (">u2")' and shown["little"][1] == 'uint16  ("<u2")'
    assert shown["when"][:2] == ('NaT  (stored as -9223372036854775808)', 'datetime64[ns]  (">M8[ns]")')
    assert [shown[n][2] for n in ("seven", "big", "little")] == [False, False, True]
    assert "no filters, no compressor" in inspector.array.noCodecsLabel.text()
    assert not inspector.array._codecs_view.isVisibleTo(inspector)


@pytest.mark.filterwarnings("ignore::UserWarning")  # zarr: structured data types have no v3 specification
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_structured_fill_is_shown_field_by_field(make_inspector, tmp_path, zarr_format) -> None:  # type: ignore[no-untyped-def]
    dtype = np.dtype([("id", "<i4"), ("x", "<f8"), ("tag", "S2"), ("ok", "?"), ("name", "<U3")])
    fill = np.array((7, -2.5, b"ok", True, "abc"), dtype=dtype)[()]
    zarr.create_array(tmp_path / "s.zarr", shape=(4,), dtype=dtype, fill_value=fill, zarr_format=zarr_format)
    hierarchy = _open(tmp_path / "s.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.node("/"))
    inspector.showTab("array")
    text = inspector.array.factTexts()["Fill value"]
    assert text.startswith("id=7, x=-2.5, tag=b'ok', ok=True, name='abc'  (stored as "), text


def test_durations_are_told_apart_from_plain_numbers(make_inspector, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """xarray writes a timedelta variable as integers with units 'hours' and its dtype attribute."""
    xr = pytest.importorskip("xarray")
    pd = pytest.importorskip("pandas")
    ds = xr.Dataset({"dur": (("t",), pd.to_timedelta([1, 2, 3], unit="h").values), "n": (("t",), [1, 2, 3])},
                    coords={"t": [0, 1, 2]})
    ds["n"].attrs["units"] = "hours"  # a plain number of hours: no duration to xarray
    ds.to_zarr(tmp_path / "td.zarr", zarr_format=2, consolidated=True)
    hierarchy = _open(tmp_path / "td.zarr")
    inspector = make_inspector()
    inspector.setNode(hierarchy, hierarchy.root)
    inspector.showTab("dataset")
    rows = {r[0]: r for r in inspector.dataset.data_variables.texts()}
    assert rows["dur"][5].startswith("durations in hours") and rows["n"][5] == ""


def test_keyboard_focus_shows_on_the_tab_bar_and_the_copy_buttons(  # type: ignore[no-untyped-def]
        make_inspector, demo_root, qtbot) -> None:
    """Fusion draws no focus there: a keyboard user could not tell where Tab had gone."""
    inspector, _preview = _demo_preview(make_inspector, demo_root, qtbot)
    inspector.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is inspector)
    for widget in (inspector.tabs.tabBar(), inspector.breadcrumb._copy):
        widget.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(widget.hasFocus)
        focused = widget.grab().toImage()
        widget.clearFocus()
        qtbot.waitUntil(lambda w=widget: not w.hasFocus())
        assert widget.grab().toImage() != focused, f"{type(widget).__name__}: focus is invisible"


def test_inspector_scroll_areas_stop_refitting_their_content_within_itself(make_inspector, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Fitting a tab's content to its scroll area resizes it, whose resize comes back to the area
    to be fitted again: under napari's progress bar these rounds nested until the stack ran out
    (SIGSEGV in text layout, about 1 run in 10 opening a plate; audit I, 1).  They stop a few deep."""
    from qtpy.QtGui import QResizeEvent
    from qtpy.QtWidgets import QLabel, QScrollArea

    from zarr_browser.qt.inspector.panel import _SettlingScrollArea

    inspector = make_inspector()
    assert [a for a in inspector.findChildren(QScrollArea) if isinstance(a, _SettlingScrollArea)]  # the tabs
    rounds: list[int] = []

    class RefitAgain(QScrollArea):  # what Qt's fitting does, at its worst: a resize, filtered again
        def eventFilter(self, watched, event):  # type: ignore[no-untyped-def]
            rounds.append(self._depth)  # type: ignore[attr-defined]
            return self.eventFilter(watched, QResizeEvent(watched.size(), watched.size()))

    class Area(_SettlingScrollArea, RefitAgain):  # the bound, then the endless refit
        pass

    area = Area()
    qtbot.addWidget(area)
    content = QLabel("content")
    area.setWidget(content)
    rounds.clear()
    assert area.eventFilter(content, QResizeEvent(content.size(), content.size())) is False
    assert rounds == [1, 2, 3, 4] and area._depth == 0
