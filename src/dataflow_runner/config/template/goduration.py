"""Go's ``time.ParseDuration``, with Go's error messages.

A duration is a sequence of decimal numbers, each with an optional fraction and a
unit (``ns us µs ms s m h``), the whole optionally signed: ``-1h30m``, ``1.5h``,
``300ms``; ``0`` alone needs no unit. It must fit Go's int64 of nanoseconds (about
292 years either way).

>>> parse_duration("-1h30m")
-5400000000000
"""

from __future__ import annotations

from dataflow_runner.config.template.gotime import time_quote

_INT63 = 1 << 63

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5, the micro sign
    "μs": 1_000,  # U+03BC, the Greek letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: str) -> int:
    """Go's ``time.ParseDuration``: nanoseconds, within Go's int64; ValueError with
    Go's messages (``time: invalid duration "x"``, ``time: missing unit in duration``,
    ``time: unknown unit "d" in duration "1d"``)."""
    invalid = ValueError(f"time: invalid duration {time_quote(text)}")
    i, end = 0, len(text)
    negative = False
    if text[:1] in ("-", "+"):
        negative = text[0] == "-"
        i = 1
    if text[i:] == "0":  # the one number that needs no unit
        return 0
    if i == end:
        raise invalid
    total = 0
    while i < end:
        if not (text[i] == "." or _digit(text, i)):
            raise invalid
        whole, j = _leading_int(text, i, end)
        if whole > _INT63:
            raise invalid
        digits_before = j > i
        fraction, scale, digits_after = 0, 1.0, False
        if j < end and text[j] == ".":
            fraction, scale, k = _leading_fraction(text, j + 1, end)
            digits_after = k > j + 1
            j = k
        if not digits_before and not digits_after:
            raise invalid  # ".s", "-.s"
        k = j
        while k < end and not (text[k] == "." or _digit(text, k)):
            k += 1
        if k == j:
            raise ValueError(f"time: missing unit in duration {time_quote(text)}")
        unit = _UNITS.get(text[j:k])
        if unit is None:
            quoted = time_quote(text[j:k])
            raise ValueError(f"time: unknown unit {quoted} in duration {time_quote(text)}")
        if whole > _INT63 // unit:
            raise invalid
        amount = whole * unit
        if fraction:
            # In float64, as Go does, which is exact to the nanosecond for any unit.
            amount += int(float(fraction) * (float(unit) / scale))
        total += amount
        if amount > _INT63 or total > _INT63:
            raise invalid
        i = k
    if negative:
        return -total
    if total >= _INT63:
        raise invalid
    return total


def _digit(text: str, i: int) -> bool:
    return "0" <= text[i] <= "9"  # ASCII digits only


def _leading_int(text: str, i: int, end: int) -> tuple[int, int]:
    """The digits from ``i`` as a number, and where they end; past 2**63 the number
    is only known to be too large (so that a long run costs no big integers)."""
    x = 0
    while i < end and _digit(text, i):
        if x <= _INT63:
            x = x * 10 + ord(text[i]) - 48
        i += 1
    return x, i


def _leading_fraction(text: str, i: int, end: int) -> tuple[int, float, int]:
    """The digits after a decimal point as (digits, 10**count, where they end); digits
    that would overflow are skipped, as in Go's ``leadingFraction``."""
    x, scale, overflow = 0, 1.0, False
    while i < end and _digit(text, i):
        if not overflow:
            y = x * 10 + ord(text[i]) - 48
            if x > (_INT63 - 1) // 10 or y > _INT63:
                overflow = True
            else:
                x, scale = y, scale * 10
        i += 1
    return x, scale, i
