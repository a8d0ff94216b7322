"""Metadata editing: commands on JSON documents, edit sessions, safe saving, convention edits.

Qt-free.  Stores open read-only by default; an :class:`EditSession` saves only when its store
was opened with ``mode="r+"`` (see :meth:`EditSession.open`).
"""

from __future__ import annotations

from zarr_browser.core.editing.commands import (
    ABSENT,
    Batch,
    Command,
    Delete,
    EditError,
    Insert,
    PointerError,
    ReadOnlyFieldError,
    Rename,
    SetValue,
    Test,
    format_pointer,
    parse_pointer,
    patch_to_commands,
)
from zarr_browser.core.editing.save import ConflictError, SaveFailedError, Snapshot, backend_for, cleanup_temp_files
from zarr_browser.core.editing.session import EditSession, NotLoadedError, SaveResult, ValidationRefusedError

__all__ = [
    "ABSENT",
    "Batch",
    "Command",
    "ConflictError",
    "Delete",
    "EditError",
    "EditSession",
    "Insert",
    "NotLoadedError",
    "PointerError",
    "ReadOnlyFieldError",
    "Rename",
    "SaveFailedError",
    "SaveResult",
    "SetValue",
    "Snapshot",
    "Test",
    "ValidationRefusedError",
    "backend_for",
    "cleanup_temp_files",
    "format_pointer",
    "parse_pointer",
    "patch_to_commands",
]
