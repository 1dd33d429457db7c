"""The exception tree of Dataflow Runner.

Every error a user can cause or meet is one of these; the CLI turns them into
one line and an exit code in a single place (``cli/main.py``)::

    DataflowRunnerError                  exit 1 unless noted
    ├── UsageError                       exit 2: unknown command or flag
    ├── FlagError                        a flag is missing, malformed or conflicts
    ├── ConfigError                      a config file is wrong (file, line/JSON path)
    │   ├── TemplateError                Go-template parse or execution error
    │   └── ConfigErrors                 several ConfigErrors found in one pass
    ├── DagError                         the playbook's steps do not form a DAG
    │   └── CycleError
    ├── LockHeldError                    exit 17: the lock is already held
    ├── FabricError                      a fabric (EMR, local) failed
    │   ├── FabricUnavailable            transient: throttled, network, 5xx (retried)
    │   ├── SubmitError                  steps could not be submitted
    │   └── StepFailed                   a step ended FAILED (carries the probable cause)
    ├── StoreError                       the state store cannot be used
    └── RunFailed                        a run ended with failed or cancelled steps

Messages are written for the user: one line, no traceback, never a secret.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_LOCK_HELD = 17


class DataflowRunnerError(Exception):
    """Base of all errors this tool reports to its user."""

    exit_code = EXIT_FAILURE

    def lines(self) -> list[str]:
        """The lines to show the user (one, unless several errors were collected)."""
        return [str(self)]


class UsageError(DataflowRunnerError):
    """The command line names an unknown command or flag (exit code 2)."""

    exit_code = EXIT_USAGE


class FlagError(DataflowRunnerError):
    """A flag is missing or its value is not acceptable (exit code 1, as the Go tool)."""


class ConfigError(DataflowRunnerError):
    """A config file cannot be used.

    ``file`` is the path as the user gave it; ``path`` a JSON path
    (``$.data.steps[0].name``) and/or ``line`` point into it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [p for p in (where, self.path) if p]
        parts.append(self.message)
        return ": ".join(parts)

    def with_file(self, file: str) -> ConfigError:
        """Return this error re-addressed to ``file`` (the path the user typed)."""
        self.file = file
        self.args = (self._render(),)
        return self

    def at(self, file: str, line: int) -> ConfigError:
        """Return this error re-addressed to ``line`` of ``file`` (a Python playbook's
        line, for an error found in the YAML form it built)."""
        self.file, self.line, self.column = file, line, None
        self.args = (self._render(),)
        return self

    def __str__(self) -> str:
        return self._render()


class TemplateError(ConfigError):
    """A Go-template error: the file, the line and the problem."""


class ConfigErrors(ConfigError):
    """Several config errors found in one validation pass (all are reported)."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, file=first.file, path=first.path, line=first.line)

    def lines(self) -> list[str]:
        return [str(e) for e in self.errors]


class DagError(ConfigError):
    """The steps' dependencies are not a DAG (unknown ids, duplicates)."""


class CycleError(DagError):
    """The steps' dependencies contain a cycle; the message names it."""


class LockHeldError(DataflowRunnerError):
    """The lock is already held by another run (exit code 17, as the Go tool)."""

    exit_code = EXIT_LOCK_HELD


class FabricError(DataflowRunnerError):
    """A fabric could not do what was asked."""


class FabricUnavailable(FabricError):
    """A transient failure (throttling, network, 5xx): the engine retries these."""


class SubmitError(FabricError):
    """Steps could not be submitted to the cluster."""


class StepFailed(FabricError):
    """A step ended FAILED; ``cause`` is the probable cause found in its logs."""

    def __init__(self, message: str, cause: str | None = None) -> None:
        self.cause = cause
        super().__init__(message if not cause else f"{message}: {cause}")


class StoreError(DataflowRunnerError):
    """The state store cannot be opened, migrated or written."""


class RunFailed(DataflowRunnerError):
    """A run ended with failed or cancelled steps."""
