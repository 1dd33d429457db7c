"""The pool manager's decisions: a pure function of what it sees (the pools,
their clusters with state and load, the runs waiting in each pool's queue, the
launches in flight) and of ``now`` (an injected clock), to the actions to take.
``engine/pool_service.py`` observes, calls :func:`decide` and acts; tests call
it with plain values.

The rules, for each pool:

1. A cluster that ended without being asked to (it *died*) is forgotten — its
   launch ends, freeing its slot — and the runs it held go back to the pool's
   queue, their unfinished steps to be run on another cluster (``Reroute``).
   The count below then launches its replacement, as for any need.
2. Waiting runs are placed, oldest first, on the pool's UP clusters that carry
   the pool's tags and have room (load + the run's steps within
   ``maxStepsPerCluster``; an idle cluster takes a bigger run), the least loaded
   first (relative to capacity; ties broken by the given ``rng``).
3. What still waits needs clusters: one per ``maxStepsPerCluster`` steps. The
   clusters starting (and launches in flight) answer that need first; the rest
   is launched, up to ``maxClusters`` live clusters (starting, up, draining or
   ending all count: they exist, or may). So a burst never launches more than
   ``maxClusters``, and a need being met is never launched for again.
4. ``minClusters`` serving clusters are kept (serving: starting or UP, not being
   ended).
5. An UP cluster with no load becomes idle (``MarkIdle``, at ``now``); one with
   load is not (``ClearIdle``). One idle for ``idleMinutes`` is ended, the
   longest idle first, while more than ``minClusters`` serve; an
   OUT_OF_SERVICE one (drained) idle that long is ended whatever the minimum.
6. A pool being deleted launches nothing, places what waits on the clusters it
   has, and ends each cluster as soon as it is idle; once it has none, its
   waiting runs fail (nothing will run them) and the pool is dropped.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


class Health(enum.StrEnum):
    """A pool cluster as the manager sees it."""

    LAUNCHING = "LAUNCHING"  # recorded, sent or not: no cluster known yet
    STARTING = "STARTING"
    UP = "UP"
    OUT_OF_SERVICE = "OUT_OF_SERVICE"  # drained: takes nothing new
    ENDED = "ENDED"  # terminated (asked to, or it died)


@dataclass(frozen=True)
class ClusterView:
    launch_id: str
    cluster_id: str | None
    health: Health
    load: int = 0
    idle_since: float | None = None
    #: The manager asked it to end (idle, or its pool deleted).
    terminating: bool = False
    tags: frozenset[str] = frozenset()
    slot: int = 0


@dataclass(frozen=True)
class Waiting:
    run_id: str
    steps: int = 1
    since: float = 0.0


@dataclass(frozen=True)
class PoolView:
    name: str
    min_clusters: int
    max_clusters: int
    max_steps_per_cluster: int
    idle_minutes: float
    tags: frozenset[str] = frozenset()
    deleting: bool = False
    clusters: tuple[ClusterView, ...] = ()
    waiting: tuple[Waiting, ...] = ()


# --- actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    pool: str
    slot: int
    why: str


@dataclass(frozen=True)
class Place:
    pool: str
    run_id: str
    cluster_id: str


@dataclass(frozen=True)
class Terminate:
    pool: str
    launch_id: str
    cluster_id: str
    why: str


@dataclass(frozen=True)
class Forget:
    """End a launch whose cluster ended (or never came): its slot is free."""

    pool: str
    launch_id: str
    why: str


@dataclass(frozen=True)
class Reroute:
    """The runs a dead cluster held go back to their pool's queue."""

    pool: str
    cluster_id: str


@dataclass(frozen=True)
class MarkIdle:
    launch_id: str
    since: float


@dataclass(frozen=True)
class ClearIdle:
    launch_id: str


@dataclass(frozen=True)
class FailWaiting:
    pool: str
    run_id: str
    why: str


@dataclass(frozen=True)
class DropPool:
    pool: str


Action = (
    Launch | Place | Terminate | Forget | Reroute | MarkIdle | ClearIdle | FailWaiting | DropPool
)


@dataclass
class _Room:
    cluster: ClusterView
    load: int


def least_loaded(candidates: Sequence[_Room], capacity: int, rng: random.Random) -> list[_Room]:
    """The candidates in the order they are picked: least loaded relative to
    capacity first, ties in random order (Genie's rule; the routing module's once
    merged)."""
    keyed = [(room.load / capacity, rng.random(), i) for i, room in enumerate(candidates)]
    return [candidates[i] for _l, _r, i in sorted(keyed)]


def decide(
    pools: Sequence[PoolView],
    now: float,
    *,
    rng: random.Random | None = None,
    pick: Callable[[Sequence[_Room], int, random.Random], list[_Room]] = least_loaded,
) -> list[Action]:
    """The actions for ``pools`` at ``now`` (see the module's docstring)."""
    rng = rng or random.Random()
    actions: list[Action] = []
    for pool in pools:
        actions.extend(_decide_pool(pool, now, rng, pick))
    return actions


def _decide_pool(
    pool: PoolView,
    now: float,
    rng: random.Random,
    pick: Callable[[Sequence[_Room], int, random.Random], list[_Room]],
) -> list[Action]:
    actions: list[Action] = []
    capacity = max(1, pool.max_steps_per_cluster)
    live: list[ClusterView] = []
    # 1. Ended clusters: forgotten; the ones that died give their runs back.
    for c in pool.clusters:
        if c.health is Health.ENDED:
            if c.terminating:
                actions.append(Forget(pool.name, c.launch_id, "terminated"))
            else:
                actions.append(Forget(pool.name, c.launch_id, "its cluster died"))
                if c.cluster_id is not None:
                    actions.append(Reroute(pool.name, c.cluster_id))
        else:
            live.append(c)
    # 2. Placing what waits.
    rooms = [
        _Room(c, c.load)
        for c in live
        if c.health is Health.UP
        and not c.terminating
        and c.cluster_id is not None
        and pool.tags <= c.tags
    ]
    left: list[Waiting] = []
    for run in sorted(pool.waiting, key=lambda w: (w.since, w.run_id)):
        fits = [r for r in rooms if r.load + run.steps <= capacity or r.load == 0]
        if not fits:
            left.append(run)
            continue
        chosen = pick(fits, capacity, rng)[0]
        chosen.load += run.steps
        assert chosen.cluster.cluster_id is not None
        actions.append(Place(pool.name, run.run_id, chosen.cluster.cluster_id))
    loads = {r.cluster.launch_id: r.load for r in rooms}
    # 6. A pool being deleted: no launches; each cluster ends once idle.
    if pool.deleting:
        for c in live:
            unused = loads.get(c.launch_id, c.load) == 0
            # (A launch in flight is ended once it has a cluster.)
            if not c.terminating and c.cluster_id is not None and unused:
                actions.append(Terminate(pool.name, c.launch_id, c.cluster_id, "pool deleted"))
        if not live:
            gone = f"pool '{pool.name}' was deleted"
            actions.extend(FailWaiting(pool.name, run.run_id, gone) for run in left)
            actions.append(DropPool(pool.name))
        return actions
    # 3. and 4. Launching for what still waits, and for the minimum.
    coming = [c for c in live if c.health in (Health.LAUNCHING, Health.STARTING)]
    serving = [
        c for c in live if c.health in (Health.LAUNCHING, Health.STARTING, Health.UP)
        and not c.terminating
    ]  # fmt: skip
    needed_steps = sum(w.steps for w in left)
    for_queue = max(0, math.ceil(needed_steps / capacity) - len(coming))
    for_minimum = max(0, pool.min_clusters - len(serving))
    wanted = max(for_queue, for_minimum)
    room = max(0, pool.max_clusters - len(live))
    used = {c.slot for c in live}
    free = (s for s in range(pool.max_clusters) if s not in used)
    why = "its queue waits" if for_queue >= for_minimum else "minClusters"
    for _ in range(min(wanted, room)):
        actions.append(Launch(pool.name, next(free), why))
    # 5. Idle clusters.
    idle: list[ClusterView] = []
    for c in live:
        if c.health not in (Health.UP, Health.OUT_OF_SERVICE) or c.terminating:
            continue
        load = loads.get(c.launch_id, c.load)
        if load > 0:
            if c.idle_since is not None:
                actions.append(ClearIdle(c.launch_id))
            continue
        if c.idle_since is None:
            actions.append(MarkIdle(c.launch_id, now))
        elif now - c.idle_since >= pool.idle_minutes * 60:
            idle.append(c)
    keep = len(serving)
    for c in sorted(idle, key=lambda c: (c.idle_since or now, c.launch_id)):
        assert c.cluster_id is not None
        if c.health is Health.OUT_OF_SERVICE:
            actions.append(Terminate(pool.name, c.launch_id, c.cluster_id, "drained and idle"))
        elif keep > pool.min_clusters and not left:
            keep -= 1
            minutes = f"{pool.idle_minutes:g}"
            actions.append(
                Terminate(pool.name, c.launch_id, c.cluster_id, f"idle for {minutes} minutes")
            )
    return actions


__all__ = [
    "Action",
    "ClearIdle",
    "ClusterView",
    "DropPool",
    "FailWaiting",
    "Forget",
    "Health",
    "Launch",
    "MarkIdle",
    "Place",
    "PoolView",
    "Reroute",
    "Terminate",
    "Waiting",
    "decide",
]
