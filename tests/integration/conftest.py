"""Fixtures for tests against real components: moto's EMR/S3 server over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.emr_server import EmrServer


@pytest.fixture(scope="session")
def emr_server() -> Iterator[EmrServer]:
    server = EmrServer().start()
    yield server
    server.stop()


@pytest.fixture
def emr(emr_server: EmrServer) -> EmrServer:
    """A clean EMR/S3 (no clusters, no buckets, no faults, counters at zero)."""
    emr_server.reset()
    return emr_server


class EmrCli:
    """Runs ``dataflow-runner`` as a subprocess against the test EMR."""

    def __init__(self, server: EmrServer, workdir: Path) -> None:
        self.server = server
        self.workdir = workdir

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, **self.server.env(), "DATAFLOW_RUNNER_POLL_INTERVAL": "0.2", **extra}

    def __call__(self, *args: str, timeout: float = 120, **env: str) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "dataflow_runner", *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=self.env(**env),
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "dataflow_runner", *args],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(**env),
        )


@pytest.fixture
def emr_cli(emr: EmrServer, tmp_path: Path) -> Any:
    return EmrCli(emr, tmp_path)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A real PostgreSQL server for the session (fails clearly if not installed)."""
    from tests.servers import postgres

    with postgres() as url:
        yield url


@pytest.fixture(params=["sqlite3", "sqlalchemy-sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The same store contract on every backend."""
    from dataflow_runner.store import open_store

    if request.param == "sqlite3":
        db = open_store(None, state_dir=tmp_path)
    elif request.param == "sqlalchemy-sqlite":
        db = open_store(f"sqlite+pysqlite:///{tmp_path}/alchemy.db", state_dir=tmp_path)
    else:
        url = request.getfixturevalue("pg_url")
        db = open_store(url, state_dir=tmp_path)
        _truncate(db)
    yield db
    db.close()


def _truncate(db: Any) -> None:
    with db.backend.transaction() as tx:
        for table in ("attempts", "steps", "runs", "clusters"):
            tx.execute(f"DELETE FROM {table}", {})
