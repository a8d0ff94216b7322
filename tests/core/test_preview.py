"""Thumbnails: bounded reads through the safety gate, OME windows and colours, central planes."""

from __future__ import annotations

import json
import os
import re
import signal
from pathlib import Path

import numpy as np
import pytest
import zarr

from zarr_browser.core.conventions import default_registry
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.preview import PreviewUnavailableError, make_thumbnail, previewable
from zarr_browser.core.validate import HierarchyContext
from zarr_browser.errors import UnsafeArrayError


def _thumb(store: Path, path: str = "/", **kwargs):  # type: ignore[no-untyped-def]
    hierarchy = Hierarchy.open(str(store))
    registry = default_registry()
    node = hierarchy.node(path)
    before = hierarchy.access.stats.requests
    thumb = make_thumbnail(hierarchy.access, node, registry, HierarchyContext(hierarchy), **kwargs)
    return thumb, hierarchy.access.stats.requests - before


def _ome_image(path: Path, data: np.ndarray, *, omero: dict | None, axes: list[dict]) -> Path:
    """A one-level OME-Zarr 0.4 image (zarr v2) holding *data*."""
    group = zarr.open_group(path, mode="w", zarr_format=2)
    arr = group.create_array("0", shape=data.shape, chunks=data.shape, dtype=data.dtype)
    arr[...] = data
    attrs: dict = {"multiscales": [{
        "version": "0.4", "axes": axes,
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * data.ndim}]}],
    }]}
    if omero is not None:
        attrs["omero"] = omero
    group.attrs.update(attrs)
    return path


def test_demo_image_is_drawn_in_its_channel_colours(tmp_path: Path) -> None:
    from zarr_browser.demo import write_demo

    root = write_demo(tmp_path / "demo", size=256).root
    thumb, _ = _thumb(root / "cells.ome.zarr")
    assert thumb.rgb.dtype == np.uint8 and thumb.rgb.ndim == 3 and thumb.rgb.shape[2] == 3
    assert min(thumb.height, thumb.width) >= 64
    assert thumb.rgb.max() > 0
    # DAPI is blue, membranes green, spots magenta: the picture is not grey
    assert np.any(thumb.rgb[..., 2].astype(int) != thumb.rgb[..., 1].astype(int))
    assert thumb.channels == ("DAPI", "Membrane", "Spots")
    assert thumb.source_path.startswith("/") and thumb.level is not None
    assert "omero windows" in thumb.note


def test_lowest_level_at_least_size_is_chosen(tmp_path: Path) -> None:
    from zarr_browser.demo import write_demo

    root = write_demo(tmp_path / "demo", size=512).root  # levels 512, 256, 128, 64
    thumb, _ = _thumb(root / "cells.ome.zarr", size=128)
    assert thumb.level == "2" and (thumb.height, thumb.width) == (128, 128)


def test_omero_window_and_colour_are_applied(tmp_path: Path) -> None:
    ramp = np.tile(np.arange(0, 500, 5, dtype=np.uint16), (10, 1))[None]  # (1, 10, 100): 0..495
    omero = {"channels": [{"label": "red", "color": "FF0000", "active": True,
                           "window": {"start": 200, "end": 400, "min": 0, "max": 65535}}]}
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    store = _ome_image(tmp_path / "img.zarr", ramp, omero=omero, axes=axes)
    thumb, _ = _thumb(store)
    red = thumb.rgb[0, :, 0].astype(int)
    values = ramp[0, 0].astype(float)
    expected = np.clip((values - 200) / 200, 0, 1) * 255
    assert np.all(np.abs(red - expected) <= 1)
    assert red[values <= 200].max() == 0 and red[values >= 400].min() == 255
    assert thumb.rgb[..., 1].max() == 0 and thumb.rgb[..., 2].max() == 0  # pure red
    assert "omero windows" in thumb.note


def test_image_without_omero_is_greyscale_with_percentile_contrast(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, size=(2, 32, 32), dtype=np.uint16)
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    thumb, _ = _thumb(_ome_image(tmp_path / "img.zarr", data, omero=None, axes=axes))
    assert np.array_equal(thumb.rgb[..., 0], thumb.rgb[..., 1]) and np.array_equal(thumb.rgb[..., 1], thumb.rgb[..., 2])
    assert thumb.rgb.min() == 0 and thumb.rgb.max() == 255


def test_plain_array_central_plane(tmp_path: Path) -> None:
    data = np.zeros((5, 40, 60), dtype="f4")
    data[2, :20, :] = 1.0  # only the middle plane has structure: top half bright
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    group.create_array("cube", shape=data.shape, chunks=(1, 20, 20), dtype="f4")[...] = data
    thumb, _ = _thumb(tmp_path / "s.zarr", "/cube")
    assert (thumb.height, thumb.width) == (40, 60)
    assert thumb.rgb[:20].min() == 255 and thumb.rgb[20:].max() == 0
    assert "axis 0 at 2" in thumb.note and thumb.level is None


def test_bytes_read_stay_under_the_bound(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    arr = group.create_array("big", shape=(1024, 1024), chunks=(32, 32), dtype="u1")  # 1 KiB chunks
    yy, xx = np.mgrid[0:1024, 0:1024]
    arr[...] = ((yy // 32 + xx // 32) % 7).astype("u1")
    bound = 16 * 1024  # 16 chunks of the 1024
    thumb, requests = _thumb(tmp_path / "s.zarr", "/big", max_bytes=bound, size=64)
    assert thumb.bytes_planned <= bound
    assert requests <= 16 + 3  # the chunks plus the array's metadata documents
    assert "central 128×128 of 1024×1024" in thumb.note
    assert max(thumb.height, thumb.width) <= 64


def test_chunk_larger_than_the_bound_is_not_read(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    group.create_array("one", shape=(256, 256), chunks=(256, 256), dtype="f8")[...] = 1.0
    with pytest.raises(PreviewUnavailableError, match="exceeds the preview bound"):
        _thumb(tmp_path / "s.zarr", "/one", max_bytes=64 * 1024)


def _pickle_array(store: Path) -> None:
    """A zarr v2 string array whose filters are edited to run pickle when decoded."""
    group = zarr.open_group(store, mode="w", zarr_format=2)
    arr = group.create_array("strings", shape=(2, 2), chunks=(2, 2), dtype=str)
    arr[...] = np.array([["a", "b"], ["c", "d"]])
    meta_path = store / "strings" / ".zarray"
    meta = json.loads(meta_path.read_text())
    meta["filters"] = [{"id": "vlen-utf8"}, {"id": "pickle", "protocol": 5}]
    meta_path.write_text(json.dumps(meta))


def test_pickle_codec_is_refused_by_the_gate(tmp_path: Path) -> None:
    _pickle_array(tmp_path / "s.zarr")
    hierarchy = Hierarchy.open(str(tmp_path / "s.zarr"))
    node = hierarchy.node("/strings")
    assert previewable(node, default_registry())
    before = hierarchy.access.stats.requests
    with pytest.raises(UnsafeArrayError, match="pickle"):
        make_thumbnail(hierarchy.access, node, default_registry(), HierarchyContext(hierarchy))
    assert hierarchy.access.stats.requests == before  # refused before any chunk was read


def test_one_dimensional_and_group_nodes_have_no_preview(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    group.create_array("line", shape=(10,), dtype="i4")[...] = np.arange(10)
    hierarchy = Hierarchy.open(str(tmp_path / "s.zarr"))
    registry = default_registry()
    assert not previewable(hierarchy.node("/line"), registry)
    assert not previewable(hierarchy.node("/"), registry)
    with pytest.raises(PreviewUnavailableError):
        make_thumbnail(hierarchy.access, hierarchy.node("/"), registry, HierarchyContext(hierarchy))


@pytest.mark.parametrize("channels", [3, 4])
def test_colour_pixels_are_drawn_in_colour(tmp_path: Path, channels: int) -> None:
    """uint8 (y, x, 3|4): a colour picture of the y × x plane (RGBA over black), not a 3-pixel sliver."""
    data = np.zeros((48, 64, channels), dtype="u1")
    data[..., 0] = 200  # red
    if channels == 4:
        data[:, 32:, 3] = 255  # right half opaque, left half transparent
    zarr.create_array(tmp_path / "rgb.zarr", shape=data.shape, dtype="u1", chunks=(16, 16, channels))[...] = data
    thumb, _ = _thumb(tmp_path / "rgb.zarr")
    assert (thumb.height, thumb.width) == (48, 64)
    if channels == 3:
        assert thumb.note.endswith("RGB colour") and (thumb.rgb == [200, 0, 0]).all()
    else:
        assert "RGBA colour over black" in thumb.note
        assert (thumb.rgb[:, 32:] == [200, 0, 0]).all() and (thumb.rgb[:, :32] == 0).all()


def test_the_plane_follows_the_dimension_names(tmp_path: Path) -> None:
    """A (y, x, z) array of three planes is no RGB: the y × x plane is drawn, at the middle z."""
    data = np.zeros((48, 64, 3), dtype="u1")
    data[:24, :, 1] = 255
    zarr.create_array(tmp_path / "yxz.zarr", shape=data.shape, dtype="u1", chunks=(48, 64, 1),
                      dimension_names=["y", "x", "z"])[...] = data
    thumb, _ = _thumb(tmp_path / "yxz.zarr")
    assert (thumb.height, thumb.width) == (48, 64) and "y × x, axis 2 at 1" in thumb.note
    assert thumb.rgb[:24].min() == 255 and thumb.rgb[24:].max() == 0


def test_missing_values_are_marked_and_64_bit_values_keep_their_differences(tmp_path: Path) -> None:
    floats = np.arange(64 * 64, dtype="f4").reshape(64, 64)
    floats[:, :16] = np.nan
    zarr.create_array(tmp_path / "nan.zarr", shape=floats.shape, dtype="f4", fill_value=np.nan)[...] = floats
    thumb, _ = _thumb(tmp_path / "nan.zarr")
    assert (thumb.rgb[:, :16] == [255, 0, 255]).all() and "25 % NaN (magenta)" in thumb.note
    assert not (thumb.rgb[:, 16:] == [255, 0, 255]).all(axis=-1).any()
    ids = (np.uint64(2**63) + np.arange(64 * 64, dtype="u8")).reshape(64, 64)  # one float64 value
    zarr.create_array(tmp_path / "ids.zarr", shape=ids.shape, dtype="u8")[...] = ids
    thumb, _ = _thumb(tmp_path / "ids.zarr")
    assert len(np.unique(thumb.rgb[..., 0])) > 200  # a ramp, not one grey
    times = np.arange(64 * 64).astype("datetime64[s]").reshape(64, 64)
    times[0, :8] = np.datetime64("NaT")
    zarr.create_array(tmp_path / "t.zarr", shape=times.shape, dtype=times.dtype, zarr_format=2)[...] = times
    thumb, _ = _thumb(tmp_path / "t.zarr")
    assert (thumb.rgb[0, :8] == [255, 0, 255]).all() and "8 NaT (magenta)" in thumb.note
    assert len(np.unique(thumb.rgb[1:, :, 0])) > 200  # the real times spread over the grey range


def test_what_has_no_picture_is_told_by_its_data_type(tmp_path: Path) -> None:
    from zarr_browser.core.preview import value_kind

    group = zarr.open_group(tmp_path / "k.zarr", mode="w", zarr_format=2)
    group.create_array("text", shape=(4, 4), dtype=str)
    group.create_array("records", shape=(4, 4), dtype=[("a", "<i4"), ("b", "<f8")])
    group.create_array("fixed", shape=(4, 4), dtype="S8")
    group.create_array("nums", shape=(4, 4), dtype="<m8[s]")
    hierarchy = Hierarchy.open(str(tmp_path / "k.zarr"))
    kinds = {name: value_kind(hierarchy.node(f"/{name}").array) for name in ("text", "records", "fixed", "nums")}
    assert kinds == {"text": "text", "records": "records", "fixed": "bytes", "nums": "number"}
    assert hierarchy.node("/text").array.dtype == "string (vlen-utf8)"
    registry = default_registry()
    assert [previewable(hierarchy.node(f"/{n}"), registry) for n in kinds] == [False, False, False, True]


def _written_plate(root: Path, wells: list[str]) -> Path:
    """An OME-Zarr 0.4 plate written by ome-zarr-py: two fields of 16×16 pixels per well."""
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    plate = zarr.open_group(root, mode="w", zarr_format=2)
    write_plate_metadata(plate, ["A", "B"], ["1", "2"], wells, fmt=FormatV04())
    for path in wells:
        well = plate.require_group(path)
        write_well_metadata(well, [{"path": "0"}, {"path": "1"}], fmt=FormatV04())
        for field in ("0", "1"):
            data = np.arange(256, dtype="uint8").reshape(16, 16)
            write_image(data, well.require_group(field), axes="yx", fmt=FormatV04(), scale_factors=())
    return root


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_plate_on_a_server_that_stops_answering_fails_within_one_deadline(tmp_path: Path) -> None:
    """The server process is stopped: connections stay open and nothing comes back.  Each
    well and field waited out a deadline of its own (four wells: four deadlines); the preview
    as a whole has one, and says which plate and why."""
    from servers import ProcessServer

    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.errors import StoreTimeoutError

    _written_plate(tmp_path / "www" / "screen" / "plate.ome.zarr", ["A/1", "A/2", "B/1", "B/2"])
    policy = RequestPolicy(attempt_timeout=0.5, deadline=1.5, retries=1, backoff=0.01)
    registry = default_registry()
    with ProcessServer(tmp_path / "www") as server:
        url = server.url_for("screen")
        answered = Hierarchy.open(url, policy=policy)
        thumb = make_thumbnail(answered.access, answered.node("/plate.ome.zarr"), registry, HierarchyContext(answered))
        assert thumb.note.startswith("well A/1, field 0")  # the server answering: the first well's first field
        hierarchy = Hierarchy.open(url, policy=policy)
        plate = hierarchy.node("/plate.ome.zarr")
        os.kill(server._process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreTimeoutError) as caught:
                make_thumbnail(hierarchy.access, plate, registry, HierarchyContext(hierarchy))
        finally:
            os.kill(server._process.pid, signal.SIGCONT)
    # the read of well A/1 timed out (its retries done), or the preview's deadline ran out first:
    # either way the other wells are not tried
    why = (r"(reading http://127\.0\.0\.1:\d+/screen/plate\.ome\.zarr/A/1/\S+ timed out after 2 attempts "
           r"\(no data for 0\.5 s per attempt; 1\.5 s in all\)|the store did not answer within 1\.5 s, the time a preview may take)")
    assert re.fullmatch(rf"plate /plate\.ome\.zarr: {why} \(well A/1 tried\)", str(caught.value)), caught.value
