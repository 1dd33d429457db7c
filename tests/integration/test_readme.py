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
