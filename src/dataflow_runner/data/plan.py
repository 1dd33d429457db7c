"""What a data-aware run must do: the playbook of every partition side by side, the
dependencies its data makes (also across partitions), and, from one round of
existence checks, which steps are complete (skipped), which run, which wait for
their inputs, and which cannot run.

A step is complete when every one of its outputs exists (a directory output when
it holds ``_SUCCESS``, unless the step says ``successMarker: false``), and none of
the steps it depends on has to run: after a rerun upstream, what is downstream
runs again. ``force`` runs everything; ``force_steps`` those steps and all that
depends on them. An input that no step of the run writes is external: when it is
missing, a step with ``waitForInputs`` waits for it (``sensors.py``) and any other
fails at once, naming it.

In a run of several partitions each step's id gets its partition's slug
(``join@2026-11-20T03``); a run of one partition keeps the playbook's ids.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import msgspec

from dataflow_runner import dag
from dataflow_runner.config import dataflow
from dataflow_runner.config.model import Playbook, Step
from dataflow_runner.data.partitions import Partition, Spec
from dataflow_runner.errors import ConfigErrors, FlagError
from dataflow_runner.fabrics.base import Target
from dataflow_runner.store.records import StepState

#: Checks that every target exists, in bulk: True, False, or None when it cannot be
#: known (an EMR cluster's own HDFS, seen from outside).
Exists = Callable[[Sequence[Target]], Mapping[str, bool | None]]


@dataclass(frozen=True)
class Wait:
    """A sensor: the step starts once ``inputs`` all exist."""

    inputs: tuple[Target, ...]
    timeout_seconds: float
    poke_seconds: float


@dataclass
class Plan:
    playbook: Playbook  # every step of every partition: unique ids, every dependency
    partitions: list[Partition]
    partition_of: dict[str, Partition | None] = field(default_factory=dict)
    base_of: dict[str, str] = field(default_factory=dict)  # run step id → playbook step id
    skipped: dict[str, str] = field(default_factory=dict)  # id → why
    failed: dict[str, str] = field(default_factory=dict)  # id → why it cannot run
    waiting: dict[str, Wait] = field(default_factory=dict)
    #: The steps whose outputs all exist (skipped, unless something upstream runs).
    complete: set[str] = field(default_factory=set)

    def cell(self, step_id: str) -> str:
        """The dry run's grid: ``done``, ``run``, ``wait`` (for a dependency that
        runs, or for inputs) or ``fail`` (it cannot run)."""
        if step_id in self.skipped:
            return "done"
        if step_id in self.failed:
            return "fail"
        if step_id in self.waiting:
            return "wait"
        step = self._steps[step_id]
        if any(up not in self.skipped for up in step.upstream):
            return "wait"
        return "run"

    @cached_property
    def _steps(self) -> dict[str, Step]:
        """The steps by id (built once: a backfill's grid asks for thousands)."""
        return {s.id: s for s in self.playbook.steps}

    @property
    def trivial(self) -> bool:
        """Nothing to skip, fail or wait for, no partitions: a plain run."""
        return not (self.skipped or self.failed or self.waiting or self.partitions)

    @property
    def settled(self) -> dict[str, tuple[StepState, str]]:
        """The steps final before the run starts."""
        out = {k: (StepState.SKIPPED, why) for k, why in self.skipped.items()}
        out.update({k: (StepState.FAILED, why) for k, why in self.failed.items()})
        return out

    def partition_key(self, step_id: str) -> str | None:
        """The step's partition as the store keeps it (UTC, sortable)."""
        partition = self.partition_of.get(step_id)
        return partition.utc if partition is not None else None

    @property
    def to_run(self) -> list[str]:
        return [s.id for s in self.playbook.steps if s.id not in self.skipped]


def targets(step: Step, paths: Sequence[str]) -> tuple[Target, ...]:
    return tuple(Target(dataflow.normalise(p), step.success_marker) for p in paths)


def externals(steps: Sequence[Step]) -> dict[str, tuple[Target, ...]]:
    """Each step's inputs that no step of the run writes."""
    producers = dataflow.Producers()
    for s in steps:
        for output in s.outputs:
            producers.add(output, s.id)
    return {
        s.id: tuple(t for t in targets(s, s.inputs) if producers.of(t.uri) is None) for s in steps
    }


def waits_of(steps: Sequence[Step], ids: Sequence[str]) -> dict[str, Wait]:
    """The sensors of the steps ``ids`` that wait for their external inputs (a
    resumed run checks them all again)."""
    external = externals(steps)
    out: dict[str, Wait] = {}
    for s in steps:
        w = s.wait_for_inputs
        if s.id in ids and w is not None and external[s.id]:
            out[s.id] = Wait(external[s.id], w.timeout_seconds, w.poke_seconds)
    return out


def run_id_of(step_id: str, partition: Partition | None, several: bool) -> str:
    return f"{step_id}@{partition.slug}" if several and partition is not None else step_id


@dataclass
class Expansion:
    """The steps of every partition side by side, with the dependencies their data
    makes; ``past``: the steps whose previous partition is outside the run (its
    outputs must exist)."""

    steps: list[Step]
    partitions: list[Partition]
    partition_of: dict[str, Partition | None]
    base_of: dict[str, str]
    past: dict[str, tuple[Partition, tuple[Target, ...]]]


def expand(
    book: Playbook,
    *,
    spec: Spec | None = None,
    partitions: Sequence[Partition] = (),
    book_for: Callable[[Partition], Playbook] | None = None,
) -> Expansion:
    """``book`` as one run's steps: as it is without partitions; with them, the
    playbook ``book_for`` gives each partition, their ids suffixed when several."""
    units: list[tuple[Partition | None, Playbook]] = (
        [(p, book_for(p)) for p in partitions] if partitions and book_for else [(None, book)]
    )
    several = len(units) > 1
    steps: list[Step] = []
    partition_of: dict[str, Partition | None] = {}
    base_of: dict[str, str] = {}
    for partition, unit in units:
        rename = {s.id: run_id_of(s.id, partition, several) for s in unit.steps}
        for s in unit.steps:
            new_id = rename[s.id]
            steps.append(
                msgspec.structs.replace(
                    s,
                    id=new_id,
                    name=f"{s.name} [{partition.slug}]" if several and partition else s.name,
                    # The file's own dependencies, inferred ones included, stay in
                    # their partition; the data's are worked out again below.
                    depends_on=tuple(rename[u] for u in s.depends_on),
                    after=tuple(rename[u] for u in s.after),
                )
            )
            partition_of[new_id] = partition
            base_of[new_id] = s.id
    in_run = {p.key for p, _ in units if p is not None}
    steps, past = _past(steps, partition_of, base_of, spec, in_run, book_for)
    steps, errors = dataflow.infer(steps)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return Expansion(steps, [p for p, _ in units if p is not None], partition_of, base_of, past)


def plan(
    book: Playbook,
    exists: Exists,
    *,
    spec: Spec | None = None,
    partitions: Sequence[Partition] = (),
    book_for: Callable[[Partition], Playbook] | None = None,
    force: bool = False,
    force_steps: Sequence[str] = (),
) -> Plan:
    """See the module's docstring. ``book`` is the playbook of a run without
    partitions; with ``partitions``, ``book_for`` gives each one's."""
    unknown = sorted(set(force_steps) - {s.id for s in book.steps})
    if unknown:
        raise FlagError(
            f"--force-step {unknown[0]}: the playbook has no such step "
            f"(its steps: {', '.join(s.id for s in book.steps)})"
        )
    expansion = expand(book, spec=spec, partitions=partitions, book_for=book_for)
    steps, past, base_of = expansion.steps, expansion.past, expansion.base_of
    by_id = {s.id: s for s in steps}
    external = externals(steps)
    # One round of existence checks: every output, every external input, and the
    # outputs of the previous partitions some steps need.
    wanted: dict[str, Target] = {}
    for s in steps:
        for target in (*targets(s, s.outputs), *external[s.id]):
            wanted.setdefault(target.uri, target)
    for _previous, before in past.values():
        for target in before:
            wanted.setdefault(target.uri, target)
    found = exists(list(wanted.values())) if wanted else {}
    result = Plan(
        msgspec.structs.replace(book, steps=tuple(steps)),
        expansion.partitions,
        expansion.partition_of,
        base_of,
    )
    forced = set(force_steps)
    must_run: dict[str, bool] = {}
    for step_id in dag.topological_order({s.id: s.upstream for s in steps}):
        s = by_id[step_id]
        outputs = targets(s, s.outputs)
        complete = bool(outputs) and all(found.get(t.uri) is True for t in outputs)
        if complete:
            result.complete.add(step_id)
        runs = (
            force
            or base_of[step_id] in forced
            or not complete
            or any(must_run.get(up, False) for up in s.upstream)
        )
        must_run[step_id] = runs
        if not runs:
            shown = ", ".join(t.uri for t in outputs[:3]) + (", ..." if len(outputs) > 3 else "")
            result.skipped[step_id] = f"outputs exist ({shown})"
            continue
        if step_id in past:
            previous, needed = past[step_id]
            if not all(found.get(t.uri) is not False for t in needed):
                result.failed[step_id] = (
                    f"the previous partition ({previous.slug}) of step '{base_of[step_id]}' "
                    "is not complete"
                )
                continue
        missing = tuple(t for t in external[step_id] if found.get(t.uri) is False)
        if not missing:
            continue
        if s.wait_for_inputs is not None:
            result.waiting[step_id] = Wait(
                missing, s.wait_for_inputs.timeout_seconds, s.wait_for_inputs.poke_seconds
            )
        else:
            result.failed[step_id] = f"input {missing[0].uri} does not exist"
    return result


def _past(
    steps: list[Step],
    partition_of: Mapping[str, Partition | None],
    base_of: Mapping[str, str],
    spec: Spec | None,
    in_run: set[str],
    book_for: Callable[[Partition], Playbook] | None,
) -> tuple[list[Step], dict[str, tuple[Partition, tuple[Target, ...]]]]:
    """``dependsOnPast``: the same step of the previous partition first — in the run,
    a dependency; before the run, its outputs must exist (returned, to check)."""
    out: list[Step] = []
    outside: dict[str, tuple[Partition, tuple[Target, ...]]] = {}
    books: dict[str, Playbook] = {}
    ids: dict[tuple[str, str], Step] = {}
    for s in steps:
        owner = partition_of[s.id]
        if owner is not None:
            ids[(base_of[s.id], owner.key)] = s
    for s in steps:
        partition = partition_of[s.id]
        if not s.depends_on_past or spec is None or partition is None:
            out.append(s)
            continue
        previous = spec.previous(partition)
        if previous is None:  # the first partition has no past
            out.append(s)
            continue
        before = ids.get((base_of[s.id], previous.key))
        if before is not None:
            out.append(msgspec.structs.replace(s, depends_on=(*s.depends_on, before.id)))
            continue
        out.append(s)
        if previous.key not in in_run and book_for is not None:
            if previous.key not in books:
                books[previous.key] = book_for(previous)
            before_step = books[previous.key].step(base_of[s.id])
            outside[s.id] = (previous, targets(before_step, before_step.outputs))
    return out, outside
