"""The Go tool's EMR playbooks run unchanged on the local fabric, through path
mappings: s3-dist-cp copies, a custom jar runs with java, and an EMR
``spark-submit --master yarn --deploy-mode cluster`` runs on pyspark locally.

The playbooks are read from ../shared/compat; the jars they name are compiled
here (javac) from tiny Java programs with the classes the playbooks call.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NATIVE_CLUSTER = "iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0"

RECOVERY_JOB = """
package {package};

import java.nio.file.*;
import java.util.*;

public class {cls} {{
  public static void main(String[] args) throws Exception {{
    Map<String, String> opts = new HashMap<>();
    for (int i = 0; i < args.length; i++) {{
      if (args[i].startsWith("--") && i + 1 < args.length && !args[i + 1].startsWith("--")) {{
        opts.put(args[i], args[++i]);
      }}
    }}
    String in = opts.get("--input");
    Path dir = Paths.get(in.endsWith("*") ? in.substring(0, in.length() - 1) : in);
    Path out = Paths.get(opts.get("--output"));
    Files.createDirectories(out);
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {{
      for (Path p : files) {{
        Files.copy(p, out.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
      }}
    }}
    Files.writeString(out.resolve("_SUCCESS"), String.join(" ", args));
  }}
}}
"""


def build_jar(d: Path, qualified: str, jar: Path) -> None:
    if shutil.which("javac") is None or shutil.which("jar") is None:
        raise RuntimeError("a JDK (javac, jar) is needed: apt-get install default-jdk-headless")
    package, cls = qualified.rsplit(".", 1)
    src = d / "src" / Path(*package.split(".")) / f"{cls}.java"
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_text(RECOVERY_JOB.format(package=package, cls=cls))
    classes = d / "classes"
    subprocess.run(["javac", "-d", str(classes), str(src)], check=True)
    jar.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True)


def local_cluster(d: Path, mappings: dict[str, str]) -> Path:
    (d / "work").mkdir(exist_ok=True)
    path = d / "local.json"
    (d / "work").mkdir(exist_ok=True)  # a work directory must exist
    path.write_text(
        json.dumps(
            {
                "schema": NATIVE_CLUSTER,
                "data": {
                    "name": "laptop",
                    "local": {
                        "concurrency": 2,
                        "workDir": str(d / "work"),
                        "pathMappings": mappings,
                        "spark": {"master": "local[1]", "conf": {"spark.ui.enabled": "false"}},
                    },
                },
            }
        )
    )
    return path


def test_the_sample_playbook_runs_locally(cli_process: Any, compat: Path, tmp_path: Path) -> None:
    bucket, assets = tmp_path / "bucket", tmp_path / "assets"
    for i in range(3):
        (bucket / "enriched" / "bad").mkdir(parents=True, exist_ok=True)
        (bucket / "enriched" / "bad" / f"part-{i}.txt").write_text(f"bad row {i}\n")
    build_jar(
        tmp_path,
        "com.snowplowanalytics.hadoop.scalding.SnowplowEventRecoveryJob",
        assets / "3-enrich/hadoop-event-recovery/snowplow-hadoop-event-recovery-0.2.0.jar",
    )
    cluster = local_cluster(
        tmp_path,
        {"s3://my-output-bucket/": f"{bucket}/", "s3://snowplow-hosted-assets/": f"{assets}/"},
    )
    result = cli_process(
        "run-transient",
        "--emr-config",
        str(cluster),
        "--emr-playbook",
        str(compat / "samples" / "playbook.json"),
    )
    assert result.code == 0, result.err
    hdfs = tmp_path / "work" / "hdfs" / "local"
    assert sorted(p.name for p in (hdfs / "monthly").iterdir()) == [
        "part-0.txt",
        "part-1.txt",
        "part-2.txt",
    ]
    recovered = hdfs / "recovery"
    assert (recovered / "part-2.txt").read_text() == "bad row 2\n"
    assert "--hdfs --input" in (recovered / "_SUCCESS").read_text()
    assert "Transient local run completed successfully" in result.err


def test_an_emr_spark_submit_runs_on_pyspark(
    cli_process: Any, compat: Path, tmp_path: Path
) -> None:
    pytest.importorskip("pyspark", reason="pyspark is installed by scripts/test ([spark] extra)")
    text = (compat / "real-configs" / "13-evrec-recovery-playbook-1-0-1.json.tmpl").read_text()
    # `secret` is not a template function (of this tool or the Go tool): use env credentials.
    text = text.replace('{{secret "aws-access-key-id"}}', "env")
    text = text.replace('{{secret "aws-secret-access-key"}}', "env")
    playbook = tmp_path / "recovery.json"
    playbook.write_text(text)
    bad, raw, assets = tmp_path / "bad", tmp_path / "raw", tmp_path / "assets"
    (bad / "main").mkdir(parents=True)
    (bad / "main" / "rows.tsv").write_text("a\tb\n")
    build_jar(
        tmp_path,
        "com.snowplowanalytics.snowplow.event.recovery.RecoveryJob",
        assets / "3-enrich/snowplow-event-recovery/"
        "snowplow-snowplow-event-recovery-spark-0.1.0.jar",
    )
    cluster = local_cluster(
        tmp_path,
        {
            "s3://bad/": f"{bad}/",
            "s3://raw/": f"{raw}/",
            "s3://snowplow-hosted-assets/": f"{assets}/",
        },
    )
    result = cli_process(
        "run-transient", "--emr-config", str(cluster), "--emr-playbook", str(playbook), timeout=600
    )
    assert result.code == 0, result.err
    # S3 → S3 (deleting the source), S3 → HDFS, Spark job, HDFS → S3.
    assert not (bad / "main" / "rows.tsv").exists()
    assert (raw / "recovery" / "rows.tsv").read_text() == "a\tb\n"
    assert (raw / "recovery" / "_SUCCESS").exists()
