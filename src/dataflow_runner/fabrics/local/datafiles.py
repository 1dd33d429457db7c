"""Whether a local step's inputs and outputs exist: one ``stat`` per path (one
directory listing for a directory that counts any content), the path mapped as
the steps see it (``hdfs://``, ``s3://`` through the cluster's path mappings).
A remote path that no mapping covers cannot be known from here: None.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataflow_runner.fabrics.base import Target
    from dataflow_runner.fabrics.local.commands import LocalSettings


def exists(settings: LocalSettings, targets: Sequence[Target]) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for target in targets:
        mapped = settings.map(target.uri)
        if settings.unmapped(mapped):
            out[target.uri] = None
            continue
        path = Path(settings.work_dir, mapped)  # an absolute path stays itself
        if not target.directory:
            out[target.uri] = path.is_file()
        elif target.marker:
            out[target.uri] = (path / "_SUCCESS").is_file()
        else:
            try:
                with os.scandir(path) as entries:
                    out[target.uri] = next(entries, None) is not None
            except OSError:
                out[target.uri] = False
    return out
