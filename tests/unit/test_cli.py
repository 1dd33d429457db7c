"""The command line: fast start, help, version, Go-style flags, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner import __version__
from dataflow_runner.cli.help_text import TOP_HELP, render
from dataflow_runner.cli.main import normalize_go_flags


def test_the_fast_help_is_clicks_own() -> None:
    assert render() == TOP_HELP, "regenerate: python -m dataflow_runner.cli.help_text"


@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys; from dataflow_runner.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('click', 'pydantic', 'msgspec', 'boto3', 'botocore', 'sqlalchemy',"
        " 'rich', 'yaml', 'logging') if m in sys.modules]\nprint(heavy, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == TOP_HELP
    assert out.stderr.strip() == "[]"


def test_version() -> None:
    for flag in ("--version", "-v"):
        out = subprocess.run(
            [sys.executable, "-m", "dataflow_runner", flag],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout == f"dataflow-runner version {__version__}\n"


def test_dfr_alias_is_installed() -> None:
    exe = Path(sys.executable).parent / "dfr"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("dataflow-runner version ")


def test_go_style_flags() -> None:
    flags = frozenset({"emr-config", "vars", "async"})
    assert normalize_go_flags(
        ["up", "-emr-config", "c.json", "-vars=a,b", "-async", "-h", "-x"], flags
    ) == ["up", "--emr-config", "c.json", "--vars=a,b", "--async", "-h", "-x"]
    assert normalize_go_flags(["run", "--", "-vars"], flags) == ["run", "--", "-vars"]


def test_go_style_flags_work_end_to_end(cli: Any, tmp_path: Path) -> None:
    cluster = tmp_path / "c.json"
    cluster.write_text(
        json.dumps(
            {
                "schema": "iglu:com.snowplowanalytics.dataflowrunner/ClusterConfig/avro/1-1-0",
                "data": {
                    "name": "{{.n}}",
                    "ec2": {
                        "amiVersion": "6.10.0",
                        "location": {"vpc": {"subnetId": "s"}},
                        "instances": {"master": {"type": "m5.xlarge"}},
                    },
                },
            }
        )
    )
    result = cli("up", "-emr-config", str(cluster), "-vars", "n,x", "-dry-run")
    assert result.code == 0, result.err
    assert json.loads(result.out)["Name"] == "x"


def test_global_log_level_before_the_command(cli: Any, tmp_path: Path) -> None:
    result = cli("--log-level", "error", "validate", "--emr-config", str(tmp_path / "nope.json"))
    assert result.code == 1
    assert "cannot read the file" in result.err


def test_secrets_never_printed(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A secret from the environment or a config is masked in every output."""
    monkeypatch.setenv("DB_PASSWORD", "hunter2-very-secret")
    playbook = tmp_path / "p.json"
    playbook.write_text(
        json.dumps(
            {
                "schema": "iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-1",
                "data": {
                    "region": "eu-west-1",
                    "credentials": {
                        "accessKeyId": "AKIAEXAMPLEKEY12",
                        "secretAccessKey": "wJal/Secret+Key",
                    },
                    "steps": [
                        {
                            "type": "CUSTOM_JAR",
                            "name": "s",
                            "actionOnFailure": "CONTINUE",
                            "jar": "command-runner.jar",
                            "arguments": ["--password", "{{ systemEnv `DB_PASSWORD` }}"],
                        }
                    ],
                },
            }
        )
    )
    result = cli(
        "run",
        "--emr-playbook",
        str(playbook),
        "--emr-cluster",
        "j-1",
        "--dry-run",
        "--log-level",
        "debug",
    )
    assert result.code == 0, result.err
    everything = result.out + result.err
    for secret in ("hunter2-very-secret", "wJal/Secret+Key", "AKIAEXAMPLEKEY12"):
        assert secret not in everything
    assert json.loads(result.out)["Steps"][0]["HadoopJarStep"]["Args"] == ["--password", "***"]


def test_internal_errors_are_one_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataflow_runner.cli import commands

    def boom(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("something unexpected")

    monkeypatch.setattr(commands, "validate", boom)
    result = cli("validate", "--emr-config", "x")
    assert result.code == 1
    assert result.err_lines == [line for line in result.err_lines if "Traceback" not in line]
    assert "internal error: RuntimeError: something unexpected" in result.err
    assert len(result.err_lines) == 1


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("Transient_cluster-1.0/ok@x^y+z", "Transient_cluster-1.0/ok@x^y+z"),
        ("", ""),  # logrus leaves an empty value bare
        ("two words", '"two words"'),
        ("key=value", '"key=value"'),
        ("café", '"café"'),
        ('say "hi"', '"say \\"hi\\""'),
    ],
)
def test_log_lines_quote_the_message_as_logrus_does(message: str, shown: str) -> None:
    import logging

    from dataflow_runner.cli.output import LogrusFormatter

    record = logging.LogRecord("dataflow_runner", logging.INFO, "", 0, message, None, None)
    line = LogrusFormatter(tty=False).format(record)
    assert line.split(" level=info ", 1)[1] == f"msg={shown}"
