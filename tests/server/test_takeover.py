"""A server that stops (SIGTERM) leaves its runs to the next one; a server that
dies (SIGKILL) has its runs taken over by another on the same store. Either way
every run completes and no step runs twice: each step appends one line to its
own file, and each file ends with exactly one."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from dataflow_runner.engine.api import Engine
from dataflow_runner.procs import pid_alive
from dataflow_runner.store.records import RunState, StepState
from tests.server.conftest import (
    PATIENCE,
    PostgresServer,
    cluster_doc,
    make_token,
    playbook_doc,
    sh,
    start_server,
)


def _counted(n: int, *, hold: str = "sleep 1") -> dict[str, object]:
    """A run whose two steps each leave one line per execution in their file."""
    return playbook_doc(
        f"counted-{n}",
        [
            sh("first", f"echo x >> first.{n}; {hold}"),
            sh("second", f"echo x >> second.{n}", dependsOn=["first"]),
        ],
    )


def _lines(path: Path) -> int:
    return path.read_text().count("x") if path.exists() else 0


def test_a_server_stopped_by_sigterm_leaves_its_runs_to_the_next_one(
    tmp_path: Path, store_url: str | None, work: Path
) -> None:
    state = tmp_path / "state"
    token = make_token(state, store_url, "root", "admin")
    first = start_server(state, store_url)
    first.token = token
    hold = "while [ ! -e go ]; do sleep 0.05; done"
    run_id = first.submit({"cluster": cluster_doc(work), "playbook": _counted(0, hold=hold)})
    first.wait(run_id, lambda r: bool(r["steps"]) and r["steps"][0]["state"] == "RUNNING")
    assert first.stop(signal.SIGTERM) == 0
    assert "runs left RUNNING for the next server" in first.output()
    with Engine(state_dir=state, store=store_url) as engine:
        run = engine.run_record(run_id)
        assert run.state is RunState.DEAD  # stored RUNNING, its server gone
        (attempt,) = engine.attempts(run_id, "first")
        assert attempt.state is StepState.RUNNING  # the step was not cancelled
    pid = int(attempt.fabric_ref["fabric_id"]) if attempt.fabric_ref.get("fabric_id") else None
    if pid is not None:
        assert pid_alive(pid)
    second = start_server(state, store_url)
    second.token = token
    try:
        (work / "go").touch()
        run_after = second.wait(run_id)
        assert run_after["state"] == "COMPLETED", run_after
        assert (_lines(work / "first.0"), _lines(work / "second.0")) == (1, 1)
        assert [len(s["attempts"]) for s in run_after["steps"]] == [1, 1]
    finally:
        second.stop()


@pytest.mark.parametrize("trial", range(10))
def test_a_killed_servers_runs_are_taken_over_and_no_step_runs_twice(
    trial: int, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    store = postgres_server.new_database()
    state = tmp_path / "state"
    work = tmp_path / "work"
    work.mkdir()
    token = make_token(state, store, "root", "admin")
    doomed = start_server(state, store, workers=2)
    survivor = start_server(state, store, workers=2)
    for server in (doomed, survivor):
        server.token = token
    runs = 4
    try:
        ids = [
            doomed.submit({"cluster": cluster_doc(work), "playbook": _counted(n)})
            for n in range(runs)
        ]
        with Engine(state_dir=state, store=store) as engine:
            deadline = time.monotonic() + PATIENCE
            while not _mid_step(engine, ids, doomed.proc.pid):
                assert time.monotonic() < deadline, "the doomed server never ran a step"
                time.sleep(0.02)
        doomed.stop(signal.SIGKILL)
        for run_id in ids:
            run = survivor.wait(run_id)
            assert run["state"] == "COMPLETED", run
        counts = [(_lines(work / f"first.{n}"), _lines(work / f"second.{n}")) for n in range(runs)]
        assert counts == [(1, 1)] * runs
    finally:
        doomed.stop(signal.SIGKILL)
        survivor.stop()


def _mid_step(engine: Engine, ids: list[str], pid: int) -> bool:
    """Whether the server ``pid`` runs a step of one of ``ids`` now."""
    for run_id in ids:
        run = engine.store.reader.run(run_id)
        if run is None or run.pid != pid or run.state is not RunState.RUNNING:
            continue
        if any(s.state is StepState.RUNNING for s in engine.steps(run_id)):
            return True
    return False
