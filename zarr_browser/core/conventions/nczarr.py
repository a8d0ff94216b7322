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

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from zarr_browser.core.conventions.base import BaseConvention, Context, Detection, DimensionSource, attributes_pointer
from zarr_browser.core.issues import Issue, Severity, pointer
from zarr_browser.core.jsonio import JSON

if TYPE_CHECKING:
    from zarr_browser.core.model import Node

__all__ = ["NczarrConvention", "parse_ncproperties"]

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
        return issues

    def _unreadable_attributes(self, node: Node) -> list[Issue]:
        """Attribute values netCDF-C cannot read: it then fails on the whole file, not on the
        attribute (``ncdump``: "NetCDF: Invalid argument"), so an edit must not write them."""
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
                                    "ncdump and every netCDF reader then fail on the whole file", node.path, ptr,
                                    CONVENTION, where))
        return issues

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
        main = node.documents.get(".zarray")
        dtype = main.value.get("dtype") if main is not None and isinstance(main.value, dict) else None
        if attr is None or not isinstance(types, dict) or not isinstance(dtype, str) or len(dtype) < 3:
            return []
        issues = []
        for name in VARIABLE_TYPED:
            declared = types.get(name)
            if name not in node.attributes or not isinstance(declared, str) or declared[1:] == dtype[1:]:
                continue
            if name == "_FillValue":
                severity, consequence = Severity.ERROR, "netCDF-C refuses it when the data is read or copied " \
                                                        "(\"_FillValue type mismatch\")"
            else:
                severity, consequence = Severity.WARNING, "CF wants it in the variable's type"
            issues.append(self._issue(severity, f"attribute {name} is typed {declared} but the variable is {dtype}: "
                                      f"{consequence}", node, attr, "types", name))
        return issues


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
