"""The zarr core and consolidated-metadata conventions on stores written by zarr-python."""

from __future__ import annotations

import gc
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
from servers import StaticServer

from zarr_browser.core.conventions.base import ConventionRegistry, Detection
from zarr_browser.core.conventions.consolidated import ConsolidatedConvention
from zarr_browser.core.conventions.zarr_core import ZarrCoreConvention
from zarr_browser.core.hierarchy import ConsolidatedIndex, Hierarchy
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


@pytest.mark.parametrize(("fmt", "damage"), [(2, "truncated"), (2, "no metadata"), (3, "a list")])
def test_an_unreadable_consolidated_index_is_an_error_as_zarr_fails_to_open_the_store(tmp_path: Path, fmt: int,
                                                                                       damage: str) -> None:
    """zarr-python and xarray read the index first: validate said OK with a warning per node
    ("missing from consolidated metadata") for stores no zarr user can open (audit B)."""
    import json
    import warnings

    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=fmt)
    root.create_array("a", shape=(4,), dtype="i4")
    root.create_group("g").create_array("b", shape=(4,), dtype="i4")
    zarr.consolidate_metadata(path)
    if fmt == 2:
        index = path / ".zmetadata"
        text = index.read_text()
        index.write_text(text[: len(text) // 2] if damage == "truncated" else json.dumps({"zarr_consolidated_format": 1}))
    else:
        document = json.loads((path / "zarr.json").read_text())
        document["consolidated_metadata"] = [1]
        (path / "zarr.json").write_text(json.dumps(document))
    with pytest.raises(Exception), warnings.catch_warnings():  # noqa: B017 (JSONDecodeError, TypeError or KeyError by damage): what a zarr user meets
        warnings.simplefilter("ignore")
        zarr.open_group(path, mode="r")
    _, report, _ = _check(path)
    (issue,) = report.issues
    assert issue.severity is Severity.ERROR and issue.path == "/" and issue.convention == "consolidated"
    assert "fail to open the store" in issue.message


@pytest.mark.parametrize(("fmt", "field", "value", "expected"), [
    (2, "shape", "x", "shape must be a list of integers, got 'x'"),
    (2, "order", "Q", "order is 'Q', expected 'C' or 'F'"),
    (3, "shape", "x", "shape must be a list of integers, got 'x'"),
    (3, "fill_value", "abc", "fill_value"),
])
def test_an_invalid_consolidated_copy_of_a_valid_node_is_an_error(tmp_path: Path, fmt: int, field: str, value: str,
                                                                  expected: str) -> None:
    """zarr-python parses every entry of the index when it opens the store: one bad copy fails
    it all, though the node's own document is valid (it was a stale-copy warning; audit B)."""
    import warnings

    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=fmt)
    root.create_array("a", shape=(4,), dtype="i4")
    zarr.consolidate_metadata(path)
    index = path / (".zmetadata" if fmt == 2 else "zarr.json")
    document = json.loads(index.read_text())
    entries = document["metadata"] if fmt == 2 else document["consolidated_metadata"]["metadata"]
    entries["a/.zarray" if fmt == 2 else "a"][field] = value
    index.write_text(json.dumps(document))
    with pytest.raises((TypeError, ValueError)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.open_group(path, mode="r")
    _, report, _ = _check(path)
    (issue,) = report.issues
    assert issue.severity is Severity.ERROR and issue.path == "/a" and issue.convention == "consolidated"
    assert issue.message.startswith(f"the consolidated copy of this node in {index.name} is invalid: ")
    assert expected in issue.message and "fail" in issue.message


@pytest.mark.parametrize("fmt", [2, 3])
def test_a_node_equal_to_its_consolidated_copy_shares_its_parsed_value(tmp_path: Path, fmt: int) -> None:
    """Every value was kept twice (the node's own and its consolidated copy): a third of the
    memory of a 100,000-array store's rows.  Shared only when written alike: 0 and 0.0 differ."""
    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=fmt)
    root.create_array("a", shape=(4,), dtype="f4", fill_value=0.0, attributes={"units": "m", "scale": 1})
    root.create_array("b", shape=(4,), dtype="f4", attributes={"scale": 1})
    zarr.consolidate_metadata(path)
    own = path / "b" / (".zattrs" if fmt == 2 else "zarr.json")
    doc = json.loads(own.read_text())
    (doc if fmt == 2 else doc["attributes"])["scale"] = 1.0  # equal to 1, written differently
    own.write_text(json.dumps(doc))
    hierarchy = Hierarchy.open(str(path))
    assert hierarchy.consolidated is not None
    name = ".zarray" if fmt == 2 else "zarr.json"
    a, b = hierarchy.node("/a"), hierarchy.node("/b")
    assert a.documents[name].value is hierarchy.consolidated.documents["/a"][name].value
    assert a.attributes == {"units": "m", "scale": 1} and a.consolidated == "fresh"
    kept = ".zattrs" if fmt == 2 else "zarr.json"
    assert b.documents[kept].value is not hierarchy.consolidated.documents["/b"][kept].value
    assert b.attributes == {"scale": 1.0} and isinstance(b.attributes["scale"], float)  # what the file says
    assert b.consolidated == "fresh"  # the same metadata (1 == 1.0): not stale


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
    int_messages = [i.message for i in _at(report, "/int")]
    assert any("outside the range [0, 255]" in m for m in int_messages)
    assert any("not readable by zarr-python 3.1: dtype '<u1'" in m for m in int_messages)  # zarr wants '|u1'
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
    hierarchy, report, _ = _check(tmp_path / "n.zarr")
    assert math.isnan(hierarchy.node("/a").attributes["nan"])  # read leniently
    # zarr-python writes the fill value as the string "NaN" (fine) and the attribute as a bare NaN
    [issue] = report.issues
    assert (issue.path, issue.document, issue.pointer, issue.severity) == (
        "/a", "zarr.json", "/attributes/nan", Severity.WARNING)
    assert "bare JSON token NaN" in issue.message and "not standard JSON" in issue.message
    # no advice to write the string "NaN": it would turn a number attribute (CF _FillValue) into text (audit B)
    assert 'the string "NaN" would be a text attribute' in issue.message and "instead" not in issue.message


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


# -- audit findings: consolidated copies, mixed formats, dtypes, JSON tokens ---------------------


@pytest.mark.parametrize("policy", ["auto", "always"])
def test_freshly_consolidated_v2_nested_group_is_not_stale(tmp_path: Path, policy: str) -> None:
    # zarr-python 3.1 puts a "consolidated_metadata" block into the sub/.zgroup entry of .zmetadata
    path = tmp_path / "v2.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("a", shape=(10, 20), chunks=(5, 5), dtype="f4")
    root.create_group("sub").create_array("b", shape=(0, 5), chunks=(1, 5), dtype="i2")
    zarr.consolidate_metadata(path)
    zmetadata = json.loads((path / ".zmetadata").read_text())["metadata"]
    assert "consolidated_metadata" in zmetadata["sub/.zgroup"]  # what made the copy look stale
    hierarchy = Hierarchy.open(str(path), consolidated=policy)  # type: ignore[arg-type]
    report = validate_hierarchy(hierarchy, _registry())
    assert report.issues == []
    if policy == "auto":
        assert hierarchy.node("/sub").consolidated == "fresh"


def test_stale_message_names_only_the_documents_that_differ(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("a", shape=(4,), dtype="i4")
    root.create_array("b", shape=(4,), dtype="i4")
    zarr.consolidate_metadata(path)
    live = zarr.open_group(path, mode="r+", use_consolidated=False)
    live["a"].attrs["units"] = "m"
    live["b"].attrs["units"] = "s"
    live["b"].resize((8,))
    _, report, _ = _check(path)
    [one] = _at(report, "/a")
    assert "stale for this node: .zattrs differs from its consolidated copy," in one.message
    assert ".zarray" not in one.message and one.document == ".zattrs"
    [two] = _at(report, "/b")
    assert "stale for this node: .zarray, .zattrs differ from their consolidated copies," in two.message


@pytest.mark.parametrize("fmt", [2, 3])
def test_consolidated_entries_missing_from_the_store_are_reported(tmp_path: Path, fmt: int) -> None:
    path = tmp_path / "c.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=fmt)
    for name in ("a", "b", *(f"m{i}" for i in range(8))):
        root.create_array(name, shape=(3,), dtype="i4")
    root.create_group("g").create_array("x", shape=(3,), dtype="i4")
    zarr.consolidate_metadata(path)
    for name in ("b", "g", *(f"m{i}" for i in range(8))):
        shutil.rmtree(path / name)
    opened = zarr.open_group(path, mode="r")
    assert "b" in opened and opened["b"][:].tolist() == [0, 0, 0]  # zarr shows it, with fill values
    _, report, _ = _check(path)
    [issue] = _at(report, "/")
    assert (issue.severity, issue.convention) == (Severity.WARNING, "consolidated")
    # the group's own entry /g/x is counted, not named: /g says it
    assert "lists 11 nodes that the store does not hold: /b, /g, /m0, /m1, /m2 and 6 more;" in issue.message
    assert "fill values" in issue.message
    assert issue.document == ("zarr.json" if fmt == 3 else ".zmetadata")
    assert _at(report, "/a") == []

    zarr.consolidate_metadata(path)  # the remedy the message gives
    _, report, _ = _check(path)
    assert report.issues == []
    shutil.rmtree(path / "a")  # a single one, in the singular
    _, report, _ = _check(path)
    assert "lists a node that the store does not hold: /a; zarr and xarray opened consolidated (their default) " \
           "show it" in _at(report, "/")[0].message


@pytest.mark.parametrize(("parent_format", "child_format"), [(3, 2), (2, 3)])
def test_nodes_of_the_other_format_are_flagged(tmp_path: Path, parent_format: int, child_format: int) -> None:
    path = tmp_path / "mixed.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=parent_format)
    root.create_array("same", shape=(3,), dtype="i4")
    zarr.open_group(path / "grp", mode="w", zarr_format=child_format).create_array("x", shape=(2,), dtype="i4")
    zarr.open_array(path / "arr", mode="w", zarr_format=child_format, shape=(2,), dtype="i4")
    opened = zarr.open_group(path, mode="r")
    assert list(opened.keys()) == ["same"]  # zarr-python 3.1 neither lists them...
    with pytest.raises(KeyError):
        opened["grp"]  # ...nor opens them through their parent
    _, report, _ = _check(path)
    for name, kind in (("arr", "array"), ("grp", "group")):
        [issue] = _at(report, f"/{name}")
        assert issue.severity is Severity.WARNING
        assert issue.message.startswith(f"v{child_format} {kind} inside a v{parent_format} group: not listed by "
                                        "zarr-python 3")
    assert _at(report, "/grp/x") == [] and _at(report, "/same") == []


@pytest.mark.parametrize("parent_format", [2, 3])
def test_remote_children_cost_what_zarr_python_asks(http_server: StaticServer, parent_format: int) -> None:
    """Children of a v3 group cost one request each (zarr.json); of a v2 group, three (.zgroup,
    .zarray, .zattrs: zarr.json is asked only where neither .zgroup nor .zarray exists; audit H,
    F7: it was four, 15,002 404s for 5,000 arrays), and a child of the other format is still found."""
    path = http_server.root / "m.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=parent_format)
    for i in range(5):
        root.create_array(f"a{i}", shape=(2,), dtype="i4")
    root.create_group("g")
    other = 5 - parent_format
    zarr.open_array(path / "other", mode="w", zarr_format=other, shape=(2,), dtype="i4")
    hierarchy = Hierarchy.open(http_server.url_for("m.zarr"))
    http_server.reset_stats()
    listing = hierarchy.children("/")
    assert {n.path: n.kind for n in listing.nodes} == {
        **{f"/a{i}": "array" for i in range(5)}, "/g": "group", "/other": "array"}
    asked = http_server.stats.by_path
    docs = ("zarr.json",) if parent_format == 3 else (".zgroup", ".zarray", ".zattrs")
    for i in range(5):
        assert sorted(k for k in asked if k.startswith(f"m.zarr/a{i}/")) == sorted(f"m.zarr/a{i}/{d}" for d in docs)
    assert asked["m.zarr/other/" + ("zarr.json" if other == 3 else ".zarray")] == 1


def test_a_large_consolidated_index_is_built_with_the_collector_quiet(tmp_path: Path) -> None:
    """Building the index of 20,000 nodes ran two full collections of the cyclic collector (57-86 ms
    each, holding the GIL: the window stalled; audit I, F9).  None runs while it is built, the
    collector is on again after, and the root is told not a dataset from the index alone."""
    metadata: dict[str, object] = {".zgroup": {"zarr_format": 2}}
    for g in range(200):
        metadata[f"run_{g}/.zgroup"] = {"zarr_format": 2}
        for a in range(100):
            metadata[f"run_{g}/ch_{a}/.zarray"] = {
                "zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "<i4", "compressor": None,
                "fill_value": 0, "order": "C", "filters": None}
    path = tmp_path / "big.zarr"
    path.mkdir()
    _write(path / ".zgroup", {"zarr_format": 2})
    _write(path / ".zmetadata", {"zarr_consolidated_format": 1, "metadata": metadata})
    generations: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            generations.append(info["generation"])

    root_docs = {".zmetadata": parse_document(".zmetadata", (path / ".zmetadata").read_bytes())}
    gc.callbacks.append(record)
    try:
        index = ConsolidatedIndex.parse(root_docs)
    finally:
        gc.callbacks.remove(record)
    assert index is not None and len(index.documents) == 1 + 200 + 200 * 100
    assert generations == [] and gc.isenabled()
    hierarchy = Hierarchy.open(str(path))
    assert hierarchy.node("/").consolidated_dataset is False


def test_invalid_v2_dtype_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("good", shape=(3,), dtype="i4")
    for name, dtype in (("bad", "<q9"), ("field", [["a", "<i4"], ["b", "<i3"]])):
        root.create_array(name, shape=(3,), dtype="i4")
        meta = json.loads((path / name / ".zarray").read_text())
        (path / name / ".zarray").write_text(json.dumps(dict(meta, dtype=dtype)))
    with pytest.raises(ValueError, match="No Zarr data type"):
        zarr.open_array(path / "bad", mode="r")
    _, report, _ = _check(path)
    [bad] = _at(report, "/bad")
    assert (bad.severity, bad.pointer, bad.document) == (Severity.ERROR, "/dtype", ".zarray")
    assert bad.message.startswith("dtype '<q9' is not a valid v2 data type")
    [field] = [i for i in _at(report, "/field") if i.pointer == "/dtype"]  # (its fill value 0 is wrong too)
    assert field.severity is Severity.ERROR and "field 'b' has dtype '<i3'" in field.message
    assert _at(report, "/good") == []


def test_bare_nan_and_infinity_tokens_are_flagged_once_per_document(tmp_path: Path) -> None:
    path = tmp_path / "n.zarr"
    root = zarr.open_group(path, mode="w", zarr_format=3)
    root.attrs["low"] = float("-inf")
    array = root.create_array("a", shape=(2,), dtype="f4", fill_value=np.nan)
    array.attrs.update({"range": [0.0, float("inf")], "label": "NaN"})
    zarr.consolidate_metadata(path)  # the root's copy of /a holds Infinity too: not the root's own
    assert "-Infinity" in (path / "zarr.json").read_text()
    _, report, _ = _check(path)
    [top] = _at(report, "/")
    assert (top.document, top.pointer) == ("zarr.json", "/attributes/low")
    assert "bare JSON token -Infinity at /attributes/low:" in top.message
    [child] = _at(report, "/a")
    assert (child.document, child.pointer, child.severity) == ("zarr.json", "/attributes/range/1", Severity.WARNING)
    assert "many parsers" in child.message

    v2 = zarr.open_group(tmp_path / "n2.zarr", mode="w", zarr_format=2)
    v2.create_array("f", shape=(2,), dtype="f8", fill_value=np.nan).attrs["bad"] = float("nan")
    _, report, _ = _check(tmp_path / "n2.zarr")
    [issue] = report.issues  # .zarray's "fill_value": "NaN" is a string, as the v2 spec wants
    assert (issue.path, issue.document, issue.pointer) == ("/f", ".zattrs", "/bad")


def test_a_structured_array_as_zarr_python_writes_it_is_a_warning_not_an_error(tmp_path: Path) -> None:
    """zarr-python 3.1 writes a v3 structured array with a ``bytes`` codec without ``endian``; the
    structured extension reads that as little-endian (a legacy rule) and asks for a warning."""
    zarr.create_array(tmp_path / "s.zarr", shape=(4,), dtype=[("a", "<i4"), ("b", "<f8")], zarr_format=3)
    _hierarchy, report, _registry = _check(tmp_path / "s.zarr")
    assert not report.errors
    (issue,) = [i for i in report.issues if "endian" in i.message]
    assert issue.severity is Severity.WARNING and "little-endian" in issue.message
