"""A run sent to an engine host (``engine/host.py``), followed from here as if
it ran in this process: the same events, the same outcome, cancellable the same
way. The host runs it with its own engine; only the lock is held here, by the
engine that submitted it.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from dataflow_runner import hostwire
from dataflow_runner.config.model import to_doc
from dataflow_runner.config.redact import SECRETS
from dataflow_runner.engine.events import (
    Listener,
    LogLine,
    RunFinished,
    RunOutcome,
    event_from_json,
)
from dataflow_runner.engine.handle import RunHandle
from dataflow_runner.errors import (
    ConfigError,
    ConfigErrors,
    DataflowRunnerError,
    FabricError,
    FlagError,
    LockHeldError,
    StoreError,
)
from dataflow_runner.store.records import RunKind, RunState

if TYPE_CHECKING:
    from dataflow_runner.engine.request import RunRequest
    from dataflow_runner.locks import LockHold

log = logging.getLogger("dataflow_runner")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def request_doc(request: RunRequest) -> dict[str, Any]:
    """What the host needs of a request: the playbook as rendered and validated here
    or, for a partitioned one, its source (the host renders each partition, and
    looks at the data as the cluster's steps see it); and the secret values it holds,
    which the host masks in all it records, logs and sends (this process knows more
    of them than the request names: a value read with ``systemEnv``). They travel
    over the socket only, never to a file."""
    doc: dict[str, Any] = {
        "cluster_id": request.cluster_id,
        "variables": dict(request.variables),
        "playbook_path": request.playbook_path,
        "run_id": request.run_id,
        "log_failed_steps": request.log_failed_steps,
        "force": request.force,
        "force_steps": list(request.force_steps),
        "concurrency": request.concurrency,
        # A server's run: recorded QUEUED already, the host's record turns it into the run.
        "queued": request.queued,
    }
    if request.playbook is not None:
        doc["playbook"] = to_doc(request.playbook, exclude_defaults=True)
    source = request.source
    if source is not None:
        doc["source"] = {
            "path": source.path,
            "variables": source.given,
            "text": source.text,
            "max_size": source.max_size,
        }
    if request.window is not None:
        doc["window"] = dataclasses.asdict(request.window)
    doc["secrets"] = sorted(SECRETS.found_in(doc))
    return doc


def request_from_doc(doc: dict[str, Any], cluster_id: str, run_id: str) -> RunRequest:
    """The request :func:`request_doc` sent, on the cluster ``cluster_id``."""
    from dataflow_runner.config.model import Playbook, from_doc
    from dataflow_runner.config.source import PlaybookSource
    from dataflow_runner.data.partitions import Window
    from dataflow_runner.engine.request import RunRequest

    source = doc.get("source")
    window = doc.get("window")
    return RunRequest(
        playbook=from_doc(Playbook, doc["playbook"]) if doc.get("playbook") else None,
        cluster_id=cluster_id,
        variables=doc.get("variables") or {},
        playbook_path=doc.get("playbook_path") or "",
        log_failed_steps=bool(doc.get("log_failed_steps")),
        run_id=run_id,
        source=(
            PlaybookSource(
                source["path"],
                source["variables"],
                max_size=source["max_size"],
                text=source["text"],
            )
            if source
            else None
        ),
        window=Window(**window) if window else None,
        force=bool(doc.get("force")),
        force_steps=tuple(doc.get("force_steps") or ()),
        concurrency=doc.get("concurrency"),
        queued=bool(doc.get("queued")),
        secrets=frozenset(str(v) for v in doc.get("secrets") or ()),
    )


def error_doc(exc: DataflowRunnerError) -> dict[str, Any]:
    """An error as the host answers it (a client raises it again)."""
    doc: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ConfigError):
        found = exc.errors if isinstance(exc, ConfigErrors) else [exc]
        doc["errors"] = [
            {"message": e.message, "file": e.file, "path": e.path, "line": e.line} for e in found
        ]
    return doc


def raise_error(doc: dict[str, Any]) -> None:
    """Raise the error :func:`error_doc` described."""
    kind = doc.get("type", "")
    if "errors" in doc:
        found = [
            ConfigError(e["message"], file=e.get("file"), path=e.get("path"), line=e.get("line"))
            for e in doc["errors"]
        ]
        raise found[0] if len(found) == 1 else ConfigErrors(found)
    classes: dict[str, type[DataflowRunnerError]] = {
        "FlagError": FlagError,
        "FabricError": FabricError,
        "LockHeldError": LockHeldError,
        "StoreError": StoreError,
    }
    raise classes.get(kind, DataflowRunnerError)(str(doc.get("message", "the host refused")))


def submit_remote(
    address: str, request: RunRequest, emit: Listener, hold: LockHold | None
) -> RunHandle:
    """Send ``request`` to the host at ``address``; follow it unless it is detached."""
    sock = hostwire.connect(address, timeout=30)
    try:
        sock.sendall(
            hostwire.encode({"op": "submit", "request": request_doc(request), "follow": True})
        )
        stream = hostwire.lines(sock)
        answer = next(stream, None)
        if answer is None:
            raise FabricError(f"the cluster's host at {address} closed the connection")
        if not answer.get("ok"):
            raise_error(answer.get("error", {}))
    except BaseException:
        sock.close()
        if hold is not None:
            hold.release(success=False)
        raise
    run_id = str(answer["run_id"])
    cluster_id = request.cluster_id or ""
    steps = int(answer.get("steps") or 0)
    log.info(
        "Successfully added %d steps to the %s cluster with jobflow id '%s'...",
        steps,
        answer.get("label", ""),
        cluster_id,
    )
    handle = RemoteHandle(run_id, address)
    if request.detach:
        sock.close()
        log.info("Run %s submitted; follow it with: dataflow-runner status %s", run_id, run_id)
        outcome = RunOutcome(
            run_id,
            RunKind.ATTACHED,
            RunState.SUBMITTED,
            steps,
            0,
            0,
            0,
            cluster_id=cluster_id,
        )
        handle._start(lambda: outcome, lambda: None)
        return handle

    def follow() -> RunOutcome:
        outcome: RunOutcome | None = None
        try:
            sock.settimeout(None)  # a run takes as long as it takes
            for doc in stream:
                event = event_from_json(doc)
                if isinstance(event, LogLine):
                    log.log(_LEVELS.get(event.level, logging.ERROR), "%s", event.message)
                    continue
                emit(event)
                if isinstance(event, RunFinished):
                    outcome = event.outcome
                    break
        except (OSError, ValueError) as exc:
            raise FabricError(f"lost the connection to cluster {cluster_id}: {exc}") from None
        finally:
            sock.close()
            if hold is not None:
                hold.release(success=outcome is not None and outcome.failure() is None)
        if outcome is None:
            raise FabricError(
                f"the host of cluster {cluster_id} ended the run's stream before the run ended"
            )
        return outcome

    handle._start(follow, lambda: None)
    return handle


class RemoteHandle(RunHandle):
    """A run handle whose cancel goes to the host that runs the run."""

    def __init__(self, run_id: str, address: str) -> None:
        super().__init__(run_id)
        self.address = address

    def cancel(self, reason: str = "cancelled", *, signal: str | None = None) -> None:
        self._send({"op": "cancel", "run_id": self.run_id, "reason": reason, "signal": signal})

    def force(self) -> None:
        self._send({"op": "cancel", "run_id": self.run_id, "force": True})

    def _send(self, payload: dict[str, Any]) -> None:
        try:
            hostwire.request(self.address, payload, timeout=10)
        except (OSError, ValueError) as exc:
            log.error("could not reach the cluster's host to cancel: %s", exc)
