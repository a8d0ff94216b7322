"""The Qt-free, napari-free core: store access, hierarchy, conventions, validation.

Nothing in this package imports Qt, napari, vispy or dask.
"""

from __future__ import annotations

from zarr_browser.core.hierarchy import Hierarchy, Listing
from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.model import ArrayMeta, CodecInfo, Node
from zarr_browser.core.store import RequestPolicy, StoreAccess, open_store

__all__ = [
    "ArrayMeta",
    "CodecInfo",
    "Hierarchy",
    "Issue",
    "Listing",
    "Node",
    "RequestPolicy",
    "Severity",
    "StoreAccess",
    "open_store",
]
