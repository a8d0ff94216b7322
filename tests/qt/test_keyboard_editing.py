"""Editing from the keyboard in the window (audit K, 8): keys for Enable editing and Preview,
menu mnemonics, F6 between panes, the dimension_names Tab order, tooltips that name their keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import zarr
from qtpy.QtCore import Qt
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import QApplication, QWidget

from zarr_browser.qt.window import BrowserWindow

WAIT = 20_000
Key = Qt.Key
Mod = Qt.KeyboardModifier


def store(path: Path) -> Path:
    root = zarr.open_group(path, mode="w", zarr_format=3, attributes={"title": "t"})
    root.create_array("a", shape=(4, 6), dtype="f4", dimension_names=("y", "x"), attributes={"units": "m"})
    return path


@pytest.fixture
def window(qtbot: Any, make_window: Any, tmp_path: Path) -> BrowserWindow:
    window = make_window()
    with qtbot.waitSignal(window.storeOpened, timeout=WAIT):
        window.openStore(str(store(tmp_path / "s.zarr")))
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=WAIT)
    window.activateWindow()  # shortcuts fire in the active window
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    return window


def press(qtbot: Any, key: Key, modifiers: Mod = Mod.NoModifier) -> None:
    target = QApplication.focusWidget()
    assert target is not None
    qtbot.keyClick(target, key, modifiers)


def inside(widget: QWidget) -> bool:
    focus = QApplication.focusWidget()
    return focus is not None and (focus is widget or widget.isAncestorOf(focus))


def test_every_tooltip_of_an_action_with_a_key_names_the_key(window: BrowserWindow) -> None:
    """Copy path, Filter names, Cancel loading, the inspector tabs and Quit named none."""
    with_keys = [a for a in window.findChildren(QAction) if a.shortcuts()]
    assert len(with_keys) >= 20
    for action in with_keys:
        for key in action.shortcuts():
            text = key.toString(QKeySequence.SequenceFormat.NativeText)
            assert text in action.toolTip(), (action.text(), action.toolTip())
    # the key of each is its own: no two window actions share one
    keys = [key.toString() for a in with_keys for key in a.shortcuts()
            if a.shortcutContext() != Qt.ShortcutContext.WidgetShortcut]
    assert len(keys) == len(set(keys)), sorted(keys)


def test_menu_items_have_mnemonics_unique_in_their_menu(window: BrowserWindow) -> None:
    menus = [a.menu() for a in window.menuBar().actions()]
    assert [a.text() for a in window.menuBar().actions()] == ["&File", "&View", "&Node", "&Edit"]
    for menu in menus:
        letters = []
        for action in menu.actions():
            if action.isSeparator() or not action.text() or action.parent() is window.recentMenu:
                continue
            text = action.text()
            assert "&" in text, f"{text!r} in {menu.title()!r} has no mnemonic"
            letters.append(text[text.index("&") + 1].lower())
        assert len(letters) == len(set(letters)), (menu.title(), letters)


def test_ctrl_e_enables_editing_and_ctrl_d_previews_the_changes(qtbot: Any, window: BrowserWindow) -> None:
    editing = window.editing
    window.tree.setFocus()
    with qtbot.waitSignal(editing.controller.activeChanged, timeout=WAIT):
        press(qtbot, Key.Key_E, Mod.ControlModifier)
    assert editing.enableAction.isChecked() and editing.enableAction.shortcut().toString() == "Ctrl+E"
    assert editing.controller.edit(lambda s: s.set("/", "/title", "new"))
    window.activateWindow()
    window.tree.setFocus()
    press(qtbot, Key.Key_D, Mod.ControlModifier)
    qtbot.waitUntil(lambda: editing.saveDialog is not None and editing.saveDialog.isVisible(), timeout=WAIT)
    assert editing.saveDialog.windowTitle() == "Preview changes" and editing.saveDialog.documents() == ["zarr.json"]
    editing.saveDialog.reject()


def test_f6_and_shift_f6_go_round_the_tree_the_inspector_and_the_editor(qtbot: Any, window: BrowserWindow) -> None:
    editing = window.editing
    with qtbot.waitSignal(editing.controller.activeChanged, timeout=WAIT):
        editing.enableAction.trigger()
    qtbot.waitUntil(lambda: editing.dock.isVisible() and editing.editor.node() is not None, timeout=WAIT)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    window.tree.setFocus()
    assert inside(window.tree)
    press(qtbot, Key.Key_F6)
    assert inside(window.inspector)
    press(qtbot, Key.Key_F6)
    assert inside(editing.dock) and QApplication.focusWidget() is editing.editor.attributes.view
    press(qtbot, Key.Key_F6)
    assert QApplication.focusWidget() is window.tree
    press(qtbot, Key.Key_F6, Mod.ShiftModifier)
    assert inside(editing.dock)
    press(qtbot, Key.Key_F6, Mod.ShiftModifier)
    assert inside(window.inspector)


def test_tab_reaches_the_dimension_names_apply_after_the_names(qtbot: Any, window: BrowserWindow) -> None:
    """Tab went attribute tree → Apply → validation list → y → x."""
    editing = window.editing
    with qtbot.waitSignal(editing.controller.activeChanged, timeout=WAIT):
        editing.enableAction.trigger()
    done: list[bool] = []
    window.revealPath("/a", done.append)
    qtbot.waitUntil(lambda: done == [True], timeout=WAIT)
    qtbot.waitUntil(lambda: editing.editor.node() is not None and editing.editor.node().path == "/a", timeout=WAIT)
    names = editing.editor.attributes.dimensionNames
    qtbot.waitUntil(lambda: len(names.edits) == 2 and all(e.isVisible() for e in names.edits)
                    and not editing.controller.isBusy(), timeout=WAIT)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    editing.editor.attributes.view.setFocus()
    seen = []
    for _ in range(6):
        press(qtbot, Key.Key_Tab)
        focus = QApplication.focusWidget()
        seen.append("Apply" if focus is names.applyButton else
                    f"name {names.edits.index(focus)}" if focus in names.edits else type(focus).__name__)
    assert seen[:4] == ["name 0", "name 1", "Apply", "ValidationList"]

