"""The lazy item model of a zarr hierarchy: Name | Kind | Shape | dtype | Conventions.

Modelled on silx's ``Hdf5TreeModel`` and Qt's *Fetch More* example:

* the model has one top-level row, the store root; every group row reports children before it
  is listed (``hasChildren``), and ``canFetchMore``/``fetchMore`` ask the :class:`Runner` for a
  page of :attr:`HierarchyTreeModel.PAGE_SIZE` children.  ``QTreeView`` calls ``fetchMore`` by
  itself when a row is expanded and when the user scrolls to the end of a huge group.
* while a page is on its way the group shows a *Loading…* row; a listing that fails becomes a
  *failed: reason* row; a group that could not be listed but whose metadata declares children
  (remote stores without listing) gets a *could not list* warning row above them.  These rows
  are data (:attr:`~HierarchyTreeModel.StateRole`), not widgets.
* the worker computes each child's :class:`~zarr_browser.core.summary.NodeSummary` and the
  texts of its row (:class:`RowInfo`), so the GUI thread only copies values into items and
  ``data()`` never touches the store.
* rows are appended at the end of a group (placeholders are last, apart from the warning row
  which comes first); a refresh removes a group's rows and lists it again.

Nothing here does store I/O on the GUI thread: listings, node reads and refreshes are all
submitted to the runner; results are applied on the GUI thread.  Why the rows live in a
``QStandardItemModel`` is explained on :class:`HierarchyTreeModel`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from qtpy.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, QRectF, Qt, QTimer, Signal
from qtpy.QtGui import (
    QBrush,
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
    QStandardItem,
    QStandardItemModel,
)

from zarr_browser.core.jsonio import quiet_collector
from zarr_browser.core.model import Node, join_path
from zarr_browser.core.summary import NodeSummary, summarize
from zarr_browser.core.text import printable, visible_name
from zarr_browser.errors import NodeNotFoundError, ZarrBrowserError
from zarr_browser.qt._typed import nonnull

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry, Detection
    from zarr_browser.core.hierarchy import Hierarchy, Listing
    from zarr_browser.qt.workers import Runner, Task

__all__ = ["HierarchyTreeModel", "RowInfo", "describe_row", "kind_icon"]

logger = logging.getLogger(__name__)

# row states (StateRole)
NODE: Final = "node"
LOADING: Final = "loading"
PENDING: Final = "pending"  # a child row whose metadata is still being read
FAILED: Final = "failed"
WARNING: Final = "warning"

# listing states of a group item
_UNLISTED, _LISTING, _LISTED, _FAILED = "unlisted", "listing", "listed", "failed"

#: badge colours by convention name (pills in the Conventions column)
BADGE_COLOURS: Final[dict[str, str]] = {
    "zarr": "#6b7280",
    "ome-ngff": "#0f766e",
    "xarray": "#1d4ed8",
    "cf": "#7c3aed",
    "nczarr": "#c2410c",
    "zarr-conventions": "#15803d",
    "consolidated": "#64748b",
    "stale": "#b91c1c",
}
LISTING_PATIENCE: Final = 1.0
"""Seconds a page of a remote group waits for its children's metadata before it is shown; the
children still being read then show as *loading…* rows, filled in as they arrive."""

# -- what a row shows (built in the worker) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowInfo:
    """Everything a node row shows, computed once off the GUI thread.

    ``badges`` are ``(text, colour)`` pairs; ``sort_keys`` has one key per column.
    """

    name: str
    kind_key: str
    kind_label: str
    shape: str
    dtype: str
    badges: tuple[tuple[str, str], ...]
    badges_text: str
    tooltip: str
    sort_keys: tuple[str | float, ...]  # what Qt compares itself: no Python call per comparison
    badges_tooltip: str = ""  # every badge in words (the column may show only the first ones)


#: short convention names for the badges (the tooltip has the full name and roles)
_SHORT_NAMES: Final[dict[str, str]] = {
    "ome-ngff": "OME",
    "cf": "CF",
    "nczarr": "NCZarr",
    "zarr-conventions": "conventions",
}

_KIND_LABELS: Final[dict[str, str]] = {
    "group": "group",
    "implicit": "implicit group",
    "array": "array",
    "ome-image": "OME image",
    "label-image": "label image",
    "labels": "OME labels",
    "plate": "OME plate",
    "well": "OME well",
    "dataset": "xarray dataset",
    "cf-dataset": "CF dataset",
    "nczarr": "NCZarr group",
    "error": "error",
}


def _kind_key(node: Node, summary: NodeSummary | None) -> str:
    """The icon/label key of a node: its most specific convention role, else group/array."""
    if node.kind == "error":
        return "error"
    detections = summary.conventions if summary is not None else ()
    roles: dict[str, set[str]] = {}
    for det in detections:
        roles.setdefault(det.name, set()).update(det.roles)
    ome = roles.get("ome-ngff", set())
    for role, key in (("label-image", "label-image"), ("image", "ome-image"), ("plate", "plate"), ("well", "well"),
                      ("labels", "labels")):
        if role in ome:
            return key
    if node.is_group:
        if "dataset" in roles.get("cf", set()):
            return "cf-dataset"  # the more specific: CF says what the variables mean
        if "dataset" in roles.get("xarray", set()):
            return "dataset"
        if roles.get("nczarr", set()) & {"root", "group"}:
            return "nczarr"
        return "group" if node.zarr_format is not None else "implicit"
    return "array"


def _shape_text(shape: Sequence[int]) -> str:
    return " × ".join(str(s) for s in shape) if shape else "scalar"


def describe_row(node: Node, summary: NodeSummary | None, *, name: str | None = None) -> RowInfo:
    """The texts, badges and sort keys of *node*'s row (pure; runs in workers)."""

    key = _kind_key(node, summary)
    label = _KIND_LABELS[key]
    array = node.array
    shape = _shape_text(array.shape) if array is not None else ""
    dtype = array.dtype_name if array is not None else ""
    badges: list[tuple[str, str]] = []
    badge_lines: list[str] = []
    if node.zarr_format is not None:
        badges.append((f"v{node.zarr_format}", BADGE_COLOURS["zarr"]))
        badge_lines.append(f"v{node.zarr_format}: zarr format {node.zarr_format}")
    long_texts: list[str] = []
    for det in summary.conventions if summary is not None else ():
        if det.name == "zarr":
            continue
        short = _SHORT_NAMES.get(det.name, det.name)
        badges.append((short if det.version is None else f"{short} {det.version}", BADGE_COLOURS.get(det.name, "#475569")))
        text = det.name if det.version is None else f"{det.name} {det.version}"
        long_texts.append(text + (": " + ", ".join(det.roles) if det.roles else ""))
        badge_lines.append(f"{badges[-1][0]}: {long_texts[-1]}")
    if node.consolidated in ("stale", "absent"):
        badges.append((f"consolidated copy {node.consolidated}", BADGE_COLOURS["stale"]))
        long_texts.append(f"consolidated copy {node.consolidated}")
        badge_lines.append(f"consolidated copy {node.consolidated}")
    if summary is not None and summary.unsafe:
        badges.append(("unsafe codec", BADGE_COLOURS["stale"]))
        badge_lines.extend(f"unsafe codec: {reason}" for reason in summary.unsafe)
    badges_text = f"failed: {node.error}" if node.kind == "error" else "  ".join(text for text, _ in badges)

    lines = [printable(node.path), f"{label} (zarr v{node.zarr_format})" if node.zarr_format else label]
    if array is not None:
        stored = f" ({array.dtype})" if dtype != array.dtype else ""
        lines.append(f"shape {list(array.shape)}  dtype {dtype}{stored}")
        lines.append(f"chunks {list(array.chunks)}" + (f"  shards {list(array.shards)}" if array.shards else ""))
        lines.append(f"codecs {array.codec_summary}")
    if long_texts:
        lines.append("conventions: " + "; ".join(long_texts))
    if summary is not None and summary.dimension_names:
        lines.append("dimensions " + summary.dimension_text)
    if summary is not None and summary.unsafe:
        lines.extend(f"unsafe: {reason}" for reason in summary.unsafe)
    if node.error:
        lines.append(f"error: {node.error}")
    lines.extend(node.notes)
    display = visible_name(node.name) if name is None else name
    numel = math.prod(array.shape) if array is not None else -1
    sort_keys = (sort_name(display), label, float(numel), dtype, badges_text)
    badges_tooltip = badges_text if node.kind == "error" else "\n".join(badge_lines)
    return RowInfo(display, key, label, shape, dtype, tuple(badges), badges_text, "\n".join(lines), sort_keys,
                   badges_tooltip)


# -- groups ----------------------------------------------------------------------------------


class _Group:
    """The listing state of one group row (kept on its column-0 item under ``GroupRole``)."""

    __slots__ = ("by_name", "has_more", "item", "listing", "names", "next_offset", "pending", "request", "stopped",
                 "waiters")

    def __init__(self, item: QStandardItem) -> None:
        self.item = item
        self.listing = _UNLISTED
        self.names: tuple[str, ...] = ()
        self.next_offset = 0
        self.has_more = False
        self.request: _Request | None = None
        self.waiters: list[Callable[[], None]] = []
        self.by_name: dict[str, QStandardItem] = {}
        self.pending: dict[str, QStandardItem] = {}  # rows of children still being read
        self.stopped = False  # the user stopped its listing part-way: more only on request (fetchAll)


@dataclass(frozen=True, slots=True)
class _Page:
    """A listing page with the summaries and row texts of its nodes (built in the worker)."""

    listing: Listing
    rows: tuple[tuple[Node | None, NodeSummary | None, RowInfo], ...]  # no node: still being read
    node: Node | None = None  # the group itself, re-read (refresh)
    node_summary: NodeSummary | None = None
    node_info: RowInfo | None = None
    found: tuple[Detection, ...] = ()  # what the group's first page of children says it is (an xarray dataset)


class _Request:
    """One listing in flight for one group."""

    __slots__ = ("answered", "cancelled", "done", "group", "limit", "offset", "rest", "task")

    def __init__(self, group: _Group, offset: int, limit: int, *, rest: bool = False) -> None:
        self.group = group
        self.offset = offset
        self.limit = limit
        self.rest = rest  # part of "list every child": the next part is asked for when this one lands
        self.task: Task | None = None
        self.done = False
        self.cancelled = False
        self.answered = False  # the page (or the error) has arrived


def _list_page(hierarchy: Hierarchy, registry: ConventionRegistry, parent: Node, offset: int, limit: int,
               refresh: bool, root_name: str | None) -> _Page:
    """Worker: list one page of *parent*'s children and summarize them (store I/O happens here)."""
    node = node_summary = node_info = None
    if refresh:
        hierarchy.refresh(parent.path)
        parent = hierarchy.node(parent.path)
        grand = None
        if parent.path != "/":
            from zarr_browser.core.model import parent_path

            grand_path = parent_path(parent.path)
            grand = hierarchy.node(grand_path) if grand_path is not None else None
        node, node_summary = parent, summarize(parent, grand, registry)
        node_info = describe_row(parent, node_summary, name=root_name if parent.path == "/" else None)
        if not parent.lists_children:
            from zarr_browser.core.hierarchy import Listing as _Listing

            return _Page(_Listing(parent.path, (), ()), (), node, node_summary, node_info)
    patience = LISTING_PATIENCE if hierarchy.access.is_remote else None
    listing = hierarchy.children(parent.path, offset=offset, limit=limit, patience=patience)
    by_name = {child.name: child for child in listing.nodes}
    rows: list[tuple[Node | None, NodeSummary | None, RowInfo]] = []
    for name in listing.names[listing.offset : listing.end]:
        child = by_name.get(name)
        if child is None:
            rows.append((None, None, pending_row(name)))
        else:
            summary = summarize(child, parent, registry)
            rows.append((child, summary, describe_row(child, summary)))
    found: tuple[Detection, ...] = ()
    if offset == 0 and parent.is_group:
        found = tuple(registry.detect(parent, children=lambda: listing.nodes))
    return _Page(listing, tuple(rows), node, node_summary, node_info, found)


_PLACEHOLDER_KEY: Final = "\uffff"


def sort_name(name: str) -> str:
    """A string that orders names naturally (``a2`` before ``a10``, case folded) when Qt compares
    it as plain text: digit runs are zero-padded.  Sorting 100,000 rows with Python tuple keys
    compared in ``lessThan`` held the window for 2 s per header click."""
    from zarr_browser.core.hierarchy import natural_key

    parts = []
    for part in natural_key(name):
        parts.append(f"{part:020d}" if isinstance(part, int) else str(part))
    return "\x00".join(parts)


def pending_row(name: str) -> RowInfo:
    """What the row of a child still being read shows (its listing's patience ran out)."""
    tooltip = f"{printable(name)}: still reading its metadata (the store is slow to answer)"
    return RowInfo(visible_name(name), LOADING, "loading…", "", "", (), "", tooltip,
                   (sort_name(name), "loading…", -1.0, "", ""))


def _read_rows(hierarchy: Hierarchy, registry: ConventionRegistry, parent: Node,
               paths: Sequence[str]) -> list[tuple[str, Node | None, NodeSummary | None, RowInfo | None]]:
    """Worker: the rows of children a listing left pending (waits for the reads in flight)."""
    hierarchy.prefetch(paths)
    rows: list[tuple[str, Node | None, NodeSummary | None, RowInfo | None]] = []
    for path in paths:
        try:
            child = hierarchy.node(path)
        except NodeNotFoundError:
            rows.append((path, None, None, None))  # not a node after all (a stray file)
            continue
        except ZarrBrowserError as err:
            child = Node(path, "error", None, {}, error=str(err))
        summary = summarize(child, parent, registry)
        rows.append((path, child, summary, describe_row(child, summary)))
    return rows


@dataclass(frozen=True, slots=True)
class _Reread:
    """A node read again from the store, with its summary and row texts (built in the worker)."""

    node: Node
    summary: NodeSummary
    info: RowInfo
    children: tuple[_Reread, ...] = ()


MAX_REREAD_CHILDREN = 500
"""Rows below a re-read group whose summaries are brought up to date (badges, dimension names)."""

REREAD_BATCH = 100
"""Rows :meth:`HierarchyTreeModel.rereadPaths` reads again per worker task, and shows per turn
of the event loop (about 10 ms of row updates)."""


def _reread_node(
    hierarchy: Hierarchy, registry: ConventionRegistry, path: str, root_name: str | None,
    children: Sequence[str] = (),
) -> _Reread:
    """Worker: read the node at *path* again from the store (its children are not listed again).

    The rows of *children* (shown already) get new summaries: what a child is shown as may come
    from its parent (an OME level's axes, an xarray dataset's dimensions).
    """
    from zarr_browser.core.model import parent_path

    hierarchy.refresh(path)
    node = hierarchy.node(path)
    grand_path = parent_path(path) if path != "/" else None
    grand = hierarchy.node(grand_path) if grand_path is not None else None
    summary = summarize(node, grand, registry)
    below: list[_Reread] = []
    if children and node.is_group:
        hierarchy.prefetch(children)
        for child_path in children:
            try:
                child = hierarchy.node(child_path)
            except ZarrBrowserError:
                continue  # gone: the next listing shows it
            child_summary = summarize(child, node, registry)
            below.append(_Reread(child, child_summary, describe_row(child, child_summary)))
    return _Reread(node, summary, describe_row(node, summary, name=root_name if path == "/" else None), tuple(below))


def _reread_nodes(hierarchy: Hierarchy, registry: ConventionRegistry, root_name: str | None,
                  wanted: Sequence[tuple[str, Sequence[str]]]) -> list[tuple[str, _Reread | BaseException]]:
    """Worker: :func:`_reread_node` of each ``(path, children)`` of *wanted*, its failure in its place.

    The nodes live as long as their rows: they are built with the collector quiet (and frozen
    with the rows in a window that keeps its heap frozen), as pages of rows are: 7,000 rows read
    again after a save otherwise ended in a full collection of 0.1 s, holding the GIL."""
    out: list[tuple[str, _Reread | BaseException]] = []
    with quiet_collector():
        for path, children in wanted:
            try:
                out.append((path, _reread_node(hierarchy, registry, path, root_name, children)))
            except Exception as err:  # (each row fails alone, as rereadPath's do)
                out.append((path, err))
    return out


def _reason(err: BaseException) -> str:
    """A one-line reason for a failed listing (never a traceback)."""
    if isinstance(err, ZarrBrowserError | OSError | TimeoutError):
        return str(err) or type(err).__name__
    return f"internal error: {type(err).__name__}: {err}"


# -- icons -----------------------------------------------------------------------------------


def _pen(colour: str, width: float = 2.0) -> QPen:
    pen = QPen(QColor(colour))
    pen.setWidthF(width)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen


def _paint_folder(p: QPainter, fill: str, edge: str, dashed: bool = False) -> None:
    path = QPainterPath()
    path.moveTo(3, 9)
    path.lineTo(3, 26)
    path.lineTo(29, 26)
    path.lineTo(29, 11)
    path.lineTo(15, 11)
    path.lineTo(12, 7)
    path.lineTo(4, 7)
    path.closeSubpath()
    pen = _pen(edge, 1.6)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
        p.setBrush(Qt.BrushStyle.NoBrush)
    else:
        p.setBrush(QColor(fill))
    p.setPen(pen)
    p.drawPath(path)


def _paint_grid(p: QPainter, colour: str) -> None:
    p.setPen(_pen(colour, 1.6))
    p.setBrush(QColor(colour).lighter(185))
    p.drawRoundedRect(QRectF(4, 4, 24, 24), 3, 3)
    for x in (12, 20):
        p.drawLine(QPointF(x, 4), QPointF(x, 28))
        p.drawLine(QPointF(4, x), QPointF(28, x))


def _paint_image(p: QPainter, colour: str) -> None:
    p.setPen(_pen(colour, 1.6))
    p.setBrush(QColor(colour).lighter(190))
    p.drawRoundedRect(QRectF(3, 5, 26, 22), 3, 3)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(colour))
    p.drawPolygon(QPolygonF([QPointF(5, 25), QPointF(13, 14), QPointF(18, 20), QPointF(21, 17), QPointF(27, 25)]))
    p.setBrush(QColor("#f59e0b"))
    p.drawEllipse(QPointF(22, 11), 2.6, 2.6)


def _paint_labels(p: QPainter) -> None:
    p.setPen(_pen("#86198f", 1.6))
    p.setBrush(QColor("#fdf4ff"))
    p.drawRoundedRect(QRectF(3, 5, 26, 22), 3, 3)
    p.setPen(Qt.PenStyle.NoPen)
    for colour, (x, y, r) in zip(("#db2777", "#f59e0b", "#0ea5e9"), ((11, 13, 4.5), (21, 12, 3.5), (17, 21, 4.0)),
                                 strict=True):
        p.setBrush(QColor(colour))
        p.drawEllipse(QPointF(x, y), r, r)


def _paint_plate(p: QPainter) -> None:
    p.setPen(_pen("#334155", 1.6))
    p.setBrush(QColor("#e2e8f0"))
    p.drawRoundedRect(QRectF(2, 7, 28, 19), 3, 3)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#0f766e"))
    for x in (8, 16, 24):
        for y in (12.5, 20.5):
            p.drawEllipse(QPointF(x, y), 2.6, 2.6)


def _paint_well(p: QPainter) -> None:
    p.setPen(_pen("#334155", 1.8))
    p.setBrush(QColor("#e2e8f0"))
    p.drawEllipse(QPointF(16, 16), 12, 12)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#0f766e"))
    p.drawEllipse(QPointF(16, 16), 6, 6)


def _paint_dataset(p: QPainter, colour: str) -> None:
    p.setPen(_pen(colour, 1.6))
    for i, shade in enumerate((175, 150, 120)):
        y = 6 + i * 6
        p.setBrush(QColor(colour).lighter(shade))
        p.drawPolygon(QPolygonF([QPointF(16, y), QPointF(28, y + 5), QPointF(16, y + 10), QPointF(4, y + 5)]))


def _paint_text_badge(p: QPainter, fill: str, text: str) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(fill))
    p.drawRoundedRect(QRectF(2, 5, 28, 22), 5, 5)
    font = QFont()
    font.setPixelSize(13)
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(QRectF(2, 5, 28, 22), int(Qt.AlignmentFlag.AlignCenter), text)


def _paint_sign(p: QPainter, fill: str, triangle: bool) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(fill))
    if triangle:
        p.drawPolygon(QPolygonF([QPointF(16, 3), QPointF(30, 28), QPointF(2, 28)]))
    else:
        p.drawEllipse(QPointF(16, 16), 13, 13)
    p.setPen(_pen("white" if not triangle else "#422006", 3.2))
    top, bottom = (11, 20) if triangle else (9, 18)
    p.drawLine(QPointF(16, top), QPointF(16, bottom))
    p.drawPoint(QPointF(16, bottom + 5))


def _paint_loading(p: QPainter) -> None:
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#94a3b8"))
    for x in (8, 16, 24):
        p.drawEllipse(QPointF(x, 16), 2.6, 2.6)


def kind_icon(key: str) -> QIcon:
    """A painted icon for a row kind (``group``, ``array``, ``ome-image``..., ``error``).

    Needs a ``QGuiApplication`` (an empty icon is returned without one); the model caches the
    icons it paints.
    """
    if QGuiApplication.instance() is None:
        return QIcon()
    pixmap = QPixmap(32, 32)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    try:
        painters: dict[str, Callable[[], None]] = {
            "group": lambda: _paint_folder(p, "#fcd34d", "#b45309"),
            "implicit": lambda: _paint_folder(p, "#fcd34d", "#b45309", dashed=True),
            "labels": lambda: _paint_folder(p, "#f5d0fe", "#86198f"),
            "array": lambda: _paint_grid(p, "#2563eb"),
            "ome-image": lambda: _paint_image(p, "#0f766e"),
            "label-image": lambda: _paint_labels(p),
            "plate": lambda: _paint_plate(p),
            "well": lambda: _paint_well(p),
            "dataset": lambda: _paint_dataset(p, "#1d4ed8"),
            "cf-dataset": lambda: _paint_dataset(p, "#7c3aed"),
            "nczarr": lambda: _paint_text_badge(p, "#c2410c", "nc"),
            "error": lambda: _paint_sign(p, "#dc2626", triangle=False),
            "failed": lambda: _paint_sign(p, "#dc2626", triangle=False),
            "warning": lambda: _paint_sign(p, "#facc15", triangle=True),
            "loading": lambda: _paint_loading(p),
        }
        painters.get(key, painters["group"])()
    finally:
        p.end()
    return QIcon(pixmap)


# -- the model -------------------------------------------------------------------------------


class HierarchyTreeModel(QStandardItemModel):
    """A lazily listed tree of one :class:`~zarr_browser.core.hierarchy.Hierarchy`.

    Rows are stored in Qt's C++ ``QStandardItemModel`` rather than a Python
    ``QAbstractItemModel``: ``QTreeView`` calls ``index()`` and ``flags()`` of *every* row of an
    expanded group each time it lays itself out (after every inserted page), and through Python
    that costs ~15 µs a row - 150 ms for a group of 10,000 arrays.  With C++ storage only
    ``hasChildren``/``canFetchMore``/``fetchMore`` run in Python, and only for group rows (arrays
    carry ``ItemNeverHasChildren``).  The listing logic (pages, placeholders, errors, reveal) is
    all here; the items only hold the values :meth:`data` returns.

    Parameters
    ----------
    runner
        Runs listings off the GUI thread (``ImmediateRunner`` in deterministic tests).
    registry
        The conventions used to summarize nodes (badges, kinds, dimension names).
    page_size
        Children listed per request; more pages follow as the view scrolls.
    """

    # roles
    NodeRole: Final = int(Qt.ItemDataRole.UserRole) + 1
    PathRole: Final = int(Qt.ItemDataRole.UserRole) + 2
    StateRole: Final = int(Qt.ItemDataRole.UserRole) + 3
    SummaryRole: Final = int(Qt.ItemDataRole.UserRole) + 4
    SortRole: Final = int(Qt.ItemDataRole.UserRole) + 5
    FilterRole: Final = int(Qt.ItemDataRole.UserRole) + 6
    BadgesRole: Final = int(Qt.ItemDataRole.UserRole) + 7
    KindRole: Final = int(Qt.ItemDataRole.UserRole) + 8
    GroupRole: Final = int(Qt.ItemDataRole.UserRole) + 9  # internal: the listing state of a group row

    # columns
    NAME_COLUMN: Final = 0
    KIND_COLUMN: Final = 1
    SHAPE_COLUMN: Final = 2
    DTYPE_COLUMN: Final = 3
    CONVENTIONS_COLUMN: Final = 4
    HEADERS: Final = ("Name", "Kind", "Shape", "dtype", "Conventions")

    # row states (StateRole)
    NODE: Final = NODE
    PENDING: Final = PENDING
    LOADING: Final = LOADING
    FAILED: Final = FAILED
    WARNING: Final = WARNING

    PAGE_SIZE: Final = 500
    #: rows inserted per event-loop turn when a page is bigger (revealPath deep in a huge group)
    BATCH_SIZE: Final = 500
    BATCH_SECONDS: Final = 0.012
    #: rows inserted per turn whatever the time (a few ms): a small page goes in at once
    MIN_BATCH_SIZE: Final = 50
    #: "List the other N children" asks for this many children at a time, the next part once the
    #: rows of one are in: one request for the 99,500 other children of a 100,000-array group
    #: showed none of them for 10 s.  (Reading the next part while rows go in was slower: both
    #: are Python work, and the GUI thread then waited for the GIL at every call into Python.)
    LIST_ALL_PART: Final = 5000

    #: number of listings in flight changed
    pendingChanged = Signal(int)
    #: a group could not be listed: (path, reason)
    listingFailed = Signal(str, str)
    #: a page of children was inserted: (group path, children loaded, children known)
    pageLoaded = Signal(str, int, int)
    #: a loaded node was read again from the store and its row shows the new node (its path)
    nodeUpdated = Signal(str)

    def __init__(self, *, runner: Runner, registry: ConventionRegistry, page_size: int = PAGE_SIZE,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._page_size = page_size
        self._hierarchy: Hierarchy | None = None
        self._items: dict[str, QStandardItem] = {}  # loaded node path -> its column-0 item
        self._requests: set[_Request] = set()
        self._rereads: dict[str, Task] = {}  # node path -> its re-read in flight
        self._reread_queue: dict[str, None] = {}  # rows rereadPaths reads again, in batches
        self._reread_batch: Task | None = None  # the batch in flight
        self._pending_reads: dict[Task, _Group] = {}  # reads of children a listing left pending
        self._icons: dict[str, QIcon] = {}
        self._queue: list[tuple[_Request, _Page, int]] = []  # pages being inserted in batches
        # rows made for the page going in, not inserted yet (see _rows_per_insert), and its request
        self._made: list[tuple[str, list[QStandardItem], Node | None]] = []
        self._made_for: _Request | None = None
        self._batch_timer = QTimer(self)
        self._batch_timer.setSingleShot(True)
        self._batch_timer.setInterval(0)
        self._batch_timer.timeout.connect(self._insert_next_batch)
        # read pending rows made node rows, in batches
        self._replacements: list[tuple[_Group, list[tuple[str, Node | None, NodeSummary | None, RowInfo | None]],
                                       int]] = []
        self._replace_timer = QTimer(self)
        self._replace_timer.setSingleShot(True)
        self._replace_timer.setInterval(0)
        self._replace_timer.timeout.connect(self._replace_next_batch)
        # fetchMore called by a slot of our own row signals waits for the next turn of the event loop
        self._changing_rows = 0
        self._deferred_fetches: list[QPersistentModelIndex] = []
        self._deferred_timer = QTimer(self)
        self._deferred_timer.setSingleShot(True)
        self._deferred_timer.setInterval(0)
        self._deferred_timer.timeout.connect(self._run_deferred_fetches)
        self.setColumnCount(len(self.HEADERS))
        self.setHorizontalHeaderLabels(list(self.HEADERS))

    # -- hierarchy ---------------------------------------------------------------------------
    def hierarchy(self) -> Hierarchy | None:
        """The hierarchy shown, or None."""
        return self._hierarchy

    def setHierarchy(self, hierarchy: Hierarchy | None, root_summary: NodeSummary | None = None) -> None:
        """Show *hierarchy* (already opened: its root is loaded); None empties the model.

        *root_summary* is the root's summary computed in a worker; when None it is computed
        here (pure, no I/O).
        """
        self.cancelPending()
        self._deferred_fetches = []
        self._replacements = []
        if self.rowCount():
            with self._rows_changing():
                self.removeRows(0, self.rowCount())
        self._items = {}
        self._hierarchy = hierarchy
        if hierarchy is not None:
            root = hierarchy.root
            summary = root_summary or summarize(root, None, self._registry)
            row = self._make_row(root, summary, describe_row(root, summary, name=self.rootName()))
            with self._rows_changing():
                self.appendRow(row)
        self.pendingChanged.emit(self.pendingCount())

    def rootName(self) -> str:
        """What the root row is called: the last part of the store's URL or path."""
        if self._hierarchy is None:
            return ""
        url = self._hierarchy.url.rstrip("/\\")
        return url.replace("\\", "/").rsplit("/", 1)[-1] or url

    # -- rows --------------------------------------------------------------------------------
    def _icon(self, key: str) -> QIcon:
        icon = self._icons.get(key)
        if icon is None:
            icon = self._icons[key] = kind_icon(key)
        return icon

    def _make_row(self, node: Node, summary: NodeSummary | None, info: RowInfo, *,
                  register: bool = True) -> list[QStandardItem]:
        """The items of one node row (column 0 carries the node, the others their texts); with
        *register*, :meth:`indexForPath` finds it (only rows in the model may be registered)."""
        row = [QStandardItem() for _ in range(5)]
        self._fill_row(row, node, summary, info, register=register)
        return row

    def _fill_row(self, row: Sequence[QStandardItem], node: Node, summary: NodeSummary | None, info: RowInfo, *,
                  reused: bool = False, register: bool = True) -> None:
        """Make *row* (new items, or a pending row's when *reused*) the row of *node*."""
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if not node.lists_children:
            flags |= Qt.ItemFlag.ItemNeverHasChildren
        texts = (info.name, info.kind_label, info.shape, info.dtype, info.badges_text)
        error = QBrush(QColor("#b91c1c")) if info.kind_key == "error" else None
        for column, text in enumerate(texts):
            item = row[column]
            item.setText(text)
            item.setFlags(flags)
            item.setData(node.path, self.PathRole)
            item.setData(NODE, self.StateRole)
            item.setData(info.sort_keys[column], self.SortRole)
            if error is not None or reused:
                item.setData(error, Qt.ItemDataRole.ForegroundRole)
            if reused:  # a pending row's tip on every column
                item.setData(None, Qt.ItemDataRole.ToolTipRole)
        first = row[0]
        first.setData(self._icon(info.kind_key), Qt.ItemDataRole.DecorationRole)
        first.setData(info.tooltip, Qt.ItemDataRole.ToolTipRole)
        first.setData(node, self.NodeRole)
        first.setData(summary, self.SummaryRole)
        first.setData(info.name, self.FilterRole)
        first.setData(info.kind_key, self.KindRole)
        if node.lists_children:
            first.setData(_Group(first), self.GroupRole)
        last = row[self.CONVENTIONS_COLUMN]
        last.setData(info.badges, self.BadgesRole)
        last.setData(info.badges_tooltip or None, Qt.ItemDataRole.ToolTipRole)  # else the row's (_RowTips)
        if register:
            self._items[node.path] = first

    def _update_row(self, first: QStandardItem, node: Node, summary: NodeSummary | None, info: RowInfo) -> None:
        """Show the re-read *node* in an existing row (refresh)."""
        parent = first.parent() or nonnull(self.invisibleRootItem())
        row = first.row()
        texts = (info.name, info.kind_label, info.shape, info.dtype, info.badges_text)
        for column, text in enumerate(texts):
            item = nonnull(parent.child(row, column))
            item.setText(text)
            item.setData(info.sort_keys[column], self.SortRole)
        first.setData(self._icon(info.kind_key), Qt.ItemDataRole.DecorationRole)
        first.setData(info.tooltip, Qt.ItemDataRole.ToolTipRole)
        first.setData(node, self.NodeRole)
        first.setData(summary, self.SummaryRole)
        first.setData(info.kind_key, self.KindRole)
        last = nonnull(parent.child(row, self.CONVENTIONS_COLUMN))
        last.setData(info.badges, self.BadgesRole)
        last.setData(info.badges_tooltip or None, Qt.ItemDataRole.ToolTipRole)  # else the row's (_RowTips)

    def addFound(self, path: str, found: Sequence[Detection]) -> None:
        """Badge the loaded group at *path* with *found* (what the inspector's worker found it to
        be beyond its documents); nothing when it is not loaded or knows it already."""
        item = self._items.get("/" + path.strip("/"))
        if item is not None:
            self._add_found(item, found)

    def _add_found(self, first: QStandardItem, found: Sequence[Detection]) -> None:
        """Badge a listed group with what its children say it is (an xarray dataset written
        without consolidated metadata) and its own documents could not."""
        node, summary = first.data(self.NodeRole), first.data(self.SummaryRole)
        if not isinstance(node, Node) or not isinstance(summary, NodeSummary):
            return
        known = {d.name for d in summary.conventions}
        extra = tuple(d for d in found if d.name not in known)
        if not extra:
            return
        summary = replace(summary, conventions=summary.conventions + extra)
        name = first.text() if node.path == "/" else None
        self._update_row(first, node, summary, describe_row(node, summary, name=name))

    def _append_placeholder(self, group: _Group, state: str, text: str) -> None:
        item = QStandardItem(text)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren)
        item.setData(state, self.StateRole)
        item.setData(group.item.data(self.PathRole), self.PathRole)
        item.setData(text, Qt.ItemDataRole.ToolTipRole)
        item.setData(self._icon(state), Qt.ItemDataRole.DecorationRole)
        colour = {LOADING: "#64748b", FAILED: "#b91c1c", WARNING: "#92400e"}[state]
        item.setData(QBrush(QColor(colour)), Qt.ItemDataRole.ForegroundRole)
        item.setData(_PLACEHOLDER_KEY + text, self.SortRole)  # placeholders sort after nodes
        if state == LOADING:
            font = QFont()
            font.setItalic(True)
            item.setData(font, Qt.ItemDataRole.FontRole)
        with self._rows_changing():
            group.item.appendRow(item)

    def _remove_placeholders(self, group: _Group, state: str) -> None:
        """Remove trailing placeholder rows of *state* (placeholders other than warnings are last)."""
        parent = group.item
        while parent.rowCount():
            last = parent.child(parent.rowCount() - 1, 0)
            if last is None or last.data(self.StateRole) != state:
                return
            with self._rows_changing():
                parent.removeRow(parent.rowCount() - 1)

    # -- pending work ------------------------------------------------------------------------
    def hasPendingOperations(self) -> bool:
        """Whether listings or re-reads are in flight or being inserted (tests wait on this)."""
        return bool(self._requests or self._deferred_fetches or self._rereads or self._pending_reads
                    or self._replacements or self._reread_queue or self._reread_batch)

    def pendingCount(self) -> int:
        return len(self._requests) + len(self._pending_reads)

    def cancelPending(self) -> None:
        """Cancel every listing and re-read in flight; their groups show a *cancelled* failure row."""
        rereads, self._rereads = self._rereads, {}
        for task in rereads.values():
            task.cancel()
        batch, self._reread_batch = self._reread_batch, None
        self._reread_queue = {}
        if batch is not None:
            batch.cancel()
        reads, self._pending_reads = self._pending_reads, {}
        for task, group in reads.items():
            task.cancel()
            for item in group.pending.values():
                item.setText(f"{item.text()} (cancelled: refresh to try again)")
                item.setData(FAILED, self.StateRole)
            group.pending = {}
        for request in list(self._requests):
            self._cancel(request, show=True)

    def _cancel(self, request: _Request, *, show: bool) -> None:
        if request.task is not None:
            request.task.cancel()
        request.cancelled = True
        self._queue = [entry for entry in self._queue if entry[0] is not request]
        if self._made_for is request:  # rows made for it and not in the model yet
            self._made, self._made_for = [], None
        self._settle(request)
        group = request.group
        if group.request is request:
            group.request = None
            left = self._unlisted(group)
            if show and group.by_name and group.listing == _LISTED and left > 0:
                # stopped part-way: the rows listed stay, the rest on request (not by scrolling)
                group.stopped, group.has_more = True, True
                self._remove_placeholders(group, LOADING)
                self._append_placeholder(group, FAILED, f"stopped: {left:,} more children not listed "
                                                        "(List the other children in the context menu)")
                self.pageLoaded.emit(group.item.data(self.PathRole), len(group.names) - left, len(group.names))
            elif show:
                self._set_failed(group, "cancelled (refresh to try again)")
        self._wake(group)

    def _resume(self, group: _Group) -> None:
        """A group whose listing the user stopped part-way is listed again from there (its
        *stopped* row goes away)."""
        if group.stopped:
            group.stopped = False
            self._remove_placeholders(group, FAILED)

    def _cancel_group(self, group: _Group) -> None:
        """Cancel every listing of *group*: with "list every child", a part may still be going in
        while the next one is read."""
        for request in [r for r in self._requests if r.group is group]:
            self._cancel(request, show=False)

    def _settle(self, request: _Request) -> None:
        if not request.done:
            request.done = True
            self._requests.discard(request)
            self.pendingChanged.emit(self.pendingCount())

    # -- lazy children (the only model methods overridden in Python) ---------------------------
    def _group(self, index: QModelIndex) -> _Group | None:
        if not index.isValid() or index.column() != 0:
            return None
        group = index.data(self.GroupRole)
        return group if isinstance(group, _Group) else None

    def hasChildren(self, parent: QModelIndex = QModelIndex()) -> bool:  # noqa: B008
        group = self._group(parent)
        if group is not None and group.listing in (_UNLISTED, _LISTING):
            return True
        return super().hasChildren(parent)

    def canFetchMore(self, parent: QModelIndex) -> bool:
        group = self._group(parent)
        if group is None or group.request is not None or group.stopped:
            return False
        return group.listing == _UNLISTED or (group.listing == _LISTED and group.has_more)

    def fetchMore(self, parent: QModelIndex) -> None:
        group = self._group(parent)
        if group is not None and self.canFetchMore(parent):
            if self._changing_rows:
                # called by a slot of the rows signals being emitted (Qt's model tester does that
                # from rowsInserted): inserting the Loading… row now would nest in that change
                self._deferred_fetches.append(QPersistentModelIndex(parent))
                self._deferred_timer.start()
                return
            self._fetch(group)

    def fetchAll(self, parent: QModelIndex) -> None:
        """List every child of the group at *parent* still unlisted (Esc, :meth:`cancelPending`,
        stops it).  The children are asked for :attr:`LIST_ALL_PART` at a time, so they show
        as they are read."""
        group = self._group(parent)
        if group is not None and group.request is None:
            self._resume(group)  # go on where the user stopped
        if group is None or group.request is not None or not self.canFetchMore(parent):
            return
        self._fetch(group, limit=max(self._page_size, self.LIST_ALL_PART), rest=True)

    def isListingAll(self, path: str) -> bool:
        """Whether "list every child" (:meth:`fetchAll`) of the group at *path* is under way."""
        group = self._group_at(path)
        return group is not None and any(r.rest for r in self._requests if r.group is group)

    def isStopped(self, path: str) -> bool:
        """Whether the listing of the group at *path* was stopped part-way (more on request)."""
        group = self._group_at(path)
        return group is not None and group.stopped

    def _group_at(self, path: str) -> _Group | None:
        item = self._items.get(path)
        group = item.data(self.GroupRole) if item is not None else None
        return group if isinstance(group, _Group) else None

    @staticmethod
    def _unlisted(group: _Group) -> int:
        """Children of *group* without a row (rows shown ahead of the listing are not counted)."""
        return max(0, len(group.names) - len(group.by_name) - len(group.pending))

    def unlistedCount(self, parent: QModelIndex) -> int | None:
        """Children of the group at *parent* not listed yet (None: not known before a first page)."""
        group = self._group(parent)
        if group is None or group.listing != _LISTED:
            return None
        return self._unlisted(group) if group.has_more else 0

    @contextmanager
    def _rows_changing(self) -> Iterator[None]:
        """Around every insertion and removal of rows: ``fetchMore`` meanwhile is deferred."""
        self._changing_rows += 1
        try:
            yield
        finally:
            self._changing_rows -= 1

    def _run_deferred_fetches(self) -> None:
        deferred, self._deferred_fetches = self._deferred_fetches, []
        for persistent in deferred:
            index = QModelIndex(persistent)  # invalid once the row was removed meanwhile
            if index.isValid():
                self.fetchMore(index)  # nothing when it was fetched meanwhile

    # -- paths -------------------------------------------------------------------------------
    def isLoaded(self, path: str) -> bool:
        """Whether the node at *path* has a row (a dictionary lookup; no index is made)."""
        return path in self._items

    def loadedCount(self) -> int:
        """Node rows loaded so far."""
        return len(self._items)

    def indexForPath(self, path: str, column: int = 0) -> QModelIndex:
        """The index of the loaded node at *path*, or an invalid index."""
        item = self._items.get("/" + path.strip("/"))
        if item is None:
            return QModelIndex()
        index = item.index()
        return index if column == 0 else index.siblingAtColumn(column)

    def pathForIndex(self, index: QModelIndex) -> str | None:
        """The node path of *index* (None for placeholders and invalid indexes)."""
        if not index.isValid() or index.data(self.StateRole) != NODE:
            return None
        return index.data(self.PathRole)

    def revealPath(self, path: str, callback: Callable[[QModelIndex], None] | None = None) -> None:
        """List the ancestors of *path* as needed, then call *callback* with its index.

        The callback receives an invalid index when the node does not exist or a listing
        failed.  Pages up to the wanted child are requested at once (no page-by-page walk).
        """
        done = callback or (lambda _index: None)
        item = self._items.get("/")
        if item is None:
            done(QModelIndex())
            return
        for part in (p for p in path.strip("/").split("/") if p):
            group = item.data(self.GroupRole)
            if not isinstance(group, _Group):  # an array or an error node: nothing below it
                done(QModelIndex())
                return
            child = group.by_name.get(part)
            if child is not None:
                item = child
                continue
            if group.request is not None or part in group.pending:  # on its way: try again when it lands
                group.waiters.append(lambda: self.revealPath(path, callback))
                return
            if group.listing == _UNLISTED or (group.listing == _LISTED and group.has_more and part in group.names):
                limit = self._page_size
                if part in group.names:
                    limit = max(limit, group.names.index(part) + 1 - group.next_offset)
                group.waiters.append(lambda: self.revealPath(path, callback))
                if limit > self.REVEAL_AHEAD_AFTER:  # far down a big group: read that child alone
                    self._show_ahead(group, part)
                else:
                    self._fetch(group, limit=limit)
                return
            done(QModelIndex())  # listed (or failed) and not there
            return
        done(item.index())

    REVEAL_AHEAD_AFTER = 2000
    """Revealing a child more than this many rows past the rows listed reads that child alone
    and shows it after them, ahead of the listing; listing every row before it took seconds
    and a gigabyte on a 100,000-array group (the listing skips it when it gets there)."""

    def _show_ahead(self, group: _Group, name: str) -> None:
        """Show the child *name* of *group* after the rows listed, before the rows between them."""
        parent = group.item.data(self.PathRole)
        skipped = group.names.index(name) - group.next_offset
        info = pending_row(name)
        info = replace(info, tooltip=f"{info.tooltip}\n(shown ahead of its listing: the {skipped:,} rows "
                                     "before it are listed when you scroll down)")
        row = self._make_pending_row(group, info, name)
        group.pending[name] = row[0]
        with self._rows_changing():
            group.item.appendRow(row)
        self._read_pending(group, [join_path(parent, name)])

    def _wake(self, group: _Group) -> None:
        waiters, group.waiters = group.waiters, []
        for waiter in waiters:
            waiter()

    # -- loading -----------------------------------------------------------------------------
    def refresh(self, index: QModelIndex) -> None:
        """Re-read the node at *index* and list it again (forgets what is cached below it)."""
        path = self.pathForIndex(index.siblingAtColumn(0) if index.isValid() else index)
        if path is not None:
            self.refreshPath(path)

    def refreshPath(self, path: str) -> None:
        """Re-read the node at *path* from the store and list it again."""
        item = self._items.get("/" + path.strip("/"))
        if item is None or self._hierarchy is None:
            return
        group = item.data(self.GroupRole)
        if not isinstance(group, _Group):
            group = _Group(item)  # arrays get a throw-away state for the re-read
        self._forget_children(group)
        self._fetch(group, refresh=True)

    def rereadPath(self, path: str) -> None:
        """Read the node at *path* again and show it in its row, keeping the rows below it.

        For a node whose own documents changed (a save): its children, their expansion and the
        selection stay as they are.  :attr:`nodeUpdated` follows once the row shows the new node.
        """
        path = "/" + path.strip("/")
        item = self._items.get(path)
        if item is None or self._hierarchy is None:
            return
        hierarchy = self._hierarchy
        previous = self._rereads.pop(path, None)
        if previous is not None:
            previous.cancel()

        def done(result: _Reread) -> None:
            self._rereads.pop(path, None)
            current = self._items.get(path)
            if self._hierarchy is not hierarchy or current is None:
                return  # another store, or the row went away meanwhile
            self._show_reread(current, result)
            self.nodeUpdated.emit(path)

        group = item.data(self.GroupRole)
        shown = list(group.by_name.values())[:MAX_REREAD_CHILDREN] if isinstance(group, _Group) else []
        children = [p for p in (row.data(self.PathRole) for row in shown) if isinstance(p, str)]

        def failed(err: BaseException) -> None:
            self._rereads.pop(path, None)
            if self._hierarchy is hierarchy:
                self.listingFailed.emit(path, _reason(err))

        task = self._runner.submit(_reread_node, hierarchy, self._registry, path, self.rootName(), children,
                                   on_done=done, on_error=failed)
        if not task.done:
            self._rereads[path] = task

    def rereadPaths(self, paths: Iterable[str]) -> None:
        """:meth:`rereadPath` of many rows (a save of 10,000 arrays): read again in a worker
        :data:`REREAD_BATCH` rows at a time, one batch after another, each batch shown in one
        turn of the event loop.  One worker task and one callback per row, as before, took
        1 s of the GUI thread for 7,000 rows and flooded the runner (audit K)."""
        for path in paths:
            self._reread_queue["/" + path.strip("/")] = None
        self._next_reread_batch()

    def _next_reread_batch(self) -> None:
        hierarchy = self._hierarchy
        if self._reread_batch is not None or hierarchy is None:
            return
        wanted: list[tuple[str, list[str]]] = []
        while self._reread_queue and len(wanted) < REREAD_BATCH:
            path = next(iter(self._reread_queue))
            del self._reread_queue[path]
            item = self._items.get(path)
            if item is None:
                continue  # not listed: nothing shows it
            group = item.data(self.GroupRole)
            shown = list(group.by_name.values())[:MAX_REREAD_CHILDREN] if isinstance(group, _Group) else []
            wanted.append((path, [p for p in (row.data(self.PathRole) for row in shown) if isinstance(p, str)]))
        if not wanted:
            return

        def done(results: list[tuple[str, _Reread | BaseException]]) -> None:
            self._reread_batch = None
            if self._hierarchy is not hierarchy:
                return  # another store meanwhile
            for path, result in results:
                current = self._items.get(path)
                if isinstance(result, BaseException):
                    self.listingFailed.emit(path, _reason(result))
                elif current is not None and path not in self._rereads:  # (one of its own is newer)
                    self._show_reread(current, result)
                    self.nodeUpdated.emit(path)
            self._next_reread_batch()

        def failed(err: BaseException) -> None:
            self._reread_batch = None
            if self._hierarchy is hierarchy:
                self.listingFailed.emit(wanted[0][0], _reason(err))
                self._next_reread_batch()

        task = self._runner.submit(_reread_nodes, hierarchy, self._registry, self.rootName(), wanted,
                                   on_done=done, on_error=failed)
        if not task.done:
            self._reread_batch = task

    def _show_reread(self, item: QStandardItem, result: _Reread) -> None:
        self._update_row(item, result.node, result.summary, result.info)
        for child in result.children:
            row = self._items.get(child.node.path)
            if row is not None:
                self._update_row(row, child.node, child.summary, child.info)

    def _forget_children(self, group: _Group) -> None:
        """Cancel listings below *group* and remove its rows."""
        path = group.item.data(self.PathRole)
        prefix = path.rstrip("/") + "/"
        for key in [k for k in self._items if k.startswith(prefix) and k != path]:  # "/" starts with "/"
            below = self._items.pop(key).data(self.GroupRole)
            if isinstance(below, _Group):
                self._cancel_group(below)
        self._cancel_group(group)
        if group.item.rowCount():
            with self._rows_changing():
                group.item.removeRows(0, group.item.rowCount())
        group.by_name = {}
        group.pending = {}
        group.stopped = False
        group.listing = _UNLISTED
        group.names = ()
        group.next_offset = 0
        group.has_more = False

    def _fetch(self, group: _Group, *, limit: int | None = None, refresh: bool = False, rest: bool = False) -> None:
        assert self._hierarchy is not None
        self._resume(group)  # (revealPath of a child not listed yet, say)
        node = group.item.data(self.NodeRole)
        offset = 0 if refresh else group.next_offset
        request = _Request(group, offset, limit or self._page_size, rest=rest)
        group.request = request
        if group.listing != _LISTED or refresh:
            group.listing = _LISTING
        self._requests.add(request)
        self.pendingChanged.emit(self.pendingCount())
        request.task = self._runner.submit(
            _list_page, self._hierarchy, self._registry, node, request.offset, request.limit, refresh, self.rootName(),
            on_done=lambda page: self._on_page(request, page),
            on_error=lambda err: self._on_error(request, err),
        )
        # The placeholder goes in only when the answer is not already here: a synchronous runner
        # answers inside fetchMore, which QTreeView may call while it lays itself out - appending
        # rows there is fine (the Fetch More pattern), removing a placeholder is not.
        if not request.answered and node.lists_children and not (rest and group.by_name):
            # (the next part of "list every child" has none: the status bar counts the rows, and
            # adding and removing it made QTreeView lay out all the rows twice more per part)
            self._append_placeholder(group, LOADING, "Loading…")

    def _on_page(self, request: _Request, page: _Page) -> None:
        group = request.group
        request.answered = True
        if request.cancelled or group.request is not request:
            return
        self._remove_placeholders(group, LOADING)
        if page.node is not None and page.node_info is not None:  # refreshed: the node itself may have changed
            self._update_row(group.item, page.node, page.node_summary, page.node_info)
            self.nodeUpdated.emit(page.node.path)
        self._add_found(group.item, page.found)
        listing = page.listing
        group.names = listing.names
        if request.offset == 0 and not listing.complete:
            self._append_placeholder(
                group, WARNING, f"could not list: {listing.error}; showing children declared by metadata"
            )
        self._queue.append((request, page, 0))
        self._insert_next_batch()

    def _insert_next_batch(self) -> None:
        """Insert the next batch of queued rows; schedules itself while rows remain."""
        if not self._queue:
            return
        request, page, start = self._queue.pop(0)
        group = request.group
        # at most BATCH_SIZE rows and about BATCH_SECONDS of GUI time per turn of the event loop
        deadline = time.perf_counter() + self.BATCH_SECONDS
        end = start
        names = page.listing.names
        if self._made_for is not request:
            self._made, self._made_for = [], request
        made = self._made
        for node, summary, info in page.rows[start : start + self.BATCH_SIZE]:
            name = names[page.listing.offset + end]  # the rows follow the listing's names (info.name is escaped)
            end += 1
            if name in group.by_name or name in group.pending:  # shown ahead of the listing (revealPath)
                continue
            if node is None:
                made.append((name, self._make_pending_row(group, info, name), None))
            else:
                made.append((name, self._make_row(node, summary, info, register=False), node))
            if end - start >= self.MIN_BATCH_SIZE and time.perf_counter() > deadline:
                break
        if end < len(page.rows) and len(made) < self._rows_per_insert(group):
            self._queue.insert(0, (request, page, end))  # more rows are made before they go in
            self._batch_timer.start()
            return
        self._insert_made(group)
        if end < len(page.rows):
            self._queue.insert(0, (request, page, end))
            self._batch_timer.start()
            return
        listing = page.listing
        group.next_offset = listing.end
        group.has_more = listing.has_more and listing.end > listing.offset
        group.listing = _LISTED
        group.request = None
        if listing.pending:
            self._read_pending(group, [join_path(listing.path, name) for name in listing.pending])
        if request.rest and group.has_more:  # (a cancelled request's rows never get here)
            self._fetch(group, limit=request.limit, rest=True)  # the next part ("list every child")
        self._settle(request)
        self.pageLoaded.emit(group.item.data(self.PathRole), group.next_offset, len(listing.names))
        self._wake(group)
        if self._queue:
            self._batch_timer.start()

    def _rows_per_insert(self, group: _Group) -> int:
        """Rows made before they go in together: every insertion into an expanded group makes
        QTreeView lay out all its rows again (~50 ms at 100,000 rows), so a big group takes
        bigger, rarer insertions (one per turn listed 100,000 rows in ~270 layouts; up to 2,000
        rows at a time stalled the window 129-136 ms, up to 1,000 92-99 ms)."""
        return max(1, min(self.MAX_ROWS_PER_INSERT, group.item.rowCount() // 25))

    MAX_ROWS_PER_INSERT: Final = 1000

    def _insert_made(self, group: _Group) -> None:
        """Insert the rows made for the page going in (:attr:`_made`), and register them."""
        made, self._made, self._made_for = self._made, [], None
        for name, row, node in made:
            if node is None:
                group.pending[name] = row[0]
            else:
                group.by_name[name] = row[0]
                self._items[node.path] = row[0]
            with self._rows_changing():
                group.item.appendRow(row)

    def _replace_next_batch(self) -> None:
        """Turn the next read pending rows into node rows, in place: about BATCH_SECONDS of GUI
        time per turn of the event loop (removing and inserting each row through the sorting
        proxy froze the window for 50–100 s on a 100,000-row group over HTTP; audit C)."""
        if not self._replacements:
            return
        group, rows, start = self._replacements.pop(0)
        deadline = time.perf_counter() + self.BATCH_SECONDS
        end = start
        for path, node, summary, info in rows[start:]:
            end += 1
            name = path.rsplit("/", 1)[-1]
            item = group.pending.pop(name, None)  # None: the group was refreshed meanwhile
            if item is None:
                continue
            at = item.row()
            if node is not None and info is not None:
                items = [nonnull(group.item.child(at, column)) for column in range(5)]
                self.blockSignals(True)  # one dataChanged for the row, not one per role and column
                try:
                    self._fill_row(items, node, summary, info, reused=True)
                finally:
                    self.blockSignals(False)
                parent = group.item.index()
                self.dataChanged.emit(self.index(at, 0, parent), self.index(at, 4, parent))
                group.by_name[name] = items[0]
            else:  # not a node after all (a stray file)
                with self._rows_changing():
                    group.item.removeRow(at)
                if name in group.names:
                    group.names = tuple(n for n in group.names if n != name)
            if time.perf_counter() > deadline:
                break
        if end < len(rows):
            self._replacements.insert(0, (group, rows, end))
        else:
            self._wake(group)
        if self._replacements:
            self._replace_timer.start()

    def _make_pending_row(self, group: _Group, info: RowInfo, name: str) -> list[QStandardItem]:
        """The row of the child *name* still being read: its name, greyed, not selectable."""
        path = join_path(group.item.data(self.PathRole), name)
        texts = (info.name, info.kind_label, "", "", "")
        row = []
        for column, text in enumerate(texts):
            item = QStandardItem(text)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren)
            item.setData(path, self.PathRole)
            item.setData(PENDING, self.StateRole)
            item.setData(info.sort_keys[column], self.SortRole)
            item.setData(info.tooltip, Qt.ItemDataRole.ToolTipRole)
            item.setData(QBrush(QColor("#64748b")), Qt.ItemDataRole.ForegroundRole)
            row.append(item)
        row[0].setData(self._icon(LOADING), Qt.ItemDataRole.DecorationRole)
        row[0].setData(info.name, self.FilterRole)
        return row

    PENDING_READ_CHUNK: Final = 500
    """Pending rows read per task: rows come in as their chunk is read, not all at the end."""

    def _read_pending(self, group: _Group, paths: list[str]) -> None:
        """Replace the pending rows of *paths* (below *group*) once their nodes are read."""
        for start in range(0, len(paths), self.PENDING_READ_CHUNK):
            self._read_pending_chunk(group, paths[start : start + self.PENDING_READ_CHUNK])

    def _read_pending_chunk(self, group: _Group, paths: list[str]) -> None:
        assert self._hierarchy is not None
        hierarchy = self._hierarchy
        parent = group.item.data(self.NodeRole)
        task: Task | None = None

        def settle() -> None:
            if task is not None:
                self._pending_reads.pop(task, None)
            self.pendingChanged.emit(self.pendingCount())

        def done(rows: list[tuple[str, Node | None, NodeSummary | None, RowInfo | None]]) -> None:
            settle()
            if self._hierarchy is not hierarchy:
                return
            self._replacements.append((group, rows, 0))
            self._replace_timer.start()

        def failed(err: BaseException) -> None:
            settle()
            if self._hierarchy is not hierarchy:
                return
            reason = _reason(err)
            for path in paths:
                item = group.pending.pop(path.rsplit("/", 1)[-1], None)
                if item is not None:
                    item.setText(f"{item.text()} (failed: {reason})")
                    item.setData(FAILED, self.StateRole)
            self._wake(group)
            self.listingFailed.emit(group.item.data(self.PathRole), reason)

        task = self._runner.submit(_read_rows, hierarchy, self._registry, parent, paths, on_done=done, on_error=failed)
        if not task.done:
            self._pending_reads[task] = group
            self.pendingChanged.emit(self.pendingCount())

    def _on_error(self, request: _Request, err: BaseException) -> None:
        group = request.group
        request.answered = True
        if request.cancelled or group.request is not request:
            return
        if not isinstance(err, ZarrBrowserError | OSError | TimeoutError):
            logger.error("listing %s failed", group.item.data(self.PathRole), exc_info=err)
        group.request = None
        reason = _reason(err)
        self._set_failed(group, reason)
        self._settle(request)
        self.listingFailed.emit(group.item.data(self.PathRole), reason)
        self._wake(group)

    def _set_failed(self, group: _Group, reason: str) -> None:
        self._remove_placeholders(group, LOADING)
        group.listing = _LISTED if group.by_name else _FAILED
        group.has_more = False
        self._append_placeholder(group, FAILED, f"failed: {reason}")
