"""Test isolation: every test gets its own state directory and a clean environment.

Nothing here fakes a component: helpers run the real CLI, in-process (``cli``)
or as a subprocess (``cli_process``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DATAFLOW_RUNNER_SHARED", ROOT.parent / "shared"))
COMPAT = SHARED / "compat"

# Variables that would make a test depend on the machine it runs on.
_LEAKY = ("AWS_", "DATAFLOW_RUNNER_", "CONSUL_", "ETCD")


def pytest_report_header() -> str:
    return f"shared reference data: {COMPAT} ({'present' if COMPAT.is_dir() else 'ABSENT'})"


@pytest.fixture(autouse=True)
def _isolated(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith(_LEAKY):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("DATAFLOW_RUNNER_HOME", str(home / "dfr"))
    monkeypatch.setenv("TZ", "UTC")
    from dataflow_runner.config.redact import SECRETS

    SECRETS.clear()
    yield
    _stop_hosts(home / "dfr")


def _stop_hosts(state_dir: Path) -> None:
    """A local cluster the test left up (its engine host outlives the test): stop it."""
    import signal

    from dataflow_runner.procs import pid_alive

    for pid_file in state_dir.glob("clusters/*/host.pid"):
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            continue
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def compat() -> Path:
    if not COMPAT.is_dir():
        pytest.skip(
            f"the shared reference folder {COMPAT} is absent (it holds the Go tool's "
            "public configs); CI has it"
        )
    return COMPAT


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[object]:
    """Run the real command line in-process: ``cli("up", "--emr-config", p)``."""
    from dataflow_runner.cli.main import run

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def run_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> Result:
    """Run ``dataflow-runner ARGS`` as a real subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "dataflow_runner", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli_process() -> object:
    return run_process
