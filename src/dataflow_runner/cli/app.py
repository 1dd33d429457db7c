"""The click command tree: the Go tool's commands and flags, plus this project's
(the history commands are in ``app_history.py``, the flags in ``options.py``).
"""

from __future__ import annotations

from typing import Any

import click

from dataflow_runner import __version__
from dataflow_runner.cli import (
    app_clusters,
    app_data,
    app_history,
    app_pools,
    app_render,
    app_schedules,
    app_server,
)
from dataflow_runner.cli.options import (
    DataFlags,
    async_option,
    check_lock_flags,
    cleanup_timeout,
    consul,
    data_flags,
    dry_run,
    emr_cluster,
    emr_config,
    emr_playbook,
    fabric_option,
    lock,
    lock_backend,
    log_failed_steps,
    log_level_option,
    max_config_size,
    options,
    output,
    poll_interval,
    remote,
    require,
    retry_timeout,
    sentry,
    server_option,
    soft_lock,
    state_dir,
    store_option,
    token_option,
    vars_option,
)
from dataflow_runner.errors import FlagError


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    invoke_without_command=True,
)
@click.version_option(
    __version__,
    "-v",
    "--version",
    prog_name="dataflow-runner",
    message="%(prog)s version %(version)s",
)
@log_level_option
@server_option
@token_option
@click.pass_context
def cli(ctx: click.Context, server: str | None, token: str | None) -> None:
    """Run templatable playbooks of Hadoop/Spark/et al jobs on dataflow fabrics:
    this machine (local) and Amazon EMR."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _common(**kwargs: Any) -> Any:
    from dataflow_runner.cli.commands import common_options

    return common_options(**kwargs)


@cli.command()
@options(
    emr_config,
    vars_option,
    sentry,
    dry_run,
    fabric_option,
    state_dir,
    store_option,
    poll_interval,
    max_config_size,
    retry_timeout,
    log_level_option,
)
def up(
    emr_config: str | None,
    vars: str | None,
    sentry: str | None,
    dry_run: bool,
    fabric: str | None,
    state_dir: str | None,
    store: str | None,
    poll_interval: float | None,
    max_config_size: int | None,
    retry_timeout: float,
) -> None:
    """Launches a new cluster (EMR, or local) and prints its id"""
    from dataflow_runner.cli import commands

    require(emr_config=emr_config)
    commands.up(
        emr_config or "",
        vars,
        dry_run=dry_run,
        common=_common(
            sentry=sentry,
            fabric=fabric,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            max_config_size=max_config_size,
            retry_timeout=retry_timeout,
        ),
    )


@cli.command()
@options(
    emr_playbook,
    emr_cluster,
    log_failed_steps,
    async_option,
    lock,
    soft_lock,
    consul,
    lock_backend,
    vars_option,
    sentry,
    dry_run,
    output,
    state_dir,
    store_option,
    poll_interval,
    max_config_size,
    cleanup_timeout,
    retry_timeout,
    log_level_option,
)
@data_flags("partition", "from_", "to", "last", "max_partitions", "force", "force_steps")
def run(
    emr_playbook: str | None,
    emr_cluster: str | None,
    log_failed_steps: bool,
    async_: bool,
    lock: str | None,
    soft_lock: str | None,
    consul: str | None,
    lock_backend: str | None,
    vars: str | None,
    sentry: str | None,
    dry_run: bool,
    output: str,
    state_dir: str | None,
    store: str | None,
    poll_interval: float | None,
    max_config_size: int | None,
    cleanup_timeout: float,
    retry_timeout: float,
    data: DataFlags,
) -> None:
    """Adds steps to a running cluster and follows them (EMR j-..., local l-...)"""
    from dataflow_runner.cli import commands

    require(emr_playbook=emr_playbook, emr_cluster=emr_cluster)
    check_lock_flags(async_=async_, lock=lock, soft_lock=soft_lock, consul=consul)
    commands.run(
        emr_playbook or "",
        emr_cluster or "",
        vars,
        dry_run=dry_run,
        async_=async_,
        lock=lock,
        soft_lock=soft_lock,
        consul=consul,
        log_failed_steps=log_failed_steps,
        data=data,
        common=_common(
            sentry=sentry,
            output=output,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            lock_backend=lock_backend,
            max_config_size=max_config_size,
            cleanup_timeout=cleanup_timeout,
            retry_timeout=retry_timeout,
        ),
    )


@cli.command()
@options(
    emr_config,
    emr_cluster,
    vars_option,
    sentry,
    dry_run,
    state_dir,
    store_option,
    poll_interval,
    max_config_size,
    retry_timeout,
    log_level_option,
)
def down(
    emr_config: str | None,
    emr_cluster: str | None,
    vars: str | None,
    sentry: str | None,
    dry_run: bool,
    state_dir: str | None,
    store: str | None,
    poll_interval: float | None,
    max_config_size: int | None,
    retry_timeout: float,
) -> None:
    """Terminates a running cluster (EMR j-..., local l-...)"""
    from dataflow_runner.cli import commands

    require(emr_config=emr_config, emr_cluster=emr_cluster)
    commands.down(
        emr_config or "",
        emr_cluster or "",
        vars,
        dry_run=dry_run,
        common=_common(
            sentry=sentry,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            max_config_size=max_config_size,
            retry_timeout=retry_timeout,
        ),
    )


@cli.command("run-transient")
@options(
    emr_config,
    emr_playbook,
    log_failed_steps,
    lock,
    soft_lock,
    consul,
    lock_backend,
    vars_option,
    sentry,
    dry_run,
    fabric_option,
    output,
    state_dir,
    store_option,
    poll_interval,
    max_config_size,
    cleanup_timeout,
    retry_timeout,
    click.option(
        "--async",
        "async_",
        is_flag=True,
        help="With --server: return once the server took the run, printing its id.",
    ),
    server_option,
    token_option,
    log_level_option,
)
@data_flags("partition", "from_", "to", "last", "max_partitions", "force", "force_steps")
def run_transient(
    emr_config: str | None,
    emr_playbook: str | None,
    log_failed_steps: bool,
    lock: str | None,
    soft_lock: str | None,
    consul: str | None,
    lock_backend: str | None,
    vars: str | None,
    sentry: str | None,
    dry_run: bool,
    fabric: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
    poll_interval: float | None,
    max_config_size: int | None,
    cleanup_timeout: float,
    retry_timeout: float,
    async_: bool,
    server: str | None,
    token: str | None,
    data: DataFlags,
) -> None:
    """Launches a cluster, runs the playbook and then terminates the cluster"""
    from dataflow_runner.cli import commands

    require(emr_config=emr_config, emr_playbook=emr_playbook)
    check_lock_flags(async_=async_, lock=lock, soft_lock=soft_lock, consul=consul)
    target = remote(server, token, "dry_run", "consul", "lock_backend", "state_dir", "store")
    if target is not None:
        from dataflow_runner.cli import remote as on_server

        with on_server.connect(target.url, target.token) as client:
            on_server.run_transient(
                client,
                emr_config or "",
                emr_playbook or "",
                vars,
                async_=async_,
                lock=lock,
                soft_lock=soft_lock,
                log_failed_steps=log_failed_steps,
                data=data,
                common=_common(
                    sentry=sentry,
                    fabric=fabric,
                    output=output,
                    poll_interval=poll_interval,
                    max_config_size=max_config_size,
                ),
            )
        return
    if async_:
        raise FlagError(
            "--async needs --server: a local transient run ends its cluster, so it "
            "waits for its steps"
        )
    commands.run_transient(
        emr_config or "",
        emr_playbook or "",
        vars,
        dry_run=dry_run,
        lock=lock,
        soft_lock=soft_lock,
        consul=consul,
        log_failed_steps=log_failed_steps,
        data=data,
        common=_common(
            sentry=sentry,
            fabric=fabric,
            output=output,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            lock_backend=lock_backend,
            max_config_size=max_config_size,
            cleanup_timeout=cleanup_timeout,
            retry_timeout=retry_timeout,
        ),
    )


@cli.command()
@options(emr_config, emr_playbook, vars_option, max_config_size, log_level_option)
def validate(
    emr_config: str | None,
    emr_playbook: str | None,
    vars: str | None,
    max_config_size: int | None,
) -> None:
    """Checks a cluster config and/or a playbook; prints every problem, one per line"""
    from dataflow_runner.cli import commands

    if not emr_config and not emr_playbook:
        raise FlagError("--emr-config or --emr-playbook needs to be specified")
    commands.validate(
        emr_config, emr_playbook, vars, common=_common(max_config_size=max_config_size)
    )


@cli.command()
@click.argument("run_id", metavar="RUN")
@options(
    vars_option,
    output,
    state_dir,
    store_option,
    poll_interval,
    consul,
    lock_backend,
    max_config_size,
    cleanup_timeout,
    retry_timeout,
    server_option,
    token_option,
    log_level_option,
)
def resume(
    run_id: str,
    vars: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
    poll_interval: float | None,
    consul: str | None,
    lock_backend: str | None,
    max_config_size: int | None,
    cleanup_timeout: float,
    retry_timeout: float,
    server: str | None,
    token: str | None,
) -> None:
    """Continues a run whose runner died: nothing done is done again, nothing submitted twice"""
    from dataflow_runner.cli import commands

    target = remote(server, token, "consul", "lock_backend", "state_dir", "store")
    if target is not None:
        from dataflow_runner.cli import remote as on_server

        with on_server.connect(target.url, target.token) as client:
            on_server.resume(
                client,
                app_history.run_ref(run_id),
                vars,
                common=_common(output=output, poll_interval=poll_interval),
            )
        return

    commands.resume(
        app_history.run_ref(run_id),
        vars,
        consul=consul,
        common=_common(
            output=output,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            lock_backend=lock_backend,
            max_config_size=max_config_size,
            cleanup_timeout=cleanup_timeout,
            retry_timeout=retry_timeout,
        ),
    )


for _command in (
    *app_history.COMMANDS,
    *app_clusters.COMMANDS,
    *app_data.COMMANDS,
    *app_render.COMMANDS,
    *app_server.COMMANDS,
    *app_pools.COMMANDS,
    *app_schedules.COMMANDS,
):
    cli.add_command(_command)


def long_flag_names() -> frozenset[str]:
    """Every long flag of every command, for Go-style ``-flag`` rewriting."""
    names: set[str] = set()
    commands: list[click.Command] = [cli, *cli.commands.values()]
    for command in commands:
        for param in command.params:
            for opt in getattr(param, "opts", ()):
                if opt.startswith("--"):
                    names.add(opt[2:])
    return frozenset(names)
