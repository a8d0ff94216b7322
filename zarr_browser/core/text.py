"""Text from untrusted stores, made safe and visible to show (pure Python).

Names and messages come from stores we do not trust.  Printed raw, an escape sequence in a node
name could retitle or clear a terminal and a newline could forge output lines; shown raw in a
window, a bidirectional override (U+202E) makes ``\\u202eexe.jpg`` read as ``gpj.exe``, and a
zero-width space makes two different names look the same.
"""

from __future__ import annotations

import unicodedata

__all__ = ["printable", "visible_name"]

_HIDDEN = ("Cc", "Cf", "Zl", "Zp")  # control, format (bidi, zero-width), line and paragraph separators
VISIBLE_SPACE = "\u2423"  # ␣


def printable(text: str) -> str:
    """*text* with control and format characters escaped (``\\x1b``, ``\\n``, ``\\u202e``)."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char == " " or unicodedata.category(char) not in _HIDDEN:
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def visible_name(name: str) -> str:
    """A node name as a window shows it: :func:`printable`, and leading or trailing spaces as
    ``␣`` (``" a"`` and ``"a"`` would look alike)."""
    shown = printable(name)
    stripped = shown.strip(" ")
    if stripped == shown:
        return shown
    lead = len(shown) - len(shown.lstrip(" "))
    trail = len(shown) - len(shown.rstrip(" "))
    return VISIBLE_SPACE * lead + stripped + VISIBLE_SPACE * trail if stripped else VISIBLE_SPACE * len(shown)
