"""Code snippets that open a node with zarr-python, xarray, ome-zarr-py and napari.

"Copy as code" in the browser puts one of these on the clipboard.  Each snippet is a complete,
runnable program: imports, the store (with its storage options), and the node.  A zip archive on
a server or in a bucket is opened in place through fsspec's chained ``zip::https://…`` URL, its
storage options keyed by protocol (``{"s3": {...}}``).  Which snippets are offered depends on
the node and the conventions found on it:

* ``zarr-python`` - always (groups with ``open_group``, arrays with ``open_array``), read-only;
* ``xarray`` - groups detected as xarray or CF datasets, and arrays detected as xarray variables
  (opened through their parent group);
* ``napari`` - OME-NGFF images, label images, plates and bioformats2raw containers, xarray
  variables and datasets, through zarr-browser's own reader;
* ``ome-zarr-py`` - OME-NGFF images, label images, plates and bioformats2raw containers.

Pure Python: no Qt, no I/O.
"""

from __future__ import annotations

import os
import pprint
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import Detection
    from zarr_browser.core.model import Node

__all__ = ["node_url", "snippets"]

#: OME-NGFF roles that napari-ome-zarr opens as layers
_OME_VIEWABLE = frozenset({"image", "label-image", "plate", "bioformats2raw"})


def _is_zip(url: str) -> bool:
    return "://" not in url and url.lower().endswith((".zip", ".ozx"))


def _is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def _remote_zip_protocol(url: str) -> str | None:
    """The fsspec protocol (``http``, ``s3``...) of a zip archive read over the network, else None."""
    if _is_local(url) or "::" in url:
        return None
    parts = urlsplit(url)
    if not parts.path.rstrip("/").lower().endswith((".zip", ".ozx")):
        return None
    scheme = parts.scheme.lower()
    return {"https": "http", "s3a": "s3"}.get(scheme, scheme)


def _location(url: str, storage_options: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The URL a library opens for the store at *url* (not a local zip), and the storage options to write.

    A zip on a server or in a bucket is read in place through fsspec's chained ``zip::`` URL,
    whose options are keyed by the protocol of the archive's location.  Local paths take none.
    """
    options = dict(storage_options or {})
    protocol = _remote_zip_protocol(url)
    if protocol is not None:
        return f"zip::{url}", {protocol: options} if options else {}
    return url, options if not _is_local(url) else {}


def _options_line(options: Mapping[str, Any]) -> str:
    """``storage_options = {...}``, with a warning above it when they hold credentials."""
    from zarr_browser.core.redact import redact_options

    line = f"storage_options = {_literal(options)}"
    if redact_options(options) != dict(options):
        line = "# these storage options hold credentials: do not share or commit this code\n" + line
    return line


def node_url(url: str, path: str) -> str:
    """The URL (or local path) of the node at *path* in the store at *url*.

    A node inside a zip archive is named by fsspec's chain, ``zip://inner/path::ARCHIVE``, which
    zarr-python (with fsspec 2026.9 or later), the browser and napari open.
    """
    rel = path.strip("/")
    if not rel:
        return url
    if _is_zip(url) or _remote_zip_protocol(url) is not None:
        return f"zip://{rel}::{url}"
    if "://" not in url:
        return os.path.join(url, *rel.split("/"))
    return url.rstrip("/") + "/" + rel


def _literal(value: Any) -> str:
    """A Python literal for *value* (dicts keep their order, long ones wrap)."""
    return pprint.pformat(value, sort_dicts=False, width=88)


def _remote_zip_setup(url: str, storage_options: Mapping[str, Any] | None) -> str | None:
    """The lines that make ``store`` for a zip on a server or in a bucket (after
    ``from zarr.storage import FsspecStore``), else None.

    fsspec's zip file system before 2026.9 says ``KeyError`` for a member that is not there
    (zarr asks for documents that may be absent), so it is allowed along with zarr's own.
    """
    if _remote_zip_protocol(url) is None:
        return None
    target, options = _location(url, storage_options)
    lines = []
    if options:
        lines.append(_options_line(options))
    given = ", storage_options=storage_options" if options else ""
    lines += ["# KeyError: how fsspec's zip file system before 2026.9 says a member is not there",
              f"store = FsspecStore.from_url({target!r}{given}, read_only=True,",
              "                             allowed_exceptions=(FileNotFoundError, IsADirectoryError, "
              "NotADirectoryError, KeyError))"]
    return "\n".join(lines)


def _store_lines(url: str, storage_options: Mapping[str, Any] | None) -> tuple[list[str], str, str]:
    """Import lines, setup lines and the ``store``/``storage_options`` call arguments."""
    if _is_zip(url):
        return ["import zarr"], f"store = zarr.storage.ZipStore({url!r}, mode=\"r\")", "store"
    remote_zip = _remote_zip_setup(url, storage_options)
    if remote_zip is not None:
        return ["import zarr", "from zarr.storage import FsspecStore"], remote_zip, "store"
    target, options = _location(url, storage_options)
    if options:
        return ["import zarr"], _options_line(options), f"{target!r}, storage_options=storage_options"
    return ["import zarr"], "", repr(target)


def _zarr_snippet(url: str, path: str, node: Node, storage_options: Mapping[str, Any] | None) -> str:
    imports, setup, store = _store_lines(url, storage_options)
    rel = path.strip("/")
    path_arg = f", path={rel!r}" if rel else ""
    fmt = f", zarr_format={node.zarr_format}" if node.zarr_format else ""
    lines = [*imports, ""]
    if setup:
        lines.append(setup)
    if node.is_array:
        lines += [
            f"array = zarr.open_array({store}{path_arg}, mode=\"r\"{fmt})",
            "print(array.info)",
            "data = array[...]  # or a slice: array[0, :100, :100]",
        ]
    else:
        if node.zarr_format is None:
            lines.append("# no metadata document here: zarr-python 3 does not open implicit groups; open a child")
        lines += [
            f"group = zarr.open_group({store}{path_arg}, mode=\"r\"{fmt})",
            "print(group.info)",
            "print(sorted(group.keys()))",
        ]
    return "\n".join(lines) + "\n"


def _xarray_snippet(url: str, path: str, node: Node, storage_options: Mapping[str, Any] | None,
                    root_implicit: bool) -> str:
    rel = path.strip("/")
    group, _, variable = rel.rpartition("/") if node.is_array else (rel, "", "")
    lines = ["import xarray as xr"]
    group_arg = f", group={group!r}" if group else ""
    remote_zip = _remote_zip_setup(url, storage_options)
    if group and node.consolidated != "fresh":
        # not in the root's consolidated metadata: xarray fails to open a group below a root
        # that is no group (a folder of stores); the group's own URL finds it, and its own
        # consolidated metadata if any (in a zip, consolidated=False: what xarray falls back to)
        if not (_is_zip(url) or remote_zip is not None):
            url, group_arg = node_url(url, group), ""
        elif root_implicit:
            group_arg += ", consolidated=False"
    target, options = _location(url, storage_options)
    if _is_zip(url):
        lines += ["import zarr", "", f"store = zarr.storage.ZipStore({url!r}, mode=\"r\")",
                  f"ds = xr.open_zarr(store{group_arg})"]
    elif remote_zip is not None:
        lines += ["from zarr.storage import FsspecStore", "", remote_zip, f"ds = xr.open_zarr(store{group_arg})"]
    elif options:
        lines += ["", _options_line(options),
                  f"ds = xr.open_zarr({target!r}{group_arg}, storage_options=storage_options)"]
    else:
        lines += ["", f"ds = xr.open_zarr({target!r}{group_arg})"]
    if node.is_array:
        lines.append(f"da = ds[{variable!r}]")
        lines.append("print(da)")
    else:
        lines.append("print(ds)")
    return "\n".join(lines) + "\n"


def _napari_snippet(url: str, path: str, storage_options: Mapping[str, Any] | None) -> str:
    target = node_url(url, path)
    lines = ["import napari", ""]
    if storage_options:
        lines += ["# napari passes no storage options to readers: credentials come from the environment",
                  "# (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...); or run: zarr-browser URL --napari -O KEY=VALUE"]
    lines += [
        "viewer = napari.Viewer()",
        f"viewer.open({target!r}, plugin=\"zarr-browser\")",
        "napari.run()",
    ]
    return "\n".join(lines) + "\n"


def _ome_zarr_snippet(url: str, path: str, storage_options: Mapping[str, Any] | None) -> str:
    target = node_url(url, path)
    lines = ["from ome_zarr.io import parse_url", "from ome_zarr.reader import Reader", ""]
    if storage_options:
        lines.append("# ome-zarr-py takes no storage options here: this works for public or local stores only")
    lines += [
        f"location = parse_url({target!r}, mode=\"r\")",
        "nodes = list(Reader(location)())",
        "image = nodes[0]",
        "pyramid = image.data  # a list of dask arrays, largest first",
        "print(image.metadata)",
    ]
    return "\n".join(lines) + "\n"


def _wants_xarray(node: Node, detections: Iterable[Detection]) -> bool:
    for det in detections:
        if node.is_group and det.name in ("xarray", "cf") and "dataset" in det.roles:
            return True
        if node.is_array and det.name == "xarray" and "variable" in det.roles:
            return True
    return False


def _wants_ome(detections: Iterable[Detection]) -> bool:
    return any(det.name == "ome-ngff" and _OME_VIEWABLE & set(det.roles) for det in detections)


def snippets(
    url: str,
    path: str,
    node: Node,
    detections: Iterable[Detection],
    storage_options: Mapping[str, Any] | None = None,
    *,
    root_implicit: bool = False,
) -> dict[str, str]:
    """Code that opens *node* (at *path* of the store at *url*), by library name.

    Parameters
    ----------
    url
        The store as the user gave it (local path, ``.zip``, or URL).
    path
        The node path (``"/"`` for the root).
    node
        The node; error nodes get no snippet.
    detections
        The conventions found on the node (decides which libraries are offered).
    storage_options
        fsspec storage options, written into the snippets that accept them.
    root_implicit
        Whether the store's root holds no metadata (a folder of stores), which xarray cannot open
        a group below by ``group=``.

    Returns
    -------
    dict
        ``{"zarr-python": ..., "xarray": ..., "napari": ..., "ome-zarr-py": ...}``, only the
        entries that apply, in that order.
    """
    if node.kind == "error":
        return {}
    detections = tuple(detections)
    out = {"zarr-python": _zarr_snippet(url, path, node, storage_options)}
    xarray, ome = _wants_xarray(node, detections), _wants_ome(detections)
    if xarray:
        out["xarray"] = _xarray_snippet(url, path, node, storage_options, root_implicit)
    if ome or xarray or (node.array is not None and node.array.ndim >= 2):  # what our reader shows
        out["napari"] = _napari_snippet(url, path, storage_options)
    if ome:
        out["ome-zarr-py"] = _ome_zarr_snippet(url, path, storage_options)
    return out
