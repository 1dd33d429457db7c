"""One active at a time: a named lease in the store, for the jobs that exactly one
server of a shared store may do (the scheduler; a pool manager).

The holder takes the lease row (``leases``) when it is free or expired, and
renews it (``expires_at = now + ttl``) more often than it expires; a holder
that dies stops renewing, and another takes over once ``ttl`` has passed. Take
and renew are one conditional upsert, so on PostgreSQL two servers never both
hold it; on SQLite the store's writers are serialised the same way.

What a lease guards must still be safe if a stalled holder acts after losing
it (the scheduler's tick keys are unique): a lease says who should act, not
who alone can.

>>> lease = Lease(engine, "scheduler", ttl=15)  # doctest: +SKIP
>>> lease.hold()  # take or renew; True while this process holds it  # doctest: +SKIP
True
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dataflow_runner.errors import StoreError

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine

log = logging.getLogger("dataflow_runner.server")

#: Seconds a lease lasts unless renewed.
DEFAULT_TTL = 15.0


def holder_id() -> str:
    """Who this process is, for a lease: host, pid and a random part (a pid is
    reused across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Lease:
    """See the module's docstring."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        *,
        holder: str | None = None,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.name = name
        self.holder = holder or holder_id()
        self.ttl = ttl
        self.clock = clock
        self.held = False

    def hold(self) -> bool:
        """Take the lease or renew it; whether this process holds it now. A store
        that cannot be reached means not held (another may take it meanwhile)."""
        try:
            got = self.engine.store.scheduling.take_lease(
                self.name, self.holder, now=self.clock(), ttl=self.ttl
            )
        except StoreError as exc:
            log.warning("lease %s: %s", self.name, exc)
            got = False
        if got != self.held:
            log.info("%s lease %s (%s)", "took" if got else "lost", self.name, self.holder)
        self.held = got
        return got

    def release(self) -> None:
        """Give the lease up now (a clean stop): another takes it at once."""
        if self.held:
            try:
                self.engine.store.scheduling.drop_lease(self.name, self.holder)
            except StoreError as exc:
                log.warning("lease %s could not be released: %s", self.name, exc)
        self.held = False

    def holder_now(self) -> str | None:
        """Who holds the lease now (None: nobody, or it has expired)."""
        found = self.engine.store.scheduling.lease(self.name)
        if found is None or found.expires_at < self.clock():
            return None
        return found.holder
