"""Loopback servers for tests: a fault-injecting static HTTP server and a moto S3 server.

:class:`StaticServer` serves a directory over HTTP/1.1 on ``127.0.0.1`` (port chosen by the
OS).  It honours ``Range`` and ``HEAD``, lists directories as HTML (what fsspec's HTTP ``ls``
parses; switchable off), adds a configurable latency to every request, injects faults by path
pattern, and counts what it was asked:

* ``requests``, ``by_path``, ``peak_in_flight``;
* ``round_trips``: the number of connected components of the overlap graph of request time
  intervals.  Requests that overlap in time are one round trip; a request that starts after
  every earlier one finished starts a new round trip.

:class:`ProcessServer` runs a ``StaticServer`` in a process of its own, for callers whose own
threads must not share the GIL with the server (the benchmark; tests of GIL hand-overs).

Everything here is standard library except :class:`S3Server` (moto, boto3).
"""

from __future__ import annotations

import contextlib
import fnmatch
import html
import itertools
import multiprocessing
import os
import random
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import quote, unquote, urlsplit

__all__ = [
    "FaultRule",
    "Faults",
    "ProcessServer",
    "S3Server",
    "ServerStats",
    "StaticServer",
    "free_port",
    "round_trips",
]

#: what a fault rule does: "hang", "500", "503", "404", "drop", "truncate", "slow:<seconds>" (then the
#: answer), "trickle:<seconds>" (the body sent in pieces over that long)
Behaviour = str
_RANDOM_BEHAVIOURS = ("500", "503", "drop", "truncate")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (closed right after it is found)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def round_trips(intervals: list[tuple[float, float]]) -> int:
    """Connected components of the overlap graph of closed time intervals ``(start, end)``."""
    count = 0
    reach = float("-inf")
    for start, end in sorted(intervals):
        if start > reach:
            count += 1
            reach = end
        else:
            reach = max(reach, end)
    return count


# -- statistics ------------------------------------------------------------------------------


@dataclass
class ServerStats:
    """What the server was asked since the last reset (thread-safe through the server's lock)."""

    requests: int = 0
    by_path: Counter[str] = field(default_factory=Counter)
    by_method: Counter[str] = field(default_factory=Counter)
    by_query: Counter[str] = field(default_factory=Counter)  # query strings as sent ("" for none)
    faults: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    peak_in_flight: int = 0
    intervals: list[tuple[float, float]] = field(default_factory=list)
    spans: list[tuple[float, float, str]] = field(default_factory=list)  # (start, end, path) of each answered request
    _open: dict[int, float] = field(default_factory=dict, repr=False)

    @property
    def round_trips(self) -> int:
        """Round trips so far; requests still in flight count as ending now."""
        now = time.monotonic()
        return round_trips([*self.intervals, *((start, now) for start in self._open.values())])

    def round_trips_of(self, wanted: Callable[[str], bool]) -> int:
        """Round trips of the finished requests whose path is *wanted* (the others left out)."""
        return round_trips([(start, end) for start, end, path in self.spans if wanted(path)])

    def paths(self) -> list[str]:
        """Requested paths, sorted (handy in assertion messages)."""
        return sorted(self.by_path)


# -- faults ----------------------------------------------------------------------------------


@dataclass
class FaultRule:
    """Requests whose path matches *pattern* (fnmatch, on the URL path without the leading
    slash) get *behaviour*; with *times*, only the first *times* matching requests do."""

    pattern: str
    behaviour: Behaviour
    times: int | None = None
    methods: frozenset[str] = frozenset({"GET", "HEAD"})
    hits: int = 0

    def __post_init__(self) -> None:
        _validate_behaviour(self.behaviour)

    def matches(self, method: str, path: str) -> bool:
        return method in self.methods and fnmatch.fnmatchcase(path, self.pattern)


def _validate_behaviour(behaviour: str) -> None:
    if behaviour in ("hang", "drop", "truncate") or re.fullmatch(r"[1-5]\d\d", behaviour):
        return
    if behaviour.startswith(("slow:", "trickle:")):
        float(behaviour.split(":", 1)[1])
        return
    raise ValueError(f"unknown fault behaviour {behaviour!r}")


class Faults:
    """The fault configuration of a :class:`StaticServer`.

    Rules are tried in order; the first matching, not exhausted rule applies.  When no rule
    applies and ``rate`` > 0, a request fails at random (seeded) with one of *random_behaviours*.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.rate = 0.0
        self.random_behaviours: tuple[Behaviour, ...] = _RANDOM_BEHAVIOURS
        self.random_pattern = "*"
        self._rng = random.Random(0)

    def add(self, pattern: str, behaviour: Behaviour, *, times: int | None = None) -> FaultRule:
        """Make requests matching *pattern* behave as *behaviour* (the first *times* of them)."""
        rule = FaultRule(pattern, behaviour, times)
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail_first(self, pattern: str, times: int, behaviour: Behaviour = "503") -> FaultRule:
        """The first *times* requests matching *pattern* fail with *behaviour*; later ones succeed."""
        return self.add(pattern, behaviour, times=times)

    def random(
        self,
        rate: float,
        *,
        seed: int = 0,
        behaviours: tuple[Behaviour, ...] = _RANDOM_BEHAVIOURS,
        pattern: str = "*",
    ) -> None:
        """Fail a fraction *rate* of the requests matching *pattern*, reproducibly."""
        for behaviour in behaviours:
            _validate_behaviour(behaviour)
        with self._lock:
            self.rate = rate
            self._rng = random.Random(seed)
            self.random_behaviours = behaviours
            self.random_pattern = pattern

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.rate = 0.0

    def pick(self, method: str, path: str) -> Behaviour | None:
        """The behaviour for this request, counting it against its rule."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path) and (rule.times is None or rule.hits < rule.times):
                    rule.hits += 1
                    return rule.behaviour
            if self.rate > 0 and fnmatch.fnmatchcase(path, self.random_pattern) and self._rng.random() < self.rate:
                return self._rng.choice(self.random_behaviours)
        return None


# -- the HTTP server -------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True
    owner: StaticServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        quiet_handle_error(self, request, client_address)


def quiet_handle_error(server: ThreadingHTTPServer, request: Any, client_address: Any) -> None:
    """A client that went away (a test giving up on a hanging request) is no error to print."""
    if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
        ThreadingHTTPServer.handle_error(server, request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle's algorithm the body would wait for the
    # client's delayed ACK (40 ms on Linux), which no production server (nginx, S3) makes anyone wait
    disable_nagle_algorithm = True
    server: _Server
    server_version = "zarr-browser-test/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        header = self.server.owner.server_header
        return header if header is not None else super().version_string()

    def do_GET(self) -> None:
        self.server.owner._handle(self, head=False)

    def do_HEAD(self) -> None:
        self.server.owner._handle(self, head=True)

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_POST = do_DELETE = _refuse


class ServingThread:
    """Start and stop of a loopback server (``self._server``) in a daemon thread.

    Subclasses set ``_server`` (a ``socketserver`` server), ``_release`` (an Event that frees
    requests told to hang) and ``_thread = None`` in their constructor.
    """

    _server: ThreadingHTTPServer
    _release: threading.Event
    _thread: threading.Thread | None

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, free hanging requests and close the socket."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class StaticServer(ServingThread):
    """A threaded loopback HTTP server for the directory *root* (see the module docstring).

    Attributes
    ----------
    root
        The directory served; may be changed while running.
    latency
        Seconds every request waits before it is answered.
    listing
        Answer directory URLs with an HTML index (True), or with *listing_status* (404/403).
    missing_status
        The answer for a path that does not exist: 404, or 403 as S3 and GCS answer a caller
        who may not list the bucket (set ``listing = False, listing_status = 403`` with it).
    server_header
        The ``Server`` header (None: this server's own); ``SimpleHTTP/0.6 Python/3.11`` passes
        for Python's ``http.server``, which zarr-browser sends only a few requests at once.
    faults
        The :class:`Faults` configuration.
    stats
        The :class:`ServerStats` since the last :meth:`reset_stats`.
    """

    def __init__(self, root: str | os.PathLike[str], *, latency: float = 0.0) -> None:
        self.root = Path(root)
        self.latency = latency
        self.listing = True
        self.listing_status = 404
        self.missing_status = 404
        self.server_header: str | None = None
        self.faults = Faults()
        self.stats = ServerStats()
        self._lock = threading.Lock()
        self._release = threading.Event()  # set to free every hanging request
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None
        self._tokens = itertools.count()

    # -- life cycle --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str | os.PathLike[str] = "") -> str:
        """The URL of *path*: relative to :attr:`root`, or an absolute path below it."""
        rel = Path(path)
        if rel.is_absolute():
            rel = rel.relative_to(self.root)
        text = rel.as_posix().strip("/")
        return f"{self.url}/{quote(text)}" if text not in ("", ".") else self.url + "/"

    def reset_stats(self) -> None:
        """Zero the counters.  Requests in flight at the reset are not counted in the new stats."""
        with self._lock:
            self.stats = ServerStats()

    def reset(self, root: str | os.PathLike[str] | None = None) -> None:
        """Back to defaults: no faults, no latency, listing on, hanging requests freed, zero stats."""
        self._release.set()
        self._release = threading.Event()
        self.faults = Faults()
        self.latency = 0.0
        self.listing = True
        self.listing_status = 404
        self.missing_status = 404
        self.server_header = None
        if root is not None:
            self.root = Path(root)
        self.reset_stats()

    def release(self) -> None:
        """Let the requests held by ``hang`` and ``slow:`` faults so far go on (later ones are held again)."""
        self._release.set()
        self._release = threading.Event()

    # -- request handling --------------------------------------------------------------------
    def _handle(self, handler: _Handler, *, head: bool) -> None:
        path = unquote(urlsplit(handler.path).path).lstrip("/")
        token = next(self._tokens)
        with self._lock:
            stats = self.stats
            stats.requests += 1
            stats.by_path[path] += 1
            stats.by_query[urlsplit(handler.path).query] += 1
            stats.by_method[handler.command] += 1
            stats.in_flight += 1
            stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
            stats._open[token] = time.monotonic()
        answered: float | None = None
        try:
            if self.latency > 0:
                time.sleep(self.latency)
            behaviour = self.faults.pick(handler.command, path)
            if behaviour is not None:
                with self._lock:
                    stats.faults[behaviour.split(":")[0]] += 1
            # The round trip ends when the answer starts to leave: a client's next (dependent)
            # request may arrive before this thread finishes writing, and must not count as
            # overlapping.  A hanging answer ends when it is released.
            answered = None if behaviour == "hang" else time.monotonic()
            self._answer(handler, path, head=head, behaviour=behaviour)
        except (ConnectionError, TimeoutError):
            handler.close_connection = True
        finally:
            with self._lock:
                started = stats._open.pop(token, None)
                stats.in_flight -= 1
                if started is not None:
                    ended = answered if answered is not None else time.monotonic()
                    stats.intervals.append((started, ended))
                    stats.spans.append((started, ended, path))

    def _answer(self, handler: _Handler, path: str, *, head: bool, behaviour: Behaviour | None) -> None:
        outcome = apply_fault(handler, behaviour, self._release, head=head)
        if outcome == "answered":
            return
        truncate = outcome == "truncate"

        target = self._resolve(path)
        if target is None or not target.exists():
            if self.missing_status == 403:  # as S3 words it
                _send_body(handler, 403, _ACCESS_DENIED, "application/xml", head=head)
                return
            _send_plain(handler, self.missing_status, "not found\n", head=head)
            return
        if target.is_dir():
            if not self.listing:
                _send_plain(handler, self.listing_status, "no listing\n", head=head)
                return
            body = self._index(target, path).encode()
            _send_body(handler, 200, body, "text/html; charset=utf-8", head=head, truncate=truncate)
            return
        data = target.read_bytes()
        size = len(data)
        header = handler.headers.get("Range")
        if header:
            span = _parse_range(header, size)
            if span is None:
                handler.send_response(416)
                handler.send_header("Content-Range", f"bytes */{size}")
                handler.send_header("Content-Length", "0")
                handler.end_headers()
                return
            if span != "ignore":
                start, end = span
                _send_body(
                    handler, 206, data[start : end + 1], "application/octet-stream", head=head, truncate=truncate,
                    extra={"Content-Range": f"bytes {start}-{end}/{size}"},
                )
                return
        _send_body(handler, 200, data, "application/octet-stream", head=head, truncate=truncate)

    def _resolve(self, path: str) -> Path | None:
        root = self.root.resolve()
        target = (root / path).resolve() if path else root
        if target != root and root not in target.parents:
            return None
        return target

    def _index(self, directory: Path, path: str) -> str:
        base = "/" + path.strip("/")
        base = "" if base == "/" else base
        links = []
        for entry in sorted(directory.iterdir()):
            name = entry.name + ("/" if entry.is_dir() else "")
            href = quote(f"{base}/{name}")
            links.append(f'<li><a href="{href}">{html.escape(name)}</a></li>')
        return "<!DOCTYPE html>\n<html><body><ul>\n" + "\n".join(links) + "\n</ul></body></html>\n"


_ACCESS_DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied'
                  b'</Message><RequestId>0</RequestId></Error>')
"""S3's answer to a refused request (a missing key, for a caller who may not list the bucket)."""


def _parse_range(header: str, size: int) -> tuple[int, int] | Literal["ignore"] | None:
    """``(start, end)`` inclusive, ``"ignore"`` (serve the whole body), or None (416)."""
    match = _RANGE.match(header.strip())
    if match is None:
        return "ignore"  # multiple or malformed ranges: RFC 9110 allows ignoring the header
    first, last = match.groups()
    if first == "" and last == "":
        return "ignore"
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return None
        return max(0, size - suffix), size - 1
    start = int(first)
    if start >= size:
        return None
    end = size - 1 if last == "" else min(int(last), size - 1)
    if end < start:
        return "ignore"
    return start, end


def _send_body(
    handler: _Handler,
    status: int,
    body: bytes,
    content_type: str,
    *,
    head: bool,
    truncate: bool = False,
    extra: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Accept-Ranges", "bytes")
    for name, value in (extra or {}).items():
        handler.send_header(name, value)
    finish_response(handler, body, head=head, truncate=truncate)


def finish_response(handler: BaseHTTPRequestHandler, body: bytes, *, head: bool, truncate: bool) -> None:
    """End the headers and send *body* (none for HEAD); *truncate* sends half of it and drops
    the connection."""
    if truncate:
        handler.send_header("Connection", "close")
    handler.end_headers()
    if head:
        return
    if truncate:
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        _drop(handler)
        return
    trickle = getattr(handler, "trickle", 0.0)
    if trickle and body:
        pieces = 20
        step = max(1, -(-len(body) // pieces))
        for start in range(0, len(body), step):
            time.sleep(trickle / pieces)
            handler.wfile.write(body[start:start + step])
            handler.wfile.flush()
        handler.trickle = 0.0  # type: ignore[attr-defined]  (a kept-alive connection's next answer)
        return
    handler.wfile.write(body)


def apply_fault(
    handler: BaseHTTPRequestHandler, behaviour: Behaviour | None, release: threading.Event, *, head: bool
) -> Literal["answered", "truncate", "serve"]:
    """Carry out a fault picked for this request (shared by the server and the S3 fault proxy).

    ``"answered"``: the request is dealt with (hung until released, dropped, or an error status
    sent); ``"truncate"``: serve it but cut the body; ``"serve"``: serve it normally (after a
    ``slow:`` delay, if that was the fault).
    """
    if behaviour is None:
        return "serve"
    if behaviour == "hang":
        release.wait()
        _drop(handler)
        return "answered"
    if behaviour == "drop":
        _drop(handler)
        return "answered"
    if behaviour.startswith("slow:"):
        release.wait(float(behaviour.removeprefix("slow:")))
        return "serve"
    if behaviour.startswith("trickle:"):  # the body flows, slowly: spread over these seconds
        handler.trickle = float(behaviour.removeprefix("trickle:"))  # type: ignore[attr-defined]
        return "serve"
    if behaviour == "truncate":
        return "truncate"
    _send_plain(handler, int(behaviour), f"injected fault {behaviour}\n", head=head)
    return "answered"


def _send_plain(handler: _Handler, status: int, text: str, *, head: bool) -> None:
    _send_body(handler, status, text.encode(), "text/plain; charset=utf-8", head=head)


def _drop(handler: _Handler) -> None:
    """Close the connection without (another byte of) an answer."""
    handler.close_connection = True
    try:
        handler.wfile.flush()
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# -- S3 (moto) -------------------------------------------------------------------------------


# -- a static server in a process of its own ---------------------------------------------

def _serve(conn: Connection, root: str, latency: float) -> None:
    server = StaticServer(root, latency=latency)
    server._server.handle_error = lambda request, address: None  # dropped keep-alive connections
    server.start()
    conn.send(server.port)
    while True:
        try:
            op, name, args = conn.recv()
        except EOFError:
            break
        try:
            if op == "stop":
                server.stop()
                conn.send(("ok", None))
                break
            if op == "set":
                setattr(server, name, args)
                result = None
            elif op == "get":
                result = getattr(server, name)
            elif op == "faults":
                if name == "add":
                    pattern, behaviour, times = args
                    server.faults.add(pattern, behaviour, times=times)
                else:
                    getattr(server.faults, name)(*args)
                result = None
            else:
                result = getattr(server, name)(*args)
            conn.send(("ok", result))
        except Exception as err:  # sent back and raised in the caller
            conn.send(("error", err))


class _Faults:
    def __init__(self, owner: ProcessServer) -> None:
        self._owner = owner

    def add(self, pattern: str, behaviour: str, *, times: int | None = None) -> None:
        self._owner._ask("faults", "add", (pattern, behaviour, times))

    def clear(self) -> None:
        self._owner._ask("faults", "clear", ())


class _Remote:
    """An attribute of the server in the child process (read, and set unless *read_only*)."""

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, server: ProcessServer | None, owner: type) -> Any:
        return self if server is None else server._ask("get", self.name)

    def __set__(self, server: ProcessServer, value: Any) -> None:
        if self.read_only:
            raise AttributeError(f"{self.name} is read-only")
        server._ask("set", self.name, value)


class ProcessServer:
    """A :class:`StaticServer` for *root* in a process of its own (the same interface, as far as
    the benchmark and the tests use it).

    A ``StaticServer`` runs in a thread of the process it serves.  When that process is napari,
    a Python server answering 16 requests at once holds the GIL for as long as the viewer spends
    decoding them, and a frame the viewer draws holds back the server: figures would measure the
    server.  A real server is elsewhere; so is this one.  The child is spawned and forwards what
    it is asked (counters, latency, listing, faults); its clock (``time.monotonic``) is the
    system's, so round trips are counted as in-process.  The caller's main module must start
    nothing on import.
    """

    def __init__(self, root: str | os.PathLike[str], *, latency: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._lock = threading.Lock()
        self._process = context.Process(target=_serve, args=(child, str(root), latency), daemon=True,
                                        name="loopback-http-server")
        self._process.start()
        child.close()
        self.port: int = self._conn.recv()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root
        self.faults = _Faults(self)

    def start(self) -> ProcessServer:
        return self

    def __enter__(self) -> ProcessServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ask(self, op: str, name: str, args: Any = ()) -> Any:
        with self._lock:
            self._conn.send((op, name, args))
            status, result = self._conn.recv()
        if status == "error":
            raise result
        return result

    latency = _Remote()
    listing = _Remote()
    stats = _Remote(read_only=True)
    """A snapshot of the server's :class:`tests.servers.ServerStats`."""

    def reset_stats(self) -> None:
        self._ask("call", "reset_stats")

    def reset(self) -> None:
        self._ask("call", "reset")

    def url_for(self, path: str | os.PathLike[str] = "") -> str:
        return str(self._ask("call", "url_for", (str(path),)))

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(EOFError, OSError):
                self._ask("stop", "")
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()


class S3Server:
    """moto's S3 in server mode on 127.0.0.1, with helpers to fill buckets from directories."""

    key = "testing"
    secret = "testing"
    region = "us-east-1"

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint_url = ""

    def start(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every bucket (moto's reset API)."""
        import urllib.request

        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    @property
    def storage_options(self) -> dict[str, Any]:
        """What :func:`zarr_browser.core.store.open_store` needs to reach this server."""
        return {"endpoint_url": self.endpoint_url, "key": self.key, "secret": self.secret}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name=self.region,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def upload_tree(self, local_dir: str | os.PathLike[str], bucket: str, prefix: str = "") -> list[str]:
        """Upload every file below *local_dir* to ``s3://bucket/prefix/...``; returns the keys."""
        client = self.client()
        base = Path(local_dir)
        keys = []
        for path in _files(base):
            key = "/".join(p for p in (prefix.strip("/"), path.relative_to(base).as_posix()) if p)
            client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            keys.append(key)
        return keys


def _files(base: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(filenames):
            yield Path(dirpath) / name
