"""Bad inputs to every command, each run as a real subprocess: exit 1 or 2, ONE
clean line on stderr (no traceback, no "internal error"), nothing on stdout,
nothing recorded or created, under 500 MB of RSS and 30 s.

The cases are in ``bad_input_running.py`` and ``bad_input_history.py``, with the
config-file cases of ``test_bad_inputs.py``. A case is (id, what is wrong, argv,
exit code, a regex its one line must match) plus the files written in its
directory (``{d}`` in argv; ``{c}`` is the working directory), a set-up of the
store in the state directory, and environment variables.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import tests.unit.bad_input_history
import tests.unit.bad_input_running  # noqa: F401 (its cases join the table)
from tests.unit.bad_input_case import CASES, CLUSTER_ID, RUN_ID, TWIN_ID, Case
from tests.unit.test_bad_inputs import FIFO, _message

TIMEOUT_S = 30.0
MAX_RSS_KB = 500 * 1024
#: Tables a bad input must leave as they were.
TABLES = ("runs", "steps", "attempts", "clusters")
T0 = 1_764_547_200.0  # 2025-12-01, long enough ago for a RUNNING run to be DEAD


# --- what a case may find in the store ------------------------------------------------


def _seed(state: Path, *, twins: bool = False, dead: str | None = None) -> None:
    """A finished run (step ``a`` COMPLETED after one attempt, ``b`` CANCELLED before
    it ran) and a terminated local cluster; ``twins``: a second run whose id shares
    a prefix; ``dead``: the run is RUNNING with a runner long gone (so DEAD) and
    this playbook path."""
    from dataflow_runner.store import open_store
    from dataflow_runner.store.records import (
        AttemptRecord,
        ClusterRecord,
        ClusterState,
        RunKind,
        RunRecord,
        RunState,
        StepRecord,
        StepState,
    )

    def run(run_id: str) -> RunRecord:
        return RunRecord(
            run_id,
            RunKind.ATTACHED,
            "nightly",
            "local",
            RunState.RUNNING if dead is not None else RunState.COMPLETED,
            T0,
            started_at=T0,
            ended_at=None if dead is not None else T0 + 5,
            heartbeat_at=T0,
            pid=1 << 30,
            host=socket.gethostname(),
            cluster_id=CLUSTER_ID,
            playbook_path=dead or "",
            options={"lock": str(state.parent / "cwd" / "nightly.lock")},
        )

    def steps(run_id: str) -> list[StepRecord]:
        return [
            StepRecord(run_id, "a", 0, "a", "COMMAND", StepState.COMPLETED, "CANCEL_AND_WAIT"),
            StepRecord(run_id, "b", 1, "b", "COMMAND", StepState.CANCELLED, "CANCEL_AND_WAIT"),
        ]

    with open_store(state_dir=state) as store:
        for run_id in (RUN_ID, TWIN_ID) if twins else (RUN_ID,):
            store.writer.create_run(run(run_id), steps(run_id))
            store.writer.start_attempt(
                AttemptRecord(
                    run_id,
                    "a",
                    1,
                    StepState.COMPLETED,
                    started_at=T0,
                    log_location=str(state / "gone" / run_id / "a.1"),
                )
            )
        store.writer.upsert_cluster(
            ClusterRecord(CLUSTER_ID, "local", "dev", ClusterState.TERMINATED, T0)
        )


def _newer(sql: str) -> Callable[[Path], None]:
    """The seeded store, then a row as a newer version wrote it."""

    def setup(state: Path) -> None:
        _seed(state)
        with sqlite3.connect(state / "store.db") as conn:
            assert conn.execute(sql).rowcount >= 1

    return setup


def _dead_with(playbook: str) -> Callable[[Path], None]:
    """A DEAD run whose playbook file is ``playbook`` (in the case's directory)."""

    def setup(state: Path) -> None:
        _seed(state, dead=str(state.parent / "files" / playbook))

    return setup


SETUPS: dict[str, Callable[[Path], None]] = {
    "run": _seed,
    "twins": lambda state: _seed(state, twins=True),
    "run-state-unknown": _newer(f"UPDATE runs SET state = 'PAUSED' WHERE id = '{RUN_ID}'"),
    "run-kind-unknown": _newer(f"UPDATE runs SET kind = 'scheduled' WHERE id = '{RUN_ID}'"),
    "step-state-unknown": _newer("UPDATE steps SET state = 'PAUSED' WHERE step_id = 'a'"),
    "attempt-state-unknown": _newer("UPDATE attempts SET state = 'PREEMPTED'"),
    "cluster-state-unknown": _newer("UPDATE clusters SET state = 'HIBERNATING'"),
    "run-json-unknown": _newer("UPDATE runs SET options = '{not json'"),
    "dead-bad-playbook": _dead_with("p.json"),
    "dead-no-playbook": lambda state: _seed(state, dead=""),
    "dead-dev-zero": lambda state: _seed(state, dead="/dev/zero"),
}


# --- running them ---------------------------------------------------------------------


@dataclass
class Ran:
    code: int
    out: str
    err: str
    rss_kb: int
    seconds: float


def _substitute(arg: str | bytes, dirs: dict[str, Path]) -> str | bytes:
    for key, path in dirs.items():
        if isinstance(arg, bytes):
            arg = arg.replace(b"{" + key.encode() + b"}", os.fsencode(path))
        else:
            arg = arg.replace("{" + key + "}", str(path))
    return arg


# Runs the command line as its child and writes the child's peak RSS (KiB) to argv[1].
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "dataflow_runner", *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def _run(argv: list[str | bytes], dirs: dict[str, Path], env: dict[str, str]) -> Ran:
    """Run the command line, measuring its peak RSS; a child still running after
    ``TIMEOUT_S`` is killed and fails the case. The command runs under a small
    launcher that reports its ``wait4``: Linux starts a process's peak at that of
    the one it was forked from, and this test process may be large by now."""
    out_path, err_path = dirs["tmp"] / "stdout", dirs["tmp"] / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(dirs["tmp"] / "rss"), *argv],
            cwd=dirs["c"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
    start = time.monotonic()
    deadline = start + TIMEOUT_S
    while True:
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            proc.returncode = -9
            pytest.fail(f"still running after {TIMEOUT_S:.0f} s: {err_path.read_text()}")
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Ran(
        proc.returncode,
        out_path.read_bytes().decode("utf-8", "replace"),
        err_path.read_bytes().decode("utf-8", "replace"),
        int((dirs["tmp"] / "rss").read_text()),
        time.monotonic() - start,
    )


def _rows(state: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of each table of the store, as it is (a store that is not there,
    or has no rows, holds nothing): a bad input changes none."""
    db = state / "store.db"
    if not db.exists():
        return {}
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        rows = {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in TABLES
            if t in names
        }
    return {t: r for t, r in rows.items() if r}


def _tree(*roots: Path) -> set[str]:
    """Every path under ``roots`` but the store's own files (which a read may open)."""
    found = set()
    for root in roots:
        for path in root.rglob("*"):
            if not path.name.startswith("store.db"):
                found.add(str(path))
    return found


_LINE = re.compile(r'^(time="[^"]+" level=(error|fatal) msg=.+|dataflow-runner\b.*: .+)$')


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_one_clean_line(c: Case, tmp_path: Path) -> None:
    dirs = {
        "tmp": tmp_path,
        "d": tmp_path / "files",
        "s": tmp_path / "state",
        "c": tmp_path / "cwd",
        "h": tmp_path / "home",
    }
    for key in ("d", "c", "h"):
        dirs[key].mkdir()
    for name, text in c.files.items():
        if text == FIFO:
            os.mkfifo(dirs["d"] / name)
        else:
            body = text.replace("{d}", str(dirs["d"]))
            (dirs["d"] / name).write_bytes(body.encode("utf-8", "surrogateescape"))
    if c.setup is not None:
        SETUPS[c.setup](dirs["s"])
    env = {
        **os.environ,
        "HOME": str(dirs["h"]),
        "XDG_STATE_HOME": str(dirs["h"] / ".local" / "state"),
        "DATAFLOW_RUNNER_HOME": str(dirs["s"]),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(dirs["h"] / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(dirs["h"] / "aws-credentials"),
        "TZ": "UTC",
        **c.env,
    }
    rows, tree = _rows(dirs["s"]), _tree(dirs["d"], dirs["s"], dirs["c"], dirs["h"])

    ran = _run([_substitute(a, dirs) for a in c.argv], dirs, env)

    lines = [line for line in ran.err.splitlines() if line.strip()]
    assert ran.code == c.code, ran.err
    assert len(lines) == 1, lines
    assert "Traceback" not in ran.err
    assert "internal error" not in ran.err
    assert _LINE.match(lines[0]), lines[0]
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", lines[0]), lines[0]
    message = _message(lines[0])
    assert re.search(c.pattern, message), message
    assert "hunter2" not in ran.err
    assert ran.out == ""
    # Nothing recorded, nothing created.
    assert _rows(dirs["s"]) == rows
    assert not (dirs["s"] / "runs").exists()
    assert not (dirs["s"] / "clusters").exists()
    assert _tree(dirs["d"], dirs["s"], dirs["c"], dirs["h"]) == tree
    assert ran.rss_kb < MAX_RSS_KB, f"{ran.rss_kb} KB"
    assert ran.seconds < TIMEOUT_S


def _command(argv: list[str | bytes]) -> str:
    words = [a.decode(errors="replace") if isinstance(a, bytes) else a for a in argv]
    i = 0
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] == "--log-level" else 1
    return words[i] if i < len(words) else "(none)"


def test_the_table_covers_every_command() -> None:
    assert len(CASES) >= 200
    assert len({c.id for c in CASES}) == len(CASES)
    commands = {_command(c.argv) for c in CASES}
    for command in (
        "up",
        "run",
        "down",
        "run-transient",
        "validate",
        "runs",
        "status",
        "logs",
        "clusters",
        "locks",
        "unlock",
        "resume",
    ):
        assert command in commands
    assert all(c.code in (1, 2) for c in CASES)


def test_the_command_line_limits_agree_with_the_store() -> None:
    from dataflow_runner.cli import app_history
    from dataflow_runner.store.reader import MAX_PAGE
    from dataflow_runner.store.records import RunState

    assert app_history.RUNS_LIMIT == MAX_PAGE
    assert set(app_history.RUN_STATES) == {s.value for s in RunState}
