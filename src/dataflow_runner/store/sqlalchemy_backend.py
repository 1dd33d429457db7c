"""A store behind a SQLAlchemy Core engine: PostgreSQL (psycopg 3) or any other URL,
and every schema migration (Alembic needs SQLAlchemy, SQLite files included).

Imported only for such URLs or to migrate: never on the default SQLite path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dataflow_runner.errors import StoreError
from dataflow_runner.store.backends import (
    BUSY_TIMEOUT_S,
    Tx,
    enable_wal,
    mask_url,
    needs_migration,
)
from dataflow_runner.store.queries import SCHEMA_VERSION

MIGRATIONS = Path(__file__).with_name("migrations")
# Serialises first uses of one PostgreSQL database (any constant shared by all versions).
_PG_MIGRATION_LOCK = 0x0D_F2_5707
_READ_ONLY = "dataflow_runner_read_only"  # an execution option of our own


@lru_cache(maxsize=512)
def _text(sql: str) -> sa.TextClause:
    return sa.text(sql)


class _AlchemyTx:
    __slots__ = ("_connection",)

    def __init__(self, connection: sa.Connection) -> None:
        self._connection = connection

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        return int(self._connection.execute(_text(sql), dict(params)).rowcount)

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._connection.execute(_text(sql), [dict(r) for r in rows])

    def fetch(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        result = self._connection.execute(_text(sql), dict(params))
        return [dict(row._mapping) for row in result]


class AlchemyBackend:
    """A store at a SQLAlchemy URL, one pooled connection per transaction.

    >>> backend = AlchemyBackend("postgresql://dfr:pw@db.internal/dfr")  # doctest: +SKIP
    >>> backend.url_for_display  # doctest: +SKIP
    'postgresql://dfr:***@db.internal/dfr'
    """

    def __init__(self, url: str) -> None:
        self.url_for_display = mask_url(url)
        self.identity = self.url_for_display
        self._secret = ""
        try:
            parsed = sa.make_url(_with_driver(url))
        except (sa.exc.ArgumentError, ValueError):
            # The parser's message repeats the URL: it would show the password.
            raise StoreError(f"not a store URL: {self.url_for_display}") from None
        self._secret = parsed.password or ""
        try:
            self._engine = _engine(parsed)
        except ModuleNotFoundError as exc:
            hint = "pip install 'dataflow-runner[postgres]'" if exc.name == "psycopg" else ""
            raise StoreError(
                f"the store at {self.url_for_display} needs the Python module {exc.name}"
                + (f": {hint}" if hint else "")
            ) from None
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            raise StoreError(self._message("cannot open the store", exc)) from None
        self.dialect = self._engine.dialect.name
        try:
            ensure_schema(self._engine, self.url_for_display)
        except Exception as exc:
            self._engine.dispose()
            if isinstance(exc, StoreError):
                raise StoreError(self._scrub(str(exc))) from None
            raise StoreError(self._message("cannot open the store", exc)) from None

    def _scrub(self, message: str) -> str:
        # Drivers may quote their connection parameters: never show the password.
        return message.replace(self._secret, "***") if self._secret else message

    def _message(self, what: str, exc: BaseException) -> str:
        return self._scrub(f"{what} at {self.url_for_display}: {first_line(exc)}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        try:
            with self._engine.begin() as connection:
                yield _AlchemyTx(connection)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(self._message("cannot write the store", exc)) from None

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        try:
            with self._engine.connect() as connection:
                connection.execution_options(**{_READ_ONLY: True})
                result = connection.execute(_text(sql), dict(params))
                return [dict(row._mapping) for row in result]
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(self._message("cannot read the store", exc)) from None

    def close(self) -> None:
        self._engine.dispose()


def _with_driver(url: str) -> str:
    # SQLAlchemy's default PostgreSQL driver is psycopg2; this tool ships psycopg 3.
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def _engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            # Zero set-up, as the sqlite3 backend: the file's directory is created.
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return sqlite_engine(url)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = 10  # an unreachable host must not hang a run
    # pre_ping: a long-lived agent outlives server restarts and idle-connection reaping.
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def sqlite_engine(url: sa.URL) -> sa.Engine:
    """An engine on a SQLite file that behaves as ``sqlite.py``: WAL, busy timeout,
    ``BEGIN IMMEDIATE`` writes, and DDL inside transactions.

    The sqlite3 driver never BEGINs before DDL, so a migration killed half-way
    would leave tables without their version row: we turn its implicit
    transactions off and emit our own BEGIN (SQLAlchemy's documented recipe).
    """
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        enable_wal(dbapi_connection)
        for pragma in ("synchronous = NORMAL", "foreign_keys = ON"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        # Writers take the write lock up front and queue on the busy timeout.
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _version(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(_text(SCHEMA_VERSION)).scalar()
    return None if found is None else str(found)


def ensure_schema(engine: sa.Engine, where: str) -> None:
    """Create or upgrade the schema to head, once even if processes start together.

    The version is read first without a write lock (the usual case: nothing to
    do); then again under the database's own lock, which the first migrator
    holds until its migration commits.
    """
    with engine.connect() as connection:
        connection.execution_options(**{_READ_ONLY: True})
        if not needs_migration(_version(connection), where):
            return
    with engine.begin() as connection:  # SQLite: BEGIN IMMEDIATE is the lock
        if connection.dialect.name == "postgresql":
            # Released when this transaction ends.
            connection.execute(
                _text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
            )
        if needs_migration(_version(connection), where):
            _upgrade(connection)


def _upgrade(connection: sa.Connection) -> None:
    """Alembic's upgrade to head, on our connection and inside its transaction."""
    from alembic import command
    from alembic.config import Config

    config = Config()  # no alembic.ini: the scripts ship inside the package
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def migrate_sqlite_file(path: Path, where: str) -> None:
    """Bring the SQLite file at ``path`` to the head schema (the sqlite3 backend's
    slow path: only for a new or older file)."""
    engine = sqlite_engine(sa.URL.create("sqlite", database=str(path)))
    try:
        ensure_schema(engine, where)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"cannot migrate the store at {where}: {first_line(exc)}") from None
    finally:
        engine.dispose()


def first_line(exc: BaseException) -> str:
    """The driver's own message when there is one (not SQLAlchemy's wrapping), one line."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    return mask_url(lines[0].strip() if lines else type(inner).__name__)
