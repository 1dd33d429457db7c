"""The one place that waits: on the fabric's handles, the scheduler's timers,
the poll interval and signals, whichever comes first.

Ctrl-C and SIGTERM do not kill the runner: they ask the scheduler to stop
(cancel what runs, cancel what waits) and the loop goes on until everything
is accounted for, so the run is recorded and nothing is left running. A
second Ctrl-C is honoured at once (:class:`ForcedExit`) once the cleanup
request was sent.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import FrameType

from dataflow_runner.engine.scheduler import Scheduler
from dataflow_runner.errors import FabricUnavailable
from dataflow_runner.fabrics.base import Fabric

log = logging.getLogger("dataflow_runner.engine")

#: Retry delays (seconds) when the fabric is unavailable: throttled, network, 5xx.
BACKOFF_START, BACKOFF_MAX = 1.0, 60.0

#: How long the loop may hold a fabric's transitions before committing them
#: (local steps: a run of short steps costs one commit per window, not per step).
GROUP_COMMIT_SECONDS = 0.02


class ForcedExit(BaseException):
    """A second interrupt: leave now (the cleanup request was already sent)."""


class Interrupts:
    """SIGINT/SIGTERM as a flag plus a file descriptor the loop can wait on."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self.count = 0
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    @property
    def fd(self) -> int:
        return self._r

    @property
    def requested(self) -> bool:
        return self.signal is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signal).name if self.signal else ""

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.count += 1
        self.signal = signum
        with contextlib.suppress(OSError):
            os.write(self._w, b"!")
        if self.count > 1 and signum == signal.SIGINT:
            raise ForcedExit()

    def drain(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._r, 512):
                pass

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Handle SIGINT and SIGTERM while the block runs (main thread only)."""
        previous = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, self._handle)
        except ValueError:  # not the main thread: signals stay as they are
            pass
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.close()


def drive(
    scheduler: Scheduler,
    fabric: Fabric,
    *,
    interrupts: Interrupts | None = None,
    poll_interval: Callable[[float], float] = lambda _elapsed: 1.0,
    on_wake: Callable[[float], None] | None = None,
    extra_handles: Callable[[], list[int]] | None = None,
    on_extra: Callable[[int], None] | None = None,
    stop_when_done: Callable[[], bool] | None = None,
    batch: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext,
    clock: Callable[[], float] = time.time,
) -> None:
    """Run ``scheduler`` until every task is finished.

    ``poll_interval(elapsed)`` is how long to wait between polls when nothing
    wakes the loop earlier (EMR: seconds; local: pidfds wake it at once).
    ``extra_handles``/``on_extra`` let a local cluster's agent serve its socket
    from the same loop. On a fabric that ``groups_commits``, the loop writes
    inside a ``batch()`` (the store's) that it keeps open across wakes and
    commits at most :data:`GROUP_COMMIT_SECONDS` after opening it, before
    serving a request (``on_extra``) and when it returns: a run of short steps
    costs one commit per window instead of one per step, and each commit comes
    after the new steps were started, so a finished step's slot is refilled
    first. What a crash loses is the last window's transitions; ``resume``
    stops an unrecorded process still running, and counts one that ended (it
    left its log files) as an attempt that died with its runner, so a step that
    ran is not run again as if it never had.
    """
    commits = _GroupCommit(batch if fabric.groups_commits else None)
    try:
        _drive(
            scheduler,
            fabric,
            commits,
            interrupts=interrupts,
            poll_interval=poll_interval,
            on_wake=on_wake,
            extra_handles=extra_handles,
            on_extra=on_extra,
            stop_when_done=stop_when_done,
            clock=clock,
        )
    finally:
        commits.commit()  # what happened is recorded, also when leaving by an exception


def _drive(
    scheduler: Scheduler,
    fabric: Fabric,
    commits: _GroupCommit,
    *,
    interrupts: Interrupts | None,
    poll_interval: Callable[[float], float],
    on_wake: Callable[[float], None] | None,
    extra_handles: Callable[[], list[int]] | None,
    on_extra: Callable[[int], None] | None,
    stop_when_done: Callable[[], bool] | None,
    clock: Callable[[], float],
) -> None:
    waiter = _Waiter()
    started = last_poll = clock()
    backoff = 0.0
    retry_at = 0.0
    must_poll = True
    done = stop_when_done or (lambda: scheduler.done)
    while True:
        now = clock()
        commits.open(now)
        if interrupts is not None and interrupts.requested and not scheduler.cancelling:
            log.warning(
                "%s received: cancelling the run's steps (again to force exit)",
                interrupts.name,
            )
            scheduler.cancel(f"run interrupted ({interrupts.name})", now)
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
            except FabricUnavailable as exc:
                backoff = min(BACKOFF_MAX, backoff * 2 or BACKOFF_START)
                retry_at = now + backoff
                log.warning("%s; trying again in %.0fs", exc, backoff)
        if done():
            return
        if on_wake is not None:
            on_wake(now)
        timers = [t for t in (scheduler.next_timer(), fabric.next_timer()) if t is not None]
        commit_at = commits.due(clock())
        wake = min(
            [
                last_poll + poll_interval(now - started),
                *timers,
                *([retry_at] if retry_at > now else []),
                *([commit_at] if commit_at is not None else []),
            ]
        )
        timeout = max(0.0, wake - clock())
        handles = set(fabric.wait_handles())
        fds = handles.copy()
        if interrupts is not None:
            fds.add(interrupts.fd)
        if extra_handles is not None:
            fds.update(extra_handles())
        for fd in waiter.wait(fds, timeout):
            if interrupts is not None and fd == interrupts.fd:
                interrupts.drain()
            elif fd in handles:
                must_poll = True
            elif on_extra is not None:
                commits.commit()  # a request sees every transition so far
                on_extra(fd)
                must_poll = True


class _GroupCommit:
    """The store's batch the loop keeps open across wakes: committed once it is
    :data:`GROUP_COMMIT_SECONDS` old (:meth:`due` commits it then, and says when
    to wake for it while it holds writes), or when :meth:`commit` is called.
    Without a batch (a fabric whose steps do not come and go by the hundred a
    second, EMR), every write is committed as it is made."""

    def __init__(self, batch: Callable[[], AbstractContextManager[object]] | None) -> None:
        self._batch = batch
        self._open: AbstractContextManager[object] | None = None
        self._opened_at = 0.0

    def open(self, now: float) -> None:
        if self._batch is not None and self._open is None:
            block = self._batch()
            block.__enter__()
            self._open, self._opened_at = block, now

    def due(self, now: float) -> float | None:
        """Commit the batch if its time came; else when it must be committed if it
        holds writes (None: nothing to commit)."""
        if self._open is None or not getattr(self._open, "pending", True):
            return None
        deadline = self._opened_at + GROUP_COMMIT_SECONDS
        if now < deadline:
            return deadline
        self.commit()
        return None

    def commit(self) -> None:
        block, self._open = self._open, None
        if block is not None:
            block.__exit__(None, None, None)


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
