"""One command for the reliability figures: hostile corpus, fuzzing, network faults.

    .venv/bin/python benchmarks/reliability.py            # the CI suites (~1.5 min)
    .venv/bin/python benchmarks/reliability.py --long     # + slow tests, 2000 fuzz examples

Runs ``pytest tests/hostile`` with ``ZARR_BROWSER_RELIABILITY_JSON`` set (tests/hostile/conftest.py
writes the figures there), prints one row per suite and exits non-zero when pytest failed or a
figure that must be zero is not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUST_BE_ZERO = ("code_executions", "outside_reads", "wrong_data")
COLUMNS = [
    ("suite", "suite"),
    ("cases", "cases tried"),
    ("code_executions", "code exec"),
    ("outside_reads", "reads outside root"),
    ("reported", "bad nodes reported"),
    ("wrong_data", "wrong data"),
    ("failed_reads", "failed reads (named)"),
    ("unwrapped_zarr_errors", "unwrapped zarr errors"),
    ("max_stall_ms", "longest stall ms"),
    ("max_hang_s", "longest hang s"),
    ("hangs", "killed at 15 s"),
    ("max_rss_mb", "peak RSS MB"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="run slow tests and a long fuzzing run")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "figures.json"
        env = {**os.environ, "ZARR_BROWSER_RELIABILITY_JSON": str(target)}
        command = [sys.executable, "-m", "pytest", "tests/hostile", "-q", "-p", "no:xvfb", "-p", "no:cacheprovider"]
        xvfb = shutil.which("xvfb-run")
        if not os.environ.get("DISPLAY"):
            if xvfb:  # napari's canvas needs GL: a virtual X display, not offscreen Qt
                command = [xvfb, "-a", "-s", "-screen 0 1280x1024x24", *command]
            else:
                env.setdefault("QT_QPA_PLATFORM", "offscreen")
        if args.long:
            env["ZARR_BROWSER_FUZZ_EXAMPLES"] = env.get("ZARR_BROWSER_FUZZ_EXAMPLES", "2000")
        else:
            command += ["-m", "not slow"]
        proc = subprocess.run([*command, *args.pytest_args], cwd=ROOT, env=env)
        if not target.exists():
            print("no figures were written (did the tests run?)", file=sys.stderr)
            return 1
        payload = json.loads(target.read_text())
    figures = payload["figures"]
    rows = []
    for suite in sorted(figures):
        row = figures[suite]
        cells = [suite]
        for key, _ in COLUMNS[1:]:
            value = row.get(key)
            if key == "reported" and value is not None:
                value = f"{value}/{row.get('expected_reports', 0)}"
            cells.append("-" if value is None else str(value))
        rows.append(cells)
    headers = [h for _, h in COLUMNS]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print("\n" + line)
    print("-|-".join("-" * w for w in widths))
    for cells in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    bad = [f"{suite}: {key} = {row[key]}" for suite, row in figures.items() for key in MUST_BE_ZERO if row.get(key)]
    print()
    if bad:
        print("FIGURES THAT MUST BE ZERO ARE NOT:\n  " + "\n  ".join(bad))
    print(f"pytest exit status: {proc.returncode}")
    return 1 if bad or proc.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
