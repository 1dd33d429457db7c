"""The read side of the engine API beyond the store's records: a step's logs
(read whole, or followed as they grow) and the clusters a fabric still runs
for runs that are over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from dataflow_runner import logfiles
from dataflow_runner.config.redact import scrub
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.fabrics import registry
from dataflow_runner.store.reader import StoreReader
from dataflow_runner.store.records import AttemptRecord, RunRecord, RunState

#: How often ``logs --follow`` looks for more output.
FOLLOW_INTERVAL = 0.25


def find_attempt(
    reader: StoreReader, ref: str, step_id: str, attempt: int | None
) -> tuple[RunRecord, AttemptRecord]:
    """The run and one attempt of its step (the last one unless ``attempt``)."""
    run = reader.find_run(ref)
    attempts = reader.attempts(run.id, step_id)
    if not attempts:
        known = ", ".join(s.step_id for s in reader.steps(run.id))
        raise DataflowRunnerError(
            f"run {run.id} has no attempt of step '{step_id}'"
            + (f" (steps: {known})" if known else "")
        )
    if attempt is None:
        return run, attempts[-1]
    chosen = next((a for a in attempts if a.attempt == attempt), None)
    if chosen is None:
        raise DataflowRunnerError(
            f"step '{step_id}' has no attempt {attempt} (it has {len(attempts)})"
        )
    return run, chosen


def read_logs(run: RunRecord, attempt: AttemptRecord, state_dir: Path) -> dict[str, str]:
    """The attempt's log files by name, secrets masked: local files, or what its
    fabric keeps (EMR's on S3). The step's files hold what it printed; masked here
    are the secrets this process knows, and those the run's process knew where it
    recorded them (``logfiles.seal``)."""
    location = attempt.log_location
    if logfiles.is_local(location):
        out = {}
        for name, path in zip(logfiles.STREAMS, logfiles.files(location), strict=True):
            out[name] = _read(path, location, name)
        return out
    files = registry.driver(run.fabric).read_logs(run, attempt)
    sealed = logfiles.prefix(state_dir, run.id, attempt.step_id, attempt.attempt)
    return {name: _unsealed(sealed, name, text) for name, text in files.items()}


def _read(path: Path, location: str, name: str) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    return scrub(logfiles.unseal(location, name, data).decode("utf-8", "replace"))


def _unsealed(location: str, name: str, text: str) -> str:
    data = logfiles.unseal(location, name, text.encode("utf-8", "surrogateescape"))
    return scrub(data.decode("utf-8", "replace"))


def follow(
    reader: StoreReader,
    run: RunRecord,
    attempt: AttemptRecord,
    streams: tuple[str, ...],
    state_dir: Path,
) -> Iterator[str]:
    """The attempt's output as it grows (``tail -f``), until the attempt ends or its
    run is over (finished, or DEAD: its runner is gone, nothing more will come).

    An attempt that has ended is read whole (its secrets masked where its run
    recorded them); while it runs, its output is masked of the secrets this process
    knows only, line by line."""
    location = attempt.log_location
    if not logfiles.is_local(location) or attempt.state.finished:
        files = read_logs(run, attempt, state_dir)
        yield from (files[name] for name in streams if files.get(name))
        return
    paths = [
        p for n, p in zip(logfiles.STREAMS, logfiles.files(location), strict=True) if n in streams
    ]
    offsets = dict.fromkeys(paths, 0)
    held = dict.fromkeys(paths, b"")

    def more(final: bool = False) -> Iterator[str]:
        for path in paths:
            try:
                with open(path, "rb") as fh:
                    fh.seek(offsets[path])
                    chunk = fh.read()
            except FileNotFoundError:
                continue
            offsets[path] += len(chunk)
            # Whole lines only (but at the end): a secret cut in two by a read
            # would be masked in neither half.
            data = held[path] + chunk
            cut = len(data) if final else data.rfind(b"\n") + 1
            held[path] = data[cut:]
            if cut:
                yield scrub(data[:cut].decode("utf-8", "replace"))

    while True:
        yield from more()
        current = [
            a for a in reader.attempts(run.id, attempt.step_id) if a.attempt == attempt.attempt
        ]
        if current and current[0].state.finished:
            break
        latest = reader.run(run.id)
        if latest is None or latest.state.finished or latest.state is RunState.DEAD:
            break
        time.sleep(FOLLOW_INTERVAL)
    yield from more(final=True)  # whatever was written between the last read and the end


def orphans(reader: StoreReader, region: str | None) -> list[dict[str, str]]:
    """Clusters a fabric still runs for a transient run that no live run owns any
    more (its runner was killed, its host rebooted): they cost money."""
    found = []
    for name in registry.names():
        for cluster in registry.driver(name).tagged_clusters(region or ""):
            if not cluster.transient:
                continue
            run = reader.run(cluster.run_id) if cluster.run_id else None
            if run is None:
                why = "its run is not in this store"
            elif run.state in (RunState.RUNNING, RunState.SUBMITTED):
                continue
            else:
                why = f"its run is {run.state.value}"
            found.append(
                {
                    "id": cluster.id,
                    "name": cluster.name,
                    "state": cluster.state,
                    "run_id": cluster.run_id,
                    "why": why,
                    "fabric": name,
                }
            )
    return found
