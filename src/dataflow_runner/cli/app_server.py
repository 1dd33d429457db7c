"""The server's commands: ``server`` (the REST API and its workers, ``server/``)
and ``tokens`` (its bearer tokens). FastAPI and uvicorn are imported only when
``server`` runs: the command line's start stays light."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dataflow_runner.cli.options import json_output, log_level_option, options, state_dir
from dataflow_runner.cli.options import store_option as store

ROLES = ("viewer", "submitter", "admin")
#: The most runs one server executes at once.
MAX_WORKERS = 256


def _engine(state_dir: str | None, store: str | None) -> Any:
    from dataflow_runner.cli.commands import Common, engine, opened

    return opened(engine(Common(state_dir=state_dir, store=store)))


@click.command()
@options(
    click.option(
        "--host", default="127.0.0.1", show_default=True, help="The address to listen on."
    ),
    click.option(
        "--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="The port."
    ),
    state_dir,
    store,
    click.option(
        "--workers",
        type=click.IntRange(1, MAX_WORKERS),
        default=4,
        show_default=True,
        help="Runs this server executes at once.",
    ),
    click.option(
        "--secret-key-file",
        metavar="FILE",
        help="The key that encrypts submitted configs and signs sessions (env "
        "DATAFLOW_RUNNER_SECRET_KEY: the key itself; default: server.key in the state "
        "directory, made once). Servers sharing a store must share it.",
    ),
    click.option(
        "--insecure",
        is_flag=True,
        help="Listen on another address than loopback without any token.",
    ),
    click.option(
        "--size-classes",
        metavar="FILE",
        help="The pools' size classes: a JSON or YAML file mapping tiny, small, medium, "
        "large and xlarge to cluster config files (paths relative to it).",
    ),
    click.option(
        "--cluster-poll-interval",
        type=click.FloatRange(0.1, 3600),
        default=15.0,
        show_default=True,
        metavar="SECONDS",
        help="Seconds between two polls of the registry's clusters (one call per cluster).",
    ),
    click.option(
        "--deploy-from",
        metavar="REPO",
        help="Deploy the playbooks (and schedules) of this git repository (a URL or a "
        "path): polled, and on POST /api/v1/deploy.",
    ),
    click.option("--branch", default="main", show_default=True, help="The branch to deploy."),
    click.option(
        "--path",
        "deploy_path",
        default="",
        metavar="DIR",
        help="The repository's directory of playbooks (default: all of it).",
    ),
    click.option(
        "--deploy-interval",
        type=click.FloatRange(1, 86400),
        default=60.0,
        show_default=True,
        help="Seconds between two fetches of the repository.",
    ),
    click.option(
        "--deploy-secret",
        metavar="SECRET",
        envvar="DATAFLOW_RUNNER_DEPLOY_SECRET",
        help="The push webhook's secret (GitHub's signature, GitLab's token; env "
        "DATAFLOW_RUNNER_DEPLOY_SECRET).",
    ),
    # For tests: the time is read from this file (epoch seconds), and the
    # scheduler's lease lasts this long.
    click.option("--clock-file", hidden=True),
    click.option("--scheduler-lease", type=float, default=15.0, hidden=True),
    log_level_option,
)
def server(
    host: str,
    port: int,
    state_dir: str | None,
    store: str | None,
    workers: int,
    secret_key_file: str | None,
    insecure: bool,
    size_classes: str | None,
    cluster_poll_interval: float,
    deploy_from: str | None,
    branch: str,
    deploy_path: str,
    deploy_interval: float,
    deploy_secret: str | None,
    clock_file: str | None,
    scheduler_lease: float,
) -> None:
    """Serves the REST API (/api/v1, /docs) and runs what it is sent"""
    from dataflow_runner.cli.commands import Common
    from dataflow_runner.cli.commands import state_dir as state_path
    from dataflow_runner.server.main import serve
    from dataflow_runner.server.settings import ServerSettings

    serve(
        ServerSettings(
            host=host,
            port=port,
            state_dir=state_path(Common(state_dir=state_dir, store=store)),
            store=store,
            workers=workers,
            insecure=insecure,
            secret_key_file=Path(secret_key_file) if secret_key_file else None,
            size_classes=Path(size_classes) if size_classes else None,
            cluster_poll_interval=cluster_poll_interval,
            deploy_from=deploy_from,
            deploy_branch=branch,
            deploy_path=deploy_path,
            deploy_interval=deploy_interval,
            deploy_secret=deploy_secret,
            clock_file=Path(clock_file) if clock_file else None,
            scheduler_lease=scheduler_lease,
        )
    )


@click.group()
def tokens() -> None:
    """Makes, lists and revokes the server's bearer tokens"""


@tokens.command("create")
@options(
    click.option("--name", required=True, help="Who or what uses it (unique among live tokens)."),
    click.option(
        "--role",
        type=click.Choice(ROLES),
        required=True,
        help="viewer: read; submitter: read, submit, cancel and retry its runs; admin: all.",
    ),
    state_dir,
    store,
    log_level_option,
)
def create(name: str, role: str, state_dir: str | None, store: str | None) -> None:
    """Makes a token and prints it (once: only its hash is kept)"""
    from dataflow_runner.engine import tokens as made

    with _engine(state_dir, store) as engine:
        record, secret = made.create(engine, name, role)
    click.echo(secret)
    click.echo(f"token '{record.name}' ({record.role.value}) made: keep it, it is not shown again",
               err=True)  # fmt: skip


@tokens.command("revoke")
@click.argument("name")
@options(state_dir, store, log_level_option)
def revoke(name: str, state_dir: str | None, store: str | None) -> None:
    """Revokes a token (by name or id): it is refused from now on"""
    from dataflow_runner.engine import tokens as made

    with _engine(state_dir, store) as engine:
        made.revoke(engine, name)
    click.echo(f"token '{name}' revoked", err=True)


@tokens.command("list")
@options(state_dir, store, json_output, log_level_option)
def list_tokens(state_dir: str | None, store: str | None, output: str) -> None:
    """Lists the tokens (never the tokens themselves)"""
    from dataflow_runner.cli.output import printable
    from dataflow_runner.engine import tokens as made

    with _engine(state_dir, store) as engine:
        found = made.listed(engine)
    rows = [
        {
            "id": t.id,
            "name": t.name,
            "role": t.role.value,
            "created_at": t.created_at,
            "revoked_at": t.revoked_at,
            "last_used_at": t.last_used_at,
        }
        for t in found
    ]
    if output == "json":
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no tokens")
        return
    for row in rows:
        state = "revoked" if row["revoked_at"] is not None else "live"
        click.echo(printable(f"{row['id']}  {row['name']}  {row['role']}  {state}"))


COMMANDS = (server, tokens)
