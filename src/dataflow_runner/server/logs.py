"""A step's logs: ``GET /api/v1/runs/{run}/steps/{step}/logs``.

``stream``: ``stdout``, ``stderr`` or ``all`` (stdout then stderr); ``attempt``:
which one (default the last). The text is served whole, or a byte range of it
(``Range: bytes=...``: 206 with ``Content-Range``; 416 when none of it is in
range). ``follow=true`` streams it as Server-Sent Events while it grows, until
the attempt ends: one ``data:`` line per line of output, then an ``end`` event.
Secrets are masked, as ``dataflow-runner logs`` masks them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from dataflow_runner.errors import DataflowRunnerError, StoreError
from dataflow_runner.server.auth import Viewer
from dataflow_runner.server.errors import NOT_FOUND, ApiError
from dataflow_runner.server.models import ErrorBody
from dataflow_runner.server.state import ServerParts, parts

router = APIRouter(tags=["runs"])

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_TEXT = "text/plain; charset=utf-8"


@router.get(
    "/runs/{run_id}/steps/{step_id}/logs",
    response_class=Response,
    responses={
        200: {
            "description": "the log text, or its growth as Server-Sent Events (follow)",
            "content": {
                "text/plain": {"schema": {"type": "string"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        206: {
            "description": "a byte range of the log text",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        416: {"model": ErrorBody, "description": "the range is beyond the text"},
        **NOT_FOUND,
    },
    summary="A step's logs (whole, a byte range, or followed)",
)
def logs(
    run_id: str,
    step_id: str,
    request: Request,
    _caller: Viewer,
    stream: Annotated[Literal["stdout", "stderr", "all"], Query()] = "all",
    attempt: Annotated[int | None, Query(ge=1, le=1000)] = None,
    follow: bool = False,
) -> Response:
    who = parts(request)
    who.queue.find(run_id)
    who.reveal_secrets_of(run_id)
    try:
        run, found = who.engine.logs(run_id, step_id, attempt=attempt)
    except StoreError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except DataflowRunnerError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    streams = ("stdout", "stderr") if stream == "all" else (stream,)
    if follow:
        chunks = who.engine.follow_logs(run, found, streams)
        return StreamingResponse(
            _events(who, chunks),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    files = who.engine.read_logs(run, found)
    data = "".join(files.get(name, "") for name in streams).encode("utf-8")
    return _ranged(data, request.headers.get("range"))


def _ranged(data: bytes, header: str | None) -> Response:
    size = len(data)
    headers = {"Accept-Ranges": "bytes"}
    found = _RANGE.match(header.strip()) if header else None
    if found is None or found.group(1) == found.group(2) == "":
        return Response(data, media_type=_TEXT, headers=headers)  # no (usable) range: all
    first, last = found.group(1), found.group(2)
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            start = size
    else:
        start = int(first)
        end = min(int(last), size - 1) if last != "" else size - 1
        if last != "" and int(last) < start:
            return Response(data, media_type=_TEXT, headers=headers)  # invalid: ignored
    if start >= size or start > end:
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"the log has {size} bytes: {header} is beyond them",
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(data[start : end + 1], status_code=206, media_type=_TEXT, headers=headers)


def _events(who: ServerParts, chunks: Iterator[str]) -> Iterator[str]:
    """The log's growth as Server-Sent Events (a partial line waits for its end)."""
    pending = ""
    for chunk in chunks:
        # A carriage return ends a line in an event stream: lines end at any of them.
        pending += chunk.replace("\r\n", "\n").replace("\r", "\n")
        *lines, pending = pending.split("\n")
        if lines:
            yield "".join(f"data: {line}\n" for line in lines) + "\n"
        if who.draining:
            break
    if pending:
        yield f"data: {pending}\n\n"
    yield "event: end\ndata: \n\n"
