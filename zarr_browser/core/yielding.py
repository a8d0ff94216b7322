"""Letting a GUI thread run while a worker thread works: :func:`pause` in long loops.

CPython's GIL is unfair to a thread waiting for it when the thread holding it lets it go often
and only for a moment: a worker that reads or writes thousands of small files (or renders
thousands of documents, each asking the OS for a few random bytes) releases the GIL for each
system call and takes it back before the waiting GUI thread is even scheduled; and each release
wakes the waiting thread, which then waits a whole switch interval again, so it never asks for
the GIL to be handed over.  A window whose worker saved 10,000 documents so froze for 0.3-1.7 s
at a time, with the GUI thread using a tenth of its time (audit K; the same loop without system
calls freezes it 15 ms at most).  A short sleep now and then hands the GIL over for certain.

Only threads inside :func:`yielding` pause (a GUI's runner runs its work so); elsewhere
:func:`pause` returns at once (the command line has no GUI to wait for).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

__all__ = ["NAP", "NAP_EVERY", "pause", "yielding"]

NAP_EVERY = 0.005
"""A pausing thread sleeps after working this long (s) since its last sleep..."""
NAP = 0.0005
"""...this long (s): long enough for a waiting thread to be scheduled and take the GIL (at most
a tenth of the worker's time)."""

_local = threading.local()


@contextlib.contextmanager
def yielding() -> Iterator[None]:
    """In this block, :func:`pause` on this thread sleeps now and then (a worker of a GUI)."""
    previous = getattr(_local, "due", None)
    _local.due = time.perf_counter() + NAP_EVERY
    try:
        yield
    finally:
        _local.due = previous


def pause() -> None:
    """Inside :func:`yielding`: sleep :data:`NAP` once :data:`NAP_EVERY` has passed since the last
    sleep; call it once per item of a loop that makes system calls or waits for other threads."""
    due = getattr(_local, "due", None)
    if due is not None and time.perf_counter() >= due:
        time.sleep(NAP)
        _local.due = time.perf_counter() + NAP_EVERY
