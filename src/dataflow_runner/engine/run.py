"""A run's lifecycle, the same for every fabric and every front end: prepare the
cluster, drive the steps, record the outcome, clean up.

:class:`RunJob` is what a run thread executes once :class:`~dataflow_runner.
engine.api.Engine` has validated the request, taken the lock and recorded the
run. Whatever happens (success, failure, a cancel, an exception), it leaves
nothing running that the run started: a transient cluster is terminated, the
steps of an attached run are cancelled, the lock follows the Go tool's rule.

When the store cannot be written (the disk is full, the database is gone), the
run cannot go on unrecorded: the transition that failed stops it, its steps are
stopped as for an error, and its end (FAILED, with the store's reason), which
the store cannot take either, is kept elsewhere (``store/pending.py``) until
the next engine that writes the store records it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataflow_runner import logfiles
from dataflow_runner.config.model import ClusterConfig, Playbook
from dataflow_runner.engine import lifecycle
from dataflow_runner.engine.cancel import CancelToken, RunSuspended
from dataflow_runner.engine.events import Listener, RunFinished, RunOutcome, RunStarted
from dataflow_runner.engine.loop import drive
from dataflow_runner.engine.recorder import Recorder, document, step_changed
from dataflow_runner.engine.scheduler import EventKind, Scheduler, Task, TaskEvent
from dataflow_runner.errors import FabricError, StoreError
from dataflow_runner.fabrics.base import ClusterRef, ClusterStatus, Fabric, StepRef, Submission
from dataflow_runner.store.records import (
    ClusterRecord,
    ClusterState,
    RunKind,
    RunState,
    StepState,
)

if TYPE_CHECKING:
    from dataflow_runner.data.plan import Plan as DataPlan
    from dataflow_runner.locks import LockHold
    from dataflow_runner.store.pending import Pending
    from dataflow_runner.store.writer import StoreWriter

log = logging.getLogger("dataflow_runner")

HEARTBEAT_SECONDS = 10.0
#: How long ``--log-failed-steps`` waits for a fabric to make a step's logs available.
LOG_WAIT_SECONDS = 600.0
#: How long the cleanup after a cancel or a failure may take (``--cleanup-timeout``).
CLEANUP_TIMEOUT = 60.0
#: How long a finished transient run waits for its cluster to end (EMR: minutes).
TERMINATION_TIMEOUT = 1800.0

#: Rebuilds a resumed run's tasks in a new scheduler (see ``engine/resume.py``).
Restore = Callable[[Scheduler, Recorder, ClusterRef, float], None]


def new_run_id(now: float | None = None) -> str:
    """Sortable and unique: ``r-20261122-153012-8f3a1c``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now or time.time()))
    return f"r-{stamp}-{secrets.token_hex(3)}"


@dataclass
class RunJob:
    """One run's execution (see the module's docstring)."""

    run_id: str
    kind: RunKind
    playbook: Playbook
    cluster: ClusterConfig | None
    fabric: Fabric
    concurrency: int
    writer: StoreWriter
    token: CancelToken
    emit: Listener
    poll_interval: Callable[[float], float]
    #: The fabric is this run's (closed at its end), not a cluster's shared one.
    owns_fabric: bool = True
    #: An attached run: the cluster it runs on.
    cluster_ref: ClusterRef | None = None
    #: A resumed run: finds (or launches) its cluster, and rebuilds its tasks.
    find_cluster: Callable[[], ClusterRef] | None = None
    restore: Restore | None = None
    #: A data-aware run: the steps settled before it starts, and its sensors.
    plan: DataPlan | None = None
    detach: bool = False
    log_failed_steps: bool = False
    lock: LockHold | None = None
    ordered: bool = False
    cleanup_timeout: float = CLEANUP_TIMEOUT
    patience: float = lifecycle.PATIENCE
    #: Where the run's end is kept when the store cannot take it.
    pending: Pending | None = None
    #: Where the run's local files are (the secrets of fetched logs are recorded there).
    state_dir: Path | None = None
    _terminated: bool = field(default=False, repr=False)
    #: The store could not be written: nothing more is written to it.
    _store_error: StoreError | None = field(default=None, repr=False)
    _kept: str = field(default="", repr=False)  # what became of the run's end then
    _scheduler: Scheduler | None = field(default=None, repr=False)
    _recorder: Recorder | None = field(default=None, repr=False)

    # --- the lifecycle -------------------------------------------------------------

    def __call__(self) -> RunOutcome:
        try:
            cluster, refs = lifecycle.with_backoff(
                self._start,
                self.token,
                deadline=time.monotonic() + self.patience,
                what="could not start the run",
            )
        except BaseException as exc:
            self._clean_up(None, None, exc)
            raise
        try:
            outcome = self._follow(cluster, refs)
        except RunSuspended:
            raise  # nothing stopped, nothing recorded: the next runner resumes it
        except StoreError as exc:
            self._clean_up(cluster, None, exc)
            raise StoreError(f"{exc}{self._kept}") from exc
        except BaseException as exc:
            self._clean_up(cluster, None, exc)
            raise
        self._clean_up(cluster, outcome)
        return outcome

    def _start(self) -> tuple[ClusterRef, list[StepRef]]:
        book, fabric = self.playbook, self.fabric
        subs = [Submission(self.run_id, s, 1) for s in book.steps] if self.ordered else []
        if self.find_cluster is not None:
            return self.find_cluster(), []
        if self.cluster_ref is not None:
            return self.cluster_ref, fabric.submit(self.cluster_ref, subs) if subs else []
        assert self.cluster is not None
        # With its steps attached the cluster may end itself after the last one;
        # started empty, it must wait for the scheduler's steps.
        return fabric.launch(
            self.cluster,
            run_id=self.run_id,
            keep_alive=not self.ordered,
            transient=True,
            submissions=subs,
            concurrency=self.concurrency,
        )

    def _follow(self, cluster: ClusterRef, refs: list[StepRef]) -> RunOutcome:
        book, fabric, writer = self.playbook, self.fabric, self.writer
        self.cluster_ref = cluster
        writer.update_run(self.run_id, cluster_id=cluster.id)
        if self.kind is RunKind.TRANSIENT and not cluster.data.get("ephemeral"):
            self._record_cluster(cluster)
        recorder = self._recorder = Recorder(writer)

        def on_event(event: TaskEvent) -> None:
            if event.kind in (EventKind.FINISHED, EventKind.RETRYING):
                self._seal(event.task)
            recorder(event)
            self.emit(step_changed(event))

        scheduler = self._scheduler = Scheduler(
            fabric, cluster, concurrency=self.concurrency, on_event=on_event, ordered=self.ordered
        )
        if not self.detach:
            self.emit(
                RunStarted(
                    self.run_id,
                    book.name,
                    fabric.name,
                    cluster.id,
                    len(book.steps),
                    self.concurrency,
                )
            )
        now = time.time()
        if self.restore is not None:
            self.restore(scheduler, recorder, cluster, now)
        elif self.plan is None:
            scheduler.add(self.run_id, book.steps, now, refs=refs)
        else:
            self._add_planned(scheduler, self.plan, now)
        if refs and self.kind is RunKind.ATTACHED:
            log.info(
                "Successfully added %d steps to the %s cluster with jobflow id '%s'...",
                len(refs),
                fabric.label,
                cluster.id,
            )
        if self.detach:
            writer.update_run(self.run_id, state=RunState.SUBMITTED)
            log.info(
                "Run %s submitted; follow it with: dataflow-runner status %s",
                self.run_id,
                self.run_id,
            )
            return self._outcome(RunState.SUBMITTED, None)
        watch = (
            lifecycle.StartupWatch(
                fabric, cluster, scheduler, self.poll_interval, self._cluster_state
            )
            if self.kind is RunKind.TRANSIENT
            else None
        )
        last_beat = time.time()

        def on_wake(now: float) -> None:
            nonlocal last_beat
            if now - last_beat >= HEARTBEAT_SECONDS:
                last_beat = now
                writer.heartbeat(self.run_id, now)
            if watch is not None:
                watch(now)

        finished = drive(
            scheduler,
            fabric,
            token=self.token,
            poll_interval=self.poll_interval,
            on_wake=on_wake,
            on_cancel=lambda: self._terminate_first(cluster),
            cleanup_timeout=self.cleanup_timeout,
            patience=self.patience,
        )
        if self.token.suspended:
            raise RunSuspended(self.run_id)
        if not finished:  # a forced stop: what was left is cancelled, now
            self._abandon(scheduler.run_tasks(self.run_id))
        state, reason = self._verdict(scheduler.run_tasks(self.run_id))
        writer.update_run(self.run_id, state=state, ended_at=time.time(), reason=reason)
        outcome = self._outcome(state, reason)
        self.emit(RunFinished(outcome))
        return outcome

    def _add_planned(self, scheduler: Scheduler, plan: DataPlan, now: float) -> None:
        """A data-aware run's steps: the settled ones told (they were recorded so),
        the waiting ones held by the run's sensors."""
        settled = plan.settled
        several = len(plan.partitions) > 1
        tasks = scheduler.add(
            self.run_id,
            plan.playbook.steps,
            now,
            settled=settled,
            held=list(plan.waiting),
            groups={k: p.key for k, p in plan.partition_of.items() if p is not None}
            if several
            else None,
        )
        for task in tasks:
            if task.id in settled:
                self.emit(step_changed(TaskEvent(EventKind.FINISHED, task, now)))
        if plan.waiting:
            from dataflow_runner.data.sensors import Sensors

            scheduler.watchers.append(
                Sensors(scheduler, self.run_id, plan.waiting, self.fabric.exists, now)
            )

    def _seal(self, task: Task, texts: dict[str, str] | None = None) -> None:
        """An attempt has ended: where the secrets this process knows sit in its log
        files is recorded for ``logs``, which runs elsewhere (``logfiles.seal``)."""
        location = str(task.ref.data.get("logs", "")) if task.ref else ""
        if texts is not None and self.state_dir is not None:
            location = logfiles.prefix(self.state_dir, self.run_id, task.id, task.attempt)
        elif not logfiles.is_local(location):
            return
        try:
            logfiles.seal(location, texts)
        except OSError as exc:
            log.debug("could not record where the secrets are in %s: %s", location, exc)

    def _verdict(self, tasks: Sequence[Task]) -> tuple[RunState, str | None]:
        completed = sum(1 for t in tasks if t.state.done)
        if completed == len(tasks):
            return RunState.COMPLETED, None
        if self.token.requested:
            return RunState.CANCELLED, self.token.reason
        unsuccessful = len(tasks) - completed
        return RunState.FAILED, f"{unsuccessful}/{len(tasks)} steps failed to complete successfully"

    def _outcome(self, state: RunState, reason: str | None) -> RunOutcome:
        tasks = self._scheduler.run_tasks(self.run_id) if self._scheduler else []
        count = {s: sum(1 for t in tasks if t.state is s) for s in StepState}
        return RunOutcome(
            run_id=self.run_id,
            kind=self.kind,
            state=state,
            total=len(self.playbook.steps),
            completed=count[StepState.COMPLETED],
            failed=count[StepState.FAILED],
            cancelled=count[StepState.CANCELLED],
            skipped=count[StepState.SKIPPED],
            cluster_id=self.cluster_ref.id if self.cluster_ref else None,
            fabric_label=self.fabric.label,
            reason=reason,
        )

    def _abandon(self, tasks: Sequence[Task]) -> None:
        """After a forced stop: every step not finished is recorded CANCELLED."""
        now = time.time()
        why = "forced to stop"
        for task in tasks:
            if task.state.finished:
                continue
            task.state, task.reason, task.ended_at = StepState.CANCELLED, why, now
            if task.attempt and task.submitted:
                self.writer.finish_attempt(
                    self.run_id, task.id, task.attempt, StepState.CANCELLED, at=now, reason=why
                )
            else:
                self.writer.update_step(
                    self.run_id, task.id, state=StepState.CANCELLED, ended_at=now, reason=why
                )

    # --- clusters --------------------------------------------------------------------

    def _record_cluster(self, ref: ClusterRef) -> None:
        now = time.time()
        assert self.cluster is not None
        self.writer.upsert_cluster(
            ClusterRecord(
                id=ref.id,
                fabric=self.fabric.name,
                name=self.cluster.name,
                state=ClusterState.STARTING,
                created_at=now,
                updated_at=now,
                run_id=self.run_id,
                config_doc=document(self.cluster),
            )
        )

    def _cluster_state(self, ref: ClusterRef, status: ClusterStatus) -> None:
        if ref.data.get("ephemeral") or self._store_error is not None:
            return  # (a store that failed: the cluster is terminated all the same)
        record_cluster_state(self.writer, ref.id, status)

    # --- cleaning up -----------------------------------------------------------------

    def _clean_up(
        self,
        cluster: ClusterRef | None,
        outcome: RunOutcome | None,
        error: BaseException | None = None,
    ) -> None:
        """Whatever happened, leave nothing running that this run started. Left by an
        error (``outcome`` None), a cleanup problem is logged, not raised over it.
        Left by a store that cannot be written, the steps are stopped before the
        end is recorded: it may wait on the store, and they would run unrecorded."""
        if isinstance(error, StoreError):
            self._store_error = error
        if outcome is None:
            if self._store_error is None:
                self._record_stop(error)
            if cluster is not None and self.kind is not RunKind.TRANSIENT:
                self._cancel_active(cluster)
        try:
            if cluster is not None and self.kind is RunKind.TRANSIENT:
                try:
                    self._terminate(cluster)
                except FabricError as exc:
                    if outcome is not None:
                        raise
                    log.error("%s", exc)
            if self.log_failed_steps and cluster is not None and outcome is not None:
                self._show_failed_logs(cluster)
        finally:
            if self.owns_fabric:
                self.fabric.close()
            if outcome is None and self._store_error is not None:
                self._record_stop(self._store_error)
            if self.lock is not None:
                self.lock.release(success=outcome is not None and outcome.failure() is None)

    def _record_stop(self, error: BaseException | None) -> None:
        # Left by an exception (a cancel while the cluster starts, a fabric error, a
        # store error): record it.
        if isinstance(error, StoreError):
            state, reason = RunState.FAILED, str(error)
        elif self.token.requested:
            state, reason = RunState.CANCELLED, str(self.token.reason)
        else:
            state, reason = RunState.FAILED, "the runner stopped before the run ended"
        now = time.time()
        try:
            self.writer.update_run(self.run_id, state=state, ended_at=now, reason=reason)
        except StoreError as exc:
            log.debug("could not record the run's end: %s", exc)
            self._keep_end(state, reason, now)
        except Exception:
            log.debug("could not record the run's end", exc_info=True)

    def _keep_end(self, state: RunState, reason: str, at: float) -> None:
        """The store cannot take the run's end: keep it for the next engine that
        writes the store, and say so in the error's line."""
        where = self.pending.keep(self.run_id, state, reason, at) if self.pending else None
        if where is None:
            self._kept = (
                f"; run {self.run_id} could not be recorded {state.value} anywhere "
                "(it shows as DEAD once this runner has exited)"
            )
            return
        log.debug("the end of run %s is kept in %s", self.run_id, where)
        self._kept = (
            f"; run {self.run_id} is recorded {state.value} by the next command that "
            "writes the store"
        )

    def _cancel_active(self, cluster: ClusterRef) -> None:
        scheduler = self._scheduler
        active = [t.ref for t in scheduler.active if t.ref is not None] if scheduler else []
        if active:
            try:
                self.fabric.cancel(cluster, active)
            except Exception as exc:
                log.error("could not cancel the run's steps on %s: %s", cluster.id, exc)

    def _terminate_first(self, cluster: ClusterRef) -> bool:
        """On a cancel: a transient cluster that costs money while it waits is
        terminated at once (that stops its steps); True when it was."""
        if self.kind is not RunKind.TRANSIENT or not self.fabric.terminate_first:
            return False
        log.warning("terminating cluster %s (it stops the run's steps)", cluster.id)
        try:
            self._send_terminate(cluster)
        except FabricError as exc:
            log.error("could not terminate cluster %s: %s", cluster.id, exc)
            return False
        return True

    def _deadline(self) -> float:
        """When the cleanup must be over (``time.monotonic()``)."""
        if self.token.requested_at is not None:
            return self.token.requested_at + self.cleanup_timeout
        if self._scheduler is not None and self._scheduler.done:
            return time.monotonic() + TERMINATION_TIMEOUT
        return time.monotonic() + self.cleanup_timeout  # left by an error

    def _send_terminate(self, cluster: ClusterRef) -> None:
        if not self._terminated:
            lifecycle.with_backoff(
                lambda: self.fabric.terminate(cluster),
                None,
                deadline=self._deadline(),
                what=f"could not terminate cluster {cluster.id}",
            )
            self._terminated = True

    def _terminate(self, cluster: ClusterRef) -> None:
        """A transient cluster ends with its run, within a deadline: it costs money.
        What could not be done is said, with the command that finishes it."""
        fabric = self.fabric
        hint = (
            f"terminate it with: dataflow-runner down --emr-config CONFIG --emr-cluster "
            f"{cluster.id}"
        )
        try:
            self._send_terminate(cluster)
            status = fabric.cluster_status(cluster)
        except FabricError as exc:
            raise FabricError(f"{exc}; {hint}") from None
        if status.state in lifecycle.ENDED:
            self._cluster_state(cluster, status)
            return
        log.info(
            "Transient %s run with jobflow ID [%s] finished its steps; waiting until the "
            "cluster is terminated...",
            fabric.label,
            cluster.id,
        )
        try:
            status = lifecycle.wait_for(
                fabric,
                cluster,
                want=lifecycle.ENDED,
                poll_interval=self.poll_interval,
                token=self.token,
                until_forced=True,
                deadline=self._deadline(),
                patience=self.patience,
                on_state=self._cluster_state,
            )
        except FabricError as exc:
            message = f"could not follow the end of cluster {cluster.id}: {exc}; {hint}"
            raise FabricError(message) from None
        if status.state not in lifecycle.ENDED:
            raise FabricError(f"cluster {cluster.id} is still {status.state.value}; {hint}")
        log.info(
            "%s cluster with ID [%s] is terminated (%s)",
            fabric.label,
            cluster.id,
            status.state.value,
        )

    def _show_failed_logs(self, cluster: ClusterRef) -> None:
        """Print each FAILED step's logs once the fabric has them (a bounded wait),
        and keep the probable cause they show."""
        from dataflow_runner.diagnosis import show_logs

        scheduler = self._scheduler
        if scheduler is None:
            return
        for task in scheduler.run_tasks(self.run_id):
            if task.state is not StepState.FAILED or task.ref is None:
                continue
            found = self._wait_for_logs(cluster, task.ref)
            if found is None:
                continue
            location, files = found
            self._seal(task, files)
            self.writer.update_attempt(self.run_id, task.id, task.attempt, log_location=location)
            cause = show_logs(files, task.fabric_id, location)
            if cause is not None:
                log.error(
                    "Step '%s' (%s): probable cause: %s", task.step.name, task.fabric_id, cause
                )
                self.writer.update_step(self.run_id, task.id, cause=cause)

    def _wait_for_logs(
        self, cluster: ClusterRef, ref: StepRef
    ) -> tuple[str, dict[str, str]] | None:
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            try:
                found = self.fabric.fetch_logs(cluster, ref)
            except FabricError as exc:
                log.error("Couldn't retrieve logs for step %s: %s", ref.fabric_id, exc)
                return None
            if found is not None and found[1]:
                return found
            if time.monotonic() >= deadline or self.token.forced:
                log.error("No logs for step %s after %.0fs", ref.fabric_id, LOG_WAIT_SECONDS)
                return None
            log.info("Waiting for the logs of step %s to be copied...", ref.fabric_id)
            self.token.sleep(self.poll_interval(60.0), until_forced=True)


def record_cluster_state(writer: StoreWriter, cluster_id: str, status: ClusterStatus) -> None:
    """A cluster's new state, as its fabric reports it."""
    now = time.time()
    fields: dict[str, Any] = {"state": status.state, "updated_at": now}
    if status.reason:
        fields["reason"] = status.reason
    if status.state.finished:
        fields["ended_at"] = now
    writer.update_cluster(cluster_id, **fields)
