"""JSON Schemas of this project's own formats, generated from the models.

The files ``cluster-config-1-0-0.json`` and ``playbook-1-0-0.json`` ship in the
package and in ``docs/schemas/`` (editors validate configs with them). They are
generated, never edited: ``python -m dataflow_runner.config.schemas DIR``
writes them, and a test fails when they are out of date.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dataflow_runner.config.loading import CLUSTER_SCHEMA, PLAYBOOK_SCHEMA

FILES = {"cluster-config-1-0-0.json": CLUSTER_SCHEMA, "playbook-1-0-0.json": PLAYBOOK_SCHEMA}


def _closed(schema: Any) -> Any:
    """Unknown fields are errors in this project's formats: say so in the schema."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [_closed(v) for v in schema]
    return schema


def _wrap(uri: str, title: str, data: dict[str, Any]) -> dict[str, Any]:
    vendor, name, fmt, version = uri.removeprefix("iglu:").split("/")
    defs = data.pop("$defs", {})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://dataflowrunner.dev/schemas/{vendor}/{name}/{fmt}/{version}",
        "title": title,
        "description": f"A self-describing {title.lower()} of Dataflow Runner ({uri}).",
        "type": "object",
        "required": ["schema", "data"],
        "properties": {"schema": {"const": uri}, "data": data},
        "additionalProperties": False,
        "$defs": defs,
    }


def build() -> dict[str, dict[str, Any]]:
    """The schema documents, by file name."""
    from dataflow_runner.config.emr_models import EmrCluster
    from dataflow_runner.config.models import NativeCluster, NativePlaybook

    ref = "#/$defs/{model}"
    cluster = NativeCluster.model_json_schema(by_alias=True, ref_template=ref)
    emr = EmrCluster.model_json_schema(by_alias=True, ref_template=ref)
    cluster.setdefault("$defs", {}).update(emr.pop("$defs", {}))
    cluster["$defs"]["EmrCluster"] = emr
    cluster["properties"]["emr"] = {
        "$ref": "#/$defs/EmrCluster",
        "description": "The EMR machines (for the emr fabric).",
    }
    playbook = NativePlaybook.model_json_schema(by_alias=True, ref_template=ref)
    # ``"retries": 2`` is short for ``{"count": 2}`` (see models.Step).
    step = playbook["$defs"]["Step"]["properties"]
    step["retries"] = {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 100},
            {"$ref": "#/$defs/RetryPolicy"},
        ],
        "description": "Attempts after a failure: a count, or a policy.",
    }
    return {
        "cluster-config-1-0-0.json": _closed(_wrap(CLUSTER_SCHEMA, "Cluster config", cluster)),
        "playbook-1-0-0.json": _closed(_wrap(PLAYBOOK_SCHEMA, "Playbook", playbook)),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in build().items():
        (directory / name).write_text(render(schema))
