"""The engine's store writes on the local fabric: the loop keeps one batch open
across its wakes and commits it once it is ``GROUP_COMMIT_SECONDS`` old, before
serving a request and when it returns. Real processes, a real SQLite store; the
loop's clock is the test's, so the window is decided, never raced."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dataflow_runner.config.model import Step, StepType
from dataflow_runner.engine.loop import GROUP_COMMIT_SECONDS, _GroupCommit, drive
from dataflow_runner.engine.recorder import Recorder, step_records
from dataflow_runner.engine.scheduler import Scheduler, TaskEvent
from dataflow_runner.fabrics.base import ClusterRef
from dataflow_runner.fabrics.emr.fabric import EmrFabric
from dataflow_runner.fabrics.local.commands import LocalSettings
from dataflow_runner.fabrics.local.fabric import LocalFabric
from dataflow_runner.store import Store, open_store
from dataflow_runner.store.records import RunRecord, RunState, StepState
from tests.store.conftest import count_transactions


@contextmanager
def a_run(
    tmp_path: Path, count: int, command: tuple[str, ...] = ("true",)
) -> Iterator[tuple[Store, LocalFabric, Scheduler, list[bool]]]:
    """``count`` steps of ``command`` recorded as a run; the last item lists, for
    each scheduler event, whether the loop's batch was open when it was recorded."""
    store = open_store(state_dir=tmp_path / "state")
    steps = [
        Step(id=f"s{i}", name=f"s{i}", type=StepType.COMMAND, command=command) for i in range(count)
    ]
    run = RunRecord("r-1", "run-transient", "p", "local", RunState.RUNNING, time.time())
    store.create_run(run, step_records("r-1", steps))
    fabric = LocalFabric(LocalSettings(concurrency=2, work_dir=tmp_path), tmp_path / "state")
    recorder = Recorder(store)
    in_batch: list[bool] = []

    def on_event(event: TaskEvent) -> None:
        in_batch.append(store._batch is not None)
        recorder(event)

    scheduler = Scheduler(fabric, ClusterRef("local", "local"), concurrency=2, on_event=on_event)
    scheduler.add("r-1", steps, time.time())
    try:
        yield store, fabric, scheduler, in_batch
    finally:
        fabric.close()
        store.close()


def all_completed(store: Store, count: int) -> bool:
    return [s.state for s in store.get_steps("r-1")] == [StepState.COMPLETED] * count and [
        (a.step_id, a.state) for a in store.get_attempts("r-1")
    ] == [(f"s{i}", StepState.COMPLETED) for i in range(count)]


def ticking(step: float) -> Callable[[], float]:
    """A clock that moves ``step`` seconds each time it is read."""
    counter = itertools.count()
    start = time.time()
    return lambda: start + next(counter) * step


def test_the_wakes_of_one_window_are_one_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert LocalFabric.groups_commits and not EmrFabric.groups_commits
    with a_run(tmp_path, 12) as (store, fabric, scheduler, in_batch):
        commits = count_transactions(store, monkeypatch)
        wakes: list[float] = []
        # The window never closes on this clock: everything is committed as the loop ends.
        drive(scheduler, fabric, batch=store.batch, on_wake=wakes.append, clock=lambda: 0.0)
        assert len(in_batch) == 2 * 12 and all(in_batch)
        assert len(wakes) > 1
        assert len(commits) == 1
        assert all_completed(store, 12)


def test_a_window_that_has_passed_is_committed_at_the_end_of_its_wake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with a_run(tmp_path, 12) as (store, fabric, scheduler, in_batch):
        commits = count_transactions(store, monkeypatch)
        wakes: list[float] = []
        # Each read of this clock is a window later: every wake that wrote commits.
        clock = ticking(GROUP_COMMIT_SECONDS)
        drive(scheduler, fabric, batch=store.batch, on_wake=wakes.append, clock=clock)
        assert len(in_batch) == 2 * 12 and all(in_batch)
        # A wake commits once at most (the last one returns before on_wake): the first
        # wake's two starts are one commit, so there are fewer than one per event.
        assert 1 < len(commits) <= len(wakes) + 1
        assert len(commits) < len(in_batch)
        assert all_completed(store, 12)


def test_a_request_sees_every_transition_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The steps end once the request was served (they wait for its file).
    wait = ("sh", "-c", "while [ ! -e served ]; do sleep 0.01; done")
    with a_run(tmp_path, 2, wait) as (store, fabric, scheduler, _):
        r, w = os.pipe()
        os.write(w, b"!")  # a request, ready at the loop's first wait
        seen: list[tuple[bool, int]] = []

        def on_extra(fd: int) -> None:
            os.read(fd, 1)
            seen.append((store._batch is None, len(store.get_attempts("r-1"))))
            (tmp_path / "served").touch()

        try:
            drive(
                scheduler,
                fabric,
                batch=store.batch,
                extra_handles=lambda: [r],
                on_extra=on_extra,
                clock=lambda: 0.0,  # the window alone would commit only at the end
            )
        finally:
            os.close(r)
            os.close(w)
        # Served after the first wake: both starts were committed, no batch open.
        assert seen == [(True, 2)]
        assert all_completed(store, 2)


def test_the_loop_wakes_to_commit_a_window_while_its_steps_run(tmp_path: Path) -> None:
    """Nothing else would wake the loop (no poll interval to speak of, one step that
    waits): the step's start is committed within the window all the same. Another
    connection watches for it; the step ends once it was seen (or after 30 s, as a
    guard, and the test fails)."""
    wait = ("sh", "-c", "while [ ! -e go ]; do sleep 0.01; done")
    with a_run(tmp_path, 1, wait) as (store, fabric, scheduler, _):
        seen: list[bool] = []

        def watch() -> None:
            reader = open_store(state_dir=tmp_path / "state")
            try:
                deadline = time.monotonic() + 30
                while not seen and time.monotonic() < deadline:
                    if reader.get_attempts("r-1"):
                        seen.append(True)
                    time.sleep(0.01)
            finally:
                reader.close()
                (tmp_path / "go").touch()

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            drive(scheduler, fabric, batch=store.batch, poll_interval=lambda _e: 3600.0)
        finally:
            watcher.join()
        assert seen == [True]
        assert all_completed(store, 1)


def test_the_loop_commits_what_happened_when_it_leaves_by_an_exception(
    tmp_path: Path,
) -> None:
    # Steps that outlive the first wake (the fabric stops them as the test ends).
    with a_run(tmp_path, 2, ("sleep", "60")) as (store, fabric, scheduler, in_batch):

        def on_wake(_now: float) -> None:
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            drive(scheduler, fabric, batch=store.batch, on_wake=on_wake, clock=lambda: 0.0)
        assert in_batch == [True, True]  # the first wake's two starts...
        assert store._batch is None  # ...committed as the loop left
        assert [a.state for a in store.get_attempts("r-1")] == [StepState.RUNNING] * 2


class _Block:
    def __init__(self, pending: bool) -> None:
        self.pending = pending
        self.ended = 0

    def __enter__(self) -> None:
        pass

    def __exit__(self, *_exc: object) -> None:
        self.ended += 1


def test_a_batch_with_writes_is_due_one_window_after_it_opened() -> None:
    block = _Block(pending=True)
    commits = _GroupCommit(lambda: block)
    commits.open(100.0)
    assert commits.due(100.0) == 100.0 + GROUP_COMMIT_SECONDS  # the loop wakes for it
    assert commits.due(100.0 + GROUP_COMMIT_SECONDS / 2) == 100.0 + GROUP_COMMIT_SECONDS
    assert block.ended == 0
    assert commits.due(100.0 + GROUP_COMMIT_SECONDS) is None  # committed
    assert block.ended == 1
    commits.commit()  # nothing open: nothing more
    assert block.ended == 1


def test_a_batch_without_writes_never_wakes_the_loop() -> None:
    block = _Block(pending=False)
    commits = _GroupCommit(lambda: block)
    commits.open(100.0)
    assert commits.due(100.0 + 3600) is None
    assert block.ended == 0  # still open: the next write joins it, committed at once
    block.pending = True
    assert commits.due(100.0 + 3600) is None
    assert block.ended == 1


def test_without_a_batch_nothing_is_held() -> None:
    commits = _GroupCommit(None)
    commits.open(100.0)
    assert commits.due(100.0) is None
    commits.commit()
