"""A fabric added with one registry line (``tests/fabric_demo``) runs through the
same engine as the built-in ones: transient runs, runs on a long-lived cluster,
failures and their causes, the history, and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner import Engine, RunRequest, RunState, load_cluster, load_playbook
from dataflow_runner.fabrics import registry
from tests import fabric_demo

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


@pytest.fixture
def demo() -> Iterator[str]:
    registry.register(
        registry.FabricEntry(
            "demo",
            driver="tests.fabric_demo:DemoDriver",
            section="tests.fabric_demo:DemoSection",
            cluster_ids=r"d-[0-9a-f]{8}",
        )
    )
    fabric_demo.reset()
    try:
        yield "demo"
    finally:
        registry.unregister("demo")


def files(d: Path, commands: dict[str, str]) -> tuple[str, str]:
    (d / "c.json").write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "d", "fabric": "demo", "demo": {"slots": 3}},
            }
        )
    )
    steps: list[dict[str, Any]] = [
        {"id": step_id, "type": "COMMAND", "command": [command]}
        for step_id, command in commands.items()
    ]
    for later in steps[1:]:
        later["dependsOn"] = [steps[0]["id"]]
    (d / "p.json").write_text(
        json.dumps({"schema": NATIVE_PLAYBOOK, "data": {"name": "p", "steps": steps}})
    )
    return str(d / "c.json"), str(d / "p.json")


def test_a_registered_fabric_runs_transient_runs(demo: str, tmp_path: Path) -> None:
    config_path, book_path = files(tmp_path, {"a": "ok", "b": "ok", "c": "ok"})
    config, book = load_cluster(config_path, {}), load_playbook(book_path, {})
    with Engine(state_dir=tmp_path / "state") as engine:
        outcome = engine.run(RunRequest(playbook=book, cluster=config))
        assert outcome.state is RunState.COMPLETED
        assert outcome.completed == 3
        record = engine.run_record(outcome.run_id)
        assert record.fabric == "demo"
        [cluster] = engine.clusters(fabric="demo")
        assert cluster.id == outcome.cluster_id
        assert cluster.state.value == "TERMINATED"
    calls = [c[0] for c in fabric_demo.CALLS]
    assert calls[0] == "launch" and calls[-1] == "terminate"
    assert calls.count("submit") == 2  # a, then b and c together once a completed


def test_a_registered_fabric_runs_on_a_long_lived_cluster(demo: str, tmp_path: Path) -> None:
    config_path, book_path = files(tmp_path, {"a": "ok", "b": "fail"})
    config, book = load_cluster(config_path, {}), load_playbook(book_path, {})
    with Engine(state_dir=tmp_path / "state") as engine:
        info = engine.launch_cluster(config)
        assert info.id.startswith("d-") and info.label == "demo"
        # The registry finds the fabric by the cluster's id.
        outcome = engine.run(RunRequest(playbook=book, cluster_id=info.id))
        assert outcome.state is RunState.FAILED
        [a, b] = engine.steps(outcome.run_id)
        assert (a.state.value, b.state.value) == ("COMPLETED", "FAILED")
        assert b.cause == f"demo step {b.fabric_ref['fabric_id']} was told to fail"
        assert fabric_demo.SERVICE[info.id].state.value == "WAITING"  # still up
        ended = engine.terminate_cluster(config, info.id)
        assert ended.state.value == "TERMINATED"


def test_the_command_line_drives_a_registered_fabric(demo: str, tmp_path: Path, cli: Any) -> None:
    config_path, book_path = files(tmp_path, {"a": "ok", "b": "fail"})
    result = cli("run-transient", "--emr-config", config_path, "--emr-playbook", book_path)
    assert result.code == 1
    assert "1/2 steps failed to complete successfully" in result.err
    assert "probable cause: demo step" in result.err
    status = json.loads(cli("status", "--output", "json").out)
    assert status["fabric"] == "demo" and status["state"] == "FAILED"
    plan = cli(
        "run-transient", "--emr-config", config_path, "--emr-playbook", book_path, "--dry-run"
    )
    assert plan.code == 0 and json.loads(plan.out) == {"launch": "d", "steps": 2}
