"""Airflow 3 beside the server case: the same 20 clients trigger a trivial DAG (three
``BashOperator`` tasks running ``true``, one after the other) through Airflow's REST
API (``POST /api/v2/dags/trivial/dagRuns``), on ``airflow standalone`` in its own
virtualenv, ``AIRFLOW_VENV``, with its metadata database on PostgreSQL (the
LocalExecutor; standalone's default SQLite cannot take 20 concurrent clients: its
API answers 500, "database is locked", see docs/benchmarks.md):

    python3 -m venv /tmp/airflow-venv
    /tmp/airflow-venv/bin/pip install "apache-airflow>=3,<4" psycopg2-binary asyncpg

Measured: the trigger latency (p50, p99), and how many of the triggered runs ended
within ``FINISH_WINDOW`` seconds of the last trigger (waiting for a thousand would
take the bench's whole budget). Without the virtualenv, or when Airflow does not
start, the result says why.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

AIRFLOW_VENV = Path(os.environ.get("AIRFLOW_VENV", "/tmp/airflow-venv"))
FINISH_WINDOW = 60.0

DAG = """\
import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG("trivial", schedule=None, start_date=datetime.datetime(2026, 1, 1),
         catchup=False, max_active_runs=10000):
    one = BashOperator(task_id="one", bash_command="true")
    two = BashOperator(task_id="two", bash_command="true")
    three = BashOperator(task_id="three", bash_command="true")
    one >> two >> three
"""


def airflow_case(
    scratch: Path, *, runs: int, clients: int, database: str | None = None
) -> dict[str, Any]:
    """Airflow's trigger under load; ``database``: a PostgreSQL URL for its metadata
    database (SQLAlchemy's, ``postgresql+psycopg2://...``; psycopg2-binary and
    asyncpg in its virtualenv), else standalone's SQLite."""
    exe = AIRFLOW_VENV / "bin" / "airflow"
    if not exe.exists():
        return {"measured": False, "why": f"no Airflow at {exe} (see bench/airflow_bench.py)"}
    version = subprocess.run(
        [str(exe), "version"], capture_output=True, text=True, check=False, timeout=120
    ).stdout.strip()
    home = Path(tempfile.mkdtemp(prefix="airflow-", dir=scratch))
    (home / "dags").mkdir()
    (home / "dags" / "trivial.py").write_text(DAG)
    from server import free_port, load, percentile

    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{exe.parent}:{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__PORT": str(port),
        # Where the tasks report to (by default port 8080's).
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    if database:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = database
        env["AIRFLOW__CORE__EXECUTOR"] = "LocalExecutor"
    log = open(home / "standalone.log", "wb")  # noqa: SIM115 - open while it runs
    proc = subprocess.Popen(
        [str(exe), "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        token, started_in = _ready(url, proc, home)

        def trigger(http: Any) -> str:
            response = http.post("/api/v2/dags/trivial/dagRuns", json={"logical_date": None})
            if response.status_code != 200:
                raise RuntimeError(f"{response.status_code} {response.text[:200]}")
            return str(response.json()["dag_run_id"])

        failures: list[str] = []
        latencies, _ids, began = load([url], token, runs, clients, trigger, failures)
        triggered = time.time()
        time.sleep(FINISH_WINDOW)  # a fixed window, the same for every run of the bench
        ended = _ended(url, token)
        rss = _tree_rss_kib(proc.pid)
        return {
            "measured": True,
            "version": version,
            "database": "PostgreSQL" if database else "SQLite",
            "start_seconds": started_in,
            "runs": runs,
            "clients": clients,
            "trigger_p50_ms": statistics.median(latencies) * 1000 if latencies else None,
            "trigger_p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
            "trigger_seconds": triggered - began,
            "triggers_accepted": len(latencies),
            "triggers_failed": len(failures),
            "first_failure": failures[0][:300] if failures else None,
            "ended_within_window": ended,
            "window_seconds": FINISH_WINDOW,
            "processes_rss_mib": round(rss / 1024, 1),
        }
    except Exception as exc:  # recorded: Airflow is a peer, not this project
        tail = (home / "standalone.log").read_text(errors="replace")[-1500:]
        return {"measured": False, "version": version, "why": f"{exc!r}", "log_tail": tail}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def _ready(url: str, proc: subprocess.Popen[bytes], home: Path) -> tuple[str, float]:
    """A token once the API answers and the DAG is registered; how long it took."""
    import httpx

    t = time.monotonic()
    deadline = t + 300
    while True:
        if proc.poll() is not None:
            raise RuntimeError("airflow standalone exited")
        with contextlib.suppress(httpx.TransportError, KeyError, ValueError):
            token = httpx.get(f"{url}/auth/token", timeout=5).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            found = httpx.get(f"{url}/api/v2/dags/trivial", headers=headers, timeout=5)
            if found.status_code == 200 and not found.json().get("is_paused"):
                return str(token), time.monotonic() - t
        if time.monotonic() > deadline:
            raise RuntimeError("Airflow's API or the DAG was not ready within 300 s")
        time.sleep(0.5)


def _ended(url: str, token: str) -> int:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(
        f"{url}/api/v2/dags/trivial/dagRuns",
        params={"state": "success", "limit": 1},
        headers=headers,
        timeout=60,
    )
    return int(response.json()["total_entries"])


def _tree_rss_kib(pid: int) -> int:
    """The resident memory of the process group's processes now (KiB)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            if os.getpgid(int(entry.name)) != pid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total
