"""The validation section: issues of the node and its subtree, checked in a worker.

A check covers a *scope* (the node selected when it ran) and everything below it.  Selecting
another node inside the scope keeps the report and shows the issues of that node's subtree,
so clicking an issue (which selects its node) does not throw the report away.
"""

from __future__ import annotations

import html
import logging
import threading
from typing import TYPE_CHECKING

from qtpy.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.validate import ValidationReport, validate_hierarchy
from zarr_browser.qt._typed import nonnull
from zarr_browser.qt.inspector.progress import ProgressRelay
from zarr_browser.qt.inspector.tables import Cell, RowsModel, make_table_view
from zarr_browser.qt.workers import log_failure

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import Node
    from zarr_browser.qt.workers import Runner, Task

__all__ = ["ValidationPanel"]

logger = logging.getLogger(__name__)


def _within(path: str, scope: str) -> bool:
    return scope == "/" or path == scope or path.startswith(scope.rstrip("/") + "/")


class ValidationPanel(QWidget):
    """Runs :func:`validate_hierarchy` for the selected node's subtree and lists the issues.

    Signals
    -------
    nodeRequested(str)
        An issue was clicked: go to its node.
    documentRequested(str, str, str)
        "Show in raw JSON" for (node path, document name, JSON pointer).
    """

    nodeRequested = Signal(str)
    documentRequested = Signal(str, str, str)

    def __init__(self, *, runner: Runner, registry: ConventionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._relay = ProgressRelay(self)
        self._hierarchy: Hierarchy | None = None
        self._node: Node | None = None
        self._scope: str | None = None
        self._cancel: threading.Event | None = None
        self._task: Task | None = None
        self.report: ValidationReport | None = None
        self._shown: list[Issue] = []
        self._selected: Issue | None = None
        self._message = ""  # why there is no report (cancelled, failed)

        self.check_button = QPushButton("Check")
        self.check_button.setToolTip("Validate the selected node and everything below it")
        self.cancel_button = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.whole = QCheckBox("Show the whole check")
        self.whole.setToolTip("Show every issue of the last check, not only those below the selected node")
        self._summary = QLabel()
        self._summary.setWordWrap(True)
        self.model = RowsModel(("Severity", "Node", "Message", "Convention"), self)
        style = nonnull(self.style())
        self.model.icons = {
            "error": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical),
            "warning": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning),
            "info": style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxInformation),
        }
        self.view = make_table_view(self.model)
        self.view.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # translucent grey: readable on the window's palette and under napari's dark stylesheet,
        # which leaves the palette white (palette(alternate-base) was pale text on white there)
        self.detail.setStyleSheet("QLabel { background: rgba(127, 127, 127, 32); "
                                  "border: 1px solid rgba(127, 127, 127, 110); border-radius: 4px; padding: 6px; }")
        self.show_raw = QPushButton("Show in raw JSON")
        top = QHBoxLayout()
        top.addWidget(self.check_button)
        top.addWidget(self.progress, 1)
        top.addWidget(self.cancel_button)
        top.addStretch(1)
        top.addWidget(self.whole)
        detail_row = QHBoxLayout()
        detail_row.addWidget(self.detail, 1)
        detail_row.addWidget(self.show_raw, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self._summary)
        layout.addWidget(self.view, 1)
        layout.addLayout(detail_row)
        self._set_idle()
        self._show_detail(None)
        self._connect()

    def _connect(self) -> None:
        self.check_button.clicked.connect(self.runCheck)
        self.cancel_button.clicked.connect(self.cancelCheck)
        self.whole.toggled.connect(self._on_whole_toggled)
        self.view.clicked.connect(self._on_view_clicked)
        self.view.activated.connect(self._on_view_clicked)  # Enter on the current issue: go there too
        nonnull(self.view.selectionModel()).currentChanged.connect(self._on_current_changed)
        self.show_raw.clicked.connect(self._on_show_raw_clicked)
        self._relay.progressed.connect(self._on_relay_progressed)

    # -- public ----------------------------------------------------------------------------------
    def summaryText(self) -> str:
        return self._summary.text()

    def detailText(self) -> str:
        return self.detail.text()

    def shownIssues(self) -> list[Issue]:
        return list(self._shown)

    def isRunning(self) -> bool:
        return self._cancel is not None

    def hasResult(self) -> bool:
        """Whether a check covers the selected node (finished, or running)."""
        return self._node is not None and self._scope is not None and _within(self._node.path, self._scope) and (
            self.report is not None or self.isRunning())

    def setNode(self, hierarchy: Hierarchy, node: Node) -> None:
        """Follow the selection: keep a check whose scope contains *node*, else forget it."""
        same = hierarchy is self._hierarchy and self._scope is not None and _within(node.path, self._scope)
        self._hierarchy, self._node = hierarchy, node
        if not same:
            self.cancelCheck(quiet=True)
            self.report, self._scope, self._selected, self._message = None, None, None, ""
        self.check_button.setText("Re-check" if self.report is not None and self._scope == node.path else "Check")
        self.check_button.setToolTip(f"Validate {node.path} and everything below it")
        self._refresh()

    def clear(self) -> None:
        self.cancelCheck(quiet=True)
        self._hierarchy = self._node = None
        self.report, self._scope, self._selected = None, None, None
        self._refresh()

    def runCheck(self) -> None:
        """Validate the selected node's subtree in a worker (replacing any earlier check)."""
        if self._hierarchy is None or self._node is None:
            return
        self.cancelCheck(quiet=True)
        self.report, self._selected, self._message = None, None, ""
        self._scope = self._node.path
        run = self._relay.next_run()
        cancel = threading.Event()
        self._cancel = cancel
        self.check_button.setEnabled(False)
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self._summary.setText(f"Checking {html.escape(self._scope)} and below…")
        hierarchy, registry, scope, report = self._hierarchy, self._registry, self._scope, self._relay.reporter(run)

        def work() -> ValidationReport:
            return validate_hierarchy(hierarchy, registry, path=scope, progress=report, cancel=cancel)

        task = self._runner.submit(work, on_done=lambda r: self._on_done(run, r), on_error=lambda e: self._on_error(run, e))
        if self._cancel is cancel:
            self._task = task

    def cancelCheck(self, *, quiet: bool = False) -> None:
        if self._cancel is None:
            return
        self._cancel.set()
        if self._task is not None:
            self._task.cancel()
        self._relay.next_run()
        self._set_idle()
        if not quiet:
            self._scope = None
            self._message = "Check cancelled."
            self._refresh()

    def selectIssue(self, row: int) -> None:
        """Select the shown issue at *row*, as a click does."""
        index = self.model.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        nonnull(self.view.selectionModel()).select(index, flags)
        self._on_view_clicked(index)

    # -- slots -----------------------------------------------------------------------------------
    def _on_relay_progressed(self, run: int, done: object, path: object) -> None:
        if run != self._relay.current or self._cancel is None:
            return
        self._summary.setText(f"Checking… {done} nodes checked ({html.escape(str(path))})")

    def _on_done(self, run: int, report: ValidationReport) -> None:
        if run != self._relay.current:
            return
        self._set_idle()
        self.report = report
        self.check_button.setText("Re-check")
        self._refresh()

    def _on_error(self, run: int, err: BaseException) -> None:
        if run != self._relay.current:
            return
        log_failure(logger, "validation of %s failed", self._scope, err=err)
        self._set_idle()
        self._scope = None
        self._message = f"<span style='color:#8b1c1c'>The check failed: {html.escape(str(err))}</span>"
        self._refresh()

    def _on_whole_toggled(self, checked: bool) -> None:
        self._refresh()

    def _on_view_clicked(self, index: QModelIndex) -> None:
        if not index.isValid() or index.row() >= len(self._shown):
            return
        issue = self._shown[index.row()]
        self._selected = issue
        self._show_detail(issue)
        self.nodeRequested.emit(issue.path)

    def _on_current_changed(self, index: QModelIndex, _previous: QModelIndex) -> None:
        """Moving through the issues with the keyboard shows each one's detail (Enter goes there)."""
        if index.isValid() and index.row() < len(self._shown):
            self._selected = self._shown[index.row()]
            self._show_detail(self._selected)

    def _on_show_raw_clicked(self) -> None:
        issue = self._selected
        if issue is not None and issue.document:
            self.documentRequested.emit(issue.path, issue.document, issue.pointer)

    # -- helpers ---------------------------------------------------------------------------------
    def _set_idle(self) -> None:
        self._cancel = None
        self._task = None
        self.progress.hide()
        self.cancel_button.hide()
        self.check_button.setEnabled(self._node is not None)

    def _refresh(self) -> None:
        report, node = self.report, self._node
        if report is None or node is None:
            self._shown = []
            self.model.clear()
            if not self.isRunning():
                default = "Press Check to validate this node and everything below it." if node is not None else ""
                self._summary.setText(self._message or default)
            self._show_detail(None)
            return
        scope = self._scope or node.path
        if self.whole.isChecked():
            shown = list(report.issues)
        else:
            shown = [i for i in report.issues if _within(i.path, node.path)]
        shown.sort(key=lambda i: (i.path != node.path, i.severity.rank))
        self._shown = shown
        self.model.setRows([
            [Cell(i.severity.value, icon=i.severity.value, bold=i.severity is Severity.ERROR),
             Cell(i.path, link=i.path), Cell(i.message, tooltip=i.message), i.convention]
            for i in shown
        ])
        counts = {s: sum(1 for i in shown if i.severity is s) for s in Severity}
        where = f"{html.escape(node.path)} and below" if not self.whole.isChecked() else f"the whole check of {html.escape(scope)}"
        head = (f"<b>{counts[Severity.ERROR]}</b> errors, <b>{counts[Severity.WARNING]}</b> warnings, "
                f"{counts[Severity.INFO]} notes in {where}")
        checked = f"checked {report.nodes_checked} nodes from {html.escape(scope)}"
        if report.cancelled:
            checked += " (cancelled: partial)"
        if not shown:
            head = f"<span style='color:#166534'><b>No issues</b></span> in {where}"
        self._summary.setText(f"{head} · {checked}")
        if self._selected is not None and self._selected in shown:
            row = shown.index(self._selected)
            self.view.selectRow(row)
            self._show_detail(self._selected)
        else:
            self._show_detail(None)

    def _show_detail(self, issue: Issue | None) -> None:
        if issue is None:
            self.detail.setText("Click an issue to go to its node and see where in the metadata it is.")
            self.show_raw.setEnabled(False)
            return
        where = html.escape(issue.document or "the node")
        pointer = html.escape(issue.pointer or "(the whole document)")
        self.detail.setText(
            f"<b>{html.escape(issue.severity.value)}</b> at <b>{html.escape(issue.path)}</b>"
            f"{' (' + html.escape(issue.convention) + ')' if issue.convention else ''}<br>"
            f"{html.escape(issue.message)}<br>"
            f"<span style='color:palette(dark)'>in</span> <code>{where}</code> "
            f"<span style='color:palette(dark)'>at JSON pointer</span> <code>{pointer}</code>"
        )
        self.show_raw.setEnabled(bool(issue.document))
