"""Take the README screenshot of the browser window on the demo dataset.

Writes the demo into a temporary directory, opens it in :class:`BrowserWindow` at 1400×850,
expands ``cells.ome.zarr``, its ``labels`` and ``labels/nuclei``, selects ``cells.ome.zarr``,
waits for every pending load, and saves the window to ``resources/browser.png``.

Run under a display (a real one or Xvfb)::

    xvfb-run -a .venv/bin/python scripts/screenshot_browser.py [--output resources/browser.png]
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from qtpy.QtCore import QTimer
from window_shot import WindowShot

EXPAND = ("/cells.ome.zarr", "/cells.ome.zarr/labels", "/cells.ome.zarr/labels/nuclei", "/plate.ome.zarr",
          "/plate.ome.zarr/A", "/climate.zarr")
SELECT = "/cells.ome.zarr"


def main() -> int:
    shot = WindowShot(__doc__ or "", "browser.png", size=(1400, 850), timeout=60.0)
    steps: list[Callable[[], None]] = []

    def expand_next() -> None:
        if not steps:
            shot.window.revealPath(SELECT, lambda _ok: QTimer.singleShot(800, shot.grab))
            return
        steps.pop(0)()

    def expand(path: str) -> Callable[[], None]:
        def run() -> None:
            def done(_ok: bool) -> None:
                window = shot.window
                window.tree.expand(window.proxy.mapFromSource(window.model.indexForPath(path)))
                shot.wait_then(expand_next)

            shot.window.revealPath(path, done)

        return run

    steps.extend(expand(path) for path in EXPAND)
    return shot.run(lambda: shot.wait_then(expand_next))


if __name__ == "__main__":
    sys.exit(main())
