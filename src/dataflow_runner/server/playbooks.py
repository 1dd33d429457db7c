"""Saved playbooks (``engine/saved.py``): ``/api/v1/playbooks``. Anyone may read
them (secrets masked), an admin keeps them, a submitter runs them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from dataflow_runner.engine import saved
from dataflow_runner.server import render
from dataflow_runner.server.auth import Admin, Submitter, Viewer
from dataflow_runner.server.errors import CONFLICT, NOT_FOUND
from dataflow_runner.server.models import RunAccepted, SavedPlaybook, SavedPut, SavedRun
from dataflow_runner.server.runs import _options, accept, writable
from dataflow_runner.server.state import parts

router = APIRouter(tags=["saved playbooks"])


def _shown(kept: saved.Saved) -> dict[str, Any]:
    base = f"{render.API}/playbooks/{kept.name}"
    return {
        "name": kept.name,
        "playbookName": kept.playbook_name,
        "playbook": render.masked(kept.playbook),
        "cluster": render.masked(kept.cluster) if kept.cluster is not None else None,
        "pool": kept.pool,
        "vars": render.masked(kept.variables),
        "createdAt": render.when(kept.created_at),
        "updatedAt": render.when(kept.updated_at),
        "updatedBy": kept.updated_by,
        "links": {"self": base, "runs": f"{base}/runs"},
    }


def _learn(kept: saved.Saved) -> saved.Saved:
    """Its secrets are masked in whatever this server shows."""
    saved.register_document_secrets(kept.playbook)
    if kept.cluster is not None:
        saved.register_document_secrets(kept.cluster)
    saved.register_document_secrets(dict(kept.variables))
    return kept


@router.get("/playbooks", response_model=list[SavedPlaybook], summary="The saved playbooks")
def list_saved(request: Request, _caller: Viewer) -> list[dict[str, Any]]:
    who = parts(request)
    return [_shown(_learn(k)) for k in saved.listed(who.engine, who.keyring)]


@router.get(
    "/playbooks/{name}",
    response_model=SavedPlaybook,
    responses=NOT_FOUND,
    summary="A saved playbook",
)
def get_saved(name: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    who = parts(request)
    return _shown(_learn(saved.get(who.engine, who.keyring, name)))


@router.put(
    "/playbooks/{name}",
    response_model=SavedPlaybook,
    responses={201: {"model": SavedPlaybook, "description": "made"}},
    summary="Save a playbook under a name (made: 201; replaced: 200)",
)
def put_saved(
    name: str, body: SavedPut, request: Request, response: Response, caller: Admin
) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    kept, made = saved.put(
        who.engine,
        who.keyring,
        name,
        playbook=body.playbook,
        cluster=body.cluster,
        pool=body.pool,
        variables=body.vars,
        by=caller.name,
    )
    response.status_code = 201 if made else 200
    return _shown(_learn(kept))


@router.delete(
    "/playbooks/{name}", status_code=204, responses=NOT_FOUND, summary="Forget a saved playbook"
)
def delete_saved(name: str, request: Request, _caller: Admin) -> Response:
    who = parts(request)
    writable(who)
    saved.delete(who.engine, name)
    return Response(status_code=204)


@router.post(
    "/playbooks/{name}/runs",
    status_code=202,
    response_model=RunAccepted,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Run a saved playbook now (its default variables, overridden by vars)",
)
def run_saved(name: str, body: SavedRun, request: Request, caller: Submitter) -> dict[str, Any]:
    who = parts(request)
    writable(who)
    kept = saved.get(who.engine, who.keyring, name)
    submission = saved.submission(kept, body.vars, by=caller.name, **_options(body))
    return accept(who, submission)
