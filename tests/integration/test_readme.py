"""The README's examples run as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

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
