"""Loading configs (``config/loading.py``): every run validates what it reads, with no
process-wide switch and no heavier import than the fabric it runs on; cluster
configs find their fabrics' sections and formats through the registry."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from msgspec import Meta, Struct

from dataflow_runner.config import model
from dataflow_runner.config.loading import load_cluster, load_playbook
from dataflow_runner.config.redact import SECRETS
from dataflow_runner.errors import ConfigError
from dataflow_runner.fabrics import registry

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"
SNOWPLOW_CLUSTER = "iglu:com.snowplowanalytics.dataflowrunner/ClusterConfig/avro/1-1-0"
SRC = Path(model.__file__).resolve().parents[1]


def _files(d: Path, steps: list[dict[str, Any]] | None = None, **extra: Any) -> Path:
    (d / "cluster.json").write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "t", "local": {"concurrency": 2, "workDir": str(d)}},
            }
        )
    )
    steps = steps or [
        {"id": "a", "type": "COMMAND", "command": ["sh", "-c", "echo {{.day}} >> trace.txt"]},
        {"id": "b", "type": "COMMAND", "command": ["true"], "dependsOn": ["a"]},
    ]
    (d / "playbook.json").write_text(
        json.dumps(
            {
                "schema": extra.pop("schema", NATIVE_PLAYBOOK),
                "data": {"name": "p", "steps": steps, **extra},
            }
        )
    )
    return d


def _run(cli: Any, d: Path, *more: str, day: str = "2026-12-01") -> Any:
    return cli(
        "run-transient",
        "--emr-config",
        str(d / "cluster.json"),
        "--emr-playbook",
        str(d / "playbook.json"),
        "--vars",
        f"day,{day}",
        *more,
    )


def test_each_run_reads_its_files_afresh(cli: Any, tmp_path: Path) -> None:
    d = _files(tmp_path)
    assert _run(cli, d).code == 0
    assert _run(cli, d, day="2026-12-02").code == 0
    assert (d / "trace.txt").read_text().split() == ["2026-12-01", "2026-12-02"]
    _files(tmp_path, [{"id": "a", "type": "COMMAND", "command": ["true"], "dependsOn": ["x"]}])
    broken = _run(cli, d)
    assert broken.code == 1
    assert "$.data.steps[0].dependsOn[0]: unknown step id 'x'" in broken.err


def test_warnings_are_shown_at_every_run(cli: Any, tmp_path: Path) -> None:
    d = _files(tmp_path, schema="iglu:dev.dataflowrunner/Playbook/jsonschema/1-2-7")
    warning = "schema version 1-2-7 is newer than the ones this tool knows (1-0-0, 1-1-0)"
    first, second = _run(cli, d), _run(cli, d)
    assert first.code == second.code == 0
    assert warning in first.err
    assert warning in second.err


def test_loading_leaves_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    import gc

    (tmp_path / "bad.json").write_text('{"schema": "iglu:x/y/jsonschema/1-0-0", "data": {}}')
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        load_playbook(str(tmp_path / "bad.json"), {})
    load_playbook(str(_files(tmp_path) / "playbook.json"), {"day": "1"})
    assert gc.isenabled()
    gc.disable()
    try:
        load_playbook(str(tmp_path / "playbook.json"), {"day": "1"})
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_local_run_imports_neither_pydantic_nor_the_emr_section(tmp_path: Path) -> None:
    d = _files(tmp_path)
    code = (
        "import sys\nfrom dataflow_runner.cli.main import run\n"
        f"code = run(['run-transient', '--emr-config', {str(d / 'cluster.json')!r},"
        f" '--emr-playbook', {str(d / 'playbook.json')!r}, '--vars', 'day,1'])\n"
        "print(code, 'pydantic' in sys.modules, 'dataflow_runner.fabrics.emr.config' in"
        " sys.modules, 'boto3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False", "False"]


def test_the_registry_imports_no_config() -> None:
    code = (
        "import sys, dataflow_runner.fabrics.registry\n"
        "print(sorted(m for m in sys.modules if m.startswith('dataflow_runner.config')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_config_package_names_no_fabric() -> None:
    names = "|".join(re.escape(n) for n in registry.names())
    quoted = re.compile(rf"""["']({names})["']""")
    found = [
        f"{path.relative_to(SRC)}:{i}: {line.strip()}"
        for path in sorted((SRC / "config").rglob("*.py"))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if quoted.search(line)
    ]
    assert found == []


# --- limits -------------------------------------------------------------------------


def test_the_size_limit_comes_from_the_environment_too(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _files(tmp_path)
    monkeypatch.setenv("DATAFLOW_RUNNER_MAX_CONFIG_SIZE", "64")
    result = cli("validate", "--emr-config", str(d / "cluster.json"))
    assert result.code == 1
    assert "the file is larger than the limit of 64 bytes" in result.err
    # The flag wins over the variable.
    again = cli("validate", "--emr-config", str(d / "cluster.json"), "--max-config-size", "4096")
    assert again.code == 0, again.err


def test_the_default_size_limit_is_16_mib(tmp_path: Path) -> None:
    big = tmp_path / "c.json"
    big.write_bytes(b" " * (16 * 1024 * 1024 + 1))
    with pytest.raises(ConfigError, match=r"larger than the limit of 16 MiB \(raise it with"):
        load_cluster(str(big), {})
    big.write_bytes(b"{}" + b" " * (16 * 1024 * 1024 - 2))
    with pytest.raises(ConfigError, match=r'expected an object with "schema"|\$\.schema'):
        load_cluster(str(big), {})


@pytest.mark.parametrize("depth", [150, 300, 450])
def test_a_config_nested_too_deeply_is_one_error(tmp_path: Path, depth: int) -> None:
    deep: dict[str, Any] = {"classification": 1}
    for _ in range(depth):
        deep = {"classification": "c", "configurations": [deep]}
    (tmp_path / "c.json").write_text(
        json.dumps(
            {"schema": NATIVE_CLUSTER, "data": {"name": "x", "emr": {"configurations": [deep]}}}
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_cluster(str(tmp_path / "c.json"), {})
    assert len(caught.value.lines()) == 1
    assert "expected a string, got 1" in str(caught.value) or "nested too deeply" in str(
        caught.value
    )


def test_a_derived_step_id_is_a_safe_file_name(tmp_path: Path) -> None:
    d = _files(tmp_path, [{"name": "x" * 300 + " and more", "type": "COMMAND", "command": ["t"]}])
    (book_step,) = load_playbook(str(d / "playbook.json"), {"day": "1"}).steps
    assert len(book_step.id) <= 128
    assert re.fullmatch(model.STEP_ID, book_step.id)


# --- fabric sections through the registry ---------------------------------------------


def test_the_local_section_may_be_left_out(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"schema": NATIVE_CLUSTER, "data": {"name": "x"}}))
    config = load_cluster(str(tmp_path / "c.json"), {})
    assert config.fabric == registry.DEFAULT
    assert config.section(registry.DEFAULT) is not None
    assert config.base_dir == str(tmp_path.resolve())


def test_a_snowplow_config_reads_as_the_go_tool_reads_it(compat: Path, tmp_path: Path) -> None:
    doc = json.loads((compat / "samples" / "cluster.json").read_text())
    doc["data"]["somethingNew"] = {"a": 1}  # ignored, as the Go tool does
    doc["data"]["ec2"]["keyName"] = None  # the zero value
    doc["data"]["credentials"] = {"accessKeyId": "AKIAEXAMPLEKEY", "secretAccessKey": "s3cr3t-key"}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    config = load_cluster(str(tmp_path / "c.json"), {})
    emr: Any = config.section("emr")
    assert emr.ec2.key_name == ""
    assert config.base_dir == str(Path.cwd())
    assert SECRETS.scrub("key s3cr3t-key") == "key ***"


def test_an_emr_section_takes_the_cluster_name(compat: Path, tmp_path: Path) -> None:
    data = json.loads((compat / "samples" / "cluster.json").read_text())["data"]
    del data["name"]
    (tmp_path / "c.json").write_text(
        json.dumps({"schema": NATIVE_CLUSTER, "data": {"name": "mine", "emr": data}})
    )
    config = load_cluster(str(tmp_path / "c.json"), {})
    emr: Any = config.section("emr")
    assert config.fabric == registry.DEFAULT
    assert emr.name == "mine"


class PlaceSection(Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """A section with a required field (a test fabric's)."""

    zone: Annotated[str, Meta(min_length=1)]


@pytest.fixture
def place() -> Iterator[str]:
    registry.register(
        registry.FabricEntry("place", driver="nowhere:Driver", section=f"{__name__}:PlaceSection")
    )
    try:
        yield "place"
    finally:
        registry.unregister("place")


def test_a_registered_fabric_has_its_section_validated(place: str, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"schema": NATIVE_CLUSTER, "data": {"name": "x", "fabric": place}}))
    with pytest.raises(ConfigError, match=r'\$\.data\.place: an "place" section is required when'):
        load_cluster(str(path), {})
    path.write_text(
        json.dumps({"schema": NATIVE_CLUSTER, "data": {"name": "x", "fabric": place, place: {}}})
    )
    with pytest.raises(ConfigError, match=r"\$\.data\.place\.zone: a value is required$"):
        load_cluster(str(path), {})
    path.write_text(
        json.dumps(
            {"schema": NATIVE_CLUSTER, "data": {"name": "x", "fabric": "gcp", place: {"zon": 1}}}
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_cluster(str(path), {})
    lines = caught.value.lines()
    assert any("expected one of 'local', 'emr' or 'place', got \"gcp\"" in line for line in lines)
    assert any("$.data.place.zon: unknown field (did you mean 'zone'?)" in line for line in lines)
    path.write_text(
        json.dumps(
            {"schema": NATIVE_CLUSTER, "data": {"name": "x", "fabric": place, place: {"zone": "z"}}}
        )
    )
    config = load_cluster(str(path), {})
    assert config.section(place) == PlaceSection(zone="z")
    assert model.from_doc(model.ClusterConfig, model.to_doc(config)) == config


def test_a_registered_fabric_is_in_the_schema(place: str) -> None:
    from dataflow_runner.config import schemas

    data = schemas.build()["cluster-config-1-0-0.json"]["properties"]["data"]
    assert data["properties"]["fabric"]["enum"] == ["local", "emr", "place"]
    assert data["properties"][place]["$ref"] == "#/$defs/PlaceSection"


def test_the_partition_reaches_time_functions_before_it_is_known(tmp_path: Path) -> None:
    # The head (partitions, params) is read before any partition is chosen: the
    # partition's variables must still be strings the time functions take.
    from dataflow_runner.config.source import PlaybookSource
    from dataflow_runner.data.partitions import Spec

    path = tmp_path / "hourly.yaml"
    path.write_text(
        "schema: iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0\n"
        "data:\n"
        "  name: h\n"
        '  partitions: {every: hour, start: "2026-11-01T00:00Z"}\n'
        "  steps:\n"
        "    - id: a\n"
        "      type: COMMAND\n"
        "      command:\n"
        "        - cp\n"
        '        - \'in/{{ formatTime (addDuration .partition "-1h") "2006/01/02/15" }}\'\n'
    )
    source = PlaybookSource(str(path), {})
    partitions = source.head().partitions
    assert partitions is not None
    book = source.load(Spec.of(partitions).at(24))
    assert book.steps[0].command == ("cp", "in/2026/11/01/23")
