"""The browser panel: filter box, lazy tree, "matches not loaded yet" list and the inspector.

:class:`BrowserPanel` is the part of the browser shared by the standalone window
(:class:`~zarr_browser.qt.window.BrowserWindow`, tree and inspector side by side) and the
napari dock (``zarr_browser._widget``, the inspector below the tree).  It owns the model, the
filter proxy, the tree and its context menu, opening a store through the runner (errors shown in
its error bar, never as a traceback), selecting and revealing nodes, refresh and validation.

What it cannot do itself it reports through signals: :attr:`BrowserPanel.statusMessage` for
transient messages, :attr:`BrowserPanel.busyChanged` for the work under way,
:attr:`BrowserPanel.nodeActivated` when a row is double-clicked or Enter is pressed on it, and
:attr:`BrowserPanel.openInNapariRequested` for the context-menu action "Open in napari" (shown
only after :meth:`BrowserPanel.setOpenInNapari`).  This module never imports napari.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from qtpy.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from qtpy.QtGui import (
    QAction,
    QColor,
    QCursor,
    QFontMetrics,
    QGuiApplication,
    QHelpEvent,
    QKeyEvent,
    QKeySequence,
    QPainter,
)
from qtpy.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QToolTip,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.model import parent_path
from zarr_browser.core.redact import redact_text
from zarr_browser.core.snippets import snippets
from zarr_browser.errors import ZarrBrowserError
from zarr_browser.qt._typed import nonnull
from zarr_browser.qt.filter_model import HierarchyFilterModel
from zarr_browser.qt.inspector import Inspector
from zarr_browser.qt.shortcuts import set_tip
from zarr_browser.qt.tree_model import HierarchyTreeModel

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import Node
    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.core.summary import NodeSummary
    from zarr_browser.core.validate import ValidationReport
    from zarr_browser.qt.workers import Runner, Task

__all__ = ["BadgeDelegate", "BrowserPanel", "ErrorBar", "StoreView", "absolute_url"]

logger = logging.getLogger(__name__)

NAPARI_TOOLTIP = "needs the napari plugin"

#: how the tree makes a row current: the row alone is selected
_SELECT_ROW = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows


class BadgeDelegate(QStyledItemDelegate):
    """Paints the Conventions column as coloured pills (``BadgesRole``)."""

    def paint(self, painter: QPainter | None, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        badges = index.data(HierarchyTreeModel.BadgesRole)
        if not badges or painter is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = nonnull(widget.style() if widget is not None else QApplication.style())
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = opt.font
        font.setPointSizeF(max(font.pointSizeF() - 1, 7))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        rect = opt.rect.adjusted(3, 2, -3, -2)
        height = min(rect.height(), metrics.height() + 2)
        x = float(rect.left())
        y = rect.top() + (rect.height() - height) / 2
        for text, colour in badges:
            width = metrics.horizontalAdvance(text) + 10
            if x + width > rect.right():
                painter.setPen(opt.palette.text().color())
                painter.drawText(QRectF(x, y, max(rect.right() - x, 0), height),
                                 int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), "…")
                break
            pill = QRectF(x, y, width, height)
            fill = QColor(colour)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(pill, height / 2, height / 2)
            painter.setPen(QColor("white"))
            painter.drawText(pill, int(Qt.AlignmentFlag.AlignCenter), text)
            x += width + 4
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        hint = super().sizeHint(option, index)
        badges = index.data(HierarchyTreeModel.BadgesRole)
        if badges:
            metrics = QFontMetrics(option.font)
            hint.setWidth(sum(metrics.horizontalAdvance(text) + 14 for text, _ in badges) + 6)
        return hint


class ErrorBar(QFrame):
    """A non-modal, dismissable error message (red), or a notice (neutral: what the user asked for
    happened, with more to say than the status bar holds, such as a save they stopped)."""

    STYLES: Final = {
        "error": "#errorBar { background: #fee2e2; border: 1px solid #fca5a5; border-radius: 4px; }"
                 "#errorBar QLabel { color: #7f1d1d; }",
        "notice": "#errorBar { background: #f1f5f9; border: 1px solid #cbd5e1; border-radius: 4px; }"
                  "#errorBar QLabel { color: #1e293b; }",
    }

    visibilityChanged = Signal(bool)
    """Shown or hidden (the window lets Esc dismiss it while it shows)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBar")
        self._kind = "error"
        self.setStyleSheet(self.STYLES["error"])
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def showError(self, message: str) -> None:
        self._show("error", message)

    def showNotice(self, message: str) -> None:
        """Show *message* in neutral colours: not an error."""
        self._show("notice", message)

    def kind(self) -> str:
        """``"error"`` or ``"notice"``: what the message shown (or last shown) is."""
        return self._kind

    def _show(self, kind: str, message: str) -> None:
        if kind != self._kind:
            self._kind = kind
            self.setStyleSheet(self.STYLES[kind])
        self.label.setText(message)
        self.show()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.visibilityChanged.emit(True)

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.visibilityChanged.emit(False)

    def text(self) -> str:
        return self.label.text() if not self.isHidden() else ""


@dataclass(frozen=True, slots=True)
class _Opened:
    """An opened store, its root's summary, and the node the URL named inside it ("/": the root)."""

    hierarchy: Hierarchy
    summary: NodeSummary
    node: str = "/"


@dataclass(frozen=True, slots=True)
class StoreView:
    """A store the panel showed and what its tree looked like when another replaced it: what
    :meth:`BrowserPanel.showView` needs to show it again at once, as it was left (the napari
    dock keeps the stores its layers read from; choosing one of those layers reopened and
    relisted the store, and forgot the groups expanded: audit G, 5)."""

    hierarchy: Hierarchy
    summary: NodeSummary | None
    storage_options: dict[str, Any]
    requested_url: str
    requested_node: str
    expanded: frozenset[str]
    current: str | None
    history: tuple[str, ...]
    history_at: int


def _open_hierarchy(url: str, storage_options: dict[str, Any], registry: ConventionRegistry,
                    policy: RequestPolicy | None, writable: bool = False) -> _Opened:
    """Worker: open the store (for writing when *writable*) and summarize its root.

    Read-only, a URL inside a hierarchy (a pyramid level, a variable, a folder inside a store) opens
    the store that encloses it, and the node is shown there, with what its parents say about it.
    """
    from zarr_browser.core.enclosing import open_enclosing
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.summary import summarize

    if writable:
        hierarchy, node = Hierarchy.open(url, storage_options=storage_options or None, policy=policy, mode="r+",
                                         hints=registry.child_hints), "/"
    else:
        hierarchy, node = open_enclosing(url, registry, storage_options=storage_options, policy=policy)
    return _Opened(hierarchy, summarize(hierarchy.root, None, registry), node)


def absolute_url(url: str) -> str:
    """*url* with a local path made absolute (a recent store then opens the same folder from anywhere)."""
    return url if "://" in url else os.path.abspath(os.path.expanduser(url))


def _validate(hierarchy: Hierarchy, registry: ConventionRegistry, path: str, task_holder: list[Task]) -> ValidationReport:
    from zarr_browser.core.validate import validate_hierarchy

    cancel = task_holder[0].cancel_event if task_holder else None
    return validate_hierarchy(hierarchy, registry, path=path, cancel=cancel)


class _RowTips(QObject):
    """Tooltips of the tree's cells without one of their own (Kind, Shape, dtype, Conventions
    without badges): the row's (its path, shape, dtype, chunks, codecs...), so that a Shape cut
    off in a narrow dock can be read.

    Looked up when asked, not stored in every cell: 100,000 rows would each carry the text."""

    def __init__(self, tree: QTreeView) -> None:
        super().__init__(tree)
        self._tree = tree

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None or event.type() != QEvent.Type.ToolTip or not isinstance(event, QHelpEvent):
            return False
        index = self._tree.indexAt(event.pos())
        if not index.isValid() or index.column() == 0 or index.data(Qt.ItemDataRole.ToolTipRole):
            return False
        tip = index.siblingAtColumn(0).data(Qt.ItemDataRole.ToolTipRole)
        if not tip:
            return False
        QToolTip.showText(event.globalPos(), str(tip), self._tree.viewport(), self._tree.visualRect(index))
        return True


class _ActivationFilter(QObject):
    """Keys of the tree: Enter / Return is ``activate(index)`` (double-clicks come from the view);
    ``*`` starts a wildcard in the filter box (QTreeView's own ``*`` expands everything below,
    listing every group of a lazy tree on the GUI thread: minutes on 10,000 groups); Shift+F10
    opens the context menu of the current row, as the Menu key does."""

    def __init__(self, activate: Callable[[QModelIndex], None], type_filter: Callable[[str], None],
                 context_menu: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._activate = activate
        self._type_filter = type_filter
        self._context_menu = context_menu

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if event is None or event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent) \
                or not isinstance(watched, QTreeView):
            return False
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and watched.currentIndex().isValid():
            self._activate(watched.currentIndex())
            return True
        if key == Qt.Key.Key_Asterisk:
            self._type_filter(event.text() or "*")
            return True
        if key == Qt.Key.Key_F10 and event.modifiers() == Qt.KeyboardModifier.ShiftModifier:
            self._context_menu()
            return True
        return False


class _FilterKeys(QObject):
    """Esc in the filter box clears it; an empty box leaves Esc to the window (cancel loading).
    Down and Enter go to the tree (*to_tree*), at the first match."""

    def __init__(self, to_tree: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._to_tree = to_tree

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if not isinstance(watched, QLineEdit) or event is None:
            return False
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and event.key() in (
                Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._to_tree()
            return True
        if not watched.text():
            return False
        if event.type() in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) and isinstance(event, QKeyEvent) \
                and event.key() == Qt.Key.Key_Escape and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if event.type() == QEvent.Type.ShortcutOverride:
                event.accept()  # the key goes to the line edit, not to a window-wide Esc shortcut
                return True
            watched.clear()
            return True
        return False


class BrowserPanel(QWidget):
    """Filter box, lazy tree and "matches not loaded yet" list, with the inspector in a splitter.

    Parameters
    ----------
    runner
        Runs every store operation off the GUI thread.
    registry
        Conventions used for badges, kinds, hints and validation.
    policy
        Request deadlines and retries for the stores opened by :meth:`openStore`.
    orientation
        ``Horizontal``: the inspector right of the tree (the window); ``Vertical``: below it
        (a narrow dock).
    """

    #: a store was opened by :meth:`openStore` (its URL)
    storeOpened = Signal(str)
    #: opening failed: (url, reason)
    openFailed = Signal(str, str)
    #: the store shown was replaced by another (:meth:`openStore`, :meth:`showView`): its
    #: :class:`StoreView`, emitted once the other is shown, when :attr:`closesReplacedStores` is false
    storeSetAside = Signal(object)
    #: a subtree was validated: (path, ValidationReport)
    validationFinished = Signal(str, object)
    #: a node row was double-clicked or Enter was pressed on it (its path)
    nodeActivated = Signal(str)
    #: the context-menu action "Open in napari" was chosen on a node (its path)
    openInNapariRequested = Signal(str)
    #: the current node changed (its path; "" when no node row is current)
    currentPathChanged = Signal(str)
    #: a transient message for a status bar: (text, timeout in ms, 0 = until replaced)
    statusMessage = Signal(str, int)
    #: the work under way changed ("" when idle, else e.g. "opening store, loading 2 groups")
    busyChanged = Signal(str)

    def __init__(self, *, runner: Runner, registry: ConventionRegistry, policy: RequestPolicy | None = None,
                 orientation: Qt.Orientation = Qt.Orientation.Horizontal, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._policy = policy
        self._hierarchy: Hierarchy | None = None
        self._storage_options: dict[str, Any] = {}
        self._open_task: Task | None = None
        self._opening_url = ""
        self._requested_url = ""
        self._requested_node = "/"  # the node the requested URL named inside the store shown
        self._validation_task: Task | None = None
        self._napari_available: Callable[[], bool] | None = None
        self._napari_tooltips = ("Open the node in napari", NAPARI_TOOLTIP)
        self._napari_refusal: Callable[[Node], str | None] | None = None
        self._busy_text = ""
        self._inspector_slow = False  # the inspector's reads have taken long enough to show (see INSPECTOR_BUSY_AFTER_MS)
        self._inspector_timer = QTimer(self)
        self._inspector_timer.setSingleShot(True)
        self._inspector_timer.setInterval(self.INSPECTOR_BUSY_AFTER_MS)
        self._inspector_timer.timeout.connect(self._on_inspector_slow)
        self._partly_loaded: set[str] = set()  # groups whose "scroll down for more" was shown
        # the filter: the row the user chose (kept while filtered out) and the expansion before filtering
        self._selected_path: str | None = None
        self._expanded_before_filter: set[str] | None = None
        self._filtering = False

        self.model = HierarchyTreeModel(runner=runner, registry=registry, parent=self)
        self.proxy = HierarchyFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self.inspector = Inspector(runner=runner, registry=registry)

        self._build_actions()
        self._build(orientation)
        self._connect()
        self._update_actions()

    # -- construction ----------------------------------------------------------------------
    def _build_actions(self) -> None:
        style = nonnull(self.style())
        self.refreshAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Refresh", self)
        set_tip(self.refreshAction, "Read the selected node again from the store")  # (its host gives it F5)
        self.copyPathAction = QAction("Copy path", self)
        self.copyPathAction.setShortcut(QKeySequence.StandardKey.Copy)
        self.copyPathAction.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        set_tip(self.copyPathAction, "Copy the node's path")
        self.validateAction = QAction("Validate subtree", self)
        self.backAction = QAction("Back", self)
        self.backAction.setShortcut(QKeySequence.StandardKey.Back)
        set_tip(self.backAction, "The node shown before")
        self.forwardAction = QAction("Forward", self)
        self.forwardAction.setShortcut(QKeySequence.StandardKey.Forward)
        set_tip(self.forwardAction, "The node shown after, when gone back")
        for action in (self.backAction, self.forwardAction):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.nextTabAction = QAction("Next inspector tab", self)
        self.nextTabAction.setShortcut(QKeySequence("Ctrl+PgDown"))
        set_tip(self.nextTabAction, "Show the inspector's next tab")
        self.previousTabAction = QAction("Previous inspector tab", self)
        self.previousTabAction.setShortcut(QKeySequence("Ctrl+PgUp"))
        set_tip(self.previousTabAction, "Show the inspector's previous tab")
        for action in (self.nextTabAction, self.previousTabAction):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.nextTabAction.triggered.connect(lambda: self._step_tab(1))
        self.previousTabAction.triggered.connect(lambda: self._step_tab(-1))
        self.backAction.triggered.connect(lambda: self._go_history(-1))
        self.forwardAction.triggered.connect(lambda: self._go_history(1))
        self._history: list[str] = []  # node paths shown, oldest first
        self._history_at = -1
        self._history_moving = False
        self.napariAction = QAction("Open in napari", self)
        self.napariAction.setToolTip(NAPARI_TOOLTIP)
        self.napariAction.setEnabled(False)

    def _build(self, orientation: Qt.Orientation) -> None:
        vertical = orientation == Qt.Orientation.Vertical
        self._name_room = 100 if vertical else self.NAME_ROOM
        self._narrow = vertical  # napari's dock: the Kind column must stay in view beside Name
        self.errorBar = ErrorBar()
        self.filterEdit = QLineEdit()
        self.filterEdit.setPlaceholderText("Filter names (Ctrl+F) — substring or wildcard, e.g. *.ome.zarr"
                                           if not vertical else "Filter names — substring or *wildcard*")
        self.filterEdit.setClearButtonEnabled(True)
        self.filterEdit.setToolTip("Show the loaded nodes whose name matches; Esc clears the filter")
        self._filter_keys = _FilterKeys(self._focus_first_match, self)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(self.FILTER_PAUSE_MS)
        self._filter_timer.timeout.connect(lambda: self._on_filter_changed(self.filterEdit.text()))
        self.filterEdit.installEventFilter(self._filter_keys)
        self.noMatchLabel = QLabel()
        self.noMatchLabel.setObjectName("noMatchLabel")
        self.noMatchLabel.setWordWrap(True)
        self.noMatchLabel.setStyleSheet("color: palette(mid); font-style: italic; padding: 2px 4px;")
        self.noMatchLabel.hide()
        self.tree = QTreeView()
        self.tree.setObjectName("hierarchyTree")
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.setExpandsOnDoubleClick(True)
        self.tree.setItemDelegateForColumn(HierarchyTreeModel.CONVENTIONS_COLUMN, BadgeDelegate(self.tree))
        # keep the listing's natural order until a header is clicked (QTreeView's own sorting would
        # sort at once, by column 0 descending)
        self.tree.setSortingEnabled(False)
        header = nonnull(self.tree.header())
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        widths = ((0, 150), (1, 80), (2, 90), (3, 55)) if vertical else ((0, 215), (1, 100), (2, 125), (3, 62))
        for column, width in widths:
            header.resizeSection(column, width)
        self.tree.setIndentation(14)
        # deep trees indent names away: at a fixed 215 px, names below level 9 vanished even in a
        # wide window; the Name column widens as deeper groups are expanded
        self.tree.expanded.connect(self._fit_name_column)
        self.tree.addAction(self.copyPathAction)
        self._activation_filter = _ActivationFilter(self._on_tree_activated, self._type_into_filter,
                                                    self._context_menu_at_current, self)
        self.tree.installEventFilter(self._activation_filter)
        self._row_tips = _RowTips(self.tree)
        nonnull(self.tree.viewport()).installEventFilter(self._row_tips)

        self.unloadedLabel = QLabel()
        self.unloadedLabel.setWordWrap(True)
        self.unloadedList = QListWidget()
        self.unloadedList.setObjectName("unloadedMatches")
        self.unloadedList.setMaximumHeight(140)
        self.unloadedList.setToolTip("Known from consolidated metadata; double-click or press Enter to load and select")
        self.unloadedLabel.hide()
        self.unloadedList.hide()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0) if vertical else left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(self.filterEdit)
        left_layout.addWidget(self.noMatchLabel)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(self.unloadedLabel)
        left_layout.addWidget(self.unloadedList)

        self.splitter = QSplitter(orientation)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.inspector)
        if vertical:
            self.splitter.setStretchFactor(0, 40)
            self.splitter.setStretchFactor(1, 60)
            self.splitter.setSizes([320, 480])
        else:
            self.splitter.setStretchFactor(0, 45)
            self.splitter.setStretchFactor(1, 55)
            self.splitter.setSizes([650, 750])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.errorBar)
        layout.addWidget(self.splitter, 1)

    def _connect(self) -> None:
        self.refreshAction.triggered.connect(self.refreshCurrent)
        self.copyPathAction.triggered.connect(self.copyCurrentPath)
        self.validateAction.triggered.connect(self.validateCurrent)
        self.napariAction.triggered.connect(self._on_napari_triggered)
        self.filterEdit.textChanged.connect(self._on_filter_typed)
        self.proxy.unloadedMatchesChanged.connect(self._on_unloaded_changed)
        self.unloadedList.itemActivated.connect(self._on_unloaded_activated)
        nonnull(self.tree.selectionModel()).currentRowChanged.connect(self._on_tree_current_changed)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu)
        self.tree.doubleClicked.connect(self._on_tree_activated)
        nonnull(self.tree.header()).sectionClicked.connect(self._on_header_clicked)
        self.model.pendingChanged.connect(self._update_busy)
        self.model.pageLoaded.connect(self._on_page_loaded)
        self.model.nodeUpdated.connect(self._on_model_node_updated)
        self.model.listingFailed.connect(self._on_model_listing_failed)
        self.proxy.rowsInserted.connect(self._on_proxy_rows_inserted)
        for signal in (self.proxy.rowsInserted, self.proxy.rowsRemoved, self.proxy.modelReset):
            signal.connect(self._update_no_match)
        self.inspector.nodeRequested.connect(self.revealPath)
        self.inspector.detectionsFound.connect(self.model.addFound)
        self.inspector.workChanged.connect(self._on_inspector_work)

    def setOpenInNapari(self, available: Callable[[], bool] | None, *, enabled_tip: str = "Open the node in napari",
                        disabled_tip: str = NAPARI_TOOLTIP,
                        refusal: Callable[[Node], str | None] | None = None) -> None:
        """Show "Open in napari" in the context menu, enabled when *available()* is true (None hides it).

        Choosing it emits :attr:`openInNapariRequested` with the node's path.  *refusal* says why
        a node cannot open (None: it may): the action is disabled for it, the reason its tooltip.
        """
        self._napari_available = available
        self._napari_tooltips = (enabled_tip, disabled_tip)
        self._napari_refusal = refusal
        self._update_actions()

    # -- opening ---------------------------------------------------------------------------
    #: whether a store replaced by another is closed; else it goes to :attr:`storeSetAside`, whose
    #: receiver closes it or keeps it (the napari dock keeps those its layers read from)
    closesReplacedStores = True

    def openStore(self, url: str, storage_options: dict[str, Any] | None = None, *, writable: bool = False,
                  select: str | None = None, focus: bool = True, expand: Iterable[str] = ()) -> None:
        """Open *url* (for writing when *writable*) in a worker; the tree replaces the current one when it
        succeeds, and goes to the node at *select* (a path below *url*) when given.

        The groups at *expand* (paths in the store, as :meth:`expandedPaths` gives them) are listed
        and expanded once the store is shown.  A local path is made absolute.  An open still under
        way is superseded (cancelled).  The tree takes the keyboard focus once the store is shown,
        unless *focus* is false.
        """
        url = url.strip()
        if not url:
            return
        url = absolute_url(url)
        if self._open_task is not None:
            self._open_task.cancel()
        options = dict(storage_options or {})
        expanded = list(expand)
        self._opening_url = url
        self.errorBar.hide()
        self.statusMessage.emit(f"Opening {url}…", 0)
        self._open_task = None
        task = self._runner.submit(
            _open_hierarchy, url, options, self._registry, self._policy, writable,
            on_done=lambda result: self._on_opened(url, options, result, select, focus, expanded),
            on_error=lambda err: self._on_open_failed(url, err),
        )
        if not task.done:  # an ImmediateRunner has finished already
            self._open_task = task
        self._update_busy()

    def _on_opened(self, url: str, options: dict[str, Any], result: _Opened, select: str | None = None,
                   focus: bool = True, expand: Sequence[str] = ()) -> None:
        self._open_task = None
        hierarchy = result.hierarchy
        old = self._replaced()
        self._requested_url = url
        self._requested_node = result.node
        self.setHierarchy(hierarchy, result.summary, storage_options=options)
        self._expand_paths(expand)
        self._set_aside(old)
        self.statusMessage.emit("", 0)
        if focus:
            self.tree.setFocus(Qt.FocusReason.OtherFocusReason)  # not the filter box: arrows move at once
        self.storeOpened.emit(hierarchy.url)
        target = "/" + "/".join(p for p in (result.node.strip("/"), (select or "").strip("/")) if p)
        if target != "/":  # the URL (and --node) named a node inside the store: go there
            self.revealPath(target)

    def view(self) -> StoreView | None:
        """The store shown and the state of its tree (None when none is shown)."""
        if self._hierarchy is None:
            return None
        root = self.model.index(0, 0)
        return StoreView(self._hierarchy, root.data(HierarchyTreeModel.SummaryRole) if root.isValid() else None,
                         dict(self._storage_options), self._requested_url, self._requested_node,
                         frozenset(self.expandedPaths()), self._selected_path, tuple(self._history),
                         self._history_at)

    def showView(self, view: StoreView, *, select: str | None = None, focus: bool = False) -> None:
        """Show a store set aside before (:attr:`storeSetAside`) as it was left: its groups
        expanded again (listed from what the hierarchy has read already), its node current (or
        the node at *select*), Back and Forward as they were.  An open under way is abandoned;
        :attr:`storeOpened` is emitted as when a store opens."""
        self.cancelOpen(report=False)
        old = self._replaced()
        self._requested_url, self._requested_node = view.requested_url, view.requested_node
        self.errorBar.hide()
        target = select or view.current or "/"
        # the root is not made current on the way to the node (the inspector would read it)
        self.setHierarchy(view.hierarchy, view.summary, storage_options=view.storage_options,
                          root_current=target == "/")
        if view.history:
            self._history, self._history_at = list(view.history), view.history_at
        self._expand_paths(view.expanded)
        self._set_aside(old)
        if focus:
            self.tree.setFocus(Qt.FocusReason.OtherFocusReason)
        self.storeOpened.emit(view.hierarchy.url)
        if target != "/":
            hierarchy = view.hierarchy

            def revealed(ok: bool) -> None:
                if not ok and self._hierarchy is hierarchy and not self.tree.currentIndex().isValid():
                    self._set_current_row(self.proxy.index(0, 0))

            self.revealPath(target, revealed)
        self._update_actions()

    def _replaced(self) -> Hierarchy | StoreView | None:
        """The store shown, about to be replaced: its view when it goes to :attr:`storeSetAside`
        (walking the expanded rows is left to those who keep it)."""
        return self._hierarchy if self.closesReplacedStores else self.view()

    def _set_aside(self, old: Hierarchy | StoreView | None) -> None:
        """The store of *old* (:meth:`_replaced`) was replaced: closed, or handed to :attr:`storeSetAside`."""
        if isinstance(old, StoreView):
            if old.hierarchy is not self._hierarchy:
                self.storeSetAside.emit(old)
        elif old is not None and old is not self._hierarchy:
            self._runner.submit(old.close)  # closing a remote store may talk to the network

    def _on_open_failed(self, url: str, err: BaseException) -> None:
        self._open_task = None
        if not isinstance(err, ZarrBrowserError | OSError | TimeoutError):
            logger.error("opening %s failed", url, exc_info=err)
            reason = f"internal error: {type(err).__name__}: {err}"
        else:
            reason = str(err) or type(err).__name__
        self.errorBar.showError(redact_text(f"Could not open {url}: {reason}"))
        self.statusMessage.emit(redact_text(f"Could not open {url}"), 10000)
        self._update_busy()
        self.openFailed.emit(url, reason)

    def setHierarchy(self, hierarchy: Hierarchy | None, summary: NodeSummary | None = None, *,
                     storage_options: dict[str, Any] | None = None, root_current: bool = True) -> None:
        """Show *hierarchy*, opened already (its root expanded, and current unless not
        *root_current*); None empties the panel.

        The panel does not close the hierarchy it replaces here (its owner does).
        """
        self._hierarchy = hierarchy
        self._storage_options = dict(storage_options or {})
        self._partly_loaded.clear()
        self._history, self._history_at = [], -1
        self._selected_path = None
        self._expanded_before_filter = None
        self.inspector.clear()
        self.filterEdit.clear()
        self.model.setHierarchy(hierarchy, summary)
        if hierarchy is not None:
            root = self.proxy.index(0, 0)
            self.tree.expand(root)
            if root_current:
                self._set_current_row(root)
        self._update_actions()
        self._update_busy()

    def hierarchy(self) -> Hierarchy | None:
        return self._hierarchy

    def policy(self) -> RequestPolicy | None:
        """Request deadlines and retries for the stores :meth:`openStore` opens (None: the defaults)."""
        return self._policy

    def setPolicy(self, policy: RequestPolicy | None) -> None:
        self._policy = policy

    def requestedUrl(self) -> str:
        """The URL given to :meth:`openStore` for the store shown (as typed; ``hierarchy().url`` may differ)."""
        return self._requested_url

    def storeUrl(self) -> str:
        """The URL that opens the store shown at the root of its tree: the URL given to
        :meth:`openStore`, or the enclosing store's own when that URL named a node inside it (a
        pyramid level, a variable), so that the tree's paths stay the same ("" when none is shown)."""
        if self._hierarchy is None:
            return ""
        if self._requested_node != "/" or not self._requested_url:
            return self._hierarchy.url
        return self._requested_url

    def storageOptions(self) -> dict[str, Any]:
        """The storage options of the store shown."""
        return dict(self._storage_options)

    def errorText(self) -> str:
        """The error shown in the panel ('' when none)."""
        return self.errorBar.text()

    # -- selection and navigation ----------------------------------------------------------
    def currentPath(self) -> str | None:
        """The node path of the current tree row (None when no node row is current)."""
        index = self.tree.currentIndex()
        return index.data(HierarchyTreeModel.PathRole) if index.isValid() and \
            index.data(HierarchyTreeModel.StateRole) == HierarchyTreeModel.NODE else None

    def _current_node(self) -> tuple[Node, QModelIndex] | None:
        index = self.tree.currentIndex()
        if not index.isValid() or index.data(HierarchyTreeModel.StateRole) != HierarchyTreeModel.NODE:
            return None
        return index.siblingAtColumn(0).data(HierarchyTreeModel.NodeRole), index

    def _set_current_row(self, index: QModelIndex) -> None:
        """Make the row of *index* current, and the only one selected."""
        nonnull(self.tree.selectionModel()).setCurrentIndex(index, _SELECT_ROW)

    def _on_tree_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_actions()
        if self._filtering:  # the filter hid the current row: the user's choice stays (see _on_filter_changed)
            return
        if self._hierarchy is None or not current.isValid():
            return
        self._selected_path = self.currentPath()
        node = current.siblingAtColumn(0).data(HierarchyTreeModel.NodeRole)
        if node is not None and current.data(HierarchyTreeModel.StateRole) == HierarchyTreeModel.NODE:
            self.inspector.setNode(self._hierarchy, node)
            self._remember(node.path)
        self.currentPathChanged.emit(self.currentPath() or "")

    MAX_HISTORY = 200

    def _remember(self, path: str) -> None:
        """Add *path* to the nodes shown (Back / Forward), unless Back or Forward showed it."""
        if self._history_moving or (0 <= self._history_at < len(self._history)
                                    and self._history[self._history_at] == path):
            return
        del self._history[self._history_at + 1:]
        self._history.append(path)
        del self._history[:-self.MAX_HISTORY]
        self._history_at = len(self._history) - 1
        self._update_actions()

    def _go_history(self, step: int) -> None:
        at = self._history_at + step
        if not 0 <= at < len(self._history):
            return
        self._history_at = at
        self._history_moving = True

        def done(_ok: bool) -> None:
            self._history_moving = False
            self._update_actions()

        self.revealPath(self._history[at], done)

    def _on_model_node_updated(self, path: str) -> None:
        """A row was read again (refresh, save): the inspector shows the new node when it is current."""
        current = self._current_node()
        if self._hierarchy is not None and current is not None and current[0].path == path:
            self.inspector.setNode(self._hierarchy, current[0])

    def _on_tree_activated(self, index: QModelIndex) -> None:
        if index.isValid() and index.data(HierarchyTreeModel.StateRole) == HierarchyTreeModel.NODE:
            path = index.data(HierarchyTreeModel.PathRole)
            if path is not None:
                self.nodeActivated.emit(path)

    def selectPath(self, path: str) -> bool:
        """Make the loaded node at *path* current (expanding its ancestors); False if not loaded."""
        source = self.model.indexForPath(path)
        if not source.isValid():
            return False
        index = self.proxy.mapFromSource(source)
        if not index.isValid():  # hidden by the filter: show everything again
            self.filterEdit.clear()
            index = self.proxy.mapFromSource(source)
        self.tree.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._set_current_row(index)
        return True

    def revealPath(self, path: str, callback: Callable[[bool], None] | None = None) -> None:
        """List what is needed to show *path*, then select it (from the inspector, matches list...)."""

        def revealed(index: QModelIndex) -> None:
            ok = index.isValid() and self.selectPath(path)
            if not ok:
                self.statusMessage.emit(self._not_found(path), 8000)
            if callback is not None:
                callback(ok)

        self.model.revealPath(path, revealed)

    def _not_found(self, path: str) -> str:
        """Why *path* is not shown: not there, or a node above it could not be read (then what
        lies below it cannot be listed: "not found" would say it is not in the store)."""
        text = f"{path} was not found in {self._hierarchy.url if self._hierarchy else ''}"
        parent = parent_path(path)
        while parent is not None:  # the deepest node above it that is shown
            node = self.model.indexForPath(parent).data(HierarchyTreeModel.NodeRole)
            if node is not None:
                if node.kind != "error":
                    return text
                which = "parent" if parent == parent_path(path) else "ancestor"
                return f"{text}: its {which} {parent} could not be read: {node.error}"
            parent = parent_path(parent)
        return text

    # -- filter ----------------------------------------------------------------------------
    def _focus_first_match(self) -> None:
        """From the filter box into the tree: the first row that matches (the current one when none)."""
        if self._filter_timer.isActive():  # typed, not applied yet: apply it now
            self._filter_timer.stop()
            self._on_filter_changed(self.filterEdit.text())
        self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)
        if not self.proxy.filterText():
            return
        index = self.proxy.index(0, 0)
        while index.isValid():  # the first node whose own name matches, depth first
            if index.data(HierarchyTreeModel.StateRole) == HierarchyTreeModel.NODE and self.proxy.matches(
                    str(index.data(HierarchyTreeModel.FilterRole) or "")) and index.parent().isValid():
                self._set_current_row(index)
                return
            index = self.tree.indexBelow(index)

    NAME_ROOM = 150
    """Pixels the Name column keeps for the icon and the name after a row's indentation (100 in
    a narrow, vertical panel such as napari's dock, where the other columns need the room)."""

    def _fit_name_column(self, index: QModelIndex) -> None:
        depth = 1  # the children of *index* are one level deeper
        parent = index.parent()
        while parent.isValid():
            depth += 1
            parent = parent.parent()
        need = self.tree.indentation() * (depth + 1) + self._name_room
        if self._narrow:  # a plate field's rows pushed Kind out of a 264-px dock ("OME wel"; audit G, 13)
            kind = self.tree.fontMetrics().horizontalAdvance("label image") + 2 * self.tree.indentation()
            need = min(need, max(self._name_room, nonnull(self.tree.viewport()).width() - kind))
        header = nonnull(self.tree.header())
        if header.sectionSize(HierarchyTreeModel.NAME_COLUMN) < need:
            header.resizeSection(HierarchyTreeModel.NAME_COLUMN, need)

    def _step_tab(self, step: int) -> None:
        self.inspector.stepTab(step)

    def _type_into_filter(self, text: str) -> None:
        self.filterEdit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filterEdit.insert(text)

    def _context_menu_at_current(self) -> None:
        index = self.tree.currentIndex()
        if index.isValid():
            self._on_tree_context_menu(self.tree.visualRect(index).center())

    def focusFilter(self) -> None:
        self.filterEdit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filterEdit.selectAll()

    FILTER_PAUSE_ROWS = 5_000
    """Above this many loaded rows, the filter applies once typing pauses (FILTER_PAUSE_MS): each
    key filtered 100,000 rows on the GUI thread, 0.25-0.45 s a key."""
    FILTER_PAUSE_MS = 200

    def _on_filter_typed(self, text: str) -> None:
        if text.strip() and self.model.loadedCount() > self.FILTER_PAUSE_ROWS:
            self._filter_timer.start()
            return
        self._filter_timer.stop()
        self._on_filter_changed(text)

    def _on_filter_changed(self, text: str) -> None:
        """Filter the tree; the current node stays current while it matches, and comes back after.

        Rows the filter hides leave the proxy, which would move the current row to a neighbour
        (and the inspector with it), and would forget which groups were expanded.  So the
        expansion is remembered when filtering starts and restored when the filter is cleared,
        and the node the user chose stays the inspected one while it is hidden.
        """
        filtered = bool(text.strip())
        if filtered and self._expanded_before_filter is None and not self.proxy.filterText():
            self._expanded_before_filter = self._expanded_paths()
        self._filtering = True
        try:
            with self._busy_cursor():
                self.proxy.setFilterText(text)
                if filtered:
                    self._expand_matches()
                else:
                    self._restore_expansion()
                self._restore_selection()
        finally:
            self._filtering = False
        self._update_actions()
        self._update_no_match()

    def expandedPaths(self) -> set[str]:
        """The paths of the groups expanded in the tree (as before filtering, while filtered)."""
        if self._expanded_before_filter is not None:
            return set(self._expanded_before_filter)
        return self._expanded_paths()

    def _expand_paths(self, paths: Iterable[str]) -> None:
        """List the ancestors of each of *paths* as needed and expand it (parents first)."""
        hierarchy = self._hierarchy

        def expand(source: QModelIndex) -> None:
            if self._hierarchy is hierarchy and source.isValid():
                self.tree.expand(self.proxy.mapFromSource(source))

        for path in sorted(paths, key=lambda p: p.count("/")):
            if path != "/":  # the root is expanded already
                self.model.revealPath(path, expand)

    def _expanded_paths(self, parent: QModelIndex | None = None) -> set[str]:
        """Source paths of the expanded rows (walks only what is expanded)."""
        parent = parent if parent is not None else QModelIndex()
        out: set[str] = set()
        for row in range(self.proxy.rowCount(parent)):
            index = self.proxy.index(row, 0, parent)
            if self.tree.isExpanded(index):
                path = self.model.pathForIndex(self.proxy.mapToSource(index))
                if path is not None:
                    out.add(path)
                out |= self._expanded_paths(index)
        return out

    def _restore_expansion(self) -> None:
        expanded, self._expanded_before_filter = self._expanded_before_filter, None
        if expanded is None:
            return
        wanted = set(expanded)
        if self._selected_path is not None:  # chosen while filtering: its ancestors open too
            parts = [p for p in self._selected_path.split("/") if p]
            wanted.update(["/"] + ["/" + "/".join(parts[:i]) for i in range(1, len(parts))])
        self.tree.collapseAll()
        for path in sorted(wanted, key=lambda p: p.count("/")):  # parents before children
            index = self.proxy.mapFromSource(self.model.indexForPath(path))
            if index.isValid():
                self.tree.expand(index)

    def _restore_selection(self) -> None:
        """The user's node current again when it is shown; else no current row (never another node)."""
        selection = nonnull(self.tree.selectionModel())
        path = self._selected_path
        index = self.proxy.mapFromSource(self.model.indexForPath(path)) if path is not None else QModelIndex()
        if index.isValid():
            if self.tree.currentIndex().siblingAtColumn(0) != index:
                self._set_current_row(index)
            self.tree.scrollTo(index)
        elif self.tree.currentIndex().isValid():
            selection.clear()  # the node is hidden: select nothing rather than a neighbour

    def _update_no_match(self, *_args: Any) -> None:
        text = self.proxy.filterText()
        empty = bool(text) and self.proxy.rowCount(QModelIndex()) == 0
        if empty:
            more = " (see the matches not loaded yet below)" if self.proxy.unloadedMatchCount() else \
                " among the loaded nodes"
            self.noMatchLabel.setText(f"No node matches “{text}”{more}")
        self.noMatchLabel.setVisible(empty)

    def _expand_matches(self, parent: QModelIndex | None = None) -> None:
        """Expand the loaded rows that lead to matches (the proxy only keeps those with children)."""
        parent = parent if parent is not None else QModelIndex()
        for row in range(self.proxy.rowCount(parent)):
            index = self.proxy.index(row, 0, parent)
            if self.proxy.rowCount(index) > 0:
                self.tree.expand(index)
                self._expand_matches(index)

    def _on_header_clicked(self, column: int) -> None:
        """Sort by *column*; clicking the sorted column again reverses the order."""
        header = nonnull(self.tree.header())
        order = Qt.SortOrder.AscendingOrder
        # the proxy's order, not the header's: a mouse click flips the header's indicator before
        # this runs (a second click on Name sorted ascending again)
        if header.isSortIndicatorShown() and self.proxy.sortColumn() == column \
                and self.proxy.sortOrder() == Qt.SortOrder.AscendingOrder:
            order = Qt.SortOrder.DescendingOrder
        header.setSortIndicatorShown(True)
        header.setSortIndicator(column, order)
        with self._busy_cursor():
            self.proxy.sort(column, order)

    BUSY_CURSOR_ROWS = 20_000
    """Above this many loaded rows, a sort or a filter shows the busy cursor: Qt's own work on them
    holds the window for 0.5-0.9 s at 100,000 rows (bench_big_group.py), which looked like a hang."""

    @contextlib.contextmanager
    def _busy_cursor(self) -> Iterator[None]:
        """The busy cursor over the application while the block runs, on many rows."""
        if self.model.loadedCount() <= self.BUSY_CURSOR_ROWS:
            yield
            return
        QApplication.setOverrideCursor(QCursor(Qt.CursorShape.WaitCursor))
        try:
            yield
        finally:
            QApplication.restoreOverrideCursor()

    def _on_unloaded_changed(self) -> None:
        paths = self.proxy.unloadedMatches()
        total = self.proxy.unloadedMatchCount()
        self.unloadedList.clear()
        for path in paths:
            self.unloadedList.addItem(path)
        shown = bool(paths)
        more = f" (first {len(paths)} of {total})" if total > len(paths) else f" ({total})"
        self.unloadedLabel.setText(f"Matches not loaded yet{more} — from consolidated metadata; "
                                   "double-click to load")
        self.unloadedLabel.setVisible(shown)
        self.unloadedList.setVisible(shown)
        self._update_no_match()

    def _on_unloaded_activated(self, item: QListWidgetItem) -> None:
        self.revealPath(item.text())

    def _on_proxy_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        # placeholder rows (loading / failed / warning) span the whole row; they come one at a time
        # (a child still being read is a row of its own: name, and "loading…" as its kind)
        if last - first > 2:
            return
        rows = (HierarchyTreeModel.NODE, HierarchyTreeModel.PENDING)
        for row in range(first, last + 1):
            if self.proxy.index(row, 0, parent).data(HierarchyTreeModel.StateRole) not in rows:
                self.tree.setFirstColumnSpanned(row, parent, True)

    # -- actions on nodes ------------------------------------------------------------------
    def copyCurrentPath(self) -> None:
        path = self.currentPath()
        if path is not None:
            nonnull(QGuiApplication.clipboard()).setText(path)
            self.statusMessage.emit(f"Copied {path}", 3000)

    def snippetsForCurrent(self) -> dict[str, str]:
        """The copy-as-code snippets of the current node."""
        current = self._current_node()
        if current is None or self._hierarchy is None:
            return {}
        node, index = current
        summary = index.siblingAtColumn(0).data(HierarchyTreeModel.SummaryRole)
        detections = summary.conventions if summary is not None else ()
        return snippets(self._hierarchy.url, node.path, node, detections, self._storage_options,
                        root_implicit=not self._hierarchy.root.documents)

    def fillCodeMenu(self, menu: QMenu) -> None:
        """Put the current node's snippets in *menu*, each copying its code (the context menu's
        and the window's Node ▸ Copy as code)."""
        menu.clear()
        for name, code in (self.snippetsForCurrent() if self.currentPath() is not None else {}).items():
            action = nonnull(menu.addAction(name))
            action.setToolTip(code)
            action.triggered.connect(lambda _checked=False, n=name, c=code: self._copy_snippet(n, c))

    def _copy_snippet(self, name: str, code: str) -> None:
        nonnull(QGuiApplication.clipboard()).setText(code)
        self.statusMessage.emit(f"Copied {name} code", 3000)

    def refreshCurrent(self) -> None:
        """Re-read the current node (the root when nothing is selected) from the store."""
        if self._hierarchy is None:
            return
        path = self.currentPath() or "/"
        self.model.refreshPath(path)
        self.statusMessage.emit(f"Refreshing {path}…", 3000)

    def validateCurrent(self) -> None:
        """Validate the current subtree in the runner; the result goes to :attr:`statusMessage`."""
        if self._hierarchy is None:
            return
        path = self.currentPath() or "/"
        if self._validation_task is not None:
            self._validation_task.cancel()
        holder: list[Task] = []
        self.statusMessage.emit(f"Validating {path}…", 0)
        task = self._runner.submit(
            _validate, self._hierarchy, self._registry, path, holder,
            on_done=lambda report: self._on_validated(path, report),
            on_error=lambda err: self._on_validation_failed(path, err),
        )
        holder.append(task)
        self._validation_task = None if task.done else task
        self._update_busy()

    def _on_validated(self, path: str, report: ValidationReport) -> None:
        self._validation_task = None
        from zarr_browser.core.issues import Severity

        # as the Validation tab counts them: notes (info) are no warnings (audit G, 8)
        counts = {severity: sum(1 for i in report.issues if i.severity is severity) for severity in Severity}
        verdict = "no issues" if not report.issues else (
            f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} note(s)")
        self.statusMessage.emit(f"Validated {path}: {verdict} in {report.nodes_checked} node(s)", 0)
        self._update_busy()
        self.validationFinished.emit(path, report)

    def _on_model_listing_failed(self, path: str, reason: str) -> None:
        # the root failing is the store's error (its folder deleted, its server gone), not one
        # row's: a failed row under the root alone was easy to miss
        if path == "/" and self._hierarchy is not None:
            self.errorBar.showError(redact_text(f"Could not read {self._hierarchy.url}: {reason}"))

    def _on_validation_failed(self, path: str, err: BaseException) -> None:
        self._validation_task = None
        if not isinstance(err, ZarrBrowserError | OSError):
            logger.error("validating %s failed", path, exc_info=err)
        self.errorBar.showError(f"Could not validate {path}: {err}")
        self._update_busy()

    def _on_napari_triggered(self) -> None:
        if self._hierarchy is None or self._napari_available is None or not self._napari_available():
            return
        self.openInNapariRequested.emit(self.currentPath() or "/")

    def _on_tree_context_menu(self, pos: Any) -> None:
        index = self.tree.indexAt(pos)
        if not index.isValid() or index.data(HierarchyTreeModel.StateRole) != HierarchyTreeModel.NODE:
            return
        menu = self.contextMenuFor(index)
        menu.exec(nonnull(self.tree.viewport()).mapToGlobal(pos))

    def contextMenuFor(self, index: QModelIndex) -> QMenu:
        """The context menu of a tree row (makes it current); exposed for tests."""
        self._set_current_row(index)
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        menu.addAction(self.copyPathAction)
        code_menu = nonnull(menu.addMenu("Copy as code"))
        self.fillCodeMenu(code_menu)
        code_menu.setEnabled(not code_menu.isEmpty())
        menu.addSeparator()
        source = self.proxy.mapToSource(index.siblingAtColumn(0))
        left = self.model.unlistedCount(source)
        if left:  # a big group is listed a page at a time as it scrolls: all at once, on request
            load_all = nonnull(menu.addAction(f"List the other {left:,} children"))
            load_all.setToolTip("List every child now, in the background (Esc stops it)")
            kept = QPersistentModelIndex(source)
            load_all.triggered.connect(lambda _checked=False: self.model.fetchAll(QModelIndex(kept)))
        if self._napari_available is not None:
            menu.addAction(self.napariAction)
        menu.addAction(self.refreshAction)
        menu.addAction(self.validateAction)
        return menu

    # -- progress --------------------------------------------------------------------------
    def isOpening(self) -> bool:
        """Whether a store is being opened (:meth:`openStore`)."""
        return self._open_task is not None

    def cancelOpen(self, *, report: bool = True) -> None:
        """Stop opening the store under way (nothing when none); *report* says so in the error bar."""
        if self._open_task is not None:
            self._open_task.cancel()
            self._open_task = None
            if report:
                self.errorBar.showError(redact_text(f"Cancelled opening {self._opening_url}"))
            self._update_busy()

    def cancelPending(self) -> None:
        """Stop waiting: cancel the open, the listings, the validation and the inspector's reads in flight."""
        self.cancelOpen()
        if self._validation_task is not None:
            self._validation_task.cancel()
            self._validation_task = None
        self.model.cancelPending()
        self.inspector.cancelWork()
        self._update_busy()

    def busyText(self) -> str:
        """The work under way ("" when idle): opening, listing groups, validating, reading the
        selected node's details and preview."""
        parts = []
        if self._open_task is not None:
            parts.append("opening store")
        pending = self.model.pendingCount()
        if pending:
            parts.append(f"loading {pending} group{'s' if pending != 1 else ''}")
        if self._validation_task is not None:
            parts.append("validating")
        if self._inspector_slow and self.inspector.isWorking():
            parts.append("reading the selected node")
        return ", ".join(parts)

    INSPECTOR_BUSY_AFTER_MS = 400
    """The inspector's reads show as work under way (with Cancel) once they take this long: a
    local node's details come in milliseconds, and the status bar must not flicker on every click."""

    def _on_inspector_work(self) -> None:
        if not self.inspector.isWorking():
            self._inspector_timer.stop()
            self._inspector_slow = False
        elif not self._inspector_slow and not self._inspector_timer.isActive():
            self._inspector_timer.start()
        self._update_busy()

    def _on_inspector_slow(self) -> None:
        self._inspector_slow = self.inspector.isWorking()
        self._update_busy()

    def isBusy(self) -> bool:
        """Whether store work of the panel (or of its inspector) is under way."""
        return bool(self.busyText()) or self._runner.pending() > 0

    def _on_page_loaded(self, path: str, loaded: int, total: int) -> None:
        if loaded < total:
            self._partly_loaded.add(path)
            if self.model.isStopped(path):
                self.statusMessage.emit(f"{path}: listing stopped, {loaded:,} of {total:,} children listed — "
                                        "List the other children in its context menu", 8000)
            elif self.model.isListingAll(path):
                self.statusMessage.emit(f"{path}: listing every child, {loaded:,} of {total:,} so far (Esc stops)", 5000)
            else:
                self.statusMessage.emit(f"{path}: {loaded:,} of {total:,} children loaded — scroll down for more", 5000)
        elif path in self._partly_loaded:  # the "scroll down for more" of this group is out of date
            self._partly_loaded.discard(path)
            self.statusMessage.emit(f"{path}: all {total:,} children loaded", 5000)

    def _update_busy(self, *_args: Any) -> None:
        text = self.busyText()
        if text != self._busy_text:
            self._busy_text = text
            self.busyChanged.emit(text)

    def _update_actions(self) -> None:
        has_store = self._hierarchy is not None
        has_node = self.currentPath() is not None
        self.refreshAction.setEnabled(has_store)
        self.copyPathAction.setEnabled(has_node)
        self.validateAction.setEnabled(has_store)
        self.backAction.setEnabled(has_store and self._history_at > 0)
        self.forwardAction.setEnabled(has_store and self._history_at < len(self._history) - 1)
        enabled = has_node and self._napari_available is not None and self._napari_available()
        current = self._current_node() if enabled and self._napari_refusal is not None else None
        refused = self._napari_refusal(current[0]) if current is not None and self._napari_refusal else None
        self.napariAction.setEnabled(enabled and refused is None)
        self.napariAction.setToolTip(refused or (self._napari_tooltips[0] if enabled else self._napari_tooltips[1]))

    def shutdown(self) -> None:
        """Cancel everything under way, the inspector's work too (before the panel goes away)."""
        self.cancelPending()
        self.inspector.clear()
