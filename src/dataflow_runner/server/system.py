"""The rest of the API: health, metrics, the UI's session, tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from dataflow_runner import __version__
from dataflow_runner.engine import tokens
from dataflow_runner.server import render
from dataflow_runner.server.auth import Admin, Caller, end_session, start_session
from dataflow_runner.server.auth import check_csrf as _check_csrf
from dataflow_runner.server.errors import CONFLICT, NOT_FOUND, ApiError
from dataflow_runner.server.models import (
    Health,
    Session,
    SessionIn,
    Token,
    TokenIn,
    TokenMade,
)
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import parts
from dataflow_runner.store.records import TokenRecord

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["server"], summary="Whether it is up")
def health(request: Request) -> dict[str, Any]:
    who = parts(request)
    return {
        "status": "draining" if who.draining else "ok",
        "version": __version__,
        "workers": who.workers.slots,
        "busy": who.workers.busy,
    }


# --- the UI's session ---------------------------------------------------------------------


@router.post("/session", response_model=Session, tags=["session"],
             summary="Sign in with a token: sets the session cookie")  # fmt: skip
def sign_in(body: SessionIn, request: Request, response: Response) -> dict[str, Any]:
    who = parts(request)
    token = tokens.authenticate(who.engine, body.token.strip())
    if token is None:
        raise ApiError(401, "unauthorized", "the token is not valid (unknown or revoked)")
    csrf = start_session(request, response, token)
    request.state.user = token.name
    return {"name": token.name, "role": token.role, "csrf": csrf}


@router.get("/session", response_model=Session, tags=["session"], summary="Who is signed in")
def session(caller: Caller) -> dict[str, Any]:
    return {"name": caller.name, "role": caller.role, "csrf": caller.csrf}


@router.delete("/session", status_code=204, tags=["session"], summary="Sign out")
async def sign_out(request: Request, caller: Caller) -> Response:
    if caller.session is not None:
        await _check_csrf(request, caller)
    response = Response(status_code=204)
    end_session(request, response)
    return response


# --- tokens -------------------------------------------------------------------------------


def _token(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "createdAt": render.when(record.created_at),
        "revokedAt": render.when(record.revoked_at),
        "lastUsedAt": render.when(record.last_used_at),
    }


@router.get("/tokens", response_model=list[Token], tags=["tokens"], summary="The tokens")
def list_tokens(request: Request, _caller: Admin) -> list[dict[str, Any]]:
    return [_token(t) for t in tokens.listed(parts(request).engine)]


@router.post("/tokens", status_code=201, response_model=TokenMade, responses=CONFLICT,
             tags=["tokens"], summary="Make a token (shown this once)")  # fmt: skip
def make_token(body: TokenIn, request: Request, _caller: Admin) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    from dataflow_runner.errors import StoreError

    try:
        record, secret = tokens.create(who.engine, body.name, body.role)
    except StoreError as exc:
        if "exists already" in str(exc):
            raise ApiError(409, "conflict", str(exc)) from None
        raise
    return {**_token(record), "token": secret}


@router.delete("/tokens/{name}", status_code=204, responses=NOT_FOUND, tags=["tokens"],
               summary="Revoke a token (by name or id)")  # fmt: skip
def revoke_token(name: str, request: Request, _caller: Admin) -> Response:
    who = parts(request)
    writable(who)
    from dataflow_runner.errors import DataflowRunnerError

    try:
        tokens.revoke(who.engine, name)
    except DataflowRunnerError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return Response(status_code=204)
