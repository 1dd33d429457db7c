"""Saved playbooks: kept (validated, secrets masked when shown), run with their
default variables overridden, forgotten; and the metrics a run leaves."""

from __future__ import annotations

import re
from pathlib import Path

from tests.server.conftest import Server, cluster_doc, playbook_doc, sh


def test_a_saved_playbook_is_kept_run_with_its_variables_and_forgotten(
    server: Server, work: Path
) -> None:
    book = playbook_doc("greeter", [sh("greet", "echo hello {{.who}} from {{.team}}")])
    defaults = {"who": "nobody", "team": "data", "db_password": "hunter2-hunter2"}
    kept = {"playbook": book, "cluster": cluster_doc(work), "vars": defaults}
    made = server.api.put("/api/v1/playbooks/greet", json=kept)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert shown["vars"] == {"who": "nobody", "team": "data", "db_password": "***"}
    assert shown["updatedBy"] == "root" and shown["playbookName"] == ""  # templated: unknown yet
    run_id = server.api.post("/api/v1/playbooks/greet/runs", json={"vars": {"who": "alice"}})
    assert run_id.status_code == 202, run_id.text
    run = server.wait(run_id.json()["id"])
    assert run["state"] == "COMPLETED" and run["savedPlaybook"] == "greet"
    logs = server.api.get(f"/api/v1/runs/{run['id']}/steps/greet/logs").text
    assert logs == "hello alice from data\n"
    # By name through POST /runs as well.
    by_name = server.submit({"playbook": "greet", "vars": {"team": "ops"}})
    assert server.api.get(f"/api/v1/runs/{server.wait(by_name)['id']}/steps/greet/logs").text == (
        "hello nobody from ops\n"
    )
    replaced = server.api.put("/api/v1/playbooks/greet", json={**kept, "vars": {}})
    assert replaced.status_code == 200
    assert replaced.json()["createdAt"] == shown["createdAt"]
    assert [p["name"] for p in server.api.get("/api/v1/playbooks").json()] == ["greet"]
    assert server.api.delete("/api/v1/playbooks/greet").status_code == 204
    gone = server.api.get("/api/v1/playbooks/greet")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert server.api.post("/api/v1/playbooks/greet/runs", json={}).status_code == 404


def test_a_saved_playbook_is_validated_and_one_on_a_missing_pool_is_refused_to_run(
    server: Server, work: Path
) -> None:
    bad = {"playbook": playbook_doc("bad", [{"id": "a", "type": "COMMAND"}]),
           "cluster": cluster_doc(work)}  # fmt: skip
    refused = server.api.put("/api/v1/playbooks/bad", json=bad)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["path"].startswith("$.data.steps[0]")
    neither = server.api.put("/api/v1/playbooks/x", json={"playbook": bad["playbook"]})
    assert neither.status_code == 422
    pooled = {"playbook": playbook_doc("p", [sh("a", "true")]), "pool": "large"}
    made = server.api.put("/api/v1/playbooks/pooled", json=pooled)
    assert made.status_code == 201 and made.json()["pool"] == "large"
    assert made.json()["playbookName"] == "p"
    run = server.api.post("/api/v1/playbooks/pooled/runs", json={})
    assert run.status_code == 404  # (a pool's runs: tests/server/test_pools.py)
    assert run.json()["error"]["message"] == "no pool 'large'"
    assert server.api.put("/api/v1/playbooks/..", json=pooled).status_code in (400, 404)


def test_metrics_count_runs_by_state_step_durations_and_fabric_calls(
    server: Server, work: Path
) -> None:
    steps = [sh("a", "true"), sh("b", "exit 1", dependsOn=["a"])]
    server.wait(server.submit({"cluster": cluster_doc(work), "playbook": playbook_doc("m", steps)}))
    text = server.api.get("/api/v1/metrics").text
    assert server.api.get("/metrics").text.startswith("# HELP")

    def value(pattern: str) -> float:
        found = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
        assert found, (pattern, text)
        return float(found.group(1))

    assert value(r'dataflow_runner_runs\{state="FAILED"\}') == 1
    assert value(r'dataflow_runner_runs\{state="QUEUED"\}') == 0
    assert value("dataflow_runner_queue_depth") == 0
    assert value(r'dataflow_runner_step_duration_seconds_count\{state="COMPLETED"\}') == 1
    assert value(r'dataflow_runner_step_duration_seconds_count\{state="FAILED"\}') == 1
    assert (
        value(r'dataflow_runner_fabric_calls_total\{call="submit",fabric="local",outcome="ok"\}')
        == 2
    )
    assert value("dataflow_runner_workers") == 4
