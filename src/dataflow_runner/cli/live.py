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

from dataflow_runner.cli.output import clip, printable
from dataflow_runner.cli.reporters import Reporter, step_line
from dataflow_runner.config.redact import scrub
from dataflow_runner.engine.events import RunOutcome, RunStarted, StepChanged
from dataflow_runner.store.records import RunState, StepState

_STYLE = {
    StepState.PENDING: ("·", "dim"),
    StepState.RUNNING: ("▶", "cyan"),
    StepState.COMPLETED: ("✓", "green"),
    StepState.FAILED: ("✗", "bold red"),
    StepState.CANCELLED: ("○", "yellow"),
    StepState.SKIPPED: ("≡", "dim green"),
}
_RETRYING = ("↻", "yellow")
MAX_ROWS = 24
#: The widest note shown in a row (cut at a word boundary).
NOTE_WIDTH = 80


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class LiveReporter(Reporter):
    """Draws the run's steps on stderr while it runs."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.tasks: dict[tuple[str, str], StepChanged] = {}
        self.retrying: dict[tuple[str, str], float] = {}
        self.info: RunStarted | None = None
        self.started_at = time.time()
        self.live: Live | None = None

    # --- Reporter -------------------------------------------------------------------

    def started(self, event: RunStarted) -> None:
        self.info = event
        self.started_at = time.time()
        # Text, not markup: a playbook's name is the user's ("[red]" stays as it is).
        self.console.print(
            Text.assemble(
                (f"Run {printable(event.run_id)}", "bold"),
                " · playbook ",
                (printable(scrub(event.playbook)), "bold"),
                printable(
                    f" on the {event.fabric} fabric (cluster {event.cluster_id}) · "
                    f"{event.steps} steps, concurrency {event.concurrency}"
                ),
            ),
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

    def step(self, event: StepChanged) -> None:
        key = (event.run_id, event.step_id)
        self.tasks[key] = event
        if event.change == "retrying":
            self.retrying[key] = event.at + event.retry_in
        else:
            self.retrying.pop(key, None)
        if event.change == "finished" and event.state is StepState.FAILED:
            self._print(Text(printable(scrub(step_line(event))), style="red"))
            for line in event.cause_detail:
                self._print(Text("  │ " + printable(scrub(line)), style="dim"))

    def finished(self, outcome: RunOutcome) -> None:
        self.close()
        self.console.print(self.table(final=True))
        style = "green" if outcome.state is RunState.COMPLETED else "red"
        self.console.print(
            f"[{style}]{outcome.state.value}[/] · {outcome.completed} completed, "
            + (f"{outcome.skipped} skipped, " if outcome.skipped else "")
            + f"{outcome.failed} failed, {outcome.cancelled} cancelled · "
            f"{_duration(time.time() - self.started_at)}"
            f" · details: dataflow-runner status {outcome.run_id}",
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
        for col in ("", "step", "state", "try", "time", "exit", ""):
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
            key = (t.run_id, t.step_id)
            if key in self.retrying:
                icon, style = _RETRYING
                state = f"RETRY in {_duration(max(0.0, self.retrying[key] - now))}"
            end = t.ended_at or now
            took = _duration(end - t.started_at) if t.started_at else ""
            # An exit code is an ended attempt's: a new attempt has none until it ends.
            ended = t.change in ("finished", "retrying")
            exit_code = "" if t.exit_code is None or not ended else str(t.exit_code)
            note = printable(scrub(t.cause or t.reason or ""))
            table.add_row(
                Text(icon, style=style),
                Text(printable(scrub(t.step_id))),
                Text(state, style=style),
                str(t.attempt or ""),
                took,
                exit_code,
                Text(clip(note, NOTE_WIDTH), style="dim"),
            )
        return table

    def header(self) -> Group:
        total = self.info.steps if self.info else len(self.tasks)
        done = sum(1 for t in self.tasks.values() if t.state.finished)
        # A step waiting to retry holds no slot: it is not running.
        running = sum(
            1
            for key, t in self.tasks.items()
            if t.state is StepState.RUNNING and key not in self.retrying
        )
        failed = sum(1 for t in self.tasks.values() if t.state is StepState.FAILED)
        line = Text.assemble(
            (f"{done}/{total} done", "bold"),
            f" · {running} running",
            (f" · {failed} failed", "red") if failed else "",
            f" · {_duration(time.time() - self.started_at)}",
        )
        return Group(ProgressBar(total=max(total, 1), completed=done, width=40), line)


class _Renderable:
    def __init__(self, reporter: LiveReporter) -> None:
        self.reporter = reporter

    def __rich__(self) -> Any:
        return Group(self.reporter.header(), self.reporter.table())
