"""Locks: one protocol, several backends, the Go tool's semantics.

``--lock NAME`` (hard) is released only when the run succeeds; ``--softLock
NAME`` on success or failure. A lock that is taken is exit code 17 and the
line ``lock already held at NAME``. Acquiring is atomic in every backend
(never check-then-write, as the Go tool did).
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import time
import urllib.parse
from typing import Any, Protocol

from dataflow_runner.errors import FlagError

log = logging.getLogger("dataflow_runner.locks")


class Lock(Protocol):
    name: str

    def acquire(self, owner: dict[str, Any]) -> None:
        """Take the lock or raise LockHeldError (atomic)."""

    def release(self, *, force: bool = False) -> None:
        """Release it if it is ours (any holder's with ``force``: ``unlock``)."""

    def holder(self) -> dict[str, Any] | None:
        """Who holds it (pid, host, run id, time), or None when free."""

    def unlock(self) -> dict[str, Any]:
        """``unlock``: delete it whoever holds it, only if what is there is a lock
        this tool or the Go tool wrote (``content.py``); who held it. Anything
        else is refused with a DataflowRunnerError, and nothing is deleted."""

    def keep(self) -> None:
        """Make sure the lock outlives this process (a failed run's hard lock)."""


def owner_info(run_id: str | None = None) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "run_id": run_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def holder_is_dead(holder: dict[str, Any] | None) -> bool:
    """True when the holder was a process of this host that no longer runs."""
    if not holder or not holder.get("pid") or holder.get("host") != socket.gethostname():
        return False
    from dataflow_runner.procs import pid_alive

    try:
        return not pid_alive(int(holder["pid"]))
    except ValueError:
        return False


def describe_holder(holder: dict[str, Any] | None, *, hint: bool = True) -> str:
    """`` (held by pid 42 on host since T, run r-...)``, with a hint when it is stale."""
    if not holder:
        return ""
    parts = []
    if holder.get("pid"):
        parts.append(f"pid {holder['pid']}")
    if holder.get("host"):
        parts.append(f"on {holder['host']}")
    if holder.get("time"):
        parts.append(f"since {holder['time']}")
    if holder.get("run_id"):
        parts.append(f"run {holder['run_id']}")
    text = " (held by " + " ".join(parts) + ")" if parts else ""
    if hint and holder_is_dead(holder):
        text += (
            "; that process is gone: if its run failed, release the lock with "
            "'dataflow-runner unlock'"
        )
    return text


def check_backend(backend: str | None) -> str:
    """The kind of ``--lock-backend``: ``file`` or ``etcd`` (anything else is refused,
    by a dry run too)."""
    if not backend or backend in ("file", "file://"):
        return "file"
    if not backend.startswith("etcd://"):
        raise FlagError(f"--lock-backend must be file or etcd://HOST:PORT, got {backend}")
    return "etcd"


def http_endpoint(address: str) -> tuple[str, str, dict[str, str]]:
    """A lock server's address → (its base URL, without credentials; the address
    as messages show it, its password masked; the headers that carry the
    credentials it held, as HTTP basic authentication). Its password is registered
    as a secret: whatever quotes it is masked.

    >>> http_endpoint("http://u:pw1234@consul:8500/")[:2]
    ('http://consul:8500', 'http://u:***@consul:8500')
    """
    from dataflow_runner.config.redact import SECRETS, mask_urls

    url = (address if "://" in address else f"http://{address}").rstrip("/")
    shown = mask_urls(url)
    SECRETS.add_url(url)
    parts = urllib.parse.urlsplit(url)
    headers: dict[str, str] = {}
    if parts.username is not None or parts.password is not None:
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        url = urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return url, shown, headers


def make_lock(name: str, consul: str | None = None, backend: str | None = None) -> Lock:
    """The lock named ``name``: a Consul key when ``consul`` is given, an etcd key
    when ``backend`` is ``etcd://host:port``, else a file."""
    if consul:
        from dataflow_runner.locks.consul import ConsulLock

        return ConsulLock(consul, name)
    if backend and check_backend(backend) == "etcd":
        from dataflow_runner.locks.etcd import EtcdLock

        return EtcdLock.from_backend(backend, name)
    from dataflow_runner.locks.file import FileLock

    return FileLock(name)


class LockHold:
    """A lock held for a run, released by the run's outcome: a soft lock whatever
    it was, a hard lock only when the run succeeded (as in the Go tool).

    >>> hold = LockHold.take("nightly", soft=False, run_id="r-1")  # doctest: +SKIP
    >>> hold.release(success=False)  # doctest: +SKIP  (kept: unlock it by hand)
    """

    def __init__(self, lock: Lock, *, soft: bool, given: str) -> None:
        self.lock = lock
        self.soft = soft
        self._given = given  # the name as the user gave it (for the unlock hint)
        self._released = False

    @property
    def name(self) -> str:
        return self.lock.name

    @classmethod
    def take(
        cls,
        name: str,
        *,
        soft: bool,
        consul: str | None = None,
        backend: str | None = None,
        run_id: str | None = None,
        take_over: bool = False,
    ) -> LockHold:
        """Take the lock or raise LockHeldError (exit code 17). ``take_over``: a
        resumed run takes its own lock back from its dead runner."""
        lock = make_lock(name, consul, backend)
        if take_over and run_id and (lock.holder() or {}).get("run_id") == run_id:
            lock.release(force=True)
        lock.acquire(owner_info(run_id))
        log.debug("lock %s acquired", lock.name)
        return cls(lock, soft=soft, given=name)

    def release(self, *, success: bool) -> None:
        if self._released:
            return
        self._released = True
        if success or self.soft:
            _release(self.lock)
            return
        try:
            self.lock.keep()
        except Exception as exc:
            log.error("could not keep lock %s: %s", self.lock.name, exc)
        log.warning(
            "hard lock %s is kept because the run did not succeed; release it "
            "with: dataflow-runner unlock %s",
            self.lock.name,
            self._given,
        )


def _release(lock: Lock) -> None:
    try:
        lock.release()
        log.debug("lock %s released", lock.name)
    except Exception as exc:  # a lock we cannot release must not hide the run's outcome
        log.error("could not release lock %s: %s", lock.name, exc)
