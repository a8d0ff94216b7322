"""Edit commands, JSON Patch, edit sessions and convention edits (plus hypothesis properties)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest
import zarr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zarr_browser.core.editing import (
    ABSENT,
    Batch,
    Delete,
    EditError,
    EditSession,
    Insert,
    PointerError,
    ReadOnlyFieldError,
    Rename,
    SetValue,
    ValidationRefusedError,
    format_pointer,
    parse_pointer,
    patch_to_commands,
)
from zarr_browser.core.editing import (
    Test as PatchTest,
)
from zarr_browser.core.editing.commands import same
from zarr_browser.core.editing.conventions import (
    ome_rename_axis,
    ome_set_pixel_size,
    xarray_dims_from_ome_axes,
    xarray_set_dimension_names,
)
from zarr_browser.core.jsonio import dumps


def _dump(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


# -- pointers ---------------------------------------------------------------------------------


def test_pointer_parse_and_format() -> None:
    assert parse_pointer("") == []
    assert parse_pointer("/a~1b/m~0n/0") == ["a/b", "m~n", "0"]
    assert format_pointer(["a/b", "m~n", 0]) == "/a~1b/m~0n/0"
    for bad in ("a", "/a~2"):
        with pytest.raises(PointerError):
            parse_pointer(bad)


# -- commands ---------------------------------------------------------------------------------


def test_set_insert_delete_rename_and_their_inverses() -> None:
    doc = {"a": 1, "b": [1, 2, 3], "c": {"d": None}, "z": float("nan")}
    commands = [
        SetValue("/a", 2), SetValue("/new", {"x": 1}), SetValue("/b/-", 4), SetValue("/b/0", 9),
        Insert("/b/1", "i"), Delete("/a"), Delete("/b/2"), Rename("/c", "renamed"), SetValue("", [1]),
        Batch([SetValue("/c/d", 1), Rename("/c/d", "e"), Delete("/b")]),
    ]
    for command in commands:
        after = command.apply(doc)
        assert _dump(doc) == _dump({"a": 1, "b": [1, 2, 3], "c": {"d": None}, "z": float("nan")})  # not mutated
        restored = command.inverse(doc).apply(after)
        assert _dump(restored) == _dump(doc), command


def test_rename_keeps_key_order_and_refuses_clashes() -> None:
    doc = {"a": 1, "b": 2, "c": 3}
    assert list(Rename("/b", "x").apply(doc)) == ["a", "x", "c"]
    with pytest.raises(EditError):
        Rename("/a", "c").apply(doc)
    with pytest.raises(PointerError):
        Rename("/nope", "q").apply(doc)


def test_delete_inverse_restores_position() -> None:
    doc = {"a": 1, "b": 2, "c": 3}
    after = Delete("/b").apply(doc)
    assert list(Delete("/b").inverse(doc).apply(after)) == ["a", "b", "c"]


def test_errors_for_bad_targets() -> None:
    with pytest.raises(PointerError):
        SetValue("/a/b", 1).apply({"a": 1})
    with pytest.raises(PointerError):
        SetValue("/l/5", 1).apply({"l": [1]})
    with pytest.raises(PointerError):
        Delete("/missing").apply({})
    with pytest.raises(PointerError):
        SetValue("/l/01", 1).apply({"l": [1, 2]})


def test_absent_document_starts_empty() -> None:
    assert SetValue("/a", 1).apply(ABSENT) == {"a": 1}
    assert Delete("/a").inverse({"a": 1}).apply({}) == {"a": 1}


# -- RFC 6902 JSON Patch (examples of Appendix A) ----------------------------------------------


@pytest.mark.parametrize(
    ("doc", "patch", "expected"),
    [
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
        ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
        ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
        ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
         [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
         {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
        ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
         {"foo": ["all", "cows", "eat", "grass"]}),
        ({"baz": "qux", "foo": ["a", 2, "c"]},
         [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
         {"baz": "qux", "foo": ["a", 2, "c"]}),
        ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
         {"foo": "bar", "child": {"grandchild": {}}}),
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
        ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
         {"foo": ["bar", ["abc", "def"]]}),
        ({"a": 1}, [{"op": "copy", "from": "/a", "path": "/b"}], {"a": 1, "b": 1}),
    ],
)
def test_json_patch_examples(doc: Any, patch: Any, expected: Any) -> None:
    batch = patch_to_commands(patch, doc)
    assert batch.apply(doc) == expected
    assert _dump(batch.inverse(doc).apply(batch.apply(doc))) == _dump(doc)


@pytest.mark.parametrize(
    ("doc", "patch"),
    [
        ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}]),
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}]),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}]),
        ({"a": 1}, [{"op": "replace", "path": "/b", "value": 1}]),
        ({"a": 1}, [{"op": "nope", "path": "/a"}]),
        ({"a": 1}, {"op": "add"}),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}]),
    ],
)
def test_json_patch_errors(doc: Any, patch: Any) -> None:
    with pytest.raises(EditError):
        patch_to_commands(patch, doc).apply(doc)


def test_test_command_equality_is_rfc6902() -> None:
    PatchTest("/a", {"x": 1, "y": [1.0]}).apply({"a": {"y": [1], "x": 1}})
    with pytest.raises(EditError):
        PatchTest("/a", True).apply({"a": 1})


# -- sessions ---------------------------------------------------------------------------------


def _consolidate(path: Any) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(path)


def _store(path: Path, zarr_format: int = 3, *, consolidated: bool = False) -> Path:
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format, attributes={"title": "t"})
    a = root.create_array("a", shape=(4, 6), chunks=(2, 3), dtype="f8", fill_value=float("nan"),
                          attributes={"units": "m"})
    a[:] = 1.0
    root.create_array("b", shape=(4,), chunks=(4,), dtype="i2")
    root.create_group("g")
    if consolidated:
        _consolidate(path)
    return path


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_session_set_delete_rename_undo_redo(tmp_path: Path, zarr_format: int) -> None:
    store = _store(tmp_path / "s.zarr", zarr_format)
    session = EditSession.open(str(store))
    assert not session.dirty and not session.can_undo
    session.set("/a", "/long_name", "air")
    session.rename("/a", "/units", "unit")
    session.delete("/", "/title")
    assert session.attributes("/a") == {"unit": "m", "long_name": "air"}
    assert session.dirty and len(session.history()) == 3
    assert set(session.diff()) == ({"a/zarr.json", "zarr.json"} if zarr_format == 3 else {"a/.zattrs", ".zattrs"})
    assert session.undo() and session.undo() and session.undo() and not session.undo()
    assert not session.dirty
    assert session.redo()
    assert session.attributes("/a")["long_name"] == "air"
    session.save()
    assert json.loads(_attrs_text(store, "a", zarr_format))["long_name"] == "air"


def _attrs_text(store: Path, node: str, zarr_format: int) -> str:
    if zarr_format == 2:
        return (store / node / ".zattrs").read_text()
    return json.dumps(json.loads((store / node / "zarr.json").read_text())["attributes"])


def test_v2_zattrs_is_created_when_absent(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    (store / "g" / ".zattrs").unlink(missing_ok=True)
    session = EditSession.open(str(store))
    session.set("/g", "/x", 1)
    session.delete("/g", "/x")
    assert not session.dirty  # created and emptied again: nothing to write
    session.set("/g", "/x", 1)
    assert session.save().written == ["g/.zattrs"]
    assert json.loads((store / "g" / ".zattrs").read_text()) == {"x": 1}


def test_read_only_fields_are_refused(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    session = EditSession.open(str(store))
    for spec in ("zarr.json#/shape", "zarr.json#/codecs/0", "zarr.json#/fill_value", "zarr.json#/zarr_format"):
        with pytest.raises(ReadOnlyFieldError):
            session.set("/a", spec, 1)
    with pytest.raises(ReadOnlyFieldError):
        session.set("/g", "zarr.json#/dimension_names", ["x"])  # groups have none
    with pytest.raises(ReadOnlyFieldError):  # a raw command cannot sneak past either
        session.apply(SetValue("/shape", [1, 1], key="a/zarr.json"))
    with pytest.raises(EditError):
        session.set("/a", "", [1, 2])  # attributes must stay an object
    assert not session.dirty
    v2 = EditSession.open(str(_store(tmp_path / "v2.zarr", 2)))
    for spec in (".zarray#/shape", ".zgroup#/zarr_format", "zarr.json#/attributes"):
        with pytest.raises(ReadOnlyFieldError):
            v2.set("/a", spec, 1)
    with pytest.raises(ReadOnlyFieldError):
        v2.apply(SetValue("/chunks", [1, 1], key="a/.zarray"))


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_version_strings_are_read_only(tmp_path: Path, version: str) -> None:
    """Changing 0.4 to "0.3" saved without a word: versions change by migrating data, not by an edit."""
    from edit_stores import ome_image  # tests/edit_stores.py

    store = ome_image(tmp_path / "i.zarr", version)
    session = EditSession.open(str(store))
    where = "/ome/version" if version == "0.5" else "/multiscales/0/version"
    with pytest.raises(ReadOnlyFieldError, match="version"):
        session.set("/", where, "0.3")
    with pytest.raises(ReadOnlyFieldError, match="version"):
        session.delete("/", where)
    assert not session.dirty
    top = "/ome" if version == "0.5" else "/multiscales"
    session.set("/", f"{top}/multiscales/0/name" if version == "0.5" else f"{top}/0/name", "renamed")
    assert session.dirty  # the other fields of the block stay editable
    session.delete("/", top)  # dropping the whole block (and its version) is an edit, not a migration
    if version == "0.5":  # a block without its version (ome-zarr's labels groups): adding one is allowed
        group = zarr.open_group(store, mode="r+")
        ome = group.attrs["ome"]
        del ome["version"]
        group.attrs["ome"] = ome
        fixed = EditSession.open(str(store))
        fixed.set("/", "/ome/version", "0.5")
        assert fixed.dirty


def test_v3_dimension_names_are_editable_and_validated(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    session = EditSession.open(str(store))
    session.set("/a", "zarr.json#/dimension_names", ["y"])  # wrong length
    errors = [i for i in session.validate() if i.severity.value == "error"]
    assert errors, session.validate()
    with pytest.raises(ValidationRefusedError):
        session.save()
    assert "dimension_names" not in json.loads((store / "a" / "zarr.json").read_text())
    session.save(force=True)
    assert json.loads((store / "a" / "zarr.json").read_text())["dimension_names"] == ["y"]
    new, old = session.new_errors()
    assert new == [] and old == []


def test_unknown_keys_and_nan_are_preserved(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    meta_path = store / "a" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["x-unknown"] = {"must_understand": False, "keep": [1, 2]}
    meta["attributes"]["inf"] = float("inf")
    meta_path.write_text(dumps(meta))
    session = EditSession.open(str(store))
    session.set("/a", "/new", -math.inf)
    session.save()
    text = meta_path.read_text()
    assert '"x-unknown"' in text and "Infinity" in text and "-Infinity" in text
    assert json.loads(text)["fill_value"] == "NaN"
    assert json.loads(text)["x-unknown"] == {"must_understand": False, "keep": [1, 2]}


def test_compact_documents_stay_compact(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    (store / "a" / ".zattrs").write_text('{"units":"m"}\n')
    session = EditSession.open(str(store))
    session.set("/a", "/x", 1)
    session.save()
    assert (store / "a" / ".zattrs").read_text() == '{"units":"m","x":1}\n'  # its own separators too


def test_unparsable_document_cannot_be_edited(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    (store / "a" / ".zattrs").write_text("{broken")
    session = EditSession.open(str(store))
    with pytest.raises(EditError):
        session.set("/a", "/x", 1)


def test_changed_signal_fires(tmp_path: Path) -> None:
    session = EditSession.open(str(_store(tmp_path / "s.zarr", 3)))
    seen: list[int] = []
    session.changed.connect(lambda: seen.append(1))
    session.set("/a", "/x", 1)
    session.undo()
    session.redo()
    assert len(seen) == 3


# -- convention edits -------------------------------------------------------------------------


def _ome_store(path: Path, version: str, levels: int = 3) -> Path:
    zarr_format = 3 if version == "0.5" else 2
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    datasets = []
    for k in range(levels):
        f = 2 ** k
        datasets.append({"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, 0.13 * f, 0.13 * f]},
            {"type": "translation", "translation": [0.0, 0.065 * (f - 1), 0.065 * (f - 1)]}]})
        kwargs = {"dimension_names": ("c", "y", "x")} if zarr_format == 3 else {}
        group.create_array(str(k), shape=(2, 64 // f, 64 // f), chunks=(1, 64 // f, 64 // f), dtype="u1", **kwargs)
    ms: dict[str, Any] = {"name": "img", "datasets": datasets, "axes": [
        {"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"}]}
    if version == "0.5":
        group.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}
    else:
        ms["version"] = version
        group.attrs["multiscales"] = [ms]
    return path


def _ms(session: EditSession) -> dict[str, Any]:
    attrs = session.attributes("/")
    return attrs.get("ome", attrs)["multiscales"][0]


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_set_pixel_size_scales_every_level(tmp_path: Path, version: str) -> None:
    session = EditSession.open(str(_ome_store(tmp_path / "i.zarr", version)))
    session.apply(ome_set_pixel_size(session, "/", {"y": 0.5, "x": 0.25}, "nanometer"))
    ms = _ms(session)
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales == [[1.0, 0.5, 0.25], [1.0, 1.0, 0.5], [1.0, 2.0, 1.0]]
    translations = [d["coordinateTransformations"][1]["translation"] for d in ms["datasets"]]
    assert translations == [[0.0, 0.0, 0.0], [0.0, 0.25, 0.125], [0.0, 0.75, 0.375]]
    assert [a.get("unit") for a in ms["axes"]] == [None, "nanometer", "nanometer"]
    assert len(session.history()) == 1
    session.undo()
    assert not session.dirty
    with pytest.raises(EditError):
        ome_set_pixel_size(session, "/", {"y": -1})
    with pytest.raises(EditError):
        ome_set_pixel_size(session, "/", {"q": 1})


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_pixel_size_and_translation_are_physical_under_a_multiscale_transform(tmp_path: Path, version: str) -> None:
    """The multiscale's own coordinateTransformations apply after every level's (the spec's
    multiscales_transformations example: level-0 scale 1, multiscale scale 10, a 10-unit
    pixel).  Setting a 0.5 pixel size saved level 0's scale as 0.5: a 5-unit pixel (audit F, 2)."""
    from zarr_browser.core.editing.conventions import level0_in_world, ome_set_translation

    store = _ome_store(tmp_path / "i.zarr", version)
    session = EditSession.open(str(store))
    attrs = session.attributes("/")
    ms = attrs.get("ome", attrs)["multiscales"][0]
    ms["coordinateTransformations"] = [{"type": "scale", "scale": [1.0, 10.0, 10.0]},
                                       {"type": "translation", "translation": [0.0, 100.0, 0.0]}]
    session.set("/", "/ome/multiscales/0" if version == "0.5" else "/multiscales/0", ms)
    assert level0_in_world(_ms(session), "scale") == [1.0, 1.3, 1.3]  # 0.13 under ×10
    assert level0_in_world(_ms(session), "translation") == [0.0, 100.0, 0.0]
    session.apply(ome_set_pixel_size(session, "/", {"y": 0.5, "x": 0.5}))
    assert level0_in_world(_ms(session), "scale") == [1.0, 0.5, 0.5]  # what was asked, physically
    assert _ms(session)["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 0.05, 0.05]
    assert _ms(session)["datasets"][1]["coordinateTransformations"][0]["scale"] == [1.0, 0.1, 0.1]  # factor 2 kept
    session.apply(ome_set_translation(session, "/", {"y": 150.0, "x": 20.0}))
    assert level0_in_world(_ms(session), "translation") == [0.0, 150.0, 20.0]
    assert _ms(session)["datasets"][0]["coordinateTransformations"][1]["translation"] == [0.0, 5.0, 2.0]
    # level 1 keeps its half-pixel offset from level 0 (0.065 in level units after the new 0.05 size)
    level1 = _ms(session)["datasets"][1]["coordinateTransformations"][1]["translation"]
    assert level1 == pytest.approx([0.0, 5.025, 2.025])
    assert _ms(session)["coordinateTransformations"][0]["scale"] == [1.0, 10.0, 10.0]  # left as it was


def test_ome_rename_axis_rewrites_dimension_names_in_05(tmp_path: Path) -> None:
    store = _ome_store(tmp_path / "i.zarr", "0.5")
    session = EditSession.open(str(store))
    session.apply(ome_rename_axis(session, "/", "x", "xx"))
    assert [a["name"] for a in _ms(session)["axes"]] == ["c", "y", "xx"]
    assert sorted(session.changed_keys()) == ["0/zarr.json", "1/zarr.json", "2/zarr.json", "zarr.json"]
    session.save()
    for k in range(3):
        assert json.loads((store / str(k) / "zarr.json").read_text())["dimension_names"] == ["c", "y", "xx"]
    with pytest.raises(EditError):
        ome_rename_axis(session, "/", "y", "c")  # duplicate
    with pytest.raises(EditError):
        ome_rename_axis(session, "/", "y", "")


def test_ome_06_is_read_only(tmp_path: Path) -> None:
    store = _ome_store(tmp_path / "i.zarr", "0.5")
    attrs = json.loads((store / "zarr.json").read_text())
    attrs["attributes"]["ome"]["version"] = "0.6.dev2"
    (store / "zarr.json").write_text(json.dumps(attrs))
    session = EditSession.open(str(store))
    with pytest.raises(ReadOnlyFieldError):
        ome_rename_axis(session, "/", "x", "xx")
    # the attribute editor and `edit` too: 0.6 metadata the 0.6rc0 schemas reject was saved (audit F, 3)
    with pytest.raises(ReadOnlyFieldError, match=r"OME-NGFF 0\.6\.dev2 metadata is read-only until 0\.6 is final"):
        session.set("/", "/ome/multiscales/0/axes/1/name", 5)
    with pytest.raises(ReadOnlyFieldError, match=r"read-only until 0\.6 is final"):
        session.delete("/", "/ome")
    assert not session.dirty
    session.set("/", "/note", "other attributes stay editable")
    assert session.dirty


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_xarray_dimension_names_are_checked(tmp_path: Path, zarr_format: int) -> None:
    store = _store(tmp_path / "s.zarr", zarr_format)
    session = EditSession.open(str(store))
    with pytest.raises(EditError):
        xarray_set_dimension_names(session, "/a", ["y"])
    with pytest.raises(EditError):
        xarray_set_dimension_names(session, "/a", ["y", "y"])
    session.apply(xarray_set_dimension_names(session, "/a", ["y", "x"]))
    with pytest.raises(EditError):  # y has size 4 in /a, /b has size 4 too: fine; x (6) vs 4 is not
        xarray_set_dimension_names(session, "/b", ["x"])
    session.apply(xarray_set_dimension_names(session, "/b", ["y"]))
    node = session.node("/a")
    if zarr_format == 3:
        assert node.array is not None and node.array.dimension_names == ("y", "x")
    else:
        assert node.attributes["_ARRAY_DIMENSIONS"] == ["y", "x"]
    with pytest.raises(EditError):
        xarray_set_dimension_names(session, "/g", ["x"])


def test_xarray_dims_from_ome_axes(tmp_path: Path) -> None:
    store = _ome_store(tmp_path / "i.zarr", "0.4")
    session = EditSession.open(str(store))
    session.apply(xarray_dims_from_ome_axes(session, "/"))
    assert sorted(session.changed_keys()) == ["0/.zattrs", "1/.zattrs", "2/.zattrs"]
    assert session.node("/1").attributes["_ARRAY_DIMENSIONS"] == ["c", "y", "x"]


# -- properties (hypothesis) ------------------------------------------------------------------

_keys = st.text(alphabet="abcxyz_/~", min_size=1, max_size=4)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
)
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(_keys, inner, max_size=4)), max_leaves=12)
_docs = st.dictionaries(_keys, _json, max_size=6)


@st.composite
def _doc_and_edit(draw: st.DrawFn) -> tuple[dict[str, Any], Any, str]:
    doc = draw(_docs)
    kind = draw(st.sampled_from(["set", "delete", "rename"]))
    keys = list(doc)
    if kind == "set" or not keys:
        key = draw(_keys)
        return doc, SetValue(format_pointer([key]), draw(_json)), key
    key = draw(st.sampled_from(keys))
    if kind == "delete":
        return doc, Delete(format_pointer([key])), key
    new = draw(_keys.filter(lambda k: k not in doc))
    return doc, Rename(format_pointer([key]), new), key


@given(_doc_and_edit())
@settings(max_examples=300, deadline=None)
def test_property_only_the_edited_key_changes_and_inverse_restores(case: tuple[dict[str, Any], Any, str]) -> None:
    doc, command, key = case
    before = dumps(doc)
    after = command.apply(doc)
    assert dumps(doc) == before  # inputs are never mutated
    touched = {key} | ({command.new_key} if isinstance(command, Rename) else set())
    for other in set(doc) | set(after):
        if other not in touched:
            assert same(doc.get(other, ABSENT), after.get(other, ABSENT))
    json.loads(dumps(after))  # what would be written parses (NaN/Infinity tokens included)
    assert dumps(command.inverse(doc).apply(after)) == before


_names = st.sampled_from(["a", "b", "c"])


@st.composite
def _hierarchy_and_edits(draw: st.DrawFn) -> tuple[int, dict[str, dict[str, Any]], list[tuple[str, str, Any]]]:
    zarr_format = draw(st.sampled_from([2, 3]))
    nodes = {"/": draw(st.dictionaries(_keys, _json, max_size=3))}
    for name in draw(st.lists(_names, unique=True, max_size=3)):
        nodes[f"/{name}"] = draw(st.dictionaries(_keys, _json, max_size=3))
    edits = []
    for _ in range(draw(st.integers(1, 5))):
        path = draw(st.sampled_from(sorted(nodes)))
        op = draw(st.sampled_from(["set", "delete", "rename"]))
        edits.append((path, op, draw(_keys)))
    return zarr_format, nodes, edits


@given(_hierarchy_and_edits(), st.randoms(use_true_random=False), st.booleans())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_property_random_hierarchies_and_edits(tmp_path_factory: pytest.TempPathFactory, case: Any, rng: Any,
                                                consolidated: bool) -> None:
    zarr_format, nodes, edits = case
    store = tmp_path_factory.mktemp("prop") / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=zarr_format)
    root.attrs.update(nodes["/"])
    for path, attrs in nodes.items():
        if path != "/":
            array = root.create_array(path.strip("/"), shape=(2,), chunks=(2,), dtype="i1")
            array.attrs.update(attrs)
    if consolidated:
        _consolidate(store)
    files = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    session = EditSession.open(str(store))
    expected = {path: session.attributes(path) for path in nodes}
    for path, op, key in edits:
        attrs = expected[path]
        pointer = format_pointer([key])
        try:
            if op == "set":
                value = rng.choice([1, "v", None, [1.5, float("nan")], {"k": True}])
                session.set(path, pointer, value)
                attrs[key] = value
            elif op == "delete":
                session.delete(path, pointer)
                del attrs[key]
            else:
                new = key + "_r"
                session.rename(path, pointer, new)
                attrs = {new if k == key else k: v for k, v in attrs.items()}
                expected[path] = attrs
        except EditError:
            assert key not in attrs or (op == "rename" and key + "_r" in attrs)
    for path in nodes:
        assert _dump(session.attributes(path)) == _dump(expected[path])
    steps = len(session.history())
    while session.undo():
        pass
    assert not session.dirty and session.plan() == []  # undo restores byte-identical documents
    for key in session.changed_keys():
        raise AssertionError(key)
    for _ in range(steps):
        session.redo()
    written = set(session.save(force=True).written)
    fresh = EditSession.open(str(store))
    for path in nodes:
        assert _dump(fresh.attributes(path)) == _dump(expected[path])
    for path, data in files.items():
        rel = path.relative_to(store).as_posix()
        if rel not in written:
            assert path.read_bytes() == data, rel  # untouched documents are byte-identical
        else:
            json.loads(path.read_text())  # what was written parses
