"""A live view of a run in a terminal: each step's state, duration and progress.

Only used when stderr is a terminal; rich is imported here and nowhere on the
non-interactive path, so scripted runs do not pay for it.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from dataflow_runner.config.redact import scrub
from dataflow_runner.engine.events import RunInfo, RunSummary, step_line
from dataflow_runner.engine.scheduler import EventKind, Task, TaskEvent
from dataflow_runner.store.records import StepState

_STYLE = {
    StepState.PENDING: ("·", "dim"),
    StepState.RUNNING: ("▶", "cyan"),
    StepState.COMPLETED: ("✓", "green"),
    StepState.FAILED: ("✗", "bold red"),
    StepState.CANCELLED: ("○", "yellow"),
}
MAX_ROWS = 24


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class LiveReporter:
    """Draws the run's steps on stderr while it runs."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.tasks: dict[tuple[str, str], Task] = {}
        self.retrying: dict[tuple[str, str], float] = {}
        self.info: RunInfo | None = None
        self.started = time.time()
        self.live: Live | None = None

    # --- Reporter -------------------------------------------------------------------

    def run_started(self, info: RunInfo) -> None:
        self.info = info
        self.started = time.time()
        self.console.print(
            f"[bold]Run {info.run_id}[/] · playbook [bold]{info.playbook}[/] on the "
            f"{info.fabric} fabric (cluster {info.cluster_id}) · {info.steps} steps, "
            f"concurrency {info.concurrency}",
            highlight=False,
        )
        self.live = Live(
            _Renderable(self),
            console=self.console,
            refresh_per_second=8,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self.live.start()

    def task_event(self, event: TaskEvent) -> None:
        task = event.task
        self.tasks[task.key] = task
        if event.kind is EventKind.RETRYING:
            self.retrying[task.key] = event.at + event.delay
        else:
            self.retrying.pop(task.key, None)
        if event.kind is EventKind.FINISHED and task.state is StepState.FAILED:
            self._print(Text(scrub(step_line(task)), style="red"))
            if task.cause:
                for line in task.cause.detail:
                    self._print(Text("  │ " + scrub(line), style="dim"))

    def run_finished(self, info: RunInfo, summary: RunSummary) -> None:
        self.close()
        self.console.print(self.table(final=True))
        style = "green" if summary.state == "COMPLETED" else "red"
        self.console.print(
            f"[{style}]{summary.state}[/] · {summary.completed} completed, {summary.failed} "
            f"failed, {summary.cancelled} cancelled · {_duration(time.time() - self.started)}"
            f" · details: dataflow-runner status {info.run_id}",
            highlight=False,
        )

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None

    # --- drawing --------------------------------------------------------------------

    def _print(self, text: Text) -> None:
        (self.live.console if self.live else self.console).print(text)

    def table(self, *, final: bool = False) -> Table:
        now = time.time()
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for col in ("", "step", "state", "try", "time", ""):
            table.add_column(col, no_wrap=col != "")
        tasks = sorted(self.tasks.values(), key=lambda t: t.position)
        rows = tasks
        if len(rows) > MAX_ROWS:
            # Running and failed first, then the most recent others.
            keep = [t for t in rows if t.state in (StepState.RUNNING, StepState.FAILED)]
            rest = [t for t in rows if t not in keep]
            rest.sort(key=lambda t: t.ended_at or t.started_at or 0, reverse=True)
            rows = sorted(
                keep[:MAX_ROWS] + rest[: max(0, MAX_ROWS - len(keep))], key=lambda t: t.position
            )
        for t in rows:
            icon, style = _STYLE[t.state]
            state = t.state.value
            if t.key in self.retrying:
                state = f"RETRY in {_duration(max(0.0, self.retrying[t.key] - now))}"
            end = t.ended_at or now
            took = _duration(end - t.started_at) if t.started_at else ""
            note = t.cause.summary if t.cause else (t.reason or "")
            table.add_row(
                Text(icon, style=style),
                t.id,
                Text(state, style=style),
                str(t.attempt or ""),
                took,
                Text(scrub(note)[:80], style="dim"),
            )
        return table

    def header(self) -> Group:
        total = self.info.steps if self.info else len(self.tasks)
        done = sum(1 for t in self.tasks.values() if t.state.finished)
        running = sum(1 for t in self.tasks.values() if t.state is StepState.RUNNING)
        failed = sum(1 for t in self.tasks.values() if t.state is StepState.FAILED)
        line = Text.assemble(
            (f"{done}/{total} done", "bold"),
            f" · {running} running",
            (f" · {failed} failed", "red") if failed else "",
            f" · {_duration(time.time() - self.started)}",
        )
        return Group(ProgressBar(total=max(total, 1), completed=done, width=40), line)


class _Renderable:
    def __init__(self, reporter: LiveReporter) -> None:
        self.reporter = reporter

    def __rich__(self) -> Any:
        return Group(self.reporter.header(), self.reporter.table())
