"""The local fabric: each step is a process (group) on this machine.

Processes write straight to per-attempt log files (no pipes to drain), and each
one gets its own session, so cancelling or timing out a step stops its whole
process group, grandchildren included. They are started by the run's supervisor
(``supervisor.py``), their parent, which tells the runner at once when one ends
and writes every start and end to the run's journal: a step's outcome is known
even if the runner dies, and a resumed run records it instead of running the
step again.

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
import threading
import time
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dataflow_runner import logfiles
from dataflow_runner.config.model import ClusterConfig, Playbook, to_doc
from dataflow_runner.diagnosis import diagnose_files
from dataflow_runner.errors import ConfigError, ConfigErrors
from dataflow_runner.fabrics import calls
from dataflow_runner.fabrics.base import (
    ClusterRef,
    ClusterStatus,
    ClusterStep,
    FailureCause,
    Reattached,
    Recovered,
    StepRef,
    StepStatus,
    Submission,
    Target,
)
from dataflow_runner.fabrics.local import cluster as local_cluster
from dataflow_runner.fabrics.local import commands, datafiles, processes
from dataflow_runner.fabrics.local.supervised import (
    Journaled,
    SupervisorClient,
    alive,
    attempt_key,
    await_end,
    read_journal,
)
from dataflow_runner.store.records import ClusterState, StepState

#: How long a cancelled step gets to exit on SIGTERM before SIGKILL.
KILL_GRACE_SECONDS = 5.0
#: The cluster id of a transient run's in-process cluster.
TRANSIENT_ID = "local"
#: How long a resumed run waits for the journal to record the end of a process it
#: saw end (the supervisor writes it as soon as it has reaped it).
JOURNAL_LAG_SECONDS = 2.0
#: What a resumed run says of an attempt that went on without its runner.
ENDED_UNSEEN = "ran to its end while its runner was dead"
FOLLOWED = "followed to its end after its runner died"


@dataclass
class _Proc:
    ref: StepRef
    key: str
    argv: list[str] | None  # None when the step cannot be started (``error`` says why)
    env: dict[str, str]  # the step's own variables (the rest is the supervisor's)
    error: str | None = None
    sent: bool = False  # the supervisor was asked to start it
    started_at: float | None = None
    pid: int | None = None
    code: int | None = None  # its exit code, once it ended
    ended_at: float | None = None
    term_at: float | None = None  # SIGTERM sent
    killed: bool = False
    withdrawn: bool = False  # cancelled while waiting for a slot
    holds_slot: bool = False  # one of the shared cluster's slots is this step's
    adopted: int | None = None  # a dead runner's step followed by its pidfd (resume)
    adopted_end: float | None = None  # when that pidfd said it ended
    note: str | None = None  # what a resumed run says of it

    @property
    def ended(self) -> bool:
        return self.ended_at is not None or (self.error is not None and self.started_at is not None)


class Slots:
    """The steps a shared cluster runs at once, granted in submission order.

    A step is started by whichever thread frees its slot; the fabric it belongs to
    is woken through its pipe so that its run's loop follows it.
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
        self.state_dir = state_dir
        self.cluster_id = cluster_id
        self._slots = slots
        self._store = store  # for the engine hosts ``up`` starts
        self._terminated = False
        # A step in a shared cluster may wait for a slot first.
        self.submits_running = slots is None
        self._procs: dict[tuple[str, str], _Proc] = {}
        self._by_key: dict[tuple[str, str], _Proc] = {}  # (run, attempt key) → proc
        self._lock = threading.Lock()
        self._supervisors: dict[str, SupervisorClient] = {}  # by run id
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
        # The supervisor wakes the engine when a step ends: polls are a safety net.
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
        concurrency: int | None = None,
    ) -> tuple[ClusterRef, list[StepRef]]:
        # ``concurrency``: the scheduler keeps the run within it, the slots within
        # the cluster's (see set_concurrency).
        if not transient:  # ``up``: a cluster of its own, hosted by an engine host
            return local_cluster.spawn(to_doc(cluster), self.state_dir, self._store), []
        # A transient run's cluster is this fabric, in the runner's process.
        ref = ClusterRef(self.cluster_id, self.name, {"ephemeral": True})
        return ref, self.submit(ref, submissions) if submissions else []

    def _hosted(self, ref: ClusterRef) -> bool:
        return not ref.data.get("ephemeral") and ref.id != self.cluster_id

    def cluster_status(self, ref: ClusterRef) -> ClusterStatus:
        if self._hosted(ref):
            return local_cluster.status(self.state_dir, ref.id)
        if self._terminated:
            return ClusterStatus(ClusterState.TERMINATED)
        return ClusterStatus(ClusterState.RUNNING if self._procs else ClusterState.WAITING)

    def terminate(self, ref: ClusterRef) -> None:
        if self._hosted(ref):
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
            calls.record(self.name, "submit", ok=proc.argv is not None)
            self._track(proc)
            if self._slots is None or proc.argv is None:
                self._launch(proc)
            else:
                self._slots.request(self, proc)
            refs.append(proc.ref)
        return refs

    def _track(self, proc: _Proc) -> None:
        with self._lock:
            self._procs[proc.ref.key] = proc
            self._by_key[(proc.ref.run_id, proc.key)] = proc

    def _prepare(self, sub: Submission) -> _Proc:
        step = sub.step
        prefix = logfiles.prefix(self.state_dir, sub.run_id, step.id, sub.attempt)
        own = {
            **step.env,
            processes.RUN_ID_VAR: sub.run_id,
            processes.STEP_ID_VAR: step.id,
            processes.ATTEMPT_VAR: str(sub.attempt),
        }
        ref = StepRef(sub.run_id, step.id, sub.attempt, fabric_id="", data={"logs": prefix})
        key = attempt_key(step.id, sub.attempt)
        try:
            argv = commands.argv(step, self.settings)
        except commands.StepCommandError as exc:
            return _Proc(ref, key, None, own, error=str(exc))
        return _Proc(ref, key, [self._resolve(argv[0], {**self._base_env, **own}), *argv[1:]], own)

    def _supervisor(self, run_id: str) -> SupervisorClient:
        client = self._supervisors.get(run_id)
        if client is None:
            client = SupervisorClient(
                logfiles.run_dir(self.state_dir, run_id),
                str(self.settings.work_dir),
                self._base_env,
            )
            self._supervisors[run_id] = client
        return client

    def _launch(self, proc: _Proc) -> None:
        """Have the step started now (its slot, if any, is held)."""
        prefix = str(proc.ref.data["logs"])
        stdout_path, stderr_path = logfiles.names(prefix)
        with self._lock:
            proc.started_at = time.time()
            if proc.argv is None:
                # It cannot start: its stderr says why, as a step's own would.
                Path(prefix).parent.mkdir(parents=True, exist_ok=True)
                os.close(logfiles.create(stdout_path))
                fd = logfiles.create(stderr_path)
                os.write(fd, f"dataflow-runner: {proc.error}\n".encode())
                os.close(fd)
                return
            proc.sent = True
        self._supervisor(proc.ref.run_id).start(
            proc.key, proc.argv, proc.env, stdout_path, stderr_path
        )

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"!")

    def _resolve(self, program: str, env: Mapping[str, str]) -> str:
        """The program's path on the step's PATH, looked up once per program."""
        if "/" in program:
            return program
        found = self._programs.get(program)
        if found is None:
            found = shutil.which(program, path=env.get("PATH")) or program
            self._programs[program] = found
        return found

    def _hear(self) -> None:
        """What the supervisors said: starts, ends, and steps that could not start."""
        if self._wake_r >= 0:
            with contextlib.suppress(OSError):
                while os.read(self._wake_r, 512):
                    pass
        for run_id, client in list(self._supervisors.items()):
            for message in client.messages():
                for field in ("started", "ended", "failed"):
                    if field in message:
                        key = str(message[field])
                        break
                else:
                    continue
                proc = self._by_key.get((run_id, key))
                if proc is None:
                    continue
                if field == "started":
                    proc.pid = int(message["pid"])
                    proc.started_at = float(message["at"])
                elif field == "ended":
                    proc.code = int(message["code"])
                    proc.ended_at = float(message["at"])
                else:
                    program = proc.argv[0] if proc.argv else "the step's program"
                    # Not repr(): a secret in the path must be found as it is, to be masked.
                    proc.error = f"cannot start '{program}': {message['error']}"
                    proc.started_at = float(message["at"])
            if client.closed:
                for proc in self._procs.values():
                    if proc.ref.run_id == run_id and proc.sent and not proc.ended:
                        proc.error = "its supervisor process died"
                        proc.started_at = proc.started_at or time.time()

    def poll(self, ref: ClusterRef, steps: Sequence[StepRef]) -> dict[tuple[str, str], StepStatus]:
        self._hear()
        out: dict[tuple[str, str], StepStatus] = {}
        freed = 0
        now = time.time()
        with self._lock:
            for step in steps:
                proc = self._procs.get(step.key)
                if proc is None:
                    continue
                status = self._status(proc, now)
                out[step.key] = status
                if status.state.finished:
                    freed += proc.holds_slot
                    self._forget(proc)
        for _ in range(freed):
            assert self._slots is not None
            self._slots.release()
        return out

    def _status(self, proc: _Proc, now: float) -> StepStatus:
        if proc.withdrawn:
            return StepStatus(StepState.CANCELLED, reason="cancelled before it started")
        if proc.adopted is not None:
            self._follow_adopted(proc, now)
        if proc.code is not None:
            at = proc.ended_at
            if proc.code == 0:
                return StepStatus(StepState.COMPLETED, 0, proc.note, proc.started_at, at)
            code = proc.code
            why = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
            reason = f"{why}; {proc.note}" if proc.note else why
            return StepStatus(StepState.FAILED, code, reason, proc.started_at, at)
        if proc.error is not None and proc.started_at is not None:
            return StepStatus(StepState.FAILED, None, proc.error, proc.started_at, now)
        if not proc.sent and proc.adopted is None:
            return StepStatus(StepState.PENDING)
        if proc.term_at and not proc.killed and now - proc.term_at >= KILL_GRACE_SECONDS:
            self._signal(proc, signal.SIGKILL)
        return StepStatus(StepState.RUNNING, started_at=proc.started_at)

    def _follow_adopted(self, proc: _Proc, now: float) -> None:
        """A dead runner's step: once its process has ended, the journal says how."""
        assert proc.adopted is not None
        if proc.adopted_end is None:
            if alive(proc.pid or 0):
                return
            proc.adopted_end = now
        entry = read_journal(logfiles.run_dir(self.state_dir, proc.ref.run_id)).get(proc.key)
        if entry is not None and entry.ended_at is not None:
            proc.code, proc.ended_at = entry.code, entry.ended_at
        elif now - proc.adopted_end >= JOURNAL_LAG_SECONDS:
            proc.error = "its runner died and the end of its process was not recorded"
        else:
            return
        os.close(proc.adopted)
        proc.adopted = None

    def _forget(self, proc: _Proc) -> None:
        if proc.adopted is not None:
            os.close(proc.adopted)
            proc.adopted = None
        self._procs.pop(proc.ref.key, None)
        self._by_key.pop((proc.ref.run_id, proc.key), None)

    def cancel(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        self._stop(steps, signal.SIGTERM)

    def kill(self, ref: ClusterRef, steps: Sequence[StepRef]) -> None:
        self._stop(steps, signal.SIGKILL)

    def _stop(self, steps: Sequence[StepRef], sig: signal.Signals) -> None:
        # Not under the fabric's lock: withdrawing takes the slots' lock, which is
        # taken before the fabric's when a slot is granted.
        for step in steps:
            proc = self._procs.get(step.key)
            if proc is None or proc.ended:
                continue
            if not proc.sent and proc.adopted is None:
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
        if sig is signal.SIGKILL:
            proc.killed = True
        if proc.adopted is not None and proc.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
        elif proc.sent:
            client = self._supervisors.get(proc.ref.run_id)
            if client is not None and not client.closed:
                with contextlib.suppress(OSError):
                    client.signal(proc.key, sig)

    # --- a dead runner's steps ---------------------------------------------------------

    def list_steps(self, ref: ClusterRef, since: float) -> list[ClusterStep]:
        return []  # a dead runner's steps are in its run's journal

    def reattach(self, ref: ClusterRef, stored: StepRef) -> Reattached:
        """What the journal says of an attempt the dead runner recorded as started."""
        key = attempt_key(stored.step_id, stored.attempt)
        entry = read_journal(logfiles.run_dir(self.state_dir, stored.run_id)).get(key)
        return self._recover(stored.run_id, stored.step_id, stored.attempt, entry)

    def unrecorded(
        self,
        ref: ClusterRef,
        run_id: str,
        attempts: Mapping[str, tuple[str, int]],
        *,
        since: float,
        known: Collection[str] = (),
    ) -> list[StepRef]:
        """Attempts the dead runner had started without recording them (it died
        between asking the supervisor and the commit), from the journal."""
        journal = read_journal(logfiles.run_dir(self.state_dir, run_id))
        found = []
        for step_id, (_name, attempt) in attempts.items():
            entry = journal.get(attempt_key(step_id, attempt))
            if entry is None:
                continue
            recovered = self._recover(run_id, step_id, attempt, entry)
            if recovered.ref is not None:
                found.append(recovered.ref)
        return found

    def _recover(
        self, run_id: str, step_id: str, attempt: int, entry: Journaled | None
    ) -> Reattached:
        if entry is None:
            return Reattached(Recovered.NEVER_STARTED)
        key = attempt_key(step_id, attempt)
        if not entry.ended and not (entry.pid and processes.ours(entry.pid, run_id, step_id)):
            # Gone, no end journaled yet: it may have just ended (journaled next).
            entry = await_end(logfiles.run_dir(self.state_dir, run_id), key) or entry
        prefix = logfiles.prefix(self.state_dir, run_id, step_id, attempt)
        ref = StepRef(run_id, step_id, attempt, "", {"logs": prefix, "pid": entry.pid})
        proc = _Proc(ref, key, None, {}, sent=True)
        proc.pid, proc.started_at = entry.pid, entry.started_at
        if entry.ended:
            proc.code, proc.ended_at = entry.code, entry.ended_at
            if entry.error is not None:
                proc.error = f"cannot start the step's program: {entry.error}"
            proc.note = ENDED_UNSEEN
            how = Recovered.ENDED
        elif entry.pid and processes.ours(entry.pid, run_id, step_id):
            try:
                proc.adopted = os.pidfd_open(entry.pid)
            except OSError:  # it ended just now: the journal will say how
                proc.adopted_end = time.time()
                proc.adopted = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
            proc.note = FOLLOWED
            how = Recovered.RUNNING
        else:
            # Started, gone, and no end recorded: how it ended cannot be known.
            return Reattached(Recovered.LOST)
        self._track(proc)
        return Reattached(how, ref)

    # --- the engine's waits ----------------------------------------------------------

    def wait_handles(self) -> Sequence[int]:
        handles = [c.fileno() for c in self._supervisors.values() if not c.closed]
        handles += [p.adopted for p in self._procs.values() if p.adopted is not None]
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
        # A step that could not start, or an adopted one whose end the journal has
        # not caught up with yet: poll soon.
        if any(
            (p.error is not None and not p.sent) or p.adopted_end is not None
            for p in self._procs.values()
        ):
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

    def exists(self, targets: Sequence[Target]) -> dict[str, bool | None]:
        """One ``stat`` per path, mapped as the steps see it (``datafiles.py``)."""
        return datafiles.exists(self.settings, targets)

    def close(self) -> None:
        """Stop whatever still runs (a run left by an error) and end the supervisors."""
        procs = list(self._procs.values())
        for proc in procs:
            if proc.adopted is not None and not proc.ended and proc.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            if proc.adopted is not None:
                os.close(proc.adopted)
                proc.adopted = None
            if proc.holds_slot and self._slots is not None:
                self._slots.release()
        self._procs.clear()
        self._by_key.clear()
        for client in self._supervisors.values():
            client.close()
        self._supervisors.clear()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
