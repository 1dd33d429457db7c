"""A lock that is a file: created atomically with O_CREAT|O_EXCL.

The file outlives the process (a hard lock must survive a failed run, as in
the Go tool). Its first line is the holder's pid, as the Go tool wrote it;
the second a JSON record of who holds it (pid, host, run id, time).

``unlock`` deletes a file only if it is a lock (``content.py``): a regular
file, not a link to one, small, holding what a lock holds. The file is looked
at and deleted through its directory's descriptor, and deleted only if it is
still the file that was read.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from typing import Any

from dataflow_runner.errors import DataflowRunnerError, LockHeldError
from dataflow_runner.locks.content import MAX_LOCK_BYTES, file_holder, not_a_lock

#: What a path that is not a regular file is, for the refusal.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


class FileLock:
    def __init__(self, name: str) -> None:
        self.name = os.path.abspath(name)
        self._owner: dict[str, Any] | None = None  # what this process wrote, once taken

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
        self._owner = json.loads(json.dumps(owner))  # as it reads back

    def release(self, *, force: bool = False) -> None:
        if not force and self._owner is not None and self.holder() != self._owner:
            return  # not ours any more: someone unlocked it and took it
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.name)

    def unlock(self) -> dict[str, Any]:
        """Delete the lock whoever holds it, if it is a lock (see the module's
        docstring); who held it. Anything else is refused, nothing deleted."""
        directory, base = os.path.split(self.name)
        try:
            dir_fd = os.open(directory or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise DataflowRunnerError(f"lock {self.name} is not held ({exc.strerror})") from None
        try:
            return self._unlock_in(dir_fd, base)
        finally:
            os.close(dir_fd)

    def _unlock_in(self, dir_fd: int, base: str) -> dict[str, Any]:
        try:
            seen = os.lstat(base, dir_fd=dir_fd)
        except FileNotFoundError:
            raise DataflowRunnerError(f"lock {self.name} is not held") from None
        except OSError as exc:
            raise DataflowRunnerError(f"cannot look at {self.name}: {exc.strerror}") from None
        self._check_kind(seen)
        raw = self._read(dir_fd, base, seen)
        holder = file_holder(raw)
        if holder is None:
            raise DataflowRunnerError(not_a_lock(self.name, raw))
        # Deleted only if it is still the file just read (not replaced meanwhile).
        try:
            now = os.lstat(base, dir_fd=dir_fd)
            if (now.st_dev, now.st_ino, now.st_size) != (seen.st_dev, seen.st_ino, len(raw)):
                raise DataflowRunnerError(
                    f"refusing to unlock {self.name}: it changed while it was read; try again"
                )
            os.unlink(base, dir_fd=dir_fd)
        except FileNotFoundError:
            raise DataflowRunnerError(f"lock {self.name} is not held") from None
        except OSError as exc:
            raise DataflowRunnerError(f"cannot delete {self.name}: {exc.strerror}") from None
        return holder

    def _check_kind(self, seen: os.stat_result) -> None:
        if not stat.S_ISREG(seen.st_mode):
            kind = next((k for test, k in _KINDS if test(seen.st_mode)), "not a regular file")
            # A link is never followed: what it points to may be anything.
            raise DataflowRunnerError(f"refusing to unlock {self.name}: it is {kind}, not a lock")
        if seen.st_size > MAX_LOCK_BYTES:
            raise DataflowRunnerError(
                f"refusing to unlock {self.name}: it holds {seen.st_size} bytes, more than "
                f"a lock (at most {MAX_LOCK_BYTES})"
            )

    def _read(self, dir_fd: int, base: str, seen: os.stat_result) -> bytes:
        # O_NOFOLLOW and O_NONBLOCK: a link or a FIFO put there since lstat is
        # neither followed nor waited on; then it must be the file lstat saw.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(base, flags, dir_fd=dir_fd)
        except OSError as exc:
            raise DataflowRunnerError(f"cannot read {self.name}: {exc.strerror}") from None
        try:
            opened = os.fstat(fd)
            if (opened.st_dev, opened.st_ino) != (seen.st_dev, seen.st_ino):
                raise DataflowRunnerError(
                    f"refusing to unlock {self.name}: it changed while it was read; try again"
                )
            return os.read(fd, MAX_LOCK_BYTES + 1)
        except OSError as exc:
            raise DataflowRunnerError(f"cannot read {self.name}: {exc.strerror}") from None
        finally:
            os.close(fd)

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
