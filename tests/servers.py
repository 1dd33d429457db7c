"""Real servers for tests, started from Debian's packages: PostgreSQL and etcd.

A missing server binary makes the test fail with a clear message (CI installs
them: see scripts/test), never skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run it as the postgres user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server on 127.0.0.1; yields a database URL."""
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        raise RuntimeError(
            f"PostgreSQL is not installed ({initdb} is missing): "
            "apt-get install postgresql (scripts/test does)"
        )
    root = Path(tempfile.mkdtemp(prefix="dfr-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        os.chmod(root, 0o755)
    port = free_port()
    subprocess.run(
        _as_postgres(
            [
                str(initdb),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    log = root / "server.log"
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {root} -h 127.0.0.1 -c fsync=off -c max_connections=200",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE dfr",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql://postgres:not-a-real-secret@127.0.0.1:{port}/dfr"
    finally:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def etcd() -> Iterator[str]:
    """A throwaway etcd server on 127.0.0.1; yields ``host:port`` of its client URL."""
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    if not Path(binary).exists():
        raise RuntimeError("etcd is not installed: apt-get install etcd-server (scripts/test does)")
    root = Path(tempfile.mkdtemp(prefix="dfr-etcd-"))
    client, peer = free_port(), free_port()
    log = open(root / "etcd.log", "wb")  # noqa: SIM115 - open while etcd runs, closed below
    proc = subprocess.Popen(
        [
            binary,
            "--name",
            "dfr-test",
            "--data-dir",
            str(root / "data"),
            "--listen-client-urls",
            f"http://127.0.0.1:{client}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            f"dfr-test=http://127.0.0.1:{peer}",
            "--unsafe-no-fsync",
            "--log-level",
            "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", client), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("etcd exited: " + (root / "etcd.log").read_text()) from None
                time.sleep(0.05)
        yield f"127.0.0.1:{client}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
