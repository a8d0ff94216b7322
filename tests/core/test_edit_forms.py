"""Convention edits behind the editor's forms: axes, translation, channels, labels, plates, attributes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zarr
from edit_stores import ome_image  # tests/edit_stores.py

from zarr_browser.core.editing import EditError, EditSession, ReadOnlyFieldError
from zarr_browser.core.editing.conventions import (
    ome_set_axes,
    ome_set_channels,
    ome_set_label_colors,
    ome_set_plate_names,
    ome_set_translation,
    set_attributes,
)
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.histogram import channel_histogram


def _ome(session: EditSession, path: str = "/") -> dict[str, Any]:
    attrs = session.attributes(path)
    return attrs.get("ome", attrs)


def test_set_axes_renames_retypes_and_rewrites_dimension_names(tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr")
    session = EditSession.open(str(store))
    session.apply(ome_set_axes(session, "/", [
        {"name": "ch", "type": "channel", "unit": None},
        {"name": "y", "type": "space", "unit": "nanometer"},
        {"name": "x", "type": "space", "unit": ""},
    ]))
    assert _ome(session)["multiscales"][0]["axes"] == [
        {"name": "ch", "type": "channel"}, {"name": "y", "type": "space", "unit": "nanometer"},
        {"name": "x", "type": "space"}]
    assert len(session.history()) == 1
    session.save()
    for k in range(2):
        assert json.loads((store / str(k) / "zarr.json").read_text())["dimension_names"] == ["ch", "y", "x"]
    with pytest.raises(EditError):
        ome_set_axes(session, "/", [{"name": "y"}, {"name": "y"}, {"name": "x"}])
    with pytest.raises(EditError):
        ome_set_axes(session, "/", [{"name": "y"}])


def test_set_translation_shifts_every_level(tmp_path: Path) -> None:
    session = EditSession.open(str(ome_image(tmp_path / "i.zarr", "0.4")))
    session.apply(ome_set_translation(session, "/", {"y": 10.0, "x": -2}))
    datasets = _ome(session)["multiscales"][0]["datasets"]
    assert [d["coordinateTransformations"][1]["translation"] for d in datasets] == [
        [0.0, 10.0, -2.0], [0.0, 10.25, -1.75]]
    with pytest.raises(EditError):
        ome_set_translation(session, "/", {"y": float("nan")})


def test_set_channels_keeps_window_range_and_other_keys(tmp_path: Path) -> None:
    session = EditSession.open(str(ome_image(tmp_path / "i.zarr")))
    session.apply(ome_set_channels(session, "/", [
        {"label": "DNA", "color": "0000ff", "active": False, "window": {"start": 5, "end": 50}},
        {"label": "b"},
    ]))
    channels = _ome(session)["omero"]["channels"]
    assert channels[0] == {"label": "DNA", "color": "0000FF", "active": False,
                           "window": {"min": 0, "max": 2047, "start": 5, "end": 50}}
    assert channels[1]["label"] == "b" and len(session.history()) == 1
    for bad in ({"color": "red"}, {"window": {"start": 9, "end": 1}}, {"active": "yes"}):
        with pytest.raises(EditError):
            ome_set_channels(session, "/", [bad, {}])


def test_label_colours_and_plate_names(tmp_path: Path) -> None:
    path = tmp_path / "l.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=2)
    group.attrs["image-label"] = {"version": "0.4", "colors": [{"label-value": 1, "rgba": [1, 2, 3, 255]}]}
    group.attrs["plate"] = {"name": "p", "rows": [{"name": "A"}], "columns": [{"name": "1"}],
                            "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}],
                            "acquisitions": [{"id": 0, "name": "first"}]}
    session = EditSession.open(str(path))
    session.apply(ome_set_label_colors(session, "/", {1: [9, 9, 9, 255], 2: [0, 0, 0, 0]}))
    assert session.attributes("/")["image-label"]["colors"] == [
        {"label-value": 1, "rgba": [9, 9, 9, 255]}, {"label-value": 2, "rgba": [0, 0, 0, 0]}]
    with pytest.raises(EditError):
        ome_set_label_colors(session, "/", {1: [300, 0, 0, 0]})
    session.apply(ome_set_plate_names(session, "/", name="renamed", acquisitions={0: "second"}))
    plate = session.attributes("/")["plate"]
    assert plate["name"] == "renamed" and plate["acquisitions"][0]["name"] == "second"
    with pytest.raises(EditError):
        ome_set_plate_names(session, "/", acquisitions={3: "x"})


def test_set_attributes_sets_and_deletes_in_one_step(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("t", shape=(3,), dtype="f4", attributes={"units": "K", "comment": "x"})
    session = EditSession.open(str(path))
    session.apply(set_attributes(session, "/t", {"units": "degC", "long_name": "temperature", "comment": None}))
    assert session.attributes("/t") == {"units": "degC", "long_name": "temperature"}
    assert len(session.history()) == 1
    with pytest.raises(ReadOnlyFieldError):
        set_attributes(session, "/t", {"_nczarr_attr": {}})


def test_channel_histogram_reads_one_channel_of_the_lowest_level(tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr")
    hierarchy = Hierarchy.open(str(store))
    histogram = channel_histogram(hierarchy, "/1", 0, 1, bins=16)
    assert sum(histogram.counts) == 16 * 16
    assert histogram.minimum == 256 and histogram.maximum == 511  # channel 1 of arange(2*16*16)
    assert len(histogram.edges) == 17
