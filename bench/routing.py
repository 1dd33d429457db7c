"""The routing decision among 1,000 clusters with 10 tags each (``routing.py``):
median and p99 per job — an index built for each decision; an index kept
(``Index.choose``); the server's ``Router`` (fresh candidates with new loads at
each job, the tag index kept while tags and states do not change: the time
includes checking that); and a naive scan of every cluster's tags for each
criterion, beside them.

    PYTHONPATH=src python bench/routing.py [--jobs 2000]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import statistics
import time

from dataflow_runner.routing import Candidate, Index, Router, choose, least_loaded, matches

CLUSTERS = 1000
TAGS_EACH = 10


def fleet(rng: random.Random) -> list[Candidate]:
    """1,000 clusters: env, size, spark version, team, zone... 10 tags each."""
    out = []
    for i in range(CLUSTERS):
        tags = {
            f"env:{rng.choice(['prod', 'test', 'dev'])}",
            f"size:{rng.choice(['tiny', 'small', 'medium', 'large', 'xlarge'])}",
            f"spark:{rng.choice(['3.3', '3.4', '3.5'])}",
            f"team:{rng.randrange(40)}",
            f"zone:{rng.randrange(6)}",
            f"hive:{rng.choice(['2', '3'])}",
            f"pool:{rng.randrange(100)}",
            f"gpu:{rng.choice(['yes', 'no'])}",
            f"tier:{rng.randrange(4)}",
            f"owner:{i % 97}",
        }
        status = "UP" if rng.random() > 0.05 else "OUT_OF_SERVICE"
        out.append(Candidate(f"j-{i:05d}", f"c{i}", status, frozenset(tags),
                             capacity=rng.choice([4, 8, 16]), load=rng.randrange(20)))  # fmt: skip
    return out


def jobs(rng: random.Random, count: int) -> list[list[set[str]]]:
    """Criteria as Genie jobs give them: a precise set first, broader ones after."""
    out = []
    for _ in range(count):
        precise = {
            f"team:{rng.randrange(40)}",
            f"env:{rng.choice(['prod', 'test'])}",
            f"size:{rng.choice(['large', 'xlarge'])}",
            f"zone:{rng.randrange(6)}",
        }
        out.append([precise, {f"env:{rng.choice(['prod', 'test'])}", "spark:3.5"}, {"env:dev"}])
    return out


def scan(
    clusters: list[Candidate], criteria: list[set[str]], rng: random.Random
) -> Candidate | None:
    for criterion in criteria:
        found = [c for c in clusters if c.status == "UP" and matches(c, criterion)]
        if found:
            return least_loaded(found, rng)
    return None


def timed(decide: object, cases: list[list[set[str]]]) -> dict[str, float]:
    times = []
    for criteria in cases:
        start = time.perf_counter()
        decide(criteria)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "median_us": round(statistics.median(times) * 1e6, 1),
        "p99_us": round(times[int(len(times) * 0.99) - 1] * 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(42)
    clusters = fleet(rng)
    cases = jobs(rng, args.jobs)
    index = Index(clusters)
    router = Router()
    router.choose(clusters, [{"env:dev"}], rng)

    def loaded() -> list[Candidate]:
        """The clusters as the registry gives them at each job: new objects, new loads."""
        return [dataclasses.replace(c, load=rng.randrange(20)) for c in clusters]

    variants = itertools.cycle([loaded() for _ in range(16)])

    # The same choices, whichever way.
    for criteria in cases[:200]:
        a = choose(clusters, criteria, random.Random(1))
        b = scan(clusters, criteria, random.Random(1))
        assert (a.id if a else None) == (b.id if b else None)
    results = {
        "clusters": CLUSTERS,
        "tags_each": TAGS_EACH,
        "jobs": args.jobs,
        "index_per_decision": timed(lambda c: choose(clusters, c, rng), cases),
        "router": timed(lambda c: router.choose(next(variants), c, rng), cases),
        "index_kept": timed(lambda c: index.choose(c, rng), cases),
        "naive_scan": timed(lambda c: scan(clusters, c, rng), cases[: max(200, args.jobs // 10)]),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
