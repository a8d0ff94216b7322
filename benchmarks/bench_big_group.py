"""Browser-window benchmark on a group of 100,000 arrays, against zarr-python's ``members()``.

Builds (once, reused) a group of N arrays in each layout asked for: ``v3`` (one ``zarr.json``
per array, no consolidated metadata), ``v3-consolidated`` and ``v2-consolidated``.  One array
(100×100 float32, chunks 10×10, dimension names, a ``units`` attribute) is written by
zarr-python; its metadata files (no chunks) are copied N-1 times, and the consolidated layouts
are consolidated by ``zarr.consolidate_metadata``.

Each run measures, each in a new process (so its RSS is the store's alone):

- *ours*: the window ``zarr-browser URL`` shows (:func:`zarr_browser.qt.app.make_browser`,
  HeapKeeper included) opens the group; once the first rows are in, *List the other N children*
  of the root's context menu lists the rest.  Measured: open → first rows, open → all rows,
  the longest event-loop stall meanwhile (a 10 ms timer's longest gap), RSS growth per row,
  End (the last row) → inspector idle, a click on the Name header (twice: ascending, then
  descending is meant) and on the Shape header, typing the last array's name in the filter
  box, and Esc clearing it (each: the longest stall);
- *members()*: ``zarr.open_group(path, mode="r").members()`` listed completely (wall time and
  RSS growth per member), what a zarr-python user does to see the same children.

Prints a markdown table of medians and worst values per layout, with the targets: every stall
≤ 100 ms (the project's "the GUI never freezes"), then what a run got wrong, if anything
(rows missing, the wrong row selected or first after the sort).  Linux (RSS from
``/proc/self/status``); offscreen Qt when there is no display.

Run: ``.venv/bin/python benchmarks/bench_big_group.py [--arrays 100000] [--runs 3]
[--layouts v3,v3-consolidated,v2-consolidated] [--data DIR]``.  The first time, building the
three layouts of 100,000 arrays takes ~1.5 minutes on a 2-core machine, most of it
``zarr.consolidate_metadata`` (~35 s a consolidated layout); a run then takes ~1 minute a
layout (3 runs of the three layouts: ~8.5 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.stall, and this checkout's zarr_browser

LAYOUTS = ("v3", "v3-consolidated", "v2-consolidated")
DATA_VERSION = 1
STALL_TARGET_MS = 100
#: the keys of a window run's JSON line (the smoke test checks them)
WINDOW_KEYS = ("rows", "first_page_rows", "list_action", "open_s", "first_rows_s", "all_rows_s", "list_rest_s",
               "listing_stall_ms", "rss_start_mb", "rss_per_row_kb", "peak_rss_mb", "select_last_s",
               "select_last_stall_ms", "current", "sort_name_stall_ms", "sort_shape_stall_ms", "first_after_sort",
               "filter_text", "filter_rows", "filter_s", "filter_stall_ms", "clear_rows", "clear_stall_ms")
MEMBERS_KEYS = ("members", "members_s", "rss_per_member_kb")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------


def default_data_dir() -> Path:
    return Path(tempfile.gettempdir()) / "zarr-browser-bench-big-group"


def build(data: Path, arrays: int, layouts: Sequence[str], *,
          log: Callable[[str], None] = log) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Write (or reuse) the group of *arrays* arrays in each of *layouts*, below ``data/<arrays>``.

    A store is written as ``<layout>.zarr.partial`` and renamed when complete; the stamp
    ``<layout>.json`` beside it records how long it took.  Returns ``{layout: (path, stamp)}``.
    """
    base = data.expanduser().resolve() / str(arrays)
    base.mkdir(parents=True, exist_ok=True)
    out = {}
    for layout in layouts:
        path, stamp_path = base / f"{layout}.zarr", base / f"{layout}.json"
        stamp: dict[str, Any] = {}
        if path.is_dir() and stamp_path.is_file():
            try:
                stamp = json.loads(stamp_path.read_text())
            except (OSError, json.JSONDecodeError):
                stamp = {}
        if stamp.get("version") == DATA_VERSION and stamp.get("arrays") == arrays:
            log(f"data: {path} (reused)")
        else:
            stamp = _write(path, arrays, layout, log)
            stamp_path.write_text(json.dumps(stamp))
        out[layout] = (path, stamp)
    return out


def _write(path: Path, arrays: int, layout: str, log: Callable[[str], None]) -> dict[str, Any]:
    import zarr

    partial = path.with_name(path.name + ".partial")
    for old in (path, partial):
        if old.exists():
            shutil.rmtree(old)
    started = time.perf_counter()
    zarr_format = 2 if layout.startswith("v2") else 3
    group = zarr.open_group(str(partial), mode="w", zarr_format=zarr_format)
    if zarr_format == 3:
        template = group.create_array("a0", shape=(100, 100), chunks=(10, 10), dtype="f4",
                                      dimension_names=["y", "x"])
    else:  # zarr v2 has no dimension names: xarray's attribute
        template = group.create_array("a0", shape=(100, 100), chunks=(10, 10), dtype="f4")
        template.attrs["_ARRAY_DIMENSIONS"] = ["y", "x"]
    template.attrs["units"] = "m"
    documents = {f.name: f.read_bytes() for f in (partial / "a0").iterdir() if f.is_file()}
    for i in range(1, arrays):
        folder = partial / f"a{i}"
        folder.mkdir()
        for name, content in documents.items():
            (folder / name).write_bytes(content)
        if i % 10_000 == 0:
            log(f"  {layout}: {i:,} / {arrays:,} arrays ({time.perf_counter() - started:.0f} s)")
    written = time.perf_counter() - started
    consolidated = None
    if layout.endswith("-consolidated"):
        log(f"  {layout}: zarr.consolidate_metadata of {arrays:,} arrays (may take a while)...")
        step = time.perf_counter()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
            zarr.consolidate_metadata(str(partial))
        consolidated = time.perf_counter() - step
    partial.rename(path)
    log(f"data: {path} written in {written:.0f} s"
        + (f", consolidate_metadata {consolidated:.0f} s" if consolidated is not None else ""))
    return {"version": DATA_VERSION, "arrays": arrays, "layout": layout, "write_s": round(written, 1),
            "consolidate_s": None if consolidated is None else round(consolidated, 1)}


# -- the measuring processes -----------------------------------------------------------------


def rss_kb(key: str = "VmRSS") -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/self/status")


def measure_members(path: Path) -> dict[str, Any]:
    """zarr-python listing the group completely (this process: run it in a new one)."""
    import zarr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        base = rss_kb()
        started = time.perf_counter()
        members = list(zarr.open_group(str(path), mode="r").members())
        elapsed = time.perf_counter() - started
        grown = rss_kb() - base
    return {"members": len(members), "members_s": round(elapsed, 3),
            "rss_per_member_kb": round(grown / max(len(members), 1), 2)}


def measure_window(path: Path, arrays: int, timeout: float) -> dict[str, Any]:
    """The window of ``zarr-browser PATH`` on the group (this process: run it in a new one)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    from tests.stall import StallMeter
    from zarr_browser.qt.app import make_browser
    from zarr_browser.qt.tree_model import HierarchyTreeModel

    app = QApplication.instance() or QApplication(sys.argv[:1])

    def wait_until(condition: Callable[[], bool], what: str, limit: float = timeout) -> None:
        end = time.perf_counter() + limit
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError(f"{what} after {limit:.0f} s")
            QTest.qWait(5)

    window, runner, _keeper = make_browser()
    window.show()
    QTest.qWait(200)
    model, proxy, tree, inspector = window.model, window.proxy, window.tree, window.inspector
    out: dict[str, Any] = {"rss_start_mb": rss_kb() // 1024}

    def idle() -> bool:
        return not model.hasPendingOperations() and not inspector.isWorking()

    def root() -> Any:
        return proxy.index(0, 0)

    base = rss_kb()
    opened: list[float] = []
    window.storeOpened.connect(lambda _url: opened.append(time.perf_counter()))

    def failed(_url: str, reason: str) -> None:
        log(f"open failed: {reason}")
        opened.append(-1.0)

    window.openFailed.connect(failed)
    meter = StallMeter()
    meter.start()
    started = time.perf_counter()
    window.openStore(str(path))
    wait_until(lambda: bool(opened), "the store did not open")
    if opened[0] < 0:
        raise RuntimeError("the store did not open")
    out["open_s"] = round(opened[0] - started, 3)
    wait_until(lambda: proxy.rowCount(root()) > 1, "no rows")
    out["first_rows_s"] = round(time.perf_counter() - started, 3)
    wait_until(lambda: not model.hasPendingOperations(), "the first page did not finish")
    out["first_page_rows"] = proxy.rowCount(root())
    # the user's right click on the root: "List the other N children"
    menu = window.contextMenuFor(root())
    actions = [a for a in menu.actions() if a.text().startswith("List the other")]
    out["list_action"] = actions[0].text() if actions else None
    listed = time.perf_counter()
    if actions:
        actions[0].trigger()
    menu.deleteLater()
    source_root = model.index(0, 0)
    wait_until(lambda: not model.hasPendingOperations() and model.unlistedCount(source_root) == 0,
               "not every row was listed")
    done = time.perf_counter()
    out["all_rows_s"] = round(done - started, 3)
    out["list_rest_s"] = round(done - listed, 3)
    wait_until(idle, "the inspector did not finish")
    out["listing_stall_ms"] = round(meter.stop() * 1000)
    rows = out["rows"] = proxy.rowCount(root())
    out["rss_per_row_kb"] = round((rss_kb() - base) / max(rows, 1), 2)

    def stalled(action: Callable[[], None], until: Callable[[], bool], what: str) -> tuple[float, float]:
        """(seconds until *until*, longest stall in ms) of *action*, 100 ms of aftermath included."""
        phase = StallMeter()
        phase.start()
        begun = time.perf_counter()
        action()
        wait_until(until, what)
        elapsed = time.perf_counter() - begun
        QTest.qWait(100)
        return round(elapsed, 3), round(phase.stop() * 1000)

    last = f"/a{arrays - 1}"
    tree.setFocus()
    out["select_last_s"], out["select_last_stall_ms"] = stalled(
        lambda: QTest.keyClick(tree, Qt.Key.Key_End), lambda: window.currentPath() == last and idle(),
        "End did not select the last row")
    out["current"] = window.currentPath()

    header = tree.header()
    assert header is not None

    def click_header(column: int) -> Callable[[], None]:
        point = QPoint(header.sectionViewportPosition(column) + header.sectionSize(column) // 2, header.height() // 2)
        return lambda: QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                                        point)

    def sorted_by(column: int) -> Callable[[], bool]:
        return lambda: header.isSortIndicatorShown() and header.sortIndicatorSection() == column

    # the sort runs inside the click; two clicks on Name: ascending, then (meant to be) descending
    name_column, shape_column = HierarchyTreeModel.NAME_COLUMN, HierarchyTreeModel.HEADERS.index("Shape")
    out["sort_name_stall_ms"] = max(stalled(click_header(name_column), sorted_by(name_column), "no sort by name")[1]
                                    for _click in range(2))
    out["first_after_sort"] = proxy.index(0, 0, root()).data()  # descending names: the last array
    out["sort_shape_stall_ms"] = stalled(click_header(shape_column), sorted_by(shape_column), "no sort by shape")[1]

    name = out["filter_text"] = last.lstrip("/")
    window.filterEdit.setFocus()
    out["filter_s"], out["filter_stall_ms"] = stalled(
        lambda: QTest.keyClicks(window.filterEdit, name), lambda: proxy.filterText() == name and idle(),
        "the filter was not applied")
    out["filter_rows"] = proxy.rowCount(root())
    out["clear_stall_ms"] = stalled(
        lambda: QTest.keyClick(window.filterEdit, Qt.Key.Key_Escape),
        lambda: proxy.filterText() == "" and proxy.rowCount(root()) == rows and idle(), "Esc did not clear the filter")[1]
    out["clear_rows"] = proxy.rowCount(root())
    out["peak_rss_mb"] = rss_kb("VmHWM") // 1024
    window.close()
    runner.shutdown()
    app.processEvents()
    return out


def _run_child(argv: list[str], timeout: float) -> dict[str, Any]:
    """Run this script with *argv* in a new process; its JSON line."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], capture_output=True, text=True,
                          timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{argv[:2]} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return dict(json.loads(lines[-1]))


def run_window(path: Path, arrays: int, timeout: float = 1800) -> dict[str, Any]:
    """One window run in a new process (``--child window``)."""
    return _run_child(["--child", "window", str(path), "--arrays", str(arrays), "--timeout", str(timeout)],
                      timeout + 60)


def run_members(path: Path, timeout: float = 1800) -> dict[str, Any]:
    """One zarr-python ``members()`` run in a new process (``--child members``)."""
    return _run_child(["--child", "members", str(path)], timeout)


# -- the table -------------------------------------------------------------------------------


def _cell(values: list[float], unit: str, digits: int) -> str:
    if not values:
        return "–"
    median, worst = statistics.median(values), max(values)
    text = f"{median:,.{digits}f}"
    return f"{text} / {worst:,.{digits}f} {unit}" if len(values) > 1 else f"{text} {unit}"


def table(results: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]], arrays: int) -> str:
    """The markdown table: one column per layout, ``median / worst`` in each cell."""
    layouts = list(results)
    rows: list[tuple[str, str, Callable[[str], str]]] = []

    def add(measure: str, target: str, key: str, side: int, unit: str, digits: int) -> None:
        rows.append((measure, target, lambda layout: _cell([r[side][key] for r in results[layout]], unit, digits)))

    def ratio(layout: str, ours_key: str, anchor_key: str) -> str:
        ours = statistics.median(r[0][ours_key] for r in results[layout])
        anchor = statistics.median(r[1][anchor_key] for r in results[layout])
        return f"{ours / anchor:.2f}" if anchor else "–"

    target = f"≤ {STALL_TARGET_MS} ms"
    add("open → first rows", "", "first_rows_s", 0, "s", 2)
    add(f"open → all {arrays:,} rows listed (*List the other N children*), ours", "", "all_rows_s", 0, "s", 1)
    add("`zarr.open_group(path).members()` listed, zarr-python", "", "members_s", 1, "s", 1)
    rows.append(("all rows: ours / members()", "", lambda layout: ratio(layout, "all_rows_s", "members_s")))
    add("longest event-loop stall, open → all rows listed", target, "listing_stall_ms", 0, "ms", 0)
    add("RSS growth per row, ours (window, tree, inspector)", "", "rss_per_row_kb", 0, "KB", 1)
    add("RSS growth per member, `members()`", "", "rss_per_member_kb", 1, "KB", 1)
    rows.append(("RSS per row: ours / members()", "",
                 lambda layout: ratio(layout, "rss_per_row_kb", "rss_per_member_kb")))
    add("peak RSS of the window process", "", "peak_rss_mb", 0, "MB", 0)
    add("sort: click on the Name header (worst of two clicks), longest stall", target, "sort_name_stall_ms", 0, "ms", 0)
    add("sort: click on the Shape header, longest stall", target, "sort_shape_stall_ms", 0, "ms", 0)
    add(f"filter: typing `a{arrays - 1}`, longest stall", target, "filter_stall_ms", 0, "ms", 0)
    add(f"filter: typing `a{arrays - 1}` → applied (above 5,000 rows, after a 200 ms pause in typing)", "",
        "filter_s", 0, "s", 2)
    add("filter: Esc clears it, longest stall", target, "clear_stall_ms", 0, "ms", 0)
    add("End (the last row) → inspector idle", "", "select_last_s", 0, "s", 2)
    add("End (the last row) → inspector idle, longest stall", target, "select_last_stall_ms", 0, "ms", 0)
    lines = ["| measure | target | " + " | ".join(layouts) + " |", "|---|---|" + "---|" * len(layouts)]
    lines += [f"| {measure} | {aim} | " + " | ".join(cell(layout) for layout in layouts) + " |"
              for measure, aim, cell in rows]
    return "\n".join(lines)


def _check(result: dict[str, Any], arrays: int) -> list[str]:
    """What a window run got wrong (every row listed, the right row selected, sorted, filtered)."""
    expected = {"rows": arrays, "clear_rows": arrays, "current": f"/a{arrays - 1}", "filter_rows": 1}
    problems = [f"{key} = {result.get(key)!r}, expected {value!r}" for key, value in expected.items()
                if result.get(key) != value]
    if result.get("first_after_sort") != f"a{arrays - 1}":
        problems.append(f"a second click on the Name header did not reverse the order (first row "
                        f"{result.get('first_after_sort')!r}, expected 'a{arrays - 1}')")
    return problems


def main(argv: Sequence[str] | None = None) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--arrays", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layouts", default=",".join(LAYOUTS),
                        help=f"comma-separated, of {', '.join(LAYOUTS)}")
    parser.add_argument("--data", type=Path, default=None, help=f"the data cache (default {default_data_dir()})")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds a measuring process may take")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path = args.child
        result = measure_window(Path(path), args.arrays, args.timeout) if kind == "window" \
            else measure_members(Path(path))
        print(json.dumps(result), flush=True)
        sys.stderr.flush()
        os._exit(0)  # skip tearing down a heap of millions of objects: it measures nothing
    layouts = [name.strip() for name in args.layouts.split(",") if name.strip()]
    unknown = set(layouts) - set(LAYOUTS)
    if unknown:
        parser.error(f"unknown layouts {sorted(unknown)}; known: {', '.join(LAYOUTS)}")
    began = time.perf_counter()
    data = build(args.data or default_data_dir(), args.arrays, layouts)
    results: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {layout: [] for layout in layouts}
    problems = []
    for run in range(args.runs):
        for layout in layouts:  # interleaved: a change of the machine's load meets every layout
            path = data[layout][0]
            ours = run_window(path, args.arrays, args.timeout)
            anchor = run_members(path, args.timeout)
            results[layout].append((ours, anchor))
            problems += [f"{layout}, run {run + 1}: {p}" for p in _check(ours, args.arrays)]
            if anchor["members"] != args.arrays:
                problems.append(f"{layout}, run {run + 1}: members() gave {anchor['members']}")
            log(f"run {run + 1}/{args.runs} {layout}: first rows {ours['first_rows_s']:.2f} s, all rows "
                f"{ours['all_rows_s']:.1f} s (members() {anchor['members_s']:.1f} s), listing stall "
                f"{ours['listing_stall_ms']} ms, {ours['rss_per_row_kb']:.1f} KB a row; sort stalls "
                f"{ours['sort_name_stall_ms']} / {ours['sort_shape_stall_ms']} ms, filter {ours['filter_stall_ms']} ms, "
                f"Esc {ours['clear_stall_ms']} ms")
            print(json.dumps({"layout": layout, "run": run + 1, "ours": ours, "members": anchor}), file=sys.stderr,
                  flush=True)
    print(f"\n{args.arrays:,} arrays in one group; median / worst of {args.runs} run(s), each in a new process; "
          f"targets: every stall ≤ {STALL_TARGET_MS} ms (the GUI never freezes)\n")
    print(table(results, args.arrays))
    built = [f"{layout}: metadata written in {stamp['write_s']:.0f} s"
             + (f", consolidate_metadata {stamp['consolidate_s']:.0f} s" if stamp.get("consolidate_s") is not None
                else "") for layout, (_path, stamp) in data.items()]
    print(f"\ndata in {data[layouts[0]][0].parent} (built once: {'; '.join(built)}); "
          f"benchmark {time.perf_counter() - began:.0f} s")
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(f"- {p}" for p in problems))
    return results


if __name__ == "__main__":
    main()
