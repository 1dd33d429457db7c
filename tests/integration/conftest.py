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
        return {**os.environ, **self.server.env(), "DATAFLOW_RUNNER_POLL_INTERVAL": "0.2",
                **extra}

    def __call__(self, *args: str, timeout: float = 120, **env: str) -> Result:
        proc = subprocess.run([sys.executable, "-m", "dataflow_runner", *args],
                              cwd=self.workdir, capture_output=True, text=True, check=False,
                              timeout=timeout, env=self.env(**env))
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "dataflow_runner", *args],
                                cwd=self.workdir, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=self.env(**env))


@pytest.fixture
def emr_cli(emr: EmrServer, tmp_path: Path) -> Any:
    return EmrCli(emr, tmp_path)
