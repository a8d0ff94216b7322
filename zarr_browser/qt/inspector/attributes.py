"""A searchable JSON tree: the node's attributes (and, reused, the convention descriptions)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from qtpy.QtCore import QPoint, Qt, Signal
from qtpy.QtGui import QFontDatabase
from qtpy.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QTreeWidgetItemIterator,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.issues import pointer as make_pointer
from zarr_browser.core.jsonio import JSON, dumps
from zarr_browser.qt._typed import nonnull
from zarr_browser.qt.inspector.formatting import short_json

__all__ = ["AttributesPanel", "JsonTree"]

MAX_CHILDREN = 500
"""Rows shown per object (the top level included) or list; the rest are summarised in one row
(the raw view has all).  Rows are built on the GUI thread: 200,000 keys took seconds."""

MAX_ROWS = 5_000
"""Rows built for one document in all: a cap per level alone let 500 objects of 500 keys build
250,000 rows (and 500 levels of nesting far more)."""

_VALUE_ROLE = Qt.ItemDataRole.UserRole + 1
_SEARCH_ROLE = Qt.ItemDataRole.UserRole + 2
_POINTER_ROLE = Qt.ItemDataRole.UserRole + 3


class JsonTree(QWidget):
    """A filter box over a Key | Value tree of a JSON object.

    Long values are elided in the tree; double-click (or the context menu) shows the whole
    value.  The filter keeps rows whose key or full value contains the text (case-insensitive),
    with their ancestors and descendants.

    Signals
    -------
    fullValueRequested(str)
        The JSON pointer of a value the user asked to see in full (after the dialog opened).
    """

    fullValueRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, placeholder: str = "Filter keys and values…") -> None:
        super().__init__(parent)
        self._budget = MAX_ROWS
        self.filter = QLineEdit()
        self.filter.setPlaceholderText(placeholder)
        self.filter.setClearButtonEnabled(True)
        self._count = QLabel()
        self._count.setStyleSheet("color: palette(dark);")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(("Key", "Value"))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = nonnull(self.tree.header())
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.tree.setColumnWidth(0, 200)
        self._empty = QLabel()
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setStyleSheet("color: palette(dark); padding: 12px;")
        self._pointer_prefix: tuple[str | int, ...] = ()
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self._count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self._empty)
        self._empty.hide()
        self._connect()

    def _connect(self) -> None:
        self.filter.textChanged.connect(self._on_filter_text_changed)
        self.tree.itemDoubleClicked.connect(self._on_tree_item_double_clicked)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu)

    # -- content ---------------------------------------------------------------------------------
    def setData(self, data: Mapping[str, JSON] | None, *, pointer_prefix: tuple[str | int, ...] = (),
                empty_text: str = "No attributes") -> None:
        """Show *data*; pointers of its items start with *pointer_prefix* (``("attributes",)`` in v3)."""
        self.tree.clear()
        self._pointer_prefix = pointer_prefix
        self._budget = MAX_ROWS
        data = data or {}
        # every top-level key gets its row (up to MAX_CHILDREN); the budget bounds what is below them
        items = [self._make_item(str(k), v, (*pointer_prefix, str(k))) for k, v in islice(data.items(), MAX_CHILDREN)]
        self.tree.addTopLevelItems(items)
        for item in items:
            if item.childCount() <= 20:
                item.setExpanded(True)
        if len(data) > len(items):
            self.tree.addTopLevelItem(self._more_item(len(data) - len(items), "keys"))
        self.tree.setVisible(bool(items))
        self._empty.setText(empty_text)
        self._empty.setVisible(not items)
        self._count.setText(f"{len(data):,} key{'s' if len(data) != 1 else ''}")
        if self.filter.text():
            self._on_filter_text_changed(self.filter.text())

    def clear(self) -> None:
        self.setData({})

    def visibleTopLevelKeys(self) -> list[str]:
        """Keys of the top-level rows the filter leaves visible (for tests)."""
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None and not item.isHidden()]

    def selectPointer(self, pointer: str) -> bool:
        """Select and reveal the row of a JSON pointer (or its nearest shown ancestor)."""
        best: QTreeWidgetItem | None = None
        best_len = -1
        iterator = QTreeWidgetItemIterator(self.tree)
        while (item := iterator.value()) is not None:
            ptr = item.data(0, _POINTER_ROLE) or ""
            if (pointer == ptr or pointer.startswith(ptr + "/")) and len(ptr) > best_len:
                best, best_len = item, len(ptr)
            iterator += 1
        if best is None:
            return False
        self.filter.clear()
        self.tree.setCurrentItem(best)
        self.tree.scrollToItem(best)
        return True

    def fullText(self, item: QTreeWidgetItem) -> str:
        """The pretty-printed JSON of an item's value."""
        return dumps(item.data(1, _VALUE_ROLE), indent=2)

    # -- building --------------------------------------------------------------------------------
    def _shown(self, entries: Iterable[Any]) -> Iterator[Any]:
        """The first entries of one object or list that get rows: at most MAX_CHILDREN, and none
        once the document's MAX_ROWS are spent."""
        for entry in islice(entries, MAX_CHILDREN):
            if self._budget <= 0:
                return
            yield entry

    def _make_item(self, key: str, value: Any, path: tuple[str | int, ...]) -> QTreeWidgetItem:
        self._budget -= 1
        item = QTreeWidgetItem()
        item.setText(0, key)
        item.setData(1, _VALUE_ROLE, value)
        item.setData(0, _POINTER_ROLE, make_pointer(*path))
        if isinstance(value, dict):
            item.setText(1, f"{{{len(value)} key{'s' if len(value) != 1 else ''}}}")
            item.setForeground(1, self.palette().mid())
            shown = 0
            for k, v in self._shown(value.items()):
                item.addChild(self._make_item(str(k), v, (*path, str(k))))
                shown += 1
            if len(value) > shown:
                item.addChild(self._more_item(len(value) - shown, "keys"))
            search = key
        elif isinstance(value, list):
            item.setText(1, f"[{len(value)} item{'s' if len(value) != 1 else ''}]")
            item.setForeground(1, self.palette().mid())
            if value and all(not isinstance(v, dict | list) for v in value) and len(value) <= 16:
                text, _ = short_json(value)
                item.setText(1, text)  # short lists of scalars read best on one line
            shown = 0
            for i, v in self._shown(enumerate(value)):
                item.addChild(self._make_item(str(i), v, (*path, i)))
                shown += 1
            if len(value) > shown:
                item.addChild(self._more_item(len(value) - shown, "items"))
            search = key
        else:
            text, elided = short_json(value)
            item.setText(1, text)
            full = dumps(value, indent=None)
            if elided:
                item.setToolTip(1, "Double-click to see the whole value")
            search = key + "\n" + full
        item.setData(0, _SEARCH_ROLE, search.casefold())
        return item

    def _more_item(self, remaining: int, noun: str) -> QTreeWidgetItem:
        """The row standing for the keys or items not shown (no pointer: no menu)."""
        more = QTreeWidgetItem(["…", f"{remaining:,} more {noun} (see Raw JSON)"])
        more.setData(0, _SEARCH_ROLE, "")
        more.setForeground(1, self.palette().mid())
        return more

    # -- slots -----------------------------------------------------------------------------------
    def _on_filter_text_changed(self, text: str) -> None:
        needle = text.strip().casefold()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None:
                _apply_filter(item, needle, False)
        if needle and self.tree.topLevelItemCount() < 50:
            self.tree.expandAll()

    def _on_tree_item_double_clicked(self, item: QTreeWidgetItem, column: int) -> None:
        self.showFullValue(item)

    def showFullValue(self, item: QTreeWidgetItem) -> QDialog:
        """Open a dialog with the whole value of *item* (pretty-printed, selectable)."""
        dialog = QDialog(self)
        dialog.setWindowTitle(item.data(0, _POINTER_ROLE) or item.text(0))
        text = QPlainTextEdit(self.fullText(item))
        text.setReadOnly(True)
        text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.resize(560, 420)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self.fullValueRequested.emit(item.data(0, _POINTER_ROLE) or "")
        return dialog

    def _on_tree_context_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        if item is None or item.data(0, _POINTER_ROLE) is None:
            return
        menu = QMenu(self)
        menu.addAction("Show full value…", lambda: self.showFullValue(item))
        menu.addAction("Copy value", lambda: nonnull(QApplication.clipboard()).setText(self.fullText(item)))
        menu.addAction("Copy key", lambda: nonnull(QApplication.clipboard()).setText(item.text(0)))
        menu.addAction("Copy JSON pointer",
                       lambda: nonnull(QApplication.clipboard()).setText(item.data(0, _POINTER_ROLE)))
        menu.exec(nonnull(self.tree.viewport()).mapToGlobal(pos))


def _apply_filter(item: QTreeWidgetItem, needle: str, ancestor_match: bool) -> bool:
    own = not needle or needle in (item.data(0, _SEARCH_ROLE) or "")
    match = ancestor_match or own
    visible = match
    for i in range(item.childCount()):
        child = item.child(i)
        if child is not None:
            visible = _apply_filter(child, needle, match) or visible
    item.setHidden(not visible)
    return visible


class AttributesPanel(JsonTree):
    """The node's user attributes."""

    def setNode(self, attributes: Mapping[str, JSON], *, zarr_format: int | None) -> None:
        prefix: tuple[str | int, ...] = ("attributes",) if zarr_format == 3 else ()
        self.setData(attributes, pointer_prefix=prefix)
