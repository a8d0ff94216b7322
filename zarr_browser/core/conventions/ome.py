"""The OME-NGFF (OME-Zarr) convention: images, labels, plates, wells and bioformats2raw.

Versions 0.1–0.4 keep their metadata at the top level of a Zarr v2 group's ``.zattrs``;
0.5 and later keep it under ``attributes["ome"]`` of a Zarr v3 group (conventions.md §3.1,
§7.2).  Validation runs the official JSON schemas of 0.4 and 0.5 (shipped in
``ome_schemas/``, see its NOTICE), then the rules the schemas cannot express (§3.9, §3.11,
§7.4, §7.5): axis order and uniqueness, transformation order and lengths, the level arrays
themselves, label dtypes, ``omero`` colours and windows, plate well paths.  0.6 release
candidates are detected and described, not validated.

Bad metadata never raises: every type confusion becomes an :class:`~zarr_browser.core.issues.Issue`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from zarr_browser.core.conventions.base import BaseConvention, Detection, DimensionSource, attributes_pointer
from zarr_browser.core.issues import INTEROPERABILITY_TAG, Issue, Rule, Severity
from zarr_browser.core.jsonio import JSON
from zarr_browser.core.model import join_path, parent_path
from zarr_browser.errors import OperationCancelledError

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

    from zarr_browser.core.conventions.base import Context
    from zarr_browser.core.model import Node

__all__ = ["INTEROPERABILITY", "SPACE_UNITS", "TIME_UNITS", "OmeNgffConvention", "plate_well_problems"]

NAME = "ome-ngff"
logger = logging.getLogger(__name__)

SPACE_UNITS = frozenset({
    "angstrom", "attometer", "centimeter", "decimeter", "exameter", "femtometer", "foot", "gigameter",
    "hectometer", "inch", "kilometer", "megameter", "meter", "micrometer", "mile", "millimeter", "nanometer",
    "parsec", "petameter", "picometer", "terameter", "yard", "yoctometer", "yottameter", "zeptometer",
    "zettameter",
})  # fmt: skip
"""UDUNITS-2 names a ``space`` axis SHOULD use (conventions.md §3.2)."""

TIME_UNITS = frozenset({
    "attosecond", "centisecond", "day", "decisecond", "exasecond", "femtosecond", "gigasecond", "hectosecond",
    "hour", "kilosecond", "megasecond", "microsecond", "millisecond", "minute", "nanosecond", "petasecond",
    "picosecond", "second", "terasecond", "yoctosecond", "yottasecond", "zeptosecond", "zettasecond",
})  # fmt: skip
"""UDUNITS-2 names a ``time`` axis SHOULD use (conventions.md §3.2)."""

INTEGER_DTYPES = frozenset({"uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64"})
"""The data types a label image may have (0.5 "clarified"; conventions.md §3.5)."""

LEGACY_VERSIONS = frozenset({"0.1", "0.2", "0.3"})
"""Versions before 0.4: older layouts with no official schema here."""

OME_KEYS = ("multiscales", "image-label", "labels", "plate", "well", "bioformats2raw.layout", "series", "omero",
            "scene")
"""Keys that make an ``ome`` object OME-NGFF metadata even when its version is unusable."""

_COLOR = re.compile(r"^[0-9A-Fa-f]{6}$")
_SCHEMA_FAMILIES = ("0.4", "0.5")
_SHORT = 60
INTEROPERABILITY = INTEROPERABILITY_TAG
"""The first word of warnings about metadata the spec allows but a named reader or validator fails on
(their :attr:`~zarr_browser.core.issues.Issue.rule` is ``interoperability``)."""
_MESSAGE_LIMIT = 600

Family = Literal["legacy", "0.4", "0.5", "0.6", "unknown"]


# -- small helpers ---------------------------------------------------------------------------


def _short(value: JSON, limit: int = _SHORT) -> str:
    """A repr of *value* cut to *limit* characters, for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip(message: str, limit: int = _MESSAGE_LIMIT) -> str:
    """*message* cut to *limit* characters: a 100,000-character axis name must not make one
    100,000-character line (every message quotes names and values)."""
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _is_number(value: JSON) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _overflows(value: JSON) -> bool:
    """Whether *value* is a JSON integer too large for a 64-bit float (``10**400``): a legal JSON
    number that ``float()`` and ``math.isfinite()`` raise ``OverflowError`` on."""
    return _is_int(value) and abs(value) > sys.float_info.max


def _number_text(value: int | float) -> str:
    """*value* for a message, an integer of hundreds of digits cut to its first ones and its length."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}…({len(text.lstrip('-'))} digits)"


def _compact(values: Sequence[float]) -> list[int | float]:
    """*values* with integral floats shown as integers (``[1, 0.5]``, not ``[1.0, 0.5]``)."""
    return [int(v) if v.is_integer() and abs(v) < 1e15 else v for v in values]


def _is_int(value: JSON) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_integer_dtype(dtype: str) -> bool:
    """Whether a zarr data type name (v3 name or v2 numpy string such as ``>u2``) is an integer type."""
    if dtype in INTEGER_DTYPES:
        return True
    import numpy as np

    try:
        parsed = np.dtype(dtype)
    except TypeError:
        return False
    return parsed.kind in "iu" and parsed.itemsize <= 8


def _dicts(value: JSON) -> list[tuple[int, dict[str, JSON]]]:
    """The (index, item) pairs of *value* whose items are objects; empty for a non-list."""
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _numbers(value: JSON) -> list[float] | None:
    """*value* as a list of numbers, or None when it is anything else (or holds an integer too
    large for a float: ``float(10**400)`` raises; validation reports such a value)."""
    if isinstance(value, list) and all(_is_number(v) and not _overflows(v) for v in value):
        return [float(v) for v in value]
    return None


def _resolve(base: str, relative: str) -> str | None:
    """The absolute node path *relative* names from the group at *base*, or None if it leaves the store."""
    if relative.startswith("/"):
        return None
    parts = [p for p in base.split("/") if p]
    for segment in relative.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(segment)
    return "/" + "/".join(parts)


def _family(version: str | None, wrapped: bool) -> Family:
    """Which rules apply to metadata of *version* found wrapped (``ome``) or at the top level."""
    if wrapped:
        if version == "0.5":
            return "0.5"
        if version is not None and version.startswith("0.6"):
            return "0.6"
        return "0.5" if version is None else "unknown"
    if version in LEGACY_VERSIONS:
        return "legacy"
    if version is None or version == "0.4":
        return "0.4"  # no version anywhere: read as 0.4, the last top-level layout
    return "unknown"  # "0.9", "foo", or 0.5+ keys at the top level: no schema to check against


@dataclass(frozen=True, slots=True)
class _Metadata:
    """Where a node's OME metadata lives and what it says, as found (not yet validated)."""

    namespace: Mapping[str, JSON]
    wrapped: bool
    version: str | None
    version_found: bool
    roles: tuple[str, ...]

    @property
    def family(self) -> Family:
        return _family(self.version, self.wrapped)

    @property
    def prefix(self) -> tuple[str, ...]:
        """Pointer parts from the attributes to the namespace."""
        return ("ome",) if self.wrapped else ()


def _roles(ns: Mapping[str, JSON], *, wrapped: bool, node_name: str, claim_all: bool = False) -> tuple[str, ...]:
    """The roles a namespace gives its node (conventions.md §7.2.1 and §7.2.2).

    Under ``ome`` any value counts (a wrong type is then a validation issue).  At the top level
    (≤0.4) a key counts when it has the right type, so that unrelated attributes are not claimed;
    but once the group is OME by another key (``multiscales`` beside ``image-label: []``), by its
    name (``labels``, ``OME``), or, with *claim_all*, by its place in an OME hierarchy, the others
    count whatever their type, and their wrong types are reported as 0.5's are (audit L, 2).
    """
    claim = wrapped or claim_all

    def present(key: str, kind: type) -> bool:
        return key in ns if claim else isinstance(ns.get(key), kind)

    labels = ns.get("labels")
    if claim:
        has_labels = "labels" in ns
        has_series = "series" in ns and (wrapped or node_name == "OME")
    else:
        has_labels = (isinstance(labels, list) and all(isinstance(x, str) for x in labels)) or (
            node_name == "labels" and "labels" in ns)  # the labels group of an image is named so
        has_series = "series" in ns and node_name == "OME"  # the bioformats2raw OME group is named so
    roles: list[str] = []
    if present("image-label", dict):
        roles.append("label-image")
    elif present("multiscales", list):
        roles.append("image")
    if has_labels:
        roles.append("labels")
    if present("plate", dict):
        roles.append("plate")
    if present("well", dict):
        roles.append("well")
    if "bioformats2raw.layout" in ns or has_series:
        roles.append("bioformats2raw")
    if present("omero", dict):
        roles.append("omero")
    if wrapped and "scene" in ns:
        roles.append("scene")
    if roles and not claim and any(key in ns for key in _TOP_LEVEL_KEYS):
        # OME by one key: the others are OME keys too, whatever their type
        return _roles(ns, wrapped=False, node_name=node_name, claim_all=True)
    return tuple(roles)


_TOP_LEVEL_KEYS = ("multiscales", "image-label", "labels", "plate", "well", "omero")
"""The ≤0.4 top-level keys claimed whatever their type once a group is OME-NGFF."""


def _legacy_version(attrs: Mapping[str, JSON]) -> str | None:
    """The version of top-level (≤0.4) metadata: the first ``version`` found, per §7.2.2."""
    candidates: list[JSON] = []
    multiscales = attrs.get("multiscales")
    if isinstance(multiscales, list) and multiscales and isinstance(multiscales[0], dict):
        candidates.append(multiscales[0].get("version"))
    for key in ("plate", "well", "image-label"):
        value = attrs.get(key)
        if isinstance(value, dict):
            candidates.append(value.get("version"))
    for candidate in candidates:
        if isinstance(candidate, str):
            return candidate
    return None


def _level_count(ns: Mapping[str, JSON]) -> int | None:
    """How many datasets the first multiscale of the namespace *ns* lists, when it lists them."""
    multiscales = ns.get("multiscales")
    first = multiscales[0] if isinstance(multiscales, list) and multiscales else None
    datasets = first.get("datasets") if isinstance(first, dict) else None
    return len(datasets) if isinstance(datasets, list) and datasets else None


def _metadata(node: Node, *, claim_all: bool = False) -> _Metadata | None:
    """The OME metadata of *node*, or None when there is none.  Pure: reads only the node.
    *claim_all*: the node sits in an OME hierarchy, and its top-level OME keys count whatever
    their type (see :func:`_roles`)."""
    attrs = node.attributes
    ome = attrs.get("ome")
    if isinstance(ome, dict):
        version = ome.get("version")
        if isinstance(version, str) or any(key in ome for key in OME_KEYS):
            roles = _roles(ome, wrapped=True, node_name=node.name)
            return _Metadata(ome, True, version if isinstance(version, str) else None,
                             isinstance(version, str), roles)
    if node.is_array:
        return None  # top-level keys on an array are someone else's attributes
    roles = _roles(attrs, wrapped=False, node_name=node.name, claim_all=claim_all)
    if not roles:
        return None
    version = _legacy_version(attrs)
    return _Metadata(attrs, False, version or "0.4", version is not None, roles)


def _malformed_ome(node: Node) -> list[Issue]:
    """An ``ome`` attribute of a group that holds no OME-NGFF metadata at all (``[1]``, ``"x"``,
    ``{}``): invalid against every 0.5 schema, and no reader takes it for an image."""
    if node.is_array or "ome" not in node.attributes:
        return []
    value = node.attributes["ome"]
    if isinstance(value, dict):
        what = "an object without 'version' or any OME-NGFF key" if not value else (
            f"an object without 'version' or any OME-NGFF key (it has {', '.join(map(repr, list(value)[:4]))})")
    else:
        kinds = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
        what = f"{kinds.get(type(value), 'null')} ({json.dumps(value)[:60]})"
    ptr, document = attributes_pointer(node, "ome")
    return [Issue(Severity.ERROR, f"'ome' is {what}: OME-NGFF 0.5 puts an object with 'version' and its metadata "
                  f"({', '.join(OME_KEYS[:5])}...) here; readers do not take this group for OME-NGFF", node.path,
                  ptr, NAME, document)]


def _labels_group_issues(node: Node, ctx: Context, meta: _Metadata | None) -> list[Issue]:
    """The ``labels`` group of an image without its ``labels`` key: "The OME-Zarr Metadata ... associated
    with the labels group MUST contain a JSON object with the key labels"."""
    if node.name != "labels" or not node.is_group or (meta is not None and "labels" in meta.roles):
        return []
    parent = ctx.parent(node)
    parent_meta = _metadata(parent) if parent is not None else None
    if parent_meta is None or "image" not in parent_meta.roles:
        return []
    prefix = ("ome",) if parent_meta.wrapped else ()
    ptr, document = attributes_pointer(node, *prefix, "labels")
    return [Issue(Severity.ERROR, f"this is the labels group of the image {parent.path if parent else ''} but has no "
                  "'labels' key; it must list its label images (\"labels\": [\"cells\", ...])", node.path, ptr,
                  NAME, document)]


def _intermediate_issues(node: Node, ctx: Context, meta: _Metadata | None) -> list[Issue]:
    """Metadata on a group between a ``labels`` group and the label images it lists (``labels/sub``
    of ``"labels": ["sub/cells"]``).  0.5: "Intermediate groups between "labels" and the images
    within it are allowed, but these MUST NOT contain metadata" - an ``ome`` object is an error,
    other attributes a warning; 0.4 only says they "currently contain no extra metadata" (a
    warning)."""
    if not node.is_group or not node.attributes or node.name == "labels" or (
            meta is not None and {"image", "label-image"} & set(meta.roles)):
        return []
    if "labels" not in node.path.split("/")[-5:-1]:
        return []  # no ancestor below which it could sit (no lookups for the groups of a plate)
    current: Node | None = node
    labels_meta: _Metadata | None = None
    for _ in range(4):  # labels/a/b/c/image at most
        current = ctx.parent(current) if current is not None else None
        if current is None:
            return []
        if current.name == "labels":
            labels_meta = _metadata(current)
            break
    if current is None or labels_meta is None or "labels" not in labels_meta.roles:
        return []
    listed = labels_meta.namespace.get("labels")
    below = [p for p in listed if isinstance(p, str) and (target := _resolve(current.path, p)) is not None
             and target.startswith(node.path + "/")] if isinstance(listed, list) else []
    if not below:
        return []
    images = ", ".join(map(repr, below[:3])) + (", …" if len(below) > 3 else "")
    where = f"this group sits between the labels group {current.path} and the label image(s) {images} it lists"
    if labels_meta.wrapped and "ome" in node.attributes:
        ptr, document = attributes_pointer(node, "ome")
        return [Issue(Severity.ERROR, f"{where}, and has OME-NGFF metadata ('ome': "
                      f"{_short(node.attributes['ome'])}); intermediate groups under labels must not contain "
                      "metadata", node.path, ptr, NAME, document)]
    keys = list(node.attributes)
    ptr, document = attributes_pointer(node, keys[0])
    rule = ("0.5 says intermediate groups under labels must not contain metadata" if labels_meta.wrapped else
            "the 0.4 layout has intermediate groups under labels contain no metadata")
    return [Issue(Severity.WARNING, f"{where}, and has attributes ({', '.join(map(repr, keys[:4]))}"
                  f"{', …' if len(keys) > 4 else ''}); {rule}", node.path, ptr, NAME, document)]


def _mistyped_keys(node: Node) -> list[str]:
    """Top-level (≤0.4) OME keys of a v2 group that were not claimed because of their type
    (``plate: []``, ``well: "A"``, ``labels: "cells"``)."""
    if node.is_array or node.zarr_format != 2 or isinstance(node.attributes.get("ome"), dict):
        return []
    return [key for key in (*_TOP_LEVEL_KEYS, "series") if key in node.attributes]


def _in_ome_hierarchy(node: Node, ctx: Context) -> bool:
    """Whether *node* sits in an OME hierarchy: an OME ancestor up to a plate three levels up
    (field, well, row), or OME children or grandchildren (a plate's wells)."""
    current: Node | None = node
    for _ in range(3):
        current = ctx.parent(current) if current is not None else None
        if current is None:
            break
        if _metadata(current) is not None:
            return True
    children = [c for c in ctx.children(node.path) if c.is_group][:50] if node.is_group else []
    if any(_metadata(c) is not None for c in children):
        return True
    return any(_metadata(g) is not None for c in children[:10] for g in ctx.children(c.path)[:10] if g.is_group)


_EXPECTED = {"multiscales": "a list", "image-label": "an object", "labels": "a list of paths", "plate": "an object",
             "well": "an object", "omero": "an object", "series": "a list of paths"}


def _mistyped_issue(node: Node, key: str) -> Issue:
    """A top-level key named as OME-NGFF's but of another type, in a group with no OME around it:
    perhaps someone else's attribute, perhaps broken OME metadata that readers pass over."""
    value = node.attributes.get(key)
    kinds = {list: "a list", dict: "an object", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    ptr, document = attributes_pointer(node, key)
    return Issue(Severity.WARNING, f"'{key}' looks like OME-NGFF metadata but is {kinds.get(type(value), 'null')} "
                 f"({_short(value)}); OME-NGFF 0.4 expects {_EXPECTED[key]}, and readers take this group for no "
                 "OME-NGFF node", node.path, ptr, NAME, document)


# -- the convention --------------------------------------------------------------------------


class OmeNgffConvention(BaseConvention):
    """OME-NGFF 0.1–0.5 (validated from 0.4 on) and 0.6 release candidates (read-only)."""

    name = NAME
    title = "OME-NGFF"

    def __init__(self) -> None:
        self._validators: dict[tuple[str, str], Validator] = {}

    # -- detect ------------------------------------------------------------------------------
    def detect(self, node: Node) -> Detection | None:
        """The OME version and roles of *node*, from its own attributes only."""
        meta = _metadata(node)
        if meta is None:
            return None
        return Detection(NAME, meta.version, meta.roles)

    # -- describe ----------------------------------------------------------------------------
    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        """What to show about an OME node: pyramid, axes, channels, labels, plate grid, series."""
        meta = _metadata(node)
        if meta is None:
            return {}
        ns = meta.namespace
        out: dict[str, JSON] = {"version": meta.version, "roles": list(meta.roles)}
        if not meta.version_found:
            out["version_note"] = "version missing" + ("; assumed 0.4" if not meta.wrapped else "")
        if "image" in meta.roles or "label-image" in meta.roles:
            out.update(_describe_image(node, ns, ctx))
        if "label-image" in meta.roles:
            out["label"] = _describe_label(node, ns.get("image-label"))
        if "labels" in meta.roles:
            labels = ns.get("labels")
            out["labels"] = [x for x in labels if isinstance(x, str)] if isinstance(labels, list) else []
        if "omero" in meta.roles and "channels" not in out:
            out["channels"] = _describe_channels(ns.get("omero"))
        if "plate" in meta.roles:
            out["plate"] = _describe_plate(ns.get("plate"))
        if "well" in meta.roles:
            out["well"] = _describe_well(ns.get("well"))
        if "bioformats2raw" in meta.roles:
            out["bioformats2raw"] = _describe_bf2raw(node, ns, meta, ctx)
        return out

    # -- validate ----------------------------------------------------------------------------
    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """Every OME-NGFF problem of *node*: schema violations, then the rules schemas miss."""
        meta = _metadata(node)
        if meta is None:
            mistyped = _mistyped_keys(node)
            if not mistyped:
                return _malformed_ome(node) + _labels_group_issues(node, ctx, None) + _intermediate_issues(
                    node, ctx, None)
            if not _in_ome_hierarchy(node, ctx):
                return [_mistyped_issue(node, key) for key in mistyped]
            meta = _metadata(node, claim_all=True)
            if meta is None:  # (cannot happen: a mistyped key is an OME key)
                return []
        checker = _Checker(self, node, meta, ctx)
        checker.run()
        return checker.issues + _labels_group_issues(node, ctx, meta) + _intermediate_issues(node, ctx, meta)

    def schema_validator(self, family: str, name: str) -> Validator:
        """The compiled official schema *name* (``"image"``, ``"strict_plate"``...) of *family*."""
        key = (family, name)
        validator = self._validators.get(key)
        if validator is None:
            validator = _compile(family, name)
            self._validators[key] = validator
        return validator

    # -- child hints -------------------------------------------------------------------------
    def child_hints(self, node: Node) -> list[str]:
        """Child paths the metadata declares (levels, labels, wells, fields, ``OME``)."""
        meta = _metadata(node)
        if meta is None:
            return []
        ns = meta.namespace
        hints: list[str] = []
        for _, ms in _dicts(ns.get("multiscales")):
            hints.extend(d["path"] for _, d in _dicts(ms.get("datasets")) if isinstance(d.get("path"), str))
        if "image" in meta.roles:
            hints.append("labels")
        labels = ns.get("labels")
        if isinstance(labels, list):
            hints.extend(x for x in labels if isinstance(x, str))
        plate = ns.get("plate")
        if isinstance(plate, dict):
            hints.extend(w["path"] for _, w in _dicts(plate.get("wells")) if isinstance(w.get("path"), str))
        well = ns.get("well")
        if isinstance(well, dict):
            hints.extend(i["path"] for _, i in _dicts(well.get("images")) if isinstance(i.get("path"), str))
        if "bioformats2raw.layout" in ns:
            hints.extend(["OME", "0"])
        return [h for h in hints if h and not h.startswith("/")]

    # -- dimensions --------------------------------------------------------------------------
    def dimensions(self, node: Node, parent: Node | None) -> DimensionSource | None:
        """Axis names, units, types and physical scale of a level array, from its parent image."""
        if parent is None or not node.is_array or parent_path(node.path) != parent.path:
            return None
        meta = _metadata(parent)
        if meta is None or not ({"image", "label-image"} & set(meta.roles)):
            return None
        for _, ms in _dicts(meta.namespace.get("multiscales")):
            for _, dataset in _dicts(ms.get("datasets")):
                path = dataset.get("path")
                if isinstance(path, str) and _resolve(parent.path, path) == node.path:
                    return _dimension_source(parent, ms, dataset)
        return None


# -- schemas ---------------------------------------------------------------------------------


_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def _compile(family: str, name: str) -> Validator:
    """Compile one official schema with a registry of all schemas of its family (offline)."""
    import json
    from importlib import resources

    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    folder = resources.files("zarr_browser.core.conventions") / "ome_schemas" / family
    schemas: dict[str, dict[str, Any]] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".schema"):
            schemas[entry.name.removesuffix(".schema")] = json.loads(entry.read_text(encoding="utf-8"))
    for schema in schemas.values():
        # jsonschema picks the validator of each resource a $ref enters by its "$schema": the stock
        # Draft 2020-12 one would leave the linear uniqueItems of _validator_class behind
        if schema.get("$schema") == _DRAFT_2020_12:
            del schema["$schema"]
    # 0.4's bf2raw and ome schemas carry ".../latest/..." ids; registering every file by its own
    # $id keeps references exact, and nothing refers to those two
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in schemas.values()
        if isinstance(schema.get("$id"), str)
    )
    return _validator_class()(schemas[name], registry=registry)


@cache
def _validator_class() -> type[Validator]:
    """Draft 2020-12 with a linear ``uniqueItems``.

    jsonschema's own check sorts the items when it can, and compares them pairwise when it
    cannot: OME lists hold objects (``wells``, ``rows``, ``multiscales``...), so a
    10,000-well plate took minutes to validate.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    return extend(Draft202012Validator, {"uniqueItems": _unique_items})


def _unique_items(validator: Validator, unique: JSON, instance: JSON, schema: JSON) -> Iterator[ValidationError]:
    """The ``uniqueItems`` keyword, with jsonschema's message and pointer, in one pass over the items."""
    from jsonschema.exceptions import ValidationError

    if unique and validator.is_type(instance, "array") and _has_duplicates(instance):
        yield ValidationError(f"{instance!r} has non-unique elements")


def _has_duplicates(items: Sequence[JSON]) -> bool:
    """Whether two of *items* are equal as JSON values (``uniqueItems``), in time linear in their size."""
    seen: set[object] = set()
    for item in items:
        key = _canonical(item)
        if key in seen:
            return True
        seen.add(key)
    return False


def _canonical(value: JSON) -> object:
    """A hashable form of a JSON value that is equal exactly where JSON Schema says values are.

    Object key order does not matter, ``1`` equals ``1.0`` and ``true`` is not ``1``: the
    equality jsonschema's ``uniqueItems`` applies.  Objects, arrays and booleans are tagged
    pairs, so none of them can meet a string, number or null, nor one another.
    """
    if isinstance(value, dict):
        return ("{", frozenset((k, _canonical(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[", tuple(_canonical(v) for v in value))
    if isinstance(value, bool):
        return ("b", value)
    return value


SchemaFinding = tuple[list[str | int], str, Severity]
"""(path, message, severity) of one schema error; a message starting with :data:`INTEROPERABILITY` is
reported with the rule ``interoperability``."""


def _schema_message(error: ValidationError) -> SchemaFinding | None:
    """A readable message, its path and its severity for one schema error; None to drop it (another
    error says the same more precisely).  An error where the spec text allows what the schema
    rejects is a warning naming the schema (audit L, 7)."""
    from jsonschema.exceptions import best_match

    path = list(error.absolute_path)
    last = path[-1] if path else None
    validator = error.validator
    if validator in ("contains", "minContains", "maxContains"):
        if last == "axes":
            axes = [a for a in error.instance if isinstance(a, dict)] if isinstance(error.instance, list) else []
            # the schema's "contains" takes an axis without a type for a space axis
            untyped = [str(a.get("name", i)) for i, a in enumerate(axes) if "type" not in a]
            spaces = sum(1 for a in axes if a.get("type") == "space")
            found = spaces + len(untyped)
            names = ", ".join(repr(n) for n in untyped)
            if untyped and 2 <= spaces <= 3:
                # "MAY contain one additional entry of "type:channel" or a null / custom type": the spec
                # allows it; only the schema (and so ome-ngff-validator) rejects it
                return path, (f"{INTEROPERABILITY} {names} {'has' if len(untyped) == 1 else 'have'} no type: the "
                              "spec allows one axis "
                              f"with no type, but the official schema counts it as a space axis and rejects {found} "
                              "space axes (ome-ngff-validator fails this image); give it a type such as 'channel'"
                              ), Severity.WARNING
            message = f"axes must include 2 or 3 axes of type 'space', found {found}"
            if untyped:
                message += (f", counting {names}, which {'has' if len(untyped) == 1 else 'have'} no type (the "
                            "schema counts an axis without a type as a space axis): give "
                            f"{'it its type' if len(untyped) == 1 else 'them their types'}")
            return path, message, Severity.ERROR
        if last == "coordinateTransformations":
            items = error.instance if isinstance(error.instance, list) else []
            scales = sum(1 for t in items if isinstance(t, dict) and t.get("type") == "scale")
            if scales == 1:
                return None  # one scale whose vector is wrong: its own error says how
            if scales == 0:
                return path, "coordinateTransformations must hold one 'scale' transformation; there is none", \
                    Severity.ERROR
            return path, (f"coordinateTransformations hold {scales} 'scale' transformations; exactly one is "
                          "allowed"), Severity.ERROR
    if validator in ("oneOf", "anyOf") and error.context:
        instance = error.instance
        if isinstance(instance, dict) and instance.get("type") in ("scale", "translation") and isinstance(
                instance.get("path"), str) and instance.get("type") not in instance:
            kind = instance["type"]
            # the spec's transformation table: "one of: "scale":List[float], "path":str"
            return path, (f"{INTEROPERABILITY} the {kind} is given by 'path' ({_short(instance['path'])}, binary "
                          "data): the spec's transformation table allows it, but the official schemas do not, and no reader "
                          f"(ome-zarr-py, napari-ome-zarr) reads it: give the {kind} as a list of numbers"
                          ), Severity.WARNING
        best = best_match(_branch(error.context))
        detail = best.message if len(best.message) <= 160 else best.message[:159] + "…"
        deeper = list(best.absolute_path)[len(path):]
        if deeper and best.validator not in ("required", "additionalProperties"):
            # the branch the instance meant (its "type"), down to the value at fault: "scale/2: '0.5' is not
            # of type 'number'", not "matches none of the allowed forms: 'translation' is a required property"
            return [*path, *deeper], f"{'/'.join(map(str, deeper))}: {detail}", Severity.ERROR
        return path, f"{_short(instance)} matches none of the allowed forms: {detail}", Severity.ERROR
    message = error.message
    if len(message) > 200:  # messages quote the whole instance: keep the verdict, cut the quote
        message = message.replace(repr(error.instance), _short(error.instance))
    if len(message) > 200:
        message = message[:199] + "…"
    return path, message, Severity.ERROR


def _branch(errors: Sequence[ValidationError]) -> Sequence[ValidationError]:
    """The errors of the one ``oneOf`` branch whose ``type`` (``scale``, ``channel``...) the instance
    matches, when exactly one does; else all of them (for ``best_match``)."""
    branches: dict[object, list[ValidationError]] = {}
    for e in errors:
        branches.setdefault(e.relative_schema_path[0] if e.relative_schema_path else None, []).append(e)
    matching = [errs for errs in branches.values() if not any(list(e.relative_path)[:1] == ["type"] for e in errs)]
    return matching[0] if len(matching) == 1 else errors


# -- description helpers ---------------------------------------------------------------------


def _axes_info(ms: Mapping[str, JSON]) -> list[dict[str, JSON]]:
    """Name, type and unit of each axis (0.3 string axes and 0.6 coordinate systems included)."""
    out: list[dict[str, JSON]] = []
    axes = ms.get("axes")
    systems = _dicts(ms.get("coordinateSystems"))
    if axes is None and systems:  # 0.6: the levels map to the first ("intrinsic") system
        axes = systems[0][1].get("axes")
    if not isinstance(axes, list):
        return out
    for axis in axes:
        if isinstance(axis, str):  # 0.3 string axes
            out.append({"name": axis, "type": None, "unit": None})
        elif isinstance(axis, dict):
            out.append({key: axis[key] if isinstance(axis.get(key), str) else None for key in ("name", "type", "unit")})
    return out


def _transform_vectors(transforms: JSON) -> tuple[list[float] | None, list[float] | None]:
    """The scale and translation vectors of a transformation list (None where absent or bad)."""
    scale: list[float] | None = None
    translation: list[float] | None = None
    items = [t for _, t in _dicts(transforms)]
    while len(items) == 1 and items[0].get("type") == "sequence":  # 0.6 [scale, translation] sequences
        items = [t for _, t in _dicts(items[0].get("transformations"))]
    for t in items:
        if t.get("type") == "scale" and scale is None:
            scale = _numbers(t.get("scale"))
        elif t.get("type") == "translation" and translation is None:
            translation = _numbers(t.get("translation"))
    return scale, translation


def _describe_image(node: Node, ns: Mapping[str, JSON], ctx: Context) -> dict[str, JSON]:
    multiscales = _dicts(ns.get("multiscales"))
    out: dict[str, JSON] = {"multiscales_count": len(multiscales)}
    if not multiscales:
        return out
    _, ms = multiscales[0]
    out["name"] = ms.get("name") if isinstance(ms.get("name"), str) else None
    out["type"] = ms.get("type") if isinstance(ms.get("type"), str) else None
    out["axes"] = _axes_info(ms)
    global_scale, global_translation = _transform_vectors(ms.get("coordinateTransformations"))
    out["transforms"] = {"scale": global_scale, "translation": global_translation}
    levels: list[JSON] = []
    prefetch = getattr(ctx, "prefetch", None)
    if prefetch is not None:  # the levels (and the labels group) in one round trip, not one each
        targets = [t for _, d in _dicts(ms.get("datasets")) if isinstance(d.get("path"), str)
                   and (t := _resolve(node.path, d["path"])) is not None]
        fmt = node.zarr_format
        expect = {t: (fmt, "array") for t in targets} if fmt in (2, 3) else {}
        prefetch([*targets, join_path(node.path, "labels")] if node.is_group else targets, expect)
    for _, dataset in _dicts(ms.get("datasets")):
        path = dataset.get("path")
        scale, translation = _transform_vectors(dataset.get("coordinateTransformations"))
        level: dict[str, JSON] = {"path": path, "scale": scale, "translation": translation,
                                  "shape": None, "chunks": None, "shards": None, "dtype": None}
        target = _resolve(node.path, path) if isinstance(path, str) else None
        array_node = ctx.node(target) if target is not None else None
        if array_node is not None and array_node.array is not None:
            array = array_node.array
            level.update(shape=list(array.shape), chunks=list(array.chunks),
                         shards=list(array.shards) if array.shards else None, dtype=array.dtype)
        levels.append(level)
    out["levels"] = levels
    if levels and isinstance(levels[0], dict) and levels[0].get("scale") is not None:
        voxel = levels[0]["scale"]
        if global_scale is not None and len(global_scale) == len(voxel):
            voxel = [a * b for a, b in zip(voxel, global_scale, strict=True)]
        out["voxel_size"] = voxel
    omero = ns.get("omero")
    if isinstance(omero, dict):
        out["channels"] = _describe_channels(omero)
    labels_node = ctx.node(join_path(node.path, "labels")) if node.is_group else None
    if labels_node is not None:
        labels_meta = _metadata(labels_node)
        names = labels_meta.namespace.get("labels") if labels_meta is not None else None
        out["labels"] = [x for x in names if isinstance(x, str)] if isinstance(names, list) else []
    return out


def _describe_channels(omero: JSON) -> list[JSON]:
    if not isinstance(omero, dict):
        return []
    channels: list[JSON] = []
    for _, channel in _dicts(omero.get("channels")):
        window = channel.get("window")
        window_out = ({k: window.get(k) for k in ("start", "end", "min", "max") if _is_number(window.get(k))}
                      if isinstance(window, dict) else {})
        channels.append({
            "label": channel.get("label") if isinstance(channel.get("label"), str) else None,
            "color": channel.get("color") if isinstance(channel.get("color"), str) else None,
            "window": window_out,
            "active": channel.get("active") if isinstance(channel.get("active"), bool) else None,
        })
    return channels


def _describe_label(node: Node, label: JSON) -> dict[str, JSON]:
    if not isinstance(label, dict):
        return {}
    colors: list[JSON] = []
    for _, color in _dicts(label.get("colors")):
        colors.append({"label-value": color.get("label-value"), "rgba": color.get("rgba")})
    properties = [dict(p) for _, p in _dicts(label.get("properties"))]
    source = label.get("source")
    image = source.get("image") if isinstance(source, dict) else None
    image = image if isinstance(image, str) else "../../"
    return {"colors": colors, "properties": properties, "source": image,
            "source_path": _resolve(node.path, image)}


def _describe_plate(plate: JSON) -> dict[str, JSON]:
    if not isinstance(plate, dict):
        return {}
    rows = [r.get("name") for _, r in _dicts(plate.get("rows"))]
    columns = [c.get("name") for _, c in _dicts(plate.get("columns"))]
    wells = [{"path": w.get("path"), "rowIndex": w.get("rowIndex"), "columnIndex": w.get("columnIndex")}
             for _, w in _dicts(plate.get("wells"))]
    acquisitions = [dict(a) for _, a in _dicts(plate.get("acquisitions"))]
    return {"name": plate.get("name") if isinstance(plate.get("name"), str) else None, "rows": rows,
            "columns": columns, "wells": wells, "acquisitions": acquisitions,
            "field_count": plate.get("field_count") if _is_int(plate.get("field_count")) else None}


def _describe_well(well: JSON) -> dict[str, JSON]:
    if not isinstance(well, dict):
        return {}
    return {"images": [{"path": i.get("path"), "acquisition": i.get("acquisition")}
                       for _, i in _dicts(well.get("images"))]}


def _describe_bf2raw(node: Node, ns: Mapping[str, JSON], meta: _Metadata, ctx: Context) -> dict[str, JSON]:
    out: dict[str, JSON] = {"layout": ns.get("bioformats2raw.layout")}
    series = ns.get("series")
    if isinstance(series, list):  # this is the OME group itself
        out["series"] = [s for s in series if isinstance(s, str)]
        return out
    if "plate" in meta.roles:
        out["series"] = []
        out["note"] = "plate metadata is present and takes precedence over the series"
        return out
    ome_node = ctx.node(join_path(node.path, "OME")) if node.is_group else None
    ome_meta = _metadata(ome_node) if ome_node is not None else None
    declared = ome_meta.namespace.get("series") if ome_meta is not None else None
    if isinstance(declared, list):
        out["series"] = [s for s in declared if isinstance(s, str)]
        out["series_source"] = "OME/series"
    else:
        found = []
        for child in ctx.children(node.path):
            if child.name.isdigit():
                found.append(child.name)
        found.sort(key=int)
        consecutive = []
        for index, name in enumerate(found):
            if name != str(index):
                break
            consecutive.append(name)
        out["series"] = consecutive
        out["series_source"] = "numbered children"
    return out


def _dimension_source(parent: Node, ms: Mapping[str, JSON], dataset: Mapping[str, JSON]) -> DimensionSource:
    axes = _axes_info(ms)
    n = len(axes)
    level_scale, level_translation = _transform_vectors(dataset.get("coordinateTransformations"))
    global_scale, global_translation = _transform_vectors(ms.get("coordinateTransformations"))

    def fits(vector: list[float] | None) -> list[float] | None:
        return vector if vector is not None and len(vector) == n else None

    level_scale, level_translation = fits(level_scale), fits(level_translation)
    global_scale, global_translation = fits(global_scale), fits(global_translation)
    scales: tuple[float | None, ...] | None = None
    translations: tuple[float | None, ...] | None = None
    if level_scale is not None:
        gs = global_scale or [1.0] * n
        scales = tuple(a * b for a, b in zip(level_scale, gs, strict=True))
        # the global transformation applies after the level's: x' = gs * (ls * x + lt) + gt
        lt = level_translation or [0.0] * n
        gt = global_translation or [0.0] * n
        if level_translation is not None or global_translation is not None:
            translations = tuple(g * t + u for g, t, u in zip(gs, lt, gt, strict=True))
    return DimensionSource(
        convention=NAME,
        source=f"OME-NGFF axes of {parent.path}",
        names=tuple(a["name"] for a in axes),
        units=tuple(a["unit"] for a in axes),
        scales=scales,
        translations=translations,
        types=tuple(a["type"] for a in axes),
    )


# -- validation ------------------------------------------------------------------------------


class _Checker:
    """Collects the issues of one node; one method per part of the metadata."""

    def __init__(self, convention: OmeNgffConvention, node: Node, meta: _Metadata, ctx: Context) -> None:
        self.convention = convention
        self.node = node
        self.meta = meta
        self.ctx = ctx
        self.ns = meta.namespace
        self.issues: list[Issue] = []
        self._seen: set[tuple[str, str]] = set()
        self.check_arrays = True
        # level-0 shape and axes of the image, for the omero channel count
        self._level0: tuple[tuple[int, ...], list[dict[str, JSON]] | None] | None = None
        self._label_dtype: str | None = None  # the data type of level 0, for label-values

    # -- reporting ---------------------------------------------------------------------------
    def _add(self, severity: Severity, message: str, parts: Sequence[str | int], *, unchecked: bool = False,
             rule: Rule = Rule.SPEC) -> None:
        """Add one issue whose pointer is *parts* below the attributes (once per pointer and message)."""
        pointer, document = attributes_pointer(self.node, *parts)
        message = _clip(message)
        if (pointer, message) in self._seen:
            return
        self._seen.add((pointer, message))
        self.issues.append(Issue(severity, message, self.node.path, pointer, NAME, document, unchecked, rule))

    def report(self, severity: Severity, message: str, *parts: str | int, unchecked: bool = False,
               rule: Rule = Rule.SPEC) -> None:
        """Add one issue whose pointer is *parts* below the OME namespace."""
        self._add(severity, message, (*self.meta.prefix, *parts), unchecked=unchecked, rule=rule)

    def error(self, message: str, *parts: str | int) -> None:
        """Report a broken MUST rule."""
        self.report(Severity.ERROR, message, *parts)

    def warning(self, message: str, *parts: str | int) -> None:
        """Report a broken SHOULD rule (or a likely mistake)."""
        self.report(Severity.WARNING, message, *parts)

    def interoperability(self, message: str, *parts: str | int) -> None:
        """Report metadata the spec allows but a named reader or validator fails on: a warning of the
        rule ``interoperability``, its message starting with :data:`INTEROPERABILITY`."""
        self.report(Severity.WARNING, f"{INTEROPERABILITY} {message}", *parts, rule=Rule.INTEROPERABILITY)

    # -- entry point -------------------------------------------------------------------------
    def run(self) -> None:
        """Check the node: layout and version first, then the schemas, then each role's rules."""
        meta, node = self.meta, self.node
        if node.is_array:
            self.error("OME-NGFF metadata on an array; it belongs on the group that holds the arrays")
            return
        family = meta.family
        if not meta.wrapped and node.zarr_format == 3:
            self.error(f"pre-0.5 metadata in a Zarr v3 group: OME-NGFF {meta.version} keys "
                       f"({', '.join(k for k in OME_KEYS if k in self.ns)}) must sit under attributes['ome'] "
                       "with ome.version '0.5'")
            return
        outer = self._check_version_consistency()
        if family == "legacy" and "well" in meta.roles and outer == "0.4":
            # a plate's wells MUST implement the well specification, the plate's: a 0.3 well in a 0.4
            # plate is checked as 0.4 (the schema reports its version) rather than waved through
            family = "0.4"
        if meta.wrapped and family == "0.6":
            # a warning, not info: the verdict must not read as a clean pass for metadata never checked
            self.report(Severity.WARNING, f"OME-NGFF {meta.version} is read-only; not validated", "version",
                        unchecked=True)
            return
        if meta.wrapped and node.zarr_format != 3:
            self.error(f"OME-NGFF {meta.version or '0.5'} requires Zarr v3, but this is a Zarr v2 group "
                       "(0.4 and older keep their keys at the top level of .zattrs)", "version")
            self.check_arrays = False
        if family == "unknown":
            if meta.wrapped:
                where, known = "attributes['ome']", "0.5, 0.6 release candidates (read-only)"
            else:
                where = "the top level of the attributes"
                known = f"{', '.join(sorted(LEGACY_VERSIONS))}, 0.4; 0.5 and later sit under attributes['ome'] in Zarr v3"
            self.error(f"unknown OME-NGFF version {meta.version!r} for metadata at {where} (known: {known}); "
                       "not validated", *self._version_pointer())
            return
        if family == "legacy":
            self.report(Severity.WARNING, f"OME-NGFF {meta.version} predates 0.4 and has no official schema; "
                        "only the level arrays were checked", *self._version_pointer(), unchecked=True)
            self._check_legacy_image()
            return
        if meta.wrapped and not meta.version_found and meta.roles == ("labels",):
            # ome-zarr-py writes 0.5 labels groups without a version; readers take the parent's
            self.warning("ome.version is missing from this labels group; 0.5 requires it in every 'ome' object")
        elif meta.wrapped and not meta.version_found and not self._schema_names():
            self.error(f"ome.version is {_short(self.ns.get('version'))}; expected the version string '0.5'",
                       "version")
        else:
            self._guarded("", lambda: self._check_schemas(family))
        if "image" in meta.roles or "label-image" in meta.roles:
            self._guarded("multiscales", lambda: self._check_image(family))
        if "label-image" in meta.roles:
            self._guarded("image-label", lambda: self._check_label(family))
        if "omero" in meta.roles or "omero" in self.ns:
            self._guarded("omero", lambda: self._check_omero(family))
            if "multiscales" not in self.ns and "label-image" not in meta.roles:
                # omero holds the rendering settings of "the channels of an image"; ome-zarr-models and the
                # 0.5 ome_zarr schema refuse such a group, and readers show nothing for it
                self.warning(f"omero without multiscales: omero describes the channels of an image, but {node.path} "
                             "has no multiscales, so no reader shows it (ome-zarr-models refuses it); put omero on "
                             "the image group", "omero")
        if "labels" in meta.roles:
            self._guarded("labels", self._check_labels_group)
        if "plate" in meta.roles:
            self._guarded("plate", self._check_plate)
        if "well" in meta.roles:
            self._guarded("well", self._check_well)
        if "bioformats2raw" in meta.roles:
            self._guarded("series" if "series" in self.ns else "bioformats2raw.layout", self._check_bf2raw)

    def _guarded(self, key: str, check: Callable[[], None]) -> None:
        """Run one part's checks; a bug in it becomes an error at that part, and the other parts are
        still checked (an OverflowError in the scales once hid a missing level and a bad colour)."""
        try:
            check()
        except OperationCancelledError:  # the user moved on: not a failure
            raise
        except Exception as err:  # boundary: one part's bug must not hide the other parts' findings
            logger.exception("ome-ngff: checking %r of %s failed", key or "the schemas", self.node.path)
            self.error(f"internal error while checking {key or 'the schemas'}: {err!r}; the other parts were "
                       "checked", *((key,) if key else ()))

    # -- schemas -----------------------------------------------------------------------------
    def _schema_names(self) -> list[str]:
        """The official schemas that apply to this node's roles (``image``, ``label``, ...)."""
        roles, ns = self.meta.roles, self.ns
        names = []
        if "multiscales" in ns:
            names.append("image")
        if "label-image" in roles:
            names.append("label")
        if "plate" in roles:
            names.append("plate")
        if "well" in roles:
            names.append("well")
        if "bioformats2raw.layout" in ns:
            names.append("bf2raw")
        if "series" in ns and "bioformats2raw" in roles:
            names.append("ome")
        return names

    def _check_schemas(self, family: str) -> None:
        if family not in _SCHEMA_FAMILIES:
            return
        instance = dict(self.node.attributes)
        for name in self._schema_names():
            base = self._schema_errors(family, name, instance)
            if base is None:
                return
            base_keys = set()
            for path, message, severity in base:
                base_keys.add((tuple(path), message))
                self._report_schema(severity, path, f"{message} ({family}/{name}.schema)")
            strict_name = f"strict_{name}"
            if name not in ("image", "label", "plate", "well"):
                continue
            strict = self._schema_errors(family, strict_name, instance) or []
            for path, message, _severity in strict:
                if (tuple(path), message) not in base_keys:
                    self._report_schema(Severity.WARNING, path, f"[strict] {message} ({family}/{strict_name}.schema)")

    def _schema_errors(self, family: str, name: str, instance: JSON) -> list[SchemaFinding] | None:
        validator = self.convention.schema_validator(family, name)
        try:
            errors = list(validator.iter_errors(instance))
        except RecursionError:
            self.error(f"the metadata is nested too deeply to check against {family}/{name}.schema")
            return None
        return [found for e in errors if (found := _schema_message(e)) is not None]

    def _report_schema(self, severity: Severity, path: list[str | int], message: str) -> None:
        # _schema_message marks the schema findings the spec text allows by their first word
        rule = Rule.INTEROPERABILITY if message.startswith(INTEROPERABILITY) else Rule.SPEC
        self._add(severity, message, path, rule=rule)

    # -- hierarchy ---------------------------------------------------------------------------
    def _version_pointer(self) -> tuple[str | int, ...]:
        """Where the version was found, as pointer parts into the OME namespace (() when unknown)."""
        if self.meta.wrapped:
            return ("version",)
        multiscales = self.ns.get("multiscales")
        if isinstance(multiscales, list) and multiscales and isinstance(multiscales[0], dict) and (
                multiscales[0].get("version") == self.meta.version):
            return ("multiscales", 0, "version")
        for key in OME_KEYS:
            value = self.ns.get(key)
            if isinstance(value, dict) and value.get("version") == self.meta.version:
                return (key, "version")
        return ()

    def _ancestor_version(self) -> tuple[Node, _Metadata] | None:
        """The nearest OME ancestor that declares a version, with its metadata."""
        current: Node | None = self.node
        for _ in range(16):  # plate/row/well/field/labels/label is the deepest nesting in practice
            current = self.ctx.parent(current) if current is not None else None
            if current is None:
                return None
            ancestor = _metadata(current)
            if ancestor is not None and ancestor.version_found:
                return current, ancestor
        return None

    def _check_version_consistency(self) -> str | None:
        """Report a version other than the nearest OME ancestor's (§3.1, §7.2.1); return the ancestor's."""
        version = self.meta.version if self.meta.version_found else None
        found = self._ancestor_version() if version is not None else None
        if found is None:
            return None
        current, ancestor = found
        if ancestor.version != version:
            message = (f"OME-NGFF version {_short(version)} differs from version {_short(ancestor.version)} of "
                       f"{current.path}; the version must be consistent within a hierarchy")
            if self.meta.wrapped and ancestor.wrapped:
                # 0.5: "The OME-Zarr Metadata version MUST be consistent within a hierarchy" (0.4 has no such rule)
                self.error(message, *self._version_pointer())
            else:
                self.warning(message, *self._version_pointer())
        return ancestor.version

    # -- images ------------------------------------------------------------------------------
    def _check_image(self, family: str) -> None:
        multiscales = self.ns.get("multiscales")
        if "multiscales" not in self.ns:
            if "label-image" in self.meta.roles:
                # "The zarr.json file for the label image MUST implement the multiscales specification": an
                # error in a labels group; alone (the official suites check image-label documents by
                # themselves) it may be a fragment, and stays a warning
                parent = self.ctx.parent(self.node)
                parent_meta = _metadata(parent) if parent is not None else None
                in_labels = parent is not None and (parent.name == "labels" or (
                    parent_meta is not None and "labels" in parent_meta.roles))
                self.report(Severity.ERROR if in_labels else Severity.WARNING,
                            "image-label without multiscales: a label image must be a multiscale image",
                            "image-label")
            return
        for i, ms in _dicts(multiscales):
            axes = self._check_axes(i, ms)
            n_axes = len(axes) if axes is not None else None
            self._check_transforms(ms.get("coordinateTransformations"), n_axes, "multiscales", i,
                                   "coordinateTransformations")
            self._check_datasets(family, i, ms, axes)

    def _check_axes(self, i: int, ms: Mapping[str, JSON]) -> list[dict[str, JSON]] | None:
        axes = ms.get("axes")
        if not isinstance(axes, list) or not all(isinstance(a, dict) for a in axes):
            return None  # the schema reports the wrong type
        names: dict[str, int] = {}
        kinds: list[str] = []
        for j, axis in enumerate(axes):
            name = axis.get("name")
            if isinstance(name, str):
                if name in names:
                    self.error(f"axis name {name!r} is used by axes {names[name]} and {j}; axis names must be unique",
                               "multiscales", i, "axes", j, "name")
                else:
                    names[name] = j
            kind = axis.get("type")
            kinds.append(kind if kind in ("space", "time", "channel") else "custom")
            self._check_unit(i, j, axis)
        if kinds.count("time") > 1:
            self.error(f"{kinds.count('time')} axes have type 'time'; at most one is allowed", "multiscales", i, "axes")
        others = kinds.count("channel") + kinds.count("custom")
        if others > 1:
            self.error(f"{others} axes are of type 'channel' or a custom/absent type; at most one is allowed",
                       "multiscales", i, "axes")
        rank = {"time": 0, "channel": 1, "custom": 1, "space": 2}
        ranks = [rank[k] for k in kinds]
        if ranks != sorted(ranks):
            self.error(f"axes order is {kinds}; expected time first, then channel or custom, then space",
                       "multiscales", i, "axes")
        self._check_axes_should(i, axes)
        return axes

    def _check_axes_should(self, i: int, axes: list[dict[str, JSON]]) -> None:
        """The SHOULD rules of axes: a unit on each space and time axis, and three space axes in
        ``zyx`` order."""
        unitless = [f"{_short(a.get('name'))} ({a.get('type')})" for a in axes
                    if a.get("type") in ("space", "time") and "unit" not in a]
        if unitless:
            # "SHOULD contain the field "unit" to specify the physical unit of this dimension"
            self.warning(f"{'axis' if len(unitless) == 1 else 'axes'} {', '.join(unitless)} "
                         f"{'has' if len(unitless) == 1 else 'have'} no unit; space and time axes should give "
                         "their physical unit, such as 'micrometer' or 'second'",
                         "multiscales", i, "axes")
        spaces = [a.get("name") for a in axes if a.get("type") == "space"]
        folded = [n.lower() if isinstance(n, str) else n for n in spaces]
        if len(spaces) == 3 and sorted(map(str, folded)) == ["x", "y", "z"] and folded != ["z", "y", "x"]:
            # "If there are three spatial axes where two correspond to the image plane ("yx") and images are
            # stacked along the other (anisotropic) axis ("z"), the spatial axes SHOULD be ordered as "zyx""
            self.warning(f"the space axes are ordered {', '.join(map(repr, spaces))}; three space axes should be "
                         "ordered 'z', 'y', 'x' (the image plane 'yx' last): viewers take the last two axes for "
                         "the plane they show", "multiscales", i, "axes")

    def _check_unit(self, i: int, j: int, axis: Mapping[str, JSON]) -> None:
        if "unit" not in axis:
            return
        unit, kind, name = axis.get("unit"), axis.get("type"), axis.get("name")
        where = ("multiscales", i, "axes", j, "unit")
        if not isinstance(unit, str):
            self.warning(f"unit of axis {name!r} is {_short(unit)}; expected a UDUNITS-2 unit name string", *where)
        elif kind == "space" and unit not in SPACE_UNITS:
            self.warning(f"unit {unit!r} of space axis {name!r} is not a UDUNITS-2 length such as 'micrometer'",
                         *where)
        elif kind == "time" and unit not in TIME_UNITS:
            self.warning(f"unit {unit!r} of time axis {name!r} is not a UDUNITS-2 time such as 'second'", *where)

    def _check_transforms(self, transforms: JSON, n_axes: int | None, *where: str | int) -> None:
        """Order, count, lengths and values of a scale[+translation] list (the schema checks the rest)."""
        items = _dicts(transforms)
        if not items:
            return
        types = [t.get("type") for _, t in items]
        if "scale" in types and "translation" in types and types.index("translation") < types.index("scale"):
            self.error(f"transformations are {_short(types)}; the scale must come first, then at most one "
                       "translation", *where)
        if types.count("translation") > 1:
            # "It MAY contain exactly one translation" (the schemas have no maxContains for it)
            self.error(f"transformations are {_short(types)}; at most one 'translation' is allowed", *where)
        for k, t in items:
            kind = t.get("type")
            if kind not in ("scale", "translation"):
                continue
            vector = t.get(kind)
            if not isinstance(vector, list):
                continue
            if n_axes and len(vector) != n_axes:  # no axes at all is the schema's finding
                self.error(f"{kind} has {len(vector)} values {_short(vector)} but there are {n_axes} axes",
                           *where, k, kind)
            for m, value in enumerate(vector):
                if not _is_number(value):
                    continue
                if _overflows(value):
                    # a legal JSON number, but every reader's 64-bit float overflows on it
                    text = (f"{kind} value {_number_text(value)} is too large for a 64-bit float (at most "
                            "~1.8e308): readers fail on it or read it as infinity")
                    if kind == "scale":
                        self.error(text, *where, k, kind, m)
                    else:
                        self.interoperability(text, *where, k, kind, m)
                elif not math.isfinite(value):
                    self.error(f"{kind} value {value!r} must be a finite number", *where, k, kind, m)
                elif kind == "scale" and value == 0:
                    self.error("scale value 0 makes the axis degenerate: every pixel would map to one point",
                               *where, k, kind, m)
                elif kind == "scale" and value < 0:
                    # the spec has no sign rule for scales: a negative one mirrors the axis
                    self.interoperability(f"scale value {value!r} is negative: it mirrors the axis; the spec allows it, "
                                          "but viewers may not", *where, k, kind, m)

    def _check_datasets(self, family: str, i: int, ms: Mapping[str, JSON], axes: list[dict[str, JSON]] | None) -> None:
        n_axes = len(axes) if axes is not None else None
        names = [a.get("name") for a in axes] if axes is not None else None
        previous: tuple[int, ...] | None = None
        previous_path = ""
        misordered: set[int] = set()  # levels whose shapes are out of order already
        for k, dataset in _dicts(ms.get("datasets")):
            self._check_transforms(dataset.get("coordinateTransformations"), n_axes,
                                   "multiscales", i, "datasets", k, "coordinateTransformations")
            path = dataset.get("path")
            if not isinstance(path, str) or not self.check_arrays:
                continue
            where = ("multiscales", i, "datasets", k, "path")
            target = _resolve(self.node.path, path)
            if target is None or target == self.node.path:
                self.error(f"dataset path {path!r} does not name a node below this group", *where)
                continue
            array_node = self.ctx.node(target)
            if array_node is None:
                self.error(f"dataset path {path!r} names no array: nothing found at {target}", *where)
                continue
            if array_node.kind == "error":
                self.error(f"dataset {path!r} at {target} could not be read: {array_node.error}", *where)
                continue
            if array_node.array is None:
                self.error(f"dataset path {path!r} names a group at {target}, not an array", *where)
                continue
            array = array_node.array
            if n_axes is not None and array.ndim != n_axes:
                self.error(f"array {target} has {array.ndim} dimensions {list(array.shape)} but there are "
                           f"{n_axes} axes", *where)
            if family == "0.5":
                self._check_dimension_names(target, array_node, names, where)
            elif family == "0.4" and array_node.zarr_format != 2:
                self.error(f"array {target} is a Zarr v{array_node.zarr_format} array; OME-NGFF 0.4 requires Zarr v2",
                           *where)
            if "label-image" in self.meta.roles and not _is_integer_dtype(array.dtype):
                self.error(f"label array {target} has data type {array.dtype!r}; label images must hold integers "
                           f"({', '.join(sorted(INTEGER_DTYPES))})", *where)
            if previous is not None and len(previous) == array.ndim and any(
                    a > b for a, b in zip(array.shape, previous, strict=True)):
                # "The paths MUST be ordered from largest (i.e. highest resolution) to smallest"
                self.error(f"level {_short(path)} has shape {list(array.shape)}, larger than the previous level "
                           f"{_short(previous_path)} {list(previous)} on some axis; levels must go from the highest "
                           "to the lowest resolution", *where)
                misordered.add(k)
            previous, previous_path = array.shape, path
            if k == 0:
                self._level0 = (array.shape, axes)
                self._label_dtype = str(array.dtype)
        self._check_scale_order(i, ms, names, misordered)

    def _check_scale_order(self, i: int, ms: Mapping[str, JSON], names: list[JSON] | None, skip: set[int]) -> None:
        """Each level's scale is at least the previous level's on every axis: "The paths MUST be ordered
        from largest (i.e. highest resolution) to smallest", and a scale is the pixel size (or the factor
        to the first level).  ome-zarr-models refuses a smaller one ('Dataset 0 has a lower resolution')."""
        previous: tuple[str, list[float]] | None = None
        for k, dataset in _dicts(ms.get("datasets")):
            scale, _ = _transform_vectors(dataset.get("coordinateTransformations"))
            path = dataset.get("path")
            if scale is None or (previous is not None and len(previous[1]) != len(scale)):
                previous = None
                continue
            if previous is not None and k not in skip:
                smaller = [j for j, (a, b) in enumerate(zip(scale, previous[1], strict=True)) if abs(a) < abs(b)]
                if smaller:
                    j = smaller[0]
                    axis = names[j] if names is not None and j < len(names) else j
                    self.error(f"level {_short(path)} has scale {_short(_compact(scale), 120)}, smaller than the "
                               f"previous level {_short(previous[0])} {_short(_compact(previous[1]), 120)} on axis "
                               f"{_short(axis)}: that level would have the higher resolution; levels must go from the "
                               "highest resolution (smallest scale) to the lowest", "multiscales", i, "datasets", k,
                               "coordinateTransformations")
            previous = (path if isinstance(path, str) else str(k), scale)

    def _check_dimension_names(self, target: str, array_node: Node, names: list[JSON] | None,
                               where: tuple[str | int, ...]) -> None:
        if array_node.zarr_format != 3:
            self.error(f"array {target} is a Zarr v2 array; OME-NGFF 0.5 requires Zarr v3", *where)
            return
        dimension_names = array_node.array.dimension_names if array_node.array is not None else None
        if dimension_names is None:
            self.error(f"array {target} has no dimension_names; OME-NGFF 0.5 requires them to equal the axes "
                       f"names {_short(names, 200)}", *where)
        elif names is not None and list(dimension_names) != names:
            self.error(f"array {target} has dimension_names {_short(list(dimension_names), 200)} but the axes names "
                       f"are {_short(names, 200)}", *where)

    def _check_legacy_image(self) -> None:
        """Checks for 0.1–0.3 images: the level arrays exist and match string axes (0.3).

        Metadata in a later form (axes as objects, coordinateTransformations: 0.4) labelled
        with an older version is an error, as the official 0.4 suite's ``invalid_version``
        case has it: readers take the version and read the rest by its rules.
        """
        version = self.meta.version
        for i, ms in _dicts(self.ns.get("multiscales")):
            axes = ms.get("axes")
            n_axes = len(axes) if isinstance(axes, list) else None
            if isinstance(axes, list) and any(not isinstance(axis, str) for axis in axes):
                shown = "have no axes" if version in ("0.1", "0.2") else "name their axes with strings"
                self.error(f"axes are objects, as in OME-NGFF 0.4; {version} images {shown} "
                           f"(is the version wrong? 0.4 metadata says version '0.4')", "multiscales", i, "axes")
            for k, dataset in _dicts(ms.get("datasets")):
                path = dataset.get("path")
                if "coordinateTransformations" in dataset:
                    self.error(f"coordinateTransformations came with OME-NGFF 0.4; a {version} dataset has "
                               "only a path", "multiscales", i, "datasets", k, "coordinateTransformations")
                if not isinstance(path, str):
                    self.error(f"dataset path {_short(path)} must be a string", "multiscales", i, "datasets", k)
                    continue
                target = _resolve(self.node.path, path)
                array_node = self.ctx.node(target) if target is not None else None
                where = ("multiscales", i, "datasets", k, "path")
                if array_node is None or array_node.array is None:
                    self.error(f"dataset path {path!r} names no array below this group", *where)
                elif n_axes is not None and array_node.array.ndim != n_axes:
                    self.error(f"array {target} has {array_node.array.ndim} dimensions but there are {n_axes} axes",
                               *where)

    # -- labels ------------------------------------------------------------------------------
    def _check_label(self, family: str) -> None:
        label = self.ns.get("image-label")
        if not isinstance(label, dict):
            return
        for key in ("colors", "properties"):
            self._check_label_values(key, label.get(key))
        source = label.get("source")
        image = source.get("image") if isinstance(source, dict) else None
        if isinstance(source, dict) and "image" in source and not isinstance(image, str):
            self.error(f"source.image {_short(image)} must be a relative path string", "image-label", "source",
                       "image")
            return
        if not self.check_arrays or "multiscales" not in self.ns:
            return
        relative = image if isinstance(image, str) else "../../"
        target = _resolve(self.node.path, relative)
        if target is None:  # above the node opened (a subtree validated alone): not seen, not judged
            return
        source_node = self.ctx.node(target)
        source_meta = _metadata(source_node) if source_node is not None else None
        if source_meta is None or "image" not in source_meta.roles:
            where = ("image-label", "source", "image") if isinstance(image, str) else ("image-label",)
            self.warning(f"the source image {relative!r} of this label image ({target}) is not an OME-NGFF image",
                         *where)
            return
        ours, theirs = _level_count(self.ns), _level_count(source_meta.namespace)
        if ours is not None and theirs is not None and ours != theirs:
            # a MUST of the labels section; ome-zarr-models refuses the image then
            self.error(f"this label image has {ours} resolution levels and its image ({target}) {theirs}: a label "
                       "image must have as many as its image (ome-zarr-models refuses a 0.5 image so: 'Number of "
                       "image label multiscale levels ... doesn't match'); "
                       + ("remove the extra levels from datasets" if ours > theirs else
                          "write the missing levels, or remove the image's extra levels from its datasets"),
                       "multiscales", 0, "datasets")

    def _check_label_values(self, key: str, entries: JSON) -> None:
        """The ``label-value`` of each ``colors`` or ``properties`` entry: an integer, unique in its
        list, and one the label arrays' data type can hold."""
        dtype = self._label_dtype
        bounds = None
        if dtype is not None and _is_integer_dtype(dtype):
            import numpy as np

            info = np.iinfo(np.dtype(dtype))
            bounds = (int(info.min), int(info.max))
        seen: dict[JSON, int] = {}
        for n, entry in _dicts(entries):
            where = ("image-label", key, n, "label-value")
            value = entry.get("label-value")
            if isinstance(value, float) and not value.is_integer():
                self.error(f"label-value {value!r} must be an integer", *where)
            if not _is_number(value):
                continue
            if value in seen:
                if key == "colors":  # "All the values under the label-value key MUST be unique" (0.4)
                    self.error(f"label-value {_number_text(value)} appears in colors {seen[value]} and {n}; "
                               "label-values must be unique", *where)
                else:  # the text has no MUST for properties: they describe "the set of unique possible pixel values"
                    self.warning(f"label-value {_number_text(value)} appears in properties {seen[value]} and {n}; "
                                 "properties describe the set of unique pixel values, so each label-value should "
                                 "appear once (ome-zarr-models refuses duplicates)", *where)
                continue
            seen[value] = n
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                self.warning(f"label-value {_number_text(value)} is outside the range of the label data type "
                             f"{dtype} ({bounds[0]}..{bounds[1]}): no pixel can have it", *where)

    def _check_labels_group(self) -> None:
        labels = self.ns.get("labels")
        if not isinstance(labels, list):
            self.error(f"labels must be a list of label image paths, got {_short(labels)}", "labels")
            return
        seen: set[str] = set()
        for n, path in enumerate(labels):
            if not isinstance(path, str):
                self.error(f"labels[{n}] is {_short(path)}; expected a relative path string", "labels", n)
                continue
            if path in seen:
                self.warning(f"label {path!r} is listed twice", "labels", n)
                continue
            seen.add(path)
            target = _resolve(self.node.path, path)
            label_node = self.ctx.node(target) if target is not None else None
            # "a JSON array of paths to the labeled multiscale image(s)"
            if label_node is None:
                self.error(f"label {_short(path)} is listed but there is no group at {target or path}; labels must "
                           "list label images", "labels", n)
                continue
            label_meta = _metadata(label_node)
            if label_node.kind == "error":
                continue  # the walk reports the unreadable node
            if label_meta is None or not ({"image", "label-image"} & set(label_meta.roles)):
                what = "an array" if not label_node.is_group else "not a multiscale image"
                self.error(f"label {_short(path)} ({target}) is {what}; labels must list multiscale label images",
                           "labels", n)
            elif "label-image" not in label_meta.roles:
                self.warning(f"label {path!r} ({target}) has no image-label metadata", "labels", n)
        self._check_unlisted_labels(labels)

    def _check_unlisted_labels(self, labels: list[JSON]) -> None:
        """Label images under the labels group that its list leaves out: "All label images SHOULD be
        listed" (0.5); 0.4 says "Unlisted groups MAY be labels", but readers (ome-zarr-py,
        napari-ome-zarr) open only the listed ones."""
        listed = {t for p in labels if isinstance(p, str) and (t := _resolve(self.node.path, p)) is not None}
        def is_image(node: Node) -> bool:
            found = _metadata(node)
            return found is not None and bool({"image", "label-image"} & set(found.roles))

        unlisted: list[str] = []
        groups = [c for c in self.ctx.children(self.node.path) if c.is_group and c.path not in listed][:100]
        intermediate = [c for c in groups if not is_image(c)][:20]  # looked into one level deeper
        unlisted.extend(c.path for c in groups if is_image(c))
        for child in intermediate:
            unlisted.extend(g.path for g in self.ctx.children(child.path)[:100]
                            if g.is_group and g.path not in listed and is_image(g))
        if not unlisted:
            return
        names = ", ".join(repr(p[len(self.node.path) + 1:]) for p in unlisted[:5]) + (
            f", … ({len(unlisted)} in all)" if len(unlisted) > 5 else "")
        which = f"label image{'s' if len(unlisted) > 1 else ''} {names} under {self.node.path}"
        are = "are" if len(unlisted) > 1 else "is"
        if self.meta.wrapped:
            self.warning(f"{which} {are} not listed in labels {_short(labels)}; all label images should be listed "
                         "(readers open only the listed ones)", "labels")
        else:
            self.interoperability(f"{which} {are} not listed in labels {_short(labels)}: 0.4 allows it (\"Unlisted "
                                  "groups MAY be labels\"), but readers (ome-zarr-py, napari-ome-zarr) open only the "
                                  f"listed ones; add {'them' if len(unlisted) > 1 else 'it'} to labels", "labels")

    # -- omero -------------------------------------------------------------------------------
    def _check_omero(self, family: str) -> None:
        omero = self.ns.get("omero")
        if not isinstance(omero, dict):
            if "multiscales" not in self.ns:
                self.error(f"omero must be an object, got {_short(omero)}", "omero")
            return
        channels = omero.get("channels")
        if "channels" not in omero:
            if "multiscales" not in self.ns:  # otherwise the image schema reports it
                self.error("omero has no 'channels'; it must list the channels", "omero")
            return
        if not isinstance(channels, list):
            if "multiscales" not in self.ns:
                self.error(f"omero.channels must be a list, got {_short(channels)}", "omero", "channels")
            return
        for c, channel in enumerate(channels):
            where = ("omero", "channels", c)
            if not isinstance(channel, dict):
                continue  # the schema reports the wrong type
            color = channel.get("color")
            if "color" not in channel:
                if family != "0.4":  # the 0.4 schema requires it; 0.5's does not, the text does
                    self.error("channel has no 'color'; expected 6 hexadecimal digits such as 'FF0000'", *where)
            elif isinstance(color, str) and not _COLOR.match(color):
                self.error(f"channel color {color!r} must be exactly 6 hexadecimal digits (RRGGBB, no '#')",
                           *where, "color")
            window = channel.get("window")
            if "window" not in channel:
                if family != "0.4":
                    self.error("channel has no 'window'; it must give min, max, start and end", *where)
                continue
            if not isinstance(window, dict):
                continue
            if "multiscales" not in self.ns:
                missing = [k for k in ("min", "max", "start", "end") if k not in window]
                if missing:
                    self.error(f"channel window lacks {missing}; it must give min, max, start and end", *where,
                               "window")
            self._check_window(window, where)
        self._check_channel_count(channels)
        rdefs = omero.get("rdefs")
        if "rdefs" in omero and not isinstance(rdefs, dict):
            # the spec gives the omero block by its example only (OMERO's imgData, where rdefs is an
            # object) and states no rule for it; the schemas accept anything.  ome-zarr-py calls
            # rdefs.get(...), so napari-ome-zarr cannot open the image at all
            self.interoperability(f"omero.rdefs is {_short(rdefs)}; napari-ome-zarr fails to open the image unless it "
                                  "is an object of rendering settings, as in the spec's example "
                                  "({'defaultZ': 0, 'model': 'color'})", "omero", "rdefs")
        if isinstance(rdefs, dict) and "model" in rdefs and rdefs.get("model") not in ("color", "greyscale"):
            self.warning(f"omero.rdefs.model is {_short(rdefs.get('model'))}; expected 'color' or 'greyscale'",
                         "omero", "rdefs", "model")

    def _check_window(self, window: Mapping[str, JSON], where: tuple[str | int, ...]) -> None:
        values = {k: window.get(k) for k in ("min", "max", "start", "end")}
        # compared as they are: Python compares an int and a float exactly, where float(10**400) raises
        numbers = {k: v for k, v in values.items() if _is_number(v)}
        for key, value in numbers.items():
            if _overflows(value):
                self.interoperability(f"window {key} {_number_text(value)} is too large for a 64-bit float (at most "
                                      "~1.8e308): readers fail on it or read it as infinity", *where, "window", key)
        text = {k: _number_text(v) for k, v in numbers.items()}
        if "start" in numbers and "end" in numbers and numbers["start"] > numbers["end"]:
            self.warning(f"window start {text['start']} is greater than end {text['end']}", *where, "window")
        if "min" in numbers and "max" in numbers and numbers["min"] > numbers["max"]:
            self.warning(f"window min {text['min']} is greater than max {text['max']}", *where, "window")
        if {"min", "start"} <= numbers.keys() and numbers["start"] < numbers["min"]:
            self.warning(f"window start {text['start']} is below min {text['min']}", *where, "window")
        if {"max", "end"} <= numbers.keys() and numbers["end"] > numbers["max"]:
            self.warning(f"window end {text['end']} is above max {text['max']}", *where, "window")

    def _check_channel_count(self, channels: Sequence[JSON]) -> None:
        if self._level0 is None:
            return
        shape, axes = self._level0
        if axes is None or len(axes) != len(shape):
            return
        kinds = [a.get("type") for a in axes]
        size = shape[kinds.index("channel")] if "channel" in kinds else 1
        if len(channels) == size:
            return
        if "channel" in kinds:  # napari-ome-zarr hands napari one contrast limit per omero channel
            # not a spec rule (its example only says "Array matching the c dimension size"): a warning that
            # names the reader it breaks, so that CI can tell it from a spec error
            self.interoperability(f"omero lists {len(channels)} channels but the channel axis has size {size}: "
                                  f"napari-ome-zarr refuses to open the image ('length of [...] must equal {size}'); "
                                  "list one channel per index of the channel axis", "omero", "channels")
        else:
            self.warning(f"omero lists {len(channels)} channels but no axis has type 'channel' (one channel)",
                         "omero", "channels")

    # -- HCS ---------------------------------------------------------------------------------
    def _check_plate(self) -> None:
        plate = self.ns.get("plate")
        if not isinstance(plate, dict):
            return
        rows = [r.get("name") for _, r in _dicts(plate.get("rows"))] if isinstance(plate.get("rows"), list) else []
        columns = ([c.get("name") for _, c in _dicts(plate.get("columns"))]
                   if isinstance(plate.get("columns"), list) else [])
        for key, names in (("rows", rows), ("columns", columns)):
            folded: dict[str, int] = {}
            for n, name in enumerate(names):
                if isinstance(name, str):
                    other = folded.setdefault(name.casefold(), n)
                    if other != n and names[other] != name:
                        # "Care SHOULD be taken to avoid collisions on case-insensitive filesystems"
                        self.warning(f"{key} {_short(names[other])} and {_short(name)} differ only in case: they "
                                     "collide on case-insensitive file systems (macOS, Windows)", "plate", key, n)
        problems = _well_problems(self.ctx, self.node.path, plate) if self.check_arrays else {}
        rows_listed = isinstance(plate.get("rows"), list)
        columns_listed = isinstance(plate.get("columns"), list)
        listed: dict[str, tuple[int, dict[str, JSON]]] = {}
        for w, well in _dicts(plate.get("wells")):
            where = ("plate", "wells", w)
            path, row, column = well.get("path"), well.get("rowIndex"), well.get("columnIndex")
            if isinstance(path, str):
                first = listed.setdefault(path, (w, well))
                if first[0] != w and first[1] != well:  # identical items are the schema's uniqueItems
                    self.error(f"well path {path!r} is listed by wells {first[0]} and {w}, with different metadata "
                               f"({_short(first[1])} and {_short(well)}); each well must be listed once", *where,
                               "path")
                    continue
            if not (isinstance(path, str) and _is_int(row) and _is_int(column)):
                continue  # the schema reports missing or mistyped fields
            if not 0 <= row < len(rows):
                if rows_listed:  # no rows at all is the schema's finding, not every well's
                    self.error(f"rowIndex {_number_text(row)} of well {path!r} is outside the {len(rows)} rows",
                               *where, "rowIndex")
                continue
            if not 0 <= column < len(columns):
                if columns_listed:
                    self.error(f"columnIndex {_number_text(column)} of well {path!r} is outside the {len(columns)} "
                               "columns", *where, "columnIndex")
                continue
            if not (isinstance(rows[row], str) and isinstance(columns[column], str)):
                continue  # the schema reports the missing name
            expected = f"{rows[row]}/{columns[column]}"
            if path != expected:
                self.error(f"well path {path!r} does not match rows[{row}] and columns[{column}]; expected "
                           f"{expected!r} (row name, then column name)", *where, "path")
                continue
            problem = problems.get(path)
            if problem is not None and problem[1].startswith("listed in the plate, but there is no group"):
                self.warning(f"well {path!r} is listed but there is no group at {join_path(self.node.path, path)}",
                             *where, "path")
            elif problem is not None:
                missing, reason = problem
                # a listed well without a group may be a sparse plate: a warning; a group that is no
                # well cannot be opened ("the group above the images MUST implement the well specification")
                self.report(Severity.WARNING if missing else Severity.ERROR, f"well {path!r}: {reason}", *where,
                            "path")
        ids: dict[int, int] = {}
        for a, acquisition in _dicts(plate.get("acquisitions")):
            acq_id = acquisition.get("id")
            if _is_int(acq_id):
                if acq_id in ids:
                    self.error(f"acquisition id {_number_text(acq_id)} is used by acquisitions {ids[acq_id]} and {a}; "
                               "ids must be unique", "plate", "acquisitions", a, "id")
                else:
                    ids[acq_id] = a
            start, end = acquisition.get("starttime"), acquisition.get("endtime")
            if _is_int(start) and _is_int(end) and end < start:
                self.warning(f"acquisition endtime {_number_text(end)} is before starttime {_number_text(start)}",
                             "plate", "acquisitions", a)

    def _check_well(self) -> None:
        well = self.ns.get("well")
        if not isinstance(well, dict):
            return
        images = _dicts(well.get("images"))
        seen: dict[str, dict[str, JSON]] = {}
        for n, image in images:
            path = image.get("path")
            if isinstance(path, str):
                if path in seen and seen[path] != image:  # identical items are the schema's uniqueItems
                    self.error(f"field path {path!r} is listed twice; paths must be unique", "well", "images", n,
                               "path")
                seen.setdefault(path, image)
        if not self.check_arrays or not images:
            return
        present = {child.name: child for child in self.ctx.children(self.node.path)}
        for n, image in images:
            path = image.get("path")
            if not isinstance(path, str):
                continue
            where = ("well", "images", n, "path")
            target = join_path(self.node.path, path)
            child = present.get(path)
            if child is None:
                self.warning(f"field {path!r} is listed but there is no group at {target}", *where)
            elif child.kind == "error":
                self.error(f"field {path!r} at {target} could not be read: {child.error}", *where)
            elif not child.is_group:
                self.error(f"field {path!r} names an array at {target}; a field must be a multiscale image group",
                           *where)
            elif not child.attributes and not self.ctx.children(child.path):
                self.warning(f"field {path!r} ({target}) is an empty group: nothing to show", *where)
            elif "multiscales" not in _namespace_of(child):
                # "All images contained in a well are fields of view": readers fail on a field without
                # multiscales (ome-zarr-py: KeyError 'multiscales')
                self.error(f"field {path!r} ({target}) is a group without multiscales; a field must be a multiscale "
                           "image", *where)
        self._check_well_acquisitions(images)
        self._check_field_count(len(images))

    def _check_field_count(self, fields: int) -> None:
        """``field_count`` "MUST be a positive integer defining the maximum number of fields per view
        across all wells"."""
        plate = self._plate()
        count = plate.get("field_count") if plate is not None else None
        if _is_int(count) and count > 0 and fields > count:
            self.error(f"the well lists {fields} fields but the plate's field_count is {_number_text(count)}, the "
                       "maximum number of fields per well", "well", "images")

    def _plate(self) -> Mapping[str, JSON] | None:
        """The plate metadata two levels up (well → row → plate), when there is one."""
        row = self.ctx.parent(self.node)
        plate_node = self.ctx.parent(row) if row is not None else None
        plate_meta = _metadata(plate_node) if plate_node is not None else None
        plate = plate_meta.namespace.get("plate") if plate_meta is not None else None
        return plate if isinstance(plate, dict) else None

    def _check_well_acquisitions(self, images: list[tuple[int, dict[str, JSON]]]) -> None:
        """Field acquisitions must exist in the plate two levels up (§3.6)."""
        plate = self._plate()
        if plate is None:
            return
        ids = {acq_id for _, a in _dicts(plate.get("acquisitions")) if _is_int(acq_id := a.get("id"))}
        for n, image in images:
            acquisition = image.get("acquisition")
            if acquisition is None:
                if len(ids) > 1:
                    self.error(f"field {image.get('path')!r} has no acquisition, but the plate has {len(ids)}",
                               "well", "images", n)
            elif _is_int(acquisition) and ids and acquisition not in ids:
                self.error(f"acquisition {_number_text(acquisition)} of field {_short(image.get('path'))} is not an "
                           f"acquisition id of the plate {_short(sorted(ids))}", "well", "images", n, "acquisition")

    # -- bioformats2raw ----------------------------------------------------------------------
    def _check_bf2raw(self) -> None:
        series = self.ns.get("series")
        if not self.check_arrays:
            return
        if not isinstance(series, list):
            if "bioformats2raw.layout" in self.ns and "plate" not in self.meta.roles:
                self._check_bf2raw_numbering()
            return
        base = self.ctx.parent(self.node)
        if base is None:
            return
        for n, path in enumerate(series):
            if not isinstance(path, str):
                continue  # the schema reports it
            # "series MUST be a list of string objects, each of which is a path to an image group"
            target = _resolve(base.path, path)
            found = self.ctx.node(target) if target is not None else None
            if target is None:
                self.error(f"series {_short(path)} leaves the store; it must be a path to an image group below "
                           f"{base.path}", "series", n)
            elif found is None:
                self.error(f"series {_short(path)} is listed but there is no group at {target}; it must be a path "
                           "to an image group", "series", n)
            elif found.kind != "error" and (not found.is_group or "multiscales" not in _namespace_of(found)):
                what = "an array" if not found.is_group else "a group without multiscales"
                self.error(f"series {_short(path)} names {what} at {target}; it must be a path to an image group",
                           "series", n)

    def _check_bf2raw_numbering(self) -> None:
        """Without OME/series (and without a plate) "separate multiscales images MUST be stored in
        consecutively numbered groups starting from 0"."""
        ome_node = self.ctx.node(join_path(self.node.path, "OME")) if self.node.is_group else None
        if ome_node is not None and "series" in _namespace_of(ome_node):
            return  # the OME group lists them (and is checked itself)
        numbered = sorted(int(c.name) for c in self.ctx.children(self.node.path)
                           if c.is_group and c.name.isdigit() and c.name == str(int(c.name)))
        if numbered and numbered != list(range(len(numbered))):
            found = ", ".join(map(str, numbered[:8])) + (", …" if len(numbered) > 8 else "")
            self.error(f"no OME/series: the images must be in groups numbered 0, 1, 2, … without gaps; found {found}",
                       "bioformats2raw.layout")


def _namespace_of(node: Node) -> Mapping[str, JSON]:
    """The OME keys of *node*: its ``ome`` object (0.5) or its attributes (≤0.4)."""
    ome = node.attributes.get("ome")
    return ome if isinstance(ome, dict) else node.attributes


def _well_problems(ctx: Any, plate_path: str, plate: Mapping[str, Any]) -> dict[str, tuple[bool, str]]:
    """(missing, reason) by well path for the wells of *plate* that cannot be opened."""
    out: dict[str, tuple[bool, str]] = {}
    rows: dict[str, dict[str, Any]] = {}
    wells = plate.get("wells")
    for well in wells if isinstance(wells, list) else []:
        path = well.get("path") if isinstance(well, Mapping) else None
        if not isinstance(path, str) or path.count("/") != 1:
            continue
        row, column = path.split("/")
        if row not in rows:
            rows[row] = {child.name: child for child in ctx.children(join_path(plate_path, row))}
        child = rows[row].get(column)
        where = join_path(plate_path, path)
        if child is None:
            out[path] = (True, f"listed in the plate, but there is no group at {where}")
        elif child.kind == "error":
            out[path] = (False, f"its metadata cannot be read: {child.error or 'unknown error'}")
        elif not child.is_group:
            out[path] = (False, f"{where} is an array, not a well group")
        elif "well" not in _namespace_of(child):
            if not child.attributes and not ctx.children(child.path):
                # an empty well: "A well group SHOULD NOT be present if there are no images in the well"
                out[path] = (True, f"{where} is an empty group (no well metadata, no fields)")
            else:
                out[path] = (False, f"{where} has no well metadata: the group above the fields must implement the "
                                    "well specification")
    return out


def plate_well_problems(ctx: Any, plate_path: str, plate: Mapping[str, Any]) -> dict[str, str]:
    """Why wells the plate lists cannot be opened, by well path (``"A/2"``): no group there, an
    array, a group without well metadata, or metadata that cannot be read.  One listing per row
    (the hierarchy keeps them); *ctx* is a :class:`~zarr_browser.core.validate.HierarchyContext`.
    The Plate tab drew such wells as ordinary ones, and a click on them selected nothing (audit
    I, 8); validation reports the same problems (audit L, 3)."""
    return {path: reason for path, (_, reason) in _well_problems(ctx, plate_path, plate).items()}
