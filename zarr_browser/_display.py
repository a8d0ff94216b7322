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
layer with a napari warning naming the first failed key.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from zarr_browser.streaming.display import DisplayLevel, display_levels
from zarr_browser.streaming.engine import get_engine
from zarr_browser.streaming.levels import normalize_key

if TYPE_CHECKING:
    from zarr_browser.streaming.levels import LevelArray

__all__ = ["PREREAD_BYTES", "display_data", "display_mode", "watch"]

logger = logging.getLogger(__name__)

PREREAD_BYTES = 64 * 1024 * 1024
"""The coarsest level is read before the layer exists when it is at most this big (contrast, first pixels)."""

PREREAD_WAIT = 0.5
"""Seconds the reader waits for the coarsest level before creating the layer without it."""

REFRESH_INTERVAL_MS = 40


def display_mode() -> str:
    """``stream``, ``sync`` or ``dask`` (``ZARR_BROWSER_DISPLAY``; unknown values mean stream)."""
    mode = os.environ.get("ZARR_BROWSER_DISPLAY", "stream").strip().lower()
    return mode if mode in ("stream", "sync", "dask") else "stream"


def display_data(
    levels: Sequence[LevelArray], *, multiscale: bool, flag_missing: bool, auto_contrast: bool = False
) -> Any:
    """The data napari gets for a pyramid (a list when *multiscale*, else one array).

    In stream mode the coarsest level is requested at once and waited for at most
    :data:`PREREAD_WAIT` seconds, so that the first frame shows it and napari computes contrast
    from real data.  When it comes later and the contrast is napari's own (*auto_contrast*),
    the layer's contrast is reset once it has arrived.
    """
    mode = display_mode()
    if mode == "dask":
        arrays: list[Any] = [level.to_dask() for level in levels]
    elif mode == "sync":
        arrays = list(levels)
    else:
        ready = _preread(levels[-1])
        arrays = display_levels(levels, flag_missing=flag_missing)
        if auto_contrast and not ready:
            arrays[-1].needs_contrast = True
        watch(arrays)
    return arrays if multiscale else arrays[0]


def _preread(level: LevelArray) -> bool:
    """Request the coarsest level and wait briefly for it; whether it is all here."""
    if level.nbytes > PREREAD_BYTES or not hasattr(level.source, "block_reader"):
        return False  # too big, or a mosaic (its tiles open in workers as the view needs them)
    key = level.full_key(normalize_key((), level.shape)[0])
    try:
        engine = level.source.engine
        if not engine.request(level.source, key):
            return True
        deadline = time.monotonic() + PREREAD_WAIT
        while time.monotonic() < deadline:
            if engine.is_cached(level.source, key):
                return True
            time.sleep(0.002)
    except Exception as err:  # drawn as failed later; the layer must still be created
        logger.warning("zarr-browser: cannot read %r ahead: %s", level, err)
    return False


# -- refreshing layers -------------------------------------------------------------------------

_refresher: _Refresher | None = None


def watch(arrays: Iterable[DisplayLevel]) -> None:
    """Refresh the layers showing *arrays* when their blocks arrive (GUI thread; needs a QApplication)."""
    global _refresher
    if _refresher is None:
        _refresher = _make_refresher()
    for array in arrays:
        for token in array.tokens():
            _refresher.watch(token)


def _make_refresher() -> _Refresher:
    from qtpy.QtCore import QObject, QTimer, Signal

    class Refresher(QObject):
        arrived = Signal(int)

        def __init__(self) -> None:
            super().__init__()
            self._tokens: set[int] = set()
            self._dirty: set[int] = set()
            self._warned: weakref.WeakSet[Any] = weakref.WeakSet()
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.setInterval(REFRESH_INTERVAL_MS)
            self._timer.timeout.connect(self._flush)
            self.arrived.connect(self._on_arrived)

        def watch(self, token: int) -> None:
            if token not in self._tokens:
                self._tokens.add(token)
                get_engine().add_listener(token, self.arrived.emit)

        def _on_arrived(self, token: int) -> None:
            self._dirty.add(token)
            if not self._timer.isActive():
                self._timer.start()

        def _flush(self) -> None:
            dirty, self._dirty = self._dirty, set()
            for layer in _layers_showing(dirty):
                try:
                    layer.refresh()
                    _settle_contrast(layer)
                except Exception:  # a refresh failing must not stop the others
                    logger.exception("zarr-browser: refreshing %s failed", layer.name)
                    continue
                self._report(layer)

        def _report(self, layer: Any) -> None:
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

    return Refresher()


_Refresher = Any


def _settle_contrast(layer: Any) -> None:
    """Reset napari's own contrast once the coarsest level it was computed from has arrived."""
    arrays = _arrays_of(layer)
    coarsest = arrays[-1] if arrays else None
    if coarsest is None or not coarsest.needs_contrast:
        return
    key = coarsest.level.full_key(normalize_key((), coarsest.shape)[0])
    if get_engine().is_cached(coarsest.level.source, key):
        coarsest.needs_contrast = False
        if hasattr(layer, "reset_contrast_limits"):
            layer.reset_contrast_limits()


def _arrays_of(layer: Any) -> list[DisplayLevel]:
    data = layer.data
    items = data if isinstance(data, list | tuple) else [data]
    if type(data).__name__ == "MultiScaleData":
        items = list(data)
    return [item for item in items if isinstance(item, DisplayLevel)]


def _layers_showing(tokens: set[int]) -> list[Any]:
    from napari import Viewer

    out = []
    for viewer in list(getattr(Viewer, "_instances", ())):
        for layer in list(viewer.layers):
            arrays = _arrays_of(layer)
            if arrays and any(token in tokens for array in arrays[:1] for token in array.tokens()):
                out.append(layer)
    return out


def pending_holes(layer: Any) -> int:
    """How many holes the last read of *layer*'s levels left (tests, status)."""
    return sum(len(array.last_holes) for array in _arrays_of(layer))

