"""Locks: never two holders, with the Go tool's hard/soft semantics.

Contention runs 30 real processes racing for one lock, many rounds each, on
the file backend, a real etcd and Consul's KV contract (tests/consul_server.py).
Each winner records "enter"/"exit" in a shared append-only journal while it
holds the lock; two holders at once would show as two enters in a row.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.consul_server import ConsulKV

RACER = r"""
import os, sys, time
from dataflow_runner.errors import LockHeldError
from dataflow_runner.locks import make_lock, owner_info
name, consul, backend, journal, wins, gate = sys.argv[1:7]
# Everyone ready, then all start at once: the race is real whatever the load.
open(os.path.join(gate, f"ready-{os.getpid()}"), "w").close()
while not os.path.exists(os.path.join(gate, "go")):
    time.sleep(0.005)
won = attempts = 0
while won < int(wins):
    attempts += 1
    lock = make_lock(name, consul or None, backend or None)
    try:
        lock.acquire(owner_info())
    except LockHeldError:
        time.sleep(0.002)
        continue
    fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"enter {os.getpid()}\n".encode())
    time.sleep(0.003)
    os.write(fd, f"exit {os.getpid()}\n".encode())
    os.close(fd)
    lock.release()
    won += 1
print(won, attempts)
"""

PROCESSES = 30
WINS = 3  # each process takes the lock this many times: 90 holds per race


@pytest.fixture(scope="module")
def etcd_endpoint() -> Iterator[str]:
    from tests.servers import etcd

    with etcd() as endpoint:
        yield endpoint


@pytest.fixture
def consul() -> Iterator[ConsulKV]:
    server = ConsulKV().start()
    yield server
    server.stop()


def race(tmp_path: Path, name: str, *, consul: str = "", backend: str = "") -> int:
    """30 processes each taking the lock WINS times; returns the attempts made.
    Fails if two ever held it at once, or if anyone could not get it."""
    journal = tmp_path / "journal"
    gate = tmp_path / "gate"
    gate.mkdir()
    args = [name, consul, backend, str(journal), str(WINS), str(gate)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    deadline = time.monotonic() + 120
    while len(list(gate.glob("ready-*"))) < PROCESSES:
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline, "the racers did not all start"
        time.sleep(0.01)
    (gate / "go").touch()
    outcomes = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outcomes]
    holders: list[str] = []
    entries = journal.read_text().split("\n") if journal.exists() else []
    for line in filter(None, entries):
        kind, pid = line.split()
        if kind == "enter":
            assert not holders, f"{pid} entered while {holders} held the lock"
            holders.append(pid)
        else:
            assert holders == [pid]
            holders.clear()
    counts = [tuple(map(int, o[0].split())) for o in outcomes]
    assert [won for won, _ in counts] == [WINS] * PROCESSES
    assert entries.count("") <= 1 and len(entries) - 1 == 2 * WINS * PROCESSES
    return sum(attempts for _, attempts in counts)


def test_file_lock_contention(tmp_path: Path) -> None:
    attempts = race(tmp_path, str(tmp_path / "race.lock"))
    assert attempts > WINS * PROCESSES  # they did contend
    assert not (tmp_path / "race.lock").exists()


def test_etcd_lock_contention(tmp_path: Path, etcd_endpoint: str) -> None:
    attempts = race(tmp_path, "race", backend=f"etcd://{etcd_endpoint}")
    assert attempts > WINS * PROCESSES


def test_consul_lock_contention(tmp_path: Path, consul: ConsulKV) -> None:
    attempts = race(tmp_path, "race", consul=consul.address)
    assert attempts > WINS * PROCESSES
    assert consul.data == {}


NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
NATIVE_PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"


def files(d: Path, ok: bool) -> tuple[str, str]:
    (d / "c.json").write_text(json.dumps({"schema": NATIVE_CLUSTER, "data": {"name": "c"}}))
    command = ["true"] if ok else ["sh", "-c", "exit 3"]
    (d / "p.json").write_text(
        json.dumps(
            {
                "schema": NATIVE_PLAYBOOK,
                "data": {
                    "name": "p",
                    "steps": [{"id": "s", "type": "COMMAND", "command": command}],
                },
            }
        )
    )
    return str(d / "c.json"), str(d / "p.json")


def transient(cli_process: Any, d: Path, ok: bool, *lock_args: str) -> Any:
    config, playbook = files(d, ok)
    return cli_process(
        "run-transient", "--emr-config", config, "--emr-playbook", playbook, *lock_args, cwd=d
    )


@pytest.mark.parametrize("backend", ["file", "etcd", "consul"])
def test_hard_and_soft_locks_after_a_failure(
    cli_process: Any, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    where: list[str] = []
    if backend == "etcd":
        where = ["--lock-backend", f"etcd://{request.getfixturevalue('etcd_endpoint')}"]
    elif backend == "consul":
        where = ["--consul", request.getfixturevalue("consul").address]
    name = f"lock-{backend}"
    # A failed run with a soft lock releases it ...
    assert transient(cli_process, tmp_path, False, "--softLock", name, *where).code == 1
    assert transient(cli_process, tmp_path, True, "--softLock", name, *where).code == 0
    # ... a failed run with a hard lock keeps it: the next run gets exit code 17.
    assert transient(cli_process, tmp_path, False, "--lock", name, *where).code == 1
    held = transient(cli_process, tmp_path, True, "--lock", name, *where)
    assert held.code == 17
    assert "lock already held at" in held.err and "held by pid" in held.err
    # unlock says who held it and frees it; a successful run releases its hard lock.
    released = cli_process("unlock", name, *where, cwd=tmp_path)
    assert released.code == 0, released.err
    assert "released lock" in released.out and "held by pid" in released.out
    assert transient(cli_process, tmp_path, True, "--lock", name, *where).code == 0
    assert transient(cli_process, tmp_path, True, "--lock", name, *where).code == 0
    again = cli_process("unlock", name, *where, cwd=tmp_path)
    assert again.code == 1 and "is not held" in again.err


def test_stale_lock_is_reported_and_go_lock_files_are_read(
    cli_process: Any, tmp_path: Path
) -> None:
    assert transient(cli_process, tmp_path, False, "--lock", "stale.lock").code == 1
    listing = cli_process("locks", cwd=tmp_path)
    assert "stale.lock" in listing.out and "that process is gone" in listing.out
    # A lock file written by the Go tool holds only a pid.
    (tmp_path / "go.lock").write_text("4242\n")
    held = transient(cli_process, tmp_path, True, "--softLock", "go.lock")
    assert held.code == 17
    assert f"lock already held at {tmp_path}/go.lock (held by pid 4242)" in held.err


def test_consul_key_with_a_leading_slash_is_refused(
    cli_process: Any, tmp_path: Path, consul: ConsulKV
) -> None:
    result = transient(cli_process, tmp_path, True, "--lock", "/a/b", "--consul", consul.address)
    assert result.code == 1
    assert "starts with '/', which Consul rejects" in result.err
    assert consul.requests == 0  # refused before anything was sent


def test_unreachable_lock_server_is_one_clear_line(cli_process: Any, tmp_path: Path) -> None:
    result = transient(cli_process, tmp_path, True, "--lock", "x", "--consul", "127.0.0.1:9")
    assert result.code == 1
    assert "cannot reach Consul at http://127.0.0.1:9 for lock x" in result.err
    assert "Traceback" not in result.err
