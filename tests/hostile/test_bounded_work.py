"""Work bounded by the size of hostile (or just very large) stores, not quadratic in it or deeper.

Three findings of a hostile-store audit: OME list uniqueness checked pairwise (validation of a
10,000-well plate took minutes), one attributes row per key built on the GUI thread (2,000,000
keys froze the window), and a recursive walk that died on 1100 nested groups.  The tests assert
what is built and found; the times are printed, never asserted.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from zarr_browser.cli import main
from zarr_browser.core.conventions import default_registry
from zarr_browser.core.conventions.ome import OmeNgffConvention
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.validate import validate_hierarchy


def _group(path: Path, attributes: dict[str, Any] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / ".zgroup").write_text('{"zarr_format": 2}')
    if attributes is not None:
        (path / ".zattrs").write_text(json.dumps(attributes))
    return path


def _plate(root: Path, n: int, *, duplicate: bool = False) -> Path:
    """A 0.4 plate of *n* rows, one column and *n* wells, without well groups (the audit's store)."""
    rows: list[dict[str, Any]] = [{"name": f"R{i}"} for i in range(n)]
    wells: list[dict[str, Any]] = [{"path": f"R{i}/C1", "rowIndex": i, "columnIndex": 0} for i in range(n)]
    if duplicate:
        rows.append({"name": "R0"})
        wells.append({"columnIndex": 0, "rowIndex": 1, "path": "R1/C1"})  # equal despite its key order
    return _group(root, {"plate": {"version": "0.4", "name": "p", "rows": rows, "columns": [{"name": "C1"}],
                                   "wells": wells}})


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


# -- F4: uniqueItems in linear time ------------------------------------------------------------


@pytest.mark.parametrize("items, unique", [
    ([1, 1.0], False),  # JSON Schema compares numbers by value
    ([True, 1], True),
    ([False, 0], True),
    ([None, None], False),
    (["1", 1], True),
    ([{"a": 1, "b": [2, 3]}, {"b": [2.0, 3], "a": 1}], False),
    ([{"a": True}, {"a": 1}], True),
    ([[1, 2], [2, 1]], True),
    ([[True], [1]], True),
    ([{}, []], True),
    ([["b", True], ["b", True]], False),
    ([{"a": [1]}, {"a": [1]}, {"a": 1}], False),
    ([], True),
])
def test_unique_items_agrees_with_jsonschema(items: list[Any], unique: bool) -> None:
    from jsonschema import Draft202012Validator

    ours = type(OmeNgffConvention().schema_validator("0.4", "plate"))
    assert ours.VALIDATORS["uniqueItems"] is not Draft202012Validator.VALIDATORS["uniqueItems"]
    schema = {"uniqueItems": True}
    assert Draft202012Validator(schema).is_valid(items) is unique
    assert ours(schema).is_valid(items) is unique
    errors = [e.message for e in ours(schema).iter_errors(items)]
    assert errors == [e.message for e in Draft202012Validator(schema).iter_errors(items)]


def test_referenced_schemas_keep_the_linear_unique_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """strict_plate refers to plate.schema, whose uniqueItems must not fall back to jsonschema's."""
    from jsonschema import Draft202012Validator

    def pairwise(*args: Any) -> Any:
        raise AssertionError("jsonschema's own uniqueItems ran")

    monkeypatch.setitem(Draft202012Validator.VALIDATORS, "uniqueItems", pairwise)
    validator = OmeNgffConvention().schema_validator("0.4", "strict_plate")
    plate = {"plate": {"version": "0.4", "name": "p", "rows": [{"name": "A"}, {"name": "A"}],
                       "columns": [{"name": "1"}], "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]}}
    assert [(list(e.absolute_path), e.validator) for e in validator.iter_errors(plate)] == [
        (["plate", "rows"], "uniqueItems")]


def test_small_plate_duplicates_are_reported_as_before(tmp_path: Path) -> None:
    report = validate_hierarchy(Hierarchy.open(str(_plate(tmp_path / "p.zarr", 3, duplicate=True))),
                                default_registry())
    duplicates = sorted((i.severity.value, i.pointer, i.message) for i in report.issues if "non-unique" in i.message)
    assert duplicates == [
        ("error", "/plate/rows",
         "[{'name': 'R0'}, {'name': 'R1'}, {'name': 'R2'}, {'name': 'R0'}] has non-unique elements (0.4/plate.schema)"),
        ("error", "/plate/wells",
         "[{'path': 'R0/C1', 'rowIndex': 0, 'columnIndex': 0}, {'path… has non-unique elements (0.4/plate.schema)"),
    ]


@pytest.mark.parametrize("duplicate", [False, True])
def test_ten_thousand_well_plate_validates(tmp_path: Path, duplicate: bool) -> None:
    store = _plate(tmp_path / "p.zarr", 10_000, duplicate=duplicate)
    start = time.monotonic()
    report = validate_hierarchy(Hierarchy.open(str(store)), default_registry())
    print(f"10,000-well plate (duplicate={duplicate}) validated in {time.monotonic() - start:.1f} s")
    duplicates = sorted(i.pointer for i in report.issues if "has non-unique elements" in i.message)
    assert duplicates == (["/plate/rows", "/plate/wells"] if duplicate else [])
    missing = [i for i in report.issues if "is listed but there is no group" in i.message]
    assert len(missing) == 10_000 + duplicate


def test_repeated_multiscales_entries_are_found_by_validate(tmp_path: Path) -> None:
    store = _group(tmp_path / "ms.zarr")
    (store / "0").mkdir()
    (store / "0" / ".zarray").write_text(json.dumps({
        "zarr_format": 2, "shape": [8, 8], "chunks": [8, 8], "dtype": "|u1", "compressor": None,
        "filters": None, "fill_value": 0, "order": "C"}))
    multiscale = {"version": "0.4", "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
                  "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0]}]}]}
    (store / ".zattrs").write_text(json.dumps({"multiscales": [multiscale] * 5_000}))
    start = time.monotonic()
    code, text = _run("validate", str(store))
    print(f"5,000 multiscales entries validated in {time.monotonic() - start:.1f} s")
    assert code == 1
    assert "has non-unique elements" in text


# -- F5: the attributes panel builds a bounded number of rows ------------------------------------


def _rows(tree: Any) -> int:
    from qtpy.QtWidgets import QTreeWidgetItemIterator

    count = 0
    iterator = QTreeWidgetItemIterator(tree)
    while iterator.value() is not None:
        count += 1
        iterator += 1
    return count


@pytest.fixture
def inspector(qtbot: Any) -> Any:
    from zarr_browser.qt.inspector import Inspector
    from zarr_browser.qt.workers import ImmediateRunner

    widget = Inspector(runner=ImmediateRunner(), registry=default_registry())
    qtbot.addWidget(widget)
    widget.resize(800, 800)
    return widget


def test_attributes_of_a_group_with_200k_keys_are_capped(inspector: Any, tmp_path: Path) -> None:
    from zarr_browser.qt.inspector.attributes import MAX_CHILDREN
    from zarr_browser.qt.inspector.raw_json import PREVIEW_CHARS

    n = 200_000
    store = _group(tmp_path / "keys.zarr")
    _group(store / "g", {f"k{i}": i for i in range(n)})
    hierarchy = Hierarchy.open(str(store))
    start = time.monotonic()
    inspector.setNode(hierarchy, hierarchy.node("/g"))
    print(f"{n:,} attribute keys shown in {time.monotonic() - start:.2f} s")
    panel = inspector.attributes
    tree = panel.tree
    assert tree.topLevelItemCount() == MAX_CHILDREN + 1 == _rows(tree)
    assert [tree.topLevelItem(i).text(0) for i in range(3)] == ["k0", "k1", "k2"]
    more = tree.topLevelItem(MAX_CHILDREN)
    assert (more.text(0), more.text(1)) == ("…", "199,500 more keys (see Raw JSON)")
    assert panel._count.text() == "200,000 keys"
    assert inspector.tabTitle("attributes") == f"Attributes ({n})"
    panel.filter.setText("k49")
    assert panel.visibleTopLevelKeys() == ["k49", *(f"k49{i}" for i in range(10))]
    panel.filter.clear()

    inspector.showTab("raw")
    inspector.raw.chooser.setCurrentText(".zattrs")
    assert len(inspector.raw.currentText()) == PREVIEW_CHARS  # the raw view was already capped
    assert inspector.raw.show_all.isVisibleTo(inspector.raw)


def test_nested_objects_and_lists_are_capped(inspector: Any, tmp_path: Path) -> None:
    from zarr_browser.qt.inspector.attributes import MAX_CHILDREN, MAX_ROWS

    attributes = {"big": {f"k{i}": {"deeper": {f"j{j}": j for j in range(1_000)}} for i in range(1_000)},
                  "list": list(range(10_000)), "small": {"a": 1}}
    store = _group(tmp_path / "nested.zarr", attributes)
    hierarchy = Hierarchy.open(str(store))
    inspector.setNode(hierarchy, hierarchy.node("/"))
    tree = inspector.attributes.tree
    assert tree.topLevelItemCount() == 3
    big, values, small = (tree.topLevelItem(i) for i in range(3))
    deeper = big.child(0).child(0)  # depth first: the first objects are whole, up to MAX_CHILDREN each
    assert deeper.text(0) == "deeper" and deeper.childCount() == MAX_CHILDREN + 1
    assert deeper.child(MAX_CHILDREN).text(1) == "500 more keys (see Raw JSON)"
    shown = big.childCount() - 1  # then the document's MAX_ROWS are spent: the rest are counted
    assert 0 < shown < MAX_CHILDREN and big.child(shown).text(1) == f"{1_000 - shown} more keys (see Raw JSON)"
    assert values.childCount() == 1 and values.child(0).text(1) == "10,000 more items (see Raw JSON)"
    assert small.childCount() == 1 and small.child(0).text(1) == "1 more keys (see Raw JSON)"
    # every top-level key keeps its row; below them rows stop at MAX_ROWS for the whole document
    # (500 objects of 500 keys built 250,000 rows)
    assert MAX_ROWS <= _rows(tree) <= MAX_ROWS + MAX_CHILDREN + 10


# -- F9: the walk is iterative -------------------------------------------------------------------


def _deep_store(root: Path, depth: int) -> Path:
    """*depth* nested groups ``a/a/…/a`` known only from the root's consolidated index.

    No folders on disk: the walk itself is what is tested, without one directory read (and
    one symlink check of a 2 KB path) per level, and without a tree that shutil.rmtree, hence
    pytest's cleanup of old temporary folders, recurses into once per level.
    """
    metadata: dict[str, Any] = {".zgroup": {"zarr_format": 2}}
    path = ""
    for _ in range(depth):
        path = f"{path}/a" if path else "a"
        metadata[f"{path}/.zgroup"] = {"zarr_format": 2}
    _group(root)
    (root / ".zmetadata").write_text(json.dumps({"zarr_consolidated_format": 1, "metadata": metadata}))
    return root


def test_walk_of_1100_nested_groups(tmp_path: Path) -> None:
    store = _deep_store(tmp_path / "deep.zarr", 1100)
    nodes = Hierarchy.open(str(store), consolidated="always").walk()
    assert [n.path for n, _ in nodes] == ["/", *("/a" * i for i in range(1, 1101))]
    assert all(listing is not None for _, listing in nodes)
    assert [len(listing.nodes) for _, listing in nodes if listing is not None] == [1] * 1100 + [0]


def test_info_on_1100_nested_groups_over_http(http_server: Any) -> None:
    """``info --json`` lists every level, in order (the walk recursed once per level and died).

    Remote stores are listed from their consolidated index, where no PATH_MAX bounds the depth.
    """
    _deep_store(http_server.root / "deep.zarr", 1100)
    start = time.monotonic()
    code, text = _run("info", "--json", http_server.url_for("deep.zarr"))
    print(f"info --json on 1101 nested groups over HTTP: {time.monotonic() - start:.1f} s")
    assert code == 0, text
    paths = [node["path"] for node in json.loads(text)["nodes"]]
    assert paths == ["/", *("/a" * i for i in range(1, 1101))]
    code, text = _run("info", http_server.url_for("deep.zarr"))  # the text tree printed recursively too
    assert code == 0, text[-500:]
    lines = text.splitlines()
    assert lines[-1].startswith("note: the nodes come from the consolidated metadata")
    assert len(lines) == 1102 and lines[-2] == " " * 4 * 1099 + "└── a  group v2"


def test_walk_order_is_preorder_with_natural_sort(tmp_path: Path) -> None:
    store = _group(tmp_path / "tree.zarr")
    for name in ("b", "a10", "a2", "a1"):
        _group(store / name)
    for name in ("z", "y10", "y9"):
        _group(store / "a2" / name)
    _group(store / "a2" / "y9" / "leaf")
    _group(store / "b" / "c")
    paths = [n.path for n, _ in Hierarchy.open(str(store)).walk()]
    assert paths == ["/", "/a1", "/a2", "/a2/y9", "/a2/y9/leaf", "/a2/y10", "/a2/z", "/a10", "/b", "/b/c"]
    limited = Hierarchy.open(str(store)).walk(depth=1)
    assert [n.path for n, _ in limited] == ["/", "/a1", "/a2", "/a10", "/b"]
    assert [listing is not None for _, listing in limited] == [True, False, False, False, False]
