"""Two servers on a real PostgreSQL, one scheduling (it holds the lease): it is
SIGKILLed right after a tick, another takes over within a lease period, and over
the trials no tick runs twice and none is lost, checked by the tick keys and by
each run's side effect (one line per tick in a file)."""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path

from dataflow_runner.store import open_store
from tests.server.conftest import PostgresServer, Server, make_token, sh, start_server
from tests.server.schedule_helpers import Clock, eventually, put, scheduled

TRIALS = 10
LEASE = "1.5"


def _leader(store: str, servers: list[Server]) -> Server:
    def probe() -> Server | None:
        with open_store(store) as opened:
            lease = opened.scheduling.lease("scheduler")
        if lease is None or lease.expires_at < time.time():
            return None
        pid = int(lease.holder.split(":")[1])
        return next((s for s in servers if s.proc.pid == pid), None)

    return eventually(probe, "a server holding the scheduler's lease", timeout=60)


def test_the_scheduler_fails_over_and_no_tick_runs_twice_or_is_lost(
    postgres_server: PostgresServer, tmp_path: Path, work: Path
) -> None:
    store = postgres_server.new_database()
    clock = Clock(tmp_path / "clock", "2026-11-20T10:00:30Z")
    state = tmp_path / "state"
    state.mkdir()
    token = make_token(state, store, "root", "admin")
    args = ("--clock-file", str(clock.path), "--scheduler-lease", LEASE)

    def server() -> Server:
        started = start_server(state, store, args=args)
        started.token = token
        return started

    servers = [server(), server()]
    book = scheduled(
        "failover",
        # Ticks missed while nobody scheduled are caught up (the last 3).
        {"cron": "* * * * *", "catchUp": {"last": 3}, "maxActiveRuns": 20},
        [sh("note", f"echo '{{{{.tick}}}}' >> {work}/ticks.txt")],
    )
    put(servers[0], "failover", book, work)
    expected = []
    try:
        for trial in range(TRIALS):
            clock.advance(minutes=1)
            tick = clock.now.replace(second=0).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            expected.append(tick)
            with open_store(store) as opened:
                eventually(
                    lambda t=tick: t in opened.scheduling.taken("failover", [t]) or None,
                    f"tick {tick} of trial {trial}",
                    timeout=60,
                )
            leader = _leader(store, servers)
            leader.stop(signal.SIGKILL)
            servers.remove(leader)
            servers.append(server())
        alive = servers[0]
        with open_store(store) as opened:
            ticks = list(opened.scheduling.last_ticks("failover", 100))
        refs = sorted(t.tick.ref for t in ticks)
        assert refs == sorted(set(refs))  # (the key is unique: never twice)
        assert set(expected) <= set(refs)  # none lost
        for found in ticks:
            assert alive.wait(found.tick.run_id)["state"] == "COMPLETED"
        lines = (work / "ticks.txt").read_text().splitlines()
        assert sorted(lines) == sorted(set(lines)), "a tick ran twice"
        assert {line.strip() for line in lines} == set(refs)
    finally:
        for running in servers:
            running.stop()
