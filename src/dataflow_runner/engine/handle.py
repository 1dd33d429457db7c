"""A run in progress, as the engine API hands it to a front end."""

from __future__ import annotations

import threading
from collections.abc import Callable

from dataflow_runner.engine.cancel import CancelToken
from dataflow_runner.engine.events import RunOutcome


class RunHandle:
    """A run in progress: wait for it, cancel it (from any thread)."""

    def __init__(self, run_id: str, token: CancelToken | None = None) -> None:
        self.run_id = run_id
        self.token = token or CancelToken()
        self._done = threading.Event()
        self._outcome: RunOutcome | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _start(self, target: Callable[[], RunOutcome], on_end: Callable[[], None]) -> None:
        def main() -> None:
            try:
                self._outcome = target()
            except BaseException as exc:  # handed to whoever waits
                self._error = exc
            finally:
                self.token.close()
                on_end()
                self._done.set()

        self._thread = threading.Thread(target=main, name=f"run {self.run_id}", daemon=True)
        self._thread.start()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> RunOutcome:
        """The run's outcome once it ended; the run's error if it failed to run
        (a fabric error, a store error). ``TimeoutError`` if still running."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"run {self.run_id} is still running")
        if self._error is not None:
            raise self._error
        assert self._outcome is not None
        return self._outcome

    def cancel(self, reason: str = "cancelled", *, signal: str | None = None) -> None:
        """Ask the run to stop: its steps are cancelled, it is recorded CANCELLED."""
        self.token.cancel(reason, signal=signal)

    def force(self) -> None:
        """Stop the run's steps now and end it without waiting for them."""
        self.token.force()
