"""``/api/v1/commands``: Genie's command resource (``engine/commands.py``): a
named, tagged way to run a job's arguments as one step. Admins change them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dataflow_runner.engine import commands
from dataflow_runner.server import render
from dataflow_runner.server.auth import Admin, Viewer
from dataflow_runner.server.errors import NOT_FOUND, ApiError
from dataflow_runner.server.runs import writable
from dataflow_runner.server.state import parts
from dataflow_runner.store.records import CommandRecord

router = APIRouter(tags=["commands"])


class CommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="spark-submit, hadoop-jar, hive or shell")
    tags: list[str] = Field(default_factory=list, max_length=100)
    args: list[str] = Field(default_factory=list, max_length=200,
                            description="arguments put before each job's")  # fmt: skip
    description: str = Field("", max_length=2000)


class Command(CommandIn):
    model_config = ConfigDict(extra="ignore")
    name: str
    createdAt: str | None
    updatedAt: str | None
    updatedBy: str


def shown(record: CommandRecord) -> dict[str, Any]:
    created, updated = render.when(record.created_at), render.when(record.updated_at)
    return {
        "name": record.name,
        "kind": record.kind,
        "tags": list(record.tags),
        "args": list(record.args),
        "description": record.description,
        "createdAt": created.isoformat() if created else None,
        "updatedAt": updated.isoformat() if updated else None,
        "updatedBy": record.updated_by,
    }


def _get(request: Request, name: str) -> CommandRecord:
    try:
        return commands.get(parts(request).engine, name)
    except commands.CommandNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None


@router.get("/commands", response_model=list[Command], summary="The commands")
def listed(request: Request, _caller: Viewer) -> list[dict[str, Any]]:
    return [shown(c) for c in commands.listed(parts(request).engine)]


@router.get("/commands/{name}", response_model=Command, responses=NOT_FOUND, summary="A command")
def one(name: str, request: Request, _caller: Viewer) -> dict[str, Any]:
    return shown(_get(request, name))


@router.put("/commands/{name}", response_model=Command, summary="Create or replace a command")
def put(name: str, body: CommandIn, request: Request, response: Response,
        caller: Admin) -> dict[str, Any]:  # fmt: skip
    who = parts(request)
    writable(who)
    record, new = commands.put(who.engine, name, kind=body.kind, tags=body.tags, args=body.args,
                               description=body.description, by=caller.name)  # fmt: skip
    response.status_code = 201 if new else 200
    return shown(record)


@router.delete("/commands/{name}", status_code=204, responses=NOT_FOUND,
               summary="Delete a command")  # fmt: skip
def delete(name: str, request: Request, _caller: Admin) -> Response:
    who = parts(request)
    writable(who)
    _get(request, name)
    commands.delete(who.engine, name)
    return Response(status_code=204)
