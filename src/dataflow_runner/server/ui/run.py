"""A run's page: what it ran, its DAG and Gantt chart (``graphs.py``), each step's
attempts with their exit codes and probable causes, Cancel and Retry for those
allowed; and a step's log page (its tail, the whole of it, or followed as it
grows through the API's Server-Sent Events).

While the run goes on, htmx fetches its live part again every few seconds; once
it ended the fragment comes without the trigger, and the polling stops.
Cancel and Retry are forms (CSRF token) posting to routes that call the API's
own operations, then redirect to the run (POST-redirect-GET).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from dataflow_runner.errors import DataflowRunnerError, StoreError
from dataflow_runner.server import render
from dataflow_runner.server import runs as api
from dataflow_runner.server.auth import Principal, Submitter, Viewer
from dataflow_runner.server.errors import ApiError
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui import graphs
from dataflow_runner.server.ui.core import duration, page, same_origin, when
from dataflow_runner.server.ui.runs import POLL, can_change
from dataflow_runner.store.records import AttemptRecord, RunRecord, RunState, StepRecord

router = APIRouter(include_in_schema=False)

#: The lines of a log its page shows unless asked for the whole of it.
TAIL = 500
_DONE = {"cancelled": "Cancel asked: the run's steps are being stopped.",
         "retried": "Retry queued: the failed and cancelled steps run again."}  # fmt: skip


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request, who: Viewer, done: str = "") -> Response:
    context = _live(request, who, run_id)
    run: RunRecord = context["record"]
    return page(
        request,
        who,
        "run.html",
        title=f"Run {run.id}",
        flash=_DONE.get(done),
        playbook_doc=render.masked(run.playbook_doc),
        cluster_doc=render.masked(run.cluster_doc),
        **context,
    )


@router.get("/fragments/runs/{run_id}")
def run_fragment(run_id: str, request: Request, who: Viewer) -> Response:
    return page(request, who, "run_live.html", **_live(request, who, run_id))


def _live(request: Request, who: Principal, run_id: str) -> dict[str, Any]:
    """What changes while a run goes on."""
    server = parts(request)
    run = api._run(server, run_id)
    steps = server.engine.steps(run.id)
    attempts = server.engine.attempts(run.id)
    now = time.time()
    allowed = can_change(who, run)
    return {
        "record": run,
        "run": {
            **render.run(run),
            "created": when(run.created_at),
            "started": when(run.started_at),
            "ended": when(run.ended_at),
            "duration": duration(run.started_at, run.ended_at, now),
            "saved": run.options.get("saved"),
        },
        "steps": [_step(run.id, s, attempts, now) for s in sorted(steps, key=_position)],
        "dag": graphs.dag(steps),
        "gantt": graphs.gantt(run.id, steps, attempts, now),
        "live": not run.state.finished,
        "may_cancel": allowed and not run.state.finished,
        "may_retry": allowed and run.state in (RunState.FAILED, RunState.CANCELLED),
        "poll": POLL,
    }


def _position(step: StepRecord) -> int:
    return step.position


def _step(run_id: str, step: StepRecord, every: list[AttemptRecord], now: float) -> Any:
    attempts = [a for a in every if a.step_id == step.step_id]
    shown = render.step(step, attempts)
    logs = f"/runs/{run_id}/steps/{step.step_id}/logs"
    return {
        **shown,
        "duration": duration(step.started_at, step.ended_at, now),
        "logs": logs,
        "attempts": [
            {
                **render.attempt(a),
                "started": when(a.started_at),
                "duration": duration(a.started_at, a.ended_at, now),
                "logs": f"{logs}?attempt={a.attempt}",
            }
            for a in attempts
        ],
    }


@router.post("/runs/{run_id}/cancel")
def cancel(run_id: str, request: Request, who: Submitter) -> Response:
    if who.session is None:
        same_origin(request)  # with a session, ``require`` checked the CSRF token
    run = api.cancel(run_id, request, who)
    return RedirectResponse(f"/runs/{run['id']}?done=cancelled", status_code=303)


@router.post("/runs/{run_id}/retry")
def retry(run_id: str, request: Request, who: Submitter) -> Response:
    if who.session is None:
        same_origin(request)
    run = api.retry(run_id, request, who)
    return RedirectResponse(f"/runs/{run['id']}?done=retried", status_code=303)


@router.get("/runs/{run_id}/steps/{step_id}/logs")
def log_page(
    run_id: str,
    step_id: str,
    request: Request,
    who: Viewer,
    attempt: Annotated[int | None, Query(ge=1, le=1000)] = None,
    stream: Literal["all", "stdout", "stderr"] = "all",
    whole: bool = False,
    follow: bool = False,
) -> Response:
    server = parts(request)
    run = api._run(server, run_id)
    try:
        _run, found = server.engine.logs(run.id, step_id, attempt=attempt)
    except (StoreError, DataflowRunnerError) as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    steps = {s.step_id: s for s in server.engine.steps(run.id)}
    step = steps.get(step_id)
    attempts = server.engine.attempts(run.id, step_id)
    names = ("stdout", "stderr") if stream == "all" else (stream,)
    lines: list[str] = []
    if not follow:
        files = server.engine.read_logs(run, found)
        lines = "".join(files.get(n, "") for n in names).splitlines()
    shown = lines if whole else lines[-TAIL:]

    def link(**change: Any) -> str:
        query = {"attempt": found.attempt, "stream": stream, **change}
        kept = {k: 1 if v is True else v for k, v in query.items()
                if v is not None and v is not False and v != "all"}  # fmt: skip
        return f"/runs/{run.id}/steps/{step_id}/logs" + (f"?{urlencode(kept)}" if kept else "")

    api_logs = f"{render.API}/runs/{run.id}/steps/{step_id}/logs"
    return page(
        request,
        who,
        "logs.html",
        title=f"Logs of {step_id} · {run.id}",
        run=run,
        step=step,
        step_id=step_id,
        attempt=render.attempt(found),
        attempts=[a.attempt for a in attempts],
        stream=stream,
        lines=shown,
        cut=len(lines) - len(shown),
        total=len(lines),
        whole=whole,
        follow=follow,
        link=link,
        live=found.ended_at is None and not found.state.finished,
        follow_url=f"{api_logs}?"
        + urlencode({"follow": "true", "stream": stream, "attempt": found.attempt}),
        raw_url=f"{api_logs}?" + urlencode({"stream": stream, "attempt": found.attempt}),
    )
