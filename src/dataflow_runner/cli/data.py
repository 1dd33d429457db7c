"""The data-aware commands: ``backfill`` (the incomplete partitions of a window, as
one run; ``--dry-run`` prints the grid of what it would do) and ``partitions`` (the
state of a pipeline's partitions, from the data and the history)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataflow_runner.cli.commands import (
    Common,
    _sentry,
    collect,
    data_request,
    engine,
    finish,
    follow,
    lock_spec,
    playbook_source,
    reporter,
)
from dataflow_runner.cli.output import echo, print_json
from dataflow_runner.config.loading import load_cluster, parse_vars

if TYPE_CHECKING:
    from dataflow_runner.cli.options import DataFlags
    from dataflow_runner.data.grid import Grid
    from dataflow_runner.engine.request import LockSpec, RunRequest


def _request(
    config_path: str,
    playbook_path: str,
    cluster_id: str | None,
    vars_text: str | None,
    data: DataFlags,
    common: Common,
    *,
    lock: LockSpec | None = None,
    log_failed_steps: bool = False,
) -> RunRequest:
    from dataflow_runner.engine.request import RunRequest

    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    config, (source, book) = collect(
        lambda: load_cluster(config_path, variables, max_size=common.max_config_size),
        lambda: playbook_source(playbook_path, variables, common),
    )
    return RunRequest(
        playbook=book,
        source=source,
        **data_request(data),
        cluster=None if cluster_id else config,
        cluster_id=cluster_id or None,
        fabric=common.fabric,
        variables=variables,
        playbook_path=playbook_path,
        cluster_path=config_path,
        poll_interval=common.poll_interval,
        cleanup_timeout=common.cleanup_timeout,
        retry_timeout=common.retry_timeout,
        lock=lock,
        log_failed_steps=log_failed_steps,
    )


def backfill(
    config_path: str,
    playbook_path: str,
    cluster_id: str | None,
    vars_text: str | None,
    *,
    dry_run: bool,
    lock: str | None,
    soft_lock: str | None,
    consul: str | None,
    log_failed_steps: bool,
    data: DataFlags,
    common: Common,
) -> None:
    request = _request(
        config_path,
        playbook_path,
        cluster_id,
        vars_text,
        data,
        common,
        lock=lock_spec(lock, soft_lock, consul, common),
        log_failed_steps=log_failed_steps,
    )
    with engine(common) as eng:
        if dry_run:
            show_grid(eng.preview(request), common.output)
            return
        drawn = reporter(common)
        outcome = follow(eng.submit(request, on_event=drawn), drawn)
    finish(outcome, success_line="Backfill completed successfully")


def partitions(
    config_path: str,
    playbook_path: str,
    vars_text: str | None,
    *,
    data: DataFlags,
    common: Common,
) -> None:
    request = _request(config_path, playbook_path, None, vars_text, data, common)
    with engine(common) as eng:
        show_grid(eng.partition_states(request), common.output)


def show_grid(grid: Grid, output: str) -> None:
    """The grid on stdout: a table and its totals, or JSON."""
    if output == "json":
        print_json(grid.to_json())
        return
    head = ["partition", *grid.steps]
    rows = [[row.partition or "-", *row.cells] for row in grid.rows]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    totals = grid.totals()
    echo("total: " + ", ".join(f"{n} {kind}" for kind, n in totals.items()))
