"""The breadcrumb bar: the selected node's path as clickable segments, with copy buttons."""

from __future__ import annotations

from functools import partial

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QResizeEvent
from qtpy.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from zarr_browser.core.text import printable, visible_name
from zarr_browser.qt._typed import clear_layout, layout_widgets, nonnull

__all__ = ["Breadcrumb"]


#: the narrowest a shortened segment gets (px): a few letters and the ellipsis
_MIN_SEGMENT = 48


class Breadcrumb(QWidget):
    """``store › a › b`` with every ancestor clickable, and copy-path / copy-URL buttons.

    When the path does not fit, the middle ancestors fold into one ``…`` segment, then the
    store's name and the node's own name are elided; the full text of a shortened segment is in
    its tooltip (the whole path is one click away with *Copy path*).

    Signals
    -------
    pathClicked(str)
        An ancestor segment was clicked (its node path).
    """

    pathClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = ""
        self._url = ""
        self._segments = QWidget()
        self._segments_layout = QHBoxLayout(self._segments)
        self._segments_layout.setContentsMargins(0, 0, 0, 0)
        self._segments_layout.setSpacing(0)
        self._scroll = QScrollArea()
        self._scroll.setWidget(self._segments)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._scroll.setFixedHeight(self._copy_height())
        self._scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a Tab stop that showed nothing (its segments take the focus)
        self._copy = QToolButton()
        self._copy.setText("Copy path")
        self._copy.setToolTip("Copy the node path to the clipboard")
        self._copy.setEnabled(False)
        self._copy_url = QToolButton()
        self._copy_url.setText("Copy URL")
        self._copy_url.setToolTip("Copy the store URL followed by the node path")
        self._copy_url.setEnabled(False)
        for button in (self._copy, self._copy_url):  # one look for both (one had an icon, another height)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._crumbs: list[tuple[QToolButton, str]] = []  # each segment button and its full label
        # Fusion draws no focus on a tool button: a keyboard user could not tell where Tab went
        self.setStyleSheet("QToolButton:focus { border: 1px solid palette(highlight); border-radius: 3px; }")
        self._fold: tuple[QLabel, QToolButton] | None = None  # the "› …" standing for the middle ancestors
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(self._copy)
        layout.addWidget(self._copy_url)
        self._connect()

    def _connect(self) -> None:
        self._copy.clicked.connect(self._on_copy_clicked)
        self._copy_url.clicked.connect(self._on_copy_url_clicked)

    def _copy_height(self) -> int:
        probe = QToolButton()
        probe.setText("Xg")
        return probe.sizeHint().height() + 4

    # -- public --------------------------------------------------------------------------------
    def path(self) -> str:
        return self._path

    def setPath(self, path: str, *, url: str = "") -> None:
        """Show *path* (``"/"`` or ``"/a/b"``) of the store at *url*."""
        self._path, self._url = path, url
        self._clear_segments()
        store_name = url.rstrip("/").rsplit("/", 1)[-1] if url else "/"
        parts = [p for p in path.split("/") if p]
        crumbs = [(store_name or "/", "/")]
        for i, part in enumerate(parts):
            crumbs.append((visible_name(part), "/" + "/".join(parts[: i + 1])))
        for i, (label, target) in enumerate(crumbs):
            if i:
                self._segments_layout.addWidget(self._separator())
            button = QToolButton()
            button.setText(label)
            button.setAutoRaise(True)
            button.setToolTip(printable(target) if i else (url or "/"))
            button.setProperty("nodePath", target)
            if i == len(crumbs) - 1:
                font = button.font()
                font.setBold(True)
                button.setFont(font)
            button.clicked.connect(partial(self.pathClicked.emit, target))
            self._segments_layout.addWidget(button)
            self._crumbs.append((button, label))
            if i == 0 and len(crumbs) > 2:  # "…" for the middle ancestors, shown when they do not fit
                middle = crumbs[1:-1]
                fold = QToolButton()
                fold.setText("…")
                fold.setAutoRaise(True)
                fold.setToolTip(" › ".join(label for label, _target in middle))
                fold.clicked.connect(partial(self.pathClicked.emit, middle[-1][1]))
                fold_separator = self._separator()
                self._segments_layout.addWidget(fold_separator)
                self._segments_layout.addWidget(fold)
                self._fold = (fold_separator, fold)
        self._segments_layout.addStretch(1)
        self._order_tabs()
        self._copy.setEnabled(True)
        self._copy_url.setEnabled(bool(url))
        self._fit()

    def _order_tabs(self) -> None:
        """Tab goes through the segments, left to right, then to the copy buttons: new widgets join
        the end of their window's focus chain, so the segments came after the panel below."""
        self._scroll.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # setTabOrder ignores a widget that takes no focus
        previous: QWidget = self._scroll
        for widget in layout_widgets(self._segments_layout):
            if isinstance(widget, QToolButton):
                QWidget.setTabOrder(previous, widget)
                previous = widget
        self._scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def clear(self) -> None:
        self._path, self._url = "", ""
        self._clear_segments()
        self._segments_layout.addStretch(1)
        self._copy.setEnabled(False)
        self._copy_url.setEnabled(False)

    def segmentButtons(self) -> list[QToolButton]:
        """The segment buttons, root first (for tests)."""
        return [button for button, _label in self._crumbs]

    def visibleText(self) -> str:
        """What the bar shows now, shortened segments as shown (``store › … › b``)."""
        shown = [w for w in layout_widgets(self._segments_layout) if not w.isHidden()]
        return " ".join(w.text() for w in shown if isinstance(w, QToolButton | QLabel))

    # -- fitting -------------------------------------------------------------------------------
    @staticmethod
    def _separator() -> QLabel:
        sep = QLabel("›")
        sep.setContentsMargins(3, 0, 3, 0)
        sep.setStyleSheet("color: palette(mid);")
        return sep

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        super().resizeEvent(event)
        self._fit()

    def _needed(self) -> int:
        shown = [w for w in layout_widgets(self._segments_layout) if not w.isHidden()]
        return sum(w.sizeHint().width() for w in shown) + self._segments_layout.spacing() * max(len(shown) - 1, 0)

    def _fit(self) -> None:
        """Fold the middle ancestors, then elide the store's and the node's names, until the path fits."""
        if not self._crumbs:
            return
        widgets = list(layout_widgets(self._segments_layout))
        folded = set(self._fold or ())
        for widget in widgets:
            widget.setHidden(widget in folded)
        for button, label in self._crumbs:
            button.setText(label)
        available = self._scroll.width()
        if self._needed() <= available:
            return
        if self._fold is not None:
            # everything between the fold and the last segment's separator goes; the fold comes
            start = widgets.index(self._fold[1]) + 1
            end = widgets.index(self._crumbs[-1][0]) - 1
            for widget in widgets[start:end]:
                widget.hide()
            for widget in self._fold:
                widget.show()
        ends = [self._crumbs[0], self._crumbs[-1]] if len(self._crumbs) > 1 else self._crumbs
        for button, label in ends:
            excess = self._needed() - available
            if excess <= 0:
                return
            metrics = button.fontMetrics()
            width = max(_MIN_SEGMENT, metrics.horizontalAdvance(label) - excess)
            button.setText(metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, width))
        if self._needed() > available:
            # too narrow even so (a napari dock): the node's own name alone, elided to fit -
            # squeezed segments drew over each other
            last, label = self._crumbs[-1]
            for widget in widgets:
                widget.setHidden(widget is not last)
            metrics = last.fontMetrics()
            padding = last.sizeHint().width() - metrics.horizontalAdvance(last.text())
            last.setText(metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, max(10, available - padding)))

    # -- slots ---------------------------------------------------------------------------------
    def _on_copy_clicked(self) -> None:
        nonnull(QApplication.clipboard()).setText(self._path)

    def _on_copy_url_clicked(self) -> None:
        url = self._url.rstrip("/")
        nonnull(QApplication.clipboard()).setText(url + (self._path if self._path != "/" else ""))

    def _clear_segments(self) -> None:
        for widget in layout_widgets(self._segments_layout):
            widget.hide()  # at once: until deleted (later), an old segment was still a Tab stop
        clear_layout(self._segments_layout)
        self._crumbs = []
        self._fold = None
