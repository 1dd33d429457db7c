"""``/metrics``: the server in Prometheus' text format, from a registry of the
application's own (several apps in one process do not mix their numbers).

* ``dataflow_runner_runs{state}``: the store's runs by state (every server's);
* ``dataflow_runner_queue_depth``: QUEUED runs, waiting for a worker;
* ``dataflow_runner_workers_busy`` / ``_workers``: this server's runs going, its room;
* ``dataflow_runner_step_duration_seconds{state}``: a histogram of the steps this
  server's runs finished;
* ``dataflow_runner_fabric_calls_total{fabric,call,outcome}`` and
  ``dataflow_runner_fabric_call_errors_total{fabric,call}``: what this process
  asked of the fabrics (``fabrics/calls.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dataflow_runner.engine.events import Event, StepChanged
from dataflow_runner.fabrics import calls
from dataflow_runner.store.records import RunState

if TYPE_CHECKING:
    from dataflow_runner.server.state import ServerParts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)


class _Store(Collector):
    def __init__(self, parts: ServerParts) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        counts = self.parts.engine.store.reader.count_by_state()
        runs = GaugeMetricFamily(
            "dataflow_runner_runs", "Runs in the store, by state", labels=["state"]
        )
        for state in RunState:
            if state is not RunState.DEAD:  # (worked out, never stored)
                runs.add_metric([state.value], counts.get(state.value, 0))
        yield runs
        yield GaugeMetricFamily(
            "dataflow_runner_queue_depth",
            "Runs accepted and waiting for a worker (QUEUED)",
            value=counts.get(RunState.QUEUED.value, 0),
        )
        workers = self.parts.workers
        yield GaugeMetricFamily(
            "dataflow_runner_workers_busy", "Runs this server executes now", value=workers.busy
        )
        yield GaugeMetricFamily(
            "dataflow_runner_workers", "Runs this server executes at most", value=workers.slots
        )
        made = CounterMetricFamily(
            "dataflow_runner_fabric_calls",
            "Calls this server made to the fabrics",
            labels=["fabric", "call", "outcome"],
        )
        failed = CounterMetricFamily(
            "dataflow_runner_fabric_call_errors",
            "Calls this server made to the fabrics that failed",
            labels=["fabric", "call"],
        )
        for (fabric, call, outcome), n in sorted(calls.snapshot().items()):
            made.add_metric([fabric, call, outcome], n)
            if outcome == "error":
                failed.add_metric([fabric, call], n)
        yield made
        yield failed


class Metrics:
    def __init__(self, parts: ServerParts) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.step_seconds = Histogram(
            "dataflow_runner_step_duration_seconds",
            "How long the steps of this server's runs took, by how they ended",
            ["state"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_Store(parts))

    def on_event(self, event: Event) -> None:
        """A run's event (from this server's workers): a finished step is counted."""
        if not isinstance(event, StepChanged) or event.change != "finished":
            return
        if event.started_at is not None and event.ended_at is not None:
            took = max(0.0, event.ended_at - event.started_at)
            self.step_seconds.labels(event.state.value).observe(took)

    def render(self) -> bytes:
        return generate_latest(self.registry)
