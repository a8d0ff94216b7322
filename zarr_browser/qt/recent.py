"""The stores opened recently, shared by the window (File ▸ Open recent, the welcome page) and
the napari dock (its URL box's list), kept in :func:`~zarr_browser.qt.app.app_settings`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zarr_browser.core.redact import redact_options, redact_url

if TYPE_CHECKING:
    from qtpy.QtCore import QSettings

__all__ = ["MAX_RECENT", "RecentStore", "RecentStores", "is_remote_url"]

logger = logging.getLogger(__name__)

MAX_RECENT = 10
_LOCAL_SCHEMES = ("file://", "memory://", "memory:")


def is_remote_url(url: str) -> bool:
    """Whether *url* names a store over the network (http, s3, gs...): writing there needs a confirmation."""
    url = url.strip()
    return "://" in url and not url.lower().startswith(_LOCAL_SCHEMES)


@dataclass(frozen=True, slots=True)
class RecentStore:
    """A store opened before: its URL and its storage options, both without credentials.

    *credentials_removed* says that the store was opened with credentials that were not saved:
    reopening it asks for them again.
    """

    url: str
    storage_options: dict[str, Any]
    credentials_removed: bool = False


class RecentStores:
    """The most recently opened stores, kept in a ``QSettings`` (newest first).

    Credentials are never saved: not among the storage options (keys, secrets, tokens,
    passwords, at any depth; HTTP headers), nor in the URL (``user:password@``, signature and
    token query parameters).
    """

    KEY = "recent/stores"

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def load(self) -> list[RecentStore]:
        raw = self._settings.value(self.KEY, "[]")
        try:
            entries = json.loads(raw if isinstance(raw, str) else "[]")
        except json.JSONDecodeError:
            logger.warning("ignoring unreadable recent stores in %s", self._settings.fileName())
            return []
        out = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                options = entry.get("storage_options")
                out.append(RecentStore(entry["url"], options if isinstance(options, dict) else {},
                                       entry.get("credentials_removed") is True))
        return out

    def add(self, url: str, storage_options: dict[str, Any] | None) -> list[RecentStore]:
        """Put *url* first (its credentials removed); returns the entries, newest first."""
        options = dict(storage_options or {})
        safe_url, safe_options = redact_url(url), redact_options(options)
        removed = is_remote_url(url) and (safe_url != url or safe_options != options)
        entries = [RecentStore(safe_url, safe_options, removed),
                   *(r for r in self.load() if r.url != safe_url)][:MAX_RECENT]
        self._settings.setValue(self.KEY, json.dumps([
            {"url": r.url, "storage_options": r.storage_options, "credentials_removed": r.credentials_removed}
            for r in entries]))
        self._settings.sync()
        return entries

    def clear(self) -> None:
        self._settings.remove(self.KEY)
        self._settings.sync()
