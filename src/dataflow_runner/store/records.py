"""What the state store keeps: plain, typed records (no ORM objects escape the store).

Each record class *is* its table's declaration: one column per field, its SQL
type worked out from the field's type (``str`` → TEXT, ``float`` → DOUBLE,
``int`` → INTEGER, an enum → its value as TEXT, ``dict``/``tuple`` → JSON
text), nullable when the type admits ``None``, the default of a column that is
not nullable from the field's. :class:`Table` adds what a type cannot say: keys,
foreign keys, indexes. ``queries.py`` (the SQL text) and ``schema.py`` (the
SQLAlchemy tables the migrations are checked against) are derived from here.

Times are UTC epoch seconds (floats); JSON-able fields hold already-redacted
data (see ``config/redact.py``): nothing secret reaches the store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar


class RunKind(enum.StrEnum):
    """How a run came to be."""

    TRANSIENT = "transient"  # on a cluster launched for it, terminated after it
    ATTACHED = "attached"  # on a cluster that was already running


class RunState(enum.StrEnum):
    #: Accepted by a server, not started yet (a server's worker starts it).
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUBMITTED = "SUBMITTED"  # --async: the steps are with the cluster, nobody follows them
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    #: Never stored: what the reader reports for a RUNNING run whose runner is gone
    #: (no heartbeat for a while, or its process died); ``resume`` continues it.
    DEAD = "DEAD"

    @property
    def finished(self) -> bool:
        return self in (RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED)


class StepState(enum.StrEnum):
    """EMR's step states (the ones a run can observe)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    #: Not run: its outputs exist (a data-aware run); as good as COMPLETED downstream.
    SKIPPED = "SKIPPED"

    @property
    def finished(self) -> bool:
        return self in _FINISHED_STEPS

    @property
    def done(self) -> bool:
        """Whatever depends on it may run."""
        return self in (StepState.COMPLETED, StepState.SKIPPED)


_FINISHED_STEPS = frozenset(
    {StepState.COMPLETED, StepState.FAILED, StepState.CANCELLED, StepState.SKIPPED}
)


class ClusterState(enum.StrEnum):
    """EMR's cluster states; other fabrics use the same names."""

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
class Table:
    """What a record's field types do not say about its table."""

    name: str
    keys: tuple[str, ...]
    #: (columns, referenced table, referenced columns); rows go with the row they refer to.
    foreign_keys: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()
    #: index name → columns.
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: unique index name → columns (NULLs never collide: a row leaves it by a NULL).
    unique: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """One execution of a playbook."""

    TABLE: ClassVar[Table] = Table(
        "runs",
        keys=("id",),
        indexes=(
            ("ix_runs_created_at", ("created_at",)),
            ("ix_runs_state", ("state",)),
            ("ix_runs_playbook", ("playbook",)),
            ("ix_runs_partition_first", ("partition_first",)),
        ),
    )

    id: str
    kind: RunKind
    playbook: str  # the playbook's name
    fabric: str
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
    #: The first and last partitions of a partitioned playbook's run (their starts,
    #: UTC RFC 3339: they sort as they read), None otherwise.
    partition_first: str | None = None
    partition_last: str | None = None
    #: The name of the server token that submitted the run ("" for anything else).
    submitted_by: str = ""


@dataclass(frozen=True)
class StepRecord:
    """A step within a run, with its latest state."""

    TABLE: ClassVar[Table] = Table(
        "steps",
        keys=("run_id", "step_id"),
        foreign_keys=((("run_id",), "runs", ("id",)),),
        # The primary key already finds a run's steps; this one also gives them in order.
        indexes=(
            ("ix_steps_run_position", ("run_id", "position")),
            ("ix_steps_partition", ("partition",)),
        ),
    )

    run_id: str
    step_id: str
    position: int  # order in the playbook
    name: str
    type: str
    state: StepState
    action_on_failure: str
    depends_on: tuple[str, ...] = ()
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    cause: str | None = None  # probable cause of a failure, from the logs
    fabric_ref: dict[str, Any] = field(default_factory=dict)  # the last attempt's
    #: The partition (its start, RFC 3339) of a partitioned playbook's step.
    partition: str | None = None


@dataclass(frozen=True)
class AttemptRecord:
    """One try of a step."""

    TABLE: ClassVar[Table] = Table(
        "attempts",
        keys=("run_id", "step_id", "attempt"),
        foreign_keys=((("run_id", "step_id"), "steps", ("run_id", "step_id")),),
    )

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
    log_location: str = ""  # a file prefix, or an s3:// prefix


@dataclass(frozen=True)
class ClusterRecord:
    """A cluster this tool launched or ran on (EMR's ``j-...``, a local ``l-...``)."""

    TABLE: ClassVar[Table] = Table(
        "clusters",
        keys=("id",),
        indexes=(
            ("ix_clusters_state", ("state",)),
            ("ix_clusters_created_at", ("created_at",)),
        ),
    )

    id: str
    fabric: str
    name: str
    state: ClusterState
    created_at: float
    run_id: str | None = None  # the run that launched it
    reason: str | None = None
    ended_at: float | None = None
    updated_at: float | None = None
    pid: int | None = None  # the process that hosts it, for a cluster on this machine
    host: str = ""
    endpoint: str = ""  # how to reach its engine host (a socket's directory)
    config_doc: dict[str, Any] = field(default_factory=dict)  # rendered, redacted


class Service(enum.StrEnum):
    """Whether a running cluster takes new jobs (Genie's words; ``TERMINATED`` is
    worked out from the cluster's own state, never stored)."""

    UP = "UP"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"


@dataclass(frozen=True)
class RegistryRecord:
    """What the clusters registry adds to a cluster (``engine/clusters.py``): its
    tags, capacity, whether it takes jobs, and its load as last polled. A cluster
    without a row has the defaults. No foreign key: a pool may register the
    cluster it is launching before the cluster's own record exists."""

    TABLE: ClassVar[Table] = Table(
        "cluster_registry", keys=("cluster_id",), indexes=(("ix_cluster_registry_pool", ("pool",)),)
    )

    cluster_id: str
    created_at: float
    tags: tuple[str, ...] = ()
    #: Steps it runs at once (the denominator of its load).
    capacity: int = 1
    service: Service = Service.UP
    #: Active (RUNNING) and PENDING steps, as last polled; ``routed``: jobs sent to it
    #: since (the poll that sees them resets it).
    active: int = 0
    pending: int = 0
    routed: int = 0
    polled_at: float | None = None
    #: 1: the poller terminates it once it is OUT_OF_SERVICE and idle (a drain's end).
    terminate_when_idle: int = 0
    #: The pool that launched it, if any.
    pool: str | None = None
    #: How it came: "launched" (by this tool), "attached" (by id).
    origin: str = "launched"
    updated_at: float | None = None
    updated_by: str = ""


@dataclass(frozen=True)
class CommandRecord:
    """Genie's command resource, kept small: a named, tagged way to run a job's
    arguments as one step of a given kind (``engine/commands.py``)."""

    TABLE: ClassVar[Table] = Table("commands", keys=("name",))

    name: str
    kind: str  # spark-submit, hive, hadoop-jar, shell
    created_at: float
    updated_at: float
    tags: tuple[str, ...] = ()
    description: str = ""
    #: Arguments put before the job's (a jar for hadoop-jar, options for spark-submit).
    args: tuple[str, ...] = ()
    updated_by: str = ""


@dataclass(frozen=True)
class GenieJobRecord:
    """A job submitted through the Genie-compatible API: the client's own id, the
    run it became (None when no cluster could take it), and what Genie's reads
    show of it (``server/genie/``)."""

    TABLE: ClassVar[Table] = Table(
        "genie_jobs",
        keys=("id",),
        indexes=(("ix_genie_jobs_run", ("run_id",)), ("ix_genie_jobs_created", ("created_at",))),
    )

    id: str
    created_at: float
    run_id: str | None = None
    name: str = ""
    genie_user: str = ""
    version: str = ""
    #: The job's request as sent (redacted), for ``/request``.
    request: dict[str, Any] = field(default_factory=dict)
    cluster_id: str | None = None
    command: str | None = None
    #: A status of its own when it has no run (FAILED: no cluster matched).
    status: str | None = None
    message: str = ""
    finished_at: float | None = None
    submitted_by: str = ""
    #: Where its attachments were put ("" when none).
    workdir: str = ""


class Role(enum.StrEnum):
    """What a server token may do; each role may do what the ones before it may."""

    VIEWER = "viewer"  # read
    SUBMITTER = "submitter"  # read, submit, cancel and retry its own runs
    ADMIN = "admin"  # everything: any run, saved playbooks, tokens

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True)
class RequestRecord:
    """What a server was asked to run, for a run made from documents rather than
    files: the documents, variables and options, encrypted (they may hold secrets;
    ``engine/payload.py``), and a cancel asked of whichever server runs it."""

    TABLE: ClassVar[Table] = Table(
        "run_requests", keys=("run_id",), foreign_keys=((("run_id",), "runs", ("id",)),)
    )

    run_id: str
    payload: str  # a Fernet token
    created_at: float
    cancel_reason: str | None = None


@dataclass(frozen=True)
class TokenRecord:
    """A server's bearer token: only its SHA-256 is kept."""

    TABLE: ClassVar[Table] = Table(
        "tokens",
        keys=("id",),
        indexes=(("ix_tokens_hash", ("hash",)), ("ix_tokens_name", ("name",))),
    )

    id: str
    name: str
    role: Role
    hash: str  # hex SHA-256 of the token
    created_at: float
    revoked_at: float | None = None
    last_used_at: float | None = None


@dataclass(frozen=True)
class SavedPlaybookRecord:
    """A playbook kept on a server under a name, with its cluster config (or the
    name of a pool of clusters) and default variables, encrypted like a request."""

    TABLE: ClassVar[Table] = Table("saved_playbooks", keys=("name",))

    name: str
    payload: str  # a Fernet token: the documents and the default variables
    created_at: float
    updated_at: float
    playbook: str = ""  # the playbook's own name, shown without decrypting
    pool: str | None = None
    updated_by: str = ""


class PoolState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    #: Deleted: it launches nothing more, its clusters end once idle, then it is gone.
    DELETING = "DELETING"


@dataclass(frozen=True)
class PoolRecord:
    """A pool of clusters (``engine/pools.py``): the cluster config its clusters are
    launched with (sealed like a request: it may hold secrets), the tags they carry
    and how many there are."""

    TABLE: ClassVar[Table] = Table("pools", keys=("name",))

    name: str
    payload: str  # a Fernet token: {"cluster": the cluster config document}
    created_at: float
    updated_at: float
    fabric: str = ""
    size_class: str | None = None
    tags: tuple[str, ...] = ()
    min_clusters: int = 0
    max_clusters: int = 1
    max_steps_per_cluster: int = 1
    idle_minutes: float = 30.0
    state: PoolState = PoolState.ACTIVE
    updated_by: str = ""


class LaunchState(enum.StrEnum):
    """A pool's launch: recorded before it is sent, so that it is sent once."""

    RECORDED = "RECORDED"  # not sent yet, or its answer was lost: looked for, then sent
    SENT = "SENT"  # the fabric has it: its cluster is known
    ENDED = "ENDED"  # its cluster ended, or it could not be launched: its slot is free


@dataclass(frozen=True)
class PoolLaunchRecord:
    """One cluster a pool launched (or is launching). ``slot`` (``pool#n`` while the
    launch lives) is unique: two managers cannot launch for the same need."""

    TABLE: ClassVar[Table] = Table(
        "pool_launches",
        keys=("id",),
        indexes=(("ix_pool_launches_pool", ("pool",)),),
        unique=(("ux_pool_launches_slot", ("slot",)),),
    )

    id: str  # the launch's token: it tags the cluster, so a lost answer is found
    pool: str
    created_at: float
    state: LaunchState = LaunchState.RECORDED
    slot: str | None = None
    cluster_id: str | None = None
    sent_at: float | None = None
    ended_at: float | None = None
    reason: str | None = None
    #: Since when (the manager's clock) its cluster has run nothing.
    idle_since: float | None = None
    #: When the manager asked its cluster to end (idle, or its pool deleted).
    terminate_at: float | None = None


@dataclass(frozen=True)
class PoolWaitRecord:
    """A run sent to a pool: waiting for a cluster (``cluster_id`` None: the pool's
    queue, which no worker claims from), then placed on one."""

    TABLE: ClassVar[Table] = Table(
        "pool_waits",
        keys=("run_id",),
        foreign_keys=((("run_id",), "runs", ("id",)),),
        indexes=(("ix_pool_waits_pool", ("pool",)),),
    )

    run_id: str
    pool: str
    created_at: float
    steps: int = 1  # how many steps it brings to its cluster's load
    cluster_id: str | None = None
    placed_at: float | None = None


@dataclass(frozen=True)
class ScheduleRecord:
    """A schedule the server runs: a saved playbook whose playbook has a
    ``schedule`` section (its spec is in the saved playbook); what is kept here
    is what changes while it runs."""

    TABLE: ClassVar[Table] = Table("schedules", keys=("name",))

    name: str  # the saved playbook's
    playbook: str  # the playbook's own name
    cron: str
    timezone: str
    created_at: float
    updated_at: float
    paused: int = 0  # 1: paused
    #: The git commit the schedule was deployed from ("": put through the API).
    git_commit: str = ""
    #: The last alert sent for it: kind, outcome, tries, status code, when.
    last_alert: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TickRecord:
    """One run a schedule started, under a key unique for the schedule: a tick's
    time, a partition and the tick that looked at it, a partition whose inputs
    appeared, or a manual trigger. Recorded with the run, in one transaction, so
    no tick starts twice across restarts and failovers."""

    TABLE: ClassVar[Table] = Table(
        "schedule_ticks",
        keys=("schedule", "ref"),
        indexes=(("ix_schedule_ticks_run", ("run_id",)),),
    )

    schedule: str
    ref: str
    run_id: str
    kind: str  # tick, catch-up, inputs, manual
    tick_at: float | None = None
    partition: str | None = None  # UTC RFC 3339
    created_at: float = 0.0


@dataclass(frozen=True)
class AlertRecord:
    """An alert of a schedule's owner (a failed run, a missed deadline), sent
    once (its key is unique), with its outcome."""

    TABLE: ClassVar[Table] = Table(
        "schedule_alerts",
        keys=("schedule", "ref"),
        indexes=(("ix_schedule_alerts_created", ("created_at",)),),
    )

    schedule: str
    ref: str  # failure:RUN_ID, deadline:PARTITION
    kind: str  # failure, deadline
    created_at: float
    message: str = ""
    state: str = "pending"  # pending, delivered, failed
    attempts: int = 0
    status_code: int | None = None
    error: str = ""
    ended_at: float | None = None


@dataclass(frozen=True)
class LeaseRecord:
    """Who does a job that one server only may do at a time (the scheduler), until
    when: the holder renews it; anyone takes it once it has expired."""

    TABLE: ClassVar[Table] = Table("leases", keys=("name",))

    name: str
    holder: str
    expires_at: float
    acquired_at: float


@dataclass(frozen=True)
class DeploymentRecord:
    """A commit a server deployed from git, or refused (its errors)."""

    TABLE: ClassVar[Table] = Table(
        "deployments", keys=("id",), indexes=(("ix_deployments_created", ("created_at",)),)
    )

    id: str
    git_commit: str
    created_at: float
    repo: str = ""  # its URL, password masked
    branch: str = ""
    path: str = ""
    valid: int = 0  # 1: every playbook and schedule in it is valid
    #: 1: it is the version running now.
    active: int = 0
    message: str = ""  # the commit's subject
    errors: tuple[dict[str, Any], ...] = ()  # file, line, path, message
    playbooks: tuple[str, ...] = ()  # the saved playbooks it made


RECORDS: tuple[type[Any], ...] = (
    RunRecord,
    StepRecord,
    AttemptRecord,
    ClusterRecord,
    RequestRecord,
    TokenRecord,
    SavedPlaybookRecord,
    PoolRecord,
    PoolLaunchRecord,
    PoolWaitRecord,
    RegistryRecord,
    CommandRecord,
    GenieJobRecord,
    ScheduleRecord,
    TickRecord,
    AlertRecord,
    LeaseRecord,
    DeploymentRecord,
)
