"""The state store: every run, step, attempt and cluster, each state transition
committed as it happens (the engine groups those of one wake of its loop: see
:meth:`Store.batch`).

SQLite (WAL) in the state directory by default, with zero set-up; PostgreSQL
by URL for a shared store::

    >>> store = open_store(state_dir=Path("/tmp/dfr-doc"))  # doctest: +SKIP
    >>> store.latest_run()  # doctest: +SKIP
    >>> open_store("postgresql://dfr:pw@db.internal/dfr")  # doctest: +SKIP

Importing this package is cheap and the default SQLite store never imports
SQLAlchemy or Alembic (~0.2 s): they are imported only to migrate a schema or
to reach a database server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from dataflow_runner.errors import StoreError
from dataflow_runner.store import queries as q
from dataflow_runner.store.backends import Backend, open_backend
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    RunRecord,
    StepRecord,
    StepState,
)

__all__ = ["Store", "default_state_dir", "open_store"]

# How many candidate ids an ambiguous run prefix lists.
_SHOWN_MATCHES = 5


def default_state_dir() -> Path:
    """Where the default store lives: ``$DATAFLOW_RUNNER_HOME``, else
    ``$XDG_STATE_HOME/dataflow-runner``, else ``~/.local/state/dataflow-runner``.

    >>> default_state_dir()  # doctest: +SKIP
    PosixPath('/home/me/.local/state/dataflow-runner')
    """
    home = os.environ.get("DATAFLOW_RUNNER_HOME")
    if home:
        return Path(home).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "state"
    return base / "dataflow-runner"


def open_store(url: str | None = None, *, state_dir: Path | None = None) -> Store:
    """Open the store, creating or migrating its schema on first use.

    ``url``: None (``<state_dir>/store.db``), a SQLite path or ``sqlite:///path``
    (served by sqlite3), ``postgresql://user:pw@host/db`` (psycopg 3), or any
    SQLAlchemy URL (``sqlite+pysqlite:///path`` forces SQLAlchemy on SQLite).
    Any failure is one ``StoreError`` line, with the password masked.

    >>> store = open_store(state_dir=Path("/tmp/dfr-doc"))  # doctest: +SKIP
    >>> store.url_for_display  # doctest: +SKIP
    '/tmp/dfr-doc/store.db'
    """
    return Store(open_backend(url, state_dir if state_dir is not None else default_state_dir()))


class Store:
    """Records runs, steps, attempts and clusters; every method is one transaction
    (or part of the :meth:`batch` the calling thread has open).

    Times are UTC epoch seconds. Updating a row that does not exist is a
    ``StoreError``; an unknown field name is a ``TypeError`` (a bug).

    >>> store.update_run("r-1", state=RunState.COMPLETED, ended_at=time.time())  # doctest: +SKIP
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.url_for_display = backend.url_for_display
        self._batch: list[_Write] | None = None  # the writes of the open batch
        self._batch_thread = 0  # the thread that opened it
        self._batch_depth = 0
        self._batch_lock = threading.Lock()  # who opens the batch

    def close(self) -> None:
        """Close the connection(s); the store cannot be used afterwards."""
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def batch(self) -> _Batch:
        """``with store.batch():`` the writes this thread makes in the block are
        committed together, in one transaction, when it ends (also when it ends by
        an exception: they record what happened).

        The engine's loop keeps one open across its wakes and commits it at most
        20 ms after opening it (``engine/loop.py``): the ends and starts of a
        run of short steps are one commit, made once the next steps run. Each
        write's values are taken when it is made; reads in the block do not see
        it yet. If the transaction fails, each write is tried again on its own,
        so one that cannot be made (a row deleted meanwhile) costs only itself;
        the first error is raised once all were tried.

        >>> with store.batch():  # doctest: +SKIP
        ...     store.finish_attempt("r-1", "a", 1, StepState.COMPLETED, at=t)
        ...     store.start_attempt(AttemptRecord("r-1", "b", 1, StepState.RUNNING))
        """
        return _Batch(self)

    def _write(self, statements: Sequence[_Statement], missing: str) -> None:
        """Run ``statements`` in one transaction (the open batch's, if this thread has
        one); an UPDATE that finds no row undoes them all."""
        write = (statements, missing)
        if self._batch is not None and self._batch_thread == threading.get_ident():
            self._batch.append(write)
        else:
            self._commit((write,))

    def _commit(self, writes: Sequence[_Write]) -> None:
        with self.backend.transaction() as tx:
            for statements, missing in writes:
                for sql, params in statements:
                    if isinstance(params, list):  # rows to insert, at one call
                        tx.execute_many(sql, params)
                    elif tx.execute(sql, params) == 0 and sql.startswith("UPDATE"):
                        raise StoreError(f"no {missing} in the store at {self.url_for_display}")

    def _end_batch(self) -> None:
        writes, self._batch = self._batch or [], None
        if not writes:
            return
        try:
            self._commit(writes)
        except StoreError:
            if len(writes) == 1:
                raise
            first: StoreError | None = None
            for write in writes:
                try:
                    self._commit((write,))
                except StoreError as exc:
                    first = first or exc
            if first is not None:
                raise first from None

    def _update(self, cls: type, keys: dict[str, Any], fields: dict[str, Any], what: str) -> None:
        table = q.TABLES[cls]
        sql = q.update_sql(table, tuple(fields))
        self._write([(sql, {**q.encode_fields(table, fields), **keys})], what)

    # --- runs ---------------------------------------------------------------------------

    def create_run(self, run: RunRecord, steps: Sequence[StepRecord]) -> None:
        """Record a new run and all its steps, in one transaction.

        >>> store.create_run(run, [step_a, step_b])  # doctest: +SKIP
        """
        rows = [q.params("steps", s) for s in steps]
        self._write(
            [(q.INSERT_RUN, q.params("runs", run)), (q.INSERT_STEP, rows)], f"run '{run.id}'"
        )

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Change any fields of a run but its id.

        >>> store.update_run("r-1", state=RunState.FAILED, reason="step b failed")  # doctest: +SKIP
        """
        self._update(RunRecord, {"id": run_id}, fields, f"run '{run_id}'")

    def heartbeat(self, run_id: str, at: float) -> None:
        """Record that the run's process is alive at ``at``."""
        self._write([(q.HEARTBEAT, {"id": run_id, "at": at})], f"run '{run_id}'")

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with exactly this id, or None."""
        rows = self.backend.query(q.SELECT_RUN, {"id": run_id})
        return q.decode(RunRecord, rows[0]) if rows else None

    def find_run(self, ref: str) -> RunRecord:
        """The run whose id is ``ref``, else the only one whose id starts with it.

        >>> store.find_run("r-20261122-15")  # doctest: +SKIP
        RunRecord(id='r-20261122-153012-8f3a1c', ...)
        """
        run = self.get_run(ref)
        if run is not None:
            return run
        match = {"prefix": ref, "length": len(ref)}
        rows = self.backend.query(q.RUN_IDS_BY_PREFIX, {**match, "limit": _SHOWN_MATCHES})
        if not rows or not ref:
            raise StoreError(f"no run '{ref}' in the store at {self.url_for_display}")
        if len(rows) > 1:
            count = self.backend.query(q.COUNT_RUNS_BY_PREFIX, match)[0]["n"]
            ids = ", ".join(r["id"] for r in rows) + (", ..." if count > len(rows) else "")
            raise StoreError(f"'{ref}' matches {count} runs: {ids}")
        found = self.get_run(rows[0]["id"])
        if found is None:  # deleted in between: as if it never matched
            raise StoreError(f"no run '{ref}' in the store at {self.url_for_display}")
        return found

    def list_runs(
        self,
        *,
        state: str | None = None,
        playbook: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 20,
    ) -> list[RunRecord]:
        """Runs, newest first; ``since`` <= created_at < ``until``.

        >>> store.list_runs(state="FAILED", since=time.time() - 86400)  # doctest: +SKIP
        """
        given = {"state": state, "playbook": playbook, "since": since, "until": until}
        params: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if "state" in params:
            params["state"] = str(params["state"])  # a RunState, or its value
        sql = q.LIST_RUNS.format(where=q.where(q.RUN_FILTERS[k] for k in params))
        rows = self.backend.query(sql, {**params, "limit": limit})
        return [q.decode(RunRecord, r) for r in rows]

    def latest_run(self) -> RunRecord | None:
        """The most recently created run, or None."""
        runs = self.list_runs(limit=1)
        return runs[0] if runs else None

    # --- steps and attempts -------------------------------------------------------------

    def update_step(self, run_id: str, step_id: str, **fields: Any) -> None:
        """Change any fields of a step but its run_id and step_id.

        >>> store.update_step("r-1", "b", state=StepState.CANCELLED)  # doctest: +SKIP
        """
        keys = {"run_id": run_id, "step_id": step_id}
        self._update(StepRecord, keys, fields, f"step '{step_id}' of run '{run_id}'")

    def start_attempt(self, attempt: AttemptRecord) -> None:
        """Record a new attempt and put its step in the attempt's state (RUNNING for
        a step that runs at once), with its attempt count, its first start time and
        the attempt's ``fabric_ref``: one transaction.

        >>> attempt = AttemptRecord("r-1", "a", 1, StepState.RUNNING)  # doctest: +SKIP
        >>> store.start_attempt(attempt)  # doctest: +SKIP
        """
        row = q.params("attempts", attempt)
        step = {
            "run_id": attempt.run_id,
            "step_id": attempt.step_id,
            # Encoded as the step's columns would be (same enum, same JSON): once.
            "state": row["state"],
            "attempt": attempt.attempt,
            "started_at": attempt.started_at,
            "fabric_ref": row["fabric_ref"],
        }
        # The UPDATE runs first: a missing step is reported as such, not as a
        # foreign-key violation of the attempt.
        self._write(
            [(q.START_STEP, step), (q.INSERT_ATTEMPT, row)],
            f"step '{attempt.step_id}' of run '{attempt.run_id}'",
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
        """Close an attempt; when ``final`` (no retry follows) its step ends the same way.

        >>> store.finish_attempt("r-1", "a", 1, StepState.FAILED, at=t)  # doctest: +SKIP
        """
        params = {
            "run_id": run_id,
            "step_id": step_id,
            "attempt": attempt,
            "state": q.encode("attempts", "state", state),
            "ended_at": at,
            "exit_code": exit_code,
            "reason": reason,
            "cause": cause,
        }
        statements = [(q.FINISH_ATTEMPT, params)]
        if final:
            statements.append((q.FINISH_STEP, params))
        self._write(statements, f"attempt {attempt} of step '{step_id}' of run '{run_id}'")

    def update_attempt(self, run_id: str, step_id: str, attempt: int, **fields: Any) -> None:
        """Change any fields of an attempt but its keys.

        >>> store.update_attempt("r-1", "a", 1, log_location="s3://logs/j-1/s-1/")  # doctest: +SKIP
        """
        keys = {"run_id": run_id, "step_id": step_id, "attempt": attempt}
        what = f"attempt {attempt} of step '{step_id}' of run '{run_id}'"
        self._update(AttemptRecord, keys, fields, what)

    def get_steps(self, run_id: str) -> list[StepRecord]:
        """The run's steps in playbook order (empty for an unknown run)."""
        rows = self.backend.query(q.SELECT_STEPS, {"run_id": run_id})
        return [q.decode(StepRecord, r) for r in rows]

    def get_attempts(self, run_id: str, step_id: str | None = None) -> list[AttemptRecord]:
        """The run's attempts (of one step if given), in step order then attempt number."""
        params = {"run_id": run_id}
        step = ""
        if step_id is not None:
            params["step_id"] = step_id
            step = q.ATTEMPTS_OF_STEP
        rows = self.backend.query(q.SELECT_ATTEMPTS.format(step=step), params)
        return [q.decode(AttemptRecord, r) for r in rows]

    # --- clusters -----------------------------------------------------------------------

    def upsert_cluster(self, cluster: ClusterRecord) -> None:
        """Record a cluster, replacing every field of one with the same id.

        >>> cluster = ClusterRecord("l-1", "local", "dev", STARTING, now)  # doctest: +SKIP
        >>> store.upsert_cluster(cluster)  # doctest: +SKIP
        """
        self._write([(q.UPSERT_CLUSTER, q.params("clusters", cluster))], "")

    def update_cluster(self, cluster_id: str, **fields: Any) -> None:
        """Change any fields of a cluster but its id.

        >>> store.update_cluster("j-1", state=ClusterState.TERMINATED, ended_at=t)  # doctest: +SKIP
        """
        self._update(ClusterRecord, {"id": cluster_id}, fields, f"cluster '{cluster_id}'")

    def get_cluster(self, cluster_id: str) -> ClusterRecord | None:
        """The cluster with this id, or None."""
        rows = self.backend.query(q.SELECT_CLUSTER, {"id": cluster_id})
        return q.decode(ClusterRecord, rows[0]) if rows else None

    def list_clusters(
        self, *, fabric: str | None = None, active: bool | None = None, limit: int = 50
    ) -> list[ClusterRecord]:
        """Clusters, newest first; ``active``: True = not terminated, False = terminated.

        >>> store.list_clusters(fabric="local", active=True)  # doctest: +SKIP
        """
        conditions = []
        params: dict[str, Any] = {"limit": limit}
        if fabric is not None:
            conditions.append(q.CLUSTER_FILTERS["fabric"])
            params["fabric"] = fabric
        if active is not None:
            conditions.append(q.CLUSTER_FILTERS["active" if active else "inactive"])
        rows = self.backend.query(q.LIST_CLUSTERS.format(where=q.where(conditions)), params)
        return [q.decode(ClusterRecord, r) for r in rows]


# SQL, and its parameters or the rows of an INSERT of many.
_Statement = tuple[str, Mapping[str, Any] | list[dict[str, Any]]]
# Statements, and what is missing when an UPDATE among them finds no row.
_Write = tuple[Sequence[_Statement], str]


class _Batch:
    """See :meth:`Store.batch`. Nested batches of one thread are one batch; another
    thread's writes go on being committed one by one. A class, not a generator
    context manager: it is entered at every wake of the engine's loop."""

    __slots__ = ("_opened", "_store")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._opened = False

    @property
    def pending(self) -> bool:
        """Whether the block holds writes that its end will commit."""
        return self._opened and bool(self._store._batch)

    def __enter__(self) -> None:
        store = self._store
        thread = threading.get_ident()
        with store._batch_lock:
            if store._batch is None:
                store._batch, store._batch_thread = [], thread
            elif store._batch_thread != thread:
                return  # another thread's batch: this block writes as usual
        store._batch_depth += 1
        self._opened = True

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        if not self._opened:
            return
        store = self._store
        store._batch_depth -= 1
        if store._batch_depth == 0:
            store._end_batch()
