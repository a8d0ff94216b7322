"""The hostile-store corpus: real stores written with zarr-python, then corrupted on purpose.

:func:`build_corpus` writes every case under ``root/stores/<name>`` and, next to the stores,
``root/outside``: a "canary" that no case may ever read.  It holds a valid zarr v2 array
(``secret.zarr``, values ``4242``, an attribute holding :attr:`Corpus.token`) and a text file with
the token; cases point at it with ``..`` paths, absolute paths and symlinks.  Pickle payloads
create ``root/markers/<name>`` when unpickled: proof that code from a store ran.

Each :class:`Case` names the bad node and what must happen to it:

``refused``
    the safety gate refuses to decode the array (reason matches ``pattern``);
``error``
    the node (or one of its documents) is reported as an error matching ``pattern``;
``read-error``
    metadata is fine, reading its chunks fails (never drawn as data);
``problem``
    the node is readable but an issue matching ``pattern`` is reported about it;
``bounded``
    hostile sizes: anything goes as long as it is bounded in time and memory;
``ok``
    hostile-looking but legal content that must be read correctly.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import struct
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import zarr

Expect = Literal["refused", "error", "read-error", "problem", "bounded", "ok"]

__all__ = ["Case", "Corpus", "build_corpus"]


@dataclass(frozen=True)
class Case:
    """One hostile store.

    Attributes
    ----------
    name
        Identifier (also the store's directory name).
    store
        The store root.
    bad
        Path of the bad node inside the store (``"/x"``).
    expect
        What must happen to it (see the module docstring).
    pattern
        Regular expression the report about *bad* must match ("" when anything goes).
    marker
        File a pickle payload of this case would create (None when the case has no payload).
    what
        One line describing the hostility.
    """

    name: str
    store: Path
    bad: str
    expect: Expect
    pattern: str = ""
    marker: Path | None = None
    what: str = ""


@dataclass
class Corpus:
    root: Path
    outside: Path
    token: str
    cases: list[Case] = field(default_factory=list)

    def case(self, name: str) -> Case:
        return next(c for c in self.cases if c.name == name)


class _Payload:
    """Unpickling this creates a marker file: proof that code from the store ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


# -- helpers ---------------------------------------------------------------------------------


def _edit_json(path: Path, edit: Callable[[dict], None]) -> None:
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))


def _string_array_v2(store: Path, name: str = "x") -> Path:
    group = zarr.open_group(store, mode="a", zarr_format=2)
    arr = group.create_array(name, shape=(2,), chunks=(2,), dtype=str)
    arr[...] = np.array(["a", "b"])
    return store / name


def _numeric(store: Path, name: str, *, zarr_format: int, shape=(8, 8), chunks=(4, 4), dtype="u2", **kw) -> Path:
    group = zarr.open_group(store, mode="a", zarr_format=zarr_format)
    arr = group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, **kw)
    arr[...] = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    return store / name


def _ome_image(store: Path, name: str, datasets: list[str], *, write_level: bool = True) -> Path:
    """An OME-Zarr 0.4 (v2) image group; ``datasets`` are the level paths declared."""
    group = zarr.open_group(store, mode="a", zarr_format=2)
    image = group.create_group(name)
    if write_level:
        level = image.create_array("0", shape=(16, 16), chunks=(8, 8), dtype="u1")
        level[...] = np.full((16, 16), 7, dtype="u1")
    image.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
        "datasets": [
            {"path": p, "coordinateTransformations": [{"type": "scale", "scale": [1.0, 1.0]}]} for p in datasets
        ],
    }]
    return store / name


def _poison_v2(array_dir: Path, marker: Path, **changes: object) -> None:
    _edit_json(array_dir / ".zarray", lambda m: m.update(changes))
    for chunk in [p for p in array_dir.iterdir() if not p.name.startswith(".")]:
        chunk.unlink()
    (array_dir / "0").write_bytes(pickle.dumps(_Payload(str(marker))))


def _zlib_zeros(nbytes: int) -> bytes:
    """zlib of *nbytes* zero bytes, made in pieces (never holding the decoded bytes)."""
    comp = zlib.compressobj(1)
    piece = bytes(64 << 20)
    out = []
    left = nbytes
    while left:
        n = min(left, len(piece))
        out.append(comp.compress(piece[:n] if n < len(piece) else piece))
        left -= n
    out.append(comp.flush())
    return b"".join(out)


# -- the corpus ------------------------------------------------------------------------------


def build_corpus(root: Path) -> Corpus:
    """Write every hostile store under *root*; returns the corpus (cases in a fixed order)."""
    root = Path(os.path.realpath(root))
    stores = root / "stores"
    markers = root / "markers"
    outside = root / "outside"
    for d in (stores, markers, outside):
        d.mkdir(parents=True, exist_ok=True)
    token = f"CANARY-{uuid.uuid4().hex}"
    secret = zarr.open_array(outside / "secret.zarr", mode="w", shape=(16, 16), chunks=(16, 16), dtype="u2",
                             zarr_format=2, fill_value=4242)
    secret[...] = np.full((16, 16), 4242, dtype="u2")
    secret.attrs["secret"] = token
    (outside / "secret.txt").write_text(token)
    corpus = Corpus(root, outside, token)
    secret_dir = outside / "secret.zarr"

    def new(name: str) -> tuple[Path, Path]:
        store = stores / name
        zarr.open_group(store, mode="w", zarr_format=2, attributes={"case": name})
        return store, markers / name

    def add(name: str, store: Path, bad: str, expect: Expect, pattern: str = "", marker: Path | None = None,
            what: str = "") -> None:
        corpus.cases.append(Case(name, store, bad, expect, pattern, marker, what))

    # -- code execution: pickle behind a benign object codec (zarr 3.1 + numcodecs <= 0.16.5)
    for name, changes, what in [
        ("pickle-filters-vlen-utf8", {"filters": [{"id": "vlen-utf8"}, {"id": "pickle"}]},
         "v2 filters [vlen-utf8, pickle]"),
        ("pickle-filters-vlen-bytes", {"filters": [{"id": "vlen-bytes"}, {"id": "pickle"}]},
         "v2 filters [vlen-bytes, pickle]"),
        ("pickle-compressor", {"filters": [{"id": "vlen-utf8"}], "compressor": {"id": "pickle"}},
         "v2 vlen-utf8 filter + pickle compressor"),
        ("pickle-float-compressor", {"filters": None, "compressor": {"id": "pickle"}, "dtype": "<f8"},
         "v2 <f8 with a pickle compressor"),
    ]:
        store, marker = new(name)
        _poison_v2(_string_array_v2(store), marker, **changes)
        add(name, store, "/x", "refused", r"pickle", marker, what)

    store, marker = new("pickle-dimension-coordinate")
    time_dir = _string_array_v2(store, "time")
    (time_dir / ".zattrs").write_text(json.dumps({"_ARRAY_DIMENSIONS": ["time"]}))
    _poison_v2(time_dir, marker, filters=[{"id": "vlen-utf8"}, {"id": "pickle"}])
    temp = _numeric(store, "temp", zarr_format=2, shape=(2,), chunks=(2,), dtype="f8")
    (temp / ".zattrs").write_text(json.dumps({"_ARRAY_DIMENSIONS": ["time"], "units": "K"}))
    add("pickle-dimension-coordinate", store, "/time", "refused", r"pickle", marker,
        "xarray dataset whose dimension coordinate 'time' is pickled (xarray runs it on open)")

    store, marker = new("pickle-v3-codec")
    zarr.open_group(store, mode="w", zarr_format=3)
    _numeric(store, "x", zarr_format=3, shape=(4,), chunks=(4,), dtype="f8")
    _edit_json(store / "x" / "zarr.json", lambda m: m.update(
        codecs=[{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "numcodecs.pickle"}]))
    (store / "x" / "c" / "0").write_bytes(pickle.dumps(_Payload(str(marker))))
    add("pickle-v3-codec", store, "/x", "refused", r"pickle", marker, "v3 codec numcodecs.pickle")

    # -- allocation bombs
    store, _ = new("json2-bomb")
    _poison_v2(_string_array_v2(store), markers / "unused", filters=[{"id": "json2"}])
    (store / "x" / "0").write_bytes(b'["|O",[1073741824]]')  # 19 bytes -> an 8 GiB object array
    add("json2-bomb", store, "/x", "refused", r"json2", None, "19-byte json2 chunk allocating 2^30 objects")

    store, _ = new("msgpack2-bomb")
    _poison_v2(_string_array_v2(store), markers / "unused", filters=[{"id": "msgpack2"}])
    # msgpack ["|O", [2**30]]: fixarray(2), fixstr "|O", fixarray(1), uint32
    (store / "x" / "0").write_bytes(b"\x92\xa2|O\x91\xce" + struct.pack(">I", 1 << 30))
    add("msgpack2-bomb", store, "/x", "refused", r"msgpack2", None, "10-byte msgpack2 chunk allocating 2^30 objects")

    store, _ = new("shape-1e18")
    _numeric(store, "x", zarr_format=2, shape=(4, 4), chunks=(2, 2), dtype="u1")
    _edit_json(store / "x" / ".zarray", lambda m: m.update(shape=[10**18, 10**18], chunks=[1000, 1000]))
    add("shape-1e18", store, "/x", "bounded", "", None, "shape 1e18 x 1e18 (1e30 chunks)")

    store, _ = new("chunks-1e12")
    zarr.open_group(store, mode="w", zarr_format=3)
    _numeric(store, "x", zarr_format=3, shape=(4, 4), chunks=(1, 1), dtype="u1")
    _edit_json(store / "x" / "zarr.json", lambda m: m.update(shape=[10**6, 10**6]))
    add("chunks-1e12", store, "/x", "bounded", "", None, "10^12 chunks of one element")

    store, _ = new("chunk-2gib")
    _numeric(store, "x", zarr_format=2, shape=(4, 4), chunks=(2, 2), dtype="u2", compressors=[{"id": "zlib", "level": 1}])
    x = store / "x"
    _edit_json(x / ".zarray", lambda m: m.update(shape=[32768, 32768], chunks=[32768, 32768]))
    for chunk in [p for p in x.iterdir() if not p.name.startswith(".")]:
        chunk.unlink()
    (x / "0.0").write_bytes(_zlib_zeros(32768 * 32768 * 2))  # ~2 MB on disk, 2 GiB decoded
    add("chunk-2gib", store, "/x", "refused", r"GiB", None, "a 2 MB zlib chunk that decodes to 2 GiB")

    # -- hostile documents
    store, _ = new("attributes-100mb")
    big = store / "big"
    big.mkdir()
    with open(big / ".zgroup", "w") as f:
        json.dump({"zarr_format": 2}, f)
    with open(big / ".zattrs", "w") as f:
        f.write('{"blob": "' + "A" * (100 * 1024 * 1024) + '"}')
    _numeric(store, "sibling", zarr_format=2, shape=(4, 4), chunks=(2, 2))
    add("attributes-100mb", store, "/big", "error", r"bytes|bound|too large", None, "a 100 MB .zattrs document")

    store, _ = new("deep-nesting")
    deep = store / "deep"
    deep.mkdir()
    (deep / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    (deep / ".zattrs").write_text('{"a": ' + "[" * 200_000 + "]" * 200_000 + "}")
    add("deep-nesting", store, "/deep", "error", r"nested|deep|recursion", None, "200,000 nested arrays in .zattrs")

    store, _ = new("deep-nesting-v3")
    zarr.open_group(store, mode="w", zarr_format=3)
    (store / "deep").mkdir()
    (store / "deep" / "zarr.json").write_text(
        '{"zarr_format": 3, "node_type": "group", "attributes": ' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}")
    add("deep-nesting-v3", store, "/deep", "error", r"nested|deep|recursion", None, "100,000 nested objects in zarr.json")

    store, _ = new("non-utf8")
    zarr.open_group(store, mode="w", zarr_format=3)
    (store / "bad").mkdir()
    (store / "bad" / "zarr.json").write_bytes(
        b'{"zarr_format": 3, "node_type": "group", "attributes": {"name": "caf\xe9 \xff\xfe"}}')
    add("non-utf8", store, "/bad", "error", r"UTF-8", None, "zarr.json with Latin-1 and invalid UTF-8 bytes")

    store, _ = new("nan-infinity-tokens")
    _numeric(store, "x", zarr_format=2, shape=(4, 4), chunks=(2, 2), dtype="f8", fill_value=float("nan"))
    (store / "x" / ".zattrs").write_text('{"valid_min": -Infinity, "valid_max": Infinity, "missing": NaN}')
    add("nan-infinity-tokens", store, "/x", "ok", "", None, "bare NaN/Infinity tokens (as zarr-python writes them)")

    store, _ = new("invalid-json")
    (store / "broken").mkdir()
    (store / "broken" / ".zarray").write_text('{"zarr_format": 2, "shape": [4, 4], "chunks": [2,')
    _numeric(store, "sibling", zarr_format=2, shape=(4, 4), chunks=(2, 2))
    add("invalid-json", store, "/broken", "error", r"JSON", None, "truncated .zarray")

    store, _ = new("wrong-types")
    _numeric(store, "x", zarr_format=2, shape=(4, 4), chunks=(2, 2))
    _edit_json(store / "x" / ".zarray", lambda m: m.update(shape="4x4", chunks=[-1, 2**70], dtype={"a": 1}))
    add("wrong-types", store, "/x", "error", r"shape|chunks|dtype", None, ".zarray with a string shape and negative chunks")

    # -- reads outside the root
    store, _ = new("ome-dataset-dotdot")
    _ome_image(store, "img", ["../../../outside/secret.zarr"], write_level=False)
    add("ome-dataset-dotdot", store, "/img", "problem", r"\.\./\.\./\.\./outside/secret\.zarr",
        None, "OME multiscales dataset path ../../../outside/secret.zarr")

    store, _ = new("ome-dataset-absolute")
    _ome_image(store, "img", [str(secret_dir)], write_level=False)
    add("ome-dataset-absolute", store, "/img", "problem", re.escape(str(secret_dir)),
        None, "OME multiscales dataset path is an absolute path to the canary")

    store, _ = new("ome-label-dotdot")
    img = _ome_image(store, "img", ["0"])
    labels = zarr.open_group(store, mode="a", zarr_format=2).require_group("img").create_group("labels")
    labels.attrs["labels"] = ["../../../../outside/secret.zarr"]
    assert (img / "labels").is_dir()
    add("ome-label-dotdot", store, "/img/labels", "problem", r"\.\./\.\./\.\./\.\./outside/secret\.zarr",
        None, "OME labels entry ../../../../outside/secret.zarr")

    store, _ = new("symlink-node")
    _numeric(store, "x", zarr_format=2, shape=(4, 4), chunks=(2, 2))
    os.symlink(secret_dir, store / "link")
    add("symlink-node", store, "/link", "error", r"outside|boundary|root", None, "a node directory symlinked to the canary")

    store, _ = new("symlink-document")
    x = _numeric(store, "x", zarr_format=2, shape=(16, 16), chunks=(16, 16))
    (x / ".zarray").unlink()
    os.symlink(secret_dir / ".zarray", x / ".zarray")
    (x / ".zattrs").unlink(missing_ok=True)
    os.symlink(secret_dir / ".zattrs", x / ".zattrs")
    add("symlink-document", store, "/x", "error", r"outside", None, ".zarray and .zattrs symlinked to the canary's")

    store, _ = new("symlink-chunk")
    x = _numeric(store, "x", zarr_format=2, shape=(16, 16), chunks=(16, 16))
    (x / "0.0").unlink()
    os.symlink(secret_dir / "0.0", x / "0.0")
    add("symlink-chunk", store, "/x", "read-error", r"outside", None, "a chunk symlinked to the canary's chunk")

    store, _ = new("consolidated-dotdot-v2")
    _numeric(store, "x", zarr_format=2, shape=(4, 4), chunks=(2, 2))
    secret_meta = json.loads((secret_dir / ".zarray").read_text())
    (store / ".zmetadata").write_text(json.dumps({
        "zarr_consolidated_format": 1,
        "metadata": {
            ".zgroup": {"zarr_format": 2},
            ".zattrs": {"case": "consolidated-dotdot-v2"},
            "x/.zarray": json.loads((store / "x" / ".zarray").read_text()),
            "../outside/secret.zarr/.zarray": secret_meta,
            str(secret_dir / ".zarray"): secret_meta,
        },
    }))
    add("consolidated-dotdot-v2", store, "/", "problem", r"not a valid relative", None,
        ".zmetadata entries ../outside/secret.zarr and an absolute path")

    store, _ = new("consolidated-dotdot-v3")
    zarr.open_group(store, mode="w", zarr_format=3)
    _numeric(store, "x", zarr_format=3, shape=(4, 4), chunks=(2, 2))
    x_meta = json.loads((store / "x" / "zarr.json").read_text())
    _edit_json(store / "zarr.json", lambda m: m.update(consolidated_metadata={
        "kind": "inline", "must_understand": False,
        "metadata": {"x": x_meta, "../../outside/secret.zarr": x_meta, "/etc": x_meta},
    }))
    add("consolidated-dotdot-v3", store, "/", "problem", r"not a valid relative", None,
        "inline consolidated metadata with ../ and absolute node paths")

    # -- broken chunks
    store, _ = new("truncated-chunk")
    zarr.open_group(store, mode="w", zarr_format=3)
    x = _numeric(store, "x", zarr_format=3, shape=(64, 64), chunks=(64, 64), dtype="u2")
    chunk = x / "c" / "0" / "0"
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    add("truncated-chunk", store, "/x", "read-error", "", None, "a zstd chunk cut in half")

    store, _ = new("corrupt-chunk")
    x = _numeric(store, "x", zarr_format=2, shape=(64, 64), chunks=(64, 64), dtype="u2")
    chunk = x / "0.0"
    chunk.write_bytes(np.random.default_rng(1).integers(0, 256, chunk.stat().st_size, dtype=np.uint8).tobytes())
    add("corrupt-chunk", store, "/x", "read-error", "", None, "a compressed chunk overwritten with random bytes")

    store, _ = new("wrong-size-chunk")
    zarr.open_group(store, mode="w", zarr_format=3)
    x = _numeric(store, "x", zarr_format=3, shape=(64, 64), chunks=(64, 64), dtype="u2", compressors=None)
    (x / "c" / "0" / "0").write_bytes(b"\x01\x02" * 100)
    add("wrong-size-chunk", store, "/x", "read-error", "", None, "an uncompressed chunk of the wrong size")

    # -- chunk frames that lie about their sizes (checked before numcodecs trusts them)
    store, _ = new("forged-blosc-header")
    x = _numeric(store, "x", zarr_format=2, shape=(64, 64), chunks=(64, 64), dtype="u1")
    _edit_json(x / ".zarray", lambda d: d.update(compressor={"id": "blosc", "cname": "lz4", "clevel": 5,
                                                             "shuffle": 1, "blocksize": 0}))
    for chunk in x.glob("[0-9]*"):
        chunk.unlink()
    # nbytes 4096 (the chunk), cbytes 2 GiB: c-blosc read past the 20 bytes (a segfault)
    (x / "0.0").write_bytes(struct.pack("<BBBBIIIi", 2, 1, 0x21, 1, 4096, 4096, 0x7FFFFFFF, 0x7FFFFFF0))
    add("forged-blosc-header", store, "/x", "read-error", r"compressed bytes", None,
        "a 20-byte blosc frame whose header claims 2 GiB of compressed bytes")

    store, _ = new("zlib-bomb-chunk")
    x = _numeric(store, "x", zarr_format=2, shape=(64, 64), chunks=(64, 64), dtype="u1")
    _edit_json(x / ".zarray", lambda d: d.update(compressor={"id": "zlib", "level": 1}))
    for chunk in x.glob("[0-9]*"):
        chunk.unlink()
    (x / "0.0").write_bytes(_zlib_zeros(256 << 20))  # 256 MiB for a 4 KiB chunk, ~250 KB stored
    add("zlib-bomb-chunk", store, "/x", "read-error", "", None, "a zlib chunk inflating to 256 MiB (4 KiB declared)")

    # -- a symlink back to its own group: every walk would go round it for ever
    store, _ = new("symlink-loop")
    zarr.open_group(store / "g", mode="w", zarr_format=2)
    (store / "g" / "again").symlink_to("../g")
    (store / "g" / "more").symlink_to("../g")
    add("symlink-loop", store, "/g/again", "error", r"symlink loop", None, "two symlinks back to their own group")

    # -- mixed v2 + v3
    store, _ = new("mixed-v2-v3")
    _numeric(store, "m", zarr_format=2, shape=(4, 4), chunks=(2, 2))
    (store / "m" / "zarr.json").write_text(json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}))
    add("mixed-v2-v3", store, "/m", "problem", r"mixed|both", None, "a node with both .zarray and zarr.json")

    return corpus
