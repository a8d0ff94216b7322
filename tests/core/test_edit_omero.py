"""The ``omero`` block behind the Channels form: adding it, matching the channel axis, windows, units."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from edit_stores import ome_image  # tests/edit_stores.py

from zarr_browser.core.editing import EditError, EditSession, ReadOnlyFieldError
from zarr_browser.core.editing.conventions import (
    default_channel_colours,
    default_window,
    ome_add_omero,
    ome_match_channels,
    ome_set_channels,
    ome_set_units,
)
from zarr_browser.core.histogram import channel_ranges
from zarr_browser.core.issues import Severity


def _ns(attrs: dict[str, Any]) -> dict[str, Any]:
    return attrs.get("ome", attrs)


def written_without_omero(path: Path, version: str, data: np.ndarray, axes: str) -> Path:
    """An image as ome-zarr-py writes it unless asked for rendering settings: no ``omero``."""
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image

    group = zarr.open_group(path, mode="w", zarr_format=2 if version == "0.4" else 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        write_image(data, group, axes=axes, fmt=FormatV04() if version == "0.4" else FormatV05(),
                    scale_factors=(2,))
    assert "omero" not in _ns(group.attrs.asdict())
    return path


def read_with_ome_zarr_py(path: Path) -> dict[str, Any]:
    """What ome-zarr-py's Reader hands napari-ome-zarr for the image."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        location = parse_url(str(path))
        assert location is not None
        return dict(next(iter(Reader(location)())).metadata)


def validate_with_ome_zarr_models(path: Path, version: str) -> None:
    import ome_zarr_models.v04 as v04
    import ome_zarr_models.v05 as v05

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (v04 if version == "0.4" else v05).Image.from_zarr(zarr.open_group(path, mode="r"))


def omero_issues(session: EditSession) -> list[str]:
    return [f"{i.severity.value}: {i.message}" for i in session.validate(["/"])
            if "omero" in i.pointer or "channel" in i.message]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_an_image_written_without_omero_gets_one_channel_per_index_of_its_channel_axis(
        tmp_path: Path, version: str) -> None:
    """ome-zarr-py writes no omero block: it is added in one step, where the version has it,
    with the channel axis' number of channels, napari's colours, the data type's range as
    min/max and the data's range (read from the lowest level) as start/end; both readers take it."""
    data = np.stack([np.full((4, 32, 32), 100 * (c + 1), dtype="uint16") for c in range(3)])
    data[:, :, :16] += 1000
    store = written_without_omero(tmp_path / "img.ome.zarr", version, data, "czyx")
    session = EditSession.open(str(store))
    ranges = channel_ranges(session.hierarchy, "/s1", 0, range(3))
    assert ranges == {0: (100.0, 1100.0), 1: (200.0, 1200.0), 2: (300.0, 1300.0)}
    session.apply(ome_add_omero(session, "/", ranges=ranges))
    assert session.history() == ["add an omero block with 3 channels to /"]
    key = ".zattrs" if version == "0.4" else "zarr.json"
    assert session.changed_keys() == [key] and '+  "omero": {' in session.diff()[key].replace("      ", "  ")
    assert omero_issues(session) == []
    with pytest.raises(EditError, match="omero block already"):
        ome_add_omero(session, "/")
    session.save()

    attrs = zarr.open_group(store, mode="r").attrs.asdict()
    omero = _ns(attrs)["omero"]
    assert ("omero" in attrs) is (version == "0.4")  # 0.5: under "ome"
    assert omero.get("version") == ("0.4" if version == "0.4" else None)
    assert omero["rdefs"] == {"model": "color"}
    assert omero["channels"] == [
        {"label": f"Channel {c}", "color": colour, "active": True,
         "window": {"min": 0, "max": 65535, "start": 100 * (c + 1), "end": 1000 + 100 * (c + 1)}}
        for c, colour in enumerate(["00FFFF", "FFFF00", "FF00FF"])]
    validate_with_ome_zarr_models(store, version)
    read = read_with_ome_zarr_py(store)
    assert read["contrast_limits"] == [[100, 1100], [200, 1200], [300, 1300]]
    assert read["colormap"] == [[[0, 0, 0], [0.0, 1.0, 1.0]], [[0, 0, 0], [1.0, 1.0, 0.0]],
                                [[0, 0, 0], [1.0, 0.0, 1.0]]]
    assert read["channel_names"] == ["Channel 0", "Channel 1", "Channel 2"] and read["visible"] == [True] * 3


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_an_image_without_channel_axis_gets_one_white_channel_and_floats_their_data_range(
        tmp_path: Path, version: str) -> None:
    data = np.linspace(-0.5, 2.25, 64 * 64, dtype="float32").reshape(64, 64)
    store = written_without_omero(tmp_path / "img.ome.zarr", version, data, "yx")
    session = EditSession.open(str(store))
    ranges = channel_ranges(session.hierarchy, "/s1", None, [0])
    session.apply(ome_add_omero(session, "/", ranges=ranges))
    (channel,) = _ns(session.attributes("/"))["omero"]["channels"]
    low, high = ranges[0]
    assert channel["color"] == "FFFFFF" and -0.5 <= low < high <= 2.25
    assert channel["window"] == pytest.approx({"min": low, "max": high, "start": low, "end": high}, rel=1e-11)
    session.undo()
    session.apply(ome_add_omero(session, "/"))  # no data range: floats have no range of their own
    assert _ns(session.attributes("/"))["omero"]["channels"][0]["window"] == {
        "min": 0.0, "max": 1.0, "start": 0.0, "end": 1.0}
    assert omero_issues(session) == []
    session.save()
    validate_with_ome_zarr_models(store, version)
    assert read_with_ome_zarr_py(store)["contrast_limits"] == [[0.0, 1.0]]


def test_default_colours_and_windows() -> None:
    assert default_channel_colours(1) == ["FFFFFF"]
    assert default_channel_colours(2) == ["FF00FF", "00FF00"]
    assert default_channel_colours(7) == ["00FFFF", "FFFF00", "FF00FF", "FF0000", "00FF00", "0000FF", "00FFFF"]
    assert default_window("int8") == {"min": -128, "max": 127, "start": -128, "end": 127}
    assert default_window("uint8", (3.2, 250.5)) == {"min": 0, "max": 255, "start": 3, "end": 251}
    # a constant (or empty: chunks never written) channel says nothing about contrast
    assert default_window("uint16", (7.0, 7.0)) == {"min": 0, "max": 65535, "start": 0, "end": 65535}
    assert default_window("bool") == {"min": 0, "max": 1, "start": 0, "end": 1}


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_channels_are_added_or_removed_to_match_the_channel_axis(tmp_path: Path, version: str) -> None:
    """One omero channel for a 2-channel image (napari-ome-zarr refuses it): the missing one is
    added in a colour not used yet; three are cut back to two; each is one undo step."""
    store = ome_image(tmp_path / "i.zarr", version)
    session = EditSession.open(str(store))
    with pytest.raises(EditError, match="has an omero block already"):
        ome_add_omero(session, "/")
    assert ome_match_channels(session, "/").leaves() == []  # two channels for two: nothing to do
    pointer = "/ome/omero/channels" if version == "0.5" else "/omero/channels"
    first = _ns(session.attributes("/"))["omero"]["channels"][0]
    session.set("/", pointer, [{**first, "color": "FF00FF"}])
    assert any(issue.startswith("warning: [interoperability] omero lists 1 channels but the channel axis has size "
                                "2: napari-ome-zarr refuses to open the image") for issue in omero_issues(session))
    session.apply(ome_match_channels(session, "/", ranges={1: (256.0, 511.0)}))
    assert session.history()[-1] == "add missing omero channel 1 to /"
    channels = _ns(session.attributes("/"))["omero"]["channels"]
    assert channels[1] == {"label": "Channel 1", "color": "00FF00", "active": True,
                           "window": {"min": 0, "max": 65535, "start": 256, "end": 511}}
    assert omero_issues(session) == []
    session.save()
    assert len(read_with_ome_zarr_py(store)["contrast_limits"]) == 2

    session.set("/", pointer, [*channels, {**first, "label": "extra"}])
    session.apply(ome_match_channels(session, "/"))
    assert session.history()[-1] == "remove extra omero channel 2 of /"
    assert _ns(session.attributes("/"))["omero"]["channels"] == channels
    session.undo()
    assert len(_ns(session.attributes("/"))["omero"]["channels"]) == 3


@pytest.mark.parametrize("dtype", ["uint16", "float32"])
def test_a_window_set_on_a_channel_without_one_gets_min_and_max(tmp_path: Path, dtype: str) -> None:
    """Setting start/end of a channel without a window wrote only start/end, which the schemas
    reject; min/max come from the data type (floats: the window itself), and can be set."""
    store = ome_image(tmp_path / "i.zarr", "0.4")
    if dtype != "uint16":
        for level in ("0", "1"):
            zarray = store / level / ".zarray"
            meta = json.loads(zarray.read_text())
            zarray.write_text(json.dumps({**meta, "dtype": "<f4", "fill_value": 0.0}))
    attrs = json.loads((store / ".zattrs").read_text())
    del attrs["omero"]["channels"][1]["window"]
    (store / ".zattrs").write_text(json.dumps(attrs))
    session = EditSession.open(str(store))
    session.apply(ome_set_channels(session, "/", [{}, {"window": {"start": 0.0, "end": 500.0}}]))
    window = _ns(session.attributes("/"))["omero"]["channels"][1]["window"]
    assert window == ({"start": 0.0, "end": 500.0, "min": 0, "max": 65535} if dtype == "uint16"
                      else {"start": 0.0, "end": 500.0, "min": 0.0, "max": 500.0})
    assert [i for i in session.new_issues(Severity.ERROR, Severity.WARNING)[0]] == []
    session.apply(ome_set_channels(session, "/", [{"window": {"min": 10, "max": 1000}}, {}]))
    assert _ns(session.attributes("/"))["omero"]["channels"][0]["window"] == {
        "min": 10, "max": 1000, "start": 0, "end": 100}
    for bad in ({"min": 5, "max": 1}, {"max": float("nan")}, {"gamma": 2}):
        with pytest.raises(EditError):
            ome_set_channels(session, "/", [{"window": bad}, {}])


def test_set_units_leaves_names_and_types_alone(tmp_path: Path) -> None:
    session = EditSession.open(str(ome_image(tmp_path / "i.zarr")))
    session.apply(ome_set_units(session, "/", {"y": "nanometer", 2: None}))
    assert _ns(session.attributes("/"))["multiscales"][0]["axes"] == [
        {"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "nanometer"},
        {"name": "x", "type": "space"}]
    assert session.changed_keys() == ["zarr.json"]  # no level's dimension_names


def test_omero_of_ome_ngff_0_6_stays_read_only(tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr")
    group = zarr.open_group(store, mode="r+")
    ome = group.attrs["ome"]
    group.attrs["ome"] = {**ome, "version": "0.6rc0"}
    session = EditSession.open(str(store))
    for build in (ome_add_omero, ome_match_channels):
        with pytest.raises(ReadOnlyFieldError):
            build(session, "/")
