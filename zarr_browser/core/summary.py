"""Plain-data summaries of nodes: what ``zarr-browser info --json`` prints per node."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from zarr_browser.core.conventions.base import Context, ConventionRegistry, Detection, DimensionSource
from zarr_browser.core.dimensions import UNNAMED, dimension_labels
from zarr_browser.core.jsonio import JSON
from zarr_browser.core.model import Node
from zarr_browser.core.safety import check_array

__all__ = ["NodeSummary", "summarize"]


@dataclass(frozen=True, slots=True)
class NodeSummary:
    """A node with the conventions found on it and its resolved dimensions (None for an axis a
    source leaves unnamed while naming others, see :func:`~zarr_browser.core.dimensions.dimension_labels`)."""

    node: Node
    conventions: tuple[Detection, ...]
    dimension_names: tuple[str | None, ...] | None
    dimension_sources: tuple[DimensionSource, ...]
    unsafe: tuple[str, ...]
    details: dict[str, dict[str, JSON]] | None = None

    def to_json(self) -> dict[str, JSON]:
        node, array = self.node, self.node.array
        return {
            "path": node.path,
            "name": node.name,
            "kind": node.kind,
            "zarr_format": node.zarr_format,
            "shape": list(array.shape) if array else None,
            "dtype": array.dtype if array else None,
            "chunks": list(array.chunks) if array else None,
            "shards": list(array.shards) if array and array.shards else None,
            "codecs": array.codec_summary if array else None,
            "fill_value": array.fill_value if array else None,
            "dimension_names": list(self.dimension_names) if self.dimension_names is not None else None,
            "dimension_sources": [s.to_json() for s in self.dimension_sources],
            "conventions": [d.to_json() for d in self.conventions],
            "unsafe": list(self.unsafe) or None,
            "notes": list(node.notes),
            "consolidated": node.consolidated,
            "source": node.source,
            "error": node.error,
            "details": self.details,
        }

    @property
    def dimension_text(self) -> str:
        """The dimension names as shown: ``"time, –, x"`` (``""`` when there are none)."""
        if not self.dimension_names:
            return ""
        return ", ".join(UNNAMED if name is None else name for name in self.dimension_names)

    @property
    def kind_label(self) -> str:
        """What the node is, in words shared by every view: ``array v3``, ``group v2``,
        ``implicit group``, ``implicit group (v2 .zattrs only)`` or ``error``.

        A ``.zattrs`` without ``.zgroup`` is an implicit group (zarr-python does not open it),
        although its node has ``zarr_format`` 2 for its attributes.
        """
        node = self.node
        if node.kind == "error":
            return "error"
        zarr = next((d for d in self.conventions if d.name == "zarr"), None)
        if node.is_group and (node.zarr_format is None or (zarr is not None and "implicit-group" in zarr.roles)):
            return "implicit group" if node.zarr_format is None else f"implicit group (v{node.zarr_format} .zattrs only)"
        return f"{node.kind} v{node.zarr_format}"

    @property
    def badges(self) -> list[str]:
        """Short labels for conventions other than plain zarr (``ome-ngff 0.5: image``)."""
        out = []
        for det in self.conventions:
            if det.name == "zarr":
                continue
            label = det.name if det.version is None else f"{det.name} {det.version}"
            if det.roles:
                label += ": " + ", ".join(det.roles)
            out.append(label)
        return out


def summarize(
    node: Node, parent: Node | None, registry: ConventionRegistry, ctx: Context | None = None, *,
    children: Sequence[Node] | Callable[[], Sequence[Node]] | None = None,
) -> NodeSummary:
    """Detect conventions and resolve dimensions of *node*.

    With *ctx*, groups also get ``details``: what each convention describes (OME levels and
    channels, xarray dimensions and variables...).  That may read the nodes a description
    needs (an image's levels), usually already cached by the listing; without *ctx* there is
    no I/O.  A group's *children* (listed, or a callable that lists them; else through *ctx*)
    also settle what its own documents cannot (an xarray dataset without consolidated metadata);
    they are asked for only when a convention needs them.
    """

    def listed() -> Sequence[Node]:  # called only when a convention needs the children
        if callable(children):
            return children()
        if children is not None:
            return children
        return ctx.children(node.path) if ctx is not None else ()

    known = children is not None or ctx is not None
    detections = tuple(registry.detect(node, parent=parent, children=listed if known else None))
    sources: tuple[DimensionSource, ...] = ()
    names = None
    unsafe: tuple[str, ...] = ()
    if node.is_array:
        sources = tuple(registry.dimension_sources(node, parent))
        names = dimension_labels(node, sources)
        unsafe = tuple(check_array(node))
    details = None
    if ctx is not None and node.is_group and any(d.name != "zarr" for d in detections):
        details = {k: v for k, v in registry.describe(node, ctx).items() if k != "zarr"}
    return NodeSummary(node, detections, names, sources, unsafe, details)
