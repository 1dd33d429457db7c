"""``/api/v1/clusters``: the clusters registry (``engine/clusters.py``) — list,
attach a cluster by id, set its state or capacity, its tags, drain it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dataflow_runner.engine import clusters
from dataflow_runner.server import render
from dataflow_runner.server.auth import Admin, Viewer
from dataflow_runner.server.errors import NOT_FOUND
from dataflow_runner.server.models import ActiveStep
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import parts

router = APIRouter(tags=["clusters"])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Cluster(BaseModel):
    id: str
    fabric: str
    name: str
    state: str = Field(description="the fabric's own state: STARTING, WAITING, TERMINATED...")
    status: str = Field(description="Genie's: UP, OUT_OF_SERVICE or TERMINATED")
    runId: str | None = Field(description="the transient run it was launched for (never routed to)")
    reason: str | None
    tags: list[str]
    capacity: int = Field(description="steps it runs at once")
    load: int = Field(description="active + pending steps (and jobs routed to it since the poll)")
    activeCount: int
    pendingCount: int
    pool: str | None
    origin: str = Field(description="launched (by this tool) or attached (by id)")
    terminateWhenIdle: bool
    polledAt: dt.datetime | None
    createdAt: dt.datetime
    endedAt: dt.datetime | None
    activeSteps: list[ActiveStep]


class ClusterAttach(_Strict):
    fabric: str = Field(max_length=64, description="the fabric whose cluster it is")
    id: str = Field(max_length=300, description="its id (an EMR j-...)")
    tags: list[str] = Field(default_factory=list, max_length=200)
    name: str | None = Field(None, max_length=256)
    capacity: int | None = Field(None, description="steps it runs at once (default 1)")


class ClusterChange(_Strict):
    state: str | None = Field(None, description="UP or OUT_OF_SERVICE")
    capacity: int | None = None


class Tags(_Strict):
    tags: list[str] = Field(max_length=200)


class Drain(_Strict):
    to: str = Field(max_length=300, description="the cluster that takes the tags")
    terminateWhenIdle: bool = False


def shown(found: clusters.Registered, active: list[Any] | None = None) -> dict[str, Any]:
    cluster, entry = found.cluster, found.entry
    return {
        **render.cluster(cluster, active or []),
        "status": found.status,
        "tags": list(entry.tags),
        "capacity": entry.capacity,
        "load": found.load,
        "activeCount": entry.active,
        "pendingCount": entry.pending + entry.routed,
        "pool": entry.pool,
        "origin": entry.origin,
        "terminateWhenIdle": bool(entry.terminate_when_idle),
        "polledAt": render.when(entry.polled_at),
    }


def _one(request: Request, cluster_id: str) -> dict[str, Any]:
    who = parts(request)
    found = clusters.get(who.engine, cluster_id)
    active = [] if found.cluster.state.finished else who.engine.store.reader.active_steps(found.id)
    return shown(found, active)


_STATUS = Query(description="UP, OUT_OF_SERVICE, TERMINATED")
_TAGS = Query(description="clusters carrying every one of these tags")


@router.get("/clusters", response_model=list[Cluster],
            summary="The clusters the server knows: status, tags, capacity, load")  # fmt: skip
def listed(
    request: Request,
    _caller: Viewer,
    status: Annotated[list[str] | None, _STATUS] = None,
    tag: Annotated[list[str] | None, _TAGS] = None,
) -> list[dict[str, Any]]:
    who = parts(request)
    reader = who.engine.store.reader
    out = []
    for found in clusters.listed(who.engine):
        if status and found.status not in status:
            continue
        if tag and not set(tag) <= found.candidate().all_tags:
            continue
        active = [] if found.cluster.state.finished else reader.active_steps(found.id)
        out.append(shown(found, active))
    return out


@router.post("/clusters", status_code=201, response_model=Cluster,
             summary="Attach a running cluster by id (one this server did not launch)")  # fmt: skip
def attach(body: ClusterAttach, request: Request, caller: Admin) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    clusters.attach(who.engine, body.fabric, body.id, tags=body.tags, name=body.name,
                    capacity=body.capacity, by=caller.name)  # fmt: skip
    return _one(request, body.id)


@router.get("/clusters/{cluster_id}", response_model=Cluster, responses=NOT_FOUND,
            summary="One cluster")  # fmt: skip
def one(cluster_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    return _one(request, cluster_id)


@router.patch("/clusters/{cluster_id}", response_model=Cluster, responses=NOT_FOUND,
              summary="Set a cluster UP or OUT_OF_SERVICE, or its capacity")  # fmt: skip
def change(cluster_id: str, body: ClusterChange, request: Request, caller: Admin) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    clusters.get(who.engine, cluster_id)
    if body.capacity is not None:
        clusters.set_capacity(who.engine, cluster_id, body.capacity, by=caller.name)
    if body.state is not None:
        clusters.set_status(who.engine, cluster_id, body.state, by=caller.name)
    return _one(request, cluster_id)


@router.get("/clusters/{cluster_id}/tags", response_model=list[str], responses=NOT_FOUND,
            summary="A cluster's tags")  # fmt: skip
def tags(cluster_id: str, request: Request, _caller: Viewer) -> list[str]:
    return list(clusters.get(parts(request).engine, cluster_id).entry.tags)


@router.post("/clusters/{cluster_id}/tags", response_model=list[str], responses=NOT_FOUND,
             summary="Add tags to a cluster")  # fmt: skip
def add_tags(cluster_id: str, body: Tags, request: Request, caller: Admin) -> list[str]:
    who = parts(request)
    writable(who)
    return list(clusters.add_tags(who.engine, cluster_id, body.tags, by=caller.name).entry.tags)


@router.put("/clusters/{cluster_id}/tags", response_model=list[str], responses=NOT_FOUND,
            summary="Replace a cluster's tags")  # fmt: skip
def set_tags(cluster_id: str, body: Tags, request: Request, caller: Admin) -> list[str]:
    who = parts(request)
    writable(who)
    return list(clusters.set_tags(who.engine, cluster_id, body.tags, by=caller.name).entry.tags)


@router.delete("/clusters/{cluster_id}/tags", status_code=204, responses=NOT_FOUND,
               summary="Remove all of a cluster's tags")  # fmt: skip
def clear_tags(cluster_id: str, request: Request, caller: Admin) -> Response:
    who = parts(request)
    writable(who)
    clusters.remove_tags(who.engine, cluster_id, None, by=caller.name)
    return Response(status_code=204)


@router.delete("/clusters/{cluster_id}/tags/{tag}", status_code=204, responses=NOT_FOUND,
               summary="Remove one tag from a cluster")  # fmt: skip
def remove_tag(cluster_id: str, tag: str, request: Request, caller: Admin) -> Response:
    who = parts(request)
    writable(who)
    clusters.remove_tags(who.engine, cluster_id, [tag], by=caller.name)
    return Response(status_code=204)


@router.post("/clusters/{cluster_id}/drain", response_model=list[Cluster], responses=NOT_FOUND,
             summary="Move a cluster's tags to another and set it OUT_OF_SERVICE")  # fmt: skip
def drain(cluster_id: str, body: Drain, request: Request, caller: Admin) -> list[dict[str, Any]]:
    who = parts(request)
    writable(who)
    clusters.drain(who.engine, cluster_id, body.to, terminate_when_idle=body.terminateWhenIdle,
                   by=caller.name)  # fmt: skip
    return [_one(request, cluster_id), _one(request, body.to)]
