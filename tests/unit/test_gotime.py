"""Go time layouts, table-tested against the semantics documented for Go's time.Format.

Expected strings follow Go's documentation of the layout elements and of the
predefined layouts (``time.ANSIC`` ... ``time.TimeOnly``). No test depends on the
machine's time zone: aware datetimes are used, and local-time tests set ``TZ``.
"""

from __future__ import annotations

import datetime as dt
import time
import tracemalloc
from collections.abc import Iterator

import pytest

from dataflow_runner.config.template.gotime import format_go_time, from_epoch, parse_epoch

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
