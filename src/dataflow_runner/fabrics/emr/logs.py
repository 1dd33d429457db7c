"""A failed EMR step's logs, from the cluster's logUri on S3.

EMR copies a step's logs to ``<logUri>/<jobflow>/steps/<step>/`` (gzipped
``stderr``, ``stdout``, ``controller``, ``syslog``) some minutes after the
step ends. The engine asks again until they appear, within a bound; there is
no fixed five-minute sleep as in the Go tool.
"""

from __future__ import annotations

import contextlib
import gzip
from typing import Any

from dataflow_runner.errors import FabricError
from dataflow_runner.fabrics.emr.client import call


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
