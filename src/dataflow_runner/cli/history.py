"""History commands: ``runs``, ``status``, ``logs`` and ``clusters``, drawn from
the engine API's read side; each takes ``--output json`` for other programs. A
run whose runner died while it was RUNNING is DEAD (see ``resume``).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dataflow_runner.cli.output import clip, echo, printable
from dataflow_runner.errors import DataflowRunnerError, FlagError
from dataflow_runner.store.records import (
    AttemptRecord,
    ClusterRecord,
    RunRecord,
    RunState,
    StepRecord,
)

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine


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


#: How far back (or ahead) a ``--since``/``--until`` may reach: a century.
_FARTHEST = 100 * 366 * 86400
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_when(flag: str, text: str) -> float:
    """A date or time for filters: ISO (``2026-11-22``, ``2026-11-22T10:00``) or ``3h``/``2d``.

    >>> parse_when("--since", "2026-11-22")
    1795305600.0
    """
    stripped = text.strip()
    shown = stripped if len(stripped) <= 40 else stripped[:40] + "..."
    if stripped[:-1].isdigit() and stripped[-1:] in _UNITS:
        # Compared as text first: a 5,000-digit count is not even turned into a number.
        digits = stripped[:-1].lstrip("0") or "0"
        if len(digits) > 12 or int(digits) * _UNITS[stripped[-1]] > _FARTHEST:
            raise FlagError(f"{flag}: the time {shown} is out of range (at most a century ago)")
        return time.time() - int(digits) * _UNITS[stripped[-1]]
    try:
        parsed = datetime.fromisoformat(stripped)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    except (ValueError, OverflowError):
        raise FlagError(
            f"{flag}: cannot read the time {shown!r}: expected e.g. 2026-11-22, "
            "2026-11-22T10:00 or 3h"
        ) from None


def _terminal_width() -> int | None:
    """The terminal's width when stdout is one; None when it is piped (a note is
    then printed whole, for whoever reads it)."""
    import shutil

    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return shutil.get_terminal_size().columns


def _table(rows: list[list[str]], headers: list[str]) -> str:
    """Aligned columns; every cell is shown escaped (anything may be in a name or
    a step's words)."""
    rows = [[printable(c) for c in row] for row in rows]
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
        "state": run.state.value,
        "playbook": run.playbook,
        "kind": run.kind.value,
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
        "partitions": _partitions(run),
    }


def _partitions(run: RunRecord) -> dict[str, str] | None:
    if run.partition_first is None:
        return None
    return {"first": run.partition_first, "last": run.partition_last or run.partition_first}


def _partitions_text(run: RunRecord) -> str:
    found = _partitions(run)
    if found is None:
        return "-"
    return (
        found["first"] if found["first"] == found["last"] else f"{found['first']}..{found['last']}"
    )


def partition_range(text: str) -> tuple[str, str]:
    """``--partition``: the partitions starting that day (a date) or that hour (a
    time), UTC unless the text gives its offset."""
    import datetime as dt

    from dataflow_runner.data.partitions import Spec, utc_key

    hourly = Spec("hour", dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.UTC)
    start = hourly.parse(text, flag="--partition")
    span = dt.timedelta(hours=1) if len(text.strip()) > 10 else dt.timedelta(days=1)
    return utc_key(start), utc_key(start + span)


def runs(
    engine: Engine,
    *,
    state: str | None,
    playbook: str | None,
    since: float | None,
    until: float | None,
    limit: int,
    output: str,
    partition: str | None = None,
) -> None:
    from dataflow_runner.store import RunFilter

    where = RunFilter(
        state=RunState(state.upper()) if state else None,
        playbook=playbook,
        since=since,
        until=until,
        partition=partition_range(partition) if partition else None,
    )
    draw_runs(engine.runs(where, limit=limit).items, output=output)


def draw_runs(records: list[RunRecord], *, output: str) -> None:
    """``runs``: a table of runs, or their JSON (a server's runs are drawn alike)."""
    if output == "json":
        _json([run_json(r) for r in records])
        return
    if not records:
        echo("no runs")
        return
    rows = [
        [
            r.id,
            r.state.value,
            r.playbook,
            r.fabric,
            r.cluster_id or "-",
            when(r.created_at),
            took(r.started_at, r.ended_at),
        ]
        for r in records
    ]
    headers = ["RUN", "STATE", "PLAYBOOK", "FABRIC", "CLUSTER", "STARTED", "TOOK"]
    if any(r.partition_first for r in records):
        headers.append("PARTITIONS")
        for row, r in zip(rows, records, strict=True):
            row.append(_partitions_text(r))
    echo(_table(rows, headers))


def status(engine: Engine, ref: str | None, *, output: str) -> None:
    run = engine.run_record(ref) if ref else engine.latest_run()
    if run is None:
        raise DataflowRunnerError("no runs yet")
    draw_status(run, engine.steps(run.id), engine.attempts(run.id), output=output)


def draw_status(
    run: RunRecord, steps: list[StepRecord], attempts: list[AttemptRecord], *, output: str
) -> None:
    """``status``: a run and its steps, as text or JSON (a server's run alike)."""
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
                "partition": s.partition,
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
        printable(
            f"run {run.id}  {run.state.value}  playbook '{run.playbook}'  fabric {run.fabric}"
            f"  cluster {run.cluster_id or '-'}"
        )
    )
    echo(
        printable(
            f"started {when(run.started_at)}  took {took(run.started_at, run.ended_at)}"
            + (f"  reason: {run.reason}" if run.reason else "")
        )
    )
    if run.partition_first:
        echo(f"partitions {_partitions_text(run)}")
    rows = [
        [
            s.step_id,
            s.state.value,
            str(s.attempts or "-"),
            took(s.started_at, s.ended_at) if s.started_at else "-",
            "-" if s.exit_code is None else str(s.exit_code),
            printable(s.cause or s.reason or ""),
        ]
        for s in steps
    ]
    headers = ["STEP", "STATE", "TRIES", "TOOK", "EXIT", "NOTE"]
    width = _terminal_width()
    if width is not None and rows:
        # In a terminal, the note gets what the other columns leave of its width.
        used = sum(
            max(len(h), *(len(printable(r[i])) for r in rows)) + 2
            for i, h in enumerate(headers[:-1])
        )
        for row in rows:
            row[-1] = clip(row[-1], max(width - used, 12))
    echo("")
    echo(_table(rows, headers))


def logs(
    engine: Engine, ref: str, step_id: str, *, attempt: int | None, stream: str, follow: bool
) -> None:
    run, chosen = engine.logs(ref, step_id, attempt=attempt)
    streams = ("stdout", "stderr") if stream == "all" else (stream,)
    if follow:
        for chunk in engine.follow_logs(run, chosen, streams):
            sys.stdout.write(chunk)
            sys.stdout.flush()
        return
    files = engine.read_logs(run, chosen)
    shown = [n for n in files if n in streams] if stream != "all" else list(files)
    for name in shown:
        if len(shown) > 1:
            echo(f"==> {name} <==")
        sys.stdout.write(files[name])
    sys.stdout.flush()


def orphans(engine: Engine, *, region: str | None, output: str) -> None:
    """Clusters this tool created for a transient run that no live run owns any
    more (its runner was killed, its host rebooted): they cost money."""
    found = engine.orphans(region)
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


def clusters(engine: Engine, *, fabric: str | None, active: bool, output: str) -> None:
    records: list[ClusterRecord] = engine.clusters(fabric=fabric, active=active or None)
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
