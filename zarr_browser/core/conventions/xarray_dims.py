"""xarray's zarr encoding: named dimensions on arrays, datasets on groups.

xarray reads an array's dimension names from v3 ``dimension_names``, else the v2
``_ARRAY_DIMENSIONS`` attribute, else (read mode only) the basenames of the oldest NCZarr
``.zarray["_NCZARR_ARRAY"]["dimrefs"]`` (see :func:`xarray_dimension_names`).

Group detection
---------------
:meth:`XarrayConvention.detect` must be pure on the node, and a group's own documents do not
say what its children are - except for the consolidated copy ``xarray.Dataset.to_zarr`` writes
by default.  So a group is detected as an xarray ``"dataset"`` when its consolidated metadata
(v3 inline ``consolidated_metadata``, or a v2 ``.zmetadata`` document among the node's
documents) lists at least one direct child array and *every* direct child array carries
dimension names.  A group written with ``consolidated=False`` (or by a writer that does not
consolidate) is detected by :meth:`~XarrayConvention.detect_with_children` by the same rule
applied to its listed children, where the caller can list them (workers, ``info``);
:meth:`~XarrayConvention.validate` checks dimension sizes through the context for any group with
child arrays that carry dimension names.  An OME-NGFF image is never a dataset: its levels share
dimension names with different sizes (xarray cannot open it as one).  ``Conventions``/
``_NCProperties`` are not used: they say CF or netCDF-C, not that xarray can open the group.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zarr_browser.core.conventions.base import BaseConvention, Context, Detection, DimensionSource, attributes_pointer
from zarr_browser.core.dimensions import UNNAMED
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import JSON

if TYPE_CHECKING:
    import numpy as np

    from zarr_browser.core.model import Node

__all__ = ["XarrayConvention", "coordinate_names", "is_multiscale_image", "is_ome_group", "xarray_dimension_names"]

logger = logging.getLogger(__name__)

CONVENTION = "xarray"
ARRAY_DIMENSIONS = "_ARRAY_DIMENSIONS"


def _str_list(value: JSON) -> tuple[str, ...] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def xarray_dimension_names(node: Node) -> tuple[tuple[str | None, ...], str] | None:
    """The dimension names xarray would give array *node*, and where they come from, or None."""
    if node.array is None:
        return None
    if node.zarr_format == 3:
        if node.array.dimension_names is None:
            # xarray writes no dimension_names for a 0-d variable (a CF crs, a scalar)
            return ((), "v3 (0-d, no dimensions)") if node.array.ndim == 0 else None
        return node.array.dimension_names, "v3 dimension_names"
    names = _str_list(node.attributes.get(ARRAY_DIMENSIONS))
    if names is not None:
        return names, ARRAY_DIMENSIONS
    zarray = node.documents.get(".zarray")
    meta = zarray.value if zarray is not None and isinstance(zarray.value, dict) else {}
    nczarr = meta.get("_NCZARR_ARRAY")
    refs = _str_list(nczarr.get("dimrefs")) if isinstance(nczarr, dict) else None
    if refs is not None:
        return tuple(r.rsplit("/", 1)[-1] for r in refs), "NCZarr _NCZARR_ARRAY.dimrefs"
    return None


def _has_xarray_marker(node: Node) -> bool:
    """Whether a v3 array carries what xarray writes with its variables (CF attributes, _FillValue)."""
    from zarr_browser.core.conventions.cf import CF_ATTRIBUTES

    return any(key in CF_ATTRIBUTES for key in node.attributes)


def coordinate_names(attributes: Mapping[str, JSON]) -> list[str]:
    """The names listed in a CF ``coordinates`` attribute (space-separated), or []."""
    value = attributes.get("coordinates")
    return value.split() if isinstance(value, str) else []


def _consolidated_children(node: Node) -> dict[str, Mapping[str, JSON]] | None:
    """Direct child arrays of a group, from its consolidated copy: name → facts, or None."""
    return dict(_iter_consolidated_children(node)) if _has_consolidated_copy(node) else None


def _has_consolidated_copy(node: Node) -> bool:
    doc = node.documents.get("zarr.json")
    if doc is not None and isinstance(doc.value, dict):
        block = doc.value.get("consolidated_metadata")
        return isinstance(block, dict) and isinstance(block.get("metadata"), dict)
    zmeta = node.documents.get(".zmetadata")
    return zmeta is not None and isinstance(zmeta.value, dict) and isinstance(zmeta.value.get("metadata"), dict)


def _lists_dataset(node: Node) -> bool:
    """Whether consolidated metadata lists *node* as a dataset: as its hierarchy decided, or
    from the node's own consolidated copy where none did (a node built alone)."""
    if node.consolidated_dataset is not None:
        return node.consolidated_dataset
    return _is_consolidated_dataset(node)


def _is_consolidated_dataset(node: Node) -> bool:
    """Whether the consolidated copy lists child arrays, all with dimension names.

    Stops at the first array without names: detection runs on the GUI thread, and a root may
    list 10,000 arrays.
    """
    if not _has_consolidated_copy(node):
        return False
    found = False
    for _name, facts in _iter_consolidated_children(node):
        if not isinstance(facts["dims"], list):
            return False
        found = True
    return found


def _iter_consolidated_children(node: Node) -> Iterator[tuple[str, Mapping[str, JSON]]]:
    doc = node.documents.get("zarr.json")
    if doc is not None and isinstance(doc.value, dict):
        block = doc.value.get("consolidated_metadata")
        if not isinstance(block, dict) or not isinstance(block.get("metadata"), dict):
            return
        for rel, meta in block["metadata"].items():
            if isinstance(rel, str) and "/" not in rel and isinstance(meta, dict) and meta.get("node_type") == "array":
                dims = meta.get("dimension_names")
                if dims is None and meta.get("shape") == []:
                    dims = []  # a 0-d variable: xarray writes no dimension_names
                yield rel, {"dims": dims}
        return
    zmeta = node.documents.get(".zmetadata")
    if zmeta is None or not isinstance(zmeta.value, dict) or not isinstance(zmeta.value.get("metadata"), dict):
        return
    entries = zmeta.value["metadata"]
    for key in entries:
        if isinstance(key, str) and key.count("/") == 1 and key.endswith("/.zarray"):
            name = key.split("/", 1)[0]
            attrs = entries.get(f"{name}/.zattrs")
            yield name, {"dims": attrs.get(ARRAY_DIMENSIONS) if isinstance(attrs, dict) else None}


class XarrayConvention(BaseConvention):
    """xarray datasets and variables: dimension names, sizes and coordinates."""

    name = CONVENTION
    title = "xarray"

    def detect(self, node: Node) -> Detection | None:
        """Variables (arrays with dimension names) and consolidated datasets (groups)."""
        if node.is_array:
            found = xarray_dimension_names(node)
            if found is None:
                return None
            if found[1] != ARRAY_DIMENSIONS and node.zarr_format == 3 and not _has_xarray_marker(node):
                return None  # v3 names alone are core zarr (OME pyramid levels have them too), as is a 0-d array
            return _variable(node, found[0])
        if node.is_group and not is_multiscale_image(node) and (
                _lists_dataset(node)):
            return Detection(CONVENTION, None, ("dataset",))
        return None

    def detect_with_children(self, node: Node, children: Callable[[], Sequence[Node]]) -> Detection | None:
        """Also a group whose listed child arrays all carry dimension names (no consolidated copy)."""
        found = self.detect(node)
        if found is not None or not node.is_group or node.kind == "error" or is_ome_group(node):
            return found  # an OME image, plate, well or labels group is never a dataset: no listing
        arrays = [child for child in children() if child.is_array]
        if arrays and all(_named(child) for child in arrays):
            return Detection(CONVENTION, None, ("dataset",))
        return None

    def detect_with_parent(self, node: Node, parent: Node | None) -> Detection | None:
        """Also a v3 array with named dimensions and no attributes in a group that is no OME image.

        xarray writes ``dimension_names`` on every v3 variable, and CF attributes only when the
        variable has some, so a plain integer variable (or an index coordinate) carries
        nothing but its names - as its v2 twin carries nothing but ``_ARRAY_DIMENSIONS``.
        Pyramid levels of an OME-NGFF image carry names too; their parent tells them apart.
        """
        found = self.detect(node)
        if found is not None or parent is None or not parent.is_group or node.zarr_format != 3:
            return found
        if node.array is not None and node.array.ndim == 0:  # a scalar variable of a dataset
            return _variable(node, ()) if self.detect(parent) is not None else None
        names = node.array.dimension_names if node.array is not None else None
        if not names or all(n is None for n in names) or is_multiscale_image(parent):
            return None
        return _variable(node, names)

    def dimensions(self, node: Node, parent: Node | None) -> DimensionSource | None:
        """The ``_ARRAY_DIMENSIONS`` attribute of a v2 array.

        xarray never reads it on a v3 array (only ``dimension_names``), so there it names no
        dimensions; :meth:`validate` says so.
        """
        if node.array is None or node.zarr_format == 3:
            return None
        value = node.attributes.get(ARRAY_DIMENSIONS)
        if not isinstance(value, list):
            return None
        names = tuple(v if isinstance(v, str) else None for v in value)
        ptr, doc = attributes_pointer(node, ARRAY_DIMENSIONS)
        return DimensionSource(CONVENTION, ARRAY_DIMENSIONS, names, pointer=ptr, document=doc)

    # -- description ---------------------------------------------------------------------
    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        """Dims, variables and coordinates of a group (those it inherits in a DataTree too); dims
        of an array.

        A group's coordinates are its arrays named like a dimension, those a variable's
        ``coordinates`` attribute names, and those the group's own ``coordinates`` attribute
        names (where xarray writes the coordinates no variable uses).  In a DataTree a group also
        has the index coordinates of its ancestors, and their dimensions, as
        ``tree[path].to_dataset()`` shows: they are listed with ``"inherited_from"``, the
        ancestor's path.
        """
        if node.is_array:
            found = xarray_dimension_names(node)
            if found is None or node.array is None:
                return {}
            names, source = found
            return {"dims": list(names), "source": source, "shape": list(node.array.shape),
                    "coordinates": coordinate_names(node.attributes)}
        arrays = [c for c in ctx.children(node.path) if c.is_array]
        dims: dict[str, int] = {}
        variables: dict[str, JSON] = {}
        auxiliary = set(coordinate_names(node.attributes))
        for child in arrays:
            found = xarray_dimension_names(child)
            if found is None or child.array is None:
                continue
            for name, size in zip(found[0], child.array.shape, strict=False):
                if name is not None:
                    dims.setdefault(name, size)
            auxiliary.update(coordinate_names(child.attributes))
            variables[child.name] = _variable_facts(child, found[0])
        coords = [n for n in variables if n in dims or n in auxiliary]
        data_variables = [n for n in variables if n not in coords]
        for ancestor in _tree_ancestors(node, ctx):
            for name, index in ancestor.dims.indexes.items():
                if name in variables or index.array is None:
                    continue  # the group's own variable of that name wins (xarray aligned them)
                dims.setdefault(name, index.array.shape[0])
                variables[name] = {**_variable_facts(index, (name,)), "inherited_from": ancestor.group.path}
                coords.append(name)
        return {"dims": dims, "coordinates": coords, "data_variables": data_variables, "variables": variables}

    # -- validation ----------------------------------------------------------------------
    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """``_ARRAY_DIMENSIONS`` shape rules, arrays xarray finds no names for, ``coordinates``
        names, per-group dimension sizes."""
        if node.is_array:
            return self._validate_array(node, ctx)
        if node.is_group:
            return self._validate_group(node, ctx)
        return []

    def _validate_array(self, node: Node, ctx: Context) -> list[Issue]:
        issues: list[Issue] = []
        assert node.array is not None
        ndim = node.array.ndim
        if ARRAY_DIMENSIONS in node.attributes and node.zarr_format != 3:  # v3: not read (see below)
            value = node.attributes[ARRAY_DIMENSIONS]
            ptr, doc = attributes_pointer(node, ARRAY_DIMENSIONS)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                issues.append(Issue(Severity.ERROR, f"{ARRAY_DIMENSIONS} is {value!r}, expected a list of strings",
                                    node.path, ptr, CONVENTION, doc))
            else:
                if len(value) != ndim:
                    hint = ""
                    severity = Severity.ERROR
                    if not value and node.array.shape == (1,):
                        # valid NCZarr (netCDF reads it as a scalar): xarray's problem, not the store's
                        hint = (" (a netCDF scalar as older netCDF-C writes it to NCZarr, which netCDF reads; "
                                "newer netCDF-C writes ['_scalar_'])")
                        severity = Severity.WARNING
                    issues.append(Issue(severity, f"{ARRAY_DIMENSIONS} {value} has {len(value)} names but the "
                                        f"array has {ndim} dimensions {list(node.array.shape)}; xarray cannot open "
                                        f"it{hint}", node.path, ptr, CONVENTION, doc))
                duplicates = sorted({v for v in value if value.count(v) > 1})
                if duplicates:
                    issues.append(Issue(Severity.WARNING, f"{ARRAY_DIMENSIONS} repeats {duplicates}; dimension "
                                        "names should be unique within an array", node.path, ptr, CONVENTION, doc))
        if xarray_dimension_names(node) is None:
            issues.extend(_check_unnamed(node, ctx))
        elif node.zarr_format == 3:
            issues.extend(_check_null_names(node, ctx))
            if ARRAY_DIMENSIONS in node.attributes:
                issues.extend(_check_v3_array_dimensions(node))
        if "coordinates" in node.attributes and xarray_dimension_names(node) is not None:
            issues.extend(_check_coordinates(node, ctx))
        return issues

    def _validate_group(self, node: Node, ctx: Context) -> list[Issue]:
        if is_multiscale_image(node):
            return []  # pyramid levels share dimension names with different sizes by design
        # An error where xarray is clearly meant (a consolidated dataset, or the xarray-only
        # _ARRAY_DIMENSIONS attribute); v3 dimension_names alone are core zarr: a warning.
        children = list(ctx.children(node.path))
        severity = Severity.ERROR if _meant_for_xarray(node, children) else Severity.WARNING
        seen: dict[str | None, tuple[int, str]] = {}
        reported: set[str | None] = set()
        issues: list[Issue] = []
        for child in children:
            found = xarray_dimension_names(child) if child.is_array else None
            if found is None or child.array is None or len(found[0]) != child.array.ndim:
                continue
            for name, size in zip(found[0], child.array.shape, strict=True):
                first = seen.setdefault(name, (size, child.name))  # None too: xarray's name for a v3 null
                if first[0] != size and name not in reported:
                    reported.add(name)
                    which = repr(name) if name is not None else "None (null in dimension_names)"
                    issues.append(Issue(severity,
                                        f"conflicting sizes for dimension {which}: {first[0]} in array "
                                        f"{first[1]!r} but {size} in array {child.name!r}; xarray cannot open "
                                        "this group as one dataset", node.path, "", CONVENTION, ""))
        arrays = [c for c in children if c.is_array]
        if arrays and not is_ome_group(node) and all(_named(a) for a in arrays):
            issues.extend(_check_tree_alignment(node, arrays, ctx))
        return issues


def _variable_facts(array: Node, names: Sequence[str | None]) -> dict[str, JSON]:
    """What the dataset table shows of a variable."""
    assert array.array is not None
    return {
        "dims": list(names),
        "shape": list(array.array.shape),
        "dtype": array.array.dtype,
        "units": array.attributes.get("units"),
        "decoded_dtype": array.attributes.get("dtype"),  # xarray's own: timedelta64[...] durations
        "long_name": array.attributes.get("long_name"),
        "calendar": array.attributes.get("calendar"),
    }


def _variable(node: Node, names: tuple[str | None, ...]) -> Detection:
    roles: tuple[str, ...] = ("variable",)
    if len(names) == 1 and names[0] == node.name:
        roles = ("variable", "coordinate")
    return Detection(CONVENTION, None, roles)


def _named(node: Node) -> bool:
    """Whether xarray finds dimension names for array *node*: one per axis, some of them strings (a
    v3 null is the name None to xarray, but an array with nothing but nulls is no sign of it)."""
    found = xarray_dimension_names(node)
    if found is None or node.array is None or len(found[0]) != node.array.ndim:
        return False
    return not found[0] or any(isinstance(name, str) for name in found[0])


_OME_KEYS = frozenset({"ome", "multiscales", "plate", "well", "labels", "image-label", "omero",
                       "bioformats2raw.layout"})


def is_ome_group(node: Node) -> bool:
    """A group with OME-NGFF metadata (an image, plate, well, labels or bioformats2raw group)."""
    return not _OME_KEYS.isdisjoint(node.attributes)


def is_multiscale_image(node: Node) -> bool:
    """An OME-NGFF image group (0.4 top-level or 0.5 ``ome`` multiscales list)."""
    attrs = node.attributes
    ome = attrs.get("ome")
    multiscales = ome.get("multiscales") if isinstance(ome, dict) else attrs.get("multiscales")
    return isinstance(multiscales, list)


def _meant_for_xarray(group: Node, children: Sequence[Node]) -> bool:
    """Whether *group* was clearly written for xarray: a consolidated dataset, an array with the
    xarray-only ``_ARRAY_DIMENSIONS`` attribute, or a v3 variable with CF attributes.

    What xarray refuses there is an error; in a group of arrays with v3 ``dimension_names``
    alone (core zarr, which many writers add) it is a warning.
    """
    if _lists_dataset(group):
        return True
    return any(_marks_xarray(child) for child in children if child.is_array)


def _names_list(names: Sequence[str], limit: int = 3) -> str:
    """``'a', 'b', 'c' and 2 more``: some names of a list, quoted."""
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass(frozen=True, slots=True)
class _Siblings:
    """The arrays of a group as :func:`_check_unnamed` weighs them, worked out once per group."""

    count: int
    """Children in the listing it was worked out from."""
    named: tuple[Node, ...]
    """Arrays xarray finds dimension names for."""
    markers: frozenset[str]
    """Paths of the arrays that show the group was written for xarray (:func:`_meant_for_xarray`)."""
    consolidated: bool


def _siblings(ctx: Context, parent: Node) -> _Siblings:
    """The arrays of *parent*, kept on *ctx* for the next array of the same group: each array
    weighed all its siblings, and validating a group of 5,000 arrays took 4.5 minutes (25 M
    checks; audit H, 2).  A context lives for one validation (or description) run; within it a
    listing of another length is worked out again."""
    listing = ctx.children(parent.path)
    cache: dict[str, _Siblings] | None = getattr(ctx, "_xarray_siblings", None)
    if cache is None:
        cache = {}
        with contextlib.suppress(AttributeError):  # a context without a __dict__: nothing kept
            ctx._xarray_siblings = cache  # type: ignore[attr-defined]
    found = cache.get(parent.path)
    if found is not None and found.count == len(listing):
        return found
    arrays = [c for c in listing if c.is_array]
    named = tuple(c for c in arrays if xarray_dimension_names(c) is not None)
    markers = frozenset(c.path for c in arrays if _marks_xarray(c))
    found = _Siblings(len(listing), named, markers,
                      _lists_dataset(parent))
    cache[parent.path] = found
    return found


def _marks_xarray(child: Node) -> bool:
    """Whether array *child* shows its group was written for xarray (see :func:`_meant_for_xarray`)."""
    return ARRAY_DIMENSIONS in child.attributes or (
        child.zarr_format == 3 and xarray_dimension_names(child) is not None and _has_xarray_marker(child))


def _check_unnamed(node: Node, ctx: Context) -> list[Issue]:
    """An array xarray finds no dimension names for, next to xarray variables.

    xarray opens a group by reading every array in it, and one without names fails the whole
    group (``KeyError: Zarr object is missing the attribute _ARRAY_DIMENSIONS`` / ``the
    dimension_names metadata``) - ``open_datatree`` too, for the whole tree.  On v3 an
    ``_ARRAY_DIMENSIONS`` attribute does not help: xarray reads only ``dimension_names``.
    """
    assert node.array is not None
    ndim = node.array.ndim
    value = node.attributes.get(ARRAY_DIMENSIONS)
    v3_attribute = node.zarr_format == 3 and ARRAY_DIMENSIONS in node.attributes
    parent = ctx.parent(node)
    group = _siblings(ctx, parent) if parent is not None and parent.is_group and not is_ome_group(parent) else None
    named = [c.name for c in group.named if c.path != node.path] if group is not None else []
    if not named and not v3_attribute:
        return []  # a plain zarr array among plain arrays: nothing says xarray is meant
    per_axis = f"one name per axis ({ndim})" if ndim else "[] (a 0-d array has no axes)"
    note = ""
    if node.zarr_format == 3:
        missing = "has no dimension_names"
        ptr, doc = attributes_pointer(node, ARRAY_DIMENSIONS) if v3_attribute else ("", "zarr.json")
        names = _str_list(value) if v3_attribute else None
        fix = (f"write dimension_names {list(names)} in zarr.json" if names is not None and len(names) == ndim
               else f"write dimension_names with {per_axis} in zarr.json")
        if v3_attribute:
            note = (f" (its {ARRAY_DIMENSIONS} attribute {value!r} is not read on zarr v3: xarray takes dimension "
                    "names from dimension_names only)")
    else:
        missing = f"has no {ARRAY_DIMENSIONS} attribute"
        ptr, doc = "", ".zattrs"
        fix = f"add {ARRAY_DIMENSIONS} with {per_axis}, as xarray writes it"
    if not named:
        return [Issue(Severity.WARNING, f"array {node.name!r} {missing}{note}: xarray cannot open it, nor the group "
                      f"that holds it; {fix}", node.path, ptr, CONVENTION, doc)]
    assert parent is not None and group is not None
    meant = group.consolidated or bool(group.markers - {node.path})
    severity = Severity.ERROR if meant else Severity.WARNING
    others = ("the other array" if len(named) == 1 else "the other arrays") + f" of group {parent.path!r}"
    are = "is an xarray variable" if len(named) == 1 else "are xarray variables"
    return [Issue(severity, f"array {node.name!r} {missing}{note}, while {others} ({_names_list(named)}) {are}: "
                  f"xarray cannot open group {parent.path!r} at all, because of this array; {fix}",
                  node.path, ptr, CONVENTION, doc)]


# -- DataTree: a group and its ancestors --------------------------------------------------------

INDEX_VALUES_LIMIT = 10_000
"""Index coordinates up to this length are read to compare a group's with its ancestors'; longer
ones are compared by size only."""

_DECODING_ATTRIBUTES = ("units", "calendar", "scale_factor", "add_offset", "_FillValue", "missing_value",
                        "_Unsigned", "_Encoding", "dtype")
"""Attributes that change the values xarray decodes from the stored ones."""


@dataclass(frozen=True, slots=True)
class _GroupDims:
    """The dimensions xarray opens a group with: sizes (the first array's) and index coordinates."""

    sizes: dict[str, int]
    indexes: dict[str, Node]

    @classmethod
    def of(cls, arrays: Sequence[Node]) -> _GroupDims:
        sizes: dict[str, int] = {}
        indexes: dict[str, Node] = {}
        for array in arrays:
            found = xarray_dimension_names(array)
            if found is None or array.array is None or len(found[0]) != array.array.ndim:
                continue
            for name, size in zip(found[0], array.array.shape, strict=True):
                if name is not None:
                    sizes.setdefault(name, size)
            if found[0] == (array.name,):  # a 1-D variable named like its dimension: xarray indexes it
                indexes[array.name] = array
        return cls(sizes, indexes)


@dataclass(frozen=True, slots=True)
class _Ancestor:
    """An ancestor group of a DataTree group: its arrays and what xarray opens it with."""

    group: Node
    arrays: list[Node]
    dims: _GroupDims


def _tree_ancestors(node: Node, ctx: Context) -> Iterator[_Ancestor]:
    """The ancestors of group *node* a DataTree opened at the store's root holds, nearest first.

    Stops below the first one xarray cannot open as a dataset (an OME-NGFF group, an array
    without dimension names): no DataTree holds both it and *node*, and one opened below it
    (``open_datatree(group=...)``) does not reach further up.
    """
    parent = ctx.parent(node)
    while parent is not None and parent.is_group and parent.kind != "error" and not is_ome_group(parent):
        arrays = [c for c in ctx.children(parent.path) if c.is_array]
        if not all(_named(a) for a in arrays):
            return
        yield _Ancestor(parent, arrays, _GroupDims.of(arrays))
        parent = ctx.parent(parent)


def _written_by_netcdf(node: Node, ctx: Context) -> bool:
    """Whether *node* or an ancestor carries netCDF-C's marks (``_NCProperties``, NCZarr group keys)."""
    from zarr_browser.core.conventions.zarr_core import NCZARR_GROUP_KEYS

    current: Node | None = node
    while current is not None:
        zgroup = current.documents.get(".zgroup")
        zgroup_keys = zgroup.value if zgroup is not None and isinstance(zgroup.value, dict) else {}
        if "_NCProperties" in current.attributes or not NCZARR_GROUP_KEYS.isdisjoint(
                [*current.attributes, *zgroup_keys]):
            return True
        current = ctx.parent(current)
    return False


def _check_tree_alignment(node: Node, arrays: Sequence[Node], ctx: Context) -> list[Issue]:
    """A group's dimensions against those of its ancestors, as ``xarray.open_datatree`` aligns them.

    In a DataTree a group inherits its ancestors' dimensions and index coordinates, so a
    dimension must have the size the nearest ancestor holding it gives it, and an index
    coordinate the values of the nearest ancestor's index of that name (same size, other values
    fail too).  Otherwise ``open_datatree`` refuses the whole tree ("group '/child' is not
    aligned with its parents"), although ``open_zarr(group=...)`` opens each group alone.
    Sizes need no I/O; index values are read when both indexes are at most
    :data:`INDEX_VALUES_LIMIT` long and stored alike (the same decoding attributes), and not
    compared when they cannot be read.  In a store netCDF-C wrote, where a subgroup may define
    its own dimension of a name its parent has, it is only information.
    """
    own = _GroupDims.of(arrays)
    if not own.sizes:
        return []
    ancestors = list(_tree_ancestors(node, ctx))
    issues: list[Issue] = []
    netcdf: bool | None = None
    for dim, size in own.sizes.items():
        found = _misalignment(node, dim, size, own, ancestors, ctx)
        if found is None:
            continue
        problem, fix, ancestor = found
        if netcdf is None:
            netcdf = _written_by_netcdf(node, ctx)
        if netcdf:  # netCDF gives a subgroup its own dimension of a name: a valid file, said for xarray's users
            severity = Severity.INFO
            advice = "netCDF lets a subgroup define its own dimension of a name, a DataTree does not"
        else:
            meant = _meant_for_xarray(node, arrays) and _meant_for_xarray(ancestor.group, ancestor.arrays)
            severity = Severity.ERROR if meant else Severity.WARNING
            advice = f"rename the dimension in one of the groups, or {fix}"
        issues.append(Issue(severity, f"{problem}: xarray.open_datatree refuses the whole tree (\"group "
                            f"{node.path!r} is not aligned with its parents\": a DataTree group shares its "
                            f"ancestors' dimensions and index coordinates); {advice} (open_zarr(group=...) opens "
                            "each group alone)", node.path, "", CONVENTION, ""))
    return issues


def _misalignment(node: Node, dim: str, size: int, own: _GroupDims, ancestors: Sequence[_Ancestor],
                  ctx: Context) -> tuple[str, str, _Ancestor] | None:
    """Why dimension *dim* of group *node* does not align with its nearest ancestor holding it:
    (the problem, how to fix it, that ancestor), or None when it aligns (or cannot be told)."""
    holder = next((a for a in ancestors if dim in a.dims.sizes), None)
    if holder is None:
        return None
    if holder.dims.sizes[dim] != size:
        return (f"dimension {dim!r} has size {size} in group {node.path!r} but {holder.dims.sizes[dim]} in its "
                f"ancestor group {holder.group.path!r}", "make the sizes agree", holder)
    indexed = next((a for a in ancestors if dim in a.dims.indexes), None) if dim in own.indexes else None
    if indexed is None:
        return None  # an index on one side only aligns, as long as the sizes agree
    difference = _index_difference(own.indexes[dim], indexed.dims.indexes[dim], ctx)
    if difference is None:
        return None
    return (f"index coordinate {dim!r} of group {node.path!r} has the size it has in its ancestor group "
            f"{indexed.group.path!r} ({size}) but other values ({difference} in {indexed.group.path!r})",
            "give both the same values", indexed)


def _index_difference(ours: Node, theirs: Node, ctx: Context) -> str | None:
    """Where two index coordinates of the same length differ (``"at position 0: 10 here, 1"``),
    or None when they are equal or cannot be compared (too long, stored otherwise, unreadable)."""
    if _decoding(ours) != _decoding(theirs):
        return None  # e.g. days and hours since a date: the decoded times may still be equal
    mine = ctx.read_values(ours, max_elements=INDEX_VALUES_LIMIT)
    other = ctx.read_values(theirs, max_elements=INDEX_VALUES_LIMIT) if mine is not None else None
    if mine is None or other is None or mine.shape != other.shape:
        return None
    position = _first_difference(mine, other)
    if position is None:
        return None
    return f"at position {position}: {_value_text(mine[position])} here, {_value_text(other[position])}"


def _decoding(node: Node) -> tuple[object, ...]:
    """What turns stored values into xarray's: the decoding attributes, and v2's mask value."""
    fill = node.array.fill_value if node.zarr_format == 2 and node.array is not None else None
    return (node.zarr_format, fill, *(node.attributes.get(key) for key in _DECODING_ATTRIBUTES))


def _first_difference(ours: np.ndarray, theirs: np.ndarray) -> int | None:
    """The first position where two 1-D arrays of one length differ (NaN and NaT equal to
    themselves, 1 equal to 1.0, as pandas compares indexes), or None."""
    import numpy as np

    numbers = "biufc"
    if (ours.dtype.kind in numbers) != (theirs.dtype.kind in numbers):
        return 0  # numbers against text: no value is equal
    try:
        same = np.asarray(ours == theirs, dtype=bool)
    except (TypeError, ValueError):  # types numpy cannot compare element by element
        return 0
    if same.shape != ours.shape:
        return 0
    for kind, missing in (("fc", np.isnan), ("mM", np.isnat)):
        if ours.dtype.kind in kind and theirs.dtype.kind in kind:
            same |= missing(ours) & missing(theirs)
    different = np.flatnonzero(~same)
    return int(different[0]) if different.size else None


def _value_text(value: object) -> str:
    """A value of an index as a user reads it: ``10``, ``'a'`` (not ``np.int64(10)``)."""
    item = getattr(value, "item", None)
    return repr(item() if callable(item) else value)


def _check_null_names(node: Node, ctx: Context) -> list[Issue]:
    """Null entries in v3 ``dimension_names`` of an array that names other axes (or carries CF
    attributes): xarray opens it with a dimension named None, which no ``sel``/``isel`` reaches."""
    names = node.array.dimension_names if node.array is not None else None
    if not names or None not in names:
        return []
    if all(n is None for n in names) and not _has_xarray_marker(node):
        return []  # a plain array with no names at all: nothing says xarray is meant
    parent = ctx.parent(node)
    if parent is not None and is_multiscale_image(parent):
        return []  # OME-NGFF checks that dimension_names match the axes
    axes = [i for i, n in enumerate(names) if n is None]
    which = f"axis {axes[0]}" if len(axes) == 1 else "axes " + ", ".join(map(str, axes))
    return [Issue(Severity.WARNING, f"dimension_names {json.dumps(list(names), ensure_ascii=False)} has no name for {which} (null): xarray names "
                  f"{'this dimension' if len(axes) == 1 else 'these dimensions'} None, which cannot be selected "
                  "by name; give every axis a name", node.path, "/dimension_names", CONVENTION, "zarr.json")]


def _check_v3_array_dimensions(node: Node) -> list[Issue]:
    """A v3 array with ``dimension_names`` and an ``_ARRAY_DIMENSIONS`` attribute that says otherwise."""
    assert node.array is not None and node.array.dimension_names is not None
    value = node.attributes.get(ARRAY_DIMENSIONS)
    names = list(node.array.dimension_names)
    if value == names:
        return []  # a copy some writers add: harmless (xarray shows it as an ordinary attribute)
    ptr, doc = attributes_pointer(node, ARRAY_DIMENSIONS)
    return [Issue(Severity.WARNING, f"{ARRAY_DIMENSIONS} {value!r} differs from dimension_names {names}: on zarr v3 "
                  f"xarray reads only dimension_names and shows {ARRAY_DIMENSIONS} as an ordinary attribute; "
                  "remove the attribute (or make it match)", node.path, ptr, CONVENTION, doc)]


def _check_coordinates(node: Node, ctx: Context) -> list[Issue]:
    """The ``coordinates`` attribute of a variable: names of arrays in its group whose dimensions
    are among the variable's (CF; xarray takes any of them as a coordinate of the whole dataset)."""
    parent = ctx.parent(node)
    if parent is None:
        return []
    value = node.attributes.get("coordinates")
    ptr, doc = attributes_pointer(node, "coordinates")
    if not isinstance(value, str):
        return [Issue(Severity.WARNING, f"coordinates is {value!r}, expected a space-separated string of names",
                      node.path, ptr, CONVENTION, doc)]
    siblings = {c.name: c for c in ctx.children(parent.path)}
    issues: list[Issue] = []
    missing = [n for n in value.split() if n not in siblings]
    if missing:
        issues.append(Issue(Severity.WARNING, f"coordinates names {missing} that are not arrays in group "
                            f"{parent.path!r}", node.path, ptr, CONVENTION, doc))
    found = xarray_dimension_names(node)
    own = set(found[0]) if found is not None else set()
    for name in dict.fromkeys(value.split()):
        coordinate = siblings.get(name)
        dims = xarray_dimension_names(coordinate) if coordinate is not None and coordinate.is_array else None
        if dims is None or set(dims[0]) <= own:
            continue
        others = [d for d in dims[0] if d not in own]
        which = f"dimension {others[0]!r}" if len(others) == 1 else f"dimensions {others}"
        shown = ", ".join(UNNAMED if d is None else d for d in found[0]) if found else ""
        issues.append(Issue(Severity.WARNING, f"coordinates names {name!r}, which has {which} that this variable "
                            f"({shown}) does not have: CF requires a coordinate's dimensions to be among its "
                            "variable's (xarray accepts it, as a coordinate of the whole dataset); remove it from "
                            "coordinates, or name it in the group's coordinates attribute, as xarray writes it",
                            node.path, ptr, CONVENTION, doc))
    return issues
