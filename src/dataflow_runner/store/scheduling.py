"""What the scheduler keeps (``engine/schedules.py``): schedules, the key of every
run a schedule started, its alerts, the leases of the jobs one server does at a
time (``engine/lease.py``) and the commits deployed from git.

The rule that makes a tick start once: :meth:`SchedulingStore.start_tick` writes
the tick's key (unique for its schedule) and the QUEUED run in one transaction;
a second scheduler that decides the same tick finds the key taken and starts
nothing, whatever crashed in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dataflow_runner.store import queries as q
from dataflow_runner.store.backends import Backend
from dataflow_runner.store.records import (
    AlertRecord,
    DeploymentRecord,
    LeaseRecord,
    PoolWaitRecord,
    RequestRecord,
    RunRecord,
    RunState,
    ScheduleRecord,
    TickRecord,
)


def _select(table: str, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return f"SELECT {', '.join(prefix + c for c in q.COLUMNS[table])} FROM {table} {alias}".rstrip()


def _insert(table: str, conflict: str = "") -> str:
    cols = q.COLUMNS[table]
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"
    return f"{sql} {conflict}".rstrip()


_ACTIVE = "('QUEUED', 'RUNNING')"
UPSERT_SCHEDULE = _insert(
    "schedules",
    "ON CONFLICT (name) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in q.COLUMNS["schedules"]
        if c not in ("name", "created_at", "last_alert")
    ),
)
SELECT_SCHEDULE = f"{_select('schedules')} WHERE name = :name"
LIST_SCHEDULES = f"{_select('schedules')} ORDER BY name"
DELETE_SCHEDULE = "DELETE FROM schedules WHERE name = :name"
SET_PAUSED = "UPDATE schedules SET paused = :paused WHERE name = :name"
SET_LAST_ALERT = "UPDATE schedules SET last_alert = :last_alert WHERE name = :name"
INSERT_TICK = _insert("schedule_ticks", "ON CONFLICT (schedule, ref) DO NOTHING")
TAKEN = "SELECT ref FROM schedule_ticks WHERE schedule = :schedule AND ref IN ({refs})"
LAST_TICKS = (
    f"SELECT {', '.join('t.' + c for c in q.COLUMNS['schedule_ticks'])}, r.state AS run_state "
    "FROM schedule_ticks t LEFT JOIN runs r ON r.id = t.run_id WHERE t.schedule = :schedule "
    "AND t.kind <> 'look' "
    "ORDER BY t.created_at DESC, t.ref DESC LIMIT :limit"
)
ACTIVE_RUNS = (
    "SELECT t.schedule AS schedule, t.partition AS partition FROM schedule_ticks t "
    f"JOIN runs r ON r.id = t.run_id WHERE r.state IN {_ACTIVE}"
)
TICK_OF_RUN = f"{_select('schedule_ticks')} WHERE run_id = :run_id"
# The failed runs of schedules, ended since :since, that no alert was made for yet.
FAILED_UNALERTED = (
    "SELECT t.schedule AS schedule, r.id AS run_id, t.partition AS partition, "
    "r.reason AS reason, r.ended_at AS ended_at FROM schedule_ticks t "
    "JOIN runs r ON r.id = t.run_id WHERE r.state = 'FAILED' AND r.ended_at >= :since "
    "AND NOT EXISTS (SELECT 1 FROM schedule_alerts a WHERE a.schedule = t.schedule "
    "AND a.ref = 'failure:' || r.id)"
)
INSERT_ALERT = _insert("schedule_alerts", "ON CONFLICT (schedule, ref) DO NOTHING")
UPDATE_ALERT = (
    "UPDATE schedule_alerts SET state = :state, attempts = :attempts, "
    "status_code = :status_code, error = :error, ended_at = :ended_at "
    "WHERE schedule = :schedule AND ref = :ref"
)
ALERTS_OF = f"{_select('schedule_alerts')} WHERE schedule = :schedule ORDER BY created_at DESC"
ALERT_REFS = "SELECT ref FROM schedule_alerts WHERE schedule = :schedule"
# A lease is taken when free, expired, or already this holder's (then renewed).
TAKE_LEASE = _insert(
    "leases",
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
    "expires_at = excluded.expires_at, acquired_at = CASE WHEN leases.holder = "
    "excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END "
    "WHERE leases.holder = excluded.holder OR leases.expires_at < :now",
)
DROP_LEASE = "DELETE FROM leases WHERE name = :name AND holder = :holder"
SELECT_LEASE = f"{_select('leases')} WHERE name = :name"
INSERT_DEPLOYMENT = _insert("deployments")
DEACTIVATE = "UPDATE deployments SET active = 0 WHERE active = 1"
ACTIVATE = "UPDATE deployments SET active = 1 WHERE id = :id"
LIST_DEPLOYMENTS = f"{_select('deployments')} ORDER BY created_at DESC, id DESC LIMIT :limit"
ACTIVE_DEPLOYMENT = f"{_select('deployments')} WHERE active = 1"
DEPLOYMENT_OF = f"{_select('deployments')} WHERE git_commit = :commit ORDER BY created_at DESC"


@dataclass(frozen=True)
class TickRun:
    """A tick with the state of its run."""

    tick: TickRecord
    run_state: RunState | None


class SchedulingStore:
    """See the module's docstring. Only the engine writes through it."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def _one(self, sql: str, params: dict[str, Any]) -> int:
        with self._backend.transaction() as tx:
            return tx.execute(sql, params)

    # --- schedules ------------------------------------------------------------------

    def put_schedule(self, record: ScheduleRecord) -> None:
        self._one(UPSERT_SCHEDULE, q.params("schedules", record))

    def delete_schedule(self, name: str) -> bool:
        return self._one(DELETE_SCHEDULE, {"name": name}) > 0

    def set_paused(self, name: str, paused: bool) -> bool:
        return self._one(SET_PAUSED, {"name": name, "paused": int(paused)}) > 0

    def schedule(self, name: str) -> ScheduleRecord | None:
        rows = self._backend.query(SELECT_SCHEDULE, {"name": name})
        return q.decode(ScheduleRecord, rows[0]) if rows else None

    def schedules(self) -> list[ScheduleRecord]:
        return [q.decode(ScheduleRecord, r) for r in self._backend.query(LIST_SCHEDULES, {})]

    def set_last_alert(self, name: str, outcome: dict[str, Any]) -> None:
        self._one(SET_LAST_ALERT, {"name": name, "last_alert": q.encode(
            "schedules", "last_alert", outcome)})  # fmt: skip

    # --- ticks ----------------------------------------------------------------------

    def start_tick(
        self,
        tick: TickRecord,
        run: RunRecord,
        request: RequestRecord,
        wait: PoolWaitRecord | None = None,
    ) -> bool:
        """Record ``tick`` and its QUEUED run together (with ``wait``, in its pool's
        queue); False (nothing written) when the tick's key was taken already."""
        with self._backend.transaction() as tx:
            if tx.execute(INSERT_TICK, q.params("schedule_ticks", tick)) != 1:
                return False
            tx.execute(q.INSERT_RUN, q.params("runs", run))
            tx.execute(q.INSERT_REQUEST, q.params("run_requests", request))
            if wait is not None:
                tx.execute(q.INSERT_WAIT, q.params("pool_waits", wait))
        return True

    def taken(self, schedule: str, refs: list[str]) -> set[str]:
        """Which of ``refs`` the schedule's ticks hold."""
        out: set[str] = set()
        for i in range(0, len(refs), 500):
            chunk = refs[i : i + 500]
            names = {f"r{n}": ref for n, ref in enumerate(chunk)}
            sql = TAKEN.format(refs=", ".join(":" + n for n in names))
            rows = self._backend.query(sql, {"schedule": schedule, **names})
            out.update(str(r["ref"]) for r in rows)
        return out

    def mark(self, schedule: str, ref: str, at: float) -> None:
        """Record that the tick ``ref`` names was looked at (no run)."""
        tick = TickRecord(schedule, ref, "", "look", at, None, at)
        self._one(INSERT_TICK, q.params("schedule_ticks", tick))

    def last_ticks(self, schedule: str, limit: int = 10) -> list[TickRun]:
        rows = self._backend.query(LAST_TICKS, {"schedule": schedule, "limit": limit})
        out = []
        for row in rows:
            state = row.pop("run_state")
            out.append(TickRun(q.decode(TickRecord, row), RunState(state) if state else None))
        return out

    def active(self) -> dict[str, list[str | None]]:
        """The partitions (None: not partitioned) of each schedule's QUEUED or
        RUNNING runs."""
        out: dict[str, list[str | None]] = {}
        for row in self._backend.query(ACTIVE_RUNS, {}):
            out.setdefault(str(row["schedule"]), []).append(row["partition"])
        return out

    def tick_of_run(self, run_id: str) -> TickRecord | None:
        rows = self._backend.query(TICK_OF_RUN, {"run_id": run_id})
        return q.decode(TickRecord, rows[0]) if rows else None

    # --- alerts ---------------------------------------------------------------------

    def failed_unalerted(self, since: float) -> list[dict[str, Any]]:
        return self._backend.query(FAILED_UNALERTED, {"since": since})

    def add_alert(self, alert: AlertRecord) -> bool:
        """Record an alert to send; False when one with its key exists (sent once)."""
        return self._one(INSERT_ALERT, q.params("schedule_alerts", alert)) == 1

    def end_alert(self, alert: AlertRecord) -> None:
        self._one(UPDATE_ALERT, q.params("schedule_alerts", alert))

    def alerts(self, schedule: str) -> list[AlertRecord]:
        rows = self._backend.query(ALERTS_OF, {"schedule": schedule})
        return [q.decode(AlertRecord, r) for r in rows]

    def alert_refs(self, schedule: str) -> set[str]:
        return {str(r["ref"]) for r in self._backend.query(ALERT_REFS, {"schedule": schedule})}

    # --- leases ---------------------------------------------------------------------

    def take_lease(self, name: str, holder: str, *, now: float, ttl: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until ``now + ttl``: True when
        ``holder`` holds it now."""
        record = LeaseRecord(name, holder, now + ttl, now)
        return self._one(TAKE_LEASE, {**q.params("leases", record), "now": now}) == 1

    def drop_lease(self, name: str, holder: str) -> None:
        self._one(DROP_LEASE, {"name": name, "holder": holder})

    def lease(self, name: str) -> LeaseRecord | None:
        rows = self._backend.query(SELECT_LEASE, {"name": name})
        return q.decode(LeaseRecord, rows[0]) if rows else None

    # --- deployments ----------------------------------------------------------------

    def add_deployment(self, record: DeploymentRecord) -> None:
        """Record a deployment; a valid one becomes the active one."""
        with self._backend.transaction() as tx:
            if record.active:
                tx.execute(DEACTIVATE, {})
            tx.execute(INSERT_DEPLOYMENT, q.params("deployments", record))

    def deployments(self, limit: int = 50) -> list[DeploymentRecord]:
        rows = self._backend.query(LIST_DEPLOYMENTS, {"limit": limit})
        return [q.decode(DeploymentRecord, r) for r in rows]

    def active_deployment(self) -> DeploymentRecord | None:
        rows = self._backend.query(ACTIVE_DEPLOYMENT, {})
        return q.decode(DeploymentRecord, rows[0]) if rows else None

    def deployment_of(self, commit: str) -> DeploymentRecord | None:
        rows = self._backend.query(DEPLOYMENT_OF, {"commit": commit})
        return q.decode(DeploymentRecord, rows[0]) if rows else None
