"""Cluster lifecycles through the fabric protocol: wait for a state, launch with
bootstrap-failure retries (``up``), terminate and wait (``down``), watch a
transient cluster while it starts, and retry what the fabric could not do yet.

Like the run loop, these are the engine's waits: a fabric is asked, never told
to sleep. Every wait ends early when the run's :class:`CancelToken` asks.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from dataflow_runner.engine.cancel import CancelToken
from dataflow_runner.engine.scheduler import Scheduler
from dataflow_runner.errors import FabricError, FabricUnavailable
from dataflow_runner.fabrics.base import ClusterRef, ClusterStatus, Fabric
from dataflow_runner.store.records import ClusterState

if TYPE_CHECKING:
    from dataflow_runner.config.model import ClusterConfig

log = logging.getLogger("dataflow_runner")
T = TypeVar("T")

READY = frozenset({ClusterState.WAITING, ClusterState.RUNNING})
STARTING = frozenset({ClusterState.STARTING, ClusterState.BOOTSTRAPPING})
GONE = frozenset(
    {ClusterState.TERMINATING, ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS}
)
ENDED = frozenset({ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS})
BOOTSTRAP_RETRIES = 3
BOOTSTRAP_RETRY_MAX_SLEEP = 60.0
#: Retry delays (seconds) when a fabric is unavailable: throttled, network, 5xx.
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0
#: How long a fabric may stay unavailable before the engine gives up and says what
#: failed (``--retry-timeout``): every retry loop against a remote service has one.
PATIENCE = 900.0

OnState = Callable[[ClusterRef, ClusterStatus], None]


def capitalised(label: str) -> str:
    """``local`` → ``Local``, ``EMR`` → ``EMR`` (a fabric's label at a sentence's start)."""
    return label[:1].upper() + label[1:]


def _pause(seconds: float, token: CancelToken | None, *, until_forced: bool = False) -> None:
    """Sleep, but wake at once when the token asks."""
    if token is None:
        time.sleep(seconds)
    else:
        token.sleep(seconds, until_forced=until_forced)


def with_backoff(
    action: Callable[[], T],
    token: CancelToken | None,
    *,
    deadline: float | None = None,
    what: str = "",
) -> T:
    """``action()``, tried again after growing pauses for as long as the fabric is
    unavailable (throttling, a server error, a lost connection), up to
    ``deadline`` (a ``time.monotonic()`` value; default: :data:`PATIENCE` from
    now), after which a ``FabricError`` says what could not be done. A cancel
    ends the waiting (the error is raised).

    ``action`` must be safe to repeat: the EMR fabric checks whether a call whose
    answer was lost was carried out before sending it again.
    """
    backoff = 0.0
    if deadline is None:
        deadline = time.monotonic() + PATIENCE
    while True:
        try:
            return action()
        except FabricUnavailable as exc:
            if token is not None and token.requested:
                raise
            backoff = min(BACKOFF_MAX, backoff * 2 or BACKOFF_START)
            if time.monotonic() + backoff > deadline:
                raise FabricError(f"{what or 'gave up'}: {exc}") from None
            log.warning("%s; trying again in %.0fs", exc, backoff)
            _pause(backoff, token)
            if token is not None and token.requested:
                raise


def wait_for(
    fabric: Fabric,
    ref: ClusterRef,
    *,
    want: frozenset[ClusterState],
    stop: frozenset[ClusterState] = frozenset(),
    poll_interval: Callable[[float], float],
    token: CancelToken | None = None,
    until_forced: bool = False,
    deadline: float | None = None,
    patience: float = PATIENCE,
    on_state: OnState | None = None,
) -> ClusterStatus:
    """Poll the cluster until its state is in ``want`` or ``stop``. No time limit
    unless ``deadline``: a cluster may take long to start. The token ends the wait
    (only a forced stop does with ``until_forced``), as does the deadline; the
    last status seen is returned either way. The fabric may be unavailable for
    ``patience`` seconds in a row, then a ``FabricError`` says so."""
    started = time.monotonic()
    unavailable_since: float | None = None
    backoff = 0.0
    last: ClusterStatus | None = None
    wanted = "/".join(sorted(s.value for s in want))
    label = capitalised(fabric.label)

    def ended() -> bool:
        if token is not None and (token.forced if until_forced else token.requested):
            return True
        return deadline is not None and time.monotonic() >= deadline

    while True:
        try:
            status = fabric.cluster_status(ref)
            backoff = 0.0
            unavailable_since = None
        except FabricUnavailable as exc:
            if ended() and last is not None:
                return last
            unavailable_since = unavailable_since or time.monotonic()
            if time.monotonic() - unavailable_since > patience:
                raise FabricError(
                    f"could not learn the state of cluster {ref.id} for {patience:g} s: {exc}"
                ) from None
            backoff = min(BACKOFF_MAX, backoff * 2 or BACKOFF_START)
            log.warning("%s; trying again in %.0fs", exc, backoff)
            _pause(backoff * random.uniform(0.8, 1.2), token, until_forced=until_forced)
            continue
        changed = last is None or status.state is not last.state
        if on_state is not None and changed:
            on_state(ref, status)
        if status.state in want or status.state in stop or ended():
            return status
        interval = poll_interval(time.monotonic() - started)
        if changed:
            log.info(
                "%s cluster is in state %s - need state %s, checking again in %.0f seconds...",
                label,
                status.state.value,
                wanted,
                interval,
            )
        last = status
        _pause(interval, token, until_forced=until_forced)


def poll_rhythm(fabric: Fabric, base: float | None) -> Callable[[float], float]:
    """Every ``base`` seconds if given (faster in the first minute, so quick failures
    and completions are seen quickly); else the fabric's own rhythm."""
    if base is None:
        return fabric.poll_interval
    return lambda elapsed: min(base, 5.0) if elapsed < 60 else base


def launch_cluster(
    fabric: Fabric,
    cluster: ClusterConfig,
    *,
    name: str,
    poll_interval: Callable[[float], float],
    token: CancelToken,
    on_launched: Callable[[ClusterRef], None],
    on_state: OnState,
    new_token: Callable[[], str],
    patience: float = PATIENCE,
) -> ClusterRef:
    """``up``: launch, wait for WAITING; a bootstrap failure is retried (as the Go tool)."""
    label = capitalised(fabric.label)
    for attempt in range(1, BOOTSTRAP_RETRIES + 1):
        # A token tags the cluster, so a launch whose answer was lost is found, not repeated.
        tag = new_token()
        ref = with_backoff(
            lambda tag=tag: fabric.launch(  # type: ignore[misc]
                cluster, run_id=tag, keep_alive=True, transient=False
            )[0],
            token,
            deadline=time.monotonic() + patience,
            what=f"could not launch the {fabric.label} cluster",
        )
        log.info(
            "Launching %s cluster with name '%s'... (jobflow id %s)", fabric.label, name, ref.id
        )
        on_launched(ref)
        try:
            status = wait_for(
                fabric,
                ref,
                want=frozenset({ClusterState.WAITING}),
                stop=GONE,
                poll_interval=poll_interval,
                token=token,
                patience=patience,
                on_state=on_state,
            )
        except BaseException:
            fabric.terminate(ref)  # never leave a half-launched cluster behind
            raise
        if token.requested:
            log.warning("%s: terminating cluster %s", token.reason, ref.id)
            fabric.terminate(ref)
            raise FabricError(f"launch of {ref.id} interrupted; the cluster is being terminated")
        if status.state is ClusterState.WAITING:
            return ref
        if status.reason_code == "BOOTSTRAP_FAILURE" and attempt < BOOTSTRAP_RETRIES:
            # A random pause, so runners that failed together do not retry together.
            delay = random.uniform(0, min(BOOTSTRAP_RETRY_MAX_SLEEP, 4 * poll_interval(0.0)))
            log.error("Bootstrap failure detected, retrying in %d seconds...", int(delay))
            _pause(delay, token)
            continue
        why = f": {status.reason}" if status.reason else ""
        if status.reason_code == "BOOTSTRAP_FAILURE":
            raise FabricError(f"could not start the cluster due to bootstrap failure{why}")
        raise FabricError(f"{label} cluster failed to launch with state {status.state.value}{why}")
    raise FabricError("could not start the cluster due to bootstrap failure")


def terminate_cluster(
    fabric: Fabric,
    ref: ClusterRef,
    *,
    poll_interval: Callable[[float], float],
    on_state: OnState | None = None,
    patience: float = PATIENCE,
) -> ClusterStatus:
    """``down``: terminate and wait for TERMINATED."""
    with_backoff(
        lambda: fabric.terminate(ref),
        None,
        deadline=time.monotonic() + patience,
        what=f"could not terminate cluster {ref.id}",
    )
    log.info("Terminating %s cluster with jobflow id '%s'...", fabric.label, ref.id)
    return wait_for(
        fabric, ref, want=ENDED, poll_interval=poll_interval, on_state=on_state, patience=patience
    )


class StartupWatch:
    """While a transient cluster starts, one status call per poll; once it is
    ready the step states tell everything, and the watch stops asking. A cluster
    that is born ready (a local one) costs one call."""

    def __init__(
        self,
        fabric: Fabric,
        ref: ClusterRef,
        scheduler: Scheduler,
        poll_interval: Callable[[float], float],
        on_state: OnState,
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
            born_ready = self.last is None and status.state in READY
            self.last = status.state
            self.on_state(self.ref, status)
            if not born_ready:
                log.info(
                    "%s cluster %s is in state %s",
                    capitalised(self.fabric.label),
                    self.ref.id,
                    status.state.value,
                )
        if status.state in READY:
            self.ready = True
        elif status.state in GONE:
            why = status.reason or status.reason_code or status.state.value
            self.scheduler.cancel(f"cluster {self.ref.id} failed to start: {why}", now)


def check_ready(fabric: Fabric, ref: ClusterRef) -> None:
    """An attached run needs a cluster that takes steps (or is about to)."""
    status = fabric.cluster_status(ref)
    if status.state in READY or status.state in STARTING:
        return
    raise FabricError(
        f"{capitalised(fabric.label)} cluster {ref.id} is {status.state.value}"
        + (f" ({status.reason})" if status.reason else "")
        + ": it cannot take steps"
    )
