"""Checks a model cannot express: what the Go tool only found out late (at
request time, or from EMR's answer) is found here, before anything is sent.
(Each fabric checks its own section of a cluster config: ``fabrics/*/config.py``.)

Each check yields ConfigErrors addressed by JSON path, so ``validate`` can
report every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from dataflow_runner import dag
from dataflow_runner.config.model import ACTIONS_ON_FAILURE, KeyPair, Playbook, Step, StepType
from dataflow_runner.config.validation import join_path
from dataflow_runner.errors import ConfigError, CycleError


def credentials(creds: KeyPair, *, file: str, path: str) -> Iterator[ConfigError]:
    """The Go tool's pairing rule: 'env', 'iam' (and 'default') go together."""
    a, s = creds.access_key_id, creds.secret_access_key
    for mode in ("iam", "env", "default"):
        if (a == mode) != (s == mode):
            yield ConfigError(
                f"access-key and secret-key must both be set to '{mode}', or neither",
                file=file,
                path=join_path(path, "credentials"),
            )
            return
    if creds.mode == "static" and (not a or not s):
        missing = "accessKeyId" if not a else "secretAccessKey"
        yield ConfigError(
            "a value is required when the other static key is set "
            "(or use 'env', 'iam' or 'default' for both)",
            file=file,
            path=join_path(join_path(path, "credentials"), missing),
        )


def _step(step: Step, *, file: str, path: str) -> Iterator[ConfigError]:
    if not step.name:
        yield ConfigError(
            "a value is required (every step needs a name)", file=file, path=join_path(path, "name")
        )
    required = {
        StepType.CUSTOM_JAR: ("jar", step.jar),
        StepType.COMMAND: ("command", step.command),
        StepType.SCRIPT: ("script", step.script),
        StepType.SPARK: ("application", step.application),
    }[step.type]
    if not required[1]:
        yield ConfigError(
            f"a value is required for a {step.type.value} step",
            file=file,
            path=join_path(path, required[0]),
        )


def playbook(
    book: Playbook, *, file: str, step_paths: Sequence[str] | None = None
) -> Iterator[ConfigError]:
    """Steps present and complete, credentials paired, dependencies a DAG."""
    yield from credentials(book.credentials, file=file, path="$.data")
    if not book.steps:
        yield ConfigError(
            "no steps found in the playbook, nothing to run", file=file, path="$.data.steps"
        )
        return
    paths = list(step_paths or [f"$.data.steps[{i}]" for i in range(len(book.steps))])
    for step, path in zip(book.steps, paths, strict=True):
        yield from _step(step, file=file, path=path)
    yield from dependencies(book, file=file, paths=paths)


def action_on_failure(value: str, *, file: str, path: str) -> Iterator[ConfigError]:
    if value not in ACTIONS_ON_FAILURE:
        yield ConfigError(
            f'expected one of {", ".join(ACTIONS_ON_FAILURE)}, got "{value}"'
            " (to terminate the cluster, use the 'down' command)",
            file=file,
            path=join_path(path, "actionOnFailure"),
        )


def dependencies(book: Playbook, *, file: str, paths: Sequence[str]) -> Iterator[ConfigError]:
    seen: dict[str, str] = {}
    ok = True
    for step, path in zip(book.steps, paths, strict=True):
        if step.id in seen:
            ok = False
            yield ConfigError(
                f"duplicate step id '{step.id}' (also at {seen[step.id]})",
                file=file,
                path=join_path(path, "id"),
            )
        seen.setdefault(step.id, path)
    for step, path in zip(book.steps, paths, strict=True):
        for field, ups in (("dependsOn", step.depends_on), ("after", step.after)):
            for i, up in enumerate(ups):
                if up not in seen:
                    ok = False
                    yield ConfigError(
                        f"unknown step id '{up}'",
                        file=file,
                        path=join_path(join_path(path, field), i),
                    )
                elif up == step.id:
                    ok = False
                    yield ConfigError(
                        "a step cannot depend on itself",
                        file=file,
                        path=join_path(join_path(path, field), i),
                    )
    if ok:
        try:
            dag.topological_order({s.id: s.upstream for s in book.steps})
        except CycleError as exc:
            yield CycleError(exc.message, file=file, path="$.data.steps")
