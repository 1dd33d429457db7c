"""The real server for tests: ``dataflow-runner server`` in a subprocess (uvicorn
on 127.0.0.1, a free port, a temporary state directory), on SQLite or on a real
PostgreSQL (``tests/store/conftest.py`` starts it), with httpx as its client.

Everything it needs is a dependency of the ``dev`` extra: a missing one fails
these tests (an ImportError), never skips them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import free_port
from tests.store.conftest import PostgresServer, postgres_server  # noqa: F401 - a fixture

CLUSTER_SCHEMA = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
PLAYBOOK_SCHEMA = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"
#: How long a test waits for a run to get somewhere (a loaded machine is slow).
PATIENCE = 120.0
ENDED = ("COMPLETED", "FAILED", "CANCELLED")


def cluster_doc(work_dir: Path, **extra: Any) -> dict[str, Any]:
    local = {"concurrency": 4, "workDir": str(work_dir), **extra}
    return {"schema": CLUSTER_SCHEMA, "data": {"name": "test", "fabric": "local", "local": local}}


def playbook_doc(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": PLAYBOOK_SCHEMA, "data": {"name": name, "steps": steps}}


def sh(step_id: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "COMMAND", "command": ["sh", "-c", script], **extra}


@dataclass
class Server:
    """A server process and how to talk to it."""

    url: str
    proc: subprocess.Popen[bytes]
    state_dir: Path
    log: Path
    store: str | None
    token: str | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        token = token if token is not None else self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        made = httpx.Client(base_url=self.url, headers=headers, timeout=30.0, **kwargs)
        self.clients.append(made)
        return made

    @property
    def api(self) -> httpx.Client:
        return self.client()

    def submit(self, body: dict[str, Any], client: httpx.Client | None = None) -> str:
        response = (client or self.api).post("/api/v1/runs", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def run(self, run_id: str, client: httpx.Client | None = None) -> dict[str, Any]:
        response = (client or self.api).get(f"/api/v1/runs/{run_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def wait(
        self,
        run_id: str,
        until: Callable[[dict[str, Any]], bool] | tuple[str, ...] = ENDED,
        timeout: float = PATIENCE,
    ) -> dict[str, Any]:
        """Poll the run until ``until`` (a predicate, or states) holds."""
        check = until if callable(until) else (lambda r: r["state"] in until)
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(run_id)
            if check(run):
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} never got there: {json.dumps(run)[:3000]}")
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        for made in self.clients:
            made.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(
    state_dir: Path,
    store: str | None = None,
    *,
    workers: int = 4,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """Start ``dataflow-runner server`` and wait until it answers."""
    port = free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir.parent / f"server-{port}.log"
    command = [sys.executable, "-m", "dataflow_runner", "server", "--port", str(port),
               "--state-dir", str(state_dir), "--workers", str(workers), *args]  # fmt: skip
    if store:
        command += ["--store", store]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    server = Server(f"http://127.0.0.1:{port}", proc, state_dir, log, store)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{server.url}/api/v1/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            raise AssertionError(f"the server did not start:\n{server.output()}")
        time.sleep(0.05)


def make_token(state_dir: Path, store: str | None, name: str, role: str) -> str:
    """A token, made as ``tokens create`` makes it (through the engine)."""
    from dataflow_runner.engine import tokens
    from dataflow_runner.engine.api import Engine

    with Engine(state_dir=state_dir, store=store) as engine:
        return tokens.create(engine, name, role)[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest) -> str | None:
    """The store a server uses: SQLite in its state directory, or a new PostgreSQL
    database."""
    if request.param == "sqlite":
        return None
    pg: PostgresServer = request.getfixturevalue("postgres_server")
    return pg.new_database()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The steps' working directory."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def server(tmp_path: Path, store_url: str | None) -> Iterator[Server]:
    """A server with an admin token (``server.token``)."""
    state = tmp_path / "state"
    state.mkdir()
    token = make_token(state, store_url, "root", "admin")
    running = start_server(state, store_url)
    running.token = token
    yield running
    running.stop()
