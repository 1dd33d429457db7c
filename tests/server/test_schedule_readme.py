"""The README's "Schedules" and "Deploy from git" examples, run: the scheduled
playbook in a server whose clock the test sets, and the deployed files in a real
git repository (the cluster config pinned to the test's directory)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.integration.test_readme import blocks
from tests.server.conftest import cluster_doc
from tests.server.schedule_helpers import Clock, clocked_server, ended_runs, eventually


def test_the_schedules_example_runs_its_ticks_and_catch_up(tmp_path: Path, work: Path) -> None:
    [book] = blocks("Schedules", "yaml")
    clock = Clock(tmp_path / "clock", "2026-11-20T10:00:30Z")
    server = clocked_server(tmp_path, clock)
    try:
        response = server.api.put(
            "/api/v1/playbooks/hourly-counts",
            json={"playbook": yaml.safe_load(book), "cluster": cluster_doc(work)},
        )
        assert response.status_code == 201, response.text
        clock.set("2026-11-20T10:00:40Z")
        runs = ended_runs(server, "hourly-counts", 3)
        assert {r["state"] for r in runs} == {"COMPLETED"}
        assert sorted(p.name for p in (work / "out").iterdir()) == [
            "2026-11-20T07.txt", "2026-11-20T08.txt", "2026-11-20T09.txt"
        ]  # fmt: skip
    finally:
        server.stop()


def test_the_deploy_example_deploys_and_runs(tmp_path: Path, work: Path) -> None:
    cluster, book = blocks("Deploy from git", "yaml")
    repo = tmp_path / "repo"
    (repo / "pipelines").mkdir(parents=True)
    pinned = yaml.safe_load(cluster)
    pinned["data"]["local"] = {"workDir": str(work)}
    (repo / "pipelines" / "cluster.yaml").write_text(yaml.safe_dump(pinned))
    (repo / "pipelines" / "minutely.yaml").write_text(book)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "pipelines"], cwd=repo, check=True)
    clock = Clock(tmp_path / "clock", "2026-11-20T10:00:30Z")
    server = clocked_server(tmp_path, clock, args=("--deploy-from", str(repo), "--branch",
                            "main", "--path", "pipelines/", "--deploy-interval", "60"))  # fmt: skip
    try:
        eventually(lambda: server.api.get("/api/v1/deployments").json() or None, "deployed")
        clock.set("2026-11-20T10:01:01Z")
        (run,) = ended_runs(server, "minutely", 1)
        assert run["state"] == "COMPLETED"
        assert (work / "ticks.txt").read_text().split() == ["2026-11-20T10:01:00Z"]
    finally:
        server.stop()
