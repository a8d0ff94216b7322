"""Waiting on store I/O inside napari's synchronous calls without freezing the window.

napari calls a reader synchronously on the GUI thread (``viewer.open``, File ▸ Open, drag and
drop) and needs the layers' shapes before it returns, so the reader must read metadata before
it can answer.  :func:`call_responsive` runs that work in a worker thread while the GUI thread
keeps handling events (paints, window moves, timers of layers already open) — what napari's own
progress bar does during ``viewer.open`` (it calls ``QApplication.processEvents``).  A store
that answers in seconds, or not at all until its timeout, no longer freezes the window.

Outside the GUI thread, or without a ``QApplication``, the work runs directly.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["call_responsive", "wait_responsive"]

T = TypeVar("T")

POLL = 0.004
"""Seconds between two looks at the worker (the events that came meanwhile are handled then)."""

EVENTS_MS = 20
"""At most this many milliseconds of event handling between two looks at the worker."""

QUIET = 0.02
"""Seconds waited before events are handled at all: a local store answers within them, and its
first frame is not delayed by a paint in between (a stall this short is not felt)."""

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _app() -> Any:
    """The running QApplication when called on its thread, else None (Qt is not imported for it)."""
    import sys

    if "qtpy" not in sys.modules and not any(name in sys.modules for name in ("PyQt5", "PyQt6", "PySide2", "PySide6")):
        return None
    try:
        from qtpy.QtCore import QThread
        from qtpy.QtWidgets import QApplication
    except Exception:  # boundary: no usable Qt binding means no event loop to keep alive
        return None
    app = QApplication.instance()
    if app is None or QThread.currentThread() is not app.thread():
        return None
    return app


def _process(app: Any) -> None:
    from qtpy.QtCore import QEventLoop

    app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, EVENTS_MS)


def call_responsive(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``; on the GUI thread it runs in a worker while events are handled.

    Exceptions of *fn* are raised here, as if it had been called directly.
    """
    app = _app()
    if app is None:
        return fn(*args, **kwargs)
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="zarr-browser-open")
        future = _pool.submit(fn, *args, **kwargs)
    done, _ = concurrent.futures.wait([future], timeout=QUIET)
    while not done:
        _process(app)
        done, _ = concurrent.futures.wait([future], timeout=POLL)
    return future.result()


def wait_responsive(ready: Callable[[], bool], timeout: float) -> bool:
    """Wait at most *timeout* seconds for *ready()* to be true; events are handled meanwhile on
    the GUI thread.  Whether it became true."""
    app = _app()
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if ready():
            return True
        now = time.monotonic()
        if now >= deadline:
            return False
        if app is not None and now - start >= QUIET:
            _process(app)
        time.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
