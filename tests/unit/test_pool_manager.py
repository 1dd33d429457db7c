"""The pool manager's decisions (``engine/pool_manager.py``), rule by rule, with
plain values and an injected clock."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow_runner.engine.pool_manager import (
    ClearIdle,
    ClusterView,
    DropPool,
    FailWaiting,
    Forget,
    Health,
    Launch,
    MarkIdle,
    Place,
    PoolView,
    Reroute,
    Terminate,
    Waiting,
    decide,
)

NOW = 1_000_000.0


def pool(**kw: object) -> PoolView:
    base: dict[str, object] = {
        "name": "p",
        "min_clusters": 0,
        "max_clusters": 3,
        "max_steps_per_cluster": 2,
        "idle_minutes": 10,
    }
    base.update(kw)
    return PoolView(**base)  # type: ignore[arg-type]


def up(n: int, load: int = 0, **kw: object) -> ClusterView:
    base: dict[str, object] = {
        "launch_id": f"L{n}",
        "cluster_id": f"c{n}",
        "health": Health.UP,
        "load": load,
        "slot": n,
    }
    base.update(kw)
    return ClusterView(**base)  # type: ignore[arg-type]


def waiting(n: int, steps: int = 1) -> tuple[Waiting, ...]:
    return tuple(Waiting(f"r{i:03}", steps, since=float(i)) for i in range(n))


def of(kind: type, actions: list[object]) -> list:  # type: ignore[type-arg]
    return [a for a in actions if isinstance(a, kind)]


def test_a_burst_into_an_empty_pool_launches_up_to_max_clusters() -> None:
    actions = decide([pool(waiting=waiting(30))], NOW)
    launches = of(Launch, actions)
    assert [a.slot for a in launches] == [0, 1, 2]
    assert not of(Place, actions)


def test_launches_in_flight_answer_the_need_no_second_launch() -> None:
    flying = tuple(ClusterView(f"L{i}", None, Health.LAUNCHING, slot=i) for i in range(3))
    assert not of(Launch, decide([pool(clusters=flying, waiting=waiting(30))], NOW))
    # One launch in flight covers two waiting one-step runs (capacity 2): no more.
    one = (ClusterView("L0", None, Health.LAUNCHING, slot=0),)
    assert not of(Launch, decide([pool(clusters=one, waiting=waiting(2))], NOW))
    # Three waiting runs need two clusters: one more, in the free slot.
    assert [a.slot for a in of(Launch, decide([pool(clusters=one, waiting=waiting(3))], NOW))] == [
        1
    ]


def test_starting_clusters_count_as_coming() -> None:
    starting = (up(0, health=Health.STARTING),)
    assert not of(Launch, decide([pool(clusters=starting, waiting=waiting(2))], NOW))


def test_waiting_runs_are_placed_least_loaded_first_within_capacity() -> None:
    clusters = (up(0, load=1), up(1, load=0), up(2, load=2))
    actions = decide([pool(clusters=clusters, waiting=waiting(4))], NOW, rng=random.Random(1))
    placed = [(a.run_id, a.cluster_id) for a in of(Place, actions)]
    # c1 (0/2) first, then c0 and c1 tie at 1/2, then the last room; c2 is full.
    assert [c for _r, c in placed].count("c2") == 0
    assert len(placed) == 3
    assert placed[0] == ("r000", "c1")
    # The fourth waits, and a cluster is launched for it (one free slot? none: max 3).
    assert not of(Launch, actions)


def test_ties_are_broken_by_the_rng() -> None:
    clusters = (up(0), up(1), up(2))
    chosen = {
        of(Place, decide([pool(clusters=clusters, waiting=waiting(1))], NOW,
                         rng=random.Random(seed)))[0].cluster_id
        for seed in range(30)
    }  # fmt: skip
    assert chosen == {"c0", "c1", "c2"}


def test_a_cluster_without_the_pools_tags_or_out_of_service_takes_nothing() -> None:
    clusters = (up(0, tags=frozenset({"env:prod"})), up(1, tags=frozenset()),
                up(2, health=Health.OUT_OF_SERVICE, tags=frozenset({"env:prod"})))  # fmt: skip
    actions = decide(
        [pool(tags=frozenset({"env:prod"}), clusters=clusters, waiting=waiting(2))], NOW
    )
    assert {a.cluster_id for a in of(Place, actions)} == {"c0"}


def test_a_run_bigger_than_a_cluster_goes_to_an_idle_one() -> None:
    actions = decide([pool(clusters=(up(0),), waiting=waiting(1, steps=5))], NOW)
    assert [a.cluster_id for a in of(Place, actions)] == ["c0"]


def test_min_clusters_are_kept_up() -> None:
    actions = decide([pool(min_clusters=2)], NOW)
    assert [a.slot for a in of(Launch, actions)] == [0, 1]
    assert not of(Launch, decide([pool(min_clusters=2, clusters=(up(0), up(1)))], NOW))
    # Being ended does not count as serving.
    ending = (up(0), up(1, terminating=True))
    assert [a.slot for a in of(Launch, decide([pool(min_clusters=2, clusters=ending)], NOW))] == [2]


def test_never_more_than_max_clusters_live() -> None:
    clusters = (up(0, load=2), up(1, load=2), up(2, load=2, terminating=True))
    assert not of(Launch, decide([pool(clusters=clusters, waiting=waiting(10))], NOW))


def test_an_idle_cluster_is_marked_then_ended_after_idle_minutes() -> None:
    actions = decide([pool(clusters=(up(0),))], NOW)
    assert of(MarkIdle, actions) == [MarkIdle("L0", NOW)]
    assert not of(Terminate, actions)
    early = decide([pool(clusters=(up(0, idle_since=NOW - 599),))], NOW)
    assert not of(Terminate, early) and not of(MarkIdle, early)
    late = decide([pool(clusters=(up(0, idle_since=NOW - 600),))], NOW)
    assert of(Terminate, late) == [Terminate("p", "L0", "c0", "idle for 10 minutes")]


def test_idle_clusters_are_not_ended_below_min_clusters_longest_idle_first() -> None:
    clusters = (up(0, idle_since=NOW - 700), up(1, idle_since=NOW - 900), up(2, load=1))
    actions = decide([pool(min_clusters=2, clusters=clusters)], NOW)
    assert [a.cluster_id for a in of(Terminate, actions)] == ["c1"]


def test_a_busy_cluster_is_not_idle() -> None:
    actions = decide([pool(clusters=(up(0, load=1, idle_since=NOW - 9999),))], NOW)
    assert of(ClearIdle, actions) == [ClearIdle("L0")]
    assert not of(Terminate, actions)
    # A run placed in this round makes it busy too.
    placed = decide([pool(clusters=(up(0, idle_since=NOW - 9999),), waiting=waiting(1))], NOW)
    assert of(Place, placed) and not of(Terminate, placed)


def test_a_drained_idle_cluster_is_ended_whatever_the_minimum() -> None:
    drained = up(0, health=Health.OUT_OF_SERVICE, idle_since=NOW - 601)
    actions = decide([pool(min_clusters=3, clusters=(drained,))], NOW)
    assert [a.why for a in of(Terminate, actions)] == ["drained and idle"]


def test_a_dead_cluster_is_forgotten_its_runs_rerouted_and_replaced() -> None:
    dead = up(1, health=Health.ENDED, load=2)
    actions = decide([pool(min_clusters=2, clusters=(up(0), dead))], NOW)
    assert of(Forget, actions) == [Forget("p", "L1", "its cluster died")]
    assert of(Reroute, actions) == [Reroute("p", "c1")]
    assert [a.slot for a in of(Launch, actions)] == [1]


def test_a_cluster_ended_on_purpose_is_only_forgotten() -> None:
    ended = up(0, health=Health.ENDED, terminating=True)
    actions = decide([pool(clusters=(ended,))], NOW)
    assert of(Forget, actions) == [Forget("p", "L0", "terminated")]
    assert not of(Reroute, actions) and not of(Launch, actions)


def test_a_deleted_pool_launches_nothing_and_ends_idle_clusters_at_once() -> None:
    clusters = (up(0), up(1, load=1))
    actions = decide([pool(deleting=True, min_clusters=3, clusters=clusters,
                           waiting=waiting(5))], NOW)  # fmt: skip
    assert not of(Launch, actions)
    # c0 takes waiting runs first; nothing is idle then.
    assert of(Place, actions)
    quiet = decide([pool(deleting=True, clusters=(up(0), up(1, load=1)))], NOW)
    assert [a.cluster_id for a in of(Terminate, quiet)] == ["c0"]
    assert not of(DropPool, quiet)


def test_a_deleted_pool_without_clusters_fails_what_waits_and_is_dropped() -> None:
    actions = decide([pool(deleting=True, waiting=waiting(2))], NOW)
    assert [a.run_id for a in of(FailWaiting, actions)] == ["r000", "r001"]
    assert of(DropPool, actions) == [DropPool("p")]


@settings(max_examples=200, deadline=None)
@given(
    loads=st.lists(st.integers(0, 4), max_size=6),
    starting=st.integers(0, 3),
    queued=st.integers(0, 40),
    max_clusters=st.integers(1, 8),
    capacity=st.integers(1, 4),
    seed=st.integers(0, 1000),
)
def test_never_past_max_clusters_never_past_capacity(
    loads: list[int], starting: int, queued: int, max_clusters: int, capacity: int, seed: int
) -> None:
    clusters = [up(i, load=min(load, capacity)) for i, load in enumerate(loads)]
    clusters += [
        ClusterView(f"S{i}", None, Health.LAUNCHING, slot=len(loads) + i) for i in range(starting)
    ]
    view = pool(clusters=tuple(clusters), waiting=waiting(queued), max_clusters=max_clusters,
                max_steps_per_cluster=capacity)  # fmt: skip
    actions = decide([view], NOW, rng=random.Random(seed))
    launches = of(Launch, actions)
    assert len(clusters) + len(launches) <= max(max_clusters, len(clusters))
    assert len({a.slot for a in launches}) == len(launches)
    assert not {a.slot for a in launches} & {c.slot for c in clusters}
    after = {c.cluster_id: c.load for c in clusters if c.cluster_id}
    for place in of(Place, actions):
        after[place.cluster_id] += 1
    assert all(load <= capacity for load in after.values())
    assert len({a.run_id for a in of(Place, actions)}) == len(of(Place, actions))
