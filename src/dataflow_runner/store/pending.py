"""The ends of runs that the store could not take, kept until it can.

A runner that cannot write its store (the disk is full, the file is read-only,
the database refuses connections) stops the run's steps and exits, but cannot
record that the run ended: the run would stay RUNNING in the store. So the end
is kept outside the state directory, on whatever file system still takes a few
bytes: a small file under ``$XDG_RUNTIME_DIR/dataflow-runner/`` (a tmpfs of this
user's), else under ``$TMPDIR/dataflow-runner-<uid>/`` (``/tmp`` by default). The next engine that
writes that store records it and deletes the file (``engine/recorder.py``).

A file holds the run's id, its state (FAILED), the reason and the time: nothing
secret (the reason is the store's error, whose URL has its password masked).
Its name is a digest of the store's identity (its real path, or its masked URL)
and the run's id, so that only an engine writing that very store applies it.
The directory is this user's alone (0700, checked, never a link), since a
shared temp directory is writable by anyone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dataflow_runner.store.records import RunState

log = logging.getLogger("dataflow_runner.store")

#: More than a kept end takes (the reason is cut to fit).
MAX_BYTES = 4096
_REASON_CHARS = 1500
_SAFE_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class PendingEnd:
    """A run's end that its runner could not record."""

    run_id: str
    state: RunState
    reason: str
    at: float
    path: Path


def directories() -> list[Path]:
    """Where ends are kept, in order of preference (none depends on the state
    directory)."""
    found = []
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime):
        found.append(Path(runtime) / "dataflow-runner")
    # tempfile.gettempdir() would probe by writing files: TMPDIR, as it reads it first.
    temp = os.environ.get("TMPDIR", "")
    found.append(Path(temp if os.path.isabs(temp) else "/tmp") / f"dataflow-runner-{os.geteuid()}")
    return found


def _private(directory: Path, *, create: bool) -> bool:
    """Whether ``directory`` is a directory of this user's that nobody else can
    write (created so if asked); a link or anyone else's is refused."""
    if create:
        with contextlib.suppress(FileExistsError, FileNotFoundError, PermissionError):
            os.mkdir(directory, 0o700)
    try:
        seen = os.lstat(directory)
    except OSError:
        return False
    return stat.S_ISDIR(seen.st_mode) and seen.st_uid == os.geteuid() and seen.st_mode & 0o077 == 0


class Pending:
    """The ends kept for one store (``identity``: its real path or masked URL)."""

    def __init__(self, identity: str) -> None:
        self.identity = identity
        self._key = hashlib.sha256(identity.encode()).hexdigest()[:16]

    def _name(self, run_id: str) -> str:
        safe = _SAFE_RUN_ID.fullmatch(run_id) is not None
        return f"{self._key}-{run_id if safe else hashlib.sha256(run_id.encode()).hexdigest()}"

    def keep(self, run_id: str, state: RunState, reason: str, at: float) -> Path | None:
        """Keep a run's end; the file it is in, or None when no directory took it."""
        import secrets

        record = {"run_id": run_id, "state": state.value, "reason": reason[:_REASON_CHARS]}
        data = json.dumps({**record, "at": at}).encode()
        for directory in directories():
            if not _private(directory, create=True):
                continue
            path = directory / f"{self._name(run_id)}.json"
            temporary = directory / f".{self._key}-{secrets.token_hex(6)}.tmp"
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(temporary, flags, 0o600)
                try:
                    if os.write(fd, data) != len(data):
                        raise OSError("short write")
                finally:
                    os.close(fd)
                os.replace(temporary, path)  # whole or absent, never half-written
            except OSError as exc:
                log.debug("cannot keep the end of run %s in %s: %s", run_id, directory, exc)
                with contextlib.suppress(OSError):
                    temporary.unlink()
                continue
            return path
        return None

    def entries(self) -> Iterator[PendingEnd]:
        """The ends kept for this store; a file that is not one is deleted."""
        for directory in directories():
            if not _private(directory, create=False):
                continue
            for path in sorted(directory.glob(f"{self._key}-*.json")):
                entry = _read(path)
                if entry is None:
                    log.debug("deleting %s: not a kept run end", path)
                    self.discard(path)
                else:
                    yield entry

    def discard(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read(path: Path) -> PendingEnd | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        seen = os.fstat(fd)
        if not stat.S_ISREG(seen.st_mode) or seen.st_size > MAX_BYTES:
            return None
        record = json.loads(os.read(fd, MAX_BYTES + 1))
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)
    if not isinstance(record, dict) or set(record) != {"run_id", "state", "reason", "at"}:
        return None
    run_id, state, reason, at = record["run_id"], record["state"], record["reason"], record["at"]
    ends = (RunState.FAILED.value, RunState.CANCELLED.value)  # what a runner stopped with
    if not (isinstance(run_id, str) and isinstance(reason, str) and state in ends):
        return None
    if isinstance(at, bool) or not isinstance(at, int | float):
        return None
    return PendingEnd(run_id, RunState(state), reason, float(at), path)
