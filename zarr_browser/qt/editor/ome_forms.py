"""OME-NGFF forms: axes with pixel size and translation, channels with histograms, label colours, plates.

Each *Apply* button builds one convention edit (``zarr_browser.core.editing.conventions``) in a
worker and applies it as one undo step.  The forms show the session's working state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QPointF, QRectF, QRegularExpression, Qt, Signal
from qtpy.QtGui import QColor, QPainter, QPen, QRegularExpressionValidator, QValidator
from qtpy.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.conventions.ome import SPACE_UNITS, TIME_UNITS
from zarr_browser.core.editing.commands import Batch, EditError
from zarr_browser.core.editing.conventions import (
    AXIS_TYPES,
    dtype_range,
    level0_in_world,
    ome_add_omero,
    ome_channel_axis,
    ome_channel_count,
    ome_label_units,
    ome_match_channels,
    ome_namespace,
    ome_set_axes,
    ome_set_channels,
    ome_set_label_colors,
    ome_set_label_properties,
    ome_set_pixel_size,
    ome_set_plate_names,
    ome_set_translation,
    ome_set_units,
)
from zarr_browser.core.histogram import Histogram, channel_histogram, channel_ranges
from zarr_browser.core.jsonio import dumps
from zarr_browser.core.model import join_path
from zarr_browser.core.preview import label_hue
from zarr_browser.qt._typed import clear_layout, connect_slot, nonnull
from zarr_browser.qt.editor.forms import FormSync
from zarr_browser.qt.editor.json_model import parse_json_text

if TYPE_CHECKING:
    from zarr_browser.core.editing import EditSession
    from zarr_browser.core.jsonio import JSON
    from zarr_browser.core.model import Node
    from zarr_browser.qt.editor.controller import EditController
    from zarr_browser.qt.workers import Runner, Task

__all__ = ["AxesForm", "ChannelsForm", "HistogramWidget", "LabelColoursForm", "LabelPropertiesForm", "PlateForm",
           "image_multiscale"]

_UNITS = ("", *sorted(SPACE_UNITS), *sorted(TIME_UNITS))


def image_multiscale(node: Node) -> Mapping[str, JSON] | None:
    """``multiscales[0]`` of an OME-NGFF image node (None when there is none, or 0.6)."""
    try:
        _parts, ns = ome_namespace(node)
    except EditError:
        return None
    multiscales = ns.get("multiscales")
    if isinstance(multiscales, list) and multiscales and isinstance(multiscales[0], dict):
        return multiscales[0]
    return None


SPIN_MIN_WIDTH = 90
"""Narrowest a number field gets: its size hint is as wide as ±1e12 with every decimal (~170 px),
which pushed the forms past a docked editor's width."""

LINE_EDIT_MIN_WIDTH = 100
"""Narrowest a name field gets (a channel label squeezed to 35 px showed "brane")."""


class NumberSpin(QDoubleSpinBox):
    """A number field that keeps every digit typed: ``3.25e-05`` stays 3.25e-05, ``6.5e-7``
    metres stays 6.5e-07 (a spin box with N decimals rounds silently — 5 decimals turned
    3.25e-05 into 3e-05 and any size in metres into 0).  Shown in the shortest form that reads
    back the same number; scientific notation typed in is understood."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(323)  # Qt's maximum: setValue no longer rounds

    def textFromValue(self, value: float) -> str:
        return format_number(value)

    def valueFromText(self, text: str | None) -> float:
        try:
            return float((text or "").strip())
        except ValueError:
            return self.value()

    def validate(self, text: str | None, pos: int) -> tuple[QValidator.State, str, int]:
        text = text or ""
        candidate = text.strip()
        try:
            value = float(candidate)
        except ValueError:
            partial = candidate in ("", "-", "+", ".", "-.", "+.") or candidate[-1:] in ("e", "E", "-", "+")
            state = QValidator.State.Intermediate if partial and _could_be_number(candidate) else QValidator.State.Invalid
            return state, text, pos
        if not math.isfinite(value) or not self.minimum() <= value <= self.maximum():
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Acceptable, text, pos


def _could_be_number(text: str) -> bool:
    """Whether *text* may become a number as more is typed (``1e``, ``-``, ``2.5e-``)."""
    for tail in ("", "0", "1"):
        try:
            float(text + tail)
            return True
        except ValueError:
            continue
    return False


def format_number(value: float) -> str:
    """*value* in the shortest form that reads back the same (``0.325``, ``3.25e-05``, ``12``)."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _spin(value: float, *, minimum: float = -1e12) -> NumberSpin:
    spin = NumberSpin()
    spin.setRange(minimum, 1e12)
    spin.setValue(value)
    spin.setKeyboardTracking(False)
    spin.setMinimumWidth(SPIN_MIN_WIDTH)
    spin.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return spin


def _button_row(*buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addStretch(1)
    for button in buttons:
        row.addWidget(button)
    return row


def _combined(*batches: Batch) -> Batch:
    return Batch(list(batches), label=" + ".join(b.label for b in batches if b.leaves()))


def _pixel_size_and_units(session: EditSession, image: str, sizes: Mapping[str | int, float],
                          units: Mapping[str | int, str], labels: bool) -> Batch:
    """Pixel sizes and units only: names and types typed in the axes table are not written."""
    batches = [ome_set_pixel_size(session, image, sizes, labels=labels), ome_set_units(session, image, units)]
    if labels:
        ms = image_multiscale(session.load(image)) or {}
        axes = [a for a in ms.get("axes") or [] if isinstance(a, dict)]
        batches.append(ome_label_units(session, image, [{**a, "unit": units.get(i, a.get("unit"))}
                                                        for i, a in enumerate(axes)]))
    return _combined(*batches)


class AxesForm(QGroupBox):
    """Name, type and unit of each axis, level 0's pixel size and translation.

    Two tables, each with its buttons under it: names, types and units (*Apply axes*), then
    pixel size and translation per axis - five columns side by side did not fit a docked editor.
    """

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__("Axes, pixel size and translation", parent)
        self._controller = controller
        self._path = ""
        self._grid = QGridLayout()
        self._grid.setHorizontalSpacing(8)
        self._scale_grid = QGridLayout()
        self._scale_grid.setHorizontalSpacing(8)
        self.rows: list[dict[str, Any]] = []
        self.applyAxesButton = QPushButton("Apply axes")
        self.applyAxesButton.setToolTip("Write the names, types and units typed above in one step (0.5: a new name "
                                        "also rewrites every level's dimension_names); pixel sizes and translations "
                                        "typed below stay for their own buttons")
        self.pixelSizeButton = QPushButton("Set pixel size and unit")
        self.pixelSizeButton.setToolTip("Write level 0's scale for the pixel sizes you changed (every level keeps its "
                                        "factor, translations follow) and the units chosen above, in one step; "
                                        "names and types typed above stay unapplied: Apply axes writes them")
        self.translationButton = QPushButton("Set translation")
        self.translationButton.setToolTip("Move the origin: level 0's translation becomes the values typed, every "
                                          "level shifts by the same amount; nothing else typed is written")
        self.labelsFollow = QCheckBox("Labels follow")
        self.labelsFollow.setChecked(True)
        self.labelsFollow.setToolTip("Rename, scale and move the image's label images with it (the axes of the "
                                     "same names), so that they stay on the image")
        self.sync = FormSync(self.values, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sync.banner)
        layout.addLayout(self._grid)
        layout.addLayout(_button_row(self.applyAxesButton))
        layout.addSpacing(6)
        layout.addLayout(self._scale_grid)
        follow = QHBoxLayout()  # a row of its own: beside the buttons it widened a docked editor
        follow.addStretch(1)
        follow.addWidget(self.labelsFollow)
        layout.addLayout(follow)
        layout.addLayout(_button_row(self.pixelSizeButton, self.translationButton))
        self.applyAxesButton.clicked.connect(self.applyAxes)
        self.pixelSizeButton.clicked.connect(self.applyPixelSize)
        self.translationButton.clicked.connect(self.applyTranslation)

    def setNode(self, node: Node, ms: Mapping[str, JSON]) -> None:
        self.sync.show(node.path, [ms.get("axes"), level0_in_world(ms, "scale"), level0_in_world(ms, "translation")],
                       lambda: self._build(node, ms))

    def _build(self, node: Node, ms: Mapping[str, JSON]) -> None:
        self._path = node.path
        clear_layout(self._grid)
        clear_layout(self._scale_grid)
        for column, title in enumerate(("Axis", "Type", "Unit")):
            self._grid.addWidget(QLabel(f"<b>{title}</b>"), 0, column)
        for column, title in enumerate(("Axis", "Pixel size", "Translation")):
            self._scale_grid.addWidget(QLabel(f"<b>{title}</b>"), 0, column)
        self._grid.setColumnStretch(0, 1)
        for column in (1, 2):
            self._scale_grid.setColumnStretch(column, 1)
        axes = [a for a in ms.get("axes") or [] if isinstance(a, dict)]
        scale = level0_in_world(ms, "scale") or []
        translation = level0_in_world(ms, "translation") or [0.0] * len(axes)
        self.rows = []
        for i, axis in enumerate(axes):
            name = QLineEdit(str(axis.get("name", "")))
            name.setMinimumWidth(60)
            kind = QComboBox()
            kind.setEditable(True)
            kind.addItems(AXIS_TYPES)
            kind.setCurrentText(str(axis.get("type") or ""))
            unit = QComboBox()
            unit.setEditable(True)
            unit.addItems(_UNITS)
            unit.setCurrentText(str(axis.get("unit") or ""))
            size = _spin(float(scale[i]) if i < len(scale) and isinstance(scale[i], int | float) else 1.0,
                         minimum=0.0)
            offset = _spin(float(translation[i]) if i < len(translation) else 0.0)
            if axis.get("type") == "channel":  # a scale the spec requires, but no physical size to set
                for spin in (size, offset):
                    spin.setEnabled(False)
                    spin.setToolTip("A channel axis has no pixel size or position")
            for column, widget in enumerate((name, kind, unit)):
                self._grid.addWidget(widget, i + 1, column)
            caption = QLabel(name.text())  # follows the name typed above
            name.textChanged.connect(caption.setText)
            for column, widget in enumerate((caption, size, offset)):
                self._scale_grid.addWidget(widget, i + 1, column)
            row = {"name": name, "type": kind, "unit": unit, "size": size, "translation": offset,
                   "old_size": size.value(), "old_translation": offset.value()}
            row["built"] = _axis_row_fields(row)
            self.rows.append(row)

    def axes(self) -> list[dict[str, JSON]]:
        return [{"name": r["name"].text().strip(), "type": r["type"].currentText().strip(),
                 "unit": r["unit"].currentText().strip()} for r in self.rows]

    def values(self) -> list[Any]:
        """Everything the fields hold (what FormSync compares)."""
        return [self.axes(), [r["size"].value() for r in self.rows], [r["translation"].value() for r in self.rows]]

    def applyAxes(self) -> None:
        self._controller.applyBuilt(ome_set_axes, self._path, self.axes(), labels=self.labelsFollow.isChecked(),
                                    on_done=self._keeping("size", "translation"))

    def applyPixelSize(self) -> None:
        """Write the pixel sizes changed and the units: names and types typed stay unapplied."""
        sizes = {i: r["size"].value() for i, r in enumerate(self.rows)
                 if not math.isclose(r["size"].value(), r["old_size"], rel_tol=1e-9)}
        units = {i: r["unit"].currentText().strip() for i, r in enumerate(self.rows)}
        self._controller.applyBuilt(_pixel_size_and_units, self._path, sizes, units, self.labelsFollow.isChecked(),
                                    on_done=self._keeping("name", "type", "translation"))

    def applyTranslation(self) -> None:
        values = {i: r["translation"].value() for i, r in enumerate(self.rows)
                  if not math.isclose(r["translation"].value(), r["old_translation"], abs_tol=1e-12)}
        self._controller.applyBuilt(ome_set_translation, self._path, values, labels=self.labelsFollow.isChecked(),
                                    on_done=self._keeping("name", "type", "unit", "size"))

    def _keeping(self, *fields: str) -> Callable[[bool], None]:
        """The *on_done* of an apply that writes only some fields: the fields are rebuilt from
        what it wrote, then what the user typed in the other *fields* (not applied) is typed
        back, still unapplied."""
        typed = [{f: value for f, value in _axis_row_fields(row).items()
                  if f in fields and value != row["built"][f]} for row in self.rows]
        path, done = self._path, self.sync.applying()

        def restore(ok: bool) -> None:
            done(ok)
            if path != self._path or len(typed) != len(self.rows):
                return
            for row, values in zip(self.rows, typed, strict=True):
                for field_name, value in values.items():
                    _set_axis_field(row, field_name, value)

        return restore


def _axis_row_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": row["name"].text().strip(), "type": row["type"].currentText().strip(),
            "unit": row["unit"].currentText().strip(), "size": row["size"].value(),
            "translation": row["translation"].value()}


def _set_axis_field(row: Mapping[str, Any], field_name: str, value: Any) -> None:
    widget = row[field_name]
    if isinstance(widget, QLineEdit):
        widget.setText(value)
    elif isinstance(widget, QComboBox):
        widget.setCurrentText(value)
    else:
        widget.setValue(value)


class HistogramWidget(QWidget):
    """Counts of one channel (log scale) with the window's start and end as lines."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(160, 40)
        self.histogram: Histogram | None = None
        self.colour = QColor("#888888")
        self.window_range = (0.0, 1.0)  # not "window": QWidget.window() is the top-level widget
        self.message = "histogram…"

    def setHistogram(self, histogram: Histogram | None, message: str = "") -> None:
        self.histogram = histogram
        self.message = message
        self.update()

    def setWindow(self, start: float, end: float) -> None:
        self.window_range = (start, end)
        self.update()

    def setColour(self, colour: QColor) -> None:
        self.colour = colour
        self.update()

    def paintEvent(self, _event: Any) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.fillRect(rect, QColor("#111827"))
        hist = self.histogram
        if hist is None or not hist.counts:
            painter.setPen(QColor("#9ca3af"))
            painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), self.message or "no data")
            return
        peak = max(math.log1p(c) for c in hist.counts) or 1.0
        width = rect.width() / len(hist.counts)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        for i, count in enumerate(hist.counts):
            height = rect.height() * math.log1p(count) / peak
            painter.drawRect(QRectF(rect.left() + i * width, rect.bottom() - height, max(width, 1.0), height))
        low, high = hist.edges[0], hist.edges[-1]
        painter.setPen(QPen(QColor("#f9fafb"), 1.5))
        for value in self.window_range:
            if high > low:
                x = rect.left() + rect.width() * min(max((value - low) / (high - low), 0.0), 1.0)
                painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))


def _text_colour(colour: QColor) -> str:
    return "#000000" if colour.lightnessF() > 0.55 else "#ffffff"


class ColourButton(QToolButton):
    """A swatch; clicking opens QColorDialog.  :attr:`colourChanged` carries ``RRGGBB``."""

    colourChanged = Signal(str)

    def __init__(self, colour: str = "FFFFFF", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(72)
        self._colour = ""
        self.setColour(colour)
        self.clicked.connect(self._on_clicked)

    def colour(self) -> str:
        return self._colour

    def setColour(self, colour: str) -> None:
        qcolour = QColor("#" + colour) if len(colour) == 6 else QColor("#ffffff")
        changed = bool(self._colour) and qcolour.name()[1:].upper() != self._colour
        self._colour = qcolour.name()[1:].upper()
        self.setText(self._colour)
        self.setStyleSheet(f"QToolButton {{ background: {qcolour.name()}; color: {_text_colour(qcolour)};"
                           " border: 1px solid #6b7280; border-radius: 3px; padding: 2px 6px; }")
        if changed:
            self.colourChanged.emit(self._colour)

    def _on_clicked(self) -> None:
        chosen = QColorDialog.getColor(QColor("#" + self._colour), self, "Channel colour")
        if chosen.isValid():
            self.setColour(chosen.name()[1:])


def _channel_card(index: int, row: Mapping[str, Any]) -> QWidget:
    """One channel, stacked to fit a narrow dock: label, colour, active / window / range / histogram."""
    card = QWidget()
    grid = QGridLayout(card)
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setVerticalSpacing(4)
    grid.addWidget(QLabel(f"<b>{index}</b>"), 0, 0)
    top = QHBoxLayout()
    top.addWidget(row["label"], 1)
    top.addWidget(row["color"])
    top.addWidget(row["active"])
    grid.addLayout(top, 0, 1)
    for line, (caption, low, high) in enumerate((("Window", "start", "end"), ("Range", "min", "max")), start=1):
        numbers = QHBoxLayout()
        title = QLabel(caption)
        title.setMinimumWidth(QLabel("Window").sizeHint().width())
        title.setToolTip(row[low].toolTip())
        numbers.addWidget(title)
        numbers.addWidget(row[low], 1)
        numbers.addWidget(QLabel("to"))
        numbers.addWidget(row[high], 1)
        grid.addLayout(numbers, line, 1)
    grid.addWidget(row["histogram"], 3, 1)
    grid.setColumnStretch(1, 1)
    return card


_WINDOW_TIP = ("window start and end: the contrast limits napari-ome-zarr and OMERO open the channel with")
_RANGE_TIP = ("window min and max: the range OMERO's contrast slider spans (napari ignores them); a window without "
              "them gets level 0's data type range (for float data: the start and end) when applied")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


class ChannelsForm(QGroupBox):
    """``omero`` channels: label, colour, active, window start/end and min/max over the lowest
    level's histogram.

    An image without an ``omero`` block is offered one (*Add omero block*, one channel per index
    of the channel axis); when the channels listed and the channel axis differ in number,
    channels are added or removed to match (napari-ome-zarr refuses such an image).  Level 0's
    shape and data type, which this needs, are looked up in a worker.
    """

    def __init__(self, controller: EditController, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__("Channels", parent)
        self._controller = controller
        self._runner = runner
        self._path = ""
        self._tasks: list[Task] = []  # histograms
        self._other_tasks: list[Task] = []  # level 0's shape and data type, data ranges of new channels
        self._list = QVBoxLayout()  # a card per channel
        self._list.setSpacing(10)
        self.rows: list[dict[str, Any]] = []
        self._shown: tuple[Node, Mapping[str, JSON] | None, Sequence[JSON] | None, Any] | None = None
        self._levels: dict[tuple[int, str], tuple[tuple[int, ...], str] | None] = {}  # level 0's shape, dtype
        self._needed: int | None = None  # the channels the channel axis holds (None: not known yet)
        self._level_info: tuple[tuple[int, ...], str] | None = None
        self._reading = False
        self.noteLabel = QLabel()
        self.noteLabel.setWordWrap(True)
        self.noteLabel.setStyleSheet("color: #4b5563;")
        self.noteLabel.hide()
        self.addOmeroButton = QPushButton("Add omero block")
        self.matchButton = QPushButton("Add missing channels")
        self.applyButton = QPushButton("Apply channels")
        self.applyButton.setToolTip("Write the labels, colours, active flags and windows you changed, in one step")
        for button in (self.addOmeroButton, self.matchButton):
            button.hide()
        self.sync = FormSync(self.channels, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sync.banner)
        layout.addWidget(self.noteLabel)
        layout.addLayout(_button_row(self.addOmeroButton, self.matchButton))
        layout.addLayout(self._list)
        layout.addLayout(_button_row(self.applyButton))
        self.addOmeroButton.clicked.connect(self.addOmero)
        self.matchButton.clicked.connect(self.matchChannels)
        self.applyButton.clicked.connect(self.apply)

    def setNode(self, node: Node, ms: Mapping[str, JSON] | None, channels: Sequence[JSON] | None,
                hierarchy: Any = None) -> None:
        """Show *channels* (None: the image has no ``omero`` block); the histograms (of *ms*'s
        lowest level) are computed only when rebuilt."""
        self._shown = (node, ms, channels, hierarchy)
        datasets = ms.get("datasets") if ms is not None else None
        levels = [d.get("path") for d in datasets if isinstance(d, dict)] if isinstance(datasets, list) else None
        axes = ms.get("axes") if ms is not None else None
        types = [a.get("type") for a in axes if isinstance(a, dict)] if isinstance(axes, list) else None
        level0 = self._level0(node, ms, hierarchy)
        self.sync.show(node.path, [channels, levels, types],  # what the histograms need: not names, units
                       lambda: self._build(node, ms, channels, hierarchy, level0))
        # the note follows the working state, also while the fields keep unapplied typing
        self._needed = ome_channel_count([a for a in axes if isinstance(a, dict)], level0[0]) \
            if level0 is not None and isinstance(axes, list) else None
        self._level_info = level0
        self._update_note(channels, level0)

    def _level0(self, node: Node, ms: Mapping[str, JSON] | None,
                hierarchy: Any) -> tuple[tuple[int, ...], str] | None:
        """Level 0's shape and data type, looked up in a worker the first time (then shown again)."""
        datasets = ms.get("datasets") if ms is not None else None
        first = datasets[0] if isinstance(datasets, list) and datasets and isinstance(datasets[0], dict) else None
        if hierarchy is None or first is None or not isinstance(first.get("path"), str):
            return None
        path = join_path(node.path, first["path"])
        key = (id(hierarchy), path)
        if key in self._levels:
            return self._levels[key]
        self._levels[key] = None  # asked once

        def found(level: Node) -> None:
            info = self._levels[key] = (tuple(level.array.shape), level.array.dtype_name) \
                if level.array is not None else None
            if info is not None and self._shown is not None and self._shown[0].path == node.path:
                self._learn_level0(info)

        self._submit_other(hierarchy.node, path, on_done=found, on_error=lambda _err: None)
        return None

    def _build(self, node: Node, ms: Mapping[str, JSON] | None, channels: Sequence[JSON] | None,
               hierarchy: Any, level0: tuple[tuple[int, ...], str] | None) -> None:
        self._path = node.path
        clear_layout(self._list)
        self.rows = []
        bounds = dtype_range(level0[1]) if level0 is not None else None
        for c, channel in enumerate(channels or []):
            self._add_card(c, channel if isinstance(channel, dict) else {}, bounds)
        if channels:
            self._load_histograms(node, ms, hierarchy)
        self._tab_order()

    def _learn_level0(self, info: tuple[tuple[int, ...], str]) -> None:
        """Level 0's shape and data type arrived: the note learns the number of channels needed,
        and windows without min/max show the data type's range (unless the user typed already)."""
        assert self._shown is not None
        ms, channels = self._shown[1], self._shown[2]
        axes = [a for a in (ms or {}).get("axes") or [] if isinstance(a, dict)]
        self._needed = ome_channel_count(axes, info[0])
        self._level_info = info
        self._update_note(channels, info)
        bounds = dtype_range(info[1])
        if bounds is None or self.sync.isModified():
            return
        for row in self.rows:
            for key in row["missing"]:
                row[key].setValue(bounds[0] if key == "min" else bounds[1])
            row["shown"] = _channel_fields(row)
        self.sync.rebase()

    def _add_card(self, c: int, channel: Mapping[str, JSON], bounds: tuple[int, int] | None) -> None:
        window = channel.get("window")
        if not isinstance(window, dict):
            window = {}
        label = QLineEdit(str(channel.get("label", "")))
        label.setMinimumWidth(LINE_EDIT_MIN_WIDTH)
        label.setPlaceholderText("label")
        label.setToolTip(f"Channel {c}'s label: napari's layer name")
        colour = ColourButton(str(channel.get("color", "FFFFFF")))
        colour.setToolTip(f"Channel {c}'s colour (RRGGBB); click or press Space to choose another")
        active = QCheckBox("Active")
        active.setChecked(channel.get("active") is not False)
        active.setToolTip("Whether viewers show the channel when they open the image")
        start = _spin(_number(window.get("start")))
        end = _spin(_number(window.get("end")))
        # a window without min/max gets the data type's range (floats: start and end) when applied
        low = _spin(_number(window.get("min"), bounds[0] if bounds else start.value()))
        high = _spin(_number(window.get("max"), bounds[1] if bounds else end.value()))
        for spin, tip in ((start, _WINDOW_TIP), (end, _WINDOW_TIP), (low, _RANGE_TIP), (high, _RANGE_TIP)):
            spin.setToolTip(tip)
        histogram = HistogramWidget()
        histogram.colour = QColor("#" + colour.colour())
        histogram.setWindow(start.value(), end.value())
        start.valueChanged.connect(lambda _v, h=histogram, s=start, e=end: h.setWindow(s.value(), e.value()))
        end.valueChanged.connect(lambda _v, h=histogram, s=start, e=end: h.setWindow(s.value(), e.value()))
        colour.colourChanged.connect(lambda text, h=histogram: h.setColour(QColor("#" + text)))
        histogram.setToolTip("Counts of the lowest level (log scale), with the window's start and end")
        row: dict[str, Any] = {"label": label, "color": colour, "active": active, "start": start, "end": end,
                               "min": low, "max": high, "histogram": histogram,
                               "missing": [k for k in ("min", "max") if not isinstance(window.get(k), int | float)]}
        self._list.addWidget(_channel_card(c, row))
        row["shown"] = _channel_fields(row)  # what the fields held when built: Apply sends only changes
        self.rows.append(row)

    def _update_note(self, channels: Sequence[JSON] | None, level0: tuple[tuple[int, ...], str] | None) -> None:
        needed = self._needed
        self.addOmeroButton.setVisible(channels is None)
        self.applyButton.setVisible(channels is not None)
        self.matchButton.hide()
        dtype = level0[1] if level0 is not None else "level 0's data type"
        if channels is None:
            count = _plural(needed, "channel") if needed is not None else "one channel per index of the channel axis"
            self.noteLabel.setText("This image has no omero block: viewers show its channels in their own colours "
                                   "and contrast, without names. Add omero block writes one, which you can then edit.")
            self.addOmeroButton.setToolTip(
                f"Write an omero block with {count} (one per index of the channel axis, or one without it): "
                "labels 'Channel 0'…, the colours napari shows now (one channel white; two magenta, green; more "
                f"cyan, yellow, magenta, red, green, blue), active, window min/max the range of {dtype} (float "
                "data: the data range) and start/end the data range of the lowest level, read when you click")
        elif needed is not None and needed != len(channels):
            have = len(channels)
            axes = (self._shown[1] or {}).get("axes") if self._shown is not None else None
            holds = (f"the channel axis holds {needed}" if ome_channel_axis(axes if isinstance(axes, list) else [])
                     is not None else "the image has one (it has no channel axis)")
            self.noteLabel.setText(f"omero lists {_plural(have, 'channel')} but {holds}: napari-ome-zarr refuses "
                                   "to open the image.")
            if have < needed:
                self.matchButton.setText("Add missing channels")
                self.matchButton.setToolTip(
                    f"Append channel{'s' if needed - have != 1 else ''} {', '.join(map(str, range(have, needed)))} "
                    "to omero.channels as Add omero block makes them (a colour not used yet, window from "
                    f"{dtype} and the lowest level's data), in one step")
            else:
                self.matchButton.setText("Remove extra channels")
                self.matchButton.setToolTip(
                    f"Remove the last {_plural(have - needed, 'channel')} of omero.channels "
                    f"({', '.join(map(str, range(needed, have)))}), in one step; reorder them in the "
                    "Attributes tab first to keep others")
            self.matchButton.show()
        else:
            self.noteLabel.setText("")
        if self._reading:
            self.noteLabel.setText("Reading the lowest level for the channels' contrast…")
        self.noteLabel.setVisible(bool(self.noteLabel.text()))
        for button in (self.addOmeroButton, self.matchButton):
            button.setEnabled(not self._reading)

    def _tab_order(self) -> None:
        """Cards first, in reading order, then the buttons under them (the buttons were made first)."""
        chain: list[QWidget] = [self.sync.discardButton, self.addOmeroButton, self.matchButton]
        for row in self.rows:
            chain += [row["label"], row["color"], row["active"], row["start"], row["end"], row["min"], row["max"]]
        chain.append(self.applyButton)
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _load_histograms(self, node: Node, ms: Mapping[str, JSON] | None, hierarchy: Any) -> None:
        if hierarchy is None or ms is None or not self.rows:
            return
        datasets = [d for d in ms.get("datasets") or [] if isinstance(d, dict) and isinstance(d.get("path"), str)]
        axes = [a for a in ms.get("axes") or [] if isinstance(a, dict)]
        channel_axis = next((i for i, a in enumerate(axes) if a.get("type") == "channel"), None)
        if not datasets:
            return
        level = join_path(node.path, datasets[-1]["path"])
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        rows = list(self.rows)
        for c, row in enumerate(rows):
            histogram_widget: HistogramWidget = row["histogram"]

            def done(result: Histogram, widget: HistogramWidget = histogram_widget) -> None:
                if widget in (r["histogram"] for r in self.rows):
                    widget.setHistogram(result)

            def failed(err: BaseException, widget: HistogramWidget = histogram_widget) -> None:
                if widget in (r["histogram"] for r in self.rows):
                    widget.setHistogram(None, f"no histogram: {err}"[:80])

            self._tasks.append(self._runner.submit(channel_histogram, hierarchy, level, channel_axis, c,
                                                   on_done=done, on_error=failed))

    def cancelHistograms(self) -> None:
        """Drop the histograms and look-ups still being computed (the window closing)."""
        for task in [*self._tasks, *self._other_tasks]:
            task.cancel()
        self._tasks, self._other_tasks = [], []
        if self._reading:
            self._set_reading(False)

    def channels(self) -> list[dict[str, JSON]]:
        """Every field of every channel card (what FormSync compares)."""
        return [_channel_fields(r) for r in self.rows]

    def changes(self) -> list[dict[str, JSON]]:
        """Per channel, only the fields the user changed since the cards were built: a channel
        without ``active``, ``label`` or a window does not get made-up ones, and untouched
        numbers are not rewritten.  A window whose start or end changed sends both; min and max
        go when changed (a window lacking them gets them from the data type)."""
        out: list[dict[str, JSON]] = []
        for row in self.rows:
            now, shown = _channel_fields(row), row["shown"]
            change: dict[str, JSON] = {k: now[k] for k in ("label", "color", "active") if now[k] != shown[k]}
            window = {k: now[k] for k in ("min", "max") if now[k] != shown[k]}
            if now["start"] != shown["start"] or now["end"] != shown["end"] or window:
                window.update(start=now["start"], end=now["end"])
                change["window"] = window
            out.append(change)
        return out

    def apply(self) -> None:
        self._controller.applyBuilt(ome_set_channels, self._path, self.changes(), on_done=self.sync.applying())

    # -- the omero block and the number of channels ----------------------------------------------
    def addOmero(self) -> None:
        """Add the ``omero`` block (the channels' contrast read from the lowest level first)."""
        if self._shown is None or self._shown[2] is not None:
            return
        self._with_ranges(range(self._needed or 0), lambda ranges: self._controller.applyBuilt(
            ome_add_omero, self._path, ranges=ranges, on_done=self.sync.applying()))

    def matchChannels(self) -> None:
        """Add the channels missing, or remove the extra ones, keeping what is typed in the others."""
        if self._shown is None or self._shown[2] is None or self._needed is None:
            return
        have, needed = len(self._shown[2]), self._needed
        typed = self._typed()

        def apply(ranges: dict[int, tuple[float, float]] | None) -> None:
            self._controller.applyBuilt(ome_match_channels, self._path, ranges=ranges,
                                        on_done=self._retyping(typed))

        if have > needed:
            apply(None)
        else:
            self._with_ranges(range(have, needed), apply)

    def _typed(self) -> list[dict[str, Any]]:
        """Per card, the fields typed and not applied."""
        return [{k: v for k, v in _channel_fields(row).items() if v != row["shown"][k]} for row in self.rows]

    def _retyping(self, typed: list[dict[str, Any]]) -> Callable[[bool], None]:
        path, done = self._path, self.sync.applying()

        def restore(ok: bool) -> None:
            done(ok)
            if path != self._path:
                return
            for row, values in zip(self.rows, typed, strict=False):
                _set_channel_fields(row, values)

        return restore

    def _with_ranges(self, channels: range, then: Callable[[dict[int, tuple[float, float]] | None], None]) -> None:
        """Read the data range of *channels* from the lowest level in a worker, then call *then*
        with it (None when it cannot be read: the windows come from the data type then)."""
        assert self._shown is not None
        node, ms, _channels, hierarchy = self._shown
        datasets = [d for d in (ms or {}).get("datasets") or [] if isinstance(d, dict)
                    and isinstance(d.get("path"), str)]
        if hierarchy is None or not datasets or not channels:
            then(None)
            return
        axes = [a for a in (ms or {}).get("axes") or [] if isinstance(a, dict)]
        level = join_path(node.path, datasets[-1]["path"])
        path = self._path
        self._set_reading(True)

        def finish(ranges: dict[int, tuple[float, float]] | None) -> None:
            self._set_reading(False)
            if path == self._path:
                then(ranges)

        self._submit_other(channel_ranges, hierarchy, level, ome_channel_axis(axes), channels,
                           on_done=finish, on_error=lambda _err: finish(None))

    def _submit_other(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None],
                      on_error: Callable[[BaseException], None]) -> None:
        self._other_tasks = [t for t in self._other_tasks if not t.done]
        self._other_tasks.append(self._runner.submit(fn, *args, on_done=on_done, on_error=on_error))

    def _set_reading(self, reading: bool) -> None:
        self._reading = reading
        if self._shown is not None:
            self._update_note(self._shown[2], self._level_info)

    def isReading(self) -> bool:
        """Whether the data range of new channels is being read (for tests)."""
        return self._reading


def _number(value: Any, default: float = 0.0) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else default


def _channel_fields(row: Mapping[str, Any]) -> dict[str, JSON]:
    return {"label": row["label"].text(), "color": row["color"].colour(), "active": row["active"].isChecked(),
            "start": row["start"].value(), "end": row["end"].value(), "min": row["min"].value(),
            "max": row["max"].value()}


def _set_channel_fields(row: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        widget = row[key]
        if key == "label":
            widget.setText(value)
        elif key == "color":
            widget.setColour(value)
        elif key == "active":
            widget.setChecked(value)
        else:
            widget.setValue(value)


class LabelColoursForm(QGroupBox):
    """``image-label.colors``: a colour per label value (the alpha is kept); values can be added
    and removed."""

    MAX_ROWS = 256
    """Label values shown as rows (a segmentation may colour thousands: rows for all would hold the
    GUI for seconds); the others are kept as they are and edited in the Attributes tab."""

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__("Label colours", parent)
        self._controller = controller
        self._path = ""
        self._original: set[int] = set()
        self._built: dict[int, list[int]] = {}  # the colours as shown when built
        self._form = QFormLayout()
        self.buttons: dict[int, ColourButton] = {}
        self.alphas: dict[int, int] = {}
        self.emptyLabel = QLabel("No colours set: napari gives every label value a colour of its own. "
                                 "Add a value to choose its colour.")
        self.emptyLabel.setWordWrap(True)
        self.emptyLabel.setStyleSheet("color: #6b7280;")
        self.moreLabel = QLabel()
        self.moreLabel.setStyleSheet("color: #6b7280;")
        self.moreLabel.hide()
        self._hidden: set[int] = set()  # label values past MAX_ROWS: kept, not shown
        self.valueEdit = QLineEdit()
        self.valueEdit.setValidator(QRegularExpressionValidator(QRegularExpression(r"-?\d{1,20}"), self.valueEdit))
        self.valueEdit.setToolTip("The label value (a pixel value of the label image) to colour: any integer, "
                                  "64-bit ids too")
        self.addButton = QPushButton("Add")
        self.addButton.setToolTip("Add a colour for this label value")
        self.errorLabel = QLabel()
        self.errorLabel.setStyleSheet("color: #b91c1c;")
        self.errorLabel.hide()
        self.applyButton = QPushButton("Apply label colours")
        add = QHBoxLayout()
        add.addWidget(QLabel("Label value"))
        add.addWidget(self.valueEdit)
        add.addWidget(self.addButton)
        add.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.applyButton)
        self.sync = FormSync(self.colours, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sync.banner)
        layout.addWidget(self.emptyLabel)
        layout.addLayout(self._form)
        layout.addWidget(self.moreLabel)
        layout.addLayout(add)
        layout.addWidget(self.errorLabel)
        layout.addLayout(row)
        self.applyButton.clicked.connect(self.apply)
        self.addButton.clicked.connect(self._add_typed)
        self.valueEdit.returnPressed.connect(self._add_typed)
        self.valueEdit.textEdited.connect(self.errorLabel.hide)

    def setNode(self, node: Node, block: Mapping[str, JSON]) -> None:
        self.sync.show(node.path, block.get("colors"), lambda: self._build(node, block))

    def _build(self, node: Node, block: Mapping[str, JSON]) -> None:
        self._path = node.path
        while self._form.rowCount():
            self._form.removeRow(0)
        self.buttons, self.alphas = {}, {}
        self._hidden = set()
        self.errorLabel.hide()
        for entry in block.get("colors") or []:
            value = _label_value(entry)
            if value is None or value in self.buttons:
                continue
            if len(self.buttons) >= self.MAX_ROWS:
                self._hidden.add(value)
                continue
            assert isinstance(entry, dict)
            rgba = entry.get("rgba")
            if not (isinstance(rgba, list) and len(rgba) == 4 and all(
                    isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgba)):
                rgba = [255, 255, 255, 255]  # absent or invalid (validation says which): white, opaque
            self._add_row(value, "".join(f"{c:02X}" for c in rgba[:3]), rgba[3])
        self._original = set(self.buttons)
        self._built = self.colours()
        self.moreLabel.setText(f"… and {len(self._hidden):,} more label colours, kept as they are "
                               "(edit them in the Attributes tab)")
        self.moreLabel.setVisible(bool(self._hidden))
        self._next_value()

    def _add_row(self, value: int, colour: str, alpha: int) -> None:
        button = ColourButton(colour)
        button.setToolTip(f"The colour of label {value}; click to choose another")
        remove = QToolButton()
        remove.setText("Remove")
        remove.setToolTip(f"Remove the colour of label {value} (napari then picks one)")
        remove.clicked.connect(lambda: self.removeLabel(value))
        cell = QWidget()
        line = QHBoxLayout(cell)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(button)
        line.addWidget(remove)
        line.addStretch(1)
        self.buttons[value] = button
        self.alphas[value] = alpha
        self._form.addRow(f"label {value}", cell)
        self.emptyLabel.hide()

    def _next_value(self) -> None:
        used = self.buttons.keys() | self._hidden
        self.valueEdit.setText(str(max(used, default=0) + 1))
        self.emptyLabel.setVisible(not used)

    def _add_typed(self) -> None:
        try:
            value = int(self.valueEdit.text())
        except ValueError:
            self.errorLabel.setText("type the label value to add (an integer)")
            self.errorLabel.show()
            return
        self.addLabel(value)

    def addLabel(self, value: int) -> bool:
        """Add a row for label *value*, in a colour of its own; False when it has one already."""
        if value in self.buttons or value in self._hidden:
            self.errorLabel.setText(f"label {value} has a colour already")
            self.errorLabel.show()
            return False
        self.errorLabel.hide()
        self._add_row(value, QColor.fromHsvF(label_hue(value), 0.75, 0.95).name()[1:].upper(), 255)
        self._next_value()
        return True

    def removeLabel(self, value: int) -> bool:
        """Take label *value*'s row out (applied with the other changes)."""
        if value not in self.buttons:
            return False
        for row in range(self._form.rowCount()):
            item = self._form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label = item.widget() if item is not None else None
            if isinstance(label, QLabel) and label.text() == f"label {value}":
                self._form.removeRow(row)
                break
        del self.buttons[value]
        self.alphas.pop(value, None)
        self.emptyLabel.setVisible(not self.buttons and not self._hidden)
        return True

    def colours(self) -> dict[int, list[int]]:
        out = {}
        for value, button in self.buttons.items():
            colour = QColor("#" + button.colour())
            out[value] = [colour.red(), colour.green(), colour.blue(), self.alphas.get(value, 255)]
        return out

    def changes(self) -> dict[int, list[int]]:
        """The colours added or changed since the form was built (an entry left alone stays as
        written, even when it is invalid and shown white)."""
        built = self._built
        return {value: rgba for value, rgba in self.colours().items() if built.get(value) != rgba}

    def apply(self) -> None:
        removed = sorted(self._original - set(self.buttons))
        self._controller.applyBuilt(ome_set_label_colors, self._path, self.changes(), remove=removed,
                                    on_done=self.sync.applying())


def _label_value(entry: JSON) -> int | None:
    value = entry.get("label-value") if isinstance(entry, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class LabelPropertiesForm(QGroupBox):
    """``image-label.properties``: a row per label value, a column per property, cells typed as JSON.

    A cell holds one JSON value (``"a"``, ``200``, ``true``, ``[1, 2]``); an empty cell means the
    label has no such property.  Properties (columns) and labels (rows) can be added and
    removed; *Apply* sets them all as one step (entries that are not label objects are kept).
    """

    VALUE_COLUMN = 0

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__("Label properties", parent)
        self._controller = controller
        self._path = ""
        self._original: list[int] = []
        self.table = QTableWidget(0, 1)
        self.table.setHorizontalHeaderLabels(["label-value"])
        self.table.setToolTip('One JSON value per cell: "text" (quoted), 200, 0.5, true, null, [1, 2]; '
                              "empty: the label has no such property")
        nonnull(self.table.verticalHeader()).hide()
        self.table.setMinimumHeight(200)  # about seven rows: the dock's scroll area would squeeze it to two
        self.nameEdit = QLineEdit()
        self.nameEdit.setPlaceholderText("new property name")
        self.addPropertyButton = QPushButton("Add property")
        self.removePropertyButton = QPushButton("Remove property")
        self.removePropertyButton.setToolTip("Remove the current column's property from every label")
        self.addLabelButton = QPushButton("Add label")
        self.removeLabelButton = QPushButton("Remove label")
        self.applyButton = QPushButton("Apply label properties")
        self.errorLabel = QLabel()
        self.errorLabel.setWordWrap(True)
        self.errorLabel.setStyleSheet("color: #b91c1c")
        self.errorLabel.hide()
        self.noteLabel = QLabel()
        self.noteLabel.setWordWrap(True)
        self.noteLabel.setStyleSheet("color: #4b5563;")
        columns = QHBoxLayout()
        columns.addWidget(self.nameEdit, 1)
        for button in (self.addPropertyButton, self.removePropertyButton):
            columns.addWidget(button)
        rows = QHBoxLayout()
        for button in (self.addLabelButton, self.removeLabelButton):
            rows.addWidget(button)
        rows.addStretch(1)
        self.sync = FormSync(self.cells, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sync.banner)
        layout.addWidget(self.table)
        layout.addLayout(columns)
        layout.addWidget(self.noteLabel)
        layout.addWidget(self.errorLabel)
        layout.addLayout(rows)
        layout.addLayout(_button_row(self.applyButton))
        connect_slot(self.addPropertyButton.clicked, lambda: self.addProperty())
        connect_slot(self.nameEdit.returnPressed, lambda: self.addProperty())
        connect_slot(self.removePropertyButton.clicked, lambda: self.removeProperty())
        connect_slot(self.addLabelButton.clicked, lambda: self.addLabel())
        connect_slot(self.removeLabelButton.clicked, lambda: self.removeLabel())
        connect_slot(self.applyButton.clicked, self.apply)

    def setNode(self, node: Node, block: Mapping[str, JSON]) -> None:
        self.sync.show(node.path, block.get("properties"), lambda: self._build(node, block))

    def _build(self, node: Node, block: Mapping[str, JSON]) -> None:
        self._path = node.path
        raw = block.get("properties")
        entries = raw if isinstance(raw, list) else []
        labelled = [e for e in entries if _label_value(e) is not None]
        keys: list[str] = []
        for entry in labelled:
            keys.extend(k for k in entry if k != "label-value" and k not in keys)
        self._original = [v for v in (_label_value(e) for e in labelled) if v is not None]
        self.table.setRowCount(0)
        self.table.setColumnCount(1 + len(keys))
        self.table.setHorizontalHeaderLabels(["label-value", *keys])
        for entry in labelled:
            assert isinstance(entry, dict)
            row = self.table.rowCount()
            self.table.insertRow(row)
            self.table.setItem(row, self.VALUE_COLUMN, QTableWidgetItem(str(entry["label-value"])))
            for column, key in enumerate(keys, start=1):
                text = dumps(entry[key], indent=None) if key in entry else ""
                self.table.setItem(row, column, QTableWidgetItem(text))
        others = len(entries) - len(labelled)
        self.noteLabel.setText(f"{others} entr{'ies' if others != 1 else 'y'} without an integer label-value "
                               "kept as they are" if others else "")
        self.noteLabel.setVisible(bool(others))
        self.errorLabel.hide()

    # -- the table -------------------------------------------------------------------------------
    def keys(self) -> list[str]:
        """The property names, column by column."""
        return [self._header(c) for c in range(1, self.table.columnCount())]

    def _header(self, column: int) -> str:
        item = self.table.horizontalHeaderItem(column)
        return item.text() if item is not None else ""

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text().strip() if item is not None else ""

    def cells(self) -> list[list[str]]:
        """The header and every cell's text (what FormSync compares)."""
        return [["label-value", *self.keys()]] + [[self._text(r, c) for c in range(self.table.columnCount())]
                                                 for r in range(self.table.rowCount())]

    def setCell(self, row: int, key: str, text: str) -> None:
        """Type *text* into the cell of property *key* (``"label-value"`` for the value) of *row*."""
        column = 0 if key == "label-value" else 1 + self.keys().index(key)
        self.table.setItem(row, column, QTableWidgetItem(text))

    def addProperty(self, name: str | None = None) -> bool:
        """Add a property column (*name*, or the name typed); False with a message if refused."""
        name = (self.nameEdit.text() if name is None else name).strip()
        if not name or name == "label-value" or name in self.keys():
            self._error(f"a new property needs a name that is not {name or 'empty'!r} (nor an existing one)"
                        if name else "type the new property's name first")
            return False
        column = self.table.columnCount()
        self.table.insertColumn(column)
        self.table.setHorizontalHeaderItem(column, QTableWidgetItem(name))
        for row in range(self.table.rowCount()):
            self.table.setItem(row, column, QTableWidgetItem(""))
        self.nameEdit.clear()
        self.errorLabel.hide()
        return True

    def removeProperty(self, name: str | None = None) -> bool:
        """Remove property *name* (the current column when None) from every label."""
        column = self.table.currentColumn() if name is None else 1 + self.keys().index(name)
        if column < 1:
            self._error("select a cell of the property (column) to remove")
            return False
        self.table.removeColumn(column)
        return True

    def addLabel(self, value: int | None = None) -> int:
        """Add a row for label *value* (the next free value when None); returns its row."""
        if value is None:
            used = [v for v in (self._row_value(r) for r in range(self.table.rowCount())) if v is not None]
            value = max(used, default=0) + 1
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, self.VALUE_COLUMN, QTableWidgetItem(str(value)))
        for column in range(1, self.table.columnCount()):
            self.table.setItem(row, column, QTableWidgetItem(""))
        self.table.setCurrentCell(row, self.VALUE_COLUMN)
        return row

    def removeLabel(self, row: int | None = None) -> bool:
        """Remove the row of a label (the current row when None)."""
        row = self.table.currentRow() if row is None else row
        if not 0 <= row < self.table.rowCount():
            self._error("select the label (row) to remove")
            return False
        self.table.removeRow(row)
        return True

    def _row_value(self, row: int) -> int | None:
        try:
            return int(self._text(row, self.VALUE_COLUMN))
        except ValueError:
            return None

    def properties(self) -> tuple[dict[int, dict[str, JSON]], list[int]]:
        """``({label value: properties}, label values removed)``; raises EditError naming a bad cell."""
        keys = self.keys()
        out: dict[int, dict[str, JSON]] = {}
        for row in range(self.table.rowCount()):
            text = self._text(row, self.VALUE_COLUMN)
            value = self._row_value(row)
            if value is None:
                raise EditError(f"row {row + 1}: the label-value is an integer, got {text!r}")
            if value in out:
                raise EditError(f"row {row + 1}: label {value} appears twice")
            props: dict[str, JSON] = {}
            for column, key in enumerate(keys, start=1):
                cell = self._text(row, column)
                if not cell:
                    continue
                try:
                    props[key] = parse_json_text(cell)
                except ValueError as err:
                    raise EditError(f"label {value}, {key}: {err} (text is quoted: \"{cell}\")") from err
            out[value] = props
        removed = [v for v in self._original if v not in out]
        return out, removed

    def _error(self, message: str) -> None:
        self.errorLabel.setText(message)
        self.errorLabel.show()

    def apply(self) -> bool:
        """Apply the table as one step; False (the message shown) when a cell is not valid."""
        try:
            properties, removed = self.properties()
        except EditError as err:
            self._error(str(err))
            return False
        self.errorLabel.hide()
        self._controller.applyBuilt(ome_set_label_properties, self._path, properties, remove=removed,
                                    on_done=self.sync.applying())
        return True


class PlateForm(QGroupBox):
    """The plate's name and its acquisitions' names (rows and columns name directories: read-only)."""

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__("Plate", parent)
        self._controller = controller
        self._path = ""
        self.nameEdit = QLineEdit()
        self._form = QFormLayout()
        self.acquisitionEdits: list[QLineEdit] = []
        self.layoutLabel = QLabel()
        self.applyButton = QPushButton("Apply names")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.applyButton)
        self.sync = FormSync(self.names, self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.sync.banner)
        layout.addLayout(self._form)
        layout.addWidget(self.layoutLabel)
        layout.addLayout(row)
        self.applyButton.clicked.connect(self.apply)

    def setNode(self, node: Node, plate: Mapping[str, JSON]) -> None:
        self.sync.show(node.path, plate, lambda: self._build(node, plate))

    def _build(self, node: Node, plate: Mapping[str, JSON]) -> None:
        self._path = node.path
        while self._form.rowCount():
            self._form.removeRow(0)
        self.nameEdit = QLineEdit(str(plate.get("name", "")))
        self._form.addRow("Plate name", self.nameEdit)
        self.acquisitionEdits = []
        for index, acquisition in enumerate(plate.get("acquisitions") or []):
            edit = QLineEdit(str(acquisition.get("name", "")) if isinstance(acquisition, dict) else "")
            self._form.addRow(f"Acquisition {index}", edit)
            self.acquisitionEdits.append(edit)
        rows = [r.get("name") for r in plate.get("rows") or [] if isinstance(r, dict)]
        columns = [c.get("name") for c in plate.get("columns") or [] if isinstance(c, dict)]
        self.layoutLabel.setText(f"Rows {', '.join(map(str, rows))}; columns {', '.join(map(str, columns))} "
                                 "(read-only: they name the wells' directories)")

    def names(self) -> list[str]:
        return [self.nameEdit.text(), *(e.text() for e in self.acquisitionEdits)]

    def apply(self) -> None:
        acquisitions = {i: e.text() for i, e in enumerate(self.acquisitionEdits)}
        self._controller.applyBuilt(ome_set_plate_names, self._path, name=self.nameEdit.text(),
                                    acquisitions=acquisitions, on_done=self.sync.applying())
