"""The "Zarr browser" dock of napari: open a store, list its nodes, add any node as layers.

:class:`BrowserDock` composes a URL bar, a *node browser* and an "Open" button.  The node
browser is built by :func:`make_node_browser` — the single place where the simple lazy tree of
this module (:class:`NodeTree`) is to be swapped for the full tree + inspector of
``zarr_browser.qt`` once it lands.  Any widget with the :class:`NodeBrowser` interface fits.

Store I/O (opening, listing, planning layers) runs in worker threads; layers are added on the
GUI thread.  Layers added by this plugin carry ``metadata["zarr_browser"] = {"url", "path"}``;
selecting such a layer selects its node (opening its store first when needed).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    import napari

    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy, Listing
    from zarr_browser.streaming import LayerPlan

__all__ = ["BrowserDock", "NodeBrowser", "NodeTree", "make_node_browser"]

logger = logging.getLogger(__name__)

PATH_ROLE = Qt.ItemDataRole.UserRole
STATE_ROLE = Qt.ItemDataRole.UserRole + 1
UNLISTED, LISTING, LISTED = 0, 1, 2
_PLACEHOLDER = "…"


def _alive(widget: QWidget) -> bool:
    """Whether the C++ side of *widget* still exists (a worker may finish after its widget died)."""
    try:
        widget.objectName()
    except RuntimeError:
        return False
    return True


def _run(owner: QWidget, function: Callable[[], Any], on_done: Callable[[Any], None],
         on_error: Callable[[Exception], None], keep: list[Any]) -> Any:
    """Run *function* in a worker thread; call back on the GUI thread while *owner* lives.

    *keep* holds the worker until it finishes.
    """
    from superqt.utils import create_worker

    worker = create_worker(function, _start_thread=False)
    worker.returned.connect(lambda value: on_done(value) if _alive(owner) else None)
    worker.errored.connect(lambda err: on_error(err) if _alive(owner) else None)
    keep.append(worker)
    worker.finished.connect(lambda: keep.remove(worker) if worker in keep else None)
    worker.start()
    return worker


class NodeBrowser(Protocol):
    """What the dock needs from a node browser widget (the tree now, the full browser later)."""

    nodeActivated: Any  # Signal(str): a node path was double-clicked / chosen

    def set_hierarchy(self, hierarchy: Hierarchy | None) -> None: ...

    def select_path(self, path: str) -> None: ...

    def current_path(self) -> str | None: ...


class NodeTree(QTreeWidget):
    """A lazily listed tree of the nodes of one hierarchy (listing runs in workers)."""

    nodeActivated = Signal(str)
    COLUMNS = ("Name", "Kind", "Shape", "Conventions")

    def __init__(self, registry: ConventionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._hierarchy: Hierarchy | None = None
        self._items: dict[str, QTreeWidgetItem] = {}
        self._pending: str | None = None
        self._workers: list[Any] = []
        self.setHeaderLabels(list(self.COLUMNS))
        self.setUniformRowHeights(True)
        self._connect()

    def _connect(self) -> None:
        self.itemExpanded.connect(self._on_item_expanded)
        self.itemDoubleClicked.connect(self._on_item_double_clicked)

    # -- NodeBrowser -----------------------------------------------------------------------
    def set_hierarchy(self, hierarchy: Hierarchy | None) -> None:
        self.clear()
        self._items.clear()
        self._pending = None
        self._hierarchy = hierarchy
        if hierarchy is None:
            return
        root = QTreeWidgetItem(self)
        self._fill(root, hierarchy.root, hierarchy.url.rstrip("/").rsplit("/", 1)[-1] or hierarchy.url)
        root.setExpanded(True)

    def current_path(self) -> str | None:
        item = self.currentItem()
        return item.data(0, PATH_ROLE) if item is not None else None

    def select_path(self, path: str) -> None:
        """Select the node at *path*, listing its ancestors first when needed."""
        path = "/" + path.strip("/")
        item = self._items.get(path)
        if item is not None:
            self._pending = None
            self.setCurrentItem(item)
            self.scrollToItem(item)
            return
        self._pending = path
        parts = [p for p in path.split("/") if p]
        for depth in range(len(parts) - 1, -1, -1):
            ancestor = "/" + "/".join(parts[:depth])
            found = self._items.get(ancestor)
            if found is not None:
                state = found.data(0, STATE_ROLE)
                if state == LISTED:
                    self._pending = None  # listed, and the node is not there
                elif state == UNLISTED:
                    found.setExpanded(True)  # lists it; the pending selection continues from there
                return

    def is_busy(self) -> bool:
        """Whether a listing is under way (for tests)."""
        return bool(self._workers)

    # -- items -----------------------------------------------------------------------------
    def _fill(self, item: QTreeWidgetItem, node: Any, name: str | None = None) -> None:
        from zarr_browser.core.summary import summarize

        summary = summarize(node, None, self._registry)
        shape = "" if node.array is None else "(" + ", ".join(str(s) for s in node.array.shape) + ")"
        kind = node.kind if node.array is None else f"{node.kind} {node.array.dtype}"
        item.setText(0, name if name is not None else node.name)
        item.setText(1, kind)
        item.setText(2, shape)
        item.setText(3, "; ".join(summary.badges))
        item.setToolTip(0, node.path if node.error is None else f"{node.path}: {node.error}")
        item.setData(0, PATH_ROLE, node.path)
        item.setData(0, STATE_ROLE, UNLISTED if node.is_group else LISTED)
        self._items[node.path] = item
        if node.is_group:
            QTreeWidgetItem(item, [_PLACEHOLDER])

    def _on_item_expanded(self, item: QTreeWidgetItem) -> None:
        if item.data(0, STATE_ROLE) != UNLISTED or self._hierarchy is None:
            return
        item.setData(0, STATE_ROLE, LISTING)
        path = item.data(0, PATH_ROLE)
        hierarchy = self._hierarchy
        _run(self, lambda: hierarchy.children(path), lambda listing: self._on_children_listed(hierarchy, listing),
             lambda err: self._on_children_failed(hierarchy, path, err), self._workers)

    def _on_children_listed(self, hierarchy: Hierarchy, listing: Listing) -> None:
        item = self._items.get(listing.path)
        if hierarchy is not self._hierarchy or item is None:
            return  # a listing of a store no longer shown
        item.setData(0, STATE_ROLE, LISTED)
        item.takeChildren()
        for node in listing.nodes:
            self._fill(QTreeWidgetItem(item), node)
        if listing.has_more:
            QTreeWidgetItem(item, [f"… {listing.total - len(listing.nodes)} more"])
        self.resizeColumnToContents(0)
        if self._pending is not None:
            self.select_path(self._pending)

    def _on_children_failed(self, hierarchy: Hierarchy, path: str, err: Exception) -> None:
        item = self._items.get(path)
        if hierarchy is not self._hierarchy or item is None:
            return
        item.setData(0, STATE_ROLE, LISTED)
        item.takeChildren()
        QTreeWidgetItem(item, [f"cannot list: {err}"])
        logger.warning("zarr-browser dock: listing failed: %s", err)

    def _on_item_double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        path = item.data(0, PATH_ROLE)
        if path is not None:
            self.nodeActivated.emit(path)


def make_node_browser(registry: ConventionRegistry, parent: QWidget | None = None) -> QWidget:
    """The node browser of the dock.  Swap point: return the full ``zarr_browser.qt`` browser here."""
    return NodeTree(registry, parent)


class BrowserDock(QWidget):
    """The "Zarr browser" dock widget: open a store, browse it, add nodes to the viewer."""

    def __init__(self, napari_viewer: napari.viewer.Viewer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from zarr_browser.core.conventions import default_registry

        self.viewer = napari_viewer
        self.registry = default_registry()
        self.hierarchy: Hierarchy | None = None
        self._workers: list[Any] = []
        self._pending_select: str | None = None
        self._opening: str | None = None

        self.url_edit = QLineEdit(self)
        self.url_edit.setPlaceholderText("path, .zip, http(s):// or s3:// URL")
        self.load_button = QPushButton("Load", self)
        self.browser = make_node_browser(self.registry, self)
        self.open_button = QPushButton("Open", self)
        self.open_button.setToolTip("Add the selected node to the viewer as layers (or double-click it)")
        self.status = QLabel(self)
        self.status.setWordWrap(True)

        bar = QHBoxLayout()
        bar.addWidget(self.url_edit)
        bar.addWidget(self.load_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.browser)
        layout.addWidget(self.open_button)
        layout.addWidget(self.status)
        self._connect()

    def _connect(self) -> None:
        self.load_button.clicked.connect(self._on_load_clicked)
        self.url_edit.returnPressed.connect(self._on_load_clicked)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.browser.nodeActivated.connect(self.open_path)
        events = self.viewer.layers.selection.events.active
        callback = self._on_layers_active
        events.connect(callback)
        # not a bound slot: when this fires, the C++ side of self is already gone
        self.destroyed.connect(lambda *_: _disconnect(events, callback))

    # -- public API ------------------------------------------------------------------------
    def show_store(self, url: str, *, select: str | None = None) -> None:
        """Open *url* in the dock (in a worker), then select *select* when given."""
        self.url_edit.setText(url)
        self._pending_select = select
        if self.hierarchy is not None and self.hierarchy.url == url:
            self._apply_pending_select()
            return
        if self._opening == url:
            return  # already on its way; the selection applies when it is open
        self._opening = url
        self.status.setText(f"opening {url} …")
        from zarr_browser._reader import open_hierarchy

        registry = self.registry
        _run(self, lambda: open_hierarchy(url, registry), self._on_store_opened, self._on_error, self._workers)

    def open_path(self, path: str) -> None:
        """Add the node at *path* to the viewer (planned in a worker, added on the GUI thread)."""
        hierarchy = self.hierarchy
        if hierarchy is None:
            return
        from zarr_browser._reader import plan_node

        self.status.setText(f"opening {path} …")
        registry = self.registry
        _run(self, lambda: plan_node(hierarchy, path, registry),
             lambda plan: self._on_plan_ready(hierarchy, path, plan), self._on_error, self._workers)

    def is_busy(self) -> bool:
        """Whether store work is under way (for tests)."""
        busy = getattr(self.browser, "is_busy", None)
        return bool(self._workers) or bool(busy and busy())

    # -- slots -----------------------------------------------------------------------------
    def _on_load_clicked(self) -> None:
        url = self.url_edit.text().strip()
        if url:
            self.hierarchy = None  # load again, even the store shown
            self._opening = None
            self.show_store(url)

    def _on_open_clicked(self) -> None:
        path = self.browser.current_path()
        if path is not None:
            self.open_path(path)

    def _on_store_opened(self, hierarchy: Hierarchy) -> None:
        self._opening = None
        self.hierarchy = hierarchy
        self.browser.set_hierarchy(hierarchy)
        self.status.setText(f"{hierarchy.url}")
        self._apply_pending_select()

    def _apply_pending_select(self) -> None:
        if self._pending_select is not None:
            path, self._pending_select = self._pending_select, None
            self.browser.select_path(path)

    def _on_plan_ready(self, hierarchy: Hierarchy, path: str, plan: LayerPlan) -> None:
        from zarr_browser._reader import open_node

        _, added = open_node(self.viewer, hierarchy, path, self.registry, plan=plan)
        message = f"{path}: {len(added)} layer(s) added"
        if plan.messages:
            message += " — " + " ".join(plan.messages)
        self.status.setText(message)

    def _on_error(self, err: Exception) -> None:
        self._opening = None
        logger.warning("zarr-browser dock: %s", err, exc_info=err)
        self.status.setText(f"error: {err}")

    def _on_layers_active(self, event: Any) -> None:
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


def _disconnect(emitter: Any, callback: Callable[..., Any]) -> None:
    """Stop following the viewer's layer selection (the viewer may have gone first)."""
    with contextlib.suppress(RuntimeError, TypeError, ValueError):
        emitter.disconnect(callback)
