"""Reporters: how a run shows itself on the command line, drawn from the engine's
events (``engine/events.py``).

* :class:`PlainReporter` — the Go tool's log lines (what scripts grep), used
  when stderr is not a terminal;
* :class:`JsonReporter` — ``--output json``: one JSON event per line on stdout
  (run started, step state changed, run finished), for other programs;
* ``cli/live.py`` — a live view of the steps in a terminal (rich).

None of them decides anything.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

from dataflow_runner.config.redact import redact
from dataflow_runner.engine.events import (
    Event,
    LogLine,
    RunFinished,
    RunOutcome,
    RunStarted,
    StepChanged,
)
from dataflow_runner.store.records import RunState, StepState

log = logging.getLogger("dataflow_runner")


class Reporter:
    """Receives a run's events (the engine calls it) and draws them."""

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepChanged):
            self.step(event)
        elif isinstance(event, RunStarted):
            self.started(event)
        elif isinstance(event, RunFinished):
            self.finished(event.outcome)
        elif isinstance(event, LogLine):
            pass  # forwarded lines are logged by whoever received them

    def started(self, event: RunStarted) -> None: ...

    def step(self, event: StepChanged) -> None: ...

    def finished(self, outcome: RunOutcome) -> None: ...

    def close(self) -> None: ...


class Both(Reporter):
    """Sends every event to several reporters."""

    def __init__(self, *reporters: Reporter) -> None:
        self.reporters = reporters

    def __call__(self, event: Event) -> None:
        for reporter in self.reporters:
            reporter(event)

    def close(self) -> None:
        for reporter in self.reporters:
            reporter.close()


def silence_stdout() -> None:
    """Point stdout at /dev/null: its reader is gone, and Python would complain of
    the closed pipe when it flushes at exit."""
    import os

    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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


def step_line(event: StepChanged) -> str:
    """The Go tool's line for a finished step."""
    head = f"Step '{event.name}' with id '{event.fabric_id or event.step_id}'"
    if event.state is StepState.COMPLETED:
        return (
            f"{head} completed successfully - StartTime: {go_time(event.started_at)}"
            f" - EndTime: {go_time(event.ended_at)}"
        )
    line = f"{head} was {event.state.value}"
    details = []
    if event.state is StepState.FAILED:
        if event.exit_code is not None and event.exit_code >= 0:
            details.append(f"exit code {event.exit_code}")
        elif event.reason:
            details.append(event.reason)
        if event.attempt > 1:
            details.append(f"after {event.attempt} attempts")
        if event.cause is not None:
            details.append(f"probable cause: {event.cause}")
    elif event.reason:
        details.append(event.reason)
    return line + (" - " + " - ".join(details) if details else "")


class PlainReporter(Reporter):
    """The Go tool's log lines on stderr."""

    def __init__(self, *, show_output_tail: bool = True) -> None:
        self.show_output_tail = show_output_tail

    def started(self, event: RunStarted) -> None:
        log.info(
            "Run %s of playbook '%s' started on the %s fabric (cluster %s, %d steps, "
            "concurrency %d)",
            event.run_id,
            event.playbook,
            event.fabric,
            event.cluster_id,
            event.steps,
            event.concurrency,
        )

    def step(self, event: StepChanged) -> None:
        if event.change == "submitted":
            log.debug(
                "Step '%s' with id '%s' submitted (attempt %d)",
                event.name,
                event.step_id,
                event.attempt,
            )
        elif event.change == "running":
            log.debug("Step '%s' with id '%s' is RUNNING", event.name, event.step_id)
        elif event.change == "retrying":
            why = (
                f"exit code {event.exit_code}"
                if event.exit_code and event.exit_code > 0
                else (event.reason or "failed")
            )
            log.warning(
                "Step '%s' with id '%s' attempt %d failed (%s); retrying in %.3gs "
                "(attempt %d of %d)",
                event.name,
                event.step_id,
                event.attempt,
                why,
                event.retry_in,
                event.attempt + 1,
                event.max_attempts,
            )
        elif event.state is StepState.COMPLETED:
            log.info(step_line(event))
        elif event.state is StepState.SKIPPED:
            log.info("Step '%s' skipped: %s", event.name, event.reason)
        else:
            log.error(step_line(event))
            if event.state is StepState.FAILED and event.cause and self.show_output_tail:
                for line in event.cause_detail:
                    log.error("  | %s", line)

    def finished(self, outcome: RunOutcome) -> None:
        # A failure's "N/M steps failed to complete successfully" is the error the
        # command ends with (``RunOutcome.failure``), printed once.
        if outcome.state is RunState.COMPLETED:
            log.info("All steps completed successfully")
        else:
            log.info("Details: dataflow-runner status %s", outcome.run_id)


class JsonReporter(Reporter):
    """``--output json``: one event per line on stdout."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream: IO[str] | None = stream or sys.stdout

    def _emit(self, event: dict[str, Any]) -> None:
        if self.stream is None:
            return
        try:
            # Masked as a tree, before JSON escapes a secret holding a quote (the
            # text would then hide it from a scrub).
            self.stream.write(json.dumps(redact(event), separators=(",", ":")) + "\n")
            self.stream.flush()
        except BrokenPipeError:
            # The reader went away (``| head -1``): the run goes on, unheard.
            self.stream = None
            silence_stdout()

    def submitted(self, outcome: RunOutcome) -> None:
        """A detached run (``--async``): its id, for scripts."""
        self._emit(
            {
                "event": "run_submitted",
                "time": _iso(time.time()),
                "run_id": outcome.run_id,
                "cluster_id": outcome.cluster_id,
                "steps": outcome.total,
            }
        )

    def started(self, event: RunStarted) -> None:
        self._emit(
            {
                "event": "run_started",
                "time": _iso(time.time()),
                "run_id": event.run_id,
                "playbook": event.playbook,
                "fabric": event.fabric,
                "cluster_id": event.cluster_id,
                "steps": event.steps,
                "concurrency": event.concurrency,
            }
        )

    def step(self, event: StepChanged) -> None:
        state = event.state.value
        if event.change == "retrying":
            state = "RETRYING"
        elif event.change == "submitted" and event.state is StepState.PENDING:
            state = "SUBMITTED"
        out: dict[str, Any] = {
            "event": "step",
            "time": _iso(event.at),
            "run_id": event.run_id,
            "step": event.step_id,
            "name": event.name,
            "state": state,
            "attempt": event.attempt,
        }
        if event.fabric_id:
            out["fabric_id"] = event.fabric_id
        if event.change in ("finished", "retrying"):
            out.update(exit_code=event.exit_code, reason=event.reason, cause=event.cause)
            if event.started_at and event.ended_at:
                out["duration"] = round(event.ended_at - event.started_at, 3)
        if event.change == "retrying":
            out["retry_in"] = event.retry_in
        self._emit(out)

    def finished(self, outcome: RunOutcome) -> None:
        self._emit(
            {
                "event": "run_finished",
                "time": _iso(time.time()),
                "run_id": outcome.run_id,
                "state": outcome.state.value,
                "steps": outcome.total,
                "completed": outcome.completed,
                "failed": outcome.failed,
                "cancelled": outcome.cancelled,
                "skipped": outcome.skipped,
            }
        )
