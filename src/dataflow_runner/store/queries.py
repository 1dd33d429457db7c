"""Every query of the store, written once as portable SQL text with ``:name`` parameters,
and the mapping between records and rows.

Both backends run these strings unchanged (sqlite3 and SQLAlchemy's ``text()``
accept the same ``:name`` style), so only SQL that SQLite (3.24+, for
``ON CONFLICT``) and PostgreSQL both understand belongs here. Column lists
follow the records' fields; ``schema.py`` defines the same columns (a test
checks the three agree).

>>> update_sql("runs", ("state", "reason"))
'UPDATE runs SET state = :state, reason = :reason WHERE id = :id'
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, TypeVar

from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)

R = TypeVar("R", RunRecord, StepRecord, AttemptRecord, ClusterRecord)

TABLES: dict[type, str] = {
    RunRecord: "runs",
    StepRecord: "steps",
    AttemptRecord: "attempts",
    ClusterRecord: "clusters",
}
COLUMNS: dict[str, tuple[str, ...]] = {
    table: tuple(f.name for f in dataclasses.fields(cls)) for cls, table in TABLES.items()
}
KEYS: dict[str, tuple[str, ...]] = {
    "runs": ("id",),
    "steps": ("run_id", "step_id"),
    "attempts": ("run_id", "step_id", "attempt"),
    "clusters": ("id",),
}
# The only enum column of each table is its state.
_STATES: dict[str, type[enum.StrEnum]] = {
    "runs": RunState,
    "steps": StepState,
    "attempts": StepState,
    "clusters": ClusterState,
}
# Dict fields, and the one tuple field, are stored as JSON text (nothing is pickled).
_DICTS = frozenset(
    ("variables", "playbook_doc", "cluster_doc", "options", "config_doc", "fabric_ref")
)
_TUPLES = frozenset(("depends_on",))
_JSON = _DICTS | _TUPLES


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
    "playbook": "playbook = :playbook",
    "since": "created_at >= :since",
    "until": "created_at < :until",
}
HEARTBEAT = "UPDATE runs SET heartbeat_at = :at WHERE id = :id"

# --- steps and attempts -------------------------------------------------------------------
INSERT_STEP = _insert("steps")
INSERT_ATTEMPT = _insert("attempts")
SELECT_STEPS = f"{_select('steps')} WHERE run_id = :run_id ORDER BY position"
SELECT_ATTEMPTS = (
    f"{_select('attempts', 'a')} JOIN steps s ON s.run_id = a.run_id AND s.step_id = a.step_id "
    "WHERE a.run_id = :run_id{step} ORDER BY s.position, a.attempt"
)
ATTEMPTS_OF_STEP = " AND a.step_id = :step_id"
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
LIST_CLUSTERS = f"{_select('clusters')}{{where}} ORDER BY created_at DESC, id DESC LIMIT :limit"
_FINISHED = ", ".join(f"'{s.value}'" for s in ClusterState if s.finished)
CLUSTER_FILTERS = {
    "fabric": "fabric = :fabric",
    "active": f"state NOT IN ({_FINISHED})",
    "inactive": f"state IN ({_FINISHED})",
}


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

# The columns of each table whose values ``params`` converts: its state and its JSON.
_CONVERTED: dict[str, tuple[str, ...]] = {
    table: ("state", *(c for c in columns if c in _JSON)) for table, columns in COLUMNS.items()
}


def encode(table: str, column: str, value: Any) -> Any:
    """A record field's value as a query parameter."""
    if value is None:
        return None
    if column == "state":
        # Coerce through the enum: an unknown state fails here, not on every later read.
        return _STATES[table](value).value
    if column in _JSON:
        return _to_json(list(value) if column in _TUPLES else value)
    return value


def params(table: str, record: object) -> dict[str, Any]:
    """All the columns of ``record`` as query parameters."""
    values = {c: getattr(record, c) for c in COLUMNS[table]}
    for column in _CONVERTED[table]:
        values[column] = encode(table, column, values[column])
    return values


def encode_fields(table: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: encode(table, name, value) for name, value in fields.items()}


def decode(cls: type[R], row: Mapping[str, Any]) -> R:
    """The record a row holds (enums, dicts and tuples restored)."""
    table = TABLES[cls]
    values = dict(row)
    values["state"] = _STATES[table](values["state"])
    for column in _JSON.intersection(values):
        loaded = json.loads(values[column]) if values[column] else None
        if column in _TUPLES:
            values[column] = tuple(loaded or ())
        else:
            values[column] = loaded if loaded is not None else {}
    return cls(**values)
