"""Streaming benchmark (#7): zarr-browser's napari reader against napari + napari-ome-zarr.

One command builds the data (once, into ``~/.cache/zarr-browser/bench``; see
``streaming_data.py``), serves it from loopback HTTP servers that add 20 ms to every request
and count requests, round trips and the peak in flight (``tests/servers.py``), and measures
each goal of #7 in fresh napari viewers of one process: ours (``plugin="zarr-browser"``) and
the anchor (``plugin="napari-ome-zarr"``, napari 0.9 + dask) on the same data, runs
interleaved, medians of ``--runs``.  Memory figures come from one child process per side, so
that each peak is its own.  It prints a table and writes it as markdown to
``benchmarks/results/streaming.md`` (``streaming-quick.md`` with ``--quick``).

Run::

    .venv/bin/python benchmarks/bench_streaming.py [--quick] [--runs N] [--only open,view,...]

Without a display it runs itself again under ``xvfb-run -a`` (a 1600×1400 screen: the canvas is
1024×1024 px).  ``--quick`` uses small data for a smoke run (< 2 min).

What "first pixel" and "full view" mean: the clock starts before ``viewer.open`` (or the camera
or dims change) in an idle, already shown viewer; "first pixel" is the end of the first paint
that starts with real (non-zero) data in every visible image layer, "full view" the end of the
last paint before the view went quiet (250 ms without paints and, for ours, with the engine's
``pending()`` at 0).  Paint ends are when the paint event returns, i.e. when the frame is shown.
In-process runs are warm: napari, both plugins and the HTTP clients are loaded by a warm-up,
and the OS page cache holds the files; both sides' caches (our engine's, napari's dask cache)
are emptied before every run.

The "napari alone (floor)" column: napari opening the very layers our reader returns (names,
scale, units, colours, contrast, every level's shape) with data that costs nothing to read
(``floor.py``), measured the same way in the same run.  It is what any reader pays in this
napari; where floor / anchor is above a target ratio, no napari reader can meet that target.

Round trips are connected components of overlapping request intervals (``tests/servers.py``).
For a view after a camera move, they count the view's own requests (level-0 chunks or shards
meeting the region): the prefetch of the ring around it, which starts once the view is in, is
left out.
"""

from __future__ import annotations

import abc
import argparse
import contextlib
import gc
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT / "benchmarks"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import floor  # noqa: E402
import streaming_data  # noqa: E402

OURS, ANCHOR, OURS_DASK, FLOOR = "ours", "anchor", "ours-dask", "floor"
OUR_SIDES = (OURS, OURS_DASK)
PLUGIN = {OURS: "zarr-browser", OURS_DASK: "zarr-browser", ANCHOR: "napari-ome-zarr", FLOOR: floor.PLUGIN}
CANVAS = 1024  # canvas edge in screen pixels
LATENCY = 0.020
SLOW_CHUNK = 3.0
SETTLE = 0.25
CASES = ("open", "view", "read", "pan", "sharded", "plates", "zstep", "stall", "memory", "cold")
RESULTS = ROOT / "benchmarks" / "results"
XVFB_SCREEN = "-screen 0 1600x1400x24"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- results -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the table: a goal, both sides' samples and the target."""

    goal: str
    unit: str  # "s", "ms", "MB"
    target: str = ""
    ours: list[float] = field(default_factory=list)
    anchor: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)  # napari alone: the same layers with free data
    trips_ours: list[int] = field(default_factory=list)
    trips_anchor: list[int] = field(default_factory=list)
    note: str = ""
    errors: list[str] = field(default_factory=list)

    def add(self, side: str, value: float | None, trips: int | None = None) -> None:
        if value is None:
            return
        if side == FLOOR:
            self.floor.append(value)
            return
        (self.anchor if side == ANCHOR else self.ours).append(value)
        if trips is not None:
            (self.trips_anchor if side == ANCHOR else self.trips_ours).append(trips)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value * 1000:.0f} ms" if value >= 0.0095 else f"{value * 1000:.1f} ms"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g}"


def _trips(values: list[int]) -> str:
    return "-" if not values else f"{statistics.median(values):.0f}"


def table(rows: list[Row]) -> list[list[str]]:
    out = [["goal", "ours (median)", "anchor (median)", "ratio", "target", "napari alone (floor) / anchor",
            "round trips ours / anchor"]]
    for row in rows:
        ours, anchor, alone = _median(row.ours), _median(row.anchor), _median(row.floor)
        ratio = f"{ours / anchor:.2f}" if ours is not None and anchor else "-"
        trips = "" if not (row.trips_ours or row.trips_anchor) else f"{_trips(row.trips_ours)} / {_trips(row.trips_anchor)}"
        ours_text = _fmt(ours, row.unit) + (" (error)" if row.errors and ours is None else "")
        floor_text = "" if alone is None else _fmt(alone, row.unit) + (f" / {alone / anchor:.2f}" if anchor else "")
        out.append([row.goal, ours_text, _fmt(anchor, row.unit), ratio, row.target, floor_text, trips])
    return out


def render_text(cells: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(cells[0]) + " |", "|" + "---|" * len(cells[0])]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in cells[1:]]
    return "\n".join(lines)


# -- our engine, defensively -------------------------------------------------------------------


def _engine() -> Any:
    try:
        from zarr_browser.streaming.engine import get_engine
    except ImportError:
        return None
    try:
        return get_engine()
    except Exception:  # boundary: the engine is being written; the anchor side must keep working
        return None


def engine_pending() -> int:
    pending = getattr(_engine(), "pending", None)
    return int(pending()) if callable(pending) else 0


def engine_stats() -> dict[str, int]:
    stats = getattr(_engine(), "stats", None)
    return dict(stats()) if callable(stats) else {}


def clear_caches() -> None:
    """Empty our decoded-chunk cache and napari's dask cache (the anchor's), then collect."""
    clear = getattr(_engine(), "clear_cache", None)
    if callable(clear):
        clear()
    try:
        from napari.utils._dask_utils import _DASK_CACHE

        _DASK_CACHE.cache.clear()
    except (ImportError, AttributeError):
        pass
    gc.collect()


# -- memory ----------------------------------------------------------------------------------


def rss_bytes() -> int:
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        return _status_kb("VmRSS") * 1024


def peak_rss_bytes() -> int:
    return _status_kb("VmHWM") * 1024


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def read_chars() -> int:
    """Bytes this process read through read(2) and friends (page cache hits included)."""
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    return 0


class Sampler(abc.ABC):
    """A background thread that calls :meth:`sample` every *every* seconds inside a ``with``
    block, and :meth:`finish` once at its end (in the thread)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=type(self).__name__)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()
        self.finish()

    @abc.abstractmethod
    def sample(self) -> None:
        """One look, from the sampling thread."""

    def finish(self) -> None:
        """At the end of the ``with`` block (the sampling thread): one last look by default."""
        self.sample()

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class RssSampler(Sampler):
    """The largest RSS seen by a background thread every 20 ms (blocking reads included)."""

    def __init__(self) -> None:
        super().__init__(0.02)
        self.peak = rss_bytes()

    def sample(self) -> None:
        self.peak = max(self.peak, rss_bytes())


# -- napari driving ----------------------------------------------------------------------------


class GuiTime:
    """Time the GUI thread spends in napari's slicing and data path (outermost calls only):
    ``_update_draw`` (level and corners on every paint), ``refresh``, ``_slice_dims`` and
    ``set_view_slice`` of image layers.  Rendering is not included."""

    METHODS = ("_update_draw", "refresh", "_slice_dims", "set_view_slice")

    def __init__(self) -> None:
        self.total = 0.0
        self._depth = 0
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        from napari.layers import Image

        for name in self.METHODS:
            original = getattr(Image, name)
            setattr(Image, name, self._wrap(original))
        self._installed = True

    def _wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        meter = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            if meter._depth:
                return original(*args, **kwargs)
            meter._depth += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                meter.total += time.perf_counter() - start
                meter._depth -= 1

        timed.__wrapped__ = original  # type: ignore[attr-defined]
        return timed


class StallWhere(Sampler):
    """Where the GUI thread is while the Qt event loop stalls.

    A background thread samples the main thread's stack every 20 ms while a
    :class:`tests.stall.StallMeter` has not ticked for 150 ms; of the longest stall it keeps the
    sample taken halfway through, shortened to the innermost zarr-browser frame and what it called.
    Sampling starts once the loop has not ticked for *after* seconds, every *every* seconds.
    """

    def __init__(self, meter: Any, *, after: float = 0.15, every: float = 0.02) -> None:
        super().__init__(every)
        self.meter = meter
        self.after = after
        self.gap = 0.0
        self.stack = ""
        self._samples: list[tuple[float, list[Any]]] = []
        self._main = threading.main_thread().ident

    def sample(self) -> None:
        import traceback

        gap = time.perf_counter() - self.meter.last
        if gap < self.after:
            self.finish()
            return
        frame = sys._current_frames().get(self._main)
        if frame is not None:
            self._samples.append((gap, traceback.extract_stack(frame)))

    def finish(self) -> None:
        """Close the stall being sampled: keep it if it is the longest so far."""
        if not self._samples:
            return
        gap = self._samples[-1][0]
        if gap > self.gap:
            self.gap = gap
            self.stack = self._describe(self._samples[len(self._samples) // 2][1])
        self._samples = []

    @staticmethod
    def _describe(frames: list[Any]) -> str:
        ours = [i for i, f in enumerate(frames) if "zarr_browser" in f.filename]
        chosen = frames[ours[-1] : ours[-1] + 5] if ours else frames[-6:]
        return " → ".join(f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno} {f.name}" for f in chosen)


class PendingWatch(Sampler):
    """The last moment our engine had view blocks pending, sampled every millisecond off the GUI
    thread (the GUI thread itself only looks between paints, which block it for tens of ms)."""

    def __init__(self) -> None:
        super().__init__(0.001)
        self.last_busy: float | None = None

    def sample(self) -> None:
        if engine_pending() > 0:
            self.last_busy = time.perf_counter()


class Frames:
    """Paint events of one viewer's canvas: start/end times and whether data was there at the start."""

    def __init__(self, viewer: Any) -> None:
        self.viewer = viewer
        self.draws: list[tuple[float, float, bool]] = []
        self._start = 0.0
        self._ready = False
        canvas = viewer.window._qt_viewer.canvas._scene_canvas
        canvas.events.draw.connect(self._on_start, position="first")
        canvas.events.draw.connect(self._on_end, position="last")

    def _on_start(self, event: Any) -> None:
        self._start = time.perf_counter()
        self._ready = self._has_data()

    def _on_end(self, event: Any) -> None:
        self.draws.append((self._start, time.perf_counter(), self._ready))

    def _has_data(self) -> bool:
        import numpy as np
        from napari.layers import Image

        shown = [layer for layer in self.viewer.layers if isinstance(layer, Image) and layer.visible]
        if not shown:
            return False
        for layer in shown:
            try:
                view = np.asarray(layer._data_view)
            except Exception:  # boundary: a layer without a slice yet
                return False
            step = max(1, min(view.shape[:2]) // 64) if view.ndim >= 2 else 1
            if view.size == 0 or not np.any(view[::step, ::step] if view.ndim >= 2 else view):
                return False
        return True

    def since(self, t0: float) -> list[tuple[float, float, bool]]:
        return [d for d in self.draws if d[0] >= t0]


@dataclass
class View:
    first: float | None  # seconds from t0 to the end of the first paint with data
    full: float  # seconds from t0 to the end of the last paint before quiet
    paints: int
    loaded: float | None = None  # ours: seconds from t0 to the last moment the engine had blocks pending


class Session:
    """napari in this process: viewers, waiting for paints, the GUI-time meter."""

    def __init__(self) -> None:
        import napari
        from qtpy.QtWidgets import QApplication

        self.napari = napari
        self.gui = GuiTime()
        self.gui.install()
        viewer = napari.Viewer(show=False)  # creates the QApplication
        viewer.close()
        self.app = QApplication.instance()

    def pump(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.app.processEvents()
            time.sleep(0.001)

    @contextlib.contextmanager
    def viewer(self) -> Iterator[tuple[Any, Frames]]:
        """A fresh, shown, idle viewer with a CANVAS×CANVAS canvas; closed afterwards."""
        viewer = self.napari.Viewer()
        frames = Frames(viewer)
        qt = viewer.window._qt_viewer
        for dock in (qt.dockLayerList, qt.dockLayerControls):
            dock.setVisible(False)
        window = viewer.window._qt_window
        window.resize(CANVAS + 40, CANVAS + 120)
        self.pump(0.02)
        for _ in range(3):
            h, w = qt.canvas.size
            if (h, w) == (CANVAS, CANVAS):
                break
            window.resize(window.width() + CANVAS - w, window.height() + CANVAS - h)
            self.pump(0.02)
        painted = len(frames.draws)
        qt.canvas._scene_canvas.update()
        deadline = time.perf_counter() + 5
        while len(frames.draws) <= painted and time.perf_counter() < deadline:
            self.pump(0.005)
        self.pump(0.02)
        try:
            yield viewer, frames
        finally:
            viewer.close()
            self.pump(0.02)
            clear_caches()

    def settle(self, frames: Frames, t0: float, *, ours: bool, timeout: float, need_data: bool = True,
               what: str = "the view", server: Any = None) -> View:
        """Process events until the view is complete and quiet (see the module docstring); with a
        *server*, also until it has no request in flight."""
        deadline = t0 + timeout
        busy_until = t0
        watch = PendingWatch() if ours else contextlib.nullcontext()
        with watch:
            draws = self._settle(frames, t0, deadline, ours, need_data, server, what)
        first = next((end - t0 for _, end, ready in draws if ready), None)
        busy_until = watch.last_busy if isinstance(watch, PendingWatch) else None
        loaded = busy_until - t0 if busy_until is not None and busy_until > t0 else None
        return View(first, draws[-1][1] - t0, len(draws), loaded)

    def _settle(self, frames: Frames, t0: float, deadline: float, ours: bool, need_data: bool, server: Any,
                what: str) -> list[tuple[float, float, bool]]:
        busy_until = t0
        timeout = deadline - t0
        while True:
            self.app.processEvents()
            now = time.perf_counter()
            if ours and engine_pending() > 0:
                busy_until = now
            if server is not None and server.stats.in_flight > 0:
                busy_until = max(busy_until, now - SETTLE / 2)
            draws = frames.since(t0)
            last = draws[-1][1] if draws else None
            has_first = any(ready for _, _, ready in draws) or not need_data
            if last is not None and has_first and now - max(last, busy_until) > SETTLE:
                break
            if now > deadline:
                raise TimeoutError(f"{what} did not complete within {timeout:.0f} s "
                                   f"({len(draws)} paints, pending {engine_pending() if ours else '-'})")
            time.sleep(0.001)
        return draws

    def open(self, viewer: Any, frames: Frames, path: str, side: str, *, timeout: float = 120,
             need_data: bool = True) -> View:
        clear_caches()
        self.pump(0.02)
        with _display_mode(side):
            t0 = time.perf_counter()
            quiet_open(viewer, path, side)
            return self.settle(frames, t0, ours=side in OUR_SIDES, timeout=timeout, need_data=need_data)


@contextlib.contextmanager
def _display_mode(side: str) -> Iterator[None]:
    """``ZARR_BROWSER_DISPLAY=dask`` for the ours-dask side (our reader hands napari dask arrays)."""
    if side != OURS_DASK:
        yield
        return
    old = os.environ.get("ZARR_BROWSER_DISPLAY")
    os.environ["ZARR_BROWSER_DISPLAY"] = "dask"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("ZARR_BROWSER_DISPLAY", None)
        else:
            os.environ["ZARR_BROWSER_DISPLAY"] = old


def quiet_open(viewer: Any, path: str, side: str) -> None:
    """``viewer.open`` with the plugin of *side*; napari-ome-zarr prints its metadata, which is swallowed."""
    with contextlib.redirect_stdout(io.StringIO()):
        viewer.open(path, plugin=PLUGIN[side])


def _camera(viewer: Any) -> Any:
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def look_at(viewer: Any, y: float, x: float, pixels: float = 1000.0) -> None:
    """Centre the camera on full-resolution pixel (y, x), *pixels* data pixels across the canvas
    (fewer than the canvas has: napari then draws the full level)."""
    layer = viewer.layers[0]
    sy, sx = layer.scale[-2], layer.scale[-1]
    ty, tx = layer.translate[-2], layer.translate[-1]
    camera = _camera(viewer)
    camera.center = (ty + y * sy, tx + x * sx)
    camera.zoom = CANVAS / (pixels * sx)


def only_channel(viewer: Any, index: int = 0) -> None:
    for i, layer in enumerate(viewer.layers):
        layer.visible = i == index


# -- the cases ---------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, data: streaming_data.Datasets) -> None:
        from tests.servers import ProcessServer

        self.args = args
        self.data = data
        self.sizes = data.sizes
        self.server = ProcessServer(data.root, latency=LATENCY)  # its own process: it must not take the viewer's GIL
        self.server.listing = False  # like object stores and most web servers
        self.session = Session()
        self.rows: dict[str, Row] = {}
        self.notes: list[str] = []
        self.only_side: str | None = None
        self.floor = ""  # the floor's .floor file (see floor.py), written by the warm-up

    def close(self) -> None:
        self.server.stop()

    # helpers
    def row(self, key: str, goal: str, unit: str, target: str = "") -> Row:
        if key not in self.rows:
            self.rows[key] = Row(goal, unit, target)
        return self.rows[key]

    def url(self, name: str) -> str:
        return self.server.url_for(name)

    def local(self, name: str) -> str:
        return str(self.data[name])

    def sides(self, run: int, sides: tuple[str, ...] = (OURS, ANCHOR)) -> tuple[str, ...]:
        if self.only_side is not None:
            return (self.only_side,)
        return sides if run % 2 == 0 else tuple(reversed(sides))

    def guarded(self, row: Row, side: str, fn: Callable[[], None]) -> None:
        """Run one measurement; a failure is recorded in *row*, and after a timeout this side's
        later runs of the row are skipped (each would wait as long again)."""
        if any(e.startswith(f"{side}: TimeoutError") for e in row.errors):
            log(f"    {side:>6}: skipped (timed out in an earlier run)")
            return
        try:
            fn()
        except Exception as err:  # boundary: one failing measurement must not end the benchmark
            message = f"{side}: {type(err).__name__}: {err}"
            row.errors.append(message)
            log(f"    ! {row.goal}: {message}")

    def warm_up(self) -> None:
        """Load both plugins, their dependencies and HTTP clients once, untimed; write the floor's file."""
        log("warm-up: one local and one HTTP open per side")
        for side in (OURS, ANCHOR):
            for path in (self.local("image-v05.ome.zarr"), self.url("image-v04.ome.zarr")):
                try:
                    with self.session.viewer() as (viewer, frames):
                        self.session.open(viewer, frames, path, side)
                except Exception as err:  # boundary: reported, the cases report their own failures
                    log(f"    ! warm-up {side} {path}: {type(err).__name__}: {err}")
        try:
            self.floor = write_floor(self.data)
            floor.register()
            with self.session.viewer() as (viewer, frames):
                self.session.open(viewer, frames, self.floor, FLOOR)
        except Exception as err:  # boundary: the floor column stays empty
            self.floor = ""
            log(f"    ! warm-up floor: {type(err).__name__}: {err}")

    def sides_with_floor(self, run: int, sides: tuple[str, ...] = (OURS, ANCHOR)) -> tuple[str, ...]:
        """*sides* of this run, then napari alone on the free-data layers (when its file exists)."""
        return self.sides(run, sides) + ((FLOOR,) if self.floor and self.only_side is None else ())

    # goal 1: open → first pixel
    def case_open(self) -> None:
        log("open → first pixel / full view (16k² 3-channel pyramid)")
        combos = [("local", "0.4", "image-v04.ome.zarr"), ("local", "0.5", "image-v05.ome.zarr"),
                  ("HTTP 20 ms", "0.4", "image-v04.ome.zarr"), ("HTTP 20 ms", "0.5", "image-v05.ome.zarr")]
        n = self.sizes.image
        for where, version, name in combos:
            key = f"{where} {version}"
            first = self.row(f"open-first {key}", f"open → first pixel, {where}, OME {version} ({n}² × 3)", "s", "≤ 0.33× anchor")
            full = self.row(f"open-full {key}", f"open → full view, {where}, OME {version}", "s")
            sides: tuple[str, ...] = (OURS, ANCHOR)
            with_floor = where == "local" and version == "0.5"
            if with_floor:
                sides = (OURS, ANCHOR, OURS_DASK)
                dask_row = self.row("open-first dask", "open → first pixel, local, OME 0.5, ours with ZARR_BROWSER_DISPLAY=dask",
                                    "s", "(goal 9: the dask option)")
            for run in range(self.args.runs):
                for side in self.sides_with_floor(run, sides) if with_floor else self.sides(run, sides):
                    path = self.url(name) if where.startswith("HTTP") else self.local(name)
                    if side == FLOOR:
                        path = self.floor
                    target_row = dask_row if side == OURS_DASK else first

                    def measure(side: str = side, path: str = path, target_row: Row = target_row, full: Row = full,
                                key: str = key) -> None:
                        with self.session.viewer() as (viewer, frames):
                            self.server.reset_stats()
                            view = self.session.open(viewer, frames, path, side)
                            trips = self.server.stats.round_trips if path.startswith("http") else None
                            store_side = OURS if side == OURS_DASK else side
                            target_row.add(store_side, view.first, trips)
                            if side != OURS_DASK:
                                full.add(store_side, view.full, trips)
                            log(f"    {key} {side:>9}: first {view.first or float('nan'):.3f} s, full {view.full:.3f} s"
                                + (f", {traffic(self.server.stats)}" if trips is not None else ""))

                    self.guarded(target_row, side, measure)
            if sides == (OURS, ANCHOR, OURS_DASK):
                dask_row.anchor = list(first.anchor)

    # goal 2a: a 16-chunk view over HTTP; goal 4b: the sharded view
    def _view_region(self, name: str, row: Row, region: tuple[int, int, int]) -> None:
        y0, x0, size = region
        loaded: list[float] = []
        for run in range(self.args.runs):
            for side in self.sides_with_floor(run):
                def measure(side: str = side) -> None:
                    with self.session.viewer() as (viewer, frames):
                        self.session.open(viewer, frames, self.floor if side == FLOOR else self.url(name), side)
                        only_channel(viewer, 0)
                        # quiet, prefetches included, before the caches are emptied
                        self.session.settle(frames, time.perf_counter(), ours=side in OUR_SIDES, timeout=60, need_data=False,
                                            server=self.server)
                        clear_caches()
                        self.server.reset_stats()
                        t0 = time.perf_counter()
                        look_at(viewer, y0 + size / 2, x0 + size / 2, pixels=size - 24)
                        view = self.session.settle(frames, t0, ours=side in OUR_SIDES, timeout=60, need_data=False)
                        stats = self.server.stats
                        chunk_requests = sum(n for path, n in stats.by_path.items()
                                             if path.startswith(f"{name}/0/") and not path.endswith((".zarray", "zarr.json", ".zattrs")))
                        wanted = in_region(self.data[name], name, region)
                        trips = stats.round_trips_of(wanted)
                        row.add(side, view.full, trips)
                        in_view = sum(1 for *_, path in stats.spans if wanted(path))
                        idle = ""
                        if view.loaded is not None:
                            loaded.append(view.loaded)
                            idle = f", engine idle after {view.loaded * 1000:.0f} ms"
                        log(f"    {side:>6}: {view.full * 1000:.0f} ms ({view.paints} paints{idle}), {traffic(stats)} "
                            f"({chunk_requests} requests for full-resolution chunks; the view's {in_view} in {trips} "
                            f"round trip(s), the rest prefetch)")

                self.guarded(row, side, measure)
        if loaded and row.ours:
            row.note = (f"ours: every chunk in after {statistics.median(loaded) * 1000:.0f} ms (engine idle), "
                        f"shown after {statistics.median(row.ours) * 1000:.0f} ms (the rest is refreshes and paints)")

    def case_view(self) -> None:
        chunk = self.sizes.chunk
        y0 = x0 = self._aligned(self.sizes.image, 4 * chunk)
        log(f"16-chunk view over HTTP 20 ms: camera onto [{y0}:{y0 + 4 * chunk}]² of level 0, channel 0 only")
        row = self.row("view16", f"16-chunk view ({4 * chunk}² of one channel) over HTTP 20 ms, camera move → shown",
                       "ms", "≤ 60 ms, ≤ 2 round trips")
        self._view_region("image-v05.ome.zarr", row, (y0, x0, 4 * chunk))

    def _aligned(self, n: int, size: int) -> int:
        """A region origin a quarter into the image, on a multiple of 1024 (a shard boundary)."""
        return max(0, min(n - size, (n // 4) // 1024 * 1024))

    # goal 2b: local region read vs pure decode
    def case_read(self) -> None:
        import numcodecs
        import numpy as np

        chunk = self.sizes.chunk
        y0 = x0 = self._aligned(self.sizes.image, 4 * chunk)
        region = (slice(y0, y0 + 4 * chunk), slice(x0, x0 + 4 * chunk))
        log(f"16-chunk local region read [{y0}:{y0 + 4 * chunk}]² vs decode of the same chunks")
        name = "image-v05.ome.zarr"
        level_dir = self.data[name] / "0"
        raw = [(level_dir / "c" / "0" / str(y0 // chunk + i) / str(x0 // chunk + j)).read_bytes()
               for i in range(4) for j in range(4)]
        codec = numcodecs.Blosc(**streaming_data.BLOSC)
        decode_times = []
        for _ in range(max(5, self.args.runs * 5)):
            t = time.perf_counter()
            for blob in raw:
                codec.decode(blob)
            decode_times.append(time.perf_counter() - t)
        decode = statistics.median(decode_times)
        cold_times = []  # the same decodes, each run after the cache clearing every read below gets
        for _ in range(max(5, self.args.runs * 5)):
            clear_caches()
            t = time.perf_counter()
            for blob in raw:
                codec.decode(blob)
            cold_times.append(time.perf_counter() - t)
        decode_cold = statistics.median(cold_times)
        row = self.row("read16", f"16-chunk region read, local ({4 * chunk}², direct, no viewer)", "ms",
                       f"≤ 2× decode ({decode * 1000:.1f} ms, 1 thread)")
        levels = {}
        try:
            levels[OURS] = self._our_level(self.local(name), channel=0)
        except Exception as err:  # boundary
            row.errors.append(f"ours: {err}")
            log(f"    ! ours level: {type(err).__name__}: {err}")
        try:
            levels[ANCHOR] = self._anchor_level(self.local(name), channel=0)
        except Exception as err:  # boundary
            row.errors.append(f"anchor: {err}")
            log(f"    ! anchor level: {type(err).__name__}: {err}")
        results: dict[str, Any] = {}
        for run in range(max(5, self.args.runs * 5)):
            for side in self.sides(run):
                if side not in levels:
                    continue
                clear_caches()
                t = time.perf_counter()
                data = np.asarray(levels[side][region])
                row.add(side, time.perf_counter() - t)
                results[side] = data
        if len(results) == 2:
            same = np.array_equal(results[OURS], results[ANCHOR])
            self.notes.append(f"16-chunk local read: ours and the anchor return {'identical' if same else 'DIFFERENT'} pixels.")
        for side, values in ((OURS, row.ours), (ANCHOR, row.anchor)):
            if values:
                log(f"    {side:>6}: {statistics.median(values) * 1000:.1f} ms = {statistics.median(values) / decode:.1f}× decode")
        if row.ours and row.anchor:
            row.note = (f"ours {statistics.median(row.ours) / decode:.1f}× decode, "
                        f"anchor {statistics.median(row.anchor) / decode:.1f}× decode; the same decodes after the "
                        f"cache clearing each read gets (caches cold, as for the reads) take {decode_cold * 1000:.1f} ms: "
                        f"ours {statistics.median(row.ours) / decode_cold:.1f}×, anchor "
                        f"{statistics.median(row.anchor) / decode_cold:.1f}×")
            self.notes.append(f"16-chunk local read: {row.note}.")

    def _our_level(self, url: str, channel: int, level: int = 0) -> Any:
        """Our level array (blocking reads through the engine), as the reader builds it."""
        from zarr_browser._reader import open_hierarchy, plan_node

        hierarchy = open_hierarchy(url)
        plan = plan_node(hierarchy, "/")
        spec = plan.specs[0]
        axis = spec.kwargs.get("channel_axis")
        array = spec.levels[level]
        return array.take(axis, channel) if axis is not None else array

    def _anchor_level(self, url: str, channel: int, level: int = 0) -> Any:
        """napari-ome-zarr's dask array for one channel of one level, as it hands it to napari."""
        from napari_ome_zarr._reader import napari_get_reader

        with contextlib.redirect_stdout(io.StringIO()):  # it prints the metadata
            layers = napari_get_reader(url)(url)
        data, kwargs, _ = layers[0]
        array = data[level]
        axis = kwargs.get("channel_axis")
        if axis is None:
            return array
        index: list[Any] = [slice(None)] * array.ndim
        index[axis] = channel
        return array[tuple(index)]

    # goal 3 and 6: pans at full resolution over a level with ≥ 1M chunks
    def case_pan(self) -> None:
        (cy, cx), later = streaming_data.huge_pan_path(self.sizes)
        n = self.sizes.huge
        chunks = (n // self.sizes.chunk) ** 2
        log(f"pan at full resolution on a {n}² level ({chunks:,} chunks), {len(later)} pans of {self.sizes.pan_step} px")
        gui = self.row("pan-gui", f"pan on a {chunks / 1e6:.2f}M-chunk level: GUI-thread data time per pan", "ms", "≤ 30 ms")
        wall = self.row("pan-wall", "pan on the 1M-chunk level: camera move → view complete", "ms")
        stall = self.row("pan-stall", "pan on the 1M-chunk level: longest event-loop stall during the pans", "ms",
                         "(one frame is 30–50 ms)")
        from tests.stall import StallMeter

        for run in range(self.args.runs):
            for side in self.sides(run):
                def measure(side: str = side) -> None:
                    ours = side != ANCHOR
                    with self.session.viewer() as (viewer, frames):
                        self.session.open(viewer, frames, self.local("huge-v05.ome.zarr"), side, need_data=False)
                        t0 = time.perf_counter()
                        look_at(viewer, cy, cx)
                        self.session.settle(frames, t0, ours=ours, timeout=60, need_data=False)
                        meter = StallMeter()
                        meter.start()
                        per_gui, per_wall = [], []
                        for y, x in later:
                            gui_before = self.session.gui.total
                            t0 = time.perf_counter()
                            look_at(viewer, y, x)
                            view = self.session.settle(frames, t0, ours=ours, timeout=60, need_data=False)
                            per_gui.append(self.session.gui.total - gui_before)
                            per_wall.append(view.full)
                        worst = meter.stop()
                        for value in per_gui:
                            gui.add(side, value)
                        for value in per_wall:
                            wall.add(side, value)
                        stall.add(side, worst)
                        log(f"    {side:>6}: GUI data time per pan {statistics.median(per_gui) * 1000:.1f} ms "
                            f"(max {max(per_gui) * 1000:.0f}), complete after {statistics.median(per_wall) * 1000:.0f} ms, "
                            f"longest stall {worst * 1000:.0f} ms")

                self.guarded(gui, side, measure)

    # goal 4: sharded v3 over HTTP
    def case_sharded(self) -> None:
        import numpy as np

        shard = self.sizes.shard
        # a shard-sized view straddling four shards (a quarter of each): what a pan usually shows
        y0 = x0 = self._aligned(self.sizes.image, 2 * shard) + shard // 2
        per = (shard // self.sizes.chunk) ** 2
        name = "image-v05-sharded.ome.zarr"
        log(f"sharded v3 over HTTP 20 ms: [{y0}:{y0 + shard}]² of channel 0 ({per} inner chunks in 4 shards)")
        row = self.row("sharded-read", f"sharded v3 region read over HTTP 20 ms ({per} inner chunks across 4 shards; "
                       "anchor: zarr 3.1 direct)", "ms", "≤ 3 round trips")
        region = (slice(y0, y0 + shard), slice(x0, x0 + shard))
        results = {}
        for run in range(self.args.runs):
            for side in self.sides(run):
                def measure(side: str = side) -> None:
                    clear_caches()
                    if side == ANCHOR:
                        import zarr

                        array = zarr.open_array(self.url(name) + "/0", mode="r")
                        level = _Channel(array, 0)
                    else:
                        level = self._our_level(self.url(name), channel=0)
                    self.server.reset_stats()
                    t = time.perf_counter()
                    data = np.asarray(level[region])
                    elapsed = time.perf_counter() - t
                    stats = self.server.stats
                    row.add(side, elapsed, stats.round_trips)
                    results[side] = data
                    log(f"    {side:>6}: {elapsed * 1000:.0f} ms, {traffic(stats)}")

                self.guarded(row, side, measure)
        if len(results) == 2:
            same = np.array_equal(results[OURS], results[ANCHOR])
            self.notes.append(f"Sharded read: ours and zarr-python return {'identical' if same else 'DIFFERENT'} pixels.")
        view = self.row("sharded-view", f"sharded v3 view over HTTP 20 ms (the same {shard}²), camera move → shown; "
                        "anchor: napari-ome-zarr", "ms")
        self._view_region(name, view, (y0, x0, shard))

    # goal 7: plates
    def case_plates(self) -> None:
        targets = {96: "≤ 2 s", 384: "≤ 5 s"}
        for rows, columns in self.sizes.plates:
            wells = rows * columns
            name = streaming_data.plate_name(rows, columns)
            log(f"{wells}-well plate over HTTP 20 ms: open → whole mosaic shown")
            row = self.row(f"plate{wells}", f"{wells}-well plate over HTTP 20 ms: open → whole mosaic shown", "s",
                           targets.get(wells, ""))
            first = self.row(f"plate{wells}-first", f"{wells}-well plate over HTTP 20 ms: open → first pixel", "s")
            anchor_runs = self.args.anchor_plate_runs
            for run in range(max(self.args.runs, anchor_runs)):
                for side in self.sides(run):
                    if side == ANCHOR and run >= anchor_runs:
                        continue
                    if side != ANCHOR and run >= self.args.runs:
                        continue

                    def measure(side: str = side, name: str = name, row: Row = row, first: Row = first) -> None:
                        with self.session.viewer() as (viewer, frames):
                            self.server.reset_stats()
                            view = self.session.open(viewer, frames, self.url(name), side, timeout=400)
                            stats = self.server.stats
                            row.add(side, view.full, stats.round_trips)
                            first.add(side, view.first, stats.round_trips)
                            log(f"    {side:>6}: first {view.first or float('nan'):.2f} s, whole mosaic {view.full:.2f} s, "
                                f"{traffic(stats)}")

                    self.guarded(row, side, measure)
            if anchor_runs < self.args.runs:
                row.note = f"anchor measured {anchor_runs}×"

    # goal 8: Z steps at full resolution
    def _z_targets(self, current: int) -> list[int]:
        """Up to three planes to step to from plane *current*: each in a z chunk as far as possible
        from every chunk shown before (so neither side can have read or prefetched it)."""
        nz = self.sizes.volume[0]
        cz = self.sizes.volume_chunks[0]
        count = -(-nz // cz)
        visited = [current // cz]
        for _ in range(min(3, count - 1)):
            free = [c for c in range(count) if c not in visited]
            visited.append(max(free, key=lambda c: (min(abs(c - v) for v in visited), -c)))
        return [min(nz - 1, c * cz + cz // 2) for c in visited[1:]]

    def _zstep(self, side: str, row: Row, bytes_row: Row | None, total_row: Row | None) -> None:
        n = self.sizes.volume[1]
        ours = side != ANCHOR
        session_start = read_chars()
        with self.session.viewer() as (viewer, frames):
            self.session.open(viewer, frames, self.local("volume-v05.ome.zarr"), side)
            planes = self._z_targets(int(viewer.dims.current_step[0]))
            t0 = time.perf_counter()
            look_at(viewer, n / 2, n / 2)
            self.session.settle(frames, t0, ours=ours, timeout=30, what="the full-resolution view")
            # no cache is emptied between steps: every target is a z chunk this viewer never showed
            for z in planes:
                before_read, before_stats = read_chars(), engine_stats()
                with RssSampler() as rss:
                    t0 = time.perf_counter()
                    viewer.dims.set_current_step(0, z)
                    view = self.session.settle(frames, t0, ours=ours, timeout=30, what=f"the step to z={z}")
                read = read_chars() - before_read
                row.add(side, view.full)
                if bytes_row is not None:
                    bytes_row.add(side, read / 1e6)
                engine_bytes = engine_stats().get("bytes", 0) - before_stats.get("bytes", 0) if ours else 0
                log(f"    {side:>6}: z={z}: {view.full * 1000:.0f} ms, {read / 1e6:.0f} MB read"
                    + (f" (engine: {engine_bytes / 1e6:.0f} MB)" if engine_bytes else "") + f", RSS {rss.peak / 1e6:.0f} MB")
        if total_row is not None:
            total_row.add(side, (read_chars() - session_start) / 1e6)

    def case_zstep(self) -> None:
        nz, n = self.sizes.volume
        log(f"Z step into a new chunk at full resolution (2 × {nz} × {n}² volume, chunks 32 × 256²)")
        row = self.row("zstep", f"Z step into a not-yet-loaded plane, full resolution (2 × {nz} × {n}², local)", "ms",
                       "≤ 0.33× anchor")
        read = self.row("zstep-bytes", "Z step: compressed bytes read during the step (rchar)", "MB")
        total = self.row("zstep-total", "Z session: compressed bytes read in all (open, full-resolution view, "
                         "3 steps, prefetch)", "MB")
        for run in range(self.args.runs):
            for side in self.sides(run):
                self.guarded(row, side, lambda side=side: self._zstep(side, row, read, total))

    # goal 5: no stalls while a slow store loads
    def case_stall(self) -> None:
        from tests.servers import ProcessServer
        from tests.stall import StallMeter

        name = "image-v05.ome.zarr"
        row = self.row("stall", f"longest event-loop stall while the store loads (after viewer.open returned), "
                       f"HTTP with {SLOW_CHUNK:.0f} s per chunk request", "ms", "≤ 100 ms")
        opening = self.row("stall-open", "longest event-loop stall, viewer.open included (napari builds the 3 layers "
                           "in one call)", "ms")
        shown = self.row("stall-first", f"open → first pixel with {SLOW_CHUNK:.0f} s per chunk request", "s")
        cap = self.args.stall_cap
        server = ProcessServer(self.data.root, latency=LATENCY)
        server.listing = False
        try:
            for side in (OURS, ANCHOR) + ((FLOOR,) if self.floor else ()):
                def measure(side: str = side) -> None:
                    server.reset()
                    server.latency = LATENCY
                    server.listing = False
                    server.faults.add(f"{name}/*/c/*", f"slow:{SLOW_CHUNK}")  # chunk keys only
                    capped = threading.Event()

                    def release() -> None:
                        capped.set()
                        server.reset()
                        server.latency = LATENCY

                    timer = threading.Timer(cap, release)
                    with self.session.viewer() as (viewer, frames):
                        meter = StallMeter()
                        loading = StallMeter()
                        meter.start()
                        timer.start()
                        try:
                            with StallWhere(meter) as where:
                                t0 = time.perf_counter()
                                quiet_open(viewer, self.floor if side == FLOOR else server.url_for(name), side)
                                loading.start()
                                with StallWhere(loading, after=0.05, every=0.005) as where_after:
                                    view = self.session.settle(frames, t0, ours=side in OUR_SIDES, timeout=cap + 60,
                                                               server=server)
                        finally:
                            timer.cancel()
                            worst = meter.stop()
                            after_open = loading.stop()
                    row.add(side, after_open)
                    opening.add(side, worst)
                    shown.add(side, view.first)
                    note = f" (the slow store was released after {cap:.0f} s)" if capped.is_set() else ""
                    if capped.is_set():
                        row.note = "; ".join(filter(None, [row.note, f"{side} capped: store released after {cap:.0f} s"]))
                    log(f"    {side:>6}: longest stall {worst * 1000:.0f} ms ({after_open * 1000:.0f} ms after open returned), first pixel {view.first or float('nan'):.2f} s, "
                        f"full {view.full:.2f} s{note}")
                    for label, found in (("", where), (" after open returned", where_after)):
                        if found.stack and found.gap > 0.05:
                            log(f"            GUI thread during the longest stall{label}: {found.stack}")
                            if side in OUR_SIDES:
                                self.notes.append(f"Slow store, ours: the GUI thread stalled {found.gap * 1000:.0f} ms"
                                                  f"{label} in {found.stack}.")

                self.guarded(row, side, measure)
        finally:
            server.stop()

    # memory: one child process per side
    def case_memory(self) -> None:
        pan = self.row("pan-rss", "peak RSS of a session that pans the 1M-chunk level (own process)", "MB", "< 1500 MB")
        vol = self.row("zstep-rss", "peak RSS of a session that steps through the volume (own process)", "MB",
                       "well under anchor")
        for kind, row in (("pan", pan), ("zstep", vol)):
            log(f"memory: {kind} in a child process per side")
            for side in (OURS, ANCHOR):
                result = self._child(kind, side, row)
                if result is not None:
                    row.add(side, result["peak_rss"] / 1e6)
                    log(f"    {side:>6}: peak RSS {result['peak_rss'] / 1e6:.0f} MB (after napari start-up "
                        f"{result['baseline_rss'] / 1e6:.0f} MB)")

    # goal 1 as a user meets it: the first open in a new process
    def case_cold(self) -> None:
        if self.args.cold_runs < 1:
            return
        first = self.row("cold-first", f"open → first pixel in a new process (napari and viewer up, plugin not yet "
                         f"imported), local, OME 0.5 ({self.sizes.image}² × 3)", "s", "≤ 0.33× anchor")
        log("cold: the first open in a new process, one child per run and side")
        for run in range(self.args.cold_runs):
            for side in self.sides_with_floor(run):
                result = self._child("cold", side, first)
                if result is not None:
                    first.add(side, result["first"])
                    log(f"    {side:>6}: first pixel {result['first']:.2f} s, full view {result['full']:.2f} s "
                        f"(napari import + viewer {result['startup']:.1f} s before)")

    def _child(self, kind: str, side: str, row: Row) -> dict[str, Any] | None:
        """Run one measurement in a new process (this script with ``--child``); its JSON result."""
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, side, "--data", str(self.data.root.parent)]
        if self.args.quick:
            cmd.append("--quick")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=os.environ.copy())
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
            if proc.returncode != 0 or not lines:
                last = proc.stderr.strip().splitlines()[-1:] or [""]
                raise RuntimeError(f"child exited {proc.returncode}: {last[0][:300]}")
            return dict(json.loads(lines[-1]))
        except Exception as err:  # boundary: reported in the table
            row.errors.append(f"{side}: {err}")
            log(f"    ! {kind} {side}: {type(err).__name__}: {err}")
            return None


def floor_file(data: streaming_data.Datasets) -> Path:
    return data.root / f"image-v05{floor.SUFFIX}"


def write_floor(data: streaming_data.Datasets) -> str:
    """Describe our reader's layers of the local OME 0.5 image for the floor's reader (floor.py)."""
    from zarr_browser._reader import napari_get_reader

    path = str(data["image-v05.ome.zarr"])
    reader = napari_get_reader(path)
    if reader is None:
        raise RuntimeError(f"zarr-browser does not read {path}")
    return str(floor.write(floor_file(data), reader(path)))


def in_region(store: Path, name: str, region: tuple[int, int, int]) -> Callable[[str], bool]:
    """Whether a requested path is a level-0 chunk (or shard) of *store* meeting the square *region*
    ``(y0, x0, size)``: the view's own requests, as opposed to prefetches and metadata."""
    y0, x0, size = region
    meta = json.loads((store / "0" / "zarr.json").read_text())
    grid = meta["chunk_grid"]["configuration"]["chunk_shape"]  # shards when sharded: the keys' grid
    step_y, step_x = grid[-2], grid[-1]
    prefix = f"{name}/0/c/"

    def wanted(path: str) -> bool:
        if not path.startswith(prefix):
            return False
        try:
            *_, row, column = (int(part) for part in path[len(prefix):].split("/"))
        except ValueError:
            return False
        return (row * step_y < y0 + size and (row + 1) * step_y > y0
                and column * step_x < x0 + size and (column + 1) * step_x > x0)

    return wanted


def traffic(stats: Any) -> str:
    """What a loopback server counted, for the log."""
    return f"{stats.requests} requests, {stats.round_trips} round trips, peak {stats.peak_in_flight} in flight"


class _Channel:
    """One channel of a (c, y, x) zarr array, read with plain zarr-python indexing."""

    def __init__(self, array: Any, channel: int) -> None:
        self.array = array
        self.channel = channel

    def __getitem__(self, key: tuple[slice, slice]) -> Any:
        return self.array[(self.channel, *key)]


def run_child(args: argparse.Namespace, data: streaming_data.Datasets) -> None:
    """One measurement in this fresh process (memory, or the first open); prints one JSON line."""
    kind, side = args.child
    if kind == "cold":
        started = time.perf_counter()
        session = Session()
        path = str(data["image-v05.ome.zarr"])
        if side == FLOOR:
            path = str(floor_file(data))
            floor.register()
        with session.viewer() as (viewer, frames):
            startup = time.perf_counter() - started
            view = session.open(viewer, frames, path, side)
        print(json.dumps({"first": view.first, "full": view.full, "startup": startup}))
        return
    args.runs = 1
    bench = Bench(args, data)
    baseline = rss_bytes()
    bench.only_side = side
    try:
        if kind == "pan":
            bench.case_pan()
        else:
            row = bench.row("zstep", "zstep", "ms")
            bench._zstep(side, row, None, None)
    finally:
        bench.close()
    print(json.dumps({"peak_rss": peak_rss_bytes(), "baseline_rss": baseline}))


# -- main ------------------------------------------------------------------------------------


def _reexec_under_xvfb() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("_ZB_BENCH_XVFB"):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        raise SystemExit("no display and no xvfb-run: install xvfb or run under a display")
    env = {**os.environ, "_ZB_BENCH_XVFB": "1"}
    os.execvpe(xvfb, [xvfb, "-a", "-s", XVFB_SCREEN, sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], env)


def _isolate_napari_settings() -> None:
    """napari reads its settings from NAPARI_CONFIG: use fresh defaults (synchronous slicing)."""
    if "NAPARI_CONFIG" not in os.environ:
        folder = tempfile.mkdtemp(prefix="zb-bench-napari-")
        os.environ["NAPARI_CONFIG"] = os.path.join(folder, "settings.yaml")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, one run: a smoke run under 2 minutes")
    parser.add_argument("--runs", type=int, default=None, help="runs per side (default 3, quick 1)")
    parser.add_argument("--only", default="", help=f"comma-separated cases of {','.join(CASES)}")
    parser.add_argument("--data", type=Path, default=None, help="the data cache (default ~/.cache/zarr-browser/bench)")
    parser.add_argument("--rebuild", action="store_true", help="write the data again")
    parser.add_argument("--anchor-plate-runs", type=int, default=1,
                        help="runs of the anchor on plates (about 26 s and 100 s each at full size)")
    parser.add_argument("--stall-cap", type=float, default=None,
                        help="seconds after which the slow store is released (the anchor blocks for minutes; "
                             "default 10, quick 6)")
    parser.add_argument("--cold-runs", type=int, default=None,
                        help="new processes per side for the first-open row (default: --runs; quick 0: skipped)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the markdown table")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SIDE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.stall_cap is None:
        args.stall_cap = 6.0 if args.quick else 10.0
    if args.cold_runs is None:
        # as many as the other rows: the first child of a series often pays for a cold page cache
        args.cold_runs = 0 if args.quick and "cold" not in args.only.split(",") else args.runs
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message="System theme detection")
    _reexec_under_xvfb()
    _isolate_napari_settings()
    sizes = streaming_data.QUICK if args.quick else streaming_data.FULL
    started = time.perf_counter()
    if args.child is None:
        log(f"data: {sizes.name} set in {(args.data or streaming_data.default_cache_dir()) / sizes.name}")
    data = streaming_data.build(args.data, sizes, force=args.rebuild and args.child is None, log=log)
    if args.child is not None:
        run_child(args, data)
        return
    cases = [c for c in (args.only.split(",") if args.only else CASES) if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        raise SystemExit(f"unknown cases: {', '.join(sorted(unknown))}")
    bench = Bench(args, data)
    try:
        bench.warm_up()
        for case in CASES:
            if case in cases:
                case_started = time.perf_counter()
                getattr(bench, f"case_{case}")()
                log(f"  ({case}: {time.perf_counter() - case_started:.0f} s)")
    finally:
        bench.close()
    elapsed = time.perf_counter() - started
    report(bench, args, elapsed)


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("napari", "napari-ome-zarr", "zarr", "dask", "numcodecs"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} -")
    try:
        import qtpy

        parts.append(f"{qtpy.API_NAME} {qtpy.PYQT_VERSION or qtpy.PYSIDE_VERSION} (Qt {qtpy.QT_VERSION})")
    except Exception:  # boundary: a version line must not end the benchmark
        parts.append("Qt -")
    return ", ".join(parts)


def report(bench: Bench, args: argparse.Namespace, elapsed: float) -> None:
    rows = list(bench.rows.values())
    cells = table(rows)
    print()
    print(render_text(cells))
    notes = [
        f"{args.runs} run(s) per side, interleaved, medians; ratio = ours / anchor; {bench.sizes.name} data; "
        f"canvas {CANVAS}×{CANVAS} px; HTTP adds {LATENCY * 1000:.0f} ms per request (loopback).",
        "In-process runs are warm (napari, plugins and HTTP clients loaded by a warm-up; OS page cache warm); "
        "our engine's cache and napari's dask cache are emptied before every run.",
        *bench.notes,
        *(f"{row.goal}: {row.note}" for row in rows if row.note and row.note not in " ".join(bench.notes)),
        *(f"{row.goal}: error: {e}" for row in rows for e in row.errors),
        f"{_versions()}; Python {platform.python_version()}; {os.cpu_count()} CPUs; run took {elapsed / 60:.1f} min.",
    ]
    print()
    for note in notes:
        print(f"- {note}")
    out = args.output or RESULTS / ("streaming-quick.md" if args.quick else "streaming.md")
    if args.only and args.output is None:
        print("\n(a partial run with --only: the table is not written; pass --output to write it)")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    out.write_text(
        f"<!-- written by benchmarks/bench_streaming.py{' --quick' if args.quick else ''} on {stamp} -->\n"
        + render_markdown(cells) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    )
    print(f"\nwritten to {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
