"""Local clusters from the client side: ``up`` starts an agent, ``run`` submits
steps to it and follows them through the store, ``down`` stops it.

A local cluster whose agent died is reported as TERMINATED_WITH_ERRORS,
never as running.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dataflow_runner.config.model import ClusterConfig, Playbook, to_doc
from dataflow_runner.engine.events import Reporter, RunInfo, RunSummary
from dataflow_runner.engine.loop import Interrupts
from dataflow_runner.engine.recorder import step_records
from dataflow_runner.engine.run import document, new_run_id
from dataflow_runner.engine.scheduler import EventKind, Task, TaskEvent
from dataflow_runner.errors import ConfigError, ConfigErrors, FabricError
from dataflow_runner.fabrics.base import FailureCause
from dataflow_runner.fabrics.local.agent import SOCKET_NAME, SPEC_NAME
from dataflow_runner.fabrics.local.commands import LocalSettings
from dataflow_runner.fabrics.local.fabric import LocalFabric
from dataflow_runner.procs import pid_alive
from dataflow_runner.store import Store, open_store
from dataflow_runner.store.records import (
    ClusterRecord,
    ClusterState,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)

log = logging.getLogger("dataflow_runner")

START_TIMEOUT = 30.0
FOLLOW_INTERVAL = 0.2


def new_cluster_id() -> str:
    """Shaped like an EMR jobflow id: ``l-`` and 13 upper-case characters."""
    return "l-" + base64.b32encode(secrets.token_bytes(10)).decode()[:13]


def cluster_dir(state_dir: Path, cluster_id: str) -> Path:
    return state_dir / "clusters" / cluster_id


def request(
    state_dir: Path, cluster_id: str, payload: dict[str, Any], timeout: float = 30.0
) -> dict[str, Any]:
    """One request to a cluster's agent."""
    path = cluster_dir(state_dir, cluster_id) / SOCKET_NAME
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data)
    return reply


def start(
    config: ClusterConfig, config_path: str, *, state_dir: Path, store_url: str | None
) -> str:
    """Start a detached agent for ``config``; return its id once it is WAITING."""
    base = Path(config.base_dir)
    problems = LocalSettings.from_config(config, config_file=config_path).problems()
    if problems:
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    cluster_id = new_cluster_id()
    here = cluster_dir(state_dir, cluster_id)
    here.mkdir(parents=True)
    spec = {
        "id": cluster_id,
        "state_dir": str(state_dir),
        "store_url": store_url,
        "base_dir": str(base),
        "config": config.to_doc(),
    }
    (here / SPEC_NAME).write_text(json.dumps(spec))
    os.chmod(here / SPEC_NAME, 0o600)  # it holds the rendered config
    store = open_store(store_url, state_dir=state_dir)
    try:
        now = time.time()
        store.upsert_cluster(
            ClusterRecord(
                id=cluster_id,
                fabric="local",
                name=config.name,
                state=ClusterState.STARTING,
                created_at=now,
                updated_at=now,
                host=socket.gethostname(),
                endpoint=str(here),
                config_doc=document(config),
            )
        )
        log.info("Launching local cluster with name '%s'...", config.name)
        with open(here / "agent.log", "ab") as agent_log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dataflow_runner.fabrics.local.agent", str(here)],
                stdin=subprocess.DEVNULL,
                stdout=agent_log,
                stderr=agent_log,
                start_new_session=True,
                close_fds=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                store.update_cluster(
                    cluster_id,
                    state=ClusterState.TERMINATED_WITH_ERRORS,
                    reason="agent exited at start",
                    ended_at=time.time(),
                )
                raise FabricError(
                    f"local cluster {cluster_id} failed to start: {_last_line(here / 'agent.log')}"
                )
            with contextlib.suppress(OSError, ValueError):
                if request(state_dir, cluster_id, {"op": "ping"}, timeout=2).get("ok"):
                    return cluster_id
            time.sleep(0.05)
        proc.kill()
        raise FabricError(
            f"local cluster {cluster_id} did not start within "
            f"{START_TIMEOUT:.0f}s: {_last_line(here / 'agent.log')}"
        )
    finally:
        store.close()


def _last_line(path: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return "no output"


def checkpid_alive(store: Store, cluster_id: str) -> ClusterRecord:
    """The cluster's record; a dead agent is recorded as TERMINATED_WITH_ERRORS."""
    record = store.get_cluster(cluster_id)
    if record is None or record.fabric != "local":
        raise FabricError(
            f"no local cluster '{cluster_id}' in the store at {store.url_for_display}"
        )
    if record.state.finished:
        raise FabricError(
            f"local cluster {cluster_id} is {record.state.value}"
            + (f" ({record.reason})" if record.reason else "")
        )
    if not pid_alive(record.pid) and record.state is not ClusterState.STARTING:
        store.update_cluster(
            cluster_id,
            state=ClusterState.TERMINATED_WITH_ERRORS,
            reason="its agent process died",
            ended_at=time.time(),
        )
        raise FabricError(
            f"local cluster {cluster_id} is TERMINATED_WITH_ERRORS (its agent process died)"
        )
    return record


def _spec(state_dir: Path, cluster_id: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((cluster_dir(state_dir, cluster_id) / SPEC_NAME).read_text())
    return spec


def run(
    cluster_id: str,
    book: Playbook,
    *,
    playbook_path: str,
    variables: dict[str, str],
    state_dir: Path,
    store_url: str | None,
    reporter: Reporter,
    async_: bool,
) -> RunSummary | None:
    """Submit ``book`` to a local cluster; follow it unless ``async_``."""
    store = open_store(store_url, state_dir=state_dir)
    try:
        record = checkpid_alive(store, cluster_id)
        spec = _spec(state_dir, cluster_id)
        config = ClusterConfig.from_doc(spec["config"])
        settings = LocalSettings.from_config(config, Path(spec["base_dir"]))
        try:
            LocalFabric(settings, state_dir).validate(config, book)
        except ConfigErrors as exc:
            raise ConfigErrors([e.with_file(playbook_path) for e in exc.errors]) from None
        except ConfigError as exc:
            raise exc.with_file(playbook_path) from None
        run_id = new_run_id()
        now = time.time()
        concurrency = min(settings.concurrency, book.concurrency or settings.concurrency)
        store.create_run(
            RunRecord(
                id=run_id,
                command="run",
                playbook=book.name,
                fabric="local",
                state=RunState.RUNNING,
                created_at=now,
                started_at=now,
                heartbeat_at=now,
                playbook_path=os.path.abspath(playbook_path),
                cluster_name=record.name,
                cluster_id=cluster_id,
                pid=os.getpid(),
                host=socket.gethostname(),
                variables=variables,
                playbook_doc=document(book),
                cluster_doc=record.config_doc,
                options={"async": async_, "concurrency": concurrency},
            ),
            step_records(run_id, book.steps),
        )
        steps = [to_doc(s, exclude_defaults=True) for s in book.steps]
        reply = request(state_dir, cluster_id, {"op": "submit", "run_id": run_id, "steps": steps})
        if not reply.get("ok"):
            store.update_run(
                run_id, state=RunState.FAILED, ended_at=time.time(), reason=reply.get("error")
            )
            raise FabricError(f"local cluster {cluster_id} refused the steps: {reply.get('error')}")
        log.info(
            "Successfully added %d steps to the local cluster with jobflow id '%s'...",
            len(book.steps),
            cluster_id,
        )
        info = RunInfo(run_id, book.name, "local", cluster_id, len(book.steps), concurrency)
        if async_:
            log.info("Run %s submitted; follow it with: dataflow-runner status %s", run_id, run_id)
            return None
        reporter.run_started(info)
        return _follow(store, state_dir, cluster_id, book, info, reporter)
    finally:
        store.close()


def _follow(
    store: Store,
    state_dir: Path,
    cluster_id: str,
    book: Playbook,
    info: RunInfo,
    reporter: Reporter,
) -> RunSummary:
    """Report the run's steps as the agent records them, until the run ends."""
    tasks = {s.id: Task(info.run_id, s, i) for i, s in enumerate(book.steps)}
    seen: dict[str, tuple[StepState, int]] = {}
    interrupts = Interrupts()
    with interrupts.installed():
        cancel_sent = False
        while True:
            if interrupts.requested and not cancel_sent:
                cancel_sent = True
                log.warning(
                    "%s received: cancelling the run's steps on %s", interrupts.name, cluster_id
                )
                with contextlib.suppress(OSError, ValueError):
                    request(
                        state_dir,
                        cluster_id,
                        {
                            "op": "cancel",
                            "run_id": info.run_id,
                            "reason": f"run interrupted ({interrupts.name})",
                        },
                    )
            for rec in store.get_steps(info.run_id):
                _report_change(tasks[rec.step_id], rec, seen, reporter)
            run = store.get_run(info.run_id)
            if run is not None and run.state.finished:
                break
            record = store.get_cluster(cluster_id)
            if record is None or record.state.finished or not pid_alive(record.pid):
                state = record.state.value if record else "gone"
                store.update_run(
                    info.run_id,
                    state=RunState.FAILED,
                    ended_at=time.time(),
                    reason=f"cluster {cluster_id} is {state}",
                )
                if record is not None and not record.state.finished:
                    store.update_cluster(
                        cluster_id,
                        state=ClusterState.TERMINATED_WITH_ERRORS,
                        reason="its agent process died",
                        ended_at=time.time(),
                    )
                break
            _sleep(interrupts, FOLLOW_INTERVAL)
    for rec in store.get_steps(info.run_id):
        _report_change(tasks[rec.step_id], rec, seen, reporter)
    values = [t.state for t in tasks.values()]
    run = store.get_run(info.run_id)
    summary = RunSummary(
        run.state.value if run else "FAILED",
        len(values),
        values.count(StepState.COMPLETED),
        values.count(StepState.FAILED),
        values.count(StepState.CANCELLED),
    )
    reporter.run_finished(info, summary)
    return summary


def _sleep(interrupts: Interrupts, seconds: float) -> None:
    import select

    with contextlib.suppress(InterruptedError):
        select.select([interrupts.fd], [], [], seconds)
    interrupts.drain()


def _report_change(
    task: Task, rec: StepRecord, seen: dict[str, tuple[StepState, int]], reporter: Reporter
) -> None:
    previous = seen.get(rec.step_id, (StepState.PENDING, 0))
    current = (rec.state, rec.attempts)
    if current == previous:
        return
    seen[rec.step_id] = current
    task.state, task.attempt = rec.state, rec.attempts
    task.started_at, task.ended_at = rec.started_at, rec.ended_at
    task.exit_code, task.reason = rec.exit_code, rec.reason
    task.cause = FailureCause(rec.cause) if rec.cause else None
    now = time.time()
    if rec.state.finished:
        reporter.task_event(TaskEvent(EventKind.FINISHED, task, rec.ended_at or now))
    elif rec.attempts > previous[1] and previous[1] > 0:
        reporter.task_event(TaskEvent(EventKind.RETRYING, task, now))
    elif rec.state is StepState.RUNNING and previous[0] is not StepState.RUNNING:
        reporter.task_event(TaskEvent(EventKind.SUBMITTED, task, rec.started_at or now))


def stop(cluster_id: str, *, state_dir: Path, store_url: str | None, timeout: float = 60.0) -> None:
    """Terminate a local cluster: cancel what runs, wait for TERMINATED."""
    store = open_store(store_url, state_dir=state_dir)
    try:
        record = store.get_cluster(cluster_id)
        if record is None:
            raise FabricError(
                f"no local cluster '{cluster_id}' in the store at {store.url_for_display}"
            )
        if record.state.finished:
            log.info("Local cluster %s is already %s", cluster_id, record.state.value)
            return
        log.info("Terminating local cluster with jobflow id '%s'...", cluster_id)
        if not pid_alive(record.pid):
            store.update_cluster(
                cluster_id,
                state=ClusterState.TERMINATED_WITH_ERRORS,
                reason="its agent process died",
                ended_at=time.time(),
            )
            return
        try:
            request(state_dir, cluster_id, {"op": "terminate"})
        except (OSError, ValueError) as exc:
            raise FabricError(f"cannot reach local cluster {cluster_id}: {exc}") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            current = store.get_cluster(cluster_id)
            if current is not None and current.state.finished:
                return
            if not pid_alive(record.pid):
                return
            time.sleep(0.05)
        raise FabricError(f"local cluster {cluster_id} did not terminate within {timeout:.0f}s")
    finally:
        store.close()
