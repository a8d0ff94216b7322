"""The safety gate: hostile codecs and sizes are refused before any chunk is decoded."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.safety import Limits, check_array, check_environment, open_array
from zarr_browser.errors import UnsafeArrayError, UnsafeEnvironmentError


class _Payload:
    """Unpickling this creates a marker file: proof that code from the store ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def _string_array_v2(root: Path, name: str) -> Path:
    """A real v2 string array written by zarr (dtype |O, filters [vlen-utf8])."""
    group = zarr.open_group(root, mode="a", zarr_format=2)
    arr = group.create_array(name, shape=(2,), chunks=(2,), dtype=str)
    arr[...] = np.array(["a", "b"])
    return root / name


def _poison(array_dir: Path, marker: Path, *, filters=None, compressor=None, dtype=None) -> None:
    meta = json.loads((array_dir / ".zarray").read_text())
    if filters is not None:
        meta["filters"] = filters
    if compressor is not None:
        meta["compressor"] = compressor
    if dtype is not None:
        meta["dtype"] = dtype
    (array_dir / ".zarray").write_text(json.dumps(meta))
    (array_dir / "0").write_bytes(pickle.dumps(_Payload(str(marker))))


BYPASSES = {
    "filters-vlen-utf8-then-pickle": {"filters": [{"id": "vlen-utf8"}, {"id": "pickle"}]},
    "filters-vlen-bytes-then-pickle": {"filters": [{"id": "vlen-bytes"}, {"id": "pickle"}]},
    "vlen-utf8-filter-pickle-compressor": {"filters": [{"id": "vlen-utf8"}], "compressor": {"id": "pickle"}},
    "pickle-alone": {"filters": [{"id": "pickle"}]},
    "float-with-pickle-compressor": {"filters": None, "compressor": {"id": "pickle"}, "dtype": "<f8"},
}


@pytest.mark.parametrize("case", sorted(BYPASSES))
def test_pickle_payload_is_never_run(tmp_path: Path, case: str) -> None:
    store = tmp_path / "evil.zarr"
    array_dir = _string_array_v2(store, "x")
    marker = tmp_path / "marker"
    spec = dict(BYPASSES[case])
    filters = spec.pop("filters", None)
    if filters is None and "compressor" in spec:
        meta = json.loads((array_dir / ".zarray").read_text())
        meta["filters"] = None
        (array_dir / ".zarray").write_text(json.dumps(meta))
    _poison(array_dir, marker, filters=filters, **spec)

    hierarchy = Hierarchy.open(str(store))
    node = hierarchy.node("/x")
    reasons = check_array(node)
    assert any("'pickle'" in r and "executes code" in r for r in reasons), reasons
    with pytest.raises(UnsafeArrayError, match=r"/x.*'pickle'"):
        open_array(hierarchy.access, node)
    assert not marker.exists()


@pytest.mark.parametrize("codec", ["json2", "msgpack2", "vlen-array", "no-such-codec"])
def test_object_and_unknown_codecs_are_refused(tmp_path: Path, codec: str) -> None:
    store = tmp_path / "s.zarr"
    array_dir = _string_array_v2(store, "x")
    meta = json.loads((array_dir / ".zarray").read_text())
    meta["filters"] = [{"id": "vlen-utf8"}, {"id": codec}]
    (array_dir / ".zarray").write_text(json.dumps(meta))
    node = Hierarchy.open(str(store)).node("/x")
    with pytest.raises(UnsafeArrayError, match=codec):
        open_array(Hierarchy.open(str(store)).access, node)


def test_v3_numcodecs_pickle_and_unknown_codecs_refused(tmp_path: Path) -> None:
    store = tmp_path / "v3.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=3)
    group.create_array("x", shape=(4,), dtype="f8")
    doc = json.loads((store / "x" / "zarr.json").read_text())
    doc["codecs"] = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "numcodecs.pickle"}]
    (store / "x" / "zarr.json").write_text(json.dumps(doc))
    node = Hierarchy.open(str(store)).node("/x")
    assert any("numcodecs.pickle" in r for r in check_array(node))


def test_sharded_inner_codecs_are_checked(tmp_path: Path) -> None:
    store = tmp_path / "sh.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=3)
    group.create_array("x", shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="u1")
    doc = json.loads((store / "x" / "zarr.json").read_text())
    doc["codecs"][0]["configuration"]["codecs"].append({"name": "evil"})
    (store / "x" / "zarr.json").write_text(json.dumps(doc))
    node = Hierarchy.open(str(store)).node("/x")
    assert any("'evil'" in r for r in check_array(node))


def test_absurd_sizes_refused_before_allocation(tmp_path: Path) -> None:
    store = tmp_path / "big.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=2)
    group.create_array("x", shape=(4, 4), chunks=(2, 2), dtype="u2")
    meta = json.loads((store / "x" / ".zarray").read_text())
    meta["shape"] = [10**18, 10**18]
    meta["chunks"] = [32768, 32768]  # one chunk decodes to 2 GiB
    (store / "x" / ".zarray").write_text(json.dumps(meta))
    node = Hierarchy.open(str(store)).node("/x")
    assert node.array is not None and node.array.shape == (10**18, 10**18)
    with pytest.raises(UnsafeArrayError, match=r"2\.0 GiB"):
        open_array(Hierarchy.open(str(store)).access, node, Limits())


def test_safe_array_reads_through_the_gate(tmp_path: Path) -> None:
    store = tmp_path / "ok.zarr"
    group = zarr.open_group(store, mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(6, 6), chunks=(3, 3), dtype="i4")
    arr[...] = np.arange(36).reshape(6, 6)
    hierarchy = Hierarchy.open(str(store))
    data = open_array(hierarchy.access, hierarchy.node("/x"))[...]
    np.testing.assert_array_equal(data, np.arange(36).reshape(6, 6))


def test_environment_guard_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    check_environment()  # this environment is safe
    monkeypatch.setenv("NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE", "1")
    with pytest.raises(UnsafeEnvironmentError, match="NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE"):
        check_environment()


def test_cli_refuses_unsafe_environment(tmp_path: Path) -> None:
    zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=3)
    env = {**os.environ, "NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE": "yes"}
    proc = subprocess.run(
        [sys.executable, "-m", "zarr_browser", "info", str(tmp_path / "g.zarr")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2
    assert "unsafe pickle decoding" in proc.stderr
