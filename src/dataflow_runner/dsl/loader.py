"""Running a Python playbook file: its code builds a :class:`~.builder.Playbook`,
whose YAML form the runner then loads like any playbook file
(``config/loading.py``: :func:`playbook_text`).

Running the file runs its code, with the rights of the user who runs the command:
a Python playbook deserves the trust a Makefile does. It runs in a fresh module
namespace (``__name__`` is ``"__playbook__"``, so an ``if __name__ == "__main__":``
block does not run), with its directory first on ``sys.path`` (it may import the
modules beside it), and :func:`~.context.variables` gives it the ``--vars``.

Whatever goes wrong while it runs is one line naming the line of the file: a syntax
error, an exception (the innermost line of the file in its traceback), a DSL
argument refused; and so is a file that builds no playbook, or two.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import types
from collections.abc import Iterator, Mapping

from dataflow_runner.dsl import context
from dataflow_runner.dsl.builder import Playbook
from dataflow_runner.dsl.text import DslError
from dataflow_runner.errors import ConfigError

#: The ``__name__`` a Python playbook runs under.
RUN_NAME = "__playbook__"
_DSL = os.path.dirname(os.path.abspath(__file__))
_MAX_MESSAGE = 400


def yaml_form(path: str, code: str, variables: Mapping[str, str]) -> str:
    """The YAML form of the Python playbook ``path`` (whose text is ``code``), run
    with ``variables``."""
    return run(path, code, variables).to_yaml()


def run(path: str, code: str, variables: Mapping[str, str]) -> Playbook:
    """Run the Python playbook ``path`` (its text ``code``): the Playbook it builds."""
    file = os.path.abspath(path)
    try:
        compiled = compile(code, file, "exec", dont_inherit=True)
    except SyntaxError as exc:
        line = exc.lineno if exc.filename in (file, None) else None
        raise ConfigError(f"{type(exc).__name__}: {exc.msg}", file=path, line=line) from None
    except ValueError as exc:  # a NUL byte
        raise ConfigError(f"not Python source: {exc}", file=path) from None
    module = types.ModuleType(RUN_NAME)
    module.__file__ = file
    try:
        with context.loading(file, variables), _importable(os.path.dirname(file)):
            exec(compiled, module.__dict__)
    except (Exception, SystemExit) as exc:  # the file's own code failed
        raise _located(exc, path, file) from None
    return _the_playbook(module.__dict__, path)


@contextlib.contextmanager
def _importable(directory: str) -> Iterator[None]:
    """The file's directory first on ``sys.path`` while it runs, as for a script."""
    sys.path.insert(0, directory)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(directory)


def _located(exc: BaseException, path: str, file: str) -> ConfigError:
    """A one-line error at the innermost line of ``file`` that led to ``exc``."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename == file]
    line = ours[-1].lineno if ours else None
    if isinstance(exc, DslError):
        message = str(exc)
    elif isinstance(exc, SystemExit):
        message = f"the file exited (SystemExit: {exc.code!r}) before building its playbook"
    else:
        text = str(exc) if not isinstance(exc, SyntaxError) else exc.msg
        message = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        where = _elsewhere(exc, frames, file)
        if where:
            message += f" (at {where})"
    message = " ".join(message.split())
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return ConfigError(message, file=path, line=line)


def _elsewhere(exc: BaseException, frames: traceback.StackSummary, file: str) -> str:
    """Where in another module (one the file imports) the exception was raised."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename != file:
        return f"{os.path.basename(exc.filename)}:{exc.lineno}"
    last = frames[-1] if frames else None
    if last is None or last.filename == file or os.path.dirname(last.filename) == _DSL:
        return ""
    return f"{os.path.basename(last.filename)}:{last.lineno}"


def _the_playbook(namespace: Mapping[str, object], path: str) -> Playbook:
    """The one Playbook the file's module-level names hold."""
    found: list[Playbook] = []
    for value in namespace.values():
        if isinstance(value, Playbook) and all(value is not f for f in found):
            found.append(value)
    if not found:
        raise ConfigError(
            "the file builds no playbook: a Python playbook assigns one "
            "dataflow_runner.dsl.Playbook to a module-level name (pb = Playbook(...))",
            file=path,
        )
    if len(found) > 1:
        found.sort(key=lambda b: b.line or 0)
        first, second = found[0], found[1]
        at = f" at line {first.line}" if first.line else ""
        raise ConfigError(
            f"a second playbook, {second.name!r} (the first, {first.name!r}, is{at}): "
            "a Python playbook file builds one",
            file=path,
            line=second.line,
        )
    return found[0]
