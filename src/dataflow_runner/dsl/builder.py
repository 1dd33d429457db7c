"""The DSL's builders: a :class:`Playbook`, its partitions and parameters, and its
steps (each builder returns a :class:`Step`, whose ``outputs`` another step takes
as ``inputs``).

Every argument is checked when it is given: a wrong one raises :class:`DslError`,
which the runner reports at the line of the playbook's file that gave it. What the
playbook's schema checks (ranges, the steps' graph) is checked when the runner
loads the YAML form the playbook builds (:meth:`Playbook.to_yaml`), and reported at
the line that built the step too.

>>> pb = Playbook("counts", partitions=daily(start="2026-11-01"))
>>> extract = pb.command("extract", ["sh", "x.sh", "{date}"], outputs=["out/{date}.txt"])
>>> pb.command("load", ["sh", "y.sh"], inputs=extract.outputs).inputs
('out/{date}.txt',)
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack

from dataflow_runner.config.model import (
    ACTIONS_ON_FAILURE,
    PARAM_TYPES,
    PARTITION_UNITS,
    PARTITION_VARIABLES,
    STEP_ID,
)
from dataflow_runner.dsl import context
from dataflow_runner.dsl.schedule import Schedule
from dataflow_runner.dsl.text import DslError, check

#: Seconds, as a number or a ``datetime.timedelta``.
Seconds = float | dt.timedelta
Unit = Literal["hour", "day", "week", "month"]
ParamType = Literal["string", "int", "date", "datetime"]
ActionOnFailure = Literal["CANCEL_AND_WAIT", "CONTINUE"]
CredentialMode = Literal["env", "iam", "default"]

_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
_STEP_ID = re.compile(STEP_ID)
DAY = 86_400.0


# --- partitions, parameters, policies -----------------------------------------------


@dataclass(frozen=True)
class Partitions:
    """How a playbook cuts time (``partitions:`` of the YAML form)."""

    every: str
    start: str
    timezone: str = "UTC"


def partitions(every: Unit, start: str | dt.date, *, timezone: str = "UTC") -> Partitions:
    """Partitions of ``every`` hour, day, week or month from ``start`` (a date or a
    time: ``"2026-11-01"``, ``"2026-11-01T00:00Z"`` or a ``datetime``), in ``timezone``."""
    if every not in PARTITION_UNITS:
        raise DslError(f"unknown partition unit {every!r}: expected hour, day, week or month")
    text = _moment(start)
    _text(timezone, "timezone")
    from dataflow_runner.config.model import Partitions as Declared
    from dataflow_runner.data.partitions import Spec
    from dataflow_runner.errors import ConfigError

    try:
        Spec.of(Declared(every=every, start=text, timezone=timezone))
    except ConfigError as exc:
        raise DslError(f"partitions: {exc.message}") from None
    return Partitions(every, text, timezone)


def hourly(start: str | dt.date, *, timezone: str = "UTC") -> Partitions:
    """A partition per hour: ``{date}``, ``{hour}`` and ``{partition}`` are its."""
    return partitions("hour", start, timezone=timezone)


def daily(start: str | dt.date, *, timezone: str = "UTC") -> Partitions:
    """A partition per calendar day of ``timezone``."""
    return partitions("day", start, timezone=timezone)


def weekly(start: str | dt.date, *, timezone: str = "UTC") -> Partitions:
    """A partition per week (of seven days from ``start``)."""
    return partitions("week", start, timezone=timezone)


def monthly(start: str | dt.date, *, timezone: str = "UTC") -> Partitions:
    """A partition per calendar month."""
    return partitions("month", start, timezone=timezone)


def _moment(value: str | dt.date) -> str:
    if isinstance(value, dt.datetime):
        if value.utcoffset() == dt.timedelta(0):
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise DslError(f"start: expected a date or a time, got {type(value).__name__}")


@dataclass(frozen=True)
class Param:
    """A typed parameter, set with ``--vars NAME,VALUE`` (``params:`` of the YAML form)."""

    type: str = "string"
    default: str | int | None = None
    description: str = ""


def param(
    type: ParamType = "string",
    *,
    default: str | int | dt.date | None = None,
    description: str = "",
) -> Param:
    """A parameter of ``type`` string, int, date or datetime; without a default, it
    is required."""
    if type not in PARAM_TYPES:
        raise DslError(f"unknown parameter type {type!r}: expected string, int, date or datetime")
    if isinstance(default, dt.datetime):
        default = default.isoformat().replace("+00:00", "Z")
    elif isinstance(default, dt.date):
        default = default.isoformat()
    if default is not None and (isinstance(default, bool) or not isinstance(default, str | int)):
        raise DslError(f"default: expected a string or an integer, got {default!r}")
    if type == "int" and default is not None and not isinstance(default, int):
        raise DslError(f"default: an int parameter's default is an integer, got {default!r}")
    return Param(type, default, _text(description, "description"))


@dataclass(frozen=True)
class Retry:
    """How often a failed step is tried again (``retries:`` of the YAML form)."""

    count: int
    delay: float = 5.0
    backoff: float = 2.0
    max_delay: float = 300.0


def retry(
    count: int, *, delay: Seconds = 5.0, backoff: float = 2.0, max_delay: Seconds = 300.0
) -> Retry:
    """``count`` attempts after a failure, ``delay`` seconds after the first, each
    next wait ``backoff`` times longer, at most ``max_delay``."""
    return Retry(
        _integer(count, "retries"),
        _seconds(delay, "delay"),
        _number(backoff, "backoff"),
        _seconds(max_delay, "max_delay"),
    )


@dataclass(frozen=True)
class Wait:
    """A sensor: wait for missing external inputs (``waitForInputs:``)."""

    timeout: float = DAY
    poke: float = 60.0


def wait(timeout: Seconds = DAY, *, poke: Seconds = 60.0) -> Wait:
    """Wait up to ``timeout`` seconds (from the run's start) for a step's missing
    external inputs, looking every ``poke`` seconds (then less often)."""
    return Wait(_seconds(timeout, "timeout"), _seconds(poke, "poke"))


# --- steps -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Step:
    """A step of a :class:`Playbook`, as its builder returns it: give it to another
    step's ``depends_on``, or its ``outputs`` to another step's ``inputs``."""

    id: str
    type: str
    name: str = ""
    command: tuple[str, ...] = ()
    script: str = ""
    args: tuple[str, ...] = ()
    jar: str = ""
    arguments: tuple[str, ...] = ()
    application: str = ""
    main_class: str = ""
    conf: Mapping[str, str] = field(default_factory=dict)
    py_files: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    depends_on_past: bool = False
    wait_for_inputs: Wait | None = None
    success_marker: bool = True
    retries: Retry | None = None
    timeout: float | None = None
    action_on_failure: str = "CANCEL_AND_WAIT"
    env: Mapping[str, str] = field(default_factory=dict)
    #: Where it was built: (file, line).
    site: tuple[str, int] | None = None

    @property
    def line(self) -> int | None:
        """The line of the file that built it."""
        return self.site[1] if self.site else None


class StepOptions(TypedDict, total=False):
    """What every step builder takes, besides what its type needs."""

    name: str
    inputs: Sequence[str]
    outputs: Sequence[str]
    depends_on: Sequence[Step | str]
    after: Sequence[Step | str]
    depends_on_past: bool
    wait_for_inputs: Wait | bool
    success_marker: bool
    retries: int | Retry
    timeout: Seconds | None
    action_on_failure: ActionOnFailure
    env: Mapping[str, str]


_OPTIONS = tuple(StepOptions.__annotations__)
#: The fields whose strings hold placeholders (and the values of ``env`` and ``conf``).
PLACEHOLDER_FIELDS: tuple[str, ...] = (
    "name",
    "command",
    "script",
    "args",
    "jar",
    "arguments",
    "application",
    "main_class",
    "py_files",
    "packages",
    "inputs",
    "outputs",
)


class Playbook:
    """A playbook: its name, how it cuts time, its parameters, and its steps, added
    by :meth:`command`, :meth:`script`, :meth:`spark` and :meth:`jar`.

    A Python playbook file builds one, at module level; the runner loads the YAML
    form it gives (:meth:`to_yaml`) as it loads any playbook.
    """

    def __init__(
        self,
        name: str,
        *,
        description: str = "",
        partitions: Partitions | None = None,
        params: Mapping[str, Param] | None = None,
        concurrency: int | None = None,
        region: str = "",
        credentials: CredentialMode | tuple[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        self.site = context.call_site()
        if schedule is not None and not isinstance(schedule, Schedule):
            raise DslError(f"schedule: expected schedule(...), got {schedule!r}")
        self.schedule = schedule
        if not isinstance(name, str) or not name:
            raise DslError("a playbook needs a name (a non-empty string)")
        self.name = name
        self.description = _text(description, "description")
        if partitions is not None and not isinstance(partitions, Partitions):
            raise DslError(
                "partitions: expected hourly(...), daily(...), weekly(...), monthly(...) "
                f"or partitions(...), got {partitions!r}"
            )
        self.partitions = partitions
        self.params = _params(params or {}, partitioned=partitions is not None)
        if concurrency is not None:
            concurrency = _integer(concurrency, "concurrency")
        self.concurrency = concurrency
        self.region = _text(region, "region")
        self.credentials = _credentials(credentials)
        self.tags = _mapping(tags or {}, "tags")
        self._steps: list[Step] = []

    @property
    def line(self) -> int | None:
        """The line of the file that built it."""
        return self.site[1] if self.site else None

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._steps)

    def __repr__(self) -> str:
        return f"Playbook({self.name!r}, {len(self._steps)} steps)"

    def to_yaml(self) -> str:
        """The YAML form (schema 1-1-0): what ``dataflow-runner render`` prints,
        and what the runner loads."""
        from dataflow_runner.dsl.yamlform import to_yaml

        return to_yaml(self)

    # --- the step builders -------------------------------------------------------------

    def command(self, id: str, command: Sequence[str], **options: Unpack[StepOptions]) -> Step:
        """A ``COMMAND`` step: an argv (locally a process; on EMR command-runner.jar)."""
        argv = _texts(command, "command")
        if not argv:
            raise DslError("command: expected a non-empty list of strings (an argv)")
        return self._add(id, "COMMAND", {"command": argv}, options)

    def script(
        self, id: str, script: str, args: Sequence[str] = (), **options: Unpack[StepOptions]
    ) -> Step:
        """A ``SCRIPT`` step: a script (a path or an s3:// URI) and its arguments."""
        specific = {"script": _text(script, "script"), "args": _texts(args, "args")}
        return self._add(id, "SCRIPT", specific, options)

    def spark(
        self,
        id: str,
        application: str,
        args: Sequence[str] = (),
        *,
        main_class: str = "",
        conf: Mapping[str, str] | None = None,
        py_files: Sequence[str] = (),
        packages: Sequence[str] = (),
        **options: Unpack[StepOptions],
    ) -> Step:
        """A ``SPARK`` step: an application (a jar or a .py) for spark-submit."""
        specific = {
            "application": _text(application, "application"),
            "args": _texts(args, "args"),
            "main_class": _text(main_class, "main_class"),
            "conf": _mapping(conf or {}, "conf"),
            "py_files": _texts(py_files, "py_files"),
            "packages": _texts(packages, "packages"),
        }
        return self._add(id, "SPARK", specific, options)

    def jar(
        self, id: str, jar: str, arguments: Sequence[str] = (), **options: Unpack[StepOptions]
    ) -> Step:
        """A ``CUSTOM_JAR`` step (the Go tool's): a jar and its arguments."""
        specific = {"jar": _text(jar, "jar"), "arguments": _texts(arguments, "arguments")}
        return self._add(id, "CUSTOM_JAR", specific, options)

    # --- checks ------------------------------------------------------------------------

    def _add(self, id: str, type_: str, specific: dict[str, Any], options: StepOptions) -> Step:
        site = context.call_site()
        if not isinstance(id, str) or not id or not _STEP_ID.match(id):
            raise DslError(
                f"step id {id!r}: expected letters, digits, '.', '_' or '-', not starting "
                "with '.' or '-' (at most 128 characters)"
            )
        for step in self._steps:
            if step.id == id:
                where = f" (the first is at line {step.line})" if step.line else ""
                raise DslError(f"duplicate step id {id!r}{where}")
        unknown = [key for key in options if key not in _OPTIONS]
        if unknown:
            close = difflib.get_close_matches(unknown[0], _OPTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise DslError(f"step {id!r}: unknown argument {unknown[0]!r}{hint}")
        fields = {**specific, **self._options(id, options)}
        known = self._variables()
        for name in PLACEHOLDER_FIELDS:
            value = fields.get(name)
            for text in (value,) if isinstance(value, str) else value or ():
                check(text, known, f"step {id!r}: {name}")
        for name in ("env", "conf"):
            for text in (fields.get(name) or {}).values():
                check(text, known, f"step {id!r}: {name}")
        step = Step(id=id, type=type_, site=site, **fields)
        self._steps.append(step)
        return step

    def _options(self, id: str, options: StepOptions) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "name" in options:
            out["name"] = _text(options["name"], "name")
        for key in ("inputs", "outputs"):
            if key in options:
                out[key] = _texts(options[key], key)
        for key in ("depends_on", "after"):
            if key in options:
                out[key] = self._upstream(id, options[key], key)  # type: ignore[literal-required]
        for key in ("depends_on_past", "success_marker"):
            if key in options:
                out[key] = _flag(options[key], key)  # type: ignore[literal-required]
        if "wait_for_inputs" in options:
            sensor = options["wait_for_inputs"]
            if isinstance(sensor, bool):
                out["wait_for_inputs"] = Wait() if sensor else None
            elif isinstance(sensor, Wait):
                out["wait_for_inputs"] = sensor
            else:
                raise DslError(f"wait_for_inputs: expected wait(...) or True, got {sensor!r}")
        if "retries" in options:
            policy = options["retries"]
            out["retries"] = (
                policy if isinstance(policy, Retry) else Retry(_integer(policy, "retries"))
            )
        if options.get("timeout") is not None:
            out["timeout"] = _seconds(options["timeout"], "timeout")
        if "action_on_failure" in options:
            action = options["action_on_failure"]
            if action not in ACTIONS_ON_FAILURE:
                raise DslError(
                    f"action_on_failure: expected CANCEL_AND_WAIT or CONTINUE, got {action!r}"
                )
            out["action_on_failure"] = action
        if "env" in options:
            out["env"] = _mapping(options["env"], "env")
        return out

    def _upstream(self, id: str, value: Sequence[Step | str], key: str) -> tuple[str, ...]:
        if isinstance(value, Step | str):
            value = [value]
        if not isinstance(value, Sequence):
            raise DslError(f"{key}: expected a list of steps, got {value!r}")
        ids: list[str] = []
        known = {s.id: s for s in self._steps}
        for up in value:
            if isinstance(up, Step):
                if known.get(up.id) is not up:
                    raise DslError(f"{key}: step {up.id!r} belongs to another playbook")
                ids.append(up.id)
            elif isinstance(up, str):
                if up not in known:
                    listed = ", ".join(known) or "none yet"
                    raise DslError(
                        f"{key}: unknown step {up!r} (a step depends on steps added before "
                        f"it; added: {listed})"
                    )
                ids.append(up)
            else:
                raise DslError(f"{key}: expected a step or a step id, got {up!r}")
        return tuple(ids)

    def _variables(self) -> set[str]:
        """What a placeholder may name: the partition's variables, the parameters,
        and the ``--vars`` given."""
        known = set(self.params) | set(context.variables())
        if self.partitions is not None:
            known.update(PARTITION_VARIABLES)
        return known


# --- argument checks --------------------------------------------------------------------


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise DslError(f"{what}: expected a string, got {type(value).__name__}")
    return value


def _texts(value: object, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise DslError(f"{what}: expected a list of strings, got a string ({value!r})")
    if not isinstance(value, Sequence):
        raise DslError(f"{what}: expected a list of strings, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise DslError(f"{what}: expected a list of strings, got {item!r} in it")
    return tuple(value)


def _mapping(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DslError(f"{what}: expected a mapping of strings, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise DslError(f"{what}: expected strings, got {key!r}: {item!r}")
    return dict(value)


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise DslError(f"{what}: expected True or False, got {value!r}")
    return value


def _integer(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DslError(f"{what}: expected an integer, got {value!r}")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DslError(f"{what}: expected a number, got {value!r}")
    return float(value)


def _seconds(value: object, what: str) -> float:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return _number(value, f"{what} (seconds)")


def _params(params: Mapping[str, Param], *, partitioned: bool) -> dict[str, Param]:
    if not isinstance(params, Mapping):
        raise DslError(f"params: expected a mapping of names to param(...), got {params!r}")
    for name, value in params.items():
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise DslError(f"params: {name!r} is not a name of letters, digits and _")
        if partitioned and name in PARTITION_VARIABLES:
            raise DslError(f"params: {name!r} is the partition's (the partition sets it)")
        if not isinstance(value, Param):
            raise DslError(f"params: {name!r}: expected param(...), got {value!r}")
    return dict(params)


def _credentials(value: object) -> tuple[str, str] | None:
    if value is None:
        return None
    if value in ("env", "iam", "default"):
        return (str(value), str(value))
    if isinstance(value, tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return (value[0], value[1])
    raise DslError(
        "credentials: expected 'env', 'iam', 'default' or (access_key_id, secret_access_key)"
    )
