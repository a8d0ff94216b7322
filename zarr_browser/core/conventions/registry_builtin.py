"""The list of built-in conventions (imported lazily by ``default_registry``)."""

from __future__ import annotations

from zarr_browser.core.conventions.base import Convention

__all__ = ["builtin_conventions"]


def builtin_conventions() -> list[Convention]:
    """One fresh instance of each built-in convention, in display order."""
    from zarr_browser.core.conventions.cf import CfConvention
    from zarr_browser.core.conventions.consolidated import ConsolidatedConvention
    from zarr_browser.core.conventions.nczarr import NczarrConvention
    from zarr_browser.core.conventions.ome import OmeNgffConvention
    from zarr_browser.core.conventions.xarray_dims import XarrayConvention
    from zarr_browser.core.conventions.zarr_conventions import ZarrConventionsConvention
    from zarr_browser.core.conventions.zarr_core import ZarrCoreConvention

    return [
        ZarrCoreConvention(),
        OmeNgffConvention(),
        XarrayConvention(),
        CfConvention(),
        NczarrConvention(),
        ZarrConventionsConvention(),
        ConsolidatedConvention(),
    ]
