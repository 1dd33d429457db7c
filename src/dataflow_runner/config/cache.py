"""The cache of validated configs: a file that renders to a text this code has
already validated is read back in its validated form, without pydantic.

Validation itself is quick; what costs is importing pydantic and building its
validators, about a third of a short local run's wall time. The key is a hash of
everything the validated form depends on: the tool's version and the source of
its ``config`` package (size and mtime of each module, so an edited checkout never
reads a stale entry), the kind of config, the path as given (warnings and default
names use it) and the rendered text. So a rerun of the same playbook hits, and a
playbook rendered with other ``--vars`` (another date) is validated afresh.

What is stored is the JSON form of ``spec.py``'s objects plus the validation's
warnings (shown again on a hit). The loader never stores a form with anything
secret in it (see ``loading._load``), so an entry holds less than the run's record
in the store does; entries live next to the store, in ``<state dir>/cache/configs``
(0700), at most :data:`LIMIT` of them (the least recently used go first). Any
problem reading or writing an entry only means validating again.

>>> cache = ConfigCache(Path("/tmp/dfr/cache/configs"))  # doctest: +SKIP
>>> cache.get("playbook", "book.json", text) is None  # first time  # doctest: +SKIP
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from functools import cache as once
from pathlib import Path
from typing import Any

log = logging.getLogger("dataflow_runner.config")

#: Version of the entries' layout.
FORMAT = 1
#: Entries kept, and their total size; the least recently used go first when a new
#: one is written. (A playbook rendered with the time of day makes a new entry at
#: every run: these bound what that leaves behind.)
LIMIT = 200
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Hit:
    doc: dict[str, Any]
    notes: list[str]


@once
def code_fingerprint() -> str:
    """The tool's version, the size and mtime of every module of this package, and
    of pydantic's version module (an upgrade may validate differently): found
    without importing pydantic."""
    import importlib.util

    from dataflow_runner import __version__

    files = sorted(Path(__file__).parent.glob("*.py"))
    pydantic = importlib.util.find_spec("pydantic")
    if pydantic is not None and pydantic.origin:
        files.append(Path(pydantic.origin).parent / "version.py")
    parts = [__version__]
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue
        parts.append(f"{file}:{st.st_size}:{st.st_mtime_ns}")
    return "\n".join(parts)


class ConfigCache:
    """Validated configs by content, as JSON files in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _file(self, kind: str, path: str, text: str) -> Path:
        digest = hashlib.sha256()
        for part in (str(FORMAT), code_fingerprint(), kind, path, text):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return self.directory / f"{digest.hexdigest()}.json"

    def get(self, kind: str, path: str, text: str) -> Hit | None:
        file = self._file(kind, path, text)
        try:
            with open(file, encoding="utf-8") as fh:
                entry = json.load(fh)
            hit = Hit(dict(entry["doc"]), [str(n) for n in entry["notes"]])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.debug("ignoring the cached config %s: %s", file, exc)
            return None
        with contextlib.suppress(OSError):
            os.utime(file)  # recently used: kept when older entries are removed
        return hit

    def put(self, kind: str, path: str, text: str, doc: dict[str, Any], notes: list[str]) -> None:
        file = self._file(kind, path, text)
        entry = {"format": FORMAT, "kind": kind, "path": path, "doc": doc, "notes": notes}
        import tempfile  # only when writing: not on a hit's path

        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".new-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    # dumps, not dump: json.dump encodes in pure Python, chunk by chunk.
                    fh.write(json.dumps(entry, ensure_ascii=False))
                os.replace(tmp, file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._prune()
        except OSError as exc:
            log.debug("cannot cache the validated config in %s: %s", self.directory, exc)

    def _prune(self) -> None:
        entries = []
        with os.scandir(self.directory) as scan:
            for entry in scan:
                if entry.name.endswith(".json") and not entry.name.startswith("."):
                    with contextlib.suppress(OSError):  # removed by another process
                        st = entry.stat()
                        entries.append((st.st_mtime_ns, st.st_size, entry.path))
        entries.sort(reverse=True)  # the most recently used first
        total = 0
        for i, (_, size, path) in enumerate(entries):
            total += size
            if i >= LIMIT or (total > MAX_BYTES and i > 0):
                with contextlib.suppress(OSError):
                    os.unlink(path)
