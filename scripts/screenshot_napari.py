"""Take the README screenshot of napari showing the demo image with its labels.

Writes the demo dataset into a temporary directory, opens ``cells.ome.zarr`` in a napari viewer
through the zarr-browser reader (three channels in their omero colours and windows, the nuclei
labels on top), docks the "Zarr browser" widget (the tree above the inspector) on the same store
with the labels selected, zooms on a quarter of the image so that cells are visible, waits until
every layer is drawn and saves the window to ``resources/napari.png``.

Run under a display (a real one or Xvfb)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshot_napari.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "resources" / "napari.png")
    parser.add_argument("--size", type=int, default=2048, help="demo image size in pixels")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # napari settings of this run only: the user's stay untouched
        os.environ["NAPARI_CONFIG"] = str(Path(tmp) / "napari-settings.yaml")
        import napari
        from qtpy.QtWidgets import QApplication

        from zarr_browser.demo import write_demo

        demo = write_demo(Path(tmp) / "demo", size=args.size)
        image = demo.root / "cells.ome.zarr"
        viewer = napari.Viewer(title="napari + zarr-browser")
        viewer.window.resize(1500, 900)
        _, dock = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
        dock.setMinimumWidth(420)
        layers = viewer.open(str(image), plugin="zarr-browser")
        dock.show_store(str(image), select="/labels/nuclei")
        viewer.layers.selection.active = layers[-1]
        # zoom on the upper-left quarter: cells large enough to see their labels and spots
        extent = viewer.layers.extent.world[1]
        viewer.reset_view()
        camera = viewer.scene.camera
        camera.zoom *= 2.2
        camera.center = (extent[0] * 0.3, extent[1] * 0.35)
        deadline = time.monotonic() + 30
        from zarr_browser.streaming.engine import get_engine

        while time.monotonic() < deadline and (dock.is_busy() or get_engine().pending()
                                               or time.monotonic() < deadline - 27):
            QApplication.processEvents()
            time.sleep(0.05)
        from napari._qt.dialogs.qt_notification import NapariQtNotification

        for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
            toast.close()  # start-up notices would cover the canvas
        for _ in range(10):
            QApplication.processEvents()
            time.sleep(0.05)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        viewer.screenshot(str(args.output), canvas_only=False, flash=False)
        viewer.close()
    sys.stdout.write(f"wrote {args.output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
