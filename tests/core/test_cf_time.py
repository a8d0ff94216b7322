"""CF time units: what validation says xarray decodes, against what xarray decodes.

The sweep asks xarray itself (``decode_cf`` on a two-value variable, the decoding ``open_zarr``
applies) for every units string in every calendar: it refuses exactly where validation says it
refuses to open the dataset, and decodes everything else.  Stores written by xarray check the
issues themselves.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import zarr
from validating import validate_with  # tests/validating.py

from zarr_browser.core.conventions.cf import CfConvention
from zarr_browser.core.conventions.cf_time import time_units_problem
from zarr_browser.core.conventions.xarray_dims import XarrayConvention
from zarr_browser.core.issues import Severity

xr = pytest.importorskip("xarray")

CALENDARS = [None, "standard", "gregorian", "proleptic_gregorian", "julian", "noleap", "365_day", "all_leap",
             "366_day", "360_day", "NoLeap"]

# the audit's sweep (time units seen in real files), then the units, date forms and fields around
# each rule of cf_time's docstring
UNITS = [
    "hours since 1800-01-01 00:00:0.0", "days since 1800-1-1 00:00:0.0", "seconds since 1970-01-01T00:00:00.000000Z",
    "days since 1970-01-01 00:00:00 GMT", "hours since 1900-01-01 00:00:00.0 +00:00",
    "seconds since 1970-01-01 00:00:00.0 0:00", "days since 2000-01-01 24:00:00", "hours since 2000-01-01 00:00:60",
    "days since 2000-01-01 12", "days since 2000-01", "days since 2000", "months since 2000-01-01",
    "years since 2000-01-01", "weeks since 2000-01-01", "ns since 2000-01-01", "common_years since 2000-01-01",
    "d since 2000-01-01", "sec since 2000-01-01", "us since 2000-01-01", "usec since 2000-01-01",
    "microsecond since 2000-01-01", "day since 2000-01-01", "days since 2000-01-01T00:00:00+01",
    "days since 2000-01-01 00:00:00 UTC+1", "days since 2000-01-01T00Z", "days  since  2000-01-01",
    "DAYS SINCE 2000-01-01", "days since 10000-01-01",
    # units
    "Days since 2000-01-01", "MS since 2000-01-01", "msecs since 2000-01-01", "microsecs since 2000-01-01",
    "hrs since 2000-01-01", "h since 2000-01-01", "mins since 2000-01-01", "s since 2000-01-01",
    "month since 2000-01-01", "common_year since 2000-01-01", "year since 2000-01-01",
    "nanoseconds since 2000-01-01", "nanosecond since 1970-01-01T00:00:00.000000001", "fortnights since 2000-01-01",
    "days since", "mean days since 2000-01-01",
    # date forms
    "days since 1-1-1", "days since 2000-1", "days since 20000101", "days since 1500", "days since 2300-01",
    "days since 1700", "days since 2000-01-01 garbage", "days since 2000-01-01 UTC", "days since 2000-01-01 24",
    "days since 2000-01-01 00:00:00 -05:00", "days since 2000-01-01T00:00:00.123456789", "days since 2000-01-01 1:2:3",
    "days since 100000-01-01", "days since -4713-01-01",
    "nanoseconds since 2000", "nanoseconds since 2000-01", "nanoseconds since 20000101",
    "nanoseconds since 2000-01-01 00:00:00 GMT", "nanoseconds since 2000-01-01T12", "nanoseconds since 2000-1-1 1:00",
    "nanoseconds since 2000-01-01T00:00:00+01",
    "nanoseconds since 1500-01-01", "nanoseconds since 2300-01-01", "nanoseconds since 1677-09-22",
    "nanoseconds since 2000-02-30",
    # fields
    "days since 2000-13-01", "days since 2000-00-01", "days since 2000-01-00", "days since 2000-02-29",
    "days since 2001-02-29", "days since 2000-02-30", "days since 2000-12-31", "days since 2000-01-01 00:60:00",
    "days since 2000-01-01 23:59:59.999999", "days since 0000-01-01", "days since -0001-02-29",
    "days since -0002-02-29", "days since 1500-02-29", "days since 1700-02-29", "days since 1582-10-04",
    "days since 1582-10-05", "days since 1582-10-14", "days since 1582-10-15",
]

# forms only pandas' lenient parser may read (in the standard calendars): a warning, not an error
UNSURE = ["days since Jan 1 2000", "days since 2000/01/01", "days since yesterday", "nanoseconds since 1-1-1",
          "nanoseconds since 2000-01-01 UTC", "nanoseconds since 2000-01-01 1"]


def _xarray_decodes(units: str, calendar: str | None) -> bool:
    attrs = {"units": units} | ({"calendar": calendar} if calendar else {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cftime objects instead of datetime64, ambiguous years
        try:
            return xr.decode_cf(xr.Dataset({"t": ("t", np.array([0, 1]), attrs)}))["t"].values.size == 2
        except (ValueError, TypeError):
            return False


@pytest.mark.parametrize("units", UNITS)
def test_validation_refuses_the_time_units_xarray_refuses(units: str) -> None:
    """Audit D, finding 4: units, date forms and fields that depend on the calendar."""
    differ = []
    for calendar in CALENDARS:
        truth = _xarray_decodes(units, calendar)
        problem = time_units_problem(units, calendar) if "since" in units else None  # else: no times
        assert problem is None or problem.refused, (calendar, problem)  # the sweep holds no unsure case
        if truth != (problem is None):
            differ.append((calendar, "decodes" if truth else "refuses", problem))
    assert differ == []


@pytest.mark.parametrize("units", UNSURE)
def test_dates_only_pandas_may_read_are_a_warning_in_the_standard_calendars(units: str) -> None:
    standard = time_units_problem(units, "standard")
    assert standard is not None and not standard.refused and "pandas" in standard.reason
    noleap = time_units_problem(units, "noleap")  # cftime alone: it surely refuses
    assert noleap is not None and noleap.refused and not _xarray_decodes(units, "noleap")


def _check(path: Path) -> dict[str, list]:  # type: ignore[type-arg]
    _, report, _ = validate_with(path, [XarrayConvention(), CfConvention()], keep=("cf",))
    return report.by_node()


def _time_store(path: Path, units: str, calendar: str | None) -> Path:
    """A dataset as xarray writes it, whose time units are then edited (as another tool would)."""
    xr.Dataset({"v": (("time",), np.arange(3.0))},
               coords={"time": ("time", np.arange(3), {"units": "days since 2000-01-01", "calendar": "noleap"})}
               ).to_zarr(path, zarr_format=3, mode="w", consolidated=False)
    attrs = zarr.open_group(path, mode="r+")["time"].attrs
    attrs["units"] = units
    if calendar is None:
        del attrs["calendar"]
    else:
        attrs["calendar"] = calendar
    return path


@pytest.mark.parametrize(("units", "calendar", "opens", "fragment"), [
    ("days since 2000", None, True, None),  # pandas reads a bare year
    ("days since 2000", "noleap", False, "'2000' has no month and day: cftime reads year-month-day"),
    ("days since 1970-01-01 00:00:00 GMT", "360_day", True, None),
    ("days since 2000-01-01 24:00:00", None, False, "hour 24 in '2000-01-01 24:00:00' is outside 0..23"),
    ("hours since 2000-01-01 00:00:60", "julian", False, "second 60 in '2000-01-01 00:00:60' is outside 0..59"),
    ("months since 2000-01-01", "standard", False, "'months since' is read in the 360_day calendar only"),
    ("months since 2000-01-01", "360_day", True, None),
    ("weeks since 2000-01-01", "360_day", False, "'weeks' is not a time unit xarray reads (days, hours"),
    ("nanoseconds since 2000-01-01", "noleap", False, "'nanoseconds' is read in the standard calendars only"),
    ("nanoseconds since 1970-01-01", "proleptic_gregorian", True, None),
    ("days since 2000-02-30", None, False, "'2000-02-30' is not a date of the calendar 'standard'"),
])
def test_time_units_xarray_cannot_decode_are_errors(tmp_path: Path, units: str, calendar: str | None, opens: bool,
                                                      fragment: str | None) -> None:
    """The error says that xarray refuses to open the dataset, as it does (open_zarr raises)."""
    path = _time_store(tmp_path / "t.zarr", units, calendar)
    if opens:
        assert xr.open_zarr(path, consolidated=False)["time"].dtype.kind in "MO"  # datetime64 or cftime
    else:
        with pytest.raises(ValueError, match="unable to decode time units"):
            xr.open_zarr(path, consolidated=False)
    issues = [i for i in _check(path).get("/time", []) if i.pointer.endswith("/units")]
    if opens:
        assert issues == []
    else:
        [issue] = issues
        assert issue.severity is Severity.ERROR and fragment in issue.message
        assert issue.message.endswith("xarray cannot decode these times and refuses to open the dataset")


def test_a_date_only_pandas_may_read_is_a_warning(tmp_path: Path) -> None:
    path = _time_store(tmp_path / "t.zarr", "days since Jan 1 2000", "standard")
    assert str(xr.open_zarr(path, consolidated=False)["time"].values[0]).startswith("2000-01-01")  # pandas: yes
    [issue] = [i for i in _check(path)["/time"] if i.pointer.endswith("/units")]
    assert issue.severity is Severity.WARNING
    assert "may still read it through pandas in the 'standard' calendar, but cftime and netCDF" in issue.message


def test_upper_case_since_leaves_numbers_and_is_a_warning(tmp_path: Path) -> None:
    """xarray decodes times only for units containing 'since' in lower case."""
    path = _time_store(tmp_path / "t.zarr", "days SINCE 2000-01-01", "noleap")
    assert xr.open_zarr(path, consolidated=False)["time"].dtype.kind == "i"  # numbers, not times
    [issue] = [i for i in _check(path)["/time"] if i.pointer.endswith("/units")]
    assert issue.severity is Severity.WARNING
    assert "xarray leaves these values as numbers" in issue.message and "'days since 2000-01-01'" in issue.message
