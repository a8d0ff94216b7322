"""Credentials out of what is saved and shown: storage options, URLs and messages (Qt-free).

Recent stores are written to the settings file and URLs appear in titles, status lines and
error messages; none of them may carry a password, a token or a signature.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["redact_options", "redact_text", "redact_url"]

#: names of storage options (at any depth), HTTP headers and URL query parameters that hold
#: credentials: never written to the settings file, never shown
_SECRET = re.compile(r"secret|token|passw|credential|session|cookie|auth|signature|^sig$|apikey|access_?key|key_?id"
                     r"|(^|[-_])key$", re.IGNORECASE)
#: storage options dropped whole: HTTP headers are where tokens and cookies travel
_DROPPED_OPTIONS = frozenset({"headers"})
#: a URL inside a message (for :func:`redact_text`)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def redact_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """*options* without credentials, at any depth.

    Drops the keys that name a secret (``secret``, ``token``, ``client_kwargs.aws_secret_access_key``,
    ``params.token``...) and HTTP ``headers`` whole (``Authorization``, ``Cookie``, API keys).
    """
    return {key: _redact_value(value) for key, value in options.items()
            if key not in _DROPPED_OPTIONS and not _SECRET.search(str(key))}


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return redact_options(value)
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


def redact_url(url: str) -> str:
    """*url* without credentials: no ``user:password@``, no signature or token query parameters.

    Local paths are returned as they are; each part of a chained URL (``zip::https://…``) is redacted.
    """
    if "::" in url:
        return "::".join(redact_url(part) for part in url.split("::"))
    if "://" not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if not _SECRET.search(name)]
    if netloc == parts.netloc and len(kept) == len(pairs):
        return url
    query = urlencode(kept) if len(kept) != len(pairs) else parts.query
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def redact_text(text: str) -> str:
    """*text* (a message, a title) with every URL in it redacted by :func:`redact_url`."""
    return _URL_IN_TEXT.sub(lambda match: redact_url(match.group()), text) if "://" in text else text
