"""The processes of a dead runner's steps: found by the ids every step's
environment carries, stopped so that they never run beside the step's next
attempt. Linux only (``/proc``); elsewhere nothing is found.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence

#: Set in every step's environment: which run, step and attempt a process belongs to.
RUN_ID_VAR = "DATAFLOW_RUNNER_RUN_ID"
STEP_ID_VAR = "DATAFLOW_RUNNER_STEP_ID"
ATTEMPT_VAR = "DATAFLOW_RUNNER_ATTEMPT"


def _environ(pid: int | str) -> list[bytes]:
    """The environment a process started with (``VAR=value`` items); OSError when it
    is gone, another user's, or there is no ``/proc``."""
    with open(f"/proc/{pid}/environ", "rb") as fh:
        return fh.read().split(b"\0")


def kill_leftover(pid: int | None, run_id: str, step_id: str) -> bool:
    """Kill the process group of a step whose runner died, if it still runs.

    The process must carry the step's own ids in its environment, so an
    unrelated process that reused the pid is never touched; if the leader is
    gone and no process has its pid, what is left in its group can only be the
    step's.
    """
    if not pid:
        return False
    try:
        environ = _environ(pid)
        ours = (
            f"{RUN_ID_VAR}={run_id}".encode() in environ
            and f"{STEP_ID_VAR}={step_id}".encode() in environ
        )
    except FileNotFoundError:
        ours = True  # the leader exited; its group may linger
    except OSError:
        return False
    if not ours:
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def stop_unrecorded(run_id: str, step_ids: Sequence[str]) -> list[str]:
    """Kill what still runs of ``step_ids`` of a run whose runner died; the ids of
    the steps it stopped.

    The runner records an attempt once it has started its process: one that died
    in between left a process the store does not know.
    """
    wanted = set(step_ids)
    tag = f"{RUN_ID_VAR}={run_id}".encode()
    prefix = f"{STEP_ID_VAR}=".encode()
    ours = {os.getpid(), os.getppid()}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    stopped: set[str] = set()
    for entry in entries:
        if not entry.isdigit() or int(entry) in ours:
            continue
        try:
            environ = _environ(entry)
        except OSError:  # gone, or another user's
            continue
        if tag not in environ:
            continue
        step_id = next((v[len(prefix) :].decode() for v in environ if v.startswith(prefix)), "")
        if step_id not in wanted:
            continue
        pid = int(entry)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)  # the step's whole group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)  # and this one, had it left the group
        stopped.add(step_id)
    return sorted(stopped)
