"""The local fabric's driver: its settings, plans and clusters (see ``fabrics/base.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataflow_runner.config.model import ClusterConfig, Playbook
from dataflow_runner.errors import DataflowRunnerError, FabricError
from dataflow_runner.fabrics.base import Fabric, Options, Plan, TaggedCluster
from dataflow_runner.fabrics.local import cluster as local_cluster
from dataflow_runner.fabrics.local.commands import LocalSettings
from dataflow_runner.fabrics.local.fabric import LocalFabric, Slots
from dataflow_runner.store.records import AttemptRecord, RunRecord


class LocalDriver:
    """Steps as processes on this machine."""

    name = "local"
    label = "local"

    def _settings(self, cluster: ClusterConfig | None) -> LocalSettings:
        if cluster is None:
            raise FabricError("a run on the local fabric needs a cluster config")
        return LocalSettings.from_config(cluster)

    def open(
        self, cluster: ClusterConfig | None, playbook: Playbook | None, options: Options
    ) -> Fabric:
        if cluster is None:
            # A run on a running local cluster goes to its host (see ``host``).
            return LocalFabric(LocalSettings.empty(), options.state_dir, store=options.store)
        return LocalFabric(self._settings(cluster), options.state_dir, store=options.store)

    def hosted(
        self, cluster: ClusterConfig, cluster_id: str, options: Options
    ) -> Callable[[], Fabric]:
        """For the engine host of a local cluster: each run gets its own view of the
        cluster, all sharing its slots."""
        settings = self._settings(cluster)
        slots = Slots(settings.concurrency)
        return lambda: LocalFabric(settings, options.state_dir, cluster_id=cluster_id, slots=slots)

    def concurrency(self, cluster: ClusterConfig | None, playbook: Playbook) -> int:
        limit = self._settings(cluster).concurrency if cluster is not None else os.cpu_count() or 1
        return min(limit, playbook.concurrency or limit)

    def host(self, cluster_id: str, state_dir: Path) -> str | None:
        return str(local_cluster.address(state_dir, cluster_id))

    # --- dry runs -----------------------------------------------------------------

    def plan_transient(self, cluster: ClusterConfig, playbook: Playbook, run_id: str) -> Plan:
        settings = self._settings(cluster)
        LocalFabric(settings, Path(".")).validate(cluster, playbook)
        from dataflow_runner.fabrics.local.commands import safe_argv

        document = {
            "fabric": self.name,
            "concurrency": min(settings.concurrency, playbook.concurrency or settings.concurrency),
            "workDir": str(settings.work_dir),
            "steps": [
                {
                    "id": s.id,
                    "name": s.name,
                    "after": list(s.upstream),
                    "command": safe_argv(s, settings),
                }
                for s in playbook.steps
            ],
        }
        return Plan(
            f"Dry run: what the local fabric would run for playbook '{playbook.name}'", document
        )

    def plan_attached(self, playbook: Playbook, cluster_id: str) -> Plan:
        document: dict[str, Any] = {
            "fabric": self.name,
            "cluster": cluster_id,
            "steps": [
                {"id": s.id, "name": s.name, "after": list(s.upstream)} for s in playbook.steps
            ],
        }
        return Plan("", document)

    def plan_launch(self, cluster: ClusterConfig) -> Plan:
        settings = self._settings(cluster)
        return Plan(
            "",
            {"fabric": self.name, "cluster": cluster.name, "concurrency": settings.concurrency},
        )

    def plan_terminate(self, cluster: ClusterConfig, cluster_id: str) -> Plan:
        return Plan("", {"fabric": self.name, "terminate": cluster_id})

    # --- history --------------------------------------------------------------------

    def read_logs(self, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        raise DataflowRunnerError(f"no local logs at {attempt.log_location}")

    def tagged_clusters(self, region: str) -> list[TaggedCluster]:
        return []
