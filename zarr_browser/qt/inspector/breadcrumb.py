"""The breadcrumb bar: the selected node's path as clickable segments, with copy buttons."""

from __future__ import annotations

from functools import partial

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QToolButton,
    QWidget,
)

from zarr_browser.qt._typed import clear_layout, layout_widgets, nonnull

__all__ = ["Breadcrumb"]


class Breadcrumb(QWidget):
    """``store › a › b`` with every ancestor clickable, and a copy-path button.

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
        self._copy = QToolButton()
        self._copy.setText("Copy path")
        self._copy.setIcon(nonnull(self.style()).standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView))
        self._copy.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._copy.setToolTip("Copy the node path to the clipboard")
        self._copy.setEnabled(False)
        self._copy_url = QToolButton()
        self._copy_url.setText("Copy URL")
        self._copy_url.setToolTip("Copy the store URL followed by the node path")
        self._copy_url.setEnabled(False)
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
            crumbs.append((part, "/" + "/".join(parts[: i + 1])))
        for i, (label, target) in enumerate(crumbs):
            if i:
                sep = QLabel("›")
                sep.setContentsMargins(3, 0, 3, 0)
                sep.setStyleSheet("color: palette(mid);")
                self._segments_layout.addWidget(sep)
            button = QToolButton()
            button.setText(label)
            button.setAutoRaise(True)
            button.setToolTip(target if i else (url or "/"))
            button.setProperty("nodePath", target)
            if i == len(crumbs) - 1:
                font = button.font()
                font.setBold(True)
                button.setFont(font)
                button.setEnabled(True)
                button.setCheckable(False)
            button.clicked.connect(partial(self.pathClicked.emit, target))
            self._segments_layout.addWidget(button)
        self._segments_layout.addStretch(1)
        self._copy.setEnabled(True)
        self._copy_url.setEnabled(bool(url))
        scroll_bar = nonnull(self._scroll.horizontalScrollBar())
        scroll_bar.setValue(scroll_bar.maximum())

    def clear(self) -> None:
        self._path, self._url = "", ""
        self._clear_segments()
        self._segments_layout.addStretch(1)
        self._copy.setEnabled(False)
        self._copy_url.setEnabled(False)

    def segmentButtons(self) -> list[QToolButton]:
        """The segment buttons, root first (for tests)."""
        return [w for w in layout_widgets(self._segments_layout) if isinstance(w, QToolButton)]

    # -- slots ---------------------------------------------------------------------------------
    def _on_copy_clicked(self) -> None:
        nonnull(QApplication.clipboard()).setText(self._path)

    def _on_copy_url_clicked(self) -> None:
        url = self._url.rstrip("/")
        nonnull(QApplication.clipboard()).setText(url + (self._path if self._path != "/" else ""))

    def _clear_segments(self) -> None:
        clear_layout(self._segments_layout)
