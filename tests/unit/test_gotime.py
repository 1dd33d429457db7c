"""Go time layouts, table-tested against Go's documented behaviour.

The reference time ``Mon Jan 2 15:04:05 MST 2006`` (MST = -07:00) formatted
with a layout gives the layout back: that is how Go defines layouts, so the
standard layouts of Go's time package are their own expected output.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataflow_runner.config.gotime import format_go_time, from_epoch, parse_epoch

MST = dt.timezone(dt.timedelta(hours=-7), "MST")
REFERENCE = dt.datetime(2006, 1, 2, 15, 4, 5, tzinfo=MST)
PLAYGROUND = dt.datetime(2009, 11, 10, 23, 0, 0, tzinfo=dt.UTC)
FRACTION = dt.datetime(2024, 3, 9, 7, 5, 1, 123456, tzinfo=dt.UTC)

STANDARD = [  # Go's layout constants, with the reference time's rendering
    ("ANSIC", "Mon Jan _2 15:04:05 2006", "Mon Jan  2 15:04:05 2006"),
    ("UnixDate", "Mon Jan _2 15:04:05 MST 2006", "Mon Jan  2 15:04:05 MST 2006"),
    ("RubyDate", "Mon Jan 02 15:04:05 -0700 2006", "Mon Jan 02 15:04:05 -0700 2006"),
    ("RFC822", "02 Jan 06 15:04 MST", "02 Jan 06 15:04 MST"),
    ("RFC822Z", "02 Jan 06 15:04 -0700", "02 Jan 06 15:04 -0700"),
    ("RFC850", "Monday, 02-Jan-06 15:04:05 MST", "Monday, 02-Jan-06 15:04:05 MST"),
    ("RFC1123", "Mon, 02 Jan 2006 15:04:05 MST", "Mon, 02 Jan 2006 15:04:05 MST"),
    ("RFC1123Z", "Mon, 02 Jan 2006 15:04:05 -0700", "Mon, 02 Jan 2006 15:04:05 -0700"),
    ("RFC3339", "2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05-07:00"),
    ("RFC3339Nano", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05-07:00"),
    ("Kitchen", "3:04PM", "3:04PM"),
    ("Stamp", "Jan _2 15:04:05", "Jan  2 15:04:05"),
    ("StampMilli", "Jan _2 15:04:05.000", "Jan  2 15:04:05.000"),
    ("StampMicro", "Jan _2 15:04:05.000000", "Jan  2 15:04:05.000000"),
    ("StampNano", "Jan _2 15:04:05.000000000", "Jan  2 15:04:05.000000000"),
    ("DateTime", "2006-01-02 15:04:05", "2006-01-02 15:04:05"),
    ("DateOnly", "2006-01-02", "2006-01-02"),
    ("TimeOnly", "15:04:05", "15:04:05"),
]


@pytest.mark.parametrize(("name", "layout", "expected"), STANDARD, ids=[s[0] for s in STANDARD])
def test_standard_layouts_on_the_reference_time(name: str, layout: str, expected: str) -> None:
    assert format_go_time(REFERENCE, layout) == expected


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("2006-01-02T15:04:05Z07:00", "2009-11-10T23:00:00Z"),
        ("Mon Jan _2 15:04:05 MST 2006", "Tue Nov 10 23:00:00 UTC 2009"),
        ("3:04PM", "11:00PM"),
        ("3:04pm", "11:00pm"),
        ("03:04:05 PM", "11:00:00 PM"),
        ("Monday January 2", "Tuesday November 10"),
        ("20060102", "20091110"),
        ("2006-01-02-15-04-05", "2009-11-10-23-00-00"),
        ("06", "09"),
        ("1/2/06", "11/10/09"),
        ("Z0700", "Z"),
        ("Z07:00", "Z"),
        ("Z07", "Z"),
        ("Z070000", "Z"),
        ("Z07:00:00", "Z"),
        ("-0700", "+0000"),
        ("-07:00", "+00:00"),
        ("-07", "+00"),
        ("-070000", "+000000"),
        ("-07:00:00", "+00:00:00"),
        ("__2", "314"),
        ("002", "314"),
    ],
)
def test_elements(layout: str, expected: str) -> None:
    assert format_go_time(PLAYGROUND, layout) == expected


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (".000", ".123"),
        (".0", ".1"),
        (".000000", ".123456"),
        (".000000000", ".123456000"),
        (".999", ".123"),
        (".999999", ".123456"),
        (".999999999", ".123456"),
        (".9", ".1"),
        (",000", ",123"),
        (",999", ",123"),
        ("05.000", "01.123"),
        # A run of 0s followed by a digit is not a fraction: ".0001" is text then month.
        (".0001", ".0003"),
        ("15:04:05.00", "07:05:01.12"),
    ],
)
def test_fractional_seconds(layout: str, expected: str) -> None:
    assert format_go_time(FRACTION, layout) == expected


def test_trimmed_fraction_disappears_when_zero() -> None:
    t = dt.datetime(2024, 1, 1, 0, 0, 0, 100000, tzinfo=dt.UTC)
    assert format_go_time(t, "05.999") == "00.1"
    assert format_go_time(t.replace(microsecond=0), "05.999") == "00"
    assert format_go_time(t.replace(microsecond=0), "05.000") == "00.000"


@pytest.mark.parametrize(
    ("zone", "when", "layout", "expected"),
    [
        (
            "Asia/Kolkata",
            (2024, 1, 1),
            "-0700|-07:00|-07|Z07:00|MST|-07:00:00",
            "+0530|+05:30|+05|+05:30|IST|+05:30:00",
        ),
        ("Asia/Kathmandu", (2024, 1, 1), "-0700 MST", "+0545 +0545"),
        ("America/New_York", (2024, 1, 15), "MST -0700 Z07:00", "EST -0500 -05:00"),
        ("America/New_York", (2024, 7, 15), "MST -0700", "EDT -0400"),
        ("UTC", (2024, 1, 1), "MST Z07:00 -07:00", "UTC Z +00:00"),
    ],
)
def test_zones(zone: str, when: tuple[int, int, int], layout: str, expected: str) -> None:
    t = dt.datetime(*when, 12, 0, tzinfo=ZoneInfo(zone))
    assert format_go_time(t, layout) == expected


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("Janet", "Janet"),  # "Jan" followed by a lower-case letter is text
        ("January", "January"),
        ("Month", "Month"),  # "Mon" followed by a lower-case letter is text
        ("Mondays", "Mondays"),  # "Monday", then "s"
        ("_2006", "_2006"),  # a literal "_" then the year
        ("_2", " 2"),
        ("2006_01", "2006_01"),
        ("PM pm", "PM pm"),
        ("literal text: Hour", "literal text: Hour"),
    ],
)
def test_precedence_on_the_reference_time(layout: str, expected: str) -> None:
    assert format_go_time(REFERENCE, layout) == expected


def test_hour12_midnight_and_noon() -> None:
    midnight = dt.datetime(2024, 1, 1, 0, 7, tzinfo=dt.UTC)
    assert format_go_time(midnight, "3:04 PM|03 pm") == "12:07 AM|12 am"
    assert format_go_time(midnight.replace(hour=12), "3 PM") == "12 PM"


def test_single_digit_elements() -> None:
    t = dt.datetime(2024, 3, 9, 7, 5, 1, tzinfo=dt.UTC)
    assert format_go_time(t, "1 2 3 4 5 _2") == "3 9 7 5 1  9"
    assert format_go_time(t, "01 02 03 04 05") == "03 09 07 05 01"


def test_epochs_like_strconv() -> None:
    assert parse_epoch("1700000000") == 1700000000
    assert parse_epoch("-5") == -5
    assert parse_epoch("+5") == 5
    for bad, why in (
        ("", "invalid syntax"),
        ("1.5", "invalid syntax"),
        (" 1", "invalid syntax"),
        ("0x10", "invalid syntax"),
        ("9223372036854775808", "value out of range"),
    ):
        with pytest.raises(ValueError, match=f'parsing "{bad}": {why}'):
            parse_epoch(bad)


def test_from_epoch_is_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert format_go_time(from_epoch(0), "2006-01-02 15:04 MST") == "1970-01-01 05:30 IST"
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()


@given(
    st.datetimes(
        min_value=dt.datetime(1, 1, 1),
        max_value=dt.datetime(9999, 12, 31),
        timezones=st.just(dt.UTC),
    )
)
def test_numeric_layout_matches_python(t: dt.datetime) -> None:
    # Go pads the year to four digits (strftime's %Y does not on glibc).
    assert format_go_time(t, "2006-01-02T15:04:05") == (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    )
    assert format_go_time(t, ".000000") == f".{t.microsecond:06d}"


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz ,:-/()[]", max_size=30))
def test_text_without_elements_is_kept(text: str) -> None:
    # Lower-case letters and punctuation (no "pm") never form an element.
    if "pm" not in text:
        assert format_go_time(REFERENCE, text) == text
