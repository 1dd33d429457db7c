"""Processes: is one alive (a zombie is not: it has exited, nobody reaped it yet)."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True when ``pid`` names a running (not zombie) process of this host."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user's process
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(0) said it exists
