"""The local fabric: each step is a process (group) on this machine.

Processes write straight to per-attempt log files (no pipes to drain), and
each one gets its own session, so cancelling or timing out a step stops its
whole process group, grandchildren included. The engine waits on pidfds, so
a finished step is noticed at once, without polling.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataflow_runner.config.model import ClusterConfig, Playbook
from dataflow_runner.diagnosis import diagnose_files
from dataflow_runner.errors import ConfigError, ConfigErrors
from dataflow_runner.fabrics.base import (
    ClusterRef,
    ClusterStatus,
    FailureCause,
    StepRef,
    StepStatus,
    Submission,
)
from dataflow_runner.fabrics.local import commands
from dataflow_runner.procs import prefer_prompt_wakeups
from dataflow_runner.store.records import ClusterState, StepState

# How long a cancelled step gets to exit on SIGTERM before SIGKILL.
KILL_GRACE_SECONDS = 5.0
# Set in every step's environment: which run and step a process belongs to.
RUN_ID_VAR, STEP_ID_VAR = "DATAFLOW_RUNNER_RUN_ID", "DATAFLOW_RUNNER_STEP_ID"


@dataclass
class _Proc:
    ref: StepRef
    popen: subprocess.Popen[bytes] | None  # None when the step could not start
    pidfd: int | None
    started_at: float
    error: str | None = None  # why it could not start
    term_at: float | None = None  # SIGTERM sent
    killed: bool = False


def kill_leftover(pid: int | None, run_id: str, step_id: str) -> bool:
    """Kill the process group of a step whose runner died, if it still runs.

    The process must carry the step's own environment (DATAFLOW_RUNNER_RUN_ID
    and DATAFLOW_RUNNER_STEP_ID), so an unrelated process that reused the pid
    is never touched; if the leader is gone and no process has its pid, what
    is left in its group can only be the step's.
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


def _environ(pid: int | str) -> list[bytes]:
    """The environment a process started with (``VAR=value`` items); OSError when it
    is gone, another user's, or there is no ``/proc``."""
    with open(f"/proc/{pid}/environ", "rb") as fh:
        return fh.read().split(b"\0")


def stop_unrecorded(run_id: str, step_ids: Sequence[str]) -> list[str]:
    """Kill what still runs of ``step_ids`` of a run whose runner died, found by the
    environment every step's processes carry; the ids of the steps it stopped.

    The runner records a step's process once it has started it (with the other
    transitions of that wake of its loop): one that died in between left a
    process the store does not know. Linux only (``/proc``); elsewhere nothing.
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


def log_prefix(state_dir: Path | str, run_id: str, step_id: str, attempt: int) -> str:
    """An attempt's logs are ``<prefix>.stdout.log`` and ``<prefix>.stderr.log``
    (flat in the run's directory: no directory to create per attempt)."""
    return f"{state_dir}/runs/{run_id}/{step_id}.{attempt}"


def log_files(prefix: str | Path) -> tuple[Path, Path]:
    """(stdout, stderr) of an attempt."""
    return Path(f"{prefix}.stdout.log"), Path(f"{prefix}.stderr.log")


class LocalFabric:
    """Runs steps as local processes (in-process engine: ``run-transient``, and
    the agent of a local cluster)."""

    name = "local"
    orders_steps = False
    submits_running = True
    groups_commits = True

    def __init__(
        self, settings: commands.LocalSettings, state_dir: Path, *, cluster_id: str = "local"
    ) -> None:
        self.settings = settings
        self.state_dir = state_dir
        self.cluster_id = cluster_id
        self._procs: dict[tuple[str, str], _Proc] = {}
        self._run_dirs: set[str] = set()
        self._work_dir = str(settings.work_dir)
        self._devnull = -1  # opened once, at the first step (steps read nothing)
        self._programs: dict[str, str] = {}

    # --- planning ----------------------------------------------------------------

    def validate(self, cluster: ClusterConfig, playbook: Playbook) -> None:
        errors = self.settings.problems()
        for i, step in enumerate(playbook.steps):
            for problem in commands.check(step, self.settings):
                errors.append(
                    ConfigError(
                        f"cannot run on the local fabric: {problem}", path=f"$.data.steps[{i}]"
                    )
                )
        if errors:
            raise errors[0] if len(errors) == 1 else ConfigErrors(errors)

    def plan(self, cluster: ClusterConfig, playbook: Playbook) -> dict[str, Any]:
        return {
            "fabric": "local",
            "concurrency": min(
                self.settings.concurrency, playbook.concurrency or self.settings.concurrency
            ),
            "workDir": str(self.settings.work_dir),
            "steps": [
                {
                    "id": s.id,
                    "name": s.name,
                    "after": list(s.upstream),
                    "command": _safe_argv(s, self.settings),
                }
                for s in playbook.steps
            ],
        }

    # --- cluster -------------------------------------------------------------------

    def launch(
        self,
        cluster: ClusterConfig,
        *,
        run_id: str,
        keep_alive: bool,
        submissions: Sequence[Submission] = (),
    ) -> tuple[ClusterRef, list[StepRef]]:
        prefer_prompt_wakeups()  # this thread starts and reaps the steps
        ref = ClusterRef(self.cluster_id, "local")
        return ref, self.submit(ref, submissions) if submissions else []

    def cluster_status(self, ref: ClusterRef) -> ClusterStatus:
        return ClusterStatus(ClusterState.RUNNING if self._procs else ClusterState.WAITING)

    def terminate(self, ref: ClusterRef) -> None:
        for proc in self._procs.values():
            self._signal(proc, signal.SIGKILL)

    # --- steps ---------------------------------------------------------------------

    def submit(self, ref: ClusterRef, submissions: Sequence[Submission]) -> list[StepRef]:
        return [self._start(sub) for sub in submissions]

    def _start(self, sub: Submission) -> StepRef:
        step = sub.step
        prefix = log_prefix(self.state_dir, sub.run_id, step.id, sub.attempt)
        if sub.run_id not in self._run_dirs:
            Path(prefix).parent.mkdir(parents=True, exist_ok=True)
            self._run_dirs.add(sub.run_id)
        now = time.time()
        own = {
            RUN_ID_VAR: sub.run_id,
            STEP_ID_VAR: step.id,
            "DATAFLOW_RUNNER_ATTEMPT": str(sub.attempt),
        }
        env: dict[str, str] | None
        if step.env or self.settings.env:
            env = {**os.environ, **self.settings.env, **step.env, **own}
        else:
            # The common case, made cheap: the child inherits this process's
            # environment as is (no copy to encode for every step).
            os.environ.update(own)
            env = None
        popen: subprocess.Popen[bytes] | None = None
        error = None
        argv: list[str] = []
        if self._devnull < 0:
            self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        out = os.open(f"{prefix}.stdout.log", flags, 0o644)
        err = os.open(f"{prefix}.stderr.log", flags, 0o644)
        try:
            argv = commands.argv(step, self.settings)
            if env is None:
                argv = [self._resolve(argv[0]), *argv[1:]]
            popen = subprocess.Popen(
                argv,
                stdin=self._devnull,
                stdout=out,
                stderr=err,
                cwd=self._work_dir,
                env=env,
                start_new_session=True,
            )
        except commands.StepCommandError as exc:
            error = str(exc)
        except OSError as exc:
            error = f"cannot start {argv[0]!r}: {exc.strerror or exc}"
        if error:
            os.write(err, f"dataflow-runner: {error}\n".encode())
        os.close(out)
        os.close(err)
        pidfd = None
        if popen is not None:
            with contextlib.suppress(OSError, AttributeError):
                pidfd = os.pidfd_open(popen.pid)
        ref = StepRef(
            sub.run_id,
            step.id,
            sub.attempt,
            fabric_id=str(popen.pid) if popen else "-",
            data={
                "pid": popen.pid if popen else None,
                "logs": str(prefix),
            },
        )
        self._procs[ref.key] = _Proc(ref, popen, pidfd, now, error)
        return ref

    def _resolve(self, program: str) -> str:
        """The program's path on PATH, looked up once: otherwise every spawn tries
        each PATH directory in turn, and the runner waits for the child's exec."""
        if "/" in program:
            return program
        found = self._programs.get(program)
        if found is None:
            found = shutil.which(program) or program
            self._programs[program] = found
        return found

    def poll(self, ref: ClusterRef, steps: Sequence[StepRef]) -> dict[tuple[str, str], StepStatus]:
        out: dict[tuple[str, str], StepStatus] = {}
        now = time.time()
        for step in steps:
            proc = self._procs.get(step.key)
            if proc is None:
                continue
            if proc.popen is None:
                out[step.key] = self._done(
                    proc,
                    StepStatus(
                        StepState.FAILED,
                        exit_code=None,
                        reason=proc.error,
                        started_at=proc.started_at,
                        ended_at=now,
                    ),
                )
                continue
            code = proc.popen.poll()
            if code is None:
                if proc.term_at and not proc.killed and now - proc.term_at >= KILL_GRACE_SECONDS:
                    self._signal(proc, signal.SIGKILL)
                out[step.key] = StepStatus(StepState.RUNNING, started_at=proc.started_at)
                continue
            # The leader exited: whatever it left behind in its group goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.popen.pid, signal.SIGKILL)
            if code == 0:
                status = StepStatus(StepState.COMPLETED, 0, None, proc.started_at, now)
            elif code < 0:
                name = signal.Signals(-code).name
                status = StepStatus(
                    StepState.FAILED, code, f"killed by {name}", proc.started_at, now
                )
            else:
                status = StepStatus(
                    StepState.FAILED, code, f"exit code {code}", proc.started_at, now
                )
            out[step.key] = self._done(proc, status)
        return out

    def _done(self, proc: _Proc, status: StepStatus) -> StepStatus:
        if proc.pidfd is not None:
            os.close(proc.pidfd)
            proc.pidfd = None
        del self._procs[proc.ref.key]
        return status

    def cancel(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        for step in steps:
            proc = self._procs.get(step.key)
            if proc is not None and proc.term_at is None:
                proc.term_at = time.time()
                self._signal(proc, signal.SIGTERM)

    def _signal(self, proc: _Proc, sig: signal.Signals) -> None:
        if proc.popen is None or proc.popen.returncode is not None:
            return
        if sig is signal.SIGKILL:
            proc.killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.popen.pid, sig)

    def wait_handles(self) -> Sequence[int]:
        return [p.pidfd for p in self._procs.values() if p.pidfd is not None]

    def next_timer(self) -> float | None:
        now = time.time()
        times = [
            p.term_at + KILL_GRACE_SECONDS
            for p in self._procs.values()
            if p.term_at is not None and not p.killed
        ]
        # Without pidfds (not Linux), or for steps that never started, poll soon.
        if any(p.pidfd is None for p in self._procs.values()):
            times.append(now + 0.05)
        return min(times) if times else None

    def diagnose(self, ref: ClusterRef, step: StepRef) -> FailureCause | None:
        stdout_path, stderr_path = log_files(str(step.data.get("logs", "")))
        return diagnose_files(stderr_path, stdout_path)

    def close(self) -> None:
        self.terminate(ClusterRef(self.cluster_id, "local"))
        for proc in list(self._procs.values()):
            if proc.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5)
            if proc.pidfd is not None:
                os.close(proc.pidfd)
        self._procs.clear()
        if self._devnull >= 0:
            os.close(self._devnull)
            self._devnull = -1


def _safe_argv(step: Any, settings: commands.LocalSettings) -> list[str] | str:
    try:
        return commands.argv(step, settings)
    except commands.StepCommandError as exc:
        return f"<cannot run here: {exc}>"
