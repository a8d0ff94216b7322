"""A fault-injecting loopback HTTP proxy (for moto's S3 server, or any HTTP origin).

:class:`FaultProxy` forwards every request to *origin* (one fresh connection per request) and
applies the same :class:`servers.Faults` rules as :class:`servers.StaticServer`: ``hang``,
status codes, ``drop``, ``truncate``, ``slow:<s>``, fail-first-N, seeded random rate.  Paths
are matched without the leading slash and without the query string (``bucket/key``).

With :attr:`FaultProxy.denies_missing`, it answers as S3 does a caller who may read objects
but not list the bucket (a common public bucket, which moto cannot be made into): listing
refused, and a key that does not exist refused (403 AccessDenied) instead of 404 NoSuchKey.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from servers import (
    _ACCESS_DENIED,
    Faults,
    ServerStats,
    ServingThread,
    _drop,
    apply_fault,
    finish_response,
    quiet_handle_error,
)

__all__ = ["FaultProxy"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024
    allow_reuse_address = True
    owner: FaultProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        quiet_handle_error(self, request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as in servers.py: no 40 ms delayed-ACK waits
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        self.server.owner._handle(self)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _any


class FaultProxy(ServingThread):
    """Forward to *origin* (``http://host:port``), injecting :attr:`faults`."""

    def __init__(self, origin: str) -> None:
        parts = urlsplit(origin)
        self.origin_host = parts.hostname or "127.0.0.1"
        self.origin_port = parts.port or 80
        self.faults = Faults()
        self.stats = ServerStats()
        self.denies_missing = False
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handle(self, handler: _Handler) -> None:
        path = urlsplit(handler.path).path.lstrip("/")
        head = handler.command == "HEAD"
        with self._lock:
            self.stats.requests += 1
            self.stats.by_path[path] += 1
            self.stats.by_method[handler.command] += 1
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        behaviour = self.faults.pick(handler.command, path)
        if behaviour is not None:
            with self._lock:
                self.stats.faults[behaviour.split(":")[0]] += 1
        outcome = apply_fault(handler, behaviour, self._release, head=head)
        if outcome == "answered":
            return
        reading = handler.command in ("GET", "HEAD")
        if self.denies_missing and reading and "/" not in path.strip("/"):  # ListObjects on the bucket
            self._deny(handler, head)
            return
        truncate = outcome == "truncate"
        conn = http.client.HTTPConnection(self.origin_host, self.origin_port, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("connection", "keep-alive")}
            conn.request(handler.command, handler.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except OSError:
            _drop(handler)
            return
        finally:
            conn.close()
        if self.denies_missing and reading and response.status == 404:  # NoSuchKey: a caller who may not list gets 403
            self._deny(handler, head)
            return
        handler.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive", "server", "date"):
                handler.send_header(name, value)
        origin_length = response.getheader("Content-Length")
        handler.send_header("Content-Length", origin_length if head and origin_length else str(len(data)))
        finish_response(handler, data, head=head, truncate=truncate)

    def _deny(self, handler: _Handler, head: bool) -> None:
        handler.send_response(403, "Forbidden")
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(_ACCESS_DENIED)))
        finish_response(handler, _ACCESS_DENIED, head=head, truncate=False)
