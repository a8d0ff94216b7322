"""The "zarr conventions" framework and GeoZarr: ``zarr_conventions``, ``multiscales``, ``proj:``, ``spatial:``.

Detection (roles, several may apply):

* ``"conventions"`` - ``zarr_conventions`` is a list (identified by ``uuid``, then
  ``schema_url``, then ``spec_url``; never by ``name``);
* ``"multiscales"`` - ``multiscales`` is an object with a ``layout`` (zarr-conventions
  multiscales; an OME ≤0.4 ``multiscales`` *list* is not this);
* ``"geozarr-tms"`` - ``multiscales`` is an object with ``tile_matrix_set`` (pre-reset GeoZarr draft);
* ``"proj"`` / ``"spatial"`` - any attribute named ``proj:*`` / ``spatial:*``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from zarr_browser.core.conventions.base import BaseConvention, Context, Detection, attributes_pointer
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import JSON

if TYPE_CHECKING:
    from zarr_browser.core.model import Node

__all__ = ["KNOWN_CONVENTIONS", "ZarrConventionsConvention"]

logger = logging.getLogger(__name__)

CONVENTION = "zarr-conventions"
MULTISCALES_UUID = "d35379db-88df-4056-af3a-620245f8e347"
PROJ_UUID = "f17cb550-5864-4468-aeb7-f3180cfb622f"
SPATIAL_UUID = "689b58e2-cf7b-45e0-9fff-9cfc0883d6b4"
KNOWN_CONVENTIONS = {MULTISCALES_UUID: "multiscales", PROJ_UUID: "proj:", SPATIAL_UUID: "spatial:"}
"""Registered conventions by UUID."""

_CMO_KEYS = frozenset({"uuid", "schema_url", "spec_url", "name", "description"})
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_PROJ_CODE = re.compile(r"^[A-Za-z]+:[A-Za-z0-9.]+$")
_Add = Callable[..., None]
"""``add(severity, message, *pointer_parts)`` - records one issue on the node being checked."""
_URL_HINTS = {"multiscales": MULTISCALES_UUID, "proj": PROJ_UUID, "spatial": SPATIAL_UUID}


def _is_number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _numbers(value: JSON, count: int | None = None) -> bool:
    return isinstance(value, list) and (count is None or len(value) == count) and all(_is_number(v) for v in value)


def _relative_path(value: JSON) -> bool:
    return (isinstance(value, str) and bool(value) and not value.startswith("/")
            and all(part not in ("", "..") for part in value.split("/")))


def identify(entry: Mapping[str, JSON]) -> str | None:
    """The registered convention a ``zarr_conventions`` entry names (uuid, then URLs), or None."""
    uuid = entry.get("uuid")
    if isinstance(uuid, str):
        return KNOWN_CONVENTIONS.get(uuid.lower())
    for key in ("schema_url", "spec_url"):
        url = entry.get(key)
        if isinstance(url, str):
            for hint, known in _URL_HINTS.items():
                if re.search(rf"/(zarr-conventions|zarr-experimental)/(geo-)?{hint}/", url):
                    return KNOWN_CONVENTIONS[known]
    return None


def _prefixed(attrs: Mapping[str, JSON], prefix: str) -> dict[str, JSON]:
    return {k: v for k, v in attrs.items() if isinstance(k, str) and k.startswith(prefix)}


class ZarrConventionsConvention(BaseConvention):
    """zarr-conventions (multiscales layout, ``proj:``, ``spatial:``) and the GeoZarr draft."""

    name = CONVENTION
    title = "Zarr conventions / GeoZarr"

    def detect(self, node: Node) -> Detection | None:
        """Roles for the framework list, multiscales layouts, the GeoZarr draft, proj and spatial keys."""
        attrs = node.attributes
        roles: list[str] = []
        if isinstance(attrs.get("zarr_conventions"), list):
            roles.append("conventions")
        multiscales = attrs.get("multiscales")
        if isinstance(multiscales, dict):
            if "layout" in multiscales:
                roles.append("multiscales")
            if "tile_matrix_set" in multiscales:
                roles.append("geozarr-tms")
        if _prefixed(attrs, "proj:"):
            roles.append("proj")
        if _prefixed(attrs, "spatial:"):
            roles.append("spatial")
        return Detection(CONVENTION, None, tuple(roles)) if roles else None

    # -- description ---------------------------------------------------------------------
    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        """Registered conventions, CRS, spatial transform and the multiscales layout graph."""
        attrs = node.attributes
        out: dict[str, JSON] = {}
        entries = attrs.get("zarr_conventions")
        if isinstance(entries, list):
            out["conventions"] = [
                {**{k: e.get(k) for k in ("uuid", "name", "schema_url", "spec_url", "description") if k in e},
                 "registered": identify(e)}
                for e in entries if isinstance(e, dict)
            ]
        proj = _prefixed(attrs, "proj:")
        if proj:
            crs: dict[str, JSON] = {k.removeprefix("proj:"): v for k, v in proj.items()}
            if isinstance(crs.get("projjson"), dict):
                crs["projjson"] = crs["projjson"].get("name", "(PROJJSON object)")
            out["crs"] = crs
        spatial = _prefixed(attrs, "spatial:")
        if spatial:
            info: dict[str, JSON] = {k.removeprefix("spatial:"): v for k, v in spatial.items()}
            info.setdefault("transform_type", "affine")
            info.setdefault("registration", "pixel")
            info["origin"] = "pixel corner (GDAL/rasterio convention)"
            out["spatial"] = info
        multiscales = attrs.get("multiscales")
        if isinstance(multiscales, dict) and isinstance(multiscales.get("layout"), list):
            levels: list[JSON] = []
            for item in multiscales["layout"]:
                if not isinstance(item, dict):
                    continue
                raw = item.get("transform")
                transform: dict[str, JSON] = raw if isinstance(raw, dict) else {}
                levels.append({
                    "asset": item.get("asset"),
                    "derived_from": item.get("derived_from"),
                    "scale": transform.get("scale"),
                    "translation": transform.get("translation"),
                    "resampling_method": item.get("resampling_method", multiscales.get("resampling_method")),
                })
            out["layout"] = levels
        if isinstance(multiscales, dict) and "tile_matrix_set" in multiscales:
            tms = multiscales["tile_matrix_set"]
            out["geozarr_draft"] = {
                "tile_matrix_set": tms if isinstance(tms, str) else "(inline TileMatrixSet)",
                "resampling_method": multiscales.get("resampling_method"),
            }
        return out

    # -- validation ----------------------------------------------------------------------
    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """The zarr-conventions rules of the metadata editor (§7.5), lightly."""
        if self.detect(node) is None:
            return []
        issues: list[Issue] = []
        attrs = node.attributes

        def add(severity: Severity, message: str, *parts: str | int) -> None:
            ptr, doc = attributes_pointer(node, *parts)
            issues.append(Issue(severity, message, node.path, ptr, CONVENTION, doc))

        declared = _check_registry(attrs, add)
        multiscales = attrs.get("multiscales")
        if isinstance(multiscales, dict) and "layout" in multiscales:
            _check_layout(node, multiscales, ctx, add)
            if declared is not None and "multiscales" not in declared:
                add(Severity.WARNING, "multiscales has a layout but zarr_conventions does not declare the multiscales "
                    f"convention (uuid {MULTISCALES_UUID})", "multiscales")
        proj = _prefixed(attrs, "proj:")
        if proj:
            _check_proj(proj, add)
            if declared is not None and "proj:" not in declared:
                add(Severity.WARNING, f"proj: attributes are used but zarr_conventions does not declare the proj: "
                    f"convention (uuid {PROJ_UUID})", next(iter(proj)))
        spatial = _prefixed(attrs, "spatial:")
        if spatial:
            _check_spatial(node, spatial, add)
            if declared is not None and "spatial:" not in declared:
                add(Severity.WARNING, "spatial: attributes are used but zarr_conventions does not declare the spatial: "
                    f"convention (uuid {SPATIAL_UUID})", next(iter(spatial)))
        return issues


def _check_registry(attrs: Mapping[str, JSON], add: _Add) -> set[str] | None:
    """Check ``zarr_conventions``; return the registered names it declares (None when absent)."""
    if "zarr_conventions" not in attrs:
        return None
    entries = attrs["zarr_conventions"]
    if not isinstance(entries, list):
        add(Severity.ERROR, f"zarr_conventions is {entries!r}, expected a list of convention objects",
            "zarr_conventions")
        return set()
    declared: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            add(Severity.ERROR, f"zarr_conventions[{i}] is {entry!r}, expected an object", "zarr_conventions", i)
            continue
        if not any(k in entry for k in ("uuid", "schema_url", "spec_url")):
            add(Severity.ERROR, f"zarr_conventions[{i}] has none of uuid, schema_url, spec_url (one is required to "
                "identify the convention)", "zarr_conventions", i)
        extra = sorted(k for k in entry if k not in _CMO_KEYS)
        if extra:
            add(Severity.ERROR, f"zarr_conventions[{i}] has keys {extra}; only uuid, schema_url, spec_url, name and "
                "description are allowed", "zarr_conventions", i, extra[0])
        for key in ("uuid", "schema_url", "spec_url", "name", "description"):
            if key in entry and not isinstance(entry[key], str):
                add(Severity.ERROR, f"zarr_conventions[{i}].{key} is {entry[key]!r}, expected a string",
                    "zarr_conventions", i, key)
        uuid = entry.get("uuid")
        if isinstance(uuid, str) and not _UUID.match(uuid):
            add(Severity.ERROR, f"zarr_conventions[{i}].uuid {uuid!r} is not a lower-case RFC 4122 UUID",
                "zarr_conventions", i, "uuid")
        known = identify(entry)
        if known is not None:
            declared.add(known)
    return declared


def _check_layout(node: Node, multiscales: Mapping[str, JSON], ctx: Context, add: _Add) -> None:
    layout = multiscales.get("layout")
    if not isinstance(layout, list) or not layout:
        add(Severity.ERROR, f"multiscales.layout is {layout!r}, expected a non-empty list", "multiscales", "layout")
        return
    assets = {item.get("asset") for item in layout if isinstance(item, dict)}
    for i, item in enumerate(layout):
        where = ("multiscales", "layout", i)
        if not isinstance(item, dict):
            add(Severity.ERROR, f"multiscales.layout[{i}] is {item!r}, expected an object", *where)
            continue
        asset = item.get("asset")
        if not _relative_path(asset):
            add(Severity.ERROR, f"multiscales.layout[{i}].asset is {asset!r}, expected a relative path (no leading "
                "'/', no '..')", *where, "asset")
        elif node.is_group and isinstance(asset, str) and ctx.node(_join(node.path, asset)) is None:
            add(Severity.WARNING, f"multiscales.layout[{i}].asset {asset!r} does not exist under {node.path!r}",
                *where, "asset")
        derived = item.get("derived_from")
        if derived is not None:
            if not _relative_path(derived):
                add(Severity.ERROR, f"multiscales.layout[{i}].derived_from is {derived!r}, expected a relative path",
                    *where, "derived_from")
            elif derived not in assets:
                add(Severity.WARNING, f"multiscales.layout[{i}].derived_from {derived!r} is not an asset of this "
                    "layout", *where, "derived_from")
            if "transform" not in item:
                add(Severity.ERROR, f"multiscales.layout[{i}] has derived_from but no transform", *where)
        transform = item.get("transform")
        if transform is None:
            continue
        if not isinstance(transform, dict):
            add(Severity.ERROR, f"multiscales.layout[{i}].transform is {transform!r}, expected an object",
                *where, "transform")
            continue
        scale = transform.get("scale")
        if scale is not None and (not _numbers(scale) or any(s <= 0 for s in scale)):
            add(Severity.ERROR, f"multiscales.layout[{i}].transform.scale is {scale!r}, expected numbers > 0",
                *where, "transform", "scale")
        translation = transform.get("translation")
        if translation is not None and not _numbers(translation):
            add(Severity.ERROR, f"multiscales.layout[{i}].transform.translation is {translation!r}, expected "
                "finite numbers", *where, "transform", "translation")


def _join(base: str, rel: str) -> str:
    return "/" + rel if base == "/" else f"{base}/{rel}"


def _check_proj(proj: Mapping[str, JSON], add: _Add) -> None:
    code = proj.get("proj:code")
    if code is not None and (not isinstance(code, str) or not _PROJ_CODE.match(code)):
        add(Severity.WARNING, f"proj:code is {code!r}, expected 'AUTHORITY:CODE' such as 'EPSG:4326'", "proj:code")
    if "proj:wkt2" in proj and not isinstance(proj["proj:wkt2"], str):
        add(Severity.ERROR, f"proj:wkt2 is {proj['proj:wkt2']!r}, expected a WKT2 string", "proj:wkt2")
    if "proj:projjson" in proj and not isinstance(proj["proj:projjson"], dict):
        add(Severity.ERROR, f"proj:projjson is {proj['proj:projjson']!r}, expected a PROJJSON object", "proj:projjson")
    if not any(k in proj for k in ("proj:code", "proj:wkt2", "proj:projjson")):
        add(Severity.WARNING, f"proj: attributes {sorted(proj)} give no CRS: one of proj:code, proj:wkt2, "
            "proj:projjson is expected", next(iter(proj)))


def _check_spatial(node: Node, spatial: Mapping[str, JSON], add: _Add) -> None:
    dims = spatial.get("spatial:dimensions")
    if dims is not None and (not isinstance(dims, list) or len(dims) != 2 or not all(isinstance(d, str) for d in dims)):
        add(Severity.ERROR, f"spatial:dimensions is {dims!r}, expected two names [Y, X]", "spatial:dimensions")
        dims = None
    if node.is_array and node.array is not None:
        names = node.array.dimension_names
        if names is None and isinstance(node.attributes.get("_ARRAY_DIMENSIONS"), list):
            names = tuple(node.attributes["_ARRAY_DIMENSIONS"])
        if dims is None:
            add(Severity.ERROR, "spatial: attributes on an array need spatial:dimensions", next(iter(spatial)))
        elif names is None:
            add(Severity.WARNING, f"spatial:dimensions {dims} cannot be checked: the array has no dimension names",
                "spatial:dimensions")
        elif not all(d in names for d in dims):
            add(Severity.ERROR, f"spatial:dimensions {dims} are not all in the array's dimension names {list(names)}",
                "spatial:dimensions")
        else:
            shape = spatial.get("spatial:shape")
            expected = [node.array.shape[names.index(d)] for d in dims]
            if shape is not None and shape != expected:
                add(Severity.ERROR, f"spatial:shape {shape!r} differs from the array's sizes {expected} on {dims}",
                    "spatial:shape")
    transform = spatial.get("spatial:transform")
    if transform is not None:
        if not _numbers(transform, 6):
            add(Severity.ERROR, f"spatial:transform is {transform!r}, expected 6 finite numbers [a, b, c, d, e, f]",
                "spatial:transform")
        elif transform[0] * transform[4] - transform[1] * transform[3] == 0:
            add(Severity.ERROR, f"spatial:transform {transform} is singular (a*e - b*d = 0)", "spatial:transform")
    bbox = spatial.get("spatial:bbox")
    if bbox is not None:
        if not _numbers(bbox, 4):
            add(Severity.ERROR, f"spatial:bbox is {bbox!r}, expected 4 numbers [xmin, ymin, xmax, ymax]", "spatial:bbox")
        elif bbox[0] > bbox[2] or bbox[1] > bbox[3]:
            add(Severity.ERROR, f"spatial:bbox {bbox} has xmin > xmax or ymin > ymax", "spatial:bbox")
    shape = spatial.get("spatial:shape")
    if shape is not None and (not isinstance(shape, list) or len(shape) != 2
                              or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)):
        add(Severity.ERROR, f"spatial:shape is {shape!r}, expected two positive integers [height, width]",
            "spatial:shape")
    registration = spatial.get("spatial:registration")
    if registration is not None and registration not in ("pixel", "node"):
        add(Severity.WARNING, f"spatial:registration is {registration!r}, expected 'pixel' or 'node'",
            "spatial:registration")
