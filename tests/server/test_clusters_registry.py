"""The clusters registry: attaching EMR clusters by id (moto's server over HTTP),
the poller's one call per cluster per poll and the load it records, a drain that
terminates its cluster once idle; then the API on the real server — tags,
states, commands, the roles each call needs, and bad input."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from dataflow_runner.engine import clusters
from dataflow_runner.engine.api import Engine
from dataflow_runner.engine.cluster_poller import ClusterPoller
from dataflow_runner.errors import FlagError
from tests.emr_server import REGION, EmrServer
from tests.server.conftest import Server, make_token, start_server


@pytest.fixture
def emr(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmrServer]:
    server = EmrServer().start()
    server.reset()
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    yield server
    server.stop()


def _emr_cluster(name: str) -> str:
    client = boto3.client("emr", region_name=REGION)
    made = client.run_job_flow(
        Name=name,
        ReleaseLabel="emr-7.0.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1,
                   "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )  # fmt: skip
    return str(made["JobFlowId"])


def _add_steps(cluster_id: str, count: int) -> None:
    client = boto3.client("emr", region_name=REGION)
    steps = [
        {"Name": f"s{i}", "ActionOnFailure": "CONTINUE",
         "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}}
        for i in range(count)
    ]  # fmt: skip
    client.add_job_flow_steps(JobFlowId=cluster_id, Steps=steps)


def test_the_poller_makes_one_call_per_cluster_per_poll_and_records_the_load(
    emr: EmrServer, tmp_path: Path
) -> None:
    engine = Engine(state_dir=tmp_path / "state")
    ids = [_emr_cluster(f"c{i}") for i in range(10)]
    for i, cluster_id in enumerate(ids):
        clusters.attach(engine, "emr", cluster_id, tags=[f"n:{i}", "env:prod"], capacity=4)
    _add_steps(ids[0], 3)
    _add_steps(ids[1], 1)
    poller = ClusterPoller(engine, status_every=4)
    emr.faults.calls.clear()
    rounds = [poller.poll_once() for _ in range(8)]
    # 10 clusters, 8 polls: 80 ListSteps, and the state every 4th poll (2 × 10).
    assert emr.faults.calls["ListSteps"] == 80
    assert emr.faults.calls["DescribeCluster"] == 20
    assert all(len(r.polled) == 10 and not r.errors for r in rounds)
    loads = {r.id: r.load for r in clusters.listed(engine)}
    assert loads[ids[0]] == 3 and loads[ids[1]] == 1 and loads[ids[2]] == 0
    # Routing: the least loaded of the matches, counted at once in its load.
    chosen = clusters.route(engine, [{"env:prod", "n:0"}, {"env:prod"}], random.Random(1))
    assert chosen is not None and chosen.id == ids[0]  # the first criterion wins
    assert clusters.get(engine, ids[0]).load == 4
    engine.close()


def test_a_drained_cluster_is_terminated_once_idle(emr: EmrServer, tmp_path: Path) -> None:
    engine = Engine(state_dir=tmp_path / "state")
    a, b = _emr_cluster("a"), _emr_cluster("b")
    clusters.attach(engine, "emr", a, tags=["env:prod", "team:x"])
    clusters.attach(engine, "emr", b, tags=["env:test"])
    _add_steps(a, 1)
    poller = ClusterPoller(engine)
    poller.poll_once()
    source, target = clusters.drain(engine, a, b, terminate_when_idle=True)
    assert source.status == "OUT_OF_SERVICE" and source.entry.tags == ()
    assert set(target.entry.tags) == {"env:prod", "team:x", "env:test"}
    assert clusters.route(engine, [{"env:prod"}], random.Random(0)).id == b  # type: ignore[union-attr]
    # A still has a step: not terminated.
    assert poller.poll_once().terminated == []
    client = boto3.client("emr", region_name=REGION)
    for step in client.list_steps(ClusterId=a)["Steps"]:
        client.cancel_steps(ClusterId=a, StepIds=[step["Id"]])
    assert poller.poll_once().terminated == [a]
    assert emr.faults.calls["TerminateJobFlows"] == 1
    assert clusters.get(engine, a).cluster.state.value in ("TERMINATING", "TERMINATED")
    engine.close()


def test_attaching_checks_the_fabric_and_the_id_form(tmp_path: Path) -> None:
    engine = Engine(state_dir=tmp_path / "state")
    with pytest.raises(FlagError, match="unknown fabric 'gce'"):
        clusters.attach(engine, "gce", "j-ABC")
    with pytest.raises(FlagError, match="'x-1' is not the id of a cluster of fabric 'emr'"):
        clusters.attach(engine, "emr", "x-1")
    with pytest.raises(FlagError, match="is a tag the registry gives"):
        clusters.attach(engine, "emr", "j-ABC", tags=["genie.id:j-X"])
    with pytest.raises(FlagError, match="is not a tag"):
        clusters.attach(engine, "emr", "j-ABC", tags=["has space"])
    engine.close()


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[Server]:
    state = tmp_path / "state"
    token = make_token(state, None, "root", "admin")
    running = start_server(state, args=("--cluster-poll-interval", "3600"))
    running.token = token
    yield running
    running.stop()


def test_the_registry_api_tags_states_commands_and_roles(api_server: Server) -> None:
    server = api_server
    viewer = server.client(make_token(server.state_dir, None, "v", "viewer"))
    submitter = server.client(make_token(server.state_dir, None, "s", "submitter"))
    admin = server.api
    attach = {"fabric": "emr", "id": "j-1AAAAAAAAAAAA", "tags": ["env:prod"], "name": "shared"}
    assert viewer.post("/api/v1/clusters", json=attach).status_code == 403
    assert submitter.post("/api/v1/clusters", json=attach).status_code == 403
    made = admin.post("/api/v1/clusters", json=attach)
    assert made.status_code == 201, made.text
    shown = made.json()
    assert (
        shown["status"] == "UP" and shown["tags"] == ["env:prod"] and shown["origin"] == "attached"
    )
    bad = admin.post("/api/v1/clusters", json={**attach, "id": "l-1"})
    assert bad.status_code == 400
    assert "not the id of a cluster of fabric 'emr'" in bad.json()["error"]["message"]
    base = "/api/v1/clusters/j-1AAAAAAAAAAAA"
    assert admin.post(f"{base}/tags", json={"tags": ["size:large"]}).json() == [
        "env:prod", "size:large"
    ]  # fmt: skip
    assert admin.put(f"{base}/tags", json={"tags": ["a:1", "b:2"]}).json() == ["a:1", "b:2"]
    assert admin.delete(f"{base}/tags/a:1").status_code == 204
    assert admin.get(f"{base}/tags").json() == ["b:2"]
    assert viewer.delete(f"{base}/tags/b:2").status_code == 403
    assert admin.patch(base, json={"state": "OUT_OF_SERVICE"}).json()["status"] == "OUT_OF_SERVICE"
    assert admin.patch(base, json={"state": "TERMINATED"}).status_code == 400
    assert viewer.get("/api/v1/clusters", params={"status": "OUT_OF_SERVICE"}).json()[0]["id"] == (
        "j-1AAAAAAAAAAAA"
    )
    assert viewer.get("/api/v1/clusters", params={"status": "UP"}).json() == []
    assert admin.get("/api/v1/clusters/j-NOPE").status_code == 404
    assert server.client("").get("/api/v1/clusters").status_code == 401
    # Genie's view and its tag calls, with the same roles.
    v3 = viewer.get("/api/v3/clusters", params={"tag": "b:2"}).json()
    assert [c["id"] for c in v3["_embedded"]["clusterList"]] == ["j-1AAAAAAAAAAAA"]
    assert v3["page"]["totalElements"] == 1
    assert viewer.post("/api/v3/clusters/j-1AAAAAAAAAAAA/tags", json=["x:1"]).status_code == 403
    assert admin.post("/api/v3/clusters/j-1AAAAAAAAAAAA/tags", json=["x:1"]).status_code == 204
    assert admin.get("/api/v3/clusters/j-1AAAAAAAAAAAA/tags").json() == ["b:2", "x:1"]
    # Commands: admins write them, anyone reads them; a bad kind is one clear line.
    spark = {"kind": "spark-submit", "tags": ["type:spark-submit", "version:3.5"]}
    assert submitter.put("/api/v1/commands/spark", json=spark).status_code == 403
    assert admin.put("/api/v1/commands/spark", json=spark).status_code == 201
    assert admin.put("/api/v1/commands/spark", json=spark).status_code == 200
    assert viewer.get("/api/v1/commands").json()[0]["tags"] == spark["tags"]
    wrong = admin.put("/api/v1/commands/pig", json={"kind": "pig", "tags": []})
    assert wrong.status_code == 400 and "is not a command kind" in wrong.json()["error"]["message"]
    assert admin.delete("/api/v1/commands/spark").status_code == 204
    assert admin.delete("/api/v1/commands/spark").status_code == 404
    # A Genie job needs a submitter; a viewer may only read.
    job = {"commandArgs": "x", "commandCriteria": ["t"], "clusterCriterias": [{"tags": ["b"]}]}
    assert viewer.post("/api/v3/jobs", json=job).status_code == 403
    missing = submitter.post("/api/v3/jobs", json={"commandArgs": "x"})
    assert missing.status_code == 422 and "$.clusterCriterias" in missing.text


def test_the_clusters_command_talks_to_the_server(api_server: Server) -> None:
    from tests.conftest import run_process

    server = api_server
    for cluster_id, tags in (("j-2AAAAAAAAAAAA", ["env:prod", "team:x"]), ("j-2BBBBBBBBBBBB", [])):
        made = server.api.post("/api/v1/clusters", json={"fabric": "emr", "id": cluster_id,
                                                         "tags": tags})  # fmt: skip
        assert made.status_code == 201, made.text
    env = {"DATAFLOW_RUNNER_SERVER": server.url, "DATAFLOW_RUNNER_TOKEN": server.token or ""}
    listed = run_process("clusters", env=env)
    assert listed.code == 0, listed.err
    assert "j-2AAAAAAAAAAAA  UP" in listed.out and "env:prod team:x" in listed.out
    tagged = run_process("clusters", "tag", "j-2BBBBBBBBBBBB", "--add", "size:large",
                         "--add", "gpu:yes", "--remove", "gpu:yes", env=env)  # fmt: skip
    assert tagged.code == 0, tagged.err
    assert tagged.out.strip() == "j-2BBBBBBBBBBBB: size:large"
    drained = run_process(
        "clusters", "drain", "j-2AAAAAAAAAAAA", "--to", "j-2BBBBBBBBBBBB",
        "--terminate-when-idle", env=env,
    )  # fmt: skip
    assert drained.code == 0, drained.err
    assert "j-2AAAAAAAAAAAA: OUT_OF_SERVICE (terminated once idle)" in drained.out
    assert "j-2BBBBBBBBBBBB: UP, tags size:large env:prod team:x" in drained.out
    shown = server.api.get("/api/v1/clusters/j-2AAAAAAAAAAAA").json()
    assert shown["tags"] == [] and shown["terminateWhenIdle"] is True
    # A viewer's token may list, not change: the server's answer in one line.
    viewer = make_token(server.state_dir, None, "ro", "viewer")
    refused = run_process("clusters", "tag", "j-2BBBBBBBBBBBB", "--add", "a:b",
                          env={**env, "DATAFLOW_RUNNER_TOKEN": viewer})  # fmt: skip
    assert refused.code == 1
    assert (
        f'msg="the server at {server.url} refused the request: ro is a viewer: this needs the '
        'admin role (set DATAFLOW_RUNNER_TOKEN to a token whose role allows it)"'
    ) in refused.err, refused.err
    # Without a server, tag and drain say what they need.
    alone = run_process("clusters", "drain", "a", "--to", "b", env={"DATAFLOW_RUNNER_SERVER": ""})
    assert alone.code == 1 and "this needs a server" in alone.err
