"""What every page of the web UI shares: the templates (Jinja2, autoescaped), the
navigation, the HTML response (every secret this process knows masked in its
text, as the API's JSON is), and the check of a form that changes something.

A page is a route on a router of this package (``include_in_schema=False``: the
API's schema stays the API's), declaring who may see it with the API's own
dependencies (``auth.Viewer``...). It answers ``page(request, who, "x.html",
...)``; its template extends ``base.html``.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from dataflow_runner import __version__
from dataflow_runner.config.redact import scrub
from dataflow_runner.server.auth import Principal, check_csrf, csrf_token
from dataflow_runner.server.errors import ApiError

if TYPE_CHECKING:
    import jinja2

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass(frozen=True)
class NavEntry:
    """A link of the top navigation; ``href`` also marks it current for the pages
    under it (``/runs`` for ``/runs/r-...``)."""

    label: str
    href: str


#: The top navigation, in order. A new page appends its entry here (once, where its
#: router is made: ``NAV.append(NavEntry("Schedules", "/schedules"))``).
NAV: list[NavEntry] = [
    NavEntry("Runs", "/runs"),
    NavEntry("Playbooks", "/playbooks"),
    NavEntry("Clusters", "/clusters"),
]


class ScrubbedHTML(HTMLResponse):
    """HTML whose text has every secret this process knows masked."""

    def render(self, content: Any) -> bytes:
        text = content if isinstance(content, str) else bytes(content).decode("utf-8")
        return scrub(text).encode("utf-8")


def when(at: float | None) -> str:
    """A time as the UI shows it: UTC, to the second."""
    if at is None:
        return ""
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(start: float | None, end: float | None, now: float | None = None) -> str:
    """``1h 02m``, ``3m 05s``, ``12.4s``; a running thing's so far."""
    if start is None:
        return ""
    seconds = max(0.0, (end if end is not None else (now or time.time())) - start)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.globals.update(duration=duration, version=__version__, nav=NAV)
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def page(
    request: Request,
    who: Principal | None,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> ScrubbedHTML:
    """A page (or a fragment: a template that does not extend ``base.html``)."""
    path = request.url.path
    current = next((e.href for e in NAV if path == e.href or path.startswith(e.href + "/")), "")
    text = render(
        template,
        request=request,
        who=who,
        csrf=csrf_token(who) if who is not None else None,
        signed_in=who is not None and who.session is not None,
        current=current,
        **context,
    )
    return ScrubbedHTML(text, status_code=status, headers=headers)


async def check_form(request: Request, who: Principal) -> None:
    """403 unless a form that changes something came from this server's pages.

    With the session cookie, the session's CSRF token must be in the form
    (``auth.check_csrf``; ``auth.require`` checks it already for the routes that
    declare a role). Without it (a loopback client of a server without tokens),
    there is no session to bind a token to: the browser's own word on where the
    form comes from (``Sec-Fetch-Site``, ``Origin``) must be this server.
    """
    if who.session is not None:
        await check_csrf(request, who)
        return
    same_origin(request)


def same_origin(request: Request) -> None:
    """403 when the browser says the request comes from another site's page."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.url.netloc}"
    if site in ("cross-site", "same-site") or (origin is not None and origin != own):
        raise ApiError(403, "csrf", "the form was not sent from this server's pages")


def maybe_who(request: Request) -> Principal | None:
    """Who calls, or None for nobody known (a page that anyone may see)."""
    from dataflow_runner.errors import DataflowRunnerError
    from dataflow_runner.server.auth import principal

    try:
        return principal(request)
    except (ApiError, DataflowRunnerError):
        return None


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this server only."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/runs"
    return target
