"""Opening a store: URLs, the default place, first use (migration), newer schemas
and unusable places, on every backend where it applies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dataflow_runner.errors import StoreError
from dataflow_runner.store import Page, default_state_dir, open_store
from dataflow_runner.store.backends import HEAD
from tests.store.conftest import PostgresServer


def test_a_newer_schema_is_refused(fresh_store_url: tuple[str | None, Path]) -> None:
    url, state_dir = fresh_store_url
    with open_store(url, state_dir=state_dir) as store:
        with store.backend.transaction() as tx:
            tx.execute("UPDATE alembic_version SET version_num = :v", {"v": "0999"})
        where = store.url_for_display
    with pytest.raises(StoreError) as error:
        open_store(url, state_dir=state_dir)
    assert str(error.value) == (
        f"the store at {where} was written by a newer dataflow-runner (schema 0999); "
        "upgrade dataflow-runner to use it"
    )


def test_a_fresh_store_is_migrated_to_head(fresh_store_url: tuple[str | None, Path]) -> None:
    url, state_dir = fresh_store_url
    with open_store(url, state_dir=state_dir) as store:
        rows = store.backend.query("SELECT version_num FROM alembic_version", {})
        assert rows == [{"version_num": HEAD}]
        assert store.reader.runs() == Page([], None)
    with open_store(url, state_dir=state_dir) as store:  # and opens again as it is
        assert store.backend.query("SELECT COUNT(*) AS n FROM alembic_version", {})[0]["n"] == 1


def test_unusable_places_are_one_line_store_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    (tmp_path / "garbage.db").write_bytes(b"this is not a SQLite database" * 100)
    for url, state_dir in [
        (None, tmp_path / "file" / "state"),
        (f"sqlite+pysqlite:///{tmp_path}/file/x/store.db", tmp_path),
        (str(tmp_path / "garbage.db"), tmp_path),
        (f"sqlite:///{tmp_path}/garbage.db", tmp_path),
        ("sqlite://", tmp_path),
    ]:
        with pytest.raises(StoreError) as error:
            open_store(url, state_dir=state_dir)
        assert "\n" not in str(error.value)


def test_urls_and_the_default_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_RUNNER_HOME", str(tmp_path / "home"))
    assert default_state_dir() == tmp_path / "home"
    with open_store() as store:
        assert store.url_for_display == str(tmp_path / "home" / "store.db")
    monkeypatch.delenv("DATAFLOW_RUNNER_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "dataflow-runner"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert default_state_dir() == tmp_path / "me" / ".local" / "state" / "dataflow-runner"
    # A path or sqlite:/// URL is served by sqlite3; naming a driver asks for SQLAlchemy.
    for url in (str(tmp_path / "a.db"), f"sqlite:///{tmp_path}/b.db"):
        with open_store(url) as store:
            assert type(store.backend).__name__ == "SqliteBackend"
    with open_store(f"sqlite+pysqlite:///{tmp_path}/c.db") as store:
        assert type(store.backend).__name__ == "AlchemyBackend"
    assert {p.name for p in tmp_path.glob("*.db")} == {"a.db", "b.db", "c.db"}


def test_concurrent_first_use_of_a_postgres_database(postgres_server: PostgresServer) -> None:
    """Processes starting together on a new database: one migrates, all succeed."""
    url = postgres_server.new_database()
    code = "import sys; from dataflow_runner.store import open_store; open_store(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    with open_store(url) as store:
        assert store.backend.query("SELECT version_num FROM alembic_version", {}) == [
            {"version_num": HEAD}
        ]


def test_the_migrations_build_the_schema_module(fresh_store_url: tuple[str | None, Path]) -> None:
    """What Alembic builds is what ``schema.py`` declares, on every database."""
    import sqlalchemy as sa
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from dataflow_runner.store.schema import metadata

    url, state_dir = fresh_store_url
    with open_store(url, state_dir=state_dir) as store:
        display = store.url_for_display
    target = url or f"sqlite:///{display}"
    engine = sa.create_engine(target.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


def test_a_missing_driver_is_named() -> None:
    with pytest.raises(StoreError) as error:
        open_store("postgresql+psycopg2://u:s3cr3t@h/db")  # a driver this tool does not ship
    assert str(error.value) == (
        "the store at postgresql+psycopg2://u:***@h/db needs the Python module psycopg2"
    )
