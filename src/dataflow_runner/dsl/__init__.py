"""A Python DSL for playbooks kept next to the code they run.

A ``.py`` file given to ``--emr-playbook`` builds one :class:`Playbook` at module
level; the runner loads the YAML form it gives (``dataflow-runner render`` prints
it), so it is exactly the playbook that YAML file would be::

    from dataflow_runner.dsl import Playbook, hourly

    pb = Playbook("impressions", partitions=hourly(start="2026-11-01T00:00Z"))
    join = pb.command(
        "join",
        ["python3", "steps/join.py", "{date}", "{hour}"],
        inputs=["data/impressions/{date}/{hour}.txt"],
        outputs=["out/joined/{date}/{hour}.txt"],
    )
    pb.command("count", ["python3", "steps/count.py"], inputs=join.outputs,
               outputs=["out/count/{date}/{hour}.txt"])

Placeholders ``{date}``, ``{hour}``, ``{partition}`` and ``{NAME}`` (a parameter,
or a variable given with ``--vars``) are the YAML form's ``{{.date}}``...; ``{{``
and ``}}`` are literal braces; :func:`template` passes a Go template as it is.
"""

from __future__ import annotations

from dataflow_runner.dsl.builder import (
    Param,
    Partitions,
    Playbook,
    Retry,
    Step,
    StepOptions,
    Wait,
    daily,
    hourly,
    monthly,
    param,
    partitions,
    retry,
    wait,
    weekly,
)
from dataflow_runner.dsl.context import variables
from dataflow_runner.dsl.schedule import Schedule, schedule
from dataflow_runner.dsl.text import DslError, Template, template

__all__ = [
    "DslError",
    "Param",
    "Partitions",
    "Playbook",
    "Retry",
    "Schedule",
    "Step",
    "StepOptions",
    "Template",
    "Wait",
    "daily",
    "hourly",
    "monthly",
    "param",
    "partitions",
    "retry",
    "schedule",
    "template",
    "variables",
    "wait",
    "weekly",
]
