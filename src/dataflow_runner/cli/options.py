"""The command line's flags, shared by the commands (``app.py``, ``app_history.py``).

Flags keep the Go tool's names and semantics (``--emr-config``, ``--softLock``,
...). Required flags are checked by hand, not by click, because the Go tool
reports a missing one as an error with exit code 1, not as a usage error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

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


def options(*decorators: Callable[[F], F]) -> Callable[[F], F]:
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


def fabrics() -> list[str]:
    from dataflow_runner.fabrics import registry

    return list(registry.names())


fabric_option = click.option(
    "--fabric",
    type=click.Choice(fabrics()),
    help="Run on this fabric whatever the cluster config says.",
)


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange lets ``nan`` (no comparison is true of it) and ``inf``
    through: a number of seconds must be finite."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


#: The largest --max-config-size: a rendering is held in memory, several times over.
MAX_CONFIG_SIZE_LIMIT = 1 << 30

poll_interval = click.option(
    "--poll-interval",
    type=FiniteFloatRange(min=0.1),
    metavar="SECONDS",
    envvar="DATAFLOW_RUNNER_POLL_INTERVAL",
    show_envvar=True,
    help="Seconds between status polls of a remote fabric (default 15, faster at first).",
)
max_config_size = click.option(
    "--max-config-size",
    type=click.IntRange(min=1, max=MAX_CONFIG_SIZE_LIMIT),
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


json_output = click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: for other programs.",
)
