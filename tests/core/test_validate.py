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
    # (round trips are requests that overlap in time: at 10 ms a client slowed by a loaded machine
    # sent one level's requests in several waves, 25 round trips once on a fresh install)
    server.latency = 0.1
    server.reset_stats()
    report = validate_hierarchy(Hierarchy.open(server.url_for("many.zarr")), default_registry())
    assert report.nodes_checked == 301 and not report.errors
    stats = server.stats
    assert stats.round_trips <= 15, stats.round_trips  # node by node this was more than 150
    assert not any(p.endswith((".zarray", ".zgroup")) for p in stats.by_path if p.count("/") > 1)


def test_a_plate_on_a_server_that_cannot_list_is_walked_from_its_metadata(tmp_path: Path, http_server) -> None:  # type: ignore[no-untyped-def]
    """Static hosting without directory indexes (nginx, S3 websites): the plate's own metadata
    names its wells two levels down (``A/1``); the rows, which declare nothing, still get them,
    so every well is walked and none is reported missing."""
    import shutil

    from zarr_browser.demo import write_demo

    demo = write_demo(tmp_path / "demo", size=64).root
    shutil.copytree(demo / "plate.ome.zarr", http_server.root / "plate.ome.zarr")
    registry = default_registry()
    local = validate_hierarchy(Hierarchy.open(str(demo / "plate.ome.zarr"), hints=registry.child_hints), registry)
    http_server.listing = False
    hierarchy = Hierarchy.open(http_server.url_for("plate.ome.zarr"), hints=registry.child_hints)
    listing = hierarchy.children("/A")
    assert listing.source == "hints" and not listing.complete
    assert [n.name for n in listing.nodes] == sorted(p.name for p in (demo / "plate.ome.zarr" / "A").iterdir()
                                                     if p.is_dir())
    report = validate_hierarchy(hierarchy, registry)
    assert report.nodes_checked == local.nodes_checked
    assert not [i for i in report.issues if "no group at" in i.message], report.issues
