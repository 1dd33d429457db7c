"""What each command does once its flags are checked (``app.py``): load the files,
build a request, call the engine API (``dataflow_runner.Engine``), draw its
events, and turn the outcome into the Go tool's last line and exit code.

Nothing here writes the store, talks to a fabric or waits in a loop: the
engine does. Signals are translated into the run's cancel at this edge: the
first SIGINT, SIGTERM or SIGHUP cancels the run, a second one forces it to stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from dataflow_runner.cli.output import echo, print_json
from dataflow_runner.config.limits import DEFAULT_MAX_SIZE
from dataflow_runner.config.loading import load_cluster, load_playbook, parse_vars
from dataflow_runner.config.model import ClusterConfig
from dataflow_runner.config.redact import SECRETS
from dataflow_runner.errors import ConfigError, ConfigErrors

if TYPE_CHECKING:
    from dataflow_runner.cli.reporters import Reporter
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.cancel import CancelToken
    from dataflow_runner.engine.events import RunOutcome
    from dataflow_runner.engine.handle import RunHandle
    from dataflow_runner.engine.request import LockSpec
    from dataflow_runner.fabrics.base import Plan

log = logging.getLogger("dataflow_runner")

#: The signals that stop a run: a closed terminal (SIGHUP) is a SIGTERM.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class Common:
    """Options shared by the commands that run something."""

    state_dir: str | None = None
    store: str | None = None
    output: str = "text"
    fabric: str | None = None
    poll_interval: float | None = None
    sentry: str | None = None
    lock_backend: str | None = None
    max_config_size: int = DEFAULT_MAX_SIZE


# --- helpers -------------------------------------------------------------------------


def _sentry(dsn: str | None) -> None:
    if dsn:
        from dataflow_runner.cli import sentry

        SECRETS.add_all(sentry.dsn_secrets(dsn))

        sentry.init(dsn)


def collect(*loaders: Callable[[], Any]) -> list[Any]:
    """Run each loader, reporting the problems of all of them before failing."""
    errors: list[ConfigError] = []
    results: list[Any] = []
    for load in loaders:
        try:
            results.append(load())
        except ConfigErrors as exc:
            errors.extend(exc.errors)
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return results


def state_dir(common: Common) -> Path:
    from dataflow_runner.store import default_state_dir

    return Path(common.state_dir) if common.state_dir else default_state_dir()


def engine(common: Common) -> Engine:
    from dataflow_runner.engine.api import Engine

    return Engine(state_dir=state_dir(common), store=common.store)


def reporter(common: Common) -> Reporter:
    from dataflow_runner.cli.reporters import Both, JsonReporter, PlainReporter

    if common.output == "json":
        return Both(PlainReporter(), JsonReporter())
    if sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        from dataflow_runner.cli.live import LiveReporter

        return LiveReporter()
    return PlainReporter()


def lock_spec(
    lock: str | None, soft_lock: str | None, consul: str | None, common: Common
) -> LockSpec | None:
    from dataflow_runner.engine.request import LockSpec

    name = lock or soft_lock
    if not name:
        return None
    return LockSpec(name, soft=bool(soft_lock), consul=consul, backend=common.lock_backend)


@contextlib.contextmanager
def stop_on_signals(cancel: Callable[[str], None], force: Callable[[], None]) -> Iterator[None]:
    """While the block runs, the first SIGINT/SIGTERM/SIGHUP calls ``cancel`` with the
    signal's name, the next ones ``force``. Main thread only (as signals are)."""
    received: list[str] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if len(received) == 1:
            cancel(received[0])
        else:
            force()

    previous = {}
    for sig in STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def follow(handle: RunHandle, drawn: Reporter) -> RunOutcome:
    """Wait for a run, a signal cancelling it; the drawing is closed at the end."""
    try:
        with stop_on_signals(
            lambda name: handle.cancel(f"interrupted by {name}", signal=name), handle.force
        ):
            return handle.wait()
    finally:
        drawn.close()


def token_for_signals() -> CancelToken:
    from dataflow_runner.engine.cancel import CancelToken

    return CancelToken()


def finish(
    outcome: RunOutcome, *, success_line: str | None = None, common: Common | None = None
) -> None:
    """The Go tool's last line and exit code for a run's outcome (``--output json``:
    a detached run's id on stdout, for scripts)."""
    if outcome.state.value == "SUBMITTED" and common is not None and common.output == "json":
        from dataflow_runner.cli.reporters import JsonReporter

        JsonReporter().submitted(outcome)
    failure = outcome.failure()
    if failure is not None:
        raise failure
    if success_line and outcome.state.value == "COMPLETED":
        log.info(success_line)


def show_plan(plan: Plan) -> None:
    """A dry run's output: its line on stderr, the exact request as JSON on stdout."""
    if plan.message:
        log.info("%s", plan.message)
    print_json(dict(plan.document))


def _label(name: str) -> str:
    from dataflow_runner.engine.lifecycle import capitalised

    return capitalised(name)


# --- commands ------------------------------------------------------------------------


def up(config_path: str, vars_text: str | None, *, dry_run: bool, common: Common) -> None:
    _sentry(common.sentry)
    config = load_cluster(config_path, parse_vars(vars_text), max_size=common.max_config_size)
    with engine(common) as eng:
        if dry_run:
            show_plan(eng.plan_launch(config, common.fabric))
            return
        token = token_for_signals()
        with stop_on_signals(
            lambda name: token.cancel(f"{name} received", signal=name), token.force
        ):
            info = eng.launch_cluster(
                config, fabric=common.fabric, token=token, poll_interval=common.poll_interval
            )
    log.info("%s cluster launched successfully; Jobflow ID: %s", _label(info.label), info.id)


def run(
    playbook_path: str,
    cluster_id: str,
    vars_text: str | None,
    *,
    dry_run: bool,
    async_: bool,
    lock: str | None,
    soft_lock: str | None,
    consul: str | None,
    log_failed_steps: bool,
    common: Common,
) -> None:
    from dataflow_runner.engine.request import RunRequest

    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    book = load_playbook(playbook_path, variables, max_size=common.max_config_size)
    request = RunRequest(
        playbook=book,
        cluster_id=cluster_id,
        variables=variables,
        playbook_path=playbook_path,
        lock=lock_spec(lock, soft_lock, consul, common),
        detach=async_,
        log_failed_steps=log_failed_steps,
        poll_interval=common.poll_interval,
    )
    with engine(common) as eng:
        if dry_run:
            show_plan(eng.plan(request))
            return
        drawn = reporter(common)
        outcome = follow(eng.submit(request, on_event=drawn), drawn)
    finish(outcome, common=common)


def down(
    config_path: str, cluster_id: str, vars_text: str | None, *, dry_run: bool, common: Common
) -> None:
    _sentry(common.sentry)
    config = load_cluster(config_path, parse_vars(vars_text), max_size=common.max_config_size)
    with engine(common) as eng:
        if dry_run:
            show_plan(eng.plan_terminate(config, cluster_id))
            return
        info = eng.terminate_cluster(config, cluster_id, poll_interval=common.poll_interval)
    if info.state.value == "TERMINATED_WITH_ERRORS":
        log.warning(
            "%s cluster %s ended TERMINATED_WITH_ERRORS%s",
            info.label,
            cluster_id,
            f": {info.reason}" if info.reason else "",
        )
    log.info("%s cluster terminated successfully", _label(info.label))


def run_transient(
    config_path: str,
    playbook_path: str,
    vars_text: str | None,
    *,
    dry_run: bool,
    lock: str | None,
    soft_lock: str | None,
    consul: str | None,
    log_failed_steps: bool,
    common: Common,
) -> None:
    from dataflow_runner.engine.request import RunRequest

    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    config, book = collect(
        lambda: load_cluster(config_path, variables, max_size=common.max_config_size),
        lambda: load_playbook(playbook_path, variables, max_size=common.max_config_size),
    )
    request = RunRequest(
        playbook=book,
        cluster=config,
        fabric=common.fabric,
        variables=variables,
        playbook_path=playbook_path,
        cluster_path=config_path,
        lock=lock_spec(lock, soft_lock, consul, common),
        log_failed_steps=log_failed_steps,
        poll_interval=common.poll_interval,
    )
    with engine(common) as eng:
        if dry_run:
            show_plan(eng.plan(request))
            return
        drawn = reporter(common)
        outcome = follow(eng.submit(request, on_event=drawn), drawn)
    finish(outcome, success_line=f"Transient {outcome.fabric_label} run completed successfully")


def validate(
    config_path: str | None, playbook_path: str | None, vars_text: str | None, *, common: Common
) -> None:
    """Validate every file given, reporting every problem found."""
    variables = parse_vars(vars_text)
    size = common.max_config_size
    loaders: list[Callable[[], Any]] = []
    if config_path:
        loaders.append(lambda: load_cluster(config_path, variables, max_size=size))
    if playbook_path:
        loaders.append(lambda: load_playbook(playbook_path, variables, max_size=size))
    summary = []
    for item in collect(*loaders):
        if isinstance(item, ClusterConfig):
            summary.append(f"cluster '{item.name}' ({item.fabric})")
        else:
            shape = "serial" if item.is_serial else "DAG"
            summary.append(f"playbook '{item.name}' ({len(item.steps)} steps, {shape})")
    echo("valid: " + "; ".join(summary))


def resume(ref: str, vars_text: str | None, *, consul: str | None, common: Common) -> None:
    """Continue a run whose runner died (``engine/resume.py``)."""
    with engine(common) as eng:
        drawn = reporter(common)
        handle = eng.resume(
            ref,
            variables=parse_vars(vars_text),
            lock_backend=common.lock_backend,
            consul=consul,
            poll_interval=common.poll_interval,
            max_config_size=common.max_config_size,
            on_event=drawn,
        )
        outcome = follow(handle, drawn)
    finish(outcome, success_line=f"Run {outcome.run_id} resumed and completed successfully")
