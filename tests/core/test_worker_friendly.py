"""What lets a GUI stay responsive while a worker edits 10,000 documents (audit K), Qt-free:
the session's state read in one go, the size of an undo step, JSON rendered without reference
cycles, and workers that hand the GIL over now and then."""

from __future__ import annotations

import gc
import json
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zarr

from zarr_browser.core import jsonio, yielding
from zarr_browser.core.editing import EditSession
from zarr_browser.core.editing.conventions import xarray_rename_dimension
from zarr_browser.core.editing.session import SessionState
from zarr_browser.core.jsonio import dumps, parse_document, render_numbers


def _group(path: Path, arrays: int) -> Path:
    root = zarr.open_group(path, mode="w", zarr_format=3, attributes={"title": "t"})
    for i in range(arrays):
        root.create_array(f"a{i}", shape=(2, 3), dtype="f4", dimension_names=("y", "x"), attributes={"units": "K"})
    return path


def test_the_state_of_a_session_is_read_in_one_go_and_follows_undo_and_redo(tmp_path: Path) -> None:
    session = EditSession.open(str(_group(tmp_path / "g.zarr", 4)))
    assert session.state() == SessionState()
    assert session.step_size() == 0 and session.step_size(redo=True) == 0
    session.apply(xarray_rename_dimension(session, "/", "x", "col"))
    session.set("/a1", "/units", "m")
    label = "rename dimension 'x' → 'col' in /"
    assert session.state() == SessionState(True, True, False, (label, "set /a1:/units"),
                                           frozenset({"/a0", "/a1", "/a2", "/a3"}))
    assert session.step_size() == 1  # the last step: one document
    session.undo()
    assert session.step_size() == 4 and session.step_size(redo=True) == 1
    session.undo()
    assert session.state() == SessionState(False, False, True, (), frozenset())
    assert session.step_size(redo=True) == 4
    session.redo()
    assert session.state() == SessionState(True, True, True, (label,), frozenset({"/a0", "/a1", "/a2", "/a3"}))


@pytest.fixture
def no_collector() -> Iterator[None]:
    """The cyclic collector off, and the garbage it would find kept (gc.garbage) for the test."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


_RENDERERS = {json.encoder.__file__, jsonio.__file__}


def _cyclic_garbage() -> int:
    """How many functions of json's encoder or of jsonio the collector would free as parts of
    reference cycles now (then everything it found is freed).  Only those count: in the whole
    suite other threads (an event loop, workers of earlier tests) leave cycles of their own."""
    gc.collect()
    found = sum(1 for item in gc.garbage
                if isinstance(item, types.FunctionType) and item.__code__.co_filename in _RENDERERS)
    gc.set_debug(0)
    gc.garbage.clear()
    gc.collect()  # (kept by gc.garbage until now: freed for good)
    gc.set_debug(gc.DEBUG_SAVEALL)
    return found


VALUES: list[Any] = [
    {"zarr_format": 3, "node_type": "array", "shape": [10, 20], "fill_value": float("nan"),
     "attributes": {"ü": "×", "inf": float("inf"), "ninf": -float("inf"), "big": 10**30, "n": None,
                    "flags": [True, False], "empty": {}, "none": [], "nested": [[1, 2.5], {"a": [{}]}]},
     "dimension_names": ["y", None]},
    [], {}, "text", 1.5, [1, [2, [3, []]]], {"1": {"2": {"3": {}}}}, ("tuple", 1),
]


@pytest.mark.parametrize("indent", [2, 4, 0, "\t", None])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_dumps_writes_what_json_writes_and_leaves_no_reference_cycles(no_collector: None, indent: Any,
                                                                       ensure_ascii: bool) -> None:
    expected = [json.dumps(value, indent=indent, allow_nan=True, ensure_ascii=ensure_ascii) for value in VALUES]
    _cyclic_garbage()  # (json's own, just made, when indented)
    assert [dumps(value, indent=indent, ensure_ascii=ensure_ascii) for value in VALUES] == expected
    assert _cyclic_garbage() == 0, "json's indenting encoder makes its closures' cycles at each call"
    with pytest.raises(TypeError):
        dumps({"a": {1, 2}}, indent=indent)
    with pytest.raises(TypeError):
        dumps({("a",): 1}, indent=indent)


def test_rendering_a_document_with_kept_numbers_leaves_no_reference_cycles(no_collector: None) -> None:
    value = parse_document("zarr.json", b'{"a": 1.50, "b": [1E5, {"c": -0}], "d": "x"}', keep_numbers=True).value
    for _ in range(3):
        assert render_numbers(lambda v: dumps(v, indent=2), value) == \
            '{\n  "a": 1.50,\n  "b": [\n    1E5,\n    {\n      "c": -0\n    }\n  ],\n  "d": "x"\n}'
    assert _cyclic_garbage() == 0


def test_the_mark_of_kept_numbers_is_drawn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing it per render asked the OS for random bytes, releasing the GIL, per document."""
    import secrets

    def refuse(_n: int) -> str:
        raise AssertionError("drawn again")

    monkeypatch.setattr(secrets, "token_hex", refuse)
    value = parse_document("z", b'{"a": 1.50}', keep_numbers=True).value
    assert render_numbers(json.dumps, value) == '{"a": 1.50}' and jsonio._MARK.startswith("zb-number-")


def test_pause_naps_only_inside_yielding_and_only_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    naps: list[float] = []
    clock = [100.0]
    monkeypatch.setattr(yielding.time, "sleep", naps.append)
    monkeypatch.setattr(yielding.time, "perf_counter", lambda: clock[0])
    yielding.pause()
    assert naps == [], "outside yielding() (the command line): never"
    with yielding.yielding():
        yielding.pause()
        assert naps == []  # not due yet
        clock[0] += yielding.NAP_EVERY
        yielding.pause()
        yielding.pause()
        assert naps == [yielding.NAP], "once due, then not again until due again"
        clock[0] += yielding.NAP_EVERY / 2
        yielding.pause()
        assert naps == [yielding.NAP]
        clock[0] += yielding.NAP_EVERY
        with yielding.yielding():  # nested: a schedule of its own (not due yet)...
            yielding.pause()
            assert len(naps) == 1
        yielding.pause()  # ...and the outer one's comes back after
    assert len(naps) == 2
    clock[0] += 1
    yielding.pause()
    assert len(naps) == 2

    seen: list[bool] = []
    other = threading.Thread(target=lambda: (clock.__setitem__(0, clock[0] + 1), yielding.pause(),
                                             seen.append(True)))
    with yielding.yielding():  # (per thread: another thread does not pause)
        other.start()
        other.join()
    assert seen == [True] and len(naps) == 2
