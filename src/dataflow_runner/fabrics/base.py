"""The fabric protocol: what every place that runs steps implements.

A fabric never sleeps and never touches the store: waiting, retrying and
recording live in the engine (``engine/scheduler.py``). A fabric translates
between steps and its vendor's API, converting vendor errors at the boundary
(``raise FabricUnavailable(...) from exc`` for what is worth retrying).

References (:class:`ClusterRef`, :class:`StepRef`) are JSON-serialisable and
stored, so a run can be resumed after a crash without submitting twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dataflow_runner.config.model import ClusterConfig, Playbook, Step
from dataflow_runner.store.records import ClusterState, StepState


@dataclass(frozen=True)
class ClusterRef:
    """A running cluster: EMR's ``j-...`` or a local ``l-...`` (``data`` is fabric-specific)."""

    id: str
    fabric: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRef:
    """One submitted attempt of a step, as the fabric knows it."""

    run_id: str
    step_id: str
    attempt: int
    fabric_id: str  # EMR's s-..., a local process id, ...
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.run_id, self.step_id)

    def to_json(self) -> dict[str, Any]:
        return {"fabric_id": self.fabric_id, "attempt": self.attempt, **dict(self.data)}


@dataclass(frozen=True)
class StepStatus:
    """What a poll says about one submitted step."""

    state: StepState
    exit_code: int | None = None
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None


@dataclass(frozen=True)
class ClusterStatus:
    state: ClusterState
    reason: str | None = None
    reason_code: str | None = None


@dataclass(frozen=True)
class FailureCause:
    """The probable cause of a failure, found in the step's logs."""

    summary: str  # one line: "java.lang.OutOfMemoryError: Java heap space"
    detail: tuple[str, ...] = ()  # the last relevant lines
    exit_code: int | None = None


@dataclass(frozen=True)
class Submission:
    """A step to submit, with the attempt number it will be."""

    run_id: str
    step: Step
    attempt: int


class Fabric(Protocol):
    """Where steps run. Methods are non-blocking unless they say otherwise."""

    name: str
    #: True when the fabric runs a serial playbook's steps in order by itself,
    #: with EMR's actionOnFailure semantics (submit them all at once).
    orders_steps: bool
    #: True when a submitted step runs at once (a local process); False when it
    #: may wait in the fabric's own queue first (EMR's PENDING).
    submits_running: bool
    #: True when the fabric's calls are quick and cannot half-succeed (local
    #: processes): the store transitions of one wake of the engine's loop are
    #: then committed together, after the wake's submissions. False (EMR): each
    #: is committed at once, so a submission is recorded before the next call
    #: (which may be retried for minutes) is made.
    groups_commits: bool

    def validate(self, cluster: ClusterConfig, playbook: Playbook) -> None:
        """Reject (ConfigError) what this fabric cannot run, before anything starts."""

    def plan(self, cluster: ClusterConfig, playbook: Playbook) -> dict[str, Any]:
        """The exact requests or commands this fabric would run (``--dry-run``)."""

    def launch(
        self,
        cluster: ClusterConfig,
        *,
        run_id: str,
        keep_alive: bool,
        submissions: Sequence[Submission] = (),
    ) -> tuple[ClusterRef, list[StepRef]]:
        """Start a cluster (with steps attached, for a transient run)."""

    def cluster_status(self, ref: ClusterRef) -> ClusterStatus: ...

    def terminate(self, ref: ClusterRef) -> None: ...

    def submit(self, ref: ClusterRef, submissions: Sequence[Submission]) -> list[StepRef]: ...

    def poll(self, ref: ClusterRef, steps: Sequence[StepRef]) -> dict[tuple[str, str], StepStatus]:
        """The status of every step in ``steps`` (one vendor call where possible)."""

    def cancel(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None: ...

    def wait_handles(self) -> Sequence[int]:
        """File descriptors that become readable when a step may have changed state;
        the engine waits on them (and on its own timers), the fabric never sleeps."""

    def next_timer(self) -> float | None:
        """When the fabric next needs a poll without any handle firing (e.g. to
        escalate SIGTERM to SIGKILL); None if never."""

    def diagnose(self, ref: ClusterRef, step: StepRef) -> FailureCause | None:
        """The probable cause of a failed step, from its logs."""

    def close(self) -> None: ...
