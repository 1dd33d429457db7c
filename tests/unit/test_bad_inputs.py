"""A corpus of bad config files and flags: each gives ONE clear line (file, line or
JSON path, what was expected) and the right exit code, never a traceback.

Each case is (id, files, argv, exit code, a regex the single error line must match).
``{d}`` in argv is the case's directory; files are written there first.
``test_bad_input_table.py`` runs them, as subprocesses, beside the cases of every
command.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CLUSTER = "iglu:com.snowplowanalytics.dataflowrunner/ClusterConfig/avro/1-1-0"
PLAYBOOK = "iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-1"
NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def cluster(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "c",
        "logUri": "s3://logs/",
        "region": "us-east-1",
        "credentials": {"accessKeyId": "env", "secretAccessKey": "env"},
        "roles": {"jobflow": "EMR_EC2_DefaultRole", "service": "EMR_DefaultRole"},
        "ec2": {
            "amiVersion": "6.10.0",
            "keyName": "k",
            "location": {"vpc": {"subnetId": "subnet-1"}},
            "instances": {
                "master": {"type": "m5.xlarge"},
                "core": {"type": "m5.xlarge", "count": 1},
                "task": {"type": "m5.xlarge", "count": 0, "bid": "0.015"},
            },
        },
    }
    for path, value in changes.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        if value is _DELETE:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return {"schema": CLUSTER, "data": data}


def playbook(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    default = {
        "type": "CUSTOM_JAR",
        "name": "s",
        "actionOnFailure": "CANCEL_AND_WAIT",
        "jar": "command-runner.jar",
        "arguments": ["true"],
    }
    return {
        "schema": PLAYBOOK,
        "data": {
            "region": "us-east-1",
            "credentials": {"accessKeyId": "env", "secretAccessKey": "env"},
            "steps": list(steps) if steps else [default],
            **extra,
        },
    }


def native(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schema": NATIVE_PLAYBOOK, "data": {"name": "p", "steps": list(steps), **extra}}


def cmd(id_: str, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "type": "COMMAND", "command": ["true"], **extra}


_DELETE = object()
OK_C = json.dumps(cluster())
OK_P = json.dumps(playbook())
RT = ["run-transient", "--emr-config", "{d}/c.json", "--emr-playbook", "{d}/p.json", "--dry-run"]
UP = ["up", "--emr-config", "{d}/c.json", "--dry-run"]
RUN = ["run", "--emr-playbook", "{d}/p.json", "--emr-cluster", "j-1", "--dry-run"]
VAL_P = ["validate", "--emr-playbook", "{d}/p.json"]
VAL_C = ["validate", "--emr-config", "{d}/c.json"]


def j(value: Any) -> str:
    return json.dumps(value)


def local_cluster(**local: Any) -> str:
    """This project's cluster config for the local fabric, its work dir the case's own."""
    return j({"schema": NATIVE_CLUSTER, "data": {"name": "l", "local": {"workDir": ".", **local}}})


#: A file's text that makes the case create a FIFO (a named pipe) instead.
FIFO = "<a FIFO>"
LONG_ID = "a" * 5000
DIGITS = "1" * 5000
ID_RULE = (
    r"expected an id of letters, digits, '\.', '_' or '-' that does not start with '\.' or "
    r"'-' \(at most 128 characters\)"
)
ENV_RULE = r"expected an environment variable name \(not empty, without '='\)"
LOCAL_RT = [*RT[:-1], "--fabric", "local", "--dry-run"]


CASES: list[tuple[str, dict[str, str], list[str], int, str]] = [
    # --- flags (exit 1 as the Go tool, or 2 for usage) -----------------------------
    ("missing-emr-config", {}, ["up"], 1, r"^--emr-config needs to be specified$"),
    (
        "missing-playbook",
        {},
        ["run", "--emr-cluster", "j-1"],
        1,
        r"^--emr-playbook needs to be specified$",
    ),
    (
        "missing-cluster-id",
        {"p.json": OK_P},
        ["run", "--emr-playbook", "{d}/p.json"],
        1,
        r"^--emr-cluster needs to be specified$",
    ),
    (
        "down-missing-cluster",
        {"c.json": OK_C},
        ["down", "--emr-config", "{d}/c.json"],
        1,
        r"^--emr-cluster needs to be specified$",
    ),
    (
        "transient-missing-playbook",
        {"c.json": OK_C},
        ["run-transient", "--emr-config", "{d}/c.json"],
        1,
        r"^--emr-playbook needs to be specified$",
    ),
    (
        "lock-and-softlock",
        {"c.json": OK_C, "p.json": OK_P},
        [*RT, "--lock", "a", "--softLock", "b"],
        1,
        r"^--lock and --softLock are mutually exclusive$",
    ),
    (
        "consul-without-lock",
        {"c.json": OK_C, "p.json": OK_P},
        [*RT, "--consul", "127.0.0.1:1"],
        1,
        r"^--lock or --softLock is needed to make use of --consul$",
    ),
    (
        "async-with-lock",
        {"p.json": OK_P},
        [*RUN, "--async", "--lock", "x"],
        1,
        r"^--async and --lock or --softLock are not compatible$",
    ),
    (
        "odd-vars",
        {"c.json": OK_C},
        [*UP, "--vars", "a,b,c"],
        1,
        r"^--vars must have an even number of keys and values$",
    ),
    (
        "bad-log-level",
        {},
        ["--log-level", "loud", "up"],
        1,
        r"^Supported log levels are debug,info,warning,error,fatal,panic, provided loud$",
    ),
    ("unknown-command", {}, ["launch"], 2, r"No such command 'launch'"),
    (
        "unknown-flag",
        {},
        ["up", "--emr-cfg", "x"],
        2,
        r"^dataflow-runner up: No such option '--emr-cfg'\. Did you mean '--emr-config'\?",
    ),
    ("unknown-flag-go-style", {}, ["up", "-emr-cfg", "x"], 2, r"No such option"),
    ("flag-without-value", {}, ["up", "--emr-config"], 2, r"requires an argument"),
    (
        "bad-output-choice",
        {"c.json": OK_C, "p.json": OK_P},
        [*RT, "--output", "xml"],
        2,
        r"'xml' is not one of",
    ),
    (
        "bad-fabric-choice",
        {"c.json": OK_C, "p.json": OK_P},
        [*RT, "--fabric", "gcp"],
        2,
        r"'gcp' is not one of",
    ),
    (
        "validate-nothing",
        {},
        ["validate"],
        1,
        r"^--emr-config or --emr-playbook needs to be specified$",
    ),
    # --- files and JSON -----------------------------------------------------------
    (
        "no-such-file",
        {},
        ["up", "--emr-config", "{d}/nope.json", "--dry-run"],
        1,
        r"nope\.json: cannot read the file: No such file or directory$",
    ),
    (
        "directory",
        {},
        ["up", "--emr-config", "{d}", "--dry-run"],
        1,
        r": cannot read the file: it is a directory$",
    ),
    ("not-utf8", {"c.json": "\udcff"}, UP, 1, r"c\.json:1: the file is not UTF-8 text$"),
    ("empty-file", {"c.json": ""}, UP, 1, r"c\.json:1:1: invalid JSON: expecting value$"),
    (
        "broken-json",
        {"c.json": '{"schema": "x",\n "data": {]}'},
        UP,
        1,
        r"c\.json:2:11: invalid JSON: ",
    ),
    (
        "trailing-comma",
        {"c.json": '{"schema": "x", "data": {},}'},
        UP,
        1,
        r"c\.json:1:\d+: invalid JSON: ",
    ),
    (
        "top-level-array",
        {"c.json": "[]"},
        UP,
        1,
        r'c\.json: \$: expected an object with "schema" and "data", got an array$',
    ),
    (
        "top-level-string",
        {"c.json": '"x"'},
        UP,
        1,
        r'c\.json: \$: expected an object with "schema" and "data", got "x"$',
    ),
    (
        "no-schema",
        {"c.json": j({"data": {}})},
        UP,
        1,
        r"c\.json: \$\.schema: a value is required: the iglu URI",
    ),
    (
        "unknown-schema",
        {"c.json": j({"schema": "iglu:com.acme/Thing/jsonschema/1-0-0", "data": {}})},
        UP,
        1,
        r'c\.json: \$\.schema: unknown schema "iglu:com\.acme/Thing/jsonschema/1-0-0"; expected',
    ),
    (
        "playbook-as-config",
        {"c.json": OK_P},
        UP,
        1,
        r"c\.json: \$\.schema: this is a playbook config, but a cluster config was expected",
    ),
    (
        "config-as-playbook",
        {"p.json": OK_C},
        RUN,
        1,
        r"p\.json: \$\.schema: this is a cluster config, but a playbook config was expected",
    ),
    (
        "data-missing",
        {"c.json": j({"schema": CLUSTER})},
        UP,
        1,
        r"c\.json: \$\.data: a value is required",
    ),
    (
        "data-not-object",
        {"c.json": j({"schema": CLUSTER, "data": [1]})},
        UP,
        1,
        r"c\.json: \$\.data: expected an object, got \[1\]$",
    ),
    (
        "yaml-broken",
        {"p.yaml": "schema: x\ndata: [\n"},
        ["validate", "--emr-playbook", "{d}/p.yaml"],
        1,
        r"p\.yaml:\d+:\d+: invalid YAML: ",
    ),
    # --- templates ----------------------------------------------------------------------
    (
        "missing-var",
        {"c.json": OK_C.replace('"name": "c"', '"name": "{{.cluster_name}}"')},
        UP,
        1,
        r'c\.json:1:\d+: executing "c\.json" at <\.cluster_name>: map has no entry for '
        r'key "cluster_name" \(pass it with --vars cluster_name,VALUE\)$',
    ),
    (
        "unknown-function",
        {"c.json": '{\n"schema": "{{ secret "x" }}"}'},
        UP,
        1,
        r'c\.json:2: function "secret" not defined',
    ),
    (
        "unclosed-action",
        {"c.json": '{"schema": {{ .a'},
        [*UP, "--vars", "a,b"],
        1,
        r"c\.json:1: unclosed action$",
    ),
    (
        "unterminated-string",
        {"c.json": '{{ base64 "abc\n}}'},
        UP,
        1,
        r"c\.json:1: unterminated quoted string$",
    ),
    (
        "missing-end",
        {"c.json": '{"a": 1,\n{{ if .x }}\n"b": 2}'},
        [*UP, "--vars", "x,1"],
        1,
        r"c\.json:2: unexpected EOF: missing \{\{end\}\} for \{\{if\}\} started at line 2$",
    ),
    ("stray-end", {"c.json": "{{ end }}"}, UP, 1, r"c\.json:1: unexpected \{\{end\}\}$"),
    (
        "wrong-arg-count",
        {"c.json": '{{ base64 "a" "b" }}'},
        UP,
        1,
        r"wrong number of args for base64: want 1 got 2$",
    ),
    # Go's wording: a literal of the wrong type is "found 3", a variable's "got int".
    ("wrong-arg-type", {"c.json": "{{ base64 3 }}"}, UP, 1, r"expected string; found 3$"),
    (
        "wrong-var-type",
        {"c.json": "{{ $n := 3 }}{{ base64 $n }}"},
        UP,
        1,
        r"wrong type for value; expected string; got int$",
    ),
    (
        "system-env-unset",
        {"c.json": '{{ systemEnv "DFR_TEST_SURELY_UNSET" }}'},
        UP,
        1,
        r"error calling systemEnv: environment variable DFR_TEST_SURELY_UNSET not set$",
    ),
    (
        "base64file-missing",
        {"c.json": '{{ base64File "/nonexistent/x.json" }}'},
        UP,
        1,
        r"error calling base64File: open /nonexistent/x\.json: no such file or directory$",
    ),
    (
        "bad-epoch",
        {"c.json": '{{ timeWithFormat "soon" "2006" }}'},
        UP,
        1,
        r'error calling timeWithFormat: strconv\.ParseInt: parsing "soon": invalid syntax$',
    ),
    ("unclosed-comment", {"c.json": "{{/* no end }}"}, UP, 1, r"c\.json:1: unclosed comment$"),
    (
        "field-of-string",
        {"c.json": "{{ .a.b }}"},
        [*UP, "--vars", "a,x"],
        1,
        r"can't evaluate field b in type interface \{\}$",
    ),
    (
        "template-renders-bad-json",
        {"c.json": '{"schema": "{{ .s }}"}'},
        [*UP, "--vars", 's,a"b'],
        1,
        r"c\.json:1:\d+: invalid JSON: ",
    ),
    # --- types (Go's strict decoding) -------------------------------------------------
    (
        "count-string",
        {"c.json": j(cluster(ec2__instances__core__count="three"))},
        UP,
        1,
        r'c\.json: \$\.data\.ec2\.instances\.core\.count: expected an integer, got "three"$',
    ),
    (
        "count-float",
        {"c.json": j(cluster(ec2__instances__core__count=1.5))},
        UP,
        1,
        r"\$\.data\.ec2\.instances\.core\.count: expected an integer, got 1\.5$",
    ),
    (
        "count-bool",
        {"c.json": j(cluster(ec2__instances__core__count=True))},
        UP,
        1,
        r"\$\.data\.ec2\.instances\.core\.count: expected an integer, got true$",
    ),
    (
        "name-number",
        {"c.json": j(cluster(name=3))},
        UP,
        1,
        r"\$\.data\.name: expected a string, got 3$",
    ),
    (
        "ebs-optimized-string",
        {
            "c.json": j(
                cluster(
                    ec2__instances__master={
                        "type": "m5.xlarge",
                        "ebsConfiguration": {"ebsOptimized": "yes"},
                    }
                )
            )
        },
        UP,
        1,
        r"\$\.data\.ec2\.instances\.master\.ebsConfiguration\.ebsOptimized: expected true or "
        r'false, got "yes"$',
    ),
    (
        "tags-object",
        {"c.json": j(cluster(tags={"a": "b"}))},
        UP,
        1,
        r"\$\.data\.tags: expected an array, got an object$",
    ),
    (
        "tag-without-key",
        {"c.json": j(cluster(tags=[{"value": "b"}]))},
        UP,
        1,
        r"\$\.data\.tags\[0\]\.key: a value is required$",
    ),
    (
        "property-number",
        {
            "c.json": j(
                cluster(
                    configurations=[
                        {
                            "classification": "spark",
                            "properties": {"maximizeResourceAllocation": True},
                        }
                    ]
                )
            )
        },
        UP,
        1,
        r"\$\.data\.configurations\[0\]\.properties\.maximizeResourceAllocation: "
        r"expected a string, got true$",
    ),
    (
        "odd-property-key",
        {
            "c.json": j(
                cluster(configurations=[{"classification": "spark", "properties": {"a b": 1}}])
            )
        },
        UP,
        1,
        r'\$\.data\.configurations\[0\]\.properties\["a b"\]: expected a string, got 1$',
    ),
    (
        "secret-not-echoed",
        {
            "c.json": j(
                cluster(credentials={"accessKeyId": "AKIAXXXX", "secretAccessKey": 123456789})
            )
        },
        UP,
        1,
        r"\$\.data\.credentials\.secretAccessKey: expected a string, got a hidden value$",
    ),
    (
        "arguments-string",
        {
            "p.json": j(
                playbook(
                    {
                        "type": "CUSTOM_JAR",
                        "name": "s",
                        "actionOnFailure": "CONTINUE",
                        "jar": "x.jar",
                        "arguments": "a b",
                    }
                )
            )
        },
        RUN,
        1,
        r'\$\.data\.steps\[0\]\.arguments: expected an array, got "a b"$',
    ),
    (
        "argument-number",
        {
            "p.json": j(
                playbook(
                    {
                        "type": "CUSTOM_JAR",
                        "name": "s",
                        "actionOnFailure": "CONTINUE",
                        "jar": "x.jar",
                        "arguments": ["a", 2],
                    }
                )
            )
        },
        RUN,
        1,
        r"\$\.data\.steps\[0\]\.arguments\[1\]: expected a string, got 2$",
    ),
    (
        "steps-object",
        {"p.json": j({"schema": PLAYBOOK, "data": {"steps": {}}})},
        RUN,
        1,
        r"\$\.data\.steps: expected an array, got an object$",
    ),
    # --- late checks of the Go tool, now early ------------------------------------------
    (
        "both-locations",
        {
            "c.json": j(
                cluster(
                    ec2__location={"vpc": {"subnetId": "s"}, "classic": {"availabilityZone": "a"}}
                )
            )
        },
        UP,
        1,
        r"\$\.data\.ec2\.location: only one of classic \(availability zone\) and vpc",
    ),
    (
        "no-location",
        {"c.json": j(cluster(ec2__location={}))},
        UP,
        1,
        r"\$\.data\.ec2\.location: one of classic \(availability zone\) or vpc \(subnet id\) "
        r"is required$",
    ),
    (
        "null-locations",
        {"c.json": j(cluster(ec2__location={"vpc": None, "classic": None}))},
        UP,
        1,
        r"\$\.data\.ec2\.location: one of classic",
    ),
    (
        "env-mixed",
        {"c.json": j(cluster(credentials={"accessKeyId": "env", "secretAccessKey": "abc"}))},
        UP,
        1,
        r"\$\.data\.credentials: access-key and secret-key must both be set to 'env', or "
        r"neither$",
    ),
    (
        "iam-mixed",
        {"p.json": j(playbook(credentials={"accessKeyId": "iam", "secretAccessKey": "env"}))},
        RUN,
        1,
        r"\$\.data\.credentials: access-key and secret-key must both be set to 'iam', or "
        r"neither$",
    ),
    (
        "static-half",
        {"c.json": j(cluster(credentials={"accessKeyId": "AKIAXXXXXXXX"}))},
        UP,
        1,
        r"\$\.data\.credentials\.secretAccessKey: a value is required when the other",
    ),
    (
        "bad-action",
        {
            "p.json": j(
                playbook(
                    {
                        "type": "CUSTOM_JAR",
                        "name": "s",
                        "actionOnFailure": "TERMINATE_CLUSTER",
                        "jar": "x.jar",
                    }
                )
            )
        },
        RUN,
        1,
        r"\$\.data\.steps\[0\]\.actionOnFailure: expected one of CANCEL_AND_WAIT, CONTINUE, got "
        r"\"TERMINATE_CLUSTER\" \(to terminate the cluster, use the 'down' command\)$",
    ),
    (
        "empty-playbook",
        {"p.json": j({"schema": PLAYBOOK, "data": {"steps": []}})},
        RUN,
        1,
        r"\$\.data\.steps: no steps found in the playbook, nothing to run$",
    ),
    (
        "step-without-jar",
        {"p.json": j(playbook({"type": "CUSTOM_JAR", "name": "s", "actionOnFailure": "CONTINUE"}))},
        RUN,
        1,
        r"\$\.data\.steps\[0\]\.jar: a value is required for a CUSTOM_JAR step$",
    ),
    (
        "step-without-name",
        {
            "p.json": j(
                playbook({"type": "CUSTOM_JAR", "jar": "x.jar", "actionOnFailure": "CONTINUE"})
            )
        },
        RUN,
        1,
        r"\$\.data\.steps\[0\]\.name: a value is required",
    ),
    (
        "no-ami",
        {"c.json": j(cluster(ec2__amiVersion=_DELETE))},
        UP,
        1,
        r'\$\.data\.ec2\.amiVersion: a value is required \(an EMR release such as "6\.10\.0"\)$',
    ),
    (
        "bad-ami",
        {"c.json": j(cluster(ec2__amiVersion="latest"))},
        UP,
        1,
        r'\$\.data\.ec2\.amiVersion: expected an EMR release such as "6\.10\.0", got "latest"$',
    ),
    (
        "no-master-type",
        {"c.json": j(cluster(ec2__instances__master={}))},
        UP,
        1,
        r"\$\.data\.ec2\.instances\.master\.type: a value is required",
    ),
    (
        "core-count-no-type",
        {"c.json": j(cluster(ec2__instances__core={"count": 2}))},
        UP,
        1,
        r"\$\.data\.ec2\.instances\.core\.type: a value is required when count is 2$",
    ),
    (
        "negative-count",
        {"c.json": j(cluster(ec2__instances__task={"type": "m", "count": -1}))},
        UP,
        1,
        r"\$\.data\.ec2\.instances\.task\.count: expected a count >= 0, got -1$",
    ),
    (
        "bad-bid",
        {"c.json": j(cluster(ec2__instances__task={"type": "m", "count": 1, "bid": "cheap"}))},
        UP,
        1,
        r'\$\.data\.ec2\.instances\.task\.bid: expected a price in USD such as "0\.015", '
        r'got "cheap"$',
    ),
    # --- this project's format --------------------------------------------------------
    (
        "native-unknown-field",
        {"p.json": j(native(cmd("a", dependson=["b"])))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.dependson: unknown field \(did you mean 'dependsOn'\?\)$",
    ),
    (
        "native-unknown-type",
        {"p.json": j(native({"id": "a", "type": "SHELL"}))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.type: expected one of 'CUSTOM_JAR', 'COMMAND', 'SCRIPT' or "
        r"'SPARK', got \"SHELL\"$",
    ),
    (
        "native-command-missing",
        {"p.json": j(native({"id": "a", "type": "COMMAND"}))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.command: a value is required for a COMMAND step$",
    ),
    (
        "native-spark-missing-app",
        {"p.json": j(native({"id": "a", "type": "SPARK"}))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.application: a value is required for a SPARK step$",
    ),
    (
        "native-unknown-dependency",
        {"p.json": j(native(cmd("a", dependsOn=["nope"])))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.dependsOn\[0\]: unknown step id 'nope'$",
    ),
    (
        "native-self-dependency",
        {"p.json": j(native(cmd("a", dependsOn=["a"])))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.dependsOn\[0\]: a step cannot depend on itself$",
    ),
    (
        "native-cycle",
        {
            "p.json": j(
                native(
                    cmd("a", dependsOn=["c"]), cmd("b", dependsOn=["a"]), cmd("c", dependsOn=["b"])
                )
            )
        },
        VAL_P,
        1,
        r"\$\.data\.steps: steps form a cycle: (a -> b -> c -> a|b -> c -> a -> b|"
        r"c -> a -> b -> c)$",
    ),
    (
        "native-duplicate-id",
        {"p.json": j(native(cmd("a"), cmd("a")))},
        VAL_P,
        1,
        r"\$\.data\.steps\[1\]\.id: duplicate step id 'a' \(also at \$\.data\.steps\[0\]\)$",
    ),
    (
        "native-retries-negative",
        {"p.json": j(native(cmd("a", retries=-1)))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.retries: expected a number >= 0, got -1$",
    ),
    (
        "native-timeout-zero",
        {"p.json": j(native(cmd("a", timeoutSeconds=0)))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.timeoutSeconds: expected a number > 0, got 0$",
    ),
    (
        "native-concurrency-zero",
        {"p.json": j(native(cmd("a"), concurrency=0))},
        VAL_P,
        1,
        r"\$\.data\.concurrency: expected a number >= 1, got 0$",
    ),
    (
        "native-env-number",
        {"p.json": j(native(cmd("a", env={"N": 1})))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.env\.N: expected a string, got 1$",
    ),
    (
        "native-cluster-bad-fabric",
        {"c.json": j({"schema": NATIVE_CLUSTER, "data": {"name": "x", "fabric": "gcp"}})},
        VAL_C,
        1,
        r"\$\.data\.fabric: expected one of 'local' or 'emr', got \"gcp\"$",
    ),
    (
        "native-cluster-emr-missing",
        {"c.json": j({"schema": NATIVE_CLUSTER, "data": {"name": "x", "fabric": "emr"}})},
        VAL_C,
        1,
        r'\$\.data\.emr: an "emr" section is required when the fabric is emr$',
    ),
    (
        "native-cluster-unknown-local-field",
        {"c.json": j({"schema": NATIVE_CLUSTER, "data": {"name": "x", "local": {"workdir": "."}}})},
        VAL_C,
        1,
        r"\$\.data\.local\.workdir: unknown field \(did you mean 'workDir'\?\)$",
    ),
    (
        "native-cluster-no-name",
        {"c.json": j({"schema": NATIVE_CLUSTER, "data": {}})},
        VAL_C,
        1,
        r"\$\.data\.name: a value is required$",
    ),
    (
        "native-yaml-type",
        {
            "p.yaml": f"schema: {NATIVE_PLAYBOOK}\ndata:\n  steps:\n"
            "    - id: a\n      type: COMMAND\n      command: true\n"
        },
        ["validate", "--emr-playbook", "{d}/p.yaml"],
        1,
        r"p\.yaml: \$\.data\.steps\[0\]\.command: expected an array, got true$",
    ),
    # --- validate first, everything (nothing reaches a process, a file name or the store)
    (
        "nul-in-command",
        {"p.json": j(native(cmd("a", command=["tr\u0000ue"])))},
        VAL_P,
        1,
        r"p\.json: \$\.data\.steps\[0\]\.command\[0\]: contains a NUL byte$",
    ),
    (
        "nul-in-snowplow-argument",
        {
            "p.json": j(
                playbook(
                    {
                        "type": "CUSTOM_JAR",
                        "name": "s",
                        "actionOnFailure": "CONTINUE",
                        "jar": "x.jar",
                        "arguments": ["a\u0000b"],
                    }
                )
            )
        },
        RUN,
        1,
        r"\$\.data\.steps\[0\]\.arguments\[0\]: contains a NUL byte$",
    ),
    (
        "nul-in-script",
        {"p.json": j(native({"id": "a", "type": "SCRIPT", "script": "x\u0000.sh"}))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.script: contains a NUL byte$",
    ),
    (
        "nul-in-env-value",
        {"p.json": j(native(cmd("a", env={"A": "x\u0000"})))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.env\.A: contains a NUL byte$",
    ),
    (
        "nul-in-env-name",
        {"p.json": j(native(cmd("a", env={"A\u0000": "x"})))},
        VAL_P,
        1,
        r'\$\.data\.steps\[0\]\.env\["A\\u0000"\]: contains a NUL byte$',
    ),
    (
        "nul-in-step-id",
        {"p.json": j(native(cmd("a\u0000b")))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.id: contains a NUL byte$",
    ),
    (
        "nul-in-local-env",
        {"c.json": local_cluster(env={"A": "\u0000"})},
        VAL_C,
        1,
        r"\$\.data\.local\.env\.A: contains a NUL byte$",
    ),
    (
        "env-name-with-equals",
        {"p.json": j(native(cmd("a", env={"A=B": "x"})))},
        VAL_P,
        1,
        rf'\$\.data\.steps\[0\]\.env\["A=B"\]: {ENV_RULE}, got "A=B"$',
    ),
    (
        "local-env-name-empty",
        {"c.json": local_cluster(env={"": "x"})},
        VAL_C,
        1,
        rf'\$\.data\.local\.env\[""\]: {ENV_RULE}, got ""$',
    ),
    (
        "step-id-traversal",
        {"p.json": j(native(cmd("../../../x")))},
        VAL_P,
        1,
        rf'\$\.data\.steps\[0\]\.id: {ID_RULE}, got "\.\./\.\./\.\./x"$',
    ),
    (
        "step-id-slash",
        {"p.json": j(native(cmd("a/b")))},
        VAL_P,
        1,
        rf'\$\.data\.steps\[0\]\.id: {ID_RULE}, got "a/b"$',
    ),
    (
        "step-id-long",
        {"p.json": j(native(cmd(LONG_ID)))},
        VAL_P,
        1,
        rf'\$\.data\.steps\[0\]\.id: {ID_RULE}, got "a+\.\.\."$',
    ),
    (
        "timeout-infinity",
        {"p.json": j(native(cmd("a", timeoutSeconds=float("inf"))))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.timeoutSeconds: expected a finite number, got Infinity$",
    ),
    (
        "timeout-nan",
        {"p.json": j(native(cmd("a", timeoutSeconds=float("nan"))))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.timeoutSeconds: expected a finite number, got NaN$",
    ),
    (
        "yaml-delay-inf",
        {
            "p.yaml": f"schema: {NATIVE_PLAYBOOK}\ndata:\n  steps:\n    - id: a\n"
            "      type: COMMAND\n      command: [x]\n"
            "      retries: {count: 1, delaySeconds: .inf}\n"
        },
        ["validate", "--emr-playbook", "{d}/p.yaml"],
        1,
        r"p\.yaml: \$\.data\.steps\[0\]\.retries\.delaySeconds: expected a finite number, "
        r"got Infinity$",
    ),
    (
        "timeout-over-30-days",
        {"p.json": j(native(cmd("a", timeoutSeconds=10**9)))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.timeoutSeconds: expected a number <= 2592000 \(30 days\), "
        r"got 1000000000$",
    ),
    (
        "delay-over-a-day",
        {"p.json": j(native(cmd("a", retries={"count": 1, "maxDelaySeconds": 90000})))},
        VAL_P,
        1,
        r"\$\.data\.steps\[0\]\.retries\.maxDelaySeconds: expected a number <= 86400 "
        r"\(a day\), got 90000$",
    ),
    (
        "concurrency-too-high",
        {"p.json": j(native(cmd("a"), concurrency=100_000))},
        VAL_P,
        1,
        r"\$\.data\.concurrency: expected a number <= 1024, got 100000$",
    ),
    (
        "local-concurrency-too-high",
        {"c.json": local_cluster(concurrency=5000)},
        VAL_C,
        1,
        r"\$\.data\.local\.concurrency: expected a number <= 1024, got 5000$",
    ),
    (
        "yaml-date-as-name",
        {"p.yaml": f"schema: {NATIVE_PLAYBOOK}\ndata:\n  name: 2026-01-01\n  steps: []\n"},
        ["validate", "--emr-playbook", "{d}/p.yaml"],
        1,
        r"p\.yaml: \$\.data\.name: expected a string, got a date \(quote it\)$",
    ),
    (
        "json-huge-integer",
        {
            "p.json": f'{{"schema": "{NATIVE_PLAYBOOK}",\n "data": {{"concurrency": {DIGITS}}}}}',
        },
        VAL_P,
        1,
        r"p\.json:2: invalid JSON: a number with more than \d+ digits$",
    ),
    (
        "yaml-huge-integer",
        {"p.yaml": f"schema: {NATIVE_PLAYBOOK}\ndata:\n  concurrency: {DIGITS}\n"},
        ["validate", "--emr-playbook", "{d}/p.yaml"],
        1,
        r"p\.yaml: invalid YAML: a number with more than \d+ digits$",
    ),
    (
        "lone-surrogate",
        {"p.json": j(native(cmd("a"), name="\ud800"))},
        VAL_P,
        1,
        r"p\.json: \$\.data\.name: invalid string: a lone UTF-16 surrogate",
    ),
    (
        "unknown-top-level-key",
        {"p.json": j({**native(cmd("a")), "other": 1})},
        VAL_P,
        1,
        r"p\.json: \$\.other: unknown field$",
    ),
    (
        "fifo",
        {"c.json": FIFO},
        VAL_C,
        1,
        r"c\.json: cannot read the file: it is a FIFO, not a regular file$",
    ),
    (
        "dev-zero",
        {},
        ["validate", "--emr-config", "/dev/zero"],
        1,
        r"^/dev/zero: cannot read the file: it is a character device, not a regular file$",
    ),
    (
        "too-big",
        {"c.json": OK_C},
        [*UP, "--max-config-size", "100"],
        1,
        r"c\.json: the file is larger than the limit of 100 bytes \(raise it with "
        r"--max-config-size BYTES or DATAFLOW_RUNNER_MAX_CONFIG_SIZE\)$",
    ),
    (
        "local-script-missing",
        {
            "c.json": local_cluster(),
            "p.json": j(native({"id": "a", "type": "SCRIPT", "script": "missing.sh"})),
        },
        LOCAL_RT,
        1,
        r"p\.json: \$\.data\.steps\[0\]: cannot run on the local fabric: script \S+/missing\.sh "
        r"does not exist$",
    ),
    (
        "local-work-dir-missing",
        {"c.json": local_cluster(workDir="nope"), "p.json": j(native(cmd("a")))},
        LOCAL_RT,
        1,
        r"c\.json: \$\.data\.local\.workDir: the work directory \S+/nope does not exist$",
    ),
    (
        "local-work-dir-a-file",
        {"c.json": local_cluster(workDir="p.json"), "p.json": j(native(cmd("a")))},
        LOCAL_RT,
        1,
        r"c\.json: \$\.data\.local\.workDir: the work directory \S+/p\.json is not a directory$",
    ),
]


def _message(line: str) -> str:
    """The message inside a log line (logrus text format) or a usage line."""
    m = re.match(r'^time="[^"]+" level=\w+ msg=(.*)$', line)
    if not m:
        return line
    value = m.group(1)
    return str(json.loads(value)) if value.startswith('"') else value


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert len({c[0] for c in CASES}) == len(CASES)


def test_all_errors_are_reported_at_once(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(
        j(cluster(name=3, ec2__instances__core__count="x", ec2__location={}))
    )
    (tmp_path / "p.json").write_text(
        j(playbook({"type": "CUSTOM_JAR", "name": "s", "actionOnFailure": "NOPE", "jar": "x"}))
    )
    result = cli(
        "validate", "--emr-config", f"{tmp_path}/c.json", "--emr-playbook", f"{tmp_path}/p.json"
    )
    assert result.code == 1
    messages = [_message(line) for line in result.err_lines]
    assert len(messages) == 3, messages
    assert any("$.data.name" in m for m in messages)
    assert any("$.data.ec2.instances.core.count" in m for m in messages)
    assert any("actionOnFailure" in m for m in messages)


def test_validate_summary(cli: Any, tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(OK_C)
    (tmp_path / "p.json").write_text(j(native(cmd("a"), cmd("b"), cmd("c", dependsOn=["a"]))))
    result = cli(
        "validate", "--emr-config", f"{tmp_path}/c.json", "--emr-playbook", f"{tmp_path}/p.json"
    )
    assert result.code == 0, result.err
    assert result.out.strip() == "valid: cluster 'c' (emr); playbook 'p' (3 steps, DAG)"
