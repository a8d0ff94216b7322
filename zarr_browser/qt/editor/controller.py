"""The editor's controller: one :class:`~zarr_browser.core.editing.EditSession` driven from the GUI.

Everything that may touch the store — starting the session, loading a node's documents, building
a convention edit (which reads level arrays and sibling nodes), validating, saving, reloading —
runs in the injected runner, serialised by a lock so two workers never use the session at once.
Applying a small command, undo and redo of a small step only change documents already in memory:
they run on the GUI thread, so each is immediate and is one undo step.  They run inside
:meth:`EditSession.memory_only`, so the GUI thread never reads the store: an edit that needs a
node not loaded yet is refused before it changed anything, the node is loaded in a worker, and
the edit is applied then (edits waiting for a load keep their order).

A command over :data:`BIG_EDIT` documents or more (a dimension renamed in every array of a large
group), and the undo or redo of such a step, runs in a worker instead: applying it, checking
what it protects and telling what changed took 1-3 s for 10,000 documents, on the GUI thread
(audit K).  Meanwhile the controller is busy ("applying …"): edits asked for wait and are
applied after it, in order; undo, redo and save are refused.

The controller keeps what widgets ask often (dirty, can undo, can redo, history, changed nodes:
a :class:`~zarr_browser.core.editing.session.SessionState`).  Work done in a worker reads it
there, at its end; an edit on the GUI thread reads it after each change.  So a widget never
reads the session while a worker works on it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QObject, QTimer, Signal

from zarr_browser.core.editing import EditError, EditSession, NotLoadedError, SetValue
from zarr_browser.core.editing.commands import check_protected
from zarr_browser.core.editing.session import SessionState
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import quiet_collector
from zarr_browser.errors import ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.editing import Command, SaveResult
    from zarr_browser.core.editing.review import Review
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.qt.workers import Runner

__all__ = ["BIG_EDIT", "EditController", "ValidationState"]

logger = logging.getLogger(__name__)

VALIDATE_DELAY_MS = 250
"""Validation waits for a pause in editing this long (typing in a form is many edits)."""

BIG_EDIT = 200
"""Commands over this many documents or more, and their undo and redo, run in a worker (about
20-50 ms of work on the GUI thread at this size)."""

_PROBE = "\x00zarr-browser probe"
"""A value no attribute holds: :meth:`EditController.refusal` tries it in place of the one there."""


@dataclass(frozen=True, slots=True)
class ValidationState:
    """Issues of the edited nodes: errors the edits introduced, errors already there, everything."""

    new_errors: list[Issue] = field(default_factory=list)
    old_errors: list[Issue] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    new_warnings: list[Issue] = field(default_factory=list)

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity is not Severity.ERROR]


def _validate(session: EditSession, working: Callable[[], AbstractContextManager[object]]) -> ValidationState:
    with working():
        if not session.dirty:
            return ValidationState()
        issues = session.validate()
        new_issues, old_issues = session.new_issues(Severity.ERROR, Severity.WARNING)
    errors = Severity.ERROR
    return ValidationState([i for i in new_issues if i.severity is errors],
                           [i for i in old_issues if i.severity is errors], issues,
                           [i for i in new_issues if i.severity is Severity.WARNING])


Operation = Callable[[EditSession], object]
OnDone = Callable[[bool], None] | None


@dataclass(frozen=True, slots=True)
class _Waiting:
    """An edit waiting for a node to load, or for the edit applied in a worker before it."""

    operation: Operation
    on_done: OnDone
    in_worker: str = ""
    """Run in a worker (a large command): what the busy indicator says meanwhile."""


def _report(on_done: Callable[[bool], None] | None, ok: bool) -> bool:
    if on_done is not None:
        on_done(ok)
    return ok


class EditController(QObject):
    """Runs an edit session for the GUI: loads, edits, undo/redo, validation, save and reload.

    Parameters
    ----------
    runner
        Runs the session's store work off the GUI thread.
    registry
        Conventions used for validation.
    """

    #: a session started (True) or ended (False)
    activeChanged = Signal(bool)
    #: the working state changed (an edit, undo, redo, save or reload)
    stateChanged = Signal()
    #: live validation finished (a ValidationState)
    validated = Signal(object)
    #: an edit was refused, or store work failed: a message for the user
    editFailed = Signal(str)
    #: a save finished (its SaveResult)
    saved = Signal(object)
    #: a save was refused or failed (the exception: ConflictError, ValidationRefusedError, ...)
    saveFailed = Signal(object)
    #: how far a save is: (phase, done, total), see :data:`~zarr_browser.core.editing.session.SaveProgress`;
    #: emitted from the thread saving, once per document (received queued on the GUI thread)
    saveProgress = Signal(str, int, int)
    #: the session re-read the store (after a conflict)
    reloaded = Signal()
    #: work under way changed ("" when idle)
    busyChanged = Signal(str)

    def __init__(self, *, runner: Runner, registry: ConventionRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._session: EditSession | None = None
        self._lock = threading.Lock()
        self._busy = ""
        self._applying = False  # an edit, undo or redo runs in a worker: edits wait behind it
        self._state = SessionState()
        # where the last save left the undo stack (see unsavedSteps)
        self._saved_depth = 0
        self._fork: int | None = None
        self._generation = 0
        self._waiting: list[_Waiting] = []
        self._stop_saving: threading.Event | None = None  # set: the save under way stops before its next document
        self.validation = ValidationState()
        self._validate_timer = QTimer(self)
        self._validate_timer.setSingleShot(True)
        self._validate_timer.setInterval(VALIDATE_DELAY_MS)
        self._validate_timer.timeout.connect(self.validateNow)

    # -- the session ---------------------------------------------------------------------------
    def start(self, hierarchy: Hierarchy, on_ready: Callable[[], None] | None = None) -> None:
        """Start a session on *hierarchy* (read in a worker); :attr:`activeChanged` follows."""
        self.stop()
        generation = self._generation

        def ready(session: EditSession) -> None:
            if generation != self._generation:
                return
            self._session = session
            self._set_busy("")
            self._refresh_state()
            self.activeChanged.emit(True)
            if on_ready is not None:
                on_ready()

        self._set_busy("starting the edit session")
        self._runner.submit(self._locked, EditSession, hierarchy, self._registry,
                            on_done=ready, on_error=self._on_error)

    def stop(self) -> None:
        """End the session (edits not saved are dropped: ask the user first)."""
        self._generation += 1
        self._validate_timer.stop()
        self._waiting = []
        self._applying = False  # (an edit under way in a worker finishes: its result is dropped)
        self._stop_saving = None  # (a save under way finishes: its result is dropped)
        was_active = self._session is not None
        self._session = None
        self.validation = ValidationState()
        self._set_busy("")
        self._refresh_state()
        if was_active:
            self.activeChanged.emit(False)

    def session(self) -> EditSession | None:
        return self._session

    def isActive(self) -> bool:
        return self._session is not None

    def isWritable(self) -> bool:
        return self._session is not None and self._session.writable

    def isDirty(self) -> bool:
        return self._state.dirty

    def canUndo(self) -> bool:
        return self._state.can_undo

    def canRedo(self) -> bool:
        return self._state.can_redo

    def history(self) -> list[str]:
        """Labels of the undoable steps, oldest first (undo reaches across saves)."""
        return list(self._state.history)

    def changedPaths(self) -> frozenset[str]:
        """Node paths whose documents differ from what was read (as of the last change)."""
        return self._state.changed_paths

    def unsavedSteps(self) -> int:
        """How many undo steps separate the working documents from the last save (or the start).

        Like ``QUndoStack``'s clean index: undoing a saved step counts as one step too, and a new
        edit after undoing below the saved state counts the steps undone plus the new ones.
        """
        depth = len(self._state.history)
        if self._fork is None:
            return abs(depth - self._saved_depth)
        if depth <= self._fork:  # back on the saved branch
            return self._saved_depth - depth
        return (self._saved_depth - self._fork) + (depth - self._fork)

    def _mark_saved(self, depth: int) -> None:
        self._saved_depth, self._fork = depth, None

    def _mark_new_step(self, depth_before: int) -> None:
        """A new step was pushed at *depth_before*: the redo steps above it are gone."""
        if depth_before < self._saved_depth and (self._fork is None or depth_before < self._fork):
            self._fork = depth_before  # the saved state is no longer reachable by redo

    def busyText(self) -> str:
        return self._busy

    def isBusy(self) -> bool:
        return bool(self._busy)

    def isApplying(self) -> bool:
        """Whether an edit, undo or redo runs in a worker (edits asked for meanwhile wait)."""
        return self._applying

    # -- loading and editing -------------------------------------------------------------------
    def loadNode(self, path: str, callback: Callable[[], None]) -> None:
        """Make the documents of *path* available for editing, then call *callback* (GUI thread)."""
        session = self._session
        if session is None:
            return
        if session.is_loaded(path):
            callback()
            return
        generation = self._generation
        self._runner.submit(self._locked, session.load, path,
                            on_done=lambda _node: callback() if generation == self._generation else None,
                            on_error=self._on_error)

    def apply(self, command: Command, *, label: str = "", on_done: Callable[[bool], None] | None = None) -> bool:
        """Apply *command* as one undo step; see :meth:`edit` for the result and *on_done*.

        A command over :data:`BIG_EDIT` documents or more is applied in a worker: False then,
        and *on_done* once it was applied (or refused)."""
        operation: Operation = lambda session: session.apply(command, label=label)  # noqa: E731
        if len(command.document_keys()) < BIG_EDIT:
            return self.edit(operation, on_done=on_done)
        return self._enter(_Waiting(operation, on_done, f"applying {label or command.describe()}"))

    def edit(self, operation: Operation, *, on_done: OnDone = None) -> bool:
        """Run a session method such as ``lambda s: s.set(path, pointer, value)`` as one step.

        True when it was applied now.  False when it was refused (:attr:`editFailed` says why)
        or has to wait: a node it needs is loaded in a worker first, or a large edit is being
        applied in a worker; then it is applied.  *on_done* gets the final outcome either way.
        """
        return self._enter(_Waiting(operation, on_done))

    def _enter(self, edit: _Waiting) -> bool:
        session = self._session
        if session is None or (self._busy and not self._applying):
            self.editFailed.emit(f"Wait: {self._busy}" if self._busy else "Editing is off")
            return _report(edit.on_done, False)
        if self._waiting or self._applying:  # keep the order of edits: this one waits behind
            self._waiting.append(edit)
            return False
        return self._run(session, edit)

    def _run(self, session: EditSession, edit: _Waiting) -> bool:
        """Apply *edit* on the GUI thread without store I/O (a node not loaded is loaded first),
        or start it in a worker."""
        if edit.in_worker:
            self._run_in_worker(session, edit.operation, edit.in_worker, edit.on_done)
            return False
        depth_before = len(session.history())
        try:
            with session.memory_only():
                edit.operation(session)
        except NotLoadedError as missing:
            self._waiting.insert(0, edit)
            self._load_then_resume(session, missing.path)
            return False
        except EditError as err:
            self.editFailed.emit(str(err))
            return _report(edit.on_done, False)
        if len(session.history()) > depth_before:
            self._mark_new_step(depth_before)
        self._changed()
        return _report(edit.on_done, True)

    def _run_in_worker(self, session: EditSession, operation: Operation, busy: str, on_done: OnDone, *,
                       new_step: bool = True) -> None:
        """Run *operation* (an edit, an undo, a redo) in a worker, the controller busy meanwhile;
        the state is read there too.  Edits asked for meanwhile wait (:meth:`_resume` after)."""
        generation = self._generation
        depth_before = len(self._state.history)

        def work() -> SessionState:
            with self._working():  # (store I/O is allowed here: a node not loaded yet is read)
                operation(session)
                return session.state()

        def finish(state: SessionState | None, ok: bool) -> None:
            self._applying = False
            if state is not None:
                self._state = state
                if new_step and len(state.history) > depth_before:
                    self._mark_new_step(depth_before)
            self._set_busy("")
            if state is not None:
                self.stateChanged.emit()
                self.validateSoon()
            _report(on_done, ok)
            self._resume(session)

        def done(state: SessionState) -> None:
            if generation == self._generation:
                finish(state, True)

        def failed(err: BaseException) -> None:
            if generation != self._generation:
                return
            if isinstance(err, EditError):  # refused: nothing changed
                self.editFailed.emit(str(err))
            else:
                self._on_error(err)
            finish(None, False)

        self._applying = True
        self._set_busy(busy)
        self._runner.submit(work, on_done=done, on_error=failed)

    def _load_then_resume(self, session: EditSession, path: str) -> None:
        generation = self._generation

        def loaded(_node: object) -> None:
            if generation == self._generation:
                self._resume(session)

        def failed(err: BaseException) -> None:
            if generation != self._generation:
                return
            edit = self._waiting.pop(0)
            self._on_error(err)
            _report(edit.on_done, False)
            self._resume(session)

        self._runner.submit(self._locked, session.load, path, on_done=loaded, on_error=failed)

    def _resume(self, session: EditSession) -> None:
        while self._waiting and self._session is session and not self._applying:
            edit = self._waiting.pop(0)
            if self._busy:
                self.editFailed.emit(f"Wait: {self._busy}")
                _report(edit.on_done, False)
            elif not self._run(session, edit) and self._waiting and self._waiting[0] is edit:
                return  # loading another node for it

    def refusal(self, path: str, pointer: str) -> str | None:
        """Why the session refuses any change of *pointer* in the attributes of *path* (its own
        message: read-only metadata such as an OME-NGFF version), None when a change may go
        through or cannot be told without reading the store.  Nothing is changed."""
        session = self._session
        if session is None or self._busy or not session.is_loaded(path):
            return None
        try:
            with session.memory_only():
                key, where = session.locate(path, pointer)
                before = session.document(key)
                after = SetValue(where, _PROBE, key=key).apply_many({key: before})[key]
                check_protected(key, before, after)
        except NotLoadedError:  # the real edit loads it first, and says then
            return None
        except EditError as err:
            return str(err)
        return None

    def isWaiting(self) -> bool:
        """Whether edits wait for a node to be loaded, or for an edit applied in a worker."""
        return bool(self._waiting)

    def applyBuilt(self, builder: Callable[..., Command], *args: Any, on_done: Callable[[bool], None] | None = None,
                   **kwargs: Any) -> None:
        """Build a convention edit in a worker (``builder(session, *args)``), apply it on the GUI thread."""
        session = self._session
        if session is None:
            _report(on_done, False)
            return
        generation = self._generation

        def built(command: Command) -> None:
            if generation != self._generation:
                _report(on_done, False)
                return
            if command.leaves():
                self.apply(command, on_done=on_done)
            elif on_done is not None:
                on_done(True)

        def failed(err: BaseException) -> None:
            self._on_error(err)
            if on_done is not None:
                on_done(False)

        self._runner.submit(self._locked, lambda: builder(session, *args, **kwargs), on_done=built, on_error=failed)

    def compute(self, fn: Callable[[EditSession], Any], on_done: Callable[[Any], None],
                on_error: Callable[[BaseException], None] | None = None) -> None:
        """Run ``fn(session)`` in a worker (it may read the store; it must not edit) and hand its
        result to *on_done* on the GUI thread, its exception to *on_error*; neither is called
        when the session ended or changed meanwhile."""
        session = self._session
        if session is None:
            return
        generation = self._generation

        def done(value: Any) -> None:
            if generation == self._generation:
                on_done(value)

        def failed(err: BaseException) -> None:
            if generation != self._generation:
                return
            if on_error is not None:
                on_error(err)
            else:
                self._on_error(err)

        self._runner.submit(self._locked, fn, session, on_done=done, on_error=failed)

    def undo(self) -> bool:
        """Undo the last step: True when undone, or started in a worker (a large step)."""
        return self._step(redo=False)

    def redo(self) -> bool:
        """Redo the last undone step: True when redone, or started in a worker (a large step)."""
        return self._step(redo=True)

    def _step(self, *, redo: bool) -> bool:
        session = self._session
        if session is None or self._busy or self._waiting:
            return False
        if session.step_size(redo=redo) >= BIG_EDIT:
            history = self._state.history
            what = ("redoing" if redo else f"undoing {history[-1]}" if history else "undoing")
            self._run_in_worker(session, EditSession.redo if redo else EditSession.undo, what, None,
                                new_step=False)
            return True
        if not (session.redo() if redo else session.undo()):
            return False
        self._changed()
        return True

    def diff(self) -> dict[str, str]:
        """The per-document diff a save would write (documents are in memory: no I/O)."""
        return self._session.diff() if self._session is not None else {}

    def reviewLater(self, callback: Callable[[Review], None]) -> None:
        """What a save would write, per document and grouped by change (:meth:`EditSession.review`),
        made in a worker, then *callback* with it (not when the session ended meanwhile).

        No I/O, but rendering, comparing and grouping 10,000 documents takes seconds (a dimension
        renamed across a large group): on the GUI thread the window froze that long before the
        save dialog showed (audit K)."""
        session = self._session
        if session is None:
            return
        generation = self._generation

        def work() -> Review:
            with self._working():
                return session.review()

        def done(review: Review) -> None:
            if generation == self._generation:
                callback(review)

        self._runner.submit(work, on_done=done, on_error=self._on_error)

    # -- validation ----------------------------------------------------------------------------
    def validateSoon(self) -> None:
        """Validate after a pause in editing."""
        self._validate_timer.start()

    def validateNow(self, callback: Callable[[ValidationState], None] | None = None) -> None:
        """Validate the edited nodes in a worker; :attr:`validated` (and *callback*) follow."""
        self._validate_timer.stop()
        session = self._session
        if session is None:
            return
        generation = self._generation

        def done(state: ValidationState) -> None:
            if generation != self._generation:
                return
            self.validation = state
            self.validated.emit(state)
            if callback is not None:
                callback(state)

        self._runner.submit(_validate, session, self._working, on_done=done, on_error=self._on_error)

    # -- saving --------------------------------------------------------------------------------
    def save(self, *, force: bool = False) -> None:
        """Save in a worker; :attr:`saveProgress` as it goes, then :attr:`saved` (its result says
        when :meth:`stopSaving` stopped it part-way) or :attr:`saveFailed`."""
        session = self._session
        if session is None or self._busy:
            return
        generation = self._generation
        stop = self._stop_saving = threading.Event()
        after: list[SessionState] = []  # the state once saved (or not), read in the worker

        def progress(phase: str, done: int, total: int) -> None:  # (in the worker)
            self.saveProgress.emit(phase, done, total)

        def work() -> SaveResult:
            with self._working():
                try:
                    return session.save(force=force, progress=progress, stop=stop.is_set)
                finally:
                    after.append(session.state())

        def done(result: SaveResult) -> None:
            if generation != self._generation:
                return
            self._stop_saving = None
            self._refresh_state(after[0])
            if not result.cancelled:  # (stopped part-way: no undo depth matches the store)
                self._mark_saved(len(after[0].history))
            self._set_busy("")
            self._changed(after[0])
            self.saved.emit(result)

        def failed(err: BaseException) -> None:
            if generation != self._generation:
                return
            self._stop_saving = None
            self._refresh_state(after[0] if after else None)
            self._set_busy("")
            if not isinstance(err, ZarrBrowserError | OSError):
                logger.error("saving failed", exc_info=err)
            self.saveFailed.emit(err)

        self._set_busy("saving")
        self._runner.submit(work, on_done=done, on_error=failed)

    def stopSaving(self) -> bool:
        """Ask the save under way to stop before its next document (what it wrote stays written,
        the rest stays unsaved); False when no save is under way."""
        stop = self._stop_saving
        if stop is None:
            return False
        stop.set()
        return True

    def isSaving(self) -> bool:
        return self._stop_saving is not None

    def reload(self, *, reapply: bool) -> None:
        """Re-read every loaded document (keeping the edits when *reapply*) in a worker."""
        session = self._session
        if session is None:
            return
        generation = self._generation
        after: list[SessionState] = []  # the state once reloaded (or not), read in the worker

        def work() -> None:
            with self._working():
                try:
                    session.reload(reapply=reapply)
                finally:
                    after.append(session.state())

        def done(_result: object) -> None:
            if generation != self._generation:
                return
            self._refresh_state(after[0])
            self._set_busy("")
            self._mark_saved(0)  # the steps kept were applied again on top of the store's documents
            self._changed(after[0])
            self.reloaded.emit()

        def failed(err: BaseException) -> None:
            self._refresh_state(after[0] if after else None)
            self._set_busy("")
            self._mark_saved(0)  # the session was reset to the store's documents
            self._changed(after[0] if after else None)
            self._on_error(err)

        self._set_busy("reloading")
        self._runner.submit(work, on_done=done, on_error=failed)

    # -- internals -----------------------------------------------------------------------------
    def _locked(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._working():
            return fn(*args)

    @contextlib.contextmanager
    def _working(self) -> Iterator[None]:
        """Hold the session (in a worker), the cyclic collector quiet meanwhile: building and
        comparing 10,000 documents made up to 30 full collections of 100-250 ms each, which
        hold the GIL and so froze the window (:func:`~zarr_browser.core.jsonio.quiet_collector`:
        what is made is old, or frozen in a window that keeps its heap frozen, on the way out)."""
        with self._lock, quiet_collector():
            yield

    def _changed(self, state: SessionState | None = None) -> None:
        self._refresh_state(state)
        self.stateChanged.emit()
        self.validateSoon()

    def _refresh_state(self, state: SessionState | None = None) -> None:
        """Keep *state* (read in a worker), or read the session's (on the GUI thread: only when
        no worker works on it)."""
        session = self._session
        if session is None:
            self._state = SessionState()
            self._mark_saved(0)
            return
        self._state = session.state() if state is None else state

    def _set_busy(self, text: str) -> None:
        if text != self._busy:
            self._busy = text
            self.busyChanged.emit(text)

    def _on_error(self, err: BaseException) -> None:
        if not isinstance(err, ZarrBrowserError | OSError | ValueError):
            logger.error("edit session work failed", exc_info=err)
        if self._busy == "starting the edit session":
            self._set_busy("")
        self.editFailed.emit(str(err) or type(err).__name__)
