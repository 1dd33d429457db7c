"""Where the steps that run on this machine write their output: two files per
attempt in the run's directory of the state directory,
``<state>/runs/<run>/<step>.<attempt>.stdout.log`` and ``....stderr.log``.

An attempt's ``log_location`` in the store is that prefix (a path), or a URI
where a remote fabric keeps its logs (``s3://...``). Run and step ids are
checked at validation to be safe file names; the files are still opened
without following a symbolic link, and a prefix must stay inside its run's
directory.

>>> prefix(Path("/state"), "r-1", "load", 2)
'/state/runs/r-1/load.2'
>>> [p.name for p in files("/state/runs/r-1/load.2")]
['load.2.stdout.log', 'load.2.stderr.log']
"""

from __future__ import annotations

import os
from pathlib import Path

STREAMS = ("stdout", "stderr")


def run_dir(state_dir: Path | str, run_id: str) -> Path:
    return Path(state_dir) / "runs" / run_id


def prefix(state_dir: Path | str, run_id: str, step_id: str, attempt: int) -> str:
    """The files of an attempt are ``<prefix>.stdout.log`` and ``<prefix>.stderr.log``
    (flat in the run's directory: no directory to create per attempt)."""
    name = f"{step_id}.{attempt}"
    if "/" in name or "\0" in name or step_id.startswith("."):
        raise ValueError(f"not a safe file name: {name!r}")
    return f"{state_dir}/runs/{run_id}/{name}"  # a string: one per step, no Path needed


def files(location: str | Path) -> tuple[Path, Path]:
    """(stdout, stderr) of an attempt whose logs are local files."""
    stdout, stderr = names(location)
    return Path(stdout), Path(stderr)


def names(location: str | Path) -> tuple[str, str]:
    """:func:`files`, as strings."""
    return f"{location}.stdout.log", f"{location}.stderr.log"


def is_local(location: str) -> bool:
    """Whether a ``log_location`` names files on this machine (not a URI)."""
    return bool(location) and "://" not in location


def create(path: Path | str) -> int:
    """Open a log file for writing (truncated), never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    return os.open(path, flags, 0o644)
