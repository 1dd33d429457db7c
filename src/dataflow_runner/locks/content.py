"""What a lock holds, and how ``unlock`` tells a lock from anything else.

``unlock NAME`` deletes what is at NAME: a file, a Consul key, an etcd key. Run
as root with a mistyped name (``unlock /etc/passwd``) it must delete nothing
but a lock, so a lock is recognised by its content, exactly as written by:

* this tool: in a file, the holder's pid on the first line and a JSON record of
  who holds it on the second; in Consul and etcd, that JSON record alone, with
  the taker's token (the fields of :func:`~dataflow_runner.locks.owner_info`);
* the Go tool: in a file, the pid and a newline (``strconv.Itoa(pid)+"\\n"``);
  in Consul, the pid alone (it never used etcd).

Anything else (empty, binary, another JSON object, too long) is not a lock.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: More than any lock written by either tool holds (ours: ~150 bytes).
MAX_LOCK_BYTES = 4096

#: The fields of the record this tool writes (``owner_info``), and a key's token.
_OWNER_FIELDS = frozenset({"pid", "host", "run_id", "time"})
_GO_PID = re.compile(rb"[0-9]{1,10}\n?")


def _owner(text: str, *, token: bool) -> dict[str, Any] | None:
    """The record of this tool, if ``text`` is exactly one with valid fields."""
    try:
        info = json.loads(text)
    except ValueError:
        return None
    fields = _OWNER_FIELDS | ({"token"} if token else set())
    if not isinstance(info, dict) or set(info) != fields:
        return None
    pid, host, run_id, time = info["pid"], info["host"], info["run_id"], info["time"]
    valid = (
        type(pid) is int  # not a bool, not a float
        and pid > 0
        and isinstance(host, str)
        and (run_id is None or isinstance(run_id, str))
        and isinstance(time, str)
        and (not token or isinstance(info["token"], str))
    )
    return info if valid else None


def _go_pid(raw: bytes) -> dict[str, Any] | None:
    if _GO_PID.fullmatch(raw) is None:
        return None
    return {"pid": int(raw)}


def file_holder(raw: bytes) -> dict[str, Any] | None:
    """Who holds a lock file whose bytes are ``raw``; None when it is not a lock
    file this tool or the Go tool wrote."""
    if len(raw) > MAX_LOCK_BYTES:
        return None
    go = _go_pid(raw)
    if go is not None:
        return go
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    first, newline, rest = text.partition("\n")
    if not newline or not rest.endswith("\n") or "\n" in rest[:-1]:
        return None  # ours is exactly two lines
    info = _owner(rest[:-1], token=False)
    if info is None or first != str(info["pid"]):
        return None
    return info


def key_holder(raw: bytes, *, go: bool) -> dict[str, Any] | None:
    """Who holds a lock key (Consul, etcd) whose value is ``raw``; None when it is
    not a lock this tool wrote (or, with ``go``, the Go tool: a bare pid)."""
    if len(raw) > MAX_LOCK_BYTES:
        return None
    if go:
        found = _go_pid(raw)
        if found is not None:
            return found
    try:
        return _owner(raw.decode("utf-8"), token=True)
    except UnicodeDecodeError:
        return None


def not_a_lock(where: str, raw: bytes, *, go: bool = True) -> str:
    """The refusal for a lock whose content is not one (its content is not shown:
    it may be anything, a secret included)."""
    writers = "dataflow-runner or the Go tool" if go else "dataflow-runner"
    if not raw:
        return (
            f"refusing to unlock {where}: it is empty, not a lock written by {writers} "
            "(if a runner died while taking it, delete it by hand)"
        )
    if len(raw) > MAX_LOCK_BYTES:
        return (
            f"refusing to unlock {where}: it holds {len(raw)} bytes, more than a lock "
            f"(at most {MAX_LOCK_BYTES})"
        )
    return f"refusing to unlock {where}: it does not hold a lock written by {writers}"
