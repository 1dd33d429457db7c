"""Records every task event in the store as a transition, one transaction each,
and turns it into the :class:`~dataflow_runner.engine.events.StepChanged` the
front ends see."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dataflow_runner.config.model import Step
from dataflow_runner.engine.events import StepChanged
from dataflow_runner.engine.scheduler import EventKind, Task, TaskEvent
from dataflow_runner.errors import StoreError
from dataflow_runner.store.records import AttemptRecord, StepRecord, StepState
from dataflow_runner.store.writer import StoreWriter

if TYPE_CHECKING:
    from dataflow_runner.store import Store
    from dataflow_runner.store.pending import PendingEnd

log = logging.getLogger("dataflow_runner")


def step_records(run_id: str, steps: Sequence[Step]) -> list[StepRecord]:
    """The steps of a new run, all PENDING."""
    return [
        StepRecord(
            run_id=run_id,
            step_id=s.id,
            position=i,
            name=s.name,
            type=s.type.value,
            state=StepState.PENDING,
            action_on_failure=s.action_on_failure,
            depends_on=tuple(s.upstream),
        )
        for i, s in enumerate(steps)
    ]


def step_changed(event: TaskEvent) -> StepChanged:
    """What the front ends are told of a scheduler event."""
    task = event.task
    finished = event.kind in (EventKind.FINISHED, EventKind.RETRYING)
    return StepChanged(
        change=event.kind.value,
        run_id=task.run_id,
        step_id=task.id,
        name=task.step.name,
        state=task.state,
        attempt=task.attempt,
        max_attempts=task.step.retries.count + 1,
        at=event.at,
        position=task.position,
        fabric_id=task.fabric_id if task.fabric_id != task.id else "",
        exit_code=task.exit_code if finished else None,
        reason=task.reason if finished else None,
        cause=task.cause.summary if task.cause and finished else None,
        cause_detail=task.cause.detail if task.cause and finished else (),
        started_at=task.started_at,
        ended_at=task.ended_at,
        retry_in=event.delay,
    )


class Recorder:
    """Turns scheduler events into store transitions."""

    def __init__(self, writer: StoreWriter) -> None:
        self.writer = writer
        self._open: set[tuple[str, str]] = set()  # attempts not closed yet

    def attach(self, run_id: str, step_id: str) -> None:
        """An attempt recorded by a runner that died: its end will close it."""
        self._open.add((run_id, step_id))

    def __call__(self, event: TaskEvent) -> None:
        task = event.task
        if event.kind is EventKind.SUBMITTED:
            ref = task.ref
            self.writer.start_attempt(
                AttemptRecord(
                    run_id=task.run_id,
                    step_id=task.id,
                    attempt=task.attempt,
                    state=task.state,
                    started_at=event.at,
                    fabric_ref=ref.to_json() if ref else {},
                    log_location=str(ref.data.get("logs", "")) if ref else "",
                )
            )
            self._open.add(task.key)
        elif event.kind is EventKind.RUNNING:
            self.writer.update_step(task.run_id, task.id, state=StepState.RUNNING)
            self.writer.update_attempt(
                task.run_id, task.id, task.attempt, state=StepState.RUNNING, started_at=event.at
            )
        elif event.kind is EventKind.RETRYING:
            self._close(task, StepState.FAILED, event.at, final=False)
        elif task.key in self._open:
            self._close(task, task.state, event.at, final=True)
        else:
            # Finished without an attempt open: cancelled before it ran, or while
            # waiting for a retry.
            self.writer.update_step(
                task.run_id, task.id, state=task.state, ended_at=event.at, reason=task.reason
            )

    def _close(self, task: Task, state: StepState, at: float, *, final: bool) -> None:
        self._open.discard(task.key)
        self.writer.finish_attempt(
            task.run_id,
            task.id,
            task.attempt,
            state,
            at=at,
            exit_code=task.exit_code,
            reason=task.reason,
            cause=task.cause.summary if task.cause else None,
            final=final,
        )


def record_pending(store: Store) -> None:
    """Record the ends that runners kept outside ``store`` because they could not
    write it (``store/pending.py``), then forget them. An end is recorded only if
    the run has not ended and nobody wrote to it since (a resume would have). The
    steps it left unfinished, which its runner stopped, end CANCELLED."""
    for end in store.pending.entries():
        run = store.reader.run(end.run_id)
        if run is not None and not run.state.finished and (run.heartbeat_at or 0.0) <= end.at:
            try:
                _record_end(store, end)
            except StoreError as exc:  # kept for the next writer; this one says why
                log.debug("could not record the end of run %s: %s", end.run_id, exc)
                continue
            log.info("Run %s recorded %s: %s", end.run_id, end.state.value, end.reason)
        store.pending.discard(end.path)


def _record_end(store: Store, end: PendingEnd) -> None:
    why = f"stopped by its runner: {end.reason}"
    running = {
        a.step_id: a.attempt for a in store.reader.attempts(end.run_id) if not a.state.finished
    }
    for step in store.reader.steps(end.run_id):
        if step.state.finished:
            continue
        attempt = running.get(step.step_id)
        if attempt is not None:
            store.writer.finish_attempt(
                end.run_id, step.step_id, attempt, StepState.CANCELLED, at=end.at, reason=why
            )
        else:
            store.writer.update_step(
                end.run_id, step.step_id, state=StepState.CANCELLED, ended_at=end.at, reason=why
            )
    store.writer.update_run(end.run_id, state=end.state, ended_at=end.at, reason=end.reason)
