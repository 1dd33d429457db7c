"""How many calls the fabrics of this process made to what they drive (EMR's
API, the local supervisor), and how many failed: counters that a front end
reports (the server's ``/metrics``), kept here so that no fabric knows who reads
them.

>>> record("demo", "Submit", ok=False)
>>> snapshot()[("demo", "Submit", "error")] >= 1
True
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_counts: dict[tuple[str, str, str], int] = {}


def record(fabric: str, call: str, *, ok: bool) -> None:
    """One call of ``fabric``'s named ``call``, which succeeded or failed."""
    key = (fabric, call, "ok" if ok else "error")
    with _lock:
        _counts[key] = _counts.get(key, 0) + 1


def snapshot() -> dict[tuple[str, str, str], int]:
    """Every count so far: ``(fabric, call, "ok" | "error")`` → calls."""
    with _lock:
        return dict(_counts)
