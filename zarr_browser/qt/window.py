"""The standalone browser window: a lazy tree of a store next to the inspector.

Layout: toolbar and menus (open folder / zip / URL, recent stores, refresh, quit); a
non-modal error bar; a welcome page until a store is open; then a splitter with the filter box,
the tree and the "matches not loaded yet" list on the left and the
:class:`~zarr_browser.qt.inspector.Inspector` on the right; a status bar with the URL, the
read-only state and the progress of pending loads (with *Cancel*).

Opening a store, listing, refreshing and validating all run in the injected runner; results
and errors come back on the GUI thread and errors are shown in the window, never as a
traceback.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QItemSelectionModel, QModelIndex, QRectF, QSettings, QSize, Qt, Signal
from qtpy.QtGui import (
    QAction,
    QColor,
    QDragEnterEvent,
    QDropEvent,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
    QPainter,
)
from qtpy.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.core.snippets import node_url, snippets
from zarr_browser.errors import ZarrBrowserError
from zarr_browser.qt.filter_model import HierarchyFilterModel
from zarr_browser.qt.inspector import Inspector
from zarr_browser.qt.tree_model import HierarchyTreeModel

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import Node
    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.core.summary import NodeSummary
    from zarr_browser.core.validate import ValidationReport
    from zarr_browser.qt.workers import Runner, Task

__all__ = ["BrowserWindow", "OpenUrlDialog", "RecentStores", "parse_storage_options"]

logger = logging.getLogger(__name__)

MAX_RECENT = 10
#: storage options never written to the settings file (credentials)
_SECRET = re.compile(r"secret|token|password|passwd|credential|session|(^|_)key$", re.IGNORECASE)
NAPARI_TOOLTIP = "needs the napari plugin"


# -- storage options and recent stores --------------------------------------------------------


def parse_storage_options(text: str) -> dict[str, Any]:
    """Parse storage options typed by a user: a JSON object, or ``KEY=VALUE`` lines.

    Values of ``KEY=VALUE`` lines are parsed as JSON when possible (``anon=true`` → True),
    else kept as strings.  Blank lines and ``#`` comments are ignored.

    Raises
    ------
    ValueError
        With a message naming the bad line.
    """
    text = text.strip()
    if not text:
        return {}
    if text.startswith(("{", "[")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"storage options are not valid JSON: {err}") from err
        if not isinstance(value, dict):
            raise ValueError("storage options must be a JSON object")
        return value
    options: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, raw = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"line {number}: expected KEY=VALUE, got {line!r}")
        raw = raw.strip()
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


@dataclass(frozen=True, slots=True)
class RecentStore:
    """A store opened before: its URL and its (non-secret) storage options."""

    url: str
    storage_options: dict[str, Any]


class RecentStores:
    """The most recently opened stores, kept in a ``QSettings`` (newest first).

    Credentials among the storage options (keys, secrets, tokens, passwords) are never saved.
    """

    KEY = "recent/stores"

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def load(self) -> list[RecentStore]:
        raw = self._settings.value(self.KEY, "[]")
        try:
            entries = json.loads(raw if isinstance(raw, str) else "[]")
        except json.JSONDecodeError:
            logger.warning("ignoring unreadable recent stores in %s", self._settings.fileName())
            return []
        out = []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                options = entry.get("storage_options")
                out.append(RecentStore(entry["url"], options if isinstance(options, dict) else {}))
        return out

    def add(self, url: str, storage_options: dict[str, Any] | None) -> list[RecentStore]:
        safe = {k: v for k, v in (storage_options or {}).items() if not _SECRET.search(k)}
        entries = [RecentStore(url, safe), *(r for r in self.load() if r.url != url)][:MAX_RECENT]
        self._settings.setValue(self.KEY, json.dumps([{"url": r.url, "storage_options": r.storage_options}
                                                      for r in entries]))
        self._settings.sync()
        return entries

    def clear(self) -> None:
        self._settings.remove(self.KEY)
        self._settings.sync()


# -- dialogs ---------------------------------------------------------------------------------


class OpenUrlDialog(QDialog):
    """Ask for a URL and its storage options (KEY=VALUE lines or JSON, anonymous, endpoint)."""

    def __init__(self, parent: QWidget | None = None, *, url: str = "",
                 storage_options: dict[str, Any] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open URL")
        self.setMinimumWidth(560)
        options = dict(storage_options or {})
        self.urlEdit = QLineEdit(url)
        self.urlEdit.setPlaceholderText("s3://bucket/data.zarr, https://host/image.ome.zarr, gs://…")
        self.anonymousCheck = QCheckBox("Anonymous access (public buckets)")
        self.anonymousCheck.setChecked(bool(options.pop("anon", False)))
        self.endpointEdit = QLineEdit(str(options.pop("endpoint_url", "")))
        self.endpointEdit.setPlaceholderText("S3-compatible endpoint, e.g. https://s3.embl.de (optional)")
        self.optionsEdit = QPlainTextEdit()
        self.optionsEdit.setPlaceholderText('One KEY=VALUE per line (values parsed as JSON), or a JSON object:\n'
                                            'requester_pays=true\n{"client_kwargs": {"region_name": "eu-west-1"}}')
        if options:
            self.optionsEdit.setPlainText(json.dumps(options, indent=2))
        self.optionsEdit.setFixedHeight(110)
        self.errorLabel = QLabel()
        self.errorLabel.setStyleSheet("color: #b91c1c")
        self.errorLabel.setWordWrap(True)
        self.errorLabel.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("URL", self.urlEdit)
        form.addRow("", self.anonymousCheck)
        form.addRow("Endpoint URL", self.endpointEdit)
        form.addRow("Storage options", self.optionsEdit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.errorLabel)
        layout.addWidget(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

    def storageOptions(self) -> dict[str, Any]:
        """The storage options entered (raises ValueError when the text cannot be parsed)."""
        options = parse_storage_options(self.optionsEdit.toPlainText())
        if self.anonymousCheck.isChecked():
            options["anon"] = True
        endpoint = self.endpointEdit.text().strip()
        if endpoint:
            options["endpoint_url"] = endpoint
        return options

    def url(self) -> str:
        return self.urlEdit.text().strip()

    def accept(self) -> None:
        if not self.url():
            self._show_error("enter a URL")
            return
        try:
            self.storageOptions()
        except ValueError as err:
            self._show_error(str(err))
            return
        super().accept()

    def _show_error(self, message: str) -> None:
        self.errorLabel.setText(message)
        self.errorLabel.show()


# -- widgets ---------------------------------------------------------------------------------


class BadgeDelegate(QStyledItemDelegate):
    """Paints the Conventions column as coloured pills (``BadgesRole``)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        badges = index.data(HierarchyTreeModel.BadgesRole)
        if not badges:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
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


class _ErrorBar(QFrame):
    """A non-modal, dismissable error message at the top of the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBar")
        self.setStyleSheet("#errorBar { background: #fee2e2; border: 1px solid #fca5a5; border-radius: 4px; }"
                           "#errorBar QLabel { color: #7f1d1d; }")
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
        self.label.setText(message)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


def _open_hierarchy(url: str, storage_options: dict[str, Any], registry: ConventionRegistry,
                    policy: RequestPolicy | None) -> tuple[Hierarchy, NodeSummary]:
    """Worker: open the store and summarize its root."""
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.summary import summarize

    hierarchy = Hierarchy.open(url, storage_options=storage_options or None, policy=policy,
                               hints=registry.child_hints)
    return hierarchy, summarize(hierarchy.root, None, registry)


def _validate(hierarchy: Hierarchy, registry: ConventionRegistry, path: str, task_holder: list[Task]) -> ValidationReport:
    from zarr_browser.core.validate import validate_hierarchy

    cancel = task_holder[0].cancel_event if task_holder else None
    return validate_hierarchy(hierarchy, registry, path=path, cancel=cancel)


def napari_available() -> bool:
    """Whether napari and the zarr-browser napari reader are installed (not yet: the plugin is pending)."""
    return importlib.util.find_spec("napari") is not None and \
        importlib.util.find_spec("zarr_browser._reader") is not None


# -- the window ------------------------------------------------------------------------------


class BrowserWindow(QMainWindow):
    """Browse one zarr store at a time: tree, filter, inspector, copy as code, validation.

    Parameters
    ----------
    runner
        Runs every store operation off the GUI thread.
    registry
        Conventions used for badges, kinds, hints and validation.
    settings
        Where recent stores are kept; ``QSettings()`` of the application by default (tests
        pass a settings file of their own).
    policy
        Request deadlines and retries for the stores opened.
    """

    #: a store was opened (its URL)
    storeOpened = Signal(str)
    #: opening failed: (url, reason)
    openFailed = Signal(str, str)
    #: a subtree was validated: (path, ValidationReport)
    validationFinished = Signal(str, object)

    def __init__(self, *, runner: Runner, registry: ConventionRegistry, settings: QSettings | None = None,
                 policy: RequestPolicy | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._policy = policy
        self._settings = settings if settings is not None else QSettings()
        self._recent = RecentStores(self._settings)
        self._hierarchy: Hierarchy | None = None
        self._storage_options: dict[str, Any] = {}
        self._open_task: Task | None = None
        self._opening_url = ""
        self._validation_task: Task | None = None

        self.setWindowTitle("zarr-browser")
        self.setAcceptDrops(True)
        self.resize(1400, 850)

        self.model = HierarchyTreeModel(runner=runner, registry=registry, parent=self)
        self.proxy = HierarchyFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self.inspector = Inspector(runner=runner, registry=registry)

        self._build_actions()
        self._build_menus()
        self._build_central()
        self._build_status()
        self._connect()
        self._refresh_recent_menu()
        self._update_actions()

    # -- construction ----------------------------------------------------------------------
    def _build_actions(self) -> None:
        style = self.style()
        self.openFolderAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon), "Open folder…", self)
        self.openFolderAction.setShortcut(QKeySequence.StandardKey.Open)
        self.openFolderAction.setToolTip("Open a zarr directory (Ctrl+O)")
        self.openZipAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_FileIcon), "Open zip…", self)
        self.openZipAction.setToolTip("Open a zipped zarr store (.zip, .ozx)")
        self.openUrlAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DriveNetIcon), "Open URL…", self)
        self.openUrlAction.setShortcut(QKeySequence("Ctrl+L"))
        self.openUrlAction.setToolTip("Open an http(s)://, s3://, gs://… store with storage options (Ctrl+L)")
        self.refreshAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Refresh", self)
        self.refreshAction.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.refreshAction.setToolTip("Read the selected node again from the store (F5)")
        self.quitAction = QAction("Quit", self)
        self.quitAction.setShortcut(QKeySequence("Ctrl+Q"))
        self.findAction = QAction("Filter names", self)
        self.findAction.setShortcut(QKeySequence.StandardKey.Find)
        self.cancelAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserStop), "Cancel loading", self)
        self.cancelAction.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancelAction.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.copyPathAction = QAction("Copy path", self)
        self.copyPathAction.setShortcut(QKeySequence.StandardKey.Copy)
        self.copyPathAction.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.validateAction = QAction("Validate subtree", self)
        self.napariAction = QAction("Open in napari", self)
        self.napariAction.setToolTip(NAPARI_TOOLTIP)
        self.napariAction.setEnabled(False)
        self.clearRecentAction = QAction("Clear recent stores", self)
        for action in (self.findAction, self.cancelAction):
            self.addAction(action)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.openFolderAction)
        file_menu.addAction(self.openZipAction)
        file_menu.addAction(self.openUrlAction)
        self.recentMenu = file_menu.addMenu("Open recent")
        file_menu.addSeparator()
        file_menu.addAction(self.quitAction)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.refreshAction)
        view_menu.addAction(self.findAction)
        view_menu.addAction(self.cancelAction)
        node_menu = self.menuBar().addMenu("&Node")
        node_menu.addAction(self.copyPathAction)
        node_menu.addAction(self.validateAction)
        node_menu.addAction(self.napariAction)
        node_menu.setToolTipsVisible(True)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(18, 18))
        for action in (self.openFolderAction, self.openZipAction, self.openUrlAction):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.refreshAction)

    def _build_central(self) -> None:
        self.errorBar = _ErrorBar()

        # welcome page (no store open yet)
        welcome = QWidget()
        title = QLabel("<h2>zarr-browser</h2><p>Open a zarr store: a folder, a zip file, or a URL "
                       "(http, s3, gs…). You can also drop one on this window.</p>")
        title.setWordWrap(True)
        buttons = QHBoxLayout()
        for action in (self.openFolderAction, self.openZipAction, self.openUrlAction):
            button = QPushButton(action.icon(), action.text())
            button.clicked.connect(action.trigger)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.recentList = QListWidget()
        self.recentList.setObjectName("recentList")
        welcome_layout = QVBoxLayout(welcome)
        welcome_layout.setContentsMargins(40, 30, 40, 30)
        welcome_layout.addWidget(title)
        welcome_layout.addLayout(buttons)
        welcome_layout.addSpacing(16)
        welcome_layout.addWidget(QLabel("<b>Recent stores</b>"))
        welcome_layout.addWidget(self.recentList, 1)

        # browser page
        self.filterEdit = QLineEdit()
        self.filterEdit.setPlaceholderText("Filter names (Ctrl+F) — substring or wildcard, e.g. *.ome.zarr")
        self.filterEdit.setClearButtonEnabled(True)
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
        header = self.tree.header()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(False)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in ((0, 215), (1, 100), (2, 125), (3, 62)):
            header.resizeSection(column, width)
        self.tree.addAction(self.copyPathAction)

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
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(self.filterEdit)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(self.unloadedLabel)
        left_layout.addWidget(self.unloadedList)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.inspector)
        self.splitter.setStretchFactor(0, 45)
        self.splitter.setStretchFactor(1, 55)
        self.splitter.setSizes([650, 750])

        self.stack = QStackedWidget()
        self.stack.addWidget(welcome)
        self.stack.addWidget(self.splitter)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(self.errorBar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def _build_status(self) -> None:
        status = self.statusBar()
        self.urlLabel = QLabel()
        self.urlLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.modeLabel = QLabel()
        self.progressLabel = QLabel()
        self.progressBar = QProgressBar()
        self.progressBar.setRange(0, 0)  # busy indicator
        self.progressBar.setMaximumWidth(120)
        self.progressBar.setMaximumHeight(14)
        self.cancelButton = QPushButton("Cancel")
        self.cancelButton.setToolTip("Stop waiting for the store (Esc)")
        status.addWidget(self.urlLabel, 1)
        status.addPermanentWidget(self.progressLabel)
        status.addPermanentWidget(self.progressBar)
        status.addPermanentWidget(self.cancelButton)
        status.addPermanentWidget(self.modeLabel)
        self._set_busy("")

    def _connect(self) -> None:
        self.openFolderAction.triggered.connect(self.openFolderDialog)
        self.openZipAction.triggered.connect(self.openZipDialog)
        self.openUrlAction.triggered.connect(self.openUrlDialog)
        self.refreshAction.triggered.connect(self.refreshCurrent)
        self.quitAction.triggered.connect(self.close)
        self.findAction.triggered.connect(self._on_find)
        self.cancelAction.triggered.connect(self.cancelPending)
        self.cancelButton.clicked.connect(self.cancelPending)
        self.copyPathAction.triggered.connect(self.copyCurrentPath)
        self.validateAction.triggered.connect(self.validateCurrent)
        self.napariAction.triggered.connect(self.openCurrentInNapari)
        self.clearRecentAction.triggered.connect(self._on_clear_recent)
        self.recentList.itemActivated.connect(self._on_recent_activated)
        self.filterEdit.textChanged.connect(self._on_filter_changed)
        self.proxy.unloadedMatchesChanged.connect(self._on_unloaded_changed)
        self.unloadedList.itemActivated.connect(self._on_unloaded_activated)
        self.tree.selectionModel().currentRowChanged.connect(self._on_tree_current_changed)
        self.tree.customContextMenuRequested.connect(self._on_tree_context_menu)
        self.tree.header().sectionClicked.connect(self._on_header_clicked)
        self.model.pendingChanged.connect(self._on_pending_changed)
        self.model.pageLoaded.connect(self._on_page_loaded)
        self.proxy.rowsInserted.connect(self._on_proxy_rows_inserted)
        self.inspector.nodeRequested.connect(self.revealPath)

    # -- opening ---------------------------------------------------------------------------
    def openStore(self, url: str, storage_options: dict[str, Any] | None = None) -> None:
        """Open *url* in a worker; the tree replaces the current one when it succeeds."""
        url = url.strip()
        if not url:
            return
        if self._open_task is not None:
            self._open_task.cancel()
        options = dict(storage_options or {})
        self._opening_url = url
        self.errorBar.hide()
        self.statusBar().showMessage(f"Opening {url}…")
        self._open_task = None
        task = self._runner.submit(
            _open_hierarchy, url, options, self._registry, self._policy,
            on_done=lambda result: self._on_opened(url, options, result),
            on_error=lambda err: self._on_open_failed(url, err),
        )
        if not task.done:  # an ImmediateRunner has finished already
            self._open_task = task
        self._update_busy()

    def _on_opened(self, url: str, options: dict[str, Any], result: tuple[Hierarchy, NodeSummary]) -> None:
        self._open_task = None
        hierarchy, summary = result
        old = self._hierarchy
        self._hierarchy = hierarchy
        self._storage_options = options
        self.inspector.clear()
        self.filterEdit.clear()
        self.model.setHierarchy(hierarchy, summary)
        if old is not None and old is not hierarchy:
            self._runner.submit(old.close)  # closing a remote store may talk to the network
        self.stack.setCurrentIndex(1)
        self.setWindowTitle(f"zarr-browser — {hierarchy.url}")
        self.urlLabel.setText(hierarchy.url)
        self.modeLabel.setText("read-only" if hierarchy.access.read_only else "writable")
        self.statusBar().clearMessage()
        root = self.proxy.index(0, 0)
        self.tree.expand(root)
        self.tree.selectionModel().setCurrentIndex(
            root, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        self._refresh_recent_menu(self._recent.add(url, options))
        self._update_actions()
        self._update_busy()
        self.storeOpened.emit(hierarchy.url)

    def _on_open_failed(self, url: str, err: BaseException) -> None:
        self._open_task = None
        if not isinstance(err, ZarrBrowserError | OSError | TimeoutError):
            logger.error("opening %s failed", url, exc_info=err)
            reason = f"internal error: {type(err).__name__}: {err}"
        else:
            reason = str(err) or type(err).__name__
        self.errorBar.showError(f"Could not open {url}: {reason}")
        self.statusBar().showMessage(f"Could not open {url}", 10000)
        self._update_busy()
        self.openFailed.emit(url, reason)

    def hierarchy(self) -> Hierarchy | None:
        return self._hierarchy

    def errorText(self) -> str:
        """The error shown in the window ('' when none)."""
        return self.errorBar.text()

    def openFolderDialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open zarr folder")
        if path:
            self.openStore(path)

    def openZipDialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open zipped zarr store", "",
                                              "Zipped zarr (*.zip *.ozx);;All files (*)")
        if path:
            self.openStore(path)

    def openUrlDialog(self) -> None:
        dialog = OpenUrlDialog(self, storage_options=self._storage_options)
        if dialog.exec_() == QDialog.DialogCode.Accepted:
            self.openStore(dialog.url(), dialog.storageOptions())

    # -- drag and drop ---------------------------------------------------------------------
    @staticmethod
    def _dropped_target(event: QDragEnterEvent | QDropEvent) -> str | None:
        mime = event.mimeData()
        if mime.hasUrls() and mime.urls():
            url = mime.urls()[0]
            return url.toLocalFile() if url.isLocalFile() else url.toString()
        if mime.hasText() and mime.text().strip():
            return mime.text().strip().splitlines()[0]
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_target(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        target = self._dropped_target(event)
        if target:
            event.acceptProposedAction()
            self.openStore(target)

    # -- recent stores ---------------------------------------------------------------------
    def recentStores(self) -> list[RecentStore]:
        return self._recent.load()

    def _refresh_recent_menu(self, entries: list[RecentStore] | None = None) -> None:
        entries = self._recent.load() if entries is None else entries
        self.recentMenu.clear()
        self.recentList.clear()
        for entry in entries:
            action = self.recentMenu.addAction(entry.url)
            action.triggered.connect(lambda _checked=False, e=entry: self.openStore(e.url, e.storage_options))
            item = QListWidgetItem(entry.url)
            item.setData(Qt.ItemDataRole.UserRole, entry)
            self.recentList.addItem(item)
        if not entries:
            placeholder = self.recentMenu.addAction("No recent stores")
            placeholder.setEnabled(False)
        self.recentMenu.addSeparator()
        self.recentMenu.addAction(self.clearRecentAction)
        self.clearRecentAction.setEnabled(bool(entries))

    def _on_recent_activated(self, item: QListWidgetItem) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(entry, RecentStore):
            self.openStore(entry.url, entry.storage_options)

    def _on_clear_recent(self) -> None:
        self._recent.clear()
        self._refresh_recent_menu([])

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

    def _on_tree_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_actions()
        if self._hierarchy is None or not current.isValid():
            return
        node = current.siblingAtColumn(0).data(HierarchyTreeModel.NodeRole)
        if node is not None and current.data(HierarchyTreeModel.StateRole) == HierarchyTreeModel.NODE:
            self.inspector.setNode(self._hierarchy, node)

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
        self.tree.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        return True

    def revealPath(self, path: str, callback: Callable[[bool], None] | None = None) -> None:
        """List what is needed to show *path*, then select it (from the inspector, matches list...)."""

        def revealed(index: QModelIndex) -> None:
            ok = index.isValid() and self.selectPath(path)
            if not ok:
                self.statusBar().showMessage(f"{path} was not found in {self._hierarchy.url if self._hierarchy else ''}",
                                             8000)
            if callback is not None:
                callback(ok)

        self.model.revealPath(path, revealed)

    # -- filter ----------------------------------------------------------------------------
    def _on_find(self) -> None:
        if self.stack.currentIndex() == 1:
            self.filterEdit.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.filterEdit.selectAll()

    def _on_filter_changed(self, text: str) -> None:
        self.proxy.setFilterText(text)
        if text.strip():
            self._expand_matches()

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
        header = self.tree.header()
        order = Qt.SortOrder.AscendingOrder
        if header.isSortIndicatorShown() and header.sortIndicatorSection() == column \
                and header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder:
            order = Qt.SortOrder.DescendingOrder
        header.setSortIndicatorShown(True)
        header.setSortIndicator(column, order)
        self.proxy.sort(column, order)

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

    def _on_unloaded_activated(self, item: QListWidgetItem) -> None:
        self.revealPath(item.text())

    def _on_proxy_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        # placeholder rows (loading / failed / warning) span the whole row; they come one at a time
        if last - first > 2:
            return
        for row in range(first, last + 1):
            if self.proxy.index(row, 0, parent).data(HierarchyTreeModel.StateRole) != HierarchyTreeModel.NODE:
                self.tree.setFirstColumnSpanned(row, parent, True)

    # -- actions on nodes ------------------------------------------------------------------
    def copyCurrentPath(self) -> None:
        path = self.currentPath()
        if path is not None:
            QGuiApplication.clipboard().setText(path)
            self.statusBar().showMessage(f"Copied {path}", 3000)

    def snippetsForCurrent(self) -> dict[str, str]:
        """The copy-as-code snippets of the current node."""
        current = self._current_node()
        if current is None or self._hierarchy is None:
            return {}
        node, index = current
        summary = index.siblingAtColumn(0).data(HierarchyTreeModel.SummaryRole)
        detections = summary.conventions if summary is not None else ()
        return snippets(self._hierarchy.url, node.path, node, detections, self._storage_options)

    def _copy_snippet(self, name: str, code: str) -> None:
        QGuiApplication.clipboard().setText(code)
        self.statusBar().showMessage(f"Copied {name} code", 3000)

    def refreshCurrent(self) -> None:
        """Re-read the current node (the root when nothing is selected) from the store."""
        if self._hierarchy is None:
            return
        path = self.currentPath() or "/"
        self.model.refreshPath(path)
        self.statusBar().showMessage(f"Refreshing {path}…", 3000)

    def validateCurrent(self) -> None:
        """Validate the current subtree in the runner; the result goes to the status bar."""
        if self._hierarchy is None:
            return
        path = self.currentPath() or "/"
        if self._validation_task is not None:
            self._validation_task.cancel()
        holder: list[Task] = []
        self.statusBar().showMessage(f"Validating {path}…")
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
        errors = len(report.errors)
        warnings = len(report.issues) - errors
        verdict = "no issues" if not report.issues else f"{errors} error(s), {warnings} warning(s)"
        self.statusBar().showMessage(f"Validated {path}: {verdict} in {report.nodes_checked} node(s)")
        self._update_busy()
        self.validationFinished.emit(path, report)

    def _on_validation_failed(self, path: str, err: BaseException) -> None:
        self._validation_task = None
        if not isinstance(err, ZarrBrowserError | OSError):
            logger.error("validating %s failed", path, exc_info=err)
        self.errorBar.showError(f"Could not validate {path}: {err}")
        self._update_busy()

    def openCurrentInNapari(self) -> None:
        """Open the current node in napari through the zarr-browser plugin (when installed)."""
        if self._hierarchy is None or not napari_available():
            return
        path = self.currentPath() or "/"
        target = node_url(self._hierarchy.url, path)
        subprocess.Popen([sys.executable, "-m", "napari", "--plugin", "zarr-browser", target])

    def _on_tree_context_menu(self, pos: Any) -> None:
        index = self.tree.indexAt(pos)
        if not index.isValid() or index.data(HierarchyTreeModel.StateRole) != HierarchyTreeModel.NODE:
            return
        menu = self.contextMenuFor(index)
        menu.exec_(self.tree.viewport().mapToGlobal(pos))

    def contextMenuFor(self, index: QModelIndex) -> QMenu:
        """The context menu of a tree row (makes it current); exposed for tests."""
        self.tree.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        )
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        menu.addAction(self.copyPathAction)
        code_menu = menu.addMenu("Copy as code")
        for name, code in self.snippetsForCurrent().items():
            action = code_menu.addAction(name)
            action.setToolTip(code)
            action.triggered.connect(lambda _checked=False, n=name, c=code: self._copy_snippet(n, c))
        code_menu.setEnabled(not code_menu.isEmpty())
        menu.addSeparator()
        menu.addAction(self.napariAction)
        menu.addAction(self.refreshAction)
        menu.addAction(self.validateAction)
        return menu

    # -- progress --------------------------------------------------------------------------
    def cancelPending(self) -> None:
        """Stop waiting: cancel the open, the listings and the validation in flight."""
        if self._open_task is not None:
            self._open_task.cancel()
            self._open_task = None
            self.errorBar.showError(f"Cancelled opening {self._opening_url}")
        if self._validation_task is not None:
            self._validation_task.cancel()
            self._validation_task = None
        self.model.cancelPending()
        self._update_busy()

    def _on_pending_changed(self, _count: int) -> None:
        self._update_busy()

    def _on_page_loaded(self, path: str, loaded: int, total: int) -> None:
        # What was just loaded lives as long as the tree shows it.  Moving it out of the cyclic
        # collector's generations keeps full collections short: without this, each one re-scans
        # every node loaded so far and froze the window for 100-200 ms while a group of 10,000
        # arrays was loading (measured in tests/qt/test_window.py).  Frozen objects are still
        # freed by reference counting when the tree lets go of them.
        gc.freeze()
        if loaded < total:
            self.statusBar().showMessage(f"{path}: {loaded:,} of {total:,} children loaded — scroll down for more",
                                         5000)

    def _update_busy(self) -> None:
        parts = []
        if self._open_task is not None:
            parts.append("opening store")
        pending = self.model.pendingCount()
        if pending:
            parts.append(f"loading {pending} group{'s' if pending != 1 else ''}")
        if self._validation_task is not None:
            parts.append("validating")
        self._set_busy(", ".join(parts))

    def _set_busy(self, text: str) -> None:
        busy = bool(text)
        self.progressLabel.setText(text[:1].upper() + text[1:] + "…" if busy else "")
        for widget in (self.progressLabel, self.progressBar, self.cancelButton):
            widget.setVisible(busy)
        self.cancelAction.setEnabled(busy)

    def _update_actions(self) -> None:
        has_store = self._hierarchy is not None
        has_node = self.currentPath() is not None
        self.refreshAction.setEnabled(has_store)
        self.copyPathAction.setEnabled(has_node)
        self.validateAction.setEnabled(has_store)
        enabled = has_node and napari_available()
        self.napariAction.setEnabled(enabled)
        self.napariAction.setToolTip("Open the node in napari" if enabled else NAPARI_TOOLTIP)

    def closeEvent(self, event: Any) -> None:
        self.cancelPending()
        self.inspector.clear()  # cancels the inspector's work too: no late results for dead widgets
        super().closeEvent(event)
