"""The inspector widget: a breadcrumb over tabs that describe the selected node.

What needs no I/O (the node's own documents, attributes, storage facts, detected conventions)
is shown at once in :meth:`Inspector.setNode`.  What needs the store (the parent node for
dimensions, convention descriptions that look at other nodes, the preview, diagnostics,
validation) runs through the injected runner; a newer ``setNode`` cancels the pending work of
the previous node and drops its late results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import QFrame, QLabel, QScrollArea, QTabWidget, QToolButton, QVBoxLayout, QWidget

from zarr_browser.core.conventions.ome import plate_well_problems
from zarr_browser.core.model import key_prefix
from zarr_browser.core.preview import PreviewUnavailableError, Thumbnail, make_thumbnail, previewable, value_kind
from zarr_browser.core.store import run_sync
from zarr_browser.core.summary import NodeSummary, summarize
from zarr_browser.core.validate import HierarchyContext
from zarr_browser.errors import UnsafeArrayError, ZarrBrowserError
from zarr_browser.qt._typed import nonnull
from zarr_browser.qt.inspector.array_panel import ArrayPanel
from zarr_browser.qt.inspector.attributes import AttributesPanel, JsonTree
from zarr_browser.qt.inspector.breadcrumb import Breadcrumb
from zarr_browser.qt.inspector.dataset_panel import DatasetPanel
from zarr_browser.qt.inspector.dimensions import DimensionsPanel
from zarr_browser.qt.inspector.formatting import format_json
from zarr_browser.qt.inspector.ome_panels import LabelsPanel, OmeImagePanel, PlatePanel, WellPanel
from zarr_browser.qt.inspector.overview import OverviewPanel, highlights
from zarr_browser.qt.inspector.raw_json import RawJsonPanel
from zarr_browser.qt.inspector.validation import ValidationPanel
from zarr_browser.qt.workers import log_failure

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry, Detection
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.jsonio import JSON
    from zarr_browser.core.model import Node
    from zarr_browser.qt.workers import Runner, Task

__all__ = ["Inspector"]

DESCRIBE_CHILDREN = 500
"""Children read per group to describe it (a dataset's variables, a plate's wells) and to tell
what it is (an unconsolidated xarray dataset): the tree's first page, so both read the same
nodes; the tree lists the rest page by page."""

_DETAIL_TABS = frozenset({"dimensions", "image", "labels", "plate", "well", "dataset", "conventions"})
"""Tabs filled from the loaded details, lazily, when first shown."""

logger = logging.getLogger(__name__)

OME = "ome-ngff"


@dataclass(frozen=True, slots=True)
class _Details:
    """What the worker found about a node beyond its own documents."""

    descriptions: Mapping[str, Mapping[str, JSON]]
    summary: NodeSummary
    unread: int = 0
    """Children of a dataset that could not be read (error nodes): what the descriptions say of
    its variables is of the others only."""
    wells: Mapping[str, str] | None = None
    """A plate's wells that cannot be opened, with the reason (:func:`plate_well_problems`)."""
    described: tuple[int, int] | None = None
    """``(read, all)`` when a dataset is described from its first children only (a group of
    10,000 arrays said "500 data variables")."""


def _load_details(hierarchy: Hierarchy, node: Node, registry: ConventionRegistry) -> _Details:
    """Blocking: the parent, the convention descriptions and the dimension sources of *node*."""
    ctx = HierarchyContext(hierarchy, max_children=DESCRIBE_CHILDREN)
    parent = ctx.parent(node) if node.is_array else None
    descriptions = registry.describe(node, ctx)
    children = (lambda: ctx.children(node.path)) if node.is_group and node.kind != "error" else None
    summary = summarize(node, parent, registry, children=children)
    unread = 0
    dataset = descriptions.get("xarray") or {}
    described = None
    if children is not None and isinstance(dataset.get("dims"), Mapping):  # its children are read (and kept) already
        unread = sum(child.kind == "error" for child in children())
        listing = hierarchy.children(node.path, limit=DESCRIBE_CHILDREN)  # (that page, kept)
        if len(listing.nodes) < len(listing.names):
            described = (len(listing.nodes), len(listing.names))
    plate = (descriptions.get(OME) or {}).get("plate")
    wells = plate_well_problems(ctx, node.path, plate) if isinstance(plate, Mapping) else None
    return _Details(descriptions, summary, unread, wells, described)


@dataclass(frozen=True, slots=True)
class _Preview:
    """A thumbnail, and when the array it was read from has no chunk stored, its fill value."""

    thumbnail: Thumbnail
    unwritten: bool = False
    fill_value: JSON = None


_METADATA_NAMES = frozenset({"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"})


def _thumbnail(hierarchy: Hierarchy, node: Node, registry: ConventionRegistry) -> _Preview:
    thumbnail = make_thumbnail(hierarchy.access, node, registry,
                               HierarchyContext(hierarchy, max_children=DESCRIBE_CHILDREN))
    source = hierarchy.node(thumbnail.source_path) if thumbnail.source_path != node.path else node
    if source.array is None:
        return _Preview(thumbnail)
    try:  # one listing of the array's directory: a picture of nothing but fill values says so
        names = run_sync(hierarchy.access.list_dir(key_prefix(source.path)))
    except (ZarrBrowserError, OSError, TimeoutError):
        return _Preview(thumbnail)  # cannot list (plain HTTP): the picture alone
    unwritten = all(name in _METADATA_NAMES for name in names)
    return _Preview(thumbnail, unwritten, source.array.fill_value)


def no_preview_reason(node: Node) -> str:
    """Why an array gets no picture (for arrays :func:`previewable` turns down)."""
    array = node.array
    if array is None:
        return "No preview"
    what = {"text": "text", "bytes": "bytes", "records": "structured records", "objects": "Python objects"}
    kind = value_kind(array)
    if kind in what:
        return f"No preview for {what[kind]} ({array.dtype})"
    if array.ndim == 0:
        return "No preview for a scalar"
    return "No preview for 1-D arrays: a picture needs two dimensions"


class _SettlingScrollArea(QScrollArea):
    """A scroll area that stops re-fitting its content past a few nested rounds.

    Fitting the content to the viewport resizes it, whose resize event comes back to this
    filter, which fits it again: when showing a scroll bar changes the content's height enough
    to hide it again, the rounds nest without end.  Under napari's progress bar (which runs
    the event loop inside ``viewer.open``) a newly docked inspector did, until the stack ran
    out: napari died with SIGSEGV (audit I, 1; about 1 run in 10 on a 96-well plate).
    """

    MAX_DEPTH = 4

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if self._depth >= self.MAX_DEPTH:
            logger.debug("scroll area: content re-fitted %d times within itself; left as it is", self._depth)
            return False
        self._depth += 1
        try:
            return bool(super().eventFilter(watched, event))
        finally:
            self._depth -= 1


def _scrolled(widget: QWidget) -> QScrollArea:
    area = _SettlingScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class Inspector(QWidget):
    """Shows the selected node: overview, attributes, array, dimensions, conventions, issues, JSON.

    Parameters
    ----------
    runner
        Runs store I/O off the GUI thread (:class:`~zarr_browser.qt.workers.ThreadRunner`, or
        :class:`~zarr_browser.qt.workers.ImmediateRunner` in tests).
    registry
        The conventions to detect, describe and validate with.

    Signals
    -------
    nodeRequested(str)
        The user asked to go to another node (a breadcrumb segment, a level, a well, an issue).
    detectionsFound(str, object)
        (path, detections): the worker found the shown group to be more than its documents say
        (its children make it an xarray dataset); the browser badges its tree row alike.
    workChanged()
        Work for the shown node (details, preview) started or ended: see :meth:`isWorking`.
    """

    nodeRequested = Signal(str)
    detectionsFound = Signal(str, object)
    workChanged = Signal()

    TABS = ("overview", "attributes", "array", "dimensions", "image", "labels", "plate", "well", "dataset",
            "conventions", "validation", "raw")

    def __init__(self, *, runner: Runner, registry: ConventionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._rendered_tabs: set[str] = set()
        self._hierarchy: Hierarchy | None = None
        self._node: Node | None = None
        self._detections: list[Detection] = []  # what the shown node is found to be
        self._generation = 0
        self._tasks: list[Task] = []
        self._preferred_tab = "overview"
        self._updating_tabs = False
        self._pending_document: tuple[str, str, str] | None = None
        self.details: _Details | None = None

        self.breadcrumb = Breadcrumb()
        self.overview = OverviewPanel()
        self.attributes = AttributesPanel()
        self.array = ArrayPanel(runner=runner)
        self.dimensions = DimensionsPanel()
        self.image = OmeImagePanel()
        self.labels = LabelsPanel()
        self.plate = PlatePanel()
        self.well = WellPanel()
        self.dataset = DatasetPanel()
        self.conventions = JsonTree(placeholder="Filter the convention descriptions…")
        self.validation = ValidationPanel(runner=runner, registry=registry)
        self.raw = RawJsonPanel()

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(True)
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        for arrow in nonnull(self.tabs.tabBar()).findChildren(QToolButton):  # no Tab stop on the scroll arrows
            arrow.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # Fusion (and napari's theme) draw no focus on a tab bar: the current tab is underlined instead
        nonnull(self.tabs.tabBar()).setStyleSheet("QTabBar::tab:selected:focus { text-decoration: underline; }")
        self._tab_widgets: dict[str, QWidget] = {}
        titles = {"overview": "Overview", "attributes": "Attributes", "array": "Array", "dimensions": "Dimensions",
                  "image": "Image", "labels": "Labels", "plate": "Plate", "well": "Well", "dataset": "Dataset",
                  "conventions": "Conventions", "validation": "Validation", "raw": "Raw JSON"}
        panels: dict[str, QWidget] = {
            "overview": _scrolled(self.overview), "attributes": self.attributes, "array": _scrolled(self.array),
            # pages with tables scroll too: their minimum height made napari's dock (and window) grow
            "dimensions": self.dimensions, "image": _scrolled(self.image), "labels": _scrolled(self.labels),
            "plate": _scrolled(self.plate), "well": _scrolled(self.well), "dataset": _scrolled(self.dataset),
            "conventions": self.conventions, "validation": _scrolled(self.validation), "raw": self.raw,
        }
        for name in self.TABS:
            self._tab_widgets[name] = panels[name]
            self.tabs.addTab(panels[name], titles[name])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # while this node has unsaved edits, the tabs show it as saved (audit F, 14: two panels
        # side by side disagreed without a word)
        self.unsavedNote = QLabel("Shown as saved: the unsaved edits of this node are in the editor")
        self.unsavedNote.setObjectName("unsavedNote")
        self.unsavedNote.setWordWrap(True)
        self.unsavedNote.setStyleSheet("color: #92400e; background: #fef3c7; padding: 2px 6px;")
        self.unsavedNote.setVisible(False)
        layout.addWidget(self.breadcrumb)
        layout.addWidget(self.unsavedNote)
        layout.addWidget(self.tabs, 1)
        self._connect()
        self.clear()

    def setUnsaved(self, unsaved: bool) -> None:
        """Say (or stop saying) that the node shown has unsaved edits: the tabs show it as saved."""
        self.unsavedNote.setVisible(unsaved)

    def _connect(self) -> None:
        self.breadcrumb.pathClicked.connect(self.nodeRequested)
        for panel in (self.image, self.labels, self.plate, self.well, self.dataset, self.validation):
            panel.nodeRequested.connect(self.nodeRequested)
        self.validation.documentRequested.connect(self._on_validation_document_requested)
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)

    # -- public API ------------------------------------------------------------------------------
    def node(self) -> Node | None:
        return self._node

    def hierarchy(self) -> Hierarchy | None:
        return self._hierarchy

    def setNode(self, hierarchy: Hierarchy, node: Node) -> None:
        """Show *node* of *hierarchy*; work for the previous node is cancelled."""
        self._cancel_tasks()
        self._generation += 1
        self._hierarchy, self._node = hierarchy, node
        self.details = None
        self._rendered_tabs = set()
        detections = self._registry.detect(node) if node.kind != "error" else []
        self._detections = detections
        ome_roles = {role for d in detections if d.name == OME for role in d.roles}
        names = {d.name for d in detections}

        self.breadcrumb.setPath(node.path, url=hierarchy.url)
        self.overview.setNode(node, detections, url=hierarchy.url)
        self.attributes.setNode(node.attributes, zarr_format=node.zarr_format)
        self.array.setNode(hierarchy, node)
        self.raw.setDocuments(node.documents)
        self.validation.setNode(hierarchy, node)
        for panel in (self.image, self.labels, self.plate, self.well, self.dataset, self.dimensions):
            panel.clear()
        self.conventions.clear()

        visible = {
            "overview": True,
            "attributes": True,
            "array": node.is_array,
            "dimensions": node.is_array,
            "image": bool(ome_roles & {"image", "label-image"}),
            "labels": bool(ome_roles & {"labels", "label-image"}),
            "plate": "plate" in ome_roles,
            "well": "well" in ome_roles,
            "dataset": bool(names & {"xarray", "cf"}) and node.kind != "error",
            "conventions": bool(detections),
            "validation": True,
            "raw": True,
        }
        self._set_tab_title("attributes", f"Attributes ({len(node.attributes)})" if node.attributes else "Attributes")
        self._set_tab_title("dataset", "Dataset" if node.is_group else "Variable")
        self._set_tab_title("raw", f"Raw JSON ({len(node.documents)})")
        self._set_tabs_visible(visible)

        if node.kind != "error":
            if node.is_array:
                self.dimensions.setLoading()
            if visible["image"]:
                self.image.setLoading()
            if visible["dataset"]:
                self.dataset.setLoading()
            self._submit(_load_details, (hierarchy, node, self._registry), self._on_details_loaded,
                         self._on_details_failed)
            if previewable(node, self._registry):
                self.overview.preview.show()
                self.overview.preview.setLoading()
                self._submit(_thumbnail, (hierarchy, node, self._registry), self._on_preview_done,
                             self._on_preview_failed)
            elif node.is_array:  # say why there is no picture rather than leave a gap
                self.overview.preview.show()
                self.overview.preview.setMessage(no_preview_reason(node))
        if self._pending_document is not None and self._pending_document[0] == node.path:
            _, document, pointer = self._pending_document
            self._pending_document = None
            self._show_document(document, pointer)
        self._maybe_run_validation()

    def clear(self) -> None:
        """Show nothing (no node selected); pending work is cancelled."""
        self._cancel_tasks()
        self._generation += 1
        self._hierarchy = self._node = None
        self.details = None
        self.breadcrumb.clear()
        self.overview.clear()
        self.attributes.clear()
        self.array.clear()
        self.raw.clear()
        self.validation.clear()
        for panel in (self.image, self.labels, self.plate, self.well, self.dataset, self.dimensions):
            panel.clear()
        self.conventions.clear()
        self._set_tabs_visible({name: name == "overview" for name in self.TABS})

    def showTab(self, name: str) -> None:
        """Make tab *name* (one of :attr:`TABS`) current, as a user click does."""
        self.tabs.setCurrentWidget(self._tab_widgets[name])

    def stepTab(self, step: int) -> None:
        """Show the next (*step* 1) or previous (-1) visible tab, wrapping around."""
        count = self.tabs.count()
        at = self.tabs.currentIndex()
        for _ in range(count):
            at = (at + step) % count
            if self.tabs.isTabVisible(at):
                self.tabs.setCurrentIndex(at)
                return

    def currentTab(self) -> str:
        current = self.tabs.currentWidget()
        return next((name for name, widget in self._tab_widgets.items() if widget is current), "")

    def isTabVisible(self, name: str) -> bool:
        return self.tabs.isTabVisible(self.tabs.indexOf(self._tab_widgets[name]))

    def tabTitle(self, name: str) -> str:
        return self.tabs.tabText(self.tabs.indexOf(self._tab_widgets[name]))

    def hasPendingOperations(self) -> bool:
        """Whether work for the shown node is still running (for tests)."""
        return any(not t.done for t in self._tasks) or self.array.isRunning() or self.validation.isRunning()

    # -- work ------------------------------------------------------------------------------------
    def _submit(self, fn: Callable[..., Any], args: tuple[Any, ...], on_done: Callable[[Any], None],
                on_error: Callable[[BaseException], None]) -> None:
        generation = self._generation

        def done(value: Any) -> None:
            if generation == self._generation:
                on_done(value)
            self.workChanged.emit()

        def failed(err: BaseException) -> None:
            if generation == self._generation:
                on_error(err)
            self.workChanged.emit()

        self._tasks.append(self._runner.submit(fn, *args, on_done=done, on_error=failed))
        self.workChanged.emit()

    def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self.workChanged.emit()

    def isWorking(self) -> bool:
        """Whether details or a preview of the shown node are still being read."""
        return any(not task.done and not task.cancelled for task in self._tasks)

    def cancelWork(self) -> None:
        """Stop reading for the shown node (a slow store): what was not read says it was cancelled."""
        if not self.isWorking():
            return
        self._cancel_tasks()
        self._generation += 1  # late answers of the cancelled work are dropped
        if self.overview.preview.isLoading():
            self.overview.preview.setMessage("Preview cancelled")

    def _on_details_loaded(self, details: _Details) -> None:
        if self._node is None:
            return
        self.details = details
        self._rendered_tabs = set()
        self._show_found(details.summary.conventions)
        self.overview.setHighlights(highlights(details.descriptions, unread=details.unread,
                                               described=details.described))
        self._render_current_tab()

    def _show_found(self, detections: Sequence[Detection]) -> None:
        """What the worker found beyond the node's own documents (a group whose children make it
        an xarray dataset): its badges, and the tabs that show it."""
        node = self._node
        if node is None or node.kind == "error":
            return
        names = {d.name for d in detections}
        if not names - {d.name for d in self._detections}:
            return
        self._detections = list(detections)
        self.overview.setBadges(detections)
        self.detectionsFound.emit(node.path, tuple(detections))
        for tab, show in (("dataset", bool(names & {"xarray", "cf"})), ("conventions", True)):
            if show:
                self.tabs.setTabVisible(self.tabs.indexOf(self._tab_widgets[tab]), True)

    def _render_current_tab(self) -> None:
        """Fill the current tab from the loaded details; the others wait until they are shown.

        A node can describe thousands of things (a root whose consolidated metadata lists
        10,000 arrays); building every table for every selection would stall the GUI.
        """
        node, details, name = self._node, self.details, self.currentTab()
        if node is None or details is None or name in self._rendered_tabs or name not in _DETAIL_TABS:
            return
        self._rendered_tabs.add(name)
        descriptions = details.descriptions
        ome = descriptions.get(OME) or {}
        if name == "dimensions" and node.is_array:
            self.dimensions.setDimensions(node, details.summary.dimension_sources, details.summary.dimension_names)
        elif name == "plate":
            self.plate.setDescription(node.path, ome, problems=details.wells or {})
        elif name in ("image", "labels", "well"):
            getattr(self, name).setDescription(node.path, ome)
        elif name == "dataset":
            self.dataset.setDescriptions(node.path, node.is_group, descriptions, described=details.described)
        elif name == "conventions":
            self.conventions.setData(dict(descriptions), empty_text="No convention descriptions")

    def _on_details_failed(self, err: BaseException) -> None:
        log_failure(logger, "loading details of %s failed", self._node.path if self._node else "?", err=err)
        message = f"Could not load the details of this node: {err}"
        self.overview.setStatus(message)
        self.dimensions.clear()
        for panel in (self.image, self.dataset):
            panel.clear()

    def _on_preview_done(self, preview: _Preview) -> None:
        if preview.unwritten:
            self.overview.preview.setMessage(
                f"No chunk written: every value is the fill value ({format_json(preview.fill_value)})")
        else:
            self.overview.preview.setThumbnail(preview.thumbnail)

    def _on_preview_failed(self, err: BaseException) -> None:
        if isinstance(err, PreviewUnavailableError):
            self.overview.preview.setMessage(f"No preview: {err}")
        elif isinstance(err, UnsafeArrayError):
            self.overview.preview.setMessage(f"Preview refused by the safety gate.\n\n{err}", error=True)
        else:
            log_failure(logger, "preview of %s failed", self._node.path if self._node else "?", err=err)
            self.overview.preview.setMessage(f"Preview failed: {err}", error=True)

    # -- tabs ------------------------------------------------------------------------------------
    def _set_tab_title(self, name: str, title: str) -> None:
        self.tabs.setTabText(self.tabs.indexOf(self._tab_widgets[name]), title)

    def _set_tabs_visible(self, visible: Mapping[str, bool]) -> None:
        self._updating_tabs = True
        try:
            for name, show in visible.items():
                self.tabs.setTabVisible(self.tabs.indexOf(self._tab_widgets[name]), show)
            preferred = self._preferred_tab if visible.get(self._preferred_tab) else "overview"
            self.tabs.setCurrentWidget(self._tab_widgets[preferred])
        finally:
            self._updating_tabs = False

    def _on_tabs_current_changed(self, index: int) -> None:
        self._render_current_tab()
        if self._updating_tabs:
            return
        self._preferred_tab = self.currentTab() or self._preferred_tab
        self._maybe_run_validation()

    def _maybe_run_validation(self) -> None:
        """The check runs when its tab is shown (it may read the whole subtree)."""
        if self._node is None or self.currentTab() != "validation":
            return
        if not self.validation.hasResult() and not self.validation.isRunning():
            self.validation.runCheck()

    # -- raw documents ---------------------------------------------------------------------------
    def _on_validation_document_requested(self, path: str, document: str, pointer: str) -> None:
        if self._node is not None and path == self._node.path:
            self._show_document(document, pointer)
        else:  # shown once the browser selects that node
            self._pending_document = (path, document, pointer)
            self.nodeRequested.emit(path)

    def _show_document(self, document: str, pointer: str) -> None:
        if self.raw.showDocument(document, pointer):
            self.showTab("raw")
