"""The engine API: what every front end (the CLI, an engine host, the server)
calls to run playbooks and read their history.

An :class:`Engine` owns the store, the locks, the fabrics and the cleanup. It
runs several runs at once in one process, each in its own thread, each
cancellable from any thread through its handle::

    engine = Engine(state_dir=Path("~/.dfr").expanduser())
    handle = engine.submit(RunRequest(playbook=book, cluster=config), on_event=print)
    outcome = handle.wait()          # RunOutcome(state=RunState.COMPLETED, ...)
    engine.runs().items[0].id        # the history: typed, paginated
    engine.close()

A run on a cluster that an engine host runs (a local cluster started by ``up``)
is sent to that host, which runs it with the same engine; the handle follows it
the same way.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataflow_runner.config.model import to_doc
from dataflow_runner.config.redact import SECRETS, register
from dataflow_runner.engine import lifecycle, prepare
from dataflow_runner.engine.cancel import CancelToken
from dataflow_runner.engine.events import Event, Listener, RunOutcome
from dataflow_runner.engine.handle import RunHandle
from dataflow_runner.engine.lifecycle import poll_rhythm as _poll_interval
from dataflow_runner.engine.recorder import (
    launched_cluster,
    record_pending,
    run_record,
    step_records,
    this_host,
)
from dataflow_runner.engine.request import LockSpec, RunRequest
from dataflow_runner.engine.run import RunJob, new_run_id, record_cluster_state
from dataflow_runner.errors import (
    ConfigError,
    ConfigErrors,
    DataflowRunnerError,
    FlagError,
)
from dataflow_runner.fabrics import registry
from dataflow_runner.fabrics.base import ClusterRef, ClusterStatus, Fabric, Options, Plan
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterState,
    RunKind,
    RunRecord,
    StepRecord,
)

if TYPE_CHECKING:
    from dataflow_runner.config.model import ClusterConfig, Playbook
    from dataflow_runner.data.grid import Grid
    from dataflow_runner.data.plan import Plan as DataPlan
    from dataflow_runner.engine.payload import Documents
    from dataflow_runner.locks import LockHold
    from dataflow_runner.store import Page, RunFilter, Store
    from dataflow_runner.store.writer import StoreWriter

log = logging.getLogger("dataflow_runner")


def _ignore(_event: Event) -> None:
    pass


class _Guarded:
    """A front end's listener, kept from hurting the run: if it fails (a closed
    pipe, a bug), the run goes on and is recorded; the listener hears no more."""

    def __init__(self, listener: Listener | None) -> None:
        self.listener = listener or _ignore

    def __call__(self, event: Event) -> None:
        listener = self.listener
        try:
            listener(event)
        except Exception as exc:
            self.listener = _ignore
            log.debug("the run's listener failed (%s): it gets no more events", exc)


@dataclass(frozen=True)
class ClusterInfo:
    """A cluster the engine launched or terminated."""

    id: str
    fabric: str
    label: str  # how the fabric is named in log lines ("EMR", "local")
    state: ClusterState
    reason: str | None = None


class Engine:
    """See the module's docstring.

    ``state_dir``: where the default store, the logs and local clusters live
    (default: ``$DATAFLOW_RUNNER_HOME`` or the XDG state directory); ``store``:
    a store URL (``postgresql://...``; default: SQLite in ``state_dir``);
    ``hosted``: the clusters this process hosts (an engine host), by id, with
    the factory of the fabric each run on it uses.
    """

    def __init__(
        self,
        *,
        state_dir: Path | str | None = None,
        store: str | None = None,
        hosted: Mapping[str, Callable[[], Fabric]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from dataflow_runner.store import default_state_dir

        self.state_dir = Path(state_dir) if state_dir else default_state_dir()
        self.store_url = store or os.environ.get("DATAFLOW_RUNNER_STORE") or None
        self._store: Store | None = None
        self._hosted = dict(hosted or {})
        #: What "now" is (which partitions have closed): injected by tests.
        self.clock = clock
        self._handles: dict[str, RunHandle] = {}
        self._lock = threading.Lock()
        self._pending_checked = False

    # --- plumbing -------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store, opened on first use (a dry run never opens it)."""
        with self._lock:
            if self._store is None:
                from dataflow_runner.store import open_store

                self._store = open_store(self.store_url, state_dir=self.state_dir)
            return self._store

    @property
    def writer(self) -> StoreWriter:
        """The store's write side. Before its first use, the ends of runs whose runner
        could not write this store are recorded (``store/pending.py``): the next
        command that writes is the one that can (reading commands never write)."""
        store = self.store
        with self._lock:
            first, self._pending_checked = not self._pending_checked, True
        if first:
            record_pending(store)
        return store.writer

    def options(self, poll_interval: float | None = None) -> Options:
        return Options(self.state_dir, poll_interval=poll_interval, store=self.store_url)

    def close(self) -> None:
        """Close the store. Runs still going are not waited for."""
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- runs -----------------------------------------------------------------------

    def plan(self, request: RunRequest) -> Plan:
        """What a run of ``request`` would send, without sending anything (a dry run)."""
        # What the request holds of secrets is masked in everything the run writes
        # and says, here or in an engine host (which learns them from the request).
        SECRETS.add_all(request.secret_values())
        book = _addressed(lambda: prepare.expanded(prepare.select(request, self.clock())), request)
        action: Callable[[], Plan]
        if request.cluster_id is not None:
            cluster_id = request.cluster_id
            attached = registry.driver(registry.for_cluster_id(cluster_id).name)
            action = lambda: attached.plan_attached(book, cluster_id)  # noqa: E731
        else:
            config = request.cluster
            assert config is not None
            transient = registry.driver(request.fabric or config.fabric)
            action = lambda: transient.plan_transient(config, book, new_run_id())  # noqa: E731
        plan: Plan = _addressed(action, request)
        return plan

    def submit(self, request: RunRequest, *, on_event: Listener | None = None) -> RunHandle:
        """Start a run: everything is validated and the lock taken before the run is
        recorded; then a thread drives it. Errors found before are raised here."""
        # What the request holds of secrets is masked in everything the run writes
        # and says, here or in an engine host (which learns them from the request).
        SECRETS.add_all(request.secret_values())
        emit = _Guarded(on_event)
        run_id = request.run_id or new_run_id()
        cluster_ref: ClusterRef | None = None
        if request.cluster_id is not None:
            driver = registry.driver(registry.for_cluster_id(request.cluster_id).name)
            address = (
                None
                if request.cluster_id in self._hosted
                else driver.host(request.cluster_id, self.state_dir)
            )
            if address is not None:  # the cluster's host runs it (and plans it)
                from dataflow_runner.engine.remote import submit_remote

                hold = _take_lock(request.lock, run_id)
                return submit_remote(address, replace(request, run_id=run_id), emit, hold)
        selection = _addressed(lambda: prepare.select(request, self.clock()), request)
        book = selection.book
        if request.cluster_id is not None:
            factory = self._hosted.get(request.cluster_id)
            fabric = (
                factory()
                if factory is not None
                else driver.open(None, book, self.options(request.poll_interval))
            )
            cluster_ref = ClusterRef(request.cluster_id, fabric.name)
        else:
            assert request.cluster is not None
            driver = registry.driver(request.fabric or request.cluster.fabric)
            fabric = driver.open(request.cluster, book, self.options(request.poll_interval))
        try:
            data = _addressed(lambda: prepare.plan(selection, fabric.exists, request), request)
            if data is not None:
                book = data.playbook
            _addressed(lambda: fabric.validate(request.cluster, book), request)
            ordered = _ordered(fabric, book) and (data is None or data.trivial)
            if request.detach and data is not None and not data.trivial:
                raise FlagError(
                    "--async cannot leave a data-aware run (partitions, skipped steps, "
                    "sensors) to its cluster: a runner must follow it"
                )
            if request.detach and not ordered:
                raise FlagError(
                    f"--async needs a serial playbook on {fabric.label}: the steps of a DAG "
                    "are added one by one as their dependencies complete, by a runner that "
                    "follows them"
                )
            concurrency = driver.concurrency(request.cluster, book)
            if cluster_ref is not None and request.cluster_id not in self._hosted:
                lifecycle.check_ready(fabric, cluster_ref)
                if concurrency > 1:
                    fabric.set_concurrency(cluster_ref, concurrency)
            hold = _take_lock(request.lock, run_id)
        except BaseException:
            fabric.close()
            raise
        try:
            self._record(request, run_id, fabric, concurrency, book, data)
        except BaseException:
            if hold is not None:
                hold.release(success=False)
            fabric.close()
            raise
        handle = RunHandle(run_id)
        job = RunJob(
            run_id=run_id,
            kind=request.kind,
            playbook=book,
            plan=data,
            cluster=request.cluster,
            fabric=fabric,
            concurrency=concurrency,
            writer=self.writer,
            pending=self.store.pending,
            token=handle.token,
            emit=emit,
            poll_interval=_poll_interval(fabric, request.poll_interval),
            cluster_ref=cluster_ref,
            detach=request.detach,
            log_failed_steps=request.log_failed_steps,
            lock=hold,
            ordered=ordered,
            cleanup_timeout=request.cleanup_timeout,
            patience=request.retry_timeout,
            state_dir=self.state_dir,
        )
        self._launch(handle, job)
        return handle

    def preview(self, request: RunRequest) -> Grid:
        """What a run of ``request`` would do of each step of each partition (``done``,
        ``run``, ``wait``, ``fail``), from the data; nothing is run or recorded."""
        from dataflow_runner.data import grid

        return grid.dry_run(_addressed(lambda: prepare.look(self, request), request))

    def partition_states(self, request: RunRequest) -> Grid:
        """The state of each step of each partition of ``request``'s window, from
        the data and the history: ``done``, ``missing``, ``failed`` (last time),
        ``running``."""
        from dataflow_runner.data import grid

        found = _addressed(lambda: prepare.look(self, replace(request, force=False)), request)
        keys = [p.utc for p in found.partitions]
        history = (
            self.store.reader.partition_history(found.playbook.name, min(keys), max(keys))
            if keys
            else []
        )
        return grid.state(found, history)

    def run(self, request: RunRequest, *, on_event: Listener | None = None) -> RunOutcome:
        """:meth:`submit`, then wait for the outcome."""
        return self.submit(request, on_event=on_event).wait()

    def resume(
        self,
        ref: str,
        *,
        variables: Mapping[str, str] | None = None,
        lock_backend: str | None = None,
        consul: str | None = None,
        poll_interval: float | None = None,
        max_config_size: int | None = None,
        cleanup_timeout: float = 60.0,
        retry_timeout: float = lifecycle.PATIENCE,
        on_event: Listener | None = None,
        documents: Documents | None = None,
    ) -> RunHandle:
        """Continue a run whose runner died (``engine/resume.py``): nothing done is
        done again, nothing submitted twice. ``documents``: a server's run, loaded
        from what it was asked to run instead of files. ``consul``, ``lock_backend``:
        where its lock is, when not as recorded (a password is never recorded)."""
        from dataflow_runner.engine.resume import prepare, recorded_lock

        # First: a run's end kept while the store could not be written is recorded.
        writer = self.writer
        run = self.store.reader.find_run(ref)
        spec = recorded_lock(run, consul=consul, backend=lock_backend)
        ready = prepare(self, run, variables or {}, poll_interval, max_config_size, documents)
        pid, host = this_host()
        # Taken over first (one resume wins), then the run's lock taken back.
        if not writer.claim_run(run, pid=pid, host=host, at=time.time()):
            ready.fabric.close()
            now = self.store.reader.run(run.id)
            by = f"{now.pid} on {now.host}" if now is not None else "another runner"
            raise DataflowRunnerError(f"run {run.id} is being resumed by {by}")
        hold = None
        if spec is not None:
            try:
                hold = _take_lock(spec, run.id, take_over=True)
            except BaseException:
                ready.fabric.close()
                raise
        handle = RunHandle(run.id)
        job = RunJob(
            run_id=run.id,
            kind=run.kind,
            playbook=ready.playbook,
            cluster=ready.cluster,
            fabric=ready.fabric,
            concurrency=ready.concurrency,
            writer=self.writer,
            pending=self.store.pending,
            token=handle.token,
            emit=_Guarded(on_event),
            poll_interval=_poll_interval(ready.fabric, poll_interval),
            find_cluster=ready.find_cluster,
            restore=ready.restore,
            lock=hold,
            ordered=_ordered(ready.fabric, ready.playbook),
            cleanup_timeout=cleanup_timeout,
            patience=retry_timeout,
            state_dir=self.state_dir,
        )
        self._launch(handle, job)
        return handle

    def cancel(self, run_id: str, reason: str = "cancelled") -> bool:
        """Cancel a run this engine executes; False when it runs elsewhere or ended."""
        with self._lock:
            handle = self._handles.get(run_id)
        if handle is None:
            return False
        handle.cancel(reason)
        return True

    def active(self) -> list[RunHandle]:
        """The runs this engine is executing now."""
        with self._lock:
            return list(self._handles.values())

    def _launch(self, handle: RunHandle, job: RunJob) -> None:
        with self._lock:
            self._handles[handle.run_id] = handle

        def forget() -> None:
            with self._lock:
                self._handles.pop(handle.run_id, None)

        handle._start(job, forget)

    def _record(
        self,
        request: RunRequest,
        run_id: str,
        fabric: Fabric,
        level: int,
        book: Playbook,
        data: DataPlan | None,
    ) -> None:
        run = run_record(request, run_id, fabric.name, level, book, data)
        record = self.writer.start_queued if request.queued else self.writer.create_run
        record(run, step_records(run_id, book.steps, data))

    # --- clusters -------------------------------------------------------------------

    def plan_launch(self, config: ClusterConfig, fabric: str | None = None) -> Plan:
        """What ``up`` would send."""
        register(to_doc(config, exclude_defaults=True))
        return registry.driver(fabric or config.fabric).plan_launch(config)

    def plan_terminate(self, config: ClusterConfig, cluster_id: str) -> Plan:
        """What ``down`` would send."""
        driver = registry.driver(registry.for_cluster_id(cluster_id).name)
        return driver.plan_terminate(config, cluster_id)

    def launch_cluster(
        self,
        config: ClusterConfig,
        *,
        fabric: str | None = None,
        token: CancelToken | None = None,
        poll_interval: float | None = None,
        retry_timeout: float = lifecycle.PATIENCE,
    ) -> ClusterInfo:
        """``up``: launch a long-lived cluster and wait until it takes steps (a
        bootstrap failure is tried again, as the Go tool does)."""
        register(to_doc(config, exclude_defaults=True))
        driver = registry.driver(fabric or config.fabric)
        opened = driver.open(config, None, self.options(poll_interval))
        writer = self.writer

        def on_launched(ref: ClusterRef) -> None:
            writer.upsert_cluster(launched_cluster(ref, opened.name, config))

        try:
            ref = lifecycle.launch_cluster(
                opened,
                config,
                name=config.name,
                poll_interval=_poll_interval(opened, poll_interval),
                token=token or CancelToken(),
                on_launched=on_launched,
                on_state=lambda r, s: record_cluster_state(writer, r.id, s),
                new_token=lambda: f"up-{secrets.token_hex(6)}",
                patience=retry_timeout,
            )
        finally:
            opened.close()
        return ClusterInfo(ref.id, opened.name, opened.label, ClusterState.WAITING)

    def terminate_cluster(
        self,
        config: ClusterConfig | None,
        cluster_id: str,
        *,
        poll_interval: float | None = None,
        retry_timeout: float = lifecycle.PATIENCE,
    ) -> ClusterInfo:
        """``down``: terminate a cluster and wait until it has ended."""
        if config is not None:
            register(to_doc(config, exclude_defaults=True))
        driver = registry.driver(registry.for_cluster_id(cluster_id).name)
        opened = driver.open(config, None, self.options(poll_interval))
        known = self.store.reader.cluster(cluster_id) is not None
        writer = self.writer

        def on_state(ref: ClusterRef, status: ClusterStatus) -> None:
            if known:
                record_cluster_state(writer, ref.id, status)

        try:
            status = lifecycle.terminate_cluster(
                opened,
                ClusterRef(cluster_id, opened.name),
                poll_interval=_poll_interval(opened, poll_interval),
                on_state=on_state,
                patience=retry_timeout,
            )
        finally:
            opened.close()
        return ClusterInfo(cluster_id, opened.name, opened.label, status.state, status.reason)

    # --- history --------------------------------------------------------------------

    def runs(
        self, where: RunFilter | None = None, *, limit: int = 20, after: str | None = None
    ) -> Page:
        """Runs, newest first (a ``RUNNING`` run whose runner is gone is ``DEAD``)."""
        return self.store.reader.runs(where, limit=limit, after=after)

    def run_record(self, ref: str) -> RunRecord:
        """The run whose id is ``ref`` or starts with it."""
        return self.store.reader.find_run(ref)

    def latest_run(self) -> RunRecord | None:
        return self.store.reader.latest_run()

    def steps(self, run_id: str) -> list[StepRecord]:
        return self.store.reader.steps(run_id)

    def attempts(self, run_id: str, step_id: str | None = None) -> list[AttemptRecord]:
        return self.store.reader.attempts(run_id, step_id)

    def clusters(self, *, fabric: str | None = None, active: bool | None = None) -> list[Any]:
        return self.store.reader.clusters(fabric=fabric, active=active)

    def logs(
        self, ref: str, step_id: str, *, attempt: int | None = None
    ) -> tuple[RunRecord, AttemptRecord]:
        """The run and the attempt whose logs ``logs RUN STEP`` shows."""
        from dataflow_runner.engine.history import find_attempt

        return find_attempt(self.store.reader, ref, step_id, attempt)

    def read_logs(self, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        """An attempt's log files by name (``stdout``, ``stderr``, ...)."""
        from dataflow_runner.engine.history import read_logs

        return read_logs(run, attempt, self.state_dir)

    def follow_logs(
        self, run: RunRecord, attempt: AttemptRecord, streams: tuple[str, ...]
    ) -> Iterator[str]:
        """The attempt's output as it grows, until the attempt (or its run) ends."""
        from dataflow_runner.engine.history import follow

        return follow(self.store.reader, run, attempt, streams, self.state_dir)

    def orphans(self, region: str | None) -> list[dict[str, str]]:
        """Clusters this tool launched for a transient run that no live run owns."""
        from dataflow_runner.engine.history import orphans

        return orphans(self.store.reader, region)


def _addressed(action: Callable[[], Any], request: RunRequest) -> Any:
    """Run ``action``; a config error it raises names the playbook file."""
    try:
        return action()
    except ConfigErrors as exc:
        raise ConfigErrors([e.with_file(request.playbook_path) for e in exc.errors]) from None
    except ConfigError as exc:
        if exc.file:
            raise
        raise exc.with_file(request.playbook_path) from None


def _ordered(fabric: Fabric, book: Playbook) -> bool:
    """Hand the whole serial playbook to a fabric that queues steps itself (EMR),
    unless the engine must retry or time steps out."""
    return (
        fabric.orders_steps
        and book.is_serial
        and not any(s.retries.count or s.timeout_seconds for s in book.steps)
    )


def _take_lock(spec: LockSpec | None, run_id: str, *, take_over: bool = False) -> LockHold | None:
    if spec is None:
        return None
    from dataflow_runner.locks import LockHold

    return LockHold.take(
        spec.name,
        soft=spec.soft,
        consul=spec.consul,
        backend=spec.backend,
        run_id=run_id,
        take_over=take_over,
    )


__all__ = [
    "ClusterInfo",
    "DataflowRunnerError",
    "Engine",
    "RunHandle",
    "RunKind",
    "RunOutcome",
]
