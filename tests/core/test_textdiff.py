"""The near-linear unified diff of large documents (core.textdiff) against difflib's."""

from __future__ import annotations

import difflib
import json
import random

import pytest

from zarr_browser.core.textdiff import unified_diff


def _patch(a: list[str], diff: list[str]) -> list[str]:
    """Apply a unified diff to *a*, checking every context and deleted line against it."""
    out: list[str] = []
    at = 0
    k = 2 if diff else 0
    while k < len(diff):
        header = diff[k]
        assert header.startswith("@@ -"), header
        old = header.split()[1][1:]
        start, _, count = old.partition(",")
        begin = int(start) - 1 if count != "0" else int(start)
        out.extend(a[at:begin])
        at = begin
        k += 1
        while k < len(diff) and not diff[k].startswith("@@"):
            tag, line = diff[k][0], diff[k][1:]
            if tag in " -":
                assert a[at] == line, (at, a[at], line)
                at += 1
            if tag in " +":
                out.append(line)
            k += 1
    return out + a[at:]


@pytest.mark.parametrize("seed", range(4))
def test_random_edits_are_diffed_exactly(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(400):
        alphabet = rng.choice([2, 5, 30, 10_000])  # from all-repeated lines to all-unique ones
        a = [f"l{rng.randrange(alphabet)}\n" for _ in range(rng.randrange(0, 80))]
        b = list(a)
        for _ in range(rng.randrange(0, 10)):
            at = rng.randrange(len(b) + 1)
            roll = rng.random()
            if roll < 0.35 and b:
                del b[min(at, len(b) - 1)]
            elif roll < 0.7:
                b.insert(at, f"l{rng.randrange(alphabet)}\n")
            elif b:
                b[min(at, len(b) - 1)] = f"new{rng.randrange(alphabet)}\n"
        diff = list(unified_diff(a, b, "a/x", "b/x"))
        if a == b:
            assert diff == []
        else:
            assert diff[:2] == ["--- a/x\n", "+++ b/x\n"]
            assert _patch(a, diff) == b


def _zmetadata(arrays: int, dimension: str) -> list[str]:
    metadata: dict[str, object] = {}
    for i in range(arrays):
        metadata[f"v{i:05d}/.zarray"] = {"zarr_format": 2, "shape": [10, 20], "chunks": [10, 20], "dtype": "<f4"}
        metadata[f"v{i:05d}/.zattrs"] = {"_ARRAY_DIMENSIONS": ["lat", dimension]}
    return json.dumps({"metadata": metadata, "zarr_consolidated_format": 1}, indent=4).splitlines(keepends=True)


def test_a_rename_across_a_consolidated_index_reads_as_difflib_writes_it() -> None:
    """A dimension renamed in every array of a group: the indented .zmetadata changes one line in
    every tenth, and the same lines recur thousands of times (difflib took 6 minutes on 10,000
    arrays, audit K).  The diff is difflib's where difflib can be waited for, and exact beyond."""
    a, b = _zmetadata(300, "lon"), _zmetadata(300, "longitude")
    assert list(unified_diff(a, b, "a", "b")) == list(difflib.unified_diff(a, b, "a", "b"))
    a, b = _zmetadata(10_000, "lon"), _zmetadata(10_000, "longitude")
    diff = list(unified_diff(a, b, "a", "b"))
    assert _patch(a, diff) == b
    assert sum(line.startswith("-") for line in diff) == 10_000 + 1  # each "lon" line once, and the header


def test_edge_cases_match_difflib() -> None:
    cases = [([], ["x\n"]), (["x\n"], []), (["x\n"], ["x\n"]),
             ([f"{i}\n" for i in range(20)], [f"{i}\n" for i in range(20) if i != 10]),
             (["a\n"] * 10, ["a\n"] * 12), (["a"], ["b"])]
    for a, b in cases:
        assert list(unified_diff(a, b, "a", "b")) == list(difflib.unified_diff(a, b, "a", "b")), (a, b)
