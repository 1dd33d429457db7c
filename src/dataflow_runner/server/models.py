"""The JSON the API takes and gives, as pydantic models: FastAPI validates
requests with them and publishes them in ``/openapi.json``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from dataflow_runner.store.records import Role

#: A document as a file holds it: ``{"schema": "iglu:...", "data": {...}}``.
Document = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- errors -------------------------------------------------------------------------------


class ErrorInfo(BaseModel):
    code: str = Field(description="what went wrong, for programs: not_found, invalid_config...")
    message: str = Field(description="what went wrong, for people: one line")
    details: list[dict[str, Any]] = Field(
        default_factory=list,
        description="each problem of an invalid document or request: message, file, path "
        "(a JSON path), line, and the line the command line prints (text)",
    )


class ErrorBody(BaseModel):
    error: ErrorInfo


# --- runs ---------------------------------------------------------------------------------


class RunOptions(_Strict):
    """How to run: a lock, another fabric, the partitions of a partitioned playbook."""

    lock: str | None = Field(None, description="a hard lock's name (kept if the run fails)")
    softLock: str | None = Field(None, description="a soft lock's name (always released)")
    fabric: str | None = Field(None, description="run on this fabric, not the config's")
    partition: str | None = Field(None, description="one partition: 2026-11-20 or a time")
    from_: str | None = Field(None, alias="from", description="the first partition")
    to: str | None = Field(None, description="the last partition (with from)")


class RunSubmit(RunOptions):
    playbook: Document | str = Field(
        description="the playbook document, or the name of a saved playbook"
    )
    cluster: Document | None = Field(None, description="the cluster config document")
    pool: str | None = Field(
        None, max_length=63, description="run on a cluster of this pool (instead of a cluster)"
    )
    vars: dict[str, str] = Field(default_factory=dict, description="template variables")


class SavedRun(RunOptions):
    vars: dict[str, str] = Field(default_factory=dict, description="overrides the defaults")


class RunLinks(BaseModel):
    self: str
    steps: str
    cancel: str
    retry: str


class Partitions(BaseModel):
    first: str
    last: str | None


class Run(BaseModel):
    id: str
    kind: str
    state: str = Field(description="QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED, DEAD...")
    playbook: str
    fabric: str
    clusterId: str | None
    clusterName: str
    reason: str | None
    createdAt: dt.datetime
    startedAt: dt.datetime | None
    endedAt: dt.datetime | None
    heartbeatAt: dt.datetime | None
    submittedBy: str
    savedPlaybook: str | None
    lock: str | None
    concurrency: int | None = Field(
        None, description="how many steps run at once (known once the run started)"
    )
    variables: dict[str, Any]
    partitions: Partitions | None
    links: RunLinks
    schedule: str | None = Field(None, description="the schedule that started it")
    tick: str | None = Field(None, description="its key among the schedule's runs")
    commit: str | None = Field(None, description="the git commit its playbook came from")


class Attempt(BaseModel):
    attempt: int
    state: str
    startedAt: dt.datetime | None
    endedAt: dt.datetime | None
    exitCode: int | None
    reason: str | None
    cause: str | None


class StepLinks(BaseModel):
    logs: str


class Step(BaseModel):
    id: str
    name: str
    type: str
    state: str = Field(description="PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, SKIPPED")
    position: int
    dependsOn: list[str]
    attempts: list[Attempt]
    startedAt: dt.datetime | None
    endedAt: dt.datetime | None
    exitCode: int | None
    reason: str | None
    cause: str | None = Field(description="the probable cause of a failure, from its logs")
    partition: str | None
    links: StepLinks


class RunDetail(Run):
    steps: list[Step]
    playbookDoc: dict[str, Any] = Field(description="the playbook as run, secrets masked")
    clusterDoc: dict[str, Any] = Field(description="the cluster config, secrets masked")


class RunPage(BaseModel):
    items: list[Run]
    next: str | None = Field(description="the cursor of the next page (null: the last)")


class RunAccepted(BaseModel):
    id: str
    state: str
    links: RunLinks


# --- saved playbooks ----------------------------------------------------------------------


class SavedPut(_Strict):
    playbook: Document
    cluster: Document | None = Field(None, description="the cluster config (or a pool)")
    pool: str | None = Field(None, description="a pool of clusters' name (or a cluster)")
    vars: dict[str, str] = Field(default_factory=dict, description="default variables")


class SavedPlaybook(BaseModel):
    name: str
    playbookName: str
    playbook: dict[str, Any]
    cluster: dict[str, Any] | None
    pool: str | None
    vars: dict[str, Any]
    createdAt: dt.datetime
    updatedAt: dt.datetime
    updatedBy: str
    links: dict[str, str]


# --- clusters, health, session, tokens ----------------------------------------------------


class ActiveStep(BaseModel):
    runId: str
    stepId: str
    name: str
    state: str


class Cluster(BaseModel):
    id: str
    fabric: str
    name: str
    state: str
    runId: str | None
    reason: str | None
    createdAt: dt.datetime
    endedAt: dt.datetime | None
    activeSteps: list[ActiveStep]


class Health(BaseModel):
    status: str = Field(description="ok, or draining while the server stops")
    version: str
    workers: int
    busy: int


class SessionIn(_Strict):
    token: str = Field(max_length=200)


class Session(BaseModel):
    name: str
    role: Role
    csrf: str | None = Field(description="send it back as X-CSRF-Token (or a form's csrf_token)")


class TokenIn(_Strict):
    name: str = Field(max_length=64)
    role: Role


class Token(BaseModel):
    id: str
    name: str
    role: Role
    createdAt: dt.datetime
    revokedAt: dt.datetime | None
    lastUsedAt: dt.datetime | None


class TokenMade(Token):
    token: str = Field(description="the token itself: shown this once only")


# --- schedules and deployments ------------------------------------------------------------


class ScheduleTrigger(_Strict):
    partition: str | None = Field(None, description="one partition: 2026-11-20 or a time")
    vars: dict[str, str] = Field(default_factory=dict, description="overrides the defaults")


class TickRun(BaseModel):
    ref: str = Field(description="the tick's key: its time, PARTITION@TICK, manual:RUN...")
    kind: str = Field(description="tick, catch-up, inputs or manual")
    runId: str
    state: str | None
    partition: str | None
    tickAt: dt.datetime | None
    createdAt: dt.datetime | None


class AlertOutcome(BaseModel):
    ref: str
    kind: str
    message: str
    state: str = Field(description="pending, delivered, failed or skipped (no webhook)")
    attempts: int
    statusCode: int | None
    error: str
    createdAt: dt.datetime | None
    endedAt: dt.datetime | None


class ScheduleOut(BaseModel):
    name: str
    playbook: str
    cron: str
    timezone: str
    trigger: str | None
    paused: bool
    nextTick: dt.datetime | None
    catchUp: dict[str, Any] | None
    maxActiveRuns: int | None
    webhook: str | None = Field(description="the alerts' webhook, its path masked")
    commit: str | None
    lastRuns: list[TickRun]
    lastAlert: AlertOutcome | None
    alerts: list[AlertOutcome]
    problem: str | None
    links: dict[str, str]


class Deployment(BaseModel):
    id: str
    commit: str
    message: str
    createdAt: dt.datetime
    repo: str
    branch: str
    path: str
    valid: bool
    active: bool
    errors: list[dict[str, Any]]
    playbooks: list[str]


class DeployOutcome(BaseModel):
    commit: str | None
    changed: bool
    valid: bool | None
    errors: list[dict[str, Any]]
