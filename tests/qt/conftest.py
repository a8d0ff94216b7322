"""Qt test fixtures: offscreen platform, registry, runners, demo and huge stores, settings.

Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY``), ``QT_QPA_PLATFORM`` defaults to
``offscreen``, set before any Qt import.  Under Xvfb or a real display the platform is left
alone, so GL tests elsewhere in the same session keep their context.
"""

from __future__ import annotations

import os

if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import zarr

from zarr_browser.core.conventions import ConventionRegistry, default_registry


@pytest.fixture
def registry() -> ConventionRegistry:
    return default_registry()


@pytest.fixture
def thread_runner(qapp) -> Iterator:  # type: ignore[no-untyped-def]
    """A ThreadRunner shut down after the test."""
    from zarr_browser.qt.workers import ThreadRunner

    runner = ThreadRunner()
    yield runner
    runner.shutdown()


@pytest.fixture
def immediate_runner():  # type: ignore[no-untyped-def]
    from zarr_browser.qt.workers import ImmediateRunner

    return ImmediateRunner()


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo dataset (small images), written once per session; treat it as read-only."""
    from zarr_browser.demo import write_demo

    return write_demo(tmp_path_factory.mktemp("demo"), size=256).root


def make_many(path: Path, n: int, *, consolidate: bool) -> Path:
    """A v3 group of *n* arrays ``a0``..: one written by zarr, its metadata copied (fast)."""
    group = zarr.open_group(path, mode="w", zarr_format=3)
    group.create_array("a0", shape=(100, 100), chunks=(10, 10), dtype="f4", dimension_names=["y", "x"])
    template = path / "a0"
    for i in range(1, n):
        shutil.copytree(template, path / f"a{i}")
    if consolidate:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
            zarr.consolidate_metadata(str(path))
    return path


@pytest.fixture(scope="session")
def make_many_group():  # type: ignore[no-untyped-def]
    """``make_many_group(path, n, consolidate=...)``: a v3 group of *n* arrays, built by copying."""
    return make_many


@pytest.fixture(scope="session")
def many_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``many.zarr``: 10,000 arrays in one (consolidated) group."""
    root = tmp_path_factory.mktemp("many")
    make_many(root / "many.zarr", 10_000, consolidate=True)
    return root


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    from qtpy.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot, registry, thread_runner, settings):  # type: ignore[no-untyped-def]
    """``make_window()``: a shown BrowserWindow, its edits dropped unsaved when the test ends
    (no Save/Discard prompt when qtbot closes it).  test_window.py has its own."""
    from zarr_browser.qt.window import BrowserWindow

    def make() -> BrowserWindow:
        window = BrowserWindow(runner=thread_runner, registry=registry, settings=settings)
        qtbot.addWidget(window, before_close_func=lambda w: w.editing.controller.stop())
        window.show()
        return window

    return make


@pytest.fixture(autouse=True)
def _application(qapp):  # type: ignore[no-untyped-def]
    """Every Qt test gets the QApplication (models paint icons, which needs one)."""
    yield qapp
    # a window that showed a store froze the collector's objects (BrowserWindow._on_page_loaded)
    # until its next store: tests run after it in the session (test_jsonio checks the collector
    # is left as it was) would find them frozen
    import gc

    from zarr_browser.core import jsonio

    gc.unfreeze()
    jsonio.KEEP_FROZEN = False  # (set by a window that showed a store, and by make_browser's HeapKeeper)
