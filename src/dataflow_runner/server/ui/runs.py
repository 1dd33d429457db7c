"""The Runs page: the runs, newest first, filtered (state, playbook, partition) and a
page at a time (the API's cursor); its table is a fragment that htmx fetches again
every few seconds, so new runs and changed states appear without a reload.

The filters are a GET form and the pages plain links: each view has its URL, and
the browser's back button goes through them.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from dataflow_runner.errors import StoreError
from dataflow_runner.server.auth import Principal, Viewer
from dataflow_runner.server.errors import ApiError
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui.core import duration, page, when
from dataflow_runner.store.records import RunRecord, RunState

router = APIRouter(include_in_schema=False)

#: Runs on a page.
PAGE = 25
#: How often (seconds) a live part of a page is fetched again.
POLL = 2
STATES = [s.value for s in RunState]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/runs", status_code=307)


@router.get("/runs")
def runs_page(
    request: Request,
    who: Viewer,
    state: str = "",
    playbook: str = "",
    partition: str = "",
    cursor: str = "",
) -> Response:
    context = _table(request, state, playbook, partition, cursor)
    return page(request, who, "runs.html", title="Runs", states=STATES, **context)


@router.get("/fragments/runs")
def runs_fragment(
    request: Request,
    who: Viewer,
    state: str = "",
    playbook: str = "",
    partition: str = "",
    cursor: str = "",
) -> Response:
    context = _table(request, state, playbook, partition, cursor)
    return page(request, who, "runs_table.html", **context)


def _table(
    request: Request, state: str, playbook: str, partition: str, cursor: str
) -> dict[str, Any]:
    from dataflow_runner.server.runs import _partition_range
    from dataflow_runner.store import RunFilter

    state, playbook, partition = state.strip().upper(), playbook.strip(), partition.strip()
    if state and state not in STATES:
        raise ApiError(400, "bad_request", f"state: '{state}' is not one of {', '.join(STATES)}")
    if len(playbook) > 256 or len(partition) > 40 or len(cursor) > 256:
        raise ApiError(400, "bad_request", "a filter is too long")
    where = RunFilter(
        state=RunState(state) if state else None,
        playbook=playbook or None,
        partition=_partition_range(partition) if partition else None,
    )
    try:
        found = parts(request).engine.runs(where, limit=PAGE, after=cursor or None)
    except StoreError as exc:
        if cursor and "cursor" in str(exc):
            raise ApiError(400, "bad_request", f"cursor: {exc}") from None
        raise
    filters = {k: v for k, v in (("state", state), ("playbook", playbook),
                                 ("partition", partition)) if v}  # fmt: skip
    now = time.time()
    return {
        "rows": [row(r, now) for r in found.items],
        "filters": filters,
        "filtered": bool(filters),
        "query": urlencode({**filters, **({"cursor": cursor} if cursor else {})}),
        "first_page": "/runs" + (f"?{urlencode(filters)}" if filters else ""),
        "next_page": (
            "/runs?" + urlencode({**filters, "cursor": found.next}) if found.next else None
        ),
        "paged": bool(cursor),
        "poll": POLL,
    }


def row(run: RunRecord, now: float) -> dict[str, Any]:
    """What the table shows of a run (its texts were masked when stored)."""
    first, last = run.partition_first, run.partition_last
    partition = "" if first is None else first if last in (None, first) else f"{first} … {last}"
    return {
        "id": run.id,
        "state": run.state.value,
        "playbook": run.playbook,
        "saved": run.options.get("saved"),
        "partition": partition,
        "who": run.submitted_by,
        "created": when(run.created_at),
        "started": when(run.started_at),
        "duration": duration(run.started_at, run.ended_at, now),
    }


def can_change(who: Principal, run: RunRecord) -> bool:
    """Whether ``who`` may cancel or retry ``run`` (``auth.may_change``)."""
    try:
        from dataflow_runner.server.auth import may_change

        may_change(who, run)
    except ApiError:
        return False
    return True
