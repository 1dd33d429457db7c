"""The SQLite store under real processes: concurrent writers, SIGKILL at random
moments, and schema migrations (first use, concurrent first use, newer schemas).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.errors import StoreError
from dataflow_runner.store import Page, open_store
from dataflow_runner.store.backends import HEAD, REVISIONS
from dataflow_runner.store.records import RunKind, RunRecord, RunState, StepState

# A child that records transitions and prints a line after each commit.
WRITER = """
import sys, time
from pathlib import Path
from dataflow_runner.store import open_store
from dataflow_runner.store.records import (
    AttemptRecord, RunKind, RunRecord, RunState, StepRecord, StepState,
)

state_dir, run_id, steps, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = open_store(state_dir=state_dir)
while go != "-" and not Path(go).exists():  # start together with the other writers
    time.sleep(0.001)
store.writer.create_run(
    RunRecord(run_id, RunKind.ATTACHED, "p", "local", RunState.RUNNING, time.time()),
    [
        StepRecord(run_id, f"s{i}", i, f"s{i}", "shell", StepState.PENDING, "CANCEL_AND_WAIT")
        for i in range(steps)
    ],
)
print("run", flush=True)
for i in range(steps):
    attempt = AttemptRecord(run_id, f"s{i}", 1, StepState.RUNNING, started_at=time.time())
    store.writer.start_attempt(attempt)
    print("start", i, flush=True)
    store.writer.finish_attempt(
        run_id, f"s{i}", 1, StepState.COMPLETED, at=time.time(), exit_code=0
    )
    print("finish", i, flush=True)
    store.writer.heartbeat(run_id, time.time())
    print("heartbeat", i, flush=True)
"""


def _python(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], text=True, **kwargs)


def _integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_two_writers_never_lose_a_transition(tmp_path: Path) -> None:
    open_store(state_dir=tmp_path).close()
    go = tmp_path / "go"
    writers = [
        _python(
            WRITER,
            str(tmp_path),
            run_id,
            "300",
            str(go),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for run_id in ("r-a", "r-b")
    ]
    time.sleep(0.3)  # both have opened the store
    go.touch()
    outputs = [w.communicate(timeout=300) for w in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
        assert "locked" not in err and len(out.splitlines()) == 1 + 3 * 300
    with open_store(state_dir=tmp_path) as store:
        for run_id in ("r-a", "r-b"):
            steps = store.reader.steps(run_id)
            assert len(steps) == 300
            assert all(s.state is StepState.COMPLETED and s.attempts == 1 for s in steps)
            assert len(store.reader.attempts(run_id)) == 300
    assert _integrity(tmp_path / "store.db") == "ok"


def test_sigkill_never_corrupts_or_loses_a_committed_transition(tmp_path: Path) -> None:
    open_store(state_dir=tmp_path).close()
    rng = random.Random(20261122)
    for trial in range(6):
        run_id = f"r-{trial}"
        child = _python(WRITER, str(tmp_path), run_id, "1000", "-", stdout=subprocess.PIPE)
        assert child.stdout is not None
        lines = [child.stdout.readline() for _ in range(rng.randint(1, 600))]
        time.sleep(rng.uniform(0, 0.02))  # ... and it goes on writing until killed
        child.send_signal(signal.SIGKILL)
        child.wait()
        lines += child.stdout.readlines()  # printed before the kill: committed too
        child.stdout.close()

        assert _integrity(tmp_path / "store.db") == "ok"
        with open_store(state_dir=tmp_path) as store:
            assert lines[0] == "run\n"
            assert store.reader.run(run_id) is not None
            steps = {s.step_id: s for s in store.reader.steps(run_id)}
            attempts = {a.step_id: a for a in store.reader.attempts(run_id)}
            beats = []
            for line in lines[1:]:
                if not line.endswith("\n"):
                    continue  # cut by the kill: the transition may or may not be there
                what, i = line.split()
                if what == "start":
                    assert attempts[f"s{i}"].state in (StepState.RUNNING, StepState.COMPLETED)
                elif what == "finish":
                    assert attempts[f"s{i}"].state is StepState.COMPLETED
                    assert steps[f"s{i}"].state is StepState.COMPLETED
                else:
                    beats.append(i)
            run = store.reader.run(run_id)
            assert run is not None
            assert not beats or run.heartbeat_at is not None


MIGRATE_AND_LIST = """
import sys
from pathlib import Path
from dataflow_runner.store import open_store
store = open_store(state_dir=Path(sys.argv[1]))
store.reader.runs()
print(sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic")))
"""


def test_importing_the_store_does_not_import_sqlalchemy() -> None:
    code = "import sys, dataflow_runner.store; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"


def test_a_fresh_store_is_migrated_and_an_up_to_date_one_skips_sqlalchemy(tmp_path: Path) -> None:
    first = subprocess.run(
        [sys.executable, "-c", MIGRATE_AND_LIST, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "'alembic'" in first.stdout  # the first use migrated with Alembic
    with sqlite3.connect(tmp_path / "store.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = subprocess.run(
        [sys.executable, "-c", MIGRATE_AND_LIST, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert again.stdout == "[]\n"


def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path) -> None:
    for round_ in range(4):
        state_dir = tmp_path / f"round-{round_}"
        procs = [
            _python(
                MIGRATE_AND_LIST, str(state_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, errors
        with sqlite3.connect(state_dir / "store.db") as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


def test_a_kill_during_the_first_migration_leaves_a_usable_store(tmp_path: Path) -> None:
    """The migration's DDL is one transaction: all or nothing."""
    rng = random.Random(7)
    for _ in range(5):
        for leftover in tmp_path.glob("store.db*"):
            leftover.unlink()
        child = _python(MIGRATE_AND_LIST, str(tmp_path), stdout=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.5))
        child.send_signal(signal.SIGKILL)
        child.wait()
        with open_store(state_dir=tmp_path) as store:
            assert store.reader.runs() == Page([], None)
        assert _integrity(tmp_path / "store.db") == "ok"


def test_a_newer_schema_is_a_clear_error(tmp_path: Path) -> None:
    open_store(state_dir=tmp_path).close()
    newer = f"{int(HEAD) + 1:04d}"
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (newer,))
    with pytest.raises(StoreError, match=rf"newer dataflow-runner \(schema {newer}\); upgrade"):
        open_store(state_dir=tmp_path)


def test_revisions_and_the_migrated_schema_agree(tmp_path: Path) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from dataflow_runner.store.schema import metadata
    from dataflow_runner.store.sqlalchemy_backend import MIGRATIONS

    # What the migrations build (at head) is what the records declare: the same
    # tables, each with the same columns, nullability and primary key.
    open_store(state_dir=tmp_path).close()
    with sqlite3.connect(tmp_path / "store.db") as conn:
        names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        assert {n for (n,) in names} == {*metadata.tables, "alembic_version"}
        for table in metadata.tables.values():
            found = conn.execute(f"PRAGMA table_info({table.name})").fetchall()
            migrated = {(name, not notnull, pk > 0) for _, name, _, notnull, _, pk in found}
            declared = {(c.name, c.nullable, c.primary_key) for c in table.columns}
            assert migrated == declared, table.name
    # The revisions known without Alembic are Alembic's, in order.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert tuple(reversed([r.revision for r in script.walk_revisions()])) == REVISIONS
    assert script.get_current_head() == HEAD


def test_a_new_state_directory_is_private(tmp_path: Path) -> None:
    with open_store(state_dir=tmp_path / "state") as store:
        store.writer.create_run(
            RunRecord("r-1", RunKind.ATTACHED, "p", "local", RunState.RUNNING, 0.0), []
        )
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0
    assert os.path.exists(tmp_path / "state" / "store.db")
