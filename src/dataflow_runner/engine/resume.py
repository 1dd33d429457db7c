"""``resume RUN``: continue a run whose runner died (SIGKILL, a reboot), running
each step exactly once.

From the store: COMPLETED, FAILED and CANCELLED steps keep their outcome. For
every attempt recorded as started and not ended, the fabric says what became of
it while the runner was dead (``Fabric.reattach``):

* it still runs: it is followed to its end (an EMR step by its id; a local
  process, whose parent is the run's supervisor, by its pid and the journal);
* it ended: its real outcome (exit code, times) is recorded, and it is not run
  again (a failure is retried per the step's policy, as any failure);
* it never started: the recorded attempt is closed as such and the step runs;
* it started and how it ended cannot be known (its supervisor died too): it
  counts as a failed attempt, retried per the step's policy.

An attempt the dead runner started without recording it (it died between the
fabric's answer and the commit) is found on the fabric (``Fabric.unrecorded``:
an EMR step with the step's name created since the run started, a local one in
the run's journal), recorded and followed. Nothing is submitted twice.

Two ``resume`` of one run: one takes the run over (``StoreWriter.claim_run``),
the other is told who did and exits 1.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataflow_runner.config.limits import DEFAULT_MAX_SIZE
from dataflow_runner.config.loading import load_cluster
from dataflow_runner.config.redact import MASK
from dataflow_runner.data.plan import waits_of
from dataflow_runner.engine.recorder import Recorder
from dataflow_runner.engine.request import LockSpec
from dataflow_runner.engine.run import Restore
from dataflow_runner.engine.scheduler import Scheduler
from dataflow_runner.errors import ConfigError, ConfigErrors, DataflowRunnerError, FlagError
from dataflow_runner.fabrics import registry
from dataflow_runner.fabrics.base import ClusterRef, Fabric, Recovered, StepRef
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
    from dataflow_runner.engine.payload import Documents
    from dataflow_runner.store.reader import StoreReader
    from dataflow_runner.store.writer import StoreWriter

log = logging.getLogger("dataflow_runner")

#: The reason an attempt recorded as started, but never started, is closed with.
NEVER_STARTED = "never started: its runner died first"


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
    documents: Documents | None = None,
) -> Prepared:
    """Check that ``run`` can be resumed and load what it ran (from ``documents``
    for a server's run: a QUEUED one is a retry its worker claimed)."""
    if run.state.finished:
        raise DataflowRunnerError(f"run {run.id} already ended: {run.state.value}")
    resumer = run.options.get("resumed_by")
    if run.state is RunState.RUNNING and resumer == f"{run.pid} on {run.host}":
        raise DataflowRunnerError(f"run {run.id} is being resumed by {resumer}")
    if run.state is not RunState.DEAD and not (
        run.state is RunState.QUEUED and documents is not None
    ):
        raise DataflowRunnerError(
            f"run {run.id} is still {run.state.value} (its runner, pid {run.pid} on "
            f"{run.host}, is alive): resume is for a run whose runner died"
        )
    given = {**run.variables, **variables}
    # A secret variable is stored masked, and so is one holding a secret (a URL
    # with its password): resuming with the mask instead would be wrong.
    hidden = sorted(k for k, v in given.items() if MASK in str(v))
    if hidden:
        raise FlagError(
            "the run's variables "
            + ", ".join(hidden)
            + " are secret and were not stored: pass them again with --vars"
        )
    if documents is not None:
        given = {**documents.variables, **variables}
    elif not run.playbook_path:
        raise DataflowRunnerError(f"run {run.id} has no playbook file to resume from")
    book, config = _load(run, given, max_size or DEFAULT_MAX_SIZE, documents)
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
    writer = engine.writer

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
    run: RunRecord, variables: Mapping[str, str], max_size: int, documents: Documents | None
) -> tuple[Playbook, ClusterConfig | None]:
    """The run's playbook and cluster config, from the files it ran, every problem
    reported at once. A data-aware run's playbook is every step it had: each of its
    partitions' (rendered again), with the dependencies their data make."""
    errors: list[ConfigError] = []
    book: Playbook | None = None
    config: ClusterConfig | None = None
    try:
        book = _playbook(run, variables, max_size, documents)
    except ConfigErrors as exc:
        errors.extend(exc.errors)
    except ConfigError as exc:
        errors.append(exc)
    cluster_text = documents.cluster_text if documents is not None else None
    if run.cluster_config_path or cluster_text is not None:
        path = run.cluster_config_path or "cluster"
        try:
            config = load_cluster(path, variables, max_size=max_size, text=cluster_text)
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    assert book is not None
    return book, config


def _playbook(
    run: RunRecord, variables: Mapping[str, str], max_size: int, documents: Documents | None
) -> Playbook:
    import msgspec

    from dataflow_runner.config.source import PlaybookSource
    from dataflow_runner.engine import prepare

    if documents is not None:
        source = PlaybookSource(
            "playbook", variables, max_size=max_size, text=documents.playbook_text
        )
    else:
        source = PlaybookSource(run.playbook_path, variables, max_size=max_size)
    partitions = source.head().partitions
    if partitions is None:
        selection = prepare.Selection(source.load())
    else:
        from dataflow_runner.data.partitions import Spec

        spec = Spec.of(partitions)
        keys = [str(k) for k in run.options.get("partitions") or ()]
        if not keys:
            raise DataflowRunnerError(f"run {run.id} did not record its partitions")
        chosen = [spec.containing(spec.parse(k)) for k in keys]
        selection = prepare.Selection(source.load(chosen[0]), spec, chosen, source.load)
    level = run.options.get("concurrency_set")
    if level is not None:
        selection.book = msgspec.structs.replace(selection.book, concurrency=int(level))
    return prepare.expanded(selection)


def _groups(book: Playbook) -> dict[str, str]:
    """The partition of each step of a run of several (its id's suffix)."""
    return {s.id: s.id.split("@", 1)[1] for s in book.steps if "@" in s.id}


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
    recorded = reader.attempts(run.id)
    last: dict[str, AttemptRecord] = {a.step_id: a for a in recorded}
    finished: dict[str, tuple[StepState, int]] = {}
    followed: list[StepRef] = []
    died: dict[str, int] = {}
    tried: dict[str, int] = {}
    candidates: dict[str, tuple[str, int]] = {}  # may have an attempt the store lacks
    now = time.time()
    for step in book.steps:
        record = steps[step.id]
        if record.state.finished:
            finished[step.id] = (record.state, record.attempts)
            continue
        attempt = last.get(step.id)
        if attempt is None:
            candidates[step.id] = (step.name, 1)
            continue
        if attempt.state.finished:
            tried[step.id] = attempt.attempt  # between attempts: the next one comes
            candidates[step.id] = (step.name, attempt.attempt + 1)
            continue
        stored = StepRef.from_json(run.id, step.id, attempt.fabric_ref)
        found = fabric.reattach(cluster, stored)
        if found.ref is not None:
            followed.append(found.ref)
            if found.how is Recovered.ENDED:
                log.warning(
                    "Step '%s' (attempt %d) ended while its runner was dead: recording how",
                    step.id,
                    attempt.attempt,
                )
            else:
                log.warning(
                    "Step '%s' (attempt %d) still runs: following it", step.id, attempt.attempt
                )
        elif found.how is Recovered.NEVER_STARTED:
            # Recorded, never started: it is not an attempt; the step runs now.
            writer.finish_attempt(
                run.id,
                step.id,
                attempt.attempt,
                StepState.CANCELLED,
                at=now,
                reason=NEVER_STARTED,
                final=False,
            )
            tried[step.id] = attempt.attempt
            log.warning("Step '%s' never started: it runs now", step.id)
        else:
            died[step.id] = attempt.attempt
            log.warning(
                "Step '%s' (attempt %d) started, but how it ended cannot be known: it counts "
                "as failed, and is retried per its policy",
                step.id,
                attempt.attempt,
            )
    known = {str(a.fabric_ref.get("fabric_id", "")) for a in recorded} | {
        r.fabric_id for r in followed
    }
    adopted = fabric.unrecorded(
        cluster,
        run.id,
        candidates,
        since=(run.started_at or run.created_at) - 60,
        known={k for k in known if k},
    )
    for ref in adopted:
        writer.start_attempt(
            AttemptRecord(
                run.id,
                ref.step_id,
                ref.attempt,
                StepState.RUNNING,
                started_at=now,
                fabric_ref=ref.to_json(),
                log_location=str(ref.data.get("logs", "")),
            )
        )
        tried.pop(ref.step_id, None)
        log.warning(
            "Step '%s' was started (attempt %d) before its runner died, which the store did "
            "not record: following it",
            ref.step_id,
            ref.attempt,
        )
    attached = [*followed, *adopted]
    attached_ids = {r.step_id for r in attached}

    def restore(scheduler: Scheduler, recorder: Recorder, now: float) -> None:
        for ref in attached:
            recorder.attach(run.id, ref.step_id)
        for step_id in died:
            recorder.attach(run.id, step_id)
        pending = [s.id for s in book.steps if s.id not in finished and s.id not in attached_ids]
        waits = waits_of(book.steps, [i for i in pending if i not in died])
        scheduler.restore(
            run.id,
            book.steps,
            now,
            finished=finished,
            attached=attached,
            died=died,
            tried=tried,
            held=list(waits),
            groups=_groups(book),
        )
        if waits:  # its sensors wait again, up to their timeouts from the run's start
            from dataflow_runner.data.sensors import Sensors

            started = run.started_at or run.created_at
            scheduler.watchers.append(Sensors(scheduler, run.id, waits, fabric.exists, started))
        log.info(
            "Resuming run %s: %d steps done, %d followed, %d lost with the runner, %d to run",
            run.id,
            len(finished),
            len(attached),
            len(died),
            len(book.steps) - len(finished) - len(attached) - len(died),
        )

    return restore


def recorded_lock(run: RunRecord, *, consul: str | None, backend: str | None) -> LockSpec | None:
    """The lock a run took, where it took it (``consul``/``backend`` given again
    win: the store holds their addresses with the passwords masked)."""
    name = run.options.get("lock")
    if not name:
        return None
    consul = consul or run.options.get("consul")
    backend = backend or run.options.get("lock_backend")
    for flag, address in (("--consul", consul), ("--lock-backend", backend)):
        if address and MASK in address:
            raise FlagError(
                f"run {run.id} took its lock at {address}, whose password was not "
                f"stored: give the address again with {flag}"
            )
    return LockSpec(
        str(name), soft=bool(run.options.get("soft_lock")), consul=consul, backend=backend
    )
