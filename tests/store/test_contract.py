"""The store's contract, the same on sqlite3, SQLAlchemy-on-SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from dataflow_runner.errors import StoreError
from dataflow_runner.store import Page, RunFilter, Store, StoreReader, open_store
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    RunKind,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)
from tests.store.conftest import PG_PASSWORD, PostgresServer, count_transactions

T0 = 1_763_800_000.123456  # epoch seconds with sub-millisecond digits
#: The readers' clock: the RUNNING runs below (created at T0 and a little after,
#: with no pid of this host) still have their runner, so they read back as stored.
NOW = T0 + 30


@pytest.fixture
def reader(store: Store) -> StoreReader:
    """The store's read side, its clock at :data:`NOW`."""
    return StoreReader(store.backend, clock=lambda: NOW)


def a_run(run_id: str = "r-1", created_at: float = T0, **fields: Any) -> RunRecord:
    return RunRecord(
        run_id, RunKind.ATTACHED, "nightly", "local", RunState.RUNNING, created_at, **fields
    )


def a_step(step_id: str, position: int, run_id: str = "r-1", **fields: Any) -> StepRecord:
    fields.setdefault("action_on_failure", "CANCEL_AND_WAIT")
    return StepRecord(
        run_id, step_id, position, f"Step {step_id}", "shell", StepState.PENDING, **fields
    )


def a_cluster(cluster_id: str, created_at: float = T0, **fields: Any) -> ClusterRecord:
    return ClusterRecord(cluster_id, "local", "dev", ClusterState.STARTING, created_at, **fields)


RUN, DONE = StepState.RUNNING, StepState.COMPLETED

FULL_RUN = a_run(
    playbook_path="/p/playbook.yml",
    cluster_name="dev",
    cluster_config_path="/p/cluster.yml",
    cluster_id="l-1",
    reason="step 'b' failed",
    started_at=T0 + 1.5,
    ended_at=T0 + 9.25,
    heartbeat_at=T0 + 8,
    pid=4_194_303,
    host="builder-7",
    variables={"env": "prod", "date": "2026-11-22", "ünï": "☃"},
    playbook_doc={"steps": [{"name": "a", "args": ["-x", 1, 2.5, None, True]}], "nested": {}},
    cluster_doc={"ec2": {"instances": {"core": {"count": 2}}}},
    options={"lock": "nightly", "async": False, "concurrency": 4},
)


def test_a_run_round_trips_every_field(store: Store, reader: StoreReader) -> None:
    minimal = a_run("r-min")
    store.writer.create_run(FULL_RUN, [])
    store.writer.create_run(minimal, [])
    assert reader.run("r-1") == FULL_RUN
    assert reader.run("r-min") == minimal
    assert isinstance(reader.run("r-1").state, RunState)  # type: ignore[union-attr]
    assert reader.run("r-none") is None


def test_steps_round_trip_in_playbook_order(store: Store, reader: StoreReader) -> None:
    full = a_step(
        "c",
        0,
        depends_on=("a", "b"),
        attempts=2,
        started_at=T0,
        ended_at=T0 + 1,
        exit_code=-9,
        reason="killed",
        cause="OutOfMemoryError",
        fabric_ref={"cluster": "j-1", "step": "s-1"},
        action_on_failure="CONTINUE",
    )
    steps = [a_step("b", 2), a_step("a", 1, depends_on=("c",)), full]
    store.writer.create_run(a_run(), steps)
    got = reader.steps("r-1")
    assert [s.step_id for s in got] == ["c", "a", "b"]
    assert got == [full, steps[1], steps[0]]
    assert isinstance(got[0].depends_on, tuple) and isinstance(got[0].state, StepState)
    assert reader.steps("r-other") == []


def test_create_run_is_one_transaction(store: Store, reader: StoreReader) -> None:
    with pytest.raises(StoreError) as error:
        store.writer.create_run(a_run(), [a_step("a", 0), a_step("a", 1)])  # duplicate step id
    assert "\n" not in str(error.value)
    assert reader.run("r-1") is None  # the run was rolled back with its steps
    store.writer.create_run(a_run(), [a_step("a", 0)])
    with pytest.raises(StoreError):
        store.writer.create_run(a_run(), [])  # the id is taken


def test_update_run_changes_any_field_but_the_id(store: Store, reader: StoreReader) -> None:
    store.writer.create_run(a_run(), [])
    changes = {f.name: getattr(FULL_RUN, f.name) for f in dataclasses.fields(RunRecord)}
    del changes["id"]
    changes["state"] = RunState.CANCELLED
    store.writer.update_run("r-1", **changes)
    assert reader.run("r-1") == dataclasses.replace(FULL_RUN, state=RunState.CANCELLED)
    # Back to None and empty values; a state may be given as its value.
    store.writer.update_run(
        "r-1", state="COMPLETED", reason=None, pid=None, options={}, variables={}
    )
    run = reader.run("r-1")
    assert run is not None
    assert (run.state, run.reason, run.pid, run.options, run.variables) == (
        RunState.COMPLETED,
        None,
        None,
        {},
        {},
    )
    store.writer.heartbeat("r-1", T0 + 60)
    assert reader.run("r-1").heartbeat_at == T0 + 60  # type: ignore[union-attr]


def test_find_run_by_id_or_unique_prefix(store: Store, reader: StoreReader) -> None:
    for i, run_id in enumerate(["r-10", "r-11", "r-12", "r-5", "r-55", "r-2_x", "R-3"]):
        store.writer.create_run(a_run(run_id, created_at=T0 + i), [])
    assert reader.find_run("r-11") == a_run("r-11", created_at=T0 + 1)
    assert reader.find_run("r-5").id == "r-5"  # an exact id beats a prefix of others
    assert reader.find_run("r-2").id == "r-2_x"
    assert reader.find_run("R").id == "R-3"  # case matters
    with pytest.raises(StoreError, match=r"^'r-1' matches 3 runs: r-12, r-11, r-10$"):
        reader.find_run("r-1")
    for missing in ("r-9", "r_", "r%", "r-2x", "r-10-", ""):  # no LIKE wildcards
        with pytest.raises(StoreError, match=rf"^no run '{missing}'"):
            reader.find_run(missing)


def test_find_run_lists_a_few_of_many_matches(store: Store, reader: StoreReader) -> None:
    for i in range(8):
        store.writer.create_run(a_run(f"r-{i}", created_at=T0 + i), [])
    with pytest.raises(StoreError) as error:
        reader.find_run("r-")
    assert str(error.value) == "'r-' matches 8 runs: r-7, r-6, r-5, r-4, r-3, ..."


def test_list_runs_newest_first_with_filters(store: Store, reader: StoreReader) -> None:
    assert reader.runs() == Page([], None) and reader.latest_run() is None
    for i in range(30):
        state = RunState.FAILED if i % 3 == 0 else RunState.COMPLETED
        store.writer.create_run(
            dataclasses.replace(a_run(f"r-{i:02}", T0 + i), state=state, playbook=f"p{i % 2}"), []
        )

    def ids(where: RunFilter | None = None, limit: int = 20) -> list[str]:
        return [r.id for r in reader.runs(where, limit=limit).items]

    assert ids() == [f"r-{i:02}" for i in range(29, 9, -1)]
    everything = reader.runs(limit=100)
    assert len(everything.items) == 30 and everything.next is None
    assert reader.latest_run().id == "r-29"  # type: ignore[union-attr]
    failed = reader.runs(RunFilter(state=RunState.FAILED), limit=100).items
    assert [r.id for r in failed] == [f"r-{i:02}" for i in range(27, -1, -3)]
    assert all(r.state is RunState.FAILED for r in failed)
    assert {r.playbook for r in reader.runs(RunFilter(playbook="p1"), limit=100).items} == {"p1"}
    assert len(ids(RunFilter(playbook="p1"), limit=100)) == 15
    # since <= created_at < until
    assert ids(RunFilter(since=T0 + 10, until=T0 + 13)) == ["r-12", "r-11", "r-10"]
    both = RunFilter(state=RunState.FAILED, playbook="p0", since=T0 + 1)
    assert ids(both, limit=2) == ["r-24", "r-18"]
    assert ids(RunFilter(state=RunState.CANCELLED)) == []
    assert ids(RunFilter(kind=RunKind.TRANSIENT)) == []
    assert len(ids(RunFilter(kind=RunKind.ATTACHED), limit=100)) == 30


def test_attempts_and_step_transitions(store: Store, reader: StoreReader) -> None:
    store.writer.create_run(a_run(), [a_step("a", 0), a_step("b", 1)])
    ref = {"cluster": "l-1", "step": "a#1"}
    first = AttemptRecord(
        "r-1", "a", 1, StepState.RUNNING, started_at=T0, fabric_ref=ref, log_location="/logs/a/1"
    )
    store.writer.start_attempt(first)
    step = reader.steps("r-1")[0]
    assert (step.state, step.attempts, step.started_at, step.fabric_ref) == (
        StepState.RUNNING,
        1,
        T0,
        ref,
    )
    # A retry follows: only the attempt closes.
    store.writer.finish_attempt(
        "r-1",
        "a",
        1,
        StepState.FAILED,
        at=T0 + 1,
        exit_code=3,
        reason="exit 3",
        cause="boom",
        final=False,
    )
    assert reader.steps("r-1")[0] == step
    store.writer.start_attempt(AttemptRecord("r-1", "a", 2, StepState.RUNNING, started_at=T0 + 2))
    store.writer.finish_attempt("r-1", "a", 2, StepState.COMPLETED, at=T0 + 3, exit_code=0)
    step = reader.steps("r-1")[0]
    assert step == dataclasses.replace(
        a_step("a", 0),
        state=StepState.COMPLETED,
        attempts=2,
        started_at=T0,  # the first start
        ended_at=T0 + 3,
        exit_code=0,
    )
    store.writer.start_attempt(AttemptRecord("r-1", "b", 1, StepState.PENDING))
    store.writer.update_attempt("r-1", "b", 1, state=StepState.RUNNING, started_at=T0 + 4)
    store.writer.update_step("r-1", "b", state=StepState.RUNNING)
    store.writer.finish_attempt("r-1", "b", 1, StepState.CANCELLED, at=T0 + 5, reason="cancelled")

    attempts = reader.attempts("r-1")
    assert [(a.step_id, a.attempt, a.state) for a in attempts] == [
        ("a", 1, StepState.FAILED),
        ("a", 2, StepState.COMPLETED),
        ("b", 1, StepState.CANCELLED),
    ]
    assert attempts[0] == dataclasses.replace(
        first, state=StepState.FAILED, ended_at=T0 + 1, exit_code=3, reason="exit 3", cause="boom"
    )
    assert reader.attempts("r-1", "b") == attempts[2:]
    assert attempts[2].started_at == T0 + 4
    assert reader.steps("r-1")[1].reason == "cancelled"
    assert reader.attempts("r-1", "zzz") == [] and reader.attempts("r-2") == []


def test_attempt_transitions_are_all_or_nothing(store: Store, reader: StoreReader) -> None:
    store.writer.create_run(a_run(), [a_step("a", 0)])
    with pytest.raises(StoreError, match="no step 'x' of run 'r-1'"):
        store.writer.start_attempt(AttemptRecord("r-1", "x", 1, StepState.RUNNING))
    store.writer.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING, started_at=T0))
    with pytest.raises(StoreError):  # the same attempt twice: nothing changes
        store.writer.start_attempt(
            AttemptRecord("r-1", "a", 1, StepState.PENDING, started_at=T0 + 1)
        )
    assert reader.steps("r-1")[0].state is StepState.RUNNING
    with pytest.raises(StoreError, match="no attempt 2 of step 'a' of run 'r-1'"):
        store.writer.finish_attempt("r-1", "a", 2, StepState.FAILED, at=T0 + 2)
    assert reader.steps("r-1")[0].state is StepState.RUNNING  # the step was not touched
    assert [a.attempt for a in reader.attempts("r-1")] == [1]


def test_clusters(store: Store, reader: StoreReader) -> None:
    assert reader.cluster("l-1") is None and reader.clusters() == []
    full = ClusterRecord(
        "j-1",
        "emr",
        "nightly",
        ClusterState.WAITING,
        T0,
        run_id="r-1",
        reason=None,
        ended_at=None,
        updated_at=T0 + 1,
        pid=None,
        host="h",
        endpoint="ec2-1.compute",
        config_doc={"tags": {"a": "b"}},
    )
    store.writer.upsert_cluster(full)
    assert reader.cluster("j-1") == full
    replaced = a_cluster("j-1", T0 + 5, pid=77, endpoint="/c/l-1")
    store.writer.upsert_cluster(replaced)  # every field replaced, not merged
    assert reader.cluster("j-1") == replaced
    store.writer.update_cluster(
        "j-1",
        state="TERMINATED_WITH_ERRORS",
        reason="bootstrap failed",
        ended_at=T0 + 9,
        config_doc={},
    )
    got = reader.cluster("j-1")
    assert got is not None and got.state is ClusterState.TERMINATED_WITH_ERRORS
    assert (got.reason, got.ended_at, got.pid) == ("bootstrap failed", T0 + 9, 77)

    for i, state in enumerate(
        [ClusterState.RUNNING, ClusterState.TERMINATED, ClusterState.WAITING, ClusterState.STARTING]
    ):
        fabric = "emr" if i % 2 else "local"
        store.writer.upsert_cluster(
            dataclasses.replace(a_cluster(f"l-{i}", T0 + 10 + i), state=state, fabric=fabric)
        )
    ids = [c.id for c in reader.clusters()]
    assert ids == ["l-3", "l-2", "l-1", "l-0", "j-1"]
    assert [c.id for c in reader.clusters(active=True)] == ["l-3", "l-2", "l-0"]
    assert [c.id for c in reader.clusters(active=False)] == ["l-1", "j-1"]
    assert [c.id for c in reader.clusters(fabric="emr")] == ["l-3", "l-1"]
    assert [c.id for c in reader.clusters(fabric="local", active=True, limit=1)] == ["l-2"]


def test_unknown_fields_are_programming_errors(store: Store, reader: StoreReader) -> None:
    store.writer.create_run(a_run(), [a_step("a", 0)])
    store.writer.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING))
    store.writer.upsert_cluster(a_cluster("l-1"))
    with pytest.raises(TypeError, match=r"^RunRecord has no updatable field colour$"):
        store.writer.update_run("r-1", state=RunState.FAILED, colour="red")
    with pytest.raises(TypeError, match=r"no updatable field id$"):
        store.writer.update_run("r-1", id="r-2")
    with pytest.raises(TypeError):  # Python itself refuses it
        store.writer.update_step("r-1", "a", step_id="b")
    with pytest.raises(TypeError, match=r"no updatable field log$"):
        store.writer.update_attempt("r-1", "a", 1, log="x")
    with pytest.raises(TypeError):
        store.writer.update_attempt("r-1", "a", 1, attempt=2)
    with pytest.raises(TypeError, match=r"no updatable field status$"):
        store.writer.update_cluster("l-1", status="RUNNING")
    with pytest.raises(TypeError):
        store.writer.update_run("r-1")
    with pytest.raises(ValueError, match="BOGUS"):
        store.writer.update_run("r-1", state="BOGUS")  # never stored, so never unreadable
    assert reader.run("r-1") == a_run()


def test_updating_a_missing_row_is_a_store_error(store: Store) -> None:
    store.writer.create_run(a_run(), [a_step("a", 0)])
    cases = [
        (lambda: store.writer.update_run("r-9", state=RunState.FAILED), "no run 'r-9'"),
        (lambda: store.writer.heartbeat("r-9", T0), "no run 'r-9'"),
        (lambda: store.writer.update_step("r-1", "z", reason="x"), "no step 'z' of run 'r-1'"),
        (
            lambda: store.writer.update_attempt("r-1", "a", 1, reason="x"),
            "no attempt 1 of step 'a'",
        ),
        (lambda: store.writer.update_cluster("l-9", pid=1), "no cluster 'l-9'"),
    ]
    for call, message in cases:
        with pytest.raises(StoreError, match=message) as error:
            call()
        assert store.url_for_display in str(error.value)


def test_the_password_never_shows(pg_store: Store, postgres_server: PostgresServer) -> None:
    assert PG_PASSWORD not in pg_store.url_for_display
    assert "postgres:***@127.0.0.1" in pg_store.url_for_display
    pg_store.writer.create_run(a_run(), [])
    with pytest.raises(StoreError) as error:
        pg_store.writer.create_run(a_run(), [])
    assert PG_PASSWORD not in str(error.value) and "\n" not in str(error.value)
    for url in (
        "postgresql://u:s3cr3t@127.0.0.1:1/db",  # nothing listens there
        "postgresql+psycopg://u:s3cr3t@127.0.0.1:1/db",
        "postgresql://u:s3cr3t@127.0.0.1:notaport/db",
        "postgresql://u:s3cr3t@[::1/db",
        "nosuchdb://u:s3cr3t@h/db",
        postgres_server.url("no_such_database").replace(PG_PASSWORD, "s3cr3t"),
    ):
        with pytest.raises(StoreError) as error:
            open_store(url)
        message = str(error.value)
        assert "s3cr3t" not in message and "\n" not in message, message
        assert "***" in message, message


def test_every_write_is_one_transaction_of_its_own(
    store: Store, reader: StoreReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No write waits for another to be committed with it (there are no batches)."""
    writer = store.writer
    writes: list[tuple[str, Callable[[], object]]] = [
        ("create_run", lambda: writer.create_run(a_run(), [a_step("a", 0), a_step("b", 1)])),
        ("update_run", lambda: writer.update_run("r-1", reason="x", pid=7)),
        ("heartbeat", lambda: writer.heartbeat("r-1", T0 + 1)),
        ("start_attempt", lambda: writer.start_attempt(AttemptRecord("r-1", "a", 1, RUN))),
        ("update_attempt", lambda: writer.update_attempt("r-1", "a", 1, log_location="/l")),
        ("finish_attempt", lambda: writer.finish_attempt("r-1", "a", 1, DONE, at=T0 + 2)),
        ("update_step", lambda: writer.update_step("r-1", "b", cause="c")),
        ("upsert_cluster", lambda: writer.upsert_cluster(a_cluster("l-1"))),
        ("update_cluster", lambda: writer.update_cluster("l-1", endpoint="/e")),
    ]
    opened = count_transactions(store, monkeypatch)
    for n, (name, write) in enumerate(writes, start=1):
        write()
        assert len(opened) == n, name
    run, steps = reader.run("r-1"), reader.steps("r-1")
    assert run is not None and (run.reason, run.pid, run.heartbeat_at) == ("x", 7, T0 + 1)
    assert [(s.state, s.cause) for s in steps] == [(DONE, None), (StepState.PENDING, "c")]
    assert reader.attempts("r-1")[0].log_location == "/l"
    assert reader.cluster("l-1") == a_cluster("l-1", endpoint="/e")
