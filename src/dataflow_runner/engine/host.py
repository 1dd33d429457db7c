"""An engine host: a long-lived process that runs the engine for one cluster and
takes runs over a Unix socket (``hostwire.py``), from any number of clients at
once. A local cluster (``up`` on the local fabric) is one; the server is
another host of the same engine, over HTTP.

Run as ``python -m dataflow_runner.engine.host DIR``, where ``DIR/host.json``
says what it hosts: ``{"id", "state_dir", "store", "config"}`` (removed once
read: the config may hold secrets). Requests:

* ``ping`` → the cluster's state;
* ``submit`` (a playbook and the run's options) → the run's id, then, when the
  client follows, every event of the run until it ends;
* ``cancel`` (a run id, a reason; ``force``) → the run is cancelled;
* ``terminate`` → every run is cancelled, the host records the cluster
  TERMINATED and ends.

The host records everything through its engine: runs, steps, attempts and
the cluster's state (RUNNING while runs go, else WAITING).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import socketserver
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dataflow_runner import hostwire
from dataflow_runner.config.model import ClusterConfig, from_doc
from dataflow_runner.config.redact import SECRETS, redact, register
from dataflow_runner.engine.api import Engine
from dataflow_runner.engine.events import Event, LogLine, RunFinished, event_to_json
from dataflow_runner.engine.handle import RunHandle
from dataflow_runner.engine.remote import error_doc, request_from_doc
from dataflow_runner.engine.run import new_run_id
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.fabrics import registry
from dataflow_runner.fabrics.base import Options
from dataflow_runner.store.records import ClusterState

log = logging.getLogger("dataflow_runner.host")

HEARTBEAT_SECONDS = 5.0
#: Events of a run waiting for a slow client before the oldest are dropped.
MAX_QUEUED = 10_000


class _RunLogs(logging.Handler):
    """Lines the engine logs in a run's thread, sent to that run's followers."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.queues: dict[str, list[queue.Queue[Event | None]]] = {}
        self.guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        name = threading.current_thread().name
        if not name.startswith("run "):
            return
        line = LogLine(record.levelname.lower(), record.getMessage(), record.created)
        with self.guard:
            for q in self.queues.get(name[4:], ()):
                with contextlib.suppress(queue.Full):
                    q.put_nowait(line)


class Host:
    """See the module's docstring."""

    def __init__(self, directory: Path) -> None:
        spec_path = directory / hostwire.SPEC_NAME
        spec = json.loads(spec_path.read_text())
        # It may hold the values of the cluster's environment: once read, they
        # live in this process only (a host killed leaves nothing on disk).
        with contextlib.suppress(FileNotFoundError):
            spec_path.unlink()
        # Masked in all this host records, logs and sends: the secrets of its
        # environment and its config (``local.env``...); each run adds its own.
        SECRETS.add_environment()
        register(spec["config"])
        self.dir = directory
        self.cluster_id: str = spec["id"]
        self.state_dir = Path(spec["state_dir"])
        config = from_doc(ClusterConfig, spec["config"])
        driver = registry.driver(config.fabric)
        self.label = driver.label
        options = Options(self.state_dir, store=spec.get("store"))
        self.engine = Engine(
            state_dir=self.state_dir,
            store=spec.get("store"),
            hosted={self.cluster_id: driver.hosted(config, self.cluster_id, options)},
        )
        self.stopping: str | None = None
        self.state = ClusterState.STARTING
        # Reentrant: a signal handler may ask for a new state while the main
        # thread holds it.
        self.lock = threading.RLock()
        self.idle = threading.Condition(self.lock)
        self.logs = _RunLogs()
        logging.getLogger("dataflow_runner").addHandler(self.logs)

    # --- state ----------------------------------------------------------------------

    def set_state(self, state: ClusterState, reason: str | None = None) -> None:
        with self.lock:
            if state is self.state:
                return
            self.state = state
        now = time.time()
        fields: dict[str, Any] = {"state": state, "updated_at": now}
        if reason:
            fields["reason"] = reason
        if state.finished:
            fields["ended_at"] = now
        self.engine.writer.update_cluster(self.cluster_id, **fields)

    def refresh(self) -> None:
        if not self.stopping:
            busy = bool(self.engine.active())
            self.set_state(ClusterState.RUNNING if busy else ClusterState.WAITING)

    # --- requests ---------------------------------------------------------------------

    def serve_one(self, rfile: Any, wfile: Any) -> None:
        line = rfile.readline(hostwire.MAX_LINE)
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            send(wfile, {"ok": False, "error": {"message": "bad request"}})
            return
        if op == "ping":
            send(
                wfile,
                {"ok": True, "cluster": self.cluster_id, "pid": os.getpid(), "state": self.state},
            )
        elif op == "submit":
            self._submit(request, wfile)
        elif op == "cancel":
            self._cancel(request)
            send(wfile, {"ok": True})
        elif op == "terminate":
            self.terminate("cluster terminated")
            send(wfile, {"ok": True})
        else:
            send(wfile, {"ok": False, "error": {"message": f"unknown op {op!r}"}})

    def _submit(self, request: dict[str, Any], wfile: Any) -> None:
        if self.stopping:
            error = {"message": f"cluster {self.cluster_id} is {self.stopping}"}
            send(wfile, {"ok": False, "error": error})
            return
        doc = request["request"]
        run_id = doc.get("run_id") or new_run_id()
        events: queue.Queue[Event | None] = queue.Queue(MAX_QUEUED)
        with self.logs.guard:
            self.logs.queues.setdefault(run_id, []).append(events)
        try:
            handle = self.engine.submit(
                request_from_doc(doc, self.cluster_id, run_id),
                on_event=lambda event: _put(events, event),
            )
            steps = len(self.engine.steps(run_id))
        except DataflowRunnerError as exc:
            self._forget(run_id, events)
            send(wfile, {"ok": False, "error": error_doc(exc)})
            return
        threading.Thread(
            target=self._watch, args=(handle,), name=f"watch {run_id}", daemon=True
        ).start()
        self.refresh()
        answer = {"ok": True, "run_id": run_id, "label": self.label, "steps": steps}
        if not send(wfile, answer) or not request.get("follow"):
            self._forget(run_id, events)
            return
        while True:
            event = events.get()
            if event is None or not send(wfile, event_to_json(event)):
                break
            if isinstance(event, RunFinished):
                break
        self._forget(run_id, events)

    def _forget(self, run_id: str, events: queue.Queue[Event | None]) -> None:
        with self.logs.guard:
            followers = self.logs.queues.get(run_id, [])
            if events in followers:
                followers.remove(events)
            if not followers:
                self.logs.queues.pop(run_id, None)

    def _watch(self, handle: RunHandle) -> None:
        """When a run ends: its followers are told (also when it failed to run) and
        the cluster's state follows."""
        try:
            handle.wait()
        except DataflowRunnerError as exc:
            log.error("run %s: %s", handle.run_id, exc)
        except Exception:
            log.exception("run %s failed", handle.run_id)
        with self.logs.guard:
            followers = list(self.logs.queues.get(handle.run_id, ()))
        for q in followers:
            _put(q, None)
        with self.lock:
            self.idle.notify_all()
        self.refresh()

    def _cancel(self, request: dict[str, Any]) -> None:
        run_id = str(request.get("run_id", ""))
        for handle in self.engine.active():
            if handle.run_id == run_id:
                if request.get("force"):
                    handle.force()
                else:
                    handle.cancel(
                        str(request.get("reason") or "cancelled"), signal=request.get("signal")
                    )

    def terminate(self, reason: str) -> None:
        """Stop taking runs and cancel those that go; :meth:`main` then ends."""
        if self.stopping:
            return
        self.stopping = "terminating"
        self.set_state(ClusterState.TERMINATING)
        for handle in self.engine.active():
            handle.cancel(reason)
        with self.lock:
            self.idle.notify_all()
        self._reason = reason

    # --- main -------------------------------------------------------------------------

    def main(self) -> int:
        path = self.dir / hostwire.SOCKET_NAME
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        host = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                host.serve_one(self.rfile, self.wfile)

        server = socketserver.ThreadingUnixStreamServer(str(path), Handler)
        server.daemon_threads = True
        self._reason = ""
        signals: list[str] = []

        def on_signal(signum: int, _frame: object) -> None:
            signals.append(signal.Signals(signum).name)
            self.terminate(f"host stopped by {signals[0]}")

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, on_signal)
        self.engine.writer.update_cluster(self.cluster_id, pid=os.getpid(), updated_at=time.time())
        self.set_state(ClusterState.WAITING)
        threading.Thread(target=server.serve_forever, name="server", daemon=True).start()
        try:
            with self.lock:
                while not (self.stopping and not self.engine.active()):
                    self.idle.wait(HEARTBEAT_SECONDS)
                    self._beat()
        finally:
            server.shutdown()
            server.server_close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        state = ClusterState.TERMINATED_WITH_ERRORS if signals else ClusterState.TERMINATED
        self.set_state(state, self._reason)
        hostwire.write_ended(self.dir, state.value, self._reason)
        self.engine.close()
        return 0

    def _beat(self) -> None:
        # Called with the lock held: the store write is short.
        now = time.time()
        self.engine.writer.update_cluster(self.cluster_id, updated_at=now)
        for handle in self.engine.active():
            self.engine.writer.heartbeat(handle.run_id, now)


def send(wfile: Any, doc: dict[str, Any]) -> bool:
    """Answer a client (False when it went away: the run goes on), secrets masked:
    a client knows those of its request, not this cluster's (its ``local.env``)."""
    try:
        wfile.write(hostwire.encode(redact(doc)))
        wfile.flush()
    except OSError:
        return False
    return True


def _put(events: queue.Queue[Event | None], event: Event | None) -> None:
    with contextlib.suppress(queue.Full):
        events.put_nowait(event)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from dataflow_runner.cli.output import setup_logging

    setup_logging(os.environ.get("DATAFLOW_RUNNER_HOST_LOG_LEVEL", "info"))
    return Host(Path(args[0])).main()


if __name__ == "__main__":
    sys.exit(main())
