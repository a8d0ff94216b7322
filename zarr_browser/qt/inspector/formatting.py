"""How the inspector writes numbers, shapes, sizes and JSON values as text."""

from __future__ import annotations

from collections.abc import Sequence

from zarr_browser.core.jsonio import JSON, dumps

__all__ = ["ELIDE_AT", "format_bytes", "format_json", "format_number", "format_numbers", "format_shape", "short_json"]

ELIDE_AT = 160
"""Characters of a value shown inline before it is elided (the full value is one click away)."""


def format_shape(shape: Sequence[object] | None, *, sep: str = " × ") -> str:
    """``(3, 512, 512)`` → ``"3 × 512 × 512"``; ``()`` → ``"scalar"``; None → ``"–"``."""
    if shape is None:
        return "–"
    if len(shape) == 0:
        return "scalar"
    return sep.join("?" if s is None else str(s) for s in shape)


def format_bytes(n: float | None) -> str:
    """``1536`` → ``"1.5 KiB"``."""
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(value) < 1024 or unit == "PiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def format_number(value: object) -> str:
    """Numbers without noise (``0.48750000000000004`` → ``0.4875``); anything else as JSON."""
    if isinstance(value, bool) or value is None:
        return format_json(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    return format_json(value)


def format_numbers(values: Sequence[object] | None) -> str:
    if values is None:
        return "–"
    return ", ".join(format_number(v) for v in values)


def format_json(value: JSON) -> str:
    """A JSON value on one line, the way zarr writes it (NaN and Infinity as bare tokens)."""
    if isinstance(value, str):
        return dumps(value, indent=None)
    return dumps(value, indent=None)


def short_json(value: JSON, limit: int = ELIDE_AT) -> tuple[str, bool]:
    """The one-line JSON text of *value*, cut to *limit* characters; and whether it was cut."""
    text = format_json(value)
    if len(text) <= limit:
        return text, False
    return text[: limit - 1] + "…", True
