"""The grid an owner reads a pipeline's state from: one row per partition, one
column per step of the playbook.

Two grids share the shape: a backfill's dry run (each cell ``done``, ``run``,
``wait`` for a dependency or an input, or ``fail``: it cannot run) and the
``partitions`` command's (each cell ``done``, ``missing``, ``failed`` last time,
or ``running`` now).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dataflow_runner.data.partitions import Partition
from dataflow_runner.data.plan import Plan, run_id_of
from dataflow_runner.store.records import RunState, StepRecord, StepState

DRY_RUN_CELLS = ("done", "run", "wait", "fail")
STATE_CELLS = ("done", "missing", "failed", "running")


@dataclass(frozen=True)
class Row:
    partition: str  # the partition's start (RFC 3339), "" for a playbook without partitions
    cells: tuple[str, ...]  # in the order of the grid's steps


@dataclass(frozen=True)
class Grid:
    steps: tuple[str, ...]
    rows: tuple[Row, ...]
    kinds: tuple[str, ...]  # the cells' possible values, in the order totals are shown

    def totals(self) -> dict[str, int]:
        counted = Counter(cell for row in self.rows for cell in row.cells)
        return {kind: counted.get(kind, 0) for kind in self.kinds}

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "partitions": [
                {"partition": row.partition, "steps": dict(zip(self.steps, row.cells, strict=True))}
                for row in self.rows
            ],
            "totals": self.totals(),
        }


def _grid(plan: Plan, cell: Callable[[str, str], str], kinds: tuple[str, ...]) -> Grid:
    base_steps = tuple(dict.fromkeys(plan.base_of.values()))
    several = len(plan.partitions) > 1
    partitions: list[Partition | None] = [*sorted(plan.partitions, key=lambda p: p.start)]
    if not partitions:
        partitions = [None]
    rows = []
    for partition in partitions:
        key = partition.key if partition is not None else ""
        ids = [run_id_of(step, partition, several) for step in base_steps]
        rows.append(Row(key, tuple(cell(i, key) for i in ids)))
    return Grid(base_steps, tuple(rows), kinds)


def dry_run(plan: Plan) -> Grid:
    """What a run of ``plan`` would do of each step."""
    return _grid(plan, lambda step_id, _key: plan.cell(step_id), DRY_RUN_CELLS)


def state(plan: Plan, history: Iterable[tuple[StepRecord, RunState]]) -> Grid:
    """What the data (``plan``) and the store say of each step: done when its
    outputs exist; else running when a live run runs it, failed
    when its last run failed it, missing otherwise. ``history``: the steps recorded
    for these partitions, most recent run first, with their run's state."""
    last: dict[tuple[str, str], tuple[StepRecord, RunState]] = {}
    for record, run_state in history:
        key = (record.step_id.split("@", 1)[0], record.partition or "")
        last.setdefault(key, (record, run_state))

    def cell(step_id: str, _partition: str) -> str:
        if step_id in plan.complete:
            return "done"
        base = plan.base_of[step_id]
        found = last.get((base, plan.partition_key(step_id) or ""))
        if found is None:
            return "missing"
        record, run_state = found
        if run_state is RunState.RUNNING and not record.state.finished:
            return "running"
        if record.state in (StepState.FAILED, StepState.CANCELLED):
            return "failed"
        return "missing"

    return _grid(plan, cell, STATE_CELLS)
