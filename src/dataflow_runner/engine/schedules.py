"""The scheduler of a server: the rules of ``engine/ticks.py`` fed from the store
and the data, and the runs they decide started through the server's queue.

A schedule is a saved playbook whose playbook has a ``schedule`` section
(:func:`sync` keeps the ``schedules`` table in step when one is saved, deployed
or deleted). One server of a store schedules at a time: it holds the
``scheduler`` lease (``engine/lease.py``); the others wait to take it over.
Each round (every second) the leader looks at every schedule: the runs it
decides are recorded QUEUED with their tick's key in one transaction
(``SchedulingStore.start_tick``), so a key already taken (by a leader that died
just after) starts nothing, and no tick runs twice. The workers of any server
then run them. Failed runs of schedules and missed deadlines are alerted
(``engine/alerts.py``).

Time is the server's clock (a test sets it): ``Scheduler(clock=...)``.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataflow_runner.engine import saved as saved_playbooks
from dataflow_runner.engine import ticks
from dataflow_runner.engine.lease import Lease
from dataflow_runner.errors import ConfigError, DataflowRunnerError, FlagError
from dataflow_runner.store.records import RunRecord, ScheduleRecord, TickRecord

if TYPE_CHECKING:
    from dataflow_runner.config.model import Schedule
    from dataflow_runner.data.cron import Cron
    from dataflow_runner.data.partitions import Partition, Spec
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.payload import Keyring
    from dataflow_runner.engine.queue import RunQueue

log = logging.getLogger("dataflow_runner.server")

LEASE = "scheduler"


class ScheduleNotFound(DataflowRunnerError):
    """No schedule of that name."""


@dataclass(frozen=True)
class Loaded:
    """A schedule with what it runs (decrypted, cached until it changes)."""

    record: ScheduleRecord
    saved: saved_playbooks.Saved
    schedule: Schedule
    spec: Spec | None
    cron: Cron | None = None

    def entry(self) -> ticks.Entry:
        return ticks.Entry(
            self.record.name,
            self.schedule,
            self.spec,
            self.record.created_at,
            bool(self.record.paused),
            self.cron,
        )


def set_paused(engine: Engine, name: str, paused: bool) -> None:
    if not engine.store.scheduling.set_paused(name, paused):
        raise ScheduleNotFound(f"no schedule '{name}'")


class Scheduler:
    """See the module's docstring."""

    def __init__(
        self,
        engine: Engine,
        queue: RunQueue,
        keyring: Keyring,
        *,
        clock: Callable[[], float] | None = None,
        lease_ttl: float = 15.0,
        interval: float = 1.0,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        from dataflow_runner.engine.alerts import Alerter

        self.engine = engine
        self.queue = queue
        self.keyring = keyring
        self.clock = clock or engine.clock
        self.lease = Lease(engine, LEASE, ttl=lease_ttl)
        self.interval = interval
        self.on_started = on_started or (lambda: None)
        self.alerter = Alerter(engine)
        self._cache: dict[str, tuple[float, Loaded]] = {}
        self._last_poke: dict[str, float] = {}
        self._looked: dict[str, tuple[dt.datetime, float, int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._alert_since = time.time()

    # --- the loop -------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.lease.release()
        self.alerter.stop(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.lease.hold():
                    self.round()
            except Exception as exc:  # the store may be away: try again next round
                log.warning("the scheduler's round failed: %s", exc)
                log.debug("scheduler round", exc_info=True)
            self._stop.wait(self.interval)

    # --- one round ------------------------------------------------------------------

    def round(self) -> list[str]:
        """Look at every schedule once; the ids of the runs started."""
        started: list[str] = []
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        active = self.engine.store.scheduling.active()
        for record in self.engine.store.scheduling.schedules():
            try:
                loaded = self.load(record)
                started += self._one(loaded, now, active.get(record.name, []))
            except DataflowRunnerError as exc:
                log.warning("schedule %s: %s", record.name, "; ".join(exc.lines()))
        self.alerter.failures(self._alert_since, self._webhooks())
        if started:
            self.on_started()
        return started

    def _webhooks(self) -> dict[str, Any]:
        return {
            name: loaded.schedule.alerts
            for name, (_, loaded) in self._cache.items()
            if loaded.schedule.alerts is not None
        }

    def load(self, record: ScheduleRecord) -> Loaded:
        cached = self._cache.get(record.name)
        if cached is not None and cached[0] == record.updated_at:
            return _with(cached[1], record)
        kept = saved_playbooks.get(self.engine, self.keyring, record.name)
        head = saved_playbooks.head_of(kept.playbook, kept.variables)
        if head.schedule is None:
            raise ConfigError("its playbook has no schedule any more")
        spec = None
        if head.partitions is not None:
            from dataflow_runner.data.partitions import Spec

            spec = Spec.of(head.partitions)
        from dataflow_runner.data.cron import Cron

        cron = Cron(head.schedule.cron, head.schedule.timezone) if head.schedule.cron else None
        loaded = Loaded(record, kept, head.schedule, spec, cron)
        self._cache[record.name] = (record.updated_at, loaded)
        return loaded

    def _one(self, loaded: Loaded, now: dt.datetime, active: list[str | None]) -> list[str]:
        store = self.engine.store.scheduling
        name = loaded.record.name
        schedule = loaded.schedule
        # A tick looked at fully is not looked at again (no query) until the next one.
        quiet = schedule.trigger != "inputs" and loaded.cron is not None and not active
        if quiet and loaded.cron is not None:
            key = (loaded.cron.latest(now), loaded.record.updated_at, loaded.record.paused)
            if self._looked.get(name) == key:
                return []
        poke = False
        if schedule.trigger == "inputs":
            # Poking is a cost in real time (checks of the data), whatever the clock says.
            last = self._last_poke.get(name)
            poke = last is None or time.monotonic() - last >= schedule.poke_seconds
            if poke:
                self._last_poke[name] = time.monotonic()
        known = ticks.Known(
            taken=lambda refs: store.taken(name, refs),
            active=active,
            alerted=store.alert_refs(name) if schedule.deadline is not None else set(),
        )
        probe = ticks.Probe(
            states=lambda ps: self._states(loaded, ps),
            inputs_ready=lambda ps: self._inputs_ready(loaded, ps),
        )
        decision = ticks.decide(loaded.entry(), now, known, probe, poke=poke)
        if decision.looked is not None:
            self._looked[name] = (decision.looked, loaded.record.updated_at, loaded.record.paused)
        ids: list[str] = []
        for start in decision.starts:
            run = self.launch(loaded, start, now)
            if run is not None:
                ids.append(run.id)
        for mark in decision.marks:
            store.mark(name, mark, now.timestamp())
        for alarm in decision.alarms:
            self.alerter.alarm(name, alarm.ref, alarm.kind, alarm.text, schedule.alerts)
        return ids

    # --- starting -------------------------------------------------------------------

    def launch(self, loaded: Loaded, start: ticks.Start, now: dt.datetime) -> RunRecord | None:
        """Record ``start``'s run QUEUED under its key; None when the key was taken."""
        record = loaded.record
        submission = saved_playbooks.submission(
            loaded.saved,
            dict(start.variables),
            by=f"schedule:{record.name}",
            partition=start.partition.key if start.partition is not None else None,
        )
        extra: dict[str, object] = {"schedule": record.name, "tick": start.ref}
        if record.git_commit:
            extra["commit"] = record.git_commit
        run, request, wait = self.queue.queued(submission, extra)
        tick = TickRecord(
            schedule=record.name,
            ref=start.ref,
            run_id=run.id,
            kind=start.kind,
            tick_at=(start.tick or now).timestamp(),
            partition=start.partition.utc if start.partition is not None else None,
            created_at=time.time(),
        )
        if not self.engine.store.scheduling.start_tick(tick, run, request, wait):
            return None
        log.info("schedule %s: run %s started (%s %s)", record.name, run.id, start.kind, start.ref)
        return run

    def _states(self, loaded: Loaded, partitions: list[Partition]) -> dict[str, str]:
        """Each partition's state from the data and the history (the partitions grid)."""
        from dataflow_runner.data.partitions import Window

        request = self._request(loaded)
        first, last = min(partitions), max(partitions)
        from dataclasses import replace

        grid = self.engine.partition_states(
            replace(request, window=Window(first=first.key, last=last.key, max_partitions=None))
        )
        by_key = {p.key: p.utc for p in partitions}
        out: dict[str, str] = {}
        for row in grid.rows:
            utc = by_key.get(row.partition)
            if utc is None:
                continue
            if "running" in row.cells:
                out[utc] = ticks.RUNNING
            elif all(c == "done" for c in row.cells):
                out[utc] = ticks.DONE
            else:
                out[utc] = ticks.INCOMPLETE
        return out

    def _inputs_ready(self, loaded: Loaded, partitions: list[Partition]) -> dict[str, bool]:
        """Whether each partition's external inputs all exist (one bulk check)."""
        from dataflow_runner.data.plan import externals
        from dataflow_runner.fabrics import registry

        request = self._request(loaded)
        assert request.source is not None and request.cluster is not None
        wanted = {p.utc: _external(request.source.load(p), externals) for p in partitions}
        driver = registry.driver(request.cluster.fabric)
        book = request.source.load(partitions[0])
        fabric = driver.open(request.cluster, book, self.engine.options())
        try:
            targets = {t.uri: t for ts in wanted.values() for t in ts}
            found = fabric.exists(list(targets.values())) if targets else {}
        finally:
            fabric.close()
        return {utc: all(found.get(t.uri) is True for t in ts) for utc, ts in wanted.items()}

    def _request(self, loaded: Loaded) -> Any:
        submission = saved_playbooks.submission(loaded.saved, {}, by="scheduler")
        return self.queue.request(submission, "scheduler-probe", queued=False)


def _with(loaded: Loaded, record: ScheduleRecord) -> Loaded:
    return Loaded(record, loaded.saved, loaded.schedule, loaded.spec, loaded.cron)


def _external(book: Any, externals: Callable[[Any], dict[str, Any]]) -> list[Any]:
    return [t for ts in externals(book.steps).values() for t in ts]


def trigger(
    engine: Engine,
    queue: RunQueue,
    keyring: Keyring,
    name: str,
    *,
    partition: str | None,
    variables: Mapping[str, str],
    by: str,
) -> RunRecord:
    """A manual run of schedule ``name`` (paused or not), with ``variables``, for
    ``partition`` (a partitioned playbook; default: the latest closed one)."""
    record = engine.store.scheduling.schedule(name)
    if record is None:
        raise ScheduleNotFound(f"no schedule '{name}'")
    kept = saved_playbooks.get(engine, keyring, name)
    head = saved_playbooks.head_of(kept.playbook, kept.variables)
    variables = dict(variables)
    if head.partitions is None:
        if partition:
            raise FlagError("partition needs a partitioned playbook")
        # Its tick is the time it was triggered, in the schedule's zone.
        from dataflow_runner.data.cron import zone

        tz = zone(head.schedule.timezone) if head.schedule is not None else dt.UTC
        now = dt.datetime.fromtimestamp(engine.clock(), tz).replace(microsecond=0)
        variables.setdefault("tick", ticks.tick_variables(now)["tick"])
    submission = saved_playbooks.submission(kept, variables, by=by, partition=partition)
    extra: dict[str, object] = {"schedule": name}
    if record.git_commit:
        extra["commit"] = record.git_commit
    run, request, wait = queue.queued(submission, extra)
    extra["tick"] = f"manual:{run.id}"
    tick = TickRecord(
        schedule=name,
        ref=f"manual:{run.id}",
        run_id=run.id,
        kind="manual",
        tick_at=engine.clock(),
        partition=run.partition_first,
        created_at=time.time(),
    )
    engine.store.scheduling.start_tick(tick, run, request, wait)
    return run


@dataclass(frozen=True)
class Status:
    """What the API and the UI show of a schedule."""

    record: ScheduleRecord
    schedule: Schedule | None
    next_tick: dt.datetime | None
    last: list[Any] = field(default_factory=list)  # TickRun
    alerts: list[Any] = field(default_factory=list)  # AlertRecord
    problem: str | None = None


def status(engine: Engine, keyring: Keyring, record: ScheduleRecord, *, runs: int = 10) -> Status:
    store = engine.store.scheduling
    last = [t for t in store.last_ticks(record.name, runs + 5) if t.tick.kind != "look"][:runs]
    alerts = store.alerts(record.name)[:5]
    try:
        kept = saved_playbooks.get(engine, keyring, record.name)
        head = saved_playbooks.head_of(kept.playbook, kept.variables)
        schedule = head.schedule
    except DataflowRunnerError as exc:
        return Status(record, None, None, last, alerts, "; ".join(exc.lines()))
    next_tick = None
    if schedule is not None and schedule.cron and not record.paused:
        from dataflow_runner.data.cron import Cron

        now = dt.datetime.fromtimestamp(engine.clock(), dt.UTC)
        next_tick = Cron(schedule.cron, schedule.timezone).after(now)
    return Status(record, schedule, next_tick, last, alerts)


def find(engine: Engine, name: str) -> ScheduleRecord:
    record = engine.store.scheduling.schedule(name)
    if record is None:
        raise ScheduleNotFound(f"no schedule '{name}'")
    return record
