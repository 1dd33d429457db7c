"""``/api/v1/runs``: submit a run (QUEUED, then started by a worker), list and show
runs with their steps, cancel, retry."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from dataflow_runner.engine import saved as saved_playbooks
from dataflow_runner.engine.payload import Documents, Submission
from dataflow_runner.errors import FlagError, StoreError
from dataflow_runner.server import render
from dataflow_runner.server.auth import Submitter, Viewer, may_change
from dataflow_runner.server.errors import CONFLICT, NOT_FOUND, ApiError
from dataflow_runner.server.models import (
    RunAccepted,
    RunDetail,
    RunOptions,
    RunPage,
    RunSubmit,
    Step,
)
from dataflow_runner.server.state import ServerParts, parts
from dataflow_runner.store.records import RunRecord, RunState

router = APIRouter(tags=["runs"])

#: The longest name, id or text a query takes.
_TEXT = 256


def writable(who: ServerParts) -> None:
    """503 while the server stops: it takes no more runs."""
    if who.draining:
        raise ApiError(503, "draining", "the server is stopping: it takes no new runs")


def accept(who: ServerParts, submission: Submission) -> dict[str, Any]:
    run = who.queue.enqueue(submission)
    who.workers.wake()
    return {"id": run.id, "state": run.state.value, "links": render.run_links(run.id)}


def _options(body: RunOptions) -> dict[str, Any]:
    if body.lock and body.softLock:
        raise FlagError("lock and softLock cannot both be given")
    return {
        "lock": body.lock or body.softLock,
        "soft_lock": bool(body.softLock and not body.lock),
        "fabric": body.fabric,
        "partition": body.partition,
        "from_": body.from_,
        "to": body.to,
    }


@router.post(
    "/runs",
    status_code=202,
    response_model=RunAccepted,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Submit a run: documents (or a saved playbook's name) and variables",
)
def submit(body: RunSubmit, request: Request, caller: Submitter) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    options = _options(body)
    if body.pool is not None and body.cluster is not None:
        raise FlagError("a run goes to a cluster config or a pool, not both")
    if isinstance(body.playbook, str):
        if body.cluster is not None or body.pool is not None:
            raise FlagError("a saved playbook brings its cluster config or pool: do not give one")
        kept = saved_playbooks.get(who.engine, who.keyring, body.playbook)
        submission = saved_playbooks.submission(kept, body.vars, by=caller.name, **options)
    else:
        documents = Documents(body.playbook, body.cluster, body.vars)
        submission = Submission(documents, submitted_by=caller.name, pool=body.pool, **options)
    return accept(who, submission)


def _since(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


@router.get("/runs", response_model=RunPage, summary="Runs, newest first, a page at a time")
def list_runs(
    request: Request,
    _caller: Viewer,
    state: Annotated[RunState | None, Query(description="only runs in this state")] = None,
    playbook: Annotated[str | None, Query(max_length=_TEXT)] = None,
    partition: Annotated[
        str | None, Query(max_length=40, description="runs for partitions of that day or hour")
    ] = None,
    since: Annotated[dt.datetime | None, Query(description="created at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="created before")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    cursor: Annotated[
        str | None, Query(max_length=_TEXT, description="the next page's, from the last")
    ] = None,
) -> dict[str, Any]:
    from dataflow_runner.store import RunFilter

    who = parts(request)
    where = RunFilter(
        state=state,
        playbook=playbook,
        since=_since(since),
        until=_since(until),
        partition=_partition_range(partition) if partition else None,
    )
    try:
        page = who.engine.runs(where, limit=limit, after=cursor)
    except StoreError as exc:
        if cursor is not None and "cursor" in str(exc):
            raise ApiError(400, "bad_request", f"cursor: {exc}") from None
        raise
    return {"items": [render.run(r) for r in page.items], "next": page.next}


def _partition_range(text: str) -> tuple[str, str]:
    """The partitions starting that day (a date) or that hour (a time), UTC unless
    the text gives its offset (as ``runs --partition``)."""
    from dataflow_runner.data.partitions import Spec, utc_key

    hourly = Spec("hour", dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.UTC)
    start = hourly.parse(text, flag="partition")
    span = dt.timedelta(hours=1) if len(text.strip()) > 10 else dt.timedelta(days=1)
    return utc_key(start), utc_key(start + span)


def _run(who: ServerParts, run_id: str) -> RunRecord:
    run = who.queue.find(run_id)
    who.reveal_secrets_of(run.id)
    return run


def _steps(who: ServerParts, run_id: str) -> list[dict[str, Any]]:
    attempts = who.engine.attempts(run_id)
    return [
        render.step(s, [a for a in attempts if a.step_id == s.step_id])
        for s in who.engine.steps(run_id)
    ]


@router.get(
    "/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND, summary="A run and its steps"
)
def show(run_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    who = parts(request)
    run = _run(who, run_id)
    return {
        **render.run(run),
        "steps": _steps(who, run.id),
        "playbookDoc": render.masked(run.playbook_doc),
        "clusterDoc": render.masked(run.cluster_doc),
    }


@router.get(
    "/runs/{run_id}/steps",
    response_model=list[Step],
    responses=NOT_FOUND,
    summary="A run's steps, with their attempts",
)
def steps(run_id: str, request: Request, _caller: Viewer) -> list[dict[str, Any]]:
    who = parts(request)
    return _steps(who, _run(who, run_id).id)


@router.post(
    "/runs/{run_id}/cancel",
    status_code=202,
    response_model=RunAccepted,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Cancel a run: its steps are stopped, it ends CANCELLED",
)
def cancel(run_id: str, request: Request, caller: Submitter) -> dict[str, Any]:
    who = parts(request)
    run = who.queue.find(run_id)
    may_change(caller, run)
    reason = f"cancelled by {caller.name}"
    run = who.queue.cancel(run.id, reason, lambda i: who.workers.cancel(i, reason))
    return {"id": run.id, "state": run.state.value, "links": render.run_links(run.id)}


@router.post(
    "/runs/{run_id}/retry",
    status_code=202,
    response_model=RunAccepted,
    responses={**NOT_FOUND, **CONFLICT},
    summary="A new attempt of a run's failed and cancelled steps (the rest is kept)",
)
def retry(run_id: str, request: Request, caller: Submitter) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    run = who.queue.find(run_id)
    may_change(caller, run)
    run = who.queue.retry(run.id)
    who.workers.wake()
    return {"id": run.id, "state": run.state.value, "links": render.run_links(run.id)}
