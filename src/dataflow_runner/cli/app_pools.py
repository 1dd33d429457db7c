"""``pools``: a server's pools of clusters, through its API (``/api/v1/pools``):
``--server URL`` (or ``DATAFLOW_RUNNER_SERVER``), the token in
``DATAFLOW_RUNNER_TOKEN``. httpx is imported only when a command runs."""

from __future__ import annotations

import json
import os
from typing import Any

import click

from dataflow_runner.cli.options import json_output, log_level_option, options
from dataflow_runner.errors import DataflowRunnerError, FlagError

SERVER_ENV = "DATAFLOW_RUNNER_SERVER"
TOKEN_ENV = "DATAFLOW_RUNNER_TOKEN"

server_option = click.option(
    "--server",
    metavar="URL",
    help=f"The server (default: ${SERVER_ENV}); the token is ${TOKEN_ENV}.",
)


def call(server: str | None, method: str, path: str, body: Any = None) -> Any:
    """One API call; an error answer becomes one line (the server's message)."""
    import httpx

    url = server or os.environ.get(SERVER_ENV)
    if not url:
        raise FlagError(f"--server URL (or {SERVER_ENV}) is needed")
    token = os.environ.get(TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.request(
            method, url.rstrip("/") + "/api/v1" + path, json=body, headers=headers, timeout=30
        )
    except httpx.HTTPError as exc:
        raise DataflowRunnerError(f"cannot reach the server at {url}: {exc}") from None
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            lines = [d.get("text") or d.get("message") for d in error.get("details") or []]
            message = "; ".join(str(line) for line in lines if line) or error["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        raise DataflowRunnerError(f"the server answered {response.status_code}: {message}")
    return response.json() if response.content else None


@click.group()
def pools() -> None:
    """Lists, creates and deletes a server's pools of clusters"""


@pools.command("list")
@options(server_option, json_output, log_level_option)
def list_pools(server: str | None, output: str) -> None:
    """Lists the pools, with their clusters and queues"""
    from dataflow_runner.cli.output import printable

    found = call(server, "GET", "/pools")
    if output == "json":
        click.echo(json.dumps(found))
        return
    if not found:
        click.echo("no pools")
        return
    for pool in found:
        size = pool["sizeClass"] or "own config"
        up = sum(1 for c in pool["clusters"] if c["state"] in ("WAITING", "RUNNING"))
        click.echo(printable(
            f"{pool['name']}  {pool['state']}  {size}  clusters {up}/{len(pool['clusters'])} "
            f"(min {pool['minClusters']}, max {pool['maxClusters']})  waiting {pool['waiting']}  "
            f"tags {','.join(pool['tags']) or '-'}"
        ))  # fmt: skip


@pools.command("create")
@click.argument("name")
@options(
    click.option("--size-class", type=click.Choice(["tiny", "small", "medium", "large", "xlarge"])),
    click.option(
        "--cluster-config", metavar="FILE", help="A cluster config file (instead of a size class)."
    ),
    click.option("--tag", "tags", multiple=True, metavar="TAG", help="A tag its clusters carry."),
    click.option("--min-clusters", type=int, default=0, show_default=True),
    click.option("--max-clusters", type=int, default=1, show_default=True),
    click.option("--max-steps-per-cluster", type=int, default=1, show_default=True),
    click.option("--idle-minutes", type=float, default=30, show_default=True),
    server_option,
    log_level_option,
)
def create(
    name: str,
    size_class: str | None,
    cluster_config: str | None,
    tags: tuple[str, ...],
    min_clusters: int,
    max_clusters: int,
    max_steps_per_cluster: int,
    idle_minutes: float,
    server: str | None,
) -> None:
    """Creates (or replaces) a pool"""
    body: dict[str, Any] = {
        "tags": list(tags),
        "minClusters": min_clusters,
        "maxClusters": max_clusters,
        "maxStepsPerCluster": max_steps_per_cluster,
        "idleMinutes": idle_minutes,
    }
    if size_class:
        body["sizeClass"] = size_class
    if cluster_config:
        from dataflow_runner.config.loading import parse, read_text

        body["cluster"] = parse(read_text(cluster_config), cluster_config)
    made = call(server, "PUT", f"/pools/{name}", body)
    click.echo(f"pool '{made['name']}' saved ({made['fabric']}, {made['minClusters']} to "
               f"{made['maxClusters']} clusters)", err=True)  # fmt: skip


@pools.command("delete")
@click.argument("name")
@options(server_option, log_level_option)
def delete(name: str, server: str | None) -> None:
    """Deletes a pool: its clusters end once idle"""
    call(server, "DELETE", f"/pools/{name}")
    click.echo(f"pool '{name}' deleted: its clusters end once idle", err=True)


COMMANDS = (pools,)
