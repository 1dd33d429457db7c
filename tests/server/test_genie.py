"""The real Genie Python client (``pygenie``, from PyPI's ``nflx-genie-client``)
against the real server: jobs routed by cluster tags and command tags to one of
several local clusters (each started by ``up``, tagged differently), followed to
their end, their output read whole and by range; a failing job's stderr; a kill;
a resubmit of the same id re-attaching; attachments; no matching cluster (FAILED,
412); a drain done with the client's cluster-tag calls.

The client runs in its own process (``GENIE_CONFIG`` names its ini file: the
server's URL, Genie 3, HTTP Basic with the server's token as the password), as
an Airflow worker would run it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_process
from tests.server.conftest import PATIENCE, Server, cluster_doc, make_token, start_server


@dataclass
class Site:
    server: Server
    root: Path
    work: Path
    ini: Path
    prod: str  # the cluster tagged env:prod
    test: str  # the cluster tagged env:test
    configs: dict[str, Path]

    def client(self, code: str, timeout: float = PATIENCE) -> dict[str, Any]:
        """Run ``code`` with pygenie imported; it sets ``out``, printed as JSON."""
        script = "import json, pygenie\nfrom pygenie.jobs import GenieJob\n"
        script += "from pygenie.client import Genie\nout = {}\n"
        script += textwrap.dedent(code) + "\nprint(json.dumps(out))\n"
        env = {**os.environ, "GENIE_CONFIG": str(self.ini), "GENIE_BYPASS_HOME_CONFIG": "1"}
        done = subprocess.run(
            [sys.executable, "-c", script],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=self.root,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return found


def _up(name: str, root: Path, work: Path, state: list[str]) -> tuple[str, Path]:
    config = root / f"{name}.json"
    doc = cluster_doc(work)
    doc["data"]["name"] = name
    config.write_text(json.dumps(doc))
    made = run_process("up", "--emr-config", str(config), *state)
    assert made.code == 0, made.err
    return made.err.split("Jobflow ID: ")[1].split()[0].strip('"'), config


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    # A short path: a local cluster's socket lives in the state directory.
    root = Path(tempfile.mkdtemp(prefix="dfr-g"))
    state_dir = root / "s"
    work = root / "w"
    work.mkdir()
    token = make_token(state_dir, None, "root", "admin")
    server = start_server(state_dir, args=("--cluster-poll-interval", "0.3"))
    server.token = token
    state = ["--state-dir", str(state_dir)]
    prod, prod_config = _up("alpha", root, work, state)
    test, test_config = _up("beta", root, work, state)
    api = server.api
    for cluster_id, tags in ((prod, ["env:prod", "spark:3.5"]), (test, ["env:test"])):
        assert (
            api.put(f"/api/v1/clusters/{cluster_id}/tags", json={"tags": tags}).status_code == 200
        )
        assert api.patch(f"/api/v1/clusters/{cluster_id}", json={"capacity": 4}).status_code == 200
    made = api.put("/api/v1/commands/sh", json={"kind": "shell", "tags": ["type:shell", "v:1"]})
    assert made.status_code == 201, made.text
    ini = root / "genie.ini"
    ini.write_text(
        f"[genie]\nurl={server.url}\nversion=3\nusername=airflow\n"
        "auth=pygenie.auth.HTTPBasicGenieAuth\n"
        f"[genie_auth]\nusername=airflow\npassword={token}\n"
    )
    yield Site(server, root, work, ini, prod, test, {prod: prod_config, test: test_config})
    server.stop()
    for cluster_id, config in ((prod, prod_config), (test, test_config)):
        run_process("down", "--emr-config", str(config), "--emr-cluster", cluster_id, *state)
    shutil.rmtree(root, ignore_errors=True)


def _job(site: Site, job_id: str) -> dict[str, Any]:
    found = site.server.api.get(f"/api/v3/jobs/{job_id}")
    assert found.status_code == 200, found.text
    result: dict[str, Any] = found.json()
    return result


def test_a_job_is_routed_by_its_tags_followed_to_success_and_its_stdout_read(site: Site) -> None:
    out = site.client(
        """
        job = (GenieJob().job_id("g-ok-1").command_tags(["type:shell"])
               .cluster_tags(["env:prod", "spark:3.5"])
               .command_arguments("echo hello; echo world"))
        running = job.execute()
        running.wait(sleep_seconds=0.2, suppress_stream=True)
        out["status"] = running.status
        out["stdout"] = running.stdout()
        out["range"] = running.stdout(headers={"Range": "bytes=6-10"})
        out["cluster"] = running.cluster_name
        out["command"] = running.command_name
        out["started"] = running.start_time
        """
    )
    assert out["status"] == "SUCCEEDED"
    assert out["stdout"] == "hello\nworld\n"
    assert out["range"] == "world"
    assert out["cluster"] == "alpha" and out["command"] == "sh"
    assert out["started"] > 0
    job = _job(site, "g-ok-1")
    run = site.server.run(job["runId"])
    assert run["clusterId"] == site.prod and run["state"] == "COMPLETED"
    for key in ("created", "updated", "started", "finished"):
        assert len(job[key]) == 24 and job[key].endswith("Z") and job[key][19] == "."
    assert job["_links"]["self"]["href"].endswith("/api/v3/jobs/g-ok-1")
    # The output listing, as JSON, with sizes; a range past the end is a 416.
    listing = site.server.api.get(
        "/api/v3/jobs/g-ok-1/output", headers={"Accept": "application/json"}
    ).json()
    sizes = {f["name"]: f["size"] for f in listing["files"]}
    assert sizes["stdout"] == 12 and sizes["stderr"] == 0
    past = site.server.api.get("/api/v3/jobs/g-ok-1/output/stdout", headers={"Range": "bytes=99-"})
    assert past.status_code == 416
    log = site.server.api.get("/api/v3/jobs/g-ok-1/output/genie/logs/genie.log")
    assert log.status_code == 200 and f"sent to cluster {site.prod}" in log.text
    assert site.server.api.get("/api/v3/jobs/g-ok-1/cluster").json()["id"] == site.prod
    assert site.server.api.get("/api/v3/jobs/g-ok-1/command").json()["name"] == "sh"


def test_the_other_cluster_takes_the_jobs_its_tags_match(site: Site) -> None:
    out = site.client(
        """
        job = (GenieJob().job_id("g-test-1").command_tags(["type:shell", "v:1"])
               .cluster_tags(["env:test"]).command_arguments("echo on test"))
        running = job.execute()
        running.wait(sleep_seconds=0.2, suppress_stream=True)
        out["status"] = running.status
        out["cluster"] = running.cluster_name
        """
    )
    assert out == {"status": "SUCCEEDED", "cluster": "beta"}


def test_a_failing_jobs_stderr_is_read(site: Site) -> None:
    out = site.client(
        """
        job = (GenieJob().job_id("g-fail-1").command_tags(["type:shell"])
               .cluster_tags(["env:test"]).command_arguments("echo oops >&2; exit 3"))
        running = job.execute()
        running.wait(sleep_seconds=0.2, suppress_stream=True)
        out["status"] = running.status
        out["stderr"] = running.stderr()
        """
    )
    assert out["status"] == "FAILED"
    assert out["stderr"] == "oops\n"
    execution = site.server.api.get("/api/v3/jobs/g-fail-1/execution").json()
    assert execution["exitCode"] == 3


def test_a_running_job_is_killed(site: Site) -> None:
    marker = site.work / "killed.pid"
    out = site.client(
        f"""
        job = (GenieJob().job_id("g-kill-1").command_tags(["type:shell"])
               .cluster_tags(["env:test"]).command_arguments("echo $$ > {marker}; sleep 300"))
        running = job.execute()
        running.wait(sleep_seconds=0.2, suppress_stream=True, until_running=True)
        out["before"] = running.status
        response = running.kill()
        out["code"] = response.status_code
        running.wait(sleep_seconds=0.2, suppress_stream=True)
        out["after"] = running.status
        """
    )
    assert out == {"before": "RUNNING", "code": 202, "after": "KILLED"}
    pid = int(marker.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    # A finished job's kill does nothing, and says so with a 202.
    again = site.server.api.delete("/api/v3/jobs/g-kill-1")
    assert again.status_code == 202 and _job(site, "g-kill-1")["status"] == "KILLED"


def test_a_resubmit_with_the_same_id_reattaches_to_the_job(site: Site) -> None:
    code = f"""
        job = (GenieJob().job_id("g-same-1").command_tags(["type:shell"])
               .cluster_tags(["env:test"]).command_arguments("echo once >> {site.work}/once.txt"))
        running = job.execute()
        running.wait(sleep_seconds=0.2, suppress_stream=True)
        out["status"] = running.status
        out["id"] = running.job_id
        """
    first = site.client(code)
    second = site.client(code)
    assert first == second == {"status": "SUCCEEDED", "id": "g-same-1"}
    assert (site.work / "once.txt").read_text() == "once\n"
    raw = site.server.api.post(
        "/api/v3/jobs",
        json={"id": "g-same-1", "commandArgs": "true", "commandCriteria": ["type:shell"],
              "clusterCriterias": [{"tags": ["env:test"]}]},
    )  # fmt: skip
    assert raw.status_code == 409


def test_a_jobs_attachments_are_in_its_working_directory(site: Site) -> None:
    data = site.root / "query.sql"
    data.write_text("select 1;\n")
    out = site.client(
        f"""
        job = (GenieJob().job_id("g-att-1").command_tags(["type:shell"])
               .cluster_tags(["env:prod"])
               .dependencies(["{data}", {{"name": "inline.txt", "data": "inline data"}}])
               .command_arguments("cat query.sql inline.txt"))
        running = job.execute()
        running.wait(sleep_seconds=0.2, suppress_stream=True)
        out["status"] = running.status
        out["stdout"] = running.stdout()
        """
    )
    assert out == {"status": "SUCCEEDED", "stdout": "select 1;\ninline data"}
    listing = site.server.api.get(
        "/api/v3/jobs/g-att-1/output", headers={"Accept": "application/json"}
    ).json()
    assert {"query.sql", "inline.txt"} <= {f["name"] for f in listing["files"]}


def test_a_job_no_cluster_matches_is_failed_and_answered_412(site: Site) -> None:
    raw = site.server.api.post(
        "/api/v3/jobs",
        json={"id": "g-none-1", "commandArgs": "true", "commandCriteria": ["type:shell"],
              "clusterCriterias": [{"tags": ["env:nowhere"]}, {"tags": ["a:b", "c:d"]}]},
    )  # fmt: skip
    assert raw.status_code == 412
    message = raw.json()["error"]["message"]
    assert "[env:nowhere] or [a:b, c:d]" in message
    job = _job(site, "g-none-1")
    assert job["status"] == "FAILED" and "[env:nowhere]" in job["statusMsg"]
    # The client: a 412, then its retry finds the job (409) and re-attaches: FAILED.
    out = site.client(
        """
        job = (GenieJob().job_id("g-none-2").command_tags(["type:shell"])
               .cluster_tags(["env:nowhere"]).command_arguments("true"))
        running = job.execute()
        out["status"] = running.status
        """
    )
    assert out == {"status": "FAILED"}
    assert site.server.api.get("/api/v3/jobs/g-none-2/output/stdout").status_code == 404


def test_a_drain_with_the_clients_tag_calls_sends_new_jobs_to_the_other_cluster(
    site: Site,
) -> None:
    go = site.work / "drain-go"
    submit = """
        job = (GenieJob().job_id("{0}").command_tags(["type:shell"])
               .cluster_tags(["drain:me"]).command_arguments("{1}"))
        running = job.execute()
        running.wait(sleep_seconds=0.2, suppress_stream=True, until_running={2})
        out["status"] = running.status
        out["cluster"] = running.cluster_name
        """
    api = site.server.api
    assert (
        api.post(f"/api/v1/clusters/{site.prod}/tags", json={"tags": ["drain:me"]}).status_code
        == 200
    )
    held = site.client(
        submit.format("g-drain-a", f"while [ ! -e {go} ]; do sleep 0.05; done; echo done", True)
    )
    assert held == {"status": "RUNNING", "cluster": "alpha"}
    moved = site.client(
        f"""
        genie = Genie()
        genie.remove_tag_for_cluster("{site.prod}", "drain:me")
        genie.add_tags_for_cluster("{site.test}", ["drain:me"])
        genie.patch_cluster("{site.prod}", [{{"op": "replace", "path": "/status",
                                              "value": "OUT_OF_SERVICE"}}])
        out["tags"] = genie.get_tags_for_cluster("{site.test}")
        out["up"] = sorted(c["name"] for c in genie.get_clusters(filters={{"tag": "drain:me"}}))
        out["out"] = [c["id"] for c in genie.get_clusters(filters={{"status": "OUT_OF_SERVICE"}})]
        """
    )
    assert "drain:me" in moved["tags"] and moved["up"] == ["beta"]
    assert moved["out"] == [site.prod]
    after = site.client(submit.format("g-drain-b", "echo new", False))
    assert after == {"status": "SUCCEEDED", "cluster": "beta"}
    go.touch()
    finished = site.client(
        """
        from pygenie.jobs.utils import reattach_job
        running = reattach_job("g-drain-a")
        running.wait(sleep_seconds=0.2, suppress_stream=True)
        out["status"] = running.status
        out["stdout"] = running.stdout()
        """
    )
    assert finished == {"status": "SUCCEEDED", "stdout": "done\n"}
    assert api.patch(f"/api/v1/clusters/{site.prod}", json={"state": "UP"}).status_code == 200


def test_the_genie_api_needs_a_token_basic_or_bearer(site: Site) -> None:
    with httpx.Client(base_url=site.server.url) as anonymous:
        assert anonymous.get("/api/v3/clusters").status_code == 401
        wrong = anonymous.get("/api/v3/clusters", auth=("airflow", "dfr_not-a-token"))
        assert wrong.status_code == 401
        right = anonymous.get("/api/v3/clusters", auth=("any", site.server.token or ""))
        assert right.status_code == 200
        names = {c["name"] for c in right.json()["_embedded"]["clusterList"]}
        assert {"alpha", "beta"} <= names
        bearer = {"Authorization": f"Bearer {site.server.token}"}
        assert anonymous.get("/api/v3/clusters", headers=bearer).status_code == 200
