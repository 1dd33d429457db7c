"""``resume RUN``: continue a run whose runner died (SIGKILL, a reboot).

From the store: COMPLETED, FAILED and CANCELLED steps keep their outcome;
EMR steps that were submitted are re-attached by their stored ids, and a step
the dead runner may have submitted without recording it is found on the
cluster by name, so no step is ever submitted twice; local steps that were
running died with their runner (their process groups are killed if any
survived): they count as failed attempts with the reason "runner died" and are
retried per their policy. A local process the dead runner started but had not
recorded yet (the loop commits what it did every 20 ms) is found by the run's
and step's ids in its environment and stopped, so it never runs beside the
step's next attempt; one that already ended left its attempt's log files, and
counts as an attempt that died with the runner, so a step that ran is not run
again behind the user's back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dataflow_runner.engine.recorder import Recorder
from dataflow_runner.engine.scheduler import Scheduler
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.fabrics.base import ClusterRef, StepRef
from dataflow_runner.store.records import AttemptRecord, RunRecord, StepState

if TYPE_CHECKING:
    from dataflow_runner.config.model import Playbook
    from dataflow_runner.store import Store

log = logging.getLogger("dataflow_runner")

Restore = Callable[[Scheduler, Recorder, float], None]


def check_resumable(run: RunRecord, book: Playbook, store: Store) -> None:
    """The run must have lost its runner, and the playbook must be the same one."""
    from dataflow_runner.cli.history import run_state

    state = run_state(run)
    if run.state.finished:
        raise DataflowRunnerError(f"run {run.id} already ended: {run.state.value}")
    if state != "DEAD":
        raise DataflowRunnerError(
            f"run {run.id} is still {state} (its runner, pid {run.pid} on {run.host}, is "
            "alive): resume is for a run whose runner died"
        )
    recorded = [s.step_id for s in store.get_steps(run.id)]
    if recorded != [s.id for s in book.steps]:
        raise DataflowRunnerError(
            f"the playbook {run.playbook_path} changed since run {run.id} started "
            f"(steps then: {', '.join(recorded)}): resume needs the same steps"
        )


def plan(store: Store, run: RunRecord, book: Playbook, fabric: Any, cluster: ClusterRef) -> Restore:
    """How to rebuild the run's tasks on ``cluster`` (see the module's docstring)."""
    from dataflow_runner.fabrics.local.fabric import kill_leftover, stop_unrecorded

    steps = {s.step_id: s for s in store.get_steps(run.id)}
    last: dict[str, AttemptRecord] = {}
    for record_ in store.get_attempts(run.id):
        last[record_.step_id] = record_
    finished: dict[str, tuple[StepState, int]] = {}
    attached: list[StepRef] = []
    died: dict[str, int] = {}
    tried: dict[str, int] = {}
    unsent: list[str] = []
    for step in book.steps:
        record = steps[step.id]
        if record.state.finished:
            finished[step.id] = (record.state, record.attempts)
            continue
        attempt = last.get(step.id)
        if attempt is None:
            unsent.append(step.id)
        elif attempt.state.finished:
            tried[step.id] = attempt.attempt  # between attempts: the next one comes
        elif fabric.name == "emr" and attempt.fabric_ref.get("fabric_id", "").startswith("s-"):
            attached.append(
                StepRef(
                    run.id,
                    step.id,
                    attempt.attempt,
                    fabric_id=str(attempt.fabric_ref["fabric_id"]),
                    data={"cluster": cluster.id},
                )
            )
        else:
            ref = attempt.fabric_ref
            if kill_leftover(ref.get("pid"), run.id, step.id):
                log.warning("Step '%s' was still running without its runner: stopped it", step.id)
            died[step.id] = attempt.attempt
    if fabric.name == "local":
        # What the recorded pids missed: a process started as the runner died, before
        # the loop's commit recorded it (or one that left its step's process group).
        unfinished = [s.id for s in book.steps if s.id not in finished]
        stopped = set(stop_unrecorded(run.id, unfinished))
        for step_id in sorted(stopped - died.keys()):
            log.warning(
                "Step '%s' had a process the store did not record (its runner died "
                "as it started it): stopped it",
                step_id,
            )
        # Still running, it was stopped and runs again; one that had ended is not.
        ended = [s for s in unfinished if s not in stopped and s not in died]
        for step_id, number in _ended_unrecorded(store, run, fabric, ended, tried):
            died[step_id] = number
            tried.pop(step_id, None)
            if step_id in unsent:
                unsent.remove(step_id)
            log.warning(
                "Step '%s' ran attempt %d, which the store did not record (its runner "
                "died first): counted as died with the runner",
                step_id,
                number,
            )
    adopted = _reconcile(store, run, book, fabric, cluster, unsent, attached)

    def restore(scheduler: Scheduler, recorder: Recorder, now: float) -> None:
        for ref in [*attached, *adopted]:
            recorder.attach(run.id, ref.step_id)
        for step_id in died:
            recorder.attach(run.id, step_id)
        scheduler.restore(
            run.id,
            book.steps,
            now,
            finished=finished,
            attached=[*attached, *adopted],
            died=died,
            tried=tried,
        )
        log.info(
            "Resuming run %s: %d steps done, %d re-attached, %d died with the runner, %d to run",
            run.id,
            len(finished),
            len(attached) + len(adopted),
            len(died),
            len(book.steps) - len(finished) - len(attached) - len(adopted) - len(died),
        )

    return restore


def _ended_unrecorded(
    store: Store, run: RunRecord, fabric: Any, step_ids: list[str], tried: dict[str, int]
) -> list[tuple[str, int]]:
    """Local attempts the dead runner started without recording them: their log
    files exist (created before the process). Each is recorded now, as started
    when its logs were, so that its end can be recorded like any other's."""
    from dataflow_runner.fabrics.local.fabric import log_files, log_prefix

    found = []
    for step_id in step_ids:
        attempt = tried.get(step_id, 0) + 1
        prefix = log_prefix(fabric.state_dir, run.id, step_id, attempt)
        times = [p.stat().st_mtime for p in log_files(prefix) if p.exists()]
        if not times:
            continue
        store.start_attempt(
            AttemptRecord(
                run.id,
                step_id,
                attempt,
                StepState.RUNNING,
                started_at=min(times),
                fabric_ref={"fabric_id": "-", "attempt": attempt, "pid": None, "logs": prefix},
                log_location=prefix,
            )
        )
        found.append((step_id, attempt))
    return found


def _reconcile(
    store: Store,
    run: RunRecord,
    book: Playbook,
    fabric: Any,
    cluster: ClusterRef,
    unsent: list[str],
    attached: list[StepRef],
) -> list[StepRef]:
    """EMR steps the dead runner submitted but did not record, found by name."""
    if fabric.name != "emr" or not unsent:
        return []
    claimed = {ref.fabric_id for ref in attached}
    for attempt in store.get_attempts(run.id):
        claimed.add(str(attempt.fabric_ref.get("fabric_id", "")))
    on_cluster = [
        s
        for s in fabric.steps_since(cluster, (run.started_at or run.created_at) - 60)
        if s["Id"] not in claimed
    ]
    names = {s.id: s.name for s in book.steps}
    adopted: list[StepRef] = []
    for step_id in unsent:
        match = next((s for s in on_cluster if s.get("Name") == names[step_id]), None)
        if match is None:
            continue
        on_cluster.remove(match)
        ref = StepRef(run.id, step_id, 1, fabric_id=str(match["Id"]), data={"cluster": cluster.id})
        store.start_attempt(
            AttemptRecord(
                run.id,
                step_id,
                1,
                StepState.PENDING,
                started_at=time.time(),
                fabric_ref=ref.to_json(),
            )
        )
        log.warning(
            "Step '%s' was submitted as %s before the runner died: re-attached",
            step_id,
            match["Id"],
        )
        adopted.append(ref)
    return adopted
