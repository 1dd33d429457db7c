"""The scheduler's rules (``engine/ticks.py``) with an injected clock: ticks across
a DST change, catch-up after downtime limited to its window, catch-up after an
output was deleted, a failed partition retried at the next tick, maxActiveRuns,
pause, input-triggered starts and the deadline alert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import msgspec
import pytest

from dataflow_runner.config.model import Alerts, CatchUp, Partitions, Schedule
from dataflow_runner.data.cron import Cron, at, check_schedule
from dataflow_runner.data.partitions import Partition, Spec, rfc3339
from dataflow_runner.engine import ticks
from dataflow_runner.engine.ticks import DONE, INCOMPLETE, Entry, Known, Probe, decide


class Store:
    """What the store knows, as the rules see it: the keys taken, the active runs."""

    def __init__(self) -> None:
        self.refs: set[str] = set()
        self.active: list[str | None] = []
        self.alerted: set[str] = set()

    def known(self) -> Known:
        return Known(lambda refs: {r for r in refs if r in self.refs}, list(self.active),
                     set(self.alerted))  # fmt: skip

    def record(self, decision: ticks.Decision) -> list[str]:
        for start in decision.starts:
            assert start.ref not in self.refs, f"{start.ref} started twice"
            self.refs.add(start.ref)
        self.refs.update(decision.marks)
        self.alerted.update(a.ref for a in decision.alarms)
        return [s.ref for s in decision.starts]


def data(states: Mapping[str, str]) -> Probe:
    return Probe(states=lambda ps: {p.utc: states.get(p.utc, INCOMPLETE) for p in ps})


HOURLY = Spec.of(Partitions(every="hour", start="2026-11-01T00:00Z"))
DAILY = Spec.of(Partitions(every="day", start="2026-11-01"))
CREATED = at("2026-11-01T00:00Z").timestamp()


def entry(schedule: Schedule, spec: Spec | None = HOURLY, **kw: object) -> Entry:
    return Entry("s", schedule, spec, float(kw.get("created", CREATED)), bool(kw.get("paused")))


def test_cron_ticks_across_a_dst_change_are_croniters() -> None:
    paris = Cron("30 2 * * *", "Europe/Paris")
    spring = paris.between(at("2026-03-28T00:00Z"), at("2026-03-30T12:00Z"))
    # 02:30 does not exist on 29 March: the tick is the first minute after the gap.
    assert [rfc3339(t) for t in spring] == [
        "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"
    ]  # fmt: skip
    hourly = Cron("0 * * * *", "Europe/Paris")
    autumn = hourly.between(at("2026-10-24T22:00Z"), at("2026-10-25T23:00Z"))
    assert len(autumn) == 25  # the repeated hour ticks twice
    assert sum(1 for t in autumn if t.hour == 2) == 2
    assert hourly.latest(at("2026-10-25T00:59Z")).isoformat() == "2026-10-25T02:00:00+02:00"


def test_a_tick_runs_the_partition_that_just_closed_once() -> None:
    store = Store()
    rule = entry(Schedule(cron="5 * * * *"))
    now = at("2026-11-20T03:05Z")
    decision = decide(rule, now, store.known(), data({}))
    assert [(s.kind, s.partition.key if s.partition else None) for s in decision.starts] == [
        ("tick", "2026-11-20T02:00:00Z")
    ]
    store.record(decision)
    # The same tick, looked at again (another round, another server): nothing.
    assert decide(rule, now + dt.timedelta(seconds=30), store.known(), data({})).starts == []
    assert decision.next_tick == at("2026-11-20T04:05Z")


def test_a_playbook_without_partitions_gets_the_tick_as_a_variable() -> None:
    store = Store()
    rule = entry(Schedule(cron="*/15 * * * *", timezone="Europe/Paris"), spec=None)
    decision = decide(rule, at("2026-11-20T10:16Z"), store.known(), data({}))
    assert [dict(s.variables) for s in decision.starts] == [{"tick": "2026-11-20T11:15:00+01:00"}]
    # A tick before the schedule existed does not fire.
    late = entry(
        Schedule(cron="*/15 * * * *"), spec=None, created=at("2026-11-20T10:16Z").timestamp()
    )
    assert decide(late, at("2026-11-20T10:20Z"), Store().known(), data({})).starts == []


def test_catch_up_after_downtime_is_limited_to_the_window() -> None:
    store = Store()
    rule = entry(Schedule(cron="0 * * * *", catch_up=CatchUp(last=3), max_active_runs=9))
    # Nothing ran from 00:00 to 10:00 (no server): only the last 3 partitions run.
    decision = decide(rule, at("2026-11-20T10:00:30Z"), store.known(), data({}))
    assert [s.partition.key for s in decision.starts if s.partition] == [
        "2026-11-20T09:00:00Z", "2026-11-20T08:00:00Z", "2026-11-20T07:00:00Z"
    ]  # fmt: skip
    assert [s.kind for s in decision.starts] == ["tick", "catch-up", "catch-up"]
    oldest = entry(
        Schedule(cron="0 * * * *", catch_up=CatchUp(last=3, oldest_first=True), max_active_runs=9)
    )
    again = decide(oldest, at("2026-11-20T10:00:30Z"), Store().known(), data({}))
    assert [s.partition.key[11:13] for s in again.starts if s.partition] == ["07", "08", "09"]


def test_ticks_missed_without_partitions_are_caught_up_within_the_window() -> None:
    rule = entry(Schedule(cron="0 * * * *", catch_up=CatchUp(last=2), max_active_runs=9), spec=None)
    decision = decide(rule, at("2026-11-20T10:30Z"), Store().known(), data({}))
    assert [s.ref for s in decision.starts] == ["2026-11-20T10:00:00Z", "2026-11-20T09:00:00Z"]


def test_catch_up_reruns_a_partition_whose_output_was_deleted() -> None:
    store = Store()
    rule = entry(Schedule(cron="0 * * * *", catch_up=CatchUp(last=4), max_active_runs=9))
    states = {f"2026-11-20T0{h}:00:00Z": DONE for h in range(6, 10)}
    first = store.record(decide(rule, at("2026-11-20T10:00Z"), store.known(), data(states)))
    assert first == []  # all complete
    states["2026-11-20T07:00:00Z"] = INCOMPLETE  # its output deleted by hand
    states["2026-11-20T10:00:00Z"] = INCOMPLETE  # the one that just closed
    started = store.record(decide(rule, at("2026-11-20T11:00Z"), store.known(), data(states)))
    assert started == ["2026-11-20T10:00:00Z@2026-11-20T11:00:00Z",
                       "2026-11-20T07:00:00Z@2026-11-20T11:00:00Z"]  # fmt: skip


def test_a_failed_partition_is_retried_at_the_next_tick_not_before() -> None:
    store = Store()
    rule = entry(Schedule(cron="0 * * * *", catch_up=CatchUp(last=2), max_active_runs=9))
    states = {"2026-11-20T08:00:00Z": DONE}
    store.record(decide(rule, at("2026-11-20T10:00Z"), store.known(), data(states)))
    # 09:00's run failed: the rounds of the same tick do not run it again...
    for minute in (1, 30, 59):
        later = at(f"2026-11-20T10:{minute:02d}Z")
        assert decide(rule, later, store.known(), data(states)).starts == []
    # ...the next tick does (09:00 is still in the window; 10:00 closed meanwhile).
    retried = store.record(decide(rule, at("2026-11-20T11:00Z"), store.known(), data(states)))
    assert "2026-11-20T09:00:00Z@2026-11-20T11:00:00Z" in retried


def test_max_active_runs_caps_the_starts_and_the_rest_wait() -> None:
    store = Store()
    rule = entry(Schedule(cron="0 * * * *", catch_up=CatchUp(last=5), max_active_runs=2))
    store.active = ["2026-11-19T00:00:00Z"]  # one runs already
    now = at("2026-11-20T10:00Z")
    first = store.record(decide(rule, now, store.known(), data({})))
    assert len(first) == 1
    store.active += [None]
    assert decide(rule, now, store.known(), data({})).starts == []  # full
    store.active = []  # both ended: the same tick goes on with the rest
    rest = store.record(decide(rule, now + dt.timedelta(seconds=5), store.known(), data({})))
    assert len(rest) == 2 and not set(rest) & set(first)


def test_a_partition_a_live_run_covers_is_not_started_again() -> None:
    store = Store()
    store.active = ["2026-11-20T09:00:00Z"]
    rule = entry(Schedule(cron="0 * * * *", catch_up=CatchUp(last=2), max_active_runs=5))
    started = decide(rule, at("2026-11-20T10:00Z"), store.known(), data({})).starts
    assert [s.partition.utc for s in started if s.partition] == ["2026-11-20T08:00:00Z"]


def test_a_paused_schedule_starts_nothing() -> None:
    rule = entry(Schedule(cron="* * * * *"), paused=True)
    decision = decide(rule, at("2026-11-20T10:00Z"), Store().known(), data({}))
    assert decision.starts == [] and decision.marks == []


def test_inputs_start_a_partition_once_and_a_missed_deadline_alerts_once() -> None:
    store = Store()
    rule = entry(
        Schedule(trigger="inputs", poke_seconds=60, deadline=1800, catch_up=CatchUp(last=2),
                 alerts=Alerts(webhook="https://hooks.example/T/B/x"), max_active_runs=5),
    )  # fmt: skip
    ready: dict[str, bool] = {}

    def probe() -> Probe:
        return Probe(
            states=lambda ps: {},
            inputs_ready=lambda ps: {p.utc: ready.get(p.utc, False) for p in ps},
        )

    now = at("2026-11-20T10:10Z")  # 09:00 closed ten minutes ago, 08:00 seventy
    first = decide(rule, now, store.known(), probe())
    assert first.starts == []
    # 08:00's inputs were due by 09:30: one alert; 09:00's are not late yet.
    assert [a.ref for a in first.alarms] == ["deadline:2026-11-20T08:00:00Z"]
    assert "not there 1800 s after it closed" in first.alarms[0].text
    store.record(first)
    ready["2026-11-20T09:00:00Z"] = True  # its inputs appear
    started = store.record(decide(rule, now + dt.timedelta(minutes=1), store.known(), probe()))
    assert started == ["2026-11-20T09:00:00Z@inputs"]
    later = decide(rule, at("2026-11-20T10:40Z"), store.known(), probe())
    assert later.starts == [] and later.alarms == []  # started once, alerted once
    ready["2026-11-20T08:00:00Z"] = True  # late, but there: it runs
    assert [
        s.ref for s in decide(rule, at("2026-11-20T10:50Z"), store.known(), probe()).starts
    ] == ["2026-11-20T08:00:00Z@inputs"]


def test_a_manual_trigger_does_not_count_as_a_tick() -> None:
    # Manual runs have their own keys (manual:RUN): the tick still fires.
    store = Store()
    store.refs.add("manual:r-1")
    rule = entry(Schedule(cron="0 * * * *"))
    assert len(decide(rule, at("2026-11-20T10:00Z"), store.known(), data({})).starts) == 1


@pytest.mark.parametrize(
    ("schedule", "partitions", "path", "words"),
    [
        (Schedule(cron="61 * * * *"), None, "$.data.schedule.cron", "invalid cron expression"),
        (Schedule(cron="* * * *"), None, "$.data.schedule.cron", "five fields"),
        (Schedule(cron="@sometimes"), None, "$.data.schedule.cron", "unknown cron alias"),
        (Schedule(cron="@daily", timezone="Mars/Base"), None, "$.data.schedule.timezone",
         "unknown time zone 'Mars/Base'"),
        (Schedule(cron="@daily", catch_up=CatchUp(last=10_001)),
         Partitions(every="day", start="2026-11-01"),
         "$.data.schedule.catchUp.last", "more than the limit of 10,000"),
        (Schedule(cron="@daily", catch_up=CatchUp(last=3, of="partitions")), None,
         "$.data.schedule.catchUp.of", "needs a partitioned playbook"),
        (Schedule(trigger="inputs"), None, "$.data.schedule.trigger",
         "needs a partitioned playbook"),
    ],
)  # fmt: skip
def test_bad_schedules_are_one_line_each_at_their_path(
    schedule: Schedule, partitions: Partitions | None, path: str, words: str
) -> None:
    problems = check_schedule(schedule, partitions)
    assert len(problems) == 1
    assert problems[0].path == path and words in problems[0].message
    assert "\n" not in str(problems[0])


def test_partition_of_a_tick_is_airflows_data_interval() -> None:
    daily = entry(Schedule(cron="0 6 * * *"), spec=DAILY)
    start = decide(daily, at("2026-11-20T06:00Z"), Store().known(), data({})).starts[0]
    assert isinstance(start.partition, Partition)
    assert start.partition.key == "2026-11-19T00:00:00Z"
    assert msgspec.structs.replace(daily.schedule, paused=True).paused
