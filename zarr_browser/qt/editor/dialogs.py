"""The diff preview and the save dialog: every changed document, its diff, and the validation verdict.

Saving with errors the edits introduced needs an explicit override: the *Save* button stays
disabled until "Save anyway" is ticked.  The dialog is shown with ``open()`` (not ``exec``), so
the caller continues when it is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt
from qtpy.QtGui import QColor, QFontDatabase, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from qtpy.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from zarr_browser.core.issues import Issue
    from zarr_browser.qt.editor.controller import ValidationState

__all__ = ["DiffHighlighter", "SaveDialog"]


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


class SaveDialog(QDialog):
    """Per-document diff of what a save writes, with the validation of the edited nodes.

    Parameters
    ----------
    diffs
        ``{store key: unified diff}`` (:meth:`EditSession.diff`).
    validation
        The issues of the edited nodes; None for a plain preview.
    save
        Offer *Save* (False: a preview with *Close* only).
    writable, reason
        Whether the store can be written, and why not (shown instead of the summary).
    """

    def __init__(self, diffs: Mapping[str, str], validation: ValidationState | None = None, *, save: bool = True,
                 writable: bool = True, reason: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save changes" if save else "Preview changes")
        self.resize(900, 600)
        self._diffs = dict(diffs)
        self.summaryLabel = QLabel()
        self.summaryLabel.setWordWrap(True)
        self.documentList = QListWidget()
        self.documentList.addItems(list(self._diffs))
        self.diffView = QPlainTextEdit()
        self.diffView.setReadOnly(True)
        self.diffView.setTabChangesFocus(True)
        self.diffView.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.diffView.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._highlighter = DiffHighlighter(self.diffView.document())
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.documentList)
        splitter.addWidget(self.diffView)
        splitter.setSizes([260, 640])
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
        layout.addWidget(splitter, 1)
        layout.addWidget(self.issuesLabel)
        layout.addWidget(self.overrideCheck)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.documentList.currentRowChanged.connect(self._on_document_changed)
        self.overrideCheck.toggled.connect(self._update_buttons)

        n = len(self._diffs)
        self.summaryLabel.setText(f"{n} document{'s' if n != 1 else ''} will be written atomically; "
                                  "each is refused if it changed in the store since it was read."
                                  if save else f"{n} document{'s' if n != 1 else ''} changed (nothing is written).")
        if not writable and save:
            self.summaryLabel.setText(f"This store cannot be written ({reason}): nothing can be saved." if reason
                                      else "This store was opened read-only: nothing can be saved.")
        self._show_validation(validation)
        if n:
            self.documentList.setCurrentRow(0)
        self._writable = writable
        self._update_buttons()

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
        self.overrideCheck.setVisible(bool(new))
        self._needs_override = bool(new) or bool(old)
        self._new = bool(new)

    def _update_buttons(self, *_args: object) -> None:
        if self.saveButton is not None:
            self.saveButton.setEnabled(self._writable and bool(self._diffs)
                                       and (not self._new or self.overrideCheck.isChecked()))

    def _on_document_changed(self, row: int) -> None:
        item = self.documentList.item(row) if 0 <= row < len(self._diffs) else None
        if item is not None:
            self.diffView.setPlainText(self._diffs[item.text()])

    def force(self) -> bool:
        """Whether the save must go ahead despite validation errors (new ones ticked, or old ones)."""
        return self._needs_override and (not self._new or self.overrideCheck.isChecked())

    def documents(self) -> list[str]:
        return list(self._diffs)


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
