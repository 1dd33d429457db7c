"""Cancelling a run from any thread: a flag, and a file descriptor that the run's
loop waits on beside its steps, so a cancel wakes it at once.

The first :meth:`CancelToken.cancel` asks the run to stop: its steps are
cancelled (with their grace period), nothing new starts, and the run is
recorded CANCELLED once everything is accounted for. :meth:`CancelToken.force`
(a second Ctrl-C) stops the steps at once and ends the run without waiting.
Signals are only translated into these calls, at the command line's edge.
:meth:`CancelToken.suspend` (a server that stops) is none of these: the run
stops being driven, its steps go on and nothing is recorded, so that the next
runner resumes it (``engine/resume.py``) as if this one had died.

>>> token = CancelToken()
>>> token.cancel("interrupted by SIGINT", signal="SIGINT")
>>> token.requested, token.reason
(True, 'interrupted by SIGINT')
"""

from __future__ import annotations

import contextlib
import os
import threading
import time


class RunSuspended(Exception):
    """A run left to be resumed by another runner (:meth:`CancelToken.suspend`)."""


class CancelToken:
    """See the module's docstring. Safe to call from any thread (or a signal handler)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        #: The signal that asked for it (``SIGINT``...), None when a caller did.
        self.signal: str | None = None
        self.forced = False
        self.suspended = False
        #: When the first cancel came (``time.monotonic()``), None before.
        self.requested_at: float | None = None
        self._event = threading.Event()
        self._forced = threading.Event()
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    @property
    def fd(self) -> int:
        """Readable once the token is cancelled (or forced)."""
        return self._r

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def cancel(self, reason: str = "cancelled", *, signal: str | None = None) -> None:
        """Ask the run to stop (the first reason is kept)."""
        if self.reason is None:
            self.reason, self.signal = reason, signal
            self.requested_at = time.monotonic()
        self._notify()

    def force(self) -> None:
        """Stop the steps now and end the run without waiting for them."""
        if self.reason is None:
            self.reason = "forced to stop"
            self.requested_at = time.monotonic()
        self.forced = True
        self._forced.set()
        self._notify()

    def suspend(self) -> None:
        """Stop driving the run without cancelling its steps or recording its end:
        it stays RUNNING, and is resumed once this process has gone."""
        self.suspended = True
        self._notify()

    def _notify(self) -> None:
        self._event.set()
        with contextlib.suppress(OSError):
            os.write(self._w, b"!")

    def past(self, seconds: float) -> bool:
        """Whether ``seconds`` have gone by since the first cancel."""
        return self.requested_at is not None and time.monotonic() - self.requested_at >= seconds

    def drain(self) -> None:
        """Read what :meth:`cancel` wrote, so the descriptor is quiet until the next call."""
        with contextlib.suppress(OSError):
            while os.read(self._r, 512):
                pass

    def sleep(self, seconds: float, *, until_forced: bool = False) -> bool:
        """Wait up to ``seconds``; True when the token was cancelled meanwhile (or
        before). ``until_forced``: only a forced stop ends the wait (a cleanup that
        must go on after a first Ctrl-C)."""
        event = self._forced if until_forced else self._event
        return event.wait(max(0.0, seconds))

    def close(self) -> None:
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)
