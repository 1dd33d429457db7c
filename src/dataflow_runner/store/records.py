"""What the state store keeps: plain, typed records (no ORM objects escape the store).

Times are UTC epoch seconds (floats); JSON-able fields hold already-redacted
data (see ``config/redact.py``): nothing secret reaches the store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RunState(enum.StrEnum):
    RUNNING = "RUNNING"
    SUBMITTED = "SUBMITTED"  # --async: the steps are with the cluster, nobody follows them
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self not in (RunState.RUNNING, RunState.SUBMITTED)


class StepState(enum.StrEnum):
    """EMR's step states (the ones a run can observe)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (StepState.COMPLETED, StepState.FAILED, StepState.CANCELLED)


class ClusterState(enum.StrEnum):
    """EMR's cluster states; local clusters use the same names."""

    STARTING = "STARTING"
    BOOTSTRAPPING = "BOOTSTRAPPING"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    TERMINATED_WITH_ERRORS = "TERMINATED_WITH_ERRORS"

    @property
    def finished(self) -> bool:
        return self in (ClusterState.TERMINATED, ClusterState.TERMINATED_WITH_ERRORS)


@dataclass(frozen=True)
class RunRecord:
    """One execution of a playbook."""

    id: str
    command: str  # run-transient | run | up ...
    playbook: str  # the playbook's name
    fabric: str  # local | emr
    state: RunState
    created_at: float
    playbook_path: str = ""
    cluster_name: str = ""
    cluster_config_path: str = ""
    cluster_id: str | None = None
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    heartbeat_at: float | None = None
    pid: int | None = None
    host: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    playbook_doc: dict[str, Any] = field(default_factory=dict)  # rendered, redacted
    cluster_doc: dict[str, Any] = field(default_factory=dict)  # rendered, redacted
    options: dict[str, Any] = field(default_factory=dict)  # lock, async, concurrency ...


@dataclass(frozen=True)
class StepRecord:
    """A step within a run, with its latest state."""

    run_id: str
    step_id: str
    position: int  # order in the playbook
    name: str
    type: str
    state: StepState
    action_on_failure: str = "CANCEL_AND_WAIT"
    depends_on: tuple[str, ...] = ()
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    cause: str | None = None  # probable cause of a failure, from the logs
    fabric_ref: dict[str, Any] = field(
        default_factory=dict
    )  # e.g. {"cluster": "j-..", "step": "s-.."}


@dataclass(frozen=True)
class AttemptRecord:
    """One try of a step."""

    run_id: str
    step_id: str
    attempt: int  # 1, 2, ...
    state: StepState
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    cause: str | None = None
    fabric_ref: dict[str, Any] = field(default_factory=dict)
    log_location: str = ""  # a directory, or an s3:// prefix


@dataclass(frozen=True)
class ClusterRecord:
    """A cluster this tool launched (EMR jobflow ``j-...`` or local ``l-...``)."""

    id: str
    fabric: str
    name: str
    state: ClusterState
    created_at: float
    run_id: str | None = None  # the run that launched it
    reason: str | None = None
    ended_at: float | None = None
    updated_at: float | None = None
    pid: int | None = None  # a local cluster's agent process
    host: str = ""
    endpoint: str = ""  # how to reach it (a local cluster's directory)
    config_doc: dict[str, Any] = field(default_factory=dict)  # rendered, redacted
