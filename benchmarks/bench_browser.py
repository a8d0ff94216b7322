"""Browser-window benchmark: expanding a group of 10,000 arrays, locally and over 20 ms HTTP.

Runs the measuring test ``tests/qt/test_window.py -k 10k`` several times (each run opens a
real window offscreen on a consolidated 10,000-array store, over the local disk and over a
loopback HTTP server adding 20 ms per request) and prints the medians and worst values of
"first rows shown" and "longest event-loop stall" against the targets (0.5 s and 100 ms).

Run: ``.venv/bin/python benchmarks/bench_browser.py [--runs 5]`` (needs a display or Xvfb;
offscreen Qt is used when there is none).  A group of 100,000 arrays, listed, sorted and
filtered in the window ``zarr-browser URL`` shows: ``benchmarks/bench_big_group.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"\[(?P<case>[^\]]+)\] 10,000 arrays: first rows (?P<first>\d+) ms, all rows (?P<all>\d+) ms, "
                  r"longest event-loop stall (?P<stall>\d+) ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    figures: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for _ in range(args.runs):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/qt/test_window.py", "-k", "10k", "-s", "-q", "-p", "no:xvfb",
             "-p", "no:cacheprovider"],
            cwd=ROOT, env=env, capture_output=True, text=True,
        )
        for match in LINE.finditer(proc.stdout):
            for key in ("first", "all", "stall"):
                figures[match["case"]][key].append(int(match["stall" if key == "stall" else key]))
        if proc.returncode != 0:
            print(proc.stdout[-3000:], file=sys.stderr)
            raise SystemExit("the measuring test failed")
    print(f"{'case':<18} {'first rows (median / worst)':>28} {'stall (median / worst)':>24} {'all rows':>10}")
    for case, values in figures.items():
        first, stall, total = values["first"], values["stall"], values["all"]
        print(f"{case:<18} {statistics.median(first):>15.0f} / {max(first):>5} ms {statistics.median(stall):>12.0f} / "
              f"{max(stall):>5} ms {statistics.median(total):>7.0f} ms")
    print(f"targets: first rows ≤ 500 ms, stall ≤ 100 ms; {args.runs} runs; 'tree only' replaces the inspector by a no-op")


if __name__ == "__main__":
    main()
