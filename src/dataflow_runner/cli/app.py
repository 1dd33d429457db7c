"""The click command tree: the Go tool's commands and flags, plus this project's.

Flags keep the Go tool's names and semantics (``--emr-config``, ``--softLock``,
...). Required flags are checked by hand, not by click, because the Go tool
reports a missing one as an error with exit code 1, not as a usage error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from dataflow_runner import __version__
from dataflow_runner.cli.output import LEVELS, setup_logging
from dataflow_runner.errors import FlagError

F = TypeVar("F", bound=Callable[..., Any])

LOCK_HELP = (
    "Path to the lock held for the duration of the jobflow steps. This is materialized by a "
    "file or a KV entry in Consul depending on the --consul flag."
)


def _log_level(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    if value not in LEVELS:
        raise FlagError(f"Supported log levels are {','.join(LEVELS)}, provided {value}")
    setup_logging(value)
    return value


log_level_option = click.option(
    "--log-level",
    metavar="LEVEL",
    callback=_log_level,
    expose_value=False,
    is_eager=True,
    help=f"Logging level, possible values are {','.join(LEVELS)} (default info).",
)


def _options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(f: F) -> F:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


emr_config = click.option("--emr-config", metavar="PATH", help="EMR config path")
emr_playbook = click.option("--emr-playbook", metavar="PATH", help="Playbook path")
emr_cluster = click.option("--emr-cluster", metavar="ID", help="Jobflow ID")
vars_option = click.option(
    "--vars", metavar="K1,V1,...", help="Variables that will be used by the templater"
)
sentry = click.option("--sentry", metavar="DSN", help="The Sentry DSN to send errors to")
async_option = click.option(
    "--async", "async_", is_flag=True, help="Asynchronous execution of the jobflow steps"
)
log_failed_steps = click.option(
    "--log-failed-steps",
    is_flag=True,
    help="Whether or not to retrieve and display the logs for any failed step",
)
lock = click.option("--lock", metavar="NAME", help=LOCK_HELP)
soft_lock = click.option(
    "--softLock",
    "soft_lock",
    metavar="NAME",
    help=LOCK_HELP + " Released no matter if the operation failed or succeeded.",
)
lock_backend = click.option(
    "--lock-backend",
    metavar="URL",
    envvar="DATAFLOW_RUNNER_LOCK_BACKEND",
    show_envvar=True,
    help="Where --lock/--softLock live: file (default) or etcd://HOST:PORT.",
)
consul = click.option(
    "--consul", metavar="ADDR", help="Address of the Consul server used for distributed locking"
)
state_dir = click.option(
    "--state-dir",
    metavar="DIR",
    envvar="DATAFLOW_RUNNER_HOME",
    show_envvar=True,
    help="Where runs, logs and the SQLite store live (default: the XDG state directory).",
)
store_option = click.option(
    "--store",
    metavar="URL",
    envvar="DATAFLOW_RUNNER_STORE",
    show_envvar=True,
    help="A PostgreSQL URL (postgresql://...) for a shared store; default SQLite in --state-dir.",
)
output = click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON event per line on stdout, for other programs.",
)
fabric_option = click.option(
    "--fabric",
    type=click.Choice(["local", "emr"]),
    help="Run on this fabric whatever the cluster config says (local ignores EMR machines).",
)
poll_interval = click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    envvar="DATAFLOW_RUNNER_POLL_INTERVAL",
    show_envvar=True,
    help="Seconds between status polls of a remote fabric (default 15, faster at first).",
)
max_config_size = click.option(
    "--max-config-size",
    type=click.IntRange(min=1),
    metavar="BYTES",
    envvar="DATAFLOW_RUNNER_MAX_CONFIG_SIZE",
    show_envvar=True,
    help="The largest config file read, and template output rendered (default 16 MiB).",
)
dry_run = click.option(
    "--dry-run",
    is_flag=True,
    help="Validate everything, send nothing: print the exact request as JSON on stdout.",
)


def require(**flags: str | None) -> None:
    """The Go tool's check and message for a missing required flag (exit code 1)."""
    for name, value in flags.items():
        if not value:
            raise FlagError(f"--{name.replace('_', '-')} needs to be specified")


def check_lock_flags(
    *, async_: bool, lock: str | None, soft_lock: str | None, consul: str | None
) -> None:
    """The Go tool's lock flag rules, with its messages."""
    if consul and not lock and not soft_lock:
        raise FlagError("--lock or --softLock is needed to make use of --consul")
    if lock and soft_lock:
        raise FlagError("--lock and --softLock are mutually exclusive")
    if async_ and (lock or soft_lock):
        raise FlagError("--async and --lock or --softLock are not compatible")


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
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Run templatable playbooks of Hadoop/Spark/et al jobs on dataflow fabrics:
    this machine (local) and Amazon EMR."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _common(**kwargs: Any) -> Any:
    from dataflow_runner.cli.commands import Common

    return Common(**{k: v for k, v in kwargs.items() if v is not None})


@cli.command()
@_options(
    emr_config,
    vars_option,
    sentry,
    dry_run,
    fabric_option,
    state_dir,
    store_option,
    poll_interval,
    max_config_size,
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
        ),
    )


@cli.command()
@_options(
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
    log_level_option,
)
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
        common=_common(
            sentry=sentry,
            output=output,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            lock_backend=lock_backend,
            max_config_size=max_config_size,
        ),
    )


@cli.command()
@_options(
    emr_config,
    emr_cluster,
    vars_option,
    sentry,
    dry_run,
    state_dir,
    store_option,
    poll_interval,
    max_config_size,
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
        ),
    )


@cli.command("run-transient")
@_options(
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
    log_level_option,
)
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
) -> None:
    """Launches a cluster, runs the playbook and then terminates the cluster"""
    from dataflow_runner.cli import commands

    require(emr_config=emr_config, emr_playbook=emr_playbook)
    check_lock_flags(async_=False, lock=lock, soft_lock=soft_lock, consul=consul)
    commands.run_transient(
        emr_config or "",
        emr_playbook or "",
        vars,
        dry_run=dry_run,
        lock=lock,
        soft_lock=soft_lock,
        consul=consul,
        log_failed_steps=log_failed_steps,
        common=_common(
            sentry=sentry,
            fabric=fabric,
            output=output,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            lock_backend=lock_backend,
            max_config_size=max_config_size,
        ),
    )


@cli.command()
@_options(emr_config, emr_playbook, vars_option, max_config_size, log_level_option)
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


# --- history -------------------------------------------------------------------------


def _store(state_dir: str | None, store: str | None) -> Any:
    from dataflow_runner.cli.commands import Common, open_store

    return open_store(Common(state_dir=state_dir, store=store))


json_output = click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: for other programs.",
)


@cli.command()
@_options(
    click.option("--state", metavar="STATE", help="RUNNING, COMPLETED, FAILED, CANCELLED or DEAD."),
    click.option("--playbook", metavar="NAME", help="Only runs of this playbook."),
    click.option("--since", metavar="WHEN", help="Started at or after (2026-11-22, 3h)."),
    click.option("--until", metavar="WHEN", help="Started before."),
    click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True),
    json_output,
    state_dir,
    store_option,
    log_level_option,
)
def runs(
    state: str | None,
    playbook: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    output: str,
    state_dir: str | None,
    store: str | None,
) -> None:
    """Lists recent runs, newest first"""
    from dataflow_runner.cli import history

    if state and state.upper() not in ("RUNNING", "COMPLETED", "FAILED", "CANCELLED", "DEAD"):
        raise FlagError(
            f"--state must be one of RUNNING, COMPLETED, FAILED, CANCELLED, DEAD; got {state}"
        )
    db = _store(state_dir, store)
    try:
        history.runs(
            db, state=state, playbook=playbook, since=since, until=until, limit=limit, output=output
        )
    finally:
        db.close()


@cli.command()
@click.argument("run_id", metavar="[RUN]", required=False)
@_options(json_output, state_dir, store_option, log_level_option)
def status(run_id: str | None, output: str, state_dir: str | None, store: str | None) -> None:
    """Shows a run's steps with their states, attempts and durations (default: the latest)"""
    from dataflow_runner.cli import history

    db = _store(state_dir, store)
    try:
        history.status(db, run_id, output=output)
    finally:
        db.close()


@cli.command()
@click.argument("run_id", metavar="RUN")
@click.argument("step_id", metavar="STEP")
@_options(
    click.option(
        "--attempt", type=click.IntRange(min=1), help="Which attempt (default: the last)."
    ),
    click.option(
        "--stream", type=click.Choice(["all", "stdout", "stderr"]), default="all", show_default=True
    ),
    click.option("--follow", "-f", is_flag=True, help="Keep printing until the step ends."),
    state_dir,
    store_option,
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
) -> None:
    """Prints a step's output (stdout and stderr) from a run"""
    from dataflow_runner.cli import history

    db = _store(state_dir, store)
    try:
        history.logs(db, run_id, step_id, attempt=attempt, stream=stream, follow=follow)
    finally:
        db.close()


@cli.command()
@_options(
    click.option("--fabric", type=click.Choice(["local", "emr"])),
    click.option("--active", is_flag=True, help="Only clusters not terminated."),
    click.option(
        "--orphans",
        is_flag=True,
        help="EMR clusters tagged by this tool that no live run owns "
        "(asks EMR, with the default AWS credentials).",
    ),
    click.option("--region", metavar="REGION", help="The AWS region for --orphans."),
    json_output,
    state_dir,
    store_option,
    log_level_option,
)
def clusters(
    fabric: str | None,
    active: bool,
    orphans: bool,
    region: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
) -> None:
    """Lists the clusters this tool launched"""
    from dataflow_runner.cli import history

    db = _store(state_dir, store)
    try:
        if orphans:
            history.orphans(db, region=region, output=output)
        else:
            history.clusters(db, fabric=fabric, active=active, output=output)
    finally:
        db.close()


# --- locks -----------------------------------------------------------------------------


@cli.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@_options(consul, lock_backend, json_output, state_dir, store_option, log_level_option)
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

    db = _store(state_dir, store)
    try:
        lock_commands.locks(db, names, consul=consul, backend=lock_backend, output=output)
    finally:
        db.close()


@cli.command()
@click.argument("name", metavar="NAME")
@_options(consul, lock_backend, log_level_option)
def unlock(name: str, consul: str | None, lock_backend: str | None) -> None:
    """Releases a lock (a hard lock kept after a failed run), saying who held it"""
    from dataflow_runner.cli import locks as lock_commands

    lock_commands.unlock(name, consul=consul, backend=lock_backend)


@cli.command()
@click.argument("run_id", metavar="RUN")
@_options(
    vars_option,
    output,
    state_dir,
    store_option,
    poll_interval,
    lock_backend,
    max_config_size,
    log_level_option,
)
def resume(
    run_id: str,
    vars: str | None,
    output: str,
    state_dir: str | None,
    store: str | None,
    poll_interval: float | None,
    lock_backend: str | None,
    max_config_size: int | None,
) -> None:
    """Continues a run whose runner died: nothing done is done again, nothing submitted twice"""
    from dataflow_runner.cli import commands

    commands.resume(
        run_id,
        vars,
        common=_common(
            output=output,
            state_dir=state_dir,
            store=store,
            poll_interval=poll_interval,
            lock_backend=lock_backend,
            max_config_size=max_config_size,
        ),
    )
