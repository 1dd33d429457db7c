"""Go's time layouts (``2006-01-02T15:04:05Z07:00``) as Python formatting.

A layout is an example rendering of Go's reference time, ``Mon Jan 2 15:04:05
MST 2006``; every element of Go's layout language is supported, with Go's
precedence rules (``January`` before ``Jan``, ``2006`` before ``2``, ``_2006``
is a literal ``_`` then the year, ``Jan`` followed by a lower-case letter is
text...), fractional seconds (``.000``/``.999``, ``,000``) and every zone form.

>>> from datetime import datetime, timezone
>>> format_go_time(datetime(2024, 3, 9, 7, 5, 1, tzinfo=timezone.utc), "2006-01-02T15:04:05Z07:00")
'2024-03-09T07:05:01Z'
"""

from __future__ import annotations

import datetime as dt
import re

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

# (literal, element) pairs tried in order at each position; the order encodes
# Go's precedence (longest or most specific first).
_ZONES = (
    "-070000",
    "-07:00:00",
    "-0700",
    "-07:00",
    "-07",
    "Z070000",
    "Z07:00:00",
    "Z0700",
    "Z07:00",
    "Z07",
)


def _element(layout: str, i: int) -> tuple[str, int] | None:
    """The layout element starting at ``layout[i]`` and its length, or None."""
    rest = layout[i:]
    c = rest[0]
    if c == "J" and rest.startswith("Jan"):
        if rest.startswith("January"):
            return "January", 7
        if not rest[3:4].islower():
            return "Jan", 3
    elif c == "M":
        if rest.startswith("Mon"):
            if rest.startswith("Monday"):
                return "Monday", 6
            if not rest[3:4].islower():
                return "Mon", 3
        if rest.startswith("MST"):
            return "MST", 3
    elif c == "0":
        if rest[1:2] in ("1", "2", "3", "4", "5", "6"):
            return rest[:2], 2
        if rest.startswith("002"):
            return "002", 3
    elif c == "1":
        return ("15", 2) if rest.startswith("15") else ("1", 1)
    elif c == "2":
        return ("2006", 4) if rest.startswith("2006") else ("2", 1)
    elif c == "_":
        if rest.startswith("_2"):
            # "_2006" is a literal underscore followed by the year.
            return None if rest.startswith("_2006") else ("_2", 2)
        if rest.startswith("__2"):
            return "__2", 3
    elif c in "345":
        return c, 1
    elif c == "P" and rest.startswith("PM"):
        return "PM", 2
    elif c == "p" and rest.startswith("pm"):
        return "pm", 2
    elif c in "-Z":
        for zone in _ZONES:
            if rest.startswith(zone):
                return zone, len(zone)
    elif c in ".," and rest[1:2] in ("0", "9"):
        digit = rest[1]
        j = 1
        while j < len(rest) and rest[j] == digit:
            j += 1
        # A run of 0s or 9s is fractional seconds unless a digit follows it.
        if not rest[j : j + 1].isdigit():
            return rest[:j], j
    return None


def _offset(t: dt.datetime) -> int:
    delta = t.utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


def _zone(offset: int, element: str) -> str:
    if element.startswith("Z") and offset == 0:
        return "Z"
    sign = "-" if offset < 0 else "+"
    seconds = abs(offset)
    hh, mm, ss = seconds // 3600, seconds // 60 % 60, seconds % 60
    colon = ":" if ":" in element else ""
    digits = element.lstrip("-Z").replace(":", "")
    out = f"{sign}{hh:02d}"
    if len(digits) >= 4:
        out += f"{colon}{mm:02d}"
    if len(digits) == 6:
        out += f"{colon}{ss:02d}"
    return out


def _zone_name(t: dt.datetime) -> str:
    name = t.tzname() or ""
    # Python names a bare fixed offset "UTC+05:30"; Go prints such zones as "+0530".
    if not name or re.fullmatch(r"UTC[+-]\d\d:\d\d(:\d\d)?", name):
        minutes = _offset(t) // 60
        sign = "-" if minutes < 0 else "+"
        return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return name


def _fraction(t: dt.datetime, element: str) -> str:
    nanos = f"{t.microsecond * 1000:09d}"
    digits = nanos[: len(element) - 1]
    if element[1] == "9":
        digits = digits.rstrip("0")
        if not digits:
            return ""
    return element[0] + digits


def _render(t: dt.datetime, element: str) -> str:
    if element in ("Jan", "January"):
        name = _MONTHS[t.month - 1]
        return name if element == "January" else name[:3]
    if element in ("Mon", "Monday"):
        name = _DAYS[t.weekday()]
        return name if element == "Monday" else name[:3]
    hour12 = t.hour % 12 or 12
    yday = t.timetuple().tm_yday
    simple = {
        "2006": f"{t.year:04d}",
        "06": f"{t.year % 100:02d}",
        "1": str(t.month),
        "01": f"{t.month:02d}",
        "2": str(t.day),
        "_2": f"{t.day:2d}",
        "02": f"{t.day:02d}",
        "__2": f"{yday:3d}",
        "002": f"{yday:03d}",
        "15": f"{t.hour:02d}",
        "3": str(hour12),
        "03": f"{hour12:02d}",
        "4": str(t.minute),
        "04": f"{t.minute:02d}",
        "5": str(t.second),
        "05": f"{t.second:02d}",
        "PM": "PM" if t.hour >= 12 else "AM",
        "pm": "pm" if t.hour >= 12 else "am",
    }
    if element in simple:
        return simple[element]
    if element == "MST":
        return _zone_name(t)
    if element[0] in "-Z":
        return _zone(_offset(t), element)
    return _fraction(t, element)


def format_go_time(t: dt.datetime, layout: str) -> str:
    """Format ``t`` (timezone-aware) as Go's ``t.Format(layout)`` would."""
    if t.tzinfo is None:
        t = t.astimezone()
    out: list[str] = []
    i = 0
    text_start = 0
    while i < len(layout):
        found = _element(layout, i)
        if found is None:
            i += 1
            continue
        element, length = found
        out.append(layout[text_start:i])
        out.append(_render(t, element))
        i += length
        text_start = i
    out.append(layout[text_start:])
    return "".join(out)


def parse_epoch(text: str) -> int:
    """Go's ``strconv.ParseInt(text, 10, 64)``, with its error messages."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def from_epoch(seconds: int) -> dt.datetime:
    """Go's ``time.Unix(seconds, 0)`` in the local time zone."""
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone()
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"epoch {seconds} is out of the supported range") from None
