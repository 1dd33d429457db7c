"""The FastAPI application: ``create_app(settings)``.

Its start opens the store (migrating it), loads the secret key and starts the
workers; its stop (uvicorn's, on SIGTERM or SIGINT) refuses new runs (503),
stops the workers and suspends the runs they were executing: they stay RUNNING
and the next server on the store resumes them (``engine/workers.py``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response

from dataflow_runner import __version__
from dataflow_runner.server import (
    clusters,
    commands,
    deploys,
    errors,
    logs,
    playbooks,
    pools,
    runs,
    schedules,
    system,
    ui,
)
from dataflow_runner.server.accesslog import AccessLog
from dataflow_runner.server.auth import Viewer
from dataflow_runner.server.metrics import CONTENT_TYPE
from dataflow_runner.server.settings import ServerSettings
from dataflow_runner.server.state import ScrubbedJSON, ServerParts, parts

log = logging.getLogger("dataflow_runner.server")

DESCRIPTION = """\
Run playbooks on dataflow fabrics (this machine, AWS EMR) through HTTP.

Send `Authorization: Bearer TOKEN` (a token made with `dataflow-runner tokens create
--name NAME --role viewer|submitter|admin`). Errors are
`{"error": {"code", "message", "details"}}`; secrets are masked everywhere.
"""


def create_app(settings: ServerSettings, server_parts: ServerParts | None = None) -> FastAPI:
    """The application; ``server_parts`` when they were made already (``main.py``
    makes them first, to check the store before listening)."""
    made = server_parts or ServerParts(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        made.workers.start()
        made.pool_manager.start()
        made.poller.start()
        made.scheduler.start()
        if made.deployer is not None:
            made.deployer.start()
        yield
        stop(made)

    app = FastAPI(
        title="Dataflow Runner",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=ScrubbedJSON,
        responses=errors.COMMON,
    )
    app.state.parts = made
    errors.install(app)
    api = APIRouter(prefix="/api/v1")
    api.include_router(runs.router)
    api.include_router(logs.router)
    api.include_router(playbooks.router)
    api.include_router(pools.router)
    api.include_router(clusters.router)
    api.include_router(commands.router)
    api.include_router(system.router)
    api.include_router(schedules.router)
    api.include_router(deploys.router)
    api.add_api_route(
        "/metrics",
        metrics,
        methods=["GET"],
        response_class=Response,
        tags=["server"],
        summary="Prometheus metrics (text format)",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    app.include_router(api)
    from dataflow_runner.server import genie

    app.include_router(genie.router)
    # Where the tools that scrape and probe look first.
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.add_api_route("/healthz", system.health, methods=["GET"], include_in_schema=False)
    ui.install(app)  # the web UI's pages, after the API's error handlers it wraps
    app.middleware("http")(refuse_nul)
    app.add_middleware(AccessLog)
    return app


async def refuse_nul(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """A NUL in a URL names nothing (no id or name holds one, and PostgreSQL cannot
    even compare one): a 400 before any route reads the store with it."""
    query = request.query_params.multi_items()
    if "\x00" in request.url.path or any("\x00" in k + v for k, v in query):
        return errors.respond(400, "bad_request", "the URL holds a NUL character (%00)")
    return await call_next(request)


def metrics(request: Request, _caller: Viewer) -> Response:
    return Response(parts(request).metrics.render(), media_type=CONTENT_TYPE)


def stop(made: ServerParts) -> None:
    """Refuse new runs, stop the workers, suspend the runs going, close the store."""
    made.draining = True
    made.pool_manager.stop()
    made.poller.stop()
    if made.deployer is not None:
        made.deployer.stop()
    made.scheduler.stop()
    left = made.workers.stop(timeout=made.settings.shutdown_timeout)
    if left:
        log.info(
            "stopped; %d runs left RUNNING for the next server to resume: %s",
            len(left),
            ", ".join(left),
        )
    else:
        log.info("stopped")
    made.engine.close()
