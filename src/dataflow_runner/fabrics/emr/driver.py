"""The EMR fabric's driver: credentials, region, concurrency, dry-run requests, and
what the history commands ask EMR (see ``fabrics/base.py``).

boto3 is imported only when a fabric is opened for real: a dry run builds its
requests without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataflow_runner.config.model import ClusterConfig, Credentials, Playbook
from dataflow_runner.errors import ConfigError, FabricError, FlagError
from dataflow_runner.fabrics.base import Fabric, Options, Plan, TaggedCluster
from dataflow_runner.fabrics.emr import requests

if TYPE_CHECKING:
    from dataflow_runner.fabrics.emr.config import EmrSection
    from dataflow_runner.store.records import AttemptRecord, RunRecord

#: Step concurrency on EMR for a DAG playbook that sets none.
DEFAULT_DAG_CONCURRENCY = 4


def _section(cluster: ClusterConfig | None) -> EmrSection | None:
    from dataflow_runner.fabrics.emr.config import NAME, EmrSection

    found = cluster.section(NAME) if cluster is not None else None
    return found if isinstance(found, EmrSection) else None


def _required(cluster: ClusterConfig) -> EmrSection:
    emr = _section(cluster)
    if emr is None:
        raise ConfigError('this cluster config has no "emr" section', path="$.data.emr")
    return emr


class EmrDriver:
    """Clusters and steps on AWS EMR."""

    name = "emr"
    label = "EMR"

    def open(
        self, cluster: ClusterConfig | None, playbook: Playbook | None, options: Options
    ) -> Fabric:
        from dataflow_runner.fabrics.emr.fabric import EmrFabric

        emr = _section(cluster)
        if emr is not None:
            credentials: Any = emr.credentials
            region = (playbook.region if playbook else "") or emr.region
        elif playbook is not None:
            credentials, region = playbook.credentials, playbook.region
        else:  # ``down`` of a cluster whose config has no EMR section: the SDK's chain
            credentials, region = Credentials(), ""
        level = self.concurrency(cluster, playbook) if playbook is not None else 1
        return EmrFabric(
            emr,
            credentials=credentials,
            region=region,
            concurrency=level,
            poll=options.poll_interval,
        )

    def hosted(
        self, cluster: ClusterConfig, cluster_id: str, options: Options
    ) -> Callable[[], Fabric]:
        return lambda: self.open(cluster, None, options)

    def concurrency(self, cluster: ClusterConfig | None, playbook: Playbook) -> int:
        """1 for a serial playbook (EMR's queue: the Go tool's exact request); else the
        playbook's or the cluster's limit."""
        if playbook.is_serial:
            return 1
        emr = _section(cluster)
        level = emr.step_concurrency_level if emr is not None else 0
        return playbook.concurrency or level or DEFAULT_DAG_CONCURRENCY

    def host(self, cluster_id: str, state_dir: Path) -> str | None:
        return None  # the engine drives EMR clusters itself

    # --- dry runs -----------------------------------------------------------------

    def plan_transient(self, cluster: ClusterConfig, playbook: Playbook, run_id: str) -> Plan:
        emr = _required(cluster)
        serial = playbook.is_serial
        request = requests.launch(
            emr,
            run_id=run_id,
            transient=True,
            keep_alive=not serial,
            steps=playbook.steps if serial else (),
            region=playbook.region or emr.region,
            concurrency=self.concurrency(cluster, playbook),
        )
        dag = " (a DAG: the cluster starts empty and each step is added when it is ready)"
        return Plan(
            f"Dry run: the RunJobFlow request for cluster '{emr.name}' with "
            f"{len(playbook.steps)} steps{'' if serial else dag}",
            request,
        )

    def plan_attached(self, playbook: Playbook, cluster_id: str) -> Plan:
        dag = " (a DAG: each step is added when its dependencies complete)"
        return Plan(
            f"Dry run: the AddJobFlowSteps request for {len(playbook.steps)} steps"
            f"{'' if playbook.is_serial else dag}",
            requests.add_job_flow_steps(cluster_id, playbook.steps, region=playbook.region),
        )

    def plan_launch(self, cluster: ClusterConfig) -> Plan:
        emr = _required(cluster)
        return Plan(
            f"Dry run: the RunJobFlow request for cluster '{emr.name}'",
            requests.launch(emr, run_id="", transient=False, keep_alive=True),
        )

    def plan_terminate(self, cluster: ClusterConfig, cluster_id: str) -> Plan:
        return Plan(
            "Dry run: the TerminateJobFlows request", requests.terminate_job_flows(cluster_id)
        )

    # --- history --------------------------------------------------------------------

    def read_logs(self, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        """``logs RUN STEP`` for an EMR step: its files on S3 (with the SDK's default
        credentials: the store keeps no secret)."""
        from dataflow_runner.fabrics.emr import logs
        from dataflow_runner.fabrics.emr.client import clients, session

        location = str(attempt.log_location)
        cluster_id = str(attempt.fabric_ref.get("cluster", ""))
        step_id = str(attempt.fabric_ref.get("fabric_id", ""))
        log_uri = location.split(f"{cluster_id}/steps/", maxsplit=1)[0] if cluster_id else location
        region = str(run.playbook_doc.get("region", "") or "")
        emr_doc = run.cluster_doc.get(self.name) if isinstance(run.cluster_doc, dict) else None
        if not region and isinstance(emr_doc, dict):
            region = str(emr_doc.get("region", "") or "")
        s3 = clients(session(Credentials("default", "default"), region), "s3")[0]
        files = logs.fetch(s3, log_uri, cluster_id, step_id)
        if not files:
            raise FabricError(
                f"no logs at {location} yet (EMR copies them some minutes after the step ends)"
            )
        from dataflow_runner.diagnosis import ordered

        return {n: files[n] if files[n].endswith("\n") else files[n] + "\n" for n in ordered(files)}

    def tagged_clusters(self, region: str) -> list[TaggedCluster]:
        """EMR clusters tagged by this tool that are still up."""
        from dataflow_runner.fabrics.emr.client import call, clients, session

        sess = session(Credentials(), region)
        if not sess.region_name:
            # Without one boto3 fails deep inside with NoRegionError.
            raise FlagError("clusters --orphans needs a region: pass --region or set AWS_REGION")
        emr = clients(sess, "emr")[0]
        active = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING"]
        pages = emr.get_paginator("list_clusters").paginate(ClusterStates=active)
        # Pages are fetched as they are read: read them all under ``call`` so that an
        # error says what failed, in one line.
        summaries = call("ListClusters", lambda: [c for p in pages for c in p.get("Clusters", [])])
        found = []
        for summary in summaries:
            cluster = call("DescribeCluster", emr.describe_cluster, ClusterId=summary["Id"])[
                "Cluster"
            ]
            tags = {t["Key"]: t["Value"] for t in cluster.get("Tags", [])}
            if requests.TOOL_TAG not in tags:
                continue
            found.append(
                TaggedCluster(
                    id=str(cluster["Id"]),
                    name=str(cluster.get("Name", "")),
                    state=str(cluster.get("Status", {}).get("State", "")),
                    run_id=tags.get(requests.RUN_TAG, ""),
                    transient=tags.get(requests.MODE_TAG) == "transient",
                )
            )
        return found
