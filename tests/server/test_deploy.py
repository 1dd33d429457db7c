"""Deployment from git, against a real repository made in the test: a pushed
commit's schedule runs (its runs record the commit), a broken commit is refused
with its errors while the previous version keeps running, a removed schedule
stops; the push webhook's GitHub signature and GitLab token are checked."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Server
from tests.server.schedule_helpers import Clock, clocked_server, ended_runs, eventually

SECRET = "s3cret-hook-value"
CLUSTER = """schema: iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0
data:
  name: laptop
  fabric: local
  local: {{workDir: {work}}}
"""
PLAYBOOK = """schema: iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0
data:
  name: {name}
  schedule:
    cron: "{cron}"
  steps:
    - id: note
      type: COMMAND
      command: [sh, -c, "echo '{{{{.tick}}}}' >> {name}.txt"]
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    for name, text in files.items():
        path = repo / name
        if text is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


@pytest.fixture
def repo(tmp_path: Path, work: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(path, {"pipelines/cluster.yaml": CLUSTER.format(work=work),
                  "pipelines/minutely.yaml": PLAYBOOK.format(name="minutely", cron="* * * * *"),
                  "README.md": "not a playbook\n"}, "first")  # fmt: skip
    return path


@pytest.fixture
def clock(tmp_path: Path) -> Clock:
    return Clock(tmp_path / "clock", "2026-11-20T10:00:30Z")


@pytest.fixture
def server(tmp_path: Path, clock: Clock, repo: Path) -> Iterator[Server]:
    args = ("--deploy-from", str(repo), "--path", "pipelines/", "--deploy-interval", "3600",
            "--deploy-secret", SECRET)  # fmt: skip
    running = clocked_server(tmp_path, clock, args=args)
    yield running
    running.stop()


def push(server: Server, branch: str = "main") -> dict[str, object]:
    body = json.dumps({"ref": f"refs/heads/{branch}", "after": "x"}).encode()
    response = server.client("").post("/api/v1/deploy", content=body, headers=signed(body))
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


def test_pushed_commits_deploy_and_a_broken_one_keeps_the_old_version(
    server: Server, clock: Clock, repo: Path, work: Path
) -> None:
    first = git(repo, "rev-parse", "HEAD")
    deployments = eventually(lambda: server.api.get("/api/v1/deployments").json() or None,
                             "the first deployment")  # fmt: skip
    assert [(d["commit"], d["valid"], d["active"]) for d in deployments] == [(first, True, True)]
    assert deployments[0]["playbooks"] == ["minutely"]
    clock.set("2026-11-20T10:01:02Z")
    (run,) = ended_runs(server, "minutely", 1)
    assert server.run(run["runId"])["commit"] == first
    assert (work / "minutely.txt").read_text().split() == ["2026-11-20T10:01:00Z"]
    # A deployed playbook run by hand records its commit too.
    by_hand = server.api.post("/api/v1/playbooks/minutely/runs", json={"vars": {"tick": "now"}})
    assert by_hand.status_code == 202, by_hand.text
    assert server.wait(by_hand.json()["id"])["commit"] == first

    # A commit adds a schedule: pushed, it runs at its next tick.
    hourly_text = PLAYBOOK.format(name="hourly", cron="0 * * * *")
    second = commit(repo, {"pipelines/hourly.yaml": hourly_text}, "add hourly")
    assert push(server) == {"commit": second, "changed": True, "valid": True, "errors": []}
    assert push(server)["changed"] is False  # the same commit again: nothing to do
    clock.set("2026-11-20T11:00:03Z")
    (hourly,) = ended_runs(server, "hourly", 1)
    assert hourly["state"] == "COMPLETED" and server.run(hourly["runId"])["commit"] == second

    # A broken commit: refused, with each error; the previous version keeps running.
    broken = commit(repo, {
        "pipelines/minutely.yaml": PLAYBOOK.format(name="minutely", cron="61 * * * *"),
        "pipelines/hourly.yaml": "schema: [unclosed\n",
    }, "break it")  # fmt: skip
    outcome = push(server)
    assert outcome["commit"] == broken and outcome["valid"] is False
    errors = outcome["errors"]
    assert isinstance(errors, list)
    by_file = {e["file"]: e for e in errors}
    assert by_file["pipelines/minutely.yaml"]["path"] == "$.data.schedule.cron"
    assert "invalid cron expression '61 * * * *'" in by_file["pipelines/minutely.yaml"]["message"]
    assert by_file["pipelines/hourly.yaml"]["line"] is not None
    listed = server.api.get("/api/v1/deployments").json()
    assert [(d["commit"], d["valid"], d["active"]) for d in listed[:2]] == [
        (broken, False, False), (second, True, True)
    ]  # fmt: skip
    clock.set("2026-11-20T11:01:02Z")
    runs = ended_runs(server, "minutely", 3)  # 10:01, 11:00 (its latest tick then), 11:01
    assert runs[0]["ref"] == "2026-11-20T11:01:00Z"
    assert server.run(runs[0]["runId"])["commit"] == second  # the old version ran

    # Fixed, and hourly removed: its schedule stops.
    every_two = PLAYBOOK.format(name="minutely", cron="*/2 * * * *")
    fixed = commit(
        repo, {"pipelines/minutely.yaml": every_two, "pipelines/hourly.yaml": None}, "fix"
    )
    assert push(server)["valid"] is True
    assert server.api.get("/api/v1/schedules/hourly").status_code == 404
    assert server.api.get("/api/v1/schedules/minutely").json()["commit"] == fixed
    assert server.api.get("/api/v1/schedules/minutely").json()["cron"] == "*/2 * * * *"


def test_the_webhook_checks_signatures_and_ignores_other_branches(server: Server) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    anonymous = server.client("")
    bad = anonymous.post("/api/v1/deploy", content=body,
                         headers={"X-Hub-Signature-256": "sha256=00"})  # fmt: skip
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "unauthorized"
    gitlab = anonymous.post("/api/v1/deploy", content=body, headers={"X-Gitlab-Token": SECRET})
    assert gitlab.status_code == 200, gitlab.text
    other = push(server, branch="feature")
    assert other == {"commit": None, "changed": False, "valid": None, "errors": []}
    assert SECRET not in server.output()
