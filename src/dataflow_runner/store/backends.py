"""The small interface between the ``Store`` and the two ways it runs SQL.

``sqlite.py`` (the standard library's sqlite3: the default store, no
SQLAlchemy import) and ``sqlalchemy_backend.py`` (a SQLAlchemy Core engine:
PostgreSQL, or any URL) both implement ``Backend`` and run the same SQL text
from ``queries.py``; what both need is here (``store/__init__.py`` picks one).
This module must stay import-light: it is on the hot path.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from dataflow_runner.errors import StoreError

#: Every schema revision this code knows, oldest first: the numbered Alembic
#: revisions of ``migrations/versions`` (a test checks they agree).
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
HEAD = REVISIONS[-1]

#: How long a writer waits for another process's write transaction to end.
BUSY_TIMEOUT_S = 30.0


class Tx(Protocol):
    """One open transaction."""

    def execute(self, sql: str, params: Mapping[str, Any]) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run one statement for each of ``rows`` (an INSERT of many rows)."""
        ...

    def fetch(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run one statement that returns rows (``... RETURNING``) inside the transaction."""
        ...


class Backend(Protocol):
    """A database the store writes to, one transaction per ``transaction()`` block."""

    url_for_display: str
    #: ``sqlite`` or ``postgresql`` (what SQL a few queries need: ``queries.CLAIM_QUEUED``).
    dialect: str
    #: What tells this store from any other: its file's real path, or its URL
    #: with the password masked (``pending.py`` files what it could not take by it).
    identity: str

    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """A write transaction: committed when the block ends, rolled back on error."""
        ...

    def query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Run a read-only statement; rows as dicts (column name → value)."""
        ...

    def close(self) -> None: ...


def mask_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` → ``postgresql://u:***@h/db`` (also ``?password=``)."""
    # Greedy up to the last "@": a password may hold a raw "@" (masking too much is
    # safe). Patterns as strings: re compiles them on first use, not at import.
    url = re.sub(r"(?P<head>://[^/?#@:]*:).*@", r"\g<head>***@", url)
    return re.sub(r"(?P<head>[?&]password=)[^&#]*", r"\g<head>***", url, flags=re.IGNORECASE)


def needs_migration(found: str | None, where: str) -> bool:
    """Whether a store at schema ``found`` must be upgraded to ``HEAD``.

    A revision this code does not know was written by a newer version of the
    tool: refuse it rather than guess (an older tool could corrupt it).
    """
    if found == HEAD:
        return False
    if found is not None and found not in REVISIONS:
        raise StoreError(
            f"the store at {where} was written by a newer dataflow-runner "
            f"(schema {found}); upgrade dataflow-runner to use it"
        )
    return True


def sqlite_path(url: str | None, state_dir: Path) -> Path | None:
    """The file of a store that the sqlite3 backend serves, or None for other URLs.

    None (the default store), a plain path and ``sqlite:///path`` (SQLAlchemy's
    spelling: ``sqlite:////abs`` is absolute) are SQLite files; a URL naming a
    driver (``sqlite+pysqlite://``) explicitly asks for SQLAlchemy.
    """
    if not url:
        return state_dir / "store.db"
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///") :]).expanduser()
    if "://" not in url and not url.startswith("sqlite:"):
        # (``sqlite:store.db`` is a mistyped URL, not a file of that name.)
        return Path(url).expanduser()
    return None


def enable_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (persistent in the file; a no-op once done).

    The switch needs an exclusive lock, and SQLite reports a busy file at once
    instead of calling the busy handler (seen with processes creating a store
    together): retry for as long as the busy timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.001
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
    if mode.lower() != "wal":
        # Readers would block writers, and concurrent runs would fail.
        raise sqlite3.OperationalError(f"the file system does not support WAL (mode {mode})")
