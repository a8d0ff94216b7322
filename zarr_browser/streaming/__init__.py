"""Lazy level arrays and napari-free layer specs built from conventions.

Nothing here imports Qt or napari; dask is imported only by :meth:`LevelArray.to_dask`.
"""

from __future__ import annotations

from zarr_browser.streaming.layers import LayerPlan, LayerSpec, layer_plan, layers_for, not_an_image
from zarr_browser.streaming.levels import ArraySource, LevelArray, ZarrSource
from zarr_browser.streaming.mosaic import MosaicGeometry, MosaicSource

__all__ = [
    "ArraySource",
    "LayerPlan",
    "LayerSpec",
    "LevelArray",
    "MosaicGeometry",
    "MosaicSource",
    "ZarrSource",
    "layer_plan",
    "layers_for",
    "not_an_image",
]
