"""The probable cause of a failed step, read from its logs.

"Step failed" helps nobody; the line that explains it usually sits in the
last lines of stderr: a Python or Java exception (the innermost ``Caused by``),
a YARN application's diagnostics, a shell's complaint. The cause is attached
to the step's record and to the error the user sees.

>>> diagnose_text("Traceback (most recent call last):\\n  ...\\nKeyError: 'day'\\n")
"KeyError: 'day'"
"""

from __future__ import annotations

import gzip
import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from dataflow_runner.config.redact import scrub
from dataflow_runner.fabrics.base import FailureCause

log = logging.getLogger("dataflow_runner")

TAIL_BYTES = 64 * 1024
DETAIL_LINES = 10

_PY_EXC = re.compile(
    r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure)"
    r"|[A-Za-z_][\w.]*\.[A-Z]\w*)(?::\s.*)?$"
)
_JAVA_EXC = re.compile(
    r"(?:Exception in thread \"[^\"]*\" |Caused by: |User class threw exception: )?"
    r"((?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)(?::\s.*)?)$"
)
_CAUSED_BY = re.compile(r"Caused by: (.+)$")
_YARN = re.compile(
    r"(Application application_\d+_\d+ failed .*|Diagnostics: .+|diagnostics: .+"
    r"|final status: FAILED.*|Job \w+ failed with state FAILED.*)"
)
_SHELL = re.compile(
    r"(command not found|No such file or directory|Permission denied"
    r"|cannot open|not found)",
    re.IGNORECASE,
)


def tail(path: Path, limit: int = TAIL_BYTES) -> str:
    """The end of a log file (gzipped or not) as text; empty if unreadable."""
    try:
        if path.suffix == ".gz":
            data = gzip.decompress(path.read_bytes())[-limit:]
        else:
            with open(path, "rb") as fh:
                fh.seek(0, 2)
                size = fh.tell()
                fh.seek(max(0, size - limit))
                data = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile):
        return ""
    return data.decode("utf-8", "replace")


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def diagnose_text(text: str) -> str | None:
    """One line saying what most probably went wrong, or None."""
    lines = _lines(text)
    if not lines:
        return None
    # A Python traceback: its last exception line.
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        for line in reversed(lines):
            if not line.startswith(" ") and _PY_EXC.match(line.strip()):
                return line.strip()
    # Java: the innermost "Caused by", else the first exception line.
    caused = [m.group(1) for line in lines if (m := _CAUSED_BY.search(line))]
    if caused:
        return caused[-1].strip()
    for line in lines:
        m = _JAVA_EXC.search(line.strip())
        if m and not line.startswith(("\tat ", "    at ")):
            return m.group(1).strip()
    for line in reversed(lines):
        m = _YARN.search(line)
        if m:
            return m.group(1).strip()
    for line in reversed(lines):
        if _SHELL.search(line):
            return line.strip()
    return lines[-1].strip()


def diagnose_files(*paths: Path, exit_code: int | None = None) -> FailureCause | None:
    """The cause from the first of ``paths`` that says something (stderr first),
    masked before it is cut to length (a secret cut in two would be masked in
    neither part)."""
    texts = [scrub(tail(p)) for p in paths]
    for text in texts:
        summary = diagnose_text(text)
        if summary:
            detail = tuple(_lines(text)[-DETAIL_LINES:])
            return FailureCause(summary=summary, detail=detail, exit_code=exit_code)
    return None


def first_cause(causes: Iterable[FailureCause | None]) -> FailureCause | None:
    for cause in causes:
        if cause is not None:
            return cause
    return None


#: Which log files say most about a failure, in order.
ORDER = ("stderr", "controller", "syslog", "stdout")
#: How many of a file's last lines ``--log-failed-steps`` prints.
PRINT_LINES = 200


def ordered(files: Iterable[str]) -> list[str]:
    """Log file names, the most telling first."""
    return sorted(files, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER))


def cause_of(files: Mapping[str, str]) -> FailureCause | None:
    """The probable cause found in a step's log files, the most telling first."""
    for name in ordered(files):
        text = scrub(files[name])
        summary = diagnose_text(text)
        if summary:
            lines = [ln for ln in text.splitlines() if ln.strip()]
            return FailureCause(summary=summary, detail=tuple(lines[-DETAIL_LINES:]))
    return None


def show_logs(files: Mapping[str, str], step_id: str, location: str) -> str | None:
    """Log each file's last lines, as the Go tool's ``--log-failed-steps`` did; the
    probable cause they show, if any."""
    for name in ordered(files):
        lines = files[name].splitlines()
        log.info("Content of log file '%s' for step %s:", name, step_id)
        if len(lines) > PRINT_LINES:
            log.info(
                "(%d earlier lines left out; the whole file is at %s%s)",
                len(lines) - PRINT_LINES,
                location,
                name,
            )
            lines = lines[-PRINT_LINES:]
        for line in lines:
            log.info("%s", line)
    found = cause_of(files)
    return found.summary if found else None
