"""The cache of validated configs (``config/cache.py``): a rerun of a config this
code has validated reads it back without pydantic; anything else is validated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.config import build, cache

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def _files(tmp_path: Path, steps: list[dict[str, Any]] | None = None, **extra: Any) -> Path:
    (tmp_path / "cluster.json").write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {"name": "t", "local": {"concurrency": 2, "workDir": str(tmp_path)}},
            }
        )
    )
    steps = steps or [
        {"id": "a", "type": "COMMAND", "command": ["sh", "-c", "echo {{.day}} >> trace.txt"]},
        {"id": "b", "type": "COMMAND", "command": ["true"], "dependsOn": ["a"]},
    ]
    (tmp_path / "playbook.json").write_text(
        json.dumps(
            {
                "schema": extra.pop("schema", NATIVE_PLAYBOOK),
                "data": {"name": "p", "steps": steps, **extra},
            }
        )
    )
    return tmp_path


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


def _entries() -> list[Path]:
    directory = Path(os.environ["DATAFLOW_RUNNER_HOME"]) / "cache" / "configs"
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def _no_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any) -> Any:
        raise AssertionError("validated again")

    for name in ("native_cluster", "native_playbook", "snowplow_playbook"):
        monkeypatch.setattr(build, name, refuse)


def test_a_rerun_reads_the_validated_configs_back(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _files(tmp_path)
    assert _run(cli, d).code == 0
    assert len(_entries()) == 2  # the cluster config and the playbook
    _no_validation(monkeypatch)
    again = _run(cli, d)
    assert again.code == 0, again.err
    assert (d / "trace.txt").read_text().split() == ["2026-12-01", "2026-12-01"]


def test_other_vars_or_an_edit_are_validated_afresh(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _files(tmp_path)
    assert _run(cli, d).code == 0
    assert _run(cli, d, day="2026-12-02").code == 0
    assert len(_entries()) == 3  # one cluster config, the playbook rendered twice
    # An edit that breaks the playbook is found, whatever was cached before.
    _files(tmp_path, [{"id": "a", "type": "COMMAND", "command": ["true"], "dependsOn": ["x"]}])
    broken = _run(cli, d)
    assert broken.code == 1
    assert "$.data.steps[0].dependsOn[0]: unknown step id 'x'" in broken.err


def test_warnings_are_shown_again_on_a_hit(cli: Any, tmp_path: Path) -> None:
    d = _files(tmp_path, schema="iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-7")
    warning = "schema version 1-0-7 is newer than the ones this tool knows (1-0-0)"
    first, second = _run(cli, d), _run(cli, d)
    assert first.code == second.code == 0
    assert warning in first.err
    assert warning in second.err


SECRET = "wJalrXUtnSECRET"
STEP_WITH_SECRET = {"id": "a", "type": "COMMAND", "command": ["true"], "env": {"DB_TOKEN": SECRET}}


@pytest.mark.parametrize(
    "extra",
    [
        {"credentials": {"accessKeyId": "AKIAEXAMPLE123", "secretAccessKey": SECRET}},
        {"steps": [STEP_WITH_SECRET]},
    ],
    ids=["static-keys", "secret-env"],
)
def test_nothing_secret_is_cached(cli: Any, tmp_path: Path, extra: dict[str, Any]) -> None:
    d = _files(tmp_path, **extra)
    assert _run(cli, d).code == 0
    entries = _entries()
    assert len(entries) == 1  # the cluster config only
    assert SECRET not in entries[0].read_text()


def test_a_cluster_config_with_a_secret_is_not_cached(cli: Any, tmp_path: Path) -> None:
    d = _files(tmp_path)
    config = json.loads((d / "cluster.json").read_text())
    config["data"]["local"]["env"] = {"API_TOKEN": SECRET}
    (d / "cluster.json").write_text(json.dumps(config))
    assert _run(cli, d).code == 0
    entries = _entries()
    assert len(entries) == 1  # the playbook only
    assert SECRET not in entries[0].read_text()
    assert '"kind": "playbook"' in entries[0].read_text()


@pytest.mark.parametrize(
    "damage",
    ['{"format": 1, "doc": ', '{"format": 1, "doc": {"steps": 3}, "notes": []}'],
    ids=["truncated", "wrong-shape"],
)
def test_a_damaged_entry_is_validated_again(cli: Any, tmp_path: Path, damage: str) -> None:
    d = _files(tmp_path)
    assert _run(cli, d).code == 0
    for entry in _entries():
        entry.write_text(damage)
    again = _run(cli, d)
    assert again.code == 0, again.err
    assert all(json.loads(e.read_text())["format"] == cache.FORMAT for e in _entries())


def test_validate_always_validates(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _files(tmp_path)
    assert _run(cli, d, day="1").code == 0  # both files cached
    built = []
    for name in ("native_cluster", "native_playbook"):
        real = getattr(build, name)
        monkeypatch.setattr(
            build, name, lambda *a, _real=real, _name=name: built.append(_name) or _real(*a)
        )
    args = ("--emr-config", str(d / "cluster.json"), "--emr-playbook", str(d / "playbook.json"))
    assert cli("validate", *args, "--vars", "day,1").code == 0
    assert built == ["native_cluster", "native_playbook"]


def test_a_run_after_validate_reads_what_validate_checked(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _files(tmp_path)
    args = ("--emr-config", str(d / "cluster.json"), "--emr-playbook", str(d / "playbook.json"))
    assert cli("validate", *args, "--vars", "day,2026-12-01").code == 0
    assert len(_entries()) == 2
    _no_validation(monkeypatch)
    dry = _run(cli, d, "--dry-run")
    assert dry.code == 0, dry.err
    assert _run(cli, d).code == 0
    assert (d / "trace.txt").read_text().split() == ["2026-12-01"]


def test_validate_fills_the_cache_of_its_state_dir(cli: Any, tmp_path: Path) -> None:
    d = _files(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    args = ("--emr-config", str(d / "cluster.json"), "--state-dir", str(elsewhere))
    assert cli("validate", *args).code == 0
    assert _entries() == []
    assert len(list((elsewhere / "cache" / "configs").glob("*.json"))) == 1


def test_validate_without_a_writable_state_dir_still_validates(cli: Any, tmp_path: Path) -> None:
    d = _files(tmp_path)
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    args = ("--emr-playbook", str(d / "playbook.json"), "--state-dir", str(blocked))
    result = cli("validate", *args, "--vars", "day,1")
    assert result.code == 0, result.err
    assert "valid: playbook 'p' (2 steps, serial)" in result.out


def test_old_entries_are_removed(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "LIMIT", 3)
    d = _files(tmp_path)
    for day in range(6):
        assert _run(cli, d, day=str(day)).code == 0
    assert len(_entries()) == 3


def test_a_rerun_does_not_import_pydantic(tmp_path: Path) -> None:
    d = _files(tmp_path)
    code = (
        "import sys\nfrom dataflow_runner.cli.main import run\n"
        f"code = run(['run-transient', '--emr-config', {str(d / 'cluster.json')!r},"
        f" '--emr-playbook', {str(d / 'playbook.json')!r}, '--vars', 'day,1'])\n"
        "print(code, 'pydantic' in sys.modules)"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert outputs == [["0", "True"], ["0", "False"]]


def test_the_cache_is_bounded_in_size(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = _files(tmp_path)
    assert _run(cli, d).code == 0
    one = max(e.stat().st_size for e in _entries())
    monkeypatch.setattr(cache, "MAX_BYTES", 3 * one)
    for day in range(5):
        assert _run(cli, d, day=str(day)).code == 0
    assert sum(e.stat().st_size for e in _entries()) <= 3 * one
    assert len(_entries()) >= 2  # the newest are kept


def test_loading_leaves_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    import gc

    from dataflow_runner.config.loading import load_playbook
    from dataflow_runner.errors import ConfigError

    (tmp_path / "bad.json").write_text('{"schema": "iglu:x/y/jsonschema/1-0-0", "data": {}}')
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        load_playbook(str(tmp_path / "bad.json"), {})
    assert gc.isenabled()
    gc.disable()
    try:
        load_playbook(str(_files(tmp_path) / "playbook.json"), {"day": "1"})
        assert not gc.isenabled()
    finally:
        gc.enable()


RICH_STEPS: list[dict[str, Any]] = [
    {"name": "Fetch", "type": "COMMAND", "command": ["true"], "env": {"REGION": "eu"}},
    {
        "id": "agg",
        "type": "SCRIPT",
        "script": "jobs/agg.sh",
        "args": ["--day", "{{.day}}"],
        "dependsOn": ["fetch"],
        "retries": {"count": 2, "delaySeconds": 0.5, "backoff": 3, "maxDelaySeconds": 9},
        "timeoutSeconds": 30,
        "actionOnFailure": "CONTINUE",
    },
    {
        "id": "spark",
        "type": "SPARK",
        "application": "jobs/totals.py",
        "class": "org.example.Totals",
        "conf": {"spark.executor.memory": "1g"},
        "pyFiles": ["lib.zip"],
        "packages": ["org.example:lib:1.0"],
        "after": ["agg"],
    },
    {"id": "jar", "type": "CUSTOM_JAR", "jar": "s3://b/x.jar", "arguments": ["a", "b"]},
]


def test_the_cached_form_reads_back_to_the_validated_playbook(cli: Any, tmp_path: Path) -> None:
    from dataflow_runner.config.loading import load_playbook
    from dataflow_runner.config.spec import Playbook, from_doc

    d = _files(tmp_path, RICH_STEPS, concurrency=3, tags=[{"key": "team", "value": "data"}])
    args = ("--emr-playbook", str(d / "playbook.json"), "--vars", "day,2026-12-01")
    assert cli("validate", *args).code == 0, "the playbook is valid"
    (entry,) = _entries()
    validated = load_playbook(str(d / "playbook.json"), {"day": "2026-12-01"})
    assert from_doc(Playbook, json.loads(entry.read_text())["doc"]) == validated
    assert validated.steps[0].id == "fetch" and validated.steps[1].retries.count == 2
