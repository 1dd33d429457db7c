"""The Playbooks pages: the saved playbooks (``engine/saved.py``), and one of them
with its steps, its recent runs and a "Run" form with its variables (the
playbook's parameters and the saved defaults), which submits a run as ``POST
/api/v1/playbooks/{name}/runs`` does and goes to the run's page.

A secret default is never put in the form (its masked text would be sent back in
its place): its field is left empty, and an empty field keeps the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from dataflow_runner.engine import saved
from dataflow_runner.errors import ConfigError, ConfigErrors, FlagError
from dataflow_runner.server import playbooks as api
from dataflow_runner.server import render
from dataflow_runner.server.auth import Principal, Submitter, Viewer
from dataflow_runner.server.models import SavedRun
from dataflow_runner.server.state import parts
from dataflow_runner.server.ui.core import page, when
from dataflow_runner.server.ui.runs import row
from dataflow_runner.store.records import Role

router = APIRouter(include_in_schema=False)

#: The runs a saved playbook's page shows.
RECENT = 10
_VAR = "var."


@router.get("/playbooks")
def playbooks_page(request: Request, who: Viewer) -> Response:
    server = parts(request)
    kept = [api._learn(k) for k in saved.listed(server.engine, server.keyring)]
    items = []
    for k in kept:
        recent = _recent(request, k, 1)
        items.append(
            {
                "name": k.name,
                "playbook": playbook_name(k),
                "steps": len(_steps(k.playbook)),
                "target": _target(k),
                "vars": len(_fields(k)),
                "last": recent[0] if recent else None,
                "updated": when(k.updated_at),
                "by": k.updated_by,
            }
        )
    return page(request, who, "playbooks.html", title="Playbooks", items=items)


@router.get("/playbooks/{name}")
def playbook_page(name: str, request: Request, who: Viewer) -> Response:
    server = parts(request)
    kept = api._learn(saved.get(server.engine, server.keyring, name))
    return _page(request, who, kept)


@router.post("/playbooks/{name}/run")
async def run_playbook(name: str, request: Request, who: Submitter) -> Response:
    from dataflow_runner.server.ui.core import same_origin

    if who.session is None:
        same_origin(request)  # with a session, ``require`` checked the CSRF token
    server = parts(request)
    kept = await run_in_threadpool(saved.get, server.engine, server.keyring, name)
    form = await request.form()
    given = {k: v for k, v in form.items() if isinstance(v, str)}
    values = {k[len(_VAR) :]: v for k, v in given.items() if k.startswith(_VAR)}
    defaults = _defaults(kept)
    # What differs from the defaults is sent; an empty field keeps its default.
    variables = {k: v for k, v in values.items() if v != "" and v != defaults.get(k)}
    partition = given.get("partition", "").strip() or None
    try:
        body = SavedRun.model_validate({"vars": variables, "partition": partition})
        accepted = await run_in_threadpool(api.run_saved, name, body, request, who)
    except (ConfigError, FlagError) as exc:
        problems = [str(e) for e in exc.errors] if isinstance(exc, ConfigErrors) else [str(exc)]
        return _page(request, who, api._learn(kept), problems=problems, values=values,
                     partition=partition or "", status=422)  # fmt: skip
    return RedirectResponse(f"/runs/{accepted['id']}", status_code=303)


def _page(
    request: Request,
    who: Principal,
    kept: saved.Saved,
    *,
    problems: list[str] | None = None,
    values: Mapping[str, str] | None = None,
    partition: str = "",
    status: int = 200,
) -> Response:
    fields = _fields(kept)
    if values is not None:
        for f in fields:
            f["value"] = values.get(f["name"], f["value"])
    data = kept.playbook.get("data")
    partitions = data.get("partitions") if isinstance(data, Mapping) else None
    return page(
        request,
        who,
        "playbook.html",
        status=status,
        title=f"Playbook {kept.name}",
        kept=kept,
        playbook_name=playbook_name(kept),
        target=_target(kept),
        steps=_steps(kept.playbook),
        recent=_recent(request, kept, RECENT),
        fields=fields,
        partitions=partitions if isinstance(partitions, Mapping) else None,
        partition=partition,
        may_run=who.role.allows(Role.SUBMITTER),
        problems=problems or [],
        playbook_doc=render.masked(kept.playbook),
        cluster_doc=render.masked(kept.cluster) if kept.cluster is not None else None,
    )


def _steps(playbook: Mapping[str, Any]) -> list[dict[str, str]]:
    """The steps of a playbook document, as far as they can be read unrendered."""
    data = playbook.get("data")
    steps = data.get("steps") if isinstance(data, Mapping) else None
    if not isinstance(steps, list):
        return []
    out = []
    for s in steps:
        if not isinstance(s, Mapping):
            continue
        waits = [*(s.get("dependsOn") or ()), *(s.get("after") or ())]
        out.append(
            {
                "id": str(s.get("id") or s.get("name") or ""),
                "name": str(s.get("name") or s.get("id") or ""),
                "type": str(s.get("type") or ""),
                "after": ", ".join(str(w) for w in waits),
            }
        )
    return out


def playbook_name(kept: saved.Saved) -> str:
    """Its playbook's name: as validated, else as written when it holds no template."""
    if kept.playbook_name:
        return kept.playbook_name
    data = kept.playbook.get("data")
    name = data.get("name") if isinstance(data, Mapping) else None
    return name if isinstance(name, str) and "{{" not in name else ""


def _target(kept: saved.Saved) -> str:
    """What it runs on: its cluster config's name and fabric, or its pool."""
    if kept.pool:
        return f"pool {kept.pool}"
    data = kept.cluster.get("data") if kept.cluster else None
    if isinstance(data, Mapping):
        return f"{data.get('name', '?')} ({data.get('fabric', '?')})"
    return ""


def _defaults(kept: saved.Saved) -> dict[str, str]:
    """Each variable's default: the saved one, else the parameter's."""
    out: dict[str, str] = {}
    data = kept.playbook.get("data")
    params = data.get("params") if isinstance(data, Mapping) else None
    if isinstance(params, Mapping):
        for name, param in params.items():
            if isinstance(param, Mapping) and param.get("default") is not None:
                out[str(name)] = str(param["default"])
    out.update(kept.variables)
    return out


def _fields(kept: saved.Saved) -> list[dict[str, Any]]:
    """The Run form's fields: the playbook's parameters, then the other saved
    variables; a secret default shown as kept, never as text."""
    data = kept.playbook.get("data")
    params = data.get("params") if isinstance(data, Mapping) else None
    params = params if isinstance(params, Mapping) else {}
    defaults = _defaults(kept)
    shown = render.masked(defaults)
    fields = []
    for name in [*params, *(n for n in kept.variables if n not in params)]:
        param = params.get(name)
        param = param if isinstance(param, Mapping) else {}
        default = defaults.get(name)
        secret = default is not None and shown.get(name) != default
        fields.append(
            {
                "name": str(name),
                "value": "" if secret or default is None else default,
                "secret": secret,
                "required": bool(params) and name in params and default is None,
                "type": str(param.get("type", "string")) if name in params else "string",
                "help": str(param.get("description", "")),
            }
        )
    return fields


def _recent(request: Request, kept: saved.Saved, limit: int) -> list[dict[str, Any]]:
    """The latest runs of this saved playbook."""
    import time

    from dataflow_runner.store import RunFilter

    # A templated playbook's name is known only when it runs: the latest runs then.
    where = RunFilter(playbook=kept.playbook_name) if kept.playbook_name else None
    found = parts(request).engine.runs(where, limit=200)
    now = time.time()
    mine = [r for r in found.items if r.options.get("saved") == kept.name]
    return [row(r, now) for r in mine[:limit]]
