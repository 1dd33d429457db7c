"""The state store: every run, step, attempt and cluster, each transition in its
own transaction.

>>> store = open_store(state_dir=Path("/tmp/dfr-doc"))  # doctest: +SKIP
>>> store.latest_run()  # doctest: +SKIP

SQLite (WAL) in the state directory by default, with zero set-up; PostgreSQL
by URL for a shared store. Importing this package is cheap: SQLAlchemy and
Alembic are imported only to migrate the schema or to reach a server.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from dataflow_runner.errors import StoreError
from dataflow_runner.store.backends import Backend, open_backend
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)

__all__ = ["Store", "default_state_dir", "open_store"]

R = TypeVar("R")

_JSON_FIELDS = {
    "variables",
    "playbook_doc",
    "cluster_doc",
    "options",
    "fabric_ref",
    "config_doc",
    "depends_on",
}
_ENUMS: dict[type, dict[str, type[enum.Enum]]] = {
    RunRecord: {"state": RunState},
    StepRecord: {"state": StepState},
    AttemptRecord: {"state": StepState},
    ClusterRecord: {"state": ClusterState},
}
_KEYS: dict[type, tuple[str, ...]] = {
    RunRecord: ("id",),
    StepRecord: ("run_id", "step_id"),
    AttemptRecord: ("run_id", "step_id", "attempt"),
    ClusterRecord: ("id",),
}
_TABLES: dict[type, str] = {
    RunRecord: "runs",
    StepRecord: "steps",
    AttemptRecord: "attempts",
    ClusterRecord: "clusters",
}
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in _TABLES}


# The most frequent transitions, as fixed statements (this is the hot path).
_OUTCOME = (
    "state = :state, ended_at = :ended_at, exit_code = :exit_code, reason = :reason, cause = :cause"
)
_FINISH_ATTEMPT = (
    f"UPDATE attempts SET {_OUTCOME} WHERE run_id = :run_id AND step_id = :step_id "
    "AND attempt = :attempt"
)
_FINISH_STEP = f"UPDATE steps SET {_OUTCOME} WHERE run_id = :run_id AND step_id = :step_id"


def default_state_dir() -> Path:
    """``$DATAFLOW_RUNNER_HOME``, else ``$XDG_STATE_HOME/dataflow-runner``, else
    ``~/.local/state/dataflow-runner``."""
    home = os.environ.get("DATAFLOW_RUNNER_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / "dataflow-runner"


def open_store(url: str | None = None, *, state_dir: Path | None = None) -> Store:
    """Open (and if needed create or migrate) the store."""
    return Store(open_backend(url, state_dir or default_state_dir()))


def _to_row(value: Any, name: str) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if name in _JSON_FIELDS:
        return json.dumps(
            list(value) if isinstance(value, tuple) else value,
            separators=(",", ":"),
            sort_keys=True,
        )
    return value


def _from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    enums = _ENUMS[cls]
    values: dict[str, Any] = {}
    for name in _FIELDS[cls]:
        value = row[name]
        if name in enums and value is not None:
            value = enums[name](value)
        elif name in _JSON_FIELDS:
            value = json.loads(value) if value else ({} if name != "depends_on" else [])
            if name == "depends_on":
                value = tuple(value)
        values[name] = value
    return cls(**values)


def _insert(table: str, record: Any) -> tuple[str, dict[str, Any]]:
    names = _FIELDS[type(record)]
    params = {n: _to_row(getattr(record, n), n) for n in names}
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
    return sql, params


def _update(
    cls: type, fields: Mapping[str, Any], keys: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    known = set(_FIELDS[cls]) - set(_KEYS[cls])
    unknown = set(fields) - known
    if unknown:
        raise TypeError(f"{cls.__name__} has no updatable field {', '.join(sorted(unknown))}")
    if not fields:
        raise TypeError("nothing to update")
    params = {f"v_{n}": _to_row(v, n) for n, v in fields.items()}
    params.update({f"k_{n}": v for n, v in keys.items()})
    sets = ", ".join(f"{n} = :v_{n}" for n in fields)
    where = " AND ".join(f"{n} = :k_{n}" for n in keys)
    return f"UPDATE {_TABLES[cls]} SET {sets} WHERE {where}", params


class Store:
    """Records runs, steps, attempts and clusters. Every method is one transaction."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url_for_display = backend.url_for_display

    def close(self) -> None:
        self.backend.close()

    def _write(self, *statements: tuple[str, Mapping[str, Any]], what: str = "") -> None:
        with self.backend.transaction() as tx:
            for sql, params in statements:
                if tx.execute(sql, params) == 0 and sql.startswith("UPDATE") and what:
                    raise StoreError(f"no {what} in the store at {self.url_for_display}")

    # --- runs --------------------------------------------------------------------------

    def create_run(self, run: RunRecord, steps: Sequence[StepRecord]) -> None:
        self._write(_insert("runs", run), *(_insert("steps", s) for s in steps))

    def update_run(self, run_id: str, **fields: Any) -> None:
        self._write(_update(RunRecord, fields, {"id": run_id}), what=f"run '{run_id}'")

    def heartbeat(self, run_id: str, at: float) -> None:
        self.update_run(run_id, heartbeat_at=at)

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self.backend.query("SELECT * FROM runs WHERE id = :id", {"id": run_id})
        return _from_row(RunRecord, rows[0]) if rows else None

    def find_run(self, ref: str) -> RunRecord:
        """A run by its id or a unique prefix of it."""
        found = self.get_run(ref)
        if found is not None:
            return found
        rows = self.backend.query(
            "SELECT * FROM runs WHERE id LIKE :prefix ORDER BY created_at DESC LIMIT 6",
            {"prefix": ref.replace("%", "") + "%"},
        )
        if not rows:
            raise StoreError(f"no run '{ref}' in the store at {self.url_for_display}")
        if len(rows) > 1:
            ids = ", ".join(r["id"] for r in rows[:5])
            raise StoreError(
                f"'{ref}' matches {len(rows) if len(rows) < 6 else 'many'} runs: "
                f"{ids}{', ...' if len(rows) > 5 else ''}"
            )
        return _from_row(RunRecord, rows[0])

    def list_runs(
        self,
        *,
        state: str | None = None,
        playbook: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 20,
    ) -> list[RunRecord]:
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        for column, op, value in (
            ("state", "=", state),
            ("playbook", "=", playbook),
            ("created_at", ">=", since),
            ("created_at", "<", until),
        ):
            if value is not None:
                key = f"{column}_{len(params)}"
                where.append(f"{column} {op} :{key}")
                params[key] = value
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.backend.query(
            f"SELECT * FROM runs{clause} ORDER BY created_at DESC, id DESC LIMIT :limit", params
        )
        return [_from_row(RunRecord, r) for r in rows]

    def latest_run(self) -> RunRecord | None:
        runs = self.list_runs(limit=1)
        return runs[0] if runs else None

    # --- steps and attempts -----------------------------------------------------------

    def update_step(self, run_id: str, step_id: str, **fields: Any) -> None:
        self._write(
            _update(StepRecord, fields, {"run_id": run_id, "step_id": step_id}),
            what=f"step '{step_id}' of run '{run_id}'",
        )

    def start_attempt(self, attempt: AttemptRecord) -> None:
        step = (
            "UPDATE steps SET state = :state, attempts = :attempt, fabric_ref = :fabric_ref, "
            "started_at = COALESCE(started_at, :started_at) "
            "WHERE run_id = :run_id AND step_id = :step_id",
            {
                "state": attempt.state.value,
                "attempt": attempt.attempt,
                "fabric_ref": _to_row(attempt.fabric_ref, "fabric_ref"),
                "started_at": attempt.started_at,
                "run_id": attempt.run_id,
                "step_id": attempt.step_id,
            },
        )
        self._write(
            _insert("attempts", attempt),
            step,
            what=f"step '{attempt.step_id}' of run '{attempt.run_id}'",
        )

    def finish_attempt(
        self,
        run_id: str,
        step_id: str,
        attempt: int,
        state: StepState,
        *,
        at: float,
        exit_code: int | None = None,
        reason: str | None = None,
        cause: str | None = None,
        final: bool = True,
    ) -> None:
        params = {
            "state": state.value,
            "ended_at": at,
            "exit_code": exit_code,
            "reason": reason,
            "cause": cause,
            "run_id": run_id,
            "step_id": step_id,
            "attempt": attempt,
        }
        statements = [(_FINISH_ATTEMPT, params)]
        if final:
            statements.append((_FINISH_STEP, params))
        self._write(*statements, what=f"attempt {attempt} of step '{step_id}'")

    def update_attempt(self, run_id: str, step_id: str, attempt: int, **fields: Any) -> None:
        self._write(
            _update(
                AttemptRecord, fields, {"run_id": run_id, "step_id": step_id, "attempt": attempt}
            ),
            what=f"attempt {attempt} of step '{step_id}'",
        )

    def get_steps(self, run_id: str) -> list[StepRecord]:
        rows = self.backend.query(
            "SELECT * FROM steps WHERE run_id = :run_id ORDER BY position", {"run_id": run_id}
        )
        return [_from_row(StepRecord, r) for r in rows]

    def get_attempts(self, run_id: str, step_id: str | None = None) -> list[AttemptRecord]:
        sql = (
            "SELECT a.* FROM attempts a JOIN steps s ON s.run_id = a.run_id AND "
            "s.step_id = a.step_id WHERE a.run_id = :run_id"
        )
        params: dict[str, Any] = {"run_id": run_id}
        if step_id is not None:
            sql += " AND a.step_id = :step_id"
            params["step_id"] = step_id
        rows = self.backend.query(sql + " ORDER BY s.position, a.attempt", params)
        return [_from_row(AttemptRecord, r) for r in rows]

    # --- clusters ----------------------------------------------------------------------

    def upsert_cluster(self, cluster: ClusterRecord) -> None:
        with self.backend.transaction() as tx:
            tx.execute("DELETE FROM clusters WHERE id = :id", {"id": cluster.id})
            tx.execute(*_insert("clusters", cluster))

    def update_cluster(self, cluster_id: str, **fields: Any) -> None:
        self._write(
            _update(ClusterRecord, fields, {"id": cluster_id}), what=f"cluster '{cluster_id}'"
        )

    def get_cluster(self, cluster_id: str) -> ClusterRecord | None:
        rows = self.backend.query("SELECT * FROM clusters WHERE id = :id", {"id": cluster_id})
        return _from_row(ClusterRecord, rows[0]) if rows else None

    def list_clusters(
        self, *, fabric: str | None = None, active: bool | None = None, limit: int = 50
    ) -> list[ClusterRecord]:
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if fabric is not None:
            where.append("fabric = :fabric")
            params["fabric"] = fabric
        done = "state IN ('TERMINATED', 'TERMINATED_WITH_ERRORS')"
        if active is True:
            where.append(f"NOT ({done})")
        elif active is False:
            where.append(done)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self.backend.query(
            f"SELECT * FROM clusters{clause} ORDER BY created_at DESC, id DESC LIMIT :limit", params
        )
        return [_from_row(ClusterRecord, r) for r in rows]
