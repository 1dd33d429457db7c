"""Two schedulers on one real store (SQLite in a temporary directory), the clock
injected: only the lease holder schedules; when it stops renewing, the other takes
over after the lease period; a tick decided by both, or again after a failover,
starts once (its key); the DSL's schedule is the YAML form's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dataflow_runner.config.source import PlaybookSource
from dataflow_runner.engine import saved
from dataflow_runner.engine.api import Engine
from dataflow_runner.engine.payload import Keyring
from dataflow_runner.engine.queue import RunQueue
from dataflow_runner.engine.schedules import Scheduler, trigger

PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0"
CLUSTER = {"schema": "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0",
           "data": {"name": "t", "fabric": "local"}}  # fmt: skip
T0 = dt.datetime(2026, 11, 20, 10, 0, 30, tzinfo=dt.UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _schedulers(tmp_path: Path, clock: Clock) -> tuple[Engine, Scheduler, Scheduler]:
    engine = Engine(state_dir=tmp_path, clock=clock)
    keyring = Keyring.load(None, tmp_path)
    queue = RunQueue(engine, keyring)
    book = {"schema": PLAYBOOK, "data": {
        "name": "m", "schedule": {"cron": "* * * * *", "catchUp": {"last": 5}, "maxActiveRuns": 50},
        "steps": [{"id": "a", "type": "COMMAND", "command": ["echo", "{{.tick}}"]}]}}  # fmt: skip
    saved.put(engine, keyring, "m", playbook=book, cluster=CLUSTER, pool=None, variables={},
              by="test")  # fmt: skip
    one = Scheduler(engine, queue, keyring, lease_ttl=15.0)
    two = Scheduler(engine, queue, keyring, lease_ttl=15.0)
    # The leases' own clock is the injected one too.
    one.lease.clock = two.lease.clock = clock
    return engine, one, two


def _refs(engine: Engine) -> list[str]:
    return sorted(t.tick.ref for t in engine.store.scheduling.last_ticks("m", 100))


def test_one_scheduler_at_a_time_and_no_double_tick_across_a_failover(tmp_path: Path) -> None:
    clock = Clock()
    engine, one, two = _schedulers(tmp_path, clock)
    assert one.lease.hold() and not two.lease.hold()  # one holder at a time
    clock.now += 60  # 10:01:30
    assert one.lease.hold()  # renewed, as its loop does each round
    started = one.round()
    assert len(started) == 1
    # The same tick decided again by the other (a stalled leader, a restart): nothing.
    assert two.round() == []
    # The leader dies (stops renewing): within the lease period nobody takes over...
    clock.now += 10
    assert not two.lease.hold()
    # ...after it, the other does, and catches up the ticks missed meanwhile, once each.
    clock.now += 200  # 10:05:00: 10:02 .. 10:05 were missed
    assert two.lease.hold()
    assert not one.lease.hold()  # the old leader, back, is refused
    caught = two.round()
    assert len(caught) == 4
    assert two.round() == [] and one.round() == []
    assert _refs(engine) == [f"2026-11-20T10:0{m}:00Z" for m in range(1, 6)]
    # A manual trigger with vars is one more run, under its own key.
    run = trigger(engine, one.queue, one.keyring, "m", partition=None, variables={"x": "1"},
                  by="alice")  # fmt: skip
    assert run.variables["x"] == "1" and run.options["schedule"] == "m"
    assert f"manual:{run.id}" in _refs(engine)
    engine.close()


def test_the_dsl_schedule_is_the_yaml_forms(tmp_path: Path) -> None:
    code = tmp_path / "pb.py"
    code.write_text(
        "from dataflow_runner.dsl import Playbook, hourly, schedule\n"
        "pb = Playbook('c', partitions=hourly(start='2026-11-01T00:00Z'),\n"
        "              schedule=schedule('5 * * * *', catch_up=24, max_active_runs=4,\n"
        "                                timezone='Europe/Paris'))\n"
        "pb.command('a', ['true'], outputs=['out/{date}.txt'])\n"
    )
    yaml_form = tmp_path / "pb.yaml"
    yaml_form.write_text(
        f"schema: {PLAYBOOK}\ndata:\n  name: c\n"
        "  partitions: {every: hour, start: '2026-11-01T00:00Z'}\n"
        "  schedule: {cron: '5 * * * *', timezone: Europe/Paris, catchUp: {last: 24},"
        " maxActiveRuns: 4}\n"
        "  steps: [{id: a, type: COMMAND, command: ['true'], outputs: ['out/{{.date}}.txt']}]\n"
    )
    from_dsl = PlaybookSource(str(code), {}).head().schedule
    from_yaml = PlaybookSource(str(yaml_form), {}).head().schedule
    assert from_dsl is not None and from_dsl == from_yaml
    assert from_dsl.catch_up is not None and from_dsl.catch_up.last == 24
