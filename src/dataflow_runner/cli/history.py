"""History commands: ``runs``, ``status``, ``logs`` and ``clusters``.

Each reads the store only; each takes ``--output json`` for other programs.
A run whose runner stopped sending heartbeats while it was RUNNING is shown as
DEAD (its runner died: see ``resume``).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dataflow_runner.cli.output import echo
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.procs import pid_alive
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)

#: A RUNNING run whose heartbeat is older than this has lost its runner.
STALE_AFTER = 60.0


def when(at: float | None) -> str:
    if at is None:
        return "-"
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def took(start: float | None, end: float | None) -> str:
    if start is None:
        return "-"
    seconds = (end or time.time()) - start
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def run_state(run: RunRecord, now: float | None = None) -> str:
    """RUNNING, unless its runner died (no heartbeat for a while): DEAD."""
    if run.state is RunState.RUNNING:
        beat = run.heartbeat_at or run.started_at or run.created_at
        local_host = run.host == _hostname()
        if (now or time.time()) - beat > STALE_AFTER or (
            local_host and run.pid and not pid_alive(run.pid) and run.command != "run"
        ):
            return "DEAD"
    return run.state.value


def _hostname() -> str:
    import socket

    return socket.gethostname()


def parse_when(text: str) -> float:
    """A date or time for filters: ISO (``2026-11-22``, ``2026-11-22T10:00``) or ``3h``/``2d``."""
    text = text.strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text[:-1].isdigit() and text[-1:] in units:
        return time.time() - int(text[:-1]) * units[text[-1]]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise DataflowRunnerError(
            f"cannot read the time {text!r}: expected e.g. 2026-11-22, 2026-11-22T10:00 or 3h"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _json(value: Any) -> None:
    echo(json.dumps(value, indent=2, default=str))


def run_json(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run_state(run),
        "playbook": run.playbook,
        "command": run.command,
        "fabric": run.fabric,
        "cluster_id": run.cluster_id,
        "created_at": when(run.created_at),
        "started_at": when(run.started_at),
        "ended_at": when(run.ended_at) if run.ended_at else None,
        "duration": took(run.started_at, run.ended_at),
        "reason": run.reason,
        "host": run.host,
        "pid": run.pid,
        "playbook_path": run.playbook_path,
    }


def runs(
    store: Any,
    *,
    state: str | None,
    playbook: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    output: str,
) -> None:
    want_dead = state is not None and state.upper() == "DEAD"
    records = store.list_runs(
        state="RUNNING" if want_dead else (state.upper() if state else None),
        playbook=playbook,
        since=parse_when(since) if since else None,
        until=parse_when(until) if until else None,
        limit=limit,
    )
    if want_dead:
        records = [r for r in records if run_state(r) == "DEAD"]
    if output == "json":
        _json([run_json(r) for r in records])
        return
    if not records:
        echo("no runs")
        return
    rows = [
        [
            r.id,
            run_state(r),
            r.playbook,
            r.fabric,
            r.cluster_id or "-",
            when(r.created_at),
            took(r.started_at, r.ended_at),
        ]
        for r in records
    ]
    echo(_table(rows, ["RUN", "STATE", "PLAYBOOK", "FABRIC", "CLUSTER", "STARTED", "TOOK"]))


def status(store: Any, ref: str | None, *, output: str) -> None:
    run = store.find_run(ref) if ref else store.latest_run()
    if run is None:
        raise DataflowRunnerError("no runs yet")
    steps: list[StepRecord] = store.get_steps(run.id)
    attempts: list[AttemptRecord] = store.get_attempts(run.id)
    by_step: dict[str, list[AttemptRecord]] = {}
    for a in attempts:
        by_step.setdefault(a.step_id, []).append(a)
    if output == "json":
        out = run_json(run)
        out["steps"] = [
            {
                "id": s.step_id,
                "name": s.name,
                "type": s.type,
                "state": s.state.value,
                "attempts": s.attempts,
                "depends_on": list(s.depends_on),
                "started_at": when(s.started_at) if s.started_at else None,
                "ended_at": when(s.ended_at) if s.ended_at else None,
                "duration": took(s.started_at, s.ended_at) if s.started_at else None,
                "exit_code": s.exit_code,
                "reason": s.reason,
                "cause": s.cause,
                "attempt_list": [
                    {
                        "attempt": a.attempt,
                        "state": a.state.value,
                        "exit_code": a.exit_code,
                        "reason": a.reason,
                        "duration": took(a.started_at, a.ended_at),
                        "logs": a.log_location,
                    }
                    for a in by_step.get(s.step_id, [])
                ],
            }
            for s in steps
        ]
        _json(out)
        return
    echo(
        f"run {run.id}  {run_state(run)}  playbook '{run.playbook}'  fabric {run.fabric}"
        f"  cluster {run.cluster_id or '-'}"
    )
    echo(
        f"started {when(run.started_at)}  took {took(run.started_at, run.ended_at)}"
        + (f"  reason: {run.reason}" if run.reason else "")
    )
    rows = []
    for s in steps:
        note = s.cause or s.reason or ""
        rows.append(
            [
                s.step_id,
                s.state.value,
                str(s.attempts or "-"),
                took(s.started_at, s.ended_at) if s.started_at else "-",
                "-" if s.exit_code is None else str(s.exit_code),
                note[:70],
            ]
        )
    echo("")
    echo(_table(rows, ["STEP", "STATE", "TRIES", "TOOK", "EXIT", "NOTE"]))


def logs(
    store: Any, ref: str, step_id: str, *, attempt: int | None, stream: str, follow: bool
) -> None:
    run = store.find_run(ref)
    attempts = store.get_attempts(run.id, step_id)
    if not attempts:
        known = ", ".join(s.step_id for s in store.get_steps(run.id))
        raise DataflowRunnerError(
            f"run {run.id} has no attempt of step '{step_id}'"
            + (f" (steps: {known})" if known else "")
        )
    chosen = (
        attempts[-1]
        if attempt is None
        else next((a for a in attempts if a.attempt == attempt), None)
    )
    if chosen is None:
        raise DataflowRunnerError(
            f"step '{step_id}' has no attempt {attempt} (it has {len(attempts)})"
        )
    location = chosen.log_location
    if location.startswith("s3://"):
        from dataflow_runner.fabrics.emr.logs import print_step_logs

        print_step_logs(run, chosen)
        return
    from dataflow_runner.fabrics.local.fabric import log_files

    stdout_path, stderr_path = log_files(location)
    paths = {"all": [stdout_path, stderr_path], "stdout": [stdout_path], "stderr": [stderr_path]}[
        stream
    ]
    if not follow:
        for path in paths:
            if len(paths) > 1:
                echo(f"==> {path.name.rsplit('.', 2)[-2]} <==")
            sys.stdout.write(_read(path))
        sys.stdout.flush()
        return
    _follow(store, run.id, step_id, chosen.attempt, paths)


def _read(path: Path) -> str:
    from dataflow_runner.config.redact import scrub

    try:
        return scrub(path.read_text(errors="replace"))
    except FileNotFoundError:
        return ""


def _follow(store: Any, run_id: str, step_id: str, attempt: int, paths: list[Path]) -> None:
    """Print the logs as they grow until the attempt ends (tail -f)."""
    from dataflow_runner.config.redact import scrub

    offsets = dict.fromkeys(paths, 0)
    while True:
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    fh.seek(offsets[path])
                    chunk = fh.read()
            except FileNotFoundError:
                continue
            if chunk:
                offsets[path] += len(chunk)
                sys.stdout.write(scrub(chunk.decode("utf-8", "replace")))
                sys.stdout.flush()
        current = [a for a in store.get_attempts(run_id, step_id) if a.attempt == attempt]
        if current and current[0].state in (
            StepState.COMPLETED,
            StepState.FAILED,
            StepState.CANCELLED,
        ):
            break
        time.sleep(0.25)
    # Whatever was written between the last read and the end.
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fh.seek(offsets[path])
                sys.stdout.write(scrub(fh.read().decode("utf-8", "replace")))
        except FileNotFoundError:
            pass
    sys.stdout.flush()


def orphans(store: Any, *, region: str | None, output: str) -> None:
    """EMR clusters this tool created for a transient run that no live run owns
    any more (its runner was killed, its host rebooted): they cost money."""
    from dataflow_runner.config.model import Credentials
    from dataflow_runner.fabrics.emr.client import call, clients, session
    from dataflow_runner.fabrics.emr.requests import MODE_TAG, RUN_TAG, TOOL_TAG

    emr = clients(session(Credentials(), region or ""), "emr")[0]
    active = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
    found = []
    for page in emr.get_paginator("list_clusters").paginate(ClusterStates=active):
        for summary in page.get("Clusters", []):
            cluster = call("DescribeCluster", emr.describe_cluster, ClusterId=summary["Id"])[
                "Cluster"
            ]
            tags = {t["Key"]: t["Value"] for t in cluster.get("Tags", [])}
            if TOOL_TAG not in tags or tags.get(MODE_TAG) != "transient":
                continue
            run_id = tags.get(RUN_TAG, "")
            run = store.get_run(run_id) if run_id else None
            if run is None:
                why = "its run is not in this store"
            elif run_state(run) in ("RUNNING", "SUBMITTED"):
                continue
            else:
                why = f"its run is {run_state(run)}"
            found.append(
                {
                    "id": cluster["Id"],
                    "name": cluster.get("Name", ""),
                    "state": cluster.get("Status", {}).get("State", ""),
                    "run_id": run_id,
                    "why": why,
                }
            )
    if output == "json":
        _json(found)
        return
    if not found:
        echo("no orphan clusters")
        return
    echo(
        _table(
            [[o["id"], o["state"], o["name"], o["run_id"], o["why"]] for o in found],
            ["CLUSTER", "STATE", "NAME", "RUN", "WHY"],
        )
    )
    echo("terminate one with: dataflow-runner down --emr-config CONFIG --emr-cluster ID")


def clusters(store: Any, *, fabric: str | None, active: bool, output: str) -> None:
    records: list[ClusterRecord] = store.list_clusters(fabric=fabric, active=active or None)
    records = [_local_liveness(store, c) for c in records]
    if output == "json":
        _json(
            [
                {
                    "id": c.id,
                    "fabric": c.fabric,
                    "name": c.name,
                    "state": c.state.value,
                    "reason": c.reason,
                    "run_id": c.run_id,
                    "created_at": when(c.created_at),
                    "ended_at": when(c.ended_at) if c.ended_at else None,
                    "host": c.host,
                }
                for c in records
            ]
        )
        return
    if not records:
        echo("no clusters")
        return
    rows = [
        [
            c.id,
            c.state.value,
            c.fabric,
            c.name,
            when(c.created_at),
            took(c.created_at, c.ended_at),
            c.reason or "",
        ]
        for c in records
    ]
    echo(_table(rows, ["CLUSTER", "STATE", "FABRIC", "NAME", "CREATED", "UP", "REASON"]))


def _local_liveness(store: Any, cluster: ClusterRecord) -> ClusterRecord:
    """A local cluster whose agent died is TERMINATED_WITH_ERRORS, never running."""
    if cluster.fabric != "local" or cluster.state.finished or cluster.host != _hostname():
        return cluster
    if cluster.pid and not pid_alive(cluster.pid):
        from dataclasses import replace

        from dataflow_runner.store.records import ClusterState

        store.update_cluster(
            cluster.id,
            state=ClusterState.TERMINATED_WITH_ERRORS,
            reason="its agent process died",
            ended_at=time.time(),
        )
        return replace(
            cluster, state=ClusterState.TERMINATED_WITH_ERRORS, reason="its agent process died"
        )
    return cluster
