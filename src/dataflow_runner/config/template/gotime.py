"""Go's times and time layouts (``2006-01-02T15:04:05Z07:00``).

:class:`GoTime` is a Go ``time.Time`` in a fixed zone: a wall clock to the nanosecond
in any year (a datetime keeps microseconds, in years 1-9999), with Go's calendar
arithmetic (``AddDate``, ``Add``). :func:`format_go_time` formats it, or a Python
datetime, as Go's ``Time.Format`` does; :mod:`.gotimeparse` parses.

A layout is an example rendering of Go's reference time ``Mon Jan 2 15:04:05 MST
2006``. :func:`format_go_time` scans a layout the way Go's ``nextStdChunk`` does,
with the same precedence rules: ``January`` before ``Jan``, ``Jan``/``Mon``
followed by a lower-case letter are text, ``2006`` before ``2``, ``_2006`` is a
literal ``_`` then the year, ``.000``/``,999`` are fractional seconds only when no
digit follows the run, and so on. Whatever is not a layout element is copied.
This follows Go's ``time/format.go`` (``nextStdChunk``, ``Time.Format``).

>>> from datetime import datetime, timezone
>>> format_go_time(datetime(2024, 3, 9, 7, 5, 1, tzinfo=timezone.utc), "2006-01-02T15:04:05Z07:00")
'2024-03-09T07:05:01Z'
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from dataflow_runner.config.template.strconv import quote

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# --- the calendar -----------------------------------------------------------------------------

# The Gregorian calendar repeats every 400 years, which are a whole number of weeks:
# any year maps onto Python's (1-9999) by whole cycles.
_CYCLE_YEARS = 400
_CYCLE_DAYS = 146_097
_NANOS = 1_000_000_000
_DAY = 86_400


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 0001-01-01 (day 0, a Monday) to a date of the proleptic Gregorian
    calendar, for any year; ``day`` may overflow the month (0 is the day before the
    1st, 32 in January is February 1st), as in Go's ``time.Date``.

    >>> days_from_civil(1970, 1, 1), days_from_civil(0, 12, 31), days_from_civil(2026, 2, 29)
    (719162, -1, 739675)
    """
    cycles, rest = divmod(year - 1, _CYCLE_YEARS)
    first = dt.date(rest + 1, month, 1).toordinal() - 1
    return first + cycles * _CYCLE_DAYS + day - 1


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The (year, month, day) of :func:`days_from_civil`'s day number."""
    cycles, rest = divmod(days, _CYCLE_DAYS)
    date = dt.date.fromordinal(rest + 1)
    return date.year + cycles * _CYCLE_YEARS, date.month, date.day


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(month: int, year: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


_UNIX_EPOCH = days_from_civil(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class GoTime:
    """A Go ``time.Time`` in a fixed zone: its wall clock, nanoseconds and zone.

    ``zone`` is the zone's name as Go's ``MST`` prints it; "" is a fixed zone
    without a name, which prints its offset instead (``-0700``).

    >>> t = GoTime(2026, 10, 31, 3, 0, 0, 0, 3600, "")
    >>> format_go_time(t.add_date(0, 1, 0), "2006-01-02T15:04:05Z07:00 MST")
    '2026-12-01T03:00:00+01:00 +0100'
    """

    year: int
    month: int
    day: int
    hour: int = 0
    minute: int = 0
    second: int = 0
    nanosecond: int = 0
    offset: int = 0  # seconds east of UTC
    zone: str = "UTC"

    def days(self) -> int:
        return days_from_civil(self.year, self.month, self.day)

    def weekday(self) -> int:
        """0 for Monday, as Python counts."""
        return self.days() % 7

    def yday(self) -> int:
        """The day of the year, from 1."""
        return self.days() - days_from_civil(self.year, 1, 1) + 1

    def unix_nanos(self) -> int:
        clock = self.hour * 3600 + self.minute * 60 + self.second
        seconds = (self.days() - _UNIX_EPOCH) * _DAY + clock - self.offset
        return seconds * _NANOS + self.nanosecond

    @classmethod
    def from_unix_nanos(cls, nanos: int, offset: int = 0, zone: str = "UTC") -> GoTime:
        """The instant ``nanos`` after 1970-01-01T00:00:00Z, in the zone given."""
        seconds, nanosecond = divmod(nanos, _NANOS)
        days, clock = divmod(seconds + offset, _DAY)
        year, month, day = civil_from_days(days + _UNIX_EPOCH)
        minutes, second = divmod(clock, 60)
        return cls(year, month, day, minutes // 60, minutes % 60, second, nanosecond, offset, zone)

    def add(self, nanos: int) -> GoTime:
        """Go's ``t.Add(d)``: the instant ``nanos`` later, in the same zone."""
        return GoTime.from_unix_nanos(self.unix_nanos() + nanos, self.offset, self.zone)

    def add_date(self, years: int, months: int, days: int) -> GoTime:
        """Go's ``t.AddDate(years, months, days)``: the same clock on the date moved
        so, normalised as ``time.Date`` does (October 31st + 1 month is December 1st).
        A fixed zone has no daylight saving time, so the clock never moves."""
        year, month = divmod(self.month - 1 + months, 12)  # months overflow into years
        first = days_from_civil(self.year + years + year, month + 1, 1)
        year, month, day = civil_from_days(first + self.day - 1 + days)
        return replace(self, year=year, month=month, day=day)

    def utc(self) -> GoTime:
        """Go's ``t.UTC()``."""
        return GoTime.from_unix_nanos(self.unix_nanos())


def go_time(t: dt.datetime) -> GoTime:
    """A datetime as a GoTime (a naive one is taken to be local time)."""
    if t.tzinfo is None:
        t = t.astimezone()
    delta = t.utcoffset()
    offset = int(delta.total_seconds()) if delta is not None else 0
    return GoTime(
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.microsecond * 1000,
        offset,
        _zone_name(t, offset),
    )


def time_quote(text: str) -> str:
    """Go's quoting in the time package: ``"`` and ``\\`` escaped, and every byte of a
    control or non-ASCII character as ``\\xNN`` (unlike strconv's quoting)."""
    out = ['"']
    for c in text:
        if c < " " or c >= "\x80":
            out.extend(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogatepass"))
        else:
            out.append("\\" + c if c in '"\\' else c)
    out.append('"')
    return "".join(out)


# --- formatting --------------------------------------------------------------------------------

# Zone elements in the order Go tries them after a "-" or a "Z".
_NUM_ZONES = ("-070000", "-07:00:00", "-0700", "-07:00", "-07")
_ISO_ZONES = ("Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07")


def _element_at(layout: str, i: int) -> str | None:
    """The layout element starting at ``layout[i]`` (Go's ``nextStdChunk``), or None."""
    c = layout[i]
    if c == "J":
        if layout.startswith("Jan", i):
            if layout.startswith("January", i):
                return "January"
            if not _lower_at(layout, i + 3):
                return "Jan"
    elif c == "M":
        if layout.startswith("Mon", i):
            if layout.startswith("Monday", i):
                return "Monday"
            if not _lower_at(layout, i + 3):
                return "Mon"
        if layout.startswith("MST", i):
            return "MST"
    elif c == "0":
        if layout[i + 1 : i + 2] in ("1", "2", "3", "4", "5", "6"):
            return layout[i : i + 2]
        if layout.startswith("002", i):
            return "002"
    elif c == "1":
        return "15" if layout.startswith("15", i) else "1"
    elif c == "2":
        return "2006" if layout.startswith("2006", i) else "2"
    elif c == "_":
        if layout.startswith("_2", i):
            # "_2006" is a literal "_" followed by the year: the year matches at i + 1.
            return None if layout.startswith("_2006", i) else "_2"
        if layout.startswith("__2", i):
            return "__2"
    elif c in "345":
        return c
    elif c == "P":
        if layout.startswith("PM", i):
            return "PM"
    elif c == "p":
        if layout.startswith("pm", i):
            return "pm"
    elif c in "-Z":
        for zone in _NUM_ZONES if c == "-" else _ISO_ZONES:
            if layout.startswith(zone, i):
                return zone
    elif c in ".," and layout[i + 1 : i + 2] in ("0", "9"):
        digit = layout[i + 1]
        j = i + 1
        while j < len(layout) and layout[j] == digit:
            j += 1
        # Only a run that is not followed by another digit is a fractional second.
        if j >= len(layout) or layout[j] not in "0123456789":
            return layout[i:j]
    return None


def _lower_at(text: str, i: int) -> bool:
    return "a" <= text[i : i + 1] <= "z"


#: Layouts up to this length are split once and remembered (real ones are a few dozen
#: characters); a longer one, which a template can build, is split as it is formatted,
#: so that neither the cache nor a list of its pieces holds a hundred times its size.
_CACHED_LAYOUT = 256


def chunks(layout: str) -> Iterable[tuple[str, str]]:
    """The layout as (literal text, element) pairs; the last element may be ""."""
    if len(layout) <= _CACHED_LAYOUT:
        return _cached_chunks(layout)
    return _split(layout)


@functools.lru_cache(maxsize=64)
def _cached_chunks(layout: str) -> tuple[tuple[str, str], ...]:
    return tuple(_split(layout))


def _split(layout: str) -> Iterator[tuple[str, str]]:
    start = i = 0
    while i < len(layout):
        element = _element_at(layout, i)
        if element is None:
            i += 1
            continue
        yield layout[start:i], element
        i += len(element)
        start = i
    yield layout[start:], ""


def _quo(a: int, b: int) -> int:
    """Go's integer division (truncated toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _rem(a: int, b: int) -> int:
    """Go's ``%`` (the sign follows the dividend)."""
    return a - b * _quo(a, b)


def _go_int(x: int, width: int) -> str:
    """Go's ``appendInt``: a sign, then the digits zero-padded to ``width``."""
    return ("-" if x < 0 else "") + str(abs(x)).rjust(width, "0")


def _numeric_zone(offset: int, element: str) -> str:
    if offset == 0 and element[0] == "Z":
        return "Z"
    zone = _quo(offset, 60)  # minutes
    absoffset = offset
    sign = "+"
    if zone < 0:
        sign, zone, absoffset = "-", -zone, -offset
    out = sign + _go_int(_quo(zone, 60), 2)
    colon = ":" if ":" in element else ""
    digits = len(element) - 1 - len(colon) * element.count(":")
    if digits >= 4:
        out += colon + _go_int(_rem(zone, 60), 2)
    if digits == 6:
        out += colon + _go_int(_rem(absoffset, 60), 2)
    return out


def _zone_name(t: dt.datetime, offset: int) -> str:
    name = t.tzname() or ""
    tz = t.tzinfo
    # A bare ``timezone(timedelta(...))`` is named "UTC+05:30" by Python; in Go such a
    # zone has no name, and Go then prints the offset as -0700.
    auto_name = dt.timezone(dt.timedelta(seconds=offset)).tzname(None) if offset else "UTC"
    if isinstance(tz, dt.timezone) and offset and name == auto_name:
        name = ""
    return name


def _zone_text(t: GoTime) -> str:
    """What ``MST`` prints: the zone's name, or without one its offset as -0700."""
    if t.zone:
        return t.zone
    zone = _quo(t.offset, 60)
    sign = "-" if zone < 0 else "+"
    zone = abs(zone)
    return sign + _go_int(zone // 60, 2) + _go_int(zone % 60, 2)


def _fraction(nanos: int, element: str) -> str:
    trim = element[1] == "9"
    if trim and nanos == 0:
        return ""
    # More than nine digits print nine, as in Go.
    digits = f"{nanos:09d}"[: len(element) - 1]
    if trim:
        digits = digits.rstrip("0")
        if not digits:
            return ""
    return element[0] + digits


def format_go_time(t: dt.datetime | GoTime, layout: str) -> str:
    """Format ``t`` as Go's ``t.Format(layout)`` does (a datetime should be aware).

    A naive datetime is taken to be local time. A datetime keeps microseconds, so
    its nanosecond digits beyond the sixth are always 0; a GoTime keeps all nine.

    >>> import datetime as dt
    >>> ist = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
    >>> t = dt.datetime(2006, 1, 2, 15, 4, 5, tzinfo=ist)
    >>> format_go_time(t, "Mon Jan _2 3:04PM MST -07:00")
    'Mon Jan  2 3:04PM IST +05:30'
    """
    if isinstance(t, dt.datetime):
        t = go_time(t)
    done: list[str] = []
    out: list[str] = []
    for text, element in chunks(layout):
        out.append(text)
        if element:
            out.append(_render(t, element))
            if len(out) > 1024:  # joined now and then: a list item per piece costs more
                done.append("".join(out))
                out.clear()
    done.append("".join(out))
    return "".join(done)


def _hour12(t: GoTime) -> int:
    return t.hour % 12 or 12  # noon is 12PM, midnight 12AM


_FIELDS: dict[str, Callable[[GoTime], str]] = {
    "January": lambda t: _MONTHS[t.month - 1],
    "Jan": lambda t: _MONTHS[t.month - 1][:3],
    "Monday": lambda t: _DAYS[t.weekday()],
    "Mon": lambda t: _DAYS[t.weekday()][:3],
    "2006": lambda t: _go_int(t.year, 4),
    "06": lambda t: f"{abs(t.year) % 100:02d}",
    "1": lambda t: str(t.month),
    "01": lambda t: f"{t.month:02d}",
    "2": lambda t: str(t.day),
    "_2": lambda t: f"{t.day:2d}",
    "02": lambda t: f"{t.day:02d}",
    "__2": lambda t: f"{t.yday():3d}",
    "002": lambda t: f"{t.yday():03d}",
    "15": lambda t: f"{t.hour:02d}",
    "3": lambda t: str(_hour12(t)),
    "03": lambda t: f"{_hour12(t):02d}",
    "4": lambda t: str(t.minute),
    "04": lambda t: f"{t.minute:02d}",
    "5": lambda t: str(t.second),
    "05": lambda t: f"{t.second:02d}",
    "PM": lambda t: "PM" if t.hour >= 12 else "AM",
    "pm": lambda t: "pm" if t.hour >= 12 else "am",
}


def _render(t: GoTime, element: str) -> str:
    field = _FIELDS.get(element)
    if field is not None:
        return field(t)
    if element == "MST":
        return _zone_text(t)
    if element[0] in ".,":
        return _fraction(t.nanosecond, element)
    return _numeric_zone(t.offset, element)


_DECIMAL = re.compile(r"[+-]?[0-9]+")


def parse_epoch(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 10, 64)``, with Go's error messages.

    >>> parse_epoch("-42")
    -42
    """
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"strconv.ParseInt: parsing {quote(text)}: invalid syntax")
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"strconv.ParseInt: parsing {quote(text)}: value out of range")
    return value


def from_epoch(seconds: int) -> dt.datetime:
    """Go's ``time.Unix(seconds, 0)`` in the local time zone.

    Python's datetime covers years 1 to 9999; beyond that this raises ValueError.
    """
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone()
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"epoch {seconds} is out of the supported range (years 1-9999)") from None
