"""``clusters``: the clusters this tool knows. Without a server it lists the
store's (as it always did); with ``--server URL`` (or ``DATAFLOW_RUNNER_SERVER``,
the token in ``DATAFLOW_RUNNER_TOKEN``) it lists the server's registry, and its
subcommands change it: ``clusters tag ID --add T --remove T`` and ``clusters
drain A --to B [--terminate-when-idle]`` (admin). ``cli/server_client.py`` makes
the calls (httpx, imported only then)."""

from __future__ import annotations

from typing import Any

import click

from dataflow_runner.cli.options import (
    fabrics,
    json_output,
    log_level_option,
    options,
    state_dir,
    store_option,
)
from dataflow_runner.errors import FlagError

server_option = click.option(
    "--server",
    metavar="URL",
    envvar="DATAFLOW_RUNNER_SERVER",
    help="A server's URL (env DATAFLOW_RUNNER_SERVER; its token in DATAFLOW_RUNNER_TOKEN).",
)


def _need_server(server: str | None) -> str:
    if not server:
        raise FlagError("this needs a server: give --server URL or set DATAFLOW_RUNNER_SERVER")
    return server


@click.group(invoke_without_command=True)
@options(
    click.option("--fabric", type=click.Choice(fabrics())),
    click.option("--active", is_flag=True, help="Only clusters not terminated."),
    click.option(
        "--orphans",
        is_flag=True,
        help="EMR clusters tagged by this tool that no live run owns "
        "(asks EMR, with the default AWS credentials).",
    ),
    click.option("--region", metavar="REGION", help="The AWS region for --orphans."),
    server_option,
    json_output,
    state_dir,
    store_option,
    log_level_option,
)
@click.pass_context
def clusters(
    ctx: click.Context,
    fabric: str | None,
    active: bool,
    orphans: bool,
    region: str | None,
    server: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
) -> None:
    """Lists the clusters this tool knows (a server's registry with --server)"""
    ctx.obj = {"server": server, "output": output}
    if ctx.invoked_subcommand is not None:
        return
    if server and not orphans:
        from dataflow_runner.cli import server_client

        found = server_client.clusters(server, fabric=fabric, active=active)
        server_client.show_clusters(found, output)
        return
    from dataflow_runner.cli import history
    from dataflow_runner.cli.app_history import _engine

    with _engine(state_dir, store) as engine:
        if orphans:
            history.orphans(engine, region=region, output=output)
        else:
            history.clusters(engine, fabric=fabric, active=active, output=output)


@clusters.command("tag")
@click.argument("cluster_id", metavar="ID")
@options(
    click.option("--add", "add", multiple=True, metavar="TAG", help="A tag to add (repeatable)."),
    click.option(
        "--remove", "remove", multiple=True, metavar="TAG", help="A tag to remove (repeatable)."
    ),
    server_option,
    log_level_option,
)
@click.pass_obj
def tag(
    obj: dict[str, Any], cluster_id: str, add: tuple[str, ...], remove: tuple[str, ...],
    server: str | None,
) -> None:  # fmt: skip
    """Adds and removes tags of a server's cluster"""
    from dataflow_runner.cli import server_client

    url = _need_server(server or obj.get("server"))
    if not add and not remove:
        raise FlagError("give --add TAG or --remove TAG")
    tags = server_client.tag(url, cluster_id, add=list(add), remove=list(remove))
    click.echo(f"{cluster_id}: {' '.join(tags) or '(no tags)'}")


@clusters.command("drain")
@click.argument("source", metavar="A")
@options(
    click.option("--to", "target", required=True, metavar="B", help="The cluster taking A's tags."),
    click.option(
        "--terminate-when-idle", is_flag=True, help="Terminate A once it has nothing left to run."
    ),
    server_option,
    log_level_option,
)
@click.pass_obj
def drain(
    obj: dict[str, Any], source: str, target: str, terminate_when_idle: bool, server: str | None
) -> None:
    """Moves cluster A's tags to B and sets A OUT_OF_SERVICE: new jobs go to B"""
    from dataflow_runner.cli import server_client

    url = _need_server(server or obj.get("server"))
    a, b = server_client.drain(url, source, target, terminate_when_idle=terminate_when_idle)
    click.echo(
        f"{a['id']}: {a['status']}{' (terminated once idle)' if terminate_when_idle else ''}"
    )
    click.echo(f"{b['id']}: {b['status']}, tags {' '.join(b['tags'])}")


COMMANDS = (clusters,)
