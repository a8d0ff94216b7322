"""A plate over HTTP whose label images exist for one well only, in a real napari viewer
(audit I, F5): the other wells' missing label images are asked for once per document, and after
the image's tiles.  Run under Xvfb: ``xvfb-run -a .venv/bin/pytest tests/napari -q -p no:xvfb``.
"""

from __future__ import annotations

import shutil
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pytest
import zarr

pytestmark = pytest.mark.gui

WELLS = ("A/1", "A/2", "A/3", "B/1", "B/2", "B/3")
DOCUMENTS = (".zgroup", ".zattrs", ".zarray", "zarr.json")
ASKED = {"0.4": (".zgroup", ".zattrs"), "0.5": ("zarr.json",)}  # what a label image has: asked once


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_missing_label_images_of_a_plate_are_asked_for_once(
    make_napari_viewer: Any, stores: Any, qtbot: Any, http_server: Any, engine: Any, version: str
) -> None:
    """Before: each well without labels had its missing ``labels/cells`` asked for 3 times (8-10
    404s: ``.zgroup`` + ``.zattrs``, then all four documents, then again at each level of the
    labels mosaic), ahead of the image's chunks.  Now: each document a label image has, once,
    whatever the levels read, and only once the well's image level is known."""
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_labels

    cells = np.zeros((32, 48), "uint8")
    cells[4:12, 8:30] = 1
    path = stores.plate(version, wells=WELLS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_labels(cells, zarr.open_group(str(path / "A" / "1" / "0"), mode="r+"), name="cells",
                     fmt=FormatV04() if version == "0.4" else FormatV05(), axes=["y", "x"], scaler=None,
                     scale_factors=(2, 4), scale={"y": 0.5, "x": 0.5})
    shutil.copytree(path, http_server.root / "plate.ome.zarr")
    http_server.latency = 0.01
    viewer = make_napari_viewer()
    layers = viewer.open(http_server.url_for("plate.ome.zarr"), plugin="zarr-browser")
    (labels,) = [layer for layer in layers if type(layer).__name__ == "Labels"]
    assert labels.multiscale and len(labels.data) == 3

    def opened(level: Any) -> int:
        return len(level.level.source.opened_cells())

    qtbot.waitUntil(lambda: any(opened(level) == len(WELLS) for level in labels.data), timeout=20_000)
    for level in labels.data:  # every level of the labels mosaic: absence is remembered across them
        level.level[tuple(slice(None) for _ in level.shape)]
        assert opened(level) == len(WELLS)

    stats = http_server.stats
    missing = [w for w in WELLS if w != "A/1"]
    asked = Counter({(w, d): stats.by_path[f"plate.ome.zarr/{w}/0/labels/cells/{d}"]
                     for w in missing for d in DOCUMENTS})
    expected = Counter({(w, d): 1 for w in missing for d in ASKED[version]})
    assert +asked == expected, asked - expected
    # the labels wait for the image: each missing label image is asked for once the level of
    # the well's image at that resolution has been read
    for well in missing:
        probes = [start for start, _end, p in stats.spans if p.startswith(f"plate.ome.zarr/{well}/0/labels/cells/")]
        level_document = ".zarray" if version == "0.4" else "zarr.json"
        levels = [end for _start, end, p in stats.spans if p.startswith(f"plate.ome.zarr/{well}/0/s")
                  and p.endswith("/" + level_document)]
        assert probes and levels
        assert min(probes) >= min(levels), (well, min(probes), min(levels))
