"""Records every task event in the store as a transition; on the local fabric the
engine's loop commits those of up to 20 ms together (``Store.batch``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dataflow_runner.config.model import Step
from dataflow_runner.engine.scheduler import EventKind, Task, TaskEvent
from dataflow_runner.store.records import AttemptRecord, StepRecord, StepState

if TYPE_CHECKING:
    from dataflow_runner.store import Store


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


class Recorder:
    """Turns scheduler events into store transitions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._open: set[tuple[str, str]] = set()  # attempts not closed yet

    def attach(self, run_id: str, step_id: str) -> None:
        """An attempt recorded by a runner that died: its end will close it."""
        self._open.add((run_id, step_id))

    def __call__(self, event: TaskEvent) -> None:
        task = event.task
        if event.kind is EventKind.SUBMITTED:
            ref = task.ref
            self.store.start_attempt(
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
            self.store.update_step(task.run_id, task.id, state=StepState.RUNNING)
            self.store.update_attempt(
                task.run_id, task.id, task.attempt, state=StepState.RUNNING, started_at=event.at
            )
        elif event.kind is EventKind.RETRYING:
            self._close(task, StepState.FAILED, event.at, final=False)
        elif task.key in self._open:
            self._close(task, task.state, event.at, final=True)
        else:
            # Finished without an attempt open: cancelled before it ran, or while
            # waiting for a retry.
            self.store.update_step(
                task.run_id, task.id, state=task.state, ended_at=event.at, reason=task.reason
            )

    def _close(self, task: Task, state: StepState, at: float, *, final: bool) -> None:
        self._open.discard(task.key)
        self.store.finish_attempt(
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
