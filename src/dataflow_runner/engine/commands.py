"""Genie's command resource, kept small: a named, tagged way to run a job's
arguments as one step.

A command has a ``kind``, which says what step the job's arguments become (the
step types of ``config/model.py``):

* ``spark-submit`` → a SPARK step: ``--class``, ``--conf k=v``, ``--py-files``,
  ``--packages`` are its fields, the first other word its application, the rest
  its arguments (other spark-submit options are refused: a SPARK step cannot
  carry them);
* ``hadoop-jar`` → a CUSTOM_JAR step: the first word is the jar, the rest its
  arguments (as ``hadoop jar`` takes them);
* ``hive`` → a COMMAND step running ``hive`` with the arguments (EMR runs it
  through command-runner.jar, as its console does);
* ``shell`` → a COMMAND step running the arguments as one ``sh -c`` line.

A command's own ``args`` come before the job's. A job's command is the first
(by name) whose tags include every tag of its ``commandCriteria``.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dataflow_runner.engine.clusters import check_tags
from dataflow_runner.errors import DataflowRunnerError, FlagError
from dataflow_runner.store.records import CommandRecord

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine

KINDS = ("spark-submit", "hadoop-jar", "hive", "shell")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: The step a job becomes is named so (its logs are under this id).
STEP_ID = "job"


class CommandNotFound(DataflowRunnerError):
    """No command of that name."""


def check(name: str, kind: str) -> None:
    if not _NAME.match(name):
        raise FlagError(
            f"'{name[:80]}' is not a command's name (letters, digits, '.', '_', '-'; "
            "at most 128 characters)"
        )
    if kind not in KINDS:
        raise FlagError(f"kind: '{kind}' is not a command kind ({', '.join(KINDS)})")


def put(
    engine: Engine,
    name: str,
    *,
    kind: str,
    tags: Iterable[str],
    args: Sequence[str] = (),
    description: str = "",
    by: str = "",
) -> tuple[CommandRecord, bool]:
    """Create or replace a command; True when it is new."""
    check(name, kind)
    checked = check_tags(tags)
    before = engine.store.reader.command(name)
    now = time.time()
    record = CommandRecord(
        name=name,
        kind=kind,
        created_at=before.created_at if before is not None else now,
        updated_at=now,
        tags=checked,
        description=description,
        args=tuple(args),
        updated_by=by,
    )
    engine.writer.put_command(record)
    return record, before is None


def get(engine: Engine, name: str) -> CommandRecord:
    found = engine.store.reader.command(name)
    if found is None:
        raise CommandNotFound(f"no command '{name}'")
    return found


def listed(engine: Engine) -> list[CommandRecord]:
    return engine.store.reader.commands()


def delete(engine: Engine, name: str) -> None:
    if not engine.writer.delete_command(name):
        raise CommandNotFound(f"no command '{name}'")


def matching(engine: Engine, criteria: Iterable[str]) -> CommandRecord | None:
    """The first command (by name) carrying every tag of ``criteria``."""
    wanted = set(criteria)
    return next((c for c in listed(engine) if wanted <= set(c.tags)), None)


def words(args: str | Sequence[str]) -> list[str]:
    """A job's arguments as words (Genie sends one string, split as a shell does)."""
    if isinstance(args, str):
        try:
            return shlex.split(args)
        except ValueError as exc:
            raise FlagError(f"commandArgs: cannot be split into words ({exc})") from None
    return [str(a) for a in args]


def step(
    command: CommandRecord, args: str | Sequence[str], env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The step (as a playbook document holds it) that runs ``args`` with ``command``."""
    given = words(args)
    every = [*command.args, *given]
    base: dict[str, Any] = {"id": STEP_ID, "name": f"{command.name} job"}
    if env:
        base["env"] = dict(env)
    if command.kind == "shell":
        line = " ".join(command.args)
        text = args if isinstance(args, str) else shlex.join(given)
        line = f"{line} {text}".strip()
        if env and "GENIE_JOB_DIR" in env:
            line = f'cd "$GENIE_JOB_DIR" && {line}'
        return {**base, "type": "COMMAND", "command": ["sh", "-c", line]}
    if command.kind == "hive":
        return {**base, "type": "COMMAND", "command": ["hive", *every]}
    if command.kind == "hadoop-jar":
        if not every:
            raise FlagError("commandArgs: a hadoop-jar job needs its jar as the first word")
        return {**base, "type": "CUSTOM_JAR", "jar": every[0], "arguments": every[1:]}
    return {**base, **_spark(every)}


def _spark(every: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "SPARK", "conf": {}}
    rest = list(every)
    lists = {"--py-files": "pyFiles", "--packages": "packages"}
    while rest and rest[0].startswith("--"):
        option = rest.pop(0)
        if not rest:
            raise FlagError(f"commandArgs: spark-submit's {option} needs a value")
        value = rest.pop(0)
        if option == "--class":
            found["class"] = value
        elif option == "--conf":
            key, sep, conf = value.partition("=")
            if not sep:
                raise FlagError(f"commandArgs: --conf takes key=value, not '{value}'")
            found["conf"][key] = conf
        elif option in lists:
            found[lists[option]] = [v for v in value.split(",") if v]
        else:
            raise FlagError(
                f"commandArgs: spark-submit's {option} cannot be given to a SPARK step "
                "(--class, --conf, --py-files and --packages can)"
            )
    if not rest:
        raise FlagError("commandArgs: a spark-submit job needs its application")
    found["application"] = rest[0]
    found["args"] = rest[1:]
    return found
