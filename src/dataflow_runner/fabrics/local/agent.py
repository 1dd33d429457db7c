"""The agent of a local cluster: a detached process that queues and runs steps.

``up`` starts it; ``run --emr-cluster l-...`` submits steps to it over a Unix
socket (JSON, one request per connection); ``down`` terminates it. It runs the
same scheduler as an in-process run, so steps from any number of ``run``
calls are taken in order, with the cluster's concurrency and EMR's failure
semantics, and it records every transition in the store, where clients
follow their runs.

Run as ``python -m dataflow_runner.fabrics.local.agent CLUSTER_DIR``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from dataflow_runner.config.model import ClusterConfig, Step, from_doc
from dataflow_runner.engine.loop import Interrupts, drive
from dataflow_runner.engine.recorder import Recorder
from dataflow_runner.engine.scheduler import EventKind, Scheduler, TaskEvent
from dataflow_runner.fabrics.base import ClusterRef
from dataflow_runner.fabrics.local.commands import LocalSettings
from dataflow_runner.fabrics.local.fabric import LocalFabric
from dataflow_runner.procs import prefer_prompt_wakeups
from dataflow_runner.store import open_store
from dataflow_runner.store.records import ClusterState, RunState, StepState

log = logging.getLogger("dataflow_runner.agent")

SOCKET_NAME = "agent.sock"
SPEC_NAME = "cluster.json"
HEARTBEAT_SECONDS = 5.0


class Agent:
    def __init__(self, cluster_dir: Path) -> None:
        spec = json.loads((cluster_dir / SPEC_NAME).read_text())
        self.dir = cluster_dir
        self.cluster_id: str = spec["id"]
        self.state_dir = Path(spec["state_dir"])
        config = ClusterConfig.from_doc(spec["config"])
        settings = LocalSettings.from_config(config, Path(spec["base_dir"]))
        self.store = open_store(spec.get("store_url"), state_dir=self.state_dir)
        self.fabric = LocalFabric(settings, self.state_dir, cluster_id=self.cluster_id)
        self.recorder = Recorder(self.store)
        self.scheduler = Scheduler(
            self.fabric,
            ClusterRef(self.cluster_id, "local"),
            concurrency=settings.concurrency,
            on_event=self._on_event,
        )
        self.stopping: str | None = None
        self.state = ClusterState.STARTING
        self.last_beat = 0.0
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = self.dir / SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self.listener.bind(str(path))
        self.listener.listen(64)
        self.listener.setblocking(False)

    # --- events ----------------------------------------------------------------------

    def _on_event(self, event: TaskEvent) -> None:
        self.recorder(event)
        if event.kind is EventKind.FINISHED:
            self._close_run_if_done(event.task.run_id, event.at)

    def _close_run_if_done(self, run_id: str, at: float) -> None:
        tasks = self.scheduler.run_tasks(run_id)
        if not all(t.state.finished for t in tasks):
            return
        failed = sum(1 for t in tasks if t.state is not StepState.COMPLETED)
        if failed == 0:
            state, reason = RunState.COMPLETED, None
        elif self.stopping or any(t.reason and "interrupted" in t.reason for t in tasks):
            state, reason = RunState.CANCELLED, self.stopping or "run cancelled"
        else:
            state = RunState.FAILED
            reason = f"{failed}/{len(tasks)} steps failed to complete successfully"
        self.store.update_run(run_id, state=state, ended_at=at, reason=reason)

    def _set_state(self, state: ClusterState, reason: str | None = None) -> None:
        if state is not self.state:
            self.state = state
            now = time.time()
            fields: dict[str, Any] = {"state": state, "updated_at": now}
            if reason:
                fields["reason"] = reason
            if state.finished:
                fields["ended_at"] = now
            self.store.update_cluster(self.cluster_id, **fields)

    def _on_wake(self, now: float) -> None:
        busy = any(not t.state.finished for t in self.scheduler.tasks)
        if not self.stopping:
            self._set_state(ClusterState.RUNNING if busy else ClusterState.WAITING)
        if now - self.last_beat >= HEARTBEAT_SECONDS:
            self.last_beat = now
            self.store.update_cluster(self.cluster_id, updated_at=now)
            # The agent runs these runs: it is their runner, and it is alive.
            for run_id in {t.run_id for t in self.scheduler.tasks if not t.state.finished}:
                self.store.heartbeat(run_id, now)

    # --- requests --------------------------------------------------------------------

    def _handles(self) -> list[int]:
        return [self.listener.fileno()]

    def _on_ready(self, fd: int) -> None:
        with contextlib.suppress(BlockingIOError):
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(10)
                reply = self._serve(conn)
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(reply).encode() + b"\n")

    def _serve(self, conn: socket.socket) -> dict[str, Any]:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            data += chunk
        try:
            request = json.loads(data)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            return {"ok": False, "error": "bad request"}
        now = time.time()
        if op == "ping":
            return {
                "ok": True,
                "cluster": self.cluster_id,
                "pid": os.getpid(),
                "state": self.state.value,
            }
        if op == "submit":
            if self.stopping:
                return {"ok": False, "error": f"cluster {self.cluster_id} is terminating"}
            steps = [from_doc(Step, s) for s in request["steps"]]
            self.scheduler.add(request["run_id"], steps, now)
            self._on_wake(now)
            return {"ok": True, "steps": len(steps)}
        if op == "cancel":
            self.scheduler.cancel(
                request.get("reason") or "run cancelled", now, run_id=request["run_id"]
            )
            return {"ok": True}
        if op == "terminate":
            self.stopping = "cluster terminated"
            self._set_state(ClusterState.TERMINATING)
            self.scheduler.cancel(self.stopping, now)
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}

    # --- main ------------------------------------------------------------------------

    def serve(self) -> int:
        self.store.update_cluster(self.cluster_id, pid=os.getpid(), updated_at=time.time())
        self._set_state(ClusterState.WAITING)
        prefer_prompt_wakeups()  # this thread starts and reaps the steps
        interrupts = Interrupts()
        with interrupts.installed():
            try:
                drive(
                    self.scheduler,
                    self.fabric,
                    interrupts=interrupts,
                    poll_interval=lambda _e: 5.0,
                    on_wake=self._on_wake,
                    extra_handles=self._handles,
                    on_extra=self._on_ready,
                    batch=self.store.batch,
                    stop_when_done=lambda: (
                        bool(self.stopping or interrupts.requested) and self.scheduler.done
                    ),
                )
            finally:
                self.listener.close()
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / SOCKET_NAME).unlink()
                self.fabric.close()
        if interrupts.requested and not self.stopping:
            self._set_state(
                ClusterState.TERMINATED_WITH_ERRORS, f"agent stopped by {interrupts.name}"
            )
        else:
            self._set_state(ClusterState.TERMINATED, self.stopping)
        self.store.close()
        return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from dataflow_runner.cli.output import setup_logging

    setup_logging(os.environ.get("DATAFLOW_RUNNER_AGENT_LOG_LEVEL", "info"))
    return Agent(Path(args[0])).serve()


if __name__ == "__main__":
    sys.exit(main())
