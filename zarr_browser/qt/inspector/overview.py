"""The overview section: what the node is, its conventions as badges, notes, errors, preview."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from zarr_browser.core.safety import itemsize
from zarr_browser.core.text import visible_name
from zarr_browser.qt._typed import clear_layout, layout_widgets
from zarr_browser.qt.inspector.elided_label import ElidedLabel
from zarr_browser.qt.inspector.formatting import format_bytes, format_number, format_shape
from zarr_browser.qt.inspector.preview_widget import PreviewWidget

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import Detection
    from zarr_browser.core.model import Node

__all__ = ["BADGE_COLOURS", "OverviewPanel", "badge_text", "highlights"]

BADGE_COLOURS = {
    "zarr": "#6b7280",
    "ome-ngff": "#2563eb",
    "xarray": "#d97706",
    "cf": "#059669",
    "nczarr": "#7c3aed",
    "zarr-conventions": "#0d9488",
    "consolidated": "#92400e",
}
_OTHER_COLOUR = "#475569"


def badge_text(detection: Detection) -> str:
    """``ome-ngff 0.5 · image, omero``."""
    label = detection.name if detection.version is None else f"{detection.name} {detection.version}"
    if detection.roles:
        label += " · " + ", ".join(detection.roles)
    return label


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def described_from(described: tuple[int, int] | None) -> str:
    """``" (of its first 500 children; 10,000 in all)"``: a dataset described from a first page only."""
    if described is None:
        return ""
    read, total = described
    return f" (of its first {read:,} children; {total:,} in all)"


def highlights(descriptions: Mapping[str, Mapping[str, Any]], *, unread: int = 0,
               described: tuple[int, int] | None = None) -> list[str]:
    """One line per convention saying what the node holds (plain text); *unread*: how many of the
    node's children could not be read (a dataset's counts are then of the others)."""
    out: list[str] = []
    ome = descriptions.get("ome-ngff") or {}
    levels = ome.get("levels") if isinstance(ome.get("levels"), list) else []
    if levels:
        first = levels[0] if isinstance(levels[0], Mapping) else {}
        roles = ome.get("roles")
        what = "OME label image" if isinstance(roles, list) and "label-image" in roles else "OME image"
        line = f"{what}: {_count(len(levels), 'level')}"
        if first.get("shape"):
            line += f", full resolution {format_shape(first.get('shape'))}"
        channels = [c for c in ome.get("channels") or [] if isinstance(c, Mapping)]
        if channels:
            names = ", ".join(str(c.get("label") or "?") for c in channels[:6]) + ("…" if len(channels) > 6 else "")
            line += f", {_count(len(channels), 'channel')} ({names})"
        out.append(line)
    axes = [a for a in ome.get("axes") or [] if isinstance(a, Mapping)]
    voxel = ome.get("voxel_size")
    if not isinstance(voxel, list):
        voxel = []
    space = [(v, a.get("unit")) for a, v in zip(axes, voxel, strict=False) if a.get("type") == "space"]
    if space:
        out.append("Voxel size: " + " × ".join(f"{format_number(v)} {u or ''}".strip() for v, u in space))
    plate = ome.get("plate") if isinstance(ome.get("plate"), Mapping) else None
    if plate:
        out.append(f"OME plate: {len(plate.get('rows') or [])} rows × {len(plate.get('columns') or [])} columns, "
                   f"{_count(len(plate.get('wells') or []), 'well')}")
    well = ome.get("well") if isinstance(ome.get("well"), Mapping) else None
    if well:
        out.append(f"OME well: {_count(len(well.get('images') or []), 'field')}")
    bf2raw = ome.get("bioformats2raw") if isinstance(ome.get("bioformats2raw"), Mapping) else None
    if bf2raw and isinstance(bf2raw.get("series"), list):
        series = [str(x) for x in bf2raw["series"]]
        shown = ", ".join(series[:10]) + (f", … ({len(series)} in all)" if len(series) > 10 else "")
        source = " (listed in OME/series)" if bf2raw.get("series_source") == "OME/series" else ""
        out.append(f"bioformats2raw collection: {_count(len(series), 'image')}" + (f": {shown}" if series else "")
                   + source)
    labels = [x for x in ome.get("labels") or [] if isinstance(x, str)]
    if labels:
        out.append(f"Labels: {', '.join(labels[:8])}{'…' if len(labels) > 8 else ''}")
    xr = descriptions.get("xarray") or {}
    if isinstance(xr.get("dims"), Mapping):
        variables, coordinates = xr.get("data_variables") or [], xr.get("coordinates") or []
        if unread and not (variables or coordinates):  # not "0 data variables": they could not be read
            out.append(f"Dataset: its variables could not be read ({unread} failed)")
        else:
            sizes = ", ".join(f"{k}={v}" for k, v in xr["dims"].items())
            out.append(f"Dataset: {_count(len(variables), 'data variable')}, {_count(len(coordinates), 'coordinate')}"
                       + described_from(described)
                       + (f", dimensions {sizes}" if sizes else "")
                       + (f"; {unread} more could not be read" if unread else ""))
    elif isinstance(xr.get("dims"), list) and "ome-ngff" not in descriptions:
        out.append("Dimensions: " + ", ".join(str(d) for d in xr["dims"]))
    cf = descriptions.get("cf") or {}
    if cf.get("title"):
        out.append(f"Title: {cf['title']}")
    if cf.get("long_name") or cf.get("units"):
        out.append(" · ".join(str(cf[k]) for k in ("long_name", "units") if cf.get(k)))
    nc = descriptions.get("nczarr") or {}
    if nc.get("generation"):
        dims = nc.get("dimensions") if isinstance(nc.get("dimensions"), list) else []
        out.append(f"NCZarr ({nc['generation']})" + (f": {_count(len(dims), 'shared dimension')}" if dims else ""))
    cons = descriptions.get("consolidated") or {}
    if cons.get("entries") is not None:
        out.append(f"Consolidated metadata ({cons.get('kind', '?')}): {cons['entries']} entries")
    return out


class OverviewPanel(QWidget):
    """Kind, format, conventions, notes and errors of the node, and its preview."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # what cannot wrap (names, paths) is elided so that it never widens the panel past its window
        self._title = ElidedLabel(mode=Qt.TextElideMode.ElideRight)
        font = self._title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self._title.setFont(font)
        self._subtitle = QLabel()
        self._subtitle.setWordWrap(True)
        self._subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._badges = QHBoxLayout()
        self._badges.setSpacing(6)
        self._badges.setContentsMargins(0, 0, 0, 0)
        self._error = QLabel()
        self._error.setWordWrap(True)
        self._error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._error.setStyleSheet(
            "QLabel { background: #fde8e8; color: #8b1c1c; border: 1px solid #f5b5b5; border-radius: 4px; padding: 6px; }"
        )
        self._notes = QLabel()
        self._notes.setWordWrap(True)
        self._notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._notes.setStyleSheet(
            "QLabel { background: #fff7e0; color: #6b4e00; border: 1px solid #f0d890; border-radius: 4px; padding: 6px; }"
        )
        self._highlights = QLabel()
        self._highlights.setWordWrap(True)
        self._highlights.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._status = QLabel()
        self._status.setWordWrap(True)
        self._status.setStyleSheet("color: #8b1c1c;")
        self._facts = QFormLayout()
        self._facts.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._facts.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.preview = PreviewWidget()

        badge_row = QHBoxLayout()
        badge_row.addLayout(self._badges)
        badge_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addWidget(self._subtitle)
        layout.addLayout(badge_row)
        layout.addWidget(self._error)
        layout.addWidget(self._notes)
        layout.addWidget(self._status)
        layout.addWidget(self._highlights)
        layout.addLayout(self._facts)
        layout.addSpacing(6)
        layout.addWidget(self.preview)
        layout.addStretch(1)
        self.clear()

    # -- state for tests -------------------------------------------------------------------------
    def errorText(self) -> str:
        return self._error.text() if not self._error.isHidden() else ""

    def badgeTexts(self) -> list[str]:
        return [w.text() for w in layout_widgets(self._badges) if isinstance(w, QLabel)]

    def statusText(self) -> str:
        return self._status.text()

    # -- setters ---------------------------------------------------------------------------------
    def clear(self) -> None:
        self._title.setText("No node selected")
        self._subtitle.clear()
        self._set_badges([])
        self._error.hide()
        self._notes.hide()
        self._status.clear()
        self._status.hide()
        self._highlights.clear()
        self._highlights.hide()
        self._clear_facts()
        self.preview.clear()
        self.preview.hide()

    def setNode(self, node: Node, detections: Sequence[Detection], *, url: str = "") -> None:
        name = visible_name(node.name) if node.name else (url.rstrip("/").rsplit("/", 1)[-1] if url else "/")
        self._title.setText(name or "/")
        parts: list[str] = [node.kind]
        if node.zarr_format is not None:
            parts.append(f"zarr v{node.zarr_format}")
        if node.array is not None:
            parts.append(node.array.dtype)
            parts.append(format_shape(node.array.shape))
        self._subtitle.setText(" · ".join(parts))
        self._set_badges([d for d in detections if d.name != "zarr"])
        if node.error:
            self._error.setText(f"<b>This node could not be read.</b><br>{html.escape(node.error)}")
            self._error.show()
        else:
            self._error.hide()
        if node.notes:
            self._notes.setText("<br>".join(f"• {html.escape(n)}" for n in node.notes))
            self._notes.show()
        else:
            self._notes.hide()
        self._status.hide()
        self._highlights.clear()
        self._highlights.hide()
        self._clear_facts()
        self._add_fact("Path", "/".join(visible_name(part) for part in node.path.split("/")) or "/", elide=True)
        if url:
            self._add_fact("Store", url, elide=True)
        if node.source == "consolidated":
            self._add_fact("Read from", "consolidated metadata")
        if node.consolidated is not None:
            colour = {"fresh": "#166534", "stale": "#b45309", "absent": "#b45309"}[node.consolidated]
            text = {"fresh": "matches its consolidated copy",
                    "stale": "differs from its consolidated copy (stale .zmetadata / consolidated_metadata)",
                    "absent": "missing from the consolidated metadata"}[node.consolidated]
            self._add_fact("Consolidated", f"<span style='color:{colour}'>{text}</span>", rich=True)
        if node.array is not None:
            array = node.array
            chunks = format_shape(array.chunks)
            if array.shards:
                chunks += f" in shards of {format_shape(array.shards)}"
            self._add_fact("Chunks", chunks)
            size = itemsize(array)
            if size is not None:
                self._add_fact("Size", format_bytes(math.prod(array.shape) * size) + " (decoded)")
        documents = ", ".join(node.documents) or "none (implicit group)"
        self._add_fact("Documents", documents)
        self.preview.clear()
        self.preview.hide()

    def setHighlights(self, lines: Sequence[str]) -> None:
        """What the conventions say the node holds, one line each."""
        self._highlights.setText("<br>".join(html.escape(line) for line in lines))
        self._highlights.setVisible(bool(lines))

    def highlightsText(self) -> str:
        return self._highlights.text()

    def setStatus(self, text: str) -> None:
        """A problem found while loading details (shown in red under the badges)."""
        self._status.setText(text)
        self._status.setVisible(bool(text))

    # -- helpers ---------------------------------------------------------------------------------
    def setBadges(self, detections: Sequence[Detection]) -> None:
        """Show the conventions *detections* name (a worker may find more than the node's own
        documents say)."""
        self._set_badges([d for d in detections if d.name != "zarr"])

    def _set_badges(self, detections: Sequence[Detection]) -> None:
        clear_layout(self._badges)
        for detection in detections:
            chip = QLabel(badge_text(detection))
            chip.setTextFormat(Qt.TextFormat.PlainText)
            colour = BADGE_COLOURS.get(detection.name, _OTHER_COLOUR)
            chip.setStyleSheet(
                f"QLabel {{ background: {colour}; color: white; border-radius: 9px; padding: 2px 9px; font-weight: 600; }}"
            )
            chip.setToolTip(f"{detection.name} convention detected")
            self._badges.addWidget(chip)

    def _add_fact(self, label: str, value: str, *, rich: bool = False, elide: bool = False) -> None:
        field: QLabel
        if elide:
            field = ElidedLabel(value)
        else:
            field = QLabel(value)
            field.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._facts.addRow(QLabel(f"<span style='color:#6b7280'>{label}</span>"), field)

    def _clear_facts(self) -> None:
        while self._facts.rowCount():
            self._facts.removeRow(0)
