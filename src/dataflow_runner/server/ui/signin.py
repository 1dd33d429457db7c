"""Signing in with a token (the session cookie of ``auth.start_session``) and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from dataflow_runner.engine import tokens
from dataflow_runner.server.auth import Caller, end_session, start_session
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui.core import check_form, maybe_who, page, safe_next, same_origin

router = APIRouter(include_in_schema=False)


@router.get("/signin")
def sign_in_page(request: Request, next: str = "/runs", expired: bool = False) -> Response:
    who = maybe_who(request)
    return page(
        request,
        who,
        "signin.html",
        title="Sign in",
        next=safe_next(next),
        expired=expired and who is None,
        needed=tokens.configured(parts(request).engine),
        error=None,
    )


@router.post("/signin")
def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/runs",
) -> Response:
    same_origin(request)
    who = parts(request)
    found = tokens.authenticate(who.engine, token.strip()) if token.strip() else None
    if found is None:
        return page(
            request,
            None,
            "signin.html",
            status=401,
            title="Sign in",
            next=safe_next(next),
            expired=False,
            needed=tokens.configured(who.engine),
            error="That token is not valid (unknown or revoked).",
        )
    request.state.user = found.name
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, response, found)
    return response


@router.post("/signout")
async def sign_out(request: Request, who: Caller) -> Response:
    await check_form(request, who)
    response = RedirectResponse("/signin", status_code=303)
    end_session(request, response)
    return response
