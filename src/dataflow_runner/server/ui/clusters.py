"""The Clusters page: what the engine launched or ran on (the store's clusters),
with their fabric, state, tags and active steps; the ones still up first."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response

from dataflow_runner.server import render
from dataflow_runner.server.auth import Viewer
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui.core import page, when
from dataflow_runner.store.records import ClusterRecord

router = APIRouter(include_in_schema=False)

#: The ended clusters the page shows (the newest).
ENDED = 50


@router.get("/clusters")
def clusters_page(request: Request, who: Viewer) -> Response:
    server = parts(request)
    reader = server.engine.store.reader
    found: list[ClusterRecord] = server.engine.clusters()
    found.sort(key=lambda c: (c.state.finished, -c.created_at))
    up = [c for c in found if not c.state.finished]
    ended = [c for c in found if c.state.finished][:ENDED]
    items = []
    for c in [*up, *ended]:
        shown = render.cluster(c, [] if c.state.finished else reader.active_steps(c.id))
        items.append(
            {
                **shown,
                "created": when(c.created_at),
                "ended": when(c.ended_at),
                "tags": tags(c.config_doc),
            }
        )
    hidden = len(found) - len(items)
    return page(request, who, "clusters.html", title="Clusters", items=items, hidden=hidden)


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
