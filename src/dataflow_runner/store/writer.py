"""The store's write side: every state transition of runs, steps, attempts and
clusters, each one transaction committed as it happens.

Only the engine writes (``engine/``): front ends read through
:class:`~dataflow_runner.store.reader.StoreReader`. Every value written but the
keys goes through the one redaction (``config/redact.py``) first: free text
(causes, reasons, names, paths) is scrubbed of the secret values this process
knows and of URL credentials, and JSON (variables, options, rendered configs)
is masked under secret-looking names too. A later reader (``status`` in
another process) knows no secret: the store must hold none.

>>> writer.update_run("r-1", state=RunState.COMPLETED, ended_at=time.time())  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dataflow_runner.config.redact import redact, scrub
from dataflow_runner.errors import StoreError
from dataflow_runner.store import queries as q
from dataflow_runner.store.backends import Backend
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    CommandRecord,
    GenieJobRecord,
    PoolWaitRecord,
    RegistryRecord,
    RequestRecord,
    RunRecord,
    RunState,
    SavedPlaybookRecord,
    StepRecord,
    StepState,
    TokenRecord,
)

# SQL, and its parameters or the rows of an INSERT of many.
_Statement = tuple[str, Mapping[str, Any] | list[dict[str, Any]]]

# The columns that hold what a user or a step wrote: free text and JSON, not the
# keys (an UPDATE must find its row) nor the enums.
_MASKED: dict[str, frozenset[str]] = {
    table: frozenset(
        c.name
        for c in cols
        if c.name not in q.KEYS[table] and (c.kind == "json" or (c.kind == "text" and not c.enum))
    )
    for table, cols in q.SCHEMA.items()
}


def masked(table: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` of a row of ``table``, fit to be stored (see the module's docstring)."""
    which = _MASKED[table]
    return {
        name: redact(value) if name in which and value is not None else value
        for name, value in fields.items()
    }


def _params(table: str, record: object) -> dict[str, Any]:
    fields = {c: getattr(record, c) for c in q.COLUMNS[table]}
    return q.encode_fields(table, masked(table, fields))


class StoreWriter:
    """Records transitions; every method is one transaction.

    Updating a row that does not exist is a ``StoreError``; an unknown field
    name is a ``TypeError`` (a bug).
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._where = backend.url_for_display

    def _write(self, statements: Sequence[_Statement], missing: str) -> None:
        """Run ``statements`` in one transaction; an UPDATE that finds no row undoes
        them all."""
        with self._backend.transaction() as tx:
            for sql, params in statements:
                if isinstance(params, list):  # rows to insert, at one call
                    tx.execute_many(sql, params)
                elif tx.execute(sql, params) == 0 and sql.startswith("UPDATE"):
                    raise StoreError(f"no {missing} in the store at {self._where}")

    def _update(self, cls: type, keys: dict[str, Any], fields: dict[str, Any], what: str) -> None:
        table = q.TABLES[cls]
        sql = q.update_sql(table, tuple(fields))
        self._write([(sql, {**q.encode_fields(table, masked(table, fields)), **keys})], what)

    # --- runs ---------------------------------------------------------------------------

    def create_run(self, run: RunRecord, steps: Sequence[StepRecord]) -> None:
        """Record a new run and all its steps, in one transaction.

        >>> writer.create_run(run, [step_a, step_b])  # doctest: +SKIP
        """
        rows = [_params("steps", s) for s in steps]
        self._write(
            [(q.INSERT_RUN, _params("runs", run)), (q.INSERT_STEP, rows)], f"run '{run.id}'"
        )

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Change any fields of a run but its id.

        >>> writer.update_run("r-1", state=RunState.FAILED, reason="b failed")  # doctest: +SKIP
        """
        self._update(RunRecord, {"id": run_id}, fields, f"run '{run_id}'")

    def claim_run(self, run: RunRecord, *, pid: int, host: str, at: float) -> bool:
        """Take ``run`` over (``resume``) if it is still as it was read: its runner,
        heartbeat and state unchanged. True when this caller has it now; False when
        another got there first (one transaction: exactly one of them wins).

        >>> writer.claim_run(dead_run, pid=os.getpid(), host=host, at=time.time())  # doctest: +SKIP
        """
        was_state = RunState.RUNNING if run.state is RunState.DEAD else run.state
        with self._backend.transaction() as tx:
            changed = tx.execute(
                q.CLAIM_RUN,
                {
                    "id": run.id,
                    "state": q.encode("runs", "state", RunState.RUNNING),
                    "pid": pid,
                    "host": host,
                    "at": at,
                    "options": q.encode(
                        "runs", "options", redact({**run.options, "resumed_by": f"{pid} on {host}"})
                    ),
                    "was_state": q.encode("runs", "state", was_state),
                    "was_pid": run.pid if run.pid is not None else -1,
                    "was_host": run.host,
                    "was_beat": run.heartbeat_at if run.heartbeat_at is not None else -1.0,
                },
            )
        return changed == 1

    def heartbeat(self, run_id: str, at: float) -> None:
        """Record that the run's runner is alive at ``at``."""
        self._write([(q.HEARTBEAT, {"id": run_id, "at": at})], f"run '{run_id}'")

    # --- steps and attempts -------------------------------------------------------------

    def update_step(self, run_id: str, step_id: str, **fields: Any) -> None:
        """Change any fields of a step but its run_id and step_id.

        >>> writer.update_step("r-1", "b", state=StepState.CANCELLED)  # doctest: +SKIP
        """
        keys = {"run_id": run_id, "step_id": step_id}
        self._update(StepRecord, keys, fields, f"step '{step_id}' of run '{run_id}'")

    def start_attempt(self, attempt: AttemptRecord) -> None:
        """Record a new attempt and put its step in the attempt's state (RUNNING for
        a step that runs at once), with its attempt count, its first start time and
        the attempt's ``fabric_ref``: one transaction.

        >>> writer.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING))  # doctest: +SKIP
        """
        row = _params("attempts", attempt)
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

        >>> writer.finish_attempt("r-1", "a", 1, StepState.FAILED, at=t)  # doctest: +SKIP
        """
        params = {
            "run_id": run_id,
            "step_id": step_id,
            "attempt": attempt,
            "state": q.encode("attempts", "state", state),
            "ended_at": at,
            "exit_code": exit_code,
            "reason": scrub(reason) if reason is not None else None,
            "cause": scrub(cause) if cause is not None else None,
        }
        statements: list[_Statement] = [(q.FINISH_ATTEMPT, params)]
        if final:
            statements.append((q.FINISH_STEP, params))
        self._write(statements, f"attempt {attempt} of step '{step_id}' of run '{run_id}'")

    def update_attempt(self, run_id: str, step_id: str, attempt: int, **fields: Any) -> None:
        """Change any fields of an attempt but its keys.

        >>> writer.update_attempt("r-1", "a", 1, log_location="s3://logs/j-1/")  # doctest: +SKIP
        """
        keys = {"run_id": run_id, "step_id": step_id, "attempt": attempt}
        what = f"attempt {attempt} of step '{step_id}' of run '{run_id}'"
        self._update(AttemptRecord, keys, fields, what)

    # --- clusters -----------------------------------------------------------------------

    def upsert_cluster(self, cluster: ClusterRecord) -> None:
        """Record a cluster, replacing every field of one with the same id.

        >>> writer.upsert_cluster(ClusterRecord("j-1", "emr", "dev", STARTING, t))  # doctest: +SKIP
        """
        self._write([(q.UPSERT_CLUSTER, _params("clusters", cluster))], "")

    def update_cluster(self, cluster_id: str, **fields: Any) -> None:
        """Change any fields of a cluster but its id.

        >>> writer.update_cluster("j-1", state=ClusterState.TERMINATED)  # doctest: +SKIP
        """
        self._update(ClusterRecord, {"id": cluster_id}, fields, f"cluster '{cluster_id}'")

    # --- a server's queue, tokens and saved playbooks -----------------------------------

    def enqueue_run(
        self, run: RunRecord, request: RequestRecord, wait: PoolWaitRecord | None = None
    ) -> None:
        """Record a QUEUED run and what it was asked to run, in one transaction; with
        ``wait``, in its pool's queue (no worker claims it until it is placed)."""
        statements: list[_Statement] = [
            (q.INSERT_RUN, q.params("runs", run)),
            (q.INSERT_REQUEST, q.params("run_requests", request)),
        ]
        if wait is not None:
            statements.append((q.INSERT_WAIT, q.params("pool_waits", wait)))
        self._write(statements, f"run '{run.id}'")

    def claim_queued(self, *, pid: int, host: str, at: float, stale: float) -> str | None:
        """Claim the oldest QUEUED run that nobody holds (or whose claimer's lease is
        older than ``stale``): its id, or None. Concurrent claimers get different runs."""
        params = {"pid": pid, "host": host, "at": at, "stale": stale}
        sql = q.CLAIM_QUEUED["postgresql" if self._backend.dialect == "postgresql" else "sqlite"]
        with self._backend.transaction() as tx:
            rows = tx.fetch(sql, params)
        return str(rows[0]["id"]) if rows else None

    def reclaim_queued(self, run: RunRecord, *, pid: int, host: str, at: float) -> bool:
        """Take over a QUEUED run whose claimer died before starting it, if it is
        still as it was read (compare-and-set)."""
        with self._backend.transaction() as tx:
            changed = tx.execute(
                q.RECLAIM_QUEUED,
                {
                    "id": run.id,
                    "pid": pid,
                    "host": host,
                    "at": at,
                    "was_pid": run.pid if run.pid is not None else -1,
                    "was_host": run.host,
                    "was_beat": run.heartbeat_at if run.heartbeat_at is not None else -1.0,
                },
            )
        return changed == 1

    def start_queued(self, run: RunRecord, steps: Sequence[StepRecord]) -> None:
        """A claimed QUEUED run becomes ``run`` (RUNNING) with its steps, in one
        transaction; only its claimer (``run.pid`` on ``run.host``) may. The options
        recorded when it was queued (its saved playbook...) are kept."""
        rows = [q.params("steps", s) for s in steps]
        with self._backend.transaction() as tx:
            found = tx.fetch(q.SELECT_RUN, {"id": run.id})
            queued = q.decode(RunRecord, found[0]).options if found else {}
            values = q.params("runs", run)
            values["options"] = q.encode("runs", "options", {**queued, **run.options})
            if tx.execute(q.START_QUEUED, values) != 1:
                raise StoreError(
                    f"no queued run '{run.id}' claimed by {run.pid} on {run.host} in the store "
                    f"at {self._where}"
                )
            tx.execute_many(q.INSERT_STEP, rows)

    def pass_claim(
        self, run_id: str, *, pid: int, host: str, to_pid: int, to_host: str, at: float
    ) -> bool:
        """Hand a QUEUED run this claimer holds to another process (the engine host
        of the cluster it goes to, which starts it); False when it was not ours."""
        with self._backend.transaction() as tx:
            params = {"id": run_id, "pid": pid, "host": host, "to_pid": to_pid,
                      "to_host": to_host, "at": at}  # fmt: skip
            return tx.execute(q.PASS_CLAIM, params) == 1

    def release_queued(self, run_id: str, *, pid: int, host: str) -> None:
        """Give a claimed QUEUED run back to the queue (its claimer cannot start it)."""
        with self._backend.transaction() as tx:
            tx.execute(q.RELEASE_QUEUED, {"id": run_id, "pid": pid, "host": host})

    def end_queued(
        self,
        run_id: str,
        state: RunState,
        reason: str,
        *,
        at: float,
        claimer: tuple[int, str] | None = None,
    ) -> bool:
        """End a run that never started (it could not, or it was cancelled while
        QUEUED); with ``claimer``, only if that worker still holds it."""
        params: dict[str, Any] = {
            "id": run_id,
            "state": q.encode("runs", "state", state),
            "reason": reason,
            "at": at,
        }
        if claimer is not None:
            params["pid"], params["host"] = claimer
        sql = q.END_QUEUED.format(claimer=q.OF_CLAIMER if claimer is not None else "")
        with self._backend.transaction() as tx:
            return tx.execute(sql, params) == 1

    def requeue_run(self, run_id: str) -> bool:
        """A retry: an ended (FAILED or CANCELLED) run goes back to the queue, its
        failed and cancelled steps PENDING (their attempts kept: numbers continue)."""
        with self._backend.transaction() as tx:
            if tx.execute(q.REQUEUE_RUN, {"id": run_id}) != 1:
                return False
            tx.execute(q.REQUEUE_STEPS, {"id": run_id})
            tx.execute(q.ASK_CANCEL, {"run_id": run_id, "reason": None})
        return True

    def ask_cancel(self, run_id: str, reason: str) -> None:
        """Ask whichever server runs ``run_id`` to cancel it."""
        self._write([(q.ASK_CANCEL, {"run_id": run_id, "reason": reason})], f"request '{run_id}'")

    def create_token(self, token: TokenRecord) -> None:
        """Record a new token; a name already given to a live token is a StoreError."""
        with self._backend.transaction() as tx:
            if tx.fetch(q.TOKENS_NAMED, {"name": token.name}):
                raise StoreError(f"a token named '{token.name}' exists already (revoke it first)")
            tx.execute(q.INSERT_TOKEN, q.params("tokens", token))

    def revoke_token(self, ref: str, *, at: float) -> int:
        """Revoke the live token named (or whose id is) ``ref``; how many were."""
        with self._backend.transaction() as tx:
            return tx.execute(q.REVOKE_TOKEN, {"ref": ref, "at": at})

    def touch_token(self, token_id: str, *, at: float) -> None:
        self._write([(q.TOUCH_TOKEN, {"id": token_id, "at": at})], f"token '{token_id}'")

    def put_saved(self, saved: SavedPlaybookRecord) -> None:
        """Create or replace a saved playbook (its creation time kept)."""
        self._write([(q.UPSERT_SAVED, q.params("saved_playbooks", saved))], "")

    def delete_saved(self, name: str) -> bool:
        with self._backend.transaction() as tx:
            return tx.execute(q.DELETE_SAVED, {"name": name}) == 1

    # --- the clusters registry, commands, Genie's jobs ---------------------------------

    def upsert_registry(self, entry: RegistryRecord) -> None:
        """Record a cluster's registry entry (its creation time kept if it exists)."""
        self._write([(q.UPSERT_REGISTRY, _params("cluster_registry", entry))], "")

    def update_registry(self, cluster_id: str, **fields: Any) -> None:
        self._update(RegistryRecord, {"cluster_id": cluster_id}, fields, f"cluster '{cluster_id}'")

    def note_routed(self, cluster_id: str, *, at: float) -> None:
        """One more job sent to ``cluster_id`` since its last poll."""
        self._write([(q.NOTE_ROUTED, {"cluster_id": cluster_id, "at": at})], "")

    def put_command(self, command: CommandRecord) -> None:
        self._write([(q.UPSERT_COMMAND, _params("commands", command))], "")

    def delete_command(self, name: str) -> bool:
        with self._backend.transaction() as tx:
            return tx.execute(q.DELETE_COMMAND, {"name": name}) > 0

    def create_genie_job(self, job: GenieJobRecord) -> bool:
        """Record a Genie job; False (nothing written) when its id is taken."""
        with self._backend.transaction() as tx:
            if tx.fetch(q.SELECT_GENIE_JOB, {"id": job.id}):
                return False
            tx.execute(q.INSERT_GENIE_JOB, _params("genie_jobs", job))
        return True

    def update_genie_job(self, job_id: str, **fields: Any) -> None:
        self._update(GenieJobRecord, {"id": job_id}, fields, f"job '{job_id}'")
