"""``zarr-browser edit``: scripted edits, validated together, saved as one change (or not at all)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from zarr_browser.cli import main


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def _store(path: Path, zarr_format: int = 3, *, consolidated: bool = True) -> Path:
    root = zarr.open_group(path, mode="w", zarr_format=zarr_format, attributes={"title": "t"})
    attributes: dict[str, Any] = {"units": "K"}
    kwargs: dict[str, Any] = {}
    if zarr_format == 2:
        attributes["_ARRAY_DIMENSIONS"] = ["t", "y"]
    else:
        kwargs["dimension_names"] = ("t", "y")
    root.create_array("temperature", shape=(3, 4), chunks=(3, 4), dtype="f4", attributes=attributes, **kwargs)
    if consolidated:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
            zarr.consolidate_metadata(path)
    return path


def _snapshot(store: Path) -> dict[str, bytes]:
    return {p.relative_to(store).as_posix(): p.read_bytes() for p in store.rglob("*") if p.is_file()}


def _attrs(store: Path, node: str, zarr_format: int = 3) -> dict[str, Any]:
    if zarr_format == 2:
        return json.loads((store / node / ".zattrs").read_text())
    return json.loads((store / node / "zarr.json").read_text())["attributes"]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_set_saves_and_updates_consolidated(tmp_path: Path, zarr_format: int) -> None:
    xr = pytest.importorskip("xarray")
    store = _store(tmp_path / "s.zarr", zarr_format)
    code, out = _run("edit", str(store), "--set", '/temperature:/long_name="air temperature"',
                     "--set", "/:/history=[1, 2]")
    assert code == 0, out
    assert "saved" in out
    assert _attrs(store, "temperature", zarr_format)["long_name"] == "air temperature"
    ds = xr.open_zarr(store, consolidated=True, zarr_format=zarr_format)
    assert ds["temperature"].attrs["long_name"] == "air temperature"
    assert ds.attrs["history"] == [1, 2]


def test_ome_channel_colour_example(tmp_path: Path) -> None:
    root = zarr.open_group(tmp_path / "img.zarr", mode="w", zarr_format=3)
    root.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "name": "img", "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"},
                                {"name": "x", "type": "space"}],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 1]}]}]}],
        "omero": {"channels": [{"color": "00FF00", "window": {"min": 0, "max": 255, "start": 0, "end": 255}}]}}
    root.create_array("0", shape=(1, 8, 8), chunks=(1, 8, 8), dtype="u1", dimension_names=("c", "y", "x"))
    code, out = _run("edit", str(tmp_path / "img.zarr"), "--set", '/:/ome/omero/channels/0/color="FF0000"')
    assert code == 0, out
    assert _attrs(tmp_path / "img.zarr", "")["ome"]["omero"]["channels"][0]["color"] == "FF0000"
    # an invalid colour is a validation error: refused, nothing written
    before = _snapshot(tmp_path / "img.zarr")
    code, out = _run("edit", str(tmp_path / "img.zarr"), "--set", '/:/ome/omero/channels/0/color="#FF0000"')
    assert code == 1
    assert _snapshot(tmp_path / "img.zarr") == before
    code, out = _run("edit", str(tmp_path / "img.zarr"), "--set", '/:/ome/omero/channels/0/color="#FF0000"',
                     "--force")
    assert code == 0


def test_patch_file_and_dimension_names(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps([
        {"op": "add", "path": "/standard_name", "value": "air_temperature"},
        {"op": "replace", "path": "/units", "value": "degC"},
        {"op": "test", "path": "/units", "value": "degC"},
    ]))
    code, out = _run("edit", str(store), "--patch", f"/temperature={patch}",
                     "--set", '/temperature:zarr.json#/dimension_names=["time", "lat"]')
    assert code == 0, out
    meta = json.loads((store / "temperature" / "zarr.json").read_text())
    assert meta["attributes"] == {"units": "degC", "standard_name": "air_temperature"}
    assert meta["dimension_names"] == ["time", "lat"]
    consolidated = json.loads((store / "zarr.json").read_text())["consolidated_metadata"]["metadata"]
    assert consolidated["temperature"]["dimension_names"] == ["time", "lat"]


def test_dry_run_prints_the_diff_and_writes_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    before = _snapshot(store)
    code, out = _run("edit", str(store), "--set", "/temperature:/x=1", "--dry-run")
    assert code == 0
    assert "+++ b/temperature/.zattrs" in out and '+  "x": 1' in out and "+++ b/.zmetadata" in out
    assert _snapshot(store) == before


def test_refusals_write_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    before = _snapshot(store)
    for argv in (
        ["--set", "/temperature:zarr.json#/shape=[1, 1]"],  # read-only field
        ["--set", "/temperature:/units=1", "--set", "/temperature:/nope/deeper=1"],  # one bad edit refuses all
        ["--delete", "/temperature:/missing"],
        ["--set", "/temperature:zarr.json#/dimension_names=[\"only_one\"]"],  # validation error
    ):
        code, out = _run("edit", str(store), *argv)
        assert code == 1, (argv, out)
        assert _snapshot(store) == before, argv


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    assert _run("edit", str(store), "--set", "/temperature:/x=not json")[0] == 2
    assert _run("edit", str(store), "--set", "no-colon")[0] == 2
    assert _run("edit", str(store))[0] == 2
    assert _run("edit", str(tmp_path / "missing.zarr"), "--set", "/:/x=1")[0] == 2
    assert _run("edit", str(store), "--patch", f"/temperature={tmp_path / 'nope.json'}")[0] == 2


def test_a_pointer_without_its_slash_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--set '/temperature:units="m"'` said only 'expects NODE:POINTER' (audit B, F12)."""
    store = _store(tmp_path / "s.zarr", 3)
    assert _run("edit", str(store), "--set", '/temperature:units="m"')[0] == 2
    assert ("--set: the JSON pointer after '/temperature' must start with '/' (it points into the attributes), "
            """as in '/temperature:/units="m"'""") in capsys.readouterr().err


def test_conflict_exits_1_and_keeps_the_other_writers_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zarr_browser.core.editing.session import EditSession

    store = _store(tmp_path / "s.zarr", 3)
    original = EditSession.validate

    def validate_and_meanwhile_someone_writes(self: EditSession, *args: Any, **kwargs: Any) -> Any:
        path = store / "temperature" / "zarr.json"
        meta = json.loads(path.read_text())
        if "other" not in meta["attributes"]:
            meta["attributes"]["other"] = True
            path.write_text(json.dumps(meta))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(EditSession, "validate", validate_and_meanwhile_someone_writes)
    code, out = _run("edit", str(store), "--set", "/temperature:/mine=1", "--json")
    assert code == 1
    payload = json.loads(out)
    assert payload["saved"] is False and "changed" in payload["refused"]
    attrs = _attrs(store, "temperature")
    assert attrs["other"] is True and "mine" not in attrs


def test_json_output(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    code, out = _run("edit", str(store), "--set", "/temperature:/x=1", "--json")
    payload = json.loads(out)
    assert code == 0
    assert payload["saved"] is True
    assert payload["written"] == ["temperature/zarr.json", "zarr.json"]
    assert set(payload["diff"]) == {"temperature/zarr.json", "zarr.json"}
    assert payload["errors"] == 0


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_rename_dim_renames_every_array_and_says_what_becomes_data(tmp_path: Path, zarr_format: int) -> None:
    xr = pytest.importorskip("xarray")
    store = tmp_path / "d.zarr"
    xr.Dataset({"temp": (("t", "x"), np.zeros((2, 3)))}, coords={"x": [1.0, 2.0, 3.0]}).to_zarr(
        store, zarr_format=zarr_format, consolidated=True)
    code, out = _run("edit", str(store), "--rename-dim", "/:x=lon", "--dry-run")
    assert code == 0 and "note    Renames 'x' to 'lon' in 2 arrays: /temp, /x." in out
    assert "shows it as a data variable" in out and "would change" in out
    code, out = _run("edit", str(store), "--rename-dim", "/:x=lon", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["saved"] and any("index coordinate" in n for n in payload["notes"])
    assert [i["path"] for i in payload["issues"] if "was the index coordinate" in i["message"]] == ["/x"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opened = xr.open_zarr(store, consolidated=True)
    assert opened["temp"].dims == ("t", "lon") and "x" in opened.data_vars
    code, out = _run("edit", str(store), "--rename-dim", "/:x=lon")  # nothing on x any more: refused, exit 1
    assert code == 1
    assert _run("edit", str(store), "--rename-dim", "x=lon")[0] == 2  # usage: NODE:OLD=NEW


def test_edit_on_s3(s3_server: Any, tmp_path: Path) -> None:
    local = _store(tmp_path / "src.zarr", 2)
    bucket = s3_server.new_bucket()
    s3_server.upload_tree(local, bucket, "d.zarr")
    url = f"s3://{bucket}/d.zarr"
    code, out = _run("edit", url, "--endpoint-url", s3_server.endpoint_url, "-O", "key=testing",
                     "-O", "secret=testing", "--set", '/temperature:/long_name="t"')
    assert code == 0, out
    body = s3_server.client().get_object(Bucket=bucket, Key="d.zarr/temperature/.zattrs")["Body"].read()
    assert json.loads(body)["long_name"] == "t"


def test_http_and_zip_stores_are_refused_and_the_dry_run_says_so(http_server: Any, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A dry run in CI is a pre-flight check: it exited 0 where the real run exits 2 (audit B)."""
    import shutil

    _store(Path(http_server.root) / "s.zarr", 2)
    before = _snapshot(Path(http_server.root) / "s.zarr")
    archive = Path(shutil.make_archive(str(tmp_path / "s"), "zip", Path(http_server.root) / "s.zarr"))
    for url, reason in ((f"{http_server.url}/s.zarr", "served over HTTP"), (str(archive), "a zip file")):
        for dry in (["--dry-run"], []):
            code, _out = _run("edit", url, "--set", "/:/x=1", *dry)
            assert code == 2, (url, dry)
            assert reason in capsys.readouterr().err and "mode='r+'" not in _out
    assert _snapshot(Path(http_server.root) / "s.zarr") == before


def test_a_folder_inside_a_zip_is_refused_as_the_zip_is(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``edit /data/a.zip/sub`` opened the archive's members writable: the save got as far as
    zipfile ("internal error: ValueError: write() requires mode 'w'", exit 3) and its dry run,
    like that of ``zip://sub::a.zip``, said "would change", exit 0 (audit E, 6).  Both spellings
    are refused as the archive itself is: exit 2 naming the archive, the dry run too."""
    import shutil

    store = _store(tmp_path / "s.zarr", 2)
    zarr.open_group(store, mode="r+").create_group("sub", attributes={"x": 1})
    archive = Path(shutil.make_archive(str(tmp_path / "a"), "zip", store))
    before = archive.read_bytes()
    for url in (str(archive / "sub"), f"zip://sub::{archive}", str(archive)):
        for dry in (["--dry-run"], []):
            code, out = _run("edit", url, "--set", "/:/y=3", *dry)
            err = capsys.readouterr().err
            assert code == 2, (url, dry, out, err)
            assert "editing zip stores is not supported" in err and str(archive) in err, err
            assert "internal error" not in err and "Traceback" not in err
    assert archive.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "s.zarr"]


def test_console_script_runs(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    result = subprocess.run([sys.executable, "-m", "zarr_browser", "edit", str(store), "--set", "/:/x=1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert _attrs(store, "")["x"] == 1


def test_dry_run_gives_the_verdict_of_the_real_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    before = _snapshot(store)
    bad = ["--set", "/temperature:zarr.json#/dimension_names=[\"only_one\"]"]
    code, out = _run("edit", str(store), *bad, "--dry-run")
    assert code == 1  # as the real run: refused
    assert "the save would be refused" in capsys.readouterr().err and "--force" in out + "--force"
    assert _run("edit", str(store), *bad, "--dry-run", "--force")[0] == 0
    code, _ = _run("edit", str(store), *bad)
    assert code == 1
    assert "; nothing written (fix them, or give --force to save anyway)" in capsys.readouterr().err
    assert _snapshot(store) == before


def test_an_edit_of_a_missing_node_is_refused_not_unreadable(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    assert _run("edit", str(store), "--set", "/nope:/a=1")[0] == 1  # the store reads fine; the edit does not apply


def test_bare_nan_is_not_written_into_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    before = _snapshot(store)
    for value in ("NaN", "-Infinity", "[1, Infinity]"):
        assert _run("edit", str(store), "--set", f"/temperature:/x={value}")[0] == 2
    assert "write the string" in capsys.readouterr().err
    assert _snapshot(store) == before
    # a number past a double's range reads as inf and was written as a bare Infinity (audit K, 5)
    for value in ("1e309", "[2, -1e400]", '{"a": 1.5e999}'):
        assert _run("edit", str(store), "--set", f"/temperature:/x={value}")[0] == 2
    assert "beyond the range of a double" in capsys.readouterr().err
    assert _snapshot(store) == before
    assert _run("edit", str(store), "--set", "/temperature:/x=1e308")[0] == 0  # (a large finite one is fine)
    assert _run("edit", str(store), "--set", '/temperature:/x="NaN"')[0] == 0  # the string is fine


def test_a_one_line_consolidated_document_is_diffed_indented(tmp_path: Path) -> None:
    store = _store(tmp_path / "s.zarr", 2)
    for i in range(12):  # a .zmetadata of a few kB, on one line as zarr writes it
        zarr.open_group(store, mode="a").create_array(f"v{i}", shape=(2,), dtype="i1", attributes={"i": i})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(store)
    raw = (store / ".zmetadata").read_text()
    if raw.count("\n") > 1:  # this zarr indents .zmetadata: write it on one line, as others do
        (store / ".zmetadata").write_text(json.dumps(json.loads(raw)))
    code, out = _run("edit", str(store), "--set", "/temperature:/units=\"degC\"", "--dry-run")
    assert code == 0
    zmeta = out[out.index("--- a/.zmetadata"):]
    assert "(one line in the store; compared indented)" in zmeta.splitlines()[0]
    changed = [line.rstrip(",") for line in zmeta.splitlines()[2:] if line.startswith(("+", "-"))]
    assert changed == ['-      "units": "K"', '+      "units": "degC"'], changed


def test_a_failed_patch_test_names_the_document_and_pointer(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path / "s.zarr", 3)
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps([{"op": "test", "path": "/units", "value": "C"},
                                 {"op": "replace", "path": "/units", "value": "degC"}]))
    assert _run("edit", str(store), "--patch", f"/temperature={patch}")[0] == 1
    assert 'test failed: temperature/zarr.json#/attributes/units is "K"' in capsys.readouterr().err


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_an_edit_keeps_unicode_escapes_it_did_not_touch(tmp_path: Path, zarr_format: int) -> None:
    """zarr-python writes '×' as \\u00d7: an edit elsewhere leaves it so (the diff showed a change
    the user did not make, and the save made it)."""
    store = tmp_path / "u.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=zarr_format)  # type: ignore[arg-type]
    group.attrs["method"] = "2×2 block mean"
    document = store / ("zarr.json" if zarr_format == 3 else ".zattrs")
    assert "\\u00d7" in document.read_text()
    code, out = _run("edit", str(store), "--set", "/:/title=\"µm grid\"", "--dry-run")
    assert code == 0 and "2×2" not in out and out.count("2\\u00d72") == 2, out  # written as it was read
    assert _run("edit", str(store), "--set", "/:/title=\"µm grid\"")[0] == 0
    text = document.read_text()
    assert text.isascii() and "\\u00d7" in text and "\\u00b5m grid" in text
    assert zarr.open_group(store, mode="r").attrs.asdict() == {"method": "2×2 block mean", "title": "µm grid"}


def test_errors_already_there_do_not_refuse_an_edit_new_ones_do(tmp_path: Path) -> None:
    """As the window's Save dialog: only errors the edits introduce refuse a save."""
    store = _store(tmp_path / "s.zarr", 3, consolidated=False)
    code, _ = _run("edit", str(store), "--set", "/temperature:zarr.json#/dimension_names=[\"t\"]", "--force")
    assert code == 0  # one error planted
    assert _run("validate", str(store))[0] == 1
    code, out = _run("edit", str(store), "--set", "/:/title=\"fixed later\"")
    assert code == 0, out
    assert _attrs(store, "")["title"] == "fixed later"
    # an edit that introduces an error is still refused, naming it (not the one that was there)
    zarr.open_group(store / "ome", mode="w", zarr_format=3)
    before = _snapshot(store)
    code, out = _run("edit", str(store), "--set", "/ome:/ome={\"version\": \"0.5\", \"multiscales\": 3}", "--json")
    refused = json.loads(out)["refused"]
    assert code == 1 and refused.startswith("the edits introduce 1 validation error(s), e.g. /ome:"), refused
    assert _snapshot(store) == before
    # and an error already in the edited node does not count as introduced
    code, out = _run("edit", str(store), "--set", "/temperature:/units=\"degC\"")
    assert code == 0, out


def _unwritable(directory: Path) -> Callable[[], None]:
    """Make *directory* refuse new files (chattr +i as root, who ignores permissions; chmod
    otherwise); returns what undoes it."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        return lambda: directory.chmod(0o755)
    subprocess.run(["chattr", "+i", str(directory)], check=True, timeout=30)

    def undo() -> None:
        subprocess.run(["chattr", "-i", str(directory)], check=True, timeout=30)

    return undo


def test_a_store_that_cannot_be_written_is_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The variable's .zattrs was written and the root's .zmetadata was not (a stale copy), and
    edit ended in "internal error: PermissionError" (exit 3) naming a temporary file."""
    store = _store(tmp_path / "s.zarr", 2)
    before = _snapshot(store)
    undo = _unwritable(store)  # the root (.zmetadata) cannot be written; temperature/ can
    try:
        code, out = _run("edit", str(store), "--set", '/temperature:/units="degC"', "--dry-run")
        assert code == 2 and "nothing would be saved" in capsys.readouterr().err  # the same verdict
        code, out = _run("edit", str(store), "--set", '/temperature:/units="degC"')
    finally:
        undo()
    err = capsys.readouterr().err
    assert code == 2, out + err
    assert f"cannot save to {store}" in err and "nothing was saved" in err and ".zarr-browser-tmp" not in err
    assert _snapshot(store) == before
    # a directory the system says can be written, that refuses files (immutable here): found
    # before the first document is written
    from zarr_browser.core.editing import EditSession, SaveFailedError, save

    session = EditSession.open(str(store))
    assert session.backend.writable
    session.set("/temperature", "/units", "degC")
    undo = _unwritable(store)
    try:
        with pytest.raises(SaveFailedError, match=f"cannot write in {store}: .*; nothing was saved"):
            session.backend.check_writable([".zmetadata", "temperature/.zattrs"])
        assert isinstance(session.backend, save.LocalBackend)
    finally:
        undo()
    assert _snapshot(store) == before


def test_a_write_that_fails_half_way_names_what_was_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A disk that fills up between two documents: the message says which were saved."""
    from zarr_browser.core.editing import EditSession, SaveFailedError

    store = _store(tmp_path / "s.zarr", 2)
    session = EditSession.open(str(store))
    session.set("/temperature", "/units", "degC")
    replace = os.replace

    def full_disk(src: Any, dst: Any) -> None:
        if str(dst).endswith(".zmetadata"):
            raise OSError(28, "No space left on device")
        replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(SaveFailedError, match=r"writing .*\.zmetadata failed: No space left on device; "
                                              r"temperature/\.zattrs had been saved before: the store is partly "
                                              r"saved \(save again to finish") as err:
        session.save()
    assert err.value.written == ["temperature/.zattrs"]
    assert not list(store.rglob(".zarr-browser-tmp*"))  # no temporary file left behind
    # the session still owes the consolidated copy: it is dirty, and saving again writes it (audit E:
    # it said "Nothing to save", and zarr and xarray read the old units for good)
    monkeypatch.setattr(os, "replace", replace)
    assert session.dirty and [key for key, _data, _snapshot in session.plan()] == [".zmetadata"]
    assert session.save().written == [".zmetadata"]
    assert not session.dirty
    assert zarr.open_group(str(store), mode="r")["temperature"].attrs["units"] == "degC"  # read through .zmetadata


def test_a_read_only_file_system_opens_a_preview_only_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing was enabled ("writable") and failed only at Save with a raw errno."""
    from zarr_browser.core.editing import EditSession
    from zarr_browser.errors import ReadOnlyError

    store = _store(tmp_path / "s.zarr", 3)
    statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, real: Any) -> None:
            self._real = real
            self.f_flag = real.f_flag | os.ST_RDONLY

        def __getattr__(self, name: str) -> Any:
            return getattr(self._real, name)

    monkeypatch.setattr(os, "statvfs", lambda path: ReadOnly(statvfs(path)))  # what a ro mount reports
    session = EditSession.open(str(store))
    assert not session.backend.writable and "read-only file system" in session.backend.description
    session.set("/temperature", "/units", "degC")
    assert session.diff()  # previewed
    with pytest.raises(ReadOnlyError):
        session.save()


def test_an_edit_that_would_grow_a_document_past_the_read_bound_is_refused(tmp_path: Path) -> None:
    """A 70 MB attribute was saved; info and validate then showed the node as an error (the
    document over the 64 MiB bound), and the root's consolidated copy went unread."""
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.editing import EditSession
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.store import RequestPolicy

    store = _store(tmp_path / "s.zarr", 3)
    bound = 8192  # a small bound stands for 64 MiB
    registry = default_registry()
    hierarchy = Hierarchy.open(str(store), mode="r+", policy=RequestPolicy(max_document_bytes=bound),
                               hints=registry.child_hints)
    session = EditSession(hierarchy, registry)
    session.set("/temperature", "/comment", "x" * 100)
    assert session.refusal() is None
    session.set("/temperature", "/comment", "x" * 10_000)
    refusal = session.refusal()
    assert refusal is not None and "temperature/zarr.json would be" in str(refusal) and "8,192 bytes" in str(refusal)
    oversized = sorted((i.path, i.document) for i in refusal.issues if "would be" in i.message)
    assert oversized == [("/", "zarr.json"), ("/temperature", "zarr.json")]  # the consolidated root grows too


def test_a_document_changed_half_way_through_a_save_is_partly_saved_not_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit E: the command said 'refused' with exit 1 (README: nothing written on refusal),
    though the root's document had been written before another writer changed the array's."""
    from edit_stores import race_before_write

    store = _store(tmp_path / "s.zarr", 2)
    race_before_write(monkeypatch, "temperature/.zattrs", lambda: (store / "temperature" / ".zattrs").write_text(
        '{"units": "theirs", "_ARRAY_DIMENSIONS": ["t", "y"]}'))
    code, _out = _run("edit", str(store), "--set", '/:/title="ours"', "--set", '/temperature:/units="degC"')
    err = capsys.readouterr().err
    assert code == 2
    assert "zarr-browser edit: partly saved: " in err and ".zattrs had been saved before" in err
    assert json.loads((store / ".zattrs").read_text())["title"] == "ours"
    assert json.loads((store / "temperature" / ".zattrs").read_text())["units"] == "theirs"


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_editing_a_group_inside_a_consolidated_store_updates_the_stores_copy(tmp_path: Path, zarr_format: int) -> None:
    """Audit E: ``edit store.zarr/sub`` saved the node and exit 0, but the root's consolidated copy
    (which zarr and xarray read) kept the old value, unflagged; the window opens the enclosing
    store, the command now does too."""
    store = tmp_path / "s.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=zarr_format)
    root.create_group("sub").create_array("arr", shape=(2,), dtype="u1", attributes={"units": "m"})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(store)
    code, out = _run("edit", str(store / "sub"), "--set", '/arr:/units="km"', "--json")
    payload = json.loads(out)
    assert code == 0 and payload["node"] == "/sub"
    copy = ".zmetadata" if zarr_format == 2 else "zarr.json"
    assert payload["written"] == [f"sub/arr/{'.zattrs' if zarr_format == 2 else 'zarr.json'}", copy]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        assert zarr.open_group(store, mode="r", use_consolidated=True)["sub/arr"].attrs["units"] == "km"
    code, _out = _run("edit", str(store / "sub" / "arr"), "--set", '/:/units="mm"')  # the array's own folder
    assert code == 0
    assert zarr.open_group(store, mode="r", use_consolidated=True)["sub/arr"].attrs["units"] == "mm"


def test_running_an_edit_again_after_a_half_way_save_finishes_the_consolidated_copy(tmp_path: Path) -> None:
    """Audit E, 1: after a save whose consolidated write failed, the same `edit` run again changed
    nothing (the node's document held the value already) and exit 0, the copy stale for good."""
    store = _store(tmp_path / "s.zarr", 2)
    (store / "temperature" / ".zattrs").write_text('{"units": "degC", "_ARRAY_DIMENSIONS": ["t", "y"]}')
    code, out = _run("edit", str(store), "--set", '/temperature:/units="degC"', "--json")
    assert code == 0 and json.loads(out)["written"] == [".zmetadata"]
    entry = json.loads((store / ".zmetadata").read_text())["metadata"]["temperature/.zattrs"]
    assert entry["units"] == "degC"
    code, out = _run("edit", str(store), "--set", '/temperature:/units="degC"', "--json")
    assert code == 0 and json.loads(out)["written"] == []


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_pixel_size_origin_and_axis_rename_from_the_command_line(tmp_path: Path, version: str) -> None:
    """The forms' convention edits from a script: a pixel-size fix needed one hand-computed --set
    per level and translation, a 0.5 axis rename one per level's dimension_names (audit F, 12)."""
    from edit_stores import ome_image

    store = ome_image(tmp_path / "i.zarr", version)
    code, out = _run("edit", str(store), "--pixel-size", "/:y=0.2,x=0.2", "--unit", "nanometer",
                     "--origin", "/:y=10", "--rename-axis", "/:x=xx", "--json")
    payload = json.loads(out)
    assert code == 0 and payload["saved"] and payload["errors"] == 0, out
    attrs = _attrs(store, "", 3 if version == "0.5" else 2)
    ms = attrs.get("ome", attrs)["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == ["c", "y", "xx"]
    assert [a.get("unit") for a in ms["axes"]] == [None, "nanometer", "nanometer"]
    scales = [d["coordinateTransformations"][0]["scale"] for d in ms["datasets"]]
    assert scales == [[1.0, 0.2, 0.2], [1.0, 0.4, 0.4]]  # level 1 keeps its factor 2
    translations = [d["coordinateTransformations"][1]["translation"] for d in ms["datasets"]]
    assert translations == [[0.0, 10.0, 0.0], [0.0, 10.1, 0.1]]  # half a level-1 pixel, rescaled, then moved
    if version == "0.5":
        assert [json.loads((store / k / "zarr.json").read_text())["dimension_names"] for k in "01"] == [
            ["c", "y", "xx"], ["c", "y", "xx"]]


def test_axis_rename_from_the_command_line_renames_the_label_images_unless_told_not_to(tmp_path: Path) -> None:
    """`edit --help` said label images follow every convention edit; a rename left them on the old name (audit J, 4)."""
    import numpy as np
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image, write_labels

    store = tmp_path / "image.ome.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=3)
    write_image(np.zeros((2, 32, 32), dtype="uint16"), group, axes="cyx", fmt=FormatV05(), scale_factors=())
    write_labels(np.zeros((32, 32), dtype="uint32"), group, name="cells", axes="yx", fmt=FormatV05(), scale_factors=())

    def label_axes() -> list[str]:
        return [a["name"] for a in _attrs(store, "labels/cells/", 3)["ome"]["multiscales"][0]["axes"]]

    assert _run("edit", str(store), "--rename-axis", "/:x=xx", "--no-labels")[0] == 0 and label_axes() == ["y", "x"]
    assert _run("edit", str(store), "--rename-axis", "/:xx=col")[0] == 0 and label_axes() == ["y", "x"]
    assert _run("edit", str(store), "--rename-axis", "/:y=row")[0] == 0 and label_axes() == ["row", "x"]


def test_ome_convention_edits_are_refused_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path / "s.zarr")  # no OME metadata
    before = _snapshot(store)
    code, _out = _run("edit", str(store), "--pixel-size", "/:y=0.5")
    assert code == 1 and "OME" in capsys.readouterr().err
    assert _snapshot(store) == before
    assert _run("edit", str(store), "--pixel-size", "/:y=big")[0] == 2
    assert "expects NODE:AXIS=NUMBER" in capsys.readouterr().err
    assert _run("edit", str(store), "--unit", "micrometer", "--set", "/:/a=1")[0] == 2
    assert "--unit goes with --pixel-size" in capsys.readouterr().err
