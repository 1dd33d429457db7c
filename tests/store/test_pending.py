"""The ends of runs a runner could not write to its store (``store/pending.py``):
kept only in a directory of this user's alone, recorded by the next engine that
writes that store (never by a reader, never for another store), and only for a
run that nobody took over since."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dataflow_runner.engine.api import Engine
from dataflow_runner.store import open_store
from dataflow_runner.store.records import AttemptRecord, RunState, StepState
from tests.integration.test_store import run_record, step_record

FAILED_AT = 2000.0
REASON = "cannot write the store at X: database or disk is full"


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(XDG_RUNTIME_DIR, TMPDIR) of this test."""
    runtime, temp = tmp_path / "runtime", tmp_path / "temp"
    runtime.mkdir(mode=0o700)
    temp.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("TMPDIR", str(temp))
    return runtime, temp


def test_an_end_is_kept_only_in_a_private_directory(
    tmp_path: Path, dirs: tuple[Path, Path]
) -> None:
    runtime, temp = dirs
    with open_store(None, state_dir=tmp_path / "state") as store:
        # Someone else's idea of our directory: a link, then one others can write.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        (runtime / "dataflow-runner").symlink_to(elsewhere)
        kept = store.pending.keep("r-1", RunState.FAILED, REASON, FAILED_AT)
        assert kept is not None and kept.parent == temp / f"dataflow-runner-{os.geteuid()}"
        assert list(elsewhere.iterdir()) == []
        (runtime / "dataflow-runner").unlink()
        (runtime / "dataflow-runner").mkdir(mode=0o777)
        os.chmod(runtime / "dataflow-runner", 0o777)  # (the umask may have narrowed it)
        kept = store.pending.keep("r-2", RunState.FAILED, REASON, FAILED_AT)
        assert kept is not None and kept.parent == temp / f"dataflow-runner-{os.geteuid()}"
        assert list((runtime / "dataflow-runner").iterdir()) == []
        # Neither is read from either.
        assert {e.run_id for e in store.pending.entries()} == {"r-1", "r-2"}
        assert json.loads(kept.read_text()) == {
            "run_id": "r-2",
            "state": "FAILED",
            "reason": REASON,
            "at": FAILED_AT,
        }


def test_the_next_writer_records_an_end_the_store_could_not_take(
    tmp_path: Path, dirs: tuple[Path, Path]
) -> None:
    state = tmp_path / "state"
    with open_store(None, state_dir=state) as store:
        # r-lost: its runner could not record its end (a step running, one pending);
        # r-taken: resumed since (a later heartbeat); r-done: ended all the same.
        store.writer.create_run(
            run_record("r-lost", heartbeat_at=1500.0),
            [step_record("a", 0, "r-lost"), step_record("b", 1, "r-lost")],
        )
        store.writer.start_attempt(
            AttemptRecord("r-lost", "a", 1, StepState.RUNNING, started_at=1600.0)
        )
        store.writer.create_run(run_record("r-taken", heartbeat_at=2500.0), [])
        store.writer.create_run(run_record("r-done", state=RunState.COMPLETED), [])
        for run_id in ("r-lost", "r-taken", "r-done", "r-unknown"):
            store.pending.keep(run_id, RunState.FAILED, REASON, FAILED_AT)
        # Not a kept end (written by hand, say): deleted, never applied.
        directory = dirs[0] / "dataflow-runner"
        bad = directory / (next(directory.iterdir()).name.split("-r-")[0] + "-r-bad.json")
        bad.write_text('{"run_id": "r-done", "state": "COMPLETED"}')
        # Another store's ends are not this one's.
        with open_store(None, state_dir=tmp_path / "other") as other:
            other.pending.keep("r-lost", RunState.FAILED, "other store", FAILED_AT)

    with Engine(state_dir=state) as engine:
        engine.runs()  # reading records nothing
        assert engine.run_record("r-lost").state is not RunState.FAILED
        assert len(list(directory.iterdir())) == 6
        engine.writer  # noqa: B018 - its first use records what was kept
        lost = engine.run_record("r-lost")
        assert (lost.state, lost.reason, lost.ended_at) == (RunState.FAILED, REASON, FAILED_AT)
        steps = {s.step_id: s for s in engine.steps("r-lost")}
        assert {s.state for s in steps.values()} == {StepState.CANCELLED}
        assert all(REASON in str(s.reason) for s in steps.values())
        [attempt] = engine.attempts("r-lost", "a")
        assert attempt.state is StepState.CANCELLED and attempt.ended_at == FAILED_AT
        assert engine.run_record("r-taken").state is not RunState.FAILED
        assert engine.run_record("r-done").state is RunState.COMPLETED
    # Only the other store's end is left.
    [left] = directory.iterdir()
    assert json.loads(left.read_text())["reason"] == "other store"
