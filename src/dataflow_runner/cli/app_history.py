"""The history commands: ``runs``, ``status``, ``logs``, ``locks`` and ``unlock``
(they read the engine's history; ``history.py`` draws it). ``clusters`` is in
``app_clusters.py``."""

from __future__ import annotations

from typing import Any

import click

from dataflow_runner.cli.options import (
    consul,
    json_output,
    lock_backend,
    log_level_option,
    options,
    remote,
    server_option,
    state_dir,
    store_option,
    token_option,
)
from dataflow_runner.errors import FlagError

#: The most runs one page of ``runs`` shows (the store's MAX_PAGE; not imported, to
#: keep the command line's start-up light: a test checks they agree).
RUNS_LIMIT = 1000
#: More attempts than a step can have (at most 100 retries).
MAX_ATTEMPT = 1000
#: The states a run may be in (``RunState``, not imported for the same reason).
RUN_STATES = ("QUEUED", "RUNNING", "SUBMITTED", "COMPLETED", "FAILED", "CANCELLED", "DEAD")
#: Longer than any run id (``r-20261122-153012-8f3a1c``): a longer one matches none.
MAX_RUN_REF = 128


def run_ref(value: str) -> str:
    """A run id (or a prefix of one) as given on the command line."""
    if not value.strip():
        raise FlagError(f"expected a run id, got {value!r}")
    if len(value) > MAX_RUN_REF:
        raise FlagError(
            f"expected a run id of at most {MAX_RUN_REF} characters, got {value[:40]!r}... "
            f"({len(value)} characters)"
        )
    return value


def _engine(state_dir: str | None, store: str | None) -> Any:
    from dataflow_runner.cli.commands import Common, engine

    return engine(Common(state_dir=state_dir, store=store))


@click.command()
@options(
    click.option("--state", metavar="STATE", help=", ".join(RUN_STATES[:-1]) + " or DEAD."),
    click.option("--playbook", metavar="NAME", help="Only runs of this playbook."),
    click.option("--since", metavar="WHEN", help="Started at or after (2026-11-22, 3h)."),
    click.option("--until", metavar="WHEN", help="Started before."),
    click.option(
        "--limit", type=click.IntRange(min=1, max=RUNS_LIMIT), default=20, show_default=True
    ),
    click.option(
        "--partition",
        metavar="DATE",
        help="Only runs for a partition starting that day (2026-11-20) or hour (T03:00), UTC.",
    ),
    json_output,
    state_dir,
    store_option,
    server_option,
    token_option,
    log_level_option,
)
def runs(
    state: str | None,
    playbook: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    partition: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """Lists recent runs, newest first"""
    from dataflow_runner.cli import history

    if state is not None and state.upper() not in RUN_STATES:
        raise FlagError(f"--state must be one of {', '.join(RUN_STATES)}; got {state!r}")
    bounds = {
        flag: history.parse_when(flag, value)
        for flag, value in (("--since", since), ("--until", until))
        if value is not None
    }
    target = remote(server, token, "state_dir", "store")
    if target is not None:
        from dataflow_runner.cli import remote as on_server

        with on_server.connect(target.url, target.token) as client:
            on_server.runs(
                client,
                state=state,
                playbook=playbook,
                since=bounds.get("--since"),
                until=bounds.get("--until"),
                limit=limit,
                output=output,
                partition=partition,
            )
        return
    with _engine(state_dir, store) as engine:
        history.runs(
            engine,
            state=state,
            playbook=playbook,
            since=bounds.get("--since"),
            until=bounds.get("--until"),
            limit=limit,
            output=output,
            partition=partition,
        )


@click.command()
@click.argument("run_id", metavar="[RUN]", required=False)
@options(json_output, state_dir, store_option, server_option, token_option, log_level_option)
def status(
    run_id: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """Shows a run's steps with their states, attempts and durations (default: the latest)"""
    from dataflow_runner.cli import history

    ref = None if run_id is None else run_ref(run_id)
    target = remote(server, token, "state_dir", "store")
    if target is not None:
        from dataflow_runner.cli import remote as on_server

        with on_server.connect(target.url, target.token) as client:
            on_server.status(client, ref, output=output)
        return
    with _engine(state_dir, store) as engine:
        history.status(engine, ref, output=output)


@click.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step_id", metavar="STEP")
@options(
    click.option(
        "--attempt",
        type=click.IntRange(min=1, max=MAX_ATTEMPT),
        help="Which attempt (default: the last).",
    ),
    click.option(
        "--stream", type=click.Choice(["all", "stdout", "stderr"]), default="all", show_default=True
    ),
    click.option("--follow", "-f", is_flag=True, help="Keep printing until the step ends."),
    state_dir,
    store_option,
    server_option,
    token_option,
    log_level_option,
)
def logs(
    run_id: str,
    step_id: str,
    attempt: int | None,
    stream: str,
    follow: bool,
    state_dir: str | None,
    store: str | None,
    server: str | None,
    token: str | None,
) -> None:
    """Prints a step's output (stdout and stderr) from a run"""
    from dataflow_runner.cli import history

    ref = run_ref(run_id)
    target = remote(server, token, "state_dir", "store")
    if target is not None:
        from dataflow_runner.cli import remote as on_server

        with on_server.connect(target.url, target.token) as client:
            on_server.logs(client, ref, step_id, attempt=attempt, stream=stream, follow=follow)
        return
    with _engine(state_dir, store) as engine:
        history.logs(engine, ref, step_id, attempt=attempt, stream=stream, follow=follow)


# --- locks -----------------------------------------------------------------------------


@click.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@options(consul, lock_backend, json_output, state_dir, store_option, log_level_option)
def locks(
    names: tuple[str, ...],
    consul: str | None,
    lock_backend: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
) -> None:
    """Shows who holds the locks of recent runs (or the NAMEs given)"""
    from dataflow_runner.cli import locks as lock_commands

    with _engine(state_dir, store) as engine:
        lock_commands.locks(engine, names, consul=consul, backend=lock_backend, output=output)


@click.command()
@click.argument("name", metavar="NAME")
@options(consul, lock_backend, log_level_option)
def unlock(name: str, consul: str | None, lock_backend: str | None) -> None:
    """Releases a lock (a hard lock kept after a failed run), saying who held it"""
    from dataflow_runner.cli import locks as lock_commands

    lock_commands.unlock(name, consul=consul, backend=lock_backend)


COMMANDS = (runs, status, logs, locks, unlock)
