"""The raw JSON editor of a node's attributes, and the editor of v3 ``dimension_names``.

Every change is a session command (through :class:`~zarr_browser.qt.editor.controller.EditController`):
keys are renamed in place (the Key column), types chosen in the Type column, values typed in
the Value column (booleans ticked), keys added or deleted from the toolbar or the context menu,
and any value replaced by pasted JSON.  The rest of the array metadata (shape, data type, chunks,
codecs, fill value) is shown read-only: changing it would reinterpret the stored chunks.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent, QModelIndex, QObject, QPoint, Qt, Signal
from qtpy.QtGui import QAction, QFontDatabase, QKeyEvent, QKeySequence
from qtpy.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolBar,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.editing.commands import format_pointer
from zarr_browser.core.jsonio import JSON, dumps
from zarr_browser.qt._typed import clear_layout, connect_slot, nonnull
from zarr_browser.qt.editor.forms import FormSync
from zarr_browser.qt.editor.json_model import JsonEditModel, JsonTypeDelegate, json_type, parse_json_text
from zarr_browser.qt.inspector.formatting import format_shape
from zarr_browser.qt.shortcuts import set_tip

if TYPE_CHECKING:
    from zarr_browser.core.model import Node
    from zarr_browser.qt.editor.controller import EditController

__all__ = ["AttributesEditor", "DimensionNamesEditor", "PasteJsonDialog"]


class PasteJsonDialog(QDialog):
    """Ask for a JSON value (NaN and Infinity accepted); :meth:`value` parses it."""

    def __init__(self, parent: QWidget | None = None, *, target: str = "", text: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Paste JSON")
        self.setMinimumSize(480, 320)
        self.textEdit = QPlainTextEdit(text)
        self.textEdit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.errorLabel = QLabel()
        self.errorLabel.setStyleSheet("color: #b91c1c")
        self.errorLabel.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"New value of <b>{target or 'the attributes'}</b> (any JSON):"))
        layout.addWidget(self.textEdit, 1)
        layout.addWidget(self.errorLabel)
        layout.addWidget(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

    def value(self) -> JSON:
        return parse_json_text(self.textEdit.toPlainText())

    def accept(self) -> None:
        try:
            self.value()
        except ValueError as err:
            self.errorLabel.setText(str(err))
            self.errorLabel.show()
            return
        super().accept()


class DimensionNamesEditor(QWidget):
    """One line edit per dimension of a v3 array; *Apply* sets ``dimension_names`` (one step)."""

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._path = ""
        self.edits: list[QLineEdit] = []
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self.applyButton = QPushButton("Apply")
        self.applyButton.setToolTip("Set zarr.json dimension_names (empty fields become null)")
        self.applyButton.clicked.connect(self.apply)
        self.sync = FormSync(self.names, self)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.sync.banner)
        layout = QHBoxLayout()
        column.addLayout(layout)
        layout.addWidget(QLabel("dimension_names"))
        layout.addLayout(self._row, 1)
        layout.addWidget(self.applyButton)

    def setNode(self, node: Node) -> None:
        assert node.array is not None
        self.sync.show(node.path, [node.array.shape, node.array.dimension_names], lambda: self._build(node))

    def _build(self, node: Node) -> None:
        self._path = node.path
        clear_layout(self._row)
        self.edits = []
        assert node.array is not None
        names = list(node.array.dimension_names or [None] * node.array.ndim)
        for axis, (size, name) in enumerate(zip(node.array.shape, names, strict=False)):
            edit = QLineEdit(name or "")
            edit.setPlaceholderText(f"dim {axis} ({size})")
            edit.setToolTip(f"name of dimension {axis} (size {size})")
            self._row.addWidget(edit)
            self.edits.append(edit)
        # Tab: the names, then the Apply that writes them (the fields are made after the button,
        # so Tab reached Apply first, then the validation list, then the fields: audit K, 8)
        chain = [self.applyButton, *self.edits, self.applyButton]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def title(self) -> str:
        """How the unapplied-typing prompt names it (the group-box forms' title)."""
        return "dimension_names"

    def names(self) -> list[str | None]:
        return [e.text().strip() or None for e in self.edits]

    def apply(self) -> None:
        names = self.names()
        path = self._path
        self._controller.edit(lambda s: s.set(path, "zarr.json#/dimension_names", names,
                                              label=f"set dimension_names of {path}"),
                              on_done=self.sync.applying())


class _ColumnKeys(QObject):
    """Left and Right move between the Key, Type and Value cells of a row (QTreeView keeps the
    current column with whole-row selection: F2 could only ever rename the key, and a keyboard
    user typing a new value renamed the attribute).  Right on a collapsed row with children
    still expands it, Left on the Key cell still collapses or goes to the parent."""

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if not isinstance(watched, QTreeView) or event is None or event.type() != QEvent.Type.KeyPress \
                or not isinstance(event, QKeyEvent) or event.modifiers() != Qt.KeyboardModifier.NoModifier:
            return False
        index = watched.currentIndex()
        model = watched.model()
        if not index.isValid() or model is None or event.key() not in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            return False
        column = index.column()
        if event.key() == Qt.Key.Key_Right:
            first = index.siblingAtColumn(0)
            if column == 0 and model.hasChildren(first) and not watched.isExpanded(first):
                return False  # expand first, as everywhere
            if column + 1 >= model.columnCount(index.parent()):
                return False
            watched.setCurrentIndex(index.siblingAtColumn(column + 1))
            return True
        if column == 0:
            return False
        watched.setCurrentIndex(index.siblingAtColumn(column - 1))
        return True


class _MenuKey(QObject):
    """Shift+F10 opens the context menu of the attribute tree, as the Menu key does (and as in the
    hierarchy tree): without a Menu key, the keyboard could not reach the menu."""

    def __init__(self, context_menu: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._context_menu = context_menu

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None or event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if event.key() == Qt.Key.Key_F10 and event.modifiers() == Qt.KeyboardModifier.ShiftModifier:
            self._context_menu()
            return True
        return False


class AttributesEditor(QWidget):
    """Key | Type | Value editor of the attributes of one node, with the array's metadata read-only.

    From the keyboard: Left/Right go to the Key, Type or Value cell, F2 edits it; Insert adds a
    key, Alt+Insert an item, Delete deletes, Ctrl+Shift+V pastes JSON, Shift+F10 (or the Menu key)
    opens the context menu.

    Signals
    -------
    showRequested()
        An action was chosen where the editor may be hidden (the window's Edit menu): whoever
        holds it shows it.
    """

    showRequested = Signal()

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self._node: Node | None = None
        self.pasteDialog: PasteJsonDialog | None = None
        self.model = JsonEditModel(self._on_model_edit, self)
        self.model.setGuard(self._refusal)
        self.model.refused.connect(controller.editFailed.emit)
        self.view = QTreeView()
        self.view.setObjectName("attributesEditor")
        self.view.setModel(self.model)
        self.view.setItemDelegate(JsonTypeDelegate(self.view))
        self.view.setAlternatingRowColors(True)
        self.view.setUniformRowHeights(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._column_keys = _ColumnKeys(self)
        self.view.installEventFilter(self._column_keys)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.SelectedClicked)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = nonnull(self.view.header())
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 190)
        header.resizeSection(1, 70)

        self.addKeyAction = QAction("Add &key", self)
        self.addKeyAction.setShortcut(QKeySequence(Qt.Key.Key_Insert))
        set_tip(self.addKeyAction, "Add a member to the selected object (or to the attributes)")
        self.addItemAction = QAction("Add &item", self)
        self.addItemAction.setShortcut(QKeySequence("Alt+Insert"))
        set_tip(self.addItemAction, "Append an item to the selected list")
        self.deleteAction = QAction("&Delete", self)
        self.deleteAction.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        set_tip(self.deleteAction, "Delete the selected member or item")
        self.pasteAction = QAction("&Paste JSON…", self)
        self.pasteAction.setShortcut(QKeySequence("Ctrl+Shift+V"))
        set_tip(self.pasteAction, "Replace the selected value (or all attributes) with JSON")
        self.editActions = (self.addKeyAction, self.addItemAction, self.deleteAction, self.pasteAction)
        """The editing actions, in the order of the toolbar and the menus."""
        for action in self.editActions:
            # the tree itself, not the cell editor in it: Insert or Ctrl+Shift+V typed into a value
            # being edited are the line edit's (Delete is, as a standard key, either way)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.view.addAction(action)
        self.deleteAction.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.toolbar = QToolBar()
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in self.editActions:
            self.toolbar.addAction(action)
        self._menu_key = _MenuKey(self._context_menu_at_current, self)
        self.view.installEventFilter(self._menu_key)

        self.noteLabel = QLabel()
        self.noteLabel.setWordWrap(True)
        self.noteLabel.setStyleSheet("color: #4b5563;")
        self.arrayLabel = QLabel()
        self.arrayLabel.setWordWrap(True)
        self.arrayLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.arrayLabel.setStyleSheet("color: #4b5563;")
        self.dimensionNames = DimensionNamesEditor(controller)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.noteLabel)
        layout.addWidget(self.arrayLabel)
        layout.addWidget(self.dimensionNames)
        self._connect()
        self.setNode(None)

    def _connect(self) -> None:
        # lambdas: connected directly, addKey and addItem would get ``triggered``'s checked flag as their first argument
        connect_slot(self.addKeyAction.triggered, lambda: self._act(self.addKey))
        connect_slot(self.addItemAction.triggered, lambda: self._act(self.addItem))
        connect_slot(self.deleteAction.triggered, lambda: self._act(self.deleteSelected))
        connect_slot(self.pasteAction.triggered, lambda: self._act(self._on_paste_triggered))
        self.view.customContextMenuRequested.connect(self._on_view_context_menu)
        nonnull(self.view.selectionModel()).currentRowChanged.connect(self._update_actions)

    # -- content ---------------------------------------------------------------------------------
    def node(self) -> Node | None:
        return self._node

    def setNode(self, node: Node | None) -> None:
        """Show the working attributes of *node* (None: nothing), keeping expansion and selection."""
        expanded = self._expanded_pointers()
        current = self.model.pointer(self.view.currentIndex()) if self.view.currentIndex().isValid() else None
        same_node = self._node is not None and node is not None and node.path == self._node.path
        focus = QApplication.focusWidget()
        focused = focus is not None and (focus is self.view or self.view.isAncestorOf(focus))
        self._node = node
        editable = node is not None and node.kind != "error" and node.zarr_format in (2, 3) \
            and self._controller.isActive()
        self.model.setDocument(node.attributes if node is not None else {}, read_only=not editable)
        if focused and not self.view.hasFocus():  # the reset closed the cell editor, and the focus went on
            self.view.setFocus(Qt.FocusReason.OtherFocusReason)  # to the validation list: a save left it there
        if same_node:
            for pointer in expanded:
                self.view.expand(self.model.indexForPointer(pointer))
            if current is not None:
                self.selectPointer(current)
        else:
            for row in range(self.model.rowCount()):
                index = self.model.index(row, 0)
                if self.model.rowCount(index) <= 12:
                    self.view.expand(index)
        protected = node is not None and any(self.model.isProtected(self.model.index(r, 0))
                                             for r in range(self.model.rowCount()))
        notes = []
        if node is not None and not editable:
            notes.append("Read-only: " + (node.error or "no attributes document") if node.kind == "error"
                         or node.zarr_format not in (2, 3) else "Read-only: enable editing to change attributes")
        if protected:
            notes.append("Grey keys are NCZarr's own metadata (read-only); _nczarr_attr types follow your edits.")
        self.noteLabel.setText(" ".join(notes))
        self.noteLabel.setVisible(bool(notes))
        self._show_array(node, editable)
        self._update_actions()

    def _show_array(self, node: Node | None, editable: bool) -> None:
        array = node.array if node is not None else None
        if array is None:
            self.arrayLabel.hide()
            self.dimensionNames.hide()
            return
        facts = [f"shape {format_shape(array.shape)}", f"dtype {array.dtype}", f"chunks {format_shape(array.chunks)}"]
        if array.fill_value is not None:
            facts.append(f"fill_value {dumps(array.fill_value, indent=None)}")
        self.arrayLabel.setText("Array metadata (read-only: changing it would reinterpret the stored chunks): "
                                + " · ".join(facts))
        self.arrayLabel.show()
        v3 = node is not None and node.zarr_format == 3
        self.dimensionNames.setVisible(v3)
        if v3 and node is not None:
            self.dimensionNames.setNode(node)
            self.dimensionNames.setEnabled(editable)

    def _expanded_pointers(self) -> list[str]:
        out: list[str] = []

        def walk(parent: QModelIndex) -> None:
            for row in range(self.model.rowCount(parent)):
                index = self.model.index(row, 0, parent)
                if self.view.isExpanded(index):
                    out.append(self.model.pointer(index))
                    walk(index)

        walk(QModelIndex())
        return out

    def selectPointer(self, pointer: str) -> bool:
        index = self.model.indexForPointer(pointer)
        if not index.isValid():
            return False
        parent = index.parent()
        while parent.isValid():
            self.view.expand(parent)
            parent = parent.parent()
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)
        return True

    def selectedPointer(self) -> str | None:
        index = self.view.currentIndex()
        return self.model.pointer(index) if index.isValid() else None

    # -- edits -----------------------------------------------------------------------------------
    def _on_model_edit(self, kind: str, pointer: str, value: Any) -> bool:
        node = self._node
        if node is None:
            return False
        path = node.path
        if kind == "rename":
            ok = self._controller.edit(lambda s: s.rename(path, pointer, value))
            if ok:
                self.selectPointer(pointer.rsplit("/", 1)[0] + format_pointer([value]))
            return ok
        if kind == "delete":
            return self._controller.edit(lambda s: s.delete(path, pointer))
        return self._controller.edit(lambda s: s.set(path, pointer, value))

    def _refusal(self, pointer: str) -> str | None:
        node = self._node
        return self._controller.refusal(node.path, pointer) if node is not None else None

    def _container(self) -> tuple[str, JSON]:
        """The pointer and value of the container a new member goes into (the selection or its parent)."""
        index = self.view.currentIndex()
        while index.isValid():
            value = self.model.value(index)
            if json_type(value) in ("object", "list") and not self.model.isProtected(index):
                return self.model.pointer(index), value
            index = index.parent()
        return "", self.model.document()

    def addKey(self, name: str | None = None, value: JSON = "") -> bool:
        """Add member *name* (a fresh ``new_attribute`` when None) to the selected object and edit its key."""
        pointer, container = self._container()
        if not isinstance(container, dict):
            pointer, container = "", self.model.document()
        if name is None:
            name, n = "new_attribute", 1
            while name in container:
                n += 1
                name = f"new_attribute_{n}"
        new_pointer = pointer + format_pointer([name])
        if not self._on_model_edit("set", new_pointer, value):
            return False
        if self.selectPointer(new_pointer):
            self.view.edit(self.view.currentIndex().siblingAtColumn(JsonEditModel.KEY_COLUMN))
        return True

    def addItem(self, value: JSON = "") -> bool:
        """Append *value* to the selected list (or the list holding the selection)."""
        pointer, container = self._container()
        if not isinstance(container, list):
            return False
        if not self._on_model_edit("set", pointer + "/-", value):
            return False
        self.selectPointer(pointer + format_pointer([len(container)]))
        return True

    def deleteSelected(self) -> bool:
        index = self.view.currentIndex()
        if not index.isValid() or self.model.isReadOnly() or self.model.isProtected(index):
            return False
        return self._on_model_edit("delete", self.model.pointer(index), None)

    def pasteJson(self, value: JSON, pointer: str | None = None) -> bool:
        """Replace the value at *pointer* (the selection; the whole attributes when nothing is selected)."""
        if pointer is None:
            pointer = self.selectedPointer() or ""
        if pointer == "" and not isinstance(value, dict):
            self._controller.editFailed.emit("the attributes must be a JSON object")
            return False
        return self._on_model_edit("set", pointer, value)

    def _on_paste_triggered(self) -> None:
        """Open the Paste JSON dialog on the selected value (window-modal, not blocking: ``open()``)."""
        pointer = self.selectedPointer() or ""
        current = self.model.value(self.view.currentIndex()) if pointer else self.model.document()
        if self.pasteDialog is not None:
            self.pasteDialog.deleteLater()
        dialog = PasteJsonDialog(self, target=pointer or "the attributes", text=dumps(current))
        self.pasteDialog = dialog
        connect_slot(dialog.accepted, lambda: self.pasteJson(dialog.value(), pointer))
        dialog.open()

    def _act(self, action: Callable[[], object]) -> None:
        """Run an action's slot where the user sees it: the editor shown and its tree focused (the
        action may come from the window's Edit menu, with the focus in the hierarchy tree)."""
        self.showRequested.emit()
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)
        action()

    def _on_view_context_menu(self, pos: Any) -> None:
        index = self.view.indexAt(pos)
        if index.isValid():
            self.view.setCurrentIndex(index)
        self._show_menu(pos)

    def _context_menu_at_current(self) -> None:
        index = self.view.currentIndex()
        rect = self.view.visualRect(index) if index.isValid() else None
        self._show_menu(rect.center() if rect is not None and rect.isValid() else QPoint(8, 8))

    def _show_menu(self, pos: QPoint) -> None:
        """The context menu at *pos* (in the tree's viewport), for the current row."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        for action in self.editActions:
            menu.addAction(action)
        menu.exec(nonnull(self.view.viewport()).mapToGlobal(pos))

    def _update_actions(self, *_args: Any) -> None:
        editable = not self.model.isReadOnly()
        index = self.view.currentIndex()
        # NCZarr's own keys, and values no edit may change (an OME-NGFF version)
        protected = index.isValid() and (self.model.isProtected(index) or self.model.refusal(index) is not None)
        _pointer, container = self._container()
        self.addKeyAction.setEnabled(editable)
        self.addItemAction.setEnabled(editable and isinstance(container, list))
        self.deleteAction.setEnabled(editable and index.isValid() and not protected)
        self.pasteAction.setEnabled(editable and not protected)
