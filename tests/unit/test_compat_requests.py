"""Every sample and real-world config of the Go tool builds the request the
compat page's mapping says, through the real CLI (``--dry-run``).

The files are read from ../shared/compat (never copied into the project);
templated ones are rendered with plausible ``--vars``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REAL = "real-configs"
_CLUSTER_VARS = "bucket,my-bucket,region,eu-west-1,role,EMR_EC2_Role,keypair,kp,subnet,subnet-1"
VARS = {
    "10-evrec-spark-cluster-1-1-0.json.tmpl": f"{_CLUSTER_VARS},client,acme",
    "11-evrec-spark-playbook-1-0-1.json.tmpl": (
        "bucket,my-bucket,region,eu-west-1,version,2.0.0,inputdir,/in,output,good,"
        "resolver,cmVz,config,Y29uZg==,client,acme"
    ),
    "12-evrec-flink-cluster-1-1-0.json.tmpl": f"{_CLUSTER_VARS},client,acme,version,2.0.0",
    "09-docs-snowflake-playbook-1-0-1.json": "awsRegion,us-west-2",
}


def _dry(cli: Any, *args: str) -> dict[str, Any]:
    result = cli(*args, "--dry-run")
    assert result.code == 0, result.err
    request: dict[str, Any] = json.loads(result.out)
    return request


def _user_tags(request: dict[str, Any]) -> list[dict[str, str]]:
    """The config's own tags (this tool adds its own, prefixed dataflow-runner:)."""
    return [t for t in request.get("Tags", []) if not t["Key"].startswith("dataflow-runner:")]


def _without_tool_tags(request: dict[str, Any]) -> dict[str, Any]:
    out = dict(request)
    out["Tags"] = _user_tags(request)
    if not out["Tags"]:
        del out["Tags"]
    return out


def _groups(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["InstanceRole"]: g for g in request["Instances"]["InstanceGroups"]}


CLUSTERS = {
    # file: (release key/value, groups present, subnet, applications, n configurations, n tags)
    "samples/cluster.json": (
        ("ReleaseLabel", "emr-5.34.0"),
        {"MASTER", "CORE"},
        "subnet-sample",
        ["Hadoop", "Spark"],
        2,
        2,
    ),
    f"{REAL}/01-dfr-sample-cluster-1-0-0.json": (
        ("ReleaseLabel", "emr-4.5.0"),
        {"MASTER", "CORE"},
        "subnet-sample",
        None,
        2,
        2,
    ),
    f"{REAL}/03-dfr-sample-cluster-1-1-0.json": (
        ("ReleaseLabel", "emr-5.34.0"),
        {"MASTER", "CORE"},
        "subnet-sample",
        ["Hadoop", "Spark"],
        2,
        2,
    ),
    f"{REAL}/04-blog-intro-cluster-1-0-0.json": (
        ("ReleaseLabel", "emr-4.5.0"),
        {"MASTER", "CORE"},
        "subnet-123ABC",
        None,
        0,
        0,
    ),
    f"{REAL}/06-docs-rdb-shredder-cluster-1-1-0.json": (
        ("ReleaseLabel", "emr-6.2.0"),
        {"MASTER", "CORE"},
        "subnet-id",
        ["Hadoop", "Spark"],
        4,
        0,
    ),
    f"{REAL}/08-docs-snowflake-cluster-1-1-0.json": (
        ("ReleaseLabel", "emr-6.4.0"),
        {"MASTER", "CORE"},
        None,
        ["Hadoop", "Spark"],
        4,
        0,
    ),
    f"{REAL}/10-evrec-spark-cluster-1-1-0.json.tmpl": (
        ("ReleaseLabel", "emr-6.7.0"),
        {"MASTER", "CORE"},
        "subnet-1",
        ["Hadoop", "Spark"],
        0,
        2,
    ),
    f"{REAL}/12-evrec-flink-cluster-1-1-0.json.tmpl": (
        ("ReleaseLabel", "emr-6.9.0"),
        {"MASTER", "CORE"},
        "subnet-1",
        ["Flink"],
        4,
        2,
    ),
    f"{REAL}/15-g8-scala-app-cluster-1-1-0.json": (
        ("ReleaseLabel", "emr-5.9.0"),
        {"MASTER", "CORE"},
        None,
        ["Hadoop", "Spark"],
        2,
        0,
    ),
}


@pytest.mark.parametrize("name", sorted(CLUSTERS))
def test_up_request_follows_the_compat_mapping(cli: Any, compat: Path, name: str) -> None:
    release, groups, subnet, apps, n_conf, n_tags = CLUSTERS[name]
    path = compat / name
    args = ["up", "--emr-config", str(path)]
    if path.name in VARS:
        args += ["--vars", VARS[path.name]]
    request = _dry(cli, *args)
    raw = json.loads((compat / name).read_text()) if path.suffix == ".json" else None

    assert request[release[0]] == release[1]
    assert set(_groups(request)) == groups
    assert _groups(request)["MASTER"]["InstanceCount"] == 1
    assert request["Instances"]["KeepJobFlowAliveWhenNoSteps"] is True
    assert request["Instances"].get("Ec2SubnetId") == subnet
    assert "Placement" not in request["Instances"]
    assert request["VisibleToAllUsers"] is True
    assert request.get("Applications") == ([{"Name": a} for a in apps] if apps else None)
    assert len(request.get("Configurations", [])) == n_conf
    assert len(_user_tags(request)) == n_tags
    tool = {t["Key"]: t["Value"] for t in request["Tags"] if t not in _user_tags(request)}
    assert tool == {"dataflow-runner:tool": "dataflow-runner", "dataflow-runner:mode": "persistent"}
    assert "Steps" not in request
    if raw is not None:
        data = raw["data"]
        assert request["Name"] == data["name"]
        assert request["LogUri"] == data["logUri"]
        assert request["JobFlowRole"] == data["roles"]["jobflow"]
        assert request["ServiceRole"] == data["roles"]["service"]
        assert (
            _groups(request)["CORE"]["InstanceCount"] == data["ec2"]["instances"]["core"]["count"]
        )


def test_ebs_volumes_and_iops_rule(cli: Any, compat: Path) -> None:
    # gp2 volumes never carry Iops, even when the file gives one (10: "iops": 8).
    request = _dry(
        cli,
        "up",
        "--emr-config",
        str(compat / REAL / "10-evrec-spark-cluster-1-1-0.json.tmpl"),
        "--vars",
        VARS["10-evrec-spark-cluster-1-1-0.json.tmpl"],
    )
    ebs = _groups(request)["MASTER"]["EbsConfiguration"]
    assert ebs == {
        "EbsOptimized": True,
        "EbsBlockDeviceConfigs": [
            {"VolumeSpecification": {"VolumeType": "gp2", "SizeInGB": 10}, "VolumesPerInstance": 12}
        ],
    }
    # An empty device list (06) keeps only EbsOptimized.
    request = _dry(
        cli, "up", "--emr-config", str(compat / REAL / "06-docs-rdb-shredder-cluster-1-1-0.json")
    )
    assert _groups(request)["MASTER"]["EbsConfiguration"] == {"EbsOptimized": True}


def test_nested_configurations_are_kept(cli: Any, compat: Path) -> None:
    name = "12-evrec-flink-cluster-1-1-0.json.tmpl"
    request = _dry(cli, "up", "--emr-config", str(compat / REAL / name), "--vars", VARS[name])
    hadoop_env = request["Configurations"][0]
    assert hadoop_env["Classification"] == "hadoop-env"
    assert hadoop_env["Configurations"] == [
        {
            "Classification": "export",
            "Properties": {"JAVA_HOME": "/usr/lib/jvm/java-11-amazon-corretto.x86_64"},
        }
    ]
    flink = request["Configurations"][1]["Properties"]
    assert flink["state.savepoints.dir"] == "s3://my-bucket/savepoints/"
    assert request["BootstrapActions"] == [
        {
            "Name": "Flink Streaming Hadoop FS",
            "ScriptBootstrapAction": {
                "Path": "s3://my-bucket/3-enrich/snowplow-event-recovery/"
                "snowplow-event-recovery-flink-2.0.0-bootstrap.sh",
                "Args": [],
            },
        }
    ]


def test_spot_task_group_and_security_configuration(cli: Any, compat: Path, tmp_path: Path) -> None:
    # 14 uses `secret`; with it replaced by environment lookups it is a valid config.
    text = (compat / REAL / "14-evrec-cluster-1-1-0.json.tmpl").read_text()
    text = text.replace('{{secret "aws-access-key-id"}}', "env")
    text = text.replace('{{secret "aws-secret-access-key"}}', "env")
    text = text.replace(
        '"count": 0,\n          "bid": "0.25"', '"count": 3,\n          "bid": "0.25"'
    )
    cluster = tmp_path / "cluster.json"
    cluster.write_text(text)
    request = _dry(cli, "up", "--emr-config", str(cluster))
    task = _groups(request)["TASK"]
    assert task == {
        "InstanceRole": "TASK",
        "InstanceType": "c4.8xlarge",
        "InstanceCount": 3,
        "Market": "SPOT",
        "BidPrice": "0.25",
    }
    core_volume = _groups(request)["CORE"]["EbsConfiguration"]["EbsBlockDeviceConfigs"][0]
    assert core_volume["VolumeSpecification"] == {"VolumeType": "io1", "SizeInGB": 50, "Iops": 500}
    assert request["ReleaseLabel"] == "emr-5.19.0"
    sample = _dry(cli, "up", "--emr-config", str(compat / "samples" / "cluster.json"))
    assert sample["SecurityConfiguration"] == "mySecConfig"


PLAYBOOKS = {
    # file: [(name, jar, first argument)]
    "samples/playbook.json": [
        ("Combine Months", "/usr/share/aws/emr/s3-dist-cp/lib/s3-dist-cp.jar", "--src"),
        (
            "Combine Months",
            "s3://snowplow-hosted-assets/3-enrich/hadoop-event-recovery/"
            "snowplow-hadoop-event-recovery-0.2.0.jar",
            "com.snowplowanalytics.hadoop.scalding.SnowplowEventRecoveryJob",
        ),
    ],
    f"{REAL}/02-dfr-sample-playbook-1-0-0.json": [
        ("Combine Months", "/usr/share/aws/emr/s3-dist-cp/lib/s3-dist-cp.jar", "--src"),
        (
            "Combine Months",
            "s3://snowplow-hosted-assets/3-enrich/hadoop-event-recovery/"
            "snowplow-hadoop-event-recovery-0.2.0.jar",
            "com.snowplowanalytics.hadoop.scalding.SnowplowEventRecoveryJob",
        ),
    ],
    f"{REAL}/05-blog-intro-playbook-1-0-0.json": [
        ("Custom Step Name", "/usr/share/aws/emr/s3-dist-cp/lib/s3-dist-cp.jar", "--src")
    ],
    f"{REAL}/11-evrec-spark-playbook-1-0-1.json.tmpl": [
        ("Fetch jar", "command-runner.jar", "bash"),
        ("snowplow-event-recovery", "command-runner.jar", "spark-submit"),
    ],
}


@pytest.mark.parametrize("name", sorted(PLAYBOOKS))
def test_run_request_follows_the_compat_mapping(cli: Any, compat: Path, name: str) -> None:
    path = compat / name
    args = ["run", "--emr-playbook", str(path), "--emr-cluster", "j-2DPBXD87LSGP9"]
    if path.name in VARS:
        args += ["--vars", VARS[path.name]]
    request = _dry(cli, *args)
    assert request["JobFlowId"] == "j-2DPBXD87LSGP9"
    assert set(request) == {"JobFlowId", "Steps"}
    got = [
        (s["Name"], s["HadoopJarStep"]["Jar"], s["HadoopJarStep"]["Args"][0])
        for s in request["Steps"]
    ]
    assert got == PLAYBOOKS[name]
    assert all(s["ActionOnFailure"] == "CANCEL_AND_WAIT" for s in request["Steps"])


def test_templated_arguments_render_exactly(cli: Any, compat: Path) -> None:
    name = "11-evrec-spark-playbook-1-0-1.json.tmpl"
    request = _dry(
        cli,
        "run",
        "--emr-playbook",
        str(compat / REAL / name),
        "--emr-cluster",
        "j-1",
        "--vars",
        VARS[name],
    )
    fetch, spark = request["Steps"]
    assert fetch["HadoopJarStep"]["Args"] == [
        "bash",
        "-c",
        "aws s3 cp s3://my-bucket/3-enrich/snowplow-event-recovery/"
        "snowplow-event-recovery-spark-2.0.0.jar /home/hadoop/event-recovery.jar",
    ]
    args = spark["HadoopJarStep"]["Args"]
    assert args[args.index("--region") + 1] == "eu-west-1"  # `{{ .region}}` spacing variant
    assert args[args.index("--input") + 1] == "s3://my-bucket/in"
    assert args[-1] == "customer:acme;job:recovery"


def test_base64file_relative_to_the_working_directory(
    cli: Any, compat: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    for name, content in (
        ("config.json", b'{"a": 1}'),
        ("resolver.json", b'{"r": 2}'),
        ("events_manifest.json", b"manifest\n"),
    ):
        (tmp_path / name).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    name = "09-docs-snowflake-playbook-1-0-1.json"
    request = _dry(
        cli,
        "run",
        "--emr-playbook",
        str(compat / REAL / name),
        "--emr-cluster",
        "j-1",
        "--vars",
        VARS[name],
    )
    transformer, loader = request["Steps"]
    args = transformer["HadoopJarStep"]["Args"]
    assert args[:2] == ["spark-submit", "--deploy-mode"]
    assert base64.b64decode(args[args.index("--config") + 1]) == b'{"a": 1}'
    assert base64.b64decode(args[args.index("--events-manifest") + 1]) == b"manifest\n"
    assert loader["HadoopJarStep"]["Jar"].endswith("snowplow-snowflake-loader-0.9.0.jar")


def test_now_with_format_and_absolute_base64file(cli: Any, compat: Path, tmp_path: Path) -> None:
    # 07 reads /home/snowplow/...: first, as is, the missing file is a clear error.
    original = compat / REAL / "07-docs-rdb-shredder-playbook-1-0-1.json"
    result = cli("run", "--emr-playbook", str(original), "--emr-cluster", "j-1", "--dry-run")
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert str(original) in result.err
    assert "/home/snowplow/configs/snowplow/iglu_resolver.json" in result.err
    assert "no such file or directory" in result.err.lower()
    # Then with those absolute paths pointing at files that exist.
    (tmp_path / "iglu_resolver.json").write_text("{}")
    (tmp_path / "config.hocon").write_text("x = 1")
    text = original.read_text().replace("/home/snowplow/configs/snowplow/", f"{tmp_path}/")
    moved = tmp_path / "playbook.json"
    moved.write_text(text)
    request = _dry(cli, "run", "--emr-playbook", str(moved), "--emr-cluster", "j-1")
    archive = request["Steps"][0]["HadoopJarStep"]["Args"][3]
    assert archive.startswith("s3://com-acme/enriched/archive/run=")
    stamp = archive.split("run=")[1].rstrip("/")
    assert len(stamp) == len("2006-01-02-15-04-05") and stamp[4] == "-" and "{{" not in stamp


@pytest.mark.parametrize(
    ("name", "line"),
    [("13-evrec-recovery-playbook-1-0-1.json.tmpl", 6), ("14-evrec-cluster-1-1-0.json.tmpl", 8)],
)
def test_secret_is_not_a_template_function(cli: Any, compat: Path, name: str, line: int) -> None:
    flag = "--emr-playbook" if "playbook" in name else "--emr-config"
    args = (
        ["run", flag, str(compat / REAL / name), "--emr-cluster", "j-1"]
        if "playbook" in name
        else ["up", flag, str(compat / REAL / name)]
    )
    result = cli(*args, "--dry-run")
    assert result.code == 1
    assert result.out == ""
    [error] = result.err_lines
    assert f"{compat / REAL / name}:{line}: " in error
    assert 'function \\"secret\\" not defined' in error


PAIRS = [
    ("samples/cluster.json", "samples/playbook.json"),
    (f"{REAL}/01-dfr-sample-cluster-1-0-0.json", f"{REAL}/02-dfr-sample-playbook-1-0-0.json"),
    (f"{REAL}/03-dfr-sample-cluster-1-1-0.json", f"{REAL}/02-dfr-sample-playbook-1-0-0.json"),
    (f"{REAL}/04-blog-intro-cluster-1-0-0.json", f"{REAL}/05-blog-intro-playbook-1-0-0.json"),
    (
        f"{REAL}/10-evrec-spark-cluster-1-1-0.json.tmpl",
        f"{REAL}/11-evrec-spark-playbook-1-0-1.json.tmpl",
    ),
    (
        f"{REAL}/12-evrec-flink-cluster-1-1-0.json.tmpl",
        f"{REAL}/11-evrec-spark-playbook-1-0-1.json.tmpl",
    ),
    (f"{REAL}/15-g8-scala-app-cluster-1-1-0.json", f"{REAL}/05-blog-intro-playbook-1-0-0.json"),
    (
        f"{REAL}/06-docs-rdb-shredder-cluster-1-1-0.json",
        f"{REAL}/05-blog-intro-playbook-1-0-0.json",
    ),
    (f"{REAL}/08-docs-snowflake-cluster-1-1-0.json", f"{REAL}/02-dfr-sample-playbook-1-0-0.json"),
]


@pytest.mark.parametrize(("cluster", "playbook"), PAIRS)
def test_run_transient_puts_the_steps_in_the_launch(
    cli: Any, compat: Path, cluster: str, playbook: str
) -> None:
    variables = ",".join(
        v for k, v in VARS.items() if k in (Path(cluster).name, Path(playbook).name)
    )
    # Merge both files' variables (duplicates are harmless: the last wins, as in the Go tool).
    args = [
        "run-transient",
        "--emr-config",
        str(compat / cluster),
        "--emr-playbook",
        str(compat / playbook),
    ]
    if variables:
        args += ["--vars", variables]
    transient = _dry(cli, *args)
    up = _dry(
        cli,
        "up",
        "--emr-config",
        str(compat / cluster),
        *(["--vars", variables] if variables else []),
    )
    steps = _dry(
        cli,
        "run",
        "--emr-playbook",
        str(compat / playbook),
        "--emr-cluster",
        "j-1",
        *(["--vars", variables] if variables else []),
    )
    assert transient["Instances"]["KeepJobFlowAliveWhenNoSteps"] is False
    assert transient["Steps"] == steps["Steps"]
    # Transient clusters carry the run id, so orphans can be found.
    tool = {t["Key"]: t["Value"] for t in transient["Tags"] if t["Key"].startswith("dataflow")}
    assert tool["dataflow-runner:mode"] == "transient"
    assert tool["dataflow-runner:run-id"].startswith("r-")
    # Apart from the steps, keep-alive and those tags, the launch is the one `up` sends.
    for request in (transient, up):
        request.pop("Steps", None)
        request["Instances"].pop("KeepJobFlowAliveWhenNoSteps")
    assert _without_tool_tags(transient) == _without_tool_tags(up)


def test_down_request(cli: Any, compat: Path) -> None:
    request = _dry(
        cli,
        "down",
        "--emr-config",
        str(compat / "samples" / "cluster.json"),
        "--emr-cluster",
        "j-2DPBXD87LSGP9",
    )
    assert request == {"JobFlowIds": ["j-2DPBXD87LSGP9"]}


def test_every_shared_config_is_covered(compat: Path) -> None:
    """The tables above name every file of the held-out set (new files must be added)."""
    covered = (
        set(CLUSTERS)
        | set(PLAYBOOKS)
        | {
            f"{REAL}/07-docs-rdb-shredder-playbook-1-0-1.json",
            f"{REAL}/09-docs-snowflake-playbook-1-0-1.json",
            f"{REAL}/13-evrec-recovery-playbook-1-0-1.json.tmpl",
            f"{REAL}/14-evrec-cluster-1-1-0.json.tmpl",
        }
    )
    present = {f"{REAL}/{p.name}" for p in (compat / REAL).iterdir() if p.name != "README.md"}
    present |= {f"samples/{p.name}" for p in (compat / "samples").iterdir()}
    assert present <= covered, present - covered
    assert os.path.isdir(compat / "avro")
