"""The plain dataclasses the tool runs on (``config/spec.py``) mirror the pydantic
models that validate the files (``config/models.py``), and their JSON form is the
one the models would write."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from dataflow_runner.config import models, spec
from dataflow_runner.config.loading import load_document, load_playbook

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "daily-events"

PAIRS: list[tuple[type[BaseModel], type, dict[str, Any]]] = [
    (models.Step, spec.Step, {}),
    (models.RetryPolicy, spec.RetryPolicy, {}),
    (models.Credentials, spec.Credentials, {}),
    (models.Tag, spec.Tag, {"key": "team"}),
    (models.LocalSpark, spec.LocalSpark, {}),
    (models.LocalCluster, spec.LocalCluster, {}),
]


@pytest.mark.parametrize(("model", "dataclass", "required"), PAIRS)
def test_the_dataclasses_mirror_the_models(
    model: type[BaseModel], dataclass: type, required: dict[str, Any]
) -> None:
    fields = [f.name for f in dataclasses.fields(dataclass)]
    assert fields == list(model.model_fields)
    # Same names in files, same defaults.
    assert spec.to_doc(dataclass(**required)) == model.model_validate(required).model_dump(
        mode="json", by_alias=True
    )


def test_the_playbook_mirrors_the_native_format() -> None:
    ours = {f.name for f in dataclasses.fields(spec.Playbook)} - {"schema_uri"}
    assert ours == set(models.NativePlaybook.model_fields) - {"description"}


def _example_steps() -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = load_document(str(EXAMPLE / "playbook.yaml"), {"spark": "on"})[
        "data"
    ]["steps"]
    return steps


@pytest.mark.parametrize("exclude_defaults", [False, True])
def test_the_json_form_is_the_models_own(exclude_defaults: bool) -> None:
    extra = {"env": {"A": "1"}, "class": "org.Main", "timeoutSeconds": 2.5, "retries": 3}
    for raw in [*_example_steps(), {**_example_steps()[0], **extra}]:
        validated = models.Step.model_validate(raw)
        ours = spec.from_doc(spec.Step, validated.model_dump(mode="json", by_alias=True))
        expected = validated.model_dump(
            mode="json", by_alias=True, exclude_defaults=exclude_defaults
        )
        assert spec.to_doc(ours, exclude_defaults=exclude_defaults) == expected


def test_a_playbook_reads_back_from_its_json_form() -> None:
    book = load_playbook(str(EXAMPLE / "playbook.yaml"), {"spark": "on"})
    again = spec.from_doc(spec.Playbook, spec.to_doc(book))
    assert again == book
    assert isinstance(again.steps, tuple)
    assert isinstance(again.steps[0].type, spec.StepType)
    assert isinstance(again.steps[0].retries, spec.RetryPolicy)
    assert spec.from_doc(spec.Playbook, spec.to_doc(book, exclude_defaults=True)) == book


def test_a_cluster_config_reads_back_from_its_json_form() -> None:
    from dataflow_runner.config.loading import load_cluster

    config = load_cluster(str(EXAMPLE / "cluster.yaml"), {})
    assert spec.ClusterConfig.from_doc(config.to_doc()) == config


@pytest.mark.parametrize(
    ("pair", "mode"),
    [
        (("env", "env"), "env"),
        (("iam", "iam"), "iam"),
        (("default", "default"), "default"),
        (("", ""), "default"),
        (("AKIA", "s3cr3t"), "static"),
    ],
)
def test_credential_modes_agree(pair: tuple[str, str], mode: str) -> None:
    a, s = pair
    assert spec.Credentials(a, s).mode == mode
    assert models.Credentials(access_key_id=a, secret_access_key=s).mode == mode
    assert "s3cr3t" not in repr(spec.Credentials(a, s))
