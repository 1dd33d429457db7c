"""Bad inputs to every command, each run as a real subprocess: exit 1 or 2, ONE
clean line on stderr (no traceback, no "internal error"), nothing on stdout,
nothing recorded or created, under 500 MB of RSS and 30 s.

The config-file cases of ``test_bad_inputs.py`` are run here too, beside the
cases of each command. A case is (id, argv, exit code, a regex its one line must
match) plus the files written in its directory (``{d}`` in argv), a set-up of the
store (``{s}`` is the state directory) and environment variables.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.unit.test_bad_inputs import (
    CASES as CONFIG_CASES,
)
from tests.unit.test_bad_inputs import (
    DIGITS,
    FIFO,
    ID_RULE,
    LONG_ID,
    NATIVE_CLUSTER,
    NATIVE_PLAYBOOK,
    OK_C,
    OK_P,
    _message,
    cmd,
    j,
    local_cluster,
    native,
)

TIMEOUT_S = 30.0
MAX_RSS_KB = 500 * 1024
#: Tables a bad input must leave as they were.
TABLES = ("runs", "steps", "attempts", "clusters")
T0 = 1_764_547_200.0  # 2025-12-01, long enough ago for a RUNNING run to be DEAD
RUN_ID = "r-20251201-000000-aaaaaa"
TWIN_ID = "r-20251201-000000-aaaaab"
CLUSTER_ID = "l-AAAAAAAAAAAAA"


# --- what a case may find in the store ------------------------------------------------


def _seed(state: Path, *, twins: bool = False, dead: str | None = None) -> None:
    """A finished run (step ``a`` COMPLETED after one attempt, ``b`` CANCELLED before
    it ran) and a terminated local cluster; ``twins``: a second run whose id shares
    a prefix; ``dead``: the run is RUNNING with a runner long gone (so DEAD) and
    this playbook path."""
    from dataflow_runner.store import open_store
    from dataflow_runner.store.records import (
        AttemptRecord,
        ClusterRecord,
        ClusterState,
        RunKind,
        RunRecord,
        RunState,
        StepRecord,
        StepState,
    )

    def run(run_id: str) -> RunRecord:
        return RunRecord(
            run_id,
            RunKind.ATTACHED,
            "nightly",
            "local",
            RunState.RUNNING if dead is not None else RunState.COMPLETED,
            T0,
            started_at=T0,
            ended_at=None if dead is not None else T0 + 5,
            heartbeat_at=T0,
            pid=1 << 30,
            host=socket.gethostname(),
            cluster_id=CLUSTER_ID,
            playbook_path=dead or "",
            options={"lock": str(state.parent / "cwd" / "nightly.lock")},
        )

    def steps(run_id: str) -> list[StepRecord]:
        return [
            StepRecord(run_id, "a", 0, "a", "COMMAND", StepState.COMPLETED, "CANCEL_AND_WAIT"),
            StepRecord(run_id, "b", 1, "b", "COMMAND", StepState.CANCELLED, "CANCEL_AND_WAIT"),
        ]

    with open_store(state_dir=state) as store:
        for run_id in (RUN_ID, TWIN_ID) if twins else (RUN_ID,):
            store.writer.create_run(run(run_id), steps(run_id))
            store.writer.start_attempt(
                AttemptRecord(
                    run_id,
                    "a",
                    1,
                    StepState.COMPLETED,
                    started_at=T0,
                    log_location=str(state / "gone" / run_id / "a.1"),
                )
            )
        store.writer.upsert_cluster(
            ClusterRecord(CLUSTER_ID, "local", "dev", ClusterState.TERMINATED, T0)
        )


def _newer(sql: str) -> Callable[[Path], None]:
    """The seeded store, then a row as a newer version wrote it."""

    def setup(state: Path) -> None:
        _seed(state)
        with sqlite3.connect(state / "store.db") as conn:
            assert conn.execute(sql).rowcount >= 1

    return setup


def _dead_with(playbook: str) -> Callable[[Path], None]:
    """A DEAD run whose playbook file is ``playbook`` (in the case's directory)."""

    def setup(state: Path) -> None:
        _seed(state, dead=str(state.parent / "files" / playbook))

    return setup


SETUPS: dict[str, Callable[[Path], None]] = {
    "run": _seed,
    "twins": lambda state: _seed(state, twins=True),
    "run-state-unknown": _newer(f"UPDATE runs SET state = 'PAUSED' WHERE id = '{RUN_ID}'"),
    "run-kind-unknown": _newer(f"UPDATE runs SET kind = 'scheduled' WHERE id = '{RUN_ID}'"),
    "step-state-unknown": _newer("UPDATE steps SET state = 'SKIPPED' WHERE step_id = 'a'"),
    "attempt-state-unknown": _newer("UPDATE attempts SET state = 'PREEMPTED'"),
    "cluster-state-unknown": _newer("UPDATE clusters SET state = 'HIBERNATING'"),
    "run-json-unknown": _newer("UPDATE runs SET options = '{not json'"),
    "dead-bad-playbook": _dead_with("p.json"),
    "dead-no-playbook": lambda state: _seed(state, dead=""),
    "dead-dev-zero": lambda state: _seed(state, dead="/dev/zero"),
}


# --- the cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # what is wrong, for the tally
    argv: list[str | bytes]
    code: int
    pattern: str
    files: dict[str, str] = field(default_factory=dict)
    setup: str | None = None
    env: dict[str, str] = field(default_factory=dict)


CASES: list[Case] = []


def case(
    id_: str,
    kind: str,
    argv: list[str | bytes],
    code: int,
    pattern: str,
    *,
    files: dict[str, str] | None = None,
    setup: str | None = None,
    env: dict[str, str] | None = None,
) -> None:
    CASES.append(Case(id_, kind, argv, code, pattern, files or {}, setup, env or {}))


# The config-file cases (run until now in-process only).
for _id, _files, _argv, _code, _pattern in CONFIG_CASES:
    case(f"config-{_id}", "config file", list(_argv), _code, _pattern, files=_files)

NATIVE_P = j(native(cmd("a")))
LOCAL_C = local_cluster()
BOTH = {"c.json": LOCAL_C, "p.json": NATIVE_P}
SNOW = {"c.json": OK_C, "p.json": OK_P}
#: Files that fail to load: a flag case whose flag slipped through meets them.
BROKEN = {"c.json": local_cluster(workDir="nope"), "p.json": NATIVE_P}
UP = ["up", "--emr-config", "{d}/c.json"]
RUN = ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "l-NOSUCHCLUSTER"]
DOWN = ["down", "--emr-config", "{d}/c.json", "--emr-cluster", "l-NOSUCHCLUSTER"]
RT = ["run-transient", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.json"]
VALIDATE = ["validate", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.json"]
RUNNING = {"up": UP, "run": RUN, "down": DOWN, "run-transient": RT}
#: The running commands on EMR configs whose credentials are 'env' while the
#: environment has none: were the check under test missing, they would stop there,
#: before anything is sent or created.
EMR = {
    "up": UP,
    "run": ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "j-1"],
    "down": ["down", "--emr-config", "{d}/c.json", "--emr-cluster", "j-1"],
    "run-transient": RT,
}
USAGE = r"^dataflow-runner [\w-]+: "
NOT_FINITE = USAGE + r"Invalid value for '--poll-interval'.*: '{}' is not a finite number\."
POLL_RANGE = USAGE + r"Invalid value for '--poll-interval'.*: {} is not in the range x>=0\.1\."
SIZE = USAGE + r"Invalid value for '--max-config-size'.*: {} is not in the range 1<=x<=1073741824\."
HUGE = "9" * 30
TEMPLATE_BOMB = '{{range 400}}{{printf "%01000000d" 1}}{{end}}'
TOO_BIG_OUTPUT = (
    r"template output exceeds the limit of 16 MiB \(raise it with --max-config-size BYTES or "
    r"DATAFLOW_RUNNER_MAX_CONFIG_SIZE\)$"
)

# --- flags of the commands that run something, with and without --dry-run -------------
for name, argv in RUNNING.items():
    for dry in ([], ["--dry-run"]):
        tag = name + ("-dry" if dry else "")
        for value in ("nan", "inf", "NaN"):
            case(
                f"{tag}-poll-interval-{value}",
                "a non-finite number",
                [*argv, *dry, "--poll-interval", value],
                2,
                NOT_FINITE.format(value),
                files=BROKEN,
            )
        for value in ("0", "-inf"):
            case(
                f"{tag}-poll-interval-{value}",
                "a flag out of range",
                [*argv, *dry, "--poll-interval", value],
                2,
                POLL_RANGE.format("0.0" if value == "0" else value),
                files=BROKEN,
            )
        case(
            f"{tag}-poll-interval-word",
            "a malformed flag value",
            [*argv, *dry, "--poll-interval", "soon"],
            2,
            USAGE + r"Invalid value for '--poll-interval'.*: 'soon' is not a valid float range\.",
            files=BROKEN,
        )
        case(
            f"{tag}-max-config-size-huge",
            "a flag out of range",
            [*argv, *dry, "--max-config-size", HUGE],
            2,
            SIZE.format(HUGE),
            files=BROKEN,
        )
    case(
        f"{name}-poll-interval-env-nan",
        "a non-finite number",
        [*argv, "--dry-run"],
        2,
        NOT_FINITE.format("nan"),
        files=BROKEN,
        env={"DATAFLOW_RUNNER_POLL_INTERVAL": "nan"},
    )
    case(
        f"{name}-max-config-size-zero",
        "a flag out of range",
        [*argv, "--dry-run", "--max-config-size", "0"],
        2,
        SIZE.format("0"),
        files=BROKEN,
    )
    case(
        f"{name}-max-config-size-env-word",
        "a malformed flag value",
        [*argv, "--dry-run"],
        2,
        USAGE + r"Invalid value for '--max-config-size' \(env var: "
        r"'DATAFLOW_RUNNER_MAX_CONFIG_SIZE'\): 'big' is not a valid integer",
        files=BROKEN,
        env={"DATAFLOW_RUNNER_MAX_CONFIG_SIZE": "big"},
    )
    case(
        f"{name}-unknown-flag",
        "an unknown flag",
        [*argv, "--dry-run", "--verbose"],
        2,
        USAGE + r"No such option '--verbose'",
        files=BROKEN,
    )
    case(
        f"{name}-extra-argument",
        "an extra argument",
        [*argv, "--dry-run", "extra"],
        2,
        USAGE + r"Got unexpected extra argument \(extra\)",
        files=BROKEN,
    )
    case(
        f"{name}-vars-odd",
        "malformed --vars",
        [*argv, "--dry-run", "--vars", "a,b,c"],
        1,
        r"^--vars must have an even number of keys and values$",
        files=BROKEN,
    )
    case(
        f"{name}-log-level-bad",
        "a malformed flag value",
        [*argv, "--dry-run", "--log-level", "chatty"],
        1,
        r"^Supported log levels are debug,info,warning,error,fatal,panic, provided chatty$",
        files=BROKEN,
    )
for name, argv in EMR.items():
    for dry in ([], ["--dry-run"]):
        tag = name + ("-dry" if dry else "")
        case(
            f"{tag}-state-dir-a-file",
            "the state directory a file",
            [*argv, *dry, "--state-dir", "{d}/c.json"],
            1,
            r"^the state directory \S+/c\.json is not a directory$",
            files=SNOW,
        )
    case(
        f"{name}-store-password-hidden",
        "a bad store URL",
        [*argv, "--store", "postgresql://me:hunter2@127.0.0.1:1/db"],
        1,
        r"^cannot open the store at postgresql://me:\*\*\*@127\.0\.0\.1:1/db: ",
        files=SNOW,
    )
    case(
        f"{name}-store-sqlite-typo",
        "a bad store URL",
        [*argv, "--store", "sqlite:store.db"],
        1,
        r"^not a SQLite store URL: sqlite:store\.db \(use sqlite:///path\)$",
        files=SNOW,
    )

# --- files given to the running commands ----------------------------------------------
for name, argv in RUNNING.items():
    flag, file = ("--emr-playbook", "p.json") if name == "run" else ("--emr-config", "c.json")
    swap = [flag if a == flag else a for a in argv]
    at = swap.index(flag) + 1
    for dry in ([], ["--dry-run"]):
        tag = name + ("-dry" if dry else "")
        for what, path, kind, pattern in (
            (
                "dev-zero",
                "/dev/zero",
                "a device as a config",
                r"^/dev/zero: cannot read the file: it is a character device, not a regular file$",
            ),
            (
                "fifo",
                "{d}/fifo.json",
                "a FIFO as a config",
                r"fifo\.json: cannot read the file: it is a FIFO, not a regular file$",
            ),
            (
                "missing",
                "{d}/nope.json",
                "a missing file",
                r"nope\.json: cannot read the file: No such file or directory$",
            ),
        ):
            args = [*swap]
            args[at] = path
            case(
                f"{tag}-{what}",
                kind,
                [*args, *dry],
                1,
                pattern,
                files={**SNOW, "fifo.json": FIFO},
            )
    case(
        f"{name}-template-bomb",
        "a template too big to render",
        [*argv, "--dry-run"],
        1,
        re.escape(file) + ": " + TOO_BIG_OUTPUT,
        files={**SNOW, file: TEMPLATE_BOMB},
    )
    case(
        f"{name}-base64file-dev-zero",
        "base64File of a device",
        [*argv, "--dry-run"],
        1,
        r"error calling base64File: /dev/zero: not a regular file$",
        files={**SNOW, file: '{{base64File "/dev/zero"}}'},
    )

# --- the playbook's steps on the local fabric -----------------------------------------
for name, argv in (("run-transient", RT), ("run-transient-dry", [*RT, "--dry-run"])):
    case(
        f"{name}-local-script-missing",
        "a local SCRIPT that does not exist",
        argv,
        1,
        r"p\.json: \$\.data\.steps\[0\]: cannot run on the local fabric: script \S+/missing\.sh "
        r"does not exist$",
        files={
            "c.json": LOCAL_C,
            "p.json": j(native({"id": "a", "type": "SCRIPT", "script": "missing.sh"})),
        },
    )
    case(
        f"{name}-local-jar-missing",
        "a missing jar for a local CUSTOM_JAR step",
        argv,
        1,
        r"p\.json: \$\.data\.steps\[0\]: cannot run on the local fabric: jar \S*nope\.jar "
        r"does not exist",
        files={
            "c.json": LOCAL_C,
            "p.json": j(native({"id": "a", "type": "CUSTOM_JAR", "jar": "nope.jar"})),
        },
    )
    case(
        f"{name}-work-dir-missing",
        "local.workDir missing",
        argv,
        1,
        r"c\.json: \$\.data\.local\.workDir: the work directory \S+/nope does not exist$",
        files={"c.json": local_cluster(workDir="nope"), "p.json": NATIVE_P},
    )
    case(
        f"{name}-work-dir-a-file",
        "local.workDir a file",
        argv,
        1,
        r"c\.json: \$\.data\.local\.workDir: the work directory \S+/p\.json is not a directory$",
        files={"c.json": local_cluster(workDir="p.json"), "p.json": NATIVE_P},
    )
    case(
        f"{name}-emr-playbook-dev-zero",
        "a device as a config",
        [a if a != "{d}/p.json" else "/dev/zero" for a in argv],
        1,
        r"^/dev/zero: cannot read the file: it is a character device, not a regular file$",
        files=BOTH,
    )
    case(
        f"{name}-fabric-unknown",
        "an unknown fabric",
        [*argv, "--fabric", "gcp"],
        2,
        USAGE + r"Invalid value for '--fabric': 'gcp' is not one of 'local', 'emr'",
        files=BOTH,
    )
    case(
        f"{name}-lock-backend-unknown",
        "a bad lock backend",
        [*argv, "--lock", "x", "--lock-backend", "zookeeper://h:1"],
        1,
        r"^--lock-backend must be file or etcd://HOST:PORT, got zookeeper://h:1$",
        files=BOTH,
    )
for what, value in (
    ("nul", "a\u0000b"),
    ("equals", "A=B"),
    ("empty", ""),
):
    case(
        f"run-transient-step-env-name-{what}",
        "a bad env name",
        RT,
        1,
        r"p\.json: \$\.data\.steps\[0\]\.env\[",
        files={"c.json": LOCAL_C, "p.json": j(native(cmd("a", env={value: "x"})))},
    )
    case(
        f"up-local-env-name-{what}",
        "a bad env name",
        [*UP, "--dry-run"],
        1,
        r"c\.json: \$\.data\.local\.env\[",
        files={"c.json": local_cluster(env={value: "x"})},
    )
for what, value, pattern in (
    ("traversal", "../../../x", rf'{ID_RULE}, got "\.\./\.\./\.\./x"$'),
    ("slash", "a/b", rf'{ID_RULE}, got "a/b"$'),
    ("long", LONG_ID, rf'{ID_RULE}, got "a+\.\.\."$'),
    ("nul", "a\u0000b", r"contains a NUL byte$"),
):
    case(
        f"run-transient-step-id-{what}",
        "a bad step id",
        RT,
        1,
        r"p\.json: \$\.data\.steps\[0\]\.id: " + pattern,
        files={"c.json": LOCAL_C, "p.json": j(native(cmd(value)))},
    )
case(
    "run-transient-nul-in-argument",
    "a NUL byte in an argument",
    RT,
    1,
    r"p\.json: \$\.data\.steps\[0\]\.command\[1\]: contains a NUL byte$",
    files={"c.json": LOCAL_C, "p.json": j(native(cmd("a", command=["echo", "a\u0000"])))},
)
case(
    "run-transient-nul-in-dependency",
    "a NUL byte in an id",
    RT,
    1,
    r"p\.json: \$\.data\.steps\[1\]\.dependsOn\[0\]: ",
    files={"c.json": LOCAL_C, "p.json": j(native(cmd("a"), cmd("b", dependsOn=["a\u0000"])))},
)
case(
    "run-transient-timeout-infinity",
    "timeoutSeconds: Infinity",
    RT,
    1,
    r"p\.json: \$\.data\.steps\[0\]\.timeoutSeconds: expected a finite number, got Infinity$",
    files={"c.json": LOCAL_C, "p.json": j(native(cmd("a", timeoutSeconds=float("inf"))))},
)
case(
    "run-transient-yaml-date-name",
    "a YAML date",
    ["run-transient", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.yaml"],
    1,
    r"p\.yaml: \$\.data\.name: expected a string, got a date \(quote it\)$",
    files={
        "c.json": LOCAL_C,
        "p.yaml": f"schema: {NATIVE_PLAYBOOK}\ndata:\n  name: 2026-01-01\n  steps:\n"
        "    - {id: a, type: COMMAND, command: [x]}\n",
    },
)
case(
    "run-transient-huge-integer",
    "a 5,000-digit integer",
    RT,
    1,
    r"p\.json:1: invalid JSON: a number with more than \d+ digits$",
    files={
        "c.json": LOCAL_C,
        "p.json": f'{{"schema": "{NATIVE_PLAYBOOK}", "data": {{"concurrency": {DIGITS}}}}}',
    },
)
case(
    "run-transient-lone-surrogate",
    "a lone surrogate",
    RT,
    1,
    r"p\.json: \$\.data\.steps\[0\]\.command\[0\]: invalid string: a lone UTF-16 surrogate",
    files={"c.json": LOCAL_C, "p.json": j(native(cmd("a", command=["\ud800"])))},
)
case(
    "run-transient-unknown-top-level-key",
    "an unknown top-level key",
    RT,
    1,
    r"c\.json: \$\.extra: unknown field$",
    files={
        "c.json": j({"schema": NATIVE_CLUSTER, "data": {"name": "l"}, "extra": 1}),
        "p.json": NATIVE_P,
    },
)
case(
    "run-transient-lock-too-long",
    "a bad lock name",
    [*RT, "--lock", "{c}/" + "l" * 5000],
    1,
    r"^lock cannot be created at \S+: File name too long$",
    files=BOTH,
)

# --- run and down: the cluster id -----------------------------------------------------
for name, argv in (
    ("run", ["run", "--emr-playbook", "{d}/p.json"]),
    ("down", ["down", "--emr-config", "{d}/c.json"]),
):
    for dry in ([], ["--dry-run"]):
        tag = name + ("-dry" if dry else "")
        for what, value in (
            ("unknown", "zzz"),
            ("traversal", "l-../../../x"),
            ("slash", "j-1/2"),
            ("long", "j-" + "A" * 5000),
            ("empty-local", "l-"),
        ):
            shown = re.escape(value[:40])
            case(
                f"{tag}-cluster-{what}",
                "a cluster id no fabric knows",
                [*argv, "--emr-cluster", value, *dry],
                1,
                rf"^no fabric knows the cluster id '{shown}",
                files=BOTH,
            )
    case(
        f"{name}-cluster-empty",
        "a missing required flag",
        [*argv, "--emr-cluster", ""],
        1,
        r"^--emr-cluster needs to be specified$",
        files=BOTH,
    )
case(
    "run-no-such-local-cluster",
    "a cluster id no fabric knows",
    ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "l-NOSUCHCLUSTER"],
    1,
    r"^no local cluster 'l-NOSUCHCLUSTER'",
    files=BOTH,
)
case(
    "down-no-such-local-cluster",
    "a cluster id no fabric knows",
    ["down", "--emr-config", "{d}/c.json", "--emr-cluster", "l-NOSUCHCLUSTER"],
    1,
    r"l-NOSUCHCLUSTER",
    files=BOTH,
)
case(
    "run-emr-without-region",
    "an EMR playbook without a region",
    ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "j-1"],
    1,
    r"^no AWS region: set 'region' in the config or AWS_REGION$",
    files=BOTH,
)
case(
    "run-async-dag",
    "an impossible combination of flags",
    ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "j-1", "--async"],
    1,
    r"--async needs a serial playbook",
    files={"p.json": j(native(cmd("a"), cmd("b"), region="us-east-1"))},
    env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
)

# --- validate ---------------------------------------------------------------------------
for what, files, pattern in (
    ("fifo-config", {"c.json": FIFO, "p.json": NATIVE_P}, r"it is a FIFO"),
    ("template-bomb", {"c.json": LOCAL_C, "p.json": TEMPLATE_BOMB}, TOO_BIG_OUTPUT),
    (
        "base64file-fifo",
        {"c.json": LOCAL_C, "p.json": '{{base64File "{d}/f"}}', "f": FIFO},
        r"error calling base64File: \S+/f: not a regular file$",
    ),
    (
        "empty-env-name",
        {"c.json": local_cluster(env={"": "x"}), "p.json": NATIVE_P},
        r'\$\.data\.local\.env\[""\]: expected an environment variable name',
    ),
    (
        "top-level-key",
        {"c.json": LOCAL_C, "p.json": j({**native(cmd("a")), "meta": {}})},
        r"p\.json: \$\.meta: unknown field$",
    ),
):
    case(f"validate-{what}", "a bad config", VALIDATE, 1, pattern, files=files)
case(
    "validate-max-config-size-huge",
    "a flag out of range",
    [*VALIDATE, "--max-config-size", HUGE],
    2,
    SIZE.format(HUGE),
    files=BOTH,
)
case(
    "validate-unknown-flag",
    "an unknown flag",
    [*VALIDATE, "--strict"],
    2,
    USAGE + r"No such option '--strict'",
    files=BOTH,
)
case(
    "validate-dev-zero-playbook",
    "a device as a config",
    ["validate", "--emr-playbook", "/dev/zero"],
    1,
    r"^/dev/zero: cannot read the file: it is a character device",
)

# --- runs -------------------------------------------------------------------------------
LIMIT = USAGE + r"Invalid value for '--limit': {} is not in the range 1<=x<=1000\."
for what, value in (("huge", "9" * 30), ("zero", "0"), ("negative", "-1"), ("big", "1001")):
    case(
        f"runs-limit-{what}",
        "a flag out of range",
        ["runs", "--limit", value],
        2,
        LIMIT.format(value),
    )
case(
    "runs-limit-word",
    "a malformed flag value",
    ["runs", "--limit", "all"],
    2,
    USAGE + r"Invalid value for '--limit': 'all' is not a valid integer range\.",
)
case(
    "runs-limit-huge-seeded",
    "a flag out of range",
    ["runs", "--limit", "9" * 30],
    2,
    LIMIT.format(HUGE),
    setup="run",
)
WHEN = r"cannot read the time '{}': expected e\.g\. 2026-11-22, 2026-11-22T10:00 or 3h"
for flag in ("--since", "--until"):
    for what, value in (
        ("garbage", "garbage"),
        ("empty", ""),
        ("bad-date", "2026-13-45"),
        ("unit-only", "h"),
        ("bad-unit", "3y"),
    ):
        case(
            f"runs{flag[1:]}-{what}",
            "a malformed time",
            ["runs", flag, value],
            1,
            f"^{flag}: " + WHEN.format(re.escape(value)) + "$",
        )
    case(
        f"runs{flag[1:]}-too-far",
        "a time out of range",
        ["runs", flag, "9" * 30 + "d"],
        1,
        f"^{flag}: the time 9{{30}}d is out of range \\(at most a century ago\\)$",
    )
    case(
        f"runs{flag[1:]}-5000-digits",
        "a 5,000-digit integer",
        ["runs", flag, DIGITS + "h"],
        1,
        f"^{flag}: the time 1+\\.\\.\\. is out of range",
    )
for what, value in (("bogus", "bogus"), ("empty", ""), ("submitted-typo", "SUBMITED")):
    case(
        f"runs-state-{what}",
        "an unknown state",
        ["runs", "--state", value],
        1,
        r"^--state must be one of RUNNING, SUBMITTED, COMPLETED, FAILED, CANCELLED, DEAD; got ",
    )

# --- status, logs, resume: run and step ids --------------------------------------------
NO_RUN = r"^no run '{}' in the store at \S+$"
for command, extra in (("status", []), ("logs", ["a"]), ("resume", [])):
    for what, ref, pattern in (
        ("unknown", "r-nope", NO_RUN.format("r-nope")),
        ("traversal", "../../../x", NO_RUN.format(r"\.\./\.\./\.\./x")),
        ("slash", "a/b", NO_RUN.format("a/b")),
        (
            "long",
            "r" * 5000,
            r"^expected a run id of at most 128 characters, got 'r{40}'\.\.\. "
            r"\(5000 characters\)$",
        ),
        ("empty", "", r"^expected a run id, got ''$"),
        ("blank", " ", r"^expected a run id, got ' '$"),
        ("ambiguous", "r-2025", r"^'r-2025' matches 2 runs: r-20251201-000000-aaaaa[ab], "),
    ):
        case(
            f"{command}-run-{what}",
            "a bad run id",
            [command, ref, *extra],
            1,
            pattern,
            setup="twins",
        )
    case(
        f"{command}-run-not-utf8",
        "a lone surrogate",
        [command.encode(), b"r-\xff", *[e.encode() for e in extra]],
        1,
        r"^expected UTF-8 text, got 'r-\\xff'$",
        setup="run",
    )
    case(
        f"{command}-unknown-state-in-store",
        "an unknown state in the store",
        [command, RUN_ID, *extra],
        1,
        r"unknown run state 'PAUSED'|PAUSED",
        setup="run-state-unknown",
    )
case("status-empty-store", "no runs", ["status"], 1, r"^no runs yet$")
case(
    "logs-missing-step",
    "a missing argument",
    ["logs", RUN_ID],
    2,
    USAGE + r"Missing argument 'STEP'",
)
case("logs-missing-run", "a missing argument", ["logs"], 2, USAGE + r"Missing argument 'RUN'")
case("resume-missing-run", "a missing argument", ["resume"], 2, USAGE + r"Missing argument 'RUN'")
case("status-extra", "an extra argument", ["status", "a", "b"], 2, USAGE + r"Got unexpected extra")
for what, step in (
    ("unknown", "nope"),
    ("traversal", "../../x"),
    ("long", "s" * 5000),
    ("never-ran", "b"),
):
    case(
        f"logs-step-{what}",
        "a bad step id",
        ["logs", RUN_ID, step],
        1,
        rf"^run {RUN_ID} has no attempt of step '{re.escape(step[:40])}",
        setup="run",
    )
ATTEMPT = USAGE + r"Invalid value for '--attempt': {} is not in the range 1<=x<=1000\."
for what, value, code, pattern in (
    ("zero", "0", 2, ATTEMPT.format("0")),
    ("negative", "-3", 2, ATTEMPT.format("-3")),
    ("huge", HUGE, 2, ATTEMPT.format(HUGE)),
    ("word", "last", 2, USAGE + r"Invalid value for '--attempt': 'last' is not a valid integer"),
    ("absent", "7", 1, r"^step 'a' has no attempt 7 \(it has 1\)$"),
):
    case(
        f"logs-attempt-{what}",
        "a bad attempt",
        ["logs", RUN_ID, "a", "--attempt", value],
        code,
        pattern,
        setup="run",
    )
case(
    "logs-stream-bad",
    "an unknown choice",
    ["logs", RUN_ID, "a", "--stream", "both"],
    2,
    USAGE + r"Invalid value for '--stream'",
    setup="run",
)
for what, setup, argv, pattern in (
    ("step-state", "step-state-unknown", ["status", RUN_ID], r"SKIPPED"),
    ("attempt-state", "attempt-state-unknown", ["logs", RUN_ID, "a"], r"PREEMPTED"),
    ("run-kind", "run-kind-unknown", ["status"], r"scheduled"),
    ("run-json", "run-json-unknown", ["runs"], r"^the store holds a runs row this version cannot"),
):
    case(
        f"{argv[0]}-unknown-{what}", "an unknown state in the store", argv, 1, pattern, setup=setup
    )
for what, setup, pattern in (
    ("finished", "run", rf"^run {RUN_ID} already ended: COMPLETED$"),
    ("no-playbook", "dead-no-playbook", rf"^run {RUN_ID} has no playbook file to resume from$"),
    ("playbook-dev-zero", "dead-dev-zero", r"^/dev/zero: cannot read the file: it is a character"),
):
    case(
        f"resume-{what}",
        "a run that cannot be resumed",
        ["resume", RUN_ID],
        1,
        pattern,
        setup=setup,
    )
case(
    "resume-playbook-now-bad",
    "a bad config",
    ["resume", RUN_ID],
    1,
    r"p\.json: \$\.data\.steps\[0\]\.id: contains a NUL byte$",
    files={"p.json": j(native(cmd("a\u0000")))},
    setup="dead-bad-playbook",
)
for value in ("nan", "inf"):
    case(
        f"resume-poll-interval-{value}",
        "a non-finite number",
        ["resume", RUN_ID, "--poll-interval", value],
        2,
        NOT_FINITE.format(value),
        setup="run",
    )
case(
    "resume-vars-odd",
    "malformed --vars",
    ["resume", RUN_ID, "--vars", "x"],
    1,
    r"^--vars must have an even number of keys and values$",
    setup="dead-no-playbook",
)

# --- every history command: its store and its output flag -------------------------------
HISTORY = {
    "runs": ["runs"],
    "status": ["status"],
    "clusters": ["clusters"],
    "locks": ["locks"],
    "logs": ["logs", RUN_ID, "a"],
    "resume": ["resume", RUN_ID],
}
for command, argv in HISTORY.items():
    case(
        f"{command}-state-dir-a-file",
        "the state directory a file",
        [*argv, "--state-dir", "{d}/f"],
        1,
        r"^the state directory \S+/f is not a directory$",
        files={"f": "x"},
    )
    case(
        f"{command}-store-password-hidden",
        "a bad store URL",
        [*argv, "--store", "postgresql://me:hunter2@127.0.0.1:1/db"],
        1,
        r"^cannot open the store at postgresql://me:\*\*\*@127\.0\.0\.1:1/db: ",
    )
    case(
        f"{command}-store-unknown-scheme",
        "a bad store URL",
        [*argv, "--store", "mongodb://me:hunter2@h/db"],
        1,
        r"mongodb://me:\*\*\*@h/db",
    )
    case(
        f"{command}-store-sqlite-typo",
        "a bad store URL",
        [*argv, "--store", "sqlite:store.db"],
        1,
        r"^not a SQLite store URL: sqlite:store\.db \(use sqlite:///path\)$",
    )
    if command not in ("logs", "resume"):
        case(
            f"{command}-output-xml",
            "an unknown choice",
            [*argv, "--output", "xml"],
            2,
            USAGE + r"Invalid value for '--output': 'xml' is not one of 'text', 'json'",
        )
    case(
        f"{command}-unknown-flag",
        "an unknown flag",
        [*argv, "--all"],
        2,
        USAGE + r"No such option '--all'",
    )
for command in ("runs", "status", "clusters", "locks"):
    setup = "cluster-state-unknown" if command == "clusters" else "run-state-unknown"
    value = "HIBERNATING" if command == "clusters" else "PAUSED"
    for output in ("text", "json"):
        case(
            f"{command}-{output}-unknown-state-in-store",
            "an unknown state in the store",
            [command, "--output", output],
            1,
            value,
            setup=setup,
        )

# --- clusters, locks, unlock ------------------------------------------------------------
case(
    "clusters-fabric-unknown",
    "an unknown fabric",
    ["clusters", "--fabric", "gcp"],
    2,
    USAGE + r"Invalid value for '--fabric': 'gcp' is not one of 'local', 'emr'",
)
case("clusters-extra", "an extra argument", ["clusters", "x"], 2, USAGE + r"Got unexpected extra")
case(
    "locks-lock-backend-unknown",
    "a bad lock backend",
    ["locks", "x", "--lock-backend", "zookeeper://h:1"],
    1,
    r"^--lock-backend must be file or etcd://HOST:PORT, got zookeeper://h:1$",
)
case(
    "locks-consul-unreachable",
    "an unreachable lock backend",
    ["locks", "x", "--consul", "127.0.0.1:1"],
    1,
    r"^cannot reach Consul at http://127\.0\.0\.1:1 for lock x: ",
)
case("unlock-missing-name", "a missing argument", ["unlock"], 2, USAGE + r"Missing argument 'NAME'")
case("unlock-not-held", "a lock not held", ["unlock", "nope"], 1, r"^lock \S+/nope is not held$")
case("unlock-empty", "a bad lock name", ["unlock", ""], 1, r"^expected a lock name, got ''$")
case(
    "unlock-long",
    "a bad lock name",
    ["unlock", "l" * 5000],
    1,
    r"is not held$|File name too long",
)
case(
    "unlock-lock-backend-unknown",
    "a bad lock backend",
    ["unlock", "x", "--lock-backend", "zookeeper://h:1"],
    1,
    r"^--lock-backend must be file or etcd://HOST:PORT, got zookeeper://h:1$",
)
case(
    "unlock-consul-unreachable",
    "an unreachable lock backend",
    ["unlock", "x", "--consul", "127.0.0.1:1"],
    1,
    r"^cannot reach Consul at http://127\.0\.0\.1:1 for lock x: ",
)
case(
    "unlock-etcd-unreachable",
    "an unreachable lock backend",
    ["unlock", "x", "--lock-backend", "etcd://127.0.0.1:1"],
    1,
    r"127\.0\.0\.1:1",
)

# --- the command line itself ------------------------------------------------------------
case("unknown-command-typo", "an unknown command", ["statuss"], 2, r"No such command 'statuss'")
case("unknown-top-flag", "an unknown flag", ["--colour", "runs"], 2, r"No such option '--colour'")
case(
    "top-log-level-empty",
    "a malformed flag value",
    ["--log-level", "", "runs"],
    1,
    r"^Supported log levels are debug,info,warning,error,fatal,panic, provided $",
)
case(
    "argument-not-utf8",
    "a lone surrogate",
    [b"runs", b"--playbook", b"\xff\xfe"],
    1,
    r"^--playbook: expected UTF-8 text, got '\\xff\\xfe'$",
)
case(
    "vars-not-utf8",
    "a lone surrogate",
    [b"validate", b"--emr-playbook", b"{d}/p.json", b"--vars=a,\xff"],
    1,
    r"^--vars: expected UTF-8 text, got 'a,\\xff'$",
)
case(
    "path-not-utf8",
    "a lone surrogate",
    [b"validate", b"--emr-playbook", b"\xff.json"],
    1,
    r"\.json: cannot read the file: No such file or directory$",
)


# --- running them ---------------------------------------------------------------------


@dataclass
class Ran:
    code: int
    out: str
    err: str
    rss_kb: int
    seconds: float


def _substitute(arg: str | bytes, dirs: dict[str, Path]) -> str | bytes:
    for key, path in dirs.items():
        if isinstance(arg, bytes):
            arg = arg.replace(b"{" + key.encode() + b"}", os.fsencode(path))
        else:
            arg = arg.replace("{" + key + "}", str(path))
    return arg


def _run(argv: list[str | bytes], dirs: dict[str, Path], env: dict[str, str]) -> Ran:
    """Run the command line, measuring the child's peak RSS (``wait4``); a child
    still running after ``TIMEOUT_S`` is killed and fails the case."""
    out_path, err_path = dirs["tmp"] / "stdout", dirs["tmp"] / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dataflow_runner", *argv],
            cwd=dirs["c"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    start = time.monotonic()
    deadline = start + TIMEOUT_S
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            pytest.fail(f"still running after {TIMEOUT_S:.0f} s: {err_path.read_text()}")
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Ran(
        proc.returncode,
        out_path.read_bytes().decode("utf-8", "replace"),
        err_path.read_bytes().decode("utf-8", "replace"),
        usage.ru_maxrss,
        time.monotonic() - start,
    )


def _rows(state: Path) -> dict[str, int]:
    """The rows of each table of the store (a store that is not there has none)."""
    db = state / "store.db"
    if not db.exists():
        return {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        counts = {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES if t in names
        }
    return {t: n for t, n in counts.items() if n}


def _tree(*roots: Path) -> set[str]:
    """Every path under ``roots`` but the store's own files (which a read may open)."""
    found = set()
    for root in roots:
        for path in root.rglob("*"):
            if not path.name.startswith("store.db"):
                found.add(str(path))
    return found


_LINE = re.compile(r'^(time="[^"]+" level=(error|fatal) msg=.+|dataflow-runner\b.*: .+)$')


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_one_clean_line(c: Case, tmp_path: Path) -> None:
    dirs = {
        "tmp": tmp_path,
        "d": tmp_path / "files",
        "s": tmp_path / "state",
        "c": tmp_path / "cwd",
        "h": tmp_path / "home",
    }
    for key in ("d", "c", "h"):
        dirs[key].mkdir()
    for name, text in c.files.items():
        if text == FIFO:
            os.mkfifo(dirs["d"] / name)
        else:
            body = text.replace("{d}", str(dirs["d"]))
            (dirs["d"] / name).write_bytes(body.encode("utf-8", "surrogateescape"))
    if c.setup is not None:
        SETUPS[c.setup](dirs["s"])
    env = {
        **os.environ,
        "HOME": str(dirs["h"]),
        "XDG_STATE_HOME": str(dirs["h"] / ".local" / "state"),
        "DATAFLOW_RUNNER_HOME": str(dirs["s"]),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(dirs["h"] / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(dirs["h"] / "aws-credentials"),
        "TZ": "UTC",
        **c.env,
    }
    rows, tree = _rows(dirs["s"]), _tree(dirs["d"], dirs["s"], dirs["c"], dirs["h"])

    ran = _run([_substitute(a, dirs) for a in c.argv], dirs, env)

    lines = [line for line in ran.err.splitlines() if line.strip()]
    assert ran.code == c.code, ran.err
    assert len(lines) == 1, lines
    assert "Traceback" not in ran.err
    assert "internal error" not in ran.err
    assert _LINE.match(lines[0]), lines[0]
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", lines[0]), lines[0]
    message = _message(lines[0])
    assert re.search(c.pattern, message), message
    assert "hunter2" not in ran.err
    assert ran.out == ""
    # Nothing recorded, nothing created.
    assert _rows(dirs["s"]) == rows
    assert not (dirs["s"] / "runs").exists()
    assert not (dirs["s"] / "clusters").exists()
    assert _tree(dirs["d"], dirs["s"], dirs["c"], dirs["h"]) == tree
    assert ran.rss_kb < MAX_RSS_KB, f"{ran.rss_kb} KB"
    assert ran.seconds < TIMEOUT_S


def _command(argv: list[str | bytes]) -> str:
    words = [a.decode(errors="replace") if isinstance(a, bytes) else a for a in argv]
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] == "--log-level" else 1
    return words[i] if i < len(words) else "(none)"


def test_the_table_covers_every_command() -> None:
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES)
    commands = {_command(c.argv) for c in CASES}
    for command in (
        "up",
        "run",
        "down",
        "run-transient",
        "validate",
        "runs",
        "status",
        "logs",
        "clusters",
        "locks",
        "unlock",
        "resume",
    ):
        assert command in commands
    assert all(c.code in (1, 2) for c in CASES)


def test_the_command_line_limits_agree_with_the_store() -> None:
    from dataflow_runner.cli import app_history
    from dataflow_runner.store.reader import MAX_PAGE
    from dataflow_runner.store.records import RunState

    assert app_history.RUNS_LIMIT == MAX_PAGE
    assert set(app_history.RUN_STATES) == {s.value for s in RunState}
