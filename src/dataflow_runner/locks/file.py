"""A lock that is a file: created atomically with O_CREAT|O_EXCL.

The file outlives the process (a hard lock must survive a failed run, as in
the Go tool). Its first line is the holder's pid, as the Go tool wrote it;
the second a JSON record of who holds it (pid, host, run id, time).
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from dataflow_runner.errors import DataflowRunnerError, LockHeldError


class FileLock:
    def __init__(self, name: str) -> None:
        self.name = os.path.abspath(name)

    def acquire(self, owner: dict[str, Any]) -> None:
        from dataflow_runner.locks import describe_holder

        payload = f"{owner.get('pid', '')}\n{json.dumps(owner)}\n".encode()
        try:
            fd = os.open(self.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise LockHeldError(
                f"lock already held at {self.name}{describe_holder(self.holder())}"
            ) from None
        except OSError as exc:
            raise DataflowRunnerError(
                f"lock cannot be created at {self.name}: {exc.strerror}"
            ) from None
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    def release(self, *, force: bool = False) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name)

    def keep(self) -> None:
        """A lock file outlives its process by itself."""

    def holder(self) -> dict[str, Any] | None:
        try:
            with open(self.name, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            return None
        lines = text.splitlines()
        if len(lines) > 1:
            with contextlib.suppress(ValueError):
                info = json.loads(lines[1])
                if isinstance(info, dict):
                    return info
        # Written by the Go tool: just a pid.
        first = lines[0].strip() if lines else ""
        return {"pid": int(first)} if first.isdigit() else {}
