"""Bad inputs to the commands that run something (``up``, ``run``, ``down``,
``run-transient``, with and without ``--dry-run``) and to ``validate``."""

from __future__ import annotations

import re

from tests.unit.bad_input_case import (
    BOTH,
    BROKEN,
    EMR,
    HUGE,
    LOCAL_C,
    NATIVE_P,
    NOT_FINITE,
    POLL_RANGE,
    RT,
    RUNNING,
    SIZE,
    SNOW,
    TEMPLATE_BOMB,
    TOO_BIG_OUTPUT,
    UP,
    USAGE,
    VALIDATE,
    case,
)
from tests.unit.test_bad_inputs import (
    DIGITS,
    FIFO,
    ID_RULE,
    LONG_ID,
    NATIVE_CLUSTER,
    NATIVE_PLAYBOOK,
    cmd,
    j,
    local_cluster,
    native,
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
                POLL_RANGE.format(value),
                files=BROKEN,
            )
        case(
            f"{tag}-poll-interval-word",
            "a malformed flag value",
            [*argv, *dry, "--poll-interval", "soon"],
            2,
            USAGE + r"Invalid value for '--poll-interval'.*: 'soon' is not a number of seconds",
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

# --- render, and Python playbooks -----------------------------------------------------
PY = "from dataflow_runner.dsl import Playbook, daily\n"
RENDER = ["render", "--emr-playbook", "{d}/p.py"]
case(
    "render-no-playbook",
    "a missing flag",
    ["render"],
    1,
    r"^--emr-playbook needs to be specified$",
)
case(
    "render-dev-zero",
    "a device as a config",
    ["render", "--emr-playbook", "/dev/zero"],
    1,
    r"^/dev/zero: cannot read the file: it is a character device",
)
case(
    "render-unknown-flag",
    "an unknown flag",
    [*RENDER, "--emr-config", "{d}/c.json"],
    2,
    USAGE + r"No such option '--emr-config'",
    files={"p.py": PY + 'pb = Playbook("p")\npb.command("a", ["true"])\n'},
)
for what, body, pattern in (
    ("syntax", 'pb = Playbook("p")\npb.command("a", ["x"]\n', r"p\.py:3: SyntaxError: "),
    ("exception", 'pb = Playbook("p")\nprint(missing)\n', r"p\.py:3: NameError: name 'missing'"),
    (
        "dsl-argument",
        'pb = Playbook("p", partitions=daily("2026-11-01", timezone="Mars/Base"))\n',
        r"p\.py:2: partitions: unknown time zone 'Mars/Base'",
    ),
    (
        "schema",
        'pb = Playbook("p")\npb.command("a", ["x"], retries=1000)\n',
        r"p\.py:3: \$\.data\.steps\[0\]\.retries: expected a number <= 100, got 1000$",
    ),
    ("no-playbook", "import os\n", r"p\.py: the file builds no playbook"),
    (
        "two-playbooks",
        'a = Playbook("a")\nb = Playbook("b")\n',
        r"p\.py:3: a second playbook, 'b' \(the first, 'a', is at line 2\)",
    ),
):
    case(
        f"render-python-{what}",
        "a bad Python playbook",
        RENDER,
        1,
        pattern,
        files={"p.py": PY + body},
    )
    case(
        f"run-transient-python-{what}",
        "a bad Python playbook",
        ["run-transient", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.py"],
        1,
        pattern,
        files={"c.json": LOCAL_C, "p.py": PY + body},
    )
case(
    "validate-python-cluster-config",
    "a bad config",
    ["validate", "--emr-config", "{d}/c.py"],
    1,
    r"c\.py: a cluster config is a JSON or YAML file \(only a playbook may be Python\)$",
    files={"c.py": "import os\n"},
)
