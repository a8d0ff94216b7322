"""CF-encoded variables in napari: values as xarray and netCDF decode them, placement from coordinates.

Stores are written by xarray (Zarr v2 and v3) and by netCDF-C's ``nccopy`` (NCZarr); the
reference values come from ``xarray.open_zarr`` and from the netCDF4 library reading the source
file.  No viewer: these check the layer plans and the arrays napari would get.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.core.test_nczarr import _need
from tests.napari.test_layers import plan
from zarr_browser._reader import layer_data
from zarr_browser.core.conventions.cf import cf_decoding
from zarr_browser.core.hierarchy import Hierarchy

xr = pytest.importorskip("xarray")


def _packed_dataset(lat: np.ndarray) -> xr.Dataset:
    rng = np.random.default_rng(3)
    temp = rng.uniform(280.0, 298.0, (2, lat.size, 12)).astype("float32")
    temp[:, 2:4, 5:8] = np.nan  # becomes the fill value on disk
    ds = xr.Dataset(
        {"temp": (("time", "lat", "lon"), temp, {"units": "K"})},
        coords={"lat": ("lat", lat, {"units": "degrees_north"}),
                "lon": ("lon", np.arange(0.0, 360.0, 30.0), {"units": "degrees_east"})},
    )
    ds["temp"].encoding = {"dtype": "int16", "scale_factor": 0.01, "add_offset": 280.0, "_FillValue": -32768}
    return ds


def _write(ds: xr.Dataset, path: Path, zarr_format: int) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=True)
    return path


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_packed_variable_shows_the_values_xarray_decodes(tmp_path: Path, zarr_format: int) -> None:
    path = _write(_packed_dataset(np.linspace(-30.0, 30.0, 7)), tmp_path / "packed.zarr", zarr_format)
    (spec,) = [s for s in plan(path).specs if s.path == "/temp"]
    level = spec.levels[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = xr.open_zarr(path)["temp"].values
    assert level.dtype == truth.dtype == np.float64  # int16 on disk; the type of scale_factor (audit D, finding 12)
    data = level[...]
    np.testing.assert_array_equal(data, truth)  # the same numbers, not float32 approximations (290.00998)
    assert np.isnan(data[:, 2:4, 5:8]).all() and np.isfinite(data[:, :2]).all()  # the fill is NaN, not -32768
    np.testing.assert_allclose(np.asarray(level.to_dask()), truth, rtol=0, atol=1e-4)  # the compute path too
    (display, kwargs, _), = layer_data(spec)
    assert kwargs["units"] == (None, "degree", "degree")
    np.testing.assert_allclose(np.asarray(display.level[0]), truth[0], rtol=0, atol=1e-4)


def test_descending_coordinates_place_the_image_with_a_negative_scale(tmp_path: Path) -> None:
    path = _write(_packed_dataset(np.linspace(30.0, -30.0, 7)), tmp_path / "north-first.zarr", 3)
    (spec,) = [s for s in plan(path).specs if s.path == "/temp"]
    assert spec.kwargs["scale"] == pytest.approx((1.0, -10.0, 30.0))
    assert spec.kwargs["translate"] == pytest.approx((0.0, 30.0, 0.0))  # row 0 is at 30° N


CDL = """netcdf t {
dimensions:
  y = 4 ;
  x = 5 ;
variables:
  float temp(y, x) ;
    temp:units = "K" ;
    temp:_FillValue = -999.f ;
  short counts(y, x) ;
    counts:missing_value = 7s, 9s ;
  byte ub(y, x) ;
    ub:_Unsigned = "true" ;
    ub:_FillValue = -1b ;
  ubyte u8(y, x) ;
    u8:scale_factor = 0.5f ;
    u8:_FillValue = 255UB ;
data:
  temp = -999, -999, 1, 2, 3,  4, 5, 6, 7, 8,  9, 10, 11, 12, 13,  14, 15, 16, 17, -999 ;
  counts = 7, 9, 1, 2, 3,  4, 5, 6, 7, 8,  9, 10, 11, 12, 13,  14, 15, 16, 17, 18 ;
  ub = -1, -2, 1, 2, 3,  4, 5, 6, 7, 8,  9, 10, 11, 12, 13,  14, 15, 16, 17, -128 ;
  u8 = 255, 254, 1, 2, 3,  4, 5, 6, 7, 8,  9, 10, 11, 12, 13,  14, 15, 16, 17, 200 ;
}
"""


def test_nczarr_fill_and_missing_values_are_masked_as_netcdf_reads_them(tmp_path: Path) -> None:
    netcdf4 = pytest.importorskip("netCDF4")
    (tmp_path / "t.cdl").write_text(CDL)
    source = tmp_path / "t.nc"
    subprocess.run([_need("ncgen"), "-4", "-o", str(source), str(tmp_path / "t.cdl")], check=True, timeout=60)
    store = tmp_path / "t.zarr"
    subprocess.run([_need("nccopy"), str(source), f"file://{store}#mode=nczarr,file"], check=True, timeout=60)
    specs = {s.path.lstrip("/"): s for s in plan(store).specs}
    with netcdf4.Dataset(source) as nc:
        for name in ("temp", "counts", "ub", "u8"):  # ub: _Unsigned bytes; u8: '<u1', which zarr refuses
            truth = np.ma.filled(nc[name][...].astype("float64"), np.nan)
            data = specs[name].levels[0][...]
            assert data.dtype.kind == "f"
            np.testing.assert_array_equal(np.isnan(data), np.isnan(truth), err_msg=name)
            np.testing.assert_allclose(data[~np.isnan(data)], truth[~np.isnan(truth)], err_msg=name)


def test_cf_decoding_follows_xarray_defaults(tmp_path: Path) -> None:
    import zarr

    root = zarr.open_group(str(tmp_path / "g.zarr"), mode="w", zarr_format=2)
    root.create_array("plain", shape=(4, 4), dtype="int16", fill_value=0)  # not an xarray variable
    dims = root.create_array("dims", shape=(4, 4), dtype="int16", fill_value=-1)
    dims.attrs["_ARRAY_DIMENSIONS"] = ["y", "x"]  # xarray masks v2 variables with the zarr fill_value
    times = root.create_array("times", shape=(4, 4), dtype="int32", fill_value=-1)
    times.attrs.update({"_ARRAY_DIMENSIONS": ["y", "x"], "units": "days since 2000-01-01", "scale_factor": 2})
    odd = root.create_array("odd", shape=(4, 4), dtype="uint8", fill_value=None)
    odd.attrs.update({"_FillValue": 300, "missing_value": "n/a"})  # neither fits a uint8: nothing to mask
    big = root.create_array("big", shape=(4, 4), dtype="int32", fill_value=None)
    big.attrs.update({"scale_factor": 0.5})
    hierarchy = Hierarchy.open(str(tmp_path / "g.zarr"))
    assert cf_decoding(hierarchy.node("/plain")) is None
    masked = cf_decoding(hierarchy.node("/dims"))
    assert masked is not None and masked.masked == (-1.0,) and masked.dtype == np.float32
    np.testing.assert_array_equal(masked.apply(np.array([-1, 0, 5], dtype="int16")), [np.nan, 0.0, 5.0])
    assert cf_decoding(hierarchy.node("/times")) is None  # times are not images to unpack
    unfit = cf_decoding(hierarchy.node("/odd"))
    assert unfit is not None
    np.testing.assert_array_equal(unfit.apply(np.array([0, 255], dtype="uint8")), [0.0, 255.0])
    wide = cf_decoding(hierarchy.node("/big"))
    assert wide is not None and wide.dtype == np.float64  # 4-byte integers need float64
    np.testing.assert_array_equal(wide.apply(np.array([3], dtype="int32")), [1.5])


def test_unsigned_bytes_keep_their_byte_order() -> None:
    from zarr_browser.core.conventions.cf import CfDecoding

    decoding = CfDecoding((65535.0,), 1.0, 0.0, np.dtype("float32"), unsigned=True)
    for dtype in ("<i2", ">i2"):  # v2 arrays may be big-endian
        np.testing.assert_array_equal(decoding.apply(np.array([-1, 5, -2], dtype=dtype)), [np.nan, 5.0, 65534.0])


@pytest.mark.parametrize("lat", [np.linspace(30.0, -30.0, 7), np.linspace(-30.0, 30.0, 7)], ids=["north-first", "south-first"])
def test_maps_are_drawn_north_up(make_napari_viewer: Any, tmp_path: Path, lat: np.ndarray) -> None:
    """napari's y axis points down: the north pole was at the bottom of the canvas (audit A)."""
    path = _write(_packed_dataset(lat), tmp_path / "map.zarr", 3)
    viewer = make_napari_viewer()
    layers = viewer.open(str(path), plugin="zarr-browser")
    layer = next(layer for layer in layers if layer.name.endswith("temp"))
    assert viewer.scene.camera.orientation2d[0] == "up"
    world_y = [layer.data_to_world((0, row, 0))[1] for row in (0, lat.size - 1)]
    assert world_y == pytest.approx([lat[0], lat[-1]])  # rows sit at their latitudes: the larger one on top
    other = make_napari_viewer()
    other.add_image(np.zeros((4, 4)))  # a viewer set up already keeps its orientation
    other.open(str(path), plugin="zarr-browser")
    assert other.scene.camera.orientation2d[0] == "down"
