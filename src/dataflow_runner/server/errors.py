"""Every error as JSON, ``{"error": {"code", "message", "details"}}``, with its
status; never a traceback (one the server did not expect is logged here, its
secrets masked, and answered 500 with no detail)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from dataflow_runner.config.redact import scrub
from dataflow_runner.engine.clusters import ClusterNotFound
from dataflow_runner.engine.payload import WrongKey
from dataflow_runner.engine.pools import PoolConflict, PoolNotFound
from dataflow_runner.engine.queue import RunConflict, RunNotFound
from dataflow_runner.engine.saved import SavedNotFound
from dataflow_runner.engine.schedules import ScheduleNotFound
from dataflow_runner.errors import (
    ConfigError,
    ConfigErrors,
    DataflowRunnerError,
    FlagError,
    LockHeldError,
    StoreError,
)
from dataflow_runner.server.models import ErrorBody

log = logging.getLogger("dataflow_runner.server")

#: The error responses every route may give, for the OpenAPI schema.
Responses = dict[int | str, dict[str, Any]]

COMMON: Responses = {
    400: {"model": ErrorBody, "description": "a bad request"},
    401: {"model": ErrorBody, "description": "no token, or an invalid or revoked one"},
    403: {"model": ErrorBody, "description": "the token's role does not allow it"},
    422: {"model": ErrorBody, "description": "an invalid request or document"},
    500: {"model": ErrorBody, "description": "an error of the server"},
    503: {"model": ErrorBody, "description": "the server is stopping, or its store is away"},
}
NOT_FOUND: Responses = {404: {"model": ErrorBody, "description": "no such thing"}}
CONFLICT: Responses = {409: {"model": ErrorBody, "description": "not in a state that allows it"}}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid_request",
    503: "unavailable",
}


class ApiError(Exception):
    """An error with its status and code, raised by the routes."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []
        self.headers = headers


def body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": scrub(message), "details": details or []}}


def respond(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    from dataflow_runner.server.state import ScrubbedJSON

    return ScrubbedJSON(body(code, message, details), status_code=status, headers=headers)


def config_details(exc: ConfigError) -> list[dict[str, Any]]:
    """Each problem of an invalid document, as the command line prints it."""
    errors = exc.errors if isinstance(exc, ConfigErrors) else [exc]
    return [
        {"message": e.message, "file": e.file, "path": e.path, "line": e.line, "text": str(e)}
        for e in errors
    ]


def error_response(exc: BaseException) -> JSONResponse:
    """The response for an error of the engine (or of a route)."""
    if isinstance(exc, ApiError):
        return respond(exc.status, exc.code, exc.message, exc.details, exc.headers)
    if isinstance(exc, ConfigError):
        details = config_details(exc)
        message = details[0]["text"] if len(details) == 1 else f"{len(details)} problems"
        return respond(422, "invalid_config", message, details)
    if isinstance(exc, FlagError):
        return respond(400, "bad_request", str(exc))
    if isinstance(exc, LockHeldError):
        return respond(409, "lock_held", str(exc))
    if isinstance(
        exc, RunNotFound | SavedNotFound | PoolNotFound | ClusterNotFound | ScheduleNotFound
    ):
        return respond(404, "not_found", str(exc))
    if isinstance(exc, RunConflict | PoolConflict):
        return respond(409, "conflict", str(exc))
    if isinstance(exc, WrongKey):
        return respond(503, "secret_key", str(exc))
    if isinstance(exc, StoreError):
        return respond(503, "store_unavailable", str(exc))
    if isinstance(exc, DataflowRunnerError):
        return respond(400, "bad_request", "; ".join(exc.lines()))
    log.error("internal error: %s", scrub(repr(exc)), exc_info=_Scrubbed(exc))
    return respond(500, "internal", "internal error (the server's log has the details)")


class _Scrubbed(BaseException):
    """Logs a traceback with the secrets of its message masked."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(scrub(str(exc)))
        self.__traceback__ = exc.__traceback__


def install(app: FastAPI) -> None:
    async def on_error(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        code = _HTTP_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        return respond(exc.status_code, code, str(exc.detail), headers=headers)

    async def on_invalid(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        details = []
        for problem in exc.errors():
            where = "$" + "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem.get("loc", ())
            )
            message = str(problem.get("msg", "invalid"))
            details.append(
                {"message": message, "file": None, "path": where, "line": None,
                 "text": f"{where}: {message}"}
            )  # fmt: skip
        first = str(details[0]["text"]) if details else "invalid request"
        return respond(422, "invalid_request", first, details)

    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(ApiError, on_error)
    app.add_exception_handler(DataflowRunnerError, on_error)
    # Anything else is answered by ``accesslog.AccessLog`` (500, its traceback logged
    # masked), before Starlette's last handler would log it unmasked.
