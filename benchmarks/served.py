"""The benchmark's loopback HTTP server, run in a process of its own.

The test suite's :class:`tests.servers.StaticServer` runs in a thread of the process it serves.
In a benchmark that process is napari, and a Python server answering 16 requests at once holds
the GIL for as long as the viewer spends decoding them: the figures would measure the server.
A real server is elsewhere, so here it is: :class:`ProcessServer` starts a ``StaticServer`` in a
child process and forwards what the benchmark asks of it (counters, latency, listing, faults).
Its clock (``time.monotonic``) is the system's, so round trips are counted as before.
The child is spawned, so the benchmark's main module must start nothing on import.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["ProcessServer"]


def _serve(conn: Connection, root: str, latency: float) -> None:
    from tests.servers import StaticServer

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
        except Exception as err:  # sent back and raised in the benchmark
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
    """A :class:`tests.servers.StaticServer` for *root* in a child process (same interface, as far
    as the benchmark uses it)."""

    def __init__(self, root: str | os.PathLike[str], *, latency: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._lock = threading.Lock()
        self._process = context.Process(target=_serve, args=(child, str(root), latency), daemon=True,
                                        name="bench-http-server")
        self._process.start()
        child.close()
        self.port: int = self._conn.recv()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root
        self.faults = _Faults(self)

    def start(self) -> ProcessServer:
        return self

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
