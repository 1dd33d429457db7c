"""Partitions: the hours, days, weeks or months a partitioned playbook runs for.

A playbook's ``partitions: {every, start, timezone}`` cuts time into intervals
``[start + k·unit, start + (k+1)·unit)`` on the calendar of its time zone (a day
of a DST change is 23 or 25 hours long; a month is a calendar month). A run is for
one partition or a window of them; each partition gives the templates
``.partition`` (its start, RFC 3339), ``.date`` (``2006-01-02``) and ``.hour``
(``15``).

>>> spec = Spec.of(Partitions(every="day", start="2026-11-01"))
>>> [p.key for p in spec.window(spec.parse("2026-11-19"), spec.parse("2026-11-20"))]
['2026-11-19T00:00:00Z', '2026-11-20T00:00:00Z']
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dataflow_runner.errors import ConfigError, FlagError

if TYPE_CHECKING:
    from dataflow_runner.config.model import Partitions

#: The most partitions a window may hold unless ``--max-partitions`` says more.
MAX_WINDOW = 10_000

_WHEN = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def utc_key(moment: dt.datetime) -> str:
    """An instant as the store keeps it: UTC, RFC 3339, fixed width (sortable)."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339(moment: dt.datetime) -> str:
    """``2026-11-20T00:00:00Z``, or with the zone's offset (``+01:00``)."""
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True, order=True)
class Partition:
    """One partition: ``[start, end)`` in the playbook's zone."""

    start: dt.datetime
    end: dt.datetime
    every: str

    @property
    def key(self) -> str:
        """Its start, RFC 3339 (``.partition`` in templates)."""
        return rfc3339(self.start)

    @property
    def slug(self) -> str:
        """A short, file-name-safe form: ``2026-11-20`` (``2026-11-20T03`` hourly; with
        the offset outside UTC, since a repeated hour of a DST change has two)."""
        if self.every != "hour":
            return self.start.strftime("%Y-%m-%d")
        offset = self.start.utcoffset()
        return self.start.strftime("%Y-%m-%dT%H" if not offset else "%Y-%m-%dT%H%z")

    @property
    def utc(self) -> str:
        return utc_key(self.start)

    def variables(self) -> dict[str, str]:
        """What templates see of it."""
        return {
            "partition": self.key,
            "date": self.start.strftime("%Y-%m-%d"),
            "hour": self.start.strftime("%H"),
        }


class Spec:
    """A playbook's partitioning: how to find, step and list its partitions."""

    def __init__(self, every: str, start: dt.datetime, zone: dt.tzinfo) -> None:
        self.every = every
        self.first = start
        self.zone = zone

    @classmethod
    def of(cls, partitions: Partitions, *, where: str = "$.data.partitions") -> Spec:
        """The spec a playbook declares (its errors point at ``where``)."""
        try:
            zone: dt.tzinfo = ZoneInfo(partitions.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {partitions.timezone!r} (expected an IANA name such as "
                "UTC or Europe/Paris)",
                path=f"{where}.timezone",
            ) from None
        start = _parse(partitions.start, zone)
        if start is None:
            raise ConfigError(
                f"expected a date or a time such as 2026-11-01 or 2026-11-01T00:00Z, got "
                f"{partitions.start!r}",
                path=f"{where}.start",
            )
        if partitions.every == "month" and start.day != 1:
            raise ConfigError(
                f"monthly partitions start on a month's first day, got {partitions.start!r}",
                path=f"{where}.start",
            )
        return cls(partitions.every, start, zone)

    # --- stepping ---------------------------------------------------------------------

    def _shift(self, moment: dt.datetime, count: int) -> dt.datetime:
        """``count`` units after ``moment``, on the zone's calendar."""
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        if self.every == "hour":
            # Hours are absolute: a DST change does not stretch them. (In UTC:
            # Python adds to an aware time's wall clock when the zone is the same.)
            return (moment.astimezone(dt.UTC) + dt.timedelta(hours=count)).astimezone(self.zone)
        if self.every in ("day", "week"):
            days = count * (7 if self.every == "week" else 1)
            shifted = local + dt.timedelta(days=days)
        else:
            month = local.month - 1 + count
            year, month = local.year + month // 12, month % 12 + 1
            shifted = local.replace(year=year, month=month)  # the start is on a month's 1st
        return _localise(shifted, self.zone)

    def at(self, index: int) -> Partition:
        """The ``index``-th partition (0: the first, at ``start``)."""
        start = self._shift(self.first, index)
        return Partition(start, self._shift(self.first, index + 1), self.every)

    def index_of(self, moment: dt.datetime) -> int:
        """Which partition holds ``moment`` (negative: before the first)."""
        if self.every == "hour":
            elapsed = moment.astimezone(dt.UTC) - self.first.astimezone(dt.UTC)
            return int(elapsed.total_seconds() // 3600)
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        first = self.first.astimezone(self.zone).replace(tzinfo=None)
        if self.every == "month":
            guess = (local.year - first.year) * 12 + local.month - first.month
        else:
            days = (local.date() - first.date()).days
            guess = days // (7 if self.every == "week" else 1)
        # The calendar guess may be one off around a partition's first hours.
        while self.at(guess).start > moment:
            guess -= 1
        while self.at(guess + 1).start <= moment:
            guess += 1
        return guess

    def containing(self, moment: dt.datetime) -> Partition:
        index = self.index_of(moment)
        if index < 0:
            raise FlagError(
                f"{rfc3339(moment)} is before the playbook's first partition "
                f"({rfc3339(self.first)})"
            )
        return self.at(index)

    # --- windows ------------------------------------------------------------------------

    def parse(self, text: str, *, flag: str = "--partition") -> dt.datetime:
        """A date or time given on the command line (in the playbook's zone unless it
        says its offset)."""
        found = _parse(text, self.zone)
        if found is None:
            raise FlagError(
                f"{flag} must be a date or a time such as 2026-11-20 or 2026-11-20T03:00, "
                f"got {text!r}"
            )
        return found

    def window(
        self, first: dt.datetime, last: dt.datetime, *, limit: int = MAX_WINDOW
    ) -> list[Partition]:
        """The partitions from the one holding ``first`` to the one holding ``last``,
        both included, at most ``limit`` of them."""
        if first > last:
            raise FlagError(
                f"the window starts after it ends ({rfc3339(first)} is after {rfc3339(last)})"
            )
        low, high = self.index_of(first), self.index_of(last)
        if high < 0:
            raise FlagError(
                f"{rfc3339(last)} is before the playbook's first partition ({rfc3339(self.first)})"
            )
        low = max(low, 0)
        return [self.at(i) for i in self._bounded(low, high, limit)]

    def last(self, count: int, now: dt.datetime, *, limit: int = MAX_WINDOW) -> list[Partition]:
        """The ``count`` most recent partitions that have closed by ``now``."""
        if count < 1:
            raise FlagError(f"--last must be at least 1, got {count}")
        closed = self.index_of(now) - 1  # the one holding now is still open
        if closed < 0:
            raise FlagError(
                f"no partition of the playbook has closed yet (the first starts at "
                f"{rfc3339(self.first)} and ends at {rfc3339(self.at(0).end)})"
            )
        low = max(0, closed - count + 1)
        return [self.at(i) for i in self._bounded(low, closed, limit)]

    def latest_closed(self, now: dt.datetime) -> Partition:
        return self.last(1, now)[0]

    @staticmethod
    def _bounded(low: int, high: int, limit: int) -> Iterator[int]:
        size = high - low + 1
        if size > limit:
            raise FlagError(
                f"a window of {size:,} partitions is more than {limit:,}: narrow it, or "
                f"raise the limit with --max-partitions {size}"
            )
        return iter(range(low, high + 1))

    def previous(self, partition: Partition) -> Partition | None:
        """The partition before, or None for the first."""
        index = self.index_of(partition.start)
        return self.at(index - 1) if index > 0 else None


def _localise(naive: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """A wall-clock time of ``zone`` as an aware time (in a DST gap, the moment
    after it; in a repeated hour, the first)."""
    return naive.replace(tzinfo=zone).astimezone(dt.UTC).astimezone(zone)


def _parse(text: str, zone: dt.tzinfo) -> dt.datetime | None:
    m = _WHEN.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, offset = m.groups()
    try:
        naive = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0)
        )
    except ValueError:
        return None
    if offset is None:
        return _localise(naive, zone)
    if offset == "Z":
        return naive.replace(tzinfo=dt.UTC).astimezone(zone)
    sign = 1 if offset[0] == "+" else -1
    digits = offset[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return naive.replace(tzinfo=dt.timezone(sign * delta)).astimezone(zone)


@dataclass(frozen=True)
class Window:
    """The partitions a run is for, as a front end asks: ``first`` to ``last``
    (dates or times, both included; ``first`` alone: that one partition), or the
    ``latest`` N closed ones; nothing: the latest closed partition.
    ``max_partitions`` raises the 10,000 limit; ``reverse`` starts with the newest."""

    first: str | None = None
    last: str | None = None
    latest: int | None = None
    reverse: bool = False
    max_partitions: int | None = None

    def __post_init__(self) -> None:
        if self.latest is not None and (self.first is not None or self.last is not None):
            raise FlagError("--last cannot be given with --from, --to or --partition")
        if self.last is not None and self.first is None:
            raise FlagError("--to needs --from")
        if self.max_partitions is not None and self.max_partitions < 1:
            raise FlagError(f"--max-partitions must be at least 1, got {self.max_partitions}")

    @property
    def given(self) -> bool:
        return self.first is not None or self.latest is not None

    def select(self, spec: Spec, now: dt.datetime) -> list[Partition]:
        """The window's partitions, oldest first (newest first with ``reverse``)."""
        limit = self.max_partitions or MAX_WINDOW
        if self.latest is not None:
            found = spec.last(self.latest, now, limit=limit)
        elif self.first is not None:
            flag = "--from" if self.last is not None else "--partition"
            first = spec.parse(self.first, flag=flag)
            last = spec.parse(self.last, flag="--to") if self.last is not None else first
            found = spec.window(first, last, limit=limit)
        else:
            found = [spec.latest_closed(now)]
        return found[::-1] if self.reverse else found
