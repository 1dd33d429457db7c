"""The store's contract, the same on sqlite3, SQLAlchemy-on-SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dataflow_runner.errors import StoreError
from dataflow_runner.store import Store, open_store
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    ClusterState,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)
from tests.store.conftest import PG_PASSWORD, PostgresServer, count_transactions

T0 = 1_763_800_000.123456  # epoch seconds with sub-millisecond digits


def a_run(run_id: str = "r-1", created_at: float = T0, **fields: Any) -> RunRecord:
    return RunRecord(run_id, "run", "nightly", "local", RunState.RUNNING, created_at, **fields)


def a_step(step_id: str, position: int, run_id: str = "r-1", **fields: Any) -> StepRecord:
    return StepRecord(
        run_id, step_id, position, f"Step {step_id}", "shell", StepState.PENDING, **fields
    )


def a_cluster(cluster_id: str, created_at: float = T0, **fields: Any) -> ClusterRecord:
    return ClusterRecord(cluster_id, "local", "dev", ClusterState.STARTING, created_at, **fields)


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


def test_a_run_round_trips_every_field(store: Store) -> None:
    minimal = a_run("r-min")
    store.create_run(FULL_RUN, [])
    store.create_run(minimal, [])
    assert store.get_run("r-1") == FULL_RUN
    assert store.get_run("r-min") == minimal
    assert isinstance(store.get_run("r-1").state, RunState)  # type: ignore[union-attr]
    assert store.get_run("r-none") is None


def test_steps_round_trip_in_playbook_order(store: Store) -> None:
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
    store.create_run(a_run(), steps)
    got = store.get_steps("r-1")
    assert [s.step_id for s in got] == ["c", "a", "b"]
    assert got == [full, steps[1], steps[0]]
    assert isinstance(got[0].depends_on, tuple) and isinstance(got[0].state, StepState)
    assert store.get_steps("r-other") == []


def test_create_run_is_one_transaction(store: Store) -> None:
    with pytest.raises(StoreError) as error:
        store.create_run(a_run(), [a_step("a", 0), a_step("a", 1)])  # duplicate step id
    assert "\n" not in str(error.value)
    assert store.get_run("r-1") is None  # the run was rolled back with its steps
    store.create_run(a_run(), [a_step("a", 0)])
    with pytest.raises(StoreError):
        store.create_run(a_run(), [])  # the id is taken


def test_update_run_changes_any_field_but_the_id(store: Store) -> None:
    store.create_run(a_run(), [])
    changes = {f.name: getattr(FULL_RUN, f.name) for f in dataclasses.fields(RunRecord)}
    del changes["id"]
    changes["state"] = RunState.CANCELLED
    store.update_run("r-1", **changes)
    assert store.get_run("r-1") == dataclasses.replace(FULL_RUN, state=RunState.CANCELLED)
    # Back to None and empty values; a state may be given as its value.
    store.update_run("r-1", state="COMPLETED", reason=None, pid=None, options={}, variables={})
    run = store.get_run("r-1")
    assert run is not None
    assert (run.state, run.reason, run.pid, run.options, run.variables) == (
        RunState.COMPLETED,
        None,
        None,
        {},
        {},
    )
    store.heartbeat("r-1", T0 + 60)
    assert store.get_run("r-1").heartbeat_at == T0 + 60  # type: ignore[union-attr]


def test_find_run_by_id_or_unique_prefix(store: Store) -> None:
    for i, run_id in enumerate(["r-10", "r-11", "r-12", "r-5", "r-55", "r-2_x", "R-3"]):
        store.create_run(a_run(run_id, created_at=T0 + i), [])
    assert store.find_run("r-11") == a_run("r-11", created_at=T0 + 1)
    assert store.find_run("r-5").id == "r-5"  # an exact id beats a prefix of others
    assert store.find_run("r-2").id == "r-2_x"
    assert store.find_run("R").id == "R-3"  # case matters
    with pytest.raises(StoreError, match=r"^'r-1' matches 3 runs: r-12, r-11, r-10$"):
        store.find_run("r-1")
    for missing in ("r-9", "r_", "r%", "r-2x", "r-10-", ""):  # no LIKE wildcards
        with pytest.raises(StoreError, match=rf"^no run '{missing}'"):
            store.find_run(missing)


def test_find_run_lists_a_few_of_many_matches(store: Store) -> None:
    for i in range(8):
        store.create_run(a_run(f"r-{i}", created_at=T0 + i), [])
    with pytest.raises(StoreError) as error:
        store.find_run("r-")
    assert str(error.value) == "'r-' matches 8 runs: r-7, r-6, r-5, r-4, r-3, ..."


def test_list_runs_newest_first_with_filters(store: Store) -> None:
    assert store.list_runs() == [] and store.latest_run() is None
    for i in range(30):
        state = RunState.FAILED if i % 3 == 0 else RunState.COMPLETED
        store.create_run(
            dataclasses.replace(a_run(f"r-{i:02}", T0 + i), state=state, playbook=f"p{i % 2}"), []
        )
    assert [r.id for r in store.list_runs()] == [f"r-{i:02}" for i in range(29, 9, -1)]
    assert len(store.list_runs(limit=100)) == 30
    assert store.latest_run().id == "r-29"  # type: ignore[union-attr]
    failed = store.list_runs(state="FAILED", limit=100)
    assert [r.id for r in failed] == [f"r-{i:02}" for i in range(27, -1, -3)]
    assert store.list_runs(state=RunState.FAILED, limit=100) == failed
    assert {r.playbook for r in store.list_runs(playbook="p1", limit=100)} == {"p1"}
    window = store.list_runs(since=T0 + 10, until=T0 + 13)  # since <= created_at < until
    assert [r.id for r in window] == ["r-12", "r-11", "r-10"]
    both = store.list_runs(state="FAILED", playbook="p0", since=T0 + 1, limit=2)
    assert [r.id for r in both] == ["r-24", "r-18"]
    assert store.list_runs(state="BOGUS") == []


def test_attempts_and_step_transitions(store: Store) -> None:
    store.create_run(a_run(), [a_step("a", 0), a_step("b", 1)])
    ref = {"cluster": "l-1", "step": "a#1"}
    first = AttemptRecord(
        "r-1", "a", 1, StepState.RUNNING, started_at=T0, fabric_ref=ref, log_location="/logs/a/1"
    )
    store.start_attempt(first)
    step = store.get_steps("r-1")[0]
    assert (step.state, step.attempts, step.started_at, step.fabric_ref) == (
        StepState.RUNNING,
        1,
        T0,
        ref,
    )
    # A retry follows: only the attempt closes.
    store.finish_attempt(
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
    assert store.get_steps("r-1")[0] == step
    store.start_attempt(AttemptRecord("r-1", "a", 2, StepState.RUNNING, started_at=T0 + 2))
    store.finish_attempt("r-1", "a", 2, StepState.COMPLETED, at=T0 + 3, exit_code=0)
    step = store.get_steps("r-1")[0]
    assert step == dataclasses.replace(
        a_step("a", 0),
        state=StepState.COMPLETED,
        attempts=2,
        started_at=T0,  # the first start
        ended_at=T0 + 3,
        exit_code=0,
    )
    store.start_attempt(AttemptRecord("r-1", "b", 1, StepState.PENDING))
    store.update_attempt("r-1", "b", 1, state=StepState.RUNNING, started_at=T0 + 4)
    store.update_step("r-1", "b", state=StepState.RUNNING)
    store.finish_attempt("r-1", "b", 1, StepState.CANCELLED, at=T0 + 5, reason="cancelled")

    attempts = store.get_attempts("r-1")
    assert [(a.step_id, a.attempt, a.state) for a in attempts] == [
        ("a", 1, StepState.FAILED),
        ("a", 2, StepState.COMPLETED),
        ("b", 1, StepState.CANCELLED),
    ]
    assert attempts[0] == dataclasses.replace(
        first, state=StepState.FAILED, ended_at=T0 + 1, exit_code=3, reason="exit 3", cause="boom"
    )
    assert store.get_attempts("r-1", "b") == attempts[2:]
    assert attempts[2].started_at == T0 + 4
    assert store.get_steps("r-1")[1].reason == "cancelled"
    assert store.get_attempts("r-1", "zzz") == [] and store.get_attempts("r-2") == []


def test_attempt_transitions_are_all_or_nothing(store: Store) -> None:
    store.create_run(a_run(), [a_step("a", 0)])
    with pytest.raises(StoreError, match="no step 'x' of run 'r-1'"):
        store.start_attempt(AttemptRecord("r-1", "x", 1, StepState.RUNNING))
    store.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING, started_at=T0))
    with pytest.raises(StoreError):  # the same attempt twice: nothing changes
        store.start_attempt(AttemptRecord("r-1", "a", 1, StepState.PENDING, started_at=T0 + 1))
    assert store.get_steps("r-1")[0].state is StepState.RUNNING
    with pytest.raises(StoreError, match="no attempt 2 of step 'a' of run 'r-1'"):
        store.finish_attempt("r-1", "a", 2, StepState.FAILED, at=T0 + 2)
    assert store.get_steps("r-1")[0].state is StepState.RUNNING  # the step was not touched
    assert [a.attempt for a in store.get_attempts("r-1")] == [1]


def test_clusters(store: Store) -> None:
    assert store.get_cluster("l-1") is None and store.list_clusters() == []
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
    store.upsert_cluster(full)
    assert store.get_cluster("j-1") == full
    replaced = a_cluster("j-1", T0 + 5, pid=77, endpoint="/c/l-1")
    store.upsert_cluster(replaced)  # every field replaced, not merged
    assert store.get_cluster("j-1") == replaced
    store.update_cluster(
        "j-1",
        state="TERMINATED_WITH_ERRORS",
        reason="bootstrap failed",
        ended_at=T0 + 9,
        config_doc={},
    )
    got = store.get_cluster("j-1")
    assert got is not None and got.state is ClusterState.TERMINATED_WITH_ERRORS
    assert (got.reason, got.ended_at, got.pid) == ("bootstrap failed", T0 + 9, 77)

    for i, state in enumerate(
        [ClusterState.RUNNING, ClusterState.TERMINATED, ClusterState.WAITING, ClusterState.STARTING]
    ):
        fabric = "emr" if i % 2 else "local"
        store.upsert_cluster(
            dataclasses.replace(a_cluster(f"l-{i}", T0 + 10 + i), state=state, fabric=fabric)
        )
    ids = [c.id for c in store.list_clusters()]
    assert ids == ["l-3", "l-2", "l-1", "l-0", "j-1"]
    assert [c.id for c in store.list_clusters(active=True)] == ["l-3", "l-2", "l-0"]
    assert [c.id for c in store.list_clusters(active=False)] == ["l-1", "j-1"]
    assert [c.id for c in store.list_clusters(fabric="emr")] == ["l-3", "l-1"]
    assert [c.id for c in store.list_clusters(fabric="local", active=True, limit=1)] == ["l-2"]


def test_unknown_fields_are_programming_errors(store: Store) -> None:
    store.create_run(a_run(), [a_step("a", 0)])
    store.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING))
    store.upsert_cluster(a_cluster("l-1"))
    with pytest.raises(TypeError, match=r"^RunRecord has no updatable field colour$"):
        store.update_run("r-1", state=RunState.FAILED, colour="red")
    with pytest.raises(TypeError, match=r"no updatable field id$"):
        store.update_run("r-1", id="r-2")
    with pytest.raises(TypeError):  # Python itself refuses it
        store.update_step("r-1", "a", step_id="b")
    with pytest.raises(TypeError, match=r"no updatable field log$"):
        store.update_attempt("r-1", "a", 1, log="x")
    with pytest.raises(TypeError):
        store.update_attempt("r-1", "a", 1, attempt=2)
    with pytest.raises(TypeError, match=r"no updatable field status$"):
        store.update_cluster("l-1", status="RUNNING")
    with pytest.raises(TypeError):
        store.update_run("r-1")
    with pytest.raises(ValueError, match="BOGUS"):
        store.update_run("r-1", state="BOGUS")  # never stored, so never unreadable
    assert store.get_run("r-1") == a_run()


def test_updating_a_missing_row_is_a_store_error(store: Store) -> None:
    store.create_run(a_run(), [a_step("a", 0)])
    cases = [
        (lambda: store.update_run("r-9", state=RunState.FAILED), "no run 'r-9'"),
        (lambda: store.heartbeat("r-9", T0), "no run 'r-9'"),
        (lambda: store.update_step("r-1", "z", reason="x"), "no step 'z' of run 'r-1'"),
        (lambda: store.update_attempt("r-1", "a", 1, reason="x"), "no attempt 1 of step 'a'"),
        (lambda: store.update_cluster("l-9", pid=1), "no cluster 'l-9'"),
    ]
    for call, message in cases:
        with pytest.raises(StoreError, match=message) as error:
            call()
        assert store.url_for_display in str(error.value)


def test_the_password_never_shows(pg_store: Store, postgres_server: PostgresServer) -> None:
    assert PG_PASSWORD not in pg_store.url_for_display
    assert "postgres:***@127.0.0.1" in pg_store.url_for_display
    pg_store.create_run(a_run(), [])
    with pytest.raises(StoreError) as error:
        pg_store.create_run(a_run(), [])
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


def test_a_batch_is_one_transaction_committed_at_its_end(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_run(a_run(), [a_step("a", 0), a_step("b", 1)])
    store.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING, started_at=T0))
    opened = count_transactions(store, monkeypatch)
    with store.batch():
        store.finish_attempt("r-1", "a", 1, StepState.COMPLETED, at=T0 + 1, exit_code=0)
        with store.batch():  # nested: the same batch
            store.start_attempt(AttemptRecord("r-1", "b", 1, StepState.RUNNING, started_at=T0 + 1))
        assert opened == []
        # Not written yet: a read in the block sees the state before it.
        assert [s.state for s in store.get_steps("r-1")] == [StepState.RUNNING, StepState.PENDING]
    assert opened == [1]
    assert [s.state for s in store.get_steps("r-1")] == [StepState.COMPLETED, StepState.RUNNING]
    with store.batch():
        pass  # nothing written: no transaction
    assert opened == [1]


def test_a_batch_keeps_what_was_written_when_its_block_raises(store: Store) -> None:
    store.create_run(a_run(), [a_step("a", 0)])

    def interrupted() -> None:
        with store.batch():
            store.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING, started_at=T0))
            raise KeyboardInterrupt  # the write records a step that did start

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert store.get_steps("r-1")[0].state is StepState.RUNNING
    assert [a.attempt for a in store.get_attempts("r-1")] == [1]


def test_a_write_of_a_batch_that_cannot_be_made_costs_only_itself(store: Store) -> None:
    store.create_run(a_run(), [a_step("a", 0), a_step("b", 1)])

    def three_starts() -> None:
        with store.batch():
            for step_id in ("a", "x", "b"):  # no step x
                store.start_attempt(
                    AttemptRecord("r-1", step_id, 1, StepState.RUNNING, started_at=T0)
                )

    with pytest.raises(StoreError, match="no step 'x' of run 'r-1'"):
        three_starts()
    # The two good writes were made (each on its own once the whole failed).
    assert [s.state for s in store.get_steps("r-1")] == [StepState.RUNNING, StepState.RUNNING]
    assert [a.step_id for a in store.get_attempts("r-1")] == ["a", "b"]


def test_another_threads_writes_are_not_held_by_a_batch(store: Store) -> None:
    import threading

    store.create_run(a_run(), [a_step("a", 0), a_step("b", 1)])
    with store.batch():
        store.update_step("r-1", "a", state=StepState.RUNNING)
        other = threading.Thread(
            target=lambda: store.update_step("r-1", "b", state=StepState.CANCELLED)
        )
        other.start()
        other.join()
        # The other thread's write is in; this thread's is still held.
        assert [s.state for s in store.get_steps("r-1")] == [
            StepState.PENDING,
            StepState.CANCELLED,
        ]
    assert [s.state for s in store.get_steps("r-1")] == [StepState.RUNNING, StepState.CANCELLED]
