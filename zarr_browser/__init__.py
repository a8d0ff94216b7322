"""zarr-browser: browse, view, validate and edit zarr hierarchies."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
