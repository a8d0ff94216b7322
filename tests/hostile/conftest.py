"""Fixtures and figures of the hostile suites (corpus, fuzzing, network faults).

Every suite adds to :data:`FIGURES` (``figures`` fixture); at the end of the session the figures
are written as JSON to ``$ZARR_BROWSER_RELIABILITY_JSON`` when it is set (what
``benchmarks/reliability.py`` prints).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

FIGURES: dict[str, dict[str, Any]] = {}
_ZERO = ("code_executions", "outside_reads", "wrong_data", "unexpected_exceptions")


class Figures:
    """Counters per suite; ``max_`` keys keep maxima, the others add up."""

    def add(self, suite: str, **values: float) -> None:
        row = FIGURES.setdefault(suite, {})
        for key, value in values.items():
            if key.startswith("max_"):
                row[key] = max(row.get(key, 0), value)
            else:
                row[key] = row.get(key, 0) + value


@pytest.fixture(scope="session")
def figures() -> Figures:
    return Figures()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("ZARR_BROWSER_RELIABILITY_JSON")
    if target and FIGURES:
        Path(target).write_text(json.dumps({"figures": FIGURES, "exitstatus": int(exitstatus)}, indent=2))
