"""The layering rule, checked in fresh interpreters: core/ imports no GUI and no dask.

``zarr_browser.core`` (and every module below it) must import without Qt, napari, vispy or
dask; jsonschema and xarray are imported lazily, only when a validation or xarray feature is
used, so importing the package must not pull them in either.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

GUI_AND_COMPUTE = ["qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "vispy", "dask"]
LAZY = ["jsonschema", "xarray"]


def _imported_after(code: str) -> dict[str, object]:
    """Run *code* in a fresh interpreter; return the top-level module names it left imported."""
    script = textwrap.dedent(code) + textwrap.dedent(
        """
        import json, sys
        print("\\n@@" + json.dumps({"modules": sorted({m.split(".")[0] for m in sys.modules}),
                                   "extra": globals().get("EXTRA")}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    payload = result.stdout.rsplit("\n@@", 1)[1]
    return json.loads(payload)


def test_every_core_module_imports_without_gui_or_dask() -> None:
    out = _imported_after(
        """
        import importlib, pkgutil
        import zarr_browser.core
        EXTRA = []
        for info in pkgutil.walk_packages(zarr_browser.core.__path__, "zarr_browser.core."):
            importlib.import_module(info.name)
            EXTRA.append(info.name)
        """
    )
    modules = set(out["modules"])  # type: ignore[arg-type]
    checked = out["extra"]
    assert "zarr_browser.core.store" in checked  # type: ignore[operator]
    assert "zarr_browser.core.hierarchy" in checked  # type: ignore[operator]
    leaked = sorted(modules & set(GUI_AND_COMPUTE))
    assert not leaked, f"core imports {leaked}; modules checked: {checked}"


@pytest.mark.parametrize("module", ["zarr_browser.core", "zarr_browser.errors"])
def test_core_package_import_is_lazy(module: str) -> None:
    out = _imported_after(f"import {module}\n")
    modules = set(out["modules"])  # type: ignore[arg-type]
    leaked = sorted(modules & set(GUI_AND_COMPUTE + LAZY))
    assert not leaked, f"import {module} pulls in {leaked}"


def test_streaming_imports_without_gui_and_dask_stays_lazy() -> None:
    """streaming/ never imports Qt or napari; dask only when a level's ``to_dask()`` is called."""
    out = _imported_after(
        """
        import importlib, pkgutil
        import zarr_browser.streaming
        EXTRA = []
        for info in pkgutil.walk_packages(zarr_browser.streaming.__path__, "zarr_browser.streaming."):
            importlib.import_module(info.name)
            EXTRA.append(info.name)
        """
    )
    modules = set(out["modules"])  # type: ignore[arg-type]
    assert "zarr_browser.streaming.layers" in out["extra"]  # type: ignore[operator]
    leaked = sorted(modules & set(GUI_AND_COMPUTE))
    assert not leaked, f"zarr_browser.streaming imports {leaked}"
