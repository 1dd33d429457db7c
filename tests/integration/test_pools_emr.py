"""Pools on EMR (moto's server over HTTP): clusters launched with RunJobFlow by the
pool manager (rounds driven by the test, an injected clock), the runs placed on
them by the queue's workers; a cluster that dies is replaced and its unfinished
steps go on on another cluster, none run twice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.store.records import LaunchState, RunState
from tests.emr_server import REGION, EmrDriver, EmrServer, Outcome, backend
from tests.pool_harness import Harness, playbook

SNOWPLOW_CLUSTER = "iglu:com.snowplowanalytics.dataflowrunner/ClusterConfig/avro/1-1-0"


def emr_cluster() -> dict[str, Any]:
    return {"schema": SNOWPLOW_CLUSTER, "data": {
        "name": "pooled-emr",
        "logUri": "s3://emr-logs/",
        "region": REGION,
        "credentials": {"accessKeyId": "env", "secretAccessKey": "env"},
        "roles": {"jobflow": "EMR_EC2_DefaultRole", "service": "EMR_DefaultRole"},
        "ec2": {
            "amiVersion": "6.10.0",
            "keyName": "k",
            "location": {"vpc": {"subnetId": "subnet-1"}},
            "instances": {"master": {"type": "m5.xlarge"},
                          "core": {"type": "m5.xlarge", "count": 1},
                          "task": {"type": "m5.xlarge", "count": 0}},
        },
    }}  # fmt: skip


def jar(step: str) -> dict[str, Any]:
    return {"id": step, "name": step, "type": "CUSTOM_JAR", "jar": "command-runner.jar",
            "arguments": ["echo", step]}  # fmt: skip


@pytest.fixture
def harness(tmp_path: Path, emr: EmrServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for key, value in emr.env().items():
        monkeypatch.setenv(key, value)
    made = Harness(tmp_path / "state", slots=16)
    yield made
    made.close()


def test_a_burst_of_30_jobs_on_emr_launches_exactly_3_clusters_then_ends_them(
    harness: Harness, emr: EmrServer
) -> None:
    harness.pool("emr", emr_cluster(), maxClusters=3, maxStepsPerCluster=2, idleMinutes=15)
    runs = [harness.submit(playbook(f"job{i}", [jar(f"j{i}")]), "emr") for i in range(30)]
    with EmrDriver(default=Outcome(seconds=0.2)) as driver:
        harness.rounds_until(lambda: harness.all_ended(runs))
        assert harness.states(runs) == [RunState.COMPLETED] * 30
        assert emr.faults.calls["RunJobFlow"] == 3
        launches = harness.engine.store.pools.launches("emr")
        clusters = {launch.cluster_id for launch in launches}
        assert len(launches) == 3 and len(clusters) == 3 and None not in clusters
        # Every job ran once; each cluster took a share, never more than 2 at once.
        assert all(driver.submitted[f"j{i}"] == 1 for i in range(30))
        per_cluster = {c: len(backend().clusters[c].steps) for c in clusters}
        assert min(per_cluster.values()) >= 3, per_cluster
        assert driver.max_running <= 2
        # Ended after idleMinutes on the manager's clock, and only then.
        harness.manager.tick()
        harness.now += 14 * 60
        harness.manager.tick()
        assert all(b.state == "WAITING" for b in backend().clusters.values())
        harness.now += 60
        harness.rounds_until(lambda: not harness.live("emr"), timeout=60)
        assert {backend().clusters[c].state for c in clusters} == {"TERMINATED"}
        assert emr.faults.calls["RunJobFlow"] == 3


def test_a_pool_cluster_that_dies_is_replaced_and_its_steps_go_on_elsewhere(
    harness: Harness, emr: EmrServer
) -> None:
    harness.pool("emr", emr_cluster(), minClusters=2, maxClusters=2, maxStepsPerCluster=4)

    def two(i: int) -> dict[str, Any]:
        return playbook(f"two{i}", [jar(f"a{i}"), {**jar(f"b{i}"), "dependsOn": [f"a{i}"]}])

    runs = [harness.submit(two(i), "emr") for i in range(4)]
    slow = {f"b{i}": Outcome(seconds=3.0) for i in range(4)}
    with EmrDriver(slow, default=Outcome(seconds=0.05)) as driver:
        # Once every run's first step completed and its second runs: one cluster dies.
        def second_steps_running() -> bool:
            states = {s.name: s.state for c in backend().clusters.values() for s in c.steps}
            return all(states.get(f"b{i}") == "RUNNING" for i in range(4))

        harness.rounds_until(second_steps_running)
        victim = next(
            c for c in backend().clusters.values() if any(s.state == "RUNNING" for s in c.steps)
        )
        # What had completed when it died is never sent again.
        done_before = {
            s.name for c in backend().clusters.values() for s in c.steps if s.state == "COMPLETED"
        }
        victim.state = "TERMINATED_WITH_ERRORS"
        victim.state_change_code = "INTERNAL_ERROR"
        harness.rounds_until(lambda: harness.all_ended(runs))
        assert harness.states(runs) == [RunState.COMPLETED] * 4
        # A replacement was launched: two live clusters again, three launches in all.
        launches = harness.engine.store.pools.launches("emr")
        assert len(launches) == 3
        dead = [launch for launch in launches if launch.cluster_id == victim.id]
        assert dead[0].state is LaunchState.ENDED and dead[0].reason == "its cluster died"
        assert len(harness.live("emr")) == 2
        # No step ran twice: what had completed was sent once; a step that the dead
        # cluster cut short was sent again, to another cluster, and completed once.
        assert all(driver.submitted[name] == 1 for name in done_before), (
            done_before,
            driver.submitted,
        )
        completed: dict[str, int] = {}
        for c in backend().clusters.values():
            for s in c.steps:
                if s.state == "COMPLETED":
                    completed[s.name] = completed.get(s.name, 0) + 1
        assert completed == {**{f"a{i}": 1 for i in range(4)}, **{f"b{i}": 1 for i in range(4)}}
        moved = [i for i in range(4) if driver.submitted[f"b{i}"] == 2]
        assert moved, driver.submitted
        reader = harness.engine.store.reader
        for i in moved:
            run = reader.run(runs[i])
            assert run is not None and run.cluster_id != victim.id
            _a, b = reader.steps(runs[i])
            assert b.attempts == 2
