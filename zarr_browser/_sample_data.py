"""napari sample data "zarr-browser demo": the demo OME-Zarr image with its labels.

The demo dataset is written once into the cache directory (``zarr-browser demo`` writes the
same one) and reused afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from zarr_browser._reader import LayerData

__all__ = ["demo_sample"]

DEMO_IMAGE = "cells.ome.zarr"


def demo_sample() -> list[LayerData]:
    """The layers of the demo's ``cells.ome.zarr``: three channels and the nuclei labels."""
    from zarr_browser._reader import layer_data, open_hierarchy, plan_node
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.demo import default_demo_directory, write_demo

    demo = write_demo(default_demo_directory())
    registry = default_registry()
    hierarchy = open_hierarchy(str(demo.root / DEMO_IMAGE), registry)
    plan = plan_node(hierarchy, "/", registry)
    return [item for spec in plan.specs for item in layer_data(spec)]
