"""The one place that waits: on the fabric's handles, the scheduler's timers,
the poll interval and the run's cancel token, whichever comes first.

A cancel does not stop the loop: it asks the scheduler to stop (cancel what
runs, cancel what waits) and the loop goes on until everything is accounted
for, so the run is recorded and nothing is left running. A forced stop (a
second Ctrl-C) kills what runs and leaves at once: the caller records what
was left as CANCELLED.
"""

from __future__ import annotations

import logging
import math
import select
import time
from collections.abc import Callable

from dataflow_runner.engine.cancel import CancelToken
from dataflow_runner.engine.lifecycle import BACKOFF_MAX, BACKOFF_START, PATIENCE
from dataflow_runner.engine.scheduler import Scheduler
from dataflow_runner.errors import FabricError, FabricUnavailable
from dataflow_runner.fabrics.base import Fabric

log = logging.getLogger("dataflow_runner.engine")


def drive(
    scheduler: Scheduler,
    fabric: Fabric,
    *,
    token: CancelToken | None = None,
    poll_interval: Callable[[float], float] = lambda _elapsed: 1.0,
    on_wake: Callable[[float], None] | None = None,
    on_cancel: Callable[[], bool] | None = None,
    cleanup_timeout: float | None = None,
    patience: float = PATIENCE,
    clock: Callable[[], float] = time.time,
) -> bool:
    """Run ``scheduler`` until every task is finished; False when it stopped before
    (a forced stop, or steps still not stopped ``cleanup_timeout`` seconds after a
    cancel: the caller records what was left).

    ``poll_interval(elapsed)`` is how long to wait between polls when nothing
    wakes the loop earlier (EMR: seconds; local: pidfds wake it at once). Every
    transition the scheduler emits is recorded by its listener as it happens:
    one transaction each, before the loop goes on. The fabric may be unavailable
    ``patience`` seconds in a row; then a ``FabricError`` says so (the run fails,
    its cleanup runs). ``on_cancel`` is called once
    when a cancel comes; when it returns True (it terminated the cluster, which
    stops the steps), the fabric is not asked to stop them one by one.
    """
    waiter = _Waiter()
    started = last_poll = clock()
    backoff = 0.0
    retry_at = 0.0
    unavailable_since: float | None = None
    must_poll = True
    while True:
        now = clock()
        if token is not None and token.suspended:
            return False  # left as it is, for another runner to resume
        if token is not None and token.requested:
            late = cleanup_timeout is not None and token.past(cleanup_timeout)
            if token.forced or late:
                if late:
                    log.error(
                        "the run's steps did not stop within %gs of the cancel: giving up on them",
                        cleanup_timeout,
                    )
                _kill_active(scheduler, fabric)
                return False
            if not scheduler.cancelling:
                if token.signal:
                    log.warning(
                        "%s received: cancelling the run's steps (again to force exit)",
                        token.signal,
                    )
                stopped = on_cancel() if on_cancel is not None else False
                scheduler.cancel(
                    f"run interrupted ({token.signal})" if token.signal else str(token.reason),
                    now,
                    stop=not stopped,
                )
                must_poll = True
        if now >= retry_at:
            try:
                scheduler.tick(now)
                if must_poll or now - last_poll >= poll_interval(now - started):
                    last_poll = now
                    must_poll = False
                    scheduler.poll(now)
                    scheduler.tick(now)
                backoff = 0.0
                unavailable_since = None
            except FabricUnavailable as exc:
                unavailable_since = unavailable_since or now
                if now - unavailable_since > patience:
                    raise FabricError(
                        f"the {fabric.label} fabric stayed unavailable for {patience:g} s: {exc}"
                    ) from None
                backoff = min(BACKOFF_MAX, backoff * 2 or BACKOFF_START)
                retry_at = now + backoff
                log.warning("%s; trying again in %.0fs", exc, backoff)
        if scheduler.done:
            return True
        if on_wake is not None:
            on_wake(now)
        timers = [t for t in (scheduler.next_timer(), fabric.next_timer()) if t is not None]
        wake = min(
            [
                last_poll + poll_interval(now - started),
                *timers,
                *([retry_at] if retry_at > now else []),
                *([now + 1.0] if token is not None and token.requested else []),
            ]
        )
        handles = set(fabric.wait_handles())
        fds = handles.copy()
        if token is not None:
            fds.add(token.fd)
        for fd in waiter.wait(fds, max(0.0, wake - clock())):
            if token is not None and fd == token.fd:
                token.drain()
            elif fd in handles:
                must_poll = True


def _kill_active(scheduler: Scheduler, fabric: Fabric) -> None:
    active = [t.ref for t in scheduler.active if t.ref is not None]
    if not active:
        return
    try:
        fabric.kill(scheduler.cluster, active)
    except FabricError as exc:
        log.error("could not stop the run's steps on %s: %s", scheduler.cluster.id, exc)


class _Waiter:
    """Waits for any of a set of file descriptors to become readable.

    poll(2), whose registrations live in this process: the set changes by the
    difference only (a step or two per wake), at no system call. Unlike epoll,
    which forgets a descriptor when it is closed, poll looks each number up
    when it waits, so a number the fabric closed and reused at once (the next
    step's pidfd often gets the last one's) is always watched for what it is now.
    """

    def __init__(self) -> None:
        self._poll = select.poll()
        self._fds: set[int] = set()

    def wait(self, fds: set[int], timeout: float) -> list[int]:
        """The descriptors of ``fds`` that are readable (or closed, or in error),
        waiting up to ``timeout`` seconds for one."""
        if fds != self._fds:
            for fd in self._fds - fds:
                self._poll.unregister(fd)
            for fd in fds - self._fds:
                self._poll.register(fd, select.POLLIN)
            self._fds = fds
        # Rounded up: poll would return early and the loop spin until the timer.
        return [fd for fd, _ in self._poll.poll(math.ceil(timeout * 1e3))]
