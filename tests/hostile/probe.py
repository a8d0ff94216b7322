"""Run zarr-browser's entry points on one store, in this (sub)process, and print what happened.

Usage: ``python probe.py STORE OUTSIDE ENTRY [ENTRY...]`` under ``RLIMIT_AS`` (set by the caller).
For every entry a JSON line ``{"start": entry}`` is printed before it runs and a result line after;
an entry running longer than ``PROBE_ENTRY_TIMEOUT`` seconds kills the process (faulthandler), so
the caller sees a start without a result: a hang.

Reads outside the store root are counted by an audit hook (``open``, ``os.listdir``,
``os.scandir`` events whose real path lies under OUTSIDE).  Entries:

``core``       Hierarchy.open + walk; every array opened through safety.open_array and a corner read
``validate``   validate_hierarchy
``thumbnail``  make_thumbnail on every previewable node
``reader``     napari_get_reader + the reader; a corner of each layer's lowest level materialised
``window``     BrowserWindow (offscreen, ImmediateRunner): open, expand everything, select every row
``info``       ``zarr-browser info --json`` (cli.main)
``cli-validate`` ``zarr-browser validate --json`` (cli.main)
"""

from __future__ import annotations

import faulthandler
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any

OUTSIDE_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_outside: list[str] = []
_watch: dict[str, Any] = {"root": None, "on": False}


def _hook(event: str, args: tuple) -> None:
    if not _watch["on"] or event not in OUTSIDE_EVENTS or not args:
        return
    path = args[0]
    if isinstance(path, int) or path is None:
        return
    try:
        flags = args[2] if event == "open" and len(args) > 2 else None
        if isinstance(flags, int) and flags & getattr(os, "O_NOFOLLOW", 0) and os.path.islink(path):
            return  # O_NOFOLLOW on a symlink fails with ELOOP: nothing is read
        real = os.path.realpath(os.fsdecode(path))
    except Exception:  # an audit hook must never raise
        return
    root = _watch["root"]
    if real == root or real.startswith(root + os.sep):
        _outside.append(f"{event} {os.fsdecode(path)}")


def install_hook(outside: str) -> None:
    """Count reads below *outside* from now on (audit hooks cannot be removed: one switch)."""
    _watch["root"] = os.path.realpath(outside)
    if not _watch.get("installed"):
        sys.addaudithook(_hook)
        _watch["installed"] = True
    _watch["on"] = True


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:
            self.lines.append(str(record.msg))


def _report(reports: dict[str, list[str]], path: str, message: str) -> None:
    reports.setdefault(path, []).append(message)


def _corner(shape: tuple[int, ...], n: int = 4) -> tuple[slice, ...]:
    return tuple(slice(0, min(n, s)) for s in shape)


def _values(data: Any) -> list[float]:
    import numpy as np

    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        return []
    return [float(v) for v in np.unique(arr.ravel()[:4096])[:16]]


def _open(store: str, out: dict[str, Any]) -> tuple[Any, Any] | None:
    """The default registry and the hierarchy of *store*; None (reported at "/") when it cannot open."""
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.errors import ZarrBrowserError

    registry = default_registry()
    try:
        return registry, Hierarchy.open(store, hints=registry.child_hints)
    except ZarrBrowserError as err:
        _report(out["reports"], "/", f"{type(err).__name__}: {err}")
        return None


# -- entries ---------------------------------------------------------------------------------


def entry_core(store: str, out: dict[str, Any]) -> None:
    from zarr_browser.core.safety import open_array, read_region

    reports = out["reports"]
    opened = _open(store, out)
    if opened is None:
        return
    hierarchy = opened[1]
    entries = hierarchy.walk()
    out["nodes"] = [n.path for n, _ in entries]
    for node, listing in entries:
        if node.error:
            _report(reports, node.path, node.error)
        for note in node.notes:
            _report(reports, node.path, note)
        if listing is not None and not listing.complete:
            _report(reports, node.path, f"incomplete listing: {listing.error}")
        if hierarchy.consolidated is not None and node.path == "/":
            for problem in hierarchy.consolidated.problems:
                _report(reports, "/", problem)
        if node.is_array and node.array is not None:
            try:
                array = open_array(hierarchy.access, node)
                data = read_region(array, node, hierarchy.url, _corner(array.shape))  # how core reads
                out["values"].setdefault(node.path, _values(data))
            except Exception as err:  # recorded: every read error is a report
                _report(reports, node.path, f"{type(err).__name__}: {err}")
    hierarchy.close()


def entry_validate(store: str, out: dict[str, Any]) -> None:
    from zarr_browser.core.validate import validate_hierarchy

    opened = _open(store, out)
    if opened is None:
        return
    registry, hierarchy = opened
    report = validate_hierarchy(hierarchy, registry)
    for issue in report.issues:
        _report(out["reports"], issue.path, f"{issue.severity.value}: {issue.message}")
    hierarchy.close()


def entry_thumbnail(store: str, out: dict[str, Any]) -> None:
    from zarr_browser.core.preview import make_thumbnail, previewable
    from zarr_browser.core.validate import HierarchyContext
    from zarr_browser.errors import ZarrBrowserError

    opened = _open(store, out)
    if opened is None:
        return
    registry, hierarchy = opened
    ctx = HierarchyContext(hierarchy)
    for node, _ in hierarchy.walk():
        if not previewable(node, registry):
            continue
        try:
            thumb = make_thumbnail(hierarchy.access, node, registry, ctx)
            out["values"][node.path] = [thumb.source_path, thumb.note]
        except ZarrBrowserError as err:
            _report(out["reports"], node.path, f"{type(err).__name__}: {err}")
        except Exception as err:  # a non-zarr-browser error escaped the thumbnail
            _report(out["reports"], node.path, f"{type(err).__name__}: {err}")
            out["unnamed"].append(f"{node.path}: {type(err).__name__}: {err}")
    hierarchy.close()


def entry_reader(store: str, out: dict[str, Any]) -> None:
    import numpy as np

    from zarr_browser._reader import napari_get_reader

    reader = napari_get_reader(store)
    if reader is None:
        _report(out["reports"], "/", "no reader")
        return
    try:
        layers = reader(store)
    except Exception as err:
        _report(out["reports"], "/", f"reader raised {type(err).__name__}: {err}")
        return
    for i, layer in enumerate(layers):
        if not layer or layer[0] is None:
            continue
        data, kwargs = layer[0], layer[1] if len(layer) > 1 else {}
        level = data[-1] if isinstance(data, list) else data
        name = str(kwargs.get("name", i))
        key = (*(0 for _ in range(level.ndim - 2)), slice(0, 8), slice(0, 8))
        try:
            out["values"][f"layer:{name}"] = _values(np.asarray(level[key]))
        except Exception as err:
            _report(out["reports"], f"layer:{name}", f"{type(err).__name__}: {err}")


def _widget_texts(widget: Any) -> list[str]:
    from qtpy.QtWidgets import QLabel, QPlainTextEdit, QTextEdit

    texts = [w.text() for w in widget.findChildren(QLabel) if w.isVisibleTo(widget) and w.text()]
    for kind in (QTextEdit, QPlainTextEdit):
        texts += [w.toPlainText()[:20000] for w in widget.findChildren(kind) if w.isVisibleTo(widget)]
    return texts


def entry_window(store: str, out: dict[str, Any]) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import tempfile

    from qtpy.QtCore import QSettings, Qt
    from qtpy.QtWidgets import QApplication

    from zarr_browser.core.conventions import default_registry
    from zarr_browser.qt.window import BrowserWindow
    from zarr_browser.qt.workers import ImmediateRunner

    app = QApplication.instance() or QApplication([])
    previous = sys.excepthook
    sys.excepthook = lambda t, v, tb: out["unexpected"].append("".join(traceback.format_exception(t, v, tb)))
    folder = tempfile.TemporaryDirectory(prefix="zarr-browser-probe-")
    try:
        settings = QSettings(os.path.join(folder.name, "s.ini"), QSettings.Format.IniFormat)
        window = BrowserWindow(runner=ImmediateRunner(), registry=default_registry(), settings=settings)
        window.show()
        window.openStore(store)
        app.processEvents()
        if window.errorText():
            _report(out["reports"], "/", window.errorText())
        model = window.model
        role = model.PathRole

        def visit(parent: Any, depth: int = 0) -> None:
            if depth > 20:
                return
            while model.canFetchMore(parent):
                model.fetchMore(parent)
                app.processEvents()
            for row in range(model.rowCount(parent)):
                index = model.index(row, 0, parent)
                path = index.data(role)
                tip = index.data(Qt.ItemDataRole.ToolTipRole)
                if path:
                    window.selectPath(path)
                    app.processEvents()
                    shown = [str(tip or ""), *_widget_texts(window.inspector)]
                    _report(out["reports"], path, "\n".join(t for t in shown if t))
                visit(index, depth + 1)

        visit(model.index(0, 0).parent())
        out["nodes"] = sorted({p for p in out["reports"]})
        window.close()
        app.processEvents()
    finally:
        sys.excepthook = previous
        folder.cleanup()


def _cli(store: str, out: dict[str, Any], command: str) -> None:
    from zarr_browser.cli import main

    buf = io.StringIO()
    code = main([command, "--json", store], out=buf)
    out["exit_code"] = code
    text = buf.getvalue()
    out["text"] += text
    try:
        payload = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        payload = {}
        _report(out["reports"], "/", f"not JSON: {text[:200]}")
    for node in payload.get("nodes", []):
        for key in ("error", "unsafe", "notes"):
            value = node.get(key)
            if value:
                _report(out["reports"], node["path"], json.dumps(value))
    for incomplete in payload.get("incomplete", []):
        _report(out["reports"], incomplete["path"], f"incomplete: {incomplete['error']}")
    for issue in payload.get("issues", []):
        _report(out["reports"], issue.get("path", "/"), f"{issue.get('severity')}: {issue.get('message')}")


ENTRIES = {
    "core": entry_core,
    "validate": entry_validate,
    "thumbnail": entry_thumbnail,
    "reader": entry_reader,
    "window": entry_window,
    "info": lambda store, out: _cli(store, out, "info"),
    "cli-validate": lambda store, out: _cli(store, out, "validate"),
}


def _peak_rss_mb() -> float:
    """This process's peak resident memory since it started Python, in MB: ``VmHWM``, the peak
    of the current address space.  ``ru_maxrss`` keeps the peak from before ``exec`` too, when
    the forked child was a copy of the test process: a pytest grown past 1 GB made a probe of
    ~180 MB report >= 1 GB (the sizes test failed once in a long combined run)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_entry(store: str, entry: str) -> dict[str, Any]:
    out: dict[str, Any] = {"entry": entry, "reports": {}, "values": {}, "unexpected": [], "unnamed": [],
                           "text": "", "outside": []}
    records = _Records()
    logging.getLogger().addHandler(records)
    stderr, sys.stderr = sys.stderr, io.StringIO()
    del _outside[:]
    started = time.monotonic()
    try:
        ENTRIES[entry](store, out)
    except Exception:  # escaped the entry point's boundary
        out["unexpected"].append(traceback.format_exc())
    finally:
        out["seconds"] = time.monotonic() - started
        captured, sys.stderr = sys.stderr.getvalue(), stderr
        logging.getLogger().removeHandler(records)
    out["outside"] = list(_outside)
    out["max_rss_mb"] = _peak_rss_mb()
    out["log"] = records.lines
    out["text"] += captured + "\n".join(records.lines) + json.dumps(out["reports"])
    return out


def main(argv: list[str]) -> int:
    store, outside, *entries = argv
    timeout = float(os.environ.get("PROBE_ENTRY_TIMEOUT", "20"))
    from zarr_browser.core.safety import check_environment

    check_environment()
    install_hook(outside)
    for entry in entries:
        print(json.dumps({"start": entry}), flush=True)
        faulthandler.dump_traceback_later(timeout, exit=True)
        result = run_entry(store, entry)
        faulthandler.cancel_dump_traceback_later()
        print(json.dumps(result, default=str), flush=True)
    # stop daemon I/O threads quickly; a hung worker thread must not keep us alive
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    threading.current_thread().name = "probe"
    sys.exit(main(sys.argv[1:]))
