"""The EMR fabric end to end: the CLI as a subprocess, boto3 over real HTTP to
moto's server, EMR played by the test (tests/emr_server.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.emr_server import REGION, EmrDriver, Outcome, backend

SNOWPLOW_CLUSTER = "iglu:com.snowplowanalytics.dataflowrunner/ClusterConfig/avro/1-1-0"
SNOWPLOW_PLAYBOOK = "iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-1"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def cluster_file(d: Path, **extra: Any) -> Path:
    data = {
        "name": "emr-test",
        "logUri": "s3://emr-logs/",
        "region": REGION,
        "credentials": {"accessKeyId": "env", "secretAccessKey": "env"},
        "roles": {"jobflow": "EMR_EC2_DefaultRole", "service": "EMR_DefaultRole"},
        "ec2": {
            "amiVersion": "6.10.0",
            "keyName": "k",
            "location": {"vpc": {"subnetId": "subnet-1"}},
            "instances": {
                "master": {"type": "m5.xlarge"},
                "core": {"type": "m5.xlarge", "count": 2},
                "task": {"type": "m5.xlarge", "count": 0},
            },
        },
        **extra,
    }
    path = d / "cluster.json"
    path.write_text(json.dumps({"schema": SNOWPLOW_CLUSTER, "data": data}))
    return path


def serial_playbook(d: Path, names: list[str], action: str = "CANCEL_AND_WAIT") -> Path:
    steps = [
        {
            "type": "CUSTOM_JAR",
            "name": n,
            "actionOnFailure": action,
            "jar": "command-runner.jar",
            "arguments": ["echo", n],
        }
        for n in names
    ]
    path = d / "playbook.json"
    path.write_text(
        json.dumps(
            {
                "schema": SNOWPLOW_PLAYBOOK,
                "data": {
                    "region": REGION,
                    "credentials": {"accessKeyId": "env", "secretAccessKey": "env"},
                    "steps": steps,
                },
            }
        )
    )
    return path


def dag_playbook(d: Path, width: int, concurrency: int) -> Path:
    steps = [
        {"id": f"leaf{i}", "type": "COMMAND", "command": ["echo", str(i)]} for i in range(width)
    ]
    steps.append(
        {
            "id": "join",
            "type": "COMMAND",
            "command": ["echo", "join"],
            "dependsOn": [f"leaf{i}" for i in range(width)],
        }
    )
    path = d / "playbook.json"
    path.write_text(
        json.dumps(
            {
                "schema": NATIVE_PLAYBOOK,
                "data": {
                    "name": "dag",
                    "region": REGION,
                    "concurrency": concurrency,
                    "steps": steps,
                },
            }
        )
    )
    return path


def transient_args(d: Path, playbook: Path) -> list[str]:
    """``run-transient`` of ``playbook`` on the test cluster config."""
    return ["run-transient", "--emr-config", str(cluster_file(d)), "--emr-playbook", str(playbook)]


def clusters() -> list[Any]:
    return list(backend().clusters.values())


def test_up_run_down(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    config = cluster_file(tmp_path)
    up = emr_cli("up", "--emr-config", str(config))
    assert up.code == 0, up.err
    [cluster] = clusters()
    assert f"EMR cluster launched successfully; Jobflow ID: {cluster.id}" in up.err
    tags = cluster.tags
    assert {"Key": "dataflow-runner:mode", "Value": "persistent"} in tags

    playbook = serial_playbook(tmp_path, ["one", "two"])
    with EmrDriver():
        run = emr_cli("run", "--emr-playbook", str(playbook), "--emr-cluster", cluster.id)
    assert run.code == 0, run.err
    assert (
        f"Successfully added 2 steps to the EMR cluster with jobflow id '{cluster.id}'" in run.err
    )
    ids = [s.id for s in cluster.steps]
    assert f"Step 'one' with id '{ids[0]}' completed successfully - StartTime: " in run.err
    assert "All steps completed successfully" in run.err
    assert emr.faults.calls["AddJobFlowSteps"] == 1  # the whole serial playbook at once
    assert emr.faults.calls["DescribeStep"] == 0

    down = emr_cli("down", "--emr-config", str(config), "--emr-cluster", cluster.id)
    assert down.code == 0, down.err
    assert f"Terminating EMR cluster with jobflow id '{cluster.id}'" in down.err
    assert "EMR cluster terminated successfully" in down.err
    assert cluster.state == "TERMINATED"
    listing = json.loads(emr_cli("clusters", "--output", "json").out)
    assert listing[0]["id"] == cluster.id and listing[0]["state"] == "TERMINATED"


def test_run_transient_success(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    with EmrDriver():
        result = emr_cli(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["a", "b", "c"])),
        )
    assert result.code == 0, result.err
    [cluster] = clusters()
    assert cluster.state == "TERMINATED"
    assert [s.state for s in cluster.steps] == ["COMPLETED"] * 3
    assert "Transient EMR run completed successfully" in result.err
    assert emr.faults.calls["RunJobFlow"] == 1 and emr.faults.calls["AddJobFlowSteps"] == 0
    tags = {t["Key"]: t["Value"] for t in cluster.tags}
    assert tags["dataflow-runner:mode"] == "transient"
    run = json.loads(emr_cli("status", "--output", "json").out)
    assert run["state"] == "COMPLETED" and run["cluster_id"] == cluster.id
    assert tags["dataflow-runner:run-id"] == run["id"]


def test_run_transient_failure_cancel_and_wait(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    outcomes = {
        "b": Outcome(
            "FAILED",
            failure={
                "Reason": "Unknown Error.",
                "Message": "Exception in thread main: boom",
                "LogFile": "s3://emr-logs/steps/stderr.gz",
            },
        )
    }
    with EmrDriver(outcomes):
        result = emr_cli(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["a", "b", "c"])),
        )
    assert result.code == 1
    [cluster] = clusters()
    assert [s.state for s in cluster.steps] == ["COMPLETED", "FAILED", "CANCELLED"]
    assert cluster.state == "TERMINATED"  # always: never left running after a failure
    b, c = cluster.steps[1].id, cluster.steps[2].id
    assert f"Step 'b' with id '{b}' was FAILED" in result.err
    assert "probable cause: Exception in thread main: boom" in result.err
    assert f"Step 'c' with id '{c}' was CANCELLED" in result.err
    assert "2/3 steps failed to complete successfully" in result.err
    assert "Transient EMR run completed successfully" not in result.err
    assert "terminated by user request" not in result.err.lower()
    run = json.loads(emr_cli("status", "--output", "json").out)
    assert run["state"] == "FAILED"
    assert {s["id"]: s["state"] for s in run["steps"]} == {
        "a": "COMPLETED",
        "b": "FAILED",
        "c": "CANCELLED",
    }


def test_continue_goes_on_after_a_failure(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    with EmrDriver({"a": Outcome("FAILED")}):
        result = emr_cli(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["a", "b"], action="CONTINUE")),
        )
    assert result.code == 1
    [cluster] = clusters()
    assert [s.state for s in cluster.steps] == ["FAILED", "COMPLETED"]
    assert "1/2 steps failed to complete successfully" in result.err


def test_dag_sets_step_concurrency_and_submits_each_step_once(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    with EmrDriver(default=Outcome(seconds=0.3)) as driver:
        result = emr_cli(
            *transient_args(tmp_path, dag_playbook(tmp_path, 6, concurrency=2)),
        )
    assert result.code == 0, result.err
    [cluster] = clusters()
    assert cluster.step_concurrency_level == 2
    assert driver.max_running == 2
    assert set(driver.submitted.values()) == {1}  # every step exactly once
    assert len(driver.submitted) == 7
    names = [s.name for s in cluster.steps]
    assert names[-1] == "join"  # added only when its dependencies completed
    assert cluster.state == "TERMINATED"


def test_throttling_does_not_fail_the_run(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    emr.faults.throttle_share = 0.3
    with EmrDriver(default=Outcome(seconds=0.2)):
        result = emr_cli(
            *transient_args(tmp_path, dag_playbook(tmp_path, 4, concurrency=2)),
        )
    assert result.code == 0, result.err
    assert sum(emr.faults.throttled.values()) > 0
    [cluster] = clusters()
    assert len(cluster.steps) == 5  # nothing submitted twice despite the throttling


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_terminates_the_transient_cluster(
    emr_cli: Any, emr: Any, tmp_path: Path, sig: signal.Signals
) -> None:
    with EmrDriver(default=Outcome(seconds=600)) as driver:
        proc = emr_cli.popen(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["long", "next"])),
        )
        driver.wait_for(lambda: any(s.state == "RUNNING" for c in clusters() for s in c.steps))
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    [cluster] = clusters()
    assert cluster.state == "TERMINATED"
    # Terminating the cluster stops its steps: no CancelSteps first, whatever it costs.
    assert emr.faults.calls["TerminateJobFlows"] >= 1
    assert emr.faults.calls.get("CancelSteps", 0) == 0
    run = json.loads(emr_cli("status", "--output", "json").out)
    assert run["state"] == "CANCELLED"
    assert {s["state"] for s in run["steps"]} == {"CANCELLED"}


def test_log_failed_steps_prints_logs_and_the_probable_cause(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    stderr = (
        'INFO starting\nException in thread "main" java.lang.IllegalArgumentException:'
        " bad --config\n\tat com.acme.Main.main(Main.scala:12)\n"
    )
    outcomes = {"b": Outcome("FAILED", logs={"stderr": stderr, "controller": "exit code 1\n"})}
    with EmrDriver(outcomes):
        result = emr_cli(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["a", "b"])),
            "--log-failed-steps",
        )
    assert result.code == 1
    step_id = clusters()[0].steps[1].id
    assert f"Content of log file 'stderr' for step {step_id}:" in result.err
    assert "probable cause: java.lang.IllegalArgumentException: bad --config" in result.err
    run = json.loads(emr_cli("status", "--output", "json").out)
    failed = next(s for s in run["steps"] if s["id"] == "b")
    assert failed["cause"] == "java.lang.IllegalArgumentException: bad --config"


def test_calls_per_poll_do_not_grow_with_steps(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    """Hold every step RUNNING for a fixed number of ListSteps calls: the total
    calls must not depend on how many steps there are (the Go tool made one
    DescribeStep per step per poll)."""
    counts = {}
    for width in (4, 40):
        emr.reset()
        held = HoldUntil(emr, list_steps_calls=8)
        with EmrDriver(default=Outcome(seconds=0.0), hold=held):
            result = emr_cli(
                *transient_args(tmp_path, dag_playbook(tmp_path, width, width)),
            )
        assert result.code == 0, result.err
        counts[width] = dict(emr.faults.calls)
    for width, calls in counts.items():
        assert calls.get("DescribeStep", 0) == 0, width
    assert abs(counts[40]["ListSteps"] - counts[4]["ListSteps"]) <= 3, counts
    assert abs(counts[40].get("DescribeCluster", 0) - counts[4].get("DescribeCluster", 0)) <= 3


class HoldUntil:
    """Keeps steps running until the server has answered N ListSteps calls."""

    def __init__(self, server: Any, list_steps_calls: int) -> None:
        self.server = server
        self.calls = list_steps_calls

    def __call__(self) -> bool:
        return bool(self.server.faults.calls["ListSteps"] < self.calls)


def test_bootstrap_failure_is_retried(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    with EmrDriver(bootstrap_failures=1):
        result = emr_cli("up", "--emr-config", str(cluster_file(tmp_path)))
    assert result.code == 0, result.err
    assert "Bootstrap failure detected, retrying in" in result.err
    first, second = sorted(clusters(), key=lambda c: c.creation_datetime)
    assert first.state == "TERMINATED_WITH_ERRORS"
    assert f"EMR cluster launched successfully; Jobflow ID: {second.id}" in result.err


def test_endpoint_and_credentials_from_the_environment(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    # `env` credentials without the variables: a clear error, nothing created.
    result = emr_cli(
        "up",
        "--emr-config",
        str(cluster_file(tmp_path)),
        AWS_ACCESS_KEY_ID="",
        AWS_SECRET_ACCESS_KEY="",
    )
    assert result.code == 1
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set" in result.err
    assert clusters() == []
    # Static keys in the config are used, and never printed.
    config = cluster_file(
        tmp_path,
        credentials={"accessKeyId": "AKIAEXAMPLEKEY1", "secretAccessKey": "s3cr3t-Value-XYZ"},
    )
    with EmrDriver():
        result = emr_cli("up", "--emr-config", str(config), "--log-level", "debug")
    assert result.code == 0, result.err
    assert "s3cr3t-Value-XYZ" not in result.err + result.out


def test_orphans_are_listed(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    with EmrDriver(default=Outcome(seconds=600)) as driver:
        proc = emr_cli.popen(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["long"])),
        )
        driver.wait_for(lambda: any(s.state == "RUNNING" for c in clusters() for s in c.steps))
        proc.kill()  # the runner dies without cleaning up: the cluster is an orphan
        proc.communicate(timeout=30)
        [cluster] = clusters()
        time.sleep(0.1)
        result = emr_cli("clusters", "--orphans", "--region", REGION, "--output", "json")
    assert result.code == 0, result.err
    orphans = json.loads(result.out)
    assert [o["id"] for o in orphans] == [cluster.id]


def _orphans_with(emr: Any, tmp_path: Path, *args: str, **region_env: str) -> Any:
    """``clusters --orphans ARGS`` with only ``region_env`` naming a region (no
    AWS_REGION, AWS_DEFAULT_REGION or profile of the test's own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env.update({k: v for k, v in emr.env().items() if "REGION" not in k}, **region_env)
    return subprocess.run(
        [sys.executable, "-m", "dataflow_runner", "clusters", "--orphans", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "how", ["--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile", "AWS_REGION first"]
)
def test_orphans_find_their_region(emr: Any, tmp_path: Path, how: str) -> None:
    # A cluster of a transient run this store never heard of, in the test's region.
    client = boto3.client(
        "emr",
        endpoint_url=emr.url,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    launched = client.run_job_flow(
        Name="lost",
        Instances={"MasterInstanceType": "m5.xlarge", "KeepJobFlowAliveWhenNoSteps": True},
        Tags=[
            {"Key": "dataflow-runner:tool", "Value": "dataflow-runner"},
            {"Key": "dataflow-runner:mode", "Value": "transient"},
            {"Key": "dataflow-runner:run-id", "Value": "r-20260101-000000-abcdef"},
        ],
    )
    args: list[str] = ["--output", "json"]
    env: dict[str, str] = {}
    if how == "--region":
        args += ["--region", REGION]
    elif how == "profile":
        (tmp_path / "aws-config").write_text(f"[default]\nregion = {REGION}\n")
        env["AWS_CONFIG_FILE"] = str(tmp_path / "aws-config")
    elif how == "AWS_REGION first":  # as the AWS SDKs (the Go tool's) read them
        env.update(AWS_REGION=REGION, AWS_DEFAULT_REGION="eu-west-3")
    else:
        env[how] = REGION
    emr.faults.reset()
    proc = _orphans_with(emr, tmp_path, *args, **env)
    assert proc.returncode == 0, proc.stderr
    assert [o["id"] for o in json.loads(proc.stdout)] == [launched["JobFlowId"]]
    # Every call was signed for that region (this server answers for any region).
    assert set(emr.faults.regions) == {REGION}


def test_orphans_without_a_region_say_so(emr: Any, tmp_path: Path) -> None:
    proc = _orphans_with(emr, tmp_path, AWS_CONFIG_FILE=str(tmp_path / "none"))
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "clusters --orphans needs a region: pass --region or set AWS_REGION" in lines[0]
    assert "internal error" not in proc.stderr


def test_boto3_sees_the_server(emr: Any) -> None:
    client = boto3.client(
        "emr",
        endpoint_url=emr.url,
        region_name=REGION,
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    assert client.list_clusters()["Clusters"] == []


def test_logs_command_fetches_an_emr_steps_logs(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    stderr = 'Exception in thread "main" java.lang.IllegalStateException: no input\n'
    with EmrDriver({"b": Outcome("FAILED", logs={"stderr": stderr, "stdout": "started\n"})}):
        result = emr_cli(
            *transient_args(tmp_path, serial_playbook(tmp_path, ["a", "b"])),
            "--log-failed-steps",
        )
    assert result.code == 1
    run = json.loads(emr_cli("status", "--output", "json").out)
    logs = emr_cli("logs", run["id"], "b")
    assert logs.code == 0, logs.err
    assert "==> stderr <==" in logs.out and "IllegalStateException: no input" in logs.out


def test_sentry_receives_the_error_without_secrets(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dsn = f"http://publickey123456@127.0.0.1:{server.server_address[1]}/42"
        config = cluster_file(
            tmp_path,
            credentials={"accessKeyId": "AKIAEXAMPLEKEY1", "secretAccessKey": "s3cr3t-Value-XYZ"},
        )
        result = emr_cli(
            "run-transient",
            "--emr-config",
            str(config),
            "--emr-playbook",
            str(tmp_path / "missing.json"),
            "--sentry",
            dsn,
        )
    finally:
        server.shutdown()
    assert result.code == 1
    assert "publickey123456" not in result.err  # the DSN's key is never printed
    payload = b"".join(received).decode(errors="replace")
    assert "cannot read the file" in payload
    assert "s3cr3t-Value-XYZ" not in payload


def _faulty(emr: Any) -> None:
    """Server errors and lost connections on a share of calls; RunJobFlow and
    AddJobFlowSteps sometimes carried out with their answer lost."""
    emr.faults.throttle_share = 0.1
    emr.faults.error_share = 0.1
    emr.faults.drop_share = 0.1
    emr.faults.drop_after_share = 0.3


@pytest.mark.parametrize("shape", ["serial", "dag"])
def test_transient_errors_never_fail_a_run_nor_repeat_a_step(
    emr_cli: Any, emr: Any, tmp_path: Path, shape: str
) -> None:
    if shape == "serial":
        names = [f"step-{i}" for i in range(6)]
        playbook = serial_playbook(tmp_path, names)
    else:
        names = [f"leaf{i}" for i in range(5)] + ["join"]
        playbook = dag_playbook(tmp_path, 5, concurrency=2)
    _faulty(emr)
    with EmrDriver(default=Outcome(seconds=0.2)):
        result = emr_cli(
            *transient_args(tmp_path, playbook),
            "--poll-interval",
            "0.2",
        )
    assert result.code == 0, result.err
    assert emr.faults.failed, "no fault was injected: the test proves nothing"
    assert any(f.endswith("drop-after") for f in emr.faults.failed), emr.faults.history
    [cluster] = clusters()  # one cluster, though a RunJobFlow answer may have been lost
    submitted = sorted(s.name for s in cluster.steps)
    assert submitted == sorted(names), emr.faults.history  # each step exactly once
    assert all(s.state == "COMPLETED" for s in cluster.steps)
    assert cluster.state == "TERMINATED"


def test_up_run_down_through_transient_errors(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    config = cluster_file(tmp_path)
    _faulty(emr)
    up = emr_cli("up", "--emr-config", str(config), "--poll-interval", "0.2")
    assert up.code == 0, up.err
    [cluster] = clusters()
    with EmrDriver(default=Outcome(seconds=0.2)):
        run = emr_cli(
            "run",
            "--emr-playbook",
            str(serial_playbook(tmp_path, ["one", "two", "three"])),
            "--emr-cluster",
            cluster.id,
            "--poll-interval",
            "0.2",
        )
    assert run.code == 0, run.err
    assert [s.name for s in cluster.steps] == ["one", "two", "three"]
    down = emr_cli(
        "down", "--emr-config", str(config), "--emr-cluster", cluster.id, "--poll-interval", "0.2"
    )
    assert down.code == 0, down.err
    assert emr.faults.failed, "no fault was injected: the test proves nothing"
    assert cluster.state == "TERMINATED"
    assert len(clusters()) == 1
