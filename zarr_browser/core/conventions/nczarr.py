"""NCZarr, netCDF-C's zarr dialect, in all three on-disk generations.

* ``a``: upper-case ``_NCZARR_SUPERBLOCK`` / ``_NCZARR_GROUP {dims, vars, groups}`` in ``.zgroup``,
  ``_NCZARR_ARRAY {dimrefs, storage}`` in ``.zarray``, ``_NCZARR_ATTR`` in ``.zattrs``;
* ``b``: the same keys in lower case, still in ``.zgroup`` / ``.zarray``;
* ``c``: everything in the attributes: ``_nczarr_superblock``, ``_nczarr_group {dimensions,
  arrays, groups}``, ``_nczarr_array {dimension_references, storage, scalar?}``, ``_nczarr_attr``.

Real writers: netCDF-C 4.9.0 (``nccopy``) writes generation ``a``; the libnetcdf 4.10 bundled in
the netCDF4 wheel writes ``c``.  Reading is lenient: either key spelling of each field is
accepted in any generation.

A root with ``_NCProperties`` but no NCZarr metadata (netCDF-C ``mode=zarr`` output) is
detected with the single role ``"netcdf-provenance"`` and no version: the store came from
netCDF-C, but it has no shared dimensions, so nothing else here applies to it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from zarr_browser.core.conventions.base import BaseConvention, Context, Detection, DimensionSource, attributes_pointer
from zarr_browser.core.issues import Issue, Severity, pointer
from zarr_browser.core.jsonio import JSON

if TYPE_CHECKING:
    from zarr_browser.core.model import Node

__all__ = [
    "NczarrConvention",
    "NczarrField",
    "TypeClash",
    "attribute_type_clash",
    "dimension_references",
    "group_dimension_names",
    "group_dimensions",
    "nczarr_type",
    "parse_ncproperties",
]

logger = logging.getLogger(__name__)

CONVENTION = "nczarr"
Generation = Literal["a", "b", "c"]
Part = Literal["superblock", "group", "array", "attr"]


@dataclass(frozen=True, slots=True)
class _Found:
    """One NCZarr key found on a node: its value and where it sits."""

    value: JSON
    key: str
    document: str
    generation: Generation
    in_attributes: bool

    def pointer(self, node: Node, *parts: str | int) -> tuple[str, str]:
        """JSON pointer and document name of a path inside this key's value."""
        if self.in_attributes:
            return attributes_pointer(node, self.key, *parts)
        return pointer(self.key, *parts), self.document


@dataclass(frozen=True, slots=True)
class _Dimension:
    name: str
    size: int
    unlimited: bool


def _find(node: Node, part: Part) -> _Found | None:
    """The NCZarr key *part* on *node*, in generation order a (upper case), b, c."""
    upper, lower = f"_NCZARR_{part.upper()}", f"_nczarr_{part}"
    main_name = ".zarray" if ".zarray" in node.documents else ".zgroup"
    main_doc = node.documents.get(main_name)
    main = main_doc.value if main_doc is not None and isinstance(main_doc.value, dict) else {}
    attrs = node.attributes
    attr_doc = "zarr.json" if node.zarr_format == 3 else ".zattrs"
    if upper in main:
        return _Found(main[upper], upper, main_name, "a", False)
    if upper in attrs:
        return _Found(attrs[upper], upper, attr_doc, "a", True)
    if lower in main:
        return _Found(main[lower], lower, main_name, "b", False)
    if lower in attrs:
        # (b) also keeps _nczarr_attr in .zattrs; callers judge the generation by the other keys
        return _Found(attrs[lower], lower, attr_doc, "c", True)
    return None


def _generation(node: Node) -> Generation | None:
    for part in ("superblock", "group", "array"):
        found = _find(node, part)
        if found is not None:
            return found.generation
    found = _find(node, "attr")
    return found.generation if found is not None and found.generation == "a" else None


@dataclass(frozen=True, slots=True)
class NczarrField:
    """One NCZarr field of a node, for an edit: its value, the document holding it (``.zgroup``,
    ``.zarray`` in generations a/b, ``.zattrs`` in c), the JSON pointer to it there, and the
    generation."""

    value: JSON
    document: str
    pointer: str
    generation: Generation


def _located(node: Node, part: Part, *names: str) -> NczarrField | None:
    found = _find(node, part)
    if found is None or not isinstance(found.value, dict):
        return None
    for name in names:
        if name in found.value:
            ptr, doc = found.pointer(node, name)
            return NczarrField(found.value[name], doc, ptr, found.generation)
    return None


def group_dimensions(node: Node) -> NczarrField | None:
    """The shared dimensions a group defines (``_nczarr_group.dimensions``, ``dims`` before), or None."""
    return _located(node, "group", "dimensions", "dims") if node.is_group else None


def group_dimension_names(value: JSON) -> list[str]:
    """The names of a group's shared dimensions as written (``{name: size}``, or ``[{name,
    size}]``): the value of :func:`group_dimensions`."""
    if isinstance(value, dict):
        return [name for name in value if isinstance(name, str)]
    if isinstance(value, list):
        return [d["name"] for d in value if isinstance(d, dict) and isinstance(d.get("name"), str)]
    return []


def dimension_references(node: Node) -> NczarrField | None:
    """An array's dimension references (``_nczarr_array.dimension_references``, ``dimrefs`` before), or None."""
    return _located(node, "array", "dimension_references", "dimrefs") if node.is_array else None


def parse_ncproperties(value: JSON) -> dict[str, str]:
    """Parse ``_NCProperties`` (``"version=2,netcdf=4.9.0,nczarr=2.0.0"``) into a dict."""
    if not isinstance(value, str):
        return {}
    out = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        if sep:
            out[key.strip()] = val.strip()
    return out


def _field(value: JSON, *names: str) -> JSON:
    if not isinstance(value, dict):
        return None
    for name in names:
        if name in value:
            return value[name]
    return None


def _dims_key(value: JSON) -> str:
    return "dimensions" if isinstance(value, dict) and "dimensions" in value else "dims"


def _parse_dimensions(raw: JSON) -> tuple[list[_Dimension], list[str]]:
    """Shared dimensions from ``{name: size | {size, unlimited}}`` or ``[{name, size, unlimited}]``."""
    dims: list[_Dimension] = []
    problems: list[str] = []
    if raw is None:
        return dims, problems
    items: list[tuple[JSON, JSON]]
    if isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, list):
        items = [(d.get("name"), d) if isinstance(d, dict) else (None, d) for d in raw]
    else:
        return dims, [f"dimensions are {raw!r}, expected an object of name → size"]
    for name, spec in items:
        size: JSON = spec
        unlimited = False
        if isinstance(spec, dict):
            size = spec.get("size")
            unlimited = spec.get("unlimited") in (1, True)
        if not isinstance(name, str) or not name:
            problems.append(f"dimension entry {spec!r} has no name")
        elif isinstance(size, bool) or not isinstance(size, int) or size < 0:
            problems.append(f"dimension {name!r} has size {size!r}, expected a non-negative integer")
        else:
            dims.append(_Dimension(name, size, unlimited))
    return dims, problems


def _names(value: JSON) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _is_scalar(array: _Found | None) -> bool:
    if array is None:
        return False
    return _field(array.value, "scalar") in (1, True) or _field(array.value, "storage") == "scalar"


class NczarrConvention(BaseConvention):
    """netCDF-C's NCZarr: superblock, shared dimensions, dimension references, attribute types."""

    name = CONVENTION
    title = "NCZarr"

    def detect(self, node: Node) -> Detection | None:
        """Superblock root, NCZarr groups and variables; netCDF-C provenance alone."""
        superblock = _find(node, "superblock")
        group = _find(node, "group") if node.is_group else None
        array = _find(node, "array") if node.is_array else None
        if superblock is None and group is None and array is None:
            # netCDF-C writes it on the root of what it writes: a group below a folder of stores too
            if node.is_group and isinstance(node.attributes.get("_NCProperties"), str):
                return Detection(CONVENTION, None, ("netcdf-provenance",))
            return None
        roles: list[str] = []
        if superblock is not None:
            roles.append("root")
        if group is not None:
            roles.append("group")
        if array is not None:
            roles.append("variable")
            if _is_scalar(array):
                roles.append("scalar")
        version = _field(superblock.value, "version") if superblock is not None else None
        return Detection(CONVENTION, version if isinstance(version, str) else None, tuple(roles))

    def child_hints(self, node: Node) -> list[str]:
        """Variables and subgroups declared by ``_nczarr_group``."""
        group = _find(node, "group")
        if group is None:
            return []
        out = []
        for value in (_field(group.value, "arrays", "vars"), _field(group.value, "groups")):
            out.extend(_names(value) or [])
        return out

    def dimensions(self, node: Node, parent: Node | None) -> DimensionSource | None:
        """Basenames of the array's dimension references."""
        array = _find(node, "array") if node.is_array else None
        if array is None:
            return None
        key = "dimension_references" if isinstance(array.value, dict) and "dimension_references" in array.value else "dimrefs"
        refs = _names(_field(array.value, key))
        if not refs:
            return None
        ptr, doc = array.pointer(node, key)
        return DimensionSource(CONVENTION, "NCZarr dimension references", tuple(r.rsplit("/", 1)[-1] for r in refs),
                               pointer=ptr, document=doc)

    # -- description ---------------------------------------------------------------------
    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        """Generation, version, shared dimensions, dimension references and attribute types."""
        out: dict[str, JSON] = {}
        if "_NCProperties" in node.attributes:
            out["provenance"] = parse_ncproperties(node.attributes["_NCProperties"])
        generation = _generation(node)
        if generation is None:
            if out:
                out["mode"] = "pure zarr (netCDF-C mode=zarr): no shared dimensions"
            return out
        out["generation"] = generation
        superblock = _find(node, "superblock")
        if superblock is not None:
            out["version"] = _field(superblock.value, "version")
        group = _find(node, "group") if node.is_group else None
        if group is not None:
            dims, _ = _parse_dimensions(_field(group.value, "dimensions", "dims"))
            out["dimensions"] = [{"name": d.name, "size": d.size, "unlimited": d.unlimited} for d in dims]
            out["arrays"] = _names(_field(group.value, "arrays", "vars")) or []
            out["groups"] = _names(_field(group.value, "groups")) or []
        array = _find(node, "array") if node.is_array else None
        if array is not None:
            refs = _names(_field(array.value, "dimension_references", "dimrefs")) or []
            out["dimension_references"] = refs
            out["dimension_names"] = [r.rsplit("/", 1)[-1] for r in refs]
            out["storage"] = _field(array.value, "storage")
            out["scalar"] = _is_scalar(array)
        attr = _find(node, "attr")
        types = _field(attr.value, "types") if attr is not None else None
        if isinstance(types, dict):
            out["attribute_types"] = {k: v for k, v in types.items() if not k.lower().startswith("_nczarr")}
        out["hidden_attributes"] = sorted(k for k in node.attributes if k.lower().startswith(("_nczarr", "_ncprop")))
        return out

    # -- validation ----------------------------------------------------------------------
    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """Structure of the NCZarr keys, declared children and dimension references."""
        issues: list[Issue] = []
        superblock = _find(node, "superblock")
        if superblock is not None:
            if not isinstance(superblock.value, dict):
                issues.append(self._issue(Severity.ERROR, f"{superblock.key} is {superblock.value!r}, expected an "
                                          "object with a 'version'", node, superblock))
            if node.path != "/":
                issues.append(self._issue(Severity.WARNING, f"{superblock.key} belongs on the root group only",
                                          node, superblock))
        if node.is_group:
            group = _find(node, "group")
            if group is not None:
                issues.extend(self._validate_group(node, group, ctx))
        elif node.is_array:
            array = _find(node, "array")
            if array is not None:
                issues.extend(self._validate_array(node, array, ctx))
            else:
                issues.extend(self._lost_array_metadata(node, ctx))
        if _written_by_netcdf(node, ctx):
            issues.extend(self._unreadable_attributes(node))
            if node.is_array and _netcdf_49_char(node, ctx):
                issues.append(Issue(Severity.WARNING, CHAR_49, node.path, pointer("dtype"), CONVENTION, ".zarray"))
        return issues

    def _unreadable_attributes(self, node: Node) -> list[Issue]:
        """Attribute values netCDF-C cannot read: it then fails on the whole file, not on the
        attribute (``ncdump``: "NetCDF: Invalid argument"), so an edit must not write them; and
        values their declared type contradicts, which it fails on or misreads."""
        attr = _find(node, "attr")
        types = _field(attr.value, "types") if attr is not None else None
        issues = []
        for name, value in node.attributes.items():
            if name.lower().startswith(("_nczarr", "_ncprop")) or name == "_ARRAY_DIMENSIONS":
                continue
            why = _unreadable(value, typed=isinstance(types, dict))
            declared = types.get(name) if isinstance(types, dict) else None
            if why is None and declared == "|J0":
                why = "typed |J0 (JSON), which netCDF-C does not read for an attribute"
            if why is not None:
                ptr, where = attributes_pointer(node, name)
                issues.append(Issue(Severity.ERROR, f"attribute {name} is {why}: netCDF-C cannot read it, and "
                                    f"{WHOLE_FILE}", node.path, ptr, CONVENTION, where))
            elif attr is not None and isinstance(declared, str):
                clash = attribute_type_clash(value, declared, upper=attr.key.isupper())
                if clash is not None:
                    issues.append(self._clash_issue(node, attr, name, value, declared, clash))
        return issues

    def _clash_issue(self, node: Node, attr: _Found, name: str, value: JSON, declared: str,
                     clash: TypeClash) -> Issue:
        """The error for attribute *name*, whose declared type contradicts its value."""
        if clash.misread is None:
            consequence = f"netCDF-C cannot read it, and {WHOLE_FILE}{clash.note}"
        else:
            consequence = f"netCDF-C reads it as {clash.misread}"
        dtype = _variable_dtype(node)
        if name in VARIABLE_TYPED and dtype is not None and declared[1:] == dtype[1:]:
            fix = f"its value should be one of the variable's type {dtype}"
        else:
            wanted = nczarr_type(value, text="<U1" if attr.key.isupper() else ">S1")
            fix = f"its type should be {wanted!r} (an edit of this node's attributes in zarr-browser retypes it)"
        return self._issue(Severity.ERROR, f"attribute {name} is {clash.problem}: {consequence}; {fix}", node, attr,
                           "types", name)

    @staticmethod
    def _lost_array_metadata(node: Node, ctx: Context) -> list[Issue]:
        """A variable its group declares that has no NCZarr array metadata (dimension references):
        netCDF-C then fails on the whole file.  zarr-python rewrites ``.zarray`` without the keys it
        does not know on any change (attributes, a resize, an xarray append), which drops generation
        a/b's ``_NCZARR_ARRAY``."""
        parent = ctx.parent(node)
        group = _find(parent, "group") if parent is not None else None
        if parent is None or group is None or node.name not in (_names(_field(group.value, "arrays", "vars")) or []):
            return []
        if group.in_attributes:
            where, key, cause = "its attributes have", "_nczarr_array", "a rewrite of all the attributes drops it"
        else:
            key = "_NCZARR_ARRAY" if group.generation == "a" else "_nczarr_array"
            where, cause = "its .zarray has", ("zarr-python drops it whenever it rewrites .zarray: on any change "
                                               "through it, attributes, a resize, an xarray append")
        return [Issue(Severity.ERROR, f"variable {node.name!r} is declared in {group.key} of {parent.path!r} but "
                      f"{where} no {key} (its dimension references; {cause}): netCDF-C fails on the whole file "
                      f"(\"NCZarr error\"); put {key} back, or rewrite the store with netCDF-C", node.path, "",
                      CONVENTION, ".zattrs" if group.in_attributes else ".zarray")]

    @staticmethod
    def _issue(severity: Severity, message: str, node: Node, found: _Found, *parts: str | int) -> Issue:
        ptr, doc = found.pointer(node, *parts)
        return Issue(severity, message, node.path, ptr, CONVENTION, doc)

    def _validate_group(self, node: Node, group: _Found, ctx: Context) -> list[Issue]:
        if not isinstance(group.value, dict):
            return [self._issue(Severity.ERROR, f"{group.key} is {group.value!r}, expected an object", node, group)]
        issues: list[Issue] = []
        dims_key = _dims_key(group.value)
        _, problems = _parse_dimensions(group.value.get(dims_key))
        issues.extend(self._issue(Severity.ERROR, f"{group.key}.{dims_key}: {p}", node, group, dims_key)
                      for p in problems)
        declared: list[str] = []
        for key in (("arrays" if "arrays" in group.value else "vars"), "groups"):
            value = group.value.get(key)
            if value is None:
                continue
            names = _names(value)
            if names is None:
                issues.append(self._issue(Severity.ERROR, f"{group.key}.{key} is {value!r}, expected a list of names",
                                          node, group, key))
            else:
                declared.extend(names)
        if declared:
            present = {c.name for c in ctx.children(node.path)}
            if present:
                missing = [n for n in declared if n not in present]
                if missing:
                    issues.append(self._issue(Severity.WARNING, f"{group.key} declares {missing}, which are not in "
                                              "the store", node, group))
                undeclared = sorted(present - set(declared))
                if undeclared:
                    issues.append(self._issue(Severity.WARNING, f"children {undeclared} are not declared in "
                                              f"{group.key}; netCDF-C will not see them", node, group))
        return issues

    def _validate_array(self, node: Node, array: _Found, ctx: Context) -> list[Issue]:
        if not isinstance(array.value, dict):
            return [self._issue(Severity.ERROR, f"{array.key} is {array.value!r}, expected an object", node, array)]
        assert node.array is not None
        issues: list[Issue] = []
        key = "dimension_references" if "dimension_references" in array.value else "dimrefs"
        raw = array.value.get(key)
        refs = _names(raw)
        scalar = _is_scalar(array)
        shape = node.array.shape
        if raw is not None and refs is None:
            return [self._issue(Severity.ERROR, f"{array.key}.{key} is {raw!r}, expected a list of dimension names",
                                node, array, key)]
        refs = refs or []
        issues.extend(self._attribute_types(node))
        if scalar:
            if refs:
                issues.append(self._issue(Severity.ERROR, f"scalar variable has dimension references {refs}; a "
                                          "netCDF scalar has none", node, array, key))
            if shape != (1,):
                issues.append(self._issue(Severity.ERROR, f"scalar variable has shape {list(shape)}; NCZarr stores "
                                          "scalars with shape [1]", node, array))
            return issues
        if node.attributes.get("_ARRAY_DIMENSIONS") == ["_scalar_"]:
            issues.append(self._issue(Severity.WARNING, "_ARRAY_DIMENSIONS is ['_scalar_'] but the NCZarr array has "
                                      "no scalar marker", node, array))
        if len(refs) != len(shape):
            issues.append(self._issue(Severity.ERROR, f"{len(refs)} dimension references {refs} for an array with "
                                      f"{len(shape)} dimensions {list(shape)}", node, array, key))
            return issues
        for axis, (ref, size) in enumerate(zip(refs, shape, strict=True)):
            problem = _resolve(ref, size, ctx)
            if problem:
                issues.append(self._issue(Severity.ERROR, f"dimension reference {ref!r} (axis {axis}): {problem}",
                                          node, array, key, axis))
        return issues


    def _attribute_types(self, node: Node) -> list[Issue]:
        """Attributes holding the variable's own values typed otherwise than the variable."""
        attr = _find(node, "attr")
        types = _field(attr.value, "types") if attr is not None else None
        dtype = _variable_dtype(node)
        if attr is None or not isinstance(types, dict) or dtype is None:
            return []
        issues = []
        for name in VARIABLE_TYPED:
            declared = types.get(name)
            if name not in node.attributes or not isinstance(declared, str) or declared[1:] == dtype[1:]:
                continue
            if attribute_type_clash(node.attributes[name], declared, upper=attr.key.isupper()) is not None:
                continue  # reported with what netCDF-C makes of it
            if name == "_FillValue":
                severity, consequence = Severity.ERROR, "netCDF-C refuses it when the data is read or copied " \
                                                        "(\"_FillValue type mismatch\")"
            else:
                severity, consequence = Severity.WARNING, "CF wants it in the variable's type"
            issues.append(self._issue(severity, f"attribute {name} is typed {declared} but the variable is {dtype}: "
                                      f"{consequence}", node, attr, "types", name))
        return issues


def _variable_dtype(node: Node) -> str | None:
    """The v2 ``.zarray`` dtype of an array node (``<f4``), the type of its variable-typed attributes."""
    main = node.documents.get(".zarray")
    dtype = main.value.get("dtype") if main is not None and isinstance(main.value, dict) else None
    return dtype if isinstance(dtype, str) and len(dtype) >= 3 else None


CHAR_49 = ("netCDF-C 4.9 char variable: dtype '<U1' with 1 byte per character in its chunks, where a '<U1' item "
           "takes 4: zarr-python and xarray fail when they read its values (\"size must be a divisor of the total "
           "size\"), and netCDF-C 4.10 refuses the whole file (\"NCZarr error\"); only netCDF-C 4.9 (ncdump) reads it. "
           "With its dtype set to '|S1' in .zarray, zarr-python, xarray and netCDF-C 4.10 read it, but 4.9 no longer "
           "does (it crashes)")
"""The warning on a ``<U1`` char variable netCDF-C before 4.9.2 wrote (4.9.2 and later write ``>S1``)."""


def _netcdf_49_char(node: Node, ctx: Context) -> bool:
    """Whether *node* is a char variable netCDF-C 4.9.0/4.9.1 wrote: ``<U1`` holding 1 byte per
    character.  Known without reading a chunk from its NCZarr metadata in upper case (which
    those versions write) or, in ``mode=zarr`` output, from the version in ``_NCProperties``."""
    dtype = _variable_dtype(node)
    if dtype is None or dtype[1:] != "U1" or node.zarr_format != 2:
        return False
    if "_NCZARR_ARRAY" in (node.documents[".zarray"].value or {}):
        return True
    version = _netcdf_version(node, ctx)
    return version is not None and version < (4, 9, 2)


def _netcdf_version(node: Node, ctx: Context) -> tuple[int, ...] | None:
    """The netCDF-C version in the nearest ``_NCProperties`` at or above *node* (``(4, 9, 0)``)."""
    current: Node | None = node
    while current is not None:
        text = parse_ncproperties(current.attributes.get("_NCProperties")).get("netcdf")
        if text is not None:
            found = re.match(r"^(\d+)\.(\d+)(?:\.(\d+))?", text)
            return tuple(int(n) for n in found.groups(default="0")) if found else None
        current = ctx.parent(current)
    return None


def _written_by_netcdf(node: Node, ctx: Context) -> bool:
    """Whether *node* belongs to what netCDF-C wrote: it or an ancestor carries NCZarr keys or
    ``_NCProperties`` (written in ``mode=zarr`` too)."""
    current: Node | None = node
    while current is not None:
        if isinstance(current.attributes.get("_NCProperties"), str) or any(
                _find(current, part) is not None for part in ("superblock", "group", "array")):
            return True
        current = ctx.parent(current)
    return False


def _unreadable(value: JSON, *, typed: bool) -> str | None:
    """Why netCDF-C cannot read an attribute holding *value* (None: it can), as netCDF-C 4.9.0
    (``ncdump``) and 4.10 (the netCDF4 wheel) behave.  *typed*: the store declares attribute types
    (``_nczarr_attr`` / ``_NCZARR_ATTR``), where an object would need ``|J0``, which neither reads
    for an attribute; without types (``mode=zarr``) an object is read as its JSON text."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object (NCZarr has no attribute type netCDF-C reads for it)" if typed else None
    if not isinstance(value, list):
        return None
    if not value:
        return "an empty list"
    if any(isinstance(v, dict | list) or v is None for v in value):
        return "a list holding objects, lists or nulls"
    if len({isinstance(v, str) for v in value}) > 1:
        return "a list mixing text and numbers"
    if isinstance(value[0], str):
        return "a list of strings (netCDF-C reads no text list from zarr)"
    return None


WHOLE_FILE = "ncdump and every netCDF reader then fail on the whole file"


@dataclass(frozen=True, slots=True)
class TypeClash:
    """An attribute value its declared NCZarr type contradicts.

    ``problem`` says how (``"text ('K') typed '<f8' (a float type)"``); ``misread`` is what
    netCDF-C reads instead (``"0"``), or None when it cannot read the attribute and so fails on
    the whole file; ``note`` adds how it fails.
    """

    problem: str
    misread: str | None = None
    note: str = ""


_Kind = Literal["int", "uint", "float", "char", "string"]


@dataclass(frozen=True, slots=True)
class _AttributeType:
    kind: _Kind
    size: int


_TYPE = re.compile(r"^[<>|]?([A-Za-z])(\d+)")
_UPPER_TYPE = re.compile(r"^[<>|]([A-Za-z])(\d+)")
_LEADING_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_NUMERIC: dict[tuple[str, int], _Kind] = {
    ("i", 1): "int", ("i", 2): "int", ("i", 4): "int", ("i", 8): "int", ("u", 1): "uint", ("u", 2): "uint",
    ("u", 4): "uint", ("u", 8): "uint", ("f", 4): "float", ("f", 8): "float"}
_FLOAT_NAMES = frozenset({"nan", "infinity", "-infinity"})
_FLOAT32_MAX = 3.4028234663852886e38
_KIND_WORDS = {"int": "an integer type", "uint": "an unsigned integer type", "float": "a float type",
               "char": "char, netCDF text", "string": "a netCDF string type"}


def _attribute_type(nc_type: str, *, upper: bool) -> _AttributeType | None:
    """The netCDF type netCDF-C reads the NCZarr attribute type *nc_type* as, or None if it knows none.

    The lower-case generations (netCDF-C ≥ 4.9.2, 4.10) write char as ``>S1`` (``|S1``, ``<S1`` and
    ``|Sn`` are strings); the upper-case one (4.9.0) writes ``<U1`` and knows no ``S``.  Both know
    ``i``/``u`` of 1, 2, 4, 8 bytes and ``f`` of 4 and 8 (``ncz_dtype2nctype``, ``ncz_dtype2typeinfo``).
    """
    found = (_UPPER_TYPE if upper else _TYPE).match(nc_type)
    if found is None:
        return None
    code, size = found.group(1), int(found.group(2))
    if code == ("U" if upper else "S"):
        if upper:
            return _AttributeType("char", 1) if size == 1 else None
        return _AttributeType("char" if nc_type.startswith(">") and size == 1 else "string", size)
    kind = _NUMERIC.get((code, size))
    return _AttributeType(kind, size) if kind is not None else None


def attribute_type_clash(value: JSON, nc_type: str, *, upper: bool = False) -> TypeClash | None:
    """How netCDF-C fails on or misreads attribute *value* declared as NCZarr type *nc_type*.

    Parameters
    ----------
    value
        The attribute's JSON value (null, objects, empty and mixed lists are not judged here).
    nc_type
        Its entry in ``_nczarr_attr.types`` (``"<f8"``, ``">S1"``...).
    upper
        The types are in the upper-case ``_NCZARR_ATTR`` of netCDF-C 4.9.0 (char is ``<U1``),
        which only 4.9 reads (4.10 reads that generation as plain Zarr).

    Returns
    -------
    TypeClash or None
        None when netCDF-C reads the value as it is, as netCDF-C 4.9.0 (``ncdump``) and 4.10
        (the netCDF4 wheel) were seen to: an unknown type, text typed as a number (4.9 reads a
        leading number) and numbers typed as a string make them fail on the whole file (4.10
        aborts on text), and so do integers outside the type's range; a fraction in an integer
        type is dropped (``scale_factor: 0.01`` typed ``<i2`` reads 0), a number typed ``>S1`` is
        read as its first character (4.9 fails on one typed ``<U1``).
    """
    declared = _attribute_type(nc_type, upper=upper)
    if declared is None:
        hint = ""
        if nc_type[1:2] in ("S", "U"):
            hint = " (4.9.0 writes char as '<U1' there)" if upper else " (4.10 writes char as '>S1')"
        where = "in an upper-case _NCZARR_ATTR" if upper else "in _nczarr_attr"
        return TypeClash(f"typed {nc_type!r}, which is no type netCDF-C knows {where}{hint}")
    items = value if isinstance(value, list) else [value]
    typed = f"typed {nc_type!r} ({_KIND_WORDS[declared.kind]})"
    if declared.kind in ("char", "string"):
        if isinstance(value, str) or (isinstance(value, bool) and declared.kind == "char" and not upper):
            return None  # (netCDF-C 4.10 writes the text "true" as true, typed >S1, and reads back '1')
        if declared.kind == "string" or upper:
            return TypeClash(f"{_shown(value)} {typed}")
        if isinstance(value, list):
            return TypeClash(f"a list {typed}", f"the text {json.dumps(value, separators=(',', ':'))!r}")
        return TypeClash(f"{_shown(value)} {typed}", f"the text {str(value)[:1]!r}, its first character")
    numbers: list[int | float] = []
    for item in items:
        if isinstance(item, str):
            if declared.kind == "float" and item.lower() in _FLOAT_NAMES:
                continue
            leading = _LEADING_NUMBER.match(item) if upper else None
            if leading is None:
                return TypeClash(f"text ({_shown(item)}) {typed}", note="" if upper else " (4.10 aborts the program)")
            text = leading.group(0)
            numbers.append(float(text) if "." in text or "e" in text.lower() else int(text))
        elif isinstance(item, int | float):
            numbers.append(int(item) if isinstance(item, bool) else item)
    for number in numbers:
        if declared.kind == "float":
            if declared.size == 4 and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
                return TypeClash(f"{_shown(value)}, beyond the float32 range, {typed}", "infinity")
            continue
        bits = 8 * declared.size
        low, high = (0, 2**bits - 1) if declared.kind == "uint" else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        if not low <= number <= high:
            return TypeClash(f"{_shown(value)}, outside the range [{low}, {high}], {typed}")
    if declared.kind != "float" and any(isinstance(n, float) and not n.is_integer() for n in numbers):
        read = [math.trunc(n) for n in numbers]
        return TypeClash(f"{_shown(value)} {typed}", f"{read if isinstance(value, list) else read[0]} (the fraction "
                         "dropped)")
    return None


def nczarr_type(value: JSON, *, text: str = ">S1") -> str:
    """The NCZarr type netCDF-C should read *value* as: *text* (``>S1``; ``<U1`` in the upper-case
    generation netCDF-C 4.9.0 writes) for strings, ``|u1`` booleans (netCDF-C reads ``true`` as
    1UB), ``<i8`` (``<u8`` above its range)/``<f8`` numbers, ``|J0`` (JSON) else — which netCDF-C
    cannot read: the NCZarr validation refuses such values."""
    items = value if isinstance(value, list) and value else [value]
    if all(isinstance(v, str) for v in items) and not isinstance(value, list):
        return text
    if isinstance(value, bool) or (isinstance(value, list) and value and all(isinstance(v, bool) for v in value)):
        return "|u1"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        if all(-(2**63) <= v < 2**63 for v in items):
            return "<i8"
        if all(0 <= v < 2**64 for v in items):
            return "<u8"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        return "<f8"
    return "|J0"


def _shown(value: JSON, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


VARIABLE_TYPED = ("_FillValue", "missing_value", "valid_min", "valid_max", "valid_range")
"""Attributes that hold values of the variable itself, in its type (netCDF-C, CF)."""


def _resolve(ref: str, size: int, ctx: Context) -> str | None:
    """Why the FQN *ref* does not name a dimension of length *size*, or None."""
    if not ref.startswith("/") or ref.endswith("/"):
        return "not a fully qualified name such as '/x' or '/group/x'"
    group_path, _, name = ref.rpartition("/")
    group_path = group_path or "/"
    group_node = ctx.node(group_path)
    if group_node is None or not group_node.is_group:
        return f"group {group_path!r} does not exist"
    group = _find(group_node, "group")
    if group is None:
        return f"group {group_path!r} has no NCZarr group metadata"
    dims, _ = _parse_dimensions(_field(group.value, "dimensions", "dims"))
    by_name = {d.name: d for d in dims}
    dim = by_name.get(name)
    if dim is None:
        return f"group {group_path!r} defines no dimension {name!r} (it defines {sorted(by_name)})"
    if dim.size != size and dim.unlimited:
        where = f"{group.key}.{_dims_key(group.value)} of {group_path!r}"
        aside = " (4.9 reads this generation as plain Zarr, without its NCZarr dimensions)" if group.in_attributes else ""
        return (f"dimension {name!r} is unlimited with size {dim.size} in {where} but the array has {size} on "
                "this axis: netCDF-C 4.10 refuses the whole file (\"Invalid dimension size\"): every array on an "
                f"unlimited dimension must have the dimension's size{aside}; after an append or a resize, set the "
                "size there to the arrays' common length")
    if dim.size != size:
        return f"dimension {name!r} has size {dim.size} but the array has {size} on this axis"
    return None
