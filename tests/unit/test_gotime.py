"""Go time layouts, table-tested against the semantics documented for Go's time.Format.

Expected strings follow Go's documentation of the layout elements and of the
predefined layouts (``time.ANSIC`` ... ``time.TimeOnly``). No test depends on the
machine's time zone: aware datetimes are used, and local-time tests set ``TZ``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from dataflow_runner.config.template.goduration import parse_duration
from dataflow_runner.config.template.gotime import (
    GoTime,
    civil_from_days,
    days_from_civil,
    days_in_month,
    format_go_time,
    from_epoch,
    go_time,
    is_leap,
    parse_epoch,
    time_quote,
)
from dataflow_runner.config.template.gotimeparse import parse_go_time

MST = dt.timezone(dt.timedelta(hours=-7), "MST")
# Go's reference time, with microseconds: Mon Jan 2 15:04:05.123456 MST 2006.
REF = dt.datetime(2006, 1, 2, 15, 4, 5, 123456, tzinfo=MST)
# Every field different from the reference: a Tuesday, day 366 of a leap year, hour 0,
# one-digit minute and second, 120 microseconds, a zone without a name at +05:45.
OTHER = dt.datetime(
    2024, 12, 31, 0, 9, 8, 120, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45))
)
# The Go playground's time, in UTC.
PLAY = dt.datetime(2009, 11, 10, 23, 0, 0, tzinfo=dt.UTC)

# Go's predefined layouts (time package constants), verbatim.
ANSIC = "Mon Jan _2 15:04:05 2006"
UNIX_DATE = "Mon Jan _2 15:04:05 MST 2006"
RUBY_DATE = "Mon Jan 02 15:04:05 -0700 2006"
RFC822 = "02 Jan 06 15:04 MST"
RFC822Z = "02 Jan 06 15:04 -0700"
RFC850 = "Monday, 02-Jan-06 15:04:05 MST"
RFC1123 = "Mon, 02 Jan 2006 15:04:05 MST"
RFC1123Z = "Mon, 02 Jan 2006 15:04:05 -0700"
RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_NANO = "2006-01-02T15:04:05.999999999Z07:00"
KITCHEN = "3:04PM"
STAMP = "Jan _2 15:04:05"
STAMP_MILLI = "Jan _2 15:04:05.000"
STAMP_MICRO = "Jan _2 15:04:05.000000"
STAMP_NANO = "Jan _2 15:04:05.000000000"
DATE_TIME = "2006-01-02 15:04:05"
DATE_ONLY = "2006-01-02"
TIME_ONLY = "15:04:05"


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (ANSIC, "Tue Nov 10 23:00:00 2009"),
        (UNIX_DATE, "Tue Nov 10 23:00:00 UTC 2009"),
        (RUBY_DATE, "Tue Nov 10 23:00:00 +0000 2009"),
        (RFC822, "10 Nov 09 23:00 UTC"),
        (RFC822Z, "10 Nov 09 23:00 +0000"),
        (RFC850, "Tuesday, 10-Nov-09 23:00:00 UTC"),
        (RFC1123, "Tue, 10 Nov 2009 23:00:00 UTC"),
        (RFC1123Z, "Tue, 10 Nov 2009 23:00:00 +0000"),
        (RFC3339, "2009-11-10T23:00:00Z"),
        (RFC3339_NANO, "2009-11-10T23:00:00Z"),
        (KITCHEN, "11:00PM"),
        (STAMP, "Nov 10 23:00:00"),
        (STAMP_MILLI, "Nov 10 23:00:00.000"),
        (STAMP_MICRO, "Nov 10 23:00:00.000000"),
        (STAMP_NANO, "Nov 10 23:00:00.000000000"),
        (DATE_TIME, "2009-11-10 23:00:00"),
        (DATE_ONLY, "2009-11-10"),
        (TIME_ONLY, "23:00:00"),
    ],
)
def test_predefined_layouts_in_utc(layout: str, expected: str) -> None:
    assert format_go_time(PLAY, layout) == expected


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        # The reference time renders every layout as the layout itself, except for
        # the space padding of _2 and the fraction digits.
        (ANSIC, "Mon Jan  2 15:04:05 2006"),
        (UNIX_DATE, "Mon Jan  2 15:04:05 MST 2006"),
        (RUBY_DATE, RUBY_DATE),
        (RFC822, RFC822),
        (RFC822Z, RFC822Z),
        (RFC850, RFC850),
        (RFC1123, RFC1123),
        (RFC1123Z, RFC1123Z),
        (RFC3339, "2006-01-02T15:04:05-07:00"),
        (RFC3339_NANO, "2006-01-02T15:04:05.123456-07:00"),
        (KITCHEN, KITCHEN),
        (STAMP, "Jan  2 15:04:05"),
        (STAMP_MILLI, "Jan  2 15:04:05.123"),
        (STAMP_MICRO, "Jan  2 15:04:05.123456"),
        (STAMP_NANO, "Jan  2 15:04:05.123456000"),
        (DATE_TIME, DATE_TIME),
        (DATE_ONLY, DATE_ONLY),
        (TIME_ONLY, TIME_ONLY),
    ],
)
def test_predefined_layouts_on_the_reference_time(layout: str, expected: str) -> None:
    assert format_go_time(REF, layout) == expected


ELEMENTS = [
    # element, reference time, OTHER
    ("2006", "2006", "2024"),
    ("06", "06", "24"),
    ("Jan", "Jan", "Dec"),
    ("January", "January", "December"),
    ("01", "01", "12"),
    ("1", "1", "12"),
    ("Mon", "Mon", "Tue"),
    ("Monday", "Monday", "Tuesday"),
    ("2", "2", "31"),
    ("_2", " 2", "31"),
    ("02", "02", "31"),
    ("__2", "  2", "366"),
    ("002", "002", "366"),
    ("15", "15", "00"),
    ("3", "3", "12"),
    ("03", "03", "12"),
    ("4", "4", "9"),
    ("04", "04", "09"),
    ("5", "5", "8"),
    ("05", "05", "08"),
    ("PM", "PM", "AM"),
    ("pm", "pm", "am"),
    ("MST", "MST", "+0545"),  # a zone without a name prints as -0700
    ("Z0700", "-0700", "+0545"),
    ("Z070000", "-070000", "+054500"),
    ("Z07", "-07", "+05"),
    ("Z07:00", "-07:00", "+05:45"),
    ("Z07:00:00", "-07:00:00", "+05:45:00"),
    ("-0700", "-0700", "+0545"),
    ("-070000", "-070000", "+054500"),
    ("-07", "-07", "+05"),
    ("-07:00", "-07:00", "+05:45"),
    ("-07:00:00", "-07:00:00", "+05:45:00"),
    (".0", ".1", ".0"),
    (".00", ".12", ".00"),
    (".000", ".123", ".000"),
    (".0000", ".1234", ".0001"),
    (".000000", ".123456", ".000120"),
    (".000000000", ".123456000", ".000120000"),
    (".9", ".1", ""),
    (".99", ".12", ""),
    (".999", ".123", ""),
    (".9999", ".1234", ".0001"),
    (".999999", ".123456", ".00012"),
    (".999999999", ".123456", ".00012"),
    (",000", ",123", ",000"),
    (",999999", ",123456", ",00012"),
]


@pytest.mark.parametrize(("layout", "ref", "other"), ELEMENTS)
def test_every_layout_element(layout: str, ref: str, other: str) -> None:
    assert format_go_time(REF, layout) == ref
    assert format_go_time(OTHER, layout) == other


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("Z07:00", "Z"),  # the Z forms print Z for UTC...
        ("Z0700", "Z"),
        ("Z07", "Z"),
        ("Z070000", "Z"),
        ("Z07:00:00", "Z"),
        ("-07:00", "+00:00"),  # ...the others always print the offset
        ("-0700", "+0000"),
        ("MST", "UTC"),
    ],
)
def test_utc_zone_forms(layout: str, expected: str) -> None:
    assert format_go_time(PLAY, layout) == expected


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        # Text that is not an element is copied; Go's precedence rules decide the rest.
        ("Janx", "Janx"),  # "Jan" before a lower-case letter is text
        ("Monthly", "Monthly"),
        ("MonJan", "MonJan"),  # before an upper-case letter it is an element
        ("January2", "January2"),
        ("_2006", "_2006"),  # a literal "_" then the year, not "_2" then "006"
        ("2006_2", "2006 2"),
        ("200", "200"),  # day "2" then the text "00"
        ("___2", "_  2"),  # text "_" then "__2"
        ("0002", "0002"),  # text "0" then "002"
        ("1504", "1504"),  # "15" then "04"
        (".0001", ".0001"),  # digits after the run: text ".00" then month "01"
        ("..000", "..123"),
        (".9x", ".1x"),
        ("05.000", "05.123"),
        ("2006.000", "2006.123"),  # the fraction needs no seconds before it
        ("PMpm", "PMpm"),
        ("MST2006", "MST2006"),
        ("-07:0", "-07:0"),  # "-07" then text ":0"
        ("Z", "Z"),
        ("3:04:05 pm", "3:04:05 pm"),
        ("no elements here!", "no elements here!"),
        ("", ""),
        ("héllo 2006 ✓", "héllo 2006 ✓"),
    ],
)
def test_precedence_and_literal_text(layout: str, expected: str) -> None:
    assert format_go_time(REF, layout) == expected


def test_the_ambiguous_layouts_on_another_time() -> None:
    assert format_go_time(OTHER, ".0001") == ".0012"  # the month, not a fraction
    assert format_go_time(OTHER, "200") == "3100"
    assert format_go_time(OTHER, "_2006") == "_2024"
    assert format_go_time(OTHER, "MonJan") == "TueDec"
    assert format_go_time(OTHER, "Janx Monthly") == "Janx Monthly"  # text, not Jan/Mon


@pytest.mark.parametrize(
    ("micro", "layout", "expected"),
    [
        (500000, ".999", ".5"),  # trailing zeros trimmed
        (500000, ".000", ".500"),  # kept
        (0, ".999999999", ""),  # a zero fraction vanishes, dot included
        (0, ".000", ".000"),
        (999999, ".9", ".9"),  # truncated, never rounded
        (999999, ".00", ".99"),
        (10, ".999999999", ".00001"),
        (1, ".0000000000", ".000001000"),  # more than nine digits print nine
    ],
)
def test_fractional_seconds(micro: int, layout: str, expected: str) -> None:
    t = dt.datetime(2020, 1, 1, tzinfo=dt.UTC).replace(microsecond=micro)
    assert format_go_time(t, layout) == expected


@pytest.mark.parametrize(
    ("hour", "expected"),
    [
        (0, "12 12 AM am"),
        (1, "1 01 AM am"),
        (11, "11 11 AM am"),
        (12, "12 12 PM pm"),
        (23, "11 11 PM pm"),
    ],
)
def test_twelve_hour_clock(hour: int, expected: str) -> None:
    assert format_go_time(PLAY.replace(hour=hour), "3 03 PM pm") == expected


def test_a_zone_with_seconds_in_its_offset() -> None:
    tz = dt.timezone(-dt.timedelta(hours=3, minutes=2, seconds=3))
    t = dt.datetime(2020, 5, 6, 7, 8, 9, tzinfo=tz)
    assert (
        format_go_time(t, "-07:00:00|Z070000|-0700|-07|MST") == "-03:02:03|-030203|-0302|-03|-0302"
    )


def test_a_named_fixed_zone_prints_its_name() -> None:
    tz = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
    assert format_go_time(dt.datetime(2020, 1, 1, tzinfo=tz), "MST Z07:00") == "IST +05:30"


@pytest.mark.parametrize(
    ("zone", "layout", "expected"),
    [
        ("America/New_York", RFC1123, "Thu, 04 Jul 2024 08:30:45 EDT"),  # summer time
        ("America/New_York", RFC3339, "2024-07-04T08:30:45-04:00"),
        ("America/New_York", UNIX_DATE, "Thu Jul  4 08:30:45 EDT 2024"),
        ("Asia/Kolkata", RFC3339_NANO, "2024-07-04T18:00:45.123456+05:30"),
        ("Asia/Kolkata", RFC822, "04 Jul 24 18:00 IST"),
        ("Asia/Kathmandu", RFC822Z, "04 Jul 24 18:15 +0545"),
        ("Asia/Kathmandu", "MST", "+0545"),  # tzdata names this zone by its offset
        ("Asia/Kathmandu", "Z07:00:00", "+05:45:00"),
    ],
)
def test_named_zones(zone: str, layout: str, expected: str) -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        tz = zoneinfo.ZoneInfo(zone)
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip(f"no time zone data for {zone}")
    t = dt.datetime(2024, 7, 4, 12, 30, 45, 123456, tzinfo=dt.UTC).astimezone(tz)
    assert format_go_time(t, layout) == expected


def test_new_york_in_winter() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        tz = zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no time zone data")
    t = dt.datetime(2024, 1, 15, 12, 0, tzinfo=dt.UTC).astimezone(tz)
    assert format_go_time(t, "15:04 MST -0700") == "07:00 EST -0500"


@pytest.fixture
def local_zone() -> Iterator[pytest.MonkeyPatch]:
    """Lets a test set TZ (POSIX rules, no zone files needed); restores the zone after."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch
    time.tzset()


@pytest.mark.parametrize(
    ("tz", "epoch", "expected"),
    [
        ("UTC0", 0, "1970-01-01 00:00:00 +0000 UTC"),
        ("IST-5:30", 0, "1970-01-01 05:30:00 +0530 IST"),
        ("EST5", 1700000000, "2023-11-14 17:13:20 -0500 EST"),
        ("UTC0", -1, "1969-12-31 23:59:59 +0000 UTC"),
    ],
)
def test_from_epoch_is_local_time(
    local_zone: pytest.MonkeyPatch, tz: str, epoch: int, expected: str
) -> None:
    local_zone.setenv("TZ", tz)
    time.tzset()
    assert format_go_time(from_epoch(epoch), "2006-01-02 15:04:05 -0700 MST") == expected


def test_a_naive_datetime_is_taken_as_local_time(local_zone: pytest.MonkeyPatch) -> None:
    local_zone.setenv("TZ", "IST-5:30")
    time.tzset()
    assert format_go_time(dt.datetime(2020, 1, 1, 12, 0), "15:04 Z07:00") == "12:00 +05:30"


def test_from_epoch_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of the supported range"):
        from_epoch(10**15)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("1700000000", 1700000000),
        ("-1", -1),
        ("+42", 42),
        ("007", 7),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
    ],
)
def test_parse_epoch(text: str, value: int) -> None:
    assert parse_epoch(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
        ("", 'strconv.ParseInt: parsing "": invalid syntax'),
        ("1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        (" 1", 'strconv.ParseInt: parsing " 1": invalid syntax'),
        ("0x10", 'strconv.ParseInt: parsing "0x10": invalid syntax'),  # base 10 only
        ("1_000", 'strconv.ParseInt: parsing "1_000": invalid syntax'),
        ("١٢", 'strconv.ParseInt: parsing "١٢": invalid syntax'),  # ASCII digits only
        ('a"b', 'strconv.ParseInt: parsing "a\\"b": invalid syntax'),  # quoted as Go does
        (
            "9223372036854775808",
            'strconv.ParseInt: parsing "9223372036854775808": value out of range',
        ),
    ],
)
def test_parse_epoch_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^strconv\.ParseInt: parsing ") as info:
        parse_epoch(text)
    assert str(info.value) == message


@pytest.mark.parametrize("element", ["2", "Jan", ".000", "x"])
def test_a_huge_layout_takes_memory_in_proportion(element: str) -> None:
    # A template can build a layout of millions of characters; its pieces must not
    # each cost a list entry or a tuple, let alone stay in a cache.
    layout = element * (64 * 1024 // len(element)) + "?"
    t = dt.datetime(2024, 3, 9, 7, 5, 1, tzinfo=dt.UTC)
    expected = format_go_time(t, element) * (64 * 1024 // len(element)) + "?"
    tracemalloc.start()
    try:
        assert format_go_time(t, layout) == expected
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(layout)


# --- GoTime: Go's calendar arithmetic, parsing, durations ------------------------------------
#
# The tables below were checked against Go 1.27's time package (time.Parse, Format,
# AddDate, Add, ParseDuration) with TZ=UTC, the local zone this module assumes.

RFC3339_NANO_MST = "2006-01-02T15:04:05.999999999Z07:00 MST"


def _t(text: str) -> GoTime:
    return parse_go_time(RFC3339, text)


PARSE = [
    ("2006-01-02T15:04:05Z07:00", "2026-11-20T03:00:00Z", "2026-11-20T03:00:00Z UTC"),
    ("2006-01-02T15:04:05Z07:00", "2026-11-20T03:00:00+05:30", "2026-11-20T03:00:00+05:30 +0530"),
    ("2006-01-02T15:04:05Z07:00", "2026-11-20T03:00:00-00:00", "2026-11-20T03:00:00Z UTC"),
    ("2006-01-02T15:04:05Z07:00", "2026-11-20T03:00:00+00:00", "2026-11-20T03:00:00Z UTC"),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00:00.123456789123Z",
        "2026-11-20T03:00:00.123456789Z UTC",
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00:00,5-08:00",
        "2026-11-20T03:00:00.5-08:00 -0800",
    ),
    ("2006-01-02T15:04:05Z07:00", "0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z UTC"),
    ("2006-01-02T15:04:05Z07:00", "2026-11-20T03:00:00+24:00", "2026-11-20T03:00:00+24:00 +2400"),
    ("2006-01-02", "2024-02-29", "2024-02-29T00:00:00Z UTC"),
    ("20060102", "20261120", "2026-11-20T00:00:00Z UTC"),
    ("2006/01/02/15", "2026/11/20/03", "2026-11-20T03:00:00Z UTC"),
    ("02/01/06 15:04", "20/11/68 03:00", "2068-11-20T03:00:00Z UTC"),
    ("02/01/06 15:04", "20/11/69 03:00", "1969-11-20T03:00:00Z UTC"),
    ("Jan 2, 2006 at 3:04pm (MST)", "Feb 3, 2013 at 7:54pm (PST)", "2013-02-03T19:54:00Z PST"),
    ("Jan 2, 2006 at 3:04pm (MST)", "feb 3, 2013 at 12:54am (PST)", "2013-02-03T00:54:00Z PST"),
    ("Monday, January 2 2006", "FRIDAY, NOVEMBER 20 2026", "2026-11-20T00:00:00Z UTC"),
    ("Mon Jan _2 15:04:05 2006", "Fri Nov  6 03:00:00 2026", "2026-11-06T03:00:00Z UTC"),
    ("Mon Jan _2 15:04:05 2006", "Fri Nov 6 03:00:00 2026", "2026-11-06T03:00:00Z UTC"),
    ("Mon 2006", "Sun 2026", "2026-01-01T00:00:00Z UTC"),
    ("1/2/2006 3:4:5", "11/20/2026 3:4:5", "2026-11-20T03:04:05Z UTC"),
    ("1/2/2006 3:4:5", "1/2/2026 11:40:50", "2026-01-02T11:40:50Z UTC"),
    ("3:04PM", "12:30AM", "0000-01-01T00:30:00Z UTC"),
    ("3:04PM", "12:30PM", "0000-01-01T12:30:00Z UTC"),
    ("03:04pm", "01:30pm", "0000-01-01T13:30:00Z UTC"),
    ("15:04:05", "23:59:59", "0000-01-01T23:59:59Z UTC"),
    ("2006 002", "2024 060", "2024-02-29T00:00:00Z UTC"),
    ("2006 002", "2024 366", "2024-12-31T00:00:00Z UTC"),
    ("2006 __2", "2026   7", "2026-01-07T00:00:00Z UTC"),
    ("2006-01-02 002", "2024-03-01 061", "2024-03-01T00:00:00Z UTC"),
    ("15:04:05.000", "10:00:00.120", "0000-01-01T10:00:00.12Z UTC"),
    ("15:04:05,000", "10:00:00.120", "0000-01-01T10:00:00.12Z UTC"),
    ("15:04:05.999", "10:00:00", "0000-01-01T10:00:00Z UTC"),
    ("15:04:05.999", "10:00:00.1234567891", "0000-01-01T10:00:00.123456789Z UTC"),
    ("15:04:05", "10:00:00.5", "0000-01-01T10:00:00.5Z UTC"),
    ("15:04:05.999999999", "10:00:00.000000001", "0000-01-01T10:00:00.000000001Z UTC"),
    ("2006-01-02 -0700", "2026-11-20 +0545", "2026-11-20T00:00:00+05:45 +0545"),
    ("2006-01-02 -07", "2026-11-20 -03", "2026-11-20T00:00:00-03:00 -0300"),
    ("2006-01-02 -07:00:00", "2026-11-20 +01:02:03", "2026-11-20T00:00:00+01:02 +0102"),
    ("2006-01-02 Z0700", "2026-11-20 Z", "2026-11-20T00:00:00Z UTC"),
    ("2006-01-02 15:04 MST", "2026-11-20 03:00 UTC", "2026-11-20T03:00:00Z UTC"),
    ("2006-01-02 15:04 MST", "2026-11-20 03:00 CET", "2026-11-20T03:00:00Z CET"),
    ("2006-01-02 15:04 MST", "2026-11-20 03:00 CEST", "2026-11-20T03:00:00Z CEST"),
    ("2006-01-02 15:04 MST", "2026-11-20 03:00 ChST", "2026-11-20T03:00:00Z ChST"),
    ("2006-01-02 15:04 MST", "2026-11-20 03:00 GMT+3", "2026-11-20T06:00:00+03:00 GMT+3"),
    ("2006-01-02 15:04 MST", "2026-11-20 03:00 +03", "2026-11-20T03:00:00Z +03"),
    ("2006-01-02 15:04 -0700 MST", "2026-11-20 03:00 +0100 CET", "2026-11-20T03:00:00+01:00 CET"),
    ("2006-01-02 15:04 MST -0700", "2026-11-20 03:00 UTC +0100", "2026-11-20T03:00:00Z UTC"),
    ("2006 01  02", "2026   11 02", "2026-11-02T00:00:00Z UTC"),
    ("", "", "0000-01-01T00:00:00Z UTC"),
    ("15:04", "03:00", "0000-01-01T03:00:00Z UTC"),
]

PARSE_ERRORS = [
    ("2006-01-02", "x", 'parsing time "x" as "2006-01-02": cannot parse "x" as "2006"'),
    ("2006-01-02", "", 'parsing time "" as "2006-01-02": cannot parse "" as "2006"'),
    (
        "2006-01-02",
        "2026-1-1",
        'parsing time "2026-1-1" as "2006-01-02": cannot parse "1-1" as "01"',
    ),
    (
        "2006-01-02",
        "2026/11/20",
        'parsing time "2026/11/20" as "2006-01-02": cannot parse "/11/20" as "-"',
    ),
    ("2006-01-02", "2026-11-20x", 'parsing time "2026-11-20x": extra text: "x"'),
    (
        "2006-01-02",
        "2026-11-20T00:00:00Z",
        'parsing time "2026-11-20T00:00:00Z": extra text: "T00:00:00Z"',
    ),
    (
        "2006-01-02",
        "+026-11-20",
        'parsing time "+026-11-20" as "2006-01-02": cannot parse "+026-11-20" as "2006"',
    ),
    ("2006-01-02", "2026-13-01", 'parsing time "2026-13-01": month out of range'),
    ("2006-01-02", "2026-00-01", 'parsing time "2026-00-01": month out of range'),
    ("2006-01-02", "2026-02-29", 'parsing time "2026-02-29": day out of range'),
    ("2006-01-02", "2100-02-29", 'parsing time "2100-02-29": day out of range'),
    ("2006-01-02", "2026-04-31", 'parsing time "2026-04-31": day out of range'),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00",
        'parsing time "2026-11-20T03:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as ":"',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00:00",
        'parsing time "2026-11-20T03:00:00" as "2006-01-02T15:04:05Z07:00"'
        ': cannot parse "" as "Z07:00"',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20t03:00:00z",
        'parsing time "2026-11-20t03:00:00z" as "2006-01-02T15:04:05Z07:00"'
        ': cannot parse "t03:00:00z" as "T"',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T24:00:00Z",
        'parsing time "2026-11-20T24:00:00Z": hour out of range',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:60:00Z",
        'parsing time "2026-11-20T03:60:00Z": minute out of range',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00:60Z",
        'parsing time "2026-11-20T03:00:60Z": second out of range',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00:00+25:00",
        'parsing time "2026-11-20T03:00:00+25:00": time zone offset hour out of range',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00:00+05:61",
        'parsing time "2026-11-20T03:00:00+05:61": time zone offset minute out of range',
    ),
    (
        "2006-01-02T15:04:05Z07:00",
        "2026-11-20T03:00:00+0530",
        'parsing time "2026-11-20T03:00:00+0530" as "2006-01-02T15:04:05Z07:00"'
        ': cannot parse "+0530" as "Z07:00"',
    ),
    ("3:04PM", "13:00PM", 'parsing time "13:00PM": hour out of range'),
    ("3:04PM", "1:00pm", 'parsing time "1:00pm" as "3:04PM": cannot parse "pm" as "PM"'),
    (
        "Jan 2006",
        "Jam 2026",
        'parsing time "Jam 2026" as "Jan 2006": cannot parse "Jam 2026" as "Jan"',
    ),
    (
        "Mon 2006",
        "Mun 2026",
        'parsing time "Mun 2026" as "Mon 2006": cannot parse "Mun 2026" as "Mon"',
    ),
    ("2006 002", "2023 366", 'parsing time "2023 366": day-of-year out of range'),
    ("2006 002", "2026 000", 'parsing time "2026 000": day-of-year out of range'),
    ("2006-01 002", "2024-02 061", 'parsing time "2024-02 061": day-of-year does not match month'),
    (
        "2006-01-02 002",
        "2024-03-02 061",
        'parsing time "2024-03-02 061": day-of-year does not match day',
    ),
    (
        "15:04:05.000",
        "10:00:00.12",
        'parsing time "10:00:00.12" as "15:04:05.000": cannot parse ".12" as ".000"',
    ),
    ("2006 MST", "2026 AB", 'parsing time "2026 AB" as "2006 MST": cannot parse "AB" as "MST"'),
    (
        "2006 MST",
        "2026 ABCDEF",
        'parsing time "2026 ABCDEF" as "2006 MST": cannot parse "ABCDEF" as "MST"',
    ),
    (
        "héllo 2006",
        "hello 2026",
        'parsing time "hello 2026" as "h\\xc3\\xa9llo 2006"'
        ': cannot parse "ello 2026" as "h\\xc3\\xa9llo "',
    ),
    ("2006", "2026é", 'parsing time "2026\\xc3\\xa9": extra text: "\\xc3\\xa9"'),
    ("2006", '20"6', 'parsing time "20\\"6" as "2006": cannot parse "20\\"6" as "2006"'),
]

DURATIONS = [
    ("0", 0),
    ("-0", 0),
    ("+0", 0),
    ("1h", 3600000000000),
    ("-1h30m", -5400000000000),
    ("90s", 90000000000),
    ("1.5h", 5400000000000),
    ("300ms", 300000000),
    ("1us", 1000),
    ("1µs", 1000),
    ("1μs", 1000),
    ("1ns", 1),
    ("2h45m30.5s", 9930500000000),
    ("1.0000000001s", 1000000000),
    ("0.1ns", 0),
    ("1.999999999ns", 1),
    (".5s", 500000000),
    ("5.s", 5000000000),
    ("1h1h", 7200000000000),
    ("00001s", 1000000000),
    ("-2562047h47m16.854775808s", -9223372036854775808),
    ("2562047h47m16.854775807s", 9223372036854775807),
    ("9223372036854775807ns", 9223372036854775807),
    ("0.3333333333333333333h", 1200000000000),
    ("1.123456789123h", 4044444440842),
]

DURATION_ERRORS = [
    ("", 'time: invalid duration ""'),
    ("-", 'time: invalid duration "-"'),
    ("+", 'time: invalid duration "+"'),
    ("1", 'time: missing unit in duration "1"'),
    ("-1", 'time: missing unit in duration "-1"'),
    ("x", 'time: invalid duration "x"'),
    ("h", 'time: invalid duration "h"'),
    (".h", 'time: invalid duration ".h"'),
    ("-.s", 'time: invalid duration "-.s"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("1H", 'time: unknown unit "H" in duration "1H"'),
    ("1 h", 'time: unknown unit " h" in duration "1 h"'),
    (" 1h", 'time: invalid duration " 1h"'),
    ("1h ", 'time: unknown unit "h " in duration "1h "'),
    ("1..5h", 'time: missing unit in duration "1..5h"'),
    ("1hé", 'time: unknown unit "h\\xc3\\xa9" in duration "1h\\xc3\\xa9"'),
    ("1é", 'time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
    ("3000000h", 'time: invalid duration "3000000h"'),
    ("100000000000000000000ns", 'time: invalid duration "100000000000000000000ns"'),
    ("1h-1m", 'time: unknown unit "h-" in duration "1h-1m"'),
    ("1e3s", 'time: unknown unit "e" in duration "1e3s"'),
]

ADD_DATE = [
    ("2026-10-31T00:00:00Z", (0, 1, 0), "2026-12-01T00:00:00Z"),
    ("2026-01-31T00:00:00Z", (0, 1, 0), "2026-03-03T00:00:00Z"),
    ("2024-01-31T00:00:00Z", (0, 1, 0), "2024-03-02T00:00:00Z"),
    ("2024-02-29T00:00:00Z", (1, 0, 0), "2025-03-01T00:00:00Z"),
    ("2024-02-29T00:00:00Z", (4, 0, 0), "2028-02-29T00:00:00Z"),
    ("2024-02-29T00:00:00Z", (-100, 0, 0), "1924-02-29T00:00:00Z"),
    ("2000-02-29T00:00:00Z", (0, 0, 365), "2001-02-28T00:00:00Z"),
    ("2024-03-01T00:00:00Z", (0, 0, -1), "2024-02-29T00:00:00Z"),
    ("2100-03-01T00:00:00Z", (0, 0, -1), "2100-02-28T00:00:00Z"),
    ("2026-12-31T23:59:59.999999999Z", (0, 0, 1), "2027-01-01T23:59:59.999999999Z"),
    ("2026-01-01T00:00:00Z", (0, -1, 0), "2025-12-01T00:00:00Z"),
    ("2026-05-31T00:00:00Z", (0, -3, 0), "2026-03-03T00:00:00Z"),
    ("2026-11-20T00:00:00Z", (0, -13, 0), "2025-10-20T00:00:00Z"),
    ("2026-11-20T00:00:00Z", (0, 25, 0), "2028-12-20T00:00:00Z"),
    ("2026-11-20T00:00:00Z", (1, -12, 0), "2026-11-20T00:00:00Z"),
    ("2026-11-20T00:00:00Z", (0, 0, 100000), "2300-09-05T00:00:00Z"),
    ("2026-11-20T00:00:00Z", (0, 0, -739940), "0000-12-31T00:00:00Z"),
    ("2026-11-20T03:04:05+05:30", (0, 0, 1), "2026-11-21T03:04:05+05:30"),
    ("2026-10-31T23:00:00-05:00", (0, 1, 0), "2026-12-01T23:00:00-05:00"),
    ("2026-03-31T00:00:00Z", (0, -1, -1), "2026-03-02T00:00:00Z"),
    ("2026-11-20T00:00:00Z", (0, 0, 0), "2026-11-20T00:00:00Z"),
]

ADD = [
    ("2026-11-20T03:00:00Z", "-1h", "2026-11-20T02:00:00Z"),
    ("2026-11-20T03:00:00Z", "-3h1ns", "2026-11-19T23:59:59.999999999Z"),
    ("2026-11-20T03:00:00.5Z", "500ms", "2026-11-20T03:00:01Z"),
    ("2026-11-20T03:00:00+05:30", "-4h", "2026-11-19T23:00:00+05:30"),
    ("2026-12-31T23:30:00-01:00", "1h", "2027-01-01T00:30:00-01:00"),
    ("2024-02-28T23:00:00Z", "1h", "2024-02-29T00:00:00Z"),
    ("2026-11-20T00:00:00Z", "2562047h47m16.854775807s", "2319-03-01T23:47:16.854775807Z"),
    ("2026-11-20T00:00:00Z", "-2562047h47m16.854775808s", "1734-08-11T00:12:43.145224192Z"),
    ("1970-01-01T00:00:00Z", "-1ns", "1969-12-31T23:59:59.999999999Z"),
    ("0000-03-01T00:00:00Z", "-24h", "0000-02-29T00:00:00Z"),
]

FORMAT = [
    (
        "2026-11-20T03:04:05.123456789+05:30",
        "2006-01-02T15:04:05.000000000 .999 ,000000 MST -0700 Z07:00",
        "2026-11-20T03:04:05.123456789 .123 ,123456 +0530 +0530 +05:30",
    ),
    ("0000-01-01T00:00:00Z", "2006 06 Jan Mon 002 __2 MST", "0000 00 Jan Sat 001   1 UTC"),
    ("0000-12-31T23:00:00-01:00", "2006 Monday 002 Z07:00", "0000 Sunday 366 -01:00"),
    ("2024-12-31T12:00:00Z", "002 __2 Mon 3PM", "366 366 Tue 12PM"),
    ("2026-11-20T03:00:00+24:00", "2006-01-02 15:04 -07:00 Z0700", "2026-11-20 03:00 +24:00 +2400"),
]


@pytest.mark.parametrize(("layout", "value", "expected"), PARSE)
def test_parse_go_time(layout: str, value: str, expected: str) -> None:
    assert format_go_time(parse_go_time(layout, value), RFC3339_NANO_MST) == expected


@pytest.mark.parametrize(("layout", "value", "message"), PARSE_ERRORS)
def test_parse_go_time_errors(layout: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^parsing time ") as info:
        parse_go_time(layout, value)
    assert str(info.value) == message


@pytest.mark.parametrize(("text", "nanos"), DURATIONS)
def test_parse_duration(text: str, nanos: int) -> None:
    assert parse_duration(text) == nanos


@pytest.mark.parametrize(("text", "message"), DURATION_ERRORS)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^time: ") as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(("start", "delta", "expected"), ADD_DATE)
def test_add_date(start: str, delta: tuple[int, int, int], expected: str) -> None:
    assert format_go_time(_t(start).add_date(*delta), RFC3339_NANO) == expected


@pytest.mark.parametrize(("start", "duration", "expected"), ADD)
def test_add(start: str, duration: str, expected: str) -> None:
    assert format_go_time(_t(start).add(parse_duration(duration)), RFC3339_NANO) == expected


@pytest.mark.parametrize(("time_text", "layout", "expected"), FORMAT)
def test_format_a_go_time(time_text: str, layout: str, expected: str) -> None:
    assert format_go_time(_t(time_text), layout) == expected


@pytest.mark.parametrize(
    "year", [0, 1, 3, 4, 99, 100, 399, 400, 1582, 1969, 1970, 2000, 2100, 9999]
)
def test_the_calendar_agrees_with_python_and_repeats_every_400_years(year: int) -> None:
    for month in (1, 2, 3, 12):
        for day in (1, 28):
            days = days_from_civil(year, month, day)
            assert civil_from_days(days) == (year, month, day)
            assert days_from_civil(year + 400, month, day) == days + 146_097
            if year:
                assert days == dt.date(year, month, day).toordinal() - 1
                assert GoTime(year, month, day).weekday() == dt.date(year, month, day).weekday()
    assert is_leap(year) == (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
    assert days_in_month(2, year) == (29 if is_leap(year) else 28)


def test_a_day_beyond_the_month_carries_over_as_in_go_date() -> None:
    assert civil_from_days(days_from_civil(2026, 1, 32)) == (2026, 2, 1)
    assert civil_from_days(days_from_civil(2026, 3, 0)) == (2026, 2, 28)
    assert civil_from_days(days_from_civil(-1, 12, 31)) == (-1, 12, 31)


def test_unix_time_round_trips_in_any_zone() -> None:
    t = GoTime(2026, 11, 20, 3, 4, 5, 123456789, 19800, "")
    # 2026-11-20T03:04:05Z is 1795143845 (date -d @1795143845 -u); +05:30 is earlier.
    assert t.unix_nanos() == (1_795_143_845 - 19800) * 10**9 + 123_456_789
    assert GoTime.from_unix_nanos(t.unix_nanos(), 19800, "") == t
    assert t.utc() == GoTime(2026, 11, 19, 21, 34, 5, 123456789)
    assert GoTime.from_unix_nanos(-1) == GoTime(1969, 12, 31, 23, 59, 59, 999_999_999)


def test_a_datetime_becomes_a_go_time() -> None:
    assert go_time(OTHER) == GoTime(2024, 12, 31, 0, 9, 8, 120_000, 20700, "")
    assert go_time(REF).zone == "MST"
    assert go_time(PLAY).zone == "UTC"


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("é", '"\\xc3\\xa9"'),  # every byte of a non-ASCII character, unlike strconv
        ("\n\x7f", '"\\x0a\x7f"'),
        ("\ufffd", '"\\xef\\xbf\\xbd"'),
    ],
)
def test_time_quote(text: str, quoted: str) -> None:
    assert time_quote(text) == quoted


@pytest.mark.parametrize(
    ("call", "size"),
    [
        # A template can build texts of megabytes: they are read by index, never sliced
        # as they are consumed (which would take time in the square of their length).
        (lambda n: parse_go_time("2006" + " " * n + "01", "2026" + " " * n + "11"), 200_000),
        (lambda n: parse_go_time("x" * n + "2006", "x" * n + "2026"), 200_000),
        (lambda n: parse_go_time("2 " * n, "1 " * n), 50_000),
        (lambda n: parse_duration("1ns" * n), 100_000),
        (lambda n: parse_duration("1" * n + "s"), 1_000_000),
    ],
)
def test_long_texts_take_time_in_proportion(call: Callable[[int], object], size: int) -> None:
    start = time.perf_counter()
    with contextlib.suppress(ValueError):
        call(size)
    assert time.perf_counter() - start < 2.0
