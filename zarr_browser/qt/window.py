"""The standalone browser window: a lazy tree of a store next to the inspector.

Layout: toolbar and menus (open folder / zip / URL, recent stores, refresh, quit); a
non-modal error bar; a welcome page until a store is open; then the
:class:`~zarr_browser.qt.browser_panel.BrowserPanel` (the filter box, the tree and the
"matches not loaded yet" list on the left, the :class:`~zarr_browser.qt.inspector.Inspector`
on the right — the same panel the napari dock shows); a status bar with the URL, the read-only
state and the progress of pending loads (with *Cancel*).

Opening a store, listing, refreshing and validating all run in the injected runner; results
and errors come back on the GUI thread and errors are shown in the window, never as a
traceback.  "Open in napari" starts napari in a new process with the zarr-browser plugin.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from qtpy.QtCore import QModelIndex, QSettings, QSize, Qt, Signal
from qtpy.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from qtpy.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStyle,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from zarr_browser.cli import STORAGE_OPTIONS_ENV, URL_ENV
from zarr_browser.core import jsonio
from zarr_browser.core.preview import not_an_image
from zarr_browser.core.redact import redact_options, redact_text, redact_url
from zarr_browser.core.store import options_for_url
from zarr_browser.qt._typed import connect_slot, nonnull
from zarr_browser.qt.app import app_settings
from zarr_browser.qt.browser_panel import NAPARI_TOOLTIP, BadgeDelegate, BrowserPanel
from zarr_browser.qt.editor.window_editing import WindowEditing
from zarr_browser.qt.recent import RecentStore, RecentStores
from zarr_browser.qt.shortcuts import set_tip

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import Node
    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.qt.workers import Runner

__all__ = ["NAPARI_TOOLTIP", "BadgeDelegate", "BrowserPanel", "BrowserWindow", "OpenUrlDialog", "RecentStores",
           "napari_available", "napari_command", "parse_storage_options", "redact_options", "redact_text", "redact_url"]

logger = logging.getLogger(__name__)

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


# -- dialogs ---------------------------------------------------------------------------------


class OpenUrlDialog(QDialog):
    """Ask for a URL and its storage options (KEY=VALUE lines or JSON, anonymous, endpoint, credentials).

    The S3 key, secret and token have fields of their own, the secret and the token masked.
    For an http(s) URL the S3 fields are disabled and a note names the options that will be
    left out (aiohttp takes none of them).  *note* is shown above the form (why the dialog was
    opened, e.g. credentials that were not saved).
    """

    def __init__(self, parent: QWidget | None = None, *, url: str = "",
                 storage_options: dict[str, Any] | None = None, note: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Open URL")
        self.setMinimumWidth(560)
        options = dict(storage_options or {})
        self.noteLabel = QLabel(note)
        self.noteLabel.setWordWrap(True)
        self.noteLabel.setVisible(bool(note))
        self.urlEdit = QLineEdit(url)
        self.urlEdit.setPlaceholderText("s3://bucket/data.zarr, https://host/image.ome.zarr, gs://…")
        self.urlEdit.selectAll()  # typing replaces the URL tried last
        self.anonymousCheck = QCheckBox("Anonymous access (public buckets)")
        self.anonymousCheck.setChecked(bool(options.pop("anon", False)))
        self.endpointEdit = QLineEdit(str(options.pop("endpoint_url", "")))
        self.endpointEdit.setPlaceholderText("S3-compatible endpoint, e.g. https://s3.embl.de (optional)")
        self.keyEdit = self._text_field(options.pop("key", ""), "AWS access key ID (optional)")
        self.secretEdit = self._text_field(options.pop("secret", ""), "AWS secret access key", masked=True)
        self.tokenEdit = self._text_field(options.pop("token", ""), "session token (optional)", masked=True)
        self.optionsEdit = QPlainTextEdit()
        self.optionsEdit.setPlaceholderText('One KEY=VALUE per line (values parsed as JSON), or a JSON object:\n'
                                            'requester_pays=true\n{"client_kwargs": {"region_name": "eu-west-1"}}')
        if options:
            self.optionsEdit.setPlainText(json.dumps(options, indent=2))
        self.optionsEdit.setFixedHeight(110)
        self.optionsEdit.setTabChangesFocus(True)  # a Tab here trapped keyboard users before Open (audit K, 7)
        self.schemeLabel = QLabel()
        self.schemeLabel.setWordWrap(True)
        self.schemeLabel.hide()
        self.errorLabel = QLabel()
        self.errorLabel.setStyleSheet("color: #b91c1c")
        self.errorLabel.setWordWrap(True)
        self.errorLabel.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("URL", self.urlEdit)
        form.addRow("", self.anonymousCheck)
        form.addRow("Endpoint URL", self.endpointEdit)
        form.addRow("Access key", self.keyEdit)
        form.addRow("Secret key", self.secretEdit)
        form.addRow("Session token", self.tokenEdit)
        form.addRow("Storage options", self.optionsEdit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.noteLabel)
        layout.addLayout(form)
        layout.addWidget(self.schemeLabel)
        layout.addWidget(self.errorLabel)
        layout.addWidget(buttons)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.urlEdit.textChanged.connect(self._update_scheme)
        self.optionsEdit.textChanged.connect(self._update_scheme)
        self._update_scheme()

    @staticmethod
    def _text_field(value: Any, placeholder: str, *, masked: bool = False) -> QLineEdit:
        edit = QLineEdit(str(value))
        edit.setPlaceholderText(placeholder)
        if masked:
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        return edit

    def _entered_options(self) -> dict[str, Any]:
        """Every option entered, whether the URL takes it or not (raises ValueError on bad text)."""
        options = parse_storage_options(self.optionsEdit.toPlainText())
        if self.anonymousCheck.isChecked():
            options["anon"] = True
        for name, edit in (("endpoint_url", self.endpointEdit), ("key", self.keyEdit),
                           ("secret", self.secretEdit), ("token", self.tokenEdit)):
            if edit.text().strip():
                options[name] = edit.text().strip()
        return options

    def storageOptions(self) -> dict[str, Any]:
        """The storage options entered that the URL takes (raises ValueError when the text cannot be parsed)."""
        return options_for_url(self.url(), self._entered_options())[0]

    def leftOut(self) -> list[str]:
        """The options entered that the URL's scheme does not take (S3 options for an http URL)."""
        try:
            return options_for_url(self.url(), self._entered_options())[1]
        except ValueError:
            return []

    def _update_scheme(self) -> None:
        s3_fields = not options_for_url(self.url(), {"anon": True})[1]  # the URL takes S3 options
        for widget in (self.anonymousCheck, self.endpointEdit, self.keyEdit, self.secretEdit, self.tokenEdit):
            widget.setEnabled(s3_fields)
        left_out = self.leftOut()
        self.schemeLabel.setText(f"Not used for {urlsplit(self.url()).scheme} URLs (S3 options): "
                                 f"{', '.join(left_out)}" if left_out else "")
        self.schemeLabel.setVisible(bool(left_out))

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


def napari_command(url: str, path: str, storage_options: dict[str, Any] | None = None, *,
                   timeout: float | None = None) -> tuple[list[str], dict[str, str]]:
    """The command that opens node *path* of the store at *url* in a new napari with the browser dock
    (with the deadline *timeout* for remote reads), and its environment.

    The storage options (credentials among them) travel in the environment
    (:data:`~zarr_browser.cli.STORAGE_OPTIONS_ENV`), readable by this user only, never on the
    command line, which every user of the machine can list.
    """
    shown = redact_url(url)  # a password or token in the URL travels in the environment too
    command = [sys.executable, "-m", "zarr_browser", shown, "--napari"]
    if path.strip("/"):
        command += ["--node", path]
    if timeout is not None:
        command += ["--timeout", f"{timeout:g}"]
    environment = dict(os.environ)
    environment.pop(STORAGE_OPTIONS_ENV, None)
    environment.pop(URL_ENV, None)
    if storage_options:
        environment[STORAGE_OPTIONS_ENV] = json.dumps(storage_options)
    if shown != url:
        environment[URL_ENV] = url
    return command, environment


class _NapariLaunch:
    """A napari process started by *Open in napari*, watched until it exits.

    The status bar says it is starting (napari takes seconds); its error output goes to a file
    (a pipe would break the process once this window is gone), copied to this process's stderr
    when it exits; a failure is reported to the window with its last line.  napari outlives the
    window, as before: only the watching stops (and what napari writes then is not kept).
    """

    POLL_MS = 500

    def __init__(self, window: BrowserWindow, command: list[str], environment: dict[str, str], node: str) -> None:
        import tempfile

        from qtpy.QtCore import QTimer

        self._window = window
        self._node = node
        self._log = tempfile.NamedTemporaryFile(prefix="zarr-browser-napari-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(command, env=environment, stderr=self._log)
        window._show_message(f"Starting napari on {node}…", 15_000)
        self._timer = QTimer(window)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def detach(self) -> None:
        """Stop watching (the window closes): napari runs on, its error output no longer kept."""
        self._timer.stop()
        self._log.close()
        with contextlib.suppress(OSError):
            os.unlink(self._log.name)

    def _poll(self) -> None:
        code = self.process.poll()
        if code is None:
            return
        self._timer.stop()
        self._log.close()
        try:
            with open(self._log.name, "rb") as log:
                err = log.read()
        except OSError:
            err = b""
        finally:
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)
        if err:
            sys.stderr.write(err.decode(errors="replace"))
        message = None
        if code != 0:
            lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
            why = lines[-1].removeprefix("zarr-browser: ") if lines else f"exit status {code}"
            message = f"napari could not open {self._node}: {why}"
        self._window._napari_launch_ended(self, message)


def napari_available() -> bool:
    """Whether napari and the zarr-browser napari reader are installed (not yet: the plugin is pending)."""
    return importlib.util.find_spec("napari") is not None and \
        importlib.util.find_spec("zarr_browser._reader") is not None


# -- the window ------------------------------------------------------------------------------


def _napari_refusal(node: Node) -> str | None:
    """Why *node* cannot open in napari, from its metadata alone (an array of fewer than two
    dimensions, of values napari cannot draw, or empty), as the dock says it (audit G, 10)."""
    why = not_an_image(node.array) if node.is_array and node.array is not None else None
    return f"Cannot be opened in napari: {why}" if why else None


def _first_focusable(pane: QWidget) -> QWidget | None:
    """Where F6 puts the focus in *pane*: the first widget Tab reaches in the current page of its
    first tab widget (the inspector's, the editor's), else the tab bar; else the first in *pane*."""
    tabs = pane if isinstance(pane, QTabWidget) else pane.findChild(QTabWidget)
    within = (tabs.currentWidget() if tabs is not None else None) or pane
    widget = within.nextInFocusChain()
    for _ in range(5000):  # (the chain is the window's, a ring: Tab order)
        if widget is None or widget is within:
            break
        if within.isAncestorOf(widget) and widget.isVisible() and widget.isEnabled() \
                and widget.focusPolicy() & Qt.FocusPolicy.TabFocus and widget.focusProxy() is None:
            return widget
        widget = widget.nextInFocusChain()
    return tabs


class BrowserWindow(QMainWindow):
    """Browse one zarr store at a time: tree, filter, inspector, copy as code, validation.

    The tree, the filter and the inspector are a :class:`~zarr_browser.qt.browser_panel.BrowserPanel`
    (:attr:`panel`, the same widget napari docks); the window adds the menus, the toolbar, the
    welcome page with the recent stores, drag and drop and the status bar.  The panel's parts
    stay reachable as attributes of the window (``tree``, ``model``, ``proxy``, ``inspector``...).

    Parameters
    ----------
    runner
        Runs every store operation off the GUI thread.
    registry
        Conventions used for badges, kinds, hints and validation.
    settings
        Where recent stores are kept; :func:`~zarr_browser.qt.app.app_settings` by default
        (tests pass a settings file of their own).
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
        self._shown_store = False  # a store was shown before the one opening (gc.freeze: see _on_opened)
        self._registry = registry
        self._settings = settings if settings is not None else app_settings()
        self._policy = policy
        self._napari_launches: list[_NapariLaunch] = []  # napari processes started here, until they exit
        self._recent = RecentStores(self._settings)
        #: the URL and the options of the last open tried (kept when it failed: the dialog offers them again)
        self._last_attempt: tuple[str, dict[str, Any]] | None = None

        self.setWindowTitle("zarr-browser")
        self.setAcceptDrops(True)
        self.resize(1400, 850)

        self.panel = BrowserPanel(runner=runner, registry=registry, policy=policy,
                                  orientation=Qt.Orientation.Horizontal)
        self.panel.setOpenInNapari(lambda: napari_available(), refusal=_napari_refusal)
        # the panel's parts, as attributes of the window
        self.model = self.panel.model
        self.proxy = self.panel.proxy
        self.inspector = self.panel.inspector
        self.tree = self.panel.tree
        self.filterEdit = self.panel.filterEdit
        self.unloadedLabel = self.panel.unloadedLabel
        self.unloadedList = self.panel.unloadedList
        self.splitter = self.panel.splitter
        self.errorBar = self.panel.errorBar
        self.refreshAction = self.panel.refreshAction
        self.copyPathAction = self.panel.copyPathAction
        self.validateAction = self.panel.validateAction
        self.napariAction = self.panel.napariAction

        self._build_actions()
        self._build_menus()
        self._build_central()
        self._build_status()
        self._connect()
        self._refresh_recent_menu()
        self.editing = WindowEditing(self, runner=runner, registry=registry)

    # -- construction ----------------------------------------------------------------------
    def _build_actions(self) -> None:
        style = nonnull(self.style())
        # (menu items have & mnemonics: Alt+F, then O opens a folder; their tooltips name their keys,
        # from the keys themselves: set_tip)
        self.openFolderAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon), "&Open folder…", self)
        self.openFolderAction.setShortcut(QKeySequence.StandardKey.Open)
        set_tip(self.openFolderAction, "Open a zarr directory")
        self.openZipAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_FileIcon), "Open &zip…", self)
        set_tip(self.openZipAction, "Open a zipped zarr store (.zip, .ozx)")
        self.openUrlAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_DriveNetIcon), "Open &URL…", self)
        self.openUrlAction.setShortcut(QKeySequence("Ctrl+L"))
        set_tip(self.openUrlAction, "Open an http(s)://, s3://, gs://… store with storage options")
        self.refreshAction.setShortcut(QKeySequence(Qt.Key.Key_F5))
        self.closeStoreAction = QAction("&Close store", self)
        # every binding of the platform, not the first only (under some styles Ctrl+F4 came first,
        # and Ctrl+W did nothing; audit K, 10)
        self.closeStoreAction.setShortcuts(QKeySequence.StandardKey.Close)
        set_tip(self.closeStoreAction, "Close the store shown")
        self.quitAction = QAction("&Quit", self)
        self.quitAction.setShortcut(QKeySequence("Ctrl+Q"))
        set_tip(self.quitAction, "Close the window (unsaved edits are asked about)")
        self.findAction = QAction("&Filter names", self)
        self.findAction.setShortcut(QKeySequence.StandardKey.Find)
        set_tip(self.findAction, "Show the loaded nodes whose name matches")
        self.cancelAction = QAction(style.standardIcon(QStyle.StandardPixmap.SP_BrowserStop), "Cancel &loading", self)
        self.cancelAction.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancelAction.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        set_tip(self.cancelAction, "Stop waiting for the store")
        # F6 / Shift+F6 go from pane to pane, as in most applications (from the tree, the editor's
        # attribute tree was 9 Tabs away: audit K, 8)
        self.nextPaneAction = QAction("&Next pane", self)
        self.nextPaneAction.setShortcut(QKeySequence(Qt.Key.Key_F6))
        set_tip(self.nextPaneAction, "Move the focus to the next pane: tree, inspector, editor")
        self.previousPaneAction = QAction("&Previous pane", self)
        self.previousPaneAction.setShortcut(QKeySequence("Shift+F6"))
        set_tip(self.previousPaneAction, "Move the focus to the previous pane: editor, inspector, tree")
        self.clearRecentAction = QAction("&Clear recent stores", self)
        for action in (self.findAction, self.cancelAction, self.nextPaneAction, self.previousPaneAction):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            self.addAction(action)
        # the panel's own actions: mnemonics in this window's menus, and the keys it gives them
        for action, text in ((self.copyPathAction, "&Copy path"), (self.validateAction, "&Validate subtree"),
                             (self.napariAction, "Open in &napari"), (self.refreshAction, "&Refresh"),
                             (self.panel.backAction, "&Back"), (self.panel.forwardAction, "For&ward"),
                             (self.panel.nextTabAction, "Ne&xt inspector tab"),
                             (self.panel.previousTabAction, "Pre&vious inspector tab")):
            action.setText(text)
        for action in (self.refreshAction, self.copyPathAction, self.panel.backAction, self.panel.forwardAction,
                       self.panel.nextTabAction, self.panel.previousTabAction):
            set_tip(action)

    def _build_menus(self) -> None:
        menu_bar = nonnull(self.menuBar())
        file_menu = nonnull(menu_bar.addMenu("&File"))
        file_menu.addAction(self.openFolderAction)
        file_menu.addAction(self.openZipAction)
        file_menu.addAction(self.openUrlAction)
        self.recentMenu = nonnull(file_menu.addMenu("Open &recent"))
        file_menu.addAction(self.closeStoreAction)
        file_menu.addSeparator()
        file_menu.addAction(self.quitAction)
        view_menu = nonnull(menu_bar.addMenu("&View"))
        view_menu.addAction(self.refreshAction)
        view_menu.addAction(self.findAction)
        view_menu.addAction(self.cancelAction)
        view_menu.addSeparator()
        for action in (self.panel.backAction, self.panel.forwardAction, self.panel.nextTabAction,
                       self.panel.previousTabAction):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.nextPaneAction)
        view_menu.addAction(self.previousPaneAction)
        view_menu.setToolTipsVisible(True)
        file_menu.setToolTipsVisible(True)
        node_menu = nonnull(menu_bar.addMenu("&Node"))
        node_menu.addAction(self.copyPathAction)
        self.codeMenu = nonnull(node_menu.addMenu("Copy as c&ode"))
        self.codeMenu.setToolTipsVisible(True)
        self.codeMenu.aboutToShow.connect(self._fill_code_menu)
        node_menu.addAction(self.validateAction)
        node_menu.addAction(self.napariAction)
        node_menu.setToolTipsVisible(True)

        toolbar = nonnull(self.addToolBar("Main"))
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        toolbar.setIconSize(QSize(18, 18))
        for action in (self.openFolderAction, self.openZipAction, self.openUrlAction):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.refreshAction)

    def _build_central(self) -> None:
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

        # the panel's error bar goes above both pages: errors of opening show on the welcome page too
        nonnull(self.panel.layout()).removeWidget(self.errorBar)
        browser_page = QWidget()
        page_layout = QVBoxLayout(browser_page)
        page_layout.setContentsMargins(0, 0, 0, 0)
        page_layout.addWidget(self.panel)

        self.stack = QStackedWidget()
        self.stack.addWidget(welcome)
        self.stack.addWidget(browser_page)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.setSpacing(4)
        layout.addWidget(self.errorBar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def _build_status(self) -> None:
        status = nonnull(self.statusBar())
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
        # Esc dismisses an error shown while nothing loads (Esc cancels a load first; audit K, 8)
        self.dismissErrorShortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        self.dismissErrorShortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        self.dismissErrorShortcut.setEnabled(False)
        self._set_busy("")

    def _connect(self) -> None:
        self.openFolderAction.triggered.connect(self.openFolderDialog)
        self.openZipAction.triggered.connect(self.openZipDialog)
        self.openUrlAction.triggered.connect(self.openUrlDialog)
        connect_slot(self.quitAction.triggered, self.close)
        connect_slot(self.closeStoreAction.triggered, self.closeStore)
        self.findAction.triggered.connect(self._on_find)
        self.cancelAction.triggered.connect(self.cancelPending)
        self.nextPaneAction.triggered.connect(lambda: self.focusPane(1))
        self.previousPaneAction.triggered.connect(lambda: self.focusPane(-1))
        self.dismissErrorShortcut.activated.connect(self.errorBar.hide)
        self.errorBar.visibilityChanged.connect(lambda _shown: self._update_dismiss())
        self.cancelButton.clicked.connect(self.cancelPending)
        self.clearRecentAction.triggered.connect(self._on_clear_recent)
        self.recentList.itemActivated.connect(self._on_recent_activated)
        self.panel.storeOpened.connect(self._on_opened)
        self.panel.openFailed.connect(self.openFailed)
        self.panel.validationFinished.connect(self.validationFinished)
        self.panel.openInNapariRequested.connect(self.openCurrentInNapari)
        self.panel.statusMessage.connect(self._show_message)
        self.panel.busyChanged.connect(self._set_busy)
        self.model.pageLoaded.connect(self._on_page_loaded)

    # -- opening ---------------------------------------------------------------------------
    def openStore(self, url: str, storage_options: dict[str, Any] | None = None, *, writable: bool = False,
                  select: str | None = None) -> None:
        """Open *url* in a worker; the tree replaces the current one when it succeeds (at the node
        *select*, a path below *url*, when given).

        With *writable*, the store is opened for writing and editing starts (remote stores ask
        first).  Unsaved edits of the store shown are asked about first.  Options the URL's scheme
        does not take (S3 options for an http URL) are left out, and the status bar says so.
        """
        if not self.editing.confirmUnsaved(lambda: self.openStore(url, storage_options, writable=writable,
                                                                  select=select)):
            return
        self._last_attempt = (url.strip(), dict(storage_options or {}))
        options, left_out = options_for_url(url, storage_options or {})
        if not writable or not self.editing.openWritable(url, options, select=select):  # declined: read-only
            self.panel.openStore(url, options, select=select)
        if left_out:
            self._show_message(f"Opening {url} without {', '.join(left_out)}: S3 options are not used for "
                               "http(s) URLs", 0)

    def _fill_code_menu(self) -> None:
        """Node ▸ Copy as code: the snippets of the current node (as its context menu has them)."""
        self.panel.fillCodeMenu(self.codeMenu)
        if self.codeMenu.isEmpty():
            nonnull(self.codeMenu.addAction("(select a node)")).setEnabled(False)

    def closeStore(self) -> None:
        """Close the store shown and go back to the start page (unsaved edits are asked about first)."""
        hierarchy = self.panel.hierarchy()
        if hierarchy is None or not self.editing.confirmUnsaved(self.closeStore):
            return
        self.editing.stopEditing()
        self.panel.setHierarchy(None)
        self._runner.submit(hierarchy.close)  # closing a remote store may talk to the network
        gc.unfreeze()
        self._shown_store = False
        self.stack.setCurrentIndex(0)
        self.setWindowTitle("zarr-browser")
        self.urlLabel.setText("")
        self.modeLabel.setText("")

    def _on_opened(self, _url: str) -> None:
        hierarchy = self.panel.hierarchy()
        if hierarchy is None:
            return
        if self._shown_store:  # what the last store's pages froze is collectable again (see _on_page_loaded)
            gc.unfreeze()
        self._shown_store = True
        self.stack.setCurrentIndex(1)
        self.panel.tree.setFocus(Qt.FocusReason.OtherFocusReason)  # the welcome page's focus would go to the filter box
        shown = redact_url(hierarchy.url)
        self.setWindowTitle(f"zarr-browser — {shown}")
        self.urlLabel.setText(shown)
        self.modeLabel.setText("read-only" if hierarchy.access.read_only else "writable")
        self._refresh_recent_menu(self._recent.add(self.panel.requestedUrl(), self.panel.storageOptions()))
        self.storeOpened.emit(hierarchy.url)

    def hierarchy(self) -> Hierarchy | None:
        return self.panel.hierarchy()

    def errorText(self) -> str:
        """The error shown in the window ('' when none)."""
        return self.panel.errorText()

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
        """Ask for a URL, prefilled with the last one tried (and its options), and open it."""
        url, options = self._last_attempt or (self.panel.requestedUrl(), self.panel.storageOptions())
        self._ask_url(url, options)

    def _ask_url(self, url: str, options: dict[str, Any], note: str = "") -> None:
        dialog = OpenUrlDialog(self, url=url, storage_options=options, note=note)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.openStore(dialog.url(), dialog.storageOptions())

    # -- drag and drop ---------------------------------------------------------------------
    @staticmethod
    def _dropped_target(event: QDragEnterEvent | QDropEvent) -> str | None:
        mime = event.mimeData()
        if mime is None:
            return None
        if mime.hasUrls() and mime.urls():
            url = mime.urls()[0]
            return url.toLocalFile() if url.isLocalFile() else url.toString()
        if mime.hasText() and mime.text().strip():
            return mime.text().strip().splitlines()[0]
        return None

    def dragEnterEvent(self, event: QDragEnterEvent | None) -> None:
        if event is None:
            return
        if self._dropped_target(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent | None) -> None:
        if event is None:
            return
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
            action = nonnull(self.recentMenu.addAction(entry.url))
            action.triggered.connect(lambda _checked=False, e=entry: self.openRecent(e))
            item = QListWidgetItem(entry.url)
            item.setData(Qt.ItemDataRole.UserRole, entry)
            self.recentList.addItem(item)
        if not entries:
            placeholder = nonnull(self.recentMenu.addAction("No recent stores"))
            placeholder.setEnabled(False)
        self.recentMenu.addSeparator()
        self.recentMenu.addAction(self.clearRecentAction)
        self.clearRecentAction.setEnabled(bool(entries))

    def _on_recent_activated(self, item: QListWidgetItem) -> None:
        entry = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(entry, RecentStore):
            self.openRecent(entry)

    def openRecent(self, entry: RecentStore) -> None:
        """Open a recent store; one whose credentials were not saved opens the Open URL dialog to ask for them."""
        if entry.credentials_removed:
            self._ask_url(entry.url, entry.storage_options,
                          "The credentials this store was opened with were not saved: enter them again "
                          "(or open it as it is, with the credentials of the environment).")
        else:
            self.openStore(entry.url, entry.storage_options)

    def _on_clear_recent(self) -> None:
        self._recent.clear()
        self._refresh_recent_menu([])

    # -- the panel's API -------------------------------------------------------------------
    def currentPath(self) -> str | None:
        """The node path of the current tree row (None when no node row is current)."""
        return self.panel.currentPath()

    def selectPath(self, path: str) -> bool:
        """Make the loaded node at *path* current (expanding its ancestors); False if not loaded."""
        return self.panel.selectPath(path)

    def revealPath(self, path: str, callback: Callable[[bool], None] | None = None) -> None:
        """List what is needed to show *path*, then select it."""
        self.panel.revealPath(path, callback)

    def copyCurrentPath(self) -> None:
        self.panel.copyCurrentPath()

    def snippetsForCurrent(self) -> dict[str, str]:
        """The copy-as-code snippets of the current node."""
        return self.panel.snippetsForCurrent()

    def refreshCurrent(self) -> None:
        """Re-read the current node (the root when nothing is selected) from the store."""
        self.panel.refreshCurrent()

    def validateCurrent(self) -> None:
        """Validate the current subtree in the runner; the result goes to the status bar."""
        self.panel.validateCurrent()

    def contextMenuFor(self, index: QModelIndex) -> QMenu:
        """The context menu of a tree row (makes it current); exposed for tests."""
        return self.panel.contextMenuFor(index)

    def cancelPending(self) -> None:
        """Stop waiting: cancel the open, the listings and the validation in flight."""
        self.panel.cancelPending()

    def _on_find(self) -> None:
        if self.stack.currentIndex() == 1:
            self.panel.focusFilter()

    def panes(self) -> list[QWidget]:
        """The panes F6 goes through, in order: the tree (with its filter), the inspector, the
        editor dock when it is shown."""
        if self.stack.currentIndex() != 1:
            return []
        panes = [nonnull(self.splitter.widget(0)), self.inspector]
        dock = self.editing.dock
        if dock.isVisible():
            panes.append(nonnull(dock.widget()))
        return panes

    def focusPane(self, step: int) -> None:
        """Move the focus to the next (*step* 1) or previous (-1) pane: into the tree, the
        inspector's current tab, the editor's current tab (its first field, or its tabs)."""
        panes = self.panes()
        if not panes:
            return
        focus = QApplication.focusWidget()
        at = next((i for i, pane in enumerate(panes) if focus is not None and (pane is focus or pane.isAncestorOf(focus))),
                  -1 if step > 0 else 0)
        pane = panes[(at + step) % len(panes)]
        if pane is panes[0]:
            self.tree.setFocus(Qt.FocusReason.ShortcutFocusReason)
            return
        target = _first_focusable(pane)
        if target is not None:
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def openCurrentInNapari(self, path: str | None = None) -> None:
        """Open the current node (or *path*) in a new napari process, through the zarr-browser plugin."""
        hierarchy = self.panel.hierarchy()
        if hierarchy is None or not napari_available():
            return
        node = path or self.currentPath() or "/"
        command, environment = napari_command(hierarchy.url, node, hierarchy.access.storage_options,
                                              timeout=self._policy.deadline if self._policy else None)
        self._napari_launches.append(_NapariLaunch(self, command, environment, node))

    def _napari_launch_ended(self, launch: _NapariLaunch, message: str | None) -> None:
        """A napari started from here exited: a failure shows in the error bar (it went to a
        terminal the user may not have: audit H, 8)."""
        with contextlib.suppress(ValueError):
            self._napari_launches.remove(launch)
        if message:
            self.errorBar.showError(message)

    # -- status and progress ---------------------------------------------------------------
    def _show_message(self, text: str, timeout: int) -> None:
        status = nonnull(self.statusBar())
        if text:
            status.showMessage(redact_text(text), timeout)
        else:
            status.clearMessage()

    def _on_page_loaded(self, _path: str, _loaded: int, _total: int) -> None:
        # What was just loaded lives as long as the tree shows it.  Moving it out of the cyclic
        # collector's generations keeps full collections short: without this, each one re-scans
        # every node loaded so far and froze the window for 100-200 ms while a group of 10,000
        # arrays was loading (measured in tests/qt/test_window.py).  Frozen objects are still
        # freed by reference counting when the tree lets go of them.
        gc.freeze()
        # the window keeps its heap frozen: work that builds quietly (jsonio.quiet_collector, an
        # edit session's workers) freezes what it made too, without asking the collector whether
        # anything is frozen (gc.get_freeze_count walks every frozen object: 0.1 s per million,
        # holding the GIL, at the end of each piece of the editor's work; audit K)
        jsonio.KEEP_FROZEN = True

    def _set_busy(self, text: str) -> None:
        busy = bool(text)
        self.progressLabel.setText(text[:1].upper() + text[1:] + "…" if busy else "")
        for widget in (self.progressLabel, self.progressBar, self.cancelButton):
            widget.setVisible(busy)
        self.cancelAction.setEnabled(busy)
        self._update_dismiss()

    def _update_dismiss(self) -> None:
        # (never both on: two enabled Esc shortcuts are ambiguous, and neither fires)
        self.dismissErrorShortcut.setEnabled(self.errorBar.isVisible() and not self.cancelAction.isEnabled())

    def closeEvent(self, event: Any) -> None:
        if not self.editing.confirmUnsaved(self.close):
            event.ignore()
            return
        self.editing.shutdown()
        self.panel.shutdown()  # cancels the inspector's work too: no late results for dead widgets
        for launch in self._napari_launches:
            launch.detach()
        self._napari_launches.clear()
        super().closeEvent(event)
