"""Unified diffs of large documents in near-linear time.

:func:`difflib.unified_diff` compares lines with :class:`difflib.SequenceMatcher`, whose
longest-match search is quadratic where the same lines recur: the indented ``.zmetadata`` of a
10,000-array group (90,000 lines, the same ``"zarr_format": 2`` and ``"lat",`` lines thousands of
times) took 6 minutes to diff after a dimension rename, on the window's GUI thread (audit K).

Here the lines are first matched as *patience diff* does (Bram Cohen's algorithm, as in git
and Bazaar): lines that occur exactly once on each side anchor the match, in the longest
increasing run of such pairs, and the stretches between anchors are matched in turn.  A stretch
without anchors is compared by :class:`~difflib.SequenceMatcher` when it is small and is
otherwise a plain replacement.  Metadata documents are full of unique lines (member names,
paths), so the stretches are short.  The output has the format of :func:`difflib.unified_diff`.
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterator, Sequence

__all__ = ["unified_diff"]

SMALL = 400
"""Stretches without anchors up to this many lines a side are compared by SequenceMatcher."""


def _matching_blocks(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int]]:
    """Matching blocks ``(i, j, n)`` of *a* and *b*, ascending, ending with ``(len(a), len(b), 0)``."""
    blocks: list[tuple[int, int, int]] = []
    stack = [(0, len(a), 0, len(b))]
    while stack:  # (an explicit stack: a document may be deeper than the recursion limit)
        alo, ahi, blo, bhi = stack.pop()
        # equal heads and tails match at once
        while alo < ahi and blo < bhi and a[alo] == b[blo]:
            blocks.append((alo, blo, 1))
            alo, blo = alo + 1, blo + 1
        while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
            ahi, bhi = ahi - 1, bhi - 1
            blocks.append((ahi, bhi, 1))
        if alo == ahi or blo == bhi:
            continue
        anchors = _anchors(a, alo, ahi, b, blo, bhi)
        if anchors:
            gaps = []
            i, j = alo, blo
            for ai, bj in anchors:
                gaps.append((i, ai, j, bj))
                blocks.append((ai, bj, 1))
                i, j = ai + 1, bj + 1
            gaps.append((i, ahi, j, bhi))
            stack.extend(gap for gap in gaps if gap[0] < gap[1] and gap[2] < gap[3])
        elif ahi - alo <= SMALL and bhi - blo <= SMALL:
            matcher = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False)
            blocks.extend((alo + i, blo + j, n) for i, j, n in matcher.get_matching_blocks() if n)
        # else: no line of the stretch is matched (it is replaced as a whole)
    blocks.sort()
    merged: list[tuple[int, int, int]] = []
    for i, j, n in blocks:
        if merged and merged[-1][0] + merged[-1][2] == i and merged[-1][1] + merged[-1][2] == j:
            pi, pj, pn = merged[-1]
            merged[-1] = (pi, pj, pn + n)
        else:
            merged.append((i, j, n))
    merged.append((len(a), len(b), 0))
    return merged


def _anchors(a: Sequence[str], alo: int, ahi: int, b: Sequence[str], blo: int, bhi: int) -> list[tuple[int, int]]:
    """Pairs of lines unique on both sides, in the longest run increasing on both sides."""
    count_a: dict[str, int] = {}
    where_a: dict[str, int] = {}
    for i in range(alo, ahi):
        line = a[i]
        count_a[line] = count_a.get(line, 0) + 1
        where_a[line] = i
    count_b: dict[str, int] = {}
    where_b: dict[str, int] = {}
    for j in range(blo, bhi):
        line = b[j]
        if count_a.get(line) == 1:
            count_b[line] = count_b.get(line, 0) + 1
            where_b[line] = j
    pairs = sorted((where_a[line], j) for line, j in where_b.items() if count_b[line] == 1)
    if not pairs:
        return []
    # longest increasing subsequence of the b indices (patience sorting, n log n)
    tops: list[int] = []  # b index on top of each pile
    top_at: list[int] = []  # the pair index on top of each pile
    back: list[int] = [-1] * len(pairs)
    for k, (_i, j) in enumerate(pairs):
        pile = bisect.bisect_left(tops, j)
        if pile == len(tops):
            tops.append(j)
            top_at.append(k)
        else:
            tops[pile] = j
            top_at[pile] = k
        back[k] = top_at[pile - 1] if pile else -1
    run: list[tuple[int, int]] = []
    k = top_at[-1]
    while k >= 0:
        run.append(pairs[k])
        k = back[k]
    run.reverse()
    return run


def _opcodes(blocks: Sequence[tuple[int, int, int]]) -> list[tuple[str, int, int, int, int]]:
    codes: list[tuple[str, int, int, int, int]] = []
    i = j = 0
    for ai, bj, n in blocks:
        tag = "replace" if i < ai and j < bj else "delete" if i < ai else "insert" if j < bj else ""
        if tag:
            codes.append((tag, i, ai, j, bj))
        i, j = ai + n, bj + n
        if n:
            codes.append(("equal", ai, i, bj, j))
    return codes


def _groups(codes: list[tuple[str, int, int, int, int]], context: int) -> Iterator[list[tuple[str, int, int, int, int]]]:
    """Hunks: the changes with up to *context* equal lines around them (as difflib groups them)."""
    if not codes:
        codes = [("equal", 0, 1, 0, 1)]
    if codes[0][0] == "equal":
        _tag, i1, i2, j1, j2 = codes[0]
        codes[0] = ("equal", max(i1, i2 - context), i2, max(j1, j2 - context), j2)
    if codes[-1][0] == "equal":
        _tag, i1, i2, j1, j2 = codes[-1]
        codes[-1] = ("equal", i1, min(i2, i1 + context), j1, min(j2, j1 + context))
    group: list[tuple[str, int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in codes:
        if tag == "equal" and i2 - i1 > 2 * context:
            group.append((tag, i1, min(i2, i1 + context), j1, min(j2, j1 + context)))
            yield group
            group = []
            i1, j1 = max(i1, i2 - context), max(j1, j2 - context)
        group.append((tag, i1, i2, j1, j2))
    if group and not (len(group) == 1 and group[0][0] == "equal"):
        yield group


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def unified_diff(a: Sequence[str], b: Sequence[str], fromfile: str = "", tofile: str = "",
                 context: int = 3) -> Iterator[str]:
    """The lines of a unified diff of *a* and *b* (lines with their ends), as
    :func:`difflib.unified_diff` writes them; nothing when they are equal."""
    started = False
    for group in _groups(_opcodes(_matching_blocks(a, b)), context):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for line in a[i1:i2]:
                    yield " " + line
                continue
            if tag in ("replace", "delete"):
                for line in a[i1:i2]:
                    yield "-" + line
            if tag in ("replace", "insert"):
                for line in b[j1:j2]:
                    yield "+" + line
