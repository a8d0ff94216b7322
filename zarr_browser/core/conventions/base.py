"""What a metadata convention is, and the registry that holds them.

A convention is an object with a ``name`` and four operations:

* ``detect(node)`` - cheap and pure (looks only at the node's own documents): a
  :class:`Detection` (version and roles) or None; a convention may also define
  ``detect_with_parent(node, parent)``, as cheap and pure, for what only the parent's documents
  settle (the registry uses it when the parent is known), and
  ``detect_with_children(node, children)`` for what only a group's children settle (an xarray
  dataset without consolidated metadata); *children* is a callable that lists them - it may do
  I/O, so the registry calls it only where the caller allows (workers, ``info``);
* ``describe(node, ctx)`` - what to show about the node, as plain JSON-able data;
* ``validate(node, ctx)`` - a list of :class:`~zarr_browser.core.issues.Issue`; never raises on
  bad metadata;
* ``child_hints(node)`` - paths below the node its metadata declares (used when a remote
  group cannot be listed; ``"A/1"`` names a child of the child ``A``);
* ``dimensions(node, parent)`` - the dimension facts this convention gives an array, as a
  :class:`DimensionSource`, or None.

``ctx`` (a :class:`Context`) lets validation look at other nodes (an OME image's level arrays,
an xarray dataset's variables) and read small arrays (the index coordinates of a DataTree); it
may do I/O, so validation runs in workers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from zarr_browser.core.issues import Issue, Severity
from zarr_browser.core.jsonio import JSON
from zarr_browser.errors import OperationCancelledError

if TYPE_CHECKING:
    import numpy as np

    from zarr_browser.core.model import Node

__all__ = [
    "Context",
    "Convention",
    "ConventionRegistry",
    "Detection",
    "DimensionSource",
    "attributes_pointer",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Detection:
    """A convention found on a node: its version (if it has one) and the node's roles."""

    name: str
    version: str | None = None
    roles: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JSON]:
        return {"name": self.name, "version": self.version, "roles": list(self.roles)}


@dataclass(frozen=True, slots=True)
class DimensionSource:
    """What one source says about an array's dimensions.

    ``names``, ``units`` and ``scales`` have one entry per axis (None where the source is
    silent).  ``source`` says where the facts come from, in words
    (``"v3 dimension_names"``, ``"_ARRAY_DIMENSIONS"``, ``"OME-NGFF axes of /image"``...).
    """

    convention: str
    source: str
    names: tuple[str | None, ...]
    units: tuple[str | None, ...] | None = None
    scales: tuple[float | None, ...] | None = None
    translations: tuple[float | None, ...] | None = None
    types: tuple[str | None, ...] | None = None
    pointer: str = ""
    document: str = ""

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"convention": self.convention, "source": self.source, "names": list(self.names)}
        for key in ("units", "scales", "translations", "types"):
            value = getattr(self, key)
            if value is not None:
                out[key] = list(value)
        return out


class Context(Protocol):
    """What a convention may ask of the hierarchy while describing or validating a node."""

    strict: bool

    def node(self, path: str) -> Node | None:
        """The node at an absolute path, or None when there is none (never raises)."""

    def children(self, path: str) -> Sequence[Node]:
        """The child nodes of the group at *path* (empty for arrays or when unlistable)."""

    def parent(self, node: Node) -> Node | None:
        """The parent of *node*, or None for the root."""

    def read_values(self, node: Node, *, max_elements: int) -> np.ndarray | None:
        """The stored values of array *node* (raw, not CF-decoded) when it holds at most
        *max_elements* and reads safely, else None (never raises on a store's data)."""


@runtime_checkable
class Convention(Protocol):
    """A metadata convention (see the module docstring)."""

    name: str
    title: str

    def detect(self, node: Node) -> Detection | None: ...

    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]: ...

    def validate(self, node: Node, ctx: Context) -> list[Issue]: ...

    def child_hints(self, node: Node) -> list[str]: ...

    def dimensions(self, node: Node, parent: Node | None) -> DimensionSource | None: ...


class BaseConvention:
    """Defaults for the optional operations; conventions subclass it for brevity."""

    name = ""
    title = ""

    def detect(self, node: Node) -> Detection | None:
        raise NotImplementedError  # every concrete convention defines detection

    def detect_with_parent(self, node: Node, parent: Node | None) -> Detection | None:
        """Like :meth:`detect`, also looking at the parent's documents (no I/O)."""
        return self.detect(node)

    def describe(self, node: Node, ctx: Context) -> dict[str, JSON]:
        return {}

    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        return []

    def child_hints(self, node: Node) -> list[str]:
        return []

    def dimensions(self, node: Node, parent: Node | None) -> DimensionSource | None:
        return None


def attributes_pointer(node: Node, *parts: str | int) -> tuple[str, str]:
    """JSON pointer and document name for a path inside a node's *attributes*.

    v3 attributes live in ``zarr.json`` under ``/attributes``; v2 attributes are the whole
    ``.zattrs`` document.
    """
    from zarr_browser.core.issues import pointer

    if node.zarr_format == 3:
        return pointer("attributes", *parts), "zarr.json"
    return pointer(*parts), ".zattrs"


@dataclass
class ConventionRegistry:
    """An ordered set of conventions.  Build one per application (no module globals)."""

    conventions: list[Convention] = field(default_factory=list)

    def __post_init__(self) -> None:
        names = [c.name for c in self.conventions]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate convention names: {names}")

    def __iter__(self) -> Iterator[Convention]:
        return iter(self.conventions)

    def get(self, name: str) -> Convention:
        for convention in self.conventions:
            if convention.name == name:
                return convention
        raise KeyError(name)

    def detect(self, node: Node, *, parent: Node | None = None,
               children: Callable[[], Sequence[Node]] | None = None) -> list[Detection]:
        """Every convention found on *node* (in registry order).

        With *parent* (the node's parent, when the caller has it), conventions that define
        ``detect_with_parent`` may also use the parent's documents.  With *children* (a callable
        listing a group's children, called at most once and only when a convention needs them),
        conventions that define ``detect_with_children`` may also look at them.
        """
        found = []
        listed: list[Sequence[Node]] = []

        def once() -> Sequence[Node]:
            if not listed:
                listed.append(children() if children is not None else ())
            return listed[0]

        for convention in self.conventions:
            with_parent = getattr(convention, "detect_with_parent", None) if parent is not None else None
            try:
                detection = convention.detect(node) if with_parent is None else with_parent(node, parent)
                with_children = getattr(convention, "detect_with_children", None)
                if detection is None and children is not None and node.is_group and with_children is not None:
                    detection = with_children(node, once)
            except OperationCancelledError:  # the user moved on: not a convention's failure
                raise
            except Exception:  # a convention bug must not hide the node
                logger.exception("convention %s failed to detect %s", convention.name, node.path)
                continue
            if detection is not None:
                found.append(detection)
        return found

    def validate(self, node: Node, ctx: Context) -> list[Issue]:
        """All issues every convention finds on *node*."""
        issues: list[Issue] = []
        for convention in self.conventions:
            try:
                issues.extend(convention.validate(node, ctx))
            except OperationCancelledError:  # the user moved on: not a convention's failure
                raise
            except Exception as err:  # boundary: report instead of crashing the whole run
                logger.exception("convention %s failed to validate %s", convention.name, node.path)
                issues.append(
                    Issue(Severity.ERROR, f"internal error while checking {convention.name}: {err!r}", node.path,
                          convention=convention.name)
                )
        return issues

    def describe(self, node: Node, ctx: Context) -> dict[str, dict[str, JSON]]:
        """Descriptions by convention name, for the conventions detected on *node* (a group's
        children through *ctx* included)."""
        out: dict[str, dict[str, JSON]] = {}
        detected = {d.name for d in self.detect(node, children=lambda: ctx.children(node.path))}
        for convention in self.conventions:
            if convention.name not in detected:
                continue
            try:
                out[convention.name] = convention.describe(node, ctx)
            except OperationCancelledError:  # the user moved on: not a convention's failure
                raise
            except Exception:  # boundary: a convention bug must not hide the others
                logger.exception("convention %s failed to describe %s", convention.name, node.path)
        return out

    def child_hints(self, node: Node) -> list[str]:
        """Paths below *node* its metadata declares, relative (``"A/1"``: a plate's well), in
        first-seen order; ``.``, ``..`` and empty segments are dropped."""
        names: dict[str, None] = {}
        for convention in self.conventions:
            try:
                for name in convention.child_hints(node):
                    parts = [p for p in name.strip("/").split("/") if p]
                    if parts and not any(p in (".", "..") for p in parts):
                        names.setdefault("/".join(parts), None)
            except OperationCancelledError:  # the user moved on: not a convention's failure
                raise
            except Exception:  # boundary, as above
                logger.exception("convention %s failed to give hints for %s", convention.name, node.path)
        return list(names)

    def dimension_sources(self, node: Node, parent: Node | None) -> list[DimensionSource]:
        """What every convention says about the dimensions of array *node*."""
        out = []
        for convention in self.conventions:
            try:
                source = convention.dimensions(node, parent)
            except OperationCancelledError:  # the user moved on: not a convention's failure
                raise
            except Exception:  # boundary, as above
                logger.exception("convention %s failed on dimensions of %s", convention.name, node.path)
                continue
            if source is not None:
                out.append(source)
        return out


