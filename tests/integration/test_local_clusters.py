"""Local clusters: up, runs from separate processes, --async, down, a dead agent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def files(d: Path, name: str, steps: list[dict[str, Any]], concurrency: int = 1) -> tuple[str, str]:
    (d / "cluster.json").write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "lc", "local": {"concurrency": concurrency, "workDir": str(d)}},
            }
        )
    )
    (d / f"{name}.json").write_text(
        json.dumps({"schema": NATIVE_PLAYBOOK, "data": {"name": name, "steps": steps}})
    )
    return str(d / "cluster.json"), str(d / f"{name}.json")


def sh(id_: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "type": "COMMAND", "command": ["sh", "-c", script], **extra}


def up(cli_process: Any, config: str) -> str:
    result = cli_process("up", "--emr-config", config)
    assert result.code == 0, result.err
    line = next(x for x in result.err.splitlines() if "Jobflow ID: " in x)
    cluster_id = line.split("Jobflow ID: ")[1].strip().rstrip('"')
    assert cluster_id.startswith("l-") and len(cluster_id) == 15
    return cluster_id


def test_up_two_concurrent_runs_async_and_down(cli_process: Any, tmp_path: Path) -> None:
    # Concurrency 1: the cluster's queue takes the steps in order, one at a time.
    config, first = files(
        tmp_path,
        "first",
        [sh("a1", "sleep 0.4; echo a1 >> trace"), sh("a2", "echo a2 >> trace", dependsOn=["a1"])],
    )
    _, second = files(tmp_path, "second", [sh("b1", "echo b1 >> trace")])
    cluster = up(cli_process, config)
    env = {**os.environ}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dataflow_runner",
                "run",
                "--emr-playbook",
                book,
                "--emr-cluster",
                cluster,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for book in (first, second)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert "Successfully added 2 steps to the local cluster" in outputs[0][1]
    assert "All steps completed successfully" in outputs[1][1]
    assert sorted((tmp_path / "trace").read_text().split()) == ["a1", "a2", "b1"]
    # --async returns at once; the agent runs the steps and records them.
    _, third = files(tmp_path, "third", [sh("c1", "sleep 0.3; echo c1 >> trace")])
    submitted = cli_process("run", "--emr-playbook", third, "--emr-cluster", cluster, "--async")
    assert submitted.code == 0, submitted.err
    assert "c1" not in (tmp_path / "trace").read_text()
    deadline = time.monotonic() + 30
    while "c1" not in (tmp_path / "trace").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    runs = json.loads(cli_process("runs", "--output", "json").out)
    assert {r["playbook"] for r in runs} == {"first", "second", "third"}
    deadline = time.monotonic() + 30
    while json.loads(cli_process("runs", "--output", "json").out)[0]["state"] != "COMPLETED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    down = cli_process("down", "--emr-config", config, "--emr-cluster", cluster)
    assert down.code == 0, down.err
    listing = json.loads(cli_process("clusters", "--output", "json").out)
    assert listing[0]["id"] == cluster and listing[0]["state"] == "TERMINATED"


def test_down_cancels_what_runs(cli_process: Any, tmp_path: Path) -> None:
    config, book = files(tmp_path, "long", [sh("long", "sleep 60; echo done >> trace")])
    cluster = up(cli_process, config)
    assert cli_process("run", "--emr-playbook", book, "--emr-cluster", cluster, "--async").code == 0
    deadline = time.monotonic() + 30
    while (
        json.loads(cli_process("status", "--output", "json").out)["steps"][0]["state"] != "RUNNING"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert cli_process("down", "--emr-config", config, "--emr-cluster", cluster).code == 0
    status = json.loads(cli_process("status", "--output", "json").out)
    assert status["steps"][0]["state"] == "CANCELLED"
    assert status["state"] == "CANCELLED"
    assert not (tmp_path / "trace").exists()


def test_a_dead_cluster_is_never_running(cli_process: Any, tmp_path: Path) -> None:
    config, book = files(tmp_path, "p", [sh("a", "true")])
    cluster = up(cli_process, config)
    pid = json.loads(cli_process("clusters", "--output", "json").out)[0]
    agent = _agent_pid(cluster)
    os.kill(agent, signal.SIGKILL)
    _wait_gone(agent)
    listing = json.loads(cli_process("clusters", "--output", "json").out)
    assert listing[0]["state"] == "TERMINATED_WITH_ERRORS", (pid, listing)
    assert listing[0]["reason"] == "its host process died"
    result = cli_process("run", "--emr-playbook", book, "--emr-cluster", cluster)
    assert result.code == 1
    assert f"local cluster {cluster} is TERMINATED_WITH_ERRORS" in result.err


def _agent_pid(cluster: str) -> int:
    from dataflow_runner.store import open_store

    store = open_store()
    try:
        record = store.reader.cluster(cluster)
        assert record is not None and record.pid
        return record.pid
    finally:
        store.close()


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists():
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_unknown_cluster_is_one_clear_line(cli_process: Any, tmp_path: Path) -> None:
    _, book = files(tmp_path, "p", [sh("a", "true")])
    result = cli_process("run", "--emr-playbook", book, "--emr-cluster", "l-NOSUCHCLUSTER")
    assert result.code == 1
    assert "no local cluster 'l-NOSUCHCLUSTER'" in result.err
    assert len(result.err.strip().splitlines()) == 1
