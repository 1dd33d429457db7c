"""What people read: control characters from a step's words or a name are shown,
never obeyed; notes fit where they are read; the live view counts and shows what is
so now; a failure's cause is bounded."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from dataflow_runner.cli import history
from dataflow_runner.cli.live import LiveReporter
from dataflow_runner.cli.output import LogrusFormatter, clip, printable
from dataflow_runner.cli.reporters import PlainReporter
from dataflow_runner.engine.events import RunStarted, StepChanged
from dataflow_runner.fabrics.base import MAX_CAUSE, FailureCause
from dataflow_runner.store import open_store
from dataflow_runner.store.records import (
    ClusterRecord,
    ClusterState,
    RunKind,
    RunRecord,
    RunState,
    StepRecord,
    StepState,
)

EVIL = "\x1b]0;owned\x07\x1b[2J"
SHOWN = r"\x1b]0;owned\x07\x1b[2J"
T0 = time.time() - 30
RUN_ID = "r-20261201-000000-aaaaaa"
LONG_NOTE = " ".join(f"word{i:03d}" for i in range(40))  # 319 characters


def raw_controls(text: str) -> list[str]:
    """The C0/C1 controls in ``text``, but newlines and the SGR colours a terminal
    renderer writes itself."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    return re.findall(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", text)


# --- the helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (EVIL, SHOWN),
        ("a\tb", "a b"),
        ("line\r\nnext", r"line\r\nnext"),
        ("\x9b31m", r"\x9b31m"),
        ("\x7f", r"\x7f"),
        ("naïve café — ok", "naïve café — ok"),
        ("", ""),
    ],
)
def test_printable(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(printable(text)) == shown


def test_clip_cuts_at_a_word_boundary() -> None:
    cut = clip(LONG_NOTE, 40)
    assert len(cut) <= 40
    assert cut.endswith("…")
    assert LONG_NOTE.startswith(cut[:-1])
    assert cut[:-1].split()[-1] in LONG_NOTE.split()  # no word cut in two
    assert clip("x" * 100, 10) == "x" * 9 + "…"  # one long word: cut inside
    assert clip("short", 10) == "short"


def test_log_lines_never_carry_raw_controls() -> None:
    record = logging.LogRecord("dataflow_runner", logging.ERROR, "", 0, "%s", (EVIL,), None)
    plain = LogrusFormatter(tty=False).format(record)
    assert raw_controls(plain) == []
    assert json.loads(plain.split("msg=", 1)[1]) == EVIL  # logfmt: quoted, readable back
    c1 = logging.LogRecord("dataflow_runner", logging.ERROR, "", 0, "a\x9bb\x7f", (), None)
    assert raw_controls(LogrusFormatter(tty=False).format(c1)) == []
    terminal = LogrusFormatter(tty=True).format(record)
    assert raw_controls(terminal) == []
    assert SHOWN in terminal


# --- history: status, runs, clusters ----------------------------------------------------


def _seed(state: Path, *, note: str = EVIL + " failed") -> None:
    with open_store(state_dir=state) as store:
        store.writer.create_run(
            RunRecord(
                RUN_ID,
                RunKind.TRANSIENT,
                "nightly" + EVIL,
                "local",
                RunState.FAILED,
                T0,
                started_at=T0,
                ended_at=T0 + 5,
                cluster_id="l-AAAAAAAAAAAAA",
                reason="1/1 steps failed" + EVIL,
            ),
            [
                StepRecord(
                    RUN_ID,
                    "a",
                    0,
                    "a" + EVIL,
                    "COMMAND",
                    StepState.FAILED,
                    "CANCEL_AND_WAIT",
                    started_at=T0,
                    ended_at=T0 + 5,
                    exit_code=3,
                    attempts=1,
                    reason="exit code 3" + EVIL,
                    cause=note,
                )
            ],
        )
        store.writer.upsert_cluster(
            ClusterRecord("l-AAAAAAAAAAAAA", "local", "dev" + EVIL, ClusterState.TERMINATED, T0)
        )


@pytest.mark.parametrize("command", [["status"], ["status", RUN_ID], ["runs"], ["clusters"]])
def test_history_shows_controls_escaped(cli: Any, tmp_path: Path, command: list[str]) -> None:
    _seed(tmp_path)
    result = cli(*command, "--state-dir", str(tmp_path))
    assert result.code == 0, result.err
    assert raw_controls(result.out) == []
    assert SHOWN in result.out
    as_json = cli(*command, "--state-dir", str(tmp_path), "--output", "json")
    assert EVIL in as_json.out.encode().decode("unicode_escape")  # JSON keeps them, escaped
    assert raw_controls(as_json.out) == []


def test_status_prints_the_whole_note_when_piped(cli: Any, tmp_path: Path) -> None:
    _seed(tmp_path, note=LONG_NOTE)
    result = cli("status", "--state-dir", str(tmp_path))
    assert result.code == 0, result.err
    assert LONG_NOTE in result.out


def test_status_fits_the_note_to_the_terminal(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(tmp_path, note=LONG_NOTE)
    monkeypatch.setattr(history, "_terminal_width", lambda: 100)
    result = cli("status", "--state-dir", str(tmp_path))
    row = next(line for line in result.out.splitlines() if line.startswith("a "))
    assert len(row) <= 100
    assert row.endswith("…")
    note = row.split("3  ", 1)[1]  # after the EXIT column
    assert note[:-1].split()[-1] in LONG_NOTE.split()


# --- the live view ---------------------------------------------------------------------


def _event(change: str, step: str, state: StepState, attempt: int = 1, **extra: Any) -> StepChanged:
    return StepChanged(
        change=change,
        run_id=RUN_ID,
        step_id=step,
        name=step,
        state=state,
        attempt=attempt,
        max_attempts=3,
        at=time.time(),
        started_at=T0,
        **extra,
    )


def _live() -> tuple[LiveReporter, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160, color_system="standard")
    return LiveReporter(console), out


def _render(reporter: LiveReporter) -> str:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(reporter.header(), reporter.table())
    return out.getvalue()


def test_live_view_shows_controls_escaped() -> None:
    reporter, out = _live()
    reporter.started(RunStarted(RUN_ID, "nightly" + EVIL, "local", "l-A", 2, 2))
    reporter.step(_event("running", "a", StepState.RUNNING))
    reporter.step(
        _event(
            "finished",
            "a",
            StepState.FAILED,
            exit_code=3,
            reason="exit code 3" + EVIL,
            cause=EVIL + "boom",
            cause_detail=("last line" + EVIL,),
            ended_at=T0 + 1,
        )
    )
    drawn = _render(reporter)
    reporter.close()
    for text in (out.getvalue(), drawn):
        assert "\x07" not in text
        assert "\x1b]" not in text
        assert "\x1b[2J" not in text
    assert SHOWN in out.getvalue()  # the started line and the failure's lines
    assert SHOWN in drawn  # the note


def test_live_view_markup_in_a_name_is_text() -> None:
    reporter, out = _live()
    reporter.started(RunStarted(RUN_ID, "[red]nightly[/red]", "local", "l-A", 1, 1))
    reporter.close()
    assert "[red]nightly[/red]" in out.getvalue()


def test_live_view_a_step_waiting_to_retry_is_not_running() -> None:
    reporter, _ = _live()
    reporter.step(_event("running", "a", StepState.RUNNING))
    reporter.step(_event("running", "b", StepState.RUNNING))
    reporter.step(
        _event("retrying", "c", StepState.RUNNING, exit_code=3, retry_in=30.0, ended_at=T0 + 1)
    )
    drawn = _render(reporter)
    assert "2 running" in drawn
    row = next(line for line in drawn.splitlines() if " c " in line)
    assert "RETRY in" in row
    assert " 3 " in row  # the attempt that failed: its exit code


def test_live_view_a_new_attempt_has_no_exit_code_yet() -> None:
    reporter, _ = _live()
    reporter.step(_event("retrying", "c", StepState.RUNNING, exit_code=37, retry_in=0.0))
    assert " 37 " in next(line for line in _render(reporter).splitlines() if " c " in line)
    # The next attempt runs: whatever its event carries, it has not ended.
    reporter.step(_event("submitted", "c", StepState.RUNNING, attempt=2, exit_code=37))
    row = next(line for line in _render(reporter).splitlines() if " c " in line)
    assert "37" not in row
    assert "RETRY" not in row


def test_live_view_cuts_notes_at_a_word_boundary() -> None:
    reporter, _ = _live()
    reporter.step(
        _event("finished", "a", StepState.FAILED, exit_code=1, cause=LONG_NOTE, ended_at=T0)
    )
    row = next(line for line in _render(reporter).splitlines() if " a " in line)
    note = row[row.index("word000") :].rstrip()
    assert note.endswith("…")
    assert note[:-1].split()[-1] in LONG_NOTE.split()


# --- plain log lines of a run -----------------------------------------------------------


def test_plain_reporter_lines_carry_no_controls() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogrusFormatter(tty=False))
    log = logging.getLogger("dataflow_runner")
    old, level = log.handlers[:], log.level
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG)
    try:
        reporter = PlainReporter()
        reporter.step(_event("retrying", "a", StepState.RUNNING, reason="r" + EVIL, retry_in=1))
        reporter.step(
            _event(
                "finished",
                "a",
                StepState.FAILED,
                exit_code=1,
                cause=EVIL,
                cause_detail=(EVIL,),
                ended_at=T0,
            )
        )
    finally:
        log.handlers[:] = old
        log.setLevel(level)
    assert stream.getvalue().count("\n") >= 3
    assert raw_controls(stream.getvalue().replace("\n", "")) == []


# --- a failure's cause is bounded ---------------------------------------------------------


def test_a_cause_is_bounded_where_it_is_made() -> None:
    cause = FailureCause("x" * 1_000_000, detail=tuple("y" * 100_000 for _ in range(50)))
    assert len(cause.summary) == MAX_CAUSE
    assert cause.summary.endswith("…")
    assert len(cause.detail) == 10
    assert all(len(line) <= MAX_CAUSE for line in cause.detail)
    assert FailureCause("short").summary == "short"
