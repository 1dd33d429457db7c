"""A fabric defined in the tests: one package plus one registry line, as any fabric.

It runs nothing: a cluster and its steps live in :data:`SERVICE`, an in-memory
stand-in for a remote service, where a step is PENDING when submitted, RUNNING
after one poll and over after another (FAILED when its command is ``fail``).
Everything the engine asked is in :data:`CALLS`.

Register it with::

    registry.register(FabricEntry("demo", driver="tests.fabric_demo:DemoDriver",
                                  section="tests.fabric_demo:DemoSection",
                                  cluster_ids=r"d-[0-9a-f]{8}"))
"""

from __future__ import annotations

import itertools
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from msgspec import Struct

from dataflow_runner.config.model import ClusterConfig, Playbook
from dataflow_runner.errors import ConfigError
from dataflow_runner.fabrics.base import (
    ClusterRef,
    ClusterStatus,
    ClusterStep,
    Fabric,
    FailureCause,
    Options,
    Plan,
    StepRef,
    StepStatus,
    Submission,
    TaggedCluster,
    Target,
)
from dataflow_runner.store.records import AttemptRecord, ClusterState, RunRecord, StepState

NAME = "demo"


class DemoSection(Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """The demo fabric's section of a cluster config: how many steps run at once."""

    slots: int = 2


@dataclass
class _Step:
    id: str
    name: str
    fails: bool
    state: StepState = StepState.PENDING
    polls: int = 0


@dataclass
class _Cluster:
    id: str
    run_id: str
    state: ClusterState = ClusterState.WAITING
    steps: dict[str, _Step] = field(default_factory=dict)


#: The "remote service": clusters by id.
SERVICE: dict[str, _Cluster] = {}
#: What the engine asked, in order: (call, cluster id, detail).
CALLS: list[tuple[str, str, str]] = []
_LOCK = threading.Lock()
_IDS = itertools.count(1)


def reset() -> None:
    with _LOCK:
        SERVICE.clear()
        CALLS.clear()


def _called(name: str, cluster: str, detail: str = "") -> None:
    CALLS.append((name, cluster, detail))


class DemoFabric:
    name = NAME
    label = "demo"
    orders_steps = False
    submits_running = False
    terminate_first = True

    def __init__(self, section: DemoSection | None) -> None:
        self.section = section or DemoSection()

    def validate(self, cluster: ClusterConfig | None, playbook: Playbook) -> None:
        for i, step in enumerate(playbook.steps):
            if not step.command:
                raise ConfigError("the demo fabric runs COMMAND steps", path=f"$.data.steps[{i}]")

    def poll_interval(self, elapsed: float) -> float:
        return 0.01

    def launch(
        self,
        cluster: ClusterConfig,
        *,
        run_id: str,
        keep_alive: bool,
        transient: bool = True,
        submissions: Sequence[Submission] = (),
        concurrency: int | None = None,
    ) -> tuple[ClusterRef, list[StepRef]]:
        cluster_id = f"d-{secrets.token_hex(4)}"
        with _LOCK:
            SERVICE[cluster_id] = _Cluster(cluster_id, run_id)
        _called("launch", cluster_id, "transient" if transient else "long-lived")
        ref = ClusterRef(cluster_id, self.name)
        return ref, self.submit(ref, submissions)

    def cluster_status(self, ref: ClusterRef) -> ClusterStatus:
        found = SERVICE.get(ref.id)
        if found is None:
            return ClusterStatus(ClusterState.TERMINATED_WITH_ERRORS, reason="no such cluster")
        return ClusterStatus(found.state)

    def terminate(self, ref: ClusterRef) -> None:
        _called("terminate", ref.id)
        with _LOCK:
            found = SERVICE.get(ref.id)
            if found is not None:
                found.state = ClusterState.TERMINATED
                for step in found.steps.values():
                    if not step.state.finished:
                        step.state = StepState.CANCELLED

    def find_cluster(
        self, cluster_id: str | None, name: str, run_id: str, since: float
    ) -> ClusterRef | None:
        if cluster_id and cluster_id in SERVICE:
            return ClusterRef(cluster_id, self.name)
        return next(
            (ClusterRef(c.id, self.name) for c in SERVICE.values() if c.run_id == run_id), None
        )

    def set_concurrency(self, ref: ClusterRef, level: int) -> None:
        _called("set_concurrency", ref.id, str(level))

    def submit(self, ref: ClusterRef, submissions: Sequence[Submission]) -> list[StepRef]:
        refs = []
        with _LOCK:
            cluster = SERVICE[ref.id]
            for sub in submissions:
                step_id = f"ds-{next(_IDS)}"
                fails = list(sub.step.command) == ["fail"]
                cluster.steps[step_id] = _Step(step_id, sub.step.name, fails)
                refs.append(StepRef(sub.run_id, sub.step.id, sub.attempt, step_id))
        if submissions:
            _called("submit", ref.id, ",".join(s.step.id for s in submissions))
        return refs

    def poll(self, ref: ClusterRef, steps: Sequence[StepRef]) -> dict[tuple[str, str], StepStatus]:
        out = {}
        with _LOCK:
            cluster = SERVICE[ref.id]
            for step_ref in steps:
                step = cluster.steps[step_ref.fabric_id]
                step.polls += 1
                if step.state is StepState.PENDING and step.polls >= 1:
                    step.state = StepState.RUNNING
                elif step.state is StepState.RUNNING and step.polls >= 2:
                    step.state = StepState.FAILED if step.fails else StepState.COMPLETED
                code = None if not step.state.finished else (1 if step.fails else 0)
                out[step_ref.key] = StepStatus(step.state, exit_code=code)
        return out

    def cancel(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        with _LOCK:
            for step_ref in steps:
                cluster_step = SERVICE[ref.id].steps[step_ref.fabric_id]
                if not cluster_step.state.finished:
                    cluster_step.state = StepState.CANCELLED
        _called("cancel", ref.id, ",".join(s.step_id for s in steps))

    def kill(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        self.cancel(ref, steps)

    def list_steps(self, ref: ClusterRef, since: float) -> list[ClusterStep]:
        cluster = SERVICE.get(ref.id)
        steps = cluster.steps.values() if cluster else ()
        return [ClusterStep(s.id, s.name, s.state) for s in steps]

    def reattach(self, ref: ClusterRef, stored: StepRef) -> StepRef | None:
        cluster = SERVICE.get(ref.id)
        return stored if cluster is not None and stored.fabric_id in cluster.steps else None

    def stop_unrecorded(self, ref: ClusterRef, run_id: str, step_ids: Sequence[str]) -> list[str]:
        return []

    def wait_handles(self) -> Sequence[int]:
        return ()

    def next_timer(self) -> float | None:
        return None

    def diagnose(self, ref: ClusterRef, step: StepRef) -> FailureCause | None:
        return FailureCause(f"demo step {step.fabric_id} was told to fail")

    def fetch_logs(
        self, ref: ClusterRef, step: StepRef, log_uri: str = ""
    ) -> tuple[str, dict[str, str]] | None:
        return f"demo://{ref.id}/{step.fabric_id}", {"stderr": "told to fail\n"}

    def exists(self, targets: Sequence[Target]) -> dict[str, bool | None]:
        return dict.fromkeys((t.uri for t in targets), False)  # the demo holds no data

    def close(self) -> None:
        pass


class DemoDriver:
    name = NAME
    label = "demo"

    def open(
        self, cluster: ClusterConfig | None, playbook: Playbook | None, options: Options
    ) -> Fabric:
        section = cluster.section(NAME) if cluster is not None else None
        return DemoFabric(section if isinstance(section, DemoSection) else None)

    def hosted(
        self, cluster: ClusterConfig, cluster_id: str, options: Options
    ) -> Callable[[], Fabric]:
        return lambda: self.open(cluster, None, options)

    def concurrency(self, cluster: ClusterConfig | None, playbook: Playbook) -> int:
        section = cluster.section(NAME) if cluster is not None else None
        slots = section.slots if isinstance(section, DemoSection) else 2
        return min(slots, playbook.concurrency or slots)

    def host(self, cluster_id: str, state_dir: Path) -> str | None:
        return None

    def plan_transient(self, cluster: ClusterConfig, playbook: Playbook, run_id: str) -> Plan:
        return Plan(
            "Dry run: the demo fabric", {"launch": cluster.name, "steps": len(playbook.steps)}
        )

    def plan_attached(self, playbook: Playbook, cluster_id: str) -> Plan:
        return Plan("", {"cluster": cluster_id, "steps": [s.id for s in playbook.steps]})

    def plan_launch(self, cluster: ClusterConfig) -> Plan:
        return Plan("", {"launch": cluster.name})

    def plan_terminate(self, cluster: ClusterConfig, cluster_id: str) -> Plan:
        return Plan("", {"terminate": cluster_id})

    def read_logs(self, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        return {"stderr": f"logs of {attempt.fabric_ref.get('fabric_id', '')}\n"}

    def tagged_clusters(self, region: str) -> list[TaggedCluster]:
        return [
            TaggedCluster(c.id, "demo", c.state.value, c.run_id, transient=True)
            for c in SERVICE.values()
            if not c.state.finished
        ]


__all__ = ["CALLS", "SERVICE", "DemoDriver", "DemoFabric", "DemoSection", "reset"]
