"""The schedule commands that talk to a server: ``trigger`` (run a schedule now)
and ``schedules`` (list them). The server's address comes from ``--server`` or
``DATAFLOW_RUNNER_SERVER``, its token from ``DATAFLOW_RUNNER_TOKEN``. The HTTP
call is small and self-contained (httpx, imported when a command runs)."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from dataflow_runner.cli.options import json_output, log_level_option, options
from dataflow_runner.errors import DataflowRunnerError, FlagError

server_option = click.option(
    "--server",
    metavar="URL",
    envvar="DATAFLOW_RUNNER_SERVER",
    help="The server (env DATAFLOW_RUNNER_SERVER; its token: DATAFLOW_RUNNER_TOKEN).",
)


def call(server: str | None, method: str, path: str, body: Any = None) -> Any:
    """One call of a server's API: its JSON, or its error as one line."""
    if not server:
        raise FlagError("--server (or DATAFLOW_RUNNER_SERVER) is needed: the server's URL")
    import httpx

    token = os.environ.get("DATAFLOW_RUNNER_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, server.rstrip("/") + path, json=body, headers=headers, timeout=60.0
        )
    except httpx.HTTPError as exc:
        raise DataflowRunnerError(f"cannot reach the server at {server}: {exc}") from None
    try:
        found = response.json()
    except ValueError:
        found = None
    if response.status_code >= 400:
        error = found.get("error", {}) if isinstance(found, dict) else {}
        details = error.get("details") or []
        lines = [d.get("text") or d.get("message") for d in details if isinstance(d, dict)]
        message = "; ".join(str(x) for x in lines if x) or error.get("message")
        raise DataflowRunnerError(str(message or f"the server answered {response.status_code}"))
    return found


@click.command()
@click.argument("name")
@options(
    click.option("--partition", metavar="P", help="The partition to run (a date or a time)."),
    click.option("--vars", "vars_", metavar="K1,V1,...", help="Variables for the run."),
    server_option,
    json_output,
    log_level_option,
)
def trigger(
    name: str, partition: str | None, vars_: str | None, server: str | None, output: str
) -> None:
    """Runs a server's schedule now (prints the run's id)"""
    from dataflow_runner.config.loading import parse_vars

    body: dict[str, Any] = {"vars": parse_vars(vars_)}
    if partition:
        body["partition"] = partition
    found = call(server, "POST", f"/api/v1/schedules/{name}/trigger", body)
    if output == "json":
        click.echo(json.dumps(found))
        return
    click.echo(f"schedule '{name}' triggered: run", err=True)
    click.echo(found["id"])


@click.command()
@options(server_option, json_output, log_level_option)
def schedules(server: str | None, output: str) -> None:
    """Lists a server's schedules: next tick, paused, last run"""
    from dataflow_runner.cli.output import printable

    found = call(server, "GET", "/api/v1/schedules")
    if output == "json":
        click.echo(json.dumps(found))
        return
    if not found:
        click.echo("no schedules")
        return
    for s in found:
        last = s["lastRuns"][0] if s["lastRuns"] else None
        shown = f"{last['ref']} {last['state']}" if last else "-"
        state = "paused" if s["paused"] else f"next {s['nextTick'] or '-'}"
        click.echo(printable(f"{s['name']}  {s['cron'] or s['trigger']}  {state}  last {shown}"))


COMMANDS = (trigger, schedules)
