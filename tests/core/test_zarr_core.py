"""The zarr core and consolidated-metadata conventions on stores written by zarr-python."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import zarr

from zarr_browser.core.conventions.base import ConventionRegistry, Detection
from zarr_browser.core.conventions.consolidated import ConsolidatedConvention
from zarr_browser.core.conventions.zarr_core import ZarrCoreConvention
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import parse_document
from zarr_browser.core.model import build_node
from zarr_browser.core.validate import HierarchyContext, ValidationReport, validate_hierarchy

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:zarr")


def _registry() -> ConventionRegistry:
    return ConventionRegistry([ZarrCoreConvention(), ConsolidatedConvention()])


def _check(path: Path) -> tuple[Hierarchy, ValidationReport, ConventionRegistry]:
    """Validate with this module's conventions; keep only their issues (not the safety gate's)."""
    hierarchy = Hierarchy.open(str(path))
    registry = _registry()
    report = validate_hierarchy(hierarchy, registry)
    assert not [i for i in report.issues if i.message.startswith("internal error")], report.issues
    report.issues = [i for i in report.issues if i.convention in ("zarr", "consolidated")]
    return hierarchy, report, registry


def _at(report: ValidationReport, path: str, severity: Severity | None = None) -> list[Issue]:
    return [i for i in report.issues if i.path == path and (severity is None or i.severity is severity)]


def _write(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))


V3_ARRAY = {
    "zarr_format": 3, "node_type": "array", "shape": [4, 6], "data_type": "uint16",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 3]}},
    "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
    "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
}
V2_ARRAY = {"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "<f4", "fill_value": "NaN", "order": "C",
            "compressor": None, "filters": None}


# -- clean stores ------------------------------------------------------------------------------


def test_v3_store_detects_kinds_and_has_no_issues(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "a.zarr", mode="w", zarr_format=3)
    sub = root.create_group("sub")
    sub.create_array("img", shape=(8, 8), chunks=(4, 4), dtype="uint16", dimension_names=["y", "x"])
    root.create_array("sharded", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="int16")
    root.create_array("text", shape=(3,), dtype=str)
    hierarchy, report, registry = _check(tmp_path / "a.zarr")
    assert report.issues == []
    assert [d.to_json() for d in registry.detect(hierarchy.node("/"))] == [
        {"name": "zarr", "version": "3", "roles": ["group"]}]
    assert registry.detect(hierarchy.node("/sub/img"))[0].roles == ("array",)
    source = registry.dimension_sources(hierarchy.node("/sub/img"), hierarchy.node("/sub"))
    assert [(s.convention, s.source, s.names) for s in source] == [("zarr", "v3 dimension_names", ("y", "x"))]
    described = ZarrCoreConvention().describe(hierarchy.node("/sharded"), HierarchyContext(hierarchy))
    assert described["shards"] == [4, 4] and described["chunks"] == [2, 2]


def test_v2_store_has_no_issues(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "b.zarr", mode="w", zarr_format=2)
    root.create_array("f", shape=(4, 4), chunks=(2, 2), dtype="f4", fill_value=float("nan"))
    root.create_array("s", shape=(3,), dtype=str)
    root.create_array("b", shape=(3,), dtype="S4")
    root.create_group("g").create_array("i", shape=(5,), dtype="i2", fill_value=-7)
    hierarchy, report, registry = _check(tmp_path / "b.zarr")
    assert report.issues == []
    assert registry.detect(hierarchy.node("/g/i"))[0].to_json() == {"name": "zarr", "version": "2", "roles": ["array"]}
    assert registry.detect(hierarchy.node("/"))[0].version == "2"
    assert registry.detect(hierarchy.node("/"))[1:] == []  # not consolidated


# -- consolidated metadata ---------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "version"), [(2, "1"), (3, "inline")])
def test_consolidated_fresh_stale_and_absent(tmp_path: Path, fmt: int, version: str) -> None:
    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=fmt)
    root.create_array("a", shape=(4,), dtype="i4")
    root.create_array("b", shape=(4,), dtype="i4")
    zarr.consolidate_metadata(path)
    hierarchy, report, registry = _check(path)
    assert report.issues == []
    detections = {d.name: d for d in registry.detect(hierarchy.node("/"))}
    assert detections["consolidated"].version == version
    assert detections["consolidated"].roles == ("index",)

    # edit an attribute and add a child without re-consolidating
    live = zarr.open_group(path, mode="r+", use_consolidated=False)
    live["a"].attrs["units"] = "m"
    live.create_array("late", shape=(2,), dtype="i4")
    hierarchy, report, _ = _check(path)
    stale = _at(report, "/a", Severity.WARNING)
    assert [i.convention for i in stale] == ["consolidated"]
    assert stale[0].message.startswith("consolidated metadata is stale for this node")
    absent = _at(report, "/late", Severity.WARNING)
    assert len(absent) == 1 and "missing from consolidated metadata" in absent[0].message
    assert _at(report, "/b") == []


def test_v3_consolidated_describe_counts_entries(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.create_group("g").create_array("x", shape=(2,), dtype="u1")
    root.create_array("y", shape=(2,), dtype="u1")
    zarr.consolidate_metadata(path)
    hierarchy = Hierarchy.open(str(path))
    described = ConsolidatedConvention().describe(hierarchy.root, HierarchyContext(hierarchy))
    assert described["entries"] == 3 and described["arrays"] == 2 and described["groups"] == 1
    assert described["problems"] == []


def test_malformed_consolidated_documents_are_warnings(tmp_path: Path) -> None:
    # v2 .zmetadata with a bad format number and a path-escaping entry (as read at the root)
    docs = {
        ".zgroup": parse_document(".zgroup", b'{"zarr_format": 2}'),
        ".zmetadata": parse_document(".zmetadata", json.dumps({
            "zarr_consolidated_format": 7,
            "metadata": {".zgroup": {"zarr_format": 2}, "../evil/.zarray": V2_ARRAY}}).encode()),
    }
    node = build_node("/", docs)
    assert node is not None
    convention = ConsolidatedConvention()
    assert convention.detect(node).version is None  # type: ignore[union-attr]
    messages = [i.message for i in convention.validate(node, _NoContext())]
    assert any("zarr_consolidated_format is 7" in m for m in messages)
    assert any("'../evil/.zarray'" in m for m in messages)

    # v3 inline block with the wrong kind, written into a real zarr.json
    path = tmp_path / "d.zarr"
    zarr.open_group(path, mode="w", zarr_format=3)
    meta = json.loads((path / "zarr.json").read_text())
    meta["consolidated_metadata"] = {"kind": "offline", "must_understand": True, "metadata": {}}
    (path / "zarr.json").write_text(json.dumps(meta))
    hierarchy = Hierarchy.open(str(path))
    issues = convention.validate(hierarchy.root, HierarchyContext(hierarchy))
    assert {i.document for i in issues} == {"zarr.json"}
    assert any("kind is 'offline'" in i.message for i in issues)
    assert any("must_understand" in i.pointer for i in issues)


class _NoContext:
    strict = False

    def node(self, path: str) -> None:
        return None

    def children(self, path: str) -> list:
        return []

    def parent(self, node: object) -> None:
        return None


# -- spec violations -------------------------------------------------------------------------


def test_v2_array_rules(tmp_path: Path) -> None:
    path = tmp_path / "v2.zarr"
    zarr.open_group(path, mode="w", zarr_format=2)
    bad = dict(V2_ARRAY, order="X", dimension_separator="-", fill_value="abc", extra_key=1)
    del bad["filters"]
    _write(path / "bad" / ".zarray", bad)
    _write(path / "obj" / ".zarray", dict(V2_ARRAY, dtype="|O", fill_value=None, filters=[{"id": "json2"}]))
    _write(path / "codec" / ".zarray", dict(V2_ARRAY, compressor={"id": "mycodec"}))
    _write(path / "int" / ".zarray", dict(V2_ARRAY, dtype="<u1", fill_value=300))
    _write(path / ".zgroup", {"zarr_format": 2, "note": "x"})
    _, report, _ = _check(path)
    messages = {i.message for i in _at(report, "/bad")}
    assert any("missing required keys ['filters']" in m for m in messages)
    assert any("order is 'X'" in m for m in messages)
    assert any("dimension_separator is '-'" in m for m in messages)
    assert any("fill_value 'abc'" in m for m in messages)
    assert any("extra_key" in m for m in messages)
    fill = next(i for i in _at(report, "/bad") if "fill_value" in i.message)
    assert (fill.pointer, fill.document, fill.severity) == ("/fill_value", ".zarray", Severity.ERROR)
    obj = _at(report, "/obj", Severity.WARNING)
    assert len(obj) == 1 and "not readable by zarr-python 3.1" in obj[0].message and "'json2'" in obj[0].message
    assert "unknown codec id 'mycodec'" in _at(report, "/codec")[0].message
    assert "outside the range [0, 255]" in _at(report, "/int")[0].message
    assert "extra keys ['note']" in _at(report, "/")[0].message


def test_v3_array_rules(tmp_path: Path) -> None:
    path = tmp_path / "v3.zarr"
    zarr.open_group(path, mode="w", zarr_format=3)
    two_ab = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "vlen-bytes"}]
    cases = {
        "chain": dict(V3_ARRAY, codecs=two_ab),
        "order": dict(V3_ARRAY, codecs=[{"name": "zstd", "configuration": {"level": 1}},
                                        {"name": "bytes", "configuration": {"endian": "little"}}]),
        "endian": dict(V3_ARRAY, codecs=[{"name": "bytes"}]),
        "dims": dict(V3_ARRAY, dimension_names=["y"]),
        "extra": dict(V3_ARRAY, foo=1, bar={"must_understand": False}),
        "transformers": dict(V3_ARRAY, storage_transformers=[{"name": "x"}]),
        "codec": dict(V3_ARRAY, codecs=[{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "lz5"}]),
        "dtype": dict(V3_ARRAY, data_type="float8_e4m3", fill_value=0.0),
        "shorthand": dict(V3_ARRAY, data_type="uint8", codecs=["bytes"]),
        "__reserved": V3_ARRAY,
        "missing": {k: v for k, v in V3_ARRAY.items() if k != "chunk_key_encoding"},
        "shard": dict(V3_ARRAY, chunk_grid={"name": "regular", "configuration": {"chunk_shape": [4, 6]}}, codecs=[
            {"name": "sharding_indexed", "configuration": {
                "chunk_shape": [3, 3], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]}}]),
    }
    for name, doc in cases.items():
        _write(path / name / "zarr.json", doc)
    _, report, _ = _check(path)

    def one(node: str, severity: Severity) -> str:
        found = _at(report, "/" + node, severity)
        assert len(found) == 1, (node, report.by_node().get("/" + node))
        return found[0].message

    assert "has 2 array→bytes codecs" in one("chain", Severity.ERROR)
    assert "expected array→array codecs, then one array→bytes" in one("order", Severity.ERROR)
    assert "no 'endian'" in one("endian", Severity.ERROR)
    assert "has 1 entries but the array has 2 dimensions" in one("dims", Severity.ERROR)
    assert "unknown key 'foo'" in one("extra", Severity.ERROR)
    assert "storage_transformers" in one("transformers", Severity.WARNING)
    assert "unknown codec 'lz5'" in one("codec", Severity.WARNING)
    assert "'float8_e4m3' is not in its registry" in one("dtype", Severity.WARNING)
    assert "short-hand codec 'bytes'" in one("shorthand", Severity.WARNING)
    assert "starts with '__'" in one("__reserved", Severity.ERROR)
    assert "['chunk_key_encoding']" in one("missing", Severity.ERROR)
    assert "does not divide the shard shape [4, 6]" in one("shard", Severity.ERROR)
    shard = _at(report, "/shard")[0]
    assert shard.pointer == "/codecs/0/configuration/chunk_shape" and shard.document == "zarr.json"


def test_error_mixed_and_implicit_nodes(tmp_path: Path) -> None:
    path = tmp_path / "e.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.create_group("both")
    _write(path / "both" / ".zgroup", {"zarr_format": 2})
    (path / "broken").mkdir()
    (path / "broken" / "zarr.json").write_text("{not json")
    (path / "plain" / "inner").mkdir(parents=True)
    _write(path / "plain" / "inner" / "zarr.json", {"zarr_format": 3, "node_type": "group"})
    hierarchy, report, registry = _check(path)
    broken = _at(report, "/broken")
    assert [(i.severity, i.document) for i in broken] == [(Severity.ERROR, "zarr.json")]
    assert "invalid JSON" in broken[0].message
    assert registry.detect(hierarchy.node("/broken")) == []
    assert "mixed v2+v3" in _at(report, "/both", Severity.WARNING)[0].message
    assert registry.detect(hierarchy.node("/plain"))[0].to_json() == {
        "name": "zarr", "version": None, "roles": ["implicit-group"]}
    assert "implicit group" in _at(report, "/plain", Severity.WARNING)[0].message


# -- robustness ------------------------------------------------------------------------------

JUNK = [None, True, -1, 1.5, math.nan, "x", "", [], [None], {}, {"name": 3}, [[1]], {"configuration": "x"}]
V3_KEYS = ["shape", "data_type", "chunk_grid", "chunk_key_encoding", "fill_value", "codecs", "dimension_names",
           "storage_transformers", "attributes", "consolidated_metadata", "node_type"]
V2_KEYS = ["shape", "chunks", "dtype", "fill_value", "order", "filters", "compressor", "dimension_separator"]


def test_junk_metadata_gives_issues_not_exceptions(tmp_path: Path) -> None:
    path = tmp_path / "junk.zarr"
    zarr.open_group(path, mode="w", zarr_format=3)
    n = 0
    for key in V3_KEYS:
        for value in JUNK:
            _write(path / f"v3_{n}" / "zarr.json", {**V3_ARRAY, key: value})
            n += 1
    for key in V2_KEYS:
        for value in JUNK:
            _write(path / f"v2_{n}" / ".zarray", {**V2_ARRAY, key: value})
            n += 1
    for value in JUNK:
        _write(path / f"g_{n}" / ".zgroup", {"zarr_format": 2, "_nczarr_group": value, "other": value})
        _write(path / f"g_{n}" / ".zattrs", value)
        n += 1
    hierarchy = Hierarchy.open(str(path))
    ctx = HierarchyContext(hierarchy)
    core, consolidated = ZarrCoreConvention(), ConsolidatedConvention()
    nodes = [node for node, _ in hierarchy.walk()]
    assert len(nodes) == n + 1
    flagged = 0
    for node in nodes:
        for convention in (core, consolidated):
            convention.detect(node)
            convention.describe(node, ctx)
            issues = convention.validate(node, ctx)
            assert all(isinstance(i, Issue) and i.message for i in issues)
            flagged += bool(issues)
        core.dimensions(node, None)
    assert flagged > n / 2  # most junk is reported


def test_fill_value_nan_attribute_round_trip(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "n.zarr", mode="w", zarr_format=3)
    root.create_array("a", shape=(2,), dtype="f8", fill_value=np.nan).attrs["nan"] = float("nan")
    _, report, _ = _check(tmp_path / "n.zarr")
    assert report.issues == []


def test_v2_consolidated_describe_from_zmetadata_document(tmp_path: Path) -> None:
    """With ``.zmetadata`` among the root's documents, the index is described in full."""
    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_group("g").create_array("x", shape=(2,), dtype="u1")
    zarr.consolidate_metadata(path)
    docs = {n: parse_document(n, (path / n).read_bytes()) for n in (".zgroup", ".zmetadata")}
    node = build_node("/", docs)
    assert node is not None
    convention = ConsolidatedConvention()
    assert convention.detect(node) == Detection("consolidated", "1", ("index",))
    described = convention.describe(node, _NoContext())
    assert (described["entries"], described["arrays"], described["groups"]) == (2, 1, 1)
    assert convention.validate(node, _NoContext()) == []
