"""Where the steps that run on this machine write their output: two files per
attempt in the run's directory of the state directory,
``<state>/runs/<run>/<step>.<attempt>.stdout.log`` and ``....stderr.log``.

An attempt's ``log_location`` in the store is that prefix (a path), or a URI
where a remote fabric keeps its logs (``s3://...``). Run and step ids are
checked at validation to be safe file names; the files are still opened
without following a symbolic link, and a prefix must stay inside its run's
directory.

>>> prefix(Path("/state"), "r-1", "load", 2)
'/state/runs/r-1/load.2'
>>> [p.name for p in files("/state/runs/r-1/load.2")]
['load.2.stdout.log', 'load.2.stderr.log']
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

STREAMS = ("stdout", "stderr")


def run_dir(state_dir: Path | str, run_id: str) -> Path:
    return Path(state_dir) / "runs" / run_id


def prefix(state_dir: Path | str, run_id: str, step_id: str, attempt: int) -> str:
    """The files of an attempt are ``<prefix>.stdout.log`` and ``<prefix>.stderr.log``
    (flat in the run's directory: no directory to create per attempt)."""
    name = f"{step_id}.{attempt}"
    if "/" in name or "\0" in name or step_id.startswith("."):
        raise ValueError(f"not a safe file name: {name!r}")
    return f"{state_dir}/runs/{run_id}/{name}"  # a string: one per step, no Path needed


def files(location: str | Path) -> tuple[Path, Path]:
    """(stdout, stderr) of an attempt whose logs are local files."""
    stdout, stderr = names(location)
    return Path(stdout), Path(stderr)


def names(location: str | Path) -> tuple[str, str]:
    """:func:`files`, as strings."""
    return f"{location}.stdout.log", f"{location}.stderr.log"


def is_local(location: str) -> bool:
    """Whether a ``log_location`` names files on this machine (not a URI)."""
    return bool(location) and "://" not in location


def create(path: Path | str) -> int:
    """Open a log file for writing (truncated), never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW
    return os.open(path, flags, 0o644)


# --- where the secrets are ----------------------------------------------------------
#
# A step's own files hold what it printed, secrets included; ``logs`` prints them
# masked, usually in another process than the run's, which knows none of the run's
# secret values. So when an attempt ends, the process that ran it (and knows them)
# writes where they sit in its files: ``<prefix>.masks.json``, ``{stream: {"size",
# "digest", "spans": [[start, end], ...]}}``, byte offsets, never a value. A reader
# masks those spans when the file's first ``size`` bytes are still what was scanned:
# ``digest`` is the SHA-256 of those bytes *outside* the spans (a digest of a secret
# with little around it would let a weak one be guessed).

MASKS_SUFFIX = ".masks.json"
_CHUNK = 1 << 20

Chunks = Callable[[], Iterable[bytes]]


def masks_path(location: str | Path) -> Path:
    return Path(f"{location}{MASKS_SUFFIX}")


def _find(chunks: Iterable[bytes], pattern: re.Pattern[bytes], overlap: int) -> list[list[int]]:
    """Where ``pattern`` matches in the concatenation of ``chunks`` (read in pieces:
    a log may be large; ``overlap`` bytes are searched again across a boundary)."""
    spans: list[list[int]] = []
    offset, carry = 0, b""
    for chunk in chunks:
        buffer = carry + chunk
        base = offset - len(carry)
        for m in pattern.finditer(buffer):
            start, end = base + m.start(), base + m.end()
            # Seen already, or overlapping what was (a longer secret whose end the
            # last chunk cut off): merged.
            while spans and start < spans[-1][1]:
                before = spans.pop()
                start, end = min(start, before[0]), max(end, before[1])
            spans.append([start, end])
        offset += len(chunk)
        carry = buffer[-overlap:] if overlap else b""
    return spans


def _outside(chunks: Iterable[bytes], spans: list[list[int]], size: int) -> tuple[str, int]:
    """The digest of the first ``size`` bytes of ``chunks`` outside ``spans`` (all of
    them when ``size`` is negative), and how many bytes were read."""
    digest = hashlib.sha256()
    offset = 0
    for read in chunks:
        if 0 <= size <= offset:
            break
        chunk = read[: size - offset] if size >= 0 else read
        end = offset + len(chunk)
        position = offset  # the next byte to digest
        for start, stop in spans:
            if stop <= position or start >= end:
                continue
            if start > position:
                digest.update(chunk[position - offset : start - offset])
            position = min(stop, end)
        digest.update(chunk[position - offset :])
        offset = end
    return digest.hexdigest(), offset


def _file_chunks(path: Path) -> Chunks:
    def read() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk

    return read


def seal(location: str, texts: Mapping[str, str] | None = None) -> None:
    """Record where this process's secrets sit in an attempt's log files (the local
    ones at ``location``, or ``texts``: files fetched from a fabric, by name)."""
    from dataflow_runner.config.redact import SECRETS

    pattern = SECRETS.byte_pattern()
    if pattern is None:
        return
    overlap = SECRETS.longest - 1
    sources: dict[str, Chunks]
    if texts is None:
        sources = {n: _file_chunks(p) for n, p in zip(STREAMS, files(location), strict=True)}
    else:
        sources = {n: _bytes_of(t) for n, t in texts.items()}
    found: dict[str, Any] = {}
    for name, chunks in sources.items():
        try:
            spans = _find(chunks(), pattern, overlap)
            if spans:
                digest, size = _outside(chunks(), spans, -1)
                found[name] = {"size": size, "digest": digest, "spans": spans}
        except OSError:
            continue
    if not found:
        return
    path = masks_path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = create(f"{path}.tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(found, fh)
    os.replace(f"{path}.tmp", path)


def _bytes_of(text: str) -> Chunks:
    data = text.encode("utf-8", "surrogateescape")
    return lambda: [data]


def unseal(location: str, name: str, data: bytes) -> bytes:
    """``data`` (the file ``name`` of an attempt) with the spans :func:`seal`
    recorded masked, if it still starts with what was scanned."""
    try:
        entry = json.loads(masks_path(location).read_text())[name]
        size, spans, digest = int(entry["size"]), entry["spans"], str(entry["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        return data
    if len(data) < size or _outside([data], spans, size)[0] != digest:
        return data
    out, last = [], 0
    for start, end in spans:
        out += [data[last:start], b"***"]
        last = end
    out.append(data[last:])
    return b"".join(out)
