"""Inspector widget (being built: see the package docstring for the interface)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtpy.QtCore import Signal
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from zarr_browser.core.conventions.base import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import Node
    from zarr_browser.qt.workers import Runner

__all__ = ["Inspector"]


class Inspector(QWidget):
    """Shows the selected node."""

    nodeRequested = Signal(str)

    def __init__(self, *, runner: Runner, registry: ConventionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._registry = registry
        self._title = QLabel("Select a node")
        layout = QVBoxLayout(self)
        layout.addWidget(self._title)
        layout.addStretch(1)

    def setNode(self, hierarchy: Hierarchy, node: Node) -> None:
        self._title.setText(node.path)

    def clear(self) -> None:
        self._title.setText("Select a node")
