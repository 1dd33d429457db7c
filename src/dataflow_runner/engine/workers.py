"""A server's workers: one thread that keeps up to N of the store's runs going in
this process (``engine/queue.py`` says how runs are claimed and taken over).

Each round it forgets the runs that ended, passes on the cancels that another
server was asked for, takes over a dead server's runs, and claims QUEUED runs
while it has room. :meth:`Workers.wake` starts a round at once (a run was just
accepted); otherwise one comes every ``interval`` seconds.

:meth:`Workers.stop` is a server's shutdown: no more runs are taken, and the
runs it executes are suspended (``CancelToken.suspend``): their steps go on,
nothing is recorded, and the next server resumes them once this process has
gone (on this host at once, its pid being gone; elsewhere once their lease,
the heartbeat, is stale).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dataflow_runner.engine.cancel import RunSuspended
from dataflow_runner.engine.events import Event, Listener
from dataflow_runner.engine.handle import RunHandle
from dataflow_runner.engine.payload import WrongKey
from dataflow_runner.engine.queue import RunQueue

log = logging.getLogger("dataflow_runner.server")

#: Seconds between two looks for dead servers' runs.
TAKEOVER_INTERVAL = 2.0


class Workers:
    """See the module's docstring."""

    def __init__(
        self,
        queue: RunQueue,
        *,
        slots: int,
        on_event: Listener | None = None,
        interval: float = 0.5,
    ) -> None:
        self.queue = queue
        self.slots = max(1, slots)
        self.on_event: Callable[[Event], None] = on_event or (lambda _e: None)
        self.interval = interval
        self._runs: dict[str, RunHandle] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_takeover = 0.0
        #: Why this server takes no runs (it cannot decrypt its store's requests).
        self.locked_out: str | None = None

    # --- control -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="workers", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def running(self, run_id: str) -> bool:
        """Whether this server executes ``run_id`` now."""
        with self._lock:
            handle = self._runs.get(run_id)
        return handle is not None and not handle.done

    def cancel(self, run_id: str, reason: str) -> bool:
        """Cancel a run this server executes; False when it does not."""
        with self._lock:
            handle = self._runs.get(run_id)
        if handle is None or handle.done:
            return False
        handle.cancel(reason)
        return True

    @property
    def busy(self) -> int:
        with self._lock:
            return sum(1 for h in self._runs.values() if not h.done)

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Take no more runs and suspend the ones going (see the module's docstring);
        the ids of the runs left to the next server."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            handles = [h for h in self._runs.values() if not h.done]
        for handle in handles:
            handle.token.suspend()
        deadline = time.monotonic() + timeout
        for handle in handles:
            try:
                handle.wait(max(0.0, deadline - time.monotonic()))
            except RunSuspended:
                pass
            except TimeoutError:
                log.warning("run %s did not stop being driven in time", handle.run_id)
            except Exception as exc:
                log.warning("run %s ended with an error: %s", handle.run_id, exc)
        return [h.run_id for h in handles]

    # --- the loop ------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._round()
            except WrongKey as exc:
                self.locked_out = str(exc)
                log.error("this server takes no runs: %s", exc)
            except Exception as exc:  # the store may be away for a while: try again
                log.warning("the workers could not look at the queue: %s", exc)
                log.debug("workers' round", exc_info=True)
            self._wake.wait(self.interval)
            self._wake.clear()

    def _round(self) -> None:
        with self._lock:
            for run_id in [i for i, h in self._runs.items() if h.done]:
                del self._runs[run_id]
            ids = list(self._runs)
        for run_id, reason in self.queue.cancels_asked(ids).items():
            self.cancel(run_id, reason)
        if self.locked_out is not None:
            return
        now = time.monotonic()
        if now - self._last_takeover >= TAKEOVER_INTERVAL and self._room():
            self._last_takeover = now
            for handle in self.queue.take_over(self.on_event, limit=self._free()):
                self._add(handle)
        while self._room() and not self._stopping.is_set():
            claimed = self.queue.claim()
            if claimed is None:
                break
            started = self.queue.start(claimed, self.on_event)
            if started is not None:
                self._add(started)

    def _free(self) -> int:
        return self.slots - self.busy

    def _room(self) -> bool:
        return self._free() > 0

    def _add(self, handle: RunHandle) -> None:
        with self._lock:
            self._runs[handle.run_id] = handle
