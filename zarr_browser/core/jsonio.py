"""Lenient reading and faithful writing of zarr metadata documents.

zarr-python writes float NaN and infinities as the bare tokens ``NaN``, ``Infinity`` and
``-Infinity`` (not RFC 8259 JSON).  We accept them, keep them as floats, and write them back
the same way, so a document round-trips unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["JSON", "Document", "dumps", "parse_document"]

JSON: TypeAlias = Any
"""A parsed JSON value: dict, list, str, int, float, bool or None."""


@dataclass(frozen=True, slots=True)
class Document:
    """One raw metadata document as found in the store.

    Attributes
    ----------
    key
        Store key of the document, relative to the store root (``"a/b/zarr.json"``).
    text
        The document text as stored (decoded as UTF-8 with replacement characters for
        display when it is not valid UTF-8).
    value
        The parsed JSON value, or None when parsing failed.
    error
        Why parsing failed, or None.
    """

    key: str
    text: str
    value: JSON = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the document parsed."""
        return self.error is None

    @property
    def size(self) -> int:
        """Size of the document text in characters."""
        return len(self.text)


def parse_document(key: str, data: bytes) -> Document:
    """Parse the bytes of a metadata document leniently; never raise.

    NaN and ±Infinity tokens are accepted.  Invalid UTF-8, malformed JSON and pathological
    nesting become a :class:`Document` with ``error`` set.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        shown = data.decode("utf-8", errors="replace")
        return Document(key, shown, None, f"not valid UTF-8 at byte {err.start}")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        head = text.lstrip()[:15].lower()
        if head.startswith(("<!doctype html", "<html")):
            return Document(key, text, None, "an HTML page, not JSON: the server answered with a web page (a login "
                                             "page, an error page or a directory index?)")
        return Document(key, text, None, f"invalid JSON: {err.msg} (line {err.lineno}, column {err.colno})")
    except RecursionError:
        return Document(key, text, None, "invalid JSON: nested too deeply")
    return Document(key, text, value, None)


def dumps(value: JSON, *, indent: int | None = 2, ensure_ascii: bool = False) -> str:
    """Serialise *value* the way zarr-python does: NaN/Infinity as bare tokens (non-ASCII text
    as ``\\u`` escapes with *ensure_ascii*)."""
    return json.dumps(value, indent=indent, allow_nan=True, ensure_ascii=ensure_ascii)


def canonical(value: JSON) -> str:
    """A stable text form for comparing documents (keys sorted; NaN equal to NaN)."""
    return json.dumps(value, sort_keys=True, allow_nan=True, separators=(",", ":"))


