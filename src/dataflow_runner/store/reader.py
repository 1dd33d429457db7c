"""The store's read side: the typed, paginated history that the CLI, the API and the
UI show. It never writes.

It also works out what the store cannot hold: a RUNNING run whose runner is
gone (no heartbeat for :data:`STALE_AFTER` seconds, or its process on this host
died) is reported as :attr:`~RunState.DEAD`, and a cluster whose host process on
this machine died as TERMINATED_WITH_ERRORS.

>>> page = reader.runs(RunFilter(state=RunState.FAILED), limit=20)  # doctest: +SKIP
>>> more = reader.runs(RunFilter(state=RunState.FAILED), after=page.next)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dataflow_runner.errors import StoreError
from dataflow_runner.procs import pid_alive
from dataflow_runner.store import queries as q
from dataflow_runner.store.backends import Backend
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    CommandRecord,
    GenieJobRecord,
    RegistryRecord,
    RequestRecord,
    RunKind,
    RunRecord,
    RunState,
    SavedPlaybookRecord,
    StepRecord,
    TokenRecord,
)

#: A RUNNING run whose heartbeat is older than this has lost its runner.
STALE_AFTER = 60.0
#: How many candidate ids an ambiguous run prefix lists.
_SHOWN_MATCHES = 5
#: The most runs one page holds.
MAX_PAGE = 1000


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list; every field given must match."""

    state: RunState | None = None
    kind: RunKind | None = None
    playbook: str | None = None
    since: float | None = None  # created at or after
    until: float | None = None  # created before
    #: Runs for a partition starting in ``[partition[0], partition[1])`` (UTC RFC
    #: 3339 texts, as the runs record them).
    partition: tuple[str, str] | None = None


@dataclass(frozen=True)
class Page:
    """One page of runs, newest first, and the cursor of the next one (None: the last)."""

    items: list[RunRecord]
    next: str | None


def _cursor(run: RunRecord) -> str:
    return f"{run.created_at!r}/{run.id}"


def _parse_cursor(cursor: str) -> tuple[float, str]:
    at, sep, run_id = cursor.partition("/")
    try:
        if not sep:
            raise ValueError
        return float(at), run_id
    except ValueError:
        raise StoreError(f"not a page cursor: {cursor!r}") from None


class StoreReader:
    """Reads runs, steps, attempts and clusters (see the module's docstring)."""

    def __init__(self, backend: Backend, *, clock: Callable[[], float] = time.time) -> None:
        self._backend = backend
        self._clock = clock
        self.url_for_display = backend.url_for_display
        self._host = socket.gethostname()

    # --- liveness -----------------------------------------------------------------------

    def _alive_here(self, host: str, pid: int | None) -> bool | None:
        """Whether a process of this host runs; None when it is another host's."""
        if host != self._host or not pid:
            return None
        return pid_alive(pid)

    def _observed(self, run: RunRecord) -> RunRecord:
        if run.state is not RunState.RUNNING:
            return run
        beat = run.heartbeat_at or run.started_at or run.created_at
        stale = self._clock() - beat > STALE_AFTER
        if stale or self._alive_here(run.host, run.pid) is False:
            return dataclasses.replace(run, state=RunState.DEAD)
        return run

    def _observed_cluster(self, cluster: ClusterRecord) -> ClusterRecord:
        if cluster.state.finished or self._alive_here(cluster.host, cluster.pid) is not False:
            return cluster
        return dataclasses.replace(
            cluster,
            state=ClusterState.TERMINATED_WITH_ERRORS,
            reason="its host process died",
            ended_at=cluster.updated_at,
        )

    # --- runs ---------------------------------------------------------------------------

    def run(self, run_id: str) -> RunRecord | None:
        """The run with exactly this id, or None."""
        rows = self._backend.query(q.SELECT_RUN, {"id": run_id})
        return self._observed(q.decode(RunRecord, rows[0])) if rows else None

    def find_run(self, ref: str) -> RunRecord:
        """The run whose id is ``ref``, else the only one whose id starts with it.

        >>> reader.find_run("r-20261122-15")  # doctest: +SKIP
        RunRecord(id='r-20261122-153012-8f3a1c', ...)
        """
        run = self.run(ref)
        if run is not None:
            return run
        match = {"prefix": ref, "length": len(ref)}
        rows = self._backend.query(q.RUN_IDS_BY_PREFIX, {**match, "limit": _SHOWN_MATCHES})
        if not rows or not ref:
            raise StoreError(f"no run '{ref}' in the store at {self.url_for_display}")
        if len(rows) > 1:
            count = self._backend.query(q.COUNT_RUNS_BY_PREFIX, match)[0]["n"]
            ids = ", ".join(r["id"] for r in rows) + (", ..." if count > len(rows) else "")
            raise StoreError(f"'{ref}' matches {count} runs: {ids}")
        found = self.run(rows[0]["id"])
        if found is None:  # deleted in between: as if it never matched
            raise StoreError(f"no run '{ref}' in the store at {self.url_for_display}")
        return found

    def runs(
        self, where: RunFilter | None = None, *, limit: int = 20, after: str | None = None
    ) -> Page:
        """Runs, newest first, ``limit`` at most (up to :data:`MAX_PAGE`); ``after``
        is the ``next`` cursor of the page before.

        >>> reader.runs(RunFilter(playbook="nightly", since=time.time() - 86400))  # doctest: +SKIP
        """
        where = where or RunFilter()
        limit = max(1, min(limit, MAX_PAGE))
        dead = where.state is RunState.DEAD
        params: dict[str, Any] = {}
        for name in ("kind", "playbook", "since", "until"):
            value = getattr(where, name)
            if value is not None:
                params[name] = str(value) if name == "kind" else value
        if where.partition is not None:
            params["part_lo"], params["part_hi"] = where.partition
        if where.state is not None:
            # A dead run is stored RUNNING: read those, keep the dead ones.
            params["state"] = str(RunState.RUNNING if dead else where.state)
        out: list[RunRecord] = []
        cursor = after
        while True:
            page_params = dict(params)
            conditions = [q.RUN_FILTERS[k] for k in page_params if k != "part_hi"]
            if cursor is not None:
                page_params["after_at"], page_params["after_id"] = _parse_cursor(cursor)
                conditions.append(q.RUN_FILTERS["after"])
            want = limit - len(out)
            sql = q.LIST_RUNS.format(where=q.where(conditions))
            rows = self._backend.query(sql, {**page_params, "limit": want})
            for row in rows:
                run = self._observed(q.decode(RunRecord, row))
                cursor = _cursor(run)
                if where.state is None or run.state is where.state:
                    out.append(run)
            if len(rows) < want or len(out) >= limit:
                break
            if where.state is not RunState.RUNNING and not dead:
                break  # every row read was kept: the page is complete
        return Page(out, cursor if len(out) >= limit else None)

    def latest_run(self) -> RunRecord | None:
        """The most recently created run, or None."""
        page = self.runs(limit=1)
        return page.items[0] if page.items else None

    # --- steps and attempts -------------------------------------------------------------

    def steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps in playbook order (empty for an unknown run)."""
        rows = self._backend.query(q.SELECT_STEPS, {"run_id": run_id})
        return [q.decode(StepRecord, r) for r in rows]

    def partition_history(
        self, playbook: str, first: str, last: str
    ) -> list[tuple[StepRecord, RunState]]:
        """The steps recorded for the partitions ``first`` to ``last`` (UTC RFC 3339,
        both included) of the playbook named ``playbook``, the most recent run's
        first, each with its run's state (``DEAD`` for a run whose runner is gone)."""
        rows = self._backend.query(
            q.PARTITION_STEPS, {"playbook": playbook, "part_lo": first, "part_hi": last}
        )
        runs: dict[str, RunState] = {}
        out = []
        for row in rows:
            step = q.decode(StepRecord, row)
            if step.run_id not in runs:
                run = self.run(step.run_id)
                runs[step.run_id] = run.state if run is not None else RunState.FAILED
            out.append((step, runs[step.run_id]))
        return out

    def attempts(self, run_id: str, step_id: str | None = None) -> list[AttemptRecord]:
        """The run's attempts (of one step if given), in step order then attempt number."""
        params = {"run_id": run_id}
        step = ""
        if step_id is not None:
            params["step_id"] = step_id
            step = q.ATTEMPTS_OF_STEP
        rows = self._backend.query(q.SELECT_ATTEMPTS.format(step=step), params)
        return [q.decode(AttemptRecord, r) for r in rows]

    # --- clusters -----------------------------------------------------------------------

    def cluster(self, cluster_id: str) -> ClusterRecord | None:
        """The cluster with this id, or None."""
        rows = self._backend.query(q.SELECT_CLUSTER, {"id": cluster_id})
        return self._observed_cluster(q.decode(ClusterRecord, rows[0])) if rows else None

    def clusters(
        self, *, fabric: str | None = None, active: bool | None = None, limit: int = 50
    ) -> list[ClusterRecord]:
        """Clusters, newest first; ``active``: True = not terminated, False = terminated
        (a cluster whose host process died counts as terminated, whatever is stored).

        >>> reader.clusters(active=True)  # doctest: +SKIP
        """
        limit = max(1, min(limit, MAX_PAGE))
        conditions = []
        params: dict[str, Any] = {}
        if fabric is not None:
            conditions.append(q.CLUSTER_FILTERS["fabric"])
            params["fabric"] = fabric
        if active is True:
            conditions.append(q.CLUSTER_FILTERS["active"])
        # (Not active: stored as ended, or stored as up by a host that is gone.)
        sql = q.LIST_CLUSTERS.format(where=q.where(conditions))
        found: list[ClusterRecord] = []
        offset = 0
        while len(found) < limit:
            rows = self._backend.query(sql, {**params, "limit": limit, "offset": offset})
            for row in rows:
                cluster = self._observed_cluster(q.decode(ClusterRecord, row))
                if active is None or cluster.state.finished is not active:
                    found.append(cluster)
            if len(rows) < limit:
                break
            offset += len(rows)
        return found[:limit]

    # --- a server's queue, tokens and saved playbooks -----------------------------------

    def request(self, run_id: str) -> RequestRecord | None:
        """What a server was asked to run (None: the run was not made by a server)."""
        rows = self._backend.query(q.SELECT_REQUEST, {"run_id": run_id})
        return q.decode(RequestRecord, rows[0]) if rows else None

    def cancels_asked(self, run_ids: list[str]) -> dict[str, str]:
        """The runs among ``run_ids`` that a server was asked to cancel, with why."""
        if not run_ids:
            return {}
        names = {f"id{i}": run_id for i, run_id in enumerate(run_ids)}
        sql = q.CANCELS_ASKED.format(ids=", ".join(":" + n for n in names))
        return {r["run_id"]: r["cancel_reason"] for r in self._backend.query(sql, names)}

    def server_runs(self, state: RunState, *, limit: int = 100) -> list[RunRecord]:
        """Runs made by a server and stored in ``state`` (RUNNING ones as observed:
        DEAD when their runner is gone), oldest first."""
        stored = RunState.RUNNING if state is RunState.DEAD else state
        rows = self._backend.query(q.SERVER_RUNS, {"state": str(stored), "limit": limit})
        runs = [self._observed(q.decode(RunRecord, r)) for r in rows]
        return [r for r in runs if r.state is state]

    def claimer_alive(self, run: RunRecord) -> bool | None:
        """Whether the worker that claimed a QUEUED run runs (None: another host's)."""
        return self._alive_here(run.host, run.pid)

    def count_by_state(self) -> dict[str, int]:
        """How many runs the store holds in each stored state."""
        return {str(r["state"]): int(r["n"]) for r in self._backend.query(q.COUNT_BY_STATE, {})}

    def active_steps(self, cluster_id: str) -> list[StepRecord]:
        """The steps of RUNNING runs on ``cluster_id`` that are not finished."""
        rows = self._backend.query(q.ACTIVE_STEPS, {"cluster_id": cluster_id})
        return [q.decode(StepRecord, r) for r in rows]

    def token_by_hash(self, digest: str) -> TokenRecord | None:
        rows = self._backend.query(q.TOKEN_BY_HASH, {"hash": digest})
        return q.decode(TokenRecord, rows[0]) if rows else None

    def tokens(self) -> list[TokenRecord]:
        return [q.decode(TokenRecord, r) for r in self._backend.query(q.LIST_TOKENS, {})]

    def any_token(self) -> bool:
        """Whether any token is live (a server then asks every client for one)."""
        return bool(self._backend.query(q.ANY_TOKEN, {}))

    def saved(self, name: str) -> SavedPlaybookRecord | None:
        rows = self._backend.query(q.SELECT_SAVED, {"name": name})
        return q.decode(SavedPlaybookRecord, rows[0]) if rows else None

    def saved_list(self) -> list[SavedPlaybookRecord]:
        return [q.decode(SavedPlaybookRecord, r) for r in self._backend.query(q.LIST_SAVED, {})]

    # --- the clusters registry, commands, Genie's jobs ---------------------------------

    def registry(self, cluster_id: str) -> RegistryRecord | None:
        rows = self._backend.query(q.SELECT_REGISTRY, {"cluster_id": cluster_id})
        return q.decode(RegistryRecord, rows[0]) if rows else None

    def registry_rows(self) -> list[RegistryRecord]:
        return [q.decode(RegistryRecord, r) for r in self._backend.query(q.LIST_REGISTRY, {})]

    def store_load(self) -> dict[str, tuple[int, int]]:
        """Per cluster id: (active, pending) steps as the store knows them — the
        unfinished steps of its RUNNING runs (RUNNING ones active), and its QUEUED
        runs as pending."""
        found: dict[str, list[int]] = {}
        for row in self._backend.query(q.STEP_LOAD, {}):
            counts = found.setdefault(str(row["cluster_id"]), [0, 0])
            counts[0 if row["state"] == "RUNNING" else 1] += int(row["n"])
        for row in self._backend.query(q.QUEUED_LOAD, {}):
            found.setdefault(str(row["cluster_id"]), [0, 0])[1] += int(row["n"])
        return {k: (v[0], v[1]) for k, v in found.items()}

    def command(self, name: str) -> CommandRecord | None:
        rows = self._backend.query(q.SELECT_COMMAND, {"name": name})
        return q.decode(CommandRecord, rows[0]) if rows else None

    def commands(self) -> list[CommandRecord]:
        return [q.decode(CommandRecord, r) for r in self._backend.query(q.LIST_COMMANDS, {})]

    def genie_job(self, job_id: str) -> GenieJobRecord | None:
        rows = self._backend.query(q.SELECT_GENIE_JOB, {"id": job_id})
        return q.decode(GenieJobRecord, rows[0]) if rows else None

    def genie_jobs(self, *, limit: int = 100) -> list[GenieJobRecord]:
        rows = self._backend.query(q.LIST_GENIE_JOBS, {"limit": max(1, min(limit, MAX_PAGE))})
        return [q.decode(GenieJobRecord, r) for r in rows]
