"""The array section: storage facts, the codec pipeline, and on-demand storage diagnostics."""

from __future__ import annotations

import html
import logging
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.diagnostics import ArrayDiagnostics, diagnose_array
from zarr_browser.core.safety import check_array, itemsize
from zarr_browser.qt.inspector.formatting import format_bytes, format_json, format_shape, short_json
from zarr_browser.qt.inspector.progress import ProgressRelay
from zarr_browser.qt.inspector.tables import Cell, RowsModel, fit_height, make_table_view
from zarr_browser.qt.workers import log_failure

if TYPE_CHECKING:
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import CodecInfo, Node
    from zarr_browser.qt.workers import Runner, Task

__all__ = ["ArrayPanel"]

logger = logging.getLogger(__name__)


class ArrayPanel(QWidget):
    """Shape, chunks, shards, dtype, codecs, fill value and sizes of an array node.

    The Diagnostics button lists the array's stored objects in a worker (with progress and
    cancel) and shows how many chunks are initialised, the bytes stored, their decoded size and
    the compression ratio of what is stored (unwritten chunks do not count).
    """

    def __init__(self, *, runner: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._hierarchy: Hierarchy | None = None
        self._node: Node | None = None
        self._task: Task | None = None
        self._cancel: threading.Event | None = None
        self._relay = ProgressRelay(self)
        self.result: ArrayDiagnostics | None = None

        self._facts = QFormLayout()
        self._facts.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._safety = QLabel()
        self._safety.setWordWrap(True)
        self._safety.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._safety.setStyleSheet(
            "QLabel { background: #fde8e8; color: #8b1c1c; border: 1px solid #f5b5b5; border-radius: 4px; padding: 6px; }"
        )
        self.codecs = RowsModel(("Role", "Codec", "Configuration"), self)
        self._codecs_view = make_table_view(self.codecs)

        self.diagnose_button = QPushButton("Compute storage diagnostics")
        self.diagnose_button.setToolTip("List the stored chunks of this array (can be slow on remote stores)")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self._results = QFormLayout()
        self._results.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        diag_box = QGroupBox("Storage diagnostics")
        row = QHBoxLayout()
        row.addWidget(self.diagnose_button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        diag_layout = QVBoxLayout(diag_box)
        diag_layout.addLayout(row)
        diag_layout.addWidget(self.status)
        diag_layout.addLayout(self._results)

        self.noCodecsLabel = QLabel("None: the chunks are stored as raw bytes (no filters, no compressor)")
        self.noCodecsLabel.setWordWrap(True)
        self.noCodecsLabel.hide()
        codecs_box = QGroupBox("Codecs")
        codecs_layout = QVBoxLayout(codecs_box)
        codecs_layout.addWidget(self._codecs_view)
        codecs_layout.addWidget(self.noCodecsLabel)

        layout = QVBoxLayout(self)
        layout.addWidget(self._safety)
        layout.addLayout(self._facts)
        layout.addWidget(codecs_box)
        layout.addWidget(diag_box)
        layout.addStretch(1)
        self._set_idle()
        self._safety.hide()
        self._connect()

    def _connect(self) -> None:
        self.diagnose_button.clicked.connect(self.runDiagnostics)
        self.cancel_button.clicked.connect(self.cancelDiagnostics)
        self._relay.progressed.connect(self._on_relay_progressed)

    # -- public ----------------------------------------------------------------------------------
    def setNode(self, hierarchy: Hierarchy, node: Node) -> None:
        """Show the facts of *node* (no I/O); a diagnostics run of the previous node is cancelled."""
        self.cancelDiagnostics(quiet=True)
        self._hierarchy, self._node = hierarchy, node
        self.result = None
        self._clear_form(self._facts)
        self._clear_form(self._results)
        self.status.clear()
        array = node.array
        if array is None:
            self.codecs.clear()
            self.noCodecsLabel.hide()
            self._safety.hide()
            self.diagnose_button.setEnabled(False)
            return
        size = itemsize(array)
        self._add(self._facts, "Shape", format_shape(array.shape))
        dtype = array.dtype_name
        self._add(self._facts, "Data type", _dtype_text(dtype, array.raw_dtype))
        self._add(self._facts, "Chunks", format_shape(array.chunks) + ("  (inner chunks)" if array.shards else ""))
        if array.shards:
            self._add(self._facts, "Shards", format_shape(array.shards))
        unit = ("shard" if array.shards else "chunk") + ("" if array.nchunks == 1 else "s")
        self._add(self._facts, "Chunk grid", f"{format_shape(array.grid)} = {array.nchunks:,} {unit}")
        if size is not None:
            self._add(self._facts, "Chunk size", format_bytes(math.prod(array.chunks) * size) + " decoded")
            self._add(self._facts, "Logical size", format_bytes(math.prod(array.shape) * size))
        else:
            self._add(self._facts, "Logical size", f"{math.prod(array.shape):,} variable-length items")
        fill, _ = short_json(array.fill_value, 80)
        self._add(self._facts, "Fill value", _fill_text(dtype, array.fill_value, fill, array.raw_dtype))
        self._add(self._facts, "Order", array.order)
        self._add(self._facts, "Chunk keys", f"{array.chunk_key_encoding} (separator {array.separator!r})")
        if array.dimension_names is not None:
            self._add(self._facts, "Dimension names", ", ".join("null" if n is None else n for n in array.dimension_names))
        rows: list[list[Cell | str]] = []
        for codec in array.codecs:
            self._codec_rows(codec, rows, 0)
        self.codecs.setRows(rows)
        fit_height(self._codecs_view, len(rows))
        self._codecs_view.setVisible(bool(rows))  # an empty table said nothing (v2 without filters or compressor)
        self.noCodecsLabel.setVisible(not rows)
        reasons = check_array(node)
        if reasons:
            self._safety.setText("<b>Data will not be decoded.</b><br>" + "<br>".join(html.escape(r) for r in reasons))
            self._safety.show()
        else:
            self._safety.hide()
        self.diagnose_button.setEnabled(True)

    def clear(self) -> None:
        self.cancelDiagnostics(quiet=True)
        self._hierarchy = self._node = None
        self._clear_form(self._facts)
        self._clear_form(self._results)
        self.codecs.clear()
        self.noCodecsLabel.hide()
        self._safety.hide()
        self.status.clear()
        self.diagnose_button.setEnabled(False)

    def factTexts(self) -> dict[str, str]:
        """The facts shown, by label (for tests)."""
        return _form_texts(self._facts)

    def resultTexts(self) -> dict[str, str]:
        return _form_texts(self._results)

    def isRunning(self) -> bool:
        return self._cancel is not None

    def runDiagnostics(self) -> None:
        """Start counting the stored objects of the array in a worker."""
        if self._node is None or self._node.array is None or self._hierarchy is None or self.isRunning():
            return
        self.result = None
        self._clear_form(self._results)
        run = self._relay.next_run()
        cancel = threading.Event()
        self._cancel = cancel
        self.diagnose_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, max(1, self._node.array.nchunks))
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m")
        self.progress.show()
        self.cancel_button.show()
        self.status.setText("Listing stored objects…")
        access, node, report = self._hierarchy.access, self._node, self._relay.reporter(run)

        def work() -> ArrayDiagnostics:
            return diagnose_array(access, node, progress=report, cancel=cancel)

        # the run id ties the callbacks to this run; a cancelled or replaced run is ignored
        task = self._runner.submit(
            work,
            on_done=lambda result: self._on_done(run, result),
            on_error=lambda err: self._on_error(run, err),
        )
        if self._cancel is cancel:  # still running (a synchronous runner has finished already)
            self._task = task

    def cancelDiagnostics(self, *, quiet: bool = False) -> None:
        """Stop a running diagnostics run (its late results are dropped)."""
        if self._cancel is None:
            return
        self._cancel.set()
        if self._task is not None:
            self._task.cancel()
        self._relay.next_run()  # invalidates late progress of the cancelled run
        self._set_idle()
        if not quiet:
            self.status.setText("Cancelled.")

    # -- slots -----------------------------------------------------------------------------------
    def _on_relay_progressed(self, run: int, done: object, total: object) -> None:
        if run != self._relay.current or self._cancel is None:
            return
        if isinstance(total, int) and total > 0:
            self.progress.setRange(0, total)
        if isinstance(done, int):
            self.progress.setValue(min(done, self.progress.maximum()))
            self.status.setText(f"Listing stored objects… {done:,} found so far")

    def _on_done(self, run: int, result: ArrayDiagnostics) -> None:
        if run != self._relay.current:
            return
        self._set_idle()
        self.result = result
        unit = result.unit
        pct = 100 * result.fraction_initialised
        self._add(self._results, f"Initialised {unit}", f"{result.initialised:,} of {result.expected:,} ({pct:.1f} %)")
        if result.inner_initialised is not None and result.inner_expected:
            share = 100 * result.inner_initialised / result.inner_expected
            self._add(self._results, "Inner chunks stored",
                      f"{result.inner_initialised:,} of the {result.inner_expected:,} in those shards ({share:.1f} %)")
        self._add(self._results, "Bytes stored", format_bytes(result.bytes_stored))
        if result.decoded_bytes is not None:
            self._add(self._results, "Decoded size", _decoded_text(result))
        if result.logical_bytes is not None:
            self._add(self._results, "Logical size", format_bytes(result.logical_bytes) + " (the whole array)")
        ratio = result.ratio
        self._add(self._results, "Compression ratio",
                  f"{ratio:.2f} × (decoded size ÷ bytes stored)" if ratio is not None else "–")
        if result.stray:
            self._add(self._results, "Other keys", f"{result.stray:,} keys that are not chunks of this array")
        if result.cancelled:
            self.status.setText("Cancelled: the counts below are partial.")
        else:
            self.status.setText("Done.")

    def _on_error(self, run: int, err: BaseException) -> None:
        if run != self._relay.current:
            return
        log_failure(logger, "diagnostics of %s failed", self._node.path if self._node else "?", err=err)
        self._set_idle()
        self.status.setText(f"<span style='color:#8b1c1c'>Diagnostics failed: {html.escape(str(err))}</span>")

    # -- helpers ---------------------------------------------------------------------------------
    def _set_idle(self) -> None:
        self._cancel = None
        self._task = None
        self.progress.hide()
        self.cancel_button.hide()
        self.cancel_button.setEnabled(False)
        self.diagnose_button.setEnabled(self._node is not None and self._node.array is not None)

    def _codec_rows(self, codec: CodecInfo, rows: list[list[Cell | str]], depth: int, *,
                    index_location: str | None = None) -> None:
        """The rows of *codec* and of the codecs nested in it: a shard's inner-chunk codecs, then its
        index codecs, whose role says ``index:`` (*index_location*: where the index is stored)."""
        config = {k: v for k, v in codec.configuration.items() if k not in ("codecs", "index_codecs")}
        text, elided = short_json(config, 120) if config else ("", False)
        indent = "    " * depth + ("↳ " if depth else "")
        if index_location is None:
            role = Cell(indent + codec.role, tooltip="A codec of the inner chunks (codecs)" if depth else None)
        else:  # the index codecs looked like a second, impossible array-bytes codec of the chunks
            role = Cell(f"{indent}index: {codec.role}", foreground="#6b7280",
                        tooltip=f"A codec of the shard index (index_codecs), stored at the {index_location} of "
                                "each shard: it encodes where each inner chunk is, not the data")
        rows.append([role, Cell(codec.name, tooltip=codec.summary),
                     Cell(text, tooltip=format_json(config) if elided else None)])
        for inner in codec.inner:
            self._codec_rows(inner, rows, depth + 1)
        location = codec.configuration.get("index_location", "end")  # the spec's default
        for index in codec.index:
            self._codec_rows(index, rows, depth + 1, index_location=str(location))

    @staticmethod
    def _add(form: QFormLayout, label: str, value: str) -> None:
        field = QLabel(value)
        field.setTextFormat(Qt.TextFormat.PlainText)
        field.setWordWrap(True)
        field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(label, field)

    @staticmethod
    def _clear_form(form: QFormLayout) -> None:
        while form.rowCount():
            form.removeRow(0)


def _decoded_text(result: ArrayDiagnostics) -> str:
    """The decoded size of what is stored, and what it counts (the ratio is taken over it)."""
    size = format_bytes(result.decoded_bytes or 0)
    if result.unit == "chunks":
        return f"{size} in the stored chunks"
    if result.shards_counted_whole:
        return f"{size}, each stored shard counted whole (their indexes were not read)"
    return f"{size} in the inner chunks stored"


def _form_texts(form: QFormLayout) -> dict[str, str]:
    out = {}
    for row in range(form.rowCount()):
        label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
        field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
        label_widget = label.widget() if label is not None else None
        field_widget = field.widget() if field is not None else None
        if isinstance(label_widget, QLabel) and isinstance(field_widget, QLabel):
            out[label_widget.text()] = field_widget.text()
    return out


_NAT = -(2**63)  # how numpy stores NaT: the smallest int64
_UNSET_DEFAULTS = (("bool", "False"), ("complex", "0j"), ("float", "0.0"), ("int", "0"), ("uint", "0"))
"""What zarr-python reads for a v2 fill value of null, by data type."""


def _dtype_text(dtype: str, raw_dtype: object) -> str:
    """The data type by name, with the stored one where it differs: ``uint16  ("<u2")`` (a
    big-endian type had no name, where a little-endian one had)."""
    raw = format_json(raw_dtype) if raw_dtype is not None else ""
    return f"{dtype}  ({raw})" if raw and raw.strip('"') != dtype else dtype


def _read_fill(dtype: str, value: object) -> str | None:
    """How zarr-python reads a fill value stored other than as its number: a float's ``"NaN"``,
    ``"Infinity"`` or hex bits, a complex ``[re, im]``, a bool (``nan``, ``1+2j``, ``True``);
    None when it is stored as it reads (or is no such type)."""
    try:
        kind = np.dtype(dtype)
    except (TypeError, ValueError):
        return None
    try:
        if kind.kind == "b" and isinstance(value, bool):
            return str(value)
        if kind.kind == "f" and isinstance(value, str):
            return str(_float(kind, value))
        if kind.kind == "c" and isinstance(value, list) and len(value) == 2:
            part = np.dtype(f"f{kind.itemsize // 2}")
            re, im = (_float(part, v) for v in value)
            return str(kind.type(complex(re, im))).strip("()")
    except (TypeError, ValueError, OverflowError):
        return None
    return None


def _float(kind: np.dtype[Any], value: object) -> np.floating[Any]:
    """A float fill value as zarr stores it: a number, ``"NaN"``, ``"Infinity"``, ``"-Infinity"``
    or the hex of its bits (``"0x7fc00000"``)."""
    if isinstance(value, str) and value.lower().startswith("0x"):
        bits = int(value, 16).to_bytes(kind.itemsize, "big")
        return np.frombuffer(bits, dtype=kind.newbyteorder(">"))[0]
    if isinstance(value, str) and value not in ("NaN", "Infinity", "-Infinity"):
        raise ValueError(value)
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise TypeError(value)
    return kind.type(value)


def _fill_text(dtype: str, value: object, shown: str, raw_dtype: object = None) -> str:
    """The fill value as a reader gets it: ``NaT`` for times, ``nan``, ``1+2j`` or ``True`` where
    the JSON spells it otherwise, what zarr-python reads where a v2 fill value is null (the data
    type's default), a structured one field by field; the stored JSON after it."""
    from zarr_browser.core.preview import structured_fill_text

    fields = structured_fill_text(raw_dtype, value)
    if fields is not None:
        return f"{fields}  (stored as {shown})"
    times = dtype.startswith(("numpy.datetime64", "numpy.timedelta64", "datetime64", "timedelta64"))
    if times and value in (_NAT, "NaT"):
        return f"NaT  (stored as {shown})"
    if value is None:
        default = next((d for prefix, d in _UNSET_DEFAULTS if dtype.startswith(prefix)), None)
        if default is not None:
            return f"null (unset: zarr-python reads {default})"
    read = _read_fill(dtype, value)
    return f"{read}  (stored as {shown})" if read is not None and read != shown else shown
