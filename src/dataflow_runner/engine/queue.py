"""A server's runs: accepted (QUEUED), then started, resumed, retried and
cancelled by whichever server of the store has a free worker.

* :meth:`RunQueue.enqueue` validates everything that needs no fabric (the
  documents, the partitions asked for, the variables against the playbook's
  parameters, the fabric's name), then records the run QUEUED with what it was
  asked to run, encrypted (``engine/payload.py``), in one transaction.
* :meth:`RunQueue.claim` takes the oldest QUEUED run nobody holds (``SELECT ...
  FOR UPDATE SKIP LOCKED`` on PostgreSQL); the claim is a lease, the claimer's
  heartbeat. :meth:`RunQueue.start` then submits it to the engine, whose record
  turns the QUEUED row into the running run (``StoreWriter.start_queued``); from
  then on the run's own heartbeat is the lease.
* A run whose runner is gone (DEAD: its process died on this host, or its
  heartbeat is older than the lease elsewhere) is taken over through the
  engine's resume, which one server only wins (``StoreWriter.claim_run``), and
  which never runs a step twice.
* :meth:`RunQueue.retry` puts an ended run back in the queue, its failed and
  cancelled steps PENDING; its worker resumes it (the completed steps are kept).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dataflow_runner.config.redact import redact
from dataflow_runner.engine.handle import RunHandle
from dataflow_runner.engine.payload import Keyring, Submission, WrongKey
from dataflow_runner.engine.recorder import document, this_host
from dataflow_runner.engine.request import LockSpec, RunRequest
from dataflow_runner.engine.run import new_run_id
from dataflow_runner.errors import ConfigError, ConfigErrors, DataflowRunnerError, FlagError
from dataflow_runner.store.reader import STALE_AFTER
from dataflow_runner.store.records import PoolWaitRecord, RequestRecord, RunRecord, RunState

if TYPE_CHECKING:
    from dataflow_runner.config.model import ClusterConfig
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.events import Listener
    from dataflow_runner.engine.payload import Documents

log = logging.getLogger("dataflow_runner.server")

#: The longest reason recorded for a run that could not start.
_REASON_CHARS = 2000


class RunNotFound(DataflowRunnerError):
    """No run with that id."""


class RunConflict(DataflowRunnerError):
    """The run is not in a state that allows what was asked."""


class RunQueue:
    """See the module's docstring: the queue of one store, seen from one server."""

    def __init__(self, engine: Engine, keyring: Keyring, *, lease: float = STALE_AFTER) -> None:
        self.engine = engine
        self.keyring = keyring
        self.lease = lease

    # --- accepting -----------------------------------------------------------------------

    def request(
        self, submission: Submission, run_id: str, *, queued: bool, cluster_id: str | None = None
    ) -> RunRequest:
        """The engine's request for ``submission``: its documents loaded and
        validated (every problem at once), its options checked. ``cluster_id``: the
        running cluster it goes to (a pool's run, placed), instead of a config."""
        from dataflow_runner.config.loading import load_cluster
        from dataflow_runner.config.source import PlaybookSource
        from dataflow_runner.data.partitions import Window

        docs = submission.documents
        docs.register_secrets()
        errors: list[ConfigError] = []
        config: ClusterConfig | None = None
        source = PlaybookSource("playbook", docs.variables, text=docs.playbook_text)
        try:
            if source.head().partitions is None:  # (a partitioned one: per partition)
                source.load()
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
        cluster_id = cluster_id or submission.cluster_id
        if cluster_id is not None:
            from dataflow_runner.fabrics import registry

            registry.for_cluster_id(cluster_id)  # a fabric owns its form
        elif submission.pool:
            pass  # a pool's run: on a cluster of the pool, once placed
        elif docs.cluster is None:
            errors.append(ConfigError("a run needs a cluster config", file="cluster", path="$"))
        else:
            try:
                config = load_cluster("cluster", docs.variables, text=docs.cluster_text)
            except ConfigErrors as exc:
                errors.extend(exc.errors)
            except ConfigError as exc:
                errors.append(exc)
        if errors:
            raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
        if submission.fabric is not None:
            from dataflow_runner.fabrics import registry

            if submission.fabric not in registry.names():
                known = ", ".join(registry.names())
                raise FlagError(f"fabric: unknown fabric '{submission.fabric}' (known: {known})")
        window = None
        if submission.partition or submission.from_ or submission.to:
            if submission.partition and (submission.from_ or submission.to):
                raise FlagError("partition cannot be given with from or to")
            if bool(submission.from_) != bool(submission.to):
                raise FlagError("from and to go together")
            window = Window(first=submission.partition or submission.from_, last=submission.to)
        lock = LockSpec(submission.lock, soft=submission.soft_lock) if submission.lock else None
        if config is None and cluster_id is None:
            # Checked while it waits for a cluster of its pool: an address to check with.
            cluster_id = f"pool:{submission.pool}"
        return RunRequest(
            source=source,
            cluster=config,
            cluster_id=cluster_id,
            fabric=submission.fabric,
            variables=dict(docs.variables),
            lock=lock,
            window=window,
            run_id=run_id,
            queued=queued,
        )

    def enqueue(self, submission: Submission) -> RunRecord:
        """Validate ``submission`` and record it QUEUED (see the module's docstring)."""
        run, request, wait = self.queued(submission)
        self.engine.writer.enqueue_run(run, request, wait)
        return run

    def queued(
        self, submission: Submission, extra: dict[str, object] | None = None
    ) -> tuple[RunRecord, RequestRecord, PoolWaitRecord | None]:
        """The QUEUED run of ``submission``, its sealed request and, for a pool's
        run, its place in the pool's queue: validated and not recorded yet (a
        schedule records them with its tick's key); ``extra``: more options to keep
        with the run (its schedule, tick, commit)."""
        from dataflow_runner.engine import prepare

        run_id = new_run_id()
        request = self.request(submission, run_id, queued=False)
        try:
            selection = prepare.select(request, self.engine.clock())
            book = prepare.expanded(selection)
        except ConfigError as exc:
            raise exc.with_file(exc.file or "playbook") from None
        keys = [p.utc for p in selection.partitions]
        wait = None
        if submission.pool:
            from dataflow_runner.engine import pools

            pool = pools.usable(self.engine, submission.pool)
            wait = pools.wait_record(run_id, pool.name, len(book.steps), time.time())
            fabric = pool.fabric
        else:
            fabric = request.fabric or _fabric_of(request)
        options: dict[str, object] = {"fabric": fabric}
        if submission.pool:
            options["pool"] = submission.pool
        if selection.partitions:
            options["partitions"] = [p.key for p in selection.partitions]
        if request.lock is not None:
            options.update(lock=request.lock.name, soft_lock=request.lock.soft)
        if submission.saved:
            options["saved"] = submission.saved
            deployed = self.engine.store.scheduling.active_deployment()
            if deployed is not None and submission.saved in deployed.playbooks:
                options["commit"] = deployed.git_commit  # the commit it came from
        options.update(extra or {})
        now = time.time()
        config = request.cluster
        run = RunRecord(
            id=run_id,
            kind=request.kind,
            cluster_id=None if submission.pool else request.cluster_id,
            playbook=book.name,
            fabric=str(options["fabric"]),
            state=RunState.QUEUED,
            created_at=now,
            cluster_name=(
                config.name
                if config is not None
                else f"pool {submission.pool}"
                if submission.pool
                else request.cluster_id or ""
            ),
            variables=redact(dict(request.variables)),
            playbook_doc=document(book),
            cluster_doc=document(config),
            options=options,
            partition_first=min(keys) if keys else None,
            partition_last=max(keys) if keys else None,
            submitted_by=submission.submitted_by,
        )
        payload = self.keyring.seal(submission.to_json())
        return run, RequestRecord(run_id, payload, now), wait

    def submission(self, run_id: str) -> Submission:
        """What a server's run was asked to run (decrypted)."""
        found = self.engine.store.reader.request(run_id)
        if found is None:
            raise RunConflict(f"run {run_id} was not submitted to a server")
        return Submission.from_json(self.keyring.open(found.payload, what=f"run {run_id}"))

    def documents(self, run_id: str) -> Documents:
        return self.submission(run_id).documents

    # --- starting ------------------------------------------------------------------------

    def claim(self) -> str | None:
        """Claim the oldest QUEUED run nobody holds (or whose claimer is gone)."""
        pid, host = this_host()
        now = time.time()
        writer = self.engine.writer
        run_id = writer.claim_queued(pid=pid, host=host, at=now, stale=now - self.lease)
        if run_id is not None:
            return run_id
        # A claimer on this host that died before starting its run: no need to
        # wait for its lease.
        for run in self.engine.store.reader.server_runs(RunState.QUEUED, limit=20):
            dead = run.pid and self.engine.store.reader.claimer_alive(run) is False
            if dead and writer.reclaim_queued(run, pid=pid, host=host, at=now):
                return run.id
        return None

    def start(self, run_id: str, on_event: Listener | None = None) -> RunHandle | None:
        """Start (or, for a retry, resume) a run this server claimed. A run that
        cannot start is recorded FAILED with why; None then. One this server cannot
        decrypt (``WrongKey``) is given back to the queue, for a server that can."""
        reader = self.engine.store.reader
        try:
            submission = self.submission(run_id)
        except WrongKey:
            pid, host = this_host()
            self.engine.writer.release_queued(run_id, pid=pid, host=host)
            raise
        try:
            placed = None
            if submission.pool:
                from dataflow_runner.engine.pools import placed_cluster

                placed = placed_cluster(self.engine, run_id)
            if reader.steps(run_id):  # a retry: its completed steps are kept
                if placed is not None:  # (its cluster died: on another one of its pool)
                    self.engine.writer.update_run(run_id, cluster_id=placed)
                return self.engine.resume(run_id, on_event=on_event, documents=submission.documents)
            request = self.request(submission, run_id, queued=True, cluster_id=placed)
            if request.cluster_id is not None:
                self._hand_to_host(run_id, request.cluster_id)
            return self.engine.submit(request, on_event=on_event)
        except DataflowRunnerError as exc:
            reason = "; ".join(exc.lines())[:_REASON_CHARS]
            log.warning("run %s could not start: %s", run_id, reason)
            ended = self.engine.writer.end_queued(
                run_id, RunState.FAILED, reason, at=time.time(), claimer=this_host()
            )
            if not ended:
                log.debug("run %s was no longer this server's to end", run_id)
            return None

    def _hand_to_host(self, run_id: str, cluster_id: str) -> None:
        """A run for a cluster whose engine host runs it (a local cluster): the host
        records its start, so the claim is handed to the host's process first."""
        cluster = self.engine.store.reader.cluster(cluster_id)
        if cluster is None or not cluster.pid or not cluster.endpoint:
            return
        pid, host = this_host()
        self.engine.writer.pass_claim(
            run_id, pid=pid, host=host, to_pid=cluster.pid, to_host=cluster.host, at=time.time()
        )

    def take_over(self, on_event: Listener | None = None, limit: int = 1) -> list[RunHandle]:
        """Resume up to ``limit`` server runs whose runner is gone (DEAD)."""
        handles: list[RunHandle] = []
        for run in self.engine.store.reader.server_runs(RunState.DEAD):
            if len(handles) >= limit:
                break
            try:
                documents = self.documents(run.id)
                handle = self.engine.resume(run.id, on_event=on_event, documents=documents)
            except WrongKey:
                raise
            except DataflowRunnerError as exc:
                log.warning("run %s could not be taken over: %s", run.id, exc)
                continue
            log.info("run %s taken over from %s on %s", run.id, run.pid, run.host)
            handles.append(handle)
        return handles

    # --- changing ------------------------------------------------------------------------

    def cancel(self, run_id: str, reason: str, running_here: Callable[[str], bool]) -> RunRecord:
        """Cancel a run: at once if QUEUED, else through whichever server runs it
        (``running_here``: this server's own, cancelled by the caller)."""
        run = self.find(run_id)
        if run.state.finished:
            raise RunConflict(f"run {run.id} already ended: {run.state.value}")
        if run.state is RunState.QUEUED and self.engine.writer.end_queued(
            run.id, RunState.CANCELLED, reason, at=time.time()
        ):
            return self.find(run.id)
        if self.engine.store.reader.request(run.id) is None:
            raise RunConflict(
                f"run {run.id} is not run by a server (cancel it where it runs: pid "
                f"{run.pid} on {run.host})"
            )
        if not running_here(run.id):
            self.engine.writer.ask_cancel(run.id, reason)
        return run

    def retry(self, run_id: str) -> RunRecord:
        """A new attempt of the failed and cancelled steps of an ended run."""
        run = self.find(run_id)
        if run.state not in (RunState.FAILED, RunState.CANCELLED):
            raise RunConflict(
                f"run {run.id} is {run.state.value}: only a FAILED or CANCELLED run is retried"
            )
        if self.engine.store.reader.request(run.id) is None:
            raise RunConflict(f"run {run.id} was not submitted to a server: resume it where it ran")
        if not self.engine.store.reader.steps(run.id):
            raise RunConflict(f"run {run.id} never started: submit it again")
        if not self.engine.writer.requeue_run(run.id):
            raise RunConflict(f"run {run.id} changed meanwhile: try again")
        return self.find(run.id)

    def cancels_asked(self, run_ids: list[str]) -> dict[str, str]:
        return self.engine.store.reader.cancels_asked(run_ids)

    def find(self, run_id: str) -> RunRecord:
        run = self.engine.store.reader.run(run_id)
        if run is None:
            raise RunNotFound(f"no run '{run_id}'")
        return run


def _fabric_of(request: RunRequest) -> str:
    if request.cluster_id is not None:
        from dataflow_runner.fabrics import registry

        return registry.for_cluster_id(request.cluster_id).name
    assert request.cluster is not None
    return request.cluster.fabric
