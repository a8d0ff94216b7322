"""Render the Inspector alone on the demo OME image and save ``resources/inspector.png``.

Run under a virtual display::

    xvfb-run -a .venv/bin/python scripts/screenshot_inspector.py [--tab overview] [--path /] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="cells.ome.zarr", help="demo store to open")
    parser.add_argument("--path", default="/", help="node to inspect")
    parser.add_argument("--tab", default="overview", help="tab to show (overview, image, array, ...)")
    parser.add_argument("--out", default=str(ROOT / "resources" / "inspector.png"))
    parser.add_argument("--size", type=int, default=800)
    args = parser.parse_args(argv)

    from qtpy.QtWidgets import QApplication

    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.demo import write_demo
    from zarr_browser.qt.inspector import Inspector
    from zarr_browser.qt.workers import ImmediateRunner

    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        demo = write_demo(Path(tmp) / "demo", size=512)
        hierarchy = Hierarchy.open(str(demo.root / args.store))
        inspector = Inspector(runner=ImmediateRunner(), registry=default_registry())
        inspector.resize(args.size, args.size)
        inspector.setWindowTitle("zarr-browser inspector")
        inspector.show()
        inspector.setNode(hierarchy, hierarchy.node(args.path))
        inspector.showTab(args.tab)
        for _ in range(5):
            app.processEvents()
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if not inspector.grab().save(str(out)):
            print(f"could not write {out}", file=sys.stderr)
            return 1
        print(out)
        hierarchy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
