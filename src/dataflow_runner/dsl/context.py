"""What a Python playbook sees while the runner runs it: the ``--vars`` it was given,
and which file it is (so that what it builds records the lines of that file).

A context variable, not a global: several runs may load playbooks at once, each in
its own thread.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType


@dataclass(frozen=True)
class Loading:
    """A Python playbook being run: its absolute path and its ``--vars``."""

    file: str
    variables: Mapping[str, str]


_CURRENT: ContextVar[Loading | None] = ContextVar("dataflow_runner_dsl_loading", default=None)
_HERE = os.path.dirname(os.path.abspath(__file__))


def current() -> Loading | None:
    return _CURRENT.get()


@contextlib.contextmanager
def loading(file: str, variables: Mapping[str, str]) -> Iterator[Loading]:
    """While the block runs, the DSL builds for ``file`` (an absolute path)."""
    state = Loading(file, dict(variables))
    token = _CURRENT.set(state)
    try:
        yield state
    finally:
        _CURRENT.reset(token)


def variables() -> dict[str, str]:
    """The variables given with ``--vars`` to the command that runs this playbook
    (empty when the file is run by other means, e.g. imported by a test).

    They are known when the file runs, so Python can use them
    (``if variables().get("mode") == "test": ...``); a placeholder such as
    ``{bucket}`` is rendered later, by the runner, like the YAML form's ``{{.bucket}}``.
    """
    state = _CURRENT.get()
    return dict(state.variables) if state is not None else {}


def call_site() -> tuple[str, int] | None:
    """Where the DSL was called from: the innermost line of the playbook being loaded
    that led here (or, outside a load, the first caller outside the DSL)."""
    state = _CURRENT.get()
    frame: FrameType | None = sys._getframe(1)
    first: tuple[str, int] | None = None
    while frame is not None:
        name = frame.f_code.co_filename
        if os.path.dirname(name) != _HERE:
            if state is None or name == state.file:
                return name, frame.f_lineno
            if first is None:
                first = (name, frame.f_lineno)
        frame = frame.f_back
    return first
