"""Layer mapping (no viewer): conventions → LayerSpecs, and side by side with napari-ome-zarr.

The acceptance comparison opens the same OME-Zarr 0.4 and 0.5 images, labels and plates
(written by ome-zarr) with napari-ome-zarr's reader and with ours and compares what a user
sees: scale, translate, channel names, colormaps (the colour at 1.0), contrast limits, axis
labels, units and the pixels of every level.  Where napari-ome-zarr departs from the spec the
test says so and follows the spec.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zarr_browser._reader import layer_data
from zarr_browser.core.conventions import default_registry
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.validate import HierarchyContext
from zarr_browser.streaming import LayerPlan, LevelArray, layer_plan
from zarr_browser.streaming.display import DisplayLevel
from zarr_browser.streaming.levels import normalize_key

VERSIONS = ["0.4", "0.5"]


def plan(path: Path | str, node: str = "/", **kwargs: Any) -> LayerPlan:
    registry = default_registry()
    hierarchy = Hierarchy.open(str(path), hints=registry.child_hints)
    return layer_plan(hierarchy, hierarchy.node(node), registry, HierarchyContext(hierarchy), **kwargs)


def blocking(data: Any) -> Any:
    """The blocking level behind what napari gets (napari's own reads never wait)."""
    return data.level if isinstance(data, DisplayLevel) else data


def ours(path: Path) -> list[tuple[Any, dict[str, Any], str]]:
    """Our napari LayerData for the root of *path* (what the reader returns)."""
    return [item for spec in plan(path).specs for item in layer_data(spec)]


def theirs(path: Path) -> list[tuple[Any, dict[str, Any], str]]:
    """napari-ome-zarr's LayerData for *path*."""
    from napari_ome_zarr._reader import napari_get_reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return napari_get_reader(str(path))(str(path))


def colour_at_one(colormap: Any) -> list[float]:
    from napari.utils.colormaps import ensure_colormap

    return [round(float(v), 4) for v in ensure_colormap(colormap).map(np.array([1.0]))[0]]


def translate_of(meta: dict[str, Any]) -> list[float]:
    """napari-ome-zarr puts the translation in an ``affine`` next to ``scale``."""
    affine = meta.get("affine")
    return [float(v) for v in affine.translate] if affine is not None else [0.0] * len(meta["scale"])


# -- OME images and labels -------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_ome_image_maps_channels_axes_and_labels(stores: Any, version: str) -> None:
    result = plan(stores.image(version))
    assert [s.layer_type for s in result.specs] == ["image", "labels"]
    image, labels = result.specs
    assert [level.shape for level in image.levels] == [(2, 64, 96), (2, 32, 48), (2, 16, 24)]
    kw = image.kwargs
    assert kw["multiscale"] is True
    assert kw["channel_axis"] == 0
    assert kw["name"] == ["image: DAPI", "image: GFP"]
    assert kw["colormap"] == ["#0000FF", "#00FF00"]
    assert kw["contrast_limits"] == [(10.0, 900.0), (20.0, 800.0)]
    assert kw["metadata"]["zarr_browser"]["contrast_ranges"] == [(0.0, 1000.0), (0.0, 1000.0)]
    assert kw["visible"] == [True, False]
    assert kw["scale"] == (0.5, 0.25)
    assert kw["translate"] == (0.0, 0.0)
    assert kw["axis_labels"] == ("y", "x")
    assert kw["units"] == ("micrometer", "micrometer")
    assert kw["metadata"]["zarr_browser"]["path"] == "/"

    assert labels.path == "/labels/cells"
    assert labels.kwargs["name"] == "image: cells"
    assert labels.kwargs["scale"] == (0.5, 0.25)
    # ome-zarr writes the label axes without units: they take the units of the image's y and x
    assert labels.kwargs["units"] == ("micrometer", "micrometer")
    assert labels.kwargs["colors"] == {1: (1.0, 0.0, 0.0, 1.0), 2: (0.0, 1.0, 0.0, 128 / 255)}
    assert labels.kwargs["features"] == {"index": [1, 2], "class": ["a", "b"], "area": [200, 400]}
    assert [level.shape for level in labels.levels] == [(64, 96), (32, 48), (16, 24)]


@pytest.mark.parametrize("version", VERSIONS)
def test_translation_and_global_transformations_follow_the_spec(stores: Any, version: str) -> None:
    # level 0: scale (0.5, 0.25), translation (3, 4); then the global scale (2, 2) and
    # translation (10, 20) apply after it (§3.3): x' = gs * (ls * x + lt) + gt
    path = stores.image(version, labels=False, translation=(3.0, 4.0), global_transforms=[
        {"type": "scale", "scale": [1.0, 2.0, 2.0]}, {"type": "translation", "translation": [0.0, 10.0, 20.0]}])
    (spec,) = plan(path).specs
    assert spec.kwargs["scale"] == (1.0, 0.5)
    assert spec.kwargs["translate"] == (16.0, 28.0)

    (their_image,) = theirs(path)
    meta = their_image[1]
    assert meta["scale"] == [1.0, 0.5]  # the scales agree
    # napari-ome-zarr departs from the spec here: it keeps only the first transformation of
    # datasets[0] (the scale, dropping its translation) and only the first global one (the
    # scale, dropping the global translation), so the image is not moved at all
    assert translate_of(meta) == [0.0, 0.0]


@pytest.mark.parametrize("version", VERSIONS)
def test_integers_too_large_for_a_float_are_ignored_not_raised(stores: Any, version: str) -> None:
    """A translation, a window end and a label-value of 10**400 (legal JSON numbers): the plan
    ignores them where math.isfinite() raised OverflowError (audit L, 1); napari-ome-zarr crashes."""
    import zarr

    from tests.napari.conftest import ome_namespace

    path = stores.image(version, translation=(3.0, 4.0))
    root = zarr.open_group(str(path), mode="r+")
    ns, save = ome_namespace(root)
    ns["multiscales"][0]["datasets"][0]["coordinateTransformations"][1]["translation"][2] = 10**400
    ns["omero"]["channels"][0]["window"]["end"] = 10**400
    save(ns)
    cells = root["labels/cells"]
    label_ns, save_label = ome_namespace(cells)  # type: ignore[arg-type]
    label_ns["image-label"]["colors"][0]["label-value"] = 10**400
    save_label(label_ns)
    image, labels = plan(path).specs
    assert image.kwargs["translate"] == (0.0, 0.0)  # the translation vector is unusable: none is applied
    assert image.kwargs["contrast_limits"][0] is None and image.kwargs["contrast_limits"][1] == (20.0, 800.0)
    assert list(labels.kwargs["colors"]) == [2]


@pytest.mark.parametrize("version", VERSIONS)
def test_side_by_side_with_napari_ome_zarr_image_and_labels(stores: Any, version: str) -> None:
    path = stores.image(version)
    mine = ours(path)
    their_image, their_labels = theirs(path)
    data, meta, layer_type = their_image
    assert layer_type == "image"
    channel_axis = meta["channel_axis"]
    my_images = [ld for ld in mine if ld[2] == "image"]
    assert len(my_images) == len(meta["name"]) == 2
    for i, (my_data, my_meta, _) in enumerate(my_images):
        assert my_meta["name"] == meta["name"][i]
        assert my_meta["scale"] == tuple(meta["scale"])
        assert list(my_meta["translate"]) == translate_of(meta)
        assert my_meta["axis_labels"] == meta["axis_labels"]
        assert my_meta["units"] == meta["units"]
        assert colour_at_one(my_meta["colormap"]) == colour_at_one(meta["colormap"][i])
        assert my_meta["contrast_limits"] == list(meta["contrast_limits"][i])
        assert my_meta["visible"] == meta["visible"][i]
        assert len(my_data) == len(data)
        for mine_level, their_level in zip(my_data, data, strict=True):
            expected = np.take(np.asarray(their_level), i, axis=channel_axis)
            np.testing.assert_array_equal(np.asarray(blocking(mine_level)), expected)

    (my_labels_data, my_labels_meta, my_type) = next(ld for ld in mine if ld[2] == "labels")
    labels_data, labels_meta, labels_type = their_labels
    assert my_type == labels_type == "labels"
    assert my_labels_meta["scale"] == tuple(labels_meta["scale"])
    assert my_labels_meta["axis_labels"] == labels_meta["axis_labels"]
    for value, rgba in labels_meta["colormap"].items():
        assert my_labels_meta["colormap"][value] == pytest.approx(rgba)
    features = my_labels_meta["features"]
    for key, column in labels_meta["properties"].items():
        assert dict(zip(features["index"], features[key], strict=True)) == dict(
            zip(labels_meta["properties"]["index"], column, strict=True))
    for mine_level, their_level in zip(my_labels_data, labels_data, strict=True):
        np.testing.assert_array_equal(np.asarray(blocking(mine_level)), np.asarray(their_level))
    # differences by design, not by spec: we name the label layer "<image>: <label>" (napari-ome-zarr
    # "labels/labels/cells"), show it (napari-ome-zarr hides it) and draw label values that
    # image-label.colors does not list in grey (napari-ome-zarr makes them transparent)
    assert my_labels_meta["name"] == "image: cells"
    assert my_labels_meta["visible"] is True
    assert 3 not in labels_meta["colormap"] and my_labels_meta["colormap"][None] == (0.5, 0.5, 0.5, 1.0)


@pytest.mark.parametrize("version", VERSIONS)
def test_side_by_side_with_napari_ome_zarr_plate(stores: Any, version: str) -> None:
    path = stores.plate(version, labels=True)
    mine = ours(path)
    their_plate, their_labels = theirs(path)
    data, meta, _ = their_plate
    my_images = [ld for ld in mine if ld[2] == "image"]
    # napari-ome-zarr names the channels after the first field's multiscale ("image", ome-zarr's
    # default for every image); ours after the plate, as its labels layer
    assert meta["name"] == ["image: DAPI", "image: GFP"]
    assert [m["name"] for _, m, _ in my_images] == ["plate: DAPI", "plate: GFP"]
    assert next(m["name"] for _, m, t in mine if t == "labels") == "plate: cells"
    for i, (my_data, my_meta, _) in enumerate(my_images):
        # both stitch every level of the first field of each well: a multiscale mosaic
        assert [d.shape for d in my_data] == [d.shape[1:] for d in data]
        assert my_meta["scale"] == pytest.approx(tuple(meta["scale"]))
        assert my_meta["axis_labels"] == meta["axis_labels"]
        assert colour_at_one(my_meta["colormap"]) == colour_at_one(meta["colormap"][i])
        assert my_meta["contrast_limits"] == list(meta["contrast_limits"][i])
        for mine_level, their_level in zip(my_data, data, strict=True):
            np.testing.assert_array_equal(np.asarray(blocking(mine_level)), np.asarray(their_level)[i])
    my_labels, my_labels_meta, _ = next(ld for ld in mine if ld[2] == "labels")
    their_labels_data, their_labels_meta, _ = their_labels
    assert [d.shape for d in my_labels] == [d.shape for d in their_labels_data]
    assert my_labels_meta["scale"] == pytest.approx(tuple(their_labels_meta["scale"]))
    for mine_level, their_level in zip(my_labels, their_labels_data, strict=True):
        np.testing.assert_array_equal(np.asarray(blocking(mine_level)), np.asarray(their_level))


# -- plates ----------------------------------------------------------------------------------


def test_plate_mosaic_reads_only_the_wells_a_region_touches(stores: Any) -> None:
    result = plan(stores.plate("0.5"))
    (spec,) = result.specs
    assert [level.shape for level in spec.levels] == [(2, 2 * 32, 3 * 48), (2, 2 * 16, 3 * 24), (2, 2 * 8, 3 * 12)]
    assert spec.kwargs["multiscale"] is True
    mosaic = spec.levels[-1]  # 2 rows × 3 columns of 8 × 12 tiles (level 2 of 32 × 48 fields)
    meta = spec.kwargs["metadata"]["zarr_browser"]["plate"]
    assert meta["wells"] == {"/A/1": [0, 0], "/A/3": [0, 2], "/B/2": [1, 1]}
    source = mosaic.source
    assert source.opened_cells() == []  # building the layer opened no well
    region = mosaic[0, 0:8, 24:36]  # exactly the tile of well A/3
    assert source.opened_cells() == [(0, 2)]
    assert region.shape == (8, 12) and region.any()
    np.testing.assert_array_equal(mosaic[:, 8:16, 0:12], 0)  # B/1 has no well: zeros, nothing opened
    assert source.opened_cells() == [(0, 2)]
    assert sorted(result.others) == ["/A/1", "/A/3", "/B/2"]


def test_well_with_several_fields_opens_as_a_mosaic_of_its_fields(stores: Any) -> None:
    import zarr

    path = stores.plate("0.4", labels=True, fields=3)
    result = plan(path, "/A/1")
    image, labels = result.specs
    assert (image.role, labels.role) == ("well", "well-labels")
    assert image.kwargs["name"] == ["plate/A/1: DAPI", "plate/A/1: GFP"]
    assert labels.kwargs["name"] == "plate/A/1: cells"
    meta = image.kwargs["metadata"]["zarr_browser"]["well"]
    assert (meta["rows"], meta["columns"]) == (2, 2)  # 3 fields, nearly square, in the well's order
    assert meta["fields"] == {"/A/1/0": [0, 0], "/A/1/1": [0, 1], "/A/1/2": [1, 0]}
    assert "3 fields (0, 1, 2) are shown side by side, 2 × 2" in result.notes[0]
    assert result.others == ("/A/1/0", "/A/1/1", "/A/1/2")
    full = image.levels[0]
    assert full.shape == (2, 64, 96) and image.kwargs["scale"] == (0.5, 0.5)  # the field's own placement
    source = full.source
    assert source.opened_cells() == []  # building the layer opened no field
    field_1 = zarr.open_array(str(path / "A" / "1" / "1" / "s0"), mode="r")[...]
    np.testing.assert_array_equal(blocking(full)[:, 0:32, 48:96], field_1)  # the tile of field 1, as stored
    assert source.opened_cells() == [(0, 1)]
    np.testing.assert_array_equal(blocking(full)[:, 32:64, 48:96], 0)  # no fourth field: zeros, nothing opened
    assert source.opened_cells() == [(0, 1)]
    cells = zarr.open_array(str(path / "A" / "1" / "2" / "labels" / "cells" / "s0"), mode="r")[...]
    np.testing.assert_array_equal(blocking(labels.levels[0])[32:64, 0:48], cells)

    well = zarr.open_group(str(path / "A" / "1"), mode="a")  # a field listed but missing: named, its cell empty
    well.attrs["well"] = {"images": [{"path": "0"}, {"path": "1"}, {"path": "7"}], "version": "0.4"}
    full = plan(path, "/A/1").specs[0].levels[0]
    np.testing.assert_array_equal(blocking(full)[:, 32:64, 0:48], 0)
    assert [(p.key, p.message) for p in full.source.problems()] == [("/A/1/7", "listed in the well but missing")]

    well.attrs["well"] = {"images": [{"path": "7"}, {"path": "8"}], "version": "0.4"}  # none there: nothing
    nothing = plan(path, "/A/1")
    assert nothing.specs == () and "none of the well's 2 fields is a readable image" in nothing.problems[0]
    zarr.open_group(str(path / "B" / "2"), mode="a").attrs["well"] = {"images": [{"path": "1"}], "version": "0.4"}
    single = plan(path, "/B/2")  # one field: it is the image, at full resolution
    assert [(s.path, s.levels[0].shape) for s in single.specs if s.layer_type == "image"] == [("/B/2/1", (2, 32, 48))]


# -- bioformats2raw --------------------------------------------------------------------------


def test_bf2raw_collection_lists_its_series_and_opens_none(stores: Any) -> None:
    result = plan(stores.bf2raw(3))
    assert result.specs == ()
    assert "3 images" in result.notes[0] and "series 0, 1, 2" in result.notes[0]
    assert result.others == ("/0", "/1", "/2")


def test_bf2raw_with_one_series_opens_it(stores: Any) -> None:
    result = plan(stores.bf2raw(1))
    assert [s.path for s in result.specs] == ["/0"]
    assert result.specs[0].kwargs["name"] == ["bf2raw/0: DAPI", "bf2raw/0: GFP"]  # the series, not "image"


# -- plain arrays and groups -----------------------------------------------------------------


def test_xarray_dataset_arrays_get_dims_and_scale_from_regular_coordinates(stores: Any) -> None:
    result = plan(stores.xarray())
    by_name = {s.kwargs["name"]: s for s in result.specs}
    assert set(by_name) == {"dataset/temperature", "dataset/mask"}  # 1-D coordinates are not images
    temperature = by_name["dataset/temperature"].kwargs
    assert temperature["axis_labels"] == ("time", "lat", "lon")
    assert temperature["scale"] == pytest.approx((1.0, 10.0, 4.0))
    assert temperature["translate"] == pytest.approx((0.0, -45.0, 0.0))
    assert temperature["units"] == (None, "degrees_north", "degrees_east")
    assert by_name["dataset/mask"].kwargs["axis_labels"] == ("lat", "lon")
    # pint does not know CF's "degrees_north" / "degrees_east": the glue gives napari degrees
    (_, kwargs, _), = layer_data(by_name["dataset/temperature"])
    assert kwargs["units"] == (None, "degree", "degree")


def test_plain_v3_array_with_dimension_names(stores: Any) -> None:
    (spec,) = plan(stores.v3_array()).specs
    assert spec.kwargs["axis_labels"] == ("z", "y", "x")
    assert spec.kwargs["scale"] == (1.0, 1.0, 1.0)
    assert spec.kwargs["multiscale"] is False and spec.kwargs["rgb"] is False
    assert spec.levels[0][3, 39, 49] == 4 * 40 * 50 - 1


def test_group_without_image_conventions_opens_image_like_arrays_up_to_a_limit(stores: Any) -> None:
    result = plan(stores.plain_group(n_images=3))
    assert [s.kwargs["name"] for s in result.specs] == ["group/img0", "group/img1", "group/img2"]
    assert result.others == ()
    crowded = plan(stores.plain_group("crowded.zarr", n_images=10), max_arrays=8)
    assert len(crowded.specs) == 8
    assert crowded.others == ("/img8", "/img9")
    assert "10 image-like arrays" in crowded.notes[0]


def test_pickle_codec_array_is_refused_and_no_code_runs(stores: Any) -> None:
    array, marker = stores.pickle_array()
    result = plan(array.parent, "/x")
    assert result.specs == ()
    assert "'pickle' is refused" in result.problems[0]
    group = plan(array.parent)  # as one array of a group: left out with the same message
    assert group.specs == () and "'pickle' is refused" in group.problems[0]
    assert not marker.exists()


# -- layer names -----------------------------------------------------------------------------


def _names(path: Path | str, node: str = "/") -> list[str]:
    return [name for spec in plan(path, node).specs for name in spec.names]


def test_layers_are_named_by_their_store_and_where_they_are_in_it(stores: Any, tmp_path: Path) -> None:
    """Nodes below the root had bare names (cells, s0, temperature; the labels of two wells were
    cells and cells [1]) and a zip was named img.ome.zarr where its folder was img (audit G, 11).
    The image at the root keeps its names (napari-ome-zarr's ``<name>: <channel>``)."""
    import shutil
    import zipfile

    image = stores.image("0.5")
    assert _names(image) == ["image: DAPI", "image: GFP", "image: cells"]
    # its labels, however opened, are named as the image names them
    assert _names(image, "/labels") == _names(image, "/labels/cells") == ["image: cells"]
    assert _names(image, "/s0") == ["image/s0"]  # a pyramid level: where it is
    archive = tmp_path / "image.ome.zarr.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(image.rglob("*")):
            zf.write(file, file.relative_to(image).as_posix())
    assert _names(archive) == _names(image) and _names(archive, "/labels/cells") == ["image: cells"]

    plate = stores.plate("0.5", labels=True)
    assert _names(plate) == ["plate: DAPI", "plate: GFP", "plate: cells"]
    assert _names(plate, "/A/3") == _names(plate, "/A/3/0") == ["plate/A/3/0: DAPI", "plate/A/3/0: GFP",
                                                                 "plate/A/3/0: cells"]
    assert _names(plate, "/A/3/0/labels/cells") == ["plate/A/3/0: cells"]
    assert _names(plate, "/B/2/0/labels") == ["plate/B/2/0: cells"]  # another well's: another name

    dataset = stores.xarray()
    assert _names(dataset) == ["dataset/mask", "dataset/temperature"]
    assert _names(dataset, "/temperature") == ["dataset/temperature"]

    # an image in a group named like a store, opened from the group (napari opens coll.zarr/x.ome.zarr so)
    collection = tmp_path / "coll.zarr"
    import zarr

    zarr.open_group(str(collection), mode="w", zarr_format=3)
    shutil.copytree(image, collection / "x.ome.zarr")
    assert _names(collection, "/x.ome.zarr") == ["x: DAPI", "x: GFP", "x: cells"]
    assert _names(collection, "/x.ome.zarr/labels/cells") == ["x: cells"]
    assert _names(collection, "/x.ome.zarr/s0") == ["x/s0"]


@pytest.mark.parametrize(("url", "name"), [
    ("/data/img.ome.zarr", "img"), ("/data/img.ome.zarr/", "img"), ("/data/img.ome.zarr.zip", "img"),
    ("/data/img.ozx", "img"), ("https://host:8000/data/img.ome.zarr", "img"), ("s3://bucket/img.ome.zarr", "img"),
    ("s3://bucket/img.zarr.zip", "img"), ("https://host/img.zarr?X-Amz-Signature=1", "img"), ("s3://bucket", "bucket"),
    ("/data/.zarr", ".zarr"),
])
def test_a_store_is_named_alike_wherever_it_is_read_from(url: str, name: str) -> None:
    """A folder, its zip, its copies on HTTP and S3: the same name (the layer's metadata and the dock
    say where it was read from)."""
    from zarr_browser.streaming.layers import _store_name

    assert _store_name(url) == name


# -- the demo --------------------------------------------------------------------------------


def test_demo_stores(small_demo: Path) -> None:
    cells = plan(small_demo / "cells.ome.zarr").specs
    assert [s.layer_type for s in cells] == ["image", "labels"]
    assert cells[0].kwargs["name"] == ["cells: DAPI", "cells: Membrane", "cells: Spots"]
    assert cells[0].kwargs["colormap"] == ["#0000FF", "#00FF00", "#FF00FF"]
    assert cells[0].kwargs["scale"] == (0.325, 0.325)
    assert cells[1].kwargs["name"] == "cells: nuclei" and len(cells[1].kwargs["colors"]) > 5
    plate = plan(small_demo / "plate.ome.zarr").specs
    assert [s.role for s in plate] == ["plate"] and plate[0].levels[-1].shape == (2, 256, 384)
    climate = plan(small_demo / "climate.zarr").specs
    assert [s.kwargs["name"] for s in climate] == ["climate/temperature"]
    assert climate[0].kwargs["scale"] == pytest.approx((30.0, 178 / 89, 358 / 179))


# -- laziness --------------------------------------------------------------------------------


def test_building_layers_reads_metadata_only(stores: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from zarr_browser.core import store as store_module

    path = stores.image("0.5")
    keys: list[str] = []
    original = store_module.GuardedStore.get

    async def recording_get(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        keys.append(key)
        return await original(self, key, *args, **kwargs)

    monkeypatch.setattr(store_module.GuardedStore, "get", recording_get)
    data = ours(path)
    chunk_keys = [k for k in keys if k.rsplit("/", 1)[-1] not in ("zarr.json", ".zattrs", ".zgroup", ".zarray")]
    # building the layers reads the lowest level ahead (napari computes contrast and draws it
    # first); no other pixels
    assert chunk_keys and all(f"/{k}".split("/c/")[0].endswith("/s2") for k in chunk_keys), chunk_keys
    lowest = data[0][0][-1]
    assert lowest.shape == (16, 24)
    keys.clear()
    np.asarray(lowest)
    assert keys == []  # served from the decoded-chunk cache


# -- LevelArray ------------------------------------------------------------------------------


@pytest.fixture
def level_and_truth(tmp_path: Path) -> tuple[LevelArray, np.ndarray]:
    import zarr

    truth = np.arange(3 * 20 * 30, dtype="int32").reshape(3, 20, 30)
    array = zarr.create_array(str(tmp_path / "a.zarr"), shape=truth.shape, chunks=(1, 8, 8), shards=(1, 16, 16),
                              dtype="int32")
    array[...] = truth
    hierarchy = Hierarchy.open(str(tmp_path / "a.zarr"))
    return LevelArray.open(hierarchy.access, hierarchy.root), truth


@pytest.mark.parametrize("key", [
    (0,), (-1, 5), (slice(None), 3, slice(2, 9)), (Ellipsis, 4), (1, slice(None, None, 3), slice(25, 2, -4)),
    (slice(None), slice(19, None, -1)), (np.int64(2), Ellipsis, np.int32(0)), (slice(5, 2),),
])
def test_level_array_indexes_like_numpy(level_and_truth: tuple[LevelArray, np.ndarray], key: Any) -> None:
    level, truth = level_and_truth
    result = level[key]
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, truth[key])


def test_level_array_protocol_take_and_dask(level_and_truth: tuple[LevelArray, np.ndarray]) -> None:
    level, truth = level_and_truth
    assert (level.shape, level.dtype, level.ndim, len(level)) == (truth.shape, truth.dtype, 3, 3)
    np.testing.assert_array_equal(np.asarray(level), truth)
    channel = level.take(0, 2)
    assert channel.shape == (20, 30)
    np.testing.assert_array_equal(channel[3:7, ::5], truth[2, 3:7, ::5])
    np.testing.assert_array_equal(channel.take(1, -1)[...], truth[2, :, -1])
    lazy = level.to_dask()
    assert lazy.chunksize == (1, 16, 16)  # one dask chunk per stored object (a shard here)
    np.testing.assert_array_equal(lazy.compute(), truth)
    np.testing.assert_array_equal(channel.to_dask().compute(), truth[2])
    with pytest.raises(IndexError):
        level[3]
    with pytest.raises(TypeError):
        level[[0, 1]]


def test_normalize_key_rejects_two_ellipses() -> None:
    with pytest.raises(IndexError):
        normalize_key((Ellipsis, Ellipsis), (2, 2))


def test_five_dimensional_image_splits_channels_lazily(tmp_path: Path) -> None:
    import zarr
    from ome_zarr.writer import write_image

    pixels = np.random.default_rng(3).integers(0, 500, (2, 3, 4, 32, 32)).astype("uint16")
    root = zarr.open_group(str(tmp_path / "tczyx.ome.zarr"), mode="w", zarr_format=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_image(pixels, root, axes=["t", "c", "z", "y", "x"], scale_factors=(2,),
                    scale={"t": 1.0, "c": 1.0, "z": 2.0, "y": 0.5, "x": 0.5},
                    axes_units={"t": "second", "z": "micrometer", "y": "micrometer", "x": "micrometer"})
    (spec,) = plan(tmp_path / "tczyx.ome.zarr").specs
    assert spec.kwargs["channel_axis"] == 1
    assert spec.kwargs["axis_labels"] == ("t", "z", "y", "x")
    assert spec.kwargs["scale"] == (1.0, 2.0, 0.5, 0.5)
    assert spec.kwargs["units"] == ("second", "micrometer", "micrometer", "micrometer")
    layers = layer_data(spec)
    assert [kw["name"] for _, kw, _ in layers] == ["tczyx: channel_0", "tczyx: channel_1", "tczyx: channel_2"]
    assert [kw["colormap"] for _, kw, _ in layers] == ["cyan", "magenta", "yellow"]  # napari's defaults
    third = layers[2][0]
    assert third[0].shape == (2, 4, 32, 32)
    np.testing.assert_array_equal(blocking(third[0])[1, 2], pixels[1, 2, 2])


def test_labels_with_a_channel_of_one_line_up_with_the_image_split_by_channel(tmp_path: Path) -> None:
    """ome-zarr-py writes tczyx labels (c = 1) for a tczyx image.  The image's layers, one per
    channel, are tzyx; labels kept 5-D put the image's t on the viewer's c slider (audit A)."""
    import zarr
    from ome_zarr.writer import write_image, write_labels

    pixels = np.random.default_rng(4).integers(0, 500, (2, 3, 4, 32, 32)).astype("uint16")
    labels = np.zeros((2, 1, 4, 32, 32), dtype="uint8")
    labels[1, 0, 2, 8:16, 8:16] = 7
    root = zarr.open_group(str(tmp_path / "img.ome.zarr"), mode="w", zarr_format=3)
    scale = {"t": 60.0, "c": 1.0, "z": 2.0, "y": 0.5, "x": 0.5}
    units = {"t": "second", "z": "micrometer", "y": "micrometer", "x": "micrometer"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_image(pixels, root, axes=["t", "c", "z", "y", "x"], scale_factors=(2,), scale=scale, axes_units=units)
        write_labels(labels, root, name="cells", axes=["t", "c", "z", "y", "x"], scale_factors=(2,), scale=scale)
    image, cells = plan(tmp_path / "img.ome.zarr").specs
    assert cells.role == "labels"
    for key in ("axis_labels", "scale", "units"):
        assert cells.kwargs[key] == image.kwargs[key], key
    assert cells.data[0].shape == (2, 4, 32, 32) and all(level.ndim == 4 for level in cells.data)
    np.testing.assert_array_equal(blocking(cells.data[0])[1, 2], labels[1, 0, 2])

    alone = plan(tmp_path / "img.ome.zarr", "/labels/cells").specs[0]  # opened by itself: no c slider either
    assert alone.kwargs["axis_labels"] == ("t", "z", "y", "x")


def test_plate_labels_with_a_channel_of_one_line_up_with_the_plate_split_by_channel(tmp_path: Path) -> None:
    """The same for a plate's labels mosaic (ome-zarr-py wells with tczyx fields and labels)."""
    import zarr
    from ome_zarr.writer import write_image, write_labels, write_plate_metadata, write_well_metadata

    root = zarr.open_group(str(tmp_path / "plate.ome.zarr"), mode="w", zarr_format=3)
    axes = ["t", "c", "z", "y", "x"]
    labels = np.zeros((2, 1, 3, 16, 16), dtype="uint8")
    labels[1, 0, 2, 4:8, 4:8] = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_plate_metadata(root, ["A"], ["1", "2"], ["A/1", "A/2"])
        for column in ("1", "2"):
            well = root.require_group("A").require_group(column)
            write_well_metadata(well, [{"path": "0"}])
            field = well.require_group("0")
            write_image(np.ones((2, 2, 3, 16, 16), dtype="uint16"), field, axes=axes, scale_factors=(2,))
            write_labels(labels, field, name="cells", axes=axes, scale_factors=(2,))
    image, cells = plan(tmp_path / "plate.ome.zarr").specs
    assert image.kwargs["channel_axis"] == 1 and cells.role == "plate-labels"
    assert cells.kwargs["axis_labels"] == image.kwargs["axis_labels"] == ("t", "z", "y", "x")
    assert cells.data[0].shape == (2, 3, 16, 32)  # one row of two wells, c dropped
    np.testing.assert_array_equal(blocking(cells.data[0])[1, 2, :, 16:], labels[1, 0, 2])


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_huge_array_without_a_pyramid_is_declined_with_a_note(tmp_path: Path, zarr_format: int) -> None:
    import zarr

    zarr.create_array(str(tmp_path / "huge.zarr"), shape=(10**6, 10**6), chunks=(1024, 1024), dtype="uint8",
                      fill_value=7, zarr_format=zarr_format)  # metadata only: 954,529 chunks per plane
    result = plan(tmp_path / "huge.zarr")
    assert result.specs == ()
    (note,) = result.notes
    assert "1,000,000 × 1,000,000 plane" in note and "954,529 chunks" in note and "too large" in note
    zarr.create_array(str(tmp_path / "stack.zarr"), shape=(10**4, 512, 512), chunks=(1, 256, 256), dtype="uint16",
                      zarr_format=zarr_format)  # a long stack of small planes is fine
    (spec,) = plan(tmp_path / "stack.zarr").specs
    assert spec.levels[0].shape == (10**4, 512, 512)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_well_with_a_shorter_pyramid_stands_in_with_its_coarsest_level(stores: Any, version: str) -> None:
    import zarr

    path = stores.plate(version)
    field = zarr.open_group(str(path / "A" / "3" / "0"), mode="a")
    attrs = field.attrs.asdict()
    ome = attrs.get("ome", attrs)
    datasets = ome["multiscales"][0]["datasets"]
    dropped = datasets.pop()  # this well's pyramid stops one level earlier than the first well's
    field.attrs.put(attrs)
    level_1 = np.asarray(field[datasets[-1]["path"]])
    del field[dropped["path"]]
    (spec,) = plan(path).specs
    coarsest = spec.levels[-1]  # 2 rows × 3 columns of 8 × 12 tiles
    tile = coarsest[:, 0:8, 24:36]  # A/3
    np.testing.assert_array_equal(tile, level_1[:, ::2, ::2])  # its level 1, every other pixel


def test_a_large_single_level_array_gets_strided_coarser_levels(tmp_path: Path) -> None:
    """napari draws a single-level array by reading a whole plane (a 1 GiB plane held the GUI
    for 20 s); above 4096² pixels the plane gets strided coarser levels, so the view reads what
    the zoom needs."""
    import zarr

    pixels = (np.arange(6000 * 5000, dtype=np.uint32).reshape(6000, 5000) % 65521).astype("uint16")
    array = zarr.create_array(str(tmp_path / "big.zarr"), shape=pixels.shape, chunks=(1024, 1024), dtype="uint16")
    array[...] = pixels
    (spec,) = plan(tmp_path / "big.zarr").specs
    assert spec.kwargs["multiscale"] is True
    assert [level.shape for level in spec.levels] == [(6000, 5000), (3000, 2500), (1500, 1250)]
    np.testing.assert_array_equal(spec.levels[-1][...], pixels[::4, ::4])
    np.testing.assert_array_equal(spec.levels[1][100:200:3, 7], pixels[200:400:6, 14])
    np.testing.assert_array_equal(np.asarray(spec.levels[1].to_dask()[:5, :5]), pixels[:10:2, :10:2])
    small = zarr.create_array(str(tmp_path / "small.zarr"), shape=(4096, 4096), chunks=(1024, 1024), dtype="u1")
    (spec,) = plan(tmp_path / "small.zarr").specs
    assert spec.kwargs["multiscale"] is False and spec.levels[0].shape == small.shape


def test_an_ome_image_with_one_large_level_gets_strided_levels_too(tmp_path: Path) -> None:
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image

    root = zarr.open_group(str(tmp_path / "one.ome.zarr"), mode="w", zarr_format=2)
    pixels = (np.arange(2 * 6000 * 5000, dtype=np.uint32).reshape(2, 6000, 5000) % 4000).astype("uint16")
    write_image(pixels, root, axes=["c", "y", "x"], scale_factors=[], fmt=FormatV04(),
                storage_options={"chunks": (1, 1024, 1024)})  # a pyramid of one level
    (spec,) = plan(tmp_path / "one.ome.zarr").specs
    assert [level.shape for level in spec.levels] == [(2, 6000, 5000), (2, 3000, 2500), (2, 1500, 1250)]
    assert spec.kwargs["multiscale"] is True and spec.kwargs["channel_axis"] == 0
    np.testing.assert_array_equal(spec.levels[-1].take(0, 1)[...], pixels[1, ::4, ::4])


def test_reading_ahead_a_strided_level_waits_for_its_own_chunks(tmp_path: Path, engine: Any) -> None:
    """The reader reads the coarsest level ahead; for a strided level that is every 4th pixel of
    the whole plane, not the corner of the full-resolution array its key would name there."""
    import time

    import zarr

    from zarr_browser._display import preread

    pixels = (np.arange(6000 * 5000, dtype=np.uint32).reshape(6000, 5000) % 65521).astype("uint16")
    array = zarr.create_array(str(tmp_path / "big.zarr"), shape=pixels.shape, chunks=(1024, 1024), dtype="uint16")
    array[...] = pixels
    (spec,) = plan(tmp_path / "big.zarr").specs
    coarsest = spec.levels[-1]
    spec.levels[0][0:1500, 0:1250]  # only the corner of the full resolution is cached
    assert preread(coarsest, wait=0.0) is False  # the strided level needs every chunk: not there yet
    deadline = time.monotonic() + 20
    while not preread(coarsest, wait=0.05):
        assert time.monotonic() < deadline
    np.testing.assert_array_equal(coarsest[...], pixels[::4, ::4])


def test_an_image_with_more_channels_than_layers_napari_can_build_gets_a_channel_slider(tmp_path: Path) -> None:
    """300 channels held viewer.open for 40 s (one layer each): beyond MAX_CHANNEL_LAYERS the
    channels are one layer whose channel axis is a slider, and the user is told why."""
    import zarr

    from zarr_browser.streaming.layers import MAX_CHANNEL_LAYERS

    count = MAX_CHANNEL_LAYERS + 1
    store = tmp_path / "many.ome.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=2)
    group.create_array("0", shape=(count, 4, 6), chunks=(1, 4, 6), dtype="u1")[:] = np.arange(count)[:, None, None]
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [
        {"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 0.5, 0.25]}]}]}]
    result = plan(store)
    (spec,) = result.specs
    assert "channel_axis" not in spec.kwargs and spec.kwargs["scale"] == (1.0, 0.5, 0.25)
    assert spec.kwargs["axis_labels"] == ("c", "y", "x") and spec.kwargs["name"] == "many"
    assert any(f"{count} channels are shown as one layer with a channel slider" in n for n in result.notes)
    ((data, _kwargs, kind),) = layer_data(spec)
    assert kind == "image" and blocking(data)[count - 1 : count, 0, 0].tolist() == [count - 1]
    fewer = tmp_path / "few.ome.zarr"  # at the bound: a layer per channel, as before
    group = zarr.open_group(fewer, mode="w", zarr_format=2)
    group.create_array("0", shape=(MAX_CHANNEL_LAYERS, 4, 6), chunks=(1, 4, 6), dtype="u1")
    group.attrs["multiscales"] = zarr.open_group(store, mode="r").attrs["multiscales"]
    assert len(layer_data(plan(fewer).specs[0])) == MAX_CHANNEL_LAYERS


def test_a_stack_without_windows_gets_contrast_from_every_plane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                engine: Any) -> None:
    """napari computes a layer's first limits from plane 0 and opens the stack on its middle
    plane: a stack whose planes brighten with depth showed as a white square (audit A)."""
    import zarr
    from ome_zarr.writer import write_image

    from zarr_browser import _display

    monkeypatch.setattr(_display, "PREREAD_WAIT", 10.0)  # the coarsest level is in (a loaded machine)
    rng = np.random.default_rng(5)
    planes = (np.arange(5, dtype="float32")[:, None, None] * 1000 + rng.normal(0, 40, (5, 64, 48))).astype("float32")
    planes[4, 0, 0] = np.nan  # not a number is no limit
    root = zarr.open_group(str(tmp_path / "stack.ome.zarr"), mode="w", zarr_format=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_image(planes, root, axes=["z", "y", "x"], scale_factors=(2,))
    ((data, kwargs, _),) = ours(tmp_path / "stack.ome.zarr")
    low, high = kwargs["contrast_limits"]
    assert all(level.checker_values == (low, high) for level in data)  # failed chunks: black and white squares
    assert low < 0 < 4000 < high  # plane 0 alone spans about -130..130
    middle = planes[2]
    assert low < middle.min() and middle.max() < high  # the plane napari opens on is not saturated
