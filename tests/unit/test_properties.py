"""Property tests: whatever JSON a config holds, the answer is a result or one
clear error line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataflow_runner.config.loading import load_cluster, load_playbook
from dataflow_runner.errors import ConfigError

SCHEMAS = [
    "iglu:com.snowplowanalytics.dataflowrunner/ClusterConfig/avro/1-1-0",
    "iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-1",
    "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0",
    "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0",
]
KEYS = [
    "name",
    "steps",
    "ec2",
    "instances",
    "master",
    "core",
    "type",
    "count",
    "location",
    "vpc",
    "classic",
    "credentials",
    "accessKeyId",
    "secretAccessKey",
    "id",
    "dependsOn",
    "command",
    "retries",
    "timeoutSeconds",
    "local",
    "emr",
    "fabric",
    "jar",
    "arguments",
    "actionOnFailure",
    "tags",
    "configurations",
    "properties",
    "concurrency",
    "after",
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["CANCEL_AND_WAIT", "COMMAND", "env", "6.10.0"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=6)
    ),
    max_leaves=25,
)


def _load(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc))
    for loader in (load_cluster, load_playbook):
        try:
            loader(str(path), {})
        except ConfigError as exc:
            for line in exc.lines():
                assert "\n" not in line and "Traceback" not in line
                assert line.startswith(str(path))


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SCHEMAS), json_values)
def test_any_data_gives_a_model_or_clear_errors(tmp_path: Path, schema: str, data: Any) -> None:
    _load(tmp_path / "c.json", {"schema": schema, "data": data})


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values)
def test_any_document_gives_clear_errors(tmp_path: Path, doc: Any) -> None:
    _load(tmp_path / "c.json", doc)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_gives_clear_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "c.json"
    path.write_text(text)
    for loader in (load_cluster, load_playbook):
        try:
            loader(str(path), {})
        except ConfigError as exc:
            assert all("\n" not in line for line in exc.lines())  # noqa: PT017
