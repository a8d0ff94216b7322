"""OME-NGFF sections: image (axes, pyramid levels, channels), labels, plate grid, well fields.

Each panel takes the ``describe()`` output of the ``ome-ngff`` convention (plain JSON data) and
reads it defensively: a malformed store shows blanks, never a traceback.
"""

from __future__ import annotations

import datetime as _dt
import html
import posixpath
import re
from collections.abc import Mapping
from typing import Any

from qtpy.QtCore import QEvent, QModelIndex, Qt
from qtpy.QtGui import QPalette
from qtpy.QtWidgets import QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from zarr_browser.qt._typed import nonnull
from zarr_browser.qt.inspector.formatting import format_number, format_numbers, format_shape
from zarr_browser.qt.inspector.tables import (
    Cell,
    CellLike,
    LinkTablesWidget,
    RowsModel,
    fit_height,
    group_box,
    make_table_view,
)

__all__ = ["LabelsPanel", "OmeImagePanel", "PlatePanel", "WellPanel", "channel_colour", "resolve_child"]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6})([0-9a-fA-F]{2})?$")
WELL_PRESENT = "#4f86c6"
WELL_ABSENT = "#e5e7eb"
WELL_BROKEN = "#b91c1c"


def channel_colour(value: object) -> str | None:
    """``"0000FF"`` → ``"#0000ff"``; None when it is not a hex colour."""
    if not isinstance(value, str):
        return None
    match = _HEX.match(value.strip())
    return f"#{match.group(1).lower()}" if match else None


def resolve_child(base: str, relative: object) -> str | None:
    """The node path *relative* names below *base* (None when it is not a relative path below it)."""
    if not isinstance(relative, str) or not relative or relative.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(base, relative))
    if not joined.startswith("/") or ".." in joined.split("/"):
        return None
    return joined


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [v for v in _list(value) if isinstance(v, Mapping)]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    if value is None:
        return "–"
    return value if isinstance(value, str) else format_number(value)


class OmeImagePanel(LinkTablesWidget):
    """An OME image (or label image): axes, the pyramid levels, channels and labels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._header = QLabel()
        self._header.setWordWrap(True)
        self._header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.axes = RowsModel(("Axis", "Type", "Unit", "Voxel size"), self)
        self.levels = RowsModel(("Level", "Shape", "Chunks", "Shards", "dtype", "Scale", "Translation"), self)
        self.channels = RowsModel(("Channel", "Colour", "Window", "Range", "Active"), self)
        self.labels = RowsModel(("Label image",), self)
        self._axes_view = make_table_view(self.axes)
        self._levels_view = self._link_view(self.levels, single_click=False)
        self._levels_view.setToolTip("Double-click a level to select its array")
        self._channels_view = make_table_view(self.channels)
        self._labels_view = self._link_view(self.labels)
        self._axes_box = group_box("Axes", self._axes_view)
        self._levels_box = group_box("Pyramid levels", self._levels_view)
        self._channels_box = group_box("Channels (omero)", self._channels_view)
        self._labels_box = group_box("Labels", self._labels_view)
        layout = QVBoxLayout(self)
        layout.addWidget(self._header)
        layout.addWidget(self._axes_box)
        layout.addWidget(self._levels_box)
        layout.addWidget(self._channels_box)
        layout.addWidget(self._labels_box)
        layout.addStretch(1)

    def headerText(self) -> str:
        return self._header.text()

    def clear(self) -> None:
        self._header.clear()
        for model in (self.axes, self.levels, self.channels, self.labels):
            model.clear()

    def setLoading(self) -> None:
        self.clear()
        self._header.setText("Loading…")

    def setDescription(self, node_path: str, desc: Mapping[str, Any]) -> None:
        """Show the ``ome-ngff`` description of the image at *node_path*."""
        axes = _dicts(desc.get("axes"))
        voxel = _list(desc.get("voxel_size"))
        parts = []
        if desc.get("name"):
            parts.append(f"<b>{html.escape(str(desc['name']))}</b>")
        parts.append(f"OME-NGFF {html.escape(str(desc.get('version') or '?'))}")
        if desc.get("version_note"):
            parts.append(f"<span style='color:#b45309'>{html.escape(str(desc['version_note']))}</span>")
        if desc.get("type"):
            parts.append(f"downsampled by {html.escape(str(desc['type']))}")
        if int(desc.get("multiscales_count") or 0) > 1:
            parts.append(f"{desc['multiscales_count']} multiscales (the first is shown)")
        space = [(a.get("name"), v, a.get("unit")) for a, v in zip(axes, voxel, strict=False) if a.get("type") == "space"]
        if space:
            size = " × ".join(f"{format_number(v)} {_unit(u)}".strip() for _, v, u in space)
            parts.append(f"voxel size {html.escape(size)}")
        self._header.setText(" · ".join(parts))

        self.axes.setRows([
            [Cell(str(a.get("name") or "–"), bold=True), _text(a.get("type")), _text(a.get("unit")),
             format_number(voxel[i]) if i < len(voxel) else "–"]
            for i, a in enumerate(axes)
        ])
        fit_height(self._axes_view, len(axes))

        levels = _dicts(desc.get("levels"))
        rows: list[list[CellLike]] = []
        for level in levels:
            path = resolve_child(node_path, level.get("path"))
            missing = level.get("shape") is None
            rows.append([
                Cell(str(level.get("path")), link=path, bold=True,
                     tooltip=f"{path}: the array could not be read" if missing else path,
                     foreground="#8b1c1c" if missing else None),
                Cell(format_shape(level.get("shape")) if not missing else "missing", foreground="#8b1c1c" if missing else None),
                format_shape(level.get("chunks")) if level.get("chunks") else "–",
                format_shape(level.get("shards")) if level.get("shards") else "–",
                _text(level.get("dtype")),
                format_numbers(level.get("scale")),
                format_numbers(level.get("translation")),
            ])
        self.levels.setRows(rows)
        fit_height(self._levels_view, len(rows))
        self._levels_box.setVisible(bool(rows))
        self._axes_box.setVisible(bool(axes))

        channels = _dicts(desc.get("channels"))
        rows = []
        for i, channel in enumerate(channels):
            colour = channel_colour(channel.get("color"))
            window = _mapping(channel.get("window"))
            win = f"{_text(window.get('start'))} – {_text(window.get('end'))}" if window else "–"
            rng = f"{_text(window.get('min'))} – {_text(window.get('max'))}" if "min" in window or "max" in window else "–"
            active = channel.get("active")
            rows.append([
                Cell(str(channel.get("label") or f"channel {i}"), swatch=colour, bold=True),
                Cell(colour.upper().lstrip("#") if colour else _text(channel.get("color")), swatch=colour),
                win, rng, "–" if active is None else ("yes" if active else "no"),
            ])
        self.channels.setRows(rows)
        fit_height(self._channels_view, len(rows))
        self._channels_box.setVisible(bool(rows))

        labels = [x for x in _list(desc.get("labels")) if isinstance(x, str)]
        self.labels.setRows([[Cell(name, link=resolve_child(node_path, f"labels/{name}"),
                                   tooltip="Click to select the label image")] for name in labels])
        fit_height(self._labels_view, len(labels), max_rows=6)
        self._labels_box.setVisible(bool(labels))


def _unit(unit: object) -> str:
    return {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "angstrom": "Å"}.get(str(unit), str(unit or ""))


class LabelsPanel(LinkTablesWidget):
    """A ``labels`` group (its label images) or a label image (colours, properties, source)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._header = QLabel()
        self._header.setWordWrap(True)
        self._header.setTextFormat(Qt.TextFormat.RichText)
        self._header.linkActivated.connect(self.nodeRequested.emit)
        self.names = RowsModel(("Label image",), self)
        self.colours = RowsModel(("Value", "Colour"), self)
        self._names_view = self._link_view(self.names)
        self._colours_view = make_table_view(self.colours)
        nonnull(self._colours_view.horizontalHeader()).setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._names_box = group_box("Label images", self._names_view)
        self._colours_box = group_box("Label colours and properties", self._colours_view)
        layout = QVBoxLayout(self)
        layout.addWidget(self._header)
        layout.addWidget(self._names_box)
        layout.addWidget(self._colours_box, 1)
        self._label_header: tuple[str | None, str] | None = None  # a label image's source and note

    def headerText(self) -> str:
        return self._header.text()

    def clear(self) -> None:
        self._label_header = None
        self._header.clear()
        self.names.clear()
        self.colours.clear()

    def _show_header(self) -> None:
        """A label image's header, its link in the palette's link colour: a label ignores it
        under a style sheet (napari's), and Qt's #0000ff was unreadable on napari's dark grey."""
        if self._label_header is None:
            return
        source, note = self._label_header
        header = "Label image"
        if source is not None:  # the link wider than the lone "/" of an image at the root
            colour = self.palette().color(QPalette.ColorRole.Link).name()
            header += f" of <a href='{html.escape(source)}' style='color:{colour}'>the image at {html.escape(source)}</a>"
        self._header.setText(header + note)

    def changeEvent(self, event: QEvent | None) -> None:
        super().changeEvent(event)
        if event is not None and event.type() == QEvent.Type.PaletteChange:
            self._show_header()

    def setDescription(self, node_path: str, desc: Mapping[str, Any]) -> None:
        roles = set(_list(desc.get("roles")))
        names = [x for x in _list(desc.get("labels")) if isinstance(x, str)]
        base = node_path if "labels" in roles else posixpath.join(node_path, "labels")
        self.names.setRows([[Cell(n, link=resolve_child(base, n), tooltip="Click to select")] for n in names])
        self._names_box.setVisible(bool(names) and "label-image" not in roles)
        label = desc.get("label") if isinstance(desc.get("label"), Mapping) else None
        if label is None:
            self._colours_box.hide()
            self._label_header = None
            self._header.setText(f"{len(names)} label image{'s' if len(names) != 1 else ''}" if names else
                                 "No label images listed.")
            return
        source = label.get("source_path")
        self._label_header = (source if isinstance(source, str) else None, "")
        self._show_header()
        colours = {c.get("label-value"): c.get("rgba") for c in _dicts(label.get("colors"))}
        properties = {p.get("label-value"): p for p in _dicts(label.get("properties"))}
        keys: list[str] = []
        for prop in properties.values():
            for key in prop:
                if key != "label-value" and key not in keys:
                    keys.append(str(key))
        values = list(dict.fromkeys([*colours, *properties]))
        rows: list[list[CellLike]] = []
        for value in values:
            rgba = colours.get(value)
            swatch = None
            text = "–"
            if isinstance(rgba, list) and len(rgba) >= 3 and all(isinstance(c, int) for c in rgba[:4]):
                swatch = "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, c)) for c in rgba[:3]))
                text = "rgba(" + ", ".join(str(c) for c in rgba) + ")"
            prop = properties.get(value, {})
            rows.append([Cell(_text(value), swatch=swatch, bold=True), Cell(text, swatch=swatch),
                         *(_text(prop.get(k)) if k in prop else "" for k in keys)])
        self.colours.setRows(rows, ["Value", "Colour", *keys])
        self._colours_box.setVisible(bool(rows))
        if not rows:
            self._label_header = (self._label_header[0] if self._label_header else None,
                                  ".<br>It lists no colours or properties for its values: viewers pick "
                                  "the colours (napari: a random colour per value).")
            self._show_header()


class PlatePanel(LinkTablesWidget):
    """A plate: the rows × columns grid (present wells are coloured; click one to select it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._header = QLabel()
        self._header.setWordWrap(True)
        self.grid = RowsModel((), self)
        self.grid_view = self._link_view(self.grid, row_links=False)
        self.grid_view.setAlternatingRowColors(False)
        horizontal = nonnull(self.grid_view.horizontalHeader())
        vertical = nonnull(self.grid_view.verticalHeader())
        vertical.setVisible(True)
        self.grid_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectItems)
        horizontal.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        horizontal.setStretchLastSection(False)
        horizontal.setDefaultSectionSize(40)
        vertical.setDefaultSectionSize(32)
        self.grid_view.setShowGrid(True)
        self.acquisitions = RowsModel(("Id", "Name", "Fields", "Start", "End"), self)
        self._acq_view = make_table_view(self.acquisitions)
        self._acq_box = group_box("Acquisitions", self._acq_view)
        layout = QVBoxLayout(self)
        layout.addWidget(self._header)
        layout.addWidget(group_box("Wells (click to select)", self.grid_view))
        layout.addWidget(self._acq_box)
        layout.addStretch(1)

    def clear(self) -> None:
        self._header.clear()
        self.grid.clear()
        self.acquisitions.clear()

    def wellIndex(self, row_name: str, column_name: str) -> QModelIndex:
        """The grid index of a well (for tests and keyboard navigation)."""
        rows = [self.grid.headerData(r, Qt.Orientation.Vertical) for r in range(self.grid.rowCount())]
        cols = self.grid.headers()
        return self.grid.index(rows.index(row_name), cols.index(column_name))

    def setDescription(self, node_path: str, desc: Mapping[str, Any], *, problems: Mapping[str, str] | None = None) -> None:
        """*problems*: the wells that cannot be opened, by path, with the reason: drawn in red
        with it as their tooltip (a missing one is no link: there is nothing to select)."""
        problems = problems or {}
        plate = _mapping(desc.get("plate"))
        rows = [str(r) if r is not None else "?" for r in _list(plate.get("rows"))]
        columns = [str(c) if c is not None else "?" for c in _list(plate.get("columns"))]
        wells = _dicts(plate.get("wells"))
        cells = [[Cell("", background=WELL_ABSENT, tooltip="no well") for _ in columns] for _ in rows]
        outside = 0
        for well in wells:
            r, c = well.get("rowIndex"), well.get("columnIndex")
            path = resolve_child(node_path, well.get("path"))
            if isinstance(r, int) and isinstance(c, int) and 0 <= r < len(rows) and 0 <= c < len(columns):
                problem = problems.get(str(well.get("path")))
                if problem is not None:
                    gone = problem.startswith("listed in the plate")
                    cells[r][c] = Cell("✕", background=WELL_BROKEN, foreground="#ffffff", link=None if gone else path,
                                       tooltip=f"{well.get('path')}: {problem}", align_center=True)
                else:
                    cells[r][c] = Cell("●", background=WELL_PRESENT, foreground="#ffffff", link=path,
                                       tooltip=f"{well.get('path')} — click to select", align_center=True)
            else:
                outside += 1
        self.grid.setRows(cells, columns, vertical_headers=rows)
        fit_height(self.grid_view, len(rows), max_rows=32)
        name = plate.get("name")
        parts = [f"<b>{html.escape(str(name))}</b>" if name else "Plate",
                 f"{len(rows)} rows × {len(columns)} columns", f"{len(wells)} wells"]
        if plate.get("field_count") is not None:
            count = plate["field_count"]
            parts.append(f"up to {count} field{'' if count == 1 else 's'} per well")
        if outside:
            parts.append(f"<span style='color:#8b1c1c'>{outside} wells outside the grid</span>")
        if problems:
            parts.append(f"<span style='color:#8b1c1c'>{len(problems)} well{'s' if len(problems) != 1 else ''} "
                         "cannot be opened (✕: point at one for why)</span>")
        self._header.setText(" · ".join(parts))
        acquisitions = _dicts(plate.get("acquisitions"))
        self.acquisitions.setRows([
            [_text(a.get("id")), _text(a.get("name")), _text(a.get("maximumfieldcount")),
             _time(a.get("starttime")), _time(a.get("endtime"))]
            for a in acquisitions
        ])
        fit_height(self._acq_view, len(acquisitions), max_rows=6)
        self._acq_box.setVisible(bool(acquisitions))


def _time(value: object) -> str:
    """Acquisition times are milliseconds since the epoch."""
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _dt.datetime.fromtimestamp(value / 1000, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        except (OverflowError, OSError, ValueError):
            return str(value)
    return _text(value) if value is not None else "–"


class WellPanel(LinkTablesWidget):
    """A well: its fields of view (click one to select it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._header = QLabel()
        self.fields = RowsModel(("Field", "Acquisition"), self)
        self._view = self._link_view(self.fields)
        layout = QVBoxLayout(self)
        layout.addWidget(self._header)
        layout.addWidget(group_box("Fields (click to select)", self._view), 1)

    def clear(self) -> None:
        self._header.clear()
        self.fields.clear()

    def setDescription(self, node_path: str, desc: Mapping[str, Any]) -> None:
        well = _mapping(desc.get("well"))
        images = _dicts(well.get("images"))
        self.fields.setRows([[Cell(_text(i.get("path")), link=resolve_child(node_path, i.get("path")), bold=True),
                              _text(i.get("acquisition"))] for i in images])
        self._header.setText(f"{len(images)} field{'s' if len(images) != 1 else ''} of view")
