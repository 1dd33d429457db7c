"""The running commands on the EMR fabric: ``up``, ``run``, ``down``, ``run-transient``.

Key log lines keep the Go tool's wording (scripts grep them).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from dataflow_runner.cli.output import print_json
from dataflow_runner.config.model import ClusterConfig, KeyPair, Playbook
from dataflow_runner.errors import FabricError, FlagError
from dataflow_runner.fabrics.base import ClusterRef, ClusterStatus
from dataflow_runner.fabrics.emr import requests
from dataflow_runner.fabrics.emr.config import EmrSection
from dataflow_runner.store.records import ClusterRecord, ClusterState

if TYPE_CHECKING:  # the engine is imported only when something really runs
    from dataflow_runner.engine.events import RunSummary
    from dataflow_runner.engine.run import RunContext

log = logging.getLogger("dataflow_runner")

#: Step concurrency on EMR for a DAG playbook that sets none.
DEFAULT_DAG_CONCURRENCY = 4
#: How long --log-failed-steps waits for EMR to copy a step's logs to S3.
LOG_WAIT_SECONDS = 600.0


def concurrency(emr: EmrSection, book: Playbook | None) -> int:
    """1 for a serial playbook (EMR's queue, the Go tool's exact request); else the
    playbook's or the cluster's limit."""
    if book is None or book.is_serial:
        return 1
    return book.concurrency or emr.step_concurrency_level or DEFAULT_DAG_CONCURRENCY


def fabric(emr: EmrSection | None, credentials: KeyPair, region: str, level: int = 1) -> Any:
    from dataflow_runner.fabrics.emr.fabric import EmrFabric

    return EmrFabric(emr, credentials=credentials, region=region, concurrency=level)


def _record_cluster(store: Any, ref: ClusterRef, config: ClusterConfig, run_id: str | None) -> None:
    from dataflow_runner.engine.run import document

    now = time.time()
    store.upsert_cluster(
        ClusterRecord(
            id=ref.id,
            fabric="emr",
            name=config.name,
            state=ClusterState.STARTING,
            created_at=now,
            updated_at=now,
            run_id=run_id,
            config_doc=document(config),
        )
    )


def _state_recorder(store: Any, cluster_id: str) -> Any:
    def on_state(status: ClusterStatus) -> None:
        fields: dict[str, Any] = {"state": status.state, "updated_at": time.time()}
        if status.reason:
            fields["reason"] = status.reason
        if status.state.finished:
            fields["ended_at"] = time.time()
        store.update_cluster(cluster_id, **fields)

    return on_state


def up(
    config: ClusterConfig, emr: EmrSection, *, dry_run: bool, store_factory: Any, poll: float | None
) -> None:
    if dry_run:
        log.info("Dry run: the RunJobFlow request for cluster '%s'", emr.name)
        print_json(requests.launch(emr, run_id="", transient=False, keep_alive=True))
        return
    from dataflow_runner.engine.lifecycle import default_poll_interval, launch_cluster
    from dataflow_runner.engine.loop import Interrupts

    emr_fabric = fabric(emr, emr.credentials, emr.region)
    store = store_factory()
    interval = default_poll_interval(poll)
    try:
        interrupts = Interrupts()
        with interrupts.installed():
            ref = launch_cluster(
                emr_fabric,
                config,
                poll_interval=interval,
                interrupts=interrupts,
                on_launched=lambda r: _record_cluster(store, r, config, None),
                on_state=lambda r, s: _state_recorder(store, r.id)(s),
            )
    finally:
        store.close()
    log.info("EMR cluster launched successfully; Jobflow ID: %s", ref.id)


def down(
    emr: EmrSection, cluster_id: str, *, dry_run: bool, store_factory: Any, poll: float | None
) -> None:
    if dry_run:
        log.info("Dry run: the TerminateJobFlows request")
        print_json(requests.terminate_job_flows(cluster_id))
        return
    from dataflow_runner.engine.lifecycle import default_poll_interval, terminate_cluster

    emr_fabric = fabric(emr, emr.credentials, emr.region)
    store = store_factory()
    try:
        known = store.get_cluster(cluster_id) is not None
        status = terminate_cluster(
            emr_fabric,
            ClusterRef(cluster_id, "emr"),
            poll_interval=default_poll_interval(poll),
            on_state=_state_recorder(store, cluster_id) if known else None,
        )
    finally:
        store.close()
    if status.state is ClusterState.TERMINATED_WITH_ERRORS:
        log.warning(
            "EMR cluster %s ended TERMINATED_WITH_ERRORS%s",
            cluster_id,
            f": {status.reason}" if status.reason else "",
        )
    log.info("EMR cluster terminated successfully")


def run_transient(
    config: ClusterConfig,
    emr: EmrSection,
    book: Playbook,
    *,
    dry_run: bool,
    ctx_factory: Any,
    poll: float | None,
    log_failed_steps: bool,
) -> RunSummary | None:
    from dataflow_runner.engine.run import new_run_id  # light: no store, no boto3

    level = concurrency(emr, book)
    if dry_run:
        run_id = new_run_id()
        request = requests.launch(
            emr,
            run_id=run_id,
            transient=True,
            keep_alive=not book.is_serial,
            steps=book.steps if book.is_serial else (),
            region=book.region or emr.region,
            concurrency=level,
        )
        log.info(
            "Dry run: the RunJobFlow request for cluster '%s' with %d steps%s",
            emr.name,
            len(book.steps),
            ""
            if book.is_serial
            else " (a DAG: the cluster starts empty and each step is added when it is ready)",
        )
        print_json(request)
        return None
    from dataflow_runner.engine.lifecycle import StartupWatch, default_poll_interval, wait_for
    from dataflow_runner.engine.run import execute_transient

    emr_fabric = fabric(emr, emr.credentials, book.region or emr.region, level)
    interval = default_poll_interval(poll)
    ctx: RunContext = ctx_factory(emr_fabric, level)
    ctx.poll_interval = interval
    store = ctx.store
    ctx.on_cluster = lambda ref: _record_cluster(store, ref, config, ctx.run_id)
    ctx.watch = lambda ref, scheduler: StartupWatch(
        emr_fabric, ref, scheduler, interval, _state_recorder(store, ref.id)
    )
    summary = execute_transient(ctx)
    ref = ctx.cluster_ref
    if ref is not None:
        log.info(
            "Transient EMR run with jobflow ID [%s] finished its steps; waiting until the "
            "cluster is terminated...",
            ref.id,
        )
        status = wait_for(
            emr_fabric,
            ref,
            want=frozenset({ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS}),
            stop=frozenset(),
            poll_interval=interval,
            on_state=_state_recorder(store, ref.id),
        )
        log.info("EMR cluster with ID [%s] is terminated (%s)", ref.id, status.state.value)
        if log_failed_steps:
            fetch_failed_logs(emr_fabric, ctx, emr.log_uri, ref.id, interval)
    return summary


def fetch_failed_logs(
    emr_fabric: Any, ctx: RunContext, log_uri: str, cluster_id: str, interval: Any
) -> None:
    """Print each FAILED step's logs once EMR has copied them (bounded wait), and
    keep the probable cause they show."""
    from dataflow_runner.engine.lifecycle import _pause
    from dataflow_runner.fabrics.emr import logs

    if not log_uri:
        log.warning("--log-failed-steps: the cluster config has no logUri; EMR keeps no logs")
        return
    store = ctx.store
    failed = [s for s in store.get_steps(ctx.run_id) if s.state.value == "FAILED"]
    for step in failed:
        attempt = store.get_attempts(ctx.run_id, step.step_id)[-1]
        emr_step = str(attempt.fabric_ref.get("fabric_id", ""))
        bucket, key = logs.prefix(log_uri, cluster_id, emr_step)
        location = f"s3://{bucket}/{key}"
        store.update_attempt(ctx.run_id, step.step_id, attempt.attempt, log_location=location)
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        files: dict[str, str] = {}
        while True:
            try:
                files = logs.fetch(emr_fabric.s3, log_uri, cluster_id, emr_step)
            except FabricError as exc:
                log.error("Couldn't retrieve logs for step %s: %s", emr_step, exc)
                break
            if files or time.monotonic() >= deadline:
                break
            log.info("Waiting for EMR to copy the logs of step %s to %s...", emr_step, location)
            _pause(interval(60.0), None)
        if not files:
            log.error("No logs for step %s at %s after %.0fs", emr_step, location, LOG_WAIT_SECONDS)
            continue
        logs.show(files, emr_step, location)
        found = logs.cause(files)
        if found is not None:
            log.error("Step '%s' (%s): probable cause: %s", step.name, emr_step, found.summary)
            store.update_step(ctx.run_id, step.step_id, cause=found.summary)


def check_run_flags(book: Playbook, async_: bool) -> None:
    if async_ and not book.is_serial:
        raise FlagError(
            "--async needs a serial playbook on EMR: the steps of a DAG are "
            "added one by one as their dependencies complete, by a runner that "
            "follows them"
        )


def run(
    book: Playbook,
    cluster_id: str,
    *,
    dry_run: bool,
    ctx_factory: Any,
    poll: float | None,
    async_: bool,
    log_failed_steps: bool,
) -> RunSummary | None:
    check_run_flags(book, async_)
    level = 1 if book.is_serial else (book.concurrency or DEFAULT_DAG_CONCURRENCY)
    if dry_run:
        log.info(
            "Dry run: the AddJobFlowSteps request for %d steps%s",
            len(book.steps),
            "" if book.is_serial else " (a DAG: each step is added when its dependencies complete)",
        )
        print_json(requests.add_job_flow_steps(cluster_id, book.steps, region=book.region))
        return None
    from dataflow_runner.engine.lifecycle import READY, default_poll_interval
    from dataflow_runner.engine.run import execute_on_cluster

    emr_fabric = fabric(None, book.credentials, book.region, level)
    ref = ClusterRef(cluster_id, "emr")
    status = emr_fabric.cluster_status(ref)
    if status.state not in READY and status.state not in (
        ClusterState.STARTING,
        ClusterState.BOOTSTRAPPING,
    ):
        raise FabricError(
            f"EMR cluster {cluster_id} is {status.state.value}"
            + (f" ({status.reason})" if status.reason else "")
            + ": it cannot take steps"
        )
    if level > 1:
        emr_fabric.modify_concurrency(ref, level)
    ctx: RunContext = ctx_factory(emr_fabric, level)
    ctx.poll_interval = default_poll_interval(poll)
    summary = execute_on_cluster(ctx, ref, async_=async_)
    if log_failed_steps and summary is not None and summary.failed:
        fetch_failed_logs(emr_fabric, ctx, emr_fabric.log_uri(ref), cluster_id, ctx.poll_interval)
    return summary
