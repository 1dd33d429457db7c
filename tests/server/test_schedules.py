"""Schedules in the real server, its clock set by the test: a one-minute cron fires
real runs (the tick a variable), pause and unpause, manual triggers with vars (API
and CLI), the roles, bad schedules as 422s at their JSON paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Server, make_token, sh
from tests.server.schedule_helpers import (
    Clock,
    clocked_server,
    ended_runs,
    eventually,
    put,
    schedule_of,
    scheduled,
)


@pytest.fixture
def clock(tmp_path: Path) -> Clock:
    return Clock(tmp_path / "clock", "2026-11-20T10:00:30Z")


@pytest.fixture
def server(tmp_path: Path, clock: Clock) -> Iterator[Server]:
    running = clocked_server(tmp_path, clock)
    yield running
    running.stop()


def every_minute(work: Path, **schedule: object) -> dict[str, object]:
    return scheduled(
        "minutely",
        {"cron": "* * * * *", **schedule},
        [sh("note", f"echo '{{{{.tick}}}} {{{{.who}}}}' >> {work}/ticks.txt")],
        params={"who": {"type": "string", "default": "clock"}},
    )


def test_a_one_minute_cron_fires_real_runs_at_each_tick(
    server: Server, clock: Clock, work: Path
) -> None:
    put(server, "minutely", every_minute(work), work)
    shown = schedule_of(server, "minutely")
    assert shown["nextTick"].startswith("2026-11-20T10:01:00")
    assert shown["lastRuns"] == [] and shown["paused"] is False
    clock.set("2026-11-20T10:01:02Z")
    first = ended_runs(server, "minutely", 1)
    assert first[0]["state"] == "COMPLETED" and first[0]["ref"] == "2026-11-20T10:01:00Z"
    clock.set("2026-11-20T10:02:05Z")
    runs = ended_runs(server, "minutely", 2)
    assert [r["ref"] for r in runs] == ["2026-11-20T10:02:00Z", "2026-11-20T10:01:00Z"]
    assert (work / "ticks.txt").read_text().splitlines() == [
        "2026-11-20T10:01:00Z clock", "2026-11-20T10:02:00Z clock"
    ]  # fmt: skip
    run = server.run(runs[0]["runId"])
    assert run["schedule"] == "minutely" and run["tick"] == "2026-11-20T10:02:00Z"
    assert run["submittedBy"] == "schedule:minutely"
    # Rounds within the same minute start nothing more.
    clock.set("2026-11-20T10:02:45Z")
    assert len(ended_runs(server, "minutely", 2)) == 2


def test_pause_unpause_and_manual_triggers_with_vars(
    server: Server, clock: Clock, work: Path, tmp_path: Path
) -> None:
    put(server, "minutely", every_minute(work), work)
    paused = server.api.post("/api/v1/schedules/minutely/pause")
    assert paused.status_code == 200 and paused.json()["paused"] is True
    assert paused.json()["nextTick"] is None
    clock.set("2026-11-20T10:05:01Z")
    # Paused: no tick runs; a manual trigger does, with its vars.
    made = server.api.post("/api/v1/schedules/minutely/trigger", json={"vars": {"who": "alice"}})
    assert made.status_code == 202, made.text
    server.wait(made.json()["id"])
    runs = ended_runs(server, "minutely", 1)
    assert [r["kind"] for r in runs] == ["manual"]
    assert (work / "ticks.txt").read_text().split()[-1] == "alice"
    # The CLI's trigger talks to the server (its address and token from the environment).
    env = {**os.environ, "DATAFLOW_RUNNER_SERVER": server.url,
           "DATAFLOW_RUNNER_TOKEN": server.token or ""}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "dataflow_runner", "trigger", "minutely", "--vars", "who,bob"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().split()[-1]
    assert server.wait(run_id)["state"] == "COMPLETED"
    assert (work / "ticks.txt").read_text().split()[-1] == "bob"
    # ``schedules`` lists it, paused, with its last run; as JSON too.
    for output in ("text", "json"):
        listed = subprocess.run(
            [sys.executable, "-m", "dataflow_runner", "schedules", "--output", output],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stderr
        if output == "json":
            assert [s["name"] for s in json.loads(listed.stdout)] == ["minutely"]
        else:
            assert listed.stdout.startswith("minutely  * * * * *  paused  last "), listed.stdout
            assert "COMPLETED" in listed.stdout
    unpaused = server.api.post("/api/v1/schedules/minutely/unpause")
    assert unpaused.json()["paused"] is False
    clock.set("2026-11-20T10:06:01Z")
    runs = ended_runs(server, "minutely", 3)
    assert runs[0]["kind"] == "tick" and runs[0]["ref"] == "2026-11-20T10:06:00Z"
    missing = subprocess.run(
        [sys.executable, "-m", "dataflow_runner", "trigger", "nope"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "no schedule 'nope'"
    ] or "no schedule 'nope'" in (missing.stderr)


def test_roles_viewer_reads_submitter_triggers_admin_pauses(server: Server, work: Path) -> None:
    put(server, "minutely", every_minute(work), work)
    viewer = server.client(make_token(server.state_dir, None, "v", "viewer"))
    submitter = server.client(make_token(server.state_dir, None, "s", "submitter"))
    assert viewer.get("/api/v1/schedules").status_code == 200
    assert viewer.post("/api/v1/schedules/minutely/trigger", json={}).status_code == 403
    assert submitter.post("/api/v1/schedules/minutely/trigger", json={}).status_code == 202
    assert submitter.post("/api/v1/schedules/minutely/pause").status_code == 403
    assert server.api.post("/api/v1/schedules/nope/pause").status_code == 404


@pytest.mark.parametrize(
    ("schedule", "extra", "path", "words"),
    [
        ({"cron": "61 * * * *"}, {}, "$.data.schedule.cron", "invalid cron expression"),
        ({"cron": "@daily", "timezone": "Mars/Base"}, {}, "$.data.schedule.timezone",
         "unknown time zone"),
        ({"cron": "@daily", "catchUp": {"last": 20000}},
         {"partitions": {"every": "hour", "start": "2026-11-01T00:00Z"}},
         "$.data.schedule.catchUp.last", "more than the limit of 10,000"),
        ({"cron": "@daily", "catchUp": {"last": 3, "of": "partitions"}}, {},
         "$.data.schedule.catchUp.of", "needs a partitioned playbook"),
    ],
)  # fmt: skip
def test_bad_schedules_are_422s_at_their_paths(
    server: Server, work: Path, schedule: dict[str, object], extra: dict[str, object],
    path: str, words: str,
) -> None:  # fmt: skip
    book = scheduled("bad", schedule, [sh("a", "true")], **extra)
    response = server.api.put(
        "/api/v1/playbooks/bad", json={"playbook": book, "cluster": {
            "schema": "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0",
            "data": {"name": "t", "fabric": "local", "local": {"workDir": str(work)}}}},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert [d["path"] for d in details] == [path]
    assert words in details[0]["message"]
    assert server.api.get("/api/v1/schedules/bad").status_code == 404


def test_the_cli_reports_a_bad_schedule_in_one_line(tmp_path: Path) -> None:
    book = tmp_path / "pb.yaml"
    book.write_text(
        "schema: iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0\n"
        "data:\n  name: t\n  schedule: {cron: '* * *'}\n"
        "  steps: [{id: a, type: COMMAND, command: ['true']}]\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "dataflow_runner", "render", "--emr-playbook", str(book)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "$.data.schedule.cron" in lines[0] and "five fields" in lines[0]
    assert "Traceback" not in done.stderr
    eventually(lambda: True, "nothing")
