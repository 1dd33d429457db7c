"""``locks`` and ``unlock``: see who holds a lock, release a hard lock after a failure."""

from __future__ import annotations

import json
from typing import Any

from dataflow_runner.cli.output import echo, printable
from dataflow_runner.errors import FlagError
from dataflow_runner.locks import describe_holder, holder_is_dead, make_lock


def _recorded(engine: Any) -> list[tuple[str, str | None]]:
    """Lock names (and backends) used by recent runs, most recent first."""
    seen: dict[tuple[str, str | None], None] = {}
    for run in engine.runs(limit=500).items:
        name = run.options.get("lock")
        if name:
            seen.setdefault((str(name), run.options.get("lock_backend")), None)
    return list(seen)


def lock_name(name: str) -> str:
    """A lock's name as given (a file lock's is a path: an empty one would be the
    current directory)."""
    if not name.strip():
        raise FlagError(f"expected a lock name, got {name!r}")
    return name


def locks(
    engine: Any, names: tuple[str, ...], *, consul: str | None, backend: str | None, output: str
) -> None:
    for name in names:
        lock_name(name)
    wanted = [(n, backend) for n in names] if names else _recorded(engine)
    rows: list[dict[str, Any]] = []
    for name, where in wanted:
        lock = make_lock(name, consul, where)
        holder = lock.holder()
        rows.append(
            {
                "name": lock.name,
                "backend": "consul" if consul else (where or "file"),
                "held": holder is not None,
                "holder": holder,
                "stale": holder_is_dead(holder),
            }
        )
    if output == "json":
        echo(json.dumps(rows, indent=2))
        return
    if not rows:
        echo("no locks used by recent runs")
        return
    for row in rows:
        held_by: dict[str, Any] | None = row["holder"]
        state = "HELD" + describe_holder(held_by) if held_by is not None else "free"
        echo(printable(f"{row['name']}  [{row['backend']}]  {state}"))


def unlock(name: str, *, consul: str | None, backend: str | None) -> None:
    lock = make_lock(lock_name(name), consul, backend)
    holder = lock.unlock()  # refuses what is not a lock
    echo(printable(f"released lock {lock.name}{describe_holder(holder, hint=False)}"))
