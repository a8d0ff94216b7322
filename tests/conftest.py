"""Shared fixtures: loopback servers and small real zarr stores written with zarr-python.

Servers
-------
``http_server``
    A :class:`servers.StaticServer` serving a fresh per-test directory (``.root``), reset to
    no latency / no faults / listing on before each test.  The server itself lives for the
    session; hanging requests are freed after each test.
``make_http_server``
    A factory for extra, independent HTTP servers (stopped after the test).
``s3_server``
    moto's S3 on loopback (session-scoped server, per-test dummy AWS environment); offers
    ``new_bucket()``, ``upload_tree()`` and ``storage_options``.

Stores
------
``zarr_stores``
    Writes small v2/v3 hierarchies with zarr-python (see :class:`SampleTree`).
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from servers import S3Server, StaticServer

# the window's and the dock's settings (recent stores) go to a file of the test session, never
# the user's own, in this process and in the processes the tests start; napari's too (its
# make_napari_viewer resets the settings and closing a viewer saves them: they were written to
# ~/.config/napari/.venv_<hash>/settings.yaml, the settings of the napari in .venv)
_SETTINGS_DIR = tempfile.mkdtemp(prefix="zarr-browser-settings-")
os.environ["ZARR_BROWSER_SETTINGS"] = os.path.join(_SETTINGS_DIR, "settings.ini")
os.environ["NAPARI_CONFIG"] = os.path.join(_SETTINGS_DIR, "napari.yaml")  # read when napari.settings is imported
atexit.register(shutil.rmtree, _SETTINGS_DIR, True)  # (a test run left a folder in /tmp each time)

ZarrFormat = Literal[2, 3]


# -- HTTP ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _http_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticServer]:
    server = StaticServer(tmp_path_factory.mktemp("www")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http_server(_http_server_session: StaticServer, tmp_path: Path) -> Iterator[StaticServer]:
    """The session's HTTP server, serving ``tmp_path / "www"`` with default settings."""
    root = tmp_path / "www"
    root.mkdir()
    _http_server_session.reset(root)
    try:
        yield _http_server_session
    finally:
        _http_server_session.reset()  # frees requests left hanging by this test


@pytest.fixture
def make_http_server(tmp_path: Path) -> Iterator[Callable[..., StaticServer]]:
    """``make_http_server(root=None, latency=0.0)`` starts another server, stopped after the test."""
    started: list[StaticServer] = []
    counter = itertools.count()

    def make(root: str | os.PathLike[str] | None = None, *, latency: float = 0.0) -> StaticServer:
        if root is None:
            root = tmp_path / f"www-{next(counter)}"
            Path(root).mkdir()
        server = StaticServer(root, latency=latency).start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


# -- S3 --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _s3_server_session() -> Iterator[S3Server]:
    pytest.importorskip("moto.server")
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


class S3Fixture:
    """A per-test handle on the session's moto server."""

    def __init__(self, server: S3Server, name: str) -> None:
        self.server = server
        self._names = (f"{name}-{i}" for i in itertools.count())

    @property
    def endpoint_url(self) -> str:
        return self.server.endpoint_url

    @property
    def storage_options(self) -> dict[str, Any]:
        return self.server.storage_options

    def client(self) -> Any:
        return self.server.client()

    def new_bucket(self) -> str:
        """Create a bucket with a name unique to this test and return the name."""
        return self.server.create_bucket(next(self._names))

    def upload_tree(self, local_dir: str | os.PathLike[str], bucket: str, prefix: str = "") -> list[str]:
        return self.server.upload_tree(local_dir, bucket, prefix)


_bucket_ids = itertools.count()


@pytest.fixture
def s3_server(_s3_server_session: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Fixture:
    """moto S3 on loopback, with dummy credentials in the environment for this test only."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3Server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3Server.secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", S3Server.region)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    no_proxy = ",".join(p for p in (os.environ.get("NO_PROXY", ""), "127.0.0.1,localhost") if p)
    monkeypatch.setenv("NO_PROXY", no_proxy)
    monkeypatch.setenv("no_proxy", no_proxy)
    return S3Fixture(_s3_server_session, f"test-bucket-{next(_bucket_ids)}")


# -- zarr stores -----------------------------------------------------------------------------


@dataclass
class SampleTree:
    """What a writer put in a store: node kinds by path and array contents by path."""

    zarr_format: ZarrFormat
    kinds: dict[str, str] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def paths(self) -> list[str]:
        return sorted(self.kinds)


class ZarrStores:
    """Writers of small, real hierarchies with zarr-python.

    *store* may be a local path (directory), or any zarr store object (``MemoryStore``,
    ``ZipStore`` ...).
    """

    def sample(self, store: Any, zarr_format: ZarrFormat = 3, *, consolidate: bool = False) -> SampleTree:
        """A small hierarchy: arrays at several depths, attributes, an empty group::

            /              group  {"title": "sample"}
            /raw           array  int16 (4, 6) chunks (2, 3)
            /labels        group
            /labels/mask   array  uint8 (4, 6) one chunk
            /nested        group
            /nested/deeper group
            /nested/deeper/values  array float64 (10,) chunks (3,), fill 0.5 partially written
            /empty         group
        """
        import zarr

        tree = SampleTree(zarr_format)
        root = zarr.open_group(store, mode="w", zarr_format=zarr_format, attributes={"title": "sample"})
        tree.kinds["/"] = "group"
        tree.attributes["/"] = {"title": "sample"}

        raw = np.arange(24, dtype="int16").reshape(4, 6) - 7
        self._array(root, tree, "raw", raw, chunks=(2, 3), attributes={"units": "counts"})
        labels = root.create_group("labels")
        tree.kinds["/labels"] = "group"
        mask = (np.arange(24).reshape(4, 6) % 3).astype("uint8")
        self._array(labels, tree, "mask", mask, chunks=(4, 6), prefix="/labels")
        nested = root.create_group("nested")
        deeper = nested.create_group("deeper", attributes={"level": 2})
        tree.kinds["/nested"] = tree.kinds["/nested/deeper"] = "group"
        tree.attributes["/nested/deeper"] = {"level": 2}
        values = deeper.create_array("values", shape=(10,), chunks=(3,), dtype="float64", fill_value=0.5)
        values[:4] = np.array([1.0, -2.5, np.pi, 1e10])
        expected = np.full(10, 0.5)
        expected[:4] = [1.0, -2.5, np.pi, 1e10]
        tree.kinds["/nested/deeper/values"] = "array"
        tree.arrays["/nested/deeper/values"] = expected
        root.create_group("empty")
        tree.kinds["/empty"] = "group"
        if consolidate:
            _consolidate(store)
        return tree

    def wide(
        self,
        store: Any,
        zarr_format: ZarrFormat = 3,
        *,
        groups: int = 5,
        subgroups: int = 2,
        arrays: int = 5,
        consolidate: bool = True,
    ) -> SampleTree:
        """``groups × subgroups × arrays`` tiny arrays at ``/g{i}/s{j}/a{k}`` (50 by default)."""
        import zarr

        tree = SampleTree(zarr_format)
        root = zarr.open_group(store, mode="w", zarr_format=zarr_format)
        tree.kinds["/"] = "group"
        for i in range(groups):
            group = root.create_group(f"g{i}")
            tree.kinds[f"/g{i}"] = "group"
            for j in range(subgroups):
                sub = group.create_group(f"s{j}")
                tree.kinds[f"/g{i}/s{j}"] = "group"
                for k in range(arrays):
                    data = np.full((2, 2), i * 100 + j * 10 + k, dtype="int32")
                    self._array(sub, tree, f"a{k}", data, chunks=(2, 2), prefix=f"/g{i}/s{j}")
        if consolidate:
            _consolidate(store)
        return tree

    @staticmethod
    def _array(
        group: Any,
        tree: SampleTree,
        name: str,
        data: np.ndarray,
        *,
        chunks: tuple[int, ...],
        prefix: str = "",
        attributes: dict[str, Any] | None = None,
    ) -> None:
        array = group.create_array(name, shape=data.shape, chunks=chunks, dtype=data.dtype, attributes=attributes)
        array[...] = data
        path = f"{prefix}/{name}"
        tree.kinds[path] = "array"
        tree.arrays[path] = data
        if attributes:
            tree.attributes[path] = attributes


def _consolidate(store: Any) -> None:
    import zarr

    with warnings.catch_warnings():  # v3 consolidated metadata is not in the spec (yet)
        warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
        zarr.consolidate_metadata(store)


@pytest.fixture(scope="session")
def zarr_stores() -> ZarrStores:
    """Writers of small real zarr hierarchies (``.sample(store, zarr_format)``, ``.wide(...)``)."""
    return ZarrStores()


# -- streaming -------------------------------------------------------------------------------


@pytest.fixture
def engine() -> Iterator[Any]:
    """A fresh process-wide streaming engine for the test (64 MB cache, empty)."""
    from zarr_browser.streaming.engine import StreamingEngine, set_engine

    fresh = StreamingEngine(64 * 1024 * 1024)
    previous = set_engine(fresh)
    try:
        yield fresh
    finally:
        set_engine(previous)
