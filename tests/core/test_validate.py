"""The validation walk: depth, progress, cancel, and listing problems reported."""

from __future__ import annotations

import threading
from pathlib import Path

import zarr

from zarr_browser.core.conventions import default_registry
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.validate import validate_hierarchy


def _tree(root: Path, groups: int = 20, arrays: int = 5) -> Path:
    top = zarr.open_group(root, mode="w", zarr_format=3)
    for g in range(groups):
        group = top.create_group(f"g{g}")
        for a in range(arrays):
            group.create_array(f"a{a}", shape=(2,), dtype="i1")
    return root


def test_walks_every_node_with_progress(tmp_path: Path) -> None:
    hierarchy = Hierarchy.open(str(_tree(tmp_path / "t.zarr")))
    seen: list[str] = []
    report = validate_hierarchy(hierarchy, default_registry(), progress=lambda n, path: seen.append(path))
    assert report.nodes_checked == 1 + 20 + 100 == len(seen)
    assert seen[0] == "/" and not report.cancelled and report.errors == []


def test_depth_limits_the_walk(tmp_path: Path) -> None:
    hierarchy = Hierarchy.open(str(_tree(tmp_path / "t.zarr")))
    assert validate_hierarchy(hierarchy, default_registry(), depth=0).nodes_checked == 1
    assert validate_hierarchy(hierarchy, default_registry(), depth=1).nodes_checked == 21
    assert validate_hierarchy(hierarchy, default_registry(), path="/g3").nodes_checked == 6


def test_cancel_stops_the_walk_early(tmp_path: Path) -> None:
    hierarchy = Hierarchy.open(str(_tree(tmp_path / "t.zarr")))
    cancel = threading.Event()

    def progress(done: int, path: str) -> None:
        if done == 10:
            cancel.set()

    report = validate_hierarchy(hierarchy, default_registry(), progress=progress, cancel=cancel, batch=4)
    assert report.cancelled
    assert report.nodes_checked == 10


def test_a_remote_store_is_validated_level_by_level_not_node_by_node(http_server: object) -> None:
    """The checks of a group look at its children: they are listed for a whole level at once.
    Children of a v3 group are asked for zarr.json only (v2 documents where it is absent)."""
    from typing import Any

    server: Any = http_server
    root = zarr.open_group(str(server.root / "many.zarr"), mode="w", zarr_format=3)
    for i in range(150):
        root.create_group(f"g{i:03d}").create_array("a", shape=(2,), dtype="u1")
    server.latency = 0.01
    server.reset_stats()
    report = validate_hierarchy(Hierarchy.open(server.url_for("many.zarr")), default_registry())
    assert report.nodes_checked == 301 and not report.errors
    stats = server.stats
    assert stats.round_trips <= 15, stats.round_trips  # node by node this was more than 150
    assert not any(p.endswith((".zarray", ".zgroup")) for p in stats.by_path if p.count("/") > 1)
