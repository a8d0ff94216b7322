"""The "Zarr browser" dock of napari: open a store, browse and inspect it, add any node as layers.

:class:`BrowserDock` composes a URL bar, a *node browser* and an "Open" button.  The node
browser is built by :func:`make_node_browser`: the
:class:`~zarr_browser.qt.browser_panel.BrowserPanel` of the standalone window (filter, lazy tree,
inspector below the tree) adapted to the small :class:`NodeBrowser` interface.  Double-clicking a
node (or Enter, "Open", or "Open in napari" in its context menu) adds it to this viewer.

Store I/O (opening, listing, planning layers) runs in worker threads; layers are added on the
GUI thread.  Layers added by this plugin carry ``metadata["zarr_browser"] = {"url", "path"}``;
selecting such a layer selects its node (opening its store first when needed).

The storage options a store was opened with (credentials included) are kept by URL for the
session, never in layer metadata: the layers of an S3 store opened with a key and an endpoint
reopen their store in the dock with them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from qtpy.QtCore import Qt
from qtpy.QtGui import QAction, QColor, QKeyEvent, QKeySequence, QPalette, QShowEvent
from qtpy.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.redact import redact_text
from zarr_browser.errors import ZarrBrowserError
from zarr_browser.qt.app import app_settings
from zarr_browser.qt.browser_panel import BrowserPanel, StoreView, absolute_url
from zarr_browser.qt.shortcuts import set_tip
from zarr_browser.qt.tree_model import HierarchyTreeModel
from zarr_browser.qt.workers import log_failure

if TYPE_CHECKING:
    import napari

    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import Node
    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.qt.recent import RecentStore
    from zarr_browser.qt.workers import Task
    from zarr_browser.streaming import LayerPlan, LayerSpec

__all__ = ["BrowserDock", "NodeBrowser", "NodeBrowserPanel", "make_node_browser"]

logger = logging.getLogger(__name__)

OPEN_TIP = "Add the selected node to the viewer as layers (or double-click it)"


def _alive(widget: QWidget) -> bool:
    """Whether the C++ side of *widget* still exists (a worker may finish after its widget died)."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


class NodeBrowser(Protocol):
    """What the dock needs from a node browser widget."""

    nodeActivated: Any  # Signal(str): a node path was double-clicked / chosen

    def set_hierarchy(self, hierarchy: Hierarchy | None) -> None: ...

    def select_path(self, path: str) -> None: ...

    def current_path(self) -> str | None: ...


class _GuardedRunner:
    """A :class:`~zarr_browser.qt.workers.ThreadRunner` whose callbacks are dropped once *owner* is gone.

    napari deletes its dock widgets without closing them: work finishing afterwards must not
    reach the dead panel.
    """

    def __init__(self) -> None:
        from qtpy.QtCore import QCoreApplication

        from zarr_browser.qt.workers import ThreadRunner

        self._runner = ThreadRunner()
        self.owner: QWidget | None = None
        # napari's window can close (and napari.run() return) with the dock still alive: the
        # application quitting abandons the work too (audit G, 3)
        self._app = QCoreApplication.instance()
        if self._app is not None:
            self._app.aboutToQuit.connect(self.shutdown)

    def _guard(self, callback: Callable[[Any], None] | None) -> Callable[[Any], None] | None:
        if callback is None:
            return None

        def guarded(value: Any) -> None:
            if self.owner is None or _alive(self.owner):
                callback(value)

        return guarded

    def submit(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None) -> Any:
        return self._runner.submit(fn, *args, on_done=self._guard(on_done), on_error=self._guard(on_error))

    def pending(self) -> int:
        return self._runner.pending()

    def shutdown(self) -> None:
        """Abandon the work under way: a dock only reads, and a server that hangs kept napari's
        process alive for the request deadline (13 s) after its window closed (audit G, 3)."""
        if self._app is not None:
            with contextlib.suppress(RuntimeError, TypeError):
                self._app.aboutToQuit.disconnect(self.shutdown)
            self._app = None
        self._runner.shutdown(cancel=True)


class NodeBrowserPanel(BrowserPanel):
    """The browser panel of ``zarr_browser.qt`` (tree above, inspector below) as a :class:`NodeBrowser`.

    "Open in napari" in its context menu emits ``openInNapariRequested``: the dock adds the node
    to its own viewer.
    """

    def __init__(self, registry: ConventionRegistry, parent: QWidget | None = None) -> None:
        runner = _GuardedRunner()
        super().__init__(runner=runner, registry=registry, orientation=Qt.Orientation.Vertical, parent=parent)
        runner.owner = self
        self.closesReplacedStores = False  # the layers opened from a store read from it
        # napari's dark stylesheet sets no alternate row colour (light rows under light text); a
        # narrow dock drops the dtype column (the inspector shows it)
        self.tree.setAlternatingRowColors(False)
        self.tree.setColumnHidden(HierarchyTreeModel.HEADERS.index("dtype"), True)
        self.setOpenInNapari(lambda: True, enabled_tip="Add the node to this viewer as layers (or double-click it)",
                             refusal=layers_refusal)
        # the window gives these keys its own actions; in napari they act while the dock has the focus
        self.refreshAction.setShortcut(QKeySequence(Qt.Key.Key_F5))
        set_tip(self.refreshAction)
        self.findAction = QAction("Filter names", self)
        self.findAction.setShortcut(QKeySequence.StandardKey.Find)
        set_tip(self.findAction, "Show the loaded nodes whose name matches")
        self.findAction.triggered.connect(self.focusFilter)
        for action in (self.refreshAction, self.findAction):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        # not a bound slot: when this fires, the C++ side of self is already gone
        self.destroyed.connect(lambda *_: runner.shutdown())
        self._work = runner

    def submit(self, fn: Callable[[], Any], *, on_done: Callable[[Any], None],
               on_error: Callable[[BaseException], None]) -> Task:
        """Run the dock's store work (planning layers) with the panel's runner: abandoned with
        the panel's own work when the panel goes or the application quits (a superqt worker
        was waited for by napari's quit, 12.6 s on a hanging server: audit G, 3)."""
        return self._work.submit(fn, on_done=on_done, on_error=on_error)

    # -- NodeBrowser -----------------------------------------------------------------------
    def set_hierarchy(self, hierarchy: Hierarchy | None) -> None:
        """Show *hierarchy* (its storage options go into the copy-as-code snippets)."""
        self.setHierarchy(hierarchy, storage_options=hierarchy.access.storage_options if hierarchy else None)

    def select_path(self, path: str) -> None:
        """Select the node at *path*, listing its ancestors first when needed."""
        self.revealPath("/" + path.strip("/"))

    def current_path(self) -> str | None:
        return self.currentPath()

    def current_opens_as_layers(self) -> bool:
        """Whether the current node is something napari shows (an array, an image, labels, a
        plate or well, a dataset), not a plain group whose children are what opens."""
        index = self.tree.currentIndex()
        if not index.isValid() or index.data(HierarchyTreeModel.StateRole) != HierarchyTreeModel.NODE:
            return False
        node = index.siblingAtColumn(0).data(HierarchyTreeModel.NodeRole)
        summary = index.siblingAtColumn(0).data(HierarchyTreeModel.SummaryRole)
        if node is None or not node.is_group:
            return True
        roles = {role for det in (summary.conventions if summary is not None else ()) for role in det.roles}
        return bool(roles & {"image", "label-image", "labels", "plate", "well", "bioformats2raw", "dataset"})

    def current_refusal(self) -> str | None:
        """Why the current node cannot be added to the viewer, known from its metadata (None: it may)."""
        current = self._current_node()
        return layers_refusal(current[0]) if current is not None and current[0] is not None else None

    def is_busy(self) -> bool:
        """Whether listing, opening or inspecting is under way (for tests)."""
        return self.isBusy()


def layers_refusal(node: Node) -> str | None:
    """Why *node* cannot become layers, from its metadata alone (None: it may, or only planning
    tells): an array of fewer than two dimensions, of values napari cannot draw, or empty.  The
    dock offered to open them and said so only afterwards (audit G, 10)."""
    from zarr_browser.streaming import not_an_image

    why = not_an_image(node.array) if node.is_array and node.array is not None else None
    return f"Cannot be added to the viewer: {why}" if why else None


def make_node_browser(registry: ConventionRegistry, parent: QWidget | None = None) -> NodeBrowserPanel:
    """The node browser of the dock: the tree and the inspector of the standalone window, stacked."""
    return NodeBrowserPanel(registry, parent)


class BrowserDock(QWidget):
    """The "Zarr browser" dock widget: open a store, browse it, add nodes to the viewer.

    The URL box loads a store (Enter; the button reads *Cancel* while it opens, as Esc does) and
    lists the stores opened recently, in the dock or in the window; errors show in the browser's
    error bar, the store shown stays.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from zarr_browser.core.conventions import default_registry

        self.viewer = napari_viewer
        self.registry = default_registry()
        self._plans: list[tuple[Task, Hierarchy, str]] = []  # layers being planned: (task, store, node)
        #: stores shown before whose layers are in the viewer, by URL: shown again at once, as they
        #: were left, when one of their layers is chosen (they were reopened and relisted: audit G, 5)
        self._kept: dict[str, StoreView] = {}
        self._retired: list[Hierarchy] = []  # replaced by a fresh copy (Load): closed once unused
        self._pending_select: str | None = None
        self._opening: str | None = None
        self._adding = False  # layers are being added by the dock itself
        #: the storage options of each store opened, by URL (as given and as opened)
        self._storage_options: dict[str, dict[str, Any]] = {}

        self.url_edit = QLineEdit(self)
        self.url_edit.setPlaceholderText("path, .zip, http(s):// or s3:// URL")
        self.url_edit.setToolTip("The store to browse: a folder, a .zip, an http(s):// or s3:// URL "
                                 "(Enter loads it; a path inside a store opens the store at that node)")
        self.recent_button = QToolButton(self)
        self.recent_button.setArrowType(Qt.ArrowType.DownArrow)
        self.recent_button.setToolTip("Stores opened recently (here and in the zarr-browser window), "
                                      "storage options, Close store")
        self.recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_menu = QMenu(self.recent_button)
        self.recent_button.setMenu(self.recent_menu)
        self.load_button = QPushButton("Load", self)
        self.load_button.setToolTip("Open the store named in the box")
        self.browser = make_node_browser(self.registry, self)
        # the tree and inspector want the dock's height: napari pads a dock none of whose widgets
        # expands vertically with a stretch whose factor grows with every dock it adds (a global
        # counter), so each reopening left the tree less room (187, 59, 32 px: audit G, 1)
        policy = self.browser.sizePolicy()
        policy.setVerticalPolicy(QSizePolicy.Policy.Expanding)
        self.browser.setSizePolicy(policy)
        self.open_button = QPushButton("Open", self)
        self.open_button.setToolTip(OPEN_TIP)
        self.open_button.setEnabled(False)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.cancel_action = QAction("Cancel loading", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.cancel_action.setEnabled(False)  # Esc clears the filter box otherwise
        set_tip(self.cancel_action, "Stop opening the store")
        self.addAction(self.cancel_action)
        self.options_action = QAction("Open URL with storage options…", self)
        self.options_action.setToolTip("Endpoint, credentials, anonymous access and other storage options "
                                       "for the URL in the box")
        # napari binds no Ctrl+L (its menus, viewer and layer keymaps): anywhere in the window, as
        # in a web browser's address bar; from the canvas the URL box was 16 Tabs away (audit G, 12)
        self.focus_url_action = QAction("Go to the URL box", self)
        self.focus_url_action.setShortcut(QKeySequence("Ctrl+L"))
        self.focus_url_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        set_tip(self.focus_url_action, "Put the focus in the URL box")
        self.addAction(self.focus_url_action)
        # no Ctrl+W: napari's window has it (Close Window)
        self.close_action = QAction("Close store", self)
        self.close_action.setToolTip("Stop showing the store (its layers stay and reopen it when chosen)")
        self.close_action.setEnabled(False)

        bar = QHBoxLayout()
        bar.setSpacing(2)
        bar.addWidget(self.url_edit)
        bar.addWidget(self.recent_button)
        bar.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.open_button)
        layout.addWidget(self.status)
        self._connect()
        self._follow_theme()

    def _connect(self) -> None:
        self.load_button.clicked.connect(self._on_load_clicked)
        self.url_edit.returnPressed.connect(self._on_load_clicked)
        self.url_edit.textEdited.connect(lambda _text: self._mark_url(failed=False))
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.cancel_action.triggered.connect(self.cancel)
        self.options_action.triggered.connect(self._on_options_requested)
        self.close_action.triggered.connect(self.close_store)
        self.focus_url_action.triggered.connect(self.focus_url)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.browser.nodeActivated.connect(self._on_node_activated)
        self.browser.openInNapariRequested.connect(self.open_path)
        self.browser.statusMessage.connect(self._on_browser_message)
        self.browser.storeOpened.connect(self._on_store_opened)
        self.browser.openFailed.connect(self._on_open_failed)
        self.browser.storeSetAside.connect(self._on_store_set_aside)
        self.browser.busyChanged.connect(self._on_busy_changed)
        current = self.browser.currentPathChanged
        tree = self.browser.tree
        current.connect(self._update_open_button)
        # what the user chooses (a click, the keyboard in the tree), not rows the dock selects
        # itself (a store opening, a layer chosen in napari): that moved napari's active layer
        current.connect(lambda path: self._on_node_selected(path) if tree.hasFocus() else None)
        tree.clicked.connect(lambda _index: self._on_node_selected(self.browser.current_path() or ""))
        theme_events = getattr(getattr(self.viewer, "events", None), "theme", None)
        if theme_events is not None:
            theme_events.connect(self._follow_theme)
            self.destroyed.connect(lambda *_: _disconnect(theme_events, self._follow_theme))
        for events, callback in ((self.viewer.layers.selection.events.active, self._on_layers_active),
                                 (self.viewer.layers.events.removed, self._on_layers_removed)):
            events.connect(callback)
            # not a bound slot: when this fires, the C++ side of self is already gone
            self.destroyed.connect(lambda *_, e=events, c=callback: _disconnect(e, c))

    def _follow_theme(self, _event: Any = None) -> None:
        """Give the dock the palette of napari's theme: napari styles widgets with a stylesheet
        and leaves the palette as it was, so alternate table rows (a palette colour) were
        near-white with pale text under the dark theme (audit A)."""
        try:
            from napari.utils.theme import get_theme

            theme = get_theme(self.viewer.theme)
            palette = self.palette()
            for role, name in ((QPalette.ColorRole.Base, "background"), (QPalette.ColorRole.AlternateBase, "foreground"),
                               (QPalette.ColorRole.Text, "text"), (QPalette.ColorRole.WindowText, "text"),
                               (QPalette.ColorRole.Mid, "primary")):
                palette.setColor(role, QColor(getattr(theme, name).as_hex()))
            # links (the inspector's "Label image of ...") were Qt's #0000ff on the dark grey
            link = _readable(QColor(theme.current.as_hex()), QColor(theme.background.as_hex()))
            palette.setColor(QPalette.ColorRole.Link, link)
            palette.setColor(QPalette.ColorRole.LinkVisited, link)
            self.setPalette(palette)
        except Exception:  # boundary: a theme napari cannot describe leaves Qt's palette
            logger.debug("zarr-browser: cannot follow napari's theme", exc_info=True)

    def showEvent(self, event: QShowEvent | None) -> None:
        """Take the keyboard focus when napari shows the dock (Plugins ▸ Zarr browser): the URL
        box when no store is shown, else the tree; it stayed on the canvas (audit G, 12).  A store
        on its way (the reader showing the dock) takes it when it opens, or not, as asked."""
        super().showEvent(event)
        if event is not None and event.spontaneous():
            return  # the window shown again (un-minimised): the focus is where it was
        if self.hierarchy is None and self._opening is None:
            self.focus_url()
        elif self.hierarchy is not None and not self.isAncestorOf(QApplication.focusWidget()):
            self.browser.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def focus_url(self) -> None:
        """Put the keyboard focus in the URL box, its text selected (Ctrl+L)."""
        self.url_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.url_edit.selectAll()

    def keyPressEvent(self, event: QKeyEvent | None) -> None:
        """Keep the keys the dock's widgets leave unused: they went on to napari's window, which
        hands them to the viewer's keymap (Ctrl+Delete in the tree deleted the layers the node
        had selected, Ctrl+R reset the view: audit G, 7).  Shortcuts, the dock's own and
        napari's menus', act before a key is pressed and still do."""
        if event is not None:
            event.accept()

    def keyReleaseEvent(self, event: QKeyEvent | None) -> None:
        if event is not None:
            event.accept()

    # -- public API ------------------------------------------------------------------------
    @property
    def hierarchy(self) -> Hierarchy | None:
        """The store shown (the browser's: a failed or cancelled load leaves it as it was)."""
        return self.browser.hierarchy()

    @property
    def policy(self) -> RequestPolicy | None:
        """Request deadlines and retries for the stores the dock opens (None: the defaults)."""
        return self.browser.policy()

    @policy.setter
    def policy(self, policy: RequestPolicy | None) -> None:
        self.browser.setPolicy(policy)

    def show_store(self, url: str, *, select: str | None = None,
                   storage_options: dict[str, Any] | None = None, focus: bool = False,
                   reload: bool = False) -> None:
        """Open *url* in the dock (in a worker), then select *select* when given.

        A later request supersedes a load still under way.  The store shown is only selected in,
        unless *reload*; a store shown before and kept for its layers is shown again at once,
        its tree as it was left, unless *reload*.  *storage_options* are kept for *url* (:meth:`set_storage_options`):
        without them, the options *url* was opened with before are used again.  The tree takes
        the keyboard focus once the store shows when *focus*.
        """
        url = absolute_url(url.strip())
        if storage_options is not None:
            self.set_storage_options(url, storage_options)
        options = self._storage_options.get(url)
        self.url_edit.setText(url)
        self._mark_url(failed=False)
        self._pending_select = select
        view = self._kept.pop(url, None) if not reload else None
        if view is not None:  # shown before, and kept for its layers: at once, as it was left
            self._opening = self._pending_select = None
            self.browser.showView(view, select=select, focus=focus)
            return
        if not reload and self.hierarchy is not None and self.hierarchy.url == url:
            self._opening = None  # a load of another store still on its way is superseded
            self.browser.cancelOpen(report=False)
            self._apply_pending_select()
            return
        if self._opening == url and not reload:
            return  # already on its way; the selection applies when it is open
        self._opening = url
        self.status.setText(redact_text(f"opening {url} …"))
        self.browser.openStore(url, options, focus=focus)

    def cancel(self) -> None:
        """Stop loading: the store being opened (the one shown stays), listings, validation, and
        the nodes being planned as layers (nothing of theirs is added)."""
        opening = self._opening
        self._opening = self._pending_select = None
        planning = self._planning()
        for task, _hierarchy, _path in planning:
            task.cancel()
        self.browser.cancelPending()
        if opening is not None:
            self.url_edit.setText(self.hierarchy.url if self.hierarchy is not None else "")
            self._show_current()
        if planning:  # the plans' stores may be unused now
            paths = ", ".join(dict.fromkeys(path for _task, _hierarchy, path in planning))
            self.status.setText(redact_text(f"Cancelled adding {paths} to the viewer"))
            self._update_planning()
            self._release_unused()

    def close_store(self) -> None:
        """Stop showing the store (loads under way stop too); close it unless layers read from it
        (then it is kept, and shown again as it was when one of them is chosen).

        The dock had no way to drop a store (a large, slow or credentialed one) but opening
        another (audit G, 6).
        """
        view = self.browser.view()
        self.cancel()
        if view is None:
            return
        self.browser.set_hierarchy(None)
        self.url_edit.clear()
        self._mark_url(failed=False)
        self.open_button.setEnabled(False)
        self.close_action.setEnabled(False)
        self.status.setText(redact_text(f"Closed {view.hierarchy.url}"))
        self._on_store_set_aside(view)  # kept while layers read from it, else closed

    def set_storage_options(self, url: str, storage_options: dict[str, Any]) -> None:
        """Open *url* with *storage_options* from now on (when its layers are selected too)."""
        self._storage_options[url] = dict(storage_options)

    def open_path(self, path: str) -> None:
        """Add the node at *path* to the viewer (planned in a worker, added on the GUI thread).

        A node open already is not added again: its layers are selected (and shown) instead;
        napari's *Duplicate Layer* makes copies.  Which layers are the node's is known once it is
        planned: a labels group, a well or a dataset records its layers under their own nodes.
        """
        hierarchy = self.hierarchy
        if hierarchy is None:
            return
        from zarr_browser._reader import plan_node

        self.status.setText(redact_text(f"opening {path} …"))
        registry = self.registry
        task = self.browser.submit(lambda: plan_node(hierarchy, path, registry),
                                   on_done=lambda plan: self._on_plan_ready(hierarchy, path, plan),
                                   on_error=lambda err: self._on_error(err, path))
        self._plans = [*self._planning(), (task, hierarchy, path)]
        self._update_planning()

    def is_busy(self) -> bool:
        """Whether store work is under way (for tests)."""
        busy = getattr(self.browser, "is_busy", None)
        return bool(self._planning()) or bool(busy and busy())

    def _planning(self) -> list[tuple[Task, Hierarchy, str]]:
        """The nodes being planned as layers (neither done nor cancelled)."""
        return [plan for plan in self._plans if not plan[0].done and not plan[0].cancelled]

    def _update_planning(self) -> None:
        """While nodes are planned as layers, Esc cancels them, and the Open button reads Cancel:
        on a slow server the layers came seconds later whatever the user did (Esc did nothing)."""
        planning = self._planning()
        self.cancel_action.setEnabled(bool(planning) or bool(self.browser.busyText()))
        if planning:
            paths = ", ".join(dict.fromkeys(path for _task, _hierarchy, path in planning))
            self.open_button.setText("Cancel")
            self.open_button.setToolTip(redact_text(f"Stop adding {paths} to the viewer (Esc)"))
            self.open_button.setEnabled(True)
        else:
            self.open_button.setText("Open")
            self._update_open_button(self.browser.current_path() or "")

    def kept_stores(self) -> list[str]:
        """The URLs of the stores kept open for their layers, besides the one shown (for tests)."""
        return list(self._kept)

    def _urls_in_use(self) -> set[str]:
        """The stores layers of the viewer read from, or nodes being planned will (by URL: napari's
        Duplicate Layer copies a layer's metadata and its data)."""
        urls = {info["url"] for layer in self.viewer.layers
                if isinstance(info := layer.metadata.get("zarr_browser"), dict) and isinstance(info.get("url"), str)}
        urls.update(hierarchy.url for _task, hierarchy, _path in self._planning())
        return urls

    def _on_store_set_aside(self, view: StoreView) -> None:
        """The store of *view* is no longer shown: kept while layers read from it, else closed."""
        shown = self.hierarchy
        if shown is not None and shown.url == view.hierarchy.url:  # loaded again: the fresh copy is shown
            self._retired.append(view.hierarchy)
        else:
            previous = self._kept.get(view.hierarchy.url)
            if previous is not None and previous.hierarchy is not view.hierarchy:
                self._retired.append(previous.hierarchy)
            self._kept[view.hierarchy.url] = view
        self._release_unused()

    def _on_layers_removed(self, _event: Any = None) -> None:
        self._release_unused()

    def _release_unused(self) -> None:
        """Close the stores kept for layers that are gone: the kept stores are never more than
        the stores of the layers in the viewer."""
        in_use = self._urls_in_use()
        shown = self.hierarchy
        for url in [url for url in self._kept if url not in in_use]:
            hierarchy = self._kept.pop(url).hierarchy
            if hierarchy is not shown:
                self._close(hierarchy)
        retired, self._retired = self._retired, []
        for hierarchy in retired:
            if hierarchy.url in in_use:
                self._retired.append(hierarchy)
            elif hierarchy is not shown:
                self._close(hierarchy)

    def _close(self, hierarchy: Hierarchy) -> None:
        """Close *hierarchy* in a worker (closing a remote store may talk to the network)."""
        url = redact_text(hierarchy.url)
        self.browser.submit(hierarchy.close, on_done=lambda _none: None,
                            on_error=lambda err: log_failure(logger, "closing %s", url, err=err))

    # -- slots -----------------------------------------------------------------------------
    def _on_load_clicked(self) -> None:
        if self._opening is not None:  # the button reads "Cancel" while a store opens
            self.cancel()
            return
        url = self.url_edit.text().strip()
        if url:
            self.show_store(url, focus=True, reload=True)  # load again, even the store shown

    def _on_busy_changed(self, text: str) -> None:
        self.cancel_action.setEnabled(bool(text) or bool(self._planning()))
        opening = self.browser.isOpening()
        self.load_button.setText("Cancel" if opening else "Load")
        self.load_button.setToolTip("Stop opening the store (Esc)" if opening else "Open the store named in the box")

    def _mark_url(self, *, failed: bool) -> None:
        """Mark the URL box as naming a store that could not be opened (until it is edited)."""
        self.url_edit.setStyleSheet("QLineEdit { border: 1px solid #dc2626; }" if failed else "")
        self.url_edit.setProperty("failed", failed)

    def _fill_recent_menu(self) -> None:
        from zarr_browser.qt.recent import RecentStores

        self.recent_menu.clear()
        entries = RecentStores(app_settings()).load()
        for entry in entries:
            action = self.recent_menu.addAction(redact_text(entry.url))
            if action is not None:
                action.triggered.connect(lambda _checked=False, e=entry: self._open_recent(e))
        if not entries:
            placeholder = self.recent_menu.addAction("No recent stores")
            if placeholder is not None:
                placeholder.setEnabled(False)
        self.recent_menu.addSeparator()
        self.recent_menu.addAction(self.options_action)
        self.recent_menu.addAction(self.close_action)

    def _open_recent(self, entry: RecentStore) -> None:
        """Open a recent store; one whose credentials were not saved asks for them first."""
        if entry.credentials_removed and entry.url not in self._storage_options:
            self.ask_url(entry.url, entry.storage_options,
                         "The credentials this store was opened with were not saved: enter them again "
                         "(or open it as it is, with the credentials of the environment).")
            return
        if entry.storage_options or entry.url not in self._storage_options:
            self.set_storage_options(entry.url, entry.storage_options)
        self.show_store(entry.url, focus=True, reload=True)

    def _on_options_requested(self) -> None:
        text = self.url_edit.text().strip()
        url = absolute_url(text) if text else ""
        self.ask_url(url, self._storage_options.get(url, {}))

    def ask_url(self, url: str, storage_options: dict[str, Any], note: str = "") -> bool:
        """Ask for a URL and its storage options (the browser window's Open URL dialog), then open
        it; whether the dialog was accepted."""
        from qtpy.QtWidgets import QDialog

        from zarr_browser.qt.window import OpenUrlDialog

        dialog = OpenUrlDialog(self, url=url, storage_options=storage_options, note=note)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return False
        self.show_store(dialog.url(), storage_options=dialog.storageOptions(), focus=True, reload=True)
        return True

    def _update_open_button(self, path: str) -> None:
        if self._planning():  # it reads Cancel (_update_planning)
            return
        refusal = self.browser.current_refusal() if path else None
        self.open_button.setEnabled(bool(path) and refusal is None)
        self.open_button.setToolTip(refusal or OPEN_TIP)

    def _on_node_activated(self, path: str) -> None:
        """Double-click or Enter: add the node to the viewer - unless it is a plain group (a
        double-click expands it; its children are what opens; the Open button still adds it)
        or cannot become layers."""
        refusal = self.browser.current_refusal() if path == self.browser.current_path() else None
        if refusal is not None:
            self.status.setText(redact_text(f"{path}: {refusal[0].lower()}{refusal[1:]}"))
            return
        opens = getattr(self.browser, "current_opens_as_layers", None)
        if opens is not None and not opens():
            self.status.setText(redact_text(f"{path}: a group - its arrays and images open from the rows below it"))
            return
        self.open_path(path)

    def _on_open_clicked(self) -> None:
        if self._planning():  # the button reads "Cancel" while nodes are planned
            self.cancel()
            return
        path = self.browser.current_path()
        if path is not None:
            self.open_path(path)

    def _on_browser_message(self, text: str, _timeout: int) -> None:
        if text:
            self.status.setText(redact_text(text))

    def _on_store_opened(self, _url: str) -> None:
        hierarchy = self.browser.hierarchy()
        if hierarchy is None:
            return
        self._opening = None
        self.close_action.setEnabled(True)
        kept = self._kept.pop(hierarchy.url, None)
        if kept is not None and kept.hierarchy is not hierarchy:  # loaded again (Load): the fresh copy is shown
            self._retired.append(kept.hierarchy)
            self._release_unused()
        requested, options = self.browser.requestedUrl(), self.browser.storageOptions()
        if options:  # the layers name the store by the URL it has once opened
            self._storage_options[hierarchy.url] = dict(options)
        self.url_edit.setText(requested)
        self.status.setText(redact_text(hierarchy.url))
        self._apply_pending_select()
        try:
            from zarr_browser.qt.recent import RecentStores

            RecentStores(app_settings()).add(requested, options)
        except Exception:  # boundary: the settings file is the user's; the store is open anyway
            logger.warning("zarr-browser dock: cannot remember %s", redact_text(requested), exc_info=True)

    def _apply_pending_select(self) -> None:
        if self._pending_select is not None:
            path, self._pending_select = self._pending_select, None
            self.browser.select_path(path)

    def _on_plan_ready(self, hierarchy: Hierarchy, path: str, plan: LayerPlan) -> None:
        self._update_planning()
        try:
            self._add_planned(hierarchy, path, plan)
        finally:
            self._release_unused()  # a store set aside meanwhile, and nothing added from it

    def _add_planned(self, hierarchy: Hierarchy, path: str, plan: LayerPlan) -> None:
        import dataclasses

        from zarr_browser._reader import open_node

        missing, present = self._planned_layers(hierarchy.url, plan)
        if present and not missing:
            self._select_layers(present)
            for layer in present:
                layer.visible = True
            self.status.setText(redact_text(
                f"{path} is open already: {_count(len(present), 'layer')} selected "
                "(napari's Duplicate Layer makes copies)"))
            return
        self._adding = True  # napari makes the last layer added active: the dock stays on the node opened
        try:
            _, added = open_node(self.viewer, hierarchy, path, self.registry,
                                 plan=dataclasses.replace(plan, specs=tuple(missing)))
            if present:  # in the plan's order on top (labels opened before their image stay above it)
                _, ordered = self._planned_layers(hierarchy.url, plan)
                for layer in ordered:
                    self.viewer.layers.move(self.viewer.layers.index(layer), len(self.viewer.layers))
        finally:
            self._adding = False
        message = f"{path}: {len(added)} layer(s) added"
        if present:
            message += f", {len(present)} open already"
        if plan.messages:  # nothing added: what the plan says is the whole story
            message = " ".join(plan.messages) if not added and not present else message + " — " + " ".join(plan.messages)
        self.status.setText(redact_text(message))

    def _planned_layers(self, url: str, plan: LayerPlan) -> tuple[list[LayerSpec], list[Any]]:
        """The specs of *plan* the viewer does not show yet, and the layers of those it does.

        A layer is a spec's when it records the spec's store, node, role and channel (opening a
        labels group, a well or a dataset again added a second set of layers: audit G, 2).
        """
        layers: dict[tuple[Any, Any, Any], Any] = {}
        for layer in self.viewer.layers:
            info = layer.metadata.get("zarr_browser")
            if isinstance(info, dict) and info.get("url") == url:
                layers.setdefault((info.get("path"), info.get("role"), info.get("channel")), layer)
        missing: list[LayerSpec] = []
        present: list[Any] = []
        for spec in plan.specs:
            split = spec.kwargs.get("channel_axis") is not None  # one layer a channel (layer_data)
            channels: list[int | None] = list(range(len(spec.kwargs["name"]))) if split else [None]
            found = [layers.get((spec.path, spec.role, channel)) for channel in channels]
            if all(layer is not None for layer in found):
                present.extend(found)
            else:
                missing.append(spec)
        return missing, present

    def _on_open_failed(self, url: str, reason: str) -> None:
        """The panel could not open *url*: its error bar says why; the store shown (if any) stays."""
        self._opening = self._pending_select = None
        logger.info("zarr-browser dock: cannot open %s: %s", redact_text(url), reason)
        self._mark_url(failed=True)
        self._show_current()

    def _show_current(self) -> None:
        """The status line names the store shown (empty without one)."""
        self.status.setText(redact_text(self.hierarchy.url) if self.hierarchy is not None else "")

    def _on_error(self, err: BaseException, path: str) -> None:
        self._update_planning()
        self._release_unused()
        if isinstance(err, ZarrBrowserError):
            # the user's mistake or the store's (an unreadable node): the dock's error bar says it;
            # napari would show a warning logged with a traceback as a crash
            logger.info("zarr-browser dock: %s", err)
        else:
            logger.warning("zarr-browser dock: unexpected error: %s", err, exc_info=err)
        self.status.setText("")
        self.browser.errorBar.showError(redact_text(f"Could not open {path}: {err}"))

    def _layers_of(self, path: str) -> list[Any]:
        """The layers of the viewer opened from the node at *path* of the store shown, or else
        those opened from the nodes below it (a labels group's, a well's, a dataset's)."""
        if self.hierarchy is None:
            return []
        url = self.hierarchy.url
        paths = [info.get("path") if isinstance(info := layer.metadata.get("zarr_browser"), dict)
                 and info.get("url") == url else None for layer in self.viewer.layers]
        layers = [layer for layer, at in zip(self.viewer.layers, paths, strict=True) if at == path]
        below = path.rstrip("/") + "/"
        return layers or [layer for layer, at in zip(self.viewer.layers, paths, strict=True)
                          if isinstance(at, str) and at.startswith(below)]

    def _select_layers(self, layers: list[Any]) -> None:
        if set(layers) == set(self.viewer.layers.selection):
            return
        self._adding = True  # the selection below must not move the dock again
        try:
            self.viewer.layers.selection.active = layers[0]  # (making a layer active selects it alone)
            self.viewer.layers.selection.update(layers)
        finally:
            self._adding = False

    def _on_node_selected(self, path: str) -> None:
        """A node chosen in the dock selects the layers it was opened as (the other way round from
        :meth:`_on_layers_active`); nothing when it is not open."""
        if not path or self.hierarchy is None or self._adding:
            return
        layers = self._layers_of(path)
        if layers:
            self._select_layers(layers)

    def _on_layers_active(self, event: Any) -> None:
        if self._adding:
            return
        layer = event.value
        info = layer.metadata.get("zarr_browser") if layer is not None else None
        if not isinstance(info, dict) or not isinstance(info.get("path"), str):
            return
        url, path = info.get("url"), info["path"]
        if self.hierarchy is not None and self.hierarchy.url == url:
            self.browser.select_path(path)
        elif isinstance(url, str):
            pending = self._pending_select
            if self._opening == url and pending is not None and pending.startswith(path.rstrip("/") + "/"):
                path = pending  # a node inside the layer's (a well of the plate) is about to be shown
            self.show_store(url, select=path)


def _luminance(colour: QColor) -> float:
    """Relative luminance (WCAG 2)."""
    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.03928 else ((channel + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())


def _readable(colour: QColor, background: QColor, contrast: float = 4.5) -> QColor:
    """*colour* made lighter (on a dark *background*) or darker until its text contrast with
    *background* is at least *contrast* (WCAG AA); napari's accent is 3.2:1 on its dark grey."""
    back = _luminance(background)
    dark = back < 0.5
    for _ in range(20):
        fore = _luminance(colour)
        if (max(fore, back) + 0.05) / (min(fore, back) + 0.05) >= contrast:
            break
        colour = colour.lighter(115) if dark else colour.darker(115)
    return colour


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _disconnect(emitter: Any, callback: Callable[..., Any]) -> None:
    """Stop following the viewer's layer selection (the viewer may have gone first)."""
    with contextlib.suppress(RuntimeError, TypeError, ValueError):
        emitter.disconnect(callback)
