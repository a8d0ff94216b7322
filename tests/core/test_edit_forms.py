"""Convention edits behind the editor's forms: axes, translation, channels, labels, plates, attributes."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
import zarr
from edit_stores import ome_image  # tests/edit_stores.py

from zarr_browser.core.editing import EditError, EditSession, NotLoadedError, ReadOnlyFieldError, SetValue
from zarr_browser.core.editing.conventions import (
    ome_set_axes,
    ome_set_channels,
    ome_set_label_colors,
    ome_set_label_properties,
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
    session.apply(ome_set_label_colors(session, "/", {3: [1, 1, 1, 255]}, remove=[1]))
    assert session.attributes("/")["image-label"]["colors"] == [
        {"label-value": 2, "rgba": [0, 0, 0, 0]}, {"label-value": 3, "rgba": [1, 1, 1, 255]}]
    with pytest.raises(EditError, match="both set and removed"):
        ome_set_label_colors(session, "/", {2: [1, 1, 1, 1]}, remove=[2])
    session.apply(ome_set_label_colors(session, "/", {}, remove=[2, 3]))  # none left: the list goes
    assert "colors" not in session.attributes("/")["image-label"]
    assert not ome_set_label_colors(session, "/", {}, remove=[7]).commands  # nothing to do
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


def _label_store(path: Path, properties: Any = None) -> Path:
    group = zarr.open_group(path, mode="w", zarr_format=2)
    block: dict[str, Any] = {"version": "0.4", "colors": [{"label-value": 1, "rgba": [1, 2, 3, 255]}],
                             "x-lab": {"kept": True}}
    if properties is not None:
        block["properties"] = properties
    group.attrs["image-label"] = block
    return path


def test_label_properties_one_step_keeping_order_and_unknown_entries(tmp_path: Path) -> None:
    store = _label_store(tmp_path / "l.zarr", [
        {"label-value": 1, "class": "a", "area": 5},
        {"label-value": 2, "class": "b"},
        {"note": "no label-value: not ours"},
        {"label-value": 4, "class": "d"},
    ])
    before = (store / ".zattrs").read_bytes()
    session = EditSession.open(str(store))
    session.apply(ome_set_label_properties(session, "/", {
        1: {"area": 7, "class": "z", "ok": True},  # "area" and "class" keep their places, "ok" comes after
        3: {"class": "c", "score": [1, 2.5]},  # new: appended
    }, remove=[2]))
    assert len(session.history()) == 1
    block = session.attributes("/")["image-label"]
    assert block["properties"] == [
        {"label-value": 1, "class": "z", "area": 7, "ok": True},
        {"note": "no label-value: not ours"},
        {"label-value": 4, "class": "d"},
        {"label-value": 3, "class": "c", "score": [1, 2.5]},
    ]
    assert list(block["properties"][0]) == ["label-value", "class", "area", "ok"]
    assert block["colors"] == [{"label-value": 1, "rgba": [1, 2, 3, 255]}] and block["x-lab"] == {"kept": True}
    session.save(force=True)  # the entry without label-value breaks the schema (it did before, at another index)
    on_disk = json.loads((store / ".zattrs").read_text())["image-label"]["properties"]
    assert [type(e.get("label-value")) for e in on_disk] == [int, type(None), int, int]
    assert '"label-value": 3' in (store / ".zattrs").read_text()  # an integer, not 3.0 or "3"
    # dropping a property from a label: the mapping is the label's complete set
    session.apply(ome_set_label_properties(session, "/", {1: {"class": "z"}}))
    assert session.attributes("/")["image-label"]["properties"][0] == {"label-value": 1, "class": "z"}
    assert not ome_set_label_properties(session, "/", {1: {"class": "z"}}).leaves(), "no change: an empty step"
    session.undo()
    session.undo()
    session.save(force=True)
    assert (store / ".zattrs").read_bytes() == before, "undo restores the document byte for byte"


def test_label_properties_created_when_absent_and_checked(tmp_path: Path) -> None:
    store = _label_store(tmp_path / "l.zarr")
    before = (store / ".zattrs").read_bytes()
    session = EditSession.open(str(store))
    assert not ome_set_label_properties(session, "/", {}).leaves()
    session.apply(ome_set_label_properties(session, "/", {1: {"class": "cell"}}))
    assert session.attributes("/")["image-label"]["properties"] == [{"label-value": 1, "class": "cell"}]
    bad: list[tuple[Any, dict[str, Any]]] = [
        ({True: {}}, {}), ({"1": {}}, {}), ({1.0: {}}, {}),  # label values are integers (not bools)
        ({1: {"label-value": 2}}, {}), ({1: {"": 1}}, {}), ({1: {3: "x"}}, {}),  # property names
        ({1: {"a": float("nan")}}, {}), ({1: {"a": object()}}, {}), ({1: {"a": (1, 2)}}, {}),  # JSON values
        ({1: {"a": {"b": float("inf")}}}, {}), ({1: "x"}, {}),
        ({}, {"remove": [9]}), ({1: {}}, {"remove": [1]}),  # nothing to remove; both set and removed
    ]
    for properties, kwargs in bad:
        with pytest.raises(EditError):
            ome_set_label_properties(session, "/", properties, **kwargs)
    with pytest.raises(EditError, match="not an OME-NGFF label image"):
        ome_set_label_properties(EditSession.open(str(ome_image(tmp_path / "i.zarr"))), "/", {1: {}})
    session.undo()
    assert not session.dirty and session.plan() == []
    session.save()
    assert (store / ".zattrs").read_bytes() == before


def test_memory_only_refuses_store_reads_on_its_thread_and_changes_nothing(tmp_path: Path) -> None:
    store = ome_image(tmp_path / "i.zarr")
    session = EditSession.open(str(store))
    assert not session.is_loaded("/0")
    with session.memory_only():
        with pytest.raises(NotLoadedError) as refused:
            session.set("/0", "/note", "x")
        assert refused.value.path == "/0"
        with pytest.raises(NotLoadedError):
            session.apply(SetValue("/attributes/x", 1, key="1/zarr.json"))
        assert not session.dirty and session.history() == []
        other: list[Any] = []
        worker = threading.Thread(target=lambda: other.append(session.load("/0").path))  # other threads may read
        worker.start()
        worker.join()
        assert other == ["/0"]
        session.set("/0", "/note", "x")  # loaded now: no I/O needed
        session.set("/", "/title", "t")
    assert session.changed_keys() == ["0/zarr.json", "zarr.json"]
    session.load("/1")  # outside the block: reads as usual


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_label_images_follow_the_pixel_size_units_and_translation_of_their_image(tmp_path: Path,
                                                                                 version: str) -> None:
    """Changing an image's pixel size left its labels at the old scale (no longer on the image in
    napari).  With ``labels=True`` they change by the same ratio, move by the same amount and
    take the image's units, on the axes of the same name; ome-zarr reads both placed alike."""
    import numpy as np
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image, write_labels

    from zarr_browser.core.editing.conventions import ome_label_units, ome_set_pixel_size

    fmt = FormatV04() if version == "0.4" else FormatV05()
    store = tmp_path / "image.ome.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=2 if version == "0.4" else 3)
    write_image(np.zeros((2, 64, 64), dtype="uint16"), group, axes="cyx", fmt=fmt, scale_factors=(2,))
    write_labels(np.zeros((32, 32), dtype="uint32"), group, name="cells", axes="yx", fmt=fmt, scale_factors=(2,))
    label = zarr.open_group(store / "labels" / "cells", mode="r+")
    attrs = label.attrs.asdict()  # the labels at half the image's resolution (a common layout)
    ms = (attrs["ome"] if version == "0.5" else attrs)["multiscales"][0]
    for k, dataset in enumerate(ms["datasets"]):
        dataset["coordinateTransformations"] = [{"type": "scale", "scale": [2.0 * 2**k, 2.0 * 2**k]}]
    label.attrs.put(attrs)
    session = EditSession.open(str(store))
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]
    session.apply(ome_set_pixel_size(session, "/", {"y": 0.325, "x": 0.5}, labels=True))
    session.apply(ome_set_axes(session, "/", axes))
    session.apply(ome_label_units(session, "/", axes))
    session.apply(ome_set_translation(session, "/", {"y": 10.0}, labels=True))
    session.save()

    def placement(path: Path) -> list[list[dict[str, Any]]]:
        read = zarr.open_group(path, mode="r").attrs.asdict()
        ms = (read["ome"] if version == "0.5" else read)["multiscales"][0]
        return [d["coordinateTransformations"] for d in ms["datasets"]], ms["axes"]

    image_levels, _ = placement(store)
    label_levels, label_axes = placement(store / "labels" / "cells")
    assert image_levels[0] == [{"type": "scale", "scale": [1.0, 0.325, 0.5]},
                               {"type": "translation", "translation": [0.0, 10.0, 0.0]}]
    assert label_levels[0] == [{"type": "scale", "scale": [0.65, 1.0]},
                               {"type": "translation", "translation": [10.0, 0.0]}]
    assert label_levels[1][0] == {"type": "scale", "scale": [1.3, 2.0]}
    assert [a.get("unit") for a in label_axes] == ["micrometer", "micrometer"]
    # without labels=True only the image changes
    session = EditSession.open(str(store))
    session.apply(ome_set_pixel_size(session, "/", {"y": 1.0}))
    assert session.changed_keys() == [".zattrs" if version == "0.4" else "zarr.json"]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_label_units_leave_an_axis_without_a_unit_alone(tmp_path: Path, version: str) -> None:
    """ome-zarr-py writes axes without units; the pixel-size form sends "" for them, and the
    labels' edit deleted a "unit" the label axis did not have: the whole edit was refused."""
    import numpy as np
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image, write_labels

    from zarr_browser.core.editing.conventions import ome_label_units

    fmt = FormatV04() if version == "0.4" else FormatV05()
    store = tmp_path / "image.ome.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=2 if version == "0.4" else 3)
    write_image(np.zeros((2, 4, 32, 32), dtype="uint16"), group, axes="czyx", fmt=fmt, scale_factors=())
    write_labels(np.zeros((4, 32, 32), dtype="uint32"), group, name="cells", axes="zyx", fmt=fmt, scale_factors=())
    session = EditSession.open(str(store))
    axes = [{"name": "c", "type": "channel", "unit": ""}, {"name": "z", "type": "space", "unit": ""},
            {"name": "y", "type": "space", "unit": "micrometer"}, {"name": "x", "type": "space", "unit": "micrometer"}]
    session.apply(ome_label_units(session, "/", axes))
    session.save()
    read = zarr.open_group(store / "labels" / "cells", mode="r").attrs.asdict()
    label_axes = (read["ome"] if version == "0.5" else read)["multiscales"][0]["axes"]
    assert [(a["name"], a.get("unit")) for a in label_axes] == [("z", None), ("y", "micrometer"), ("x", "micrometer")]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_label_images_follow_axis_renames_types_and_units(tmp_path: Path, version: str) -> None:
    """Renaming an image's axis left its label images on the old name (audit J, 4: the README and
    `edit --help` said they follow).  With ``labels=True`` the label axis of the same name takes
    the new name, type and unit (0.5: with every level's dimension_names); ome-zarr-py reads both."""
    import numpy as np
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader
    from ome_zarr.writer import write_image, write_labels

    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.editing.conventions import ome_rename_axis
    from zarr_browser.core.validate import validate_hierarchy

    fmt = FormatV04() if version == "0.4" else FormatV05()
    store = tmp_path / "image.ome.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=2 if version == "0.4" else 3)
    write_image(np.zeros((2, 64, 64), dtype="uint16"), group, axes="cyx", fmt=fmt, scale_factors=(2,))
    write_labels(np.zeros((64, 64), dtype="uint32"), group, name="cells", axes="yx", fmt=fmt, scale_factors=(2,))
    def errors() -> set[tuple[str, str]]:  # (ome-zarr-py 0.18 writes 5 label levels for 2 image levels: an error)
        report = validate_hierarchy(Hierarchy.open(str(store)), default_registry())
        return {(i.path, i.message) for i in report.errors}

    before = errors()
    session = EditSession.open(str(store))
    session.apply(ome_rename_axis(session, "/", "x", "col", labels=True))
    session.apply(ome_set_axes(session, "/", [{"name": "c", "type": "channel"},
                                              {"name": "row", "type": "space", "unit": "micrometer"},
                                              {"name": "col", "type": "space"}], labels=True))
    assert len(session.history()) == 2
    session.save()
    label = zarr.open_group(store / "labels" / "cells", mode="r").attrs.asdict()
    label_axes = (label["ome"] if version == "0.5" else label)["multiscales"][0]["axes"]
    assert label_axes == [{"name": "row", "type": "space", "unit": "micrometer"}, {"name": "col", "type": "space"}]
    if version == "0.5":
        levels = sorted((store / "labels" / "cells").glob("*/zarr.json"))
        assert levels and all(json.loads(p.read_text())["dimension_names"] == ["row", "col"] for p in levels)
    assert errors() == before
    nodes = list(Reader(parse_url(str(store / "labels" / "cells")))())
    assert nodes and [a["name"] for a in nodes[0].metadata["axes"]] == ["row", "col"]
    # without labels=True only the image changes
    session = EditSession.open(str(store))
    session.apply(ome_rename_axis(session, "/", "col", "x"))
    assert not [key for key in session.changed_keys() if key.startswith("labels/")]
