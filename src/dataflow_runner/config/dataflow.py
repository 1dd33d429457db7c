"""The data between steps: a step that reads another's output depends on it.

Paths are compared as written, after ``s3a://`` and ``s3n://`` are read as
``s3://``: an input is another step's output when it is that output, or lies
under it when the output is a directory (ends with ``/``). Two steps may not
write the same output, and the dependencies the data makes must not go round in
a circle (the message names the steps and the files).

>>> a = Step(id="a", outputs=("out/a.txt",))
>>> b = Step(id="b", inputs=("s3n://x/in.txt", "out/a.txt"))
>>> [s.depends_on for s in infer([a, b], file="p.yaml")[0]]
[(), ('a',)]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import msgspec

from dataflow_runner import dag
from dataflow_runner.config.model import Step
from dataflow_runner.errors import ConfigError, CycleError


def normalise(uri: str) -> str:
    """``s3a://`` and ``s3n://`` are ``s3://`` (Hadoop's names for the same store)."""
    for alias in ("s3a://", "s3n://"):
        if uri.startswith(alias):
            return "s3://" + uri[len(alias) :]
    return uri


class Producers:
    """Which step writes which output, found for an input in a few lookups."""

    def __init__(self) -> None:
        self.exact: dict[str, str] = {}

    def add(self, output: str, step_id: str) -> str | None:
        """Record that ``step_id`` writes ``output``; the other writer, if any."""
        key = normalise(output)
        other = self.exact.get(key)
        if other is not None and other != step_id:
            return other
        self.exact[key] = step_id
        return None

    def of(self, path: str) -> str | None:
        """The step that writes ``path``, or whose directory output holds it."""
        key = normalise(path)
        found = self.exact.get(key)
        if found is not None:
            return found
        # The nearest enclosing directory output: one lookup per level of the path.
        end = len(key.rstrip("/"))
        while (end := key.rfind("/", 0, end)) > 0:
            found = self.exact.get(key[: end + 1])
            if found is not None:
                return found
        return None


def infer(
    steps: Sequence[Step], *, file: str | None = None, paths: Sequence[str] | None = None
) -> tuple[list[Step], list[ConfigError]]:
    """The steps with ``depends_on`` completed by what their inputs read, and every
    problem: an output two steps write, a circle the data makes."""
    paths = list(paths or [f"$.data.steps[{i}]" for i in range(len(steps))])
    producers = Producers()
    errors: list[ConfigError] = []
    for step, path in zip(steps, paths, strict=True):
        for j, output in enumerate(step.outputs):
            other = producers.add(output, step.id)
            if other is not None:
                errors.append(
                    ConfigError(
                        f"output {output} is written by both '{other}' and '{step.id}'",
                        file=file,
                        path=f"{path}.outputs[{j}]",
                    )
                )
    via: dict[tuple[str, str], str] = {}  # (reader, writer) → the file between them
    out: list[Step] = []
    for step in steps:
        added: list[str] = []
        for path_in in step.inputs:
            writer = producers.of(path_in)
            if writer is not None and writer != step.id and writer not in step.depends_on:
                if writer not in added:
                    added.append(writer)
                via.setdefault((step.id, writer), path_in)
        out.append(
            msgspec.structs.replace(step, depends_on=(*step.depends_on, *added)) if added else step
        )
    if not errors:
        try:
            dag.topological_order({s.id: s.upstream for s in out})
        except CycleError:
            cycle = dag.find_cycle({s.id: s.upstream for s in out})
            errors.append(CycleError(cycle_message(cycle, via), file=file, path="$.data.steps"))
    return out, errors


def cycle_message(cycle: Sequence[str], via: dict[tuple[str, str], str]) -> str:
    """``steps form a cycle through their data: a -> b (reads out/a) -> a (reads out/b)``."""
    parts = [cycle[0]]
    for up, down in itertools.pairwise(cycle):
        file = via.get((down, up))
        parts.append(f"{down} (reads {file})" if file else down)
    return "steps form a cycle through their data: " + " -> ".join(parts)
