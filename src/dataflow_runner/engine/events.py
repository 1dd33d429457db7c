"""What a run tells the front ends while it goes: plain, JSON-able events.

The engine emits them to the listener given at submit (the CLI's reporters draw
them; an engine host sends them over its socket; the server will stream them).
They carry everything a front end shows, so it never reads the engine's
internals:

* :class:`RunStarted` once the cluster is there and the steps are queued;
* :class:`StepChanged` at each step transition (submitted, running, retrying,
  finished);
* :class:`LogLine` a line the engine logged for this run (forwarded by hosts);
* :class:`RunFinished` with the :class:`RunOutcome`.

>>> event_from_json(event_to_json(LogLine("info", "hello", 0.0)))
LogLine(level='info', message='hello', at=0.0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataflow_runner.errors import RunFailed
from dataflow_runner.store.records import RunKind, RunState, StepState


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    playbook: str
    fabric: str
    cluster_id: str
    steps: int
    concurrency: int


@dataclass(frozen=True)
class StepChanged:
    """A step's transition; ``change`` is ``submitted``, ``running``, ``retrying`` or
    ``finished`` (``state`` then says how)."""

    change: str
    run_id: str
    step_id: str
    name: str
    state: StepState
    attempt: int
    max_attempts: int
    at: float
    position: int = 0
    fabric_id: str = ""  # the id the fabric gave the attempt (EMR's s-...), if any
    exit_code: int | None = None
    reason: str | None = None
    cause: str | None = None  # the probable cause of a failure, one line
    cause_detail: tuple[str, ...] = ()  # the log lines it was found in
    started_at: float | None = None  # the step's first attempt
    ended_at: float | None = None
    retry_in: float = 0.0  # ``retrying``: seconds until the next attempt


@dataclass(frozen=True)
class LogLine:
    level: str  # debug, info, warning, error
    message: str
    at: float


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended (or, for ``SUBMITTED``, was left to its cluster)."""

    run_id: str
    kind: RunKind
    state: RunState
    total: int
    completed: int
    failed: int
    cancelled: int
    cluster_id: str | None = None
    fabric_label: str = ""
    reason: str | None = None
    #: Steps not run because their outputs exist (a data-aware run).
    skipped: int = 0

    @property
    def unsuccessful(self) -> int:
        return self.failed + self.cancelled

    def failure(self) -> RunFailed | None:
        """The error a front end ends with, or None when the run succeeded (or was
        left running on its cluster)."""
        if self.state is RunState.CANCELLED:
            return RunFailed(
                f"run cancelled: {self.completed}/{self.total} steps completed before it stopped"
            )
        if self.state in (RunState.FAILED, RunState.DEAD):
            return RunFailed(
                f"{self.unsuccessful}/{self.total} steps failed to complete successfully"
            )
        return None


@dataclass(frozen=True)
class RunFinished:
    outcome: RunOutcome


Event = RunStarted | StepChanged | LogLine | RunFinished
Listener = Callable[[Event], None]

_TYPES: dict[str, type] = {
    "run_started": RunStarted,
    "step": StepChanged,
    "log": LogLine,
    "run_finished": RunFinished,
}
_NAMES = {cls: name for name, cls in _TYPES.items()}


def event_to_json(event: Event) -> dict[str, Any]:
    """An event as JSON (what an engine host sends its clients)."""
    return {"type": _NAMES[type(event)], **dataclasses.asdict(event)}


def event_from_json(doc: dict[str, Any]) -> Event:
    """The event :func:`event_to_json` wrote."""
    values = dict(doc)
    cls = _TYPES[values.pop("type")]
    if cls is RunFinished:
        return RunFinished(outcome_from_json(values["outcome"]))
    if cls is StepChanged:
        values["state"] = StepState(values["state"])
        values["cause_detail"] = tuple(values.get("cause_detail") or ())
    event: Event = cls(**values)
    return event


def outcome_from_json(doc: dict[str, Any]) -> RunOutcome:
    values = dict(doc)
    values["kind"] = RunKind(values["kind"])
    values["state"] = RunState(values["state"])
    return RunOutcome(**values)
