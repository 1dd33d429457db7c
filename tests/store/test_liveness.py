"""What the reader works out and the store never holds: a RUNNING run whose
runner is gone is DEAD, a cluster whose host process died is terminated."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from dataflow_runner.store import RunFilter, Store, StoreReader
from dataflow_runner.store.reader import STALE_AFTER
from dataflow_runner.store.records import (
    ClusterRecord,
    ClusterState,
    RunKind,
    RunRecord,
    RunState,
)

T0 = 1_763_800_000.123456
NOW = T0 + 3600  # the readers' clock
HERE = socket.gethostname()
FRESH = NOW - 5  # a heartbeat a moment ago
OLD = NOW - STALE_AFTER - 1  # just too long ago


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """A process of this host that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def zombie_pid() -> Iterator[int]:
    """A process of this host that has exited, not reaped yet."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, left a zombie
    yield child.pid
    child.wait()


def a_run(run_id: str, state: RunState = RunState.RUNNING, **fields: Any) -> RunRecord:
    fields.setdefault("created_at", T0)
    return RunRecord(run_id, RunKind.ATTACHED, "nightly", "local", state, **fields)


def liveness_cases(dead_pid: int, zombie_pid: int) -> list[tuple[RunRecord, RunState]]:
    """(stored run, what the reader reports at :data:`NOW`)."""
    running, submitted = RunState.RUNNING, RunState.SUBMITTED
    cases = [
        (a_run("fresh-heartbeat", heartbeat_at=FRESH), running),
        (a_run("heartbeat-just-in-time", heartbeat_at=NOW - STALE_AFTER + 1), running),
        (a_run("stale-heartbeat", heartbeat_at=OLD), RunState.DEAD),
        (a_run("long-stale-heartbeat", heartbeat_at=T0), RunState.DEAD),
        # Before its first heartbeat a run is as fresh as its start, then its creation.
        (a_run("just-started", started_at=FRESH), running),
        (a_run("started-long-ago", started_at=OLD), RunState.DEAD),
        (a_run("just-created", created_at=FRESH), running),
        (a_run("created-long-ago", created_at=OLD), RunState.DEAD),
        # A runner of this host: its process tells, whatever the heartbeat.
        (a_run("pid-alive-here", heartbeat_at=FRESH, host=HERE, pid=os.getpid()), running),
        (a_run("pid-dead-here", heartbeat_at=FRESH, host=HERE, pid=dead_pid), RunState.DEAD),
        (a_run("pid-zombie-here", heartbeat_at=FRESH, host=HERE, pid=zombie_pid), RunState.DEAD),
        # Another host's pid says nothing here.
        (a_run("pid-elsewhere", heartbeat_at=FRESH, host="other-host", pid=dead_pid), running),
        # Only a RUNNING run can be dead.
        (a_run("submitted-stale", submitted, heartbeat_at=OLD), submitted),
        (a_run("submitted-pid-dead", submitted, host=HERE, pid=dead_pid), submitted),
    ]
    for state in (RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED):
        name = state.value.lower()
        cases.append((a_run(f"{name}-stale", state, heartbeat_at=OLD), state))
        cases.append((a_run(f"{name}-pid-dead", state, host=HERE, pid=dead_pid), state))
    # A number in each id: "r-07-" is a unique prefix.
    return [
        (dataclasses.replace(run, id=f"r-{n:02}-{run.id}"), s) for n, (run, s) in enumerate(cases)
    ]


def test_a_running_run_whose_runner_is_gone_is_dead(
    store: Store, dead_pid: int, zombie_pid: int
) -> None:
    cases = liveness_cases(dead_pid, zombie_pid)
    for run, _ in cases:
        store.writer.create_run(run, [])
    reader = StoreReader(store.backend, clock=lambda: NOW)
    cases.sort(key=lambda case: (case[0].created_at, case[0].id), reverse=True)  # as listed
    expected = {run.id: state for run, state in cases}

    assert {i: r.state for i in expected if (r := reader.run(i))} == expected
    prefixes = {run.id: run.id[:5] for run, _ in cases}  # "r-07-": unique
    assert {i: reader.find_run(p).state for i, p in prefixes.items()} == expected
    listed = reader.runs(limit=100).items
    assert [(r.id, r.state) for r in listed] == list(expected.items())
    # Only the state is worked out: every other field is as stored.
    assert [dataclasses.replace(r, state=RunState.RUNNING) for r in listed] == [
        dataclasses.replace(run, state=RunState.RUNNING) for run, _ in cases
    ]
    dead = [i for i, state in expected.items() if state is RunState.DEAD]
    assert len(dead) >= 6
    assert [r.id for r in reader.runs(RunFilter(state=RunState.DEAD), limit=100).items] == dead
    for state in (RunState.SUBMITTED, RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED):
        found = reader.runs(RunFilter(state=state), limit=100).items
        assert [r.id for r in found] == [i for i, s in expected.items() if s is state]
    # The store still holds them RUNNING: DEAD is never written.
    rows = store.backend.query("SELECT id, state FROM runs", {})
    stored = {row["id"]: row["state"] for row in rows}
    assert {stored[i] for i in dead} == {"RUNNING"}


def test_a_dead_run_is_not_listed_as_running(store: Store, dead_pid: int, zombie_pid: int) -> None:
    cases = liveness_cases(dead_pid, zombie_pid)
    for run, _ in cases:
        store.writer.create_run(run, [])
    reader = StoreReader(store.backend, clock=lambda: NOW)
    cases.sort(key=lambda case: (case[0].created_at, case[0].id), reverse=True)  # as listed
    running = [r.id for r, state in cases if state is RunState.RUNNING]
    listed = reader.runs(RunFilter(state=RunState.RUNNING), limit=100).items
    assert [(r.id, r.state) for r in listed] == [(i, RunState.RUNNING) for i in running]


def test_a_run_dies_when_its_heartbeats_stop(store: Store) -> None:
    now = [T0]
    reader = StoreReader(store.backend, clock=lambda: now[0])
    store.writer.create_run(a_run("r-1", heartbeat_at=T0), [])
    for elapsed, state in [(0, RunState.RUNNING), (STALE_AFTER, RunState.RUNNING)]:
        now[0] = T0 + elapsed
        assert reader.run("r-1").state is state  # type: ignore[union-attr]
    now[0] = T0 + STALE_AFTER + 0.5
    assert reader.run("r-1").state is RunState.DEAD  # type: ignore[union-attr]
    assert reader.latest_run().state is RunState.DEAD  # type: ignore[union-attr]
    store.writer.heartbeat("r-1", now[0])  # its runner was only slow
    assert reader.run("r-1").state is RunState.RUNNING  # type: ignore[union-attr]


def test_the_stores_reader_reads_the_real_clock(store: Store) -> None:
    store.writer.create_run(a_run("r-old", heartbeat_at=time.time() - STALE_AFTER - 30), [])
    store.writer.create_run(a_run("r-new", heartbeat_at=time.time()), [])
    assert store.reader.run("r-old").state is RunState.DEAD  # type: ignore[union-attr]
    assert store.reader.run("r-new").state is RunState.RUNNING  # type: ignore[union-attr]


def test_dead_runs_are_paged_like_any_other(store: Store) -> None:
    """The DEAD filter reads RUNNING rows and keeps the dead ones: its pages must
    still hold every dead run once, even when most rows read are not dead."""
    runs = []
    for i in range(60):
        state = RunState.RUNNING if i % 4 else RunState.FAILED
        beat = OLD if i % 4 == 1 and i % 3 == 0 else FRESH  # 1 run in 12 is dead
        kind = (RunKind.TRANSIENT, RunKind.ATTACHED)[i // 30]
        runs.append(
            dataclasses.replace(
                a_run(f"r-{i:02}", state, heartbeat_at=beat, created_at=T0 + i // 2), kind=kind
            )
        )
    for run in runs:
        store.writer.create_run(run, [])
    reader = StoreReader(store.backend, clock=lambda: NOW)
    newest_first = sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)

    for where in (
        RunFilter(state=RunState.DEAD),
        RunFilter(state=RunState.DEAD, kind=RunKind.ATTACHED),
        RunFilter(state=RunState.DEAD, until=T0 + 20),
    ):
        expected = [
            r.id
            for r in newest_first
            if r.state is RunState.RUNNING
            and r.heartbeat_at == OLD
            and (where.kind is None or r.kind is where.kind)
            and (where.until is None or r.created_at < where.until)
        ]
        assert len(expected) >= 2, where
        got: list[str] = []
        page = reader.runs(where, limit=1)
        while True:
            assert all(r.state is RunState.DEAD for r in page.items)
            got += [r.id for r in page.items]
            if page.next is None:
                break
            page = reader.runs(where, limit=1, after=page.next)
        assert got == expected, where
        assert [r.id for r in reader.runs(where, limit=100).items] == expected


def a_cluster(cluster_id: str, state: ClusterState, **fields: Any) -> ClusterRecord:
    return ClusterRecord(cluster_id, "local", "dev", state, T0, updated_at=T0 + 5, **fields)


def test_a_cluster_whose_host_process_died_is_terminated(store: Store, dead_pid: int) -> None:
    running, waiting = ClusterState.RUNNING, ClusterState.WAITING
    gone = ClusterState.TERMINATED_WITH_ERRORS
    cases = [
        (a_cluster("l-alive", running, host=HERE, pid=os.getpid()), running, None),
        (a_cluster("l-dead", waiting, host=HERE, pid=dead_pid), gone, "its host process died"),
        (a_cluster("l-elsewhere", running, host="other-host", pid=dead_pid), running, None),
        (a_cluster("j-no-pid", waiting, host=HERE), waiting, None),
        (
            a_cluster("l-ended", ClusterState.TERMINATED, host=HERE, pid=dead_pid, reason="done"),
            ClusterState.TERMINATED,
            "done",
        ),
    ]
    for cluster, _, _ in cases:
        store.writer.upsert_cluster(cluster)
    reader = store.reader
    for cluster, state, reason in cases:
        got = reader.cluster(cluster.id)
        assert got is not None
        assert (got.state, got.reason) == (state, reason), cluster.id
        if cluster.id == "l-dead":
            assert got.ended_at == cluster.updated_at
            assert dataclasses.replace(got, state=waiting, reason=None, ended_at=None) == cluster
        else:
            assert got == cluster
    listed = {c.id: (c.state, c.reason) for c in reader.clusters()}
    assert listed == {c.id: (state, reason) for c, state, reason in cases}
    assert {c.id for c in reader.clusters(active=True)} == {"l-alive", "l-elsewhere", "j-no-pid"}
    rows = store.backend.query("SELECT state FROM clusters WHERE id = 'l-dead'", {})
    assert rows == [{"state": "WAITING"}]  # never written


def test_a_cluster_whose_host_process_died_is_listed_as_inactive(
    store: Store, dead_pid: int
) -> None:
    store.writer.upsert_cluster(a_cluster("l-dead", ClusterState.WAITING, host=HERE, pid=dead_pid))
    store.writer.upsert_cluster(a_cluster("l-ended", ClusterState.TERMINATED))
    assert {c.id for c in store.reader.clusters(active=False)} == {"l-dead", "l-ended"}
