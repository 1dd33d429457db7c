"""``/api/v3/clusters``: the registry as Genie shows it (paged, with ``tag``,
``status`` and ``name`` filters), its tag endpoints (a drain done with Genie's
client: move the tags, then set the old cluster OUT_OF_SERVICE with a JSON
Patch of ``/status``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from dataflow_runner.engine import clusters
from dataflow_runner.server.auth import Admin, Viewer
from dataflow_runner.server.errors import ApiError
from dataflow_runner.server.genie import view
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import parts

router = APIRouter()
_TAGS = Body(description="a JSON array of tags", max_length=200)


@router.get("/clusters", summary="Clusters, Genie's way (paged; tag, status, name filters)")
def listed(
    request: Request,
    _caller: Viewer,
    tag: Annotated[list[str] | None, Query()] = None,
    status: Annotated[list[str] | None, Query()] = None,
    name: Annotated[str | None, Query(max_length=256)] = None,
    page: Annotated[int, Query(ge=0, le=100_000)] = 0,
    size: Annotated[int, Query(ge=1, le=1000)] = 64,
) -> dict[str, Any]:
    found = []
    for registered in clusters.listed(parts(request).engine):
        if status and registered.status not in {s.upper() for s in status}:
            continue
        if tag and not set(tag) <= registered.candidate().all_tags:
            continue
        if name and registered.cluster.name != name:
            continue
        found.append(registered)
    total = len(found)
    shown = [view.cluster(c, view.base(request)) for c in found[page * size : (page + 1) * size]]
    return {
        "_embedded": {"clusterList": shown},
        "page": {"size": size, "totalElements": total,
                 "totalPages": max(1, -(-total // size)), "number": page},
    }  # fmt: skip


@router.get("/clusters/{cluster_id}", summary="A cluster, Genie's way")
def one(cluster_id: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    return view.cluster(clusters.get(parts(request).engine, cluster_id), view.base(request))


@router.patch("/clusters/{cluster_id}", status_code=204, response_class=Response,
              summary="A JSON Patch of a cluster: replace /status or /tags")  # fmt: skip
def patch(
    cluster_id: str,
    request: Request,
    caller: Admin,
    ops: Annotated[list[dict[str, Any]], Body(max_length=20)],
) -> Response:
    who = parts(request)
    writable(who)
    clusters.get(who.engine, cluster_id)
    for i, op in enumerate(ops):
        if op.get("op") != "replace" or op.get("path") not in ("/status", "/tags"):
            raise ApiError(
                422, "invalid_request", f"$[{i}]: only replace of /status or /tags is supported"
            )
        value = op.get("value")
        if op["path"] == "/status":
            clusters.set_status(who.engine, cluster_id, str(value), by=caller.name)
        else:
            if not isinstance(value, list):
                raise ApiError(422, "invalid_request", f"$[{i}].value: a list of tags")
            clusters.set_tags(who.engine, cluster_id, [str(t) for t in value], by=caller.name)
    return Response(status_code=204)


@router.get("/clusters/{cluster_id}/tags", summary="A cluster's tags")
def tags(cluster_id: str, request: Request, _caller: Viewer) -> list[str]:
    return sorted(clusters.get(parts(request).engine, cluster_id).entry.tags)


@router.post("/clusters/{cluster_id}/tags", status_code=204, response_class=Response,
             summary="Add tags to a cluster")  # fmt: skip
def add(
    cluster_id: str, request: Request, caller: Admin, body: Annotated[list[str], _TAGS]
) -> Response:
    who = parts(request)
    writable(who)
    clusters.add_tags(who.engine, cluster_id, body, by=caller.name)
    return Response(status_code=204)


@router.put("/clusters/{cluster_id}/tags", status_code=204, response_class=Response,
            summary="Replace a cluster's tags")  # fmt: skip
def replace(
    cluster_id: str, request: Request, caller: Admin, body: Annotated[list[str], _TAGS]
) -> Response:
    who = parts(request)
    writable(who)
    clusters.set_tags(who.engine, cluster_id, body, by=caller.name)
    return Response(status_code=204)


@router.delete("/clusters/{cluster_id}/tags", status_code=204, response_class=Response,
               summary="Remove every tag of a cluster")  # fmt: skip
def clear(cluster_id: str, request: Request, caller: Admin) -> Response:
    who = parts(request)
    writable(who)
    clusters.remove_tags(who.engine, cluster_id, None, by=caller.name)
    return Response(status_code=204)


@router.delete("/clusters/{cluster_id}/tags/{tag}", status_code=204, response_class=Response,
               summary="Remove one tag of a cluster")  # fmt: skip
def remove(cluster_id: str, tag: str, request: Request, caller: Admin) -> Response:
    who = parts(request)
    writable(who)
    clusters.remove_tags(who.engine, cluster_id, [tag], by=caller.name)
    return Response(status_code=204)
