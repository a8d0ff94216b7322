"""The diff preview and the save dialog: what a save writes, grouped by change, each document's
diff, and the validation verdict; and the progress of a save, which can be stopped.

Saving with errors the edits introduced needs an explicit override: the *Save* button stays
disabled until "Save anyway" is ticked, and the summary says the edits cannot be saved yet.  The
documents are grouped by the change they get (:mod:`zarr_browser.core.editing.review`, made in a
worker): a dimension renamed across 10,000 arrays is one line, "9,999 × .zattrs: "lon" →
"longitude" in _ARRAY_DIMENSIONS".  Choosing a group, or typing in the filter box, narrows the
document list, a model (10,000 documents are not 10,000 items).  A diff longer than
:data:`DIFF_LINES` lines (a consolidated copy of 10,000 entries) shows its start, and the rest
on request, appended a slice per turn of the event loop.  The dialogs are shown with ``open()``
(not ``exec``), so the caller continues when they are accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QAbstractListModel, QModelIndex, QStringListModel, Qt, QTimer
from qtpy.QtGui import (
    QColor,
    QFontDatabase,
    QKeySequence,
    QShortcut,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.editing.review import Review
from zarr_browser.qt._typed import nonnull

if TYPE_CHECKING:
    from zarr_browser.core.issues import Issue
    from zarr_browser.qt.editor.controller import ValidationState

__all__ = ["DiffHighlighter", "SaveDialog", "SaveProgressDialog"]

DIFF_LINES = 2000
"""Lines of a diff shown at once; *Show all* appends the rest."""

DIFF_SLICE = 4000
"""Lines *Show all* appends per turn of the event loop."""


class DiffHighlighter(QSyntaxHighlighter):
    """Green added lines, red removed lines, grey hunk headers."""

    def __init__(self, document: QTextDocument | None) -> None:
        super().__init__(document)
        self._formats: dict[str, QTextCharFormat] = {}
        for prefix, fg, bg in (("+", "#14532d", "#dcfce7"), ("-", "#7f1d1d", "#fee2e2"), ("@", "#6b7280", None)):
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(fg))
            if bg:
                fmt.setBackground(QColor(bg))
            self._formats[prefix] = fmt

    def highlightBlock(self, text: str | None) -> None:
        if not text or text.startswith(("+++", "---")):
            return
        fmt = self._formats.get(text[:1])
        if fmt is not None:
            self.setFormat(0, len(text), fmt)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _kinds_text(review: Review) -> str:
    """``10,000 .zattrs and 1 consolidated copy (.zmetadata)``."""
    parts = [f"{n:,} {kind}" for kind, n in review.kinds().items()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class DocumentListModel(QAbstractListModel):
    """The keys of the documents shown: all, or those of one group whose key contains a text."""

    def __init__(self, review: Review, parent: Any = None) -> None:
        super().__init__(parent)
        self._review = review
        self._all = list(review.diffs)
        self._shown = self._all
        self._group: int | None = None
        self._text = ""

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._shown)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._shown):
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._shown[index.row()]
        return None

    def key(self, row: int) -> str | None:
        return self._shown[row] if 0 <= row < len(self._shown) else None

    def row(self, key: str) -> int:
        try:
            return self._shown.index(key)
        except ValueError:
            return -1

    def setFilter(self, text: str, group: int | None) -> None:
        """Show the documents of *group* (None: all) whose key contains *text* (any case)."""
        text = text.strip().lower()
        if (text, group) == (self._text, self._group):
            return
        self._text, self._group = text, group
        keys = self._all if group is None else self._review.groups[group].keys
        self.beginResetModel()
        self._shown = [k for k in keys if text in k.lower()] if text else list(keys)
        self.endResetModel()

    def total(self) -> int:
        return len(self._all)


class SaveDialog(QDialog):
    """What a save writes, grouped by change, each document's diff, and the validation verdict.

    Parameters
    ----------
    review
        The documents, their diffs and groups (:meth:`EditSession.review`), or ``{key: diff}``.
    validation
        The issues of the edited nodes; None for a plain preview.
    save
        Offer *Save* (False: a preview with *Close* only).
    writable, reason
        Whether the store can be written, and why not (shown instead of the summary).
    """

    def __init__(self, review: Review | Mapping[str, str], validation: ValidationState | None = None, *,
                 save: bool = True, writable: bool = True, reason: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save changes" if save else "Preview changes")
        self.resize(1000, 680)
        self.review = review if isinstance(review, Review) else Review.of_diffs(review)
        self._save = save
        self._writable = writable
        self._reason = reason
        n = len(self.review.diffs)
        self.summaryLabel = QLabel()
        self.summaryLabel.setWordWrap(True)
        self.summaryLabel.setTextFormat(Qt.TextFormat.RichText)
        # the groups: "All documents" first, then one line per change
        self.groupsLabel = QLabel("&Changes:")
        self.groupList = QListView()
        self.groupList.setObjectName("changeGroups")
        self.groupList.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.groupList.setUniformItemSizes(True)
        self.groupsLabel.setBuddy(self.groupList)
        self._groupModel = QStringListModel(
            [f"All {_plural(n, 'document')}"]
            + [f"{len(g.keys):,} × {g.kind}: {g.text}" for g in self.review.groups], self)
        self.groupList.setModel(self._groupModel)
        self.groupList.setMaximumHeight(self.groupList.sizeHintForRow(0) * min(len(self.review.groups) + 1, 6)
                                        + 2 * self.groupList.frameWidth() + 4)
        # the documents: a filter and the list
        self.filterEdit = QLineEdit()
        self.filterEdit.setObjectName("documentFilter")
        self.filterEdit.setPlaceholderText("Filter documents (Ctrl+F)")
        self.filterEdit.setClearButtonEnabled(True)
        self.filterEdit.setToolTip("Show the documents whose key contains this text (Ctrl+F)")
        self.documentModel = DocumentListModel(self.review, self)
        self.documentList = QListView()
        self.documentList.setObjectName("documentList")
        self.documentList.setModel(self.documentModel)
        self.documentList.setUniformItemSizes(True)  # (10,000 rows: no per-row size hint)
        self.documentList.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.countLabel = QLabel()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.filterEdit)
        left_layout.addWidget(self.documentList, 1)
        left_layout.addWidget(self.countLabel)
        # the diff of the current document
        self.diffView = QPlainTextEdit()
        self.diffView.setReadOnly(True)
        self.diffView.setTabChangesFocus(True)
        self.diffView.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.diffView.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._highlighter = DiffHighlighter(self.diffView.document())
        self.moreLabel = QLabel()
        self.showAllButton = QPushButton("Show the whole diff")
        more = QHBoxLayout()
        more.setContentsMargins(0, 0, 0, 0)
        more.addWidget(self.moreLabel, 1)
        more.addWidget(self.showAllButton)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.diffView, 1)
        right_layout.addLayout(more)
        self._rest: list[str] = []  # lines of the current diff not shown yet
        self._appender = QTimer(self)
        self._appender.setInterval(0)
        self._appender.timeout.connect(self._append_slice)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([300, 700])
        self.issuesLabel = QLabel()
        self.issuesLabel.setWordWrap(True)
        self.issuesLabel.setTextFormat(Qt.TextFormat.RichText)
        self.overrideCheck = QCheckBox()
        self.buttons = QDialogButtonBox()
        self.saveButton: QPushButton | None = None
        if save:
            self.saveButton = self.buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
            self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        else:
            self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summaryLabel)
        layout.addWidget(self.groupsLabel)
        layout.addWidget(self.groupList)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.issuesLabel)
        layout.addWidget(self.overrideCheck)
        layout.addWidget(self.buttons)
        for first, second in ((self.groupList, self.filterEdit), (self.filterEdit, self.documentList),
                              (self.documentList, self.diffView), (self.diffView, self.showAllButton)):
            QWidget.setTabOrder(first, second)
        self.findShortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self)
        self.findShortcut.activated.connect(self._focus_filter)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        nonnull(self.documentList.selectionModel()).currentRowChanged.connect(self._on_document_changed)
        nonnull(self.groupList.selectionModel()).currentRowChanged.connect(self._on_group_changed)
        self.filterEdit.textChanged.connect(self._apply_filter)
        self.documentModel.modelReset.connect(self._after_filter)
        self.showAllButton.clicked.connect(self._show_all)
        self.overrideCheck.toggled.connect(self._update_buttons)

        self._show_validation(validation)
        self.groupList.setCurrentIndex(self._groupModel.index(0, 0))
        self._after_filter()
        self._update_buttons()
        self.groupList.setFocus()

    # -- the summary -----------------------------------------------------------------------------
    def _update_summary(self) -> None:
        n = len(self.review.diffs)
        documents = _plural(n, "document")
        kinds = _kinds_text(self.review) if n else ""
        groups = len(self.review.groups)
        same = f", {_plural(groups, 'kind')} of change" if groups > 1 else ""
        if not self._save:
            text = f"{documents} changed — {kinds}{same}. Nothing is written." if n else \
                "No document changed: the edits leave every document as it was."
        elif not self._writable:
            text = f"This store cannot be written ({_html(self._reason)}): nothing can be saved." if self._reason \
                else "This store was opened read-only: nothing can be saved."
        elif not n:
            text = "Nothing to save: the edits leave every document as it was."
        elif self._new and not self.overrideCheck.isChecked():
            errors = _plural(self._new_count, "new validation error")
            text = (f"<b style='color:#b91c1c'>Cannot be saved yet:</b> the edits introduce {errors} (below). "
                    f"Fix them, or tick “Save anyway”. {documents} would be written — {kinds}{same}.")
        else:
            text = (f"{documents} will be written atomically — {kinds}{same}. Each is refused if it changed "
                    "in the store since it was read.")
            if self._new:
                text += f" <b style='color:#b91c1c'>Saved with {_plural(self._new_count, 'new validation error')}.</b>"
        self.summaryLabel.setText(text)

    def _show_validation(self, validation: ValidationState | None) -> None:
        new = validation.new_errors if validation is not None else []
        old = validation.old_errors if validation is not None else []
        warnings = validation.warnings if validation is not None else []
        lines = []
        if validation is None:
            lines.append("")
        elif not (new or old or warnings):
            lines.append("<span style='color:#15803d'>✔ The edited nodes validate without issues.</span>")
        else:
            lines.extend(_listed(new, "error", "introduced by the edits", "#b91c1c"))
            if old:
                lines.append(f"{len(old)} error(s) were already there before the edits.")
            fresh = validation.new_warnings
            lines.extend(_listed(fresh, "warning", "from the edits", "#b45309"))
            if len(warnings) > len(fresh):
                lines.append(f"{len(warnings) - len(fresh)} other warning(s) and notes were already there.")
        self.issuesLabel.setText("<br>".join(lines))
        self.overrideCheck.setText(f"Save anyway, with {len(new)} new validation error{'s' if len(new) != 1 else ''}")
        self.overrideCheck.setVisible(bool(new) and self._save)
        self._needs_override = bool(new) or bool(old)
        self._new = bool(new)
        self._new_count = len(new)

    def _update_buttons(self, *_args: object) -> None:
        if self.saveButton is not None:
            self.saveButton.setEnabled(self.canSave())
        self._update_summary()

    def canSave(self) -> bool:
        """Whether *Save* may be pressed now."""
        return self._save and self._writable and bool(self.review.diffs) \
            and (not self._new or self.overrideCheck.isChecked())

    # -- the lists ---------------------------------------------------------------------------------
    def _focus_filter(self) -> None:
        self.filterEdit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filterEdit.selectAll()

    def _current_group(self) -> int | None:
        row = self.groupList.currentIndex().row()
        return row - 1 if row >= 1 else None

    def _on_group_changed(self, *_args: object) -> None:
        self._apply_filter()

    def _apply_filter(self, *_args: object) -> None:
        self.documentModel.setFilter(self.filterEdit.text(), self._current_group())

    def _after_filter(self) -> None:
        shown, total = self.documentModel.rowCount(), self.documentModel.total()
        group = self._current_group()
        where = f" of {len(self.review.groups[group].keys):,} with this change" if group is not None else ""
        self.countLabel.setText(f"{shown:,}{where} shown, of {_plural(total, 'document')}"
                                if shown != total else _plural(total, "document"))
        if shown:
            self.documentList.setCurrentIndex(self.documentModel.index(0, 0))
        else:
            self._show_diff(None)

    def _on_document_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_diff(self.documentModel.key(current.row()) if current.isValid() else None)

    def _show_diff(self, key: str | None) -> None:
        self._appender.stop()
        text = self.review.diffs.get(key, "") if key is not None else ""
        lines = text.split("\n", DIFF_LINES)
        self._rest = lines[DIFF_LINES].split("\n") if len(lines) > DIFF_LINES else []
        self.diffView.setPlainText("\n".join(lines[:DIFF_LINES]))
        self._update_more()

    def _update_more(self) -> None:
        rest = len(self._rest) - (1 if self._rest and not self._rest[-1] else 0)
        self.moreLabel.setText(f"… {_plural(rest, 'more line')} of this diff not shown" if rest > 0 else "")
        self.moreLabel.setVisible(rest > 0)
        self.showAllButton.setVisible(rest > 0 and not self._appender.isActive())

    def _show_all(self) -> None:
        if self._rest:
            self._appender.start()
            self._update_more()

    def _append_slice(self) -> None:
        chunk, self._rest = self._rest[:DIFF_SLICE], self._rest[DIFF_SLICE:]
        cursor = QTextCursor(self.diffView.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText("\n" + "\n".join(chunk))
        if not self._rest:
            self._appender.stop()
        self._update_more()

    # -- results -----------------------------------------------------------------------------------
    def force(self) -> bool:
        """Whether the save must go ahead despite validation errors (new ones ticked, or old ones)."""
        return self._needs_override and (not self._new or self.overrideCheck.isChecked())

    def documents(self) -> list[str]:
        return list(self.review.diffs)

    def selectDocument(self, key: str) -> bool:
        """Show *key*'s diff (clearing the filter and group when they hide it)."""
        if self.documentModel.row(key) < 0:
            self.filterEdit.clear()
            self.groupList.setCurrentIndex(self._groupModel.index(0, 0))
        row = self.documentModel.row(key)
        if row >= 0:
            self.documentList.setCurrentIndex(self.documentModel.index(row, 0))
        return row >= 0


class SaveProgressDialog(QDialog):
    """How far a save is ("Writing 3,412 of 10,001 documents"), with *Stop saving*.

    *stop* is called once when the user asks (the button, Esc, closing): the save then stops
    before the next document.  The dialog closes itself with :meth:`finish`.
    """

    def __init__(self, stop: Callable[[], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Saving")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self._stop = stop
        self._stopping = False
        self._finished = False
        self.label = QLabel("Validating the edits…")
        self.label.setMinimumWidth(360)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.note = QLabel("Stopping keeps what is written and leaves the rest as unsaved edits; saving again "
                           "finishes the job.")
        self.note.setWordWrap(True)
        self.stopButton = QPushButton("Stop saving")
        self.stopButton.setToolTip("Stop before the next document (Esc)")
        self.stopButton.clicked.connect(self.requestStop)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.stopButton)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.note)
        layout.addLayout(buttons)

    def setProgress(self, phase: str, done: int, total: int) -> None:
        if self._stopping:
            return
        if phase == "validating":
            self.label.setText("Validating the edits…")
            self.bar.setRange(0, 0)
            return
        verb = "Checking" if phase == "checking" else "Writing"
        what = "for changes made in the store meanwhile" if phase == "checking" else "written"
        self.label.setText(f"{verb}: {done:,} of {_plural(total, 'document')} {what}")
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)

    def requestStop(self) -> None:
        if self._stopping or self._finished:
            return
        self._stopping = True
        self.stopButton.setEnabled(False)
        self.label.setText("Stopping after the document being written…")
        self._stop()

    def reject(self) -> None:
        """Esc and the close button stop the save; the dialog stays until the save has stopped."""
        if self._finished:
            super().reject()
        else:
            self.requestStop()

    def finish(self) -> None:
        self._finished = True
        super().reject()


MAX_LISTED = 8
"""Issues listed by name in the save dialog (the rest are counted)."""


def _listed(issues: list[Issue], what: str, why: str, colour: str) -> list[str]:
    """Rich-text lines naming *issues* (at most MAX_LISTED, the rest counted), under a title."""
    if not issues:
        return []
    lines = [f"<b style='color:{colour}'>{len(issues)} new {what}{'s' if len(issues) != 1 else ''} {why}:</b>"]
    lines.extend(f"&nbsp;&nbsp;• {i.path}: {_html(i.message)}" for i in issues[:MAX_LISTED])
    if len(issues) > MAX_LISTED:
        lines.append(f"&nbsp;&nbsp;… and {len(issues) - MAX_LISTED} more")
    return lines


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
