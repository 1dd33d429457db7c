"""Schedules (``engine/schedules.py``): ``/api/v1/schedules``. A viewer reads them,
a submitter triggers a run by hand (as it may submit runs), an admin pauses and
unpauses them (as it keeps the saved playbooks they come from)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from dataflow_runner.engine import schedules
from dataflow_runner.engine.alerts import masked_url
from dataflow_runner.engine.alerts import shown as alert_shown
from dataflow_runner.server import render
from dataflow_runner.server.auth import Admin, Submitter, Viewer
from dataflow_runner.server.errors import NOT_FOUND
from dataflow_runner.server.models import RunAccepted, ScheduleOut, ScheduleTrigger
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import ServerParts, parts
from dataflow_runner.store.records import ScheduleRecord

router = APIRouter(tags=["schedules"])


def shown(who: ServerParts, record: ScheduleRecord) -> dict[str, Any]:
    """A schedule as the API (and the UI) shows it."""
    found = schedules.status(who.engine, who.keyring, record)
    spec = found.schedule
    base = f"{render.API}/schedules/{record.name}"
    alert = record.last_alert or None
    if alert is not None:
        alert = {**alert, "createdAt": render.when(alert.get("createdAt")),
                 "endedAt": render.when(alert.get("endedAt"))}  # fmt: skip
    return {
        "name": record.name,
        "playbook": record.playbook,
        "cron": record.cron,
        "timezone": record.timezone,
        "trigger": spec.trigger if spec is not None else None,
        "paused": bool(record.paused),
        "nextTick": found.next_tick,
        "catchUp": (
            {"last": spec.catch_up.last, "oldestFirst": spec.catch_up.oldest_first}
            if spec is not None and spec.catch_up is not None
            else None
        ),
        "maxActiveRuns": spec.max_active_runs if spec is not None else None,
        "webhook": (
            masked_url(spec.alerts.webhook)
            if spec is not None and spec.alerts is not None
            else None
        ),
        "commit": record.git_commit or None,
        "lastRuns": [
            {
                "ref": t.tick.ref,
                "kind": t.tick.kind,
                "runId": t.tick.run_id,
                "state": t.run_state.value if t.run_state is not None else None,
                "partition": t.tick.partition,
                "tickAt": render.when(t.tick.tick_at),
                "createdAt": render.when(t.tick.created_at),
            }
            for t in found.last
        ],
        "lastAlert": alert,
        "alerts": [_alert(a) for a in found.alerts],
        "problem": found.problem,
        "links": {
            "self": base,
            "pause": f"{base}/pause",
            "unpause": f"{base}/unpause",
            "trigger": f"{base}/trigger",
            "playbook": f"{render.API}/playbooks/{record.name}",
        },
    }


def _alert(alert: Any) -> dict[str, Any]:
    return {
        **alert_shown(alert),
        "createdAt": render.when(alert.created_at),
        "endedAt": render.when(alert.ended_at),
    }


@router.get("/schedules", response_model=list[ScheduleOut], summary="The schedules")
def list_schedules(request: Request, _caller: Viewer) -> list[dict[str, Any]]:
    who = parts(request)
    return [shown(who, r) for r in who.engine.store.scheduling.schedules()]


@router.get(
    "/schedules/{name}",
    response_model=ScheduleOut,
    responses=NOT_FOUND,
    summary="A schedule: next tick, last runs with their states, paused, last alert",
)
def get_schedule(name: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    who = parts(request)
    return shown(who, schedules.find(who.engine, name))


def _pause(name: str, request: Request, paused: bool) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    schedules.set_paused(who.engine, name, paused)
    return shown(who, schedules.find(who.engine, name))


@router.post(
    "/schedules/{name}/pause",
    response_model=ScheduleOut,
    responses=NOT_FOUND,
    summary="Pause a schedule (admin): it starts nothing until unpaused",
)
def pause(name: str, request: Request, _caller: Admin) -> dict[str, Any]:
    return _pause(name, request, True)


@router.post(
    "/schedules/{name}/unpause",
    response_model=ScheduleOut,
    responses=NOT_FOUND,
    summary="Unpause a schedule (admin): it goes on at its next tick",
)
def unpause(name: str, request: Request, _caller: Admin) -> dict[str, Any]:
    return _pause(name, request, False)


@router.post(
    "/schedules/{name}/trigger",
    status_code=202,
    response_model=RunAccepted,
    responses=NOT_FOUND,
    summary="Run a schedule now (submitter), for a partition, with variables",
)
def trigger(
    name: str, body: ScheduleTrigger, request: Request, caller: Submitter
) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    run = schedules.trigger(
        who.engine, who.queue, who.keyring, name,
        partition=body.partition, variables=body.vars, by=caller.name,
    )  # fmt: skip
    who.workers.wake()
    return {"id": run.id, "state": run.state.value, "links": render.run_links(run.id)}
