"""What the window screenshot scripts share: the demo in a temporary directory, a
:class:`BrowserWindow` on it, waiting until nothing loads, and saving the window.

A script builds a :class:`WindowShot`, then calls :meth:`WindowShot.run` with what to do once
the demo is open; that code ends by calling :meth:`WindowShot.grab` (through :meth:`wait_then`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import QSettings, QTimer
from qtpy.QtWidgets import QApplication

from zarr_browser.core.conventions import default_registry
from zarr_browser.demo import write_demo
from zarr_browser.qt.window import BrowserWindow
from zarr_browser.qt.workers import ThreadRunner

ROOT = Path(__file__).resolve().parent.parent


class WindowShot:
    """The command line (``--output``, ``--timeout``) and the window of one screenshot script."""

    def __init__(self, description: str, output: str, *, size: tuple[int, int], timeout: float,
                 demo_size: int | None = None) -> None:
        parser = argparse.ArgumentParser(description=description.splitlines()[0])
        parser.add_argument("--output", type=Path, default=ROOT / "resources" / output)
        parser.add_argument("--timeout", type=float, default=timeout, help="give up after this many seconds")
        self.args = parser.parse_args()
        self.size = size
        self.demo_size = demo_size
        self.code = 1
        self.app = QApplication(sys.argv[:1])
        self.app.setApplicationName("zarr-browser")
        self.ready: list[Callable[[], bool]] = []  # extra conditions of idle()
        self.window: BrowserWindow
        self.runner: ThreadRunner

    def run(self, opened: Callable[[], None]) -> int:
        """Open the demo, call *opened* once it is open, run until :meth:`grab` or the timeout."""
        with tempfile.TemporaryDirectory() as tmp:
            kwargs = {} if self.demo_size is None else {"size": self.demo_size}
            demo = write_demo(Path(tmp) / "demo", **kwargs)
            settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
            self.runner = ThreadRunner()
            self.window = BrowserWindow(runner=self.runner, registry=default_registry(), settings=settings)
            self.window.resize(*self.size)
            self.window.show()

            def on_opened(_url: str) -> None:
                self.window.storeOpened.disconnect(on_opened)
                opened()

            self.window.storeOpened.connect(on_opened)
            self.window.openFailed.connect(lambda url, reason: (print(f"cannot open {url}: {reason}"), self.app.quit()))
            QTimer.singleShot(int(self.args.timeout * 1000), self.app.quit)
            self.window.openStore(str(demo.root))
            self.app.exec()
            self.runner.shutdown()
        return self.code

    def idle(self) -> bool:
        """Whether nothing loads: the store is open, the tree and the workers are quiet."""
        window = self.window
        return (window.hierarchy() is not None and not window.model.hasPendingOperations()
                and self.runner.pending() == 0 and all(ready() for ready in self.ready))

    def wait_then(self, action: Callable[[], None], ready: Callable[[], bool] | None = None) -> None:
        """Run *action* once *ready* (default: :meth:`idle`) holds, checking every 50 ms."""
        if (ready or self.idle)():
            action()
        else:
            QTimer.singleShot(50, lambda: self.wait_then(action, ready))

    def grab(self) -> None:
        """Save the window to ``--output`` and quit."""
        output = self.args.output
        output.parent.mkdir(parents=True, exist_ok=True)
        self.window.grab().save(str(output))
        print(f"wrote {output}")
        self.code = 0
        self.app.quit()
