"""A row this version cannot read (a newer version wrote a state it does not know)
is one ``StoreError`` line naming the value, from every read that meets it: not a
ValueError from deep inside the reader."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from dataflow_runner.errors import StoreError
from dataflow_runner.store import RunFilter, Store, StoreReader
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

T0 = 1_763_800_000.0

Read = Callable[[StoreReader], Any]

RUN = "UPDATE runs SET {column} = :value WHERE id = 'r-1'"
STEP = "UPDATE steps SET state = :value WHERE step_id = 'a'"
ATTEMPT = "UPDATE attempts SET state = :value WHERE step_id = 'a'"
CLUSTER = "UPDATE clusters SET state = :value WHERE id = 'l-1'"

# (what, the write that a newer version made, the value, the reads that meet it);
# the message names the value (JSON that does not parse: its table).
CASES: list[tuple[str, str, str, list[Read]]] = [
    (
        "run-state",
        RUN.format(column="state"),
        "PAUSED",
        [
            lambda r: r.run("r-1"),
            lambda r: r.find_run("r-"),
            lambda r: r.runs(),
            lambda r: r.runs(RunFilter(playbook="nightly")),
            lambda r: r.latest_run(),
        ],
    ),
    (
        "run-kind",
        RUN.format(column="kind"),
        "scheduled",
        [lambda r: r.run("r-1"), lambda r: r.runs(RunFilter(state=RunState.COMPLETED))],
    ),
    ("step-state", STEP, "PAUSED", [lambda r: r.steps("r-1")]),
    ("attempt-state", ATTEMPT, "PREEMPTED", [lambda r: r.attempts("r-1", "a")]),
    (
        "cluster-state",
        CLUSTER,
        "HIBERNATING",
        [lambda r: r.cluster("l-1"), lambda r: r.clusters(), lambda r: r.clusters(active=True)],
    ),
    ("json", RUN.format(column="variables"), "{not json", [lambda r: r.run("r-1")]),
]


@pytest.mark.parametrize(("what", "sql", "value", "reads"), CASES, ids=[c[0] for c in CASES])
def test_an_unknown_value_is_one_store_error_line(
    store: Store, what: str, sql: str, value: str, reads: list[Read]
) -> None:
    run = RunRecord("r-1", RunKind.ATTACHED, "nightly", "local", RunState.COMPLETED, T0)
    step = StepRecord("r-1", "a", 0, "a", "shell", StepState.PENDING, "CANCEL_AND_WAIT")
    store.writer.create_run(run, [step])
    store.writer.start_attempt(AttemptRecord("r-1", "a", 1, StepState.RUNNING))
    store.writer.upsert_cluster(ClusterRecord("l-1", "local", "dev", ClusterState.RUNNING, T0))
    with store.backend.transaction() as tx:
        assert tx.execute(sql, {"value": value}) == 1
    for read in reads:
        with pytest.raises(StoreError) as error:
            read(store.reader)
        message = str(error.value)
        assert "\n" not in message, message
        assert (value if what != "json" else "runs row") in message, message
        assert "newer dataflow-runner" in message, message
