"""Deployment from git (``engine/deploy.py``): ``GET /api/v1/deployments`` (a
viewer reads them) and ``POST /api/v1/deploy``, the push webhook. With a
``--deploy-secret`` the webhook is checked as GitHub signs it
(``X-Hub-Signature-256``: the body's HMAC-SHA256) or as GitLab sends it
(``X-Gitlab-Token``), and needs no bearer token; without one, the caller must
be an admin. A push to another branch is acknowledged and ignored."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import APIRouter, Request

from dataflow_runner.server import render
from dataflow_runner.server.auth import Viewer, principal, require
from dataflow_runner.server.errors import CONFLICT, ApiError
from dataflow_runner.server.models import Deployment, DeployOutcome
from dataflow_runner.server.state import parts
from dataflow_runner.store.records import DeploymentRecord, Role

router = APIRouter(tags=["deployments"])


def shown(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "commit": record.git_commit,
        "message": record.message,
        "createdAt": render.when(record.created_at),
        "repo": record.repo,
        "branch": record.branch,
        "path": record.path,
        "valid": bool(record.valid),
        "active": bool(record.active),
        "errors": list(record.errors),
        "playbooks": list(record.playbooks),
    }


@router.get(
    "/deployments",
    response_model=list[Deployment],
    summary="The commits deployed from git (newest first): valid, or their errors",
)
def deployments(request: Request, _caller: Viewer) -> list[dict[str, Any]]:
    return [shown(d) for d in parts(request).engine.store.scheduling.deployments()]


def _signed(secret: str, body: bytes, request: Request) -> bool:
    github = request.headers.get("x-hub-signature-256")
    if github:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(github, f"sha256={digest}")
    gitlab = request.headers.get("x-gitlab-token")
    return gitlab is not None and hmac.compare_digest(gitlab, secret)


@router.post(
    "/deploy",
    response_model=DeployOutcome,
    responses=CONFLICT,
    summary="Deploy now (a push webhook: GitHub and GitLab payloads accepted)",
)
async def deploy(request: Request) -> dict[str, Any]:
    who = parts(request)
    deployer = who.deployer
    secret = who.settings.deploy_secret
    body = await request.body()
    if secret:
        if not _signed(secret, body, request):
            raise ApiError(401, "unauthorized", "the webhook's signature or token is not valid")
    else:
        await require(Role.ADMIN)(request, principal(request))
    if deployer is None:
        raise ApiError(409, "conflict", "this server does not deploy from git (--deploy-from)")
    try:
        pushed = json.loads(body) if body else {}
    except ValueError:
        pushed = {}
    ref = pushed.get("ref") if isinstance(pushed, dict) else None
    if isinstance(ref, str) and ref != f"refs/heads/{deployer.branch}":
        return {"commit": None, "changed": False, "valid": None, "errors": []}
    from starlette.concurrency import run_in_threadpool

    outcome = await run_in_threadpool(deployer.check)
    return {
        "commit": outcome.commit,
        "changed": outcome.changed,
        "valid": outcome.valid,
        "errors": outcome.errors,
    }
