"""Typed access to what the PyQt stubs type loosely (shared by the Qt modules; no behaviour of its own).

* The stubs mark nearly every Qt getter ``Optional``: ``header()`` of a view, ``statusBar()`` and
  ``menuBar()`` of a main window (created on first use), ``style()``, ``viewport()``, the menu a
  ``QMenu.addMenu(text)`` creates...  :func:`nonnull` states that Qt returns an object there.
* Qt ignores what a slot returns, but the stubs want ``Callable[..., None]``: :func:`connect_slot`
  connects a slot that returns a value (``QWidget.close``, a method returning ``bool`` for tests).
* Layout items may hold no widget (spacers, nested layouts): :func:`clear_layout` and
  :func:`layout_widgets` walk them without assuming one.

Flags need nothing here: mypy checks against PyQt6's stubs, where a flag enum is an ``enum.Flag``
and ``A | B`` is typed as that enum (``Qt.ItemFlag``...).  PyQt5, still fine at run time through
qtpy, has separate ``QFlags`` classes (``Qt.ItemFlags``...) that its stubs do not give ``__or__``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from qtpy.QtCore import SignalInstance
from qtpy.QtWidgets import QLayout, QWidget

__all__ = ["clear_layout", "connect_slot", "layout_widgets", "nonnull"]

T = TypeVar("T")


def nonnull(value: T | None) -> T:
    """*value*, returned by a Qt getter that never returns None where it is called (typed Optional).

    Raises
    ------
    RuntimeError
        If it is None after all (a broken assumption, like the AttributeError that would follow).
    """
    if value is None:
        raise RuntimeError("a Qt getter returned None where it always returns an object")
    return value


def connect_slot(signal: SignalInstance, slot: Callable[..., object]) -> None:
    """``signal.connect(slot)`` for a *slot* that returns a value (Qt ignores it)."""
    signal.connect(slot)


def clear_layout(layout: QLayout) -> None:
    """Take every item out of *layout*, deleting its widgets (later, as Qt wants) and dropping the rest."""
    while layout.count():
        item = layout.takeAt(0)
        if item is None:  # count() said there was one
            break
        widget = item.widget()
        if widget is not None:
            widget.deleteLater()


def layout_widgets(layout: QLayout) -> Iterator[QWidget]:
    """The widgets of *layout*'s items, in order (spacers and nested layouts skipped)."""
    for i in range(layout.count()):
        item = layout.itemAt(i)
        widget = item.widget() if item is not None else None
        if widget is not None:
            yield widget
