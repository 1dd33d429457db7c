"""Sensors: steps that wait for their external inputs to appear.

A run's steps that set ``waitForInputs`` and whose inputs were missing when the
run was planned are *held* by the scheduler. One :class:`Sensors` per run checks
the inputs of all of them together, in one bulk round of existence checks, on the
scheduler's timer: no process, no thread per step. A step is released once all
its inputs exist, and fails with ``input X did not appear within N s`` when its
``timeoutSeconds`` (counted from the start of the run) pass first.

Each step is checked ``pokeSeconds`` after the run starts, then less and less
often (half again as long each time, up to ten minutes, or ``pokeSeconds`` when
that is longer), and once more at its timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataflow_runner.errors import FabricError, FabricUnavailable

if TYPE_CHECKING:
    from dataflow_runner.data.plan import Exists, Wait
    from dataflow_runner.engine.scheduler import Scheduler, Task
    from dataflow_runner.fabrics.base import Target

log = logging.getLogger("dataflow_runner")

#: How far apart two checks of a step's inputs may grow (or ``pokeSeconds`` when longer).
MAX_POKE = 600.0
GROWTH = 1.5


@dataclass
class _Watch:
    task: Task
    missing: tuple[Target, ...]
    timeout: float
    deadline: float
    poke: float
    interval: float
    next_at: float


class Sensors:
    """The watcher (``Scheduler.watchers``) of one run's held steps."""

    def __init__(
        self,
        scheduler: Scheduler,
        run_id: str,
        waits: Mapping[str, Wait],
        exists: Exists,
        started: float,
    ) -> None:
        self.scheduler = scheduler
        self.exists = exists
        self._watches: dict[str, _Watch] = {}
        for step_id, wait in waits.items():
            task = scheduler.task(run_id, step_id)
            self._watches[step_id] = _Watch(
                task,
                wait.inputs,
                wait.timeout_seconds,
                started + wait.timeout_seconds,
                wait.poke_seconds,
                wait.poke_seconds,
                min(started + wait.poke_seconds, started + wait.timeout_seconds),
            )
            log.info(
                "Step '%s' waits for %s (up to %g s)",
                task.step.name,
                _names(wait.inputs),
                wait.timeout_seconds,
            )

    def next_timer(self) -> float | None:
        self._forget_finished()
        return min((w.next_at for w in self._watches.values()), default=None)

    def __call__(self, now: float) -> None:
        """One round: the missing inputs of every waiting step, checked together."""
        self._forget_finished()
        watches = list(self._watches.values())
        if not watches:
            return
        wanted = {t.uri: t for w in watches for t in w.missing}
        try:
            found = self.exists(list(wanted.values()))
        except FabricUnavailable:
            raise  # the loop backs off and ticks again
        except FabricError as exc:
            log.warning("could not check the inputs steps wait for: %s", exc)
            found = {}
        for watch in watches:
            watch.missing = tuple(t for t in watch.missing if found.get(t.uri) is False)
            step_id = watch.task.id
            if not watch.missing:
                del self._watches[step_id]
                log.info("Step '%s': its inputs are there", watch.task.step.name)
                self.scheduler.release(watch.task)
            elif now >= watch.deadline:
                del self._watches[step_id]
                self.scheduler.fail(
                    watch.task,
                    f"input {watch.missing[0].uri} did not appear within {watch.timeout:g} s",
                    now,
                )
            elif now >= watch.next_at:
                watch.interval = min(watch.interval * GROWTH, max(MAX_POKE, watch.poke))
                watch.next_at = min(now + watch.interval, watch.deadline)

    def _forget_finished(self) -> None:
        """A step cancelled meanwhile waits no more."""
        for step_id in [k for k, w in self._watches.items() if w.task.state.finished]:
            del self._watches[step_id]


def _names(targets: tuple[Target, ...]) -> str:
    shown = ", ".join(t.uri for t in targets[:3])
    return shown + (f" and {len(targets) - 3} more" if len(targets) > 3 else "")
