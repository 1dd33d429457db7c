"""The Clusters page: every cluster of the registry (``engine/clusters.py``) — what
runs launched or ran on, ``up``'s, the pools', the ones attached by id — with its
fabric, its own state and Genie's status (UP, OUT_OF_SERVICE, TERMINATED), its
routing tags, capacity, load, pool and active steps; the ones still up first.

An admin changes the registry here as the API does (``/api/v1/clusters/{id}/...``):
add a tag, remove one (its × button), move one to another cluster (new jobs
carrying it go there at once; this one finishes what it runs), and set a
cluster OUT_OF_SERVICE or back UP. Each form posts, then comes back to the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from dataflow_runner.engine import clusters as registry
from dataflow_runner.errors import FlagError
from dataflow_runner.server import render
from dataflow_runner.server.auth import Admin, Principal, Viewer
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui.core import check_form, page, when
from dataflow_runner.store.records import Role

router = APIRouter(include_in_schema=False)

#: The ended clusters the page shows (the newest).
ENDED = 50
_SPLIT = re.compile(r"[\s,]+")


@router.get("/clusters")
def clusters_page(request: Request, who: Viewer, done: str = "") -> Response:
    server = parts(request)
    reader = server.engine.store.reader
    found = registry.listed(server.engine)
    found.sort(key=lambda r: (r.cluster.state.finished, -r.cluster.created_at))
    up = [r for r in found if not r.cluster.state.finished]
    ended = [r for r in found if r.cluster.state.finished][:ENDED]
    items = []
    for r in [*up, *ended]:
        c, entry = r.cluster, r.entry
        shown = render.cluster(c, [] if c.state.finished else reader.active_steps(c.id))
        items.append(
            {
                **shown,
                "status": r.status,
                "created": when(c.created_at),
                "ended": when(c.ended_at),
                "tags": list(entry.tags),
                "configTags": tags(c.config_doc),
                "capacity": entry.capacity,
                "load": r.load,
                "pool": entry.pool,
                "routable": r.routable,
            }
        )
    targets = [{"id": r.id, "name": r.cluster.name} for r in up if r.routable]
    hidden = len(found) - len(items)
    return page(request, who, "clusters.html", title="Clusters", items=items, hidden=hidden,
                targets=targets, done=done, may_change=_admin(who))  # fmt: skip


def _admin(who: Principal) -> bool:
    return who.role.allows(Role.ADMIN)


async def _form(request: Request, who: Principal) -> dict[str, str]:
    await check_form(request, who)
    writable(parts(request))
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def _back(message: str) -> Response:
    return RedirectResponse(f"/clusters?done={quote(message)}", status_code=303)


def _tags(text: str) -> list[str]:
    found = [t for t in _SPLIT.split(text) if t]
    if not found:
        raise FlagError("tag: give a tag, such as env:prod")
    return found


@router.post("/clusters/{cluster_id}/tags/add")
async def add_tag(cluster_id: str, request: Request, who: Admin) -> Response:
    given = _tags((await _form(request, who)).get("tag", ""))
    registry.add_tags(parts(request).engine, cluster_id, given, by=who.name)
    return _back(f"Cluster {cluster_id} now carries {', '.join(given)}.")


@router.post("/clusters/{cluster_id}/tags/remove")
async def remove_tag(cluster_id: str, request: Request, who: Admin) -> Response:
    tag = (await _form(request, who)).get("tag", "")
    registry.remove_tags(parts(request).engine, cluster_id, [tag], by=who.name)
    return _back(f"Tag {tag} removed from cluster {cluster_id}.")


@router.post("/clusters/{cluster_id}/tags/move")
async def move_tag(cluster_id: str, request: Request, who: Admin) -> Response:
    """Add the tag to the target first, then take it off this one: a job carrying
    it always has a cluster to go to, and a refused target changes nothing."""
    form = await _form(request, who)
    tag, target = form.get("tag", ""), form.get("to", "")
    engine = parts(request).engine
    source = registry.get(engine, cluster_id)
    if tag not in source.entry.tags:
        raise FlagError(f"tag: cluster {cluster_id} does not carry '{tag}'")
    if target == cluster_id:
        raise FlagError("to: a tag cannot be moved to the cluster that carries it")
    if registry.get(engine, target).status == registry.TERMINATED:
        raise FlagError(f"to: cluster {target} is terminated: it cannot take a tag")
    registry.add_tags(engine, target, [tag], by=who.name)
    registry.remove_tags(engine, cluster_id, [tag], by=who.name)
    return _back(f"Tag {tag} moved from cluster {cluster_id} to {target}.")


@router.post("/clusters/{cluster_id}/status")
async def set_status(cluster_id: str, request: Request, who: Admin) -> Response:
    status = (await _form(request, who)).get("status", "")
    registry.set_status(parts(request).engine, cluster_id, status, by=who.name)
    return _back(f"Cluster {cluster_id} is {status} now.")


def tags(doc: Mapping[str, Any]) -> list[str]:
    """``key=value`` for each tag of a cluster config (masked as stored): the tags
    of its data, or of a fabric's section of it (a cloud cluster's)."""
    data = doc.get("data", doc)
    if not isinstance(data, Mapping):
        return []
    places = [data, *(v for v in data.values() if isinstance(v, Mapping))]
    out = []
    for place in places:
        found = place.get("tags")
        for tag in found if isinstance(found, list) else []:
            if isinstance(tag, Mapping) and "key" in tag:
                value = tag.get("value", "")
                out.append(f"{tag['key']}={value}" if value != "" else str(tag["key"]))
    return out
