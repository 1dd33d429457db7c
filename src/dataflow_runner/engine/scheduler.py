"""The scheduler: which step runs when, and what a failure does to the others.

It is a state machine over *tasks* (one per step of a run). It never waits:
``engine/loop.py`` waits on the fabric's handles and the scheduler's timers
and calls :meth:`Scheduler.tick` and :meth:`Scheduler.poll`. It never writes
the store or the terminal: it emits :class:`TaskEvent` s that the run's
recorder and reporter consume.

Semantics (EMR's, extended to DAGs):

* a step starts when everything in its ``dependsOn`` COMPLETED and everything
  in its ``after`` finished, up to the concurrency limit, in playbook order;
* a failed attempt is retried (with backoff) before the step counts as FAILED;
  a timeout stops the attempt's whole process group and counts as a failure;
* a FAILED step with CANCEL_AND_WAIT cancels every step not yet finished
  (running ones are stopped) — of its partition, in a run of several; with
  CONTINUE only the steps that depend on it are CANCELLED ("upstream step X
  failed") and independent branches go on;
* in *ordered* mode (a fabric that queues steps itself, like EMR, with a
  serial playbook) everything is submitted at once and the fabric enforces
  order and actionOnFailure; the scheduler only follows;
* a data-aware run settles some steps before it starts (SKIPPED: their outputs
  exist, as good as COMPLETED downstream; FAILED: an input is missing) and
  *holds* others until a watcher (the run's sensors) releases or fails them.
"""

from __future__ import annotations

import enum
import heapq
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from dataflow_runner.config.model import Step
from dataflow_runner.errors import FabricError, FabricUnavailable
from dataflow_runner.fabrics.base import (
    ClusterRef,
    Fabric,
    FailureCause,
    StepRef,
    StepStatus,
    Submission,
)
from dataflow_runner.store.records import StepState

log = logging.getLogger("dataflow_runner.engine")


@dataclass(eq=False)
class Task:
    """One step of one run, as the scheduler tracks it."""

    run_id: str
    step: Step
    position: int
    state: StepState = StepState.PENDING
    attempt: int = 0
    ref: StepRef | None = None
    submitted: bool = False  # an attempt is with the fabric
    started_at: float | None = None  # first attempt
    attempt_started_at: float | None = None
    ended_at: float | None = None
    deadline: float | None = None
    retry_at: float | None = None
    stop_reason: str | None = None  # why we asked the fabric to stop the attempt
    timed_out: bool = False
    exit_code: int | None = None
    reason: str | None = None
    cause: FailureCause | None = None
    upstream: tuple[Task, ...] = ()
    needs: tuple[Task, ...] = ()  # the dependsOn subset: must COMPLETE
    #: The partition of a data-aware run: CANCEL_AND_WAIT cancels its group only.
    group: str = ""
    downstream: list[Task] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.run_id, self.step.id)

    @property
    def id(self) -> str:
        return self.step.id

    @property
    def fabric_id(self) -> str:
        """The id the fabric gave this attempt (EMR's ``s-...``), else the step's id."""
        ref = self.ref
        return ref.fabric_id if ref is not None and ref.fabric_id else self.id


class EventKind(enum.Enum):
    SUBMITTED = "submitted"  # an attempt went to the fabric
    RUNNING = "running"  # the fabric says it runs (ordered mode: observed)
    RETRYING = "retrying"  # an attempt failed; another comes after a delay
    FINISHED = "finished"  # final state: COMPLETED, FAILED or CANCELLED


@dataclass(frozen=True)
class TaskEvent:
    kind: EventKind
    task: Task
    at: float
    attempt_state: StepState | None = None  # the attempt's end state (RETRYING/FINISHED)
    delay: float = 0.0


class Watcher(Protocol):
    """Something the scheduler's timer drives besides its steps (a run's sensors):
    called by :meth:`Scheduler.tick` once ``next_timer`` has come."""

    def next_timer(self) -> float | None: ...

    def __call__(self, now: float) -> None: ...


class Scheduler:
    """Drives the tasks of one or more runs on one cluster of a fabric."""

    def __init__(
        self,
        fabric: Fabric,
        cluster: ClusterRef,
        *,
        concurrency: int,
        on_event: Callable[[TaskEvent], None],
        ordered: bool = False,
    ) -> None:
        self.fabric = fabric
        self.cluster = cluster
        self.concurrency = max(1, concurrency)
        self.on_event = on_event
        self.ordered = ordered
        self.tasks: list[Task] = []
        self._index: dict[tuple[str, str], Task] = {}
        self._pending: dict[Task, None] = {}  # not submitted, not finished (in order)
        # Ready queue: how many upstream steps each task still waits for, and a heap
        # (by playbook position) of pending tasks that wait for none.
        self._unmet: dict[Task, int] = {}
        self._unfinished = 0  # tasks not in a final state (``done`` is asked often)
        self._ready_heap: list[tuple[int, Task]] = []
        self._active: dict[tuple[str, str], Task] = {}  # with the fabric
        self._waiting: list[Task] = []  # failed attempt, retry later
        self._held: set[Task] = set()  # not to start until released
        self.watchers: list[Watcher] = []
        self.cancelling: str | None = None

    # --- building --------------------------------------------------------------

    def add(
        self,
        run_id: str,
        steps: Sequence[Step],
        now: float,
        refs: Sequence[StepRef] = (),
        *,
        submit: bool = True,
        settled: Mapping[str, tuple[StepState, str]] | None = None,
        held: Collection[str] = (),
        groups: Mapping[str, str] | None = None,
    ) -> list[Task]:
        """Queue a run's steps. ``refs`` are attempts already with the fabric
        (a transient launch with steps attached). In ordered mode the steps are
        submitted at once, unless ``submit`` is false (a resumed run).

        ``settled`` steps are final before the run starts (recorded so by the
        caller: no event is emitted for them; what they fail is cancelled);
        ``held`` ones wait for :meth:`release` (or :meth:`fail`). ``groups``: the
        partition of each step of a run of several, side by side: a failure with
        CANCEL_AND_WAIT cancels what is left of its own partition (and, as ever,
        whatever depends on it), not the independent partitions."""
        groups = groups or {}
        new = [
            Task(run_id, s, len(self.tasks) + i, group=groups.get(s.id, ""))
            for i, s in enumerate(steps)
        ]
        by_id = {t.id: t for t in new}
        for t in new:
            t.upstream = tuple(by_id[u] for u in dict.fromkeys(t.step.upstream))
            t.needs = tuple(by_id[u] for u in dict.fromkeys(t.step.depends_on))
            for up in t.upstream:
                up.downstream.append(t)
            self._index[t.key] = t
        self.tasks.extend(new)
        self._pending.update(dict.fromkeys(new))
        self._unfinished += len(new)
        self._held.update(by_id[i] for i in held)
        for t in new:
            self._unmet[t] = len(t.upstream)
        if settled:
            for step_id, (state, reason) in settled.items():
                task = by_id[step_id]
                task.state, task.reason = state, reason
                self._unfinished -= 1
                del self._pending[task]
                self._held.discard(task)
            for step_id, (state, _reason) in settled.items():
                if not state.done:
                    self._after_failure(by_id[step_id], now)
            self._rebuild_ready()
        else:
            for t in new:
                if not t.upstream:
                    heapq.heappush(self._ready_heap, (t.position, t))
        if refs:
            self._adopt(refs, now)
        elif self.ordered and submit:
            self._submit([t for t in new if t in self._pending], now)
        return new

    def restore(
        self,
        run_id: str,
        steps: Sequence[Step],
        now: float,
        *,
        finished: Mapping[str, tuple[StepState, int]],
        attached: Sequence[StepRef],
        died: Mapping[str, int],
        tried: Mapping[str, int],
        held: Collection[str] = (),
        groups: Mapping[str, str] | None = None,
    ) -> list[Task]:
        """Rebuild a run whose runner died, from what the store recorded.

        ``finished`` steps are not run again; ``attached`` attempts are still
        with the fabric (EMR) and are followed, never submitted again; ``died``
        attempts (local processes that went with the runner) count as failed
        attempts, retried per the step's policy; ``tried`` steps wait for their
        next attempt.
        """
        tasks = self.add(run_id, steps, now, submit=False, held=held, groups=groups)
        by_id = {t.id: t for t in tasks}
        for step_id, attempts in tried.items():
            by_id[step_id].attempt = attempts
        for step_id, (state, attempts) in finished.items():
            task = by_id[step_id]
            task.state, task.attempt = state, attempts
            self._unfinished -= 1
            del self._pending[task]
        for ref in attached:
            task = by_id[ref.step_id]
            task.ref, task.attempt, task.submitted = ref, ref.attempt, True
            task.started_at = task.attempt_started_at = now
            del self._pending[task]
            self._active[task.key] = task
        for step_id, attempt in died.items():
            task = by_id[step_id]
            task.attempt, task.state, task.submitted = attempt, StepState.RUNNING, True
            del self._pending[task]
            self._active[task.key] = task
            self._observe(task, StepStatus(StepState.FAILED, reason="runner died"), now)
        for task in tasks:
            if task.state is StepState.FAILED and task.id in finished:
                self._after_failure(task, now)
            elif task.state is StepState.CANCELLED and task.id in finished:
                self._cancel_dependents(task, now, f"upstream step '{task.id}' was cancelled")
        self._rebuild_ready()
        if self.ordered and not attached and not self.cancelling:
            waiting = [t for t in self._pending if t.run_id == run_id]
            if waiting:
                self._submit(waiting, now)
        return tasks

    def _adopt(self, refs: Sequence[StepRef], now: float) -> None:
        for ref in refs:
            task = self._index[ref.key]
            task.ref = ref
            task.attempt = ref.attempt
            task.submitted = True
            task.attempt_started_at = task.started_at = task.started_at or now
            self._pending.pop(task, None)
            if task in self._waiting:
                self._waiting.remove(task)
            self._active[task.key] = task
            self._emit(EventKind.SUBMITTED, task, now)

    # --- the two entry points of the loop ------------------------------------------

    def tick(self, now: float) -> None:
        """Start what is ready; act on due retries, timeouts and watchers."""
        for watcher in self.watchers:
            when = watcher.next_timer()
            if when is not None and when <= now and not self.cancelling:
                watcher(now)
        for task in list(self._active.values()):
            if task.deadline is not None and now >= task.deadline and not task.stop_reason:
                task.timed_out = True
                self._stop(task, f"timed out after {task.step.timeout_seconds:g} s")
        if self.cancelling or self.ordered:
            return
        room = self.concurrency - len(self._active)
        if room <= 0:
            return
        due = [t for t in self._waiting if t.retry_at is not None and t.retry_at <= now]
        fresh: list[Task] = []
        while self._ready_heap and len(fresh) < room:
            _, task = heapq.heappop(self._ready_heap)
            if task in self._pending and self._ready(task):
                fresh.append(task)
        ready = sorted(due + fresh, key=lambda t: t.position)
        batch, spare = ready[:room], ready[room:]
        for t in spare:
            if t in fresh:
                heapq.heappush(self._ready_heap, (t.position, t))
        if not batch:
            return
        try:
            self._submit(batch, now)
        except FabricUnavailable:
            # Nothing was submitted: the same tasks are ready at the next tick.
            for t in fresh:
                heapq.heappush(self._ready_heap, (t.position, t))
            raise

    def poll(self, now: float) -> None:
        """Ask the fabric about the active attempts (one call) and act on changes."""
        if not self._active:
            return
        refs = [t.ref for t in self._active.values() if t.ref is not None]
        statuses = self.fabric.poll(self.cluster, refs)
        # In playbook order, whatever order the fabric answered in.
        for task in sorted(self._active.values(), key=lambda t: t.position):
            status = statuses.get(task.key)
            if status is not None:
                self._observe(task, status, now)

    # --- queries -----------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self._unfinished == 0

    @property
    def active(self) -> list[Task]:
        return list(self._active.values())

    def next_timer(self) -> float | None:
        """The earliest moment :meth:`tick` has something to do without a poll."""
        times = [
            t.deadline
            for t in self._active.values()
            if t.deadline is not None and not t.stop_reason
        ]
        if not self.cancelling:
            times += [t.retry_at for t in self._waiting if t.retry_at is not None]
            times += [w for w in (x.next_timer() for x in self.watchers) if w is not None]
        return min(times) if times else None

    # --- holding -----------------------------------------------------------------

    def held(self, run_id: str) -> list[Task]:
        """The run's tasks that wait to be released (not finished)."""
        return [t for t in self._held if t.run_id == run_id and not t.state.finished]

    def release(self, task: Task) -> None:
        """A held task may start once its upstream steps allow."""
        self._held.discard(task)
        if task in self._pending and self._unmet[task] == 0:
            heapq.heappush(self._ready_heap, (task.position, task))

    def fail(self, task: Task, reason: str, now: float) -> None:
        """A held task fails without having run (its input did not appear)."""
        self._held.discard(task)
        if task.state.finished or task.submitted:
            return
        self._finish(task, StepState.FAILED, now, reason=reason)
        self._after_failure(task, now)

    def task(self, run_id: str, step_id: str) -> Task:
        return self._index[(run_id, step_id)]

    def run_tasks(self, run_id: str) -> list[Task]:
        return [t for t in self.tasks if t.run_id == run_id]

    # --- cancelling --------------------------------------------------------------

    def cancel(
        self, reason: str, now: float, *, run_id: str | None = None, stop: bool = True
    ) -> None:
        """Stop submitting; stop what runs; everything not started is CANCELLED.
        ``stop=False``: the fabric is not asked to stop the running steps (their
        cluster is being terminated, which stops them); they end CANCELLED."""
        if run_id is None:
            self.cancelling = reason
        for task in self.tasks:
            if task.state.finished or (run_id is not None and task.run_id != run_id):
                continue
            if not task.submitted:
                self._finish(task, StepState.CANCELLED, now, reason=reason)
            elif stop:
                self._stop(task, reason)
            else:
                task.stop_reason = reason

    # --- internals ---------------------------------------------------------------

    def _rebuild_ready(self) -> None:
        """Recount what pending tasks wait for (after a restore)."""
        self._ready_heap = []
        for task in self._pending:
            self._unmet[task] = sum(1 for up in task.upstream if not up.state.finished)
            if self._unmet[task] == 0 and task not in self._held:
                heapq.heappush(self._ready_heap, (task.position, task))

    def _ready(self, task: Task) -> bool:
        if task in self._held:
            return False
        for up in task.upstream:
            if not up.state.finished:
                return False
        return all(up.state.done for up in task.needs)

    def _submit(self, batch: list[Task], now: float) -> None:
        subs = [Submission(t.run_id, t.step, t.attempt + 1) for t in batch]
        try:
            refs = self.fabric.submit(self.cluster, subs)
        except FabricUnavailable:
            raise  # the loop backs off and calls tick() again: nothing was submitted
        for task, ref in zip(batch, refs, strict=True):
            task.attempt += 1
            task.ref = ref
            task.submitted = True
            task.stop_reason = None
            task.timed_out = False
            task.cause = None
            task.exit_code = None
            task.attempt_started_at = now
            task.started_at = task.started_at or now
            if task.step.timeout_seconds and not self.ordered:
                task.deadline = now + task.step.timeout_seconds
            self._pending.pop(task, None)
            if task in self._waiting:
                self._waiting.remove(task)
            self._active[task.key] = task
            self._emit(EventKind.SUBMITTED, task, now)

    def _stop(self, task: Task, reason: str) -> None:
        task.stop_reason = reason
        if task.ref is not None:
            try:
                self.fabric.cancel(self.cluster, [task.ref])
            except FabricError as exc:
                # The step may have ended meanwhile, or the cluster be gone: the
                # next poll tells what became of it.
                log.warning("could not cancel step '%s': %s", task.id, exc)

    def _observe(self, task: Task, status: StepStatus, now: float) -> None:
        if status.state is StepState.PENDING:
            return
        if status.state is StepState.RUNNING:
            if task.state is not StepState.RUNNING:
                task.state = StepState.RUNNING
                self._emit(EventKind.RUNNING, task, status.started_at or now)
            return
        # The attempt ended.
        del self._active[task.key]
        task.submitted = False
        task.deadline = None
        task.exit_code = status.exit_code
        at = status.ended_at or now
        if status.state is StepState.COMPLETED:
            self._finish(task, StepState.COMPLETED, at, reason=status.reason)
            return
        if task.stop_reason and not task.timed_out:
            self._finish(task, StepState.CANCELLED, at, reason=task.stop_reason)
            return
        reason = task.stop_reason if task.timed_out else status.reason
        if status.state is StepState.CANCELLED and not task.timed_out:
            # Cancelled by the fabric itself (EMR's CANCEL_AND_WAIT on another step).
            self._finish(task, StepState.CANCELLED, at, reason=reason)
            return
        # A timeout is the cause: the step's last words are no more than that.
        task.cause = FailureCause(str(task.stop_reason)) if task.timed_out else self._diagnose(task)
        if task.attempt <= task.step.retries.count and not self.cancelling and not self.ordered:
            delay = task.step.retries.delay(task.attempt + 1)
            task.retry_at = now + delay
            task.reason = reason
            self._waiting.append(task)
            self._emit(EventKind.RETRYING, task, at, attempt_state=StepState.FAILED, delay=delay)
            return
        self._finish(task, StepState.FAILED, at, reason=reason)
        self._after_failure(task, now)

    def _diagnose(self, task: Task) -> FailureCause | None:
        if task.ref is None:
            return None
        try:
            return self.fabric.diagnose(self.cluster, task.ref)
        except Exception:  # a diagnosis is a bonus: never let it break the run
            log.debug("diagnosis of %s failed", task.id, exc_info=True)
            return None

    def _after_failure(self, failed: Task, now: float) -> None:
        if self.ordered:
            return  # the fabric applies actionOnFailure itself
        if failed.step.action_on_failure == "CANCEL_AND_WAIT":
            reason = f"cancelled because step '{failed.id}' failed"
            for task in self.tasks:
                if task.state.finished or task.group != failed.group:
                    continue
                if task.submitted:
                    self._stop(task, reason)
                else:
                    self._finish(task, StepState.CANCELLED, now, reason=reason)
        else:
            self._cancel_dependents(failed, now, f"upstream step '{failed.id}' failed")

    def _cancel_dependents(self, task: Task, now: float, reason: str) -> None:
        for down in task.downstream:
            if task in down.needs and not down.state.finished and not down.submitted:
                self._finish(down, StepState.CANCELLED, now, reason=reason)

    def _finish(self, task: Task, state: StepState, at: float, *, reason: str | None) -> None:
        self._unfinished -= 1
        self._pending.pop(task, None)
        if task in self._waiting:
            self._waiting.remove(task)
        task.state = state
        for down in task.downstream:
            self._unmet[down] -= 1
            if self._unmet[down] == 0 and down in self._pending:
                heapq.heappush(self._ready_heap, (down.position, down))
        task.reason = reason
        task.ended_at = at
        task.retry_at = None
        self._emit(EventKind.FINISHED, task, at, attempt_state=state)
        if not state.done:
            why = (
                f"upstream step '{task.id}' failed"
                if state is StepState.FAILED
                else f"upstream step '{task.id}' was cancelled"
            )
            self._cancel_dependents(task, at, why)

    def _emit(
        self,
        kind: EventKind,
        task: Task,
        at: float,
        *,
        attempt_state: StepState | None = None,
        delay: float = 0.0,
    ) -> None:
        if kind is EventKind.SUBMITTED and self.fabric_marks_running():
            task.state = StepState.RUNNING
        self.on_event(TaskEvent(kind, task, at, attempt_state, delay))

    def fabric_marks_running(self) -> bool:
        """Local processes run as soon as they are submitted; EMR steps queue first."""
        return bool(getattr(self.fabric, "submits_running", False))
