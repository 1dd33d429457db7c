"""The scheduler's rules, without I/O: given one schedule, the time, what the
store knows and what the data says, which runs to start and whom to alert.

Everything here is a pure function of its arguments (the clock is a parameter),
so each rule is tested without waiting; ``engine/schedules.py`` feeds it from
the store and the fabrics, and starts what it decides.

The rules:

* **Ticks.** The latest cron tick ``T`` at or before now is looked at once
  (a marker key records that it was). A playbook without partitions runs with
  ``.tick`` = ``T``; a partitioned one runs the partition that closed last by
  ``T`` (Airflow's data interval). A tick before the schedule existed does not
  fire (unless caught up).
* **Catch-up** (``catchUp: {last: N}``): at each tick, the ``N`` partitions
  closed by ``T`` are looked at and every incomplete one (outputs missing, or
  failed last time) that no live run covers runs again, newest first unless
  ``oldestFirst``; without partitions, the ``N`` latest ticks since the schedule
  existed that never ran are run. Ticks missed while no server ran are so
  caught up within the window, and no further.
* **Inputs** (``trigger: inputs``): every ``pokeSeconds`` the closed partitions
  of the window (the latest one without ``catchUp``) that never ran start as
  soon as their external inputs all exist; ``deadline`` seconds after a
  partition closed without them, its owner is alerted (once).
* ``maxActiveRuns`` caps the schedule's QUEUED and RUNNING runs: what does not
  fit waits (the tick stays unmarked, and is looked at again); ``paused`` starts
  nothing.
* Each start has a key unique for the schedule (``Start.ref``): the tick's time,
  ``PARTITION@TICK``, ``PARTITION@inputs``. The store refuses a key taken, so
  no tick starts twice, even when two schedulers decide the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataflow_runner.data.cron import Cron
from dataflow_runner.data.partitions import Partition, Spec, rfc3339, utc_key
from dataflow_runner.errors import FlagError

if TYPE_CHECKING:
    from dataflow_runner.config.model import Schedule

#: What a partition's data and history say of it (``Probe.states``).
DONE, INCOMPLETE, RUNNING = "done", "incomplete", "running"


@dataclass(frozen=True)
class Entry:
    """One schedule as the scheduler sees it."""

    name: str
    schedule: Schedule
    spec: Spec | None = None  # the playbook's partitions
    created_at: float = 0.0
    paused: bool = False
    #: The schedule's cron, made once (None: made from ``schedule``).
    made_cron: Cron | None = None

    @property
    def cron(self) -> Cron | None:
        if self.made_cron is not None:
            return self.made_cron
        return Cron(self.schedule.cron, self.schedule.timezone) if self.schedule.cron else None


@dataclass(frozen=True)
class Known:
    """What the store knows of the schedule: which of some keys are taken, and the
    partitions (None: not partitioned) of its QUEUED and RUNNING runs."""

    taken: Callable[[list[str]], set[str]]
    active: list[str | None] = field(default_factory=list)
    alerted: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Probe:
    """What the data says (asked only when a rule needs it): each partition's
    state (``DONE``, ``INCOMPLETE``, ``RUNNING``), by UTC key; whether each
    partition's external inputs all exist."""

    states: Callable[[list[Partition]], Mapping[str, str]]
    inputs_ready: Callable[[list[Partition]], Mapping[str, bool]] = lambda ps: {}


@dataclass(frozen=True)
class Start:
    ref: str
    kind: str  # tick, catch-up, inputs, manual
    tick: dt.datetime | None = None
    partition: Partition | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alarm:
    ref: str  # deadline:PARTITION
    kind: str
    partition: Partition
    text: str


@dataclass
class Decision:
    starts: list[Start] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    #: Keys to record as looked at (a tick whose candidates all started or were fine).
    marks: list[str] = field(default_factory=list)
    next_tick: dt.datetime | None = None
    #: The latest tick, when it has been looked at fully (now or before).
    looked: dt.datetime | None = None


def mark_of(tick: dt.datetime) -> str:
    """The key that records that tick ``tick`` was looked at."""
    return f"looked@{utc_key(tick)}"


def tick_variables(tick: dt.datetime) -> dict[str, str]:
    """What a playbook without partitions sees of its tick: ``.tick`` (RFC 3339 in
    the schedule's zone)."""
    return {"tick": rfc3339(tick)}


def decide(
    entry: Entry, now: dt.datetime, known: Known, probe: Probe, *, poke: bool = True
) -> Decision:
    """See the module's docstring. ``poke``: look for inputs this time."""
    cron = entry.cron
    decision = Decision(next_tick=cron.after(now) if cron is not None else None)
    if entry.paused:
        return decision
    room = entry.schedule.max_active_runs - len(known.active)
    if cron is not None:
        room = _clock(entry, cron, now, known, probe, decision, room)
    if entry.schedule.trigger == "inputs" and entry.spec is not None and poke:
        _inputs(entry, entry.spec, now, known, probe, decision, room)
    return decision


def _ordered(items: list[Start], oldest_first: bool) -> list[Start]:
    """Newest first, unless ``oldest_first``."""
    return sorted(items, key=_when, reverse=not oldest_first)


def _when(start: Start) -> dt.datetime:
    if start.partition is not None:
        return start.partition.start
    assert start.tick is not None
    return start.tick


def _clock(
    entry: Entry, cron: Cron, now: dt.datetime, known: Known, probe: Probe, out: Decision,
    room: int,
) -> int:  # fmt: skip
    tick = cron.latest(now)
    created = dt.datetime.fromtimestamp(entry.created_at, dt.UTC)
    catch_up = entry.schedule.catch_up
    mark = mark_of(tick)
    if mark in known.taken([mark]):
        out.looked = tick
        return room
    if entry.spec is None or (catch_up is not None and catch_up.of == "ticks"):
        wanted = _tick_candidates(entry, cron, tick, created, now)
    else:
        wanted = _partition_candidates(entry, entry.spec, tick, created, known, probe)
    if wanted is None:
        return room
    oldest_first = catch_up.oldest_first if catch_up is not None else False
    fresh = set(known.taken([s.ref for s in wanted]))
    todo = [s for s in _ordered(wanted, oldest_first) if s.ref not in fresh]
    fits = todo[: max(room, 0)]
    out.starts.extend(fits)
    if len(fits) == len(todo):
        out.marks.append(mark)
        out.looked = tick
    return room - len(fits)


def _tick_candidates(
    entry: Entry, cron: Cron, tick: dt.datetime, created: dt.datetime, now: dt.datetime
) -> list[Start] | None:
    catch_up = entry.schedule.catch_up
    if catch_up is None:
        ticks = [tick] if tick >= created else []
    else:
        ticks = cron.between(created - dt.timedelta(microseconds=1), now, limit=catch_up.last)
    kinds = {t: "tick" if t == tick else "catch-up" for t in ticks}
    return [Start(utc_key(t), kinds[t], t, None, tick_variables(t)) for t in ticks]


def _partition_candidates(
    entry: Entry, spec: Spec, tick: dt.datetime, created: dt.datetime, known: Known, probe: Probe
) -> list[Start] | None:
    catch_up = entry.schedule.catch_up
    try:
        latest = spec.latest_closed(tick)
    except FlagError:
        return None  # no partition has closed yet
    busy = {p for p in known.active if p is not None}
    at = utc_key(tick)
    if catch_up is None:
        if tick < created or latest.utc in busy:
            return [] if tick < created else None
        if entry.schedule.trigger == "inputs":
            return []  # the inputs start each partition
        return [Start(f"{latest.utc}@{at}", "tick", tick, latest)]
    window = spec.last(catch_up.last, tick)
    if entry.schedule.trigger == "inputs":
        # The clock only runs again what the inputs started once.
        started = known.taken([f"{p.utc}@inputs" for p in window])
        window = [p for p in window if f"{p.utc}@inputs" in started]
    window = [p for p in window if p.utc not in busy]
    states = probe.states(window) if window else {}
    return [
        Start(f"{p.utc}@{at}", "tick" if p == latest else "catch-up", tick, p)
        for p in window
        if states.get(p.utc, INCOMPLETE) == INCOMPLETE
    ]


def _inputs(
    entry: Entry, spec: Spec, now: dt.datetime, known: Known, probe: Probe, out: Decision,
    room: int,
) -> None:  # fmt: skip
    catch_up = entry.schedule.catch_up
    try:
        window = spec.last(catch_up.last if catch_up is not None else 1, now)
    except FlagError:
        return
    busy = {p for p in known.active if p is not None}
    refs = {p.utc: f"{p.utc}@inputs" for p in window}
    taken = known.taken(list(refs.values()))
    waiting = [p for p in window if refs[p.utc] not in taken and p.utc not in busy]
    if not waiting:
        return
    ready = probe.inputs_ready(waiting)
    starts = [Start(refs[p.utc], "inputs", None, p) for p in waiting if ready.get(p.utc)]
    oldest_first = catch_up.oldest_first if catch_up is not None else False
    out.starts.extend(_ordered(starts, oldest_first)[: max(room, 0)])
    deadline = entry.schedule.deadline
    if deadline is None:
        return
    for p in waiting:
        ref = f"deadline:{p.utc}"
        late = now >= p.end + dt.timedelta(seconds=deadline)
        if not ready.get(p.utc) and late and ref not in known.alerted:
            out.alarms.append(
                Alarm(
                    ref,
                    "deadline",
                    p,
                    f"Schedule '{entry.name}': the inputs of partition {p.key} were not there "
                    f"{deadline:g} s after it closed",
                )
            )


def upcoming(entry: Entry, now: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The schedule's next ``count`` ticks after ``now``."""
    cron = entry.cron
    out: list[dt.datetime] = []
    moment = now
    while cron is not None and len(out) < count:
        moment = cron.after(moment)
        out.append(moment)
    return out


def refs_of(starts: Iterable[Start]) -> list[str]:
    return [s.ref for s in starts]
