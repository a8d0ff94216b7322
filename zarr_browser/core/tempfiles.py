"""The temporary files a save writes, and those a killed save leaves behind (reads only).

A save of a local store (:class:`zarr_browser.core.editing.save.LocalBackend`) writes each
document to a temporary file, ``fsync``\\ s it and renames it over the document.  A save killed in
between leaves the temporary file, as large as the document, and nothing else: readers never see
it as a node (listings leave out names starting with a dot).  The temporary files are written in
the store's root folder (renamed into the document's folder, on the same file system), so that a
writable session finds every one of them in one folder; :func:`leftovers` describes those a
listing shows, for ``validate``; only a writable session removes them
(:func:`zarr_browser.core.editing.save.cleanup_temp_files`).

Names: ``.zarr-browser-tmp-h<host>-<pid>-<token>-<document name>``, where ``<host>`` is 8 hex
digits of the SHA-256 of the host name.  A file is *stale* (its save no longer runs) when its
writer was a process of this host that is gone, or when it is :data:`STALE_TEMP_SECONDS` old:
a process id names a process on its own host only, and on a file system shared between hosts
the same number may be a live process here and a save in progress there (or the reverse); files
of another host, and those of older versions (``.zarr-browser-tmp-<pid>-<token>-<name>``, no
host), are judged by their age alone.  No save takes an hour.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zarr_browser.core.store import run_sync

if TYPE_CHECKING:
    from collections.abc import Iterable

    from zarr_browser.core.store import StoreAccess

__all__ = ["STALE_TEMP_SECONDS", "TEMP_PREFIX", "Leftover", "is_stale", "leftovers", "temp_name"]

TEMP_PREFIX = ".zarr-browser-tmp-"
"""Name prefix of our temporary files."""

STALE_TEMP_SECONDS = 3600.0
"""Age after which a temporary file is stale whoever wrote it."""


@functools.cache
def host_tag() -> str:
    """``h`` and 8 hex digits of this host's name (no dashes, unlike host names)."""
    return "h" + hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def temp_name(name: str) -> str:
    """A fresh temporary file name for the document *name*, naming this host and process."""
    return f"{TEMP_PREFIX}{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}-{name}"


def writer(name: str) -> tuple[str | None, int | None]:
    """``(host tag, process id)`` of the temporary file *name* (None where its name does not say)."""
    fields = name[len(TEMP_PREFIX):].split("-", 2)
    host = fields[0] if len(fields[0]) == 9 and fields[0].startswith("h") else None
    if host is not None:
        fields = fields[1:]
    try:
        return host, int(fields[0])
    except ValueError:
        return host, None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(name: str, age: float | None, *, max_age: float = STALE_TEMP_SECONDS) -> bool:
    """Whether the save that wrote the temporary file *name*, last modified *age* seconds ago,
    no longer runs: its writer, a process of this host, is gone, or the file is *max_age* old
    (None: the age is not known, as in a copy of the store elsewhere: stale)."""
    if age is None or age >= max_age:
        return True
    host, pid = writer(name)
    return host == host_tag() and pid is not None and not _pid_alive(pid)


@dataclass(frozen=True, slots=True)
class Leftover:
    """A stale temporary file: its store key, size in bytes and age in seconds (None: not known)."""

    key: str
    size: int | None
    age: float | None


def leftovers(access: StoreAccess, prefix: str, names: Iterable[str]) -> list[Leftover]:
    """The stale temporary files among *names*, listed in the folder *prefix* of *access* (``""``:
    the root); a temporary file of a save still running is not one.  A ``stat`` each locally,
    a size request each elsewhere (a store copied with its leftovers); nothing is written."""
    now = time.time()
    out: list[Leftover] = []
    for name in sorted(n for n in names if n.startswith(TEMP_PREFIX)):
        key = f"{prefix.strip('/')}/{name}".lstrip("/")
        size: int | None = None
        age: float | None = None
        if access.local_root is not None:
            try:
                info = os.lstat(access.local_root / key)
            except OSError:
                continue  # gone meanwhile (its save finished, or a writable session removed it)
            size, age = info.st_size, now - info.st_mtime
        else:
            with contextlib.suppress(Exception):  # the size is a detail of the message
                size = int(run_sync(access.zarr_store.getsize(key)))
        if is_stale(name, age):
            out.append(Leftover(key, size, age))
    return out
