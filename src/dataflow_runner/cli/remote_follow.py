"""Following a server's run from the command line (``cli/remote.py``): its state
polled, what changed turned into the engine's events (``engine/events.py``) for
the usual reporters, and its outcome at the end, as a local run gives them.

* A step seen RUNNING, ended, or with a failed attempt and another to come is
  drawn as the engine draws it (``running``, ``finished``, ``retrying``), in the
  order of the times the server recorded.
* A retried run's steps start over: their new attempts are drawn, not the ended
  ones from before.
* The first SIGINT, SIGTERM or SIGHUP cancels the run on the server; the next
  stops following it (the server goes on).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataflow_runner.client.api import ServerClient, ServerError
from dataflow_runner.errors import DataflowRunnerError
from dataflow_runner.store.records import RunKind, RunState, StepState

if TYPE_CHECKING:
    from dataflow_runner.cli.reporters import Reporter
    from dataflow_runner.engine.events import RunOutcome

log = logging.getLogger("dataflow_runner")

#: Seconds between two looks at a followed run (``--poll-interval`` sets another).
POLL = 0.5
_ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
_STEP_ENDED = frozenset({"COMPLETED", "FAILED", "CANCELLED", "SKIPPED"})


def at_time(value: Any) -> float | None:
    """An API time (ISO 8601) as seconds since the epoch."""
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


@dataclass
class Follower:
    """Polls a server's run and hands what changed to ``drawn`` as the engine's
    events, until the run ends; then the run's outcome."""

    client: ServerClient
    run_id: str
    drawn: Reporter
    interval: float
    #: A resumed run as it was before: its steps that had ended are not drawn again.
    before: dict[str, Any] | None = None
    seen: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: The failed attempts drawn as retried (step, attempt).
    retried: set[tuple[str, int]] = field(default_factory=set)
    started: bool = False
    cancelled: bool = False
    wake: threading.Event = field(default_factory=threading.Event)
    stopped: bool = False

    def __post_init__(self) -> None:
        if self.before is not None:
            self.started = True
            for step in self.before.get("steps") or []:
                tries = step.get("attempts") or []
                self.seen[step["id"]] = (step["state"], len(tries))
                self.retried.update((step["id"], int(a["attempt"])) for a in tries)

    def follow(self) -> RunOutcome:
        from dataflow_runner.cli.commands import stop_on_signals

        try:
            with stop_on_signals(self.cancel, self.stop):
                while True:
                    doc = self.client.run(self.run_id)
                    outcome = self.look(doc)
                    if outcome is not None:
                        return outcome
                    if self.stopped:
                        raise DataflowRunnerError(
                            f"stopped following run {self.run_id}: the server goes on with it"
                            f" (dataflow-runner status {self.run_id})"
                        )
                    self.wake.wait(self.interval)
                    self.wake.clear()
        finally:
            self.drawn.close()

    def cancel(self, name: str) -> None:
        log.warning("%s received: cancelling run %s on %s", name, self.run_id, self.client.url)
        try:
            self.client.cancel(self.run_id)
        except ServerError as exc:
            log.error("%s", exc)
        self.wake.set()

    def stop(self) -> None:
        self.stopped = True
        self.wake.set()

    def look(self, doc: dict[str, Any]) -> RunOutcome | None:
        """Draw what changed since the last look; the outcome once the run ended."""
        from dataflow_runner.engine.events import RunFinished, RunStarted

        state = str(doc["state"])
        steps: list[dict[str, Any]] = doc.get("steps") or []
        # Started as a local run says it: once its cluster is known (a run is
        # recorded RUNNING a moment before its cluster is), or once it ended.
        known = bool(doc.get("clusterId")) or state in _ENDED
        if not self.started and steps and state != "QUEUED" and known:
            self.started = True
            self.drawn(
                RunStarted(
                    run_id=self.run_id,
                    playbook=str(doc.get("playbook", "")),
                    fabric=str(doc.get("fabric", "")),
                    cluster_id=str(doc.get("clusterId") or "-"),
                    steps=len(steps),
                    concurrency=int(doc.get("concurrency") or 1),
                )
            )
        if self.started:
            for event in self.changes(doc, steps):
                self.drawn(event)
        if state not in _ENDED:
            return None
        outcome = _outcome(doc, steps)
        if steps:
            self.drawn(RunFinished(outcome))
        elif doc.get("reason"):
            raise DataflowRunnerError(str(doc["reason"]))
        return outcome

    def changes(self, doc: dict[str, Any], steps: list[dict[str, Any]]) -> list[Any]:
        from dataflow_runner.engine.events import StepChanged

        events: list[StepChanged] = []
        for step in steps:
            tries = step.get("attempts") or []
            now = (str(step["state"]), len(tries))
            before = self.seen.get(step["id"], ("PENDING", 0))
            self.seen[step["id"]] = now
            if now[1] > before[1] and before[0] in _STEP_ENDED:
                before = ("PENDING", before[1])  # the run was retried: the step starts over
            max_attempts, delay = _retries(doc, step["id"])
            common: dict[str, Any] = {
                "run_id": self.run_id,
                "step_id": step["id"],
                "name": step.get("name") or step["id"],
                "max_attempts": max_attempts,
                "position": int(step.get("position", 0)),
            }
            # An attempt that failed with another to come (the step goes on).
            for tried in tries:
                number = int(tried["attempt"])
                key = (step["id"], number)
                last = number == len(tries)
                if tried.get("state") != "FAILED" or key in self.retried:
                    continue
                if last and now[0] in _STEP_ENDED:
                    continue
                self.retried.add(key)
                events.append(
                    StepChanged(
                        "retrying",
                        state=StepState.FAILED,
                        attempt=number,
                        at=at_time(tried.get("endedAt")) or 0.0,
                        exit_code=tried.get("exitCode"),
                        reason=tried.get("reason"),
                        cause=tried.get("cause"),
                        retry_in=delay(number + 1),
                        **common,
                    )
                )
            if now == before:
                continue
            if now[0] == "RUNNING" and before[0] != "RUNNING":
                started = at_time((tries[-1] if tries else {}).get("startedAt")) or 0.0
                events.append(
                    StepChanged(
                        "running", state=StepState.RUNNING, attempt=len(tries), at=started, **common
                    )
                )
            elif now[0] in _STEP_ENDED and before[0] not in _STEP_ENDED:
                events.append(
                    StepChanged(
                        "finished",
                        state=StepState(now[0]),
                        attempt=len(tries),
                        at=at_time(step.get("endedAt")) or 0.0,
                        exit_code=step.get("exitCode"),
                        reason=step.get("reason"),
                        cause=step.get("cause"),
                        started_at=at_time(step.get("startedAt")),
                        ended_at=at_time(step.get("endedAt")),
                        **common,
                    )
                )
        # In the order they happened, as a local run draws them.
        return sorted(events, key=lambda e: (e.at, e.position))


def _retries(doc: dict[str, Any], step_id: str) -> tuple[int, Callable[[int], float]]:
    """A step's most attempts and the wait before each, from the playbook the run
    recorded (its defaults when it cannot be read)."""
    from dataflow_runner.config.model import RetryPolicy, Step, from_doc

    policy = RetryPolicy()
    data = (doc.get("playbookDoc") or {}).get("data") or {}
    for found in data.get("steps") or []:
        if isinstance(found, dict) and found.get("id") == step_id:
            try:
                policy = from_doc(Step, found).retries
            except Exception:  # only the drawing depends on it
                log.debug("step %s: retries not read", step_id, exc_info=True)
    return policy.count + 1, policy.delay


def _outcome(doc: dict[str, Any], steps: list[dict[str, Any]]) -> RunOutcome:
    from dataflow_runner.engine.events import RunOutcome
    from dataflow_runner.fabrics import registry

    states = [s["state"] for s in steps]
    fabric = str(doc.get("fabric", ""))
    try:
        label = registry.driver(fabric).label
    except DataflowRunnerError:
        label = fabric
    return RunOutcome(
        run_id=str(doc["id"]),
        kind=RunKind(doc.get("kind", "transient")),
        state=RunState(doc["state"]),
        total=len(steps),
        completed=states.count("COMPLETED"),
        failed=states.count("FAILED"),
        cancelled=states.count("CANCELLED"),
        skipped=states.count("SKIPPED"),
        cluster_id=doc.get("clusterId"),
        fabric_label=label,
        reason=doc.get("reason"),
    )
