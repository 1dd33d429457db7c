"""Go's time layouts (``2006-01-02T15:04:05Z07:00``) applied to Python datetimes.

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


def _chunks(layout: str) -> Iterable[tuple[str, str]]:
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
    if name:
        return name
    zone = _quo(offset, 60)
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


def format_go_time(t: dt.datetime, layout: str) -> str:
    """Format ``t`` as Go's ``t.Format(layout)`` does (``t`` should be timezone-aware).

    A naive ``t`` is taken to be local time. Python keeps microseconds, so the
    nanosecond digits beyond the sixth are always 0.

    >>> import datetime as dt
    >>> ist = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
    >>> t = dt.datetime(2006, 1, 2, 15, 4, 5, tzinfo=ist)
    >>> format_go_time(t, "Mon Jan _2 3:04PM MST -07:00")
    'Mon Jan  2 3:04PM IST +05:30'
    """
    if t.tzinfo is None:
        t = t.astimezone()
    delta = t.utcoffset()
    offset = int(delta.total_seconds()) if delta is not None else 0
    done: list[str] = []
    out: list[str] = []
    for text, element in _chunks(layout):
        out.append(text)
        if element:
            out.append(_render(t, element, offset))
            if len(out) > 1024:  # joined now and then: a list item per piece costs more
                done.append("".join(out))
                out.clear()
    done.append("".join(out))
    return "".join(done)


def _hour12(t: dt.datetime) -> int:
    return t.hour % 12 or 12  # noon is 12PM, midnight 12AM


_FIELDS: dict[str, Callable[[dt.datetime], str]] = {
    "January": lambda t: _MONTHS[t.month - 1],
    "Jan": lambda t: _MONTHS[t.month - 1][:3],
    "Monday": lambda t: _DAYS[t.weekday()],
    "Mon": lambda t: _DAYS[t.weekday()][:3],
    "2006": lambda t: _go_int(t.year, 4),
    "06": lambda t: f"{t.year % 100:02d}",
    "1": lambda t: str(t.month),
    "01": lambda t: f"{t.month:02d}",
    "2": lambda t: str(t.day),
    "_2": lambda t: f"{t.day:2d}",
    "02": lambda t: f"{t.day:02d}",
    "__2": lambda t: f"{t.timetuple().tm_yday:3d}",
    "002": lambda t: f"{t.timetuple().tm_yday:03d}",
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


def _render(t: dt.datetime, element: str, offset: int) -> str:
    field = _FIELDS.get(element)
    if field is not None:
        return field(t)
    if element == "MST":
        return _zone_name(t, offset)
    if element[0] in ".,":
        return _fraction(t.microsecond * 1000, element)
    return _numeric_zone(offset, element)


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
