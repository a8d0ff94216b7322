"""The exceptions zarr-browser raises.

Every error derives from :class:`ZarrBrowserError` and from the builtin it is closest to,
so callers may catch either.  Bad metadata inside a user's store is *not* an exception: it
becomes an :class:`~zarr_browser.core.issues.Issue` or an error node.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessDeniedError",
    "ArrayReadError",
    "BucketNotFoundError",
    "DocumentTooLargeError",
    "NodeNotFoundError",
    "OperationCancelledError",
    "ReadOnlyError",
    "StoreBoundaryError",
    "StoreOpenError",
    "StoreReadError",
    "StoreTimeoutError",
    "UnsafeArrayError",
    "UnsafeEnvironmentError",
    "ZarrBrowserError",
]


class ZarrBrowserError(Exception):
    """Base class of every error raised by zarr-browser."""


class StoreOpenError(ZarrBrowserError, OSError):
    """The store could not be opened (bad URL, missing path, unsupported scheme)."""


class StoreReadError(ZarrBrowserError, OSError):
    """A read from the store failed; the message names the URL and the key."""


class StoreTimeoutError(StoreReadError, TimeoutError):
    """A request did not finish before its deadline."""


class AccessDeniedError(StoreReadError):
    """The server refused a read: HTTP 403, S3 ``AccessDenied``.

    Either the caller may not read the key, or the key does not exist and the caller may not
    list: S3 and GCS answer 403 rather than 404 for a missing key then.  ``reason`` is the
    refusal in words (``access denied (HTTP 403 Forbidden)``), without the URL; ``advice`` what
    the user may do about it, or ``""``.
    """

    reason: str = "access denied"
    advice: str = ""


class BucketNotFoundError(StoreReadError):
    """The bucket a URL names does not exist (the message names it and the endpoint)."""


class OperationCancelledError(ZarrBrowserError):
    """The user cancelled the work while it waited for the store."""


class StoreBoundaryError(ZarrBrowserError, PermissionError):
    """A key would reach outside the store root (``..``, absolute path, symlink out).

    ``escape`` is ``(path, resolved, root)`` for a local path that resolves outside the root.
    """

    escape: tuple[Any, Any, Any] | None = None


class NodeNotFoundError(ZarrBrowserError, KeyError):
    """No zarr node exists at the requested path."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the plain message
        return str(self.args[0]) if self.args else ""


class ReadOnlyError(ZarrBrowserError, PermissionError):
    """A write was attempted on a store opened read-only."""


class DocumentTooLargeError(StoreReadError):
    """A metadata document exceeds the configured size bound."""


class UnsafeArrayError(ZarrBrowserError, PermissionError):
    """Decoding this array's chunks is refused by the safety gate."""


class ArrayReadError(ZarrBrowserError, ValueError):
    """An array's data could not be opened or decoded (bad metadata zarr refuses, corrupt chunks).

    The message names the node and the store URL; the original error is chained.
    """


class UnsafeEnvironmentError(ZarrBrowserError, RuntimeError):
    """The Python environment lacks a guard zarr-browser relies on."""
