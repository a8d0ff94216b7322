"""The command line on real stores: info, validate, demo (in-process and as a subprocess)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from zarr_browser.cli import build_parser, main
from zarr_browser.demo import write_demo


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def info_json(url: str | Path, *extra: str) -> dict:
    code, text = run("info", str(url), "--json", *extra)
    assert code == 0, text
    return json.loads(text)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo"), size=512).root


def by_path(payload: dict) -> dict[str, dict]:
    return {n["path"]: n for n in payload["nodes"]}


def conventions(node: dict) -> dict[str, dict]:
    return {c["name"]: c for c in node["conventions"]}


REQUIRED_KEYS = {"path", "kind", "zarr_format", "shape", "dtype", "chunks", "shards", "dimension_names",
                 "conventions", "error"}


def test_info_json_shape_on_demo_image(demo: Path) -> None:
    payload = info_json(demo / "cells.ome.zarr")
    assert payload["url"] == str(demo / "cells.ome.zarr")
    nodes = by_path(payload)
    for node in nodes.values():
        assert node.keys() >= REQUIRED_KEYS
        assert node["kind"] in ("group", "array", "error")
    root = nodes["/"]
    assert (root["kind"], root["zarr_format"], root["shape"]) == ("group", 3, None)
    ome = conventions(root)["ome-ngff"]
    assert ome["version"] == "0.5"
    assert "image" in ome["roles"] and "omero" in ome["roles"]
    level0 = nodes["/0"]
    assert level0["shape"] == [3, 512, 512]
    assert level0["dtype"] == "uint16"
    assert level0["chunks"] == [1, 256, 256]
    assert level0["dimension_names"] == ["c", "y", "x"]
    assert conventions(nodes["/labels"])["ome-ngff"]["roles"] == ["labels"]
    assert "label-image" in conventions(nodes["/labels/nuclei"])["ome-ngff"]["roles"]
    assert nodes["/labels/nuclei/0"]["dimension_names"] == ["y", "x"]


def test_info_json_plate_and_dimension_names_from_ome_axes(demo: Path) -> None:
    nodes = by_path(info_json(demo / "plate.ome.zarr"))
    plate = conventions(nodes["/"])["ome-ngff"]
    assert (plate["version"], plate["roles"]) == ("0.4", ["plate"])
    assert conventions(nodes["/A/1"])["ome-ngff"]["roles"] == ["well"]
    assert "image" in conventions(nodes["/A/1/0"])["ome-ngff"]["roles"]
    level = nodes["/A/1/0/0"]
    assert level["zarr_format"] == 2
    assert level["dimension_names"] == ["c", "y", "x"]  # v2 arrays: names come from the OME axes
    assert any(s["convention"] == "ome-ngff" for s in level["dimension_sources"])


def test_info_json_xarray_cf_dataset(demo: Path) -> None:
    nodes = by_path(info_json(demo / "climate.zarr"))
    root = conventions(nodes["/"])
    assert root["cf"]["version"] == "1.10"
    assert "consolidated" in root
    temperature = nodes["/temperature"]
    assert temperature["dimension_names"] == ["time", "lat", "lon"]
    assert "xarray" in conventions(temperature)
    assert "packed" in conventions(temperature)["cf"]["roles"]


def test_info_text_tree(demo: Path) -> None:
    code, text = run("info", str(demo / "cells.ome.zarr"))
    assert code == 0
    assert "ome-ngff 0.5: image" in text
    assert "└── labels" in text
    assert "[c, y, x]" in text  # resolved dimension names are shown


def test_info_depth_limits_listing(demo: Path) -> None:
    nodes = by_path(info_json(demo / "plate.ome.zarr", "--depth", "1"))
    assert set(nodes) == {"/", "/A", "/B"}
    code, text = run("info", str(demo / "plate.ome.zarr"), "--depth", "1")
    assert code == 0 and text.splitlines()[-1].startswith("… the children of 2 groups are not listed (--depth 1")
    code, text = run("info", str(demo / "plate.ome.zarr"), "--depth", "0")
    assert text.splitlines()[-1].startswith("… the root group's children are not listed (--depth 0")
    code, text = run("info", str(demo / "plate.ome.zarr"))
    assert "not listed" not in text  # no limit: everything is listed


def test_validate_demo_is_clean(demo: Path) -> None:
    for name in ("cells.ome.zarr", "plate.ome.zarr", "climate.zarr"):
        code, text = run("validate", str(demo / name), "--json")
        payload = json.loads(text)
        assert code == 0, [i for i in payload["issues"] if i["severity"] == "error"]
        assert payload["errors"] == 0
        assert set(payload) >= {"url", "issues"}


def test_corrupt_child_is_listed_with_siblings_and_fails_validation(tmp_path: Path) -> None:
    store = tmp_path / "g.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=3)
    for name in ("a", "b", "c"):
        group.create_array(name, shape=(2,), dtype="i1")
    (store / "b" / "zarr.json").write_bytes(b"\xff\xfe{ not json")
    nodes = by_path(info_json(store))
    assert [nodes[p]["kind"] for p in ("/a", "/b", "/c")] == ["array", "error", "array"]
    assert "b/zarr.json" in nodes["/b"]["error"]
    code, text = run("validate", str(store), "--json")
    assert code == 1
    issues = json.loads(text)["issues"]
    assert any(i["path"] == "/b" and i["severity"] == "error" for i in issues)
    assert {"path", "severity", "convention", "message", "pointer"} <= set(issues[0])


def test_unreadable_store_exits_2(tmp_path: Path) -> None:
    code, _ = run("validate", str(tmp_path / "missing.zarr"))
    assert code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in ("info", "validate"):  # a folder with no zarr metadata anywhere is no store (a mistyped path)
        code, text = run(command, str(empty), "--json")
        assert code == 2
        assert "not a zarr store" in json.loads(text)["error"]
    zarr.create_array(str(empty / "deep" / "a"), shape=(2,), dtype="i1", zarr_format=3)
    code, text = run("info", str(empty), "--json")
    assert code == 0  # an implicit root above zarr nodes is a valid v3 hierarchy
    assert json.loads(text)["nodes"][0]["zarr_format"] is None


def test_validate_text_output_names_node_and_pointer(demo: Path, tmp_path: Path) -> None:
    store = tmp_path / "cells.ome.zarr"
    shutil.copytree(demo / "cells.ome.zarr", store)
    doc = json.loads((store / "zarr.json").read_text())
    doc["attributes"]["ome"]["omero"]["channels"][0]["color"] = "red"
    (store / "zarr.json").write_text(json.dumps(doc))
    code, text = run("validate", str(store))
    assert code == 1
    assert "/attributes/ome/omero/channels/0/color" in text
    assert text.strip().splitlines()[-1].startswith("FAILED: ")


def test_validate_checks_several_stores_and_exits_with_the_worst(demo: Path, tmp_path: Path, capsys: Any) -> None:
    """A CI job validating a folder of stores: ``validate a b c``, each reported as alone; one
    unreadable store does not stop the others, and the exit code is the worst."""
    broken = tmp_path / "broken.zarr"
    shutil.copytree(demo / "climate.zarr", broken)
    (broken / "temperature" / ".zarray").write_text("{not json")
    good = [str(demo / "cells.ome.zarr"), str(demo / "climate.zarr")]
    code, text = run("validate", *good)
    assert code == 0
    verdicts = [line for line in text.splitlines() if line.startswith(("OK", "FAILED"))]
    assert [v.split(" of ")[-1] for v in verdicts] == good
    code, text = run("validate", good[0], str(broken), good[1])
    assert code == 1 and [line.split(":")[0] for line in text.splitlines() if line.startswith(("OK", "FAILED"))] == [
        "OK", "FAILED", "OK"]
    missing = tmp_path / "missing.zarr"
    code, text = run("validate", "--json", str(missing), str(broken), good[1])
    assert code == 2
    payload = json.loads(text)
    assert payload["passed"] is False
    first, second, third = payload["stores"]
    assert first == {"url": str(missing), "error": f"no such directory: {missing}", "exit": 2}
    assert (second["passed"], second["errors"] > 0, third["passed"]) == (False, True, True)
    assert f"zarr-browser: no such directory: {missing}" in capsys.readouterr().err


def test_validate_fail_on_warning(demo: Path, tmp_path: Path) -> None:
    store = tmp_path / "cells.ome.zarr"
    shutil.copytree(demo / "cells.ome.zarr", store)
    doc = json.loads((store / "zarr.json").read_text())
    doc["attributes"]["ome"]["omero"]["channels"][0].pop("label", None)
    doc["attributes"]["ome"]["multiscales"][0]["axes"][-1]["unit"] = "pixel"  # not a UDUNITS-2 unit: a warning
    (store / "zarr.json").write_text(json.dumps(doc))
    code, text = run("validate", str(store), "--json")
    payload = json.loads(text)
    assert (code, payload["errors"], payload["passed"]) == (0, 0, True) and payload["warnings"] > 0
    code, text = run("validate", str(store), "--fail-on", "warning")
    assert code == 1 and text.splitlines()[-1].startswith("FAILED (--fail-on warning): 0 error(s)")
    code, _ = run("validate", str(demo / "cells.ome.zarr"), "--fail-on", "warning")
    assert code == 0


def _ome_image(root: Path, zarr_format: int, *, scale_x: float = 0.5, unit: str = "micrometer") -> Path:
    """A one-level OME-NGFF image (0.4 in Zarr v2, 0.5 in v3) written by zarr-python."""
    ms: dict[str, Any] = {"name": "img", "axes": [{"name": "y", "type": "space", "unit": "micrometer"},
                                                  {"name": "x", "type": "space", "unit": unit}],
                          "datasets": [{"path": "0", "coordinateTransformations": [
                              {"type": "scale", "scale": [0.5, scale_x]}]}]}
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    if zarr_format == 3:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [ms]}
        group.create_array("0", shape=(8, 8), dtype="uint8", dimension_names=("y", "x"))
    else:
        group.attrs["multiscales"] = [{"version": "0.4", **ms}]
        group.create_array("0", shape=(8, 8), dtype="uint8")
    return root


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_validate_ignore_interoperability(tmp_path: Path, zarr_format: int) -> None:
    """Interoperability findings (allowed by the spec, refused by a named reader or validator) are
    issues with rule 'interoperability'; '--ignore interoperability' lists them but does not count
    them, so '--fail-on warning' can fail on the spec's warnings alone.  Without it, exit codes are
    as before."""
    mirrored = _ome_image(tmp_path / "mirrored.zarr", zarr_format, scale_x=-0.5)  # a negative scale
    code, text = run("validate", str(mirrored), "--json")
    payload = json.loads(text)
    pointer = ("/attributes/ome" if zarr_format == 3 else "") + "/multiscales/0/datasets/0/coordinateTransformations/0/scale/1"
    assert (code, payload["errors"], payload["warnings"], payload["ignored"], payload["ignore"]) == (0, 0, 1, 0, [])
    assert [(i["rule"], i["pointer"]) for i in payload["issues"] if i["severity"] != "info"] == [
        ("interoperability", pointer)]
    assert all((i["rule"] == "interoperability") == i["message"].startswith("[interoperability]")
               for i in payload["issues"])
    assert run("validate", str(mirrored), "--fail-on", "warning")[0] == 1  # as before: a warning fails
    code, text = run("validate", str(mirrored), "--fail-on", "warning", "--ignore", "interoperability")
    lines = text.splitlines()
    assert code == 0, text
    assert "  warning [ome-ngff] [interoperability] scale value -0.5 is negative" in text  # listed still
    assert lines[-1] == (f"OK: 0 error(s), 0 warning(s) (and 1 interoperability warning(s), ignored) in 2 node(s) "
                         f"of {mirrored}")
    code, text = run("validate", str(mirrored), "--fail-on", "warning", "--ignore", "interoperability", "--json")
    payload = json.loads(text)
    assert (code, payload["warnings"], payload["ignored"], payload["ignore"], payload["passed"]) == (
        0, 0, 1, ["interoperability"], True)

    # a spec warning (a unit outside UDUNITS-2) still fails --fail-on warning; an error fails anyway
    both = _ome_image(tmp_path / "both.zarr", zarr_format, scale_x=-0.5, unit="pixel")
    code, text = run("validate", str(both), "--fail-on", "warning", "--ignore", "interoperability")
    assert code == 1 and text.splitlines()[-1].startswith(
        "FAILED (--fail-on warning): 0 error(s), 1 warning(s) (and 1 interoperability warning(s), ignored)"), text
    broken = _ome_image(tmp_path / "broken.zarr", zarr_format, scale_x=0)
    assert run("validate", str(broken), "--ignore", "interoperability")[0] == 1
    # several stores: the option holds for each
    code, text = run("validate", str(mirrored), str(both), "--json", "--fail-on", "warning", "--ignore",
                     "interoperability")
    stores = json.loads(text)["stores"]
    assert (code, [s["passed"] for s in stores], [s["ignored"] for s in stores]) == (1, [True, False], [1, 1])
    assert run("validate", str(mirrored), "--ignore", "spec")[0] == 2  # a usage error: only interoperability


def test_console_script_runs_as_subprocess(demo: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "zarr_browser", "info", str(demo / "climate.zarr")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "temperature" in proc.stdout


def test_demo_command_writes_and_reuses(tmp_path: Path) -> None:
    code, text = run("demo", str(tmp_path / "d"), "--no-open")
    assert code == 0 and "wrote the demo dataset" in text
    code, text = run("demo", str(tmp_path / "d"), "--no-open")
    assert code == 0 and "found the demo dataset" in text


def test_demo_is_readable_by_real_readers(demo: Path) -> None:
    xr = pytest.importorskip("xarray")
    ds = xr.open_zarr(demo / "climate.zarr")
    assert ds["temperature"].dims == ("time", "lat", "lon")
    assert ds["temperature"].attrs["units"] == "K"
    temp = ds["temperature"].values
    assert np.isnan(temp[:, :3, :20]).all()  # the fill value is decoded as missing
    assert 200 < float(np.nanmean(temp)) < 320  # unpacked with scale_factor/add_offset
    assert str(ds["time"].dtype).startswith("datetime64")

    pytest.importorskip("ome_zarr_models")
    from ome_zarr_models import v04, v05

    image = v05.Image.from_zarr(zarr.open_group(demo / "cells.ome.zarr", mode="r"))
    assert [d.path for d in image.ome_attributes.multiscales[0].datasets] == ["0", "1", "2", "3"]
    v05.ImageLabel.from_zarr(zarr.open_group(demo / "cells.ome.zarr" / "labels" / "nuclei", mode="r"))
    plate = v04.HCS.from_zarr(zarr.open_group(demo / "plate.ome.zarr", mode="r"))
    assert len(plate.ome_attributes.plate.wells) == 4


@pytest.mark.network
def test_info_and_validate_over_http(demo: Path, make_http_server) -> None:  # type: ignore[no-untyped-def]
    server = make_http_server(demo, latency=0.02)
    server.listing = False  # plain static hosting: the consolidated metadata must carry the listing
    url = server.url_for("climate.zarr")
    nodes = by_path(info_json(url))
    assert {"/time", "/lat", "/lon", "/temperature"} <= nodes.keys()
    assert nodes["/temperature"]["dimension_names"] == ["time", "lat", "lon"]
    code, text = run("validate", server.url_for("plate.ome.zarr"))
    assert code == 0  # listed from the plate's metadata (wells, fields, levels) despite no index
    assert "OK (incomplete: " in text  # unlisted groups: the verdict says only declared children were checked
    assert text.count("could not be listed") == 2  # one note for every group, and the verdict
    assert "no group at" not in text  # the wells its rows do not declare are found from the plate's
    code, text = run("validate", server.url_for("plate.ome.zarr"), "--json")
    incomplete = json.loads(text)["incomplete"]  # a script sees it too, not only the wording of a warning
    assert code == 0 and incomplete and {"/", "/A"} <= {entry["path"] for entry in incomplete}
    # --strict asks for a complete pass: a CI job must not pass on a partial check (audit J, 5)
    code, text = run("validate", server.url_for("plate.ome.zarr"), "--strict")
    assert code == 1 and "FAILED (incomplete: " in text and "--strict fails on it" in text
    code, text = run("validate", server.url_for("plate.ome.zarr"), "--strict", "--json")
    assert code == 1 and json.loads(text)["passed"] is False and json.loads(text)["errors"] == 0


@pytest.mark.network
def test_info_and_validate_on_a_server_answering_403_for_missing_keys(demo: Path, make_http_server) -> None:  # type: ignore[no-untyped-def]
    """S3 or GCS to a caller who may not list answer 403 for a missing key: a valid OME 0.5 image
    failed validate (exit 1, "some documents could not be read") and a v2 plate lost its wells
    (audit H, 3).  Now both pass, and the way the server answers is said once."""
    server = make_http_server(demo)
    server.listing, server.listing_status, server.missing_status = False, 403, 403
    for store in ("cells.ome.zarr", "plate.ome.zarr"):
        code, text = run("validate", server.url_for(store))
        assert code == 0 and "OK (incomplete: " in text and "error" not in text.replace("0 error(s)", ""), text
        assert text.count("the server answers 403 (access denied) for keys that do not exist") == 1
        code, text = run("info", server.url_for(store))
        assert code == 0 and "ERROR" not in text, text
        assert text.count("note: the server answers 403 (access denied) for keys that do not exist") == 1
        assert "the server does not list" in text and "(HTTP 403 for the folder)" in text
    assert "/labels/nuclei/0" in by_path(info_json(server.url_for("cells.ome.zarr")))
    nodes = by_path(info_json(server.url_for("plate.ome.zarr")))
    assert {"/A/1", "/A/1/0", "/A/1/0/0"} <= nodes.keys() and all(n["kind"] != "error" for n in nodes.values())
    code, text = run("info", server.url_for("nothing.zarr"))
    assert code == 2


def test_s3_options_on_an_http_url_are_left_out_with_a_note(http_server: Any, zarr_stores: Any,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    zarr_stores.sample(str(http_server.root / "s.zarr"), 3)
    url = http_server.url_for("s.zarr")
    code, text = run("info", url, "--anon", "--endpoint-url", "http://127.0.0.1:9", "-O", "key=AKIA",
                     "-O", 'client_kwargs={"region_name": "eu-west-1"}')
    err = capsys.readouterr().err
    assert code == 0, err  # not aiohttp's "unexpected keyword argument 'key'"
    assert "mask  array v3" in text
    assert "key, anon, endpoint_url, client_kwargs.region_name left out: S3 options are not used for http(s) URLs" in err
    # a member of a zip on the server: the archive's scheme decides
    shutil.make_archive(str(http_server.root / "s"), "zip", root_dir=http_server.root / "s.zarr")
    code, text = run("info", f"zip://labels::{http_server.url_for('s.zip')}", "--anon")
    err = capsys.readouterr().err
    assert code == 0, err
    assert "mask  array v3" in text and "anon left out" in err


def test_top_level_help_lists_the_remote_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for option in ("-O, --storage-option KEY=VALUE", "--anon", "--endpoint-url URL", "--timeout SECONDS",
                   "AWS_PROFILE", "ZARR_BROWSER_STORAGE_OPTIONS"):
        assert option in text, option


def test_unreachable_url_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("info", "http://127.0.0.1:9/x.zarr", "--timeout", "3")
    assert code == 2
    assert "http://127.0.0.1:9/x.zarr" in capsys.readouterr().err


# -- what a user's mistakes and a hostile store must not do -------------------------------------


def test_demo_never_deletes_what_it_did_not_write(tmp_path: Path) -> None:
    mine = tmp_path / "d" / "climate.zarr"
    (mine / "subdir").mkdir(parents=True)
    (mine / "precious.txt").write_text("my data")
    for extra in ((), ("--force",)):
        code, _ = run("demo", str(tmp_path / "d"), "--no-open", *extra)
        assert code == 2
        assert (mine / "precious.txt").read_text() == "my data" and (mine / "subdir").is_dir()
    assert not (tmp_path / "d" / "cells.ome.zarr").exists()  # refused before writing anything
    (tmp_path / "file").write_text("x")
    assert run("demo", str(tmp_path / "file"), "--no-open")[0] == 2  # a usage error, not an internal one


def test_demo_finishes_an_interrupted_run_and_honours_old_stamps(tmp_path: Path) -> None:
    from zarr_browser.demo import _STAMP, DEMO_VERSION, write_demo

    root = tmp_path / "d"
    (root / "cells.ome.zarr").mkdir(parents=True)  # a run killed while writing: claimed, half written
    (root / _STAMP).write_text(json.dumps({"version": DEMO_VERSION, "contents": ["cells.ome.zarr"],
                                           "writing": True}))
    written = write_demo(root, size=256)
    assert written.created and (root / "cells.ome.zarr" / "zarr.json").is_file()
    (root / _STAMP).write_text(json.dumps({"version": DEMO_VERSION - 1}))  # an older demo's stamp
    assert write_demo(root, size=256).created  # rewritten: the old stamp claims the demo's stores
    assert not write_demo(root, size=256).created  # and reused once complete


def test_node_names_cannot_drive_the_terminal(tmp_path: Path) -> None:
    store = tmp_path / "names.zarr"
    zarr.open_group(store, mode="w", zarr_format=3)
    hostile = ["x\x1b]0;PWNED\x07\x1b[2J", "new\nline", "rtl\u202eexe.txt"]
    for name in hostile:
        zarr.create_array(str(store / name), shape=(2,), dtype="i1", zarr_format=3)
        doc = json.loads((store / name / "zarr.json").read_text())
        doc["dimension_names"] = ["y", "x"]  # one too many: validate names the node
        (store / name / "zarr.json").write_text(json.dumps(doc))
    for command, exit_code in (("info", 0), ("validate", 1)):
        code, text = run(command, str(store))
        assert code == exit_code, text
        assert not any(c in text for c in "\x1b\x07\u202e"), repr(text)
        assert "x\\x1b]0;PWNED\\x07\\x1b[2J" in text and "new\\x0aline" in text and "rtl\\u202eexe.txt" in text
    code, text = run("info", str(store))
    assert len(text.strip().splitlines()) == 1 + len(hostile)  # a newline in a name forges no line


def test_usage_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.zarr"
    zarr.create_array(str(store), shape=(2,), dtype="i1", zarr_format=3)
    for argv in (["validate", "-O", "foo", str(store)],  # was exit 1, which means "errors found"
                 ["info", "--depth", "-1", str(store)],
                 ["info", "--timeout", "0", str(store)],
                 ["info", "--timeout", "nan", str(store)]):
        with pytest.raises(SystemExit) as exited:
            code = run(*argv)[0]
            raise SystemExit(code)
        assert exited.value.code == 2, argv
    capsys.readouterr()
    for argv, message in ((["info", str(store), "--timeout", "abc"],
                           "zarr-browser info: error: argument --timeout: must be a positive number of seconds, "
                           "got 'abc'"),
                          (["validate", str(store), "--depth", "x"],
                           "zarr-browser validate: error: argument --depth: must be a whole number, got 'x'")):
        assert run(*argv)[0] == 2
        err = capsys.readouterr().err
        assert message in err and "COMMAND" not in err, err  # the subcommand's own usage, no function names
    assert run("valdate", str(store))[0] == 2
    assert "unknown command 'valdate' (did you mean 'validate'?)" in capsys.readouterr().err
    assert run("edit", str(store), "--depth", "1", "--set", "/:/x=1")[0] == 2  # --depth means nothing to edit


def test_unreadable_root_and_files_exit_2_and_json_still_answers(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.zarr"
    broken.mkdir()
    (broken / "zarr.json").write_text('{"zarr_format": 3, "node_type": ')
    for command in ("info", "validate"):
        code, text = run(command, str(broken), "--json")
        assert code == 2
        payload = json.loads(text)
        assert payload["exit"] == 2 and "cannot read the root" in payload["error"]
    document = tmp_path / "multiscales.json"
    document.write_text("{}")
    assert run("validate", str(document))[0] == 2
    assert "is a file, not a zarr store" in capsys.readouterr().err


def test_json_output_is_strict_json(tmp_path: Path) -> None:
    store = tmp_path / "nan.zarr"
    store.mkdir()
    (store / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", '
                                     '"attributes": {"v": NaN, "w": -Infinity}}')
    zarr.create_array(str(store / "a"), shape=(2,), dtype="f4", fill_value=float("nan"), zarr_format=3)
    array_doc = store / "a" / "zarr.json"  # a writer that puts the bare token in (zarr spells it "NaN")
    array_doc.write_text(array_doc.read_text().replace('"fill_value": "NaN"', '"fill_value": NaN'))
    assert '"fill_value": NaN' in array_doc.read_text()

    def strict(text: str) -> Any:
        def refuse(token: str) -> Any:
            raise AssertionError(f"bare {token} in JSON output")
        return json.loads(text, parse_constant=refuse)

    for command in ("info", "validate"):
        code, text = run(command, str(store), "--json")
        assert code in (0, 1), text
        strict(text)
    nodes = by_path(strict(run("info", str(store), "--json")[1]))
    assert nodes["/a"]["fill_value"] == "NaN"


def test_validate_reads_a_remote_store_itself_not_its_consolidated_copy(http_server: Any, tmp_path: Path) -> None:
    import zarr

    store = http_server.root / "stale.zarr"
    root = zarr.open_group(str(store), mode="w", zarr_format=2)
    root.create_array("a", shape=(2,), dtype="u1")
    zarr.consolidate_metadata(str(store))
    root.create_array("added_later", shape=(2,), dtype="u1")  # not in .zmetadata
    local = json.loads(run("validate", str(store), "--json")[1])
    code, text = run("validate", http_server.url_for("stale.zarr"), "--json")
    remote = json.loads(text)
    assert [(i["path"], i["message"]) for i in remote["issues"]] == [(i["path"], i["message"]) for i in local["issues"]]
    assert any(i["path"] == "/added_later" for i in remote["issues"]) and remote["notes"] == []
    http_server.listing = False  # a server without index pages: the copy is all there is, and the user is told
    code, text = run("validate", http_server.url_for("stale.zarr"))
    assert code == 0 and text.startswith("note: the server cannot list its contents")


def test_remote_info_says_it_shows_the_consolidated_copy(http_server: Any) -> None:
    """A node added after consolidation was silently missing from remote `info` (audit B, F11)."""
    store = http_server.root / "stale.zarr"
    root = zarr.open_group(str(store), mode="w", zarr_format=2)
    root.create_array("a", shape=(2,), dtype="u1")
    zarr.consolidate_metadata(str(store))
    root.create_array("added_later", shape=(2,), dtype="u1")
    url = http_server.url_for("stale.zarr")
    code, text = run("info", url)
    assert code == 0 and "/added_later" not in text
    assert text.splitlines()[-1].startswith("note: the nodes come from the consolidated metadata (one request)")
    assert "--no-consolidated reads the store itself" in text
    payload = info_json(url, "--no-consolidated")
    assert by_path(payload)["/added_later"]["consolidated"] == "absent" and payload["notes"] == []
    assert "not shown" in info_json(url)["notes"][0]
    assert info_json(store)["notes"] == []  # a local store is read node by node


@pytest.mark.parametrize("where", ["disk", "http"])
def test_badges_do_not_depend_on_depth(demo: Path, make_http_server: Any, where: str) -> None:
    """A dataset in a folder of stores is told by its own consolidated copy, listed or not (over
    HTTP a child group's .zmetadata was not read: the badges changed with --depth)."""
    url = str(demo) if where == "disk" else make_http_server(demo).url_for("")
    shallow = conventions(by_path(info_json(url, "--depth", "1"))["/climate.zarr"])
    deep = conventions(by_path(info_json(url))["/climate.zarr"])
    assert {"xarray", "cf"} <= shallow.keys() and shallow.keys() == deep.keys()


@pytest.mark.parametrize("argv", [
    ["validate", "--json", "--depth", "x", "."],
    ["validate", "--json"],
    ["validate", "--json", "--bogus", "."],
    ["info", "--timeout", "0", "--json", "."],
])
def test_usage_errors_still_give_one_json_object(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """A pipeline doing json.load(stdout) crashed on argparse's errors: stdout was empty (audit B)."""
    code, text = run(*argv)
    assert code == 2
    payload = json.loads(text)
    assert payload["exit"] == 2 and payload["error"].startswith("usage: ")
    assert "error:" in capsys.readouterr().err  # argparse's own message, as before


def test_an_empty_url_is_a_usage_error_and_json_names_paths_absolute(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """'' was the current directory; a JSON error named the path as typed, relative (audit B)."""
    code, text = run("validate", "", "--json")
    assert code == 2 and json.loads(text)["error"] == "usage: argument url: is empty (use '.' for the current directory)"
    monkeypatch.chdir(tmp_path)
    code, text = run("info", "does/not/exist", "--json")
    assert code == 2 and json.loads(text)["url"] == str(tmp_path / "does" / "not" / "exist")


def test_store_options_before_the_command(demo: Path) -> None:
    """`zarr-browser --timeout 5 info URL` was a usage error (audit B, F5)."""
    url = str(demo / "cells.ome.zarr")
    assert run("--timeout", "5", "--json", "info", url) == run("info", url, "--json", "--timeout", "5")
    code, text = run("--timeout=5", "-v", "--json", "validate", url)
    assert code == 0 and json.loads(text)["errors"] == 0
    assert run("--timeout", "5", "demo", "--no-open", str(demo))[0] == 2  # demo reads no store


def test_more_logging_after_a_command_and_before_a_url(demo: Path) -> None:
    for argv in (["validate", "-v", str(demo / "cells.ome.zarr")], ["info", str(demo / "cells.ome.zarr"), "-vv"],
                 ["demo", "--no-open", "-v", str(demo)]):
        code, _text = run(*argv)
        assert code == 0, argv
    assert build_parser().parse_args(["validate", "-vv", "x"]).verbose == 2


def test_a_validation_to_a_depth_says_what_it_left_out(tmp_path: Path) -> None:
    """`--depth 0` said a plain OK for a store whose child is broken (audit B)."""
    root = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    root.create_group("child")
    (tmp_path / "s.zarr" / "child" / "zarr.json").write_text('{"zarr_format": 3, "node_ty')
    code, text = run("validate", str(tmp_path / "s.zarr"), "--depth", "0")
    assert code == 0 and "OK (to depth 0 only: nodes below it were not checked)" in text
    code, text = run("validate", str(tmp_path / "s.zarr"), "--depth", "0", "--json")
    assert json.loads(text)["depth"] == 0
    assert run("validate", str(tmp_path / "s.zarr"))[0] == 1  # all of it: the broken child is found


def test_a_validation_says_what_it_read_but_did_not_check(tmp_path: Path) -> None:
    """A 0.6 release candidate passed with a plain OK, even with --strict (audit B, F10)."""
    root = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    root.create_array("0", shape=(4, 4), dtype="u1")
    root.attrs["ome"] = {"version": "0.6rc0", "multiscales": [{"datasets": [{"path": "0"}]}]}
    code, text = run("validate", str(tmp_path / "s.zarr"))
    assert code == 0 and text.splitlines()[-1].startswith(
        "OK (not fully validated: 1 node(s) carry metadata this tool reads but does not check: /): 0 error(s)")
    code, text = run("validate", str(tmp_path / "s.zarr"), "--strict", "--json")
    payload = json.loads(text)
    assert code == 1 and payload["passed"] is False and payload["errors"] == 0
    assert payload["unchecked"] == [{"path": "/", "reason": "OME-NGFF 0.6rc0 is read-only; not validated"}]
    code, text = run("validate", str(tmp_path / "s.zarr"), "--strict")
    assert code == 1 and text.splitlines()[-1].startswith("FAILED (not fully validated: 1 node(s)")
    assert "--strict fails on it" in text


def test_text_and_json_count_the_same_warnings_on_a_server_that_cannot_list(http_server: Any, tmp_path: Path) -> None:
    root = zarr.open_group(http_server.root / "s.zarr", mode="w", zarr_format=2)
    root.create_group("a").create_array("x", shape=(2,), dtype="i1")
    http_server.listing = False
    url = http_server.url_for("s.zarr")
    _code, text = run("validate", url)
    _code, payload = run("validate", url, "--json")
    counted = int(text.strip().splitlines()[-1].split(" warning(s)")[0].rsplit(" ", 1)[-1])
    assert json.loads(payload)["incomplete"] and json.loads(payload)["warnings"] == counted


def test_info_and_validate_walk_below_a_group_whose_document_is_broken(tmp_path: Path) -> None:
    """The group stays an error; what lies below it is listed and checked (it was left out)."""
    store = tmp_path / "g.zarr"
    root = zarr.open_group(store, mode="w", zarr_format=3)
    inner = root.create_group("broken").create_group("inner")
    inner.create_array("good", shape=(2,), dtype="i1")[:] = 1
    inner.create_array("bad", shape=(2,), dtype="i1")
    (store / "broken" / "zarr.json").write_text('{"zarr_format": 3, "node_type": "group", "attributes": {"a": [1,}')
    (store / "broken" / "inner" / "bad" / "zarr.json").write_text('{"zarr_format": 3, "node_type": "array"}')
    nodes = by_path(info_json(store))
    assert {p: nodes[p]["kind"] for p in nodes} == {"/": "group", "/broken": "error", "/broken/inner": "group",
                                                    "/broken/inner/good": "array", "/broken/inner/bad": "error"}
    assert "broken/zarr.json: invalid JSON" in nodes["/broken"]["error"]
    code, text = run("validate", str(store), "--json")
    payload = json.loads(text)
    assert code == 1 and payload["errors"] == 2
    assert {i["path"] for i in payload["issues"] if i["severity"] == "error"} == {"/broken", "/broken/inner/bad"}
    code, text = run("validate", str(store))
    assert code == 1 and "in 5 node(s)" in text


def test_long_runs_show_progress_on_a_terminal_only(demo: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`validate` of 5,000 arrays ran silent for minutes (audit H, 6): on a terminal one line
    says how far it is, rewritten in place and cleared before the results; a pipe gets nothing."""
    import io
    import sys

    from zarr_browser import cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    code, _text = run("validate", str(demo / "plate.ome.zarr"))
    assert code == 0 and "validating:" not in capsys.readouterr().err  # not a terminal: nothing
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(cli._TerminalProgress, "DELAY", 0.0)
    monkeypatch.setattr(cli._TerminalProgress, "INTERVAL", 0.0)
    for command in ("validate", "info"):
        terminal.seek(0)
        terminal.truncate()
        out = io.StringIO()
        assert cli.main([command, str(demo / "plate.ome.zarr")], out=out) == 0
        shown = terminal.getvalue()
        verb = "validating" if command == "validate" else "listing"
        assert f"\r{verb}: " in shown and " node(s) so far… /" in shown
        assert shown.endswith("\r") and shown.rsplit(f"\r{verb}", 1)[1].count("\r") == 2  # cleared at the end
        assert verb not in out.getvalue()
