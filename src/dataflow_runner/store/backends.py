"""The small interface between the ``Store`` and the two ways it runs SQL.

``sqlite.py`` (the standard library's sqlite3: the default store, no
SQLAlchemy import) and ``sqlalchemy_backend.py`` (a SQLAlchemy Core engine:
PostgreSQL, or any URL) both implement ``Backend`` and run the same SQL text
from ``queries.py``. This module must stay import-light: it is on the hot path.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from dataflow_runner.errors import StoreError

#: Every schema revision this code knows, oldest first: the numbered Alembic
#: revisions of ``migrations/versions`` (a test checks they agree).
REVISIONS = ("0001", "0002")
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


class Backend(Protocol):
    """A database the store writes to, one transaction per ``transaction()`` block."""

    url_for_display: str

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
    if "://" not in url:
        return Path(url).expanduser()
    return None


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
