"""A server's pool parts in the test process: the engine on a real store, the queue
and its workers (a thread, as in a server), and the pool manager whose rounds the
test drives with an injected clock. Clusters are real: local ones are engine-host
processes, EMR ones moto's (tests/emr_server.py)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dataflow_runner.engine import pools
from dataflow_runner.engine.api import Engine
from dataflow_runner.engine.payload import Documents, Keyring, Submission
from dataflow_runner.engine.pool_service import PoolService
from dataflow_runner.engine.queue import RunQueue
from dataflow_runner.engine.workers import Workers
from dataflow_runner.store.records import LaunchState, RunState

PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"
START = 1_900_000_000.0


def playbook(name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": PLAYBOOK, "data": {"name": name, "steps": steps}}


class Harness:
    def __init__(self, state_dir: Path, store: str | None = None, *, slots: int = 12) -> None:
        self.engine = Engine(state_dir=state_dir, store=store)
        self.keyring = Keyring(Keyring.new_key())
        self.queue = RunQueue(self.engine, self.keyring)
        self.workers = Workers(self.queue, slots=slots, interval=0.1)
        self.now = START
        self.manager = PoolService(
            self.engine,
            self.keyring,
            clock=lambda: self.now,
            rng=random.Random(7),
            on_placed=self.workers.wake,
        )
        self.workers.start()

    def close(self) -> None:
        self.workers.stop(timeout=10)
        self.manager.stop()
        self.engine.close()

    def pool(self, name: str, cluster: dict[str, Any], **doc: Any) -> pools.Pool:
        spec = pools.check_doc({"cluster": cluster, **doc}, {})
        return pools.put(self.engine, self.keyring, name, spec, by="test")[0]

    def submit(self, book: dict[str, Any], pool: str) -> str:
        run = self.queue.enqueue(Submission(Documents(book), pool=pool, submitted_by="test"))
        self.workers.wake()
        return run.id

    def rounds_until(self, done: Callable[[], bool], timeout: float = 180.0) -> None:
        """Manager rounds (the workers run in their thread) until ``done``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"never got there; launches: {self.launches_all()}")
            self.manager.tick()
            time.sleep(0.1)

    def states(self, run_ids: list[str]) -> list[RunState]:
        reader = self.engine.store.reader
        return [r.state for r in (reader.run(i) for i in run_ids) if r is not None]

    def all_ended(self, run_ids: list[str]) -> bool:
        return all(s.finished for s in self.states(run_ids)) and len(run_ids) == len(
            self.states(run_ids)
        )

    def launches_all(self) -> list[Any]:
        return [launch for p in self.engine.store.pools.pools() for launch in
                self.engine.store.pools.launches(p.name)]  # fmt: skip

    def live(self, pool: str) -> list[Any]:
        return [
            launch
            for launch in self.engine.store.pools.launches(pool)
            if launch.state is not LaunchState.ENDED
        ]
