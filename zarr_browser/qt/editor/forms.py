"""xarray and CF forms: dimension names (checked across the group), a dataset's dimension rename,
units and names, fill and packing.

NCZarr nodes need no form of their own: every attribute edit keeps ``_nczarr_attr.types``
consistent (the session does it), and ``_nczarr_*`` keys are read-only everywhere.

Every form keeps what the user typed and did not apply yet (:class:`FormSync`): the panel hands
the forms the working state after each edit, and a form rebuilds its fields only when what it
shows changed; if the user has unapplied changes then, the fields are kept and marked stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QObject, Qt, QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)
from superqt.utils import signals_blocked

from zarr_browser.core.conventions.cf import XARRAY_CALENDARS, decode_fill_value
from zarr_browser.core.conventions.nczarr import group_dimension_names, group_dimensions
from zarr_browser.core.editing.conventions import (
    CF_ENCODING,
    DimensionRename,
    DimensionUse,
    fill_value_read_only,
    plan_dimension_rename,
    set_cf_attributes,
    xarray_dims_from_ome_axes,
    xarray_group_dimensions,
    xarray_rename_dimension,
    xarray_set_dimension_names,
)
from zarr_browser.core.jsonio import dumps

if TYPE_CHECKING:
    from zarr_browser.core.editing.session import EditSession
    from zarr_browser.core.model import Node
    from zarr_browser.qt.editor.controller import EditController

__all__ = ["CfForm", "DimensionRenameForm", "FormSync", "XarrayForm"]

CF_FIELDS = ("units", "long_name", "standard_name", "calendar")
"""Text attributes of the CF form (its numbers are ``CF_ENCODING``)."""


class FormSync(QObject):
    """Keeps a form's unapplied typing when the session changes under it.

    The form calls :meth:`show` with the part of the working state it displays (its *source*)
    and a *build* function that rebuilds its fields from it.  The fields are rebuilt when the
    source changed (or another node is shown) and the user has no unapplied change.  When the
    source is the same (an edit elsewhere, in another node or another part of the document),
    nothing is rebuilt, so what was typed stays.  When it changed while the user has unapplied
    changes, the fields are kept and :attr:`banner` says they are stale: *Apply* writes the
    user's values over the new state, *Discard my changes* shows the new state.

    Parameters
    ----------
    values
        The form's current field values (compared with those it was built with).
    """

    def __init__(self, values: Callable[[], Any], parent: QWidget) -> None:
        super().__init__(parent)
        self._values = values
        self._shown: tuple[str, str] | None = None
        self._baseline: Any = None
        self._pending: tuple[tuple[str, str], Callable[[], None]] | None = None
        self._applying = 0
        self.banner = QFrame(parent)
        self.banner.setObjectName("staleBanner")
        self.banner.setStyleSheet("#staleBanner { background: #fef3c7; border: 1px solid #f59e0b; "
                                  "border-radius: 3px; }")
        self.bannerLabel = QLabel("This metadata changed since you started editing these fields; "
                                  "Apply writes your values over it.")
        self.bannerLabel.setWordWrap(True)
        self.discardButton = QPushButton("Discard my changes")
        self.discardButton.setToolTip("Show the current metadata in the fields")
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(6, 3, 6, 3)
        row.addWidget(self.bannerLabel, 1)
        row.addWidget(self.discardButton)
        self.banner.hide()
        self.discardButton.clicked.connect(self.discard)

    def show(self, path: str, source: Any, build: Callable[[], None]) -> None:
        """Show *source* of the node at *path*: rebuild, keep the fields, or mark them stale."""
        key = (path, json.dumps(source, default=str))
        if self._shown is not None and key == self._shown:
            self._pending = None  # back to what the fields were built from (an undo, say)
            self.banner.hide()
            return
        if self._shown is not None and self._shown[0] == path and not self._applying and self.isModified():
            self._pending = (key, build)
            self.banner.show()
            return
        self._build(key, build)

    def _build(self, key: tuple[str, str], build: Callable[[], None]) -> None:
        build()
        self._shown = key
        self._baseline = self._values()
        self._pending = None
        self.banner.hide()

    def path(self) -> str | None:
        """The node the fields were built for (None before the first :meth:`show`)."""
        return self._shown[0] if self._shown is not None else None

    def isModified(self) -> bool:
        """Whether the fields hold changes the user has not applied."""
        return self._shown is not None and self._values() != self._baseline

    def rebase(self) -> None:
        """The form filled in fields itself (a fact looked up after it was built): what they
        hold now is the baseline, not typing of the user's."""
        if self._shown is not None:
            self._baseline = self._values()

    def isStale(self) -> bool:
        """Whether the metadata changed under unapplied changes (the banner shows)."""
        return self._pending is not None

    def discard(self) -> None:
        """Drop the unapplied changes: rebuild the fields from the current metadata."""
        if self._pending is not None:
            self._build(*self._pending)

    def forget(self) -> None:
        """The next :meth:`show` rebuilds (a new session)."""
        self._shown, self._pending = None, None
        self.banner.hide()

    def applying(self) -> Callable[[bool], None]:
        """Call before applying the form: the state the apply produces rebuilds the fields.

        Returns the callback to pass as the edit's *on_done*.
        """
        self._applying += 1

        def done(ok: bool) -> None:
            self._applying -= 1
            if ok and self._shown is not None:
                # what the fields hold is applied, not typing of the user's: the state that comes
                # later still rebuilds them (a rename across 3,000 arrays is listed again a
                # second after it applied, and the form was left stale, its banner up; audit K)
                self._baseline = self._values()

        return done


def _clear(form: QFormLayout) -> None:
    while form.rowCount():
        form.removeRow(0)


class XarrayForm(QGroupBox):
    """xarray dimension names of an array (v2 ``_ARRAY_DIMENSIONS``, v3 ``dimension_names``),
    or, on an OME-NGFF image, "add dimension names from the OME axes" to every level."""

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__("xarray dimension names", parent)
        self._controller = controller
        self._path = ""
        self._form = QFormLayout()
        self.edits: list[QLineEdit] = []
        self.noteLabel = QLabel()
        self.noteLabel.setWordWrap(True)
        self.applyButton = QPushButton("Apply dimension names")
        self.applyButton.setToolTip("Checked: one name per dimension, unique, one size per name in the group")
        self.fromOmeButton = QPushButton("Add dimension names from the OME axes")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.fromOmeButton)
        row.addWidget(self.applyButton)
        self.sync = FormSync(self.names, self)
        layout = QFormLayout(self)
        layout.addRow(self.sync.banner)
        layout.addRow(self._form)
        layout.addRow(self.noteLabel)
        layout.addRow(row)
        self.applyButton.clicked.connect(self.apply)
        self.fromOmeButton.clicked.connect(self.fromOmeAxes)

    def setNode(self, node: Node, *, ome_image: bool) -> None:
        array = node.array
        source = None if array is None else [array.shape, array.dimension_names,
                                             node.attributes.get("_ARRAY_DIMENSIONS")]
        self.sync.show(node.path, [source, ome_image], lambda: self._build(node, ome_image=ome_image))

    def _build(self, node: Node, *, ome_image: bool) -> None:
        self._path = node.path
        _clear(self._form)
        self.edits = []
        array = node.array
        if array is not None:
            if node.zarr_format == 3 and array.dimension_names is not None:
                names = [n or "" for n in array.dimension_names]
                where = "zarr.json dimension_names"
            else:
                raw = node.attributes.get("_ARRAY_DIMENSIONS")
                names = [str(n) for n in raw] if isinstance(raw, list) else []
                where = "v3 dimension_names" if node.zarr_format == 3 else ".zattrs _ARRAY_DIMENSIONS"
            for axis, size in enumerate(array.shape):
                edit = QLineEdit(names[axis] if axis < len(names) else "")
                edit.setPlaceholderText("name")
                self._form.addRow(f"dimension {axis} (size {size})", edit)
                self.edits.append(edit)
            self.noteLabel.setText(f"Written to {where}.")
        else:
            self.noteLabel.setText("Gives every level array of this image the names of the OME axes.")
        self.applyButton.setVisible(array is not None)
        self.fromOmeButton.setVisible(ome_image)

    def names(self) -> list[str]:
        return [e.text().strip() for e in self.edits]

    def apply(self) -> None:
        self._controller.applyBuilt(xarray_set_dimension_names, self._path, self.names(),
                                    on_done=self.sync.applying())

    def fromOmeAxes(self) -> None:
        self._controller.applyBuilt(xarray_dims_from_ome_axes, self._path, on_done=self.sync.applying())


@dataclass(frozen=True)
class _GroupDimensions:
    """What the rename form shows of a group: its dimensions, and the NCZarr dimensions it defines."""

    uses: tuple[DimensionUse, ...]
    nczarr: tuple[str, ...] | None


def _group_dimensions(session: EditSession, path: str) -> _GroupDimensions:
    uses = tuple(xarray_group_dimensions(session, path, descendants=False))  # (child groups: in the plan)
    dims = group_dimensions(session.node(path))
    if dims is None:
        return _GroupDimensions(uses, None)
    return _GroupDimensions(uses, tuple(group_dimension_names(dims.value)))


class DimensionRenameForm(QGroupBox):
    """Rename a dimension of a dataset (a group): every array on it, in one step.

    The arrays of the group and of its child groups (a DataTree shares a dimension with them)
    get the new name in ``_ARRAY_DIMENSIONS`` (v2) or ``dimension_names`` (v3); on NCZarr the
    netCDF dimension is renamed too.  What it will change, and that an index coordinate named
    like the dimension becomes a data variable, is said below the fields before *Rename*; the
    check runs in a worker as the user types.
    """

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__("Rename a dimension", parent)
        self._controller = controller
        self._path = ""
        self._dims: _GroupDimensions | None = None
        self._ok = False
        self._asked: tuple[str, str, str] | None = None
        self.dimensionCombo = QComboBox()
        self.dimensionCombo.setToolTip("The dimension to rename: the arrays of this group (and of its child "
                                       "groups) that use it")
        self.newNameEdit = QLineEdit()
        self.newNameEdit.setPlaceholderText("new name")
        self.newNameEdit.setToolTip("The new dimension name (Enter renames)")
        self.noteLabel = QLabel()
        self.noteLabel.setWordWrap(True)
        self.noteLabel.setTextFormat(Qt.TextFormat.PlainText)
        self.noteLabel.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.renameButton = QPushButton("Rename dimension")
        self.renameButton.setToolTip("One step (Undo reverts it): every array on the dimension gets the new name; "
                                     "arrays keep their own names")
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(200)
        self.sync = FormSync(self.values, self)
        layout = QFormLayout(self)
        layout.addRow(self.sync.banner)
        dimension_label = QLabel("&Dimension")
        dimension_label.setBuddy(self.dimensionCombo)
        name_label = QLabel("New &name")
        name_label.setBuddy(self.newNameEdit)
        layout.addRow(dimension_label, self.dimensionCombo)
        layout.addRow(name_label, self.newNameEdit)
        layout.addRow(self.noteLabel)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.renameButton)
        layout.addRow(row)
        self._connect()

    def _connect(self) -> None:
        self.renameButton.clicked.connect(self.apply)
        self.newNameEdit.returnPressed.connect(self.apply)
        self.dimensionCombo.currentIndexChanged.connect(self._on_fields_changed)
        self.newNameEdit.textChanged.connect(self._on_fields_changed)
        self._check_timer.timeout.connect(self.check)

    def setNode(self, node: Node) -> None:
        """Show the dimensions of the group *node* (listed in a worker)."""
        path = node.path
        self._path = path
        if self.sync.path() != path:  # the listing rebuilds the fields: what is typed meanwhile would be lost
            for widget in (self.dimensionCombo, self.newNameEdit, self.renameButton):
                widget.setEnabled(False)
            self._show_note("Listing the dimensions…", ok=None)
        self._controller.compute(lambda s: _group_dimensions(s, path), lambda dims: self._on_listed(path, dims),
                                 lambda err: self._on_listed(path, None, str(err)))

    def _on_listed(self, path: str, dims: _GroupDimensions | None, error: str = "") -> None:
        if path != self._path:
            return
        source = None if dims is None else [[u.name, u.size, list(u.arrays), u.coordinate] for u in dims.uses]
        self.sync.show(path, [source, None if dims is None else dims.nczarr, error],
                       lambda: self._build(path, dims, error))

    def _build(self, path: str, dims: _GroupDimensions | None, error: str) -> None:
        self._dims = dims
        with signals_blocked(self.dimensionCombo):
            self.dimensionCombo.clear()
            for use in dims.uses if dims is not None else ():
                where = "" if dims is None or dims.nczarr is None or use.name in dims.nczarr else ", defined above"
                self.dimensionCombo.addItem(f"{use.name}  (size {use.size}, {len(use.arrays)} "
                                            f"array{'s' if len(use.arrays) != 1 else ''}{where})", use.name)
        with signals_blocked(self.newNameEdit):
            self.newNameEdit.clear()
        has_dims = dims is not None and bool(dims.uses)
        for widget in (self.dimensionCombo, self.newNameEdit):
            widget.setEnabled(has_dims)
        if error:
            self._show_note(f"The dimensions of {path} could not be listed: {error}", ok=False)
        elif not has_dims:
            self._show_note("No array of this group has dimension names.", ok=False)
        else:
            self._on_fields_changed()

    def values(self) -> tuple[str, str]:
        """The dimension chosen and the new name typed."""
        return (str(self.dimensionCombo.currentData() or ""), self.newNameEdit.text().strip())

    def _use(self, name: str) -> DimensionUse | None:
        uses = self._dims.uses if self._dims is not None else ()
        return next((u for u in uses if u.name == name), None)

    def _on_fields_changed(self, *_args: object) -> None:
        old, new = self.values()
        use = self._use(old)
        self._ok = False
        self.renameButton.setEnabled(False)
        if use is None:
            return
        if not new:
            coordinate = (f" The array {use.coordinate} is its index coordinate: it keeps its name and becomes a "
                          "data variable." if use.coordinate else "")
            self._show_note(f"{old!r} is used by {len(use.arrays)} array{'s' if len(use.arrays) != 1 else ''}: "
                            f"{', '.join(use.arrays[:8])}{' …' if len(use.arrays) > 8 else ''}.{coordinate} "
                            "Type the new name.", ok=None)
            return
        self._show_note("Checking…", ok=None)
        self._check_timer.start()

    def check(self) -> None:
        """Check the rename typed (in a worker) and say what it will change, or why it cannot."""
        old, new = self.values()
        if not old or not new:
            return
        asked = (self._path, old, new)
        self._asked = asked

        def done(plan: DimensionRename) -> None:
            if self._asked == asked and self.values() == (old, new):
                self._ok = True
                self.renameButton.setEnabled(True)
                self._show_note("\n".join(plan.notes()), ok=not plan.coordinates)

        def failed(err: BaseException) -> None:
            if self._asked == asked and self.values() == (old, new):
                self._show_note(f"Cannot rename: {err}", ok=False)

        path = self._path
        self._controller.compute(lambda s: plan_dimension_rename(s, path, old, new), done, failed)

    def _show_note(self, text: str, *, ok: bool | None) -> None:
        colour = {True: "#15803d", False: "#b45309", None: "#374151"}[ok]
        self.noteLabel.setStyleSheet(f"color: {colour}")
        self.noteLabel.setText(text)

    def apply(self) -> None:
        old, new = self.values()
        if not old or not new:
            return
        if not self._ok:
            return  # not checked yet, or refused (Enter in the name field comes here too)
        applied = self.sync.applying()
        self._ok = False
        self.renameButton.setEnabled(False)  # a second click while it applies would rename again
        self._show_note(f"Renaming {old!r} to {new!r}…", ok=None)

        def done(ok: bool) -> None:
            if ok:  # the name typed is applied: the dimensions listed next rebuild the fields
                with signals_blocked(self.newNameEdit):
                    self.newNameEdit.clear()
            applied(ok)
            if not ok:
                self._on_fields_changed()  # checked again; the refusal is in the error bar

        self._controller.applyBuilt(xarray_rename_dimension, self._path, old, new, on_done=done)


class CfForm(QGroupBox):
    """CF ``units``, ``long_name``, ``standard_name``, ``calendar``; ``_FillValue`` and packing
    (``scale_factor``, ``add_offset``) typed as numbers and written as the readers expect them
    (:func:`~zarr_browser.core.editing.conventions.set_cf_attributes`)."""

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__("CF attributes", parent)
        self._controller = controller
        self._path = ""
        self.fields: dict[str, QLineEdit | QComboBox] = {}
        self._shown_text: dict[str, str] = {}
        self.sync = FormSync(self.values, self)
        form = QFormLayout(self)
        form.addRow(self.sync.banner)
        for name in CF_FIELDS:
            if name == "calendar":
                combo = QComboBox()
                combo.setEditable(True)
                # the calendars xarray decodes; CF's 'utc', 'tai' and 'none' may still be typed
                combo.addItems(["", *sorted(XARRAY_CALENDARS)])
                combo.setToolTip("The calendars xarray decodes times in; CF's 'utc', 'tai' and 'none' may be "
                                 "typed, but xarray then refuses to open a dataset with such time variables")
                widget: QLineEdit | QComboBox = combo
            else:
                widget = QLineEdit()
                widget.setPlaceholderText("(not set)")
            self.fields[name] = widget
            form.addRow(name, widget)
        tips = {"_FillValue": "The stored value that means missing, a number in the stored type (written as the "
                              "readers expect it: base64 of the float64 for a float on zarr v3, as xarray does); "
                              "empty removes it",
                "scale_factor": "decoded = stored × scale_factor + add_offset (a number; empty removes it)",
                "add_offset": "decoded = stored × scale_factor + add_offset (a number; empty removes it)"}
        self._fill_tip = tips["_FillValue"]
        for name in CF_ENCODING:
            edit = QLineEdit()
            edit.setPlaceholderText("(not set)")
            edit.setToolTip(tips[name])
            self.fields[name] = edit
            form.addRow(name, edit)
            if name == "_FillValue":
                self.fillLabel = QLabel()
                self.fillLabel.setWordWrap(True)
                form.addRow("", self.fillLabel)
        self.packingLabel = QLabel()
        self.packingLabel.setWordWrap(True)
        form.addRow("packing", self.packingLabel)
        self.applyButton = QPushButton("Apply CF attributes")
        self.applyButton.setToolTip("One step; an empty field removes the attribute")
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.applyButton)
        form.addRow(row)
        self.applyButton.clicked.connect(self.apply)

    def setNode(self, node: Node) -> None:
        attrs = node.attributes
        array = node.array
        source = [{name: attrs.get(name) for name in (*CF_FIELDS, *CF_ENCODING)},
                  None if array is None else [array.dtype, array.fill_value], node.zarr_format,
                  fill_value_read_only(node)]
        self.sync.show(node.path, source, lambda: self._build(node))

    def _build(self, node: Node) -> None:
        self._path = node.path
        attrs = node.attributes
        self._shown_text = {}  # what each field showed: only fields typed into are written
        for name, widget in self.fields.items():
            value = decode_fill_value(node, attrs.get(name)) if name == "_FillValue" else attrs.get(name)
            text = value if isinstance(value, str) else "" if value is None else dumps(value, indent=None)
            self._shown_text[name] = text.strip()
            if isinstance(widget, QComboBox):
                widget.setCurrentText(text)
            else:
                widget.setText(text)
        dtype = node.array.dtype if node.array is not None else "?"
        fill = self.fields["_FillValue"]
        assert isinstance(fill, QLineEdit)
        read_only = fill_value_read_only(node)
        fill.setReadOnly(read_only is not None)
        fill.setToolTip(self._fill_tip if read_only is None else f"The array's fill_value, read-only: {read_only}")
        if read_only is not None and node.array is not None:
            shown = dumps(node.array.fill_value, indent=None)
            fill.setText(shown)
            self._shown_text["_FillValue"] = shown
            self.fillLabel.setText(f"The array's fill_value, read-only: {read_only}.")
        elif node.zarr_format == 3 and "_FillValue" in attrs and attrs["_FillValue"] != self._shown_text["_FillValue"]:
            self.fillLabel.setText(f"Stored as {dumps(attrs['_FillValue'], indent=None)}, as xarray writes a float "
                                   f"_FillValue on zarr v3 · stored dtype {dtype}")
        else:
            self.fillLabel.setText(f"Stored dtype {dtype}")
        scale, offset = attrs.get("scale_factor"), attrs.get("add_offset")
        if scale is None and offset is None:
            self.packingLabel.setText("not packed")
        else:
            self.packingLabel.setText(f"decoded = stored × {scale if scale is not None else 1} + "
                                      f"{offset if offset is not None else 0} (stored dtype {dtype})")

    def values(self) -> dict[str, str | None]:
        """The fields changed since they were shown (empty: delete the attribute).  A field left
        alone is not written: ``units: 1`` (a number) would have become the text "1"."""
        out: dict[str, str | None] = {}
        for name, widget in self.fields.items():
            text = (widget.currentText() if isinstance(widget, QComboBox) else widget.text()).strip()
            if text != self._shown_text.get(name, ""):
                out[name] = text or None
        return out

    def apply(self) -> None:
        self._controller.applyBuilt(set_cf_attributes, self._path, self.values(),
                                    label=f"set CF attributes of {self._path}", on_done=self.sync.applying())
