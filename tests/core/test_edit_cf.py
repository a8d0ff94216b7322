"""CF fill and packing typed as numbers (the CF form): written as xarray and netCDF-C read them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from edit_stores import netcdf4_nczarr, read_with_netcdf_410  # tests/edit_stores.py

from zarr_browser.core.editing import EditError, EditSession, ReadOnlyFieldError
from zarr_browser.core.editing.conventions import fill_value_read_only, set_cf_attributes
from zarr_browser.core.issues import Severity

xr = pytest.importorskip("xarray")


def _store(path: Path, zarr_format: int) -> Path:
    ds = xr.Dataset({"t": (("x",), np.array([1.0, -9999.0, 3.0])), "n": (("x",), np.array([1, -1, 3], "i2"))})
    ds.to_zarr(path, zarr_format=zarr_format, consolidated=True)
    return path


def _decoded(store: Path, name: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_zarr(store)[name].values


def test_v3_fill_and_packing_are_written_as_xarray_writes_them(tmp_path: Path) -> None:
    store = _store(tmp_path / "c.zarr", 3)
    session = EditSession.open(str(store))
    session.apply(set_cf_attributes(session, "/t", {"_FillValue": "-9999", "scale_factor": "2", "add_offset": 1}))
    session.apply(set_cf_attributes(session, "/n", {"_FillValue": "-1"}))
    assert len(session.history()) == 2
    assert session.attributes("/t")["_FillValue"] == "AAAAAICHw8A="  # base64 of float64 -9999
    assert session.attributes("/t")["scale_factor"] == 2.0 and session.attributes("/n")["_FillValue"] == -1
    assert session.new_issues(*Severity)[0] == []
    session.save()
    t = _decoded(store, "t")
    assert t[0] == 3.0 and np.isnan(t[1]) and t[2] == 7.0
    assert np.isnan(_decoded(store, "n")[1])
    session.apply(set_cf_attributes(session, "/t", {"scale_factor": None, "_FillValue": "nan"}))
    assert "scale_factor" not in session.attributes("/t") and session.attributes("/t")["_FillValue"] == "AAAAAAAA+H8="
    for values, why in [({"_FillValue": "1.5"}, None), ({"scale_factor": "x"}, "'x' is not a number"),
                        ({"add_offset": "inf"}, "finite")]:
        if why is None:
            with pytest.raises(EditError, match="not an integer"):
                set_cf_attributes(session, "/n", values)
        else:
            with pytest.raises(EditError, match=why):
                set_cf_attributes(session, "/t", values)
    with pytest.raises(EditError, match="outside the range of int16"):
        set_cf_attributes(session, "/n", {"_FillValue": 40000})


def test_v2_fill_value_is_the_arrays_and_read_only(tmp_path: Path) -> None:
    store = _store(tmp_path / "c.zarr", 2)
    session = EditSession.open(str(store))
    assert "xarray masks with the array's fill_value" in (fill_value_read_only(session.node("/t")) or "")
    with pytest.raises(ReadOnlyFieldError, match="xarray ignores a _FillValue attribute on zarr v2"):
        set_cf_attributes(session, "/t", {"_FillValue": -9999})
    session.apply(set_cf_attributes(session, "/t", {"scale_factor": "0.5"}))  # packing is an attribute there
    session.save()
    assert json.loads((store / "t" / ".zattrs").read_text())["scale_factor"] == 0.5
    assert _decoded(store, "t")[0] == 0.5


def test_nczarr_410_fill_stays_with_zarray_and_packing_keeps_its_netcdf_type(tmp_path: Path) -> None:
    netcdf4_store = netcdf4_nczarr(tmp_path / "c.zarr")
    session = EditSession.open(str(netcdf4_store))
    session.apply(set_cf_attributes(session, "/temp", {"scale_factor": "0.5", "add_offset": "100"}))
    types = session.attributes("/temp")["_nczarr_attr"]["types"]
    assert types["scale_factor"] == "<f8" and types["add_offset"] == "<f8"  # (new: inferred, netCDF double)
    with pytest.raises(ReadOnlyFieldError, match="the two readers would disagree"):
        set_cf_attributes(session, "/temp", {"_FillValue": -1})  # netCDF-C 4.10 keeps it in .zarray too
    session.save()
    assert read_with_netcdf_410(netcdf4_store)["vars"]["/temp"][1] == [[100.5, 101.0, 101.5], [102.0, 102.5, 103.0]]
    assert _decoded(netcdf4_store, "temp").tolist() == [[100.5, 101.0, 101.5], [102.0, 102.5, 103.0]]
