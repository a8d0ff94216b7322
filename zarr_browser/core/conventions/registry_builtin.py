"""The list of built-in conventions (imported lazily by ``default_registry``)."""

from __future__ import annotations

from zarr_browser.core.conventions.base import Convention

__all__ = ["builtin_conventions"]


def builtin_conventions() -> list[Convention]:
    """One fresh instance of each built-in convention, in display order."""
    from zarr_browser.core.conventions.ome import OmeNgffConvention

    conventions: list[Convention] = [OmeNgffConvention()]
    return conventions
