"""The benchmark workloads: layers of trivial steps (``true``), each layer
depending on the whole previous one, run with concurrency 2."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    width: int  # steps per layer
    layers: int  # each layer waits for the whole previous one
    concurrency: int = 2

    @property
    def steps(self) -> int:
        return self.width * self.layers

    def step_ids(self) -> list[list[str]]:
        if self.width == 1:
            return [[f"s{i}"] for i in range(self.layers)]
        return [[f"l{layer}s{i}" for i in range(self.width)] for layer in range(self.layers)]


WORKLOADS = [
    Workload("W1", "100 steps in a chain", width=1, layers=100),
    Workload("W2", "200 independent steps, concurrency 2", width=200, layers=1),
    Workload("W3", "10 layers x 20 steps, each on the whole previous layer", width=20, layers=10),
    Workload("W4", "2,000 independent steps, concurrency 2", width=2000, layers=1),
]

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def write_native(work: Workload, d: Path) -> tuple[Path, Path]:
    """This project's cluster config and playbook for ``work``."""
    cluster = d / "cluster.json"
    cluster.write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {
                    "name": "bench",
                    "local": {"concurrency": work.concurrency, "workDir": str(d)},
                },
            }
        )
    )
    steps = []
    previous: list[str] = []
    for layer in work.step_ids():
        for step_id in layer:
            step = {"id": step_id, "type": "COMMAND", "command": ["true"]}
            if previous:
                step["dependsOn"] = previous
            steps.append(step)
        previous = layer
    playbook = d / "playbook.json"
    playbook.write_text(
        json.dumps(
            {
                "schema": NATIVE_PLAYBOOK,
                "data": {"name": work.name, "concurrency": work.concurrency, "steps": steps},
            }
        )
    )
    return cluster, playbook


def write_dag(d: Path, steps: int) -> tuple[Path, Path]:
    """A large DAG for the plan benchmark: each step depends on up to 3 earlier ones."""
    work = Workload("plan", "", width=steps, layers=1)
    cluster, playbook = write_native(work, d)
    doc = json.loads(playbook.read_text())
    for i, step in enumerate(doc["data"]["steps"]):
        ups = [f"l0s{j}" for j in (i // 2, i // 3, i - 1) if 0 <= j < i]
        if ups:
            step["dependsOn"] = sorted(set(ups))
    playbook.write_text(json.dumps(doc))
    return cluster, playbook
