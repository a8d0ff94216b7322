"""NCZarr, all three generations, from netCDF-C writers.

* (a) upper-case keys in ``.zgroup``/``.zarray``: Debian's ``nccopy`` (netCDF-C 4.9.0);
* (b) lower-case keys in ``.zgroup``/``.zarray``: no writer here, so the store is rebuilt from
  netCDF-C's own reference dump ``nczarr_test/ref_oldkeys.zmap`` (written by netcdf 4.9.2;
  Unidata/netcdf-c @ 74e36c492d108079a45b6e365b159664c5fa0f56), documents copied verbatim;
* (c) everything in ``.zattrs``: the libnetcdf 4.10 bundled in the netCDF4 wheel, run in a
  subprocess because netCDF-C has been seen to segfault.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zarr
from validating import validate_with  # tests/validating.py

from zarr_browser.core.conventions.base import ConventionRegistry, Detection
from zarr_browser.core.conventions.cf import CfConvention
from zarr_browser.core.conventions.nczarr import NczarrConvention, parse_ncproperties
from zarr_browser.core.conventions.xarray_dims import XarrayConvention
from zarr_browser.core.conventions.zarr_core import ZarrCoreConvention
from zarr_browser.core.dimensions import resolve_dimension_names
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.validate import HierarchyContext, ValidationReport

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:zarr")

MINE = ("nczarr", "zarr", "xarray", "cf", "dimensions")

CDL = """\
netcdf t {
dimensions:
  time = 2 ;
  x = 3 ;
variables:
  float temp(time, x) ;
    temp:units = "K" ;
    temp:_FillValue = -999.f ;
  int scalar ;
  double x(x) ;
    x:units = "m" ;
// global attributes:
  :title = "nczarr demo" ;
  :Conventions = "CF-1.8" ;
data:
 temp = 1, 2, 3, 4, 5, 6 ;
 scalar = 7 ;
 x = 1, 2, 3 ;
group: sub {
  dimensions:
    z = 4 ;
  variables:
    short w(z, x) ;
  }
}
"""

# netCDF-C 4.9.0 (Debian) crashes reading back its own NCZarr scalars: the round trip has none
ROUND_TRIP_CDL = "\n".join(line for line in CDL.splitlines() if "scalar" not in line)

NETCDF4_WRITER = textwrap.dedent("""\
    import sys
    import netCDF4
    import numpy as np
    ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file", "w")
    ds.title = "nczarr demo"
    ds.createDimension("time", None)
    ds.createDimension("x", 3)
    t = ds.createVariable("temp", "f4", ("time", "x"), fill_value=-999.0)
    t.units = "K"
    t.valid_range = np.array([0, 400], "f4")
    t[0:2, :] = np.arange(6).reshape(2, 3)
    s = ds.createVariable("scalar", "i4", ())
    s[...] = 7
    g = ds.createGroup("sub")
    g.createDimension("z", 4)
    w = g.createVariable("w", "i2", ("z", "x"))
    w[:] = 1
    ds.close()
""")


def _registry() -> ConventionRegistry:
    return ConventionRegistry([ZarrCoreConvention(), XarrayConvention(), CfConvention(), NczarrConvention()])


def _check(path: Path) -> tuple[Hierarchy, ValidationReport, ConventionRegistry]:
    """Validate with these conventions; keep only their issues."""
    return validate_with(path, [ZarrCoreConvention(), XarrayConvention(), CfConvention(), NczarrConvention()], keep=MINE)


def _nczarr(hierarchy: Hierarchy, path: str) -> Detection | None:
    return NczarrConvention().detect(hierarchy.node(path))


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} (netCDF-C, Debian package netcdf-bin) is missing: scripts/bootstrap.sh installs it")
    return found


@pytest.fixture(scope="module")
def nccopy_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``mode=nczarr`` and ``mode=zarr`` stores written by nccopy from one netCDF-4 file."""
    ncgen, nccopy = _need("ncgen"), _need("nccopy")
    base = tmp_path_factory.mktemp("nccopy")
    (base / "t.cdl").write_text(CDL)
    subprocess.run([ncgen, "-4", "-o", str(base / "t.nc"), str(base / "t.cdl")], check=True, timeout=60)
    out = {}
    for mode in ("nczarr", "zarr"):
        target = base / f"{mode}.zarr"
        subprocess.run([nccopy, str(base / "t.nc"), f"file://{target}#mode={mode},file"], check=True, timeout=60)
        out[mode] = target
    return out


@pytest.fixture(scope="module")
def netcdf4_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generation (c) store written by the netCDF4 wheel's libnetcdf, with an unlimited dimension."""
    if importlib.util.find_spec("netCDF4") is None:
        pytest.fail("netCDF4 (python) is missing: it is part of the test extras")
    return _write_with_netcdf4(NETCDF4_WRITER, tmp_path_factory.mktemp("netcdf4") / "c.zarr")


def _write_with_netcdf4(writer: str, target: Path) -> Path:
    """Run the netCDF4 script *writer* on *target*, in a subprocess (netCDF-C has been seen to crash)."""
    result = subprocess.run([sys.executable, "-c", writer, str(target)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return target


# netCDF-C nczarr_test/ref_oldkeys.zmap (netcdf 4.9.2), documents verbatim
REF_OLDKEYS = {
    ".zattrs": '{"_NCProperties": "version=2,netcdf=4.9.2,nczarr=2.0.0", "_nczarr_attr": {"types": '
               '{"_NCProperties": ">S1"}}}',
    ".zgroup": '{"zarr_format": 2, "_nczarr_superblock": {"version": "2.0.0"}, "_nczarr_group": {"dims": '
               '{"d0": 2, "d1": 4, "d2": 6}, "vars": ["v"], "groups": []}}',
    "v/.zarray": '{"zarr_format": 2, "shape": [2,4,6], "dtype": "<i4", "chunks": [2,4,6], "fill_value": null, '
                 '"order": "C", "compressor": null, "filters": null, "_nczarr_array": {"dimrefs": '
                 '["/d0","/d1","/d2"], "storage": "chunked"}}',
    "v/.zattrs": '{"_FillValue": -1, "_ARRAY_DIMENSIONS": ["d0","d1","d2"], "_nczarr_attr": {"types": '
                 '{"_FillValue": "<i4"}}}',
}


@pytest.fixture
def oldkeys_store(tmp_path: Path) -> Path:
    return write_ref_oldkeys(tmp_path / "ref_oldkeys.zarr")


def write_ref_oldkeys(target: Path) -> Path:
    """The generation (b) store of netCDF-C's ``ref_oldkeys.zmap``, with its chunk, at *target*."""
    for key, text in REF_OLDKEYS.items():
        (target / key).parent.mkdir(parents=True, exist_ok=True)
        (target / key).write_text(text)
    (target / "v" / "0.0.0").write_bytes(np.arange(48, dtype="<i4").tobytes())
    return target


# -- generation (a): nccopy 4.9.0 ------------------------------------------------------------


def test_nccopy_generation_a(nccopy_stores: dict[str, Path]) -> None:
    hierarchy, report, registry = _check(nccopy_stores["nczarr"])
    zgroup = json.loads((nccopy_stores["nczarr"] / ".zgroup").read_text())
    assert "_NCZARR_SUPERBLOCK" in zgroup  # what 4.9.0 writes: upper case, in .zgroup
    assert _nczarr(hierarchy, "/") == Detection("nczarr", "2.0.0", ("root", "group"))
    assert _nczarr(hierarchy, "/sub") == Detection("nczarr", None, ("group",))
    assert _nczarr(hierarchy, "/temp") == Detection("nczarr", None, ("variable",))
    assert _nczarr(hierarchy, "/scalar") == Detection("nczarr", None, ("variable", "scalar"))
    ctx = HierarchyContext(hierarchy)
    root = NczarrConvention().describe(hierarchy.root, ctx)
    assert root["generation"] == "a"
    assert root["provenance"]["netcdf"] == "4.9.0"
    assert root["dimensions"] == [{"name": "time", "size": 2, "unlimited": False},
                                  {"name": "x", "size": 3, "unlimited": False}]
    w = hierarchy.node("/sub/w")
    sources = registry.dimension_sources(w, hierarchy.node("/sub"))
    nczarr_source = next(s for s in sources if s.convention == "nczarr")
    assert nczarr_source.names == ("z", "x") and nczarr_source.document == ".zarray"
    assert nczarr_source.pointer == "/_NCZARR_ARRAY/dimrefs"
    assert resolve_dimension_names(w, sources) == ("z", "x")  # no _ARRAY_DIMENSIONS in subgroups in 4.9.0
    # what this writer does that xarray cannot read: a scalar gets _ARRAY_DIMENSIONS [] with shape [1]
    # (netCDF reads it as a scalar, so it is valid NCZarr: a warning, not an error that fails CI)
    assert [(i.path, i.convention, i.severity) for i in report.issues] == [("/scalar", "xarray", Severity.WARNING)]
    assert "has 0 names but the array has 1 dimensions" in report.issues[0].message


def test_nccopy_pure_zarr_mode_is_provenance_only(nccopy_stores: dict[str, Path]) -> None:
    hierarchy, _, _ = _check(nccopy_stores["zarr"])
    assert _nczarr(hierarchy, "/") == Detection("nczarr", None, ("netcdf-provenance",))
    assert _nczarr(hierarchy, "/temp") is None
    described = NczarrConvention().describe(hierarchy.root, HierarchyContext(hierarchy))
    assert described["provenance"]["nczarr"] == "2.0.0" and "generation" not in described
    assert NczarrConvention().child_hints(hierarchy.root) == []
    # in a folder of stores the same root is a child group, and still told as netCDF-C's
    folder = Hierarchy.open(nccopy_stores["zarr"].parent)
    child = folder.node("/" + nccopy_stores["zarr"].name)
    assert _nczarr(folder, child.path) == Detection("nczarr", None, ("netcdf-provenance",))


# -- generation (b): ref_oldkeys ---------------------------------------------------------------


def test_ref_oldkeys_generation_b(oldkeys_store: Path) -> None:
    hierarchy, report, _ = _check(oldkeys_store)
    assert report.issues == []
    assert _nczarr(hierarchy, "/") == Detection("nczarr", "2.0.0", ("root", "group"))
    assert _nczarr(hierarchy, "/v") == Detection("nczarr", None, ("variable",))
    ctx = HierarchyContext(hierarchy)
    assert NczarrConvention().describe(hierarchy.root, ctx)["generation"] == "b"
    described = NczarrConvention().describe(hierarchy.node("/v"), ctx)
    assert described["dimension_references"] == ["/d0", "/d1", "/d2"]
    assert described["attribute_types"] == {"_FillValue": "<i4"}
    assert NczarrConvention().child_hints(hierarchy.root) == ["v"]


def test_generation_b_size_mismatch_is_an_error(oldkeys_store: Path) -> None:
    zgroup = json.loads((oldkeys_store / ".zgroup").read_text())
    zgroup["_nczarr_group"]["dims"]["d1"] = 5
    (oldkeys_store / ".zgroup").write_text(json.dumps(zgroup))
    _, report, _ = _check(oldkeys_store)
    errors = [i for i in report.issues if i.convention == "nczarr"]
    assert len(errors) == 1 and errors[0].severity is Severity.ERROR
    assert "'/d1' (axis 1): dimension 'd1' has size 5 but the array has 4" in errors[0].message
    assert (errors[0].pointer, errors[0].document) == ("/_nczarr_array/dimrefs/1", ".zarray")


# -- generation (c): netCDF4 wheel -------------------------------------------------------------


def test_netcdf4_generation_c(netcdf4_store: Path) -> None:
    hierarchy, report, _ = _check(netcdf4_store)
    assert report.issues == []
    assert _nczarr(hierarchy, "/") == Detection("nczarr", "2.0.0", ("root", "group"))
    assert _nczarr(hierarchy, "/scalar") == Detection("nczarr", None, ("variable", "scalar"))
    ctx = HierarchyContext(hierarchy)
    root = NczarrConvention().describe(hierarchy.root, ctx)
    assert root["generation"] == "c"
    assert {"name": "time", "size": 2, "unlimited": True} in root["dimensions"]
    assert root["attribute_types"] == {"title": ">S1", "_NCProperties": ">S1"}
    assert "_nczarr_group" in root["hidden_attributes"]
    assert NczarrConvention().child_hints(hierarchy.root) == ["temp", "scalar", "sub"]
    temp = NczarrConvention().describe(hierarchy.node("/temp"), ctx)
    assert temp["dimension_references"] == ["/time", "/x"]
    assert temp["attribute_types"]["valid_range"] == "<f4"
    source = NczarrConvention().dimensions(hierarchy.node("/sub/w"), hierarchy.node("/sub"))
    assert source is not None and source.names == ("z", "x")
    assert (source.pointer, source.document) == ("/_nczarr_array/dimension_references", ".zattrs")


NETCDF4_OPEN = textwrap.dedent("""\
    import json, sys
    import netCDF4
    try:
        ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file")
    except OSError as err:
        print(json.dumps({"error": str(err)}))
    else:
        print(json.dumps({"dims": {name: len(dim) for name, dim in ds.dimensions.items()}}))
""")


def _netcdf4_open(store: Path) -> dict[str, object]:
    """What libnetcdf 4.10 (the netCDF4 wheel) makes of *store*: its root dimensions, its error, or
    how it died (it aborts or segfaults on some stores, hence the subprocess)."""
    result = subprocess.run([sys.executable, "-c", NETCDF4_OPEN, str(store)], capture_output=True, text=True,
                            timeout=120)
    if result.returncode:
        return {"crash": result.returncode}
    return dict(json.loads(result.stdout))


def _ncdump(store: Path) -> subprocess.CompletedProcess[str]:
    """netCDF-C 4.9 (Debian's ncdump) on *store*."""
    return subprocess.run([_need("ncdump"), "-h", f"file://{store}#mode=nczarr,file"], capture_output=True,
                          text=True, timeout=60)


def _set_unlimited_size(store: Path, size: int) -> None:
    attrs = json.loads((store / ".zattrs").read_text())
    attrs["_nczarr_group"]["dimensions"]["time"]["size"] = size
    (store / ".zattrs").write_text(json.dumps(attrs))


def test_an_unlimited_dimension_must_keep_the_size_of_its_arrays(netcdf4_store: Path, tmp_path: Path) -> None:
    """An append with zarr-python or xarray grows the arrays on an unlimited dimension but not the
    size _nczarr_group declares: netCDF-C then refuses the file, although xarray opens it."""
    store = tmp_path / "appended.zarr"
    shutil.copytree(netcdf4_store, store)
    temp = zarr.open_array(store / "temp", mode="r+", zarr_format=2)
    temp.resize((5, 3))  # what to_zarr(append_dim="time") does to it
    temp[2:] = 7
    assert _netcdf4_open(store) == {"error": "[Errno -63] NetCDF: Invalid dimension size: "
                                             f"'file://{store}#mode=nczarr,file'"}
    _, report, _ = _check(store)
    (issue,) = [i for i in report.issues if i.path == "/temp"]
    assert issue.severity is Severity.ERROR and issue.convention == "nczarr"
    assert ("dimension 'time' is unlimited with size 2 in _nczarr_group.dimensions of '/' but the array has 5"
            in issue.message)
    assert '"Invalid dimension size"' in issue.message and "set the size there" in issue.message
    assert "4.9 reads this generation as plain Zarr" in issue.message  # (Debian's ncdump: with the arrays' sizes)
    assert (issue.pointer, issue.document) == ("/_nczarr_array/dimension_references/0", ".zattrs")
    _set_unlimited_size(store, 5)  # the fix the message gives: netCDF-C reads it, and we say nothing
    assert _netcdf4_open(store)["dims"] == {"time": 5, "x": 3}
    _, report, _ = _check(store)
    assert report.issues == []
    _set_unlimited_size(store, 7)  # shorter than the size: refused too (netCDF-C writes every array in full)
    assert "Invalid dimension size" in str(_netcdf4_open(store)["error"])
    _, report, _ = _check(store)
    assert [i.path for i in report.issues if i.convention == "nczarr"] == ["/temp"]


def test_bad_dimension_references_are_errors(netcdf4_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "c.zarr"
    shutil.copytree(netcdf4_store, store)
    attrs = json.loads((store / "sub" / "w" / ".zattrs").read_text())
    attrs["_nczarr_array"]["dimension_references"] = ["/sub/q", "x"]
    (store / "sub" / "w" / ".zattrs").write_text(json.dumps(attrs))
    _, report, _ = _check(store)
    messages = sorted(i.message for i in report.issues if i.convention == "nczarr")
    assert len(messages) == 2
    assert "'/sub/q' (axis 0): group '/sub' defines no dimension 'q' (it defines ['z'])" in messages[0]
    assert "'x' (axis 1): not a fully qualified name" in messages[1]


def test_zarr_python_drops_generation_a_array_metadata(tmp_path: Path) -> None:
    """zarr-python rewrites .zarray without the keys it does not know: after a resize (an xarray
    append) or an attribute change nccopy's _NCZARR_ARRAY is gone, and netCDF-C 4.9 fails on the
    whole file."""
    ncgen, nccopy = _need("ncgen"), _need("nccopy")
    (tmp_path / "t.cdl").write_text(ROUND_TRIP_CDL)
    subprocess.run([ncgen, "-4", "-o", str(tmp_path / "t.nc"), str(tmp_path / "t.cdl")], check=True, timeout=60)
    store = tmp_path / "a.zarr"
    subprocess.run([nccopy, str(tmp_path / "t.nc"), f"file://{store}#mode=nczarr,file"], check=True, timeout=60)
    assert _ncdump(store).returncode == 0
    zarr.open_array(store / "x", mode="r+", zarr_format=2).resize((3,))  # same shape: .zarray rewritten all the same
    assert "_NCZARR_ARRAY" not in json.loads((store / "x" / ".zarray").read_text())
    zarr.open_array(store / "temp", mode="r+", zarr_format=2).attrs["comment"] = "so does any attribute change"
    assert "_NCZARR_ARRAY" not in json.loads((store / "temp" / ".zarray").read_text())
    assert "NetCDF: NCZarr error" in _ncdump(store).stderr
    _, report, _ = _check(store)
    issue, _ = [i for i in report.issues if i.convention == "nczarr"]
    assert issue.severity is Severity.ERROR and (issue.path, issue.document) == ("/temp", ".zarray")
    assert issue.message.startswith("variable 'temp' is declared in _NCZARR_GROUP of '/' but its .zarray has no "
                                    "_NCZARR_ARRAY (its dimension references; zarr-python drops it whenever it "
                                    "rewrites .zarray: on any change through it, attributes,")
    assert '"NCZarr error"' in issue.message


def test_scalar_marker_consistency(netcdf4_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "s.zarr"
    shutil.copytree(netcdf4_store, store)
    attrs = json.loads((store / "scalar" / ".zattrs").read_text())
    attrs["_nczarr_array"]["dimension_references"] = ["/x"]
    (store / "scalar" / ".zattrs").write_text(json.dumps(attrs))
    _, report, _ = _check(store)
    assert [i.message for i in report.issues if i.convention == "nczarr"] == [
        "scalar variable has dimension references ['/x']; a netCDF scalar has none"]


def test_parse_ncproperties() -> None:
    assert parse_ncproperties("version=2,netcdf=4.10.1,nczarr=2.0.0") == {
        "version": "2", "netcdf": "4.10.1", "nczarr": "2.0.0"}
    assert parse_ncproperties(5) == {}


# -- robustness ------------------------------------------------------------------------------

JUNK = [None, True, -1, 2.5, math.nan, "x", [], [None], [3, "a"], {}, {"dims": 3}, {"d": {"size": "x"}},
        {"dimension_references": [1]}, {"dimrefs": "abc", "scalar": 1}, {"dimensions": [{"size": 2}]}]
PARTS = ["superblock", "group", "array", "attr"]


def test_junk_nczarr_keys_give_issues_not_exceptions(tmp_path: Path) -> None:
    store = tmp_path / "junk.zarr"
    zarr.open_group(store, mode="w", zarr_format=2)
    count = 0
    for i, value in enumerate(JUNK):
        for upper in (False, True):
            keys = {(f"_NCZARR_{p.upper()}" if upper else f"_nczarr_{p}"): value for p in PARTS}
            group_dir = store / f"g{i}{'u' if upper else 'l'}"
            group_dir.mkdir()
            # one group with the keys in .zgroup (generations a/b) and one array with them in .zattrs (c)
            (group_dir / ".zgroup").write_text(json.dumps({"zarr_format": 2, **keys}, allow_nan=True))
            (group_dir / ".zattrs").write_text(json.dumps(keys, allow_nan=True))
            array = zarr.open_group(group_dir, mode="r+", zarr_format=2).create_array("a", shape=(2,), dtype="i4")
            array.attrs.update(keys)
            meta = json.loads((group_dir / "a" / ".zarray").read_text())
            (group_dir / "a" / ".zarray").write_text(json.dumps({**meta, **keys}, allow_nan=True))
            count += 2
    hierarchy = Hierarchy.open(str(store))
    ctx = HierarchyContext(hierarchy)
    convention = NczarrConvention()
    nodes = [n for n, _ in hierarchy.walk()]
    assert len(nodes) == count + 1
    reported = 0
    for node in nodes:
        convention.detect(node)
        convention.describe(node, ctx)
        convention.child_hints(node)
        convention.dimensions(node, None)
        issues = convention.validate(node, ctx)
        assert all(isinstance(i, Issue) for i in issues)
        reported += bool(issues)
    assert reported > count / 2


# -- editing keeps netCDF types -------------------------------------------------------------------




def test_edited_fill_value_keeps_the_variable_type_and_netcdf_c_copies_it(tmp_path: Path) -> None:
    """Typing -9999 into a float variable's _FillValue must not retype it <i8: netCDF-C then
    refuses the copy ("_FillValue type mismatch").  Other changed attributes keep their type
    while the new value fits it."""
    from zarr_browser.core.editing import EditSession

    ncgen, nccopy = _need("ncgen"), _need("nccopy")
    (tmp_path / "t.cdl").write_text(ROUND_TRIP_CDL)
    subprocess.run([ncgen, "-4", "-o", str(tmp_path / "t.nc"), str(tmp_path / "t.cdl")], check=True, timeout=60)
    store = tmp_path / "edited.zarr"
    subprocess.run([nccopy, str(tmp_path / "t.nc"), f"file://{store}#mode=nczarr,file"], check=True, timeout=60)
    session = EditSession.open(str(store))
    session.set("/temp", "/_FillValue", -9999)
    session.set("/temp", "/units", "degC")
    session.set("/x", "/units", "km")
    session.set("/temp", "/comment", 3)  # new: inferred
    assert not [i for i in session.validate() if i.severity is Severity.ERROR]
    session.save()
    types = json.loads((store / "temp" / ".zattrs").read_text())["_NCZARR_ATTR"]["types"]
    assert types["_FillValue"] == "<f4" and types["units"] == "<U1" and types["comment"] == "<i8"
    copied = tmp_path / "copied.nc"
    result = subprocess.run([nccopy, f"file://{store}#mode=nczarr,file", str(copied)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    dump = subprocess.run([_need("ncdump"), "-h", str(copied)], capture_output=True, text=True, timeout=60).stdout
    assert "temp:_FillValue = -9999.f" in dump and 'temp:units = "degC"' in dump and 'x:units = "km"' in dump


def test_a_fill_value_typed_otherwise_than_its_variable_is_an_error(nccopy_stores: dict[str, Path],
                                                                     tmp_path: Path) -> None:
    store = tmp_path / "retyped.zarr"
    shutil.copytree(nccopy_stores["nczarr"], store)
    attrs = json.loads((store / "temp" / ".zattrs").read_text())
    attrs["_NCZARR_ATTR"]["types"]["_FillValue"] = "<i8"
    (store / "temp" / ".zattrs").write_text(json.dumps(attrs))
    _, report, _ = _check(store)
    (issue,) = [i for i in report.issues if i.path == "/temp" and "_FillValue" in i.message]
    assert issue.severity is Severity.ERROR and "<i8" in issue.message and "<f4" in issue.message
    assert issue.pointer.endswith("/types/_FillValue") and issue.document == ".zattrs"


# -- attribute values their declared type contradicts ---------------------------------------------

TYPED_WRITER = textwrap.dedent("""\
    import sys
    import netCDF4
    import numpy as np
    ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file", "w")
    ds.createDimension("x", 3)
    t = ds.createVariable("temp", "i2", ("x",), fill_value=np.int16(-999))
    t.units = "K"
    t.scale_factor = np.int16(1)
    t.calib = 2.0
    t[:] = [1, 2, 3]
    ds.close()
""")

NETCDF4_ATTRIBUTE = textwrap.dedent("""\
    import sys
    import netCDF4
    try:
        ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file")
    except (OSError, RuntimeError) as err:
        print(f"error {err}")
    else:
        print(repr(ds["temp"].getncattr(sys.argv[2])))
""")


def _netcdf4_attribute(store: Path, name: str) -> str:
    """Attribute *name* of /temp as libnetcdf 4.10 reads it (repr), its error, or how it died."""
    result = subprocess.run([sys.executable, "-c", NETCDF4_ATTRIBUTE, str(store), name], capture_output=True,
                            text=True, timeout=120)
    return result.stdout.strip() if result.returncode == 0 else f"exit {result.returncode}"


def _nczarr_errors(store: Path) -> list[Issue]:
    _, report, _ = _check(store)
    return [i for i in report.issues if i.convention == "nczarr"]


@pytest.fixture
def typed_store(tmp_path: Path) -> Path:
    """Generation (c) with typed attributes: units (>S1), scale_factor (<i2), calib (<f8)."""
    target = _write_with_netcdf4(TYPED_WRITER, tmp_path / "typed.zarr")
    types = json.loads((target / "temp" / ".zattrs").read_text())["_nczarr_attr"]["types"]
    assert (types["units"], types["scale_factor"], types["calib"]) == (">S1", "<i2", "<f8")
    return target


def test_values_changed_by_zarr_python_against_their_netcdf_types_are_errors(typed_store: Path) -> None:
    """zarr-python and xarray change attribute values but not _nczarr_attr.types: netCDF-C then
    aborts, fails to open the file or misreads the value (scale_factor 0.01 read as 0)."""
    assert _nczarr_errors(typed_store) == []
    attrs = zarr.open_array(typed_store / "temp", mode="r+", zarr_format=2).attrs
    attrs["scale_factor"] = 0.01  # still typed <i2
    assert _netcdf4_attribute(typed_store, "scale_factor") == "np.int16(0)"
    (issue,) = _nczarr_errors(typed_store)
    assert issue.severity is Severity.ERROR and issue.path == "/temp"
    assert issue.message.startswith("attribute scale_factor is 0.01 typed '<i2' (an integer type): netCDF-C reads "
                                    "it as 0 (the fraction dropped); its type should be '<f8'")
    assert (issue.pointer, issue.document) == ("/_nczarr_attr/types/scale_factor", ".zattrs")
    attrs["scale_factor"] = 1
    attrs["calib"] = "none"  # text typed <f8: libnetcdf 4.10 aborts (SIGABRT), taking its program with it
    assert _netcdf4_attribute(typed_store, "units") == "exit -6"
    (issue,) = _nczarr_errors(typed_store)
    assert "attribute calib is text ('none') typed '<f8' (a float type): netCDF-C cannot read it" in issue.message
    assert "(4.10 aborts the program)" in issue.message and "its type should be '>S1'" in issue.message
    attrs["calib"] = 12.5
    attrs["units"] = 5.0  # a number typed >S1 (char): read as its first character
    assert _netcdf4_attribute(typed_store, "units") == "'5'"
    (issue,) = _nczarr_errors(typed_store)
    assert "attribute units is 5.0 typed '>S1' (char, netCDF text): netCDF-C reads it as the text '5'" in issue.message
    attrs["units"] = "K"
    doc = json.loads((typed_store / "temp" / ".zattrs").read_text())
    doc["_nczarr_attr"]["types"]["units"] = "<U1"  # netCDF-C 4.9.0's char, which 4.10 does not know
    (typed_store / "temp" / ".zattrs").write_text(json.dumps(doc))
    assert _netcdf4_attribute(typed_store, "units") == "error NetCDF: NCZarr error"
    (issue,) = _nczarr_errors(typed_store)
    assert "typed '<U1', which is no type netCDF-C knows in _nczarr_attr (4.10 writes char as '>S1')" in issue.message
    doc["_nczarr_attr"]["types"]["units"] = ">S1"
    doc["_FillValue"] = -999.5  # the variable's own type: the value is what is wrong
    (typed_store / "temp" / ".zattrs").write_text(json.dumps(doc))
    assert _netcdf4_attribute(typed_store, "_FillValue") == "np.int16(-999)"
    (issue,) = _nczarr_errors(typed_store)
    assert issue.message.startswith("attribute _FillValue is -999.5 typed '<i2' (an integer type): netCDF-C reads it "
                                    "as -999 (the fraction dropped); its value should be one of the variable's type")


def test_an_edit_here_retypes_what_zarr_python_changed(typed_store: Path) -> None:
    """Any edit of the node's attributes gives the mistyped ones the type of their value."""
    from zarr_browser.core.editing import EditError, EditSession
    from zarr_browser.core.editing.conventions import nczarr_set_attribute

    attrs = zarr.open_array(typed_store / "temp", mode="r+", zarr_format=2).attrs
    attrs["scale_factor"] = 0.01
    attrs["_nczarr_attr"] = {"types": {**attrs["_nczarr_attr"]["types"], "units": "<U1"}}  # 4.9.0's char
    session = EditSession.open(str(typed_store))
    with pytest.raises(EditError, match=re.escape("calib cannot be text ('x') typed '<i4' (an integer type)")):
        nczarr_set_attribute(session, "/temp", "calib", "x", nc_type="<i4")
    session.set("/temp", "/long_name", "temperature")
    session.set("/temp", "/units", "degC")  # text fits '<U1', but netCDF-C 4.10 knows no '<U1'
    assert not [i for i in session.validate() if i.severity is Severity.ERROR]
    session.save()
    types = json.loads((typed_store / "temp" / ".zattrs").read_text())["_nczarr_attr"]["types"]
    assert types["scale_factor"] == "<f8" and types["calib"] == "<f8" and types["long_name"] == ">S1"
    assert types["units"] == ">S1"
    assert _netcdf4_attribute(typed_store, "scale_factor") == "np.float64(0.01)"
    assert _nczarr_errors(typed_store) == []


def test_netcdf_c_4_9_types_contradicted_by_their_values(tmp_path: Path) -> None:
    """nccopy 4.9.0 writes char as <U1 and knows no >S1; ncdump fails on text typed as a number
    and drops the fraction of a number typed as an integer."""
    ncgen, nccopy = _need("ncgen"), _need("nccopy")
    cdl = ROUND_TRIP_CDL.replace('temp:units = "K" ;', 'temp:units = "K" ;\n    temp:scale_factor = 1s ;')
    (tmp_path / "t.cdl").write_text(cdl)
    subprocess.run([ncgen, "-4", "-o", str(tmp_path / "t.nc"), str(tmp_path / "t.cdl")], check=True, timeout=60)
    store = tmp_path / "a.zarr"
    subprocess.run([nccopy, str(tmp_path / "t.nc"), f"file://{store}#mode=nczarr,file"], check=True, timeout=60)
    assert _nczarr_errors(store) == []
    path = store / "temp" / ".zattrs"  # (zarr-python would drop .zarray's _NCZARR_ARRAY: see above)
    attrs = json.loads(path.read_text())
    path.write_text(json.dumps({**attrs, "scale_factor": 0.01}))  # typed <i2
    assert "temp:scale_factor = 0s ;" in _ncdump(store).stdout
    (issue,) = _nczarr_errors(store)
    assert "attribute scale_factor is 0.01 typed '<i2' (an integer type): netCDF-C reads it as 0" in issue.message
    assert issue.pointer == "/_NCZARR_ATTR/types/scale_factor"
    path.write_text(json.dumps({**attrs, "units": 7.5}))  # typed <U1: ncdump fails
    assert "NetCDF: internal library error" in _ncdump(store).stderr
    (issue,) = _nczarr_errors(store)
    assert "attribute units is 7.5 typed '<U1' (char, netCDF text): netCDF-C cannot read it" in issue.message
    attrs["_NCZARR_ATTR"]["types"]["units"] = ">S1"  # 4.10's char, which 4.9.0 does not know
    path.write_text(json.dumps(attrs))
    assert "NetCDF: Invalid argument" in _ncdump(store).stderr
    (issue,) = _nczarr_errors(store)
    assert "typed '>S1', which is no type netCDF-C knows in an upper-case _NCZARR_ATTR (4.9.0 writes char as " \
           "'<U1' there)" in issue.message and "its type should be '<U1'" in issue.message


# -- netCDF-C 4.9 char variables -------------------------------------------------------------------

CHAR_CDL = """\
netcdf c {
dimensions:
  x = 3 ;
  nchar = 5 ;
variables:
  char name(x, nchar) ;
  float v(x) ;
data:
 name = "ab", "cde", "fghij" ;
 v = 1, 2, 3 ;
}
"""


@pytest.mark.parametrize("mode", ["nczarr", "zarr"])
def test_netcdf_c_4_9_char_variables_only_it_reads(tmp_path: Path, mode: str) -> None:
    """nccopy 4.9 writes char as '<U1' holding 1 byte per character (numpy's '<U1' takes 4): only
    ncdump 4.9 reads it back."""
    ncgen, nccopy = _need("ncgen"), _need("nccopy")
    (tmp_path / "c.cdl").write_text(CHAR_CDL)
    subprocess.run([ncgen, "-4", "-o", str(tmp_path / "c.nc"), str(tmp_path / "c.cdl")], check=True, timeout=60)
    store = tmp_path / "c.zarr"
    subprocess.run([nccopy, str(tmp_path / "c.nc"), f"file://{store}#mode={mode},file"], check=True, timeout=60)
    assert json.loads((store / "name" / ".zarray").read_text())["dtype"] == "<U1"
    assert (store / "name" / "0.0").stat().st_size == 15  # 3 x 5 characters
    assert '"ab"' in subprocess.run([_need("ncdump"), "-v", "name", f"file://{store}#mode={mode},file"],
                                    capture_output=True, text=True, timeout=60, check=True).stdout
    with pytest.raises(ValueError, match="size must be a divisor"):
        zarr.open_array(store / "name", mode="r")[...]
    xr = pytest.importorskip("xarray")
    dataset = xr.open_zarr(store, consolidated=False)  # opens: the values are read later
    with pytest.raises(ValueError, match="size must be a divisor"):
        dataset["name"].load()
    assert _netcdf4_open(store)["error"] == f"[Errno -137] NetCDF: NCZarr error: 'file://{store}#mode=nczarr,file'"
    _, report, _ = _check(store)
    (issue,) = [i for i in report.issues if i.path == "/name"]
    assert (issue.severity, issue.convention, issue.pointer, issue.document) == (
        Severity.WARNING, "nczarr", "/dtype", ".zarray")
    assert issue.message.startswith("netCDF-C 4.9 char variable: dtype '<U1' with 1 byte per character")
    assert "netCDF-C 4.10 refuses the whole file" in issue.message and "only netCDF-C 4.9 (ncdump) reads it" in issue.message
    meta = json.loads((store / "name" / ".zarray").read_text())
    (store / "name" / ".zarray").write_text(json.dumps({**meta, "dtype": "|S1"}))  # the way out the message gives
    assert zarr.open_array(store / "name", mode="r")[2].tobytes() == b"fghij"
    assert _netcdf4_open(store)["dims"]["nchar"] == 5
    _, report, _ = _check(store)
    assert [i for i in report.issues if i.path == "/name"] == []


def test_a_u1_array_netcdf_c_4_10_did_not_write_gets_no_char_warning(netcdf4_store: Path, tmp_path: Path) -> None:
    """netCDF-C 4.10 writes char as '>S1': a '<U1' array xarray adds to its store holds real <U1 items."""
    store = tmp_path / "c.zarr"
    shutil.copytree(netcdf4_store, store)
    zarr.open_group(store, mode="r+", zarr_format=2).create_array("label", shape=(2,), dtype="<U1")
    _, report, _ = _check(store)
    assert not [i for i in report.issues if i.path == "/label" and "char" in i.message]


# -- netCDF-C byte arrays: not in zarr-python's registry ----------------------------------------------

BYTES_WRITER = textwrap.dedent("""\
    import sys
    import netCDF4
    import numpy as np
    ds = netCDF4.Dataset(f"file://{sys.argv[1]}#mode=nczarr,file", "w")
    ds.createDimension("x", 3)
    ds.createVariable("v", "f4", ("x",))[:] = [1, 2, 3]
    sub = ds.createGroup("sub")
    sub.createVariable("flags", "i1", ("x",))[:] = [1, -2, 3]
    sub.createVariable("w", "f4", ("x",))[:] = [4, 5, 6]
    ds.close()
""")


def test_a_byte_array_makes_its_whole_group_unreadable_by_xarray(tmp_path: Path) -> None:
    """netCDF-C writes bytes as '<i1', which zarr-python has no data type for: xarray cannot open
    the group at all (not only that variable), while netCDF-C reads it."""
    xr = pytest.importorskip("xarray")
    store = _write_with_netcdf4(BYTES_WRITER, tmp_path / "b.zarr")
    assert json.loads((store / "sub" / "flags" / ".zarray").read_text())["dtype"] == "<i1"
    assert _netcdf4_open(store)["dims"] == {"x": 3}
    assert set(xr.open_zarr(store, consolidated=False).data_vars) == {"v"}  # the root has no byte array
    for open_it in (lambda: xr.open_zarr(store, group="sub", consolidated=False),
                    lambda: xr.open_datatree(store, engine="zarr", consolidated=False)):
        with pytest.raises(ValueError, match="No Zarr data type found"):
            open_it()
    _, report, _ = _check(store)
    (issue,) = [i for i in report.issues if i.path == "/sub/flags"]
    assert (issue.severity, issue.convention) == (Severity.WARNING, "zarr")
    assert issue.message.startswith("not readable by zarr-python 3.1: dtype '<i1' is not in its data type registry, "
                                    "so xarray (through zarr-python) cannot open group '/sub' as a dataset at all, "
                                    "nor a DataTree holding it")
