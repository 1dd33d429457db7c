"""Data-aware runs on the local fabric: real files, real subprocesses, the real CLI.

Each step appends what it did to ``trace.txt`` (a side effect the tests count)
and writes its outputs; the tests delete outputs, write inputs from a background
process, and check what ran, what was skipped, the log lines and the store.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_local_dag import events, sh, trace, write_cluster

PLAYBOOK_1_1_0 = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0"


def write_book(d: Path, steps: list[dict[str, Any]], **extra: Any) -> Path:
    path = d / "playbook.json"
    doc = {"schema": PLAYBOOK_1_1_0, "data": {"name": "p", "steps": steps, **extra}}
    path.write_text(json.dumps(doc))
    return path


def produce(
    id_: str, outputs: list[str], *, inputs: tuple[str, ...] = (), dated: bool = False, **extra: Any
) -> dict[str, Any]:
    """A step that records its run (``id@date`` when ``dated``) and writes its outputs
    (after reading its inputs)."""
    reads = "".join(f"cat {i} > /dev/null && " for i in inputs if not i.endswith("/"))
    writes = " && ".join(
        f"mkdir -p $(dirname {o}) && echo {id_} > {o}"
        if not o.endswith("/")
        else f"mkdir -p {o} && touch {o}_SUCCESS"
        for o in outputs
    )
    return sh(
        id_,
        f"{reads}echo {id_}{'@{{.date}}' if dated else ''} >> trace.txt && {writes}",
        inputs=list(inputs),
        outputs=outputs,
        **extra,
    )


def cli_run(cli_process: Any, d: Path, *extra: str, command: str = "run-transient") -> Any:
    return cli_process(
        command,
        "--emr-config",
        str(d / "cluster.json"),
        "--emr-playbook",
        str(d / "playbook.json"),
        *extra,
    )


def states(result: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in events(result):
        if e["event"] == "step" and e["state"] in ("COMPLETED", "FAILED", "CANCELLED", "SKIPPED"):
            out[e["step"]] = e["state"]
    return out


def runs_in_store(cli_process: Any) -> list[dict[str, Any]]:
    result = cli_process("runs", "--output", "json", "--limit", "100")
    assert result.code == 0, result.err
    return list(json.loads(result.out))


# --- skip, force ------------------------------------------------------------------------


def test_a_step_whose_outputs_exist_is_skipped(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [
            produce("a", ["out/a.txt"]),
            produce("b", ["out/b/"], inputs=("out/a.txt",)),
            sh("c", "echo c >> trace.txt"),  # no outputs: always runs
        ],
    )
    first = cli_run(cli_process, tmp_path, "--output", "json")
    assert first.code == 0, first.err
    assert sorted(trace(tmp_path)) == ["a", "b", "c"]

    second = cli_run(cli_process, tmp_path, "--output", "json")
    assert second.code == 0, second.err
    assert sorted(trace(tmp_path)) == ["a", "b", "c", "c"]
    assert states(second) == {"a": "SKIPPED", "b": "SKIPPED", "c": "COMPLETED"}
    assert "Step 'a' skipped: outputs exist (out/a.txt)" in second.err
    assert "Step 'b' skipped: outputs exist (out/b/)" in second.err
    finished = next(e for e in events(second) if e["event"] == "run_finished")
    assert finished["skipped"] == 2 and finished["state"] == "COMPLETED"
    status = cli_process("status", "--output", "json")
    steps = {s["id"]: s for s in json.loads(status.out)["steps"]}
    assert steps["a"]["state"] == "SKIPPED"
    assert steps["a"]["reason"] == "outputs exist (out/a.txt)"


def test_a_directory_output_needs_its_success_marker(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    (tmp_path / "out" / "d").mkdir(parents=True)
    (tmp_path / "out" / "d" / "part-0000").write_text("half written")
    (tmp_path / "out" / "e").mkdir(parents=True)
    (tmp_path / "out" / "e" / "part-0000").write_text("done, no marker")
    write_book(
        tmp_path,
        [
            produce("d", ["out/d/"]),
            produce("e", ["out/e/"], successMarker=False),
        ],
    )
    result = cli_run(cli_process, tmp_path, "--output", "json")
    assert result.code == 0, result.err
    assert trace(tmp_path) == ["d"]  # no _SUCCESS: it runs; e counts anything in it
    assert states(result) == {"d": "COMPLETED", "e": "SKIPPED"}


def test_force_runs_everything(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(tmp_path, [produce("a", ["out/a.txt"]), produce("b", ["out/b.txt"])])
    assert cli_run(cli_process, tmp_path).code == 0
    again = cli_run(cli_process, tmp_path, "--force")
    assert again.code == 0, again.err
    assert sorted(trace(tmp_path)) == ["a", "a", "b", "b"]


def test_force_step_reruns_it_and_what_is_downstream(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [
            produce("a", ["out/a.txt"]),
            produce("b", ["out/b.txt"], inputs=("out/a.txt",)),
            produce("c", ["out/c.txt"], inputs=("out/b.txt",)),
            produce("other", ["out/other.txt"]),
        ],
    )
    assert cli_run(cli_process, tmp_path).code == 0
    (tmp_path / "trace.txt").unlink()
    again = cli_run(cli_process, tmp_path, "--force-step", "b", "--output", "json")
    assert again.code == 0, again.err
    assert trace(tmp_path) == ["b", "c"]
    assert states(again) == {
        "a": "SKIPPED",
        "b": "COMPLETED",
        "c": "COMPLETED",
        "other": "SKIPPED",
    }
    unknown = cli_run(cli_process, tmp_path, "--force-step", "nope")
    assert unknown.code == 1
    assert "--force-step nope: the playbook has no such step" in unknown.err
    assert "Traceback" not in unknown.err


def test_a_run_that_finds_everything_complete_is_recorded(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(tmp_path, [produce("a", ["out/a.txt"])])
    assert cli_run(cli_process, tmp_path).code == 0
    again = cli_run(cli_process, tmp_path)
    assert again.code == 0, again.err
    recorded = runs_in_store(cli_process)
    assert len(recorded) == 2 and recorded[0]["state"] == "COMPLETED"
    status = json.loads(cli_process("status", "--output", "json").out)
    assert [s["state"] for s in status["steps"]] == ["SKIPPED"]


# --- dependencies from the data -----------------------------------------------------------


def test_dependencies_are_inferred_from_inputs_and_outputs(
    cli_process: Any, tmp_path: Path
) -> None:
    write_cluster(tmp_path, concurrency=4)
    # Listed backwards, no dependsOn: the data orders them.
    write_book(
        tmp_path,
        [
            produce("report", ["out/report.txt"], inputs=("out/clean/part.txt",)),
            produce("clean", ["out/clean/part.txt"], inputs=("s3a://lake/raw/day.txt",)),
            produce("ingest", ["s3://lake/raw/day.txt"]),
        ],
    )
    write_cluster(tmp_path, concurrency=4, pathMappings={"s3://lake/": str(tmp_path / "lake")})
    result = cli_run(cli_process, tmp_path, "--output", "json")
    assert result.code == 0, result.err
    assert trace(tmp_path) == ["ingest", "clean", "report"]
    status = json.loads(cli_process("status", "--output", "json").out)
    deps = {s["id"]: s["depends_on"] for s in status["steps"]}
    assert deps == {"report": ["clean"], "clean": ["ingest"], "ingest": []}


def test_hdfs_outputs_are_checked_through_the_path_mappings(
    cli_process: Any, tmp_path: Path
) -> None:
    write_cluster(tmp_path, pathMappings={"hdfs:///data/": f"{tmp_path / 'hdfs'}/"})
    write_book(tmp_path, [produce("a", ["hdfs:///data/a/"])])
    (tmp_path / "hdfs" / "a").mkdir(parents=True)
    (tmp_path / "hdfs" / "a" / "_SUCCESS").write_text("")
    result = cli_run(cli_process, tmp_path, "--output", "json")
    assert result.code == 0, result.err
    assert states(result) == {"a": "SKIPPED"}


# --- partitions ---------------------------------------------------------------------------


def daily_book(d: Path, *, start: str = "2026-11-01", **extra: Any) -> Path:
    """extract (reads an external input of the day) → count (dependsOnPast)."""
    return write_book(
        d,
        [
            produce("extract", ["out/raw/{{.date}}.txt"], inputs=("in/{{.date}}.txt",), dated=True),
            produce(
                "count",
                ["out/count/{{.date}}.txt"],
                inputs=("out/raw/{{.date}}.txt",),
                dependsOnPast=True,
                dated=True,
            ),
        ],
        partitions={"every": "day", "start": start},
        **extra,
    )


def inputs_for(d: Path, *days: int) -> None:
    (d / "in").mkdir(exist_ok=True)
    for day in days:
        (d / "in" / f"2026-11-{day:02d}.txt").write_text("x\n")


def test_a_run_is_for_one_partition(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [
            produce("extract", ["out/raw/{{.date}}.txt"], dated=True),
            produce(
                "count", ["out/count/{{.date}}.txt"], inputs=("out/raw/{{.date}}.txt",), dated=True
            ),
        ],
        partitions={"every": "day", "start": "2026-11-01"},
    )
    result = cli_run(cli_process, tmp_path, "--partition", "2026-11-20", "--output", "json")
    assert result.code == 0, result.err
    assert trace(tmp_path) == ["extract@2026-11-20", "count@2026-11-20"]
    assert (tmp_path / "out" / "count" / "2026-11-20.txt").exists()
    # One partition keeps the playbook's step ids; the run records its partition.
    assert set(states(result)) == {"extract", "count"}
    listed = cli_process("runs", "--partition", "2026-11-20", "--output", "json")
    assert [r["partitions"] for r in json.loads(listed.out)] == [
        {"first": "2026-11-20T00:00:00Z", "last": "2026-11-20T00:00:00Z"}
    ]
    assert (
        json.loads(cli_process("runs", "--partition", "2026-11-21", "--output", "json").out) == []
    )
    status = cli_process("status")
    assert "partitions 2026-11-20T00:00:00Z" in status.out


def test_depends_on_past_runs_partitions_in_order(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path, concurrency=1)  # one at a time: the order is the priority
    daily_book(tmp_path)
    inputs_for(tmp_path, 1, 2, 3, 4)
    result = cli_run(
        cli_process,
        tmp_path,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-04",
        "--reverse",
        command="backfill",
    )
    assert result.code == 0, result.err
    done = trace(tmp_path)
    counts = [t for t in done if t.startswith("count")]
    assert counts == [f"count@2026-11-0{i}" for i in (1, 2, 3, 4)]
    extracts = [t for t in done if t.startswith("extract")]
    # --reverse: the newest partitions' independent steps go first.
    assert extracts[0] == "extract@2026-11-04"


def test_depends_on_past_needs_the_previous_partition_complete(
    cli_process: Any, tmp_path: Path
) -> None:
    write_cluster(tmp_path)
    daily_book(tmp_path)
    inputs_for(tmp_path, 9, 10)
    result = cli_run(cli_process, tmp_path, "--partition", "2026-11-10", "--output", "json")
    assert result.code == 1
    assert states(result)["count"] == "FAILED"
    assert "the previous partition (2026-11-09) of step 'count' is not complete" in result.err
    # The first partition has no past.
    inputs_for(tmp_path, 1)
    first = cli_run(cli_process, tmp_path, "--partition", "2026-11-01")
    assert first.code == 0, first.err


def test_backfill_runs_only_what_is_incomplete(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path, concurrency=3)
    daily_book(tmp_path)
    inputs_for(tmp_path, 1, 2, 3, 5)  # the 4th's input is missing: it fails
    first = cli_run(
        cli_process, tmp_path, "--from", "2026-11-01", "--to", "2026-11-05", command="backfill"
    )
    assert first.code == 1
    assert "input in/2026-11-04.txt does not exist" in first.err
    ran = trace(tmp_path)
    assert sorted(ran) == sorted(
        [
            *("extract@2026-11-01", "extract@2026-11-02", "extract@2026-11-03"),
            *("extract@2026-11-05", "count@2026-11-01", "count@2026-11-02", "count@2026-11-03"),
        ]
    )
    # Complete: 1, 2, 3 (we delete the 2nd's count); failed last time: 4; 5: its extract ran.
    inputs_for(tmp_path, 4)
    (tmp_path / "out" / "count" / "2026-11-02.txt").unlink()
    (tmp_path / "trace.txt").unlink()
    grid = cli_run(
        cli_process,
        tmp_path,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-05",
        "--dry-run",
        "--output",
        "json",
        command="backfill",
    )
    assert grid.code == 0, grid.err
    doc = json.loads(grid.out)
    cells = {row["partition"][:10]: row["steps"] for row in doc["partitions"]}
    assert cells == {
        "2026-11-01": {"extract": "done", "count": "done"},
        "2026-11-02": {"extract": "done", "count": "run"},
        "2026-11-03": {"extract": "done", "count": "wait"},
        "2026-11-04": {"extract": "run", "count": "wait"},
        "2026-11-05": {"extract": "done", "count": "wait"},
    }
    assert doc["totals"] == {"done": 5, "run": 2, "wait": 3, "fail": 0}
    assert trace(tmp_path) == []  # a dry run runs nothing
    second = cli_run(
        cli_process, tmp_path, "--from", "2026-11-01", "--to", "2026-11-05", command="backfill"
    )
    assert second.code == 0, second.err
    assert sorted(trace(tmp_path)) == sorted(
        [
            *("count@2026-11-02", "count@2026-11-03", "extract@2026-11-04"),
            *("count@2026-11-04", "count@2026-11-05"),
        ]
    )
    # Then nothing is left to do: the grid of the partitions says so.
    states_grid = cli_run(
        cli_process,
        tmp_path,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-06",
        "--output",
        "json",
        command="partitions",
    )
    assert states_grid.code == 0, states_grid.err
    rows = {r["partition"][:10]: r["steps"] for r in json.loads(states_grid.out)["partitions"]}
    assert rows["2026-11-05"] == {"extract": "done", "count": "done"}
    assert rows["2026-11-06"] == {"extract": "missing", "count": "missing"}


def test_the_partitions_grid_shows_failures_of_last_time(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    daily_book(tmp_path)
    inputs_for(tmp_path, 1)
    cli_run(cli_process, tmp_path, "--from", "2026-11-01", "--to", "2026-11-02", command="backfill")
    text = cli_run(
        cli_process, tmp_path, "--from", "2026-11-01", "--to", "2026-11-03", command="partitions"
    )
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0].split() == ["partition", "extract", "count"]
    assert lines[1].split()[1:] == ["done", "done"]
    assert lines[2].split()[1:] == ["failed", "failed"]
    assert lines[3].split()[1:] == ["missing", "missing"]
    assert lines[-1] == "total: 2 done, 2 missing, 2 failed, 0 running"


def test_the_dry_run_grid_as_text(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    daily_book(tmp_path)
    inputs_for(tmp_path, 1, 2)
    result = cli_run(
        cli_process,
        tmp_path,
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-03",
        "--dry-run",
        command="backfill",
    )
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["partition", "extract", "count"]
    assert [line.split()[1:] for line in lines[1:4]] == [
        ["run", "wait"],
        ["run", "wait"],
        ["fail", "wait"],
    ]
    assert lines[-1] == "total: 0 done, 2 run, 3 wait, 1 fail"
    assert runs_in_store(cli_process) == []


def test_last_n_is_the_most_recent_closed_partitions(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).strftime("%Y-%m-%d")
    daily_book(tmp_path, start=start)
    result = cli_run(
        cli_process, tmp_path, "--last", "3", "--dry-run", "--output", "json", command="backfill"
    )
    assert result.code == 0, result.err
    shown = [row["partition"][:10] for row in json.loads(result.out)["partitions"]]
    today = dt.datetime.now(dt.UTC).date()
    # (Run across midnight UTC, "today" may have moved on by a day: allow both.)
    expected = [
        [str(base - dt.timedelta(days=n)) for n in (3, 2, 1)]
        for base in (today, today + dt.timedelta(days=1))
    ]
    assert shown in expected


# --- sensors ------------------------------------------------------------------------------


def test_a_sensor_starts_the_step_once_its_input_appears(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [
            produce(
                "load",
                ["out/loaded.txt"],
                inputs=("landing/file.txt",),
                waitForInputs={"timeoutSeconds": 60, "pokeSeconds": 1},
            ),
        ],
    )
    # The input is written by another process while the run waits.
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, time; time.sleep(2); p = pathlib.Path('landing'); "
            "p.mkdir(); (p / 'file.txt').write_text('hello')",
        ],
        cwd=tmp_path,
    )
    try:
        result = cli_run(cli_process, tmp_path, "--output", "json")
    finally:
        writer.wait(timeout=30)
    assert result.code == 0, result.err
    assert trace(tmp_path) == ["load"]
    assert "Step 'load' waits for landing/file.txt (up to 60 s)" in result.err
    assert (tmp_path / "out" / "loaded.txt").exists()


def test_a_sensor_times_out(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [
            produce(
                "load",
                ["out/loaded.txt"],
                inputs=("landing/never.txt",),
                waitForInputs={"timeoutSeconds": 2, "pokeSeconds": 1},
            ),
            produce("after", ["out/after.txt"], inputs=("out/loaded.txt",)),
        ],
    )
    result = cli_run(cli_process, tmp_path, "--output", "json")
    assert result.code == 1
    assert trace(tmp_path) == []
    assert states(result) == {"load": "FAILED", "after": "CANCELLED"}
    assert "input landing/never.txt did not appear within 2 s" in result.err


def test_a_missing_external_input_without_a_sensor_fails_at_once(
    cli_process: Any, tmp_path: Path
) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [
            produce("load", ["out/loaded.txt"], inputs=("landing/absent.txt",)),
            produce("independent", ["out/independent.txt"]),
        ],
        concurrency=1,
    )
    result = cli_run(cli_process, tmp_path, "--output", "json")
    assert result.code == 1
    found = states(result)
    assert found["load"] == "FAILED"
    assert "input landing/absent.txt does not exist" in result.err
    assert "load" not in trace(tmp_path)


# --- bad input ----------------------------------------------------------------------------


def _nothing_happened(cli_process: Any, d: Path, result: Any) -> None:
    assert result.code == 1, result.err
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    assert trace(d) == []
    assert runs_in_store(cli_process) == []


def test_a_cycle_made_by_the_data_names_steps_and_files(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [
            produce("a", ["out/a.txt"], inputs=("out/b.txt",)),
            produce("b", ["out/b.txt"], inputs=("out/a.txt",)),
        ],
    )
    result = cli_run(cli_process, tmp_path)
    _nothing_happened(cli_process, tmp_path, result)
    assert "steps form a cycle through their data" in result.err
    assert "(reads out/a.txt)" in result.err and "(reads out/b.txt)" in result.err


def test_an_output_two_steps_write_is_an_error(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(tmp_path, [produce("a", ["out/x.txt"]), produce("b", ["out/x.txt"])])
    result = cli_run(cli_process, tmp_path)
    _nothing_happened(cli_process, tmp_path, result)
    assert "output out/x.txt is written by both 'a' and 'b'" in result.err
    assert "$.data.steps[1].outputs[0]" in result.err


@pytest.mark.parametrize(
    ("partitions", "flags", "message"),
    [
        (
            {"every": "fortnight", "start": "2026-11-01"},
            ("--partition", "2026-11-02"),
            "$.data.partitions.every",
        ),
        (
            {"every": "day", "start": "2026-11-01"},
            ("--from", "2026-11-05", "--to", "2026-11-02"),
            "the window starts after it ends",
        ),
        (
            {"every": "hour", "start": "2020-01-01T00:00Z"},
            ("--from", "2020-01-01", "--to", "2026-01-01"),
            "raise the limit with --max-partitions",
        ),
        (
            {"every": "day", "start": "2026-11-01"},
            ("--from", "2026-13-45", "--to", "2026-11-02"),
            "--from must be a date or a time",
        ),
        (
            {"every": "day", "start": "2026-02-30"},
            ("--from", "2026-11-01", "--to", "2026-11-02"),
            "$.data.partitions.start",
        ),
        (
            {"every": "day", "start": "2026-11-01", "timezone": "Mars/Olympus"},
            ("--from", "2026-11-01", "--to", "2026-11-02"),
            "unknown time zone",
        ),
    ],
)
def test_bad_windows_and_partitions_are_one_line(
    cli_process: Any,
    tmp_path: Path,
    partitions: dict[str, str],
    flags: tuple[str, ...],
    message: str,
) -> None:
    write_cluster(tmp_path)
    write_book(tmp_path, [produce("a", ["out/{{.date}}.txt"])], partitions=partitions)
    command = "run-transient" if flags[0] == "--partition" else "backfill"
    result = cli_run(cli_process, tmp_path, *flags, command=command)
    _nothing_happened(cli_process, tmp_path, result)
    assert message in result.err


def test_max_partitions_raises_the_limit(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [produce("a", ["out/{{.date}}/{{.hour}}.txt"])],
        partitions={"every": "hour", "start": "2020-01-01T00:00Z"},
    )
    window = ("--from", "2024-01-01", "--to", "2025-03-01", "--dry-run", "--output", "json")
    refused = cli_run(cli_process, tmp_path, *window, command="backfill")
    assert refused.code == 1
    assert "a window of 10,201 partitions is more than 10,000" in refused.err
    allowed = cli_run(
        cli_process, tmp_path, *window, "--max-partitions", "20000", command="backfill"
    )
    assert allowed.code == 0, allowed.err
    assert json.loads(allowed.out)["totals"]["run"] == 10_201
    small = cli_run(
        cli_process,
        tmp_path,
        "--from",
        "2024-01-01",
        "--to",
        "2024-01-02",
        "--max-partitions",
        "10",
        command="backfill",
    )
    assert small.code == 1
    assert "a window of 25 partitions is more than 10" in small.err


def test_typed_parameters(cli_process: Any, tmp_path: Path) -> None:
    write_cluster(tmp_path)
    write_book(
        tmp_path,
        [sh("a", "echo {{.n}} {{.day}} >> trace.txt")],
        params={"n": {"type": "int", "default": 3}, "day": {"type": "date"}},
    )
    missing = cli_run(cli_process, tmp_path)
    _nothing_happened(cli_process, tmp_path, missing)
    assert "the playbook's parameter 'day' (date) is required" in missing.err
    wrong = cli_run(cli_process, tmp_path, "--vars", "day,2026-11-31")
    _nothing_happened(cli_process, tmp_path, wrong)
    assert "--vars day: expected a date" in wrong.err
    good = cli_run(cli_process, tmp_path, "--vars", "day,2026-11-20")
    assert good.code == 0, good.err
    assert trace(tmp_path) == ["3", "2026-11-20"]


# --- a backfill whose runner dies ---------------------------------------------------------


def test_a_killed_backfill_resumes_without_running_a_step_twice(
    cli_process: Any, tmp_path: Path
) -> None:
    import os
    import signal
    import time

    write_cluster(tmp_path, concurrency=1)
    slow = "sleep 0.3; "
    write_book(
        tmp_path,
        [
            sh(
                "extract",
                slow + "mkdir -p out/raw && echo x > out/raw/{{.date}}.txt && "
                "echo extract@{{.date}} >> trace.txt",
                outputs=["out/raw/{{.date}}.txt"],
            ),
            sh(
                "count",
                "mkdir -p out/count && cp out/raw/{{.date}}.txt out/count/{{.date}}.txt && "
                "echo count@{{.date}} >> trace.txt",
                inputs=["out/raw/{{.date}}.txt"],
                outputs=["out/count/{{.date}}.txt"],
                dependsOnPast=True,
            ),
        ],
        partitions={"every": "day", "start": "2026-11-01"},
    )
    (tmp_path / "out" / "raw").mkdir(parents=True)
    (tmp_path / "out" / "raw" / "2026-11-01.txt").write_text("x\n")  # one is done already
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataflow_runner",
            "backfill",
            "--emr-config",
            str(tmp_path / "cluster.json"),
            "--emr-playbook",
            str(tmp_path / "playbook.json"),
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-04",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 60
    while len(trace(tmp_path)) < 3:
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    [run] = runs_in_store(cli_process)
    assert run["state"] == "DEAD"
    resumed = cli_process("resume", run["id"])
    assert resumed.code == 0, resumed.err
    done = trace(tmp_path)
    assert sorted(done) == sorted(
        [
            *("extract@2026-11-02", "extract@2026-11-03", "extract@2026-11-04"),
            *("count@2026-11-01", "count@2026-11-02", "count@2026-11-03", "count@2026-11-04"),
        ]
    )
    counts = [t for t in done if t.startswith("count")]
    assert counts == sorted(counts)  # dependsOnPast held across the resume
    status = json.loads(cli_process("status", run["id"], "--output", "json").out)
    assert status["state"] == "COMPLETED"
    assert {s["id"]: s["state"] for s in status["steps"]}["extract@2026-11-01"] == "SKIPPED"
