"""Shows a :class:`~zarr_browser.core.preview.Thumbnail`, or why there is none."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
from qtpy.QtCore import QSize, Qt
from qtpy.QtGui import QImage, QPixmap, QResizeEvent
from qtpy.QtWidgets import QBoxLayout, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from zarr_browser.core.preview import Thumbnail

__all__ = ["PreviewWidget"]

CAPTION_MIN_WIDTH = 180
"""Narrowest caption column beside the picture (px); narrower panels put the caption below."""
MIN_SIDE = 128
"""Narrowest picture (px): in a narrower panel (napari's dock) the picture shrinks to its width
down to this, rather than making the panel scroll sideways."""


class PreviewWidget(QWidget):
    """A thumbnail with a one-line note; or a message (loading, refused, nothing to draw)."""

    def __init__(self, parent: QWidget | None = None, *, side: int = 256) -> None:
        super().__init__(parent)
        self._side = side
        self._shown_side = side  # the picture's side now: less than *side* in a narrow panel
        self._thumbnail: Thumbnail | None = None
        self._pixmap: QPixmap | None = None  # the thumbnail at *side*
        self._image = QLabel()
        self._image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._image.setFixedSize(QSize(side + 2, side + 2))  # the border takes a pixel each side
        self._image.setStyleSheet("background: #111; border: 1px solid palette(mid); color: #bbb;")
        self._image.setWordWrap(True)
        self._note = QLabel()
        self._note.setWordWrap(True)
        self._note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._note.setStyleSheet("color: #6b7280;")
        self._note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        title = QLabel("<b>Preview</b>")
        side_column = QVBoxLayout()
        side_column.addWidget(title)
        side_column.addWidget(self._note)
        side_column.addStretch(1)
        self._layout = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self._image, 0, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._layout.addLayout(side_column, 1)
        self.clear()

    def isCaptionBeside(self) -> bool:
        """Whether the caption is right of the picture (else below it: a narrow panel)."""
        return self._layout.direction() == QBoxLayout.Direction.LeftToRight

    def minimumSizeHint(self) -> QSize:
        # the picture shrinks to the panel's width (see resizeEvent): it must not hold it wide
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), MIN_SIDE + 2), hint.height())

    def pictureSide(self) -> int:
        """The side of the picture shown (px)."""
        return self._shown_side

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        # beside the picture only with room for a readable column; else one word per line
        direction = QBoxLayout.Direction.LeftToRight if self.width() >= self._side + 2 + CAPTION_MIN_WIDTH \
            else QBoxLayout.Direction.TopToBottom
        if direction != self._layout.direction():
            self._layout.setDirection(direction)
        side = max(MIN_SIDE, min(self._side, self.width() - 2))
        if side != self._shown_side:
            self._shown_side = side
            self._image.setFixedSize(QSize(side + 2, side + 2))
            self._show_pixmap()
        super().resizeEvent(event)

    def _show_pixmap(self) -> None:
        if self._pixmap is None:
            return
        pixmap = self._pixmap
        if self._shown_side != self._side:
            pixmap = pixmap.scaled(self._shown_side, self._shown_side, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self._image.setPixmap(pixmap)

    # -- state ---------------------------------------------------------------------------------
    def thumbnail(self) -> Thumbnail | None:
        return self._thumbnail

    def message(self) -> str:
        """The text shown instead of a picture (empty when a picture is shown)."""
        return self._image.text()

    def note(self) -> str:
        return self._note.text()

    def hasPicture(self) -> bool:
        pixmap = self._image.pixmap()
        return pixmap is not None and not pixmap.isNull()

    # -- setters -------------------------------------------------------------------------------
    def clear(self) -> None:
        self._thumbnail = None
        self._pixmap = None
        self._image.clear()
        self._note.clear()

    def setLoading(self) -> None:
        self.clear()
        self._image.setText("Loading preview…")

    def isLoading(self) -> bool:
        return self._image.text() == "Loading preview…"

    def setMessage(self, text: str, *, error: bool = False) -> None:
        """Show *text* instead of a picture; errors (refusals, read failures) in red."""
        self.clear()
        colour = "#ff8080" if error else "#bbb"
        self._image.setStyleSheet(f"background: #111; border: 1px solid palette(mid); color: {colour}; padding: 8px;")
        self._image.setText(text)

    def setThumbnail(self, thumbnail: Thumbnail) -> None:
        self.clear()
        self._thumbnail = thumbnail
        rgb = np.ascontiguousarray(thumbnail.rgb)
        height, width = rgb.shape[:2]
        # PyQt takes any buffer; the stubs only bytes or sip.voidptr
        image = QImage(rgb.data, width, height, 3 * width,  # type: ignore[call-overload]
                       QImage.Format.Format_RGB888).copy()
        pixmap = QPixmap.fromImage(image)
        if max(width, height) != self._side:
            transform = Qt.TransformationMode.SmoothTransformation if max(width, height) > self._side \
                else Qt.TransformationMode.FastTransformation
            pixmap = pixmap.scaled(self._side, self._side, Qt.AspectRatioMode.KeepAspectRatio, transform)
        self._image.setStyleSheet("background: #111; border: 1px solid palette(mid);")
        self._pixmap = pixmap
        self._show_pixmap()
        lines = [html.escape(thumbnail.source_path), html.escape(thumbnail.note)]
        if thumbnail.channels:
            lines.append("Channels: " + ", ".join(html.escape(c) for c in thumbnail.channels))
        self._note.setText("<br>".join(lines))
