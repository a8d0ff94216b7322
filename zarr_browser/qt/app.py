"""The standalone browser application: the composition root of the Qt side.

:func:`run_browser` builds the ``QApplication`` (with the organisation and application names
``QSettings`` uses for recent stores) and, with :func:`make_browser`, the convention registry, a
:class:`ThreadRunner`, the :class:`~zarr_browser.qt.window.BrowserWindow` and its
:class:`HeapKeeper`; it opens the store given and runs the event loop.
:func:`display_available` tells the CLI whether a window can be shown at all.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qtpy.QtCore import QSettings

    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.qt.window import BrowserWindow
    from zarr_browser.qt.workers import ThreadRunner

__all__ = ["HeapKeeper", "app_settings", "display_available", "make_browser", "run_browser"]

ORGANIZATION = "zarr-browser"
APPLICATION = "zarr-browser"
#: an INI file to keep the settings (recent stores) in, instead of the user's own
SETTINGS_ENV = "ZARR_BROWSER_SETTINGS"


def app_settings() -> QSettings:
    """Where the window and the napari dock keep their settings (recent stores).

    The user's settings of the application (``~/.config/zarr-browser/zarr-browser.conf`` on
    Linux), whatever application runs it (napari names its own); ``ZARR_BROWSER_SETTINGS``
    names an INI file to use instead.
    """
    from qtpy.QtCore import QSettings

    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def display_available() -> tuple[bool, str]:
    """Whether Qt can show a window here, and why not.

    Checks that qtpy finds a Qt binding and, on Linux and other X11/Wayland systems, that a
    display exists (``DISPLAY``/``WAYLAND_DISPLAY``) unless ``QT_QPA_PLATFORM`` names a platform
    plugin explicitly (``offscreen``, ``xcb``...).
    """
    try:
        import qtpy  # noqa: F401
        from qtpy import QtWidgets  # noqa: F401
    except ImportError as err:  # qtpy raises its own ImportError subclasses when no binding is found
        return False, f"no Qt binding is installed ({err}); install zarr-browser[gui] or PyQt6"
    if os.environ.get("QT_QPA_PLATFORM"):
        return True, ""
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False, "no display (DISPLAY and WAYLAND_DISPLAY are unset)"
    return True, ""


def run_browser(url: str | None = None, storage_options: dict[str, Any] | None = None, *,
                writable: bool = False, policy: RequestPolicy | None = None, select: str | None = None) -> int:
    """Show the browser window (on *url* when given, at its node *select*, for editing when *writable*) and
    run the Qt event loop.

    *policy* sets the deadlines and retries of the stores the window opens (``--timeout``).
    """
    from qtpy.QtCore import QCoreApplication
    from qtpy.QtWidgets import QApplication

    from zarr_browser import __version__

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    window, runner, _keeper = make_browser(policy)
    window.show()
    if url:
        window.openStore(url, storage_options, writable=writable, select=select)
    interrupted = _close_on_interrupt(app, window)
    try:
        code = int(app.exec())
    finally:
        runner.shutdown()
    return 130 if interrupted() else code


def _close_on_interrupt(app: Any, window: Any) -> Any:
    """Ctrl+C in the terminal closes the window as its close button does (unsaved edits are
    asked about), and a second one quits at once; returns ``() -> bool``: whether it came.

    Python runs its signal handlers only between bytecodes, and Qt's loop holds the thread in
    C: a timer lets it run them.  Without a handler the KeyboardInterrupt surfaced in whatever
    slot ran next, which PyQt turns into an abort (SIGABRT, a traceback, nothing asked; audit H, 4).
    """
    import signal
    import threading

    from qtpy.QtCore import QTimer

    if threading.current_thread() is not threading.main_thread():
        return lambda: False
    count = 0

    def close() -> None:
        nonlocal count
        window.close()
        if window.isVisible():  # kept open (the user answered Cancel about unsaved edits)
            count = 0

    def handle(_signum: int, _frame: Any) -> None:
        nonlocal count
        count += 1
        if count == 1:
            sys.stderr.write("\nzarr-browser: interrupted: closing the window (Ctrl+C again quits at once)\n")
            QTimer.singleShot(0, close)
        else:
            sys.stderr.write("zarr-browser: interrupted again: quitting\n")
            app.exit(130)

    signal.signal(signal.SIGINT, handle)
    wake = QTimer(window)  # lets Python look at its signals while Qt waits
    wake.start(200)
    wake.timeout.connect(lambda: None)
    return lambda: count > 0


def make_browser(policy: RequestPolicy | None = None) -> tuple[BrowserWindow, ThreadRunner, HeapKeeper]:
    """The window as :func:`run_browser` builds it, not shown yet (a ``QApplication`` must exist).

    Its runner is the caller's to shut down; its :class:`HeapKeeper` runs already and must be
    kept referenced as long as the window lives (``benchmarks/bench_big_group.py`` measures this
    very window).
    """
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.qt.window import BrowserWindow
    from zarr_browser.qt.workers import ThreadRunner

    runner = ThreadRunner()
    window = BrowserWindow(runner=runner, registry=default_registry(), policy=policy)
    keeper = HeapKeeper(window, lambda: window.panel.model.hierarchy())
    keeper.start()
    sys.setswitchinterval(GUI_SWITCH_INTERVAL)
    return window, runner, keeper


GUI_SWITCH_INTERVAL = 0.001
"""How long (s) a thread that wants the GIL waits before the holder must hand it over, in the
window's process (Python's default is 5 ms).  The GUI thread takes and gives back the GIL many
times per paint, each time waiting for a worker busy in Python (parsing a large store's
metadata): with 5 ms the window's first paint next to the parse of a 20,000-node ``.zmetadata``
stalled 121–243 ms (median 140 ms over 8 runs); with 1 ms, 26–57 ms, and the first rows came as
soon (``/tmp/auditI/scripts/window_drive.py``, audit I F9).  The napari dock leaves napari's
process as napari sets it."""


class HeapKeeper:
    """Keeps Python's cyclic garbage collector off the rows of a large store (this process only).

    A full collection walks every object the interpreter tracks: with 100,000 rows listed
    (some five million objects) each took up to 2.5 s on the thread that triggered it, and the
    window froze (audit C).  Once the heap is large, every :attr:`INTERVAL_MS` the young
    generations are collected (milliseconds) and what has lived that long is frozen
    (``gc.freeze``): full collections then walk only what came since.  Frozen objects are still
    freed when no longer referenced; only garbage *cycles* among them wait, until the store is
    closed or replaced, when everything is unfrozen again.

    The napari dock does not use it: napari's own objects live in that process, and the
    collector is napari's to tune.
    """

    BIG_HEAP = 2_000_000
    """Allocated memory blocks (``sys.getallocatedblocks``) from which the heap is kept frozen."""
    INTERVAL_MS = 250

    def __init__(self, parent: Any, current: Any) -> None:
        from qtpy.QtCore import QTimer

        self._current = current  # () -> the hierarchy shown (its identity marks a new store)
        self._frozen_for: object | None = None
        self._timer = QTimer(parent)
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self.tick)

    def start(self) -> None:
        from zarr_browser.core import jsonio

        jsonio.KEEP_FROZEN = True
        self._timer.start()

    def tick(self) -> None:
        import gc

        shown = self._current()
        if self._frozen_for is not None and shown is not self._frozen_for:
            gc.unfreeze()  # the store frozen for is gone: its cycles (if any) may be collected
            self._frozen_for = None
        if shown is None or sys.getallocatedblocks() < self.BIG_HEAP:
            return
        if not gc.isenabled():
            # a worker builds with the collector quiet (jsonio.quiet_collector), and makes what it
            # built old on the way out: collecting here would walk all it made so far, on the GUI thread
            return
        gc.collect(1)
        gc.freeze()
        self._frozen_for = shown

