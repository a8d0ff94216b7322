"""Editing in the browser window: the toggle, the Edit menu, the editor dock, saving and prompts.

:class:`WindowEditing` attaches to a :class:`~zarr_browser.qt.window.BrowserWindow`.  Editing is
off until asked for: *Enable editing* reopens the store for writing (remote stores only after
an explicit confirmation) and starts an edit session; the editor dock follows the current node.
Undo (Ctrl+Z) and redo (Ctrl+Shift+Z) work across saves; the window title gets a ``*`` and the
status bar says how many edits are unsaved.  *Save* (Ctrl+S) validates in a worker, shows the
per-document diff with the validation verdict (new errors need an explicit override), then saves
in a worker; a document changed in the store since it was read offers a reload.  Closing the
window, opening another store or turning editing off with unsaved edits asks Save / Discard /
Cancel; leaving a node (or any of those) while a form holds typing not applied asks Discard / Cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from qtpy.QtCore import QObject, Qt, QTimer
from qtpy.QtGui import QAction, QKeySequence
from qtpy.QtWidgets import QDockWidget, QLabel, QMessageBox, QStatusBar, QToolBar

from zarr_browser.core.editing import ConflictError, ValidationRefusedError
from zarr_browser.core.editing.session import node_paths
from zarr_browser.qt._typed import connect_slot, nonnull
from zarr_browser.qt.editor.controller import EditController
from zarr_browser.qt.editor.dialogs import SaveDialog, SaveProgressDialog
from zarr_browser.qt.editor.panel import EditorPanel
from zarr_browser.qt.recent import is_remote_url
from zarr_browser.qt.shortcuts import set_tip

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.editing import SaveResult
    from zarr_browser.core.editing.review import Review
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.qt.editor.controller import ValidationState
    from zarr_browser.qt.window import BrowserWindow
    from zarr_browser.qt.workers import Runner

__all__ = ["WindowEditing"]

logger = logging.getLogger(__name__)


#: the editor dock's first width: this share of the window, within these bounds (px)
DOCK_SHARE, DOCK_MIN_WIDTH, DOCK_MAX_WIDTH = 0.34, 400, 600
#: the tree's width next to the inspector once the dock is open (its Name, Kind and Shape columns)
TREE_WIDTH = 450
#: a save still under way this long (ms) after Save shows its progress, with *Stop saving*
PROGRESS_AFTER_MS = 400




def _steps_text(n: int) -> str:
    """`` (2 steps)``; nothing for 0 (documents changed with no step since the save: a partial save)."""
    return f" ({n} step{'s' if n != 1 else ''})" if n else ""


def _ancestors(path: str) -> list[str]:
    """``/a/b`` -> ``["/", "/a", "/a/b"]``."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


class WindowEditing(QObject):
    """The editing features of a browser window (built by the window; see the module docs)."""

    def __init__(self, window: BrowserWindow, *, runner: Runner, registry: ConventionRegistry) -> None:
        super().__init__(window)
        self._window = window
        self._runner = runner
        self._start_on_open = False
        self._after_save: Callable[[], object] | None = None
        self._dock_fitted = False
        self.saveDialog: SaveDialog | None = None
        self.progressDialog: SaveProgressDialog | None = None
        self.controller = EditController(runner=runner, registry=registry, parent=self)
        self.editor = EditorPanel(self.controller, runner=runner, registry=registry)
        self.dock = QDockWidget("Editor", window)
        self.dock.setObjectName("editorDock")
        self.dock.setWidget(self.editor)
        self.dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                              | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.dirtyLabel = QLabel()
        self.dirtyLabel.setObjectName("dirtyLabel")
        self._status_bar().addPermanentWidget(self.dirtyLabel)
        self._build_actions()
        self._connect()
        self._update()

    def _build_actions(self) -> None:
        window = self._window
        self.enableAction = QAction("&Enable editing", window)
        self.enableAction.setCheckable(True)
        self.enableAction.setShortcut(QKeySequence("Ctrl+E"))
        set_tip(self.enableAction, "Reopen the store for writing and edit its metadata (again: stop editing)")
        self.undoAction = QAction("&Undo", window)
        self.undoAction.setShortcut(QKeySequence.StandardKey.Undo)
        self.redoAction = QAction("&Redo", window)
        self.redoAction.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])  # (Ctrl+Y: as on Windows)
        set_tip(self.redoAction, "Redo the last undone edit")
        self.saveAction = QAction("&Save…", window)
        self.saveAction.setShortcut(QKeySequence.StandardKey.Save)
        set_tip(self.saveAction, "Validate, preview the diff and save every changed document")
        self.previewAction = QAction("Pre&view changes…", window)
        self.previewAction.setShortcut(QKeySequence("Ctrl+D"))
        set_tip(self.previewAction, "The diff a save would write, per document, grouped by change")
        for action in (self.enableAction, self.undoAction, self.redoAction, self.saveAction, self.previewAction):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            window.addAction(action)
        menu = nonnull(nonnull(window.menuBar()).addMenu("&Edit"))
        menu.addAction(self.enableAction)
        menu.addSeparator()
        for action in (self.undoAction, self.redoAction):
            menu.addAction(action)
        menu.addSection("Attributes")  # the attribute tree's own actions: its shortcuts work there
        for action in self.editor.attributes.editActions:
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.previewAction)
        menu.addAction(self.saveAction)
        menu.setToolTipsVisible(True)
        self.menu = menu
        toolbar = window.findChild(QToolBar, "mainToolbar")
        if toolbar is not None:
            toolbar.addSeparator()
            for action in (self.enableAction, self.undoAction, self.redoAction, self.saveAction):
                toolbar.addAction(action)

    def _connect(self) -> None:
        self.enableAction.toggled.connect(self._on_enable_toggled)
        self.undoAction.triggered.connect(self.undo)
        self.redoAction.triggered.connect(self.redo)
        self.saveAction.triggered.connect(lambda: self.save())
        connect_slot(self.previewAction.triggered, self.preview)
        self.controller.stateChanged.connect(self._update)
        self.controller.activeChanged.connect(self._on_active_changed)
        self.controller.busyChanged.connect(self._update)
        self.controller.editFailed.connect(self._on_edit_failed)
        self.controller.saved.connect(self._on_saved)
        self.controller.saveFailed.connect(self._on_save_failed)
        self.controller.saveProgress.connect(self._on_save_progress)
        self.controller.reloaded.connect(self._on_reloaded)
        self._window.storeOpened.connect(self._on_store_opened)
        self._window.panel.currentPathChanged.connect(self._update_unsaved_note)
        self._window.openFailed.connect(self._on_open_failed)
        self._window.panel.currentPathChanged.connect(self._on_current_path_changed)
        self.editor.nodeRequested.connect(self._window.revealPath)

    # -- turning editing on and off ----------------------------------------------------------------
    def isEnabled(self) -> bool:
        return self.controller.isActive()

    def openWritable(self, url: str, storage_options: dict[str, Any] | None = None, *,
                     select: str | None = None, expand: Iterable[str] = ()) -> bool:
        """Open *url* for writing and start editing (remote stores after a confirmation; a web
        server is never written, so an http(s) URL opens for previewing edits without asking).

        *select* and *expand* are the node to go to and the groups to expand once it is open."""
        web = urlsplit(url.strip()).scheme.lower() in ("http", "https")
        if is_remote_url(url) and not web and not self._confirm_remote(url):
            return False
        self._start_on_open = True
        self._window.panel.openStore(url, storage_options, writable=True, select=select, expand=expand)
        return True

    def setEnabled(self, enabled: bool) -> None:
        """Turn editing on (reopening the store for writing) or off (asking about unsaved edits)."""
        self.enableAction.setChecked(enabled)

    def _on_enable_toggled(self, checked: bool) -> None:
        if checked:
            if self.isEnabled() or self._start_on_open:
                return
            hierarchy = self._window.hierarchy()
            if hierarchy is None:
                self._set_checked(False)
                self._status_bar().showMessage("Open a store first", 5000)
                return
            if not hierarchy.access.read_only:
                self.controller.start(hierarchy)
                return
            panel = self._window.panel  # the same tree, at the same node, with the same groups open
            if not self.openWritable(panel.storeUrl(), panel.storageOptions(), select=panel.currentPath(),
                                     expand=panel.expandedPaths()):
                self._set_checked(False)
            return
        if not self.isEnabled() and not self._start_on_open:
            return
        if not self.confirmUnsaved(lambda: self._set_checked(False)):
            self._set_checked(True)
            return
        self._disable()

    def stopEditing(self) -> None:
        """Stop editing without reopening the store (it is being closed); unsaved edits are the
        caller's to ask about."""
        self._start_on_open = False
        self.controller.stop()
        self._set_checked(False)

    def _disable(self) -> None:
        self._start_on_open = False
        self.controller.stop()
        self._set_checked(False)
        hierarchy = self._window.hierarchy()
        panel = self._window.panel
        if hierarchy is not None and not hierarchy.access.read_only:
            panel.openStore(panel.storeUrl(), panel.storageOptions(), select=panel.currentPath(),
                            expand=panel.expandedPaths())

    def _set_checked(self, checked: bool) -> None:
        blocked = self.enableAction.blockSignals(True)
        self.enableAction.setChecked(checked)
        self.enableAction.blockSignals(blocked)
        self._update()

    def _confirm_remote(self, url: str) -> bool:
        answer = QMessageBox.warning(
            self._window, "Write to a remote store?",
            f"{url} is a remote store. Editing saves metadata documents there (conditional writes: a "
            "document changed by someone else since it was read is not overwritten; on a server that "
            "ignores the conditions, found before the first save, each document is compared just before "
            "it is written, which leaves a moment for a race).\n\n"
            "Open it for writing?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _on_store_opened(self, _url: str) -> None:
        hierarchy = self._window.hierarchy()
        if self._start_on_open and hierarchy is not None:  # a backend that cannot write (a zip): preview only
            self._start_on_open = False
            self.controller.start(hierarchy)
            return
        if self.controller.isActive() and (hierarchy is None or hierarchy is not self._session_hierarchy()):
            self.controller.stop()
            self._set_checked(False)

    def _on_open_failed(self, _url: str, _reason: str) -> None:
        if self._start_on_open:
            self._start_on_open = False
            self._set_checked(self.controller.isActive())

    def _session_hierarchy(self) -> Hierarchy | None:
        session = self.controller.session()
        return session.hierarchy if session is not None else None

    def _on_active_changed(self, active: bool) -> None:
        self._set_checked(active)
        self.dock.setVisible(active)
        if active and not self._dock_fitted:
            self._dock_fitted = True  # once: later the user's own sizes stay
            self._fit_dock()
        if active:
            self.editor.setPath(self._window.currentPath() or "/")
            session = self.controller.session()
            if session is not None and not session.writable:
                self._status_bar().showMessage(
                    f"This store cannot be written ({self._read_only_reason()}): edits can be previewed, not saved",
                    10000)
            else:
                self._status_bar().showMessage("Editing enabled: every change can be undone until you "
                                               "close the store", 8000)
        self._update()

    def _on_current_path_changed(self, path: str) -> None:
        if not (self.controller.isActive() and path):
            return
        previous = self.editor.path()
        if previous and path != previous and not self.confirmUnapplied():
            self._window.selectPath(previous)  # back to the typing (the editor still shows it)
            return
        self.editor.setPath(path)

    def _fit_dock(self) -> None:
        """Give the dock a width its forms fit in, and the tree its main columns; the inspector gets the rest."""
        window = self._window
        width = window.width()
        dock = max(DOCK_MIN_WIDTH, min(DOCK_MAX_WIDTH, round(width * DOCK_SHARE)))
        window.resizeDocks([self.dock], [dock], Qt.Orientation.Horizontal)
        central = max(width - dock, 0)
        tree = min(TREE_WIDTH, round(central * 0.47))
        window.splitter.setSizes([tree, max(central - tree, 0)])

    def confirmUnapplied(self) -> bool:
        """Ask Discard / Cancel when a form holds typing not applied yet (nothing is lost
        silently).  True: go ahead (nothing typed, or discarded); False: stay."""
        forms = self.editor.unapplied()
        if not forms:
            return True
        named = ", ".join(f"“{name}”" for name in forms)
        answer = QMessageBox.question(
            self._window, "Changes not applied",
            f"You changed fields in {named} of {self.editor.path()} without applying them. "
            "Discard these changes, or cancel to go back and apply them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Discard:
            return False
        self.editor.discardUnapplied()
        return True

    # -- undo / redo -------------------------------------------------------------------------------
    def undo(self) -> None:
        if self.controller.undo() and not self.controller.isApplying():  # (else the busy label says it)
            self._status_bar().showMessage("Undone", 3000)

    def redo(self) -> None:
        if self.controller.redo() and not self.controller.isApplying():
            self._status_bar().showMessage("Redone", 3000)

    # -- unsaved edits -----------------------------------------------------------------------------
    def confirmUnsaved(self, then: Callable[[], object] | None = None) -> bool:
        """Ask Save / Discard / Cancel when there are unsaved edits.

        True: go ahead now (no edits, or discarded).  False: do not (cancelled, or saving first:
        *then* runs once the save succeeded).
        """
        if not self.confirmUnapplied():
            return False
        if not self.controller.isDirty():
            return True
        answer = QMessageBox.question(
            self._window, "Unsaved edits",
            f"The store has unsaved metadata edits{_steps_text(self.controller.unsavedSteps())}. "
            "Save them before closing it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Discard:
            self.controller.stop()
            return True
        if answer == QMessageBox.StandardButton.Save:
            self.save(then=then)
        return False

    # -- saving ------------------------------------------------------------------------------------
    def preview(self) -> None:
        """Show the per-document diff of the edits (nothing is written), once a worker made it."""
        if not self.controller.isActive():
            return
        self._status_bar().showMessage("Comparing the edited documents…", 0)

        def show(review: Review) -> None:
            self._status_bar().clearMessage()
            dialog = SaveDialog(review, None, save=False, parent=self._window)
            self.saveDialog = dialog
            dialog.open()

        self.controller.reviewLater(show)

    def save(self, then: Callable[[], object] | None = None) -> None:
        """Validate (worker), show the diff and the verdict, then save (worker) when accepted."""
        if not self.controller.isActive() or not self.controller.isDirty():
            self._status_bar().showMessage("Nothing to save", 4000)
            return
        if self.controller.isBusy():
            return
        self._status_bar().showMessage("Validating the edits…", 0)
        self.controller.validateNow(lambda state: self.controller.reviewLater(
            lambda review: self._show_save_dialog(state, review, then)))

    def _read_only_reason(self) -> str:
        """Why the session's store cannot be written ("a zip file; …", "served over HTTP…"), for messages."""
        session = self.controller.session()
        return str(getattr(session.backend, "reason", "") or "read-only") if session is not None else "read-only"

    def _show_save_dialog(self, state: ValidationState, review: Review, then: Callable[[], object] | None) -> None:
        self._status_bar().clearMessage()
        dialog = SaveDialog(review, state, writable=self.controller.isWritable(),
                            reason=self._read_only_reason(), parent=self._window)
        self.saveDialog = dialog
        dialog.accepted.connect(lambda: self._save_now(dialog.force(), then))
        dialog.open()

    def _save_now(self, force: bool, then: Callable[[], object] | None) -> None:
        self._after_save = then
        self._status_bar().showMessage("Saving…", 0)
        progress = SaveProgressDialog(self.stopSaving, parent=self._window)
        self.progressDialog = progress
        self.controller.save(force=force)
        if self.controller.isSaving():
            # shown once the save takes a moment (a save of a few documents does not flash it)
            QTimer.singleShot(PROGRESS_AFTER_MS, lambda: progress.open() if self.progressDialog is progress else None)

    def stopSaving(self) -> None:
        """Stop the save under way before its next document (the progress dialog's *Stop saving*)."""
        if self.controller.stopSaving():
            self._status_bar().showMessage("Stopping the save after the document being written…", 0)

    def _on_save_progress(self, phase: str, done: int, total: int) -> None:
        if self.progressDialog is not None:
            self.progressDialog.setProgress(phase, done, total)

    def _end_progress(self) -> None:
        progress, self.progressDialog = self.progressDialog, None
        if progress is not None:
            progress.finish()
            progress.deleteLater()

    def _on_saved(self, result: SaveResult) -> None:
        self._end_progress()
        n = len(result.written)
        # (10,000 names ran over the status bar's writable label: the first few and the count)
        shown = ", ".join(result.written[:4]) + (f", … ({n:,} in all)" if n > 4 else "")
        self._refresh_views(node_paths(result.written))
        if result.cancelled:  # stopped by the user: the rest stays unsaved, and what was to follow waits
            self._after_save = None
            left = len(result.remaining)
            what = f"{n:,} document{'s' if n != 1 else ''} written ({shown})" if n else "nothing was written"
            # (short: a long message ran over the status bar's permanent labels)
            self._status_bar().showMessage(f"Save stopped: {n:,} written, {left:,} not written", 10000)
            self._window.errorBar.showNotice(  # (stopped as asked: not an error)
                f"Save stopped: {what}; {left:,} document{'s' if left != 1 else ''} not written "
                f"({', '.join(result.remaining[:3])}{', …' if left > 3 else ''}) stay unsaved edits. "
                + ("Each document written is whole, and the consolidated copy says what the documents say. "
                   if n else "") + "Save again (Ctrl+S) to write the rest.")
            return
        self._status_bar().showMessage(f"Saved {n:,} document{'s' if n != 1 else ''}: {shown or 'no change'}", 8000)
        then, self._after_save = self._after_save, None
        if then is not None:
            then()

    def _on_save_failed(self, err: BaseException) -> None:
        self._end_progress()
        self._after_save = None
        self._status_bar().clearMessage()
        if isinstance(err, ConflictError):
            self._on_conflict(err)
        elif isinstance(err, ValidationRefusedError):
            self._window.errorBar.showError(f"Not saved: {err}; fix them, or tick Save anyway in the save dialog")
        else:
            self._window.errorBar.showError(f"Could not save: {err}")
        if isinstance(err, ConflictError) and err.written:
            self._refresh_views(node_paths(err.written))

    def _on_conflict(self, err: ConflictError) -> None:
        button = QMessageBox.StandardButton
        saved = ", ".join(err.written)
        if err.deleted:  # no re-apply: it would write the edits into a node that is gone
            what = f"{', '.join(err.deleted)} was deleted from the store since it was read (by another program)"
            title, detail = "Deleted since read", "nothing was written"
            choices = "Reload the store and discard your edits (Discard), or keep editing (Cancel)?"
            buttons, default = button.Discard | button.Cancel, button.Cancel
        else:
            what = f"{', '.join(err.keys)} changed in the store since it was read"
            title, detail = "Changed since read", "nothing of it was overwritten"
            choices = ("Reload the store and apply your edits again on top (Yes), reload and discard your edits "
                       "(Discard), or keep editing (Cancel)?")
            buttons, default = button.Yes | button.Discard | button.Cancel, button.Yes
        if saved:  # the save stopped half-way: what it wrote stays written, whatever the answer
            title = "Partly saved"
            detail += (f". {saved} had been saved before it stopped, and stays saved: discarding does not "
                       "undo it")
        head = "Partly saved" if saved else "Not saved"
        answer = QMessageBox.question(self._window, title, f"{head}: {what}; {detail}.\n\n{choices}", buttons,
                                      default)
        if answer == button.Yes:
            self.controller.reload(reapply=True)
        elif answer == button.Discard:
            self.controller.reload(reapply=False)
        else:
            self._window.errorBar.showError(f"{head}: {what}" + (f" ({saved} saved before)" if saved else ""))

    def _on_reloaded(self) -> None:
        self._status_bar().showMessage("Reloaded from the store", 5000)
        self._refresh_views([])

    def _refresh_views(self, paths: list[str]) -> None:
        """Show what is in the store now: re-read the rows of *paths* and of the current node.

        A save rewrites documents; it never adds or removes children, so the rows are read
        again in place (nothing collapses, the selection stays) and the inspector follows the
        current row (``HierarchyTreeModel.nodeUpdated``).  Without *paths* (a reload) every
        document may have changed: the current node and its ancestors are read again.
        """
        window = self._window
        if window.hierarchy() is None:
            return
        current = window.currentPath() or "/"
        wanted = list(paths) if paths else _ancestors(current)
        if current in wanted:
            wanted.remove(current)
        window.panel.model.rereadPath(current)  # first: the inspector shows it
        window.panel.model.rereadPaths(wanted)  # (10,000 arrays saved: in batches, a few rows a turn)

    def shutdown(self) -> None:
        """Drop late results (the window is closing); unsaved edits were asked about before."""
        self.editor.channelsForm.cancelHistograms()
        self.controller.stop()

    # -- indicator ---------------------------------------------------------------------------------
    def _on_edit_failed(self, message: str) -> None:
        self._status_bar().showMessage(f"Edit refused: {message}", 10000)
        self._window.errorBar.showError(f"Edit refused: {message}")

    def _update_unsaved_note(self, *_args: Any) -> None:
        # (the controller's copy: reading the session here compared 10,000 documents after a
        # large edit, on the GUI thread, and may race the worker saving)
        current = self._window.currentPath()
        changed = self.controller.changedPaths() if self.controller.isActive() and self.controller.isDirty() else ()
        self._window.inspector.setUnsaved(current is not None and current in changed)

    def _status_bar(self) -> QStatusBar:
        """The window's status bar (QMainWindow creates it on first use)."""
        return nonnull(self._window.statusBar())

    def _update(self, *_args: Any) -> None:
        controller = self.controller
        active = controller.isActive()
        dirty = controller.isDirty()
        busy = controller.isBusy()
        self.undoAction.setEnabled(active and controller.canUndo() and not busy)
        self.redoAction.setEnabled(active and controller.canRedo() and not busy)
        writable = controller.isWritable()
        self.saveAction.setEnabled(active and dirty and not busy)  # on a store that cannot be written it says why
        self.previewAction.setEnabled(active and dirty)
        history = controller.history()
        set_tip(self.undoAction, f"Undo {history[-1]}" if history and active else "Undo")
        window = self._window
        hierarchy = window.hierarchy()
        base = f"zarr-browser — {hierarchy.url}" if hierarchy is not None else "zarr-browser"
        window.setWindowTitle(base + (" *" if dirty else ""))
        if not active:
            self.dirtyLabel.setText("")
        elif busy:
            self.dirtyLabel.setText(controller.busyText().capitalize() + "…")
        elif dirty:
            self.dirtyLabel.setText(f"● unsaved edits{_steps_text(controller.unsavedSteps())}")
        else:
            self.dirtyLabel.setText("editing · all saved")
        self.dirtyLabel.setStyleSheet("color: #b45309; font-weight: bold;" if dirty else "color: #15803d;")
        self._update_unsaved_note()
        if hierarchy is not None:
            if active and not writable:
                window.modeLabel.setText("preview only")
            else:
                window.modeLabel.setText("writable" if not hierarchy.access.read_only else "read-only")
