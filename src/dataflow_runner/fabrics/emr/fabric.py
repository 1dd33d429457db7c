"""The EMR fabric: clusters and steps on AWS EMR, through boto3.

Monitoring costs one ListSteps per poll whatever the number of steps (the Go
tool made one DescribeStep per step and hit EMR's throttling with 9+ steps).
A step is never submitted twice: creating calls are sent once, and an
ambiguous failure is reconciled against what EMR has before sending again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from dataflow_runner.config.model import ClusterConfig, Playbook
from dataflow_runner.errors import ConfigError, FabricError
from dataflow_runner.fabrics import calls
from dataflow_runner.fabrics.base import (
    ClusterRef,
    ClusterStatus,
    ClusterStep,
    FailureCause,
    Reattached,
    Recovered,
    StepRef,
    StepStatus,
    Submission,
    Target,
)
from dataflow_runner.fabrics.emr import logs, requests, s3data
from dataflow_runner.fabrics.emr.client import Ambiguous, call, clients, session
from dataflow_runner.fabrics.emr.config import NAME, EmrSection
from dataflow_runner.store.records import ClusterState, StepState

log = logging.getLogger("dataflow_runner.emr")

RUN_TAG = requests.RUN_TAG
# ListSteps accepts at most this many StepIds; beyond it, page through the cluster's steps.
MAX_STEP_IDS = 10
_STATES = {
    "PENDING": StepState.PENDING,
    "CANCEL_PENDING": StepState.RUNNING,
    "RUNNING": StepState.RUNNING,
    "COMPLETED": StepState.COMPLETED,
    "CANCELLED": StepState.CANCELLED,
    "FAILED": StepState.FAILED,
    "INTERRUPTED": StepState.FAILED,
}


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


class EmrFabric:
    """Steps on an EMR cluster (``orders_steps``: EMR queues a serial playbook itself)."""

    name = "emr"
    label = "EMR"
    orders_steps = True
    submits_running = False
    terminate_first = True

    def __init__(
        self,
        emr: EmrSection | None,
        *,
        credentials: Any,
        region: str,
        concurrency: int = 1,
        poll: float | None = None,
    ) -> None:
        self.emr = emr
        self._poll = poll
        self.region = region or (emr.region if emr else "")
        self.concurrency = concurrency
        self._session = session(credentials, self.region)
        self._emr, self._emr_once = clients(self._session, "emr")
        self._s3: Any = None
        self._failures: dict[str, FailureCause] = {}  # EMR step id -> FailureDetails
        self.calls: dict[str, int] = {}  # API calls made, by name (for the record)
        self._log_uris: dict[str, str] = {}
        # Run ids whose RunJobFlow got no answer and no cluster was found (yet): the
        # next launch looks again before sending, in case the list was behind.
        self._unsure: dict[str, float] = {}

    # --- helpers -------------------------------------------------------------------

    def _call(self, name: str, fn: Any, **kwargs: Any) -> Any:
        self.calls[name] = self.calls.get(name, 0) + 1
        try:
            result = call(name, fn, **kwargs)
        except BaseException:
            calls.record(NAME, name, ok=False)
            raise
        calls.record(NAME, name, ok=True)
        return result

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = clients(self._session, "s3")[0]
        return self._s3

    # --- planning --------------------------------------------------------------------

    def validate(self, cluster: ClusterConfig | None, playbook: Playbook) -> None:
        if cluster is not None and cluster.section(NAME) is None:
            raise ConfigError('an "emr" section is needed to run on EMR', path="$.data.emr")

    def poll_interval(self, elapsed: float) -> float:
        """Every 15 s (or ``--poll-interval``), every 5 s in the first minute so that
        quick failures and completions are seen quickly."""
        steady = self._poll if self._poll is not None else 15.0
        return min(steady, 5.0) if elapsed < 60 else steady

    def launch_request(
        self,
        cluster: ClusterConfig,
        *,
        run_id: str,
        keep_alive: bool,
        steps: Sequence[Any] = (),
        transient: bool = True,
        concurrency: int | None = None,
    ) -> dict[str, Any]:
        emr = cluster.section(NAME)
        if not isinstance(emr, EmrSection):
            raise ConfigError('an "emr" section is needed to run on EMR', path="$.data.emr")
        return requests.launch(
            emr,
            run_id=run_id,
            transient=transient,
            keep_alive=keep_alive,
            steps=steps,
            region=self.region,
            concurrency=concurrency or self.concurrency,
        )

    def plan(self, cluster: ClusterConfig, playbook: Playbook) -> dict[str, Any]:
        return self.launch_request(cluster, run_id="", keep_alive=False, steps=playbook.steps)

    # --- cluster -----------------------------------------------------------------------

    def launch(
        self,
        cluster: ClusterConfig,
        *,
        run_id: str,
        keep_alive: bool,
        submissions: Sequence[Submission] = (),
        transient: bool = True,
        concurrency: int | None = None,
    ) -> tuple[ClusterRef, list[StepRef]]:
        request = self.launch_request(
            cluster,
            run_id=run_id,
            keep_alive=keep_alive,
            steps=[s.step for s in submissions],
            transient=transient,
            concurrency=concurrency,
        )
        started = time.time()
        earlier = self._unsure.get(run_id) if run_id else None
        found = self._find_launched(request["Name"], run_id, earlier) if earlier else None
        if found is not None:
            cluster_id = found
        else:
            try:
                response = self._call("RunJobFlow", self._emr_once.run_job_flow, **request)
                cluster_id = str(response["JobFlowId"])
            except Ambiguous:
                found = self._find_launched(request["Name"], run_id, started)
                if found is None:
                    if run_id:
                        self._unsure.setdefault(run_id, started)
                    raise
                cluster_id = found
        self._unsure.pop(run_id, None)
        ref = ClusterRef(cluster_id, "emr")
        # A new cluster holds only the steps just sent.
        refs = self._match_steps(ref, submissions, since=0.0) if submissions else []
        return ref, refs

    def _find_launched(self, name: str, run_id: str, since: float) -> str | None:
        """After an ambiguous RunJobFlow: the cluster it created, if it did."""
        if not run_id:
            return None
        pages = self._emr.get_paginator("list_clusters").paginate(
            CreatedAfter=datetime.fromtimestamp(since - 60)
        )
        self.calls["ListClusters"] = self.calls.get("ListClusters", 0) + 1
        for page in pages:
            for summary in page.get("Clusters", []):
                if summary.get("Name") != name:
                    continue
                detail = self._call(
                    "DescribeCluster", self._emr.describe_cluster, ClusterId=summary["Id"]
                )["Cluster"]
                tags = {t["Key"]: t["Value"] for t in detail.get("Tags", [])}
                if tags.get(RUN_TAG) == run_id:
                    log.warning(
                        "RunJobFlow got no answer, but cluster %s was created: using it",
                        summary["Id"],
                    )
                    return str(summary["Id"])
        return None

    def find_cluster(
        self, cluster_id: str | None, name: str, run_id: str, since: float
    ) -> ClusterRef | None:
        """The recorded cluster, else the one launched for the run (by its run-id tag)."""
        if cluster_id:
            return ClusterRef(cluster_id, self.name)
        found = self._find_launched(name, run_id, since)
        return ClusterRef(found, self.name) if found else None

    def list_steps(self, ref: ClusterRef, since: float) -> list[ClusterStep]:
        """The cluster's steps created at or after ``since``, oldest first."""
        out: list[ClusterStep] = []
        for page in self._list_steps(ref.id):
            for step in page:
                created = _epoch(step.get("Status", {}).get("Timeline", {}).get("CreationDateTime"))
                if created is not None and created < since:
                    return list(reversed(out))
                out.append(
                    ClusterStep(
                        str(step.get("Id", "")),
                        str(step.get("Name", "")),
                        self._status(step).state,
                        created,
                    )
                )
        return list(reversed(out))

    def step_load(self, ref: ClusterRef) -> tuple[int, int]:
        """The cluster's (RUNNING, PENDING) steps, whoever sent them: one ListSteps
        filtered by state (a page holds 50: more pages only past that)."""
        running = pending = 0
        kwargs: dict[str, Any] = {"ClusterId": ref.id, "StepStates": ["PENDING", "RUNNING"]}
        while True:
            page = self._call("ListSteps", self._emr.list_steps, **kwargs)
            for step in page.get("Steps", []):
                if step.get("Status", {}).get("State") == "RUNNING":
                    running += 1
                else:
                    pending += 1
            if not page.get("Marker"):
                return running, pending
            kwargs["Marker"] = page["Marker"]

    def reattach(self, ref: ClusterRef, stored: StepRef) -> Reattached:
        """An EMR step outlives its runner: it is followed by its id (its first poll
        gives its outcome if it ended meanwhile)."""
        if not stored.fabric_id.startswith("s-"):
            return Reattached(Recovered.NEVER_STARTED)
        return Reattached(
            Recovered.RUNNING,
            StepRef(
                stored.run_id, stored.step_id, stored.attempt, stored.fabric_id, {"cluster": ref.id}
            ),
        )

    def unrecorded(
        self,
        ref: ClusterRef,
        run_id: str,
        attempts: Mapping[str, tuple[str, int]],
        *,
        since: float,
        known: Collection[str] = (),
    ) -> list[StepRef]:
        """Steps the dead runner added to the cluster without recording them: the
        cluster's steps created since the run started, by name, oldest first."""
        on_cluster = [s for s in self.list_steps(ref, since) if s.id not in known]
        found = []
        for step_id, (name, attempt) in attempts.items():
            match = next((s for s in on_cluster if s.name == name), None)
            if match is None:
                continue
            on_cluster.remove(match)
            found.append(StepRef(run_id, step_id, attempt, match.id, {"cluster": ref.id}))
        return found

    def cluster_status(self, ref: ClusterRef) -> ClusterStatus:
        cluster = self._call("DescribeCluster", self._emr.describe_cluster, ClusterId=ref.id)[
            "Cluster"
        ]
        status = cluster.get("Status", {})
        reason = status.get("StateChangeReason", {})
        return ClusterStatus(
            ClusterState(status.get("State", "STARTING")),
            reason=reason.get("Message"),
            reason_code=reason.get("Code"),
        )

    def log_uri(self, ref: ClusterRef) -> str:
        """Where EMR copies the cluster's logs (asked once per cluster)."""
        if ref.id not in self._log_uris:
            if self.emr is not None and self.emr.log_uri:
                self._log_uris[ref.id] = self.emr.log_uri
            else:
                cluster = self._call(
                    "DescribeCluster", self._emr.describe_cluster, ClusterId=ref.id
                )["Cluster"]
                self._log_uris[ref.id] = str(cluster.get("LogUri") or "")
        return self._log_uris[ref.id]

    def terminate(self, ref: ClusterRef) -> None:
        self._call(
            "TerminateJobFlows",
            self._emr.terminate_job_flows,
            **requests.terminate_job_flows(ref.id),
        )

    # --- steps -------------------------------------------------------------------------

    def submit(self, ref: ClusterRef, submissions: Sequence[Submission]) -> list[StepRef]:
        if not submissions:
            return []
        request = requests.add_job_flow_steps(
            ref.id, [s.step for s in submissions], region=self.region
        )
        started = time.time()
        try:
            response = self._call("AddJobFlowSteps", self._emr_once.add_job_flow_steps, **request)
        except Ambiguous:
            # Were they added? Look before sending them again.
            refs = self._match_steps(ref, submissions, since=started - 5, required=False)
            if refs:
                log.warning("AddJobFlowSteps got no answer, but the steps were added")
                return refs
            raise
        ids = [str(i) for i in response["StepIds"]]
        return [
            StepRef(s.run_id, s.step.id, s.attempt, fabric_id=sid, data={"cluster": ref.id})
            for s, sid in zip(submissions, ids, strict=True)
        ]

    def _match_steps(
        self,
        ref: ClusterRef,
        submissions: Sequence[Submission],
        *,
        since: float,
        required: bool = True,
    ) -> list[StepRef]:
        """The cluster's most recent steps named like ``submissions``, in order."""
        want = len(submissions)
        recent: list[dict[str, Any]] = []
        for page in self._list_steps(ref.id):
            for step in page:
                created = _epoch(step.get("Status", {}).get("Timeline", {}).get("CreationDateTime"))
                if created is not None and created < since:
                    break
                recent.append(step)
            if len(recent) >= want:
                break
        recent = list(reversed(recent))[-want:] if len(recent) >= want else []
        names = [s.step.name for s in submissions]
        if [s.get("Name") for s in recent] != names:
            if required:
                raise FabricError(f"cannot find the {want} steps just added to {ref.id}")
            return []
        return [
            StepRef(
                s.run_id, s.step.id, s.attempt, fabric_id=str(step["Id"]), data={"cluster": ref.id}
            )
            for s, step in zip(submissions, recent, strict=True)
        ]

    def _list_steps(self, cluster_id: str, step_ids: Sequence[str] = ()) -> Any:
        """Pages of ListSteps (newest first), one API call per page."""
        kwargs: dict[str, Any] = {"ClusterId": cluster_id}
        if step_ids:
            kwargs["StepIds"] = list(step_ids)
        while True:
            page = self._call("ListSteps", self._emr.list_steps, **kwargs)
            yield page.get("Steps", [])
            marker = page.get("Marker")
            if not marker:
                return
            kwargs["Marker"] = marker

    def poll(self, ref: ClusterRef, steps: Sequence[StepRef]) -> dict[tuple[str, str], StepStatus]:
        """One ListSteps (paged only when the cluster has many newer steps)."""
        by_id = {s.fabric_id: s for s in steps}
        if not by_id:
            return {}
        ids = list(by_id) if len(by_id) <= MAX_STEP_IDS else []
        out: dict[tuple[str, str], StepStatus] = {}
        for page in self._list_steps(ref.id, ids):
            for summary in page:
                step = by_id.get(summary.get("Id", ""))
                if step is not None:
                    out[step.key] = self._status(summary)
            if len(out) == len(by_id):
                break
        return out

    def _status(self, summary: dict[str, Any]) -> StepStatus:
        status = summary.get("Status", {})
        raw = str(status.get("State", "PENDING"))
        state = _STATES.get(raw, StepState.PENDING)
        timeline = status.get("Timeline", {})
        reason = status.get("StateChangeReason", {}).get("Message")
        details = status.get("FailureDetails") or {}
        if details:
            summary_line = details.get("Message") or details.get("Reason") or ""
            self._failures[str(summary.get("Id"))] = FailureCause(
                summary=str(summary_line),
                detail=tuple(str(v) for v in (details.get("Reason"), details.get("LogFile")) if v),
            )
            reason = reason or details.get("Reason")
        if raw == "INTERRUPTED":
            reason = reason or "interrupted"
        return StepStatus(
            state,
            reason=reason,
            started_at=_epoch(timeline.get("StartDateTime")),
            ended_at=_epoch(timeline.get("EndDateTime")),
        )

    def cancel(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        ids = [s.fabric_id for s in steps]
        for start in range(0, len(ids), 256):
            self._call(
                "CancelSteps",
                self._emr.cancel_steps,
                ClusterId=ref.id,
                StepIds=ids[start : start + 256],
                StepCancellationOption="SEND_INTERRUPT",
            )

    def kill(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        """EMR has nothing quicker than cancelling (a transient run terminates its
        cluster, which stops them)."""
        self.cancel(ref, steps)

    def set_concurrency(self, ref: ClusterRef, level: int) -> None:
        self._call(
            "ModifyCluster",
            self._emr.modify_cluster,
            ClusterId=ref.id,
            StepConcurrencyLevel=min(256, level),
        )

    def wait_handles(self) -> Sequence[int]:
        return ()

    def next_timer(self) -> float | None:
        return None

    def diagnose(self, ref: ClusterRef, step: StepRef) -> FailureCause | None:
        """EMR's FailureDetails, seen in the last poll (no extra call)."""
        return self._failures.get(step.fabric_id)

    def fetch_logs(
        self, ref: ClusterRef, step: StepRef, log_uri: str = ""
    ) -> tuple[str, dict[str, str]] | None:
        """The step's logs once EMR has copied them to the cluster's logUri (some
        minutes after the step ends): None until then."""
        uri = log_uri or self.log_uri(ref)
        if not uri:
            raise FabricError("the cluster has no logUri: EMR keeps no logs of its steps")
        bucket, key = logs.prefix(uri, ref.id, step.fabric_id)
        files = logs.fetch(self.s3, uri, ref.id, step.fabric_id)
        return (f"s3://{bucket}/{key}", files) if files else None

    def exists(self, targets: Sequence[Target]) -> dict[str, bool | None]:
        """S3 outputs and inputs in bulk, a few ListObjectsV2 calls for many keys
        (``s3data.py``), with the fabric's client: its credentials, endpoint and
        retries. The cluster's own HDFS cannot be seen from here: None."""
        return s3data.exists(targets, s3data.lister(self.s3, self._call))

    def close(self) -> None:
        pass
