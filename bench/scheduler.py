"""The scheduler case: N schedules (default 1,000) with per-minute crons on one
server's engine (SQLite store in a temporary state directory, the local fabric).

Measured:

- the scheduler's own CPU per tick (``time.process_time`` around one
  ``Scheduler.round``): a round that starts a run for every schedule (the tick),
  and a quiet round (no tick due: every schedule looked at, nothing started);
- the delay from a tick to its run's first step starting (p50/p99), with
  ``--slots`` runs executed at once by the workers: the clock is the real time
  shifted so that a minute boundary comes half a second after the schedules are
  in place, and each run's first step's recorded start is compared with it.

    python bench/scheduler.py [--schedules 1000] [--slots 16] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--patience", type=float, default=600.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from dataflow_runner.engine import saved
    from dataflow_runner.engine.api import Engine
    from dataflow_runner.engine.payload import Keyring
    from dataflow_runner.engine.queue import RunQueue
    from dataflow_runner.engine.schedules import Scheduler
    from dataflow_runner.engine.workers import Workers

    state = Path(tempfile.mkdtemp(prefix="dfr-bench-sched-"))
    work = state / "work"
    work.mkdir()
    offset = [0.0]
    engine = Engine(state_dir=state, clock=lambda: time.time() + offset[0])
    keyring = Keyring.load(None, state)
    queue = RunQueue(engine, keyring)
    scheduler = Scheduler(engine, queue, keyring)
    scheduler.lease.hold()
    cluster = {"schema": "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0",
               "data": {"name": "bench", "fabric": "local",
                        "local": {"workDir": str(work), "concurrency": 4}}}  # fmt: skip
    # The schedules exist from a minute before the clock's "now".
    now = time.time()
    next_minute = (int(now) // 60 + 1) * 60
    offset[0] = next_minute - now - 60.0
    started = time.perf_counter()
    for i in range(args.schedules):
        step = {"id": "a", "type": "COMMAND", "command": ["true"]}
        data = {"name": f"s{i}", "schedule": {"cron": "* * * * *"}, "steps": [step]}
        book = {"schema": "iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0", "data": data}
        saved.put(engine, keyring, f"s{i}", playbook=book, cluster=cluster, pool=None,
                  variables={}, by="bench")  # fmt: skip
    setup = time.perf_counter() - started
    # A quiet round: no tick due since they exist (the schedules are loaded, cached).
    scheduler.round()
    cpu = time.process_time()
    scheduler.round()
    quiet = time.process_time() - cpu
    # The tick: half a second from now, in real time.
    offset[0] = next_minute - time.time() - 0.5
    tick_real = time.time() + 0.5
    time.sleep(max(0.0, tick_real - time.time()) + 0.01)
    cpu, wall = time.process_time(), time.perf_counter()
    ids = scheduler.round()
    tick_cpu, tick_wall = time.process_time() - cpu, time.perf_counter() - wall
    workers = Workers(queue, slots=args.slots, interval=0.1)
    workers.start()
    delays: list[float] = []
    deadline = time.monotonic() + args.patience
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for run_id in list(pending):
            steps = engine.store.reader.steps(run_id)
            if steps and steps[0].started_at is not None:
                delays.append(steps[0].started_at - tick_real)
                pending.discard(run_id)
        time.sleep(0.2)
    workers.stop(timeout=30)
    result: dict[str, Any] = {
        "schedules": args.schedules,
        "slots": args.slots,
        "setup_s": round(setup, 2),
        "quiet_round_cpu_s": round(quiet, 4),
        "tick_round_cpu_s": round(tick_cpu, 3),
        "tick_round_wall_s": round(tick_wall, 3),
        "runs_started": len(ids),
        "first_steps_seen": len(delays),
        "delay_p50_s": round(_percentile(delays, 0.5), 2) if delays else None,
        "delay_p99_s": round(_percentile(delays, 0.99), 2) if delays else None,
        "delay_mean_s": round(statistics.fmean(delays), 2) if delays else None,
    }
    engine.close()
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
