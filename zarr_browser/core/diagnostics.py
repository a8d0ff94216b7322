"""On-demand storage diagnostics of one array: objects initialised, bytes stored, ratio.

These facts need a listing of every stored object of the array, which for big remote arrays
is slow, so they are never computed while browsing: callers run :func:`diagnose_array` in a
worker with a progress callback and a cancel event.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from zarr_browser.core.model import Node, key_prefix
from zarr_browser.core.safety import itemsize
from zarr_browser.core.store import StoreAccess, run_sync

__all__ = ["ArrayDiagnostics", "diagnose_array"]

ProgressCallback = Callable[[int, int], None]
"""Called with (objects seen so far, objects expected)."""


@dataclass(frozen=True, slots=True)
class ArrayDiagnostics:
    """What is stored for one array.

    Attributes
    ----------
    unit
        ``"chunks"``, or ``"shards"`` for sharded arrays (the stored objects).
    expected
        Number of objects a fully written array has.
    initialised
        Number of objects present in the store.
    bytes_stored
        Sum of their sizes.
    logical_bytes
        Size of the decoded array (None for variable-length types).
    stray
        Keys below the array that are neither metadata nor valid chunk keys.
    cancelled
        True when the run was cancelled (the counts are partial).
    """

    path: str
    unit: Literal["chunks", "shards"]
    expected: int
    initialised: int
    bytes_stored: int
    logical_bytes: int | None
    stray: int = 0
    cancelled: bool = False

    @property
    def ratio(self) -> float | None:
        """Compression ratio (logical / stored), or None when undefined."""
        if not self.logical_bytes or not self.bytes_stored:
            return None
        return self.logical_bytes / self.bytes_stored

    @property
    def fraction_initialised(self) -> float:
        return self.initialised / self.expected if self.expected else 1.0


def _chunk_key_pattern(node: Node) -> re.Pattern[str]:
    assert node.array is not None
    array = node.array
    sep = re.escape(array.separator)
    index = r"(\d+)"
    if array.ndim == 0:
        body = "c" if array.chunk_key_encoding == "default" else "0"
        return re.compile(f"^{body}$")
    indices = sep.join([index] * array.ndim)
    if array.chunk_key_encoding == "default":
        return re.compile(f"^c{sep}{indices}$")
    return re.compile(f"^{indices}$")


def diagnose_array(
    access: StoreAccess,
    node: Node,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    report_every: int = 1000,
) -> ArrayDiagnostics:
    """Count the stored objects of array *node* and their bytes (blocking; run in a worker)."""
    return run_sync(adiagnose_array(access, node, progress=progress, cancel=cancel, report_every=report_every))


async def adiagnose_array(
    access: StoreAccess,
    node: Node,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    report_every: int = 1000,
) -> ArrayDiagnostics:
    if node.array is None:
        raise ValueError(f"{node.path} is not an array")
    array = node.array
    grid = array.grid
    expected = math.prod(grid)
    pattern = _chunk_key_pattern(node)
    prefix = key_prefix(node.path)
    initialised = stored = stray = seen = 0
    cancelled = False
    async for key, size in access.list_sizes(prefix):
        rel = key[len(prefix):] if key.startswith(prefix) else key
        if rel in ("zarr.json", ".zarray", ".zattrs", ".zgroup"):
            continue
        match = pattern.match(rel)
        if match and all(int(i) < n for i, n in zip(match.groups(), grid, strict=True)):
            initialised += 1
            stored += size
        else:
            stray += 1
        seen += 1
        if seen % report_every == 0:
            if progress is not None:
                progress(initialised, expected)
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
    if progress is not None and not cancelled:
        progress(initialised, expected)
    item_size = itemsize(array)
    logical = math.prod(array.shape) * item_size if item_size is not None else None
    return ArrayDiagnostics(
        node.path, "shards" if array.shards else "chunks", expected, initialised, stored, logical, stray, cancelled
    )
