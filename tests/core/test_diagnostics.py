"""On-demand storage diagnostics: counts, bytes, ratio, progress and cancel."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
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


def test_ratio_is_that_of_the_chunks_stored(tmp_path: Path) -> None:
    """Random numbers in one chunk of four: they hardly compress, whatever is not written
    (the logical size of the whole array over the bytes stored said 4.17 ×)."""
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(2000, 2000), chunks=(1000, 1000), dtype="f8", fill_value=float("nan"))
    arr[:1000, :1000] = np.random.default_rng(0).normal(size=(1000, 1000))
    access, node = _open(tmp_path / "s.zarr", "/x")
    diag = diagnose_array(access, node)
    assert (diag.initialised, diag.expected) == (1, 4)
    assert diag.logical_bytes == 2000 * 2000 * 8 and diag.decoded_bytes == 1000 * 1000 * 8
    assert diag.ratio is not None and 1.0 < diag.ratio < 1.1


def test_edge_chunks_count_the_part_inside_the_array(tmp_path: Path) -> None:
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=2)
    arr = group.create_array("x", shape=(150, 30), chunks=(100, 20), dtype="i4", fill_value=0)
    arr[100:, :] = 5  # the two edge chunks of the last row: 50×20 and 50×10 elements inside
    access, node = _open(tmp_path / "s.zarr", "/x")
    diag = diagnose_array(access, node)
    assert (diag.initialised, diag.expected) == (2, 4)
    assert diag.decoded_bytes == 50 * 30 * 4
    assert diag.ratio == diag.decoded_bytes / diag.bytes_stored


@pytest.mark.parametrize("location", ["end", "start"])
def test_shards_count_the_inner_chunks_their_index_lists(tmp_path: Path, location: str) -> None:
    """zarr-python leaves out inner chunks that hold only the fill value: a shard with one
    inner chunk written of 25 holds 1/25 of a shard's data."""
    group = zarr.open_group(tmp_path / "s.zarr", mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(100, 95), chunks=(10, 10), dtype="f8", fill_value=0,
                             shards={"shape": (50, 50), "index_location": location})
    arr[:10, :10] = np.random.default_rng(1).normal(size=(10, 10))
    arr[90:, 90:] = 1.0  # the corner inner chunk: 10×5 elements inside the array
    access, node = _open(tmp_path / "s.zarr", "/x")
    diag = diagnose_array(access, node)
    assert (diag.unit, diag.initialised, diag.expected) == ("shards", 2, 4)
    assert diag.decoded_bytes == (10 * 10 + 10 * 5) * 8
    assert (diag.inner_initialised, diag.inner_expected) == (2, 25 + 25)
    assert not diag.shards_counted_whole
    assert diag.ratio is not None and diag.ratio < 1.5  # random data and two indexes: no compression


def test_remote_shards_beyond_the_bound_count_whole(http_server, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from zarr_browser.core import diagnostics

    group = zarr.open_group(http_server.root / "s.zarr", mode="w", zarr_format=3)
    arr = group.create_array("x", shape=(40, 40), chunks=(5, 5), shards=(20, 20), dtype="u1", fill_value=0)
    arr[:5, :5] = 1
    arr[20:25, 20:25] = 2
    hierarchy = Hierarchy.open(http_server.url_for("s.zarr"))
    node = hierarchy.node("/x")
    diag = diagnose_array(hierarchy.access, node)  # two shards: their indexes are read
    assert (diag.inner_initialised, diag.inner_expected, diag.decoded_bytes) == (2, 32, 2 * 25)
    monkeypatch.setattr(diagnostics, "REMOTE_INDEX_READS", 1)
    diag = diagnose_array(hierarchy.access, node)
    assert diag.shards_counted_whole and diag.inner_initialised is None
    assert diag.decoded_bytes == 2 * 20 * 20
