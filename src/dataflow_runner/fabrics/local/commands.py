"""How a step runs on this machine: the command line, with EMR paths mapped.

EMR playbooks run locally unchanged: ``pathMappings`` turn ``s3://bucket/``
into local directories, ``command-runner.jar spark-submit --master yarn``
becomes pyspark's spark-submit in local mode, ``script-runner.jar`` runs the
script, ``s3-dist-cp`` copies through the mappings, other jars run with java.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dataflow_runner.config.model import ClusterConfig, Step, StepType
from dataflow_runner.errors import ConfigError
from dataflow_runner.fabrics.local.config import NAME, LocalSection

_S3_ALIASES = re.compile(r"^s3[an]://")
_HDFS_ROOT = "hdfs:///"


@dataclass(frozen=True)
class LocalSettings:
    """The local fabric's settings, resolved to absolute paths."""

    concurrency: int
    work_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    # (prefix, local path) pairs, longest prefix first.
    path_mappings: tuple[tuple[str, str], ...] = ()
    spark_master: str = "local[*]"
    spark_conf: Mapping[str, str] = field(default_factory=dict)
    # The cluster config these settings come from, as the user gave it (for errors).
    config_file: str | None = None

    @classmethod
    def from_config(
        cls, cluster: ClusterConfig, base_dir: Path | None = None, *, config_file: str | None = None
    ) -> LocalSettings:
        """``base_dir``: where relative paths start (default: the config's own
        ``base_dir``); a config without a local section runs with its defaults."""
        section = cluster.section(NAME)
        local = section if isinstance(section, LocalSection) else LocalSection()
        base_dir = Path(cluster.base_dir) if base_dir is None else base_dir
        config_file = config_file or cluster.file or None
        work_dir = (base_dir / local.work_dir).resolve()
        mappings = {_canonical(k): _local_path(v, base_dir) for k, v in local.path_mappings.items()}
        # The cluster's HDFS is a directory of the work dir unless mapped.
        mappings.setdefault(_HDFS_ROOT, str(work_dir / "hdfs") + "/")
        ordered = tuple(sorted(mappings.items(), key=lambda kv: len(kv[0]), reverse=True))
        return cls(
            concurrency=local.concurrency or os.cpu_count() or 1,
            work_dir=work_dir,
            env=dict(local.env),
            path_mappings=ordered,
            spark_master=local.spark.master,
            spark_conf=dict(local.spark.conf),
            config_file=config_file,
        )

    @classmethod
    def empty(cls) -> LocalSettings:
        """Settings for a fabric that only reaches existing clusters."""
        return cls(concurrency=1, work_dir=Path.cwd())

    def problems(self) -> list[ConfigError]:
        """What in the settings keeps any step from running here."""
        where = "$.data.local.workDir"
        if not self.work_dir.exists():
            why = f"the work directory {self.work_dir} does not exist"
        elif not self.work_dir.is_dir():
            why = f"the work directory {self.work_dir} is not a directory"
        else:
            return []
        return [ConfigError(why, file=self.config_file, path=where)]

    def map(self, text: str) -> str:
        """Replace every mapped URI prefix in ``text`` (s3n:// and s3a:// count as s3://)."""
        if "://" not in text:
            return text
        canonical = text.replace("s3n://", "s3://").replace("s3a://", "s3://")
        mapped = canonical
        for prefix, local in self.path_mappings:
            if prefix in mapped:
                mapped = mapped.replace(prefix, local)
        # An unmapped URI is left exactly as written (s3n:// stays s3n://).
        return mapped if mapped != canonical else text

    def unmapped(self, text: str) -> bool:
        """True when ``text`` is a remote URI that no mapping covers."""
        mapped = self.map(text)
        return bool(re.match(r"^(s3|hdfs|gs|wasbs?|abfss?)://", mapped))


def _canonical(prefix: str) -> str:
    return _S3_ALIASES.sub("s3://", prefix)


def _local_path(value: str, base_dir: Path) -> str:
    path = str((base_dir / os.path.expanduser(value)).resolve())
    return path + "/" if value.endswith("/") else path


def spark_submit() -> str | None:
    """pyspark's spark-submit, found without importing pyspark (it is slow to import)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        return None
    script = Path(spec.origin).parent / "bin" / "spark-submit"
    return str(script) if script.exists() else None


class StepCommandError(Exception):
    """A step cannot be turned into a local command (reported as a config error)."""


def _spark_args(settings: LocalSettings, conf: Mapping[str, str]) -> list[str]:
    args = ["--master", settings.spark_master]
    for key, value in {**settings.spark_conf, **conf}.items():
        args += ["--conf", f"{key}={value}"]
    return args


def _rewrite_spark_submit(args: Sequence[str], settings: LocalSettings) -> list[str]:
    """An EMR spark-submit command line, made to run in local mode."""
    binary = spark_submit()
    if binary is None:
        raise StepCommandError("pyspark is not installed (pip install 'dataflow-runner[spark]')")
    out = [binary, *_spark_args(settings, {})]
    skip = False
    for arg in args[1:]:
        if skip:
            skip = False
            continue
        # YARN cluster settings have no meaning on this machine.
        if arg in ("--master", "--deploy-mode"):
            skip = True
            continue
        if arg.startswith(("--master=", "--deploy-mode=")):
            continue
        out.append(settings.map(arg))
    return out


def _java_jar(jar: str, args: Sequence[str]) -> list[str]:
    """``hadoop jar`` semantics: the manifest's Main-Class, else the first argument."""
    java = shutil.which("java")
    if java is None:
        raise StepCommandError("java is not installed (a CUSTOM_JAR step runs with java)")
    main_class = None
    try:
        with zipfile.ZipFile(jar) as archive, archive.open("META-INF/MANIFEST.MF") as fh:
            for line in fh.read().decode("utf-8", "replace").splitlines():
                if line.startswith("Main-Class:"):
                    main_class = line.split(":", 1)[1].strip()
    except (OSError, KeyError, zipfile.BadZipFile):
        pass
    if main_class or not args:
        return [java, "-jar", jar, *args]
    return [java, "-cp", jar, *args]


def _script(path: str, args: Sequence[str]) -> list[str]:
    # script-runner.jar runs the script itself; a script that is not executable
    # is given to sh, as a shell script most likely is.
    if os.access(path, os.X_OK):
        return [path, *args]
    return ["/bin/sh", path, *args]


def argv(step: Step, settings: LocalSettings) -> list[str]:
    """The command line that runs ``step`` on this machine."""
    m = settings.map
    if step.type is StepType.COMMAND:
        return [m(a) for a in step.command]
    if step.type is StepType.SCRIPT:
        return _script(m(step.script), [m(a) for a in step.args])
    if step.type is StepType.SPARK:
        binary = spark_submit()
        if binary is None:
            raise StepCommandError(
                "pyspark is not installed (pip install 'dataflow-runner[spark]')"
            )
        out = [binary, *_spark_args(settings, step.conf)]
        if step.main_class:
            out += ["--class", step.main_class]
        if step.py_files:
            out += ["--py-files", ",".join(m(p) for p in step.py_files)]
        if step.packages:
            out += ["--packages", ",".join(step.packages)]
        return [*out, m(step.application), *(m(a) for a in step.args)]
    # CUSTOM_JAR: what EMR's well-known jars do, then any other jar.
    jar = step.jar
    name = jar.rsplit("/", 1)[-1]
    args = list(step.arguments)
    if name == "command-runner.jar":
        if not args:
            raise StepCommandError("command-runner.jar needs a command in its arguments")
        if args[0] == "spark-submit":
            return _rewrite_spark_submit(args, settings)
        return [m(a) for a in args]
    if name == "script-runner.jar":
        if not args:
            raise StepCommandError("script-runner.jar needs a script in its arguments")
        return _script(m(args[0]), [m(a) for a in args[1:]])
    if "s3-dist-cp" in name:
        return [sys.executable, "-m", "dataflow_runner.fabrics.local.distcp", *(m(a) for a in args)]
    return _java_jar(m(jar), [m(a) for a in args])


def check(step: Step, settings: LocalSettings) -> list[str]:
    """Why ``step`` cannot run here (empty when it can)."""
    problems: list[str] = []
    try:
        command = argv(step, settings)
    except StepCommandError as exc:
        return [str(exc)]
    if step.type is StepType.CUSTOM_JAR and "s3-dist-cp" in step.jar:
        for flag in ("--src", "--dest"):
            if flag in step.arguments:
                i = step.arguments.index(flag)
                value = step.arguments[i + 1] if i + 1 < len(step.arguments) else ""
                if settings.unmapped(value):
                    problems.append(
                        f"{flag} {value} has no local path: add a pathMappings "
                        "entry for it to the cluster config's local section"
                    )
    if step.type is StepType.SCRIPT:
        if settings.unmapped(step.script):
            problems.append(f"script {step.script} has no local path: add a pathMappings entry")
        else:
            # Steps run in the work directory: a relative script starts there.
            script = settings.work_dir / settings.map(step.script)
            if not script.exists():
                problems.append(f"script {script} does not exist")
            elif script.is_dir():
                problems.append(f"script {script} is a directory")
    if step.type is StepType.CUSTOM_JAR and command and command[0].endswith("java"):
        if settings.unmapped(step.jar):
            problems.append(f"jar {step.jar} has no local path: add a pathMappings entry")
        else:
            # Run in the work directory: a relative jar starts there.
            jar = settings.work_dir / settings.map(step.jar)
            if not jar.is_file():
                problems.append(f"jar {jar} does not exist")
    return problems


def safe_argv(step: Step, settings: LocalSettings) -> list[str] | str:
    """The command line, or why there is none (a dry run shows both)."""
    try:
        return argv(step, settings)
    except StepCommandError as exc:
        return f"<cannot run here: {exc}>"
