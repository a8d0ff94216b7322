"""The safety gate: nothing of an untrusted store is decoded before it is checked.

* Every codec an array declares (v2 ``filters`` + ``compressor``, v3 ``codecs`` including
  those nested in sharding) must be on an allow-list.  ``pickle`` runs code when decoding;
  ``json2``, ``msgpack2`` and ``vlen-array`` decode to sizes no metadata bounds; unknown ids
  are refused too.  Checking *every* codec defeats the "benign object codec first" bypass
  that zarr 3.1 + numcodecs ≤ 0.16.5 let through.
* Declared sizes are bounded before anything is allocated: the decoded size of one chunk,
  the size of a shard index, the number of dimensions.
* The environment must have numcodecs' pickle guard, switched on.

:func:`open_array` is the only way the rest of zarr-browser opens array data.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zarr_browser.errors import (
    ArrayReadError,
    OperationCancelledError,
    UnsafeArrayError,
    UnsafeEnvironmentError,
    ZarrBrowserError,
)

if TYPE_CHECKING:
    import numpy as np
    import zarr

    from zarr_browser.core.model import ArrayMeta, Node
    from zarr_browser.core.store import StoreAccess

__all__ = [
    "ALLOWED_CODECS",
    "REFUSED_CODECS",
    "Limits",
    "array_from_documents",
    "check_array",
    "check_environment",
    "ensure_safe",
    "itemsize",
    "open_array",
    "read_region",
    "read_values",
]

logger = logging.getLogger(__name__)

_NUMCODECS_SAFE = (
    "blosc", "zstd", "lz4", "zlib", "gzip", "bz2", "lzma", "delta", "fixedscaleoffset", "quantize",
    "bitround", "packbits", "astype", "shuffle", "crc32", "crc32c", "adler32", "fletcher32",
    "jenkins_lookup3", "zfpy", "pcodec",
)
ALLOWED_CODECS: frozenset[str] = frozenset(
    {*_NUMCODECS_SAFE, "vlen-utf8", "vlen-bytes"}  # v2 ids
    | {"bytes", "endian", "transpose", "blosc", "gzip", "zstd", "crc32c", "sharding_indexed", "vlen-utf8", "vlen-bytes"}
    | {f"numcodecs.{name}" for name in _NUMCODECS_SAFE}
)
"""Codec ids (v2) and names (v3) whose decoding is bounded and runs no code from the store."""

REFUSED_CODECS: dict[str, str] = {
    "pickle": "decoding runs pickle.loads, which executes code from the store",
    "numcodecs.pickle": "decoding runs pickle.loads, which executes code from the store",
    "json2": "an object codec whose decoded size is not bounded by the metadata",
    "msgpack2": "an object codec whose decoded size is not bounded by the metadata",
    "vlen-array": "an object codec whose decoded size is not bounded by the metadata",
}

_V3_ITEMSIZE = {
    "bool": 1, "int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8,
    "uint64": 8, "float16": 2, "float32": 4, "float64": 8, "complex64": 8, "complex128": 16,
}
_RAW_BITS = re.compile(r"^r(\d+)$")


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what the declared metadata may make us allocate.

    Attributes
    ----------
    max_chunk_bytes
        Largest decoded chunk (inner chunk when sharded) we will decode.
    max_shard_index_entries
        Largest number of inner chunks per shard (the index holds 16 bytes per entry).
    max_ndim
        Largest number of dimensions.
    """

    max_chunk_bytes: int = 1 << 30
    max_shard_index_entries: int = 1 << 24
    max_ndim: int = 32

    @classmethod
    def from_env(cls) -> Limits:
        """Defaults, with ``ZARR_BROWSER_MAX_CHUNK_BYTES`` honoured when set."""
        value = os.environ.get("ZARR_BROWSER_MAX_CHUNK_BYTES")
        return cls(max_chunk_bytes=int(value)) if value and value.isdigit() else cls()


def itemsize(array: ArrayMeta) -> int | None:
    """Bytes per element of the decoded array, or None when variable-length/unknown."""
    return _raw_itemsize(array.raw_dtype)


def _raw_itemsize(raw: object, depth: int = 0) -> int | None:
    if isinstance(raw, str) and raw in _V3_ITEMSIZE:
        return _V3_ITEMSIZE[raw]
    if isinstance(raw, str):
        match = _RAW_BITS.match(raw)
        if match:
            return max(1, int(match.group(1)) // 8)
        if raw in ("string", "variable_length_bytes", "|O", "O"):
            return None
        try:
            import numpy as np

            dt = np.dtype(raw)
        except (TypeError, ValueError):
            return None
        return None if dt.kind == "O" else dt.itemsize
    if isinstance(raw, list):
        try:
            import numpy as np

            return np.dtype([tuple(f) for f in raw]).itemsize
        except (TypeError, ValueError):
            return None
    if isinstance(raw, dict):
        name = raw.get("name")
        cfg = raw.get("configuration") or {}
        if not isinstance(cfg, dict):
            return None
        if name in ("fixed_length_utf32",) and isinstance(cfg.get("length_bytes"), int):
            return cfg["length_bytes"]
        if name in ("null_terminated_bytes", "raw_bytes") and isinstance(cfg.get("length_bytes"), int):
            return cfg["length_bytes"]
        if name in ("numpy.datetime64", "numpy.timedelta64"):
            return 8
        if name in ("structured", "struct") and isinstance(cfg.get("fields"), list) and depth < 8:
            return _fields_itemsize(cfg["fields"], depth)
    return None


def _fields_itemsize(fields: list[object], depth: int) -> int | None:
    """The packed size of a v3 structured type's fields (``[name, type]`` pairs or
    ``{"name", "data_type"}`` objects); None when one of them has no fixed size."""
    total = 0
    for entry in fields:
        if isinstance(entry, list) and len(entry) == 2:
            field_type = entry[1]
        elif isinstance(entry, dict):
            field_type = entry.get("data_type")
        else:
            return None
        size = _raw_itemsize(field_type, depth + 1)
        if size is None:
            return None
        total += size
    return total if fields else None


def check_array(node: Node, limits: Limits | None = None) -> list[str]:
    """Reasons why decoding the chunks of *node* is refused (empty when it is safe)."""
    limits = limits or Limits()
    if node.array is None:
        return [f"{node.path} is not an array"]
    array = node.array
    reasons: list[str] = []
    for codec in array.all_codecs():
        if codec.name in REFUSED_CODECS:
            reasons.append(f"codec {codec.name!r} is refused: {REFUSED_CODECS[codec.name]}")
        elif codec.name not in ALLOWED_CODECS:
            reasons.append(f"codec {codec.name!r} is not on the allow-list of codecs known to be safe")
    if array.ndim > limits.max_ndim:
        reasons.append(f"{array.ndim} dimensions exceed the bound of {limits.max_ndim}")
    size = itemsize(array)
    elements = math.prod(array.chunks) if array.chunks else 1
    if size is not None and elements * size > limits.max_chunk_bytes:
        reasons.append(
            f"one chunk of shape {list(array.chunks)} decodes to {_bytes(elements * size)}, over the "
            f"{_bytes(limits.max_chunk_bytes)} bound"
        )
    if size is None and elements > limits.max_chunk_bytes // 8:
        reasons.append(f"one chunk of shape {list(array.chunks)} holds {elements} variable-length items, too many")
    if array.shards is not None:
        per_shard = math.prod(math.ceil(s / c) if c else 0 for s, c in zip(array.shards, array.chunks, strict=False))
        if per_shard > limits.max_shard_index_entries:
            reasons.append(f"a shard holds {per_shard} inner chunks, over the bound of {limits.max_shard_index_entries}")
    return reasons


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def ensure_safe(node: Node, limits: Limits | None = None) -> None:
    """Raise :class:`UnsafeArrayError` naming the node and the reasons, if refused."""
    reasons = check_array(node, limits)
    if reasons:
        raise UnsafeArrayError(f"refusing to decode {node.path}: " + "; ".join(reasons))


def check_environment() -> None:
    """Refuse to run where numcodecs lacks its pickle guard or the guard is switched off; install
    the decoders that check what a chunk's frame declares (:mod:`zarr_browser.core.codec_guard`)."""
    from zarr_browser.core import codec_guard

    codec_guard.install()
    try:
        import numcodecs.pickles as pickles
    except ImportError:  # no numcodecs pickle module at all: nothing can unpickle
        return
    if not hasattr(pickles, "ALLOW_UNSAFE_PICKLE_DECODE"):
        import numcodecs

        raise UnsafeEnvironmentError(
            f"numcodecs {numcodecs.__version__} has no pickle-decode guard; install numcodecs>=0.16.6"
        )
    if pickles.ALLOW_UNSAFE_PICKLE_DECODE or os.environ.get("NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE", "").lower() in (
        "1", "true", "yes",
    ):
        raise UnsafeEnvironmentError(
            "unsafe pickle decoding is switched on (NUMCODECS_ALLOW_UNSAFE_PICKLE_DECODE); unset it"
        )


def open_array(access: StoreAccess, node: Node, limits: Limits | None = None) -> zarr.Array:
    """Open the data of array *node* through the guarded store, after the safety gate.

    Raises
    ------
    UnsafeArrayError
        The safety gate refuses the array.
    ArrayReadError
        zarr cannot open it (metadata we parse but zarr refuses); names the node and URL.
    """
    import zarr

    check_environment()
    ensure_safe(node, limits)
    path = node.path.lstrip("/")
    try:
        return zarr.open_array(access.zarr_store, path=path, mode="r", zarr_format=node.zarr_format)
    except ZarrBrowserError:
        raise
    except Exception as err:  # zarr raises a dozen unrelated types on hostile metadata
        raise ArrayReadError(f"cannot open {node.path} of {access.url}: {type(err).__name__}: {err}") from err


def _one_byte_order(dtype: Any) -> Any:
    """``"<u1"`` / ``">i1"`` as ``"|u1"``: a byte has no byte order, netCDF-C writes one anyway
    (NCZarr ``byte``/``ubyte`` variables) and zarr-python 3 refuses it."""
    if isinstance(dtype, str) and len(dtype) == 3 and dtype[0] in "<>=" and dtype[1:] in ("u1", "i1", "b1"):
        return "|" + dtype[1:]
    return dtype


def array_from_documents(access: StoreAccess, node: Node, limits: Limits | None = None) -> zarr.Array:
    """The zarr array of *node* built from the metadata documents already read (no I/O).

    Falls back to :func:`open_array` (which reads the metadata again) when the node carries no
    usable array document.  Same gate and errors as :func:`open_array`.
    """
    from zarr.core.array import Array, AsyncArray
    from zarr.core.metadata import ArrayV2Metadata, ArrayV3Metadata
    from zarr.storage import StorePath

    check_environment()
    ensure_safe(node, limits)
    name = "zarr.json" if node.zarr_format == 3 else ".zarray"
    document = node.documents.get(name)
    if document is None or not isinstance(document.value, dict):
        return open_array(access, node, limits)
    path = node.path.strip("/")
    try:
        if node.zarr_format == 3:
            metadata: ArrayV2Metadata | ArrayV3Metadata = ArrayV3Metadata.from_dict(dict(document.value))
        else:
            attributes = node.documents.get(".zattrs")
            value = {**document.value, "attributes": attributes.value if attributes and isinstance(attributes.value, dict) else {}}
            value["dtype"] = _one_byte_order(value.get("dtype"))
            metadata = ArrayV2Metadata.from_dict(value)
        return Array(AsyncArray(metadata=metadata, store_path=StorePath(access.zarr_store, path)))
    except ZarrBrowserError:
        raise
    except Exception as err:  # zarr raises a dozen unrelated types on hostile metadata
        raise ArrayReadError(f"cannot open {node.path} of {access.url}: {type(err).__name__}: {err}") from err


def read_region(array: zarr.Array, node: Node, url: str, selection: Any) -> Any:
    """``array[selection]`` as numpy; a decoding failure raises ArrayReadError naming the node.

    Every frame may decode to at most one (inner) chunk of the array: zarr's pipeline decodes in
    tasks and threads that inherit the bound (:func:`zarr_browser.core.codec_guard.expect_decoded`).
    """
    import numpy as np

    from zarr_browser.core.codec_guard import expect_decoded, frame_bound

    meta = node.array
    size = itemsize(meta) if meta is not None else None
    if meta is None or size is None:
        bound = Limits.from_env().max_chunk_bytes  # variable-length items: their codecs check their counts
    else:
        codecs = [*meta.codecs, *(inner for c in meta.codecs for inner in (*c.inner, *c.index))]
        widened = any(c.role in ("filter", "array-array") for c in codecs)
        bound = frame_bound(math.prod(meta.chunks) * size, widened=widened)
        if meta.shards:  # a shard's index (16 bytes per inner chunk) may be compressed too
            inner = math.prod(s // max(1, c) for s, c in zip(meta.shards, meta.chunks, strict=False))
            bound = max(bound, frame_bound(16 * inner))
    try:
        with expect_decoded(bound):
            return np.asarray(array[selection])
    except ZarrBrowserError:
        raise
    except MemoryError as err:  # a chunk or shard index asking for more memory than there is
        raise ArrayReadError(f"cannot read {node.path} of {url}: a chunk asks for more memory than is available "
                             f"(MemoryError{': ' + str(err) if str(err) else ''})") from err
    except Exception as err:  # corrupt, truncated or wrong-size chunks fail in codec-specific ways
        raise ArrayReadError(f"cannot read {node.path} of {url}: {type(err).__name__}: {err}") from err


def read_values(access: StoreAccess, node: Node, *, max_elements: int) -> np.ndarray | None:
    """All the stored values of a small array *node* (raw: no CF decoding), through the gate.

    None when the array holds more than *max_elements* values or cannot be read (refused by the
    gate, corrupt or missing chunks: logged); for checks that compare small arrays and say
    nothing when they cannot.
    """
    meta = node.array
    if meta is None or math.prod(meta.shape) > max_elements:
        return None
    try:
        return read_region(array_from_documents(access, node), node, access.url, ...)
    except OperationCancelledError:
        raise
    except ZarrBrowserError as err:
        logger.info("values of %s not read: %s", node.path, err)
        return None
