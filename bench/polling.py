"""EMR calls per hour while 500 jobs run on 10 clusters (50 steps each), with one
status call per cluster per poll (the server's cluster poller,
``engine/cluster_poller.py``, which the pool manager reads instead of polling
again), against per-job polling for the same load:

* the Go tool follows each step with one DescribeStep per step every 15 s
  (``../shared/compat/dataflow-runner.md``, "Step monitoring polls every 15 s
  with one DescribeStep call per step");
* Genie 3 runs one ``JobMonitor`` per job on a fixed delay, the job's
  ``checkDelay``, 10 s by default (``Command.DEFAULT_CHECK_DELAY = 10000L`` and
  ``JobMonitor.getFixedDelay`` in Netflix/genie): a check per job per 10 s.

The clusters are moto's (tests/emr_server.py) over HTTP, created with RunJobFlow
and given 50 steps each with AddJobFlowSteps; moto leaves them PENDING/RUNNING,
so the load stays 500 jobs for as many polls as measured. Calls are counted by
the fabrics' counters (``fabrics/calls.py``) and, to check them, by the server.
Calls per hour are the measured calls per poll times the polls of an hour at the
poller's default interval (15 s).

    PYTHONPATH=src:. python bench/polling.py [--rounds 24]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLUSTERS, JOBS = 10, 500
POLL_SECONDS = 15.0
GO_POLL_SECONDS = 15.0
GENIE_CHECK_SECONDS = 10.0


def measure(rounds: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import boto3
    from tests.emr_server import REGION, running_server

    from dataflow_runner.engine import clusters
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.cluster_poller import ClusterPoller
    from dataflow_runner.fabrics import calls

    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(server.env())
        emr = boto3.client("emr", region_name=REGION, endpoint_url=server.url)
        ids = []
        for i in range(CLUSTERS):
            made = emr.run_job_flow(
                Name=f"bench-{i}",
                ReleaseLabel="emr-6.10.0",
                Instances={"MasterInstanceType": "m5.xlarge", "SlaveInstanceType": "m5.xlarge",
                           "InstanceCount": 3, "KeepJobFlowAliveWhenNoSteps": True},
                JobFlowRole="EMR_EC2_DefaultRole",
                ServiceRole="EMR_DefaultRole",
            )  # fmt: skip
            ids.append(made["JobFlowId"])
            steps = [
                {"Name": f"job-{i}-{j}", "ActionOnFailure": "CONTINUE",
                 "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["true"]}}
                for j in range(JOBS // CLUSTERS)
            ]  # fmt: skip
            emr.add_job_flow_steps(JobFlowId=made["JobFlowId"], Steps=steps)
        with Engine(state_dir=Path(tmp)) as engine:
            for cluster_id in ids:
                clusters.attach(engine, "emr", cluster_id, tags=["bench"], capacity=50)
            poller = ClusterPoller(engine, interval=POLL_SECONDS)
            before = calls.snapshot()
            server.faults.calls.clear()
            for _ in range(rounds):
                poller.poll_once()
            after = calls.snapshot()
        made_calls = sum(n - before.get(k, 0) for k, n in after.items() if k[0] == "emr")
        seen = sum(server.faults.calls.values())
        by_call = {
            k[1]: n - before.get(k, 0) for k, n in after.items() if k[0] == "emr" and k[2] == "ok"
        }
    per_poll = made_calls / rounds
    polls_an_hour = 3600 / POLL_SECONDS
    return {
        "clusters": CLUSTERS,
        "jobs": JOBS,
        "rounds": rounds,
        "calls_counted_by_fabric": made_calls,
        "calls_seen_by_server": seen,
        "by_call": by_call,  # type: ignore[dict-item]
        "per_poll": per_poll,
        "per_hour": per_poll * polls_an_hour,
        "go_tool_per_hour": JOBS * 3600 / GO_POLL_SECONDS,
        "genie_per_hour": JOBS * 3600 / GENIE_CHECK_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=24, help="polls measured")
    args = parser.parse_args()
    print(json.dumps(measure(args.rounds), indent=2))


if __name__ == "__main__":
    main()
