"""Large documents are parsed member by member, with the result of json.loads."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
import zarr

from zarr_browser.core import jsonio
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.jsonio import parse_document


@pytest.fixture
def small_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonio, "YIELDING_OVER", 10)


DOCUMENTS = [
    '{"zarr_consolidated_format": 1, "metadata": {"a/.zarray": {"shape": [4], "fill_value": NaN}, "b/.zattrs": {}}}',
    '{"attributes": {}, "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": '
    '{"a": {"node_type": "array", "shape": [1e3]}, "g": {"node_type": "group", "consolidated_metadata": '
    '{"metadata": {"x": {}}}}}}, "zarr_format": 3, "node_type": "group"}',
    ' \n{ "metadata" : { } , "dup": 1, "dup": 2, "s": "a\\"}{b", "metadata": {"again": [1, {"x": -Infinity}]} } \n',
    '[1, 2, {"metadata": {}}]',
    '{}',
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_a_large_document_parses_as_json_loads_does(small_bound: None, text: str) -> None:
    document = parse_document("zarr.json", text.encode())
    assert document.ok and json.dumps(document.value) == json.dumps(json.loads(text))


@pytest.mark.parametrize(("text", "error"), [
    ('{"metadata": {"a": 1,}}', "invalid JSON: Expecting property name enclosed in double quotes (line 1, column 22)"),
    ('{"metadata": {"a" 1}}', "invalid JSON: Expecting ':' delimiter (line 1, column 19)"),
    ('{"metadata": {"a": 1} "b": 2}', "invalid JSON: Expecting ',' delimiter (line 1, column 23)"),
    ('{"a": 1} x', "invalid JSON: Extra data (line 1, column 10)"),
    ('{"metadata": {"a": [1, 2}}', "invalid JSON: Expecting ',' delimiter (line 1, column 25)"),
    ('{"metadata": {"a": 1}', "invalid JSON: Expecting ',' delimiter (line 1, column 22)"),
])
def test_a_broken_large_document_is_named_as_json_loads_names_it(small_bound: None, text: str, error: str) -> None:
    with pytest.raises(json.JSONDecodeError) as found:
        json.loads(text)
    document = parse_document("zarr.json", text.encode())
    assert document.error == error == f"invalid JSON: {found.value.msg} (line 1, column {found.value.colno})"


def test_the_collector_is_left_as_it_was(small_bound: None) -> None:
    """On, and nothing frozen, after a parse (off meanwhile; what was made is aged at once)."""
    assert gc.isenabled() and gc.get_freeze_count() == 0
    parse_document("zarr.json", DOCUMENTS[1].encode())
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        parse_document("zarr.json", DOCUMENTS[1].encode())
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_consolidated_store_opens_the_same_through_the_member_parse(small_bound: None, tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "c.zarr", mode="w", zarr_format=3, attributes={"title": "t"})
    for i in range(5):
        root.create_group(f"g{i}").create_array("x", shape=(3,), dtype="u1")
    zarr.consolidate_metadata(tmp_path / "c.zarr")
    hierarchy = Hierarchy.open(tmp_path / "c.zarr")
    assert hierarchy.consolidated is not None and len(hierarchy.consolidated.documents) == 10  # v3: no root entry
    assert hierarchy.root.attributes == {"title": "t"} and hierarchy.node("/g3/x").consolidated == "fresh"


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_consolidated_copies_write_their_text_only_when_asked(tmp_path: Path) -> None:
    """Serialising the copy of every node took 0.4 s of opening a 20,000-node ``.zmetadata``
    and kept 120 MB of text no one had asked for (audit I, F9): a copy's text is written when
    first read, as ``dumps`` of its value, and compares as before."""
    root = zarr.open_group(tmp_path / "c.zarr", mode="w", zarr_format=2, attributes={"title": "t"})
    root.create_array("x", shape=(3,), dtype="u1", attributes={"_ARRAY_DIMENSIONS": ["x"], "nan": float("nan")})
    zarr.consolidate_metadata(tmp_path / "c.zarr")
    hierarchy = Hierarchy.open(tmp_path / "c.zarr")
    assert hierarchy.consolidated is not None
    copy = hierarchy.consolidated.documents["/x"][".zattrs"]
    assert "text not written yet" in repr(copy)
    assert copy.text == jsonio.dumps(copy.value) and '"nan": NaN' in copy.text
    assert copy.size == len(copy.text) and "characters" in repr(copy)
    assert copy == jsonio.Document(copy.key, copy.text) and hierarchy.node("/x").consolidated == "fresh"
    with pytest.raises(AttributeError, match="immutable"):
        copy.text = "{}"  # type: ignore[misc]


# -- small documents keep their text alone ----------------------------------------------------


def test_a_small_document_keeps_its_text_and_parses_again_once_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonio, "PARSED_CACHE", 2)
    docs = [parse_document(f"a{i}/zarr.json", json.dumps({"shape": [i], "fill_value": "NaN", "x": float("nan")})
                           .encode()) for i in range(5)]
    first = docs[0].value  # the cache holds 2: the first was forgotten, and parsed again now
    assert first["shape"] == [0] and first["x"] != first["x"]  # NaN tokens parse as before
    assert docs[0].value is first  # ... and remembered
    assert [doc.value["shape"] for doc in docs] == [[0], [1], [2], [3], [4]]
    assert all(doc.ok and doc.error is None for doc in docs)


def test_a_large_document_keeps_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonio, "REPARSE_UNDER", 10)
    monkeypatch.setattr(jsonio, "PARSED_CACHE", 0)
    doc = parse_document("zarr.json", b'{"attributes": {"a": 1}}')
    assert doc.value is doc.value and doc.value == {"attributes": {"a": 1}}


def test_documents_are_immutable_values() -> None:
    doc = parse_document("a/.zattrs", b'{"a": 1}')
    same = parse_document("a/.zattrs", b'{"a": 1}')
    assert doc == same and doc != parse_document("b/.zattrs", b'{"a": 1}')
    assert parse_document("a/.zattrs", b"{") == parse_document("a/.zattrs", b"{")
    assert parse_document("a/.zattrs", b"{").value is None
    with pytest.raises(AttributeError, match="immutable"):
        doc.text = "{}"  # type: ignore[misc]
    with pytest.raises(TypeError):
        hash(doc)


def test_listing_many_arrays_keeps_no_parsed_document_beyond_the_cache(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    """A listed node holds its documents' text, not their parses: the parsed dicts and lists of
    array metadata were most of a row's memory and the objects the cyclic collector walks."""
    monkeypatch.setattr(jsonio, "PARSED_CACHE", 4)
    root = zarr.open_group(tmp_path / "m.zarr", mode="w", zarr_format=3)
    for i in range(40):
        root.create_array(f"a{i}", shape=(10, 10), chunks=(5, 5), dtype="f4", dimension_names=("y", "x"))
    del root
    gc.collect()
    before = {id(obj) for obj in gc.get_objects() if isinstance(obj, dict) and "chunk_grid" in obj}
    listing = Hierarchy.open(tmp_path / "m.zarr").children("/")
    assert len(listing.nodes) == 40
    gc.collect()
    alive = [obj for obj in gc.get_objects() if isinstance(obj, dict) and "chunk_grid" in obj and id(obj) not in before]
    assert len(alive) <= 4
    node = listing.nodes[-1]
    assert node.array is not None and node.array.shape == (10, 10) and node.metadata()["dimension_names"] == ["y", "x"]


# -- numbers written back as the document has them (audit E, 9) --------------------------------


def test_numbers_python_writes_otherwise_keep_their_tokens() -> None:
    import copy

    text = '{"a": 1E5, "b": [1.50, 0.1, 2, 1e-05], "c": 1e400, "s": "1E5", "n": NaN}'
    value = parse_document(".zattrs", text.encode(), keep_numbers=True).value
    assert value == json.loads(text) | {"n": value["n"]} and value["n"] != value["n"]
    kept = {k: v.token for k, v in [("a", value["a"]), ("b0", value["b"][0]), ("c", value["c"])]}
    assert kept == {"a": "1E5", "b0": "1.50", "c": "1e400"}
    assert type(value["b"][1]) is float and type(value["b"][3]) is float  # 0.1 and 1e-05 round-trip
    copied = copy.deepcopy(value)
    assert jsonio.render_numbers(lambda v: json.dumps(v, separators=(",", ":")), copied) == \
        '{"a":1E5,"b":[1.50,0.1,2,1e-05],"c":1e400,"s":"1E5","n":NaN}'
    assert json.dumps(value) == json.dumps(json.loads(text))  # elsewhere, the float it is


def test_an_integer_negative_zero_keeps_its_sign() -> None:
    """Python's ints have no -0: an untouched ``-0`` was written back as ``0`` (audit E, 9)."""
    text = '{"a": -0, "b": [-0, 0, -0.0, -01], "s": "x-0"}'.replace("-01", "-1")
    value = parse_document(".zattrs", text.encode(), keep_numbers=True).value
    assert value == json.loads(text) and type(value["b"][1]) is int and type(value["b"][2]) is float
    assert jsonio.render_numbers(json.dumps, value) == '{"a": -0, "b": [-0, 0, -0.0, -1], "s": "x-0"}'


def test_a_large_document_keeps_tokens_only_where_a_number_overflows(small_bound: None) -> None:
    """A second parse and walk of a 44 MB index takes seconds: only an overflow (Infinity) is worth it."""
    assert type(parse_document("z", b'{"a": 1.50}', keep_numbers=True).value["a"]) is float
    assert parse_document("z", b'{"a": 1.50, "b": 1e400}', keep_numbers=True).value["a"].token == "1.50"


def test_rendering_falls_back_when_a_string_looks_like_a_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonio, "_MARK", "zb-number-0000000000000000-")  # (drawn once per process)
    value = parse_document("z", b'{"a": 1.50, "s": "zb-number-0000000000000000-0"}', keep_numbers=True).value
    assert jsonio.render_numbers(json.dumps, value) == '{"a": 1.5, "s": "zb-number-0000000000000000-0"}'


def test_finite_number_takes_integers_too_large_for_a_float() -> None:
    """10**400 is a legal JSON number; math.isfinite raised OverflowError on it (audit L, 1)."""
    from zarr_browser.core.jsonio import finite_number

    assert finite_number(1) and finite_number(-2.5) and finite_number(10**300)
    assert not any(finite_number(v) for v in (10**400, -(10**400), float("nan"), float("inf"), True, "1", None))
