"""The pages of schedules: **Schedules** (each one's cron, next tick, last runs
with their states, last alert; pause and unpause for an admin, a trigger button
for a submitter), **Partitions** of a saved playbook (its partitions by steps,
coloured by state as ``dataflow-runner partitions`` shows them, with a button
that backfills the partitions ticked) and **Deployments** (the commits deployed
from git, valid or with their errors). The buttons post forms that go through
the same engine calls as the API, then back to the page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from dataflow_runner.engine import saved as saved_playbooks
from dataflow_runner.engine import schedules
from dataflow_runner.server.auth import Admin, Submitter, Viewer
from dataflow_runner.server.runs import writable
from dataflow_runner.server.schedules import shown
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui.core import NAV, NavEntry, check_form, page

router = APIRouter(include_in_schema=False)
NAV.append(NavEntry("Schedules", "/schedules"))
NAV.append(NavEntry("Deployments", "/deployments"))
#: The most partitions the grid shows.
MAX_ROWS = 500


def _back(path: str, message: str) -> Response:
    return RedirectResponse(f"{path}?done={quote(message)}", status_code=303)


@router.get("/schedules")
def schedules_page(request: Request, who: Viewer, done: str = "") -> Response:
    engine = parts(request).engine
    rows = [shown(parts(request), r) for r in engine.store.scheduling.schedules()]
    return page(request, who, "schedules.html", title="Schedules", rows=rows, done=done)


@router.post("/schedules/{name}/pause")
async def pause(name: str, request: Request, who: Admin) -> Response:
    await check_form(request, who)
    writable(parts(request))
    schedules.set_paused(parts(request).engine, name, True)
    return _back("/schedules", f"Schedule {name} paused.")


@router.post("/schedules/{name}/unpause")
async def unpause(name: str, request: Request, who: Admin) -> Response:
    await check_form(request, who)
    writable(parts(request))
    schedules.set_paused(parts(request).engine, name, False)
    return _back("/schedules", f"Schedule {name} unpaused.")


@router.post("/schedules/{name}/trigger")
async def trigger(name: str, request: Request, who: Submitter) -> Response:
    await check_form(request, who)
    made = parts(request)
    writable(made)
    form = await request.form()
    partition = str(form.get("partition") or "").strip() or None
    run = schedules.trigger(made.engine, made.queue, made.keyring, name, partition=partition,
                            variables={}, by=who.name)  # fmt: skip
    made.workers.wake()
    return _back("/schedules", f"Schedule {name} triggered: run {run.id}.")


@router.get("/partitions/{name}")
def partitions_page(
    request: Request, who: Viewer, name: str, last: int = 24, done: str = ""
) -> Response:
    made = parts(request)
    last = max(1, min(last, MAX_ROWS))
    kept = saved_playbooks.get(made.engine, made.keyring, name)
    grid = _grid(request, kept, last)
    return page(request, who, "partitions.html", title=f"Partitions of {name}", name=name,
                grid=grid, last=last, done=done)  # fmt: skip


def _grid(request: Request, kept: saved_playbooks.Saved, last: int) -> dict[str, Any]:
    from dataflow_runner.data.partitions import Window

    made = parts(request)
    submission = saved_playbooks.submission(kept, {}, by="ui")
    probe = made.queue.request(submission, "ui-partitions", queued=False)
    from dataclasses import replace

    found = made.engine.partition_states(replace(probe, window=Window(latest=last, reverse=True)))
    shown_grid = found.to_json()
    shown_grid["partitions"].sort(key=lambda p: p["partition"], reverse=True)
    return shown_grid


@router.post("/partitions/{name}/backfill")
async def backfill(name: str, request: Request, who: Submitter) -> Response:
    await check_form(request, who)
    made = parts(request)
    writable(made)
    form = await request.form()
    chosen = [str(p) for p in form.getlist("partition")]
    kept = saved_playbooks.get(made.engine, made.keyring, name)
    ids = []
    for partition in chosen[:MAX_ROWS]:
        submission = saved_playbooks.submission(kept, {}, by=who.name, partition=partition)
        ids.append(made.queue.enqueue(submission).id)
    made.workers.wake()
    message = f"{len(ids)} runs submitted." if ids else "No partition was ticked."
    return _back(f"/partitions/{name}", message)


@router.get("/deployments")
def deployments_page(request: Request, who: Viewer) -> Response:
    from dataflow_runner.server.deploys import shown as deployment

    made = parts(request)
    rows = [deployment(d) for d in made.engine.store.scheduling.deployments()]
    from dataflow_runner.store.backends import mask_url

    source = mask_url(made.settings.deploy_from) if made.settings.deploy_from else None
    return page(request, who, "deployments.html", title="Deployments", rows=rows,
                source=source, branch=made.settings.deploy_branch)  # fmt: skip
