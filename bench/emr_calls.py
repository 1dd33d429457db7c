"""EMR API calls while following a playbook, on moto's server (calls counted by
the server), against the Go tool's pattern (one DescribeStep per step per 15 s
poll = 12,000 calls an hour for 50 steps).

The run is time-scaled: polls every 0.15 s and steps of 0.6 s stand for the
default 15 s polls and steps of a minute (100x). Calls per poll are measured;
calls per hour are the measured calls per poll times the polls of an hour at
the default schedule (5 s in the first minute, then 15 s), plus the launch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALE = 100.0
POLL = 15.0 / SCALE


def calls_per_hour(steps: int = 50) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from tests.emr_server import EmrDriver, Outcome, running_server
    from tests.integration.test_emr import cluster_file, serial_playbook

    with running_server() as server, tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cluster = cluster_file(d)
        playbook = serial_playbook(d, [f"step-{i:02d}" for i in range(steps)])
        env = {
            **os.environ,
            **server.env(),
            "DATAFLOW_RUNNER_HOME": str(d / "home"),
            "DATAFLOW_RUNNER_POLL_INTERVAL": str(POLL),
        }
        completed: dict[str, float] = {}
        noticed: dict[str, float] = {}
        with EmrDriver(default=Outcome(seconds=60.0 / SCALE)) as driver:
            original = driver._end

            def record_end(cluster_obj: object, step: object, outcome: Outcome) -> None:
                completed[step.name] = time.monotonic()  # type: ignore[attr-defined]
                original(cluster_obj, step, outcome)

            driver._end = record_end  # type: ignore[method-assign]
            started = time.monotonic()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dataflow_runner",
                    "run-transient",
                    "--emr-config",
                    str(cluster),
                    "--emr-playbook",
                    str(playbook),
                    "--output",
                    "json",
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                event = json.loads(line)
                if event.get("event") == "step" and event.get("state") == "COMPLETED":
                    noticed[event["name"]] = time.monotonic()
            proc.wait()
            duration = time.monotonic() - started
        calls = dict(server.faults.calls)
    polls = calls.get("ListSteps", 0)
    per_poll = sum(v for k, v in calls.items() if k in ("ListSteps", "DescribeStep")) / max(
        polls, 1
    )
    lags = [noticed[name] - completed[name] for name in noticed if name in completed]
    hour_polls = 60 / 5 + (3600 - 60) / 15
    launch = calls.get("RunJobFlow", 0) + calls.get("TerminateJobFlows", 0)
    return {
        "steps": steps,
        "status_calls_per_poll": round(per_poll, 3),
        "describe_cluster_calls": calls.get("DescribeCluster", 0),
        "calls_per_hour": round(per_poll * hour_polls + launch + calls.get("DescribeCluster", 0)),
        "go_tool_calls_per_hour": steps * 3600 / 15,
        "max_notice_lag_s": round(max(lags), 3) if lags else None,
        "max_processing_s": round(max(0.0, max(lags) - POLL), 3) if lags else None,
        "poll_s": POLL,
        "scale": SCALE,
        "scaled_duration_s": round(duration, 1),
        "calls": calls,
    }


if __name__ == "__main__":
    print(json.dumps(calls_per_hour(), indent=2))
