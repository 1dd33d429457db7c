"""Data-aware runs on EMR: S3 inputs and outputs checked on moto's S3 (in the same
server as its EMR, every call counted by the server), backfills that submit the
missing steps and no other, and the listing's cost on large and awkward buckets.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dataflow_runner.config.model import Credentials
from dataflow_runner.errors import FabricError
from dataflow_runner.fabrics.base import Target
from dataflow_runner.fabrics.emr.fabric import EmrFabric
from tests.emr_server import REGION, EmrDriver, Outcome, delete_object, put_object
from tests.integration.test_emr import cluster_file, clusters

PLAYBOOK_1_1_0 = "iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0"
DAYS = ("2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04")
RAW = "s3://dfr-raw/events/{day}/"
EXTRACT = "s3://dfr-lake/extract/{day}/"
LOAD = "s3://dfr-lake/load/{day}/"


def data_book(d: Path, concurrency: int = 2) -> Path:
    """extract (reads the day's raw events) → load (reads extract's output through
    ``s3a://``, writes ``s3n://``) → publish (to the cluster's HDFS, which cannot
    be seen from outside: it always runs)."""
    steps = [
        {
            "id": "extract",
            "name": "extract",
            "type": "COMMAND",
            "command": ["echo", "extract", "{{.date}}"],
            "inputs": ["s3://dfr-raw/events/{{.date}}/"],
            "outputs": ["s3://dfr-lake/extract/{{.date}}/"],
        },
        {
            "id": "load",
            "name": "load",
            "type": "COMMAND",
            "command": ["echo", "load", "{{.date}}"],
            "inputs": ["s3a://dfr-lake/extract/{{.date}}/"],
            "outputs": ["s3n://dfr-lake/load/{{.date}}/"],
        },
        {
            "id": "publish",
            "name": "publish",
            "type": "COMMAND",
            "command": ["echo", "publish", "{{.date}}"],
            "inputs": ["s3://dfr-lake/load/{{.date}}/", "hdfs:///reference/countries.csv"],
            "outputs": ["hdfs:///published/{{.date}}/"],
        },
    ]
    path = d / "playbook.json"
    doc = {
        "schema": PLAYBOOK_1_1_0,
        "data": {
            "name": "lake",
            "region": REGION,
            "concurrency": concurrency,
            "partitions": {"every": "day", "start": "2026-11-01"},
            "steps": steps,
        },
    }
    path.write_text(json.dumps(doc))
    return path


def complete(uri: str) -> None:
    """A directory output as Spark leaves it: a part file and the marker."""
    put_object(f"{uri}part-00000.parquet", b"rows")
    put_object(f"{uri}_SUCCESS")


def lake(*, missing: tuple[str, ...] = ()) -> None:
    """The raw events of every day, and every day's extract and load complete but
    for ``missing`` (whose marker is deleted: the part file stays)."""
    for day in DAYS:
        for uri in (RAW, EXTRACT, LOAD):
            complete(uri.format(day=day))
    for uri in missing:
        delete_object(f"{uri}_SUCCESS")


def writes(day: str) -> dict[str, Outcome]:
    """What each step's job writes on its day's completion."""
    return {
        f"extract [{day}]": Outcome(writes=(f"{EXTRACT.format(day=day)}_SUCCESS",)),
        f"load [{day}]": Outcome(writes=(f"{LOAD.format(day=day)}_SUCCESS",)),
    }


def backfill(emr_cli: Any, d: Path, *extra: str) -> Any:
    return emr_cli(
        "backfill",
        "--emr-config",
        str(cluster_file(d)),
        "--emr-playbook",
        str(data_book(d)),
        "--from",
        DAYS[0],
        "--to",
        DAYS[-1],
        *extra,
    )


#: extract of the 2nd and load of the 3rd are incomplete: those run, and what is
#: downstream of them; publish (to HDFS, never known to exist) runs every day.
MISSING = (EXTRACT.format(day="2026-11-02"), LOAD.format(day="2026-11-03"))
TO_RUN = {
    "extract [2026-11-02]",
    "load [2026-11-02]",
    "load [2026-11-03]",
    *(f"publish [{day}]" for day in DAYS),
}


def test_the_dry_run_grid_reads_s3_in_one_listing_per_bucket(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    lake(missing=MISSING)
    result = backfill(emr_cli, tmp_path, "--dry-run", "--output", "json")
    assert result.code == 0, result.err
    cells = {row["partition"][:10]: row["steps"] for row in json.loads(result.out)["partitions"]}
    assert cells == {
        "2026-11-01": {"extract": "done", "load": "done", "publish": "run"},
        "2026-11-02": {"extract": "run", "load": "wait", "publish": "wait"},
        "2026-11-03": {"extract": "done", "load": "run", "publish": "wait"},
        "2026-11-04": {"extract": "done", "load": "done", "publish": "run"},
    }
    # 4 raw inputs in one bucket, 8 outputs in another: a listing each.
    assert emr.faults.calls["ListObjectsV2"] == 2, emr.faults.history
    assert emr.faults.calls["HeadObject"] == 0
    assert clusters() == []  # a dry run launches nothing


def test_a_backfill_submits_exactly_the_missing_steps_to_one_cluster(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    lake(missing=MISSING)
    outcomes = {k: v for day in DAYS for k, v in writes(day).items()}
    with EmrDriver(outcomes, default=Outcome(seconds=0.1)) as driver:
        result = backfill(emr_cli, tmp_path, "--concurrency", "3")
    assert result.code == 0, result.err
    [cluster] = clusters()
    assert emr.faults.calls["RunJobFlow"] == 1
    assert cluster.step_concurrency_level == 3
    assert {s.name for s in cluster.steps} == TO_RUN
    assert set(driver.submitted.values()) == {1}  # each exactly once
    assert "Step 'extract [2026-11-01]' skipped: outputs exist (s3://dfr-lake/extract/" in (
        result.err
    )
    assert emr.faults.calls["ListObjectsV2"] == 2, emr.faults.history
    assert emr.faults.calls["HeadObject"] == 0
    assert cluster.state == "TERMINATED"
    # What ran wrote its outputs: only what cannot be seen (HDFS) is left to run.
    emr.faults.calls.clear()
    again = backfill(emr_cli, tmp_path, "--dry-run", "--output", "json")
    assert again.code == 0, again.err
    assert json.loads(again.out)["totals"] == {"done": 8, "run": 4, "wait": 0, "fail": 0}
    assert emr.faults.calls["ListObjectsV2"] == 2


def test_an_attached_backfill_submits_to_that_cluster(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    up = emr_cli("up", "--emr-config", str(cluster_file(tmp_path)))
    assert up.code == 0, up.err
    [cluster] = clusters()
    lake(missing=MISSING)
    emr.faults.calls.clear()
    with EmrDriver(default=Outcome(seconds=0.1)) as driver:
        result = backfill(emr_cli, tmp_path, "--emr-cluster", cluster.id, "--concurrency", "4")
    assert result.code == 0, result.err
    assert emr.faults.calls["RunJobFlow"] == 0
    assert {s.name for s in cluster.steps} == TO_RUN
    assert set(driver.submitted.values()) == {1}
    assert cluster.step_concurrency_level == 4
    assert emr.faults.calls["ListObjectsV2"] == 2
    assert cluster.state == "WAITING"  # a persistent cluster stays up


def test_s3_refusing_the_listing_is_one_line_naming_the_bucket(
    emr_cli: Any, emr: Any, tmp_path: Path
) -> None:
    lake()
    emr.faults.s3_refusals["ListObjectsV2"] = [(403, "AccessDenied")] * 4
    result = backfill(emr_cli, tmp_path, "--dry-run")
    assert result.code == 1
    [line] = [x for x in result.err.splitlines() if "AccessDenied" in x]
    assert "s3://dfr-" in line and "s3:ListBucket" in line
    assert "Traceback" not in result.err


def test_a_throttled_listing_is_tried_again(emr_cli: Any, emr: Any, tmp_path: Path) -> None:
    lake(missing=MISSING)
    emr.faults.s3_refusals["ListObjectsV2"] = [(503, "SlowDown")] * 2
    result = backfill(emr_cli, tmp_path, "--dry-run", "--output", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["totals"] == {"done": 5, "run": 4, "wait": 3, "fail": 0}
    assert emr.faults.history.count("ListObjectsV2 SlowDown") == 2
    assert emr.faults.calls["ListObjectsV2"] == 4  # two refused, two answered


# --- the listing's cost, on the fabric itself ------------------------------------------


@pytest.fixture
def fabric(emr: Any, monkeypatch: pytest.MonkeyPatch) -> EmrFabric:
    for key, value in emr.env().items():
        monkeypatch.setenv(key, value)
    return EmrFabric(None, credentials=Credentials("env", "env"), region=REGION)


def days(n: int) -> list[str]:
    first = dt.date(2026, 1, 1)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(n)]


def test_3650_daily_outputs_cost_a_handful_of_listings(emr: Any, fabric: EmrFabric) -> None:
    targets = [Target(f"s3://dfr-lake/out/step{k}/{day}/") for k in range(10) for day in days(365)]
    for i, target in enumerate(targets):
        if i % 2 == 0:
            complete(target.uri)
    found = fabric.exists(targets)
    assert found == {t.uri: i % 2 == 0 for i, t in enumerate(targets)}
    # 3,650 objects listed, 1,000 a page.
    assert emr.faults.calls["ListObjectsV2"] <= 5
    assert emr.faults.calls["HeadObject"] == 0
    assert fabric.calls == {"ListObjectsV2": emr.faults.calls["ListObjectsV2"]}


def test_the_listing_jumps_over_what_is_not_looked_for(emr: Any, fabric: EmrFabric) -> None:
    """5,000 objects of another job sort between the outputs looked for: they are
    skipped, not paged through."""
    for i in range(5000):
        put_object(f"s3://dfr-lake/out/other/{i:05d}/part-0.parquet")
    wanted = [f"s3://dfr-lake/out/a/{day}/" for day in days(3)]
    wanted += [f"s3://dfr-lake/out/z/{day}/" for day in days(3)]
    for uri in wanted[1:5]:
        complete(uri)
    found = fabric.exists([Target(u) for u in wanted])
    assert found == {u: u in wanted[1:5] for u in wanted}
    assert emr.faults.calls["ListObjectsV2"] == 2


def test_directories_full_of_files_cost_a_listing_each_at_most(emr: Any, fabric: EmrFabric) -> None:
    """Each directory holds 2.5 pages of part files: a call per directory looked for
    (paging through them would take 8 calls)."""
    dirs = [f"s3://dfr-lake/big/{day}/" for day in days(4)]
    for uri in dirs[:3]:
        for part in range(2500):
            put_object(f"{uri}part-{part:05d}.parquet")
    for uri in dirs[:2]:
        put_object(f"{uri}_SUCCESS")
    found = fabric.exists([Target(u) for u in dirs])
    assert found == {dirs[0]: True, dirs[1]: True, dirs[2]: False, dirs[3]: False}
    assert emr.faults.calls["ListObjectsV2"] == len(dirs)
    assert emr.faults.calls["HeadObject"] == 0


def test_what_each_kind_of_target_means(emr: Any, fabric: EmrFabric) -> None:
    put_object("s3://dfr-lake/files/a.csv")
    put_object("s3://dfr-lake/files/a.csv.tmp")
    put_object("s3://dfr-lake/files/b.csv.tmp")
    put_object("s3://dfr-lake/folder-only/")  # a console "folder": holds nothing
    put_object("s3://dfr-lake/unmarked/part-0")
    put_object("s3://dfr-lake/unmarked-too/x")
    targets = {
        "s3://dfr-lake/files/a.csv": True,
        "s3a://dfr-lake/files/a.csv": True,
        "s3://dfr-lake/files/b.csv": False,  # not b.csv.tmp
        "s3://dfr-lake/files/": False,  # no _SUCCESS
        "s3://dfr-lake/folder-only/": False,
        "s3://dfr-lake/unmarked/": False,
        "s3://dfr-lake/nothing-here/": False,
        "s3://dfr-missing-bucket/x/": False,
        "hdfs:///user/hadoop/x/": None,
        "out/local.txt": None,
    }
    unmarked = {
        "s3n://dfr-lake/unmarked/": True,
        "s3://dfr-lake/folder-only/": False,
        "s3://dfr-lake/files/": True,
        "s3://dfr-lake/unmarked-to/": False,
    }
    assert fabric.exists([Target(u) for u in targets]) == targets
    assert fabric.exists([Target(u, marker=False) for u in unmarked]) == unmarked
    assert emr.faults.calls["ListObjectsV2"] == 3  # two buckets, then one
    assert emr.faults.calls["HeadObject"] == 0


def test_access_denied_names_the_bucket(emr: Any, fabric: EmrFabric) -> None:
    put_object("s3://dfr-lake/x/_SUCCESS")
    emr.faults.s3_refusals["ListObjectsV2"] = [(403, "AccessDenied")]
    with pytest.raises(FabricError, match=r"s3://dfr-lake/x/_SUCCESS \(AccessDenied\)"):
        fabric.exists([Target("s3://dfr-lake/x/")])
