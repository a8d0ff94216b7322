"""Listing benchmarks: ``zarr-browser info --depth 1`` on a group of 10,000 arrays.

Compares, in the same run on the same data, against what a user does today with zarr-python:
``zarr.open_group(...).members()`` (which also fails for the whole group if one child is
broken).  Prints medians over repeated runs and the ratio.

Run: ``.venv/bin/python benchmarks/bench_listing.py [--arrays 10000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import zarr


def make_group(root: Path, n: int, zarr_format: int) -> Path:
    """A group of *n* arrays: one written by zarr, its metadata copied n-1 times (fast)."""
    path = root / f"many-v{zarr_format}.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    group.create_array("a0", shape=(100, 100), chunks=(10, 10), dtype="f4")
    group["a0"].attrs["units"] = "m"
    template = path / "a0"
    for i in range(1, n):
        shutil.copytree(template, path / f"a{i}")
    return path


def time_command(argv: list[str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{argv} failed: {proc.stderr[-2000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrays", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "zarr_browser"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in (2, 3):
            store = make_group(Path(tmp), args.arrays, fmt)
            ours = time_command([*exe, "info", str(store), "--depth", "1", "--json"], args.repeat)
            anchor_code = (
                f"import zarr; g = zarr.open_group({str(store)!r}, mode='r', use_consolidated=False); "
                "print(len(list(g.members())))"
            )
            anchor = time_command([sys.executable, "-c", anchor_code], args.repeat)
            rows.append((f"info --depth 1, {args.arrays} arrays, zarr v{fmt}", statistics.median(ours),
                         statistics.median(anchor)))
    print(f"{'measure':<42} {'zarr-browser':>13} {'zarr members()':>15} {'ratio':>7}")
    for name, ours_s, anchor_s in rows:
        print(f"{name:<42} {ours_s:>12.2f}s {anchor_s:>14.2f}s {ours_s / anchor_s:>7.2f}")
    print("(wall time of the whole command, process start-up included; medians of", args.repeat, "runs)")


if __name__ == "__main__":
    main()
