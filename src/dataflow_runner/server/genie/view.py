"""Genie's JSON: its job, cluster and command shapes, its statuses, and its
timestamps (``2026-12-06T10:00:00.000Z``, milliseconds always: the client
rejects other forms)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request

from dataflow_runner.engine import jobs as genie_jobs
from dataflow_runner.engine.clusters import Registered
from dataflow_runner.server.state import ServerParts
from dataflow_runner.store.records import CommandRecord, GenieJobRecord, RunRecord, StepRecord


def when(at: float | None) -> str | None:
    """Genie's timestamp form, or None."""
    if at is None:
        return None
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api/v3"


def job_links(request: Request, job_id: str) -> dict[str, Any]:
    url = f"{base(request)}/jobs/{job_id}"
    names = ("request", "execution", "output", "status", "cluster", "command", "applications")
    return {"self": {"href": url}, **{n: {"href": f"{url}/{n}"} for n in names}}


class JobView:
    """A job with its run and steps, read once per request."""

    def __init__(self, who: ServerParts, job: GenieJobRecord) -> None:
        self.job = job
        reader = who.engine.store.reader
        self.run: RunRecord | None = reader.run(job.run_id) if job.run_id else None
        self.steps: list[StepRecord] = reader.steps(job.run_id) if job.run_id else []
        self.status = genie_jobs.status(job, self.run, self.steps)
        cluster = reader.cluster(job.cluster_id) if job.cluster_id else None
        self.cluster_name = cluster.name if cluster is not None else None

    @property
    def started(self) -> float | None:
        return next((s.started_at for s in self.steps if s.started_at is not None), None)

    @property
    def finished(self) -> float | None:
        if self.status not in genie_jobs.FINISHED:
            return None
        if self.run is not None and self.run.ended_at is not None:
            return self.run.ended_at
        return self.job.finished_at or self.job.created_at

    @property
    def message(self) -> str:
        if self.job.message:
            return self.job.message
        if self.run is not None and self.run.reason and self.status in ("FAILED", "KILLED"):
            return self.run.reason
        return {
            "ACCEPTED": "Job accepted.",
            "INIT": "Job is initializing.",
            "RUNNING": "Job is running.",
            "SUCCEEDED": "Job finished successfully.",
            "FAILED": "Job failed.",
            "KILLED": "Job was killed.",
        }.get(self.status, "")

    def shown(self, request: Request) -> dict[str, Any]:
        job, run = self.job, self.run
        times = [job.created_at, self.started, self.finished, run.heartbeat_at if run else None]
        updated = max(t for t in times if t is not None)
        return {
            "id": job.id,
            "created": when(job.created_at),
            "updated": when(updated),
            "version": job.version,
            "user": job.genie_user,
            "name": job.name or job.id,
            "description": job.request.get("description"),
            "tags": list(job.request.get("tags") or []),
            "status": self.status,
            "statusMsg": self.message,
            "started": when(self.started),
            "finished": when(self.finished),
            "archiveLocation": None,
            "clusterName": self.cluster_name,
            "commandName": job.command,
            "commandArgs": job.request.get("commandArgs"),
            "grouping": job.request.get("grouping"),
            "groupingInstance": job.request.get("groupingInstance"),
            "metadata": job.request.get("metadata"),
            "runId": job.run_id,
            "_links": job_links(request, job.id),
        }


def cluster(request: Registered, base_url: str) -> dict[str, Any]:
    found = request.cluster
    return {
        "id": found.id,
        "name": found.name,
        "user": request.entry.updated_by or "dataflow-runner",
        "version": found.fabric,
        "description": None,
        "tags": sorted(request.entry.tags),
        "status": request.status,
        "created": when(found.created_at),
        "updated": when(request.entry.updated_at or found.updated_at or found.created_at),
        "_links": {"self": {"href": f"{base_url}/clusters/{found.id}"}},
    }


def command(record: CommandRecord, base_url: str) -> dict[str, Any]:
    return {
        "id": record.name,
        "name": record.name,
        "user": record.updated_by,
        "version": "",
        "description": record.description,
        "tags": sorted(record.tags),
        "status": "ACTIVE",
        "executable": record.kind,
        "executableAndArguments": [record.kind, *record.args],
        "created": when(record.created_at),
        "updated": when(record.updated_at),
        "_links": {"self": {"href": f"{base_url}/commands/{record.name}"}},
    }
