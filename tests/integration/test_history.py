"""History commands: runs, status, logs (with --follow), clusters; the live view."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"
ROOT = Path(__file__).resolve().parents[2]


def files(d: Path, name: str, steps: list[dict[str, Any]]) -> tuple[str, str]:
    (d / "c.json").write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "c", "local": {"concurrency": 2, "workDir": str(d)}},
            }
        )
    )
    (d / f"{name}.json").write_text(
        json.dumps({"schema": NATIVE_PLAYBOOK, "data": {"name": name, "steps": steps}})
    )
    return str(d / "c.json"), str(d / f"{name}.json")


def sh(id_: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "type": "COMMAND", "command": ["sh", "-c", script], **extra}


def test_runs_status_and_logs(cli_process: Any, tmp_path: Path) -> None:
    config, good = files(tmp_path, "good", [sh("hello", "echo out-line; echo err-line >&2")])
    _, bad = files(
        tmp_path, "bad", [sh("flaky", 'echo "try $DATAFLOW_RUNNER_ATTEMPT" >&2; exit 4', retries=1)]
    )
    assert cli_process("run-transient", "--emr-config", config, "--emr-playbook", good).code == 0
    assert cli_process("run-transient", "--emr-config", config, "--emr-playbook", bad).code == 1
    runs = json.loads(cli_process("runs", "--output", "json").out)
    assert [r["playbook"] for r in runs] == ["bad", "good"]
    assert [r["state"] for r in runs] == ["FAILED", "COMPLETED"]
    assert [
        r["playbook"]
        for r in json.loads(cli_process("runs", "--state", "completed", "--output", "json").out)
    ] == ["good"]
    assert [
        r["playbook"]
        for r in json.loads(cli_process("runs", "--playbook", "bad", "--output", "json").out)
    ] == ["bad"]
    assert (
        json.loads(cli_process("runs", "--limit", "1", "--output", "json").out)[0]["playbook"]
        == "bad"
    )
    assert json.loads(cli_process("runs", "--since", "1h", "--output", "json").out) != []
    assert json.loads(cli_process("runs", "--until", "2000-01-01", "--output", "json").out) == []
    table = cli_process("runs").out
    assert table.splitlines()[0].split()[:3] == ["RUN", "STATE", "PLAYBOOK"]

    bad_id = runs[0]["id"]
    status = json.loads(cli_process("status", bad_id[:-2], "--output", "json").out)
    [step] = status["steps"]
    assert step["state"] == "FAILED" and step["attempts"] == 2 and step["exit_code"] == 4
    assert step["cause"] == "try 2"
    assert [a["state"] for a in step["attempt_list"]] == ["FAILED", "FAILED"]
    text = cli_process("status", bad_id).out
    assert "flaky" in text and "FAILED" in text and "try 2" in text

    good_id = runs[1]["id"]
    assert cli_process("logs", good_id, "hello", "--stream", "stdout").out == "out-line\n"
    assert cli_process("logs", good_id, "hello", "--stream", "stderr").out == "err-line\n"
    both = cli_process("logs", good_id, "hello").out
    assert "==> stdout <==" in both and "out-line" in both and "err-line" in both
    assert (
        cli_process("logs", bad_id, "flaky", "--attempt", "1", "--stream", "stderr").out
        == "try 1\n"
    )
    missing = cli_process("logs", bad_id, "nope")
    assert missing.code == 1 and "has no attempt of step 'nope' (steps: flaky)" in missing.err
    unknown = cli_process("status", "r-nope")
    assert unknown.code == 1 and "no run 'r-nope'" in unknown.err


def test_logs_follow(cli_process: Any, tmp_path: Path) -> None:
    # Long enough to be seen RUNNING by the polls below (two commands each) on a
    # loaded machine: 0.9 s was missed at times, and the poll then waited for nothing.
    config, book = files(
        tmp_path, "slow", [sh("ticker", "for i in 1 2 3; do echo tick $i; sleep 1; done")]
    )
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataflow_runner",
            "run-transient",
            "--emr-config",
            config,
            "--emr-playbook",
            book,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120  # a loaded machine is slow to start a run
    while True:
        runs = json.loads(cli_process("runs", "--output", "json").out)
        if (
            runs
            and json.loads(cli_process("status", "--output", "json").out)["steps"][0]["state"]
            == "RUNNING"
        ):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    followed = cli_process("logs", runs[0]["id"], "ticker", "--stream", "stdout", "--follow")
    runner.wait(timeout=30)
    assert followed.out == "tick 1\ntick 2\ntick 3\n"


def test_a_killed_runner_shows_as_dead(cli_process: Any, tmp_path: Path) -> None:
    config, book = files(tmp_path, "long", [sh("long", "sleep 30")])
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataflow_runner",
            "run-transient",
            "--emr-config",
            config,
            "--emr-playbook",
            book,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not json.loads(cli_process("runs", "--output", "json").out):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    [run] = json.loads(cli_process("runs", "--output", "json").out)
    assert run["state"] == "DEAD"
    assert [
        r["id"] for r in json.loads(cli_process("runs", "--state", "dead", "--output", "json").out)
    ] == [run["id"]]
    status = json.loads(cli_process("status", "--output", "json").out)
    assert status["state"] == "DEAD"
    subprocess.run(["pkill", "-f", "sleep 30"], check=False)


def test_live_view_in_a_terminal(tmp_path: Path) -> None:
    config, book = files(
        tmp_path, "tty", [sh("a", "sleep 0.2"), sh("b", "exit 2"), sh("c", "true", dependsOn=["a"])]
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI with a terminal on stderr
        os.execve(
            sys.executable,
            [
                sys.executable,
                "-m",
                "dataflow_runner",
                "run-transient",
                "--emr-config",
                config,
                "--emr-playbook",
                book,
            ],
            {**os.environ, "TERM": "xterm", "COLUMNS": "120"},
        )
    chunks = []
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    import re

    raw = b"".join(chunks).decode(errors="replace")
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    print(screen)
    assert os.waitstatus_to_exitcode(status) == 1
    assert "Traceback" not in screen
    assert "playbook tty" in screen and "FAILED" in screen
    assert "completed" in screen and "failed" in screen  # the final summary line
    assert "details: dataflow-runner status r-" in screen


def test_the_example_pipeline(cli_process: Any, tmp_path: Path) -> None:
    """The README's main job: fan-out, fan-in, a retried step, a Spark step."""
    import importlib.util

    example = tmp_path / "daily-events"
    shutil.copytree(ROOT / "examples" / "daily-events", example)
    spark = importlib.util.find_spec("pyspark") is not None
    args = [] if spark else ["--vars", "spark,off"]
    result = cli_process(
        "run-transient",
        "--emr-config",
        str(example / "cluster.yaml"),
        "--emr-playbook",
        str(example / "playbook.yaml"),
        *args,
        timeout=600,
    )
    assert result.code == 0, result.err
    report = (example / "data" / "report.md").read_text()
    assert report.count("| 2026-11-") == 3
    assert ("## Per country (Spark)" in report) == spark
    status = json.loads(cli_process("status", "--output", "json").out)
    steps = {s["id"]: s for s in status["steps"]}
    assert steps["rates"]["attempts"] == 2  # failed once, retried
    assert all(s["state"] == "COMPLETED" for s in steps.values())
    assert ("spark-totals" in steps) == spark


def test_a_steps_control_characters_are_shown_not_obeyed(cli_process: Any, tmp_path: Path) -> None:
    # The step's last words (its probable cause) would retitle and clear a terminal.
    script = r'printf "\033]0;owned\007\033[2J boom\n" >&2; exit 3'
    config, book = files(tmp_path, "evil", [sh("evil", script)])
    run = cli_process("run-transient", "--emr-config", config, "--emr-playbook", book)
    assert run.code == 1, run.err
    assert "probable cause" in run.err
    for result in (run, cli_process("status"), cli_process("runs")):
        text = result.out + result.err
        assert "\x1b" not in text
        assert "\x07" not in text
    assert r"\x1b]0;owned\x07\x1b[2J boom" in cli_process("status").out
