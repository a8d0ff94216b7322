"""The code base passes its own linter (rules in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_check_passes() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed; it is part of the test extras (pip install -e '.[test]')")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "zarr_browser", "tests", "benchmarks"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_passes() -> None:
    """``mypy`` on the package (configured in pyproject.toml); the cache stays out of the work tree."""
    import tempfile

    if shutil.which("mypy", path=str(Path(sys.executable).parent)) is None and shutil.which("mypy") is None:
        pytest.fail("mypy is not installed; it is part of the test extras (pip install -e '.[test]')")
    cache = Path(tempfile.gettempdir()) / "zarr-browser-mypy-cache"
    proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
