"""Measuring how long the Qt event loop stalls (for GUI tests and benchmarks)."""

from __future__ import annotations

import time


class StallMeter:
    """The longest gap between ticks of a 10 ms timer: how long the Qt event loop stalled."""

    def __init__(self) -> None:
        from qtpy.QtCore import Qt, QTimer

        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def stop(self) -> float:
        """Stop measuring; the longest stall in seconds."""
        self.timer.stop()
        self._tick()
        return self.worst
