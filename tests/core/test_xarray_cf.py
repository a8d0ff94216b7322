"""xarray and CF conventions on datasets written by xarray.to_zarr (v2 and v3) and zarr-python."""

from __future__ import annotations

import io
import json
import math
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from validating import validate_with  # tests/validating.py

from zarr_browser.core.conventions.base import ConventionRegistry, Detection
from zarr_browser.core.conventions.cf import CfConvention
from zarr_browser.core.conventions.xarray_dims import XarrayConvention
from zarr_browser.core.conventions.zarr_core import ZarrCoreConvention
from zarr_browser.core.dimensions import resolve_dimension_names
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import parse_document
from zarr_browser.core.model import build_node
from zarr_browser.core.summary import summarize
from zarr_browser.core.validate import HierarchyContext, ValidationReport

xr = pytest.importorskip("xarray")
pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:zarr", "ignore::RuntimeWarning:xarray")

MINE = ("xarray", "cf", "zarr", "dimensions")


def _registry() -> ConventionRegistry:
    return ConventionRegistry([ZarrCoreConvention(), XarrayConvention(), CfConvention()])


def _check(path: Path) -> tuple[Hierarchy, ValidationReport, ConventionRegistry]:
    """Validate with these conventions; keep only their issues."""
    return validate_with(path, [ZarrCoreConvention(), XarrayConvention(), CfConvention()], keep=MINE)


def _found(registry: ConventionRegistry, hierarchy: Hierarchy, path: str) -> dict[str, Detection]:
    return {d.name: d for d in registry.detect(hierarchy.node(path))}


def _dataset() -> object:
    """The §4.2 example: time/x/y coordinates, a packed data variable, an auxiliary coordinate."""
    ds = xr.Dataset(
        {
            "temp": (("time", "y", "x"), np.linspace(270, 300, 24).reshape(2, 3, 4),
                     {"units": "K", "long_name": "air temperature", "standard_name": "air_temperature"}),
            "lat": (("y", "x"), np.linspace(40, 45, 12).reshape(3, 4),
                    {"units": "degrees_north", "standard_name": "latitude"}),
        },
        coords={"time": pd.date_range("2000-01-01", periods=2), "x": np.arange(4.0), "y": np.arange(3.0)},
        attrs={"Conventions": "CF-1.10", "title": "demo"},
    )
    return ds.set_coords("lat")


ENCODING = {
    "temp": {"dtype": "int16", "scale_factor": 0.01, "add_offset": 273.15, "_FillValue": -9999},
    "time": {"units": "days since 2000-01-01", "calendar": "proleptic_gregorian"},
}


@pytest.fixture(scope="module", params=[2, 3])
def written(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    path = tmp_path_factory.mktemp(f"xr{request.param}") / "ds.zarr"
    _dataset().to_zarr(path, mode="w", zarr_format=request.param, encoding=ENCODING)  # type: ignore[attr-defined]
    return request.param, path


def test_xarray_dataset_has_no_issues(written: tuple[int, Path]) -> None:
    _, path = written
    _, report, _ = _check(path)
    assert report.issues == []


def test_xarray_and_cf_roles(written: tuple[int, Path]) -> None:
    fmt, path = written
    hierarchy, _, registry = _check(path)
    root = _found(registry, hierarchy, "/")
    assert root["cf"].to_json() == {"name": "cf", "version": "1.10", "roles": ["dataset"]}
    assert root["xarray"].roles == ("dataset",)
    # decided by the hierarchy from its consolidated index's list of the root's children, so that
    # detection need not scan the root's own copy (60,000 entries, on the GUI thread; audit I, F9)
    assert hierarchy.node("/").consolidated_dataset is True
    time = _found(registry, hierarchy, "/time")
    assert time["xarray"].roles == ("variable", "coordinate")
    assert time["cf"].roles == ("variable", "time")
    temp = _found(registry, hierarchy, "/temp")
    assert temp["xarray"].roles == ("variable",)
    expected = ("variable", "packed", "masked") if fmt == 3 else ("variable", "packed")  # v2: mask is fill_value
    assert temp["cf"].roles == expected


def test_dimension_sources_by_format(written: tuple[int, Path]) -> None:
    fmt, path = written
    hierarchy, _, registry = _check(path)
    node = hierarchy.node("/temp")
    sources = registry.dimension_sources(node, hierarchy.root)
    expected = "v3 dimension_names" if fmt == 3 else "_ARRAY_DIMENSIONS"
    assert [(s.convention, s.source) for s in sources] == [("zarr" if fmt == 3 else "xarray", expected)]
    assert resolve_dimension_names(node, sources) == ("time", "y", "x")


def test_describe_dataset_and_cf_decoding(written: tuple[int, Path]) -> None:
    fmt, path = written
    hierarchy, _, _ = _check(path)
    ctx = HierarchyContext(hierarchy)
    dataset = XarrayConvention().describe(hierarchy.root, ctx)
    assert dataset["dims"] == {"time": 2, "y": 3, "x": 4}
    assert dataset["data_variables"] == ["temp"]
    assert sorted(dataset["coordinates"]) == ["lat", "time", "x", "y"]
    assert dataset["variables"]["temp"]["units"] == "K"

    cf = CfConvention()
    temp = cf.describe(hierarchy.node("/temp"), ctx)
    assert temp["packing"]["formula"] == "decoded = stored * 0.01 + 273.15"
    assert temp["packing"]["stored_dtype"] == "int16"
    time = cf.describe(hierarchy.node("/time"), ctx)
    assert time["time"] == {"unit": "days", "epoch": "2000-01-01", "calendar": "proleptic_gregorian"}
    if fmt == 3:
        assert temp["_FillValue"] == {"raw": -9999, "decoded": -9999, "text": "-9999"}
        lat = cf.describe(hierarchy.node("/lat"), ctx)
        assert lat["_FillValue"]["raw"] == "AAAAAAAA+H8="
        assert math.isnan(lat["_FillValue"]["decoded"]) and lat["_FillValue"]["text"] == "NaN"
    else:
        assert "_FillValue" not in temp
        assert temp["mask_value"]["value"] == -9999


def test_conflicting_dimension_sizes_is_an_error(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "c.zarr", mode="w", zarr_format=2)
    root.create_array("a", shape=(3,), dtype="f4").attrs["_ARRAY_DIMENSIONS"] = ["x"]
    root.create_array("b", shape=(4, 2), dtype="f4").attrs["_ARRAY_DIMENSIONS"] = ["x", "y"]
    g3 = zarr.open_group(tmp_path / "c3.zarr", mode="w", zarr_format=3)
    g3.create_array("a", shape=(3,), dtype="f4", dimension_names=["x"])
    g3.create_array("b", shape=(5,), dtype="f4", dimension_names=["x"])
    zarr.consolidate_metadata(tmp_path / "c3.zarr")  # consolidated: written as an xarray dataset
    g3u = zarr.open_group(tmp_path / "c3u.zarr", mode="w", zarr_format=3)
    g3u.create_array("a", shape=(3,), dtype="f4", dimension_names=["x"])
    g3u.create_array("b", shape=(5,), dtype="f4", dimension_names=["x"])
    for path, sizes, severity in (
        (tmp_path / "c.zarr", "3 in array 'a' but 4 in array 'b'", Severity.ERROR),  # _ARRAY_DIMENSIONS: xarray
        (tmp_path / "c3.zarr", "3 in array 'a' but 5 in array 'b'", Severity.ERROR),  # consolidated dataset
        (tmp_path / "c3u.zarr", "3 in array 'a' but 5 in array 'b'", Severity.WARNING),  # plain v3 names
    ):
        _, report, _ = _check(path)
        found = [i for i in report.issues if i.convention == "xarray" and "conflicting sizes" in i.message]
        assert len(found) == 1, report.issues
        assert found[0].path == "/" and found[0].severity is severity
        assert f"conflicting sizes for dimension 'x': {sizes}" in found[0].message
    with pytest.raises(ValueError, match="conflicting sizes"):  # what xarray itself says
        xr.open_zarr(tmp_path / "c.zarr", consolidated=False)


def test_array_dimension_rules_and_cf_attribute_rules(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "r.zarr", mode="w", zarr_format=2)
    root.create_array("short", shape=(2, 2), dtype="f4").attrs["_ARRAY_DIMENSIONS"] = ["x"]
    root.create_array("dup", shape=(2, 2), dtype="f4").attrs["_ARRAY_DIMENSIONS"] = ["x", "x"]
    root.create_array("notstr", shape=(2,), dtype="f4").attrs["_ARRAY_DIMENSIONS"] = [1]
    bad = root.create_array("bad", shape=(2,), dtype="i2")
    bad.attrs.update({
        "_ARRAY_DIMENSIONS": ["x"], "coordinates": "lat nowhere", "grid_mapping": "crs",
        "calendar": "mayan", "units": "fortnights since yesterday", "scale_factor": "big",
        "add_offset": float("inf"), "valid_range": [10, 1], "_FillValue": 70000, "missing_value": 1.5,
    })
    root.create_array("lat", shape=(2,), dtype="f4").attrs["_ARRAY_DIMENSIONS"] = ["x"]
    _, report, _ = _check(tmp_path / "r.zarr")
    by_node = report.by_node()
    short = by_node["/short"]
    assert any(i.severity is Severity.ERROR and "has 1 names but the array has 2 dimensions" in i.message
               and i.pointer == "/_ARRAY_DIMENSIONS" and i.document == ".zattrs" for i in short)
    assert any(i.severity is Severity.WARNING and "repeats ['x']" in i.message for i in by_node["/dup"])
    assert any("expected a list of strings" in i.message for i in by_node["/notstr"])
    messages = {i.convention + ": " + i.message: i.severity for i in by_node["/bad"]}

    def severity_of(fragment: str) -> Severity:
        hits = [s for m, s in messages.items() if fragment in m]
        assert len(hits) == 1, (fragment, messages)
        return hits[0]

    assert severity_of("xarray: coordinates names ['nowhere']") is Severity.WARNING
    assert severity_of("cf: grid_mapping names ['crs']") is Severity.WARNING
    assert severity_of("calendar 'mayan'") is Severity.ERROR  # on a time variable: xarray refuses to open it
    assert severity_of("'fortnights' is not a time unit") is Severity.ERROR  # xarray refuses to open it
    assert severity_of("scale_factor is 'big'") is Severity.ERROR
    assert severity_of("add_offset is inf") is Severity.ERROR
    assert severity_of("valid_range [10, 1] has min > max") is Severity.WARNING  # xarray ignores it (audit D)
    assert severity_of("_FillValue 70000 is not representable in the stored dtype int16") is Severity.WARNING
    assert severity_of("missing_value 1.5 is not representable") is Severity.WARNING
    assert not any("coordinates" in m for m in messages if m.startswith("cf:"))  # reported once, by xarray


def test_cf_group_detection_variants(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=3)
    root.attrs["Conventions"] = "CF-1.8 ACDD-1.3"
    root.create_group("plain").attrs["Conventions"] = "ACDD-1.3"
    root.create_group("odd").attrs["Conventions"] = ["CF-1.8"]
    hierarchy, report, registry = _check(tmp_path / "g.zarr")
    assert _found(registry, hierarchy, "/")["cf"].version == "1.8"
    assert "cf" not in _found(registry, hierarchy, "/plain")
    assert [i.message for i in report.by_node()["/odd"]] == [
        "Conventions is ['CF-1.8'], expected a string such as 'CF-1.10'"]


JUNK = [None, True, -3, 2.5, math.nan, "x", "", [], [None], [1, "a"], {}, {"a": [1]}]
KEYS = ["_ARRAY_DIMENSIONS", "coordinates", "grid_mapping", "bounds", "Conventions", "units", "calendar",
        "scale_factor", "add_offset", "valid_range", "valid_min", "_FillValue", "missing_value", "long_name"]


def test_junk_attributes_give_issues_not_exceptions(tmp_path: Path) -> None:
    for fmt in (2, 3):
        root = zarr.open_group(tmp_path / f"j{fmt}.zarr", mode="w", zarr_format=fmt)
        for i, value in enumerate(JUNK):
            attrs = dict.fromkeys(KEYS, value)
            group = root.create_group(f"g{i}")
            group.attrs.update(attrs)
            kwargs = {"dimension_names": ["x", None]} if fmt == 3 else {}
            group.create_array("a", shape=(2, 2), dtype="i2", **kwargs).attrs.update(attrs)
            group.create_array("b", shape=(3,), dtype="f8").attrs.update(attrs)
        hierarchy = Hierarchy.open(str(tmp_path / f"j{fmt}.zarr"))
        ctx = HierarchyContext(hierarchy)
        nodes = [n for n, _ in hierarchy.walk()]
        assert len(nodes) == 1 + 3 * len(JUNK)
        for convention in (XarrayConvention(), CfConvention()):
            reported = 0
            for node in nodes:
                convention.detect(node)
                convention.describe(node, ctx)
                convention.dimensions(node, None)
                issues = convention.validate(node, ctx)
                assert all(isinstance(i, Issue) for i in issues)
                reported += len(issues)
            assert reported > len(JUNK)


def test_v2_dataset_detected_from_its_zmetadata(tmp_path: Path) -> None:
    """A v2 root whose documents include xarray's ``.zmetadata`` is an xarray dataset."""
    path = tmp_path / "ds.zarr"
    _dataset().to_zarr(path, mode="w", zarr_format=2, encoding=ENCODING)  # type: ignore[attr-defined]
    names = (".zgroup", ".zattrs", ".zmetadata")
    docs = {n: parse_document(n, (path / n).read_bytes()) for n in names}
    node = build_node("/", docs)
    assert node is not None
    assert XarrayConvention().detect(node) == Detection("xarray", None, ("dataset",))
    # one array without dimension names in the consolidated copy → not a dataset
    meta = json.loads(docs[".zmetadata"].text)
    del meta["metadata"]["x/.zattrs"]["_ARRAY_DIMENSIONS"]
    docs[".zmetadata"] = parse_document(".zmetadata", json.dumps(meta).encode())
    assert XarrayConvention().detect(build_node("/", docs)) is None  # type: ignore[arg-type]


def test_v3_variable_without_attributes_is_badged_like_its_v2_twin(tmp_path: Path) -> None:
    from zarr_browser.core.summary import summarize

    ds = xr.Dataset({"count": (("t", "x"), np.zeros((2, 3), "i4")),
                     "temp": (("t", "x"), np.zeros((2, 3), "f4"), {"units": "K"})}, coords={"x": [1, 2, 3]})
    registry = _registry()
    badges = {}
    for zarr_format in (2, 3):
        path = tmp_path / f"v{zarr_format}.zarr"
        ds.to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=True)
        hierarchy = Hierarchy.open(str(path))
        badges[zarr_format] = {n.name: [b for b in summarize(n, hierarchy.root, registry).badges
                                        if b.startswith("xarray")] for n in hierarchy.children("/").nodes}
    assert zarr.open_array(tmp_path / "v3.zarr" / "count").attrs.asdict() == {}  # nothing but dimension_names
    assert badges[3] == badges[2] == {"count": ["xarray: variable"], "temp": ["xarray: variable"],
                                      "x": ["xarray: variable, coordinate"]}

    # pyramid levels of an OME-NGFF 0.5 image carry dimension_names too, and are no xarray variables
    image = zarr.open_group(tmp_path / "img.zarr", mode="w", zarr_format=3)
    image.attrs["ome"] = {"version": "0.5", "multiscales": [
        {"axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
         "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0]}]}]}]}
    image.create_array("0", shape=(4, 4), dtype="u1", dimension_names=["y", "x"])
    hierarchy = Hierarchy.open(str(tmp_path / "img.zarr"))
    assert "xarray" not in {d.name for d in registry.detect(hierarchy.node("/0"), parent=hierarchy.root)}


def test_calendar_needs_time_units_and_reference_dates_must_exist(tmp_path: Path) -> None:
    ds = xr.Dataset({"temp": (("time",), np.zeros(2, "f4"), {"units": "K"}),
                     "count": (("time",), np.zeros(2, "i4"), {"units": "days since 2000-13-01"})},
                    coords={"time": pd.date_range("2000-01-01", periods=2)})
    path = tmp_path / "cf.zarr"
    ds.to_zarr(path, zarr_format=2, mode="w", consolidated=False)
    _, report, _ = _check(path)
    assert [i.message for i in report.issues if "calendar" in i.message] == []  # as xarray wrote it
    group = zarr.open_group(path, mode="r+")
    group["time"].attrs["units"] = "fortnights after launch"  # keeps calendar 'proleptic_gregorian'
    group["temp"].attrs.update({"units": "furlongs per banana", "calendar": "standard"})
    _, report, _ = _check(path)
    by_node = report.by_node()
    [time] = [i for i in by_node["/time"] if i.convention == "cf"]
    assert (time.severity, time.pointer) == (Severity.WARNING, "/calendar")
    assert "calendar 'proleptic_gregorian' is set but units 'fortnights after launch' are not time units" in time.message
    assert any("calendar 'standard' is set but units 'furlongs per banana'" in i.message for i in by_node["/temp"])
    [count] = [i for i in by_node["/count"] if i.convention == "cf"]
    assert "month 13 in '2000-13-01' is outside 1..12" in count.message


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_dataset_with_a_scalar_variable_is_still_a_dataset(tmp_path: Path, zarr_format: int) -> None:
    """xarray writes no dimension_names for a 0-d v3 variable (a CF crs): it is still a variable."""
    path = tmp_path / "crs.zarr"
    ds = xr.Dataset({"t": (("time", "x"), np.zeros((2, 3)), {"grid_mapping": "crs"}),
                     "crs": ((), 0, {"grid_mapping_name": "latitude_longitude"})},
                    coords={"x": [1, 2, 3], "time": ("time", [0, 1], {"units": "days since 2000-01-01",
                                                                     "calendar": "noleap"})})
    ds.to_zarr(path, zarr_format=zarr_format, consolidated=True)
    hierarchy = Hierarchy.open(str(path))
    convention = XarrayConvention()
    assert convention.detect(hierarchy.root) == Detection("xarray", None, ("dataset",))
    described = convention.describe(hierarchy.root, HierarchyContext(hierarchy))
    assert described["variables"]["crs"]["dims"] == []
    assert set(described["data_variables"]) == {"t", "crs"}
    assert described["variables"]["time"]["calendar"] == "noleap"


def _tree() -> object:
    """A DataTree: variables at the root, two nested datasets and a group without variables."""
    return xr.DataTree.from_dict({
        "/": xr.Dataset({"a": ("x", np.arange(3.0))}),
        "/model": xr.Dataset({"temp": (("time", "lat"), np.zeros((2, 4)))}, coords={"lat": np.arange(4.0)}),
        "/model/level": xr.Dataset({"u": ("lev", np.ones(3))}),
        "/obs": xr.Dataset(),
    })


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_the_groups_of_a_datatree_are_datasets(tmp_path: Path, zarr_format: int) -> None:
    """A DataTree consolidates at the root only: its nested groups are datasets by the root's index."""
    tree = _tree()
    tree.to_zarr(tmp_path / "tree.zarr", zarr_format=zarr_format, consolidated=True)  # type: ignore[attr-defined]
    convention = XarrayConvention()
    for policy in ("never", "always"):  # read from the store, or from the consolidated copy (remote)
        hierarchy = Hierarchy.open(str(tmp_path / "tree.zarr"))
        hierarchy.consolidated_policy = policy
        found = {path: convention.detect(hierarchy.node(path)) for path in ("/", "/model", "/model/level", "/obs")}
        assert found["/model"] == found["/model/level"] == Detection("xarray", None, ("dataset",)), policy
        assert found["/obs"] is None  # no variables: a plain group


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_an_unconsolidated_datatree_is_found_from_its_children(tmp_path: Path, zarr_format: int) -> None:
    """Written with consolidated=False, no group document says 'dataset': the listed children do."""
    tree = _tree()
    tree.to_zarr(tmp_path / "tree.zarr", zarr_format=zarr_format, consolidated=False)  # type: ignore[attr-defined]
    hierarchy = Hierarchy.open(str(tmp_path / "tree.zarr"))
    assert hierarchy.consolidated is None
    registry, ctx = _registry(), HierarchyContext(hierarchy)
    dataset = Detection("xarray", None, ("dataset",))
    for path in ("/", "/model", "/model/level"):
        node = hierarchy.node(path)
        assert "xarray" not in {d.name for d in registry.detect(node)}, path  # its documents alone: no
        assert dataset in registry.detect(node, children=lambda p=path: ctx.children(p)), path
        assert dataset in summarize(node, None, registry, ctx).conventions, path
    assert "xarray" not in {d.name for d in summarize(hierarchy.node("/obs"), None, registry, ctx).conventions}
    described = registry.describe(hierarchy.node("/model"), ctx)["xarray"]
    assert described["dims"] == {"time": 2, "lat": 4} and described["data_variables"] == ["temp"]


def test_a_group_with_an_unnamed_array_is_no_dataset(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=3)
    root.create_array("named", shape=(3,), dtype="f4", dimension_names=["x"])
    root.create_array("plain", shape=(3,), dtype="f4")
    hierarchy = Hierarchy.open(str(tmp_path / "g.zarr"))
    ctx = HierarchyContext(hierarchy)
    assert XarrayConvention().detect_with_children(hierarchy.root, lambda: ctx.children("/")) is None


@pytest.mark.parametrize("consolidate", [False, True])
def test_an_ome_image_is_never_an_xarray_dataset(tmp_path: Path, consolidate: bool) -> None:
    """OME 0.5 levels carry dimension_names, with different sizes per level: xarray cannot open
    the image as one dataset, consolidated or not."""
    path = tmp_path / "img.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    for i, size in enumerate((8, 4)):
        root.create_array(str(i), shape=(size, size), dtype="u1", dimension_names=["y", "x"])
    axes = [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": axes, "datasets": [
        {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": [2.0**i, 2.0**i]}]}
        for i in range(2)]}]}
    if consolidate:
        zarr.consolidate_metadata(path)
    hierarchy = Hierarchy.open(str(path))
    registry, ctx = _registry(), HierarchyContext(hierarchy)
    assert "xarray" not in {d.name for d in summarize(hierarchy.root, None, registry, ctx).conventions}


# -- fill values and calendars that xarray reads otherwise than they look ---------------------------


def _edit_attrs(path: Path, node: str, **attrs: object) -> None:
    """Change attributes in the store's documents directly (as a hand edit or another tool would)."""
    group = zarr.open_group(path, mode="r+")
    group[node].attrs.update(attrs)


def test_a_plain_number_fill_value_on_a_v3_float_array_is_an_error_naming_the_base64_form(tmp_path: Path) -> None:
    """xarray writes float _FillValue of v3 arrays base64-encoded and refuses a plain number
    (TypeError on open): an error, with the exact value to write instead."""
    from zarr_browser.core.conventions.cf import encode_fill_value

    path = tmp_path / "f.zarr"
    xr.Dataset({"p": (("x",), np.array([1, np.nan, 3, -1], "f4"))}).to_zarr(path, zarr_format=3, mode="w",
                                                                           consolidated=False)
    _, report, _ = _check(path)
    assert not [i for i in report.issues if i.severity is Severity.ERROR]  # as xarray wrote it
    _edit_attrs(path, "p", _FillValue=-1.0)
    with pytest.raises(TypeError):
        xr.open_zarr(path, consolidated=False)
    _, report, _ = _check(path)
    (issue,) = [i for i in report.issues if i.path == "/p" and i.severity is Severity.ERROR]
    assert issue.pointer == "/attributes/_FillValue" and "'AAAAAAAA8L8='" in issue.message
    _edit_attrs(path, "p", _FillValue=encode_fill_value(-1.0))  # what the message says to write
    masked = xr.open_zarr(path, consolidated=False)["p"].values
    assert np.isnan(masked[[1, 3]]).all() and masked[0] == 1
    _, report, _ = _check(path)
    assert not [i for i in report.issues if i.severity is Severity.ERROR]


def test_a_v2_fill_value_attribute_is_ignored_by_xarray_and_by_our_decoding(tmp_path: Path) -> None:
    """On v2 arrays xarray masks with the zarr fill_value and drops a _FillValue attribute: a
    warning says so, and our decoding (napari, previews) masks what xarray masks."""
    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "f.zarr"
    stored = np.array([1, -999, 3, -1], "f4")
    xr.Dataset({"p": (("x",), stored, {}, {"_FillValue": -999.0})}).to_zarr(path, zarr_format=2, mode="w",
                                                                            consolidated=False)
    _edit_attrs(path, "p", _FillValue=-1.0)
    expected = xr.open_zarr(path, consolidated=False)["p"].values
    assert np.isnan(expected[1]) and expected[3] == -1
    hierarchy, report, _ = _check(path)
    (issue,) = [i for i in report.issues if i.path == "/p" and "_FillValue" in i.message]
    assert issue.severity is Severity.WARNING and "-999" in issue.message and issue.document == ".zattrs"
    decoding = cf_decoding(hierarchy.node("/p"))
    assert decoding is not None
    np.testing.assert_array_equal(decoding.apply(stored), expected)


def test_an_unknown_calendar_on_a_time_variable_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.zarr"
    xr.Dataset({"v": (("time",), np.zeros(2, "f4"), {"calendar": "foo"})},
               coords={"time": ("time", [0, 1], {"units": "days since 2000-01-01"})}).to_zarr(
        path, zarr_format=3, mode="w", consolidated=False)
    _edit_attrs(path, "time", calendar="foo")
    with pytest.raises(ValueError, match="calendar"):
        xr.open_zarr(path, consolidated=False)
    _, report, _ = _check(path)
    by_node = report.by_node()
    [time] = [i for i in by_node["/time"] if "'foo'" in i.message]
    assert time.severity is Severity.ERROR and "refuses to open" in time.message
    [other] = [i for i in by_node["/v"] if "'foo' is not a CF calendar" in i.message]
    assert other.severity is Severity.WARNING  # no time units: xarray does not decode it


def test_a_plain_0d_array_is_no_xarray_variable_unless_its_group_is_a_dataset(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "z.zarr", mode="w", zarr_format=3)
    root.create_array("scalar", shape=(), dtype="i4")
    registry = _registry()
    hierarchy = Hierarchy.open(str(tmp_path / "z.zarr"))
    assert "xarray" not in _found(registry, hierarchy, "/scalar")  # plain zarr wrote it
    ds = xr.Dataset({"t": (("x",), np.zeros(3))}, coords={"x": [1, 2, 3]})
    ds["crs"] = ((), 0)  # a scalar variable without attributes
    ds.to_zarr(tmp_path / "d.zarr", zarr_format=3, consolidated=True)
    hierarchy = Hierarchy.open(str(tmp_path / "d.zarr"))
    found = {d.name: d for d in registry.detect(hierarchy.node("/crs"), parent=hierarchy.root)}
    assert found["xarray"].roles == ("variable",)


def test_ome_groups_are_never_listed_to_find_a_dataset(tmp_path: Path) -> None:
    """Plates, wells, images and labels groups cannot be xarray datasets: telling so must not
    list their children (a plate's wells over HTTP cost napari round trips per well)."""
    from zarr_browser.core.conventions import default_registry

    def must_not_list() -> list:  # type: ignore[type-arg]
        raise AssertionError("listed the children of an OME group")

    registry = default_registry()
    for attrs in ({"plate": {"wells": []}}, {"well": {"images": []}}, {"labels": ["a"]},
                  {"ome": {"version": "0.5", "plate": {}}}):
        group = zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=2)
        group.attrs.update(attrs)
        node = Hierarchy.open(str(tmp_path / "g.zarr")).root
        assert "xarray" not in {d.name for d in registry.detect(node, children=must_not_list)}, attrs


@pytest.mark.parametrize(("reference", "calendar", "decodes"), [
    ("1999-12-31", "360_day", False), ("1999-12-30", "360_day", True), ("2000-02-30", "360_day", True),
    ("2001-02-29", "noleap", False), ("2000-02-29", "all_leap", True), ("2000-02-29", "noleap", False),
])
def test_a_reference_date_that_is_no_day_of_the_calendar_is_reported(tmp_path: Path, reference: str, calendar: str,
                                                                      decodes: bool) -> None:
    """360_day with 'days since 1999-12-31' passed validation and xarray could not decode the
    times at all (the window's CF form offers every calendar): an error, as xarray refuses to
    open the dataset (audit D, finding 4)."""
    store = tmp_path / "t.zarr"
    ds = xr.Dataset(coords={"time": ("time", np.arange(3.0), {"units": f"days since {reference}",
                                                               "calendar": calendar})})
    ds.to_zarr(store, zarr_format=3, consolidated=False, encoding={"time": {"dtype": "f8"}})
    try:  # what xarray (cftime) makes of it: the finding and the reader agree
        read = np.asarray(xr.open_zarr(store, consolidated=False)["time"]).size == 3
    except ValueError:  # raised by open_zarr: the dataset does not open
        read = False
    assert read == decodes
    _, report, _ = _check(store)
    found = [i for i in report.issues if i.path == "/time" and "is not a date of the calendar" in i.message]
    assert bool(found) == (not decodes)
    if found:
        assert found[0].severity is Severity.ERROR and found[0].pointer.endswith("/units")
        assert "refuses to open the dataset" in found[0].message


@pytest.mark.parametrize("calendar", ["none", "utc", "tai", "UTC"])
def test_cf_calendars_xarray_cannot_decode_are_errors_on_time_variables(tmp_path: Path, calendar: str) -> None:
    """'none', 'utc' and 'tai' are CF calendars, but xarray (cftime) decodes no times in them and
    refuses to open the dataset: the same error as an unknown calendar (audit D, finding 3)."""
    path = tmp_path / "t.zarr"
    xr.Dataset({"v": (("time",), np.zeros(2, "f4"), {"units": "K"})},
               coords={"time": ("time", [0, 1], {"units": "days since 2000-01-01", "calendar": "noleap"})}).to_zarr(
        path, zarr_format=3, mode="w", consolidated=False)
    _edit_attrs(path, "time", calendar=calendar)
    _edit_attrs(path, "v", calendar=calendar)  # no time units: xarray does not decode it
    with pytest.raises(ValueError, match="unable to decode time units"):
        xr.open_zarr(path, consolidated=False)
    _, report, _ = _check(path)
    by_node = report.by_node()
    [time] = [i for i in by_node["/time"] if i.pointer.endswith("/calendar")]
    assert time.severity is Severity.ERROR and "refuses to open the dataset" in time.message
    assert f"calendar {calendar!r} is a CF calendar that xarray cannot decode times in" in time.message
    assert not [i for i in by_node["/v"] if i.severity is Severity.ERROR]
    _edit_attrs(path, "time", calendar="standard")  # what the message proposes for utc and tai
    assert xr.open_zarr(path, consolidated=False)["time"].dtype.kind == "M"
    _, report, _ = _check(path)
    assert not [i for i in report.issues if i.severity is Severity.ERROR]


FILL_FORMS = [  # (stored dtype, _FillValue written, what xarray refuses with or None, what the message must say)
    ("float64", "NaN", "Incorrect padding", "'NaN' is not base64"),
    ("float64", "AMB5xA==", "unpack requires a buffer of 8 bytes", "is base64 of 4 bytes (a float32, -999.0)"),
    ("float32", "AMB5xA==", "unpack requires a buffer of 8 bytes", "(a float32, -999.0), not of the 8 of a float64"),
    ("float64", None, "expected str or bytes", "_FillValue null is not a base64 string"),
    ("int16", "AAAAAAAA8L8=", "expected int or float for dtype int16", "is not a number: xarray reads the _FillValue"),
    ("int16", "-999", "expected int or float for dtype int16", "write -999"),
    ("complex128", "AAAAAAAA+H8=", "expected a 2-element list", "is not a list of two base64 strings"),
    ("float64", "AAAAAAA4 j8A=", None, None),  # xarray skips characters outside base64's alphabet
]


@pytest.mark.parametrize(("dtype", "fill", "refusal", "fragment"), FILL_FORMS)
def test_a_v3_fill_value_xarray_cannot_read_is_an_error_saying_what_to_write(
        tmp_path: Path, dtype: str, fill: object, refusal: str | None, fragment: str | None) -> None:
    """Audit D, finding 5: xarray's FillValueCoder wants base64 of 8 float64 bytes (floats), two of
    them (complex) or a JSON number (integers); anything else fails open_zarr.  It was a warning
    saying "'NaN' is not a number"."""
    path = tmp_path / "f.zarr"
    values = np.array([1, -999, 3, 4]).astype(dtype)
    xr.Dataset({"p": (("x",), values)}).to_zarr(path, zarr_format=3, mode="w", consolidated=False)
    _edit_attrs(path, "p", _FillValue=fill)
    if refusal is None:
        masked = xr.open_zarr(path, consolidated=False)["p"].values
        assert np.isnan(masked[1]) and masked[0] == 1
    else:
        with pytest.raises((TypeError, ValueError, struct.error), match=refusal):
            xr.open_zarr(path, consolidated=False)
    _, report, _ = _check(path)
    issues = [i for i in report.issues if i.path == "/p" and i.pointer.endswith("/_FillValue")]
    if refusal is None:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is Severity.ERROR and fragment in issue.message and "refuses to open" in issue.message
    assert "is not a number" not in issue.message or dtype == "int16"
    written = re.search(r"write ('[A-Za-z0-9+/=]+'|-?\d+)", issue.message)
    if written is None:
        return
    _edit_attrs(path, "p", _FillValue=json.loads(written.group(1).replace("'", '"')))  # what the message says
    masked = xr.open_zarr(path, consolidated=False)["p"].values
    if "NaN" not in issue.message:
        assert np.isnan(masked[1]) and masked[0] == 1
    _, report, _ = _check(path)
    assert not [i for i in report.issues if i.severity is Severity.ERROR]


UNSIGNED = [  # (stored dtype, _Unsigned, _FillValue, missing_value, what validation says or None)
    ("int16", "true", -1, None, None),  # as netCDF writes unsigned data: read as uint16, -1 (65535) masked
    ("int16", "True", -1, None, "xarray ignores _Unsigned 'True': it reads only the exact strings"),
    ("int16", True, None, None, "xarray ignores _Unsigned true: it reads only the exact strings"),
    ("int16", "true", None, -1, None),  # xarray reads missing_value -1 as is: nothing masked in uint16
    ("uint8", "false", None, None, "_Unsigned 'false' on uint8 data: xarray reads these values as signed int8 "
                                   "(200 becomes -56)"),
    ("uint8", "false", 3, None, "_Unsigned 'false' on uint8 data"),
    ("uint8", "true", None, None, None),  # unsigned already: nothing to do
    ("float32", "true", None, None, "_Unsigned 'true' on float32 data is ignored: xarray applies it to integers"),
]


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(("dtype", "flag", "fill", "missing", "fragment"), UNSIGNED)
def test_unsigned_is_decoded_and_checked_as_xarray_reads_it(tmp_path: Path, zarr_format: int, dtype: str,
                                                           flag: object, fill: int | None, missing: int | None,
                                                           fragment: str | None) -> None:
    """Audit D, finding 6: xarray honours only the exact strings 'true' and 'false', re-signs
    unsigned data with 'false', re-reads the _FillValue alone in the new type, and ignores
    _Unsigned on floats.  The values napari gets (cf_decoding) are xarray's."""
    import warnings

    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "u.zarr"
    stored = np.array([1, 2, 3, -1 if dtype.startswith("int") else 200, 0]).astype(dtype)
    encoding = {"u": {"_FillValue": fill if zarr_format == 2 else None}}  # v2: the zarr fill_value
    xr.Dataset({"u": (("x",), stored)}).to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=False,
                                                encoding=encoding)
    attrs: dict[str, object] = {"_Unsigned": flag}
    if fill is not None and zarr_format == 3:
        attrs["_FillValue"] = fill
    if missing is not None:
        attrs["missing_value"] = missing
    _edit_attrs(path, "u", **attrs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        truth = xr.open_zarr(path, consolidated=False)["u"].values
    hierarchy, report, _ = _check(path)
    decoding = cf_decoding(hierarchy.node("/u"))
    ours = decoding.apply(stored) if decoding is not None else stored
    assert ours.dtype == truth.dtype
    np.testing.assert_array_equal(ours, truth)
    issues = [i for i in report.issues if i.path == "/u" and i.pointer.endswith("/_Unsigned")]
    if fragment is None:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is Severity.WARNING and fragment in issue.message
    if dtype == "float32":
        assert any("not of integer type" in str(w.message) for w in caught)  # xarray warns too


def test_a_fill_value_unsigned_false_does_not_fit_is_an_error(tmp_path: Path) -> None:
    """With _Unsigned 'false', xarray converts a v3 _FillValue of 200 to int8: OverflowError."""
    path = tmp_path / "u.zarr"
    xr.Dataset({"u": (("x",), np.array([1, 200], "u1"))}).to_zarr(path, zarr_format=3, mode="w",
                                                                  consolidated=False)
    _edit_attrs(path, "u", _Unsigned="false", _FillValue=200)
    with pytest.raises(OverflowError):
        xr.open_zarr(path, consolidated=False)
    _, report, _ = _check(path)
    [issue] = [i for i in report.issues if i.severity is Severity.ERROR]
    assert issue.pointer.endswith("/_FillValue") and "write -56 or remove _Unsigned" in issue.message
    _edit_attrs(path, "u", _FillValue=-56)  # what the message says
    assert np.isnan(xr.open_zarr(path, consolidated=False)["u"].values[1])


NETCDF_C_READER = """\
import json, sys, warnings
import netCDF4
import numpy as np
warnings.simplefilter("ignore")  # 'missing_value not used since it cannot be safely cast'
with netCDF4.Dataset(f"file://{sys.argv[1]}#mode=zarr,file") as ds:
    print(json.dumps(np.ma.getmaskarray(ds[sys.argv[2]][:]).tolist()))
"""


def _netcdf_c_masks(tmp_path: Path, store: Path, name: str, *, fails: bool = False) -> list[bool]:
    """Where netCDF4-python (libnetcdf 4.10, in a subprocess: it may abort) masks the values of
    *name* in a zarr store; with *fails*, check that it cannot read them and return []."""
    import subprocess
    import sys

    pytest.importorskip("netCDF4")
    script = tmp_path / "read.py"
    script.write_text(NETCDF_C_READER)
    done = subprocess.run([sys.executable, str(script), str(store), name], capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode != 0) == fails, done.stderr
    return [] if fails else json.loads(done.stdout)  # type: ignore[no-any-return]


UNSIGNED_MISSING = [  # (dtype, _Unsigned, _FillValue, missing_value, masked by xarray, netCDF4-python masks [2], message)
    ("int16", "true", None, -1, [], True, "missing_value -1 masks nothing in xarray: with _Unsigned 'true' it reads "
     "these int16 values as uint16 and re-reads the _FillValue in that type, not missing_value, and -1 is no uint16 "
     "value (netCDF4-python masks 65535); write -1 as the _FillValue instead, which both read as 65535"),
    ("int16", "true", None, 65535, [2], False, "missing_value 65535 is outside int16, the stored type: xarray masks it "
     "in the uint16 values _Unsigned 'true' gives (stored -1), but netCDF4-python ignores it ('cannot be safely "
     "cast' to int16); write -1 as the _FillValue instead, which both read as 65535"),
    ("int16", "true", -2, -1, [3], True, "write 65535 for xarray (netCDF4-python then ignores it)"),
    ("int16", "true", -1, -1, [2], True, None),  # xarray masks the fill it re-reads: 65535
    ("int16", "true", None, 5, [], False, None),  # the same number in both types
    ("uint8", "false", None, 200, [], True, "missing_value 200 masks nothing in xarray: with _Unsigned 'false' it "
     "reads these uint8 values as int8 and re-reads the _FillValue in that type, not missing_value, and 200 is no "
     "int8 value (netCDF4-python, which ignores 'false', masks 200); remove _Unsigned"),
    ("uint8", "false", None, -56, [2], False, "missing_value -56 is outside uint8, the stored type: xarray masks it in "
     "the int8 values _Unsigned 'false' gives (stored 200), but netCDF4-python, which ignores 'false', ignores it too "
     "('cannot be safely cast'); remove _Unsigned and write 200"),
]


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(("dtype", "flag", "fill", "missing", "by_xarray", "by_netcdf", "fragment"), UNSIGNED_MISSING)
def test_a_missing_value_beside_unsigned_is_compared_with_the_retyped_values_as_written(
        tmp_path: Path, zarr_format: int, dtype: str, flag: str, fill: int | None, missing: int, by_xarray: list[int],
        by_netcdf: bool, fragment: str | None) -> None:
    """xarray re-reads the _FillValue in the type _Unsigned gives, not missing_value: -1 beside
    _Unsigned 'true' masks nothing in xarray, where netCDF4-python masks 65535 (and ignores 65535)."""
    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "u.zarr"
    stored = np.array([1, 2, -1, -2] if dtype == "int16" else [1, 2, 200, 255]).astype(dtype)
    xr.Dataset({"u": (("x",), stored)}).to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=False,
                                                encoding={"u": {"_FillValue": fill if zarr_format == 2 else None}})
    _edit_attrs(path, "u", _Unsigned=flag, missing_value=missing,
                **({"_FillValue": fill} if zarr_format == 3 and fill is not None else {}))
    truth = xr.open_zarr(path, consolidated=False)["u"].values
    assert np.flatnonzero(np.isnan(truth)).tolist() == by_xarray
    if zarr_format == 2:  # libnetcdf reads xarray's zarr v2 (mode=zarr)
        assert _netcdf_c_masks(tmp_path, path, "u")[2] == by_netcdf  # the stored value missing_value means
    hierarchy, report, _ = _check(path)
    decoding = cf_decoding(hierarchy.node("/u"))
    assert decoding is not None
    ours = decoding.apply(stored)
    assert ours.dtype == truth.dtype
    np.testing.assert_array_equal(ours, truth)
    issues = [i for i in report.issues if i.pointer.endswith("/missing_value") and " differ: " not in i.message]
    if fragment is None:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is Severity.WARNING and fragment in issue.message
    if "as the _FillValue instead" in fragment:  # what the message says: both readers mask the stored -1
        zarr.open_group(path, mode="r+")["u"].attrs.pop("missing_value")
        _edit_attrs(path, "u", _FillValue=-1)
        assert np.isnan(xr.open_zarr(path, consolidated=False)["u"].values[2])
        if zarr_format == 2:
            assert _netcdf_c_masks(tmp_path, path, "u")[2]


FILL_AND_MISSING = [  # (format, zarr fill_value (v2) or _FillValue (v3), missing_value, what the warning says or None)
    (2, -2, -1, "_FillValue -2 (the zarr fill_value, which xarray masks with on zarr v2) and missing_value -1 differ"),
    (3, -2, -1, "_FillValue -2 and missing_value -1 differ: xarray masks both (warning of 'multiple fill values')"),
    (3, "AAAAAAAA+H8=", -1.0, "_FillValue NaN and missing_value -1.0 differ: xarray masks both but cannot write"),
    (3, -1, [-1], "missing_value [-1] is a list and _FillValue -1 a number"),
    (2, -1, -1, None),
    (3, -1, -1.0, None),
]


@pytest.mark.parametrize(("zarr_format", "fill", "missing", "fragment"), FILL_AND_MISSING)
def test_a_missing_value_other_than_the_fill_value_is_a_warning(tmp_path: Path, zarr_format: int, fill: object,
                                                                 missing: object, fragment: str | None) -> None:
    """Audit D, finding 7: xarray masks both, and to_zarr then refuses the variable ("conflicting
    _FillValue and missing_value"); v2 variables are masked with the zarr fill_value."""
    import warnings

    path, copy = tmp_path / "m.zarr", tmp_path / "copy.zarr"
    floats = isinstance(fill, str)
    stored = np.array([1, 2, -2, -1], "f8" if floats else "i2")
    fill_value = fill if zarr_format == 2 else None
    xr.Dataset({"v": (("x",), stored)}).to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=False,
                                                encoding={"v": {"_FillValue": fill_value}})
    _edit_attrs(path, "v", missing_value=missing, **({"_FillValue": fill} if zarr_format == 3 else {}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opened = xr.open_zarr(path, consolidated=False)
        assert np.isnan(opened["v"].values[3])  # missing_value -1 masked in every case
    multiple = any("multiple fill values" in str(w.message) for w in caught)
    try:
        opened.to_zarr(copy, zarr_format=zarr_format, mode="w", consolidated=False)
        written = True
    except ValueError as err:
        assert "conflicting _FillValue" in str(err)
        written = False
    _, report, _ = _check(path)
    issues = [i for i in report.issues if i.path == "/v" and i.pointer.endswith("/missing_value")]
    assert written == (fragment is None)
    if fragment is None:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is Severity.WARNING and fragment in issue.message
    assert multiple == ("multiple fill values" in issue.message)


MISSING_LISTS = [  # (format, zarr fill_value (v2) or _FillValue (v3), missing_value, what the warning says)
    (2, None, [-2, -3], "missing_value [-2, -3] lists 2 values: xarray masks each of them (warning of 'multiple fill "
                        "values'), but cannot write the dataset back (to_zarr fails on a list: 'The truth value of an "
                        "array with more than one element is ambiguous'); CF allows a list, but xarray needs one value: "
                        "store -2 where the data holds the other values and write missing_value -2"),
    (3, None, [-2, -3], "store -2 where the data holds the other values and write missing_value -2"),
    (3, -1, [-2, -3], "xarray masks each of them (warning of 'multiple fill values') as well as the _FillValue -1, but "
                      "cannot write the dataset back (to_zarr refuses a missing_value other than the _FillValue); CF "
                      "allows a list, but xarray needs one value: store -1 where the data holds these values and "
                      "remove it"),
    (2, -1, [-2, -3], "as well as the _FillValue -1 (the zarr fill_value, which xarray masks with on zarr v2)"),
    (3, None, [-2, -2], "xarray masks each of them, but cannot write the dataset back (to_zarr fails on a list"),
    (3, -1, [-1, -1], "needs one value: remove missing_value"),
]


@pytest.mark.parametrize(("zarr_format", "fill", "missing", "fragment"), MISSING_LISTS)
def test_a_missing_value_list_is_masked_whole_and_cannot_be_written_back(tmp_path: Path, zarr_format: int,
                                                                         fill: int | None, missing: list[int],
                                                                         fragment: str) -> None:
    """CF allows a vector missing_value: xarray masks every value in it (warning of 'multiple
    fill values' when they are several), but to_zarr fails on it; the message said the list was
    'not a number'."""
    import warnings

    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "m.zarr"
    stored = np.array([1, 2, -2, -1, -3], "i2")
    xr.Dataset({"v": (("x",), stored)}).to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=False,
                                                encoding={"v": {"_FillValue": fill if zarr_format == 2 else None}})
    _edit_attrs(path, "v", missing_value=missing, **({"_FillValue": fill} if zarr_format == 3 and fill else {}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opened = xr.open_zarr(path, consolidated=False)
        truth = opened["v"].values
    masked = set(missing) | ({fill} if fill is not None else set())
    np.testing.assert_array_equal(np.isnan(truth), [v in masked for v in stored])  # every listed value
    multiple = any("multiple fill values" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match=r"conflicting _FillValue|truth value of an array"):
        opened.to_zarr(tmp_path / "copy.zarr", zarr_format=zarr_format, mode="w", consolidated=False)
    hierarchy, report, _ = _check(path)
    [issue] = [i for i in report.issues if i.path == "/v"]
    assert issue.severity is Severity.WARNING and issue.pointer.endswith("/missing_value")
    assert fragment in issue.message and "not a number" not in issue.message
    assert multiple == ("multiple fill values" in issue.message)
    decoding = cf_decoding(hierarchy.node("/v"))
    assert decoding is not None
    ours = decoding.apply(stored)
    assert ours.dtype == truth.dtype
    np.testing.assert_array_equal(ours, truth)


def test_each_value_of_a_missing_value_list_must_fit_the_stored_type(tmp_path: Path) -> None:
    path = tmp_path / "m.zarr"
    xr.Dataset({"v": (("x",), np.array([1, -2], "i2"))}).to_zarr(path, zarr_format=3, mode="w", consolidated=False)
    _edit_attrs(path, "v", missing_value=[-2, 70000])
    _, report, _ = _check(path)
    messages = sorted(i.message for i in report.issues if i.path == "/v")
    assert len(messages) == 2 and messages[1].startswith("missing_value [-2, 70000] lists 2 values")
    assert messages[0] == ("missing_value [-2, 70000] holds 70000, which is not representable in the stored dtype "
                           "int16: 70000 is outside the range [-32768, 32767] of int16")


PACKINGS = [  # (stored dtype, encoding xarray writes with)
    ("int16", {"scale_factor": 0.01, "add_offset": 273.15, "_FillValue": -32768}),
    ("uint8", {"scale_factor": 0.1, "_FillValue": 255}),
    ("int32", {"add_offset": 1000.0}),
    ("float32", {"scale_factor": 2.0}),  # its only fill is NaN (xarray's default for floats): stays float32
    ("float32", {"scale_factor": 2.0, "_FillValue": -999.0}),
    ("int16", {"scale_factor": 1.0, "add_offset": 0.0}),  # present, though they change nothing
    ("int16", {"_FillValue": -1}),  # masked only: float32
    ("float32", {"_FillValue": -1.0}),
    ("int32", {"_FillValue": -1}),
]


@pytest.mark.filterwarnings("ignore:saving variable None with floating point data as an integer dtype")
@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(("dtype", "encoding"), PACKINGS)
def test_cf_decoding_gives_xarrays_type_and_values(tmp_path: Path, zarr_format: int, dtype: str,
                                                    encoding: dict[str, object]) -> None:
    """Audit D, finding 12: packed int16 decoded to float32 in napari (290.00998 for 290.01);
    xarray takes the type of scale_factor/add_offset, float64 for JSON numbers (unless only NaN
    is masked), and float32 for masked integers of at most 2 bytes."""
    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "p.zarr"
    if "scale_factor" in encoding or "add_offset" in encoding:
        values = np.array([2.5, 9.9, 17.3, 25.0, np.nan if "_FillValue" in encoding else 20.0])
    else:
        values = np.array([1, 2, 3, 4, -1]).astype(dtype)
    xr.Dataset({"v": (("x",), values)}).to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=False,
                                                encoding={"v": {"dtype": dtype, **encoding}})
    truth = xr.open_zarr(path, consolidated=False)["v"].values
    hierarchy, _, _ = _check(path)
    decoding = cf_decoding(hierarchy.node("/v"))
    assert decoding is not None
    ours = decoding.apply(zarr.open_array(path / "v", mode="r")[...])
    assert ours.dtype == truth.dtype
    np.testing.assert_array_equal(ours, truth)


INTEGER_SCALES = [  # (stored dtype, attributes besides the fill xarray writes, fill (None: none), what validation says)
    ("int16", {"scale_factor": 2}, None, None),  # int64, exact
    ("uint8", {"scale_factor": 3}, None, None),
    ("int32", {"scale_factor": 2}, None, None),
    ("int16", {"scale_factor": 2, "_Unsigned": "true"}, None, None),  # -1 reads 65535: 131070
    ("int16", {"scale_factor": 2, "add_offset": 1}, None, None),  # an add_offset: float64
    ("int16", {"scale_factor": 2, "add_offset": 1.5}, None, None),
    ("float32", {"scale_factor": 2}, "NaN", None),  # xarray's own NaN fill: float32 stays
    ("float32", {"scale_factor": 2}, None, "scale_factor 2 is a JSON integer and there is no add_offset: xarray "
     "unpacks into int64, its type, cutting the fractions of these float32 values before scaling (1.5 reads as 2, "
     "not 3); write 2.0"),
    ("int16", {"scale_factor": 2}, -1, "scale_factor 2 is a JSON integer and there is no add_offset: xarray unpacks "
     "into int64, its type, where it cannot mask -1 with NaN: it opens the dataset but fails to read this variable "
     "(ValueError: cannot convert float NaN to integer); write 2.0"),
    ("int16", {"scale_factor": 2, "missing_value": -7}, None, "where it cannot mask -7 with NaN"),  # even if absent
]


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(("dtype", "attrs", "fill", "fragment"), INTEGER_SCALES)
def test_an_integer_scale_factor_alone_unpacks_into_int64_as_in_xarray(tmp_path: Path, zarr_format: int, dtype: str,
                                                                      attrs: dict[str, object], fill: object,
                                                                      fragment: str | None) -> None:
    """xarray's _choose_float_dtype takes the type of a scale_factor without add_offset: a JSON
    integer gives int64 (our decoding said float64), which cuts float data to integers and
    cannot hold the NaN of masked values."""
    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "s.zarr"
    stored = np.array([1.5, 2.75, -1, 100, np.nan] if dtype == "float32" else [1, 2, -1, 100, 5]).astype(dtype)
    encoding = {"_FillValue": fill if fill != "NaN" else np.nan}
    xr.Dataset({"v": (("x",), stored)}).to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=False,
                                                encoding={"v": encoding})
    _edit_attrs(path, "v", **attrs)
    opened = xr.open_zarr(path, consolidated=False)
    hierarchy, report, _ = _check(path)
    decoding = cf_decoding(hierarchy.node("/v"))
    assert decoding is not None
    ours = decoding.apply(stored)
    issues = [i for i in report.issues if i.pointer.endswith("/scale_factor")]
    if fragment is not None and "NaN" in fragment:
        with pytest.raises(ValueError, match="cannot convert float NaN to integer"):
            _ = opened["v"].values
        assert ours.dtype == np.float64 and np.isnan(ours).sum() == ("missing_value" not in attrs)
        [issue] = issues
        assert issue.severity is Severity.ERROR and fragment in issue.message
        _edit_attrs(path, "v", scale_factor=2.0)  # what the message says
        assert np.isnan(xr.open_zarr(path, consolidated=False)["v"].values).sum() == ("missing_value" not in attrs)
        return
    truth = opened["v"].values
    assert ours.dtype == truth.dtype
    np.testing.assert_array_equal(ours, truth)
    if fragment is None:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is Severity.WARNING and fragment in issue.message
    assert truth.dtype == np.int64 and truth[0] == 2  # 1.5 cut to 1, then scaled


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(("attrs", "warned"), [
    ({"scale_factor": [0.5]}, True),  # alone: xarray takes the list's type, object
    ({"scale_factor": [2]}, True),
    ({"scale_factor": [0.5], "add_offset": 1.5}, False),  # an add_offset: float64
    ({"scale_factor": 0.5}, False),
])
def test_a_one_element_list_scale_factor_alone_unpacks_into_objects_as_in_xarray(
        tmp_path: Path, zarr_format: int, attrs: dict[str, object], warned: bool) -> None:
    path = tmp_path / "s.zarr"
    xr.Dataset({"v": (("x",), np.array([1, 2, 3], "i2"))}).to_zarr(path, zarr_format=zarr_format, mode="w",
                                                                   consolidated=False)
    _edit_attrs(path, "v", **attrs)
    truth = xr.open_zarr(path, consolidated=False)["v"].values
    _, report, _ = _check(path)
    issues = [i for i in report.issues if i.pointer.endswith("/scale_factor")]
    assert (truth.dtype == object) is warned
    if not warned:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is Severity.WARNING and "dtype object" in issue.message
    scale = attrs["scale_factor"][0]  # type: ignore[index]
    assert issue.message.endswith(f"write {scale!r}")
    _edit_attrs(path, "v", scale_factor=scale)  # what the message says
    assert xr.open_zarr(path, consolidated=False)["v"].values.dtype != object


@pytest.mark.parametrize(("dtype", "missing", "fragment"), [
    ("float32", [-1.0, "NaN"], "holds the string 'NaN': xarray compares the values with an array of strings and "
     "masks none of them (not even -1.0); write missing_value -1.0"),
    ("int16", [-1, "x"], "masks none of them (not even -1)"),
    ("int16", "-1", "missing_value '-1' is a string"),
    ("float32", "Infinity", "is a string"),
])
def test_a_missing_value_holding_a_string_masks_nothing_as_in_xarray(tmp_path: Path, dtype: str, missing: object,
                                                                     fragment: str) -> None:
    """xarray masks with np.asarray(missing_value): with a string among the values an array of
    strings, equal to no value; our decoding masked the numbers (audit D)."""
    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "s.zarr"
    stored = np.array([1, -1, 5, np.inf if dtype == "float32" else 7]).astype(dtype)
    xr.Dataset({"v": (("x",), stored)}).to_zarr(path, zarr_format=2, mode="w", consolidated=False)
    _edit_attrs(path, "v", missing_value=missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        truth = xr.open_zarr(path, consolidated=False)["v"].values
    hierarchy, report, _ = _check(path)
    decoding = cf_decoding(hierarchy.node("/v"))
    assert decoding is not None
    ours = decoding.apply(stored)
    assert ours.dtype == truth.dtype
    np.testing.assert_array_equal(ours, truth)
    [issue] = [i for i in report.issues if i.pointer.endswith("/missing_value")]
    assert issue.severity is Severity.WARNING and fragment in issue.message


@pytest.mark.parametrize("fill", [1.5, True])
def test_cf_decoding_reads_a_v3_integer_fill_as_xarray_truncates_it(tmp_path: Path, fill: object) -> None:
    """xarray's FillValueCoder makes int(_FillValue) of a v3 integer array: 1.5 and true mask 1."""
    from zarr_browser.core.conventions.cf import cf_decoding

    path = tmp_path / "i.zarr"
    stored = np.array([1, 2, 3, -1], "i2")
    xr.Dataset({"v": (("x",), stored)}).to_zarr(path, zarr_format=3, mode="w", consolidated=False)
    _edit_attrs(path, "v", _FillValue=fill)
    truth = xr.open_zarr(path, consolidated=False)["v"].values
    assert np.isnan(truth[0])
    decoding = cf_decoding(Hierarchy.open(str(path)).node("/v"))
    assert decoding is not None
    np.testing.assert_array_equal(decoding.apply(stored), truth)


def test_a_reversed_valid_range_is_a_warning_as_every_reader_opens_the_store(tmp_path: Path) -> None:
    """xarray ignores valid_range (netCDF4-python masks what lies outside it): not an error."""
    path = tmp_path / "r.zarr"
    xr.Dataset({"v": (("x",), np.arange(4.0), {"valid_range": [10.0, 1.0]})}).to_zarr(
        path, zarr_format=3, mode="w", consolidated=False)
    np.testing.assert_array_equal(xr.open_zarr(path, consolidated=False)["v"].values, np.arange(4.0))
    _, report, _ = _check(path)
    [issue] = [i for i in report.issues if i.pointer.endswith("/valid_range")]
    assert issue.severity is Severity.WARNING and "write [1.0, 10.0]" in issue.message


VALID_BOUNDS = [  # (attribute, value, severity or None, what the message says, where netCDF4-python masks or None)
    ("valid_min", 2, None, None, [True, False, False, False]),  # what CF wants: netCDF4-python masks 1
    ("valid_min", "abc", Severity.WARNING, "valid_min 'abc' is not a number: xarray ignores valid_min, and "
     "netCDF4-python ignores it too ('not used since it cannot be safely cast'), so nothing is masked by it; CF "
     "wants a number of the data's type (int16): write such a number or remove it", [False] * 4),
    ("valid_max", "10", Severity.WARNING, "CF wants a number of the data's type (int16): write 10", [False] * 4),
    ("valid_min", None, Severity.WARNING, "valid_min null is not a number", [False] * 4),
    ("valid_max", True, Severity.WARNING, "valid_max true is not a number: xarray ignores valid_max, but netCDF-C "
     "reads it as 1, which netCDF4-python masks by", [False, True, True, True]),
    ("valid_range", "abc", Severity.WARNING, "valid_range 'abc' is not [min, max]", [False] * 4),
    ("valid_range", [1, 3, 4], Severity.WARNING, "valid_range [1, 3, 4] is not [min, max]: xarray ignores "
     "valid_range, and netCDF4-python ignores it too (it takes exactly two numbers)", [False] * 4),
    ("valid_min", [1, 2], Severity.ERROR, "valid_min [1, 2] is a list of 2 numbers: xarray ignores valid_min, but "
     "netCDF4-python compares the data with the list item by item and fails to read it", None),
    ("valid_min", [], Severity.ERROR, "valid_min is an empty list: xarray ignores valid_min, but netCDF-C cannot open "
     "the store with it", None),
    ("valid_range", [1, "a"], Severity.ERROR, "valid_range [1, \"a\"] mixes numbers and text: xarray ignores "
     "valid_range, but netCDF-C aborts reading the store", None),
]


@pytest.mark.parametrize(("key", "value", "severity", "fragment", "by_netcdf"), VALID_BOUNDS)
def test_valid_bounds_that_are_no_numbers_are_errors_only_where_a_reader_fails(
        tmp_path: Path, key: str, value: object, severity: Severity | None, fragment: str | None,
        by_netcdf: list[bool] | None) -> None:
    """xarray ignores valid_min, valid_max and valid_range whatever they hold; netCDF4-python
    ignores text ('cannot be safely cast'), but fails on a list of numbers, and libnetcdf on an
    empty or mixed list: a warning naming what CF wants, an error only there (it was an error
    for any value that is no number)."""
    path = tmp_path / "b.zarr"
    stored = np.array([1, 2, 3, 4], "i2")
    xr.Dataset({"v": (("x",), stored)}).to_zarr(path, zarr_format=2, mode="w", consolidated=False,
                                                encoding={"v": {"_FillValue": None}})
    _edit_attrs(path, "v", **{key: value})
    np.testing.assert_array_equal(xr.open_zarr(path, consolidated=False)["v"].values, stored)  # ignored
    assert _netcdf_c_masks(tmp_path, path, "v", fails=by_netcdf is None) == (by_netcdf or [])
    _, report, _ = _check(path)
    issues = [i for i in report.issues if i.pointer == f"/{key}"]
    if severity is None:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is severity and fragment is not None and fragment in issue.message


NETCDF_C_WRITER = """\
import json, sys
import netCDF4
import numpy as np
path, variant = sys.argv[1], sys.argv[2]
url = f"file://{path}#mode=nczarr,file"
ds = netCDF4.Dataset(url, "w")
ds.createDimension("x", 4)
if variant == "unsigned":
    v = ds.createVariable("v", "i1", ("x",), fill_value=-1)
    v._Unsigned = "true"
    v.set_auto_maskandscale(False)
    v[:] = np.array([1, -56, -1, 3], "i1")
else:
    v = ds.createVariable("v", "f4", ("x",), fill_value=-999.0)
    v.missing_value = np.float32(-888.0)
    v[:] = np.array([1, -999, -888, 4], "f4")
ds.close()
ds = netCDF4.Dataset(url)
print(json.dumps({"attribute": str(ds["v"].getncattr(next(k for k in ds["v"].ncattrs() if k != "_FillValue"))),
                  "values": np.ma.filled(ds["v"][:].astype("f8"), np.nan).tolist()}))
"""


def _netcdf_c_store(tmp_path: Path, variant: str) -> tuple[Path, dict[str, object]]:
    """A store the netCDF4 wheel's libnetcdf (4.10) writes, and what it reads back (in a subprocess:
    netCDF-C has been seen to crash)."""
    import subprocess
    import sys

    pytest.importorskip("netCDF4")
    script, store = tmp_path / "write.py", tmp_path / f"{variant}.zarr"
    script.write_text(NETCDF_C_WRITER)
    done = subprocess.run([sys.executable, str(script), str(store), variant], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return store, json.loads(done.stdout)


def test_netcdf_c_writes_unsigned_as_json_true_which_no_reader_honours(tmp_path: Path) -> None:
    """libnetcdf 4.10 writes _Unsigned = "true" to NCZarr as JSON true and reads it back as '1':
    netCDF4-python shows the bytes signed, as xarray would (audit D, finding 6)."""
    store, read = _netcdf_c_store(tmp_path, "unsigned")
    assert json.loads((store / "v" / ".zattrs").read_text())["_Unsigned"] is True
    assert read["attribute"] == "1" and -56.0 in read["values"]  # signed, the fill -1 masked
    _, report, _ = _check(store)
    [issue] = [i for i in report.issues if i.pointer.endswith("_Unsigned")]
    assert issue.severity is Severity.WARNING and "xarray ignores _Unsigned true" in issue.message
    assert "reads it back as '1'" in issue.message


def test_netcdf_c_fill_and_missing_values_that_differ_are_a_warning(tmp_path: Path) -> None:
    """netCDF readers mask both; xarray masks both too, but cannot write the dataset back (audit D, finding 7)."""
    import warnings

    store, read = _netcdf_c_store(tmp_path, "missing")
    assert np.isnan(read["values"][1:3]).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opened = xr.open_zarr(store, consolidated=False)
        assert np.isnan(opened["v"].values[1:3]).all()
    assert any("multiple fill values" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="conflicting _FillValue"):
        opened.to_zarr(tmp_path / "copy.zarr", zarr_format=2, consolidated=False)
    _, report, _ = _check(store)
    [issue] = [i for i in report.issues if i.pointer.endswith("missing_value")]
    assert issue.severity is Severity.WARNING and "_FillValue -999" in issue.message
    assert "cannot write the dataset back" in issue.message


# -- arrays xarray finds no dimension names for ------------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_an_array_without_dimension_names_among_variables_is_an_error_naming_the_group(
        tmp_path: Path, zarr_format: int) -> None:
    """An array added with plain zarr-python to an xarray dataset: xarray opens none of the group."""
    path = tmp_path / "ds.zarr"
    xr.Dataset({"temp": (("x",), np.zeros(3, "f4"), {"units": "K"})}, coords={"x": [1, 2, 3]}).to_zarr(
        path, zarr_format=zarr_format, mode="w")
    zarr.open_group(path, mode="r+").create_array("extra", shape=(3,), dtype="f4")
    zarr.consolidate_metadata(path)
    with pytest.raises(KeyError, match="_ARRAY_DIMENSIONS" if zarr_format == 2 else "dimension_names"):
        xr.open_zarr(path)
    hierarchy, report, registry = _check(path)
    (issue,) = report.issues
    assert (issue.path, issue.severity, issue.convention) == ("/extra", Severity.ERROR, "xarray")
    assert "the other arrays of group '/' ('temp', 'x') are xarray variables" in issue.message
    assert "xarray cannot open group '/' at all" in issue.message
    assert issue.document == (".zattrs" if zarr_format == 2 else "zarr.json")
    # the group is no dataset (its badge goes), and the issue above says why
    ctx = HierarchyContext(hierarchy)
    assert "xarray" not in {d.name for d in summarize(hierarchy.root, None, registry, ctx).conventions}
    assert _found(registry, hierarchy, "/temp")["xarray"].roles == ("variable",)


def test_arrays_without_names_among_plain_arrays_are_not_xarrays_business(tmp_path: Path) -> None:
    """Plain zarr (no xarray attribute, no CF attributes): v3 names beside an unnamed array are a
    warning (xarray cannot open the group, but nothing says it is meant to); no names at all: nothing."""
    path = tmp_path / "plain.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.create_array("named", shape=(3,), dtype="f4", dimension_names=["x"])
    root.create_array("plain", shape=(3,), dtype="f4")
    root.create_group("g").create_array("a", shape=(2, 2), dtype="u1")
    with pytest.raises(KeyError, match="dimension_names"):
        xr.open_zarr(path, consolidated=False)
    _, report, _ = _check(path)
    (issue,) = report.issues
    assert (issue.path, issue.severity) == ("/plain", Severity.WARNING)
    assert "the other array of group '/' ('named') is an xarray variable" in issue.message


def test_array_dimensions_on_a_v3_array_are_not_xarrays_dimension_names(tmp_path: Path) -> None:
    """xarray never reads _ARRAY_DIMENSIONS on v3: the names are not shown as the array's, and an
    error says to write dimension_names (a v2 habit carried over to a v3 store)."""
    path = tmp_path / "v3.zarr"
    xr.Dataset({"temp": (("x",), np.zeros(3, "f4"), {"units": "K"})}, coords={"x": [1, 2, 3]}).to_zarr(
        path, zarr_format=3, mode="w", consolidated=False)
    root = zarr.open_group(path, mode="r+")
    root.create_array("v", shape=(3,), dtype="i2", attributes={"_ARRAY_DIMENSIONS": ["x"]})
    root.create_group("alone").create_array("w", shape=(2,), dtype="i2", attributes={"_ARRAY_DIMENSIONS": ["y"]})
    with pytest.raises(KeyError, match="dimension_names"):
        xr.open_zarr(path, consolidated=False)
    with pytest.raises(KeyError, match="dimension_names"):
        xr.open_zarr(path, group="alone", consolidated=False)
    hierarchy, report, registry = _check(path)
    by_node = report.by_node()
    (issue,) = by_node["/v"]
    assert issue.severity is Severity.ERROR and issue.pointer == "/attributes/_ARRAY_DIMENSIONS"
    assert "its _ARRAY_DIMENSIONS attribute ['x'] is not read on zarr v3" in issue.message
    assert "write dimension_names ['x'] in zarr.json" in issue.message
    (alone,) = by_node["/alone/w"]
    assert alone.severity is Severity.WARNING and "xarray cannot open it, nor the group" in alone.message
    node = hierarchy.node("/v")
    sources = registry.dimension_sources(node, hierarchy.root)
    assert sources == [] and resolve_dimension_names(node, sources) is None
    assert summarize(node, hierarchy.root, registry).dimension_names is None


def test_array_dimensions_beside_v3_dimension_names(tmp_path: Path) -> None:
    """A copy equal to dimension_names is harmless; a different one is a warning (xarray takes
    dimension_names and shows the attribute as an ordinary one)."""
    path = tmp_path / "v3.zarr"
    xr.Dataset({"a": (("x",), np.zeros(3)), "b": (("x",), np.zeros(3))}).to_zarr(path, zarr_format=3, mode="w",
                                                                                 consolidated=False)
    _edit_attrs(path, "a", _ARRAY_DIMENSIONS=["x"])
    _edit_attrs(path, "b", _ARRAY_DIMENSIONS=["q"])
    opened = xr.open_zarr(path, consolidated=False)
    assert opened["b"].dims == ("x",) and opened["b"].attrs == {"_ARRAY_DIMENSIONS": ["q"]}
    _, report, _ = _check(path)
    (issue,) = report.issues
    assert (issue.path, issue.severity, issue.pointer) == ("/b", Severity.WARNING, "/attributes/_ARRAY_DIMENSIONS")
    assert "_ARRAY_DIMENSIONS ['q'] differs from dimension_names ['x']" in issue.message


def test_a_null_in_v3_dimension_names_is_shown_unnamed_and_warned_about(tmp_path: Path) -> None:
    """zarr-python writes null dimension names; xarray opens the axis as a dimension named None."""
    from zarr_browser.cli import main

    path = tmp_path / "n.zarr"
    xr.Dataset({"t": (("time",), np.zeros(2), {"units": "K"})}).to_zarr(path, zarr_format=3, mode="w",
                                                                        consolidated=False)
    zarr.open_group(path, mode="r+").create_array("grid", shape=(2, 3, 4), dtype="f4",
                                                  dimension_names=["time", None, "x"])
    assert xr.open_zarr(path, consolidated=False)["grid"].dims == ("time", None, "x")
    hierarchy, report, registry = _check(path)
    (issue,) = report.issues
    assert (issue.path, issue.severity, issue.pointer) == ("/grid", Severity.WARNING, "/dimension_names")
    assert 'dimension_names ["time", null, "x"] has no name for axis 1 (null): xarray names this dimension None' \
        in issue.message
    summary = summarize(hierarchy.node("/grid"), hierarchy.root, registry)
    assert summary.dimension_names == ("time", None, "x") and summary.dimension_text == "time, –, x"
    assert summary.to_json()["dimension_names"] == ["time", None, "x"]
    ctx = HierarchyContext(hierarchy)
    assert "xarray" in {d.name for d in summarize(hierarchy.root, None, registry, ctx).conventions}  # xarray opens it
    assert XarrayConvention().describe(hierarchy.node("/grid"), ctx)["dims"] == ["time", None, "x"]
    out = io.StringIO()
    main(["info", str(path)], out=out)
    assert "[time, –, x]" in out.getvalue()


def test_null_dimension_names_of_two_sizes_conflict_as_in_xarray(tmp_path: Path) -> None:
    path = tmp_path / "n.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.create_array("a", shape=(3,), dtype="f4", dimension_names=[None])
    root.create_array("b", shape=(4,), dtype="f4", dimension_names=[None])
    with pytest.raises(ValueError, match="conflicting sizes for dimension None"):
        xr.open_zarr(path, consolidated=False)
    _, report, _ = _check(path)
    (issue,) = report.issues  # all-null names of plain arrays: no warning per array
    assert issue.path == "/" and "conflicting sizes for dimension None (null in dimension_names): 3 in array 'a' " \
        "but 4 in array 'b'" in issue.message


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_coordinate_with_dimensions_its_variable_lacks_is_a_warning(tmp_path: Path, zarr_format: int) -> None:
    """CF wants a listed coordinate's dimensions among its variable's; xarray takes it anyway."""
    path = tmp_path / "c.zarr"
    ds = xr.Dataset({"temp": (("y", "x"), np.zeros((2, 3)), {"units": "K"}), "w": (("k",), np.arange(4.0))},
                    coords={"lat": (("y", "x"), np.ones((2, 3)))})
    ds.to_zarr(path, zarr_format=zarr_format, mode="w", consolidated=False)
    _, report, _ = _check(path)
    assert report.issues == []  # as xarray wrote it: temp's coordinates 'lat'
    _edit_attrs(path, "temp", coordinates="lat w")
    assert set(xr.open_zarr(path, consolidated=False).coords) == {"lat", "w"}  # accepted
    _, report, _ = _check(path)
    (issue,) = report.issues
    assert (issue.path, issue.severity) == ("/temp", Severity.WARNING) and issue.pointer.endswith("/coordinates")
    assert "coordinates names 'w', which has dimension 'k' that this variable (y, x) does not have" in issue.message


# -- DataTree: groups aligned with their ancestors -------------------------------------------------


def _child_of(root: object, child: object, path: Path, zarr_format: int) -> Path:
    """*root* written at the store's root, *child* at /child (to_zarr(group=...)), as two writes."""
    root.to_zarr(path, zarr_format=zarr_format, mode="w")  # type: ignore[attr-defined]
    child.to_zarr(path, group="child", zarr_format=zarr_format)  # type: ignore[attr-defined]
    return path


@pytest.mark.parametrize("zarr_format", [2, 3])
@pytest.mark.parametrize(("root", "child", "expected"), [
    ({"coords": {"x": [1, 2, 3]}}, {"coords": {"x": [1, 2, 3, 4]}},
     "dimension 'x' has size 4 in group '/child' but 3 in its ancestor group '/'"),
    ({"coords": {"x": [1, 2, 3]}}, {"coords": {"x": [10, 20, 30]}},
     "index coordinate 'x' of group '/child' has the size it has in its ancestor group '/' (3) but other values "
     "(at position 0: 10 here, 1 in '/')"),
    ({"data_vars": {"a": ("x", np.zeros(3))}}, {"data_vars": {"b": ("x", np.zeros(4))}},
     "dimension 'x' has size 4 in group '/child' but 3 in its ancestor group '/'"),
], ids=["sizes", "index-values", "no-index"])
def test_a_group_not_aligned_with_its_ancestors_is_an_error(tmp_path: Path, zarr_format: int, root: dict,  # type: ignore[type-arg]
                                                            child: dict, expected: str) -> None:  # type: ignore[type-arg]
    """xarray.open_datatree refuses the whole tree; open_zarr still opens each group alone."""
    path = _child_of(xr.Dataset(**root), xr.Dataset(**child), tmp_path / "t.zarr", zarr_format)
    with pytest.raises(ValueError, match="group '/child' is not aligned with its parents"):
        xr.open_datatree(path, engine="zarr")
    xr.open_zarr(path, group="child")
    _, report, _ = _check(path)
    (issue,) = report.issues
    assert (issue.path, issue.severity, issue.convention) == ("/child", Severity.ERROR, "xarray")
    assert expected in issue.message and "xarray.open_datatree refuses the whole tree" in issue.message


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_an_aligned_datatree_passes(tmp_path: Path, zarr_format: int) -> None:
    """Groups that inherit, repeat their ancestors' index, name it in other units, or are
    siblings with one dimension name of two sizes: xarray opens the tree, and so no issue."""
    tree = xr.DataTree.from_dict({
        "/": xr.Dataset({"a": ("x", np.zeros(3))}, coords={"x": [1, 2, 3], "t": ("t", [0, 1], {
            "units": "days since 2000-01-01"})}),
        "/child": xr.Dataset({"b": (("x", "y"), np.zeros((3, 2)))}),
        "/child/grand": xr.Dataset({"c": ("y", np.zeros(2))}),
        "/left": xr.Dataset(coords={"n": [1, 2]}),
        "/right": xr.Dataset(coords={"n": [1, 2, 3]}),
    })
    path = tmp_path / "tree.zarr"
    tree.to_zarr(path, zarr_format=zarr_format)  # type: ignore[attr-defined]
    xr.Dataset(coords={"x": [1.0, 2.0, 3.0], "t": ("t", [0, 24], {"units": "hours since 2000-01-01"})}).to_zarr(
        path, group="same", zarr_format=zarr_format)  # the root's index again, as floats; times in hours
    xr.open_datatree(path, engine="zarr")
    _, report, _ = _check(path)
    assert report.issues == []


def test_a_grandchild_is_aligned_with_the_nearest_ancestor_holding_the_dimension(tmp_path: Path) -> None:
    path = tmp_path / "t.zarr"
    xr.Dataset(coords={"x": [1, 2, 3]}).to_zarr(path, zarr_format=3)
    xr.Dataset({"c": ("y", np.zeros(2))}).to_zarr(path, group="child", zarr_format=3)
    xr.Dataset(coords={"x": [1, 2]}).to_zarr(path, group="child/grand", zarr_format=3)
    with pytest.raises(ValueError, match="group '/child/grand' is not aligned"):
        xr.open_datatree(path, engine="zarr")
    _, report, _ = _check(path)
    (issue,) = report.issues
    assert issue.path == "/child/grand" and "size 2 in group '/child/grand' but 3 in its ancestor group '/'" \
        in issue.message


def test_index_values_are_compared_only_when_read_safely_and_small(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A long index is compared by size only, an unreadable one not at all: never an error from
    what could not be read."""
    from zarr_browser.core.conventions import xarray_dims

    path = _child_of(xr.Dataset(coords={"x": [1, 2, 3]}), xr.Dataset(coords={"x": [10, 20, 30]}),
                     tmp_path / "t.zarr", 3)
    assert len(_check(path)[1].issues) == 1
    monkeypatch.setattr(xarray_dims, "INDEX_VALUES_LIMIT", 2)
    assert _check(path)[1].issues == []
    monkeypatch.undo()
    for chunk in (path / "child" / "x" / "c").iterdir():
        chunk.write_bytes(b"not a chunk")
    assert _check(path)[1].issues == []


def test_a_netcdf_subgroup_with_its_own_dimension_is_only_information(tmp_path: Path) -> None:
    """netCDF lets a subgroup define a dimension of a name its parent has (nccopy writes it), a
    DataTree does not: netCDF reads the file, xarray opens each group but not the tree."""
    import shutil
    import subprocess

    ncgen, nccopy = shutil.which("ncgen"), shutil.which("nccopy")
    if ncgen is None or nccopy is None:
        pytest.fail("ncgen/nccopy (netCDF-C, Debian package netcdf-bin) are missing: scripts/bootstrap.sh installs them")
    cdl = ("netcdf t {\ndimensions:\n  x = 3 ;\nvariables:\n  float a(x) ;\ndata:\n a = 1, 2, 3 ;\n"
           "group: sub {\n  dimensions:\n    x = 5 ;\n  variables:\n    float b(x) ;\n  data:\n   b = 1, 2, 3, 4, 5 ;\n"
           "  }\n}\n")
    (tmp_path / "t.cdl").write_text(cdl)
    subprocess.run([ncgen, "-4", "-o", str(tmp_path / "t.nc"), str(tmp_path / "t.cdl")], check=True, timeout=60)
    path = tmp_path / "t.zarr"
    subprocess.run([nccopy, str(tmp_path / "t.nc"), f"file://{path}#mode=nczarr,file"], check=True, timeout=60)
    assert xr.open_zarr(path, group="sub", consolidated=False).sizes == {"x": 5}
    with pytest.raises(ValueError, match="group '/sub' is not aligned with its parents"):
        xr.open_datatree(path, engine="zarr", consolidated=False)
    _, report, _ = _check(path)
    (issue,) = [i for i in report.issues if "open_datatree" in i.message]
    assert (issue.path, issue.severity) == ("/sub", Severity.INFO)
    assert "netCDF lets a subgroup define its own dimension of a name, a DataTree does not" in issue.message


# -- the dataset table: coordinates as xarray has them ------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_coordinates_named_by_the_group_are_coordinates(tmp_path: Path, zarr_format: int) -> None:
    """xarray writes a coordinate no variable uses into the group's own coordinates attribute."""
    path = tmp_path / "g.zarr"
    ds = xr.Dataset({"temp": (("x",), np.zeros(3))}, coords={"x": [1, 2, 3], "yb": ("ny1", np.arange(4.0))})
    ds.to_zarr(path, zarr_format=zarr_format, mode="w")
    assert zarr.open_group(path).attrs["coordinates"] == "yb"
    opened = xr.open_zarr(path)
    hierarchy, report, _ = _check(path)
    assert report.issues == []
    described = XarrayConvention().describe(hierarchy.root, HierarchyContext(hierarchy))
    assert sorted(described["coordinates"]) == sorted(opened.coords) == ["x", "yb"]
    assert described["data_variables"] == list(opened.data_vars) == ["temp"]
    assert described["dims"] == dict(opened.sizes)


@pytest.mark.parametrize(("zarr_format", "consolidated"), [(2, True), (3, True), (3, False)])
def test_a_datatree_group_has_the_index_coordinates_of_its_ancestors(tmp_path: Path, zarr_format: int,
                                                                     consolidated: bool) -> None:
    """As tree[path].to_dataset() shows: the ancestors' index coordinates and their dimensions,
    marked with the group they come from (a non-index coordinate is not inherited)."""
    root = xr.Dataset({"temp": (("time", "x"), np.zeros((2, 5)))},
                      coords={"time": [0, 1], "x": np.arange(5), "lat": ("x", np.arange(5.0))})
    tree = xr.DataTree.from_dict({"/": root, "/child": xr.Dataset({"v": ("y", np.zeros(3))}),
                                  "/child/grand": xr.Dataset({"w": (("x", "k"), np.ones((5, 2)))},
                                                             coords={"k": [7, 8]})})
    path = tmp_path / "tree.zarr"
    tree.to_zarr(path, zarr_format=zarr_format, consolidated=consolidated)  # type: ignore[attr-defined]
    opened = xr.open_datatree(path, engine="zarr", consolidated=consolidated)
    hierarchy, report, registry = _check(path)
    assert report.issues == []
    ctx = HierarchyContext(hierarchy)
    for group, inherited in (("/child", {"time": "/", "x": "/"}), ("/child/grand", {"time": "/", "x": "/"})):
        expected = opened[group].to_dataset()
        described = registry.describe(hierarchy.node(group), ctx)["xarray"]
        assert described["dims"] == dict(expected.sizes), group
        assert sorted(described["coordinates"]) == sorted(expected.coords), group
        assert {n: v["inherited_from"] for n, v in described["variables"].items() if "inherited_from" in v} \
            == inherited, group
    root_table = registry.describe(hierarchy.root, ctx)["xarray"]
    assert not any("inherited_from" in v for v in root_table["variables"].values())


@pytest.mark.parametrize(("standard_name", "fragment"), [
    ("air_temperature", None),
    ("air_temperature standard_error", None),  # a modifier of CF Appendix C
    ("mole_fraction_of_CFC11_in_air", None),  # capitals: chemical formulas
    ("air temperature", "'temperature' is not a standard name modifier"),
    ("sea surface temperature", "is not of the form of a CF standard name"),
    ("", "standard_name is empty"),
])
def test_the_form_of_a_standard_name_is_checked(tmp_path: Path, standard_name: str, fragment: str | None) -> None:
    """CF 3.3: one word of the standard name table, optionally a modifier; 'air temperature'
    was accepted without a word (audit F, 15).  The table itself is not checked."""
    path = tmp_path / "s.zarr"
    xr.Dataset({"v": (("x",), np.arange(3.0))}).to_zarr(path, zarr_format=3, mode="w", consolidated=False)
    _edit_attrs(path, "v", standard_name=standard_name)
    _, report, _ = _check(path)
    issues = [i for i in report.issues if i.pointer.endswith("/standard_name")]
    if fragment is None:
        assert issues == []
        return
    [issue] = issues
    assert issue.severity is Severity.WARNING and fragment in issue.message
    if " " in standard_name.strip():
        assert issue.message.endswith(f"{'_'.join(standard_name.split())!r}?")


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_validating_a_wide_group_weighs_each_array_once(tmp_path: Path, zarr_format: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each array of a group weighed all its siblings: validating 5,000 arrays took 4.5 minutes
    (25 M dimension-name lookups; audit H, 2).  Counted, not timed: the lookups grow with the
    arrays, not with their square, and the verdict is the same."""
    from zarr_browser.core.conventions import default_registry, xarray_dims
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.validate import validate_hierarchy

    group = zarr.open_group(tmp_path / "wide.zarr", mode="w", zarr_format=zarr_format)
    count = 300
    for i in range(count):
        group.create_array(f"a{i}", shape=(4,), dtype="uint8")
    named = group.create_array("t", shape=(4,), dtype="uint8",  # one xarray variable: the others are weighed
                               **({"dimension_names": ["x"]} if zarr_format == 3 else {}))
    if zarr_format == 2:
        named.attrs["_ARRAY_DIMENSIONS"] = ["x"]
    calls = 0
    original = xarray_dims.xarray_dimension_names

    def counting(node: object) -> object:
        nonlocal calls
        calls += 1
        return original(node)  # type: ignore[arg-type]

    monkeypatch.setattr(xarray_dims, "xarray_dimension_names", counting)
    report = validate_hierarchy(Hierarchy.open(str(tmp_path / "wide.zarr")), default_registry())
    unnamed = [i for i in report.issues if "xarray cannot open group" in i.message]
    assert len(unnamed) == count  # every unnamed array is still named, next to the variable 't'
    assert calls <= 10 * count, calls  # was count² (90,000 here)
