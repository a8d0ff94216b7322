"""Convention edits: each builds one consistent :class:`~zarr_browser.core.editing.commands.Batch`.

The builders read the session's *working* state and return a batch of keyed commands; apply it
with :meth:`EditSession.apply` (one undo step).  They raise
:class:`~zarr_browser.core.editing.commands.EditError` when the edit would be inconsistent.

* OME-NGFF: :func:`ome_rename_axis` (0.5: also every level's ``dimension_names``),
  :func:`ome_set_pixel_size` (every level's scale, keeping the level factors),
  :func:`ome_add_omero` and :func:`ome_match_channels` (one ``omero`` channel per index of the
  channel axis), :func:`ome_set_channels`.
* xarray: :func:`xarray_set_dimension_names`, :func:`xarray_dims_from_ome_axes`,
  :func:`xarray_rename_dimension` (every array of a dataset and its child groups; on NCZarr the
  netCDF dimension too).
* NCZarr: :func:`nczarr_set_attribute` / :func:`nczarr_delete_attribute` keeping
  ``_nczarr_attr.types`` consistent; :func:`nczarr_type_updates` is what the session runs after
  any attribute edit on an NCZarr node.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

from zarr_browser.core.conventions.nczarr import (
    VARIABLE_TYPED,
    attribute_type_clash,
    dimension_references,
    group_dimension_names,
    group_dimensions,
    nczarr_type,
)
from zarr_browser.core.conventions.xarray_dims import (
    coordinate_names,
    is_multiscale_image,
    is_ome_group,
    xarray_dimension_names,
)
from zarr_browser.core.editing.commands import (
    Batch,
    Command,
    Delete,
    EditError,
    ReadOnlyFieldError,
    Rename,
    SetValue,
    attributes_location,
    format_pointer,
    is_protected_attribute,
    same,
)
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import JSON, finite_number
from zarr_browser.core.model import Node, join_path, key_prefix, parent_path
from zarr_browser.errors import ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import Context
    from zarr_browser.core.editing.session import EditSession

__all__ = [
    "AXIS_TYPES",
    "CF_ENCODING",
    "DimensionRename",
    "DimensionUse",
    "default_channel_colours",
    "default_window",
    "dtype_range",
    "fill_value_read_only",
    "lost_index_coordinates",
    "nczarr_delete_attribute",
    "nczarr_set_attribute",
    "nczarr_type",
    "nczarr_type_updates",
    "ome_add_omero",
    "ome_channel_axis",
    "ome_channel_count",
    "ome_match_channels",
    "ome_namespace",
    "ome_rename_axis",
    "ome_set_axes",
    "ome_set_channels",
    "ome_set_label_colors",
    "ome_set_label_properties",
    "ome_set_pixel_size",
    "ome_set_plate_names",
    "ome_set_translation",
    "ome_set_units",
    "plan_dimension_rename",
    "set_attributes",
    "set_cf_attributes",
    "xarray_dims_from_ome_axes",
    "xarray_group_dimensions",
    "xarray_rename_dimension",
    "xarray_set_dimension_names",
]


def _attr_set(node: Node, parts: Sequence[str | int], value: JSON) -> Command:
    key, where = attributes_location(node, format_pointer(parts))
    return SetValue(where, value, key=key)


# -- OME-NGFF ---------------------------------------------------------------------------------


def _ome(node: Node, multiscale: int) -> tuple[list[str | int], str | None, dict[str, JSON]]:
    """Pointer parts to ``multiscales[i]``, the version, and the multiscale itself."""
    attrs = node.attributes
    ome = attrs.get("ome")
    if isinstance(ome, dict) and "multiscales" in ome:
        prefix: list[str | int] = ["ome"]
        ns: Mapping[str, JSON] = ome
        version = ome.get("version")
    else:
        prefix, ns = [], attrs
        version = None
    multiscales = ns.get("multiscales")
    if not isinstance(multiscales, list) or not (0 <= multiscale < len(multiscales)):
        raise EditError(f"{node.path} has no OME-NGFF multiscales[{multiscale}]")
    ms = multiscales[multiscale]
    if not isinstance(ms, dict):
        raise EditError(f"{node.path}: multiscales[{multiscale}] is not an object")
    if version is None:
        version = ms.get("version") if isinstance(ms.get("version"), str) else None
    if isinstance(version, str) and version.startswith("0.6"):
        raise ReadOnlyFieldError(f"{node.path}: OME-NGFF {version} is read-only until 0.6 is final")
    return [*prefix, "multiscales", multiscale], version if isinstance(version, str) else None, ms


def _axes(ms: Mapping[str, JSON], path: str) -> list[dict[str, JSON]]:
    axes = ms.get("axes")
    if not isinstance(axes, list) or not all(isinstance(a, dict) for a in axes):
        raise EditError(f"{path}: the multiscale has no list of axis objects (OME-NGFF < 0.4?)")
    return axes


def _axis_index(axes: Sequence[Mapping[str, JSON]], axis: str | int, path: str) -> int:
    if isinstance(axis, int):
        if not 0 <= axis < len(axes):
            raise EditError(f"{path}: axis index {axis} out of range ({len(axes)} axes)")
        return axis
    for index, entry in enumerate(axes):
        if entry.get("name") == axis:
            return index
    raise EditError(f"{path}: no axis named {axis!r}")


def _datasets(ms: Mapping[str, JSON], path: str) -> list[tuple[int, dict[str, JSON]]]:
    datasets = ms.get("datasets")
    if not isinstance(datasets, list):
        raise EditError(f"{path}: the multiscale has no datasets")
    return [(i, d) for i, d in enumerate(datasets) if isinstance(d, dict)]


def _level_node(session: EditSession, image: str, dataset: Mapping[str, JSON]) -> Node | None:
    rel = dataset.get("path")
    if not isinstance(rel, str) or not rel:
        return None
    path = image
    for part in rel.strip("/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            return None
        path = join_path(path, part)
    try:
        return session.load(path)
    except (EditError, KeyError, OSError):
        return None


def ome_rename_axis(
    session: EditSession, image: str, axis: str | int, new_name: str, *, multiscale: int = 0, labels: bool = False
) -> Batch:
    """Rename an axis of the OME-NGFF image at *image*.

    In 0.5 every level array's ``dimension_names`` is rewritten to the new axis names too.
    Refuses an empty name or one another axis already has.  With *labels*, the axis of the
    same name in each of the image's label images is renamed too (:func:`_labels_follow_axes`).
    """
    node = session.load(image)
    parts, version, ms = _ome(node, multiscale)
    axes = _axes(ms, image)
    index = _axis_index(axes, axis, image)
    if not isinstance(new_name, str) or not new_name:
        raise EditError("an axis name must be a non-empty string")
    if any(a.get("name") == new_name for i, a in enumerate(axes) if i != index):
        raise EditError(f"{image}: another axis is already named {new_name!r}")
    commands: list[Command] = [_attr_set(node, [*parts, "axes", index, "name"], new_name)]
    if version == "0.5":
        names = [a.get("name") if i != index else new_name for i, a in enumerate(axes)]
        commands.extend(_level_dimension_names(session, image, ms, names))
    batch = Batch(commands, label=f"rename axis {axes[index].get('name')!r} → {new_name!r} in {image}")
    if not labels:
        return batch
    changed = {str(axes[index].get("name")): {**axes[index], "name": new_name}}
    return _labels_follow_axes(session, image, batch, changed)


def _labels_follow_axes(session: EditSession, image: str, batch: Batch,
                        changed: Mapping[str, Mapping[str, JSON]]) -> Batch:
    """*batch* (an axis edit of *image*) followed by the same edit of its label images: each
    label axis named like a key of *changed* (an image axis's old name) takes that axis's new
    name, type and unit, so the labels keep matching the image (audit J, 4: only pixel size and
    origin followed).  A label image left with two axes of one name is refused."""
    followers: list[Command] = [batch]
    for label in ome_label_images(session, image):
        node = session.load(label)
        _parts, _version, ms = _ome(node, 0)
        label_axes = _axes(ms, label)
        if not any(str(a.get("name")) in changed for a in label_axes):
            continue
        wanted = []
        for axis in label_axes:
            new = changed.get(str(axis.get("name")))
            wanted.append({key: (new or axis).get(key) for key in ("name", "type", "unit")})
        try:
            followers.append(ome_set_axes(session, label, wanted))
        except EditError as err:
            raise EditError(f"the label image {label} cannot follow: {err}") from err
    if len(followers) == 1:
        return batch
    return Batch(followers, label=batch.label + " and its labels")


def _level_dimension_names(
    session: EditSession, image: str, ms: Mapping[str, JSON], names: Sequence[JSON]
) -> list[Command]:
    """0.5: commands giving every v3 level array of the multiscale these ``dimension_names``."""
    commands: list[Command] = []
    for _k, dataset in _datasets(ms, image):
        level = _level_node(session, image, dataset)
        if level is None or level.zarr_format != 3 or level.array is None:
            continue
        if level.array.ndim != len(names):
            raise EditError(f"{level.path} has {level.array.ndim} dimensions but the image has {len(names)} axes")
        commands.append(SetValue("/dimension_names", list(names), key=key_prefix(level.path) + "zarr.json"))
    return commands


def _clean(value: float) -> float | int:
    """Round away float noise (``0.30000000000000004`` → ``0.3``)."""
    cleaned = float(f"{value:.12g}")
    return cleaned


def _per_axis(
    session: EditSession, image: str, values: Mapping[str | int, float], what: str, multiscale: int,
    *, positive: bool = False,
) -> tuple[Node, list[str | int], list[dict[str, JSON]], list[tuple[int, dict[str, JSON]]], dict[int, float]]:
    """The image node, pointer parts, axes, datasets and per-axis numbers (checked) of a per-axis edit."""
    node = session.load(image)
    parts, _version, ms = _ome(node, multiscale)
    axes = _axes(ms, image)
    datasets = _datasets(ms, image)
    if not datasets:
        raise EditError(f"{image}: the multiscale has no datasets")
    targets: dict[int, float] = {}
    for axis, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
                or (positive and value <= 0):
            bound = " > 0" if positive else ""
            raise EditError(f"{what} for axis {axis!r} must be a finite number{bound}, got {value!r}")
        targets[_axis_index(axes, axis, image)] = float(value)
    return node, parts, axes, datasets, targets


def ome_set_pixel_size(
    session: EditSession,
    image: str,
    sizes: Mapping[str | int, float],
    unit: str | None = None,
    *,
    multiscale: int = 0,
    labels: bool = False,
) -> Batch:
    """Set the physical pixel size of level 0 on some axes, updating every level consistently.

    Each level keeps its factor relative to level 0 on each axis (``scale_k / scale_0``, or the
    shape ratio when level 0's scale is not positive): the new ``scale_k = size × factor``.
    Translations on those axes are rescaled by the same ratio.  *unit*, when given, becomes
    the ``unit`` of every axis in *sizes*.  With *labels*, the image's label images (its
    ``labels`` group) change by the same ratio on the axes of the same name, so that they stay
    on the image.
    """
    node, parts, axes, datasets, targets = _per_axis(session, image, sizes, "pixel size", multiscale, positive=True)
    gscale, _gtrans = multiscale_transform(_ome(node, multiscale)[2], len(axes))
    for j in targets:  # the size asked is physical: the multiscale's own scale applies after level 0's
        if gscale[j] <= 0:
            raise EditError(f"{image}: the multiscale's own scale for axis {axes[j].get('name', j)!r} is "
                            f"{gscale[j]!r}; a pixel size cannot be set through it")
        targets[j] = targets[j] / gscale[j]

    def vectors(dataset: Mapping[str, JSON]) -> tuple[int | None, list[float] | None, int | None, list[float] | None]:
        scale_at = trans_at = None
        scale = trans = None
        transforms = dataset.get("coordinateTransformations")
        if isinstance(transforms, list):
            for t_index, transform in enumerate(transforms):
                if not isinstance(transform, dict):
                    continue
                if transform.get("type") == "scale" and isinstance(transform.get("scale"), list):
                    scale_at, scale = t_index, list(transform["scale"])
                elif transform.get("type") == "translation" and isinstance(transform.get("translation"), list):
                    trans_at, trans = t_index, list(transform["translation"])
        return scale_at, scale, trans_at, trans

    level0 = vectors(datasets[0][1])
    if level0[1] is None or len(level0[1]) != len(axes):
        raise EditError(f"{image}: level 0 has no scale transform with {len(axes)} entries")
    scale0: list[float] = level0[1]
    shape0 = _shape(session, image, datasets[0][1])
    commands: list[Command] = []
    for k, dataset in datasets:
        scale_at, scale, trans_at, trans = vectors(dataset)
        if scale is None or scale_at is None or len(scale) != len(axes):
            raise EditError(f"{image}: datasets[{k}] has no scale transform with {len(axes)} entries")
        new_scale = list(scale)
        new_trans = list(trans) if trans is not None else None
        shape_k = _shape(session, image, dataset)
        for j, size in targets.items():
            old0 = scale0[j]
            if _finite(old0) and old0 > 0:
                factor = scale[j] / old0
            elif shape0 is not None and shape_k is not None and shape_k[j]:
                factor = shape0[j] / shape_k[j]
            else:
                factor = 1.0
            factor = round(factor, 9)
            new_scale[j] = _clean(size * factor)
            if new_trans is not None and j < len(new_trans) and isinstance(old0, int | float) and old0 > 0:
                new_trans[j] = _clean(new_trans[j] * size / old0)
        base = [*parts, "datasets", k, "coordinateTransformations"]
        if not same(new_scale, scale):
            commands.append(_attr_set(node, [*base, scale_at, "scale"], new_scale))
        if new_trans is not None and trans_at is not None and not same(new_trans, trans):
            commands.append(_attr_set(node, [*base, trans_at, "translation"], new_trans))
    if unit is not None:
        for j in targets:
            if axes[j].get("unit") != unit:
                commands.append(_attr_set(node, [*parts, "axes", j, "unit"], unit))
    names = ", ".join(str(axes[j].get("name", j)) for j in targets)
    batch = Batch(commands, label=f"set pixel size of {names} in {image}")
    if not labels:
        return batch
    ratios = {str(axes[j].get("name")): size / scale0[j] for j, size in targets.items()
              if isinstance(scale0[j], int | float) and not isinstance(scale0[j], bool) and scale0[j] > 0}
    followers: list[Command] = [batch]
    for label in ome_label_images(session, image):
        label_scale = _level0_by_name(session, label, "scale")  # (physical, as the sizes asked)
        sizes_of_label: dict[str | int, float] = {name: _clean(label_scale[name] * ratio)
                                                  for name, ratio in ratios.items()
                                                  if isinstance(label_scale.get(name), int | float)
                                                  and label_scale[name] > 0}
        if sizes_of_label:
            followers.append(ome_set_pixel_size(session, label, sizes_of_label, unit))
    return Batch(followers, label=batch.label + (" and its labels" if len(followers) > 1 else ""))


def ome_label_units(session: EditSession, image: str, axes: Sequence[Mapping[str, JSON]]) -> Batch:
    """Give the image's label images the units of *axes* (the image's axes as they will be) on
    the axes of the same name: a label image keeps measuring in the image's units."""
    units = {str(a.get("name")): a.get("unit") for a in axes if isinstance(a, Mapping)}
    commands: list[Command] = []
    for label in ome_label_images(session, image):
        try:
            node = session.load(label)
            parts, _version, ms = _ome(node, 0)
            label_axes = _axes(ms, label)
        except (EditError, ZarrBrowserError):
            continue
        for j, axis in enumerate(label_axes):
            name = str(axis.get("name"))
            if name not in units:
                continue
            unit, had = units[name] or None, axis.get("unit")  # "" (a form's empty field) is no unit
            if unit == had or (unit is None and "unit" not in axis):
                continue
            if unit is not None:
                commands.append(_attr_set(node, [*parts, "axes", j, "unit"], unit))
            else:
                key, where = attributes_location(node, format_pointer([*parts, "axes", j, "unit"]))
                commands.append(Delete(where, key=key))
    return Batch(commands, label=f"units of the labels of {image}")


def ome_label_images(session: EditSession, image: str) -> list[str]:
    """Paths of the label images an OME-NGFF image lists in its ``labels`` group (those that exist)."""
    labels_path = join_path(image, "labels")
    try:
        group = session.load(labels_path)
        _parts, ns = ome_namespace(group)
    except (EditError, ZarrBrowserError):
        return []
    names = ns.get("labels")
    out = []
    for name in names if isinstance(names, list) else []:
        if not isinstance(name, str) or not name or ".." in name.split("/"):
            continue
        try:
            session.load(join_path(labels_path, name))
        except (EditError, ZarrBrowserError):
            continue
        out.append(join_path(labels_path, name))
    return out


def multiscale_transform(ms: Mapping[str, JSON], n_axes: int) -> tuple[list[float], list[float]]:
    """The scale and translation of a multiscale's own ``coordinateTransformations``, which apply
    after every level's (ones and zeros where it has none, or a malformed one)."""
    scale, translation = [1.0] * n_axes, [0.0] * n_axes
    transforms = ms.get("coordinateTransformations")
    for transform in transforms if isinstance(transforms, list) else []:
        kind = transform.get("type") if isinstance(transform, dict) else None
        values = transform.get(kind) if isinstance(transform, dict) and isinstance(kind, str) else None
        if kind not in ("scale", "translation") or not isinstance(values, list) or len(values) != n_axes \
                or not all(_finite(v) for v in values):
            continue
        if kind == "scale":
            scale = [float(v) for v in values]
        else:
            translation = [float(v) for v in values]
    return scale, translation


def level0_in_world(ms: Mapping[str, JSON], kind: str) -> list[float] | None:
    """Level 0's pixel size (*kind* ``scale``) or origin (``translation``) in physical units: its
    own transform followed by the multiscale's (a level-0 scale of 1 under a multiscale scale of
    10 is a 10-unit pixel).  None when level 0 has no scale (no translation: origin 0); a vector
    that cannot be combined (other lengths, not numbers) as written."""
    datasets = ms.get("datasets")
    axes = ms.get("axes")
    if not isinstance(datasets, list) or not datasets or not isinstance(datasets[0], dict):
        return None
    own: list[JSON] | None = None
    transforms = datasets[0].get("coordinateTransformations")
    for transform in transforms if isinstance(transforms, list) else []:
        if isinstance(transform, dict) and transform.get("type") == kind and isinstance(transform.get(kind), list):
            own = transform[kind]
            break
    if own is None and kind == "translation" and isinstance(axes, list):
        own = [0.0] * len(axes)
    if own is None or not isinstance(axes, list) or len(own) != len(axes) or not all(_finite(v) for v in own):
        return own  # (as written: the form shows it, validation says what is wrong)
    gscale, gtrans = multiscale_transform(ms, len(axes))
    if kind == "scale":
        return [_clean(float(v) * g) for v, g in zip(own, gscale, strict=True)]
    return [_clean(float(v) * g + t) for v, g, t in zip(own, gscale, gtrans, strict=True)]


def _level0_by_name(session: EditSession, image: str, kind: str) -> dict[str, float]:
    """Level 0's *kind* (``scale`` or ``translation``) of an image in physical units (the
    multiscale's own transform applied), by axis name ({} when absent)."""
    try:
        _parts, _version, ms = _ome(session.load(image), 0)
        axes = _axes(ms, image)
    except (EditError, ZarrBrowserError):
        return {}
    values = level0_in_world(ms, kind)
    if values is None or len(values) != len(axes):
        return {}
    return {str(a.get("name")): v for a, v in zip(axes, values, strict=True) if _finite(v)}


def _shape(session: EditSession, image: str, dataset: Mapping[str, JSON]) -> tuple[int, ...] | None:
    level = _level_node(session, image, dataset)
    return level.array.shape if level is not None and level.array is not None else None


# -- xarray -----------------------------------------------------------------------------------


def _dims_command(node: Node, names: Sequence[str]) -> Command:
    if node.zarr_format == 3:
        return SetValue("/dimension_names", list(names), key=key_prefix(node.path) + "zarr.json")
    return _attr_set(node, ["_ARRAY_DIMENSIONS"], list(names))


def _current_dims(node: Node) -> list[str] | None:
    if node.array is None:
        return None
    if node.zarr_format == 3 and node.array.dimension_names is not None:
        names = list(node.array.dimension_names)
    else:
        raw = node.attributes.get("_ARRAY_DIMENSIONS")
        names = list(raw) if isinstance(raw, list) else []
    strings = [n for n in names if isinstance(n, str)]
    return strings if strings and len(strings) == len(names) else None


def xarray_set_dimension_names(
    session: EditSession, array: str, names: Sequence[str], *, check_group: bool = True
) -> Batch:
    """Set xarray's dimension names of *array* (v2 ``_ARRAY_DIMENSIONS``, v3 ``dimension_names``).

    Checked: one name per dimension, names unique non-empty strings, and (with *check_group*)
    one size per name across the arrays of the parent group.  On an NCZarr variable only the
    names its dimension references give are accepted (a repair): another name would be read by
    xarray alone, netCDF-C keeping the old one; :func:`xarray_rename_dimension` renames both.
    """
    node = session.load(array)
    if node.array is None:
        raise EditError(f"{array} is not an array")
    names = list(names)
    if len(names) != node.array.ndim:
        raise EditError(f"{array} has {node.array.ndim} dimensions, got {len(names)} names")
    if not all(isinstance(n, str) and n for n in names):
        raise EditError("dimension names must be non-empty strings")
    if len(set(names)) != len(names):
        raise EditError(f"dimension names must be unique, got {names}")
    refs = dimension_references(node)
    if refs is not None and isinstance(refs.value, list) and all(isinstance(r, str) for r in refs.value):
        netcdf = [r.rsplit("/", 1)[-1] for r in refs.value]
        if len(netcdf) == len(names) and netcdf != names:
            changed = next(i for i, (a, b) in enumerate(zip(netcdf, names, strict=True)) if a != b)
            parent = parent_path(array) or "/"
            raise EditError(f"{array} is an NCZarr variable: netCDF-C reads its dimensions from its NCZarr dimension "
                            f"references ({', '.join(refs.value)}), so changing the names xarray reads alone would "
                            f"make the two disagree; rename the dimension {netcdf[changed]!r} for both instead: "
                            f"select the group that defines it ({parent} or above), xarray tab, Rename dimension "
                            f"(zarr-browser edit --rename-dim)")
    if check_group:
        parent = array.rsplit("/", 1)[0] or "/"
        sizes = dict(zip(names, node.array.shape, strict=True))
        for sibling in _siblings(session, parent, array):
            dims = _current_dims(sibling)
            if dims is None or sibling.array is None or len(dims) != sibling.array.ndim:
                continue
            for dim, size in zip(dims, sibling.array.shape, strict=True):
                if dim in sizes and sizes[dim] != size:
                    raise EditError(
                        f"dimension {dim!r} would have size {sizes[dim]} in {array} but {size} in {sibling.path}"
                    )
    return Batch([_dims_command(node, names)], label=f"set dimension names of {array}")


def _siblings(session: EditSession, parent: str, exclude: str) -> list[Node]:
    try:
        listed = session.hierarchy.children(parent).nodes
    except (KeyError, OSError):
        return []
    out = []
    for child in listed:
        if child.path == exclude or not child.is_array:
            continue
        out.append(session.load(child.path) if child.path in session._loaded else child)
    return out


@dataclass(frozen=True, slots=True)
class DimensionUse:
    """A dimension of a dataset (a group): its size, the arrays on it, its index coordinate."""

    name: str
    size: int
    arrays: tuple[str, ...]
    coordinate: str | None
    """The path of the array named like the dimension, on it alone (xarray's index), or None."""


@dataclass(frozen=True, slots=True)
class DimensionRename:
    """What renaming dimension *old* to *new* in a dataset changes, checked
    (:func:`plan_dimension_rename`)."""

    group: str
    old: str
    new: str
    arrays: tuple[str, ...]
    """Arrays whose dimension names change (the group's, and its child groups')."""
    coordinates: tuple[str, ...]
    """Index coordinates of *old* (arrays named like it, on it alone) that become data variables."""
    merged: tuple[str, ...] = ()
    """Arrays on *new* already: the two dimensions become one."""
    nczarr: str | None = None
    """The NCZarr dimension renamed (``/x``), with its references; None outside NCZarr."""

    def notes(self) -> list[str]:
        """What the user should know before applying it, in plain words."""
        shown = ", ".join(self.arrays[:6]) + (f" and {len(self.arrays) - 6} more" if len(self.arrays) > 6 else "")
        out = [f"Renames {self.old!r} to {self.new!r} in {len(self.arrays)} "
               f"array{'s' if len(self.arrays) != 1 else ''}: {shown}."]
        if self.nczarr is not None:
            out.append(f"NCZarr: the netCDF dimension {self.nczarr} is renamed too (its group's dimensions and "
                       "every dimension reference), so netCDF-C and xarray read the same name.")
        for path in self.coordinates:
            name = path.rsplit("/", 1)[-1]
            out.append(f"The array {name!r} ({path}) is the index coordinate of {self.old!r}. A metadata edit cannot "
                       f"rename an array: it stays {name!r}, on dimension {self.new!r}, and xarray then shows it as a "
                       f"data variable; {self.new!r} has no coordinate.")
        if self.merged:
            out.append(f"{self.new!r} is a dimension already ({', '.join(self.merged[:4])}): both become one.")
        return out


def _working(session: EditSession, path: str) -> Node:
    """The working node at *path*: the session's when its documents are loaded (edited maybe), else
    the store's (reading it costs a listing at most; loading 100,000 arrays' documents to show a
    group's dimensions would not do)."""
    return session.node(path) if session.is_loaded(path) else session.hierarchy.node(path)


def _listing(session: EditSession, group: str) -> tuple[list[Node], list[Node]]:
    """The working child arrays and child groups of *group* (see :func:`_working`)."""
    try:
        listed = session.hierarchy.children(group).nodes
    except (KeyError, OSError, ZarrBrowserError):
        return [], []
    arrays, groups = [], []
    for child in listed:
        if child.kind == "error":
            continue
        node = session.node(child.path) if session.is_loaded(child.path) else child
        if node.is_array:
            arrays.append(node)
        elif node.is_group:
            groups.append(node)
    return arrays, groups


def _dataset_groups(session: EditSession, group: str, *, descendants: bool,
                    ome: bool = False) -> list[tuple[Node, list[Node]]]:
    """*group* and (with *descendants*) the groups below it, each with its arrays, breadth first.

    xarray's DataTree gives a child group its ancestors' dimensions: a dimension renamed in a
    group is renamed in its child groups too, or they would keep the old one (without the
    index coordinate they inherited).  OME-NGFF groups and what is below them are left out
    (with *ome*, kept: NCZarr references follow netCDF, not xarray).
    """
    root = _working(session, group)
    out: list[tuple[Node, list[Node]]] = []
    queue = [root]
    while queue:
        node = queue.pop(0)
        arrays, groups = _listing(session, node.path)
        out.append((node, arrays))
        if descendants:
            queue.extend(g for g in groups if ome or not is_ome_group(g))
    return out


def xarray_group_dimensions(session: EditSession, group: str, *, descendants: bool = True) -> list[DimensionUse]:
    """The dimensions the arrays of *group* use (and, with *descendants*, its child groups'),
    by name: the size the first array gives each, the arrays, the group's index coordinate."""
    out: dict[str, tuple[int, list[str], str | None]] = {}
    for node, arrays in _dataset_groups(session, group, descendants=descendants):
        for array in arrays:
            found = xarray_dimension_names(array)
            if found is None or array.array is None or len(found[0]) != array.array.ndim:
                continue
            for name, size in zip(found[0], array.array.shape, strict=True):
                if not isinstance(name, str):
                    continue
                size0, paths, _index = out.setdefault(name, (size, [], None))
                if array.path not in paths:
                    paths.append(array.path)
                if node.path == group and found[0] == (array.name,):
                    out[name] = (size0, paths, array.path)
    return [DimensionUse(name, size, tuple(paths), index) for name, (size, paths, index) in out.items()]


def _check_new_name(new: str, old: str) -> None:
    if not isinstance(new, str) or not new.strip():
        raise EditError("the new dimension name must be a non-empty string")
    if new != new.strip():
        raise EditError(f"the new dimension name {new!r} starts or ends with a space")
    if new == old:
        raise EditError(f"the dimension is named {old!r} already")


def plan_dimension_rename(session: EditSession, group: str, old: str, new: str, *,
                          descendants: bool = True) -> DimensionRename:
    """Check renaming dimension *old* to *new* in the dataset at *group* and say what it changes.

    Every array of the group on *old* is renamed, and (with *descendants*) those of its child
    groups, which share it in a DataTree.  On NCZarr the netCDF dimension is renamed: the
    group's ``_nczarr_group`` dimensions and every dimension reference to it, with
    ``_ARRAY_DIMENSIONS``.  Refused (EditError): an unknown dimension, a new name an array or
    the group uses with another size (or, on NCZarr, at all), an OME-NGFF image (its axes form
    renames axes), an NCZarr dimension defined in an ancestor group.
    """
    group = "/" + group.strip("/")
    _check_new_name(new, old)
    node = _working(session, group)
    if not node.is_group:
        raise EditError(f"{group} is not a group: rename a dimension on the group holding the dataset")
    if is_multiscale_image(node):
        raise EditError(f"{group} is an OME-NGFF image: rename its axes in the OME-NGFF form")
    if group_dimensions(node) is not None or _nczarr_arrays(session, group):
        return _plan_nczarr_rename(session, node, old, new)
    renamed: list[str] = []
    coordinates: list[str] = []
    merged: list[str] = []
    for holder, arrays in _dataset_groups(session, group, descendants=descendants):
        sizes: dict[str, tuple[int, str]] = {}
        for array in arrays:
            found = xarray_dimension_names(array)
            if found is None or array.array is None or len(found[0]) != array.array.ndim:
                continue
            names = [new if n == old else n for n in found[0]]
            if old in found[0]:
                if new in found[0]:
                    raise EditError(f"{array.path} has both {old!r} and {new!r}: renaming would give it {new!r} twice")
                renamed.append(array.path)
                if found[0] == (old,) and array.name == old:
                    coordinates.append(array.path)
            elif new in found[0]:
                merged.append(array.path)
            for name, size in zip(names, array.array.shape, strict=True):
                first = sizes.setdefault(str(name), (size, array.path))
                if name == new and first[0] != size:
                    raise EditError(f"{new!r} would have size {first[0]} in {first[1]} but {size} in {array.path} "
                                    f"(group {holder.path})")
    if not renamed:
        raise EditError(f"no array of {group}{' or its child groups' if descendants else ''} has a dimension {old!r}")
    return DimensionRename(group, old, new, tuple(renamed), tuple(coordinates), tuple(merged))


def _nczarr_arrays(session: EditSession, group: str) -> bool:
    """Whether an array of *group* has NCZarr dimension references."""
    arrays, _groups = _listing(session, group)
    return any(dimension_references(a) is not None for a in arrays)


def _plan_nczarr_rename(session: EditSession, node: Node, old: str, new: str) -> DimensionRename:
    """The NCZarr rename: the dimension *node* defines, and every reference to it below."""
    group = node.path
    if "/" in new:
        raise EditError(f"an NCZarr (netCDF) dimension name cannot hold '/': {new!r}")
    dims = group_dimensions(node)
    defined = group_dimension_names(dims.value) if dims is not None else []
    if old not in defined:
        ancestor = parent_path(group)
        while ancestor is not None:
            above = group_dimensions(_working(session, ancestor))
            if above is not None and old in group_dimension_names(above.value):
                raise EditError(f"the NCZarr dimension {old!r} of the arrays of {group} is defined in group "
                                f"{ancestor} ({join_path(ancestor, old)}), which shares it with its own arrays: "
                                f"rename it there")
            ancestor = parent_path(ancestor)
        raise EditError(f"group {group} defines no NCZarr dimension {old!r} (it defines {defined})")
    assert dims is not None
    if new in defined:
        raise EditError(f"group {group} defines an NCZarr dimension {new!r} already: netCDF cannot give two "
                        "dimensions of a group one name")
    if dims.generation in ("a", "b") and session.consolidated_key is not None:
        raise EditError(f"this NCZarr store (generation {dims.generation}: its dimensions are in .zgroup and "
                        f".zarray) has a consolidated copy ({session.consolidated_key}), which copies only "
                        "attributes when saved here: the rename would leave it stale; rename the dimension with a "
                        "netCDF tool instead (NCO's ncrename, netCDF4-python's renameDimension)")
    fqn = join_path(group, old)
    renamed: list[str] = []
    coordinates: list[str] = []
    for holder, arrays in _dataset_groups(session, group, descendants=True, ome=True):
        for array in arrays:
            refs = dimension_references(array)
            names = xarray_dimension_names(array)
            if refs is not None and isinstance(refs.value, list):
                if fqn not in refs.value:
                    continue
            elif holder.path != group or names is None or old not in names[0]:
                continue  # not NCZarr: only the group's own arrays on the name follow
            renamed.append(array.path)
            if names is not None and names[0] == (old,) and array.name == old:
                coordinates.append(array.path)
            if names is not None and new in names[0]:
                raise EditError(f"{array.path} has both {old!r} and {new!r}: renaming would give it {new!r} twice")
    if not renamed:
        raise EditError(f"no array refers to the NCZarr dimension {fqn}")
    return DimensionRename(group, old, new, tuple(renamed), tuple(coordinates), (), fqn)


def xarray_rename_dimension(session: EditSession, group: str, old: str, new: str, *,
                            descendants: bool = True) -> Batch:
    """Rename dimension *old* to *new* in the dataset at *group*, as one edit.

    See :func:`plan_dimension_rename` for what is renamed and refused.  Arrays keep their
    names: an index coordinate named *old* becomes a data variable (the plan's notes say so).
    """
    plan = plan_dimension_rename(session, group, old, new, descendants=descendants)
    commands: list[Command] = []
    fqn, new_fqn = plan.nczarr, join_path(plan.group, new)
    for path in plan.arrays:
        array = session.load(path)
        refs = dimension_references(array) if fqn is not None else None
        positions: list[int] | None = None
        if refs is not None and isinstance(refs.value, list):
            positions = [i for i, ref in enumerate(refs.value) if ref == fqn]
            new_refs = [new_fqn if i in positions else ref for i, ref in enumerate(refs.value)]
            key = key_prefix(path) + refs.document
            commands.append(SetValue(refs.pointer, new_refs, key=key))
        found = xarray_dimension_names(array)
        if found is None:
            continue
        names = list(found[0])
        if positions is None:
            positions = [i for i, n in enumerate(names) if n == old]
        if array.zarr_format == 2 and not isinstance(array.attributes.get("_ARRAY_DIMENSIONS"), list):
            continue  # (netCDF-C 4.9 without _ARRAY_DIMENSIONS: xarray reads the references renamed above)
        new_names = [new if i in positions else n for i, n in enumerate(names)]
        if array.zarr_format == 3:
            commands.append(SetValue("/dimension_names", new_names, key=key_prefix(path) + "zarr.json"))
        else:
            commands.append(_attr_set(array, ["_ARRAY_DIMENSIONS"], new_names))
    if fqn is not None:
        holder = session.load(plan.group)
        dims = group_dimensions(holder)
        assert dims is not None
        key = key_prefix(plan.group) + dims.document
        if isinstance(dims.value, dict):
            commands.append(Rename(dims.pointer + format_pointer([old]), new, key=key))
        elif isinstance(dims.value, list):  # [{name, size, unlimited}], as netCDF-C's zinternal.h describes it
            at = next(i for i, d in enumerate(dims.value) if isinstance(d, dict) and d.get("name") == old)
            commands.append(SetValue(dims.pointer + format_pointer([at, "name"]), new, key=key))
    where = " and its child groups" if len({parent_path(p) for p in plan.arrays}) > 1 else ""
    return Batch(commands, label=f"rename dimension {old!r} → {new!r} in {plan.group}{where}",
                 allow_protected=fqn is not None)


def lost_index_coordinates(session: EditSession, ctx: Context, paths: Iterable[str]) -> list[Issue]:
    """Warnings for index coordinates the session's edits turned into data variables.

    An array named like its only dimension is xarray's index coordinate of it.  When an edit
    gives it another dimension name (a dimension rename: arrays cannot be renamed by a metadata
    edit), xarray shows it as a data variable (or, listed in a ``coordinates`` attribute, a
    coordinate without index), and the renamed dimension has no coordinate.  Only arrays that
    *were* an index before the edits are reported: a 1-D variable on another dimension is
    common and fine (station positions ``x(station)``).  *ctx* gives the working state of the
    groups (their arrays are not loaded for this).
    """
    out: list[Issue] = []
    wanted = set(paths)
    for path in session.changed_paths():
        if path not in wanted:
            continue
        before, now = session.original_node(path), session.node(path)
        if not now.is_array or now.array is None or now.array.ndim != 1:
            continue
        old, new = xarray_dimension_names(before), xarray_dimension_names(now)
        if old is None or new is None or old[0] != (now.name,) or new[0] == old[0] or not isinstance(new[0][0], str):
            continue
        dim = new[0][0]
        parent = parent_path(path) or "/"
        arrays = [c for c in ctx.children(parent) if c.is_array]
        group = ctx.node(parent)
        listed = set(coordinate_names(group.attributes if group is not None else {}))
        for array in arrays:
            listed.update(coordinate_names(array.attributes))
        index = next((a for a in arrays if a.name == dim and (xarray_dimension_names(a) or ((),))[0] == (dim,)), None)
        shown_as = ("a coordinate without an index (a coordinates attribute lists it)" if now.name in listed
                    else "a data variable")
        dim_has = f"{dim!r} has its own index, the array {dim!r}" if index is not None else \
            f"{dim!r} has no coordinate (\"Dimensions without coordinates: {dim}\")"
        if now.zarr_format == 3:
            ptr, doc = "/dimension_names", "zarr.json"
        else:
            ptr, doc = "/_ARRAY_DIMENSIONS", ".zattrs"
        out.append(Issue(Severity.WARNING, f"array {now.name!r} was the index coordinate of dimension {now.name!r}; "
                         f"on dimension {dim!r} it is not: xarray shows it as {shown_as}, and {dim_has}. A metadata "
                         f"edit cannot rename an array: to keep the index, write the dataset again with xarray "
                         f"(ds.rename({{{now.name!r}: {dim!r}}}).to_zarr(...)), or undo the rename",
                         path, ptr, "xarray", doc))
    return out


def xarray_dims_from_ome_axes(session: EditSession, image: str, *, multiscale: int = 0) -> Batch:
    """Give every level array of an OME-NGFF image xarray dimension names from the axes."""
    node = session.load(image)
    _parts, _version, ms = _ome(node, multiscale)
    names = [a.get("name") for a in _axes(ms, image)]
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise EditError(f"{image}: the axes need unique non-empty names first, got {names}")
    commands: list[Command] = []
    for _k, dataset in _datasets(ms, image):
        level = _level_node(session, image, dataset)
        if level is None or level.array is None:
            continue
        if level.array.ndim != len(names):
            raise EditError(f"{level.path} has {level.array.ndim} dimensions but the image has {len(names)} axes")
        if _current_dims(level) != names:
            commands.append(_dims_command(level, names))  # type: ignore[arg-type]
    return Batch(commands, label=f"dimension names from OME axes in {image}")


# -- NCZarr -----------------------------------------------------------------------------------

_ATTR_KEYS = ("_nczarr_attr", "_NCZARR_ATTR")


def _types_location(key: str, attrs: Mapping[str, JSON]) -> tuple[str, dict[str, JSON], bool] | None:
    """Pointer to the ``types`` object, the object, and whether it is netCDF-C 4.9.0's upper-case
    ``_NCZARR_ATTR`` (text is ``<U1`` there, ``>S1`` in the lower-case generations)."""
    for name in _ATTR_KEYS:
        block = attrs.get(name)
        if isinstance(block, dict) and isinstance(block.get("types"), dict):
            base = "/attributes" if key.endswith("zarr.json") else ""
            return base + format_pointer([name, "types"]), block["types"], name == "_NCZARR_ATTR"
    return None


def nczarr_type_fits(value: JSON, nc_type: str, *, upper: bool = False) -> bool:
    """Whether *value* can be stored as the NCZarr attribute type *nc_type* (``<f4``, ``<i2``,
    ``|u1``, ``>S1``, ``<U1``...): numbers in range for integer types, text for text, and
    nothing netCDF-C would fail on or misread (:func:`attribute_type_clash`; *upper*: the types
    are in netCDF-C 4.9.0's upper-case ``_NCZARR_ATTR``)."""
    if attribute_type_clash(value, nc_type, upper=upper) is not None:
        return False
    kind = nc_type[1:2]
    if kind in ("S", "U"):
        return isinstance(value, str)
    items = value if isinstance(value, list) and value else [value]
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in items):
        return False
    return kind == "f" or all(isinstance(v, int) for v in items)


def _wanted_type(name: str, value: JSON, old: JSON, variable: str | None, upper: bool) -> str:
    """The type an attribute gets when its value changes: the variable's own for the
    variable-typed ones, else the type it had while the new value fits it, else inferred."""
    if name in VARIABLE_TYPED and variable is not None and nczarr_type_fits(value, variable, upper=upper):
        return variable
    if isinstance(old, str) and nczarr_type_fits(value, old, upper=upper):
        return old
    return nczarr_type(value, text="<U1" if upper else ">S1")


def nczarr_type_updates(
    key: str, before: Mapping[str, JSON], after: Mapping[str, JSON], variable: str | None = None
) -> list[Command]:
    """Commands keeping ``_nczarr_attr.types`` consistent with an attribute change of *key*.

    *variable* is the array's ``.zarray`` dtype (``<f4``) when *key* holds an array's
    attributes.  A changed attribute keeps its type while the new value fits it (a float
    variable's ``_FillValue`` of -9999 stays ``<f4``, not ``<i8``).  An unchanged attribute keeps
    its type too, unless netCDF-C would fail on or misread its value so (a value changed by
    zarr-python or xarray, which keep no types): any edit of the attributes repairs that type.
    """
    found = _types_location(key, after)
    if found is None:
        return []
    base, types, upper = found
    out: list[Command] = []
    for name in [*before, *(n for n in after if n not in before)]:
        if is_protected_attribute(name) or (name == "_ARRAY_DIMENSIONS" and name not in types):
            continue  # (netCDF-C types no _ARRAY_DIMENSIONS: it reads the dimensions from dimrefs)
        if name not in after:
            if name in types:
                out.append(Delete(base + format_pointer([name]), key=key))
            continue
        old = types.get(name)
        if name in before and same(before[name], after[name]) and (
                not isinstance(old, str) or attribute_type_clash(after[name], old, upper=upper) is None
                or (name in VARIABLE_TYPED and old == variable)):  # (there the value is wrong, not its type)
            continue  # unchanged attributes keep whatever type (or none) they had
        wanted = _wanted_type(name, after[name], old, variable, upper)
        if types.get(name) != wanted:
            out.append(SetValue(base + format_pointer([name]), wanted, key=key))
    return out


def variable_type(zarray: JSON) -> str | None:
    """The numeric dtype of a v2 ``.zarray`` document (``<f4``): the type of its variable-typed attributes."""
    dtype = zarray.get("dtype") if isinstance(zarray, dict) else None
    return dtype if isinstance(dtype, str) and len(dtype) >= 3 and dtype[1:2] in ("f", "i", "u") else None


def _check_nczarr_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise EditError("an attribute name must be a non-empty string")
    if is_protected_attribute(name):
        raise ReadOnlyFieldError(f"{name!r} is NCZarr's own metadata and read-only")


def nczarr_set_attribute(
    session: EditSession, path: str, name: str, value: JSON, *, nc_type: str | None = None
) -> Batch:
    """Set attribute *name* of an NCZarr node, with its ``_nczarr_attr.types`` entry.

    *nc_type* overrides the inferred type (``"<i4"``, ``"<f4"``...).
    """
    _check_nczarr_name(name)
    node = session.load(path)
    key, _where = attributes_location(node, "")
    attrs = dict(node.attributes)
    commands: list[Command] = [_attr_set(node, [name], value)]
    found = _types_location(key, attrs)
    if found is not None:
        base, types, upper = found
        clash = attribute_type_clash(value, nc_type, upper=upper) if nc_type is not None else None
        if clash is not None:
            raise EditError(f"{name} cannot be {clash.problem}: netCDF-C "
                            f"{'reads it as ' + clash.misread if clash.misread else 'fails on the whole file'}")
        zarray = node.documents.get(".zarray") if node.is_array else None
        variable = variable_type(zarray.value) if zarray is not None else None
        wanted = nc_type or _wanted_type(name, value, types.get(name), variable, upper)
        commands.append(SetValue(base + format_pointer([name]), wanted, key=key))
    elif nc_type is not None:
        raise EditError(f"{path} has no _nczarr_attr.types to record the type {nc_type!r} in")
    return Batch(commands, label=f"set NCZarr attribute {name!r} of {path}", allow_protected=True)


def nczarr_delete_attribute(session: EditSession, path: str, name: str) -> Batch:
    """Delete attribute *name* of an NCZarr node and its ``_nczarr_attr.types`` entry."""
    _check_nczarr_name(name)
    node = session.load(path)
    if name not in node.attributes:
        raise EditError(f"{path} has no attribute {name!r}")
    key, where = attributes_location(node, format_pointer([name]))
    commands: list[Command] = [Delete(where, key=key)]
    found = _types_location(key, node.attributes)
    if found is not None and name in found[1]:
        commands.append(Delete(found[0] + format_pointer([name]), key=key))
    return Batch(commands, label=f"delete NCZarr attribute {name!r} of {path}", allow_protected=True)


# -- OME-NGFF forms: axes, translation, channels, labels, plates ------------------------------

AXIS_TYPES = ("space", "time", "channel")
"""Axis types the OME-NGFF specification names (others are allowed but discouraged)."""


def ome_namespace(node: Node) -> tuple[list[str | int], Mapping[str, JSON]]:
    """Pointer parts to the OME namespace (``["ome"]`` in 0.5, the attributes before) and the namespace."""
    ome = node.attributes.get("ome")
    if isinstance(ome, dict):
        version = ome.get("version")
        if isinstance(version, str) and version.startswith("0.6"):
            raise ReadOnlyFieldError(f"{node.path}: OME-NGFF {version} is read-only until 0.6 is final")
        return ["ome"], ome
    return [], node.attributes


def ome_set_axes(
    session: EditSession, image: str, axes: Sequence[Mapping[str, JSON]], *, multiscale: int = 0,
    labels: bool = False,
) -> Batch:
    """Set the name, type and unit of every axis of an OME-NGFF image as one edit.

    *axes* has one mapping per axis with ``name``, ``type`` and ``unit`` (``None`` or ``""``
    removes the key; other keys of the axis objects are kept).  Names must be unique and
    non-empty.  In 0.5 a changed name also rewrites every level's ``dimension_names``.  With
    *labels*, the label images' axes of the same (old) names change alike.
    """
    node = session.load(image)
    parts, version, ms = _ome(node, multiscale)
    current = _axes(ms, image)
    if len(axes) != len(current):
        raise EditError(f"{image} has {len(current)} axes, got {len(axes)}")
    names = [a.get("name") for a in axes]
    if not all(isinstance(n, str) and n for n in names):
        raise EditError("every axis needs a non-empty name")
    if len(set(names)) != len(names):
        raise EditError(f"axis names must be unique, got {names}")
    commands: list[Command] = []
    for index, (old, new) in enumerate(zip(current, axes, strict=True)):
        for field_name in ("name", "type", "unit"):
            value = new.get(field_name)
            pointer = [*parts, "axes", index, field_name]
            if value is None or value == "":
                if field_name in old and field_name != "name":
                    key, where = attributes_location(node, format_pointer(pointer))
                    commands.append(Delete(where, key=key))
            elif not isinstance(value, str):
                raise EditError(f"axis {index}: {field_name} must be a string, got {value!r}")
            elif old.get(field_name) != value:
                commands.append(_attr_set(node, pointer, value))
    if version == "0.5" and names != [a.get("name") for a in current]:
        commands.extend(_level_dimension_names(session, image, ms, names))
    batch = Batch(commands, label=f"set axes of {image}")
    if not labels:
        return batch

    def fields(axis: Mapping[str, JSON]) -> tuple[JSON, ...]:
        return tuple(axis.get(key) or None for key in ("name", "type", "unit"))

    changed = {str(old.get("name")): new for old, new in zip(current, axes, strict=True) if fields(old) != fields(new)}
    return _labels_follow_axes(session, image, batch, changed) if changed else batch


def ome_set_units(
    session: EditSession, image: str, units: Mapping[str | int, str | None], *, multiscale: int = 0
) -> Batch:
    """Set the ``unit`` of some axes of an OME-NGFF image (by name or index; ``None`` or ``""``
    removes it), leaving their names and types alone."""
    node = session.load(image)
    parts, _version, ms = _ome(node, multiscale)
    axes = _axes(ms, image)
    commands: list[Command] = []
    for axis, unit in units.items():
        index = _axis_index(axes, axis, image)
        pointer = [*parts, "axes", index, "unit"]
        if unit is None or unit == "":
            if "unit" in axes[index]:
                key, where = attributes_location(node, format_pointer(pointer))
                commands.append(Delete(where, key=key))
        elif not isinstance(unit, str):
            raise EditError(f"axis {axis!r}: a unit is a string, got {unit!r}")
        elif axes[index].get("unit") != unit:
            commands.append(_attr_set(node, pointer, unit))
    return Batch(commands, label=f"set units of {image}")


def ome_set_translation(
    session: EditSession, image: str, translation: Mapping[str | int, float], *, multiscale: int = 0,
    labels: bool = False,
) -> Batch:
    """Move the image origin: level 0's translation becomes *translation* on the given axes.

    Every level is shifted by the same amount, so the levels stay aligned (their half-pixel
    offsets are kept); a level without a translation gets one after its scale.  With *labels*,
    the image's label images move by the same amount on the axes of the same name.
    """
    node, parts, axes, datasets, targets = _per_axis(session, image, translation, "translation", multiscale)

    def current(dataset: Mapping[str, JSON]) -> tuple[int | None, list[float]]:
        transforms = dataset.get("coordinateTransformations")
        for t_index, transform in enumerate(transforms if isinstance(transforms, list) else []):
            if isinstance(transform, dict) and transform.get("type") == "translation" \
                    and isinstance(transform.get("translation"), list):
                return t_index, list(transform["translation"])
        return None, [0.0] * len(axes)

    _at0, origin = current(datasets[0][1])
    if len(origin) != len(axes):
        raise EditError(f"{image}: level 0's translation has {len(origin)} entries for {len(axes)} axes")
    # the origin asked is physical: the multiscale's own transform applies after level 0's
    gscale, gtrans = multiscale_transform(_ome(node, multiscale)[2], len(axes))
    world_shift: dict[int, float] = {}
    for j, value in targets.items():
        if gscale[j] == 0:
            raise EditError(f"{image}: the multiscale's own scale for axis {axes[j].get('name', j)!r} is 0; "
                            "a translation cannot be set through it")
        world_shift[j] = value - (origin[j] * gscale[j] + gtrans[j])
    commands: list[Command] = []
    for k, dataset in datasets:
        at, values = current(dataset)
        if len(values) != len(axes):
            raise EditError(f"{image}: datasets[{k}] has a translation with {len(values)} entries")
        new = list(values)
        for j, shift in world_shift.items():
            new[j] = _clean(values[j] + shift / gscale[j])
        base = [*parts, "datasets", k, "coordinateTransformations"]
        if at is not None:
            if not same(new, values):
                commands.append(_attr_set(node, [*base, at, "translation"], new))
        elif any(v != 0 for v in new):
            transforms = dataset.get("coordinateTransformations")
            end = len(transforms) if isinstance(transforms, list) else 0
            commands.append(_attr_set(node, [*base, end], {"type": "translation", "translation": new}))
    batch = Batch(commands, label=f"set translation of {image}")
    if not labels:
        return batch
    shifts = {str(axes[j].get("name")): shift for j, shift in world_shift.items()}
    followers: list[Command] = [batch]
    for label in ome_label_images(session, image):
        label_origin = _level0_by_name(session, label, "translation")
        label_scale = _level0_by_name(session, label, "scale")
        moved: dict[str | int, float] = {name: _clean(label_origin.get(name, 0.0) + shift)
                                         for name, shift in shifts.items() if name in label_scale and shift}
        if moved:
            followers.append(ome_set_translation(session, label, moved))
    return Batch(followers, label=batch.label + (" and its labels" if len(followers) > 1 else ""))


def _check_colour(value: JSON, what: str) -> str:
    if not isinstance(value, str) or len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise EditError(f"{what}: a colour is six hex digits (RRGGBB), got {value!r}")
    return value.upper()


def default_channel_colours(count: int) -> list[str]:
    """``RRGGBB`` colours for *count* new channels: napari's own defaults for an image without
    ``omero`` (one channel grey, two magenta and green, more cyan, yellow, magenta, red, green,
    blue, in turn), so adding the block keeps what napari showed."""
    if count <= 1:
        return ["FFFFFF"] * count
    if count == 2:
        return ["FF00FF", "00FF00"]
    cymrgb = ("00FFFF", "FFFF00", "FF00FF", "FF0000", "00FF00", "0000FF")
    return [cymrgb[i % len(cymrgb)] for i in range(count)]


def dtype_range(dtype: str) -> tuple[int, int] | None:
    """The values an integer (or boolean) data type holds, None for the others (floats...)."""
    import numpy as np

    try:
        parsed = np.dtype(dtype)
    except TypeError:
        return None
    if parsed.kind == "b":
        return 0, 1
    if parsed.kind in "iu":
        info = np.iinfo(parsed)
        return int(info.min), int(info.max)
    return None


def default_window(dtype: str | None, data_range: tuple[float, float] | None = None) -> dict[str, JSON]:
    """A channel's ``window`` for data of *dtype*: ``min``/``max`` the data type's range (the
    data range for floats, which have none of use; 0-1 when it is unknown), ``start``/``end``
    the data range when known (what napari picks for an image without contrast limits), else
    ``min``/``max``."""
    bounds = dtype_range(dtype) if dtype is not None else None
    low = high = None
    if data_range is not None and all(isinstance(v, int | float) and math.isfinite(v) for v in data_range) \
            and data_range[0] < data_range[1]:
        low, high = float(data_range[0]), float(data_range[1])
    if bounds is not None:
        if low is None or high is None:
            low, high = bounds
        else:  # an integer type: whole numbers inside its range
            low, high = max(bounds[0], math.floor(low)), min(bounds[1], math.ceil(high))
            if low >= high:
                low, high = bounds
        return {"min": bounds[0], "max": bounds[1], "start": int(low), "end": int(high)}
    if low is None or high is None:
        low, high = 0.0, 1.0
    return {"min": _clean(low), "max": _clean(high), "start": _clean(low), "end": _clean(high)}


def ome_channel_axis(axes: Sequence[JSON]) -> int | None:
    """The index of the axis of type ``channel`` (None when there is none)."""
    for index, axis in enumerate(axes):
        if isinstance(axis, Mapping) and axis.get("type") == "channel":
            return index
    return None


def ome_channel_count(axes: Sequence[JSON], shape: Sequence[int]) -> int | None:
    """How many ``omero`` channels an image of these *axes* and level-0 *shape* needs: the size
    of its channel axis, 1 without one; None when the axes do not match the shape."""
    if len(axes) != len(shape):
        return None
    index = ome_channel_axis(axes)
    return int(shape[index]) if index is not None else 1


def _image_layout(session: EditSession, image: str, multiscale: int = 0) -> tuple[Node, list[str | int], Mapping[str, JSON], int, str]:
    """The image node, the pointer parts to its OME namespace, the namespace, the number of
    channels it needs and level 0's data type (reads level 0's metadata)."""
    node = session.load(image)
    parts, ns = ome_namespace(node)
    _ms_parts, _version, ms = _ome(node, multiscale)
    axes = _axes(ms, image)
    datasets = _datasets(ms, image)
    level = _level_node(session, image, datasets[0][1]) if datasets else None
    if level is None or level.array is None:
        raise EditError(f"{image}: level 0 of the multiscale is not an array that can be read")
    count = ome_channel_count(axes, level.array.shape)
    if count is None:
        raise EditError(f"{image} has {len(axes)} axes but level 0 ({level.path}) has {level.array.ndim} dimensions")
    return node, parts, ns, count, level.array.dtype_name


def _new_channel(index: int, colour: str, dtype: str, data_range: tuple[float, float] | None) -> dict[str, JSON]:
    return {"label": f"Channel {index}", "color": colour, "active": True,
            "window": default_window(dtype, data_range)}


def ome_add_omero(session: EditSession, image: str, *, ranges: Mapping[int, tuple[float, float]] | None = None,
                  multiscale: int = 0) -> Batch:
    """Add an ``omero`` block to an OME-NGFF image that has none, with one channel per index of
    its channel axis (one channel without a channel axis).

    Channels are labelled ``Channel <i>``, coloured as napari shows an image without the block
    (:func:`default_channel_colours`), active, with a :func:`default_window` from level 0's data
    type and *ranges* (channel index → data minimum and maximum, read by the caller).  The
    block goes where the image's version has it (``ome.omero`` in 0.5, the attributes before;
    0.4 gives it the image's ``version`` as the specification's example does), with
    ``rdefs.model`` ``color``.
    """
    node, parts, ns, count, dtype = _image_layout(session, image, multiscale)
    if "omero" in ns:
        raise EditError(f"{image} has an omero block already")
    ranges = ranges or {}
    colours = default_channel_colours(count)
    block: dict[str, JSON] = {}
    _ms_parts, version, _ms = _ome(node, multiscale)
    if not parts and isinstance(version, str):
        block["version"] = version
    block["channels"] = [_new_channel(c, colours[c], dtype, ranges.get(c)) for c in range(count)]
    block["rdefs"] = {"model": "color"}
    return Batch([_attr_set(node, [*parts, "omero"], block)],
                 label=f"add an omero block with {count} channel{'s' if count != 1 else ''} to {image}")


def ome_match_channels(session: EditSession, image: str, *,
                       ranges: Mapping[int, tuple[float, float]] | None = None, multiscale: int = 0) -> Batch:
    """Make ``omero.channels`` list as many channels as the image's channel axis holds (one
    without a channel axis): napari-ome-zarr refuses an image whose counts differ.

    Missing channels are appended as :func:`ome_add_omero` makes them (colours not used by the
    channels there yet first); extra channels are removed from the end.
    """
    node, parts, ns, count, dtype = _image_layout(session, image, multiscale)
    omero = ns.get("omero")
    channels = omero.get("channels") if isinstance(omero, dict) else None
    if not isinstance(channels, list):
        raise EditError(f"{image} has no omero channels (add the omero block instead)")
    have = len(channels)
    if have == count:
        return Batch([], label=f"the omero channels of {image} match its channel axis already")
    base = [*parts, "omero", "channels"]
    commands: list[Command] = []
    if have > count:
        for index in range(have - 1, count - 1, -1):  # from the end: the indices stay valid
            key, where = attributes_location(node, format_pointer([*base, index]))
            commands.append(Delete(where, key=key))
        gone = ", ".join(str(i) for i in range(count, have))
        label = f"remove extra omero channel{'s' if have - count != 1 else ''} {gone} of {image}"
    else:
        used = {c.get("color", "").upper() for c in channels if isinstance(c, dict) and isinstance(c.get("color"), str)}
        palette = default_channel_colours(count)
        free = [c for c in dict.fromkeys([*palette, *default_channel_colours(7)]) if c not in used] or palette
        ranges = ranges or {}
        for index in range(have, count):
            colour = free[(index - have) % len(free)]
            commands.append(_attr_set(node, [*base, index], _new_channel(index, colour, dtype, ranges.get(index))))
        added = ", ".join(str(i) for i in range(have, count))
        label = f"add missing omero channel{'s' if count - have != 1 else ''} {added} to {image}"
    return Batch(commands, label=label)


def _window_fill(window: dict[str, JSON], dtype: str | None, index: int) -> dict[str, JSON]:
    """*window* with the keys the schemas require that it lacks: ``min``/``max`` the data type's
    range (floats: widened to take in start and end), ``start``/``end`` ``min``/``max``."""
    bounds = dtype_range(dtype) if dtype is not None else None
    out = dict(window)
    start, end = out.get("start"), out.get("end")
    if "min" not in out:
        candidates = [v for v in (bounds[0] if bounds else None, start) if _finite(v)]
        out["min"] = min(candidates) if candidates else 0
    if "max" not in out:
        candidates = [v for v in (bounds[1] if bounds else None, end) if _finite(v)]
        out["max"] = max(candidates) if candidates else 1
    out.setdefault("start", out["min"])
    out.setdefault("end", out["max"])
    for name in ("min", "max", "start", "end"):
        if not _finite(out[name]):
            raise EditError(f"channel {index}: window {name} must be a finite number, got {out[name]!r}")
    if out["min"] > out["max"]:
        raise EditError(f"channel {index}: window min {out['min']} is above its max {out['max']}")
    if out["start"] > out["end"]:
        raise EditError(f"channel {index}: window start {out['start']} is above its end {out['end']}")
    return out


def _finite(value: object) -> TypeGuard[int | float]:
    return finite_number(value)  # (math.isfinite(10**400) raises OverflowError)


def _level0_dtype(session: EditSession, image: str) -> str | None:
    try:
        _parts, _version, ms = _ome(session.load(image), 0)
        datasets = _datasets(ms, image)
    except (EditError, ZarrBrowserError):
        return None
    level = _level_node(session, image, datasets[0][1]) if datasets else None
    return level.array.dtype_name if level is not None and level.array is not None else None


def ome_set_channels(session: EditSession, image: str, channels: Sequence[Mapping[str, JSON]]) -> Batch:
    """Set label, colour, active and window of the ``omero`` channels as one edit.

    *channels* has one mapping per existing channel with any of ``label``, ``color``
    (``RRGGBB``), ``active`` and ``window`` (any of ``min``, ``max``, ``start``, ``end``,
    merged into the existing window).  A window lacking keys the schemas require gets them:
    ``min``/``max`` the data type's range of level 0 (for floats, start and end), ``start``/
    ``end`` its ``min``/``max``.  Other keys of the channel objects are kept; the number of
    channels is :func:`ome_match_channels`' business.
    """
    node = session.load(image)
    parts, ns = ome_namespace(node)
    omero = ns.get("omero")
    existing = omero.get("channels") if isinstance(omero, dict) else None
    if not isinstance(existing, list):
        raise EditError(f"{image} has no omero channels")
    if len(channels) != len(existing):
        raise EditError(f"{image} has {len(existing)} channels, got {len(channels)}")
    commands: list[Command] = []
    dtype: str | None = None
    dtype_read = False
    for index, (old, new) in enumerate(zip(existing, channels, strict=True)):
        if not isinstance(old, dict):
            raise EditError(f"{image}: omero channel {index} is not an object")
        base = [*parts, "omero", "channels", index]
        if "label" in new and new["label"] != old.get("label"):
            if not isinstance(new["label"], str):
                raise EditError(f"channel {index}: the label must be a string")
            commands.append(_attr_set(node, [*base, "label"], new["label"]))
        if "color" in new:
            colour = _check_colour(new["color"], f"channel {index}")
            if not isinstance(old.get("color"), str) or old["color"].upper() != colour:
                commands.append(_attr_set(node, [*base, "color"], colour))
        if "active" in new and new["active"] is not old.get("active"):
            if not isinstance(new["active"], bool):
                raise EditError(f"channel {index}: active must be true or false")
            commands.append(_attr_set(node, [*base, "active"], new["active"]))
        window = new.get("window")
        if isinstance(window, Mapping):
            for name, value in window.items():
                if name not in ("min", "max", "start", "end"):
                    raise EditError(f"channel {index}: a window has min, max, start and end, not {name!r}")
                if not _finite(value):
                    raise EditError(f"channel {index}: window {name} must be a finite number, got {value!r}")
            merged = dict(old["window"]) if isinstance(old.get("window"), dict) else {}
            merged.update(window)
            if not {"min", "max", "start", "end"} <= merged.keys() and not dtype_read:
                dtype, dtype_read = _level0_dtype(session, image), True
            merged = _window_fill(merged, dtype, index)
            if not same(merged, old.get("window")):
                commands.append(_attr_set(node, [*base, "window"], merged))
    return Batch(commands, label=f"set channels of {image}")


def _label_block(session: EditSession, label_image: str) -> tuple[Node, list[str | int], dict[str, JSON]]:
    node = session.load(label_image)
    parts, ns = ome_namespace(node)
    block = ns.get("image-label")
    if not isinstance(block, dict):
        raise EditError(f"{label_image} is not an OME-NGFF label image")
    return node, parts, block


def ome_set_label_colors(session: EditSession, label_image: str, colors: Mapping[int, Sequence[int]], *,
                         remove: Iterable[int] = ()) -> Batch:
    """Set the ``rgba`` of label values of an OME-NGFF label image (``image-label.colors``).

    Existing entries keep their place (and other keys); new label values are appended; the
    entries of the values in *remove* go.  A list left empty is removed (the schemas require at
    least one entry).
    """
    node, parts, block = _label_block(session, label_image)
    colors_value = block.get("colors")
    entries = colors_value if isinstance(colors_value, list) else []
    gone = set(remove)
    new_entries = [dict(e) if isinstance(e, dict) else e for e in entries
                   if not (isinstance(e, dict) and e.get("label-value") in gone)]
    where = {e.get("label-value"): i for i, e in enumerate(new_entries) if isinstance(e, dict)}
    for value, rgba in colors.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise EditError(f"a label value is an integer, got {value!r}")
        if value in gone:
            raise EditError(f"label {value} is both set and removed")
        rgba = list(rgba)
        if len(rgba) != 4 or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgba):
            raise EditError(f"label {value}: rgba must be four integers 0-255, got {rgba!r}")
        if value in where:
            new_entries[where[value]]["rgba"] = rgba
        else:
            where[value] = len(new_entries)
            new_entries.append({"label-value": value, "rgba": rgba})
    label = f"set label colours of {label_image}"
    if not new_entries and "colors" in block:
        key, pointer = attributes_location(node, format_pointer([*parts, "image-label", "colors"]))
        return Batch([Delete(pointer, key=key)], label=label)
    if same(new_entries, entries) and ("colors" in block or not new_entries):
        return Batch([], label=label)
    return Batch([_attr_set(node, [*parts, "image-label", "colors"], new_entries)], label=label)


def _check_json(value: object, where: str) -> None:
    """Refuse what JSON cannot hold (NaN, Infinity, tuples, non-string keys...)."""
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise EditError(f"{where}: {value!r} is not a JSON number")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise EditError(f"{where}: object keys are strings, got {key!r}")
            _check_json(item, f"{where}.{key}")
        return
    raise EditError(f"{where}: {type(value).__name__} is not a JSON value")


def ome_set_label_properties(
    session: EditSession,
    label_image: str,
    properties: Mapping[int, Mapping[str, JSON]],
    *,
    remove: Sequence[int] = (),
) -> Batch:
    """Set the ``image-label.properties`` of label values of an OME-NGFF label image, as one edit.

    *properties* maps a label value to its complete set of properties (without
    ``label-value``): keys the entry has and the mapping lacks are removed, keys both have keep
    their place, new keys are appended.  Label values the mapping does not name are left as
    they are, and so are entries that are not ``{"label-value": int, ...}`` objects; new label
    values are appended; label values in *remove* lose their entry.  ``label-value`` stays an
    integer (a bool is refused), property names are non-empty strings, values JSON.
    """
    node, parts, block = _label_block(session, label_image)
    where = f"{label_image} image-label.properties"
    for value in (*properties, *remove):
        if isinstance(value, bool) or not isinstance(value, int):
            raise EditError(f"{where}: a label value is an integer, got {value!r}")
    both = set(properties) & set(remove)
    if both:
        raise EditError(f"{where}: label {min(both)} is both set and removed")
    for value, props in properties.items():
        if not isinstance(props, Mapping):
            raise EditError(f"{where}: the properties of label {value} are an object, got {props!r}")
        for name, item in props.items():
            if not isinstance(name, str) or not name:
                raise EditError(f"{where}: label {value}: a property name is a non-empty string, got {name!r}")
            if name == "label-value":
                raise EditError(f"{where}: label {value}: 'label-value' is the row's key, not a property")
            _check_json(item, f"{where}: label {value}: {name}")
    existing = block.get("properties")
    if existing is not None and not isinstance(existing, list):
        raise EditError(f"{where} is not a list")
    entries: list[JSON] = list(existing or [])
    new_entries: list[JSON] = []
    done: set[int] = set()
    for entry in entries:
        label_value = entry.get("label-value") if isinstance(entry, dict) else None
        if isinstance(label_value, bool) or not isinstance(label_value, int) or label_value in done:
            new_entries.append(entry)  # not a label entry we understand (or a duplicate): kept as it is
            continue
        if label_value in remove:
            done.add(label_value)
            continue
        if label_value not in properties:
            new_entries.append(entry)
            continue
        done.add(label_value)
        wanted = properties[label_value]
        kept: dict[str, JSON] = {}
        for key in entry:  # the entry's own order first
            if key == "label-value":
                kept[key] = label_value
            elif key in wanted:
                kept[key] = wanted[key]
        kept.update({k: v for k, v in wanted.items() if k not in kept})
        new_entries.append(kept)
    for value, wanted in properties.items():
        if value not in done:
            new_entries.append({"label-value": value, **wanted})
    missing = sorted(set(remove) - done)
    if missing:
        raise EditError(f"{where}: no entry for label {missing[0]} to remove")
    label = f"set label properties of {label_image}"
    if same(new_entries, entries) and (existing is not None or not new_entries):
        return Batch([], label=label)
    return Batch([_attr_set(node, [*parts, "image-label", "properties"], new_entries)], label=label)


def ome_set_plate_names(
    session: EditSession, plate: str, *, name: str | None = None, acquisitions: Mapping[int, str] | None = None
) -> Batch:
    """Set the plate's ``name`` and the names of its acquisitions (by index).

    Row and column names are not offered: they must match the wells' directories.
    """
    node = session.load(plate)
    parts, ns = ome_namespace(node)
    block = ns.get("plate")
    if not isinstance(block, dict):
        raise EditError(f"{plate} is not an OME-NGFF plate")
    commands: list[Command] = []
    if name is not None and name != block.get("name"):
        if not isinstance(name, str):
            raise EditError("the plate name must be a string")
        commands.append(_attr_set(node, [*parts, "plate", "name"], name))
    acquisitions_value = block.get("acquisitions")
    existing = acquisitions_value if isinstance(acquisitions_value, list) else []
    for index, text in (acquisitions or {}).items():
        if not 0 <= index < len(existing) or not isinstance(existing[index], dict):
            raise EditError(f"{plate} has no acquisition {index}")
        if existing[index].get("name") != text:
            commands.append(_attr_set(node, [*parts, "plate", "acquisitions", index, "name"], text))
    return Batch(commands, label=f"set names of plate {plate}")


# -- attributes as a form (CF) ----------------------------------------------------------------


def set_attributes(session: EditSession, path: str, values: Mapping[str, JSON], *, label: str = "") -> Batch:
    """Set several attributes of *path* as one edit; a value of ``None`` deletes the attribute.

    On NCZarr nodes the session keeps ``_nczarr_attr.types`` consistent; NCZarr's own
    attributes are refused.
    """
    node = session.load(path)
    commands: list[Command] = []
    for name, value in values.items():
        if not isinstance(name, str) or not name:
            raise EditError("an attribute name must be a non-empty string")
        if is_protected_attribute(name):
            raise ReadOnlyFieldError(f"{name!r} is NCZarr's own metadata and read-only")
        key, where = attributes_location(node, format_pointer([name]))
        if value is None:
            if name in node.attributes:
                commands.append(Delete(where, key=key))
        elif not same(node.attributes.get(name), value) or name not in node.attributes:
            commands.append(SetValue(where, value, key=key))
    return Batch(commands, label=label or f"set attributes of {path}")


CF_ENCODING = ("_FillValue", "scale_factor", "add_offset")
"""CF attributes that change how xarray and netCDF decode the stored values: typed as numbers."""


def _typed_number(name: str, value: JSON) -> float | int:
    """*value* (a number, or the text a user typed) as a number; NaN and infinities are allowed
    here (a float ``_FillValue`` may be NaN: xarray writes it in base64)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EditError(f"{name} must be a number, got {value!r}")
    if isinstance(value, int | float):
        return value
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise EditError(f"{name}: {value!r} is not a number") from None


def _cf_fill_value(node: Node, value: float | int) -> JSON:
    """The ``_FillValue`` attribute for *value*, written as the readers of *node* expect it: zarr v3
    (xarray) base64 of the float64 for floats, a JSON number for integers; NCZarr a JSON number
    in the variable's type (netCDF-C)."""
    import numpy as np

    from zarr_browser.core.conventions.cf import encode_fill_value

    assert node.array is not None
    try:
        dtype = np.dtype(node.array.dtype)
    except TypeError:
        dtype = None
    if dtype is None or dtype.kind not in "iuf":
        raise EditError(f"{node.path}: a _FillValue of a {node.array.dtype} array is not offered here; use the "
                        "attribute editor")
    if dtype.kind in "iu":
        if isinstance(value, float) and not value.is_integer():
            raise EditError(f"_FillValue {value} is not an integer, as the {dtype} data is")
        info = np.iinfo(dtype)
        if not (math.isfinite(value) and info.min <= value <= info.max):
            raise EditError(f"_FillValue {value} is outside the range of {dtype} ({info.min} to {info.max})")
        return int(value)
    number = float(value)
    if dtype.itemsize == 4 and math.isfinite(number) and abs(number) > float(np.finfo(np.float32).max):
        raise EditError(f"_FillValue {value} is beyond the float32 range of the data")
    if node.zarr_format == 3:
        return encode_fill_value(number)
    if not math.isfinite(number):
        raise EditError(f"_FillValue {value}: JSON has no NaN or infinities, and netCDF-C reads a number here")
    return number


def set_cf_attributes(session: EditSession, path: str, values: Mapping[str, JSON], *, label: str = "") -> Batch:
    """Set CF attributes of the array at *path* as one edit, the encoding ones written as the readers
    expect them (``None`` deletes).

    ``scale_factor`` and ``add_offset`` are finite numbers (text is read as a number).
    ``_FillValue`` is written in the array's type: on zarr v3 a float one in base64 as xarray's
    ``FillValueCoder`` does (``-9999.0`` → ``"AAAAAICHw8A="``), an integer one as a number; on
    NCZarr a number, typed in ``_nczarr_attr`` like the variable (the session does that), where
    ``.zarray`` holds no other fill value (netCDF-C 4.9 writes null there; 4.10 writes the fill
    value, which xarray masks with).  On zarr v2 written by xarray the mask value is the array's
    ``fill_value`` (``.zarray``), which is read-only: a ``_FillValue`` attribute would be
    ignored by xarray, so it is refused.  Other
    attributes go through :func:`set_attributes` as they are.
    """
    node = session.load(path)
    out: dict[str, JSON] = {}
    for name, value in values.items():
        if name not in CF_ENCODING or value is None:
            out[name] = value
            continue
        if node.array is None:
            raise EditError(f"{path} is not an array: {name} belongs to a variable")
        number = _typed_number(name, value)
        if name == "_FillValue":
            fill = _cf_fill_value(node, number)
            why = fill_value_read_only(node)
            if why is not None and not (_is_nczarr(node) and same(node.array.fill_value, fill)):
                raise ReadOnlyFieldError(f"{path}: {why}")
            out[name] = fill
        else:
            if not math.isfinite(number):
                raise EditError(f"{name} must be a finite number, got {value!r}")
            out[name] = float(number)
    return set_attributes(session, path, out, label=label or f"set CF attributes of {path}")


def fill_value_read_only(node: Node) -> str | None:
    """Why the CF ``_FillValue`` of array *node* cannot be changed by a metadata edit, or None.

    On zarr v2 xarray masks with the array's ``fill_value`` (``.zarray``), which is read-only
    (it says what unwritten chunks hold): xarray ignores a ``_FillValue`` attribute there.  On
    NCZarr netCDF-C reads the attribute, but netCDF-C 4.10 writes the fill value in ``.zarray``
    too, and xarray masks with that: only where ``.zarray`` holds none (netCDF-C 4.9) do both
    read the attribute.
    """
    if node.array is None or node.zarr_format != 2:
        return None
    stored = node.array.fill_value
    if not _is_nczarr(node):
        return (f"on zarr v2 xarray masks with the array's fill_value (.zarray, {stored!r}), which is read-only here "
                "(it says what unwritten chunks hold); xarray ignores a _FillValue attribute on zarr v2")
    if stored is not None:
        return (f"netCDF-C would read a new _FillValue, but xarray masks with the array's fill_value (.zarray, "
                f"{stored!r}), which is read-only here: the two readers would disagree; rewrite the variable with "
                "netCDF-C to change its fill value")
    return None


def _is_nczarr(node: Node) -> bool:
    """Whether netCDF-C reads the attributes of *node* (NCZarr attribute types or dimension references)."""
    key, _where = attributes_location(node, "")
    return _types_location(key, node.attributes) is not None or dimension_references(node) is not None
