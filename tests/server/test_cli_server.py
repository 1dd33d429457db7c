"""The command line against a real server (``--server URL``, ``DATAFLOW_RUNNER_SERVER``,
the token in ``DATAFLOW_RUNNER_TOKEN``): ``run-transient``, ``runs``, ``status``,
``logs`` and ``resume`` print what they print locally and exit the same way.

Each test runs the same command locally (its own state directory) and against a
server started by ``conftest.py`` (uvicorn on 127.0.0.1, SQLite; some on a real
PostgreSQL too), and compares their output once run ids, times and durations are
masked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import (
    PATIENCE,
    Server,
    cluster_doc,
    make_token,
    playbook_doc,
    sh,
    start_server,
)
from tests.servers import free_port

_RUN_ID = re.compile(r"r-\d{8}-\d{6}-[0-9a-f]{6}")
_STAMP = re.compile(r'time="[^"]*" ')
_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}( \+0000 UTC)?")
_TOOK = re.compile(r"\b\d+(\.\d+)?s\b|\b\d+m\d\ds\b")


def masked(text: str) -> str:
    """Output with what differs between two runs of the same playbook masked (and
    column padding, which follows the widths of what was masked)."""
    text = _STAMP.sub("", _RUN_ID.sub("RUN", text))
    text = _TOOK.sub("N", _DATE.sub("DATE", text))
    return "\n".join(re.sub(r" {2,}", "  ", line.rstrip()) for line in text.splitlines())


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = PATIENCE) -> Any:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_RUNNER_")}
    return subprocess.run(
        [sys.executable, "-m", "dataflow_runner", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**clean, **(env or {})},
    )


class Both:
    """The same command, run locally and against the server."""

    def __init__(self, server: Server, local_state: Path, token: str) -> None:
        self.server, self.local_state = server, local_state
        self.env = {"DATAFLOW_RUNNER_SERVER": server.url, "DATAFLOW_RUNNER_TOKEN": token}

    def local(self, *args: str) -> Any:
        return cli(*args, "--state-dir", str(self.local_state))

    def remote(self, *args: str, **extra: str) -> Any:
        return cli(*args, env={**self.env, **extra})


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[Server]:
    state = tmp_path / "server-state"
    state.mkdir()
    token = make_token(state, None, "root", "admin")
    running = start_server(state, None, workers=2)
    running.token = token
    yield running
    running.stop()


@pytest.fixture
def both(sqlite_server: Server, tmp_path: Path) -> Both:
    assert sqlite_server.token
    return Both(sqlite_server, tmp_path / "local-state", sqlite_server.token)


def write(path: Path, doc: dict[str, Any]) -> str:
    path.write_text(json.dumps(doc, indent=2))
    return str(path)


@pytest.fixture
def files(tmp_path: Path, work: Path) -> dict[str, str]:
    """A cluster config and playbooks: one that completes, one whose middle step
    fails with a probable cause, one with a bad document."""
    steps = [
        sh("greet", "echo hello {{.who}}"),
        sh("count", "for i in 1 2 3; do echo line $i; done; echo note >&2", dependsOn=["greet"]),
        sh("last", "echo done", dependsOn=["count"]),
    ]
    failing = [
        sh("greet", "echo hello"),
        sh("broken", "echo 'KeyError: day' >&2; exit 3", dependsOn=["greet"]),
        sh("last", "echo done", dependsOn=["broken"]),
    ]
    bad = playbook_doc("bad", [{"id": "a", "type": "COMAND"}, {"id": "b", "command": 3}])
    return {
        "cluster": write(tmp_path / "cluster.json", cluster_doc(work)),
        "good": write(tmp_path / "good.json", playbook_doc("good", steps)),
        "failing": write(tmp_path / "failing.json", playbook_doc("failing", failing)),
        "bad": write(tmp_path / "bad.json", bad),
    }


def run_transient(files: dict[str, str], playbook: str, *more: str) -> list[str]:
    return ["run-transient", "--emr-config", files["cluster"], "--emr-playbook",
            files[playbook], "--vars", "who,world", *more]  # fmt: skip


def only_run(server: Server) -> dict[str, Any]:
    items = server.api.get("/api/v1/runs").json()["items"]
    assert len(items) == 1, items
    return server.run(items[0]["id"])


def test_run_transient_completes_with_the_same_lines_and_exit_code(
    both: Both, files: dict[str, str]
) -> None:
    here = both.local(*run_transient(files, "good"))
    there = both.remote(*run_transient(files, "good"))
    assert here.returncode == there.returncode == 0, there.stderr
    assert masked(there.stderr) == masked(here.stderr)
    assert "Step 'count' with id 'count' completed successfully" in there.stderr
    assert there.stderr.rstrip().endswith('msg="Transient local run completed successfully"')
    assert only_run(both.server)["state"] == "COMPLETED"


def test_a_failing_playbook_exits_1_with_its_cause_as_locally(
    both: Both, files: dict[str, str]
) -> None:
    here = both.local(*run_transient(files, "failing"))
    there = both.remote(*run_transient(files, "failing"))
    assert here.returncode == there.returncode == 1
    lines = masked(there.stderr).splitlines()
    assert (
        "level=error msg=\"Step 'broken' with id 'broken' was FAILED - exit code 3 - "
        'probable cause: KeyError: day"' in lines
    ), there.stderr
    assert lines[-1] == 'level=error msg="2/3 steps failed to complete successfully"'
    # The local run also prints the log lines it found the cause in: the rest is equal.
    assert [line for line in lines if "|" not in line] == [
        line for line in masked(here.stderr).splitlines() if "  | " not in line
    ]


def test_runs_status_and_logs_look_as_they_do_locally(both: Both, files: dict[str, str]) -> None:
    assert both.local(*run_transient(files, "failing")).returncode == 1
    assert both.remote(*run_transient(files, "failing")).returncode == 1
    run_id = only_run(both.server)["id"]
    for args in (["runs"], ["status"], ["status", "--output", "json"]):
        here, there = both.local(*args), both.remote(*args)
        assert here.returncode == there.returncode == 0, there.stderr
        if "json" in args:
            mine, theirs = json.loads(here.stdout), json.loads(there.stdout)
            assert set(theirs) == set(mine)
            assert [s["state"] for s in theirs["steps"]] == ["COMPLETED", "FAILED", "CANCELLED"]
            assert [set(s) for s in theirs["steps"]] == [set(s) for s in mine["steps"]]
            assert theirs["reason"] == mine["reason"]
        else:
            assert masked(there.stdout) == masked(here.stdout)
    local_id = json.loads(both.local("runs", "--output", "json").stdout)[0]["id"]
    for step, more in (("broken", []), ("greet", ["--stream", "stdout"]), ("broken", ["-f"])):
        here = both.local("logs", local_id, step, *more)
        there = both.remote("logs", run_id, step, *more)
        assert here.returncode == there.returncode == 0, there.stderr
        assert there.stdout == here.stdout
    assert (
        both.remote("logs", run_id, "broken").stdout
        == "==> stdout <==\n==> stderr <==\nKeyError: day\n"
    )
    # The global option and the command's own say the same.
    by_flag = cli(
        "--server",
        both.server.url,
        "status",
        run_id,
        env={"DATAFLOW_RUNNER_TOKEN": both.env["DATAFLOW_RUNNER_TOKEN"]},
    )
    assert by_flag.stdout == both.remote("status", run_id).stdout
    unknown = both.remote("status", "r-19990101-000000-000000")
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1 and "no run 'r-19990101-000000-000000'" in unknown.stderr


def test_logs_follow_prints_a_growing_log_until_the_step_ends(
    both: Both, tmp_path: Path, work: Path, files: dict[str, str]
) -> None:
    gate = tmp_path / "gate"
    slow = sh("slow", f"echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo second")
    playbook = write(tmp_path / "slow.json", playbook_doc("slow", [slow]))
    submitted = both.remote("run-transient", "--emr-config", files["cluster"],
                            "--emr-playbook", playbook, "--async")  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    run_id = submitted.stdout.strip()
    both.server.wait(run_id, lambda r: r["steps"] and r["steps"][0]["state"] == "RUNNING")
    env = {**os.environ, **both.env}
    with subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", "logs", run_id, "slow", "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as follower:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first\n"
        gate.touch()
        rest, errors = follower.communicate(timeout=PATIENCE)
    assert follower.returncode == 0, errors
    assert rest == "second\n"


def test_async_returns_the_run_id_at_once(both: Both, files: dict[str, str]) -> None:
    there = both.remote(*run_transient(files, "good", "--async"))
    assert there.returncode == 0, there.stderr
    run_id = there.stdout.strip()
    assert _RUN_ID.fullmatch(run_id)
    assert f"Run {run_id} submitted to {both.server.url}" in there.stderr
    assert both.server.wait(run_id)["state"] == "COMPLETED"
    as_json = both.remote(*run_transient(files, "good", "--async", "--output", "json"))
    assert json.loads(as_json.stdout)["event"] == "run_submitted"
    local = both.local(*run_transient(files, "good", "--async"))
    assert local.returncode == 1 and "--async needs --server" in local.stderr


def test_a_bad_document_is_refused_with_its_paths_as_a_local_run_prints_them(
    both: Both, files: dict[str, str]
) -> None:
    there = both.remote(*run_transient(files, "bad"))
    here = both.local(*run_transient(files, "bad"))
    assert there.returncode == here.returncode == 1
    assert masked(there.stderr) == masked(here.stderr)
    assert f"{files['bad']}: $.data.steps[0].type: expected one of" in there.stderr
    assert "$.data.steps[1].command: expected an array, got 3" in there.stderr
    assert "Traceback" not in there.stderr
    assert both.server.api.get("/api/v1/runs").json()["items"] == []


def test_a_missing_invalid_or_weak_token_says_what_to_do(both: Both, files: dict[str, str]) -> None:
    for token in ("", "dfr_not-a-token"):
        there = both.remote("runs", DATAFLOW_RUNNER_TOKEN=token)
        assert there.returncode == 1
        assert there.stderr.count("\n") == 1, there.stderr
        assert "refused the request" in there.stderr
        assert (
            "set DATAFLOW_RUNNER_TOKEN to a token made with: dataflow-runner tokens create"
            in there.stderr
        )
        assert "dfr_not-a-token" not in there.stderr
    viewer = make_token(both.server.state_dir, None, "watcher", "viewer")
    there = both.remote(*run_transient(files, "good"), DATAFLOW_RUNNER_TOKEN=viewer)
    assert there.returncode == 1
    assert "watcher is a viewer: this needs the submitter role" in there.stderr
    assert "set DATAFLOW_RUNNER_TOKEN to a token whose role allows it" in there.stderr
    assert both.remote("runs", DATAFLOW_RUNNER_TOKEN=viewer).returncode == 0


def test_an_unreachable_server_is_one_line_and_exit_1(files: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for args in (["runs"], ["status"], run_transient(files, "good"), ["logs", "r-1", "a"]):
        there = cli("--server", url, *args)
        assert there.returncode == 1
        lines = there.stderr.splitlines()
        assert len(lines) == 1 and f"cannot reach the server at {url}" in lines[0], there.stderr
    assert "expected an http:// or https:// URL" in cli("--server", "nowhere", "runs").stderr


def test_local_flags_are_refused_with_a_server(both: Both) -> None:
    there = both.remote("runs", "--store", "postgresql://x/y")
    assert there.returncode == 1
    assert "--store cannot be used with --server" in there.stderr


def test_resume_retries_a_failed_run_keeping_its_completed_steps(
    both: Both, tmp_path: Path, files: dict[str, str]
) -> None:
    flag, counter = tmp_path / "fixed", tmp_path / "greeted"
    steps = [
        sh("greet", f"echo once >> {counter}"),
        sh("check", f"test -e {flag}", dependsOn=["greet"]),
        sh("last", "echo done", dependsOn=["check"]),
    ]
    playbook = write(tmp_path / "flaky.json", playbook_doc("flaky", steps))
    first = both.remote("run-transient", "--emr-config", files["cluster"],
                        "--emr-playbook", playbook)  # fmt: skip
    assert first.returncode == 1
    run_id = only_run(both.server)["id"]
    flag.touch()
    again = both.remote("resume", run_id)
    assert again.returncode == 0, again.stderr
    assert (
        f"Run {run_id} was FAILED: the server runs its failed and cancelled steps again"
        in again.stderr
    )
    assert "Step 'check' with id 'check' completed successfully" in again.stderr
    assert "Step 'greet'" not in again.stderr
    assert again.stderr.rstrip().endswith(f'msg="Run {run_id} resumed and completed successfully"')
    assert counter.read_text() == "once\n"  # the completed step did not run again
    done = both.remote("resume", run_id)
    assert done.returncode == 1 and f"run {run_id} already ended: COMPLETED" in done.stderr


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_on_postgresql_run_transient_and_status_are_the_same(
    server: Server, files: dict[str, str], tmp_path: Path
) -> None:
    assert server.token
    both = Both(server, tmp_path / "local-state", server.token)
    here = both.local(*run_transient(files, "good"))
    there = both.remote(*run_transient(files, "good"))
    assert here.returncode == there.returncode == 0, there.stderr
    assert masked(there.stderr) == masked(here.stderr)
    assert masked(both.remote("status").stdout) == masked(both.local("status").stdout)


def test_a_signal_cancels_the_run_on_the_server(
    both: Both, tmp_path: Path, files: dict[str, str]
) -> None:
    steps = [sh("wait", "echo started; sleep 60")]
    playbook = write(tmp_path / "long.json", playbook_doc("long", steps))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_RUNNER_")},
           **both.env}  # fmt: skip
    with subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", "run-transient", "--emr-config",
         files["cluster"], "--emr-playbook", playbook, "--poll-interval", "0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    ) as runner:  # fmt: skip
        deadline = time.monotonic() + PATIENCE
        while True:
            items = both.server.api.get("/api/v1/runs").json()["items"]
            if items and items[0]["state"] == "RUNNING":
                run = both.server.run(items[0]["id"])
                if run["steps"][0]["state"] == "RUNNING":
                    break
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        runner.send_signal(2)
        _out, errors = runner.communicate(timeout=PATIENCE)
    assert runner.returncode == 1, errors
    assert "SIGINT received: cancelling run" in errors
    assert "run cancelled: 0/1 steps completed before it stopped" in errors
    assert both.server.run(run["id"])["state"] == "CANCELLED"


def test_the_readme_server_section_with_the_cli_runs_as_written(
    sqlite_server: Server, tmp_path: Path
) -> None:
    """The README's "With the CLI" commands, on the documents of its curl example."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text[text.index("## Server\n") : text.index("\n## ", text.index("## Server\n") + 1)]
    sent = json.loads(re.search(r"-d '(\{.*?\})'", section, re.S).group(1))  # type: ignore[union-attr]
    (tmp_path / "cluster.json").write_text(json.dumps(sent["cluster"]))
    (tmp_path / "hello.json").write_text(json.dumps(sent["playbook"]))
    console = re.search(r"\*\*With the CLI\.\*\*.*?```console\n(.*?)```", section, re.S)
    assert console is not None
    lines = [line[2:] for line in console.group(1).splitlines() if line.startswith("$ ")]
    assert lines[0].startswith("export DATAFLOW_RUNNER_SERVER=")
    assert sqlite_server.token
    env = {
        "DATAFLOW_RUNNER_SERVER": sqlite_server.url,
        "DATAFLOW_RUNNER_TOKEN": sqlite_server.token,
    }
    outputs = []
    run_id = ""
    for line in lines[1:]:
        words = line.replace("RUN", run_id).split()
        assert words[0] == "dataflow-runner"
        result = subprocess.run(
            [sys.executable, "-m", "dataflow_runner", *words[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=PATIENCE,
            check=False,
            env={**os.environ, **env},
        )
        assert result.returncode == 0, (line, result.stderr)
        outputs.append(result)
        if not run_id:
            run_id = _RUN_ID.findall(result.stderr)[0]
    assert "Transient local run completed successfully" in outputs[0].stderr
    assert run_id in outputs[1].stdout and "COMPLETED" in outputs[1].stdout
    assert outputs[2].stdout.startswith(f"run {run_id}  COMPLETED  playbook 'hello'")
    assert outputs[3].stdout == "==> stdout <==\nhello world\n==> stderr <==\n"
