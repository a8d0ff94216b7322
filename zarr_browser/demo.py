"""The built-in demo dataset: three small stores that exercise every part of zarr-browser.

* ``cells.ome.zarr`` - OME-Zarr 0.5 (zarr v3): a 3-channel 2048² fluorescence-like image
  (nuclei, membranes, spots; uint16 with shot noise) in a 4-level pyramid, sharded at full
  resolution, blosc-zstd like ome-zarr writes it; omero colours and windows; physical units;
  a ``labels/nuclei`` label image with colours and properties.
* ``plate.ome.zarr`` - OME-Zarr 0.4 (zarr v2): a 2×3 plate with four wells of one field each.
* ``climate.zarr`` - an xarray/CF dataset (zarr v2, consolidated): time, lat, lon coordinates
  and a packed temperature variable, laid out exactly as ``xarray.Dataset.to_zarr`` does.

Only zarr and numpy are needed to write it; it takes a few seconds and ~30 MB.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zarr_browser.errors import ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.core.jsonio import JSON

__all__ = ["DemoDataset", "DemoDirectoryError", "default_demo_directory", "write_demo"]

DEMO_VERSION = 2
_STAMP = ".zarr-browser-demo.json"
PIXEL_SIZE_UM = 0.325
CHANNELS = (
    ("DAPI", "0000FF"),
    ("Membrane", "00FF00"),
    ("Spots", "FF00FF"),
)


class DemoDirectoryError(ZarrBrowserError, OSError):
    """The demo cannot be written where asked without touching data it did not write."""


@dataclass(frozen=True)
class DemoDataset:
    """Where the demo was written and what it holds."""

    root: Path
    created: bool
    nbytes: int
    contents: dict[str, str] = field(default_factory=dict)


def default_demo_directory() -> Path:
    """``$XDG_CACHE_HOME/zarr-browser/demo`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zarr-browser" / "demo"


CONTENTS = {
    "cells.ome.zarr": "OME-Zarr 0.5 image (zarr v3): 3 channels, 4 levels, sharded, with labels/nuclei",
    "plate.ome.zarr": "OME-Zarr 0.4 plate (zarr v2): 2 rows × 3 columns, 4 wells",
    "climate.zarr": "xarray/CF dataset (zarr v2, consolidated): packed temperature on time × lat × lon",
}


def write_demo(directory: Path | str, *, force: bool = False, size: int = 2048, seed: int = 7) -> DemoDataset:
    """Write the demo dataset into *directory* (reused when already complete, unless *force*).

    Only what the demo wrote is ever replaced: the stamp file names its stores, and a store of
    the same name that the stamp does not claim (the user's own data) makes this raise
    :class:`DemoDirectoryError`, even with *force*.
    """
    root = Path(directory).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise DemoDirectoryError(f"{root} is a file; give a directory for the demo dataset")
    stamp = root / _STAMP
    claimed = _claimed(stamp)
    if not force and claimed.get("version") == DEMO_VERSION and not claimed.get("writing"):
        return DemoDataset(root, False, _du(root), dict(CONTENTS))
    owned = set(claimed.get("contents", CONTENTS if claimed else ()))
    foreign = [name for name in CONTENTS if (root / name).exists() and name not in owned]
    if foreign:
        raise DemoDirectoryError(
            f"{', '.join(str(root / name) for name in foreign)} already exist(s) and "
            f"{'was' if len(foreign) == 1 else 'were'} not written by 'zarr-browser demo'; nothing was "
            "changed: give another directory"
        )
    try:
        root.mkdir(parents=True, exist_ok=True)
        # claimed before anything is written, so that an interrupted run is finished by the next one
        stamp.write_text(json.dumps({"version": DEMO_VERSION, "contents": list(CONTENTS), "writing": True}))
    except OSError as err:
        raise DemoDirectoryError(f"cannot write the demo dataset into {root}: {err}") from err
    for name in CONTENTS:
        shutil.rmtree(root / name, ignore_errors=True)
    rng = np.random.default_rng(seed)
    write_cells(root / "cells.ome.zarr", rng, size=size)
    write_plate(root / "plate.ome.zarr", rng)
    write_climate(root / "climate.zarr", rng)
    stamp.write_text(json.dumps({"version": DEMO_VERSION, "contents": list(CONTENTS)}))
    return DemoDataset(root, True, _du(root), dict(CONTENTS))


def _claimed(stamp: Path) -> dict[str, Any]:
    """The stamp's claim (``version``, ``contents``, ``writing``); empty when there is none.

    Stamps of the first demo versions hold only ``version``: they claim every store of CONTENTS.
    """
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _du(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# -- synthetic microscopy -------------------------------------------------------------------


def _cell_image(rng: np.random.Generator, size: int, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Fluorescence-like channels (3, size, size) as float and a nuclei label image."""
    channels = np.zeros((3, size, size), dtype=np.float32)
    labels = np.zeros((size, size), dtype=np.uint16)
    yy, xx = np.mgrid[0:size, 0:size]  # only sliced, never used whole
    scale = size / 2048
    for label in range(1, n_cells + 1):
        cy, cx = rng.uniform(0.04, 0.96, 2) * size
        radius = rng.uniform(18, 34) * scale
        aspect = rng.uniform(0.7, 1.0)
        angle = rng.uniform(0, np.pi)
        cell_r = radius * rng.uniform(1.8, 2.4)
        half = int(cell_r + 6)
        y0, y1 = max(0, int(cy) - half), min(size, int(cy) + half)
        x0, x1 = max(0, int(cx) - half), min(size, int(cx) + half)
        if y1 <= y0 or x1 <= x0:
            continue
        dy, dx = yy[y0:y1, x0:x1] - cy, xx[y0:y1, x0:x1] - cx
        u = (dx * np.cos(angle) + dy * np.sin(angle)) / radius
        v = (-dx * np.sin(angle) + dy * np.cos(angle)) / (radius * aspect)
        r2 = u * u + v * v
        nucleus = np.clip(1 - r2, 0, None) ** 0.5 * rng.uniform(0.6, 1.0)
        channels[0, y0:y1, x0:x1] += nucleus * 3000
        mask = (r2 < 1) & (labels[y0:y1, x0:x1] == 0)
        labels[y0:y1, x0:x1][mask] = label
        ring = np.sqrt(r2) * radius / cell_r
        channels[1, y0:y1, x0:x1] += np.exp(-((ring - 1) ** 2) / 0.004) * 1800 * rng.uniform(0.5, 1.0)
        channels[1, y0:y1, x0:x1] += (ring < 1) * 150
    # spots: small gaussians, mostly inside cells
    n_spots = int(n_cells * 12)
    sy, sx = rng.uniform(0, size, n_spots), rng.uniform(0, size, n_spots)
    for y, x in zip(sy, sx, strict=True):
        y0, y1, x0, x1 = int(max(0, y - 5)), int(min(size, y + 6)), int(max(0, x - 5)), int(min(size, x + 6))
        d2 = (yy[y0:y1, x0:x1] - y) ** 2 + (xx[y0:y1, x0:x1] - x) ** 2
        channels[2, y0:y1, x0:x1] += np.exp(-d2 / (2 * 1.6**2)) * rng.uniform(800, 2500)
    channels += np.array([120, 180, 90], dtype=np.float32)[:, None, None]  # camera offset
    noisy = rng.poisson(channels).astype(np.float32) + rng.normal(0, 8, channels.shape).astype(np.float32)
    return np.clip(noisy, 0, 65535).astype(np.uint16), labels


def _downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor × factor blocks of the last two axes."""
    *lead, h, w = image.shape
    h2, w2 = h // factor, w // factor
    view = image[..., : h2 * factor, : w2 * factor].reshape(*lead, h2, factor, w2, factor)
    return view.mean(axis=(-1, -3)).astype(image.dtype)


def _blosc_v3() -> Any:
    from zarr.codecs import BloscCodec

    return BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")


def _blosc_v2() -> Any:
    from numcodecs import Blosc

    return Blosc(cname="zstd", clevel=5, shuffle=Blosc.BITSHUFFLE)


def _window(channel: np.ndarray) -> dict[str, float]:
    lo, hi = np.percentile(channel[::4, ::4], [0.5, 99.8])
    return {"min": 0, "max": 65535, "start": float(round(lo)), "end": float(round(hi))}


def write_cells(path: Path, rng: np.random.Generator, *, size: int = 2048, levels: int = 4) -> None:
    """Write the OME-Zarr 0.5 image with its labels (zarr v3)."""
    import zarr

    image, nuclei = _cell_image(rng, size, n_cells=max(12, int(180 * (size / 2048) ** 2)))
    axes: list[dict[str, JSON]] = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    datasets: list[dict[str, JSON]] = [
        {"path": str(i), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, PIXEL_SIZE_UM * 2**i, PIXEL_SIZE_UM * 2**i]},
            {"type": "translation", "translation": [0.0, PIXEL_SIZE_UM * (2**i - 1) / 2, PIXEL_SIZE_UM * (2**i - 1) / 2]},
        ]}
        for i in range(levels)
    ]
    omero: dict[str, JSON] = {
        "name": "cells",
        "channels": [
            {"label": label, "color": color, "active": True, "coefficient": 1.0, "family": "linear",
             "inverted": False, "window": _window(image[i])}
            for i, (label, color) in enumerate(CHANNELS)
        ],
        "rdefs": {"model": "color", "defaultZ": 0, "defaultT": 0},
    }
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [{"name": "cells", "axes": axes, "datasets": datasets, "type": "mean",
                         "metadata": {"method": "zarr_browser.demo: 2×2 block mean"}}],
        "omero": omero,
    }
    level = image
    for i in range(levels):
        if i:
            level = _downsample(level, 2)
        chunk = min(256, level.shape[-1])
        shards = (1, 1024, 1024) if i == 0 and level.shape[-1] >= 1024 else None
        arr = root.create_array(
            str(i), shape=level.shape, dtype=level.dtype, chunks=(1, chunk, chunk), shards=shards,
            compressors=_blosc_v3(), dimension_names=("c", "y", "x"), fill_value=0,
        )
        arr[...] = level
    labels = root.create_group("labels")
    labels.attrs["ome"] = {"version": "0.5", "labels": ["nuclei"]}
    group = labels.create_group("nuclei")
    ids = np.unique(nuclei)
    ids = ids[ids > 0]
    colors: list[dict[str, JSON]] = [
        {"label-value": int(i), "rgba": [int(c) for c in (*rng.integers(60, 255, 3), 255)]} for i in ids
    ]
    area = np.bincount(nuclei.ravel())
    properties: list[dict[str, JSON]] = [
        {"label-value": int(i), "area (pixels)": int(area[i]), "class": "nucleus"} for i in ids
    ]
    group.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [{"name": "nuclei", "axes": axes[1:], "datasets": [
            {"path": d["path"], "coordinateTransformations": [
                {"type": t["type"], t["type"]: t[t["type"]][1:]} for t in d["coordinateTransformations"]
            ]} for d in datasets
        ], "type": "nearest", "metadata": {"method": "zarr_browser.demo: every second pixel"}}],
        "image-label": {"colors": colors, "properties": properties, "source": {"image": "../../"}},
    }
    level_labels = nuclei
    for i in range(levels):
        if i:
            level_labels = level_labels[::2, ::2]
        chunk = min(256, level_labels.shape[-1])
        arr = group.create_array(
            str(i), shape=level_labels.shape, dtype=level_labels.dtype, chunks=(chunk, chunk),
            compressors=_blosc_v3(), dimension_names=("y", "x"), fill_value=0,
        )
        arr[...] = level_labels


def write_plate(path: Path, rng: np.random.Generator, *, size: int = 256, levels: int = 2) -> None:
    """Write the OME-Zarr 0.4 plate (zarr v2, ``/`` chunk separator as ome-zarr does)."""
    import zarr

    rows, columns = ["A", "B"], ["1", "2", "3"]
    wells = [("A", "1"), ("A", "2"), ("B", "1"), ("B", "3")]
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.attrs["plate"] = {
        "version": "0.4",
        "name": "demo plate",
        "rows": [{"name": r} for r in rows],
        "columns": [{"name": c} for c in columns],
        "wells": [{"path": f"{r}/{c}", "rowIndex": rows.index(r), "columnIndex": columns.index(c)} for r, c in wells],
        "field_count": 1,
        "acquisitions": [{"id": 0, "name": "demo acquisition", "maximumfieldcount": 1}],
    }
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"},
    ]
    for r, c in wells:
        well = root.require_group(r).require_group(c)
        well.attrs["well"] = {"version": "0.4", "images": [{"path": "0", "acquisition": 0}]}
        field_group = well.require_group("0")
        image, _ = _cell_image(rng, size, n_cells=6)
        image = image[:2]
        field_group.attrs["multiscales"] = [{
            "version": "0.4", "name": f"{r}{c}", "axes": axes,
            "datasets": [{"path": str(i), "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 0.65 * 2**i, 0.65 * 2**i]}]} for i in range(levels)],
            "type": "mean", "metadata": {"method": "zarr_browser.demo: 2×2 block mean"},
        }]
        field_group.attrs["omero"] = {
            "version": "0.4",
            "channels": [{"label": label, "color": color, "active": True, "window": _window(image[i])}
                         for i, (label, color) in enumerate(CHANNELS[:2])],
            "rdefs": {"model": "color"},
        }
        level = image
        for i in range(levels):
            if i:
                level = _downsample(level, 2)
            arr = field_group.create_array(
                str(i), shape=level.shape, dtype=level.dtype, chunks=(1, *level.shape[1:]),
                compressors=_blosc_v2(), chunk_key_encoding={"name": "v2", "separator": "/"}, fill_value=0,
            )
            arr[...] = level


def write_climate(path: Path, rng: np.random.Generator) -> None:
    """Write the xarray/CF dataset the way ``xarray.Dataset.to_zarr(zarr_format=2)`` lays it out."""
    import zarr

    n_time, n_lat, n_lon = 12, 90, 180
    lat = np.linspace(-89, 89, n_lat, dtype=np.float32)
    lon = np.linspace(-179, 179, n_lon, dtype=np.float32)
    time = np.arange(n_time, dtype=np.int64) * 30
    lat_r = np.deg2rad(lat)[None, :, None]
    season = np.cos(2 * np.pi * (np.arange(n_time)[:, None, None] / 12.0)) * np.sin(lat_r)
    kelvin = 288 - 35 * np.sin(lat_r) ** 2 + 8 * season + rng.normal(0, 1.0, (n_time, n_lat, n_lon))
    kelvin[:, :3, :20] = np.nan  # a missing patch, stored as the fill value
    packed = np.where(np.isnan(kelvin), -9999, np.round((kelvin - 273.15) / 0.01)).astype(np.int16)
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.attrs.update({"Conventions": "CF-1.10", "title": "zarr-browser demo: monthly surface temperature",
                       "institution": "zarr-browser", "history": "written by zarr_browser.demo"})

    def variable(name: str, data: np.ndarray, dims: list[str], attrs: dict[str, Any], fill: float | None = None,
                 chunks: tuple[int, ...] | None = None) -> None:
        arr = root.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks or data.shape,
                                compressors=_blosc_v2(), fill_value=fill)
        arr[...] = data
        arr.attrs.update({**attrs, "_ARRAY_DIMENSIONS": list(dims)})

    variable("time", time, ["time"], {"units": "days since 2000-01-01", "calendar": "proleptic_gregorian",
                                       "standard_name": "time", "axis": "T"})
    variable("lat", lat, ["lat"], {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}, fill=np.nan)
    variable("lon", lon, ["lon"], {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}, fill=np.nan)
    variable("temperature", packed, ["time", "lat", "lon"],
             {"units": "K", "long_name": "surface air temperature", "standard_name": "air_temperature",
              "scale_factor": 0.01, "add_offset": 273.15, "cell_methods": "time: mean"},
             fill=-9999, chunks=(1, n_lat, n_lon))
    zarr.consolidate_metadata(path)
