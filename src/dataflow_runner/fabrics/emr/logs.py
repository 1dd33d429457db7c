"""A failed EMR step's logs, from the cluster's logUri on S3.

EMR copies a step's logs to ``<logUri>/<jobflow>/steps/<step>/`` (gzipped
``stderr``, ``stdout``, ``controller``, ``syslog``) some minutes after the
step ends. The engine asks again until they appear, within a bound; there is
no fixed five-minute sleep as in the Go tool.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
from collections.abc import Mapping
from typing import Any

from dataflow_runner.diagnosis import DETAIL_LINES, diagnose_text
from dataflow_runner.errors import FabricError
from dataflow_runner.fabrics.base import FailureCause
from dataflow_runner.fabrics.emr.client import call

log = logging.getLogger("dataflow_runner.emr")

#: Which files say most about a failure, in order.
ORDER = ("stderr", "controller", "syslog", "stdout")
PRINT_LINES = 200


def prefix(log_uri: str, cluster_id: str, step_id: str) -> tuple[str, str]:
    """(bucket, key prefix) of a step's logs; ``s3n://``/``s3a://`` mean ``s3://``."""
    uri = log_uri.strip()
    for scheme in ("s3n://", "s3a://"):
        if uri.startswith(scheme):
            uri = "s3://" + uri[len(scheme) :]
    if not uri.startswith("s3://"):
        raise FabricError(f"logUri {log_uri!r} is not an s3:// URI: cannot fetch step logs")
    bucket, _, key = uri[len("s3://") :].lstrip("/").partition("/")
    if not bucket:
        raise FabricError(f"logUri {log_uri!r} has no bucket")
    key = key.rstrip("/")
    base = f"{key}/" if key else ""
    return bucket, f"{base}{cluster_id}/steps/{step_id}/"


def fetch(s3: Any, log_uri: str, cluster_id: str, step_id: str) -> dict[str, str]:
    """The step's log files as text, by name (``stderr``...); empty if none yet."""
    bucket, key_prefix = prefix(log_uri, cluster_id, step_id)
    listing = call("ListObjectsV2", s3.list_objects_v2, Bucket=bucket, Prefix=key_prefix)
    out: dict[str, str] = {}
    for obj in listing.get("Contents", []):
        key = str(obj["Key"])
        body = call("GetObject", s3.get_object, Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".gz"):
            with contextlib.suppress(OSError, EOFError):
                body = gzip.decompress(body)
        name = key[len(key_prefix) :].removesuffix(".gz")
        out[name] = body.decode("utf-8", "replace")
    return out


def cause(files: Mapping[str, str]) -> FailureCause | None:
    """The probable cause found in the files, most telling first."""
    names = sorted(files, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))
    for name in names:
        summary = diagnose_text(files[name])
        if summary:
            lines = [ln for ln in files[name].splitlines() if ln.strip()]
            return FailureCause(summary=summary[:500], detail=tuple(lines[-DETAIL_LINES:]))
    return None


def show(files: Mapping[str, str], step_id: str, location: str) -> None:
    """Print each file (its last lines), as the Go tool's --log-failed-steps did."""
    for name in sorted(files, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        lines = files[name].splitlines()
        log.info("Content of log file '%s' for step %s:", name, step_id)
        if len(lines) > PRINT_LINES:
            log.info(
                "(%d earlier lines left out; the whole file is at %s%s.gz)",
                len(lines) - PRINT_LINES,
                location,
                name,
            )
            lines = lines[-PRINT_LINES:]
        for line in lines:
            log.info("%s", line)


def print_step_logs(run: Any, attempt: Any) -> None:
    """``logs RUN STEP`` for an EMR step: fetch and print its files."""
    from dataflow_runner.cli.output import echo
    from dataflow_runner.config.model import Credentials
    from dataflow_runner.fabrics.emr.client import clients, session

    location = str(attempt.log_location)
    cluster_id = str(attempt.fabric_ref.get("cluster", ""))
    step_id = str(attempt.fabric_ref.get("fabric_id", ""))
    log_uri = location.split(f"{cluster_id}/steps/", maxsplit=1)[0] if cluster_id else location
    creds = (
        run.cluster_doc.get("data", run.cluster_doc).get("credentials", {})
        if isinstance(run.cluster_doc, dict)
        else {}
    )
    region = str(run.playbook_doc.get("region", "") or "")
    credentials = Credentials(
        access_key_id=str(creds.get("accessKeyId", "")) or "default",
        secret_access_key=str(creds.get("secretAccessKey", "")) or "default",
    )
    if credentials.mode == "static":  # the store keeps no secret: use the default chain
        credentials = Credentials(access_key_id="default", secret_access_key="default")
    s3 = clients(session(credentials, region), "s3")[0]
    files = fetch(s3, log_uri, cluster_id, step_id)
    if not files:
        raise FabricError(
            f"no logs at {location} yet (EMR copies them some minutes after the step ends)"
        )
    for name in sorted(files, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        echo(f"==> {name} <==")
        echo(files[name].rstrip("\n"))
