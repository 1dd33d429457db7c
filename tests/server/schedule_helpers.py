"""What the schedule tests share: a server whose clock the test sets (a file it
reads, ``--clock-file``), saved playbooks with schedules, and polling."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.server.conftest import PATIENCE, Server, cluster_doc, make_token, start_server

PLAYBOOK_1_1 = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0"
T = TypeVar("T")


class Clock:
    """The time a server takes for now, set by the test."""

    def __init__(self, path: Path, start: str) -> None:
        self.path = path
        self.set(start)

    def set(self, when: str) -> None:
        moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        self.now = moment
        self.path.write_text(str(moment.timestamp()))

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
        self.path.write_text(str(self.now.timestamp()))


def scheduled(name: str, schedule: dict[str, Any], steps: list[dict[str, Any]],
              **data: Any) -> dict[str, Any]:  # fmt: skip
    return {"schema": PLAYBOOK_1_1,
            "data": {"name": name, "schedule": schedule, "steps": steps, **data}}  # fmt: skip


def put(server: Server, name: str, playbook: dict[str, Any], work: Path) -> dict[str, Any]:
    response = server.api.put(
        f"/api/v1/playbooks/{name}", json={"playbook": playbook, "cluster": cluster_doc(work)}
    )
    assert response.status_code in (200, 201), response.text
    found: dict[str, Any] = response.json()
    return found


def eventually(probe: Callable[[], T | None], what: str, timeout: float = PATIENCE) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.1)


def schedule_of(server: Server, name: str) -> dict[str, Any]:
    response = server.api.get(f"/api/v1/schedules/{name}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def ended_runs(server: Server, name: str, count: int) -> list[dict[str, Any]]:
    """Wait until the schedule has ``count`` runs, all ended; its last runs."""

    def probe() -> list[dict[str, Any]] | None:
        runs = schedule_of(server, name)["lastRuns"]
        ended = [r for r in runs if r["state"] in ("COMPLETED", "FAILED", "CANCELLED")]
        return runs if len(runs) >= count and len(ended) == len(runs) else None

    return eventually(probe, f"{count} ended runs of {name}")


def clocked_server(tmp_path: Path, clock: Clock, store: str | None = None,
                   args: tuple[str, ...] = (), name: str = "state") -> Server:  # fmt: skip
    state = tmp_path / name
    state.mkdir(exist_ok=True)
    token = make_token(state, store, "root", "admin")
    server = start_server(state, store, args=("--clock-file", str(clock.path), *args))
    server.token = token
    return server
