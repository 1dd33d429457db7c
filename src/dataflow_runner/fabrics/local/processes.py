"""The ids every local step's environment carries, and how a process is known to
be a given step's (before a resumed run follows it): by its environment, so that
a reused pid is never taken for a step. Linux only (``/proc``); elsewhere no
process is recognised.
"""

from __future__ import annotations

#: Set in every step's environment: which run, step and attempt a process belongs to.
RUN_ID_VAR = "DATAFLOW_RUNNER_RUN_ID"
STEP_ID_VAR = "DATAFLOW_RUNNER_STEP_ID"
ATTEMPT_VAR = "DATAFLOW_RUNNER_ATTEMPT"


def _environ(pid: int | str) -> list[bytes]:
    """The environment a process started with (``VAR=value`` items); OSError when it
    is gone, another user's, or there is no ``/proc``."""
    with open(f"/proc/{pid}/environ", "rb") as fh:
        return fh.read().split(b"\0")


def ours(pid: int, run_id: str, step_id: str) -> bool:
    """Whether process ``pid`` runs step ``step_id`` of run ``run_id`` (its
    environment says so), so that a reused pid is never taken for a step."""
    try:
        environ = _environ(pid)
    except OSError:
        return False
    return (
        f"{RUN_ID_VAR}={run_id}".encode() in environ
        and f"{STEP_ID_VAR}={step_id}".encode() in environ
    )
