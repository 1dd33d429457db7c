"""Reporters: how a run shows itself.

* :class:`PlainReporter` — the Go tool's log lines (what scripts grep), used
  when stderr is not a terminal;
* :class:`JsonReporter` — ``--output json``: one JSON event per line on stdout
  (run started, step state changed, run finished), for other programs;
* ``engine/live.py`` — a live view of the steps in a terminal (rich).

All of them receive the same calls; none of them decides anything.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from dataflow_runner.config.redact import scrub
from dataflow_runner.engine.scheduler import EventKind, Task, TaskEvent
from dataflow_runner.store.records import StepState

log = logging.getLogger("dataflow_runner")


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    playbook: str
    fabric: str
    cluster_id: str
    steps: int
    concurrency: int


@dataclass(frozen=True)
class RunSummary:
    state: str
    total: int
    completed: int
    failed: int
    cancelled: int

    @property
    def unsuccessful(self) -> int:
        return self.failed + self.cancelled


class Reporter(Protocol):
    def run_started(self, info: RunInfo) -> None: ...

    def task_event(self, event: TaskEvent) -> None: ...

    def run_finished(self, info: RunInfo, summary: RunSummary) -> None: ...

    def close(self) -> None: ...


_GO_TIMES: dict[int, str] = {}


def go_time(at: float | None) -> str:
    """A time as Go's ``time.Time.String()`` prints it (the Go tool's log lines),
    formatted once per second: a run of many short steps logs two per step."""
    if at is None:
        return "-"
    second = int(at // 1)  # floor: Go truncates towards the past
    text = _GO_TIMES.get(second)
    if text is None:
        if len(_GO_TIMES) > 64:
            _GO_TIMES.clear()
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
        _GO_TIMES[second] = text
    return text


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def step_line(task: Task) -> str:
    """The Go tool's line for a finished step."""
    head = f"Step '{task.step.name}' with id '{task.fabric_id}'"
    if task.state is StepState.COMPLETED:
        return (
            f"{head} completed successfully - StartTime: {go_time(task.started_at)}"
            f" - EndTime: {go_time(task.ended_at)}"
        )
    line = f"{head} was {task.state.value}"
    details = []
    if task.state is StepState.FAILED:
        if task.exit_code is not None and task.exit_code >= 0:
            details.append(f"exit code {task.exit_code}")
        elif task.reason:
            details.append(task.reason)
        if task.attempt > 1:
            details.append(f"after {task.attempt} attempts")
        if task.cause is not None:
            details.append(f"probable cause: {task.cause.summary}")
    elif task.reason:
        details.append(task.reason)
    return line + (" - " + " - ".join(details) if details else "")


class PlainReporter:
    """The Go tool's log lines on stderr."""

    def __init__(self, *, show_output_tail: bool = True) -> None:
        self.show_output_tail = show_output_tail

    def run_started(self, info: RunInfo) -> None:
        log.info(
            "Run %s of playbook '%s' started on the %s fabric (cluster %s, %d steps, "
            "concurrency %d)",
            info.run_id,
            info.playbook,
            info.fabric,
            info.cluster_id,
            info.steps,
            info.concurrency,
        )

    def task_event(self, event: TaskEvent) -> None:
        task = event.task
        if event.kind is EventKind.SUBMITTED:
            log.debug(
                "Step '%s' with id '%s' submitted (attempt %d)",
                task.step.name,
                task.id,
                task.attempt,
            )
        elif event.kind is EventKind.RUNNING:
            log.debug("Step '%s' with id '%s' is RUNNING", task.step.name, task.id)
        elif event.kind is EventKind.RETRYING:
            why = (
                f"exit code {task.exit_code}"
                if task.exit_code and task.exit_code > 0
                else (task.reason or "failed")
            )
            log.warning(
                "Step '%s' with id '%s' attempt %d failed (%s); retrying in %.3gs "
                "(attempt %d of %d)",
                task.step.name,
                task.id,
                task.attempt,
                why,
                event.delay,
                task.attempt + 1,
                task.step.retries.count + 1,
            )
        elif task.state is StepState.COMPLETED:
            log.info(step_line(task))
        else:
            log.error(step_line(task))
            if task.state is StepState.FAILED and task.cause and self.show_output_tail:
                for line in task.cause.detail:
                    log.error("  | %s", line)

    def run_finished(self, info: RunInfo, summary: RunSummary) -> None:
        # A failure's "N/M steps failed to complete successfully" is the error the
        # command ends with (cli/commands.finish), printed once.
        if summary.unsuccessful == 0 and summary.state == "COMPLETED":
            log.info("All steps completed successfully")
        else:
            log.info("Details: dataflow-runner status %s", info.run_id)

    def close(self) -> None:
        pass


class JsonReporter:
    """``--output json``: one event per line on stdout."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def _emit(self, event: dict[str, Any]) -> None:
        self.stream.write(scrub(json.dumps(event, separators=(",", ":"))) + "\n")
        self.stream.flush()

    def run_started(self, info: RunInfo) -> None:
        self._emit(
            {
                "event": "run_started",
                "time": _iso(time.time()),
                "run_id": info.run_id,
                "playbook": info.playbook,
                "fabric": info.fabric,
                "cluster_id": info.cluster_id,
                "steps": info.steps,
                "concurrency": info.concurrency,
            }
        )

    def task_event(self, event: TaskEvent) -> None:
        task = event.task
        state = task.state.value
        if event.kind is EventKind.RETRYING:
            state = "RETRYING"
        elif event.kind is EventKind.SUBMITTED and task.state is StepState.PENDING:
            state = "SUBMITTED"
        out: dict[str, Any] = {
            "event": "step",
            "time": _iso(event.at),
            "run_id": task.run_id,
            "step": task.id,
            "name": task.step.name,
            "state": state,
            "attempt": task.attempt,
        }
        if task.fabric_id != task.id:
            out["fabric_id"] = task.fabric_id
        if event.kind in (EventKind.FINISHED, EventKind.RETRYING):
            out.update(
                exit_code=task.exit_code,
                reason=task.reason,
                cause=task.cause.summary if task.cause else None,
            )
            if task.started_at and task.ended_at:
                out["duration"] = round(task.ended_at - task.started_at, 3)
        if event.kind is EventKind.RETRYING:
            out["retry_in"] = event.delay
        self._emit(out)

    def run_finished(self, info: RunInfo, summary: RunSummary) -> None:
        self._emit(
            {
                "event": "run_finished",
                "time": _iso(time.time()),
                "run_id": info.run_id,
                "state": summary.state,
                "steps": summary.total,
                "completed": summary.completed,
                "failed": summary.failed,
                "cancelled": summary.cancelled,
            }
        )

    def close(self) -> None:
        pass
