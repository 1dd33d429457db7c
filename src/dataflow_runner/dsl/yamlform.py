"""A DSL playbook's YAML form, and the way back from its lines to the Python file's.

The form is the file a person would write (schema 1-1-0), with a comment naming
the line of the Python file that built the playbook (on ``data:``) and each step
(on its ``- id:``)::

    schema: iglu:dev.dataflowrunner/Playbook/jsonschema/1-1-0
    data:  # pipeline.py:4
      name: impressions
      partitions: {every: hour, start: "2026-11-01T00:00Z", timezone: UTC}
      steps:
        - id: join  # pipeline.py:5
          type: COMMAND
          command: [python3, steps/join.py, "{{.date}}"]

The runner loads this text (rendered per partition, as any playbook); a problem
found in it is reported at the Python line its comment names (:func:`relocate`).
Strings never span lines, so the lines of the form map to steps simply.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataflow_runner.config.uris import PLAYBOOK_SCHEMA
from dataflow_runner.dsl.text import yaml_number, yaml_scalar
from dataflow_runner.errors import ConfigError, ConfigErrors

if TYPE_CHECKING:
    from dataflow_runner.dsl.builder import Playbook, Step

#: A flow list or mapping longer than this is written one item per line.
WIDTH = 100
_DATA = re.compile(r"^data:\s+#.*:(\d+)$")
_STEP = re.compile(r"^    - ")
_STEP_SITE = re.compile(r"^    - id: \S+\s+#.*:(\d+)$")
_STEP_PATH = re.compile(r"^\$\.data\.steps\[(\d+)\]")


def to_yaml(book: Playbook) -> str:
    """The YAML form of ``book``."""
    origin = _where(book.site)
    name = origin.rsplit(":", 1)[0] if origin else "a Python playbook"
    lines = [
        f"# The YAML form of {name}, as dataflow-runner render prints it.",
        f"schema: {PLAYBOOK_SCHEMA}",
        "data:" + (f"  # {origin}" if origin else ""),
        f"  name: {_literal(book.name)}",
    ]
    if book.description:
        lines.append(f"  description: {_literal(book.description)}")
    if book.partitions is not None:
        p = book.partitions
        lines.append(
            f"  partitions: {{every: {p.every}, start: {_literal(p.start)}, "
            f"timezone: {_literal(p.timezone)}}}"
        )
    if book.params:
        lines.append("  params:")
        for name, param in book.params.items():
            parts = [f"type: {param.type}"]
            if param.default is not None:
                default = param.default
                parts.append(
                    "default: "
                    + (yaml_number(default) if isinstance(default, int) else _literal(default))
                )
            if param.description:
                parts.append(f"description: {_literal(param.description)}")
            lines.append(f"    {name}: {{{', '.join(parts)}}}")
    if book.schedule is not None:
        import json

        lines.append(f"  schedule: {json.dumps(book.schedule.doc)}")
    if book.concurrency is not None:
        lines.append(f"  concurrency: {book.concurrency}")
    if book.region:
        lines.append(f"  region: {_literal(book.region)}")
    if book.credentials is not None:
        key, secret = book.credentials
        lines.append(
            f"  credentials: {{accessKeyId: {_literal(key)}, secretAccessKey: {_literal(secret)}}}"
        )
    if book.tags:
        lines.append("  tags:")
        lines.extend(
            f"    - {{key: {_literal(k)}, value: {_literal(v)}}}" for k, v in book.tags.items()
        )
    lines.append("  steps:" if book.steps else "  steps: []")
    for step in book.steps:
        lines.extend(_step(step))
    return "\n".join(lines) + "\n"


def _step(step: Step) -> list[str]:
    origin = _where(step.site)
    out = [f"    - id: {_literal(step.id)}" + (f"  # {origin}" if origin else "")]
    indent = "      "

    def add(key: str, value: str) -> None:
        out.append(f"{indent}{key}: {value}")

    if step.name:
        add("name", _text(step.name))
    add("type", step.type)
    for key, values in (("command", step.command),):
        if values:
            out.extend(_list(key, values, indent))
    if step.script:
        add("script", _text(step.script))
    if step.application:
        add("application", _text(step.application))
    if step.main_class:
        add("class", _text(step.main_class))
    if step.jar:
        add("jar", _text(step.jar))
    for key, values in (
        ("args", step.args),
        ("arguments", step.arguments),
        ("pyFiles", step.py_files),
        ("packages", step.packages),
    ):
        if values:
            out.extend(_list(key, values, indent))
    if step.conf:
        out.extend(_mapping("conf", step.conf, indent))
    for key, values in (
        ("inputs", step.inputs),
        ("outputs", step.outputs),
    ):
        if values:
            out.extend(_list(key, values, indent))
    for key, ids in (("dependsOn", step.depends_on), ("after", step.after)):
        if ids:
            out.extend(_list(key, ids, indent, placeholders=False))
    if step.depends_on_past:
        add("dependsOnPast", "true")
    if step.wait_for_inputs is not None:
        w = step.wait_for_inputs
        add(
            "waitForInputs",
            f"{{timeoutSeconds: {yaml_number(w.timeout)}, pokeSeconds: {yaml_number(w.poke)}}}",
        )
    if not step.success_marker:
        add("successMarker", "false")
    if step.retries is not None:
        r = step.retries
        if (r.delay, r.backoff, r.max_delay) == (5.0, 2.0, 300.0):
            add("retries", str(r.count))
        else:
            add(
                "retries",
                f"{{count: {r.count}, delaySeconds: {yaml_number(r.delay)}, "
                f"backoff: {yaml_number(r.backoff)}, maxDelaySeconds: {yaml_number(r.max_delay)}}}",
            )
    if step.timeout is not None:
        add("timeoutSeconds", yaml_number(step.timeout))
    if step.action_on_failure != "CANCEL_AND_WAIT":
        add("actionOnFailure", step.action_on_failure)
    if step.env:
        out.extend(_mapping("env", step.env, indent))
    return out


def _where(site: tuple[str, int] | None) -> str:
    """``pipeline.py:12`` (a name the template and the YAML comment take as it is)."""
    if site is None:
        return ""
    name = re.sub(r"[{}\s]", "_", os.path.basename(site[0]))
    return f"{name}:{site[1]}"


def _literal(value: str) -> str:
    return yaml_scalar(value)


def _text(value: str) -> str:
    return yaml_scalar(value, placeholders=True)


def _list(key: str, values: Sequence[str], indent: str, *, placeholders: bool = True) -> list[str]:
    items = [yaml_scalar(v, placeholders=placeholders) for v in values]
    flow = f"{indent}{key}: [{', '.join(items)}]"
    if len(flow) <= WIDTH:
        return [flow]
    return [f"{indent}{key}:", *(f"{indent}  - {item}" for item in items)]


def _mapping(key: str, values: Mapping[str, str], indent: str) -> list[str]:
    items = [f"{_literal(k)}: {_text(v)}" for k, v in values.items()]
    flow = f"{indent}{key}: {{{', '.join(items)}}}"
    if len(flow) <= WIDTH:
        return [flow]
    return [f"{indent}{key}:", *(f"{indent}  {item}" for item in items)]


# --- from the form's lines back to the Python file's -------------------------------------


@dataclass(frozen=True)
class Origins:
    """The Python lines named in a YAML form: the playbook's, and each step's with
    the line of the form where the step starts."""

    playbook: int | None
    steps: tuple[tuple[int, int | None], ...]

    def line(self, path: str | None, line: int | None) -> int | None:
        """The Python line of what is at JSON ``path`` or at ``line`` of the form."""
        found = _STEP_PATH.match(path or "")
        if found and int(found.group(1)) < len(self.steps):
            return self.steps[int(found.group(1))][1] or self.playbook
        if line is not None:
            for start, origin in reversed(self.steps):
                if start <= line:
                    return origin or self.playbook
        if line is not None or path:
            return self.playbook
        return None


def origins(text: str) -> Origins:
    """The Python lines a YAML form's comments name."""
    playbook: int | None = None
    steps: list[tuple[int, int | None]] = []
    for number, line in enumerate(text.splitlines(), 1):
        data = _DATA.match(line)
        if data:
            playbook = int(data.group(1))
        elif _STEP.match(line):
            site = _STEP_SITE.match(line)
            steps.append((number, int(site.group(1)) if site else None))
    return Origins(playbook, tuple(steps))


def relocate(exc: ConfigError, file: str, text: str) -> ConfigError:
    """``exc``, found in the YAML form ``text`` of the Python playbook ``file``,
    pointing at the Python line that built what is wrong."""
    found = origins(text)
    if isinstance(exc, ConfigErrors):
        return ConfigErrors([_relocated(e, file, found) for e in exc.errors])
    return _relocated(exc, file, found)


def _relocated(exc: ConfigError, file: str, found: Origins) -> ConfigError:
    if exc.file not in (None, file):
        return exc  # another file (one that base64File read...)
    line = found.line(exc.path, exc.line)
    if line is None:
        return exc
    return exc.at(file, line)
