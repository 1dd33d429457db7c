"""``/api/v1/pools`` and the ``pools`` command against the real server: who may do
what, one line per problem with its JSON path, and a saved playbook run on a
pool's cluster, which the server's pool manager launches (a local cluster)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def sized(tmp_path: Path, work: Path) -> Path:
    """A size-classes file: small → a local cluster config file."""
    (tmp_path / "small.json").write_text(json.dumps(cluster_doc(work, concurrency=2)))
    path = tmp_path / "sizes.yaml"
    path.write_text("small: small.json\n")
    return path


@pytest.fixture
def pool_server(tmp_path: Path, store_url: str | None, sized: Path) -> Iterator[Server]:
    # A short state directory: a local cluster's socket lives there (AF_UNIX paths
    # are short).
    state = Path(tempfile.mkdtemp(prefix="dfr-pools-", dir="/tmp")) / "s"
    state.mkdir()
    token = make_token(state, store_url, "root", "admin")
    running = start_server(
        state, store_url, args=("--size-classes", str(sized), "--log-level", "info")
    )
    running.token = token
    yield running
    # Clusters first: the pool ends them.
    api = running.api
    for pool in api.get("/api/v1/pools").json():
        api.delete(f"/api/v1/pools/{pool['name']}")
    running.stop()
    shutil.rmtree(state.parent, ignore_errors=True)


def test_roles_validation_and_a_saved_playbook_run_on_a_pool(
    pool_server: Server, store_url: str | None, work: Path
) -> None:
    server = pool_server
    viewer = server.client(make_token(server.state_dir, store_url, "v", "viewer"))
    submitter = server.client(make_token(server.state_dir, store_url, "s", "submitter"))
    admin = server.api
    body = {"sizeClass": "small", "tags": ["env:test"], "maxClusters": 2, "maxStepsPerCluster": 2,
            "idleMinutes": 5}  # fmt: skip
    for who in (viewer, submitter):
        denied = who.put("/api/v1/pools/etl", json=body)
        assert denied.status_code == 403, denied.text
        assert denied.json()["error"]["code"] == "forbidden"
    assert server.client("").get("/api/v1/pools").status_code in (200, 401)
    # Every problem, one line each, with its JSON path; nothing is made.
    bad = admin.put(
        "/api/v1/pools/etl",
        json={"sizeClass": "huge", "minClusters": 3, "maxClusters": 2, "tags": ["a b"],
              "idleMinutes": -1},
    )  # fmt: skip
    assert bad.status_code == 422, bad.text
    paths = {d["path"] for d in bad.json()["error"]["details"]}
    assert paths == {"$.sizeClass", "$.minClusters", "$.tags[0]", "$.idleMinutes"}
    assert all("\n" not in d["text"] for d in bad.json()["error"]["details"])
    unknown = admin.put("/api/v1/pools/etl", json={"sizeClass": "large"})
    assert unknown.status_code == 422
    assert "size class 'large' has no cluster config on this server" in unknown.text
    assert viewer.get("/api/v1/pools").json() == []
    made = admin.put("/api/v1/pools/etl", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["fabric"] == "local" and made.json()["tags"] == ["env:test"]
    assert admin.put("/api/v1/pools/etl", json=body).status_code == 200
    assert [p["name"] for p in viewer.get("/api/v1/pools").json()] == ["etl"]
    assert viewer.delete("/api/v1/pools/etl").status_code == 403
    assert viewer.get("/api/v1/pools/nope").status_code == 404
    # A saved playbook that names the pool runs on a cluster the pool launches.
    saved = admin.put(
        "/api/v1/playbooks/nightly",
        json={"playbook": playbook_doc("nightly", [sh("a", f"echo ok >> {work}/nightly")]),
              "pool": "etl"},
    )  # fmt: skip
    assert saved.status_code == 201, saved.text
    accepted = submitter.post("/api/v1/playbooks/nightly/runs", json={})
    assert accepted.status_code == 202, accepted.text
    run = server.wait(accepted.json()["id"])
    assert run["state"] == "COMPLETED", run
    pool = viewer.get("/api/v1/pools/etl").json()
    assert run["clusterId"] in {c["id"] for c in pool["clusters"]}
    assert (work / "nightly").read_text() == "ok\n"
    # A run straight to a pool that does not exist: 404, nothing recorded.
    lost = submitter.post(
        "/api/v1/runs", json={"playbook": playbook_doc("x", [sh("a", "true")]), "pool": "nope"}
    )
    assert lost.status_code == 404, lost.text
    # Deleting: the pool ends its clusters once idle, then it is gone.
    gone = admin.delete("/api/v1/pools/etl")
    assert gone.status_code == 202 and gone.json()["state"] == "DELETING"
    assert admin.put("/api/v1/pools/etl", json=body).status_code == 409
    deadline = time.monotonic() + PATIENCE
    while admin.get("/api/v1/pools/etl").status_code != 404:
        assert time.monotonic() < deadline, admin.get("/api/v1/pools/etl").text
        time.sleep(0.2)


def test_the_pools_command(pool_server: Server) -> None:
    server = pool_server
    env = {**os.environ, "DATAFLOW_RUNNER_SERVER": server.url,
           "DATAFLOW_RUNNER_TOKEN": server.token or ""}  # fmt: skip

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "dataflow_runner", "pools", *args]
        return subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=60, check=False
        )

    made = cli("create", "etl", "--size-class", "small", "--tag", "env:test", "--max-clusters",
               "2", "--min-clusters", "3")  # fmt: skip
    assert made.returncode == 1
    assert made.stderr.count("\n") == 1 and "$.minClusters" in made.stderr, made.stderr
    assert cli("create", "etl", "--size-class", "small", "--max-clusters", "2").returncode == 0
    listed = cli("list")
    assert listed.returncode == 0 and listed.stdout.startswith("etl  ACTIVE  small"), listed
    as_json = json.loads(cli("list", "--output", "json").stdout)
    assert as_json[0]["maxClusters"] == 2
    assert cli("delete", "etl").returncode == 0
    assert cli("delete", "nope").returncode == 1
