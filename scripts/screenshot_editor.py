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

import sys

from qtpy.QtCore import Qt, QTimer
from window_shot import WindowShot

SELECT = "/cells.ome.zarr"


def main() -> int:
    shot = WindowShot(__doc__ or "", "editor.png", size=(1720, 960), timeout=90.0, demo_size=1024)

    def on_opened() -> None:
        editing = shot.window.editing
        shot.ready.append(lambda: not editing.controller.isBusy())
        editing.controller.activeChanged.connect(on_editing)
        editing.enableAction.trigger()

    def on_editing(active: bool) -> None:
        if active:
            shot.wait_then(lambda: shot.window.revealPath(SELECT, lambda _ok: shot.wait_then(show_forms, editor_ready)))

    def editor_ready() -> bool:
        node = shot.window.editing.editor.node()
        return shot.idle() and node is not None and node.path == SELECT

    def show_forms() -> None:
        window, editing = shot.window, shot.window.editing
        window.tree.expand(window.proxy.mapFromSource(window.model.indexForPath(SELECT)))
        window.resizeDocks([editing.dock], [900], Qt.Orientation.Horizontal)
        window.splitter.setSizes([330, 470])
        editing.editor.showTab("ome")
        form = editing.editor.channelsForm
        form.rows[2]["color"].setColour("FFD700")
        form.apply()
        shot.wait_then(lambda: QTimer.singleShot(900, grab),
                       lambda: shot.idle() and editing.controller.isDirty()
                       and all(r["histogram"].histogram is not None for r in editing.editor.channelsForm.rows))

    def grab() -> None:
        shot.grab()  # saves, then asks the event loop to quit
        shot.window.editing.controller.stop()  # the demo copy is temporary: no "unsaved edits" prompt

    return shot.run(on_opened)


if __name__ == "__main__":
    sys.exit(main())
