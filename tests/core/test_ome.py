"""Tests for the OME-NGFF convention: official conformance suites, examples, real writers, broken stores."""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from zarr_browser.cli import main as cli_main
from zarr_browser.core.conventions.base import ConventionRegistry
from zarr_browser.core.conventions.ome import OmeNgffConvention
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.issues import Issue, Rule, Severity
from zarr_browser.core.validate import HierarchyContext, validate_hierarchy

# The team's shared fixtures sit beside the repository (../shared), in CI as on developer machines.
_REPO = Path(__file__).resolve().parents[2]
NGFF = Path(os.environ.get("ZARR_BROWSER_NGFF_FIXTURES", _REPO.parent / "shared" / "fixtures" / "ngff"))


def needs_fixtures(test):  # type: ignore[no-untyped-def]
    """A missing fixture folder fails the test (a silently skipped conformance suite hides bugs)."""
    if NGFF.is_dir():
        return test

    def missing(*args, **kwargs):  # type: ignore[no-untyped-def]
        pytest.fail(f"the OME-NGFF fixtures are missing: expected {NGFF} (set ZARR_BROWSER_NGFF_FIXTURES)")

    missing.__name__ = test.__name__
    return missing

# -- helpers: building real stores -----------------------------------------------------------


def _namespace(attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    ome = attrs.get("ome")
    return ome if isinstance(ome, dict) else attrs


def _channel_count(ns: Mapping[str, Any]) -> int:
    omero = ns.get("omero")
    channels = omero.get("channels") if isinstance(omero, dict) else None
    return len(channels) if isinstance(channels, list) and channels else 1


def _populate(group: zarr.Group, attrs: Mapping[str, Any], *, dtype: str) -> None:
    """Create the arrays and groups the OME metadata in *attrs* names, so the store matches it."""
    ns = _namespace(attrs)
    zarr_format = group.metadata.zarr_format
    multiscales = ns.get("multiscales")
    for ms in multiscales if isinstance(multiscales, list) else []:
        if not isinstance(ms, dict) or not isinstance(ms.get("axes"), list) or not ms["axes"]:
            continue
        axes = ms["axes"]
        names = [a.get("name") if isinstance(a, dict) else None for a in axes]
        shape = tuple(_channel_count(ns) if isinstance(a, dict) and a.get("type") == "channel" else 4 for a in axes)
        datasets = ms.get("datasets")
        for dataset in datasets if isinstance(datasets, list) else []:
            path = dataset.get("path") if isinstance(dataset, dict) else None
            if not isinstance(path, str) or not path or path in group:
                continue
            kwargs: dict[str, Any] = {}
            if zarr_format == 3 and all(isinstance(n, str) for n in names):
                kwargs["dimension_names"] = names
            group.create_array(path, shape=shape, chunks=shape, dtype=dtype, **kwargs)
    plate = ns.get("plate")
    wells = plate.get("wells") if isinstance(plate, dict) else None
    well = ns.get("well")
    images = well.get("images") if isinstance(well, dict) else None
    for item in [*(wells if isinstance(wells, list) else []), *(images if isinstance(images, list) else [])]:
        path = item.get("path") if isinstance(item, dict) else None
        if isinstance(path, str) and path:
            group.require_group(path)


def write_ome_group(root: Path, attrs: Mapping[str, Any], *, zarr_format: int, dtype: str = "uint16",
                    path: str = "") -> zarr.Group:
    """A real group at *root*/*path* carrying *attrs*, with the arrays and groups its metadata names."""
    store_root = zarr.open_group(root, mode="a", zarr_format=zarr_format)
    group = store_root.require_group(path) if path else store_root
    group.attrs.update(dict(attrs))
    _populate(group, attrs, dtype=dtype)
    return group


def ome_issues(root: Path, *, strict: bool = False) -> list[Issue]:
    """Every issue the OME-NGFF convention finds in the store at *root*."""
    hierarchy = Hierarchy.open(str(root))
    report = validate_hierarchy(hierarchy, ConventionRegistry([OmeNgffConvention()]), strict=strict)
    return [i for i in report.issues if i.convention == "ome-ngff"]


def errors(issues: list[Issue]) -> list[Issue]:
    return [i for i in issues if i.severity is Severity.ERROR]


def _explain(issues: list[Issue]) -> str:
    return "\n".join(f"{i.severity.value} {i.path} {i.pointer}: {i.message}" for i in issues) or "(no issues)"


# -- official conformance suites -------------------------------------------------------------

# Upstream cases whose expected result contradicts the spec text; each is xfail(strict=True).
_PLATE_SWAPPED = ("0.4 test data names the well '<column>/<row>' (columns 'A', rows '1'); the spec requires "
                  "'<row name>/<column name>' and 0.5 added well_path_has_column_before_row as an invalid case")
KNOWN_WRONG: dict[tuple[str, str, str], str] = {
    ("0.4", "image", "valid/mismatch_axes_units.json"):
        "3 axes but a scale of 2 values; the spec says the scale length MUST equal the number of axes",
    ("0.4", "plate", "plate/minimal_no_acquisitions"): _PLATE_SWAPPED,
    ("0.4", "plate", "plate/minimal_acquisitions"): _PLATE_SWAPPED,
    ("0.4", "plate", "plate/non_alphanumeric_row"): _PLATE_SWAPPED,
    ("0.4", "strict_plate", "plate/strict_no_acquisitions"): _PLATE_SWAPPED,
    ("0.4", "strict_plate", "plate/strict_acquisitions"): _PLATE_SWAPPED,
}


def _conformance_cases() -> Iterator[Any]:
    if not NGFF.is_dir():
        return
    for version in ("0.4", "0.5"):
        for suite_file in sorted((NGFF / version / "tests").glob("*_suite.json")):
            suite = suite_file.name.removesuffix("_suite.json")
            seen: dict[str, int] = {}
            for case in json.loads(suite_file.read_text())["tests"]:
                formerly = case.get("formerly")
                label = formerly if formerly and formerly != "TBD" else case.get("description", "?")
                seen[label] = seen.get(label, 0) + 1
                case_id = f"{version}/{suite}/{label}" + (f"#{seen[label]}" if seen[label] > 1 else "")
                marks = []
                reason = KNOWN_WRONG.get((version, suite, label))
                if reason is not None:
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                yield pytest.param(version, suite, case["data"], case["valid"], id=case_id, marks=marks)


@needs_fixtures
@pytest.mark.parametrize(("version", "suite", "data", "valid"), list(_conformance_cases()))
def test_conformance_suite(tmp_path: Path, version: str, suite: str, data: dict[str, Any], valid: bool) -> None:
    root = tmp_path / "case.zarr"
    dtype = "uint8" if "label" in suite else "uint16"
    write_ome_group(root, data, zarr_format=2 if version == "0.4" else 3, dtype=dtype)
    # through the command line with every convention, as a pipeline would run it
    argv = ["validate", str(root), "--json", *(["--strict"] if suite.startswith("strict_") else [])]
    out = io.StringIO()
    code = cli_main(argv, out=out)
    issues = json.loads(out.getvalue())["issues"]
    explained = "\n".join(f"{i['severity']} [{i['convention']}] {i['path']} {i['pointer']}: {i['message']}"
                          for i in issues) or "(no issues)"
    assert code == (0 if valid else 1), explained


def test_conformance_suites_were_found() -> None:
    assert NGFF.is_dir(), f"the OME-NGFF fixtures are missing: expected {NGFF}"
    assert len(list(_conformance_cases())) > 150


# -- official examples -----------------------------------------------------------------------


def _load_example(path: Path) -> dict[str, Any]:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("//"))
    return json.loads(text)


def _example_cases() -> Iterator[Any]:
    if not NGFF.is_dir():
        return
    for version in ("0.4", "0.5"):
        for path in sorted((NGFF / version / "examples").glob("*/*.json")):
            if path.name.startswith("."):
                continue
            yield pytest.param(version, path, id=f"{version}/{path.parent.name}/{path.stem}")


@needs_fixtures
@pytest.mark.parametrize(("version", "path"), list(_example_cases()))
def test_official_example_has_no_errors(tmp_path: Path, version: str, path: Path) -> None:
    document = _load_example(path)
    attrs = document if version == "0.4" else document["attributes"]
    config = json.loads((path.parent / ".config.json").read_text())
    strict = "strict_" in config["schema"]
    zarr_format = 2 if version == "0.4" else 3
    root = tmp_path / "example.zarr"
    if path.parent.name == "ome":  # the bioformats2raw OME group names its sibling series
        zarr.open_group(root, mode="w", zarr_format=zarr_format)
        write_ome_group(root, attrs, zarr_format=zarr_format, path="OME")
        for series in _namespace(attrs)["series"]:  # "each of which is a path to an image group"
            write_image_store(root / series, _image_ns(version), zarr_format=zarr_format)
    else:
        write_ome_group(root, attrs, zarr_format=zarr_format, dtype="uint8")
    hierarchy = Hierarchy.open(str(root))
    node = hierarchy.node("/OME" if path.parent.name == "ome" else "/")
    assert OmeNgffConvention().detect(node) is not None
    issues = ome_issues(root, strict=strict)
    assert not errors(issues), _explain(issues)


# -- stores written by ome-zarr ----------------------------------------------------------------


def _formats() -> list[tuple[Any, int, str]]:
    """ome-zarr's writer formats: (format, zarr format, OME version)."""
    from ome_zarr.format import FormatV04, FormatV05

    return [(FormatV04(), 2, "0.4"), (FormatV05(), 3, "0.5")]


@pytest.fixture(params=[0, 1], ids=["ome-zarr-0.4", "ome-zarr-0.5"])
def written_image(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    """An image with labels written by ome_zarr.writer: (store path, OME version)."""
    from ome_zarr.writer import write_image, write_labels

    fmt, zarr_format, version = _formats()[request.param]
    root = tmp_path / "image.ome.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    data = np.zeros((2, 5, 64, 64), dtype="uint16")
    write_image(data, group, axes="czyx", fmt=fmt, scale_factors=(2, 4), scale={"c": 1.0, "z": 2.0, "y": 0.5, "x": 0.5},
                axes_units={"z": "micrometer", "y": "micrometer", "x": "micrometer"})
    write_labels(np.zeros((5, 64, 64), dtype="uint32"), group, name="cells", axes="zyx", fmt=fmt, scaler=None,
                 scale_factors=(2, 4), label_metadata={"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]})
    return root, version


def test_written_image_detect_describe_validate(written_image: tuple[Path, str]) -> None:
    root, version = written_image
    convention = OmeNgffConvention()
    hierarchy = Hierarchy.open(str(root))
    ctx = HierarchyContext(hierarchy)

    image = convention.detect(hierarchy.root)
    assert image is not None and image.version == version and image.roles == ("image",)
    labels = convention.detect(hierarchy.node("/labels"))
    assert labels is not None and labels.roles == ("labels",)
    label = convention.detect(hierarchy.node("/labels/cells"))
    assert label is not None and label.version == version and label.roles == ("label-image",)

    described = convention.describe(hierarchy.root, ctx)
    levels = described["levels"]
    assert [level["shape"] for level in levels] == [[2, 5, 64, 64], [2, 5, 32, 32], [2, 5, 16, 16]]
    assert [level["scale"] for level in levels] == [[1.0, 2.0, 0.5, 0.5], [1.0, 2.0, 1.0, 1.0], [1.0, 2.0, 2.0, 2.0]]
    assert [a["name"] for a in described["axes"]] == ["c", "z", "y", "x"]
    assert described["axes"][3]["unit"] == "micrometer"
    assert described["labels"] == ["cells"]
    label_description = convention.describe(hierarchy.node("/labels/cells"), ctx)
    assert label_description["label"]["colors"] == [{"label-value": 1, "rgba": [255, 0, 0, 255]}]

    issues = ome_issues(root)
    assert not errors(issues), _explain(issues)

    level_path = f"/{levels[1]['path']}"
    dims = convention.dimensions(hierarchy.node(level_path), hierarchy.root)
    assert dims is not None
    assert dims.names == ("c", "z", "y", "x")
    assert dims.scales == (1.0, 2.0, 1.0, 1.0)
    assert dims.types == ("channel", "space", "space", "space")
    assert convention.dimensions(hierarchy.node(level_path), hierarchy.node("/labels")) is None


@pytest.mark.parametrize("fmt_index", [0, 1], ids=["ome-zarr-0.4", "ome-zarr-0.5"])
def test_written_plate(tmp_path: Path, fmt_index: int) -> None:
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    fmt, zarr_format, version = _formats()[fmt_index]
    root = tmp_path / "plate.ome.zarr"
    plate = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    write_plate_metadata(plate, ["A", "B"], ["1", "2", "3"], ["A/1", "B/3"], fmt=fmt, name="screen", field_count=2,
                         acquisitions=[{"id": 0, "name": "run", "maximumfieldcount": 2}])
    for well_path in ("A/1", "B/3"):
        well = plate.require_group(well_path)
        write_well_metadata(well, [{"path": "0", "acquisition": 0}, {"path": "1", "acquisition": 0}], fmt=fmt)
        for field in ("0", "1"):
            write_image(np.zeros((16, 16), dtype="uint8"), well.require_group(field), axes="yx", fmt=fmt,
                        scale_factors=(), axes_units={"y": "micrometer", "x": "micrometer"})
    convention = OmeNgffConvention()
    hierarchy = Hierarchy.open(str(root))
    ctx = HierarchyContext(hierarchy)
    detection = convention.detect(hierarchy.root)
    assert detection is not None and detection.version == version and detection.roles == ("plate",)
    described = convention.describe(hierarchy.root, ctx)["plate"]
    assert described["rows"] == ["A", "B"] and described["columns"] == ["1", "2", "3"]
    assert [w["path"] for w in described["wells"]] == ["A/1", "B/3"]
    assert convention.detect(hierarchy.node("/B/3")).roles == ("well",)  # type: ignore[union-attr]
    assert convention.describe(hierarchy.node("/B/3"), ctx)["well"]["images"][1]["path"] == "1"
    assert convention.child_hints(hierarchy.root) == ["A/1", "B/3"]
    issues = ome_issues(root)
    assert not errors(issues), _explain(issues)


# -- targeted broken stores (conventions.md §3.11) -------------------------------------------


def _image_ns(version: str = "0.5") -> dict[str, Any]:
    ms: dict[str, Any] = {
        "name": "img",
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [
            {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 0.5, 0.5]}]},
            {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1, 1.0, 1.0]},
                                                        {"type": "translation", "translation": [0, 0.25, 0.25]}]},
        ],
    }
    ns: dict[str, Any] = {"multiscales": [ms],
                          "omero": {"channels": [{"color": "FF0000", "label": "ch0", "active": True,
                                                  "window": {"min": 0, "max": 255, "start": 0, "end": 200}}]}}
    if version == "0.4":
        ms["version"] = "0.4"
        return ns
    return {"ome": {"version": "0.5", **ns}}


def write_image_store(root: Path, attrs: Mapping[str, Any], *, zarr_format: int = 3, dtype: str = "uint8",
                      dimension_names: tuple[str, ...] | None = ("c", "y", "x"),
                      shapes: Mapping[str, tuple[int, ...]] | None = None) -> Path:
    """A two-level image written with zarr-python, with full control over the arrays."""
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    group.attrs.update(dict(attrs))
    for path, shape in (shapes or {"0": (1, 64, 64), "1": (1, 32, 32)}).items():
        kwargs = {"dimension_names": dimension_names} if zarr_format == 3 and dimension_names else {}
        group.create_array(path, shape=shape, chunks=shape, dtype=dtype, **kwargs)
    return root


def _ms(attrs: dict[str, Any]) -> dict[str, Any]:
    return _namespace(attrs)["multiscales"][0]


def test_reference_image_is_clean(tmp_path: Path) -> None:
    for version, zarr_format in (("0.5", 3), ("0.4", 2)):
        root = write_image_store(tmp_path / f"ok{version}.zarr", _image_ns(version), zarr_format=zarr_format)
        issues = ome_issues(root, strict=False)
        assert not [i for i in issues if not i.message.startswith("[strict]")], _explain(issues)


def test_omero_channel_count_is_checked_against_the_channel_axis(tmp_path: Path) -> None:
    attrs = _image_ns("0.5")
    attrs["ome"]["omero"]["channels"] *= 2
    root = write_image_store(tmp_path / "two.zarr", attrs)  # c has size 1
    [issue] = [i for i in ome_issues(root) if "omero lists" in i.message]
    # napari-ome-zarr refuses to open it ("length of [[0, 3000], [0, 3000]] must equal 1", audit F), but the
    # spec has no such rule: a warning named as interoperability advice, not a spec error (audit L, 7)
    assert issue.severity is Severity.WARNING and issue.message.startswith(
        "[interoperability] omero lists 2 channels but the channel axis has size 1: napari-ome-zarr refuses to open "
        "the image")
    attrs = _image_ns("0.5")
    attrs["ome"]["omero"]["channels"] *= 3
    ms = attrs["ome"]["multiscales"][0]
    ms["axes"] = ms["axes"][1:]
    for dataset in ms["datasets"]:
        for transform in dataset["coordinateTransformations"]:
            transform[transform["type"]] = transform[transform["type"]][1:]
    root = write_image_store(tmp_path / "yx.zarr", attrs, dimension_names=("y", "x"),
                             shapes={"0": (64, 64), "1": (32, 32)})
    [issue] = [i for i in ome_issues(root) if "omero lists" in i.message]
    assert issue.message == "omero lists 3 channels but no axis has type 'channel' (one channel)"
    assert issue.severity is Severity.WARNING  # napari-ome-zarr opens it, with the first channel's settings


def test_an_axis_without_a_type_is_allowed_by_the_spec_and_named_when_the_schema_rejects_it(
        tmp_path: Path) -> None:
    """The 0.5 schema's "contains" takes an untyped axis for a space axis: c (no type), z, y, x failed
    with "must include 2 or 3 axes of type 'space', found 4" (audit F, 9).  The spec allows it ("MAY
    contain one additional entry of type:channel or a null / custom type"): a warning that names
    the schema, no error (audit L, 7)."""
    attrs = _image_ns("0.5")
    ms = attrs["ome"]["multiscales"][0]
    ms["axes"].insert(1, {"name": "z", "type": "space", "unit": "micrometer"})  # c, z, y, x
    for dataset in ms["datasets"]:
        for transform in dataset["coordinateTransformations"]:
            transform[transform["type"]].insert(1, transform[transform["type"]][1])
    del ms["axes"][0]["type"]
    root = write_image_store(tmp_path / "untyped.zarr", attrs, dimension_names=("c", "z", "y", "x"),
                             shapes={"0": (1, 4, 64, 64), "1": (1, 4, 32, 32)})
    issues = ome_issues(root)
    assert not errors(issues), _explain(issues)
    assert [i.message for i in issues if "no type" in i.message] == [
        "[interoperability] 'c' has no type: the spec allows one axis with no type, but the official schema counts "
        "it as a space axis and rejects 4 space axes (ome-ngff-validator fails this image); give it a type such as "
        "'channel' (0.5/image.schema)"]
    del ms["axes"][1]["type"]  # two untyped axes: more than the one the spec allows
    root = write_image_store(tmp_path / "two.zarr", attrs, dimension_names=("c", "z", "y", "x"),
                             shapes={"0": (1, 4, 64, 64), "1": (1, 4, 32, 32)})
    assert [i.message for i in errors(ome_issues(root))] == [
        "2 axes are of type 'channel' or a custom/absent type; at most one is allowed"]


def _break_duplicate_axis(a: dict[str, Any]) -> None:
    _ms(a)["axes"][2]["name"] = "y"


def _break_translation_first(a: dict[str, Any]) -> None:
    _ms(a)["datasets"][1]["coordinateTransformations"].reverse()


def _break_missing_array(a: dict[str, Any]) -> None:
    _ms(a)["datasets"][1]["path"] = "nope"


def _break_space_first(a: dict[str, Any]) -> None:
    _ms(a)["axes"] = [_ms(a)["axes"][1], _ms(a)["axes"][2], _ms(a)["axes"][0]]


def _break_zero_scale(a: dict[str, Any]) -> None:
    _ms(a)["datasets"][0]["coordinateTransformations"][0]["scale"][1] = 0


def _break_color_name(a: dict[str, Any]) -> None:
    _namespace(a)["omero"]["channels"][0]["color"] = "red"


def _break_color_hash(a: dict[str, Any]) -> None:
    _namespace(a)["omero"]["channels"][0]["color"] = "#FF0000"


def _break_window_end(a: dict[str, Any]) -> None:
    del _namespace(a)["omero"]["channels"][0]["window"]["end"]


def _break_short_scale(a: dict[str, Any]) -> None:
    _ms(a)["datasets"][0]["coordinateTransformations"][0]["scale"] = [0.5, 0.5]


BROKEN_05 = [
    pytest.param(_break_duplicate_axis, "/attributes/ome/multiscales/0/axes/2/name", id="duplicate-axis"),
    pytest.param(_break_translation_first, "/attributes/ome/multiscales/0/datasets/1/coordinateTransformations",
                 id="translation-before-scale"),
    pytest.param(_break_missing_array, "/attributes/ome/multiscales/0/datasets/1/path", id="missing-dataset-array"),
    pytest.param(_break_space_first, "/attributes/ome/multiscales/0/axes", id="space-before-channel"),
    pytest.param(_break_zero_scale,
                 "/attributes/ome/multiscales/0/datasets/0/coordinateTransformations/0/scale/1", id="zero-scale"),
    pytest.param(_break_color_name, "/attributes/ome/omero/channels/0/color", id="omero-color-red"),
    pytest.param(_break_color_hash, "/attributes/ome/omero/channels/0/color", id="omero-color-hash"),
    pytest.param(_break_window_end, "/attributes/ome/omero/channels/0/window", id="omero-window-no-end"),
    pytest.param(_break_short_scale,
                 "/attributes/ome/multiscales/0/datasets/0/coordinateTransformations/0/scale", id="scale-length"),
]


@pytest.mark.parametrize(("breaker", "pointer"), BROKEN_05)
def test_broken_05_image_is_an_error(tmp_path: Path, breaker: Any, pointer: str) -> None:
    attrs = _image_ns("0.5")
    breaker(attrs)
    if breaker is _break_space_first:
        names: tuple[str, ...] = ("y", "x", "c")
        shapes = {"0": (64, 64, 1), "1": (32, 32, 1)}
    else:
        names = tuple(a["name"] for a in _ms(attrs)["axes"])
        shapes = None
    issues = ome_issues(write_image_store(tmp_path / "broken.zarr", attrs, dimension_names=names, shapes=shapes))
    found = errors(issues)
    assert any(i.pointer == pointer and i.path == "/" and i.document == "zarr.json" for i in found), _explain(issues)


@pytest.mark.parametrize("breaker", [_break_color_name, _break_color_hash, _break_window_end, _break_zero_scale],
                         ids=["color-red", "color-hash", "window-no-end", "zero-scale"])
def test_broken_04_image_is_an_error(tmp_path: Path, breaker: Any) -> None:
    attrs = _image_ns("0.4")
    breaker(attrs)
    issues = ome_issues(write_image_store(tmp_path / "broken.zarr", attrs, zarr_format=2))
    assert any(i.document == ".zattrs" and i.pointer.startswith(("/omero/", "/multiscales/"))
               for i in errors(issues)), _explain(issues)


def test_dimension_names_mismatch_and_absence(tmp_path: Path) -> None:
    mismatch = ome_issues(write_image_store(tmp_path / "a.zarr", _image_ns(), dimension_names=("z", "y", "x")))
    assert any("dimension_names ['z', 'y', 'x']" in i.message and i.pointer.endswith("/datasets/0/path")
               for i in errors(mismatch)), _explain(mismatch)
    absent = ome_issues(write_image_store(tmp_path / "b.zarr", _image_ns(), dimension_names=None))
    assert any("no dimension_names" in i.message for i in errors(absent)), _explain(absent)


def test_array_ndim_must_match_axes(tmp_path: Path) -> None:
    issues = ome_issues(write_image_store(tmp_path / "a.zarr", _image_ns(), dimension_names=("y", "x"),
                                          shapes={"0": (64, 64), "1": (32, 32)}))
    assert any("has 2 dimensions" in i.message for i in errors(issues)), _explain(issues)


def test_pre_05_metadata_in_v3_group(tmp_path: Path) -> None:
    issues = ome_issues(write_image_store(tmp_path / "a.zarr", _image_ns("0.4"), zarr_format=3))
    assert [i.pointer for i in errors(issues)] == ["/attributes"], _explain(issues)
    assert "pre-0.5 metadata in a Zarr v3 group" in errors(issues)[0].message


def test_05_metadata_in_v2_group(tmp_path: Path) -> None:
    issues = ome_issues(write_image_store(tmp_path / "a.zarr", _image_ns("0.5"), zarr_format=2))
    assert any("requires Zarr v3" in i.message and i.pointer == "/ome/version" for i in errors(issues)), \
        _explain(issues)


def test_version_04_under_ome_is_an_error(tmp_path: Path) -> None:
    attrs = _image_ns("0.5")
    attrs["ome"]["version"] = "0.4"
    issues = ome_issues(write_image_store(tmp_path / "a.zarr", attrs))
    assert any("'0.4'" in i.message and i.pointer == "/attributes/ome/version" for i in errors(issues)), \
        _explain(issues)


@pytest.mark.parametrize(("value", "said"), [([1], "an array ([1])"), ("x", 'a string ("x")'),
                                             ({}, "an object without 'version'")])
def test_an_ome_key_holding_no_ome_metadata_is_an_error(tmp_path: Path, value: Any, said: str) -> None:
    """Invalid against every 0.5 schema, and it passed with OK and no badge (audit B)."""
    import zarr

    zarr.open_group(tmp_path / "g.zarr", mode="w", zarr_format=3, attributes={"ome": value})
    issues = ome_issues(tmp_path / "g.zarr")
    (issue,) = errors(issues)
    assert said in issue.message and issue.pointer == "/attributes/ome" and issue.document == "zarr.json"


def _label_attrs(**image_label: Any) -> dict[str, Any]:
    attrs = _image_ns("0.5")
    _ms(attrs)["axes"] = _ms(attrs)["axes"][1:]
    for dataset in _ms(attrs)["datasets"]:
        for transform in dataset["coordinateTransformations"]:
            transform[transform["type"]] = transform[transform["type"]][1:]
    del attrs["ome"]["omero"]
    attrs["ome"]["image-label"] = {"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}], **image_label}
    return attrs


def _write_label(root: Path, attrs: dict[str, Any], dtype: str = "uint32") -> Path:
    return write_image_store(root, attrs, dtype=dtype, dimension_names=("y", "x"),
                             shapes={"0": (64, 64), "1": (32, 32)})


def test_label_image_rules(tmp_path: Path) -> None:
    clean = ome_issues(_write_label(tmp_path / "ok.zarr", _label_attrs()))
    assert not errors(clean), _explain(clean)

    bad_rgba = _label_attrs(colors=[{"label-value": 1, "rgba": [300, 0, 0]}])
    rgba = ome_issues(_write_label(tmp_path / "rgba.zarr", bad_rgba))
    assert any(i.pointer.startswith("/attributes/ome/image-label/colors/0/rgba") for i in errors(rgba)), _explain(rgba)

    duplicate = ome_issues(_write_label(tmp_path / "dup.zarr", _label_attrs(
        colors=[{"label-value": 1, "rgba": [0, 0, 0, 255]}, {"label-value": 1, "rgba": [9, 9, 9, 255]}])))
    assert any(i.pointer == "/attributes/ome/image-label/colors/1/label-value" for i in errors(duplicate)), \
        _explain(duplicate)

    floats = ome_issues(_write_label(tmp_path / "float.zarr", _label_attrs(), dtype="float32"))
    assert any("'float32'" in i.message and i.pointer.endswith("/datasets/0/path") for i in errors(floats)), \
        _explain(floats)


def test_unknown_unit_is_only_a_warning(tmp_path: Path) -> None:
    attrs = _image_ns("0.5")
    _ms(attrs)["axes"][2]["unit"] = "parsnip"
    issues = ome_issues(write_image_store(tmp_path / "a.zarr", attrs))
    assert not errors(issues), _explain(issues)
    assert any("'parsnip'" in i.message and i.severity is Severity.WARNING
               and i.pointer == "/attributes/ome/multiscales/0/axes/2/unit" for i in issues), _explain(issues)


def test_strict_rules_are_warnings_until_strict(tmp_path: Path) -> None:
    root = write_image_store(tmp_path / "a.zarr", _image_ns("0.5"))  # no 'type' or 'metadata'
    lenient = ome_issues(root)
    assert not errors(lenient)
    assert any(i.message.startswith("[strict] ") for i in lenient)
    assert any(i.message.startswith("[strict] ") for i in errors(ome_issues(root, strict=True)))


def test_plate_well_path_and_missing_wells(tmp_path: Path) -> None:
    attrs = {"ome": {"version": "0.5", "plate": {
        "rows": [{"name": "A"}], "columns": [{"name": "1"}, {"name": "2"}],
        "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}, {"path": "2/A", "rowIndex": 0, "columnIndex": 1},
                  {"path": "A/2", "rowIndex": 0, "columnIndex": 1}]}}}
    root = tmp_path / "plate.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=3)
    group.attrs.update(attrs)
    group.require_group("A/1")
    issues = ome_issues(root)
    assert [i.pointer for i in errors(issues)] == ["/attributes/ome/plate/wells/1/path"], _explain(issues)
    assert any(i.severity is Severity.WARNING and "'A/2'" in i.message for i in issues), _explain(issues)


def test_labels_group_and_version_consistency(tmp_path: Path) -> None:
    root = write_image_store(tmp_path / "img.zarr", _image_ns("0.4"), zarr_format=2)
    group = zarr.open_group(root, mode="a", zarr_format=2)
    group.require_group("labels").attrs.update({"labels": ["cells", "ghost"]})
    label = group.require_group("labels/cells")
    label_attrs = {"multiscales": [{"version": "0.3", "axes": ["y", "x"], "datasets": [{"path": "0"}]}],
                   "image-label": {"version": "0.3"}}
    label.attrs.update(label_attrs)
    label.create_array("0", shape=(64, 64), dtype="uint8")
    issues = ome_issues(root)
    # labels list "paths to the labeled multiscale image(s)": one naming nothing is an error (audit L, 3)
    assert [(i.path, i.pointer) for i in errors(issues)] == [("/labels", "/labels/1")], _explain(issues)
    assert any(i.path == "/labels/cells" and "differs from version '0.4'" in i.message
               and i.severity is Severity.WARNING and i.pointer == "/multiscales/0/version" for i in issues), \
        _explain(issues)
    hierarchy = Hierarchy.open(str(root))
    dims = OmeNgffConvention().dimensions(hierarchy.node("/labels/cells/0"), hierarchy.node("/labels/cells"))
    assert dims is not None and dims.names == ("y", "x")  # 0.3 string axes


def test_bioformats2raw_series(tmp_path: Path) -> None:
    root = tmp_path / "bf2raw.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=3)
    group.attrs.update({"ome": {"version": "0.5", "bioformats2raw.layout": 3}})
    group.require_group("OME").attrs.update({"ome": {"version": "0.5", "series": ["0", "1"]}})
    write_image_store(root / "0", _image_ns("0.5"))
    hierarchy = Hierarchy.open(str(root))
    convention = OmeNgffConvention()
    assert convention.detect(hierarchy.root).roles == ("bioformats2raw",)  # type: ignore[union-attr]
    assert convention.detect(hierarchy.node("/OME")).roles == ("bioformats2raw",)  # type: ignore[union-attr]
    described = convention.describe(hierarchy.root, HierarchyContext(hierarchy))["bioformats2raw"]
    assert described["series"] == ["0", "1"] and described["series_source"] == "OME/series"
    issues = ome_issues(root)
    # "each of which is a path to an image group": '1' names nothing (a warning before audit L, 3)
    assert [(i.path, i.pointer) for i in errors(issues)] == [("/OME", "/attributes/ome/series/1")], _explain(issues)


@needs_fixtures
def test_06rc0_is_detected_described_not_validated(tmp_path: Path) -> None:
    document = _load_example(NGFF / "0.6rc0" / "examples" / "multiscales_strict" / "multiscales_example.json")
    root = tmp_path / "v06.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=3)
    group.attrs.update(document["attributes"])
    hierarchy = Hierarchy.open(str(root))
    convention = OmeNgffConvention()
    detection = convention.detect(hierarchy.root)
    assert detection is not None and detection.version == "0.6rc0" and detection.roles == ("image",)
    described = convention.describe(hierarchy.root, HierarchyContext(hierarchy))
    assert [a["name"] for a in described["axes"]] == ["t", "c", "z", "y", "x"]
    assert described["levels"][1]["scale"] == [0.1, 1.0, 1.0, 1.0, 1.0]
    issues = convention.validate(hierarchy.root, HierarchyContext(hierarchy))
    # a warning: a validation verdict must not read as a clean pass for metadata never checked
    assert [(i.severity, i.message) for i in issues] == [
        (Severity.WARNING, "OME-NGFF 0.6rc0 is read-only; not validated")]


def test_04_metadata_labelled_03_is_an_error(tmp_path: Path) -> None:
    """0.4's axis objects and transformations under version '0.3' (the 0.4 suite's invalid_version)."""
    root = tmp_path / "v03.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=2)
    group.create_array("0", shape=(4, 4), dtype="uint8")
    group.attrs["multiscales"] = [{"version": "0.3", "axes": [{"name": "y", "type": "space"}, {"name": "x"}],
                                   "datasets": [{"path": "0", "coordinateTransformations": [
                                       {"type": "scale", "scale": [1, 1]}]}]}]
    found = [(i.pointer, i.message) for i in errors(ome_issues(root))]
    assert found == [
        ("/multiscales/0/axes", "axes are objects, as in OME-NGFF 0.4; 0.3 images name their axes with strings "
                                "(is the version wrong? 0.4 metadata says version '0.4')"),
        ("/multiscales/0/datasets/0/coordinateTransformations",
         "coordinateTransformations came with OME-NGFF 0.4; a 0.3 dataset has only a path")]
    group.attrs["multiscales"] = [{"version": "0.3", "axes": ["y", "x"], "datasets": [{"path": "0"}]}]
    issues = ome_issues(root)
    assert not errors(issues) and [i.unchecked for i in issues] == [True], _explain(issues)


def test_detection_ignores_unrelated_attributes(tmp_path: Path) -> None:
    root = tmp_path / "plain.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=2)
    group.attrs.update({"multiscales": {"layout": []}, "labels": [1, 2], "series": ["a"]})
    array = group.create_array("a", shape=(2,), dtype="uint8")
    array.attrs.update({"multiscales": [{"datasets": []}]})
    hierarchy = Hierarchy.open(str(root))
    convention = OmeNgffConvention()
    assert convention.detect(hierarchy.root) is None
    assert convention.detect(hierarchy.node("/a")) is None


# -- junk metadata never raises ----------------------------------------------------------------

JUNK_V3: list[dict[str, Any]] = [
    {"ome": {"version": "0.5", "multiscales": "junk"}},
    {"ome": {"version": "0.5", "multiscales": [{"axes": [1, 2], "datasets": None}]}},
    {"ome": {"version": "0.5", "multiscales": [{"axes": "xyz", "datasets": [{"path": ["a"],
                                                                             "coordinateTransformations": "s"}]}]}},
    {"ome": {"version": "0.5", "multiscales": [None, 3, {"axes": [{"name": 5, "type": [], "unit": {}}],
                                                         "datasets": [{"path": "0", "coordinateTransformations": [
                                                             {"type": "scale", "scale": "big"}, 7]}]}]}},
    {"ome": {"version": 5, "plate": "p"}},
    {"ome": {"version": "0.5", "plate": {"rows": "AB", "columns": [1], "acquisitions": 5,
                                         "wells": [{"path": 3, "rowIndex": "0", "columnIndex": None}]}}},
    {"ome": {"version": "0.5", "plate": {"rows": [{"name": "A"}], "columns": [{"name": "1"}],
                                         "wells": [{"path": "A/1", "rowIndex": 7, "columnIndex": -1}]}}},
    {"ome": {"version": "0.5", "well": {"images": "0"}}},
    {"ome": {"version": "0.5", "well": {"images": [{"path": "0", "acquisition": "x"}, 5]}}},
    {"ome": {"version": "0.5", "multiscales": [{}], "image-label": {"colors": [{"label-value": "x", "rgba": "red"}],
                                                                   "source": 3, "properties": 4}}},
    {"ome": {"version": "0.5", "omero": {"channels": [{"window": "w", "color": 5}, None], "rdefs": 3},
             "multiscales": [{"axes": [{"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
                              "datasets": [{"path": "../../..", "coordinateTransformations": [
                                  {"type": "scale", "scale": [math.nan, math.inf]}]}]}]}},
    {"ome": {"version": "0.5", "omero": "nope"}},
    {"ome": {"version": "0.5", "labels": "cells"}},
    {"ome": {"version": "0.5", "labels": [1, None]}},
    {"ome": {"version": "0.5", "series": {"a": 1}, "bioformats2raw.layout": "3"}},
    {"ome": {"version": ["0.5"], "multiscales": []}},
    {"ome": {"version": "0.6rc0", "multiscales": 1}},
    {"ome": {"omero": {"channels": []}}},
]

JUNK_V2: list[dict[str, Any]] = [
    {"multiscales": [{"axes": [1, 2], "datasets": None, "version": 0.4}]},
    {"multiscales": [{"version": "0.3", "axes": ["t", "c", "y", "x"], "datasets": [{"path": 0}, {"path": "9"}]}]},
    {"multiscales": [{"version": "0.7", "axes": [], "datasets": []}]},
    {"plate": {"wells": "x"}},
    {"image-label": {"colors": 5}},
    {"omero": {"channels": 5}},
    {"well": {"images": [None]}, "bioformats2raw.layout": None},
]


@pytest.mark.parametrize(("zarr_format", "attrs"),
                         [pytest.param(3, a, id=f"v3-{n}") for n, a in enumerate(JUNK_V3)]
                         + [pytest.param(2, a, id=f"v2-{n}") for n, a in enumerate(JUNK_V2)])
def test_junk_metadata_becomes_issues(tmp_path: Path, zarr_format: int, attrs: dict[str, Any]) -> None:
    root = tmp_path / "junk.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    group.attrs.update(attrs)
    group.create_array("0", shape=(2, 2), dtype="uint8")
    hierarchy = Hierarchy.open(str(root))
    ctx = HierarchyContext(hierarchy)
    convention = OmeNgffConvention()
    node = hierarchy.root
    assert convention.detect(node) is not None
    issues = convention.validate(node, ctx)  # called directly: the registry would hide an exception
    assert issues, "junk metadata must produce at least one issue"
    assert all(i.convention == "ome-ngff" and i.path == "/" for i in issues)
    json.dumps(convention.describe(node, ctx))  # JSON-able
    convention.child_hints(node)
    convention.dimensions(hierarchy.node("/0"), node)


@pytest.mark.parametrize("version", ["0.9", "foo"])
def test_unknown_top_level_version_is_one_clear_error(tmp_path: Path, version: str) -> None:
    root = tmp_path / "unknown.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=2)
    group.attrs["multiscales"] = [{"version": version, "axes": ["y", "x"], "datasets": [{"path": "0"}]}]
    group.create_array("0", shape=(4, 4), dtype="uint8")
    issues = ome_issues(root)
    assert len(issues) == 1, _explain(issues)  # not the 0.4 schema's complaints about 0.9 metadata
    [issue] = issues
    assert issue.severity is Severity.ERROR
    assert issue.message.startswith(f"unknown OME-NGFF version {version!r}")
    assert "(known: 0.1, 0.2, 0.3, 0.4;" in issue.message and "not validated" in issue.message
    assert (issue.document, issue.pointer) == (".zattrs", "/multiscales/0/version")


def test_a_label_image_with_other_levels_than_its_image_is_an_error(tmp_path: Path) -> None:
    """The labels section: a label image's datasets MUST have as many entries as its image's.
    ome-zarr-py writes 5 label levels by default whatever the image has; ome-zarr-models refuses
    the 0.5 image then, where we said OK (audit F, 8)."""
    from ome_zarr.writer import write_image, write_labels

    for fmt, zarr_format, _version in _formats():
        root = tmp_path / f"image{zarr_format}.ome.zarr"
        group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
        write_image(np.zeros((2, 64, 64), dtype="uint16"), group, axes="cyx", fmt=fmt, scale_factors=(2, 4))
        write_labels(np.zeros((64, 64), dtype="uint16"), group, name="nuclei", axes="yx", fmt=fmt)  # 5 levels
        [issue] = [i for i in ome_issues(root) if "resolution levels" in i.message]
        assert issue.severity is Severity.ERROR and issue.path == "/labels/nuclei"
        assert issue.message.startswith("this label image has 5 resolution levels and its image (/) 3")
        assert issue.message.endswith("remove the extra levels from datasets") and issue.pointer.endswith(
            "/multiscales/0/datasets")
        labels = zarr.open_group(root / "labels" / "nuclei", mode="r+")
        attrs = labels.attrs.asdict()
        ns = attrs.get("ome", attrs)
        del ns["multiscales"][0]["datasets"][3:]  # what the message says
        labels.attrs.put(attrs)
        assert not [i for i in ome_issues(root) if "resolution levels" in i.message]


# -- audit L: verdicts checked against the spec text ------------------------------------------

HUGE = 10**400  # a legal JSON number; float(HUGE) and math.isfinite(HUGE) raise OverflowError


def test_an_integer_too_large_for_a_float_is_reported_and_hides_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A scale of 10**400 gave two tracebacks, one 'internal error ... OverflowError' without a
    pointer, and lost the node's other errors (a missing level, a bad colour; audit L, 1)."""
    attrs = _image_ns("0.5")
    _ms(attrs)["datasets"][0]["coordinateTransformations"][0]["scale"][0] = HUGE
    _ms(attrs)["datasets"][1]["path"] = "nope"
    attrs["ome"]["omero"]["channels"][0]["color"] = "red"
    root = write_image_store(tmp_path / "huge.zarr", attrs)
    issues = ome_issues(root)
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        ("/attributes/ome/multiscales/0/datasets/0/coordinateTransformations/0/scale/0",
         "scale value 100000000000…(401 digits) is too large for a 64-bit float (at most ~1.8e308): readers fail on "
         "it or read it as infinity"),
        ("/attributes/ome/multiscales/0/datasets/1/path", "dataset path 'nope' names no array: nothing found at /nope"),
        ("/attributes/ome/omero/channels/0/color",
         "channel color 'red' must be exactly 6 hexadecimal digits (RRGGBB, no '#')")], _explain(issues)
    assert not [r for r in caplog.records if r.levelno >= 40], caplog.text  # no traceback
    hierarchy = Hierarchy.open(str(root))
    dims = OmeNgffConvention().dimensions(hierarchy.node("/0"), hierarchy.root)
    assert dims is not None and dims.names == ("c", "y", "x") and dims.scales is None  # the names are kept
    described = OmeNgffConvention().describe(hierarchy.root, HierarchyContext(hierarchy))
    assert described["levels"][0]["scale"] is None and described["levels"][1]["scale"] == [1.0, 1.0, 1.0]


def test_huge_numbers_the_spec_allows_are_warnings(tmp_path: Path) -> None:
    """A translation, a window bound or a label-value of 10**400 is a JSON number the schema
    accepts: a warning (readers overflow on it), never an error or a crash (audit L, 1)."""
    for zarr_format, version in ((3, "0.5"), (2, "0.4")):
        attrs = _image_ns(version)
        _ms(attrs)["datasets"][1]["coordinateTransformations"][1]["translation"][2] = -HUGE
        _namespace(attrs)["omero"]["channels"][0]["window"]["end"] = HUGE
        root = write_image_store(tmp_path / f"huge{version}.zarr", attrs, zarr_format=zarr_format)
        issues = [i for i in ome_issues(root) if not i.message.startswith("[strict]")]
        prefix = "/attributes/ome" if version == "0.5" else ""
        assert [(i.severity, i.pointer) for i in issues] == [
            (Severity.WARNING, f"{prefix}/multiscales/0/datasets/1/coordinateTransformations/1/translation/2"),
            (Severity.WARNING, f"{prefix}/omero/channels/0/window/end"),
            (Severity.WARNING, f"{prefix}/omero/channels/0/window")], _explain(issues)
        assert issues[2].message == "window end 100000000000…(401 digits) is above max 255"
    label = _label_attrs(colors=[{"label-value": HUGE, "rgba": [255, 0, 0, 255]}],
                         properties=[{"label-value": 70000}])
    issues = ome_issues(_write_label(tmp_path / "label.zarr", label, dtype="uint16"))
    assert not errors(issues), _explain(issues)
    assert [i.message for i in issues if "label-value" in i.message] == [
        "label-value 100000000000…(401 digits) is outside the range of the label data type uint16 (0..65535): no "
        "pixel can have it",
        "label-value 70000 is outside the range of the label data type uint16 (0..65535): no pixel can have it"]


def test_04_keys_of_the_wrong_type_are_errors_inside_an_ome_hierarchy(tmp_path: Path) -> None:
    """A 0.4 key of the wrong type made its group 'not OME', and validation said OK (its 0.5 twin
    failed): 'labels': 'cells' in an image's labels group, 'image-label': [] beside multiscales,
    'well': [] in a plate's well (audit L, 2)."""
    root = write_image_store(tmp_path / "img.zarr", _image_ns("0.4"), zarr_format=2)
    group = zarr.open_group(root, mode="a", zarr_format=2)
    group.require_group("labels").attrs.update({"labels": "cells"})
    label = _label_attrs()["ome"]
    label["multiscales"][0]["version"] = "0.4"
    label["image-label"] = []
    write_image_store(root / "labels" / "cells", {k: v for k, v in label.items() if k != "version"}, zarr_format=2,
                      dtype="uint32", shapes={"0": (64, 64), "1": (32, 32)})
    issues = ome_issues(root)
    assert [(i.path, i.pointer, i.message) for i in errors(issues)] == [
        ("/labels", "/labels", "labels must be a list of label image paths, got 'cells'"),
        ("/labels/cells", "/image-label", "[] is not of type 'object' (0.4/label.schema)")], _explain(issues)

    plate = tmp_path / "plate.zarr"
    top = zarr.open_group(plate, mode="w", zarr_format=2)
    top.attrs["plate"] = {"version": "0.4", "rows": [{"name": "A"}], "columns": [{"name": "1"}],
                          "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]}
    top.require_group("A/1").attrs["well"] = []
    issues = ome_issues(plate)
    assert [(i.path, i.pointer) for i in errors(issues)] == [("/A/1", "/well")], _explain(issues)

    # the same key with nothing OME around it may be someone else's attribute: a warning
    plain = tmp_path / "plain.zarr"
    zarr.open_group(plain, mode="w", zarr_format=2).attrs["plate"] = ["a", "b"]
    issues = ome_issues(plain)
    assert [(i.severity, i.pointer, i.message) for i in issues] == [
        (Severity.WARNING, "/plate", "'plate' looks like OME-NGFF metadata but is a list (['a', 'b']); OME-NGFF 0.4 "
                                     "expects an object, and readers take this group for no OME-NGFF node")]


def _write_plate(root: Path, fmt: Any, zarr_format: int, *, field_count: int = 2) -> zarr.Group:
    """An ome-zarr-py plate: wells A/1 and B/3, each with fields 0 and 1 (2-D images)."""
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    plate = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    write_plate_metadata(plate, ["A", "B"], ["1", "2", "3"], ["A/1", "B/3"], fmt=fmt, field_count=field_count)
    for well_path in ("A/1", "B/3"):
        well = plate.require_group(well_path)
        write_well_metadata(well, [{"path": "0"}, {"path": "1"}], fmt=fmt)
        for field in ("0", "1"):
            write_image(np.zeros((16, 16), dtype="uint8"), well.require_group(field), axes="yx", fmt=fmt,
                        scale_factors=(), axes_units={"y": "micrometer", "x": "micrometer"})
    return plate


@pytest.mark.parametrize("fmt_index", [0, 1], ids=["ome-zarr-0.4", "ome-zarr-0.5"])
def test_what_plates_and_wells_list_must_be_wells_and_images(tmp_path: Path, fmt_index: int) -> None:
    """A listed well without well metadata, a listed well that is an array, a field without
    multiscales and a field that is an array passed with no issue; ome-zarr-py and
    napari-ome-zarr cannot open such plates (KeyError: 'multiscales'; audit L, 3)."""
    import shutil

    fmt, zarr_format, _version = _formats()[fmt_index]
    root = tmp_path / "plate.ome.zarr"
    plate = _write_plate(root, fmt, zarr_format)
    assert not errors(ome_issues(root))
    shutil.rmtree(root / "B" / "3")
    plate.require_group("B/3")  # empty groups: an empty well and an empty field ("SHOULD NOT be present")
    shutil.rmtree(root / "A" / "1" / "1")
    plate.require_group("A/1/1")
    issues = ome_issues(root)
    assert not errors(issues) and [i.message for i in issues if i.severity is Severity.WARNING] == [
        "well 'B/3': /B/3 is an empty group (no well metadata, no fields)",
        "field '1' (/A/1/1) is an empty group: nothing to show"], _explain(issues)
    plate.require_group("B/3/0")  # a well group without well metadata
    plate.create_array("A/1/1/0", shape=(16, 16), dtype="uint8")  # a field group without multiscales
    issues = ome_issues(root)
    v5 = "/attributes/ome" if zarr_format == 3 else ""
    assert [(i.path, i.pointer, i.message) for i in errors(issues)] == [
        ("/", f"{v5}/plate/wells/1/path", "well 'B/3': /B/3 has no well metadata: the group above the fields must "
                                          "implement the well specification"),
        ("/A/1", f"{v5}/well/images/1/path", "field '1' (/A/1/1) is a group without multiscales; a field must be a "
                                             "multiscale image")], _explain(issues)
    shutil.rmtree(root / "A" / "1" / "1")
    plate.create_array("A/1/1", shape=(2,), dtype="uint8")
    shutil.rmtree(root / "B" / "3")
    plate.create_array("B/3", shape=(2,), dtype="uint8")
    issues = ome_issues(root)
    assert [i.message for i in errors(issues)] == [
        "well 'B/3': /B/3 is an array, not a well group",
        "field '1' names an array at /A/1/1; a field must be a multiscale image group"], _explain(issues)
    shutil.rmtree(root / "B" / "3")  # a listed well with nothing there: a sparse plate, a warning
    issues = ome_issues(root)
    assert [(i.severity, i.message) for i in issues if "B/3" in i.message] == [
        (Severity.WARNING, "well 'B/3' is listed but there is no group at /B/3")]


def test_a_well_with_more_fields_than_the_plate_field_count_is_an_error(tmp_path: Path) -> None:
    """field_count "MUST be a positive integer defining the maximum number of fields per view
    across all wells": 2 fields under field_count 1 passed (audit L, 6)."""
    fmt, zarr_format, _version = _formats()[1]
    root = tmp_path / "plate.ome.zarr"
    _write_plate(root, fmt, zarr_format, field_count=1)
    issues = ome_issues(root)
    assert [(i.path, i.pointer, i.message) for i in errors(issues)] == [
        (well, "/attributes/ome/well/images", "the well lists 2 fields but the plate's field_count is 1, the maximum "
                                              "number of fields per well") for well in ("/A/1", "/B/3")], \
        _explain(issues)


def test_series_and_labels_must_name_images(tmp_path: Path) -> None:
    """OME/series entries naming nothing, a group without metadata or a path out of the store were
    at most warnings; so were labels entries naming nothing or no image, and a labels group
    without its 'labels' key passed (audit L, 3)."""
    root = tmp_path / "bf2raw.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=3)
    group.attrs.update({"ome": {"version": "0.5", "bioformats2raw.layout": 3}})
    group.require_group("OME").attrs.update({"ome": {"version": "0.5", "series": ["0", "1", "2", "../../x"]}})
    write_image_store(root / "0", _image_ns("0.5"))
    group.require_group("1")
    issues = ome_issues(root)
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        ("/attributes/ome/series/1", "series '1' names a group without multiscales at /1; it must be a path to an "
                                     "image group"),
        ("/attributes/ome/series/2", "series '2' is listed but there is no group at /2; it must be a path to an "
                                     "image group"),
        ("/attributes/ome/series/3", "series '../../x' leaves the store; it must be a path to an image group below /")
    ], _explain(issues)

    image = write_image_store(tmp_path / "img.zarr", _image_ns("0.5"))
    top = zarr.open_group(image, mode="a", zarr_format=3)
    labels = top.require_group("labels")
    labels.attrs["ome"] = {"version": "0.5"}
    issues = ome_issues(image)
    assert [(i.path, i.pointer, i.message) for i in errors(issues)] == [
        ("/labels", "/attributes/ome/labels", "this is the labels group of the image / but has no 'labels' key; it "
                                              "must list its label images (\"labels\": [\"cells\", ...])")]
    labels.attrs["ome"] = {"version": "0.5", "labels": ["ghost", "plain"]}
    labels.require_group("plain")
    issues = ome_issues(image)
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        ("/attributes/ome/labels/0", "label 'ghost' is listed but there is no group at /labels/ghost; labels must "
                                     "list label images"),
        ("/attributes/ome/labels/1", "label 'plain' (/labels/plain) is not a multiscale image; labels must list "
                                     "multiscale label images")], _explain(issues)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_bioformats2raw_without_series_needs_images_numbered_from_0(tmp_path: Path, zarr_format: int) -> None:
    """Without OME/series "separate multiscales images MUST be stored in consecutively numbered
    groups starting from 0": images 0 and 2, or 1 alone, passed (audit L, 6)."""
    version = "0.5" if zarr_format == 3 else "0.4"
    root = tmp_path / "bf2raw.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    layout = {"bioformats2raw.layout": 3}
    group.attrs.update({"ome": {"version": "0.5", **layout}} if zarr_format == 3 else layout)
    for name in ("0", "2"):
        write_image_store(root / name, _image_ns(version), zarr_format=zarr_format)
    issues = ome_issues(root)
    pointer = "/attributes/ome/bioformats2raw.layout" if zarr_format == 3 else "/bioformats2raw.layout"
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        (pointer, "no OME/series: the images must be in groups numbered 0, 1, 2, … without gaps; found 0, 2")], \
        _explain(issues)
    write_image_store(root / "1", _image_ns(version), zarr_format=zarr_format)
    assert not errors(ome_issues(root))


def test_transformations_at_most_one_translation_and_spec_allowed_forms(tmp_path: Path) -> None:
    """A second translation passed ("It MAY contain exactly one translation", audit L, 4); a
    negative scale and the table's 'path' form failed although the spec allows them (7); a bad
    scale vector said "'translation' is a required property" (8)."""
    attrs = _image_ns("0.5")
    _ms(attrs)["datasets"][1]["coordinateTransformations"].append(
        {"type": "translation", "translation": [0, 1, 1]})
    _ms(attrs)["coordinateTransformations"] = [{"type": "scale", "scale": [1, 1, 1]},
                                               {"type": "translation", "translation": [0, 1, 1]},
                                               {"type": "translation", "translation": [0, 2, 2]}]
    issues = ome_issues(write_image_store(tmp_path / "two.zarr", attrs))
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        ("/attributes/ome/multiscales/0/coordinateTransformations",
         "transformations are ['scale', 'translation', 'translation']; at most one 'translation' is allowed"),
        ("/attributes/ome/multiscales/0/datasets/1/coordinateTransformations",
         "transformations are ['scale', 'translation', 'translation']; at most one 'translation' is allowed")], \
        _explain(issues)

    attrs = _image_ns("0.5")
    _ms(attrs)["datasets"][0]["coordinateTransformations"][0]["scale"][2] = "0.5"
    issues = ome_issues(write_image_store(tmp_path / "string.zarr", attrs))
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        ("/attributes/ome/multiscales/0/datasets/0/coordinateTransformations/0/scale/2",
         "scale/2: '0.5' is not of type 'number' (0.5/image.schema)")], _explain(issues)

    attrs = _image_ns("0.4")
    _ms(attrs)["datasets"][0]["coordinateTransformations"][0]["scale"][1] = -0.5
    _ms(attrs)["datasets"][1]["coordinateTransformations"][0] = {"type": "scale", "path": "scale.bin"}
    issues = ome_issues(write_image_store(tmp_path / "allowed.zarr", attrs, zarr_format=2))
    assert not errors(issues), _explain(issues)
    assert [(i.pointer, i.message) for i in issues if i.message.startswith("[interoperability]")] == [
        ("/multiscales/0/datasets/1/coordinateTransformations/0",
         "[interoperability] the scale is given by 'path' ('scale.bin', binary data): the spec's transformation "
         "table allows it, but the official schemas do not, and no reader (ome-zarr-py, napari-ome-zarr) reads it: "
         "give the scale as a list of numbers (0.4/image.schema)"),
        ("/multiscales/0/datasets/0/coordinateTransformations/0/scale/1",
         "[interoperability] scale value -0.5 is negative: it mirrors the axis; the spec allows it, but viewers may "
         "not")], _explain(issues)


def test_messages_name_the_key_at_fault_and_stay_short(tmp_path: Path) -> None:
    """An integer axis name said "'channel' should not be valid under {'enum': [...]}"; a
    100,000-character axis name made messages of 100,000 characters (audit L, 8)."""
    attrs = _image_ns("0.5")
    _ms(attrs)["axes"][0]["name"] = 1
    issues = ome_issues(write_image_store(tmp_path / "int.zarr", attrs))
    assert [(i.pointer, i.message) for i in errors(issues) if "/axes/" in i.pointer] == [
        ("/attributes/ome/multiscales/0/axes/0/name", "name: 1 is not of type 'string' (0.5/image.schema)")]
    attrs = _image_ns("0.5")
    _ms(attrs)["axes"][0]["name"] = "c" * 100_000
    issues = ome_issues(write_image_store(tmp_path / "long.zarr", attrs))
    assert errors(issues) and max(len(i.message) for i in issues) <= 600, _explain(issues)


def test_0_5_version_must_be_consistent_and_a_0_3_well_in_a_0_4_plate_is_checked(tmp_path: Path) -> None:
    """A 0.6rc0 label inside a 0.5 image was a warning ("The OME-Zarr Metadata version MUST be
    consistent within a hierarchy", 0.5); a 0.3 well in a 0.4 plate was waved through as legacy
    (audit L, 5)."""
    root = write_image_store(tmp_path / "img.zarr", _image_ns("0.5"))
    group = zarr.open_group(root, mode="a", zarr_format=3)
    group.require_group("labels").attrs["ome"] = {"version": "0.5", "labels": ["cells"]}
    label = _label_attrs()
    label["ome"]["version"] = "0.6rc0"
    _write_label(root / "labels" / "cells", label)
    issues = ome_issues(root)
    assert [(i.path, i.pointer, i.message) for i in errors(issues)] == [
        ("/labels/cells", "/attributes/ome/version", "OME-NGFF version '0.6rc0' differs from version '0.5' of "
                                                     "/labels; the version must be consistent within a hierarchy")], \
        _explain(issues)

    plate = tmp_path / "plate.zarr"
    top = zarr.open_group(plate, mode="w", zarr_format=2)
    top.attrs["plate"] = {"version": "0.4", "rows": [{"name": "A"}], "columns": [{"name": "1"}],
                          "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]}
    top.require_group("A/1").attrs["well"] = {"version": "0.3", "images": [{"path": "0"}]}
    write_image_store(plate / "A" / "1" / "0", _image_ns("0.4"), zarr_format=2)
    issues = ome_issues(plate)
    assert [(i.path, i.pointer) for i in errors(issues)] == [("/A/1", "/well/version")], _explain(issues)
    assert [(i.severity, i.pointer) for i in issues if "differs from version" in i.message and i.path == "/A/1"] == [
        (Severity.WARNING, "/well/version")]  # 0.4 has no consistency rule; the schema's version enum fails it


def test_levels_out_of_order_and_a_label_image_without_multiscales_are_errors(tmp_path: Path) -> None:
    """"The paths MUST be ordered from largest (i.e. highest resolution) to smallest" and "The
    zarr.json file for the label image MUST implement the multiscales specification" were
    warnings (audit L, 5)."""
    root = write_image_store(tmp_path / "rev.zarr", _image_ns("0.5"), shapes={"0": (1, 32, 32), "1": (1, 64, 64)})
    issues = ome_issues(root)
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        ("/attributes/ome/multiscales/0/datasets/1/path",
         "level '1' has shape [1, 64, 64], larger than the previous level '0' [1, 32, 32] on some axis; levels must go "
         "from the highest to the lowest resolution")], _explain(issues)
    image = write_image_store(tmp_path / "img.zarr", _image_ns("0.5"))
    group = zarr.open_group(image, mode="a", zarr_format=3)
    group.require_group("labels").attrs["ome"] = {"version": "0.5", "labels": ["cells"]}
    group.require_group("labels/cells").attrs["ome"] = {"version": "0.5", "image-label": {"colors": []}}
    issues = ome_issues(image)
    assert ("/labels/cells", "image-label without multiscales: a label image must be a multiscale image") in [
        (i.path, i.message) for i in errors(issues)], _explain(issues)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_rdefs_that_is_no_object_and_rows_that_differ_only_in_case_warn(tmp_path: Path, zarr_format: int) -> None:
    """napari-ome-zarr fails to open an image whose 'rdefs' is no object ('str' object has no
    attribute 'get'), though the spec states no rule for it (an interoperability warning); rows
    'A' and 'a' collide on case-insensitive file systems ("Care SHOULD be taken"); both passed
    silently (audit L, 9)."""
    version = "0.5" if zarr_format == 3 else "0.4"
    attrs = _image_ns(version)
    _namespace(attrs)["omero"]["rdefs"] = ["color"]
    issues = ome_issues(write_image_store(tmp_path / "rdefs.zarr", attrs, zarr_format=zarr_format))
    v5 = "/attributes/ome" if zarr_format == 3 else ""
    assert not errors(issues), _explain(issues)
    assert [(i.pointer, i.rule, i.message) for i in issues if "rdefs" in i.message] == [
        (f"{v5}/omero/rdefs", Rule.INTEROPERABILITY,
         "[interoperability] omero.rdefs is ['color']; napari-ome-zarr fails to open the image unless it is an "
         "object of rendering settings, as in the spec's example ({'defaultZ': 0, 'model': 'color'})")]
    if zarr_format == 2:
        return
    root = tmp_path / "plate.zarr"
    zarr.open_group(root, mode="w", zarr_format=3).attrs["ome"] = {"version": "0.5", "plate": {
        "rows": [{"name": "A"}, {"name": "a"}], "columns": [{"name": "1"}], "wells": []}}
    issues = ome_issues(root)
    assert [(i.severity, i.pointer, i.message) for i in issues if "case" in i.message] == [
        (Severity.WARNING, "/attributes/ome/plate/rows/1",
         "rows 'A' and 'a' differ only in case: they collide on case-insensitive file systems (macOS, Windows)")]


def test_a_huge_axis_name_does_not_make_huge_dimension_messages(tmp_path: Path) -> None:
    """The dimension-conflict warning quoted a 100,000-character axis name in full (audit L, 8)."""
    from zarr_browser.core.conventions import default_registry

    attrs = _image_ns("0.5")
    _ms(attrs)["axes"][0]["name"] = "c" * 100_000
    root = write_image_store(tmp_path / "long.zarr", attrs)
    report = validate_hierarchy(Hierarchy.open(str(root)), default_registry())
    conflicts = [i for i in report.issues if i.convention == "dimensions"]
    assert conflicts and max(len(i.message) for i in report.issues) <= 600, [len(i.message) for i in report.issues]


# -- SHOULD rules and the last rules of audit L, 9 --------------------------------------------


def _v5(zarr_format: int) -> str:
    """The pointer prefix of the OME namespace: ``/attributes/ome`` in zarr.json, nothing in .zattrs."""
    return "/attributes/ome" if zarr_format == 3 else ""


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_axes_without_units_and_space_axes_out_of_zyx_order_warn(tmp_path: Path, zarr_format: int) -> None:
    """Axes "SHOULD contain the field unit"; three space axes "SHOULD be ordered as zyx": both passed
    silently (audit L, 9).  A channel axis has no physical unit, and axes not named z, y, x are not
    judged."""
    version = "0.5" if zarr_format == 3 else "0.4"
    attrs = _image_ns(version)
    _ms(attrs)["axes"] = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"},
                          {"name": "y", "type": "space", "unit": "micrometer"}, {"name": "z", "type": "space"},
                          {"name": "x", "type": "space", "unit": "micrometer"}]
    for dataset in _ms(attrs)["datasets"]:
        for transform in dataset["coordinateTransformations"]:
            transform[transform["type"]] = [1, *transform[transform["type"]][:1], 1, *transform[transform["type"]][1:]]
    shapes = {"0": (1, 1, 8, 8, 8), "1": (1, 1, 8, 4, 4)}
    root = write_image_store(tmp_path / "img.zarr", attrs, zarr_format=zarr_format, shapes=shapes,
                             dimension_names=("t", "c", "y", "z", "x"))
    issues = ome_issues(root)
    assert not errors(issues), _explain(issues)
    assert [(i.severity, i.rule.value, i.pointer, i.message) for i in issues if "unit" in i.message
            or "ordered" in i.message] == [
        (Severity.WARNING, "spec", f"{_v5(zarr_format)}/multiscales/0/axes",
         "axes 't' (time), 'z' (space) have no unit; space and time axes should give their physical unit, such as "
         "'micrometer' or 'second'"),
        (Severity.WARNING, "spec", f"{_v5(zarr_format)}/multiscales/0/axes",
         "the space axes are ordered 'y', 'z', 'x'; three space axes should be ordered 'z', 'y', 'x' (the image "
         "plane 'yx' last): viewers take the last two axes for the plane they show")], _explain(issues)
    # named otherwise, the order says nothing; with units, nothing is missing
    for axis, name in zip(_ms(attrs)["axes"], ("t", "c", "a", "b", "d"), strict=True):
        axis["name"] = name
        axis.setdefault("unit", "second" if name == "t" else None)
    _ms(attrs)["axes"][1].pop("unit")
    _ms(attrs)["axes"][3]["unit"] = "micrometer"
    root = write_image_store(tmp_path / "named.zarr", attrs, zarr_format=zarr_format, shapes=shapes,
                             dimension_names=("t", "c", "a", "b", "d"))
    issues = ome_issues(root)
    assert not [i for i in issues if i.severity is not Severity.INFO], _explain(issues)


@needs_fixtures
def test_an_official_valid_image_without_a_time_unit_warns_and_still_passes(tmp_path: Path) -> None:
    """The 0.4 strict suite's valid image_omero has a time axis 't' without a unit: a warning (a
    SHOULD), and --strict still passes it."""
    suite = json.loads((NGFF / "0.4" / "tests" / "strict_image_suite.json").read_text())
    data = next(case["data"] for case in suite["tests"] if case.get("formerly") == "valid_strict/image_omero.json")
    root = tmp_path / "case.zarr"
    write_ome_group(root, data, zarr_format=2)
    out = io.StringIO()
    assert cli_main(["validate", str(root), "--json", "--strict"], out=out) == 0
    report = json.loads(out.getvalue())
    assert [(i["severity"], i["pointer"], i["message"]) for i in report["issues"] if "unit" in i["message"]] == [
        ("warning", "/multiscales/0/axes", "axis 't' (time) has no unit; space and time axes should give their "
                                           "physical unit, such as 'micrometer' or 'second'")]


def _image_with_labels(root: Path, zarr_format: int, labels: list[str], images: list[str]) -> zarr.Group:
    """An image (0.4 in v2, 0.5 in v3) whose labels group lists *labels* and holds label images *images*."""
    version = "0.5" if zarr_format == 3 else "0.4"
    write_image_store(root, _image_ns(version), zarr_format=zarr_format)
    top = zarr.open_group(root, mode="a", zarr_format=zarr_format)
    group = top.require_group("labels")
    group.attrs.update({"ome": {"version": "0.5", "labels": labels}} if zarr_format == 3 else {"labels": labels})
    for name in images:
        attrs = _label_attrs(source={"image": "../" * (name.count("/") + 2)})
        ms = _ms(attrs)
        if zarr_format == 2:
            ms["version"] = "0.4"
            attrs = {"multiscales": [ms], "image-label": {**attrs["ome"]["image-label"], "version": "0.4"}}
        label = group.require_group(name)
        label.attrs.update(attrs)
        for path, shape in (("0", (64, 64)), ("1", (32, 32))):
            kwargs = {"dimension_names": ("y", "x")} if zarr_format == 3 else {}
            label.create_array(path, shape=shape, dtype="uint32", **kwargs)
    return group


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_label_images_the_labels_group_leaves_out_are_named(tmp_path: Path, zarr_format: int) -> None:
    """"All label images SHOULD be listed" (0.5): a warning.  0.4 says "Unlisted groups MAY be labels",
    but ome-zarr-py and napari-ome-zarr open only the listed ones: an interoperability warning.
    Both passed silently (audit L, 9); label images below an intermediate group count too."""
    root = tmp_path / "img.zarr"
    _image_with_labels(root, zarr_format, ["cells"], ["cells", "nuclei", "deep/membranes"])
    issues = ome_issues(root)
    assert not errors(issues), _explain(issues)
    found = [(i.path, i.pointer, i.rule.value, i.message) for i in issues if "not listed" in i.message]
    if zarr_format == 3:
        assert found == [("/labels", "/attributes/ome/labels", "spec",
                          "label images 'nuclei', 'deep/membranes' under /labels are not listed in labels ['cells']; "
                          "all label images should be listed (readers open only the listed ones)")], _explain(issues)
    else:
        assert found == [("/labels", "/labels", "interoperability",
                          "[interoperability] label images 'nuclei', 'deep/membranes' under /labels are not listed "
                          "in labels ['cells']: 0.4 allows it (\"Unlisted groups MAY be labels\"), but readers "
                          "(ome-zarr-py, napari-ome-zarr) open only the listed ones; add them to labels")], \
            _explain(issues)
    listed = tmp_path / "listed.zarr"
    _image_with_labels(listed, zarr_format, ["cells", "deep/membranes"], ["cells", "deep/membranes"])
    assert not [i for i in ome_issues(listed) if "not listed" in i.message or "intermediate" in i.message]


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_metadata_on_an_intermediate_group_under_labels(tmp_path: Path, zarr_format: int) -> None:
    """"Intermediate groups between labels and the images within it are allowed, but these MUST NOT
    contain metadata" (0.5): an 'ome' object there is an error, other attributes a warning; 0.4's
    layout only says they "currently contain no extra metadata": a warning.  All passed silently
    (audit L, 9)."""
    root = tmp_path / "img.zarr"
    labels = _image_with_labels(root, zarr_format, ["sub/cells"], ["sub/cells"])
    assert not [i for i in ome_issues(root) if i.severity is Severity.WARNING or i.severity is Severity.ERROR], \
        _explain(ome_issues(root))
    labels["sub"].attrs.update({"note": "segmented by hand"})
    issues = ome_issues(root)
    rule = ("0.5 says intermediate groups under labels must not contain metadata" if zarr_format == 3 else
            "the 0.4 layout has intermediate groups under labels contain no metadata")
    where = "/attributes/note" if zarr_format == 3 else "/note"
    assert [(i.severity, i.path, i.pointer, i.message) for i in issues if "intermediate" in i.message] == [
        (Severity.WARNING, "/labels/sub", where, "this group sits between the labels group /labels and the label "
                                                 f"image(s) 'sub/cells' it lists, and has attributes ('note'); {rule}")
    ], _explain(issues)
    if zarr_format == 2:
        return
    labels["sub"].attrs.update({"ome": {"version": "0.5", "note": 1}})
    issues = ome_issues(root)
    assert [(i.path, i.pointer, i.message) for i in errors(issues)] == [
        ("/labels/sub", "/attributes/ome", "this group sits between the labels group /labels and the label image(s) "
                                           "'sub/cells' it lists, and has OME-NGFF metadata ('ome': {'version': "
                                           "'0.5', 'note': 1}); intermediate groups under labels must not contain "
                                           "metadata")], _explain(issues)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_duplicate_property_label_values_warn_and_duplicate_colors_are_errors(tmp_path: Path, zarr_format: int) -> None:
    """The spec says "All the values under the label-value key MUST be unique" of colors (0.4) but
    has no MUST for properties, which describe "the set of unique possible pixel values": a
    duplicate there is a warning (it was an error)."""
    root = tmp_path / "img.zarr"
    labels = _image_with_labels(root, zarr_format, ["cells"], ["cells"])
    attrs = dict(labels["cells"].attrs)
    block = attrs["ome"]["image-label"] if zarr_format == 3 else attrs["image-label"]
    block["properties"] = [{"label-value": 1, "class": "cell"}, {"label-value": 1, "class": "nucleus"}]
    labels["cells"].attrs.update(attrs)
    issues = ome_issues(root)
    assert not errors(issues), _explain(issues)
    assert [(i.severity, i.pointer, i.message) for i in issues if "label-value" in i.message] == [
        (Severity.WARNING, f"{_v5(zarr_format)}/image-label/properties/1/label-value",
         "label-value 1 appears in properties 0 and 1; properties describe the set of unique pixel values, so each "
         "label-value should appear once (ome-zarr-models refuses duplicates)")]
    block["colors"].append({"label-value": 1, "rgba": [0, 255, 0, 255]})
    labels["cells"].attrs.update(attrs)
    assert [(i.pointer, i.message) for i in errors(ome_issues(root))] == [
        (f"{_v5(zarr_format)}/image-label/colors/1/label-value",
         "label-value 1 appears in colors 0 and 1; label-values must be unique")]


@pytest.mark.parametrize("fmt_index", [0, 1], ids=["ome-zarr-0.4", "ome-zarr-0.5"])
def test_a_well_listed_twice_with_different_metadata_is_an_error(tmp_path: Path, fmt_index: int) -> None:
    """Two wells with the same path but different objects passed (identical ones are the schema's
    uniqueItems); a plate lists each well once (audit L, 9)."""
    fmt, zarr_format, _version = _formats()[fmt_index]
    root = tmp_path / "plate.ome.zarr"
    plate = _write_plate(root, fmt, zarr_format)
    attrs = dict(plate.attrs)
    ns = attrs["ome"] if zarr_format == 3 else attrs
    ns["plate"]["wells"].append({"path": "A/1", "rowIndex": 0, "columnIndex": 0, "extra": 1})
    plate.attrs.update(attrs)
    issues = ome_issues(root)
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        (f"{_v5(zarr_format)}/plate/wells/2/path",
         "well path 'A/1' is listed by wells 0 and 2, with different metadata ({'path': 'A/1', 'rowIndex': 0, "
         "'columnIndex': 0} and {'path': 'A/1', 'rowIndex': 0, 'columnIndex': 0, 'extra': 1}); each well must be "
         "listed once")], _explain(issues)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_omero_without_multiscales_warns(tmp_path: Path, zarr_format: int) -> None:
    """A group with omero and no multiscales passed silently; ome-zarr-models and the 0.5 ome_zarr
    schema refuse it, and no reader shows it (audit L, 9)."""
    ns = _namespace(_image_ns("0.5" if zarr_format == 3 else "0.4"))
    root = tmp_path / "omero.zarr"
    group = zarr.open_group(root, mode="w", zarr_format=zarr_format)
    group.attrs.update({"ome": {"version": "0.5", "omero": ns["omero"]}} if zarr_format == 3 else
                       {"omero": ns["omero"]})
    issues = ome_issues(root)
    assert [(i.severity, i.pointer, i.message) for i in issues] == [
        (Severity.WARNING, f"{_v5(zarr_format)}/omero",
         "omero without multiscales: omero describes the channels of an image, but / has no multiscales, so no "
         "reader shows it (ome-zarr-models refuses it); put omero on the image group")], _explain(issues)


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_a_level_with_a_smaller_scale_than_the_previous_one_is_an_error(tmp_path: Path, zarr_format: int) -> None:
    """"The paths MUST be ordered from largest (i.e. highest resolution) to smallest": a level whose
    scale is smaller than the previous level's on an axis has the higher resolution.  Shapes in
    order and scales [1e308, ...] then [1, ...] passed; ome-zarr-models refuses them."""
    attrs = _image_ns("0.5" if zarr_format == 3 else "0.4")
    _ms(attrs)["datasets"][0]["coordinateTransformations"][0]["scale"] = [1, 0.5, 2.0]
    root = write_image_store(tmp_path / "img.zarr", attrs, zarr_format=zarr_format)
    issues = ome_issues(root)
    assert [(i.pointer, i.message) for i in errors(issues)] == [
        (f"{_v5(zarr_format)}/multiscales/0/datasets/1/coordinateTransformations",
         "level '1' has scale [1, 1, 1], smaller than the previous level '0' [1, 0.5, 2] on axis 'x': that level "
         "would have the higher resolution; levels must go from the highest resolution (smallest scale) to the "
         "lowest")], _explain(issues)
    # levels out of order by shape: one error, not a second one for their scales
    attrs = _image_ns("0.5" if zarr_format == 3 else "0.4")
    _ms(attrs)["datasets"][0]["coordinateTransformations"][0]["scale"] = [1, 2.0, 2.0]
    root = write_image_store(tmp_path / "rev.zarr", attrs, zarr_format=zarr_format,
                             shapes={"0": (1, 32, 32), "1": (1, 64, 64)})
    assert [i.message.split(",")[0] for i in errors(ome_issues(root))] == ["level '1' has shape [1"]
