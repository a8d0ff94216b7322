"""Plates whose wells are broken or do not fit the plate's cells, in a real napari viewer (audit I,
F2 and F3): the user is told which wells, in one warning per plate, instead of black,
checkerboard or cropped cells without a word; in every display mode (``ZARR_BROWSER_DISPLAY``).

The plates are written by ome-zarr-py and then broken as a user's store breaks: a listed well
deleted, a level's array metadata deleted, chunks overwritten with garbage, a well's metadata
that is not JSON.  Run under Xvfb: ``xvfb-run -a .venv/bin/pytest tests/napari -q -p no:xvfb``.
"""

from __future__ import annotations

import shutil
import threading
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from tests.napari.conftest import write_ome_field
from zarr_browser.streaming.mosaic import MAX_NAMED, MosaicSource, TileProblem, problems_message

pytestmark = pytest.mark.gui

WELLS = ("A/1", "A/2", "A/3", "B/1", "B/2", "B/3")
HEADER = " with problems:\n"


def break_plate(path: Path, version: str) -> None:
    """Break four wells of a 2 × 3 plate as audit I did (scripts/build_more.py)."""
    document = ".zattrs" if version == "0.4" else "zarr.json"
    (path / "B" / "2" / document).write_text('{"well": {"images": [{"path": "0"}]')  # not JSON
    (path / "A" / "3" / "0" / "s0" / (".zarray" if version == "0.4" else "zarr.json")).unlink()
    shutil.rmtree(path / "A" / "2")  # listed by the plate, gone from the store
    chunks = [f for f in (path / "B" / "1" / "0" / "s0").rglob("*")
              if f.is_file() and f.name not in (".zarray", ".zattrs", "zarr.json")]
    assert chunks
    for chunk in chunks:
        chunk.write_bytes(b"garbage" * 10)


def warnings_seen(notification_manager: Any) -> list[str]:
    seen: list[str] = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    return seen


def lines_of(seen: list[str]) -> list[str]:
    """The well lines of every plate warning seen so far."""
    return [line for message in seen if HEADER in message for line in message.splitlines()[1:]
            if line.startswith("/")]


def settled(layer: Any) -> bool:
    """Whether the layer's view was drawn with nothing pending."""
    shown = layer.data[layer.data_level]
    return shown.drawn and not any(h.status == "pending" for h in shown.last_holes)


@pytest.fixture
def gui_io(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Store reads made on the GUI thread while the plate's problems are gathered (there must be none)."""
    import zarr_browser.core.store as store_module

    reporting = threading.local()
    on_gui: list[str] = []

    def recording(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if getattr(reporting, "on", False) and threading.current_thread() is threading.main_thread():
                on_gui.append(name + "\n" + "".join(traceback.format_stack(limit=12)))
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(store_module, "sync", recording("zarr sync", store_module.sync))
    for name in ("read", "read_many", "list_dir"):
        monkeypatch.setattr(store_module._LocalReader, name,
                            recording(f"_LocalReader.{name}", getattr(store_module._LocalReader, name)))
    problems = MosaicSource.problems

    def gathering(self: MosaicSource, **options: Any) -> list[TileProblem]:
        reporting.on = True
        try:
            return problems(self, **options)
        finally:
            reporting.on = False

    monkeypatch.setattr(MosaicSource, "problems", gathering)
    return on_gui


@pytest.mark.parametrize(("version", "remote"), [("0.4", False), ("0.5", False), ("0.5", True)])
def test_broken_wells_of_a_plate_are_named_once(
    make_napari_viewer: Any, stores: Any, qtbot: Any, http_server: Any, engine: Any, gui_io: list[str],
    version: str, remote: bool,
) -> None:
    """Before: two layers, B/1 a checkerboard, A/2 and A/3 black, B/2 shown from a guess, and no
    message at all.  Now: a warning naming each well and what is wrong with it, once per plate
    (its two channel layers share the wells)."""
    from napari.utils.notifications import notification_manager

    path = stores.plate(version, wells=WELLS)
    break_plate(path, version)
    if remote:
        shutil.copytree(path, http_server.root / "plate.ome.zarr")
    viewer = make_napari_viewer()
    seen = warnings_seen(notification_manager)
    layers = viewer.open(http_server.url_for("plate.ome.zarr") if remote else str(path), plugin="zarr-browser")
    dapi, gfp = layers[:2]
    assert [dapi.name, gfp.name] == ["plate: DAPI", "plate: GFP"]
    assert dapi.data_level == 0  # a small plate: shown at full resolution, where A/3 and B/1 break
    qtbot.waitUntil(lambda: len(lines_of(seen)) >= 4, timeout=20_000)
    (message,) = [m for m in seen if HEADER in m]
    assert message.startswith("zarr-browser: plate: 4 wells with problems:"), message
    lines = dict(line.split(": ", 1) for line in message.splitlines()[1:])
    assert sorted(lines) == ["/A/2", "/A/3", "/B/1", "/B/2"]  # the wells that are fine are not named; no hint
    assert lines["/A/2"] == "listed in the plate but missing"
    assert lines["/A/3"].startswith("level 's0' of field 0 is not an array")
    assert lines["/B/1"].startswith("chunks of field 0 at level s0 failed and are drawn as a checkerboard: cannot read ")
    assert "/B/1/0/s0/" in lines["/B/1"]  # the chunk, by its key
    assert lines["/B/2"].startswith("its metadata cannot be read (") and "field 0 is shown" in lines["/B/2"]
    gfp.visible = True  # GFP's chunks of B/1 fail too: the wells were named already
    qtbot.waitUntil(lambda: settled(gfp) and any(h.status == "failed" for h in gfp.data[0].last_holes),
                    timeout=20_000)
    qtbot.wait(200)  # the refreshes that follow its chunks
    assert len([m for m in seen if HEADER in m]) == 1, seen
    assert gui_io == [], "store I/O on the GUI thread:\n" + "\n".join(gui_io[:3])


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_wells_that_do_not_fit_the_plate_cells_are_named(
    make_napari_viewer: Any, stores: Any, qtbot: Any, engine: Any, version: str
) -> None:
    """Before: A/2 cut to the first well's height, B/1's third channel and B/3's missing second
    one silent.  Now: named, with what is lost; the cells are what the warning says."""
    from napari.utils.notifications import notification_manager

    shapes = {"A/2": (2, 48, 40), "A/3": (2, 16, 24), "B/1": (3, 32, 48), "B/3": (1, 32, 48)}
    path = stores.plate(version, wells=WELLS, shapes=shapes)
    viewer = make_napari_viewer()
    seen = warnings_seen(notification_manager)
    dapi, gfp = viewer.open(str(path), plugin="zarr-browser")[:2]
    assert dapi.data[0].shape == (64, 144)  # 2 × 3 cells of A/1's 32 × 48
    qtbot.waitUntil(lambda: len(lines_of(seen)) >= 4, timeout=20_000)
    lines = dict(line.split(": ", 1) for line in lines_of(seen))
    assert sorted(lines) == ["/A/2", "/A/3", "/B/1", "/B/3"]
    assert lines["/A/2"] == "field 0 at level s0 is 48×40, the plate's cells are 32×48: cropped to 32×40"
    assert lines["/A/3"] == "field 0 at level s0 is 16×24, the plate's cells are 32×48: the rest of its cell is empty"
    assert lines["/B/1"] == "3 channels, the plate shows 2: the 3rd is not shown"
    assert lines["/B/3"] == "1 channel, the plate shows 2: the 2nd is empty in its cell"
    assert any(m.endswith("open a well by itself (in the Zarr browser) to see all of it.") for m in seen)
    # the cells are what the warning says: A/2 its top 32 rows, B/3's second channel empty
    a2 = np.asarray(zarr.open_array(str(path / "A" / "2" / "0" / "s0"), mode="r"))
    plate_dapi, plate_gfp = np.asarray(dapi.data[0].level), np.asarray(gfp.data[0].level)
    np.testing.assert_array_equal(plate_dapi[0:32, 48:88], a2[0, :32, :])
    assert not plate_dapi[0:32, 88:96].any()
    assert plate_dapi[32:64, 96:144].any() and not plate_gfp[32:64, 96:144].any()


def test_plate_labels_warn_for_broken_labels_not_for_wells_without_labels(
    make_napari_viewer: Any, stores: Any, qtbot: Any, engine: Any
) -> None:
    """Labels of some wells only are common (a 96-well plate segmented in three wells named the
    other 93 as "missing" in a first version of this warning): only labels that are there and
    broken are named, under the labels layer's name."""
    from napari.utils.notifications import notification_manager

    path = stores.plate("0.5", labels=True)
    shutil.rmtree(path / "B" / "2" / "0" / "labels")  # B/2 was not segmented
    chunks = [f for f in (path / "A" / "3" / "0" / "labels" / "cells" / "s0").rglob("*")
              if f.is_file() and f.name != "zarr.json"]
    assert chunks
    for chunk in chunks:
        chunk.write_bytes(b"garbage" * 10)
    viewer = make_napari_viewer()
    seen = warnings_seen(notification_manager)
    layers = viewer.open(str(path), plugin="zarr-browser")
    cells = layers[-1]
    assert cells.name == "plate: cells" and cells.data_level == 0
    qtbot.waitUntil(lambda: bool(lines_of(seen)), timeout=20_000)
    (message,) = [m for m in seen if HEADER in m]
    assert message.startswith("zarr-browser: plate: cells: 1 well with problems:\n/A/3: chunks of field "
                              "0/labels/cells at level s0 failed"), message
    qtbot.waitUntil(lambda: settled(layers[0]) and settled(cells), timeout=20_000)
    qtbot.wait(200)
    assert len([m for m in seen if HEADER in m]) == 1, seen  # B/2: never named


@pytest.mark.parametrize("mode", ["sync", "dask"])
def test_broken_wells_are_named_in_every_display_mode(
    make_napari_viewer: Any, stores: Any, qtbot: Any, engine: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Before: in the sync and dask modes (``ZARR_BROWSER_DISPLAY``: napari's reads wait for the
    data) the same plate was drawn with black cells and not a word.  Now: the warning of the
    streaming mode, once per plate, saying what these modes draw (a tile whose chunks fail
    leaves its cell empty, not a checkerboard)."""
    from napari.utils.notifications import notification_manager

    monkeypatch.setenv("ZARR_BROWSER_DISPLAY", mode)
    path = stores.plate("0.5", wells=WELLS)
    break_plate(path, "0.5")
    viewer = make_napari_viewer()
    seen = warnings_seen(notification_manager)
    dapi, gfp = viewer.open(str(path), plugin="zarr-browser")[:2]
    assert type(dapi.data[0]).__name__ == {"sync": "LevelArray", "dask": "Array"}[mode]
    assert dapi.data_level == 0
    qtbot.waitUntil(lambda: len(lines_of(seen)) >= 4, timeout=20_000)
    (message,) = [m for m in seen if HEADER in m]
    assert message.startswith("zarr-browser: plate: 4 wells with problems:"), message
    lines = dict(line.split(": ", 1) for line in lines_of(seen))
    assert sorted(lines) == ["/A/2", "/A/3", "/B/1", "/B/2"]
    assert lines["/A/2"] == "listed in the plate but missing"
    assert lines["/A/3"].startswith("level 's0' of field 0 is not an array")
    assert lines["/B/1"].startswith("chunks of field 0 at level s0 failed and its cell is left empty: cannot read ")
    assert "/B/1/0/s0/" in lines["/B/1"]
    assert lines["/B/2"].startswith("its metadata cannot be read (") and "field 0 is shown" in lines["/B/2"]
    plate = np.asarray(dapi.data[0])  # the cells are what the warning says: B/1 empty, B/3 drawn
    assert not plate[32:64, 0:48].any() and plate[32:64, 96:144].any()
    gfp.visible = True  # its reads find the same wells: named already
    qtbot.wait(300)
    assert len([m for m in seen if HEADER in m]) == 1, seen


@pytest.mark.parametrize("mode", ["sync", "dask"])
def test_wells_that_do_not_fit_are_named_in_every_display_mode(
    make_napari_viewer: Any, stores: Any, qtbot: Any, engine: Any, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from napari.utils.notifications import notification_manager

    monkeypatch.setenv("ZARR_BROWSER_DISPLAY", mode)
    path = stores.plate("0.4", wells=("A/1", "A/2", "B/1"), shapes={"A/2": (2, 48, 40), "B/1": (3, 32, 48)})
    viewer = make_napari_viewer()
    seen = warnings_seen(notification_manager)
    viewer.open(str(path), plugin="zarr-browser")
    qtbot.waitUntil(lambda: len(lines_of(seen)) >= 2, timeout=20_000)
    assert dict(line.split(": ", 1) for line in lines_of(seen)) == {
        "/A/2": "field 0 at level s0 is 48×40, the plate's cells are 32×48: cropped to 32×40",
        "/B/1": "3 channels, the plate shows 2: the 3rd is not shown",
    }


def test_the_blocking_path_knows_the_same_problems(stores: Any, engine: Any) -> None:
    """The compute path (``np.asarray`` of a plate level, dask) reads what the display does, and
    its mosaics hold the same problems (no viewer: what the napari glue words)."""
    from zarr_browser._reader import open_hierarchy, plan_node

    path = stores.plate("0.5", wells=WELLS)
    break_plate(path, "0.5")
    (spec,) = plan_node(open_hierarchy(str(path)), "/").specs
    finest, coarser = spec.levels[0], spec.levels[1]
    assert finest.source.problems() == []  # nothing opened yet: nothing known, nothing read
    np.asarray(finest)
    np.asarray(coarser)
    kinds = {(p.key, p.kind) for p in finest.source.problems()}
    assert kinds == {("/A/2", "unavailable"), ("/A/3", "unavailable"), ("/B/1", "chunks"), ("/B/2", "note")}
    assert {(p.key, p.kind) for p in coarser.source.problems()} == {("/A/2", "unavailable"), ("/B/2", "note")}


def test_the_message_names_a_few_wells_and_counts_the_rest() -> None:
    problems = [TileProblem(f"/A/{i}", "unavailable", "listed in the plate but missing") for i in range(20, 0, -1)]
    problems.append(TileProblem("/A/1", "note", "its metadata lists no field"))
    message = problems_message("plate", problems)
    lines = message.splitlines()
    assert lines[0] == "plate: 20 wells with problems:"
    assert lines[1] == "/A/1: listed in the plate but missing; its metadata lists no field"
    assert [line.split(":")[0] for line in lines[1:4]] == ["/A/1", "/A/2", "/A/3"]  # as a plate reads, not /A/10
    assert len(lines) == 1 + MAX_NAMED + 1 and lines[-1] == f"(and {20 - MAX_NAMED} more wells)"


def test_a_well_with_several_fields_opens_as_their_mosaic_and_names_its_fields(
    make_napari_viewer: Any, stores: Any, qtbot: Any, engine: Any
) -> None:
    """Before: a well with several fields opened no layer, only a note to open one of them (audit
    I, I10).  Now: its fields side by side (2 × 2 for three), as a plate shows its wells; a field
    that does not fit or is missing is named as a field, in the well's words."""
    from napari.utils.notifications import notification_manager

    path = stores.plate("0.5", wells=("A/1",), labels=True, fields=3)
    well = zarr.open_group(str(path / "A" / "1"), mode="a")
    well.attrs["ome"] = {**well.attrs["ome"], "well": {"images": [{"path": p} for p in ("0", "1", "2", "9")]}}
    shutil.rmtree(path / "A" / "1" / "1")
    (path / "A" / "1" / "1").mkdir()
    # field 1 wider than the first field, which sets the cells: cropped
    write_ome_field(zarr.open_group(str(path / "A" / "1" / "1"), mode="w"), "0.5", 5, (2, 32, 64))
    viewer = make_napari_viewer()
    seen = warnings_seen(notification_manager)
    dapi, gfp, cells = viewer.open(str(path / "A" / "1"), plugin="zarr-browser")
    assert [dapi.name, gfp.name, cells.name] == ["plate/A/1: DAPI", "plate/A/1: GFP", "plate/A/1: cells"]
    assert dapi.data[0].shape == (64, 96) and cells.data[0].shape == (64, 96)  # 2 × 2 cells of 32 × 48
    assert any("its 4 fields (0, 1, 2, 9) are shown side by side, 2 × 2" in m for m in seen), seen
    qtbot.waitUntil(lambda: len(lines_of(seen)) >= 2, timeout=20_000)
    (message,) = [m for m in seen if HEADER in m]
    assert message.startswith("zarr-browser: plate/A/1: 2 fields with problems:"), message
    assert dict(line.split(": ", 1) for line in lines_of(seen)) == {
        "/A/1/1": "level s0 is 32×64, the well's cells are 32×48: cropped to 32×48",
        "/A/1/9": "listed in the well but missing",
    }
    assert "The well's cells are the size of the first field: open a field by itself" in message
    field_2 = np.asarray(zarr.open_array(str(path / "A" / "1" / "2" / "s0"), mode="r"))
    qtbot.waitUntil(lambda: settled(dapi), timeout=20_000)
    np.testing.assert_array_equal(np.asarray(dapi.data[0].level)[32:64, 0:48], field_2[0])
