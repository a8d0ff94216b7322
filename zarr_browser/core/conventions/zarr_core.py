"""The zarr format itself (v2 and v3): structural rules and zarr-python 3.1 readability.

Detection says which format a node uses and what it is (group, array, implicit group).
Validation follows the cheap local checklist of the v2 and v3 specs, and flags what
zarr-python 3.1 cannot open (unknown codecs and data types, short-hand codecs, object dtypes
without a string codec, storage transformers) as warnings.  The unsafe-codec gate (pickle)
is not here: it belongs to :mod:`zarr_browser.core.safety`.

Detection: ``Detection("zarr", "2" | "3", ("group",) | ("array",))``; a directory without
metadata is ``Detection("zarr", None, ("implicit-group",))`` and a v2 ``.zattrs`` without
``.zgroup`` is ``Detection("zarr", "2", ("implicit-group",))``.  Error nodes are not detected;
their error is reported by :meth:`ZarrCoreConvention.validate`.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from zarr_browser.core.conventions.base import BaseConvention, Context, Detection, DimensionSource
from zarr_browser.core.issues import Issue, Severity, pointer
from zarr_browser.core.jsonio import JSON
from zarr_browser.core.model import DENIED_NOTE, IMPLICIT_NOTE, UNREAD_NOTE, parent_path
from zarr_browser.core.safety import itemsize

if TYPE_CHECKING:
    from zarr_browser.core.model import Node

__all__ = ["ZarrCoreConvention"]

logger = logging.getLogger(__name__)

CONVENTION = "zarr"
NOT_READABLE = "not readable by zarr-python 3.1"

V2_REQUIRED = ("zarr_format", "shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters")
V2_OPTIONAL = frozenset({"dimension_separator"})
NCZARR_ARRAY_KEYS = frozenset({"_NCZARR_ARRAY", "_nczarr_array"})
NCZARR_GROUP_KEYS = frozenset({"_NCZARR_SUPERBLOCK", "_NCZARR_GROUP", "_nczarr_superblock", "_nczarr_group"})

V3_ARRAY_REQUIRED = ("zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding",
                     "fill_value", "codecs")
V3_ARRAY_KNOWN = frozenset({*V3_ARRAY_REQUIRED, "attributes", "storage_transformers", "dimension_names"})
V3_GROUP_KNOWN = frozenset({"zarr_format", "node_type", "attributes", "consolidated_metadata"})

# numcodecs ids known to numcodecs 0.16 (v2 filters and compressors)
V2_CODEC_IDS = frozenset({
    "adler32", "astype", "base64", "bitround", "blosc", "bz2", "categorize", "crc32", "crc32c", "delta",
    "fixedscaleoffset", "fletcher32", "gzip", "jenkins_lookup3", "json2", "lz4", "lzma", "msgpack2", "packbits",
    "pickle", "quantize", "shuffle", "vlen-array", "vlen-bytes", "vlen-utf8", "zfpy", "zlib", "zstd", "pcodec",
})
OBJECT_CODEC_IDS = ("vlen-utf8", "vlen-bytes", "vlen-array", "pickle", "json2", "msgpack2")

# v3 codecs zarr-python 3.1.6 registers, by kind
V3_ARRAY_ARRAY = frozenset({"transpose", "numcodecs.astype", "numcodecs.bitround", "numcodecs.delta",
                            "numcodecs.fixedscaleoffset", "numcodecs.packbits", "numcodecs.quantize"})
V3_ARRAY_BYTES = frozenset({"bytes", "endian", "sharding_indexed", "vlen-utf8", "vlen-bytes", "numcodecs.pcodec",
                            "numcodecs.zfpy"})
V3_BYTES_BYTES = frozenset({"blosc", "gzip", "zstd", "crc32c", "numcodecs.adler32", "numcodecs.blosc",
                            "numcodecs.bz2", "numcodecs.crc32", "numcodecs.crc32c", "numcodecs.fletcher32",
                            "numcodecs.gzip", "numcodecs.jenkins_lookup3", "numcodecs.lz4", "numcodecs.lzma",
                            "numcodecs.shuffle", "numcodecs.zlib", "numcodecs.zstd"})
V3_CODECS = V3_ARRAY_ARRAY | V3_ARRAY_BYTES | V3_BYTES_BYTES

# data types zarr-python 3.1.6 registers
V3_DATA_TYPES = frozenset({
    "bool", "complex128", "complex64", "fixed_length_utf32", "float16", "float32", "float64", "int8", "int16",
    "int32", "int64", "null_terminated_bytes", "numpy.datetime64", "numpy.timedelta64", "raw_bytes", "string",
    "structured", "uint8", "uint16", "uint32", "uint64", "variable_length_bytes",
})
V3_SINGLE_BYTE = frozenset({"bool", "int8", "uint8", "string", "bytes", "variable_length_bytes",
                            "null_terminated_bytes", "raw_bytes"})
_RAW_BITS = re.compile(r"^r(\d+)$")
_CONSTANTS_SHOWN = 5
_V2_TYPESTR = re.compile(r"^[<>|][biufcmMOSUV]\d*(\[\d*[A-Za-z]+\])?$")
_FLOAT_STRINGS = frozenset({"NaN", "Infinity", "-Infinity"})
_HEX_FLOAT = re.compile(r"^0x[0-9a-fA-F]+$")


def _issue(severity: Severity, message: str, node: Node, ptr: str = "", document: str = "") -> Issue:
    return Issue(severity, message, node.path, ptr, CONVENTION, document)


def _short(value: JSON, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_int(value: JSON) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ZarrCoreConvention(BaseConvention):
    """The zarr v2 / v3 format: node kinds, spec checklists and zarr-python 3.1 readability."""

    name = CONVENTION
    title = "Zarr"

    # -- detection -----------------------------------------------------------------------
    def detect(self, node: Node) -> Detection | None:
        """Format version and node kind; None for error nodes."""
        if node.kind == "error":
            return None
        if node.zarr_format is None:
            return Detection(CONVENTION, None, ("implicit-group",))
        version = str(node.zarr_format)
        if node.is_array:
            return Detection(CONVENTION, version, ("array",))
        if node.zarr_format == 2 and ".zgroup" not in node.documents:
            return Detection(CONVENTION, version, ("implicit-group",))
        return Detection(CONVENTION, version, ("group",))

    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        """Format, kind and the storage facts of arrays."""
        out: dict[str, JSON] = {"zarr_format": node.zarr_format, "kind": node.kind}
        if node.notes:
            out["notes"] = list(node.notes)
        array = node.array
        if array is not None:
            out.update({
                "shape": list(array.shape),
                "dtype": array.dtype,
                "chunks": list(array.chunks),
                "shards": list(array.shards) if array.shards else None,
                "codecs": array.codec_summary,
                "fill_value": array.fill_value,
                "order": array.order,
                "chunk_key_encoding": array.chunk_key_encoding,
                "separator": array.separator,
                "nchunks": array.nchunks,
            })
            if array.dimension_names is not None:
                out["dimension_names"] = list(array.dimension_names)
        return out

    def dimensions(self, node: Node, parent: Node | None) -> DimensionSource | None:
        """The v3 ``dimension_names`` of an array."""
        if node.zarr_format != 3 or node.array is None or node.array.dimension_names is None:
            return None
        return DimensionSource(CONVENTION, "v3 dimension_names", node.array.dimension_names,
                               pointer=pointer("dimension_names"), document="zarr.json")

    # -- validation ----------------------------------------------------------------------
    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """Check the node's metadata documents against the v2 or v3 spec."""
        if node.kind == "error":
            return [_issue(Severity.ERROR, node.error or "metadata could not be understood", node,
                           document=_error_document(node.error))]
        # (the server's 403 for missing keys is how it serves the store, nothing to fix in it: info)
        issues = [_issue(Severity.ERROR if note.startswith(UNREAD_NOTE) else
                         Severity.INFO if note == DENIED_NOTE else Severity.WARNING, note, node)
                  for note in node.notes if not (node.path == "/" and note == IMPLICIT_NOTE)]
        # (unread metadata: what is checked is incomplete)
        if node.path == "/" and IMPLICIT_NOTE in node.notes:
            # a folder opened for the stores in it (the demo's, a data folder): nothing to fix, and a
            # warning on what `zarr-browser demo` opens was the first thing a new user saw (audit J)
            issues.append(_issue(Severity.INFO, "no zarr metadata at the root: a folder holding zarr stores, not a "
                                                "zarr group (zarr-python opens the stores in it, not the folder)", node))
        issues.extend(_check_parent_format(node, ctx))
        issues.extend(_check_json_constants(node))
        if node.zarr_format == 2:
            zarray = node.documents.get(".zarray")
            zgroup = node.documents.get(".zgroup")
            if zarray is not None and isinstance(zarray.value, dict):
                issues.extend(_check_v2_array(node, zarray.value))
            elif zgroup is not None and isinstance(zgroup.value, dict):
                issues.extend(_check_v2_group(node, zgroup.value))
        elif node.zarr_format == 3:
            doc = node.documents.get("zarr.json")
            if doc is not None and isinstance(doc.value, dict):
                issues.extend(_check_v3(node, doc.value))
        return issues


def _check_parent_format(node: Node, ctx: Context) -> list[Issue]:
    """A v2 node in a v3 group, or the reverse: zarr-python 3.1 lists and opens members of the
    group's own format only (``group.keys()`` skips the node and ``group[name]`` raises KeyError)."""
    if node.zarr_format is None or node.path == "/":
        return []
    if node.zarr_format == 2 and not ({".zarray", ".zgroup"} & set(node.documents)):
        return []  # an implicit v2 group: its note already says zarr-python does not open it
    parent = ctx.parent(node)
    if parent is None or parent.zarr_format is None or parent.zarr_format == node.zarr_format:
        return []
    what = "array" if node.is_array else "group"
    return [_issue(Severity.WARNING, f"v{node.zarr_format} {what} inside a v{parent.zarr_format} group: not listed "
                   f"by zarr-python 3 (its parent's keys() skip it and parent[{node.name!r}] fails); it opens only "
                   "by its own path", node)]


def _check_json_constants(node: Node) -> list[Issue]:
    """Bare ``NaN`` / ``Infinity`` / ``-Infinity`` tokens: accepted by Python, rejected by RFC 8259 parsers."""
    issues: list[Issue] = []
    for name in sorted(node.documents):
        if name == ".zmetadata":
            continue  # its entries are the nodes' own documents, each checked where it belongs
        doc = node.documents[name]
        if not doc.ok or ("NaN" not in doc.text and "Infinity" not in doc.text):
            continue
        if not _json_constants(doc.text):
            continue  # only the strings "NaN" / "Infinity", which are fine
        skip = ("consolidated_metadata",) if name == "zarr.json" else ()  # copies of other nodes' documents
        found = _non_finite(doc.value, (), skip)
        if not found:
            continue
        where = [ptr for ptr, _ in found]
        tokens = {"NaN" if math.isnan(v) else "Infinity" if v > 0 else "-Infinity" for _, v in found}
        shown = ", ".join(where[:_CONSTANTS_SHOWN]) + (f" and {len(where) - _CONSTANTS_SHOWN} more"
                                                        if len(where) > _CONSTANTS_SHOWN else "")
        if name == "zarr.json" and pointer("fill_value") in where:
            advice = 'the v3 spec requires the fill value strings "NaN", "Infinity" or "-Infinity"'
        elif name == ".zarray":
            advice = 'zarr v2 writes a fill value as the strings "NaN", "Infinity" or "-Infinity"'
        else:  # attributes: a string would change the attribute's type (CF _FillValue must be a number)
            advice = ("zarr-python, xarray and netCDF-C read it as a number, and JSON has no other way to say it "
                      "(the string \"NaN\" would be a text attribute, which CF numbers such as _FillValue must not be)")
        words = "token " if len(tokens) == 1 else "tokens "
        issues.append(_issue(Severity.WARNING, f"{name} holds the bare JSON {words}{', '.join(sorted(tokens))} at "
                             f"{shown}: not standard JSON, and many parsers (JavaScript, Rust, strict JSON "
                             f"libraries) reject the document; {advice}", node, where[0], name))
    return issues


def _json_constants(text: str) -> set[str]:
    """The bare non-finite tokens a JSON text holds (it parsed before, so it parses again)."""
    import json

    found: set[str] = set()

    def constant(token: str) -> float:
        found.add(token)
        return float(token)

    try:
        json.loads(text, parse_constant=constant)
    except (ValueError, RecursionError):
        return set()
    return found


def _non_finite(value: JSON, where: tuple[str | int, ...], skip: tuple[str, ...]) -> list[tuple[str, float]]:
    """(pointer, value) of every non-finite float in *value* (top-level keys in *skip* are not entered)."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(pointer(*where) or "/", value)]
    out: list[tuple[str, float]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not where and key in skip:
                continue
            out.extend(_non_finite(item, (*where, key), ()))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out.extend(_non_finite(item, (*where, i), ()))
    return out


def _error_document(error: str | None) -> str:
    """The document name an error node's message starts with (``"a/.zarray: ..."``)."""
    if not error:
        return ""
    head = error.split(":", 1)[0].rsplit("/", 1)[-1]
    return head if head in ("zarr.json", ".zarray", ".zgroup", ".zattrs") else ""


# -- v2 --------------------------------------------------------------------------------------


def _check_v2_group(node: Node, meta: Mapping[str, JSON]) -> list[Issue]:
    # zarr-python 3 writes a nested consolidated block into the .zgroup entries of .zmetadata
    # (not into the .zgroup files): part of the consolidated copy, not of the group
    allowed = {"zarr_format", "consolidated_metadata"} if node.source == "consolidated" else {"zarr_format"}
    extra = sorted(k for k in meta if k not in allowed and k not in NCZARR_GROUP_KEYS)
    if not extra:
        return []
    return [_issue(Severity.WARNING, f".zgroup has extra keys {extra}; the v2 spec allows only 'zarr_format'",
                   node, pointer(extra[0]), ".zgroup")]


def _check_v2_array(node: Node, meta: Mapping[str, JSON]) -> list[Issue]:
    doc = ".zarray"
    issues: list[Issue] = []
    missing = [k for k in V2_REQUIRED if k not in meta]
    if missing:
        issues.append(_issue(Severity.ERROR, f".zarray is missing required keys {missing}", node, "", doc))
    extra = sorted(k for k in meta if k not in V2_REQUIRED and k not in V2_OPTIONAL and k not in NCZARR_ARRAY_KEYS)
    if extra:
        issues.append(_issue(Severity.WARNING, f".zarray has keys the v2 spec does not define: {extra}",
                             node, pointer(extra[0]), doc))
    shape, chunks = meta.get("shape"), meta.get("chunks")
    if isinstance(shape, list) and isinstance(chunks, list) and len(shape) != len(chunks):
        issues.append(_issue(Severity.ERROR, f"chunks {chunks} and shape {shape} differ in length", node,
                             pointer("chunks"), doc))
    if "order" in meta and meta["order"] not in ("C", "F"):
        issues.append(_issue(Severity.ERROR, f"order is {_short(meta['order'])}, expected 'C' or 'F'", node,
                             pointer("order"), doc))
    if "dimension_separator" in meta and meta["dimension_separator"] not in (".", "/"):
        issues.append(_issue(Severity.ERROR,
                             f"dimension_separator is {_short(meta['dimension_separator'])}, expected '.' or '/'",
                             node, pointer("dimension_separator"), doc))
    if "dtype" in meta:
        issues.extend(_check_v2_dtype(node, meta["dtype"]))
    issues.extend(_check_v2_codecs(node, meta))
    if "fill_value" in meta:
        problem = _v2_fill_problem(meta.get("dtype"), meta["fill_value"])
        if problem:
            issues.append(_issue(Severity.ERROR, problem, node, pointer("fill_value"), doc))
    return issues


def _check_v2_dtype(node: Node, dtype: JSON) -> list[Issue]:
    """An invalid v2 dtype is an error; a valid one zarr-python 3.1 does not accept, a warning."""
    problem = _v2_dtype_problem(dtype)
    if problem:
        return [_issue(Severity.ERROR, f"dtype {_short(dtype)} is not a valid v2 data type: {problem} (zarr-python "
                       "refuses to open the array)", node, pointer("dtype"), ".zarray")]
    if dtype in ("|O", "O"):
        return []  # readable with an object codec; _check_v2_codecs looks at those
    try:
        from zarr.core.dtype import get_data_type_from_json
    except ImportError:  # a zarr-python without the data type registry: nothing to compare with
        return []
    try:
        get_data_type_from_json({"name": dtype, "object_codec_id": None}, zarr_format=2)
    except (ValueError, TypeError, KeyError):
        return [_issue(Severity.WARNING, f"{NOT_READABLE}: dtype {_short(dtype)} is not in its data type registry"
                       f"{_whole_group(node)}", node, pointer("dtype"), ".zarray")]
    return []


def _whole_group(node: Node) -> str:
    """What an array zarr-python has no data type for does to its group: zarr-python parses every
    member when it lists one, so xarray cannot open the group, or a DataTree above it, at all."""
    group = parent_path(node.path) or "/"
    return (f", so xarray (through zarr-python) cannot open group {group!r} as a dataset at all, nor a DataTree "
            "holding it (open_zarr and open_datatree fail: \"No Zarr data type found\"), and zarr-python fails "
            "listing that group's arrays")


def _v2_dtype_problem(dtype: JSON) -> str | None:
    """Why *dtype* is not a v2 typestr or structured field list, or None."""
    if isinstance(dtype, str):
        if dtype == "O":
            return None  # numpy's name for '|O', which zarr 2 also accepted
        if not _V2_TYPESTR.match(dtype):
            return "expected a byte order ('<', '>' or '|'), a type code (one of 'biufcmMOSUV') and a size"
        import numpy as np

        try:
            np.dtype(dtype)
        except (TypeError, ValueError):
            return "numpy does not know it"
        return None
    if not isinstance(dtype, list):
        return "expected a string or a list of fields"
    if not dtype:
        return "a structured dtype needs at least one field"
    for i, field in enumerate(dtype):
        if not (isinstance(field, list) and len(field) in (2, 3) and isinstance(field[0], str)):
            return f"field {i} is {_short(field)}, expected [name, dtype] or [name, dtype, shape]"
        if len(field) == 3 and not (isinstance(field[2], list) and all(_is_int(n) and n >= 0 for n in field[2])):
            return f"field {field[0]!r} has shape {_short(field[2])}, expected a list of integers"
        inner = _v2_dtype_problem(field[1])
        if inner:
            return f"field {field[0]!r} has dtype {_short(field[1])}: {inner}"
    return None


def _v2_codec_ids(meta: Mapping[str, JSON]) -> list[tuple[str, str]]:
    """(id, pointer) of every codec object in filters then compressor."""
    out: list[tuple[str, str]] = []
    filters = meta.get("filters")
    if isinstance(filters, list):
        for i, item in enumerate(filters):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                out.append((item["id"], pointer("filters", i, "id")))
    compressor = meta.get("compressor")
    if isinstance(compressor, dict) and isinstance(compressor.get("id"), str):
        out.append((compressor["id"], pointer("compressor", "id")))
    return out


def _check_v2_codecs(node: Node, meta: Mapping[str, JSON]) -> list[Issue]:
    issues: list[Issue] = []
    filters = meta.get("filters")
    if filters is not None and not isinstance(filters, list):
        issues.append(_issue(Severity.ERROR, f"filters is {_short(filters)}, expected a list or null", node,
                             pointer("filters"), ".zarray"))
    elif isinstance(filters, list):
        for i, item in enumerate(filters):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                issues.append(_issue(Severity.ERROR, f"filters[{i}] is {_short(item)}, expected an object with an 'id'",
                                     node, pointer("filters", i), ".zarray"))
    compressor = meta.get("compressor")
    if compressor is not None and (not isinstance(compressor, dict) or not isinstance(compressor.get("id"), str)):
        issues.append(_issue(Severity.ERROR, f"compressor is {_short(compressor)}, expected an object with an 'id' or null",
                             node, pointer("compressor"), ".zarray"))
    ids = _v2_codec_ids(meta)
    for codec_id, ptr in ids:
        if codec_id not in V2_CODEC_IDS:
            issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: unknown codec id {codec_id!r}", node, ptr,
                                 ".zarray"))
    if meta.get("dtype") in ("|O", "O"):
        object_ids = [c for c, _ in ids if c in OBJECT_CODEC_IDS]
        if not object_ids:
            issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: object dtype '|O' has no object codec "
                                 "(expected vlen-utf8 or vlen-bytes)", node, pointer("dtype"), ".zarray"))
        elif object_ids[0] not in ("vlen-utf8", "vlen-bytes"):
            issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: the first object codec of dtype '|O' is "
                                 f"{object_ids[0]!r}; zarr 3.1 only reads vlen-utf8 and vlen-bytes", node,
                                 pointer("dtype"), ".zarray"))
    return issues


def _v2_fill_problem(dtype: JSON, fill: JSON) -> str | None:
    """Why *fill* is not a valid v2 encoding for *dtype*, or None."""
    if fill is None:
        return None
    if isinstance(dtype, list):
        return None if isinstance(fill, str) and _is_base64(fill) else (
            f"fill_value {_short(fill)} for a structured dtype must be a base64 string")
    if not isinstance(dtype, str) or len(dtype) < 2:
        return None
    kind = dtype.lstrip("<>|=")[:1]
    if kind == "f":
        if _is_number(fill) or (isinstance(fill, str) and fill in _FLOAT_STRINGS):
            return None
        return f"fill_value {_short(fill)} for float dtype {dtype!r} must be a number, 'NaN', 'Infinity' or '-Infinity'"
    if kind in "iu":
        if not _is_int(fill):
            return f"fill_value {_short(fill)} for integer dtype {dtype!r} must be an integer"
        bounds = _int_bounds(dtype)
        if bounds is not None and not bounds[0] <= fill <= bounds[1]:
            return f"fill_value {fill} is outside the range {list(bounds)} of dtype {dtype!r}"
        return None
    if kind == "b":
        if isinstance(fill, bool) or fill in (0, 1):
            return None
        return f"fill_value {_short(fill)} for bool dtype must be true or false"
    if kind in "SV":
        if isinstance(fill, str) and _is_base64(fill):
            return None
        return f"fill_value {_short(fill)} for dtype {dtype!r} must be a base64 string"
    return None


def _int_bounds(dtype: str) -> tuple[int, int] | None:
    text = dtype.lstrip("<>|=")
    try:
        size = int(text[1:])
    except ValueError:
        return None
    bits = 8 * size
    if text[0] == "u":
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# -- v3 --------------------------------------------------------------------------------------


def _name_problem(name: str) -> str | None:
    if not name:
        return None
    if set(name) == {"."}:
        return "consists only of periods"
    if name.startswith("__"):
        return "starts with '__' (reserved)"
    if name == "zarr.json":
        return "is 'zarr.json'"
    return None


def _check_v3(node: Node, meta: Mapping[str, JSON]) -> list[Issue]:
    doc = "zarr.json"
    issues: list[Issue] = []
    problem = _name_problem(node.name)
    if problem:
        issues.append(_issue(Severity.ERROR, f"node name {node.name!r} {problem}; the v3 spec forbids it", node,
                             "", doc))
    known = V3_ARRAY_KNOWN if node.is_array else V3_GROUP_KNOWN
    for key, value in meta.items():
        if key in known:
            continue
        if isinstance(value, dict) and value.get("must_understand") is False:
            if node.is_group:
                issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: extra group key {key!r} (zarr-python "
                                     "rejects unknown group keys even with must_understand: false)", node,
                                     pointer(key), doc))
            continue
        issues.append(_issue(Severity.ERROR, f"unknown key {key!r} without \"must_understand\": false; readers "
                             "must refuse to open this node", node, pointer(key), doc))
    if node.is_array:
        issues.extend(_check_v3_array(node, meta))
    return issues


def _check_v3_array(node: Node, meta: Mapping[str, JSON]) -> list[Issue]:
    doc = "zarr.json"
    issues: list[Issue] = []
    missing = [k for k in V3_ARRAY_REQUIRED if k not in meta]
    if missing:
        issues.append(_issue(Severity.ERROR, f"zarr.json is missing mandatory fields {missing}", node, "", doc))
    shape = meta.get("shape")
    ndim = len(shape) if isinstance(shape, list) else None
    dtype = _data_type_name(meta.get("data_type"))
    if dtype is not None and dtype not in V3_DATA_TYPES:
        issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: data_type {dtype!r} is not in its registry"
                             f"{_whole_group(node)}", node, pointer("data_type"), doc))
    codecs = meta.get("codecs")
    if isinstance(codecs, list):
        issues.extend(_check_chain(node, codecs, ("codecs",), dtype))
    transformers = meta.get("storage_transformers")
    if isinstance(transformers, list) and transformers:
        issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: storage_transformers is not empty "
                             f"({_short(transformers)})", node, pointer("storage_transformers"), doc))
    elif transformers is not None and not isinstance(transformers, list):
        issues.append(_issue(Severity.ERROR, f"storage_transformers is {_short(transformers)}, expected a list",
                             node, pointer("storage_transformers"), doc))
    names = meta.get("dimension_names")
    if names is not None:
        if not isinstance(names, list) or not all(n is None or isinstance(n, str) for n in names):
            issues.append(_issue(Severity.ERROR, f"dimension_names is {_short(names)}, expected a list of strings "
                                 "or nulls", node, pointer("dimension_names"), doc))
        else:
            if ndim is not None and len(names) != ndim:
                issues.append(_issue(Severity.ERROR, f"dimension_names {names} has {len(names)} entries but the "
                                     f"array has {ndim} dimensions", node, pointer("dimension_names"), doc))
            named = [n for n in names if n is not None]
            duplicates = sorted({n for n in named if named.count(n) > 1})
            if duplicates:
                issues.append(_issue(Severity.WARNING, f"dimension_names repeats {duplicates}; the spec recommends "
                                     "distinct names", node, pointer("dimension_names"), doc))
    array = node.array
    if array is not None and array.shards is not None:
        bad = [(s, c) for s, c in zip(array.shards, array.chunks, strict=False) if c and s % c]
        if bad:
            issues.append(_issue(Severity.ERROR, f"sharding chunk_shape {list(array.chunks)} does not divide the "
                                 f"shard shape {list(array.shards)}", node, _sharding_pointer(meta), doc))
    if "fill_value" in meta and dtype is not None:
        problem = _v3_fill_problem(dtype, meta["fill_value"])
        if problem:
            issues.append(_issue(Severity.ERROR, problem, node, pointer("fill_value"), doc))
    return issues


def _sharding_pointer(meta: Mapping[str, JSON]) -> str:
    codecs = meta.get("codecs")
    if isinstance(codecs, list):
        for i, codec in enumerate(codecs):
            if isinstance(codec, dict) and codec.get("name") == "sharding_indexed":
                return pointer("codecs", i, "configuration", "chunk_shape")
    return pointer("codecs")


def _data_type_name(raw: JSON) -> str | None:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
        return raw["name"]
    return None


def _multi_byte(dtype: str | None) -> bool:
    if dtype is None or dtype in V3_SINGLE_BYTE:
        return False
    raw = _RAW_BITS.match(dtype)
    return not raw


def _codec_kind(name: str) -> str | None:
    if name in V3_ARRAY_ARRAY:
        return "array-array"
    if name in V3_ARRAY_BYTES:
        return "array-bytes"
    if name in V3_BYTES_BYTES:
        return "bytes-bytes"
    return None


def _check_chain(node: Node, codecs: Sequence[JSON], where: tuple[str | int, ...], dtype: str | None) -> list[Issue]:
    """Check one codec list: array→array*, exactly one array→bytes, bytes→bytes*."""
    doc = "zarr.json"
    issues: list[Issue] = []
    label = "/".join(str(p) for p in where)
    kinds: list[str | None] = []
    for i, item in enumerate(codecs):
        ptr = pointer(*where, i)
        if isinstance(item, str):
            issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: short-hand codec {item!r} (write "
                                 f"{{\"name\": {item!r}}} instead)", node, ptr, doc))
            name: str = item
            cfg: JSON = {}
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            name, cfg = item["name"], item.get("configuration") or {}
        else:
            issues.append(_issue(Severity.ERROR, f"{label}[{i}] is {_short(item)}, expected a codec object with a "
                                 "'name'", node, ptr, doc))
            kinds.append(None)
            continue
        kind = _codec_kind(name)
        if kind is None:
            issues.append(_issue(Severity.WARNING, f"{NOT_READABLE}: unknown codec {name!r}", node, pointer(*where, i, "name"),
                                 doc))
        kinds.append(kind)
        if name in ("bytes", "endian") and _multi_byte(dtype) and not (isinstance(cfg, dict) and "endian" in cfg):
            if dtype in ("structured", "struct"):
                if node.array is None or (itemsize(node.array) or 2) > 1:
                    issues.append(_issue(Severity.WARNING, f"codec {name!r} has no 'endian' for a {dtype} data type: "
                                         "read as little-endian, as the structured extension's legacy rule says "
                                         "(zarr-python 3.1 writes it so); writers should state it", node, ptr, doc))
            else:
                issues.append(_issue(Severity.ERROR, f"codec {name!r} has no 'endian' but data type {dtype!r} has "
                                     "several bytes per element", node, ptr, doc))
        if name == "sharding_indexed" and isinstance(cfg, dict):
            inner = cfg.get("codecs")
            if isinstance(inner, list):
                issues.extend(_check_chain(node, inner, (*where, i, "configuration", "codecs"), dtype))
            index = cfg.get("index_codecs")
            if isinstance(index, list):
                issues.extend(_check_chain(node, index, (*where, i, "configuration", "index_codecs"), "uint64"))
    if None in kinds:
        return issues  # unknown codecs: their kind, and so the chain shape, cannot be judged
    n_ab = kinds.count("array-bytes")
    if n_ab != 1:
        issues.append(_issue(Severity.ERROR, f"{label} has {n_ab} array→bytes codecs; exactly one is required "
                             f"(found {[_codec_label(c) for c in codecs]})", node, pointer(*where), doc))
        return issues
    pos = kinds.index("array-bytes")
    if any(k != "array-array" for k in kinds[:pos]) or any(k != "bytes-bytes" for k in kinds[pos + 1:]):
        issues.append(_issue(Severity.ERROR, f"{label} order is {kinds}; expected array→array codecs, then one "
                             "array→bytes codec, then bytes→bytes codecs", node, pointer(*where), doc))
    return issues


def _codec_label(item: JSON) -> str:
    if isinstance(item, dict):
        return str(item.get("name"))
    return str(item)


def _v3_fill_problem(dtype: str, fill: JSON) -> str | None:
    if dtype == "bool":
        return None if isinstance(fill, bool) else f"fill_value {_short(fill)} for bool must be true or false"
    if dtype.startswith(("int", "uint")):
        if not _is_int(fill):
            return f"fill_value {_short(fill)} for {dtype} must be an integer"
        bits = int(dtype.removeprefix("u").removeprefix("int") or 0)
        if bits:
            low, high = (0, 2**bits - 1) if dtype.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            if not low <= fill <= high:
                return f"fill_value {fill} is outside the range [{low}, {high}] of {dtype}"
        return None
    if dtype.startswith("float"):
        if _is_number(fill) or (isinstance(fill, str) and (fill in _FLOAT_STRINGS or _HEX_FLOAT.match(fill))):
            return None
        return f"fill_value {_short(fill)} for {dtype} must be a number, 'NaN', 'Infinity', '-Infinity' or '0x…'"
    if dtype.startswith("complex"):
        if isinstance(fill, list) and len(fill) == 2:
            return None
        return f"fill_value {_short(fill)} for {dtype} must be a list [real, imaginary]"
    return None
