"""The web UI: server-rendered pages (Jinja2) on the API's own dependencies, with
htmx (vendored in ``static/``, no build step) polling the parts that change.

``install(app)`` serves ``/static``, includes each router of :data:`ROUTERS`, and
answers the errors of a page as a page: a message with its status (404 for a
missing run, 403 for a forbidden action), or a redirect to the sign-in page
(401). The API's errors stay JSON.

Modules: ``core.py`` (templates, navigation, the HTML response, the form check),
``signin.py``, ``runs.py`` (the Runs page), ``run.py`` (a run: its DAG, Gantt chart,
steps, cancel and retry, and its logs), ``graphs.py`` (the SVG drawings' layout),
``playbooks.py``, ``clusters.py`` (the registry, its tags), ``pools.py``,
``schedules.py`` (Schedules, Partitions, Deployments).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.server.auth import COOKIE
from dataflow_runner.server.errors import ApiError
from dataflow_runner.server.ui import clusters, playbooks, pools, run, runs, schedules, signin
from dataflow_runner.server.ui.core import STATIC, page

#: The UI's routers; a new page's router is added here.
ROUTERS: list[APIRouter] = [
    signin.router,
    runs.router,
    run.router,
    playbooks.router,
    clusters.router,
    pools.router,
    schedules.router,
]
#: Paths that are not pages: their errors stay JSON.
_NOT_PAGES = ("/api/", "/openapi.json", "/docs", "/redoc", "/metrics", "/healthz", "/static/")
_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Not possible now",
    422: "Invalid input",
    503: "Unavailable",
}

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    for kind in (ApiError, DataflowRunnerError, HTTPException, RequestValidationError):
        app.add_exception_handler(kind, _as_page(app.exception_handlers[kind]))


def is_page(request: Request) -> bool:
    return not request.url.path.startswith(_NOT_PAGES)


def _as_page(api_handler: Handler) -> Handler:
    """The API's handler of an error, or, for a page, the error as a page."""

    async def handler(request: Request, exc: Exception) -> Response:
        answered = api_handler(request, exc)
        response = answered if isinstance(answered, Response) else await answered
        if not is_page(request):
            return response
        try:
            error: dict[str, Any] = json.loads(bytes(response.body))["error"]
        except (ValueError, KeyError, TypeError):
            return response
        return error_page(request, response.status_code, error)

    return handler


def error_page(request: Request, status: int, error: dict[str, Any]) -> Response:
    if status == 401:
        return _to_sign_in(request, str(error.get("message", "")))
    from dataflow_runner.server.ui.core import maybe_who

    return page(
        request,
        maybe_who(request),
        "error.html",
        status=status,
        title=_TITLES.get(status, "Something went wrong"),
        status_code=status,
        message=error.get("message", ""),
        details=error.get("details") or [],
    )


def _to_sign_in(request: Request, message: str) -> Response:
    back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request"):  # a fragment: back to the page it is on
        shown = urlsplit(request.headers.get("hx-current-url", "/runs"))
        back = shown.path + (f"?{shown.query}" if shown.query else "")
    target = f"/signin?next={quote(back, safe='')}"
    if "session" in message:  # an old or revoked session: sign in again
        target += "&expired=1"
    if request.headers.get("hx-request"):
        # htmx follows this one with a whole page.
        response: Response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    if request.cookies.get(COOKIE):
        response.delete_cookie(COOKIE, path="/")
    return response
