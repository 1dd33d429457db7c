"""Signals and the failure paths of an unlucky operator: a second Ctrl-C, a closed
terminal (SIGHUP), a dead run's ``logs --follow``, a reader that goes away
(EPIPE), an EMR endpoint that fails the cleanup or cannot be reached at all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.emr_server import EmrDriver, Outcome, backend
from tests.integration.test_emr import cluster_file, serial_playbook, transient_args

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def local_run(d: Path, steps: list[dict[str, Any]]) -> list[str]:
    (d / "c.json").write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "c", "local": {"concurrency": 2, "workDir": str(d)}},
            }
        )
    )
    (d / "p.json").write_text(
        json.dumps({"schema": NATIVE_PLAYBOOK, "data": {"name": "p", "steps": steps}})
    )
    return ["run-transient", "--emr-config", str(d / "c.json"), "--emr-playbook", str(d / "p.json")]


def sh(step_id: str, script: str) -> dict[str, Any]:
    return {"id": step_id, "type": "COMMAND", "command": ["sh", "-c", script]}


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def dfr(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "dataflow_runner", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for_file(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    return path.read_text().strip()


def alive(pid: int) -> bool:
    from dataflow_runner.procs import pid_alive

    return pid_alive(pid)


def latest(env: dict[str, str] | None = None) -> dict[str, Any]:
    result = dfr("status", "--output", "json", env=env)
    assert result.returncode == 0, result.stderr
    status: dict[str, Any] = json.loads(result.stdout)
    return status


def test_a_second_ctrl_c_stops_the_steps_at_once_without_a_traceback(tmp_path: Path) -> None:
    # The step ignores SIGTERM: the first Ctrl-C's grace period would last 5 s.
    args = local_run(tmp_path, [sh("stubborn", "trap '' TERM; echo $$ > pid; sleep 60")])
    proc = start(args)
    pid = int(wait_for_file(tmp_path / "pid"))
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    assert alive(pid)  # still in its grace period
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert "SIGINT received: cancelling the run's steps (again to force exit)" in err
    assert not alive(pid)
    status = latest()
    assert status["state"] == "CANCELLED"
    assert [s["state"] for s in status["steps"]] == ["CANCELLED"]


def test_sighup_is_handled_as_sigterm(tmp_path: Path) -> None:
    args = local_run(tmp_path, [sh("long", "echo $$ > pid; sleep 60"), sh("other", "sleep 60")])
    proc = start([*args, "--softLock", str(tmp_path / "soft.lock")])
    pid = int(wait_for_file(tmp_path / "pid"))
    assert (tmp_path / "soft.lock").exists()
    proc.send_signal(signal.SIGHUP)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert "SIGHUP received" in err and "Traceback" not in err
    assert not alive(pid)
    assert not (tmp_path / "soft.lock").exists()  # a soft lock goes, whatever happened
    status = latest()
    assert status["state"] == "CANCELLED"
    assert {s["state"] for s in status["steps"]} == {"CANCELLED"}


def test_follow_stops_when_the_run_is_dead(tmp_path: Path) -> None:
    args = local_run(tmp_path, [sh("long", "echo started; echo $$ > pid; sleep 60")])
    proc = start(args)
    wait_for_file(tmp_path / "pid")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run = latest()
    assert run["state"] == "DEAD"
    follow = dfr("logs", run["id"], "long", "--follow", timeout=30)
    assert follow.returncode == 0, follow.stderr
    assert "started" in follow.stdout
    os.killpg(int((tmp_path / "pid").read_text()), signal.SIGKILL)


def test_a_reader_that_goes_away_never_stops_the_run(tmp_path: Path) -> None:
    steps = [sh(f"s{i}", f"sleep 0.2; echo s{i} >> trace") for i in range(4)]
    args = local_run(tmp_path, steps)
    command = " ".join(
        [sys.executable, "-m", "dataflow_runner", *args, "--output", "json", "|", "head", "-1"]
    )
    piped = subprocess.run(
        ["sh", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert json.loads(piped.stdout)["event"] == "run_started"
    assert "Traceback" not in piped.stderr
    deadline = time.monotonic() + 30
    while latest()["state"] == "RUNNING":  # head left at once; the run did not
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status = latest()
    assert status["state"] == "COMPLETED", status
    assert sorted((tmp_path / "trace").read_text().split()) == ["s0", "s1", "s2", "s3"]


def test_async_with_json_output_prints_the_run_id(tmp_path: Path, cli_process: Any) -> None:
    args = local_run(tmp_path, [sh("a", "sleep 0.2; echo a >> trace")])
    config = args[2]
    up = cli_process("up", "--emr-config", config)
    assert up.code == 0, up.err
    cluster = up.err.split("Jobflow ID: ")[1].split()[0].rstrip('"')
    try:
        submitted = cli_process(
            "run",
            "--emr-playbook",
            args[4],
            "--emr-cluster",
            cluster,
            "--async",
            "--output",
            "json",
        )
        assert submitted.code == 0, submitted.err
        [line] = submitted.out.splitlines()
        event = json.loads(line)
        assert event["event"] == "run_submitted" and event["run_id"].startswith("r-")
        deadline = time.monotonic() + 30
        while (
            cli_process("status", event["run_id"], "--output", "json").out.count('"COMPLETED"') < 2
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        assert cli_process("down", "--emr-config", config, "--emr-cluster", cluster).code == 0


def test_sigterm_of_an_emr_transient_run_ends_within_the_cleanup_timeout(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    """CancelSteps always answers 500: the cluster is terminated first (that stops
    its steps), and the command exits within the cleanup timeout."""
    emr.faults.broken.add("CancelSteps")
    with EmrDriver(default=Outcome(seconds=600)) as driver:
        proc = emr_cli.popen(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["long", "next"])),
            "--cleanup-timeout",
            "20",
        )
        driver.wait_for(
            lambda: any(s.state == "RUNNING" for c in backend().clusters.values() for s in c.steps)
        )
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    [cluster] = backend().clusters.values()
    assert cluster.state == "TERMINATED"
    status = json.loads(emr_cli("status", "--output", "json").out)
    assert status["state"] == "CANCELLED"


def test_a_cluster_that_cannot_be_terminated_is_named_with_the_command_to_end_it(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    emr.faults.broken.update({"CancelSteps", "TerminateJobFlows"})
    with EmrDriver(default=Outcome(seconds=600)) as driver:
        proc = emr_cli.popen(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["long"])),
            "--cleanup-timeout",
            "3",
        )
        driver.wait_for(
            lambda: any(s.state == "RUNNING" for c in backend().clusters.values() for s in c.steps)
        )
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        [cluster] = backend().clusters.values()
        assert proc.returncode == 1, err
        assert "Traceback" not in err
        assert f"dataflow-runner down --emr-config CONFIG --emr-cluster {cluster.id}" in err
        emr.faults.broken.clear()  # the cluster ends, for the next tests
    status = json.loads(emr_cli("status", "--output", "json").out)
    assert status["state"] == "CANCELLED"


@pytest.mark.parametrize("command", ["up", "run-transient"])
def test_an_unreachable_endpoint_gives_up_after_the_retry_timeout(
    tmp_path: Path, command: str
) -> None:
    # Nothing listens on this port: every call fails to connect.
    env = {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "DATAFLOW_RUNNER_POLL_INTERVAL": "0.2",
    }
    args = ["up", "--emr-config", str(cluster_file(tmp_path))]
    if command == "run-transient":
        args = transient_args(tmp_path, serial_playbook(tmp_path, ["a"]))
    result = dfr(*args, "--retry-timeout", "3", env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot reach AWS" in result.stderr
