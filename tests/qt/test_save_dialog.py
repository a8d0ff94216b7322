"""The save dialog at scale (documents grouped by change, a filter, counts, long diffs shown in
slices) and a save's progress, which can be stopped between documents and finished later."""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any

import zarr
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from zarr_browser.core.editing import EditSession
from zarr_browser.core.editing.conventions import xarray_rename_dimension
from zarr_browser.core.editing.review import Review
from zarr_browser.qt.editor.controller import ValidationState
from zarr_browser.qt.editor.dialogs import DIFF_LINES, SaveDialog

WAIT = 20_000


def dataset(path: Path, arrays: int) -> Path:
    """*arrays* v2 arrays on (time, lat, lon), consolidated, written by zarr-python."""
    root = zarr.open_group(path, mode="w", zarr_format=2, attributes={"title": "t"})
    for i in range(arrays):
        root.create_array(f"v{i:02d}", shape=(2, 3, 4), dtype="f4",
                          attributes={"units": "K", "_ARRAY_DIMENSIONS": ["time", "lat", "lon"]})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(path)
    return path


def dims(store: Path, name: str) -> list[str]:
    return json.loads((store / name / ".zattrs").read_text())["_ARRAY_DIMENSIONS"]


def consolidated_dims(store: Path, name: str) -> list[str]:
    return json.loads((store / ".zmetadata").read_text())["metadata"][f"{name}/.zattrs"]["_ARRAY_DIMENSIONS"]


def rows(view: Any) -> list[str]:
    model = view.model()
    return [model.index(r, 0).data() for r in range(model.rowCount())]


# -- the dialog ------------------------------------------------------------------------------------


def test_the_save_dialog_groups_the_documents_by_change_and_filters_them(qtbot: Any, tmp_path: Path) -> None:
    store = dataset(tmp_path / "d.zarr", 30)
    session = EditSession.open(str(store), writable=False)
    session.apply(xarray_rename_dimension(session, "/", "lon", "longitude"))
    session.set("/v07", "/units", "km")
    dialog = SaveDialog(session.review(), ValidationState())
    qtbot.addWidget(dialog)
    dialog.show()
    summary = dialog.summaryLabel.text()
    assert "31 documents will be written atomically" in summary
    assert "30 .zattrs and 1 consolidated copy (.zmetadata), 3 kinds of change" in summary
    assert rows(dialog.groupList) == [
        "All 31 documents",
        '29 × .zattrs: "lon" → "longitude" in _ARRAY_DIMENSIONS',
        '1 × .zattrs: units: "K" → "km"; "lon" → "longitude" in _ARRAY_DIMENSIONS',
        "1 × consolidated copy (.zmetadata): follows the changes of 30 entries",
    ]
    assert len(rows(dialog.documentList)) == 31 and dialog.countLabel.text() == "31 documents"
    assert '+    "longitude"' in dialog.diffView.toPlainText()  # the first document's diff

    dialog.groupList.setCurrentIndex(dialog.groupList.model().index(2, 0))  # one kind of change
    assert rows(dialog.documentList) == ["v07/.zattrs"]
    assert '+  "units": "km",' in dialog.diffView.toPlainText()
    assert dialog.countLabel.text() == "1 of 1 with this change shown, of 31 documents"

    dialog.groupList.setCurrentIndex(dialog.groupList.model().index(0, 0))
    QTest.keyClicks(dialog.filterEdit, "V1")  # any case
    assert rows(dialog.documentList) == [f"v{i}/.zattrs" for i in range(10, 20)]
    assert dialog.countLabel.text() == "10 shown, of 31 documents"
    dialog.filterEdit.setText("nothing like this")
    assert rows(dialog.documentList) == [] and dialog.diffView.toPlainText() == ""
    assert dialog.selectDocument(".zmetadata")  # clears what hides it
    assert dialog.filterEdit.text() == "" and "(one line in the store; compared indented)" in \
        dialog.diffView.toPlainText()


def test_a_long_diff_shows_its_start_then_the_rest_on_request(qtbot: Any) -> None:
    lines = 3 * DIFF_LINES + 17
    dialog = SaveDialog(Review.of_diffs({"big": "".join(f"+line {i}\n" for i in range(lines))}), None, save=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.diffView.document().blockCount() == DIFF_LINES
    assert dialog.moreLabel.text() == f"… {lines - DIFF_LINES:,} more lines of this diff not shown"
    assert dialog.showAllButton.isVisible()
    dialog.showAllButton.click()
    qtbot.waitUntil(lambda: not dialog.moreLabel.isVisible(), timeout=WAIT)
    text = dialog.diffView.toPlainText()
    assert text.splitlines() == [f"+line {i}" for i in range(lines)]
    assert not dialog.showAllButton.isVisible()
    assert dialog.summaryLabel.text() == "1 document changed — 1 big. Nothing is written."


def test_the_summary_says_an_invalid_edit_cannot_be_saved_yet(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Audit K, 6: it said "1 document will be written atomically" with Save disabled."""
    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3)
    root.create_array("a", shape=(4, 6), dtype="f4", dimension_names=("y", "x"))
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(store))
    editing = window.editing
    with qtbot.waitSignal(editing.controller.activeChanged, timeout=WAIT):
        editing.enableAction.trigger()
    qtbot.waitUntil(lambda: editing.controller.edit(lambda s: s.set("/a", "zarr.json#/dimension_names", ["y"])),
                    timeout=WAIT)
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    dialog = editing.saveDialog
    assert not dialog.saveButton.isEnabled()
    assert "Cannot be saved yet:" in dialog.summaryLabel.text()
    assert "the edits introduce 1 new validation error" in dialog.summaryLabel.text()
    assert "will be written" not in dialog.summaryLabel.text()
    dialog.overrideCheck.setChecked(True)
    assert dialog.saveButton.isEnabled()
    assert "1 document will be written atomically" in dialog.summaryLabel.text()
    assert "Saved with 1 new validation error" in dialog.summaryLabel.text()
    dialog.reject()


# -- progress, and stopping a save -----------------------------------------------------------------


def test_a_save_stopped_from_its_progress_dialog_is_partly_saved_and_saving_again_finishes_it(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = dataset(tmp_path / "d.zarr", 12)
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(store))
    editing = window.editing
    controller = editing.controller
    with qtbot.waitSignal(controller.activeChanged, timeout=WAIT):
        editing.enableAction.trigger()
    applied: list[bool] = []
    controller.applyBuilt(xarray_rename_dimension, "/", "lon", "longitude", on_done=applied.append)
    qtbot.waitUntil(lambda: applied == [True], timeout=WAIT)

    # the worker waits after its 2nd document until the user has pressed Stop saving
    release = threading.Event()

    def hold(phase: str, done: int, _total: int) -> None:  # (in the worker: a direct connection)
        if phase == "writing" and done == 2:
            release.wait(WAIT / 1000)

    controller.saveProgress.connect(hold, Qt.ConnectionType.DirectConnection)
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    editing.saveDialog.saveButton.click()
    qtbot.waitUntil(lambda: editing.progressDialog is not None and editing.progressDialog.isVisible(), timeout=WAIT)
    progress = editing.progressDialog
    qtbot.waitUntil(lambda: progress.label.text() == "Writing: 2 of 13 documents written", timeout=WAIT)
    assert progress.bar.maximum() == 13 and progress.bar.value() == 2
    with qtbot.waitSignal(controller.saved, timeout=WAIT) as saved:
        progress.stopButton.click()
        assert progress.label.text() == "Stopping after the document being written…"
        release.set()
    controller.saveProgress.disconnect(hold)
    result = saved.args[0]
    assert result.cancelled and result.written == ["v00/.zattrs", "v01/.zattrs", ".zmetadata"]
    assert editing.progressDialog is None and not progress.isVisible()
    message = window.errorText()
    assert message.startswith("Save stopped: 3 documents written (v00/.zattrs, v01/.zattrs, .zmetadata); "
                              "10 documents not written (v02/.zattrs, v03/.zattrs, v04/.zattrs, …) stay unsaved edits")
    assert message.endswith("Save again (Ctrl+S) to write the rest.")
    assert window.errorBar.kind() == "notice", "stopped as asked: said in neutral colours, not as an error"
    for i in range(12):
        name = f"v{i:02d}"
        assert dims(store, name)[-1] == ("longitude" if i < 2 else "lon")
        assert consolidated_dims(store, name) == dims(store, name)  # the store agrees with itself
    assert controller.isDirty() and window.windowTitle().endswith(" *")

    editing.saveDialog = None
    editing.saveAction.trigger()  # the second save writes the rest
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    assert editing.saveDialog.documents() == [f"v{i:02d}/.zattrs" for i in range(2, 12)] + [".zmetadata"]
    with qtbot.waitSignal(controller.saved, timeout=WAIT) as saved:
        editing.saveDialog.saveButton.click()
    assert not saved.args[0].cancelled
    for i in range(12):
        assert dims(store, f"v{i:02d}") == consolidated_dims(store, f"v{i:02d}") == ["time", "lat", "longitude"]
    assert not controller.isDirty() and not window.windowTitle().endswith(" *")
    assert editing.progressDialog is None
