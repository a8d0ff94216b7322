"""The big-group benchmark still runs end to end on a small group (structure only; no timing here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_big_group  # noqa: E402

ARRAYS = 1_500  # over the first pages, so that "List the other N children" lists the rest


@pytest.mark.slow
def test_a_small_run_measures_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tmp_path = tmp_path.resolve()
    results = bench_big_group.main(["--arrays", str(ARRAYS), "--runs", "1", "--layouts", "v3,v2-consolidated",
                                    "--data", str(tmp_path), "--timeout", "120"])
    assert set(results) == {"v3", "v2-consolidated"}
    for layout, runs in results.items():
        [(ours, members)] = runs
        assert set(bench_big_group.WINDOW_KEYS) <= set(ours), layout
        assert set(bench_big_group.MEMBERS_KEYS) <= set(members), layout
        assert ours["rows"] == ours["clear_rows"] == members["members"] == ARRAYS, layout
        assert ours["current"] == f"/a{ARRAYS - 1}" and ours["filter_rows"] == 1, layout
    printed = capsys.readouterr().out
    assert "| measure | target | v3 | v2-consolidated |" in printed
    assert "all rows: ours / members()" in printed

    # a second build reuses the stores
    again = bench_big_group.build(tmp_path, ARRAYS, ["v3", "v2-consolidated"], log=lambda _: None)
    assert {layout: path for layout, (path, _stamp) in again.items()} == {
        "v3": tmp_path / str(ARRAYS) / "v3.zarr", "v2-consolidated": tmp_path / str(ARRAYS) / "v2-consolidated.zarr"}
