"""The published JSON Schemas are up to date, valid, and agree with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from dataflow_runner.config import schemas
from dataflow_runner.config.loading import load_document

ROOT = Path(__file__).resolve().parents[2]
PACKAGED = Path(schemas.__file__).parent
PUBLISHED = ROOT / "docs" / "schemas"


@pytest.mark.parametrize("name", sorted(schemas.FILES))
def test_files_are_generated_from_the_models(name: str) -> None:
    expected = schemas.render(schemas.build()[name])
    hint = "regenerate: python -m dataflow_runner.config.schemas src/.../schemas docs/schemas"
    assert (PACKAGED / name).read_text() == expected, hint
    assert (PUBLISHED / name).read_text() == expected, hint


@pytest.mark.parametrize("name", sorted(schemas.FILES))
def test_schemas_are_valid_json_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads((PACKAGED / name).read_text()))


def _schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((PACKAGED / name).read_text())
    return loaded


def test_the_example_validates() -> None:
    example = ROOT / "examples" / "daily-events"
    jsonschema.validate(
        load_document(str(example / "cluster.yaml"), {}), _schema("cluster-config-1-0-0.json")
    )
    for spark in ("on", "off"):
        jsonschema.validate(
            load_document(str(example / "playbook.yaml"), {"spark": spark}),
            _schema("playbook-1-0-0.json"),
        )


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        (
            {
                "name": "p",
                "steps": [{"id": "a", "type": "COMMAND", "command": ["true"], "retries": 2}],
            },
            True,
        ),
        (
            {
                "name": "p",
                "steps": [
                    {
                        "id": "a",
                        "type": "COMMAND",
                        "command": ["true"],
                        "retries": {"count": 2, "delaySeconds": 1},
                    }
                ],
            },
            True,
        ),
        ({"name": "p", "steps": [{"id": "a", "type": "SHELL"}]}, False),
        ({"name": "p", "steps": [{"id": "a", "dependson": ["b"]}]}, False),
        ({"name": "p", "concurrency": 0, "steps": []}, False),
        (
            {
                "name": "p",
                "partitions": {"every": "day", "start": "2026-11-01"},
                "params": {"n": {"type": "int", "default": 3}},
                "steps": [
                    {
                        "id": "a",
                        "type": "COMMAND",
                        "command": ["true"],
                        "inputs": ["s3a://b/in/day/"],
                        "outputs": ["out/day.txt"],
                        "dependsOnPast": True,
                        "waitForInputs": {"timeoutSeconds": 60, "pokeSeconds": 5},
                    }
                ],
            },
            True,
        ),
        ({"name": "p", "partitions": {"every": "fortnight", "start": "2026-11-01"}}, False),
        ({"name": "p", "params": {"n": {"type": "float"}}}, False),
        (
            {"name": "p", "steps": [{"id": "a", "waitForInputs": {"pokeSeconds": 0}}]},
            False,
        ),
    ],
)
def test_schema_and_loader_agree(tmp_path: Path, document: dict[str, object], valid: bool) -> None:
    from dataflow_runner.config.loading import PLAYBOOK_SCHEMA, load_playbook
    from dataflow_runner.errors import ConfigError

    doc = {"schema": PLAYBOOK_SCHEMA, "data": document}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    schema_ok = jsonschema.Draft202012Validator(_schema("playbook-1-1-0.json")).is_valid(doc)
    try:
        load_playbook(str(path), {})
        loader_ok = True
    except ConfigError:
        loader_ok = False
    assert schema_ok == loader_ok == valid
