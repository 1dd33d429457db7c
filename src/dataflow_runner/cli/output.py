"""Log lines in the Go tool's format, on stderr, with secrets scrubbed.

The Go tool logs through logrus: in a terminal ``INFO[0012] message``, and
elsewhere ``time="2017-03-31T12:00:00Z" level=info msg="message"``. Scripts
grep these lines, so both shapes are kept.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from dataflow_runner.config.redact import redact, scrub

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL + 10,
}
_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "fatal",
}
_COLOURS = {"debug": 37, "info": 36, "warning": 33, "error": 31, "fatal": 31}
_START = time.monotonic()


# What logrus leaves unquoted: ASCII letters and digits and these few signs, and the
# empty string (its QuoteEmptyFields is off by default: an empty message is ``msg=``).
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


def _quote(text: str) -> str:
    if _PLAIN.issuperset(text):
        return text
    # JSON escapes C0 controls itself, but not DEL or the C1 controls (U+0080-U+009F,
    # CSI among them), which some terminals act on.
    return json.dumps(text, ensure_ascii=False).translate(_JSON_ESCAPES)


# --- text for a terminal ------------------------------------------------------------
#
# What a step prints (its probable cause, its reason), a playbook's or a cluster's
# name, a lock holder's record: anything may be in them, and a raw ESC, BEL or CR
# written to a terminal can retitle it, clear it or hide what came before. Every
# human renderer shows them through :func:`printable`; JSON output is JSON.

_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
_ESCAPES = str.maketrans(
    {c: f"\\x{c:02x}" for c in _CONTROLS} | {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): " "}
)
_JSON_ESCAPES = str.maketrans({c: f"\\u{c:04x}" for c in _CONTROLS if c >= 0x7F})


def printable(text: str) -> str:
    r"""``text`` on one line, safe for a terminal: control characters shown as
    escapes (``\x1b``, ``\n``), a tab as a space; other text untouched.

    >>> printable("\x1b]0;owned\x07 ok\tdone\r\n")
    '\\x1b]0;owned\\x07 ok done\\r\\n'
    >>> printable("déjà vu")
    'déjà vu'
    """
    if text.isprintable():
        return text
    return text.translate(_ESCAPES)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters at a word boundary, with an ellipsis.

    >>> clip("java.lang.OutOfMemoryError: Java heap space", 30)
    'java.lang.OutOfMemoryError:…'
    >>> clip("short", 30)
    'short'
    """
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    cut = text[: width - 1]
    space = cut.rfind(" ")
    # A word longer than half the room is cut inside rather than leaving a gap.
    if space >= width // 2:
        cut = cut[: space + 1]
    return cut.rstrip() + "…" if cut.strip() else "…"


class LogrusFormatter(logging.Formatter):
    """Formats records like logrus's TextFormatter (coloured in a terminal)."""

    def __init__(self, *, tty: bool) -> None:
        super().__init__()
        self.tty = tty
        self._second = -1
        self._stamp_text = ""

    def _stamp(self, created: float) -> str:
        """RFC 3339 local time, formatted once per second (a run logs many lines)."""
        second = int(created)
        if second != self._second:
            local = time.localtime(second)
            offset = time.strftime("%z", local)
            zone = "Z" if offset in ("+0000", "-0000") else f"{offset[:3]}:{offset[3:]}"
            self._second = second
            self._stamp_text = time.strftime("%Y-%m-%dT%H:%M:%S", local) + zone
        return self._stamp_text

    def format(self, record: logging.LogRecord) -> str:
        level = _NAMES.get(record.levelno, "info")
        message = scrub(record.getMessage())
        detail = ""
        if record.exc_info and record.levelno <= logging.DEBUG:
            detail = scrub(self.formatException(record.exc_info))
        if self.tty:
            elapsed = int(time.monotonic() - _START)
            tag = level.upper()[:4]
            # The only escapes written are this line's colour: the message's own
            # are shown, not obeyed (a traceback keeps its lines).
            text = printable(message) + "".join(
                "\n" + printable(line) for line in detail.splitlines()
            )
            return f"\x1b[{_COLOURS[level]}m{tag}\x1b[0m[{elapsed:04d}] {text}"
        if detail:
            message += "\n" + detail
        return f'time="{self._stamp(record.created)}" level={level} msg={_quote(message)}'


def setup_logging(level: str = "info", stream: IO[str] | None = None) -> None:
    """Route the package's loggers to ``stream`` (stderr) at ``level``."""
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(LogrusFormatter(tty=_isatty(out)))
    root = logging.getLogger("dataflow_runner")
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    root.propagate = False
    # The format uses none of these: not looking them up for every record saves a
    # few microseconds per log line (one per step). ``_srcfile = None`` is the
    # logging HOWTO's way to skip finding the caller's file and line.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def print_json(value: Any, stream: IO[str] | None = None) -> None:
    """Write one JSON document to stdout (indented as the Go tool's), secrets masked
    (as a tree, before JSON escapes a secret holding a quote: see ``redact``)."""
    out = stream or sys.stdout
    text = json.dumps(redact(value), indent=2, ensure_ascii=False)
    out.write(text.translate(_JSON_ESCAPES) + "\n")
    out.flush()


def echo(text: str, stream: IO[str] | None = None) -> None:
    """Write a line of results to stdout, secrets scrubbed."""
    out = stream or sys.stdout
    out.write(scrub(text) + "\n")
    out.flush()


def print_listed(found: Sequence[Any], output: str, empty: str, line: Callable[[Any], str]) -> None:
    """A list a server answered: as JSON with ``--output json``, else one printable
    line per item (``line``'s), or ``empty`` when there is none."""
    if output == "json":
        print_json(found)
        return
    if not found:
        echo(empty)
    for item in found:
        echo(printable(line(item)))
