"""The browser window: opening stores, errors in the window, selection, menus, responsiveness."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from qtpy.QtCore import QMimeData, QModelIndex, QPoint, QPointF, Qt, QUrl
from qtpy.QtGui import QDropEvent, QGuiApplication, QKeySequence
from qtpy.QtTest import QTest
from servers import free_port
from stall import StallMeter  # tests/stall.py

from zarr_browser.core.store import RequestPolicy
from zarr_browser.qt.tree_model import HierarchyTreeModel
from zarr_browser.qt.window import (
    BrowserWindow,
    OpenUrlDialog,
    RecentStores,
    napari_available,
    napari_command,
    parse_storage_options,
)

Model = HierarchyTreeModel


@pytest.fixture
def make_window(qtbot: Any, registry: Any, thread_runner: Any, settings: Any):  # type: ignore[no-untyped-def]
    """``make_window(runner=None, settings=None)``: a shown BrowserWindow closed after the test."""

    def make(runner: Any = None, window_settings: Any = None, policy: RequestPolicy | None = None) -> BrowserWindow:
        window = BrowserWindow(runner=runner or thread_runner, registry=registry,
                               settings=window_settings if window_settings is not None else settings, policy=policy)
        qtbot.addWidget(window)
        window.show()
        return window

    return make


def open_and_wait(qtbot: Any, window: BrowserWindow, url: str | Path, **options: Any) -> None:
    with qtbot.waitSignal(window.storeOpened, timeout=20_000):
        window.openStore(str(url), options or None)
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=20_000)


def proxy_child(window: BrowserWindow, parent: QModelIndex, name: str) -> QModelIndex:
    proxy = window.proxy
    for row in range(proxy.rowCount(parent)):
        index = proxy.index(row, 0, parent)
        if index.data() == name:
            return index
    raise AssertionError(f"{name!r} not under {parent.data()!r}")


def test_opening_the_demo_shows_the_tree_title_and_status(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    window = make_window()
    assert window.stack.currentIndex() == 0, "the welcome page comes first"
    open_and_wait(qtbot, window, demo_root)
    assert window.windowTitle() == f"zarr-browser — {demo_root}"
    assert window.urlLabel.text() == str(demo_root)
    assert window.modeLabel.text() == "read-only"
    root = window.proxy.index(0, 0)
    assert window.tree.isExpanded(root)
    names = [window.proxy.index(r, 0, root).data() for r in range(window.proxy.rowCount(root))]
    assert names == ["cells.ome.zarr", "climate.zarr", "plate.ome.zarr"]
    assert window.currentPath() == "/"
    assert window.errorText() == ""
    assert not window.progressBar.isVisible() and not window.cancelButton.isVisible()


def test_selecting_a_row_shows_it_in_the_inspector(qtbot: Any, make_window: Any, demo_root: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window()
    shown: list[str] = []
    monkeypatch.setattr(window.inspector, "setNode", lambda hierarchy, node: shown.append(node.path))
    open_and_wait(qtbot, window, demo_root)
    assert shown == ["/"]
    cells = proxy_child(window, window.proxy.index(0, 0), "cells.ome.zarr")
    window.tree.setCurrentIndex(cells)
    assert shown[-1] == "/cells.ome.zarr"
    qtbot.keyClick(window.tree, Qt.Key.Key_Down)  # keyboard navigation moves the selection
    assert shown[-1] == "/climate.zarr"


def test_inspector_node_requests_reveal_and_select(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, demo_root)
    window.inspector.nodeRequested.emit("/plate.ome.zarr/B/3/0")
    qtbot.waitUntil(lambda: window.currentPath() == "/plate.ome.zarr/B/3/0", timeout=20_000)
    assert window.tree.isExpanded(window.proxy.mapFromSource(window.model.indexForPath("/plate.ome.zarr/B")))


def test_selecting_an_unexpanded_dataset_badges_its_row(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """Without consolidated metadata only a group's children say it is an xarray dataset: the
    inspector's worker lists them when the group is selected, and the tree row follows."""
    import zarr

    root = zarr.open_group(str(tmp_path / "s.zarr"), mode="w", zarr_format=3)
    root.create_group("child").create_array("p", shape=(5,), dtype="f8", dimension_names=["x"])
    window = make_window()
    open_and_wait(qtbot, window, tmp_path / "s.zarr")
    qtbot.waitUntil(lambda: window.model.indexForPath("/child").isValid(), timeout=20_000)
    row = window.model.indexForPath("/child")
    assert row.data(Model.KindRole) == "group" and not window.tree.isExpanded(window.proxy.mapFromSource(row))
    window.tree.setCurrentIndex(window.proxy.mapFromSource(row))
    qtbot.waitUntil(lambda: window.model.indexForPath("/child").data(Model.KindRole) == "dataset", timeout=20_000)
    assert window.inspector.isTabVisible("dataset")


def test_unreachable_url_is_an_error_in_the_window(qtbot: Any, make_window: Any) -> None:
    window = make_window(policy=RequestPolicy(attempt_timeout=2, deadline=3, retries=1))
    url = f"http://127.0.0.1:{free_port()}/x.zarr"
    with qtbot.waitSignal(window.openFailed, timeout=20_000) as failed:
        window.openStore(url)
    assert failed.args[0] == url
    assert window.errorBar.isVisible()
    assert window.errorText().startswith(f"Could not open {url}: ")
    assert "Traceback" not in window.errorText()
    assert window.stack.currentIndex() == 0 and window.hierarchy() is None
    # Esc dismisses it once nothing loads (Esc cancels a load first); it had only its ✕ (audit K, 8)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    qtbot.waitUntil(lambda: not window.cancelAction.isEnabled(), timeout=5_000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not window.errorBar.isVisible() and not window.dismissErrorShortcut.isEnabled()


def test_a_directory_without_metadata_is_an_error_in_the_window(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.openFailed, timeout=20_000):
        window.openStore(str(tmp_path / "nothing-here"))
    assert "no such directory" in window.errorText()


def test_a_broken_store_shows_error_rows(qtbot: Any, make_window: Any, tmp_path: Path, zarr_stores: Any) -> None:
    store = tmp_path / "broken.zarr"
    zarr_stores.sample(str(store), 2)
    (store / "raw" / ".zarray").write_text('{"zarr_format": 2, "shape": [4, "six"]}')
    window = make_window()
    open_and_wait(qtbot, window, store)
    raw = proxy_child(window, window.proxy.index(0, 0), "raw")
    assert raw.data(Model.KindRole) == "error"
    text = raw.siblingAtColumn(Model.CONVENTIONS_COLUMN).data()
    assert text.startswith("failed: raw/.zarray") and "shape" in text
    assert window.errorText() == "", "a broken child is shown in its row, not as a window error"


def _window_on_sample(qtbot: Any, make_window: Any, zarr_stores: Any, store: Path,
                      damage: Callable[[Path], object] | None = None) -> BrowserWindow:
    """A window on the zarr-python sample tree at *store*, with *damage* done before it opens."""
    zarr_stores.sample(str(store), 3)
    if damage is not None:
        damage(store)
    window = make_window()
    open_and_wait(qtbot, window, store)
    return window


def _reveal(qtbot: Any, window: BrowserWindow, path: str) -> bool:
    found: list[bool] = []
    window.revealPath(path, found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=20_000)
    return found[0]


def test_below_a_group_whose_document_is_broken_the_children_are_browsed(qtbot: Any, make_window: Any,
                                                                          tmp_path: Path, zarr_stores: Any) -> None:
    """Its children's documents are valid: the group's row shows its error and lists them (its
    whole subtree was hidden, and revealing a child there said it was not found)."""
    broken = '{"zarr_format": 3, "node_type": "group", "attributes": {"a": [1,}'
    window = _window_on_sample(qtbot, make_window, zarr_stores, tmp_path / "broken.zarr",
                               lambda store: (store / "nested" / "zarr.json").write_text(broken))
    assert _reveal(qtbot, window, "/nested/deeper/values") and window.currentPath() == "/nested/deeper/values"
    nested = window.model.indexForPath("/nested")
    assert nested.data(Model.KindRole) == "error"
    assert nested.siblingAtColumn(Model.CONVENTIONS_COLUMN).data().startswith("failed: nested/zarr.json: invalid JSON")


def test_a_child_of_an_unreadable_group_is_said_to_be_so(qtbot: Any, make_window: Any, tmp_path: Path,
                                                         zarr_stores: Any) -> None:
    """Not "not found": what lies below a node that could not be read cannot be listed."""
    def unreadable(store: Path) -> None:
        (store / "nested" / "zarr.json").unlink()
        (store / "nested" / "zarr.json").mkdir()  # no document tells what it is

    store = tmp_path / "broken.zarr"
    window = _window_on_sample(qtbot, make_window, zarr_stores, store, unreadable)
    messages: list[str] = []
    window.panel.statusMessage.connect(lambda text, _timeout: messages.append(text))
    assert not _reveal(qtbot, window, "/nested/deeper/values")
    assert messages[-1] == (f"/nested/deeper/values was not found in {store}: its ancestor /nested could not be read: "
                            f"{store / 'nested' / 'zarr.json'} is a directory, where a file is expected")


def test_a_store_deleted_while_open_says_it_no_longer_exists(qtbot: Any, make_window: Any, tmp_path: Path,
                                                             zarr_stores: Any) -> None:
    """Expanding a group showed nothing; a refresh of the root made it an empty implicit group."""
    import shutil

    store = tmp_path / "del.zarr"
    window = _window_on_sample(qtbot, make_window, zarr_stores, store)
    shutil.rmtree(store)
    window.tree.expand(window.proxy.mapFromSource(window.model.indexForPath("/nested")))
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=20_000)
    nested = window.model.indexForPath("/nested")
    failed = window.model.index(0, 0, nested)
    assert window.model.rowCount(nested) == 1 and failed.data(Model.StateRole) == Model.FAILED
    assert failed.data() == f"failed: {store} no longer exists"
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.indexForPath("/")))
    window.panel.refreshCurrent()  # F5 on the root
    qtbot.waitUntil(lambda: window.errorText() != "", timeout=20_000)
    assert window.errorText() == f"Could not read {store}: {store} no longer exists"
    assert window.model.indexForPath("/").data(Model.KindRole) != "implicit"


@pytest.mark.network
def test_slow_open_shows_progress_and_can_be_cancelled(qtbot: Any, make_window: Any, http_server: Any,
                                                       zarr_stores: Any, thread_runner: Any) -> None:
    zarr_stores.sample(str(Path(http_server.root) / "s.zarr"), 3)
    http_server.faults.add("*", "hang")
    window = make_window(policy=RequestPolicy(attempt_timeout=30, deadline=30, retries=0))
    window.openStore(http_server.url_for("s.zarr"))
    assert window.progressBar.isVisible() and window.cancelButton.isVisible()
    assert "Opening store" in window.progressLabel.text()
    qtbot.waitUntil(lambda: http_server.stats.in_flight > 0, timeout=10_000)  # the worker waits on the server
    qtbot.mouseClick(window.cancelButton, Qt.MouseButton.LeftButton)
    assert not window.cancelButton.isVisible()
    assert window.errorText().startswith("Cancelled opening")
    # the worker stopped waiting at once (not after the 30 s deadline): its thread is free again
    qtbot.waitUntil(lambda: thread_runner.pending() == 0, timeout=3_000)
    http_server.faults.clear()
    open_and_wait(qtbot, window, http_server.url_for("s.zarr"))
    assert window.hierarchy() is not None
    http_server._release.set()


def test_recent_stores_are_persisted_without_secrets(qtbot: Any, make_window: Any, demo_root: Path, settings: Any,
                                                      registry: Any) -> None:
    window = make_window()
    cells = demo_root / "cells.ome.zarr"
    open_and_wait(qtbot, window, cells, anon=True, secret="hunter2", client_kwargs={"region_name": "x"})
    open_and_wait(qtbot, window, demo_root)
    again = make_window(window_settings=type(settings)(settings.fileName(), settings.format()))
    recent = again.recentStores()
    assert [r.url for r in recent] == [str(demo_root), str(cells)]
    assert recent[1].storage_options == {"anon": True, "client_kwargs": {"region_name": "x"}}
    assert "hunter2" not in Path(settings.fileName()).read_text()
    assert again.recentList.count() == 2
    menu_texts = [a.text() for a in again.recentMenu.actions()]
    assert menu_texts[:2] == [str(demo_root), str(cells)]
    with qtbot.waitSignal(again.storeOpened, timeout=20_000):
        again.recentList.itemActivated.emit(again.recentList.item(1))
    assert again.hierarchy().url == str(cells)


def test_a_relative_path_is_remembered_absolute(qtbot: Any, make_window: Any, demo_root: Path, settings: Any,
                                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Opened as typed in one folder, reopened from the recent list in another: the same store."""
    monkeypatch.chdir(demo_root)
    window = make_window()
    open_and_wait(qtbot, window, "cells.ome.zarr")
    assert window.recentStores()[0].url == str(demo_root / "cells.ome.zarr")
    (tmp_path / "cells.ome.zarr").mkdir()  # a folder of the same name where the next session starts
    monkeypatch.chdir(tmp_path)
    again = make_window(window_settings=type(settings)(settings.fileName(), settings.format()))
    with qtbot.waitSignal(again.storeOpened, timeout=20_000):
        again.recentList.itemActivated.emit(again.recentList.item(0))
    assert again.hierarchy().url == str(demo_root / "cells.ome.zarr")


def test_recent_stores_never_save_credentials_at_any_depth_nor_in_urls(settings: Any) -> None:
    recent = RecentStores(settings)
    recent.add("s3://bucket/a.zarr", {"anon": False, "client_kwargs": {
        "aws_access_key_id": "NESTED-ID", "aws_secret_access_key": "NESTED-SECRET", "region_name": "eu-west-1"}})
    recent.add("https://host/b.zarr", {"headers": {"Authorization": "Bearer HEADER-TOKEN", "Cookie": "s=COOKIE"},
                                       "params": {"token": "PARAM-TOKEN", "version": "2"}})
    recent.add("https://user:URL-PASSWORD@host/c.zarr", None)
    recent.add("https://host/d.zarr?X-Amz-Signature=QUERY-SIG&X-Amz-Credential=QUERY-CRED&X-Amz-Date=20250101", None)
    recent.add("https://host/e.zarr?sig=SAS-SIG&sv=2022", {"key": "TOP-KEY", "profile": "lab"})
    recent.add("/data/local.zarr", {"secret": "LOCAL-SECRET"})
    text = Path(settings.fileName()).read_text()
    for secret in ("NESTED-ID", "NESTED-SECRET", "HEADER-TOKEN", "COOKIE", "PARAM-TOKEN", "URL-PASSWORD",
                   "QUERY-SIG", "QUERY-CRED", "SAS-SIG", "TOP-KEY", "LOCAL-SECRET"):
        assert secret not in text, secret
    entries = {r.url: r for r in recent.load()}
    assert list(entries) == ["/data/local.zarr", "https://host/e.zarr?sv=2022", "https://host/d.zarr?X-Amz-Date=20250101",
                             "https://host/c.zarr", "https://host/b.zarr", "s3://bucket/a.zarr"]
    assert entries["s3://bucket/a.zarr"].storage_options == {"anon": False, "client_kwargs": {"region_name": "eu-west-1"}}
    assert entries["https://host/b.zarr"].storage_options == {"params": {"version": "2"}}
    assert entries["https://host/e.zarr?sv=2022"].storage_options == {"profile": "lab"}
    # what was removed must be entered again; a local path needs no credentials
    assert [r.credentials_removed for r in entries.values()] == [False, True, True, True, True, True]


def test_a_password_in_the_url_is_not_shown_nor_saved(qtbot: Any, make_window: Any, http_server: Any,
                                                      zarr_stores: Any, settings: Any) -> None:
    zarr_stores.sample(str(Path(http_server.root) / "s.zarr"), 3)
    url = http_server.url_for("s.zarr").replace("http://", "http://user:URL-PASSWORD@")
    window = make_window()
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    open_and_wait(qtbot, window, url)
    plain = http_server.url_for("s.zarr")
    assert window.windowTitle() == f"zarr-browser — {plain}" and window.urlLabel.text() == plain
    assert messages and not any("URL-PASSWORD" in m for m in messages)
    assert window.recentStores()[0].url == plain
    assert "URL-PASSWORD" not in Path(settings.fileName()).read_text()


def test_recent_stores_keep_ten_newest(settings: Any) -> None:
    recent = RecentStores(settings)
    for i in range(12):
        recent.add(f"/data/{i}.zarr", None)
    recent.add("/data/3.zarr", {"anon": True})
    urls = [r.url for r in recent.load()]
    assert urls[0] == "/data/3.zarr" and len(urls) == 10 and urls.count("/data/3.zarr") == 1


def test_context_menu_copy_path_and_code(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, demo_root)
    cells = proxy_child(window, window.proxy.index(0, 0), "cells.ome.zarr")
    menu = window.contextMenuFor(cells)
    texts = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]  # (mnemonics: the menus')
    assert texts == ["Copy path", "Copy as code", "Open in napari", "Refresh", "Validate subtree"]
    napari = next(a for a in menu.actions() if a.text() == "Open in &napari")
    assert napari.isEnabled() == napari_available()  # napari and the zarr-browser reader installed
    assert napari.toolTip() == ("Open the node in napari" if napari_available() else "needs the napari plugin")
    next(a for a in menu.actions() if a.text() == "&Copy path").trigger()
    assert QGuiApplication.clipboard().text() == "/cells.ome.zarr"
    code_menu = next(a for a in menu.actions() if a.text() == "Copy as code").menu()
    assert [a.text() for a in code_menu.actions()] == ["zarr-python", "napari", "ome-zarr-py"]
    code_menu.actions()[0].trigger()
    code = QGuiApplication.clipboard().text()
    assert f"zarr.open_group({str(demo_root)!r}, path='cells.ome.zarr', mode=\"r\"" in code


def test_open_in_napari_is_refused_with_the_reason_for_arrays_that_are_no_image(qtbot: Any, make_window: Any,
                                                                                  tmp_path: Path) -> None:
    """A 1-D, text or empty array started napari in a new process to show no layer; the dock
    said why beforehand, the window did not (audit G, 10)."""
    import zarr

    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3)
    root.create_array("line", shape=(5,), dtype="f4")
    root.create_array("empty", shape=(0, 4), dtype="u1")
    root.create_array("image", shape=(4, 4), dtype="u1")
    window = make_window()
    open_and_wait(qtbot, window, store)
    top = window.proxy.index(0, 0)
    napari = window.napariAction
    for name, reason in (("line", "a 1-D float32 array is not an image"), ("empty", "the array is empty (0 × 4)"),
                         ("image", None)):
        window.tree.setCurrentIndex(proxy_child(window, top, name))
        if not napari_available():
            assert not napari.isEnabled()
        elif reason is None:
            assert napari.isEnabled() and napari.toolTip() == "Open the node in napari"
        else:
            assert not napari.isEnabled() and napari.toolTip() == f"Cannot be opened in napari: {reason}"


def test_validate_subtree_reports_in_the_status_bar(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, demo_root)
    window.tree.setCurrentIndex(proxy_child(window, window.proxy.index(0, 0), "plate.ome.zarr"))
    with qtbot.waitSignal(window.validationFinished, timeout=30_000) as done:
        window.validateAction.trigger()
    path, report = done.args
    assert path == "/plate.ome.zarr"
    assert report.nodes_checked >= 15
    assert window.statusBar().currentMessage().startswith(f"Validated {path}: ")


def test_refresh_rereads_the_selected_group(qtbot: Any, make_window: Any, tmp_path: Path, zarr_stores: Any) -> None:
    import zarr

    store = tmp_path / "s.zarr"
    zarr_stores.sample(str(store), 3)
    window = make_window()
    open_and_wait(qtbot, window, store)
    zarr.open_group(str(store), mode="a").create_group("fresh")
    qtbot.keyClick(window.tree, Qt.Key.Key_F5)
    window.refreshAction.trigger()  # F5 needs the window to be active; the action is what it runs
    qtbot.waitUntil(lambda: window.model.indexForPath("/fresh").isValid(), timeout=20_000)


def test_keys_of_the_tree_and_the_filter_box(qtbot: Any, make_window: Any, tmp_path: Path, zarr_stores: Any,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree has the focus once a store opens; '*' starts a wildcard in the filter box (Qt's
    own '*' listed every group below, for minutes on 10,000 groups); Down and Enter in the filter
    box go to the first match; Shift+F10 opens the row's context menu."""
    from qtpy.QtWidgets import QMenu

    store = tmp_path / "k.zarr"
    zarr_stores.sample(str(store), 3)
    window = make_window()
    window.show()
    open_and_wait(qtbot, window, store)
    assert window.tree.hasFocus() or QGuiApplication.focusWindow() is None  # offscreen may have no focus
    qtbot.keyClick(window.tree, Qt.Key.Key_Asterisk)
    assert window.filterEdit.text() == "*"
    assert not any(window.tree.isExpanded(window.proxy.index(r, 0, window.proxy.index(0, 0)))
                   for r in range(window.proxy.rowCount(window.proxy.index(0, 0))))
    window.filterEdit.clear()
    qtbot.keyClicks(window.filterEdit, "raw")
    qtbot.keyClick(window.filterEdit, Qt.Key.Key_Down)
    assert window.currentPath() == "/raw"
    shown: list[str] = []
    monkeypatch.setattr(QMenu, "exec", lambda menu, *args: shown.extend(a.text() for a in menu.actions()))
    qtbot.keyClick(window.tree, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    assert "&Copy path" in shown


def test_tab_goes_from_the_tree_through_the_breadcrumb_then_the_tabs(qtbot: Any, make_window: Any,
                                                                     demo_root: Path) -> None:
    """Tab stopped on the breadcrumb's scroll area, which shows no focus, and reached its segments
    only after the panel below them: they are made anew for each node (audit C, 13)."""
    from qtpy.QtWidgets import QApplication

    window = make_window()
    open_and_wait(qtbot, window, demo_root)
    done: list[bool] = []
    window.revealPath("/cells.ome.zarr/labels/nuclei", done.append)
    qtbot.waitUntil(lambda: done == [True], timeout=20_000)
    window.activateWindow()  # under Xvfb the window is not active by itself
    qtbot.waitUntil(window.isActiveWindow, timeout=20_000)
    window.tree.setFocus()
    qtbot.waitUntil(window.tree.hasFocus)
    order = []
    for _ in range(7):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        order.append(QApplication.focusWidget())
    breadcrumb = window.inspector.breadcrumb
    assert order == [*breadcrumb.segmentButtons(), breadcrumb._copy, breadcrumb._copy_url,
                     window.inspector.tabs.tabBar()]


def test_filter_box_filters_and_offers_consolidated_matches(qtbot: Any, make_window: Any, tmp_path: Path,
                                                             zarr_stores: Any) -> None:
    store = tmp_path / "c.zarr"
    zarr_stores.sample(str(store), 2, consolidate=True)
    window = make_window()
    open_and_wait(qtbot, window, store)
    window.findAction.trigger()
    assert window.filterEdit.hasFocus() or QGuiApplication.focusWindow() is None  # offscreen may have no focus
    qtbot.keyClicks(window.filterEdit, "mask")
    qtbot.waitUntil(lambda: window.unloadedList.isVisible(), timeout=5_000)
    assert [window.unloadedList.item(i).text() for i in range(window.unloadedList.count())] == ["/labels/mask"]
    assert "Matches not loaded yet (1)" in window.unloadedLabel.text()
    window.unloadedList.itemActivated.emit(window.unloadedList.item(0))
    qtbot.waitUntil(lambda: window.currentPath() == "/labels/mask", timeout=20_000)
    qtbot.waitUntil(lambda: not window.unloadedList.isVisible(), timeout=5_000)
    root = window.proxy.index(0, 0)
    assert [window.proxy.index(r, 0, root).data() for r in range(window.proxy.rowCount(root))] == ["labels"]
    window.filterEdit.clear()
    assert window.proxy.rowCount(root) == 4


def test_dropping_a_folder_opens_it(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(demo_root / "climate.zarr"))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.storeOpened, timeout=20_000):
        window.dropEvent(event)
    assert window.hierarchy().url == str(demo_root / "climate.zarr")


def test_open_url_dialog_parses_storage_options(qtbot: Any) -> None:
    dialog = OpenUrlDialog()
    qtbot.addWidget(dialog)
    dialog.urlEdit.setText(" s3://bucket/data.zarr ")
    dialog.anonymousCheck.setChecked(True)
    dialog.endpointEdit.setText("https://s3.example.org")
    dialog.optionsEdit.setPlainText("requester_pays=true\n# a comment\nblock_size=1048576\nprofile=lab")
    assert dialog.url() == "s3://bucket/data.zarr"
    assert dialog.storageOptions() == {"requester_pays": True, "block_size": 1048576, "profile": "lab",
                                       "anon": True, "endpoint_url": "https://s3.example.org"}
    dialog.optionsEdit.setPlainText("not an option")
    dialog.accept()
    assert dialog.errorLabel.isVisibleTo(dialog) and "KEY=VALUE" in dialog.errorLabel.text()


@pytest.fixture
def dialogs_shown(monkeypatch: pytest.MonkeyPatch) -> list[OpenUrlDialog]:
    """The Open URL dialogs the window shows; each is cancelled at once (no modal loop)."""
    from qtpy.QtWidgets import QDialog

    shown: list[OpenUrlDialog] = []

    def cancel(dialog: OpenUrlDialog) -> int:
        shown.append(dialog)
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(OpenUrlDialog, "exec", cancel)
    return shown


def test_open_url_dialog_offers_the_last_url_tried_even_when_it_failed(qtbot: Any, make_window: Any,
                                                                       demo_root: Path, dialogs_shown: list) -> None:
    window = make_window(policy=RequestPolicy(attempt_timeout=2, deadline=3, retries=0))
    open_and_wait(qtbot, window, demo_root)
    typo = "s3://bukcet/data.zarr"
    options = {"endpoint_url": f"http://127.0.0.1:{free_port()}", "key": "AKIA", "secret": "s3cr3t"}
    with qtbot.waitSignal(window.openFailed, timeout=20_000):
        window.openStore(typo, options)
    window.openUrlAction.trigger()
    dialog = dialogs_shown[-1]
    assert dialog.url() == typo and dialog.storageOptions() == options  # a typo is corrected, nothing retyped
    assert dialog.secretEdit.text() == "s3cr3t" and dialog.secretEdit.echoMode() == dialog.secretEdit.EchoMode.Password
    assert "s3cr3t" not in dialog.optionsEdit.toPlainText()


def test_s3_options_are_left_out_for_http_urls_with_a_note(qtbot: Any, make_window: Any, http_server: Any,
                                                          zarr_stores: Any) -> None:
    zarr_stores.sample(str(Path(http_server.root) / "s.zarr"), 3)
    url = http_server.url_for("s.zarr")
    dialog = OpenUrlDialog(url="s3://bucket/a.zarr", storage_options={
        "anon": True, "endpoint_url": "http://127.0.0.1:9", "key": "k", "requester_pays": True, "block_size": 1024,
        "client_kwargs": {"region_name": "eu-west-1", "trust_env": True}})
    qtbot.addWidget(dialog)
    assert not dialog.schemeLabel.isVisibleTo(dialog) and dialog.keyEdit.isEnabled()
    dialog.urlEdit.setText(url)  # the user types an http URL over the S3 one
    assert dialog.storageOptions() == {"block_size": 1024, "client_kwargs": {"trust_env": True}}
    assert dialog.schemeLabel.isVisibleTo(dialog) and not dialog.keyEdit.isEnabled()
    assert dialog.schemeLabel.text().startswith("Not used for http URLs (S3 options): ")
    assert sorted(dialog.leftOut()) == ["anon", "client_kwargs.region_name", "endpoint_url", "key", "requester_pays"]

    window = make_window()  # opened anyway: never aiohttp's "unexpected keyword argument"
    messages: list[str] = []
    window.statusBar().messageChanged.connect(messages.append)
    open_and_wait(qtbot, window, url, anon=True, endpoint_url="http://127.0.0.1:9", key="k")
    assert window.errorText() == "" and window.hierarchy().url == url.rstrip("/")
    assert any("without anon, endpoint_url, key" in m for m in messages)


def test_a_recent_store_whose_credentials_were_not_saved_asks_for_them(qtbot: Any, make_window: Any, s3_server: Any,
                                                                      zarr_stores: Any, tmp_path: Path, settings: Any,
                                                                      dialogs_shown: list) -> None:
    bucket = s3_server.new_bucket()
    zarr_stores.sample(str(tmp_path / "s.zarr"), 3)
    s3_server.upload_tree(tmp_path / "s.zarr", bucket, "s.zarr")
    window = make_window()
    open_and_wait(qtbot, window, f"s3://{bucket}/s.zarr", **s3_server.storage_options)
    again = make_window(window_settings=type(settings)(settings.fileName(), settings.format()))
    again.recentList.itemActivated.emit(again.recentList.item(0))
    dialog = dialogs_shown[-1]
    assert dialog.url() == f"s3://{bucket}/s.zarr" and dialog.endpointEdit.text() == s3_server.endpoint_url
    assert dialog.keyEdit.text() == dialog.secretEdit.text() == ""
    assert "not saved" in dialog.noteLabel.text() and dialog.noteLabel.isVisibleTo(dialog)
    assert again.hierarchy() is None


def test_parse_storage_options() -> None:
    assert parse_storage_options("") == {}
    assert parse_storage_options('{"client_kwargs": {"region_name": "eu"}}') == {"client_kwargs": {"region_name": "eu"}}
    assert parse_storage_options("anon = true\ntoken=abc") == {"anon": True, "token": "abc"}
    with pytest.raises(ValueError, match="line 2"):
        parse_storage_options("anon=true\noops")
    with pytest.raises(ValueError, match="JSON object"):
        parse_storage_options("[1, 2]")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_storage_options('{"anon": tru}')


# -- responsiveness (acceptance) -----------------------------------------------------------------


FREEZE = 1.0
"""Seconds without event processing that count as a frozen window."""


@pytest.mark.slow
@pytest.mark.parametrize(("where", "inspector"), [
    pytest.param("local", True, id="local"),
    pytest.param("http", True, marks=pytest.mark.network, id="http"),
    pytest.param("http", False, marks=pytest.mark.network, id="http-tree-only"),
])
def test_expanding_10k_arrays_shows_rows_fast_without_stalling(qtbot: Any, make_window: Any, many_root: Path,
                                                             make_http_server: Any, where: str, inspector: bool,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Acceptance: first rows within 0.5 s and no event-loop stall over 100 ms (× the timing factor).

    The window expands the store root (10,000 arrays, consolidated) as soon as it is open; the
    measurement starts there and runs until all 20 pages are in the tree.  ``inspector=False``
    replaces ``Inspector.setNode`` by a no-op, to measure the tree alone.
    """
    if where == "local":
        url = str(many_root / "many.zarr")
    else:
        url = make_http_server(many_root, latency=0.02).url_for("many.zarr")
    window = make_window()
    if not inspector:
        monkeypatch.setattr(window.inspector, "setNode", lambda hierarchy, node: None)
    model, proxy = window.model, window.proxy
    meter = StallMeter()
    marks: dict[str, float] = {}

    def opened(_url: str) -> None:
        marks["opened"] = time.perf_counter()
        meter.start()

    window.storeOpened.connect(opened)
    try:
        with qtbot.waitSignal(window.storeOpened, timeout=60_000):
            window.openStore(url)
        root = proxy.index(0, 0)
        qtbot.waitUntil(lambda: proxy.rowCount(root) > 1, timeout=10_000)
        first_rows = time.perf_counter() - marks["opened"]
        source_root = model.index(0, 0)
        while model.canFetchMore(source_root) or model.hasPendingOperations():
            if not model.hasPendingOperations():
                window.tree.scrollToBottom()  # the view asks for the next page at the end...
                if not model.hasPendingOperations():
                    model.fetchMore(source_root)  # ...once the scroll bar reaches it
            qtbot.waitUntil(lambda: not model.hasPendingOperations(), timeout=30_000)
        total = time.perf_counter() - marks["opened"]
        stall = meter.stop()
    finally:
        gc.unfreeze()  # the window froze what it loaded; give the memory back to later tests
        gc.collect()  # now, not in the next test's timed window (one 1.4 s stall seen there in a full run)
    # The figures are reported here and compared with the targets (first rows 0.5 s, stall 100 ms)
    # by benchmarks/bench_browser.py over repeated runs; a unit test asserts no timings beyond
    # "never freezes", which any store I/O on the GUI thread would break by seconds.
    print(f"\n[{where}{'' if inspector else ', tree only'}] 10,000 arrays: first rows {first_rows * 1000:.0f} ms, "
          f"all rows {total * 1000:.0f} ms, longest event-loop stall {stall * 1000:.0f} ms")
    assert proxy.rowCount(root) == 10_000
    assert first_rows < FREEZE
    assert stall < FREEZE


def test_tree_rows_are_in_natural_order(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    import zarr

    group = zarr.open_group(str(tmp_path / "n.zarr"), mode="w")
    for name in ("t10", "t9", "t1"):
        group.create_group(name)
    window = make_window()
    open_and_wait(qtbot, window, tmp_path / "n.zarr")
    root = window.proxy.index(0, 0)
    assert [window.proxy.index(r, 0, root).data() for r in range(3)] == ["t1", "t9", "t10"]
    window.tree.header().sectionClicked.emit(0)  # first click: ascending (natural)
    window.tree.header().sectionClicked.emit(0)  # second click: descending
    assert [window.proxy.index(r, 0, root).data() for r in range(3)] == ["t10", "t9", "t1"]
    header = window.tree.header()
    center = QPoint(header.sectionViewportPosition(0) + 5, header.height() // 2)
    for expected in (["t1", "t9", "t10"], ["t10", "t9", "t1"], ["t1", "t9", "t10"]):  # real clicks: Qt flips
        QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=center)  # the indicator first
        assert [window.proxy.index(r, 0, root).data() for r in range(3)] == expected
        assert header.sortIndicatorOrder() == (Qt.SortOrder.AscendingOrder if expected[0] == "t1"
                                               else Qt.SortOrder.DescendingOrder)


def test_sorting_and_filtering_many_rows_show_the_busy_cursor(qtbot: Any, make_window: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Qt sorts and filters on the GUI thread (0.5-0.9 s at 100,000 rows): the cursor says so,
    and is given back after."""
    import zarr
    from qtpy.QtWidgets import QApplication

    from zarr_browser.qt.browser_panel import BrowserPanel

    group = zarr.open_group(str(tmp_path / "n.zarr"), mode="w")
    for name in ("t10", "t9", "t1"):
        group.create_group(name)
    window = make_window()
    open_and_wait(qtbot, window, tmp_path / "n.zarr")
    monkeypatch.setattr(BrowserPanel, "BUSY_CURSOR_ROWS", 2)
    seen: list[Any] = []
    for name in ("sort", "setFilterText"):
        real = getattr(window.proxy, name)
        monkeypatch.setattr(window.proxy, name, lambda *args, real=real: (
            seen.append(QApplication.overrideCursor() and QApplication.overrideCursor().shape()), real(*args))[1])
    window.tree.header().sectionClicked.emit(0)
    window.panel._on_filter_changed("t1")
    window.panel._on_filter_changed("")
    assert seen == [Qt.CursorShape.WaitCursor] * 3
    assert QApplication.overrideCursor() is None
    monkeypatch.setattr(BrowserPanel, "BUSY_CURSOR_ROWS", 20_000)
    window.tree.header().sectionClicked.emit(0)
    assert seen[-1] is None  # few rows: no cursor change


# -- command line ---------------------------------------------------------------------------------


def test_cli_opens_the_window_with_url_and_storage_options(monkeypatch: pytest.MonkeyPatch) -> None:
    import zarr_browser.qt.app as app
    from zarr_browser.cli import main

    calls: list[tuple[Any, Any, bool, Any]] = []
    monkeypatch.setattr(app, "run_browser", lambda url, options, writable=False, policy=None, select=None:
                        calls.append((url, options, writable, select)) or 0)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert main(["s3://bucket/x.zarr", "--anon", "-O", "requester_pays=true"]) == 0
    assert main([]) == 0
    assert main(["--writable", "/data/x.zarr"]) == 0
    assert main(["/data/x.zarr", "--node", "/labels/cells"]) == 0  # selected in the window
    assert calls == [("s3://bucket/x.zarr", {"requester_pays": True, "anon": True}, False, None),
                     (None, None, False, None), ("/data/x.zarr", None, True, None),
                     ("/data/x.zarr", None, False, "/labels/cells")]


def test_the_window_opens_at_a_node(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    """`zarr-browser URL --node PATH`: PATH is below URL, which may itself be inside a store."""
    window = make_window()
    for url, select in ((demo_root / "cells.ome.zarr", "/labels/nuclei"), (demo_root / "cells.ome.zarr" / "labels",
                                                                           "nuclei")):
        with qtbot.waitSignal(window.storeOpened, timeout=20_000):
            window.openStore(str(url), select=select)
        qtbot.waitUntil(lambda: window.panel.currentPath() == "/labels/nuclei", timeout=20_000)
        assert window.hierarchy().url == str(demo_root / "cells.ome.zarr")


def test_timeout_is_honoured_by_the_window_and_by_napari(monkeypatch: pytest.MonkeyPatch) -> None:
    import zarr_browser.qt.app as app
    from zarr_browser import cli

    policies: list[Any] = []
    monkeypatch.setattr(app, "run_browser", lambda *args, policy=None, **kwargs: policies.append(policy) or 0)
    monkeypatch.setattr(cli, "_run_napari", lambda url, node, options, policy=None: policies.append(policy) or 0)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert cli.main(["http://127.0.0.1:9/x.zarr", "--timeout", "2"]) == 0
    assert cli.main(["http://127.0.0.1:9/x.zarr", "--napari", "--timeout", "2.5"]) == 0
    assert cli.main(["http://127.0.0.1:9/x.zarr"]) == 0
    assert policies == [RequestPolicy(deadline=2, attempt_timeout=2), RequestPolicy(deadline=2.5, attempt_timeout=2.5),
                        RequestPolicy()]
    command, _ = napari_command("http://127.0.0.1:9/x.zarr", "/", timeout=2.5)  # "Open in napari" keeps it
    assert command[-2:] == ["--timeout", "2.5"]


def test_open_in_napari_passes_storage_options_in_the_environment_not_on_the_command_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from zarr_browser import cli

    options = {"endpoint_url": "http://127.0.0.1:9", "key": "AKIA", "secret": "s3cr3t-value",
               "client_kwargs": {"region_name": "eu-west-1"}}
    command, environment = napari_command("s3://bucket/cells.ome.zarr", "/0", options)
    assert not any("s3cr3t" in part or "AKIA" in part for part in command)  # `ps` shows every user the argv
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(cli, "_run_napari", lambda *args, **kwargs: calls.append(args[:3]) or 0)
    monkeypatch.setenv(cli.STORAGE_OPTIONS_ENV, environment[cli.STORAGE_OPTIONS_ENV])
    assert cli.main(command[3:]) == 0  # the child's command line, as the child parses it
    assert calls == [("s3://bucket/cells.ome.zarr", "/0", options)]
    assert cli.STORAGE_OPTIONS_ENV not in os.environ  # napari's own children do not inherit them
    monkeypatch.setenv(cli.STORAGE_OPTIONS_ENV, "[1]")
    assert cli.main(command[3:]) == cli.EXIT_UNREADABLE
    # a password in the URL travels the same way: the command line holds the URL without it
    url = "https://alice:hunter2@127.0.0.1:9/x.zarr?token=t0k"
    command, environment = napari_command(url, "/")
    assert not any("hunter2" in part or "t0k" in part for part in command)
    calls.clear()
    monkeypatch.delenv(cli.STORAGE_OPTIONS_ENV, raising=False)
    monkeypatch.setenv(cli.URL_ENV, environment[cli.URL_ENV])
    assert cli.main(command[3:]) == 0 and calls[0][0] == url and cli.URL_ENV not in os.environ


def test_cli_without_a_display_falls_back_to_info(monkeypatch: pytest.MonkeyPatch, demo_root: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from zarr_browser.cli import main

    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    assert main([str(demo_root / "cells.ome.zarr")], out=out) == 0
    assert "cannot open the browser window" in capsys.readouterr().err
    assert "labels" in out.getvalue() and "ome-ngff 0.5" in out.getvalue()
    # what only the window does is not done: it is said (it was ignored without a word)
    assert main(["--writable", str(demo_root / "cells.ome.zarr"), "--node", "/nope"], out=io.StringIO()) == 0
    assert "(--writable and --node ignored: they need the window)" in capsys.readouterr().err
    # the demo too (its hand-built info arguments lacked --no-consolidated: exit 3, audit J, 1)
    out = io.StringIO()
    assert main(["demo", str(demo_root.parent / "demo-again")], out=out) == 0
    assert "cannot open the browser window for the demo" in capsys.readouterr().err
    assert out.getvalue().count("ome-ngff 0.5") >= 1 and "cf 1.10" in out.getvalue().lower()


# -- the filter keeps the user's place; loading messages end -------------------------------------


def test_filtering_keeps_the_selection_and_clearing_restores_the_tree(qtbot: Any, make_window: Any, tmp_path: Path,
                                                                       zarr_stores: Any) -> None:
    store = tmp_path / "s.zarr"
    zarr_stores.sample(str(store), 3)
    window = make_window()
    open_and_wait(qtbot, window, store)
    shown: list[str] = []
    window.inspector.nodeRequested.emit("/nested/deeper/values")
    qtbot.waitUntil(lambda: window.currentPath() == "/nested/deeper/values", timeout=20_000)
    window.revealPath("/labels/mask")
    qtbot.waitUntil(lambda: window.currentPath() == "/labels/mask", timeout=20_000)
    window.inspector.setNode = lambda hierarchy, node: shown.append(node.path)  # type: ignore[method-assign]

    def expanded(path: str) -> bool:
        return window.tree.isExpanded(window.proxy.mapFromSource(window.model.indexForPath(path)))

    window.findAction.trigger()
    qtbot.keyClicks(window.filterEdit, "ma")
    assert window.currentPath() == "/labels/mask", "the node still matches: it stays current"
    qtbot.keyClicks(window.filterEdit, "x")  # "max": nothing matches
    assert window.currentPath() is None, "a hidden node is not replaced by another one"
    assert shown == [], "the inspector keeps the user's node"
    assert window.proxy.rowCount() == 0
    assert window.panel.noMatchLabel.isVisible()
    assert window.panel.noMatchLabel.text().startswith("No node matches “max”")
    qtbot.keyClick(window.filterEdit, Qt.Key.Key_Backspace)
    assert window.currentPath() == "/labels/mask" and not window.panel.noMatchLabel.isVisible()
    qtbot.keyClicks(window.filterEdit, "zz")
    window.filterEdit.clear()
    assert window.currentPath() == "/labels/mask", "clearing the filter brings the selection back"
    assert shown == []
    for path in ("/", "/labels", "/nested", "/nested/deeper"):
        assert expanded(path), f"{path} is expanded again, as before filtering"
    assert not expanded("/empty")


def test_escape_in_the_filter_clears_it_and_only_then_cancels_loading(qtbot: Any, make_window: Any,
                                                                      demo_root: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, demo_root)
    window.activateWindow()  # shortcuts fire in the active window
    qtbot.waitUntil(window.isActiveWindow, timeout=20_000)
    window.findAction.trigger()
    qtbot.waitUntil(window.filterEdit.hasFocus, timeout=20_000)
    window.cancelAction.setEnabled(True)  # as while loading
    cancels: list[bool] = []
    window.cancelAction.triggered.connect(lambda: cancels.append(True))
    qtbot.keyClicks(window.filterEdit, "cells")
    qtbot.keyClick(window.filterEdit, Qt.Key.Key_Escape)
    assert window.filterEdit.text() == "" and cancels == [], "Esc clears the filter first"
    qtbot.keyClick(window.filterEdit, Qt.Key.Key_Escape)
    assert cancels == [True], "with the filter empty, Esc cancels loading"


def test_the_scroll_for_more_message_ends_when_every_child_is_loaded(qtbot: Any, make_window: Any, tmp_path: Path,
                                                                     make_many_group: Any) -> None:
    store = make_many_group(tmp_path / "m.zarr", 600, consolidate=False)
    window = make_window()
    messages: list[str] = []
    window.panel.statusMessage.connect(lambda text, _timeout: messages.append(text))
    open_and_wait(qtbot, window, store)
    root = window.model.indexForPath("/")
    if window.model.canFetchMore(root):
        window.model.fetchMore(root)  # what scrolling to the end does (the view may have done it)
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=20_000)
    assert window.model.rowCount(root) == 600
    assert "/: 500 of 600 children loaded — scroll down for more" in messages
    assert window.statusBar().currentMessage() == "/: all 600 children loaded"


def test_a_failed_open_shows_its_url_without_the_password(qtbot: Any, make_window: Any) -> None:
    window = make_window()
    with qtbot.waitSignal(window.openFailed, timeout=20_000):
        window.openStore(f"http://alice:hunter2@127.0.0.1:{free_port()}/x.zarr")
    assert "Could not open" in window.panel.errorBar.text()
    assert "hunter2" not in window.panel.errorBar.text() and "127.0.0.1" in window.panel.errorBar.text()


def test_a_url_inside_a_store_opens_the_store_at_that_node(qtbot: Any, make_window: Any, demo_root: Path,
                                                           http_server: Any) -> None:
    """A pyramid level opened on its own would lose its image (scales, units, channels): the
    window opens the enclosing store and selects the level - a local folder and a remote URL alike."""
    import shutil

    window = make_window()
    open_and_wait(qtbot, window, demo_root / "cells.ome.zarr" / "0")
    assert window.panel.hierarchy().url.endswith("cells.ome.zarr")
    qtbot.waitUntil(lambda: window.currentPath() == "/0", timeout=20_000)
    shutil.copytree(demo_root / "cells.ome.zarr", http_server.root / "cells.ome.zarr")
    open_and_wait(qtbot, window, http_server.url_for("cells.ome.zarr") + "/labels/nuclei")
    assert window.panel.hierarchy().url == http_server.url_for("cells.ome.zarr")
    qtbot.waitUntil(lambda: window.currentPath() == "/labels/nuclei", timeout=20_000)


@pytest.mark.network
def test_a_slow_preview_shows_as_work_under_way_and_can_be_cancelled(qtbot: Any, make_window: Any,
                                                                     http_server: Any) -> None:
    """Reading the selected node past a moment shows in the status bar with Cancel; Cancel stops
    it and the preview says so (a quick local selection does not flash the progress bar)."""
    import zarr

    group = zarr.open_group(str(http_server.root / "slow.zarr"), mode="w", zarr_format=3)
    group.create_array("a", shape=(64, 64), chunks=(32, 32), dtype="u1")[...] = 7
    http_server.faults.add("slow.zarr/a/c/*", "hang")
    window = make_window(policy=RequestPolicy(attempt_timeout=30, deadline=30, retries=0))
    open_and_wait(qtbot, window, http_server.url_for("slow.zarr"))
    qtbot.waitUntil(lambda: window.model.indexForPath("/a").isValid(), timeout=10_000)
    assert not window.cancelButton.isVisible()
    window.tree.setCurrentIndex(window.proxy.mapFromSource(window.model.indexForPath("/a")))
    qtbot.waitUntil(lambda: window.cancelButton.isVisible(), timeout=5_000)
    assert "Reading the selected node" in window.progressLabel.text()
    qtbot.mouseClick(window.cancelButton, Qt.MouseButton.LeftButton)
    assert not window.cancelButton.isVisible()
    assert window.inspector.overview.preview.message() == "Preview cancelled"


def test_the_name_column_widens_for_deep_trees(qtbot: Any, make_window: Any, tmp_path: Path) -> None:
    """At a fixed 215 px, names below about level 9 were indented out of sight."""
    import zarr

    path = "/".join(f"level{i:02d}" for i in range(20))
    zarr.open_group(tmp_path / "deep.zarr", mode="w").require_group(path)
    window = make_window()
    open_and_wait(qtbot, window, tmp_path / "deep.zarr")
    found: list[Any] = []
    window.revealPath("/" + path, found.append)
    qtbot.waitUntil(lambda: bool(found), timeout=20_000)
    index = window.proxy.mapFromSource(window.model.indexForPath("/" + path))
    rect = window.tree.visualRect(index)
    header = window.tree.header()
    assert rect.left() + 60 < header.sectionSize(0)  # the deepest name has room in its column


def test_a_big_tree_filters_once_typing_pauses(qtbot: Any, make_window: Any, tmp_path: Path, zarr_stores: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Each key filtered 100,000 rows on the GUI thread (0.25-0.45 s a key); above FILTER_PAUSE_ROWS
    loaded rows (and UNLOADED_NOW consolidated nodes) the filter waits for a pause."""
    from zarr_browser.qt.browser_panel import BrowserPanel
    from zarr_browser.qt.filter_model import HierarchyFilterModel

    monkeypatch.setattr(BrowserPanel, "FILTER_PAUSE_ROWS", 0)
    monkeypatch.setattr(HierarchyFilterModel, "UNLOADED_NOW", 0)
    store = tmp_path / "c.zarr"
    zarr_stores.sample(str(store), 2, consolidate=True)
    window = make_window()
    open_and_wait(qtbot, window, store)
    qtbot.keyClicks(window.filterEdit, "mas")
    assert window.proxy.filterText() == ""  # not yet
    qtbot.waitUntil(lambda: window.proxy.filterText() == "mas", timeout=5_000)
    qtbot.waitUntil(lambda: window.proxy.unloadedMatches() == ["/labels/mask"], timeout=5_000)
    window.filterEdit.clear()  # clearing applies at once
    assert window.proxy.filterText() == ""
    qtbot.keyClicks(window.filterEdit, "raw")
    qtbot.keyClick(window.filterEdit, Qt.Key.Key_Down)  # Down applies what was typed, then goes to it
    assert window.proxy.filterText() == "raw" and window.currentPath() == "/raw"


def test_close_store_and_copy_as_code_from_the_node_menu(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, demo_root / "cells.ome.zarr")
    window.codeMenu.aboutToShow.emit()
    assert [a.text() for a in window.codeMenu.actions()][:1] == ["zarr-python"]
    window.codeMenu.actions()[0].trigger()
    assert "zarr.open_group(" in QGuiApplication.clipboard().text()
    keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in window.closeStoreAction.shortcuts()]
    # every Close key of the platform, each named in the tooltip (only Ctrl+F4 worked under some; audit K, 10)
    assert keys == [k.toString(QKeySequence.SequenceFormat.NativeText)
                    for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Close)]
    assert keys and all(k in window.closeStoreAction.toolTip() for k in keys)
    window.closeStoreAction.trigger()
    assert window.hierarchy() is None and window.stack.currentIndex() == 0 and window.windowTitle() == "zarr-browser"
    window.codeMenu.aboutToShow.emit()
    assert not window.codeMenu.actions()[0].isEnabled()  # nothing to copy without a node


def test_the_context_menu_lists_the_rest_of_a_big_group(qtbot: Any, make_window: Any, tmp_path: Path,
                                                        make_many_group: Any) -> None:
    # pages of 500: the view may list a page or two more by itself as it lays out, never all of them
    store = make_many_group(tmp_path / "many.zarr", 2200, consolidate=False)
    window = make_window()
    open_and_wait(qtbot, window, store)
    qtbot.waitUntil(lambda: not window.model.hasPendingOperations(), timeout=10_000)
    root = window.proxy.index(0, 0)
    left = window.model.unlistedCount(window.proxy.mapToSource(root))
    assert left
    menu = window.panel.contextMenuFor(root)
    action = next(a for a in menu.actions() if a.text().startswith("List the other"))
    assert action.text() == f"List the other {left:,} children"
    action.trigger()
    qtbot.waitUntil(lambda: window.model.unlistedCount(window.proxy.mapToSource(root)) == 0, timeout=10_000)


def test_back_and_forward_through_the_nodes_shown_and_inspector_tabs_by_keyboard(
        qtbot: Any, make_window: Any, demo_root: Path) -> None:
    window = make_window()
    open_and_wait(qtbot, window, demo_root / "cells.ome.zarr")
    panel = window.panel

    def go(path: str) -> None:
        done: list[bool] = []
        panel.revealPath(path, done.append)
        qtbot.waitUntil(lambda: bool(done), timeout=10_000)
        assert done == [True]

    for path in ("/0", "/labels", "/labels/nuclei"):
        go(path)
    assert not panel.forwardAction.isEnabled() and panel.backAction.isEnabled()
    for action, expected in ((panel.backAction, "/labels"), (panel.backAction, "/0"), (panel.forwardAction, "/labels")):
        action.trigger()
        qtbot.waitUntil(lambda expected=expected: panel.currentPath() == expected, timeout=10_000)
    go("/1")  # a new node drops what was ahead
    assert not panel.forwardAction.isEnabled()
    panel.backAction.trigger()
    qtbot.waitUntil(lambda: panel.currentPath() == "/labels", timeout=10_000)
    assert panel.backAction.shortcut().toString() and panel.nextTabAction.shortcut().toString() == "Ctrl+PgDown"
    before = window.inspector.currentTab()
    panel.nextTabAction.trigger()
    after = window.inspector.currentTab()
    assert after != before and window.inspector.isTabVisible(after)
    panel.previousTabAction.trigger()
    assert window.inspector.currentTab() == before


def test_kind_and_shape_cells_show_the_rows_tooltip(qtbot: Any, make_window: Any, demo_root: Path) -> None:
    """A Shape cut off in a narrow tree (napari's dock) could not be read anywhere in the tree."""
    from qtpy.QtCore import QEvent
    from qtpy.QtGui import QHelpEvent
    from qtpy.QtWidgets import QApplication, QToolTip

    window = make_window()
    open_and_wait(qtbot, window, demo_root / "cells.ome.zarr")
    tree = window.panel.tree
    qtbot.waitUntil(lambda: window.panel.selectPath("/0"))
    index = tree.currentIndex().siblingAtColumn(HierarchyTreeModel.HEADERS.index("Shape"))
    assert index.data(Qt.ItemDataRole.ToolTipRole) is None  # not stored in every cell
    centre = tree.visualRect(index).center()
    event = QHelpEvent(QEvent.Type.ToolTip, centre, tree.viewport().mapToGlobal(centre))
    QApplication.sendEvent(tree.viewport(), event)
    qtbot.waitUntil(QToolTip.isVisible)
    assert "shape [" in QToolTip.text() and QToolTip.text().startswith("/0")
    QToolTip.hideText()


def test_the_heap_keeper_freezes_a_large_heap_and_thaws_it_with_its_store(qtbot: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Full collections walked the five million objects of 100,000 rows, up to 2.5 s each with
    the window frozen (audit C): the window's process keeps a large heap frozen while its store
    is shown, and thaws it when the store goes."""
    import gc

    from qtpy.QtWidgets import QWidget

    from zarr_browser.core import jsonio
    from zarr_browser.qt.app import HeapKeeper

    monkeypatch.setattr(HeapKeeper, "BIG_HEAP", 0)
    monkeypatch.setattr(jsonio, "KEEP_FROZEN", False)
    parent = QWidget()
    qtbot.addWidget(parent)
    shown: list[object | None] = [object()]
    keeper = HeapKeeper(parent, lambda: shown[0])
    try:
        keeper.start()
        assert jsonio.KEEP_FROZEN  # a large document parsed joins the frozen heap
        keeper.tick()
        assert gc.get_freeze_count() > 0
        shown[0] = None  # the store was closed
        keeper.tick()
        assert gc.get_freeze_count() == 0
        monkeypatch.setattr(HeapKeeper, "BIG_HEAP", 1 << 62)  # a small heap is left to the collector
        shown[0] = object()
        keeper.tick()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_the_window_process_hands_the_gil_to_the_gui_thread_within_a_millisecond(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Python's 5 ms switch interval, the window's first paint next to a worker parsing a
    20,000-node ``.zmetadata`` stalled 121–243 ms (the GUI thread waits up to 5 ms for the GIL
    each time it takes it back); the window's process sets 1 ms."""
    import gc
    import sys

    from zarr_browser.core import jsonio
    from zarr_browser.qt.app import GUI_SWITCH_INTERVAL, make_browser

    monkeypatch.setattr(jsonio, "KEEP_FROZEN", False)
    before = sys.getswitchinterval()
    window, runner, _keeper = make_browser()
    qtbot.addWidget(window)
    try:
        assert sys.getswitchinterval() == GUI_SWITCH_INTERVAL == 0.001
        assert jsonio.KEEP_FROZEN  # and its HeapKeeper runs: a large document parsed joins the frozen heap
    finally:
        runner.shutdown(cancel=True)
        sys.setswitchinterval(before)
        gc.unfreeze()


@pytest.mark.network
def test_ctrl_c_in_the_terminal_closes_the_window_cleanly(http_server: Any, zarr_stores: Any, tmp_path: Path) -> None:
    """Ctrl+C in the terminal that started the window (here while a hanging server is opened)
    printed a traceback from whatever slot ran next and aborted (SIGABRT; audit H, 4).  It closes
    the window as its close button does, and the process exits 130, as the commands do."""
    import os
    import signal
    import subprocess
    import sys
    import time

    zarr_stores.sample(str(http_server.root / "s.zarr"), 2)
    http_server.faults.add("s.zarr/*", "hang")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":999",
           "ZARR_BROWSER_SETTINGS": str(tmp_path / "settings.ini")}
    proc = subprocess.Popen([sys.executable, "-m", "zarr_browser", http_server.url_for("s.zarr")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not http_server.stats.requests and time.monotonic() < deadline:  # the window is up, asking
            time.sleep(0.1)
        assert proc.poll() is None and http_server.stats.requests
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted: closing the window" in err


@pytest.mark.network
def test_open_in_napari_says_it_is_starting_and_shows_a_failure(qtbot: Any, make_window: Any, http_server: Any,
                                                                zarr_stores: Any) -> None:
    """*Open in napari* started a process with no word in the window, and when it failed (HTTP
    403 here) the reason went to a terminal a desktop user does not have (audit H, 8)."""
    zarr_stores.sample(str(http_server.root / "s.zarr"), 2)
    window = make_window()
    open_and_wait(qtbot, window, http_server.url_for("s.zarr"))
    http_server.faults.add("*", "403")  # from now on: what napari's process reads is refused
    window.openCurrentInNapari("/")
    assert "Starting napari on /" in window.statusBar().currentMessage()
    assert len(window._napari_launches) == 1
    qtbot.waitUntil(lambda: not window._napari_launches, timeout=90_000)
    text = window.errorBar.text()
    assert window.errorBar.isVisible() and "napari could not open /" in text and "403" in text, text
