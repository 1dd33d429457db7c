"""Every query of the store, written once as portable SQL text with ``:name`` parameters,
and the mapping between records and rows.

Both backends run these strings unchanged (sqlite3 and SQLAlchemy's ``text()``
accept the same ``:name`` style), so only SQL that SQLite (3.24+, for
``ON CONFLICT``; 3.25+ for the migrations' ``RENAME COLUMN``) and PostgreSQL
both understand belongs here. Tables and
columns are worked out from the records (``records.py`` declares them once).

>>> update_sql("runs", ("state", "reason"))
'UPDATE runs SET state = :state, reason = :reason WHERE id = :id'
"""

from __future__ import annotations

import dataclasses
import enum
import json
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from dataflow_runner.errors import StoreError
from dataflow_runner.store.records import (
    RECORDS,
    AlertRecord,
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    CommandRecord,
    DeploymentRecord,
    GenieJobRecord,
    LeaseRecord,
    PoolLaunchRecord,
    PoolRecord,
    PoolWaitRecord,
    RegistryRecord,
    RequestRecord,
    RunRecord,
    SavedPlaybookRecord,
    ScheduleRecord,
    StepRecord,
    TickRecord,
    TokenRecord,
)

R = TypeVar(
    "R",
    PoolRecord,
    PoolLaunchRecord,
    PoolWaitRecord,
    RunRecord,
    StepRecord,
    AttemptRecord,
    ClusterRecord,
    RequestRecord,
    TokenRecord,
    SavedPlaybookRecord,
    RegistryRecord,
    CommandRecord,
    GenieJobRecord,
    ScheduleRecord,
    TickRecord,
    AlertRecord,
    LeaseRecord,
    DeploymentRecord,
)


@dataclass(frozen=True)
class Column:
    """A column, as its record's field declares it (see ``records.py``)."""

    name: str
    kind: str  # "text", "double", "integer", "json"
    nullable: bool
    enum: type[enum.StrEnum] | None = None  # stored as its value
    tuple_: bool = False  # a JSON array read back as a tuple
    default: Any = None  # a column that is not nullable: its value when not given


def _column(f: dataclasses.Field[Any], hint: Any) -> Column:
    args = typing.get_args(hint)
    nullable = type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if nullable else hint
    origin = typing.get_origin(base)
    default: Any = None
    if f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    if origin in (dict, tuple):
        return Column(f.name, "json", nullable, tuple_=origin is tuple, default=default)
    if isinstance(base, type) and issubclass(base, enum.StrEnum):
        return Column(f.name, "text", nullable, enum=base, default=default)
    kinds = {str: "text", float: "double", int: "integer"}
    return Column(f.name, kinds[base], nullable, default=default)


def columns(cls: type) -> tuple[Column, ...]:
    """The columns of a record's table, in field order."""
    hints = typing.get_type_hints(cls)
    return tuple(_column(f, hints[f.name]) for f in dataclasses.fields(cls))


TABLES: dict[type, str] = {cls: cls.TABLE.name for cls in RECORDS}
SCHEMA: dict[str, tuple[Column, ...]] = {cls.TABLE.name: columns(cls) for cls in RECORDS}
COLUMNS: dict[str, tuple[str, ...]] = {t: tuple(c.name for c in cs) for t, cs in SCHEMA.items()}
KEYS: dict[str, tuple[str, ...]] = {cls.TABLE.name: cls.TABLE.keys for cls in RECORDS}
# The columns each table converts on the way in and out: enums and JSON.
_ENUMS: dict[str, dict[str, type[enum.StrEnum]]] = {
    t: {c.name: c.enum for c in cs if c.enum is not None} for t, cs in SCHEMA.items()
}
_JSON: dict[str, dict[str, bool]] = {
    t: {c.name: c.tuple_ for c in cs if c.kind == "json"} for t, cs in SCHEMA.items()
}


def _select(table: str, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    columns = ", ".join(prefix + c for c in COLUMNS[table])
    return f"SELECT {columns} FROM {table}{' ' + alias if alias else ''}"


def _insert(table: str) -> str:
    columns = COLUMNS[table]
    values = ", ".join(":" + c for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


def _where_keys(table: str) -> str:
    return " AND ".join(f"{k} = :{k}" for k in KEYS[table])


SCHEMA_VERSION = "SELECT version_num FROM alembic_version"

# --- runs ---------------------------------------------------------------------------------
INSERT_RUN = _insert("runs")
SELECT_RUN = f"{_select('runs')} WHERE id = :id"
# substr, not LIKE: LIKE treats "_" as a wildcard and is case-blind on SQLite.
RUN_IDS_BY_PREFIX = (
    "SELECT id FROM runs WHERE substr(id, 1, CAST(:length AS INTEGER)) = :prefix "
    "ORDER BY created_at DESC, id DESC LIMIT :limit"
)
COUNT_RUNS_BY_PREFIX = (
    "SELECT COUNT(*) AS n FROM runs WHERE substr(id, 1, CAST(:length AS INTEGER)) = :prefix"
)
LIST_RUNS = f"{_select('runs')}{{where}} ORDER BY created_at DESC, id DESC LIMIT :limit"
RUN_FILTERS = {
    "state": "state = :state",
    "kind": "kind = :kind",
    # A run covers a partition when its window meets [:part_lo, :part_hi).
    "part_lo": "(partition_first < :part_hi AND partition_last >= :part_lo)",
    # Keyset pagination: the runs after a page's last (newest first).
    "after": "(created_at < :after_at OR (created_at = :after_at AND id < :after_id))",
    "playbook": "playbook = :playbook",
    "since": "created_at >= :since",
    "until": "created_at < :until",
}
HEARTBEAT = "UPDATE runs SET heartbeat_at = :at WHERE id = :id"
# Take a run over from its dead runner, only if nobody else did since it was read:
# compare-and-set on the runner's identity and last heartbeat (-1 stands for none).
CLAIM_RUN = (
    "UPDATE runs SET state = :state, pid = :pid, host = :host, heartbeat_at = :at, "
    "ended_at = NULL, reason = NULL, options = :options "
    "WHERE id = :id AND state = :was_state AND COALESCE(pid, -1) = :was_pid "
    "AND host = :was_host AND COALESCE(heartbeat_at, -1) = :was_beat"
)

# --- steps and attempts -------------------------------------------------------------------
INSERT_STEP = _insert("steps")
INSERT_ATTEMPT = _insert("attempts")
SELECT_STEPS = f"{_select('steps')} WHERE run_id = :run_id ORDER BY position"
SELECT_ATTEMPTS = (
    f"{_select('attempts', 'a')} JOIN steps s ON s.run_id = a.run_id AND s.step_id = a.step_id "
    "WHERE a.run_id = :run_id{step} ORDER BY s.position, a.attempt"
)
ATTEMPTS_OF_STEP = " AND a.step_id = :step_id"
# The steps of a playbook's partitions, newest run first (the partitions grid).
PARTITION_STEPS = (
    f"{_select('steps', 's')} JOIN runs r ON r.id = s.run_id "
    "WHERE r.playbook = :playbook AND s.partition >= :part_lo AND s.partition <= :part_hi "
    "ORDER BY r.created_at DESC, r.id DESC, s.position"
)
# A retry keeps the step's first start time: COALESCE only fills it once.
START_STEP = (
    "UPDATE steps SET state = :state, attempts = :attempt, fabric_ref = :fabric_ref, "
    "started_at = COALESCE(started_at, :started_at) WHERE run_id = :run_id AND step_id = :step_id"
)
_OUTCOME = (
    "state = :state, ended_at = :ended_at, exit_code = :exit_code, reason = :reason, cause = :cause"
)
FINISH_ATTEMPT = f"UPDATE attempts SET {_OUTCOME} WHERE {_where_keys('attempts')}"
FINISH_STEP = f"UPDATE steps SET {_OUTCOME} WHERE {_where_keys('steps')}"

# --- clusters -----------------------------------------------------------------------------
UPSERT_CLUSTER = f"{_insert('clusters')} ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in COLUMNS["clusters"] if c != "id"
)
SELECT_CLUSTER = f"{_select('clusters')} WHERE id = :id"
LIST_CLUSTERS = (
    f"{_select('clusters')}{{where}} ORDER BY created_at DESC, id DESC LIMIT :limit OFFSET :offset"
)
_FINISHED = ", ".join(f"'{s.value}'" for s in ClusterState if s.finished)
CLUSTER_FILTERS = {
    "fabric": "fabric = :fabric",
    "active": f"state NOT IN ({_FINISHED})",
}


# --- a server's queue (``engine/queue.py``) -------------------------------------------
INSERT_REQUEST = _insert("run_requests")
INSERT_WAIT = _insert("pool_waits")
SELECT_REQUEST = f"{_select('run_requests')} WHERE run_id = :run_id"
# A worker claims the oldest QUEUED run nobody holds (a claim is a lease: the
# claimer's heartbeat, which goes stale if it dies before starting the run). On
# PostgreSQL, concurrent claimers skip each other's rows; SQLite serialises writers.
# A run in a pool's queue (not placed on a cluster yet) waits for the pool manager.
_CLAIMABLE = (
    "SELECT id FROM runs WHERE state = 'QUEUED' AND COALESCE(heartbeat_at, 0) < :stale "
    "AND id NOT IN (SELECT run_id FROM pool_waits WHERE cluster_id IS NULL) "
    "ORDER BY created_at, id LIMIT 1"
)
_CLAIM = (
    "UPDATE runs SET pid = :pid, host = :host, heartbeat_at = :at WHERE id = ({pick}) "
    "AND state = 'QUEUED' RETURNING id"
)
CLAIM_QUEUED = {
    "postgresql": _CLAIM.format(pick=_CLAIMABLE + " FOR UPDATE SKIP LOCKED"),
    "sqlite": _CLAIM.format(pick=_CLAIMABLE),
}
# Take a QUEUED run over from a claimer that died (compare-and-set on its claim).
RECLAIM_QUEUED = (
    "UPDATE runs SET pid = :pid, host = :host, heartbeat_at = :at WHERE id = :id "
    "AND state = 'QUEUED' AND COALESCE(pid, -1) = :was_pid AND host = :was_host "
    "AND COALESCE(heartbeat_at, -1) = :was_beat"
)
_STARTED = tuple(c for c in COLUMNS["runs"] if c not in ("id", "created_at", "submitted_by"))
# A claimed QUEUED run becomes the run its worker started (only by its claimer).
START_QUEUED = (
    "UPDATE runs SET "
    + ", ".join(f"{c} = :{c}" for c in _STARTED)
    + " WHERE id = :id AND state = 'QUEUED' AND pid = :pid AND host = :host"
)
# A claimed QUEUED run handed to the process that will start it (a cluster's host).
PASS_CLAIM = (
    "UPDATE runs SET pid = :to_pid, host = :to_host, heartbeat_at = :at "
    "WHERE id = :id AND state = 'QUEUED' AND pid = :pid AND host = :host"
)
END_QUEUED = (
    "UPDATE runs SET state = :state, ended_at = :at, reason = :reason, heartbeat_at = :at "
    "WHERE id = :id AND state = 'QUEUED'{claimer}"
)
OF_CLAIMER = " AND pid = :pid AND host = :host"
# A claim given up (the claimer cannot start it): any worker may claim the run again.
RELEASE_QUEUED = (
    "UPDATE runs SET pid = NULL, host = '', heartbeat_at = NULL WHERE id = :id "
    "AND state = 'QUEUED' AND pid = :pid AND host = :host"
)
# A retry: the run goes back to the queue, its failed and cancelled steps to PENDING.
REQUEUE_RUN = (
    "UPDATE runs SET state = 'QUEUED', pid = NULL, host = '', heartbeat_at = NULL, "
    "ended_at = NULL, reason = NULL WHERE id = :id AND state IN ('FAILED', 'CANCELLED')"
)
REQUEUE_STEPS = (
    "UPDATE steps SET state = 'PENDING', ended_at = NULL, exit_code = NULL, reason = NULL, "
    "cause = NULL WHERE run_id = :id AND state IN ('FAILED', 'CANCELLED')"
)
ASK_CANCEL = "UPDATE run_requests SET cancel_reason = :reason WHERE run_id = :run_id"
CANCELS_ASKED = (
    "SELECT run_id, cancel_reason FROM run_requests WHERE cancel_reason IS NOT NULL "
    "AND run_id IN ({ids})"
)
# The runs a server may have to take over: started from a request, stored RUNNING
# (the reader tells the DEAD ones), or QUEUED and claimed.
SERVER_RUNS = (
    f"{_select('runs', 'r')} JOIN run_requests q ON q.run_id = r.id "
    "WHERE r.state = :state ORDER BY r.created_at, r.id LIMIT :limit"
)
COUNT_BY_STATE = "SELECT state, COUNT(*) AS n FROM runs GROUP BY state"
# The steps running on a cluster now (``GET /clusters``).
ACTIVE_STEPS = (
    f"{_select('steps', 's')} JOIN runs r ON r.id = s.run_id "
    "WHERE r.cluster_id = :cluster_id AND s.state IN ('RUNNING', 'PENDING') "
    "AND r.state = 'RUNNING' ORDER BY r.created_at, s.position"
)

# --- tokens and saved playbooks -----------------------------------------------------------
INSERT_TOKEN = _insert("tokens")
TOKEN_BY_HASH = f"{_select('tokens')} WHERE hash = :hash"
TOKENS_NAMED = f"{_select('tokens')} WHERE name = :name AND revoked_at IS NULL"
LIST_TOKENS = f"{_select('tokens')} ORDER BY created_at, id"
ANY_TOKEN = "SELECT id FROM tokens WHERE revoked_at IS NULL LIMIT 1"
REVOKE_TOKEN = (
    "UPDATE tokens SET revoked_at = :at WHERE (name = :ref OR id = :ref) AND revoked_at IS NULL"
)
TOUCH_TOKEN = "UPDATE tokens SET last_used_at = :at WHERE id = :id"
UPSERT_SAVED = f"{_insert('saved_playbooks')} ON CONFLICT (name) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in COLUMNS["saved_playbooks"] if c not in ("name", "created_at")
)
SELECT_SAVED = f"{_select('saved_playbooks')} WHERE name = :name"
LIST_SAVED = f"{_select('saved_playbooks')} ORDER BY name"
DELETE_SAVED = "DELETE FROM saved_playbooks WHERE name = :name"

# --- the clusters registry, commands, Genie's jobs ----------------------------------------
UPSERT_REGISTRY = f"{_insert('cluster_registry')} ON CONFLICT (cluster_id) DO UPDATE SET " + (
    ", ".join(f"{c} = excluded.{c}" for c in COLUMNS["cluster_registry"]
              if c not in ("cluster_id", "created_at"))
)  # fmt: skip
SELECT_REGISTRY = f"{_select('cluster_registry')} WHERE cluster_id = :cluster_id"
LIST_REGISTRY = f"{_select('cluster_registry')} ORDER BY cluster_id"
# A job routed to a cluster counts in its load until the next poll sees it.
NOTE_ROUTED = (
    "INSERT INTO cluster_registry (cluster_id, created_at, tags, capacity, service, active, "
    "pending, routed, terminate_when_idle, origin, updated_by) VALUES (:cluster_id, :at, '[]', "
    "1, 'UP', 0, 0, 1, 0, 'launched', '') ON CONFLICT (cluster_id) DO UPDATE SET "
    "routed = cluster_registry.routed + 1"
)
# What the store knows of each cluster's load: the unfinished steps of its RUNNING
# runs, and its QUEUED runs (one step each until they start).
STEP_LOAD = (
    "SELECT r.cluster_id AS cluster_id, s.state AS state, COUNT(*) AS n FROM steps s "
    "JOIN runs r ON r.id = s.run_id WHERE r.cluster_id IS NOT NULL AND r.state = 'RUNNING' "
    "AND s.state IN ('RUNNING', 'PENDING') GROUP BY r.cluster_id, s.state"
)
QUEUED_LOAD = (
    "SELECT cluster_id, COUNT(*) AS n FROM runs WHERE state = 'QUEUED' "
    "AND cluster_id IS NOT NULL GROUP BY cluster_id"
)
UPSERT_COMMAND = f"{_insert('commands')} ON CONFLICT (name) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in COLUMNS["commands"] if c not in ("name", "created_at")
)
SELECT_COMMAND = f"{_select('commands')} WHERE name = :name"
LIST_COMMANDS = f"{_select('commands')} ORDER BY name"
DELETE_COMMAND = "DELETE FROM commands WHERE name = :name"
INSERT_GENIE_JOB = _insert("genie_jobs")
SELECT_GENIE_JOB = f"{_select('genie_jobs')} WHERE id = :id"
LIST_GENIE_JOBS = f"{_select('genie_jobs')} ORDER BY created_at DESC, id DESC LIMIT :limit"


def where(conditions: Iterable[str]) -> str:
    """`` WHERE a AND b`` for the fixed filter fragments above (or nothing)."""
    clause = " AND ".join(conditions)
    return f" WHERE {clause}" if clause else ""


@lru_cache(maxsize=256)
def update_sql(table: str, fields: tuple[str, ...]) -> str:
    """``UPDATE table SET field = :field ... WHERE key = :key``, for known fields only.

    Unknown (or key) field names are a programming error: TypeError.
    """
    allowed = COLUMNS[table]
    keys = KEYS[table]
    bad = [f for f in fields if f not in allowed or f in keys]
    if bad:
        record = next(cls for cls, t in TABLES.items() if t == table).__name__
        raise TypeError(f"{record} has no updatable field {', '.join(bad)}")
    if not fields:
        raise TypeError(f"nothing to update in {table}")
    sets = ", ".join(f"{f} = :{f}" for f in fields)
    return f"UPDATE {table} SET {sets} WHERE {_where_keys(table)}"


# ``json.dumps(value, ensure_ascii=False)``, without building an encoder at each
# call (dumps only reuses its own for default options): a step's start encodes one.
_to_json = json.JSONEncoder(ensure_ascii=False).encode


def encode(table: str, column: str, value: Any) -> Any:
    """A record field's value as a query parameter."""
    if value is None:
        return None
    enum_type = _ENUMS[table].get(column)
    if enum_type is not None:
        # Coerce through the enum: an unknown value fails here, not on every later read.
        return enum_type(value).value
    as_tuple = _JSON[table].get(column)
    if as_tuple is not None:
        return _to_json(list(value) if as_tuple else value)
    return value


def params(table: str, record: object) -> dict[str, Any]:
    """All the columns of ``record`` as query parameters."""
    return {c: encode(table, c, getattr(record, c)) for c in COLUMNS[table]}


def encode_fields(table: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: encode(table, name, value) for name, value in fields.items()}


def decode(cls: type[R], row: Mapping[str, Any]) -> R:
    """The record a row holds (enums, dicts and tuples restored). A value this code
    does not know (a newer version wrote it) is a ``StoreError``, not a crash."""
    table = TABLES[cls]
    values = dict(row)
    try:
        for column, enum_type in _ENUMS[table].items():
            if values.get(column) is not None:
                values[column] = enum_type(values[column])
        for column, as_tuple in _JSON[table].items():
            raw = values.get(column)
            loaded = json.loads(raw) if raw else None
            if as_tuple:
                values[column] = tuple(loaded or ())
            else:
                values[column] = loaded if loaded is not None else {}
    except ValueError as exc:
        raise StoreError(
            f"the store holds a {table} row this version cannot read ({exc}); "
            "was it written by a newer dataflow-runner?"
        ) from None
    return cls(**values)
