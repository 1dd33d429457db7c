"""The pool manager at work: each round it observes the pools (one status call per
pool cluster, the store's loads and queues), asks ``pool_manager.decide`` what to
do, and does it. One server of a store is the active manager at a time: a round
runs only while ``leadership.hold()`` says so (the same lease as the scheduler's,
``engine/lease.py``, once wired; :class:`SoleLeader` until then).

A launch is recorded (its slot taken) before it is sent, with a token that tags
the cluster (EMR: the run-id tag; ``Fabric.find_cluster``): a launch found
RECORDED after a crash is looked for before it is sent again, so a failover
never doubles a launch. Placing a run is a compare-and-set on its wait row, and
ending an idle cluster is asked once (``terminate_at``): a stalled manager that
acts after losing the lease cannot launch past a pool's slots or place a run twice.

The clock (``clock``) is injected: idleness is measured in its time, so tests end
clusters "after idleMinutes" without waiting for them.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from dataflow_runner.engine import pool_manager as pm
from dataflow_runner.engine.pools import Pool, opened
from dataflow_runner.errors import DataflowRunnerError, FabricUnavailable
from dataflow_runner.fabrics.base import ClusterRef, Fabric
from dataflow_runner.store.records import (
    ClusterState,
    LaunchState,
    PoolLaunchRecord,
    PoolRecord,
    RunState,
    StepState,
)

if TYPE_CHECKING:
    from dataflow_runner.config.model import ClusterConfig
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.payload import Keyring
    from dataflow_runner.engine.queue import RunQueue

log = logging.getLogger("dataflow_runner.server")

#: Seconds a RECORDED launch is left to the manager sending it before another
#: round takes it for one whose sender died (and looks for its cluster first).
RESEND_AFTER = 30.0
#: Seconds a pool waits after a launch failed before launching again.
LAUNCH_BACKOFF = 60.0
#: How a Genie job waiting for a pool is named among the pool's waiting runs.
JOB = "job:"


def _pool_would_take(engine: Engine, criteria: object) -> bool:
    from dataflow_runner.engine.pools import matching

    return matching(engine, criteria) is not None  # type: ignore[arg-type]


class Leadership(Protocol):
    """One active manager across servers: ``hold`` takes or renews, and says
    whether this process holds it; ``release`` gives it up."""

    def hold(self) -> bool: ...

    def release(self) -> None: ...


class SoleLeader:
    """Always the leader: a store with one server. (Two managers would still not
    launch past a pool's slots, nor place a run twice: see the module's docstring.)"""

    def hold(self) -> bool:
        return True

    def release(self) -> None:
        pass


#: Genie's status of a pool cluster, when the clusters registry knows better than
#: the fabric (drained: OUT_OF_SERVICE), and the tags it carries now.
StatusOf = Callable[[str], tuple[str | None, frozenset[str] | None]]


def registry_of(engine: Engine) -> StatusOf:
    """What the clusters registry (``engine/clusters.py``) says of a cluster: an
    admin's OUT_OF_SERVICE (a drain), and its tags (moved away by a drain)."""

    def of(cluster_id: str) -> tuple[str | None, frozenset[str] | None]:
        entry = engine.store.reader.registry(cluster_id)
        if entry is None:
            return None, None
        return entry.service.value, frozenset(entry.tags)

    return of


class PoolService:
    """See the module's docstring."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        *,
        leadership: Leadership | None = None,
        clock: Callable[[], float] = time.time,
        interval: float = 2.0,
        rng: random.Random | None = None,
        registry: StatusOf | None = None,
        on_placed: Callable[[], None] = lambda: None,
        queue: RunQueue | None = None,
        status_every: float = 0.0,
    ) -> None:
        self.engine = engine
        self.keyring = keyring
        self.leadership = leadership or SoleLeader()
        self.clock = clock
        self.interval = interval
        self.rng = rng or random.Random()
        self.registry = registry or registry_of(engine)
        self.on_placed = on_placed
        #: For Genie jobs that wait for a pool's cluster (``engine/jobs.py``).
        self.queue = queue
        #: A cluster whose state was recorded this recently (by the registry's poller,
        #: or by an earlier round) is not asked again: one status call per cluster
        #: per poll, whoever polls.
        self.status_every = status_every
        from dataflow_runner.engine import clusters

        clusters.add_pool_matcher(_pool_would_take)
        self._fabrics: dict[tuple[str, float], Fabric] = {}
        self._failed: dict[str, float] = {}
        #: Dead clusters (→ pool) whose runs are not all given back yet (one is
        #: still being driven), and when each pool cluster was last seen alive.
        self._rerouting: dict[str, str] = {}
        self._alive_at: dict[str, float] = {}
        #: The launches whose cluster was seen UP (one that dies before is a failed
        #: launch: the pool waits LAUNCH_BACKOFF before launching again).
        self._came_up: set[str] = set()
        self._jobs: dict[str, list[tuple[str, float]]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="pool manager", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.leadership.release()
        for fabric in self._fabrics.values():
            fabric.close()
        self._fabrics.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # the store or a fabric may be away: next round
                log.warning("the pool manager's round failed: %s", exc)
                log.debug("pool manager", exc_info=True)
            self._wake.wait(self.interval)
            self._wake.clear()

    # --- one round -----------------------------------------------------------------------

    def tick(self) -> list[pm.Action]:
        """One round (see the module's docstring); the actions taken."""
        if not self.leadership.hold():
            return []
        now = self.clock()
        records = {p.name: p for p in self.engine.store.pools.pools()}
        self._jobs = self._waiting_jobs()
        views = [self._view(record) for record in records.values()]
        actions = pm.decide(views, now, rng=self.rng)
        for cluster_id, pool in list(self._rerouting.items()):
            actions.append(pm.Reroute(pool, cluster_id))
        placed = False
        for action in actions:
            try:
                placed = self._act(action, records, now) or placed
            except FabricUnavailable as exc:
                log.warning("pool manager: %s (next round)", exc)
            except DataflowRunnerError as exc:
                log.warning("pool manager: %s", exc)
        if placed:
            self.on_placed()
        return actions

    def _view(self, record: PoolRecord) -> pm.PoolView:
        tables = self.engine.store.pools
        loads = tables.loads()
        clusters = []
        for launch in tables.live_launches(record.name):
            clusters.append(self._cluster_view(record, launch, loads))
        waiting = tuple(
            pm.Waiting(w.run_id, w.steps, w.created_at)
            for w in tables.waiting()
            if w.pool == record.name
        ) + tuple(pm.Waiting(JOB + job_id, 1, at) for job_id, at in self._jobs.get(record.name, ()))
        return pm.PoolView(
            name=record.name,
            min_clusters=record.min_clusters,
            max_clusters=record.max_clusters,
            max_steps_per_cluster=record.max_steps_per_cluster,
            idle_minutes=record.idle_minutes,
            tags=frozenset(record.tags),
            deleting=record.state.value == "DELETING",
            clusters=tuple(clusters),
            waiting=waiting,
        )

    def _cluster_view(
        self, record: PoolRecord, launch: PoolLaunchRecord, loads: dict[str, int]
    ) -> pm.ClusterView:
        slot = int((launch.slot or "#0").rsplit("#", 1)[1])
        base = pm.ClusterView(
            launch_id=launch.id,
            cluster_id=launch.cluster_id,
            health=pm.Health.LAUNCHING,
            idle_since=launch.idle_since,
            terminating=launch.terminate_at is not None,
            tags=frozenset(record.tags),
            slot=slot,
        )
        if launch.cluster_id is None:
            self._resend(record, launch)
            return base
        state = self._state(record, launch.cluster_id)
        status, tags = self.registry(launch.cluster_id)
        if state.finished or (state is ClusterState.TERMINATING and not base.terminating):
            health = pm.Health.ENDED
        elif state in (ClusterState.STARTING, ClusterState.BOOTSTRAPPING):
            health = pm.Health.STARTING
        elif status == "OUT_OF_SERVICE":
            health = pm.Health.OUT_OF_SERVICE
        else:
            health = pm.Health.UP
        if health is not pm.Health.ENDED:
            self._alive_at[launch.cluster_id] = time.time()
        if health in (pm.Health.UP, pm.Health.OUT_OF_SERVICE):
            self._came_up.add(launch.id)
        return pm.ClusterView(
            launch_id=launch.id,
            cluster_id=launch.cluster_id,
            health=health,
            load=loads.get(launch.cluster_id, 0),
            idle_since=launch.idle_since,
            terminating=base.terminating,
            tags=tags if tags is not None else base.tags,
            slot=slot,
        )

    def _waiting_jobs(self) -> dict[str, list[tuple[str, float]]]:
        """The Genie jobs no cluster matched, by the pool that would take them."""
        if self.queue is None:
            return {}
        from dataflow_runner.engine import jobs
        from dataflow_runner.engine.pools import matching

        found: dict[str, list[tuple[str, float]]] = {}
        for job in jobs.waiting(self.engine):
            # Genie's request as the client sent it: clusterCriterias, [{"tags": [...]}].
            criteria = job.request.get("clusterCriterias") or []
            sets = [list(c.get("tags") or []) if isinstance(c, dict) else list(c)
                    for c in criteria]  # fmt: skip
            pool = matching(self.engine, sets)
            if pool is not None:
                found.setdefault(pool, []).append((job.id, job.created_at))
        return found

    def _fabric(self, record: PoolRecord) -> tuple[Fabric, Pool]:
        pool = opened(self.keyring, record)
        key = (record.name, record.updated_at)
        fabric = self._fabrics.get(key)
        if fabric is None:
            from dataflow_runner.fabrics import registry

            config = self._config(pool)
            fabric = registry.driver(config.fabric).open(config, None, self.engine.options())
            self._fabrics[key] = fabric
        return fabric, pool

    def _config(self, pool: Pool) -> ClusterConfig:
        import json

        from dataflow_runner.config.loading import load_cluster

        return load_cluster("cluster", {}, text=json.dumps(dict(pool.cluster)))

    def _state(self, record: PoolRecord, cluster_id: str) -> ClusterState:
        """One status call for the cluster (recorded when it changed)."""
        from dataflow_runner.engine.run import record_cluster_state

        known = self.engine.store.reader.cluster(cluster_id)
        fresh = known is not None and known.updated_at is not None
        if (
            fresh
            and known is not None
            and time.time() - (known.updated_at or 0) < self.status_every
        ):
            return known.state
        fabric, _pool = self._fabric(record)
        try:
            status = fabric.cluster_status(ClusterRef(cluster_id, fabric.name))
        except FabricUnavailable as exc:
            log.warning("pool %s: %s", record.name, exc)
            return known.state if known is not None else ClusterState.STARTING
        if known is not None:
            record_cluster_state(self.engine.writer, cluster_id, status)
        return status.state

    # --- acting --------------------------------------------------------------------------

    def _act(self, action: pm.Action, records: dict[str, PoolRecord], now: float) -> bool:
        tables = self.engine.store.pools
        wall = time.time()
        if isinstance(action, pm.Launch | pm.Terminate) and action.pool not in records:
            return False
        if isinstance(action, pm.Launch):
            self._launch(records[action.pool], action.slot, action.why)
        elif isinstance(action, pm.Place) and action.run_id.startswith(JOB):
            from dataflow_runner.engine import jobs

            assert self.queue is not None
            jobs.place(self.engine, self.queue, action.run_id[len(JOB) :], action.cluster_id)
            return True
        elif isinstance(action, pm.Place):
            if tables.place(action.run_id, action.cluster_id, at=wall):
                log.info("pool %s: run %s placed on %s", action.pool, action.run_id,
                         action.cluster_id)  # fmt: skip
                return True
        elif isinstance(action, pm.Terminate):
            fabric, _pool = self._fabric(records[action.pool])
            tables.update_launch(action.launch_id, terminate_at=wall)
            log.info("pool %s: terminating %s (%s)", action.pool, action.cluster_id, action.why)
            fabric.terminate(ClusterRef(action.cluster_id, fabric.name))
        elif isinstance(action, pm.Forget):
            tables.end_launch(action.launch_id, at=wall, reason=action.why)
            if action.why != "terminated":
                log.warning("pool %s: launch %s: %s", action.pool, action.launch_id, action.why)
                if action.launch_id not in self._came_up:
                    self._failed[action.pool] = time.monotonic()
                    log.warning("pool %s: its cluster never came up: no launch for %.0f s",
                                action.pool, LAUNCH_BACKOFF)  # fmt: skip
        elif isinstance(action, pm.Reroute):
            self._reroute(action.pool, action.cluster_id, wall)
        elif isinstance(action, pm.MarkIdle):
            tables.update_launch(action.launch_id, idle_since=action.since)
        elif isinstance(action, pm.ClearIdle):
            tables.update_launch(action.launch_id, idle_since=None)
        elif isinstance(action, pm.FailWaiting):
            tables.fail_waiting(action.run_id, at=wall, reason=action.why)
        elif isinstance(action, pm.DropPool):
            tables.drop_pool(action.pool)
            log.info("pool %s: deleted (its clusters have ended)", action.pool)
        return False

    def _launch(self, record: PoolRecord, slot: int, why: str) -> None:
        if time.monotonic() - self._failed.get(record.name, -LAUNCH_BACKOFF) < LAUNCH_BACKOFF:
            return
        launch = PoolLaunchRecord(
            id=f"pool-{secrets.token_hex(6)}",
            pool=record.name,
            created_at=time.time(),
            slot=f"{record.name}#{slot}",
        )
        if not self.engine.store.pools.record_launch(launch):
            return  # that need is being met already
        log.info("pool %s: launching a cluster (%s)", record.name, why)
        self._send(record, launch)

    def _send(self, record: PoolRecord, launch: PoolLaunchRecord) -> None:
        from dataflow_runner.engine.recorder import launched_cluster

        fabric, pool = self._fabric(record)
        config = self._config(pool)
        try:
            ref, _steps = fabric.launch(
                config,
                run_id=launch.id,
                keep_alive=True,
                transient=False,
                concurrency=record.max_steps_per_cluster,
            )
        except FabricUnavailable:
            raise  # left RECORDED: looked for, then sent again
        except DataflowRunnerError as exc:
            self._failed[record.name] = time.monotonic()
            self.engine.store.pools.end_launch(launch.id, at=time.time(), reason=str(exc))
            raise DataflowRunnerError(f"pool {record.name}: the launch failed: {exc}") from None
        self.engine.writer.upsert_cluster(launched_cluster(ref, fabric.name, config))
        from dataflow_runner.engine import clusters

        clusters.register(self.engine, ref.id, tags=record.tags,
                          capacity=record.max_steps_per_cluster, pool=record.name)  # fmt: skip
        self.engine.store.pools.update_launch(
            launch.id, state=LaunchState.SENT, cluster_id=ref.id, sent_at=time.time()
        )
        log.info("pool %s: cluster %s launched", record.name, ref.id)

    def _resend(self, record: PoolRecord, launch: PoolLaunchRecord) -> None:
        """A launch recorded and not known sent: its manager died, or lost the
        answer. Its cluster is looked for by its token first."""
        if time.time() - launch.created_at < RESEND_AFTER:
            return
        fabric, pool = self._fabric(record)
        found = fabric.find_cluster(None, pool.name, launch.id, launch.created_at)
        if found is not None:
            self.engine.store.pools.update_launch(
                launch.id, state=LaunchState.SENT, cluster_id=found.id, sent_at=time.time()
            )
            return
        try:
            self._send(record, launch)
        except DataflowRunnerError as exc:
            log.warning("%s", exc)

    def _settle(self, pool: str, cluster_id: str, run_id: str) -> None:
        """Before a run goes elsewhere: what its unfinished steps did on the dead
        cluster, asked of the fabric (one call), so that a step that completed there
        (its runner had not seen it yet) is recorded COMPLETED, not run again."""
        from dataflow_runner.fabrics.base import StepRef

        record = self.engine.store.pools.pool(pool)
        if record is None:
            return
        reader = self.engine.store.reader
        done = {s.step_id for s in reader.steps(run_id) if s.state.done}
        last: dict[str, Any] = {}
        for attempt in reader.attempts(run_id):
            if attempt.step_id not in done and attempt.fabric_ref.get("fabric_id"):
                last[attempt.step_id] = attempt
        if not last:
            return
        fabric, _pool = self._fabric(record)
        refs = [StepRef.from_json(run_id, a.step_id, a.fabric_ref) for a in last.values()]
        try:
            found = fabric.poll(ClusterRef(cluster_id, fabric.name), refs)
        except DataflowRunnerError as exc:
            log.warning("pool %s: the steps of run %s on %s: %s", pool, run_id, cluster_id, exc)
            return
        for ref in refs:
            status = found.get(ref.key)
            if status is not None and status.state is StepState.COMPLETED:
                attempt = last[ref.step_id]
                self.engine.writer.finish_attempt(
                    run_id, ref.step_id, attempt.attempt, StepState.COMPLETED,
                    at=status.ended_at or time.time(), exit_code=status.exit_code,
                    reason="completed on its cluster before it died",
                )  # fmt: skip

    def _reroute(self, pool: str, cluster_id: str, wall: float) -> None:
        """Give the runs a dead cluster held back to its pool's queue, once their
        runner has let go of them (it ended them, or it is gone)."""
        tables = self.engine.store.pools
        reader = self.engine.store.reader
        left = False
        why = f"its cluster {cluster_id} died: going on on another cluster of pool {pool}"
        alive_at = self._alive_at.get(cluster_id, wall - 2 * self.interval - 60)
        for row in tables.runs_on(cluster_id):
            state = RunState(str(row["state"]))
            ended = row.get("ended_at")
            if state.finished and (ended is None or float(ended) < alive_at):
                continue  # it ended before its cluster died: as it ended
            if state is RunState.QUEUED:
                tables.requeue(row, at=wall, reason=why)  # placed, not started
                continue
            if state is RunState.RUNNING:
                observed = reader.run(str(row["id"]))
                if observed is None or observed.state is not RunState.DEAD:
                    left = True  # its runner still drives it: it will end it
                    continue
            self._settle(pool, cluster_id, str(row["id"]))
            if tables.requeue(row, at=wall, reason=why):
                log.warning("pool %s: run %s %s", pool, row["id"], why)
        if left:
            self._rerouting[cluster_id] = pool
        else:
            self._rerouting.pop(cluster_id, None)
