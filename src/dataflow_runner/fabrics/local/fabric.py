"""The local fabric: each step is a process (group) on this machine.

Processes write straight to per-attempt log files (no pipes to drain), and
each one gets its own session, so cancelling or timing out a step stops its
whole process group, grandchildren included. The engine waits on pidfds, so
a finished step is noticed at once, without polling.

Each step's environment is built for it: the runner's own, the cluster's
``local.env``, the step's ``env`` and its ids (``DATAFLOW_RUNNER_RUN_ID``,
``..._STEP_ID``, ``..._ATTEMPT``); the runner's environment is never changed, so
runs that share a process (an engine host, a server) never see each other's ids.

A transient run owns its fabric. The runs of a local cluster (``up``) share
one: its :class:`Slots` start their steps in submission order, at most the
cluster's concurrency at once; a step waiting for a slot is PENDING, as on EMR.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dataflow_runner import logfiles
from dataflow_runner.config.model import ClusterConfig, Playbook, to_doc
from dataflow_runner.diagnosis import diagnose_files
from dataflow_runner.errors import ConfigError, ConfigErrors
from dataflow_runner.fabrics.base import (
    ClusterRef,
    ClusterStatus,
    ClusterStep,
    FailureCause,
    StepRef,
    StepStatus,
    Submission,
)
from dataflow_runner.fabrics.local import cluster as local_cluster
from dataflow_runner.fabrics.local import commands, processes
from dataflow_runner.store.records import ClusterState, StepState

#: How long a cancelled step gets to exit on SIGTERM before SIGKILL.
KILL_GRACE_SECONDS = 5.0
#: The cluster id of a transient run's in-process cluster.
TRANSIENT_ID = "local"


@dataclass
class _Proc:
    ref: StepRef
    argv: list[str] | None  # None when the step cannot be started (``error`` says why)
    env: dict[str, str]
    error: str | None = None
    popen: subprocess.Popen[bytes] | None = None  # None while it waits for a slot
    pidfd: int | None = None
    started_at: float | None = None
    term_at: float | None = None  # SIGTERM sent
    killed: bool = False
    withdrawn: bool = False  # cancelled while waiting for a slot
    holds_slot: bool = False  # one of the shared cluster's slots is this step's


class Slots:
    """The steps a shared cluster runs at once, granted in submission order.

    A step's process is started by whichever thread frees its slot; the fabric it
    belongs to is woken through its pipe so that its run's loop follows it.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._lock = threading.Lock()
        self._used = 0
        self._queue: deque[tuple[LocalFabric, _Proc]] = deque()

    @property
    def used(self) -> int:
        return self._used

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def request(self, fabric: LocalFabric, proc: _Proc) -> None:
        with self._lock:
            self._queue.append((fabric, proc))
            self._grant()

    def release(self) -> None:
        with self._lock:
            self._used -= 1
            self._grant()

    def withdraw(self, proc: _Proc) -> bool:
        """Take a step out of the queue; False when it holds a slot already."""
        with self._lock:
            for item in self._queue:
                if item[1] is proc:
                    self._queue.remove(item)
                    return True
        return False

    def _grant(self) -> None:
        while self._used < self.capacity and self._queue:
            fabric, proc = self._queue.popleft()
            self._used += 1
            proc.holds_slot = True
            fabric._launch(proc)
            fabric._wake()


class LocalFabric:
    """Runs steps as local processes (a transient run's own, or a local cluster's)."""

    name = "local"
    label = "local"
    orders_steps = False
    terminate_first = False  # steps get their grace period; the cluster costs nothing

    def __init__(
        self,
        settings: commands.LocalSettings,
        state_dir: Path,
        *,
        cluster_id: str = TRANSIENT_ID,
        slots: Slots | None = None,
        store: str | None = None,
    ) -> None:
        self.settings = settings
        self._store = store  # for the engine hosts ``up`` starts
        self._terminated = False
        self.state_dir = state_dir
        self.cluster_id = cluster_id
        self._slots = slots
        # A step in a shared cluster may wait for a slot first.
        self.submits_running = slots is None
        self._procs: dict[tuple[str, str], _Proc] = {}
        self._lock = threading.Lock()
        self._run_dirs: set[str] = set()
        self._work_dir = str(settings.work_dir)
        self._devnull = -1  # opened at the first step (steps read nothing)
        # The environment every step starts from: this process's and the cluster's.
        self._base_env = {**os.environ, **settings.env}
        self._programs: dict[str, str] = {}
        self._wake_r, self._wake_w = (-1, -1)
        if slots is not None:
            self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # --- planning ----------------------------------------------------------------

    def validate(self, cluster: ClusterConfig | None, playbook: Playbook) -> None:
        errors = self.settings.problems()
        errors += [
            ConfigError(f"cannot run on the local fabric: {problem}", path=f"$.data.steps[{i}]")
            for i, step in enumerate(playbook.steps)
            for problem in commands.check(step, self.settings)
        ]
        if errors:
            raise errors[0] if len(errors) == 1 else ConfigErrors(errors)

    def poll_interval(self, elapsed: float) -> float:
        # pidfds wake the engine when a step ends: polls are only a safety net.
        return 5.0 if self._slots is not None else 1.0

    # --- cluster -------------------------------------------------------------------

    def launch(
        self,
        cluster: ClusterConfig,
        *,
        run_id: str,
        keep_alive: bool,
        transient: bool = True,
        submissions: Sequence[Submission] = (),
    ) -> tuple[ClusterRef, list[StepRef]]:
        if not transient:  # ``up``: a cluster of its own, hosted by an engine host
            return local_cluster.spawn(to_doc(cluster), self.state_dir, self._store), []
        # A transient run's cluster is this fabric, in the runner's process.
        ref = ClusterRef(self.cluster_id, self.name, {"ephemeral": True})
        return ref, self.submit(ref, submissions) if submissions else []

    def cluster_status(self, ref: ClusterRef) -> ClusterStatus:
        if not ref.data.get("ephemeral") and ref.id != self.cluster_id:
            return local_cluster.status(self.state_dir, ref.id)
        if self._terminated:
            return ClusterStatus(ClusterState.TERMINATED)
        return ClusterStatus(ClusterState.RUNNING if self._procs else ClusterState.WAITING)

    def terminate(self, ref: ClusterRef) -> None:
        if not ref.data.get("ephemeral") and ref.id != self.cluster_id:
            local_cluster.terminate(self.state_dir, ref.id)
            return
        self.kill(ref, [p.ref for p in list(self._procs.values())])
        self._terminated = True

    def find_cluster(
        self, cluster_id: str | None, name: str, run_id: str, since: float
    ) -> ClusterRef | None:
        return None  # a transient run's cluster lived in its runner's process

    def set_concurrency(self, ref: ClusterRef, level: int) -> None:
        """The scheduler keeps a run within its concurrency; a shared cluster's
        slots keep all runs within the cluster's."""

    # --- steps ---------------------------------------------------------------------

    def submit(self, ref: ClusterRef, submissions: Sequence[Submission]) -> list[StepRef]:
        refs = []
        for sub in submissions:
            proc = self._prepare(sub)
            with self._lock:
                self._procs[proc.ref.key] = proc
            if self._slots is None or proc.argv is None:
                self._launch(proc)
            else:
                self._slots.request(self, proc)
            refs.append(proc.ref)
        return refs

    def _prepare(self, sub: Submission) -> _Proc:
        step = sub.step
        prefix = logfiles.prefix(self.state_dir, sub.run_id, step.id, sub.attempt)
        if sub.run_id not in self._run_dirs:
            Path(prefix).parent.mkdir(parents=True, exist_ok=True)
            self._run_dirs.add(sub.run_id)
        env = {
            **self._base_env,
            **step.env,
            processes.RUN_ID_VAR: sub.run_id,
            processes.STEP_ID_VAR: step.id,
            processes.ATTEMPT_VAR: str(sub.attempt),
        }
        ref = StepRef(sub.run_id, step.id, sub.attempt, fabric_id="", data={"logs": prefix})
        try:
            argv = commands.argv(step, self.settings)
        except commands.StepCommandError as exc:
            return _Proc(ref, None, env, error=str(exc))
        return _Proc(ref, [self._resolve(argv[0], env), *argv[1:]], env)

    def _launch(self, proc: _Proc) -> None:
        """Start a step's process now (its slot, if any, is held)."""
        prefix = str(proc.ref.data["logs"])
        stdout_path, stderr_path = logfiles.files(prefix)
        if self._devnull < 0:
            self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        out = logfiles.create(stdout_path)
        err = logfiles.create(stderr_path)
        popen = None
        error = proc.error
        try:
            if proc.argv is not None:
                popen = subprocess.Popen(
                    proc.argv,
                    stdin=self._devnull,
                    stdout=out,
                    stderr=err,
                    cwd=self._work_dir,
                    env=proc.env,
                    start_new_session=True,
                )
        except OSError as exc:
            program = proc.argv[0] if proc.argv else ""
            where = f" ({exc.filename})" if exc.filename and exc.filename != program else ""
            error = f"cannot start {program!r}: {exc.strerror or exc}{where}"
        if error:
            os.write(err, f"dataflow-runner: {error}\n".encode())
        os.close(out)
        os.close(err)
        pidfd = None
        if popen is not None:
            with contextlib.suppress(OSError, AttributeError):
                pidfd = os.pidfd_open(popen.pid)
        data = {**proc.ref.data, "pid": popen.pid if popen else None}
        with self._lock:
            proc.ref = StepRef(
                proc.ref.run_id,
                proc.ref.step_id,
                proc.ref.attempt,
                fabric_id="",
                data=data,
            )
            proc.popen, proc.pidfd, proc.error = popen, pidfd, error
            proc.started_at = time.time()

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"!")

    def _resolve(self, program: str, env: Mapping[str, str]) -> str:
        """The program's path on PATH, looked up once: otherwise every spawn tries
        each PATH directory in turn, and the runner waits for the child's exec."""
        if "/" in program:
            return program
        found = self._programs.get(program)
        if found is None:
            found = shutil.which(program, path=env.get("PATH")) or program
            self._programs[program] = found
        return found

    def poll(self, ref: ClusterRef, steps: Sequence[StepRef]) -> dict[tuple[str, str], StepStatus]:
        if self._wake_r >= 0:
            with contextlib.suppress(OSError):
                while os.read(self._wake_r, 512):
                    pass
        out: dict[tuple[str, str], StepStatus] = {}
        freed = 0
        now = time.time()
        with self._lock:
            for step in steps:
                proc = self._procs.get(step.key)
                if proc is None:
                    continue
                status = self._status(proc, now)
                if status is None:
                    continue
                out[step.key] = status
                if status.state.finished:
                    freed += proc.holds_slot
                    self._forget(proc)
        for _ in range(freed):
            assert self._slots is not None
            self._slots.release()
        return out

    def _status(self, proc: _Proc, now: float) -> StepStatus | None:
        if proc.withdrawn:
            return StepStatus(StepState.CANCELLED, reason="cancelled before it started")
        if proc.popen is None:
            if proc.started_at is None:
                return StepStatus(StepState.PENDING)
            # It could not be started.
            return StepStatus(StepState.FAILED, None, proc.error, proc.started_at, now)
        code = proc.popen.poll()
        if code is None:
            if proc.term_at and not proc.killed and now - proc.term_at >= KILL_GRACE_SECONDS:
                self._signal(proc, signal.SIGKILL)
            return StepStatus(StepState.RUNNING, started_at=proc.started_at)
        # The leader exited: whatever it left behind in its group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.popen.pid, signal.SIGKILL)
        if code == 0:
            return StepStatus(StepState.COMPLETED, 0, None, proc.started_at, now)
        reason = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        return StepStatus(StepState.FAILED, code, reason, proc.started_at, now)

    def _forget(self, proc: _Proc) -> None:
        if proc.pidfd is not None:
            os.close(proc.pidfd)
            proc.pidfd = None
        self._procs.pop(proc.ref.key, None)

    def cancel(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        self._stop(steps, signal.SIGTERM)

    def kill(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        self._stop(steps, signal.SIGKILL)

    def _stop(self, steps: Sequence[StepRef], sig: signal.Signals) -> None:
        # Not under the fabric's lock: withdrawing takes the slots' lock, which is
        # taken before the fabric's when a slot is granted.
        for step in steps:
            proc = self._procs.get(step.key)
            if proc is None:
                continue
            if proc.popen is None and proc.started_at is None:
                if self._slots is not None and self._slots.withdraw(proc):
                    proc.withdrawn = True
                    self._wake()
                continue
            if sig is signal.SIGTERM:
                if proc.term_at is not None:
                    continue
                proc.term_at = time.time()
            self._signal(proc, sig)

    def _signal(self, proc: _Proc, sig: signal.Signals) -> None:
        if proc.popen is None or proc.popen.returncode is not None:
            return
        if sig is signal.SIGKILL:
            proc.killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.popen.pid, sig)

    def list_steps(self, ref: ClusterRef, since: float) -> list[ClusterStep]:
        return []  # processes of a dead runner are found by reattach/stop_unrecorded

    def reattach(self, ref: ClusterRef, stored: StepRef) -> StepRef | None:
        pid = stored.data.get("pid")
        processes.kill_leftover(
            int(pid) if isinstance(pid, int) else None, stored.run_id, stored.step_id
        )
        return None

    def stop_unrecorded(self, ref: ClusterRef, run_id: str, step_ids: Sequence[str]) -> list[str]:
        return processes.stop_unrecorded(run_id, step_ids)

    def wait_handles(self) -> Sequence[int]:
        handles = [p.pidfd for p in self._procs.values() if p.pidfd is not None]
        if self._wake_r >= 0:
            handles.append(self._wake_r)
        return handles

    def next_timer(self) -> float | None:
        now = time.time()
        times = [
            p.term_at + KILL_GRACE_SECONDS
            for p in self._procs.values()
            if p.term_at is not None and not p.killed
        ]
        # Without pidfds (not Linux), or for steps that never started, poll soon.
        if any(p.pidfd is None and p.started_at is not None for p in self._procs.values()):
            times.append(now + 0.05)
        return min(times) if times else None

    def diagnose(self, ref: ClusterRef, step: StepRef) -> FailureCause | None:
        stdout_path, stderr_path = logfiles.files(str(step.data.get("logs", "")))
        return diagnose_files(stderr_path, stdout_path)

    def fetch_logs(
        self, ref: ClusterRef, step: StepRef, log_uri: str = ""
    ) -> tuple[str, dict[str, str]] | None:
        location = str(step.data.get("logs", ""))
        out = {}
        for name, path in zip(logfiles.STREAMS, logfiles.files(location), strict=True):
            with contextlib.suppress(OSError):
                out[name] = path.read_text(errors="replace")
        return location, out

    def close(self) -> None:
        procs = list(self._procs.values())
        self.kill(ClusterRef(self.cluster_id, self.name), [p.ref for p in procs])
        for proc in procs:
            if proc.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=5)
            if proc.holds_slot and self._slots is not None:
                self._slots.release()
            if proc.pidfd is not None:
                os.close(proc.pidfd)
        self._procs.clear()
        for fd in (self._devnull, self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._devnull = self._wake_r = self._wake_w = -1
