"""The state store: every run, step, attempt and cluster, each state transition
committed as it happens.

A :class:`Store` is one connection to a database, with a write side
(:class:`~dataflow_runner.store.writer.StoreWriter`: transitions, used by the
engine only) and a read side (:class:`~dataflow_runner.store.reader.StoreReader`:
typed, paginated history, for every front end).

SQLite (WAL) in the state directory by default, with zero set-up; PostgreSQL
by URL for a shared store::

    >>> store = open_store(state_dir=Path("/tmp/dfr-doc"))  # doctest: +SKIP
    >>> store.reader.latest_run()  # doctest: +SKIP
    >>> open_store("postgresql://dfr:pw@db.internal/dfr")  # doctest: +SKIP

Importing this package is cheap and the default SQLite store never imports
SQLAlchemy or Alembic (~0.2 s): they are imported only to migrate a schema or
to reach a database server.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataflow_runner.errors import StoreError
from dataflow_runner.store.backends import Backend, mask_url, sqlite_path
from dataflow_runner.store.pending import Pending
from dataflow_runner.store.pools import PoolTables
from dataflow_runner.store.reader import Page, RunFilter, StoreReader
from dataflow_runner.store.scheduling import SchedulingStore
from dataflow_runner.store.writer import StoreWriter

__all__ = [
    "Page",
    "RunFilter",
    "Store",
    "StoreReader",
    "StoreWriter",
    "default_state_dir",
    "open_store",
]


def default_state_dir() -> Path:
    """Where the default store lives: ``$DATAFLOW_RUNNER_HOME``, else
    ``$XDG_STATE_HOME/dataflow-runner``, else ``~/.local/state/dataflow-runner``.

    >>> default_state_dir()  # doctest: +SKIP
    PosixPath('/home/me/.local/state/dataflow-runner')
    """
    home = os.environ.get("DATAFLOW_RUNNER_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / "dataflow-runner"


def open_store(url: str | None = None, *, state_dir: Path | None = None) -> Store:
    """Open the store, creating or migrating its schema on first use.

    ``url``: None (``<state_dir>/store.db``), a SQLite path or ``sqlite:///path``
    (served by sqlite3), ``postgresql://user:pw@host/db`` (psycopg 3), or any
    SQLAlchemy URL (``sqlite+pysqlite:///path`` forces SQLAlchemy on SQLite).
    Any failure is one ``StoreError`` line, with the password masked.

    >>> store = open_store(state_dir=Path("/tmp/dfr-doc"))  # doctest: +SKIP
    >>> store.url_for_display  # doctest: +SKIP
    '/tmp/dfr-doc/store.db'
    """
    return Store(open_backend(url, state_dir if state_dir is not None else default_state_dir()))


class Store:
    """One connection to the store: ``reader`` for history, ``writer`` for transitions.

    >>> with open_store(state_dir=Path("/tmp/dfr-doc")) as store:  # doctest: +SKIP
    ...     store.reader.runs(limit=5)
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url_for_display = backend.url_for_display
        self.reader = StoreReader(backend)
        self.writer = StoreWriter(backend)
        self.pools = PoolTables(backend)
        #: The ends of runs this store could not take, kept elsewhere until it can.
        self.pending = Pending(backend.identity)
        #: Schedules, tick keys, alerts, leases, deployments (written by the engine).
        self.scheduling = SchedulingStore(backend)

    def close(self) -> None:
        """Close the connection(s); the store cannot be used afterwards."""
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_backend(url: str | None, state_dir: Path) -> Backend:
    """The backend for ``url``; SQLAlchemy is imported only for non-sqlite3 URLs."""
    path = sqlite_path(url, state_dir)
    if path is not None:
        from dataflow_runner.store.sqlite import SqliteBackend

        return SqliteBackend(path)
    assert url is not None
    if url.startswith("sqlite:"):
        raise StoreError(f"not a SQLite store URL: {mask_url(url)} (use sqlite:///path)")
    from dataflow_runner.store.sqlalchemy_backend import AlchemyBackend

    return AlchemyBackend(url)
