"""Which cluster a job goes to: Genie's routing rules, as a pure function.

A job names its target as ``clusterCriteria``, an ordered list of tag sets:

* only clusters whose status is ``UP`` qualify;
* a cluster matches a set when it carries every tag of it (the empty set matches
  every cluster);
* the first set that matches at least one cluster wins: later ones are not
  considered;
* the tags ``genie.id:X`` and ``genie.name:Y`` match the cluster whose id is X and
  whose name is Y (every cluster carries them implicitly);
* among the matches, the least loaded cluster wins — fewest active + pending
  steps relative to its capacity — ties broken at random (``rng``, injected so
  that tests and benchmarks choose the same).

:class:`Index` keeps, for a set of clusters, each tag's clusters, so that a
decision intersects a few sets instead of scanning every cluster's tags
(``bench/routing.py``: 1,000 clusters with 10 tags each). :func:`choose` builds
one for a single decision.

>>> import random
>>> a = Candidate("j-A", "alpha", "UP", frozenset({"env:prod"}), capacity=4, load=3)
>>> b = Candidate("j-B", "beta", "UP", frozenset({"env:prod"}), capacity=4, load=1)
>>> choose([a, b], [{"env:prod"}], random.Random(0)).id
'j-B'
>>> choose([a, b], [{"env:test"}, {"genie.name:alpha"}], random.Random(0)).id
'j-A'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

UP = "UP"
ID_TAG = "genie.id:"
NAME_TAG = "genie.name:"


class Chooser(Protocol):
    """What breaks ties: ``random.Random`` (or anything with its ``choice``)."""

    def choice(self, seq: Sequence[Candidate], /) -> Candidate: ...


@dataclass(frozen=True)
class Candidate:
    """A cluster as routing sees it."""

    id: str
    name: str
    status: str  # UP, OUT_OF_SERVICE, TERMINATED
    tags: frozenset[str]
    capacity: int = 1
    load: int = 0  # active + pending steps (and jobs sent to it since its last poll)

    @cached_property
    def all_tags(self) -> frozenset[str]:
        """Its tags with the implicit ``genie.id:`` and ``genie.name:`` ones."""
        implicit = {ID_TAG + self.id}
        if self.name:
            implicit.add(NAME_TAG + self.name)
        return self.tags | implicit

    @property
    def ratio(self) -> float:
        """Its load relative to its capacity (a capacity below 1 counts as 1)."""
        return self.load / max(1, self.capacity)


def matches(cluster: Candidate, criterion: Iterable[str]) -> bool:
    """Whether ``cluster`` carries every tag of ``criterion``."""
    return set(criterion) <= cluster.all_tags


def least_loaded(found: Iterable[Candidate], rng: Chooser) -> Candidate:
    """The cluster with the lowest load for its capacity; a tie, by ``rng``."""
    tied: list[Candidate] = []
    best = float("inf")
    for cluster in found:
        ratio = cluster.ratio
        if ratio < best:
            best, tied = ratio, [cluster]
        elif ratio == best:
            tied.append(cluster)
    if len(tied) == 1:
        return tied[0]
    return rng.choice(sorted(tied, key=lambda c: c.id))  # the same rng, the same choice


def _signature(clusters: Iterable[Candidate]) -> frozenset[tuple[str, str, frozenset[str]]]:
    """What an index depends on: each UP cluster's id, name and tags (not its load)."""
    return frozenset((c.id, c.name, c.tags) for c in clusters if c.status == UP)


class Index:
    """The UP clusters of a set, by tag (see the module's docstring)."""

    def __init__(self, clusters: Iterable[Candidate]) -> None:
        self.clusters: dict[str, Candidate] = {}
        self.by_tag: dict[str, set[str]] = {}
        for cluster in clusters:
            if cluster.status != UP:
                continue
            self.clusters[cluster.id] = cluster
            for tag in cluster.all_tags:
                self.by_tag.setdefault(tag, set()).add(cluster.id)
        self.signature = _signature(self.clusters.values())

    def refreshed(self, clusters: Iterable[Candidate]) -> Index:
        """An index of ``clusters``: this one's tag sets with their loads when their
        tags, names and states are this one's (loads change at every job, tags
        seldom), else a new one."""
        fresh = [c for c in clusters if c.status == UP]
        if _signature(fresh) != self.signature:
            return Index(fresh)
        kept = Index.__new__(Index)
        kept.by_tag, kept.signature = self.by_tag, self.signature
        kept.clusters = {c.id: c for c in fresh}
        return kept

    def matching(self, criterion: Iterable[str]) -> list[Candidate]:
        """The UP clusters that carry every tag of ``criterion``."""
        tags = set(criterion)
        if not tags:
            return list(self.clusters.values())
        sets: list[set[str]] = []
        for tag in tags:
            ids = self.by_tag.get(tag)
            if not ids:
                return []
            sets.append(ids)
        sets.sort(key=len)
        found = sets[0].intersection(*sets[1:]) if len(sets) > 1 else sets[0]
        return [self.clusters[i] for i in found]

    def first_match(self, criteria: Sequence[Iterable[str]]) -> tuple[int, list[Candidate]] | None:
        """The position of the first criterion some cluster matches, and those clusters."""
        for position, criterion in enumerate(criteria):
            found = self.matching(criterion)
            if found:
                return position, found
        return None

    def choose(self, criteria: Sequence[Iterable[str]], rng: Chooser) -> Candidate | None:
        """The cluster a job with ``criteria`` goes to, or None when none matches."""
        first = self.first_match(criteria)
        return None if first is None else least_loaded(first[1], rng)


def choose(
    clusters: Iterable[Candidate], criteria: Sequence[Iterable[str]], rng: Chooser
) -> Candidate | None:
    """The cluster a job with ``criteria`` goes to (Genie's rules: see the module's
    docstring), or None when no UP cluster matches any criterion."""
    return Index(clusters).choose(criteria, rng)


class Router:
    """Decisions on a set of clusters that changes: the tag index is kept while
    the clusters' tags, names and states stay as they were (their loads are read
    afresh at every decision). Thread-safe enough: an index is replaced, never
    changed in place."""

    def __init__(self) -> None:
        self._index: Index | None = None

    def choose(
        self, clusters: Iterable[Candidate], criteria: Sequence[Iterable[str]], rng: Chooser
    ) -> Candidate | None:
        index = Index(clusters) if self._index is None else self._index.refreshed(clusters)
        self._index = index
        return index.choose(criteria, rng)


def describe(criteria: Sequence[Iterable[str]]) -> str:
    """The criteria as a message shows them: ``[a, b] or [c]``."""
    return " or ".join("[" + ", ".join(sorted(c)) + "]" for c in criteria) or "(none)"
