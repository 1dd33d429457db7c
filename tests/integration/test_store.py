"""The store's contract, on sqlite3, SQLAlchemy-on-SQLite and a real PostgreSQL."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.errors import StoreError
from dataflow_runner.store import Page, RunFilter, Store, StoreReader, open_store
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    RunKind,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)

#: The readers' clock: a little after the runs below were created, while their
#: runners still beat (a reader on the real clock would see them DEAD).
NOW = 1010.0


def reader(store: Store) -> StoreReader:
    return StoreReader(store.backend, clock=lambda: NOW)


def all_run_ids(store: Store) -> set[str]:
    """Every run's id, page after page."""
    ids: set[str] = set()
    page = store.reader.runs(limit=1000)
    while True:
        ids.update(r.id for r in page.items)
        if page.next is None:
            return ids
        page = store.reader.runs(limit=1000, after=page.next)


def run_record(run_id: str = "r-1", **extra: Any) -> RunRecord:
    base: dict[str, Any] = {
        "id": run_id,
        "kind": RunKind.TRANSIENT,
        "playbook": "p",
        "fabric": "local",
        "state": RunState.RUNNING,
        "created_at": 1000.0,
        "started_at": 1000.5,
        "variables": {"day": "2026-11-22"},
        "playbook_doc": {"steps": [{"id": "a"}]},
        "cluster_doc": {"name": "c"},
        "options": {"lock": None, "concurrency": 2},
        "pid": 42,
        "host": "h",
    }
    base.update(extra)
    return RunRecord(**base)


def step_record(step_id: str, position: int, run_id: str = "r-1") -> StepRecord:
    return StepRecord(
        run_id=run_id,
        step_id=step_id,
        position=position,
        name=step_id.upper(),
        type="COMMAND",
        state=StepState.PENDING,
        action_on_failure="CANCEL_AND_WAIT",
        depends_on=("x", "y"),
    )


def test_run_round_trip(store: Any) -> None:
    run = run_record()
    store.writer.create_run(run, [step_record("b", 1), step_record("a", 0)])
    assert reader(store).run("r-1") == run
    assert [s.step_id for s in reader(store).steps("r-1")] == ["a", "b"]
    assert reader(store).steps("r-1")[0].depends_on == ("x", "y")
    store.writer.update_run(
        "r-1",
        state=RunState.FAILED,
        ended_at=1005.25,
        reason="1/2 failed",
        cluster_id="l-X",
        options={"k": [1, 2]},
    )
    got = reader(store).run("r-1")
    assert got is not None
    assert got.state is RunState.FAILED and got.ended_at == 1005.25
    assert got.reason == "1/2 failed" and got.cluster_id == "l-X" and got.options == {"k": [1, 2]}
    store.writer.heartbeat("r-1", 2000.0)
    got = reader(store).run("r-1")
    assert got is not None and got.heartbeat_at == 2000.0
    assert reader(store).run("nope") is None


def test_attempts_and_step_transitions(store: Any) -> None:
    store.writer.create_run(run_record(), [step_record("a", 0)])
    store.writer.start_attempt(
        AttemptRecord(
            "r-1",
            "a",
            1,
            StepState.RUNNING,
            started_at=10.0,
            fabric_ref={"pid": 7},
            log_location="/logs/a/1",
        )
    )
    step = reader(store).steps("r-1")[0]
    assert (step.state, step.attempts, step.started_at, step.fabric_ref) == (
        StepState.RUNNING,
        1,
        10.0,
        {"pid": 7},
    )
    store.writer.finish_attempt(
        "r-1",
        "a",
        1,
        StepState.FAILED,
        at=11.0,
        exit_code=3,
        reason="exit code 3",
        cause="ValueError: x",
        final=False,
    )
    assert reader(store).steps("r-1")[0].state is StepState.RUNNING  # not final: retried
    store.writer.start_attempt(AttemptRecord("r-1", "a", 2, StepState.RUNNING, started_at=12.0))
    store.writer.finish_attempt("r-1", "a", 2, StepState.COMPLETED, at=13.0, exit_code=0)
    step = reader(store).steps("r-1")[0]
    assert (step.state, step.attempts, step.started_at, step.ended_at, step.exit_code) == (
        StepState.COMPLETED,
        2,
        10.0,
        13.0,
        0,
    )
    attempts = reader(store).attempts("r-1", "a")
    assert [(a.attempt, a.state, a.exit_code, a.cause) for a in attempts] == [
        (1, StepState.FAILED, 3, "ValueError: x"),
        (2, StepState.COMPLETED, 0, None),
    ]
    assert attempts[0].log_location == "/logs/a/1"
    store.writer.update_attempt("r-1", "a", 1, log_location="s3://b/k/")
    assert reader(store).attempts("r-1")[0].log_location == "s3://b/k/"
    store.writer.update_step("r-1", "a", cause="found later")
    assert reader(store).steps("r-1")[0].cause == "found later"


def test_listing_and_filters(store: Any) -> None:
    for i, (state, playbook) in enumerate(
        [
            (RunState.COMPLETED, "x"),
            (RunState.FAILED, "y"),
            (RunState.COMPLETED, "y"),
            (RunState.RUNNING, "x"),
        ]
    ):
        store.writer.create_run(
            run_record(f"r-2026-{i}", state=state, playbook=playbook, created_at=100.0 + i), []
        )

    def ids(where: RunFilter | None = None, limit: int = 20) -> list[str]:
        return [r.id for r in reader(store).runs(where, limit=limit).items]

    assert ids() == ["r-2026-3", "r-2026-2", "r-2026-1", "r-2026-0"]
    assert ids(RunFilter(state=RunState.COMPLETED)) == ["r-2026-2", "r-2026-0"]
    assert ids(RunFilter(playbook="y")) == ["r-2026-2", "r-2026-1"]
    assert ids(RunFilter(since=101.0, until=103.0)) == ["r-2026-2", "r-2026-1"]
    assert ids(limit=1) == ["r-2026-3"]
    latest = reader(store).latest_run()
    assert latest is not None and latest.id == "r-2026-3"
    assert reader(store).find_run("r-2026-2").id == "r-2026-2"
    with pytest.raises(StoreError, match="'r-2026' matches 4 runs: r-2026-3, "):
        reader(store).find_run("r-2026")
    with pytest.raises(StoreError, match="no run 'zzz'"):
        reader(store).find_run("zzz")


def test_clusters(store: Any) -> None:
    base = ClusterRecord(
        "l-A",
        "local",
        "c",
        ClusterState.STARTING,
        created_at=1.0,
        config_doc={"k": "v"},
        endpoint="/x",
    )
    store.writer.upsert_cluster(base)
    store.writer.upsert_cluster(dataclasses.replace(base, id="j-B", fabric="emr", created_at=2.0))
    store.writer.update_cluster("l-A", state=ClusterState.TERMINATED, ended_at=5.0, reason="done")
    assert store.reader.cluster("l-A").state is ClusterState.TERMINATED
    assert store.reader.cluster("l-A").config_doc == {"k": "v"}
    assert [c.id for c in store.reader.clusters()] == ["j-B", "l-A"]
    assert [c.id for c in store.reader.clusters(active=True)] == ["j-B"]
    assert [c.id for c in store.reader.clusters(active=False)] == ["l-A"]
    assert [c.id for c in store.reader.clusters(fabric="emr")] == ["j-B"]
    store.writer.upsert_cluster(dataclasses.replace(base, name="renamed"))
    assert store.reader.cluster("l-A").name == "renamed"


def test_programming_errors_and_missing_rows(store: Any) -> None:
    store.writer.create_run(run_record(), [step_record("a", 0)])
    with pytest.raises(TypeError, match="no updatable field colour"):
        store.writer.update_run("r-1", colour="red")
    with pytest.raises(TypeError):
        store.writer.update_run("r-1", id="other")
    with pytest.raises(StoreError, match="no run 'missing'"):
        store.writer.update_run("missing", state=RunState.FAILED)
    with pytest.raises(StoreError, match="no step 'zz' of run 'r-1'"):
        store.writer.update_step("r-1", "zz", state=StepState.FAILED)
    with pytest.raises(StoreError, match="no cluster 'l-none'"):
        store.writer.update_cluster("l-none", state=ClusterState.TERMINATED)


def test_unreachable_postgres_is_one_line_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://user:s3cr3t-pw@127.0.0.1:1/db", state_dir=tmp_path)
    message = str(info.value)
    assert "s3cr3t-pw" not in message
    assert message.startswith("cannot open the store at postgresql://user:***@127.0.0.1:1/db: ")
    assert "\n" not in message


def test_opening_an_existing_sqlite_store_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    open_store(state_dir=tmp_path).close()  # creates and migrates
    code = (
        "import sys; from pathlib import Path; from dataflow_runner.store import open_store; "
        f"s = open_store(state_dir=Path({str(tmp_path)!r})); s.reader.runs(); "
        "print('sqlalchemy' in sys.modules, 'alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    code = (
        "from pathlib import Path; from dataflow_runner.store import open_store; "
        f"s = open_store(state_dir=Path({str(tmp_path)!r})); s.reader.runs(); print('ok')"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    results = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), results
    assert [r[0].strip() for r in results] == ["ok"] * 4


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    store = open_store(state_dir=tmp_path)
    with store.backend.transaction() as tx:
        tx.execute("UPDATE alembic_version SET version_num = '9999'", {})
    store.close()
    with pytest.raises(StoreError, match="written by a newer dataflow-runner \\(schema 9999\\)"):
        open_store(state_dir=tmp_path)


def test_migrations_match_the_schema_module(tmp_path: Path) -> None:
    """Alembic's head creates exactly the tables and columns store/schema.py declares."""
    import sqlalchemy as sa

    from dataflow_runner.store.backends import HEAD
    from dataflow_runner.store.schema import metadata

    open_store(state_dir=tmp_path).close()
    engine = sa.create_engine(f"sqlite:///{tmp_path}/store.db")
    inspector = sa.inspect(engine)
    for table in metadata.tables.values():
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    engine.dispose()


WRITER = """
import sys, time
from pathlib import Path
from dataflow_runner.store import open_store
from dataflow_runner.store.records import RunKind, RunRecord, RunState
store = open_store(state_dir=Path(sys.argv[1]))
prefix = sys.argv[2]
for i in range(int(sys.argv[3])):
    store.writer.create_run(RunRecord(id=f"{prefix}-{i}", kind=RunKind.ATTACHED, playbook="p",
                                      fabric="local", state=RunState.RUNNING,
                                      created_at=time.time()), [])
    print(i, flush=True)
"""


def test_two_writers_never_lose_a_transition(tmp_path: Path) -> None:
    open_store(state_dir=tmp_path).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), name, "300"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    store = open_store(state_dir=tmp_path)
    assert all_run_ids(store) == {f"{n}-{i}" for n in "ab" for i in range(300)}


def test_sigkill_never_corrupts_or_loses_a_committed_transition(tmp_path: Path) -> None:
    import random
    import signal

    open_store(state_dir=tmp_path).close()
    rng = random.Random(11)
    for trial in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), f"t{trial}", "100000"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        committed = -1
        wanted = rng.randint(5, 200)
        for line in proc.stdout:
            committed = int(line)
            if committed >= wanted:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = open_store(state_dir=tmp_path)
        rows = store.backend.query("PRAGMA integrity_check", {})
        assert list(rows[0].values()) == ["ok"]
        ids = all_run_ids(store)
        # Everything reported as committed is there.
        assert {f"t{trial}-{i}" for i in range(committed + 1)} <= ids
        store.close()


def test_sigkill_during_the_first_migration_leaves_a_usable_store(tmp_path: Path) -> None:
    """DDL runs inside one transaction: a migration is all or nothing."""
    import random
    import signal
    import time

    code = (
        "from pathlib import Path; from dataflow_runner.store import open_store; "
        f"open_store(state_dir=Path({str(tmp_path)!r}))"
    )
    rng = random.Random(5)
    for _ in range(10):
        for leftover in tmp_path.glob("store.db*"):
            leftover.unlink()
        proc = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = open_store(state_dir=tmp_path)
        assert store.reader.runs() == Page([], None)
        store.close()
