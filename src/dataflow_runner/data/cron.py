"""A schedule's clock: the ticks of a cron expression in a time zone, and the
checks of a playbook's ``schedule`` section.

Cron is croniter's: five fields (minute, hour, day of month, month, day of
week) or ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``
(``@midnight``, ``@annually``). Ticks are wall-clock times of the schedule's
IANA time zone, with croniter's handling of DST changes: a time that a spring
change skips fires at the first minute after the gap (``30 2 * * *`` in
Europe/Paris fires at 03:00 that day), and an hour an autumn change repeats
fires once for each real hour (an hourly cron ticks 25 times that day).

>>> clock = Cron("0 * * * *", "UTC")
>>> [rfc3339(t) for t in clock.between(at("2026-11-20T00:30Z"), at("2026-11-20T02:00Z"))]
['2026-11-20T01:00:00Z', '2026-11-20T02:00:00Z']
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dataflow_runner.data.partitions import MAX_WINDOW, rfc3339
from dataflow_runner.errors import ConfigError

if TYPE_CHECKING:
    from dataflow_runner.config.model import Partitions, Schedule

ALIASES = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
WHERE = "$.data.schedule"
#: The most ticks looked at in one call (a cron of every minute over a week).
MAX_TICKS = 10_080


def at(text: str) -> dt.datetime:
    """``2026-11-20T00:30Z`` as an aware time (for tests and docs)."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def zone(name: str, *, path: str = f"{WHERE}.timezone") -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {name!r} (expected an IANA name such as UTC or Europe/Paris)",
            path=path,
        ) from None


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a cron expression this tool takes (None: it is)."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() in ALIASES:
            return None
        return f"unknown cron alias {text!r} (expected one of {', '.join(ALIASES)})"
    fields = text.split()
    if len(fields) != 5:
        return (
            f"a cron expression has five fields (minute hour day month weekday), got "
            f"{len(fields)} in {text!r}"
        )
    from croniter import croniter

    if not croniter.is_valid(text):
        return f"invalid cron expression {text!r} (expected five fields such as '0 * * * *')"
    return None


class Cron:
    """The ticks of ``expression`` in time zone ``timezone``."""

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        problem = cron_problem(expression)
        if problem is not None:
            raise ConfigError(problem, path=f"{WHERE}.cron")
        self.expression = expression.strip()
        self.zone = zone(timezone)

    def after(self, moment: dt.datetime) -> dt.datetime:
        """The first tick strictly after ``moment``."""
        from croniter import croniter

        found: dt.datetime = croniter(self.expression, moment.astimezone(self.zone)).get_next(
            dt.datetime
        )
        return found

    def latest(self, moment: dt.datetime) -> dt.datetime:
        """The last tick at or before ``moment``."""
        from croniter import croniter

        probe = moment.astimezone(self.zone) + dt.timedelta(microseconds=1)
        found: dt.datetime = croniter(self.expression, probe).get_prev(dt.datetime)
        return found

    def between(
        self, after: dt.datetime, until: dt.datetime, *, limit: int = MAX_TICKS
    ) -> list[dt.datetime]:
        """The ticks in ``(after, until]``, oldest first (the newest ``limit`` of them)."""
        from croniter import croniter

        ticks: list[dt.datetime] = []
        it = croniter(self.expression, until.astimezone(self.zone) + dt.timedelta(microseconds=1))
        while len(ticks) < limit:
            tick: dt.datetime = it.get_prev(dt.datetime)
            if tick <= after:
                break
            ticks.append(tick)
        return ticks[::-1]


def check_schedule(schedule: Schedule, partitions: Partitions | None) -> list[ConfigError]:
    """The problems of a playbook's ``schedule`` section, each at its JSON path."""
    found: list[ConfigError] = []
    if schedule.cron:
        problem = _safe_cron_problem(schedule.cron)
        if problem is not None:
            found.append(ConfigError(problem, path=f"{WHERE}.cron"))
    elif schedule.trigger != "inputs":
        found.append(
            ConfigError(
                "a schedule needs a cron expression (or trigger: inputs)", path=f"{WHERE}.cron"
            )
        )
    try:
        zone(schedule.timezone)
    except ConfigError as exc:
        found.append(exc)
    catch_up = schedule.catch_up
    if catch_up is not None:
        of = catch_up.of or ("partitions" if partitions is not None else "ticks")
        if of == "partitions" and partitions is None:
            found.append(
                ConfigError(
                    "catching up partitions needs a partitioned playbook (declare partitions, "
                    "or catch up ticks with of: ticks)",
                    path=f"{WHERE}.catchUp.of",
                )
            )
        if catch_up.last > MAX_WINDOW:
            found.append(
                ConfigError(
                    f"a catch-up window of {catch_up.last:,} {of} is more than the limit of "
                    f"{MAX_WINDOW:,}",
                    path=f"{WHERE}.catchUp.last",
                )
            )
    if schedule.trigger == "inputs" and partitions is None:
        found.append(
            ConfigError(
                "trigger: inputs starts a partition's run when its inputs exist: it needs a "
                "partitioned playbook",
                path=f"{WHERE}.trigger",
            )
        )
    if schedule.deadline is not None and schedule.trigger != "inputs":
        found.append(
            ConfigError(
                "deadline is the time a partition's inputs have to appear: it needs trigger: "
                "inputs",
                path=f"{WHERE}.deadline",
            )
        )
    return found


def _safe_cron_problem(expression: str) -> str | None:
    try:
        return cron_problem(expression)
    except ModuleNotFoundError:
        return "schedules need the croniter module: pip install 'dataflow-runner[server]'"


__all__ = ["Cron", "at", "check_schedule", "cron_problem", "rfc3339", "zone"]
