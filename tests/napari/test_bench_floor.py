"""The benchmark's floor (``benchmarks/floor.py``) builds the very layers our reader builds.

The floor measures napari alone: the layers our reader returns for a store, with data that costs
nothing to read.  It is a fair floor only if napari gets the same layers — names, scale, units,
colours, contrast, blending and every level's shape — which is what this checks, in a real
viewer.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import floor  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture
def floor_reader() -> Iterator[None]:
    floor.register()
    yield
    floor.unregister()


def _described(layer: Any) -> dict[str, Any]:
    return {
        "name": layer.name,
        "scale": tuple(layer.scale),
        "translate": tuple(layer.translate),
        "units": tuple(str(u) for u in layer.units),
        "axis_labels": tuple(layer.axis_labels),
        "colormap": layer.colormap.name,
        "contrast_limits": tuple(layer.contrast_limits),
        "blending": str(layer.blending),
        "visible": layer.visible,
        "multiscale": layer.multiscale,
        "shapes": [tuple(level.shape) for level in layer.data] if layer.multiscale else [tuple(layer.data.shape)],
        "dtype": str(layer.dtype),
    }


def test_the_floor_opens_the_layers_our_reader_opens(make_napari_viewer: Any, stores: Any, tmp_path: Path,
                                                     floor_reader: None) -> None:
    from zarr_browser._reader import napari_get_reader

    image = str(stores.image("0.5", labels=False))
    reader = napari_get_reader(image)
    assert reader is not None
    path = floor.write(tmp_path / "image", reader(image))

    ours = make_napari_viewer().open(image, plugin="zarr-browser")
    alone = make_napari_viewer().open(str(path), plugin=floor.PLUGIN)

    assert len(ours) == len(alone) >= 2
    for mine, free in zip(ours, alone, strict=True):
        assert _described(free) == _described(mine)
        assert free.multiscale
        coarsest = np.asarray(free.data[-1][(slice(0, 4),) * free.data[-1].ndim])
        assert coarsest.size and (coarsest == floor.VALUE).all()  # data to show, at no cost
