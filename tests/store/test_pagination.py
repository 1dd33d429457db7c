"""Keyset pagination of ``StoreReader.runs``: every run once, newest first, page
after page through the opaque ``next`` cursor, with or without a filter, on every
backend."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

import pytest

from dataflow_runner.errors import StoreError
from dataflow_runner.store import Page, RunFilter, Store, StoreReader
from dataflow_runner.store.records import RunKind, RunRecord, RunState

T0 = 1_763_800_000.123456  # sub-millisecond digits: a cursor must keep them all
NOW = T0 + 100  # the reader's clock: the RUNNING runs below still beat
STATES = (
    RunState.COMPLETED,
    RunState.FAILED,
    RunState.RUNNING,
    RunState.SUBMITTED,
    RunState.CANCELLED,
)


@pytest.fixture
def reader(store: Store) -> StoreReader:
    return StoreReader(store.backend, clock=lambda: NOW)


def make_runs(count: int, created_at: Callable[[int], float]) -> list[RunRecord]:
    """``count`` runs of varied state, kind and playbook. Their ids are in no
    relation to their creation times, so an order by id alone (or by insertion)
    would show."""
    ids = [f"r-{n:03}" for n in random.Random(count).sample(range(1000), count)]
    return [
        RunRecord(
            run_id,
            (RunKind.TRANSIENT, RunKind.ATTACHED)[i % 2],
            f"p{i % 3}",
            "local",
            STATES[i % len(STATES)],
            created_at(i),
            heartbeat_at=NOW - 1,
        )
        for i, run_id in enumerate(ids)
    ]


def store_all(store: Store, runs: list[RunRecord]) -> None:
    shuffled = list(runs)
    random.Random(7).shuffle(shuffled)  # insertion order is neither time nor id order
    for run in shuffled:
        store.writer.create_run(run, [])


def newest_first(runs: list[RunRecord]) -> list[RunRecord]:
    return sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)


def every_page(reader: StoreReader, where: RunFilter | None, limit: int) -> list[Page]:
    pages = [reader.runs(where, limit=limit)]
    while pages[-1].next is not None:
        assert len(pages) < 100, "the cursors never end"
        pages.append(reader.runs(where, limit=limit, after=pages[-1].next))
    return pages


def test_pages_of_twenty_hold_every_run_once_newest_first(
    store: Store, reader: StoreReader
) -> None:
    runs = make_runs(45, lambda i: T0 + i // 3)  # three runs at each time
    store_all(store, runs)
    expected = newest_first(runs)
    # Each page boundary falls between two runs created at the same time.
    assert expected[19].created_at == expected[20].created_at
    assert expected[39].created_at == expected[40].created_at

    pages = every_page(reader, None, 20)

    assert [len(p.items) for p in pages] == [20, 20, 5]
    assert [p.next is None for p in pages] == [False, False, True]
    assert [r for p in pages for r in p.items] == expected  # none repeated, none lost


@pytest.mark.parametrize(
    "created_at",
    [lambda i: T0 + i * 0.001, lambda i: T0 + i // 3, lambda i: T0],
    ids=["all-distinct", "in-threes", "all-at-once"],
)
@pytest.mark.parametrize("limit", [1, 2, 7])
def test_runs_created_at_the_same_time_are_paged_by_id(
    store: Store, reader: StoreReader, created_at: Callable[[int], float], limit: int
) -> None:
    runs = make_runs(15, created_at)
    store_all(store, runs)
    pages = every_page(reader, None, limit)
    assert [r.id for p in pages for r in p.items] == [r.id for r in newest_first(runs)]


FILTERS = {
    "state": RunFilter(state=RunState.FAILED),
    "running": RunFilter(state=RunState.RUNNING),
    "kind": RunFilter(kind=RunKind.TRANSIENT),
    "playbook": RunFilter(playbook="p1"),
    "since-until": RunFilter(since=T0 + 3, until=T0 + 11),
    "since": RunFilter(since=T0 + 9),
    "until": RunFilter(until=T0 + 6),
    "state-kind": RunFilter(state=RunState.FAILED, kind=RunKind.ATTACHED),
    "kind-playbook-since": RunFilter(kind=RunKind.ATTACHED, playbook="p0", since=T0 + 2),
}


def matches(run: RunRecord, where: RunFilter) -> bool:
    return (
        (where.state is None or run.state is where.state)
        and (where.kind is None or run.kind is where.kind)
        and (where.playbook is None or run.playbook == where.playbook)
        and (where.since is None or run.created_at >= where.since)
        and (where.until is None or run.created_at < where.until)
    )


@pytest.mark.parametrize("name", FILTERS)
def test_a_filter_holds_on_every_page(store: Store, reader: StoreReader, name: str) -> None:
    where = FILTERS[name]
    runs = make_runs(45, lambda i: T0 + i // 3)
    store_all(store, runs)
    expected = [r for r in newest_first(runs) if matches(r, where)]
    limit = 2
    assert len(expected) > 2 * limit, "the filter must span several pages"
    assert len(expected) < len(runs), "the filter must leave runs out"

    pages = every_page(reader, where, limit)

    assert [r for p in pages for r in p.items] == expected
    full, rest = divmod(len(expected), limit)
    # A last page that is exactly full may carry a cursor to an empty one.
    allowed = [[limit] * full + [rest]] if rest else [[limit] * full, [limit] * full + [0]]
    assert [len(p.items) for p in pages] in allowed


def test_a_run_created_between_two_pages_does_not_shift_the_next(
    store: Store, reader: StoreReader
) -> None:
    runs = make_runs(10, lambda i: T0 + i)
    store_all(store, runs)
    first = reader.runs(limit=4)
    newer = dataclasses.replace(runs[0], id="r-new", created_at=T0 + 50)
    store.writer.create_run(newer, [])
    second = reader.runs(limit=4, after=first.next)
    expected = [r.id for r in newest_first(runs)]
    assert [r.id for r in first.items + second.items] == expected[:8]  # as an offset would not


@pytest.mark.parametrize(
    "cursor", ["", "garbage", "r-042", "1763800000.5", "yesterday/r-042", "/r-042"]
)
def test_a_cursor_that_no_page_gave_is_a_store_error(
    store: Store, reader: StoreReader, cursor: str
) -> None:
    store_all(store, make_runs(3, lambda i: T0 + i))
    with pytest.raises(StoreError) as error:
        reader.runs(limit=2, after=cursor)
    assert "\n" not in str(error.value)
    assert "cursor" in str(error.value)
