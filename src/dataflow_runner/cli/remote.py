"""The commands against a server (``--server URL``, or ``DATAFLOW_RUNNER_SERVER``):
``run-transient``, ``runs``, ``status``, ``logs`` and ``resume`` call its REST API
(``client/api.py``) and print what the same commands print locally, with the same
exit codes.

* The server's runs, steps and attempts are read into the store's record types,
  and drawn by the very functions that draw local ones (``history.py``).
* ``run-transient`` reads the local files as a local run does (``--vars``, a
  Python playbook's code run here, templates rendered with this environment; a
  partitioned playbook is sent unrendered: the server renders each partition) and
  sends the documents; the server validates them (a 422 is printed as
  ``validate`` prints problems, addressed to the local files). Then it polls the
  run and turns what changed into the engine's events, which the usual reporters
  draw: the same step lines, the same last line and exit code. ``--async``
  prints the run's id and returns.
* ``resume RUN``: a server resumes the runs whose runner died by itself (another
  server takes them over once their lease is stale), so for a DEAD, RUNNING or
  QUEUED run it follows the run to its end. A FAILED or CANCELLED run is retried
  (``POST /runs/{id}/retry``: a new attempt of its failed and cancelled steps,
  the completed ones kept). A COMPLETED run is refused, as locally.

A signal while a run is followed cancels it on the server (``POST .../cancel``),
as a local run is cancelled; a second one stops following it.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import TYPE_CHECKING, Any

from dataflow_runner.cli.remote_follow import POLL, Follower, at_time
from dataflow_runner.client.api import ServerClient
from dataflow_runner.errors import DataflowRunnerError, FlagError
from dataflow_runner.store.records import (
    AttemptRecord,
    RunKind,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)

if TYPE_CHECKING:
    from dataflow_runner.cli.commands import Common
    from dataflow_runner.cli.options import DataFlags

log = logging.getLogger("dataflow_runner")

_ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


def connect(server: str, token: str | None) -> ServerClient:
    return ServerClient(server, token)


# --- the server's JSON as the store's records ---------------------------------------------


def run_record(doc: dict[str, Any]) -> RunRecord:
    parts = doc.get("partitions") or {}
    return RunRecord(
        id=doc["id"],
        kind=RunKind(doc.get("kind", "transient")),
        playbook=doc.get("playbook", ""),
        fabric=doc.get("fabric", ""),
        state=RunState(doc["state"]),
        created_at=at_time(doc.get("createdAt")) or 0.0,
        cluster_name=doc.get("clusterName") or "",
        cluster_id=doc.get("clusterId"),
        reason=doc.get("reason"),
        started_at=at_time(doc.get("startedAt")),
        ended_at=at_time(doc.get("endedAt")),
        heartbeat_at=at_time(doc.get("heartbeatAt")),
        variables=dict(doc.get("variables") or {}),
        partition_first=parts.get("first"),
        partition_last=parts.get("last"),
        submitted_by=doc.get("submittedBy") or "",
    )


def step_records(
    run_id: str, steps: list[dict[str, Any]]
) -> tuple[list[StepRecord], list[AttemptRecord]]:
    found: list[StepRecord] = []
    attempts: list[AttemptRecord] = []
    for s in steps:
        tries = s.get("attempts") or []
        found.append(
            StepRecord(
                run_id=run_id,
                step_id=s["id"],
                position=int(s.get("position", 0)),
                name=s.get("name") or s["id"],
                type=s.get("type", ""),
                state=StepState(s["state"]),
                action_on_failure="",
                depends_on=tuple(s.get("dependsOn") or ()),
                attempts=len(tries),
                started_at=at_time(s.get("startedAt")),
                ended_at=at_time(s.get("endedAt")),
                exit_code=s.get("exitCode"),
                reason=s.get("reason"),
                cause=s.get("cause"),
                partition=s.get("partition"),
            )
        )
        attempts.extend(
            AttemptRecord(
                run_id=run_id,
                step_id=s["id"],
                attempt=int(a["attempt"]),
                state=StepState(a["state"]),
                started_at=at_time(a.get("startedAt")),
                ended_at=at_time(a.get("endedAt")),
                exit_code=a.get("exitCode"),
                reason=a.get("reason"),
                cause=a.get("cause"),
                log_location=(s.get("links") or {}).get("logs", ""),
            )
            for a in tries
        )
    return found, attempts


# --- runs, status, logs ---------------------------------------------------------------------


def _iso(at: float | None) -> str | None:
    return None if at is None else dt.datetime.fromtimestamp(at, dt.UTC).isoformat()


def runs(
    client: ServerClient,
    *,
    state: str | None,
    playbook: str | None,
    since: float | None,
    until: float | None,
    limit: int,
    output: str,
    partition: str | None,
) -> None:
    from dataflow_runner.cli import history

    page = client.runs(
        {
            "state": state.upper() if state else None,
            "playbook": playbook,
            "since": _iso(since),
            "until": _iso(until),
            "limit": limit,
            "partition": partition,
        }
    )
    history.draw_runs([run_record(r) for r in page["items"]], output=output)


def find(client: ServerClient, ref: str | None) -> dict[str, Any]:
    """A run with its steps: ``ref``'s, else the latest one."""
    if ref is None:
        latest = client.runs({"limit": 1})["items"]
        if not latest:
            raise DataflowRunnerError("no runs yet")
        ref = str(latest[0]["id"])
    found: dict[str, Any] = client.run(ref)
    return found


def status(client: ServerClient, ref: str | None, *, output: str) -> None:
    from dataflow_runner.cli import history

    doc = find(client, ref)
    run = run_record(doc)
    steps, attempts = step_records(run.id, doc.get("steps") or [])
    history.draw_status(run, steps, attempts, output=output)


def logs(
    client: ServerClient,
    ref: str,
    step_id: str,
    *,
    attempt: int | None,
    stream: str,
    follow: bool,
) -> None:
    from dataflow_runner.cli.output import echo

    if follow:
        for line in client.follow_logs(ref, step_id, stream=stream, attempt=attempt):
            sys.stdout.write(line)
            sys.stdout.flush()
        return
    names = ("stdout", "stderr") if stream == "all" else (stream,)
    texts = {n: client.logs(ref, step_id, stream=n, attempt=attempt) for n in names}
    for name, text in texts.items():
        if len(texts) > 1:
            echo(f"==> {name} <==")
        sys.stdout.write(text)
    sys.stdout.flush()


# --- run-transient --------------------------------------------------------------------------


def documents(
    config_path: str, playbook_path: str, variables: dict[str, str], max_size: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cluster config's and the playbook's documents, read as a local run reads
    them (every problem of both files at once)."""
    from dataflow_runner.cli.commands import collect

    cluster, playbook = collect(
        lambda: _cluster_document(config_path, variables, max_size),
        lambda: _playbook_document(playbook_path, variables, max_size),
    )
    return cluster, playbook


def _document(doc: Any, path: str) -> dict[str, Any]:
    from dataflow_runner.errors import ConfigError

    if not isinstance(doc, dict):
        raise ConfigError('expected a document: {"schema": ..., "data": ...}', file=path)
    return doc


def _cluster_document(path: str, variables: dict[str, str], max_size: int) -> dict[str, Any]:
    from dataflow_runner.config.loading import parse, read_text, render

    text = render(read_text(path, max_size), path, variables, max_output=max_size)
    return _document(parse(text, path), path)


def _playbook_document(path: str, variables: dict[str, str], max_size: int) -> dict[str, Any]:
    from dataflow_runner.config.loading import parse, python_lines, render
    from dataflow_runner.config.source import PlaybookSource

    source = PlaybookSource(path, variables, max_size=max_size)
    with python_lines(path, source.text):
        if source.head().partitions is not None:
            return _document(parse(source.text, path), path)  # rendered per partition
        text = render(source.text, path, source.variables(), max_output=max_size)
        return _document(parse(text, path), path)


def body(
    cluster: dict[str, Any],
    playbook: dict[str, Any],
    variables: dict[str, str],
    *,
    lock: str | None,
    soft_lock: str | None,
    fabric: str | None,
    data: DataFlags,
) -> dict[str, Any]:
    """What ``POST /runs`` is sent."""
    for flag, given in (
        ("--last", data.last),
        ("--max-partitions", data.max_partitions),
        ("--force", data.force),
        ("--force-step", data.force_steps),
    ):
        if given:
            raise FlagError(
                f"{flag} cannot be used with --server (a server takes --partition or --from/--to)"
            )
    data.window()  # the flags' own rules, with their messages
    sent: dict[str, Any] = {"cluster": cluster, "playbook": playbook, "vars": variables}
    optional = {
        "lock": lock,
        "softLock": soft_lock,
        "fabric": fabric,
        "partition": data.partition,
        "from": data.from_,
        "to": data.to,
    }
    sent.update({k: v for k, v in optional.items() if v is not None})
    return sent


def run_transient(
    client: ServerClient,
    config_path: str,
    playbook_path: str,
    vars_text: str | None,
    *,
    async_: bool,
    lock: str | None,
    soft_lock: str | None,
    log_failed_steps: bool,
    data: DataFlags,
    common: Common,
) -> None:
    from dataflow_runner.cli.commands import finish, reporter
    from dataflow_runner.config.loading import parse_vars

    variables = parse_vars(vars_text)
    cluster, playbook = documents(config_path, playbook_path, variables, common.max_config_size)
    sent = body(
        cluster,
        playbook,
        variables,
        lock=lock,
        soft_lock=soft_lock,
        fabric=common.fabric,
        data=data,
    )
    accepted = client.submit(sent, files={"cluster": config_path, "playbook": playbook_path})
    run_id = str(accepted["id"])
    if async_:
        submitted(client, run_id, common)
        return
    log.debug("run %s accepted by %s", run_id, client.url)
    drawn = reporter(common)
    outcome = Follower(client, run_id, drawn, common.poll_interval or POLL).follow()
    if log_failed_steps:
        show_failed_logs(client, run_id)
    finish(outcome, success_line=f"Transient {outcome.fabric_label} run completed successfully")


def submitted(client: ServerClient, run_id: str, common: Common) -> None:
    """``--async``: the run's id on stdout (as JSON with ``--output json``)."""
    import json
    import time

    from dataflow_runner.cli.output import echo

    log.info(
        "Run %s submitted to %s; its state: dataflow-runner status %s", run_id, client.url, run_id
    )
    if common.output == "json":
        echo(
            json.dumps(
                {"event": "run_submitted", "time": _iso(time.time()), "run_id": run_id},
                separators=(",", ":"),
            )
        )
    else:
        echo(run_id)


def show_failed_logs(client: ServerClient, run_id: str) -> None:
    """``--log-failed-steps``: each failed step's last log lines, as a local run
    prints them."""
    from dataflow_runner.diagnosis import show_logs

    doc = client.run(run_id)
    for step in doc.get("steps") or []:
        if step.get("state") != "FAILED" or not step.get("attempts"):
            continue
        files = {
            n: client.logs(run_id, step["id"], stream=n, attempt=None) for n in ("stdout", "stderr")
        }
        location = f"{client.url}{(step.get('links') or {}).get('logs', '')}?stream="
        cause = show_logs(files, step["id"], location)
        if cause is not None:
            log.error("Step '%s' (%s): probable cause: %s", step.get("name"), step["id"], cause)


# --- resume ---------------------------------------------------------------------------------


def resume(client: ServerClient, ref: str, vars_text: str | None, *, common: Common) -> None:
    """See the module's docstring: retry an ended run, follow one the server resumes."""
    from dataflow_runner.cli.commands import finish, reporter

    if vars_text:
        raise FlagError(
            "--vars cannot be given to resume a server's run: it runs again with the "
            "variables it was submitted with"
        )
    doc = client.run(ref)
    run_id, state = str(doc["id"]), str(doc["state"])
    before = doc if state in _ENDED else None
    if state == "COMPLETED":
        raise DataflowRunnerError(f"run {run_id} already ended: {state}")
    if state in _ENDED:
        client.retry(run_id)
        log.info(
            "Run %s was %s: the server runs its failed and cancelled steps again", run_id, state
        )
    else:
        log.info(
            "Run %s is %s on %s, which resumes it itself: following it", run_id, state, client.url
        )
    drawn = reporter(common)
    interval = common.poll_interval or POLL
    outcome = Follower(client, run_id, drawn, interval, before=before or doc).follow()
    finish(outcome, success_line=f"Run {outcome.run_id} resumed and completed successfully")
