"""Plain-Python edit commands on JSON documents, RFC 6901 pointers and RFC 6902 patches.

A command changes one JSON document: :class:`SetValue`, :class:`Insert`, :class:`Delete`,
:class:`Rename`, :class:`Test`, or a :class:`Batch` of them.  ``apply(doc)`` returns a new
document (the input is never mutated); ``inverse(doc)`` returns the command that undoes
applying this one to *doc*, so that ``inverse(doc).apply(apply(doc))`` serialises to the same
bytes as *doc* (key order included).

Commands may carry a document ``key`` (the store key, ``"a/b/zarr.json"``); a batch of keyed
commands edits several documents at once (:meth:`Command.apply_many`).  The mapping from a
node's *attributes* to its documents, and what is editable at all, lives in
:func:`attributes_location`, :func:`document_location` and :func:`check_protected`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zarr_browser.core.jsonio import JSON
from zarr_browser.core.model import key_prefix
from zarr_browser.errors import ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.core.model import Node

__all__ = [
    "ABSENT",
    "Batch",
    "Command",
    "Delete",
    "EditError",
    "Insert",
    "PointerError",
    "ReadOnlyFieldError",
    "Rename",
    "SetValue",
    "Test",
    "attributes_location",
    "check_protected",
    "document_location",
    "format_pointer",
    "is_protected_attribute",
    "parse_pointer",
    "patch_to_commands",
    "resolve",
]


class EditError(ZarrBrowserError, ValueError):
    """An edit cannot be applied (bad pointer, wrong type, refused field...)."""


class PointerError(EditError):
    """A JSON pointer is malformed or does not resolve in the document."""


class ReadOnlyFieldError(EditError):
    """The edit touches metadata that is read-only (array storage, NCZarr internals...)."""


class _Absent:
    """Marker for a document that does not exist (a v2 node without ``.zattrs``)."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Absent:
        return self


ABSENT: Any = _Absent()
"""The value of a document that does not exist in the store."""


# -- pointers ---------------------------------------------------------------------------------


def parse_pointer(pointer: str) -> list[str]:
    """Split an RFC 6901 pointer into unescaped tokens (``""`` is the whole document)."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PointerError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    tokens = pointer[1:].split("/")
    out = []
    for token in tokens:
        if "~" in token.replace("~0", "").replace("~1", ""):
            raise PointerError(f"JSON pointer {pointer!r} has a bad '~' escape")
        out.append(token.replace("~1", "/").replace("~0", "~"))
    return out


def format_pointer(tokens: Iterable[str | int]) -> str:
    """Join tokens into an RFC 6901 pointer (escaping ``~`` and ``/``)."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def _index(container: list[JSON], token: str, pointer: str, *, allow_end: bool = False) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PointerError(f"{pointer!r}: {token!r} is not an array index")
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise PointerError(f"{pointer!r}: index {index} is out of range (length {len(container)})")
    return index


def _walk(doc: JSON, tokens: Sequence[str], pointer: str) -> JSON:
    node = doc
    for token in tokens:
        if isinstance(node, dict):
            if token not in node:
                raise PointerError(f"{pointer!r}: no member {token!r}")
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, pointer)]
        else:
            raise PointerError(f"{pointer!r}: cannot step into a {type(node).__name__} with {token!r}")
    return node


def resolve(doc: JSON, pointer: str) -> JSON:
    """The value at *pointer* in *doc*; raises PointerError when it is not there."""
    return _walk(doc, parse_pointer(pointer), pointer)


def _exists(doc: JSON, pointer: str) -> bool:
    try:
        resolve(doc, pointer)
    except PointerError:
        return False
    return True


def _split(pointer: str) -> tuple[list[str], str]:
    tokens = parse_pointer(pointer)
    if not tokens:
        raise PointerError("this edit needs a pointer below the document root")
    return tokens[:-1], tokens[-1]


def _start(doc: JSON) -> JSON:
    """A private deep copy to edit (an absent v2 ``.zattrs`` starts as ``{}``)."""
    return {} if doc is ABSENT else copy.deepcopy(doc)


def compared_text(value: JSON) -> str:
    """The serialisation :func:`same` compares (key order, int vs float kept, NaN as NaN)."""
    return json.dumps(value, allow_nan=True, ensure_ascii=False)


def same(a: JSON, b: JSON) -> bool:
    """Whether two values serialise identically (key order, int vs float, NaN == NaN)."""
    if a is ABSENT or b is ABSENT:
        return a is b
    return compared_text(a) == compared_text(b)


# -- commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """Base class of edit commands.  ``key`` names the document (``""``: whichever it is given)."""

    key: str = field(default="", kw_only=True)

    def apply(self, doc: JSON) -> JSON:
        """Return a new document with this edit applied; raises EditError when it cannot be."""
        raise NotImplementedError

    def inverse(self, doc: JSON) -> Command:
        """The command that undoes applying this one to *doc*."""
        raise NotImplementedError

    def document_keys(self) -> list[str]:
        """The document keys this command edits."""
        return [self.key]

    def leaves(self) -> list[Command]:
        """The leaf commands, in order."""
        return [self]

    def apply_many(self, docs: Mapping[str, JSON]) -> dict[str, JSON]:
        """Apply to several documents by key; returns only the documents this command changes."""
        out: dict[str, JSON] = {}
        leaves = self.leaves()
        several = len({leaf.key for leaf in leaves}) > 1
        for leaf in leaves:
            if leaf.key not in docs and leaf.key not in out:
                raise EditError(f"document {leaf.key!r} is not loaded")
            current = out[leaf.key] if leaf.key in out else docs[leaf.key]
            try:
                out[leaf.key] = leaf.apply(current)
            except PointerError as err:
                if several:  # an edit of several nodes (an image and its labels): say which document
                    raise PointerError(f"{leaf.key}: {err}") from err
                raise
        return out

    def inverse_many(self, docs: Mapping[str, JSON]) -> Command:
        """The batch that undoes :meth:`apply_many` on *docs*."""
        state = dict(docs)
        inverses: list[Command] = []
        for leaf in self.leaves():
            inverses.append(leaf.inverse(state[leaf.key]))
            state[leaf.key] = leaf.apply(state[leaf.key])
        return Batch(list(reversed(inverses)))

    def describe(self) -> str:
        """A one-line description for undo menus and logs."""
        return type(self).__name__


@dataclass(frozen=True)
class SetValue(Command):
    """Set the value at *pointer*: add or replace an object member, replace an array item.

    ``-`` (or the array length) as the last token appends.  *position* places a new object
    member at that index in key order (used by :class:`Delete`'s inverse so undo keeps the
    original order).  The empty pointer replaces the whole document.
    """

    pointer: str = ""
    value: JSON = None
    position: int | None = None

    def apply(self, doc: JSON) -> JSON:
        new_value = copy.deepcopy(self.value)
        if self.pointer == "":
            return new_value
        parents, last = _split(self.pointer)
        out = _start(doc)
        parent = _walk(out, parents, self.pointer)
        if isinstance(parent, dict):
            if last in parent or self.position is None or self.position >= len(parent):
                parent[last] = new_value
            else:
                items = list(parent.items())
                items.insert(max(0, self.position), (last, new_value))
                parent.clear()
                parent.update(items)
        elif isinstance(parent, list):
            index = _index(parent, last, self.pointer, allow_end=True)
            if index == len(parent):
                parent.append(new_value)
            else:
                parent[index] = new_value
        else:
            raise PointerError(f"{self.pointer!r}: the parent is a {type(parent).__name__}, not an object or array")
        return out

    def inverse(self, doc: JSON) -> Command:
        if self.pointer == "":
            return SetValue("", copy.deepcopy(doc), key=self.key)
        parents, last = _split(self.pointer)
        base = {} if doc is ABSENT else doc
        parent = _walk(base, parents, self.pointer)
        if isinstance(parent, dict):
            if last in parent:
                return SetValue(self.pointer, copy.deepcopy(parent[last]), key=self.key)
            return Delete(self.pointer, key=self.key)
        if isinstance(parent, list):
            index = _index(parent, last, self.pointer, allow_end=True)
            where = format_pointer([*parents, str(index)])
            if index == len(parent):
                return Delete(where, key=self.key)
            return SetValue(where, copy.deepcopy(parent[index]), key=self.key)
        raise PointerError(f"{self.pointer!r}: the parent is a {type(parent).__name__}")

    def describe(self) -> str:
        return f"set {self.pointer or '(document)'} = {_short(self.value)}"


@dataclass(frozen=True)
class Insert(Command):
    """Insert *value* into an array before index *pointer* (``-`` appends); RFC 6902 ``add``."""

    pointer: str = ""
    value: JSON = None

    def apply(self, doc: JSON) -> JSON:
        parents, last = _split(self.pointer)
        out = _start(doc)
        parent = _walk(out, parents, self.pointer)
        if not isinstance(parent, list):
            raise PointerError(f"{self.pointer!r}: insert needs an array, found {type(parent).__name__}")
        parent.insert(_index(parent, last, self.pointer, allow_end=True), copy.deepcopy(self.value))
        return out

    def inverse(self, doc: JSON) -> Command:
        parents, last = _split(self.pointer)
        parent = _walk(doc, parents, self.pointer)
        if not isinstance(parent, list):
            raise PointerError(f"{self.pointer!r}: insert needs an array")
        index = _index(parent, last, self.pointer, allow_end=True)
        return Delete(format_pointer([*parents, str(index)]), key=self.key)

    def describe(self) -> str:
        return f"insert {self.pointer} = {_short(self.value)}"


@dataclass(frozen=True)
class Delete(Command):
    """Remove the object member or array item at *pointer*."""

    pointer: str = ""

    def apply(self, doc: JSON) -> JSON:
        parents, last = _split(self.pointer)
        out = _start(doc)
        parent = _walk(out, parents, self.pointer)
        if isinstance(parent, dict):
            if last not in parent:
                raise PointerError(f"{self.pointer!r}: no member {last!r} to delete")
            del parent[last]
        elif isinstance(parent, list):
            del parent[_index(parent, last, self.pointer)]
        else:
            raise PointerError(f"{self.pointer!r}: cannot delete inside a {type(parent).__name__}")
        return out

    def inverse(self, doc: JSON) -> Command:
        parents, last = _split(self.pointer)
        parent = _walk(doc, parents, self.pointer)
        if isinstance(parent, dict):
            if last not in parent:
                raise PointerError(f"{self.pointer!r}: no member {last!r} to delete")
            position = list(parent).index(last)
            return SetValue(self.pointer, copy.deepcopy(parent[last]), position=position, key=self.key)
        if isinstance(parent, list):
            index = _index(parent, last, self.pointer)
            return Insert(self.pointer, copy.deepcopy(parent[index]), key=self.key)
        raise PointerError(f"{self.pointer!r}: cannot delete inside a {type(parent).__name__}")

    def describe(self) -> str:
        return f"delete {self.pointer}"


@dataclass(frozen=True)
class Rename(Command):
    """Rename the object member at *pointer* to *new_key*, keeping its place in key order."""

    pointer: str = ""
    new_key: str = ""

    def apply(self, doc: JSON) -> JSON:
        parents, last = _split(self.pointer)
        out = _start(doc)
        parent = _walk(out, parents, self.pointer)
        if not isinstance(parent, dict):
            raise PointerError(f"{self.pointer!r}: only object members can be renamed")
        if last not in parent:
            raise PointerError(f"{self.pointer!r}: no member {last!r} to rename")
        if self.new_key == last:
            return out
        if self.new_key in parent:
            raise EditError(f"cannot rename {last!r} to {self.new_key!r}: that key already exists")
        items = [(self.new_key if k == last else k, v) for k, v in parent.items()]
        parent.clear()
        parent.update(items)
        return out

    def inverse(self, doc: JSON) -> Command:
        parents, last = _split(self.pointer)
        return Rename(format_pointer([*parents, self.new_key]), last, key=self.key)

    def describe(self) -> str:
        return f"rename {self.pointer} → {self.new_key}"


@dataclass(frozen=True)
class Test(Command):
    """RFC 6902 ``test``: refuse the whole edit unless *pointer* holds *value*."""

    pointer: str = ""
    value: JSON = None

    def apply(self, doc: JSON) -> JSON:
        actual = resolve({} if doc is ABSENT else doc, self.pointer)
        if not _equal(actual, self.value):
            where = f"{self.key}#{self.pointer}" if self.key else (self.pointer or "(document)")
            raise EditError(f"test failed: {where} is {_short(actual)}, not {_short(self.value)}")
        return doc

    def inverse(self, doc: JSON) -> Command:
        return Batch([], key=self.key)

    def describe(self) -> str:
        return f"test {self.pointer}"


@dataclass(frozen=True)
class Batch(Command):
    """Several commands applied in order as one edit (one undo step)."""

    commands: Sequence[Command] = ()
    label: str = ""
    allow_protected: bool = False
    """Set by convention edits that keep NCZarr's own attributes consistent."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "commands", tuple(self.commands))

    def leaves(self) -> list[Command]:
        out: list[Command] = []
        for command in self.commands:
            if isinstance(command, Batch):
                out.extend(command.leaves())
            elif self.key and not command.key:
                out.append(_with_key(command, self.key))
            else:
                out.append(command)
        return out

    def document_keys(self) -> list[str]:
        return list(dict.fromkeys(leaf.key for leaf in self.leaves()))

    def apply(self, doc: JSON) -> JSON:
        for leaf in self.leaves():
            doc = leaf.apply(doc)
        return doc

    def inverse(self, doc: JSON) -> Command:
        inverses: list[Command] = []
        for leaf in self.leaves():
            inverses.append(leaf.inverse(doc))
            doc = leaf.apply(doc)
        return Batch(list(reversed(inverses)), label=f"undo {self.label}".strip(), key=self.key)

    def describe(self) -> str:
        return self.label or "; ".join(c.describe() for c in self.commands) or "no change"


def _with_key(command: Command, key: str) -> Command:
    from dataclasses import replace

    return replace(command, key=key)


def _equal(a: JSON, b: JSON) -> bool:
    """RFC 6902 equality: objects unordered, numbers by value."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b or (a != a and b != b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _short(value: JSON, limit: int = 60) -> str:
    text = compared_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- RFC 6902 JSON Patch ----------------------------------------------------------------------


def patch_to_commands(patch: JSON, doc: JSON, *, key: str = "", base: str = "") -> Batch:
    """Turn an RFC 6902 JSON Patch into a batch of commands for *doc*.

    *base* is prefixed to every path (``"/attributes"`` when the patch addresses a v3 node's
    attributes).  ``move`` and ``copy`` read their source from the state reached so far, so
    the batch is equivalent to applying the patch operation by operation.  Raises EditError
    for a malformed patch or an operation that does not apply.
    """
    if not isinstance(patch, list):
        raise EditError("a JSON Patch must be an array of operations")
    commands: list[Command] = []
    state = doc
    for number, op in enumerate(patch):
        where = f"operation {number}"
        if not isinstance(op, dict) or not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise EditError(f"{where}: each operation needs string 'op' and 'path'")
        name, path = op["op"], base + op["path"]
        parse_pointer(op["path"])
        made: list[Command]
        if name in ("add", "replace", "test") and "value" not in op:
            raise EditError(f"{where}: {name!r} needs a 'value'")
        if name == "add":
            made = [_add(state, path, op["value"])]
        elif name == "replace":
            if not _exists(state, path):
                raise EditError(f"{where}: replace target {op['path']!r} does not exist")
            made = [SetValue(path, op["value"])]
        elif name == "remove":
            made = [Delete(path)]
        elif name == "test":
            made = [Test(path, op["value"])]
        elif name in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise EditError(f"{where}: {name!r} needs a string 'from'")
            source = base + source
            if name == "move" and (path + "/").startswith(source + "/") and path != source:
                raise EditError(f"{where}: cannot move {source!r} into itself")
            try:
                value = resolve({} if state is ABSENT else state, source)
            except PointerError as err:
                raise EditError(f"{where}: {err}") from err
            if name == "move" and path == source:
                made = []
            elif name == "move":
                made = [Delete(source), _add(Delete(source).apply(state), path, value)]
            else:
                made = [_add(state, path, value)]
        else:
            raise EditError(f"{where}: unknown op {name!r}")
        for command in made:
            command = _with_key(command, key) if key else command
            try:
                state = command.apply(state)
            except EditError as err:
                raise EditError(f"{where} ({name} {op['path']}): {err}") from err
            commands.append(command)
    return Batch(commands, label="JSON Patch", key=key)


def _add(state: JSON, path: str, value: JSON) -> Command:
    """RFC 6902 ``add``: insert into arrays, set object members."""
    if path == "":
        return SetValue("", value)
    parents, _last = _split(path)
    parent = _walk({} if state is ABSENT else state, parents, path)
    if isinstance(parent, list):
        return Insert(path, value)
    return SetValue(path, value)


# -- where attributes live, and what is editable ----------------------------------------------

PROTECTED_PREFIXES = ("_nczarr_", "_NCZARR_")
PROTECTED_NAMES = frozenset({"_NCProperties"})
V3_EDITABLE = frozenset({"attributes", "dimension_names"})
NCZARR_METADATA_KEYS = frozenset({"_NCZARR_GROUP", "_nczarr_group", "_NCZARR_ARRAY", "_nczarr_array"})
"""NCZarr's keys in ``.zgroup``/``.zarray`` (generations a and b) a convention edit may change."""


def is_protected_attribute(name: str) -> bool:
    """NCZarr's own attributes (``_nczarr_*``, ``_NCProperties``): read-only for users."""
    return name in PROTECTED_NAMES or name.startswith(PROTECTED_PREFIXES)


def attributes_location(node: Node, pointer: str) -> tuple[str, str]:
    """``(store key, document pointer)`` of *pointer* into *node*'s attributes.

    v2: the pointer into ``.zattrs`` (created if absent); v3: ``/attributes`` + pointer in
    ``zarr.json``.  Raises ReadOnlyFieldError for nodes whose attributes cannot be edited.
    """
    parse_pointer(pointer)
    prefix = key_prefix(node.path)
    if node.kind == "error":
        raise ReadOnlyFieldError(f"{node.path}: the node's metadata could not be read ({node.error}); fix it by hand")
    if node.zarr_format == 3:
        return prefix + "zarr.json", "/attributes" + pointer
    if node.zarr_format == 2:
        return prefix + ".zattrs", pointer
    raise ReadOnlyFieldError(f"{node.path} is an implicit group without metadata: it has no attributes to edit")


def document_location(node: Node, spec: str) -> tuple[str, str]:
    """``(store key, pointer)`` for ``DOCUMENT#POINTER`` (``zarr.json#/dimension_names``) or an
    attributes pointer (``/long_name``)."""
    if "#" not in spec:
        return attributes_location(node, spec)
    name, _, pointer = spec.partition("#")
    parse_pointer(pointer)
    if name not in ("zarr.json", ".zattrs", ".zarray", ".zgroup"):
        raise EditError(f"unknown document {name!r}: expected zarr.json, .zattrs, .zarray or .zgroup")
    if name == ".zattrs" and node.zarr_format == 2:
        return key_prefix(node.path) + name, pointer
    if name == "zarr.json" and node.zarr_format == 3:
        tokens = parse_pointer(pointer)
        if tokens and tokens[0] in V3_EDITABLE:
            if tokens[0] == "dimension_names" and not node.is_array:
                raise ReadOnlyFieldError(f"{node.path}: dimension_names only exists on arrays")
            return key_prefix(node.path) + name, pointer
    raise ReadOnlyFieldError(
        f"{node.path}: {name}#{pointer} is read-only: only attributes (and v3 dimension_names) can be edited; "
        "changing shape, data type, chunks, codecs or fill value would reinterpret the stored chunks"
    )


def check_protected(key: str, before: JSON, after: JSON, *, allow_nczarr: bool = False) -> None:
    """Refuse a change to *key* that touches read-only metadata.

    Allowed: v2 ``.zattrs`` (an object), v3 ``zarr.json`` ``attributes`` (an object) and
    ``dimension_names`` (arrays only); every other key of every document must stay as it was.
    NCZarr's ``_nczarr_*`` / ``_NCProperties`` attributes are refused too unless
    *allow_nczarr* (the convention edits that keep them consistent), which may also change
    the NCZarr group and array keys of ``.zgroup`` / ``.zarray`` (a dimension rename).
    """
    name = key.rsplit("/", 1)[-1]
    if name == ".zattrs":
        if not isinstance(after, dict):
            raise EditError(f"{key}: attributes must be a JSON object, got {type(after).__name__}")
        before_attrs = before if isinstance(before, dict) else {}
        _check_attrs(key, before_attrs, after, allow_nczarr)
        return
    if name == "zarr.json":
        if not isinstance(before, dict) or not isinstance(after, dict):
            raise ReadOnlyFieldError(f"{key}: the document must stay a JSON object")
        for field_name in set(before) | set(after):
            if field_name in V3_EDITABLE:
                continue
            if not same(before.get(field_name, ABSENT), after.get(field_name, ABSENT)):
                raise ReadOnlyFieldError(
                    f"{key}: {field_name!r} is read-only (only attributes and dimension_names can be edited)"
                )
        attrs = after.get("attributes", {})
        if not isinstance(attrs, dict):
            raise EditError(f"{key}: attributes must be a JSON object, got {type(attrs).__name__}")
        before_value = before.get("attributes")
        before_attrs = before_value if isinstance(before_value, dict) else {}
        _check_attrs(key, before_attrs, attrs, allow_nczarr)
        if not same(before.get("dimension_names", ABSENT), after.get("dimension_names", ABSENT)):
            if before.get("node_type") != "array":
                raise ReadOnlyFieldError(f"{key}: dimension_names only exists on arrays")
            names = after.get("dimension_names", ABSENT)
            if names is not ABSENT and not (
                isinstance(names, list) and all(n is None or isinstance(n, str) for n in names)
            ):
                raise EditError(f"{key}: dimension_names must be a list of strings or nulls")
        return
    if allow_nczarr and name in (".zgroup", ".zarray") and isinstance(before, dict) and isinstance(after, dict):
        # NCZarr generations a/b keep their group and array metadata here: a dimension rename
        # changes those keys, and nothing else of the document
        for field_name in set(before) | set(after):
            if field_name not in NCZARR_METADATA_KEYS and not same(before.get(field_name, ABSENT),
                                                                   after.get(field_name, ABSENT)):
                raise ReadOnlyFieldError(f"{key}: {field_name!r} is read-only: only attributes can be edited")
        return
    if not same(before, after):
        raise ReadOnlyFieldError(f"{key} is read-only: only attributes can be edited")


def _ome_versions(attrs: Mapping[str, JSON]) -> dict[tuple[str | int, ...], JSON]:
    """The OME-NGFF version strings of a node's attributes by location (``ome.version`` in 0.5;
    ``multiscales[i].version``, ``plate``/``well``/``image-label.version`` before)."""
    out: dict[tuple[str | int, ...], JSON] = {}
    ome = attrs.get("ome")
    if isinstance(ome, dict) and "version" in ome:
        out[("ome", "version")] = ome["version"]
    multiscales = attrs.get("multiscales")
    if isinstance(multiscales, list):
        for i, ms in enumerate(multiscales):
            if isinstance(ms, dict) and "version" in ms:
                out[("multiscales", i, "version")] = ms["version"]
    for block in ("plate", "well", "image-label"):
        value = attrs.get(block)
        if isinstance(value, dict) and "version" in value:
            out[(block, "version")] = value["version"]
    return out


def _container(attrs: Mapping[str, JSON], where: tuple[str | int, ...]) -> JSON:
    value: JSON = dict(attrs)
    for part in where[:-1]:
        if isinstance(value, dict) and isinstance(part, str):
            value = value.get(part)
        elif isinstance(value, list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return None
    return value


def _check_versions(key: str, before: Mapping[str, JSON], after: Mapping[str, JSON]) -> None:
    """Refuse changing or dropping an OME-NGFF version string of a block that stays: converting
    between versions is a data migration (v2 → v3 arrays, new layouts), not an attribute edit.
    Adding a missing version, or removing a whole block, is allowed."""
    now = _ome_versions(after)
    for where, value in _ome_versions(before).items():
        if not isinstance(value, str) or not isinstance(_container(after, where), dict):
            continue
        if now.get(where, ABSENT) != value:
            shown = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in where).replace(".[", "[")
            raise ReadOnlyFieldError(f"{key}: the OME-NGFF version {shown} ({value!r}) is read-only: converting "
                                     "between versions is a data migration, not an attribute edit")


def _check_attrs(key: str, before: Mapping[str, JSON], after: Mapping[str, JSON], allow_nczarr: bool) -> None:
    _check_versions(key, before, after)
    ome = before.get("ome")
    version = ome.get("version") if isinstance(ome, dict) else None
    if isinstance(version, str) and version.startswith("0.6") and not same(ome, after.get("ome", ABSENT)):
        # (audit F, 3: the forms refused it, the attribute editor and `edit` saved 0.6 metadata
        # that the 0.6rc0 schemas reject, since it is not validated here)
        raise ReadOnlyFieldError(f"{key}: OME-NGFF {version} metadata is read-only until 0.6 is final: zarr-browser "
                                 "does not validate release candidates, so it cannot check an edit of it")
    if allow_nczarr:
        return
    for attr in set(before) | set(after):
        if is_protected_attribute(attr) and not same(before.get(attr, ABSENT), after.get(attr, ABSENT)):
            raise ReadOnlyFieldError(f"{key}: attribute {attr!r} is NCZarr's own metadata and read-only")
