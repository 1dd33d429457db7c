"""Cluster lifecycles through the fabric protocol: wait for a state, launch with
bootstrap-failure retries (``up``), terminate and wait (``down``), watch a
transient cluster while it starts, and fetch a failed step's logs.

Like the scheduler's loop, these are the engine's waits: a fabric is asked,
never told to sleep.
"""

from __future__ import annotations

import functools
import logging
import random
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dataflow_runner.engine.loop import BACKOFF_MAX, BACKOFF_START, Interrupts
from dataflow_runner.engine.scheduler import Scheduler
from dataflow_runner.errors import FabricError, FabricUnavailable
from dataflow_runner.fabrics.base import ClusterRef, ClusterStatus, Fabric
from dataflow_runner.store.records import ClusterState

log = logging.getLogger("dataflow_runner")
T = TypeVar("T")

READY = frozenset({ClusterState.WAITING, ClusterState.RUNNING})
GONE = frozenset(
    {ClusterState.TERMINATING, ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS}
)
BOOTSTRAP_RETRIES = 3
BOOTSTRAP_RETRY_MAX_SLEEP = 60.0


def default_poll_interval(base: float | None) -> Callable[[float], float]:
    """EMR polls: every ``base`` seconds (default 15), faster in the first minute,
    so quick failures and completions are seen quickly."""
    steady = base if base is not None else 15.0
    return lambda elapsed: min(steady, 5.0) if elapsed < 60 else steady


def _pause(seconds: float, interrupts: Interrupts | None) -> None:
    """Sleep, but wake at once on Ctrl-C or SIGTERM."""
    import select

    if interrupts is None:
        time.sleep(seconds)
        return
    select.select([interrupts.fd], [], [], max(0.0, seconds))
    interrupts.drain()


def wait_for(
    fabric: Fabric,
    ref: ClusterRef,
    *,
    want: frozenset[ClusterState],
    stop: frozenset[ClusterState],
    poll_interval: Callable[[float], float],
    interrupts: Interrupts | None = None,
    on_state: Callable[[ClusterStatus], None] | None = None,
) -> ClusterStatus:
    """Poll the cluster until its state is in ``want`` or ``stop``; no time limit
    (a cluster may take long to start; Ctrl-C ends the wait)."""
    started = time.monotonic()
    backoff = 0.0
    last: ClusterState | None = None
    wanted = "/".join(sorted(s.value for s in want))
    while True:
        try:
            status = fabric.cluster_status(ref)
            backoff = 0.0
        except FabricUnavailable as exc:
            backoff = min(BACKOFF_MAX, backoff * 2 or BACKOFF_START)
            log.warning("%s; trying again in %.0fs", exc, backoff)
            _pause(backoff * random.uniform(0.8, 1.2), interrupts)
            continue
        if on_state is not None and status.state is not last:
            on_state(status)
        if status.state in want or status.state in stop:
            return status
        if interrupts is not None and interrupts.requested:
            return status
        interval = poll_interval(time.monotonic() - started)
        if status.state is not last:
            log.info(
                "EMR cluster is in state %s - need state %s, checking again in %.0f seconds...",
                status.state.value,
                wanted,
                interval,
            )
        last = status.state
        _pause(interval, interrupts)


def launch_cluster(
    fabric: Any,
    cluster: Any,
    *,
    poll_interval: Callable[[float], float],
    interrupts: Interrupts | None,
    on_launched: Callable[[ClusterRef], None],
    on_state: Callable[[ClusterRef, ClusterStatus], None],
) -> ClusterRef:
    """``up``: launch, wait for WAITING; a bootstrap failure is retried (as the Go tool)."""
    for attempt in range(1, BOOTSTRAP_RETRIES + 1):
        # A token tags the cluster, so a launch whose answer was lost is found, not repeated.
        token = f"up-{secrets.token_hex(6)}"
        launched: tuple[ClusterRef, object] = with_backoff(
            functools.partial(
                fabric.launch, cluster, run_id=token, keep_alive=True, transient=False
            ),
            interrupts,
        )
        ref = launched[0]
        log.info("Launching EMR cluster with name '%s'... (jobflow id %s)", cluster.name, ref.id)
        on_launched(ref)
        try:
            status = wait_for(
                fabric,
                ref,
                want=frozenset({ClusterState.WAITING}),
                stop=GONE,
                poll_interval=poll_interval,
                interrupts=interrupts,
                on_state=functools.partial(on_state, ref),
            )
        except BaseException:
            fabric.terminate(ref)  # never leave a half-launched cluster behind
            raise
        if interrupts is not None and interrupts.requested:
            log.warning("%s received: terminating cluster %s", interrupts.name, ref.id)
            fabric.terminate(ref)
            raise FabricError(f"launch of {ref.id} interrupted; the cluster is being terminated")
        if status.state is ClusterState.WAITING:
            return ref
        if status.reason_code == "BOOTSTRAP_FAILURE" and attempt < BOOTSTRAP_RETRIES:
            # A random pause, so runners that failed together do not retry together.
            delay = random.uniform(0, min(BOOTSTRAP_RETRY_MAX_SLEEP, 4 * poll_interval(0.0)))
            log.error("Bootstrap failure detected, retrying in %d seconds...", int(delay))
            _pause(delay, interrupts)
            continue
        why = f": {status.reason}" if status.reason else ""
        if status.reason_code == "BOOTSTRAP_FAILURE":
            raise FabricError(f"could not start the cluster due to bootstrap failure{why}")
        raise FabricError(f"EMR cluster failed to launch with state {status.state.value}{why}")
    raise FabricError("could not start the cluster due to bootstrap failure")


def terminate_cluster(
    fabric: Fabric,
    ref: ClusterRef,
    *,
    poll_interval: Callable[[float], float],
    interrupts: Interrupts | None = None,
    on_state: Callable[[ClusterStatus], None] | None = None,
) -> ClusterStatus:
    """``down``: terminate and wait for TERMINATED."""
    with_backoff(lambda: fabric.terminate(ref), interrupts)
    log.info("Terminating EMR cluster with jobflow id '%s'...", ref.id)
    return wait_for(
        fabric,
        ref,
        want=frozenset({ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS}),
        stop=frozenset(),
        poll_interval=poll_interval,
        interrupts=None,
        on_state=on_state,
    )


def with_backoff(action: Callable[[], T], interrupts: Interrupts | None) -> T:
    """``action()``, tried again after growing pauses for as long as the fabric is
    unavailable (throttling, a server error, a lost connection): a run never
    fails for those. Ctrl-C or SIGTERM ends the waiting (the error is raised).

    ``action`` must be safe to repeat: the EMR fabric checks whether a call whose
    answer was lost was carried out before sending it again.
    """
    backoff = 0.0
    while True:
        try:
            return action()
        except FabricUnavailable as exc:
            if interrupts is not None and interrupts.requested:
                raise
            backoff = min(BACKOFF_MAX, backoff * 2 or BACKOFF_START)
            log.warning("%s; trying again in %.0fs", exc, backoff)
            _pause(backoff, interrupts)
            if interrupts is not None and interrupts.requested:
                raise


class StartupWatch:
    """While a transient cluster starts, one DescribeCluster per poll; once it
    is ready the step states tell everything, and the watch stops asking."""

    def __init__(
        self,
        fabric: Fabric,
        ref: ClusterRef,
        scheduler: Scheduler,
        poll_interval: Callable[[float], float],
        on_state: Callable[[ClusterStatus], None],
    ) -> None:
        self.fabric, self.ref, self.scheduler = fabric, ref, scheduler
        self.poll_interval = poll_interval
        self.on_state = on_state
        self.started = time.time()
        self.next_check = 0.0
        self.ready = False
        self.last: ClusterState | None = None

    def __call__(self, now: float) -> None:
        if self.ready or now < self.next_check or self.scheduler.cancelling:
            return
        self.next_check = now + self.poll_interval(now - self.started)
        try:
            status = self.fabric.cluster_status(self.ref)
        except FabricUnavailable as exc:
            log.warning("%s", exc)
            return
        if status.state is not self.last:
            self.last = status.state
            self.on_state(status)
            log.info("EMR cluster %s is in state %s", self.ref.id, status.state.value)
        if status.state in READY:
            self.ready = True
        elif status.state in GONE:
            why = status.reason or status.reason_code or status.state.value
            self.scheduler.cancel(f"cluster {self.ref.id} failed to start: {why}", now)
