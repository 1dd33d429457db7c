"""Commands turn a job's arguments into the step of their kind (validated as a
playbook would be); a job no cluster matches waits when a pool would take it,
else fails with its criteria; statuses are Genie's words for the run's states."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from dataflow_runner.config.loading import load_playbook
from dataflow_runner.engine import clusters, commands, jobs
from dataflow_runner.engine.api import Engine
from dataflow_runner.engine.payload import Keyring
from dataflow_runner.engine.queue import RunQueue
from dataflow_runner.errors import FlagError
from dataflow_runner.store.records import CommandRecord, GenieJobRecord, RunState


def _command(kind: str, *args: str) -> CommandRecord:
    return CommandRecord(name=kind, kind=kind, created_at=0.0, updated_at=0.0, args=args)


def _valid(step: dict[str, object]) -> None:
    """The step is one a playbook takes."""
    import json

    doc = {"schema": jobs.PLAYBOOK, "data": {"name": "genie-job", "steps": [step]}}
    load_playbook("playbook", {}, text=json.dumps(doc))


def test_each_kind_becomes_its_step() -> None:
    spark = commands.step(
        _command("spark-submit", "--conf", "spark.x=1"),
        "--class com.acme.Main --py-files a.py,b.py s3://b/app.jar 2026-12-06 'two words'",
    )
    assert spark["type"] == "SPARK" and spark["class"] == "com.acme.Main"
    assert spark["conf"] == {"spark.x": "1"} and spark["pyFiles"] == ["a.py", "b.py"]
    assert spark["application"] == "s3://b/app.jar" and spark["args"] == ["2026-12-06", "two words"]
    jar = commands.step(_command("hadoop-jar"), "s3://b/wc.jar in out")
    assert (jar["type"], jar["jar"], jar["arguments"]) == (
        "CUSTOM_JAR",
        "s3://b/wc.jar",
        ["in", "out"],
    )
    hive = commands.step(_command("hive"), "-f s3://b/q.sql")
    assert hive["command"] == ["hive", "-f", "s3://b/q.sql"]
    shell = commands.step(_command("shell"), "echo $HOME | wc -c", {"GENIE_JOB_DIR": "/j"})
    assert shell["command"] == ["sh", "-c", 'cd "$GENIE_JOB_DIR" && echo $HOME | wc -c']
    for step in (spark, jar, hive, shell):
        _valid(step)


@pytest.mark.parametrize(
    ("kind", "args", "message"),
    [
        ("spark-submit", "--master yarn app.jar", "spark-submit's --master cannot be given"),
        ("spark-submit", "--class X", "needs its application"),
        ("spark-submit", "--conf nokey app.jar", "--conf takes key=value"),
        ("hadoop-jar", "", "needs its jar"),
        ("shell", "echo 'unclosed", "cannot be split into words"),
    ],
)
def test_bad_arguments_are_one_clear_line(kind: str, args: str, message: str) -> None:
    with pytest.raises(FlagError, match=message):
        commands.step(_command(kind), args)


def test_a_job_waits_for_a_pool_or_fails_listing_its_criteria(tmp_path: Path) -> None:
    engine = Engine(state_dir=tmp_path / "state")
    queue = RunQueue(engine, Keyring(Keyring.new_key()))
    commands.put(engine, "sh", kind="shell", tags=["type:shell"])
    request = jobs.JobRequest("true", [["pool:etl"]], ["type:shell"], id="j-1")
    with pytest.raises(
        jobs.NoMatch, match=r"no UP cluster matches the cluster criteria \[pool:etl\]"
    ):
        jobs.submit(engine, queue, request, by="t", rng=random.Random(0))
    assert jobs.get(engine, "j-1").status == "FAILED"

    def etl_pool(_engine: Engine, criteria: list[frozenset[str]]) -> bool:
        return any(c <= {"pool:etl", "env:prod"} for c in criteria)

    clusters.add_pool_matcher(etl_pool)
    try:
        waiting = jobs.submit(
            engine, queue, jobs.JobRequest("true", [["pool:etl"]], ["type:shell"], id="j-2"),
            by="t", rng=random.Random(0),
        )  # fmt: skip
        assert waiting.status == "ACCEPTED" and waiting.run_id is None
        assert "waiting for a pool's cluster" in waiting.message
        assert [j.id for j in jobs.waiting(engine)] == ["j-2"]
        assert jobs.kill_waiting(engine, "j-2") and jobs.get(engine, "j-2").status == "KILLED"
    finally:
        clusters._pool_matchers.remove(etl_pool)
    with pytest.raises(jobs.NoMatch, match=r"no command matches the command criteria \[type:pig\]"):
        jobs.submit(engine, queue, jobs.JobRequest("x", [["a"]], ["type:pig"], id="j-3"),
                    by="t", rng=random.Random(0))  # fmt: skip
    with pytest.raises(jobs.JobExists):
        jobs.submit(engine, queue, request, by="t", rng=random.Random(0))
    engine.close()


def test_statuses_are_genies_words_for_the_run_states() -> None:
    from dataflow_runner.store.records import RunKind, RunRecord, StepRecord, StepState

    job = GenieJobRecord(id="j", created_at=0.0, run_id="r")

    def run(state: RunState) -> RunRecord:
        return RunRecord("r", RunKind.ATTACHED, "p", "f", state, 0.0)

    pending = StepRecord("r", "job", 0, "job", "COMMAND", StepState.PENDING, "CONTINUE")
    started = StepRecord("r", "job", 0, "job", "COMMAND", StepState.RUNNING, "CONTINUE",
                         started_at=1.0)  # fmt: skip
    assert jobs.status(job, run(RunState.QUEUED), []) == "ACCEPTED"
    assert jobs.status(job, run(RunState.RUNNING), [pending]) == "INIT"
    assert jobs.status(job, run(RunState.RUNNING), [started]) == "RUNNING"
    assert jobs.status(job, run(RunState.DEAD), [started]) == "RUNNING"
    assert jobs.status(job, run(RunState.COMPLETED), [started]) == "SUCCEEDED"
    assert jobs.status(job, run(RunState.FAILED), [started]) == "FAILED"
    assert jobs.status(job, run(RunState.CANCELLED), [started]) == "KILLED"
    assert (
        jobs.status(GenieJobRecord(id="j", created_at=0.0, status="FAILED"), None, []) == "FAILED"
    )
