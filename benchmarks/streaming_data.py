"""Benchmark data for ``bench_streaming.py``: microscopy-like OME-Zarr stores, written chunk by chunk.

Every store holds uint16 pixels that look like fluorescence microscopy (smooth blobs, rings and
spots on a camera offset, with shot noise), compressed with blosc-zstd level 5 + byte shuffle
as ``ome_zarr.writer`` compresses (``ome_zarr.writer._blosc_compressor``).  Pixels come from
smooth low-resolution fields (gaussian-filtered impulses) interpolated to each tile with two
small matrix products, plus noise taken from a bank of normal samples; every level of a pyramid
is rendered from the same fields (a coarser level has less noise, as a mean would).  Each
chunk is compressed once and the same bytes are written into the zarr v2 store, the zarr v3
store and, with a shard index, into the shards of the sharded v3 store (the blosc frames are
identical: same codec, same type size).  Workers (processes) write bands of chunks, so memory
stays at a few bands whatever the image size.

Array and group metadata are produced by zarr-python (``zarr.create_array`` on a memory store)
and ``ome_zarr.writer`` (multiscales, omero, plate and well metadata), so the documents are what
those writers produce.  After writing, a sample of chunks of every array is read back through
zarr-python and compared with the pixels rendered again.

The stores, in ``<cache>/<full|quick>/``:

==============================  ============================================================
``image-v04.ome.zarr``           OME 0.4, zarr v2: (c=3, y, x) pyramid, chunks 1×256²
``image-v05.ome.zarr``           OME 0.5, zarr v3: the same pixels
``image-v05-sharded.ome.zarr``   OME 0.5, zarr v3, shards 1×1024² of 1×256² inner chunks
``volume-v05.ome.zarr``          OME 0.5, zarr v3: (c=2, z, y, x), chunks 1×32×256², y/x pyramid
``huge-v05.ome.zarr``            OME 0.5, zarr v3: (y, x) pyramid whose full level has ≥ 1M chunks;
                                 chunks exist only along the benchmark's pan path
``plate96-v04.ome.zarr``         OME 0.4 plate, 8×12 wells, one 2-channel field each, 3 levels
``plate384-v04.ome.zarr``        OME 0.4 plate, 16×24 wells
==============================  ============================================================

A store is written into ``<name>.partial`` and renamed when complete; a stamp file records
:data:`DATA_VERSION` and the sizes, so an interrupted build resumes and a changed generator
rebuilds.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import string
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

DATA_VERSION = 2
STAMP = ".bench-data.json"
PIXEL_SIZE_UM = 0.325
BLOSC = {"cname": "zstd", "clevel": 5, "shuffle": 1}  # ome_zarr.writer._blosc_compressor
CHANNELS = (("DAPI", "0000FF", 90, 2600), ("Membrane", "00FF00", 140, 1500), ("Spots", "FF00FF", 80, 1800))
FIELD_FACTOR = 8  # level-0 pixels per field pixel
NOISE_BANK = 1 << 23


@dataclass(frozen=True)
class Sizes:
    """The sizes of one data set (full or quick)."""

    name: str
    image: int = 16384  # y = x of the full level
    image_levels: int = 6
    chunk: int = 256
    shard: int = 1024
    volume: tuple[int, int] = (256, 2048)  # z, y = x
    volume_chunks: tuple[int, int] = (32, 256)
    volume_levels: int = 3
    huge: int = 262144  # 1024² chunks of 256² at the full level
    huge_levels: int = 10
    plates: tuple[tuple[int, int], ...] = ((8, 12), (16, 24))
    plate_image: int = 256
    plate_levels: int = 3
    # the pan path of the huge image, in full-level pixels: a band around its centre
    pan_steps: int = 8
    pan_step: int = 512
    view: int = 1024


FULL = Sizes("full")
QUICK = Sizes("quick", image=2048, image_levels=4, volume=(64, 512), volume_levels=2,
              plates=((2, 4), (4, 6)), pan_steps=4)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/zarr-browser/bench`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zarr-browser" / "bench"


@dataclass(frozen=True)
class Datasets:
    """Where each store of one data set lives."""

    root: Path
    sizes: Sizes
    paths: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Path:
        return self.paths[name]


def plate_name(rows: int, columns: int) -> str:
    return f"plate{rows * columns}-v04.ome.zarr"


def store_names(sizes: Sizes) -> list[str]:
    return ["image-v04.ome.zarr", "image-v05.ome.zarr", "image-v05-sharded.ome.zarr", "volume-v05.ome.zarr",
            "huge-v05.ome.zarr", *(plate_name(r, c) for r, c in sizes.plates)]


# -- pixels --------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _fields2d(n: int, seed: int = 1) -> tuple[list[np.ndarray], ...]:
    """Per channel, a pyramid of periodic smooth fields of n×n field pixels (float32)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    area = (n / 256) ** 2
    cells = np.zeros((n, n), np.float32)
    count = max(8, int(110 * area))
    ys, xs = rng.integers(0, n, count), rng.integers(0, n, count)
    np.add.at(cells, (ys, xs), rng.uniform(0.6, 1.0, count).astype(np.float32))
    blob = gaussian_filter(cells, 2.2, mode="wrap")
    nuclei = np.tanh(blob / (blob.max() * 0.25 + 1e-9))
    outer, inner = gaussian_filter(cells, 4.0, mode="wrap"), gaussian_filter(cells, 2.8, mode="wrap")
    ring = np.clip(outer / outer.max() - 0.55 * inner / inner.max(), 0, None)
    spots = np.zeros((n, n), np.float32)
    count = max(32, int(1400 * area))
    centre = rng.integers(0, len(ys), count)
    sy = (ys[centre] + rng.normal(0, 3.0, count)).astype(int) % n
    sx = (xs[centre] + rng.normal(0, 3.0, count)).astype(int) % n
    np.add.at(spots, (sy, sx), rng.uniform(0.3, 1.0, count).astype(np.float32))
    spots = gaussian_filter(spots, 0.7, mode="wrap")
    fields = []
    for plane, (_, _, offset, peak) in zip((nuclei, ring, spots), CHANNELS, strict=True):
        base = (offset + peak * plane / max(float(plane.max()), 1e-9)).astype(np.float32)
        fields.append(_field_pyramid(base))
    return tuple(fields)


def _field_pyramid(base: np.ndarray) -> list[np.ndarray]:
    levels = [base]
    while min(levels[-1].shape[-2:]) >= 2:
        *lead, h, w = levels[-1].shape
        levels.append(levels[-1].reshape(*lead, h // 2, 2, w // 2, 2).mean(axis=(-1, -3), dtype=np.float32))
    return levels


@lru_cache(maxsize=2)
def _fields3d(nz: int, n: int, seed: int = 2) -> tuple[list[np.ndarray], ...]:
    """Per channel (2), a y/x pyramid of periodic smooth 3-D fields (nz, n, n)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    cells = np.zeros((nz, n, n), np.float32)
    count = max(8, int(110 * (n / 256) ** 2 * nz / 3))
    idx = tuple(rng.integers(0, size, count) for size in (nz, n, n))
    np.add.at(cells, idx, rng.uniform(0.6, 1.0, count).astype(np.float32))
    blob = gaussian_filter(cells, (1.2, 2.2, 2.2), mode="wrap")
    nuclei = np.tanh(blob / (blob.max() * 0.25 + 1e-9))
    outer, inner = (gaussian_filter(cells, (s / 2, s, s), mode="wrap") for s in (4.0, 2.8))
    ring = np.clip(outer / outer.max() - 0.55 * inner / inner.max(), 0, None)
    fields = []
    for plane, (_, _, offset, peak) in zip((nuclei, ring), CHANNELS, strict=False):
        base = (offset + peak * plane / max(float(plane.max()), 1e-9)).astype(np.float32)
        fields.append(_field_pyramid(base))
    return tuple(fields)


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    return np.random.default_rng(3).standard_normal(NOISE_BANK, dtype=np.float32)


def _weights(start: int, count: int, step: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of *count* output pixels (spacing *step* field pixels) from a periodic
    axis of *size* field pixels: the field indices used and the (count, len(indices)) weights."""
    centres = (np.arange(start, start + count) + 0.5) * step - 0.5
    low = np.floor(centres).astype(np.int64)
    frac = (centres - low).astype(np.float32)
    first = int(low[0])
    span = int(low[-1]) - first + 2
    matrix = np.zeros((count, span), np.float32)
    rows = np.arange(count)
    matrix[rows, low - first] = 1 - frac
    matrix[rows, low - first + 1] += frac
    return np.arange(first, first + span) % size, matrix


def _field_level(pyramid: list[np.ndarray], level: int) -> tuple[np.ndarray, float]:
    """The field level to sample for image level *level* and its step in field pixels per pixel."""
    step = 2.0**level / FIELD_FACTOR
    m = 0
    while step > 1 and m + 1 < len(pyramid):
        step /= 2
        m += 1
    return pyramid[m], step


def render2d(pyramid: list[np.ndarray], level: int, y0: int, x0: int, h: int, w: int, salt: int) -> np.ndarray:
    """Pixels [y0:y0+h, x0:x0+w] of one channel at pyramid *level* (uint16)."""
    fld, step = _field_level(pyramid, level)
    iy, wy = _weights(y0, h, step, fld.shape[0])
    ix, wx = _weights(x0, w, step, fld.shape[1])
    signal = wy @ fld[np.ix_(iy, ix)] @ wx.T
    return _noisy(signal, level, salt)


def render3d(pyramid: list[np.ndarray], level: int, z0: int, y0: int, x0: int, shape: tuple[int, int, int],
             z_factor: int, salt: int) -> np.ndarray:
    """Voxels of one channel of the volume at y/x pyramid *level* (z is never downsampled)."""
    fld, step = _field_level(pyramid, level)
    iz, wz = _weights(z0, shape[0], 1.0 / z_factor, fld.shape[0])
    iy, wy = _weights(y0, shape[1], step, fld.shape[1])
    ix, wx = _weights(x0, shape[2], step, fld.shape[2])
    sub = fld[np.ix_(iz, iy, ix)]
    signal = np.einsum("zi,ijk,yj,xk->zyx", wz, sub, wy, wx, optimize=True)
    return _noisy(signal, level, salt)


def _noisy(signal: np.ndarray, level: int, salt: int) -> np.ndarray:
    """Shot noise (and 8 e⁻ read noise) on *signal*, averaged over the 4**level pixels of a level."""
    bank = _noise_bank()
    n = signal.size
    start = (salt * 2654435761) % (len(bank) - n)
    noise = bank[start : start + n].reshape(signal.shape)
    noisy = signal + np.sqrt(signal + 64.0) * noise * np.float32(0.5**level)
    return np.clip(np.rint(noisy), 0, 65535).astype(np.uint16)


def _salt(*parts: int) -> int:
    value = 17
    for part in parts:
        value = (value * 1_000_003 + part + 1) & 0xFFFFFFFF
    return value


# -- metadata ------------------------------------------------------------------------------


def _array_documents(shape: tuple[int, ...], chunks: tuple[int, ...], zarr_format: int,
                     shards: tuple[int, ...] | None = None, dimension_names: list[str] | None = None) -> dict[str, bytes]:
    """The metadata documents zarr-python writes for such an array (``{".zarray": ...}`` etc.)."""
    import numcodecs
    import zarr
    from zarr.codecs import BloscCodec
    from zarr.storage import MemoryStore

    store = MemoryStore()
    if zarr_format == 2:
        zarr.create_array(store, name="a", shape=shape, chunks=chunks, dtype="uint16", zarr_format=2,
                          compressors=numcodecs.Blosc(**BLOSC), filters=None, fill_value=0,
                          chunk_key_encoding={"name": "v2", "separator": "/"})
    else:
        zarr.create_array(store, name="a", shape=shape, chunks=chunks, shards=shards, dtype="uint16", zarr_format=3,
                          compressors=BloscCodec(cname=BLOSC["cname"], clevel=BLOSC["clevel"], shuffle="shuffle"),
                          fill_value=0, dimension_names=dimension_names)
    docs = {key.removeprefix("a/"): value.to_bytes() for key, value in store._store_dict.items()
            if key.startswith("a/")}
    docs.pop(".zattrs", None)
    return docs


def _format(version: str) -> Any:
    from ome_zarr.format import FormatV04, FormatV05

    return {"0.4": FormatV04(), "0.5": FormatV05()}[version]


def _ome_group(path: Path, version: str) -> Any:
    import zarr

    return zarr.open_group(str(path), mode="w", zarr_format=_format(version).zarr_format)


def _axes(names: str) -> list[dict[str, str]]:
    kinds = {"c": "channel", "z": "space", "y": "space", "x": "space", "t": "time"}
    return [{"name": n, "type": kinds[n], **({"unit": "micrometer"} if kinds[n] == "space" else {})} for n in names]


def _ome_writer() -> Any:
    """``ome_zarr.writer`` (importing it warns: it builds a deprecated Scaler as a default argument)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import ome_zarr.writer
    return ome_zarr.writer


def _write_multiscales(group: Any, version: str, names: str, levels: int, z_scale: float | None = None,
                       channels: int | None = None, name: str = "image") -> None:
    write_multiscales_metadata = _ome_writer().write_multiscales_metadata

    datasets = []
    for level in range(levels):
        scale = []
        for axis in names:
            if axis == "c":
                scale.append(1.0)
            elif axis == "z":
                scale.append(float(z_scale or 1.0))
            else:
                scale.append(PIXEL_SIZE_UM * 2**level)
        datasets.append({"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]})
    metadata: dict[str, Any] = {}
    if channels:
        metadata["omero"] = {
            "channels": [
                {"label": label, "color": colour, "active": True,
                 "window": {"min": 0, "max": 65535, "start": float(offset), "end": float(offset + peak)}}
                for label, colour, offset, peak in CHANNELS[:channels]
            ],
            "rdefs": {"model": "color"},
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_multiscales_metadata(group, datasets, fmt=_format(version), axes=_axes(names), name=name,
                                   metadata=metadata)


def _write_docs(directory: Path, docs: dict[str, bytes]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in docs.items():
        (directory / name).write_bytes(content)


# -- chunk writing (in worker processes) -----------------------------------------------------


def _encode(tile: np.ndarray) -> bytes:
    import numcodecs
    from numcodecs import blosc

    blosc.use_threads = False
    return bytes(numcodecs.Blosc(**BLOSC).encode(np.ascontiguousarray(tile)))


def _key(zarr_format: int, coords: tuple[int, ...]) -> str:
    joined = "/".join(str(c) for c in coords)
    return joined if zarr_format == 2 else "c/" + joined


def _put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _shard_bytes(inner: dict[tuple[int, ...], bytes], per_shard: tuple[int, ...]) -> bytes:
    """A sharding_indexed shard: inner chunks, then the index (uint64 offset/length pairs, C order)
    and its crc32c, as zarr-python's default ``index_location="end"`` writes it."""
    import google_crc32c

    index = np.full((*per_shard, 2), np.iinfo(np.uint64).max, dtype="<u8")
    body = bytearray()
    for coords in sorted(inner):
        data = inner[coords]
        index[coords] = (len(body), len(data))
        body += data
    raw = index.tobytes()
    return bytes(body) + raw + np.uint32(google_crc32c.value(raw)).astype("<u4").tobytes()


@dataclass(frozen=True)
class _Band:
    """One unit of work: a band of chunk rows of one channel (image) or one z-chunk (volume)."""

    kind: str  # "image", "volume", "huge", "plate"
    targets: tuple[tuple[str, int], ...]  # (level directory, zarr format) per copy; ("<dir>|shard", 3) for shards
    level: int
    channel: int
    shape: tuple[int, ...]  # the level's shape
    chunks: tuple[int, ...]
    rows: tuple[int, int]  # chunk rows (y) of the band, [start, stop)
    cols: tuple[int, int]  # chunk columns
    zrow: int = 0  # volume: the z chunk
    sizes: dict[str, Any] = field(default_factory=dict)
    offset: tuple[int, int] = (0, 0)  # plate: where the well sits in the field (field pixels)
    shard: int = 0


def _run_band(band: _Band) -> int:
    """Render, encode and write one band; returns the bytes written."""
    written = 0
    sizes = band.sizes
    n_field = sizes["field"]
    if band.kind == "volume":
        pyramid = _fields3d(sizes["field_z"], n_field)[band.channel]
    else:
        pyramid = _fields2d(n_field)[band.channel]
    chunk_y, chunk_x = band.chunks[-2:]
    encoded: dict[tuple[int, int], bytes] = {}
    for row in range(*band.rows):
        for col in range(*band.cols):
            y0, x0 = row * chunk_y, col * chunk_x
            if band.kind == "volume":
                cz = band.chunks[1]
                tile = render3d(pyramid, band.level, band.zrow * cz, y0, x0, (cz, chunk_y, chunk_x),
                                sizes["z_factor"], _salt(band.level, band.channel, band.zrow, row, col))
                coords: tuple[int, ...] = (band.channel, band.zrow, row, col)
            else:
                oy, ox = band.offset
                tile = render2d(pyramid, band.level, y0 + oy, x0 + ox, chunk_y, chunk_x,
                                _salt(band.level, band.channel, row + oy, col + ox))
                coords = (band.channel, row, col) if len(band.shape) == 3 else (row, col)
            tile = tile.reshape(band.chunks)
            data = _encode(tile)
            encoded[(row, col)] = data
            for directory, zarr_format in band.targets:
                if directory.endswith("|shard"):
                    continue
                _put(Path(directory) / _key(zarr_format, coords), data)
                written += len(data)
    for directory, _ in band.targets:
        if not directory.endswith("|shard"):
            continue
        per = band.shard // chunk_y
        shard_rows = {r // per for r, _ in encoded}
        shard_cols = {c // per for _, c in encoded}
        for srow in shard_rows:
            for scol in shard_cols:
                inner = {(0, r - srow * per, c - scol * per): data for (r, c), data in encoded.items()
                         if r // per == srow and c // per == scol}
                if not inner:
                    continue
                blob = _shard_bytes(inner, (1, per, per))
                _put(Path(directory.removesuffix("|shard")) / _key(3, (band.channel, srow, scol)), blob)
                written += len(blob)
    return written


# -- the stores ----------------------------------------------------------------------------


def _image_bands(sizes: Sizes, dirs: dict[str, Path]) -> list[_Band]:
    """Bands of the three image stores (v2, v3 and sharded v3 get the same chunk bytes)."""
    bands = []
    n_field = sizes.image // FIELD_FACTOR
    for level in range(sizes.image_levels):
        n = sizes.image >> level
        chunk = min(sizes.chunk, n)
        shard = min(sizes.shard, n)
        per_band = shard // chunk
        grid = math.ceil(n / chunk)
        targets = ((str(dirs["image-v04.ome.zarr"] / str(level)), 2),
                   (str(dirs["image-v05.ome.zarr"] / str(level)), 3),
                   (str(dirs["image-v05-sharded.ome.zarr"] / str(level)) + "|shard", 3))
        for channel in range(3):
            for row in range(0, grid, per_band):
                bands.append(_Band("image", targets, level, channel, (3, n, n), (1, chunk, chunk),
                                   (row, min(grid, row + per_band)), (0, grid), sizes={"field": n_field}, shard=shard))
    return bands


def _write_image_metadata(sizes: Sizes, dirs: dict[str, Path]) -> None:
    for name, version, sharded in (("image-v04.ome.zarr", "0.4", False), ("image-v05.ome.zarr", "0.5", False),
                                   ("image-v05-sharded.ome.zarr", "0.5", True)):
        group = _ome_group(dirs[name], version)
        _write_multiscales(group, version, "cyx", sizes.image_levels, channels=3, name="bench image")
        for level in range(sizes.image_levels):
            n = sizes.image >> level
            chunk, shard = min(sizes.chunk, n), min(sizes.shard, n)
            docs = _array_documents((3, n, n), (1, chunk, chunk), 2 if version == "0.4" else 3,
                                    shards=(1, shard, shard) if sharded else None,
                                    dimension_names=None if version == "0.4" else ["c", "y", "x"])
            _write_docs(dirs[name] / str(level), docs)


def _volume_bands(sizes: Sizes, directory: Path) -> list[_Band]:
    nz, n = sizes.volume
    cz, cyx = sizes.volume_chunks
    z_factor = 4  # z pixels per field pixel
    extra = {"field": n // FIELD_FACTOR, "field_z": max(2, nz // z_factor), "z_factor": z_factor}
    bands = []
    for level in range(sizes.volume_levels):
        m = n >> level
        chunk = min(cyx, m)
        grid = math.ceil(m / chunk)
        targets = ((str(directory / str(level)), 3),)
        for channel in range(2):
            for zrow in range(math.ceil(nz / cz)):
                for row in range(0, grid, 2):
                    bands.append(_Band("volume", targets, level, channel, (2, nz, m, m), (1, cz, chunk, chunk),
                                       (row, min(grid, row + 2)), (0, grid), zrow=zrow, sizes=extra))
    return bands


def _write_volume_metadata(sizes: Sizes, directory: Path) -> None:
    nz, n = sizes.volume
    cz, cyx = sizes.volume_chunks
    group = _ome_group(directory, "0.5")
    _write_multiscales(group, "0.5", "czyx", sizes.volume_levels, z_scale=1.0, channels=2, name="bench volume")
    for level in range(sizes.volume_levels):
        m = n >> level
        chunk = min(cyx, m)
        _write_docs(directory / str(level),
                    _array_documents((2, nz, m, m), (1, cz, chunk, chunk), 3, dimension_names=["c", "z", "y", "x"]))


def huge_pan_path(sizes: Sizes) -> tuple[tuple[float, float], list[tuple[float, float]]]:
    """The huge image's pan path in full-level pixels: the start centre and the later centres."""
    centre = sizes.huge / 2
    start = (centre, centre)
    return start, [(centre, centre + (i + 1) * sizes.pan_step) for i in range(sizes.pan_steps)]


def _huge_bands(sizes: Sizes, directory: Path) -> list[_Band]:
    """Chunks of the huge image that the pan path shows (plus a margin), at every level."""
    (cy, cx), later = huge_pan_path(sizes)
    half = sizes.view // 2 + sizes.chunk
    y_lo, y_hi = cy - half, cy + half
    x_lo, x_hi = cx - half, later[-1][1] + half if later else cx + half
    bands = []
    for level in range(sizes.huge_levels):
        n = sizes.huge >> level
        chunk = min(sizes.chunk, n)
        grid = math.ceil(n / chunk)
        scale = 2**level
        rows = (max(0, int(y_lo / scale) // chunk), min(grid, int(y_hi / scale) // chunk + 1))
        cols = (max(0, int(x_lo / scale) // chunk), min(grid, int(x_hi / scale) // chunk + 1))
        if level >= sizes.huge_levels - 3:  # the overview levels are written whole
            rows, cols = (0, grid), (0, grid)
        bands.append(_Band("huge", ((str(directory / str(level)), 3),), level, 0, (n, n), (chunk, chunk),
                           rows, cols, sizes={"field": sizes.image // FIELD_FACTOR}))
    return bands


def _write_huge_metadata(sizes: Sizes, directory: Path) -> None:
    group = _ome_group(directory, "0.5")
    _write_multiscales(group, "0.5", "yx", sizes.huge_levels, name="bench huge")
    for level in range(sizes.huge_levels):
        n = sizes.huge >> level
        chunk = min(sizes.chunk, n)
        _write_docs(directory / str(level), _array_documents((n, n), (chunk, chunk), 3, dimension_names=["y", "x"]))


def _plate_wells(rows: int, columns: int) -> list[tuple[str, str]]:
    letters = string.ascii_uppercase
    return [(letters[r], str(c + 1)) for r in range(rows) for c in range(columns)]


def _write_plate_metadata(sizes: Sizes, directory: Path, rows: int, columns: int) -> list[_Band]:
    """Plate, well and image metadata of one plate (ome_zarr.writer); returns the chunk bands."""
    import zarr

    writer = _ome_writer()
    write_plate_metadata, write_well_metadata = writer.write_plate_metadata, writer.write_well_metadata
    fmt = _format("0.4")
    root = zarr.open_group(str(directory), mode="w", zarr_format=2)
    wells = _plate_wells(rows, columns)
    row_names = sorted({r for r, _ in wells})
    column_names = [str(c + 1) for c in range(columns)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_plate_metadata(root, row_names, column_names, [f"{r}/{c}" for r, c in wells], fmt=fmt,
                             name=f"bench plate {rows * columns}", field_count=1)
    level_docs = []
    for level in range(sizes.plate_levels):
        n = sizes.plate_image >> level
        level_docs.append(_array_documents((2, n, n), (1, n, n), 2))
    bands = []
    n_field = sizes.image // FIELD_FACTOR
    for i, (row, column) in enumerate(wells):
        well = root.require_group(row).require_group(column)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            write_well_metadata(well, [{"path": "0"}], fmt=fmt)
        image = well.require_group("0")
        _write_multiscales(image, "0.4", "cyx", sizes.plate_levels, channels=2, name=f"{row}{column}")
        offset = ((i * 37) % n_field * FIELD_FACTOR, (i * 61) % n_field * FIELD_FACTOR)  # level-0 pixels
        for level in range(sizes.plate_levels):
            n = sizes.plate_image >> level
            level_dir = directory / row / column / "0" / str(level)
            _write_docs(level_dir, level_docs[level])
            for channel in range(2):
                bands.append(_Band("plate", ((str(level_dir), 2),), level, channel, (2, n, n), (1, n, n),
                                   (0, 1), (0, 1), sizes={"field": n_field},
                                   offset=(offset[0] >> level, offset[1] >> level)))
    return bands


# -- verification --------------------------------------------------------------------------


def _verify(datasets: Datasets) -> None:
    """Read samples back through zarr-python: the three image stores hold the same, non-empty
    pixels (so chunk keys and shard indexes are right), every other store has data where it
    should."""
    import zarr

    rng = np.random.default_rng(0)
    sizes = datasets.sizes
    for level in range(sizes.image_levels):
        arrays = [zarr.open_array(str(datasets[name] / str(level)), mode="r")
                  for name in ("image-v04.ome.zarr", "image-v05.ome.zarr", "image-v05-sharded.ome.zarr")]
        n = arrays[0].shape[-1]
        for _ in range(3):
            c, y, x = int(rng.integers(0, 3)), int(rng.integers(0, n)), int(rng.integers(0, n))
            region = (c, slice(max(0, y - 300), y + 300), slice(max(0, x - 300), x + 300))
            blocks = [a[region] for a in arrays]
            if blocks[0].min() == 0 or not all(np.array_equal(blocks[0], b) for b in blocks[1:]):
                raise AssertionError(f"image level {level}: the three stores differ or hold holes at {region}")
    volume = zarr.open_group(str(datasets["volume-v05.ome.zarr"]), mode="r")
    for level in range(sizes.volume_levels):
        array = volume[str(level)]
        z, y = int(rng.integers(0, array.shape[1])), int(rng.integers(0, array.shape[2]))
        if array[1, z, y, :].min() == 0:
            raise AssertionError(f"volume level {level}: a hole at z={z}, y={y}")
    huge = zarr.open_group(str(datasets["huge-v05.ome.zarr"]), mode="r")
    (cy, cx), later = huge_pan_path(sizes)
    for level in range(sizes.huge_levels):
        array = huge[str(level)]
        y, x = int(cy) >> level, int(later[-1][1] if later else cx) >> level
        if array[y, max(0, x - (600 >> level)) : x + 1].min() == 0:
            raise AssertionError(f"huge level {level}: the pan path has holes")
    for rows, columns in sizes.plates:
        plate = zarr.open_group(str(datasets[plate_name(rows, columns)]), mode="r")
        for row, column in (_plate_wells(rows, columns)[0], _plate_wells(rows, columns)[-1]):
            for level in range(sizes.plate_levels):
                if plate[f"{row}/{column}/0/{level}"][:].min() == 0:
                    raise AssertionError(f"plate {rows}×{columns} well {row}{column} level {level} has holes")


# -- building ------------------------------------------------------------------------------


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))


def _run_bands(bands: list[_Band], workers: int) -> int:
    if workers <= 1:
        return sum(_run_band(b) for b in bands)
    with _pool(workers) as pool:
        return sum(pool.map(_run_band, bands, chunksize=1))


def build(root: Path | None = None, sizes: Sizes = FULL, *, workers: int | None = None, force: bool = False,
          log: Callable[[str], None] = print) -> Datasets:
    """Write (or reuse) every store of *sizes* below ``root/<sizes.name>``.

    *workers* processes render and compress (default: one per CPU for the full set; one, in
    this process, for smaller sets, where starting processes costs more than it saves).
    """
    if workers is None:
        workers = (os.cpu_count() or 1) if sizes.image >= FULL.image else 1
    base = (root or default_cache_dir()).expanduser().resolve() / sizes.name
    stamp_doc = {"version": DATA_VERSION, "sizes": asdict(sizes)}
    stamp = base / STAMP
    names = store_names(sizes)
    paths = {name: base / name for name in names}
    if not force and stamp.is_file() and all(p.is_dir() for p in paths.values()):
        try:
            if json.loads(stamp.read_text()) == json.loads(json.dumps(stamp_doc)):
                return Datasets(base, sizes, paths)
        except (OSError, json.JSONDecodeError):
            pass
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    partial = {name: base / (name + ".partial") for name in names}

    started = time.perf_counter()
    _write_image_metadata(sizes, partial)
    nbytes = _run_bands(_image_bands(sizes, partial), workers)
    log(f"  images ({sizes.image}² × 3 channels, {sizes.image_levels} levels, three formats): "
        f"{nbytes / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s")

    step = time.perf_counter()
    _write_volume_metadata(sizes, partial["volume-v05.ome.zarr"])
    nbytes = _run_bands(_volume_bands(sizes, partial["volume-v05.ome.zarr"]), workers)
    log(f"  volume (2 × {sizes.volume[0]} × {sizes.volume[1]}²): {nbytes / 1e9:.2f} GB in "
        f"{time.perf_counter() - step:.0f} s")

    step = time.perf_counter()
    _write_huge_metadata(sizes, partial["huge-v05.ome.zarr"])
    nbytes = _run_bands(_huge_bands(sizes, partial["huge-v05.ome.zarr"]), 1)
    bands = []
    for rows, columns in sizes.plates:
        bands += _write_plate_metadata(sizes, partial[plate_name(rows, columns)], rows, columns)
    nbytes += _run_bands(bands, workers)
    log(f"  huge pyramid and plates: {time.perf_counter() - step:.0f} s")

    _verify(Datasets(base, sizes, partial))
    for name in names:
        partial[name].rename(paths[name])
    stamp.write_text(json.dumps(stamp_doc))
    log(f"  data ready in {time.perf_counter() - started:.0f} s: {base}")
    return Datasets(base, sizes, paths)


def iter_level_chunks(path: Path) -> Iterator[Path]:
    """Chunk files below one level directory (for sizes in reports)."""
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            if not name.startswith((".z", "zarr.json")):
                yield Path(dirpath) / name
