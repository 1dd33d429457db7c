"""Jobs as Genie has them: "command args + cluster criteria", each a one-step run
routed to a cluster of the registry (``server/genie/`` is their API).

:func:`submit` records the job under the client's own id first (a second submit
of the id finds it: ``JobExists``), then finds its command
(``engine/commands.py``) and routes it (``engine/clusters.route``, Genie's rules):

* a cluster takes it: its attachments are put in the job's directory, and a run
  of one step (the command's kind, the job's arguments) attached to that cluster
  is queued like any server run (``RunQueue.enqueue``);
* none does, but a pool would (``clusters.pool_would_take``): the job waits,
  ACCEPTED, for the pool's cluster (``waiting`` / ``place``);
* none does and no pool would: the job is recorded FAILED with the criteria in
  its message (``NoMatch``; Genie answers 412).

A job's status is Genie's word for its run's state (:func:`status`).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataflow_runner import routing
from dataflow_runner.config.redact import redact
from dataflow_runner.engine import clusters, commands
from dataflow_runner.engine.payload import Documents, Submission
from dataflow_runner.errors import DataflowRunnerError, FlagError
from dataflow_runner.store.records import GenieJobRecord, RunRecord, RunState, StepRecord

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.queue import RunQueue

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,254}$")
_FILE = re.compile(r"^[A-Za-z0-9._-][A-Za-z0-9 ._-]{0,254}$")
#: Statuses of a job that will change no more.
FINISHED = ("SUCCEEDED", "FAILED", "KILLED", "INVALID")
PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


class JobExists(DataflowRunnerError):
    """A job with that id was submitted already."""


class NoMatch(DataflowRunnerError):
    """No command or cluster can take the job (it was recorded FAILED)."""


class JobNotFound(DataflowRunnerError):
    """No job with that id."""


@dataclass(frozen=True)
class JobRequest:
    """What a Genie client sends (the fields this server uses)."""

    command_args: str | Sequence[str]
    cluster_criteria: Sequence[Sequence[str]]
    command_criteria: Sequence[str]
    id: str | None = None
    name: str = ""
    user: str = ""
    version: str = ""
    #: The request as sent, for ``/request`` (masked before it is stored).
    document: Mapping[str, Any] = field(default_factory=dict)


def check(request: JobRequest) -> None:
    if request.id is not None and not _ID.match(request.id):
        raise FlagError(
            f"id: '{request.id[:80]}' is not a job id (letters, digits, '.', '_', ':', '-')"
        )
    if not request.cluster_criteria:
        raise FlagError("clusterCriterias: a job needs at least one set of cluster tags")
    if not request.command_criteria:
        raise FlagError("commandCriteria: a job needs the tags of its command")


def job_dir(engine: Engine, job_id: str) -> Path:
    """Where a job's attachments are put (the step's ``GENIE_JOB_DIR``)."""
    return engine.state_dir / "genie" / "jobs" / job_id


def submit(
    engine: Engine,
    queue: RunQueue,
    request: JobRequest,
    *,
    by: str,
    rng: routing.Chooser,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> GenieJobRecord:
    """See the module's docstring."""
    check(request)
    for name, _data in attachments:
        if not _FILE.match(name) or name in (".", ".."):
            raise FlagError(f"attachment: '{name[:80]}' is not a plain file name")
    job_id = request.id or str(uuid.uuid4())
    job = GenieJobRecord(
        id=job_id,
        created_at=time.time(),
        name=request.name,
        genie_user=request.user,
        version=request.version,
        request=redact(dict(request.document)),
        status="ACCEPTED",
        submitted_by=by,
    )
    if not engine.writer.create_genie_job(job):
        raise JobExists(f"a job with id '{job_id}' exists already")
    criteria = [list(c) for c in request.cluster_criteria]
    command = commands.matching(engine, request.command_criteria)
    if command is None:
        wanted = routing.describe([request.command_criteria])
        _fail(engine, job_id, f"no command matches the command criteria {wanted}")
    assert command is not None
    chosen = clusters.route(engine, criteria, rng)
    if chosen is None:
        if clusters.pool_would_take(engine, criteria):
            message = f"waiting for a pool's cluster matching {routing.describe(criteria)}"
            engine.writer.update_genie_job(job_id, command=command.name, message=message)
            return _found(engine, job_id)
        _fail(
            engine,
            job_id,
            f"no UP cluster matches the cluster criteria {routing.describe(criteria)}",
        )
    assert chosen is not None
    try:
        return _start(engine, queue, job_id, request, command.name, chosen.id, attachments, by)
    except DataflowRunnerError as exc:
        _fail(engine, job_id, "; ".join(exc.lines()), raise_=False)
        raise


def place(engine: Engine, queue: RunQueue, job_id: str, cluster_id: str) -> GenieJobRecord:
    """Start a job that waited for a pool's cluster on ``cluster_id`` (pools call it)."""
    job = get(engine, job_id)
    request = JobRequest(
        command_args=job.request.get("commandArgs") or "",
        cluster_criteria=[[f"genie.id:{cluster_id}"]],
        command_criteria=[],
        id=job.id,
    )
    return _start(
        engine, queue, job.id, request, job.command or "", cluster_id, (), job.submitted_by
    )


def waiting(engine: Engine) -> list[GenieJobRecord]:
    """The jobs waiting for a pool's cluster (ACCEPTED, without a run)."""
    return [
        j for j in engine.store.reader.genie_jobs(limit=1000)
        if j.run_id is None and j.status == "ACCEPTED"
    ]  # fmt: skip


def _start(
    engine: Engine,
    queue: RunQueue,
    job_id: str,
    request: JobRequest,
    command_name: str,
    cluster_id: str,
    attachments: Sequence[tuple[str, bytes]],
    by: str,
) -> GenieJobRecord:
    command = commands.get(engine, command_name)
    env = {"GENIE_JOB_ID": job_id}
    if attachments or command.kind == "shell":
        where = job_dir(engine, job_id)
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, data in attachments:
            (where / name).write_bytes(data)
        env["GENIE_JOB_DIR"] = str(where)
    step = commands.step(command, request.command_args, env)
    playbook = {"schema": PLAYBOOK, "data": {"name": "genie-job", "steps": [step]}}
    run = queue.enqueue(Submission(Documents(playbook), submitted_by=by, cluster_id=cluster_id))
    engine.writer.update_genie_job(
        job_id,
        run_id=run.id,
        cluster_id=cluster_id,
        command=command.name,
        status=None,
        message="",
        workdir=env.get("GENIE_JOB_DIR", ""),
    )
    return _found(engine, job_id)


def _fail(engine: Engine, job_id: str, message: str, *, raise_: bool = True) -> None:
    engine.writer.update_genie_job(
        job_id, status="FAILED", message=message, finished_at=time.time()
    )
    if raise_:
        raise NoMatch(message)


def _found(engine: Engine, job_id: str) -> GenieJobRecord:
    found = engine.store.reader.genie_job(job_id)
    if found is None:
        raise JobNotFound(f"no job '{job_id}'")
    return found


def get(engine: Engine, job_id: str) -> GenieJobRecord:
    return _found(engine, job_id)


def status(job: GenieJobRecord, run: RunRecord | None, steps: Sequence[StepRecord]) -> str:
    """Genie's status of a job: its own (no run yet, or none ever), else its run's —
    QUEUED → ACCEPTED, started but its step not yet → INIT, RUNNING, COMPLETED →
    SUCCEEDED, FAILED, CANCELLED → KILLED. A run whose runner died (DEAD) is
    RUNNING: a server takes it over."""
    if run is None:
        return job.status or "ACCEPTED"
    state = run.state
    if state is RunState.QUEUED:
        return "ACCEPTED"
    if state is RunState.COMPLETED:
        return "SUCCEEDED"
    if state is RunState.FAILED:
        return "FAILED"
    if state is RunState.CANCELLED:
        return "KILLED"
    started = any(s.started_at is not None for s in steps)
    return "RUNNING" if started else "INIT"


def kill_waiting(engine: Engine, job_id: str) -> bool:
    """Kill a job that waits for a pool's cluster (it has no run); False if it has one."""
    job = get(engine, job_id)
    if job.run_id is not None or job.status != "ACCEPTED":
        return False
    at = time.time()
    engine.writer.update_genie_job(job_id, status="KILLED", message="killed", finished_at=at)
    return True
