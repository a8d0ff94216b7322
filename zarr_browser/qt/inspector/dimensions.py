"""The dimensions section: one row per axis, every source's name, unit and scale side by side."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from zarr_browser.core.dimensions import UNNAMED
from zarr_browser.qt.inspector.formatting import format_number
from zarr_browser.qt.inspector.tables import Cell, RowsModel, make_table_view

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import DimensionSource
    from zarr_browser.core.model import Node

__all__ = ["DimensionsPanel"]

CONFLICT = "#f8c4c4"
"""Background of the cells of an axis whose sources disagree."""


class DimensionsPanel(QWidget):
    """Axis, size, chunk (and shard), then ``name / unit / scale`` per dimension source."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = RowsModel((), self)
        self.view = make_table_view(self.model)
        self._summary = QLabel()
        self._summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self._summary)
        layout.addWidget(self.view, 1)

    def summaryText(self) -> str:
        return self._summary.text()

    def clear(self) -> None:
        self.model.setRows([], ())
        self._summary.clear()

    def setLoading(self) -> None:
        self.clear()
        self._summary.setText("Loading dimension sources…")

    def setDimensions(self, node: Node, sources: Sequence[DimensionSource],
                      resolved: Sequence[str | None] | None = None) -> None:
        """Show the axes of array *node* as *sources* describe them."""
        array = node.array
        if array is None:
            self.clear()
            return
        ndim = array.ndim
        headers = ["Axis", "Size", "Chunk"]
        tips: list[str | None] = [None, None, "Chunk length (inner chunk when sharded)"]
        if array.shards:
            headers.append("Shard")
            tips.append(None)
        if resolved is not None:
            headers.append("Name")
            tips.append("The name readers use (xarray's order: zarr, xarray, NCZarr, then OME)")
        usable = [s for s in sources if len(s.names) == ndim]
        columns: list[tuple[DimensionSource, str]] = []
        for source in usable:
            columns.append((source, "names"))
            if source.units is not None and any(u is not None for u in source.units):
                columns.append((source, "units"))
            if source.scales is not None:
                columns.append((source, "scales"))
            if source.translations is not None and any(t not in (None, 0, 0.0) for t in source.translations):
                columns.append((source, "translations"))
            if source.types is not None:
                columns.append((source, "types"))
        word = {"names": "name", "units": "unit", "scales": "scale", "translations": "translation", "types": "type"}
        for source, field in columns:
            headers.append(f"{_short_source(source)}: {word[field]}")
            where = f"{source.document} {source.pointer}".strip()
            tips.append(f"{source.source} ({source.convention})" + (f" — {where}" if where else ""))
        conflicts: list[int] = []
        rows = []
        for axis in range(ndim):
            names = {s.names[axis] for s in usable if s.names[axis]}
            conflict = len(names) > 1
            if conflict:
                conflicts.append(axis)
            # written as the shape is everywhere else (tree, Array tab, chunks and shards here): no separators
            row: list[Cell | str] = [str(axis), str(array.shape[axis]), str(array.chunks[axis])]
            if array.shards:
                row.append(str(array.shards[axis]))
            if resolved is not None:
                name = resolved[axis] if axis < len(resolved) else ""
                name = UNNAMED if name is None else name
                row.append(Cell(name, bold=True, background=CONFLICT if conflict else None))
            for source, field in columns:
                values = getattr(source, field)
                value = values[axis] if values is not None and axis < len(values) else None
                text = "–" if value is None else (format_number(value) if field in ("scales", "translations") else str(value))
                background = CONFLICT if conflict and field == "names" else None
                tooltip = f"axis {axis} has different names in different sources" if background else None
                row.append(Cell(text, background=background, tooltip=tooltip))
            rows.append(row)
        self.model.setRows(rows, headers, header_tips=tips)
        skipped = [s for s in sources if len(s.names) != ndim]
        parts = []
        if not sources:
            parts.append("No convention names these axes.")
        else:
            parts.append("Sources: " + "; ".join(html.escape(s.source) for s in usable) if usable else "")
        if conflicts:
            parts.append(f"<span style='color:#8b1c1c'><b>Conflicting names</b> on axis "
                         f"{', '.join(map(str, conflicts))}.</span>")
        for s in skipped:
            parts.append(f"<span style='color:#8b1c1c'>{html.escape(s.source)} gives {len(s.names)} names for {ndim} "
                         "axes (not shown).</span>")
        self._summary.setText("<br>".join(p for p in parts if p))

    def conflictAxes(self) -> list[int]:
        """Axes highlighted as conflicting (for tests)."""
        out = []
        for row in range(self.model.rowCount()):
            if any(self.model.cell(row, c).background == CONFLICT for c in range(self.model.columnCount())):
                out.append(row)
        return out


def _short_source(source: DimensionSource) -> str:
    text = source.source
    if text.startswith("OME-NGFF axes"):
        return "OME"
    if text == "v3 dimension_names":
        return "dimension_names"
    if text.startswith("NCZarr"):
        return "NCZarr"
    return text
