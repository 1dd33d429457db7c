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

from dataflow_runner.cli.output import echo, print_json, printable
from dataflow_runner.config.limits import DEFAULT_MAX_SIZE
from dataflow_runner.config.loading import load_cluster, parse_vars
from dataflow_runner.config.model import ClusterConfig
from dataflow_runner.config.redact import SECRETS
from dataflow_runner.errors import ConfigError, ConfigErrors

if TYPE_CHECKING:
    from dataflow_runner.cli.options import DataFlags
    from dataflow_runner.cli.reporters import Reporter
    from dataflow_runner.config.model import Playbook
    from dataflow_runner.config.source import PlaybookSource
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
    cleanup_timeout: float = 60.0
    retry_timeout: float = 900.0


def common_options(**kwargs: Any) -> Common:
    """The shared options a command was given (None: the default)."""
    return Common(**{k: v for k, v in kwargs.items() if v is not None})


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
    """The state directory: it may not exist yet, but it may not be something else."""
    from dataflow_runner.errors import StoreError
    from dataflow_runner.store import default_state_dir

    path = Path(common.state_dir) if common.state_dir else default_state_dir()
    if path.exists() and not path.is_dir():
        raise StoreError(f"the state directory {path} is not a directory")
    return path


def engine(common: Common) -> Engine:
    from dataflow_runner.engine.api import Engine

    return Engine(state_dir=state_dir(common), store=common.store)


def opened(eng: Engine) -> Engine:
    """``eng`` with its store open: a store that cannot be used is found before
    anything is launched, submitted or terminated (a dry run never opens it)."""
    eng.store  # noqa: B018 (opening it is the point)
    return eng


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
    from dataflow_runner.locks import check_backend

    name = lock or soft_lock
    if not name:
        return None
    check_backend(common.lock_backend)
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
        opened(eng)
        token = token_for_signals()
        with stop_on_signals(
            lambda name: token.cancel(f"{name} received", signal=name), token.force
        ):
            info = eng.launch_cluster(
                config,
                fabric=common.fabric,
                token=token,
                poll_interval=common.poll_interval,
                retry_timeout=common.retry_timeout,
            )
    log.info("%s cluster launched successfully; Jobflow ID: %s", _label(info.label), info.id)


def playbook_source(
    path: str, variables: dict[str, str], common: Common
) -> tuple[PlaybookSource, Playbook | None]:
    """A playbook file (YAML, JSON, HCL or a Python DSL file) and, unless it is
    partitioned (rendered for each partition by the engine), the playbook."""
    from dataflow_runner.config.source import PlaybookSource

    source = PlaybookSource(path, variables, max_size=common.max_config_size)
    return source, None if source.head().partitions else source.load()


def data_request(data: DataFlags) -> dict[str, Any]:
    """What the data flags ask of a :class:`RunRequest`."""
    return {
        "window": data.window(),
        "force": data.force,
        "force_steps": data.force_steps,
        "concurrency": data.concurrency,
    }


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
    data: DataFlags,
    common: Common,
) -> None:
    from dataflow_runner.engine.request import RunRequest

    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    source, book = playbook_source(playbook_path, variables, common)
    request = RunRequest(
        playbook=book,
        source=source,
        **data_request(data),
        cluster_id=cluster_id,
        variables=variables,
        playbook_path=playbook_path,
        lock=lock_spec(lock, soft_lock, consul, common),
        detach=async_,
        log_failed_steps=log_failed_steps,
        poll_interval=common.poll_interval,
        cleanup_timeout=common.cleanup_timeout,
        retry_timeout=common.retry_timeout,
    )
    with engine(common) as eng:
        if dry_run:
            show_plan(eng.plan(request))
            return
        opened(eng)
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
        info = opened(eng).terminate_cluster(
            config,
            cluster_id,
            poll_interval=common.poll_interval,
            retry_timeout=common.retry_timeout,
        )
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
    data: DataFlags,
    common: Common,
) -> None:
    from dataflow_runner.engine.request import RunRequest

    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    config, (source, book) = collect(
        lambda: load_cluster(config_path, variables, max_size=common.max_config_size),
        lambda: playbook_source(playbook_path, variables, common),
    )
    request = RunRequest(
        playbook=book,
        source=source,
        **data_request(data),
        cluster=config,
        fabric=common.fabric,
        variables=variables,
        playbook_path=playbook_path,
        cluster_path=config_path,
        lock=lock_spec(lock, soft_lock, consul, common),
        log_failed_steps=log_failed_steps,
        poll_interval=common.poll_interval,
        cleanup_timeout=common.cleanup_timeout,
        retry_timeout=common.retry_timeout,
    )
    with engine(common) as eng:
        if dry_run:
            show_plan(eng.plan(request))
            return
        opened(eng)
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
        loaders.append(lambda: _validated_playbook(playbook_path, variables, size))
    summary = []
    for item in collect(*loaders):
        if isinstance(item, ClusterConfig):
            summary.append(f"cluster '{item.name}' ({item.fabric})")
        else:
            shape = "serial" if item.is_serial else "DAG"
            every = f", every {item.partitions.every}" if item.partitions else ""
            summary.append(f"playbook '{item.name}' ({len(item.steps)} steps, {shape}{every})")
    echo(printable("valid: " + "; ".join(summary)))


def _validated_playbook(path: str, variables: dict[str, str], size: int) -> Playbook:
    """The playbook; a partitioned one as rendered for its first partition."""
    from dataflow_runner.config.source import PlaybookSource

    return _first_partition(PlaybookSource(path, variables, max_size=size))


def _first_partition(source: PlaybookSource) -> Playbook:
    from dataflow_runner.data.partitions import Spec

    partitions = source.head().partitions
    try:
        first = Spec.of(partitions).at(0) if partitions else None
    except ConfigError as exc:
        raise exc.with_file(source.path) from None
    return source.load(first)


def render(playbook_path: str, vars_text: str | None, *, common: Common) -> None:
    """Print a playbook's YAML form, once it is valid: the YAML a Python playbook
    builds, a YAML file as it is, a JSON file as YAML (templates unrendered)."""
    from dataflow_runner.config.source import PlaybookSource

    source = PlaybookSource(playbook_path, parse_vars(vars_text), max_size=common.max_config_size)
    # What a Python playbook prints while it runs is not part of its form.
    with contextlib.redirect_stdout(sys.stderr):
        book = _first_partition(source)
        text = _yaml_form(source, book)
    echo(text.rstrip("\n"))


def _yaml_form(source: PlaybookSource, book: Playbook) -> str:
    """A YAML (or Python) playbook's text; a JSON one's as YAML, when that loads as
    the same playbook (its templates are inside its strings)."""
    import json

    import yaml

    from dataflow_runner.config.loading import is_python
    from dataflow_runner.config.source import PlaybookSource

    name = os.path.basename(source.path).lower()
    if is_python(source.path) or ".yaml" in name or ".yml" in name:
        return source.text
    same = False
    text = ""
    with contextlib.suppress(ValueError):
        doc = json.loads(source.text)
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1 << 16)
        again = PlaybookSource(
            os.path.splitext(source.path)[0] + ".yaml",
            source.given,
            max_size=source.max_size,
            text=text,
        )
        with contextlib.suppress(ConfigError):
            same = _first_partition(again) == book
    if not same:
        raise ConfigError(
            "cannot be shown as YAML: its templates make JSON of it only once rendered",
            file=source.path,
        )
    return text


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
            cleanup_timeout=common.cleanup_timeout,
            retry_timeout=common.retry_timeout,
            on_event=drawn,
        )
        outcome = follow(handle, drawn)
    finish(outcome, success_line=f"Run {outcome.run_id} resumed and completed successfully")
