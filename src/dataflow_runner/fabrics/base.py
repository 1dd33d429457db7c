"""The fabric protocol: what every place that runs steps implements.

Two objects per fabric:

* a :class:`Driver` (one per fabric, found through ``fabrics/registry.py``)
  knows the fabric's settings: it opens a :class:`Fabric` for a cluster config
  and a playbook, works out a run's step concurrency, and plans what a dry run
  prints;
* a :class:`Fabric` is one open connection to it, used by one run (or by one
  engine host's runs on its cluster): clusters, steps, logs.

A fabric never sleeps and never touches the store: waiting, retrying and
recording live in the engine (``engine/``). It translates between steps and its
vendor's API, converting vendor errors at the boundary (``raise
FabricUnavailable(...) from exc`` for what is worth retrying).

References (:class:`ClusterRef`, :class:`StepRef`) are JSON-serialisable and
stored, so a run can be resumed after a crash without submitting twice.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dataflow_runner.store.records import ClusterState, StepState

if TYPE_CHECKING:
    from dataflow_runner.config.model import ClusterConfig, Playbook, Step
    from dataflow_runner.store.records import AttemptRecord, RunRecord


@dataclass(frozen=True)
class ClusterRef:
    """A running cluster: EMR's ``j-...``, a local ``l-...`` (``data`` is the fabric's)."""

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

    @classmethod
    def from_json(cls, run_id: str, step_id: str, doc: Mapping[str, Any]) -> StepRef:
        """The ref :meth:`to_json` stored (an attempt's ``fabric_ref``)."""
        data = {k: v for k, v in doc.items() if k not in ("fabric_id", "attempt")}
        return cls(run_id, step_id, int(doc.get("attempt", 1)), str(doc.get("fabric_id", "")), data)


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
    reason_code: str | None = None  # the vendor's code: BOOTSTRAP_FAILURE is retried


#: The longest cause (and line of its detail) kept: a step's own words, stored with
#: its record and shown on every failure, so a 10 MB line must not come along whole.
MAX_CAUSE = 2048
#: How many lines of detail are kept.
MAX_DETAIL_LINES = 10


def bounded(text: str, limit: int = MAX_CAUSE) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut.

    >>> bounded("x" * 5, 3)
    'xx…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class FailureCause:
    """The probable cause of a failure, found in the step's logs (or told by the
    fabric, as EMR's FailureDetails). Every cause is bounded here, where it is made:
    what is stored, sent to front ends and printed is at most :data:`MAX_CAUSE`
    characters and :data:`MAX_DETAIL_LINES` lines of as many."""

    summary: str  # one line: "java.lang.OutOfMemoryError: Java heap space"
    detail: tuple[str, ...] = ()  # the last relevant lines
    exit_code: int | None = None

    def __post_init__(self) -> None:
        # Frozen: the bounded values are set the way dataclasses set them.
        object.__setattr__(self, "summary", bounded(self.summary))
        lines = tuple(bounded(line) for line in self.detail[-MAX_DETAIL_LINES:])
        object.__setattr__(self, "detail", lines)


@dataclass(frozen=True)
class Submission:
    """A step to submit, with the attempt number it will be."""

    run_id: str
    step: Step
    attempt: int


@dataclass(frozen=True)
class ClusterStep:
    """A step a cluster holds, in common terms (what ``resume`` reconciles)."""

    id: str
    name: str
    state: StepState
    created_at: float | None = None


class Recovered(enum.Enum):
    """What became of an attempt whose runner died (see :meth:`Fabric.reattach`)."""

    RUNNING = "running"  # it still runs: follow it to its end
    ENDED = "ended"  # it ended while its runner was dead: its outcome is known
    NEVER_STARTED = "never started"  # it never started: run it
    LOST = "lost"  # it started and its outcome cannot be known


@dataclass(frozen=True)
class Reattached:
    """How a dead runner's attempt is taken up: ``ref`` follows it (RUNNING, ENDED)."""

    how: Recovered
    ref: StepRef | None = None


@dataclass(frozen=True)
class TaggedCluster:
    """A cluster this tool launched, as the fabric lists it (``clusters --orphans``)."""

    id: str
    name: str
    state: str
    run_id: str  # the run it was launched for ("" when none)
    transient: bool


@dataclass(frozen=True)
class Target:
    """Data a step reads or writes: a file, or a directory when ``uri`` ends with
    ``/`` — there when it holds ``_SUCCESS`` (``marker``), else when it holds anything."""

    uri: str
    marker: bool = True

    @property
    def directory(self) -> bool:
        return self.uri.endswith("/")


@dataclass(frozen=True)
class Plan:
    """What a dry run prints: a log line, and the exact request as JSON."""

    message: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class Options:
    """What a front end may tune when a fabric is opened."""

    state_dir: Path
    #: Seconds between status polls of a remote fabric (None: the fabric's default).
    poll_interval: float | None = None
    #: The store URL, for the engine hosts a fabric starts (a local cluster's).
    store: str | None = None


class Fabric(Protocol):
    """Where steps run. Methods are non-blocking unless they say otherwise."""

    name: str
    #: How the fabric is named in the Go tool's log lines ("EMR", "local").
    label: str
    #: True when the fabric runs a serial playbook's steps in order by itself,
    #: with EMR's actionOnFailure semantics (submit them all at once).
    orders_steps: bool
    #: True when a submitted step runs at once (a local process); False when it
    #: may wait in the fabric's own queue first (EMR's PENDING).
    submits_running: bool
    #: True when a cancelled transient run terminates its cluster at once rather
    #: than stopping its steps first: the cluster costs money while it waits, and
    #: terminating it stops the steps (EMR).
    terminate_first: bool

    def validate(self, cluster: ClusterConfig | None, playbook: Playbook) -> None:
        """Reject (ConfigError) what this fabric cannot run, before anything starts."""

    def poll_interval(self, elapsed: float) -> float:
        """Seconds between polls ``elapsed`` seconds into a wait (a fabric whose
        handles wake the engine may answer a long time)."""

    # --- clusters ---------------------------------------------------------------------

    def launch(
        self,
        cluster: ClusterConfig,
        *,
        run_id: str,
        keep_alive: bool,
        transient: bool = True,
        submissions: Sequence[Submission] = (),
        concurrency: int | None = None,
    ) -> tuple[ClusterRef, list[StepRef]]:
        """Start a cluster (with steps attached, for a transient run). ``run_id``
        tags it, so a launch whose answer was lost is found, not repeated.
        ``transient``: the cluster lives for one run (else: ``up``, a cluster that
        takes runs until it is terminated). ``concurrency``: how many of the run's
        steps may run at once, as the engine worked it out once the run's steps
        were known (all the partitions of a backfill); None: the fabric's own
        choice for the playbook it was opened with."""

    def cluster_status(self, ref: ClusterRef) -> ClusterStatus: ...

    def terminate(self, ref: ClusterRef) -> None:
        """Ask the cluster to end (its steps with it); the engine waits for it."""

    def find_cluster(
        self, cluster_id: str | None, name: str, run_id: str, since: float
    ) -> ClusterRef | None:
        """The cluster a dead runner's run was on: ``cluster_id`` if it recorded one,
        else the one launched for ``run_id`` (by its tag); None when it is gone."""

    def set_concurrency(self, ref: ClusterRef, level: int) -> None:
        """Let the cluster run ``level`` steps at once."""

    # --- steps ------------------------------------------------------------------------

    def submit(self, ref: ClusterRef, submissions: Sequence[Submission]) -> list[StepRef]: ...

    def poll(self, ref: ClusterRef, steps: Sequence[StepRef]) -> dict[tuple[str, str], StepStatus]:
        """The status of every step in ``steps`` (one vendor call where possible)."""

    def cancel(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        """Ask the steps to stop (a grace period, where the fabric has one)."""

    def kill(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        """Stop the steps now (a second Ctrl-C): no grace period."""

    def list_steps(self, ref: ClusterRef, since: float) -> list[ClusterStep]:
        """The cluster's steps created at or after ``since``, oldest first."""

    def reattach(self, ref: ClusterRef, stored: StepRef) -> Reattached:
        """An attempt a dead runner recorded as started and not ended: whether it still
        runs, ended (its outcome known: the ref's first poll gives it), never started,
        or is lost."""

    def unrecorded(
        self,
        ref: ClusterRef,
        run_id: str,
        attempts: Mapping[str, tuple[str, int]],
        *,
        since: float,
        known: Collection[str] = (),
    ) -> list[StepRef]:
        """Attempts a dead runner started without recording them: ``attempts`` maps
        each step that may have one to its name and the attempt number it would be
        (``since``: when the run started; ``known``: the fabric ids the store holds
        already); the refs to follow them by (their outcome may be known already)."""

    def wait_handles(self) -> Sequence[int]:
        """File descriptors that become readable when a step may have changed state;
        the engine waits on them (and on its own timers), the fabric never sleeps."""

    def next_timer(self) -> float | None:
        """When the fabric next needs a poll without any handle firing (e.g. to
        escalate SIGTERM to SIGKILL); None if never."""

    def diagnose(self, ref: ClusterRef, step: StepRef) -> FailureCause | None:
        """The probable cause of a failed step, from what the fabric saw or its logs."""

    def fetch_logs(
        self, ref: ClusterRef, step: StepRef, log_uri: str = ""
    ) -> tuple[str, dict[str, str]] | None:
        """A finished step's log files (where they are, and their text by name),
        or None while the fabric has not made them available yet."""

    def exists(self, targets: Sequence[Target]) -> dict[str, bool | None]:
        """Whether each target exists (by uri), checked in bulk (one listing per
        common prefix where the store lists); None where it cannot be known."""

    def close(self) -> None: ...


class Driver(Protocol):
    """A fabric's entry point (see the module's docstring)."""

    name: str
    label: str

    def open(
        self, cluster: ClusterConfig | None, playbook: Playbook | None, options: Options
    ) -> Fabric:
        """A fabric for a run of ``playbook`` on ``cluster`` (None: a cluster that
        runs already, reached with the playbook's own settings)."""

    def hosted(
        self, cluster: ClusterConfig, cluster_id: str, options: Options
    ) -> Callable[[], Fabric]:
        """For an engine host running cluster ``cluster_id``: the fabric of each run
        on it (views sharing the cluster's capacity, where the fabric has one)."""

    def concurrency(self, cluster: ClusterConfig | None, playbook: Playbook) -> int:
        """How many of the playbook's steps run at once."""

    def host(self, cluster_id: str, state_dir: Path) -> str | None:
        """The address of the engine host that runs this cluster's steps (a local
        cluster's socket), or None when the engine drives the cluster itself."""

    def plan_transient(self, cluster: ClusterConfig, playbook: Playbook, run_id: str) -> Plan: ...

    def plan_attached(self, playbook: Playbook, cluster_id: str) -> Plan: ...

    def plan_launch(self, cluster: ClusterConfig) -> Plan: ...

    def plan_terminate(self, cluster: ClusterConfig, cluster_id: str) -> Plan: ...

    def read_logs(self, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        """The log files of an attempt whose logs the fabric keeps (not local files)."""

    def tagged_clusters(self, region: str) -> list[TaggedCluster]:
        """Clusters this tool launched that are still up (``clusters --orphans``)."""
