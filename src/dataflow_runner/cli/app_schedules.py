"""The schedule commands that talk to a server: ``trigger`` (run a schedule now)
and ``schedules`` (list them). The server's address comes from ``--server`` or
``DATAFLOW_RUNNER_SERVER``, its token from ``--token`` or ``DATAFLOW_RUNNER_TOKEN``;
the calls are ``client/api.py``'s (httpx, imported when a command runs)."""

from __future__ import annotations

import json
from typing import Any

import click

from dataflow_runner.cli.options import (
    json_output,
    log_level_option,
    options,
    server_client,
    server_option,
    token_option,
)


@click.command()
@click.argument("name")
@options(
    click.option("--partition", metavar="P", help="The partition to run (a date or a time)."),
    click.option("--vars", "vars_", metavar="K1,V1,...", help="Variables for the run."),
    server_option,
    token_option,
    json_output,
    log_level_option,
)
def trigger(
    name: str,
    partition: str | None,
    vars_: str | None,
    server: str | None,
    token: str | None,
    output: str,
) -> None:
    """Runs a server's schedule now (prints the run's id)"""
    from dataflow_runner.config.loading import parse_vars

    variables = parse_vars(vars_)
    with server_client(server, token) as client:
        found = client.trigger(name, variables, partition)
    if output == "json":
        click.echo(json.dumps(found))
        return
    click.echo(f"schedule '{name}' triggered: run", err=True)
    click.echo(found["id"])


@click.command()
@options(server_option, token_option, json_output, log_level_option)
def schedules(server: str | None, token: str | None, output: str) -> None:
    """Lists a server's schedules: next tick, paused, last run"""
    from dataflow_runner.cli.output import print_listed

    with server_client(server, token) as client:
        print_listed(client.schedules(), output, "no schedules", _schedule_line)


def _schedule_line(schedule: dict[str, Any]) -> str:
    last = schedule["lastRuns"][0] if schedule["lastRuns"] else None
    shown = f"{last['ref']} {last['state']}" if last else "-"
    state = "paused" if schedule["paused"] else f"next {schedule['nextTick'] or '-'}"
    return f"{schedule['name']}  {schedule['cron'] or schedule['trigger']}  {state}  last {shown}"


COMMANDS = (trigger, schedules)
