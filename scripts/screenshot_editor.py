"""Take the README screenshot of the metadata editor on the demo dataset.

Writes the demo into a temporary directory, opens it in :class:`BrowserWindow` at 1720×960,
turns editing on, selects ``cells.ome.zarr``, shows the editor's OME-NGFF forms (axes, pixel
size, channels with the lowest level's histograms), makes one edit (the Spots channel becomes
yellow) so the dirty indicator and the live validation show, and saves the window to
``resources/editor.png``.  Nothing is saved to the (temporary) store.

Run under a display (a real one or Xvfb)::

    xvfb-run -a .venv/bin/python scripts/screenshot_editor.py [--output resources/editor.png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from qtpy.QtCore import QSettings, Qt, QTimer
from qtpy.QtWidgets import QApplication

from zarr_browser.core.conventions import default_registry
from zarr_browser.demo import write_demo
from zarr_browser.qt.window import BrowserWindow
from zarr_browser.qt.workers import ThreadRunner

ROOT = Path(__file__).resolve().parent.parent
SELECT = "/cells.ome.zarr"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "resources" / "editor.png")
    parser.add_argument("--timeout", type=float, default=90.0, help="give up after this many seconds")
    args = parser.parse_args()

    app = QApplication(sys.argv[:1])
    app.setApplicationName("zarr-browser")
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_demo(Path(tmp) / "demo", size=1024)
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        runner = ThreadRunner()
        window = BrowserWindow(runner=runner, registry=default_registry(), settings=settings)
        window.resize(1720, 960)
        window.show()
        editing = window.editing
        result = {"code": 1}

        def idle() -> bool:
            return window.hierarchy() is not None and not window.model.hasPendingOperations() \
                and runner.pending() == 0 and not editing.controller.isBusy()

        def wait_then(action: Callable[[], None], ready: Callable[[], bool] = idle) -> None:
            if ready():
                action()
            else:
                QTimer.singleShot(50, lambda: wait_then(action, ready))

        def on_opened(_url: str) -> None:
            window.storeOpened.disconnect(on_opened)
            editing.controller.activeChanged.connect(on_editing)
            editing.enableAction.trigger()

        def on_editing(active: bool) -> None:
            if active:
                wait_then(lambda: window.revealPath(SELECT, lambda _ok: wait_then(show_forms, editor_ready)))

        def editor_ready() -> bool:
            node = editing.editor.node()
            return idle() and node is not None and node.path == SELECT

        def show_forms() -> None:
            index = window.proxy.mapFromSource(window.model.indexForPath(SELECT))
            window.tree.expand(index)
            window.resizeDocks([editing.dock], [900], Qt.Orientation.Horizontal)
            window.splitter.setSizes([330, 470])
            editing.editor.showTab("ome")
            form = editing.editor.channelsForm
            form.rows[2]["color"].setColour("FFD700")
            form.apply()
            wait_then(lambda: QTimer.singleShot(900, grab),
                      lambda: idle() and editing.controller.isDirty()
                      and all(r["histogram"].histogram is not None for r in editing.editor.channelsForm.rows))

        def grab() -> None:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            window.grab().save(str(args.output))
            print(f"wrote {args.output}")
            result["code"] = 0
            editing.controller.stop()  # the demo copy is temporary: no "unsaved edits" prompt
            app.quit()

        window.storeOpened.connect(on_opened)
        window.openFailed.connect(lambda url, reason: (print(f"cannot open {url}: {reason}"), app.quit()))
        QTimer.singleShot(int(args.timeout * 1000), app.quit)
        window.openStore(str(demo.root))
        app.exec_()
        runner.shutdown()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
