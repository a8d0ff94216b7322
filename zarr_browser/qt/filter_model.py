"""Filtering and sorting of the hierarchy tree.

:class:`HierarchyFilterModel` is a ``QSortFilterProxyModel`` over a
:class:`~zarr_browser.qt.tree_model.HierarchyTreeModel`:

* **Filtering** matches node *names* (``FilterRole``; placeholder rows never match) with a
  case-insensitive substring, or a wildcard pattern when the text holds ``*``, ``?`` or ``[``.
  Filtering is recursive: a group stays visible while a loaded descendant matches.  Only what
  is loaded can be filtered this way - the filter never lists groups by itself.
* **Names not loaded yet.**  When the hierarchy has consolidated metadata, every node path is
  known without listing anything.  :meth:`unloadedMatches` returns the matching paths that are
  not in the tree yet; the browser window shows them in a "matches not loaded yet" list under
  the tree, and activating one calls ``HierarchyTreeModel.revealPath`` (which lists just the
  ancestors needed) and selects the node.  Revealing every match automatically was rejected:
  one short filter on a big store would list thousands of groups.
* **Sorting** uses ``SortRole``: natural order for names (``a2`` before ``a10``), then kind,
  element count, dtype and badges.  The keys are plain strings and numbers that Qt compares
  itself (no Python ``lessThan``: 100,000 rows sort in C++).  Until a header is clicked the
  proxy keeps the model's order, which is already natural (the core sorts listings).
"""

from __future__ import annotations

import fnmatch
import heapq
import re
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QObject, QRegularExpression, QSortFilterProxyModel, Qt, QTimer, Signal

from zarr_browser.core.hierarchy import natural_key
from zarr_browser.qt.tree_model import HierarchyTreeModel

if TYPE_CHECKING:
    from zarr_browser.core.hierarchy import Hierarchy

__all__ = ["HierarchyFilterModel"]

_WILDCARD = re.compile(r"[*?\[]")


class HierarchyFilterModel(QSortFilterProxyModel):
    """Recursive name filter and natural sort over a :class:`HierarchyTreeModel`.

    Parameters
    ----------
    max_unloaded
        At most this many not-yet-loaded matches are reported by :meth:`unloadedMatches`.
    """

    #: the list of matches not loaded yet changed (recomputed after loads, throttled)
    unloadedMatchesChanged = Signal()

    def __init__(self, parent: QObject | None = None, *, max_unloaded: int = 200) -> None:
        super().__init__(parent)
        self._text = ""
        self._max_unloaded = max_unloaded
        self._unloaded: list[str] = []
        self._unloaded_total = 0
        self.setRecursiveFilteringEnabled(True)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterRole(HierarchyTreeModel.FilterRole)
        self.setFilterKeyColumn(HierarchyTreeModel.NAME_COLUMN)
        self.setSortRole(HierarchyTreeModel.SortRole)
        self.setDynamicSortFilter(True)
        self._recompute = QTimer(self)
        self._recompute.setSingleShot(True)
        self._recompute.setInterval(150)
        self._recompute.timeout.connect(self._update_unloaded)

    # -- source --------------------------------------------------------------------------------
    def setSourceModel(self, model: HierarchyTreeModel) -> None:  # type: ignore[override]
        old = self.sourceModel()
        if old is not None:
            old.rowsInserted.disconnect(self._on_source_changed)
            old.modelReset.disconnect(self._on_source_changed)
        super().setSourceModel(model)
        model.rowsInserted.connect(self._on_source_changed)
        model.modelReset.connect(self._on_source_changed)

    def treeModel(self) -> HierarchyTreeModel:
        model = self.sourceModel()
        assert isinstance(model, HierarchyTreeModel)
        return model

    # -- filtering -------------------------------------------------------------------------------
    def filterText(self) -> str:
        return self._text

    def setFilterText(self, text: str) -> None:
        """Show nodes whose name contains *text* (or matches it as a wildcard pattern)."""
        text = text.strip()
        if text == self._text:
            return
        self._text = text
        if not text:
            pattern = QRegularExpression()
        elif _WILDCARD.search(text):
            pattern = QRegularExpression(QRegularExpression.wildcardToRegularExpression(text))
        else:
            pattern = QRegularExpression(QRegularExpression.escape(text))
        pattern.setPatternOptions(QRegularExpression.PatternOption.CaseInsensitiveOption)
        self.setFilterRegularExpression(pattern)
        index = self._consolidated()
        if index is not None and len(index.documents) > self.UNLOADED_NOW:
            self._recompute.start()  # a big index is scanned once typing pauses, not at every key
        else:
            self._update_unloaded()

    UNLOADED_NOW = 5_000
    """Consolidated indexes up to this many nodes are scanned for unloaded matches at every key."""

    def _consolidated(self) -> Any:
        model = self.sourceModel()
        hierarchy = model.hierarchy() if isinstance(model, HierarchyTreeModel) else None
        return hierarchy.consolidated if hierarchy is not None else None

    def matches(self, name: str) -> bool:
        """Whether *name* matches the filter text (the same rule as the proxy's)."""
        if not self._text:
            return True
        if _WILDCARD.search(self._text):
            return fnmatch.fnmatch(name.casefold(), self._text.casefold())
        return self._text.casefold() in name.casefold()

    # -- matches not loaded yet -----------------------------------------------------------------
    def unloadedMatches(self) -> list[str]:
        """Paths matching the filter that are known from consolidated metadata but not loaded.

        Empty without a filter or without consolidated metadata.  Naturally sorted, at most
        ``max_unloaded`` of them (see :meth:`unloadedMatchCount` for the total).
        """
        return list(self._unloaded)

    def unloadedMatchCount(self) -> int:
        return self._unloaded_total

    def _on_source_changed(self, *args: Any) -> None:
        if self._text:
            self._recompute.start()

    def _update_unloaded(self) -> None:
        model = self.sourceModel()
        hierarchy: Hierarchy | None = model.hierarchy() if isinstance(model, HierarchyTreeModel) else None
        found: list[str] = []
        total = 0
        # the consolidated index is in memory (read when the store was opened): no I/O here
        index = hierarchy.consolidated if hierarchy is not None else None
        if self._text and index is not None and isinstance(model, HierarchyTreeModel):
            needle = self._text.casefold()
            wildcard = re.compile(fnmatch.translate(needle)).match if _WILDCARD.search(self._text) else None
            for path in index.documents:
                name = path.rsplit("/", 1)[-1].casefold()
                if path == "/" or not (wildcard(name) if wildcard is not None else needle in name):
                    continue
                if model.isLoaded(path):
                    continue
                total += 1
                found.append(path)
            found = heapq.nsmallest(self._max_unloaded, found, key=natural_key)
        if found != self._unloaded or total != self._unloaded_total:
            self._unloaded, self._unloaded_total = found, total
            self.unloadedMatchesChanged.emit()

