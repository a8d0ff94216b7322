"""Edits over many documents in the window: applied, undone and redone in a worker (audit K).

The controller applies a command over ``BIG_EDIT`` documents or more, and undoes or redoes such
a step, in a worker; the GUI thread meanwhile only shows that it is busy, and edits asked for
wait behind it.  These tests lower ``BIG_EDIT`` to 3 so that a group of 6 arrays is "large".
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from zarr_browser.core.editing import Batch, EditSession, SetValue
from zarr_browser.core.editing.conventions import xarray_rename_dimension
from zarr_browser.qt.editor import controller as controller_module
from zarr_browser.qt.window import BrowserWindow

WAIT = 20_000
ARRAYS = 6


def dims_on_disk(store: Path, name: str) -> list[str]:
    return json.loads((store / name / "zarr.json").read_text())["dimension_names"]


def open_for_editing(qtbot: Any, window: BrowserWindow, store: Path) -> None:
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(store))
    with qtbot.waitSignal(window.editing.controller.activeChanged, timeout=WAIT):
        window.editing.enableAction.trigger()
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=WAIT)


class Recorder:
    """Wraps an EditSession method: records the thread each call ran on, and can hold the call
    (before it changes anything) until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.threads: list[threading.Thread] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        original = getattr(EditSession, name)

        def wrapper(session: EditSession, *args: Any, **kwargs: Any) -> Any:
            self.threads.append(threading.current_thread())
            self.entered.set()
            assert self.release.wait(WAIT / 1000)
            return original(session, *args, **kwargs)

        monkeypatch.setattr(EditSession, name, wrapper)

    def hold(self) -> None:
        self.entered.clear()
        self.release.clear()

    def first_off_gui_thread(self) -> bool:
        """Whether the first call (the large one) ran in a worker."""
        return bool(self.threads) and self.threads[0] is not threading.main_thread()


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch, make_many_group: Any, tmp_path: Path) -> Path:
    """A group of 6 v3 arrays on (y, x), with BIG_EDIT lowered to 3 documents."""
    monkeypatch.setattr(controller_module, "BIG_EDIT", 3)
    return make_many_group(tmp_path / "m.zarr", ARRAYS, consolidate=True)


def test_a_large_edit_is_applied_in_a_worker_while_edits_asked_for_wait_their_turn(
        qtbot: Any, make_window: Any, large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window()
    open_for_editing(qtbot, window, large)
    editing, controller = window.editing, window.editing.controller
    applies = Recorder(monkeypatch, "apply")
    applies.hold()
    done: list[bool] = []
    controller.applyBuilt(xarray_rename_dimension, "/", "x", "col", on_done=done.append)
    qtbot.waitUntil(applies.entered.is_set, timeout=WAIT)  # the rename was built, and is being applied

    # meanwhile: busy, nothing to undo or save yet, and an edit asked for waits (not refused)
    qtbot.waitUntil(controller.isApplying, timeout=WAIT)
    assert controller.isBusy() and controller.busyText() == "applying rename dimension 'x' → 'col' in /"
    assert not editing.undoAction.isEnabled() and not editing.saveAction.isEnabled()
    assert editing.dirtyLabel.text() == "Applying rename dimension 'x' → 'col' in /…"
    refused: list[str] = []
    controller.editFailed.connect(refused.append)
    later: list[bool] = []
    assert controller.edit(lambda s: s.set("/a0", "/title", "after the rename"), on_done=later.append) is False
    assert controller.isWaiting() and later == [] and controller.history() == []
    assert not controller.undo(), "undo waits for the edit under way"

    applies.release.set()
    qtbot.waitUntil(lambda: done == [True] and later == [True], timeout=WAIT)
    assert refused == []
    assert applies.first_off_gui_thread(), "the rename was applied off the GUI thread"
    assert controller.history() == ["rename dimension 'x' → 'col' in /", "set /a0:/title"]  # in the order asked
    assert not controller.isBusy() and not controller.isWaiting() and controller.isDirty()
    assert controller.changedPaths() == frozenset(f"/a{i}" for i in range(ARRAYS))
    assert window.windowTitle().endswith(" *") and editing.undoAction.isEnabled()
    session = controller.session()
    assert session is not None
    assert session.document("a3/zarr.json")["dimension_names"] == ["y", "col"]
    assert session.document("a0/zarr.json")["attributes"] == {"title": "after the rename"}


def test_undo_and_redo_of_a_large_step_run_in_a_worker_and_restore_the_state(
        qtbot: Any, make_window: Any, large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window()
    open_for_editing(qtbot, window, large)
    editing, controller = window.editing, window.editing.controller
    session = controller.session()
    assert session is not None
    before = {f"a{i}/zarr.json": session.document(f"a{i}/zarr.json") for i in range(ARRAYS)}
    root_before = session.document("zarr.json")
    done: list[bool] = []
    controller.applyBuilt(xarray_rename_dimension, "/", "y", "row", on_done=done.append)
    qtbot.waitUntil(lambda: done == [True] and not controller.isBusy(), timeout=WAIT)
    failed: list[str] = []
    controller.editFailed.connect(failed.append)
    assert controller.edit(lambda s: s.set("/a1", "/units", "m")) is True, failed  # one document: on the GUI thread
    assert controller.history() == ["rename dimension 'y' → 'row' in /", "set /a1:/units"]

    undos = Recorder(monkeypatch, "undo")
    editing.undo()  # the small step: at once, on the GUI thread
    assert undos.threads == [threading.main_thread()] and controller.history() == ["rename dimension 'y' → 'row' in /"]
    undos.hold()
    editing.undo()  # the rename of 6 arrays: in a worker
    qtbot.waitUntil(undos.entered.is_set, timeout=WAIT)
    qtbot.waitUntil(controller.isApplying, timeout=WAIT)
    assert controller.busyText() == "undoing rename dimension 'y' → 'row' in /"
    assert controller.history() == ["rename dimension 'y' → 'row' in /"], "not undone yet"
    undos.release.set()
    qtbot.waitUntil(lambda: not controller.isBusy(), timeout=WAIT)
    assert undos.threads[1] is not threading.main_thread()
    # back to what was read: not dirty, nothing changed, the documents as they were
    assert controller.history() == [] and not controller.isDirty() and controller.changedPaths() == frozenset()
    assert not window.windowTitle().endswith(" *") and editing.dirtyLabel.text() == "editing · all saved"
    assert {key: session.document(key) for key in before} == before and session.document("zarr.json") == root_before
    assert controller.canRedo() and editing.redoAction.isEnabled()

    redos = Recorder(monkeypatch, "redo")
    editing.redo()
    qtbot.waitUntil(lambda: controller.history() == ["rename dimension 'y' → 'row' in /"]
                    and not controller.isBusy(), timeout=WAIT)
    assert redos.first_off_gui_thread() and controller.isDirty()
    assert controller.canRedo(), "the small step undone first is still there to redo"
    assert session.document("a4/zarr.json")["dimension_names"] == ["row", "x"]
    assert controller.unsavedSteps() == 1


def test_a_large_edit_refused_in_the_worker_changes_nothing_and_the_edits_waiting_go_on(
        qtbot: Any, make_window: Any, large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window()
    open_for_editing(qtbot, window, large)
    controller = window.editing.controller
    applies = Recorder(monkeypatch, "apply")
    applies.hold()
    # the last of its commands does not apply (no array below /a5/nowhere): the whole step is refused
    command = Batch([SetValue("/attributes/note", "n", key=f"a{i}/zarr.json") for i in range(ARRAYS)]
                    + [SetValue("/attributes/nowhere/deeper", 1, key="a5/zarr.json")])
    refused: list[str] = []
    controller.editFailed.connect(refused.append)
    outcome: list[bool] = []
    assert controller.apply(command, label="note everywhere", on_done=outcome.append) is False
    qtbot.waitUntil(applies.entered.is_set, timeout=WAIT)
    waiting: list[bool] = []
    controller.edit(lambda s: s.set("/a2", "/units", "K"), on_done=waiting.append)
    applies.release.set()
    qtbot.waitUntil(lambda: outcome == [False] and waiting == [True], timeout=WAIT)
    assert applies.first_off_gui_thread()
    assert len(refused) == 1 and "nowhere" in refused[0]
    assert window.errorText().startswith("Edit refused: ")
    assert controller.history() == ["set /a2:/units"], "the refused step left nothing; the next edit went on"
    session = controller.session()
    assert session is not None and all("note" not in session.document(f"a{i}/zarr.json").get("attributes", {})
                                       for i in range(ARRAYS))


def test_a_large_edit_saves_and_the_saved_rows_are_read_again_in_batches(
        qtbot: Any, make_window: Any, large: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zarr_browser.qt import tree_model

    monkeypatch.setattr(tree_model, "REREAD_BATCH", 2)
    window = make_window()
    open_for_editing(qtbot, window, large)
    controller = window.editing.controller
    done: list[bool] = []
    controller.applyBuilt(xarray_rename_dimension, "/", "x", "col", on_done=done.append)
    qtbot.waitUntil(lambda: done == [True] and not controller.isBusy(), timeout=WAIT)
    batches: list[list[str]] = []
    original = tree_model._reread_nodes

    def counting(hierarchy: Any, registry: Any, root_name: Any, wanted: Any) -> Any:
        batches.append([path for path, _children in wanted])
        return original(hierarchy, registry, root_name, wanted)

    monkeypatch.setattr(tree_model, "_reread_nodes", counting)
    updated: list[str] = []
    window.model.nodeUpdated.connect(updated.append)
    editing = window.editing
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    with qtbot.waitSignal(controller.saved, timeout=WAIT):
        editing.saveDialog.saveButton.click()
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=WAIT)
    assert all(dims_on_disk(large, f"a{i}") == ["y", "col"] for i in range(ARRAYS))
    assert not controller.isDirty() and not window.windowTitle().endswith(" *")
    arrays = [f"/a{i}" for i in range(ARRAYS)]
    assert sorted(path for batch in batches for path in batch) == arrays  # ("/" is the current row: read alone)
    assert all(len(batch) <= 2 for batch in batches)
    assert set(arrays) <= set(updated)
    for path in arrays:  # each row shows the node as saved
        node = window.model.indexForPath(path).data(window.model.NodeRole)
        assert node.array.dimension_names == ("y", "col")
