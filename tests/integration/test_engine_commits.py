"""The engine's store writes on the local fabric: what one wake of the loop does
(a step's end, the next step's start) is one commit, made after the new steps
were started. Real processes, a real SQLite store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dataflow_runner.config.spec import Step, StepType
from dataflow_runner.engine.loop import drive
from dataflow_runner.engine.recorder import Recorder, step_records
from dataflow_runner.engine.scheduler import Scheduler, TaskEvent
from dataflow_runner.fabrics.base import ClusterRef
from dataflow_runner.fabrics.emr.fabric import EmrFabric
from dataflow_runner.fabrics.local.commands import LocalSettings
from dataflow_runner.fabrics.local.fabric import LocalFabric
from dataflow_runner.store import open_store
from dataflow_runner.store.records import RunRecord, RunState, StepState
from tests.store.conftest import count_transactions


def test_a_wake_of_the_loop_is_one_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(state_dir=tmp_path / "state")
    steps = [
        Step(id=f"s{i}", name=f"s{i}", type=StepType.COMMAND, command=("true",)) for i in range(12)
    ]
    run = RunRecord("r-1", "run-transient", "p", "local", RunState.RUNNING, time.time())
    store.create_run(run, step_records("r-1", steps))
    fabric = LocalFabric(LocalSettings(concurrency=2, work_dir=tmp_path), tmp_path / "state")
    assert fabric.groups_commits and not EmrFabric.groups_commits
    recorder = Recorder(store)
    in_batch: list[bool] = []

    def on_event(event: TaskEvent) -> None:
        in_batch.append(store._batch is not None)
        recorder(event)

    scheduler = Scheduler(fabric, ClusterRef("local", "local"), concurrency=2, on_event=on_event)
    scheduler.add("r-1", steps, time.time())
    commits = count_transactions(store, monkeypatch)
    wakes: list[float] = []
    try:
        drive(scheduler, fabric, batch=store.batch, on_wake=wakes.append)
    finally:
        fabric.close()
    # Every start and end was written inside the wake's batch...
    assert len(in_batch) == 2 * len(steps) and all(in_batch)
    # ...and a wake commits once at most (the last one returns before on_wake): the
    # first wake's two starts are one commit, so there are fewer than one per event.
    assert len(commits) <= len(wakes) + 1
    assert len(commits) < len(in_batch)
    assert [s.state for s in store.get_steps("r-1")] == [StepState.COMPLETED] * len(steps)
    assert [(a.step_id, a.state) for a in store.get_attempts("r-1")] == [
        (s.id, StepState.COMPLETED) for s in steps
    ]
    store.close()
