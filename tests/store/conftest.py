"""Stores on real databases: sqlite3, SQLAlchemy on SQLite, and a real PostgreSQL
server that this module starts from Debian's PostgreSQL 15 binaries.

A missing PostgreSQL fails the tests that need it (CI must not silently skip a
backend) unless ``DATAFLOW_RUNNER_SKIP_POSTGRES=1`` asks to skip them.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.store import Store, open_store
from dataflow_runner.store.records import RECORDS

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Read at import: the root conftest clears DATAFLOW_RUNNER_* for each test.
SKIP_POSTGRES = os.environ.get("DATAFLOW_RUNNER_SKIP_POSTGRES") == "1"
# Trust authentication ignores it; it is there to check that it is never shown.
PG_PASSWORD = "pw-must-not-leak"
BACKENDS = ["sqlite3", "sqlalchemy-sqlite", "postgresql"]


@dataclass
class PostgresServer:
    port: int
    _names: itertools.count[int]

    def url(self, database: str = "dfr") -> str:
        return f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql.encode())

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = f"fresh_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres() -> list[str]:
    # PostgreSQL refuses to run as root; setpriv execs, so our child IS the server.
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL 15 on 127.0.0.1 (unix sockets in its own tmp dir)."""
    if SKIP_POSTGRES:
        pytest.skip("DATAFLOW_RUNNER_SKIP_POSTGRES=1: PostgreSQL tests skipped on request")
    for binary in ("initdb", "postgres"):
        if not (PG_BIN / binary).exists():
            pytest.fail(
                f"PostgreSQL 15 is not installed ({PG_BIN / binary} is missing): "
                "apt-get install postgresql-15, or set DATAFLOW_RUNNER_SKIP_POSTGRES=1 "
                "to skip the PostgreSQL tests explicitly",
                pytrace=False,
            )
    root = Path(tempfile.mkdtemp(prefix="dfr-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    subprocess.run(
        [*_as_postgres(), str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
         "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = _free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115 - open while the server runs
    server = subprocess.Popen(
        [*_as_postgres(), str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
         "-h", "127.0.0.1", "-k", str(root), "-c", "fsync=off", "-c", "max_connections=200"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        pg = PostgresServer(port, itertools.count())
        _wait_ready(pg, server, root / "server.log")
        pg.admin("CREATE DATABASE dfr")
        yield pg
    finally:
        server.send_signal(signal.SIGINT)  # "fast" shutdown: clients are disconnected
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(pg: PostgresServer, server: subprocess.Popen[bytes], log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            pg.admin("SELECT 1")
            return
        except psycopg.OperationalError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"PostgreSQL did not start:\n{log.read_text()}", pytrace=False)
            time.sleep(0.05)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """The default store: sqlite3 in a state directory."""
    with open_store(state_dir=tmp_path / "state") as store:
        yield store


@pytest.fixture
def sqlalchemy_sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """SQLAlchemy's engine on a SQLite file (a driver in the URL asks for it)."""
    with open_store(f"sqlite+pysqlite:///{tmp_path}/alchemy/store.db") as store:
        yield store


@pytest.fixture
def pg_store(postgres_server: PostgresServer) -> Iterator[Store]:
    """The session's PostgreSQL database, emptied for each test."""
    with open_store(postgres_server.url()) as store:
        tables = ", ".join(record.TABLE.name for record in RECORDS)
        postgres_server.admin(f"TRUNCATE {tables}", database="dfr")
        yield store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Store:
    """The same contract on every backend."""
    name = {"sqlite3": "sqlite_store", "sqlalchemy-sqlite": "sqlalchemy_sqlite_store"}
    return request.getfixturevalue(name.get(request.param, "pg_store"))  # type: ignore[no-any-return]


@pytest.fixture(params=BACKENDS)
def fresh_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, Path]:
    """``(url, state_dir)`` of a store never opened yet, on every backend."""
    if request.param == "sqlite3":
        return None, tmp_path / "fresh"
    if request.param == "sqlalchemy-sqlite":
        return f"sqlite+pysqlite:///{tmp_path}/fresh/store.db", tmp_path
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database(), tmp_path


def count_transactions(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list whose length is the number of transactions the store opens from now."""
    opened: list[int] = []
    transaction = store.backend.transaction

    def counted() -> Any:
        opened.append(1)
        return transaction()

    monkeypatch.setattr(store.backend, "transaction", counted)
    return opened
