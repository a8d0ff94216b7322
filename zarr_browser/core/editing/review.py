"""What a save writes, summarised: the documents grouped by the change they get.

A dimension renamed across a group of 10,000 arrays changes 10,000 documents the same way; a
save dialog listing them one diff at a time says nothing of that (audit K, 6).  :func:`build_review`
compares each document's value as read with the value a save writes, member by member (JSON
pointers, not text lines: a change is then named by the member it is in), and groups the
documents whose changes are the same once the node is taken out of them:

* a member changed, added or removed is named by its path in the document (a ``zarr.json``'s
  ``attributes`` are named without it, as the attributes of a ``.zattrs`` are);
* an item of a list changed in place (the list keeps its length) is named by the list alone,
  not its index: ``"lon" → "longitude" in _ARRAY_DIMENSIONS`` is one change whether ``lon`` is
  the 2nd dimension of an array or the 3rd;
* values are compared as :func:`~zarr_browser.core.editing.commands.same` does (``1`` is not
  ``1.0`` nor ``true``).

Consolidated copies (``.zmetadata``, a group's ``zarr.json`` holding ``consolidated_metadata``)
are each a group of their own, described by the entries they update.  Everything here is plain
data made in a worker; nothing imports Qt.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zarr_browser.core.editing.commands import ABSENT, compared_text
from zarr_browser.core.jsonio import JSON

__all__ = ["ChangeGroup", "Review", "build_review", "json_changes"]

MAX_DESCRIBED = 4
"""Changes of a group named in its description (the rest are counted)."""

VALUE_CHARS = 40
"""A value in a description is cut to this many characters."""

#: where a consolidated copy keeps its entries, by the name of its document
_ENTRIES = {".zmetadata": ("metadata",), "zarr.json": ("consolidated_metadata", "metadata")}

Path = tuple[str | int, ...]
Change = tuple[Path, JSON, JSON, bool]
"""``(path, old, new, in_list)``: *in_list*: an item of a list of unchanged length (the path is the list's)."""


def _same(a: JSON, b: JSON) -> bool:
    if a is b:
        return True
    if a is ABSENT or b is ABSENT:
        return False
    if type(a) is not type(b):
        return False
    if isinstance(a, dict | list):
        return a == b and compared_text(a) == compared_text(b)  # (== alone: 1 == 1.0 == True)
    return a == b or (a != a and b != b)  # (NaN is NaN here, as same() has it)


def json_changes(old: JSON, new: JSON, path: Path = ()) -> list[Change]:
    """The members that differ between *old* and *new* (ABSENT: no document), in document order."""
    out: list[Change] = []
    stack: list[tuple[Path, JSON, JSON]] = [(path, old, new)]
    while stack:  # (explicit: documents may nest deeper than the recursion limit)
        where, a, b = stack.pop()
        if _same(a, b):
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            nested: list[tuple[Path, JSON, JSON]] = []
            for key, value in a.items():
                nested.append(((*where, key), value, b.get(key, ABSENT)))
            nested.extend(((*where, key), ABSENT, value) for key, value in b.items() if key not in a)
            stack.extend(reversed(nested))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            nested = []
            for index, (x, y) in enumerate(zip(a, b, strict=True)):
                if isinstance(x, dict | list) or isinstance(y, dict | list):
                    nested.append(((*where, index), x, y))
                elif not _same(x, y):
                    out.append((where, x, y, True))
            stack.extend(reversed(nested))
        else:
            out.append((where, a, b, False))
    return out


def _named(path: Path) -> str:
    """``("attributes", "axes", 0, "name")`` of a zarr.json → ``axes[0].name``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the document"


def _value(value: JSON) -> str:
    text = compared_text(value)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def describe(change: Change) -> str:
    """One change in words: ``units: "m" → "km"``, ``"lon" → "longitude" in dimension_names``."""
    path, old, new, in_list = change
    where = _named(path)
    if in_list:
        return f"{_value(old)} → {_value(new)} in {where}"
    if old is ABSENT:
        return f"{where} added: {_value(new)}"
    if new is ABSENT:
        return f"{where} removed (was {_value(old)})"
    return f"{where}: {_value(old)} → {_value(new)}"


@dataclass
class ChangeGroup:
    """Documents that get the same change (or one consolidated copy)."""

    kind: str
    """What the documents are: ``.zattrs``, ``zarr.json``, ``consolidated copy (.zmetadata)``..."""
    changes: list[str]
    """The changes in words, at most :data:`MAX_DESCRIBED`."""
    more: int = 0
    """Changes not named in :attr:`changes`."""
    keys: list[str] = field(default_factory=list)
    consolidated: bool = False

    @property
    def text(self) -> str:
        """The changes on one line: ``"lon" → "longitude" in dimension_names; … and 3 more``."""
        text = "; ".join(self.changes) or "rewritten (same values)"
        return text + (f"; and {self.more} more change{'s' if self.more != 1 else ''}" if self.more else "")


@dataclass
class Review:
    """The documents a save writes (their unified diffs, in the order they are written), grouped."""

    diffs: dict[str, str]
    groups: list[ChangeGroup] = field(default_factory=list)
    """Biggest first; consolidated copies last."""
    group_of: dict[str, int] = field(default_factory=dict)
    """The index in :attr:`groups` of each document."""

    def kinds(self) -> dict[str, int]:
        """How many documents of each kind (``{".zattrs": 10000, "consolidated copy (.zmetadata)": 1}``)."""
        out: dict[str, int] = {}
        for group in self.groups:
            out[group.kind] = out.get(group.kind, 0) + len(group.keys)
        return out

    @classmethod
    def of_diffs(cls, diffs: Mapping[str, str]) -> Review:
        """A review of *diffs* alone: each document a group of its own, its change unnamed."""
        groups = [ChangeGroup(key.rpartition("/")[2], [], 0, [key]) for key in diffs]
        return cls(dict(diffs), groups, {key: i for i, key in enumerate(diffs)})


def _entries_of(key: str, value: JSON) -> tuple[str, ...] | None:
    """Where the consolidated copy *key* keeps its entries (None: it holds none)."""
    where = _ENTRIES.get(key.rpartition("/")[2])
    block = value
    for part in where or ():
        block = block.get(part) if isinstance(block, dict) else None
    return where if isinstance(block, dict) else None


def build_review(diffs: Mapping[str, str], before: Mapping[str, JSON], after: Mapping[str, JSON],
                 copies: Iterable[str] = ()) -> Review:
    """Group the documents of *diffs* by their change from *before* to *after* (values by key;
    ABSENT: no document); *copies* are the keys of consolidated copies."""
    copies = set(copies)
    by_signature: dict[tuple[object, ...], ChangeGroup] = {}
    consolidated: list[ChangeGroup] = []
    group_for: dict[str, ChangeGroup] = {}
    for key in diffs:
        old, new = before.get(key, ABSENT), after.get(key, ABSENT)
        name = key.rpartition("/")[2]
        changes = json_changes(old, new)
        entries = _entries_of(key, new) if key in copies else None
        if entries is not None:
            depth = len(entries)
            inside = [c for c in changes if c[0][:depth] == entries and len(c[0]) > depth]
            own = [c for c in changes if not (c[0][:depth] == entries and len(c[0]) > depth)]
            described = [_attributes_named(name, c) for c in own]
            nodes = {c[0][depth] for c in inside}
            words = [describe(c) for c in described[:MAX_DESCRIBED]]
            if nodes:
                words.append(f"follows the changes of {len(nodes):,} entr{'ies' if len(nodes) != 1 else 'y'}")
            group = ChangeGroup(f"consolidated copy ({name})", words, max(0, len(described) - MAX_DESCRIBED),
                                [key], consolidated=True)
            consolidated.append(group)
            group_for[key] = group
            continue
        described = [_attributes_named(name, c) for c in changes]
        signature = (name, *((c[0], compared_text(c[1]) if c[1] is not ABSENT else None,
                              compared_text(c[2]) if c[2] is not ABSENT else None, c[3]) for c in described))
        found = by_signature.get(signature)
        if found is None:
            kind = name if old is not ABSENT else f"{name} (new)"
            found = ChangeGroup(kind, [describe(c) for c in described[:MAX_DESCRIBED]],
                                max(0, len(described) - MAX_DESCRIBED))
            by_signature[signature] = found
        found.keys.append(key)
        group_for[key] = found
    groups = sorted(by_signature.values(), key=lambda g: -len(g.keys)) + consolidated  # (sorted is stable)
    index = {id(group): i for i, group in enumerate(groups)}
    return Review(dict(diffs), groups, {key: index[id(group_for[key])] for key in diffs})


def _attributes_named(name: str, change: Change) -> Change:
    """A zarr.json's attributes are named as a .zattrs names them: ``units``, not ``attributes.units``."""
    path = change[0]
    if name == "zarr.json" and path[:1] == ("attributes",) and len(path) > 1:
        return (path[1:], *change[1:])
    return change
