"""Saving edits: atomic writes, conflicts with two writers (local and S3), kill -9 safety."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from edit_stores import race_before_write

from zarr_browser.core.editing import ConflictError, EditSession, cleanup_temp_files
from zarr_browser.core.editing.save import TEMP_PREFIX, LocalBackend, S3Backend, backend_for, reconsolidate
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.errors import ReadOnlyError


def _consolidate(path: Any) -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(path)


def _store(path: Path, zarr_format: int = 2, *, consolidated: bool = True) -> Path:
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format, attributes={"title": "t"})
    array = root.create_array("a", shape=(4,), chunks=(2,), dtype="f8", attributes={"units": "m"})
    array[:] = np.arange(4.0)
    root.create_group("g")
    if consolidated:
        _consolidate(path)
    return path


def _strays(root: Path) -> list[Path]:
    return [p for p in root.rglob(f"{TEMP_PREFIX}*")]


# -- the local writer -------------------------------------------------------------------------


def test_local_write_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    (tmp_path / "doc.json").write_bytes(b'{"a": 1}')
    mode = 0o640
    os.chmod(tmp_path / "doc.json", mode)
    snap = backend.read("doc.json")
    new = backend.write("doc.json", b'{"a": 2}', snap)
    assert (tmp_path / "doc.json").read_bytes() == b'{"a": 2}'
    assert new.version == backend.read("doc.json").version
    assert os.stat(tmp_path / "doc.json").st_mode & 0o777 == mode
    assert _strays(tmp_path) == []


def test_local_write_refuses_a_changed_document(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    (tmp_path / "doc.json").write_bytes(b'{"a": 1}')
    snap = backend.read("doc.json")
    (tmp_path / "doc.json").write_bytes(b'{"a": 1, "other": true}')
    with pytest.raises(ConflictError):
        backend.write("doc.json", b'{"a": 2}', snap)
    assert (tmp_path / "doc.json").read_bytes() == b'{"a": 1, "other": true}'
    assert _strays(tmp_path) == []


def test_local_create_refuses_when_someone_created_it(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path)
    snap = backend.read("new.json")
    assert not snap.exists
    (tmp_path / "new.json").write_bytes(b"{}")
    with pytest.raises(ConflictError):
        backend.write("new.json", b'{"x": 1}', snap)


def test_local_refuses_keys_outside_the_root(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "inner")
    (tmp_path / "inner").mkdir()
    with pytest.raises(PermissionError):
        backend.read("../outside.json")


def test_cleanup_removes_only_dead_writers_files(tmp_path: Path) -> None:
    dead = tmp_path / f"{TEMP_PREFIX}999999999-abcd-zarr.json"
    dead.write_text("partial")
    alive_pid = os.getppid()
    alive = tmp_path / f"{TEMP_PREFIX}{alive_pid}-abcd-zarr.json"
    alive.write_text("in progress")
    removed = cleanup_temp_files(tmp_path)
    assert removed == [str(dead)]
    assert alive.exists()


def test_session_open_cleans_stray_temp_files(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr")
    stray = store / "a" / f"{TEMP_PREFIX}999999999-0000-.zattrs"
    stray.write_text('{"half')
    root_stray = store / f"{TEMP_PREFIX}999999999-0000-.zmetadata"
    root_stray.write_text("{")
    session = EditSession.open(str(store))
    assert not root_stray.exists()
    session.load("/a")
    assert not stray.exists()
    assert len(session.removed_temp_files) == 2


# -- sessions: what a save writes -------------------------------------------------------------


def test_unchanged_documents_are_not_rewritten(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in store.rglob(".z*")}
    session = EditSession.open(str(store))
    session.load("/g")
    session.set("/a", "/units", "km")
    result = session.save()
    assert result.written == ["a/.zattrs", ".zmetadata"]
    for path, stamp in before.items():
        rel = path.relative_to(store).as_posix()
        if rel in result.written:
            continue
        assert (path.stat().st_mtime_ns, path.stat().st_ino) == stamp, rel


def test_save_without_changes_writes_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    session = EditSession.open(str(store))
    session.set("/a", "/units", "km")
    session.undo()
    assert session.save().written == []


def test_read_only_session_refuses_to_save(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    session = EditSession(Hierarchy.open(str(store)))
    assert not session.writable
    session.set("/a", "/units", "km")
    assert session.diff()
    with pytest.raises(ReadOnlyError):
        session.save()
    assert json.loads((store / "a" / "zarr.json").read_text())["attributes"]["units"] == "m"


def test_remote_needs_an_explicit_choice() -> None:
    with pytest.raises(ReadOnlyError):
        EditSession.open("s3://bucket/x.zarr")


def test_http_and_zip_are_read_only(tmp_path: Path) -> None:
    from zarr_browser.core.store import open_store

    zpath = tmp_path / "s.zip"
    zip_store = zarr.storage.ZipStore(zpath, mode="w")
    zarr.open_group(zip_store, mode="w", attributes={"a": 1})
    zip_store.close()
    access = open_store(zpath, mode="r+")
    assert not backend_for(access).writable


# -- two writers --------------------------------------------------------------------------------


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_two_writers_locally_never_lose_an_update(tmp_path: Path, zarr_format: int) -> None:
    store = _store(tmp_path / "s.zarr", zarr_format)
    first = EditSession.open(str(store))
    second = EditSession.open(str(store))
    first.set("/a", "/first", 1)
    second.set("/a", "/second", 2)
    first.save()
    with pytest.raises(ConflictError) as info:
        second.save()
    assert info.value.written == []
    attrs = EditSession.open(str(store)).attributes("/a")
    assert attrs["first"] == 1 and "second" not in attrs
    second.reload(reapply=True)
    second.save()
    attrs = EditSession.open(str(store)).attributes("/a")
    assert attrs["first"] == 1 and attrs["second"] == 2
    meta = json.loads((store / (".zmetadata" if zarr_format == 2 else "zarr.json")).read_text())
    entry = meta["metadata"]["a/.zattrs"] if zarr_format == 2 else meta["consolidated_metadata"]["metadata"]["a"]["attributes"]
    assert entry["first"] == 1 and entry["second"] == 2


def test_a_consolidated_copy_changed_alone_takes_the_edits_in(tmp_path: Path) -> None:
    """The consolidated document is derived from the others: when it alone changed since it was
    read (someone re-consolidated, or saved another node), the save copies its entries into the
    new one instead of refusing (it refused: two people editing different nodes could not both save)."""
    store = _store(tmp_path / "s.zarr", 2)
    session = EditSession.open(str(store))
    session.set("/a", "/x", 1)
    _consolidate(store)  # someone re-consolidates (rewrites .zmetadata in another form)
    meta = json.loads((store / ".zmetadata").read_text())
    meta["metadata"]["g/.zattrs"] = {"theirs": True}
    (store / ".zmetadata").write_text(json.dumps(meta) + " ")
    assert session.save().written == ["a/.zattrs", ".zmetadata"]
    assert json.loads((store / "a" / ".zattrs").read_text())["x"] == 1
    entries = json.loads((store / ".zmetadata").read_text())["metadata"]
    assert entries["a/.zattrs"]["x"] == 1 and entries["g/.zattrs"] == {"theirs": True}


def test_a_consolidated_copy_edited_in_the_session_still_conflicts(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    session = EditSession.open(str(store))
    session.set("/", "/title", "ours")  # the v3 root is the consolidated document: an edit of its own
    (store / "zarr.json").write_text((store / "zarr.json").read_text() + " ")
    with pytest.raises(ConflictError) as info:
        session.save()
    assert info.value.keys == ["zarr.json"] and info.value.written == []


def test_many_threads_each_add_a_key_none_is_lost(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    hierarchy_errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            session = EditSession.open(str(store))
            session.set("/a", f"/w{i}", i)
            for _ in range(200):
                try:
                    session.save()
                    return
                except ConflictError:
                    session.reload(reapply=True)
                    time.sleep(random.random() * 0.01)
            raise AssertionError("too many conflicts")
        except BaseException as err:  # collected for the main thread
            hierarchy_errors.append(err)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not hierarchy_errors
    attrs = json.loads((store / "a" / "zarr.json").read_text())["attributes"]
    assert {f"w{i}" for i in range(8)} <= set(attrs)
    assert _strays(store) == []


# -- S3 (moto) ----------------------------------------------------------------------------------


def _s3_store(s3_server: Any, tmp_path: Path, zarr_format: int) -> str:
    local = _store(tmp_path / "src.zarr", zarr_format, consolidated=False)
    (local / "g" / ".zattrs").unlink(missing_ok=True)
    _consolidate(local)
    bucket = s3_server.new_bucket()
    s3_server.upload_tree(local, bucket, "data.zarr")
    return f"s3://{bucket}/data.zarr"


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_two_writers_on_s3(s3_server: Any, tmp_path: Path, zarr_format: int) -> None:
    url = _s3_store(s3_server, tmp_path, zarr_format)
    options = s3_server.storage_options
    first = EditSession.open(url, storage_options=options, allow_remote=True)
    second = EditSession.open(url, storage_options=options, allow_remote=True)
    assert isinstance(first.backend, S3Backend)
    first.set("/a", "/first", 1)
    second.set("/a", "/second", 2)
    assert first.save().written
    with pytest.raises(ConflictError):
        second.save()
    fresh = EditSession.open(url, storage_options=options, allow_remote=True)
    assert fresh.attributes("/a")["first"] == 1 and "second" not in fresh.attributes("/a")
    second.reload(reapply=True)
    second.save()
    fresh = EditSession.open(url, storage_options=options, allow_remote=True)
    assert fresh.attributes("/a")["first"] == 1 and fresh.attributes("/a")["second"] == 2


def test_s3_if_match_refuses_a_stale_etag(s3_server: Any, tmp_path: Path) -> None:
    url = _s3_store(s3_server, tmp_path, 3)
    session = EditSession.open(url, storage_options=s3_server.storage_options, allow_remote=True)
    session.set("/a", "/x", 1)
    bucket = url.split("/")[2]
    client = s3_server.client()
    body = client.get_object(Bucket=bucket, Key="data.zarr/a/zarr.json")["Body"].read()
    client.put_object(Bucket=bucket, Key="data.zarr/a/zarr.json", Body=body.replace(b'"m"', b'"cm"'))
    key, data, snapshot = session.plan()[0]
    with pytest.raises(ConflictError):
        session.backend.write(key, data, snapshot)  # the server itself refuses (If-Match)
    after = client.get_object(Bucket=bucket, Key="data.zarr/a/zarr.json")["Body"].read()
    assert b'"cm"' in after and b'"x"' not in after


def test_s3_create_if_absent(s3_server: Any, tmp_path: Path) -> None:
    url = _s3_store(s3_server, tmp_path, 2)
    session = EditSession.open(url, storage_options=s3_server.storage_options, allow_remote=True)
    session.set("/g", "/created", True)  # /g has no .zattrs yet
    bucket = url.split("/")[2]
    s3_server.client().put_object(Bucket=bucket, Key="data.zarr/g/.zattrs", Body=b'{"other": 1}')
    with pytest.raises(ConflictError):
        session.save()
    session.reload(reapply=True)
    session.save()
    fresh = EditSession.open(url, storage_options=s3_server.storage_options, allow_remote=True)
    assert fresh.attributes("/g") == {"other": 1, "created": True}


def test_s3_honouring_if_match_is_checked_once_before_the_first_write(s3_server: Any, tmp_path: Path) -> None:
    url = _s3_store(s3_server, tmp_path, 2)
    session = EditSession.open(url, storage_options=s3_server.storage_options, allow_remote=True)
    backend = session.backend
    assert isinstance(backend, S3Backend) and backend.conditional is None
    session.set("/a", "/x", 1)
    session.save()
    assert backend.conditional is True and backend.description == "S3 (conditional PUT with If-Match)"
    bucket = url.split("/")[2]
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [k for k in keys if TEMP_PREFIX in k]  # the probe wrote nothing


def test_s3_server_ignoring_if_match_is_found_and_writes_compare_first(s3_server: Any, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Audit E, 7: a server that ignores If-Match let a save overwrite another writer's change
    silently, while the backend called itself conditional.  Such a server is simulated by
    dropping the conditions before the request (moto itself honours them)."""
    url = _s3_store(s3_server, tmp_path, 2)
    session = EditSession.open(url, storage_options=s3_server.storage_options, allow_remote=True)
    backend = session.backend
    assert isinstance(backend, S3Backend)
    pipe = backend.fs._pipe_file

    async def unconditional(path: str, data: bytes, **kwargs: Any) -> Any:
        kwargs.pop("IfMatch", None)
        kwargs.pop("mode", None)
        return await pipe(path, data, **kwargs)

    monkeypatch.setattr(backend.fs, "_pipe_file", unconditional)
    session.set("/a", "/x", 1)
    session.save()
    assert backend.conditional is False and "ignores If-Match" in backend.description
    bucket = url.split("/")[2]
    client = s3_server.client()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not [k for k in keys if TEMP_PREFIX in k]  # the probe object was removed
    session.set("/a", "/x", 2)
    key, data, snapshot = session.plan()[0]
    client.put_object(Bucket=bucket, Key="data.zarr/a/.zattrs", Body=b'{"units": "theirs"}')  # after the check
    with pytest.raises(ConflictError):  # compared just before the write: the server would not refuse it
        backend.write(key, data, snapshot)
    assert client.get_object(Bucket=bucket, Key="data.zarr/a/.zattrs")["Body"].read() == b'{"units": "theirs"}'


# -- consolidated metadata ----------------------------------------------------------------------


def test_reconsolidate_leaves_unconsolidated_nodes_out() -> None:
    cons = {"metadata": {".zgroup": {"zarr_format": 2}}, "zarr_consolidated_format": 1}
    assert reconsolidate(".zmetadata", cons, {"x/.zattrs": {"a": 1}}) is cons


# -- kill -9 during saves -------------------------------------------------------------------------


def _kill_writer(store: str, seed: int, ready: Any) -> None:
    """Child process: save a 1-5 MB attribute again and again until killed."""
    rng = random.Random(seed)
    session = EditSession.open(store)
    counter = 0
    ready.set()
    while True:
        counter += 1
        size = rng.randint(1_000_000, 5_000_000)
        session.set("/a", "/blob", f"{seed}-{counter}-" + "x" * size)
        session.set("/a", "/nan", float("nan"))
        session.save(force=True)


def _kill_raw_writer(store: str, seed: int, ready: Any) -> None:
    """Child process: rewrite ``a/.zattrs`` through the atomic writer alone, until killed."""
    from zarr_browser.core.jsonio import dumps

    rng = random.Random(seed)
    backend = LocalBackend(store)
    ready.set()
    counter = 0
    while True:
        counter += 1
        snapshot = backend.read("a/.zattrs")
        value = json.loads(snapshot.data or b"{}")
        value["blob"] = f"{seed}-{counter}-" + "y" * rng.randint(1_000_000, 5_000_000)
        backend.write("a/.zattrs", dumps(value).encode(), snapshot)


@pytest.mark.slow
def test_kill_9_during_saves_never_corrupts(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    (store / "a" / ".zattrs").write_text('{"units": "m", "keep": NaN}')
    _consolidate(store)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["zarr_browser.core.editing", "zarr"])
    rng = random.Random(1234)
    kills = corrupt = strays_seen = 0
    started = time.monotonic()
    documents = [store / "a" / ".zattrs", store / ".zmetadata"]
    for iteration in range(200):
        ready = context.Event()
        target = _kill_writer if iteration % 2 == 0 else _kill_raw_writer
        process = context.Process(target=target, args=(str(store), iteration, ready), daemon=True)
        process.start()
        ready.wait(10)
        time.sleep(rng.uniform(0.0, 0.1))  # somewhere in the save loop
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        kills += 1
        for doc in documents:
            try:
                value = json.loads(doc.read_text())
            except (ValueError, OSError):
                corrupt += 1
                continue
            attrs = value if doc.name == ".zattrs" else value["metadata"]["a/.zattrs"]
            if attrs.get("units") != "m" or "keep" not in attrs:
                corrupt += 1
        strays_seen += len(_strays(store))
    elapsed = time.monotonic() - started
    EditSession.open(str(store)).load("/a")  # the next open cleans up
    remaining = _strays(store)
    print(f"kill -9: {kills} kills in {elapsed:.1f} s, {corrupt} corrupt documents, "
          f"{strays_seen} stray temp files seen before cleanup, {len(remaining)} after")
    assert kills == 200
    assert corrupt == 0
    assert remaining == []
    final = json.loads((store / "a" / ".zattrs").read_text())
    assert final["keep"] != final["keep"]  # NaN survived every rewrite


# -- the consolidated copy follows every saved document (audit E) ----------------------------


def _consolidated_attrs(store: Path, path: str) -> dict:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        return dict(zarr.open_group(str(store), mode="r", use_consolidated=True)[path].attrs)


def test_undoing_a_v3_root_edit_after_a_save_keeps_the_other_entries_saved(tmp_path: Path) -> None:
    """The v3 root document holds the consolidated copy: undoing an edit of the root put back the
    copy as it was before the save, with the child's old attributes, which zarr and xarray read."""
    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3, attributes={"title": "t"})
    root.create_group("sub").create_array("arr", shape=(2,), dtype="u1", attributes={"units": "m"})
    _consolidate(store)
    session = EditSession.open(str(store))
    session.set("/sub/arr", "/units", "km")
    session.set("/", "/title", "new")
    session.save()
    assert session.undo()
    assert session.dirty
    session.save()
    assert _consolidated_attrs(store, "sub/arr") == {"units": "km"}
    assert zarr.open_group(str(store), mode="r", use_consolidated=False).attrs["title"] == "t"
    assert not session.dirty


def test_two_writers_of_other_nodes_both_reach_the_consolidated_copy(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer saves between our pre-check and our consolidated write (the race audit E
    won 40 of 40 times with two threads): ours is taken into theirs, and both edits stay."""
    store = _store(tmp_path / "s.zarr", 2)
    ours, theirs = EditSession.open(str(store)), EditSession.open(str(store))
    ours.set("/a", "/units", "km")
    theirs.set("/g", "/owner", "them")
    raced = race_before_write(monkeypatch, ".zmetadata", theirs.save)  # between our node document and copy
    assert ours.save().written == ["a/.zattrs", ".zmetadata"]
    assert raced and not ours.dirty
    assert _consolidated_attrs(store, "a") == {"units": "km"}
    assert _consolidated_attrs(store, "g") == {"owner": "them"}


def test_a_node_document_changed_mid_save_is_a_conflict_that_names_what_was_saved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    session = EditSession.open(str(store))
    session.set("/", "/title", "ours")
    session.set("/a", "/units", "km")
    race_before_write(monkeypatch, "a/.zattrs", lambda: (store / "a" / ".zattrs").write_text('{"units": "theirs"}'))
    with pytest.raises(ConflictError, match=r"\.zattrs had been saved before: the store is partly saved") as info:
        session.save()
    assert info.value.written == [".zattrs"] and info.value.keys == ["a/.zattrs"]
    assert json.loads((store / "a" / ".zattrs").read_text()) == {"units": "theirs"}  # theirs, not overwritten


def test_a_groups_own_consolidated_copy_follows_an_edit_below_it(tmp_path: Path) -> None:
    """zarr.consolidate_metadata(store, path="sub") gives /sub a copy of its own, which
    zarr.open_group(store, path="sub") reads: a save updated the root's copy only (audit E, 5)."""
    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3)
    root.create_group("sub").create_group("deep").create_array("arr", shape=(2,), dtype="u1",
                                                               attributes={"units": "m"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(store, path="sub")
        zarr.consolidate_metadata(store)
    session = EditSession.open(str(store))
    session.set("/sub/deep/arr", "/units", "km")
    assert [key for key, _data, _snapshot in session.plan()] == ["sub/deep/arr/zarr.json", "sub/zarr.json",
                                                                   "zarr.json"]
    session.save()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        assert zarr.open_group(store, path="sub", mode="r", use_consolidated=True)["deep/arr"].attrs["units"] == "km"
    assert _consolidated_attrs(store, "sub/deep/arr") == {"units": "km"}
    assert not session.dirty


def test_validate_finds_a_groups_own_consolidated_copy_stale(tmp_path: Path) -> None:
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.validate import validate_hierarchy

    registry = default_registry()

    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3)
    root.create_group("sub").create_array("arr", shape=(2,), dtype="u1", attributes={"units": "m"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(store, path="sub")
    assert not [i for i in validate_hierarchy(Hierarchy.open(store), registry).issues if "own consolidated" in i.message]
    zarr.open_array(store, mode="r+", path="sub/arr").attrs["units"] = "km"
    issues = [i for i in validate_hierarchy(Hierarchy.open(store), registry).issues if "own consolidated" in i.message]
    assert len(issues) == 1 and issues[0].path == "/sub" and "stale for arr" in issues[0].message
    assert "zarr.consolidate_metadata(store, path='sub')" in issues[0].message
