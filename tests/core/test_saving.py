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
from zarr_browser.core.jsonio import canonical
from zarr_browser.core.tempfiles import STALE_TEMP_SECONDS, host_tag
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


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changes a file's group (root only)")
def test_a_rewritten_document_keeps_its_group(tmp_path: Path) -> None:
    """The temporary file is created in the store's root, whose group may differ from the
    document's folder's (a set-group-ID folder): the document keeps its own."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "doc.json").write_bytes(b"{}")
    os.chown(tmp_path / "a" / "doc.json", -1, 4321)
    os.chown(tmp_path / "a", -1, 4322)
    os.chmod(tmp_path / "a", 0o2775)
    backend = LocalBackend(tmp_path)
    backend.write("a/doc.json", b'{"a": 2}', backend.read("a/doc.json"))
    backend.write("a/new.json", b"{}", backend.read("a/new.json"))
    assert os.stat(tmp_path / "a" / "doc.json").st_gid == 4321
    assert os.stat(tmp_path / "a" / "new.json").st_gid == 4322


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


def _temp_file(folder: Path, pid: int, name: str = ".zattrs", *, host: str | None = None, size: int = 10,
               age: float = 0.0) -> Path:
    """A temporary file as a save of process *pid* on *host* (this one by default; "" for the
    name of older versions, without a host) leaves it, last written *age* seconds ago."""
    host = host_tag() if host is None else host
    path = folder / f"{TEMP_PREFIX}{host + '-' if host else ''}{pid}-abcd-{name}"
    path.write_bytes(b"x" * size)
    if age:
        os.utime(path, (time.time() - age, time.time() - age))
    return path


DEAD = 999_999_999  # no such process here


def test_cleanup_removes_only_stale_files(tmp_path: Path) -> None:
    """A process id names a process of its own host: the rule "remove when no process of that
    id runs here" removed, on a file system shared between hosts, another host's save in
    progress (audit E, 8).  Another host's files, and those named without a host, wait an hour."""
    other = "h00000000" if host_tag() != "h00000000" else "h11111111"
    dead = _temp_file(tmp_path, DEAD, "zarr.json")
    alive = _temp_file(tmp_path, os.getppid(), "zarr.json.2")
    theirs = _temp_file(tmp_path, DEAD, "zarr.json.3", host=other)
    theirs_old = _temp_file(tmp_path, os.getppid(), "zarr.json.4", host=other, age=STALE_TEMP_SECONDS + 60)
    unnamed = _temp_file(tmp_path, DEAD, "zarr.json.5", host="")
    unnamed_old = _temp_file(tmp_path, DEAD, "zarr.json.6", host="", age=STALE_TEMP_SECONDS + 60)
    removed = cleanup_temp_files(tmp_path)
    assert sorted(removed) == sorted(map(str, (dead, theirs_old, unnamed_old)))
    assert alive.exists() and theirs.exists() and unnamed.exists()


def test_session_open_cleans_stray_temp_files(tmp_path: Path) -> None:
    """A killed save left its temporary file in the document's folder, removed only when a
    writable session loaded that node again (audit E, 8): saves now write it in the root folder,
    which a writable session's open cleans; the nodes it loads are cleaned too (files left by
    older versions, or where the root could not take them)."""
    store = _store(tmp_path / "s.zarr")
    in_root = _temp_file(store, DEAD, ".zattrs", size=1000)  # the a/.zattrs of a killed save
    in_node = _temp_file(store / "a", DEAD, ".zattrs")
    before = sorted(p.name for p in store.rglob("*"))
    EditSession.open(str(store), writable=False).load("/a")  # reading never removes anything
    Hierarchy.open(str(store)).walk()
    assert sorted(p.name for p in store.rglob("*")) == before
    session = EditSession.open(str(store))
    assert not in_root.exists() and in_node.exists()
    session.load("/a")
    assert not in_node.exists()
    assert len(session.removed_temp_files) == 2


def test_a_save_writes_its_temporary_file_in_the_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """... and in the document's folder when the root refuses it or is another file system."""
    import errno

    store = _store(tmp_path / "s.zarr")
    replaced: list[tuple[Path, Path]] = []
    real_replace, real_open = os.replace, os.open

    def replace(src: Any, dst: Any) -> None:
        replaced.append((Path(src).parent, Path(dst).parent))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    session = EditSession.open(str(store))
    session.set("/a", "/units", "km")
    assert session.save().written == ["a/.zattrs", ".zmetadata"]
    assert replaced == [(store, store / "a"), (store, store)]

    store = _store(tmp_path / "p.zarr", consolidated=False)  # a root that refuses files takes no .zmetadata

    def refusing_root(path: Any, flags: int, mode: int = 0o777) -> int:
        if Path(path).parent == store and Path(path).name.startswith(TEMP_PREFIX):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode)

    def other_file_system(src: Any, dst: Any) -> None:
        if Path(src).parent != Path(dst).parent:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        replace(src, dst)

    session = EditSession.open(str(store))
    for patch in ((os, "open", refusing_root), (os, "replace", other_file_system)):
        with monkeypatch.context() as m:
            m.setattr(*patch)
            replaced.clear()
            session.set("/a", "/units", f"via {patch[1]}")
            assert session.save().written == ["a/.zattrs"]
            assert replaced == [(store / "a", store / "a")]
        assert json.loads((store / "a" / ".zattrs").read_text())["units"] == f"via {patch[1]}"
        assert _strays(store) == []


def test_validate_names_the_temporary_files_a_killed_save_left(tmp_path: Path) -> None:
    """They stayed unseen, as large as the document, until a writable session loaded their node
    (audit E, 8): each one in a listed folder is a warning naming it, its size and that it is
    safe to delete; nothing is removed (validating reads only), and none is shown as a node."""
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.validate import validate_hierarchy

    store = _store(tmp_path / "s.zarr")
    _temp_file(store, DEAD, ".zmetadata", size=30_000)
    _temp_file(store / "g", DEAD, ".zattrs", size=12, host="")  # older versions wrote them beside the document
    _temp_file(store / "g", DEAD, ".zgroup", host="", age=STALE_TEMP_SECONDS + 60)
    _temp_file(store, os.getpid(), ".zattrs")  # a save in progress (of this process): not a leftover
    before = sorted((p.relative_to(store), p.stat().st_mtime_ns) for p in store.rglob("*"))
    hierarchy = Hierarchy.open(str(store))
    assert [n.path for n, _ in hierarchy.walk()] == ["/", "/a", "/g"]
    report = validate_hierarchy(hierarchy, default_registry())
    leftovers = [(i.path, i.severity.value, i.message) for i in report.issues if "temporary file" in i.message]
    assert leftovers == [
        ("/", "warning", f"{TEMP_PREFIX}{host_tag()}-{DEAD}-abcd-.zmetadata (30,000 bytes) is a temporary file left "
                         "by an interrupted zarr-browser save: not part of the store, safe to delete (opening the "
                         "store for editing in zarr-browser removes it)"),
        ("/g", "warning", f"g/{TEMP_PREFIX}{DEAD}-abcd-.zgroup (10 bytes) is a temporary file left by an "
                          "interrupted zarr-browser save: not part of the store, safe to delete (opening the store "
                          "for editing in zarr-browser removes it)"),
    ]  # the one of a save still running, or young and of unknown host, is not (yet) one
    assert sorted((p.relative_to(store), p.stat().st_mtime_ns) for p in store.rglob("*")) == before


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


HAND_WRITTEN = (b'{\r\n\t"a": 1E5,\r\n\t"b": 1.50,\r\n\t"c": [1.0e2, 2, NaN],\r\n\t"d": {\r\n\t\t"big": 1e400,\r\n'
                b'\t\t"small": -1e-400\r\n\t},\r\n\t"e": "\xc2\xb5m"\r\n}\r\n')


def _strict_json(data: bytes) -> Any:
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(data, parse_constant=refuse)


def test_a_hand_written_document_keeps_its_tabs_line_endings_and_numbers(tmp_path: Path) -> None:
    """An edit of one key rewrote the rest: tabs and CRLF became 2 spaces and LF but the trailing
    CRLF stayed (mixed line endings), 1E5 became 100000.0, 1.50 1.5, and 1e400 (a float overflow)
    the bare token Infinity, which strict JSON readers refuse (audit E, 9).  The values the user
    did not change are written as they were, in the document's indentation and line endings."""
    store = zarr.open_group(tmp_path / "h.zarr", mode="w", zarr_format=2).store_path.store.root
    (Path(store) / ".zattrs").write_bytes(HAND_WRITTEN)
    before = json.loads(HAND_WRITTEN)
    session = EditSession.open(str(store))
    session.set("/", "/edited", "yes")
    session.rename("/", "/b", "b2")  # moved, not changed: still 1.50
    shown = session.diff()[".zattrs"]
    session.save()
    data = (Path(store) / ".zattrs").read_bytes()
    assert data == (b'{\r\n\t"a": 1E5,\r\n\t"b2": 1.50,\r\n\t"c": [\r\n\t\t1.0e2,\r\n\t\t2,\r\n\t\tNaN\r\n\t],\r\n'
                    b'\t"d": {\r\n\t\t"big": 1e400,\r\n\t\t"small": -1e-400\r\n\t},\r\n\t"e": "\xc2\xb5m",\r\n'
                    b'\t"edited": "yes"\r\n}\r\n')
    assert b"\r\n" not in data.replace(b"\r\n", b"") and b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert "+\t\"edited\": \"yes\"\r\n" in shown  # the diff shown is what is written
    after = json.loads(data)
    assert after.pop("edited") == "yes" and after.pop("b2") == before.pop("b")
    assert canonical(after) == canonical(before)  # every value as it was (inf is inf, NaN is NaN)
    assert zarr.open_group(str(store), mode="r").attrs["d"]["big"] == float("inf")

    session.set("/", "/a", 2e5)  # typed: written as Python writes it
    session.set("/", "/d/big", 5)
    session.save()
    data = (Path(store) / ".zattrs").read_bytes()
    assert b'"a": 200000.0,\r\n' in data and b'"big": 5,\r\n\t\t"small": -1e-400\r\n' in data
    with pytest.raises(ValueError, match="NaN is not JSON"):  # the NaN zarr writes stays NaN
        _strict_json(data)


def test_a_one_line_document_keeps_its_separators_and_numbers(tmp_path: Path) -> None:
    store = zarr.open_group(tmp_path / "o.zarr", mode="w", zarr_format=2).store_path.store.root
    (Path(store) / ".zattrs").write_bytes(b'{"valid_range":[-1.50,1e400],"scale":2.0E-3,"offset":-0}')
    session = EditSession.open(str(store))
    session.set("/", "/units", "K")
    session.save()
    data = (Path(store) / ".zattrs").read_bytes()
    assert data == b'{"valid_range":[-1.50,1e400],"scale":2.0E-3,"offset":-0,"units":"K"}'
    _strict_json(data)


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
    EditSession.open(str(store))  # the next writable open cleans up: saves leave them in the root
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


def _v2_with_own_copy(store: Path) -> Path:
    """A v2 store whose /sub holds its own .zmetadata (zarr.consolidate_metadata(store, path=
    "sub")), beside the root's."""
    root = zarr.open_group(store, mode="w", zarr_format=2)
    sub = root.create_group("sub", attributes={"title": "s"})
    sub.create_group("deep").create_array("arr", shape=(2,), dtype="u1", attributes={"units": "m"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(store, path="sub", zarr_format=2)
        zarr.consolidate_metadata(store, zarr_format=2)
    return store


def _own_copy_attrs(store: Path, group: str, path: str) -> dict:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        opened = zarr.open_group(str(store), path=group, mode="r", zarr_format=2, use_consolidated=True)
        assert opened.metadata.consolidated_metadata is not None  # zarr reads the group's own copy
        return dict((opened[path] if path else opened).attrs)


def test_a_v2_groups_own_consolidated_copy_follows_edits_below_it_and_of_its_own(tmp_path: Path) -> None:
    """A v2 group's own .zmetadata copies its children and its own .zattrs; zarr.open_group(store,
    path="sub") reads it: a save updated the root's copy only."""
    store = _v2_with_own_copy(tmp_path / "s.zarr")
    session = EditSession.open(str(store))
    session.set("/sub/deep/arr", "/units", "km")
    session.set("/sub", "/title", "renamed")
    assert [key for key, _data, _snapshot in session.plan()] == [
        "sub/.zattrs", "sub/deep/arr/.zattrs", "sub/.zmetadata", ".zmetadata"]
    assert "sub/.zmetadata" in session.diff()
    session.save()
    assert _own_copy_attrs(store, "sub", "deep/arr") == {"units": "km"}
    assert _own_copy_attrs(store, "sub", "") == {"title": "renamed"}
    assert _consolidated_attrs(store, "sub/deep/arr") == {"units": "km"}
    assert not session.dirty and session.plan() == []


def test_another_writers_save_of_a_v2_groups_own_copy_is_merged(tmp_path: Path, monkeypatch: Any) -> None:
    """Another program re-consolidating /sub between our check and our write of its copy: its
    entries are taken in and ours go on top (the copy is derived; nothing of theirs is lost)."""
    store = _v2_with_own_copy(tmp_path / "s.zarr")
    sub = zarr.open_group(store, path="sub", mode="r+", zarr_format=2)
    sub.create_array("other", shape=(1,), dtype="u1", attributes={"by": "them"})
    session = EditSession.open(str(store))
    session.set("/sub/deep/arr", "/units", "km")

    def other_writer() -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
            zarr.consolidate_metadata(store, path="sub", zarr_format=2)

    raced = race_before_write(monkeypatch, "sub/.zmetadata", other_writer)
    session.save()
    assert raced == ["sub/.zmetadata"]
    assert _own_copy_attrs(store, "sub", "deep/arr") == {"units": "km"}
    assert _own_copy_attrs(store, "sub", "other") == {"by": "them"}  # theirs, kept


def test_validate_finds_a_v2_groups_own_consolidated_copy_stale(tmp_path: Path) -> None:
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.validate import validate_hierarchy

    registry = default_registry()

    def own_copy_issues() -> list:
        report = validate_hierarchy(Hierarchy.open(store), registry)
        return [i for i in report.issues if "own consolidated" in i.message]

    store = _v2_with_own_copy(tmp_path / "s.zarr")
    assert own_copy_issues() == []
    zarr.open_array(store, mode="r+", path="sub/deep/arr", zarr_format=2).attrs["units"] = "km"
    (store / "sub" / ".zattrs").write_text('{"title": "new"}')  # (zarr's own setter updates the copy too)
    issues = own_copy_issues()
    assert len(issues) == 1 and issues[0].path == "/sub" and issues[0].document == ".zmetadata"
    assert "stale for its own attributes, deep/arr" in issues[0].message
    assert "zarr.consolidate_metadata(store, path='sub')" in issues[0].message
    import shutil

    shutil.rmtree(store / "sub" / "deep")
    gone = [i for i in own_copy_issues() if "not in the store" in i.message]
    assert len(gone) == 1 and "lists deep, deep/arr, not in the store" in gone[0].message
