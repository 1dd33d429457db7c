"""Bad inputs to the commands that read the history (``runs``, ``status``, ``logs``,
``clusters``, ``locks``), to ``unlock`` and ``resume``, and to the command line itself."""

from __future__ import annotations

import re

from tests.unit.bad_input_case import (
    HUGE,
    NOT_FINITE,
    RUN_ID,
    USAGE,
    case,
)
from tests.unit.test_bad_inputs import (
    DIGITS,
    cmd,
    j,
    native,
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
        r"^--state must be one of QUEUED, RUNNING, SUBMITTED, COMPLETED, FAILED, CANCELLED, "
        r"DEAD; got ",
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
    ("step-state", "step-state-unknown", ["status", RUN_ID], r"PAUSED"),
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
case(
    "clusters-extra", "an unknown subcommand", ["clusters", "x"], 2, USAGE + r"No such command .x."
)
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

# --- against a server (--server URL, DATAFLOW_RUNNER_SERVER) ----------------------------
case(
    "server-not-a-url",
    "a malformed flag value",
    ["--server", "nowhere", "runs"],
    1,
    r"^--server: expected an http:// or https:// URL, got 'nowhere'$",
)
case(
    "server-unreachable",
    "a server that is not there",
    ["status", "--server", "http://127.0.0.1:9"],
    1,
    r"^cannot reach the server at http://127\.0\.0\.1:9: .+$",
)
case(
    "server-and-store",
    "flags that exclude each other",
    ["runs", "--store", "{d}/x.db"],
    1,
    r"^--store cannot be used with --server \(or DATAFLOW_RUNNER_SERVER\): .+$",
    env={"DATAFLOW_RUNNER_SERVER": "http://127.0.0.1:9"},
)
case(
    "server-token-unreachable-masked",
    "a secret in the environment",
    ["logs", "r-1", "a"],
    1,
    r"^cannot reach the server at http://127\.0\.0\.1:9: .+$",
    env={
        "DATAFLOW_RUNNER_SERVER": "http://127.0.0.1:9",
        "DATAFLOW_RUNNER_TOKEN": "dfr_secret-token-value",
    },
)
case(
    "transient-async-without-server",
    "a flag that needs another",
    ["run-transient", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.json", "--async"],
    1,
    r"^--async needs --server: .+$",
)

# --- the commands only a server answers (clusters tag/drain, pools, schedules, trigger) ----
NO_SERVER = r"^this needs a server: give --server URL or set DATAFLOW_RUNNER_SERVER$"
UNREACHABLE = r"^cannot reach the server at http://127\.0\.0\.1:9: .+$"
for name, argv in (
    ("clusters-tag", ["clusters", "tag", "j-1", "--add", "a:b"]),
    ("clusters-drain", ["clusters", "drain", "j-1", "--to", "j-2"]),
    ("pools-list", ["pools", "list"]),
    ("pools-create", ["pools", "create", "etl", "--size-class", "small"]),
    ("pools-delete", ["pools", "delete", "etl"]),
    ("schedules", ["schedules"]),
    ("trigger", ["trigger", "nightly", "--vars", "a,b"]),
):
    case(
        f"{name}-without-server",
        "a flag that needs another",
        argv,
        1,
        NO_SERVER,
        env={"DATAFLOW_RUNNER_SERVER": ""},
    )
    case(
        f"{name}-server-unreachable",
        "a server that is not there",
        [*argv[:2], "--server", "http://127.0.0.1:9", *argv[2:]],
        1,
        UNREACHABLE,
        env={"DATAFLOW_RUNNER_TOKEN": "dfr_secret-token-value"},
    )
case(
    "clusters-server-unreachable",
    "a server that is not there",
    ["clusters", "--active"],
    1,
    UNREACHABLE,
    env={"DATAFLOW_RUNNER_SERVER": "http://127.0.0.1:9"},
)
case(
    "clusters-server-and-state-dir",
    "flags that exclude each other",
    ["clusters", "--state-dir", "{d}/s"],
    1,
    r"^--state-dir cannot be used with --server \(or DATAFLOW_RUNNER_SERVER\): .+$",
    env={"DATAFLOW_RUNNER_SERVER": "http://127.0.0.1:9"},
)
case(
    "pools-server-not-a-url",
    "a malformed flag value",
    ["pools", "list", "--server", "nowhere"],
    1,
    r"^--server: expected an http:// or https:// URL, got 'nowhere'$",
)
