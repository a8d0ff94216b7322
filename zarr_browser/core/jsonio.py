"""Lenient reading and faithful writing of zarr metadata documents.

zarr-python writes float NaN and infinities as the bare tokens ``NaN``, ``Infinity`` and
``-Infinity`` (not RFC 8259 JSON).  We accept them, keep them as floats, and write them back
the same way, so a document round-trips unchanged.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any, Final, TypeAlias

__all__ = ["JSON", "Document", "SourceFloat", "SourceInt", "dumps", "keep_number_tokens", "keeps_numbers", "parse_document",
           "parse_members", "render_numbers"]

JSON: TypeAlias = Any
"""A parsed JSON value: dict, list, str, int, float, bool or None."""


_set_slot = object.__setattr__


class Document:
    """One raw metadata document as found in the store (immutable).

    Attributes
    ----------
    key
        Store key of the document, relative to the store root (``"a/b/zarr.json"``).
    text
        The document text as stored (decoded as UTF-8 with replacement characters for
        display when it is not valid UTF-8).
    value
        The parsed JSON value, or None when parsing failed.  Never change it in place: it may
        be shared (with a consolidated copy, with the cache of recent parses).
    error
        Why parsing failed, or None.

    A small document read from a store (:func:`parse_document`) keeps only its text: its value
    is parsed again when asked for, and the recent parses are cached (:data:`PARSED_CACHE`).
    A parsed metadata document takes ~5 times the memory of its text and ~50 objects the
    cyclic collector walks: listing 100,000 arrays kept 3.7 KB per row of them (audit C).
    Documents are equal when their key, text and error are (the value comes from the text).
    """

    __slots__ = ("_text", "_value", "error", "key")
    key: str
    _text: str | None
    _value: JSON
    error: str | None

    def __init__(self, key: str, text: str | None, value: JSON = None, error: str | None = None) -> None:
        # straight into the slots: the immutability check of __setattr__ cost 0.4 s of opening a
        # consolidated store of 100,000 arrays (two documents each)
        _set_slot(self, "key", key)
        _set_slot(self, "_text", text)
        _set_slot(self, "_value", value)
        _set_slot(self, "error", error)

    @classmethod
    def of_value(cls, key: str, value: JSON) -> Document:
        """A document of *value* whose text is ``dumps(value)``, written when first asked for:
        a consolidated index holds a document of every node, and serialising 40,000 of them
        took 0.4 s of the open (on the I/O thread, competing with the GUI thread)."""
        return cls(key, None, value, None)

    @property
    def text(self) -> str:
        text = self._text
        if text is None:  # of_value: two threads may both write it, the same text
            text = dumps(self._value)
            _set_slot(self, "_text", text)
        return text

    @classmethod
    def reparsed(cls, key: str, text: str, value: JSON) -> Document:
        """A document of *text* (whose parse is *value*) that keeps the text alone: its value is
        parsed again when asked for once it left the cache of recent parses."""
        doc = cls(key, text, _UNPARSED, None)
        _remember(doc, value)
        return doc

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "error"):  # every slot is set once, in __init__
            raise AttributeError(f"Document is immutable: cannot set {name!r}")
        object.__setattr__(self, name, value)

    @property
    def value(self) -> JSON:
        value = self._value
        return _recall(self) if value is _UNPARSED else value

    @property
    def ok(self) -> bool:
        """Whether the document parsed."""
        return self.error is None

    @property
    def size(self) -> int:
        """Size of the document text in characters."""
        return len(self.text)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return self.key == other.key and self.text == other.text and self.error == other.error

    __hash__ = None  # type: ignore[assignment]  # as the dataclass it was: documents are compared, not hashed

    def __repr__(self) -> str:
        size = f"{len(self._text)} characters" if self._text is not None else "text not written yet"
        return f"Document(key={self.key!r}, {size}, error={self.error!r})"


_UNPARSED: Final = object()

REPARSE_UNDER = 64 << 10
"""Documents of fewer characters keep their text alone (:meth:`Document.reparsed`); bigger ones
(a consolidated index) keep their value, which would take long to parse again."""

PARSED_CACHE = 2048
"""How many recent parses of text-only documents are kept (~4 KB each for array metadata)."""

_parsed: OrderedDict[int, tuple[Document, JSON]] = OrderedDict()  # id -> (the document, held: ids stay unique)
_parsed_lock = threading.Lock()


def _remember(doc: Document, value: JSON) -> None:
    with _parsed_lock:
        _parsed[id(doc)] = (doc, value)
        while len(_parsed) > PARSED_CACHE:
            _parsed.popitem(last=False)


def _recall(doc: Document) -> JSON:
    with _parsed_lock:
        entry = _parsed.get(id(doc))
        if entry is not None:
            _parsed.move_to_end(id(doc))
            return entry[1]
    value = json.loads(doc.text)  # it parsed once: it parses again
    _remember(doc, value)
    return value


def parse_document(key: str, data: bytes, *, keep_numbers: bool = False) -> Document:
    """Parse the bytes of a metadata document leniently; never raise.

    NaN and ±Infinity tokens are accepted.  Invalid UTF-8, malformed JSON and pathological
    nesting become a :class:`Document` with ``error`` set.  With *keep_numbers* (a document to
    edit and write back), its numbers that Python's json would write otherwise are
    :class:`SourceFloat` (see :func:`keep_number_tokens`), and the document keeps its value.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        shown = data.decode("utf-8", errors="replace")
        return Document(key, shown, None, f"not valid UTF-8 at byte {err.start}")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text) if len(text) < YIELDING_OVER else _loads_by_members(text)
    except json.JSONDecodeError as err:
        head = text.lstrip()[:15].lower()
        if head.startswith(("<!doctype html", "<html")):
            return Document(key, text, None, "an HTML page, not JSON: the server answered with a web page (a login "
                                             "page, an error page or a directory index?)")
        return Document(key, text, None, f"invalid JSON: {err.msg} (line {err.lineno}, column {err.colno})")
    except RecursionError:
        return Document(key, text, None, "invalid JSON: nested too deeply")
    if keep_numbers:
        return Document(key, text, keep_number_tokens(text, value), None)
    if len(text) < REPARSE_UNDER:
        return Document.reparsed(key, text, value)
    return Document(key, text, value, None)


YIELDING_OVER = 1 << 20
"""Documents of this many characters or more are parsed member by member (:func:`_loads_by_members`)."""

_NESTED = frozenset({"metadata", "consolidated_metadata"})
"""Keys whose object values are parsed member by member too: where consolidated metadata keeps
its (up to hundreds of thousands of) entries."""


KEEP_FROZEN = False
"""Set by a process that keeps its heap frozen (the window's ``HeapKeeper``): a large document
parsed joins the frozen objects instead of being aged into the oldest generation."""


def _skip_space(text: str, at: int) -> int:
    """The index of the first character at or after *at* that is not JSON whitespace."""
    while at < len(text) and text[at] in " \t\n\r":
        at += 1
    return at


_DECODER = json.JSONDecoder()


def parse_members(text: str, at: int, out: dict[str, JSON], *, nested: frozenset[str] = frozenset()) -> int:
    """Parse the members of the JSON object whose ``{`` is at ``text[at]`` into *out*, one by one;
    return the index just after its ``}``.

    Values are parsed by json's C decoder, except the objects under a key of *nested*, whose
    members are parsed one by one in turn.  Raises :class:`json.JSONDecodeError` (with json's own
    messages and positions) where the text stops being JSON or stops short; *out* then holds
    the members parsed before it (the head of a document cut short reads that far).
    """
    at = _skip_space(text, at + 1)
    if text.startswith("}", at):
        return at + 1
    while True:
        if not text.startswith('"', at):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        key, at = _DECODER.raw_decode(text, at)
        at = _skip_space(text, at)
        if not text.startswith(":", at):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        at = _skip_space(text, at + 1)
        if key in nested and text.startswith("{", at):
            value: dict[str, JSON] = {}
            at = parse_members(text, at, value, nested=nested)
            out[key] = value
        else:
            out[key], at = _DECODER.raw_decode(text, at)
        at = _skip_space(text, at)
        if text.startswith(",", at):
            at = _skip_space(text, at + 1)
        elif text.startswith("}", at):
            return at + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, at)


@contextlib.contextmanager
def quiet_collector() -> Iterator[None]:
    """Build many long-lived objects (a large document's values, a consolidated index) without
    the cyclic collector walking them meanwhile.

    The collector is off inside (it would walk the growing heap again and again, holding the
    GIL: two full collections of 57-86 ms each while the index of a 20,000-node ``.zmetadata``
    was built stalled the window; audit I, F9), and what was made is old at once on the way out:
    left young, its first collection would walk all of it.  Values built here must hold no
    reference cycles (JSON values and their documents hold none).
    """
    global _quiet_depth, _quiet_was_enabled
    with _quiet_lock:  # (two threads may build at once: the last one out turns it back on)
        if _quiet_depth == 0:
            _quiet_was_enabled = gc.isenabled()
            gc.disable()
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                frozen = KEEP_FROZEN or gc.get_freeze_count() > 0  # (unfreezing would thaw what is kept frozen)
                gc.freeze()
                if not frozen:
                    gc.unfreeze()
                if _quiet_was_enabled:
                    gc.enable()


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_was_enabled = True


def _loads_by_members(text: str) -> JSON:
    """``json.loads`` of a large document, one member at a time where its bulk lies.

    One ``json.loads`` call of a 44 MB consolidated index holds the GIL for seconds: the window,
    whose worker reads it, froze for 1–1.6 s (audit C).  Parsing the outer object and its
    consolidated ``metadata`` member by member lets other threads run between members; each
    member's value is still parsed by json's C decoder.  The result is that of ``json.loads``;
    the collector is quiet meanwhile (:func:`quiet_collector`).
    """
    at = _skip_space(text, 0)
    if not text.startswith("{", at):
        return json.loads(text)  # not an object: nothing to split
    value: dict[str, JSON] = {}
    with quiet_collector():
        end = parse_members(text, at, value, nested=_NESTED)
    end = _skip_space(text, end)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


class SourceFloat(float):
    """A number read from a document that Python's json writes otherwise than it was written:
    ``1E5`` (written back as ``100000.0``), ``1.50`` (``1.5``), ``1e400`` (a float overflow: inf,
    written back as the bare ``Infinity``, which strict JSON readers refuse), ``1e-400`` (``0.0``).
    It is the float, and keeps its *token*: :func:`render_numbers` writes it as it was, so a
    value the user did not change is written back unchanged (audit E, 9).  A value typed or
    computed is a plain float and is written as Python writes it."""

    __slots__ = ("token",)
    token: str

    def __new__(cls, token: str) -> SourceFloat:
        self = super().__new__(cls, token)
        self.token = str(token)
        return self


class SourceInt(int):
    """The integer ``-0`` read from a document: Python's ints have no negative zero, so it would
    be written back as ``0``.  It is the int 0 and keeps its *token*, as :class:`SourceFloat` (in
a ``__dict__``: ints take no slots)."""

    token: str

    def __new__(cls, token: str) -> SourceInt:
        self = super().__new__(cls, token)
        self.token = str(token)
        return self


_NUMBER_CANDIDATE = re.compile(r"[0-9][eE]|\.[0-9]*0(?![0-9])|-0(?![0-9.eE])")
"""Where a document may hold a number Python writes otherwise (an exponent, a trailing zero,
an integer ``-0``); in strings too: a match only costs a second parse."""

_OVERFLOW_CANDIDATE = re.compile(r"[0-9][eE]\+?[0-9]{3,}")


def keeps_numbers(text: str) -> bool:
    """Whether the numbers of the document *text* are kept as written: documents under
    :data:`YIELDING_OVER` characters, and larger ones (a consolidated index, written by a program,
    whose second parse and walk take seconds) only where one may overflow a float (``1e400``)."""
    return len(text) < YIELDING_OVER or _OVERFLOW_CANDIDATE.search(text) is not None


def _number(token: str) -> float:
    value = float(token)
    if math.isfinite(value) and float.__repr__(value) == token:
        return value
    return SourceFloat(token)


def _integer(token: str) -> int:
    return SourceInt(token) if token == "-0" else int(token)


def keep_number_tokens(text: str, value: JSON) -> JSON:
    """*value*, the parse of *text*, with the numbers Python writes otherwise than *text* has
    them as :class:`SourceFloat`; *value* itself when *text* has none (told by a search, then a
    second parse where it may: :func:`keeps_numbers`)."""
    if not keeps_numbers(text) or _NUMBER_CANDIDATE.search(text) is None:
        return value
    try:
        return json.loads(text, parse_float=_number, parse_int=_integer)
    except (ValueError, RecursionError):
        return value


_MARK = f"zb-number-{secrets.token_hex(8)}-"
"""What :func:`render_numbers` puts in place of a number (and its index), drawn once per process:
drawn per call, each render of a document asked the OS for random bytes, releasing the GIL
10,000 times when 10,000 documents are rendered (see :mod:`~zarr_browser.core.yielding`)."""


def render_numbers(render: Callable[[JSON], str], value: JSON) -> str:
    """``render(value)`` with each :class:`SourceFloat` and :class:`SourceInt` of *value* written
    as its token.

    Each is replaced by a unique string, rendered, and its quoted form replaced by the token;
    should a string of the document render the same (it cannot, but a program is not a proof),
    or the value nest too deeply to walk, *value* is rendered as it is."""
    tokens: dict[str, str] = {}
    mark = _MARK
    try:
        swapped = _swap_numbers(value, mark, tokens)
    except RecursionError:
        return render(value)
    if not tokens:
        return render(value)
    text = render(swapped)
    seen: set[str] = set()

    def token(match: re.Match[str]) -> str:
        seen.add(match.group(1))
        return tokens[match.group(1)]

    text, count = re.subn(f'"({re.escape(mark)}[0-9]+)"', token, text)
    return text if count == len(tokens) == len(seen) else render(value)


def _swap_numbers(item: JSON, mark: str, tokens: dict[str, str]) -> JSON:
    """*item* with each :class:`SourceFloat` and :class:`SourceInt` replaced by a marked string
    (its token in *tokens*).  (A function of the module, not a closure: a recursive closure is a
    reference cycle, garbage only the cyclic collector frees, made at every render.)"""
    if isinstance(item, (SourceFloat, SourceInt)):
        name = f"{mark}{len(tokens)}"
        tokens[name] = item.token
        return name
    if isinstance(item, dict):
        out: dict[str, JSON] | None = None
        for key, child in item.items():
            new = _swap_numbers(child, mark, tokens)
            if new is not child:
                out = dict(item) if out is None else out
                out[key] = new
        return item if out is None else out
    if isinstance(item, list):
        swapped = [_swap_numbers(child, mark, tokens) for child in item]
        return item if all(a is b for a, b in zip(swapped, item, strict=True)) else swapped
    return item


def dumps(value: JSON, *, indent: int | str | None = 2, ensure_ascii: bool = False) -> str:
    """Serialise *value* the way zarr-python does: NaN/Infinity as bare tokens (non-ASCII text
    as ``\\u`` escapes with *ensure_ascii*).

    The text of ``json.dumps(value, indent=indent, allow_nan=True, ensure_ascii=ensure_ascii)``.
    Indented, it is written by :func:`_write_indented`: json's own indenting encoder builds
    recursive closures at each call, a reference cycle of some 40 objects that only the cyclic
    collector frees; rendering 10,000 documents a few times (validating a dimension renamed in
    10,000 arrays) left millions, and the full collections they caused held the GIL for up to
    0.3 s each, freezing the window (audit K).
    """
    if indent is None:
        return json.dumps(value, allow_nan=True, ensure_ascii=ensure_ascii)
    out: list[str] = []
    _write_indented(value, " " * indent if isinstance(indent, int) else indent, "\n",
                    encode_basestring_ascii if ensure_ascii else encode_basestring, out)
    return "".join(out)


def _float_text(value: float) -> str:
    """A float as json writes it with ``allow_nan``."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return float.__repr__(value)


def _key_text(key: object) -> str:
    """An object key as json writes it (json's order of checks)."""
    if isinstance(key, str):
        return key
    if isinstance(key, float):
        return _float_text(key)
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, int):
        return int.__repr__(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def _write_indented(value: object, indent: str, newline: str, encode: Callable[[str], str], out: list[str]) -> None:
    """Append *value* to *out* as ``json.dumps`` indents it (*newline*: a newline and the
    indentation of the line *value* starts on); a module function, so no cycle is made."""
    if isinstance(value, str):
        out.append(encode(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_float_text(value))
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + indent
        separator = "[" + inner
        for item in value:
            out.append(separator)
            separator = "," + inner
            _write_indented(item, indent, inner, encode, out)
        out.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + indent
        separator = "{" + inner
        for key, item in value.items():
            out.append(separator + encode(_key_text(key)) + ": ")
            separator = "," + inner
            _write_indented(item, indent, inner, encode, out)
        out.append(newline + "}")
    else:
        raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def canonical(value: JSON) -> str:
    """A stable text form for comparing documents (keys sorted; NaN equal to NaN)."""
    return json.dumps(value, sort_keys=True, allow_nan=True, separators=(",", ":"))




def finite_number(value: object) -> bool:
    """Whether *value* is a JSON number a 64-bit float holds: not a boolean, NaN or infinity, and
    not an integer such as ``10**400`` (legal JSON) that ``float()`` and ``math.isfinite()`` raise
    ``OverflowError`` on."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False
