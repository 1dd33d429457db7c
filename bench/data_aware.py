"""The data-aware case: planning a backfill of 365 daily partitions of a 10-step
playbook, that is 3,650 outputs to check, half of them present (step ``k`` of
day ``i`` when ``i + k`` is even), so that every day has something to run.

Measured side by side on the same files, in interleaved rounds:

- ``make -n``: the 3,650 targets' timestamps and what would be remade, printed
  (the physical baseline, as for the workloads);
- ``dataflow-runner backfill --dry-run``: the command line, end to end;
- ``Engine.preview`` in a process that has imported the tool (the plan alone);
- Luigi's ``RangeDaily`` over the same 365 x 10 tasks: each day a task whose
  outputs are its ten steps' (``RangeDaily`` lists the output directories to find
  the missing days, Luigi's bulk check), scheduled by Luigi's worker
  (``Worker.add``: every completeness check and the dependency graph, nothing run);
  the process end to end, and the scheduling alone.

On moto's S3 (its server over HTTP, calls counted by it), the same plan with the
outputs as S3 directories (``_SUCCESS`` and a part file each): the number of
``ListObjectsV2`` and ``HeadObject`` calls for the 3,650 checks.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = 10
FIRST = dt.date(2025, 1, 1)
PLAYBOOK = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0"
CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"

#: The commands that print the time of the plan alone (after their imports).
PRINT_TIMES = ("dataflow-runner Engine.preview", "luigi RangeDaily (scheduled)")

Measure = Callable[[list[str], Path, dict[str, str]], tuple[float, int]]


def days(n: int) -> list[str]:
    return [(FIRST + dt.timedelta(days=i)).isoformat() for i in range(n)]


def present(day_index: int, step: int) -> bool:
    return (day_index + step) % 2 == 0


def book(d: Path, output: str, **extra: object) -> Path:
    """The 10-step daily playbook; ``output``: step K's output, ``{k}`` and the date
    template in it."""
    steps = []
    for k in range(STEPS):
        step: dict[str, object] = {
            "id": f"s{k}",
            "type": "COMMAND",
            "command": ["true"],
            "outputs": [output.format(k=k)],
        }
        if k:
            step["inputs"] = [output.format(k=k - 1)]
        steps.append(step)
    data = {
        "name": "daily",
        "concurrency": 4,
        "partitions": {"every": "day", "start": FIRST.isoformat()},
        "steps": steps,
        **extra,
    }
    path = d / "playbook.json"
    path.write_text(json.dumps({"schema": PLAYBOOK, "data": data}))
    return path


def write_files(d: Path, n: int) -> tuple[Path, Path]:
    """The local case: half the outputs, this tool's config and playbook, a Makefile."""
    cluster = d / "cluster.json"
    cluster.write_text(
        json.dumps({"schema": CLUSTER, "data": {"name": "bench", "local": {"workDir": str(d)}}})
    )
    playbook = book(d, "out/s{k}/{{{{.date}}}}.txt")
    rules = []
    for i, day in enumerate(days(n)):
        for k in range(STEPS):
            target = f"out/s{k}/{day}.txt"
            needs = f"out/s{k - 1}/{day}.txt" if k else ""
            rules.append(f"{target}: {needs}\n\t@mkdir -p $(@D) && touch $@\n")
            if present(i, k):
                path = d / target
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("x")
    targets = " ".join(f"out/s{STEPS - 1}/{day}.txt" for day in days(n))
    (d / "Makefile").write_text(f".PHONY: all\nall: {targets}\n" + "".join(rules))
    return cluster, playbook


def luigi_script(d: Path, n: int) -> Path:
    last = FIRST + dt.timedelta(days=n)
    now = dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC).timestamp()
    script = d / "luigi_plan.py"
    script.write_text(
        textwrap.dedent(f"""
        import datetime, sys, time, luigi
        from luigi.tools.range import RangeDaily
        from luigi.worker import Worker
        from luigi.scheduler import Scheduler
        OUT = {str(d / "out")!r}

        class Step(luigi.Task):
            date = luigi.DateParameter()
            k = luigi.IntParameter()

            def requires(self):
                return Step(date=self.date, k=self.k - 1) if self.k else []

            def output(self):
                return luigi.LocalTarget(f"{{OUT}}/s{{self.k}}/{{self.date:%Y-%m-%d}}.txt")

        class Day(luigi.Task):
            date = luigi.DateParameter()

            def requires(self):
                return [Step(date=self.date, k=k) for k in range({STEPS})]

            def output(self):
                return [step.output() for step in self.requires()]

        started = time.perf_counter()
        days = RangeDaily(of=Day, start=datetime.date({FIRST.year}, {FIRST.month}, {FIRST.day}),
                          stop=datetime.date({last.year}, {last.month}, {last.day}),
                          now={int(now)}, days_back={n + 1}, task_limit={n})
        with Worker(scheduler=Scheduler(), worker_processes=1) as worker:
            assert worker.add(days)
        missing = len(days.requires())
        print(f"{{time.perf_counter() - started}} {{missing}}")
        """)
    )
    return script


def in_process_script(d: Path, cluster: Path, playbook: Path, last: str) -> Path:
    script = d / "preview.py"
    script.write_text(
        textwrap.dedent(f"""
        import time
        from pathlib import Path
        from dataflow_runner import Engine, RunRequest, load_cluster
        from dataflow_runner.config.source import PlaybookSource
        from dataflow_runner.data.partitions import Window

        with Engine(state_dir=Path({str(d / "home")!r})) as engine:
            started = time.perf_counter()
            request = RunRequest(
                source=PlaybookSource({str(playbook)!r}, {{}}),
                cluster=load_cluster({str(cluster)!r}, {{}}),
                window=Window({FIRST.isoformat()!r}, {last!r}),
            )
            grid = engine.preview(request)
            print(time.perf_counter() - started, grid.totals()["done"])
        """)
    )
    return script


def local_case(
    scratch: Path, repeats: int, measure: Measure, *, n: int = 365, luigi: str | None = None
) -> dict[str, object]:
    """Wall seconds (medians), peak RSS, and the in-process times, per command."""
    d = scratch / f"data-{n}"
    d.mkdir(parents=True, exist_ok=True)
    cluster, playbook = write_files(d, n)
    last = days(n)[-1]
    exe = str(Path(sys.executable).parent / "dataflow-runner")
    env = {**os.environ, "DATAFLOW_RUNNER_HOME": str(d / "home")}
    files = ["--emr-config", str(cluster), "--emr-playbook", str(playbook)]
    window = ["--from", FIRST.isoformat(), "--to", last]
    commands = {
        "make -n": ["make", "-n", "-f", str(d / "Makefile"), "all"],
        "dataflow-runner backfill --dry-run": [exe, "backfill", *files, *window, "--dry-run"],
        "dataflow-runner Engine.preview": [
            sys.executable,
            str(in_process_script(d, cluster, playbook, last)),
        ],
    }
    if luigi is not None:
        commands["luigi RangeDaily (scheduled)"] = [luigi, str(luigi_script(d, n))]
    walls: dict[str, list[float]] = {label: [] for label in commands}
    inner: dict[str, list[float]] = {}
    rss: dict[str, int] = {}
    for cmd in commands.values():
        measure(cmd, d, env)  # warm-up: bytecode, the page cache
    for _ in range(repeats):
        for label, cmd in commands.items():
            if label in PRINT_TIMES:  # these print the time of the plan itself
                wall, peak, printed = _timed(cmd, d, env)
                inner.setdefault(label, []).append(printed)
            else:
                wall, peak = measure(cmd, d, env)
            walls[label].append(wall)
            rss[label] = max(rss.get(label, 0), peak)
    return {
        "partitions": n,
        "steps": STEPS,
        "outputs": n * STEPS,
        "wall": {label: statistics.median(w) for label, w in walls.items()},
        "inner": {label: statistics.median(w) for label, w in inner.items()},
        "rss_kib": rss,
    }


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, float]:
    """Like bench/run's ``measure``, for a command that prints its own time first."""
    import time

    with open(cwd / "stderr.log", "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err)
        out = proc.stdout.read() if proc.stdout else b""
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        tail = (cwd / "stderr.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{tail}")
    lines = out.decode().split()
    printed = float(lines[0]) if lines else 0.0
    return wall, int(usage.ru_maxrss), printed


def s3_case(scratch: Path, *, n: int = 365) -> dict[str, object]:
    """The same plan with S3 outputs on moto's server: the calls it took."""
    import time

    sys.path.insert(0, str(ROOT))
    from tests.emr_server import REGION, put_object, running_server
    from tests.integration.test_emr import cluster_file

    d = scratch / f"data-s3-{n}"
    d.mkdir(parents=True, exist_ok=True)
    with running_server() as server:
        cluster = cluster_file(d)
        playbook = book(d, "s3://bench-lake/out/s{k}/{{{{.date}}}}/", region=REGION)
        for i, day in enumerate(days(n)):
            for k in range(STEPS):
                if present(i, k):
                    put_object(f"s3://bench-lake/out/s{k}/{day}/part-00000.parquet", b"rows")
                    put_object(f"s3://bench-lake/out/s{k}/{day}/_SUCCESS")
        env = {**os.environ, **server.env(), "DATAFLOW_RUNNER_HOME": str(d / "home")}
        cmd = [sys.executable, "-m", "dataflow_runner", "backfill"]
        cmd += ["--emr-config", str(cluster), "--emr-playbook", str(playbook)]
        cmd += ["--from", FIRST.isoformat(), "--to", days(n)[-1], "--dry-run"]
        server.faults.calls.clear()
        started = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"the S3 backfill --dry-run failed:\n{done.stderr[-2000:]}")
        calls = dict(server.faults.calls)
    return {
        "outputs": n * STEPS,
        "objects": sum(present(i, k) for i in range(n) for k in range(STEPS)) * 2,
        "list_calls": calls.get("ListObjectsV2", 0),
        "head_calls": calls.get("HeadObject", 0),
        "calls": calls,
        "wall_on_moto": wall,
    }
