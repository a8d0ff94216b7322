"""napari glue of the streaming engine: which arrays napari gets, and refreshing layers as data lands.

Three display modes (``ZARR_BROWSER_DISPLAY``):

``stream`` (default)
    :class:`~zarr_browser.streaming.display.DisplayLevel` arrays: napari's reads never wait;
    coarse data is drawn until the chunks of the view arrive, then the layer is refreshed.
``sync``
    The blocking level arrays (concurrent fetches and the shared cache, but napari waits).
``dask``
    Plain dask arrays, one chunk per stored object (what napari-ome-zarr hands napari).

The engine calls listeners from its I/O thread; :class:`_Refresher` moves the call to the GUI
thread with a queued Qt signal and refreshes every layer (of every open viewer) that shows the
source, at most once per :data:`REFRESH_INTERVAL_MS`.  Failed chunks are reported once per
layer with a napari warning naming the first failed key.  A plate (a mosaic of wells) is
reported once its view has arrived, naming each well not shown as stored (missing, unreadable,
not fitting the plate's cells, failed chunks) once per plate, whichever of its layers shows it.
In the sync and dask modes napari's reads block until a view is complete, and a plate is
reported after each read that found something new (its wells went unnamed there: audit I, F2).

While a plate's wells are being opened (their metadata read, a batch at a time; the picture
fills in as they arrive) a napari progress bar (the activity dock; "in progress" in the status
bar) and the viewer's status say how many are open: ``plate: reading wells 120/377``.  A
384-well plate behind ``python -m http.server`` was black for 15 s with no sign of life
(audit I, F6).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from zarr_browser._responsive import wait_responsive
from zarr_browser.streaming.display import DisplayLevel, display_levels
from zarr_browser.streaming.engine import get_engine
from zarr_browser.streaming.levels import normalize_key, stored_region
from zarr_browser.streaming.mosaic import MosaicSource, problems_message

if TYPE_CHECKING:
    from zarr_browser.streaming.levels import LevelArray

__all__ = ["PREREAD_BYTES", "cached_range", "display_data", "display_mode", "preread", "watch", "watch_plate"]

logger = logging.getLogger(__name__)

PREREAD_BYTES = 64 * 1024 * 1024
"""The coarsest level is read before the layer exists when it is at most this big (contrast, first pixels)."""

PREREAD_WAIT = 0.08
"""Seconds the reader waits for the coarsest level before creating the layers without it (one
round trip and a decode; a slow store is not waited for: its layers refine when data lands)."""

REFRESH_INTERVAL_MS = 40
"""Least time between two refreshes of the layers while chunks keep arriving (the first arrival
and the last one of a view refresh at once)."""

PAINT_WAIT = 0.02
"""Seconds a frame of a view that did not move since the last frame may wait, before it draws,
for view blocks due within that time (judging by how long views took to arrive so far): the
frame that would draw the placeholders once more draws the data instead, and the refresh costs
no frame of its own.  Frames of a moving view (panning, zooming, stepping) never wait."""


def display_mode() -> str:
    """``stream``, ``sync`` or ``dask`` (``ZARR_BROWSER_DISPLAY``; unknown values mean stream)."""
    mode = os.environ.get("ZARR_BROWSER_DISPLAY", "stream").strip().lower()
    return mode if mode in ("stream", "sync", "dask") else "stream"


def display_data(
    levels: Sequence[LevelArray], *, multiscale: bool, flag_missing: bool, auto_contrast: bool = False,
    wait: float = PREREAD_WAIT,
) -> Any:
    """The data napari gets for a pyramid (a list when *multiscale*, else one array).

    In stream mode the coarsest level is requested at once and waited for at most *wait*
    seconds, so that the first frame shows it and napari computes contrast from real data.
    When it comes later and the contrast is napari's own (*auto_contrast*), the layer's
    contrast is reset once its view has arrived.
    """
    mode = display_mode()
    watch_plate(levels, blocking=mode != "stream")
    if mode == "dask":
        arrays: list[Any] = [level.to_dask() for level in levels]
    elif mode == "sync":
        arrays = list(levels)
    else:
        ready = preread(levels[-1], wait)
        arrays = display_levels(levels, flag_missing=flag_missing)
        if auto_contrast and not ready:
            arrays[-1].needs_contrast = True
        watch(arrays)
    return arrays if multiscale else arrays[0]


def preread(level: LevelArray, wait: float = PREREAD_WAIT) -> bool:
    """Request the coarsest *level* and wait at most *wait* seconds for it; whether it is all here."""
    # the stored chunks behind the level (through decoding and striding views)
    source, key = stored_region(level.source, level.full_key(normalize_key((), level.shape)[0]))
    if level.nbytes > PREREAD_BYTES or source is None:
        return False  # too big, or a mosaic (its tiles open in workers as the view needs them)
    try:
        engine = source.engine
        if engine.is_cached(source, key):
            return True
        engine.request(source, key)
        return wait_responsive(lambda: engine.is_cached(source, key), wait)  # the window stays live
    except Exception as err:  # drawn as failed later; the layer must still be created
        logger.warning("zarr-browser: cannot read %r ahead: %s", level, err)
    return False


def cached_range(level: LevelArray) -> tuple[float, float] | None:
    """The finite minimum and maximum of all of *level* when the engine holds it (the coarsest
    level, read ahead), else None: contrast limits from every plane of a stack.

    napari computes a layer's first limits from the slice it builds the layer on, plane 0 of a
    stack, and then opens the stack on its middle plane: a z-stack whose planes brighten with
    depth showed as a white square (audit A).
    """
    import numpy as np

    if display_mode() != "stream" or level.nbytes > PREREAD_BYTES:
        return None
    source, key = stored_region(level.source, level.full_key(normalize_key((), level.shape)[0]))
    try:
        if source is None or not source.engine.is_cached(source, key):
            return None
        data = np.asarray(level)
    except Exception:  # boundary: napari computes its own limits
        logger.debug("zarr-browser: no contrast from %r", level, exc_info=True)
        return None
    if data.dtype.kind == "f":
        data = data[np.isfinite(data)]
    if data.size == 0 or data.dtype.kind not in "biuf":
        return None
    low, high = float(data.min()), float(data.max())
    return (low, high) if low < high else None


# -- refreshing layers -------------------------------------------------------------------------

_refresher: _Refresher | None = None


def _the_refresher() -> _Refresher:
    global _refresher
    if _refresher is None:
        _refresher = _make_refresher()
    return _refresher


def watch(arrays: Iterable[DisplayLevel]) -> None:
    """Refresh the layers showing *arrays* when their blocks arrive (GUI thread; needs a QApplication)."""
    refresher = _the_refresher()
    for array in arrays:
        for token in array.tokens():
            refresher.watch(token)
    refresher.hook_canvases()


def watch_plate(levels: Sequence[LevelArray], *, blocking: bool) -> None:
    """Report the wells of a plate layer's *levels* (mosaics) that are not shown as stored, and
    show progress while its wells open (GUI thread; needs a QApplication).  *blocking*: napari's
    reads of them wait (sync and dask modes), so each read's problems are complete when it
    returns.  Levels that are not mosaics are left alone."""
    mosaics = [level.source for level in levels if isinstance(level.source, MosaicSource)]
    if mosaics:
        _the_refresher().watch_plate(mosaics, blocking=blocking)


class _Plate:
    """The mosaics of one plate layer (its levels, finest first; its channel layers share them),
    held weakly, and what the user was shown of its loading."""

    __slots__ = ("blocking", "mosaics", "progress", "shown", "status", "title", "unit")

    def __init__(self, mosaics: Sequence[MosaicSource], blocking: bool) -> None:
        self.mosaics = [weakref.ref(mosaic) for mosaic in mosaics]
        self.blocking = blocking
        self.title = mosaics[0].title
        self.unit = mosaics[0].unit  # what a tile is: a well (a plate) or a field (a well)
        self.progress: Any = None  # napari's progress bar while wells open
        self.shown: tuple[int, int] | None = None  # (opened, asked) last shown
        self.status = ""  # the viewer status last set

    def alive(self) -> list[MosaicSource]:
        return [mosaic for ref in self.mosaics if (mosaic := ref()) is not None]

    def loading(self) -> tuple[int, int] | None:
        """``(open, asked)``: wells asked for of the levels opening tiles now (a view opens the
        tiles of its level and of the coarser ones it draws meanwhile), and how many of them are
        open at every such level; None when no level is opening tiles."""
        states = [state for mosaic in self.alive() if (state := mosaic.loading()) is not None]
        if not states:
            return None
        asked = frozenset().union(*(cells for cells, _ in states))
        opening = frozenset().union(*(cells for _, cells in states))
        return len(asked - opening), len(asked)


def _scene_canvases() -> list[tuple[Any, Any]]:
    """The open napari viewers and their vispy canvases (private napari API: none when it moved)."""
    from napari import Viewer

    out = []
    for viewer in list(getattr(Viewer, "_instances", ())):
        canvas = getattr(getattr(getattr(getattr(viewer, "window", None), "_qt_viewer", None), "canvas", None),
                         "_scene_canvas", None)
        if canvas is not None and hasattr(getattr(canvas, "events", None), "draw"):
            out.append((viewer, canvas))
    return out


def _view_of(viewer: Any) -> tuple[Any, ...] | None:
    """What a viewer shows (camera and dims), to tell a frame of a moving view; None if unknown."""
    try:
        scene = getattr(viewer, "scene", None)  # napari 0.9 (viewer.camera before)
        camera, dims = (scene.camera if scene is not None else viewer.camera), viewer.dims
        return (tuple(camera.center), camera.zoom, tuple(camera.angles), tuple(dims.point), dims.ndisplay)
    except Exception:  # boundary: napari moved these
        return None


def _make_refresher() -> _Refresher:
    from qtpy.QtCore import QObject, Qt, QTimer, Signal

    class Refresher(QObject):
        arrived = Signal(int)

        def __init__(self) -> None:
            super().__init__()
            self._tokens: set[int] = set()
            self._dirty: set[int] = set()
            self._warned: weakref.WeakSet[Any] = weakref.WeakSet()
            self._told: weakref.WeakKeyDictionary[MosaicSource, set[tuple[str, str]]] = weakref.WeakKeyDictionary()
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.setInterval(REFRESH_INTERVAL_MS)
            self._timer.timeout.connect(self._flush)
            self._last = 0.0
            self._canvases: weakref.WeakKeyDictionary[Any, tuple[weakref.ref[Any], Any]] = weakref.WeakKeyDictionary()
            self._landed: set[int] = set()  # tokens heard of on the I/O thread, not taken up yet
            self._landed_lock = threading.Lock()
            self._plates: dict[int, _Plate] = {}  # a plate's mosaic tokens → the plate
            self._progress_due: dict[int, _Plate] = {}  # plates whose loading changed (by id)
            self._progress_scheduled = False
            self._in_progress = False
            # queued even when the engine tells from the GUI thread (a blocking read of a plate
            # in napari's slicing): the refresh and the report come after napari's read
            self.arrived.connect(self._on_arrived, Qt.ConnectionType.QueuedConnection)

        def hook_canvases(self) -> None:
            """Hear when the viewers' canvases are about to draw (:meth:`_before_draw`)."""
            for viewer, canvas in _scene_canvases():
                if canvas not in self._canvases:
                    self._canvases[canvas] = (weakref.ref(viewer), None)
                    canvas.events.draw.connect(self._before_draw, position="first")
                    canvas.events.draw.connect(self._after_draw, position="last")

        def _still(self, canvas: Any) -> bool:
            """Whether *canvas* shows what it showed when it last drew (not a frame of a move)."""
            entry = self._canvases.get(canvas)
            if entry is None:
                return False
            viewer = entry[0]()
            view = None if viewer is None else _view_of(viewer)
            self._canvases[canvas] = (entry[0], view)
            return view is not None and view == entry[1]

        def _before_draw(self, event: Any = None) -> None:
            """A frame is about to be drawn: refresh now the layers whose blocks arrived, so that
            this frame draws them (vispy drops the update a refresh asks for while one is pending,
            so the refresh costs no frame of its own), after waiting at most PAINT_WAIT for view
            blocks that are about to arrive."""
            try:
                engine = get_engine()
                engine.drawing = True  # views asked for in this frame go out before it is composed
                still = self._still(getattr(event, "source", None))
                due = engine.view_due()
                if still and due is not None and due <= PAINT_WAIT:
                    engine.wait_views(PAINT_WAIT)
                self._take_landed()  # their signals may still wait in the queue
                if self._dirty:
                    self._timer.stop()
                    self._flush()
            except Exception:  # boundary: inside napari's paint; the timer path still refreshes
                logger.exception("zarr-browser: refreshing before a frame failed")

        def _after_draw(self, event: Any = None) -> None:
            get_engine().drawing = False

        def watch(self, token: int) -> None:
            if token not in self._tokens:
                self._tokens.add(token)
                get_engine().add_listener(token, self._heard)

        def watch_plate(self, mosaics: Sequence[MosaicSource], *, blocking: bool) -> None:
            """Hear the mosaics of a plate layer (see :func:`watch_plate`); its other channel
            layers, which share them, are the same plate."""
            if mosaics[0].token in self._plates:
                return
            for token in [t for t, plate in self._plates.items() if not plate.alive()]:
                del self._plates[token]  # plates closed since
            plate = _Plate(mosaics, blocking)
            for mosaic in mosaics:
                self._plates[mosaic.token] = plate
                self.watch(mosaic.token)

        def _heard(self, token: int) -> None:  # the engine's I/O thread
            with self._landed_lock:
                self._landed.add(token)
            self.arrived.emit(token)

        def _take_landed(self) -> bool:
            """Move the tokens heard of into the dirty set; whether there were any."""
            with self._landed_lock:
                landed, self._landed = self._landed, set()
            self._dirty |= landed
            return bool(landed)

        def _on_arrived(self, token: int) -> None:
            if not self._take_landed() and not self._dirty:
                return  # a frame took it up already
            self.hook_canvases()  # viewers opened since the layers were made
            if self._timer.isActive():
                if get_engine().pending() == 0:  # the last chunk of the view: show it now
                    self._timer.start(0)
                return
            since = (time.monotonic() - self._last) * 1000
            self._timer.start(0 if since >= REFRESH_INTERVAL_MS or get_engine().pending() == 0
                              else int(REFRESH_INTERVAL_MS - since))

        def _flush(self) -> None:
            self._last = time.monotonic()
            dirty, self._dirty = self._dirty, set()
            for layer in _layers_showing(dirty):
                try:
                    if _awaits_data(layer):  # a view drawn complete already needs no new frame
                        # the extent stays; the thumbnail changes only with the coarsest level's copy
                        layer.refresh(extent=False, thumbnail=_forget_materialized(layer))
                    _settle_contrast(layer)
                except Exception:  # a refresh failing must not stop the others
                    logger.exception("zarr-browser: refreshing %s failed", layer.name)
                    continue
                self._report(layer)
            self._plates_heard(dirty)

        def _plates_heard(self, dirty: set[int]) -> None:
            """Report the plates napari read with blocking reads; schedule the progress of the others."""
            plates = {id(plate): plate for token in dirty if (plate := self._plates.get(token)) is not None}
            for plate in plates.values():
                mosaics = plate.alive()
                if plate.blocking:
                    if mosaics:
                        self._report_mosaics(mosaics, blocking=True)
                    continue
                self._progress_due[id(plate)] = plate
            if self._progress_due and not self._progress_scheduled:
                # napari's progress bar runs the event loop (processEvents) when it changes: not
                # from inside a frame (_before_draw) or a refresh
                self._progress_scheduled = True
                QTimer.singleShot(0, self._show_progress)

        def _show_progress(self) -> None:
            """Show how many wells of each plate whose loading changed are open (GUI thread)."""
            self._progress_scheduled = False
            if self._in_progress:  # napari's bar ran the event loop: once this round is over
                self._progress_scheduled = True
                return
            due, self._progress_due = list(self._progress_due.values()), {}
            self._in_progress = True
            try:
                for plate in due:
                    try:
                        _show_plate_progress(plate)
                    except Exception:  # boundary: napari's progress bar and status
                        logger.exception("zarr-browser: showing the progress of %s failed", plate.title)
            finally:
                self._in_progress = False
            if self._progress_scheduled or self._progress_due:
                self._progress_scheduled = True
                QTimer.singleShot(0, self._show_progress)

        def _report(self, layer: Any) -> None:
            self._report_tiles(layer)
            if layer in self._warned:
                return
            failures = [msg for array in _arrays_of(layer) for token in array.tokens()
                        for msg in get_engine().failures(token)]
            if not failures:
                return
            self._warned.add(layer)
            from napari.utils.notifications import show_warning

            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            show_warning(f"zarr-browser: {layer.name}: chunks failed and are drawn as a checkerboard: "
                         f"{failures[0]}{more}")

        def _report_tiles(self, layer: Any) -> None:
            """Name the wells of a plate layer that are not shown as stored (missing, unreadable,
            cropped, failed chunks), once its view has arrived; wells named already (by this or
            another layer of the plate: its channels share the tiles) are not named again."""
            arrays = _arrays_of(layer)
            mosaics = [array.level.source for array in arrays if isinstance(array.level.source, MosaicSource)]
            if not mosaics or not _settled(layer, arrays):
                return
            self._report_mosaics(mosaics)

        def _report_mosaics(self, mosaics: Sequence[MosaicSource], *, blocking: bool = False) -> None:
            """One warning naming the wells of a plate's *mosaics* (its levels, finest first) not
            named yet; *blocking*: napari read them with blocking reads (sync, dask)."""
            told = self._told.setdefault(mosaics[0], set())
            new = []
            for mosaic in mosaics:  # finest first: a well's first message names its full resolution
                for problem in mosaic.problems(blocking=blocking):
                    if (problem.key, problem.kind) not in told:
                        told.add((problem.key, problem.kind))
                        new.append(problem)
            if not new:
                return
            from napari.utils.notifications import show_warning

            message = f"zarr-browser: {problems_message(mosaics[0].title, new, whole=mosaics[0].whole)}"
            logger.warning("%s", message)
            show_warning(message)

    return Refresher()


_Refresher = Any


def _show_plate_progress(plate: _Plate) -> None:
    """Open, advance or close *plate*'s progress bar, and say the same in the status of the
    viewers showing it (napari's progress bar runs the event loop: not from a frame)."""
    from napari.utils import progress

    state = plate.loading()
    if state == plate.shown:
        return
    bar = plate.progress
    if state is None or (bar is not None and (state[1] < bar.total or state[0] < bar.n)):
        # done (or a new round of opening that counts from zero again)
        plate.progress, plate.shown = None, None
        if bar is not None:
            bar.close()
        _set_status(plate, "")
        if state is None:
            return
        bar = None
    done, asked = state
    if bar is None:
        bar = plate.progress = progress(total=asked, desc=f"{plate.title}: reading {plate.unit}s")
    elif bar.total != asked:
        bar.total = asked
    if done > bar.n:
        bar.update(done - bar.n)
    plate.shown = state
    _set_status(plate, f"{plate.title}: reading {plate.unit}s {done}/{asked}")


def _set_status(plate: _Plate, text: str) -> None:
    """Show *text* in the status bar of the viewers showing *plate* (empty: put back what
    napari shows when idle, unless something else was shown meanwhile)."""
    tokens = {mosaic.token for mosaic in plate.alive()}
    viewers = {id(viewer): viewer for viewer, layer in _viewer_layers() if _shows_any(layer, tokens)}
    for viewer in viewers.values():
        if text:
            viewer.status = text
        elif viewer.status == plate.status:
            viewer.status = "Ready"
    plate.status = text


def _settled(layer: Any, arrays: Sequence[DisplayLevel]) -> bool:
    """Whether the layer's view was drawn and nothing of it is pending (its tiles and chunks known).

    Not :attr:`DisplayLevel.last_holes`: napari reads a row for the cursor value or the
    thumbnail after the view, and that small read may be complete while the view is not.  An
    invisible layer is never settled: napari does not read it, and another layer of the same
    plate may still be waiting for the tiles both show.
    """
    drawn = getattr(layer, "visible", True) and any(array.drawn for array in arrays)
    return drawn and not any(array.awaiting for array in arrays)


def _settle_contrast(layer: Any) -> None:
    """Reset napari's own contrast (computed from placeholders) once the layer's view has arrived."""
    arrays = _arrays_of(layer)
    if not arrays or not arrays[-1].needs_contrast:
        return
    shown = arrays[min(getattr(layer, "data_level", 0), len(arrays) - 1)]
    if any(h.status == "pending" for h in shown.last_holes):
        return
    arrays[-1].needs_contrast = False
    if hasattr(layer, "reset_contrast_limits"):
        layer.reset_contrast_limits(mode="slice")


def _forget_materialized(layer: Any) -> bool:
    """Drop napari's copy of the coarsest level, so that the refresh reads it again; whether
    the thumbnail (drawn from that copy, or from the only level) may change.

    napari (0.9) keeps ``np.asarray`` of a 2-D multiscale layer's coarsest level for good (the
    thumbnail, and the view when that level is shown): read while its chunks were on their
    way, it would show the placeholders for ever.  Only an incomplete copy is dropped.
    """
    arrays = _arrays_of(layer)
    if len(arrays) < 2:
        return True  # one level: the thumbnail is drawn from the view
    if not any(h.status == "pending" for h in arrays[-1].last_holes):
        return False  # its copy is complete (dropping it would read the level again, and cost a frame)
    clear = getattr(getattr(layer, "_level_materializer", None), "cache_clear", None)
    if callable(clear):
        clear()
    return True


def _awaits_data(layer: Any) -> bool:
    """Whether the layer drew placeholders since its last refresh (a refresh can then draw more).

    Clears the mark: the refresh that follows reads again and sets it again if data is still
    missing.
    """
    waiting = False
    for array in _arrays_of(layer):
        if array.awaiting:
            array.awaiting = False
            waiting = True
    return waiting


def _arrays_of(layer: Any) -> list[DisplayLevel]:
    data = layer.data
    items = data if isinstance(data, list | tuple) else [data]
    if type(data).__name__ == "MultiScaleData":
        items = list(data)
    return [item for item in items if isinstance(item, DisplayLevel)]


def _viewer_layers() -> list[tuple[Any, Any]]:
    """Every layer of every open viewer, with its viewer."""
    from napari import Viewer

    return [(viewer, layer) for viewer in list(getattr(Viewer, "_instances", ())) for layer in list(viewer.layers)]


def _shows_any(layer: Any, tokens: set[int]) -> bool:
    """Whether *layer* draws from a source of *tokens* (its finest level draws from every coarser one)."""
    arrays = _arrays_of(layer)
    return bool(arrays) and any(token in tokens for token in arrays[0].tokens())


def _layers_showing(tokens: set[int]) -> list[Any]:
    return [layer for _, layer in _viewer_layers() if _shows_any(layer, tokens)]


def pending_holes(layer: Any) -> int:
    """How many holes the last read of *layer*'s levels left (tests, status)."""
    return sum(len(array.last_holes) for array in _arrays_of(layer))

