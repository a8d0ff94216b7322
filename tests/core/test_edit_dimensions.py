"""Renaming a dimension of a dataset: xarray stores (v2, v3, consolidated or not, DataTrees) and
NCZarr (all three generations), read back by xarray and by netCDF-C (Debian's ncdump 4.9.0 and
the netCDF4 wheel's libnetcdf 4.10.1, run in subprocesses: netCDF-C has been seen to crash)."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from edit_stores import netcdf4_nczarr, read_with_netcdf_410  # tests/edit_stores.py
from test_nczarr import _need, write_ref_oldkeys  # tests/core/test_nczarr.py

from zarr_browser.core.editing import EditError, EditSession
from zarr_browser.core.editing.conventions import (
    plan_dimension_rename,
    xarray_group_dimensions,
    xarray_rename_dimension,
    xarray_set_dimension_names,
)
from zarr_browser.core.issues import Severity

xr = pytest.importorskip("xarray")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:zarr", "ignore::RuntimeWarning:xarray")


def _dataset() -> Any:
    return xr.Dataset(
        {"temp": (("time", "y", "x"), np.arange(24.0).reshape(2, 3, 4), {"units": "K"}),
         "precip": (("time", "y", "x"), np.ones((2, 3, 4)))},
        coords={"time": [0, 1], "y": [0.0, 1.0, 2.0], "x": [10.0, 20.0, 30.0, 40.0],
                "lat": (("y", "x"), np.zeros((3, 4)))},
    )


def _open(store: Path, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_zarr(store, **kwargs).load()


@pytest.mark.parametrize("consolidated", [True, False])
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_rename_dimension_renames_every_array_in_one_step(tmp_path: Path, zarr_format: int,
                                                          consolidated: bool) -> None:
    store = tmp_path / "d.zarr"
    _dataset().to_zarr(store, zarr_format=zarr_format, consolidated=consolidated)
    session = EditSession.open(str(store))
    uses = {u.name: u for u in xarray_group_dimensions(session, "/")}
    assert uses["x"].size == 4 and uses["x"].coordinate == "/x"
    assert sorted(uses["x"].arrays) == ["/lat", "/precip", "/temp", "/x"]
    plan = plan_dimension_rename(session, "/", "x", "lon")
    assert sorted(plan.arrays) == ["/lat", "/precip", "/temp", "/x"] and plan.coordinates == ("/x",)
    assert any("shows it as a data variable" in note for note in plan.notes())
    session.apply(xarray_rename_dimension(session, "/", "x", "lon"))
    assert session.history() == ["rename dimension 'x' → 'lon' in /"]
    new = session.new_issues(*Severity)[0]
    assert [(i.severity, i.path) for i in new] == [(Severity.WARNING, "/x")]
    assert "was the index coordinate of dimension 'x'" in new[0].message
    assert "'lon' has no coordinate" in new[0].message
    session.save()
    opened = _open(store)
    assert opened["temp"].dims == ("time", "y", "lon") and opened["lat"].dims == ("y", "lon")
    assert opened.sizes["lon"] == 4 and "x" not in opened.dims
    assert "x" in opened.data_vars and "lon" not in opened.indexes  # as the plan said
    np.testing.assert_array_equal(opened["temp"].values, np.arange(24.0).reshape(2, 3, 4))
    if consolidated:  # the consolidated copy followed: what zarr and xarray read first
        assert _open(store, consolidated=True)["precip"].dims == ("time", "y", "lon")
    assert session.undo()
    session.save()
    assert _open(store)["temp"].dims == ("time", "y", "x")


def test_rename_dimension_to_an_existing_coordinate_keeps_the_index(tmp_path: Path) -> None:
    """A dimension renamed to the name of a 1-D array on it: that array becomes its index."""
    store = tmp_path / "d.zarr"
    ds = xr.Dataset({"v": (("n",), np.arange(3.0))}, coords={"station": (("n",), [7, 8, 9])})
    ds.to_zarr(store, zarr_format=3, consolidated=False)
    session = EditSession.open(str(store))
    plan = plan_dimension_rename(session, "/", "n", "station")
    assert plan.coordinates == () and sorted(plan.arrays) == ["/station", "/v"]
    session.apply(xarray_rename_dimension(session, "/", "n", "station"))
    assert session.new_issues(*Severity)[0] == []
    session.save()
    assert _open(store).indexes["station"].tolist() == [7, 8, 9]


def test_rename_dimension_follows_it_into_the_child_groups_of_a_datatree(tmp_path: Path) -> None:
    store = tmp_path / "t.zarr"
    tree = xr.DataTree.from_dict({
        "/": xr.Dataset({"temp": (("x",), np.arange(3.0))}, coords={"x": [1.0, 2.0, 3.0]}),
        "/sub": xr.Dataset({"w": (("x", "z"), np.zeros((3, 2)))}),
    })
    tree.to_zarr(store, zarr_format=2, consolidated=True)
    session = EditSession.open(str(store))
    assert plan_dimension_rename(session, "/", "x", "lon", descendants=False).arrays == ("/temp", "/x")
    session.apply(xarray_rename_dimension(session, "/", "x", "lon"))
    assert session.history() == ["rename dimension 'x' → 'lon' in / and its child groups"]
    session.save()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opened = xr.open_datatree(store, engine="zarr")
    assert opened["sub"].to_dataset()["w"].dims == ("lon", "z")  # still one dimension with its parent's
    assert opened.to_dataset()["temp"].dims == ("lon",)


def test_rename_dimension_refusals_change_nothing(tmp_path: Path) -> None:
    store = tmp_path / "d.zarr"
    _dataset().to_zarr(store, zarr_format=3, consolidated=True)
    session = EditSession.open(str(store))
    for old, new, why in [("x", "y", "/lat has both 'x' and 'y'"), ("nope", "a", "has a dimension 'nope'"),
                          ("x", "", "non-empty"), ("x", "x", "already"), ("x", " lon", "space")]:
        with pytest.raises(EditError, match=why):
            xarray_rename_dimension(session, "/", old, new)
    with pytest.raises(EditError, match="is not a group"):
        xarray_rename_dimension(session, "/temp", "x", "lon")
    group = zarr.open_group(store, mode="a")  # a dimension of another size elsewhere in the group
    group.create_array("other", shape=(5,), dtype="f8", dimension_names=("lon",))
    session = EditSession.open(str(store))
    with pytest.raises(EditError, match=r"'lon' would have size 4 .* but 5"):
        xarray_rename_dimension(session, "/", "x", "lon")
    assert not session.dirty


# -- NCZarr ------------------------------------------------------------------------------------

CDL = """\
netcdf t {
dimensions:
  time = 2 ;
  x = 3 ;
variables:
  float temp(time, x) ;
    temp:units = "K" ;
  double x(x) ;
data:
 temp = 1, 2, 3, 4, 5, 6 ;
 x = 10, 20, 30 ;
group: sub {
  dimensions:
    z = 2 ;
  variables:
    short w(z, x) ;
  data:
   w = 1, 2, 3, 4, 5, 6 ;
  }
}
"""

def _ncdump_49(store: Path) -> str:
    """netCDF-C 4.9.0 (Debian's ncdump): the whole dump, header and data."""
    result = subprocess.run([_need("ncdump"), f"file://{store}#mode=nczarr,file"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def nccopy_store(tmp_path: Path) -> Path:
    """Generation a (upper case, in .zgroup/.zarray), written by Debian's nccopy (netCDF-C 4.9.0)."""
    (tmp_path / "t.cdl").write_text(CDL)
    subprocess.run([_need("ncgen"), "-4", "-o", str(tmp_path / "t.nc"), str(tmp_path / "t.cdl")], check=True,
                   timeout=60)
    store = tmp_path / "a.zarr"
    subprocess.run([_need("nccopy"), str(tmp_path / "t.nc"), f"file://{store}#mode=nczarr,file"], check=True,
                   timeout=60)
    return store


@pytest.fixture
def netcdf4_store(tmp_path: Path) -> Path:
    return netcdf4_nczarr(tmp_path / "c.zarr")


def test_nczarr_410_rename_is_a_netcdf_rename(netcdf4_store: Path) -> None:
    before = read_with_netcdf_410(netcdf4_store)
    session = EditSession.open(str(netcdf4_store))
    plan = plan_dimension_rename(session, "/", "x", "lon")
    assert plan.nczarr == "/x" and sorted(plan.arrays) == ["/sub/w", "/temp", "/x"]
    session.apply(xarray_rename_dimension(session, "/", "x", "lon"))
    session.apply(xarray_rename_dimension(session, "/", "time", "t"))  # unlimited: stays unlimited
    assert [i.message for i in session.new_errors()[0]] == []
    assert not any("conflicting names" in i.message for i in session.validate())
    session.save()
    after = read_with_netcdf_410(netcdf4_store)
    assert after["dims"] == {"t": [2, True], "lon": [3, False]}
    assert after["vars"]["/temp"] == [["t", "lon"], before["vars"]["/temp"][1]]
    assert after["vars"]["/sub/w"] == [["z", "lon"], before["vars"]["/sub/w"][1]]
    assert after["vars"]["/x"] == [["lon"], [10.0, 20.0, 30.0]]
    opened = _open(netcdf4_store)  # xarray reads the same names
    assert opened["temp"].dims == ("t", "lon") and opened["temp"].values.tolist() == [[1, 2, 3], [4, 5, 6]]
    sub = _open(netcdf4_store, group="sub")
    assert sub["w"].dims == ("z", "lon")


def test_nczarr_rename_in_a_subgroup_and_what_is_refused(netcdf4_store: Path) -> None:
    session = EditSession.open(str(netcdf4_store))
    with pytest.raises(EditError, match=r"defined in group / .* rename it there"):
        plan_dimension_rename(session, "/sub", "x", "lon")
    with pytest.raises(EditError, match="defines an NCZarr dimension 'time' already"):
        plan_dimension_rename(session, "/", "x", "time")
    with pytest.raises(EditError, match="cannot hold '/'"):
        plan_dimension_rename(session, "/", "x", "a/b")
    # the form of one array cannot make xarray and netCDF-C disagree any more (audit F, F6)
    with pytest.raises(EditError, match=r"NCZarr variable: netCDF-C reads its dimensions .* Rename dimension"):
        xarray_set_dimension_names(session, "/temp", ["time", "lon"])
    session.apply(xarray_rename_dimension(session, "/sub", "z", "depth"))
    session.save()
    assert read_with_netcdf_410(netcdf4_store)["vars"]["/sub/w"][0] == ["depth", "x"]
    assert _open(netcdf4_store, group="sub")["w"].dims == ("depth", "x")


def test_nczarr_49_rename_in_zgroup_and_zarray(nccopy_store: Path) -> None:
    before = _ncdump_49(nccopy_store)
    session = EditSession.open(str(nccopy_store))
    session.apply(xarray_rename_dimension(session, "/", "x", "lon"))
    assert len(session.history()) == 1
    assert set(session.changed_keys()) == {".zgroup", "temp/.zarray", "temp/.zattrs", "x/.zarray", "x/.zattrs",
                                           "sub/w/.zarray"}  # (4.9.0 writes no _ARRAY_DIMENSIONS in subgroups)
    assert [i.message for i in session.new_errors()[0]] == []
    session.save()
    zgroup = json.loads((nccopy_store / ".zgroup").read_text())
    assert zgroup["_NCZARR_GROUP"]["dims"] == {"time": 2, "lon": 3}
    after = _ncdump_49(nccopy_store)
    assert "lon = 3 ;" in after and "float temp(time, lon) ;" in after and "short w(z, lon) ;" in after
    assert after.replace("lon", "x").replace("netcdf a", "") == before.replace("netcdf a", "")  # data unchanged
    assert _open(nccopy_store)["temp"].dims == ("time", "lon")
    assert _open(nccopy_store, group="sub")["w"].dims == ("z", "lon")  # read from the renamed dimrefs


def test_nczarr_generation_b_rename(tmp_path: Path) -> None:
    """Lower-case keys in .zgroup/.zarray (netCDF-C 4.9.2, from its nczarr_test/ref_oldkeys.zmap)."""
    store = write_ref_oldkeys(tmp_path / "b.zarr")
    session = EditSession.open(str(store))
    session.apply(xarray_rename_dimension(session, "/", "d1", "rows"))
    session.save()
    read = read_with_netcdf_410(store)
    assert read["dims"] == {"d0": [2, False], "rows": [4, False], "d2": [6, False]}
    assert read["vars"]["/v"][0] == ["d0", "rows", "d2"]
    assert _open(store)["v"].dims == ("d0", "rows", "d2")


def test_nczarr_410_consolidated_copy_follows(tmp_path: Path) -> None:
    """libnetcdf 4.10.1 writes .zmetadata with mode=nczarr,consolidated: the rename reaches it."""
    store = netcdf4_nczarr(tmp_path / "c.zarr", consolidated=True)
    session = EditSession.open(str(store))
    session.apply(xarray_rename_dimension(session, "/", "x", "lon"))
    assert ".zmetadata" in session.save().written
    copy = json.loads((store / ".zmetadata").read_text())["metadata"]
    assert copy[".zattrs"]["_nczarr_group"]["dimensions"] == {"time": {"size": 2, "unlimited": 1}, "lon": 3}
    assert copy["temp/.zattrs"]["_nczarr_array"]["dimension_references"] == ["/time", "/lon"]
    assert read_with_netcdf_410(store)["vars"]["/temp"][0] == ["time", "lon"]
    assert _open(store, consolidated=True)["temp"].dims == ("time", "lon")


def test_nczarr_49_with_a_consolidated_copy_is_refused(nccopy_store: Path) -> None:
    """A consolidated copy of generation a/b would copy .zgroup/.zarray, which a save here does not
    update.  No writer makes one (nccopy 4.9.0 writes none; zarr-python's consolidate_metadata
    drops the NCZarr keys from .zgroup), so the copy is made from the documents as they are."""
    metadata = {key: json.loads((nccopy_store / key).read_text())
                for key in (".zgroup", ".zattrs", "temp/.zarray", "temp/.zattrs", "x/.zarray", "x/.zattrs")}
    (nccopy_store / ".zmetadata").write_text(json.dumps({"metadata": metadata, "zarr_consolidated_format": 1}))
    session = EditSession.open(str(nccopy_store))
    with pytest.raises(EditError, match=r"consolidated copy .*stale.*ncrename"):
        xarray_rename_dimension(session, "/", "x", "lon")
    assert not session.dirty
