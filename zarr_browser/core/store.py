"""Store access: turn what a user types into a guarded, read-only-by-default store.

One function, :func:`open_store`, accepts a local path, ``file://`` URL, ``.zip`` file,
``http(s)://``, ``s3://`` (and any other fsspec protocol with an async implementation).  The
result, :class:`StoreAccess`, offers

* raw metadata reads for the hierarchy (:meth:`StoreAccess.get_many`, :meth:`list_dir`),
* a zarr store (:attr:`StoreAccess.zarr_store`) for array data, wrapped in
  :class:`GuardedStore` so that *every* read - metadata or chunk - has its key checked against
  the store root, a deadline, and a bounded retry policy for transient failures.

Errors name the URL and the key.  Local directories are read with plain file I/O (much faster
than one thread hop per file); symlinks that leave the root are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import logging
import os
import random
import stat
import threading
import time
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

from zarr.abc.store import Store
from zarr.core.buffer import default_buffer_prototype
from zarr.core.sync import sync
from zarr.storage import LocalStore, WrapperStore

from zarr_browser.core.yielding import pause
from zarr_browser.errors import (
    AccessDeniedError,
    BucketNotFoundError,
    DocumentTooLargeError,
    OperationCancelledError,
    ReadOnlyError,
    StoreBoundaryError,
    StoreOpenError,
    StoreReadError,
    StoreTimeoutError,
    ZarrBrowserError,
)

if TYPE_CHECKING:
    from zarr.abc.store import ByteRequest
    from zarr.core.buffer import Buffer, BufferPrototype

__all__ = [
    "AccessMode",
    "GuardedStore",
    "RequestPolicy",
    "RequestStats",
    "StoreAccess",
    "TimeBound",
    "check_key",
    "describe_remote_error",
    "open_store",
    "options_for_url",
    "run_sync",
    "time_bound",
]

logger = logging.getLogger(__name__)

AccessMode = Literal["r", "r+"]
Protocol = Literal["local", "zip", "http", "s3", "memory", "fsspec"]

_MISSING_ERRORS = FileNotFoundError | IsADirectoryError | NotADirectoryError


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """Deadlines, retries and bounds applied to every store request.

    Attributes
    ----------
    attempt_timeout
        Seconds one attempt of a remote request may wait: over HTTP and S3 for data to come
        (a slow transfer that keeps flowing goes on, up to *deadline*), elsewhere in all.
    deadline
        Seconds a whole read (all attempts and back-off) may take before it fails.
    retries
        Extra attempts after a transient failure of an idempotent read.
    backoff
        First back-off delay in seconds; doubled per attempt, with jitter.
    concurrency
        Remote requests kept in flight at once by :meth:`StoreAccess.get_many`.
    max_document_bytes
        Metadata documents larger than this are refused (never parsed).
    """

    attempt_timeout: float = 5.0
    deadline: float = 15.0
    retries: int = 3
    backoff: float = 0.1
    concurrency: int = 64
    max_document_bytes: int = 64 * 1024 * 1024


@dataclass(slots=True)
class RequestStats:
    """Counters of what a :class:`StoreAccess` asked of its backend (for tests and tuning)."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, requests: int = 0, retries: int = 0, failures: int = 0) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.failures += failures


_cancel = threading.local()

_CANCEL_POLL = 0.05
"""Seconds between two looks at the cancel event while a cancellable :func:`run_sync` waits."""


@contextlib.contextmanager
def cancellable(event: threading.Event | None) -> Iterator[None]:
    """Within this block, store I/O this thread runs with :func:`run_sync` stops once *event* is
    set: the request is abandoned (its task on the I/O loop cancelled) and
    :class:`~zarr_browser.errors.OperationCancelledError` is raised.  ``None``: not cancellable."""
    previous = getattr(_cancel, "event", None)
    _cancel.event = event
    try:
        yield
    finally:
        _cancel.event = previous


@dataclass(slots=True)
class TimeBound:
    """One deadline shared by all the store I/O of a piece of work (see :func:`time_bound`)."""

    seconds: float
    deadline: float  # time.monotonic() when it runs out
    what: str = ""  # the work, for messages ("preview of /a")
    timeout: str | None = None  # the first read within it that timed out by its own deadline
    cut: bool = False  # a wait was cut short by the bound

    @property
    def left(self) -> float:
        """Seconds left (0 or less once it has run out)."""
        return self.deadline - time.monotonic()

    @property
    def expired(self) -> bool:
        """True once it has run out, or a read within it timed out (the next would wait as long)."""
        return self.cut or self.timeout is not None or self.left <= 0

    @property
    def reason(self) -> str:
        """Why reads stopped: the first read that timed out, else the bound running out."""
        return self.timeout or f"the store did not answer within {self.seconds:g} s"

    def error(self) -> StoreTimeoutError:
        """The error of a wait it cut short."""
        self.cut = True
        return StoreTimeoutError((f"{self.what}: " if self.what else "") +
                                 f"the store did not answer within {self.seconds:g} s")

    def note_timeout(self, message: str) -> None:
        if self.timeout is None:
            self.timeout = message


_BOUND: contextvars.ContextVar[TimeBound | None] = contextvars.ContextVar("zarr_browser_time_bound", default=None)
"""The bound of the work running (a context variable: the tasks :func:`run_sync` starts on the I/O
loop see it, and note their timeouts in it)."""


@contextlib.contextmanager
def time_bound(seconds: float, what: str = "") -> Iterator[TimeBound]:
    """Within this block, the store I/O this thread runs with :func:`run_sync` shares one deadline
    of *seconds*: each wait is cut to the time left (its task on the I/O loop cancelled), and once
    it has run out every call fails at once with StoreTimeoutError naming *what*.  Each request
    keeps its own deadline too, and one that times out marks the bound ``expired``: work trying
    one thing after another (a preview, well after well, on a server that stopped answering)
    stops there instead of waiting out a deadline for each.  A bound inside another ends no
    later than the outer one."""
    previous = _BOUND.get()
    deadline = time.monotonic() + seconds
    bound = TimeBound(seconds, deadline if previous is None else min(deadline, previous.deadline), what)
    token = _BOUND.set(bound)
    try:
        yield bound
    finally:
        _BOUND.reset(token)


def _note_timeout(err: StoreTimeoutError) -> StoreTimeoutError:
    """*err*, noted in the bound of the work it belongs to (if any)."""
    bound = _BOUND.get()
    if bound is not None:
        bound.note_timeout(str(err))
    return err


def run_sync(coro: Any, timeout: float | None = None) -> Any:
    """Run *coro* on zarr's I/O event loop and return its result (blocking; see :func:`cancellable`
    and :func:`time_bound`)."""
    pause()  # (a worker reading node after node: see zarr_browser.core.yielding)
    event: threading.Event | None = getattr(_cancel, "event", None)
    bound = _BOUND.get()
    if bound is not None:
        left = bound.left
        if left <= 0:
            coro.close()
            raise bound.error()
        bound = bound if timeout is None or left < timeout else None  # which limit cuts the wait
        timeout = left if bound is not None else timeout
    if event is None and bound is None:
        return sync(coro, timeout=timeout)
    if event is not None and event.is_set():
        coro.close()
        raise OperationCancelledError("cancelled")
    from zarr.core.sync import _get_loop

    future = asyncio.run_coroutine_threadsafe(coro, _get_loop())
    finished = threading.Event()
    future.add_done_callback(lambda _: finished.set())
    deadline = None if timeout is None else time.monotonic() + timeout
    while not finished.wait(_CANCEL_POLL):
        if event is not None and event.is_set():
            future.cancel()
            raise OperationCancelledError("cancelled")
        if deadline is not None and time.monotonic() > deadline:
            future.cancel()
            if bound is not None:
                raise bound.error()
            raise TimeoutError(f"the store did not answer within {timeout} s")
    return future.result()


def check_key(key: str) -> str:
    """Return *key* if it stays inside the store root, else raise StoreBoundaryError.

    Refused: absolute keys, ``..`` and ``.`` segments, empty segments, backslashes, NUL.
    The empty key (the root prefix) is allowed.
    """
    if key == "":
        return key
    if "\\" in key or "\x00" in key:
        raise StoreBoundaryError(f"key {key!r} contains a backslash or NUL byte")
    if key.startswith("/") or (len(key) > 1 and key[1] == ":"):
        raise StoreBoundaryError(f"key {key!r} is absolute")
    body = key[:-1] if key.endswith("/") else key
    for part in body.split("/"):
        if part in ("", ".", ".."):
            raise StoreBoundaryError(f"key {key!r} leaves the store root or has an empty segment")
    return key


_CONFIGURATION_ERRORS = frozenset({
    "NoCredentialsError", "PartialCredentialsError", "ParamValidationError", "NoRegionError", "ProfileNotFound",
    "InvalidConfigError", "UnknownSignatureVersionError",
})
"""botocore errors that no retry cures."""

_NO_CREDENTIALS = ("no AWS credentials found: for a public bucket open it anonymously (--anon, or Anonymous in the "
                   "Open URL dialog); otherwise set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile "
                   "(AWS_PROFILE, ~/.aws), or give -O key=… -O secret=…")


def describe_remote_error(err: BaseException, fs: Any = None) -> str:
    """A short reason for a failed remote request, in words a user can act on (the URL and key
    are the caller's to name).  *fs*, the file system that made the request, says where S3
    credentials came from (anonymous, storage options, the environment, a profile)."""
    name = type(err).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return _NO_CREDENTIALS
    if name == "ClientConnectorDNSError" or (name == "ClientConnectorError" and "Name or service not known" in str(err)):
        return f"host not found: {getattr(err, 'host', '?')}"
    if name in ("ClientConnectorError", "ClientConnectorCertificateError", "ClientConnectorSSLError"):
        host, port = getattr(err, "host", "?"), getattr(err, "port", "?")
        cause = getattr(err, "os_error", None)
        if isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED:
            return f"connection refused by {host}:{port} (is the server running, and is the port right?)"
        return f"cannot connect to {host}:{port}: {getattr(cause, 'strerror', None) or err}"
    status = getattr(err, "status", None)
    if name == "ClientResponseError" and isinstance(status, int):
        text = f"HTTP {status} {getattr(err, 'message', '') or ''}".rstrip()
        return f"access denied ({text})" if status == 403 else text
    s3 = _s3_error(err)
    if s3 is not None:  # botocore's ClientError, or what s3fs made of it (PermissionError, FileNotFoundError...)
        return _describe_s3(*s3, fs)
    if isinstance(err, TypeError) and "unexpected keyword argument" in str(err):
        option = str(err).rsplit("argument", 1)[-1].strip(" '\"")
        return f"storage option {option!r} is not accepted for this kind of URL"
    if isinstance(err, ValueError) and str(err).startswith("Protocol not known: "):
        return _unknown_protocol(str(err).removeprefix("Protocol not known: "))
    if isinstance(err, ValueError) and str(err).startswith("Invalid endpoint: "):  # botocore, on the first request
        return _endpoint_without_scheme(str(err).removeprefix("Invalid endpoint: "))
    if isinstance(err, PermissionError) and not isinstance(err, StoreBoundaryError):
        return f"access denied ({err})" if str(err) else "access denied"
    return f"{name}: {err}"


def _endpoint_without_scheme(endpoint: str) -> str:
    """Why botocore refuses the S3 endpoint *endpoint* (``Invalid endpoint``), and the fix."""
    names = [n for n in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL") if os.environ.get(n) == endpoint]
    where = f" (from {names[0]})" if names else ""
    if "://" in endpoint:
        return f"the endpoint URL {endpoint}{where} is not valid (expected http://host:port or https://host)"
    return (f"the endpoint URL {endpoint}{where} needs a scheme: http://{endpoint} (or https://{endpoint})")


_S3_DENIED = frozenset({"AccessDenied", "403", "Forbidden", "AllAccessDisabled"})
"""S3 error codes of a refused read: no permission, or (a caller who may not list) no such key."""


_S3_CREDENTIALS = {
    "SignatureDoesNotMatch": "the secret key does not match the access key{key}",
    "InvalidAccessKeyId": "the access key{key} is not known to it",
    "InvalidClientTokenId": "the access key{key} is not known to it",
    "ExpiredToken": "the session token has expired",
    "TokenRefreshRequired": "the session token has expired",
    "InvalidToken": "the session token is not valid",
    "AuthorizationHeaderMalformed": "the credentials are malformed",
}
"""S3 error codes of credentials the server refuses, and why in words."""


def _s3_error(err: BaseException) -> tuple[str, str, dict[str, Any]] | None:
    """``(code, message, error)`` of botocore's ClientError behind *err* (s3fs turns it into
    PermissionError, FileNotFoundError or OSError and chains it), else None."""
    seen: BaseException | None = err
    for _ in range(4):
        if seen is None:
            return None
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and isinstance(response.get("Error"), dict):
            error = response["Error"]
            return str(error.get("Code", "?")), str(error.get("Message", "") or ""), error
        seen = seen.__cause__ or seen.__context__
    return None


def _s3_detail(code: str, message: str) -> str:
    return f"S3 {code}" + (f": {message}" if message and message != code else "")


def _describe_s3(code: str, message: str, error: dict[str, Any], fs: Any) -> str:
    if code == "NoSuchBucket":  # (zarr's store reads it as a missing key: "no zarr metadata found")
        bucket = error.get("BucketName")
        endpoint = _s3_endpoint(fs)
        return (f"bucket {bucket!r} does not exist" if bucket else "the bucket does not exist") + (
            f" (at {endpoint})" if endpoint else "")
    source = _s3_credentials(fs)
    if code in _S3_CREDENTIALS:
        key = source[1] if source is not None else None
        why = _S3_CREDENTIALS[code].format(key=f" {key}" if key else "")
        came = f"; they came from {source[0]}" if source is not None and source[0] != "anonymous" else ""
        return f"credentials refused by the server: {why} (S3 {code}){came}"
    if code in _S3_DENIED:
        reason, advice = _s3_denial(_s3_detail(code, message), source)
        return f"{reason}: {advice}" if advice else reason
    return _s3_detail(code, message)


def _s3_denial(detail: str, source: tuple[str, str | None] | None) -> tuple[str, str]:
    """``(reason, advice)`` of an S3 refusal (*detail*: its code and message) to requests
    signed as *source* says."""
    if source is not None and source[0] == "anonymous":
        return (f"access denied to anonymous requests ({detail})",
                "the bucket is not public - drop --anon (or Anonymous in the Open URL dialog) and give credentials")
    if source is not None:
        return f"access denied ({detail}) to the credentials from {source[0]}", ""
    return f"access denied ({detail})", ""


def _denial(err: BaseException, fs: Any) -> tuple[str, str]:
    """``(reason, advice)`` of a refused read (see :func:`_is_denied`)."""
    s3 = _s3_error(err)
    if s3 is not None:
        return _s3_denial(_s3_detail(s3[0], s3[1]), _s3_credentials(fs))
    return describe_remote_error(err, fs), ""


def _s3_endpoint(fs: Any) -> str | None:
    """The endpoint an S3 file system talks to, when not AWS's own."""
    client = getattr(fs, "client_kwargs", None)
    endpoint = getattr(fs, "endpoint_url", None) or (client.get("endpoint_url") if isinstance(client, dict) else None)
    return str(endpoint) if endpoint else os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")


_CREDENTIAL_METHODS = {
    "env": "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
    "shared-credentials-file": "the shared credentials file (~/.aws/credentials{profile})",
    "config-file": "the AWS config file (~/.aws/config{profile})",
    "assume-role": "a role assumed from the AWS config{profile}",
    "sso": "AWS SSO{profile}",
    "iam-role": "the instance's IAM role",
    "container-role": "the container's IAM role",
}


def _s3_credentials(fs: Any) -> tuple[str, str | None] | None:
    """Where the credentials of an S3 file system came from, in words, and the access key
    (never the secret); ``("anonymous", None)`` for unsigned requests; None when unknown."""
    if fs is None or not hasattr(fs, "anon"):
        return None
    if fs.anon:
        return "anonymous", None
    client = getattr(fs, "client_kwargs", None) or {}
    key = getattr(fs, "key", None) or (client.get("aws_access_key_id") if isinstance(client, dict) else None)
    if key:
        return "the storage options (-O key=..., the Open URL dialog or ZARR_BROWSER_STORAGE_OPTIONS)", str(key)
    credentials = getattr(getattr(fs, "session", None), "_credentials", None)  # what botocore's chain found
    method = getattr(credentials, "method", None)
    profile = getattr(fs, "profile", None) or os.environ.get("AWS_PROFILE")
    if method is None:
        return None
    where = _CREDENTIAL_METHODS.get(str(method), f"the AWS credential chain ({method})")
    return where.format(profile=f", profile {profile}" if profile else ""), getattr(credentials, "access_key", None)


def _is_denied(err: BaseException) -> bool:
    """Whether *err* is a server's refusal to read (HTTP 403, S3 AccessDenied), which a server
    that does not let the caller list also answers for a key that does not exist; credentials
    the server refuses (a wrong secret) are not."""
    if isinstance(err, ZarrBrowserError):
        return isinstance(err, AccessDeniedError)
    if type(err).__name__ == "ClientResponseError":
        return getattr(err, "status", None) == 403
    s3 = _s3_error(err)
    if s3 is not None:
        return s3[0] in _S3_DENIED
    return isinstance(err, PermissionError)


def _unknown_protocol(protocol: str) -> str:
    """Name a URL scheme that no fsspec file system handles, with the nearest known ones."""
    import difflib

    from fsspec.registry import known_implementations

    near = difflib.get_close_matches(protocol, ["file", "http", "https", "s3", "zip", *known_implementations], n=3)
    hint = f"did you mean {' or '.join(f'{p}://' for p in dict.fromkeys(near))}?" if near else (
        "zarr-browser opens paths, file://, http(s)://, s3://, zip files and the other fsspec protocols")
    return f"unknown protocol {protocol!r} ({hint})"


def _is_transient(err: BaseException) -> bool:
    """Whether *err* is worth retrying for an idempotent read."""
    if isinstance(err, _MISSING_ERRORS | PermissionError | StoreBoundaryError):
        return False
    if isinstance(err, TimeoutError | ConnectionError | asyncio.TimeoutError):
        return True
    status = getattr(err, "status", None) or getattr(err, "code", None)
    if isinstance(status, int):
        return status >= 500 or status in (408, 429)
    if type(err).__name__ in _CONFIGURATION_ERRORS:
        return False  # asking again cannot help: the user must change something
    module = type(err).__module__ or ""
    if module.startswith(("aiohttp", "botocore", "aiobotocore", "urllib3")):
        return True
    return isinstance(err, OSError) and err.errno not in (errno.ENOENT, errno.EACCES, errno.EISDIR)


SMALL_SERVER_REQUESTS = 6
"""Requests kept in flight at once to a server that drops connections above a handful:
Python's ``http.server`` (``python -m http.server``, ``Server: SimpleHTTP/…``) listens with a
backlog of 5, and each connection it drops costs a 1 s SYN retransmit - a 48-chunk view took
1.4-7.7 s there at 64 in flight, 0.03 s at 6."""

_SMALL_SERVERS = ("SimpleHTTP/",)


class _Gate:
    """What one store's server is known to need: a bound on the requests in flight, set once
    its ``Server`` header says so; whether it ignores ranges (shared by every copy of a
    :class:`GuardedStore`)."""

    __slots__ = ("denies_missing", "semaphore", "size", "whole_objects")

    def __init__(self) -> None:
        self.size: int | None = None
        self.semaphore: asyncio.Semaphore | None = None
        self.whole_objects = False  # the server answers range requests with whole objects
        # the server answers 403 for keys that do not exist (S3 or GCS to a caller who may not
        # list): chunk reads it refuses are read as absent (see GuardedStore.get)
        self.denies_missing = False

    def saw_server(self, server: str, url: str) -> None:
        """Narrow the bound when *server* (a ``Server`` header) is one that drops connections."""
        if self.size is None and server.startswith(_SMALL_SERVERS):
            self.size = SMALL_SERVER_REQUESTS
            self.semaphore = asyncio.Semaphore(self.size)
            logger.info("%s is served by %s, which drops connections above a few at once: at most %d requests "
                        "in flight", url, server, self.size)


class GuardedStore(WrapperStore[Store]):
    """A zarr store wrapper: key checks, local boundary checks, deadlines and retries.

    Every key is checked with :func:`check_key`; for local stores the resolved path must stay
    inside the root (symlinks out are refused).  Remote reads get a per-attempt timeout, an
    overall deadline and bounded retries with back-off; a failure raises
    :class:`StoreReadError` naming the URL and key, never a silent "missing".
    """

    def __init__(
        self,
        store: Store,
        *,
        url: str,
        policy: RequestPolicy,
        stats: RequestStats,
        local_root: Path | None = None,
        gate: _Gate | None = None,
        idle_timeouts: bool = False,
    ) -> None:
        super().__init__(store)
        self._url = url.rstrip("/")
        self._policy = policy
        self._stats = stats
        self._local_root = local_root
        self._gate = gate or _Gate()
        self._idle_timeouts = idle_timeouts

    def _with_store(self, store: Store) -> GuardedStore:
        return GuardedStore(
            store, url=self._url, policy=self._policy, stats=self._stats, local_root=self._local_root, gate=self._gate,
            idle_timeouts=self._idle_timeouts,
        )

    @property
    def in_flight_bound(self) -> int | None:
        """At most this many requests in flight at once (a server that needs it), else None."""
        return self._gate.size

    def describe_key(self, key: str) -> str:
        """The full URL of *key*, for error messages."""
        return f"{self._url}/{key}" if key else self._url

    def _check(self, key: str) -> None:
        check_key(key)
        if self._local_root is not None and key:
            _check_local_path(self._local_root, key)

    async def _retrying(self, key: str, make: Any) -> Any:
        policy = self._policy
        started = time.monotonic()
        attempt = 0
        while True:
            gate = self._gate.semaphore
            if gate is not None:  # waiting for a turn counts against the deadline, not the attempt
                try:
                    await asyncio.wait_for(gate.acquire(), timeout=max(0.01, policy.deadline - (time.monotonic() - started)))
                except TimeoutError as err:
                    self._stats.add(failures=1)
                    raise _note_timeout(StoreTimeoutError(
                        f"reading {self.describe_key(key)} timed out (waiting for a turn: the server takes "
                        f"{self._gate.size} requests at once)")) from err
            remaining = policy.deadline - (time.monotonic() - started)
            self._stats.add(requests=1)
            # HTTP and S3 time an attempt out when no data comes for attempt_timeout (their sockets'
            # read timeouts): a large document or chunk on a slow link may take longer as long as
            # it flows.  A total per attempt made a 3.9 MB zarr.json at 512 KiB/s unreadable
            # whatever --timeout said: downloaded 4 times and thrown away (audit H, 1).
            bound = remaining if self._idle_timeouts else min(policy.attempt_timeout, remaining)
            try:
                return await asyncio.wait_for(make(), timeout=max(0.01, bound))
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as err:  # classified below; the boundary of remote I/O
                transient = _is_transient(err)
                elapsed = time.monotonic() - started
                if not transient or attempt >= policy.retries or elapsed >= policy.deadline:
                    self._stats.add(failures=1)
                    if isinstance(err, _MISSING_ERRORS | StoreBoundaryError | StoreReadError):
                        raise
                    fs = getattr(self._store, "fs", None)  # (S3: where the credentials came from)
                    what = "timed out" if isinstance(err, TimeoutError) else f"failed: {describe_remote_error(err, fs)}"
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    message = f"reading {self.describe_key(key)} {what}{tries}"
                    if _is_denied(err):
                        denied = AccessDeniedError(message)
                        denied.reason, denied.advice = _denial(err, fs)
                        raise denied from err
                    if isinstance(err, TimeoutError):  # which limit: the user can raise it (--timeout)
                        message += (f" (no data for {policy.attempt_timeout:g} s" if self._idle_timeouts
                                    else f" (no answer within {policy.attempt_timeout:g} s") + \
                            f" per attempt; {policy.deadline:g} s in all)"
                    if isinstance(err, TimeoutError):
                        raise _note_timeout(StoreTimeoutError(message)) from err
                    raise StoreReadError(message) from err
                attempt += 1
                self._stats.add(retries=1)
                delay = policy.backoff * (2 ** (attempt - 1)) * (0.5 + random.random())
                if gate is not None:
                    gate.release()
                    gate = None
                await asyncio.sleep(min(delay, max(0.0, policy.deadline - elapsed)))
            finally:
                if gate is not None:
                    gate.release()

    async def get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """The bytes at *key* (None: absent).  On a server known to answer 403 for keys that do
        not exist (:attr:`denies_missing`), a refused read is an absent key too: zarr writers
        leave chunks of the fill value out, and a labels image of a public bucket that does not
        let anyone list it is mostly such chunks (each refused).  Until the hierarchy has seen
        that (a node's own document read beside refused probes), a refusal is an error."""
        try:
            return await self._get(key, prototype, byte_range)
        except AccessDeniedError:
            if not self._gate.denies_missing:
                raise
            return None

    @property
    def denies_missing(self) -> bool:
        """Whether the server is known to answer 403 for keys that do not exist (then chunk reads
        it refuses are read as absent, drawn as the fill value)."""
        return self._gate.denies_missing

    async def _get(
        self, key: str, prototype: BufferPrototype, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        self._check(key)
        if self._local_root is not None:
            self._stats.add(requests=1)
            try:
                check_regular(os.path.join(self._local_root, key))  # zarr's own open would block on a FIFO
            except (FileNotFoundError, NotADirectoryError):
                return None
            except StoreReadError:
                raise
            except OSError as err:
                raise StoreReadError(f"reading {self.describe_key(key)} failed: {err}") from err
            try:
                return await self._store.get(key, prototype, byte_range)
            except OSError as err:
                raise StoreReadError(f"reading {self.describe_key(key)} failed: {err}") from err
        zf = getattr(self._store, "_zf", None)
        if byte_range is None and isinstance(zf, zipfile.ZipFile):
            self._check_member(zf, key)
        buffer = await self._retrying(key, lambda: self._store.get(key, prototype, byte_range))
        return self._within_range(key, buffer, byte_range, prototype)

    def _within_range(self, key: str, buffer: Buffer | None, byte_range: ByteRequest | None,
                      prototype: BufferPrototype) -> Buffer | None:
        """The bytes *byte_range* asked for, when the server sent more: a server that ignores
        ``Range`` (``python -m http.server``) answers with the whole object, and a shard index
        read from its start would be garbage - so the range is cut out here."""
        from zarr.abc.store import RangeByteRequest, SuffixByteRequest

        if buffer is None or byte_range is None:
            return buffer
        if isinstance(byte_range, RangeByteRequest):
            wanted, size = byte_range.end - byte_range.start, len(buffer)
            if size <= wanted:
                return buffer
            data = buffer.to_bytes()[byte_range.start : byte_range.end]
        elif isinstance(byte_range, SuffixByteRequest):
            if len(buffer) <= byte_range.suffix:
                return buffer
            data = buffer.to_bytes()[-byte_range.suffix :] if byte_range.suffix else b""
        else:
            return buffer
        if not self._gate.whole_objects:
            self._gate.whole_objects = True
            logger.warning("%s answers range requests with whole objects: the ranges are cut out here (sharded "
                           "arrays read whole shards for each inner chunk)", self.describe_key(key))
        return prototype.buffer.from_bytes(data)

    def _check_member(self, zf: zipfile.ZipFile, key: str) -> None:
        """A zip member read whole may inflate to at most one chunk's bound (zip bombs)."""
        from zarr_browser.core.safety import Limits

        try:
            size = zf.getinfo(key).file_size
        except KeyError:
            return
        bound = Limits.from_env().max_chunk_bytes
        if size > bound:
            raise DocumentTooLargeError(f"{self.describe_key(key)} inflates to {size:,} bytes, over the "
                                        f"{bound:,}-byte bound of one chunk")

    async def get_document(self, key: str, limit: int) -> bytes | None:
        """*key* whole, refused with DocumentTooLargeError before more than *limit* bytes are held:
        a zip member by its declared size (a zip bomb inflates 14 MB to gigabytes), an HTTP body
        by its Content-Length and as it streams, anything else by a range read of limit + 1."""
        self._check(key)
        inner: Any = self._store
        prototype = default_buffer_prototype()
        too_big = DocumentTooLargeError(f"{self.describe_key(key)} is over the {limit}-byte bound")
        zf = getattr(inner, "_zf", None)
        if isinstance(zf, zipfile.ZipFile):
            try:
                if zf.getinfo(key).file_size > limit:
                    raise too_big
            except KeyError:
                return None
        elif self._local_root is None and _is_http_fs(getattr(inner, "fs", None)):
            return await self._retrying(
                key, lambda: _http_bounded(inner.fs, f"{inner.path}/{key}", limit, too_big, self._gate))
        elif self._local_root is None:
            from zarr.abc.store import RangeByteRequest

            # (_get: a refused metadata document is the hierarchy's to judge, never read as absent here)
            buf = await self._get(key, prototype, RangeByteRequest(0, limit + 1))
            data = None if buf is None else buf.to_bytes()
            if data is not None and len(data) > limit:
                raise too_big
            return data
        buf = await self._get(key, prototype)
        return None if buf is None else buf.to_bytes()

    async def get_partial_values(
        self,
        prototype: BufferPrototype,
        key_ranges: Iterable[tuple[str, ByteRequest | None]],
    ) -> list[Buffer | None]:
        pairs = list(key_ranges)
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in pairs)))

    async def exists(self, key: str) -> bool:
        self._check(key)
        try:
            return bool(await self._retrying(key, lambda: self._store.exists(key)))
        except AccessDeniedError:  # as get(): absent, on a server known to answer 403 for missing keys
            if not self._gate.denies_missing:
                raise
            return False

    async def set(self, key: str, value: Buffer) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self._url} is open read-only; cannot write {key!r}")
        self._check(key)
        await self._store.set(key, value)

    async def delete(self, key: str) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self._url} is open read-only; cannot delete {key!r}")
        self._check(key)
        await self._store.delete(key)

    def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        check_key(prefix)
        return self._store.list_prefix(prefix)

    def list_dir(self, prefix: str) -> AsyncIterator[str]:
        check_key(prefix)
        return self._store.list_dir(prefix)


def _is_http_fs(fs: Any) -> bool:
    protocol = getattr(fs, "protocol", None)
    protocols = protocol if isinstance(protocol, tuple | list) else (protocol,)
    return any(p in ("http", "https") for p in protocols)


async def _http_bounded(fs: Any, url: str, limit: int, too_big: Exception, gate: _Gate | None = None) -> bytes | None:
    """GET *url* through fsspec's HTTP session, holding at most *limit* bytes of the body (and
    telling *gate* which server answered)."""
    session = await fs.set_session()
    async with session.get(fs.encode_url(url), **fs.kwargs) as response:
        if gate is not None:
            gate.saw_server(response.headers.get("Server", ""), url)
        if response.status == 404:
            return None
        fs._raise_not_found_for_status(response, url)
        if response.content_length is not None and response.content_length > limit:
            raise too_big
        body = bytearray()
        async for piece in response.content.iter_chunked(1 << 16):
            body += piece
            if len(body) > limit:
                raise too_big
        return bytes(body)


def _check_local_path(root: Path, key: str) -> Path:
    """Resolve *key* under *root* and refuse it if it lands outside (symlinks included)."""
    path = root / key
    resolved = Path(os.path.realpath(path))
    if resolved != root and root not in resolved.parents:
        err = StoreBoundaryError(f"{path} resolves to {resolved}, outside the store root {root}")
        err.escape = (path, resolved, root)
        raise err
    return resolved


def symlink_loop(root: Path, directory: str) -> str | None:
    """Why *directory* (a key under *root*) is a symlink loop — it resolves to itself or to one
    of its lexical ancestors, so walking it would never end — or None.

    Only a symlink can close a loop, so a directory that is not one costs a single ``lstat``
    (resolving every ancestor of every directory made a walk 1,000 folders deep cubic)."""
    if not directory or not os.path.islink(os.path.join(root, directory)):
        return None
    resolved = os.path.realpath(os.path.join(root, directory))
    parts = directory.split("/")
    for depth in range(len(parts) - 1, -1, -1):
        ancestor = "/".join(parts[:depth])
        if os.path.realpath(os.path.join(root, ancestor) if ancestor else root) == resolved:
            shown = ancestor or "the store root"
            return f"{root / directory} is a symlink loop: it leads back to {shown}"
    return None


_NOT_REGULAR = "is not a regular file (a pipe, device or socket): refused, as reading it could block or never end"


def check_regular(path: str, fd: int | None = None) -> None:
    """Refuse what is not a regular file: a FIFO blocks ``open()`` forever, ``/dev/zero`` never ends."""
    info = os.fstat(fd) if fd is not None else os.stat(path)
    if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
        raise StoreReadError(f"{path} {_NOT_REGULAR}")


class _LocalReader:
    """Fast, boundary-checked raw reads of a local directory store."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._dirs: dict[str, Exception | None] = {"": None}

    def _dir_problem(self, directory: str) -> Exception | None:
        """Why reading under *directory* is refused (outside the root, a symlink loop), or None.

        Ancestors are checked first (and cached); below a checked ancestor, a directory that is
        not a symlink needs no resolving — it cannot leave the root or close a loop — so a walk
        a thousand folders deep stays linear instead of resolving every path component again.
        """
        if directory in self._dirs:  # dict reads and writes are atomic: no lock needed
            return self._dirs[directory]
        chain = [directory]  # the directory and its unchecked ancestors, deepest first
        while True:
            parent = chain[-1].rpartition("/")[0]
            if parent in self._dirs:
                break
            chain.append(parent)
        for path in reversed(chain):
            parent_problem = self._dirs[path.rpartition("/")[0]]
            if parent_problem is not None:
                problem: Exception | None = parent_problem
            elif os.path.islink(os.path.join(self.root, path)):
                problem = self._resolve_problem(path)
            else:
                problem = None
            self._dirs[path] = problem
        return self._dirs[directory]

    def _resolve_problem(self, directory: str) -> Exception | None:
        try:
            _check_local_path(self.root, directory)
        except StoreBoundaryError:
            return StoreBoundaryError(f"{self.root / directory} resolves outside the store root {self.root}")
        loop = symlink_loop(self.root, directory)
        return StoreReadError(loop) if loop else None

    def _check_dir(self, directory: str) -> None:
        problem = self._dir_problem(directory)
        if problem is not None:
            raise type(problem)(str(problem))

    def read(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes | None:
        check_key(key)
        directory, _, _ = key.rpartition("/")
        self._check_dir(directory)
        path = os.path.join(self.root, key)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)  # a FIFO does not block the open
        try:
            fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except (IsADirectoryError, NotADirectoryError):
            return None
        except OSError as err:
            if err.errno == errno.ELOOP:  # the final component is a symlink: resolve and check
                _check_local_path(self.root, key)
                fd = os.open(path, flags)
            else:
                raise StoreReadError(f"reading {path} failed: {err}") from err
        try:
            check_regular(path, fd)
            if stat.S_ISDIR(os.fstat(fd).st_mode):  # opens on Linux; reading it said "Is a directory", no path
                raise StoreReadError(f"{path} is a directory, where a file is expected")
            if byte_range is not None:  # a part of the file: one pread, bounded by the caller's range
                start, stop = byte_range
                if not 0 <= start <= stop or stop - start > self.max_bytes:
                    raise StoreReadError(f"bad byte range {start}–{stop} of {path}")
                return os.pread(fd, stop - start, start)
            size = os.fstat(fd).st_size
            if size > self.max_bytes:
                raise DocumentTooLargeError(f"{path} is {size} bytes, over the {self.max_bytes}-byte bound")
            chunks, total = [], 0
            while True:
                block = os.read(fd, max(size, 65536))
                if not block:
                    break
                total += len(block)
                if total > self.max_bytes:  # it grew while being read
                    raise DocumentTooLargeError(f"{path} is over the {self.max_bytes}-byte bound")
                chunks.append(block)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def read_many(self, keys: Sequence[str], stats: RequestStats) -> dict[str, bytes | Exception | None]:
        """Read many keys; one directory listing per directory spares opening absent files."""
        present: dict[str, frozenset[str] | None] = {}
        out: dict[str, bytes | Exception | None] = {}
        reads = 0
        for key in keys:
            directory, _, name = key.rpartition("/")
            try:  # the boundary checks come before any I/O, listing included
                check_key(key)
                self._check_dir(directory)
            except (StoreBoundaryError, StoreReadError) as err:
                out[key] = err
                continue
            names = present.get(directory, ())
            if names == ():
                try:
                    names = frozenset(os.listdir(os.path.join(self.root, directory) if directory else self.root))
                except (FileNotFoundError, NotADirectoryError):
                    names = frozenset()
                except OSError:
                    names = None  # unlistable: fall back to opening each file
                present[directory] = names
            if names is not None and name not in names:
                out[key] = None
                continue
            reads += 1
            try:
                out[key] = self.read(key)
            except (StoreReadError, StoreBoundaryError, OSError) as err:
                out[key] = err
        stats.add(requests=reads)
        return out

    def list_dir(self, prefix: str) -> list[str]:
        check_key(prefix)
        directory = prefix.rstrip("/")
        self._check_dir(directory)
        path = os.path.join(self.root, directory) if directory else str(self.root)
        names: list[str] = []
        try:
            with os.scandir(path) as entries:
                # Symlinks that leave the root are listed all the same: reading them is refused,
                # so they show up as error nodes saying so instead of silently missing.
                names.extend(entry.name for entry in entries)
        except (FileNotFoundError, NotADirectoryError):
            return []
        return names


@dataclass(frozen=True, slots=True)
class _Target:
    protocol: Protocol
    url: str
    local_root: Path | None = None


class StoreAccess:
    """A guarded view of one zarr store: raw metadata reads plus a zarr store for data.

    Build it with :func:`open_store` (from a URL) or :meth:`from_zarr_store`.  Constructors do
    no I/O.
    """

    def __init__(
        self,
        zarr_store: Store,
        *,
        url: str,
        protocol: Protocol,
        policy: RequestPolicy | None = None,
        local_root: Path | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.protocol: Protocol = protocol
        self.policy = policy or RequestPolicy()
        self.stats = RequestStats()
        self.storage_options = dict(storage_options or {})
        self._folders: dict[str, set[str]] = {}  # remote listings: the names that are folders
        self._local = _LocalReader(local_root, self.policy.max_document_bytes) if local_root else None
        self.zarr_store = GuardedStore(
            zarr_store, url=url, policy=self.policy, stats=self.stats, local_root=local_root,
            idle_timeouts=protocol in ("http", "s3"),
        )

    @classmethod
    def from_zarr_store(cls, store: Store, *, url: str = "memory://", policy: RequestPolicy | None = None) -> StoreAccess:
        """Wrap an existing zarr store (tests use a ``MemoryStore``)."""
        protocol: Protocol = "memory" if url.startswith("memory:") else "fsspec"
        root = Path(os.path.realpath(store.root)) if isinstance(store, LocalStore) else None
        return cls(store, url=url, protocol="local" if root else protocol, policy=policy, local_root=root)

    @property
    def read_only(self) -> bool:
        """Whether writes are refused."""
        return bool(self.zarr_store.read_only)

    @property
    def is_remote(self) -> bool:
        """True for network stores, where round trips are what cost time."""
        return self.protocol in ("http", "s3", "fsspec")

    @property
    def requests_at_once(self) -> int:
        """How many requests this store is sent at once: the policy's concurrency, or fewer for a
        server known to drop connections above a few (:data:`SMALL_SERVER_REQUESTS`)."""
        bound = self.zarr_store.in_flight_bound
        return min(self.policy.concurrency, bound) if bound else self.policy.concurrency

    @property
    def is_archive(self) -> bool:
        """True for a zip archive, local or read in place on a server (it lists its members)."""
        return self.protocol == "zip" or (self.is_remote and _is_zip_name(self.url))

    def describe_key(self, key: str) -> str:
        """The full URL of *key*, for messages."""
        return self.zarr_store.describe_key(key)

    @property
    def denies_missing(self) -> bool:
        """Whether the server is known to answer 403 (access denied) for keys that do not exist,
        as S3 and GCS do to a caller who may read objects but not list the bucket."""
        return self.zarr_store.denies_missing

    def note_denies_missing(self) -> bool:
        """Record that the server answers 403 for keys that do not exist (a node's own document
        was read, and the documents of the other zarr format refused); True the first time."""
        gate = self.zarr_store._gate
        first = not gate.denies_missing
        gate.denies_missing = True
        if first:
            logger.info("%s answers 403 for keys that do not exist: refused reads are read as absent", self.url)
        return first

    @property
    def local_root(self) -> Path | None:
        """The resolved root directory of a local directory store, else None (for raw writes)."""
        return self._local.root if self._local is not None else None

    def fsspec_target(self) -> tuple[Any, str] | None:
        """``(filesystem, base path)`` of an fsspec-backed store, else None (for raw writes)."""
        inner = self.zarr_store._store
        fs = getattr(inner, "fs", None)
        if fs is None or self._local is not None:
            return None
        return fs, str(getattr(inner, "path", "")).rstrip("/")

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "writable"
        return f"<StoreAccess {self.url} ({self.protocol}, {mode})>"

    # -- raw reads -------------------------------------------------------------------------
    def read_local(self, key: str, byte_range: tuple[int, int] | None = None) -> bytes | None:
        """Bytes at *key* of a local directory store, read in the calling thread (None: absent).

        *byte_range* (start, stop) reads only that part (shorter at the end of the file).  The
        same boundary checks as every other read; raises StoreReadError on other stores.
        """
        if self._local is None:
            raise StoreReadError(f"{self.url} is not a local directory store")
        self.stats.add(requests=1)
        return self._local.read(key, byte_range)

    async def get(self, key: str) -> bytes | None:
        """Bytes at *key*, or None when absent.  Raises StoreReadError on failure."""
        result = (await self.get_many([key]))[key]
        if isinstance(result, BaseException):
            raise result
        return result

    async def get_many(
        self, keys: Sequence[str], *, semaphore: asyncio.Semaphore | None = None
    ) -> dict[str, bytes | Exception | None]:
        """Read many keys concurrently; each value is bytes, None (absent) or the exception.

        At most ``policy.concurrency`` remote requests are in flight, or as many as *semaphore*
        lets through when given (one bound shared by several calls).
        """
        if self._local is not None:
            local = self._local

            def read_all() -> dict[str, bytes | Exception | None]:
                return local.read_many(keys, self.stats)

            if len(keys) <= 8:
                return read_all()
            return await asyncio.to_thread(read_all)

        if semaphore is None:
            semaphore = asyncio.Semaphore(self.policy.concurrency)
        limit = self.policy.max_document_bytes

        async def one(key: str) -> bytes | Exception | None:
            async with semaphore:
                try:
                    return await self.zarr_store.get_document(key, limit)
                except (StoreReadError, StoreBoundaryError, OSError) as err:
                    return err

        results = await asyncio.gather(*(one(k) for k in keys))
        return dict(zip(keys, results, strict=True))

    async def list_dir(self, prefix: str) -> list[str]:
        """Names directly below *prefix* (``""`` for the root), unsorted.

        Raises StoreReadError when the backend cannot list (plain HTTP without an index).
        """
        if self._local is not None:
            if len(prefix) == 0:
                return self._local.list_dir(prefix)
            return await asyncio.to_thread(self._local.list_dir, prefix)
        if not self.zarr_store.supports_listing:
            raise StoreReadError(f"{self.describe_key(prefix)}: this store cannot list its contents")
        full = prefix.rstrip("/") + "/" if prefix else ""
        target = self.fsspec_target()

        async def collect() -> list[str]:
            if target is None:
                return [name async for name in self.zarr_store.list_dir(full)]
            # fsspec directly: zarr's FsspecStore.list_dir turns "cannot list" (a 404 on an HTTP
            # directory) into an empty listing, which would make a group look empty.
            fs, root = target
            base = _fs_join(root, full)
            if self.protocol == "http":  # index pages link to percent-encoded names: list by those
                parts = urlsplit(base)
                base = parts._replace(path=quote(parts.path, safe="/")).geturl()
            entries = await fs._ls(base, detail=True)
            names, folders = [], set()
            for entry in entries:
                path = str(entry.get("name", "") if isinstance(entry, dict) else entry).rstrip("/")
                if not path or path == base.rstrip("/"):
                    continue
                name = path.rsplit("/", 1)[-1]
                name = unquote(name) if self.protocol == "http" else name
                names.append(name)
                if isinstance(entry, dict) and entry.get("type") == "directory":
                    folders.add(name)
            self._folders[prefix.strip("/")] = folders
            return names

        try:
            self.stats.add(requests=1)
            names = await asyncio.wait_for(collect(), timeout=self.policy.deadline)
        except TimeoutError as err:
            raise _note_timeout(StoreTimeoutError(f"listing {self.describe_key(prefix)} timed out")) from err
        except (StoreReadError, StoreBoundaryError):
            raise
        except Exception as err:  # remote listing failures come in many types
            fs = target[0] if target is not None else None
            status = getattr(err, "status", None) if type(err).__name__ == "ClientResponseError" else None
            if self.protocol == "http" and (isinstance(err, FileNotFoundError | PermissionError) or status in (403, 404)):
                # static hosting answers a folder URL with 404 or 403: it does not list, the folder may be there
                status = status or (403 if isinstance(err, PermissionError) else 404)
                raise StoreReadError(f"the server does not list {self.describe_key(prefix)} (HTTP {status} for the "
                                     "folder)") from err
            s3 = _s3_error(err)
            if s3 is not None and s3[0] == "NoSuchBucket":  # ("no zarr metadata found" said nothing of it)
                raise BucketNotFoundError(describe_remote_error(err, fs)) from err
            if _is_denied(err):
                raise StoreReadError(f"listing {self.describe_key(prefix)} is not allowed: "
                                     f"{describe_remote_error(err, fs)}") from err
            raise StoreReadError(f"listing {self.describe_key(prefix)} failed: {describe_remote_error(err, fs)}") from err
        return [n.rstrip("/") for n in names if n and n.rstrip("/")]

    def listed_folders(self, prefix: str) -> set[str]:
        """Names the last remote listing of *prefix* said are folders (S3 prefixes, index-page
        links ending in ``/``): a folder without metadata is an implicit group, as on disk."""
        return set(self._folders.get(prefix.strip("/"), ()))

    async def list_sizes(self, prefix: str) -> AsyncIterator[tuple[str, int]]:
        """Every key below *prefix* with its size in bytes (for on-demand diagnostics)."""
        check_key(prefix)
        if self._local is not None:
            base = os.path.join(self._local.root, prefix.rstrip("/")) if prefix else str(self._local.root)
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames.sort()
                rel_dir = os.path.relpath(dirpath, self._local.root)
                for name in sorted(filenames):
                    rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                    try:
                        yield rel, os.lstat(os.path.join(dirpath, name)).st_size
                    except FileNotFoundError:
                        continue
            return
        full = prefix.rstrip("/") + "/" if prefix else ""
        inner = self.zarr_store._store
        target = self.fsspec_target()
        if target is not None and hasattr(target[0], "_find"):
            fs, root = target
            base = _fs_join(root, full)
            found = await fs._find(base, detail=True)
            for path, info in sorted(found.items()):
                if info.get("type") == "file":
                    yield (path[len(root) + 1 :] if root else path.lstrip("/")), int(info.get("size") or 0)
            return
        async for key in self.zarr_store.list_prefix(full):
            yield key, await inner.getsize(key)

    def close(self) -> None:
        """Release the underlying store."""
        self.zarr_store.close()


#: storage options of s3fs that an http(s) URL does not take: fsspec hands the options of an
#: http URL to aiohttp, which fails on them with a TypeError
S3_ONLY_OPTIONS = frozenset({"anon", "endpoint_url", "key", "secret", "token", "profile", "requester_pays",
                             "config_kwargs", "s3_additional_kwargs", "version_aware", "use_ssl", "region_name"})
#: ``client_kwargs`` of botocore (S3), which aiohttp's session (http) does not take
_S3_CLIENT_KWARGS = frozenset({"region_name", "endpoint_url", "aws_access_key_id", "aws_secret_access_key",
                               "aws_session_token", "verify", "config", "api_version", "use_ssl"})


def options_for_url(url: str, options: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """*options* without those the scheme of *url* does not take, and the names of those left out.

    An http(s) URL takes no S3 option (``anon``, ``endpoint_url``, ``key``, ``secret``...,
    botocore's ``client_kwargs``): they are left out, and named so that the user can be told.
    Other URLs keep every option.
    """
    kept = dict(options)
    chain = _zip_chain(url.strip())  # a member of an archive: the archive's scheme decides
    if urlsplit(chain[0] if chain else url.strip()).scheme.lower() not in ("http", "https"):
        return kept, []
    dropped = [name for name in kept if name in S3_ONLY_OPTIONS]
    for name in dropped:
        del kept[name]
    client = kept.get("client_kwargs")
    if isinstance(client, Mapping):
        botocore = [name for name in client if name in _S3_CLIENT_KWARGS]
        dropped += [f"client_kwargs.{name}" for name in botocore]
        kept["client_kwargs"] = {name: value for name, value in client.items() if name not in botocore}
        if not kept["client_kwargs"]:
            del kept["client_kwargs"]
    return kept, dropped


def _http_options(policy: RequestPolicy, options: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    merged = dict(options)
    client_kwargs = dict(merged.get("client_kwargs") or {})
    client_kwargs.setdefault(
        "timeout",
        # no total: the deadline bounds a whole read; sock_read is the time without data
        aiohttp.ClientTimeout(total=None, sock_connect=policy.attempt_timeout, sock_read=policy.attempt_timeout),
    )
    merged["client_kwargs"] = client_kwargs
    return merged


def _s3_options(policy: RequestPolicy, options: dict[str, Any]) -> dict[str, Any]:
    merged = dict(options)
    endpoint = merged.pop("endpoint_url", None)
    if endpoint:
        client_kwargs = dict(merged.get("client_kwargs") or {})
        client_kwargs.setdefault("endpoint_url", endpoint)
        merged["client_kwargs"] = client_kwargs
    config = dict(merged.get("config_kwargs") or {})
    config.setdefault("connect_timeout", policy.attempt_timeout)
    config.setdefault("read_timeout", policy.attempt_timeout)
    config.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
    merged["config_kwargs"] = config
    return merged


def _check_endpoint(url: str, options: Mapping[str, Any]) -> None:
    """Refuse an S3 endpoint without a scheme (``127.0.0.1:5555``) before any request: botocore
    said ``ValueError: Invalid endpoint`` on the first read."""
    client = options.get("client_kwargs")
    endpoint = client.get("endpoint_url") if isinstance(client, Mapping) else None
    if endpoint is None:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if isinstance(endpoint, str) and endpoint and "://" not in endpoint:
        raise StoreOpenError(f"cannot open {url}: {_endpoint_without_scheme(endpoint)}")


_SIGNED_QUERY = ("x-amz-signature", "x-amz-credential", "x-goog-signature", "signature")
"""Query parameters of a presigned URL: it signs one object, and a store is many."""


def _refuse_presigned(url: str) -> dict[str, str]:
    """The query parameters of *url*; StoreOpenError when they sign it (a presigned URL)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signed = [k for k in params if k.lower() in _SIGNED_QUERY]
    if signed:
        raise StoreOpenError(f"{parts.scheme}://{parts.netloc}{parts.path} is a presigned URL ({signed[0]}): it "
                             "grants one object, and a zarr store is many - open the store with credentials "
                             "(s3://… with -O key=… -O secret=…, or the AWS environment) instead")
    return params


def _query_as_params(target: _Target, options: dict[str, Any]) -> tuple[_Target, dict[str, Any]]:
    """An HTTP URL's query string (a token, a SAS) sent with every request instead of being
    part of the base URL (keys appended after it asked for the wrong resource); the fragment
    is dropped.  A presigned URL is refused: its signature covers one object."""
    parts = urlsplit(target.url)
    if not parts.query and not parts.fragment:
        return target, options
    params = _refuse_presigned(target.url)
    merged = dict(options)
    if params:
        given = merged.get("params")
        merged["params"] = {**params, **(given if isinstance(given, dict) else {})}
    return _Target(target.protocol, urlunsplit(parts._replace(query="", fragment=""))), merged


def _classify(url: str) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and url[1:3] in (":\\", ":/")):
        raw = parts.path if scheme == "file" else url
        path = Path(os.path.realpath(os.path.expanduser(raw)))
        if path.is_file() and (path.suffix.lower() in (".zip", ".ozx") or zipfile.is_zipfile(path)):
            return _Target("zip", str(path), path)
        return _Target("local", str(path), path)
    if scheme in ("http", "https"):
        return _Target("http", url)
    if scheme in ("s3", "s3a"):
        return _Target("s3", url)
    if scheme == "memory":
        return _Target("memory", url)
    return _Target("fsspec", url)


def _fs_join(root: str, key: str) -> str:
    """An fsspec path below *root* (an empty root, as in a zip archive, gives no leading slash)."""
    return "/".join(part for part in (root.rstrip("/"), key.strip("/")) if part)


def _is_zip_name(url: str) -> bool:
    return urlsplit(url).path.rstrip("/").lower().endswith((".zip", ".ozx"))


def local_zip_member(path: Path) -> tuple[Path, str] | None:
    """``(archive, member path)`` when the local *path* does not exist but goes through a zip
    archive (``/data/a.zip/labels`` → ``(/data/a.zip, "labels")``), else None (``stat`` only)."""
    try:
        if path.exists():
            return None
        archive = next((p for p in path.parents if p.is_file()), None)
    except OSError:
        return None
    if archive is None or archive.suffix.lower() not in (".zip", ".ozx"):
        return None
    return archive, path.relative_to(archive).as_posix()


def _zip_chain(url: str) -> tuple[str, str] | None:
    """``(archive, member path)`` of fsspec's chain ``zip://inner::ARCHIVE`` when ARCHIVE is a zip
    we open (a local path, ``file://``, ``http(s)://``, ``s3://``, named ``.zip``/``.ozx``)."""
    if not url.lower().startswith("zip://") or "::" not in url:
        return None
    inner, archive = url[len("zip://"):].split("::", 1)
    if "::" in archive or not urlsplit(archive).path.rstrip("/").lower().endswith((".zip", ".ozx")):
        return None
    return archive, inner.strip("/")


def _through_zip(url: str) -> tuple[str, str]:
    """``(archive URL, member path)`` of a URL through a zip archive on a server
    (``https://host/a.zip/inner`` → ``("https://host/a.zip", "inner")``); ``(url, "")`` otherwise."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for at, segment in enumerate(segments[:-1]):
        rest = "/".join(s for s in segments[at + 1:] if s)
        if rest and segment.lower().endswith((".zip", ".ozx")):
            return parts._replace(path="/".join(segments[: at + 1])).geturl(), rest
    return url, ""


def archive_of(url: str) -> str | None:
    """The zip archive that the URL of an opened store reaches into, else None, by its name
    alone: fsspec's chain ``zip://inner::ARCHIVE`` (what :func:`open_store` opens for a local
    path through an archive, ``/data/a.zip/inner``) or an archive on a server or in a bucket
    (``https://host/a.zip``, ``s3://bucket/a.zip/inner``).  A local archive's own store has
    the protocol ``"zip"``."""
    if url.lower().startswith("zip:"):
        chain = _zip_chain(url)
        return chain[0] if chain is not None else url.split("::", 1)[-1]
    if urlsplit(url).scheme.lower() not in ("http", "https", "s3", "s3a"):
        return None
    archive, _member = _through_zip(url)
    return archive if _is_zip_name(archive) else None


def _open_remote_zip(
    target: _Target, options: dict[str, Any], policy: RequestPolicy, storage_options: dict[str, Any] | None,
    *, member: str = "", url: str | None = None,
) -> StoreAccess:
    """A zip archive on a web server or in a bucket, read in place with range requests (fsspec's
    ``zip::`` chain: the central directory first, then the members a view needs); with *member*,
    the store is the members below that path (shown as *url*).  Always read-only, as a local
    archive is (:func:`open_store`)."""
    from zarr.storage import FsspecStore
    from zarr.storage._fsspec import ALLOWED_EXCEPTIONS

    try:
        # fsspec's zip file system before 2026.9 says KeyError for a member that is not there
        store = FsspecStore.from_url(f"zip://{member}::{target.url}", storage_options={target.protocol: options},
                                     read_only=True, allowed_exceptions=(*ALLOWED_EXCEPTIONS, KeyError))
    except (ImportError, ValueError, TypeError, OSError, zipfile.BadZipFile) as err:
        if "range requests" in str(err):
            why = ("the server does not answer range requests, which reading a zip in place needs (download it "
                   "and open the local file)")
        elif isinstance(err, FileNotFoundError):
            cause = err.__cause__ or err.__context__
            status = getattr(cause, "status", None)
            why = "not found (404)" if status == 404 else str(cause) if cause is not None else "not found"
        else:
            why = f"{type(err).__name__}: {err}"
        raise StoreOpenError(f"cannot open the zip archive {target.url}: {why}") from err
    return StoreAccess(store, url=url or target.url, protocol=target.protocol, policy=policy,
                       storage_options=storage_options)


def open_store(
    url: str | os.PathLike[str],
    *,
    storage_options: dict[str, Any] | None = None,
    mode: AccessMode = "r",
    policy: RequestPolicy | None = None,
) -> StoreAccess:
    """Open the store *url* names, read-only unless ``mode="r+"``.

    Parameters
    ----------
    url
        A local path (directory or ``.zip``), ``file://``, ``http(s)://``, ``s3://`` or any
        fsspec URL with an async implementation.
    storage_options
        Passed to fsspec for remote stores (``anon``, ``key``, ``secret``,
        ``endpoint_url``, ``client_kwargs``, ...).
    mode
        ``"r"`` (default) or ``"r+"`` to allow metadata writes (a zip archive, and any folder
        inside one, opens read-only whatever the mode).
    policy
        Deadlines, retries and bounds; defaults to :class:`RequestPolicy()`.

    Raises
    ------
    StoreOpenError
        The path does not exist, or the URL scheme is not supported.
    """
    policy = policy or RequestPolicy()
    options = dict(storage_options or {})
    chain = _zip_chain(os.fspath(url))
    target = _classify(os.fspath(url) if chain is None else chain[0])
    read_only = mode == "r"
    if chain is not None and chain[1]:
        if target.protocol == "zip":  # a local archive
            target = _Target("fsspec", f"zip://{chain[1]}::{target.url}")
        elif target.protocol in ("http", "s3"):
            target = _Target(target.protocol, target.url.rstrip("/") + "/" + chain[1])  # opened below
    if target.protocol == "local":
        assert target.local_root is not None
        if target.local_root.is_file():
            raise StoreOpenError(f"{target.local_root} is a file, not a zarr store: give the directory that holds "
                                 "zarr.json (v3) or .zgroup/.zarray (v2), or a .zip")
        if not target.local_root.is_dir():
            inside = local_zip_member(target.local_root)
            if inside is None:
                raise StoreOpenError(f"no such directory: {target.local_root}")
            # a folder inside a zip archive: the archive's members below it, read in place
            target = _Target("fsspec", f"zip://{inside[1]}::{inside[0]}")
    if target.url.lower().startswith("zip:"):
        # a zip archive is read-only whatever the mode (zarr cannot rewrite a member in place:
        # a save would append duplicates): r+ opens a folder inside one read-only, as the archive
        # itself below, so an edit is previewed and its save refused naming the archive
        # (save.read_only_reason); opened writable, a save got as far as zipfile's "write()
        # requires mode 'w'" (audit E, 6)
        read_only = True
    if target.protocol == "local":
        assert target.local_root is not None
        store: Store = LocalStore(target.local_root, read_only=read_only)
        return StoreAccess(store, url=target.url, protocol="local", policy=policy, local_root=target.local_root)
    if target.protocol == "zip":
        from zarr.storage import ZipStore

        try:
            # always read-only: zarr cannot rewrite a member of a zip in place (a save would
            # append duplicates), so edits of a zip are previewed, never written
            store = ZipStore(target.url, mode="r", read_only=True)
            run_sync(store._open())
        except (OSError, zipfile.BadZipFile) as err:
            raise StoreOpenError(f"cannot open zip store {target.url}: {err}") from err
        return StoreAccess(store, url=target.url, protocol="zip", policy=policy)
    if target.protocol == "memory":
        from zarr.storage import MemoryStore

        return StoreAccess(MemoryStore(read_only=read_only), url=target.url, protocol="memory", policy=policy)
    from zarr.storage import FsspecStore

    if target.protocol == "http":
        target, options = _query_as_params(target, options)
        options = _http_options(policy, options)
    elif target.protocol == "s3":
        _refuse_presigned(target.url)  # (s3://…?X-Amz-Signature=… said "no zarr metadata found")
        options = _s3_options(policy, options)
        _check_endpoint(target.url, options)
    zipped = target.protocol in ("http", "s3") and _is_zip_name(target.url)
    if zipped:
        return _open_remote_zip(target, options, policy, storage_options)
    if target.protocol in ("http", "s3"):
        archive_url, member = _through_zip(target.url)
        if member:  # https://host/a.zip/inner: the members below inner of the archive, read in place
            return _open_remote_zip(_Target(target.protocol, archive_url), options, policy, storage_options,
                                    member=member, url=target.url)
    try:
        allowed: dict[str, Any] = {}
        if target.url.lower().startswith("zip:"):  # fsspec's zip file system before 2026.9 says KeyError
            from zarr.storage._fsspec import ALLOWED_EXCEPTIONS  # for a member that is not there

            allowed["allowed_exceptions"] = (*ALLOWED_EXCEPTIONS, KeyError)
        store = FsspecStore.from_url(target.url, storage_options=options, read_only=read_only, **allowed)
    except (ImportError, ValueError, TypeError, OSError) as err:
        raise StoreOpenError(f"cannot open {target.url}: {describe_remote_error(err)}") from err
    if target.protocol == "s3":
        # s3fs retries each call 5 times by itself (a class attribute, not an option); our
        # GuardedStore retries within a deadline, so one s3fs attempt per ours keeps it bounded
        store.fs.retries = 1
    return StoreAccess(store, url=target.url.rstrip("/"), protocol=target.protocol, policy=policy, storage_options=storage_options)


