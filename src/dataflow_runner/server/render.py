"""What a server shows of the store's records: JSON with camelCase names, UTC
times in ISO 8601, and every secret masked (by key, as the store keeps the
documents, and by value: whatever this process knows to be secret)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dataflow_runner.config.redact import redact, scrub
from dataflow_runner.store.records import AttemptRecord, ClusterRecord, RunRecord, StepRecord

API = "/api/v1"


def when(at: float | None) -> dt.datetime | None:
    return None if at is None else dt.datetime.fromtimestamp(at, dt.UTC)


def masked(value: Any) -> Any:
    """``value`` with secrets masked, by key and by value."""
    return redact(value)


def run_links(run_id: str) -> dict[str, str]:
    base = f"{API}/runs/{run_id}"
    return {
        "self": base,
        "steps": f"{base}/steps",
        "cancel": f"{base}/cancel",
        "retry": f"{base}/retry",
    }


def run(record: RunRecord) -> dict[str, Any]:
    options = record.options
    return {
        "id": record.id,
        "kind": record.kind.value,
        "state": record.state.value,
        "playbook": record.playbook,
        "fabric": record.fabric,
        "clusterId": record.cluster_id,
        "clusterName": record.cluster_name,
        "reason": scrub(record.reason) if record.reason else None,
        "createdAt": when(record.created_at),
        "startedAt": when(record.started_at),
        "endedAt": when(record.ended_at),
        "heartbeatAt": when(record.heartbeat_at),
        "submittedBy": record.submitted_by,
        "savedPlaybook": options.get("saved"),
        "lock": options.get("lock"),
        "concurrency": options.get("concurrency"),
        "variables": masked(record.variables),
        "partitions": (
            {"first": record.partition_first, "last": record.partition_last}
            if record.partition_first is not None
            else None
        ),
        "links": run_links(record.id),
        "schedule": options.get("schedule"),
        "tick": options.get("tick"),
        "commit": options.get("commit"),
    }


def attempt(record: AttemptRecord) -> dict[str, Any]:
    return {
        "attempt": record.attempt,
        "state": record.state.value,
        "startedAt": when(record.started_at),
        "endedAt": when(record.ended_at),
        "exitCode": record.exit_code,
        "reason": scrub(record.reason) if record.reason else None,
        "cause": scrub(record.cause) if record.cause else None,
    }


def step(record: StepRecord, attempts: list[AttemptRecord]) -> dict[str, Any]:
    logs = f"{API}/runs/{record.run_id}/steps/{record.step_id}/logs"
    return {
        "id": record.step_id,
        "name": record.name,
        "type": record.type,
        "state": record.state.value,
        "position": record.position,
        "dependsOn": list(record.depends_on),
        "attempts": [attempt(a) for a in attempts],
        "startedAt": when(record.started_at),
        "endedAt": when(record.ended_at),
        "exitCode": record.exit_code,
        "reason": scrub(record.reason) if record.reason else None,
        "cause": scrub(record.cause) if record.cause else None,
        "partition": record.partition,
        "links": {"logs": logs},
    }


def cluster(record: ClusterRecord, active: list[StepRecord]) -> dict[str, Any]:
    return {
        "id": record.id,
        "fabric": record.fabric,
        "name": record.name,
        "state": record.state.value,
        "runId": record.run_id,
        "reason": scrub(record.reason) if record.reason else None,
        "createdAt": when(record.created_at),
        "endedAt": when(record.ended_at),
        "activeSteps": [
            {"runId": s.run_id, "stepId": s.step_id, "name": s.name, "state": s.state.value}
            for s in active
        ],
    }
