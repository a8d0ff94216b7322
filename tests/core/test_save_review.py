"""What a save writes, grouped by change (the save dialog's summary), and saves stopped half-way."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import zarr

from zarr_browser.core.editing import ConflictError, EditSession
from zarr_browser.core.editing.commands import ABSENT
from zarr_browser.core.editing.conventions import xarray_rename_dimension
from zarr_browser.core.editing.review import describe, json_changes

DIMS = (("time", "lat", "lon"), ("lat", "lon"), ("time", "lat", "lon"), ("lon", "lat"), ("time", "lat", "lon"))


def _dataset(path: Path, zarr_format: int, *, consolidated: bool = True) -> Path:
    """Five arrays on time/lat/lon (``lon`` at different places), written by zarr-python."""
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format, attributes={"title": "t"})
    sizes = {"time": 2, "lat": 3, "lon": 4}
    for i, dims in enumerate(DIMS):
        shape = tuple(sizes[d] for d in dims)
        if zarr_format == 2:
            root.create_array(f"v{i}", shape=shape, dtype="f4", attributes={"units": "K", "_ARRAY_DIMENSIONS": dims})
        else:
            root.create_array(f"v{i}", shape=shape, dtype="f4", attributes={"units": "K"}, dimension_names=dims)
    if consolidated:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
            zarr.consolidate_metadata(path)
    return path


def _dims_on_disk(store: Path, name: str, zarr_format: int) -> list[str]:
    if zarr_format == 2:
        return json.loads((store / name / ".zattrs").read_text())["_ARRAY_DIMENSIONS"]
    return json.loads((store / name / "zarr.json").read_text())["dimension_names"]


def _consolidated_dims(store: Path, name: str, zarr_format: int) -> list[str]:
    if zarr_format == 2:
        return json.loads((store / ".zmetadata").read_text())["metadata"][f"{name}/.zattrs"]["_ARRAY_DIMENSIONS"]
    entry = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"][name]
    return entry["dimension_names"]


# -- the review ---------------------------------------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_review_groups_the_documents_that_get_the_same_change(tmp_path: Path, zarr_format: int) -> None:
    store = _dataset(tmp_path / "d.zarr", zarr_format)
    session = EditSession.open(str(store), writable=False)
    session.apply(xarray_rename_dimension(session, "/", "lon", "longitude"))
    session.set("/v3", "/units", "km")
    review = session.review()
    name = ".zattrs" if zarr_format == 2 else "zarr.json"
    where = "_ARRAY_DIMENSIONS" if zarr_format == 2 else "dimension_names"
    assert list(review.diffs) == list(session.diff())  # the same documents, in the order they are written
    first, second, copy_ = review.groups
    # lon is the 3rd dimension of some arrays and the 2nd or 1st of others: the same change
    assert first.keys == [f"v{i}/{name}" for i in (0, 1, 2, 4)]
    assert first.kind == name and first.text == f'"lon" → "longitude" in {where}'
    assert second.keys == [f"v3/{name}"]
    assert set(second.changes) == {'units: "K" → "km"', f'"lon" → "longitude" in {where}'}
    consolidated = ".zmetadata" if zarr_format == 2 else "zarr.json"
    assert copy_.consolidated and copy_.keys == [consolidated]
    assert copy_.kind == f"consolidated copy ({consolidated})" and "follows the changes of 5 entries" in copy_.text
    assert review.kinds() == {name: 5, f"consolidated copy ({consolidated})": 1}
    assert [review.group_of[key] for key in review.diffs] == [0, 0, 0, 1, 0, 2]


def test_review_names_each_kind_of_change() -> None:
    before = {"a": 1, "b": [1, 2], "c": {"d": "x"}, "gone": True, "list": [{"name": "x"}], "n": 1}
    after = {"a": 2, "b": [1, 2, 3], "c": {"d": "y"}, "list": [{"name": "y"}], "n": 1.0, "new": "v"}
    words = [describe(change) for change in json_changes(before, after)]
    assert words == ["a: 1 → 2", "b: [1, 2] → [1, 2, 3]", 'c.d: "x" → "y"', "gone removed (was true)",
                     'list[0].name: "x" → "y"', "n: 1 → 1.0", 'new added: "v"']
    assert json_changes({"a": [1, True]}, {"a": [1, True]}) == []
    assert [describe(c) for c in json_changes(ABSENT, {"x": 1})] == ['the document added: {"x": 1}']


def test_review_of_a_one_attribute_edit_is_one_group(tmp_path: Path) -> None:
    store = _dataset(tmp_path / "d.zarr", 3, consolidated=False)
    session = EditSession.open(str(store), writable=False)
    session.set("/v1", "/long_name", "a very long name " * 10)
    review = session.review()
    (group,) = review.groups
    assert group.keys == ["v1/zarr.json"] and group.text.startswith('long_name added: "a very long name')
    assert group.text.endswith("…") and len(group.text) < 80  # the value is cut


# -- stopping a save ----------------------------------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_stopped_save_leaves_the_store_consistent_and_a_second_save_finishes(tmp_path: Path,
                                                                                zarr_format: int) -> None:
    store = _dataset(tmp_path / "d.zarr", zarr_format)
    session = EditSession.open(str(store))
    session.apply(xarray_rename_dimension(session, "/", "lon", "longitude"))
    session.set("/", "/title", "renamed")  # the root's attributes: held back with the rest
    events: list[tuple[str, int, int]] = []
    stop = {"now": False}

    def progress(phase: str, done: int, total: int) -> None:
        events.append((phase, done, total))
        if phase == "writing" and done == 2:
            stop["now"] = True  # (asked between documents: the third is not written)

    result = session.save(progress=progress, stop=lambda: stop["now"])
    assert result.cancelled
    name = ".zattrs" if zarr_format == 2 else "zarr.json"
    consolidated = ".zmetadata" if zarr_format == 2 else "zarr.json"
    # the root's own document comes first in v2 (.zattrs); v3 keeps it in the consolidated copy
    written_first = [".zattrs", f"v0/{name}"] if zarr_format == 2 else [f"v0/{name}", f"v1/{name}"]
    assert result.written == [*written_first, consolidated]
    assert result.remaining == [k for k in session.diff() if k != consolidated]
    assert ("validating", 0, 0) in events and ("checking", 7 - (zarr_format == 3), 7 - (zarr_format == 3)) in events
    assert [e for e in events if e[0] == "writing"][-1][1] == 2
    renamed = {f"v{i}" for i in (0, 1)} if zarr_format == 3 else {"v0"}
    for i in range(5):
        dims = _dims_on_disk(store, f"v{i}", zarr_format)
        assert ("longitude" in dims) == (f"v{i}" in renamed)
        # the consolidated copy says what the documents say, written or not
        assert _consolidated_dims(store, f"v{i}", zarr_format) == dims
    title = json.loads((store / ".zattrs").read_text())["title"] if zarr_format == 2 else \
        json.loads((store / "zarr.json").read_text())["attributes"]["title"]
    assert title == ("renamed" if zarr_format == 2 else "t")  # v3: the root's zarr.json held back
    assert session.dirty

    result = session.save()  # the second save finishes the job
    assert not result.cancelled and consolidated in result.written
    assert set(result.written) == {*result.written[:-1], consolidated}
    for i in range(5):
        assert "longitude" in _dims_on_disk(store, f"v{i}", zarr_format)
        assert _consolidated_dims(store, f"v{i}", zarr_format) == _dims_on_disk(store, f"v{i}", zarr_format)
    assert not session.dirty
    fresh = EditSession.open(str(store), writable=False)
    assert fresh.node("/").attributes["title"] == "renamed"


def test_a_save_stopped_before_writing_writes_nothing(tmp_path: Path) -> None:
    store = _dataset(tmp_path / "d.zarr", 2)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    session = EditSession.open(str(store))
    session.apply(xarray_rename_dimension(session, "/", "lon", "longitude"))
    result = session.save(stop=lambda: True)
    assert result.cancelled and result.written == [] and result.remaining == list(session.diff())
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
    assert session.dirty


def test_after_a_stopped_save_a_document_changed_underneath_is_still_refused(tmp_path: Path) -> None:
    store = _dataset(tmp_path / "d.zarr", 3, consolidated=False)
    session = EditSession.open(str(store))
    session.apply(xarray_rename_dimension(session, "/", "lon", "longitude"))
    written: list[int] = []
    result = session.save(progress=lambda phase, done, _total: written.append(done) if phase == "writing" else None,
                          stop=lambda: bool(written) and written[-1] >= 1)
    assert result.written == ["v0/zarr.json"]
    other = zarr.open_array(store / "v4", mode="r+")
    other.attrs["units"] = "theirs"  # another writer, between the two saves
    with pytest.raises(ConflictError) as err:
        session.save()
    assert err.value.keys == ["v4/zarr.json"]
    on_disk: dict[str, Any] = json.loads((store / "v4" / "zarr.json").read_text())
    assert on_disk["attributes"]["units"] == "theirs" and "lon" in on_disk["dimension_names"]


def test_a_save_stopped_while_it_validates_stops_between_nodes_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop is asked between the nodes validated too (before, it took effect only once the
    whole validation had run: seconds for 10,000 arrays)."""
    from zarr_browser.core import validate as validate_module

    store = _dataset(tmp_path / "d.zarr", 3)
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    session = EditSession.open(str(store))
    session.apply(xarray_rename_dimension(session, "/", "lon", "longitude"))
    validated: list[str] = []
    original = validate_module.validate_node

    def counting(node: Any, *args: Any, **kwargs: Any) -> Any:
        validated.append(node.path)
        return original(node, *args, **kwargs)

    monkeypatch.setattr(validate_module, "validate_node", counting)
    phases: list[str] = []
    result = session.save(progress=lambda phase, _done, _total: phases.append(phase), stop=lambda: len(validated) >= 2)
    assert result.cancelled and result.written == [] and result.remaining == list(session.diff())
    assert len(validated) == 2, "stopped after the node being validated, not at the end of validation"
    assert set(phases) == {"validating"}, "never got to comparing with the store"
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
    assert session.dirty
    validated.clear()
    result = session.save()  # not stopped: every edited node validated, everything written
    assert not result.cancelled and len(validated) >= 6  # (the 5 arrays and their group)
    assert _dims_on_disk(store, "v0", 3) == ["time", "lat", "longitude"] and not session.dirty
