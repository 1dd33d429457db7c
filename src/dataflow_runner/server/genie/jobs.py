"""``/api/v3/jobs``: submit (JSON or multipart), read and kill Genie jobs."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dataflow_runner.engine import clusters, commands
from dataflow_runner.engine import jobs as genie_jobs
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.server.auth import Principal, Submitter, Viewer, may_change
from dataflow_runner.server.errors import ApiError
from dataflow_runner.server.genie import view
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import ServerParts, parts

router = APIRouter()

#: The most a job's attachments may weigh together.
MAX_ATTACHMENTS = 64 * 1024 * 1024
_RNG = random.SystemRandom()


class Criterion(BaseModel):
    model_config = ConfigDict(extra="allow")
    tags: list[str] = Field(max_length=100)


class JobRequestBody(BaseModel):
    """The fields of Genie's job request this server reads (others are kept)."""

    model_config = ConfigDict(extra="allow")
    id: str | None = Field(None, max_length=255)
    name: str = Field("", max_length=1024)
    user: str = Field("", max_length=255)
    version: str = Field("", max_length=255)
    commandArgs: str | list[str] = Field(default="")
    clusterCriterias: list[Criterion] = Field(max_length=50)
    commandCriteria: list[str] = Field(max_length=100)


def _parsed(doc: Any) -> JobRequestBody:
    try:
        return JobRequestBody.model_validate(doc)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


async def _read(request: Request) -> tuple[Any, list[tuple[str, bytes]]]:
    """The job request and its attachments, from JSON or a multipart form."""
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        form = await request.form(max_part_size=MAX_ATTACHMENTS)
        part = form.get("request")
        if part is None:
            raise ApiError(400, "bad_request", "the multipart request has no 'request' part")
        raw = part if isinstance(part, str) else (await part.read()).decode("utf-8", "replace")
        files: list[tuple[str, bytes]] = []
        total = 0
        for item in form.getlist("attachment"):
            if isinstance(item, str):
                raise ApiError(400, "bad_request", "an 'attachment' part must be a file")
            data = await item.read()
            total += len(data)
            if total > MAX_ATTACHMENTS:
                raise ApiError(413, "too_large", "the attachments weigh more than 64 MiB")
            files.append((item.filename or "", data))
    else:
        raw, files = (await request.body()).decode("utf-8", "replace"), []
    try:
        return json.loads(raw), files
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"the job request is not JSON: {exc}") from None


@router.post(
    "/jobs",
    status_code=202,
    response_class=Response,
    responses={
        202: {"description": "accepted: the job's URL is in Location"},
        409: {"description": "a job with that id exists"},
        412: {"description": "no cluster or command matches: the job is recorded FAILED"},
    },
    summary="Submit a job (Genie's request, as JSON or multipart with attachments)",
)
async def submit(request: Request, caller: Submitter) -> Response:
    who = parts(request)
    writable(who)
    doc, files = await _read(request)
    body = _parsed(doc)
    job = await run_in_threadpool(_submit, who, caller, body, doc, files)
    who.workers.wake()
    location = view.job_links(request, job.id)["self"]["href"]
    return Response(status_code=202, headers={"Location": location})


def _submit(
    who: ServerParts, caller: Principal, body: JobRequestBody, doc: Any, files: list[Any]
) -> Any:
    request = genie_jobs.JobRequest(
        command_args=body.commandArgs,
        cluster_criteria=[c.tags for c in body.clusterCriterias],
        command_criteria=body.commandCriteria,
        id=body.id,
        name=body.name,
        user=body.user,
        version=body.version,
        document=doc if isinstance(doc, dict) else {},
    )
    try:
        return genie_jobs.submit(
            who.engine, who.queue, request, by=caller.name, rng=_RNG, attachments=files
        )
    except genie_jobs.JobExists as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except genie_jobs.NoMatch as exc:
        raise ApiError(412, "precondition_failed", str(exc)) from None


def _view(request: Request, job_id: str) -> view.JobView:
    who = parts(request)
    try:
        job = genie_jobs.get(who.engine, job_id)
    except genie_jobs.JobNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    if job.run_id:
        who.reveal_secrets_of(job.run_id)
    return view.JobView(who, job)


@router.get("/jobs/{job_id}", summary="A job, as Genie shows it")
def job(job_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    return _view(request, job_id).shown(request)


@router.get("/jobs/{job_id}/status", summary="A job's status")
def status(job_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    return {"status": _view(request, job_id).status}


@router.get("/jobs/{job_id}/request", summary="The job's request, as sent (secrets masked)")
def job_request(job_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    found = _view(request, job_id).job
    return {**found.request, "id": found.id, "_links": view.job_links(request, found.id)}


@router.get("/jobs/{job_id}/cluster", summary="The cluster the job was sent to")
def job_cluster(job_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    found = _view(request, job_id).job
    if not found.cluster_id:
        raise ApiError(404, "not_found", f"job {job_id} was sent to no cluster")
    registered = clusters.get(parts(request).engine, found.cluster_id)
    return view.cluster(registered, view.base(request))


@router.get("/jobs/{job_id}/command", summary="The command that ran the job")
def job_command(job_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    found = _view(request, job_id).job
    if not found.command:
        raise ApiError(404, "not_found", f"job {job_id} has no command")
    try:
        record = commands.get(parts(request).engine, found.command)
    except commands.CommandNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return view.command(record, view.base(request))


@router.get("/jobs/{job_id}/applications", summary="The job's applications (none here)")
def job_applications(job_id: str, request: Request, _caller: Viewer) -> list[Any]:
    _view(request, job_id)
    return []


@router.get("/jobs/{job_id}/execution", summary="Where and how the job ran")
def execution(job_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    found = _view(request, job_id)
    run = found.run
    step = found.steps[0] if found.steps else None
    return {
        "id": found.job.id,
        "hostName": run.host if run else None,
        "processId": run.pid if run else None,
        "checkDelay": None,
        "timeout": None,
        "exitCode": step.exit_code if step else None,
        "memory": None,
        "created": view.when(found.job.created_at),
        "updated": view.when(found.finished or found.job.created_at),
        "_links": {"self": {"href": f"{view.base(request)}/jobs/{found.job.id}/execution"}},
    }


@router.delete("/jobs/{job_id}", status_code=202, response_class=Response,
               summary="Kill a job (asynchronous; nothing to do for a finished one)")  # fmt: skip
def kill(job_id: str, request: Request, caller: Submitter) -> Response:
    who = parts(request)
    found = _view(request, job_id)
    if found.status in genie_jobs.FINISHED:
        return Response(status_code=202)
    if found.run is None:
        if caller.role.value != "admin" and found.job.submitted_by != caller.name:
            raise ApiError(403, "forbidden", f"{caller.name} may kill only the jobs it submitted")
        genie_jobs.kill_waiting(who.engine, job_id)
        return Response(status_code=202)
    may_change(caller, found.run)
    reason = f"killed by {caller.name}"
    with contextlib.suppress(DataflowRunnerError):  # it ended meanwhile: nothing to kill
        who.queue.cancel(found.run.id, reason, lambda i: who.workers.cancel(i, reason))
    return Response(status_code=202)
