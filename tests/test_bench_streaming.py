"""The streaming benchmark's data builder writes valid OME-Zarr (quick sizes; no timing here)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import zarr

from zarr_browser.cli import main

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import streaming_data  # noqa: E402


def _info(path: Path) -> dict:
    out = io.StringIO()
    assert main(["info", str(path), "--json", "--depth", "0"], out=out) == 0
    return json.loads(out.getvalue())["nodes"][0]


def test_quick_data_is_valid_ome(tmp_path: Path) -> None:
    data = streaming_data.build(tmp_path, streaming_data.QUICK, log=lambda _: None)
    expected = {"image-v04.ome.zarr": ("0.4", "image"), "image-v05.ome.zarr": ("0.5", "image"),
                "image-v05-sharded.ome.zarr": ("0.5", "image"), "volume-v05.ome.zarr": ("0.5", "image"),
                "huge-v05.ome.zarr": ("0.5", "image"), "plate8-v04.ome.zarr": ("0.4", "plate"),
                "plate24-v04.ome.zarr": ("0.4", "plate")}
    assert set(data.paths) == set(expected)
    for name, (version, role) in expected.items():
        out = io.StringIO()
        code = main(["validate", str(data[name]), "--json"], out=out)
        payload = json.loads(out.getvalue())
        assert code == 0 and payload["errors"] == 0, (name, payload["issues"])
        ome = [c for c in _info(data[name])["conventions"] if c["name"] == "ome-ngff"]
        assert ome and ome[0]["version"] == version and role in ome[0]["roles"], (name, ome)

    # the three image stores hold the same microscopy-like pixels; the huge level has ≥ 1M chunks
    levels = [zarr.open_array(str(data[name] / "1"), mode="r")[0]
              for name in ("image-v04.ome.zarr", "image-v05.ome.zarr", "image-v05-sharded.ome.zarr")]
    assert all(np.array_equal(levels[0], other) for other in levels[1:])
    assert levels[0].dtype == np.uint16 and levels[0].min() > 50 and levels[0].std() > 50
    huge = zarr.open_array(str(data["huge-v05.ome.zarr"] / "0"), mode="r")
    assert huge.nchunks >= 1_000_000

    # a second build reuses the stores
    again = streaming_data.build(tmp_path, streaming_data.QUICK, log=lambda _: None)
    assert again.paths == data.paths
