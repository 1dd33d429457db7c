"""JSON Schemas of this project's own formats, generated from the model's Structs.

The files ``cluster-config-1-0-0.json`` and ``playbook-1-0-0.json`` ship in the
package and in ``docs/schemas/`` (editors validate configs with them). They are
generated, never edited: ``python -m dataflow_runner.config.schemas DIR``
writes them, and a test fails when they are out of date. A cluster config's schema
holds each registered fabric's section under the fabric's name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dataflow_runner.config.uris import CLUSTER_SCHEMA, PLAYBOOK_SCHEMA, PLAYBOOK_SCHEMA_1_0_0

FILES = {
    "cluster-config-1-0-0.json": CLUSTER_SCHEMA,
    "playbook-1-0-0.json": PLAYBOOK_SCHEMA_1_0_0,
    "playbook-1-1-0.json": PLAYBOOK_SCHEMA,
}
_REF = "#/$defs/{name}"


def _tidy(schema: Any) -> Any:
    """Descriptions without the docstrings' examples (``>>>`` lines)."""
    if isinstance(schema, dict):
        out = {k: _tidy(v) for k, v in schema.items()}
        text = out.get("description")
        if isinstance(text, str) and ">>>" in text:
            out["description"] = text.split(">>>", 1)[0].strip()
        return out
    if isinstance(schema, list):
        return [_tidy(v) for v in schema]
    return schema


def _wrap(uri: str, title: str, data: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    vendor, name, fmt, version = uri.removeprefix("iglu:").split("/")
    document: dict[str, Any] = _tidy(
        {
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
    )
    return document


def _components(*types: Any) -> dict[str, Any]:
    import msgspec

    _, defs = msgspec.json.schema_components(types, ref_template=_REF)
    return dict(sorted(defs.items()))


def build() -> dict[str, dict[str, Any]]:
    """The schema documents, by file name."""
    from dataflow_runner.config.model import ClusterData, PlaybookData
    from dataflow_runner.fabrics import registry

    names = registry.names()
    sections = {name: registry.section_type(name) for name in names}
    defs = _components(ClusterData, *sections.values())
    cluster = defs.pop(ClusterData.__name__)
    cluster["properties"]["fabric"]["enum"] = list(names)
    for name, kind in sections.items():
        cluster["properties"][name] = {
            "$ref": _REF.format(name=kind.__name__),
            "description": f"The {name} fabric's settings (read when it runs on {name}).",
        }
    from dataflow_runner.config.build import ADDED_IN_1_1_0, STEP_ADDED_IN_1_1_0

    book_defs = _components(PlaybookData)
    playbook = book_defs.pop(PlaybookData.__name__)
    # 1-0-0: the same, without what 1-1-0 added.
    old_defs = json.loads(json.dumps(book_defs))
    old = json.loads(json.dumps(playbook))
    for key in ADDED_IN_1_1_0:
        old["properties"].pop(key, None)
    for key in STEP_ADDED_IN_1_1_0:
        old_defs["Step"]["properties"].pop(key, None)
    for name in ("Partitions", "Param", "WaitForInputs", "Schedule", "CatchUp", "Alerts"):
        old_defs.pop(name, None)
    return {
        "cluster-config-1-0-0.json": _wrap(CLUSTER_SCHEMA, "Cluster config", cluster, defs),
        "playbook-1-0-0.json": _wrap(PLAYBOOK_SCHEMA_1_0_0, "Playbook", old, old_defs),
        "playbook-1-1-0.json": _wrap(PLAYBOOK_SCHEMA, "Playbook", playbook, book_defs),
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=False) + "\n"


def write(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, schema in build().items():
        (directory / name).write_text(render(schema))
