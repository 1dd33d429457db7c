"""One line per request, in the Common Log Format plus the seconds it took::

    127.0.0.1 - ci [22/Nov/2026:15:30:12 +0000] "GET /api/v1/runs?limit=5 HTTP/1.1" 200 812 0.004

The user is the token's name (``-`` before one is known); a token is never
logged (query parameters with secret-looking names are masked). The outermost
of the application's middleware, it also answers an error nothing else did:
500, the traceback logged with its secrets masked.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dataflow_runner.config.redact import MASK, is_secret_key, scrub

log = logging.getLogger("dataflow_runner.server.access")


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status, size, sent = 0, 0, False

        async def sending(message: Message) -> None:
            nonlocal status, size, sent
            if message["type"] == "http.response.start":
                status, sent = int(message["status"]), True
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            from dataflow_runner.server.errors import error_response

            if not sent:
                await error_response(exc)(scope, receive, sending)
            else:
                log.error("internal error while answering: %s", scrub(repr(exc)))
        finally:
            log.info(line(scope, status, size, time.monotonic() - started))


def line(scope: Scope, status: int, size: int, took: float) -> str:
    client = scope.get("client")
    host = client[0] if client else "-"
    state: dict[str, Any] = scope.get("state") or {}
    user = str(state.get("user") or "-")
    path = scope.get("path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        path += "?" + urlencode([(k, MASK if is_secret_key(k) else v) for k, v in pairs])
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    request = f"{scope.get('method', '-')} {path} HTTP/{scope.get('http_version', '1.1')}"
    return f'{host} - {user} [{stamp}] "{request}" {status} {size} {took:.3f}'
