"""The editor panel: the selected node's attributes (raw JSON) and convention forms, over live validation.

:class:`EditorPanel` follows the browser's current node.  It asks the controller to load the
node's documents (a worker), then shows the working state; every change re-renders it.  The
validation list at the bottom shows the issues of the edited nodes, errors the edits introduced
first; clicking one goes to its node and, when the issue points into the attributes, selects
that member in the Attributes tab.

The forms are handed the working state after every change; each keeps what the user typed and
has not applied yet (:class:`~zarr_browser.qt.editor.forms.FormSync`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QLabel,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.conventions.xarray_dims import is_ome_group
from zarr_browser.core.editing.commands import EditError
from zarr_browser.core.editing.conventions import ome_namespace
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.errors import ZarrBrowserError
from zarr_browser.qt.editor.attributes_editor import AttributesEditor
from zarr_browser.qt.editor.forms import CfForm, DimensionRenameForm, XarrayForm
from zarr_browser.qt.editor.ome_forms import (
    AxesForm,
    ChannelsForm,
    LabelColoursForm,
    LabelPropertiesForm,
    PlateForm,
    image_multiscale,
)
from zarr_browser.qt.inspector.panel import _scrolled

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.model import Node
    from zarr_browser.qt.editor.controller import EditController, ValidationState
    from zarr_browser.qt.editor.forms import FormSync
    from zarr_browser.qt.workers import Runner

__all__ = ["EditorPanel", "ValidationList", "attributes_pointer"]

class EditorForm(Protocol):
    """What the panel uses of its forms: their :class:`FormSync` and how the prompts name them."""

    sync: FormSync

    def title(self) -> str: ...

    def isHidden(self) -> bool: ...


_SEVERITY_COLOURS = {Severity.ERROR: "#b91c1c", Severity.WARNING: "#b45309", Severity.INFO: "#2563eb"}


def attributes_pointer(issue: Issue) -> str | None:
    """The pointer into the node's attributes an issue points at (None: not into the attributes)."""
    pointer = issue.pointer
    if issue.document == "zarr.json":
        if pointer == "/attributes" or pointer.startswith("/attributes/"):
            return pointer[len("/attributes"):]
        return None
    if issue.document == ".zattrs" or (not issue.document and pointer):
        return pointer
    return None


class ValidationList(QTreeWidget):
    """Issues of the edited nodes: new errors first, then old errors, then warnings."""

    #: an issue was clicked: its node path and the pointer into the attributes ("" if none)
    issueRequested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(("Severity", "Node", "Issue"))  # as the inspector's Validation tab
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setColumnWidth(0, 90)
        self.setColumnWidth(1, 160)
        self.itemActivated.connect(self._on_item_activated)
        self.itemClicked.connect(self._on_item_activated)

    def showValidation(self, state: ValidationState) -> None:
        self.clear()
        new = {id(i) for i in state.new_errors}
        rows = [(i, "new error") for i in state.new_errors]
        rows += [(i, "error") for i in state.old_errors]
        rows += [(i, i.severity.value) for i in state.warnings if id(i) not in new]
        for issue, kind in rows:
            where = f" at {issue.pointer}" if issue.pointer else ""
            item = QTreeWidgetItem([kind, issue.path, issue.message + where])
            item.setForeground(0, QColor(_SEVERITY_COLOURS.get(issue.severity, "#374151")))
            item.setToolTip(2, f"[{issue.convention}] {issue.message}{where}")
            item.setData(1, Qt.ItemDataRole.UserRole, issue.path)
            item.setData(2, Qt.ItemDataRole.UserRole, attributes_pointer(issue) or "")
            self.addTopLevelItem(item)

    def kinds(self) -> list[str]:
        items = (self.topLevelItem(i) for i in range(self.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]

    def _on_item_activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        path = item.data(1, Qt.ItemDataRole.UserRole)
        if isinstance(path, str):
            self.issueRequested.emit(path, item.data(2, Qt.ItemDataRole.UserRole) or "")


class EditorPanel(QWidget):
    """Edits the selected node: *Attributes* (raw JSON), *OME*, *xarray*, *CF* forms; validation below."""

    nodeRequested = Signal(str)

    TABS = ("attributes", "ome", "xarray", "cf")

    def __init__(self, controller: EditController, *, runner: Runner, registry: ConventionRegistry,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._registry = registry
        self._path: str | None = None
        self._node: Node | None = None
        self._wanted_pointer: tuple[str, str] | None = None
        self.titleLabel = QLabel()
        self.titleLabel.setTextFormat(Qt.TextFormat.RichText)
        self.titleLabel.setWordWrap(True)
        self.attributes = AttributesEditor(controller)
        self.axesForm = AxesForm(controller)
        self.channelsForm = ChannelsForm(controller, runner)
        self.labelsForm = LabelColoursForm(controller)
        self.labelPropertiesForm = LabelPropertiesForm(controller)
        self.plateForm = PlateForm(controller)
        self.xarrayForm = XarrayForm(controller)
        self.renameForm = DimensionRenameForm(controller)
        self.cfForm = CfForm(controller)
        ome_page = QWidget()
        ome_layout = QVBoxLayout(ome_page)
        for form in (self.axesForm, self.channelsForm, self.labelsForm, self.labelPropertiesForm, self.plateForm):
            ome_layout.addWidget(form)
        ome_layout.addStretch(1)
        xarray_page = QWidget()
        xarray_layout = QVBoxLayout(xarray_page)
        xarray_layout.addWidget(self.xarrayForm)
        xarray_layout.addWidget(self.renameForm)
        xarray_layout.addStretch(1)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self._pages: dict[str, QWidget] = {
            "attributes": self.attributes, "ome": _scrolled(ome_page),
            "xarray": _scrolled(xarray_page), "cf": _scrolled(self.cfForm),
        }
        for name, title in zip(self.TABS, ("Attributes", "OME-NGFF", "xarray", "CF"), strict=True):
            self.tabs.addTab(self._pages[name], title)
        self.validationLabel = QLabel()
        self.validationLabel.setTextFormat(Qt.TextFormat.RichText)
        self.validationList = ValidationList()
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.validationLabel)
        bottom_layout.addWidget(self.validationList, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.tabs)
        splitter.addWidget(bottom)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([620, 130])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.titleLabel)
        layout.addWidget(splitter, 1)
        self._connect()
        self.setPath(None)
        self._on_validated(controller.validation)

    def _connect(self) -> None:
        self._controller.stateChanged.connect(self.refresh)
        self._controller.activeChanged.connect(self._on_active_changed)
        self._controller.validated.connect(self._on_validated)
        self._controller.reloaded.connect(self.refresh)
        self.validationList.issueRequested.connect(self.showIssue)
        self.attributes.showRequested.connect(lambda: self.showTab("attributes"))

    # -- public API --------------------------------------------------------------------------------
    def path(self) -> str | None:
        return self._path

    def node(self) -> Node | None:
        return self._node

    def setPath(self, path: str | None) -> None:
        """Edit the node at *path* (its documents are loaded in a worker first)."""
        self._path = path
        if path is None or not self._controller.isActive():
            self._show(None)
            return
        self.titleLabel.setText(f"<b>{path}</b> — loading…")
        self._controller.loadNode(path, lambda: self._on_node_loaded(path))

    def refresh(self) -> None:
        """Show the working state of the current node again (after an edit, undo, save...)."""
        session = self._controller.session()
        if self._path is None or session is None or not session.is_loaded(self._path):
            self._show(None if session is None else self._node)
            return
        try:
            node = session.node(self._path)
        except ZarrBrowserError:  # gone from the store (deleted by someone else, then reloaded)
            self._path = None
            self._show(None)
            return
        self._show(node)

    def showIssue(self, path: str, pointer: str = "") -> None:
        """Go to the node at *path* (the window selects it in the tree) and select *pointer* there."""
        self._wanted_pointer = (path, pointer) if pointer else None
        if path == self._path and self._node is not None and self._node.path == path:
            self._select_wanted()
        self.nodeRequested.emit(path)

    def _select_wanted(self) -> None:
        wanted, self._wanted_pointer = self._wanted_pointer, None
        if wanted is not None and self._node is not None and self._node.path == wanted[0]:
            self.showTab("attributes")
            self.attributes.selectPointer(wanted[1])

    def forms(self) -> list[EditorForm]:
        """Every form of the panel (each with a ``sync``)."""
        return [self.axesForm, self.channelsForm, self.labelsForm, self.labelPropertiesForm, self.plateForm,
                self.xarrayForm, self.renameForm, self.cfForm, self.attributes.dimensionNames]

    def unapplied(self) -> list[str]:
        """The titles of the forms holding typing the user has not applied, for the node shown."""
        return [form.title() or type(form).__name__ for form in self.forms()
                if form.sync.path() == self._path and form.sync.isModified()
                and not form.isHidden()]  # a form the node has no use for is hidden

    def discardUnapplied(self) -> None:
        """Drop every form's unapplied typing: the forms show the working state again."""
        for form in self.forms():
            form.sync.forget()
        if self._node is not None:
            self.refresh()

    def isTabVisible(self, name: str) -> bool:
        return self.tabs.isTabVisible(self.tabs.indexOf(self._pages[name]))

    def showTab(self, name: str) -> None:
        self.tabs.setCurrentWidget(self._pages[name])

    # -- rendering ---------------------------------------------------------------------------------
    def _on_node_loaded(self, path: str) -> None:
        if path == self._path:
            self.refresh()

    def _on_active_changed(self, active: bool) -> None:
        for form in self.forms():
            form.sync.forget()
        if active:
            self.setPath(self._path)
        else:
            self._show(None)

    def _show(self, node: Node | None) -> None:
        self._node = node
        self.attributes.setNode(node)
        if node is None:
            self.titleLabel.setText("<i>Select a node to edit it</i>" if self._controller.isActive()
                                    else "<i>Editing is off — Edit ▸ Enable editing</i>")
            for name in ("ome", "xarray", "cf"):
                self.tabs.setTabVisible(self.tabs.indexOf(self._pages[name]), False)
            return
        detections = self._registry.detect(node) if node.kind != "error" else []
        names = {d.name for d in detections}
        roles = {role for d in detections if d.name == "ome-ngff" for role in d.roles}
        badges = ", ".join(f"{d.name} {d.version}".strip() if d.version else d.name for d in detections
                           if d.name != "zarr")
        kind = f"array {node.array.dtype}" if node.array is not None else node.kind
        self.titleLabel.setText(f"<b>{node.path}</b> &nbsp;<span style='color:#6b7280'>{kind} · zarr v"
                                f"{node.zarr_format} · {badges or 'no convention'}</span>")
        ome_visible = self._show_ome(node, roles)
        ms = image_multiscale(node) if "image" in roles else None
        # a group that is no OME-NGFF group may be a dataset: its dimensions can be renamed
        dataset = node.is_group and node.kind != "error" and not is_ome_group(node)
        xarray_visible = node.is_array or ms is not None or dataset
        self.xarrayForm.setVisible(node.is_array or ms is not None)
        self.renameForm.setVisible(dataset)
        if node.is_array or ms is not None:
            self.xarrayForm.setNode(node, ome_image=ms is not None)
        if dataset:
            self.renameForm.setNode(node)
        cf_visible = node.is_array and ("cf" in names or "xarray" in names or node.zarr_format in (2, 3))
        if cf_visible:
            self.cfForm.setNode(node)
        for name, visible in (("ome", ome_visible), ("xarray", xarray_visible), ("cf", cf_visible)):
            self.tabs.setTabVisible(self.tabs.indexOf(self._pages[name]), visible)
        if self._wanted_pointer is not None and self._wanted_pointer[0] == node.path:
            self._select_wanted()

    def _show_ome(self, node: Node, roles: set[str]) -> bool:
        try:
            _parts, ns = ome_namespace(node)
        except EditError:
            return False
        session = self._controller.session()
        ms = image_multiscale(node) if roles & {"image", "label-image"} else None
        self.axesForm.setVisible(ms is not None)
        if ms is not None:
            self.axesForm.setNode(node, ms)
        omero = ns.get("omero")
        channels = omero.get("channels") if isinstance(omero, dict) else None
        if not isinstance(channels, list):
            channels = []
        # an image without omero is offered one, an image with an empty list of channels the
        # missing ones; an omero block without a list of channels is left to the Attributes tab
        # (validation says what it lacks)
        image = "image" in roles and "label-image" not in roles and ms is not None
        missing = "omero" not in ns and image
        show_channels = bool(channels) or missing or (image and isinstance(omero, dict)
                                                      and isinstance(omero.get("channels"), list))
        self.channelsForm.setVisible(show_channels)
        if show_channels:
            self.channelsForm.setNode(node, ms, None if missing else channels,
                                      session.hierarchy if session is not None else None)
        label = ns.get("image-label")
        for form in (self.labelsForm, self.labelPropertiesForm):
            form.setVisible(isinstance(label, dict))
            if isinstance(label, dict):
                form.setNode(node, label)
        plate = ns.get("plate")
        self.plateForm.setVisible(isinstance(plate, dict))
        if isinstance(plate, dict):
            self.plateForm.setNode(node, plate)
        return ms is not None or show_channels or isinstance(label, dict) or isinstance(plate, dict)

    def _on_validated(self, state: ValidationState) -> None:
        self.validationList.showValidation(state)
        new, old = len(state.new_errors), len(state.old_errors)
        warnings = sum(1 for i in state.warnings if i.severity is Severity.WARNING)
        notes = len(state.warnings) - warnings  # (info: [strict] SHOULDs, hints) counted apart (audit F, 13)
        noted = f"{notes} note{'s' if notes != 1 else ''}"
        if not self._controller.isDirty():
            text = "<span style='color:#6b7280'>Validation: no edits yet</span>"
        elif not (new or old or warnings):
            text = "<span style='color:#15803d'>✔ The edited nodes validate</span>" + (f" ({noted})" if notes else "")
        else:
            parts = []
            if new:
                parts.append(f"<b style='color:#b91c1c'>{new} new error{'s' if new != 1 else ''}</b>")
            if old:
                parts.append(f"{old} error{'s' if old != 1 else ''} already there")
            if warnings:
                parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
            if notes:
                parts.append(noted)
            text = "Validation: " + ", ".join(parts)
        self.validationLabel.setText(text)

