"""``resume RUN``: continue a run whose runner died (SIGKILL, a reboot).

From the store: COMPLETED, FAILED and CANCELLED steps keep their outcome. For
every attempt recorded as started and not ended, the fabric says whether it is
still with it (EMR: a step id to follow; it is followed, never submitted
again) or ended with its runner (a local process: anything left of it is
stopped; it counts as a failed attempt, "runner died", retried per its
policy). What the dead runner may have started without recording it (it died
between the fabric's answer and the commit) is looked for on the fabric: an
EMR step with the step's name created since the run started is adopted; a
local process carrying the run's and step's ids is stopped before the step
runs again. Nothing done is done again; nothing is submitted twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataflow_runner.config.limits import DEFAULT_MAX_SIZE
from dataflow_runner.config.loading import load_cluster, load_playbook
from dataflow_runner.engine.recorder import Recorder
from dataflow_runner.engine.run import Restore
from dataflow_runner.engine.scheduler import Scheduler
from dataflow_runner.errors import ConfigError, ConfigErrors, DataflowRunnerError, FlagError
from dataflow_runner.fabrics import registry
from dataflow_runner.fabrics.base import ClusterRef, Fabric, StepRef
from dataflow_runner.store.records import (
    AttemptRecord,
    RunKind,
    RunRecord,
    RunState,
    StepState,
)

if TYPE_CHECKING:
    from dataflow_runner.config.model import ClusterConfig, Playbook
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.store.reader import StoreReader
    from dataflow_runner.store.writer import StoreWriter

log = logging.getLogger("dataflow_runner")


@dataclass(frozen=True)
class Prepared:
    """What a resumed run needs: its files loaded again, its fabric, how to find
    its cluster and how to rebuild its tasks."""

    playbook: Playbook
    cluster: ClusterConfig | None
    fabric: Fabric
    concurrency: int
    find_cluster: Callable[[], ClusterRef]
    restore: Restore


def prepare(
    engine: Engine,
    run: RunRecord,
    variables: Mapping[str, str],
    poll_interval: float | None,
    max_size: int | None = None,
) -> Prepared:
    """Check that ``run`` can be resumed and load what it ran."""
    if run.state.finished:
        raise DataflowRunnerError(f"run {run.id} already ended: {run.state.value}")
    if run.state is not RunState.DEAD:
        raise DataflowRunnerError(
            f"run {run.id} is still {run.state.value} (its runner, pid {run.pid} on "
            f"{run.host}, is alive): resume is for a run whose runner died"
        )
    given = {**run.variables, **variables}
    hidden = sorted(k for k, v in given.items() if v == "***")
    if hidden:
        raise FlagError(
            "the run's variables "
            + ", ".join(hidden)
            + " are secret and were not stored: pass them again with --vars"
        )
    if not run.playbook_path:
        raise DataflowRunnerError(f"run {run.id} has no playbook file to resume from")
    book, config = _load(run, given, max_size or DEFAULT_MAX_SIZE)
    recorded = [s.step_id for s in engine.store.reader.steps(run.id)]
    if recorded != [s.id for s in book.steps]:
        raise DataflowRunnerError(
            f"the playbook {run.playbook_path} changed since run {run.id} started "
            f"(steps then: {', '.join(recorded)}): resume needs the same steps"
        )
    driver = registry.driver(run.fabric)
    hosted = run.kind is RunKind.ATTACHED and run.cluster_id
    if hosted and driver.host(run.cluster_id or "", engine.state_dir) is not None:
        raise DataflowRunnerError(
            f"run {run.id} ran on cluster {run.cluster_id}, whose host runs it"
        )
    fabric = driver.open(config, book, engine.options(poll_interval))
    writer = engine.store.writer

    def find_cluster() -> ClusterRef:
        name = config.name if config is not None else run.cluster_name
        found = fabric.find_cluster(run.cluster_id, name, run.id, run.created_at)
        if found is not None:
            return found
        if run.kind is not RunKind.TRANSIENT or config is None:
            raise DataflowRunnerError(f"run {run.id} has no cluster to resume on")
        # The dead runner launched nothing that is still there: launch an empty
        # cluster now; the resumed run adds the steps.
        launched = fabric.launch(config, run_id=run.id, keep_alive=True, transient=True)[0]
        writer.update_run(run.id, cluster_id=launched.id)
        return launched

    def restore(scheduler: Scheduler, recorder: Recorder, cluster: ClusterRef, now: float) -> None:
        rebuild(engine.store.reader, writer, run, book, fabric, cluster)(scheduler, recorder, now)

    return Prepared(book, config, fabric, driver.concurrency(config, book), find_cluster, restore)


def _load(
    run: RunRecord, variables: Mapping[str, str], max_size: int
) -> tuple[Playbook, ClusterConfig | None]:
    """The run's playbook and cluster config, from the files it ran, every problem
    reported at once."""
    errors: list[ConfigError] = []
    book: Playbook | None = None
    config: ClusterConfig | None = None
    try:
        book = load_playbook(run.playbook_path, variables, max_size=max_size)
    except ConfigErrors as exc:
        errors.extend(exc.errors)
    except ConfigError as exc:
        errors.append(exc)
    if run.cluster_config_path:
        try:
            config = load_cluster(run.cluster_config_path, variables, max_size=max_size)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    assert book is not None
    return book, config


def rebuild(
    reader: StoreReader,
    writer: StoreWriter,
    run: RunRecord,
    book: Playbook,
    fabric: Fabric,
    cluster: ClusterRef,
) -> Callable[[Scheduler, Recorder, float], None]:
    """How to rebuild the run's tasks on ``cluster`` (see the module's docstring)."""
    steps = {s.step_id: s for s in reader.steps(run.id)}
    last: dict[str, AttemptRecord] = {}
    for record_ in reader.attempts(run.id):
        last[record_.step_id] = record_
    finished: dict[str, tuple[StepState, int]] = {}
    attached: list[StepRef] = []
    died: dict[str, int] = {}
    tried: dict[str, int] = {}
    unsent: list[str] = []
    for step in book.steps:
        record = steps[step.id]
        if record.state.finished:
            finished[step.id] = (record.state, record.attempts)
            continue
        attempt = last.get(step.id)
        if attempt is None:
            unsent.append(step.id)
        elif attempt.state.finished:
            tried[step.id] = attempt.attempt  # between attempts: the next one comes
        else:
            stored = StepRef.from_json(run.id, step.id, attempt.fabric_ref)
            followed = fabric.reattach(cluster, stored)
            if followed is not None:
                attached.append(followed)
            else:
                died[step.id] = attempt.attempt
    unfinished = [s.id for s in book.steps if s.id not in finished]
    followed_ids = {r.step_id for r in attached}
    stopped = fabric.stop_unrecorded(
        cluster, run.id, [s for s in unfinished if s not in followed_ids]
    )
    for step_id in sorted(set(stopped) - died.keys()):
        log.warning(
            "Step '%s' had a process the store did not record (its runner died "
            "as it started it): stopped it",
            step_id,
        )
    adopted = _reconcile(reader, writer, run, book, fabric, cluster, unsent, attached)

    def restore(scheduler: Scheduler, recorder: Recorder, now: float) -> None:
        for ref in [*attached, *adopted]:
            recorder.attach(run.id, ref.step_id)
        for step_id in died:
            recorder.attach(run.id, step_id)
        scheduler.restore(
            run.id,
            book.steps,
            now,
            finished=finished,
            attached=[*attached, *adopted],
            died=died,
            tried=tried,
        )
        log.info(
            "Resuming run %s: %d steps done, %d re-attached, %d died with the runner, %d to run",
            run.id,
            len(finished),
            len(attached) + len(adopted),
            len(died),
            len(book.steps) - len(finished) - len(attached) - len(adopted) - len(died),
        )

    return restore


def _reconcile(
    reader: StoreReader,
    writer: StoreWriter,
    run: RunRecord,
    book: Playbook,
    fabric: Fabric,
    cluster: ClusterRef,
    unsent: list[str],
    attached: list[StepRef],
) -> list[StepRef]:
    """Steps the dead runner submitted but did not record, found on the cluster by
    name (steps a fabric keeps after their runner: EMR's)."""
    if not unsent:
        return []
    claimed = {ref.fabric_id for ref in attached}
    for attempt in reader.attempts(run.id):
        claimed.add(str(attempt.fabric_ref.get("fabric_id", "")))
    on_cluster = [
        s
        for s in fabric.list_steps(cluster, (run.started_at or run.created_at) - 60)
        if s.id not in claimed
    ]
    names = {s.id: s.name for s in book.steps}
    adopted: list[StepRef] = []
    for step_id in unsent:
        match = next((s for s in on_cluster if s.name == names[step_id]), None)
        if match is None:
            continue
        on_cluster.remove(match)
        ref = StepRef(run.id, step_id, 1, fabric_id=match.id, data={"cluster": cluster.id})
        writer.start_attempt(
            AttemptRecord(
                run.id,
                step_id,
                1,
                StepState.PENDING,
                started_at=time.time(),
                fabric_ref=ref.to_json(),
            )
        )
        log.warning(
            "Step '%s' was submitted as %s before the runner died: re-attached",
            step_id,
            match.id,
        )
        adopted.append(ref)
    return adopted
