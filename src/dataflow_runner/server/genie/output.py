"""``/api/v3/jobs/{id}/output``: a job's files as Genie serves them — ``stdout``
and ``stderr`` (its step's last attempt's logs, secrets masked),
``genie/logs/genie.log`` (what the server did with the job, made from the
records), and its attachments. ``Range`` is honoured (206; 416 past the end).
A listing is JSON (``files`` and ``directories`` with their sizes) when JSON is
asked for, else a small HTML page.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request, Response

from dataflow_runner.engine import commands
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.server.auth import Viewer
from dataflow_runner.server.errors import ApiError
from dataflow_runner.server.genie import view
from dataflow_runner.server.genie.jobs import _view
from dataflow_runner.server.logs import _ranged
from dataflow_runner.server.state import parts

router = APIRouter()
GENIE_LOG = "genie/logs/genie.log"
_DIRS = {"": ("genie/",), "genie": ("logs/",), "genie/logs": ()}


def _files(request: Request, found: view.JobView) -> dict[str, bytes]:
    """Every file of the job's output, by path."""
    who = parts(request)
    out: dict[str, bytes] = {GENIE_LOG: _genie_log(found).encode("utf-8")}
    if found.run is not None:
        attempts = who.engine.attempts(found.run.id, commands.STEP_ID)
        if attempts:
            try:
                logs = who.engine.read_logs(found.run, attempts[-1])
            except DataflowRunnerError:
                logs = {}
            for name in ("stdout", "stderr"):
                out[name] = logs.get(name, "").encode("utf-8")
    workdir = found.job.workdir
    if workdir:
        from pathlib import Path

        where = Path(workdir)
        if where.is_dir():
            for item in sorted(where.iterdir()):
                if item.is_file() and item.name not in out:
                    out[item.name] = item.read_bytes()
    return out


def _genie_log(found: view.JobView) -> str:
    job, run = found.job, found.run
    lines = [f"{view.when(job.created_at)} job {job.id} accepted from {job.submitted_by}"]
    if job.command:
        lines.append(f"{view.when(job.created_at)} command: {job.command}")
    if job.cluster_id:
        lines.append(f"{view.when(job.created_at)} sent to cluster {job.cluster_id}")
    if run is not None:
        lines.append(f"{view.when(run.created_at)} run {run.id}")
        for step in found.steps:
            if step.started_at is not None:
                lines.append(f"{view.when(step.started_at)} step started")
            if step.ended_at is not None:
                code = "" if step.exit_code is None else f" (exit code {step.exit_code})"
                lines.append(f"{view.when(step.ended_at)} step {step.state.value}{code}")
    if found.status in ("SUCCEEDED", "FAILED", "KILLED", "INVALID"):
        lines.append(f"{view.when(found.finished)} job {found.status}: {found.message}")
    return "\n".join(lines) + "\n"


def _listing(request: Request, found: view.JobView, path: str) -> Response:
    files = _files(request, found)
    url = f"{view.base(request)}/jobs/{found.job.id}/output"
    prefix = f"{path}/" if path else ""
    stamp = view.when(found.finished or found.job.created_at)
    entries: list[dict[str, Any]] = [
        {"name": name[len(prefix):], "url": f"{url}/{name}", "size": len(data),
         "lastModified": stamp}
        for name, data in files.items()
        if name.startswith(prefix) and "/" not in name[len(prefix):]
    ]  # fmt: skip
    dirs = [
        {"name": d, "url": f"{url}/{prefix}{d}", "size": 0, "lastModified": stamp}
        for d in _DIRS[path]
    ]
    parent = None if not path else {"name": "../", "url": url, "size": 0}
    if "json" in request.headers.get("accept", ""):
        from dataflow_runner.server.state import ScrubbedJSON

        return ScrubbedJSON({"parent": parent, "directories": dirs, "files": entries})
    rows = "".join(
        f'<li><a href="{html.escape(e["url"])}">{html.escape(e["name"])}</a> {e["size"]}</li>'
        for e in [*dirs, *entries]
    )
    return Response(f"<html><body><ul>{rows}</ul></body></html>", media_type="text/html")


@router.get("/jobs/{job_id}/output", response_class=Response,
            summary="The job's output directory (JSON when asked for)")  # fmt: skip
def output(job_id: str, request: Request, _caller: Viewer) -> Response:
    return _listing(request, _view(request, job_id), "")


@router.get("/jobs/{job_id}/output/{path:path}", response_class=Response,
            summary="A file of the job's output (a byte range with Range)")  # fmt: skip
def output_file(job_id: str, path: str, request: Request, _caller: Viewer) -> Response:
    found = _view(request, job_id)
    path = path.strip("/")
    if path in _DIRS:
        return _listing(request, found, path)
    data = _files(request, found).get(path)
    if data is None:
        raise ApiError(404, "not_found", f"job {job_id} has no output file '{path}'")
    return _ranged(data, request.headers.get("range"))
