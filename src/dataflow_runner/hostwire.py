"""How an engine host and its clients talk: JSON, one document per line, over a
Unix socket (``engine/host.py`` serves, ``engine/remote.py`` and the fabrics
that start hosts call); and the host's directory, where whoever started it
finds out how it is doing:

* ``host.json``: what it hosts (a cluster config, the store), 0600; it may
  hold the values of secret environment variables, so the host removes it as
  soon as it has read it, and whoever finds the host dead before it did
  removes it (:func:`remove_spec`);
* ``engine.sock``: its socket; ``host.pid``: its process; ``host.log``: its log;
* ``ended.json``: how it ended, written as it exits.

A request is one line; the answer is one line (``{"ok": true, ...}`` or
``{"ok": false, "error": {...}}``), possibly followed by more lines (a run's
events) until the host closes the connection.

>>> encode({"op": "ping"})
b'{"op":"ping"}\\n'
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The files of a host's directory (see the module's docstring).
SOCKET_NAME = "engine.sock"
SPEC_NAME = "host.json"
PID_NAME = "host.pid"
LOG_NAME = "host.log"
ENDED_NAME = "ended.json"
#: The module an engine host runs: ``python -m dataflow_runner.engine.host DIR``.
HOST_MODULE = "dataflow_runner.engine.host"
#: The longest line either side accepts (a playbook of many steps fits).
MAX_LINE = 64 * 1024 * 1024


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def connect(path: Path | str, timeout: float | None = 30.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except BaseException:
        sock.close()
        raise
    return sock


def lines(sock: socket.socket) -> Iterator[dict[str, Any]]:
    """The documents the other side sends, until it closes the connection."""
    buffer = b""
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)
        if len(buffer) > MAX_LINE:
            raise ValueError("a line longer than the protocol allows")


def request(path: Path | str, payload: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    """One request, one answer. OSError when the host cannot be reached."""
    with connect(path, timeout) as sock:
        sock.sendall(encode(payload))
        for doc in lines(sock):
            return doc
    raise ConnectionError(f"the engine host at {path} closed the connection without answering")


def write_spec(here: Path, spec: dict[str, Any]) -> None:
    """The host's spec, readable by its owner only, never through a link."""
    fd = os.open(here / SPEC_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(spec, fh)


def remove_spec(here: Path) -> None:
    """Remove the host's spec (see the module's docstring), if it is still there."""
    with contextlib.suppress(FileNotFoundError):
        (here / SPEC_NAME).unlink()


def write_ended(here: Path, state: str, reason: str | None) -> None:
    """Written by the host as it exits: how it ended (its spec goes with it)."""
    (here / ENDED_NAME).write_text(json.dumps({"state": state, "reason": reason}))
    remove_spec(here)


def read_ended(here: Path) -> dict[str, Any] | None:
    """What :func:`write_ended` wrote, or None."""
    with contextlib.suppress(OSError, ValueError):
        found = json.loads((here / ENDED_NAME).read_text())
        if isinstance(found, dict):
            return found
    return None


def host_pid(here: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int((here / PID_NAME).read_text().strip())
    return None


def last_log_line(here: Path) -> str:
    with contextlib.suppress(OSError):
        text = (here / LOG_NAME).read_text(errors="replace")
        found = [line for line in text.splitlines() if line.strip()]
        if found:
            return found[-1]
    return "no output"
