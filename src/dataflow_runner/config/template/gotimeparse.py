"""Go's ``time.Parse``, with Go's error messages.

:func:`parse_go_time` reads a text with a Go layout (the elements of :mod:`.gotime`,
found by the same scan) and follows the documented behaviour of Go's
``time.Parse``:

* numbers: ``2006`` takes exactly four digits, ``06`` two (69-99 are 19xx, the rest
  20xx), ``01``/``02``/``15``/``04``/``05`` two, ``1``/``2``/``3``/``4``/``5`` one
  or two, ``002`` three and ``__2`` up to three; ``_2`` allows a leading space;
* ``Jan``/``January``/``Mon``/``Monday`` in any case; the weekday is checked for
  syntax only;
* ``.000`` takes exactly that many digits, ``.999`` any number or none, and
  seconds may be followed by a fraction the layout does not have;
* ``PM``/``pm`` move the 12-hour clock; a space in the layout matches any run of
  spaces;
* zones: ``Z`` for UTC in the ``Z07:00`` forms, numeric offsets up to 24 hours,
  ``MST`` an abbreviation (``UTC``, ``GMT+3``, three upper-case letters, or four or
  five ending in ``T``...);
* elements absent from the layout are 0, or 1 for the month and the day; the day
  is checked against the month (``day out of range``).

The machine's own zone is never consulted, so that a template renders the same
everywhere: zones are read as Go reads them where the local zone is UTC. A numeric
offset of zero is UTC; an offset keeps the abbreviation given beside it (``-0700
MST``); an abbreviation alone other than ``UTC`` is a zone of that name at offset 0,
as Go does with a zone it does not know, but for ``GMT+3``, which Go puts 3 hours
east while it reads the clock as UTC's (``03:00 GMT+3`` is ``06:00+03:00``).

Values and layouts are scanned by index, never sliced as they are consumed, so a
long one takes time in proportion to its length.

>>> from dataflow_runner.config.template.gotime import format_go_time
>>> t = parse_go_time("Jan _2 2006 3:04pm -0700", "nov  2 2026 1:30pm +0530")
>>> format_go_time(t, "2006-01-02T15:04:05Z07:00")
'2026-11-02T13:30:00+05:30'
"""

from __future__ import annotations

from dataclasses import replace

from dataflow_runner.config.template.gotime import (
    GoTime,
    chunks,
    days_in_month,
    is_leap,
    time_quote,
)

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
_ISO_ZONES = ("Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07")
_INT63 = 1 << 63
_POWERS_OF_TEN: tuple[int, ...] = tuple(10**n for n in range(10))


class _Bad(Exception):
    """A value that does not fit its layout element (Go's ``errBad``)."""


class _OutOfRange(Exception):
    """A field out of its range: ``month``, ``hour``... (Go's ``rangeErrString``)."""


def _digit(text: str, i: int) -> bool:
    return i < len(text) and "0" <= text[i] <= "9"  # ASCII digits only


def _leading_int(text: str, i: int, end: int) -> tuple[int, int]:
    """The digits from ``i`` as a number below 2**63 (and where they end); more is
    an overflow, as in Go's ``leadingInt``."""
    x = 0
    while i < end and _digit(text, i):
        x = x * 10 + ord(text[i]) - 48
        if x > _INT63:
            raise _Bad
        i += 1
    return x, i


def _atoi(text: str, i: int, end: int) -> int:
    """Go's ``atoi`` in the time package: an optional sign, then only digits."""
    negative = False
    if i < end and text[i] in "+-":
        negative = text[i] == "-"
        i += 1
    x, j = _leading_int(text, i, end)
    if j != end:
        raise _Bad
    return -x if negative else x


def _getnum(text: str, i: int, fixed: bool) -> tuple[int, int]:
    """One or two digits (exactly two when ``fixed``), and where they end."""
    if not _digit(text, i):
        raise _Bad
    if not _digit(text, i + 1):
        if fixed:
            raise _Bad
        return ord(text[i]) - 48, i + 1
    return (ord(text[i]) - 48) * 10 + ord(text[i + 1]) - 48, i + 2


def _getnum3(text: str, i: int, fixed: bool) -> tuple[int, int]:
    """One to three digits (exactly three when ``fixed``), and where they end."""
    n = j = 0
    while j < 3 and _digit(text, i + j):
        n = n * 10 + ord(text[i + j]) - 48
        j += 1
    if j == 0 or (fixed and j != 3):
        raise _Bad
    return n, i + j


def _lookup(names: tuple[str, ...], short: bool, text: str, i: int) -> tuple[int, int]:
    """The index of the (three-letter when ``short``) name at ``i``, ASCII letters
    compared without case, and where it ends."""
    for n, full in enumerate(names):
        name = full[:3] if short else full
        candidate = text[i : i + len(name)]
        if len(candidate) == len(name) and _same_letters(candidate, name):
            return n, i + len(name)
    raise _Bad


def _same_letters(a: str, b: str) -> bool:
    """Equal but for the case of ASCII letters."""
    for x, y in zip(a, b, strict=True):
        if x != y:
            lower = chr(ord(x) | 0x20)  # 'a' - 'A' is one bit
            if lower != chr(ord(y) | 0x20) or not "a" <= lower <= "z":
                return False
    return True


def _nanoseconds(text: str, i: int, width: int) -> int:
    """A fraction of ``width`` characters at ``i`` (its "." or "," included) as
    nanoseconds; digits beyond the ninth are dropped, as in Go."""
    if text[i] not in ".,":
        raise _Bad
    width = min(width, 10)
    ns = _atoi(text, i + 1, i + width)
    if ns < 0:
        raise _OutOfRange("fractional second")
    return ns * _POWERS_OF_TEN[10 - width]


def _skip(value: str, i: int, literal: str) -> int:
    """Where ``value`` goes on after the layout's ``literal`` text, a space in it
    matching any run of spaces; raises ``_Mismatch`` with where they differ."""
    j = 0
    while j < len(literal):
        if literal[j] == " ":
            if i < len(value) and value[i] != " ":
                raise _Mismatch(i)
            while j < len(literal) and literal[j] == " ":
                j += 1
            while i < len(value) and value[i] == " ":
                i += 1
            continue
        if i >= len(value) or value[i] != literal[j]:
            raise _Mismatch(i)
        i += 1
        j += 1
    return i


class _Mismatch(Exception):
    def __init__(self, at: int) -> None:
        super().__init__(at)
        self.at = at


def _signed_offset_length(value: str, i: int) -> int:
    """The length of "+N"/"-N" at ``i`` with N at most 23, or 0 (Go's parseSignedOffset)."""
    if i >= len(value) or value[i] not in "+-":
        return 0
    try:
        x, j = _leading_int(value, i + 1, len(value))
    except _Bad:
        return 0
    if j == i + 1 or x > 23:
        return 0
    return j - i


def _zone_name_length(value: str, i: int) -> int:
    """The length of the zone abbreviation at ``i``; raises ``_Bad`` if there is none.
    Go's heuristics: ChST and MeST, GMT with an optional offset in hours, a bare
    offset (+03), or three upper-case letters, or four or five that end in T (or WITA)."""
    rest = value[i : i + 6]
    if len(rest) < 3:
        raise _Bad
    if rest[:4] in ("ChST", "MeST"):
        return 4
    if rest[:3] == "GMT":
        return 3 + _signed_offset_length(value, i + 3)
    if rest[0] in "+-":
        length = _signed_offset_length(value, i)
        if not length:
            raise _Bad
        return length
    upper = 0
    while upper < len(rest) and "A" <= rest[upper] <= "Z":
        upper += 1
    if upper == 3 or (upper == 4 and (rest[3] == "T" or rest[:4] == "WITA")):
        return upper
    if upper == 5 and rest[4] == "T":
        return 5
    raise _Bad


def _zone_offset(element: str, value: str, i: int) -> tuple[int, int]:
    """A numeric zone offset in seconds, in the form of ``element``, and where it ends."""
    colon = ":" in element
    fields = len(element.replace(":", "")) // 2  # hours, minutes, seconds: 1 to 3
    step = 3 if colon else 2  # "+07:00:00" or "+070000"
    width = 1 + fields * step - (1 if colon else 0)
    if len(value) - i < width:
        raise _Bad
    text = value[i : i + width]
    if colon and any(text[k] != ":" for k in range(3, width, 3)):
        raise _Bad
    amounts = [0, 0, 0]
    bad = False
    for n in range(fields):
        try:
            amounts[n], _ = _getnum(text[1 + n * step : 3 + n * step], 0, True)
        except _Bad:
            bad = True  # still, a field out of range before it is what Go reports
            break
    hour, minute, second = amounts
    # Go allows up to 24 hours, 60 minutes and 60 seconds (some write +24:00), and
    # names the last field out of range.
    problem = ""
    for amount, limit, name in ((hour, 24, "hour"), (minute, 60, "minute"), (second, 60, "second")):
        if amount > limit:
            problem = name
    if problem:
        raise _OutOfRange(f"time zone offset {problem}")
    if bad or text[0] not in "+-":
        raise _Bad
    offset = (hour * 60 + minute) * 60 + second
    return (-offset if text[0] == "-" else offset), i + width


class _Fields:
    """What the layout's elements have read so far (Go's parse state)."""

    def __init__(self) -> None:
        self.year = 0
        self.month = self.day = self.yday = -1
        self.hour = self.minute = self.second = self.nanosecond = 0
        self.am = self.pm = False  # an AM or a PM read (a layout may have both)
        self.utc = False
        self.offset: int | None = None
        self.zone = ""


def _read(f: _Fields, element: str, following: str, value: str, i: int) -> int:
    """Read ``element`` at ``value[i]`` into ``f``; where the value goes on.
    ``following`` is the next element of the layout, which decides whether seconds
    take a fraction the layout does not have."""
    c = element[0]
    if element == "2006":
        if len(value) - i < 4 or not _digit(value, i):
            raise _Bad
        f.year = _atoi(value, i, i + 4)
        return i + 4
    if element == "06":
        if len(value) - i < 2:
            raise _Bad
        year = _atoi(value, i, i + 2)
        f.year = year + (1900 if year >= 69 else 2000)  # Unix time starts in 1969
        return i + 2
    if element in ("Jan", "January"):
        month, i = _lookup(_MONTHS, element == "Jan", value, i)
        f.month = month + 1
        return i
    if element in ("Mon", "Monday"):
        return _lookup(_DAYS, element == "Mon", value, i)[1]  # checked, not used
    if element in ("1", "01"):
        f.month, i = _getnum(value, i, element == "01")
        if not 1 <= f.month <= 12:
            raise _OutOfRange("month")
        return i
    if element in ("2", "_2", "02"):
        if element == "_2" and i < len(value) and value[i] == " ":
            i += 1
        f.day, i = _getnum(value, i, element == "02")  # checked against the month later
        return i
    if element in ("__2", "002"):
        if element == "__2":
            for _ in range(2):
                if i < len(value) and value[i] == " ":
                    i += 1
        f.yday, i = _getnum3(value, i, element == "002")
        return i
    if element in ("15", "3", "03"):
        f.hour, i = _getnum(value, i, element == "03")
        if f.hour >= (24 if element == "15" else 13):
            raise _OutOfRange("hour")
        return i
    if element in ("4", "04"):
        f.minute, i = _getnum(value, i, element == "04")
        if f.minute >= 60:
            raise _OutOfRange("minute")
        return i
    if element in ("5", "05"):
        return _read_seconds(f, element, following, value, i)
    if element in ("PM", "pm"):
        marker = value[i : i + 2]
        if marker == element:
            f.pm = True
        elif marker == element.replace("P", "A").replace("p", "a"):
            f.am = True
        else:
            raise _Bad
        return i + 2
    if element in _ISO_ZONES and value[i : i + 1] == "Z":
        f.utc = True
        return i + 1
    if c in "-Z":
        f.offset, i = _zone_offset(element, value, i)
        return i
    if element == "MST":
        if value[i : i + 3] == "UTC":
            f.utc = True
            return i + 3
        length = _zone_name_length(value, i)
        f.zone = value[i : i + length]
        return i + length
    return _read_fraction(f, element, value, i)


def _read_seconds(f: _Fields, element: str, following: str, value: str, i: int) -> int:
    f.second, i = _getnum(value, i, element == "05")
    if f.second >= 60:
        raise _OutOfRange("second")
    # A fraction after the seconds is read even if the layout has none there.
    if value[i : i + 1] in (".", ",") and _digit(value, i + 1) and following[:1] not in (".", ","):
        end = i + 2
        while _digit(value, end):
            end += 1
        f.nanosecond = _nanoseconds(value, i, end - i)
        return end
    return i


def _read_fraction(f: _Fields, element: str, value: str, i: int) -> int:
    if element[1] == "0":  # exactly as many digits as the layout has
        width = len(element)
        if len(value) - i < width:
            raise _Bad
        f.nanosecond = _nanoseconds(value, i, width)
        return i + width
    # .999: any number of digits, or no fraction at all
    if value[i : i + 1] not in (".", ",") or not _digit(value, i + 1):
        return i
    end = i + 1
    while _digit(value, end):
        end += 1
    f.nanosecond = _nanoseconds(value, i, end - i)
    return end


def _error(layout: str, value: str, value_elem: str, layout_elem: str) -> ValueError:
    return ValueError(
        f"parsing time {time_quote(value)} as {time_quote(layout)}: cannot parse "
        f"{time_quote(value_elem)} as {time_quote(layout_elem)}"
    )


def _range_error(value: str, message: str) -> ValueError:
    return ValueError(f"parsing time {time_quote(value)}{message}")


def parse_go_time(layout: str, value: str) -> GoTime:
    """Go's ``time.Parse(layout, value)``, its errors raised as ValueError with Go's
    messages (``parsing time "x" as "2006-01-02": cannot parse "x" as "2006"``)."""
    f = _Fields()
    i = 0
    pieces = iter(chunks(layout))
    literal, element = next(pieces)
    while True:
        try:
            i = _skip(value, i, literal)
        except _Mismatch as exc:
            raise _error(layout, value, value[exc.at :], literal) from None
        if not element:
            if i < len(value):
                rest = value[i:]
                raise _range_error(value, f": extra text: {time_quote(rest)}")
            break
        literal_next, element_next = next(pieces)
        start = i
        try:
            i = _read(f, element, element_next, value, i)
        except _OutOfRange as exc:
            # Go reports the text after the field, and only the value and the field.
            raise _range_error(value, f": {exc} out of range") from None
        except _Bad:
            raise _error(layout, value, value[start:], element) from None
        literal, element = literal_next, element_next
    return _assemble(f, value)


def _assemble(f: _Fields, value: str) -> GoTime:
    """The time the fields describe, checked as Go checks it after reading them all."""
    if f.pm and f.hour < 12:
        f.hour += 12
    elif f.am and f.hour == 12:
        f.hour = 0
    if f.yday >= 0:
        _day_of_year(f, value)
    else:
        f.month = 1 if f.month < 0 else f.month
        f.day = 1 if f.day < 0 else f.day
    if not 1 <= f.day <= days_in_month(f.month, f.year):
        raise _range_error(value, ": day out of range")
    t = GoTime(f.year, f.month, f.day, f.hour, f.minute, f.second, f.nanosecond)
    if f.utc:
        return t
    if f.offset is not None:
        # Go keeps a zone of the local zone's offset as the local zone; ours is UTC.
        if f.offset == 0 and f.zone in ("", "UTC"):
            return t
        return replace(t, offset=f.offset, zone=f.zone)
    if f.zone:
        # A zone Go does not know is taken at offset 0, but for GMT+N, whose clock Go
        # reads as UTC's and shows N hours later.
        if len(f.zone) > 3 and f.zone[:3] == "GMT":
            offset = _atoi(f.zone, 3, len(f.zone)) * 3600
            return GoTime.from_unix_nanos(t.unix_nanos(), offset, f.zone)
        return replace(t, zone=f.zone)
    return t


def _day_of_year(f: _Fields, value: str) -> None:
    """Month and day from the day of the year, which must agree with any given."""
    yday = f.yday
    month = day = 0
    if is_leap(f.year):
        if yday == 31 + 29:
            month, day = 2, 29
        elif yday > 31 + 29:
            yday -= 1  # counted as in a common year from here
    if not 1 <= yday <= 365:
        raise _range_error(value, ": day-of-year out of range")
    if not month:
        month = 1
        while yday > _days_before(month + 1):
            month += 1
        day = yday - _days_before(month)
    if f.month >= 0 and f.month != month:
        raise _range_error(value, ": day-of-year does not match month")
    if f.day >= 0 and f.day != day:
        raise _range_error(value, ": day-of-year does not match day")
    f.month, f.day = month, day


def _days_before(month: int) -> int:
    """Days in a common year before the 1st of ``month`` (13: the whole year)."""
    return sum(days_in_month(m, 2001) for m in range(1, month))
