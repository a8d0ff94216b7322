"""On-demand storage diagnostics: counts, bytes, ratio, progress and cancel."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import zarr

from zarr_browser.core.diagnostics import diagnose_array
from zarr_browser.core.hierarchy import Hierarchy


def _open(store: Path, path: str):  # type: ignore[no-untyped-def]
    hierarchy = Hierarchy.open(str(store))
    return hierarchy.access, hierarchy.node(path)


def test_partially_written_v3_array(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(100, 100), chunks=(10, 10), dtype="u2", fill_value=0)
    arr[:30, :] = 7  # 3 rows of 10 chunks
    access, node = _open(tmp_path / "s.zarr", "/x")
    seen: list[tuple[int, int]] = []
    diag = diagnose_array(access, node, progress=lambda done, total: seen.append((done, total)), report_every=5)
    assert (diag.unit, diag.expected, diag.initialised) == ("chunks", 100, 30)
    assert diag.logical_bytes == 100 * 100 * 2
    assert diag.bytes_stored > 0 and diag.ratio is not None and diag.ratio > 1
    assert seen[-1] == (30, 100)
    assert diag.fraction_initialised == 0.3


def test_v2_nested_and_stray_keys(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    arr = group.create_array("x", shape=(4, 4), chunks=(2, 2), dtype="f4",
                             chunk_key_encoding={"name": "v2", "separator": "/"})
    arr[...] = np.ones((4, 4))
    (tmp_path / "s.zarr" / "x" / "notes.txt").write_text("not a chunk")
    access, node = _open(tmp_path / "s.zarr", "/x")
    diag = diagnose_array(access, node)
    assert (diag.expected, diag.initialised, diag.stray) == (4, 4, 1)


def test_sharded_counts_shards(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(64, 64), chunks=(8, 8), shards=(32, 32), dtype="u1")
    arr[:32, :] = 1
    access, node = _open(tmp_path / "s.zarr", "/x")
    diag = diagnose_array(access, node)
    assert (diag.unit, diag.expected, diag.initialised) == ("shards", 4, 2)


def test_cancel_stops_early(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(400,), chunks=(1,), dtype="u1", fill_value=0)
    arr[...] = 1
    access, node = _open(tmp_path / "s.zarr", "/x")
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 100:
            cancel.set()

    diag = diagnose_array(access, node, progress=progress, cancel=cancel, report_every=50)
    assert diag.cancelled
    assert diag.initialised < 400
