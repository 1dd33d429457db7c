"""Pools on the local fabric: real local clusters (engine-host processes launched
the way ``up`` launches them), the queue and its workers, the pool manager driven
round by round with an injected clock (no waiting for idleMinutes)."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.store.records import ClusterState, LaunchState, RunState
from tests.pool_harness import Harness, playbook

CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"


def local_cluster(work: Path, concurrency: int) -> dict[str, Any]:
    return {
        "schema": CLUSTER,
        "data": {"name": "pooled", "fabric": "local",
                 "local": {"concurrency": concurrency, "workDir": str(work)}},
    }  # fmt: skip


def job(name: str, work: Path, seconds: float = 0.4) -> dict[str, Any]:
    script = f'echo "$DATAFLOW_RUNNER_RUN_ID" >> {work}/ran; sleep {seconds}'
    return playbook(name, [{"id": "only", "type": "COMMAND", "command": ["sh", "-c", script]}])


@pytest.fixture
def harness() -> Iterator[Harness]:
    # A short state directory: a local cluster's socket lives there (AF_UNIX paths
    # are short).
    state = Path(tempfile.mkdtemp(prefix="dfr-pools-", dir="/tmp"))
    made = Harness(state)
    yield made
    for launch in made.launches_all():  # no cluster left behind
        if launch.cluster_id and launch.state is not LaunchState.ENDED:
            from dataflow_runner.fabrics.local import cluster

            cluster.terminate(made.engine.state_dir, launch.cluster_id)
    made.close()
    shutil.rmtree(state, ignore_errors=True)


def max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _e in spans] + [(e, -1) for _s, e in spans])
    best = current = 0
    for _at, step in edges:
        current += step
        best = max(best, current)
    return best


def test_a_burst_of_30_jobs_into_an_empty_pool_launches_3_spreads_and_ends_them(
    harness: Harness, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    harness.pool("burst", local_cluster(work, 2), maxClusters=3, maxStepsPerCluster=2,
                 idleMinutes=10, tags=["env:test"])  # fmt: skip
    runs = [harness.submit(job(f"job{i}", work), "burst") for i in range(30)]
    # Nothing runs before the pool has clusters: the runs wait in its queue.
    assert all(s is RunState.QUEUED for s in harness.states(runs))
    harness.rounds_until(lambda: harness.all_ended(runs))
    assert harness.states(runs) == [RunState.COMPLETED] * 30
    # Exactly three clusters were launched for the burst.
    launches = harness.engine.store.pools.launches("burst")
    assert len(launches) == 3, launches
    clusters = {launch.cluster_id for launch in launches}
    assert None not in clusters and len(clusters) == 3
    # Each job ran once, on a cluster of the pool, spread over all three, never
    # more than maxStepsPerCluster at once on one.
    ran = (work / "ran").read_text().split()
    assert sorted(ran) == sorted(runs)
    reader = harness.engine.store.reader
    on: dict[str, list[tuple[float, float]]] = {}
    for run_id in runs:
        run = reader.run(run_id)
        assert run is not None and run.cluster_id in clusters
        step = reader.steps(run_id)[0]
        assert step.attempts == 1
        assert step.started_at is not None and step.ended_at is not None
        on.setdefault(run.cluster_id, []).append((step.started_at, step.ended_at))
    counts = Counter({c: len(spans) for c, spans in on.items()})
    assert set(counts) == clusters, counts
    assert min(counts.values()) >= 3, counts
    assert all(max_overlap(spans) <= 2 for spans in on.values()), on
    # Idle: marked at the next round, ended once idleMinutes have passed on the
    # manager's clock (not before), and no cluster is launched again.
    harness.manager.tick()
    assert all(launch.idle_since == harness.now for launch in harness.live("burst"))
    harness.now += 9 * 60
    harness.manager.tick()
    assert all(launch.terminate_at is None for launch in harness.live("burst"))
    harness.now += 60
    harness.manager.tick()
    assert all(launch.terminate_at is not None for launch in harness.live("burst"))
    harness.rounds_until(lambda: not harness.live("burst"), timeout=60)
    for cluster_id in clusters:
        found = reader.cluster(str(cluster_id))
        assert found is not None and found.state is ClusterState.TERMINATED
    assert len(harness.engine.store.pools.launches("burst")) == 3


def test_min_clusters_are_kept_and_a_deleted_pool_ends_its_clusters(
    harness: Harness, tmp_path: Path
) -> None:
    from dataflow_runner.engine import pools

    work = tmp_path / "work"
    work.mkdir()
    harness.pool("warm", local_cluster(work, 1), minClusters=1, maxClusters=2, idleMinutes=1)
    harness.rounds_until(
        lambda: any(
            (found := harness.engine.store.reader.cluster(str(launch.cluster_id))) is not None
            and found.state is ClusterState.WAITING
            for launch in harness.live("warm")
        )
    )
    # Idle far longer than idleMinutes: kept, it is the minimum.
    harness.manager.tick()
    harness.now += 3600
    harness.manager.tick()
    assert len(harness.live("warm")) == 1
    assert harness.live("warm")[0].terminate_at is None
    pools.delete(harness.engine, "warm", by="test")
    harness.rounds_until(lambda: harness.engine.store.pools.pool("warm") is None, timeout=60)
    assert not harness.live("warm")


def test_a_drain_under_pool_load_loses_no_job_and_the_drained_cluster_takes_none(
    harness: Harness, tmp_path: Path
) -> None:
    import time

    from dataflow_runner.engine import clusters

    work = tmp_path / "work"
    work.mkdir()
    harness.pool("busy", local_cluster(work, 2), minClusters=2, maxClusters=2,
                 maxStepsPerCluster=2, idleMinutes=5, tags=["team:data"])  # fmt: skip
    reader = harness.engine.store.reader

    def up_clusters() -> list[str]:
        found = [reader.cluster(str(launch.cluster_id)) for launch in harness.live("busy")]
        return [c.id for c in found if c is not None and c.state is ClusterState.WAITING]

    harness.rounds_until(lambda: len(up_clusters()) == 2)
    a, b = sorted(up_clusters())
    assert set(clusters.get(harness.engine, a).entry.tags) == {"team:data"}
    runs = [harness.submit(job(f"d{i}", work, 0.5), "busy") for i in range(16)]
    harness.rounds_until(lambda: any(s is RunState.RUNNING for s in harness.states(runs)))
    clusters.drain(harness.engine, a, b, by="test")
    moved_at = time.time()
    harness.rounds_until(lambda: harness.all_ended(runs))
    assert harness.states(runs) == [RunState.COMPLETED] * 16
    assert sorted((work / "ran").read_text().split()) == sorted(runs)
    waits = [harness.engine.store.pools.wait(r) for r in runs]
    after = [w for w in waits if w is not None and (w.placed_at or 0) > moved_at]
    assert after, "no run was placed after the drain"
    assert all(w.cluster_id == b for w in after), [(w.run_id, w.cluster_id) for w in after]
    # The drained cluster, idle for idleMinutes, is ended whatever minClusters says,
    # and the pool launches another to keep its minimum.
    harness.manager.tick()
    harness.now += 5 * 60
    harness.manager.tick()
    drained = next(launch for launch in harness.engine.store.pools.launches("busy")
                   if launch.cluster_id == a)  # fmt: skip
    assert drained.terminate_at is not None
    harness.rounds_until(lambda: len(up_clusters()) == 2 and a not in up_clusters(), timeout=60)
