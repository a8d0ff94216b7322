"""Writing metadata documents safely: atomic, conditional, and with consolidated metadata.

A :class:`DocumentBackend` reads a document together with a *version* (a SHA-256 of the bytes
locally, the ETag on S3) and writes it back only if the version is unchanged:

* :class:`LocalBackend` - under an exclusive ``flock`` on the document's directory: re-read
  and compare, write a temporary file in the store's root folder (prefix :data:`TEMP_PREFIX`;
  the document's folder when the root cannot take it), ``fsync`` it, ``os.replace`` it over the
  document and ``fsync`` the directory.  A crash leaves either the old or the new document,
  plus at worst a stray temporary file, which :func:`cleanup_temp_files` removes when a
  writable session next opens the store (``validate`` names it; reading never removes it).
* :class:`S3Backend` - ``put_object`` with ``If-Match: <etag>`` (``If-None-Match: *`` to create),
  through s3fs; a stale ETag is refused by the server, so no update is ever lost.
* :class:`StoreBackend` - any other writable zarr store (memory, other fsspec filesystems):
  compare then write, *not* atomic against concurrent writers.

HTTP stores and zip files are read-only.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zarr_browser.core.editing.commands import ABSENT, EditError, same
from zarr_browser.core.jsonio import JSON
from zarr_browser.core.store import StoreAccess, archive_of, check_key, run_sync
from zarr_browser.core.tempfiles import STALE_TEMP_SECONDS, TEMP_PREFIX, is_stale, temp_name
from zarr_browser.core.yielding import pause
from zarr_browser.errors import ReadOnlyError, StoreBoundaryError, StoreReadError

__all__ = [
    "TEMP_PREFIX",
    "ConflictError",
    "DocumentBackend",
    "LocalBackend",
    "S3Backend",
    "SaveFailedError",
    "Snapshot",
    "StoreBackend",
    "backend_for",
    "cleanup_temp_files",
    "read_only_reason",
    "reconsolidate",
    "unwritable",
]

logger = logging.getLogger(__name__)


class ConflictError(EditError):
    """A document changed in the store since it was read; nothing of it was overwritten.

    ``keys`` are the conflicting documents, ``deleted`` those of them that are gone from the
    store (removed by someone else); ``written`` those already saved by the same save (empty
    when the conflict was found before writing anything).
    """

    def __init__(self, message: str, keys: Iterable[str] = (), written: Iterable[str] = (),
                 deleted: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.keys = list(keys)
        self.written = list(written)
        self.deleted = list(deleted)


class SaveFailedError(EditError):
    """The store refused a write (a read-only file system, no permission, a full disk).

    ``written`` are the documents the same save wrote before (empty: nothing was written).
    """

    def __init__(self, message: str, written: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.written = list(written)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document as read: its bytes (None when absent) and its version token."""

    key: str
    data: bytes | None
    version: str | None

    @property
    def exists(self) -> bool:
        return self.data is not None


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


class DocumentBackend(ABC):
    """Reads documents with versions and writes them conditionally."""

    writable: bool = True
    atomic: bool = True
    description: str = ""

    @abstractmethod
    def read(self, key: str) -> Snapshot:
        """The document at *key* now."""

    @abstractmethod
    def write(self, key: str, data: bytes, expected: Snapshot) -> Snapshot:
        """Replace *key* with *data* if it is still as in *expected*; raises ConflictError."""

    def cleanup(self, directories: Iterable[str] = ("",)) -> list[str]:
        """Remove our stray temporary files in *directories* (store key prefixes)."""
        return []

    def check_writable(self, keys: Iterable[str]) -> None:  # noqa: B027 - most backends learn it by writing
        """Raise SaveFailedError when the documents *keys* cannot be written (before any is)."""


# -- local ------------------------------------------------------------------------------------


def cleanup_temp_files(directory: str | os.PathLike[str], *, max_age: float = STALE_TEMP_SECONDS) -> list[str]:
    """Remove our stale temporary files in *directory*: their writer, a process of this host, is
    gone, or they are *max_age* old (see :mod:`zarr_browser.core.tempfiles`: a process id says
    nothing of another host's saves on a shared file system).  Returns the paths removed.
    Only a writable session calls this: reading a store never changes it."""
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except FileNotFoundError:
            continue
        if not is_stale(entry.name, age, max_age=max_age):  # a save in progress (this process included)
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed.append(entry.path)
    if removed:
        logger.info("removed %d stray temporary file(s) in %s", len(removed), directory)
    return removed


def _kept_mode(path: Path | None, directory: Path) -> tuple[int | None, int | None]:
    """``(mode, group)`` a rewritten document keeps: those of the document *path* it replaces;
    a new one gets the group of a set-group-ID *directory*, as a file created there would (its
    temporary file is created in the store's root); None: as created."""
    import stat

    with contextlib.suppress(OSError):
        if path is not None:
            info = os.stat(path)
            return info.st_mode & 0o7777, info.st_gid
        info = os.stat(directory)
        if info.st_mode & stat.S_ISGID:
            return None, info.st_gid
    return None, None


class LocalBackend(DocumentBackend):
    """Atomic, compare-before-replace writes to a local directory store."""

    description = "local directory (temp file + fsync + rename, directory lock)"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.realpath(root))

    def _path(self, key: str) -> Path:
        check_key(key)
        if not key:
            raise EditError("a document key cannot be empty")
        path = self.root / key
        parent = Path(os.path.realpath(path.parent))
        if parent != self.root and self.root not in parent.parents:
            raise StoreBoundaryError(f"{path} resolves outside the store root {self.root}")
        return parent / path.name

    def check_writable(self, keys: Iterable[str]) -> None:
        """Create and remove a file in each directory the save writes to: a read-only file
        system, a directory of someone else's or an immutable one fails here, before any
        document is written, instead of after the first ones (the consolidated copy then stale)."""
        for directory in dict.fromkeys(self._path(key).parent for key in keys):
            pause()  # (a directory per array: see zarr_browser.core.yielding)
            probe = directory / temp_name("probe")
            try:
                os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                os.unlink(probe)
            except OSError as err:
                raise SaveFailedError(f"cannot write in {directory}: {err.strerror or err}; nothing was saved") from err

    def read(self, key: str) -> Snapshot:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            data = None
        except OSError as err:
            raise StoreReadError(f"reading {path} failed: {err}") from err
        return Snapshot(key, data, _digest(data))

    def write(self, key: str, data: bytes, expected: Snapshot) -> Snapshot:
        import fcntl

        path = self._path(key)
        directory = path.parent
        if path.is_symlink():
            raise EditError(f"{path} is a symbolic link; refusing to replace it with a file")
        if not directory.is_dir():
            raise EditError(f"{directory} does not exist")
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            fcntl.flock(dir_fd, fcntl.LOCK_EX)
            current = self.read(key)
            if current.version != expected.version:
                raise ConflictError(f"{path} changed since it was read; reload before saving", [key])
            mode, group = _kept_mode(path if current.exists else None, directory)
            # the temporary file goes in the store's root: a save killed before its rename leaves
            # it where a writable session's open looks (it was left in the document's folder,
            # found only when that node was loaded again: audit E, 8); in the document's folder
            # when the root refuses it or is another file system (a mount inside the store)
            places = list(dict.fromkeys((self.root, directory)))
            for at, place in enumerate(places):
                if self._replace_from(place, path, data, mode, group, last=at == len(places) - 1):
                    break
            os.fsync(dir_fd)
        except OSError as err:  # the temporary file's name means nothing to the user
            raise SaveFailedError(f"writing {path} failed: {err.strerror or err}") from err
        finally:
            os.close(dir_fd)  # closing releases the lock
        return Snapshot(key, data, _digest(data))

    @staticmethod
    def _replace_from(place: Path, path: Path, data: bytes, mode: int | None, group: int | None, *,
                      last: bool) -> bool:
        """Write *data* to a temporary file in the folder *place* (with *mode* and *group* when
        given), ``fsync`` it and rename it over *path*.  False when *place* cannot hold it (no
        permission, another file system) and it is not the *last* place to try; raises OSError
        otherwise."""
        tmp = place / temp_name(path.name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as err:
            if not last and err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return False
            raise
        try:
            try:
                if group is not None:
                    with contextlib.suppress(OSError):
                        os.fchown(fd, -1, group)
                if mode is not None:
                    with contextlib.suppress(OSError):
                        os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.replace(tmp, path)
            except OSError as err:
                if not last and err.errno == errno.EXDEV:
                    os.unlink(tmp)
                    return False
                raise
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        if place != path.parent:  # the temporary file's name gone from the root for good too
            with contextlib.suppress(OSError):
                root_fd = os.open(place, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
                try:
                    os.fsync(root_fd)
                finally:
                    os.close(root_fd)
        return True

    def cleanup(self, directories: Iterable[str] = ("",)) -> list[str]:
        removed: list[str] = []
        for prefix in dict.fromkeys(directories):
            directory = self.root / prefix.strip("/") if prefix.strip("/") else self.root
            removed.extend(cleanup_temp_files(directory))
        return removed


# -- S3 ---------------------------------------------------------------------------------------


def _is_precondition_failure(err: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, FileExistsError):
            return True
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = str(response.get("Error", {}).get("Code", ""))
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict") or status in (409, 412):
                return True
        if "pre-condition" in str(current).lower() or "precondition" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False


class S3Backend(DocumentBackend):
    """Conditional writes to S3 through s3fs: ``If-Match`` the ETag read, ``If-None-Match`` to create.

    Some S3-compatible servers ignore the conditions and write anyway (audit E).  Before the
    first write, :meth:`check_writable` asks the server once: a conditional write of an object
    that does not exist must fail.  Where it does not, the backend compares each document with
    the store just before writing it, as :class:`StoreBackend` does, and says so.
    """

    def __init__(self, fs: Any, base: str, url: str = "") -> None:
        self.fs = fs
        self.base = base.rstrip("/")
        self.url = url
        self.conditional: bool | None = None  # whether the server honours If-Match: learned before the first write

    @property
    def description(self) -> str:  # type: ignore[override]
        if self.conditional is False:
            return "S3 on a server that ignores If-Match (compare, then write; not atomic)"
        return "S3 (conditional PUT with If-Match)"

    def check_writable(self, keys: Iterable[str]) -> None:
        if self.conditional is None:
            self.conditional = self._honours_if_match()

    def _honours_if_match(self) -> bool:
        """Write a new object on the condition that it matches an ETag: a server that honours
        conditions refuses (no such key, or 412); one that writes it ignores them (the object
        is removed again)."""
        bucket, name = self._split(temp_name("probe"))
        path = f"{bucket}/{name}"

        async def put() -> Any:
            return await self.fs._pipe_file(path, b"", IfMatch='"zarr-browser-probe"')

        try:
            run_sync(put())
        except FileNotFoundError:
            return True
        except Exception as err:  # boundary of remote I/O
            if _is_precondition_failure(err):
                return True
            raise SaveFailedError(f"writing to s3://{bucket} failed: {type(err).__name__}: {err}; nothing was saved") \
                from err
        with contextlib.suppress(Exception):  # boundary of remote I/O: the probe is empty, and named ours
            run_sync(self.fs._rm_file(path))
        logger.warning("s3://%s ignores If-Match: documents are compared just before each write instead", bucket)
        return False

    def _split(self, key: str) -> tuple[str, str]:
        check_key(key)
        bucket, _, prefix = f"{self.base}/{key}".lstrip("/").partition("/")
        return bucket, prefix

    def read(self, key: str) -> Snapshot:
        bucket, name = self._split(key)

        async def get() -> Snapshot:
            try:
                response = await self.fs._call_s3("get_object", Bucket=bucket, Key=name)
            except FileNotFoundError:
                return Snapshot(key, None, None)
            body = response["Body"]
            try:
                data = await body.read()
            finally:
                body.close()
            return Snapshot(key, data, str(response.get("ETag")))

        try:
            return run_sync(get())
        except (FileNotFoundError, StoreReadError):
            raise
        except Exception as err:  # boundary of remote I/O
            raise StoreReadError(f"reading s3://{bucket}/{name} failed: {type(err).__name__}: {err}") from err

    def write(self, key: str, data: bytes, expected: Snapshot) -> Snapshot:
        bucket, name = self._split(key)
        path = f"{bucket}/{name}"
        kwargs: dict[str, Any] = {"mode": "create"} if expected.version is None else {"IfMatch": expected.version}
        if self.conditional is False and self.read(key).version != expected.version:
            raise ConflictError(f"s3://{path} changed since it was read; reload before saving", [key])

        async def put() -> Any:
            return await self.fs._pipe_file(path, data, **kwargs)

        try:
            response = run_sync(put())
        except Exception as err:  # boundary of remote I/O
            if _is_precondition_failure(err):
                raise ConflictError(f"s3://{path} changed since it was read; reload before saving", [key]) from err
            # a failed write, not a failed read: the save then says what it wrote before
            raise SaveFailedError(f"writing s3://{path} failed: {type(err).__name__}: {err}") from err
        etag = response.get("ETag") if isinstance(response, dict) else None
        if etag is None:
            return self.read(key)
        return Snapshot(key, data, str(etag))


# -- any zarr store ---------------------------------------------------------------------------


class StoreBackend(DocumentBackend):
    """Compare-then-write through the zarr store: safe against stale sessions, not atomic."""

    atomic = False
    description = "zarr store (compare, then write; not atomic)"

    def __init__(self, access: StoreAccess) -> None:
        self.access = access

    def read(self, key: str) -> Snapshot:
        data = run_sync(self.access.get(key))
        return Snapshot(key, data, _digest(data))

    def write(self, key: str, data: bytes, expected: Snapshot) -> Snapshot:
        from zarr.core.buffer import default_buffer_prototype

        if self.read(key).version != expected.version:
            raise ConflictError(f"{self.access.describe_key(key)} changed since it was read", [key])
        try:
            run_sync(self.access.zarr_store.set(key, default_buffer_prototype().buffer.from_bytes(data)))
        except Exception as err:  # boundary of store I/O: any store's own failure
            raise SaveFailedError(f"writing {self.access.describe_key(key)} failed: {type(err).__name__}: {err}") \
                from err
        return Snapshot(key, data, _digest(data))


class ReadOnlyBackend(DocumentBackend):
    """Reads only: stores opened read-only, HTTP, zip."""

    writable = False

    def __init__(self, access: StoreAccess, reason: str) -> None:
        self.access = access
        self.reason = reason
        self.description = f"read-only ({reason})"

    def read(self, key: str) -> Snapshot:
        data = run_sync(self.access.get(key))
        return Snapshot(key, data, _digest(data))

    def write(self, key: str, data: bytes, expected: Snapshot) -> Snapshot:
        raise ReadOnlyError(f"{self.access.url} is {self.reason}; cannot write {key!r}")


def unwritable(root: str | os.PathLike[str]) -> str | None:
    """Why the local store at *root* cannot be written, as far as the system says without
    writing (a read-only file system, no write permission); None when it may be."""
    try:
        if os.statvfs(root).f_flag & os.ST_RDONLY:
            return "on a read-only file system"
    except OSError:
        return None
    if not os.access(root, os.W_OK):
        return "in a directory you may not write to"
    return None


def read_only_reason(access: StoreAccess) -> str | None:
    """Why the documents of *access* cannot be written, whatever mode it was opened in (HTTP, a
    zip, a read-only disk...), as far as can be told without writing; None when they may be."""
    if access.protocol == "zip":
        return "a zip file; editing zip stores is not supported"
    archive = archive_of(access.url)
    if archive is not None:  # a folder inside an archive (audit E, 6: it was written to, and failed)
        where = "a zip file" if archive.rstrip("/") == access.url.rstrip("/") else f"inside the zip file {archive}"
        return f"{where}; editing zip stores is not supported"
    if access.protocol == "http":
        return "served over HTTP, which is read-only"
    if access.protocol == "local" and access.local_root is not None:
        return unwritable(access.local_root)
    return None


def backend_for(access: StoreAccess) -> DocumentBackend:
    """The backend that writes documents of *access* safely (read-only when it cannot)."""
    reason = read_only_reason(access)
    if reason is not None:
        return ReadOnlyBackend(access, reason)
    if access.read_only:
        return ReadOnlyBackend(access, "open read-only (open it with mode='r+' to edit)")
    if access.protocol == "local" and access.local_root is not None:
        return LocalBackend(access.local_root)
    target = access.fsspec_target()
    if access.protocol == "s3" and target is not None:
        return S3Backend(target[0], target[1], access.url)
    return StoreBackend(access)


# -- consolidated metadata --------------------------------------------------------------------


def reconsolidate(consolidated_key: str, consolidated: JSON, changed: Mapping[str, JSON]) -> JSON:
    """The consolidated document *consolidated* updated for the *changed* documents.

    v2 (``.zmetadata``): the ``.zattrs`` entries of changed nodes are replaced (added when the
    node is consolidated, removed when the document is gone).  v3 (root ``zarr.json``):
    each changed node's ``attributes`` and ``dimension_names`` are copied into its
    ``consolidated_metadata.metadata`` entry.  Nodes absent from the consolidated copy are left
    out, as they were.  Returns *consolidated* itself when nothing changes; otherwise a copy
    that shares the entries it leaves alone with *consolidated* (an index of 100,000 entries
    is not copied whole for one), so neither may be changed in place.
    """
    import copy

    if not isinstance(consolidated, dict):
        return consolidated
    if consolidated_key.rsplit("/", 1)[-1] == ".zmetadata":
        metadata = consolidated.get("metadata")
        if not isinstance(metadata, dict):
            return consolidated
        updates: dict[str, JSON] = {}
        for key, value in changed.items():
            head, _, name = key.rpartition("/")
            if name != ".zattrs":
                continue
            prefix = f"{head}/" if head else ""
            if f"{prefix}.zarray" not in metadata and f"{prefix}.zgroup" not in metadata:
                continue
            if value is ABSENT:
                if key in metadata:
                    updates[key] = ABSENT
            elif key not in metadata or not same(metadata[key], value):
                updates[key] = copy.deepcopy(value)
        if not updates:
            return consolidated
        entries = {**metadata, **updates}
        return {**consolidated, "metadata": {k: v for k, v in entries.items() if v is not ABSENT}}
    block = consolidated.get("consolidated_metadata")
    if not isinstance(block, dict) or not isinstance(block.get("metadata"), dict):
        return consolidated
    metadata = block["metadata"]
    replaced: dict[str, JSON] = {}
    for key, value in changed.items():
        head, _, name = key.rpartition("/")
        if name != "zarr.json" or not head or not isinstance(value, dict):
            continue
        entry = metadata.get(head)
        if not isinstance(entry, dict):
            continue
        new_entry = dict(entry)
        for field_name in ("attributes", "dimension_names"):
            if field_name in value:
                new_entry[field_name] = copy.deepcopy(value[field_name])
            elif field_name in entry and field_name == "dimension_names":
                del new_entry[field_name]
            elif field_name == "attributes" and field_name in entry:
                new_entry[field_name] = {}
        if not same(new_entry, entry):
            replaced[head] = new_entry
    if not replaced:
        return consolidated
    return {**consolidated, "consolidated_metadata": {**block, "metadata": {**metadata, **replaced}}}
