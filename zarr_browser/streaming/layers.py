"""What napari layers a zarr node becomes, as plain data (no napari, no Qt).

:func:`layer_plan` maps a node to :class:`LayerSpec` values by the conventions it carries
(conventions.md §3.3–3.7, §7.3):

* **OME-NGFF image** → one multiscale image (split per channel along the ``channel`` axis, with
  the ``omero`` name, colour, window and ``active`` of each channel), ``scale`` and
  ``translate`` from level 0 composed with the multiscale's global transformations, axis
  labels and units from ``axes``; then its label images as labels layers (``image-label``
  colours, ``properties`` as features, their own transformations).
* **label image** / **labels group** → labels layers.
* **plate** → a multiscale mosaic of wells (level *k* is level *k* of the first field of each
  well, tiles opened and read lazily where the view needs them) with the first field's
  channels; plus the labels of that field, likewise.
* **well** → its only field; several fields as a mosaic like a plate's, a tile per field in a
  nearly square grid, in the order the well lists them (fields carry no position on the well).
* **bioformats2raw** → its only series, or nothing and the list of series (the spec asks
  readers to tell users there is more than one image; opening is explicit).
* **array** (≥ 2-D, numeric) → one image with axis labels from its dimension names (any
  source) and scale/translate from OME axes or from regular CF coordinate arrays.
* **any other group** → its image-like child arrays, up to a limit; the rest are listed.

Everything here reads metadata only (plus, for CF scales, the small 1-D coordinate arrays);
pixels are read when napari indexes the :class:`~zarr_browser.streaming.levels.LevelArray`
objects.  Colours are given as ``#RRGGBB`` strings and RGBA tuples: the napari glue builds
napari colormaps from them.
"""

from __future__ import annotations

import logging
import math
import posixpath
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeGuard
from urllib.parse import urlsplit

import numpy as np

from zarr_browser.core.dimensions import looks_rgb, resolve_dimension_names
from zarr_browser.core.jsonio import finite_number
from zarr_browser.core.model import join_path, parent_path
from zarr_browser.core.preview import not_an_image
from zarr_browser.core.safety import open_array
from zarr_browser.errors import UnsafeArrayError, ZarrBrowserError
from zarr_browser.streaming.engine import MAX_BLOCKS_PER_READ
from zarr_browser.streaming.levels import LevelArray, StridedSource
from zarr_browser.streaming.mosaic import MosaicGeometry, MosaicSource, TileUnavailable

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import Context, Convention, ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.jsonio import JSON
    from zarr_browser.core.model import Node

__all__ = ["MAX_ARRAYS", "LayerPlan", "LayerSpec", "layer_plan", "layers_for", "not_an_image", "slider_range"]

logger = logging.getLogger(__name__)

OME = "ome-ngff"
MAX_ARRAYS = 8
"""How many image-like arrays of a group without image conventions are opened at once."""

MAX_PLANE_BYTES = 1 << 30
"""Largest plane of a single-level array opened in napari (it reads and keeps a whole plane)."""

MAX_COORDINATE_LENGTH = 1_000_000
"""Longest CF coordinate array read to find a regular spacing."""

LayerType = Literal["image", "labels"]
MAX_FIELDS_NAMED = 8
"""Fields of a well the note of its mosaic names one by one; the others are counted."""
_HEX = frozenset("0123456789abcdefABCDEF")
_LEGACY_5D = ({"name": "t", "type": "time", "unit": None}, {"name": "c", "type": "channel", "unit": None},
              {"name": "z", "type": "space", "unit": None}, {"name": "y", "type": "space", "unit": None},
              {"name": "x", "type": "space", "unit": None})
_DEFAULT_NAMES = frozenset({"image", "default", "multiscale", "multiscales"})
"""Multiscale names writers give every image (ome-zarr-py: "image"): not worth a layer name."""
_STORE_SUFFIXES = (".ome.zarr", ".zarr", ".ome.zip", ".zip", ".ozx")
"""What a store's file or folder name ends with, left out of the layer names."""


@dataclass(frozen=True, slots=True, eq=False)
class LayerSpec:
    """One napari layer to add, as plain data.

    Attributes
    ----------
    data
        The levels, largest first, for a multiscale layer; one level otherwise.
    layer_type
        ``"image"`` or ``"labels"``.
    kwargs
        Keyword arguments of napari's ``add_image`` / ``add_labels``, napari-free: ``name``,
        ``multiscale``, ``scale``, ``translate``, ``axis_labels``, ``units``, ``visible``,
        ``metadata``; for images ``contrast_limits``, ``colormap`` (``"#RRGGBB"`` or None),
        ``rgb`` and, for a multichannel image, ``channel_axis`` with per-channel lists of
        ``name``, ``colormap``, ``contrast_limits`` and ``visible``; for labels ``colors``
        (label value → RGBA floats in 0–1) and ``features`` (columns, with ``index`` holding
        the label values).
    path
        The node the layer shows.
    role
        ``"image"``, ``"labels"``, ``"plate"``, ``"plate-labels"``, ``"well"``, ``"well-labels"``
        or ``"array"``.
    """

    data: list[LevelArray] | LevelArray
    layer_type: LayerType
    kwargs: Mapping[str, Any]
    path: str
    role: str

    @property
    def levels(self) -> list[LevelArray]:
        """The levels, largest first (one item when not multiscale)."""
        return list(self.data) if isinstance(self.data, list) else [self.data]

    @property
    def channel_axis(self) -> int | None:
        value = self.kwargs.get("channel_axis")
        return value if isinstance(value, int) else None

    @property
    def names(self) -> list[str]:
        """The layer names napari will show (one per channel for a multichannel image)."""
        name = self.kwargs.get("name")
        return list(name) if isinstance(name, list | tuple) else [str(name)]


@dataclass(frozen=True, slots=True)
class LayerPlan:
    """The layers of a node, and what a user should be told about it.

    Attributes
    ----------
    path
        The node planned.
    specs
        The layers, in the order to add them (images before their labels).
    notes
        Information for the user: what was left out on purpose and where to find it (several
        series or fields, too many arrays, child images).
    others
        Paths of nodes that were not opened but can be, one by one (series, fields, arrays
        beyond the limit, child images): the dock lists them.
    problems
        What could not be shown because something is wrong: refused codecs, unreadable nodes,
        broken multiscale metadata.
    """

    path: str
    specs: tuple[LayerSpec, ...] = ()
    notes: tuple[str, ...] = ()
    others: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def messages(self) -> tuple[str, ...]:
        """Problems, then notes."""
        return self.problems + self.notes


def layers_for(hierarchy: Hierarchy, node: Node, registry: ConventionRegistry, ctx: Context) -> list[LayerSpec]:
    """The napari layers of *node* (see :func:`layer_plan`, which also says what was left out)."""
    return list(layer_plan(hierarchy, node, registry, ctx).specs)


def layer_plan(
    hierarchy: Hierarchy,
    node: Node,
    registry: ConventionRegistry,
    ctx: Context,
    *,
    max_arrays: int = MAX_ARRAYS,
) -> LayerPlan:
    """Map *node* to napari layers by its conventions (see the module docstring).

    Reads metadata through *ctx* (and small CF coordinate arrays); never pixels.  Bad metadata
    and refused arrays become problems of the plan, not exceptions; store failures
    (:class:`~zarr_browser.errors.StoreReadError`) propagate.
    """
    return _Planner(hierarchy, registry, ctx, max_arrays).plan(node)


# -- small helpers ---------------------------------------------------------------------------


def _ome_namespace(node: Node) -> Mapping[str, JSON]:
    """The OME metadata object of a node: ``attributes.ome`` (0.5+) or the attributes (≤ 0.4)."""
    ome = node.attributes.get("ome")
    return ome if isinstance(ome, dict) else node.attributes


def _resolve(base: str, relative: str) -> str | None:
    """The absolute path *relative* names from the group at *base*; None when it leaves the store."""
    if not relative or relative.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(base, relative))
    if not joined.startswith("/") or joined.startswith("//") or ".." in joined.split("/"):
        return None
    return joined


def _numbers(value: Any, n: int) -> list[float] | None:
    if isinstance(value, list) and len(value) == n and all(_finite(v) for v in value):
        return [float(v) for v in value]
    return None


def slider_range(window: Mapping[str, Any], limits: tuple[float, float] | None,
                  dtype: np.dtype[Any]) -> tuple[float, float] | None:
    """The range of a channel's contrast slider: the omero window's ``min``/``max``, else the
    range of an 8- or 16-bit integer type; None to leave napari's.

    napari makes the range of a layer given contrast limits those very limits, so the slider
    could not widen an image's display window at all (audit A).  A range that does not hold
    the limits is not used.
    """
    low, high = window.get("min"), window.get("max")
    if _finite(low) and _finite(high) and low < high:
        candidate: tuple[float, float] | None = (float(low), float(high))
    elif dtype.kind in "iu" and dtype.itemsize <= 2:
        info = np.iinfo(dtype)
        candidate = (float(info.min), float(info.max))
    else:
        return None
    if candidate is not None and limits is not None and not candidate[0] <= limits[0] < limits[1] <= candidate[1]:
        return None
    return candidate


def _hex_colour(value: Any) -> str | None:
    if isinstance(value, str) and len(value) == 6 and set(value) <= _HEX:
        return "#" + value.upper()
    return None


def _is_complex(dtype: str) -> bool:
    try:
        return np.dtype(dtype).kind == "c"
    except TypeError:
        return False


def _is_numeric(dtype: str) -> bool:
    try:
        kind = np.dtype(dtype).kind
    except TypeError:
        return False
    return kind in "biuf"


WIDE_INTEGER_SAMPLE = 4_000_000
"""Values of a 64-bit integer array's coarsest level read to set its contrast (32 MB at most)."""


def _wide_integer_limits(level: LevelArray, path: str) -> tuple[float, float] | None:
    """Contrast limits for a 64-bit integer image, from its coarsest level (read here, in the
    planner's worker), or None for other dtypes and levels too large to read.

    napari computes them in float64, where values above 2**53 that differ by less than their
    spacing become equal limits - which napari refuses, so the layer would not open (64-bit ids,
    as segmentations store them).  The limits given here are widened to the next float instead.
    """
    dtype = np.dtype(level.dtype)
    if dtype.kind not in "iu" or dtype.itemsize < 8 or math.prod(level.shape) > WIDE_INTEGER_SAMPLE:
        return None
    try:
        values = np.asarray(level[tuple(slice(None) for _ in level.shape)])
    except ZarrBrowserError as err:
        logger.info("contrast of %s left to napari: %s", path, err)
        return None
    if values.size == 0:
        return None
    low, high = float(values.min()), float(values.max())
    if high <= low:
        high = float(np.nextafter(low, np.inf))
    return low, high


def _is_integer(dtype: str) -> bool:
    try:
        return np.dtype(dtype).kind in "iu"
    except TypeError:
        return False


def _store_name(url: str) -> str:
    """The name of the store at *url* in layer names: its last path segment without the suffixes
    of a store (``img.ome.zarr``, ``img.ome.zarr.zip`` and ``s3://bucket/img.ome.zarr`` are
    all ``img``: a folder and its zip, or copies on two servers, are the same data)."""
    parts = urlsplit(url) if "://" in url else None
    path = (parts.path if parts is not None else url).replace("\\", "/").rstrip("/")
    name = path.rsplit("/", 1)[-1] or (parts.netloc if parts is not None else "")
    return _without_store_suffix(name, _STORE_SUFFIXES) or url


def _without_store_suffix(name: str, suffixes: Sequence[str]) -> str:
    """*name* without the *suffixes* it ends with (``.ome.zarr.zip``: both), never emptied."""
    stripped = True
    while stripped:
        stripped = False
        for suffix in suffixes:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name, stripped = name[: -len(suffix)], True
                break
    return name


@dataclass
class _Pixels:
    """The placement of a multiscale image: axes, scale and translation of level 0."""

    axes: list[dict[str, Any]]
    scale: list[float]
    translate: list[float]


# -- the planner -----------------------------------------------------------------------------


MAX_CHANNEL_LAYERS = 64
"""Channels opened as layers of their own; beyond, one layer with a channel slider (napari
builds a layer in ~0.1 s: 300 channels held viewer.open for 40 s, 3000 for many minutes)."""
LABEL_PROBES = 4
"""Requests in flight at once for the label images of a plate's wells (most are absent): the
image's tiles and chunks get the other connections first."""


@dataclass
class _Result:
    specs: list[LayerSpec] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)

    def extend(self, other: _Result) -> None:
        self.specs.extend(other.specs)
        self.notes.extend(other.notes)
        self.problems.extend(other.problems)
        self.others.extend(other.others)


class _Planner:
    """Builds the layer specs of nodes of one hierarchy."""

    def __init__(self, hierarchy: Hierarchy, registry: ConventionRegistry, ctx: Context, max_arrays: int) -> None:
        self.hierarchy = hierarchy
        self.registry = registry
        self.ctx = ctx
        self.max_arrays = max_arrays
        self.no_label_image: set[str] = set()
        """Where a plate's label image was asked for and none of its documents exists (remembered
        for every level of the labels mosaic; most wells have no labels)."""
        self._label_probes = threading.Lock()
        """Held while label images are probed: tiles of two levels prepared at once on two
        workers probed the same wells twice (a flaky count in test_plate_labels_http)."""
        self.ome: Convention | None
        try:
            self.ome = registry.get(OME)
        except KeyError:
            self.ome = None

    # -- dispatch ----------------------------------------------------------------------------
    def plan(self, node: Node) -> LayerPlan:
        result = self._dispatch(node)
        return LayerPlan(node.path, tuple(result.specs), tuple(result.notes), tuple(dict.fromkeys(result.others)),
                         tuple(result.problems))

    def _roles(self, node: Node) -> tuple[str, ...]:
        for detection in self.registry.detect(node):
            if detection.name == OME:
                return detection.roles
        return ()

    def _describe(self, node: Node) -> dict[str, Any]:
        if self.ome is None:
            return {}
        return dict(self.ome.describe(node, self.ctx))

    def _dispatch(self, node: Node) -> _Result:
        if node.kind == "error":
            return _Result(problems=[f"{node.path} cannot be read: {node.error}"])
        if node.is_array:
            return self._array(node, self.ctx.parent(node))
        roles = self._roles(node)
        if "plate" in roles:
            return self._plate(node)
        if "bioformats2raw" in roles:
            return self._bioformats2raw(node)
        if "image" in roles:
            return self._image(node)
        if "label-image" in roles:
            return self._label_image(node, None, image_axes=self._image_axes_above(node))
        if "labels" in roles:
            image = self.ctx.parent(node)
            axes = self._image_axes_above(node, labels_group=True) if image is not None else []
            return self._labels_group(node, None, axes)
        if "well" in roles:
            return self._well(node)
        return self._group(node)

    def _image_above(self, node: Node, *, labels_group: bool = False) -> Node | None:
        """The image a label image (``<image>/labels/<name>``) or a labels group (``<image>/labels``)
        belongs to, or None."""
        labels = node.path if labels_group else parent_path(node.path)
        image_path = parent_path(labels) if labels and posixpath.basename(labels) == "labels" else None
        image = self.ctx.node(image_path) if image_path else None
        return image if image is not None and "image" in self._roles(image) else None

    def _image_axes_above(self, node: Node, *, labels_group: bool = False) -> list[dict[str, Any]]:
        """The axes of the image a label image or a labels group belongs to (:meth:`_image_above`), or none."""
        image = self._image_above(node, labels_group=labels_group)
        if image is None:
            return []
        return [dict(a) for a in self._describe(image).get("axes") or [] if isinstance(a, dict)]

    def _layer_prefix(self, path: str) -> str:
        """Where the node at *path* is, as layer names begin: the store's name (:func:`_store_name`),
        then the node's path below the root: ``img`` (the root), ``img/labels/cells``, ``plate/A/2/0``.
        A group named like a store (``x.zarr``) inside this one stands for a store of its own:
        ``x``, ``x/s0`` (napari opens ``coll.zarr/x.zarr`` from ``coll.zarr``, its enclosing group).

        Layers opened below the root had bare names (``cells``, ``s0``, ``temperature``: the labels
        of two wells were ``cells`` and ``cells [1]``), and a zip was named ``img.ome.zarr``
        where its folder was ``img`` (audit G, 11).
        """
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts) - 1, -1, -1):
            if _without_store_suffix(parts[i], (".zarr",)) != parts[i]:
                return "/".join([_without_store_suffix(parts[i], _STORE_SUFFIXES), *parts[i + 1:]])
        return "/".join([_store_name(self.hierarchy.url), *parts])

    def _name(self, node: Node, description: Mapping[str, Any] | None = None) -> str:
        """What the layers of an image are named by (``<name>: <channel>``): where it is
        (:meth:`_layer_prefix`).  An image at the root of its store whose multiscale has a name of its own
        (not a writer's default such as ome-zarr-py's "image") is named by it, as napari-ome-zarr
        names it."""
        where = self._layer_prefix(node.path)
        name = description.get("name") if description else None
        if "/" not in where and isinstance(name, str) and name.strip("/") \
                and name.strip().lower() not in _DEFAULT_NAMES:
            return name.rstrip("/").rsplit("/", 1)[-1]
        return where

    def _metadata(self, path: str, role: str) -> dict[str, Any]:
        return {"zarr_browser": {"url": self.hierarchy.url, "path": path, "role": role}}

    # -- OME images --------------------------------------------------------------------------
    def _levels(self, node: Node, description: Mapping[str, Any], result: _Result) -> list[LevelArray] | None:
        """The level arrays of an OME multiscale, largest first; None (with a note) when unusable."""
        levels: list[LevelArray] = []
        paths = [level.get("path") for level in description.get("levels") or [] if isinstance(level, dict)]
        self.hierarchy.prefetch(t for p in paths if isinstance(p, str) and (t := _resolve(node.path, p)))
        for level in description.get("levels") or []:
            path = level.get("path") if isinstance(level, dict) else None
            target = _resolve(node.path, path) if isinstance(path, str) else None
            level_node = self.ctx.node(target) if target is not None else None
            if level_node is None or level_node.array is None:
                result.problems.append(f"{node.path}: level {path!r} is not an array; it is left out")
                continue
            try:
                array = LevelArray.open(self.hierarchy.access, level_node)
            except UnsafeArrayError as err:
                result.problems.append(str(err))
                return None
            if levels and (array.ndim != levels[0].ndim or any(
                    a > b for a, b in zip(array.shape, levels[-1].shape, strict=True))):
                result.problems.append(f"{node.path}: level {path!r} {array.shape} does not follow the levels before "
                                    "it; it is left out")
                continue
            levels.append(array)
        if not levels:
            result.problems.append(f"{node.path}: no readable multiscale level; nothing to show")
            return None
        # a pyramid that stops at a large plane (one level is common) goes on, strided
        levels.extend(_strided_pyramid(levels[-1], rgb=False)[1:])
        return levels

    def _placement(self, description: Mapping[str, Any], ndim: int, level: int = 0) -> _Pixels:
        """Axes, and scale/translation of level *level* composed with the global transformations.

        The global transformations apply after the level's own (§3.3):
        ``x' = gs * (ls * x + lt) + gt``, so napari's scale is ``gs * ls`` and its translate
        ``gs * lt + gt``.
        """
        axes = [dict(a) for a in description.get("axes") or [] if isinstance(a, dict)]
        if len(axes) != ndim:
            axes = [dict(a) for a in _LEGACY_5D] if not axes and ndim == 5 else [
                {"name": None, "type": None, "unit": None} for _ in range(ndim)]
        levels = description.get("levels") or []
        entry = levels[level] if -len(levels) <= level < len(levels) and isinstance(levels[level], dict) else {}
        ls = _numbers(entry.get("scale"), ndim) or [1.0] * ndim
        lt = _numbers(entry.get("translation"), ndim) or [0.0] * ndim
        transforms = description.get("transforms") or {}
        gs = _numbers(transforms.get("scale"), ndim) or [1.0] * ndim
        gt = _numbers(transforms.get("translation"), ndim) or [0.0] * ndim
        scale = [g * s for g, s in zip(gs, ls, strict=True)]
        translate = [g * t + u for g, t, u in zip(gs, lt, gt, strict=True)]
        return _Pixels(axes, scale, translate)

    def _image(self, node: Node) -> _Result:
        result = _Result()
        description = self._describe(node)
        levels = self._levels(node, description, result)
        if levels is None:
            return result
        pixels = self._placement(description, levels[0].ndim)
        base = self._name(node, description)
        spec = self._image_spec(levels, pixels, description, node, base, role="image", result=result)
        result.specs.append(spec)
        labels_path = join_path(node.path, "labels")
        if isinstance(description.get("labels"), list) and description["labels"]:
            labels_node = self.ctx.node(labels_path)
            if labels_node is not None:
                kept = "channel_axis" not in spec.kwargs and any(a.get("type") == "channel" for a in pixels.axes)
                result.extend(self._labels_group(labels_node, base, pixels.axes, image_keeps_channel=kept))
        return result

    def _image_spec(
        self,
        levels: list[LevelArray],
        pixels: _Pixels,
        description: Mapping[str, Any],
        node: Node,
        base: str,
        *,
        role: str,
        result: _Result,
        extra: Mapping[str, Any] | None = None,
    ) -> LayerSpec:
        ndim = levels[0].ndim
        types = [a.get("type") for a in pixels.axes]
        channel_axis = types.index("channel") if "channel" in types else None
        if channel_axis is not None and levels[0].shape[channel_axis] > MAX_CHANNEL_LAYERS:
            result.notes.append(f"{node.path}: {levels[0].shape[channel_axis]:,} channels are shown as one layer with "
                                f"a channel slider (napari takes minutes to build more than {MAX_CHANNEL_LAYERS} "
                                "layers, one per channel)")
            channel_axis = None
            description = {**description, "channels": []}
        keep = [i for i in range(ndim) if i != channel_axis]
        kwargs: dict[str, Any] = {"multiscale": len(levels) > 1}
        kwargs.update(self._axes_kwargs(pixels, keep))
        channels = [c for c in description.get("channels") or [] if isinstance(c, dict)]
        greyscale = _rdefs_model(node) == "greyscale"

        def channel(i: int) -> tuple[str, str | None, tuple[float, float] | None, bool, tuple[float, float] | None]:
            info = channels[i] if i < len(channels) else {}
            label = info.get("label") if isinstance(info.get("label"), str) else f"channel_{i}"
            colour = _hex_colour(info.get("color"))
            if greyscale and colour is not None:
                colour = "#FFFFFF"
            window_value = info.get("window")
            window = window_value if isinstance(window_value, dict) else {}
            start, end = window.get("start"), window.get("end")
            limits = (float(start), float(end)) if _finite(start) and _finite(end) and start < end else None
            active = info.get("active")
            visible = active if isinstance(active, bool) else True
            return f"{base}: {label}", colour, limits, visible, slider_range(window, limits, levels[0].dtype)

        if channel_axis is not None:
            count = levels[0].shape[channel_axis]
            per = [channel(i) for i in range(count)]
            kwargs["channel_axis"] = channel_axis
            kwargs["name"] = [p[0] for p in per]
            kwargs["colormap"] = [p[1] for p in per]
            kwargs["contrast_limits"] = [p[2] for p in per]
            kwargs["visible"] = [p[3] for p in per]
            ranges = [p[4] for p in per]
        else:
            name, colour, limits, visible, slider = channel(0) if channels else (
                base, None, None, True, slider_range({}, None, levels[0].dtype))
            kwargs.update(name=name, colormap=colour, contrast_limits=limits, visible=visible)
            ranges = [slider]
        kwargs["rgb"] = False
        kwargs["metadata"] = self._metadata(node.path, role)
        kwargs["metadata"]["zarr_browser"].update(extra or {})
        if any(r is not None for r in ranges):  # set on the layers once napari has made them
            kwargs["metadata"]["zarr_browser"]["contrast_ranges"] = ranges
        data: list[LevelArray] | LevelArray = levels if len(levels) > 1 else levels[0]
        return LayerSpec(data, "image", kwargs, node.path, role)

    @staticmethod
    def _axes_kwargs(pixels: _Pixels, keep: Sequence[int]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scale": tuple(pixels.scale[i] for i in keep),
            "translate": tuple(pixels.translate[i] for i in keep),
        }
        names = [pixels.axes[i].get("name") for i in keep]
        if all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names):
            out["axis_labels"] = tuple(names)
        units = [pixels.axes[i].get("unit") for i in keep]
        if any(isinstance(u, str) and u for u in units):
            out["units"] = tuple(u if isinstance(u, str) and u else None for u in units)
        return out

    # -- OME labels --------------------------------------------------------------------------
    def _labels_group(self, node: Node, base: str | None, image_axes: Sequence[Mapping[str, Any]] = (), *,
                      image_keeps_channel: bool = False) -> _Result:
        result = _Result()
        names = _ome_namespace(node).get("labels")
        if not isinstance(names, list):
            return result
        for name in dict.fromkeys(n for n in names if isinstance(n, str)):
            target = _resolve(node.path, name)
            label_node = self.ctx.node(target) if target is not None else None
            if label_node is None:
                result.problems.append(f"{node.path}: label {name!r} is listed but there is no group there")
                continue
            roles = self._roles(label_node)
            if "label-image" not in roles and "image" not in roles:
                result.problems.append(f"{label_node.path} is not a multiscale label image; it is left out")
                continue
            result.extend(self._label_image(label_node, base, name=name, image_axes=image_axes,
                                            image_keeps_channel=image_keeps_channel))
        return result

    def _label_image(
        self, node: Node, base: str | None, *, name: str | None = None, image_axes: Sequence[Mapping[str, Any]] = (),
        image_keeps_channel: bool = False,
    ) -> _Result:
        """The labels layer of a label image.  A channel axis of one is dropped (ome-zarr-py writes
        ``tczyx`` labels for a ``tczyx`` image) unless the image's layer keeps its channel axis:
        the image's layers, one per channel, have none, and napari lines layers up from their
        last axis (the image's ``t`` fell on the labels' ``c``)."""
        result = _Result()
        description = self._describe(node)
        levels = self._levels(node, description, result)
        if levels is None:
            return result
        if base is None:  # opened by itself (or its labels group): named as its image names it
            image = self._image_above(node)
            base = self._name(image, self._describe(image)) if image is not None else None
        layer_name = f"{base}: {name or node.name}" if base else self._name(node, description)
        if not _is_integer(str(levels[0].dtype)):
            result.problems.append(f"{node.path}: label pixels must be integers, not {levels[0].dtype}; shown as an "
                                "image")
            pixels = self._placement(description, levels[0].ndim)
            spec = self._image_spec(levels, pixels, {**description, "channels": []}, node, layer_name, role="image",
                                    result=result)
            result.specs.append(spec)
            return result
        pixels = _with_image_units(self._placement(description, levels[0].ndim), image_axes)
        if not image_keeps_channel:
            levels, pixels = _without_single_channel(levels, pixels)
        kwargs: dict[str, Any] = {"name": layer_name, "multiscale": len(levels) > 1, "visible": True}
        kwargs.update(self._axes_kwargs(pixels, range(levels[0].ndim)))
        label_value = description.get("label")
        label = label_value if isinstance(label_value, dict) else {}
        colors = _label_colors(label.get("colors"))
        if colors:
            kwargs["colors"] = colors
        features = _label_features(label.get("properties"))
        if features:
            kwargs["features"] = features
        kwargs["metadata"] = self._metadata(node.path, "labels")
        data: list[LevelArray] | LevelArray = levels if len(levels) > 1 else levels[0]
        result.specs.append(LayerSpec(data, "labels", kwargs, node.path, "labels"))
        return result

    # -- HCS ---------------------------------------------------------------------------------
    def _plate(self, node: Node) -> _Result:
        result = _Result()
        plate = self._describe(node).get("plate") or {}
        rows = [r for r in plate.get("rows") or []]
        columns = [c for c in plate.get("columns") or []]
        cells: dict[tuple[int, int], str] = {}
        for well in plate.get("wells") or []:
            path = well.get("path") if isinstance(well, dict) else None
            if not isinstance(path, str):
                continue
            row, column = well.get("rowIndex"), well.get("columnIndex")
            if not (isinstance(row, int) and isinstance(column, int)):
                row_name, _, column_name = path.partition("/")
                row = rows.index(row_name) if row_name in rows else None
                column = columns.index(column_name) if column_name in columns else None
            target = _resolve(node.path, path)
            if isinstance(row, int) and isinstance(column, int) and row >= 0 and column >= 0 and target:
                cells[(row, column)] = target
        if not cells:
            result.notes.append(f"{node.path}: the plate lists no wells; nothing to show")
            return result
        n_rows = max(len(rows), 1 + max(r for r, _ in cells))
        n_columns = max(len(columns), 1 + max(c for _, c in cells))
        first: tuple[Node, Node, dict[str, Any]] | None = None
        for cell in sorted(cells, key=lambda rc: cells[rc]):  # the first well by path, as napari-ome-zarr
            first = self._first_field(cells[cell])
            if first is not None:
                break
        if first is None:
            result.problems.append(f"{node.path}: no well has a readable field; nothing to show")
            return result
        well_node, field_node, description = first
        result.extend(self._tiled(node, (n_rows, n_columns, cells), field_node, description,
                                  posixpath.relpath(field_node.path, well_node.path), role="plate",
                                  name=str(plate.get("name") or self._name(node))))
        result.others.extend(cells[c] for c in sorted(cells))
        return result

    def _tiled(self, node: Node, grid: tuple[int, int, Mapping[tuple[int, int], str]], field_node: Node,
               description: Mapping[str, Any], field_path: str | None, *, role: Literal["plate", "well"],
               name: str) -> _Result:
        """The layers of a mosaic of *node* (a plate: a tile per well; a well: a tile per field)
        sized and described by *field_node*, the first field: its image and its labels.
        *field_path*: the field of each well (a plate), or None when the cells are the fields."""
        result = _Result()
        n_rows, n_columns, cells = grid
        levels = self._levels(field_node, description, result)
        if levels is None:
            return result
        pixels = self._placement(description, levels[0].ndim, 0)
        mosaics = self._mosaics(levels, n_rows, n_columns, cells, field_path, None, node.path,
                                title=self._name(node), axes=pixels.axes, whole=role)
        info = {"rows": n_rows, "columns": n_columns, "tile_shape": list(levels[0].shape),
                "field": field_path if field_path is not None else posixpath.basename(field_node.path),
                "name": name, "levels": len(levels)}
        info["wells" if role == "plate" else "fields"] = {cells[c]: list(c) for c in sorted(cells)}
        spec = self._image_spec(mosaics, pixels, description, node, self._name(node), role=role,
                                extra={role: info}, result=result)  # named as its labels
        result.specs.append(spec)
        kept = "channel_axis" not in spec.kwargs and any(a.get("type") == "channel" for a in pixels.axes)
        result.extend(self._plate_labels(node, field_node, grid, field_path, pixels.axes, role=role,
                                         image_keeps_channel=kept))
        return result

    def _first_field(self, well_path: str) -> tuple[Node, Node, dict[str, Any]] | None:
        well_node = self.ctx.node(well_path)
        if well_node is None:
            return None
        field_path = _first_field_path(well_node)
        target = _resolve(well_path, field_path) if field_path else None
        field_node = self.ctx.node(target) if target else None
        if field_node is None or "image" not in self._roles(field_node):
            return None
        return well_node, field_node, self._describe(field_node)

    def _mosaics(
        self, levels: Sequence[LevelArray], rows: int, columns: int, cells: Mapping[tuple[int, int], str],
        field_path: str | None, sub: str | None, name: str, *, title: str, axes: Sequence[Mapping[str, Any]] = (),
        whole: Literal["plate", "well"] = "plate",
    ) -> list[LevelArray]:
        """One lazily tiled mosaic per level of the first field (largest first): the plate as a pyramid.
        A well's mosaic (*whole* ``"well"``, *field_path* None) has a tile per field instead.

        napari reads the level the zoom needs; a level's tiles (that level of each well's field)
        are opened the first time a view touches them.  The cells are the first field's size
        (the first well by path, as napari-ome-zarr): sizing them to the largest field would
        read every well's metadata before the plate can be shown.  Wells that do not fit are
        cropped, and named to the user when their tiles open (:meth:`MosaicSource.problems`).
        """
        names = [str(a.get("name") or f"axis {i}") for i, a in enumerate(axes)] or None
        types = [a.get("type") for a in axes]
        channel_axis = types.index("channel") if "channel" in types else None
        return [
            LevelArray(MosaicSource(MosaicGeometry(rows, columns, level.shape, cells), level.dtype,
                                    _TileOpener(self, field_path, sub, k, level.shape), name=f"{name} level {k}",
                                    title=title, axis_names=names, channel_axis=channel_axis, whole=whole))
            for k, level in enumerate(levels)
        ]

    def _plate_labels(
        self, plate: Node, field_node: Node, grid: tuple[int, int, Mapping[tuple[int, int], str]],
        field_path: str | None, image_axes: Sequence[Mapping[str, Any]], *, role: Literal["plate", "well"] = "plate",
        image_keeps_channel: bool = False,
    ) -> _Result:
        result = _Result()
        labels_node = self.ctx.node(join_path(field_node.path, "labels"))
        names = _ome_namespace(labels_node).get("labels") if labels_node is not None else None
        if labels_node is None or not isinstance(names, list):
            return result
        rows, columns, cells = grid
        for name in dict.fromkeys(n for n in names if isinstance(n, str)):
            target = _resolve(labels_node.path, name)
            label_node = self.ctx.node(target) if target else None
            if label_node is None:
                continue
            description = self._describe(label_node)
            levels = self._levels(label_node, description, result)
            if levels is None or not _is_integer(str(levels[0].dtype)):
                continue
            sub = posixpath.relpath(label_node.path, field_node.path)
            pixels = _with_image_units(self._placement(description, levels[0].ndim, 0), image_axes)
            mosaics = self._mosaics(levels, rows, columns, cells, field_path, sub, f"{plate.path} {sub}",
                                    title=f"{self._name(plate)}: {name}", axes=pixels.axes, whole=role)
            if not image_keeps_channel:  # the plate's channels are layers: a labels c of one would take their t
                mosaics, pixels = _without_single_channel(mosaics, pixels)
            kwargs: dict[str, Any] = {"name": f"{self._name(plate)}: {name}", "multiscale": len(mosaics) > 1,
                                      "visible": True}
            kwargs.update(self._axes_kwargs(pixels, range(mosaics[0].ndim)))
            label_value = description.get("label")
            label = label_value if isinstance(label_value, dict) else {}
            colors = _label_colors(label.get("colors"))
            if colors:
                kwargs["colors"] = colors
            kwargs["metadata"] = self._metadata(plate.path, f"{role}-labels")
            data: list[LevelArray] | LevelArray = mosaics if len(mosaics) > 1 else mosaics[0]
            result.specs.append(LayerSpec(data, "labels", kwargs, plate.path, f"{role}-labels"))
        return result

    def prepare_tiles(self, well_paths: Sequence[str], field_path: str | None, sub: str | None,
                      level: int = -1) -> None:
        """Prefetch concurrently what :meth:`open_tile` reads for each well, stage by stage
        (*field_path* None: the paths are the fields of a well, not wells).

        For a label image (*sub*) the wells' images come first (what the image mosaic reads;
        shared with it, never read twice), then the label images, a few requests at a time, so
        the labels mosaic does not hold back the image's tiles and chunks (labels of some wells
        only are usual: the others' label images are asked for once and are remembered absent).
        """
        hierarchy = self.hierarchy
        fmt = hierarchy.root.zarr_format or 3
        if sub:
            self.prepare_tiles(well_paths, field_path, None, level)
        if field_path is not None:
            hierarchy.prefetch(well_paths, expect=(fmt, "group"))
        images: list[str] = []
        for well_path in well_paths:
            if field_path is None:
                base: str | None = well_path
            else:
                well_node = self.ctx.node(well_path)
                base = _resolve(well_path, (_first_field_path(well_node) if well_node else None) or field_path)
            image_path = _resolve(base, sub) if base and sub else base
            if image_path:
                images.append(image_path)
        if sub:
            with self._label_probes:  # the second caller finds the first one's answers
                images = [p for p in images if p not in self.no_label_image]
                self.no_label_image.update(hierarchy.prefetch(images, expect=(fmt, "image"),
                                                              concurrency=LABEL_PROBES))
        else:
            hierarchy.prefetch(images, expect=(fmt, "group"))
        levels: list[str] = []
        for image_path in images:
            image_node = self.ctx.node(image_path) if image_path not in self.no_label_image else None
            path = _level_path(image_node, level) if image_node is not None else None
            if path is None and image_node is not None and level >= 0:
                path = _level_path(image_node, -1)  # a shorter pyramid: its coarsest level stands in
            if path is not None and (target := _resolve(image_path, path)):
                levels.append(target)
        hierarchy.prefetch(levels, expect=(fmt, "array-data"))  # tiles need no attributes

    def open_tile(
        self, well_path: str, field_path: str | None, sub: str | None, level: int = -1,
        tile_shape: Sequence[int] | None = None, notes: list[str] | None = None,
    ) -> LevelArray | None:
        """Level *level* of the first field of a well (or of its label *sub*), for a mosaic tile.

        A field with fewer levels gives its coarsest one, strided down to *tile_shape* when
        that is a whole factor.  Raises :class:`TileUnavailable` saying why a well has no tile
        (its cell stays empty); what the user should know of a tile that opens anyway (a well
        whose metadata is unreadable, opened at the first well's field path) goes to *notes*.
        For a label image (*sub*) a missing well and a field without that label image are no
        problem (labels of some wells only are common; the plate's image names missing wells):
        None.  With *field_path* None, *well_path* is a field of a well (a tile of a well's
        mosaic of fields), opened as it is.
        """
        if field_path is None:
            base: str | None = well_path
            what = f"{sub} of the field" if sub else "the field"
        else:
            well_node = self.ctx.node(well_path)
            if well_node is None:
                if sub:
                    return None
                raise TileUnavailable("listed in the plate but missing")
            own_field = _first_field_path(well_node)
            if own_field is None:
                why = (f"its metadata cannot be read ({well_node.error})" if well_node.kind == "error"
                       else "its metadata lists no field")
                if notes is not None and not sub:
                    notes.append(f"{why}; field {field_path} is shown, as in the first well")
                own_field = field_path
            base = _resolve(well_path, own_field)
            if base is None:
                raise TileUnavailable(f"its field path {own_field!r} leaves the store")
            what = f"{sub} of field {own_field}" if sub else f"field {own_field}"
        image_path = _resolve(base, sub) if sub and base else base
        known_absent = sub and image_path in self.no_label_image
        image_node = self.ctx.node(image_path) if image_path and not known_absent else None
        if image_node is None:
            if sub:
                return None
            raise TileUnavailable("listed in the well but missing" if field_path is None else f"{what} is missing")
        if _level_path(image_node, 0) is None:
            raise TileUnavailable(f"{what} is not a multiscale image" + (
                f" ({image_node.error})" if image_node.kind == "error" else ""))
        path = _level_path(image_node, level)
        fewer = path is None and level >= 0 and tile_shape is not None
        if fewer:
            path = _level_path(image_node, -1)  # this field's pyramid stops earlier
        level_path = _resolve(image_node.path, path) if path is not None else None
        level_node = self.ctx.node(level_path) if level_path else None
        if level_node is None or level_node.array is None:
            raise TileUnavailable(f"level {path!r} of {what} is not an array (its cell is empty at that resolution)")
        tile = LevelArray.open(self.hierarchy.access, level_node)
        if not fewer:
            return tile
        assert tile_shape is not None
        factors = [n // t if t and n % t == 0 else (-(-n // t) if t else 0) for n, t in zip(
            tile.shape, tile_shape, strict=False)]
        if len(factors) != len(tile_shape) or any(f < 1 for f in factors):
            raise TileUnavailable(f"{what} has no level {level}, and its coarsest, {path!r} "
                                  f"({'×'.join(map(str, tile.shape))}), cannot stand in for it")
        return LevelArray(StridedSource(tile.source, factors))

    def _well(self, node: Node) -> _Result:
        images = (self._describe(node).get("well") or {}).get("images") or []
        resolved = [_resolve(node.path, i["path"]) for i in images
                    if isinstance(i, dict) and isinstance(i.get("path"), str)]
        fields = [f for f in resolved if f]
        if len(fields) == 1:
            field_node = self.ctx.node(fields[0])
            if field_node is not None:
                return self._dispatch(field_node)
        if not fields:
            return _Result(notes=[f"{node.path}: the well lists no fields; nothing to show"])
        fields = list(dict.fromkeys(fields))
        columns = math.ceil(math.sqrt(len(fields)))
        rows = -(-len(fields) // columns)
        cells = {divmod(i, columns): path for i, path in enumerate(fields)}
        first = next(((f, n) for f in fields if (n := self.ctx.node(f)) is not None and "image" in self._roles(n)),
                     None)
        if first is None:
            return _Result(problems=[f"{node.path}: none of the well's {len(fields)} fields is a readable "
                                     "image; nothing to show"], others=fields)
        result = self._tiled(node, (rows, columns, cells), first[1], self._describe(first[1]), None, role="well",
                             name=self._name(node))
        if result.specs:
            names = ", ".join(posixpath.basename(f) for f in fields[:MAX_FIELDS_NAMED])
            more = f", … {len(fields) - MAX_FIELDS_NAMED} more" if len(fields) > MAX_FIELDS_NAMED else ""
            result.notes.append(f"{node.path}: its {len(fields)} fields ({names}{more}) are shown side by side, "
                                f"{rows} × {columns}, in the order the well lists them")
        result.others.extend(fields)
        return result

    # -- bioformats2raw ----------------------------------------------------------------------
    def _bioformats2raw(self, node: Node) -> _Result:
        info = self._describe(node).get("bioformats2raw") or {}
        series = [s for s in info.get("series") or [] if isinstance(s, str)]
        base = parent_path(node.path) if node.name == "OME" and "series" in _ome_namespace(node) else node.path
        paths = [p for p in (_resolve(base or "/", s) for s in series) if p]
        if len(paths) == 1:
            series_node = self.ctx.node(paths[0])
            if series_node is not None:
                return self._dispatch(series_node)
        if not paths:
            return _Result(notes=[f"{node.path}: a bioformats2raw collection with no series found; nothing to show"])
        shown = ", ".join(series[:20]) + (f", … ({len(series)} in all)" if len(series) > 20 else "")
        return _Result(notes=[f"{node.path} is a bioformats2raw collection of {len(paths)} images (series {shown}); "
                              "open one of them (they are listed in the Zarr browser)"], others=paths)

    # -- plain arrays and groups -------------------------------------------------------------
    def _group(self, node: Node) -> _Result:
        result = _Result()
        children = list(self.ctx.children(node.path))
        arrays = [c for c in children if c.is_array and c.array is not None and not_an_image(c.array) is None]
        left_out = [(c.name, not_an_image(c.array)) for c in children
                    if c.is_array and c.array is not None and c.array.ndim >= 2 and not_an_image(c.array)]
        for child in arrays[: self.max_arrays]:
            result.extend(self._array(child, node))
        skipped = arrays[self.max_arrays:]
        images = [c for c in children if c.is_group and {"image", "plate", "label-image"} & set(self._roles(c))]
        if skipped:
            result.notes.append(f"{node.path}: {len(arrays)} image-like arrays; the first {self.max_arrays} are open, "
                                "the others are listed in the Zarr browser")
        if images:
            names = ", ".join(c.name for c in images[:10]) + (" …" if len(images) > 10 else "")
            result.notes.append(f"{node.path} holds {len(images)} image{'s' if len(images) != 1 else ''} ({names}); "
                                "open them by themselves (they are listed in the Zarr browser)")
        if left_out:
            listed = "; ".join(f"{name} ({why})" for name, why in left_out[:10])
            more = f"; … ({len(left_out)} in all)" if len(left_out) > 10 else ""
            result.notes.append(f"{self._where(node)}: not shown in napari: {listed}{more}")
        if not arrays and not images:
            result.notes.append(f"{self._where(node)} has no image-like array (2-D or more, numeric) and no image")
        result.others.extend(c.path for c in skipped)
        result.others.extend(c.path for c in images)
        return result

    def _array(self, node: Node, parent: Node | None) -> _Result:
        result = _Result()
        meta = node.array
        assert meta is not None
        why = not_an_image(meta)
        if why is not None:
            result.notes.append(f"{self._where(node)}: {why}; nothing to show")
            return result
        try:
            level = LevelArray.open(self.hierarchy.access, node, cf=True)
        except UnsafeArrayError as err:
            result.problems.append(str(err))
            return result
        sources = self.registry.dimension_sources(node, parent)
        names = resolve_dimension_names(node, sources)
        scale = [1.0] * meta.ndim
        translate = [0.0] * meta.ndim
        units: list[str | None] = [None] * meta.ndim
        ome = next((s for s in sources if s.convention == OME), None)
        if ome is not None and ome.scales is not None and len(ome.scales) == meta.ndim:
            scale = [s if s is not None else 1.0 for s in ome.scales]
            if ome.translations is not None:
                translate = [t if t is not None else 0.0 for t in ome.translations]
            if ome.units is not None:
                units = list(ome.units)
        elif names is not None and parent is not None:
            for axis, name in enumerate(names):
                regular = self._regular_coordinate(parent, name, meta.shape[axis])
                if regular is not None:
                    translate[axis], scale[axis], units[axis] = regular
        rgb = looks_rgb(meta.shape, meta.dtype, names)
        if rgb and level.dtype != np.uint8:  # colours are not CF values: xarray's v2 fill mask would blank black
            level = LevelArray.open(self.hierarchy.access, node)
        spatial = meta.ndim - 1 if rgb else meta.ndim  # napari places an RGB image by its other axes
        too_big = _plane_too_big(meta.shape, meta.chunks, level.dtype.itemsize, rgb)
        if too_big:
            result.notes.append(f"{node.path}: {too_big} without a pyramid is too large to show (napari draws a whole "
                                "plane at once); it is left out. A multiscale pyramid (OME-Zarr) of it can be viewed")
            return result
        levels = _strided_pyramid(level, rgb)
        kwargs: dict[str, Any] = {
            "name": self._layer_prefix(node.path),
            "multiscale": len(levels) > 1,
            "scale": tuple(scale[:spatial]),
            "translate": tuple(translate[:spatial]),
        }
        if names is not None and len(set(names[:spatial])) == spatial:
            kwargs["axis_labels"] = tuple(names[:spatial])
        if any(units[:spatial]):
            kwargs["units"] = tuple(units[:spatial])
        limits = _wide_integer_limits(levels[-1], node.path)
        if limits is not None:
            kwargs["contrast_limits"] = limits
        kwargs["rgb"] = rgb
        kwargs["metadata"] = self._metadata(node.path, "array")
        if _is_complex(meta.dtype):
            kwargs["name"] += " |z|"
            kwargs["metadata"]["zarr_browser"]["values"] = "magnitude"
            result.notes.append(f"{self._where(node)}: complex values ({meta.dtype}) are shown as their magnitude |z|")
        if len(levels) > 1:
            kwargs["metadata"]["zarr_browser"]["strided_levels"] = len(levels) - 1
        data: list[LevelArray] | LevelArray = levels if len(levels) > 1 else level
        result.specs.append(LayerSpec(data, "image", kwargs, node.path, "array"))
        return result

    def _where(self, node: Node) -> str:
        """A node's path for a note; the store's name for the root ("/" names nothing)."""
        return node.path if node.path != "/" else _store_name(self.hierarchy.url)

    def _regular_coordinate(self, group: Node, name: str, size: int) -> tuple[float, float, str | None] | None:
        """(first value, step, units) of the 1-D coordinate array *name* of *group*, when evenly spaced."""
        coordinate = self.ctx.node(join_path(group.path, name)) if "/" not in name else None
        meta = coordinate.array if coordinate is not None else None
        if coordinate is None or meta is None or meta.shape != (size,) or size < 2 or size > MAX_COORDINATE_LENGTH:
            return None
        if not _is_numeric(meta.dtype):
            return None
        try:
            values = np.asarray(open_array(self.hierarchy.access, coordinate)[...], dtype=np.float64)
        except (ZarrBrowserError, ValueError, TypeError) as err:
            logger.info("coordinate %s not read: %s", coordinate.path, err)
            return None
        attrs = coordinate.attributes
        factor, offset = attrs.get("scale_factor", 1.0), attrs.get("add_offset", 0.0)
        if _finite(factor) and _finite(offset):
            values = values * float(factor) + float(offset)
        if not np.all(np.isfinite(values)):
            return None
        steps = np.diff(values)
        step = float(steps.mean())
        if step == 0 or not np.allclose(steps, step, rtol=1e-5, atol=abs(step) * 1e-6):
            return None  # descending coordinates (latitude from north to south) give a negative scale
        units = attrs.get("units")
        if not isinstance(units, str) or " since " in units.lower() or not units.strip():
            units = None
        return float(values[0]), step, units


class _TileOpener:
    """Opens the tiles of one level of a plate mosaic (holds the planner for its context), or
    of a well's mosaic of fields (*field_path* None)."""

    def __init__(self, planner: _Planner, field_path: str | None, sub: str | None, level: int,
                 tile_shape: Sequence[int] | None = None) -> None:
        self._planner = planner
        self._field_path = field_path
        self._sub = sub
        self._level = level
        self._tile_shape = tuple(tile_shape) if tile_shape is not None else None
        self._notes: dict[str, str] = {}  # well → what the user should know of its tile

    def __call__(self, well_path: str) -> LevelArray | None:
        notes: list[str] = []
        try:
            return self._planner.open_tile(well_path, self._field_path, self._sub, self._level, self._tile_shape,
                                           notes)
        finally:
            if notes:
                self._notes[well_path] = "; ".join(notes)

    @property
    def at_once(self) -> int:
        """How many requests the store takes at once (the mosaic opens its first batch of tiles
        in one round trip per stage, then bigger batches)."""
        return self._planner.hierarchy.access.requests_at_once

    def note(self, well_path: str) -> str | None:
        """What the user should know of the tile of *well_path*, opened already (None: nothing)."""
        return self._notes.get(well_path)

    def prepare(self, well_paths: Sequence[str]) -> None:
        """Read the metadata of many tiles at once: wells, then fields, then levels (3 round trips)."""
        self._planner.prepare_tiles(well_paths, self._field_path, self._sub, self._level)


# -- metadata helpers ------------------------------------------------------------------------


def _finite(value: Any) -> TypeGuard[int | float]:
    return finite_number(value)  # (10**400 is legal JSON: math.isfinite raised OverflowError on it)


def _with_image_units(pixels: _Pixels, image_axes: Sequence[Mapping[str, Any]]) -> _Pixels:
    """Give label axes without a unit the unit of the image axis of the same name.

    Writers often leave label axes without units (ome-zarr 0.18 does); a labels layer without
    units next to an image with them makes napari drop units for every layer.
    """
    units = {a.get("name"): a.get("unit") for a in image_axes if isinstance(a.get("unit"), str)}
    axes = [dict(a, unit=units.get(a.get("name"))) if not a.get("unit") and a.get("name") in units else a
            for a in pixels.axes]
    return _Pixels(axes, pixels.scale, pixels.translate)


def _without_single_channel(levels: list[LevelArray], pixels: _Pixels) -> tuple[list[LevelArray], _Pixels]:
    """*levels* and *pixels* without their channel axis when it has a single index."""
    types = [a.get("type") for a in pixels.axes]
    if types.count("channel") != 1 or len(types) != levels[0].ndim:
        return levels, pixels
    axis = types.index("channel")
    if any(level.shape[axis] != 1 for level in levels):
        return levels, pixels
    keep = [i for i in range(len(types)) if i != axis]
    return ([level.take(axis, 0) for level in levels],
            _Pixels([pixels.axes[i] for i in keep], [pixels.scale[i] for i in keep],
                    [pixels.translate[i] for i in keep]))


def _level_path(image_node: Node, level: int) -> str | None:
    """The path of level *level* (an index into ``datasets``) of an image's first multiscale, or None."""
    multiscales = _ome_namespace(image_node).get("multiscales")
    first = multiscales[0] if isinstance(multiscales, list) and multiscales and isinstance(multiscales[0], dict) else {}
    datasets = first.get("datasets")
    paths = [d.get("path") for d in datasets if isinstance(d, dict)] if isinstance(datasets, list) else []
    if not -len(paths) <= level < len(paths):
        return None
    path = paths[level]
    return path if isinstance(path, str) else None


PYRAMID_PLANE = 4096 * 4096
"""Planes of single-level arrays above this many pixels get strided coarser levels."""

PYRAMID_TOP = 2048
"""Side the coarsest strided level comes down to (or below)."""


def _strided_pyramid(level: LevelArray, rgb: bool) -> list[LevelArray]:
    """*level*, then every 2nd, 4th, … pixel of its plane, while the plane is large.

    napari draws a single-level array by reading and uploading a whole plane (a 1 GiB plane
    held the GUI for 20 s); as a pyramid it reads what the view needs, at the resolution the
    zoom needs, and draws coarse data first.  Coarse levels read (in the background) every
    chunk they touch, so they come from the decoded-chunk cache once read.
    """
    shape = level.shape
    if len(shape) < 2 + rgb:
        return [level]
    y, x = (len(shape) - 3, len(shape) - 2) if rgb else (len(shape) - 2, len(shape) - 1)
    if shape[y] * shape[x] <= PYRAMID_PLANE:
        return [level]
    levels = [level]
    factor = 1
    while max(-(-shape[y] // factor), -(-shape[x] // factor)) > PYRAMID_TOP:
        factor *= 2
        factors = [1] * len(shape)
        factors[y] = factors[x] = factor
        levels.append(LevelArray(StridedSource(level.source, factors)))
    return levels


def _plane_too_big(shape: Sequence[int], chunks: Sequence[int], itemsize: int, rgb: bool) -> str | None:
    """What is too large in the plane napari reads of a single-level array (its last two axes,
    with the colour axis of an RGB image), or None when it can be shown."""
    axes = range(len(shape) - 3, len(shape)) if rgb else range(len(shape) - 2, len(shape))
    count = math.prod(-(-shape[a] // max(1, chunks[a])) for a in axes)
    nbytes = math.prod(shape[a] for a in axes) * itemsize
    if count <= MAX_BLOCKS_PER_READ and nbytes <= MAX_PLANE_BYTES:
        return None
    height, width = (shape[-3], shape[-2]) if rgb else (shape[-2], shape[-1])
    return f"a {height:,} × {width:,} plane ({_gigabytes(nbytes)} in {count:,} chunks)"


def _gigabytes(nbytes: int) -> str:
    return f"{nbytes / 1e9:,.1f} GB" if nbytes >= 1e8 else f"{nbytes / 1e6:,.0f} MB"


def _rdefs_model(node: Node) -> str | None:
    omero = _ome_namespace(node).get("omero")
    rdefs = omero.get("rdefs") if isinstance(omero, dict) else None
    model = rdefs.get("model") if isinstance(rdefs, dict) else None
    return model if isinstance(model, str) else None


def _first_field_path(well_node: Node) -> str | None:
    well = _ome_namespace(well_node).get("well")
    images = well.get("images") if isinstance(well, dict) else None
    if isinstance(images, list):
        for image in images:
            if isinstance(image, dict) and isinstance(image.get("path"), str):
                return image["path"]
    return None


def _label_colors(colors: Any) -> dict[int, tuple[float, float, float, float]]:
    """``image-label.colors`` as label value → RGBA in 0–1; the last entry of a value wins (0.4 rule)."""
    out: dict[int, tuple[float, float, float, float]] = {}
    for entry in colors if isinstance(colors, list) else []:
        if not isinstance(entry, dict):
            continue
        value, rgba = entry.get("label-value"), entry.get("rgba")
        if not _finite(value) or not float(value).is_integer():
            continue
        if isinstance(rgba, list) and len(rgba) == 4 and all(_finite(c) and 0 <= c <= 255 for c in rgba):
            red, green, blue, alpha = (float(c) / 255 for c in rgba)
            out[int(value)] = (red, green, blue, alpha)
    return out


def _label_features(properties: Any) -> dict[str, list[Any]]:
    """``image-label.properties`` as feature columns, ``index`` holding the label values."""
    rows: dict[int, dict[str, Any]] = {}
    for entry in properties if isinstance(properties, list) else []:
        if not isinstance(entry, dict):
            continue
        value = entry.get("label-value")
        if not _finite(value) or not float(value).is_integer():
            continue
        rows[int(value)] = {k: v for k, v in entry.items() if k != "label-value"}
    if not rows:
        return {}
    keys = list(dict.fromkeys(k for row in rows.values() for k in row))
    features: dict[str, list[Any]] = {"index": list(rows)}
    for key in keys:
        features[key] = [row.get(key) for row in rows.values()]
    return features
