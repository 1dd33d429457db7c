"""Who calls, and what they may do: FastAPI dependencies the routes (and the UI's
pages) declare.

* A bearer token (``Authorization: Bearer dfr_...``, made with ``dataflow-runner
  tokens create``) names a caller and its :class:`Role`; so does HTTP Basic with
  the token as the password (what Genie's clients send; the user name is ignored).
* The UI signs in once with a token (``POST /api/v1/session``) and then sends a
  session cookie: signed (itsdangerous, with a key derived from the server's
  secret key), ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over HTTPS. It
  names the token, which is checked at every request (a revoked token's sessions
  end with it). A request made with the cookie that changes anything must carry
  the session's CSRF token: the ``X-CSRF-Token`` header or a form's
  ``csrf_token`` field (:func:`csrf_token` gives it to a page).
* Without any token in the store, the server takes loopback clients only (each
  as an admin), unless it was started ``--insecure``.

``require(Role.SUBMITTER)`` is the dependency of a route a submitter may call;
:func:`may_change` tells whether a caller may cancel or retry a given run (a
submitter: its own runs only).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Response

from dataflow_runner.engine import tokens
from dataflow_runner.server.errors import ApiError
from dataflow_runner.server.settings import is_loopback
from dataflow_runner.server.state import ServerParts, parts
from dataflow_runner.store.records import Role, RunRecord, TokenRecord

COOKIE = "dfr_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: How long a session lasts, in seconds.
SESSION_SECONDS = 12 * 3600
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Principal:
    """Who calls: a token's name and role (``loopback``: a loopback client of a
    server without tokens; ``anonymous``: any client of an ``--insecure`` one)."""

    name: str
    role: Role
    token_id: str | None = None
    #: The session's secret, when the caller came with the session cookie.
    session: str | None = None

    @property
    def csrf(self) -> str | None:
        return None if self.session is None else _csrf_of(self.session)


def _serializer(who: ServerParts) -> Any:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(who.keyring.derive("session cookie"), salt="dfr-session")


def _csrf_of(session: str) -> str:
    return hashlib.sha256(b"csrf\0" + session.encode()).hexdigest()


def start_session(request: Request, response: Response, token: TokenRecord) -> str:
    """Set the session cookie for ``token``; the session's CSRF token."""
    session = secrets.token_urlsafe(24)
    value = _serializer(parts(request)).dumps({"t": token.id, "s": session})
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return _csrf_of(session)


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _from_session(request: Request, who: ServerParts) -> Principal | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    from itsdangerous import BadSignature

    try:
        found = _serializer(who).loads(value, max_age=SESSION_SECONDS)
        token_id, session = str(found["t"]), str(found["s"])
    except (BadSignature, KeyError, TypeError):
        raise ApiError(401, "unauthorized", "the session is not valid: sign in again") from None
    token = tokens.by_id(who.engine, token_id)
    if token is None:
        raise ApiError(401, "unauthorized", "the session's token was revoked: sign in again")
    return Principal(token.name, token.role, token.id, session)


def principal(request: Request) -> Principal:
    """Who calls (see the module's docstring); 401 when nobody known does."""
    who = parts(request)
    header = request.headers.get("authorization")
    found: Principal | None = None
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            value = _basic_password(value)
        elif scheme.lower() != "bearer" or not value.strip():
            raise _unauthorized("the Authorization header must be: Bearer TOKEN")
        token = tokens.authenticate(who.engine, value.strip())
        if token is None:
            raise _unauthorized("the token is not valid (unknown or revoked)")
        found = Principal(token.name, token.role, token.id)
    else:
        found = _from_session(request, who)
    if found is None:
        if tokens.configured(who.engine):
            raise _unauthorized("a token is needed: Authorization: Bearer TOKEN")
        if who.settings.insecure:
            found = Principal("anonymous", Role.ADMIN)
        elif request.client is not None and is_loopback(request.client.host):
            found = Principal("loopback", Role.ADMIN)
        else:
            raise _unauthorized(
                "this server has no tokens yet and takes loopback clients only "
                "(make one with: dataflow-runner tokens create --name NAME --role admin)"
            )
    request.state.user = found.name
    return found


def _basic_password(value: str) -> str:
    """The password of HTTP Basic credentials (Genie's clients send the token so:
    any user name, the token as the password)."""
    import base64
    import binascii

    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _unauthorized("the Basic credentials are not base64 of USER:TOKEN") from None
    _user, sep, password = decoded.partition(":")
    if not sep or not password:
        raise _unauthorized("the Basic credentials must carry the token as the password")
    return password


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


Caller = Annotated[Principal, Depends(principal)]


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """The dependency of a route that ``role`` (or a higher one) may call. A call
    with the session cookie that changes something needs the CSRF token."""

    async def dependency(request: Request, who: Caller) -> Principal:
        if not who.role.allows(role):
            needs = f"{who.name} is a {who.role.value}: this needs the {role.value} role"
            raise ApiError(403, "forbidden", needs)
        if who.session is not None and request.method not in _SAFE:
            await check_csrf(request, who)
        return who

    return dependency


async def check_csrf(request: Request, who: Principal) -> None:
    """403 unless the request carries the session's CSRF token (header or form)."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(_FORMS):
        form = await request.form()
        field = form.get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    expected = who.csrf
    if not sent or expected is None or not hmac.compare_digest(sent, expected):
        raise ApiError(403, "csrf", "the request lacks the session's CSRF token")


def csrf_token(who: Principal) -> str | None:
    """What a page puts in its forms' ``csrf_token`` field (None without a session)."""
    return who.csrf


def may_change(who: Principal, run: RunRecord) -> None:
    """403 unless ``who`` may cancel or retry ``run``: an admin any run, a
    submitter the runs it submitted."""
    if who.role is Role.ADMIN:
        return
    if who.role is Role.SUBMITTER and run.submitted_by == who.name:
        return
    raise ApiError(403, "forbidden", f"{who.name} may change only the runs it submitted")


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Submitter = Annotated[Principal, Depends(require(Role.SUBMITTER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
