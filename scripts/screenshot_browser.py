"""Take the README screenshot of the browser window on the demo dataset.

Writes the demo into a temporary directory, opens it in :class:`BrowserWindow` at 1400×850,
expands ``cells.ome.zarr``, its ``labels`` and ``labels/nuclei``, selects ``cells.ome.zarr``,
waits for every pending load, and saves the window to ``resources/browser.png``.

Run under a display (a real one or Xvfb)::

    xvfb-run -a .venv/bin/python scripts/screenshot_browser.py [--output resources/browser.png]
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
EXPAND = ("/cells.ome.zarr", "/cells.ome.zarr/labels", "/cells.ome.zarr/labels/nuclei", "/plate.ome.zarr",
          "/plate.ome.zarr/A", "/climate.zarr")
SELECT = "/cells.ome.zarr"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "resources" / "browser.png")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    args = parser.parse_args()

    app = QApplication(sys.argv[:1])
    app.setApplicationName("zarr-browser")
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_demo(Path(tmp) / "demo")
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        runner = ThreadRunner()
        window = BrowserWindow(runner=runner, registry=default_registry(), settings=settings)
        window.resize(1400, 850)
        window.show()
        steps: list[Callable[[], None]] = []
        result = {"code": 1}

        def idle() -> bool:
            return window.hierarchy() is not None and not window.model.hasPendingOperations() \
                and runner.pending() == 0

        def expand_next() -> None:
            if not steps:
                window.revealPath(SELECT, lambda _ok: QTimer.singleShot(800, grab))
                return
            steps.pop(0)()

        def expand(path: str) -> Callable[[], None]:
            def run() -> None:
                def done(_ok: bool) -> None:
                    index = window.proxy.mapFromSource(window.model.indexForPath(path))
                    window.tree.expand(index)
                    wait_then(expand_next)

                window.revealPath(path, done)

            return run

        def wait_then(action: Callable[[], None]) -> None:
            if idle():
                action()
            else:
                QTimer.singleShot(50, lambda: wait_then(action))

        def grab() -> None:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(args.output))
            print(f"wrote {args.output}")
            result["code"] = 0
            app.quit()

        steps.extend(expand(path) for path in EXPAND)
        window.storeOpened.connect(lambda _url: wait_then(expand_next))
        window.openFailed.connect(lambda url, reason: (print(f"cannot open {url}: {reason}"), app.quit()))
        QTimer.singleShot(int(args.timeout * 1000), app.quit)
        window.openStore(str(demo.root))
        app.exec_()
        runner.shutdown()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
