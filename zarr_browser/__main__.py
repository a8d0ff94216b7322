"""Entry point of the ``zarr-browser`` command (``python -m zarr_browser``)."""

from __future__ import annotations

import sys

from zarr_browser.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
