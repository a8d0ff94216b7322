"""An editable Key | Type | Value tree over a node's attributes, as a Qt item model.

:class:`JsonEditModel` is a thin adapter: it shows a JSON object and turns every edit a view
makes through ``setData`` (a key renamed, a type chosen, a value typed, a box ticked) into a
request handed to its *editor* callback ``editor(kind, pointer, value) -> bool``; the owner runs
it as an :class:`~zarr_browser.core.editing.EditSession` command and calls :meth:`setDocument`
with the new working state.  The model never changes its own data, so undo always works.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

from qtpy.QtCore import QAbstractItemModel, QModelIndex, QObject, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QFont
from qtpy.QtWidgets import QComboBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from zarr_browser.core.editing.commands import format_pointer, is_protected_attribute
from zarr_browser.core.jsonio import JSON
from zarr_browser.qt.inspector.formatting import format_json, short_json

__all__ = ["TYPES", "JsonEditModel", "JsonTypeDelegate", "convert", "json_type", "parse_json_text", "parse_number"]

JsonType = Literal["string", "number", "bool", "null", "list", "object"]
TYPES: tuple[JsonType, ...] = ("string", "number", "bool", "null", "list", "object")

EditKind = Literal["set", "rename", "delete"]
Editor = Callable[[EditKind, str, Any], bool]
Guard = Callable[[str], str | None]
"""``guard(pointer)``: why the value at *pointer* may not be changed at all (None: it may)."""

_PROTECTED_TIP = "NCZarr's own metadata: read-only (netCDF-C keeps it consistent)"


def json_type(value: JSON) -> JsonType:
    """The JSON type name of *value*."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def parse_number(text: str) -> int | float:
    """``"3"`` → 3, ``"0.5"`` → 0.5, ``"1e-6"`` → 1e-06.

    Raises ValueError (with a message for the user) when *text* is not a JSON number: also for
    NaN and the infinities, which JSON (RFC 8259) does not have — a document holding them is
    refused by strict readers, and by ``zarr-browser edit``.
    """
    text = text.strip()
    if text.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise ValueError(f"{text} is not a JSON number (JSON has no NaN or infinities): make the value a string "
                         f"to store \"{text}\" as zarr spells fill values, or null")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{text} is beyond what a JSON number can hold")
    return number


def convert(value: JSON, to: JsonType) -> JSON:
    """*value* as another JSON type, keeping what can be kept (``"3"`` → 3, 3 → ``"3"``)."""
    if to == json_type(value):
        return value
    if to == "string":
        return value if isinstance(value, str) else format_json(value) if value is not None else ""
    if to == "number":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            try:
                return parse_number(value)
            except ValueError:
                return 0
        return 0
    if to == "bool":
        return value.strip().lower() in ("true", "1", "yes") if isinstance(value, str) else bool(value)
    if to == "null":
        return None
    if to == "list":
        return [] if value is None or isinstance(value, dict) else [value]
    return {}


class _Item:
    """One row: its key in the parent (a str member or an int index), its value and its children."""

    __slots__ = ("children", "key", "parent", "pointer", "protected", "row", "value")

    def __init__(self, key: str | int, value: JSON, parent: _Item | None, row: int, protected: bool) -> None:
        self.key = key
        self.value = value
        self.parent = parent
        self.row = row
        self.protected = protected
        tokens: list[str | int] = []
        item: _Item | None = self
        while item is not None and item.parent is not None:
            tokens.append(item.key)
            item = item.parent
        self.pointer = format_pointer(reversed(tokens))
        self.children: list[_Item] = []
        if isinstance(value, dict):
            self.children = [_Item(k, v, self, i, protected) for i, (k, v) in enumerate(value.items())]
        elif isinstance(value, list):
            self.children = [_Item(i, v, self, i, protected) for i, v in enumerate(value)]


class JsonEditModel(QAbstractItemModel):
    """Key | Type | Value over a JSON object; edits go to the *editor* callback.

    Parameters
    ----------
    editor
        ``editor(kind, pointer, value)`` with kind ``"set"`` (value: the new JSON value),
        ``"rename"`` (value: the new key) or ``"delete"``; returns whether it was applied.
    """

    KEY_COLUMN, TYPE_COLUMN, VALUE_COLUMN = 0, 1, 2
    HEADERS = ("Key", "Type", "Value")
    PointerRole = Qt.ItemDataRole.UserRole + 1
    JsonRole = Qt.ItemDataRole.UserRole + 2
    TypeRole = Qt.ItemDataRole.UserRole + 3

    #: an edit typed into a cell was refused before it reached the editor (the reason)
    refused = Signal(str)

    def __init__(self, editor: Editor | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._editor = editor
        self._guard: Guard | None = None
        self._root = _Item("", {}, None, 0, False)
        self._read_only = True

    # -- content -------------------------------------------------------------------------------
    def setDocument(self, value: Mapping[str, JSON] | None, *, read_only: bool = False) -> None:
        """Show *value* (a node's attributes); *read_only* refuses every edit."""
        self.beginResetModel()
        root = _Item("", {}, None, 0, False)
        root.value = dict(value or {})
        root.children = [_Item(k, v, root, i, is_protected_attribute(k)) for i, (k, v) in enumerate(root.value.items())]
        self._root = root
        self._read_only = read_only
        self.endResetModel()

    def document(self) -> dict[str, JSON]:
        value = self._root.value
        return dict(value) if isinstance(value, dict) else {}

    def isReadOnly(self) -> bool:
        return self._read_only

    def setEditor(self, editor: Editor | None) -> None:
        self._editor = editor

    def setGuard(self, guard: Guard | None) -> None:
        """Ask *guard* before a cell is edited: a value no edit may change (an OME-NGFF version)
        is refused as the edit opens, not after it was typed."""
        self._guard = guard

    def refusal(self, index: QModelIndex) -> str | None:
        """Why the row of *index* may not be changed at all (the guard's answer; None: it may)."""
        if not index.isValid() or self._guard is None or self._read_only:
            return None
        return self._guard(self._item(index).pointer)

    def _item(self, index: QModelIndex) -> _Item:
        item: _Item = index.internalPointer() if index.isValid() else self._root
        return item

    def pointer(self, index: QModelIndex) -> str:
        """The JSON pointer (into the attributes) of the row of *index* ('' for the root)."""
        return self._item(index).pointer

    def value(self, index: QModelIndex) -> JSON:
        return self._item(index).value

    def isProtected(self, index: QModelIndex) -> bool:
        return self._item(index).protected

    def indexForPointer(self, pointer: str, column: int = 0) -> QModelIndex:
        """The index of the row at *pointer* (invalid when it is not shown)."""
        item = self._root
        index = QModelIndex()
        for child_pointer in _prefixes(pointer):
            found = next((c for c in item.children if c.pointer == child_pointer), None)
            if found is None:
                return QModelIndex()
            item = found
            index = self.index(found.row, 0, index)
        return index.siblingAtColumn(column) if index.isValid() else index

    # -- QAbstractItemModel --------------------------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        item = self._item(parent)
        return self.createIndex(row, column, item.children[row])

    def parent(self, index: QModelIndex) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        parent = self._item(index).parent
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._item(parent).children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole \
                and 0 <= section < len(self.HEADERS):
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._item(index)
        column = index.column()
        kind = json_type(item.value)
        if role == self.PointerRole:
            return item.pointer
        if role == self.JsonRole:
            return item.value
        if role == self.TypeRole:
            return kind
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == self.KEY_COLUMN:
                return str(item.key) if isinstance(item.key, str) or role == Qt.ItemDataRole.EditRole \
                    else f"[{item.key}]"
            if column == self.TYPE_COLUMN:
                return kind
            if kind == "object":
                n = len(item.children)
                return "" if role == Qt.ItemDataRole.EditRole else f"{{{n} key{'s' if n != 1 else ''}}}"
            if kind == "list":
                n = len(item.children)
                return "" if role == Qt.ItemDataRole.EditRole else f"[{n} item{'s' if n != 1 else ''}]"
            if kind == "bool":
                return "true" if item.value else "false"
            if kind == "string":
                return item.value if role == Qt.ItemDataRole.EditRole else short_json(item.value)[0]
            return format_json(item.value)
        if role == Qt.ItemDataRole.CheckStateRole and column == self.VALUE_COLUMN and kind == "bool":
            return Qt.CheckState.Checked if item.value else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            if item.protected:
                return _PROTECTED_TIP
            if column == self.VALUE_COLUMN:
                return format_json(item.value)[:2000]
            return item.pointer
        if role == Qt.ItemDataRole.ForegroundRole:
            if item.protected:
                return QBrush(QColor("#6b7280"))
            if column == self.TYPE_COLUMN:
                return QBrush(QColor("#6d28d9"))
            if column == self.VALUE_COLUMN and kind in ("object", "list", "null"):
                return QBrush(QColor("#6b7280"))
            return None
        if role == Qt.ItemDataRole.FontRole and item.protected:
            font = QFont()
            font.setItalic(True)
            return font
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        item = self._item(index)
        if self._read_only or item.protected or self._editor is None:
            return flags
        column = index.column()
        kind = json_type(item.value)
        if (column == self.KEY_COLUMN and isinstance(item.key, str)) or column == self.TYPE_COLUMN:
            flags |= Qt.ItemFlag.ItemIsEditable
        elif column == self.VALUE_COLUMN:
            if kind == "bool":
                flags |= Qt.ItemFlag.ItemIsUserCheckable
            elif kind in ("string", "number"):
                flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or not (self.flags(index) & (Qt.ItemFlag.ItemIsEditable
                                                           | Qt.ItemFlag.ItemIsUserCheckable)):
            return False
        item = self._item(index)
        column = index.column()
        kind = json_type(item.value)
        assert self._editor is not None
        if column == self.KEY_COLUMN and role == Qt.ItemDataRole.EditRole:
            new_key = str(value)
            if not new_key or new_key == item.key:
                return False
            return self._editor("rename", item.pointer, new_key)
        if column == self.TYPE_COLUMN and role == Qt.ItemDataRole.EditRole:
            if value not in TYPES or value == kind:
                return False
            return self._editor("set", item.pointer, convert(item.value, value))
        if column == self.VALUE_COLUMN:
            if role == Qt.ItemDataRole.CheckStateRole and kind == "bool":
                checked = int(getattr(value, "value", value)) == int(getattr(Qt.CheckState.Checked, "value", 2))
                return checked != item.value and self._editor("set", item.pointer, checked)
            if role == Qt.ItemDataRole.EditRole:
                if kind == "number":
                    try:
                        number = parse_number(str(value))
                    except ValueError as err:
                        self.refused.emit(str(err))
                        return False
                    return self._editor("set", item.pointer, number)
                if kind == "string" and value != item.value:
                    return self._editor("set", item.pointer, str(value))
        return False


def _prefixes(pointer: str) -> list[str]:
    """``/a/b/0`` → ``["/a", "/a/b", "/a/b/0"]`` (escaped tokens stay escaped)."""
    if not pointer:
        return []
    tokens = pointer[1:].split("/")
    return ["/" + "/".join(tokens[: n + 1]) for n in range(len(tokens))]


class JsonTypeDelegate(QStyledItemDelegate):
    """A combo box of the JSON types for the Type column; no editor for a row the model's guard
    refuses (the model says why, as the edit would have)."""

    def createEditor(self, parent: QWidget | None, option: QStyleOptionViewItem,
                     index: QModelIndex) -> QWidget | None:
        model = index.model()
        if isinstance(model, JsonEditModel) and (reason := model.refusal(index)) is not None:
            model.refused.emit(reason)  # F2 opened an editor, and only Return refused what was typed
            return None
        if index.column() != JsonEditModel.TYPE_COLUMN:
            return super().createEditor(parent, option, index)
        combo = QComboBox(parent)
        combo.addItems(TYPES)
        return combo

    def setEditorData(self, editor: QWidget | None, index: QModelIndex) -> None:
        if isinstance(editor, QComboBox):
            editor.setCurrentText(str(index.data(Qt.ItemDataRole.EditRole)))
        else:
            super().setEditorData(editor, index)

    def setModelData(self, editor: QWidget | None, model: QAbstractItemModel | None, index: QModelIndex) -> None:
        if isinstance(editor, QComboBox):
            if model is not None:
                model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)
        else:
            super().setModelData(editor, model, index)


def parse_json_text(text: str) -> JSON:
    """Parse pasted JSON as RFC 8259 has it (bare NaN and Infinity refused, as ``zarr-browser
    edit`` refuses them); raises ValueError with a message for the user."""

    def refuse(token: str) -> JSON:
        raise ValueError(f"{token} is not JSON (most readers reject it): write the string \"{token}\" (as zarr "
                         "spells such fill values) or null")

    try:
        return json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
