"""DAG semantics on the local fabric, with real processes and a real store.

Every test runs the real CLI (``run-transient``) on a playbook of shell steps
that leave traces in files, then checks the traces, the exit code, the log
lines and the store.
"""

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

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def write_cluster(d: Path, concurrency: int = 2, **local: Any) -> Path:
    path = d / "cluster.json"
    path.write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {
                    "name": "test",
                    "fabric": "local",
                    "local": {"concurrency": concurrency, "workDir": str(d), **local},
                },
            }
        )
    )
    return path


def write_playbook(d: Path, steps: list[dict[str, Any]], **extra: Any) -> Path:
    path = d / "playbook.json"
    path.write_text(
        json.dumps({"schema": NATIVE_PLAYBOOK, "data": {"name": "p", "steps": steps, **extra}})
    )
    return path


def sh(id_: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "type": "COMMAND", "command": ["sh", "-c", script], **extra}


def mark(name: str) -> str:
    """A shell snippet appending ``name`` to the shared trace file."""
    return f"echo {name} >> trace.txt"


def trace(d: Path) -> list[str]:
    path = d / "trace.txt"
    return path.read_text().split() if path.exists() else []


def run(cli_process: Any, d: Path, *extra: str) -> Any:
    return cli_process(
        "run-transient",
        "--emr-config",
        str(d / "cluster.json"),
        "--emr-playbook",
        str(d / "playbook.json"),
        "--output",
        "json",
        *extra,
    )


def events(result: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.out.splitlines() if line.startswith("{")]


def final_states(result: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in events(result):
        if e["event"] == "step" and e["state"] in ("COMPLETED", "FAILED", "CANCELLED"):
            out[e["step"]] = e["state"]
    return out


def test_diamond_runs_in_dependency_order(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path, concurrency=2)
    write_playbook(
        tmp_path,
        [
            sh("a", mark("a")),
            sh("b", "sleep 0.2; " + mark("b"), dependsOn=["a"]),
            sh("c", mark("c"), dependsOn=["a"]),
            sh("d", mark("d"), dependsOn=["b", "c"]),
        ],
    )
    result = run(cli_process, tmp_path)
    assert result.code == 0, result.err
    order = trace(tmp_path)
    assert order[0] == "a" and order[-1] == "d" and set(order[1:3]) == {"b", "c"}
    assert final_states(result) == dict.fromkeys("abcd", "COMPLETED")
    assert "All steps completed successfully" in result.err
    assert "Transient local run completed successfully" in result.err


def test_fan_out_respects_concurrency(cli_process: Any, tmp_path: Path) -> None:
    # Each step records how many steps run at once (a lock-free counter in files).
    count = "n=$(ls running | wc -l); echo $n >> peaks.txt"
    body = (
        f"mkdir -p running; touch running/$DATAFLOW_RUNNER_STEP_ID; {count}; sleep 0.2; "
        "rm running/$DATAFLOW_RUNNER_STEP_ID"
    )
    write_cluster(tmp_path, concurrency=3)
    write_playbook(
        tmp_path,
        [sh("root", "true")]
        + [sh(f"leaf{i}", body, dependsOn=["root"]) for i in range(8)]
        + [sh("join", mark("join"), dependsOn=[f"leaf{i}" for i in range(8)])],
        concurrency=2,
    )
    result = run(cli_process, tmp_path)
    assert result.code == 0, result.err
    peaks = [int(x) for x in (tmp_path / "peaks.txt").read_text().split()]
    assert len(peaks) == 8
    assert max(peaks) <= 2  # the playbook's limit (2) is below the cluster's (3)
    assert max(peaks) == 2  # and it is used
    assert trace(tmp_path) == ["join"]


def test_cancel_and_wait_cancels_everything_not_finished(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path, concurrency=2)
    write_playbook(
        tmp_path,
        [
            sh("slow", "sleep 30; " + mark("slow")),
            sh("bad", "echo 'ValueError: bad input' >&2; exit 3"),
            sh("after-bad", mark("after-bad"), dependsOn=["bad"]),
            sh("independent", mark("independent"), dependsOn=["slow"]),
        ],
    )
    result = run(cli_process, tmp_path)
    assert result.code == 1
    states = final_states(result)
    assert states == {
        "bad": "FAILED",
        "slow": "CANCELLED",
        "after-bad": "CANCELLED",
        "independent": "CANCELLED",
    }
    assert trace(tmp_path) == []  # the running step was stopped before it wrote
    # As the Go tool counts: failed and cancelled steps alike.
    assert "4/4 steps failed to complete successfully" in result.err
    assert "exit code 3" in result.err and "ValueError: bad input" in result.err


def test_continue_only_cancels_dependents(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path, concurrency=2)
    write_playbook(
        tmp_path,
        [
            sh("bad", "exit 1", actionOnFailure="CONTINUE"),
            sh("child", mark("child"), dependsOn=["bad"]),
            sh("grandchild", mark("grandchild"), dependsOn=["child"]),
            sh("other", "sleep 0.2; " + mark("other")),
            sh("cleanup", mark("cleanup"), after=["bad"]),
        ],
    )
    result = run(cli_process, tmp_path)
    assert result.code == 1
    states = final_states(result)
    assert states["bad"] == "FAILED"
    assert states["child"] == "CANCELLED" and states["grandchild"] == "CANCELLED"
    assert states["other"] == "COMPLETED" and states["cleanup"] == "COMPLETED"
    assert sorted(trace(tmp_path)) == ["cleanup", "other"]
    reasons = {
        e["step"]: e.get("reason")
        for e in events(result)
        if e["event"] == "step" and e["state"] == "CANCELLED"
    }
    assert reasons["child"] == "upstream step 'bad' failed"
    assert reasons["grandchild"] == "upstream step 'child' was cancelled"


def test_retries_with_backoff_then_success(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    flaky = (
        "echo attempt $DATAFLOW_RUNNER_ATTEMPT >> attempts.txt; "
        '[ "$DATAFLOW_RUNNER_ATTEMPT" -ge 3 ]'
    )
    write_playbook(tmp_path, [sh("flaky", flaky, retries={"count": 3, "delaySeconds": 0.1})])
    result = run(cli_process, tmp_path)
    assert result.code == 0, result.err
    assert (tmp_path / "attempts.txt").read_text().split() == [
        "attempt",
        "1",
        "attempt",
        "2",
        "attempt",
        "3",
    ]
    kinds = [e["state"] for e in events(result) if e["event"] == "step"]
    assert kinds.count("RETRYING") == 2 and kinds[-1] == "COMPLETED"
    status = json.loads(run_status(tmp_path))
    [step] = status["steps"]
    assert step["attempts"] == 3
    assert [a["state"] for a in step["attempt_list"]] == ["FAILED", "FAILED", "COMPLETED"]


def test_retries_exhausted_is_a_failure(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_playbook(tmp_path, [sh("never", "echo nope >&2; exit 2", retries=2)])
    result = cli_process(
        "run-transient",
        "--emr-config",
        str(tmp_path / "cluster.json"),
        "--emr-playbook",
        str(tmp_path / "playbook.json"),
    )
    assert result.code == 1
    assert "Step 'never' with id 'never' was FAILED - exit code 2 - after 3 attempts" in result.err


def test_timeout_kills_the_whole_process_group(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    # The step starts a grandchild that would write after 3 s, and records its pid.
    script = "(sleep 3; echo leaked >> trace.txt) & echo $! > grandchild.pid; wait"
    write_playbook(tmp_path, [sh("hang", script, timeoutSeconds=0.5)])
    result = run(cli_process, tmp_path)
    assert result.code == 1
    pid = int((tmp_path / "grandchild.pid").read_text())
    assert not _alive(pid)
    time.sleep(3.5)
    assert trace(tmp_path) == []
    failed = [e for e in events(result) if e["event"] == "step" and e["state"] == "FAILED"]
    assert failed and failed[0]["reason"] == "timed out after 0.5 s"
    assert failed[0]["cause"] == "timed out after 0.5 s"  # not its last line of output


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}/stat").exists()
        and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    )


def run_status(d: Path, *extra: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "dataflow_runner", "status", "--output", "json", *extra],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    return proc.stdout


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_cancels_and_records(tmp_path: Path, sig: signal.Signals) -> None:
    write_cluster(tmp_path)
    write_playbook(
        tmp_path,
        [
            sh("long", "touch started; sleep 60; " + mark("long")),
            sh("next", mark("next"), dependsOn=["long"]),
        ],
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataflow_runner",
            "run-transient",
            "--emr-config",
            str(tmp_path / "cluster.json"),
            "--emr-playbook",
            str(tmp_path / "playbook.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.02)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    assert trace(tmp_path) == []
    assert f"{sig.name} received" in err
    status = json.loads(run_status(tmp_path))
    assert status["state"] == "CANCELLED"
    assert {s["id"]: s["state"] for s in status["steps"]} == {
        "long": "CANCELLED",
        "next": "CANCELLED",
    }
