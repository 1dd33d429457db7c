"""The command line's flags, shared by the commands (``app.py``, ``app_history.py``).

Flags keep the Go tool's names and semantics (``--emr-config``, ``--softLock``,
...). Required flags are checked by hand, not by click, because the Go tool
reports a missing one as an error with exit code 1, not as a usage error.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from dataflow_runner.cli.output import LEVELS, setup_logging
from dataflow_runner.client.api import SERVER_ENV, TOKEN_ENV, ServerClient
from dataflow_runner.errors import FlagError

if TYPE_CHECKING:
    from dataflow_runner.data.partitions import Window

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


class Seconds(click.ParamType):  # type: ignore[type-arg]
    """A number of seconds: finite, and within bounds (click's FloatRange lets NaN
    through, and infinity means nothing here)."""

    name = "seconds"

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, high

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            seconds = value
        else:
            try:
                seconds = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not math.isfinite(seconds) or not self.low <= seconds <= self.high:
            self.fail(
                f"{value!r} is not a number of seconds from {self.low:g} to {self.high:g}",
                param,
                ctx,
            )
        return seconds


#: The largest --max-config-size: a rendering is held in memory, several times over.
MAX_CONFIG_SIZE_LIMIT = 1 << 30

poll_interval = click.option(
    "--poll-interval",
    type=Seconds(0.1, 3600),
    metavar="SECONDS",
    envvar="DATAFLOW_RUNNER_POLL_INTERVAL",
    show_envvar=True,
    help="Seconds between status polls of a remote fabric (default 15, faster at first).",
)
cleanup_timeout = click.option(
    "--cleanup-timeout",
    type=Seconds(1, 86_400),
    default=60.0,
    metavar="SECONDS",
    envvar="DATAFLOW_RUNNER_CLEANUP_TIMEOUT",
    show_envvar=True,
    help="How long the cleanup after a cancel or a failure may take; then the tool says "
    "what it could not do (a cluster left up, and the command to end it) (default 60).",
)
retry_timeout = click.option(
    "--retry-timeout",
    type=Seconds(1, 86_400),
    default=900.0,
    metavar="SECONDS",
    envvar="DATAFLOW_RUNNER_RETRY_TIMEOUT",
    show_envvar=True,
    help="How long a remote fabric may stay unreachable (throttled, 5xx, no network) "
    "before the command gives up and says what failed (default 900).",
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


# --- data-aware runs -----------------------------------------------------------------


@dataclass(frozen=True)
class DataFlags:
    """The flags of a data-aware run: which partitions, what to run again."""

    partition: str | None = None
    from_: str | None = None
    to: str | None = None
    last: int | None = None
    max_partitions: int | None = None
    reverse: bool = False
    force: bool = False
    force_steps: tuple[str, ...] = ()
    concurrency: int | None = None

    def window(self) -> Window | None:
        """The partitions asked for (None: the default, the latest closed one)."""
        from dataflow_runner.data.partitions import Window

        if self.partition is not None and (self.from_ is not None or self.to is not None):
            raise FlagError("--partition cannot be given with --from or --to")
        if self.to is not None and self.from_ is None:
            raise FlagError("--to needs --from")
        if self.from_ is not None and self.to is None:
            raise FlagError("--from needs --to")
        if not (self.partition or self.from_ or self.last or self.max_partitions or self.reverse):
            return None
        return Window(
            first=self.partition or self.from_,
            last=self.to,
            latest=self.last,
            reverse=self.reverse,
            max_partitions=self.max_partitions,
        )


_PARTITION_HELP = "a date or time such as 2026-11-20 or 2026-11-20T03:00 (the playbook's zone)"
_DATA_OPTIONS: dict[str, Callable[[F], F]] = {
    "partition": click.option(
        "--partition",
        metavar="DATE",
        help=f"Run for this partition of a partitioned playbook: {_PARTITION_HELP} "
        "(default: the latest closed one).",
    ),
    "from_": click.option(
        "--from", "from_", metavar="DATE", help="The first partition of a window (inclusive)."
    ),
    "to": click.option("--to", metavar="DATE", help="The last partition of a window (inclusive)."),
    "last": click.option(
        "--last",
        type=click.IntRange(min=1),
        metavar="N",
        help="The N most recent closed partitions.",
    ),
    "max_partitions": click.option(
        "--max-partitions",
        type=click.IntRange(min=1),
        metavar="N",
        help="Allow a window of up to N partitions (default 10,000).",
    ),
    "reverse": click.option(
        "--reverse", is_flag=True, help="Start with the most recent partitions."
    ),
    "force": click.option(
        "--force", is_flag=True, help="Run every step, even those whose outputs exist."
    ),
    "force_steps": click.option(
        "--force-step",
        "force_steps",
        multiple=True,
        metavar="ID",
        help="Run this step again, and everything downstream of it (repeatable).",
    ),
    "concurrency": click.option(
        "--concurrency",
        type=click.IntRange(min=1),
        metavar="N",
        help="Run up to N steps at once (default: the playbook's).",
    ),
}


def data_flags(*names: str) -> Callable[[F], F]:
    """The data flags ``names`` (see :class:`DataFlags`), handed to the command as
    one ``data`` argument."""

    def apply(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            values["force_steps"] = tuple(values.get("force_steps") or ())
            return f(*args, data=DataFlags(**values), **kwargs)

        out: Any = wrapper
        for name in reversed(names):
            out = _DATA_OPTIONS[name](out)
        return cast(F, out)

    return apply


# --- a server ------------------------------------------------------------------------


def _secret(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A token given as a flag is masked wherever it could be shown."""
    if value:
        from dataflow_runner.config.redact import SECRETS

        SECRETS.add(value)
    return value


server_option = click.option(
    "--server",
    metavar="URL",
    envvar=SERVER_ENV,
    show_envvar=True,
    help="Ask this server (dataflow-runner server) instead of running here or reading the "
    "local store (run-transient, runs, status, logs, resume, clusters); pools, schedules "
    f"and trigger need one. Its token in {TOKEN_ENV}.",
)
token_option = click.option(
    "--token",
    metavar="TOKEN",
    envvar=TOKEN_ENV,
    callback=_secret,
    help=f"The server's bearer token (better in the environment: {TOKEN_ENV}).",
)


@dataclass(frozen=True)
class Remote:
    """The server a command talks to, and its token."""

    url: str
    token: str | None


def remote(server: str | None, token: str | None, *local_flags: str) -> Remote | None:
    """The server this command talks to (its ``--server``, else the top-level one or
    ``DATAFLOW_RUNNER_SERVER``), or None to work locally. ``local_flags``: the
    parameters that mean a local store or run, refused with a server when they
    were given on the command line."""
    ctx = click.get_current_context()
    root = ctx.find_root().params
    url = server or root.get("server")
    if not url:
        return None
    for name in local_flags:
        if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
            flag = "--" + name.replace("_", "-")
            raise FlagError(
                f"{flag} cannot be used with --server (or {SERVER_ENV}): the server "
                "has its own store and runs what it is sent"
            )
    return Remote(url, token or root.get("token"))


def server_client(server: str | None, token: str | None, *local_flags: str) -> ServerClient:
    """A client of the server a command needs (found as ``remote`` finds it); without
    one, a one-line error. httpx is imported only when the client is made."""
    target = remote(server, token, *local_flags)
    if target is None:
        raise FlagError(f"this needs a server: give --server URL or set {SERVER_ENV}")
    return ServerClient(target.url, target.token)
