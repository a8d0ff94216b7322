"""Tooltips that name their action's keys, from the keys the action has.

Every action with a shortcut gets its tooltip from :func:`set_tip`, so a tooltip cannot name
another key than the action has, nor forget it (audit K, 8: *Copy path*, *Filter names*,
*Cancel loading*, the inspector tabs and *Quit* named none).  A host that gives a shared panel's
action its key (the window, the napari dock) calls :func:`set_tip` again without a text.
"""

from __future__ import annotations

from qtpy.QtGui import QAction, QKeySequence

__all__ = ["set_tip", "shortcut_text"]

_TIP = "zbToolTip"


def shortcut_text(action: QAction) -> str:
    """The keys of *action* as the platform writes them: ``Ctrl+W or Ctrl+F4``; ``""`` for none."""
    return " or ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts()
                       if not key.isEmpty())


def set_tip(action: QAction, tip: str | None = None) -> None:
    """Give *action* the tooltip *tip* followed by its keys: ``Copy the node's path (Ctrl+C)``.

    Without *tip*, the text given before is kept (or the action's text) and the keys are named
    again: call it after the shortcuts change.
    """
    if tip is None:
        stored = action.property(_TIP)
        tip = stored if isinstance(stored, str) and stored else action.text().replace("&", "").rstrip("…")
    action.setProperty(_TIP, tip)
    keys = shortcut_text(action)
    action.setToolTip(f"{tip} ({keys})" if keys else tip)
