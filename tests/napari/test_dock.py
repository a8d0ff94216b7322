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
    # the same height each time, give or take the Open button's: napari's style sheet makes it
    # 24 or 26 px from one dock to the next (seen on main too: 174 / 175 px)
    assert heights[0] > 120 and max(heights) - min(heights) <= 2, heights


def open_node(widget: Any, viewer: Any, qtbot: Any, path: str, times: int = 2) -> list[tuple[list[str], str]]:
    """Open *path* from the dock's Open button *times* times; the layer names and the status line
    after each time."""
    after = []
    for _ in range(times):
        widget.browser.select_path(path)
        qtbot.waitUntil(lambda: widget.browser.current_path() == path and not widget.is_busy(), timeout=10_000)
        widget.open_button.click()
        qtbot.waitUntil(lambda: not widget.is_busy() and ("added" in widget.status.text()
                                                         or "open already" in widget.status.text()),
                        timeout=10_000)
        after.append(([layer.name for layer in viewer.layers], widget.status.text()))
        widget.status.setText("")
    return after


@pytest.mark.parametrize(("store", "path"), [("image", "/labels"), ("plate", "/A/3"), ("plate", "/A/3/0/labels"),
                                             ("xarray", "/")])
def test_a_node_whose_layers_are_under_child_paths_opens_once(
        make_napari_viewer: Any, stores: Any, qtbot: Any, store: str, path: str) -> None:
    """A labels group, a well, a field's labels and a dataset record their layers under their
    children's paths: opening one again added a second set (cells, cells [1]...)."""
    url = {"image": lambda: stores.image("0.5"), "plate": lambda: stores.plate("0.5", labels=True),
           "xarray": stores.xarray}[store]()
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    widget.show_store(str(url))
    qtbot.waitUntil(lambda: widget.hierarchy is not None and not widget.is_busy(), timeout=10_000)
    (first, added), (second, again) = open_node(widget, viewer, qtbot, path)
    assert first and second == first
    assert f"{len(first)} layer(s) added" in added and f"open already: {len(first)} layer" in again
    assert {layer.name for layer in viewer.layers.selection} == set(first)
    for layer in viewer.layers:
        layer.visible = False
    viewer.layers.selection.clear()
    # choosing the node in the tree selects its layers (they are all under it)
    tree = widget.browser.tree
    index = widget.browser.proxy.mapFromSource(widget.browser.model.indexForPath(path))
    tree.scrollTo(index)
    from qtpy.QtCore import Qt

    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualRect(index).center())
    qtbot.waitUntil(lambda: {layer.name for layer in viewer.layers.selection} == set(first), timeout=5_000)


def test_the_labels_group_after_its_image_selects_the_labels_the_image_added(
        make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """Re-opening an image root shows its hidden labels too; its labels group adds no copy."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    widget.show_store(str(stores.image("0.5")))
    qtbot.waitUntil(lambda: widget.hierarchy is not None and not widget.is_busy(), timeout=10_000)
    [(first, _)] = open_node(widget, viewer, qtbot, "/", times=1)
    assert first == ["image: DAPI", "image: GFP", "image: cells"]
    viewer.layers["image: cells"].visible = False
    [(again, status)] = open_node(widget, viewer, qtbot, "/", times=1)
    assert again == first and viewer.layers["image: cells"].visible and "open already: 3 layers" in status
    [(after, status)] = open_node(widget, viewer, qtbot, "/labels", times=1)
    assert after == first and "open already: 1 layer selected" in status
    assert [layer.name for layer in viewer.layers.selection] == ["image: cells"]


CLOSE_NAPARI = """
import sys, time
import napari
from napari.settings import get_settings
from qtpy.QtCore import QTimer

scenario, url = sys.argv[1], sys.argv[2]
get_settings().application.confirm_close_window = False
viewer = napari.Viewer()
_, dock = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")

def close():
    assert dock.is_busy(), "the dock is waiting on the server"
    print(f"CLOSED_AT {time.time():.3f}", flush=True)
    viewer.window._qt_window.close()

if scenario == "planning":  # the store opens; planning its image reads the labels, which hang
    dock.browser.storeOpened.connect(lambda _url: (dock.open_path("/"), QTimer.singleShot(1000, close)))
else:  # the store's root document hangs
    QTimer.singleShot(1000, close)
dock.show_store(url)
napari.run()
print(f"RUN_RETURNED_AT {time.time():.3f}", flush=True)
"""


@pytest.mark.parametrize("scenario", ["opening", "planning"])
def test_closing_napari_while_the_dock_waits_on_a_hanging_server_ends_the_process(
        stores: Any, http_server: Any, tmp_path: Any, scenario: str) -> None:
    """The process outlived napari's window by the request deadline (13 s): the pool's threads,
    joined at exit, waited on the server; napari.run() itself waited for a planning worker."""
    import os
    import shutil
    import subprocess
    import sys
    import time

    shutil.copytree(stores.image("0.4"), http_server.root / "image.ome.zarr")
    http_server.faults.add("image.ome.zarr/.zattrs" if scenario == "opening" else "image.ome.zarr/labels/cells/*",
                           "hang")
    env = {**os.environ, "NAPARI_CONFIG": str(tmp_path / "napari.yaml")}  # not the user's napari settings
    done = subprocess.run([sys.executable, "-c", CLOSE_NAPARI, scenario, http_server.url_for("image.ome.zarr")],
                          capture_output=True, text=True, timeout=120, env=env)
    ended = time.time()
    assert done.returncode == 0, done.stderr[-2000:]
    closed = float(done.stdout.split("CLOSED_AT ", 1)[1].split()[0])
    returned = float(done.stdout.split("RUN_RETURNED_AT ", 1)[1].split()[0])
    # not a timing target: what tells a wait on the server from none is the 13 s deadline (the
    # bounds were 2 s and 5 s, and a clean-clone run at load 3.5 overstepped them once)
    assert returned - closed < 6 and ended - closed < 10, (returned - closed, ended - closed)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_the_raw_json_tab_does_not_widen_the_dock(make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """Its top row (chooser, Reformat, 'A/3/0/labels/cells/zarr.json · 2.2 KiB') asked for 500 px:
    one visit widened the dock for good and took 200 px of the canvas."""
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1280, 800)
    widget = open_from_menu(viewer, qtbot)
    widget.show_store(str(stores.plate("0.5", labels=True)), select="/A/3/0/labels/cells")
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/A/3/0/labels/cells" and not widget.is_busy(),
                    timeout=10_000)
    qtbot.wait(100)
    width, minimum = widget.width(), widget.minimumSizeHint().width()
    tabs = widget.browser.inspector.tabs
    raw = next(i for i in range(tabs.count()) if tabs.tabText(i).startswith("Raw JSON"))
    tabs.setCurrentIndex(raw)
    qtbot.wait(200)
    assert widget.width() == width and widget.minimumSizeHint().width() <= minimum
    from zarr_browser.qt.inspector.raw_json import RawJsonPanel

    info = widget.findChild(RawJsonPanel)._info  # the document and its size, in full in the tooltip
    assert info.text().startswith("A/3/0/labels/cells/zarr.json") and info.toolTip() == info.text()
    tabs.setCurrentIndex(0)
    qtbot.wait(100)
    assert widget.width() == width


def test_the_status_after_validate_subtree_counts_notes_apart_from_warnings(
        make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """'0 error(s), 2 warning(s)' where the Validation tab said 0 warnings, 2 notes."""
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    widget.show_store(str(stores.image("0.5")), select="/labels/cells")
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/labels/cells" and not widget.is_busy(), timeout=10_000)
    with qtbot.waitSignal(widget.browser.validationFinished, timeout=20_000) as done:
        widget.browser.validateAction.trigger()
    report = done.args[1]
    severities = [issue.severity.value for issue in report.issues]
    notes, warnings = severities.count("info"), severities.count("warning")
    assert notes and set(severities) <= {"info", "warning"}  # ome-zarr 0.18 writes no 'metadata' nor 'type'
    assert all("unit" in issue.message for issue in report.issues if issue.severity.value == "warning"), \
        "ome-zarr 0.18 writes axes without units (a SHOULD)"
    assert f"0 error(s), {warnings} warning(s), {notes} note(s)" in widget.status.text()


def test_keys_pressed_in_the_dock_do_not_reach_the_viewer_keymap(
        make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """Ctrl+Delete in the tree deleted the layers choosing the node had selected; Ctrl+R reset
    the view, Ctrl+G switched to the grid.  The dock's own keys still act."""
    import numpy as np
    from qtpy.QtCore import Qt

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.activateWindow()
    widget = open_from_menu(viewer, qtbot)
    widget.show_store(str(stores.image("0.5")))
    qtbot.waitUntil(lambda: widget.hierarchy is not None and not widget.is_busy(), timeout=10_000)
    viewer.add_image(np.zeros((8, 8)), name="other")
    widget.open_path("/")
    qtbot.waitUntil(lambda: len(viewer.layers) == 4 and not widget.is_busy(), timeout=10_000)
    tree = widget.browser.tree
    tree.setFocus()
    viewer.layers.select_all()
    for key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_G, Qt.Key.Key_Y):
        qtbot.keyClick(tree, key, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(widget.url_edit, Qt.Key.Key_Delete, Qt.KeyboardModifier.ControlModifier)
    assert len(viewer.layers) == 4 and not viewer.canvas.grid.enabled and viewer.dims.ndisplay == 2
    qtbot.keyClick(tree, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # the dock's filter box
    assert widget.browser.filterEdit.hasFocus()
    viewer.window._qt_viewer.canvas.native.setFocus()
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert viewer.canvas.grid.enabled  # the canvas still has napari's keys


def test_the_dock_closes_its_store_from_the_url_menu(make_napari_viewer: Any, stores: Any, qtbot: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The dock could not drop a store, and Ctrl+W asked to close napari; Ctrl+W stays napari's."""
    from qtpy.QtGui import QKeySequence

    from zarr_browser.core.hierarchy import Hierarchy

    closed: list[str] = []
    close = Hierarchy.close
    monkeypatch.setattr(Hierarchy, "close", lambda self: (closed.append(self.url), close(self))[1])

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    assert not widget.close_action.isEnabled()
    image, xarray = str(stores.image("0.5")), str(stores.xarray())
    widget.show_store(image, select="/labels/cells")
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/labels/cells" and not widget.is_busy(), timeout=10_000)
    widget.recent_menu.aboutToShow.emit()
    assert widget.close_action in widget.recent_menu.actions() and widget.close_action.isEnabled()
    assert widget.close_action.shortcut() != QKeySequence(QKeySequence.StandardKey.Close)
    widget.close_action.trigger()
    assert widget.hierarchy is None and widget.browser.proxy.rowCount() == 0 and widget.url_edit.text() == ""
    assert not widget.open_button.isEnabled() and not widget.close_action.isEnabled()
    assert f"Closed {image}" in widget.status.text()
    qtbot.waitUntil(lambda: closed == [image], timeout=5_000)

    # a store whose layers are in the viewer stays open for them, and choosing one shows it again
    widget.show_store(xarray)
    qtbot.waitUntil(lambda: widget.hierarchy is not None and not widget.is_busy(), timeout=10_000)
    widget.open_path("/temperature")
    qtbot.waitUntil(lambda: len(viewer.layers) == 1 and not widget.is_busy(), timeout=10_000)
    widget.close_action.trigger()
    assert widget.hierarchy is None
    viewer.layers.selection.active = None
    viewer.layers.selection.active = viewer.layers[0]
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/temperature", timeout=10_000)
    assert widget.hierarchy.url == xarray and closed == [image]  # the layer reads from the store kept open


def test_arrays_that_cannot_become_layers_are_not_offered_for_opening(
        make_napari_viewer: Any, qtbot: Any, tmp_path: Any) -> None:
    """Open, Enter and 'Open in napari' were offered on 1-D, string, 0-d and empty arrays; the
    user learnt afterwards, in a note naming the path twice ('0 layer(s) added — ...')."""
    import numpy as np
    import zarr
    from qtpy.QtCore import Qt

    root = zarr.open_group(str(tmp_path / "odd.zarr"), mode="w", zarr_format=3)
    root.create_array("profile", shape=(30,), dtype="float64")
    root.create_array("names", shape=(2, 2), dtype=str)
    root.create_array("scalar", shape=(), dtype="f4")
    root.create_array("empty", shape=(0, 10), dtype="u1")
    root.create_array("image", shape=(20, 30), dtype="float32")[...] = np.ones((20, 30), "float32")
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    widget.show_store(str(tmp_path / "odd.zarr"))
    qtbot.waitUntil(lambda: widget.hierarchy is not None and not widget.is_busy(), timeout=10_000)
    panel = widget.browser
    reasons = {"/profile": "a 1-D float64 array is not an image", "/names": "not numbers napari can draw",
               "/scalar": "a 0-D float32 array is not an image", "/empty": "the array is empty (0 × 10)"}
    for path, reason in reasons.items():
        panel.select_path(path)
        qtbot.waitUntil(lambda p=path: panel.current_path() == p, timeout=5_000)
        assert not widget.open_button.isEnabled() and reason in widget.open_button.toolTip(), path
        index = panel.proxy.mapFromSource(panel.model.indexForPath(path))
        action = next(a for a in panel.contextMenuFor(index).actions() if a.text() == "Open in napari")
        assert not action.isEnabled() and reason in action.toolTip(), path
        panel.tree.setFocus()
        qtbot.keyClick(panel.tree, Qt.Key.Key_Return)
        assert widget.status.text().startswith(f"{path}: cannot be added to the viewer: ")
        assert reason in widget.status.text()
        qtbot.waitUntil(lambda: not widget.is_busy(), timeout=5_000)
        assert len(viewer.layers) == 0
    panel.select_path("/image")
    qtbot.waitUntil(lambda: panel.current_path() == "/image", timeout=5_000)
    assert widget.open_button.isEnabled() and "double-click" in widget.open_button.toolTip()
    panel.tree.setFocus()
    qtbot.keyClick(panel.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(viewer.layers) == 1, timeout=10_000)
    widget.open_path("/profile")  # asked all the same (a script): the note says it once
    qtbot.waitUntil(lambda: "1-D" in widget.status.text() and not widget.is_busy(), timeout=10_000)
    assert widget.status.text().count("/profile") == 1 and "0 layer(s)" not in widget.status.text()


def test_the_dock_takes_the_focus_when_opened_and_ctrl_l_reaches_its_url_box(
        make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """Opened from the Plugins menu, the focus stayed on the canvas, 16 Tabs from the URL box."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    viewer = make_napari_viewer(show=True)
    window = viewer.window._qt_window
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5_000)
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    widget = open_from_menu(viewer, qtbot)
    qtbot.waitUntil(lambda: widget.url_edit.hasFocus(), timeout=5_000)
    qtbot.keyClicks(widget.url_edit, str(stores.image("0.5")))
    qtbot.keyClick(widget.url_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: widget.hierarchy is not None and widget.browser.tree.hasFocus(), timeout=10_000)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert widget.url_edit.hasFocus() and widget.url_edit.selectedText() == widget.url_edit.text()
    assert viewer.window._qt_window.isVisible()  # nothing of napari's ran
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=10_000)


def test_inspector_links_are_readable_in_both_themes(make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """'Label image of /': the link was Qt's #0000ff on napari's dark grey, on a lone '/'."""
    from napari.utils.theme import get_theme
    from qtpy.QtGui import QColor, QPalette

    from zarr_browser._widget import _luminance

    def contrast(a: QColor, b: QColor) -> float:
        high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
        return (high + 0.05) / (low + 0.05)

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    widget.show_store(str(stores.image("0.5")), select="/labels/cells")
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/labels/cells" and not widget.is_busy(), timeout=10_000)
    labels = widget.browser.inspector.labels
    tabs = widget.browser.inspector.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i).startswith("Labels")))
    qtbot.waitUntil(lambda: "the image at /" in labels.headerText(), timeout=5_000)
    for theme in ("dark", "light"):
        viewer.theme = theme
        link = labels.palette().color(QPalette.ColorRole.Link)
        assert contrast(link, QColor(get_theme(theme).background.as_hex())) >= 4.5, theme
        header = labels.headerText()
        assert f"style='color:{link.name()}'>the image at /</a>" in header, header  # style sheets ignore the palette


def test_deep_rows_leave_the_kind_column_in_view_in_a_narrow_dock(
        make_napari_viewer: Any, stores: Any, qtbot: Any) -> None:
    """The Name column widened with depth and pushed Kind out of a 264-px dock ('OME wel')."""
    from zarr_browser.qt.tree_model import HierarchyTreeModel

    viewer = make_napari_viewer(show=True)
    widget = open_from_menu(viewer, qtbot)
    widget.show_store(str(stores.plate("0.5", labels=True)), select="/A/3/0/labels/cells")
    qtbot.waitUntil(lambda: widget.browser.current_path() == "/A/3/0/labels/cells" and not widget.is_busy(),
                    timeout=10_000)
    tree = widget.browser.tree
    assert widget.width() < 320, "a narrow dock, as napari opens it"
    kind = tree.header().sectionViewportPosition(HierarchyTreeModel.KIND_COLUMN)
    # the whole Kind column, its text and the cell's margins
    assert kind + tree.header().sectionSize(HierarchyTreeModel.KIND_COLUMN) <= tree.viewport().width()
    assert tree.header().sectionSize(HierarchyTreeModel.KIND_COLUMN) > tree.fontMetrics().horizontalAdvance("label image")


def _dock_on(viewer: Any, qtbot: Any, url: str, select: str | None = None) -> Any:
    _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    widget.show_store(url, select=select)
    qtbot.waitUntil(lambda: widget.hierarchy is not None and not widget.is_busy()
                    and (select is None or widget.browser.current_path() == select), timeout=10_000)
    return widget


def test_choosing_a_layer_of_another_store_shows_that_store_as_it_was_left(
        make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each switch between the layers of two stores reopened and relisted the store (44 requests,
    6.1 s at 0.5 s a request) and forgot the groups expanded and the node chosen; the store is
    closed once its last layer is removed."""
    import shutil

    from zarr_browser.core.hierarchy import Hierarchy

    closed: list[str] = []
    close = Hierarchy.close
    monkeypatch.setattr(Hierarchy, "close", lambda self: (closed.append(self.url), close(self))[1])
    shutil.copytree(stores.plate("0.5", labels=True), http_server.root / "plate.ome.zarr")
    shutil.copytree(stores.image("0.5"), http_server.root / "image.ome.zarr")
    plate, image = http_server.url_for("plate.ome.zarr"), http_server.url_for("image.ome.zarr")
    viewer = make_napari_viewer()
    widget = _dock_on(viewer, qtbot, plate, select="/A/3/0")
    widget.open_path("/A/3/0")
    qtbot.waitUntil(lambda: len(viewer.layers) == 3 and not widget.is_busy(), timeout=10_000)
    panel = widget.browser
    panel.select_path("/B/2/0/labels")  # the node the user left the plate at
    qtbot.waitUntil(lambda: panel.current_path() == "/B/2/0/labels" and not widget.is_busy(), timeout=10_000)
    expanded, plate_store = panel.expandedPaths(), widget.hierarchy
    assert {"/A", "/A/3", "/B", "/B/2", "/B/2/0"} <= expanded

    widget.show_store(image)
    qtbot.waitUntil(lambda: widget.hierarchy is not plate_store and not widget.is_busy(), timeout=10_000)
    widget.open_path("/")
    qtbot.waitUntil(lambda: len(viewer.layers) == 6 and not widget.is_busy(), timeout=10_000)
    image_store = widget.hierarchy
    assert widget.kept_stores() == [plate] and closed == []

    http_server.reset_stats()
    viewer.layers.selection.active = viewer.layers[0]  # a channel of the plate's field, in the layer list
    assert widget.hierarchy is plate_store  # at once: nothing reopened
    qtbot.waitUntil(lambda: panel.current_path() == "/A/3/0" and panel.expandedPaths() == expanded, timeout=2_000)
    assert widget.url_edit.text() == plate
    qtbot.waitUntil(lambda: not widget.is_busy(), timeout=10_000)
    groups = [p for p in http_server.stats.paths() if p.rsplit("/", 1)[-1] in ("zarr.json", "") and "/s" not in p]
    assert groups == [], groups  # no group read or listed again (the inspector reads its thumbnail)
    panel.backAction.trigger()  # Back still knows where the user was
    qtbot.waitUntil(lambda: panel.current_path() == "/B/2/0/labels", timeout=5_000)
    assert widget.kept_stores() == [image]

    viewer.layers.selection.active = viewer.layers[-1]
    assert widget.hierarchy is image_store
    # the plate's layers removed: the plate is closed, not kept
    for layer in list(viewer.layers)[:3]:
        viewer.layers.remove(layer)
    assert widget.kept_stores() == []
    qtbot.waitUntil(lambda: closed == [plate], timeout=5_000)
    viewer.layers.clear()  # the store shown stays open while shown
    qtbot.wait(50)
    assert closed == [plate] and widget.hierarchy is image_store


def test_a_store_loaded_again_replaces_the_copy_kept_for_its_layers(
        make_napari_viewer: Any, stores: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Load (Enter in the URL box) reads a kept store afresh; the old copy, which its layers may
    read from, is closed once they are gone."""
    from zarr_browser.core.hierarchy import Hierarchy

    closed: list[Hierarchy] = []
    close = Hierarchy.close
    monkeypatch.setattr(Hierarchy, "close", lambda self: (closed.append(self), close(self))[1])
    image, xarray = str(stores.image("0.5")), str(stores.xarray())
    viewer = make_napari_viewer()
    widget = _dock_on(viewer, qtbot, image)
    widget.open_path("/")
    qtbot.waitUntil(lambda: len(viewer.layers) == 3 and not widget.is_busy(), timeout=10_000)
    first = widget.hierarchy
    widget.show_store(xarray)
    qtbot.waitUntil(lambda: widget.hierarchy is not first and not widget.is_busy(), timeout=10_000)
    dataset = widget.hierarchy
    assert widget.kept_stores() == [image]
    widget.show_store(image, reload=True)
    qtbot.waitUntil(lambda: widget.hierarchy not in (first, dataset) and not widget.is_busy(), timeout=10_000)
    assert widget.kept_stores() == []  # the dataset has no layer: closed
    qtbot.waitUntil(lambda: closed == [dataset], timeout=5_000)
    viewer.layers.clear()
    qtbot.waitUntil(lambda: closed == [dataset, first], timeout=5_000)


def test_esc_and_cancel_stop_adding_a_node_whose_plan_waits_on_the_server(
        make_napari_viewer: Any, stores: Any, http_server: Any, qtbot: Any) -> None:
    """Esc did nothing while the dock planned a node's layers on a slow server: the layers came
    seconds later, whatever the user did; the dock offered no Cancel."""
    import shutil

    from qtpy.QtCore import Qt

    shutil.copytree(stores.image("0.5"), http_server.root / "image.ome.zarr")
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.activateWindow()
    widget = _dock_on(viewer, qtbot, http_server.url_for("image.ome.zarr"))
    http_server.faults.add("image.ome.zarr/labels/*", "hang")  # planning the image reads its labels
    for how in ("Esc", "Cancel"):
        widget.open_path("/")
        qtbot.waitUntil(lambda: widget.open_button.text() == "Cancel", timeout=2_000)
        assert widget.cancel_action.isEnabled() and "Esc" in widget.open_button.toolTip()
        if how == "Esc":
            widget.browser.tree.setFocus()
            qtbot.keyClick(widget.browser.tree, Qt.Key.Key_Escape)
        else:
            qtbot.mouseClick(widget.open_button, Qt.MouseButton.LeftButton)
        assert widget.status.text() == "Cancelled adding / to the viewer", how
        assert widget.open_button.text() == "Open" and widget.open_button.isEnabled()
        assert not widget.cancel_action.isEnabled()
        qtbot.waitUntil(lambda: not widget.is_busy(), timeout=2_000)  # the read waited for is abandoned
        qtbot.wait(300)
        assert len(viewer.layers) == 0 and widget.hierarchy is not None
    http_server.faults.clear()
    widget.open_path("/")  # the server answers again: the node opens
    qtbot.waitUntil(lambda: len(viewer.layers) == 3 and not widget.is_busy(), timeout=10_000)
    assert widget.open_button.text() == "Open"
