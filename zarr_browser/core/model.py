"""Values describing the nodes of a zarr hierarchy, built from raw documents.

:func:`build_node` turns the raw documents found at one path into a frozen :class:`Node`.
It never raises on bad metadata: a node whose documents cannot be understood becomes an
*error node* with a message that names the document.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from zarr_browser.core.jsonio import JSON, Document

__all__ = [
    "DENIED_NOTE",
    "UNREAD_NOTE",
    "ArrayMeta",
    "CodecInfo",
    "Node",
    "NodeKind",
    "build_node",
    "join_path",
    "key_prefix",
    "metadata_keys",
    "parent_path",
]

IMPLICIT_NOTE = "no zarr metadata here: an implicit group (not listed by zarr-python 3)"
"""The note of a folder without zarr metadata read as a group."""

NodeKind = Literal["group", "array", "error"]
METADATA_NAMES = ("zarr.json", ".zarray", ".zgroup", ".zattrs")
_ARRAY_TYPE = re.compile(r'"node_type"\s*:\s*"array"')
DENIED_NOTE = ("the server answers 403 (access denied) for keys that do not exist, as S3 and GCS do when the caller "
               "may not list: such answers are read as absent (metadata documents, nodes, and chunks, which are "
               "drawn as the fill value)")
"""The note of the node where a store was first seen to answer 403 for missing keys: its own
document read, the other zarr format's (or an optional ``.zattrs``) refused.  Said once per store."""
UNREAD_NOTE = "some documents could not be read"
"""How a node's note starts when some of its metadata documents could not be read (what is shown
of it is incomplete: validation reports it as an error, ``info`` on the node's line)."""

# v3 codecs by role, for summaries and chain checks
ARRAY_TO_ARRAY = frozenset({"transpose", "numcodecs.delta", "numcodecs.fixedscaleoffset", "numcodecs.quantize",
                            "numcodecs.bitround", "numcodecs.astype"})
ARRAY_TO_BYTES = frozenset({"bytes", "endian", "sharding_indexed", "vlen-utf8", "vlen-bytes", "numcodecs.zfpy",
                            "numcodecs.pcodec"})


def join_path(parent: str, name: str) -> str:
    """Join a node path (``"/"`` or ``"/a"``) and a child name."""
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def parent_path(path: str) -> str | None:
    """The parent of a node path, or None for the root."""
    if path == "/":
        return None
    head = path.rsplit("/", 1)[0]
    return head or "/"


def key_prefix(path: str) -> str:
    """The store key prefix of a node path: ``"/"`` → ``""``, ``"/a/b"`` → ``"a/b/"``."""
    return "" if path == "/" else path.lstrip("/") + "/"


def metadata_keys(path: str) -> list[str]:
    """The store keys of every metadata document a node at *path* may have."""
    prefix = key_prefix(path)
    return [prefix + name for name in METADATA_NAMES]


@dataclass(frozen=True, slots=True)
class CodecInfo:
    """One codec of an array's pipeline.

    ``role`` is ``filter`` / ``compressor`` (v2) or ``array-array`` / ``array-bytes`` /
    ``bytes-bytes`` (v3).  ``inner`` holds the nested codecs of ``sharding_indexed``.
    """

    name: str
    configuration: Mapping[str, JSON]
    role: str
    inner: tuple[CodecInfo, ...] = ()
    index: tuple[CodecInfo, ...] = ()

    @property
    def summary(self) -> str:
        """A short human-readable description (``blosc(zstd, clevel=5, bitshuffle)``)."""
        cfg = self.configuration
        name = self.name.removeprefix("numcodecs.")
        if name == "blosc":
            shuffle = cfg.get("shuffle")
            shuffle_name = {0: "noshuffle", 1: "shuffle", 2: "bitshuffle", -1: "autoshuffle"}.get(shuffle, shuffle)  # type: ignore[arg-type]
            return f"blosc({cfg.get('cname', '?')}, clevel={cfg.get('clevel', '?')}, {shuffle_name})"
        if name in ("zstd", "gzip", "zlib", "bz2", "lzma") and "level" in cfg:
            return f"{name}(level={cfg['level']})"
        if name in ("bytes", "endian"):
            return f"bytes({cfg.get('endian', '-')})"
        if name == "sharding_indexed":
            inner = " → ".join(c.summary for c in self.inner)
            return f"sharding({inner})"
        if name == "transpose":
            return f"transpose({cfg.get('order')})"
        return name


@dataclass(frozen=True, slots=True)
class ArrayMeta:
    """The storage facts of an array node, in zarr-python's vocabulary.

    ``chunks`` is the read unit (the *inner* chunk shape when sharded); ``shards`` the shard
    shape, or None.  ``dtype`` is the data type as shown to users: numpy's name for v2
    (``int16``, ``datetime64[ns]``, ``<U5``), the v3 name with its parameters for v3
    (``numpy.datetime64[ns]``, ``fixed_length_utf32[5 chars]``), and the fields of structured
    types; ``raw_dtype`` is the value as stored.
    """

    shape: tuple[int, ...]
    dtype: str
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    codecs: tuple[CodecInfo, ...]
    fill_value: JSON
    order: str = "C"
    dimension_names: tuple[str | None, ...] | None = None
    separator: str = "/"
    chunk_key_encoding: str = "default"
    raw_dtype: JSON = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def grid(self) -> tuple[int, ...]:
        """Number of chunks (shards when sharded) along each axis."""
        outer = self.shards or self.chunks
        return tuple(math.ceil(s / c) if c else 0 for s, c in zip(self.shape, outer, strict=False))

    @property
    def nchunks(self) -> int:
        """Number of stored objects (shards when sharded, chunks otherwise)."""
        return math.prod(self.grid)

    @property
    def dtype_name(self) -> str:
        """The data type's name: numpy names a byte order other than the machine's by its type
        string (``>u2``), which is here ``uint16`` as ``<u2`` is (the tree's dtype column, the
        Array tab)."""
        raw = self.raw_dtype
        return _dtype_name(self.dtype, raw) if isinstance(raw, str) else self.dtype

    @property
    def codec_summary(self) -> str:
        """All codecs as one readable line."""
        return " → ".join(c.summary for c in self.codecs) or "none"

    def all_codecs(self) -> list[CodecInfo]:
        """Every codec including those nested in sharding."""
        out: list[CodecInfo] = []
        stack = list(self.codecs)
        while stack:
            codec = stack.pop(0)
            out.append(codec)
            stack.extend(codec.inner)
            stack.extend(codec.index)
        return out


@functools.lru_cache(maxsize=256)
def _dtype_name(dtype: str, raw_dtype: str) -> str:
    if raw_dtype != dtype:
        return dtype
    import numpy as np

    try:
        numpy_dtype = np.dtype(raw_dtype)
    except (TypeError, ValueError):
        return dtype
    return numpy_dtype.name if numpy_dtype.kind not in "OSUV" else dtype


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a zarr hierarchy, built from its raw documents.

    Attributes
    ----------
    path
        ``"/"`` for the root, ``"/a/b"`` below.
    kind
        ``"group"``, ``"array"`` or ``"error"`` (documents present but not understood).
    zarr_format
        2, 3, or None (implicit group with no metadata document).
    documents
        The raw documents read for this node, by file name (``"zarr.json"``, ``".zattrs"``...).
    attributes
        User attributes (``zarr.json["attributes"]`` or ``.zattrs``); empty when absent.
    array
        Storage facts for arrays, else None.
    error
        Why the node could not be understood, or None.
    notes
        Structural remarks found while building the node (mixed v2+v3, implicit group, ...).
    source
        ``"store"`` when built from the node's own documents, ``"consolidated"`` when built from
        the consolidated copy.
    consolidated
        For nodes read from the store in a hierarchy with consolidated metadata: ``"fresh"``,
        ``"stale"`` (the copy differs) or ``"absent"`` (the node is missing from it); else None.
    consolidated_differs
        For stale nodes: the names of the documents that differ from their consolidated copies.
    consolidated_dataset
        For a group: the root's consolidated metadata lists child arrays of it, all with
        dimension names (an xarray dataset, as a DataTree writes its groups).  None where no
        hierarchy decided it (a node built alone): the node's own consolidated copy tells then.
    """

    path: str
    kind: NodeKind
    zarr_format: Literal[2, 3] | None
    documents: Mapping[str, Document] = field(default_factory=dict, repr=False)
    attributes: Mapping[str, JSON] = field(default_factory=dict)
    array: ArrayMeta | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()
    source: Literal["store", "consolidated"] = "store"
    consolidated: Literal["fresh", "stale", "absent"] | None = None
    consolidated_differs: tuple[str, ...] = ()
    consolidated_dataset: bool | None = None

    @property
    def name(self) -> str:
        """The last path segment (``""`` for the root)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def is_group(self) -> bool:
        return self.kind == "group"

    @property
    def lists_children(self) -> bool:
        """True for groups, and for an error node that may be one (see :meth:`may_be_group`):
        such a node is listed from its folder, so what lies below a group whose documents are
        broken can still be browsed and validated (zarr-python v3 opens it)."""
        return self.kind == "group" or (self.kind == "error" and self.may_be_group())

    def may_be_group(self) -> bool:
        """Whether this error node may be a group: some of its documents were read (so its folder
        exists) and none says it is an array.  A document read but not understood (invalid JSON,
        say) tells nothing more; an unreadable one (refused, timed out) leaves no document."""
        docs = self.documents
        if not docs or ".zarray" in docs:
            return False
        doc = docs.get("zarr.json")
        if doc is None:
            return True  # .zgroup or .zattrs
        if isinstance(doc.value, dict):
            return doc.value.get("node_type") != "array"
        # a group's consolidated copy names the node types of its children: only the group's own counts
        return "consolidated_metadata" in doc.text or _ARRAY_TYPE.search(doc.text) is None

    @property
    def is_array(self) -> bool:
        return self.kind == "array"

    def metadata(self) -> Mapping[str, JSON]:
        """The main metadata document (``zarr.json`` or ``.zarray``/``.zgroup``) as parsed."""
        for name in ("zarr.json", ".zarray", ".zgroup"):
            doc = self.documents.get(name)
            if doc is not None and isinstance(doc.value, dict):
                return doc.value
        return {}


# -- building nodes --------------------------------------------------------------------------


class _Bad(ValueError):
    """Internal: a document is not understood; becomes an error node."""


def _ints(value: JSON, what: str, *, allow_empty: bool = True) -> tuple[int, ...]:
    if not isinstance(value, list) or (not allow_empty and not value):
        raise _Bad(f"{what} must be a list of integers, got {_short(value)}")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise _Bad(f"{what} must hold non-negative integers, got {_short(value)}")
        out.append(item)
    return tuple(out)


def _short(value: JSON, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_FIELDS_SHOWN = 8


def _v2_dtype_name(raw: JSON) -> str:
    if isinstance(raw, str):
        return _v2_typestr_name(raw)
    if isinstance(raw, list):
        return _structured_text(raw, _v2_field)
    raise _Bad(f"dtype must be a string or a list, got {_short(raw)}")


def _v2_field(field: JSON) -> str:
    """``name: dtype`` (``name: dtype[2, 3]`` with a sub-array shape) of one v2 structured field."""
    if not isinstance(field, list) or len(field) not in (2, 3):
        return _short(field, 30)
    dtype = field[1]
    text = f"{field[0]}: {_v2_typestr_name(dtype) if isinstance(dtype, str) else _v2_dtype_name(dtype)}"
    if len(field) == 3 and isinstance(field[2], list):
        text += "[" + ", ".join(str(n) for n in field[2]) + "]"
    return text


def _structured_text(fields: list[JSON], field_text: Callable[[JSON], str]) -> str:
    """``structured[a: int32, b: float64]``, the first few fields of a structured data type."""
    shown = [field_text(f) for f in fields[:_FIELDS_SHOWN]]
    if len(fields) > _FIELDS_SHOWN:
        shown.append(f"… {len(fields) - _FIELDS_SHOWN} more")
    return "structured[" + ", ".join(shown) + "]"


def _v3_dtype_text(raw: JSON) -> str:
    """The v3 data type with its parameters, in the spirit of numpy's names.

    ``numpy.datetime64[ns]`` (``[10ms]`` with a scale factor), ``fixed_length_utf32[5 chars]``,
    ``null_terminated_bytes[5 bytes]``, ``structured[a: int32, b: float64]``; other
    configurations as ``name[key=value, ...]``.
    """
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise _Bad(f"data_type must be a name or an object with a 'name', got {_short(raw)}")
    name, cfg = raw["name"], raw.get("configuration")
    if not isinstance(cfg, dict) or not cfg:
        return name
    if name in ("numpy.datetime64", "numpy.timedelta64") and isinstance(cfg.get("unit"), str):
        scale = cfg.get("scale_factor", 1)
        return f"{name}[{'' if scale == 1 else scale}{cfg['unit']}]"
    length = cfg.get("length_bytes")
    if name == "fixed_length_utf32" and isinstance(length, int) and length % 4 == 0:
        return f"{name}[{length // 4} chars]"
    if isinstance(length, int) and set(cfg) == {"length_bytes"}:
        return f"{name}[{length} bytes]"
    fields = cfg.get("fields")
    if name == "structured" and isinstance(fields, list):
        return _structured_text(fields, _v3_field)
    return _short(f"{name}[" + ", ".join(f"{k}={v}" for k, v in cfg.items()) + "]", 80)


def _v3_field(field: JSON) -> str:
    if not isinstance(field, list) or len(field) != 2:
        return _short(field, 30)
    try:
        return f"{field[0]}: {_v3_dtype_text(field[1])}"
    except _Bad:
        return f"{field[0]}: {_short(field[1], 30)}"


@functools.lru_cache(maxsize=256)
def _v2_typestr_name(raw: str) -> str:
    """numpy's name for a v2 typestr (``"<u2"`` → ``"uint16"``); strings and unknowns stay raw."""
    import numpy as np

    if raw in ("|O", "O"):
        return "object"
    try:
        dt = np.dtype(raw)
    except (TypeError, ValueError):
        return raw
    return str(dt) if dt.kind not in "SUV" else raw


def _v2_codec(obj: JSON, role: str, where: str) -> CodecInfo:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise _Bad(f"{where} must be an object with an 'id', got {_short(obj)}")
    cfg = {k: v for k, v in obj.items() if k != "id"}
    return CodecInfo(obj["id"], cfg, role)


def _v2_array(meta: Mapping[str, JSON]) -> ArrayMeta:
    shape = _ints(meta.get("shape"), "shape")
    chunks = _ints(meta.get("chunks"), "chunks")
    if len(chunks) != len(shape):
        raise _Bad(f"chunks {list(chunks)} and shape {list(shape)} differ in length")
    if any(c == 0 for c in chunks) and any(shape):
        raise _Bad(f"chunks {list(chunks)} has a zero length")
    codecs: list[CodecInfo] = []
    filters = meta.get("filters")
    if filters is not None:
        if not isinstance(filters, list):
            raise _Bad(f"filters must be a list or null, got {_short(filters)}")
        codecs.extend(_v2_codec(f, "filter", f"filters[{i}]") for i, f in enumerate(filters))
    compressor = meta.get("compressor")
    if compressor is not None:
        codecs.append(_v2_codec(compressor, "compressor", "compressor"))
    sep = meta.get("dimension_separator", ".")
    dtype = _v2_dtype_name(meta.get("dtype"))
    if dtype == "object":  # what the objects are is the object codec's to say
        kinds = {"vlen-utf8": "string", "vlen-bytes": "bytes", "vlen-array": "array"}
        codec = next((c.name for c in codecs if c.role == "filter"), None)
        if codec is not None:
            dtype = f"{kinds.get(codec, 'object')} ({codec})"
    return ArrayMeta(
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        shards=None,
        codecs=tuple(codecs),
        fill_value=meta.get("fill_value"),
        order=str(meta.get("order", "C")),
        separator=sep if sep in (".", "/") else ".",
        chunk_key_encoding="v2",
        raw_dtype=meta.get("dtype"),
    )


def _ext_name(obj: JSON, what: str) -> tuple[str, Mapping[str, JSON]]:
    """Name and configuration of a v3 extension point (object or short-hand string)."""
    if isinstance(obj, str):
        return obj, {}
    if isinstance(obj, dict) and isinstance(obj.get("name"), str):
        cfg = obj.get("configuration") or {}
        if not isinstance(cfg, dict):
            raise _Bad(f"{what}.configuration must be an object")
        return obj["name"], cfg
    raise _Bad(f"{what} must be a name or an object with a 'name', got {_short(obj)}")


def _v3_codecs(raw: JSON, where: str) -> tuple[CodecInfo, ...]:
    if not isinstance(raw, list):
        raise _Bad(f"{where} must be a list, got {_short(raw)}")
    out: list[CodecInfo] = []
    seen_bytes = False
    for i, item in enumerate(raw):
        name, cfg = _ext_name(item, f"{where}[{i}]")
        # before the array→bytes codec everything is array→array; after it, bytes→bytes
        if name in ARRAY_TO_BYTES and not seen_bytes:
            role, seen_bytes = "array-bytes", True
        else:
            role = "bytes-bytes" if seen_bytes else "array-array"
        inner: tuple[CodecInfo, ...] = ()
        index: tuple[CodecInfo, ...] = ()
        if name == "sharding_indexed":
            inner = _v3_codecs(cfg.get("codecs", []), f"{where}[{i}].configuration.codecs")
            index = _v3_codecs(cfg.get("index_codecs", []), f"{where}[{i}].configuration.index_codecs")
        out.append(CodecInfo(name, cfg, role, inner, index))
    return tuple(out)


def _v3_array(meta: Mapping[str, JSON]) -> ArrayMeta:
    shape = _ints(meta.get("shape"), "shape")
    grid_name, grid_cfg = _ext_name(meta.get("chunk_grid"), "chunk_grid")
    if grid_name != "regular":
        raise _Bad(f"chunk grid {grid_name!r} is not supported (only 'regular')")
    outer = _ints(grid_cfg.get("chunk_shape"), "chunk_grid.configuration.chunk_shape")
    if len(outer) != len(shape):
        raise _Bad(f"chunk shape {list(outer)} and shape {list(shape)} differ in length")
    if any(c == 0 for c in outer) and any(shape):
        raise _Bad(f"chunk shape {list(outer)} has a zero length")
    codecs = _v3_codecs(meta.get("codecs"), "codecs")
    chunks, shards = outer, None
    for codec in codecs:
        if codec.name == "sharding_indexed":
            inner = _ints(codec.configuration.get("chunk_shape"), "sharding chunk_shape")
            if len(inner) != len(shape):
                raise _Bad(f"sharding chunk_shape {list(inner)} and shape {list(shape)} differ in length")
            chunks, shards = inner, outer
    dtype_raw = meta.get("data_type")
    dtype = _v3_dtype_text(dtype_raw)
    names = meta.get("dimension_names")
    dim_names: tuple[str | None, ...] | None = None
    if isinstance(names, list) and all(n is None or isinstance(n, str) for n in names):
        dim_names = tuple(names)
    cke_raw = meta.get("chunk_key_encoding", {"name": "default"})
    try:
        cke_name, cke_cfg = _ext_name(cke_raw, "chunk_key_encoding")
    except _Bad:
        cke_name, cke_cfg = "default", {}
    sep = cke_cfg.get("separator", "/" if cke_name == "default" else ".")
    return ArrayMeta(
        shape=shape,
        dtype=dtype,
        chunks=chunks,
        shards=shards,
        codecs=codecs,
        fill_value=meta.get("fill_value"),
        dimension_names=dim_names,
        separator=sep if sep in (".", "/") else "/",
        chunk_key_encoding=cke_name,
        raw_dtype=dtype_raw,
    )


def build_node(
    path: str,
    documents: Mapping[str, Document],
    *,
    source: Literal["store", "consolidated"] = "store",
    implicit_ok: bool = False,
) -> Node | None:
    """Build the node at *path* from its documents (keyed by file name); never raises.

    Returns None when no metadata document exists and *implicit_ok* is false (the path is
    not a zarr node).  With *implicit_ok*, such a path becomes an implicit group.
    """
    docs = {name: doc for name, doc in documents.items() if doc is not None}
    notes: list[str] = []
    v3 = docs.get("zarr.json")
    v2_main = docs.get(".zarray") or docs.get(".zgroup")
    if v3 is None and v2_main is None:
        attrs_doc = docs.get(".zattrs")
        if attrs_doc is None and not implicit_ok:
            return None
        if attrs_doc is not None and attrs_doc.ok and isinstance(attrs_doc.value, dict):
            notes.append(".zattrs without .zgroup: an implicit v2 group, which zarr-python does not open")
            return Node(path, "group", 2, docs, dict(attrs_doc.value), notes=tuple(notes), source=source)
        if attrs_doc is not None:
            return _error(path, docs, attrs_doc, source)
        notes.append(IMPLICIT_NOTE)
        return Node(path, "group", None, docs, {}, notes=tuple(notes), source=source)
    if v3 is not None and v2_main is not None:
        notes.append(f"both zarr.json and {v2_main.key.rsplit('/', 1)[-1]} exist: mixed v2+v3 (zarr-python uses v3)")
    if v3 is not None:
        return _build_v3(path, docs, v3, notes, source)
    return _build_v2(path, docs, notes, source)


def _error(path: str, docs: Mapping[str, Document], doc: Document, source: str, message: str | None = None) -> Node:
    reason = message or doc.error or "not a JSON object"
    return Node(path, "error", None, docs, {}, error=f"{doc.key}: {reason}", source=source)  # type: ignore[arg-type]


def _build_v3(path: str, docs: Mapping[str, Document], doc: Document, notes: list[str], source: str) -> Node:
    if not doc.ok:
        return _error(path, docs, doc, source)
    meta = doc.value
    if not isinstance(meta, dict):
        return _error(path, docs, doc, source, f"expected a JSON object, got {type(meta).__name__}")
    if meta.get("zarr_format") != 3:
        return _error(path, docs, doc, source, f"zarr_format is {_short(meta.get('zarr_format'))}, expected 3")
    attrs = meta.get("attributes", {})
    if attrs is None:
        attrs = {}
    if not isinstance(attrs, dict):
        return _error(path, docs, doc, source, f"attributes must be an object, got {type(attrs).__name__}")
    node_type = meta.get("node_type")
    if node_type == "group":
        return Node(path, "group", 3, docs, attrs, notes=tuple(notes), source=source)  # type: ignore[arg-type]
    if node_type == "array":
        try:
            array = _v3_array(meta)
        except _Bad as err:
            return _error(path, docs, doc, source, str(err))
        return Node(path, "array", 3, docs, attrs, array, notes=tuple(notes), source=source)  # type: ignore[arg-type]
    return _error(path, docs, doc, source, f"node_type is {_short(node_type)}, expected 'group' or 'array'")


def _build_v2(path: str, docs: Mapping[str, Document], notes: list[str], source: str) -> Node:
    zarray, zgroup, zattrs = docs.get(".zarray"), docs.get(".zgroup"), docs.get(".zattrs")
    attrs: dict[str, JSON] = {}
    if zattrs is not None:
        if not zattrs.ok or not isinstance(zattrs.value, dict):
            return _error(path, docs, zattrs, source)
        attrs = zattrs.value
    if zarray is not None and zgroup is not None:
        notes.append("both .zarray and .zgroup exist; treated as an array")
    main = zarray or zgroup
    assert main is not None
    if not main.ok:
        return _error(path, docs, main, source)
    meta = main.value
    if not isinstance(meta, dict):
        return _error(path, docs, main, source, f"expected a JSON object, got {type(meta).__name__}")
    if meta.get("zarr_format") != 2:
        return _error(path, docs, main, source, f"zarr_format is {_short(meta.get('zarr_format'))}, expected 2")
    if zarray is None:
        return Node(path, "group", 2, docs, attrs, notes=tuple(notes), source=source)  # type: ignore[arg-type]
    try:
        array = _v2_array(meta)
    except _Bad as err:
        return _error(path, docs, main, source, str(err))
    return Node(path, "array", 2, docs, attrs, array, notes=tuple(notes), source=source)  # type: ignore[arg-type]
