"""The DSL's schedule: ``Playbook(..., schedule=schedule("@hourly", catch_up=24))``
is the YAML form's ``schedule:`` section (see the README's "Schedules")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from dataflow_runner.dsl.text import DslError


@dataclass(frozen=True)
class Schedule:
    """A playbook's ``schedule`` section, as the YAML form writes it."""

    doc: dict[str, Any]


def schedule(
    cron: str = "",
    *,
    timezone: str = "UTC",
    catch_up: int | None = None,
    oldest_first: bool = False,
    max_active_runs: int = 1,
    trigger: Literal["clock", "inputs"] = "clock",
    poke_seconds: float = 60.0,
    deadline: float | None = None,
    paused: bool = False,
    webhook: str | None = None,
) -> Schedule:
    """When the server runs the playbook: ``cron`` in ``timezone``, catching up the
    last ``catch_up`` partitions (or ticks), at most ``max_active_runs`` at once;
    ``trigger="inputs"``: as soon as a partition's inputs exist (``deadline``:
    seconds after it closed before its owner is alerted at ``webhook``)."""
    if not isinstance(cron, str):
        raise DslError(f"schedule: cron must be a string such as '0 * * * *', got {cron!r}")
    doc: dict[str, Any] = {"cron": cron} if cron else {}
    if timezone != "UTC":
        doc["timezone"] = timezone
    if catch_up is not None:
        doc["catchUp"] = {"last": catch_up, **({"oldestFirst": True} if oldest_first else {})}
    if max_active_runs != 1:
        doc["maxActiveRuns"] = max_active_runs
    if trigger != "clock":
        doc["trigger"] = trigger
    if poke_seconds != 60.0:
        doc["pokeSeconds"] = poke_seconds
    if deadline is not None:
        doc["deadline"] = deadline
    if paused:
        doc["paused"] = True
    if webhook is not None:
        doc["alerts"] = {"webhook": webhook}
    return Schedule(doc)
