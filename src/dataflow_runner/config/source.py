"""A playbook file as something to render again and again: once per partition of a
partitioned playbook, with its typed parameters checked and defaulted.

A playbook declares its partitions and parameters in the same file whose
templates use them, so its head is read first with the variables it does not know
yet rendered as Go renders a missing key by default; then each partition's
playbook is rendered with the real values.

>>> source = PlaybookSource("hourly.yaml", {"bucket": "b"})  # doctest: +SKIP
>>> source.load(partition)  # the playbook of one partition  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from dataflow_runner.config.limits import DEFAULT_MAX_SIZE
from dataflow_runner.config.loading import (
    ConfigTemplate,
    load_playbook,
    parse,
    playbook_text,
    python_lines,
    render,
)
from dataflow_runner.config.model import (
    PARTITION_VARIABLES,
    Param,
    Partitions,
    Playbook,
    Schedule,
)
from dataflow_runner.config.params import check
from dataflow_runner.config.validation import raise_all, validate
from dataflow_runner.errors import FlagError

if TYPE_CHECKING:
    from dataflow_runner.data.partitions import Partition

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: What the head of a playbook is read with for the partition's variables.
_SAMPLE_PARTITION = {"partition": "1970-01-01T00:00:00Z", "date": "1970-01-01", "hour": "00"}


class _Head(msgspec.Struct, rename="camel"):
    """What is read of a playbook before its variables are known (the rest is
    validated with the whole playbook)."""

    partitions: Partitions | None = None
    params: dict[str, Param] = {}
    schedule: Schedule | None = None


@dataclass(frozen=True)
class Head:
    partitions: Partitions | None = None
    params: Mapping[str, Param] = field(default_factory=dict)
    schedule: Schedule | None = None


class PlaybookSource:
    """A playbook file (or the text of one), its ``--vars``, and its limits. A Python
    playbook's text is its YAML form: its code runs once, when the text is first
    needed, with the ``--vars`` given."""

    def __init__(
        self,
        path: str,
        variables: Mapping[str, str],
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        text: str | None = None,
    ) -> None:
        self.path = path
        self.given = dict(variables)
        self.max_size = max_size
        self._text = text
        self._head: Head | None = None
        self._template: ConfigTemplate | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = playbook_text(self.path, self.given, self.max_size)
        return self._text

    def head(self) -> Head:
        """The playbook's partitions and parameters."""
        if self._head is None:
            self._head = self._read_head()
        return self._head

    def _read_head(self) -> Head:
        if not any(k in self.text for k in ("partitions", "params", "schedule")):
            return Head()  # most playbooks: nothing to read twice
        # The partition is not known yet: a sample one lets its variables reach the
        # time functions (``formatTime .partition ...``), which refuse no value.
        variables = {**_SAMPLE_PARTITION, **self.given}
        with python_lines(self.path, self.text):
            rendered = render(
                self.text, self.path, variables, max_output=self.max_size, missing_key="default"
            )
            doc = parse(rendered, self.path)
            data = doc.get("data") if isinstance(doc, dict) else None
            if not isinstance(data, dict):
                return Head()  # the whole load reports it
            picked = {k: data[k] for k in ("partitions", "params", "schedule") if k in data}
            head, errors = validate(_Head, picked, file=self.path, root="$.data", closed=False)
            raise_all(errors)
        assert head is not None
        return Head(head.partitions, head.params, head.schedule)

    def variables(self, partition: Partition | None = None) -> dict[str, str]:
        """The template variables: ``--vars``, the parameters' defaults (each value
        checked against its type), and the partition's."""
        head = self.head()
        out = dict(self.given)
        problems = []
        for name, param in head.params.items():
            if name in out:
                problem = check(name, param, out[name])
                if problem:
                    problems.append(problem)
            elif param.default is not None:
                out[name] = str(param.default)
            else:
                problems.append(
                    f"--vars: the playbook's parameter '{name}' ({param.type}) is required"
                )
        if problems:
            raise FlagError(problems[0])
        if partition is not None:
            clash = sorted(set(PARTITION_VARIABLES) & set(self.given))
            if clash:
                raise FlagError(
                    f"--vars cannot set {', '.join(clash)}: the partition sets "
                    f"{'it' if len(clash) == 1 else 'them'}"
                )
            out.update(partition.variables())
        return out

    def load(self, partition: Partition | None = None) -> Playbook:
        """The playbook (of one partition of a partitioned playbook): the file's
        template is parsed once, rendered for each."""
        if self._template is None:
            with python_lines(self.path, self.text):
                self._template = ConfigTemplate(self.text, self.path, max_output=self.max_size)
        return load_playbook(
            self.path, self.variables(partition), max_size=self.max_size, template=self._template
        )


__all__ = ["Head", "PlaybookSource"]
