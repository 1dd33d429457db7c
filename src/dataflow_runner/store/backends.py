"""Two thin ways to run the store's SQL: the standard library's sqlite3 (the
default SQLite store, with no SQLAlchemy import: it costs ~0.2 s at start-up)
and a SQLAlchemy Core engine (PostgreSQL, or any URL). Both run the same SQL
text with ``:name`` parameters; migrations always go through Alembic.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from dataflow_runner.errors import StoreError

#: Every schema revision this code knows, oldest first (Alembic's revision ids).
REVISIONS = ("0001",)
HEAD = REVISIONS[-1]
BUSY_TIMEOUT_MS = 30_000


class Tx(Protocol):
    def execute(self, sql: str, params: Mapping[str, Any]) -> int: ...


class Backend(Protocol):
    url_for_display: str

    def transaction(self) -> contextlib.AbstractContextManager[Tx]: ...

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def mask_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` → ``postgresql://u:***@h/db``."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _check_version(found: str | None, where: str) -> bool:
    """True when the schema must be migrated; an unknown (newer) one is an error."""
    if found == HEAD:
        return False
    if found is not None and found not in REVISIONS:
        raise StoreError(
            f"the store at {where} was written by a newer dataflow-runner "
            f"(schema {found}); upgrade dataflow-runner to use it"
        )
    return True


def _alembic_upgrade(connection: Any) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


# --- sqlite3 -------------------------------------------------------------------------


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        return self.conn.execute(sql, params).rowcount


class SqliteBackend:
    """SQLite through sqlite3: WAL, a busy timeout, ``BEGIN IMMEDIATE`` writes.

    ``synchronous=NORMAL`` in WAL mode keeps every committed transaction across
    a crash of the process (SIGKILL) and never corrupts the database; only a
    power loss may lose the last transactions, which this trade keeps cheap.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url_for_display = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self.conn.row_factory = sqlite3.Row
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from None
        self._migrate()

    def _version(self) -> str | None:
        try:
            row = self.conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
        return str(row[0]) if row else None

    def _migrate(self) -> None:
        if not _check_version(self._version(), str(self.path)):
            return
        # Two processes opening a fresh store at once: one migrates, the other waits.
        lock_path = self.path.with_name(self.path.name + ".migrate.lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not _check_version(self._version(), str(self.path)):
                return
            engine = _sqlite_engine(f"sqlite:///{self.path}")
            try:
                with engine.begin() as connection:
                    _alembic_upgrade(connection)
            finally:
                engine.dispose()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the store at {self.path}: {exc}") from None
        try:
            yield _SqliteTx(self.conn)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the store at {self.path}: {exc}") from None

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            return [dict(row) for row in self.conn.execute(sql, params)]
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the store at {self.path}: {exc}") from None

    def close(self) -> None:
        self.conn.close()


def _sqlite_engine(url: str) -> Any:
    """An engine whose transactions really include DDL on SQLite.

    pysqlite leaves DDL outside transactions, so a migration killed half-way
    would leave tables without a version; with our own BEGIN it is all or
    nothing.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


# --- SQLAlchemy ----------------------------------------------------------------------


class _AlchemyTx:
    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        import sqlalchemy as sa

        return int(self.connection.execute(sa.text(sql), dict(params)).rowcount)


class AlchemyBackend:
    """Any SQLAlchemy URL (PostgreSQL in practice), one transaction per call."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.url_for_display = mask_url(url)
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        try:
            self.engine = (
                _sqlite_engine(url)
                if url.startswith("sqlite")
                else sa.create_engine(url, pool_pre_ping=True)
            )
            with self.engine.begin() as connection:
                self._migrate(connection)
        except StoreError:
            raise
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"the store at {self.url_for_display} needs the {exc.name} "
                "driver: pip install 'dataflow-runner[postgres]'"
            ) from None
        except Exception as exc:
            raise StoreError(
                f"cannot open the store at {self.url_for_display}: {_first_line(exc)}"
            ) from None

    def _migrate(self, connection: Any) -> None:
        import sqlalchemy as sa

        if connection.dialect.name == "postgresql":
            # Serialise concurrent first uses (the lock ends with the transaction).
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(4242001)"))
        found = None
        if sa.inspect(connection).has_table("alembic_version"):
            found = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        if _check_version(found, self.url_for_display):
            _alembic_upgrade(connection)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        try:
            with self.engine.begin() as connection:
                yield _AlchemyTx(connection)
        except StoreError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith("sqlalchemy"):
                raise StoreError(
                    f"cannot write the store at {self.url_for_display}: {_first_line(exc)}"
                ) from None
            raise

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        import sqlalchemy as sa

        try:
            with self.engine.connect() as connection:
                return [
                    dict(row._mapping) for row in connection.execute(sa.text(sql), dict(params))
                ]
        except Exception as exc:
            raise StoreError(
                f"cannot read the store at {self.url_for_display}: {_first_line(exc)}"
            ) from None

    def close(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    return mask_url(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def open_backend(url: str | None, state_dir: Path) -> Backend:
    if not url:
        return SqliteBackend(state_dir / "store.db")
    if url.startswith("sqlite3:///"):
        return SqliteBackend(Path(url[len("sqlite3:///") :]))
    return AlchemyBackend(os.path.expandvars(url))
