"""A run's lifecycle: record it, prepare the cluster, drive the steps, record
the outcome, clean up. The same code serves every fabric and every front end.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataflow_runner.config.model import ClusterConfig, Playbook, to_doc
from dataflow_runner.config.redact import redact_tree
from dataflow_runner.engine.events import Reporter, RunInfo, RunSummary
from dataflow_runner.engine.lifecycle import with_backoff
from dataflow_runner.engine.loop import Interrupts, drive
from dataflow_runner.engine.recorder import Recorder, step_records
from dataflow_runner.engine.scheduler import Scheduler, TaskEvent
from dataflow_runner.fabrics.base import ClusterRef, Fabric, StepRef, Submission
from dataflow_runner.store.records import RunRecord, RunState, StepState

log = logging.getLogger("dataflow_runner.engine")

HEARTBEAT_SECONDS = 10.0

if TYPE_CHECKING:
    from dataflow_runner.store import Store


def new_run_id(now: float | None = None) -> str:
    """Sortable and unique: ``r-20261122-153012-8f3a1c``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now or time.time()))
    return f"r-{stamp}-{secrets.token_hex(3)}"


def document(model: ClusterConfig | Playbook | None) -> dict[str, Any]:
    """A config as stored: JSON-able, with anything secret masked."""
    if model is None:
        return {}
    data = (
        model.to_doc() if isinstance(model, ClusterConfig) else to_doc(model, exclude_defaults=True)
    )
    redacted: dict[str, Any] = redact_tree(data)
    return redacted


@dataclass
class RunContext:
    """Everything a run needs besides its steps."""

    command: str
    fabric: Fabric
    store: Store
    reporter: Reporter
    cluster: ClusterConfig
    playbook: Playbook
    concurrency: int
    playbook_path: str = ""
    cluster_path: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    poll_interval: Callable[[float], float] = lambda _elapsed: 1.0
    run_id: str = field(default_factory=new_run_id)
    #: Called once the cluster exists: returns a hook the loop calls on each wake
    #: (EMR: watch the cluster while it starts).
    watch: Callable[[ClusterRef, Scheduler], Callable[[float], None]] | None = None
    #: Called with the cluster's id as soon as it is known (to record it).
    on_cluster: Callable[[ClusterRef], None] | None = None
    cluster_ref: ClusterRef | None = None


def summarise(scheduler: Scheduler, run_id: str, interrupted: bool) -> RunSummary:
    tasks = scheduler.run_tasks(run_id)
    count = {s: sum(1 for t in tasks if t.state is s) for s in StepState}
    if count[StepState.COMPLETED] == len(tasks):
        state = RunState.COMPLETED
    elif interrupted:
        state = RunState.CANCELLED
    else:
        state = RunState.FAILED
    return RunSummary(
        state.value,
        len(tasks),
        count[StepState.COMPLETED],
        count[StepState.FAILED],
        count[StepState.CANCELLED],
    )


def record_run(ctx: RunContext, cluster_id: str | None = None) -> None:
    now = time.time()
    book = ctx.playbook
    run = RunRecord(
        id=ctx.run_id,
        command=ctx.command,
        playbook=book.name,
        fabric=ctx.fabric.name,
        state=RunState.RUNNING,
        created_at=now,
        started_at=now,
        heartbeat_at=now,
        playbook_path=os.path.abspath(ctx.playbook_path) if ctx.playbook_path else "",
        cluster_name=ctx.cluster.name,
        cluster_config_path=os.path.abspath(ctx.cluster_path) if ctx.cluster_path else "",
        cluster_id=cluster_id,
        pid=os.getpid(),
        host=os.uname().nodename,
        variables=redact_tree(ctx.variables),
        playbook_doc=document(book),
        cluster_doc=document(ctx.cluster),
        options={**ctx.options, "concurrency": ctx.concurrency},
    )
    ctx.store.create_run(run, step_records(ctx.run_id, book.steps))


def _ordered(ctx: RunContext) -> bool:
    """Hand the whole serial playbook to a fabric that queues steps itself (EMR),
    unless the engine must retry or time steps out."""
    return (
        ctx.fabric.orders_steps
        and ctx.playbook.is_serial
        and not any(s.retries.count or s.timeout_seconds for s in ctx.playbook.steps)
    )


def execute_transient(ctx: RunContext) -> RunSummary:
    """Launch a cluster with the playbook, run it to the end, clean up.

    A serial playbook on a fabric that queues steps itself (EMR) is sent with
    the launch request; otherwise the cluster starts empty and the scheduler
    submits each step when it is ready. The cluster is always terminated at
    the end: on success, failure, Ctrl-C or SIGTERM.
    """
    ordered = _ordered(ctx)

    def start() -> tuple[ClusterRef, list[StepRef]]:
        subs = [Submission(ctx.run_id, s, 1) for s in ctx.playbook.steps] if ordered else []
        # With its steps attached the cluster may end itself after the last one;
        # started empty, it must wait for the scheduler's steps.
        return ctx.fabric.launch(
            ctx.cluster, run_id=ctx.run_id, keep_alive=not ordered, submissions=subs
        )

    summary = _execute(ctx, start, ordered=ordered, transient=True)
    assert summary is not None
    return summary


def execute_on_cluster(ctx: RunContext, cluster: ClusterRef, *, async_: bool) -> RunSummary | None:
    """Add the playbook's steps to a running cluster and follow them (unless
    ``async_``). On Ctrl-C the run's steps are cancelled; the cluster stays."""
    ordered = _ordered(ctx)

    def start() -> tuple[ClusterRef, list[StepRef]]:
        if ordered:
            subs = [Submission(ctx.run_id, s, 1) for s in ctx.playbook.steps]
            return cluster, ctx.fabric.submit(cluster, subs)
        return cluster, []

    return _execute(ctx, start, ordered=ordered, transient=False, async_=async_)


def execute_resumed(
    ctx: RunContext,
    cluster: Callable[[], ClusterRef],
    restore: Callable[[ClusterRef], Callable[[Scheduler, Recorder, float], None]],
    *,
    transient: bool,
) -> RunSummary:
    """Continue a run whose runner died (see ``engine/resume.py``): ``cluster``
    finds (or, if the dead runner launched none, launches) its cluster."""
    found: list[ClusterRef] = []

    def start() -> tuple[ClusterRef, list[StepRef]]:
        found.append(cluster())
        return found[0], []

    def rebuild(scheduler: Scheduler, recorder: Recorder, now: float) -> None:
        restore(found[0])(scheduler, recorder, now)

    summary = _execute(ctx, start, ordered=_ordered(ctx), transient=transient, restore=rebuild)
    assert summary is not None
    return summary


def _execute(
    ctx: RunContext,
    start: Callable[[], tuple[ClusterRef, list[StepRef]]],
    *,
    ordered: bool,
    transient: bool,
    async_: bool = False,
    restore: Callable[[Scheduler, Recorder, float], None] | None = None,
) -> RunSummary | None:
    """Drive a run to its end. ``restore`` (``resume``) rebuilds the tasks of a run
    whose runner died instead of recording a new run."""
    fabric, store = ctx.fabric, ctx.store
    if restore is None:
        record_run(ctx)
    else:
        store.update_run(
            ctx.run_id,
            state=RunState.RUNNING,
            pid=os.getpid(),
            host=os.uname().nodename,
            heartbeat_at=time.time(),
            ended_at=None,
            reason=None,
        )
    recorder = Recorder(store)

    def on_event(event: TaskEvent) -> None:
        recorder(event)
        ctx.reporter.task_event(event)

    interrupts = Interrupts()
    cluster: ClusterRef | None = None
    scheduler: Scheduler | None = None
    finished = False
    try:
        with interrupts.installed():
            cluster, refs = with_backoff(start, interrupts)
            ctx.cluster_ref = cluster
            store.update_run(ctx.run_id, cluster_id=cluster.id)
            if ctx.on_cluster is not None:
                ctx.on_cluster(cluster)
            info = RunInfo(
                ctx.run_id,
                ctx.playbook.name,
                fabric.name,
                cluster.id,
                len(ctx.playbook.steps),
                ctx.concurrency,
            )
            scheduler = Scheduler(
                fabric, cluster, concurrency=ctx.concurrency, on_event=on_event, ordered=ordered
            )
            if restore is None:
                scheduler.add(ctx.run_id, ctx.playbook.steps, time.time(), refs=refs)
            else:
                restore(scheduler, recorder, time.time())
            if refs and not transient:
                log.info(
                    "Successfully added %d steps to the %s cluster with jobflow id '%s'...",
                    len(refs),
                    "EMR" if fabric.name == "emr" else fabric.name,
                    cluster.id,
                )
            if async_:
                store.update_run(ctx.run_id, state=RunState.SUBMITTED)
                finished = True
                log.info(
                    "Run %s submitted; follow it with: dataflow-runner status %s",
                    ctx.run_id,
                    ctx.run_id,
                )
                return None
            ctx.reporter.run_started(info)
            beat = _Heartbeat(store, ctx.run_id)
            watch = ctx.watch(cluster, scheduler) if ctx.watch is not None else None

            def on_wake(now: float) -> None:
                beat(now)
                if watch is not None:
                    watch(now)

            drive(
                scheduler,
                fabric,
                interrupts=interrupts,
                poll_interval=ctx.poll_interval,
                on_wake=on_wake,
                batch=store.batch,
            )
            summary = summarise(scheduler, ctx.run_id, interrupts.requested)
            reason = (
                f"interrupted by {interrupts.name}"
                if interrupts.requested
                else None
                if summary.state == "COMPLETED"
                else f"{summary.unsuccessful}/{summary.total} steps failed to complete successfully"
            )
            store.update_run(
                ctx.run_id, state=RunState(summary.state), ended_at=time.time(), reason=reason
            )
            finished = True
            ctx.reporter.run_finished(info, summary)
            return summary
    finally:
        _clean_up(ctx, cluster, scheduler, finished=finished, transient=transient)


def _clean_up(
    ctx: RunContext,
    cluster: ClusterRef | None,
    scheduler: Scheduler | None,
    *,
    finished: bool,
    transient: bool,
) -> None:
    """Whatever happened, leave nothing running that this run started."""
    fabric, store = ctx.fabric, ctx.store
    if not finished:
        # Left by an exception (a forced exit, a fabric error): record it first.
        try:
            store.update_run(
                ctx.run_id,
                state=RunState.FAILED,
                ended_at=time.time(),
                reason="the runner stopped before the run ended",
            )
        except Exception:
            log.debug("could not record the run's end", exc_info=True)
        if cluster is not None and scheduler is not None and not transient:
            active = [t.ref for t in scheduler.active if t.ref is not None]
            if active:
                try:
                    fabric.cancel(cluster, active)
                except Exception as exc:
                    log.error("could not cancel the run's steps on %s: %s", cluster.id, exc)
    if cluster is not None and transient:
        try:
            # Until it is done (a second Ctrl-C stops the waiting): a cluster left
            # running costs money.
            ref = cluster
            with_backoff(lambda: fabric.terminate(ref), None)
        except Exception as exc:  # reported; the caller checks the cluster's end
            log.error("could not terminate cluster %s: %s", cluster.id, exc)
    ctx.reporter.close()
    fabric.close()


class _Heartbeat:
    """Tells the store the runner is alive (a run whose runner died shows as such)."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.last = time.time()

    def __call__(self, now: float) -> None:
        if now - self.last >= HEARTBEAT_SECONDS:
            self.last = now
            self.store.heartbeat(self.run_id, now)
