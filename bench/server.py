"""The server case: ``dataflow-runner server`` under load, on this machine.

- **Throughput**: 1,000 runs of a three-step trivial playbook (the local fabric,
  each step ``true``, one after the other) submitted by 20 concurrent clients
  (threads, each with its own httpx connection) to one server on SQLite, and to
  two servers on one PostgreSQL (clients split between them). Measured: the
  latency of each ``POST /api/v1/runs`` (p50, p99), the runs finished per second
  (from the first submit to the last run's end, as the store records it), and
  each server process's peak RSS (``VmHWM`` of ``/proc/PID/status``: the server
  alone, not the steps' processes).
- **Pages**: 100,000 runs in the store (written in one transaction through the
  store's own insert statement: nothing is run), then ``GET /api/v1/runs`` (the
  first page, filtered by state and by playbook, and a page deep down through its
  cursor) and the UI's Runs page when the server has one (``RUNS_PAGE``: a 404
  there is recorded as "no page yet"): 200 sequential requests each, p50/p99.
  The guard is a p99 under 150 ms.
- **Airflow 3** beside it, when ``/tmp/airflow-venv`` holds one that runs
  (``airflow_case``): its REST ``dagRuns`` trigger under the same 20 clients.

    bench/run --only server           the whole case (minutes)
    bench/run --only server --quick   a smoke run: 40 runs, 4 clients, 2,000 runs stored
    python bench/server.py [--quick]  the same, printing JSON
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"
PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0"
#: The UI's Runs page, once the UI is there (branch issue17-ui): measured if it answers.
RUNS_PAGE = "/runs"
#: The guard of the pages' case.
PAGE_P99_MS = 150.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def env() -> dict[str, str]:
    """The servers' environment: this checkout's code, one shared secret key."""
    found = {k: v for k, v in os.environ.items() if not k.startswith("DATAFLOW_RUNNER_")}
    found["PYTHONPATH"] = str(ROOT / "src")
    found["DATAFLOW_RUNNER_SECRET_KEY"] = KEY
    return found


KEY = ""


def _key() -> str:
    global KEY
    if not KEY:
        from cryptography.fernet import Fernet

        KEY = Fernet.generate_key().decode()
    return KEY


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def peak_rss_kib(self) -> int:
        """The server process's high-water mark of resident memory."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_server(state: Path, store: str | None, workers: int) -> Server:
    import httpx

    _key()
    port = free_port()
    state.mkdir(parents=True, exist_ok=True)
    log = state / f"server-{port}.log"
    cmd = [sys.executable, "-m", "dataflow_runner", "server", "--port", str(port),
           "--state-dir", str(state), "--workers", str(workers)]  # fmt: skip
    if store:
        cmd += ["--store", store]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env())
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.url}/api/v1/healthz", timeout=2).status_code == 200:
                return server
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the server did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.05)


def make_token(state: Path, store: str | None) -> str:
    sys.path.insert(0, str(ROOT / "src"))
    from dataflow_runner.engine import tokens
    from dataflow_runner.engine.api import Engine

    with Engine(state_dir=state, store=store) as engine:
        return tokens.create(engine, f"bench-{os.getpid()}-{time.monotonic_ns()}", "admin")[1]


def documents(work: Path) -> dict[str, Any]:
    steps = [
        {"id": "one", "type": "COMMAND", "command": ["true"]},
        {"id": "two", "type": "COMMAND", "command": ["true"], "dependsOn": ["one"]},
        {"id": "three", "type": "COMMAND", "command": ["true"], "dependsOn": ["two"]},
    ]
    local = {"workDir": str(work)}
    return {
        "cluster": {
            "schema": CLUSTER,
            "data": {"name": "bench", "fabric": "local", "local": local},
        },
        "playbook": {"schema": PLAYBOOK, "data": {"name": "trivial", "steps": steps}},
    }


# --- throughput ----------------------------------------------------------------------------


def load(
    urls: list[str],
    token: str,
    total: int,
    clients: int,
    request: Callable[[Any], Any],
    failures: list[str] | None = None,
) -> tuple[list[float], list[Any], float]:
    """``total`` requests from ``clients`` threads (client i calls ``urls[i %
    len(urls)]``); their latencies (seconds), their answers, and when they started.
    A failed request raises at the end, unless ``failures`` collects them."""
    import httpx

    latencies: list[float] = []
    answers: list[Any] = []
    errors: list[str] = [] if failures is None else failures
    lock = threading.Lock()
    counter = iter(range(total))
    barrier = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=urls[i % len(urls)], headers=headers, timeout=120) as http:
            barrier.wait()
            while True:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                t = time.perf_counter()
                try:
                    answer = request(http)
                except Exception as exc:  # recorded, the load goes on
                    with lock:
                        errors.append(repr(exc)[:300])
                    continue
                took = time.perf_counter() - t
                with lock:
                    latencies.append(took)
                    answers.append(answer)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.time()
    for thread in threads:
        thread.join()
    if errors and failures is None:
        raise RuntimeError(f"{len(errors)} requests failed, the first: {errors[0]}")
    return latencies, answers, started


def wait_ended(url: str, token: str, ids: list[str], timeout: float) -> list[dict[str, Any]]:
    """Every run of ``ids`` once none is QUEUED or RUNNING."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        while True:
            busy = [
                http.get("/api/v1/runs", params={"state": s, "limit": 1}).json()["items"]
                for s in ("QUEUED", "RUNNING")
            ]
            if not any(busy):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"runs still going after {timeout:.0f} s")
            time.sleep(0.5)
        runs: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = http.get("/api/v1/runs", params=params).json()
            runs += page["items"]
            cursor = page["next"]
            if not cursor:
                break
    wanted = set(ids)
    return [r for r in runs if r["id"] in wanted]


def _at(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def throughput(
    scratch: Path, store: str | None, servers: int, runs: int, clients: int, workers: int
) -> dict[str, Any]:
    """One case of the throughput part (see the module's docstring)."""
    state = scratch / "state"
    work = scratch / "work"
    work.mkdir(parents=True, exist_ok=True)
    token = make_token(state, store)
    started = [start_server(state / f"s{i}" if store else state, store, workers)
               for i in range(servers)]  # fmt: skip
    try:
        body = documents(work)

        def submit(http: Any) -> str:
            response = http.post("/api/v1/runs", json=body)
            if response.status_code != 202:
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")
            return str(response.json()["id"])

        def health(http: Any) -> int:
            return int(http.get("/api/v1/healthz").status_code)

        # The baseline: the same clients on the cheapest call of the same servers.
        floor, _, _ = load([s.url for s in started], token, runs, clients, health)
        latencies, ids, began = load([s.url for s in started], token, runs, clients, submit)
        submitted = time.time()
        ended = wait_ended(started[0].url, token, ids, timeout=max(600, runs * 2))
        rss = [s.peak_rss_kib() for s in started]
    finally:
        for s in started:
            s.stop()
    states: dict[str, int] = {}
    for run in ended:
        states[run["state"]] = states.get(run["state"], 0) + 1
    last = max(_at(r["endedAt"]) for r in ended if r.get("endedAt"))
    return {
        "servers": servers,
        "store": "PostgreSQL" if store else "SQLite",
        "workers_per_server": workers,
        "runs": runs,
        "clients": clients,
        "states": states,
        "submit_p50_ms": statistics.median(latencies) * 1000,
        "submit_p99_ms": percentile(latencies, 99) * 1000,
        "submit_seconds": submitted - began,
        "healthz_p50_ms": statistics.median(floor) * 1000,
        "healthz_p99_ms": percentile(floor, 99) * 1000,
        "runs_per_second": len(ended) / (last - began),
        "seconds": last - began,
        "server_peak_rss_mib": [round(k / 1024, 1) for k in rss],
    }


# --- pages ---------------------------------------------------------------------------------


def fill(state: Path, store: str | None, n: int) -> None:
    """``n`` ended runs (three steps each are not needed for a list: runs only),
    written in one transaction with the store's own insert statement."""
    sys.path.insert(0, str(ROOT / "src"))
    from dataflow_runner.store import open_store
    from dataflow_runner.store import queries as q
    from dataflow_runner.store.records import RunKind, RunRecord, RunState
    from dataflow_runner.store.writer import _params

    now = time.time()
    states = [RunState.COMPLETED] * 8 + [RunState.FAILED, RunState.CANCELLED]
    rows = []
    for i in range(n):
        created = now - (n - i) * 30.0
        run = RunRecord(
            id=f"r-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(created))}-{i:06x}",
            kind=RunKind.TRANSIENT,
            playbook=f"playbook-{i % 50}",
            fabric="local",
            state=states[i % len(states)],
            created_at=created,
            started_at=created + 1,
            ended_at=created + 20,
            cluster_name="bench",
            cluster_id="local",
            reason=None if i % 10 < 8 else "1/3 steps failed to complete successfully",
            submitted_by="bench",
        )
        rows.append(_params("runs", run))
    with open_store(store, state_dir=state) as opened, opened.backend.transaction() as tx:
        for start in range(0, len(rows), 5000):
            tx.execute_many(q.INSERT_RUN, rows[start : start + 5000])


def timed_gets(url: str, token: str, paths: dict[str, str], repeats: int) -> dict[str, Any]:
    import httpx

    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for label, path in paths.items():
            first = http.get(path)
            if first.status_code == 404 and path == RUNS_PAGE:
                out[label] = {"missing": "no Runs page on this server yet (the UI is not merged)"}
                continue
            if first.status_code != 200:
                raise RuntimeError(f"GET {path}: {first.status_code} {first.text[:200]}")
            walls = []
            for _ in range(repeats):
                t = time.perf_counter()
                response = http.get(path)
                walls.append(time.perf_counter() - t)
                assert response.status_code == 200
            out[label] = {
                "p50_ms": statistics.median(walls) * 1000,
                "p99_ms": percentile(walls, 99) * 1000,
                "bytes": len(first.content),
            }
    return out


def pages(scratch: Path, store: str | None, n: int, repeats: int) -> dict[str, Any]:
    state = scratch / "pages-state"
    token = make_token(state, store)
    t = time.perf_counter()
    fill(state, store, n)
    filled = time.perf_counter() - t
    server = start_server(state, store, 1)
    try:
        import httpx

        headers = {"Authorization": f"Bearer {token}"}
        deep = httpx.get(f"{server.url}/api/v1/runs", params={"limit": 1000}, headers=headers)
        cursor = deep.json()["next"]
        for _ in range(min(40, n // 1000) - 1):  # 40 pages down: the 40,001st run on
            deep = httpx.get(
                f"{server.url}/api/v1/runs",
                params={"limit": 1000, "cursor": cursor},
                headers=headers,
                timeout=60,
            )
            cursor = deep.json()["next"] or cursor
        paths = {
            "GET /api/v1/runs": "/api/v1/runs",
            "GET /api/v1/runs?state=FAILED": "/api/v1/runs?state=FAILED",
            "GET /api/v1/runs?playbook=playbook-7": "/api/v1/runs?playbook=playbook-7",
            "GET /api/v1/runs?cursor=(the 40,001st run on)": f"/api/v1/runs?cursor={cursor}",
            "GET /api/v1/runs?limit=100": "/api/v1/runs?limit=100",
            f"GET {RUNS_PAGE} (the UI's Runs page)": RUNS_PAGE,
        }
        measured = timed_gets(server.url, token, paths, repeats)
        rss = server.peak_rss_kib()
    finally:
        server.stop()
    return {
        "store": "PostgreSQL" if store else "SQLite",
        "runs_stored": n,
        "fill_seconds": filled,
        "requests_each": repeats,
        "gets": measured,
        "server_peak_rss_mib": round(rss / 1024, 1),
    }


# --- PostgreSQL ----------------------------------------------------------------------------


@contextlib.contextmanager
def postgres() -> Iterator[Any]:
    """A throwaway PostgreSQL, started as the tests start it (``tests/store/conftest.py``)."""
    sys.path.insert(0, str(ROOT))
    import shutil

    from tests.store.conftest import PG_BIN, PostgresServer, _as_postgres, _wait_ready

    root = Path(tempfile.mkdtemp(prefix="dfr-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    subprocess.run(
        [*_as_postgres(), str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
         "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    with open(root / "server.log", "wb") as log:
        server = subprocess.Popen(
            [*_as_postgres(), str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
             "-h", "127.0.0.1", "-k", str(root), "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    import itertools

    try:
        pg = PostgresServer(port, itertools.count())
        _wait_ready(pg, server, root / "server.log")
        yield pg
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        shutil.rmtree(root, ignore_errors=True)


# --- the case ------------------------------------------------------------------------------


def local_baseline(scratch: Path, repeats: int) -> float:
    """The median wall seconds of one ``run-transient`` of the same playbook, here,
    without a server (its store in its own state directory)."""
    work = scratch / "local-work"
    work.mkdir(parents=True, exist_ok=True)
    docs = documents(work)
    (scratch / "cluster.json").write_text(json.dumps(docs["cluster"]))
    (scratch / "playbook.json").write_text(json.dumps(docs["playbook"]))
    cmd = [sys.executable, "-m", "dataflow_runner", "run-transient", "--emr-config",
           str(scratch / "cluster.json"), "--emr-playbook", str(scratch / "playbook.json"),
           "--state-dir", str(scratch / "local-state")]  # fmt: skip
    walls = []
    for i in range(repeats + 1):
        t = time.perf_counter()
        subprocess.run(cmd, env=env(), check=True, capture_output=True)
        if i:  # the first is a warm-up
            walls.append(time.perf_counter() - t)
    return statistics.median(walls)


def server_case(scratch: Path, *, quick: bool = False) -> dict[str, Any]:
    """Everything of the module's docstring; ``quick``: small enough for CI."""
    runs, clients, stored, repeats = (40, 4, 2_000, 20) if quick else (1000, 20, 100_000, 200)
    workers = 4
    scratch.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"runs": runs, "clients": clients}
    with tempfile.TemporaryDirectory(dir=scratch) as d:
        out["local_run_seconds"] = local_baseline(Path(d), 3 if quick else 10)
    with tempfile.TemporaryDirectory(dir=scratch) as d:
        print("server: one server on SQLite", file=sys.stderr, flush=True)
        out["sqlite"] = throughput(Path(d), None, 1, runs, clients, workers)
    with tempfile.TemporaryDirectory(dir=scratch) as d:
        print(f"server: {stored:,} runs stored, SQLite", file=sys.stderr, flush=True)
        out["pages_sqlite"] = pages(Path(d), None, stored, repeats)
    with postgres() as pg:
        with tempfile.TemporaryDirectory(dir=scratch) as d:
            print("server: two servers on PostgreSQL", file=sys.stderr, flush=True)
            out["postgresql"] = throughput(Path(d), pg.new_database(), 2, runs, clients, workers)
        with tempfile.TemporaryDirectory(dir=scratch) as d:
            print(f"server: {stored:,} runs stored, PostgreSQL", file=sys.stderr, flush=True)
            out["pages_postgresql"] = pages(Path(d), pg.new_database(), stored, repeats)
        if quick or os.environ.get("BENCH_NO_AIRFLOW"):
            out["airflow"] = {"measured": False, "why": "not in --quick (or BENCH_NO_AIRFLOW)"}
        else:
            from airflow_bench import airflow_case

            print("server: Airflow 3 beside it, on PostgreSQL", file=sys.stderr, flush=True)
            url = pg.new_database().replace("postgresql://", "postgresql+psycopg2://")
            out["airflow"] = airflow_case(scratch, runs=runs, clients=clients, database=url)
    return out


def check(result: dict[str, Any]) -> list[str]:
    """What the case's guards say is wrong (nothing: all is well)."""
    problems = []
    for key in ("sqlite", "postgresql"):
        states = result[key]["states"]
        if states != {"COMPLETED": result["runs"]}:
            problems.append(f"{key}: the runs ended {states}")
    for key in ("pages_sqlite", "pages_postgresql"):
        for label, figures in result[key]["gets"].items():
            if "p99_ms" in figures and figures["p99_ms"] >= PAGE_P99_MS:
                problems.append(f"{key}: {label}: p99 {figures['p99_ms']:.0f} ms")
    return problems


def main() -> int:
    quick = "--quick" in sys.argv
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    result = server_case(Path(__file__).resolve().parent / ".cache" / "server", quick=quick)
    print(json.dumps(result, indent=2))
    problems = check(result)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


def report_section(result: dict[str, Any], date: str) -> list[str]:
    """The case's section of docs/benchmarks.md."""
    lines = [
        f"## The server ({date})",
        "",
        f"{result['runs']:,} runs of a three-step playbook (the local fabric, each step "
        f"`true`, one after the other) submitted by {result['clients']} concurrent clients "
        "(threads, httpx), each server with 4 workers; submit latency is the "
        "`POST /api/v1/runs` round trip, runs/s from the first submit to the last run's "
        "end, peak RSS the server process's (`VmHWM`).",
        "",
        "Baselines of the same session: `GET /api/v1/healthz` from the same clients to "
        "the same servers (the HTTP stack's floor) for the latencies; one local "
        f"`run-transient` of the playbook at a time ({result['local_run_seconds']:.3f} s "
        f"each, {1 / result['local_run_seconds']:.1f} runs/s) for the throughput.",
        "",
        "| servers | store | submit p50 (x healthz) | submit p99 (x healthz) | "
        "runs finished/s (x one local CLI) | server peak RSS |",
        "|---|---|---:|---:|---:|---:|",
    ]
    local_rate = 1 / result["local_run_seconds"]
    for key in ("sqlite", "postgresql"):
        r = result[key]
        done = r["states"].get("COMPLETED", 0)
        lines.append(
            f"| {r['servers']} | {r['store']} | {r['submit_p50_ms']:.1f} ms "
            f"({r['submit_p50_ms'] / r['healthz_p50_ms']:.1f}x) | {r['submit_p99_ms']:.1f} ms "
            f"({r['submit_p99_ms'] / r['healthz_p99_ms']:.1f}x) | "
            f"{r['runs_per_second']:.1f} ({r['runs_per_second'] / local_rate:.1f}x; "
            f"{done:,} COMPLETED in {r['seconds']:.0f} s) | "
            + " + ".join(f"{m:.0f} MiB" for m in r["server_peak_rss_mib"])
            + " |"
        )
    airflow = result.get("airflow") or {}
    if airflow.get("measured"):
        lines.append(
            f"| Airflow {airflow['version']} standalone (LocalExecutor) | "
            f"{airflow.get('database', 'SQLite')} | "
            f"{airflow['trigger_p50_ms']:.1f} ms (trigger) | "
            f"{airflow['trigger_p99_ms']:.1f} ms (trigger) | "
            + (
                f"{airflow['ended_within_window'] / airflow['window_seconds']:.1f} "
                f"({airflow['ended_within_window']:,} ended in the "
                f"{airflow['window_seconds']:.0f} s after the last trigger)"
                if airflow["ended_within_window"]
                else f"- (none ended within {airflow['window_seconds']:.0f} s: see below)"
            )
            + f" | {airflow['processes_rss_mib']:.0f} MiB (all its processes) |"
        )
    else:
        lines.append(f"| Airflow 3 | - | not measured: {airflow.get('why', '-')} | | | |")
    lines.append("")
    for key in ("pages_sqlite", "pages_postgresql"):
        p = result[key]
        lines += [
            f"With **{p['runs_stored']:,} runs** in the {p['store']} store "
            f"({p['requests_each']} sequential requests each, one server; guard: "
            f"p99 < {PAGE_P99_MS:.0f} ms):",
            "",
            "| request | p50 | p99 | bytes |",
            "|---|---:|---:|---:|",
        ]
        for label, figures in p["gets"].items():
            if "missing" in figures:
                lines.append(f"| `{label}` | {figures['missing']} | | |")
                continue
            lines.append(
                f"| `{label}` | {figures['p50_ms']:.1f} ms | {figures['p99_ms']:.1f} ms | "
                f"{figures['bytes']:,} |"
            )
        lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
