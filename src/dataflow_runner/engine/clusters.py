"""The clusters registry: every cluster the server knows — launched by this tool
(a run's, ``up``'s, a pool's) or attached by id — with what routing needs of it:
its tags, capacity (steps at once), whether it takes jobs, and its load.

A cluster's own record (``ClusterRecord``: fabric, name, the fabric's state) is
the engine's; the registry's row (``RegistryRecord``) adds the rest, with its
defaults for a cluster that has none yet (no tags, capacity 1, UP). Its status
is Genie's word, worked out here: ``TERMINATED`` when the fabric says it ended,
``OUT_OF_SERVICE`` when an admin (or a drain) said so or while it starts or
stops, else ``UP``. A cluster launched for one transient run is that run's: it
is listed, never routed to.

The load is ``active + pending + routed``: the steps the last poll counted
(``engine/cluster_poller.py``: one call per cluster per poll) plus the jobs
routed to it since, so that a burst between two polls spreads.

>>> found = attach(engine, "emr", "j-1ABC", tags=["env:prod"], by="alice")  # doctest: +SKIP
>>> route(engine, [{"env:prod"}], random.Random()).id  # doctest: +SKIP
'j-1ABC'
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from dataflow_runner import routing
from dataflow_runner.errors import DataflowRunnerError, FlagError
from dataflow_runner.store.records import (
    ClusterRecord,
    ClusterState,
    RegistryRecord,
    Service,
)

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine

UP, OUT_OF_SERVICE, TERMINATED = "UP", "OUT_OF_SERVICE", "TERMINATED"
STATUSES = (UP, OUT_OF_SERVICE, TERMINATED)
#: Tags the registry gives every cluster itself: they cannot be set or moved.
GENIE_PREFIX = "genie."
_TAG = re.compile(r"^[^\s,]{1,255}$")
#: How many clusters the registry lists at most.
MAX_CLUSTERS = 5000


class ClusterNotFound(DataflowRunnerError):
    """No cluster with that id in the registry."""


@dataclass(frozen=True)
class Registered:
    """A cluster as the registry shows it."""

    cluster: ClusterRecord
    entry: RegistryRecord

    @property
    def id(self) -> str:
        return self.cluster.id

    @property
    def status(self) -> str:
        state = self.cluster.state
        if state.finished:
            return TERMINATED
        if self.entry.service is Service.OUT_OF_SERVICE:
            return OUT_OF_SERVICE
        return UP if state in (ClusterState.RUNNING, ClusterState.WAITING) else OUT_OF_SERVICE

    @property
    def load(self) -> int:
        return self.entry.active + self.entry.pending + self.entry.routed

    @property
    def routable(self) -> bool:
        """Whether jobs may be routed to it (not a transient run's own cluster)."""
        return self.cluster.run_id is None

    def candidate(self) -> routing.Candidate:
        return routing.Candidate(
            id=self.id,
            name=self.cluster.name,
            status=self.status if self.routable else OUT_OF_SERVICE,
            tags=frozenset(self.entry.tags),
            capacity=self.entry.capacity,
            load=self.load,
        )


def _default(cluster_id: str, at: float) -> RegistryRecord:
    return RegistryRecord(cluster_id=cluster_id, created_at=at)


def listed(engine: Engine) -> list[Registered]:
    """Every cluster the store knows, newest first, with its registry entry."""
    reader = engine.store.reader
    entries = {e.cluster_id: e for e in reader.registry_rows()}
    return [
        Registered(c, entries.get(c.id) or _default(c.id, c.created_at))
        for c in reader.clusters(limit=MAX_CLUSTERS)
    ]


def get(engine: Engine, cluster_id: str) -> Registered:
    reader = engine.store.reader
    cluster = reader.cluster(cluster_id)
    if cluster is None:
        raise ClusterNotFound(f"no cluster '{cluster_id}' in the registry")
    return Registered(
        cluster, reader.registry(cluster_id) or _default(cluster_id, cluster.created_at)
    )


def check_tags(tags: Iterable[str], *, field: str = "tags") -> tuple[str, ...]:
    """Tags as given, each checked (no spaces or commas; not ``genie.``: those the
    registry gives itself), duplicates dropped, order kept."""
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise FlagError(
                f"{field}: '{tag}' is not a tag (1 to 255 characters, no spaces or commas)"
            )
        if tag.startswith(GENIE_PREFIX):
            raise FlagError(f"{field}: '{tag}' is a tag the registry gives each cluster itself")
        if tag not in out:
            out.append(tag)
    return tuple(out)


def _check_capacity(capacity: int | None) -> None:
    if capacity is not None and not 1 <= capacity <= 10_000:
        raise FlagError(f"capacity: {capacity} is not between 1 and 10000 steps")


def _save(engine: Engine, entry: RegistryRecord, by: str) -> RegistryRecord:
    entry = replace(entry, updated_at=time.time(), updated_by=by)
    engine.writer.upsert_registry(entry)
    return entry


def attach(
    engine: Engine,
    fabric: str,
    cluster_id: str,
    *,
    tags: Iterable[str] = (),
    name: str | None = None,
    capacity: int | None = None,
    by: str = "",
) -> Registered:
    """Register a running cluster someone else made (an EMR ``j-...``): its fabric
    must own ids of that form. Its state is the poller's to find out: until then
    it is taken as WAITING."""
    from dataflow_runner.fabrics import registry

    if fabric not in registry.names():
        known = ", ".join(registry.names())
        raise FlagError(f"fabric: unknown fabric '{fabric}' (known: {known})")
    entry = registry.entry(fabric)
    if not entry.owns(cluster_id):
        raise FlagError(f"id: '{cluster_id[:60]}' is not the id of a cluster of fabric '{fabric}'")
    checked = check_tags(tags)
    _check_capacity(capacity)
    reader = engine.store.reader
    now = time.time()
    if reader.cluster(cluster_id) is None:
        engine.writer.upsert_cluster(
            ClusterRecord(
                id=cluster_id,
                fabric=fabric,
                name=name or cluster_id,
                state=ClusterState.WAITING,
                created_at=now,
                updated_at=now,
            )
        )
    elif name:
        engine.writer.update_cluster(cluster_id, name=name, updated_at=now)
    before = reader.registry(cluster_id)
    base = before or replace(_default(cluster_id, now), origin="attached")
    _save(engine, replace(base, tags=checked or base.tags, capacity=capacity or base.capacity), by)
    return get(engine, cluster_id)


def register(
    engine: Engine,
    cluster_id: str,
    *,
    tags: Iterable[str] = (),
    capacity: int | None = None,
    pool: str | None = None,
    by: str = "",
) -> RegistryRecord:
    """Give a cluster this tool launches (a pool's, ``up``'s) its tags, capacity and
    pool; may come before the cluster's own record (a pool registers its launch)."""
    _check_capacity(capacity)
    reader = engine.store.reader
    base = reader.registry(cluster_id) or _default(cluster_id, time.time())
    return _save(
        engine,
        replace(
            base,
            tags=check_tags(tags) or base.tags,
            capacity=capacity or base.capacity,
            pool=pool if pool is not None else base.pool,
        ),
        by,
    )


def _entry(engine: Engine, cluster_id: str) -> RegistryRecord:
    return get(engine, cluster_id).entry


def set_status(engine: Engine, cluster_id: str, status: str, *, by: str = "") -> Registered:
    """``UP`` or ``OUT_OF_SERVICE`` (``TERMINATED`` is the fabric's to say)."""
    if status not in (UP, OUT_OF_SERVICE):
        raise FlagError(f"state: '{status}' cannot be set (UP or OUT_OF_SERVICE)")
    found = get(engine, cluster_id)
    if found.status == TERMINATED:
        raise FlagError(f"cluster {cluster_id} is terminated: its state cannot change")
    _save(engine, replace(found.entry, service=Service(status)), by)
    return get(engine, cluster_id)


def set_capacity(engine: Engine, cluster_id: str, capacity: int, *, by: str = "") -> Registered:
    _check_capacity(capacity)
    _save(engine, replace(_entry(engine, cluster_id), capacity=capacity), by)
    return get(engine, cluster_id)


def add_tags(engine: Engine, cluster_id: str, tags: Iterable[str], *, by: str = "") -> Registered:
    entry = _entry(engine, cluster_id)
    _save(engine, replace(entry, tags=check_tags([*entry.tags, *tags])), by)
    return get(engine, cluster_id)


def set_tags(engine: Engine, cluster_id: str, tags: Iterable[str], *, by: str = "") -> Registered:
    _save(engine, replace(_entry(engine, cluster_id), tags=check_tags(tags)), by)
    return get(engine, cluster_id)


def remove_tags(
    engine: Engine, cluster_id: str, tags: Iterable[str] | None = None, *, by: str = ""
) -> Registered:
    """Remove ``tags`` (None: all of them); a tag it does not carry is no error."""
    entry = _entry(engine, cluster_id)
    gone = None if tags is None else set(tags)
    kept = () if gone is None else tuple(t for t in entry.tags if t not in gone)
    _save(engine, replace(entry, tags=kept), by)
    return get(engine, cluster_id)


def drain(
    engine: Engine, source: str, target: str, *, terminate_when_idle: bool = False, by: str = ""
) -> tuple[Registered, Registered]:
    """Move ``source``'s tags to ``target`` and set ``source`` OUT_OF_SERVICE: new
    jobs go to ``target`` at once, ``source`` finishes what it runs (and, with
    ``terminate_when_idle``, the poller terminates it once idle)."""
    if source == target:
        raise FlagError("a cluster cannot be drained to itself")
    a, b = get(engine, source), get(engine, target)
    if b.status == TERMINATED:
        raise FlagError(f"cluster {target} is terminated: it cannot take {source}'s tags")
    moved = [t for t in a.entry.tags if not t.startswith(GENIE_PREFIX)]
    _save(engine, replace(b.entry, tags=check_tags([*b.entry.tags, *moved])), by)
    _save(
        engine,
        replace(
            a.entry,
            tags=(),
            service=Service.OUT_OF_SERVICE,
            terminate_when_idle=1 if terminate_when_idle else 0,
        ),
        by,
    )
    return get(engine, source), get(engine, target)


def candidates(engine: Engine) -> list[routing.Candidate]:
    return [r.candidate() for r in listed(engine) if r.status != TERMINATED]


#: The tag index kept between jobs (rebuilt when tags or states change).
_ROUTER = routing.Router()


def route(
    engine: Engine, criteria: Sequence[Iterable[str]], rng: routing.Chooser
) -> routing.Candidate | None:
    """The cluster a job with ``criteria`` goes to (``routing.py``), counted in its
    load at once; None when no UP cluster matches."""
    chosen = _ROUTER.choose(candidates(engine), criteria, rng)
    if chosen is not None:
        engine.writer.note_routed(chosen.id, at=time.time())
    return chosen


def record_load(engine: Engine, cluster_id: str, active: int, pending: int, *, at: float) -> None:
    """What a poll counted on ``cluster_id``: the jobs routed to it before are in it."""
    reader = engine.store.reader
    entry = reader.registry(cluster_id) or _default(cluster_id, at)
    engine.writer.upsert_registry(
        replace(entry, active=active, pending=pending, routed=0, polled_at=at)
    )


#: What tells whether a pool would take a job: pools add theirs (``add_pool_matcher``).
PoolMatcher = Callable[["Engine", Sequence[frozenset[str]]], bool]
_pool_matchers: list[PoolMatcher] = []


def add_pool_matcher(matcher: PoolMatcher) -> None:
    """Pools say with ``matcher`` whether one of them would take a job's criteria."""
    if matcher not in _pool_matchers:
        _pool_matchers.append(matcher)


def pool_would_take(engine: Engine, criteria: Sequence[Iterable[str]]) -> bool:
    """Whether some pool would take a job with ``criteria``: the job then waits in its
    queue (the pool may launch a cluster) instead of failing. False without pools."""
    sets = [frozenset(c) for c in criteria]
    return any(m(engine, sets) for m in list(_pool_matchers))
