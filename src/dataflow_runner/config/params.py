"""A playbook's typed parameters (schema 1-1-0): is a value of the declared type?

>>> check("n", Param(type="int"), "3") is None
True
>>> check("n", Param(type="int"), "three")
"--vars n: expected an integer (the playbook's parameter is of type int), got 'three'"
"""

from __future__ import annotations

import datetime as dt
import re

from dataflow_runner.config.model import Param
from dataflow_runner.errors import ConfigError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check(name: str, param: Param, value: str) -> str | None:
    """Why ``value`` is not a ``param.type``, or None."""
    expected: str | None = None
    if param.type == "int":
        if not re.fullmatch(r"[+-]?\d{1,18}", value):
            expected = "an integer"
    elif param.type == "date":
        if not _DATE.match(value) or _date(value) is None:
            expected = "a date such as 2026-11-20"
    elif param.type == "datetime":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            expected = "a time such as 2026-11-20T03:00:00Z"
    if expected is None:
        return None
    return (
        f"--vars {name}: expected {expected} (the playbook's parameter is of type {param.type}), "
        f"got {value!r}"
    )


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def check_default(name: str, param: Param, *, file: str, path: str) -> ConfigError | None:
    """A parameter's default must be of its type (checked with the playbook)."""
    if param.default is None:
        return None
    problem = check(name, param, str(param.default))
    if problem is None and param.type == "int" and not isinstance(param.default, int):
        problem = f"expected an integer default, got {param.default!r}"
    if problem is None:
        return None
    return ConfigError(problem.split(": ", 1)[1], file=file, path=path)
