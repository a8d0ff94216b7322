"""The metadata editor in the browser window: toggle, raw JSON tree, forms, undo, diff, save, prompts."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from edit_stores import ome_image  # tests/edit_stores.py
from qtpy.QtCore import Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import QApplication, QColorDialog, QComboBox, QDialogButtonBox, QLineEdit, QMessageBox

from zarr_browser.qt.editor.json_model import JsonEditModel, convert, parse_number
from zarr_browser.qt.recent import is_remote_url
from zarr_browser.qt.window import BrowserWindow

Button = QMessageBox.StandardButton
WAIT = 20_000


# -- stores written by zarr-python ----------------------------------------------------------------


def plain_store(path: Path) -> Path:
    root = zarr.open_group(path, mode="w", zarr_format=3, attributes={"title": "t", "flag": True})
    root.create_array("a", shape=(4, 6), chunks=(2, 3), dtype="f4", dimension_names=("y", "x"),
                      attributes={"units": "m"})
    return path


def zipped(folder: Path, archive: Path) -> Path:
    """*folder*'s files in the zip *archive* (the store at the archive's root)."""
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return archive


def attrs_on_disk(store: Path, node: str = "") -> dict[str, Any]:
    return json.loads((store / node / "zarr.json").read_text())["attributes"]


# -- helpers -------------------------------------------------------------------------------------


def open_for_editing(qtbot: Any, window: BrowserWindow, store: Path, path: str = "/") -> None:
    """Open *store* read-only, turn editing on with the toggle, and select *path*."""
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(store))
    assert window.modeLabel.text() == "read-only" and not window.editing.isEnabled()
    with qtbot.waitSignal(window.editing.controller.activeChanged, timeout=WAIT):
        window.editing.enableAction.trigger()
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=WAIT)
    if path != "/":
        done: list[bool] = []
        window.revealPath(path, done.append)
        qtbot.waitUntil(lambda: done == [True], timeout=WAIT)
    qtbot.waitUntil(lambda: window.editing.editor.node() is not None
                    and window.editing.editor.node().path == path, timeout=WAIT)


def wait_history(qtbot: Any, window: BrowserWindow, n: int) -> None:
    qtbot.waitUntil(lambda: len(window.editing.controller.history()) == n, timeout=WAIT)


def open_preview(qtbot: Any, window: BrowserWindow) -> Any:
    """The diff preview, once its worker made the diff."""
    editing = window.editing
    editing.saveDialog = None
    editing.preview()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    return editing.saveDialog


def save_through_dialog(qtbot: Any, window: BrowserWindow, *, override: bool = False) -> Any:
    editing = window.editing
    editing.saveDialog = None
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    dialog = editing.saveDialog
    if override:
        assert not dialog.saveButton.isEnabled()
        dialog.overrideCheck.setChecked(True)
    assert dialog.saveButton.isEnabled()
    with qtbot.waitSignal(editing.controller.saved, timeout=WAIT) as saved:
        dialog.saveButton.click()
    return saved.args[0]


# -- the JSON model ------------------------------------------------------------------------------


def test_json_model_shows_types_and_turns_edits_into_requests(qtmodeltester: Any) -> None:
    requests: list[tuple[str, str, Any]] = []
    model = JsonEditModel(lambda kind, pointer, value: requests.append((kind, pointer, value)) or True)
    model.setDocument({"name": "x", "n": 3, "ok": True, "none": None, "list": [1, {"a/b": 2}],
                       "_nczarr_attr": {"types": {"name": ">S1"}}})
    qtmodeltester.check(model)
    types = [model.index(r, JsonEditModel.TYPE_COLUMN).data() for r in range(model.rowCount())]
    assert types == ["string", "number", "bool", "null", "list", "object"]
    nested = model.indexForPointer("/list/1/a~1b", JsonEditModel.VALUE_COLUMN)
    assert nested.data() == "2"
    assert model.setData(nested, "2.5")
    assert model.setData(model.index(0, JsonEditModel.KEY_COLUMN), "title")
    assert model.setData(model.index(1, JsonEditModel.TYPE_COLUMN), "string")
    assert model.setData(model.index(2, JsonEditModel.VALUE_COLUMN), Qt.CheckState.Unchecked,
                         Qt.ItemDataRole.CheckStateRole)
    refusals: list[str] = []
    model.refused.connect(refusals.append)
    assert not model.setData(model.index(1, JsonEditModel.VALUE_COLUMN), "not a number")
    assert not model.setData(model.index(1, JsonEditModel.VALUE_COLUMN), "NaN")
    assert refusals == ["'not a number' is not a number", refusals[1]] and "JSON has no NaN" in refusals[1]
    protected = model.indexForPointer("/_nczarr_attr", JsonEditModel.KEY_COLUMN)
    assert not model.flags(protected) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(protected, "renamed")
    assert requests == [("set", "/list/1/a~1b", 2.5), ("rename", "/name", "title"), ("set", "/n", "3"),
                        ("set", "/ok", False)]
    model.setDocument({"a": 1}, read_only=True)
    qtmodeltester.check(model)
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable


def test_type_conversions_and_numbers() -> None:
    assert convert("3", "number") == 3 and convert(3, "string") == "3" and convert("yes", "bool") is True
    assert convert({"a": 1}, "list") == [] and convert(5, "list") == [5] and convert("x", "null") is None
    assert parse_number(" 2.5e-3 ") == 0.0025 and parse_number("-7") == -7
    for text in ("NaN", "-Infinity", "inf", "1e999", "abc"):  # JSON has no NaN: the CLI refuses them too
        with pytest.raises(ValueError, match=r"JSON number|not a number"):
            parse_number(text)
    assert is_remote_url("s3://b/x.zarr") and is_remote_url("https://h/x.zarr")
    assert not is_remote_url("/data/x.zarr") and not is_remote_url("file:///data/x.zarr")


# -- editing in the window -----------------------------------------------------------------------


def test_editing_is_off_until_enabled_then_undo_redo_and_dirty_indicator(qtbot: Any, make_window: Any,
                                                                          tmp_path: Path) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    assert not window.editing.dock.isVisible()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    assert window.modeLabel.text() == "writable" and editing.dock.isVisible()
    assert window.hierarchy() is not None and not window.hierarchy().access.read_only
    attributes = editing.editor.attributes
    title = attributes.model.indexForPointer("/title", JsonEditModel.VALUE_COLUMN)
    assert attributes.model.setData(title, "edited")
    assert window.windowTitle().endswith(" *")
    assert "unsaved edits (1 step)" in editing.dirtyLabel.text()
    assert attributes.addKey("added", [1, 2])
    assert editing.controller.history()[-1] == "set /:/added"
    assert editing.editor.attributes.model.document()["added"] == [1, 2]
    editor = QApplication.focusWidget()  # addKey opened the new key for editing: leave it (Esc) first,
    if editor is not None:  # else Ctrl+Z undoes the typing in that line edit, as it should
        qtbot.keyClick(editor, Qt.Key.Key_Escape)
    target = attributes.view
    window.activateWindow()  # shortcuts fire in the active window (under Xvfb it is not active by itself)
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    qtbot.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Z
    qtbot.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not editing.controller.isDirty() and not window.windowTitle().endswith("*")
    assert editing.editor.attributes.model.document() == {"title": "t", "flag": True}
    assert editing.dirtyLabel.text() == "editing · all saved"
    qtbot.keyClick(target, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert editing.editor.attributes.model.document()["title"] == "edited"
    qtbot.keyClick(target, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)  # Ctrl+Y redoes too (audit K, 9)
    assert editing.editor.attributes.model.document()["added"] == [1, 2]
    assert attrs_on_disk(store)["title"] == "t", "nothing is written before a save"


def test_the_add_key_and_add_item_actions_add_what_they_say(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Through the actions (toolbar, menu), not the methods: ``triggered`` passes ``checked``, which
    once became the new key's name ("False") and the appended item (false)."""
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    attributes = window.editing.editor.attributes
    attributes.addKeyAction.trigger()
    editor = QApplication.focusWidget()  # the new key is opened for editing: leave it as it is
    if editor is not None:
        qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert attributes.model.document() == {"title": "t", "flag": True, "new_attribute": ""}
    attributes.pasteJson([1], "/new_attribute")
    attributes.selectPointer("/new_attribute/0")
    attributes.addItemAction.trigger()
    assert attributes.model.document()["new_attribute"] == [1, ""]


def test_the_attribute_actions_have_keys_a_context_menu_key_and_the_edit_menu(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tab skips the toolbar and only Delete had a key: the keyboard could not add a key or paste
    JSON, Shift+F10 did nothing in the attribute tree, and the Edit menu did not list them (audit C, 12)."""
    from qtpy.QtWidgets import QMenu

    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    attributes = window.editing.editor.attributes
    actions = {a.text().replace("&", ""): a for a in window.editing.menu.actions()}
    names = ("Add key", "Add item", "Delete", "Paste JSON…")
    assert [actions[n].shortcut().toString() for n in names] == ["Ins", "Alt+Ins", "Del", "Ctrl+Shift+V"]
    assert all(actions[n].toolTip().endswith(f"({key})") for n, key in zip(  # (as the menu writes the key)
        names, ("Ins", "Alt+Ins", "Del", "Ctrl+Shift+V"), strict=True))
    view = attributes.view
    window.activateWindow()  # shortcuts fire in the active window (under Xvfb it is not active by itself)
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    view.setFocus()
    attributes.selectPointer("/title")
    assert [actions[n].isEnabled() for n in names] == [True, False, True, True], "no list: no item to add"
    qtbot.keyClick(view, Qt.Key.Key_Insert)
    assert attributes.model.document() == {"title": "t", "flag": True, "new_attribute": ""}
    editor = QApplication.focusWidget()  # the new key is opened for editing
    assert isinstance(editor, QLineEdit) and editor.text() == "new_attribute"
    qtbot.keyClick(editor, Qt.Key.Key_Insert)  # the line edit's: no other key is added
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    assert len(attributes.model.document()) == 3
    attributes.pasteJson([1], "/new_attribute")
    attributes.selectPointer("/new_attribute/0")
    assert actions["Add item"].isEnabled()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Insert, Qt.KeyboardModifier.AltModifier)
    assert attributes.model.document()["new_attribute"] == [1, ""]
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert attributes.model.document()["new_attribute"] == [1]
    qtbot.keyClick(view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: attributes.pasteDialog is not None and attributes.pasteDialog.isVisible(), timeout=WAIT)
    attributes.pasteDialog.reject()
    shown: list[str] = []
    monkeypatch.setattr(QMenu, "exec", lambda menu, *args: shown.extend(a.text() for a in menu.actions()))
    qtbot.keyClick(view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    assert [text.replace("&", "") for text in shown] == list(names)
    # from the Edit menu, with the focus in the hierarchy tree and another tab shown: the attributes come back
    window.editing.editor.tabs.setCurrentIndex(window.editing.editor.tabs.count() - 1)
    window.tree.setFocus()
    actions["Add key"].trigger()
    assert window.editing.editor.tabs.currentWidget() is attributes
    assert "new_attribute_2" in attributes.model.document()
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: Button.Discard)
    window.editing.enableAction.trigger()  # editing off (the edits discarded): nothing applies
    assert not any(actions[n].isEnabled() for n in names)


def test_raw_editor_rename_delete_paste_and_dimension_names(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    attributes = window.editing.editor.attributes
    assert "shape 4 × 6" in attributes.arrayLabel.text() and attributes.dimensionNames.isVisible()
    units = attributes.model.indexForPointer("/units", JsonEditModel.KEY_COLUMN)
    assert attributes.model.setData(units, "unit")
    attributes.selectPointer("/unit")
    assert attributes.pasteJson({"value": "m", "scale": [1, 2]})
    attributes.selectPointer("/unit/scale")
    assert attributes.addItem(3)
    attributes.selectPointer("/unit/value")
    assert attributes.deleteSelected()
    attributes.dimensionNames.edits[0].setText("row")
    attributes.dimensionNames.applyButton.click()
    session = window.editing.controller.session()
    assert session.attributes("/a") == {"unit": {"scale": [1, 2, 3]}}
    assert session.node("/a").array.dimension_names == ("row", "x")
    assert len(window.editing.controller.history()) == 5
    result = save_through_dialog(qtbot, window)
    assert result.written == ["a/zarr.json"]
    on_disk = json.loads((store / "a" / "zarr.json").read_text())
    assert on_disk["attributes"] == {"unit": {"scale": [1, 2, 3]}} and on_disk["dimension_names"] == ["row", "x"]
    assert on_disk["shape"] == [4, 6]
    qtbot.waitUntil(lambda: window.inspector.node() is not None
                    and window.inspector.node().attributes == {"unit": {"scale": [1, 2, 3]}}, timeout=WAIT)


def test_read_only_array_metadata_is_refused(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    controller = window.editing.controller
    assert not controller.edit(lambda s: s.set("/a", "zarr.json#/shape", [1, 1]))
    assert "read-only" in window.errorText()
    assert not controller.isDirty()


# -- save: diff preview, validation override, conflicts ------------------------------------------


def test_save_shows_the_diff_then_writes_only_changed_documents(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = plain_store(tmp_path / "s.zarr")
    before_array = (store / "a" / "zarr.json").read_bytes()
    window = make_window()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/", "/title", "new title"))
    preview = open_preview(qtbot, window)
    assert preview.documents() == ["zarr.json"] and preview.saveButton is None
    assert '-    "title": "t"' in preview.diffView.toPlainText()
    assert '+    "title": "new title"' in preview.diffView.toPlainText()
    preview.reject()
    result = save_through_dialog(qtbot, window)
    assert result.written == ["zarr.json"]
    assert attrs_on_disk(store) == {"title": "new title", "flag": True}
    assert (store / "a" / "zarr.json").read_bytes() == before_array, "an unchanged document is not rewritten"
    assert not editing.controller.isDirty() and not window.windowTitle().endswith("*")
    assert "Saved 1 document" in window.statusBar().currentMessage()
    editing.undo()  # undo works across saves
    assert editing.controller.isDirty() and window.windowTitle().endswith(" *")
    save_through_dialog(qtbot, window)
    assert attrs_on_disk(store)["title"] == "t"


def test_saving_with_new_errors_needs_the_override(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/a", "zarr.json#/dimension_names", ["y"]))  # 2-d array
    qtbot.waitUntil(lambda: bool(editing.controller.validation.new_errors), timeout=WAIT)
    assert "1 new error" in editing.editor.validationLabel.text()
    assert editing.editor.validationList.kinds()[0] == "new error"
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    dialog = editing.saveDialog
    assert dialog.overrideCheck.isVisible() and not dialog.saveButton.isEnabled()
    assert "1 new error" in dialog.issuesLabel.text()
    dialog.reject()
    assert json.loads((store / "a" / "zarr.json").read_text())["dimension_names"] == ["y", "x"]
    save_through_dialog(qtbot, window, override=True)
    assert json.loads((store / "a" / "zarr.json").read_text())["dimension_names"] == ["y"]


def test_the_validation_summary_counts_notes_apart_from_warnings(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Four [strict] notes and one warning read "5 warnings" (audit F, 13)."""
    from zarr_browser.core.issues import Issue, Severity
    from zarr_browser.qt.editor.controller import ValidationState

    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/", "/title", "new title"))
    notes = [Issue(Severity.INFO, f"[strict] note {n}", "/") for n in range(4)]
    warning = Issue(Severity.WARNING, "a warning", "/")
    editing.editor._on_validated(ValidationState(issues=[*notes, warning], new_warnings=[warning]))
    assert editing.editor.validationLabel.text() == "Validation: 1 warning, 4 notes"
    editing.editor._on_validated(ValidationState(issues=notes[:1]))
    assert "✔ The edited nodes validate" in editing.editor.validationLabel.text()
    assert editing.editor.validationLabel.text().endswith("(1 note)")
    assert editing.editor.validationList.kinds() == ["info"]  # the list still shows them


def test_the_inspector_says_it_shows_a_node_with_unsaved_edits_as_saved(qtbot: Any, make_window: Any,
                                                                       tmp_path: Path) -> None:
    """The inspector beside the editor kept showing the stored values without a word (audit F, 14)."""
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    note = window.inspector.unsavedNote
    assert not note.isVisible()
    assert window.editing.controller.edit(lambda s: s.set("/", "/title", "new title"))
    qtbot.waitUntil(note.isVisible, timeout=WAIT)
    assert note.text().startswith("Shown as saved")
    done: list[bool] = []
    window.revealPath("/a", done.append)  # a node without edits
    qtbot.waitUntil(lambda: done == [True] and not note.isVisible(), timeout=WAIT)
    window.revealPath("/", done.append)
    qtbot.waitUntil(note.isVisible, timeout=WAIT)
    import os
    if os.environ.get("ZB_SHOT"):
        window.resize(1200, 700)
        qtbot.wait(300)
        window.grab().save(os.environ["ZB_SHOT"])
    save_through_dialog(qtbot, window)
    qtbot.waitUntil(lambda: not note.isVisible(), timeout=WAIT)


def save_into_a_conflict(qtbot: Any, window: BrowserWindow, store: Path, monkeypatch: pytest.MonkeyPatch,
                         answer: Any) -> list[str]:
    """Edit, let another writer change the document, save: the conflict question gets *answer*.

    Returns the questions asked (their texts), once the save failed and the answer was acted on.
    """
    open_for_editing(qtbot, window, store)
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/", "/mine", 1))
    zarr.open_group(store, mode="r+").attrs["theirs"] = 2  # another writer, after we read
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or answer)
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    signal = editing.controller.saveFailed if answer == Button.Cancel else editing.controller.reloaded
    with qtbot.waitSignal(signal, timeout=WAIT):
        editing.saveDialog.saveButton.click()
    return asked


@pytest.mark.parametrize("answer", [Button.Cancel, Button.Discard])
def test_a_node_deleted_by_another_program_is_named_deleted_and_never_written_again(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: Any) -> None:
    """The question said the document "changed"; re-applying wrote the edit into the deleted node
    (the next save failed), and Discard raised NodeNotFoundError in the event loop."""
    import shutil

    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/a", "/units", "km"))
    shutil.rmtree(store / "a")  # another program
    asked: list[tuple[str, Any]] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append((args[2], args[3])) or answer)
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    signal = editing.controller.saveFailed if answer == Button.Cancel else editing.controller.reloaded
    with qtbot.waitSignal(signal, timeout=WAIT):
        editing.saveDialog.saveButton.click()
    assert asked and "a/zarr.json was deleted from the store since it was read" in asked[0][0]
    assert not asked[0][1] & Button.Yes  # no "re-apply": it would write into a node that is gone
    assert not (store / "a").exists()
    if answer == Button.Discard:
        qtbot.wait(100)  # the editor shows no node; nothing raised in the event loop
        assert not editing.controller.isDirty()
    else:
        assert "was deleted" in window.errorText()


@pytest.mark.parametrize("answer", [Button.Yes, Button.Discard])
def test_a_second_writer_is_never_overwritten_and_reload_is_offered(qtbot: Any, make_window: Any, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    answer: Any) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    asked = save_into_a_conflict(qtbot, window, store, monkeypatch, answer)
    editing = window.editing
    assert asked and "zarr.json changed in the store since it was read" in asked[0]
    assert attrs_on_disk(store) == {"title": "t", "flag": True, "theirs": 2}, "their change was not overwritten"
    if answer == Button.Yes:  # reloaded with our edit re-applied on top
        assert editing.controller.isDirty()
        save_through_dialog(qtbot, window)
        assert attrs_on_disk(store) == {"title": "t", "flag": True, "theirs": 2, "mine": 1}
    else:
        assert not editing.controller.isDirty()
        assert editing.editor.attributes.model.document()["theirs"] == 2


# -- unsaved edits on close ------------------------------------------------------------------------


def test_closing_with_unsaved_edits_asks(qtbot: Any, make_window: Any, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/", "/title", "unsaved"))
    answers = [Button.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: answers.pop(0))
    assert not window.close() and window.isVisible()
    assert editing.controller.isDirty()
    answers.append(Button.Save)  # Save: the save dialog, then the window closes
    assert not window.close()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    editing.saveDialog.saveButton.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT)
    assert attrs_on_disk(store)["title"] == "unsaved"


def test_discarding_on_close_and_on_disable_writes_nothing(qtbot: Any, make_window: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/", "/title", "dropped"))
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: Button.Cancel)
    editing.enableAction.trigger()  # turning editing off asks too
    assert editing.isEnabled() and editing.enableAction.isChecked()
    hierarchy = window.hierarchy()
    window.openStore(str(plain_store(tmp_path / "other.zarr")))  # so does closing the store for another
    assert "opening store" not in window.panel.busyText(), "cancelled: the other store is not opened"
    assert window.hierarchy() is hierarchy and editing.controller.isDirty()
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: Button.Discard)
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):  # reopened read-only
        editing.enableAction.trigger()
    assert not editing.isEnabled() and window.modeLabel.text() == "read-only"
    assert attrs_on_disk(store)["title"] == "t"
    assert window.close()


def test_enabling_and_disabling_editing_keep_the_node_and_the_groups_expanded(qtbot: Any, make_window: Any,
                                                                            tmp_path: Path) -> None:
    """Enable editing reopened the store at its root, with every group collapsed: the user had
    to find the node to edit again (audit C, 7)."""
    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3)
    root.create_group("g").create_group("h").create_array("x", shape=(2,), dtype="i1", attributes={"units": "m"})
    root.create_group("other").create_array("y", shape=(2,), dtype="i1")
    root.create_group("closed").create_array("z", shape=(2,), dtype="i1")
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(store))
    for path in ("/other/y", "/g/h/x"):
        done: list[bool] = []
        window.revealPath(path, done.append)
        qtbot.waitUntil(lambda: done == [True], timeout=WAIT)  # noqa: B023 - waited for here

    def expanded(path: str) -> bool:
        return window.tree.isExpanded(window.proxy.mapFromSource(window.model.indexForPath(path)))

    assert [expanded(p) for p in ("/g", "/g/h", "/other", "/closed")] == [True, True, True, False]
    editing = window.editing
    with qtbot.waitSignal(editing.controller.activeChanged, timeout=WAIT):
        editing.enableAction.trigger()
    assert not window.hierarchy().access.read_only
    qtbot.waitUntil(lambda: window.currentPath() == "/g/h/x", timeout=WAIT)
    qtbot.waitUntil(lambda: all(expanded(p) for p in ("/g", "/g/h", "/other")), timeout=WAIT)
    assert not expanded("/closed")
    qtbot.waitUntil(lambda: editing.editor.node() is not None and editing.editor.node().path == "/g/h/x",
                    timeout=WAIT)
    assert editing.editor.attributes.model.document() == {"units": "m"}
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):  # off again: read-only, still there
        editing.enableAction.trigger()
    assert window.hierarchy().access.read_only
    qtbot.waitUntil(lambda: window.currentPath() == "/g/h/x", timeout=WAIT)
    qtbot.waitUntil(lambda: all(expanded(p) for p in ("/g", "/g/h", "/other")), timeout=WAIT)


def test_enabling_editing_on_a_node_opened_inside_a_store_keeps_the_store(qtbot: Any, make_window: Any,
                                                                          tmp_path: Path) -> None:
    """A URL naming a node inside a store shows the store around it; editing reopens that store (at
    the same node), not the node's folder as a store of its own."""
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(store / "1"))
    qtbot.waitUntil(lambda: window.currentPath() == "/1", timeout=WAIT)
    with qtbot.waitSignal(window.editing.controller.activeChanged, timeout=WAIT):
        window.editing.enableAction.trigger()
    assert window.hierarchy().url == str(store) and not window.hierarchy().access.read_only
    qtbot.waitUntil(lambda: window.currentPath() == "/1", timeout=WAIT)


def test_remote_stores_need_a_confirmation(qtbot: Any, make_window: Any, s3_server: Any, zarr_stores: Any,
                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zarr_stores.sample(str(tmp_path / "s.zarr"), 3)
    bucket = s3_server.new_bucket()
    s3_server.upload_tree(tmp_path / "s.zarr", bucket, "s.zarr")
    url = f"s3://{bucket}/s.zarr"
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(url, s3_server.storage_options)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kw: asked.append(args[1]) or Button.No)
    window.editing.enableAction.trigger()
    assert asked == ["Write to a remote store?"]
    assert not window.editing.isEnabled() and not window.editing.enableAction.isChecked()
    assert window.hierarchy().access.read_only
    other = make_window()  # `zarr-browser --writable s3://…`, answered No: the store, read-only
    with qtbot.waitSignal(other.storeOpened, timeout=WAIT):
        other.openStore(url, s3_server.storage_options, writable=True)
    assert asked == ["Write to a remote store?"] * 2
    assert other.hierarchy().access.read_only and not other.editing.isEnabled()


def test_a_web_server_is_not_asked_about_writing(qtbot: Any, make_window: Any, http_server: Any, zarr_stores: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP is never written: asking "Open it for writing?" was pointless; edits are previewed."""
    zarr_stores.sample(str(Path(http_server.root) / "s.zarr"), 3)
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kw: asked.append(args[1]) or Button.Yes)
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(http_server.url_for("s.zarr"), writable=True)
    qtbot.waitUntil(window.editing.isEnabled, timeout=WAIT)
    assert asked == []


# -- convention forms ------------------------------------------------------------------------------


def test_ome_axes_pixel_size_and_translation_forms(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editor = window.editing.editor
    assert editor.isTabVisible("ome") and editor.isTabVisible("xarray") and not editor.isTabVisible("cf")
    form = editor.axesForm
    assert [r["name"].text() for r in form.rows] == ["c", "y", "x"]
    form.rows[1]["size"].setValue(0.2)
    form.rows[2]["size"].setValue(0.2)
    form.rows[1]["unit"].setCurrentText("nanometer")
    form.rows[2]["unit"].setCurrentText("nanometer")
    form.pixelSizeButton.click()
    wait_history(qtbot, window, 1)
    form = editor.axesForm
    form.rows[2]["name"].setText("xx")
    form.applyAxesButton.click()
    wait_history(qtbot, window, 2)
    editor.axesForm.rows[1]["translation"].setValue(5.0)
    editor.axesForm.translationButton.click()
    wait_history(qtbot, window, 3)
    save_through_dialog(qtbot, window)
    ms = attrs_on_disk(store)["ome"]["multiscales"][0]
    assert [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]] == [[1.0, 0.2, 0.2], [1.0, 0.4, 0.4]]
    assert [d["coordinateTransformations"][1]["translation"] for d in ms["datasets"]] == [
        [0.0, 5.0, 0.0], [0.0, 5.1, 0.1]]
    assert ms["axes"] == [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "nanometer"},
                          {"name": "xx", "type": "space", "unit": "nanometer"}]
    for level in ("0", "1"):  # 0.5: the rename rewrote every level's dimension_names
        assert json.loads((store / level / "zarr.json").read_text())["dimension_names"] == ["c", "y", "xx"]


def test_channels_form_with_colour_picker_and_histogram(qtbot: Any, make_window: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.channelsForm
    qtbot.waitUntil(lambda: all(r["histogram"].histogram is not None for r in form.rows), timeout=WAIT)
    hist = form.rows[1]["histogram"].histogram
    assert hist.level == "/1" and (hist.minimum, hist.maximum) == (256, 511)  # channel 1 of the lowest level
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args, **kw: QColor("#123456"))
    form.rows[0]["color"].click()
    form.rows[0]["label"].setText("DNA")
    form.rows[0]["start"].setValue(10)
    form.rows[0]["end"].setValue(60)
    form.rows[1]["active"].setChecked(False)
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    channels = attrs_on_disk(store)["ome"]["omero"]["channels"]
    assert channels[0] == {"label": "DNA", "color": "123456", "active": True,
                           "window": {"min": 0, "max": 2047, "start": 10.0, "end": 60.0}}
    assert channels[1]["active"] is False and channels[1]["label"] == "b"


def test_channels_form_writes_only_what_the_user_changed(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Changing one label leaves every other field as stored: float windows keep their digits
    (they were rounded to 2 decimals), a channel with only a colour gets no made-up label,
    active flag or 0–0 window."""
    store = ome_image(tmp_path / "i.zarr")
    group = zarr.open_group(store, mode="r+")
    ome = group.attrs["ome"]
    ome["omero"]["channels"] = [
        {"label": "dF/F", "color": "00FF00", "active": True,
         "window": {"min": 0.0, "max": 0.05, "start": 0.0012, "end": 0.0456}},
        {"color": "FF0000"}]
    group.attrs["ome"] = ome
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.channelsForm
    assert form.rows[0]["start"].text() == "0.0012" and form.rows[0]["end"].text() == "0.0456"
    form.rows[0]["label"].setText("dF over F")
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    assert attrs_on_disk(store)["ome"]["omero"]["channels"] == [
        {"label": "dF over F", "color": "00FF00", "active": True,
         "window": {"min": 0.0, "max": 0.05, "start": 0.0012, "end": 0.0456}},
        {"color": "FF0000"}]


def test_number_fields_keep_every_digit_typed(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Pixel sizes typed as 3.25e-5 (millimetres) or 6.5e-7 (metres) are saved as typed: the
    fields had 5 decimals and saved 3e-05 and 0."""
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.axesForm
    assert not form.rows[0]["size"].isEnabled()  # the channel axis has no pixel size
    for row, typed in ((1, "3.25e-5"), (2, "6.5e-7")):
        spin = form.rows[row]["size"]
        spin.lineEdit().selectAll()
        qtbot.keyClicks(spin.lineEdit(), typed)
        qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert form.rows[1]["size"].value() == 3.25e-5 and form.rows[2]["size"].text() == "6.5e-07"
    form.pixelSizeButton.click()
    wait_history(qtbot, window, 1)
    form = window.editing.editor.axesForm
    form.rows[1]["translation"].setValue(1.234567891)
    form.translationButton.click()
    wait_history(qtbot, window, 2)
    save_through_dialog(qtbot, window)
    ms = attrs_on_disk(store)["ome"]["multiscales"][0]
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 3.25e-5, 6.5e-7]
    assert ms["datasets"][1]["coordinateTransformations"][0]["scale"] == [1.0, 6.5e-5, 1.3e-6]
    assert ms["datasets"][0]["coordinateTransformations"][1]["translation"][1] == 1.234567891


def test_xarray_form_from_ome_axes_and_checks(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr", "0.4")
    window = make_window()
    open_for_editing(qtbot, window, store)
    window.editing.editor.xarrayForm.fromOmeButton.click()
    wait_history(qtbot, window, 1)
    session = window.editing.controller.session()
    assert session.changed_keys() == ["0/.zattrs", "1/.zattrs"]
    done: list[bool] = []
    window.revealPath("/1", done.append)
    qtbot.waitUntil(lambda: window.editing.editor.node() is not None
                    and window.editing.editor.node().path == "/1", timeout=WAIT)
    form = window.editing.editor.xarrayForm
    assert form.names() == ["c", "y", "x"]
    form.edits[2].setText("y")  # duplicate: refused, nothing changes
    form.applyButton.click()
    qtbot.waitUntil(lambda: "unique" in window.errorText(), timeout=WAIT)
    assert len(window.editing.controller.history()) == 1
    save_through_dialog(qtbot, window)
    assert json.loads((store / "1" / ".zattrs").read_text())["_ARRAY_DIMENSIONS"] == ["c", "y", "x"]


def test_cf_form_edits_in_one_step_and_xarray_reads_it(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    store = tmp_path / "c.zarr"
    data = xr.DataArray(np.arange(6, dtype="f4").reshape(2, 3), dims=("t", "x"), attrs={"units": "K"})
    xr.Dataset({"temp": data}).to_zarr(store, zarr_format=2, consolidated=True,
                                       encoding={"temp": {"_FillValue": -999.0}})
    window = make_window()
    open_for_editing(qtbot, window, store, "/temp")
    editor = window.editing.editor
    assert editor.isTabVisible("cf")
    form = editor.cfForm
    assert form.fields["units"].text() == "K"
    fill = form.fields["_FillValue"]
    assert fill.isReadOnly() and fill.text() == "-999.0" and "xarray masks with the array's fill_value" in \
        form.fillLabel.text()
    editor.showTab("cf")
    window.grab().save(str(tmp_path / "dims_cf_form_v2.png"))
    form.fields["units"].setText("degC")
    form.fields["long_name"].setText("air temperature")
    calendars = form.fields["calendar"]
    offered = [calendars.itemText(i) for i in range(calendars.count())]
    assert "noleap" in offered and not {"utc", "tai", "none"} & set(offered)  # xarray decodes no times in these
    form.fields["calendar"].setCurrentText("")
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    result = save_through_dialog(qtbot, window)
    assert result.written == ["temp/.zattrs", ".zmetadata"]  # consolidated metadata updated in the same save
    opened = xr.open_zarr(store, consolidated=True)
    assert opened["temp"].attrs["units"] == "degC" and opened["temp"].attrs["long_name"] == "air temperature"


def test_the_cf_form_writes_only_the_fields_typed_into(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Editing long_name rewrote a numeric units: 1 (common for dimensionless data) as "1"."""
    xr = pytest.importorskip("xarray")
    store = tmp_path / "c.zarr"
    data = xr.DataArray(np.zeros(3, dtype="f4"), dims=("x",), attrs={"units": 1, "standard_name": "area_fraction"})
    xr.Dataset({"frac": data}).to_zarr(store, zarr_format=3, consolidated=True)
    window = make_window()
    open_for_editing(qtbot, window, store, "/frac")
    form = window.editing.editor.cfForm
    assert form.fields["units"].text() == "1" and form.values() == {}
    form.fields["long_name"].setText("fraction")
    assert form.values() == {"long_name": "fraction"}
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    attrs = json.loads((store / "frac" / "zarr.json").read_text())["attributes"]
    assert attrs["units"] == 1 and attrs["long_name"] == "fraction" and attrs["standard_name"] == "area_fraction"


def nccopy_store(tmp_path: Path) -> Path:
    """``v(x)`` with units "K", written to NCZarr by Debian's nccopy (netCDF-C 4.9.0: generation a)."""
    ncgen, nccopy = shutil.which("ncgen"), shutil.which("nccopy")
    if ncgen is None or nccopy is None:
        pytest.fail("netCDF-C (ncgen, nccopy) is missing: scripts/bootstrap.sh installs it")
    (tmp_path / "t.cdl").write_text('netcdf t {\ndimensions:\n x = 3 ;\nvariables:\n float v(x) ;\n'
                                    '  v:units = "K" ;\ndata:\n v = 1, 2, 3 ;\n}\n')
    subprocess.run([ncgen, "-4", "-o", str(tmp_path / "t.nc"), str(tmp_path / "t.cdl")], check=True, timeout=60)
    store = tmp_path / "n.zarr"
    subprocess.run([nccopy, str(tmp_path / "t.nc"), f"file://{store}#mode=nczarr,file"], check=True, timeout=60)
    return store


def test_nczarr_keys_are_read_only_and_types_follow(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = nccopy_store(tmp_path)
    window = make_window()
    open_for_editing(qtbot, window, store, "/v")
    attributes = window.editing.editor.attributes
    model = attributes.model
    protected = [r for r in range(model.rowCount()) if model.isProtected(model.index(r, 0))]
    assert protected and all(not model.flags(model.index(r, 0)) & Qt.ItemFlag.ItemIsEditable for r in protected)
    assert "NCZarr's own metadata" in attributes.noteLabel.text()
    assert attributes.addKey("scale", 2.5)
    save_through_dialog(qtbot, window)
    attrs = json.loads((store / "v" / ".zattrs").read_text())
    assert attrs["scale"] == 2.5 and attrs["_NCZARR_ATTR"]["types"] == {"units": "<U1", "scale": "<f8"}
    dump = subprocess.run(["ncdump", "-h", f"file://{store}#mode=nczarr,file"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "v:scale = 2.5" in dump


def test_label_colours_and_plate_names_forms(qtbot: Any, make_window: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "p.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=2)
    group.attrs["plate"] = {"version": "0.4", "name": "p", "rows": [{"name": "A"}], "columns": [{"name": "1"}],
                            "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}],
                            "acquisitions": [{"id": 0, "name": "first"}]}
    labels = zarr.open_group(tmp_path / "l.zarr", mode="w", zarr_format=2)
    labels.attrs["image-label"] = {"version": "0.4", "colors": [{"label-value": 1, "rgba": [1, 2, 3, 200]}]}
    window = make_window()
    open_for_editing(qtbot, window, store)
    plate = window.editing.editor.plateForm
    assert window.editing.editor.isTabVisible("ome") and not plate.isHidden()
    assert "read-only" in plate.layoutLabel.text()
    plate.nameEdit.setText("screen 1")
    plate.acquisitionEdits[0].setText("day 1")
    plate.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    saved = json.loads((store / ".zattrs").read_text())["plate"]
    assert saved["name"] == "screen 1" and saved["acquisitions"] == [{"id": 0, "name": "day 1"}]

    window.editing.controller.stop()
    window.editing.setEnabled(False)
    open_for_editing(qtbot, window, tmp_path / "l.zarr")
    form = window.editing.editor.labelsForm
    monkeypatch.setattr(QColorDialog, "getColor", lambda *args, **kw: QColor("#ff8000"))
    form.buttons[1].click()
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    colours = json.loads((tmp_path / "l.zarr" / ".zattrs").read_text())["image-label"]["colors"]
    assert colours == [{"label-value": 1, "rgba": [255, 128, 0, 200]}]  # alpha kept


def test_label_colours_form_adds_and_removes_values(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = tmp_path / "l.zarr"
    labels = zarr.open_group(store, mode="w", zarr_format=2)
    labels.attrs["image-label"] = {"version": "0.4", "colors": [{"label-value": 1, "rgba": [1, 2, 3, 200]},
                                                               {"label-value": 2, "rgba": [4, 5, 6, 255]}]}
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.labelsForm
    qtbot.waitUntil(lambda: sorted(form.buttons) == [1, 2], timeout=WAIT)
    assert form.valueEdit.text() == "3" and form.emptyLabel.isHidden()  # the next free value
    form.valueEdit.setText("1")
    form.addButton.click()
    assert "already" in form.errorLabel.text() and not form.errorLabel.isHidden()
    form.valueEdit.setText("40")
    form.addButton.click()
    assert sorted(form.buttons) == [1, 2, 40] and form.valueEdit.text() == "41"
    assert form.removeLabel(2)
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    colours = json.loads((store / ".zattrs").read_text())["image-label"]["colors"]
    assert [c["label-value"] for c in colours] == [1, 40]
    assert colours[0]["rgba"] == [1, 2, 3, 200] and colours[1]["rgba"][3] == 255
    assert colours[1]["rgba"][:3] != [255, 255, 255]  # a colour of its own, not white

    qtbot.waitUntil(lambda: sorted(form.buttons) == [1, 40], timeout=WAIT)
    assert form.removeLabel(1) and form.removeLabel(40)
    assert not form.emptyLabel.isHidden()
    form.applyButton.click()
    wait_history(qtbot, window, 2)
    save_through_dialog(qtbot, window)
    assert "colors" not in json.loads((store / ".zattrs").read_text())["image-label"]  # the schema wants ≥ 1


def test_label_colours_form_shows_the_first_values_and_keeps_the_rest(qtbot: Any, make_window: Any,
                                                                      tmp_path: Path) -> None:
    """A segmentation colouring thousands of labels: rows for the first MAX_ROWS, the others kept."""
    store = tmp_path / "l.zarr"
    labels = zarr.open_group(store, mode="w", zarr_format=2)
    many = [{"label-value": v, "rgba": [v % 256, 0, 0, 255]} for v in range(1, 3001)]
    many[0]["rgba"] = ["red", 0, 0]  # invalid: shown white (validation names it), never a crash
    labels.attrs["image-label"] = {"version": "0.4", "colors": many}
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.labelsForm
    qtbot.waitUntil(lambda: len(form.buttons) == form.MAX_ROWS, timeout=WAIT)
    assert form.buttons[1].colour() == "FFFFFF"
    assert "2,744 more label colours" in form.moreLabel.text() and not form.moreLabel.isHidden()
    assert form.valueEdit.text() == "3001"
    assert not form.addLabel(2999)  # has a colour, though not shown
    form.valueEdit.setText(str(2**63 + 5))  # 64-bit ids, beyond a spin box's range
    qtbot.keyClick(form.valueEdit, Qt.Key.Key_Return)
    form.valueEdit.setText(str(2**63 + 6))
    form.addButton.click()
    assert form.buttons[2**63 + 5].colour() != form.buttons[2**63 + 6].colour()  # hues stay distinct
    assert form.removeLabel(2**63 + 5) and form.removeLabel(2**63 + 6)
    assert form.addLabel(5000) and form.removeLabel(3)
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    saved = json.loads((store / ".zattrs").read_text())["image-label"]["colors"]
    values = [c["label-value"] for c in saved]
    assert len(values) == 3000 and 3 not in values and values[-1] == 5000 and 2999 in values
    assert saved[0] == {"label-value": 1, "rgba": ["red", 0, 0]}  # not touched, not rewritten


def edit_and_find_nothing_can_be_saved(qtbot: Any, window: BrowserWindow) -> None:
    """On a store opened for editing that cannot be written: the mode says so, an edit applies,
    and the save dialog shows its diff with Save disabled."""
    editing = window.editing
    assert editing.isEnabled() and not editing.controller.isWritable()
    assert window.modeLabel.text() == "preview only"  # not "writable"
    qtbot.waitUntil(lambda: editing.editor.node() is not None, timeout=WAIT)
    assert editing.controller.edit(lambda s: s.set("/", "/title", "changed"))
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    assert not editing.saveDialog.saveButton.isEnabled()
    assert '"title": "changed"' in editing.saveDialog.diffView.toPlainText()


def test_a_confirmed_remote_store_that_cannot_be_written_previews_but_never_saves(
        qtbot: Any, make_window: Any, http_server: Any, zarr_stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    zarr_stores.sample(str(Path(http_server.root) / "s.zarr"), 3)
    before = (Path(http_server.root) / "s.zarr" / "zarr.json").read_bytes()
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(http_server.url_for("s.zarr"))
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kw: Button.Yes)
    with qtbot.waitSignal(window.editing.controller.activeChanged, timeout=WAIT):
        window.editing.enableAction.trigger()
    editing = window.editing
    edit_and_find_nothing_can_be_saved(qtbot, window)
    assert "read-only" in editing.saveDialog.summaryLabel.text()
    assert (Path(http_server.root) / "s.zarr" / "zarr.json").read_bytes() == before


def test_save_dialog_lists_the_warnings_the_edits_introduced(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Warnings were only counted ("1 warning(s).") and reached the disk unread."""
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/", "/ome/multiscales/0/axes/1/unit", "furlong"))
    editing.saveDialog = None
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    text = editing.saveDialog.issuesLabel.text()
    assert "1 new warning from the edits" in text and "furlong" in text
    assert editing.saveDialog.saveButton.isEnabled()  # a warning does not block the save
    editing.saveDialog.reject()


def test_a_zip_store_previews_edits_and_is_never_opened_for_writing(qtbot: Any, make_window: Any,
                                                                    tmp_path: Path) -> None:
    """A zip cannot be rewritten in place: enabling editing said "writable" and reopened the
    archive in append mode."""
    archive = zipped(plain_store(tmp_path / "s.zarr"), tmp_path / "s.zip")
    before = archive.read_bytes()
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(archive))
    with qtbot.waitSignal(window.editing.controller.activeChanged, timeout=WAIT):
        window.editing.enableAction.trigger()
    editing = window.editing
    assert window.hierarchy().access.read_only
    edit_and_find_nothing_can_be_saved(qtbot, window)
    editing.saveDialog.reject()
    editing.controller.stop()
    window.close()
    assert archive.read_bytes() == before


def test_a_node_inside_a_zip_previews_edits_and_says_the_archive_cannot_be_written(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """`zarr-browser --writable /data/a.zip/sub` opened the archive's members writable: editing
    said "writable" and the save failed in zipfile (audit E, 6).  It previews, naming the archive
    as what cannot be written; *Enable editing* on a node shown inside the archive does the same."""
    folder = plain_store(tmp_path / "s.zarr")
    zarr.open_group(folder, mode="r+").create_group("sub", attributes={"x": 1})
    archive = zipped(folder, tmp_path / "s.zip")
    before = archive.read_bytes()
    window = make_window()
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    with qtbot.waitSignal(window.editing.controller.activeChanged, timeout=WAIT):
        window.openStore(str(archive / "sub"), writable=True)
    assert window.hierarchy().access.read_only
    assert any("cannot be written (inside the zip file" in m or "cannot be written (a zip file" in m
               for m in messages), messages
    edit_and_find_nothing_can_be_saved(qtbot, window)
    assert "zip file" in window.editing.saveDialog.summaryLabel.text()
    window.editing.saveDialog.reject()
    window.editing.controller.stop()

    other = make_window()  # read-only at the node, then Edit ▸ Enable editing
    with qtbot.waitSignal(other.storeOpened, timeout=WAIT):
        other.openStore(str(archive / "sub"))
    with qtbot.waitSignal(other.editing.controller.activeChanged, timeout=WAIT):
        other.editing.enableAction.trigger()
    assert other.hierarchy().access.read_only and not other.editing.controller.isWritable()
    assert other.modeLabel.text() == "preview only"
    other.editing.controller.stop()
    assert archive.read_bytes() == before


@pytest.mark.network
def test_two_writers_on_s3_through_the_window(qtbot: Any, make_window: Any, s3_server: Any, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    local = plain_store(tmp_path / "s.zarr")
    bucket = s3_server.new_bucket()
    s3_server.upload_tree(local, bucket, "data.zarr")
    client = s3_server.client()

    def on_s3() -> dict[str, Any]:
        return json.loads(client.get_object(Bucket=bucket, Key="data.zarr/zarr.json")["Body"].read())["attributes"]

    window = make_window()
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kw: Button.Yes)  # "write to a remote store?"
    with qtbot.waitSignal(window.editing.controller.activeChanged, timeout=WAIT):
        window.openStore(f"s3://{bucket}/data.zarr", s3_server.storage_options, writable=True)
    editing = window.editing
    assert editing.controller.isWritable()
    assert editing.controller.edit(lambda s: s.set("/", "/mine", 1))
    document = json.loads(client.get_object(Bucket=bucket, Key="data.zarr/zarr.json")["Body"].read())
    document["attributes"]["theirs"] = 2  # the second writer, after we read
    client.put_object(Bucket=bucket, Key="data.zarr/zarr.json", Body=json.dumps(document).encode())
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: Button.Yes)  # reload, re-apply
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    with qtbot.waitSignal(editing.controller.reloaded, timeout=WAIT):
        editing.saveDialog.saveButton.click()
    assert on_s3() == {"title": "t", "flag": True, "theirs": 2}
    save_through_dialog(qtbot, window)
    assert on_s3() == {"title": "t", "flag": True, "theirs": 2, "mine": 1}


# -- the raw editor through its real widgets --------------------------------------------------------


def click_index(qtbot: Any, view: Any, index: Any, *, double: bool = False) -> None:
    view.scrollTo(index)
    pos = view.visualRect(index).center()
    if double:
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    else:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def open_editor(qtbot: Any, view: Any, index: Any) -> Any:
    """Double-click the cell (the view's edit trigger) and return the delegate's editor widget."""
    click_index(qtbot, view, index)
    click_index(qtbot, view, index, double=True)
    qtbot.waitUntil(lambda: view.indexWidget(index) is not None, timeout=WAIT)
    return view.indexWidget(index)


def test_type_combobox_and_value_editor_through_the_delegate(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = plain_store(tmp_path / "s.zarr")
    before = (store / "zarr.json").read_bytes()
    window = make_window()
    open_for_editing(qtbot, window, store)
    attributes = window.editing.editor.attributes
    view, model = attributes.view, attributes.model
    combo = open_editor(qtbot, view, model.indexForPointer("/flag", JsonEditModel.TYPE_COLUMN))
    assert isinstance(combo, QComboBox) and combo.currentText() == "bool"
    combo.setCurrentIndex(combo.findText("number"))
    qtbot.keyClick(combo, Qt.Key.Key_Return)  # the delegate commits on Return
    wait_history(qtbot, window, 1)
    assert model.document()["flag"] == 1
    line = open_editor(qtbot, view, model.indexForPointer("/flag", JsonEditModel.VALUE_COLUMN))
    assert isinstance(line, QLineEdit) and line.text() == "1"
    line.selectAll()
    qtbot.keyClicks(line, "2.5")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    wait_history(qtbot, window, 2)
    combo = open_editor(qtbot, view, model.indexForPointer("/title", JsonEditModel.TYPE_COLUMN))
    qtbot.keyClicks(combo, "list")  # keyboard search in the closed combo box
    assert combo.currentText() == "list"
    qtbot.keyClick(combo, Qt.Key.Key_Enter)
    wait_history(qtbot, window, 3)
    assert window.editing.controller.history() == ["set /:/flag", "set /:/flag", "set /:/title"]
    save_through_dialog(qtbot, window)
    assert attrs_on_disk(store) == {"title": ["t"], "flag": 2.5}
    for _ in range(3):
        window.editing.undo()
    save_through_dialog(qtbot, window)
    assert (store / "zarr.json").read_bytes() == before, "undone and saved: the document byte for byte"


def test_paste_json_dialog_through_its_widgets(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    attributes = window.editing.editor.attributes
    click_index(qtbot, attributes.view, attributes.model.indexForPointer("/units", JsonEditModel.VALUE_COLUMN))
    assert attributes.selectedPointer() == "/units"
    qtbot.mouseClick(attributes.toolbar.widgetForAction(attributes.pasteAction), Qt.MouseButton.LeftButton)
    dialog = attributes.pasteDialog
    qtbot.waitUntil(lambda: dialog is not None and dialog.isVisible(), timeout=WAIT)
    assert dialog.textEdit.toPlainText() == '"m"'  # the selected value, as JSON
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    dialog.textEdit.selectAll()
    qtbot.keyClicks(dialog.textEdit, '{"value": "m", ')  # not JSON yet: refused, the dialog stays
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.errorLabel.isVisible() and "not JSON" in dialog.errorLabel.text()
    assert window.editing.controller.history() == []
    qtbot.keyClicks(dialog.textEdit, '"scale": [1, 2.5, NaN]}')
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)  # a bare NaN is no JSON: refused, as the CLI refuses it
    assert dialog.isVisible() and 'write the string "NaN"' in dialog.errorLabel.text()
    dialog.textEdit.selectAll()
    qtbot.keyClicks(dialog.textEdit, '{"value": "m", "scale": [1, 2.5, "NaN"]}')
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT)
    wait_history(qtbot, window, 1)
    assert attributes.model.document()["units"] == {"value": "m", "scale": [1, 2.5, "NaN"]}
    save_through_dialog(qtbot, window)
    text = (store / "a" / "zarr.json").read_text()
    assert '"scale": [\n        1,\n        2.5,\n        "NaN"\n      ]' in text
    attributes.selectPointer("/units/value")  # Cancel: nothing applied
    attributes.pasteAction.trigger()
    dialog = attributes.pasteDialog
    qtbot.waitUntil(dialog.isVisible, timeout=WAIT)
    qtbot.keyClicks(dialog.textEdit, "42")
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and len(window.editing.controller.history()) == 1


# -- the validation list, the conflict dialog's Cancel --------------------------------------------------


def test_clicking_a_validation_row_goes_to_its_node_and_member(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/1")
    editing = window.editing
    editor = editing.editor
    assert editing.controller.edit(lambda s: s.set("/", "/ome/omero/channels/0/color", "red"))
    qtbot.waitUntil(lambda: bool(editing.controller.validation.new_errors), timeout=WAIT)
    rows = editor.validationList
    item = next(rows.topLevelItem(i) for i in range(rows.topLevelItemCount())
                if "channel color" in rows.topLevelItem(i).text(2))
    assert item.text(1) == "/" and window.currentPath() == "/1"
    rows.scrollToItem(item)
    qtbot.mouseClick(rows.viewport(), Qt.MouseButton.LeftButton, pos=rows.visualItemRect(item).center())
    qtbot.waitUntil(lambda: window.currentPath() == "/", timeout=WAIT)  # selected in the tree
    qtbot.waitUntil(lambda: editor.node() is not None and editor.node().path == "/"
                    and editor.attributes.selectedPointer() == "/ome/omero/channels/0/color", timeout=WAIT)
    assert editor.tabs.currentWidget() is editor.attributes
    selected = editor.attributes.view.currentIndex().siblingAtColumn(JsonEditModel.VALUE_COLUMN)
    assert selected.data(Qt.ItemDataRole.EditRole) == "red"


def test_conflict_dialog_cancel_writes_nothing_and_keeps_the_edits(qtbot: Any, make_window: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    asked = save_into_a_conflict(qtbot, window, store, monkeypatch, Button.Cancel)
    editing = window.editing
    assert len(asked) == 1 and "keep editing (Cancel)" in asked[0]
    theirs = zarr.open_group(store, mode="r").attrs.asdict()
    assert theirs == {"title": "t", "flag": True, "theirs": 2}, "nothing written over the other writer's change"
    theirs_bytes = (store / "zarr.json").read_bytes()
    assert not [p for p in store.rglob("*") if p.name.startswith(".zarr-browser")], "no temporary file left"
    assert editing.controller.isDirty() and window.windowTitle().endswith(" *")
    assert editing.controller.history() == ["set /:/mine"]
    assert editing.editor.attributes.model.document() == {"title": "t", "flag": True, "mine": 1}
    assert "changed in the store since it was read" in window.errorText()
    assert editing.saveAction.isEnabled() and not editing.controller.isBusy()
    with qtbot.waitSignal(editing.controller.saveFailed, timeout=WAIT):  # saving again: refused again
        editing.controller.save()
    assert (store / "zarr.json").read_bytes() == theirs_bytes


def test_a_save_stopped_half_way_says_partly_saved_and_saving_again_finishes_it(
        qtbot: Any, make_window: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit E: the question said "Not saved ... nothing of it was overwritten" though a document
    had been written, and the consolidated copy it had not reached stayed stale: Save said
    "Nothing to save" with the title still marked."""
    from edit_stores import race_before_write

    store = plain_store(tmp_path / "s.zarr")
    zarr.consolidate_metadata(store)
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    editing = window.editing
    assert editing.controller.edit(lambda s: s.set("/a", "/units", "km"))
    # another writer changes the root (and consolidated copy) before it is written: the user's own root edit
    race_before_write(monkeypatch, "zarr.json", lambda: zarr.open_group(
        store, mode="r+", use_consolidated=False).attrs.update({"theirs": 2}))
    assert editing.controller.edit(lambda s: s.set("/", "/title", "mine"))
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or Button.Cancel)
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    with qtbot.waitSignal(editing.controller.saveFailed, timeout=WAIT):
        editing.saveDialog.saveButton.click()
    assert asked and asked[0].startswith("Partly saved: zarr.json changed in the store since it was read")
    assert "a/zarr.json had been saved before it stopped, and stays saved" in asked[0]
    assert attrs_on_disk(store, "a") == {"units": "km"}
    assert "Partly saved" in window.errorText()
    assert editing.controller.isDirty() and window.windowTitle().endswith(" *")


# -- label properties ------------------------------------------------------------------------------


def test_label_properties_form(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = tmp_path / "l.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=2)
    group.attrs["image-label"] = {"version": "0.4", "colors": [{"label-value": 1, "rgba": [1, 2, 3, 200]}],
                                  "properties": [{"label-value": 1, "class": "a"},
                                                 {"label-value": 2, "class": "b", "area": 10}]}
    window = make_window()
    open_for_editing(qtbot, window, store)
    editor = window.editing.editor
    form = editor.labelPropertiesForm
    editor.showTab("ome")
    assert form.isVisible() and editor.labelsForm.isVisible()
    assert form.cells() == [["label-value", "class", "area"], ["1", '"a"', ""], ["2", '"b"', "10"]]
    form.nameEdit.setText("ok")
    qtbot.mouseClick(form.addPropertyButton, Qt.MouseButton.LeftButton)
    assert form.keys() == ["class", "area", "ok"]
    table = form.table
    cell = table.model().index(0, 3)
    line = open_editor(qtbot, table, cell)  # typed through the table's own editor
    qtbot.keyClicks(line, "true")
    qtbot.keyClick(line, Qt.Key.Key_Return)  # the delegate commits on the next turn of the event loop
    qtbot.waitUntil(lambda: table.item(0, 3).text() == "true", timeout=WAIT)
    qtbot.mouseClick(form.addLabelButton, Qt.MouseButton.LeftButton)
    assert form.cells()[-1] == ["3", "", "", ""]
    form.setCell(2, "class", '"c"')
    form.setCell(2, "area", "200")
    table.setCurrentCell(1, 0)
    qtbot.mouseClick(form.removeLabelButton, Qt.MouseButton.LeftButton)  # label 2 goes
    form.setCell(0, "class", "bare words")  # not JSON: refused with a message
    qtbot.mouseClick(form.applyButton, Qt.MouseButton.LeftButton)
    assert form.errorLabel.isVisible() and "label 1, class" in form.errorLabel.text()
    assert window.editing.controller.history() == []
    form.setCell(0, "class", '"a"')
    qtbot.mouseClick(form.applyButton, Qt.MouseButton.LeftButton)
    wait_history(qtbot, window, 1)
    assert not form.errorLabel.isVisible()
    save_through_dialog(qtbot, window)
    saved_bytes = (store / ".zattrs").read_bytes()
    block = json.loads(saved_bytes)["image-label"]
    assert block["properties"] == [{"label-value": 1, "class": "a", "ok": True},
                                   {"label-value": 3, "class": "c", "area": 200}]
    assert block["colors"] == [{"label-value": 1, "rgba": [1, 2, 3, 200]}] and block["version"] == "0.4"
    assert form.cells() == [["label-value", "class", "ok", "area"], ["1", '"a"', "true", ""],
                            ["3", '"c"', "", "200"]], "rebuilt from the saved state"
    table.setCurrentCell(0, 2)
    qtbot.mouseClick(form.removePropertyButton, Qt.MouseButton.LeftButton)  # "ok" goes from every label
    qtbot.mouseClick(form.applyButton, Qt.MouseButton.LeftButton)
    wait_history(qtbot, window, 2)
    session = window.editing.controller.session()
    assert session.attributes("/")["image-label"]["properties"] == [{"label-value": 1, "class": "a"},
                                                                    {"label-value": 3, "class": "c", "area": 200}]
    window.editing.undo()
    assert form.keys() == ["class", "ok", "area"], "undo shows the previous properties"
    assert not window.editing.controller.isDirty() and session.plan() == []
    assert (store / ".zattrs").read_bytes() == saved_bytes


# -- forms keep what was typed ------------------------------------------------------------------------


def test_forms_keep_unapplied_typing_when_other_edits_land(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    controller = window.editing.controller
    editor = window.editing.editor
    channels, axes = editor.channelsForm, editor.axesForm
    label_edit = channels.rows[0]["label"]
    qtbot.keyClicks(label_edit, " typed")
    axes.rows[1]["unit"].setCurrentText("nanometer")
    assert channels.sync.isModified() and axes.sync.isModified()
    assert controller.edit(lambda s: s.set("/", "/title", "x"))  # the same document, another member
    assert not controller.edit(lambda s: s.set("/0", "/note", 1))  # another node (loaded in a worker first)
    wait_history(qtbot, window, 2)
    assert channels.rows[0]["label"] is label_edit and label_edit.text() == "a typed", "the typing is kept"
    assert axes.rows[1]["unit"].currentText() == "nanometer"
    assert not channels.sync.isStale() and channels.sync.banner.isHidden()
    # the channels themselves change under the typing: kept, and marked stale
    assert controller.edit(lambda s: s.set("/", "/ome/omero/channels/1/label", "B"))
    assert channels.sync.isStale() and not channels.sync.banner.isHidden()
    assert label_edit.text() == "a typed" and channels.rows[1]["label"].text() == "b"
    assert not axes.sync.isStale(), "the axes did not change"
    controller.undo()  # back to what the fields were built from: not stale any more
    assert not channels.sync.isStale() and label_edit.text() == "a typed"
    controller.redo()
    assert channels.sync.isStale()
    qtbot.mouseClick(channels.sync.discardButton, Qt.MouseButton.LeftButton)  # show the new state
    assert [r["label"].text() for r in channels.rows] == ["a", "B"] and channels.sync.banner.isHidden()
    qtbot.keyClicks(channels.rows[0]["label"], "2")
    channels.applyButton.click()  # applying rebuilds from what the apply wrote
    wait_history(qtbot, window, 4)
    assert [r["label"].text() for r in channels.rows] == ["a2", "B"] and not channels.sync.isModified()
    controller.undo()  # an unmodified form follows the state
    assert [r["label"].text() for r in channels.rows] == ["a", "B"]
    histogram = channels.rows[0]["histogram"]
    axes.applyAxesButton.click()  # the axes form's typing survived all of it
    wait_history(qtbot, window, 4)
    assert channels.rows[0]["histogram"] is histogram, "a unit change does not rebuild the channels (histograms)"
    save_through_dialog(qtbot, window)
    ome = attrs_on_disk(store)["ome"]
    assert ome["multiscales"][0]["axes"][1] == {"name": "y", "type": "space", "unit": "nanometer"}
    assert [c["label"] for c in ome["omero"]["channels"]] == ["a", "B"]
    assert attrs_on_disk(store, "0")["note"] == 1


def test_leaving_a_node_with_typing_not_applied_asks_first(qtbot: Any, make_window: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editing, editor = window.editing, window.editing.editor
    channels = editor.channelsForm
    qtbot.keyClicks(channels.rows[0]["label"], " typed")
    assert editor.unapplied() == [channels.title()]
    asked: list[str] = []
    answers = [Button.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or answers.pop(0))
    assert window.selectPath("/0")  # Cancel: back on the node, the typing kept
    assert asked and "without applying them" in asked[0] and channels.title() in asked[0]
    assert window.currentPath() == "/" and editor.path() == "/"
    assert channels.rows[0]["label"].text() == "a typed" and channels.sync.isModified()
    answers.append(Button.Cancel)
    assert not window.close() and window.isVisible(), "closing asks too"
    assert len(asked) == 2 and not answers
    answers.append(Button.Discard)  # Discard: the other node is shown; the typing is gone
    assert window.selectPath("/0")
    qtbot.waitUntil(lambda: editor.node() is not None and editor.node().path == "/0", timeout=WAIT)
    assert window.selectPath("/") and not answers
    qtbot.waitUntil(lambda: editor.node() is not None and editor.node().path == "/", timeout=WAIT)
    assert channels.rows[0]["label"].text() == "a" and not channels.sync.isModified() and editor.unapplied() == []
    assert not editing.controller.isDirty()
    assert window.close()


def test_leaving_typing_in_dimension_names_asks_too(qtbot: Any, make_window: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    names = window.editing.editor.attributes.dimensionNames
    names.edits[0].setText("row")
    assert window.editing.editor.unapplied() == [names.title()]
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: asked.append(args[2]) or Button.Cancel)
    assert window.selectPath("/")
    assert asked and names.title() in asked[0] and window.currentPath() == "/a" and names.edits[0].text() == "row"


# -- no store I/O on the GUI thread ---------------------------------------------------------------------


def test_the_editor_never_reads_or_writes_the_store_on_the_gui_thread(qtbot: Any, make_window: Any, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import zarr_browser.core.store as store_module
    from zarr_browser.core.editing import save as save_module

    store = plain_store(tmp_path / "s.zarr")
    zarr.open_group(store, mode="r+").create_array("b", shape=(3,), dtype="i2", attributes={"units": "s"})
    calls: list[str] = []
    on_gui: list[str] = []

    def recording(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            if threading.current_thread() is threading.main_thread():
                on_gui.append(name + "\n" + "".join(traceback.format_stack(limit=12)))
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(store_module, "sync", recording("zarr sync", store_module.sync))  # every async store call
    for cls, names in ((save_module.LocalBackend, ("read", "write", "cleanup")),
                       (store_module._LocalReader, ("read", "read_many", "list_dir"))):
        for name in names:
            monkeypatch.setattr(cls, name, recording(f"{cls.__name__}.{name}", getattr(cls, name)))

    window = make_window()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    controller = editing.controller
    attributes = editing.editor.attributes
    assert attributes.model.setData(attributes.model.indexForPointer("/title", JsonEditModel.VALUE_COLUMN), "new")
    session = controller.session()
    assert not session.is_loaded("/b")
    done: list[bool] = []
    assert not controller.edit(lambda s: s.set("/b", "/units", "ms"), on_done=done.append)  # loads /b first
    assert controller.isWaiting()
    assert not controller.edit(lambda s: s.set("/", "/after", 1), on_done=done.append)  # waits behind it, in order
    qtbot.waitUntil(lambda: done == [True, True], timeout=WAIT)
    assert controller.history() == ["set /:/title", "set /b:/units", "set /:/after"]
    assert not controller.edit(lambda s: s.set("/nowhere", "/x", 1), on_done=done.append)  # no such node
    qtbot.waitUntil(lambda: len(done) == 3, timeout=WAIT)
    assert done[2] is False and "/nowhere" in window.errorText()
    reached: list[bool] = []
    window.revealPath("/a", reached.append)
    qtbot.waitUntil(lambda: editing.editor.node() is not None and editing.editor.node().path == "/a", timeout=WAIT)
    attributes.dimensionNames.edits[0].setText("row")
    attributes.dimensionNames.applyButton.click()
    editing.editor.cfForm.fields["long_name"].setText("A")
    editing.editor.cfForm.applyButton.click()
    wait_history(qtbot, window, 5)
    editing.undo()
    editing.redo()
    open_preview(qtbot, window).reject()
    save_through_dialog(qtbot, window)
    assert attrs_on_disk(store, "b")["units"] == "ms" and attrs_on_disk(store)["after"] == 1
    zarr.open_group(store, mode="r+").attrs["theirs"] = 2
    assert controller.edit(lambda s: s.set("/", "/mine", 1))
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kw: Button.Yes)  # conflict: reload, re-apply
    editing.saveAction.trigger()
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    with qtbot.waitSignal(controller.reloaded, timeout=WAIT):
        editing.saveDialog.saveButton.click()
    save_through_dialog(qtbot, window)
    assert attrs_on_disk(store)["mine"] == 1 and attrs_on_disk(store)["theirs"] == 2
    assert {"LocalBackend.read", "LocalBackend.write"} <= set(calls), "the recording saw the store work"
    assert on_gui == [], "store I/O on the GUI thread:\n" + "\n".join(on_gui[:3])


# -- after a save, the views show the store; unsaved steps count from the save; forms fit ---------


def inspected_attributes(window: BrowserWindow) -> dict[str, Any]:
    node = window.inspector.node()
    return dict(node.attributes) if node is not None else {}


def test_after_a_save_leaving_and_coming_back_shows_what_is_on_disk(qtbot: Any, make_window: Any, tmp_path: Path,
                                                                    thread_runner: Any) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store, "/a")
    assert window.editing.controller.edit(lambda s: s.set("/a", "/note", "saved"))
    save_through_dialog(qtbot, window)
    assert attrs_on_disk(store, "a")["note"] == "saved"
    qtbot.waitUntil(lambda: inspected_attributes(window).get("note") == "saved", timeout=WAIT)
    qtbot.waitUntil(lambda: thread_runner.pending() == 0, timeout=WAIT)
    assert window.selectPath("/")
    assert window.selectPath("/a")  # the row's node is what the inspector gets on reselection
    assert inspected_attributes(window).get("note") == "saved"
    assert '"note": "saved"' in window.inspector.raw.currentText()
    assert window.inspector.tabTitle("attributes") == "Attributes (2)"
    assert window.tree.isExpanded(window.proxy.index(0, 0)), "the save collapsed nothing"

    # F5 reads the selected node again: a change by another writer shows at once
    zarr.open_array(store / "a", mode="r+").attrs["outside"] = 1
    window.refreshAction.trigger()
    qtbot.waitUntil(lambda: inspected_attributes(window).get("outside") == 1, timeout=WAIT)
    assert '"outside": 1' in window.inspector.raw.currentText()
    assert window.currentPath() == "/a"


def test_saving_the_root_keeps_the_tree_and_shows_the_new_root(qtbot: Any, make_window: Any, tmp_path: Path,
                                                              thread_runner: Any) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    assert window.editing.controller.edit(lambda s: s.set("/", "/title", "new title"))
    save_through_dialog(qtbot, window)
    qtbot.waitUntil(lambda: inspected_attributes(window).get("title") == "new title", timeout=WAIT)
    qtbot.waitUntil(lambda: thread_runner.pending() == 0, timeout=WAIT)
    assert window.selectPath("/a") and window.selectPath("/")
    assert inspected_attributes(window).get("title") == "new title"
    assert window.model.indexForPath("/a").isValid(), "the root's rows stay (no re-listing)"


def test_unsaved_steps_count_from_the_last_save(qtbot: Any, make_window: Any, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editing = window.editing
    controller = editing.controller
    assert controller.edit(lambda s: s.set("/", "/title", "one"))
    save_through_dialog(qtbot, window)
    assert editing.dirtyLabel.text() == "editing · all saved"
    assert controller.edit(lambda s: s.set("/", "/added", 1))
    assert editing.dirtyLabel.text() == "● unsaved edits (1 step)"
    asked: list[str] = []

    def question(_parent: Any, _title: str, text: str, *args: Any) -> Any:
        asked.append(text)
        return Button.Cancel

    monkeypatch.setattr(QMessageBox, "question", question)
    assert not window.close()
    assert "(1 step)" in asked[0]
    # undo reaches across the save: undoing the saved step is one more unsaved step
    assert controller.undo() and controller.undo()
    assert controller.unsavedSteps() == 1 and editing.dirtyLabel.text() == "● unsaved edits (1 step)"
    assert controller.redo()
    assert controller.unsavedSteps() == 0 and editing.dirtyLabel.text() == "editing · all saved"
    # a new edit below the saved state: the undone saved step and the new one
    assert controller.undo()
    assert controller.edit(lambda s: s.set("/", "/title", "other"))
    assert controller.unsavedSteps() == 2 and not controller.canRedo()
    assert len(controller.history()) == 1


@pytest.mark.parametrize("size", [(1400, 850), (1000, 650)])
def test_the_ome_forms_fit_the_editor_dock_at_default_sizes(qtbot: Any, make_window: Any, tmp_path: Path,
                                                            size: tuple[int, int]) -> None:
    store = ome_image(tmp_path / "img.zarr")
    window = make_window()
    window.resize(*size)
    open_for_editing(qtbot, window, store)
    editor = window.editing.editor
    editor.showTab("ome")
    qtbot.waitUntil(lambda: bool(editor.channelsForm.rows) and bool(editor.axesForm.rows), timeout=WAIT)
    page = editor.tabs.currentWidget()
    qtbot.waitUntil(lambda: page.widget().width() <= page.viewport().width(), timeout=WAIT)
    scroll_bar = page.horizontalScrollBar()
    assert scroll_bar.maximum() == 0, "nothing of the forms is reached by scrolling sideways"
    for row in editor.channelsForm.rows:
        assert row["label"].width() >= 100, "a channel label can be read"
        assert row["histogram"].isVisibleTo(window) and row["histogram"].width() >= 160
    for button in (editor.axesForm.pixelSizeButton, editor.axesForm.translationButton):
        assert button.width() >= button.sizeHint().width(), f"{button.text()} is cut"
    assert window.tree.width() >= 250, "the tree keeps its Name and Kind columns"


def test_the_editor_validation_list_names_its_columns_as_the_inspector_does(qtbot: Any) -> None:
    from zarr_browser.qt.editor.panel import ValidationList

    issues = ValidationList()
    qtbot.addWidget(issues)
    header = issues.headerItem()
    assert [header.text(c) for c in range(3)] == ["Severity", "Node", "Issue"]


def test_f2_on_a_read_only_value_refuses_at_once(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """F2 on the OME-NGFF version opened an editor and let the user type; only Return then refused
    the edit (audit C, 13).  The refusal now comes at once, with the same message."""
    from qtpy.QtWidgets import QLineEdit

    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    attributes = window.editing.editor.attributes
    refused: list[str] = []
    window.editing.controller.editFailed.connect(refused.append)
    version = attributes.model.indexForPointer("/ome/version", JsonEditModel.VALUE_COLUMN)
    assert not attributes.model.setData(version, "0.4")  # what Return did with the value typed
    view = attributes.view
    view.setFocus()
    attributes.selectPointer("/ome/version")
    view.setCurrentIndex(version)
    qtbot.keyClick(view, Qt.Key.Key_F2)
    assert not [e for e in view.viewport().findChildren(QLineEdit) if e.isVisible()], "no editor opens"
    assert len(refused) == 2 and refused[0] == refused[1] and "OME-NGFF version" in refused[1]
    assert window.errorText() == f"Edit refused: {refused[1]}"
    assert not attributes.deleteAction.isEnabled() and not attributes.pasteAction.isEnabled()
    view.setCurrentIndex(attributes.model.indexForPointer("/ome/multiscales/0/name", JsonEditModel.VALUE_COLUMN))
    qtbot.keyClick(view, Qt.Key.Key_F2)  # any other value is edited as before
    assert [e.text() for e in view.viewport().findChildren(QLineEdit) if e.isVisible()] == ["img"]
    assert len(refused) == 2 and attributes.model.document()["ome"]["version"] == "0.5"
    assert attributes.deleteAction.isEnabled() and attributes.pasteAction.isEnabled()


def test_the_attribute_tree_keeps_the_focus_after_an_edit_and_a_save(qtbot: Any, make_window: Any,
                                                                     tmp_path: Path) -> None:
    """Return in a cell editor re-rendered the tree, which closed the editor with the focus in it:
    the focus went on to the validation list, and a save came back there (audit C, 13)."""
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    window.activateWindow()  # under Xvfb the window is not active by itself
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    attributes = window.editing.editor.attributes
    view = attributes.view
    view.setFocus()
    view.setCurrentIndex(attributes.model.indexForPointer("/title", JsonEditModel.VALUE_COLUMN))
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "edited")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: attributes.model.document()["title"] == "edited", timeout=WAIT)
    assert QApplication.focusWidget() is view
    save_through_dialog(qtbot, window)
    qtbot.waitUntil(lambda: not window.editing.saveDialog.isVisible(), timeout=WAIT)
    assert window.focusWidget() is view, "the focus the window gets back when the dialog is gone"
    assert attributes.selectedPointer() == "/title"


def test_a_value_can_be_edited_from_the_keyboard(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Right never left the Key cell (whole-row selection) and F2 always renamed the key: typing a
    new value and Enter renamed the attribute."""
    store = plain_store(tmp_path / "s.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    attributes = window.editing.editor.attributes
    view = attributes.view
    view.setFocus()
    view.setCurrentIndex(attributes.model.indexForPointer("/title", 0))
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.currentIndex().column() == JsonEditModel.VALUE_COLUMN
    qtbot.keyClick(view, Qt.Key.Key_Right)  # the last cell: stays
    assert view.currentIndex().column() == JsonEditModel.VALUE_COLUMN
    qtbot.keyClick(view, Qt.Key.Key_F2)
    from qtpy.QtWidgets import QLineEdit

    editors = [e for e in view.viewport().findChildren(QLineEdit) if e.isVisible()]
    assert len(editors) == 1 and editors[0].text() == "t"
    editor = editors[0]
    editor.selectAll()
    qtbot.keyClicks(editor, "renamed")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: attributes.model.document() == {"title": "renamed", "flag": True},  # not the key
                    timeout=WAIT)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.currentIndex().column() == 0


# -- the omero block: add it, match the channel axis, windows; pixel size alone --------------------


def ome_zarr_py_image(path: Path, data: np.ndarray, axes: str) -> Path:
    """An OME-NGFF 0.5 image as ome-zarr-py writes it unless asked for rendering settings: no omero."""
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image

    group = zarr.open_group(path, mode="w", zarr_format=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        write_image(data, group, axes=axes, fmt=FormatV05(), scale_factors=(2,))
    return path


def test_an_image_without_omero_is_offered_one_then_its_channels_edit(qtbot: Any, make_window: Any,
                                                                      tmp_path: Path) -> None:
    data = np.stack([np.full((16, 16), 10 * (c + 1), dtype="uint16") for c in range(2)])
    data[:, :8] += 500
    store = ome_zarr_py_image(tmp_path / "img.ome.zarr", data, "cyx")
    window = make_window()
    open_for_editing(qtbot, window, store)
    editor = window.editing.editor
    editor.showTab("ome")
    form = editor.channelsForm
    assert form.isVisibleTo(window) and form.addOmeroButton.isVisibleTo(window) and not form.rows
    assert not form.applyButton.isVisibleTo(window) and "no omero block" in form.noteLabel.text()
    qtbot.waitUntil(lambda: "2 channels" in form.addOmeroButton.toolTip(), timeout=WAIT)
    assert "uint16" in form.addOmeroButton.toolTip()
    assert form.addOmeroButton.focusPolicy() & Qt.FocusPolicy.TabFocus
    form.addOmeroButton.setFocus()
    qtbot.keyClick(form.addOmeroButton, Qt.Key.Key_Space)  # from the keyboard
    wait_history(qtbot, window, 1)
    assert window.editing.controller.history() == ["add an omero block with 2 channels to /"]
    assert '"omero": {' in window.editing.controller.diff()["zarr.json"]
    assert [r["label"].text() for r in form.rows] == ["Channel 0", "Channel 1"]
    assert [(r["start"].value(), r["end"].value(), r["min"].value(), r["max"].value()) for r in form.rows] == [
        (10, 510, 0, 65535), (20, 520, 0, 65535)]  # the data's range, the data type's range
    assert not form.addOmeroButton.isVisibleTo(window) and form.applyButton.isVisibleTo(window)
    assert form.noteLabel.isHidden()
    form.rows[0]["label"].setText("DAPI")
    form.rows[1]["max"].setValue(4095)
    chain = [form.rows[1][key] for key in ("label", "color", "active", "start", "end", "min", "max")]
    window.activateWindow()
    for widget, following in zip(chain, [*chain[1:], form.applyButton], strict=True):  # Tab reads the card
        widget.setFocus()
        qtbot.waitUntil(widget.hasFocus, timeout=WAIT)
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        qtbot.waitUntil(following.hasFocus, timeout=WAIT)
    form.applyButton.click()
    wait_history(qtbot, window, 2)
    save_through_dialog(qtbot, window)
    channels = attrs_on_disk(store)["ome"]["omero"]["channels"]
    assert channels[0]["label"] == "DAPI" and channels[0]["color"] == "FF00FF"
    assert channels[1]["window"] == {"min": 0, "max": 4095, "start": 20, "end": 520}
    controller = window.editing.controller
    qtbot.waitUntil(lambda: not controller.isDirty(), timeout=WAIT)
    window.editing.controller.undo()
    window.editing.controller.undo()  # back to no omero: the button again
    assert form.addOmeroButton.isVisibleTo(window) and not form.rows


def test_a_channel_count_that_does_not_match_the_axis_is_offered_the_fix(qtbot: Any, make_window: Any,
                                                                         tmp_path: Path) -> None:
    """napari-ome-zarr refuses an image whose omero lists another number of channels than the
    channel axis holds: the form says so and adds or removes channels, keeping the typing."""
    store = ome_image(tmp_path / "i.zarr")
    group = zarr.open_group(store, mode="r+")
    ome = group.attrs["ome"]
    ome["omero"]["channels"] = ome["omero"]["channels"][:1]
    group.attrs["ome"] = ome
    window = make_window()
    open_for_editing(qtbot, window, store)
    window.editing.editor.showTab("ome")
    form = window.editing.editor.channelsForm
    qtbot.waitUntil(lambda: form.matchButton.isVisibleTo(window), timeout=WAIT)
    assert form.matchButton.text() == "Add missing channels"
    assert "lists 1 channel but the channel axis holds 2" in form.noteLabel.text()
    assert "channel 1" in form.matchButton.toolTip()
    form.rows[0]["label"].setText("typed")  # not applied
    form.matchButton.click()
    wait_history(qtbot, window, 1)
    qtbot.waitUntil(lambda: not form.isReading(), timeout=WAIT)
    assert [r["label"].text() for r in form.rows] == ["typed", "Channel 1"] and form.sync.isModified()
    assert form.rows[1]["color"].colour() == "FF00FF", "a colour channel 0 does not have"
    assert (form.rows[1]["start"].value(), form.rows[1]["end"].value()) == (256, 511)  # the lowest level's channel 1
    assert not form.matchButton.isVisibleTo(window) and form.noteLabel.isHidden()
    session = window.editing.controller.session()
    assert [c["label"] for c in session.attributes("/")["ome"]["omero"]["channels"]] == ["a", "Channel 1"]
    # three channels for two
    assert window.editing.controller.edit(lambda s: s.set("/", "/ome/omero/channels/2", {"color": "FFFFFF"}))
    qtbot.waitUntil(lambda: form.matchButton.text() == "Remove extra channels", timeout=WAIT)
    form.matchButton.click()
    wait_history(qtbot, window, 3)
    assert len(session.attributes("/")["ome"]["omero"]["channels"]) == 2 and len(form.rows) == 2


def test_an_empty_channel_list_of_an_image_without_channel_axis_gets_its_one_channel(
        qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = ome_zarr_py_image(tmp_path / "img.ome.zarr", np.full((16, 16), 7, dtype="int8"), "yx")
    group = zarr.open_group(store, mode="r+")
    group.attrs["ome"] = {**group.attrs["ome"], "omero": {"channels": []}}
    window = make_window()
    open_for_editing(qtbot, window, store)
    window.editing.editor.showTab("ome")
    form = window.editing.editor.channelsForm
    qtbot.waitUntil(lambda: form.matchButton.isVisibleTo(window), timeout=WAIT)
    assert form.noteLabel.text() == ("omero lists 0 channels but the image has one (it has no channel axis): "
                                     "napari-ome-zarr refuses to open the image.")
    form.matchButton.click()
    wait_history(qtbot, window, 1)
    channel = window.editing.controller.session().attributes("/")["ome"]["omero"]["channels"][0]
    assert channel == {"label": "Channel 0", "color": "FFFFFF", "active": True,
                       "window": {"min": -128, "max": 127, "start": -128, "end": 127}}  # constant data


def test_a_window_set_in_the_form_on_a_channel_without_one_is_complete(qtbot: Any, make_window: Any,
                                                                       tmp_path: Path) -> None:
    """The form wrote {start, end} alone (the schemas require min and max): min/max show the data
    type's range and are written with them, so the edit brings no new error."""
    store = ome_image(tmp_path / "i.zarr")
    group = zarr.open_group(store, mode="r+")
    ome = group.attrs["ome"]
    del ome["omero"]["channels"][1]["window"]
    group.attrs["ome"] = ome
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.channelsForm
    qtbot.waitUntil(lambda: form.rows[1]["max"].value() == 65535, timeout=WAIT)
    assert not form.sync.isModified(), "filling in the data type's range is not typing"
    form.rows[1]["end"].setValue(500)
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    states: list[Any] = []
    window.editing.controller.validateNow(states.append)
    qtbot.waitUntil(lambda: bool(states), timeout=WAIT)
    assert states[0].new_errors == []
    assert window.editing.controller.session().attributes("/")["ome"]["omero"]["channels"][1]["window"] == {
        "start": 0.0, "end": 500.0, "min": 0, "max": 65535}


def test_set_pixel_size_writes_only_pixel_sizes_and_units(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """A name and type typed in the axes table were applied by 'Set pixel size and unit' too (one
    step renaming the axis and rewriting dimension_names): they stay typed, not applied."""
    store = ome_image(tmp_path / "i.zarr")
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.axesForm
    form.rows[1]["name"].setText("depth")
    form.rows[1]["type"].setCurrentText("time")
    form.rows[2]["unit"].setCurrentText("nanometer")
    form.rows[2]["size"].setValue(0.25)
    form.rows[1]["translation"].setValue(3.0)
    form.pixelSizeButton.click()
    wait_history(qtbot, window, 1)
    controller = window.editing.controller
    assert controller.history() == ["set pixel size of x in / + set units of /"]
    session = controller.session()
    axes = session.attributes("/")["ome"]["multiscales"][0]["axes"]
    assert axes == [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space", "unit": "nanometer"}]
    assert sorted(controller.diff()) == ["zarr.json"], "no level's dimension_names"
    form = window.editing.editor.axesForm
    assert (form.rows[1]["name"].text(), form.rows[1]["type"].currentText()) == ("depth", "time")
    assert form.rows[1]["translation"].value() == 3.0 and form.rows[2]["size"].value() == 0.25
    assert form.sync.isModified() and window.editing.editor.unapplied()
    form.translationButton.click()
    wait_history(qtbot, window, 2)
    assert window.editing.editor.axesForm.rows[1]["name"].text() == "depth"
    window.editing.editor.axesForm.applyAxesButton.click()
    wait_history(qtbot, window, 3)
    assert session.attributes("/")["ome"]["multiscales"][0]["axes"][1]["name"] == "depth"
    assert not window.editing.editor.axesForm.sync.isModified()
def xarray_dataset_store(path: Path, zarr_format: int) -> Path:
    """temp(time, x), lat(x) and the index coordinates time, x, written by xarray."""
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset({"temp": (("time", "x"), np.arange(12.0).reshape(4, 3), {"units": "K"})},
                    coords={"time": np.arange(4), "x": [10.0, 20.0, 30.0],
                            "lat": (("x",), [1.0, 2.0, 3.0])})
    ds.to_zarr(path, zarr_format=zarr_format, consolidated=True)
    return path


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_rename_dimension_form_renames_every_array_in_one_step(qtbot: Any, make_window: Any, tmp_path: Path,
                                                                zarr_format: int) -> None:
    xr = pytest.importorskip("xarray")
    store = xarray_dataset_store(tmp_path / "d.zarr", zarr_format)
    window = make_window()
    open_for_editing(qtbot, window, store)
    editor = window.editing.editor
    assert editor.isTabVisible("xarray") and editor.xarrayForm.isHidden()
    editor.showTab("xarray")
    form = editor.renameForm
    qtbot.waitUntil(lambda: form.dimensionCombo.count() == 2, timeout=WAIT)
    assert {form.dimensionCombo.itemData(i) for i in range(2)} == {"time", "x"}
    form.dimensionCombo.setCurrentIndex(form.dimensionCombo.findData("x"))
    assert "index coordinate" in form.noteLabel.text() and not form.renameButton.isEnabled()
    form.newNameEdit.setFocus()
    qtbot.keyClicks(form.newNameEdit, "lon")
    # said before applying: what changes, and that the coordinate x becomes a data variable
    qtbot.waitUntil(lambda: form.renameButton.isEnabled(), timeout=WAIT)
    note = form.noteLabel.text()
    assert "in 3 arrays: /lat, /temp, /x" in note
    assert "shows it as a data variable" in note
    window.grab().save(str(tmp_path / f"dims_rename_form_v{zarr_format}.png"))
    qtbot.keyClick(form.newNameEdit, Qt.Key.Key_Return)
    wait_history(qtbot, window, 1)
    assert window.editing.controller.history() == ["rename dimension 'x' → 'lon' in /"]
    qtbot.waitUntil(lambda: any("was the index coordinate" in i.message
                                for i in window.editing.controller.validation.warnings), timeout=WAIT)
    # the combo follows the rename
    qtbot.waitUntil(lambda: form.dimensionCombo.findData("lon") >= 0, timeout=WAIT)
    diff = window.editing.controller.diff()
    consolidated = ".zmetadata" if zarr_format == 2 else "zarr.json"
    assert consolidated in diff
    save_through_dialog(qtbot, window)
    opened = xr.open_zarr(store)  # the consolidated copy followed
    assert opened["temp"].dims == ("time", "lon") and opened["lat"].dims == ("lon",)
    assert "x" in opened.data_vars and "lon" not in opened.coords
    assert opened["x"].values.tolist() == [10.0, 20.0, 30.0]
    window.editing.controller.undo()
    assert window.editing.controller.history() == []


def test_a_form_applied_is_rebuilt_by_a_state_that_comes_after_its_apply(qtbot: Any) -> None:
    """A rename across 3,000 arrays is listed again a second after it applied: the form, whose
    fields still held the applied choice, took the new listing for a change under the user's
    typing and showed its stale banner (audit K).  What was applied is no unapplied typing."""
    from qtpy.QtWidgets import QWidget

    from zarr_browser.qt.editor.forms import FormSync

    parent = QWidget()
    qtbot.addWidget(parent)
    fields = {"dimension": "time", "name": ""}
    built: list[str] = []
    sync = FormSync(lambda: dict(fields), parent)
    sync.show("/", ["time", "lon"], lambda: built.append("first"))
    fields.update(dimension="lon", name="longitude")  # the user's choice...
    assert sync.isModified()
    done = sync.applying()
    fields["name"] = ""  # ...applied: the form clears the name, the apply reports back
    done(True)
    sync.show("/", ["time", "longitude"], lambda: built.append("after"))  # the listing comes later
    assert built == ["first", "after"] and not sync.isStale() and not sync.banner.isVisibleTo(parent)
    fields.update(dimension="time", name="t")  # typing, then another change under it: kept, stale
    sync.show("/", ["t0", "longitude"], lambda: built.append("never"))
    assert built == ["first", "after"] and sync.isStale()


def test_rename_dimension_form_refuses_before_applying(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = xarray_dataset_store(tmp_path / "d.zarr", 3)
    window = make_window()
    open_for_editing(qtbot, window, store)
    form = window.editing.editor.renameForm
    qtbot.waitUntil(lambda: form.dimensionCombo.count() == 2, timeout=WAIT)
    form.dimensionCombo.setCurrentIndex(form.dimensionCombo.findData("x"))
    form.newNameEdit.setText("time")  # temp has both: refused with the reason, before anything is applied
    qtbot.waitUntil(lambda: form.noteLabel.text().startswith("Cannot rename"), timeout=WAIT)
    assert "twice" in form.noteLabel.text() and not form.renameButton.isEnabled()
    assert window.editing.controller.history() == []


def test_nczarr_dimension_rename_in_the_window_and_the_array_form_refusal(qtbot: Any, make_window: Any,
                                                                          tmp_path: Path) -> None:
    store = nccopy_store(tmp_path)
    window = make_window()
    open_for_editing(qtbot, window, store, "/v")
    form = window.editing.editor.xarrayForm
    form.edits[0].setText("lon")  # xarray alone would read it: refused, with where to rename instead
    form.applyButton.click()
    qtbot.waitUntil(lambda: "NCZarr variable" in window.errorText(), timeout=WAIT)
    assert "Rename dimension" in window.errorText() and window.editing.controller.history() == []
    window.editing.editor.discardUnapplied()  # (else leaving the node asks what to do with the typing)
    done: list[bool] = []
    window.revealPath("/", done.append)
    qtbot.waitUntil(lambda: window.editing.editor.node() is not None
                    and window.editing.editor.node().path == "/", timeout=WAIT)
    window.editing.editor.showTab("xarray")
    rename = window.editing.editor.renameForm
    qtbot.waitUntil(lambda: rename.newNameEdit.isEnabled() and rename.dimensionCombo.findData("x") >= 0,
                    timeout=WAIT)
    rename.dimensionCombo.setCurrentIndex(rename.dimensionCombo.findData("x"))
    rename.newNameEdit.setText("lon")
    qtbot.waitUntil(lambda: rename.renameButton.isEnabled(), timeout=WAIT)
    assert "the netCDF dimension /x is renamed too" in rename.noteLabel.text()
    note = rename.noteLabel  # the whole note shows once the layout has made room for it
    qtbot.waitUntil(lambda: note.height() >= note.heightForWidth(note.width()), timeout=WAIT)
    window.grab().save(str(tmp_path / "dims_rename_nczarr.png"))
    rename.renameButton.click()
    wait_history(qtbot, window, 1)
    assert set(window.editing.controller.diff()) == {".zgroup", "v/.zarray", "v/.zattrs"}
    save_through_dialog(qtbot, window)
    dump = subprocess.run(["ncdump", f"file://{store}#mode=nczarr,file"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "lon = 3 ;" in dump and "float v(lon) ;" in dump and "v = 1, 2, 3 ;" in dump


def test_cf_form_types_fill_and_packing_as_numbers(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """A float _FillValue on zarr v3 is typed as a number and written in base64, as xarray writes it."""
    xr = pytest.importorskip("xarray")
    store = tmp_path / "c.zarr"
    data = xr.DataArray(np.array([1.0, -9999.0, 3.0], dtype="f8"), dims=("x",), attrs={"units": "K"})
    xr.Dataset({"t": data}).to_zarr(store, zarr_format=3, consolidated=True)
    window = make_window()
    open_for_editing(qtbot, window, store, "/t")
    window.editing.editor.showTab("cf")
    form = window.editing.editor.cfForm
    fill = form.fields["_FillValue"]
    assert fill.text() == "NaN" and not fill.isReadOnly()  # xarray's default float fill, shown decoded
    assert "AAAAAAAA+H8=" in form.fillLabel.text()
    fill.setFocus()
    fill.selectAll()
    qtbot.keyClicks(fill, "-9999")
    form.fields["scale_factor"].setText("2")
    form.fields["add_offset"].setText("0.5")
    window.grab().save(str(tmp_path / "dims_cf_form_v3.png"))
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    attrs = window.editing.controller.session().attributes("/t")
    assert attrs["_FillValue"] == "AAAAAICHw8A=" and attrs["scale_factor"] == 2.0 and attrs["add_offset"] == 0.5
    form.fields["scale_factor"].setText("abc")  # refused, nothing changes
    form.applyButton.click()
    qtbot.waitUntil(lambda: "'abc' is not a number" in window.errorText(), timeout=WAIT)
    form.fields["scale_factor"].setText("2.0")
    save_through_dialog(qtbot, window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opened = xr.open_zarr(store, consolidated=True)
    values = opened["t"].values
    assert values[0] == 2.5 and np.isnan(values[1]) and values[2] == 6.5  # masked, then unpacked


def test_cf_form_on_nczarr_keeps_the_netcdf_types(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    store = nccopy_store(tmp_path)  # netCDF-C 4.9.0: .zarray fill_value null, the attribute is the fill
    window = make_window()
    open_for_editing(qtbot, window, store, "/v")
    form = window.editing.editor.cfForm
    assert not form.fields["_FillValue"].isReadOnly()
    form.fields["_FillValue"].setText("2")
    form.fields["scale_factor"].setText("10")
    form.applyButton.click()
    wait_history(qtbot, window, 1)
    save_through_dialog(qtbot, window)
    attrs = json.loads((store / "v" / ".zattrs").read_text())
    assert attrs["_FillValue"] == 2.0 and attrs["_NCZARR_ATTR"]["types"]["_FillValue"] == "<f4"
    dump = subprocess.run(["ncdump", f"file://{store}#mode=nczarr,file"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    assert "v:_FillValue = 2.f ;" in dump and "v:scale_factor = 10. ;" in dump and "v = 1, _, 3 ;" in dump
    xr = pytest.importorskip("xarray")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = xr.open_zarr(store)["v"].values
    assert values[0] == 10.0 and np.isnan(values[1]) and values[2] == 30.0
