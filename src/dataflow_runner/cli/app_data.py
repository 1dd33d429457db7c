"""The data-aware commands' flags: ``backfill`` and ``partitions`` (``data.py``
does the work)."""

from __future__ import annotations

import click

from dataflow_runner.cli.options import (
    DataFlags,
    cleanup_timeout,
    consul,
    data_flags,
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
    require,
    retry_timeout,
    sentry,
    soft_lock,
    state_dir,
    store_option,
    vars_option,
)
from dataflow_runner.cli.options import check_lock_flags as _check_lock_flags
from dataflow_runner.errors import FlagError

DRY_RUN_GRID = click.option(
    "--dry-run",
    is_flag=True,
    help="Run nothing: print, for each partition and step, done, run or wait (blocked by "
    "a dependency or an input), and the totals.",
)


@click.command()
@options(
    emr_config,
    emr_playbook,
    emr_cluster,
    DRY_RUN_GRID,
    log_failed_steps,
    lock,
    soft_lock,
    consul,
    lock_backend,
    vars_option,
    sentry,
    fabric_option,
    output,
    state_dir,
    store_option,
    poll_interval,
    max_config_size,
    cleanup_timeout,
    retry_timeout,
    log_level_option,
)
@data_flags(
    "from_", "to", "last", "reverse", "max_partitions", "concurrency", "force", "force_steps"
)
def backfill(
    emr_config: str | None,
    emr_playbook: str | None,
    emr_cluster: str | None,
    dry_run: bool,
    log_failed_steps: bool,
    lock: str | None,
    soft_lock: str | None,
    consul: str | None,
    lock_backend: str | None,
    vars: str | None,
    sentry: str | None,
    fabric: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
    poll_interval: float | None,
    max_config_size: int | None,
    cleanup_timeout: float,
    retry_timeout: float,
    data: DataFlags,
) -> None:
    """Runs the incomplete partitions of a window (--from/--to or --last), as one run"""
    from dataflow_runner.cli import data as commands
    from dataflow_runner.cli.commands import common_options as _common

    require(emr_config=emr_config, emr_playbook=emr_playbook)
    _window_required(data)
    _check_lock_flags(async_=False, lock=lock, soft_lock=soft_lock, consul=consul)
    commands.backfill(
        emr_config or "",
        emr_playbook or "",
        emr_cluster,
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


@click.command()
@options(
    emr_config,
    emr_playbook,
    vars_option,
    fabric_option,
    output,
    state_dir,
    store_option,
    max_config_size,
    log_level_option,
)
@data_flags("from_", "to", "last", "max_partitions")
def partitions(
    emr_config: str | None,
    emr_playbook: str | None,
    vars: str | None,
    fabric: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
    max_config_size: int | None,
    data: DataFlags,
) -> None:
    """Shows each partition's steps: done, missing, failed (last time) or running"""
    from dataflow_runner.cli import data as commands
    from dataflow_runner.cli.commands import common_options as _common

    require(emr_config=emr_config, emr_playbook=emr_playbook)
    commands.partitions(
        emr_config or "",
        emr_playbook or "",
        vars,
        data=data,
        common=_common(
            fabric=fabric,
            output=output,
            state_dir=state_dir,
            store=store,
            max_config_size=max_config_size,
        ),
    )


def _window_required(data: DataFlags) -> None:
    if data.last is None and (data.from_ is None or data.to is None):
        raise FlagError("backfill needs a window: --from DATE --to DATE, or --last N")


COMMANDS = (backfill, partitions)
