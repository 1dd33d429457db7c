"""Entry point: argv → click command → exit code, in one place.

Exit codes (the Go tool's, which scripts depend on): 0 success, 1 any failure
(a missing required flag included), 17 lock already held, 2 an unknown command
or flag. Users see one line per problem, never a traceback (``--log-level
debug`` adds it).

This module stays import-light: ``--version`` and ``--help`` answer without
importing click or logging (the help text is click's own, rendered ahead and
checked by a test), and the command tree is imported only when a command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dataflow_runner import __version__

if TYPE_CHECKING:
    from typing import NoReturn

PROG = "dataflow-runner"


def normalize_go_flags(args: Sequence[str], long_flags: frozenset[str]) -> list[str]:
    """Accept Go's single-dash long flags (``-emr-config x``), as the Go tool's
    flag parser does, by rewriting them to ``--emr-config x``.

    >>> normalize_go_flags(["up", "-emr-config=c.json"], frozenset({"emr-config"}))
    ['up', '--emr-config=c.json']
    """
    out: list[str] = []
    passthrough = False
    for arg in args:
        if passthrough or arg == "--":
            passthrough = True
            out.append(arg)
            continue
        single_dash = arg.startswith("-") and not arg.startswith("--") and len(arg) > 2
        out.append("-" + arg if single_dash and arg[1:].split("=", 1)[0] in long_flags else arg)
    return out


#: Flags whose value is a path: any bytes the file system takes (Python keeps the
#: ones that are not UTF-8 as lone surrogates, which ``open`` turns back into bytes).
_PATH_FLAGS = frozenset(
    ("--emr-config", "--emr-playbook", "--state-dir", "--store", "--lock", "--softLock")
)


def check_text(args: Sequence[str]) -> None:
    """Every argument but a path must be UTF-8 text: a run id, a step id, a name or a
    variable that is not reaches the store or a config as a lone surrogate, which
    neither can hold.

    >>> check_text(["runs", "--playbook", "nightly"])
    """
    from dataflow_runner.errors import FlagError

    for i, arg in enumerate(args):
        if arg.isascii() or not any("\udc80" <= ch <= "\udcff" for ch in arg):
            continue
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
        else:
            flag = args[i - 1] if i > 0 and args[i - 1].startswith("-") else ""
            value = arg
        if flag in _PATH_FLAGS:
            continue
        shown = os.fsencode(value).decode("utf-8", "backslashreplace")
        raise FlagError(f"{flag + ': ' if flag else ''}expected UTF-8 text, got '{shown}'")


def _debug_enabled(args: Sequence[str]) -> bool:
    for i, arg in enumerate(args):
        if arg in ("--log-level=debug", "-log-level=debug"):
            return True
        if arg in ("--log-level", "-log-level") and args[i + 1 : i + 2] == ["debug"]:
            return True
    return False


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the command line and exit with its code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--version"], ["-v"]):
        sys.stdout.write(f"{PROG} version {__version__}\n")
        sys.exit(0)
    if args in ([], ["--help"], ["-h"]):
        from dataflow_runner.cli.help_text import TOP_HELP

        sys.stdout.write(TOP_HELP)
        sys.exit(0)
    sys.exit(run(args))


def run(args: list[str]) -> int:
    """Run the command line, returning the exit code (for tests and embedding)."""
    import logging

    import click

    from dataflow_runner.cli import app

    log = logging.getLogger("dataflow_runner")
    from dataflow_runner.cli.output import setup_logging
    from dataflow_runner.config.redact import SECRETS, scrub
    from dataflow_runner.errors import EXIT_FAILURE, EXIT_USAGE, DataflowRunnerError

    # Secret-looking environment variables (AWS_SECRET_ACCESS_KEY, ..._PASSWORD,
    # ..._TOKEN) may reach a config through systemEnv: mask their values everywhere.
    SECRETS.add_environment()
    # The password of a URL given as a flag (--consul, --lock-backend, --store, a
    # --vars value) is masked wherever it is quoted, a usage error included.
    for arg in args:
        SECRETS.add_url(arg)
    setup_logging("debug" if _debug_enabled(args) else "info")
    args = normalize_go_flags(args, app.long_flag_names())
    try:
        check_text(args)
        app.cli.main(args, prog_name=PROG, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        return 0
    except click.UsageError as exc:
        from dataflow_runner.cli.output import printable

        where = f"{exc.ctx.command_path}: " if exc.ctx else f"{PROG}: "
        message = " ".join(exc.format_message().split())
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        sys.stderr.write(printable(scrub(f"{where}{message}{hint}")) + "\n")
        return EXIT_USAGE
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        log.error("aborted")
        return 130
    except DataflowRunnerError as exc:
        _report(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): nothing left to say to it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as exc:  # the last line of defence: still no traceback
        log.debug("internal error", exc_info=True)
        log.error(
            "internal error: %s: %s (run with --log-level debug for details)",
            type(exc).__name__,
            exc,
        )
        return EXIT_FAILURE
    return 0


def _report(exc: BaseException) -> None:
    import logging

    from dataflow_runner.cli import sentry

    log = logging.getLogger("dataflow_runner")
    from dataflow_runner.errors import DataflowRunnerError, LockHeldError

    sentry.capture(exc)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("error detail", exc_info=exc)
    lines = exc.lines() if isinstance(exc, DataflowRunnerError) else [str(exc)]
    for line in lines:
        if isinstance(exc, LockHeldError):
            log.warning(line)  # as the Go tool: a held lock is a warning, exit 17
        else:
            log.error(line)
