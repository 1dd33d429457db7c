"""``pools``: a server's pools of clusters, through its API (``/api/v1/pools``):
``--server URL`` (or ``DATAFLOW_RUNNER_SERVER``), the token in ``--token`` or
``DATAFLOW_RUNNER_TOKEN``. The calls are ``client/api.py``'s (httpx, imported
only when a command runs)."""

from __future__ import annotations

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


@click.group()
def pools() -> None:
    """Lists, creates and deletes a server's pools of clusters"""


@pools.command("list")
@options(server_option, token_option, json_output, log_level_option)
def list_pools(server: str | None, token: str | None, output: str) -> None:
    """Lists the pools, with their clusters and queues"""
    from dataflow_runner.cli.output import print_listed

    with server_client(server, token) as client:
        print_listed(client.pools(), output, "no pools", _pool_line)


def _pool_line(pool: dict[str, Any]) -> str:
    size = pool["sizeClass"] or "own config"
    up = sum(1 for c in pool["clusters"] if c["state"] in ("WAITING", "RUNNING"))
    return (
        f"{pool['name']}  {pool['state']}  {size}  clusters {up}/{len(pool['clusters'])} "
        f"(min {pool['minClusters']}, max {pool['maxClusters']})  waiting {pool['waiting']}  "
        f"tags {','.join(pool['tags']) or '-'}"
    )


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
    token_option,
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
    token: str | None,
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
    with server_client(server, token) as client:
        made = client.put_pool(name, body)
    click.echo(f"pool '{made['name']}' saved ({made['fabric']}, {made['minClusters']} to "
               f"{made['maxClusters']} clusters)", err=True)  # fmt: skip


@pools.command("delete")
@click.argument("name")
@options(server_option, token_option, log_level_option)
def delete(name: str, server: str | None, token: str | None) -> None:
    """Deletes a pool: its clusters end once idle"""
    with server_client(server, token) as client:
        client.delete_pool(name)
    click.echo(f"pool '{name}' deleted: its clusters end once idle", err=True)


COMMANDS = (pools,)
