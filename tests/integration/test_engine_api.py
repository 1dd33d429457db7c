"""The engine driven from Python, with no command line: the public API only."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner import (
    Engine,
    RunFilter,
    RunKind,
    RunRequest,
    RunState,
    StepChanged,
    load_cluster,
    load_playbook,
)
from dataflow_runner.procs import pid_alive

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def write(path: Path, schema: str, data: dict[str, Any]) -> str:
    path.write_text(json.dumps({"schema": schema, "data": data}))
    return str(path)


def sh(step_id: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "type": "COMMAND", "command": ["sh", "-c", script], **extra}


def wait_until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_three_runs_at_once_one_cancelled_from_another_thread(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = load_cluster(
        write(
            tmp_path / "c.json",
            NATIVE_CLUSTER,
            {"name": "c", "local": {"concurrency": 4, "workDir": str(work)}},
        ),
        {},
    )
    # Every step dumps its environment; the steps of the doomed run also record their
    # pids and hang, so that it can be cancelled while they run.
    dump = 'env > "env.$DATAFLOW_RUNNER_RUN_ID.$DATAFLOW_RUNNER_STEP_ID"'
    finishing = [
        sh("a", f"{dump}; sleep 0.3"),
        sh("b", f"{dump}; sleep 0.3", dependsOn=["a"]),
        sh("c", dump, dependsOn=["a"]),
    ]
    hanging = [
        sh("x", f'{dump}; echo $$ > "pid.$DATAFLOW_RUNNER_RUN_ID.x"; sleep 60'),
        sh("y", f'{dump}; echo $$ > "pid.$DATAFLOW_RUNNER_RUN_ID.y"; sleep 60'),
    ]
    books = {
        name: load_playbook(
            write(tmp_path / f"{name}.json", NATIVE_PLAYBOOK, {"name": name, "steps": steps}), {}
        )
        for name, steps in (("one", finishing), ("two", finishing), ("doomed", hanging))
    }
    events: dict[str, list[StepChanged]] = {name: [] for name in books}
    with Engine(state_dir=tmp_path / "state") as engine:
        handles = {
            name: engine.submit(
                RunRequest(playbook=book, cluster=config),
                on_event=lambda e, name=name: (
                    events[name].append(e) if isinstance(e, StepChanged) else None
                ),
            )
            for name, book in books.items()
        }
        doomed = handles["doomed"].run_id
        pid_files = [work / f"pid.{doomed}.{s}" for s in ("x", "y")]
        wait_until(lambda: all(p.exists() and p.read_text().strip() for p in pid_files))
        pids = [int(p.read_text()) for p in pid_files]
        assert all(pid_alive(pid) for pid in pids)
        canceller = threading.Thread(target=handles["doomed"].cancel, args=("no longer needed",))
        canceller.start()
        canceller.join()
        outcomes = {name: handle.wait(timeout=60) for name, handle in handles.items()}

        assert outcomes["doomed"].state is RunState.CANCELLED
        assert outcomes["doomed"].cancelled == 2
        assert not any(pid_alive(pid) for pid in pids)
        assert outcomes["one"].state is RunState.COMPLETED
        assert outcomes["two"].state is RunState.COMPLETED
        assert outcomes["one"].completed == outcomes["two"].completed == 3

        # The store agrees (read through the same API).
        for name, handle in handles.items():
            record = engine.run_record(handle.run_id)
            assert record.state is outcomes[name].state
            assert record.kind is RunKind.TRANSIENT
        assert {r.playbook for r in engine.runs(RunFilter(state=RunState.COMPLETED)).items} == {
            "one",
            "two",
        }
        assert [s.state.value for s in engine.steps(doomed)] == ["CANCELLED", "CANCELLED"]

    # Each step saw its own run's ids, and no other run's.
    run_ids = {name: handle.run_id for name, handle in handles.items()}
    dumps = list(work.glob("env.*"))
    assert len(dumps) == 3 + 3 + 2
    for path in dumps:
        _, run_id, step_id = path.name.split(".")
        env = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        assert env["DATAFLOW_RUNNER_RUN_ID"] == run_id
        assert env["DATAFLOW_RUNNER_STEP_ID"] == step_id
        others = set(run_ids.values()) - {run_id}
        assert not any(other in path.read_text() for other in others), path.name
    # The events came to each run's own listener only.
    for name, seen in events.items():
        assert {e.run_id for e in seen} == {run_ids[name]}
    assert {e.step_id for e in events["doomed"] if e.change == "finished"} == {"x", "y"}


def test_a_forced_stop_kills_at_once_and_records_the_run_cancelled(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    config = load_cluster(
        write(tmp_path / "c.json", NATIVE_CLUSTER, {"name": "c", "local": {"workDir": str(work)}}),
        {},
    )
    # A step that ignores SIGTERM: only a forced stop ends it before its grace period.
    script = "trap '' TERM; echo $$ > pid; sleep 60"
    book = load_playbook(
        write(tmp_path / "p.json", NATIVE_PLAYBOOK, {"name": "p", "steps": [sh("s", script)]}),
        {},
    )
    with Engine(state_dir=tmp_path / "state") as engine:
        handle = engine.submit(RunRequest(playbook=book, cluster=config))
        wait_until(lambda: (work / "pid").exists() and (work / "pid").read_text().strip())
        pid = int((work / "pid").read_text())
        handle.cancel("stop")
        time.sleep(0.3)
        assert pid_alive(pid)  # it ignores SIGTERM: the grace period runs
        handle.force()
        outcome = handle.wait(timeout=10)
        assert outcome.state is RunState.CANCELLED
        assert not pid_alive(pid)
        record = engine.run_record(handle.run_id)
        assert record.state is RunState.CANCELLED
        [step] = engine.steps(handle.run_id)
        assert step.state.value == "CANCELLED"


def test_a_bad_request_is_refused_before_anything_is_recorded(tmp_path: Path) -> None:
    from dataflow_runner import ConfigError

    config = load_cluster(
        write(tmp_path / "c.json", NATIVE_CLUSTER, {"name": "c", "local": {"workDir": "."}}),
        {},
    )
    # A CUSTOM_JAR step on a path no mapping covers cannot run here.
    book = load_playbook(
        write(
            tmp_path / "p.json",
            NATIVE_PLAYBOOK,
            {"name": "p", "steps": [{"id": "j", "type": "CUSTOM_JAR", "jar": "s3://b/x.jar"}]},
        ),
        {},
    )
    with Engine(state_dir=tmp_path / "state") as engine:
        with pytest.raises(ConfigError, match=r"\$\.data\.steps\[0\]"):
            engine.submit(RunRequest(playbook=book, cluster=config, playbook_path="p.json"))
        assert engine.runs().items == []
