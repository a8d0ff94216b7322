"""Metadata conventions: detection, description and validation, one module each."""

from __future__ import annotations

from zarr_browser.core.conventions.base import (
    BaseConvention,
    Context,
    Convention,
    ConventionRegistry,
    Detection,
    DimensionSource,
)

__all__ = [
    "BaseConvention",
    "Context",
    "Convention",
    "ConventionRegistry",
    "Detection",
    "DimensionSource",
    "default_registry",
]


def default_registry() -> ConventionRegistry:
    """A fresh registry with every built-in convention, in display order."""
    from zarr_browser.core.conventions import registry_builtin

    return ConventionRegistry(registry_builtin.builtin_conventions())
