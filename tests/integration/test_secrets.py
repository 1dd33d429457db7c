"""Secrets never appear in output, logs, the store, the files of the state directory
or what goes to Sentry (issue 15).

Each test plants secrets where users put them (a static AWS key pair in an EMR
cluster config, a ``*_TOKEN`` in the process environment, in a local cluster's
``local.env`` and in a step's ``env``, a ``db_password`` variable rendered into a
step's arguments, a Consul address with a password, a Sentry DSN), runs the success
and the failure paths, with steps that print the secrets and fail quoting them,
then greps every channel for every secret: the stdout and stderr of every command
(the history commands run in processes that know none of them), a dump of every
column of every table of the store, every file under the state directory (but the
steps' own output files, which hold what they printed: ``logs`` must print them
masked) and what Sentry received. Every secret is also checked to have been
exercised: the mask shows where it would have been.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import signal
import sqlite3
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result, run_process
from tests.consul_server import ConsulKV
from tests.emr_server import ACCOUNT, REGION, EmrDriver, Outcome, backend

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"
SNOWPLOW_CLUSTER = "iglu:com.snowplowanalytics.dataflowrunner/ClusterConfig/avro/1-1-0"
SNOWPLOW_PLAYBOOK = "iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-1"
MASK = "***"


def _random(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass
class Planted:
    """Fresh secrets for one test, none a part of another."""

    static_id: str = field(default_factory=lambda: "AKIA" + _random(16, string.ascii_uppercase))
    static_secret: str = field(default_factory=lambda: f"wJalr{_random(12)}/K7MDENG+{_random(18)}")
    env_token: str = field(default_factory=lambda: "envtok" + _random(20))  # process env
    cluster_token: str = field(default_factory=lambda: "clutok" + _random(20))  # local.env
    step_token: str = field(default_factory=lambda: "steptok" + _random(20))  # a step's env
    db_password: str = field(default_factory=lambda: "dbpw" + _random(20))  # --vars
    consul_password: str = field(default_factory=lambda: "cpw" + _random(20))  # --consul URL
    dsn_key: str = field(default_factory=lambda: "dsnkey" + _random(26).lower())  # --sentry
    etcd_password: str = field(default_factory=lambda: "epw" + _random(20))  # --lock-backend
    store_password: str = field(default_factory=lambda: "spw" + _random(20))  # --store
    # Too short to be scrubbed from text: masked only as the value of ``x_key``.
    short_key: str = field(default_factory=lambda: "z" + _random(4, "QXJzqx"))

    def named(self) -> dict[str, str]:
        return dict(vars(self))

    def forms(self) -> dict[str, list[str]]:
        """What to grep for each secret: itself, as JSON and Python quote it, and
        every run of 12 of its characters (a secret cut in two, then stored)."""
        found = {}
        for name, value in self.named().items():
            whole = {value, json.dumps(value)[1:-1], repr(value)[1:-1]}
            cuts = {v[i : i + 12] for v in whole for i in range(len(v) - 11)}
            found[name] = sorted(whole | cuts)
        return found


class Sentry:
    """Receives what sentry-sdk sends (the DSN points here)."""

    def __init__(self) -> None:
        self.received: list[str] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append(body.decode(errors="replace"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def dsn(self, key: str) -> str:
        return f"http://{key}@127.0.0.1:{self.server.server_address[1]}/42"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sentry() -> Iterator[Sentry]:
    server = Sentry()
    yield server
    server.close()


@pytest.fixture
def consul() -> Iterator[ConsulKV]:
    server = ConsulKV().start()
    yield server
    server.shutdown()


class Channels:
    """Every command run, and what it printed."""

    def __init__(self, state: Path, base_env: dict[str, str]) -> None:
        self.state = state
        self.base_env = base_env
        self.results: list[tuple[str, Result]] = []

    def __call__(self, *args: str, env: dict[str, str] | None = None, code: int = 0) -> Result:
        result = run_process(*args, env={**self.base_env, **(env or {})}, timeout=180)
        self.results.append((" ".join(args), result))
        assert result.code == code, (args, result.err)
        return result

    def add(self, what: str, result: Result) -> Result:
        self.results.append((what, result))
        return result

    def history(self, *, logs_of: list[tuple[str, str]], env: dict[str, str] | None = None) -> str:
        """Every history command, in processes that know no secret; their outputs."""
        shown = []
        for args in (
            ("runs",),
            ("runs", "--output", "json"),
            ("clusters",),
            ("clusters", "--output", "json"),
            ("locks",),
        ):
            shown.append(self(*args, env=env).out)
        runs = json.loads(self("runs", "--output", "json", "--limit", "100", env=env).out)
        for run in runs:
            shown.append(self("status", run["id"], env=env).out)
            shown.append(self("status", run["id"], "--output", "json", env=env).out)
        for run_id, step in logs_of:
            shown.append(self("logs", run_id, step, env=env).out)
            shown.append(self("logs", run_id, step, "--follow", env=env).out)
        return "\n".join(shown)


def store_dump(state: Path) -> str:
    """Every column of every row of every table of the store."""
    db = sqlite3.connect(state / "store.db")
    try:
        out = list(db.iterdump())
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in db.execute(f"SELECT * FROM {table}"):
                out.append(repr(row))
        return "\n".join(out)
    finally:
        db.close()


def state_files(state: Path) -> dict[str, str]:
    """Every file under the state directory but the steps' own output."""
    found = {}
    for path in state.rglob("*"):
        if path.is_file() and not re.search(r"\.(stdout|stderr)\.log$", path.name):
            found[str(path.relative_to(state))] = path.read_bytes().decode(errors="replace")
    return found


def step_outputs(state: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace")
        for p in state.rglob("*.log")
        if re.search(r"\.(stdout|stderr)\.log$", p.name)
    )


def assert_nowhere(planted: Planted, channels: Channels, sentry: Sentry) -> None:
    """The grep: no planted secret in any channel."""
    where = {f"output of `{what}`": r.out + "\n" + r.err for what, r in channels.results}
    where["the store"] = store_dump(channels.state)
    where.update({f"file {name}": text for name, text in state_files(channels.state).items()})
    where.update({f"Sentry event {i}": text for i, text in enumerate(sentry.received)})
    hits = [
        f"{name} ({form!r}) in {place}"
        for name, forms in planted.forms().items()
        for place, text in where.items()
        for form in forms
        if form in text
    ]
    assert hits == []


def sh(id_: str, script: str, *args: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "type": "COMMAND", "command": ["sh", "-c", script, "sh", *args], **extra}


def yaml_playbook(path: Path, name: str, steps: list[dict[str, Any]]) -> str:
    # YAML, so that a template in a string may hold double quotes; each line of
    # ``steps`` is a JSON flow mapping (valid YAML) whose templates render first.
    lines = [f"schema: {NATIVE_PLAYBOOK}", "data:", f"  name: {name}", "  steps:"]
    lines += [f"    - {_flow(step)}" for step in steps]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _flow(value: Any) -> str:
    # JSON, but the strings that hold a template in single quotes (YAML's literal
    # strings), so that the template's own double quotes need no escape.
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str) and "{{" in value:
        return "'" + value.replace("'", "''") + "'"
    return json.dumps(value)


# The steps: each prints secrets, on stdout and stderr, the way a step would.
ARGS = sh(
    "args",
    'printf \'connecting with %s %s\\n\' "$1" "$2"; printf \'connecting with %s\\n\' "$1" >&2',
    "--password={{.db_password}}",
    '--env-token={{systemEnv "FOO_TOKEN"}}',
)
TOKEN = "printf 'token=%s\\n' \"$FOO_TOKEN\"; printf 'token=%s\\n' \"$FOO_TOKEN\" >&2"
STEP_ENV = sh("step-env", TOKEN, env={"FOO_TOKEN": "x"})
CLUSTER_ENV = sh("cluster-env", TOKEN)
DSN = sh("dsn", 'echo "dsn=$DFR_TEST_DSN"; echo "key=${DFR_TEST_DSN#http://}" >&2')
# Fails quoting every secret it knows: its cause (the last line of its stderr) holds them.
FAIL = sh(
    "fail",
    "echo starting; printf 'login failed: password %s token %s env %s dsn %s\\n'"
    ' "$1" "$FOO_TOKEN" "$2" "$DFR_TEST_DSN" >&2; exit 3',
    "{{.db_password}}",
    '{{systemEnv "FOO_TOKEN"}}',
    dependsOn=["args"],
    after=["long"],  # which it would cancel
)
# Its cause is cut to 500 characters, across the password: masked before it is cut.
LONG = sh(
    "long",
    "printf 'fatal: %s%s end\\n' \"$(printf '%481s' '' | tr ' ' x)\" \"$1\" >&2; exit 4",
    "{{.db_password}}",
    actionOnFailure="CONTINUE",
)
# Cannot start at all: its reason quotes the program, whose path holds a secret.
NO_PROGRAM = {
    "id": "no-program",
    "type": "COMMAND",
    "command": ["/nonexistent/{{.db_password}}/tool"],
    "actionOnFailure": "CONTINUE",
}


def local_cluster_config(d: Path, planted: Planted) -> str:
    path = d / "cluster.json"
    env = {"FOO_TOKEN": planted.cluster_token}
    data = {"name": "laptop", "local": {"concurrency": 8, "workDir": str(d), "env": env}}
    path.write_text(json.dumps({"schema": NATIVE_CLUSTER, "data": data}))
    return str(path)


def test_no_secret_leaves_a_local_run(tmp_path: Path, sentry: Sentry, consul: ConsulKV) -> None:
    # A password holding a quote and a backslash: JSON escapes them, which would
    # hide it from a mask applied to the text instead of the values.
    planted = Planted(db_password=f'dbpw{_random(20)}"q\\{_random(6)}')
    state = Path(os.environ["DATAFLOW_RUNNER_HOME"])
    dsn = sentry.dsn(planted.dsn_key)
    # The history commands, `up` and `down` run without any secret in their
    # environment; the runners have the process environment's token and the DSN.
    channels = Channels(state, {"DATAFLOW_RUNNER_HOME": str(state), "FOO_TOKEN": ""})
    runner = {"FOO_TOKEN": planted.env_token, "DFR_TEST_DSN": dsn}
    config = local_cluster_config(tmp_path, planted)
    step_env = {**STEP_ENV, "env": {"FOO_TOKEN": planted.step_token}}
    good = yaml_playbook(tmp_path / "good.yaml", "good", [ARGS, step_env, CLUSTER_ENV, DSN])
    bad = yaml_playbook(tmp_path / "bad.yaml", "bad", [ARGS, FAIL, LONG, NO_PROGRAM, step_env])
    var = ("--vars", f"db_password,{planted.db_password},x_key,{planted.short_key}")
    transient = ("run-transient", "--emr-config", config, *var, "--sentry", dsn)

    # --- dry run and validate: the rendered secrets are masked -------------------
    dry = channels(*transient, "--emr-playbook", good, "--dry-run", env=runner)
    commands = {s["id"]: s["command"] for s in json.loads(dry.out)["steps"]}
    assert commands["args"][-2:] == ["--password=***", "--env-token=***"]
    valid = channels("validate", "--emr-config", config, "--emr-playbook", good, *var, env=runner)
    assert valid.out.startswith("valid: ")
    broken = yaml_playbook(
        tmp_path / "broken.yaml",
        "broken",
        [sh("a", "true", timeoutSeconds="{{.db_password}}")],
    )
    refused = channels("validate", "--emr-playbook", broken, *var, env=runner, code=1)
    assert 'expected a number, got \\"***\\"' in refused.err  # logfmt-quoted
    # The same error, sent to Sentry: its message is masked too.
    channels(*transient, "--emr-playbook", broken, env=runner, code=1)
    assert any('expected a number, got \\"***\\"' in event for event in sentry.received)

    # --- a transient run: success, then failure ----------------------------------
    ok = channels(*transient, "--emr-playbook", good, "--output", "json", env=runner)
    ok_run = json.loads(ok.out.splitlines()[0])["run_id"]
    failed = channels(*transient, "--emr-playbook", bad, "--output", "json", env=runner, code=1)
    bad_run = json.loads(failed.out.splitlines()[0])["run_id"]
    assert "probable cause: login failed: password *** token *** env *** dsn ***" in failed.err
    assert "cannot start '/nonexistent/***/tool'" in failed.err
    assert len(sentry.received) >= 1  # the failure went to Sentry (masked: see below)

    # --- a Consul lock: its address is stored; one it cannot reach is an error ----
    at = f"http://u:{planted.consul_password}@{consul.address}"
    locked = channels(*transient, "--emr-playbook", good, "--softLock", "s", "--consul", at)
    assert locked.code == 0
    unreachable = f"http://u:{planted.consul_password}@127.0.0.1:1"
    refused = channels(
        *transient, "--emr-playbook", good, "--softLock", "x", "--consul", unreachable, code=1
    )
    assert "cannot reach Consul at http://u:***@127.0.0.1:1 for lock x" in refused.err
    etcd = f"etcd://root:{planted.etcd_password}@127.0.0.1:1"
    refused = channels(
        *transient, "--emr-playbook", good, "--softLock", "x", "--lock-backend", etcd, code=1
    )
    assert "cannot reach etcd at http://root:***@127.0.0.1:1 for lock x" in refused.err
    store = f"postgresql://dfr:{planted.store_password}@127.0.0.1:1/dfr"
    refused = channels("runs", "--store", store, code=1)
    assert "postgresql://dfr:***@127.0.0.1:1/dfr" in refused.err
    # A usage error quotes the value it refuses.
    refused = channels("runs", "--limit", unreachable, code=2)
    assert "http://u:***@127.0.0.1:1" in refused.err

    # --- a local cluster: its host knows its env; a client's secrets reach it -----
    up = channels("up", "--emr-config", config)
    cluster = re.findall(r"Jobflow ID: (l-\w+)", up.err)[0]
    assert not (state / "clusters" / cluster / "host.json").exists()  # read, removed
    on = ("run", "--emr-cluster", cluster, *var, "--sentry", dsn, "--log-failed-steps")
    hosted_ok = channels(*on, "--emr-playbook", good, "--output", "json", env=runner)
    hosted_ok_run = json.loads(hosted_ok.out.splitlines()[0])["run_id"]
    hosted_bad = channels(*on, "--emr-playbook", bad, "--output", "json", env=runner, code=1)
    hosted_bad_run = json.loads(hosted_bad.out.splitlines()[0])["run_id"]
    # The cause a client prints came from the host, which masked the cluster's token.
    assert "login failed: password *** token *** env *** dsn" in hosted_bad.err
    channels("down", "--emr-config", config, "--emr-cluster", cluster)
    host_log = (state / "clusters" / cluster / "host.log").read_text()
    assert "login failed: password *** token *** env ***" in host_log  # --log-failed-steps

    # --- a local cluster whose host is killed: no spec stays behind ---------------
    killed = re.findall(r"Jobflow ID: (l-\w+)", channels("up", "--emr-config", config).err)[0]
    os.kill(int((state / "clusters" / killed / "host.pid").read_text()), signal.SIGKILL)
    channels("down", "--emr-config", config, "--emr-cluster", killed)

    # --- history, in processes that know no secret ------------------------------
    logs_of = [
        (run, step)
        for run in (ok_run, hosted_ok_run)
        for step in ("args", "step-env", "cluster-env", "dsn")
    ] + [(run, step) for run in (bad_run, hosted_bad_run) for step in ("args", "fail", "long")]
    shown = channels.history(logs_of=logs_of)

    # --- every secret was exercised: printed by a step, masked where shown ---------
    printed = step_outputs(state)
    for name in ("db_password", "env_token", "cluster_token", "step_token", "dsn_key"):
        assert getattr(planted, name) in printed, f"no step printed {name}"
    for masked in (
        "connecting with --password=*** --env-token=***",  # db_password, env token (args)
        f"token={MASK}",  # the step's and the cluster's FOO_TOKEN
        f"dsn={MASK}",
        f"key={MASK}@127.0.0.1",  # the DSN's key alone
        "login failed: password *** token *** env *** dsn ***",  # causes (status)
        "cannot start '/nonexistent/***/tool'",  # a reason
    ):
        assert masked in shown, masked
    dump = store_dump(state)
    assert f"u:{MASK}@{consul.address}" in dump  # the lock's address, stored masked
    assert '"FOO_TOKEN": "***"' in dump  # the step's env and the cluster's config
    assert '"x_key": "***"' in dump  # a variable too short to scrub, masked by its name
    assert f"fatal: {'x' * 481}***" in shown  # a cause cut to length after masking
    assert "--env-token=***" in dump  # a client's systemEnv secret, masked by the host
    assert any("cannot reach Consul at http://u:***@" in s for s in sentry.received)
    assert_nowhere(planted, channels, sentry)


# --- EMR ------------------------------------------------------------------------------


def emr_files(d: Path, planted: Planted) -> tuple[str, str]:
    cluster = {
        "name": "emr-secrets",
        "logUri": "s3://emr-logs/",
        "region": REGION,
        "credentials": {
            "accessKeyId": planted.static_id,
            "secretAccessKey": planted.static_secret,
        },
        "roles": {"jobflow": "EMR_EC2_DefaultRole", "service": "EMR_DefaultRole"},
        "ec2": {
            "amiVersion": "6.10.0",
            "keyName": "k",
            "location": {"vpc": {"subnetId": "subnet-1"}},
            "instances": {
                "master": {"type": "m5.xlarge"},
                "core": {"type": "m5.xlarge", "count": 1},
                "task": {"type": "m5.xlarge", "count": 0},
            },
        },
    }
    steps = [
        {
            "type": "CUSTOM_JAR",
            "name": name,
            "actionOnFailure": "CANCEL_AND_WAIT",
            "jar": "command-runner.jar",
            "arguments": ["load", "--password", "{{.db_password}}"],
        }
        for name in ("ok", "fail")
    ]
    playbook = {"region": REGION, "credentials": cluster["credentials"], "steps": steps}
    (d / "cluster.json").write_text(json.dumps({"schema": SNOWPLOW_CLUSTER, "data": cluster}))
    (d / "playbook.json").write_text(json.dumps({"schema": SNOWPLOW_PLAYBOOK, "data": playbook}))
    return str(d / "cluster.json"), str(d / "playbook.json")


def test_no_secret_leaves_an_emr_run(
    emr_cli: Any, emr: Any, tmp_path: Path, sentry: Sentry
) -> None:
    from moto.s3.models import s3_backends

    planted = Planted()
    state = Path(os.environ["DATAFLOW_RUNNER_HOME"])
    dsn = sentry.dsn(planted.dsn_key)
    channels = Channels(state, {"DATAFLOW_RUNNER_HOME": str(state)})
    config, playbook = emr_files(tmp_path, planted)
    var = ("--vars", f"db_password,{planted.db_password}")
    quoted = f"{planted.static_id}:{planted.static_secret} for {planted.db_password}"
    # The cause is cut to 500 characters: across the static key, masked first.
    stderr = (
        f'Exception in thread "main" java.lang.IllegalStateException: denied {quoted}\n'
        f"Caused by: java.io.IOException: {'y' * 467}{planted.static_secret}\n"
    )
    failure = {
        "Reason": f"access denied to {quoted}",
        "Message": f"java.lang.IllegalStateException: denied {quoted}",
        "LogFile": "s3://emr-logs/x/steps/stderr.gz",
    }
    outcomes = {"fail": Outcome("FAILED", failure=failure, logs={"stderr": stderr})}
    # The log bucket exists, as it does on AWS: the test's EMR writes the logs just
    # after the step ends, and a runner quicker than that would find no bucket.
    s3_backends[ACCOUNT]["global"].create_bucket("emr-logs", REGION)

    def cli(*args: str, code: int = 0) -> Result:
        result = channels.add(" ".join(args), emr_cli(*args, "--sentry", dsn))
        assert result.code == code, (args, result.err)
        return result

    dry = cli(
        "run-transient", "--emr-config", config, "--emr-playbook", playbook, *var, "--dry-run"
    )
    steps = json.loads(dry.out)["Steps"]
    assert steps[0]["HadoopJarStep"]["Args"] == ["load", "--password", MASK]
    with EmrDriver(outcomes):
        failed = cli(
            "run-transient",
            "--emr-config",
            config,
            "--emr-playbook",
            playbook,
            *var,
            "--log-failed-steps",
            "--output",
            "json",
            code=1,
        )
    run_id = json.loads(failed.out.splitlines()[0])["run_id"]
    denied = f"denied {MASK}:{MASK} for {MASK}"
    assert f"probable cause: java.io.IOException: {'y' * 467}***" in failed.err
    # What moto saw: the real values (the cluster config's static key signs the calls).
    [cluster] = backend().clusters.values()
    assert cluster.steps[0].args[-1] == planted.db_password

    up = cli("up", "--emr-config", config)
    cluster_id = re.findall(r"Jobflow ID: (j-\w+)", up.err)[0]
    with EmrDriver():
        cli("run", "--emr-playbook", playbook, "--emr-cluster", cluster_id, *var)
    cli("down", "--emr-config", config, "--emr-cluster", cluster_id)

    history_env = {k: v for k, v in emr_cli.env().items() if k.startswith("AWS_")}
    shown = channels.history(logs_of=[(run_id, "fail")], env=history_env)
    assert f"access denied to {MASK}:{MASK} for {MASK}" in shown  # the stored reason
    assert f"java.io.IOException: {'y' * 467}***" in shown  # the stored cause
    assert f"IllegalStateException: {denied}" in shown  # `logs`: the S3 file, masked
    dump = store_dump(state)
    assert '"secretAccessKey": "***"' in dump and '"accessKeyId": "***"' in dump
    assert sentry.received
    assert_nowhere(planted, channels, sentry)


# --- each mask on its own ----------------------------------------------------------------


def test_the_live_view_is_masked() -> None:
    import io

    from rich.console import Console

    from dataflow_runner.cli.live import LiveReporter
    from dataflow_runner.config.redact import SECRETS
    from dataflow_runner.engine.events import RunOutcome, RunStarted, StepChanged
    from dataflow_runner.store.records import RunKind, RunState, StepState

    secret = "livesecret" + _random(20)
    SECRETS.add(secret)
    out = io.StringIO()
    view = LiveReporter(Console(file=out, width=200, force_terminal=False))
    view(RunStarted("r-1", f"book-{secret}", "local", "local", 1, 1))
    failed = StepChanged(
        change="finished",
        run_id="r-1",
        step_id="a",
        name="a",
        state=StepState.FAILED,
        attempt=1,
        max_attempts=1,
        at=1.0,
        position=0,
        exit_code=3,
        cause=f"denied {secret}",
        cause_detail=(f"login {secret}",),
        started_at=0.5,
        ended_at=1.0,
    )
    view(failed)
    view.finished(RunOutcome("r-1", RunKind.TRANSIENT, RunState.FAILED, 1, 0, 1, 0))
    shown = out.getvalue()
    assert secret not in shown
    assert f"book-{MASK}" in shown and f"denied {MASK}" in shown and f"login {MASK}" in shown


def test_a_dead_hosts_spec_is_removed_by_whoever_sees_it(tmp_path: Path) -> None:
    import subprocess

    from dataflow_runner import hostwire
    from dataflow_runner.fabrics.local import cluster as local_cluster

    here = local_cluster.cluster_dir(tmp_path, "l-DEADHOST00000")
    here.mkdir(parents=True)
    hostwire.write_spec(here, {"config": {"local": {"env": {"FOO_TOKEN": "x" * 20}}}})
    dead = subprocess.Popen(["true"])
    dead.wait()
    (here / hostwire.PID_NAME).write_text(f"{dead.pid}\n")
    status = local_cluster.status(tmp_path, "l-DEADHOST00000")
    assert status.reason == "its host process died"
    assert not (here / hostwire.SPEC_NAME).exists()


def test_lock_servers_are_named_without_their_passwords() -> None:
    from dataflow_runner.errors import DataflowRunnerError
    from dataflow_runner.locks.consul import ConsulLock
    from dataflow_runner.locks.etcd import EtcdLock

    password = "lockpw" + _random(20)
    for lock in (
        ConsulLock(f"http://u:{password}@127.0.0.1:1", "x"),
        EtcdLock.from_backend(f"etcd://root:{password}@127.0.0.1:1", "x"),
    ):
        with pytest.raises(DataflowRunnerError) as raised:
            lock.acquire({})
        assert password not in str(raised.value)
        assert ":***@127.0.0.1:1" in str(raised.value)


def test_a_run_locked_with_a_password_resumes_only_when_it_is_given_again() -> None:
    from dataflow_runner.engine.resume import recorded_lock
    from dataflow_runner.errors import FlagError
    from dataflow_runner.store.records import RunKind, RunRecord, RunState

    stored = {"lock": "x", "soft_lock": True, "consul": f"http://u:{MASK}@consul:8500"}
    run = RunRecord("r-1", RunKind.TRANSIENT, "p", "local", RunState.DEAD, 0.0, options=stored)
    with pytest.raises(FlagError, match="give the address again with --consul"):
        recorded_lock(run, consul=None, backend=None)
    spec = recorded_lock(run, consul="http://u:pw@consul:8500", backend=None)
    assert spec is not None and spec.consul == "http://u:pw@consul:8500" and spec.soft


def test_what_a_process_is_given_it_masks(tmp_path: Path, cli: Any) -> None:
    """Each way a secret value is learnt, on its own: loading the files, the command
    line, the engine given a request (the Python API, an engine host)."""
    from dataflow_runner import Engine, RunRequest, load_cluster, load_playbook
    from dataflow_runner.config.redact import SECRETS, scrub
    from dataflow_runner.engine.request import LockSpec

    planted = Planted()
    config = local_cluster_config(tmp_path, planted)
    step_env = {**STEP_ENV, "env": {"FOO_TOKEN": planted.step_token}}
    book = yaml_playbook(tmp_path / "p.yaml", "p", [step_env, ARGS])
    variables = {"db_password": planted.db_password}
    os.environ["FOO_TOKEN"] = planted.env_token
    try:
        loaded = load_cluster(config, {}), load_playbook(book, variables)
    finally:
        del os.environ["FOO_TOKEN"]
    for value in (planted.cluster_token, planted.step_token, planted.db_password):
        assert scrub(value) == MASK, value  # the loader registered it

    SECRETS.clear()
    lock = LockSpec("x", consul=f"http://u:{planted.consul_password}@consul:8500")
    request = RunRequest(loaded[1], cluster=loaded[0], variables=variables, lock=lock)
    with Engine(state_dir=tmp_path / "state") as engine:
        engine.plan(request)  # a dry run through the API: nothing loaded here
    for value in (
        planted.cluster_token,
        planted.step_token,
        planted.db_password,
        planted.consul_password,
    ):
        assert scrub(value) == MASK, value

    SECRETS.clear()
    url = f"http://u:{planted.etcd_password}@127.0.0.1:1"
    assert cli("runs", "--limit", url).code == 2
    assert scrub(f"password {planted.etcd_password}") == f"password {MASK}"  # from argv


def test_an_engine_host_masks_what_it_answers() -> None:
    import io

    from dataflow_runner.config.redact import SECRETS
    from dataflow_runner.engine.host import send

    secret = "hostsecret" + _random(20)
    SECRETS.add(secret)
    out = io.BytesIO()
    assert send(out, {"ok": True, "cause": f"denied {secret}", "env": {"X_TOKEN": "abc"}})
    assert json.loads(out.getvalue()) == {
        "ok": True,
        "cause": "denied ***",
        "env": {"X_TOKEN": MASK},
    }
