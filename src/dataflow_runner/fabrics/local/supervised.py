"""The runner's side of a run's step supervisor (``supervisor.py``): start it, ask
it to start and signal steps, hear what became of them; and read the journal it
keeps, which is how a resumed run learns what happened while its runner was dead.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataflow_runner.fabrics.local.supervisor import JOURNAL_NAME, MAX_MESSAGE

SUPERVISOR_MODULE = "dataflow_runner.fabrics.local.supervisor"


def attempt_key(step_id: str, attempt: int) -> str:
    """How the supervisor and its journal name an attempt."""
    return f"{step_id}.{attempt}"


class SupervisorClient:
    """One run's supervisor, started at the run's first step."""

    def __init__(self, run_dir: Path, work_dir: str, env: Mapping[str, str]) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            with open(run_dir / "supervisor.log", "ab") as errors:
                self.process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        SUPERVISOR_MODULE,
                        str(theirs.fileno()),
                        str(run_dir / JOURNAL_NAME),
                        work_dir,
                    ],
                    pass_fds=(theirs.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    start_new_session=True,  # a Ctrl-C in the terminal is the runner's
                )
        finally:
            theirs.close()
        self.sock = ours  # blocking: a full buffer waits for the supervisor to read
        self.closed = False
        self.send({"op": "env", "env": dict(env)})

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any]) -> None:
        self.sock.send(json.dumps(message, separators=(",", ":")).encode())

    def start(
        self, key: str, argv: list[str], env: Mapping[str, str], stdout: str, stderr: str
    ) -> None:
        self.send(
            {
                "op": "start",
                "key": key,
                "argv": argv,
                "env": dict(env),
                "stdout": stdout,
                "stderr": stderr,
            }
        )

    def signal(self, key: str, signum: int) -> None:
        self.send({"op": "signal", "key": key, "signal": signum})

    def messages(self) -> list[dict[str, Any]]:
        """What the supervisor said since the last call (never waits)."""
        out: list[dict[str, Any]] = []
        while True:
            try:
                data = self.sock.recv(MAX_MESSAGE, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return out
            except OSError:
                data = b""
            if not data:
                self.closed = True  # the supervisor is gone
                return out
            out.append(json.loads(data))

    def close(self) -> None:
        """Ask the supervisor to stop what still runs and end."""
        with contextlib.suppress(OSError):
            self.send({"op": "exit"})
        self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@dataclass(frozen=True)
class Journaled:
    """What a run's journal says of one attempt."""

    pid: int | None = None
    started_at: float | None = None
    code: int | None = None  # its exit code once it ended
    ended_at: float | None = None
    error: str | None = None  # it could not be started

    @property
    def ended(self) -> bool:
        return self.ended_at is not None or self.error is not None


def read_journal(run_dir: Path) -> dict[str, Journaled]:
    """Every attempt the run's supervisors started, by key (a line cut short by a
    crash is ignored)."""
    found: dict[str, Journaled] = {}
    try:
        text = (run_dir / JOURNAL_NAME).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return found
    for line in text.splitlines():
        try:
            event = json.loads(line)
            key, kind, at = str(event["key"]), event["event"], float(event["at"])
        except (ValueError, KeyError, TypeError):
            continue
        seen = found.get(key, Journaled())
        if kind == "started":
            found[key] = Journaled(int(event["pid"]), at, seen.code, seen.ended_at)
        elif kind == "ended":
            found[key] = Journaled(seen.pid, seen.started_at, int(event["code"]), at)
        elif kind == "failed":
            found[key] = Journaled(None, at, None, at, str(event.get("error", "")))
    return found


#: How long a resume waits for the journal to say how a step ended that it found
#: gone: its supervisor reaps a step, then journals its end (a moment, unless the
#: machine is loaded, or the supervisor died too: then the end is never known).
END_GRACE = 10.0


def await_end(run_dir: Path, key: str, grace: float = END_GRACE) -> Journaled | None:
    """The journal's entry for ``key`` once it records an end, or None when it does
    not within ``grace`` seconds. A step seen gone whose end the journal does not
    hold yet may be a step that has just ended: its supervisor is about to say so."""
    import time

    deadline = time.monotonic() + grace
    while True:
        entry = read_journal(run_dir).get(key)
        if entry is not None and entry.ended:
            return entry
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, exited but not reaped, does not)."""
    from dataflow_runner.procs import pid_alive

    return pid_alive(pid)
