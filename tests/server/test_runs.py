"""Runs through the API, on SQLite and on PostgreSQL: submit, follow to the end,
read the logs; a failure's cause; invalid documents; cancel; retry; pages."""

from __future__ import annotations

import os
import time
from pathlib import Path

from dataflow_runner.procs import pid_alive
from tests.server.conftest import Server, cluster_doc, playbook_doc, sh


def test_a_submitted_run_is_accepted_then_completes_and_its_logs_are_served(
    server: Server, work: Path
) -> None:
    body = {
        "cluster": cluster_doc(work),
        "playbook": playbook_doc(
            "hello",
            [
                sh("extract", "echo extracting {{.day}}"),
                sh("load", "echo loading; echo done >&2", dependsOn=["extract"]),
            ],
        ),
        "vars": {"day": "2026-11-20"},
    }
    accepted = server.api.post("/api/v1/runs", json=body)
    assert accepted.status_code == 202
    run_id = accepted.json()["id"]
    assert accepted.json()["links"]["self"] == f"/api/v1/runs/{run_id}"
    run = server.wait(run_id)
    assert run["state"] == "COMPLETED", run
    assert [(s["id"], s["state"], s["exitCode"]) for s in run["steps"]] == [
        ("extract", "COMPLETED", 0),
        ("load", "COMPLETED", 0),
    ]
    assert run["submittedBy"] == "root"
    assert run["variables"] == {"day": "2026-11-20"}
    steps = server.api.get(f"/api/v1/runs/{run_id}/steps").json()
    assert [s["attempts"][0]["state"] for s in steps] == ["COMPLETED", "COMPLETED"]

    logs = f"/api/v1/runs/{run_id}/steps/load/logs"
    assert server.api.get(f"/api/v1/runs/{run_id}/steps/extract/logs").text == (
        "extracting 2026-11-20\n"
    )
    assert server.api.get(logs).text == "loading\ndone\n"
    assert server.api.get(logs, params={"stream": "stderr"}).text == "done\n"
    assert server.api.get(logs, params={"stream": "stdout", "attempt": 1}).text == "loading\n"
    part = server.api.get(logs, headers={"Range": "bytes=2-5"})
    assert part.status_code == 206
    assert (part.text, part.headers["content-range"]) == ("adin", "bytes 2-5/13")
    tail = server.api.get(logs, headers={"Range": "bytes=-5"})
    assert (tail.status_code, tail.text) == (206, "done\n")
    beyond = server.api.get(logs, headers={"Range": "bytes=13-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == "bytes */13"
    assert beyond.json()["error"]["code"] == "range_not_satisfiable"
    missing = server.api.get(f"/api/v1/runs/{run_id}/steps/load/logs", params={"attempt": 2})
    assert missing.status_code == 404
    assert server.api.get("/api/v1/runs/r-nope").status_code == 404


def test_a_failing_steps_exit_code_and_probable_cause_are_in_the_api(
    server: Server, work: Path
) -> None:
    script = (
        'echo starting; echo \'Exception in thread "main" java.lang.IllegalStateException: '
        "the input is empty' >&2; exit 3"
    )
    run_id = server.submit(
        {"cluster": cluster_doc(work), "playbook": playbook_doc("fails", [sh("bad", script)])}
    )
    run = server.wait(run_id)
    assert run["state"] == "FAILED"
    assert run["reason"] == "1/1 steps failed to complete successfully"
    (step,) = run["steps"]
    assert (step["state"], step["exitCode"]) == ("FAILED", 3)
    assert "java.lang.IllegalStateException: the input is empty" in step["cause"]
    assert step["attempts"][0]["cause"] == step["cause"]


def test_an_invalid_document_is_a_422_listing_each_problem_with_its_json_path(
    server: Server, work: Path
) -> None:
    body = {
        "cluster": {"schema": CLUSTER, "data": {"name": "c", "fabric": "local", "local": {
            "concurrency": "two"}}},
        "playbook": playbook_doc("bad", [{"id": "a", "type": "COMMAND", "comand": ["true"]},
                                         {"id": "a", "type": "SHELL"}]),
    }  # fmt: skip
    before = server.api.get("/api/v1/runs").json()["items"]
    response = server.api.post("/api/v1/runs", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_config"
    found = {(d["file"], d["path"]) for d in error["details"]}
    assert ("cluster", "$.data.local.concurrency") in found
    assert ("playbook", "$.data.steps[0].comand") in found
    assert all(d["text"].startswith(f"{d['file']}: {d['path']}: ") for d in error["details"])
    # Nothing was recorded.
    assert server.api.get("/api/v1/runs").json()["items"] == before
    # A body that is not even the request's shape: 422 too, with the path.
    shapeless = server.api.post("/api/v1/runs", json={"playbook": 3, "vars": {"a": 1}})
    assert shapeless.status_code == 422
    paths = {d["path"] for d in shapeless.json()["error"]["details"]}
    assert "$.body.vars.a" in paths


CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"


def test_a_run_cancelled_while_its_step_runs_ends_cancelled_with_its_processes_gone(
    server: Server, work: Path
) -> None:
    script = "echo $$ > pid; sleep 300 & echo $! > child; wait"
    run_id = server.submit(
        {"cluster": cluster_doc(work), "playbook": playbook_doc("long", [sh("wait", script)])}
    )
    server.wait(run_id, lambda r: r["steps"] and r["steps"][0]["state"] == "RUNNING")
    deadline = time.monotonic() + 30
    while not (work / "child").exists() or not (work / "child").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pids = [int((work / name).read_text()) for name in ("pid", "child")]
    assert all(pid_alive(p) for p in pids)
    response = server.api.post(f"/api/v1/runs/{run_id}/cancel")
    assert response.status_code == 202
    run = server.wait(run_id)
    assert run["state"] == "CANCELLED"
    assert run["steps"][0]["state"] == "CANCELLED"
    assert run["reason"] == "cancelled by root"
    deadline = time.monotonic() + 30
    while any(pid_alive(p) for p in pids):
        assert time.monotonic() < deadline, "the step's processes outlived the cancel"
        time.sleep(0.05)
    again = server.api.post(f"/api/v1/runs/{run_id}/cancel")
    assert again.status_code == 409


def test_a_retry_runs_the_failed_and_cancelled_steps_again_keeping_the_completed_ones(
    server: Server, work: Path
) -> None:
    steps = [
        sh("first", "echo x >> first.count"),
        # Fails until the file "fixed" exists.
        sh("flaky", "echo x >> flaky.count; test -e fixed", dependsOn=["first"]),
        sh("last", "echo x >> last.count", dependsOn=["flaky"]),
    ]
    run_id = server.submit({"cluster": cluster_doc(work), "playbook": playbook_doc("r", steps)})
    run = server.wait(run_id)
    assert [s["state"] for s in run["steps"]] == ["COMPLETED", "FAILED", "CANCELLED"]
    assert server.api.post(f"/api/v1/runs/{run_id}/retry").status_code == 202
    (work / "fixed").touch()
    # (The retry may already have started: QUEUED, then RUNNING.)
    run = server.wait(run_id, ("COMPLETED",))
    counts = {name: (work / f"{name}.count").read_text().count("x") for name in
              ("first", "flaky", "last")}  # fmt: skip
    assert counts == {"first": 1, "flaky": 2, "last": 1}
    by_id = {s["id"]: s for s in run["steps"]}
    assert [a["attempt"] for a in by_id["flaky"]["attempts"]] == [1, 2]
    assert [a["state"] for a in by_id["flaky"]["attempts"]] == ["FAILED", "COMPLETED"]
    assert len(by_id["first"]["attempts"]) == 1
    assert server.api.post(f"/api/v1/runs/{run_id}/retry").status_code == 409


def test_runs_are_listed_a_page_at_a_time_and_filtered(server: Server, work: Path) -> None:
    ids = []
    for n in range(5):
        book = playbook_doc("even" if n % 2 == 0 else "odd", [sh("a", f"exit {n % 2}")])
        ids.append(server.submit({"cluster": cluster_doc(work), "playbook": book}))
    for run_id in ids:
        server.wait(run_id)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = server.api.get("/api/v1/runs", params=params).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen += [r["id"] for r in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    assert pages == 3
    failed = server.api.get("/api/v1/runs", params={"state": "FAILED"}).json()["items"]
    assert [r["id"] for r in failed] == [ids[3], ids[1]]
    even = server.api.get("/api/v1/runs", params={"playbook": "even", "limit": 1}).json()
    assert [r["id"] for r in even["items"]] == [ids[4]] and even["next"]
    queued = server.api.get("/api/v1/runs", params={"state": "QUEUED"}).json()
    assert queued == {"items": [], "next": None}
    bad = server.api.get("/api/v1/runs", params={"cursor": "nonsense"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_request"
    assert os.path.isdir(server.state_dir / "runs" / ids[0])
