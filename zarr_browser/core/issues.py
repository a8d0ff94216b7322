"""Validation issues: bad metadata in a user's store is data, not an exception."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["INTEROPERABILITY_TAG", "Issue", "Rule", "Severity", "pointer"]


class Severity(StrEnum):
    """How serious an issue is.  ``error`` breaks a spec MUST; ``warning`` a SHOULD."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


class Rule(StrEnum):
    """What kind of rule an issue is about.

    ``spec``: a rule of the convention or format itself (its MUST or SHOULD, or a likely mistake
    in its terms).  ``interoperability``: the metadata is allowed by the spec, but a named reader,
    viewer or validator fails on it (napari-ome-zarr, the official JSON schemas...); CI may choose
    to ignore these (``validate --ignore interoperability``).
    """

    SPEC = "spec"
    INTEROPERABILITY = "interoperability"


INTEROPERABILITY_TAG = "[interoperability]"
"""The first word of the message of every ``interoperability`` issue, so that every view of the
message (the window, the text report, a log) tells it from a spec finding; :attr:`Issue.rule`
is the field to test."""


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about one node.

    Attributes
    ----------
    severity
        error / warning / info.
    message
        What is wrong, in words a user understands, naming the offending value.
    path
        The node path (``"/"``, ``"/a/b"``).
    pointer
        RFC 6901 JSON pointer into the node's document (``"/attributes/ome/multiscales/0"``
        for v3, ``"/multiscales/0"`` into ``.zattrs`` for v2); ``""`` for the whole node.
    convention
        The convention that raised it (``"zarr"``, ``"ome-ngff"``, ``"xarray"``...).
    document
        The file the pointer points into (``"zarr.json"``, ``".zattrs"``, ``".zarray"``), or
        ``""`` when the issue is about the node as a whole.
    unchecked
        The node's metadata was not (or only partly) validated, e.g. a version this tool
        reads but does not check: a pass must not be read as a clean one.
    rule
        :attr:`Rule.SPEC` (the default) or :attr:`Rule.INTEROPERABILITY`: allowed by the spec,
        but a named reader or validator fails on it (the message then starts with
        :data:`INTEROPERABILITY_TAG`).
    """

    severity: Severity
    message: str
    path: str
    pointer: str = ""
    convention: str = ""
    document: str = ""
    unchecked: bool = False
    rule: Rule = Rule.SPEC

    def to_json(self) -> dict[str, str | bool]:
        return {
            "path": self.path,
            "severity": self.severity.value,
            "convention": self.convention,
            "message": self.message,
            "pointer": self.pointer,
            "document": self.document,
            "unchecked": self.unchecked,
            "rule": self.rule.value,
        }


def pointer(*parts: str | int) -> str:
    """Build an RFC 6901 JSON pointer from path parts (escaping ``~`` and ``/``)."""
    out = []
    for part in parts:
        text = str(part).replace("~", "~0").replace("/", "~1")
        out.append(text)
    return "".join("/" + p for p in out)
