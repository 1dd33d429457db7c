"""Python playbooks (``dataflow_runner.dsl``) through the real command line: the same
model as the YAML form, every command that takes ``--emr-playbook``, ``render``, and
a bad file reported at its line with nothing run or recorded.

Each pipeline's steps append what they did to ``trace.txt``; the tests count it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dataflow_runner.config.source import PlaybookSource
from dataflow_runner.data.partitions import Spec
from tests.integration.test_local_dag import trace

EVERYTHING_YAML = """\
schema: iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0
data:
  name: everything
  description: every field the DSL writes
  partitions: {every: day, start: "2026-11-01", timezone: Europe/Paris}
  params:
    bucket: {type: string, default: my-bucket, description: where the data is}
    minimum: {type: int, default: 2}
  concurrency: 3
  region: eu-west-1
  credentials: {accessKeyId: env, secretAccessKey: env}
  tags:
    - {key: team, value: data}
  steps:
    - id: extract
      name: Extract {{.date}}
      type: COMMAND
      command: [sh, -c, "awk '{print $1}' in/{{.date}}.txt > out/raw/{{.date}}.txt"]
      inputs: ["in/{{.date}}.txt"]
      outputs: ["out/raw/{{.date}}.txt"]
      waitForInputs: {timeoutSeconds: 3600, pokeSeconds: 30}
      retries: {count: 2, delaySeconds: 1, backoff: 3, maxDelaySeconds: 60}
      timeoutSeconds: 600
      env: {MINIMUM: "{{.minimum}}"}
    - id: script
      type: SCRIPT
      script: s3://{{.bucket}}/scripts/run.sh
      args: ["{{.date}}"]
      dependsOn: [extract]
      actionOnFailure: CONTINUE
    - id: spark
      type: SPARK
      application: s3://{{.bucket}}/jobs/totals.py
      class: org.example.Totals
      args: [--day, "{{.date}}"]
      conf: {spark.executor.memory: 2g}
      pyFiles: ["s3://{{.bucket}}/lib.zip"]
      packages: ["org.example:lib:1.0"]
      inputs: ["out/raw/{{.date}}.txt"]
      outputs: ["out/totals/{{.date}}/"]
      successMarker: false
      dependsOnPast: true
    - id: jar
      type: CUSTOM_JAR
      jar: command-runner.jar
      arguments: [echo, "{{ addDate .date 0 0 -1 }}"]
      after: [script]
      retries: 1
"""

EVERYTHING_PY = """\
from dataflow_runner.dsl import Playbook, daily, param, retry, template, wait

pb = Playbook(
    "everything",
    description="every field the DSL writes",
    partitions=daily(start="2026-11-01", timezone="Europe/Paris"),
    params={
        "bucket": param(default="my-bucket", description="where the data is"),
        "minimum": param("int", default=2),
    },
    concurrency=3,
    region="eu-west-1",
    credentials="env",
    tags={"team": "data"},
)
extract = pb.command(
    "extract",
    ["sh", "-c", "awk '{{print $1}}' in/{date}.txt > out/raw/{date}.txt"],
    name="Extract {date}",
    inputs=["in/{date}.txt"],
    outputs=["out/raw/{date}.txt"],
    wait_for_inputs=wait(timeout=3600, poke=30),
    retries=retry(2, delay=1, backoff=3, max_delay=60),
    timeout=600,
    env={"MINIMUM": "{minimum}"},
)
script = pb.script(
    "script",
    "s3://{bucket}/scripts/run.sh",
    ["{date}"],
    depends_on=[extract],
    action_on_failure="CONTINUE",
)
pb.spark(
    "spark",
    "s3://{bucket}/jobs/totals.py",
    ["--day", "{date}"],
    main_class="org.example.Totals",
    conf={"spark.executor.memory": "2g"},
    py_files=["s3://{bucket}/lib.zip"],
    packages=["org.example:lib:1.0"],
    inputs=extract.outputs,
    outputs=["out/totals/{date}/"],
    success_marker=False,
    depends_on_past=True,
)
pb.jar(
    "jar",
    "command-runner.jar",
    ["echo", template("{{ addDate .date 0 0 -1 }}")],
    after=[script],
    retries=1,
)
"""


def _loaded(path: Path, variables: dict[str, str], index: int) -> Any:
    source = PlaybookSource(str(path), variables)
    head = source.head()
    assert head.partitions is not None
    return head, source.load(Spec.of(head.partitions).at(index))


@pytest.mark.parametrize("variables", [{}, {"bucket": "other", "minimum": "5"}])
def test_the_dsl_gives_the_model_the_yaml_form_gives(
    cli_process: Any, tmp_path: Path, variables: dict[str, str]
) -> None:
    (tmp_path / "everything.yaml").write_text(EVERYTHING_YAML)
    (tmp_path / "everything.py").write_text(EVERYTHING_PY)
    for index in (0, 19):
        head, from_yaml = _loaded(tmp_path / "everything.yaml", variables, index)
        assert _loaded(tmp_path / "everything.py", variables, index) == (head, from_yaml)
    assert from_yaml.step("extract").env == {"MINIMUM": variables.get("minimum", "2")}
    assert from_yaml.step("jar").arguments == ("echo", "2026-11-19")
    assert from_yaml.step("spark").depends_on == ("extract",)  # from the data
    # What `render` prints is that YAML form: loaded again, the same playbook.
    vars_flag = ["--vars", ",".join(f"{k},{v}" for k, v in variables.items())]
    shown = cli_process(
        "render", "--emr-playbook", "everything.py", *(vars_flag if variables else []), cwd=tmp_path
    )
    assert shown.code == 0, shown.err
    (tmp_path / "rendered.yaml").write_text(shown.out)
    assert _loaded(tmp_path / "rendered.yaml", variables, 19)[1] == from_yaml
    assert yaml.safe_load(shown.out)["data"]["steps"][0]["command"][2].startswith("awk '{print")
    # `render` of the YAML form prints it as it is.
    again = cli_process("render", "--emr-playbook", "everything.yaml", cwd=tmp_path)
    assert again.code == 0 and again.out == EVERYTHING_YAML


def test_render_prints_a_json_playbook_as_yaml(cli_process: Any, tmp_path: Path) -> None:
    doc = yaml.safe_load(EVERYTHING_YAML)
    (tmp_path / "everything.json").write_text(json.dumps(doc))
    shown = cli_process("render", "--emr-playbook", "everything.json", cwd=tmp_path)
    assert shown.code == 0, shown.err
    (tmp_path / "everything.yaml").write_text(EVERYTHING_YAML)
    (tmp_path / "shown.yaml").write_text(shown.out)
    assert _loaded(tmp_path / "shown.yaml", {}, 3) == _loaded(tmp_path / "everything.yaml", {}, 3)
    # A JSON file whose templates make JSON of it only once rendered has no YAML form.
    (tmp_path / "odd.json").write_text(
        '{"schema": "iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0", "data": {"steps": '
        '[{"id": "a", "type": "COMMAND", "command": ["true"], "retries": {{.n}}}]}}'
    )
    odd = cli_process("render", "--emr-playbook", "odd.json", "--vars", "n,2", cwd=tmp_path)
    assert odd.code == 1 and odd.out == ""
    assert "odd.json: cannot be shown as YAML" in odd.err


# --- every command ------------------------------------------------------------------------

DAILY_PY = """\
from dataflow_runner.dsl import Playbook, daily

pb = Playbook("dsl-daily", partitions=daily(start="2026-11-01"))
extract = pb.command(
    "extract",
    ["sh", "-c", "mkdir -p out/raw && cp in/{date}.txt out/raw/{date}.txt"
     " && echo extract@{date} >> trace.txt"],
    inputs=["in/{date}.txt"],
    outputs=["out/raw/{date}.txt"],
)
pb.command(
    "count",
    ["sh", "-c", "{{ sleep {pause}; }} && mkdir -p out/count"
     " && wc -l < out/raw/{date}.txt > out/count/{date}.txt && echo count@{date} >> trace.txt"],
    inputs=extract.outputs,
    outputs=["out/count/{date}.txt"],
    depends_on_past=True,
)
"""


def _daily(d: Path, *days: int, concurrency: int = 2, pause: str = "0") -> None:
    (d / "cluster.yaml").write_text(
        "schema: iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0\n"
        f"data: {{name: laptop, local: {{concurrency: {concurrency}}}}}\n"
    )
    (d / "pipeline.py").write_text(DAILY_PY.replace("{pause}", pause))
    (d / "in").mkdir(exist_ok=True)
    for day in days:
        (d / "in" / f"2026-11-{day:02d}.txt").write_text("a\nb\nc\n")


def _ok(result: Any) -> Any:
    assert result.code == 0, result.err
    return result


def test_every_command_that_takes_a_playbook_takes_a_python_file(
    cli_process: Any, tmp_path: Path
) -> None:
    _daily(tmp_path, 1, 2, 3, 4)
    files = ["--emr-config", "cluster.yaml", "--emr-playbook", "pipeline.py"]

    def cli(*args: str) -> Any:
        return _ok(cli_process(*args, cwd=tmp_path))

    assert cli("validate", *files).out.startswith("valid: cluster 'laptop' (local); playbook")
    planned = json.loads(cli("run-transient", *files, "--partition", "2026-11-01", "--dry-run").out)
    assert [(s["id"], s["command"][2].split(" && ")[-1]) for s in planned["steps"]] == [
        ("extract", "echo extract@2026-11-01 >> trace.txt"),
        ("count", "echo count@2026-11-01 >> trace.txt"),
    ]
    assert trace(tmp_path) == []
    cli("run-transient", *files, "--partition", "2026-11-01")
    assert trace(tmp_path) == ["extract@2026-11-01", "count@2026-11-01"]
    grid = cli("backfill", *files, "--from", "2026-11-01", "--to", "2026-11-03", "--dry-run")
    assert grid.out.splitlines()[1:4] == [
        "2026-11-01T00:00:00Z  done     done",
        "2026-11-02T00:00:00Z  run      wait",
        "2026-11-03T00:00:00Z  run      wait",
    ]
    cli("backfill", *files, "--from", "2026-11-01", "--to", "2026-11-03")
    later = trace(tmp_path)[2:]
    counts = ["count@2026-11-02", "count@2026-11-03"]
    assert sorted(later) == [*counts, "extract@2026-11-02", "extract@2026-11-03"]
    assert [t for t in later if t.startswith("count")] == counts  # dependsOnPast
    assert cli("partitions", *files, "--from", "2026-11-03", "--to", "2026-11-04").out.splitlines()[
        1:3
    ] == ["2026-11-03T00:00:00Z  done     done", "2026-11-04T00:00:00Z  missing  missing"]
    # A local cluster's host gets the YAML form (it runs no Python file itself).
    up = cli("up", "--emr-config", "cluster.yaml")
    cluster = up.err.split("Jobflow ID: ")[1].split()[0].rstrip('"')
    try:
        cli(
            "run",
            "--emr-playbook",
            "pipeline.py",
            "--emr-cluster",
            cluster,
            "--partition",
            "2026-11-04",
        )
    finally:
        cli("down", "--emr-config", "cluster.yaml", "--emr-cluster", cluster)
    assert trace(tmp_path)[-2:] == ["extract@2026-11-04", "count@2026-11-04"]
    runs = json.loads(cli("runs", "--output", "json").out)
    assert [(r["playbook"], r["state"]) for r in runs] == [("dsl-daily", "COMPLETED")] * 3


def test_a_killed_backfill_of_a_python_playbook_resumes(cli_process: Any, tmp_path: Path) -> None:
    _daily(tmp_path, 1, 2, 3, concurrency=1, pause="0.3")
    runner = subprocess.Popen(
        [
            *(sys.executable, "-m", "dataflow_runner", "backfill"),
            *("--emr-config", "cluster.yaml", "--emr-playbook", "pipeline.py"),
            *("--from", "2026-11-01", "--to", "2026-11-03"),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 60
    while len(trace(tmp_path)) < 2:
        assert time.monotonic() < deadline and runner.poll() is None
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    [run] = json.loads(cli_process("runs", "--output", "json").out)
    assert run["state"] == "DEAD"
    _ok(cli_process("resume", run["id"], cwd=tmp_path))
    done = trace(tmp_path)
    assert sorted(done) == sorted(
        f"{s}@2026-11-0{d}" for s in ("extract", "count") for d in (1, 2, 3)
    )
    status = json.loads(cli_process("status", run["id"], "--output", "json").out)
    assert status["state"] == "COMPLETED"


# --- a bad file -------------------------------------------------------------------------

HEAD = "from dataflow_runner.dsl import Playbook, daily, partitions\n"
STEP = 'pb.command("a", ["sh", "-c", "echo a >> trace.txt"])\n'


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ('pb = Playbook("p")\npb.command("a", ["x"]\n', 3, "SyntaxError: '(' was never closed"),
        ('pb = Playbook("p")\n' + STEP + "print(undefined)\n", 4, "NameError: name 'undefined'"),
        (
            'pb = Playbook("p", partitions=partitions("fortnight", "2026-11-01"))\n',
            2,
            "unknown partition unit 'fortnight': expected hour, day, week or month",
        ),
        (
            'pb = Playbook("p")\n' + STEP + "\n" + STEP,
            5,
            "duplicate step id 'a' (the first is at line 3)",
        ),
        (
            'pb = Playbook("p", partitions=daily("2026-11-01"))\n'
            + STEP
            + 'pb.command("b", ["echo", "{dat}"])\n',
            4,
            "step 'b': command: unknown placeholder {dat}",
        ),
        (
            'pb = Playbook("p")\n' + STEP + 'pb.command("b", ["true"], retries=1000)\n',
            4,
            "$.data.steps[1].retries: expected a number <= 100, got 1000",
        ),
        (
            'pb = Playbook("p")\n'
            + STEP.replace("])", '], outputs=["o"])')
            + 'pb.command("b", ["true"], outputs=["o"])\n',
            4,
            "$.data.steps[1].outputs[0]: output o is written by both 'a' and 'b'",
        ),
        ('pb = Playbook("p")\n', 2, "$.data.steps: no steps found in the playbook"),
        (
            'a = Playbook("a")\n' + STEP.replace("pb.", "a.") + 'b = Playbook("b")\n',
            4,
            "a second playbook",
        ),
        ("def build():\n    return {}['x']\n\nbuild()\n", 3, "KeyError: 'x'"),
        ("import sys\nsys.exit(2)\n", 3, "the file exited (SystemExit: 2)"),
    ],
)
def test_a_bad_python_playbook_is_one_line_at_its_line(
    cli_process: Any, tmp_path: Path, body: str, line: int, message: str
) -> None:
    _daily(tmp_path)
    (tmp_path / "pipeline.py").write_text(HEAD + body)
    for command in ("validate", "run-transient"):
        result = cli_process(
            command, "--emr-config", "cluster.yaml", "--emr-playbook", "pipeline.py", cwd=tmp_path
        )
        assert result.code == 1
        [shown] = result.err_lines
        assert f'msg="pipeline.py:{line}: ' in shown, shown
        assert message in shown.replace('\\"', '"'), shown
        assert "Traceback" not in result.err
    assert json.loads(cli_process("runs", "--output", "json").out) == []
    assert not (tmp_path / "trace.txt").exists()


def test_a_file_that_builds_no_playbook(cli_process: Any, tmp_path: Path) -> None:
    (tmp_path / "empty.py").write_text("import os\n")
    result = cli_process("validate", "--emr-playbook", "empty.py", cwd=tmp_path)
    assert result.code == 1
    assert "empty.py: the file builds no playbook" in result.err


# --- what the file sees ----------------------------------------------------------------


def test_the_file_gets_the_vars_imports_its_neighbours_and_prints_aside(
    cli_process: Any, tmp_path: Path
) -> None:
    (tmp_path / "helpers.py").write_text("def shout(text):\n    return text.upper()\n")
    (tmp_path / "pipeline.py").write_text(
        textwrap.dedent(
            """\
            from dataflow_runner.dsl import Playbook, variables
            import helpers

            mode = variables().get("mode", "prod")
            print("building for", mode)
            pb = Playbook("p-" + mode)
            pb.command("a", ["echo", helpers.shout(mode)])
            if __name__ == "__main__":
                raise SystemExit("run as a script")
            """
        )
    )
    shown = _ok(
        cli_process("render", "--emr-playbook", "pipeline.py", "--vars", "mode,test", cwd=tmp_path)
    )
    doc = yaml.safe_load(shown.out)
    assert doc["data"]["name"] == "p-test"
    assert doc["data"]["steps"][0]["command"] == ["echo", "TEST"]
    assert "building for test" in shown.err
    default = _ok(cli_process("validate", "--emr-playbook", str(tmp_path / "pipeline.py")))
    assert "playbook 'p-prod'" in default.out


def test_a_yaml_playbook_does_not_import_the_dsl(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        "schema: iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0\n"
        "data: {name: p, steps: [{id: a, type: COMMAND, command: ['true']}]}\n"
    )
    code = (
        "import sys\nfrom dataflow_runner.cli.main import run\n"
        f"assert run(['validate', '--emr-playbook', {str(tmp_path / 'p.yaml')!r}]) == 0\n"
        "assert 'dataflow_runner.dsl' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
