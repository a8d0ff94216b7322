"""A plate in a real napari viewer while its wells open (audit I, F6).

A plate's tiles (one per well) are opened as the view needs them: each well's metadata, its
field's and its level's, read in batches.  Behind ``python -m http.server`` (6 requests at once)
a 384-well plate needed more than 1,000 of them before its first tile, and stayed black for 15 s
with nothing saying that wells were loading.  Now the wells open a batch at a time, the picture
fills in as they do, and napari's progress bar and status say how many are open.

Run under Xvfb: ``xvfb-run -a .venv/bin/pytest tests/napari -q -p no:xvfb``.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from zarr_browser.core.store import SMALL_SERVER_REQUESTS

pytestmark = pytest.mark.gui

SIMPLE_HTTP = "SimpleHTTP/0.6 Python/3.11.7"
"""The Server header of Python's http.server."""
WELLS = tuple(f"{row}/{column}" for row in "AB" for column in "1234")


def plate_bars() -> list[Any]:
    from napari.utils.progress import progress

    return [bar for bar in list(progress._all_instances) if bar.desc == "plate: reading wells"]


def cells_drawn(mosaic: Any, cells: list[tuple[int, int]]) -> bool:
    """Whether the pixels of *cells* of *mosaic* are here (read without asking for anything)."""
    height, width = mosaic.geometry.tile_shape[-2:]
    for row, column in cells:
        key = (0, slice(row * height, (row + 1) * height, 1), slice(column * width, (column + 1) * width, 1))
        data, holes = mosaic.read_cached(key, request=False)
        if holes or not data.any():
            return False
    return True


def test_a_plate_fills_in_as_its_wells_open_and_says_how_many_are_open(
    make_napari_viewer: Any, stores: Any, qtbot: Any, http_server: Any, engine: Any
) -> None:
    """Before: every well's metadata was read before the first tile opened, with no sign of it.
    Now: the first batch of wells (as many as the server takes at once) is drawn while the next
    one is read, a progress bar and the status say "6/8", and each document is asked for once."""
    path = stores.plate("0.5", wells=WELLS, columns=("1", "2", "3", "4"))
    shutil.copytree(path, http_server.root / "plate.ome.zarr")
    http_server.server_header = SIMPLE_HTTP  # taken for Python's http.server: 6 requests at once
    # the second batch (B/3, B/4) waits for B/4's well (the dock asks for it too: held as well)
    hold = http_server.faults.add("plate.ome.zarr/B/4/zarr.json", "slow:60")
    viewer = make_napari_viewer()
    statuses: list[str] = []
    viewer.events.status.connect(lambda event: statuses.append(str(event.value)))
    dapi = viewer.open(http_server.url_for("plate.ome.zarr"), plugin="zarr-browser")[0]
    assert dapi.name == "plate: DAPI" and dapi.data[0].shape == (64, 192)  # 2 × 4 cells of 32 × 48
    mosaic = dapi.data[dapi.data_level].level.source
    assert mosaic._open_tile.at_once == SMALL_SERVER_REQUESTS
    first = sorted(mosaic.geometry.cells)[:SMALL_SERVER_REQUESTS]  # A/1 ... A/4, B/1, B/2

    def first_batch_shown() -> bool:
        bars = plate_bars()
        return (len(bars) == 1 and (bars[0].n, bars[0].total) == (6, 8) and hold.hits >= 1
                and cells_drawn(mosaic, first))

    qtbot.waitUntil(first_batch_shown, timeout=20_000)
    assert viewer.status == "plate: reading wells 6/8"
    assert (1, 3) not in mosaic.opened_cells()  # B/4: its well is still being read
    http_server.faults.clear()
    http_server.release()
    qtbot.waitUntil(lambda: not plate_bars() and len(mosaic.opened_cells()) == len(WELLS)
                    and cells_drawn(mosaic, sorted(mosaic.geometry.cells)), timeout=20_000)
    qtbot.waitUntil(lambda: viewer.status == "Ready", timeout=5_000)
    assert "plate: reading wells 6/8" in statuses
    # the batches cost no request more: each field's and level's document once (the well's
    # is read by the dock too, revealed on the plate, whose browser has a hierarchy of its own)
    level = dapi.data_level
    for well in WELLS[1:]:  # (A/1 is the well the dock selects: it reads its field too)
        for document in ("0/zarr.json", f"0/s{level}/zarr.json"):
            assert http_server.stats.by_path[f"plate.ome.zarr/{well}/{document}"] == 1, (well, document)

