"""Round trips of edited stores through other readers: xarray, netCDF-C (ncdump), ome-zarr-models."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from zarr_browser.core.editing import EditSession
from zarr_browser.core.editing.conventions import (
    nczarr_set_attribute,
    ome_rename_axis,
    ome_set_pixel_size,
    xarray_dims_from_ome_axes,
    xarray_set_dimension_names,
)
from zarr_browser.core.issues import Severity

# -- xarray -----------------------------------------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_xarray_sees_new_dimension_names_and_attributes(tmp_path: Path, zarr_format: int) -> None:
    xr = pytest.importorskip("xarray")
    target = tmp_path / "ds.zarr"
    root = zarr.open_group(target, mode="w", zarr_format=zarr_format)
    root.create_array("temperature", shape=(3, 4), chunks=(3, 4), dtype="f8")[:] = np.ones((3, 4))
    root.create_array("pressure", shape=(3, 4), chunks=(3, 4), dtype="f8")[:] = np.zeros((3, 4))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(target)
    session = EditSession.open(str(target))
    session.apply(xarray_set_dimension_names(session, "/temperature", ["time", "lat"]))
    session.apply(xarray_set_dimension_names(session, "/pressure", ["time", "lat"]))
    session.set("/temperature", "/long_name", "air temperature")
    session.set("/", "/Conventions", "CF-1.10")
    session.save()
    for consolidated in (True, False):
        ds = xr.open_zarr(target, consolidated=consolidated, zarr_format=zarr_format)
        assert ds["temperature"].dims == ("time", "lat")
        assert ds["pressure"].dims == ("time", "lat")
        assert ds["temperature"].attrs["long_name"] == "air temperature"
        assert ds.attrs["Conventions"] == "CF-1.10"
        assert float(ds["temperature"].sum()) == 12.0


# -- NCZarr through netCDF-C ------------------------------------------------------------------

CDL = """netcdf t {
dimensions:
  x = 3 ;
variables:
  float temp(x) ;
    temp:units = "K" ;
  :title = "demo" ;
}
"""

NETCDF4_WRITER = textwrap.dedent("""\
    import sys
    import netCDF4
    import numpy as np
    ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file", "w")
    ds.title = "nczarr demo"
    ds.createDimension("x", 3)
    t = ds.createVariable("temp", "f4", ("x",))
    t.units = "K"
    t[:] = np.arange(3)
    ds.close()
""")

NETCDF4_READER = textwrap.dedent("""\
    import json, sys
    import netCDF4
    ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file", "r")
    t = ds["temp"]
    out = {name: [str(getattr(t.getncattr(name), "dtype", type(t.getncattr(name)).__name__)),
                  repr(t.getncattr(name))] for name in t.ncattrs()}
    out["title"] = ds.getncattr("title")
    print(json.dumps(out))
""")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} (netcdf-bin) is missing: scripts/bootstrap.sh installs it")
    return found


@pytest.fixture
def nccopy_store(tmp_path: Path) -> Path:
    """Generation (a) NCZarr written by netCDF-C's own nccopy (the library ncdump uses)."""
    ncgen, nccopy = _tool("ncgen"), _tool("nccopy")
    (tmp_path / "t.cdl").write_text(CDL)
    subprocess.run([ncgen, "-4", "-o", str(tmp_path / "t.nc"), str(tmp_path / "t.cdl")], check=True, timeout=60)
    target = tmp_path / "a.zarr"
    subprocess.run([nccopy, str(tmp_path / "t.nc"), f"file://{target}#mode=nczarr,file"], check=True, timeout=60)
    return target


@pytest.fixture
def netcdf4_store(tmp_path: Path) -> Path:
    """Generation (c) NCZarr written by the netCDF4 wheel's libnetcdf 4.10."""
    if importlib.util.find_spec("netCDF4") is None:
        pytest.fail("netCDF4 is missing: it is part of the test extras")
    script = tmp_path / "write.py"
    script.write_text(NETCDF4_WRITER)
    target = tmp_path / "c.zarr"
    result = subprocess.run([sys.executable, str(script), str(target)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return target


def _ncdump(target: Path) -> str:
    result = subprocess.run([_tool("ncdump"), "-h", f"file://{target}#mode=nczarr,file"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _edit_nczarr(target: Path) -> None:
    session = EditSession.open(str(target))
    session.apply(nczarr_set_attribute(session, "/temp", "comment", "edited by zarr-browser"))
    session.apply(nczarr_set_attribute(session, "/temp", "small", 7, nc_type="<i4"))
    session.set("/temp", "/count", 3)  # plain edits: the session keeps the types in step
    session.set("/temp", "/scale", 2.5)
    session.set("/", "/title", "renamed")
    session.save()


def test_ncdump_reads_edited_nczarr_with_types(nccopy_store: Path) -> None:
    _edit_nczarr(nccopy_store)
    types = json.loads((nccopy_store / "temp" / ".zattrs").read_text())["_NCZARR_ATTR"]["types"]
    assert types == {"units": "<U1", "comment": "<U1", "small": "<i4", "count": "<i8", "scale": "<f8"}
    out = _ncdump(nccopy_store)
    assert 'temp:comment = "edited by zarr-browser" ;' in out
    assert "temp:small = 7 ;" in out  # int
    assert "temp:count = 3LL ;" in out  # int64
    assert "temp:scale = 2.5 ;" in out  # double
    assert ':title = "renamed" ;' in out
    assert 'temp:units = "K" ;' in out


def test_netcdf4_reads_edited_generation_c_with_types(netcdf4_store: Path) -> None:
    _edit_nczarr(netcdf4_store)
    types = json.loads((netcdf4_store / "temp" / ".zattrs").read_text())["_nczarr_attr"]["types"]
    assert types["comment"] == ">S1" and types["small"] == "<i4" and types["count"] == "<i8"
    assert "_ARRAY_DIMENSIONS" not in types  # untouched attributes keep what they had
    script = netcdf4_store.parent / "read.py"
    script.write_text(NETCDF4_READER)
    result = subprocess.run([sys.executable, str(script), str(netcdf4_store)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    attrs = json.loads(result.stdout)
    assert attrs["comment"][1] == "'edited by zarr-browser'"
    assert attrs["count"][0] == "int64" and attrs["small"][0] == "int32" and attrs["scale"][0] == "float64"
    assert attrs["title"] == "renamed"
    assert "renamed" in _ncdump(netcdf4_store)  # the system netCDF-C reads it too


def test_nczarr_internal_attributes_are_read_only(netcdf4_store: Path) -> None:
    from zarr_browser.core.editing import EditError

    session = EditSession.open(str(netcdf4_store))
    with pytest.raises(EditError):
        session.set("/", "/_NCProperties", "x")
    with pytest.raises(EditError):
        session.delete("/temp", "/_nczarr_array")
    with pytest.raises(EditError):
        session.set("/temp", "/_nczarr_attr/types/units", "<i4")
    with pytest.raises(EditError):
        nczarr_set_attribute(session, "/temp", "_nczarr_attr", {})
    assert not session.dirty


def test_deleting_an_nczarr_attribute_drops_its_type(nccopy_store: Path) -> None:
    from zarr_browser.core.editing.conventions import nczarr_delete_attribute

    session = EditSession.open(str(nccopy_store))
    session.apply(nczarr_delete_attribute(session, "/temp", "units"))
    session.save()
    attrs = json.loads((nccopy_store / "temp" / ".zattrs").read_text())
    assert "units" not in attrs and "units" not in attrs["_NCZARR_ATTR"]["types"]
    assert "units" not in _ncdump(nccopy_store)


# -- OME-Zarr through ome-zarr-models ---------------------------------------------------------


def _image(version: str) -> dict[str, Any]:
    ms: dict[str, Any] = {
        "name": "img",
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5, 0.5]}]},
            {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0, 1.0]},
                                                        {"type": "translation", "translation": [0.0, 0.25, 0.25]}]},
        ],
    }
    if version == "0.4":
        ms["version"] = "0.4"
        return {"multiscales": [ms]}
    return {"ome": {"version": "0.5", "multiscales": [ms]}}


def write_image(root: Path, version: str) -> Path:
    zarr_format = 3 if version == "0.5" else 2
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    group.attrs.update(_image(version))
    for path, shape in {"0": (1, 64, 64), "1": (1, 32, 32)}.items():
        kwargs = {"dimension_names": ("c", "y", "x")} if zarr_format == 3 else {}
        group.create_array(path, shape=shape, chunks=shape, dtype="uint8", **kwargs)
    return root


def _validate_ome(root: Path, version: str) -> Any:
    if version == "0.5":
        from ome_zarr_models.v05.image import Image
    else:
        from ome_zarr_models.v04.image import Image
    return Image.from_zarr(zarr.open_group(root, mode="r"))


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_models_validates_edited_image(tmp_path: Path, version: str) -> None:
    pytest.importorskip("ome_zarr_models")
    root = write_image(tmp_path / "img.zarr", version)
    session = EditSession.open(str(root))
    session.apply(ome_set_pixel_size(session, "/", {"y": 0.2, "x": 0.2}, "nanometer"))
    session.apply(ome_rename_axis(session, "/", "y", "yy"))
    result = session.save()
    assert result.written
    image = _validate_ome(root, version)
    ms = image.attributes.multiscales[0] if version == "0.4" else image.ome_attributes.multiscales[0]
    assert [a.name for a in ms.axes] == ["c", "yy", "x"]
    assert ms.axes[1].unit == "nanometer"
    scales = [list(d.coordinateTransformations[0].scale) for d in ms.datasets]
    assert scales == [[1.0, 0.2, 0.2], [1.0, 0.4, 0.4]]
    assert list(ms.datasets[1].coordinateTransformations[1].translation) == [0.0, 0.1, 0.1]
    if version == "0.5":
        for level in ("0", "1"):
            meta = json.loads((root / level / "zarr.json").read_text())
            assert meta["dimension_names"] == ["c", "yy", "x"]


def test_dims_from_ome_axes_for_v2_levels(tmp_path: Path) -> None:
    root = write_image(tmp_path / "img.zarr", "0.4")
    session = EditSession.open(str(root))
    session.apply(xarray_dims_from_ome_axes(session, "/"))
    session.save()
    for level in ("0", "1"):
        attrs = json.loads((root / level / ".zattrs").read_text())
        assert attrs["_ARRAY_DIMENSIONS"] == ["c", "y", "x"]
    level0 = zarr.open_array(root / "0")
    assert level0.attrs["_ARRAY_DIMENSIONS"] == ["c", "y", "x"]
    _validate_ome(root, "0.4")


def _cli_edit(*argv: str) -> tuple[int, str]:
    import contextlib
    import io

    from zarr_browser.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["edit", *argv])
    return code, out.getvalue()


def test_attribute_values_netcdf_cannot_read_are_refused_in_nczarr(nccopy_store: Path, tmp_path: Path) -> None:
    """A bool, null, a list of strings or an object written into a store netCDF-C wrote made
    ncdump fail on the whole file ("NetCDF: Invalid argument"); the edit said nothing."""
    before = (nccopy_store / "temp" / ".zattrs").read_text()
    for value, why in (("null", "is null"), ('["a", "b"]', "is a list of strings"), ('{"a": 1}', "is an object"),
                       ("[]", "is an empty list"), ('[1, "a"]', "is a list mixing text and numbers")):
        code, text = _cli_edit(str(nccopy_store), "--set", f"/temp:/probe={value}")
        assert code == 1 and f"attribute probe {why}" in text and "netCDF-C cannot read it" in text, text
        assert (nccopy_store / "temp" / ".zattrs").read_text() == before  # nothing written
    code, text = _cli_edit(str(nccopy_store), "--set", "/temp:/flag=true")  # a bool is a byte to netCDF-C
    assert code == 0, text
    assert json.loads((nccopy_store / "temp" / ".zattrs").read_text())["_NCZARR_ATTR"]["types"]["flag"] == "|u1"
    assert "temp:flag = 1UB ;" in _ncdump(nccopy_store)
    # mode=zarr (no types): null breaks it too; an object is read as its JSON text
    plain = tmp_path / "plain.zarr"
    subprocess.run([_tool("nccopy"), str(tmp_path / "t.nc"), f"file://{plain}#mode=zarr,file"], check=True, timeout=60)
    code, text = _cli_edit(str(plain), "--set", "/temp:/probe=null")
    assert code == 1 and "attribute probe is null" in text, text
    code, text = _cli_edit(str(plain), "--set", '/temp:/probe={"a": 1}')
    assert code == 0, text


def test_an_edit_keeps_netcdf_c_s_one_line_style(nccopy_store: Path) -> None:
    """netCDF-C writes lists without spaces inside objects with them ({"a": [1,2]}); every
    rewrite turned them into [1, 2], so each edit reformatted the whole document."""
    path = nccopy_store / "temp" / ".zattrs"
    doc = json.loads(path.read_text())
    doc["valid_range"] = [-500, 500]  # as netCDF-C writes a list attribute
    path.write_text(json.dumps(doc).replace("[-500, 500]", "[-500,500]"))
    before = path.read_text()
    session = EditSession.open(str(nccopy_store))
    session.set("/temp", "/comment", "edited")
    session.save()
    after = path.read_text()
    assert '"valid_range": [-500,500]' in after and after.startswith(before[:-1].rsplit("}}", 1)[0])
    assert json.loads(after)["comment"] == "edited"
    assert '"comment": "<U1"' in after  # its type, written in the same style


def test_renaming_a_dimension_of_an_nczarr_variable_adds_no_type(nccopy_store: Path) -> None:
    """An _ARRAY_DIMENSIONS edit typed it |J0 (which netCDF-C never writes, and cannot read)."""
    session = EditSession.open(str(nccopy_store))
    session.set("/temp", "/_ARRAY_DIMENSIONS", ["x2"])
    types = session.document("temp/.zattrs")["_NCZARR_ATTR"]["types"]
    assert "_ARRAY_DIMENSIONS" not in types


def test_a_renamed_nczarr_dimension_says_netcdf_keeps_its_references(nccopy_store: Path) -> None:
    """The edit changes what xarray sees, not netCDF's dimensions (dimrefs): the warning says so."""
    session = EditSession.open(str(nccopy_store))
    session.set("/temp", "/_ARRAY_DIMENSIONS", ["x2"])
    new, _old = session.new_issues(Severity.WARNING)
    assert any("conflicting names" in i.message and "netCDF readers take the NCZarr dimension references" in i.message
               for i in new), [i.message for i in new]
