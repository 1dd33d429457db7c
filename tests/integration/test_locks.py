"""Locks: never two holders, with the Go tool's hard/soft semantics.

Contention runs 30 real processes racing for one lock, many rounds each, on
the file backend, a real etcd and Consul's KV contract (tests/consul_server.py).
Each winner records "enter"/"exit" in a shared append-only journal while it
holds the lock; two holders at once would show as two enters in a row.
"""

from __future__ import annotations

import json
import os
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


# --- unlock deletes only a lock ----------------------------------------------------------

PASSWD = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
RUN_ID = "r-20260101-000000-abcdef"
NOT_A_LOCK = "does not hold a lock written by dataflow-runner or the Go tool"


def _ours(path: Path) -> None:
    from dataflow_runner.locks import make_lock, owner_info

    make_lock(str(path)).acquire(owner_info(RUN_ID))


def _huge(path: Path) -> None:
    with path.open("wb") as fh:
        fh.truncate(10 << 20)  # sparse: 10 MiB that take no room


def _link_to_ours(path: Path) -> None:
    _ours(path.with_name("real.lock"))
    path.symlink_to(path.with_name("real.lock"))


#: What is at the path, whether unlock deletes it, and what it says.
FILE_CASES: dict[str, tuple[Any, bool, str]] = {
    "passwd-like": (lambda p: p.write_bytes(PASSWD), False, NOT_A_LOCK),
    "empty": (lambda p: p.write_bytes(b""), False, "it is empty, not a lock written by"),
    "binary": (lambda p: p.write_bytes(bytes(range(256))), False, NOT_A_LOCK),
    "a pid and other JSON": (lambda p: p.write_bytes(b'42\n{"pid": 42}\n'), False, NOT_A_LOCK),
    "a link to a real lock": (_link_to_ours, False, "it is a symbolic link, not a lock"),
    "a directory": (lambda p: p.mkdir(), False, "it is a directory, not a lock"),
    "a FIFO": (os.mkfifo, False, "it is a FIFO, not a lock"),
    "huge": (_huge, False, "it holds 10485760 bytes, more than a lock (at most 4096)"),
    "the Go tool's lock": (lambda p: p.write_bytes(b"4242\n"), True, "(held by pid 4242)"),
    "our lock": (_ours, True, f"run {RUN_ID})"),
    "nothing": (lambda p: None, False, "is not held"),
}


def _snapshot(path: Path) -> tuple[Any, ...] | None:
    """What is at ``path`` (never followed), to show that nothing changed."""
    try:
        seen = path.lstat()
    except FileNotFoundError:
        return None
    content = path.read_bytes() if path.is_file() and not path.is_symlink() else b""
    return (seen.st_ino, seen.st_mode, seen.st_size, content)


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_unlock_deletes_only_a_lock_file(cli_process: Any, tmp_path: Path, case: str) -> None:
    make, deleted, message = FILE_CASES[case]
    path = tmp_path / "the.lock"
    make(path)
    before = _snapshot(path), _snapshot(tmp_path / "real.lock")
    result = cli_process("unlock", str(path), cwd=tmp_path)
    assert "Traceback" not in result.err
    if deleted:
        assert result.code == 0, result.err
        assert f"released lock {path}" in result.out and message in result.out
        assert not os.path.lexists(path)
        return
    assert result.code == 1
    assert len(result.err_lines) == 1, result.err
    assert message in result.err_lines[0] and str(path) in result.err_lines[0]
    # Nothing deleted or changed, not even what a link points to.
    assert (_snapshot(path), _snapshot(tmp_path / "real.lock")) == before


def _etcd_put(endpoint: str, key: str, value: bytes) -> None:
    import base64
    import urllib.request

    body = {
        "key": base64.b64encode(key.encode()).decode(),
        "value": base64.b64encode(value).decode(),
    }
    request = urllib.request.Request(
        f"http://{endpoint}/v3/kv/put", data=json.dumps(body).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).read()


#: A key's value, whether unlock deletes the key, and what it says (None: ours).
KEY_CASES: dict[str, tuple[bytes | None, bool, bool, str]] = {
    # name: (value, deleted on etcd, deleted on Consul, message fragment)
    "passwd-like": (PASSWD, False, False, "does not hold a lock written by dataflow-runner"),
    "empty": (b"", False, False, "it is empty, not a lock written by dataflow-runner"),
    "binary": (bytes(range(256)), False, False, "does not hold a lock written by"),
    "other JSON": (b'{"pid": 42, "host": "h"}', False, False, "does not hold a lock written"),
    "huge": (b"7" * 5000, False, False, "it holds 5000 bytes, more than a lock"),
    # The Go tool wrote the pid to Consul; it never used etcd.
    "a bare pid": (b"4242", False, True, "(held by pid 4242)"),
    "our lock": (None, True, True, f"run {RUN_ID})"),
}


@pytest.mark.parametrize("case", list(KEY_CASES))
def test_unlock_deletes_only_a_lock_key_in_etcd(
    cli_process: Any, tmp_path: Path, etcd_endpoint: str, case: str
) -> None:
    from dataflow_runner.locks import make_lock, owner_info

    value, deleted, _, message = KEY_CASES[case]
    name = f"unlock-{tmp_path.name}"
    key = f"dataflow-runner/locks/{name}"
    backend = f"etcd://{etcd_endpoint}"
    lock = make_lock(name, backend=backend)
    if value is None:
        lock.acquire(owner_info(RUN_ID))
        lock.keep()  # as a failed run's hard lock: no lease
    else:
        _etcd_put(etcd_endpoint, key, value)
    before = lock.holder()
    result = cli_process("unlock", name, "--lock-backend", backend, cwd=tmp_path)
    assert "Traceback" not in result.err
    if deleted:
        assert result.code == 0, result.err
        assert message in result.out and lock.holder() is None
        return
    if case == "a bare pid":
        message = "does not hold a lock written by dataflow-runner"
    assert result.code == 1
    assert len(result.err_lines) == 1, result.err
    assert message in result.err_lines[0] and f"etcd key {key}" in result.err_lines[0]
    assert "or the Go tool" not in result.err_lines[0]
    assert lock.holder() == before is not None  # still there, unchanged


@pytest.mark.parametrize("case", list(KEY_CASES))
def test_unlock_deletes_only_a_lock_key_in_consul(
    cli_process: Any, tmp_path: Path, consul: ConsulKV, case: str
) -> None:
    from dataflow_runner.locks import make_lock, owner_info

    value, _, deleted, message = KEY_CASES[case]
    lock = make_lock("jobs/nightly", consul.address)
    if value is None:
        lock.acquire(owner_info(RUN_ID))
    else:
        import urllib.request

        put = urllib.request.Request(
            f"http://{consul.address}/v1/kv/jobs/nightly", data=value, method="PUT"
        )
        urllib.request.urlopen(put, timeout=10).read()
    before = dict(consul.data)
    result = cli_process("unlock", "jobs/nightly", "--consul", consul.address, cwd=tmp_path)
    assert "Traceback" not in result.err
    if deleted:
        assert result.code == 0, result.err
        assert message in result.out and consul.data == {}
        return
    assert result.code == 1
    assert len(result.err_lines) == 1, result.err
    assert message in result.err_lines[0] and "Consul key jobs/nightly" in result.err_lines[0]
    assert consul.data == before  # still there, unchanged


def test_unlock_of_a_key_not_held(cli_process: Any, tmp_path: Path, consul: ConsulKV) -> None:
    result = cli_process("unlock", "free", "--consul", consul.address, cwd=tmp_path)
    assert result.code == 1 and result.err_lines[-1].endswith('lock free is not held"')


def test_a_runner_releases_its_file_lock_only_if_it_still_holds_it(tmp_path: Path) -> None:
    from dataflow_runner.locks import make_lock, owner_info

    path = tmp_path / "shared.lock"
    first = make_lock(str(path))
    first.acquire(owner_info("r-first"))
    assert make_lock(str(path)).unlock()["run_id"] == "r-first"  # unlocked by hand ...
    second = make_lock(str(path))
    second.acquire(owner_info("r-second"))  # ... and taken by another run
    first.release()  # the first run ends: the second's lock stays
    assert (make_lock(str(path)).holder() or {}).get("run_id") == "r-second"
    second.release()
    assert not path.exists()
