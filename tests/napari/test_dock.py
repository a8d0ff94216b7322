"""The browser dock in a real napari viewer, used as a user does (audit G): opened from the
Plugins menu, closed with its title bar's button, driven with the mouse and the keyboard.

Run under Xvfb: ``xvfb-run -a .venv/bin/pytest tests/napari -q -p no:xvfb``.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.gui

DOCK = "Zarr browser (zarr-browser)"


def open_from_menu(viewer: Any, qtbot: Any) -> Any:
    """Plugins ▸ Zarr browser, as a user opens the dock; the dock's widget."""
    action = next(a for a in viewer.window.plugins_menu.actions() if a.text().startswith("Zarr browser"))
    action.trigger()
    qtbot.waitUntil(lambda: DOCK in viewer.window.dock_widgets, timeout=5_000)
    return viewer.window.dock_widgets[DOCK]


def close_with_title_button(widget: Any, qtbot: Any) -> None:
    """The ✕ of the dock's title bar."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QDockWidget, QPushButton

    dock = widget.parentWidget()
    while not isinstance(dock, QDockWidget):
        dock = dock.parentWidget()
    button = dock.findChild(QPushButton, "QTitleBarCloseButton")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_tree_keeps_its_height_when_the_dock_is_closed_and_opened_again(
        make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """napari pads a dock whose widgets do not ask for height with a stretch whose factor grows
    with every dock it adds: the tree got 187, then 59, then 32 px."""
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1280, 800)
    heights = []
    for _ in range(3):
        widget = open_from_menu(viewer, qtbot)
        widget.show_store(str(stores.image("0.5")))
        qtbot.waitUntil(lambda w=widget: w.hierarchy is not None and not w.is_busy(), timeout=10_000)
        qtbot.wait(100)
        heights.append(widget.browser.tree.viewport().height())
        layout = widget.layout()
        assert not any(layout.itemAt(i).spacerItem() for i in range(layout.count())), "napari padded the dock"
        close_with_title_button(widget, qtbot)
        qtbot.waitUntil(lambda: DOCK not in viewer.window.dock_widgets, timeout=5_000)
    assert heights[0] > 120 and heights == [heights[0]] * 3
