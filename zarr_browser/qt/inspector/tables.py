"""A small read-only table model the inspector panels share, and the view settings they use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from qtpy.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
from qtpy.QtGui import QBrush, QColor, QFont, QIcon
from qtpy.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QGroupBox,
    QHeaderView,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.qt._typed import nonnull

__all__ = ["Cell", "CellLike", "LinkTablesWidget", "RowsModel", "fit_height", "group_box", "make_table_view"]


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell: its text and how it looks.

    ``swatch`` draws a colour square before the text; ``background`` tints the cell (conflicts,
    plate wells); ``link`` is a node path the cell leads to (read with :attr:`RowsModel.LinkRole`).
    """

    text: str
    tooltip: str | None = None
    background: str | None = None
    foreground: str | None = None
    swatch: str | None = None
    link: str | None = None
    bold: bool = False
    align_center: bool = False
    icon: str | None = None


CellLike = Cell | str | int | float | None


def _cell(value: CellLike) -> Cell:
    if isinstance(value, Cell):
        return value
    return Cell("" if value is None else str(value))


class RowsModel(QAbstractTableModel):
    """Rows of :class:`Cell` under fixed headers; ``data()`` is a lookup, nothing more."""

    LinkRole = Qt.ItemDataRole.UserRole + 1
    CellRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, headers: Sequence[str] = (), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._headers: list[str] = list(headers)
        self._header_tips: list[str | None] = [None] * len(self._headers)
        self._vheaders: list[str] | None = None
        self._rows: list[list[Cell]] = []
        self._brushes: dict[str, QBrush] = {}
        self._colours: dict[str, QColor] = {}
        self.icons: dict[str, QIcon] = {}
        """Icons by name, for cells with an ``icon``."""
        self._bold = QFont()
        self._bold.setBold(True)

    # -- content -------------------------------------------------------------------------------
    def setRows(
        self,
        rows: Sequence[Sequence[CellLike]],
        headers: Sequence[str] | None = None,
        *,
        header_tips: Sequence[str | None] | None = None,
        vertical_headers: Sequence[str] | None = None,
    ) -> None:
        """Replace everything shown (a model reset)."""
        self.beginResetModel()
        if headers is not None:
            self._headers = list(headers)
        self._header_tips = list(header_tips) if header_tips is not None else [None] * len(self._headers)
        self._vheaders = list(vertical_headers) if vertical_headers is not None else None
        width = len(self._headers)
        self._rows = [[_cell(v) for v in row][:width] + [Cell("")] * (width - len(row)) for row in rows]
        for row in self._rows:
            for cell in row:
                for colour in (cell.background, cell.foreground, cell.swatch):
                    if colour is not None and colour not in self._colours:
                        self._colours[colour] = QColor(colour)
                        self._brushes[colour] = QBrush(self._colours[colour])
        self.endResetModel()

    def clear(self) -> None:
        self.setRows([])

    def cell(self, row: int, column: int) -> Cell:
        return self._rows[row][column]

    def headers(self) -> list[str]:
        return list(self._headers)

    def texts(self) -> list[list[str]]:
        """Every cell's text, row by row (for tests and copying)."""
        return [[c.text for c in row] for row in self._rows]

    # -- Qt API --------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._headers)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        cell = self._rows[index.row()][index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return cell.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell.tooltip if cell.tooltip is not None else (cell.text if len(cell.text) > 40 else None)
        if role == Qt.ItemDataRole.BackgroundRole and cell.background is not None:
            return self._brushes[cell.background]
        if role == Qt.ItemDataRole.ForegroundRole and cell.foreground is not None:
            return self._brushes[cell.foreground]
        if role == Qt.ItemDataRole.DecorationRole:
            if cell.swatch is not None:
                return self._colours[cell.swatch]
            if cell.icon is not None:
                return self.icons.get(cell.icon)
            return None
        if role == Qt.ItemDataRole.FontRole and cell.bold:
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and cell.align_center:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == self.LinkRole:
            return cell.link
        if role == self.CellRole:
            return cell
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._headers):
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                return self._headers[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._header_tips[section] if section < len(self._header_tips) else None
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if self._vheaders is not None and 0 <= section < len(self._vheaders):
                return self._vheaders[section]
            return str(section + 1) if 0 <= section < len(self._rows) else None
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


def make_table_view(model: RowsModel, parent: QWidget | None = None, *, stretch_last: bool = True,
                    row_headers: bool = False) -> QTableView:
    """A compact read-only view over *model*."""
    view = QTableView(parent)
    view.setModel(model)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setWordWrap(False)
    vertical = nonnull(view.verticalHeader())
    vertical.setVisible(row_headers)
    vertical.setDefaultSectionSize(view.fontMetrics().height() + 8)
    header = nonnull(view.horizontalHeader())
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setResizeContentsPrecision(200)  # measure 200 rows, not all of them (tables can hold 10,000)
    header.setStretchLastSection(stretch_last)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    return view


class LinkTablesWidget(QWidget):
    """Base: tables whose cells carry node links; a click on a linked cell requests the node."""

    nodeRequested = Signal(str)

    def _link_view(self, model: RowsModel, *, single_click: bool = True, row_links: bool = True) -> QTableView:
        """A table over *model* whose linked cells request their node when clicked.

        With *row_links*, a click anywhere in a row follows the link of the row's first cell.
        """
        view = make_table_view(model)
        signal = view.clicked if single_click else view.doubleClicked
        signal.connect(partial(self._on_view_activated, row_links))
        return view

    def _on_view_activated(self, row_links: bool, index: QModelIndex) -> None:
        link = index.data(RowsModel.LinkRole)
        if not link and row_links:
            link = index.sibling(index.row(), 0).data(RowsModel.LinkRole)
        if link:
            self.nodeRequested.emit(link)


def group_box(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(6, 6, 6, 6)
    layout.addWidget(widget)
    return box


def fit_height(view: QTableView, rows: int, *, max_rows: int = 12) -> None:
    """Size a table to its rows (up to *max_rows*) so stacked tables do not scroll inside each other."""
    view.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
    view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
    if rows > max_rows:
        header_height = nonnull(view.horizontalHeader()).sizeHint().height()
        height = header_height + max_rows * nonnull(view.verticalHeader()).defaultSectionSize()
        scroll_bar_height = nonnull(view.horizontalScrollBar()).sizeHint().height()
        view.setMaximumHeight(height + 2 * view.frameWidth() + scroll_bar_height)
    else:
        view.setMaximumHeight(16777215)
    view.updateGeometry()
