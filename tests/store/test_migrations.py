"""A store written by an older version is migrated when it is opened, keeping its
history: revision 0002 turns ``runs.command`` into ``runs.kind`` on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dataflow_runner.store import RunFilter, open_store
from dataflow_runner.store.backends import HEAD
from dataflow_runner.store.records import RunKind, RunState, StepState
from dataflow_runner.store.sqlalchemy_backend import MIGRATIONS, sqlite_engine

T0 = 1_763_800_000.123456

# (run id, the command 0001 stored, the kind it becomes)
COMMANDS = [
    ("r-transient", "run-transient", RunKind.TRANSIENT),
    ("r-attached", "run", RunKind.ATTACHED),
    ("r-up", "up", RunKind.ATTACHED),  # any other command ran on an existing cluster
]


def engine_for(url: str | None, state_dir: Path) -> sa.Engine:
    """An engine on the database that ``open_store(url, state_dir=...)`` opens."""
    if url is None or url.startswith("sqlite"):
        path = state_dir / "store.db" if url is None else Path(sa.make_url(url).database or "")
        path.parent.mkdir(parents=True, exist_ok=True)
        return sqlite_engine(sa.URL.create("sqlite", database=str(path)))
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def build_at(engine: sa.Engine, revision: str) -> None:
    """The schema as the migrations left it at ``revision`` (as an older version would)."""
    from alembic import command
    from alembic.config import Config

    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def fill_0001(engine: sa.Engine) -> None:
    """Runs with steps and attempts, as version 0001's columns held them."""
    with engine.begin() as connection:
        for n, (run_id, command, _) in enumerate(COMMANDS):
            connection.execute(
                sa.text(
                    "INSERT INTO runs (id, command, playbook, fabric, state, created_at, host) "
                    "VALUES (:id, :command, 'nightly', 'local', 'COMPLETED', :at, 'h')"
                ),
                {"id": run_id, "command": command, "at": T0 + n},
            )
            for position, step_id in enumerate(("a", "b")):
                connection.execute(
                    sa.text(
                        "INSERT INTO steps (run_id, step_id, position, name, type, state, "
                        "action_on_failure, depends_on, attempts) VALUES (:run_id, :step_id, "
                        ":position, :step_id, 'shell', 'COMPLETED', 'CONTINUE', :depends_on, 1)"
                    ),
                    {
                        "run_id": run_id,
                        "step_id": step_id,
                        "position": position,
                        "depends_on": '["a"]' if step_id == "b" else "[]",
                    },
                )
                connection.execute(
                    sa.text(
                        "INSERT INTO attempts (run_id, step_id, attempt, state, exit_code) "
                        "VALUES (:run_id, :step_id, 1, 'COMPLETED', 0)"
                    ),
                    {"run_id": run_id, "step_id": step_id},
                )


def test_a_0001_store_is_migrated_to_head_keeping_its_history(
    fresh_store_url: tuple[str | None, Path],
) -> None:
    url, state_dir = fresh_store_url
    engine = engine_for(url, state_dir)
    try:
        build_at(engine, "0001")
        fill_0001(engine)
        with engine.connect() as connection:
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == "0001"
    finally:
        engine.dispose()

    with open_store(url, state_dir=state_dir) as store:  # migrates to head
        rows = store.backend.query("SELECT version_num FROM alembic_version", {})
        assert rows == [{"version_num": HEAD}]
        reader = store.reader
        for n, (run_id, _, kind) in enumerate(COMMANDS):
            run = reader.run(run_id)
            assert run is not None
            assert run.kind is kind, run_id
            assert (run.playbook, run.state, run.created_at, run.host) == (
                "nightly",
                RunState.COMPLETED,
                T0 + n,
                "h",
            )
            # The rename did not take the run's steps (nor their attempts) with it.
            steps = reader.steps(run_id)
            assert [(s.step_id, s.state, s.depends_on) for s in steps] == [
                ("a", StepState.COMPLETED, ()),
                ("b", StepState.COMPLETED, ("a",)),
            ]
            assert [(a.step_id, a.attempt, a.exit_code) for a in reader.attempts(run_id)] == [
                ("a", 1, 0),
                ("b", 1, 0),
            ]
        assert [r.id for r in reader.runs().items] == [run_id for run_id, _, _ in COMMANDS][::-1]
        transient = reader.runs(RunFilter(kind=RunKind.TRANSIENT)).items
        assert [r.id for r in transient] == ["r-transient"]
        columns = {row["kind"] for row in store.backend.query("SELECT kind FROM runs", {})}
        assert columns == {"transient", "attached"}


@pytest.mark.parametrize("backend", ["sqlite3", "sqlalchemy-sqlite"])
def test_foreign_keys_hold_after_the_migration(tmp_path: Path, backend: str) -> None:
    """The renamed table is still the one the steps refer to: deleting a run still
    takes its steps and attempts, and a step of no run is still refused."""
    url = None if backend == "sqlite3" else f"sqlite+pysqlite:///{tmp_path}/alchemy/store.db"
    engine = engine_for(url, tmp_path)
    try:
        build_at(engine, "0001")
        fill_0001(engine)
    finally:
        engine.dispose()
    with open_store(url, state_dir=tmp_path) as store:
        with store.backend.transaction() as tx:
            tx.execute("DELETE FROM runs WHERE id = 'r-up'", {})
        assert store.reader.steps("r-up") == [] and store.reader.attempts("r-up") == []
        assert len(store.reader.steps("r-attached")) == 2
        foreign = store.backend.query("PRAGMA foreign_key_check", {})
        assert foreign == []
