"""The thread runner: work off the GUI thread, callbacks on it, cancellation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest


@pytest.mark.parametrize("cancel", [False, True])
def test_shutting_down_with_cancel_abandons_a_store_read_at_once(qtbot: Any, cancel: bool) -> None:
    """A read a hanging server never answers kept the pool's thread, which the interpreter
    joins at exit, for the request deadline; cancelled, the read is abandoned and no callback runs."""
    from zarr_browser.core.store import run_sync
    from zarr_browser.errors import OperationCancelledError
    from zarr_browser.qt.workers import ThreadRunner

    started, ended = threading.Event(), threading.Event()
    outcome: list[str] = []

    def hanging_read() -> None:
        started.set()
        try:
            run_sync(asyncio.sleep(3), timeout=30)
            outcome.append("answered")
        except OperationCancelledError:
            outcome.append("cancelled")
        finally:
            ended.set()

    runner = ThreadRunner()
    called: list[Any] = []
    task = runner.submit(hanging_read, on_done=called.append, on_error=called.append)
    assert started.wait(5)
    runner.shutdown(cancel=cancel)
    assert ended.wait(1.0) is cancel
    if cancel:
        assert outcome == ["cancelled"] and task.cancelled
        qtbot.waitUntil(lambda: runner.pending() == 0, timeout=2_000)
        assert called == []
    else:  # the default lets the work finish (a save must)
        assert ended.wait(5) and outcome == ["answered"]


def test_work_in_the_thread_runner_hands_the_gil_over_now_and_then(qtbot: Any, thread_runner: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's loops pause (zarr_browser.core.yielding) so that the GUI thread gets the GIL; on
    the GUI thread itself, and in the command line, pause() does nothing."""
    import time

    from zarr_browser.core import yielding

    monkeypatch.setattr(yielding, "NAP_EVERY", 0.0)
    monkeypatch.setattr(yielding, "NAP", 0.05)

    def paused() -> float:
        start = time.perf_counter()
        yielding.pause()
        return time.perf_counter() - start

    assert paused() < 0.05
    results: list[float] = []
    thread_runner.submit(paused, on_done=results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert results[0] >= 0.05
