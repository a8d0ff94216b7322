"""Which CF time units xarray decodes, calendar by calendar, without importing its readers.

xarray decodes a variable as times when its ``units`` contain ``since`` (in lower case), and
refuses to open the dataset when it cannot.  In the standard calendars (``standard``,
``gregorian``, ``proleptic_gregorian``, or no calendar) it tries pandas first and cftime when
pandas fails; in the others it uses cftime alone.  So the units and dates it reads depend on the
calendar:

* cftime reads ``days``, ``hours``, ``minutes``, ``seconds``, ``milliseconds`` and
  ``microseconds`` (with its abbreviations: ``d``, ``hr``, ``min``, ``sec``, ``ms``, ``msec``,
  ``microsec``…, not ``us``, ``usec`` or ``ns``), ``months`` in the 360_day calendar only and
  ``common_years`` in noleap/365_day only; never ``weeks`` or ``years``.  Its dates are
  year-month-day with an optional time (hours and minutes together) and UTC offset; whatever
  follows is ignored (``2000-01-01 00:00:00 GMT``), a bare year or year-month is refused.  Every
  field must exist in the calendar: hour 24, second 60, 30 February (outside 360_day), year 0 in
  the standard and julian calendars, and 5 to 14 October 1582 in the standard one are refused.
* pandas (standard calendars only) also reads ``nanoseconds``, and dates that cftime does not
  (``2000``, ``2000-01``, ``20000101``), but only between 1677-09-21 and 2262-04-11, the range of
  its nanosecond timestamps.

This follows xarray 2026.9 with pandas 2.3 and cftime 1.6.  pandas parses many more date forms
than those modelled here (``Jan 1 2000``); where it might, the verdict is uncertain rather than a
refusal.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

__all__ = ["TimeUnitsProblem", "time_units_problem"]

STANDARD_CALENDARS = frozenset({"standard", "gregorian", "proleptic_gregorian"})
"""Calendars in which xarray tries pandas before cftime."""

_CFTIME_UNITS = frozenset({
    "microseconds", "microsecond", "microsec", "microsecs",
    "milliseconds", "millisecond", "millisec", "millisecs", "msec", "msecs", "ms",
    "second", "seconds", "sec", "secs", "s",
    "minute", "minutes", "min", "mins",
    "hour", "hours", "hr", "hrs", "h",
    "day", "days", "d",
})
"""cftime's units in every calendar (``cftime._cftime._units``)."""
_MONTH_UNITS = frozenset({"month", "months"})  # cftime: 360_day only
_YEAR_UNITS = frozenset({"common_year", "common_years"})  # cftime: noleap and 365_day only
_PANDAS_UNITS = frozenset({"nanoseconds", "microseconds", "milliseconds", "seconds", "minutes", "hours", "days"})
"""xarray's pandas units, after it lower-cases the unit and appends a missing final 's'."""

# cftime's own expression (cftime._cftime.ISO8601_REGEX), matched at the start of the date only
_CFTIME_DATE = re.compile(
    r"(?P<year>[+-]?[0-9]+)(-(?P<month>[0-9]{1,2})(-(?P<day>[0-9]{1,2})"
    r"(((?P<separator1>.)(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{1,2})"
    r"(:(?P<second>[0-9]{1,2})(\.(?P<fraction>[0-9]+))?)?)?"
    r"((?P<separator2>.?)(?P<timezone>Z|(([-+])([0-9]{2})((:([0-9]{2}))|([0-9]{2}))?)))?)?)?)?"
)
# the ISO forms pandas certainly reads (it reads more: dateutil's); a UTC offset only after a time
_PANDAS_DATE = re.compile(
    r"^(?:(?P<compact>\d{8})|(?P<year>\d{4})(?:-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2})(?:[T ](?:(?P<hour_only>\d{2})"
    r"|(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"\s*(?:Z|UTC|GMT|(?P<sign>[+-])(?P<tzh>\d{2})(?::?(?P<tzm>\d{2}))?)?))?)?)?)$"
)
_NS_FIRST = datetime.datetime(1677, 9, 21, 0, 12, 44)  # pandas' nanosecond range, to the second
_NS_LAST = datetime.datetime(2262, 4, 11, 23, 47, 16)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December")


@dataclass(frozen=True, slots=True)
class TimeUnitsProblem:
    """Why xarray cannot decode some time units: *refused* when it surely refuses to open the
    dataset, False when it may still read them (pandas reads more date forms than modelled)."""

    reason: str
    refused: bool = True


def time_units_problem(units: str, calendar: str | None) -> TimeUnitsProblem | None:
    """Why xarray cannot decode times with *units* in *calendar* (None: 'standard'), or None.

    *units* are units xarray decodes as times (they contain 'since').  A calendar xarray does
    not know is judged as 'standard' here; the calendar itself is reported by the caller.
    """
    parts = units.split(None, 2)
    if len(parts) < 3 or parts[1].lower() != "since":
        return TimeUnitsProblem("it does not read '<unit> since <date>'")
    unit, date = parts[0].lower(), parts[2].strip()
    name = (calendar or "standard").lower()
    if name not in STANDARD_CALENDARS | {"julian", "noleap", "365_day", "all_leap", "366_day", "360_day"}:
        name = "standard"
    standard = name in STANDARD_CALENDARS
    cftime_units = _CFTIME_UNITS | (_MONTH_UNITS if name == "360_day" else set()) | (
        _YEAR_UNITS if name in ("noleap", "365_day") else set())
    pandas_unit = standard and (unit if unit.endswith("s") else unit + "s") in _PANDAS_UNITS
    if unit not in cftime_units and not pandas_unit:
        return TimeUnitsProblem(_unit_problem(unit, name, standard))
    cftime_problem, form = _cftime_date_problem(date, name) if unit in cftime_units else (None, True)
    if unit in cftime_units and cftime_problem is None:
        return None
    if not pandas_unit or not form:  # cftime's verdict is final: a field pandas would refuse too
        return TimeUnitsProblem(cftime_problem or "")
    modelled, pandas = _pandas_problem(date)
    if modelled and pandas is None:
        return None
    if unit not in cftime_units:  # nanoseconds: pandas only
        if not modelled:
            return TimeUnitsProblem(f"xarray reads {unit} through pandas only, which may not read {date!r} (write a "
                                    "date such as 2000-01-01T00:00:00)", refused=False)
        return TimeUnitsProblem(f"xarray reads {unit} through pandas only, which {pandas}")
    if not modelled:
        return TimeUnitsProblem(f"{cftime_problem}; xarray may still read it through pandas in the {name!r} "
                                "calendar, but cftime and netCDF readers cannot", refused=False)
    return TimeUnitsProblem(f"{cftime_problem}; pandas, which reads such dates in the {name!r} calendar, {pandas}")


def _unit_problem(unit: str, calendar: str, standard: bool) -> str:
    if unit in _MONTH_UNITS:
        return f"'{unit} since' is read in the 360_day calendar only (a month has no fixed length elsewhere)"
    if unit in _YEAR_UNITS:
        return f"'{unit} since' is read in the noleap and 365_day calendars only"
    if unit in ("year", "years"):
        return f"{unit!r} is not a time unit xarray reads: a year has no fixed length (write days)"
    if unit in ("nanoseconds", "nanosecond"):
        return (f"{unit!r} is read in the standard calendars only (through pandas): cftime, which decodes the "
                f"{calendar!r} calendar, reads microseconds at the finest")
    known = "days, hours, minutes, seconds, milliseconds, microseconds" + (", nanoseconds" if standard else "")
    if calendar == "360_day":
        known += ", months"
    elif calendar in ("noleap", "365_day"):
        known += ", common_years"
    return f"{unit!r} is not a time unit xarray reads ({known})"


def _cftime_date_problem(date: str, calendar: str) -> tuple[str | None, bool]:
    """Why cftime refuses the reference *date* in *calendar* (or None), and whether that is for
    its form (pandas may read it) rather than for a field that does not exist."""
    match = _CFTIME_DATE.match(date)
    if match is None:
        return f"{date!r} is not a date such as 2000-01-01 or 2000-01-01T00:00:00Z", True
    fields = match.groupdict()
    if fields["month"] is None or fields["day"] is None:
        missing = "month and day" if fields["month"] is None else "day"
        year = fields["year"] if len(fields["year"]) <= 5 else "2000"
        return f"{date!r} has no {missing}: cftime reads year-month-day (such as {year}-01-01)", True
    year, month, day = int(fields["year"]), int(fields["month"]), int(fields["day"])
    year_zero = calendar not in ("standard", "gregorian", "julian")
    if year == 0 and not year_zero:
        return f"year 0 in {date!r} does not exist in the {calendar!r} calendar (the year before 1 is -1)", False
    if not 1 <= month <= 12:
        return f"month {month} in {date!r} is outside 1..12", False
    days = _month_days(year, month, calendar, year_zero)
    if not 1 <= day <= days:
        return (f"{date!r} is not a date of the calendar {calendar!r} ({_MONTH_NAMES[month - 1]} has {days} days "
                "there)"), False
    if calendar in ("standard", "gregorian") and (year, month) == (1582, 10) and 4 < day < 15:
        return (f"{date!r} is not a date of the calendar {calendar!r} (it goes from 4 to 15 October 1582; "
                "proleptic_gregorian has every day)"), False
    for field, high, hint in (("hour", 23, "write 00 of the next day"), ("minute", 59, ""),
                              ("second", 59, "leap seconds are not read")):
        text = fields[field]
        if text is not None and int(text) > high:
            return f"{field} {int(text)} in {date!r} is outside 0..{high}" + (f" ({hint})" if hint else ""), False
    return None, False


def _month_days(year: int, month: int, calendar: str, year_zero: bool) -> int:
    """The days of *month* in *year* of *calendar*, as cftime counts them."""
    if calendar == "360_day":
        return 30
    if calendar in ("all_leap", "366_day"):
        leap = True
    elif calendar in ("noleap", "365_day"):
        leap = False
    else:
        shifted = year + 1 if year < 0 and not year_zero else year  # no year 0: 1 BC (-1) is a leap year
        if calendar == "julian" or (calendar != "proleptic_gregorian" and year < 1582):
            leap = shifted % 4 == 0
        else:
            leap = shifted % 4 == 0 and (shifted % 100 != 0 or shifted % 400 == 0)
    return 29 if month == 2 and leap else _MONTH_DAYS[month - 1]


def _pandas_problem(date: str) -> tuple[bool, str | None]:
    """Whether the reference *date* has a form modelled here, and if so why pandas (through
    xarray) cannot read it, or None when it can."""
    match = _PANDAS_DATE.match(date)
    if match is None:
        return False, None
    fields = match.groupdict()
    if fields["compact"]:
        text = fields["compact"]
        fields.update(year=text[:4], month=text[4:6], day=text[6:])
    fields["hour"] = fields["hour"] or fields["hour_only"]
    try:
        year, month, day, hour, minute, second = (int(fields[k] or default) for k, default in (
            ("year", 1), ("month", 1), ("day", 1), ("hour", 0), ("minute", 0), ("second", 0)))
        when = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return True, f"cannot read {date!r} either (no such day or time)"
    if fields["sign"]:
        offset = datetime.timedelta(hours=int(fields["tzh"]), minutes=int(fields["tzm"] or 0))
        when = when - offset if fields["sign"] == "+" else when + offset
    if not _NS_FIRST <= when <= _NS_LAST:
        return True, f"reads dates only between 1677-09-21 and 2262-04-11 (its nanosecond timestamps), not {date!r}"
    return True, None
