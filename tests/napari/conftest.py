"""Stores written by real writers (ome-zarr, xarray, zarr) for the napari plugin tests.

Every writer returns the path of a fresh store under ``tmp_path``.  OME-Zarr images, labels and
plates are written by ``ome_zarr.writer`` in the 0.4 (zarr v2) or 0.5 (zarr v3) format; where a
test needs metadata ome-zarr 0.18 does not write (a translation of its own, global
transformations, a bioformats2raw collection), the attributes ome-zarr wrote are edited
afterwards, as a user fixing metadata would.
"""

from __future__ import annotations

import json
import pickle
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

with warnings.catch_warnings():  # ome_zarr.writer builds a deprecated Scaler as a default argument
    warnings.simplefilter("ignore", DeprecationWarning)
    import ome_zarr.writer  # noqa: F401

OMERO = {
    "channels": [
        {"label": "DAPI", "color": "0000FF", "active": True,
         "window": {"min": 0, "max": 1000, "start": 10, "end": 900}},
        {"label": "GFP", "color": "00FF00", "active": False,
         "window": {"min": 0, "max": 1000, "start": 20, "end": 800}},
    ],
    "rdefs": {"model": "color"},
}
LABEL_COLORS = [{"label-value": 1, "rgba": [255, 0, 0, 255]}, {"label-value": 2, "rgba": [0, 255, 0, 128]}]
LABEL_PROPERTIES = [{"label-value": 1, "class": "a", "area": 200}, {"label-value": 2, "class": "b", "area": 400}]


def _format(version: str) -> Any:
    from ome_zarr.format import FormatV04, FormatV05

    return {"0.4": FormatV04(), "0.5": FormatV05()}[version]


def _image_pixels(seed: int = 0, shape: tuple[int, ...] = (2, 64, 96)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1000, shape).astype("uint16")


def _label_pixels(shape: tuple[int, int] = (64, 96)) -> np.ndarray:
    labels = np.zeros(shape, "uint8")
    labels[10:20, 10:30] = 1
    labels[30:50, 40:60] = 2
    labels[50:60, 70:90] = 3  # a value image-label.colors does not list
    return labels


def ome_namespace(group: zarr.Group) -> tuple[dict[str, Any], Callable[[dict[str, Any]], None]]:
    """The OME attributes of *group* (0.4 top level, 0.5 under ``ome``) and a function to write them back."""
    attrs = group.attrs.asdict()
    if "ome" in attrs:
        def save(ns: dict[str, Any]) -> None:
            group.attrs["ome"] = ns
        return dict(attrs["ome"]), save

    def save_top(ns: dict[str, Any]) -> None:
        group.attrs.update(ns)
    return attrs, save_top


def write_ome_image(
    path: Path,
    version: str,
    *,
    labels: bool = True,
    omero: bool = True,
    scale: tuple[float, float] = (0.5, 0.25),
    translation: tuple[float, float] | None = None,
    global_transforms: list[dict[str, Any]] | None = None,
    seed: int = 0,
) -> Path:
    """An OME-Zarr image (c, y, x) with 3 levels, omero channels and a ``cells`` label image."""
    from ome_zarr.writer import write_image, write_labels

    fmt = _format(version)
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt.zarr_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_image(_image_pixels(seed), root, fmt=fmt, axes=["c", "y", "x"], scale_factors=(2, 4),
                    scale={"c": 1.0, "y": scale[0], "x": scale[1]},
                    axes_units={"y": "micrometer", "x": "micrometer"},
                    **({"omero": OMERO} if omero else {}))
        if labels:
            write_labels(_label_pixels(), root, name="cells", fmt=fmt, axes=["y", "x"], scaler=None,
                         scale_factors=(2, 4), scale={"y": scale[0], "x": scale[1]},
                         label_metadata={"colors": LABEL_COLORS, "properties": LABEL_PROPERTIES})
    if translation is not None or global_transforms is not None:
        ns, save = ome_namespace(root)
        multiscale = ns["multiscales"][0]
        if translation is not None:
            for dataset in multiscale["datasets"]:
                for transform in dataset["coordinateTransformations"]:
                    if transform["type"] == "translation":
                        transform["translation"] = [0.0, *(a + b for a, b in zip(
                            transform["translation"][1:], translation, strict=True))]
        if global_transforms is not None:
            multiscale["coordinateTransformations"] = global_transforms
        save(ns)
    return path


def write_ome_plate(path: Path, version: str, *, labels: bool = False, wells: Sequence[str] = ("A/1", "A/3", "B/2"),
                    shapes: Mapping[str, tuple[int, int, int]] | None = None,
                    columns: Sequence[str] = ("1", "2", "3"), fields: int = 1) -> Path:
    """A 2 × 3 plate (2 × len(*columns*)) with wells A/1, A/3 and B/2 (or *wells*), *fields*
    2-channel 32 × 48 fields each (3 levels; *shapes* gives some wells fields of other (c, y, x)
    shapes); field *f* of the *i*-th well has the pixels of image ``i + 10 * f``."""
    from ome_zarr.writer import write_plate_metadata, write_well_metadata

    fmt = _format(version)
    root = zarr.open_group(str(path), mode="w", zarr_format=fmt.zarr_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_plate_metadata(root, ["A", "B"], list(columns), list(wells), fmt=fmt, name="test plate",
                             field_count=fields)
        for i, well_path in enumerate(wells):
            row, column = well_path.split("/")
            well = root.require_group(row).require_group(column)
            write_well_metadata(well, [{"path": str(f)} for f in range(fields)], fmt=fmt)
            for f in range(fields):  # (ome-zarr warns of its own deprecations in here)
                write_ome_field(well.require_group(str(f)), version, i + 10 * f,
                                (shapes or {}).get(well_path, (2, 32, 48)), labels=labels)
    return path


def write_ome_field(field: zarr.Group, version: str, seed: int, shape: tuple[int, int, int], *,
                    labels: bool = False) -> None:
    """One field of a well: a 3-level (c, y, x) image of *shape* with the pixels of image *seed*,
    and a label image with *labels*."""
    from ome_zarr.writer import write_image, write_labels

    fmt = _format(version)
    write_image(_image_pixels(seed, shape), field, fmt=fmt, axes=["c", "y", "x"], scale_factors=(2, 4),
                scale={"c": 1.0, "y": 0.5, "x": 0.5}, axes_units={"y": "micrometer", "x": "micrometer"},
                **({"omero": OMERO} if shape[0] == 2 else {}))
    if labels:
        write_labels(_label_pixels(shape[1:]), field, name="cells", fmt=fmt, axes=["y", "x"], scaler=None,
                     scale_factors=(2, 4), scale={"y": 0.5, "x": 0.5}, label_metadata={"colors": LABEL_COLORS})


def write_bf2raw(path: Path, n_series: int) -> Path:
    """A bioformats2raw.layout 3 collection (0.4) of *n_series* images with an OME/series list."""
    from ome_zarr.writer import write_image

    fmt = _format("0.4")
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.attrs["bioformats2raw.layout"] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(n_series):
            write_image(_image_pixels(i, (2, 32, 32)), root.require_group(str(i)), fmt=fmt, axes=["c", "y", "x"],
                        scale_factors=(2,), omero=OMERO)
    ome = root.require_group("OME")
    ome.attrs["series"] = [str(i) for i in range(n_series)]
    (path / "OME" / "METADATA.ome.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
        + "".join(f'<Image ID="Image:{i}" Name="series {i}"/>' for i in range(n_series)) + "</OME>")
    return path


def write_xarray_dataset(path: Path) -> Path:
    """An xarray/CF dataset: temperature(time, lat, lon) with evenly spaced coordinates."""
    xr = pytest.importorskip("xarray")
    lat = np.linspace(-45.0, 45.0, 10)  # step 10
    lon = np.arange(0.0, 100.0, 4.0)  # step 4
    time = np.arange(3)
    data = np.random.default_rng(1).normal(280, 5, (3, 10, 25)).astype("float32")
    ds = xr.Dataset(
        {"temperature": (("time", "lat", "lon"), data, {"units": "K"}),
         "mask": (("lat", "lon"), (data[0] > 280).astype("uint8"))},
        coords={"time": ("time", time), "lat": ("lat", lat, {"units": "degrees_north"}),
                "lon": ("lon", lon, {"units": "degrees_east"})},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, zarr_format=2, mode="w", consolidated=True)
    return path


def write_v3_array(path: Path) -> Path:
    """A plain zarr v3 array (z, y, x) with dimension_names and no other convention."""
    array = zarr.create_array(str(path), shape=(4, 40, 50), chunks=(1, 20, 25), dtype="uint16",
                              dimension_names=("z", "y", "x"))
    array[...] = np.arange(4 * 40 * 50, dtype="uint16").reshape(4, 40, 50)
    return path


def write_plain_group(path: Path, n_images: int = 3) -> Path:
    """A v3 group without image conventions: *n_images* 2-D arrays, a 1-D array, a string array, a subgroup."""
    root = zarr.open_group(str(path), mode="w", zarr_format=3)
    for i in range(n_images):
        array = root.create_array(f"img{i}", shape=(20, 30), chunks=(10, 10), dtype="float32")
        array[...] = np.full((20, 30), i, dtype="float32")
    root.create_array("profile", shape=(30,), dtype="float64")
    root.create_array("names", shape=(2,), dtype=str)
    root.create_group("sub")
    return path


class _Payload:
    """Unpickling this creates a marker file: proof that code from the store ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def write_pickle_array(path: Path, marker: Path) -> Path:
    """A v2 2-D float array whose compressor is ``pickle`` and whose only chunk is a hostile pickle."""
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.create_array("x", shape=(4, 4), chunks=(4, 4), dtype="f8", compressors=None)
    meta_path = path / "x" / ".zarray"
    meta = json.loads(meta_path.read_text())
    meta["compressor"] = {"id": "pickle"}
    meta["filters"] = None
    meta_path.write_text(json.dumps(meta))
    (path / "x" / "0.0").write_bytes(pickle.dumps(_Payload(str(marker))))
    return path / "x"


@pytest.fixture
def stores(tmp_path: Path) -> Any:
    """Writers bound to this test's directory: ``stores.image("0.5")``, ``stores.plate("0.4")``..."""

    class Stores:
        root = tmp_path

        @staticmethod
        def image(version: str, name: str = "image.ome.zarr", **kwargs: Any) -> Path:
            return write_ome_image(tmp_path / name, version, **kwargs)

        @staticmethod
        def plate(version: str, name: str = "plate.ome.zarr", **kwargs: Any) -> Path:
            return write_ome_plate(tmp_path / name, version, **kwargs)

        @staticmethod
        def bf2raw(n_series: int, name: str = "bf2raw.ome.zarr") -> Path:
            return write_bf2raw(tmp_path / name, n_series)

        @staticmethod
        def xarray(name: str = "dataset.zarr") -> Path:
            return write_xarray_dataset(tmp_path / name)

        @staticmethod
        def v3_array(name: str = "array.zarr") -> Path:
            return write_v3_array(tmp_path / name)

        @staticmethod
        def plain_group(name: str = "group.zarr", n_images: int = 3) -> Path:
            return write_plain_group(tmp_path / name, n_images)

        @staticmethod
        def pickle_array(name: str = "evil.zarr") -> tuple[Path, Path]:
            marker = tmp_path / "pwned"
            return write_pickle_array(tmp_path / name, marker), marker

        @staticmethod
        def not_zarr(name: str = "photos") -> Path:
            folder = tmp_path / name
            folder.mkdir()
            (folder / "notes.txt").write_text("not a zarr store")
            return folder

        @staticmethod
        def broken(name: str = "broken.zarr") -> Path:
            folder = tmp_path / name
            folder.mkdir()
            (folder / "zarr.json").write_text("{this is not json")
            return folder

    return Stores()


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo dataset with small images (written once per session)."""
    from zarr_browser.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo"), size=256).root
