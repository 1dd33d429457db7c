"""The store's pools (``engine/pools.py``, ``engine/pool_manager.py``): the pools,
the clusters each launched, and the runs in a pool's queue or placed on one of
its clusters. Reads for anyone; the writes are the engine's, each one
transaction, like ``writer.py``'s.

A launch is recorded before it is sent, holding a *slot* (``pool#n``) that a
unique index keeps to one live launch: a manager that crashed after recording
finds it again, and two managers cannot launch for the same need.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dataflow_runner.store import queries as q
from dataflow_runner.store.backends import Backend
from dataflow_runner.store.records import (
    LaunchState,
    PoolLaunchRecord,
    PoolRecord,
    PoolState,
    PoolWaitRecord,
    RunState,
    StepState,
)
from dataflow_runner.store.writer import masked

_INSERT_POOL = q._insert("pools")
UPSERT_POOL = f"{_INSERT_POOL} ON CONFLICT (name) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in q.COLUMNS["pools"] if c not in ("name", "created_at")
)
SELECT_POOL = f"{q._select('pools')} WHERE name = :name"
LIST_POOLS = f"{q._select('pools')} ORDER BY name"
DELETE_POOL = "DELETE FROM pools WHERE name = :name"
MARK_DELETING = (
    "UPDATE pools SET state = :state, updated_at = :at, updated_by = :by WHERE name = :name"
)

INSERT_LAUNCH = q._insert("pool_launches")
LIVE_LAUNCHES = (
    f"{q._select('pool_launches')} WHERE state <> 'ENDED'{{pool}} ORDER BY created_at, id"
)
LAUNCHES_OF_POOL = f"{q._select('pool_launches')} WHERE pool = :pool ORDER BY created_at, id"
LAUNCH_OF_CLUSTER = f"{q._select('pool_launches')} WHERE cluster_id = :cluster_id"
END_LAUNCH = (
    "UPDATE pool_launches SET state = 'ENDED', slot = NULL, ended_at = :at, "
    "reason = :reason WHERE id = :id AND state <> 'ENDED'"
)

INSERT_WAIT = q._insert("pool_waits")
# The runs in pools' queues: not placed, and still QUEUED.
WAITING = (
    f"{q._select('pool_waits', 'w')} JOIN runs r ON r.id = w.run_id "
    "WHERE w.cluster_id IS NULL AND r.state = 'QUEUED' ORDER BY w.created_at, w.run_id"
)
PLACE = (
    "UPDATE pool_waits SET cluster_id = :cluster_id, placed_at = :at "
    "WHERE run_id = :run_id AND cluster_id IS NULL"
)
SELECT_WAIT = f"{q._select('pool_waits')} WHERE run_id = :run_id"
# Load: the steps not finished of the runs going on a cluster, and the steps of the
# runs placed on it that have not started yet.
ACTIVE_LOAD = (
    "SELECT r.cluster_id AS cluster_id, COUNT(*) AS n FROM steps s JOIN runs r "
    "ON r.id = s.run_id WHERE r.state = 'RUNNING' AND s.state IN ('RUNNING', 'PENDING') "
    "AND r.cluster_id IS NOT NULL GROUP BY r.cluster_id"
)
# Runs routed to a cluster (a Genie job's), not started yet: one step each until then.
QUEUED_LOAD = (
    "SELECT cluster_id, COUNT(*) AS n FROM runs WHERE state = 'QUEUED' "
    "AND cluster_id IS NOT NULL GROUP BY cluster_id"
)
PLACED_LOAD = (
    "SELECT w.cluster_id AS cluster_id, SUM(w.steps) AS n FROM pool_waits w JOIN runs r "
    "ON r.id = w.run_id WHERE r.state = 'QUEUED' AND w.cluster_id IS NOT NULL "
    "GROUP BY w.cluster_id"
)
# The runs a dead cluster held: running there (or placed there and not started).
RUNS_ON = (
    "SELECT r.id AS id, r.state AS state, r.pid AS pid, r.host AS host, "
    "r.heartbeat_at AS heartbeat_at, r.ended_at AS ended_at "
    "FROM runs r JOIN pool_waits w ON w.run_id = r.id "
    "WHERE w.cluster_id = :cluster_id AND r.state IN ('RUNNING', 'QUEUED', 'FAILED', "
    "'CANCELLED') AND COALESCE(r.cluster_id, w.cluster_id) = :cluster_id"
)
# A run whose cluster died goes back to its pool's queue, its unfinished steps
# PENDING (its completed ones kept); only if it is still as it was read.
REQUEUE = (
    "UPDATE runs SET state = 'QUEUED', pid = NULL, host = '', heartbeat_at = NULL, "
    "ended_at = NULL, reason = :reason, cluster_id = NULL WHERE id = :id AND state = :was "
    "AND COALESCE(heartbeat_at, -1) = :was_beat"
)
REQUEUE_STEPS = (
    "UPDATE steps SET state = 'PENDING', ended_at = NULL, exit_code = NULL, reason = NULL, "
    "cause = NULL WHERE run_id = :id AND state IN ('RUNNING', 'PENDING', 'FAILED', 'CANCELLED')"
)
CLOSE_ATTEMPTS = (
    "UPDATE attempts SET state = 'FAILED', ended_at = :at, reason = :reason "
    "WHERE run_id = :id AND state IN ('RUNNING', 'PENDING')"
)
UNPLACE = "UPDATE pool_waits SET cluster_id = NULL, placed_at = NULL WHERE run_id = :id"
FAIL_WAITING = (
    "UPDATE runs SET state = 'FAILED', ended_at = :at, reason = :reason, heartbeat_at = :at "
    "WHERE id = :id AND state = 'QUEUED'"
)


def _launch_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    return q.encode_fields("pool_launches", masked("pool_launches", fields))


class PoolTables:
    """See the module's docstring."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    # --- reads ---------------------------------------------------------------------------

    def pool(self, name: str) -> PoolRecord | None:
        rows = self._backend.query(SELECT_POOL, {"name": name})
        return q.decode(PoolRecord, rows[0]) if rows else None

    def pools(self) -> list[PoolRecord]:
        return [q.decode(PoolRecord, r) for r in self._backend.query(LIST_POOLS, {})]

    def live_launches(self, pool: str | None = None) -> list[PoolLaunchRecord]:
        sql = LIVE_LAUNCHES.format(pool=" AND pool = :pool" if pool is not None else "")
        rows = self._backend.query(sql, {"pool": pool} if pool is not None else {})
        return [q.decode(PoolLaunchRecord, r) for r in rows]

    def launches(self, pool: str) -> list[PoolLaunchRecord]:
        rows = self._backend.query(LAUNCHES_OF_POOL, {"pool": pool})
        return [q.decode(PoolLaunchRecord, r) for r in rows]

    def launch_of(self, cluster_id: str) -> PoolLaunchRecord | None:
        rows = self._backend.query(LAUNCH_OF_CLUSTER, {"cluster_id": cluster_id})
        return q.decode(PoolLaunchRecord, rows[0]) if rows else None

    def waiting(self) -> list[PoolWaitRecord]:
        return [q.decode(PoolWaitRecord, r) for r in self._backend.query(WAITING, {})]

    def wait(self, run_id: str) -> PoolWaitRecord | None:
        rows = self._backend.query(SELECT_WAIT, {"run_id": run_id})
        return q.decode(PoolWaitRecord, rows[0]) if rows else None

    def loads(self) -> dict[str, int]:
        """Each cluster's load: active + pending steps, and those placed on it."""
        found: dict[str, int] = {}
        for sql in (ACTIVE_LOAD, PLACED_LOAD, QUEUED_LOAD):
            for row in self._backend.query(sql, {}):
                key = str(row["cluster_id"])
                found[key] = found.get(key, 0) + int(row["n"] or 0)
        return found

    def runs_on(self, cluster_id: str) -> list[dict[str, Any]]:
        """The pool runs a cluster holds (id, state, runner)."""
        return self._backend.query(RUNS_ON, {"cluster_id": cluster_id})

    # --- writes (the engine's) -----------------------------------------------------------

    def put_pool(self, pool: PoolRecord) -> None:
        with self._backend.transaction() as tx:
            tx.execute(UPSERT_POOL, q.params("pools", pool))

    def mark_deleting(self, name: str, *, at: float, by: str) -> bool:
        with self._backend.transaction() as tx:
            params = {"name": name, "state": PoolState.DELETING.value, "at": at, "by": by}
            return tx.execute(MARK_DELETING, params) == 1

    def drop_pool(self, name: str) -> None:
        with self._backend.transaction() as tx:
            tx.execute(DELETE_POOL, {"name": name})

    def record_launch(self, launch: PoolLaunchRecord) -> bool:
        """Record a launch before it is sent; False when its slot is taken (another
        launch lives for that need)."""
        try:
            with self._backend.transaction() as tx:
                tx.execute(INSERT_LAUNCH, q.params("pool_launches", launch))
        except Exception as exc:  # the unique slot: sqlite3 and SQLAlchemy word it apart
            if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
                return False
            raise
        return True

    def update_launch(self, launch_id: str, **fields: Any) -> None:
        sql = q.update_sql("pool_launches", tuple(fields))
        with self._backend.transaction() as tx:
            tx.execute(sql, {**_launch_fields(fields), "id": launch_id})

    def end_launch(self, launch_id: str, *, at: float, reason: str) -> bool:
        with self._backend.transaction() as tx:
            return tx.execute(END_LAUNCH, {"id": launch_id, "at": at, "reason": reason}) == 1

    def add_wait(self, wait: PoolWaitRecord) -> None:
        with self._backend.transaction() as tx:
            tx.execute(INSERT_WAIT, q.params("pool_waits", wait))

    def place(self, run_id: str, cluster_id: str, *, at: float) -> bool:
        with self._backend.transaction() as tx:
            params = {"run_id": run_id, "cluster_id": cluster_id, "at": at}
            return tx.execute(PLACE, params) == 1

    def requeue(self, run: Mapping[str, Any], *, at: float, reason: str) -> bool:
        """A run whose cluster died back in its pool's queue (see ``REQUEUE``)."""
        was = RunState(str(run["state"]))
        beat = run["heartbeat_at"]
        with self._backend.transaction() as tx:
            params = {
                "id": run["id"],
                "was": was.value,
                "was_beat": beat if beat is not None else -1.0,
                "reason": reason,
            }
            if tx.execute(REQUEUE, params) != 1:
                return False
            tx.execute(CLOSE_ATTEMPTS, {"id": run["id"], "at": at, "reason": reason})
            tx.execute(REQUEUE_STEPS, {"id": run["id"]})
            tx.execute(UNPLACE, {"id": run["id"]})
        return True

    def fail_waiting(self, run_id: str, *, at: float, reason: str) -> bool:
        with self._backend.transaction() as tx:
            return tx.execute(FAIL_WAITING, {"id": run_id, "at": at, "reason": reason}) == 1


__all__ = ["LaunchState", "PoolTables", "StepState"]
