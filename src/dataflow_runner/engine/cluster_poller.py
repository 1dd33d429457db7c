"""The server's cluster poller: the registry's load and state kept current with
one call per cluster per poll, however many jobs run there.

Each round (every ``interval`` seconds) it takes the clusters the registry routes
to (not terminated, not a transient run's own) and, per cluster, makes ONE call
to its fabric:

* a fabric that counts a cluster's steps itself (EMR: ``step_load``, one
  ``ListSteps`` filtered to PENDING and RUNNING, whoever sent them) is asked
  that; its state is asked (``DescribeCluster``) only every ``status_every``
  rounds, or when the count fails (the cluster may be gone);
* a fabric that does not (a local cluster: its steps are this store's) is asked
  its state, and the load is the store's count.

Either way the store's QUEUED runs routed to the cluster count as pending. What
it finds is recorded through ``engine/clusters.py`` (``record_load``, which
resets the jobs routed since the previous round) and ``record_cluster_state``.
A cluster drained with ``--terminate-when-idle`` is terminated once it is
OUT_OF_SERVICE with nothing active or pending. The calls are counted by
``fabrics/calls.py`` as every fabric call is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataflow_runner.engine import clusters
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.fabrics.base import ClusterRef, ClusterStatus
from dataflow_runner.store.records import ClusterState

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.fabrics.base import Fabric

log = logging.getLogger("dataflow_runner.server")


@dataclass
class Round:
    """What one round did (for tests and the bench)."""

    polled: list[str] = field(default_factory=list)
    calls: int = 0
    terminated: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


class ClusterPoller:
    """See the module's docstring."""

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = 15.0,
        status_every: int = 8,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.interval = interval
        self.status_every = max(1, status_every)
        self.clock = clock
        self._fabrics: dict[str, Fabric] = {}
        self._rounds = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._terminating: set[str] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cluster poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for fabric in self._fabrics.values():
            fabric.close()
        self._fabrics.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # the store may be away for a while: try again
                log.warning("the cluster poller could not poll: %s", exc)
            self._stop.wait(self.interval)

    def _fabric(self, name: str) -> Fabric:
        found = self._fabrics.get(name)
        if found is None:
            from dataflow_runner.fabrics import registry

            found = registry.driver(name).open(None, None, self.engine.options())
            self._fabrics[name] = found
        return found

    def poll_once(self) -> Round:
        """One round over the registry's clusters (see the module's docstring)."""
        done = Round()
        full = self._rounds % self.status_every == 0
        self._rounds += 1
        known = self.engine.store.reader.store_load()
        for found in clusters.listed(self.engine):
            if found.status == clusters.TERMINATED or not found.routable:
                continue
            try:
                self._poll(found, known, full, done)
            except DataflowRunnerError as exc:
                done.errors[found.id] = str(exc)
                log.info("cluster %s could not be polled: %s", found.id, exc)
        return done

    def _poll(
        self,
        found: clusters.Registered,
        known: dict[str, tuple[int, int]],
        full: bool,
        done: Round,
    ) -> None:
        from dataflow_runner.engine.run import record_cluster_state

        cluster = found.cluster
        fabric = self._fabric(cluster.fabric)
        ref = ClusterRef(cluster.id, fabric.name)
        ours_active, ours_pending = known.get(cluster.id, (0, 0))
        counted: Any = getattr(fabric, "step_load", None)
        status: ClusterStatus | None = None
        active, pending = ours_active, ours_pending
        done.polled.append(cluster.id)
        if counted is not None:
            try:
                done.calls += 1
                running, waiting = counted(ref)
                active, pending = max(running, ours_active), max(waiting, ours_pending)
            except DataflowRunnerError:
                full = True
            if full:
                done.calls += 1
                status = fabric.cluster_status(ref)
        else:
            done.calls += 1
            status = fabric.cluster_status(ref)
        now = self.clock()
        if status is not None and status.state != cluster.state:
            record_cluster_state(self.engine.writer, cluster.id, status)
        clusters.record_load(self.engine, cluster.id, active, pending, at=now)
        ended = status is not None and status.state.finished
        idle = active == 0 and pending == 0 and found.entry.routed == 0
        if (
            not ended
            and found.entry.terminate_when_idle
            and found.status == clusters.OUT_OF_SERVICE
            and idle
            and cluster.id not in self._terminating
        ):
            self._terminate(cluster.id, fabric, ref)
            done.terminated.append(cluster.id)

    def _terminate(self, cluster_id: str, fabric: Fabric, ref: ClusterRef) -> None:
        """Ask the fabric to terminate a drained, idle cluster; the next rounds see
        it end (its state recorded as for any cluster)."""
        from dataflow_runner.engine.run import record_cluster_state

        self._terminating.add(cluster_id)
        log.info("cluster %s is drained and idle: terminating it", cluster_id)
        fabric.terminate(ref)
        record_cluster_state(
            self.engine.writer,
            cluster_id,
            ClusterStatus(ClusterState.TERMINATING, reason="drained and idle"),
        )
