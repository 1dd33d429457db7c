"""Records every task event in the store as a transition, one transaction each,
and turns it into the :class:`~dataflow_runner.engine.events.StepChanged` the
front ends see."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataflow_runner.config.model import ClusterConfig, Playbook, Step, to_doc
from dataflow_runner.config.redact import redact
from dataflow_runner.engine.events import StepChanged
from dataflow_runner.engine.scheduler import EventKind, Task, TaskEvent
from dataflow_runner.errors import StoreError
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)
from dataflow_runner.store.writer import StoreWriter

if TYPE_CHECKING:
    from dataflow_runner.data.plan import Plan as DataPlan
    from dataflow_runner.engine.request import RunRequest
    from dataflow_runner.fabrics.base import ClusterRef
    from dataflow_runner.store import Store
    from dataflow_runner.store.pending import PendingEnd

log = logging.getLogger("dataflow_runner")


def document(model: ClusterConfig | Playbook | None) -> dict[str, Any]:
    """A config as stored: JSON-able, with anything secret masked."""
    if model is None:
        return {}
    redacted: dict[str, Any] = redact(to_doc(model, exclude_defaults=True))
    return redacted


def this_host() -> tuple[int, str]:
    """The runner's pid and host name, as a run records them."""
    return os.getpid(), socket.gethostname()


def launched_cluster(ref: ClusterRef, fabric: str, config: ClusterConfig) -> ClusterRecord:
    """A cluster just launched (STARTING), as the store keeps it."""
    now = time.time()
    return ClusterRecord(
        id=ref.id,
        fabric=fabric,
        name=config.name,
        state=ClusterState.STARTING,
        created_at=now,
        updated_at=now,
        pid=ref.data.get("pid"),
        host=this_host()[1] if ref.data.get("pid") else "",
        endpoint=str(ref.data.get("endpoint", "")),
        config_doc=document(config),
    )


def run_record(
    request: RunRequest,
    run_id: str,
    fabric: str,
    level: int,
    book: Playbook,
    data: DataPlan | None,
) -> RunRecord:
    """A new run as the store keeps it: what it runs, where, for which partitions,
    with what options (to resume it), anything secret masked."""
    now = time.time()
    pid, host = this_host()
    lock = request.lock
    options: dict[str, Any] = {"concurrency": level, "fabric": fabric}
    if request.concurrency is not None:
        options["concurrency_set"] = request.concurrency
    keys = [p.utc for p in data.partitions] if data is not None else []
    if data is not None and data.partitions:
        options["partitions"] = [p.key for p in data.partitions]
    if request.force or request.force_steps:
        options.update(force=request.force, force_steps=list(request.force_steps))
    if lock is not None:
        options.update(
            lock=lock.name, soft_lock=lock.soft, consul=lock.consul, lock_backend=lock.backend
        )
    if request.detach:
        options["async"] = True
    return RunRecord(
        id=run_id,
        kind=request.kind,
        playbook=book.name,
        fabric=fabric,
        state=RunState.RUNNING,
        created_at=now,
        started_at=now,
        heartbeat_at=now,
        playbook_path=os.path.abspath(request.playbook_path) if request.playbook_path else "",
        cluster_name=request.cluster.name if request.cluster else request.cluster_id or "",
        cluster_config_path=(os.path.abspath(request.cluster_path) if request.cluster_path else ""),
        cluster_id=request.cluster_id,
        pid=pid,
        host=host,
        variables=redact(dict(request.variables)),
        playbook_doc=document(book),
        cluster_doc=document(request.cluster),
        options=options,
        partition_first=min(keys) if keys else None,
        partition_last=max(keys) if keys else None,
    )


def step_records(
    run_id: str, steps: Sequence[Step], plan: DataPlan | None = None
) -> list[StepRecord]:
    """The steps of a new run: PENDING, or as a data-aware run's plan settled them
    (SKIPPED, FAILED) with why, each with its partition."""
    settled = plan.settled if plan is not None else {}
    out = []
    for i, s in enumerate(steps):
        state, reason = settled.get(s.id, (StepState.PENDING, None))
        out.append(
            StepRecord(
                run_id=run_id,
                step_id=s.id,
                position=i,
                name=s.name,
                type=s.type.value,
                state=state,
                action_on_failure=s.action_on_failure,
                depends_on=tuple(s.upstream),
                reason=reason,
                partition=plan.partition_key(s.id) if plan is not None else None,
            )
        )
    return out


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
