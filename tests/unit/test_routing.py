"""Genie's routing rules (``routing.py``): each rule on its own, and a property:
the chosen cluster always matches the first criterion that any UP cluster matches."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from dataflow_runner.routing import Candidate, Index, choose, describe, matches


def c(cid: str, *tags: str, status: str = "UP", load: int = 0, capacity: int = 1,
      name: str = "") -> Candidate:  # fmt: skip
    return Candidate(cid, name or cid.lower(), status, frozenset(tags), capacity, load)


RNG = random.Random(7)


def test_a_cluster_matches_only_when_it_carries_every_tag() -> None:
    a = c("A", "env:prod", "spark:3.5")
    b = c("B", "env:prod")
    assert matches(a, {"env:prod", "spark:3.5"})
    assert not matches(b, {"env:prod", "spark:3.5"})
    chosen = choose([a, b], [{"env:prod", "spark:3.5"}], RNG)
    assert chosen is not None and chosen.id == "A"


def test_the_first_criterion_that_matches_wins_and_later_ones_are_not_considered() -> None:
    busy = c("A", "env:prod", load=9)
    idle = c("B", "env:test", load=0)
    # B is less loaded, but the first criterion matches A: B is never considered.
    chosen = choose([busy, idle], [{"env:prod"}, {"env:test"}], RNG)
    assert chosen is not None and chosen.id == "A"
    # A criterion nothing matches is skipped.
    chosen = choose([busy, idle], [{"env:nowhere"}, {"env:test"}, {"env:prod"}], RNG)
    assert chosen is not None and chosen.id == "B"


def test_only_up_clusters_qualify() -> None:
    out = c("A", "env:prod", status="OUT_OF_SERVICE")
    gone = c("B", "env:prod", status="TERMINATED")
    assert choose([out, gone], [{"env:prod"}], RNG) is None
    up = c("C", "env:test")
    # The first criterion matches only clusters that are not UP: the next one counts.
    chosen = choose([out, gone, up], [{"env:prod"}, {"env:test"}], RNG)
    assert chosen is not None and chosen.id == "C"


def test_genie_id_and_name_tags_match_a_clusters_id_and_name() -> None:
    a = c("j-AAA", "env:prod", name="alpha")
    b = c("j-BBB", "env:prod", name="beta")
    by_id = choose([a, b], [{"genie.id:j-BBB"}], RNG)
    by_name = choose([a, b], [{"genie.name:alpha", "env:prod"}], RNG)
    assert by_id is not None and by_id.id == "j-BBB"
    assert by_name is not None and by_name.id == "j-AAA"
    assert choose([a, b], [{"genie.name:gamma"}], RNG) is None


def test_the_least_loaded_relative_to_capacity_wins() -> None:
    small = c("A", "t", load=2, capacity=2)  # full
    big = c("B", "t", load=3, capacity=10)  # 30 %
    mid = c("C", "t", load=1, capacity=2)  # 50 %
    chosen = choose([small, big, mid], [{"t"}], RNG)
    assert chosen is not None and chosen.id == "B"


def test_ties_are_broken_at_random_by_the_injected_rng() -> None:
    a, b, d = c("A", "t", load=1), c("B", "t", load=1), c("D", "t", load=5)
    picks = Counter()
    rng = random.Random(1)
    for _ in range(200):
        chosen = choose([a, b, d], [{"t"}], rng)
        assert chosen is not None
        picks[chosen.id] += 1
    assert set(picks) == {"A", "B"} and min(picks.values()) > 50
    # The same seed, the same choices.
    first = [choose([a, b], [{"t"}], random.Random(5)).id for _ in range(3)]  # type: ignore[union-attr]
    assert len(set(first)) == 1


def test_no_match_is_none_and_the_criteria_are_described() -> None:
    assert choose([c("A", "x")], [{"y"}, {"z", "w"}], RNG) is None
    assert choose([], [{"y"}], RNG) is None
    assert describe([{"y"}, {"z", "w"}]) == "[y] or [w, z]"


def test_an_empty_criterion_matches_every_up_cluster() -> None:
    chosen = choose([c("A", load=3), c("B", load=1)], [set()], RNG)
    assert chosen is not None and chosen.id == "B"


TAGS = st.sampled_from([f"t{i}" for i in range(6)])
CLUSTERS = st.lists(
    st.builds(
        Candidate,
        id=st.sampled_from([f"j-{i}" for i in range(12)]),
        name=st.sampled_from(["a", "b", "c", ""]),
        status=st.sampled_from(["UP", "UP", "OUT_OF_SERVICE", "TERMINATED"]),
        tags=st.frozensets(TAGS, max_size=4),
        capacity=st.integers(1, 5),
        load=st.integers(0, 10),
    ),
    max_size=12,
    unique_by=lambda x: x.id,
)
CRITERIA = st.lists(
    st.frozensets(
        st.one_of(TAGS, st.sampled_from(["genie.id:j-1", "genie.name:b"])), min_size=1, max_size=3
    ),
    min_size=1,
    max_size=4,
)


@given(CLUSTERS, CRITERIA, st.integers(0, 2**32))
def test_the_chosen_cluster_always_matches_the_first_matching_criterion(
    clusters: list[Candidate], criteria: list[frozenset[str]], seed: int
) -> None:
    chosen = choose(clusters, criteria, random.Random(seed))
    up = [x for x in clusters if x.status == "UP"]
    first = next((cr for cr in criteria if any(matches(x, cr) for x in up)), None)
    if first is None:
        assert chosen is None
        return
    assert chosen is not None and chosen.status == "UP" and matches(chosen, first)
    # ... and no matching cluster is less loaded for its capacity.
    assert all(chosen.ratio <= x.ratio for x in up if matches(x, first))
    # The index gives the same clusters as a scan.
    assert {x.id for x in Index(clusters).matching(first)} == {
        x.id for x in up if matches(x, first)
    }
