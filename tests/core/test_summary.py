"""What info and the GUI show about a node: dtype texts, kind labels and convention badges."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from zarr_browser.core.conventions import default_registry
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.summary import summarize
from zarr_browser.core.validate import validate_hierarchy

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:zarr", "ignore::zarr.errors.UnstableSpecificationWarning")

_DTYPES = {"dt": "M8[ns]", "dt10": "M8[10ms]", "td": "m8[s]", "bytes": "S5", "uni": "U5",
           "st": np.dtype([("a", "<i4"), ("b", "<f8")])}


def _dtype_texts(path: Path, zarr_format: int) -> dict[str, str]:
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    for name, dtype in _DTYPES.items():
        group.create_array(name, shape=(3,), dtype=dtype)
    hierarchy = Hierarchy.open(str(path))
    return {n.name: n.array.dtype for n in hierarchy.children("/").nodes if n.array is not None}


def test_dtype_text_keeps_units_lengths_and_fields(tmp_path: Path) -> None:
    assert _dtype_texts(tmp_path / "v2.zarr", 2) == {
        "dt": "datetime64[ns]", "dt10": "datetime64[10ms]", "td": "timedelta64[s]", "bytes": "|S5", "uni": "<U5",
        "st": "structured[a: int32, b: float64]",
    }
    # the same information for v3, under the v3 data type names
    assert _dtype_texts(tmp_path / "v3.zarr", 3) == {
        "dt": "numpy.datetime64[ns]", "dt10": "numpy.datetime64[10ms]", "td": "numpy.timedelta64[s]",
        "bytes": "null_terminated_bytes[5 bytes]", "uni": "fixed_length_utf32[5 chars]",
        "st": "structured[a: int32, b: float64]",
    }


def test_zattrs_only_group_is_labelled_as_validate_calls_it(tmp_path: Path) -> None:
    path = tmp_path / "attrs.zarr"
    group = zarr.open_group(path, mode="w", zarr_format=2)
    group.attrs["title"] = "only attributes"
    group.create_array("a", shape=(2,), dtype="i4")
    (path / ".zgroup").unlink()  # what a writer that forgot the group document leaves
    registry = default_registry()
    hierarchy = Hierarchy.open(str(path))
    root = summarize(hierarchy.root, None, registry)
    report = validate_hierarchy(hierarchy, registry)
    assert any("implicit v2 group" in i.message for i in report.issues if i.path == "/")
    assert root.kind_label == "implicit group (v2 .zattrs only)"
    array = hierarchy.node("/a")
    assert summarize(array, hierarchy.root, registry).kind_label == "array v2"

    plain = zarr.open_group(tmp_path / "plain.zarr", mode="w", zarr_format=3)
    plain.create_group("g")
    plain_hierarchy = Hierarchy.open(str(tmp_path / "plain.zarr"))
    assert summarize(plain_hierarchy.node("/g"), plain_hierarchy.root, registry).kind_label == "group v3"
