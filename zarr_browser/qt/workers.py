"""Running store I/O off the GUI thread.

Widgets never call the core directly; they hand a callable to a :class:`Runner`, which runs it
in a worker thread and delivers the result (or the exception) on the GUI thread.  The runner
is injected, so tests can use :class:`ImmediateRunner` to run work synchronously and
deterministically.

Each submission returns a :class:`Task`; ``task.cancel()`` sets ``task.cancel_event`` (passed
to cancellable work such as diagnostics) and guarantees that no callback fires afterwards.  The
store requests a cancelled task is waiting for are abandoned at once (see
:func:`zarr_browser.core.store.cancellable`), so its worker thread is free again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from qtpy.QtCore import QObject, Signal

__all__ = ["ImmediateRunner", "Runner", "Task", "ThreadRunner", "log_failure"]

logger = logging.getLogger(__name__)

Callback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class Task:
    """A handle on submitted work: cancel it, or ask whether it finished."""

    def __init__(self) -> None:
        self.cancel_event = threading.Event()
        self.done = False

    def cancel(self) -> None:
        """Ask the work to stop (if it watches ``cancel_event``) and drop its callbacks."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()


class Runner(Protocol):
    """Runs ``fn(*args)`` off the GUI thread; calls back on the GUI thread."""

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> Task: ...

    def pending(self) -> int:
        """Number of submissions whose callbacks have not run yet (for tests)."""
        ...


def _cancellable(event: threading.Event, fn: Callable[..., Any], *args: Any) -> Any:
    from zarr_browser.core.store import cancellable
    from zarr_browser.core.yielding import yielding

    # a cancelled task stops waiting for the store: its thread is free again; its long loops
    # hand the GIL to the GUI thread now and then (see zarr_browser.core.yielding)
    with cancellable(event), yielding():
        return fn(*args)


class _Relay(QObject):
    """Carries results from worker threads to the GUI thread (queued signal delivery)."""

    finished = Signal(object, object, object)  # (task, callback, value)


class ThreadRunner(QObject):
    """Runs work in a thread pool; callbacks are delivered on the thread owning the runner.

    Parameters
    ----------
    max_workers
        Worker threads.  Store reads are I/O-bound and async inside, so a few suffice.
    """

    def __init__(self, max_workers: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="zarr-browser")
        self._relay = _Relay()
        self._relay.finished.connect(self._deliver)
        self._pending = 0
        self._running: set[Task] = set()  # submitted, not delivered yet
        self._lock = threading.Lock()

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> Task:
        task = Task()
        with self._lock:
            self._pending += 1
            self._running.add(task)
        future: Future[Any] = self._pool.submit(_cancellable, task.cancel_event, fn, *args)

        def finished(fut: Future[Any]) -> None:
            if fut.cancelled():  # by shutdown, before it started: no callback, only the count
                task.cancel()
                self._relay.finished.emit(task, None, None)
                return
            err = fut.exception()
            if err is not None:
                self._relay.finished.emit(task, on_error, err)
            else:
                self._relay.finished.emit(task, on_done, fut.result())

        future.add_done_callback(finished)
        return task

    def _deliver(self, task: Task, callback: Callable[[Any], None] | None, value: Any) -> None:
        with self._lock:
            self._pending -= 1
            self._running.discard(task)
        task.done = True
        if task.cancelled or callback is None:
            if isinstance(value, BaseException) and callback is None:
                logger.error("background task failed", exc_info=value)
            return
        callback(value)

    def pending(self) -> int:
        with self._lock:
            return self._pending

    def shutdown(self, *, cancel: bool = False) -> None:
        """Stop accepting work; running work finishes in the background.

        With *cancel*, the work running is cancelled too: the store requests it waits for are
        abandoned at once, so that the interpreter, which joins the pool's threads at exit, is
        not kept alive by a hanging server until the request deadline.  Not for work that must
        finish, such as a save.
        """
        if cancel:
            with self._lock:
                running = list(self._running)
            for task in running:
                task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)


class ImmediateRunner:
    """Runs work synchronously in the caller's thread (deterministic tests)."""

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> Task:
        task = Task()
        try:
            value = fn(*args)
        except Exception as err:  # delivered to the error callback, as ThreadRunner does
            task.done = True
            if on_error is not None:
                on_error(err)
            else:
                logger.error("task failed", exc_info=err)
            return task
        task.done = True
        if on_done is not None:
            on_done(value)
        return task

    def pending(self) -> int:
        return 0


def log_failure(log: logging.Logger, message: str, *args: object, err: BaseException) -> None:
    """Log a failed task: what stores and networks do (a timeout, a refused or broken read) in
    one line with its reason; anything else - a bug - with its traceback."""
    from zarr_browser.errors import ZarrBrowserError

    if isinstance(err, ZarrBrowserError | OSError | TimeoutError):
        log.warning(message + ": %s", *args, err)
    else:
        log.warning(message, *args, exc_info=err)
