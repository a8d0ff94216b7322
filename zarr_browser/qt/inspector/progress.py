"""Carrying progress reports from worker threads to the GUI thread."""

from __future__ import annotations

from collections.abc import Callable

from qtpy.QtCore import QObject, Signal

__all__ = ["ProgressRelay"]


class ProgressRelay(QObject):
    """Emit :attr:`progressed` from any thread; slots run on the thread that owns the relay.

    Each run gets an id (:meth:`next_run`) so that reports of a run that was replaced or
    cancelled can be recognised and dropped by the receiver.
    """

    progressed = Signal(int, object, object)  # (run id, done, total or detail)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._run = 0

    def next_run(self) -> int:
        self._run += 1
        return self._run

    @property
    def current(self) -> int:
        return self._run

    def reporter(self, run: int) -> Callable[[object, object], None]:
        """A callback for the worker: ``reporter(done, total)`` emits for *run*."""

        def report(done: object, total: object) -> None:
            self.progressed.emit(run, done, total)

        return report
