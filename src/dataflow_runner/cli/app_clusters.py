"""``clusters``: the clusters this tool knows. Without a server it lists the
store's (as it always did); with ``--server URL`` (or ``DATAFLOW_RUNNER_SERVER``,
the token in ``DATAFLOW_RUNNER_TOKEN`` or ``--token``) it lists the server's
registry, and its subcommands change it: ``clusters tag ID --add T --remove T``
and ``clusters drain A --to B [--terminate-when-idle]`` (admin). The calls are
``client/api.py``'s (httpx, imported only then)."""

from __future__ import annotations

from typing import Any

import click

from dataflow_runner.cli.options import (
    fabrics,
    json_output,
    log_level_option,
    options,
    remote,
    server_client,
    server_option,
    state_dir,
    store_option,
    token_option,
)
from dataflow_runner.errors import FlagError


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
    token_option,
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
    token: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
) -> None:
    """Lists the clusters this tool knows (a server's registry with --server)"""
    ctx.obj = {"server": server, "token": token, "output": output}
    if ctx.invoked_subcommand is not None:
        return
    target = None if orphans else remote(server, token, "state_dir", "store")
    if target is not None:
        with server_client(target.url, target.token) as client:
            found = client.clusters()
        kept = [
            c for c in found
            if (fabric is None or c["fabric"] == fabric)
            and (not active or c["status"] != "TERMINATED")
        ]  # fmt: skip
        show_clusters(kept, output)
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
    token_option,
    log_level_option,
)
@click.pass_obj
def tag(
    obj: dict[str, Any], cluster_id: str, add: tuple[str, ...], remove: tuple[str, ...],
    server: str | None, token: str | None,
) -> None:  # fmt: skip
    """Adds and removes tags of a server's cluster"""
    with server_client(server or obj["server"], token or obj["token"]) as client:
        if not add and not remove:
            raise FlagError("give --add TAG or --remove TAG")
        tags = client.tag(cluster_id, add=add, remove=remove)
    click.echo(f"{cluster_id}: {' '.join(tags) or '(no tags)'}")


@clusters.command("drain")
@click.argument("source", metavar="A")
@options(
    click.option("--to", "target", required=True, metavar="B", help="The cluster taking A's tags."),
    click.option(
        "--terminate-when-idle", is_flag=True, help="Terminate A once it has nothing left to run."
    ),
    server_option,
    token_option,
    log_level_option,
)
@click.pass_obj
def drain(
    obj: dict[str, Any], source: str, target: str, terminate_when_idle: bool,
    server: str | None, token: str | None,
) -> None:  # fmt: skip
    """Moves cluster A's tags to B and sets A OUT_OF_SERVICE: new jobs go to B"""
    with server_client(server or obj["server"], token or obj["token"]) as client:
        a, b = client.drain(source, target, terminate_when_idle=terminate_when_idle)
    click.echo(
        f"{a['id']}: {a['status']}{' (terminated once idle)' if terminate_when_idle else ''}"
    )
    click.echo(f"{b['id']}: {b['status']}, tags {' '.join(b['tags'])}")


def show_clusters(found: list[dict[str, Any]], output: str) -> None:
    """A server's clusters, as a table (or JSON)."""
    from dataflow_runner.cli.output import echo, print_json

    if output == "json":
        print_json(found)
        return
    if not found:
        echo("no clusters")
        return
    rows = [
        [c["id"], c["status"], c["fabric"], c["name"], f"{c['load']}/{c['capacity']}",
         " ".join(c["tags"])]
        for c in found
    ]  # fmt: skip
    header = ["CLUSTER", "STATUS", "FABRIC", "NAME", "LOAD", "TAGS"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


COMMANDS = (clusters,)
