"""The tools compared: this project, GNU make (the baseline), and the Python
orchestrators users would pick instead, each in its own virtualenv."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from workloads import Workload, write_native

CACHE = Path(__file__).resolve().parent / ".cache"


@dataclass
class Tool:
    name: str
    packages: list[str] = field(default_factory=list)

    @property
    def venv(self) -> Path:
        return CACHE / "venvs" / self.name

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def install(self) -> None:
        if not self.packages or (self.venv / ".installed").exists():
            return
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(self.venv)], check=True)
        done = subprocess.run(
            [self.python, "-m", "pip", "install", "-q", *self.packages],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"pip install {' '.join(self.packages)} failed: {done.stderr[-1000:]}"
            )
        (self.venv / ".installed").write_text("ok")

    def version(self) -> str:
        package = re.split(r"[<>=!~\[]", self.packages[0])[0]
        out = subprocess.run(
            [self.python, "-m", "pip", "show", package], capture_output=True, text=True, check=True
        ).stdout
        return next(
            line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Version:")
        )

    def prepare(self, work: Workload, d: Path) -> list[str]:
        raise NotImplementedError

    def env(self, d: Path) -> dict[str, str]:
        return {}

    def reset(self, d: Path) -> None:
        """Undo what a run left that would change the next one."""


class DataflowRunner(Tool):
    def install(self) -> None:
        pass

    def version(self) -> str:
        from dataflow_runner import __version__

        return __version__

    def prepare(self, work: Workload, d: Path) -> list[str]:
        cluster, playbook = write_native(work, d)
        exe = Path(sys.executable).parent / "dataflow-runner"
        return [
            str(exe),
            "run-transient",
            "--emr-config",
            str(cluster),
            "--emr-playbook",
            str(playbook),
        ]

    def env(self, d: Path) -> dict[str, str]:
        return {"DATAFLOW_RUNNER_HOME": str(d / "home")}


class Make(Tool):
    def install(self) -> None:
        if shutil.which("make") is None:
            raise RuntimeError("make is not installed")

    def version(self) -> str:
        return subprocess.run(
            ["make", "--version"], capture_output=True, text=True, check=True
        ).stdout.splitlines()[0]

    def prepare(self, work: Workload, d: Path) -> list[str]:
        lines = []
        previous: list[str] = []
        for layer in work.step_ids():
            for step in layer:
                lines.append(f"{step}: {' '.join(previous)}\n\t@true\n")
            previous = layer
        everything = [s for layer in work.step_ids() for s in layer]
        text = f".PHONY: all {' '.join(everything)}\nall: {' '.join(everything)}\n" + "".join(lines)
        (d / "Makefile").write_text(text)
        return ["make", "-s", f"-j{work.concurrency}", "-f", str(d / "Makefile"), "all"]


class Luigi(Tool):
    def prepare(self, work: Workload, d: Path) -> list[str]:
        (d / "flow.py").write_text(
            textwrap.dedent(f"""
            import subprocess, luigi
            LAYERS = {work.step_ids()!r}
            OUT = {str(d / "out")!r}

            class Step(luigi.Task):
                layer = luigi.IntParameter()
                name = luigi.Parameter()

                def requires(self):
                    if self.layer == 0:
                        return []
                    return [Step(layer=self.layer - 1, name=n) for n in LAYERS[self.layer - 1]]

                def output(self):
                    return luigi.LocalTarget(f"{{OUT}}/{{self.name}}")

                def run(self):
                    subprocess.run(["true"], check=True)
                    with self.output().open("w") as fh:
                        fh.write("done")

            last = len(LAYERS) - 1
            ok = luigi.build([Step(layer=last, name=n) for n in LAYERS[last]] +
                             [Step(layer=l, name=n) for l in range(last) for n in LAYERS[l]],
                             local_scheduler=True, workers={work.concurrency},
                             log_level="ERROR")
            raise SystemExit(0 if ok else 1)
        """)
        )
        return [self.python, str(d / "flow.py")]

    def reset(self, d: Path) -> None:
        shutil.rmtree(d / "out", ignore_errors=True)


class Dagster(Tool):
    def prepare(self, work: Workload, d: Path) -> list[str]:
        (d / "flow.py").write_text(
            textwrap.dedent(f"""
            import subprocess
            from dagster import In, Nothing, job, op
            LAYERS = {work.step_ids()!r}

            def make_op(name, fan_in):
                ins = {{"after": In(Nothing)}} if fan_in else {{}}
                @op(name=name, ins=ins)
                def step(context):
                    subprocess.run(["true"], check=True)
                return step

            @job
            def bench():
                previous = []
                for layer in LAYERS:
                    current = []
                    for name in layer:
                        fn = make_op(name, bool(previous))
                        current.append(fn(after=previous) if previous else fn())
                    previous = current

            result = bench.execute_in_process()
            raise SystemExit(0 if result.success else 1)
        """)
        )
        return [self.python, str(d / "flow.py")]

    def env(self, d: Path) -> dict[str, str]:
        home = d / "dagster_home"
        home.mkdir(exist_ok=True)
        # No telemetry: this machine has no network, and a benchmark should not call home.
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        return {"DAGSTER_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1"}


class Prefect(Tool):
    def prepare(self, work: Workload, d: Path) -> list[str]:
        (d / "flow.py").write_text(
            textwrap.dedent(f"""
            import subprocess
            from prefect import flow, task
            from prefect.task_runners import ThreadPoolTaskRunner
            LAYERS = {work.step_ids()!r}

            @task
            def step(name):
                subprocess.run(["true"], check=True)

            @flow(task_runner=ThreadPoolTaskRunner(max_workers={work.concurrency}),
                  log_prints=False)
            def bench():
                previous = []
                for layer in LAYERS:
                    previous = [step.with_options(name=n).submit(n, wait_for=previous)
                                for n in layer]
                for future in previous:
                    future.result()

            bench()
        """)
        )
        return [self.python, str(d / "flow.py")]

    def env(self, d: Path) -> dict[str, str]:
        return {
            "PREFECT_HOME": str(d / "prefect_home"),
            "PREFECT_LOGGING_LEVEL": "ERROR",
            "PREFECT_API_URL": "",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
        }


TOOLS: list[Tool] = [
    DataflowRunner("dataflow-runner"),
    Make("make"),
    Luigi("luigi", ["luigi"]),
    Dagster("dagster", ["dagster"]),
    # Prefect's server code uses FastAPI's Body(min_items=...), removed in recent FastAPI.
    Prefect("prefect", ["prefect>=3,<4", "fastapi<0.120"]),
]
