"""The default store: a SQLite file through the standard library's sqlite3.

No SQLAlchemy here: importing it costs ~0.2 s, more than a whole local run of
trivial steps may take. SQLAlchemy and Alembic are imported only when the file
is new or its schema is behind (``sqlalchemy_backend.migrate_sqlite_file``).

Durability: WAL journal with ``synchronous=NORMAL``. A commit appends the
transaction to the WAL with write(2) before COMMIT returns, so once a process
has seen COMMIT succeed the transaction is in the OS page cache: a SIGKILL at
any moment after that cannot lose it, and one before it leaves an incomplete
WAL frame that SQLite ignores on recovery (the file is never corrupted). Only
an OS crash or power loss can roll back the last few commits, and even then
the database stays consistent. ``FULL`` would fsync on every commit, costing
milliseconds per transition on a real disk for a guarantee the tool does not
need (a run interrupted by a power loss is resumed or re-run anyway).

Concurrency: several processes share the file (a local cluster agent and
``run`` clients). Writes start with ``BEGIN IMMEDIATE`` so they take the write
lock up front and queue on the busy timeout; a deferred transaction that
upgrades from read to write would fail at once with "database is locked".
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from dataflow_runner.errors import StoreError
from dataflow_runner.store.backends import BUSY_TIMEOUT_S, Tx, enable_wal, needs_migration
from dataflow_runner.store.queries import SCHEMA_VERSION


class _SqliteTx:
    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        return self._conn.execute(sql, params).rowcount

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        self._conn.executemany(sql, rows)

    def fetch(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [dict(row) for row in self._conn.execute(sql, params)]


class _Transaction:
    """``with backend.transaction() as tx``: BEGIN IMMEDIATE ... COMMIT under the
    backend's lock, rolled back on any exception (sqlite3's become StoreErrors).
    A class rather than a generator context manager: it is entered at every
    state transition of every step."""

    __slots__ = ("_backend",)

    def __init__(self, backend: SqliteBackend) -> None:
        self._backend = backend

    def __enter__(self) -> Tx:
        backend = self._backend
        backend._lock.acquire()
        try:
            if backend._conn.in_transaction:  # left open by a block interrupted mid-way
                self._run("ROLLBACK")
            self._run("BEGIN IMMEDIATE")
        except BaseException:
            backend._lock.release()
            raise
        return _SqliteTx(backend._conn)

    def __exit__(
        self,
        _type: type[BaseException] | None,
        exc: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        backend = self._backend
        try:
            if exc is None:
                self._run("COMMIT")
                return
            backend._rollback()
            if isinstance(exc, sqlite3.Error):
                raise backend._write_error(exc) from None
        finally:
            backend._lock.release()

    def _run(self, statement: str) -> None:
        backend = self._backend
        try:
            backend._conn.execute(statement)
        except BaseException as exc:
            backend._rollback()
            if isinstance(exc, sqlite3.Error):
                raise backend._write_error(exc) from None
            raise


class SqliteBackend:
    """One sqlite3 connection to ``path``, created and migrated on first use.

    >>> backend = SqliteBackend(Path("/tmp/dfr/store.db"))  # doctest: +SKIP
    >>> with backend.transaction() as tx:  # doctest: +SKIP
    ...     tx.execute("UPDATE runs SET pid = :pid WHERE id = :id", {"pid": 1, "id": "r-1"})
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url_for_display = str(path)
        self.dialect = "sqlite"
        self.identity = os.path.realpath(path)
        # One connection, possibly used from several threads: a transaction
        # must not interleave with another thread's statements.
        self._lock = threading.RLock()
        if str(path) == ":memory:":
            raise StoreError("the store must be a file, not :memory:")
        try:
            # 0700: the store holds rendered playbooks and log locations.
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._conn = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from None
        try:
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA synchronous = NORMAL")  # see the module's docstring
            self._conn.execute("PRAGMA foreign_keys = ON")
            if needs_migration(self._version(), self.url_for_display):
                # Persistent in the file: set once, by whoever creates or migrates it.
                enable_wal(self._conn)
                from dataflow_runner.store.sqlalchemy_backend import migrate_sqlite_file

                migrate_sqlite_file(path, self.url_for_display)
        except sqlite3.Error as exc:
            self._conn.close()
            raise StoreError(f"cannot open the store at {path}: {exc}") from None
        except BaseException:
            self._conn.close()
            raise

    def _version(self) -> str | None:
        try:
            row = self._conn.execute(SCHEMA_VERSION).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return str(row[0]) if row else None

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def _write_error(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"cannot write the store at {self.path}: {exc}")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            try:
                return [dict(row) for row in self._conn.execute(sql, params)]
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read the store at {self.path}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
