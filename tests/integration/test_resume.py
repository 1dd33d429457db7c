"""SIGKILL the runner at random moments, then ``resume``: every step ends
COMPLETED exactly once, nothing is submitted to EMR twice, the store is intact.

Trial counts and outcomes are recorded in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.emr_server import EmrDriver, Outcome, backend

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"
LOCAL_TRIALS = 30
EMR_TRIALS = 30


def local_files(d: Path, scale: float = 1.0) -> tuple[Path, Path]:
    """A DAG whose steps run a few seconds (``scale`` times) and each append their
    id to ``trace`` when they end: the count of executions to their end."""
    cluster = d / "c.json"
    cluster.write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "c", "local": {"concurrency": 2, "workDir": str(d)}},
            }
        )
    )

    def step(id_: str, sleep: float, deps: list[str]) -> dict[str, Any]:
        return {
            "id": id_,
            "type": "COMMAND",
            "dependsOn": deps,
            "retries": {"count": 2, "delaySeconds": 0},
            "command": ["sh", "-c", f"sleep {sleep * scale:g}; echo {id_} >> trace"],
        }

    playbook = d / "p.json"
    playbook.write_text(
        json.dumps(
            {
                "schema": NATIVE_PLAYBOOK,
                "data": {
                    "name": "p",
                    "steps": [
                        step("a", 1.0, []),
                        step("b", 1.5, ["a"]),
                        step("c", 0.5, ["a"]),
                        step("d", 1.0, ["b", "c"]),
                        step("e", 2.0, []),
                        step("f", 0.5, ["d", "e"]),
                    ],
                },
            }
        )
    )
    return cluster, playbook


def dfr(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "dataflow_runner", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def kill_at_random(
    args: list[str],
    rng: random.Random,
    home: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    spread: float = 1.0,
) -> None:
    """Start a run and SIGKILL its runner: mostly at a random moment after the run
    is recorded (so the trials exercise resume whatever the machine's speed),
    sometimes at a random moment of its start-up."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    if rng.random() < 0.15:
        time.sleep(rng.uniform(0.05, 0.5))
    else:
        deadline = time.monotonic() + 30
        while not _recorded(home) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, spread))
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _recorded(home: Path) -> bool:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{home}/store.db?mode=ro", uri=True, timeout=1)
        try:
            return bool(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def check_store(env: dict[str, str] | None = None) -> dict[str, Any] | None:
    listing = dfr("runs", "--output", "json", env=env)
    assert listing.returncode == 0, listing.stderr
    runs = json.loads(listing.stdout)
    if not runs:
        return None
    status: dict[str, Any] = json.loads(
        dfr("status", runs[0]["id"], "--output", "json", env=env).stdout
    )
    return status


def integrity(state_dir: Path) -> str:
    import sqlite3

    conn = sqlite3.connect(state_dir / "store.db")
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_sigkill_then_resume_local(tmp_path: Path) -> None:
    """Every step runs to its end exactly once, counted by its own side effect: a
    step that ended while its runner was dead is recorded as it ended, one still
    running is followed, none is run twice."""
    rng = random.Random(2026)
    outcomes: dict[str, int] = {
        "resumed": 0,
        "finished before the kill": 0,
        "killed before recording": 0,
        "steps that ended while the runner was dead": 0,
        "steps followed to their end": 0,
    }
    for trial in range(LOCAL_TRIALS):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        home = d / "home"
        env = {"DATAFLOW_RUNNER_HOME": str(home)}
        cluster, playbook = local_files(d)
        kill_at_random(
            ["run-transient", "--emr-config", str(cluster), "--emr-playbook", str(playbook)],
            rng,
            home,
            env=env,
            spread=5.0,
        )
        before = check_store(env)
        if before is None:
            outcomes["killed before recording"] += 1
            assert not (d / "trace").exists()  # nothing ran before the run was recorded
            continue
        if before["state"] == "COMPLETED":
            outcomes["finished before the kill"] += 1
        else:
            assert before["state"] == "DEAD", before
            # Some steps end while the runner is dead.
            time.sleep(rng.uniform(0.0, 1.5))
            result = dfr("resume", before["id"], env=env)
            assert result.returncode == 0, result.stderr
            outcomes["resumed"] += 1
            outcomes["steps that ended while the runner was dead"] += result.stderr.count(
                "ended while its runner was dead"
            )
            outcomes["steps followed to their end"] += result.stderr.count("still runs")
        after = check_store(env)
        assert after is not None and after["state"] == "COMPLETED", after
        executions = (d / "trace").read_text().split()
        assert sorted(executions) == sorted("abcdef"), (trial, executions)
        for step in after["steps"]:
            completed = [a for a in step["attempt_list"] if a["state"] == "COMPLETED"]
            assert len(completed) == 1, step
            assert step["state"] == "COMPLETED"
        assert integrity(home) == "ok"
    assert outcomes["resumed"] >= LOCAL_TRIALS // 2, outcomes
    assert outcomes["steps that ended while the runner was dead"] > 0, outcomes
    assert outcomes["steps followed to their end"] > 0, outcomes
    _record("local", outcomes)


def emr_files(d: Path, serial: bool) -> tuple[Path, Path]:
    from tests.integration.test_emr import cluster_file, dag_playbook, serial_playbook

    cluster = cluster_file(d)
    playbook = (
        serial_playbook(d, ["s1", "s2", "s3", "s4"])
        if serial
        else dag_playbook(d, 4, concurrency=2)
    )
    return cluster, playbook


def test_sigkill_then_resume_emr(tmp_path: Path, emr: Any) -> None:
    rng = random.Random(7)
    outcomes: dict[str, int] = {
        "resumed": 0,
        "finished before the kill": 0,
        "killed before recording": 0,
    }
    for trial in range(EMR_TRIALS):
        emr.reset()
        d = tmp_path / f"t{trial}"
        d.mkdir()
        home = d / "home"
        env = {
            **emr.env(),
            "DATAFLOW_RUNNER_HOME": str(home),
            "DATAFLOW_RUNNER_POLL_INTERVAL": "0.2",
        }
        cluster, playbook = emr_files(d, serial=trial % 2 == 0)
        with EmrDriver(default=Outcome(seconds=0.15)) as driver:
            kill_at_random(
                ["run-transient", "--emr-config", str(cluster), "--emr-playbook", str(playbook)],
                rng,
                home,
                env=env,
                cwd=d,
            )
            before = check_store(env)
            if before is None:
                outcomes["killed before recording"] += 1
                assert not backend().clusters  # nothing launched before the run was recorded
                continue
            if before["state"] == "COMPLETED":
                outcomes["finished before the kill"] += 1
            else:
                # EMR goes on while the runner is dead: some steps complete meanwhile.
                time.sleep(rng.uniform(0.0, 1.0))
                result = dfr("resume", before["id"], env=env, cwd=d)
                assert result.returncode == 0, result.stderr
                outcomes["resumed"] += 1
            after = check_store(env)
            assert after is not None and after["state"] == "COMPLETED", after
            assert all(s["state"] == "COMPLETED" for s in after["steps"]), after["steps"]
            # EMR saw each step exactly once: nothing submitted twice by the resume.
            assert set(driver.submitted.values()) == {1}, driver.submitted
            clusters = list(backend().clusters.values())
            assert len(clusters) == 1
            driver.wait_for(lambda c=clusters[0]: c.state == "TERMINATED")
        assert integrity(home) == "ok"
    assert outcomes["resumed"] >= EMR_TRIALS // 3, outcomes
    _record("emr", outcomes)


def _record(fabric: str, outcomes: dict[str, int]) -> None:
    """Leave the figures where docs/reliability.md's numbers come from."""
    path = os.environ.get("DFR_TEST_TRIALS_OUT")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps({"fabric": fabric, **outcomes}) + "\n")


@pytest.mark.parametrize("lock", ["--lock", "--softLock"])
def test_sigterm_keeps_or_releases_the_lock(tmp_path: Path, lock: str) -> None:
    cluster, playbook = local_files(tmp_path)
    env = {"DATAFLOW_RUNNER_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataflow_runner",
            "run-transient",
            "--emr-config",
            str(cluster),
            "--emr-playbook",
            str(playbook),
            lock,
            "the.lock",
        ],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "trace").exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1, err
    status = check_store(env)
    assert status is not None and status["state"] == "CANCELLED"
    # A hard lock stays after an interrupted run, as in the Go tool; a soft one goes.
    assert (tmp_path / "the.lock").exists() == (lock == "--lock")


def one_slot_run(d: Path, steps: list[dict[str, Any]]) -> list[str]:
    """``run-transient`` arguments for ``steps`` on a local cluster of one slot."""
    cluster = d / "c.json"
    cluster.write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "c", "local": {"concurrency": 1, "workDir": str(d)}},
            }
        )
    )
    playbook = d / "p.json"
    playbook.write_text(
        json.dumps({"schema": NATIVE_PLAYBOOK, "data": {"name": "p", "steps": steps}})
    )
    return ["run-transient", "--emr-config", str(cluster), "--emr-playbook", str(playbook)]


def kill_once_marked(args: list[str], env: dict[str, str], marker: Path) -> int:
    """Start the run, SIGKILL its runner once a step wrote its pid to ``marker``,
    and return that pid."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text().strip()):
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    return int(marker.read_text())


def forget_attempts(home: Path) -> None:
    """As if the runner had died before committing anything about its steps."""
    import sqlite3

    conn = sqlite3.connect(home / "store.db")
    with conn:
        conn.execute("DELETE FROM attempts")
        conn.execute("UPDATE steps SET state = 'PENDING', attempts = 0, started_at = NULL")
    conn.close()


def test_a_step_the_store_did_not_record_is_followed_not_run_again(tmp_path: Path) -> None:
    """The runner dies between having a step started and the commit that records it:
    ``resume`` finds the attempt in the run's journal and follows it to its end,
    instead of starting it a second time beside it."""
    home = tmp_path / "home"
    env = {"DATAFLOW_RUNNER_HOME": str(home)}
    script = "echo $$ > first; sleep 2; echo done >> trace"
    args = one_slot_run(tmp_path, [{"id": "a", "type": "COMMAND", "command": ["sh", "-c", script]}])
    step_pid = kill_once_marked(args, env, tmp_path / "first")
    forget_attempts(home)
    assert _alive(step_pid)
    status = check_store(env)
    assert status is not None and status["state"] == "DEAD"
    result = dfr("resume", status["id"], env=env)
    assert result.returncode == 0, result.stderr
    assert "the store did not record: following it" in result.stderr
    assert (tmp_path / "trace").read_text().split() == ["done"]
    after = check_store(env)
    assert after is not None and after["state"] == "COMPLETED"
    [step] = after["steps"]
    assert [(a["attempt"], a["state"]) for a in step["attempt_list"]] == [(1, "COMPLETED")]


def test_a_step_that_ended_while_its_runner_was_dead_keeps_its_outcome(tmp_path: Path) -> None:
    """Its exit code and times are recorded, the status says how it was learnt, and
    the step is not run again."""
    home = tmp_path / "home"
    env = {"DATAFLOW_RUNNER_HOME": str(home)}
    script = "echo $$ > marker; sleep 0.5; echo ran >> trace; exit 3"
    args = one_slot_run(tmp_path, [{"id": "a", "type": "COMMAND", "command": ["sh", "-c", script]}])
    step_pid = kill_once_marked(args, env, tmp_path / "marker")
    deadline = time.monotonic() + 30
    while _alive(step_pid):  # it ends while nobody runs the run
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status = check_store(env)
    assert status is not None and status["state"] == "DEAD"
    result = dfr("resume", status["id"], env=env)
    assert result.returncode == 1, result.stderr
    assert "ended while its runner was dead" in result.stderr
    assert (tmp_path / "trace").read_text().split() == ["ran"]
    after = check_store(env)
    assert after is not None and after["state"] == "FAILED"
    [step] = after["steps"]
    assert step["exit_code"] == 3
    assert step["reason"] == "exit code 3; ran to its end while its runner was dead"
    assert [(a["attempt"], a["state"]) for a in step["attempt_list"]] == [(1, "FAILED")]
    text = dfr("status", status["id"], env=env).stdout
    assert "ran to its end while its runner was dead" in text


def test_two_resumes_at_once_one_wins(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"DATAFLOW_RUNNER_HOME": str(home)}
    script = "echo $$ > marker; sleep 3; echo ran >> trace"
    args = one_slot_run(tmp_path, [{"id": "a", "type": "COMMAND", "command": ["sh", "-c", script]}])
    kill_once_marked(args, env, tmp_path / "marker")
    status = check_store(env)
    assert status is not None and status["state"] == "DEAD"
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dataflow_runner", "resume", status["id"]],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = [(p.wait(timeout=60), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1, 1], results
    for code, err in results:
        if code == 1:
            # Refused while the winner runs it, or (a loser slow to start, on a loaded
            # machine) after the winner finished: never run a second time.
            assert re.search(
                rf"run {status['id']} (is being resumed by \d+ on \S+|already ended: COMPLETED)",
                err,
            ), err
    assert (tmp_path / "trace").read_text().split() == ["ran"]
    after = check_store(env)
    assert after is not None and after["state"] == "COMPLETED"


def _alive(pid: int) -> bool:
    from dataflow_runner.procs import pid_alive

    return pid_alive(pid)


def test_a_step_that_ends_while_resume_looks_is_not_lost(tmp_path: Path) -> None:
    """Resume reads the journal (started, no end), then finds the step's process gone:
    it has just ended, and its supervisor journals the end a moment later. That end
    is waited for and recorded: the step is not taken for lost (and run again)."""
    import threading

    from dataflow_runner.fabrics.base import ClusterRef, Options, Recovered, StepRef
    from dataflow_runner.fabrics.local.driver import LocalDriver
    from dataflow_runner.fabrics.local.supervised import attempt_key
    from dataflow_runner.fabrics.local.supervisor import JOURNAL_NAME
    from dataflow_runner.logfiles import run_dir

    state = tmp_path / "state"
    journal = run_dir(state, "r-1") / JOURNAL_NAME
    journal.parent.mkdir(parents=True)
    key = attempt_key("e", 1)
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that no longer runs the step
    started = {"event": "started", "key": key, "pid": gone.pid, "at": time.time()}
    journal.write_text(json.dumps(started) + "\n")

    def supervisor_journals_the_end() -> None:
        time.sleep(0.5)
        with journal.open("a") as fh:
            fh.write(json.dumps({"event": "ended", "key": key, "code": 0, "at": time.time()}))
            fh.write("\n")

    writer = threading.Thread(target=supervisor_journals_the_end)
    writer.start()
    fabric = LocalDriver().open(None, None, Options(state))
    try:
        found = fabric.reattach(ClusterRef("local", "local"), StepRef("r-1", "e", 1, "", {}))
    finally:
        writer.join()
        fabric.close()
    assert found.how is Recovered.ENDED
