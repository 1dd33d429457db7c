"""What each command does once its flags are checked (``app.py``).

The order is always: parse flags → load and validate every input → (dry run:
print and stop) → take the lock → record → act. Nothing is created anywhere
before every input has been validated.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from dataflow_runner.cli.output import echo, print_json
from dataflow_runner.config.loading import DEFAULT_MAX_SIZE, load_cluster, load_playbook, parse_vars
from dataflow_runner.config.model import ClusterConfig, Playbook
from dataflow_runner.config.redact import SECRETS
from dataflow_runner.errors import ConfigError, ConfigErrors, RunFailed

if TYPE_CHECKING:
    from dataflow_runner.fabrics.emr.config import EmrSection

log = logging.getLogger("dataflow_runner")


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


def _emr_section(config: ClusterConfig, path: str) -> EmrSection:
    section = config.section("emr")
    if section is None:
        raise ConfigError('this cluster config has no "emr" section', file=path, path="$.data.emr")
    return cast("EmrSection", section)


def _sentry(dsn: str | None) -> None:
    if dsn:
        SECRETS.add(dsn)
        from dataflow_runner.cli import sentry

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


def open_store(common: Common) -> Any:
    from dataflow_runner.store import open_store as _open

    return _open(
        common.store or os.environ.get("DATAFLOW_RUNNER_STORE"), state_dir=state_dir(common)
    )


def _local_fabric(config: ClusterConfig, config_path: str, common: Common) -> Any:
    from dataflow_runner.fabrics.local.commands import LocalSettings
    from dataflow_runner.fabrics.local.fabric import LocalFabric

    settings = LocalSettings.from_config(config, config_file=config_path)
    return LocalFabric(settings, state_dir(common))


def _validate_for(fabric: Any, config: ClusterConfig, book: Playbook, playbook_path: str) -> None:
    try:
        fabric.validate(config, book)
    except ConfigErrors as exc:
        # A fabric's error about the cluster config names that file already.
        errors = [e if e.file else e.with_file(playbook_path) for e in exc.errors]
        raise ConfigErrors(errors) from None
    except ConfigError as exc:
        raise (exc if exc.file else exc.with_file(playbook_path)) from None


def reporter(common: Common) -> Any:
    from dataflow_runner.engine.events import JsonReporter, PlainReporter

    if common.output == "json":
        return _Both(PlainReporter(), JsonReporter())
    if sys.stderr.isatty() and os.environ.get("TERM") != "dumb":
        from dataflow_runner.engine.live import LiveReporter

        return LiveReporter()
    return PlainReporter()


class _Both:
    """Sends every reporter call to several reporters."""

    def __init__(self, *reporters: Any) -> None:
        self.reporters = reporters

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> None:
            for r in self.reporters:
                getattr(r, name)(*args, **kwargs)

        return call


@contextmanager
def locked(
    lock: str | None,
    soft_lock: str | None,
    consul: str | None,
    common: Common,
    run_id: str | None = None,
    take_over: bool = False,
) -> Iterator[str | None]:
    """Hold the run's lock: a hard lock stays if the block fails, as in the Go tool."""
    from dataflow_runner.locks import held_lock

    with held_lock(
        hard=lock,
        soft=soft_lock,
        consul=consul,
        backend=common.lock_backend,
        run_id=run_id,
        take_over=take_over,
    ) as name:
        yield name


def finish(summary: Any, *, success_line: str | None = None) -> None:
    """Turn a run's outcome into the Go tool's last lines and exit code."""
    if summary is None:
        return  # --async, or a dry run
    if summary.state == "CANCELLED":
        raise RunFailed(
            f"run cancelled: {summary.completed}/{summary.total} steps completed before it stopped"
        )
    if summary.state != "COMPLETED":
        raise RunFailed(
            f"{summary.unsuccessful}/{summary.total} steps failed to complete successfully"
        )
    if success_line:
        log.info(success_line)


def _context_factory(
    common: Common,
    config: ClusterConfig,
    book: Playbook,
    *,
    command: str,
    store: Any,
    variables: dict[str, str],
    playbook_path: str,
    cluster_path: str,
    lock: str | None,
    run_id: str,
    soft_lock: bool = False,
    consul: str | None = None,
) -> Callable[[Any, int], Any]:
    from dataflow_runner.engine.run import RunContext

    def make(fabric: Any, concurrency: int) -> Any:
        return RunContext(
            command=command,
            fabric=fabric,
            store=store,
            reporter=reporter(common),
            cluster=config,
            playbook=book,
            concurrency=concurrency,
            playbook_path=playbook_path,
            cluster_path=cluster_path,
            variables=variables,
            run_id=run_id,
            options={
                "lock": lock,
                "soft_lock": soft_lock,
                "consul": consul,
                "lock_backend": common.lock_backend,
                "fabric": fabric.name,
            },
        )

    return make


def _new_run_id() -> str:
    from dataflow_runner.engine.run import new_run_id

    return new_run_id()


# --- commands ------------------------------------------------------------------------


def up(config_path: str, vars_text: str | None, *, dry_run: bool, common: Common) -> None:
    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    config = load_cluster(config_path, variables, max_size=common.max_config_size)
    if (common.fabric or config.fabric) == "local":
        from dataflow_runner.fabrics.local import cluster as local_cluster
        from dataflow_runner.fabrics.local.commands import LocalSettings

        if dry_run:
            print_json(
                {
                    "fabric": "local",
                    "cluster": config.name,
                    "concurrency": LocalSettings.from_config(config).concurrency,
                }
            )
            return
        cluster_id = local_cluster.start(
            config, config_path, state_dir=state_dir(common), store_url=common.store
        )
        log.info("Local cluster launched successfully; Jobflow ID: %s", cluster_id)
        return
    from dataflow_runner.cli import emr

    emr.up(
        config,
        _emr_section(config, config_path),
        dry_run=dry_run,
        store_factory=lambda: open_store(common),
        poll=common.poll_interval,
    )


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
    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    book = load_playbook(playbook_path, variables, max_size=common.max_config_size)
    if cluster_id.startswith("l-"):
        from dataflow_runner.fabrics.local import cluster as local_cluster

        if dry_run:
            print_json(
                {
                    "fabric": "local",
                    "cluster": cluster_id,
                    "steps": [
                        {"id": s.id, "name": s.name, "after": list(s.upstream)} for s in book.steps
                    ],
                }
            )
            return
        with locked(lock, soft_lock, consul, common):
            summary = local_cluster.run(
                cluster_id,
                book,
                playbook_path=playbook_path,
                variables=variables,
                state_dir=state_dir(common),
                store_url=common.store,
                reporter=reporter(common),
                async_=async_,
            )
            finish(summary)
        return
    from dataflow_runner.cli import emr

    if dry_run:
        emr.run(
            book,
            cluster_id,
            dry_run=True,
            ctx_factory=None,
            poll=None,
            async_=async_,
            log_failed_steps=False,
        )
        return
    emr.check_run_flags(book, async_)
    run_id = _new_run_id()
    with locked(lock, soft_lock, consul, common, run_id) as held:
        store = open_store(common)
        try:
            factory = _context_factory(
                common,
                ClusterConfig(name=cluster_id, fabric="emr"),
                book,
                command="run",
                store=store,
                variables=variables,
                playbook_path=playbook_path,
                cluster_path="",
                lock=held,
                run_id=run_id,
                soft_lock=bool(soft_lock),
                consul=consul,
            )
            summary = emr.run(
                book,
                cluster_id,
                dry_run=False,
                ctx_factory=factory,
                poll=common.poll_interval,
                async_=async_,
                log_failed_steps=log_failed_steps,
            )
        finally:
            store.close()
        finish(summary)


def down(
    config_path: str, cluster_id: str, vars_text: str | None, *, dry_run: bool, common: Common
) -> None:
    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    config = load_cluster(config_path, variables, max_size=common.max_config_size)
    if cluster_id.startswith("l-"):
        from dataflow_runner.fabrics.local import cluster as local_cluster

        if dry_run:
            print_json({"fabric": "local", "terminate": cluster_id})
            return
        local_cluster.stop(cluster_id, state_dir=state_dir(common), store_url=common.store)
        log.info("Local cluster terminated successfully")
        return
    from dataflow_runner.cli import emr

    emr.down(
        _emr_section(config, config_path),
        cluster_id,
        dry_run=dry_run,
        store_factory=lambda: open_store(common),
        poll=common.poll_interval,
    )


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
    _sentry(common.sentry)
    variables = parse_vars(vars_text)
    config, book = collect(
        lambda: load_cluster(config_path, variables, max_size=common.max_config_size),
        lambda: load_playbook(playbook_path, variables, max_size=common.max_config_size),
    )
    run_id = _new_run_id()

    def factory_for(store: Any, held: str | None) -> Callable[[Any, int], Any]:
        return _context_factory(
            common,
            config,
            book,
            command="run-transient",
            store=store,
            variables=variables,
            playbook_path=playbook_path,
            cluster_path=config_path,
            lock=held,
            run_id=run_id,
            soft_lock=bool(soft_lock),
            consul=consul,
        )

    if (common.fabric or config.fabric) == "emr":
        from dataflow_runner.cli import emr

        emr_section = _emr_section(config, config_path)
        if dry_run:
            emr.run_transient(
                config,
                emr_section,
                book,
                dry_run=True,
                ctx_factory=None,
                poll=None,
                log_failed_steps=False,
            )
            return
        with locked(lock, soft_lock, consul, common, run_id) as held:
            store = open_store(common)
            try:
                factory = factory_for(store, held)
                summary = emr.run_transient(
                    config,
                    emr_section,
                    book,
                    dry_run=False,
                    ctx_factory=factory,
                    poll=common.poll_interval,
                    log_failed_steps=log_failed_steps,
                )
            finally:
                store.close()
            finish(summary, success_line="Transient EMR run completed successfully")
        return
    fabric = _local_fabric(config, config_path, common)
    _validate_for(fabric, config, book, playbook_path)
    if dry_run:
        log.info("Dry run: what the local fabric would run for playbook '%s'", book.name)
        print_json(fabric.plan(config, book))
        return
    from dataflow_runner.engine.run import execute_transient

    with locked(lock, soft_lock, consul, common, run_id) as held:
        store = open_store(common)
        try:
            limit = fabric.settings.concurrency
            factory = factory_for(store, held)
            summary = execute_transient(factory(fabric, min(limit, book.concurrency or limit)))
        finally:
            store.close()
        # Inside the lock's block: a failed run keeps a hard lock, as in the Go tool.
        finish(summary, success_line="Transient local run completed successfully")


def validate(
    config_path: str | None, playbook_path: str | None, vars_text: str | None, *, common: Common
) -> None:
    """Validate every file given, reporting every problem found."""
    variables = parse_vars(vars_text)
    loaders: list[Callable[[], Any]] = []
    if config_path:
        loaders.append(
            lambda: load_cluster(config_path, variables, max_size=common.max_config_size)
        )
    if playbook_path:
        loaders.append(
            lambda: load_playbook(playbook_path, variables, max_size=common.max_config_size)
        )
    summary = []
    for item in collect(*loaders):
        if isinstance(item, ClusterConfig):
            summary.append(f"cluster '{item.name}' ({item.fabric})")
        else:
            shape = "serial" if item.is_serial else "DAG"
            summary.append(f"playbook '{item.name}' ({len(item.steps)} steps, {shape})")
    echo("valid: " + "; ".join(summary))


def resume(ref: str, vars_text: str | None, *, common: Common) -> None:
    """Continue a run whose runner died (``engine/resume.py``)."""
    from dataflow_runner.engine import resume as resuming
    from dataflow_runner.engine.run import execute_resumed
    from dataflow_runner.errors import DataflowRunnerError, FlagError
    from dataflow_runner.fabrics.base import ClusterRef

    store = open_store(common)
    try:
        run = store.find_run(ref)
        variables = {**run.variables, **parse_vars(vars_text)}
        hidden = sorted(k for k, v in variables.items() if v == "***")
        if hidden:
            raise FlagError(
                "the run's variables "
                + ", ".join(hidden)
                + " are secret and were not stored: pass them again with --vars"
            )
        if not run.playbook_path:
            raise DataflowRunnerError(f"run {run.id} has no playbook file to resume from")
        loaders: list[Callable[[], Any]] = [
            lambda: load_playbook(run.playbook_path, variables, max_size=common.max_config_size)
        ]
        if run.cluster_config_path:
            loaders.append(
                lambda: load_cluster(
                    run.cluster_config_path, variables, max_size=common.max_config_size
                )
            )
        loaded = collect(*loaders)
        book = loaded[0]
        config = (
            loaded[1] if len(loaded) > 1 else ClusterConfig(name=run.cluster_name, fabric="emr")
        )
        resuming.check_resumable(run, book, store)
        transient = run.command == "run-transient"
        if run.fabric == "local":
            if not transient:
                raise DataflowRunnerError(
                    f"run {run.id} ran on local cluster {run.cluster_id}, whose agent runs it"
                )
            fabric = _local_fabric(config, run.cluster_config_path, common)
            limit = fabric.settings.concurrency
            level = min(limit, book.concurrency or limit)
            cluster: ClusterRef | None = ClusterRef("local", "local")
        else:
            from dataflow_runner.cli import emr

            section = cast("EmrSection | None", config.section("emr"))
            level = emr.concurrency(section, book) if section else 1
            creds = section.credentials if section else book.credentials
            region = book.region or (section.region if section else "")
            fabric = emr.fabric(section, creds, region, level)
            found = (
                ClusterRef(run.cluster_id, "emr")
                if run.cluster_id
                else fabric.find_cluster(config.name, run.id, run.created_at)
            )
            if found is None and not transient:
                raise DataflowRunnerError(f"run {run.id} has no cluster to resume on")
            cluster = found
        options = run.options
        name = options.get("lock")
        soft = bool(options.get("soft_lock"))
        with locked(
            None if soft else name,
            name if soft else None,
            options.get("consul"),
            common,
            run.id,
            take_over=True,
        ):
            factory = _context_factory(
                common,
                config,
                book,
                command=run.command,
                store=store,
                variables=variables,
                playbook_path=run.playbook_path,
                cluster_path=run.cluster_config_path,
                lock=options.get("lock"),
                run_id=run.id,
            )
            ctx = factory(fabric, level)

            def find_or_launch() -> ClusterRef:
                if cluster is not None:
                    return cluster
                # The dead runner launched nothing (no cluster bears its run id): launch
                # an empty one now; the resumed run adds the steps.
                launched: ClusterRef = fabric.launch(
                    config, run_id=run.id, keep_alive=True, submissions=()
                )[0]
                store.update_run(run.id, cluster_id=launched.id)
                return launched

            summary = execute_resumed(
                ctx,
                find_or_launch,
                lambda ref: resuming.plan(store, run, book, fabric, ref),
                transient=transient,
            )
            finish(summary, success_line=f"Run {run.id} resumed and completed successfully")
    finally:
        store.close()
