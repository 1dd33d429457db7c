"""Storage faults: a runner that cannot write its store stops the run's steps,
exits 1 with one line saying so, and the run does not stay RUNNING: its end is
kept outside the state directory, and the next command that writes the store
records it FAILED with that reason.

The faults are real, made without root or a small disk: a file-size limit set
on the running runner (``prlimit``: the store's files may not grow by a byte,
so SQLite's next commit fails with EFBIG, as on a full disk; CPython ignores
SIGXFSZ, which would otherwise kill the runner), and a PostgreSQL database that
stops taking connections mid-run (its open connections terminated). Nothing is
mocked.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.procs import pid_alive
from tests.conftest import Result
from tests.emr_server import EmrDriver, Outcome, backend
from tests.integration.test_emr import cluster_file, serial_playbook

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where ends are kept: this test's own (XDG_RUNTIME_DIR, inherited by the CLI)."""
    path = tmp_path / "runtime"
    path.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(path))
    return path


def write_files(d: Path, steps: list[dict[str, Any]]) -> list[str]:
    (d / "c.json").write_text(
        json.dumps({"schema": NATIVE_CLUSTER, "data": {"name": "c", "local": {"concurrency": 4}}})
    )
    (d / "p.json").write_text(
        json.dumps({"schema": NATIVE_PLAYBOOK, "data": {"name": "p", "steps": steps}})
    )
    return ["--emr-config", str(d / "c.json"), "--emr-playbook", str(d / "p.json")]


#: ``quick`` ends when the test creates ``go``; ``slow`` would run for 5 minutes;
#: ``after`` waits for ``quick``. Each writes its pid.
STEPS = [
    {
        "id": "quick",
        "type": "COMMAND",
        "command": ["sh", "-c", "echo $$ > quick.pid; while [ ! -e go ]; do sleep 0.02; done"],
    },
    {
        "id": "slow",
        "type": "COMMAND",
        "command": ["sh", "-c", "echo $$ > slow.pid; exec sleep 300"],
    },
    {"id": "after", "type": "COMMAND", "command": ["true"], "dependsOn": ["quick"]},
]


def start(d: Path, *args: str) -> subprocess.Popen[str]:
    """The CLI as a subprocess."""
    return subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", *args],
        cwd=d,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(predicate: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def no_growth(proc: subprocess.Popen[str], store: Path) -> None:
    """From now on the runner cannot make a file larger than the store's WAL is:
    the store's next commit fails (a few hundred bytes elsewhere still fit)."""
    size = os.path.getsize(f"{store}-wal")
    assert size > 4096  # the run's first transitions are in it
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (size, size))


def one_error_line(err: str) -> str:
    """The message of the only error line (logfmt: ``msg="..."``, quotes escaped)."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if "level=error" in line]
    assert len(errors) == 1, err
    return errors[0].split('msg="', 1)[1].rsplit('"', 1)[0].replace('\\"', '"')


def steps_gone(d: Path, names: tuple[str, ...] = ("quick", "slow")) -> None:
    pids = [int((d / f"{name}.pid").read_text()) for name in names]
    deadline = time.monotonic() + 10
    while any(pid_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"steps still running: {pids}"
        time.sleep(0.05)


def kept_ends(runtime: Path) -> list[dict[str, Any]]:
    """The ends kept for the next writer, checked private (0700 directory, 0600 files)."""
    directory = runtime / "dataflow-runner"
    if not directory.exists():
        return []
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    ends = []
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        ends.append(json.loads(path.read_text()))
    return ends


def run_state(cli_process: Any, d: Path, run_id: str, *store: str) -> dict[str, Any]:
    result = cli_process("status", run_id, "--output", "json", *store, cwd=d)
    assert result.code == 0, result.err
    found: dict[str, Any] = json.loads(result.out)
    return found


def latest_run(cli_process: Any, d: Path, *store: str) -> str:
    result = cli_process("runs", "--output", "json", *store, cwd=d)
    assert result.code == 0, result.err
    return str(json.loads(result.out)[0]["id"])


def check_recorded_by_the_next_writer(
    cli_process: Any, d: Path, runtime: Path, line: str, *store: str
) -> None:
    """Reading does not record the kept end; the next command that writes does."""
    run_id = latest_run(cli_process, d, *store)
    [kept] = kept_ends(runtime)
    assert set(kept) == {"run_id", "state", "reason", "at"}
    assert kept["run_id"] == run_id and kept["state"] == "FAILED"
    assert kept["reason"] in line
    assert run_state(cli_process, d, run_id, *store)["state"] == "DEAD"
    assert len(kept_ends(runtime)) == 1
    args = write_files(d, [{"id": "one", "type": "COMMAND", "command": ["true"]}])
    after: Result = cli_process("run-transient", *args, *store, cwd=d)
    assert after.code == 0, after.err
    run = run_state(cli_process, d, run_id, *store)
    assert run["state"] == "FAILED"
    assert run["reason"] == kept["reason"]
    assert all(s["state"] in ("CANCELLED", "COMPLETED") for s in run["steps"]), run["steps"]
    assert kept_ends(runtime) == []


def test_a_full_store_stops_the_run_and_the_next_writer_records_it(
    cli_process: Any, tmp_path: Path, runtime_dir: Path
) -> None:
    store = Path(os.environ["DATAFLOW_RUNNER_HOME"]) / "store.db"
    proc = start(tmp_path, "run-transient", *write_files(tmp_path, STEPS))
    for name in ("slow.pid", "quick.pid"):
        wait_until((tmp_path / name).exists, proc, "the steps did not start")
    no_growth(proc, store)
    (tmp_path / "go").touch()  # quick ends: its end cannot be committed
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    line = one_error_line(err)
    assert f"cannot write the store at {store}: " in line
    assert "recorded FAILED by the next command that writes the store" in line
    steps_gone(tmp_path)
    check_recorded_by_the_next_writer(cli_process, tmp_path, runtime_dir, line)


@pytest.fixture
def pg_database(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A database of its own, and a switch that stops (and resumes) its taking
    connections: those it has are terminated, new ones refused."""
    import psycopg

    name = f"faults_{os.getpid()}_{int(time.monotonic() * 1e6)}"
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    admin = psycopg.connect(admin_url, autocommit=True)
    admin.execute(f"CREATE DATABASE {name}")

    def accepting(allow: bool) -> None:
        admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {str(allow).lower()}")
        if not allow:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )

    yield pg_url.rsplit("/", 1)[0] + f"/{name}", accepting
    accepting(True)
    admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    admin.close()


def test_a_store_that_refuses_connections_stops_the_run(
    cli_process: Any, tmp_path: Path, runtime_dir: Path, pg_database: Any
) -> None:
    url, accepting = pg_database
    proc = start(tmp_path, "run-transient", *write_files(tmp_path, STEPS), "--store", url)
    for name in ("slow.pid", "quick.pid"):
        wait_until((tmp_path / name).exists, proc, "the steps did not start")
    time.sleep(0.3)  # their starts recorded
    accepting(False)
    (tmp_path / "go").touch()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    line = one_error_line(err)
    masked = url.replace("not-a-real-secret", "***")
    assert f"cannot write the store at {masked}: " in line
    assert "not-a-real-secret" not in err
    steps_gone(tmp_path)
    accepting(True)
    [kept] = kept_ends(runtime_dir)
    assert "not-a-real-secret" not in json.dumps(kept)
    check_recorded_by_the_next_writer(cli_process, tmp_path, runtime_dir, line, "--store", url)


def test_a_full_store_terminates_a_transient_emr_cluster(
    emr_cli: Any, emr: Any, tmp_path: Path, runtime_dir: Path, cli_process: Any
) -> None:
    store = Path(os.environ["DATAFLOW_RUNNER_HOME"]) / "store.db"
    holding = [True]  # no step ends until the store is full
    outcomes = {"quick": Outcome(seconds=0.05), "long": Outcome(seconds=600)}
    with EmrDriver(outcomes, hold=lambda: holding[0]) as driver:
        playbook = serial_playbook(tmp_path, ["quick", "long"])
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "dataflow_runner", "run-transient"),
                *("--emr-config", str(cluster_file(tmp_path)), "--emr-playbook", str(playbook)),
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=emr_cli.env(),
        )

        def running() -> bool:
            steps = [s for c in backend().clusters.values() for s in c.steps]
            return any(s.state == "RUNNING" for s in steps)

        driver.wait_for(running)
        time.sleep(1.0)  # seen RUNNING and recorded (polls every 0.2 s)
        no_growth(proc, store)
        holding[0] = False
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    line = one_error_line(err)
    assert f"cannot write the store at {store}: " in line
    [cluster] = backend().clusters.values()
    assert cluster.state == "TERMINATED"
    assert emr.faults.calls["TerminateJobFlows"] >= 1
    check_recorded_by_the_next_writer(cli_process, tmp_path, runtime_dir, line)
