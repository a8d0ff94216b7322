"""zarr-conventions (multiscales, proj:, spatial:) and GeoZarr, on real v3 stores.

Every example document of the zarr-conventions repositories (collected in the shared fixtures)
is written with zarr-python: group examples as the root group's attributes (with their layout
assets created as arrays), array examples as an array named ``node``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import zarr

from zarr_browser.core.conventions.base import ConventionRegistry
from zarr_browser.core.conventions.zarr_conventions import ZarrConventionsConvention, identify
from zarr_browser.core.conventions.zarr_core import ZarrCoreConvention
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.validate import HierarchyContext, ValidationReport, validate_hierarchy

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:zarr")

# the team's shared fixtures sit beside the repository (../shared), in CI as on developer machines
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "ngff" / "other-conventions" / "zarr-conventions"
EXAMPLES = sorted(FIXTURES.glob("*/examples/*.json"))
MINE = ("zarr-conventions", "zarr", "dimensions")


def _check(path: Path) -> tuple[Hierarchy, ValidationReport]:
    hierarchy = Hierarchy.open(str(path))
    registry = ConventionRegistry([ZarrCoreConvention(), ZarrConventionsConvention()])
    report = validate_hierarchy(hierarchy, registry)
    assert not [i for i in report.issues if i.message.startswith("internal error")], report.issues
    report.issues = [i for i in report.issues if i.convention in MINE]
    return hierarchy, report


def _write_example(doc: dict, path: Path) -> str:
    """Write one example node document into a v3 store; return the node's path."""
    attrs = doc["attributes"]
    root = zarr.open_group(path, mode="w", zarr_format=3)
    if doc["node_type"] == "group":
        root.attrs.update(attrs)
        layout = attrs.get("multiscales", {}).get("layout", [])
        for item in layout:
            *parents, name = item["asset"].split("/")
            group = root
            for parent in parents:
                group = group.require_group(parent)
            group.create_array(name, shape=(4, 4), dtype="u1", dimension_names=["Y", "X"])
        return "/"
    names = doc.get("dimension_names") or attrs.get("spatial:dimensions") or ["Y", "X"]
    root.create_array("node", shape=(4, 4), dtype="u1", dimension_names=names, attributes=attrs)
    return "/node"


def test_shared_examples_were_found() -> None:
    """A missing fixture folder must fail, not silently parametrize nothing."""
    assert len(EXAMPLES) >= 10, f"zarr-conventions examples missing under {FIXTURES}"


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{p.parent.parent.name}/{p.name}" for p in EXAMPLES])
def test_examples_detect_and_validate_clean(example: Path, tmp_path: Path) -> None:
    doc = json.loads(example.read_text())
    node_path = _write_example(doc, tmp_path / "s.zarr")
    hierarchy, report = _check(tmp_path / "s.zarr")
    assert report.issues == []
    detection = ZarrConventionsConvention().detect(hierarchy.node(node_path))
    assert detection is not None
    attrs = doc["attributes"]
    assert ("multiscales" in detection.roles) == isinstance(attrs.get("multiscales"), dict)
    assert ("proj" in detection.roles) == any(k.startswith("proj:") for k in attrs)
    assert ("spatial" in detection.roles) == any(k.startswith("spatial:") for k in attrs)
    described = ZarrConventionsConvention().describe(hierarchy.node(node_path), HierarchyContext(hierarchy))
    assert len(described["conventions"]) == len(attrs["zarr_conventions"])


def test_describe_geo_multiscales(tmp_path: Path) -> None:
    doc = json.loads((FIXTURES / "geo-proj/examples/multiscales.json").read_text())
    _write_example(doc, tmp_path / "g.zarr")
    hierarchy, _ = _check(tmp_path / "g.zarr")
    described = ZarrConventionsConvention().describe(hierarchy.root, HierarchyContext(hierarchy))
    assert [c["registered"] for c in described["conventions"]] == ["multiscales", "proj:", "spatial:"]
    assert described["crs"]["code"] == "EPSG:32633"
    assert described["spatial"]["registration"] == "pixel"
    assert [(lv["asset"], lv["derived_from"], lv["scale"]) for lv in described["layout"]] == [
        ("r10m", None, [1.0, 1.0]), ("r20m", "r10m", [2.0, 2.0]), ("r60m", "r10m", [6.0, 6.0])]


def test_identify_by_uuid_then_url() -> None:
    assert identify({"uuid": "689b58e2-cf7b-45e0-9fff-9cfc0883d6b4", "name": "proj:"}) == "spatial:"
    assert identify({"schema_url": "https://raw.githubusercontent.com/zarr-conventions/multiscales/refs/tags/v1/schema.json"}) == "multiscales"
    assert identify({"name": "multiscales"}) is None  # a name never identifies


def test_rule_violations(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "bad.zarr", mode="w", zarr_format=3)
    root.attrs.update({
        "zarr_conventions": [{"name": "multiscales"}, {"uuid": "NOT-A-UUID", "extra": 1}],
        "multiscales": {"layout": [
            {"asset": "/abs", "transform": {"scale": [0, 1]}},
            {"asset": "missing", "derived_from": "abs"},
        ]},
        "proj:code": "EPSG 4326",
    })
    root.create_array("img", shape=(10, 20), dtype="u1", dimension_names=["y", "x"], attributes={
        "spatial:dimensions": ["Y", "X"], "spatial:transform": [1, 0, 0, 0, 0, 0], "spatial:bbox": [5, 0, 1, 1]})
    root.create_array("ok", shape=(10, 20), dtype="u1", dimension_names=["y", "x"], attributes={
        "spatial:dimensions": ["y", "x"], "spatial:shape": [10, 21]})
    _, report = _check(tmp_path / "bad.zarr")
    root_issues = {i.message: i for i in report.issues if i.path == "/"}

    def severity(fragment: str) -> Severity:
        hits = [i.severity for m, i in root_issues.items() if fragment in m] + [
            i.severity for i in report.issues if i.path != "/" and fragment in i.message]
        assert len(hits) == 1, (fragment, [i.message for i in report.issues])
        return hits[0]

    assert severity("zarr_conventions[0] has none of uuid, schema_url, spec_url") is Severity.ERROR
    assert severity("zarr_conventions[1] has keys ['extra']") is Severity.ERROR
    assert severity("'NOT-A-UUID' is not a lower-case RFC 4122 UUID") is Severity.ERROR
    assert severity("layout[0].asset is '/abs'") is Severity.ERROR
    assert severity("transform.scale is [0, 1]") is Severity.ERROR
    assert severity("layout[1].asset 'missing' does not exist") is Severity.WARNING
    assert severity("layout[1] has derived_from but no transform") is Severity.ERROR
    assert severity("derived_from 'abs' is not an asset") is Severity.WARNING
    assert severity("proj:code is 'EPSG 4326'") is Severity.WARNING
    assert severity("does not declare the multiscales convention") is Severity.WARNING
    assert severity("spatial:dimensions ['Y', 'X'] are not all in the array's dimension names ['y', 'x']") is Severity.ERROR
    assert severity("is singular") is Severity.ERROR
    assert severity("spatial:bbox [5, 0, 1, 1] has xmin > xmax") is Severity.ERROR
    assert severity("spatial:shape [10, 21] differs from the array's sizes [10, 20]") is Severity.ERROR
    pointer = next(i for i in report.issues if "transform.scale" in i.message).pointer
    assert pointer == "/attributes/multiscales/layout/0/transform/scale"


def test_other_multiscales_shapes(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "m.zarr", mode="w", zarr_format=2)
    root.create_group("ome").attrs["multiscales"] = [{"datasets": [{"path": "0"}], "version": "0.4"}]
    root.create_group("tms").attrs["multiscales"] = {"tile_matrix_set": "WebMercatorQuad", "resampling_method": "nearest"}
    hierarchy, report = _check(tmp_path / "m.zarr")
    convention = ZarrConventionsConvention()
    assert convention.detect(hierarchy.node("/ome")) is None  # OME ≤0.4 list: not ours
    assert convention.detect(hierarchy.node("/tms")).roles == ("geozarr-tms",)  # type: ignore[union-attr]
    described = convention.describe(hierarchy.node("/tms"), HierarchyContext(hierarchy))
    assert described["geozarr_draft"] == {"tile_matrix_set": "WebMercatorQuad", "resampling_method": "nearest"}
    assert report.issues == []


JUNK = [None, True, -1, 0.0, math.nan, "x", [], [None], [1, "a"], {}, {"layout": 3}, {"layout": [{"asset": 3}]},
        [{"uuid": 5, "schema_url": []}], {"layout": [{"asset": "a", "transform": {"scale": "x", "translation": [None]}}]}]
KEYS = ["zarr_conventions", "multiscales", "proj:code", "proj:wkt2", "proj:projjson", "spatial:dimensions",
        "spatial:transform", "spatial:bbox", "spatial:shape", "spatial:registration"]


def test_junk_attributes_give_issues_not_exceptions(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "j.zarr", mode="w", zarr_format=3)
    for i, value in enumerate(JUNK):
        attrs = dict.fromkeys(KEYS, value)
        root.create_group(f"g{i}").attrs.update(attrs)
        root.create_array(f"a{i}", shape=(2, 2), dtype="u1", dimension_names=["y", None], attributes=attrs)
        root.create_array(f"n{i}", shape=(2,), dtype="u1", attributes=attrs)
    hierarchy = Hierarchy.open(str(tmp_path / "j.zarr"))
    ctx = HierarchyContext(hierarchy)
    convention = ZarrConventionsConvention()
    nodes = [n for n, _ in hierarchy.walk()]
    assert len(nodes) == 1 + 3 * len(JUNK)
    reported = 0
    for node in nodes:
        convention.detect(node)
        convention.describe(node, ctx)
        issues = convention.validate(node, ctx)
        assert all(isinstance(i, Issue) for i in issues)
        reported += bool(issues)
    assert reported >= 3 * len(JUNK) - 3
