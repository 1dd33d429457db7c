"""The Pools page (SparkFlow's Clusters page): each pool with its size class or
fabric, tags, sizes, state, its clusters (state and load) and the runs waiting
in its queue — a fragment htmx fetches again every few seconds, so clusters
coming up appear without a reload — and, for an admin, a form that creates or
replaces a pool and a button that deletes one. Both go through the same engine
calls as ``PUT`` and ``DELETE /api/v1/pools/{name}``; a form with problems comes
back with each one's line and what was typed (422).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from dataflow_runner.engine import pools
from dataflow_runner.errors import ConfigError, ConfigErrors, FlagError
from dataflow_runner.server.auth import Admin, Principal, Viewer
from dataflow_runner.server.pools import shown
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui.core import NAV, NavEntry, check_form, page
from dataflow_runner.server.ui.runs import POLL
from dataflow_runner.store.records import Role

router = APIRouter(include_in_schema=False)
NAV.insert(next(i for i, e in enumerate(NAV) if e.href == "/clusters") + 1,
           NavEntry("Pools", "/pools"))  # fmt: skip

#: The form's fields and what each holds when the form is first shown.
_BLANK = {"name": "", "sizeClass": "", "cluster": "", "tags": "", "minClusters": "0",
          "maxClusters": "1", "maxStepsPerCluster": "1", "idleMinutes": "30"}  # fmt: skip
_NUMBERS = ("minClusters", "maxClusters", "maxStepsPerCluster", "idleMinutes")
_SPLIT = re.compile(r"[\s,]+")


@router.get("/pools")
def pools_page(request: Request, who: Viewer, done: str = "") -> Response:
    return _page(request, who, done=done)


@router.get("/fragments/pools")
def pools_fragment(request: Request, who: Viewer) -> Response:
    return page(request, who, "pools_table.html", **_table(request))


@router.post("/pools")
async def create_pool(request: Request, who: Admin) -> Response:
    await check_form(request, who)
    made = parts(request)
    writable(made)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in _BLANK}
    name = values["name"]
    try:
        doc = _document(values)
        pools.check_name(name)
        spec = pools.check_doc(doc, made.size_classes.configs)
        _pool, new = await run_in_threadpool(
            pools.put, made.engine, made.keyring, name, spec, by=who.name
        )
    except (ConfigError, FlagError, pools.PoolConflict) as exc:
        problems = [str(e) for e in exc.errors] if isinstance(exc, ConfigErrors) else [str(exc)]
        status = 409 if isinstance(exc, pools.PoolConflict) else 422
        return _page(request, who, values=values, problems=problems, status=status)
    made.pool_manager.wake()
    verb = "created" if new else "replaced"
    return RedirectResponse(f"/pools?done={quote(f'Pool {name} {verb}.')}", status_code=303)


@router.post("/pools/{name}/delete")
async def delete_pool(name: str, request: Request, who: Admin) -> Response:
    await check_form(request, who)
    made = parts(request)
    writable(made)
    pools.delete(made.engine, name, by=who.name)
    made.pool_manager.wake()
    message = f"Pool {name} is being deleted: its clusters end once idle."
    return RedirectResponse(f"/pools?done={quote(message)}", status_code=303)


def _document(values: Mapping[str, str]) -> dict[str, Any]:
    """The pool's document as ``PUT /api/v1/pools/{name}`` takes it: a number that
    is not one is passed as typed, for ``check_doc`` to say so at its path."""
    doc: dict[str, Any] = {"tags": [t for t in _SPLIT.split(values["tags"]) if t]}
    if values["sizeClass"]:
        doc["sizeClass"] = values["sizeClass"]
    if values["cluster"]:
        from dataflow_runner.config.loading import parse

        text = values["cluster"]
        doc["cluster"] = parse(text, "cluster" if text.startswith("{") else "cluster.yaml")
    for key in _NUMBERS:
        text = values[key]
        if text == "":
            continue
        try:
            doc[key] = int(text)
        except ValueError:
            try:
                doc[key] = float(text) if key == "idleMinutes" else text
            except ValueError:
                doc[key] = text
    return doc


def _table(request: Request) -> dict[str, Any]:
    made = parts(request)
    rows = [shown(made, p) for p in pools.listed(made.engine, made.keyring)]
    return {"rows": rows, "poll": POLL}


def _page(
    request: Request,
    who: Principal,
    *,
    done: str = "",
    values: Mapping[str, str] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> Response:
    made = parts(request)
    return page(
        request,
        who,
        "pools.html",
        status=status,
        title="Pools",
        done=done,
        may_change=who.role.allows(Role.ADMIN),
        size_classes=made.size_classes.names,
        form={**_BLANK, **(values or {})},
        problems=problems or [],
        **_table(request),
    )
