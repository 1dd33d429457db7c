"""The README's examples run as written."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of a README section (``## Title``)."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end > 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", body, re.S)


def test_the_python_api_example_runs(tmp_path: Path) -> None:
    [code] = python_blocks("Python API")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # on_event=print showed the run's events; the history lists the run, COMPLETED.
    assert "RunStarted(" in result.stdout and "RunFinished(" in result.stdout
    assert re.search(r"^r-\S+ COMPLETED daily-events$", result.stdout, re.M), result.stdout


def blocks(section: str, language: str) -> list[str]:
    """The fenced blocks of ``language`` in a README section (``## Title``)."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(rf"```{language}\n(.*?)```", text[start:end], re.S)


def test_the_data_aware_example_runs_as_shown(tmp_path: Path) -> None:
    cluster = next(b for b in blocks("Quick start", "yaml") if b.startswith("# cluster.yaml"))
    (tmp_path / "cluster.yaml").write_text(cluster)
    [daily] = blocks("Data-aware runs", "yaml")
    (tmp_path / "daily.yaml").write_text(daily)
    (tmp_path / "in").mkdir()
    for day in ("01", "02", "03"):
        (tmp_path / "in" / f"2026-11-{day}.txt").write_text("a\nb\n")
    [console] = blocks("Data-aware runs", "console")
    commands: list[tuple[str, list[str]]] = []
    for line in console.splitlines():
        if line.startswith("$ "):
            commands.append((line[2:], []))
        else:
            commands[-1][1].append(line)
    assert len(commands) == 5
    for command, shown in commands:
        words = command.split()
        if words[0] != "dataflow-runner":
            subprocess.run(words, cwd=tmp_path, check=True)
            continue
        result = subprocess.run(
            [sys.executable, "-m", "dataflow_runner", *words[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.splitlines() == shown, command
    assert (tmp_path / "out" / "total" / "2026-11-03.txt").read_text() == "2\n"


def _loaded(path: Path, index: int) -> Any:
    from dataflow_runner.config.source import PlaybookSource
    from dataflow_runner.data.partitions import Spec

    source = PlaybookSource(str(path), {})
    partitions = source.head().partitions
    assert partitions is not None
    return source.load(Spec.of(partitions).at(index))


def test_the_python_dsl_example_is_the_yaml_example(tmp_path: Path) -> None:
    cluster = next(b for b in blocks("Quick start", "yaml") if b.startswith("# cluster.yaml"))
    (tmp_path / "cluster.yaml").write_text(cluster)
    [daily_yaml] = blocks("Data-aware runs", "yaml")
    [daily_py] = blocks("Data-aware runs", "python")
    assert daily_py.startswith("# daily.py\n")
    (tmp_path / "daily.yaml").write_text(daily_yaml)
    (tmp_path / "daily.py").write_text(daily_py)
    for index in (0, 1, 30):
        assert _loaded(tmp_path / "daily.py", index) == _loaded(tmp_path / "daily.yaml", index)
    (tmp_path / "in").mkdir()
    for day in ("01", "02", "03"):
        (tmp_path / "in" / f"2026-11-{day}.txt").write_text("a\nb\nc\n")
    [commands] = blocks("Data-aware runs", "sh")
    lines = [shlex.split(line, comments=True) for line in commands.splitlines()]
    assert [words[1] for words in lines] == ["render", "backfill"]
    for words in lines:
        result = subprocess.run(
            [sys.executable, "-m", "dataflow_runner", *words[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (words, result.stderr)
        if words[1] == "render":
            (tmp_path / "rendered.yaml").write_text(result.stdout)
            assert _loaded(tmp_path / "rendered.yaml", 2) == _loaded(tmp_path / "daily.yaml", 2)
    assert (tmp_path / "out" / "total" / "2026-11-03.txt").read_text() == "3\n"


EXAMPLE = ROOT / "examples" / "hourly-impressions"


def test_the_hourly_impressions_example_runs_as_its_readme_shows(tmp_path: Path) -> None:
    work = tmp_path / "hourly-impressions"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("data", "__pycache__"))
    text = (EXAMPLE / "README.md").read_text()
    commands: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append((line[2:], []))
            else:
                commands[-1][1].append(line)
    ran = [shlex.split(command)[0:2] for command, _ in commands]
    assert ran.count(["dataflow-runner", "backfill"]) == 4
    assert ["rm", "data/joined_2026-11-20-02.txt"] in ran
    assert ["dataflow-runner", "partitions"] in ran and ["dataflow-runner", "render"] in ran
    for command, shown in commands:
        words = shlex.split(command)
        if words[0] == "dataflow-runner":
            words = [sys.executable, "-m", "dataflow_runner", *words[1:]]
        elif words[0] == "python3":
            words = [sys.executable, *words[1:]]
        result = subprocess.run(
            words, cwd=work, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.splitlines() == shown, command
    # The last backfill ran the hour whose output was deleted, and skipped the others.
    status = subprocess.run(
        [sys.executable, "-m", "dataflow_runner", "status", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    states = {s["id"]: s["state"] for s in json.loads(status.stdout)["steps"]}
    assert {k for k, v in states.items() if v == "COMPLETED"} == {
        "join@2026-11-20T02",
        "count@2026-11-20T02",
    }
    assert sorted(v for v in states.values() if v != "COMPLETED") == ["SKIPPED"] * 8
    joined = (work / "data" / "joined_2026-11-20-02.txt").read_text().splitlines()
    impressions = (work / "data" / "impressions_2026-11-20-02.txt").read_text().splitlines()
    assert len(joined) == len(impressions) == 70
