"""CF (Climate and Forecast) attributes, as written by xarray, netCDF-C (NCZarr) and GDAL.

Detection: a group whose ``Conventions`` string contains ``CF-`` is a CF dataset (version =
the ``x.y`` after ``CF-``); an array with any attribute of CF Appendix A is a CF variable, with
the extra roles ``time`` (``units`` "<unit> since <date>"), ``packed`` (``scale_factor`` /
``add_offset``) and ``masked`` (``_FillValue`` / ``missing_value``).

``_FillValue`` of xarray-written Zarr v3 arrays is decoded: floats are stored as base64 of the
little-endian float64 bytes (``"AAAAAAAA+H8="`` is NaN).

The ``coordinates`` attribute is checked here only for arrays without xarray dimension names;
for the others :class:`~zarr_browser.core.conventions.xarray_dims.XarrayConvention` checks it,
so one mistake is reported once.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zarr_browser.core.conventions.base import BaseConvention, Context, Detection, attributes_pointer
from zarr_browser.core.conventions.cf_time import time_units_problem
from zarr_browser.core.conventions.xarray_dims import xarray_dimension_names
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import JSON

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from zarr_browser.core.model import Node

__all__ = ["CF_ATTRIBUTES", "CfConvention", "CfDecoding", "cf_decoding", "decode_fill_value", "encode_fill_value",
           "parse_time_units", "v2_mask_overrides_fill_attribute", "xarray_decodes_times", "xarray_fill_value"]

logger = logging.getLogger(__name__)

CONVENTION = "cf"

CF_ATTRIBUTES = frozenset({
    "actual_range", "add_offset", "aggregated_data", "aggregated_dimensions", "algorithm", "ancillary_variables",
    "axis", "bounds", "calendar", "cell_measures", "cell_methods", "cf_role", "climatology", "comment", "compress",
    "computed_standard_name", "Conventions", "coordinate_interpolation", "coordinates", "_FillValue", "featureType",
    "flag_masks", "flag_meanings", "flag_values", "formula_terms", "geometry", "geometry_type", "grid_mapping",
    "history", "implementation", "instance_dimension", "institution", "interior_ring", "leap_month", "leap_year",
    "location", "location_index_set", "long_name", "mesh", "missing_value", "month_lengths", "node_coordinates",
    "node_count", "nodes", "part_node_count", "positive", "quantization", "quantization_nsb", "quantization_nsd",
    "references", "sample_dimension", "scale_factor", "select", "source", "standard_error_multiplier",
    "standard_name", "title", "units", "units_metadata", "valid_max", "valid_min", "valid_range",
})
"""CF 1.14-draft Appendix A attribute names."""

CALENDARS = frozenset({"standard", "gregorian", "proleptic_gregorian", "julian", "utc", "tai", "noleap", "365_day",
                       "all_leap", "366_day", "360_day", "none"})
"""CF's calendars (CF 1.11 §4.4.1), compared in lower case as cftime does."""
XARRAY_CALENDARS = CALENDARS - {"utc", "tai", "none"}
"""The calendars xarray decodes times in: cftime knows neither 'utc' nor 'none', and xarray
fails on 'tai', which cftime knows (it builds 1582-10-15 in the variable's calendar)."""
_REFUSES_TO_OPEN = "xarray cannot decode these times and refuses to open the dataset"
_SINCE = re.compile(r"^\s*(\w+)\s+since\s+(.*?)\s*$", re.IGNORECASE)
_TIME_DETECT = re.compile(r"^\s*\w+\s+since\s+", re.IGNORECASE)
_CF_VERSION = re.compile(r"CF-(\d+(?:\.\d+)*)")


def parse_time_units(units: str) -> tuple[str, str] | None:
    """Split CF time units ``"days since 2000-01-01"`` into (unit, epoch), or None."""
    match = _SINCE.match(units)
    if match is None:
        return None
    return match.group(1).lower(), match.group(2)


def xarray_decodes_times(units: JSON) -> bool:
    """Whether xarray decodes a variable with these ``units`` as times (it does when they are a
    string containing 'since', in lower case, and refuses to open the dataset when it cannot)."""
    return isinstance(units, str) and "since" in units


def _numeric(value: JSON) -> float | int | None:
    """A number, or the only item of a one-element list (netCDF attributes are vectors)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def decode_fill_value(node: Node, value: JSON) -> JSON:
    """The value a ``_FillValue`` attribute means, decoding xarray's v3 base64 floats.

    xarray's ``FillValueCoder`` writes float fills of Zarr v3 arrays as base64 of the
    little-endian float64 bytes.  Other values, fills of non-float arrays, and strings xarray
    cannot decode (see :func:`_v3_fill_value_problem`) are returned unchanged.
    """
    dtype = node.array.dtype if node.array is not None else ""
    if node.zarr_format != 3 or not isinstance(value, str) or not dtype.startswith("float"):
        return value
    raw = _b64_bytes(value)
    if raw is None or len(raw) != 8:
        return value
    return struct.unpack("<d", raw)[0]


def encode_fill_value(value: float) -> str:
    """A float ``_FillValue`` as xarray writes it on Zarr v3 arrays: base64 of the little-endian float64."""
    return base64.b64encode(struct.pack("<d", float(value))).decode("ascii")


def _b64_bytes(text: str) -> bytes | None:
    """*text* decoded as xarray decodes base64 (characters outside the alphabet skipped), or None."""
    try:
        return base64.standard_b64decode(text)
    except (binascii.Error, ValueError):
        return None


def _v3_fill_value_problem(node: Node) -> str | None:
    """Why xarray cannot read the ``_FillValue`` attribute of a Zarr v3 array, or None.

    xarray's ``FillValueCoder.decode`` wants, by stored dtype: base64 of the 8 float64 bytes
    for floats, a list of two such strings for complex numbers, a JSON number for integers.
    Anything else raises when the dataset is opened (TypeError, ``binascii.Error``,
    ``struct.error``).
    """
    attrs = node.attributes
    if node.zarr_format != 3 or node.array is None or "_FillValue" not in attrs:
        return None
    try:
        dtype = np.dtype(node.array.dtype)
    except (TypeError, ValueError):  # zarr v3 names numpy does not know: strings, structured types
        return None
    raw = attrs["_FillValue"]
    if dtype.kind in "iu":
        if isinstance(raw, int | float):
            return None
        text = _float_text(raw)
        written = (f"write {int(text)}" if text is not None and text.is_integer()
                   else "write a number the data does not hold (integers have no NaN)")
        return (f"_FillValue {_shown(raw)} is not a number: xarray reads the _FillValue of a zarr v3 {dtype} array "
                f"as a JSON number and refuses to open the dataset otherwise (TypeError); {written}")
    if dtype.kind not in "fc":
        return None
    parts = raw if dtype.kind == "c" and isinstance(raw, list) and len(raw) == 2 else [raw]
    if dtype.kind == "c" and len(parts) != 2:
        return (f"_FillValue {_shown(raw)} is not a list of two base64 strings: xarray reads the _FillValue of a "
                f"zarr v3 {dtype} array as the base64 of the float64 bytes of its real and imaginary parts, as it "
                f"writes it, and refuses to open the dataset otherwise")
    for part in parts:
        why, value = _b64_float_problem(part)
        if why is None:
            continue
        written = (f"write {encode_fill_value(value)!r} for {_number_text(value)}" if value is not None
                   else f"NaN, for one, is {encode_fill_value(math.nan)!r}")
        whole = "" if dtype.kind == "f" else f" (in {_shown(raw)})"
        return (f"_FillValue {_shown(part)}{whole} {why}: xarray reads the _FillValue of a zarr v3 {dtype} array as "
                f"base64 of its 8 float64 bytes (little-endian), as it writes it, and refuses to open the dataset "
                f"otherwise; {written}")
    return None


def _b64_float_problem(value: JSON) -> tuple[str | None, float | None]:
    """Why *value* is not xarray's base64 of a float64 (or None), and the number meant, if known."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "is a plain number", float(value)
    if not isinstance(value, str):
        return "is not a base64 string", None
    raw = _b64_bytes(value)
    if raw is None:
        return "is not base64", _float_text(value)
    if len(raw) == 8:
        return None, None
    if len(raw) == 4:
        meant = np.float32(struct.unpack("<f", raw)[0])
        return f"is base64 of 4 bytes (a float32, {meant}), not of the 8 of a float64", float(meant)
    return f"is base64 of {len(raw)} bytes, not of the 8 of a float64", _float_text(value)


def _float_text(value: JSON) -> float | None:
    """The number a string spells (``"NaN"``, ``"-999"``, ``"1e20"``), or None."""
    if not isinstance(value, str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _shown(value: JSON) -> str:
    """*value* as messages name values: strings and numbers as Python writes them, others as JSON."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value)


def _fill_value_form(node: Node, add: Callable[[Severity, str, str], None]) -> bool:
    """Report a ``_FillValue`` xarray reads otherwise than it looks: one it cannot read on a v3
    array (it refuses to open the dataset), or an attribute on a v2 array that xarray replaces
    with the zarr fill_value.  True when xarray cannot read it."""
    attrs = node.attributes
    if "_FillValue" not in attrs or node.array is None:
        return False
    problem = _v3_fill_value_problem(node)
    if problem is not None:
        add(Severity.ERROR, problem, "_FillValue")
        return True
    raw = attrs["_FillValue"]
    if v2_mask_overrides_fill_attribute(node):
        fill = node.array.fill_value
        if not _same_number(raw, fill):
            add(Severity.WARNING, f"xarray ignores this _FillValue ({raw!r}) on a zarr v2 array: it masks the "
                f"array's fill_value ({fill!r}) instead, which is fixed when the array is written", "_FillValue")
    return False


def _same_number(a: JSON, b: JSON) -> bool:
    x, y = _mask_number(a), _mask_number(b)
    if x is None or y is None:
        return a == b
    return x == y or (math.isnan(x) and math.isnan(y))


@dataclass(frozen=True, slots=True)
class CfDecoding:
    """How xarray decodes the stored values of a CF variable: mask, then unpack.

    ``decoded = stored * scale + offset`` in *dtype*, with every stored value in *masked* (the
    ``_FillValue``, ``missing_value`` and, for xarray's Zarr v2 variables, the zarr
    ``fill_value``) turned into NaN first.
    """

    masked: tuple[float, ...]
    scale: float
    offset: float
    dtype: np.dtype
    unsigned: bool = False
    """``_Unsigned = "true"``: the stored signed integers are unsigned bytes (netCDF-3 style)."""
    signed: bool = False
    """``_Unsigned = "false"`` on unsigned integers: xarray reads them as signed (200 as -56)."""

    def apply(self, stored: np.ndarray) -> np.ndarray:
        """The decoded values of *stored* (a new array)."""
        if self.unsigned and stored.dtype.kind == "i":
            stored = stored.view(stored.dtype.str.replace("i", "u"))  # same bytes, same byte order
        elif self.signed and stored.dtype.kind == "u":
            stored = stored.view(stored.dtype.str.replace("u", "i"))
        with np.errstate(invalid="ignore"):  # NaN cast to int64 (an integer scale_factor on floats), as in xarray
            out = stored.astype(self.dtype, copy=True)
        hidden = None
        for value in self.masked:
            cast = _in_dtype(value, stored.dtype)
            if cast is not None:
                hit = stored == cast
                hidden = hit if hidden is None else hidden | hit
        if self.scale != 1.0:
            out *= self.dtype.type(self.scale)
        if self.offset != 0.0:
            out += self.dtype.type(self.offset)
        if hidden is not None:
            out[hidden] = np.nan
        return out

    def describe(self) -> str:
        """One line for notes and tooltips: ``stored × 0.01 + 280, -32768 → NaN``."""
        parts = []
        if self.scale != 1.0 or self.offset != 0.0:
            parts.append(f"stored × {self.scale:g} + {self.offset:g}")
        if self.masked:
            parts.append(", ".join(f"{v:g}" for v in self.masked) + " → NaN")
        return "; ".join(parts)


def _in_dtype(value: float, dtype: np.dtype) -> Any:
    """*value* as a scalar of *dtype* (as xarray compares fills), or None when it does not fit."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not value.is_integer() or not info.min <= value <= info.max:
            return None
        return dtype.type(int(value))
    with np.errstate(over="ignore"):
        return dtype.type(value)


def _mask_number(value: JSON) -> float | None:
    """A fill or missing value as a float (the strings zarr uses for NaN and infinities too)."""
    number = _numeric(value)
    if number is not None:
        return float(number)
    if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return None


def xarray_fill_value(node: Node) -> JSON:
    """The ``_FillValue`` xarray masks *node* with: a Zarr v2 variable's zarr ``fill_value``
    (see :func:`v2_mask_overrides_fill_attribute`), else the attribute (on v3 arrays decoded as
    xarray decodes it: base64 floats, integers truncated, ``true`` as 1), else None."""
    if v2_mask_overrides_fill_attribute(node):
        return node.array.fill_value if node.array is not None else None
    attrs = node.attributes
    if "_FillValue" not in attrs:
        return None
    value = attrs["_FillValue"]
    dtype = node.array.dtype if node.array is not None else ""
    integers = node.zarr_format == 3 and re.match(r"u?int\d+$", dtype) is not None
    if integers and isinstance(value, int | float) and math.isfinite(value):
        return int(value)
    return decode_fill_value(node, value)


def v2_mask_overrides_fill_attribute(node: Node) -> bool:
    """Whether xarray masks this Zarr v2 variable with its zarr ``fill_value`` instead of any
    ``_FillValue`` attribute (it does whenever the fill_value is not null: xarray's default
    ``use_zarr_fill_value_as_mask`` for v2)."""
    return (node.zarr_format == 2 and node.array is not None and node.array.fill_value is not None
            and isinstance(node.attributes.get("_ARRAY_DIMENSIONS"), list))


def cf_decoding(node: Node) -> CfDecoding | None:
    """How xarray would decode *node*'s values (CF packing and masking), or None when it would not.

    Follows xarray's defaults (conventions.md §4.2): ``_FillValue`` (v3 base64 floats decoded)
    and every ``missing_value`` are masked; a Zarr v2 array with xarray dimension names is
    masked with its zarr ``fill_value`` (a ``_FillValue`` attribute counts only when the
    fill_value is null); ``_Unsigned`` "true" reads signed integers as unsigned and "false"
    unsigned ones as signed (only these exact strings count), with the ``_FillValue`` (not
    ``missing_value``) read again in the new type.  The decoded type is xarray's: with
    ``scale_factor`` or ``add_offset`` present, the type of those numbers, which JSON makes
    float64 (xarray's ``_choose_float_dtype``), or int64 for a ``scale_factor`` that is a JSON
    integer without ``add_offset`` (float values are cut to integers before scaling, as in
    xarray; with fill values to mask xarray fails to read the values, and float64 shows them
    here), unless the only fill values are NaN: the stored type then stays (float32 data
    scaled stays float32); masked only, float32 for integers of
    at most 2 bytes, float64 for wider ones, floats unchanged (``maybe_promote``).  Time
    variables (units xarray decodes as times) and non-numeric arrays are left alone.  Malformed
    numbers are ignored here (validation reports them).
    """
    meta = node.array
    if meta is None:
        return None
    try:
        stored = np.dtype(meta.dtype)
    except TypeError:
        return None
    if stored.kind not in "iuf":
        return None
    attrs = node.attributes
    retyped = _unsigned_types(node)  # xarray compares _Unsigned with the exact strings
    if retyped is not None:
        stored = retyped[1]
    unsigned, signed = retyped is not None and stored.kind == "u", retyped is not None and stored.kind == "i"
    if xarray_decodes_times(attrs.get("units")):
        return None
    raw_fill, missing = xarray_fill_value(node), attrs.get("missing_value")
    raw = {key: values if isinstance(values, list) else [values]
           for key, values in (("_FillValue", raw_fill), ("missing_value", missing)) if values is not None}
    kept = {key: [v for v in values if v is not None and not _is_nan(v)] for key, values in raw.items()}
    if stored.kind in "iu":  # xarray drops a fill of integers that is all NaN (with a warning)
        raw = {key: values for key, values in raw.items() if kept[key]}
    masking = any(kept[key] for key in raw)  # xarray masks (and changes the type) only then
    masked: list[float] = []
    fill = _mask_number(raw_fill)
    if fill is not None and (unsigned or signed):  # xarray re-reads the _FillValue (only) in the new type
        fill = _retyped(fill, stored)
    if fill is not None:
        masked.append(fill)
    missing_values = raw.get("missing_value", [])
    if any(isinstance(value, str) for value in missing_values):
        # xarray masks with np.asarray(missing_value): with a string among them, an array of
        # strings, equal to no value ("NaN", "-1" and [-1.0, "NaN"] mask nothing; the type changes)
        missing_values = []
    for value in missing_values:
        number = _mask_number(value)
        if number is not None:
            masked.append(number)
    masked = list(dict.fromkeys(v for v in masked if not math.isnan(v)))  # NaN stays NaN by itself
    scale_value, offset_value = _numeric(attrs.get("scale_factor", 1)), _numeric(attrs.get("add_offset", 0))
    scale = float(scale_value) if scale_value is not None and math.isfinite(scale_value) else 1.0
    offset = float(offset_value) if offset_value is not None and math.isfinite(offset_value) else 0.0
    packed = attrs.get("scale_factor") is not None or attrs.get("add_offset") is not None
    if not packed and not masking:
        return CfDecoding((), 1.0, 0.0, stored, unsigned=unsigned, signed=signed) if unsigned or signed else None
    if packed and (masking or not raw):  # xarray's _choose_float_dtype: the type of the numbers, float64 in JSON
        dtype: np.dtype = np.dtype(np.int64 if _integer_scale(attrs) and not masking else np.float64)
    elif stored.kind == "f" or not masking:  # floats stay (xarray's maybe_promote); so do values a NaN fill leaves
        dtype = stored
    else:
        dtype = np.dtype(np.float32 if stored.itemsize <= 2 else np.float64)
    return CfDecoding(tuple(masked), scale, offset, dtype, unsigned=unsigned, signed=signed)


def _retyped(value: float, read: np.dtype) -> float:
    """An integer of the stored type as xarray re-reads a ``_FillValue`` in the type ``_Unsigned``
    gives (*read*): the same bits, so -1 is 255 in uint8 and 200 is -56 in int8."""
    bits = 8 * read.itemsize
    if not value.is_integer():
        return value
    if read.kind == "u" and value < 0:
        return value + 2**bits
    if read.kind == "i" and value >= 2 ** (bits - 1):
        return value - 2**bits
    return value


def _unsigned_types(node: Node) -> tuple[np.dtype, np.dtype] | None:
    """(stored, read) integer types where xarray reads the values in another type because of
    ``_Unsigned`` ("true" on signed integers, "false" on unsigned ones), else None."""
    try:
        stored = np.dtype(node.array.dtype) if node.array is not None else None
    except (TypeError, ValueError):  # zarr v3 names numpy does not know
        return None
    flag = node.attributes.get("_Unsigned")
    if stored is None or (stored.kind, flag) not in (("i", "true"), ("u", "false")):
        return None
    return stored, np.dtype(f"{'u' if stored.kind == 'i' else 'i'}{stored.itemsize}")


def _unsigned_missing_problem(node: Node, item: JSON, stored: np.dtype, read: np.dtype) -> str | None:
    """What xarray and netCDF4-python make of one ``missing_value`` *item* of a variable whose
    values ``_Unsigned`` re-types (None: they agree, or it is no integer: reported as such).

    xarray re-reads the ``_FillValue`` in the new type but compares ``missing_value`` with the
    re-typed values as written; netCDF4-python casts it to the stored type and re-reads it as
    unsigned with "true", and ignores "false"."""
    number = _numeric(item)
    if number is None or not float(number).is_integer():
        return None
    value = int(number)
    fill = _mask_number(xarray_fill_value(node))
    if fill is not None and value in (fill, _retyped(fill, read)):
        return None  # xarray masks the re-read fill, netCDF4-python the fill: the same values

    def fits(dtype: np.dtype) -> bool:
        info = np.iinfo(dtype)
        return bool(info.min <= value <= info.max)

    twin = int(_retyped(float(value), read if fits(stored) else stored))
    flag = node.attributes["_Unsigned"]
    if fits(stored) and not fits(read):
        reading = (f"with _Unsigned {flag!r} it reads these {stored} values as {read} and re-reads the _FillValue in "
                   f"that type, not missing_value, and {value} is no {read} value")
        if read.kind == "i":
            return (f"masks nothing in xarray: {reading} (netCDF4-python, which ignores 'false', masks {value}); "
                    f"remove _Unsigned")
        fix = (f"write {value} as the _FillValue instead, which both read as {twin}" if fill is None
               else f"write {twin} for xarray (netCDF4-python then ignores it)")
        return f"masks nothing in xarray: {reading} (netCDF4-python masks {twin}); {fix}"
    if fits(read) and not fits(stored):
        masked = f"xarray masks it in the {read} values _Unsigned {flag!r} gives (stored {twin})"
        if read.kind == "i":
            return (f"is outside {stored}, the stored type: {masked}, but netCDF4-python, which ignores 'false', "
                    f"ignores it too ('cannot be safely cast'); remove _Unsigned and write {twin}")
        fix = (f"write {twin} as the _FillValue instead, which both read as {value}" if fill is None
               else f"CF and netCDF4-python want {twin}, which xarray does not mask")
        return (f"is outside {stored}, the stored type: {masked}, but netCDF4-python ignores it ('cannot be safely "
                f"cast' to {stored}); {fix}")
    return None


_STANDARD_NAME = re.compile(r"[A-Za-z0-9_]+")
_STANDARD_NAME_MODIFIERS = ("detection_minimum", "number_of_observations", "standard_error", "status_flag")


def _standard_name_problem(value: JSON) -> str | None:
    """What is wrong with the form of a ``standard_name`` (CF §3.3: a name from the standard
    name table, one word of letters, digits and underscores, optionally followed by blanks and
    a modifier of Appendix C), or None.  The table itself is not checked: only the form."""
    if not isinstance(value, str):
        return f"standard_name is {value!r}, expected a string"
    if not value.strip():
        return "standard_name is empty: remove it, or give a name from the CF standard name table"
    name, *rest = value.split()
    if _STANDARD_NAME.fullmatch(name) and (not rest or (len(rest) == 1 and rest[0] in _STANDARD_NAME_MODIFIERS)):
        return None
    if len(rest) == 1 and _STANDARD_NAME.fullmatch(name) and _STANDARD_NAME.fullmatch(rest[0]):
        return (f"standard_name {value!r}: {rest[0]!r} is not a standard name modifier "
                f"({', '.join(_STANDARD_NAME_MODIFIERS)}); a standard name is one word: "
                f"{'_'.join(value.split())!r}?")
    joined = "_".join(value.split())
    hint = f"; {joined!r}?" if _STANDARD_NAME.fullmatch(joined) else ""
    return (f"standard_name {value!r} is not of the form of a CF standard name (one word of letters, digits and "
            f"underscores from the standard name table, optionally followed by a modifier){hint}")


def _integer_scale(attrs: Mapping[str, JSON]) -> bool:
    """Whether xarray unpacks into int64: a ``scale_factor`` that is a JSON integer and no
    ``add_offset`` (``_choose_float_dtype`` then takes the type of the scale_factor)."""
    scale = attrs.get("scale_factor")
    return isinstance(scale, int) and not isinstance(scale, bool) and attrs.get("add_offset") is None


def _is_nan(value: JSON) -> bool:
    number = _mask_number(value)
    return number is not None and math.isnan(number)


def _number_text(value: JSON) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return repr(value)


def _dtype_kind(dtype: str) -> tuple[str, int] | None:
    """(kind, bits) of a numeric dtype name (``int16``, ``float32``, ``uint8``), or None."""
    match = re.match(r"^(u?int|float)(\d+)$", dtype)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


def _representable(value: JSON, dtype: str) -> str | None:
    """Why *value* cannot be stored in *dtype*, or None (unknown dtypes pass)."""
    kind = _dtype_kind(dtype)
    if kind is None:
        return None
    number = _numeric(value)
    if number is None:
        return f"{value!r} is not a number"
    family, bits = kind
    if family == "float":
        if isinstance(number, float) and not math.isfinite(number):
            return None
        limit = {16: 65504.0, 32: 3.4028234663852886e38}.get(bits)
        if limit is not None and abs(number) > limit:
            return f"{number!r} is outside the range of {dtype}"
        return None
    if isinstance(number, float):
        if not number.is_integer():
            return f"{number!r} is not an integer"
        number = int(number)
    low, high = (0, 2**bits - 1) if family == "uint" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= number <= high:
        return f"{number} is outside the range [{low}, {high}] of {dtype}"
    return None


class CfConvention(BaseConvention):
    """CF datasets (``Conventions: CF-x.y``) and CF variables (Appendix A attributes)."""

    name = CONVENTION
    title = "CF"

    def detect(self, node: Node) -> Detection | None:
        """CF dataset groups and CF variables with their time/packed/masked roles."""
        attrs = node.attributes
        if node.is_group:
            conventions = attrs.get("Conventions")
            if isinstance(conventions, str) and "CF-" in conventions:
                match = _CF_VERSION.search(conventions)
                return Detection(CONVENTION, match.group(1) if match else None, ("dataset",))
            return None
        if not node.is_array or not any(key in CF_ATTRIBUTES for key in attrs):
            return None
        roles = ["variable"]
        units = attrs.get("units")
        if isinstance(units, str) and _TIME_DETECT.match(units):
            roles.append("time")
        if "scale_factor" in attrs or "add_offset" in attrs:
            roles.append("packed")
        if "_FillValue" in attrs or "missing_value" in attrs:
            roles.append("masked")
        return Detection(CONVENTION, None, tuple(roles))

    # -- description ---------------------------------------------------------------------
    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        """Units, names, decoded time units, packing and fill values."""
        attrs = node.attributes
        if node.is_group:
            keys = ("Conventions", "title", "institution", "source", "history", "references", "comment")
            return {k: attrs[k] for k in keys if k in attrs}
        out: dict[str, JSON] = {k: attrs[k] for k in ("units", "long_name", "standard_name", "calendar", "axis",
                                                       "positive", "coordinates", "grid_mapping") if k in attrs}
        units = attrs.get("units")
        if isinstance(units, str):
            parsed = parse_time_units(units)
            if parsed is not None:
                calendar = attrs.get("calendar", "standard")
                out["time"] = {"unit": parsed[0], "epoch": parsed[1], "calendar": calendar}
        scale, offset = attrs.get("scale_factor"), attrs.get("add_offset")
        if scale is not None or offset is not None:
            s = _numeric(scale) if scale is not None else 1
            o = _numeric(offset) if offset is not None else 0
            out["packing"] = {
                "scale_factor": scale,
                "add_offset": offset,
                "stored_dtype": node.array.dtype if node.array else None,
                "formula": f"decoded = stored * {s!r} + {o!r}",
            }
        for key in ("_FillValue", "missing_value"):
            if key in attrs:
                raw = attrs[key]
                decoded = decode_fill_value(node, raw) if key == "_FillValue" else raw
                out[key] = {"raw": raw, "decoded": decoded, "text": _number_text(decoded)}
        meta = node.array
        if meta is not None and node.zarr_format == 2 and meta.fill_value is not None and (
                "_FillValue" not in attrs or v2_mask_overrides_fill_attribute(node)):  # null: nothing masked
            out["mask_value"] = {"source": "zarr fill_value (v2: xarray masks with it)",
                                 "value": meta.fill_value}
        for key in ("valid_range", "valid_min", "valid_max"):
            if key in attrs:
                out[key] = attrs[key]
        return out

    # -- validation ----------------------------------------------------------------------
    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """Calendars, packing numbers, valid ranges, fill values, ``_Unsigned``, time units and references."""
        if node.is_group:
            return self._validate_group(node)
        if not node.is_array:
            return []
        issues: list[Issue] = []
        attrs = node.attributes

        def add(severity: Severity, message: str, key: str) -> None:
            ptr, doc = attributes_pointer(node, key)
            issues.append(Issue(severity, message, node.path, ptr, CONVENTION, doc))

        _check_unsigned(node, add)  # a netCDF attribute (NUG), not in CF's Appendix A: on any array
        if self.detect(node) is None:
            return issues
        calendar = attrs.get("calendar")
        units = attrs.get("units")
        if calendar is not None:
            timed = xarray_decodes_times(units)
            if not isinstance(calendar, str) or calendar.lower() not in CALENDARS:
                add(Severity.ERROR if timed else Severity.WARNING,
                    f"calendar {calendar!r} is not a CF calendar (expected one of {sorted(CALENDARS)})"
                    + (f"; {_REFUSES_TO_OPEN}" if timed else ""), "calendar")
            elif calendar.lower() not in XARRAY_CALENDARS and timed:
                add(Severity.ERROR, f"calendar {calendar!r} is a CF calendar that xarray cannot decode times in "
                    f"(it decodes {', '.join(sorted(XARRAY_CALENDARS))}); {_REFUSES_TO_OPEN}"
                    + ("" if calendar.lower() == "none" else "; write 'standard' if leap seconds do not matter"),
                    "calendar")
            elif calendar.lower() == "gregorian":
                add(Severity.INFO, "calendar 'gregorian' is a deprecated alias of 'standard'", "calendar")
        for key in ("scale_factor", "add_offset"):
            if key in attrs:
                number = _numeric(attrs[key])
                if number is None or not math.isfinite(number):
                    add(Severity.ERROR, f"{key} is {attrs[key]!r}, expected a finite number", key)
        if _integer_scale(attrs):
            _check_integer_scale(node, add)
        scale = attrs.get("scale_factor")
        if isinstance(scale, list) and _numeric(scale) is not None and attrs.get("add_offset") is None:
            # (_choose_float_dtype takes the type of a lone scale_factor: a list's is object)
            add(Severity.WARNING, f"scale_factor is the one-element list {scale!r} and there is no add_offset: "
                "xarray unpacks this variable into Python objects (dtype object), not numbers; "
                f"write {scale[0]!r}", "scale_factor")
        stored = node.array.dtype if node.array is not None else ""
        for key in ("valid_range", "valid_min", "valid_max"):  # every reader but netCDF4-python ignores them
            found = _valid_bound_problem(key, attrs[key], stored) if key in attrs else None
            if found is not None:
                add(*found, key)
        unreadable = _fill_value_form(node, add)
        for key in ("_FillValue", "missing_value"):
            if key not in attrs or (key == "_FillValue" and unreadable):
                continue
            value = decode_fill_value(node, attrs[key]) if key == "_FillValue" else attrs[key]
            listed = key == "missing_value" and isinstance(value, list) and len(value) > 1  # CF allows a vector
            types = _unsigned_types(node) if key == "missing_value" else None
            if key == "missing_value" and any(isinstance(v, str) for v in (value if isinstance(value, list) else [value])):
                continue  # xarray then masks none of them: _check_fill_and_missing says so
            for item in value if listed else [value]:
                held = f" holds {_shown(item)}, which" if listed else ""
                problem = _unsigned_missing_problem(node, item, *types) if types is not None else None
                if problem is not None:
                    add(Severity.WARNING, f"{key} {attrs[key]!r}{held} {problem}", key)
                    continue
                problem = _representable(item, stored)
                if problem:
                    add(Severity.WARNING, f"{key} {attrs[key]!r}{held} is not representable in the stored dtype "
                        f"{stored}: {problem}", key)
        _check_fill_and_missing(node, add)
        standard_name = attrs.get("standard_name")
        if standard_name is not None:
            problem = _standard_name_problem(standard_name)
            if problem:
                add(Severity.WARNING, problem, "standard_name")
        if units is not None and not isinstance(units, str):
            add(Severity.WARNING, f"units is {units!r}, expected a string", "units")
        elif isinstance(units, str) and xarray_decodes_times(units):
            issues.extend(_check_time_units(node, units, calendar))
        elif isinstance(units, str) and re.search(r"\bsince\b", units, re.IGNORECASE):
            written = re.sub(r"\bsince\b", "since", units, flags=re.IGNORECASE)
            add(Severity.WARNING, f"xarray leaves these values as numbers: it decodes times only when the units "
                f"contain 'since' in lower case, which {units!r} do not (cftime and netCDF readers take any case); "
                f"write {written!r}", "units")
        if calendar is not None and not (isinstance(units, str) and _TIME_DETECT.match(units)):
            # units that look like time units but are broken are reported by _check_time_units
            what = "there are no units" if units is None else f"units {units!r} are not time units"
            add(Severity.WARNING, f"calendar {calendar!r} is set but {what} ('<unit> since <date>'): a calendar "
                "belongs to time variables only, and xarray and netCDF readers will not decode these values as "
                "times", "calendar")
        issues.extend(_check_references(node, ctx))
        return issues

    def _validate_group(self, node: Node) -> list[Issue]:
        value = node.attributes.get("Conventions")
        if value is None or isinstance(value, str):
            return []
        ptr, doc = attributes_pointer(node, "Conventions")
        return [Issue(Severity.WARNING, f"Conventions is {value!r}, expected a string such as 'CF-1.10'",
                      node.path, ptr, CONVENTION, doc)]


def _valid_bound_problem(key: str, value: JSON, stored: str) -> tuple[Severity, str] | None:
    """What readers make of a ``valid_range``, ``valid_min`` or ``valid_max`` CF would not take
    (None: it is one number, or two for valid_range, as CF wants).

    xarray ignores all three.  netCDF4-python (libnetcdf 4.10 reading the zarr store) masks the
    values outside them, ignoring ("not used since it cannot be safely cast") what is not numbers
    of the data's type or, for valid_range, not two of them; it fails to read the values when a
    list of numbers is compared with them, and libnetcdf cannot read the store at all with an
    empty list, or aborts on a list mixing numbers and text.  So a warning where the attribute is
    only ignored or misread, an error where a reader fails.
    """
    pair = key == "valid_range"
    wanted = f"[min, max], two numbers of the data's type ({stored})" if pair else f"a number of the data's type ({stored})"
    items = value if isinstance(value, list) else [value]
    numbers = [None if isinstance(v, list) else _numeric(v) for v in items]
    if pair and isinstance(value, list) and len(value) == 2 and None not in numbers:
        if value[0] > value[1]:  # every reader opens it: a warning, as for the other CF-only checks
            return Severity.WARNING, (f"valid_range {value} has min > max: xarray ignores valid_range, but "
                                      f"netCDF4-python masks the values outside it, here every value; write "
                                      f"{value[::-1]}")
        return None
    if not pair and _numeric(value) is not None:
        return None
    ignored, shown = f"xarray ignores {key}", _shown(value)
    fix = "write such a pair or remove it" if pair else "write such a number or remove it"
    if isinstance(value, list) and not value:
        return Severity.ERROR, (f"{key} is an empty list: {ignored}, but netCDF-C cannot open the store with it "
                                f"('Not a valid data type'); CF wants {wanted}: {fix}")
    texts = [isinstance(v, str) for v in items]
    if isinstance(value, list) and any(texts) and any(n is not None for n in numbers):
        return Severity.ERROR, (f"{key} {shown} mixes numbers and text: {ignored}, but netCDF-C aborts reading the "
                                f"store; CF wants {wanted}: {fix}")
    if None not in numbers:  # numbers: not one for valid_min or valid_max, not two for valid_range
        if pair:
            return Severity.WARNING, (f"valid_range {shown} is not [min, max]: {ignored}, and netCDF4-python ignores "
                                      f"it too (it takes exactly two numbers), so nothing is masked by it; CF wants "
                                      f"{wanted}: {fix}")
        if all(_representable(v, stored) is None for v in items):  # what netCDF4-python casts and uses
            return Severity.ERROR, (f"{key} {shown} is a list of {len(items)} numbers: {ignored}, but netCDF4-python "
                                    f"compares the data with the list item by item and fails to read it where the "
                                    f"shapes differ (ValueError: operands could not be broadcast together); CF wants "
                                    f"one number: write one of them")
    if isinstance(value, bool):
        return Severity.WARNING, (f"{key} {shown} is not a number: {ignored}, but netCDF-C reads it as {int(value)}, "
                                  f"which netCDF4-python masks by; CF wants {wanted}: write {int(value)} if that is "
                                  f"meant, or remove it")
    meant = _float_text(value)
    if not pair and meant is not None and math.isfinite(meant) and _representable(meant, stored) is None:
        fix = f"write {_number_text(int(meant) if meant.is_integer() else meant)}"
    what = "not [min, max]" if pair else "not a number"
    return Severity.WARNING, (f"{key} {shown} is {what}: {ignored}, and netCDF4-python ignores it too ('not used "
                              f"since it cannot be safely cast'), so nothing is masked by it; CF wants {wanted}: "
                              f"{fix}")


def _check_fill_and_missing(node: Node, add: Callable[[Severity, str, str], None]) -> None:
    """A ``missing_value`` xarray masks but cannot write back: a list of several values (CF
    allows a vector; xarray masks each value, and ``to_zarr`` fails on the list), or one other
    than the ``_FillValue`` xarray masks with (for v2 variables, the zarr fill_value: ``to_zarr``
    refuses "conflicting _FillValue and missing_value", comparing them as arrays)."""
    attrs = node.attributes
    if "missing_value" not in attrs:
        return
    missing = attrs["missing_value"]
    listed = isinstance(missing, list) and len(missing) > 1
    strings = [v for v in (missing if isinstance(missing, list) else [missing]) if isinstance(v, str)]
    if strings:
        numbered = [v for v in missing if _numeric(v) is not None] if isinstance(missing, list) else []
        besides = f" (not even {', '.join(_shown(v) for v in numbered)})" if numbered else ""
        fix = (f"write missing_value {_number_text(numbered[0]) if len(numbered) == 1 else numbered}"
               if numbered else "write the number it stands for, or remove it")
        what = ("is a string" if not isinstance(missing, list) else
                f"holds {'the string ' + _shown(strings[0]) if len(strings) == 1 else 'strings'}")
        add(Severity.WARNING, f"missing_value {_shown(missing)} {what}: xarray compares the values "
            f"with an array of strings and masks none of them{besides}; {fix} (NaN needs no missing_value: "
            "it stays NaN)", "missing_value")
        return
    fill = xarray_fill_value(node)
    fill_number = _mask_number(fill) if fill is not None else None
    parsed = [_mask_number(v) for v in (missing if isinstance(missing, list) else [missing])]
    values = [v for v in parsed if v is not None]
    if (fill is not None and fill_number is None) or not values or len(values) != len(parsed):
        return  # not numbers: reported as such
    shown = "" if fill is None else _number_text(fill) if isinstance(fill, float) else _shown(fill)
    if fill is not None and "_FillValue" not in attrs:  # a zarr v2 variable's fill_value
        shown += " (the zarr fill_value, which xarray masks with on zarr v2)"
    distinct = {v for v in (*values, *([] if fill_number is None else [fill_number])) if not math.isnan(v)}
    warned = " (warning of 'multiple fill values')" if len(distinct) > 1 else ""
    if listed:
        if fill_number is None:  # no fill (a fill that is no number returned above)
            refusal = "to_zarr fails on a list: 'The truth value of an array with more than one element is ambiguous'"
            numbered = [v for v, n in zip(missing, parsed, strict=True) if n is not None and not math.isnan(n)]
            kept = _shown((numbered or missing)[0])
            fix = (f"write missing_value {kept}" if len(distinct) <= 1
                   else f"store {kept} where the data holds the other values and write missing_value {kept}")
            also = ""
        else:
            refusal = "to_zarr refuses a missing_value other than the _FillValue"
            value = _number_text(fill) if isinstance(fill, float) else _shown(fill)
            same = np.isclose(fill_number, values, rtol=1e-5, atol=1e-8, equal_nan=True).all()
            fix = "remove missing_value" if same else f"store {value} where the data holds these values and remove it"
            also = f" as well as the _FillValue {shown}"
        add(Severity.WARNING, f"missing_value {_shown(missing)} lists {len(missing)} values: xarray masks each of "
            f"them{warned}{also}, but cannot write the dataset back ({refusal}); CF allows a list, but xarray "
            f"needs one value: {fix}", "missing_value")
        return
    if fill_number is None:  # one missing_value and no fill: nothing to conflict with
        return
    numbers = np.array(values, dtype=float)
    if not isinstance(missing, list) and np.isclose(fill_number, numbers[0], rtol=1e-5, atol=1e-8, equal_nan=True):
        return
    if all(np.isclose(fill_number, numbers, rtol=1e-5, atol=1e-8, equal_nan=True)):
        add(Severity.WARNING, f"missing_value {_shown(missing)} is a list and _FillValue {shown} a number: xarray "
            f"cannot write the dataset back, as it finds them conflicting; write missing_value "
            f"{_number_text(values[0])}", "missing_value")
        return
    add(Severity.WARNING, f"_FillValue {shown} and missing_value {_shown(missing)} "
        f"differ: xarray masks both{warned} but cannot write the dataset back (to_zarr refuses a conflicting "
        f"_FillValue and missing_value); CF allows both, but for xarray give them one value", "missing_value")


def _check_integer_scale(node: Node, add: Callable[[Severity, str, str], None]) -> None:
    """A ``scale_factor`` that is a JSON integer without ``add_offset``: xarray unpacks into
    int64, its type, which cannot hold the NaN of masked values (it fails to read them) and cuts
    the fractions of float data.  Integer data unpacks exactly: nothing to say."""
    decoding = cf_decoding(node)
    if decoding is None or node.array is None:  # times, or no numbers
        return
    scale = node.attributes["scale_factor"]
    why = f"scale_factor {scale} is a JSON integer and there is no add_offset: xarray unpacks into int64, its type"
    if decoding.masked:
        shown = ", ".join(f"{v:g}" for v in decoding.masked)
        add(Severity.ERROR, f"{why}, where it cannot mask {shown} with NaN: it opens the dataset but fails to read "
            f"this variable (ValueError: cannot convert float NaN to integer); write {float(scale)!r}", "scale_factor")
    elif np.dtype(decoding.dtype).kind == "i" and node.array.dtype.startswith("float"):
        add(Severity.WARNING, f"{why}, cutting the fractions of these {node.array.dtype} values before scaling (1.5 "
            f"reads as {scale}, not {1.5 * scale:g}); write {float(scale)!r}", "scale_factor")


def _check_unsigned(node: Node, add: Callable[[Severity, str, str], None]) -> None:
    """``_Unsigned`` as xarray reads it: the exact strings "true" (signed integers read as
    unsigned) and "false" (unsigned ones read as signed), on integers only."""
    attrs = node.attributes
    if "_Unsigned" not in attrs or node.array is None:
        return
    try:
        dtype = np.dtype(node.array.dtype)
    except (TypeError, ValueError):
        return
    value = attrs["_Unsigned"]
    if dtype.kind not in "iu":
        add(Severity.WARNING, f"_Unsigned {_shown(value)} on {dtype} data is ignored: xarray applies it to "
            "integers only (it warns that the variable 'has _Unsigned attribute but is not of integer type'); "
            "remove it", "_Unsigned")
    elif value not in ("true", "false"):
        if dtype.kind == "i" and value is True:
            effect = (f"so it reads these {dtype} values as signed; netCDF-C 4.10 writes the text 'true' so to "
                      "NCZarr and reads it back as '1', which netCDF4-python does not honour either; write 'true'")
        elif dtype.kind == "i" and value == "True":
            effect = (f"so it reads these {dtype} values as signed, where netCDF4-python, which takes 'True' too, "
                      "reads them as unsigned; write 'true'")
        else:
            effect = "write 'true' or 'false'"
        add(Severity.WARNING, f"xarray ignores _Unsigned {_shown(value)}: it reads only the exact strings 'true' and "
            f"'false', {effect}", "_Unsigned")
    elif value == "false" and dtype.kind == "u":
        signed = np.dtype(f"i{dtype.itemsize}")
        high = 2 ** (8 * dtype.itemsize)
        fill = xarray_fill_value(node)
        example = "200 becomes -56" if dtype.itemsize == 1 else f"{high - 1} becomes -1"
        add(Severity.WARNING, f"_Unsigned 'false' on {dtype} data: xarray reads these values as signed {signed} "
            f"({example}); remove it to keep them unsigned", "_Unsigned")
        if (v2_mask_overrides_fill_attribute(node) or not isinstance(fill, int) or isinstance(fill, bool)
                or fill < high // 2):
            return
        add(Severity.ERROR, f"_FillValue {fill} does not fit in {signed}, the type _Unsigned 'false' makes xarray "
            f"read it in: it refuses to open the dataset (OverflowError); write {fill - high} or remove _Unsigned",
            "_FillValue")


def _check_time_units(node: Node, units: str, calendar: JSON) -> list[Issue]:
    """What xarray makes of time *units* in *calendar*: an error where it refuses to open the
    dataset, a warning where only pandas' lenient parser may read them."""
    known = calendar if isinstance(calendar, str) and calendar.lower() in XARRAY_CALENDARS else None
    problem = time_units_problem(units, known)  # another calendar is reported on its own
    if problem is None:
        return []
    ptr, doc = attributes_pointer(node, "units")
    where = f" in calendar {calendar!r}" if known else ""
    if problem.refused:
        return [Issue(Severity.ERROR, f"time units {units!r} cannot be decoded{where}: {problem.reason}; "
                      f"{_REFUSES_TO_OPEN}", node.path, ptr, CONVENTION, doc)]
    return [Issue(Severity.WARNING, f"time units {units!r} may not be decoded{where}: {problem.reason}", node.path,
                  ptr, CONVENTION, doc)]


def _check_references(node: Node, ctx: Context) -> list[Issue]:
    """``grid_mapping``, ``bounds``, ``ancillary_variables`` (and ``coordinates``) name siblings."""
    attrs = node.attributes
    keys = ["grid_mapping", "bounds", "ancillary_variables"]
    if xarray_dimension_names(node) is None:
        keys.append("coordinates")
    present = [k for k in keys if k in attrs]
    if not present:
        return []
    parent = ctx.parent(node)
    if parent is None:
        return []
    siblings = {c.name for c in ctx.children(parent.path)}
    issues = []
    for key in present:
        ptr, doc = attributes_pointer(node, key)
        value = attrs[key]
        if not isinstance(value, str):
            issues.append(Issue(Severity.WARNING, f"{key} is {value!r}, expected a string of variable names",
                                node.path, ptr, CONVENTION, doc))
            continue
        names = _referenced_names(key, value)
        missing = [n for n in names if n not in siblings]
        if missing:
            issues.append(Issue(Severity.WARNING, f"{key} names {missing}, which are not variables in group "
                                f"{parent.path!r}", node.path, ptr, CONVENTION, doc))
    return issues


def _referenced_names(key: str, value: str) -> list[str]:
    """Variable names in an attribute; ``grid_mapping`` may be ``"crs: lat lon crs2: x y"``."""
    tokens = value.split()
    if key == "grid_mapping" and any(t.endswith(":") for t in tokens):
        return [t.rstrip(":") for t in tokens]
    return tokens

