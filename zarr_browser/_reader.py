"""napari reader: zarr folders, ``.zip``/``.ozx`` stores and ``http(s)://`` / ``s3://`` URLs.

:func:`napari_get_reader` sniffs cheaply (a local folder with zarr metadata or named
``*.zarr``, a zip file, a remote URL), then reads the root's metadata (one round trip) so that
anything local that is not a readable zarr store gets ``None``; it never raises (a remote URL
that cannot be opened gets a reader that raises the reason, so napari shows it).  The reader maps the
root node to layers with :func:`zarr_browser.streaming.layer_plan` and turns the
napari-free :class:`~zarr_browser.streaming.LayerSpec` values into napari ``LayerData``
tuples (:func:`layer_data`).  :func:`open_node` adds any node of an open hierarchy to a viewer
(the browser dock uses it).

napari is imported lazily (inside functions), so that sniffing a file costs nothing.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from zarr_browser.errors import StoreReadError, ZarrBrowserError

if TYPE_CHECKING:
    import napari
    from napari.layers import Layer

    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.streaming import LayerPlan, LayerSpec

__all__ = ["LayerData", "layer_data", "napari_get_reader", "open_hierarchy", "open_node", "plan_node"]

logger = logging.getLogger(__name__)

LayerData = tuple[Any, dict[str, Any], str]
ReaderFunction = Callable[[Any], list[Any]]

REMOTE_SCHEMES = frozenset({"http", "https", "s3", "s3a"})
ZARR_METADATA = ("zarr.json", ".zgroup", ".zarray", ".zattrs")
NULL_LAYER = [(None,)]
"""napari's sentinel for "read successfully, nothing to add" (the notes say why)."""

UNLISTED_LABEL_COLOUR = (0.5, 0.5, 0.5, 1.0)
"""Colour of label values that ``image-label.colors`` does not list (colours may cover a subset)."""

REFIT_POLL_MS = 20
REFIT_STILL = 3
"""Polls (of REFIT_POLL_MS) the canvas keeps its size before the first layers are fitted to it again."""
REFIT_TRIES = 50

_FIRST_BLENDING, _OTHER_BLENDING = "translucent_no_depth", "additive"


# -- sniffing --------------------------------------------------------------------------------


def _sniff(path: str) -> bool:
    """Whether *path* may be a zarr store we read; no store I/O beyond a few ``stat`` calls."""
    parts = urlsplit(path)
    scheme = parts.scheme.lower()
    if scheme == "zip" and "::" in path:  # a member of an archive, as Copy URL names it
        return _sniff(path.split("::", 1)[1])
    if scheme in REMOTE_SCHEMES:
        return bool(parts.netloc)
    if scheme == "file":
        path = parts.path
    elif scheme and len(scheme) > 1:
        return False  # another URL scheme (gs://, ftp://...) is not claimed
    local = Path(path).expanduser()
    if local.is_dir():
        return local.suffix.lower() == ".zarr" or any((local / name).is_file() for name in ZARR_METADATA)
    if local.is_file():
        return local.suffix.lower() in (".zip", ".ozx") and zipfile.is_zipfile(local)
    if not local.exists():  # a folder inside a zip archive (/data/a.zip/labels)
        from zarr_browser.core.store import local_zip_member

        member = local_zip_member(local)
        return member is not None and zipfile.is_zipfile(member[0])
    return False


def open_hierarchy(url: str, registry: ConventionRegistry | None = None, *,
                   storage_options: dict[str, Any] | None = None, policy: RequestPolicy | None = None) -> Hierarchy:
    """Open the store at *url* read-only (root read); raises ZarrBrowserError when unreadable."""
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.safety import check_environment

    check_environment()
    registry = registry or default_registry()
    return Hierarchy.open(url, storage_options=storage_options or None, policy=policy, hints=registry.child_hints)


def napari_get_reader(path: str | Sequence[str]) -> ReaderFunction | None:
    """The reader for *path* when it is a readable zarr store, else None (never raises).

    The store's metadata is read in a worker while the window keeps handling events
    (:mod:`zarr_browser._responsive`): napari calls this on the GUI thread.
    """
    try:
        if not isinstance(path, str | os.PathLike):
            if len(path) != 1:
                return None
            path = path[0]
        url = os.fspath(path)
        if not _sniff(url):
            return None
    except Exception:  # boundary: a reader sniff must never raise into napari
        logger.warning("zarr-browser: unexpected error while sniffing %s", path, exc_info=True)
        return None
    from zarr_browser._responsive import call_responsive

    return call_responsive(_get_reader, url)


def _get_reader(url: str) -> ReaderFunction | None:
    """:func:`napari_get_reader` once *url* passed the sniff: opens the store (metadata I/O)."""
    try:
        from zarr_browser.core.conventions import default_registry
        from zarr_browser.core.enclosing import open_enclosing
        from zarr_browser.core.safety import check_environment

        check_environment()
        registry = default_registry()
        hierarchy, node_path = open_enclosing(url, registry)
        node = hierarchy.node(node_path)
        if node.kind == "error":
            logger.info("zarr-browser does not read %s: %s", url, node.error)
            hierarchy.close()
            parts = urlsplit(url)
            if parts.scheme.lower() in REMOTE_SCHEMES and ".zarr" in parts.path.lower():
                # a zarr URL the user typed: say why (another plugin may read other URLs)
                return _Failed(StoreReadError(f"cannot read {url}: {node.error}"))
            return None
    except ZarrBrowserError as err:
        logger.info("zarr-browser does not read %s: %s", url, err)
        if urlsplit(url).scheme.lower() in REMOTE_SCHEMES:
            return _Failed(err)  # a URL the user typed: say why it failed instead of "no reader"
        return None
    except Exception:  # boundary: a reader sniff must never raise into napari
        logger.warning("zarr-browser: unexpected error while sniffing %s", url, exc_info=True)
        return None
    return _Reader(hierarchy, registry, node_path)


class _Failed:
    """The reader of a remote store that could not be opened: reports why, when napari calls it."""

    def __init__(self, error: ZarrBrowserError) -> None:
        self.error = error

    def __call__(self, path: Any, **_: Any) -> list[Any]:
        raise self.error


class _Reader:
    """The reader function napari calls: the layers of one node (the root, or the folder opened
    inside a larger store) of one open hierarchy."""

    def __init__(self, hierarchy: Hierarchy, registry: ConventionRegistry, path: str = "/") -> None:
        self.hierarchy = hierarchy
        self.registry = registry
        self.path = path

    def __call__(self, path: Any, **_: Any) -> list[Any]:
        from zarr_browser._responsive import call_responsive

        plan = call_responsive(plan_node, self.hierarchy, self.path, self.registry)  # the window stays live
        _notify(plan)
        import napari

        viewer = napari.current_viewer()
        _north_up(plan, viewer)
        if viewer is not None:  # napari makes the layers after this returns (connected once)
            viewer.layers.events.inserted.connect(_on_layer_inserted)
        layers = [item for spec in plan.specs for item in layer_data(spec)]
        if plan.others:
            _reveal_in_dock(self.hierarchy.url, plan)
        return layers or NULL_LAYER


def plan_node(hierarchy: Hierarchy, path: str, registry: ConventionRegistry | None = None) -> LayerPlan:
    """The layer plan of the node at *path* (metadata I/O; run it off the GUI thread when remote)."""
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.validate import HierarchyContext
    from zarr_browser.streaming import layer_plan

    registry = registry or default_registry()
    node = hierarchy.node(path)
    return layer_plan(hierarchy, node, registry, HierarchyContext(hierarchy))


def _notify(plan: LayerPlan) -> None:
    """Tell the user what was not opened and why (napari notifications; also logged)."""
    if not plan.messages:
        return
    from napari.utils.notifications import show_info, show_warning

    for problem in plan.problems:
        logger.warning("%s", problem)
        show_warning(f"zarr-browser: {problem}")
    for note in plan.notes:
        logger.info("%s", note)
        show_info(f"zarr-browser: {note}")


_NORTH = frozenset({"degrees_north", "degree_north", "degree_N", "degrees_N", "degreeN", "degreesN"})
"""CF's units of latitude (CF §4.1): an axis that increases northwards."""


def _is_map(spec: LayerSpec) -> bool:
    """Whether the rows of *spec*'s planes are latitudes (its y axis is in degrees north)."""
    units: Sequence[Any] = spec.kwargs.get("units") or ()
    return len(units) >= 2 and isinstance(units[-2], str) and units[-2].strip() in _NORTH


def _north_up(plan: LayerPlan, viewer: napari.Viewer | None) -> None:
    """Draw maps north up: napari's y axis points down, so latitude increasing northwards put
    the north pole at the bottom of the canvas (audit A).  Only for the first layers of a
    viewer: a viewer the user has set up keeps its orientation."""
    if not any(_is_map(spec) for spec in plan.specs):
        return
    if viewer is None or len(viewer.layers):
        return
    scene = getattr(viewer, "scene", None)  # napari 0.9 (viewer.camera before)
    camera = scene.camera if scene is not None else getattr(viewer, "camera", None)
    orientation = getattr(camera, "orientation2d", None)
    if camera is not None and orientation is not None and len(orientation) == 2:
        camera.orientation2d = ("up", orientation[1])


def _reveal_in_dock(url: str, plan: LayerPlan) -> None:
    """Show the browser dock of the current viewer on *url*, with what was left out listed."""
    import napari

    viewer = napari.current_viewer()
    if viewer is None or getattr(viewer, "window", None) is None:
        return
    first = len(viewer.layers) == 0  # napari fits its first layers to the canvas
    try:
        _, widget = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    except Exception:  # boundary: the layers matter more than the dock
        logger.warning("zarr-browser: cannot show the browser dock", exc_info=True)
        return
    show = getattr(widget, "show_store", None)
    if show is not None:
        show(url, select=plan.others[0] if plan.others else None)
    if first:
        _refit_after_layout(viewer)


def _refit_after_layout(viewer: napari.Viewer) -> None:
    """Fit the view again once the dock has taken its room: napari fits the layers it is about to
    add to the canvas as it was before the dock appeared (a plate would be cut at the edges).

    The dock's room may change more than once (its rows come in and widen it), so the view is
    fitted once the canvas has kept its new size for :data:`REFIT_STILL` polls, and not at all
    if the camera was moved meanwhile (the user's view wins)."""
    from qtpy.QtCore import QTimer

    from zarr_browser._display import _view_of

    def state() -> tuple[tuple[int, ...], tuple[Any, ...] | None] | None:
        try:
            return tuple(viewer.window._qt_viewer.canvas.size), _view_of(viewer)
        except (AttributeError, RuntimeError):  # the viewer closed meanwhile
            return None

    start = state()
    if start is None:
        return
    before = start[0]  # the canvas napari fits the layers to (the dock's layout is yet to come)
    last: list[tuple[int, ...]] = [before]
    still = [0]
    camera: list[tuple[Any, ...] | None] = []  # the view as napari left it, once the layers are in

    def poll(tries: int = REFIT_TRIES) -> None:
        now = state()
        if now is None:  # the viewer closed meanwhile
            return
        if not camera:
            camera.append(now[1])
        elif now[1] != camera[0]:  # the view was moved: leave it be
            return
        size = now[0]
        if size == last[0]:
            still[0] += 1
        else:
            last[0], still[0] = size, 0
        if (size == before or still[0] < REFIT_STILL) and tries > 0:
            QTimer.singleShot(REFIT_POLL_MS, lambda: poll(tries - 1))
            return
        if size != before and len(viewer.layers):
            viewer.reset_view()

    QTimer.singleShot(0, poll)


# -- LayerSpec → napari LayerData ------------------------------------------------------------


def layer_data(spec: LayerSpec) -> list[LayerData]:
    """napari ``(data, kwargs, layer_type)`` tuples for one spec (one per channel for multichannel images)."""
    from zarr_browser._display import cached_range

    kwargs = dict(spec.kwargs)
    if "units" in kwargs:
        kwargs["units"] = _napari_units(kwargs["units"])
        if kwargs["units"] is None:
            del kwargs["units"]
    if spec.layer_type == "labels":
        colors = kwargs.pop("colors", None)
        if colors:
            kwargs["colormap"] = {None: UNLISTED_LABEL_COLOUR, **colors}
        return [(_display(spec.levels, spec, flag_missing=False), kwargs, "labels")]
    # a chunk a store does not have is the fill value, as zarr says (writers leave empty chunks
    # out; striping them made ordinary remote stores look damaged): drawn as such, not flagged
    flag_missing = False
    channel_axis = kwargs.pop("channel_axis", None)
    ranges = _pop_contrast_ranges(kwargs)
    if channel_axis is None:
        _with_contrast_range(kwargs, ranges[0] if ranges else _type_range(spec, kwargs))
        _image_kwargs(kwargs, kwargs.get("colormap"), kwargs.get("contrast_limits"), None)
        auto = "contrast_limits" not in kwargs
        data = _display(spec.levels, spec, flag_missing=flag_missing, auto_contrast=auto)
        if auto:  # from every plane of the coarsest level when it was read ahead (else napari's own)
            _image_kwargs(kwargs, kwargs.get("colormap"), cached_range(spec.levels[-1]), None)
        _checker_at(data, kwargs.get("contrast_limits"))
        return [(data, kwargs, "image")]
    names = list(kwargs.pop("name"))
    colours = list(kwargs.pop("colormap"))
    limits = list(kwargs.pop("contrast_limits"))
    visible = list(kwargs.pop("visible"))
    defaults = _default_colormaps(len(names))
    out: list[LayerData] = []
    _preread(spec)  # every channel's coarsest level at once, waited for once
    for i, name in enumerate(names):
        levels = [level.take(channel_axis, i) for level in spec.levels]
        data = _display(levels, spec, flag_missing=flag_missing, auto_contrast=limits[i] is None, wait=0.0)
        channel_kwargs = {**kwargs, "name": name, "visible": visible[i],
                          "blending": _FIRST_BLENDING if i == 0 else _OTHER_BLENDING}
        metadata = {key: dict(value) if isinstance(value, dict) else value
                    for key, value in kwargs.get("metadata", {}).items()}
        metadata.setdefault("zarr_browser", {})["channel"] = i
        channel_kwargs["metadata"] = metadata
        _with_contrast_range(channel_kwargs, ranges[i] if i < len(ranges) else None)
        _image_kwargs(channel_kwargs, colours[i], limits[i] if limits[i] is not None else cached_range(levels[-1]),
                      defaults[i])
        _checker_at(data, channel_kwargs.get("contrast_limits"))
        out.append((data, channel_kwargs, "image"))
    return out


def _pop_contrast_ranges(kwargs: dict[str, Any]) -> list[Any]:
    """The plan's slider range of each channel, taken out of the metadata the layers share."""
    metadata = kwargs.get("metadata")
    ours = metadata.get("zarr_browser") if isinstance(metadata, dict) else None
    if not isinstance(metadata, dict) or not isinstance(ours, dict) or "contrast_ranges" not in ours:
        return []
    kwargs["metadata"] = {**metadata, "zarr_browser": {k: v for k, v in ours.items() if k != "contrast_ranges"}}
    return list(ours["contrast_ranges"])


def _type_range(spec: LayerSpec, kwargs: dict[str, Any]) -> tuple[float, float] | None:
    """The slider range of a layer whose plan gave none: its 8- or 16-bit integer type's."""
    import numpy as np

    from zarr_browser.streaming.layers import slider_range

    return None if kwargs.get("rgb") else slider_range({}, None, np.dtype(spec.levels[-1].dtype))


def _with_contrast_range(kwargs: dict[str, Any], contrast_range: Any) -> None:
    """Keep one layer's slider range in its metadata, for :func:`apply_contrast_range`."""
    if contrast_range is not None:
        metadata = kwargs["metadata"]
        kwargs["metadata"] = {**metadata, "zarr_browser": {**metadata["zarr_browser"],
                                                           "contrast_range": list(contrast_range)}}


def apply_contrast_range(layer: Any) -> None:
    """Give a layer of ours its slider range (the omero window's min/max, or its integer type's).

    napari takes no range when it makes a layer, and makes it the contrast limits themselves:
    the slider could not widen the display window.  The range is widened to hold the limits.
    """
    ours = getattr(layer, "metadata", {}).get("zarr_browser")
    wanted = ours.get("contrast_range") if isinstance(ours, dict) else None
    if wanted is None or not hasattr(layer, "contrast_limits_range"):
        return
    low, high = layer.contrast_limits
    layer.contrast_limits_range = (min(float(wanted[0]), low), max(float(wanted[1]), high))


def _on_layer_inserted(event: Any) -> None:
    apply_contrast_range(event.value)


def _display(levels: Sequence[Any], spec: LayerSpec, *, flag_missing: bool, auto_contrast: bool = False,
             wait: float | None = None) -> Any:
    """What napari gets for *levels* of *spec* (see :mod:`zarr_browser._display`)."""
    from zarr_browser._display import PREREAD_WAIT, display_data

    return display_data(levels, multiscale=isinstance(spec.data, list), flag_missing=flag_missing,
                        auto_contrast=auto_contrast, wait=PREREAD_WAIT if wait is None else wait)


def _checker_at(data: Any, limits: Any) -> None:
    """Draw the failed chunks of float levels as a checkerboard of the contrast *limits* (black
    and white), not as NaN, which looked like data that is not there (audit A)."""
    from zarr_browser.streaming.display import DisplayLevel

    if limits is None:
        return
    for level in data if isinstance(data, list) else [data]:
        if isinstance(level, DisplayLevel) and level.dtype.kind == "f":
            level.checker_values = (float(limits[0]), float(limits[1]))


def _preread(spec: LayerSpec) -> None:
    """Request the coarsest level of *spec* (all channels) and wait for it briefly, in stream mode."""
    from zarr_browser._display import display_mode, preread

    if display_mode() == "stream":
        preread(spec.levels[-1])


def _image_kwargs(kwargs: dict[str, Any], colour: str | None, limits: Any, default: str | None) -> None:
    """Fill napari's colormap and contrast limits from our plain values (in place)."""
    colormap = _colormap(colour) if colour else default
    if colormap is None:
        kwargs.pop("colormap", None)
    else:
        kwargs["colormap"] = colormap
    if limits is None:
        kwargs.pop("contrast_limits", None)
    else:
        kwargs["contrast_limits"] = list(limits)


def _default_colormaps(count: int) -> list[str]:
    """napari's own choice for a split multichannel image: gray; magenta/green; then CMYBGR."""
    from napari.layers.utils.stack_utils import CMYBGR, MAGENTA_GREEN

    if count == 1:
        return ["gray"]
    if count == 2:
        return list(MAGENTA_GREEN)
    return [CMYBGR[i % len(CMYBGR)] for i in range(count)]


def _colormap(colour: str) -> Any:
    """A black → *colour* (``#RRGGBB``) linear colormap; napari's own when one matches (as napari-ome-zarr)."""
    import numpy as np
    from napari.utils.colormaps import AVAILABLE_COLORMAPS, Colormap

    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    custom = Colormap([[0.0, 0.0, 0.0], rgb], name=colour.lower())
    for available in AVAILABLE_COLORMAPS.values():
        if (
            np.array_equal(available.controls, custom.controls)
            and np.array_equal(available.colors, custom.colors)
            and available.interpolation == custom.interpolation
        ):
            return available
    return custom


_CF_UNITS = {name: "degree" for name in (
    "degrees_north", "degree_north", "degree_N", "degrees_N", "degreeN", "degreesN",
    "degrees_east", "degree_east", "degree_E", "degrees_E", "degreeE", "degreesE",
    "degrees_south", "degrees_west",  # not CF spellings, but written
)}
"""CF's latitude and longitude units (CF §4.1, §4.2), which pint does not know, as plain degrees."""


def _napari_units(units: Sequence[str | None]) -> tuple[str | None, ...] | None:
    """The units napari (pint) understands; others become None (pixels).  None when none is left."""
    from napari.utils.transforms._units import get_unit_from_name

    out: list[str | None] = []
    for unit in units:
        if unit is None:
            out.append(None)
            continue
        unit = _CF_UNITS.get(unit.strip(), unit)
        try:
            get_unit_from_name(unit)
        except (ValueError, TypeError, AttributeError):
            logger.info("unit %r is not understood by napari; shown as pixels", unit)
            out.append(None)
            continue
        out.append(unit)
    return tuple(out) if any(u is not None for u in out) else None


# -- opening nodes in a viewer ---------------------------------------------------------------


def open_node(
    viewer: napari.Viewer,
    hierarchy: Hierarchy,
    path: str,
    registry: ConventionRegistry | None = None,
    *,
    plan: LayerPlan | None = None,
) -> tuple[LayerPlan, list[Layer]]:
    """Add the node at *path* to *viewer* as layers; returns the plan and the layers added.

    Pass a *plan* computed in a worker (:func:`plan_node`) to keep store I/O off the GUI thread.
    """
    plan = plan or plan_node(hierarchy, path, registry)
    _notify(plan)
    _north_up(plan, viewer)
    added: list[Layer] = []
    for spec in plan.specs:
        for data, kwargs, layer_type in layer_data(spec):
            added.append(getattr(viewer, f"add_{layer_type}")(data, **kwargs))
            apply_contrast_range(added[-1])
    return plan, added
