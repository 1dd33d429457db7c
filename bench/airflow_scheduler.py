"""Airflow 3's scheduler beside ours (bench/scheduler.py): N one-task DAGs (default
1,000), each its own file, ``schedule="* * * * *"``, ``catchup=False``, a
``start_date`` a day ago, unpaused at creation. Airflow runs from its own virtualenv,
``AIRFLOW_VENV`` (see bench/airflow_bench.py for how it is installed), as three
processes started here: ``airflow scheduler`` (LocalExecutor), ``airflow
dag-processor`` and ``airflow api-server`` (the execution API its tasks report to),
on a fresh PostgreSQL database from bench/server.py's ``postgres()``.

Settings: Airflow's defaults except ``[core] parallelism = --slots`` (16: our
server's 16 slots) and what is needed to run at all (no examples, unpaused at
creation, the execution API's URL, one JWT secret shared by the three processes).
Its defaults that bear on the result: ``[scheduler] max_dagruns_to_create_per_loop
= 10``, ``max_dagruns_per_loop_to_schedule = 20``, ``max_tis_per_query = 16``,
``[dag_processor] parsing_processes = 2``, ``min_file_process_interval = 30``.

Measured, once every DAG is parsed, over ``--minutes`` minute ticks (the window
opens 2 s before a minute boundary and lasts ``--minutes`` minutes):

- the scheduler process's own CPU (``utime + stime`` of /proc/PID/stat, not its
  executor's worker processes) per tick; the dag-processor's own CPU likewise, and
  with the parsing children it reaped (``cutime + cstime``);
- from Airflow's metadata database: for each tick inside the window and each DAG,
  its scheduled run (``dag_run.run_after``, the tick) and its task's
  ``task_instance.start_date``: the delay p50/p99 over the tasks that started
  within the window, and how many of the expected runs were created and started.

    python bench/airflow_scheduler.py [--dags 1000] [--minutes 4] [--slots 16]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

AIRFLOW_VENV = Path(os.environ.get("AIRFLOW_VENV", "/tmp/airflow-venv"))
CLK_TCK = os.sysconf("SC_CLK_TCK")

DAG = """\
import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

with DAG("{name}", schedule="* * * * *", catchup=False,
         start_date=datetime.datetime.fromisoformat("{start}")):
    BashOperator(task_id="one", bash_command="true")
"""


def _cpu(pid: int) -> tuple[float, float]:
    """A process's own CPU seconds (utime + stime), and those of the children it
    reaped (cutime + cstime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime) / CLK_TCK, (cutime + cstime) / CLK_TCK


def _query(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return list(conn.execute(sql.encode(), args).fetchall())


def _start(exe: Path, args: list[str], env: dict[str, str], home: Path) -> subprocess.Popen[bytes]:
    log = open(home / f"{args[0]}.log", "wb")  # noqa: SIM115 - open while it runs
    return subprocess.Popen(
        [str(exe), *args], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_parsed(
    dsn: str, dags: int, procs: dict[str, subprocess.Popen[bytes]], patience: float
) -> float:
    """Seconds until every DAG is in the ``dag`` table, unpaused and not stale."""
    t = time.monotonic()
    while True:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}")
        with contextlib.suppress(Exception):  # the tables appear with the migration
            sql = "SELECT count(*) FROM dag WHERE NOT is_stale AND NOT is_paused"
            (found,) = _query(dsn, sql)[0]
            if found >= dags:
                return time.monotonic() - t
        if time.monotonic() - t > patience:
            raise RuntimeError(f"{dags} DAGs were not parsed within {patience:.0f} s")
        time.sleep(2)


def measure(scratch: Path, dsn: str, *, dags: int, minutes: int, slots: int) -> dict[str, Any]:
    exe = AIRFLOW_VENV / "bin" / "airflow"
    if not exe.exists():
        return {"measured": False, "why": f"no Airflow at {exe} (see bench/airflow_bench.py)"}
    version = subprocess.run(
        [str(exe), "version"], capture_output=True, text=True, check=False, timeout=120
    ).stdout.strip()
    home = Path(tempfile.mkdtemp(prefix="airflow-sched-", dir=scratch))
    folder = home / "dags"
    folder.mkdir()
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).replace(microsecond=0)
    for i in range(dags):
        name = f"tick_{i:04d}"
        (folder / f"{name}.py").write_text(DAG.format(name=name, start=start.isoformat()))
    from server import free_port

    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{exe.parent}:{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(slots),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": dsn.replace(
            "postgresql://", "postgresql+psycopg2://"
        ),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }
    t = time.monotonic()
    migrate = subprocess.run(
        [str(exe), "db", "migrate"], env=env, capture_output=True, text=True, check=False
    )
    if migrate.returncode:
        return {"measured": False, "version": version, "why": migrate.stderr[-1500:]}
    migrate_seconds = time.monotonic() - t
    procs = {
        "api-server": _start(exe, ["api-server", "--port", str(port)], env, home),
        "dag-processor": _start(exe, ["dag-processor"], env, home),
        "scheduler": _start(exe, ["scheduler"], env, home),
    }
    processor, scheduler = procs["dag-processor"], procs["scheduler"]
    try:
        parsed_in = _wait_parsed(dsn, dags, procs, patience=600)
        # The window: from 2 s before the next minute boundary, ``minutes`` minutes.
        now = time.time()
        first_tick = (int(now) // 60 + 1) * 60
        if first_tick - now < 3:
            first_tick += 60
        time.sleep(first_tick - 2 - time.time())
        sched0, proc0 = _cpu(scheduler.pid), _cpu(processor.pid)
        opened = time.time()
        time.sleep(first_tick - 2 + 60 * minutes - time.time())
        sched1, proc1 = _cpu(scheduler.pid), _cpu(processor.pid)
        closed = time.time()
        ticks = [dt.datetime.fromtimestamp(first_tick + 60 * i, dt.UTC) for i in range(minutes)]
        rows = _query(
            dsn,
            "SELECT r.run_after, ti.start_date FROM dag_run r "
            "LEFT JOIN task_instance ti ON ti.dag_id = r.dag_id AND ti.run_id = r.run_id "
            "WHERE r.run_type = 'scheduled' AND r.run_after BETWEEN %s AND %s",
            ticks[0],
            ticks[-1],
        )
        end = dt.datetime.fromtimestamp(closed, dt.UTC)
        delays = [
            (started - tick).total_seconds()
            for tick, started in rows  # tick: run_after, a minute boundary
            if started is not None and started <= end
        ]
        from server import percentile

        return {
            "measured": True,
            "version": version,
            "dags": dags,
            "slots": slots,
            "migrate_seconds": round(migrate_seconds, 1),
            "parsed_seconds": round(parsed_in, 1),
            "window": [
                dt.datetime.fromtimestamp(opened, dt.UTC).isoformat(timespec="seconds"),
                end.isoformat(timespec="seconds"),
            ],
            "ticks": minutes,
            "scheduler_cpu_per_tick_s": round((sched1[0] - sched0[0]) / minutes, 2),
            "dag_processor_cpu_per_tick_s": round((proc1[0] - proc0[0]) / minutes, 2),
            "dag_processor_with_children_cpu_per_tick_s": round(
                (proc1[0] + proc1[1] - proc0[0] - proc0[1]) / minutes, 2
            ),
            "expected_runs": dags * minutes,
            "runs_created": len(rows),
            "runs_started": len(delays),
            "delay_p50_s": round(statistics.median(delays), 1) if delays else None,
            "delay_p99_s": round(percentile(delays, 99), 1) if delays else None,
            "delay_max_s": round(max(delays), 1) if delays else None,
        }
    except Exception as exc:  # recorded: Airflow is a peer, not this project
        tail = {name: (home / f"{name}.log").read_text(errors="replace")[-1500:]
                for name in procs}  # fmt: skip
        return {"measured": False, "version": version, "why": repr(exc), "log_tails": tail}
    finally:
        for proc in reversed(procs.values()):
            _stop(proc)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dags", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=4)
    parser.add_argument("--slots", type=int, default=16)
    args = parser.parse_args()
    from server import postgres

    with tempfile.TemporaryDirectory(prefix="dfr-bench-airflow-") as scratch, postgres() as pg:
        result = measure(
            Path(scratch), pg.new_database(), dags=args.dags, minutes=args.minutes,
            slots=args.slots,
        )  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
