"""A request's playbook as its run executes it: the partitions it is for, every
partition's steps side by side, and (``data/plan.py``) which of them are already
complete, cannot run, or wait for their inputs.

A plain playbook (no partitions, no inputs or outputs) is run as it is, at no cost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataflow_runner.errors import FlagError

if TYPE_CHECKING:
    from dataflow_runner.config.model import Playbook
    from dataflow_runner.data.partitions import Partition, Spec
    from dataflow_runner.data.plan import Exists, Plan
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.request import RunRequest


@dataclass
class Selection:
    """The request's playbook (of its first partition, for a partitioned one) and
    the partitions it is for."""

    book: Playbook
    spec: Spec | None = None
    partitions: list[Partition] = field(default_factory=list)
    book_for: Callable[[Partition], Playbook] | None = None

    @property
    def data_aware(self) -> bool:
        return bool(self.partitions) or any(
            s.inputs or s.outputs or s.depends_on_past for s in self.book.steps
        )


def select(request: RunRequest, now: float) -> Selection:
    """Which partitions ``request`` is for, and its playbook (with the request's
    concurrency, if it sets one)."""
    found = _select(request, now)
    if request.concurrency is not None:
        import msgspec

        found.book = msgspec.structs.replace(found.book, concurrency=request.concurrency)
    return found


def _select(request: RunRequest, now: float) -> Selection:
    source = request.source
    head = source.head() if source is not None else None
    if source is None or head is None or head.partitions is None:
        if request.window is not None and request.window.given:
            raise FlagError(
                "--partition, --from, --to and --last need a partitioned playbook "
                "(one that declares partitions)"
            )
        if request.playbook is not None:
            return Selection(request.playbook)
        assert source is not None
        return Selection(source.load())
    from dataflow_runner.data.partitions import Spec, Window

    spec = Spec.of(head.partitions)
    window = request.window or Window()
    partitions = window.select(spec, dt.datetime.fromtimestamp(now, dt.UTC))
    books: dict[str, Playbook] = {}

    def book_for(partition: Partition) -> Playbook:
        if partition.key not in books:
            books[partition.key] = source.load(partition)
        return books[partition.key]

    return Selection(book_for(partitions[0]), spec, partitions, book_for)


def plan(selection: Selection, exists: Exists, request: RunRequest) -> Plan | None:
    """What the run does of each step (None: a plain run, every step runs)."""
    if not selection.data_aware:
        if request.force_steps:
            raise FlagError("--force-step needs steps with outputs (a data-aware playbook)")
        return None
    from dataflow_runner.data import plan as planning

    return planning.plan(
        selection.book,
        exists,
        spec=selection.spec,
        partitions=selection.partitions,
        book_for=selection.book_for,
        force=request.force,
        force_steps=request.force_steps,
    )


def expanded(selection: Selection) -> Playbook:
    """Every partition's steps, without looking at the data (a dry run's request)."""
    if not selection.data_aware:
        return selection.book
    import msgspec

    from dataflow_runner.data import plan as planning

    found = planning.expand(
        selection.book,
        spec=selection.spec,
        partitions=selection.partitions,
        book_for=selection.book_for,
    )
    return msgspec.structs.replace(selection.book, steps=tuple(found.steps))


def look(engine: Engine, request: RunRequest) -> Plan:
    """The plan a run of ``request`` would follow, made without running anything
    or recording anything (a backfill's dry run, the partitions grid)."""
    from dataflow_runner.data import plan as planning
    from dataflow_runner.fabrics import registry

    selection = select(request, engine.clock())
    if request.cluster_id is not None:
        driver = registry.driver(registry.for_cluster_id(request.cluster_id).name)
        fabric = driver.open(None, selection.book, engine.options(request.poll_interval))
    else:
        assert request.cluster is not None
        driver = registry.driver(request.fabric or request.cluster.fabric)
        fabric = driver.open(request.cluster, selection.book, engine.options(request.poll_interval))
    try:
        found = plan(selection, fabric.exists, request)
    finally:
        fabric.close()
    if found is None:  # nothing to look at: every step runs
        return planning.plan(selection.book, lambda _targets: {}, force=True)
    return found
