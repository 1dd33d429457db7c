"""Template functions for time arithmetic, as a Go programmer writes it with ``time``.

* ``addDate TIME YEARS MONTHS DAYS`` (ints): Go's ``t.AddDate(years, months, days)``,
  normalised as Go does (October 31st + 1 month is December 1st):
  ``addDate "2026-11-20" 0 0 -1`` → ``2026-11-19``;
* ``addDuration TIME DURATION``: Go's ``t.Add(d)`` of ``time.ParseDuration`` (``-1h30m``,
  ``90s``, ``1.5h``, ``300ms``; units ns us µs ms s m h):
  ``addDuration "2026-11-20T03:00:00Z" "-1h30m"`` → ``2026-11-20T01:30:00Z``;
* ``formatTime TIME LAYOUT``: Go's ``t.Format(layout)``:
  ``formatTime "2026-11-20T03:00:00Z" "2006/01/02/15"`` → ``2026/11/20/03``;
* ``parseTime LAYOUT TEXT``: Go's ``time.Parse(layout, text)``:
  ``parseTime "20060102" "20261120"`` → ``2026-11-20T00:00:00Z``.

A TIME is a string, so that what the functions return prints as it is and is
itself a TIME (``formatTime (addDuration .hour "-1h") "2006/01/02/15"``), and any
variable holding a date or a timestamp is one:

* a date ``2026-11-20`` (exactly ``2006-01-02``: any text of up to ten characters
  is read so) is midnight UTC;
* anything longer is RFC 3339 as Go's ``time.Parse(time.RFC3339, ...)`` reads it:
  ``2026-11-20T03:00:00Z``, with an offset (``+05:30``), optionally a fraction of a
  second.

``addDate`` and ``addDuration`` answer in the form of their TIME: a date stays a date
while it is at midnight (``addDate`` always, ``addDuration`` by whole days),
anything else is written in Go's ``time.RFC3339Nano`` (``2026-11-20T03:00:00Z``,
``2026-11-20T03:00:00.5+05:30``) in the TIME's own offset. ``parseTime`` answers in
RFC3339Nano too, whatever its layout. An offset RFC 3339 cannot write (seconds in it,
or 24 hours or more, which Go's parser accepts) is written in UTC instead, and a
zone's abbreviation (``MST``) is not kept, only its offset.

The years are 0000 to 9999, those RFC 3339 can write: a result beyond them is an
error. The functions never read the clock or the machine's time zone, so a
template renders the same anywhere; ``nowWithFormat`` is the one that reads the
clock. Arguments are checked as Go checks them (``wrong number of args for addDate:
want 4 got 2``, ``expected integer; found "x"``), and errors are Go's
(``time: invalid duration "1d"``, ``parsing time "x" as "2006-01-02": cannot parse
"x" as "2006"``).

>>> add_date("2026-10-31T23:00:00-05:00", 0, 1, 0)
'2026-12-01T23:00:00-05:00'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dataflow_runner.config.template.goduration import parse_duration
from dataflow_runner.config.template.gotime import GoTime, format_go_time
from dataflow_runner.config.template.gotimeparse import parse_go_time

DATE_ONLY = "2006-01-02"
RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"

_DAY = 86_400


def read_time(text: str) -> tuple[GoTime, bool]:
    """A TIME argument, and whether it is a date."""
    if len(text) <= len(DATE_ONLY):
        return parse_go_time(DATE_ONLY, text), True
    return parse_go_time(RFC3339, text), False


def time_text(t: GoTime, as_date: bool = False) -> str:
    """A time as a TIME: a date if ``as_date`` and it is at midnight UTC, else
    RFC3339Nano; ValueError beyond the years 0000-9999."""
    if t.offset % 60 or abs(t.offset) >= _DAY:
        t = t.utc()  # RFC 3339 writes hours and minutes, less than 24 hours
    if not 0 <= t.year <= 9999:
        raise ValueError(f"year {t.year} is out of range [0,9999]")
    if as_date and (t.hour, t.minute, t.second, t.nanosecond, t.offset) == (0, 0, 0, 0, 0):
        return format_go_time(t, DATE_ONLY)
    return format_go_time(t, RFC3339_NANO)


def add_date(t: str, years: int, months: int, days: int) -> str:
    """``addDate TIME YEARS MONTHS DAYS``: Go's ``t.AddDate``."""
    time, as_date = read_time(t)
    return time_text(time.add_date(years, months, days), as_date)


def add_duration(t: str, duration: str) -> str:
    """``addDuration TIME DURATION``: Go's ``t.Add`` of a ``time.ParseDuration``."""
    time, as_date = read_time(t)
    return time_text(time.add(parse_duration(duration)), as_date)


def format_time(t: str, layout: str) -> str:
    """``formatTime TIME LAYOUT``: Go's ``t.Format(layout)``."""
    return format_go_time(read_time(t)[0], layout)


def parse_time(layout: str, text: str) -> str:
    """``parseTime LAYOUT TEXT``: Go's ``time.Parse``, as an RFC 3339 TIME."""
    return time_text(parse_go_time(layout, text))


def time_funcs() -> dict[str, Callable[..., Any]]:
    """The four functions by their template names."""
    return {
        "addDate": add_date,
        "addDuration": add_duration,
        "formatTime": format_time,
        "parseTime": parse_time,
    }
