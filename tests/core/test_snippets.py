"""Copy-as-code snippets: executed against real stores, they open the node they name."""

from __future__ import annotations

import ast
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from zarr.storage import ZipStore

from zarr_browser.core.conventions import Detection, default_registry
from zarr_browser.core.hierarchy import Hierarchy
from zarr_browser.core.snippets import node_url, snippets
from zarr_browser.errors import NodeNotFoundError


def _run(code: str) -> dict[str, Any]:
    """Execute a snippet as a script; returns its globals."""
    ast.parse(code)  # a syntax error fails here with a clear message
    namespace: dict[str, Any] = {"__name__": "__snippet__"}
    exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace


def _snippets_for(url: str, path: str, storage_options: dict[str, Any] | None = None) -> dict[str, str]:
    registry = default_registry()
    hierarchy = Hierarchy.open(url, storage_options=storage_options)
    node = hierarchy.node(path)
    return snippets(url, path, node, registry.detect(node), storage_options,
                    root_implicit=not hierarchy.root.documents)


def test_zarr_snippets_open_groups_and_arrays(tmp_path: Path, zarr_stores: Any, capsys: pytest.CaptureFixture) -> None:
    store = tmp_path / "sample.zarr"
    tree = zarr_stores.sample(str(store), 3)

    group_code = _snippets_for(str(store), "/nested/deeper")["zarr-python"]
    assert 'mode="r"' in group_code
    ns = _run(group_code)
    assert ns["group"].attrs["level"] == 2
    assert sorted(ns["group"].keys()) == ["values"]

    array_code = _snippets_for(str(store), "/nested/deeper/values")["zarr-python"]
    ns = _run(array_code)
    np.testing.assert_array_equal(ns["data"], tree.arrays["/nested/deeper/values"])
    assert ns["array"].read_only

    root_code = _snippets_for(str(store), "/")["zarr-python"]
    assert "path=" not in root_code
    assert _run(root_code)["group"].attrs["title"] == "sample"


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_snippet_opens_a_node_inside_a_zip(tmp_path: Path, zarr_stores: Any, zarr_format: int) -> None:
    path = tmp_path / "sample.zip"
    with ZipStore(path, mode="w") as zip_store:
        tree = zarr_stores.sample(zip_store, zarr_format)
    code = _snippets_for(str(path), "/labels/mask")["zarr-python"]
    assert "ZipStore" in code
    ns = _run(code)
    np.testing.assert_array_equal(ns["data"], tree.arrays["/labels/mask"])


def test_zarr_snippet_passes_storage_options_over_http(http_server: Any, zarr_stores: Any) -> None:
    root = Path(http_server.root) / "sample.zarr"
    tree = zarr_stores.sample(str(root), 2, consolidate=True)
    url = http_server.url_for("sample.zarr")
    options = {"headers": {"X-Zarr-Browser": "snippet"}}
    code = _snippets_for(url, "/raw", storage_options=options)["zarr-python"]
    assert "storage_options = {'headers': {'X-Zarr-Browser': 'snippet'}}" in code
    np.testing.assert_array_equal(_run(code)["data"], tree.arrays["/raw"])


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_snippet_opens_a_node_inside_a_zip_on_a_web_server(http_server: Any, zarr_stores: Any,
                                                                 zarr_format: int) -> None:
    with ZipStore(Path(http_server.root) / "sample.zarr.zip", mode="w") as zip_store:
        tree = zarr_stores.sample(zip_store, zarr_format)
    url = http_server.url_for("sample.zarr.zip")
    code = _snippets_for(url, "/labels/mask")["zarr-python"]
    assert f"FsspecStore.from_url('zip::{url}'" in code  # read in place, with range requests
    assert "zarr.open_array(store, path='labels/mask'" in code
    np.testing.assert_array_equal(_run(code)["data"], tree.arrays["/labels/mask"])
    options = {"headers": {"X-Zarr-Browser": "snippet"}}
    code = _snippets_for(url, "/nested/deeper", storage_options=options)["zarr-python"]
    assert "storage_options = {'http': {'headers': {'X-Zarr-Browser': 'snippet'}}}" in code  # keyed by protocol
    assert _run(code)["group"].attrs["level"] == 2


def test_snippets_open_a_node_inside_a_zip_in_a_bucket(s3_server: Any, tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    folder = tmp_path / "upload"
    folder.mkdir()
    ds = _xarray_dataset(tmp_path / "model.zarr", 3)
    with ZipStore(folder / "model.zarr.zip", mode="w") as zip_store, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v3 consolidated metadata is not in the spec (yet)
        ds.to_zarr(zip_store, group="model/run1", zarr_format=3, consolidated=True)
    bucket = s3_server.new_bucket()
    s3_server.upload_tree(folder, bucket)
    url = f"s3://{bucket}/model.zarr.zip"
    codes = _snippets_for(url, "/model/run1/temperature", storage_options=s3_server.storage_options)
    assert "storage_options = {'s3': {'endpoint_url'" in codes["zarr-python"]
    np.testing.assert_array_equal(_run(codes["zarr-python"])["data"], ds["temperature"].values)
    xr.testing.assert_equal(_run(codes["xarray"])["da"].load(), ds["temperature"])


def _xarray_dataset(path: Path, zarr_format: int) -> Any:
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset(
        {"temperature": (("time", "lat"), np.arange(12, dtype="float32").reshape(3, 4))},
        coords={"time": np.arange(3), "lat": np.linspace(-45, 45, 4)},
        attrs={"title": "snippet test"},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, group="model/run1", zarr_format=zarr_format, consolidated=True)
    return ds


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_xarray_snippets_open_datasets_and_variables(tmp_path: Path, zarr_format: int) -> None:
    store = tmp_path / "model.zarr"
    expected = _xarray_dataset(store, zarr_format)

    variable = _snippets_for(str(store), "/model/run1/temperature")
    assert "xarray" in variable
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ns = _run(variable["xarray"])
    assert ns["da"].dims == ("time", "lat")
    np.testing.assert_array_equal(ns["da"].values, expected["temperature"].values)

    # a sub-group's dataset detection needs its consolidated copy, which lives at the root; the
    # detection is what decides, so give it directly
    hierarchy = Hierarchy.open(str(store))
    group = hierarchy.node("/model/run1")
    code = snippets(str(store), "/model/run1", group, [Detection("xarray", None, ("dataset",))])["xarray"]
    assert "group='model/run1'" in code
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ns = _run(code)
    assert ns["ds"].attrs["title"] == "snippet test"
    assert set(ns["ds"].data_vars) == {"temperature"}


def test_xarray_snippet_for_a_consolidated_root_dataset(tmp_path: Path) -> None:
    xr = pytest.importorskip("xarray")
    store = tmp_path / "flat.zarr"
    ds = xr.Dataset({"t": (("x",), np.arange(5.0))}, attrs={"title": "flat"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(store, zarr_format=2, consolidated=True)
    code = _snippets_for(str(store), "/")
    assert "xarray" in code, "a consolidated xarray root is an xarray dataset"
    assert "group=" not in code["xarray"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _run(code["xarray"])["ds"].attrs["title"] == "flat"


def test_plain_zarr_gets_no_xarray_or_napari_snippet(tmp_path: Path, zarr_stores: Any) -> None:
    store = tmp_path / "sample.zarr"
    zarr_stores.sample(str(store), 3)
    assert set(_snippets_for(str(store), "/labels")) == {"zarr-python"}


def test_ome_images_get_napari_and_ome_zarr_snippets(tmp_path: Path) -> None:
    from zarr_browser.demo import write_demo

    demo = write_demo(tmp_path / "demo", size=256)
    cells = str(demo.root / "cells.ome.zarr")
    code = _snippets_for(cells, "/")
    assert list(code) == ["zarr-python", "napari", "ome-zarr-py"]
    assert f"viewer.open({cells!r}, plugin=\"zarr-browser\")" in code["napari"]
    labels = _snippets_for(cells, "/labels/nuclei")
    assert node_url(cells, "/labels/nuclei") in labels["napari"]
    pytest.importorskip("ome_zarr")
    ns = _run(code["ome-zarr-py"])
    assert ns["pyramid"][0].shape == (3, 256, 256)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_xarray_snippet_opens_a_dataset_in_a_folder_of_stores(tmp_path: Path, zarr_stores: Any) -> None:
    """The demo: a folder (no metadata of its own) holding climate.zarr; xarray's group= below a
    root that is no group raised GroupNotFoundError."""
    from zarr_browser.demo import write_demo

    demo = write_demo(tmp_path / "demo", size=64)
    archive = shutil.make_archive(str(tmp_path / "demo"), "zip", root_dir=demo.root)
    for store in (str(demo.root), archive):
        codes = _snippets_for(store, "/climate.zarr/temperature")
        assert _run(codes["xarray"])["da"].dims == ("time", "lat", "lon"), store
        assert "napari" in codes  # our reader shows an xarray variable
    # a plain 2-D array gets a napari snippet too; a 1-D one does not
    zarr_stores.sample(str(tmp_path / "plain.zarr"), 3)
    assert "napari" in _snippets_for(str(tmp_path / "plain.zarr"), "/raw")


def test_storage_options_are_not_written_for_local_paths(tmp_path: Path, zarr_stores: Any) -> None:
    store = tmp_path / "sample.zarr"
    zarr_stores.sample(str(store), 2)
    code = _snippets_for(str(store), "/raw", storage_options={"anon": True})["zarr-python"]
    assert "storage_options=" not in code and "anon" not in code
    assert _run(code)["array"].shape == (4, 6)


def test_error_nodes_get_no_snippets(tmp_path: Path, zarr_stores: Any) -> None:
    store = tmp_path / "sample.zarr"
    zarr_stores.sample(str(store), 3)
    (store / "raw" / "zarr.json").write_text("{not json")
    assert _snippets_for(str(store), "/raw") == {}


def test_node_url_of_a_member_of_a_zip_is_fsspecs_chain_that_opens_it(tmp_path: Path, zarr_stores: Any,
                                                                       http_server: Any) -> None:
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.enclosing import open_enclosing

    assert node_url("/data/x.zip", "/") == "/data/x.zip"
    assert node_url("/data/x.zip", "/labels/mask") == "zip://labels/mask::/data/x.zip"
    assert node_url("https://h/x.ozx", "/0") == "zip://0::https://h/x.ozx"
    path = tmp_path / "sample.zip"
    with ZipStore(path, mode="w") as zip_store:
        zarr_stores.sample(zip_store, 3)
    with ZipStore(Path(http_server.root) / "sample.zip", mode="w") as zip_store:
        zarr_stores.sample(zip_store, 2)
    for store in (str(path), http_server.url_for("sample.zip")):
        # what Copy URL gives opens the archive, at the node (the window, napari, --napari)
        hierarchy, inner = open_enclosing(node_url(store, "/labels/mask"), default_registry())
        assert (hierarchy.url, inner) == (store, "/labels/mask") and hierarchy.node(inner).is_array
        # and so does a path through the archive
        hierarchy, inner = open_enclosing(store + "/labels", default_registry())
        assert (hierarchy.url, inner) == (store, "/labels") and hierarchy.node(inner).is_group
        with pytest.raises(NodeNotFoundError, match=r"/labels/nothing"):
            open_enclosing(node_url(store, "/labels/nothing"), default_registry())


def test_node_url() -> None:
    assert node_url("s3://bucket/x.zarr/", "/a/b") == "s3://bucket/x.zarr/a/b"
    assert node_url("/data/x.zarr", "/") == "/data/x.zarr"
    assert node_url("/data/x.zarr", "/a/0") == str(Path("/data/x.zarr") / "a" / "0")


def test_snippets_with_credentials_say_so() -> None:
    from zarr_browser.core.model import Node
    from zarr_browser.core.snippets import snippets

    node = Node("/a", "array", 3)
    code = snippets("s3://bucket/x.zarr", "/a", node, (), {"key": "AKIA", "secret": "s3cr3t"})["zarr-python"]
    assert "hold credentials: do not share" in code and code.index("do not share") < code.index("s3cr3t")
    public = snippets("s3://bucket/x.zarr", "/a", node, (), {"anon": True})["zarr-python"]
    assert "do not share" not in public
