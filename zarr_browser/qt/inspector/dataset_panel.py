"""xarray / CF sections: a dataset (dimensions, coordinates, data variables) or one variable."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from zarr_browser.core.dimensions import UNNAMED
from zarr_browser.core.model import join_path
from zarr_browser.qt.inspector.formatting import format_json, format_shape, short_json
from zarr_browser.qt.inspector.overview import described_from
from zarr_browser.qt.inspector.tables import Cell, LinkTablesWidget, RowsModel, fit_height, group_box

__all__ = ["DatasetPanel", "decode_time_units"]

_SINCE = re.compile(r"^\s*(\w+)\s+since\s+(.+?)\s*$", re.IGNORECASE)
CONFLICT = "#f8c4c4"


def decode_time_units(units: object, calendar: object = None) -> str | None:
    """``"days since 2000-01-01"`` → ``"days from 2000-01-01 (standard calendar)"``; None if not a time."""
    if not isinstance(units, str):
        return None
    match = _SINCE.match(units)
    if match is None:
        return None
    cal = calendar if isinstance(calendar, str) else "standard"
    return f"{match.group(1)} from {match.group(2)} ({cal} calendar)"


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else format_json(value)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}



def _dims_text(dims: object) -> str:
    """``["time", None, "x"]`` → ``"time, –, x"`` (None: an axis v3 ``dimension_names`` leaves null)."""
    return ", ".join(UNNAMED if d is None else str(d) for d in dims) if isinstance(dims, list) else ""


def _durations(units: object, decoded: object) -> str:
    """``"durations in hours"`` for a variable xarray decodes to timedelta64 (its ``dtype``
    attribute says so), else ``""``."""
    if isinstance(decoded, str) and decoded.startswith("timedelta64") and isinstance(units, str):
        return f"durations in {units} (xarray: {decoded})"
    return ""

class DatasetPanel(LinkTablesWidget):
    """An xarray/CF dataset group, or a variable (array) with its CF attributes decoded."""

    _VAR_HEADERS = ("Name", "Dimensions", "Shape", "dtype", "Units", "Time", "Long name")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._header = QLabel()
        self._header.setWordWrap(True)
        self._header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dims = RowsModel(("Dimension", "Size"), self)
        self.coordinates = RowsModel(self._VAR_HEADERS, self)
        self.data_variables = RowsModel(self._VAR_HEADERS, self)
        self._dims_view = self._link_view(self.dims)
        self._coords_view = self._link_view(self.coordinates)
        self._vars_view = self._link_view(self.data_variables)
        self._dims_box = group_box("Dimensions", self._dims_view)
        self._coords_box = group_box("Coordinates", self._coords_view)
        self._vars_box = group_box("Data variables", self._vars_view)
        self._facts = QFormLayout()
        self._facts.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        layout = QVBoxLayout(self)
        layout.addWidget(self._header)
        layout.addLayout(self._facts)
        layout.addWidget(self._dims_box)
        layout.addWidget(self._coords_box)
        layout.addWidget(self._vars_box)
        layout.addStretch(1)

    # -- public ----------------------------------------------------------------------------------
    def headerText(self) -> str:
        return self._header.text()

    def factTexts(self) -> dict[str, str]:
        out = {}
        for row in range(self._facts.rowCount()):
            label = self._facts.itemAt(row, QFormLayout.ItemRole.LabelRole)
            field = self._facts.itemAt(row, QFormLayout.ItemRole.FieldRole)
            label_widget = label.widget() if label is not None else None
            field_widget = field.widget() if field is not None else None
            if isinstance(label_widget, QLabel) and isinstance(field_widget, QLabel):
                out[label_widget.text()] = field_widget.text()
        return out

    def clear(self) -> None:
        self._header.clear()
        for model in (self.dims, self.coordinates, self.data_variables):
            model.clear()
        while self._facts.rowCount():
            self._facts.removeRow(0)

    def setLoading(self) -> None:
        self.clear()
        self._header.setText("Loading…")

    def setDescriptions(self, node_path: str, is_group: bool, descriptions: Mapping[str, Mapping[str, Any]],
                        *, described: tuple[int, int] | None = None) -> None:
        """Show the ``xarray`` and ``cf`` descriptions of the node at *node_path* (a dataset
        *described* from its first children only says so)."""
        self.clear()
        xr = descriptions.get("xarray") or {}
        cf = descriptions.get("cf") or {}
        if is_group:
            self._set_dataset(node_path, xr, cf)
            if described is not None:
                self._header.setText(self._header.text() + html.escape(described_from(described)))
        else:
            self._set_variable(xr, cf)

    # -- dataset ---------------------------------------------------------------------------------
    def _set_dataset(self, node_path: str, xr: Mapping[str, Any], cf: Mapping[str, Any]) -> None:
        for key in ("Conventions", "title", "institution", "source", "history", "references", "comment"):
            if key in cf:
                text, _ = short_json(cf[key], 300) if not isinstance(cf[key], str) else (cf[key], False)
                self._add(key, text)
        dims = _mapping(xr.get("dims"))
        variables = _mapping(xr.get("variables"))
        # sizes each variable gives its dimensions: a dimension with two sizes is a conflict
        sizes: dict[str, set[int]] = {}
        for info in variables.values():
            if isinstance(info, Mapping):
                for name, size in zip(info.get("dims") or [], info.get("shape") or [], strict=False):
                    if isinstance(name, str) and isinstance(size, int):
                        sizes.setdefault(name, set()).add(size)
        conflicts = {name for name, found in sizes.items() if len(found) > 1}
        base = node_path.rstrip("/")
        # a DataTree group's coordinates inherited from an ancestor: that group holds them
        inherited = {name: str(info["inherited_from"]) for name, info in variables.items()
                     if isinstance(info, Mapping) and isinstance(info.get("inherited_from"), str)}

        def link(name: str) -> str:
            return join_path(inherited[name], name) if name in inherited else f"{base}/{name}"

        def origin(name: str) -> str | None:
            if name not in inherited:
                return None
            return f"Inherited from group {inherited[name]} (a DataTree group shares its ancestors' index coordinates)"

        self.dims.setRows([
            [Cell(str(name), bold=True, link=link(name) if name in variables else None,
                  tooltip=origin(name), background=CONFLICT if name in conflicts else None),
             Cell(" / ".join(str(s) for s in sorted(sizes.get(name, {size}))) if name in conflicts else str(size),
                  background=CONFLICT if name in conflicts else None,
                  tooltip="variables disagree on the size of this dimension" if name in conflicts else None)]
            for name, size in dims.items()
        ])
        fit_height(self._dims_view, len(dims), max_rows=8)

        def rows(names: object, *, with_origin: bool = False) -> list[list[Cell | str]]:
            out: list[list[Cell | str]] = []
            for name in names if isinstance(names, list) else []:
                info = _mapping(variables.get(name))
                tip = "Click to select the variable" + (f" in {inherited[name]}" if name in inherited else "")
                out.append([
                    Cell(str(name), bold=True, link=link(str(name)), tooltip=tip),
                    _dims_text(info.get("dims")),
                    format_shape(info.get("shape")),
                    _text(info.get("dtype")),
                    _text(info.get("units")),
                    decode_time_units(info.get("units"), info.get("calendar"))
                    or _durations(info.get("units"), info.get("decoded_dtype")),
                    _text(info.get("long_name")),
                ])
                if with_origin:
                    out[-1].append(Cell(inherited[name], link=inherited[name], tooltip=origin(str(name)))
                                   if name in inherited else "")
            return out

        coords = rows(xr.get("coordinates"), with_origin=bool(inherited))
        data_vars = rows(xr.get("data_variables"))
        self.coordinates.setRows(coords, (*self._VAR_HEADERS, "Inherited from") if inherited else self._VAR_HEADERS)
        self.data_variables.setRows(data_vars)
        fit_height(self._coords_view, len(coords), max_rows=8)
        fit_height(self._vars_view, len(data_vars), max_rows=10)
        self._dims_box.setVisible(bool(dims))
        self._coords_box.setVisible(bool(coords))
        self._vars_box.setVisible(bool(data_vars))
        parts = [f"{len(data_vars)} data variable{'s' if len(data_vars) != 1 else ''}",
                 f"{len(coords)} coordinate{'s' if len(coords) != 1 else ''}"
                 + (f" ({len(inherited)} inherited)" if inherited else ""),
                 f"{len(dims)} dimension{'s' if len(dims) != 1 else ''}"]
        if conflicts:
            parts.append(f"<span style='color:#8b1c1c'>conflicting sizes for {html.escape(', '.join(sorted(conflicts)))}</span>")
        self._header.setText("<b>Dataset</b> · " + " · ".join(parts))

    # -- variable --------------------------------------------------------------------------------
    def _set_variable(self, xr: Mapping[str, Any], cf: Mapping[str, Any]) -> None:
        for box in (self._dims_box, self._coords_box, self._vars_box):
            box.hide()
        parts = ["<b>Variable</b>"]
        if xr.get("dims"):
            dims = _dims_text(xr["dims"])
            shape = xr.get("shape") or []
            parts.append(f"({html.escape(dims)})")
            self._add("Dimensions", ", ".join(f"{_dims_text([d])}: {s}" for d, s in zip(xr["dims"], shape, strict=False))
                      or dims)
            if xr.get("source"):
                self._add("Named by", str(xr["source"]))
        if xr.get("coordinates"):
            self._add("Coordinates", ", ".join(str(c) for c in xr["coordinates"]))
        for key in ("long_name", "standard_name", "units", "calendar", "axis", "positive", "grid_mapping"):
            if key in cf:
                self._add(key, _text(cf[key]))
        time = cf.get("time") if isinstance(cf.get("time"), Mapping) else None
        if time:
            self._add("Decoded time", f"{_text(time.get('unit'))} since {_text(time.get('epoch'))} "
                                      f"({_text(time.get('calendar')) or 'standard'} calendar)")
        packing = cf.get("packing") if isinstance(cf.get("packing"), Mapping) else None
        if packing:
            self._add("Packing", f"{_text(packing.get('formula'))}  (stored as {_text(packing.get('stored_dtype'))})")
        for key in ("_FillValue", "missing_value"):
            info = cf.get(key)
            if isinstance(info, Mapping):
                self._add(key, f"raw {_text(info.get('raw'))} → decoded {_text(info.get('text') or info.get('decoded'))}")
        mask = cf.get("mask_value")
        if isinstance(mask, Mapping):
            self._add("Masked value", f"{_text(mask.get('value'))}  ({_text(mask.get('source'))})")
        for key in ("valid_range", "valid_min", "valid_max"):
            if key in cf:
                self._add(key, _text(cf[key]))
        if cf.get("long_name"):
            parts.append(html.escape(str(cf["long_name"])))
        self._header.setText(" · ".join(parts))

    def _add(self, label: str, value: str) -> None:
        field = QLabel(value)
        field.setTextFormat(Qt.TextFormat.PlainText)
        field.setWordWrap(True)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._facts.addRow(label, field)
