"""The supervisor of a run's local steps: the parent of their processes, so that
their outcome is known even when the runner is not there to see it.

A step outlives its runner (it runs in its own session): if the runner is
killed, only the parent of the step's process can learn its exit status, and
the runner is that parent no more. So the runner does not start steps itself:
it asks this small process, which it starts once per run, in its own session,
deaf to the signals a terminal sends. The supervisor starts each step, writes
when it started and how it ended to the run's journal (``steps.journal`` in the
run's directory, one JSON line per event, appended), and tells the runner over
a socket. When the runner goes away it keeps going until its last step has
ended, and then ends; a resumed run reads the journal: a step that ended while
its runner was dead is recorded with its real outcome, one still running is
followed to its end, and only one that never started runs again.

Run as ``python -m dataflow_runner.fabrics.local.supervisor FD JOURNAL WORKDIR``
(``FD``: its end of a ``SOCK_SEQPACKET`` socket pair). Messages are JSON:

* runner → supervisor: ``{"op": "env", "env": {...}}`` (what every step's
  environment starts from), ``{"op": "start", "key", "argv", "env", "stdout",
  "stderr"}``, ``{"op": "signal", "key", "signal"}``, ``{"op": "exit"}`` (kill
  what runs, then end);
* supervisor → runner: ``{"ended": key, "code", "at"}`` (``code`` as
  ``subprocess`` gives it: negative for a signal), ``{"failed": key, "error",
  "at"}`` (it could not be started: the system's reason). A start is only
  journaled.

Neither the journal nor the messages hold a command line or an environment: they
may hold secrets.

It imports only the standard library's lightest modules: it starts with every run.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any, TextIO

#: The journal of a run's local steps, in the run's directory.
JOURNAL_NAME = "steps.journal"
#: The largest message either side sends (a step's command line and environment).
MAX_MESSAGE = 4 * 1024 * 1024

# Not close-on-exec: these become the step's own stdout and stderr.
_OUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW


class Supervisor:
    def __init__(self, sock: socket.socket, journal: TextIO) -> None:
        self.sock: socket.socket | None = sock
        self.journal = journal
        self.env: dict[str, str] = {}
        self.children: dict[int, tuple[str, int]] = {}  # pidfd → (key, pid)
        self.pids: dict[str, int] = {}  # key → pid, while it runs

    def record(self, event: dict[str, Any]) -> None:
        # One write of one line to a file opened for appending: never interleaved
        # with another supervisor's lines (a resumed run's) in the same journal.
        self.journal.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.journal.flush()

    def tell(self, event: dict[str, Any]) -> None:
        if self.sock is None:
            return
        try:
            self.sock.send(json.dumps(event, separators=(",", ":")).encode())
        except OSError:  # the runner is gone: the journal keeps the story
            self.sock = None

    def start(self, message: dict[str, Any]) -> None:
        key = str(message["key"])
        now = time.time()
        try:
            pid = os.posix_spawn(
                message["argv"][0],
                message["argv"],
                {**self.env, **message.get("env", {})},
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_OPEN, 1, message["stdout"], _OUT_FLAGS, 0o644),
                    (os.POSIX_SPAWN_OPEN, 2, message["stderr"], _OUT_FLAGS, 0o644),
                ],
                setsid=True,  # its own session: cancelling stops its whole group
                # What this process ignores (Python ignores SIGPIPE) the step must not.
                setsigdef=(
                    signal.SIGPIPE,
                    signal.SIGXFSZ,
                    signal.SIGINT,
                    signal.SIGTERM,
                    signal.SIGHUP,
                ),
            )
        except OSError as exc:
            # Only why, not what: the command line may hold a secret, and this
            # process knows none to mask (the runner names the program).
            error = exc.strerror or f"error {exc.errno}"
            self.record({"event": "failed", "key": key, "error": error, "at": now})
            self.tell({"failed": key, "error": error, "at": now})
            return
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (key, pid)
        self.pids[key] = pid
        # The runner is not told: it has nothing to do until the step ends (one
        # wake of its loop per step, not two); a resumed run reads the journal.
        self.record({"event": "started", "key": key, "pid": pid, "at": now})

    def reap(self, pidfd: int) -> None:
        key, pid = self.children.pop(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        # Whatever the step left behind in its group goes with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self.pids.pop(key, None)
        now = time.time()
        self.record({"event": "ended", "key": key, "code": code, "at": now})
        self.tell({"ended": key, "code": code, "at": now})

    def signal(self, key: str, signum: int) -> None:
        pid = self.pids.get(key)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signum)

    def handle(self, message: dict[str, Any]) -> bool:
        """Act on one message; False when the runner asked the supervisor to end."""
        op = message.get("op")
        if op == "env":
            self.env = dict(message["env"])
        elif op == "start":
            self.start(message)
        elif op == "signal":
            self.signal(str(message["key"]), int(message["signal"]))
        elif op == "exit":
            for key in list(self.pids):
                self.signal(key, signal.SIGKILL)
            return False
        return True

    def serve(self) -> None:
        poller = select.poll()
        watched: set[int] = set()
        running = True
        while self.sock is not None or self.children:
            wanted = set(self.children)
            if self.sock is not None and running:
                wanted.add(self.sock.fileno())
            for fd in watched - wanted:
                poller.unregister(fd)
            for fd in wanted - watched:
                poller.register(fd, select.POLLIN)
            watched = wanted
            for fd, _ in poller.poll():
                if fd in self.children:
                    self.reap(fd)
                elif self.sock is not None and fd == self.sock.fileno():
                    data = self.sock.recv(MAX_MESSAGE)
                    if not data:  # the runner is gone: finish what runs, then end
                        poller.unregister(fd)
                        watched.discard(fd)
                        self.sock.close()
                        self.sock = None
                        continue
                    if not self.handle(json.loads(data)):
                        running = False
            if not running and not self.children:
                break


def main(argv: list[str]) -> int:
    fd, journal_path, work_dir = int(argv[0]), argv[1], argv[2]
    # The runner handles Ctrl-C and SIGTERM (it cancels the steps through here); a
    # signal meant for it must not take its steps' parent away.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)
    os.chdir(work_dir)
    sock = socket.socket(fileno=fd)
    with open(journal_path, "a", encoding="utf-8") as journal:
        Supervisor(sock, journal).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
