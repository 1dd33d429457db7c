"""The one config model (``config/model.py``): its JSON form reads back to equal,
immutable objects, and keeps the names that are stored and sent to local agents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from dataflow_runner.config.loading import load_cluster, load_playbook
from dataflow_runner.config.model import (
    ClusterConfig,
    Credentials,
    Playbook,
    RetryPolicy,
    Step,
    StepType,
    Tag,
    from_doc,
    to_doc,
)
from dataflow_runner.fabrics.local.config import LocalSection, LocalSpark

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "daily-events"

EVERY_STEP_TYPE = Playbook(
    name="all",
    description="one step of each type",
    region="eu-west-1",
    credentials=Credentials("env", "env"),
    concurrency=3,
    tags=(Tag("team", "data"),),
    schema_uri="iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0",
    steps=(
        Step(
            id="fetch",
            name="Fetch",
            type=StepType.COMMAND,
            command=("curl", "-o", "x"),
            env={"REGION": "eu"},
            retries=RetryPolicy(count=2, delay_seconds=0.5, backoff=3, max_delay_seconds=9),
            timeout_seconds=30,
        ),
        Step(
            id="agg",
            name="Aggregate",
            type=StepType.SCRIPT,
            script="jobs/agg.sh",
            args=("--day", "1"),
            depends_on=("fetch",),
            action_on_failure="CONTINUE",
        ),
        Step(
            id="spark",
            name="Totals",
            type=StepType.SPARK,
            application="jobs/totals.py",
            main_class="org.example.Totals",
            conf={"spark.executor.memory": "1g"},
            py_files=("lib.zip",),
            packages=("org.example:lib:1.0",),
            after=("fetch",),
        ),
        Step(id="jar", name="Jar", jar="s3://b/x.jar", arguments=("a", "b"), after=("spark",)),
    ),
)


@pytest.mark.parametrize("exclude_defaults", [False, True])
def test_a_playbook_with_every_step_type_reads_back(exclude_defaults: bool) -> None:
    doc = to_doc(EVERY_STEP_TYPE, exclude_defaults=exclude_defaults)
    again = from_doc(Playbook, json.loads(json.dumps(doc)))  # as stored, or sent
    assert again == EVERY_STEP_TYPE
    assert isinstance(again.steps, tuple)
    assert {s.type for s in again.steps} == set(StepType)
    assert isinstance(again.steps[0].type, StepType)
    assert isinstance(again.steps[0].retries, RetryPolicy)


def test_the_json_form_keeps_the_files_names() -> None:
    assert to_doc(Step()) == {
        "id": "",
        "name": "",
        "type": "CUSTOM_JAR",
        "actionOnFailure": "CANCEL_AND_WAIT",
        "dependsOn": [],
        "after": [],
        "retries": {"count": 0, "delaySeconds": 5.0, "backoff": 2.0, "maxDelaySeconds": 300.0},
        "timeoutSeconds": None,
        "env": {},
        "jar": "",
        "arguments": [],
        "command": [],
        "script": "",
        "args": [],
        "application": "",
        "class": "",
        "conf": {},
        "pyFiles": [],
        "packages": [],
        "inputs": [],
        "outputs": [],
        "successMarker": True,
        "dependsOnPast": False,
        "waitForInputs": None,
    }
    step = EVERY_STEP_TYPE.steps[2]
    assert to_doc(step, exclude_defaults=True) == {
        "id": "spark",
        "name": "Totals",
        "type": "SPARK",
        "after": ["fetch"],
        "application": "jobs/totals.py",
        "class": "org.example.Totals",
        "conf": {"spark.executor.memory": "1g"},
        "pyFiles": ["lib.zip"],
        "packages": ["org.example:lib:1.0"],
    }


def test_a_cluster_config_reads_back_with_its_sections() -> None:
    config = load_cluster(str(EXAMPLE / "cluster.yaml"), {})
    assert isinstance(config.section("local"), LocalSection)
    assert config.section("emr") is None
    assert config.base_dir == str(EXAMPLE.resolve())
    doc = to_doc(config)
    assert doc["local"]["spark"]["master"] == "local[2]"
    assert from_doc(ClusterConfig, json.loads(json.dumps(doc))) == config
    assert from_doc(ClusterConfig, to_doc(config, exclude_defaults=True)) == config


def test_an_emr_section_reads_back(compat: Path) -> None:
    config = load_cluster(str(compat / "samples" / "cluster.json"), {})
    assert config.fabric == "emr"
    emr: Any = config.section("emr")
    assert emr is not None and emr.ec2.instances.master.type
    assert from_doc(ClusterConfig, json.loads(json.dumps(to_doc(config)))) == config


def test_a_stored_form_of_before_reads() -> None:
    # What the store and local agents' spec files held before the one model.
    old = {
        "name": "x",
        "fabric": "local",
        "schemaUri": "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0",
        "local": {
            "concurrency": 2,
            "workDir": ".",
            "env": {},
            "pathMappings": {},
            "spark": {"master": "local[*]", "conf": {}},
        },
    }
    config = from_doc(ClusterConfig, old)
    assert config.section("local") == LocalSection(concurrency=2, spark=LocalSpark())
    assert config.schema_uri == old["schemaUri"]


def test_equality_and_immutability() -> None:
    book = load_playbook(str(EXAMPLE / "playbook.yaml"), {"spark": "on"})
    assert book == load_playbook(str(EXAMPLE / "playbook.yaml"), {"spark": "on"})
    assert book != load_playbook(str(EXAMPLE / "playbook.yaml"), {"spark": "off"})
    with pytest.raises(AttributeError):
        book.name = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        book.steps[0].retries.count = 5  # type: ignore[misc]
    changed = msgspec.structs.replace(book.steps[0], name="renamed")
    assert changed != book.steps[0] and book.steps[0].name != "renamed"


def test_retries_count_is_short_for_a_policy() -> None:
    assert Step(id="a", retries=2) == Step(id="a", retries=RetryPolicy(count=2))
    assert from_doc(Step, {"id": "a", "retries": 2}).retries == RetryPolicy(count=2)
    assert RetryPolicy(count=3, delay_seconds=2, backoff=2, max_delay_seconds=5).delay(4) == 5


def test_the_playbook_reads_its_shape() -> None:
    assert EVERY_STEP_TYPE.is_serial is False
    assert EVERY_STEP_TYPE.step("spark").upstream == ("fetch",)
    with pytest.raises(KeyError):
        EVERY_STEP_TYPE.step("nope")
    serial = Playbook(steps=(Step(id="a"), Step(id="b", after=("a",))))
    assert serial.is_serial


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
def test_credential_modes(pair: tuple[str, str], mode: str) -> None:
    a, s = pair
    assert Credentials(a, s).mode == mode
    assert "s3cr3t" not in repr(Credentials(a, s))
    assert "s3cr3t" not in repr(Playbook(credentials=Credentials(a, s)))
