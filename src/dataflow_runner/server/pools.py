"""``/api/v1/pools``: pools of clusters (``engine/pools.py``). Anyone may list and
read them (secrets in their cluster configs masked); an admin creates, replaces
and deletes them. A pool's clusters and its queue are shown with it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dataflow_runner.engine import pools
from dataflow_runner.server import render
from dataflow_runner.server.auth import Admin, Viewer
from dataflow_runner.server.errors import CONFLICT, NOT_FOUND
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import parts

router = APIRouter(tags=["pools"])


class PoolPut(BaseModel):
    """A pool as it is asked for: a size class or a cluster config, and its sizes."""

    model_config = ConfigDict(extra="forbid")

    sizeClass: str | None = Field(
        None, description="tiny, small, medium, large or xlarge: the server's cluster config"
    )
    cluster: dict[str, Any] | None = Field(None, description="a cluster config (or a size class)")
    tags: list[Any] = Field(default_factory=list, description="tags its clusters carry")
    minClusters: Any = Field(0, description="clusters kept up even when idle")
    maxClusters: Any = Field(1, description="the most clusters it runs")
    maxStepsPerCluster: Any = Field(1, description="steps one cluster runs at once")
    idleMinutes: Any = Field(30, description="an idle cluster is ended after this")


class PoolCluster(BaseModel):
    launch: str
    id: str | None
    state: str
    load: int
    idleSince: dt.datetime | None


class PoolShown(BaseModel):
    name: str
    state: str = Field(description="ACTIVE, or DELETING while its clusters end")
    fabric: str
    sizeClass: str | None
    cluster: dict[str, Any]
    tags: list[str]
    minClusters: int
    maxClusters: int
    maxStepsPerCluster: int
    idleMinutes: float
    clusters: list[PoolCluster]
    waiting: int = Field(description="runs in its queue")
    createdAt: dt.datetime
    updatedAt: dt.datetime
    updatedBy: str
    links: dict[str, str]


def shown(who: Any, pool: pools.Pool) -> dict[str, Any]:
    from dataflow_runner.engine.saved import register_document_secrets

    register_document_secrets(pool.cluster)
    clusters = pools.clusters_of(who.engine, pool.name)
    for c in clusters:
        c["idleSince"] = render.when(c["idleSince"])
    return {
        "name": pool.name,
        "state": pool.state.value,
        "fabric": pool.fabric,
        "sizeClass": pool.size_class,
        "cluster": render.masked(pool.cluster),
        "tags": list(pool.tags),
        "minClusters": pool.min_clusters,
        "maxClusters": pool.max_clusters,
        "maxStepsPerCluster": pool.max_steps_per_cluster,
        "idleMinutes": pool.idle_minutes,
        "clusters": clusters,
        "waiting": pools.waiting_count(who.engine, pool.name),
        "createdAt": render.when(pool.created_at),
        "updatedAt": render.when(pool.updated_at),
        "updatedBy": pool.updated_by,
        "links": {"self": f"{render.API}/pools/{pool.name}"},
    }


@router.get("/pools", response_model=list[PoolShown], summary="The pools")
def list_pools(request: Request, _caller: Viewer) -> list[dict[str, Any]]:
    who = parts(request)
    return [shown(who, p) for p in pools.listed(who.engine, who.keyring)]


@router.get("/pools/{name}", response_model=PoolShown, responses=NOT_FOUND, summary="A pool")
def get_pool(name: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    who = parts(request)
    return shown(who, pools.get(who.engine, who.keyring, name))


@router.put(
    "/pools/{name}",
    response_model=PoolShown,
    responses={201: {"model": PoolShown, "description": "made"}, **CONFLICT},
    summary="Create or replace a pool (made: 201; replaced: 200)",
)
def put_pool(
    name: str, body: PoolPut, request: Request, response: Response, caller: Admin
) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    pools.check_name(name)
    spec = pools.check_doc(body.model_dump(exclude_unset=True), who.size_classes.configs)
    pool, made = pools.put(who.engine, who.keyring, name, spec, by=caller.name)
    who.pool_manager.wake()
    response.status_code = 201 if made else 200
    return shown(who, pool)


@router.delete(
    "/pools/{name}",
    status_code=202,
    response_model=PoolShown,
    responses=NOT_FOUND,
    summary="Delete a pool: it launches nothing more, its clusters end once idle",
)
def delete_pool(name: str, request: Request, caller: Admin) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    pools.delete(who.engine, name, by=caller.name)
    who.pool_manager.wake()
    return shown(who, pools.get(who.engine, who.keyring, name))
