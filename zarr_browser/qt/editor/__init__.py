"""The metadata editor: a raw JSON tree and convention forms over an edit session.

* :class:`~zarr_browser.qt.editor.controller.EditController` - the session, driven from the GUI
  (store work in workers; edits, undo and redo on the GUI thread).
* :class:`~zarr_browser.qt.editor.panel.EditorPanel` - attributes editor, OME-NGFF / xarray / CF
  forms and live validation for the selected node.
* :class:`~zarr_browser.qt.editor.window_editing.WindowEditing` - the toggle, the Edit menu,
  save with diff preview, conflict and unsaved-edit prompts in the browser window.
"""

from __future__ import annotations

from zarr_browser.qt.editor.controller import EditController, ValidationState
from zarr_browser.qt.editor.dialogs import SaveDialog
from zarr_browser.qt.editor.json_model import JsonEditModel
from zarr_browser.qt.editor.panel import EditorPanel
from zarr_browser.qt.editor.window_editing import WindowEditing

__all__ = ["EditController", "EditorPanel", "JsonEditModel", "SaveDialog", "ValidationState", "WindowEditing"]
