"""Which stored chunks of a region are missing: a 404 must not pass for the fill value.

zarr reads an absent chunk as the fill value.  That is right for a sparse array written that
way, and wrong when a remote server lost one chunk of an otherwise complete array (a 404 with
both neighbours present).  :func:`missing_chunks` lists the stored objects (chunks, or shards
when sharded) a region touches that do not exist, so that a reader can flag them instead of
drawing fill.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zarr_browser.core.safety import open_array
from zarr_browser.core.store import run_sync

if TYPE_CHECKING:
    from zarr_browser.core.model import Node
    from zarr_browser.core.store import StoreAccess

__all__ = ["MAX_KEYS", "MissingChunk", "missing_chunks"]

MAX_KEYS = 4096
"""Most stored objects one call checks (each is a request on a remote store)."""


@dataclass(frozen=True, slots=True)
class MissingChunk:
    """One absent stored object: its grid coordinates, store key and URL."""

    coords: tuple[int, ...]
    key: str
    url: str


def _grid_shape(array: object) -> tuple[int, ...]:
    meta = array.metadata  # type: ignore[attr-defined]
    if getattr(meta, "zarr_format", 3) == 2:
        return tuple(meta.chunks)
    return tuple(meta.chunk_grid.chunk_shape)  # the shard shape when sharded: what is stored


def missing_chunks(access: StoreAccess, node: Node, region: Sequence[slice] | None = None) -> list[MissingChunk]:
    """The stored objects of *node* overlapping *region* (whole array by default) that are absent.

    Raises
    ------
    UnsafeArrayError
        When the safety gate refuses the array (the check opens it through the gate).
    ValueError
        When the region touches more than :data:`MAX_KEYS` stored objects.
    StoreReadError
        When an existence check fails (never reported as "missing").
    """
    array = open_array(access, node)
    shape = tuple(array.shape)
    grid = _grid_shape(array)
    region = tuple(region or ()) + tuple(slice(None) for _ in range(len(shape) - len(region or ())))
    ranges = []
    for sel, size, chunk in zip(region, shape, grid, strict=True):
        start, stop, _ = sel.indices(size)
        if stop <= start:
            return []
        ranges.append(range(start // chunk, (stop - 1) // chunk + 1))
    total = math.prod(len(r) for r in ranges)
    if total > MAX_KEYS:
        raise ValueError(f"{node.path}: the region touches {total} stored chunks, over the bound of {MAX_KEYS}")
    prefix = node.path.strip("/")
    coords = list(itertools.product(*ranges))
    keys = [f"{prefix}/{array.metadata.encode_chunk_key(c)}" if prefix else array.metadata.encode_chunk_key(c)
            for c in coords]

    async def check() -> list[bool]:
        return list(await asyncio.gather(*(access.zarr_store.exists(k) for k in keys)))

    present = run_sync(check())
    return [MissingChunk(c, k, access.describe_key(k)) for c, k, ok in zip(coords, keys, present, strict=True) if not ok]
