"""The one config model: msgspec Structs that validate the files, describe them in
the JSON Schemas and carry them through the engine, the fabrics and the store.

Each field is declared once, here (or, for a fabric's section of a cluster config,
in that fabric's ``config.py``, found through :mod:`~dataflow_runner.fabrics.registry`).
Names are snake_case in Python and camelCase in files (``rename="camel"``); the
constraints (``Meta``) are what ``loading.py`` checks and what the schemas publish.
Unknown fields are refused by the Structs themselves: Snowplow's lenient formats
drop them before converting (``validation.py``).

:func:`to_doc` and :func:`from_doc` give the JSON form that is stored and sent to
a local cluster's agent (the files' own camelCase names):

>>> step = Step(id="count", type=StepType.COMMAND, command=("wc", "-l", "in.txt"))
>>> to_doc(step, exclude_defaults=True)
{'id': 'count', 'type': 'COMMAND', 'command': ['wc', '-l', 'in.txt']}
>>> from_doc(Step, {"id": "count", "type": "COMMAND", "command": ["wc"]}).command
('wc',)
"""

from __future__ import annotations

import enum
import os
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar, cast

import msgspec
from msgspec import Meta, Struct, field

from dataflow_runner.fabrics import registry

T = TypeVar("T")


class Model(
    Struct,
    frozen=True,
    rename="camel",
    omit_defaults=True,
    forbid_unknown_fields=True,
    # The model makes no reference cycles: leaving its objects out of the cyclic
    # collector keeps the collector's passes short on a playbook of thousands of
    # steps (which once took a third of the time spent loading it).
    gc=False,
):
    """Base of every Struct of the config model."""


# --- constrained values (each says, in ``extra``, what a bad value should have been) ---

# Python's ``re`` and JSON Schema's ECMA-262 both read these; ``$(?!\n)`` ends the
# text in both (Python's ``$`` alone would accept one trailing newline).
NO_NUL = r"^[^\x00]*$"
STEP_ID = r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$(?!\n)"
ENV_NAME = r"^[^=\x00]+$"

#: A string that reaches a process or a file name: the OS cuts it at a NUL byte.
Text = Annotated[str, Meta(pattern=NO_NUL)]
#: A step id becomes a file name (an attempt's logs): a safe one.
StepId = Annotated[
    str,
    Meta(
        pattern=STEP_ID,
        description="Letters, digits, '.', '_' or '-', not starting with '.' or '-', "
        "at most 128 characters.",
        extra={
            "expected": "an id of letters, digits, '.', '_' or '-' that does not start "
            "with '.' or '-' (at most 128 characters)"
        },
    ),
]
#: An environment variable's name.
EnvName = Annotated[
    str,
    Meta(
        pattern=ENV_NAME,
        extra={"expected": "an environment variable name (not empty, without '=')"},
    ),
]
Env = dict[EnvName, Text]

MAX_CONCURRENCY = 1024
DAY = 86_400
Concurrency = Annotated[int, Meta(ge=1, le=MAX_CONCURRENCY)]
RetryCount = Annotated[int, Meta(ge=0, le=100)]
Delay = Annotated[float, Meta(ge=0, le=DAY, extra={"max": "a day"})]
Backoff = Annotated[float, Meta(ge=1, le=10)]
Timeout = Annotated[float, Meta(gt=0, le=30 * DAY, extra={"max": "30 days"})]

ActionOnFailure = Literal["CANCEL_AND_WAIT", "CONTINUE"]
ACTIONS_ON_FAILURE: tuple[str, ...] = ("CANCEL_AND_WAIT", "CONTINUE")
CredentialMode = Literal["env", "iam", "default", "static"]
# The credential values with a special meaning (anything else is a static key).
CREDENTIAL_MODES = ("env", "iam", "default")


def credential_mode(access_key_id: str, secret_access_key: str) -> CredentialMode:
    """The Go tool's reading of a key pair: both ``env``: AWS environment variables;
    both ``iam``: the EC2 instance role; both ``default`` (or both empty): the SDK's
    default chain; anything else: static keys.

    >>> credential_mode("iam", "iam"), credential_mode("AKIA...", "s3cr3t")
    ('iam', 'static')
    """
    for mode in ("env", "iam", "default"):
        if access_key_id == mode and secret_access_key == mode:
            return mode
    if not access_key_id and not secret_access_key:
        return "default"
    return "static"


class KeyPair(Protocol):
    """AWS credentials as read from a playbook or an EMR cluster config."""

    @property
    def access_key_id(self) -> str: ...

    @property
    def secret_access_key(self) -> str: ...

    @property
    def mode(self) -> CredentialMode: ...


class KeyValue(Protocol):
    """A tag."""

    @property
    def key(self) -> str: ...

    @property
    def value(self) -> str: ...


# --- shared pieces ---------------------------------------------------------------------


class Credentials(Model, frozen=True):
    """AWS credentials (see :func:`credential_mode`). The secret never appears in a repr.

    >>> Credentials("env", "env").mode
    'env'
    """

    access_key_id: str = ""
    secret_access_key: str = ""

    @property
    def mode(self) -> CredentialMode:
        return credential_mode(self.access_key_id, self.secret_access_key)

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret_access_key=...)"


class Tag(Model, frozen=True):
    key: str
    value: str = ""


# --- playbook --------------------------------------------------------------------------


class StepType(enum.StrEnum):
    CUSTOM_JAR = "CUSTOM_JAR"
    COMMAND = "COMMAND"
    SCRIPT = "SCRIPT"
    SPARK = "SPARK"


class RetryPolicy(Model, frozen=True, kw_only=True):
    """How often a failed step is tried again before it counts as failed.

    >>> RetryPolicy(count=3, delay_seconds=2).delay(3)
    4.0
    """

    count: RetryCount = 0
    delay_seconds: Delay = 5.0
    backoff: Backoff = 2.0
    max_delay_seconds: Delay = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (2 = the first retry)."""
        return float(
            min(self.max_delay_seconds, self.delay_seconds * self.backoff ** (attempt - 2))
        )


if TYPE_CHECKING:
    Retries = RetryPolicy
else:
    # ``"retries": 2`` is short for ``{"count": 2}``: files and schemas take both;
    # Step.__post_init__ turns a count into a policy, so code only sees policies.
    Retries = RetryPolicy | RetryCount


Poke = Annotated[float, Meta(ge=1, le=DAY, extra={"max": "a day"})]


class WaitForInputs(Model, frozen=True, kw_only=True):
    """A sensor: wait for a step's external inputs to appear (checked together, on
    the engine's timer, every ``poke_seconds``, backing off), up to ``timeout_seconds``.

    >>> WaitForInputs().timeout_seconds, WaitForInputs().poke_seconds
    (86400.0, 60.0)
    """

    timeout_seconds: Timeout = float(DAY)
    poke_seconds: Poke = 60.0


class Step(Model, frozen=True, kw_only=True):
    """One unit of work. Which fields apply depends on ``type``.

    >>> Step(id="a", retries=2).retries.count
    2
    """

    id: StepId = ""
    name: Text = ""
    type: StepType = StepType.CUSTOM_JAR
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT"
    depends_on: tuple[Text, ...] = ()
    # Order-only edges: wait for these to finish, whatever their outcome. Serial
    # (Snowplow) playbooks chain their steps this way, which keeps EMR's queue
    # semantics: after a CONTINUE failure, the next step still runs.
    after: tuple[Text, ...] = ()
    retries: Retries = RetryPolicy()
    timeout_seconds: Timeout | None = None
    env: Env = {}
    # CUSTOM_JAR
    jar: Text = ""
    arguments: tuple[Text, ...] = ()
    # COMMAND
    command: tuple[Text, ...] = ()
    # SCRIPT / SPARK
    script: Text = ""
    args: tuple[Text, ...] = ()
    # SPARK
    application: Text = ""
    main_class: Text = field(default="", name="class")
    conf: dict[Text, Text] = {}
    py_files: tuple[Text, ...] = ()
    packages: tuple[Text, ...] = ()
    # Data (schema 1-1-0): what the step reads and writes (local paths, hdfs://,
    # s3://, s3a://, s3n://; a path ending in "/" is a directory). A step whose
    # outputs all exist is skipped; one reading another's output depends on it.
    inputs: tuple[Text, ...] = ()
    outputs: tuple[Text, ...] = ()
    #: A directory output counts as there when it holds ``_SUCCESS`` (as Spark and
    #: Hadoop write it); False: when it holds anything.
    success_marker: bool = True
    #: The same step of the previous partition must be complete first.
    depends_on_past: bool = False
    wait_for_inputs: WaitForInputs | None = None

    def __post_init__(self) -> None:
        retries: Any = self.retries
        if isinstance(retries, int):
            msgspec.structs.force_setattr(self, "retries", RetryPolicy(count=retries))

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every step this one waits for."""
        return self.depends_on + self.after


PartitionUnit = Literal["hour", "day", "week", "month"]
PARTITION_UNITS: tuple[str, ...] = ("hour", "day", "week", "month")
#: The template variables a partition sets.
PARTITION_VARIABLES = ("partition", "date", "hour")


class Partitions(Model, frozen=True, kw_only=True):
    """A partitioned playbook (schema 1-1-0): each run is for one partition (or a
    range), whose start is the template variable ``.partition`` (RFC 3339), with
    ``.date`` (``2006-01-02``) and ``.hour`` (``15``).

    >>> Partitions(every="day", start="2026-11-01").timezone
    'UTC'
    """

    every: PartitionUnit
    start: Annotated[
        str,
        Meta(
            pattern=r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?(Z|[+-]\d{2}:?\d{2})?$(?!\n)",
            extra={"expected": "a date or a time such as 2026-11-01 or 2026-11-01T00:00Z"},
        ),
    ]
    timezone: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9_+/-]{1,64}$(?!\n)",
            extra={"expected": "an IANA time zone name such as UTC or Europe/Paris"},
        ),
    ] = "UTC"


ParamType = Literal["string", "int", "date", "datetime"]
PARAM_TYPES: tuple[str, ...] = ("string", "int", "date", "datetime")
ParamName = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$(?!\n)",
        extra={"expected": "a name of letters, digits and _ (a template variable)"},
    ),
]


class Param(Model, frozen=True, kw_only=True):
    """A typed parameter (schema 1-1-0), set with ``--vars``; without a default it is
    required.

    >>> Param(type="int", default=3).required
    False
    """

    type: ParamType = "string"
    default: str | int | None = None
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None


class CatchUp(Model, frozen=True, kw_only=True):
    """A schedule's automatic backfill: at each tick, the ``last`` partitions (or,
    for a playbook without partitions, ticks) are looked at again and every
    incomplete one is run, newest first unless ``oldest_first``. ``of`` says what is
    counted (default: partitions when the playbook has them, else ticks)."""

    last: Annotated[int, Meta(ge=1, extra={"expected": "a number of partitions or ticks"})]
    oldest_first: bool = False
    of: Literal["partitions", "ticks"] | None = None


class Alerts(Model, frozen=True, kw_only=True):
    """Where a schedule's owner hears of a failed run or a missed deadline: a
    webhook (a JSON ``{"text": ...}`` body, as Slack's incoming webhooks take)."""

    webhook: Annotated[
        str,
        Meta(
            pattern=r"^https?://[^\s]+$(?!\n)",
            extra={"expected": "an http:// or https:// URL"},
        ),
    ]
    on_failure: bool = True
    on_deadline: bool = True


ScheduleTrigger = Literal["clock", "inputs"]


class Schedule(Model, frozen=True, kw_only=True):
    """When the server runs the playbook by itself (schema 1-1-0): at each ``cron``
    tick in ``timezone`` (a partitioned playbook: the partition that just closed;
    else ``.tick`` is the tick's time), and/or (``trigger: inputs``) as soon as a
    partition's external inputs exist, looked for every ``poke_seconds``; the owner
    is alerted when they are not there ``deadline`` seconds after it closed.

    >>> Schedule(cron="@daily").max_active_runs
    1
    """

    cron: Text = ""
    timezone: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9_+/-]{1,64}$(?!\n)",
            extra={"expected": "an IANA time zone name such as UTC or Europe/Paris"},
        ),
    ] = "UTC"
    catch_up: CatchUp | None = None
    max_active_runs: Concurrency = 1
    trigger: ScheduleTrigger = "clock"
    poke_seconds: Poke = 60.0
    deadline: Timeout | None = None
    paused: bool = False
    alerts: Alerts | None = None


class PlaybookData(Model, frozen=True, kw_only=True):
    """The ``data`` of this project's playbook (``iglu:dev.dataflowrunner/Playbook/...``)."""

    name: Text = ""
    description: str = ""
    region: str = ""
    credentials: Credentials = Credentials()
    concurrency: Concurrency | None = None
    steps: tuple[Step, ...] = ()
    tags: tuple[Tag, ...] = ()
    # Schema 1-1-0.
    partitions: Partitions | None = None
    params: dict[ParamName, Param] = {}
    schedule: Schedule | None = None


class Playbook(PlaybookData, frozen=True, kw_only=True):
    """What to run: the steps, their order or dependencies (Snowplow's playbooks
    become one too, each step waiting for the one before it).

    >>> book = Playbook(steps=(Step(id="a"), Step(id="b", after=("a",))))
    >>> book.is_serial, book.step("b").upstream
    (True, ('a',))
    """

    schema_uri: str = ""

    @property
    def is_serial(self) -> bool:
        """True when every step only waits for the one before it (EMR's queue)."""
        prev: str | None = None
        for step in self.steps:
            expected = () if prev is None else (prev,)
            if step.upstream != expected:
                return False
            prev = step.id
        return True

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)


# --- cluster config --------------------------------------------------------------------


class ClusterData(Model, frozen=True, kw_only=True):
    """The ``data`` of this project's cluster config, without the fabrics' sections
    (each is validated with its fabric's section type, under its name)."""

    name: Text
    fabric: str = registry.DEFAULT
    description: str = ""


class ClusterConfig(ClusterData, frozen=True, kw_only=True):
    """Where a playbook runs: the fabric, and each fabric's section of the config.

    ``base_dir`` is the absolute directory relative paths in the config start from;
    ``file`` the file it was read from, as the user gave it (for error messages).

    >>> ClusterConfig(name="laptop", base_dir="/srv").section("elsewhere") is None
    True
    """

    sections: dict[str, Struct] = {}
    schema_uri: str = ""
    base_dir: str = field(default_factory=os.getcwd)
    file: str = ""

    def section(self, name: str) -> Struct | None:
        """Fabric ``name``'s section, or None when the config has none."""
        return self.sections.get(name)


# --- Snowplow's records ------------------------------------------------------------------


class SnowplowStep(Model, frozen=True, kw_only=True):
    """A step of Snowplow's PlaybookConfig (``type`` is CUSTOM_JAR in practice)."""

    type: str = ""
    name: Text = ""
    action_on_failure: str = ""
    jar: Text = ""
    arguments: tuple[Text, ...] = ()


class SnowplowPlaybook(Model, frozen=True, kw_only=True):
    """``iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-*`` data."""

    region: str = ""
    credentials: Credentials = Credentials()
    steps: tuple[SnowplowStep, ...] = ()
    tags: tuple[Tag, ...] = ()


# --- the JSON form -----------------------------------------------------------------------


def to_doc(obj: Struct, *, exclude_defaults: bool = False) -> dict[str, Any]:
    """The JSON form of a Struct of the model (camelCase names); a cluster config's
    sections sit under their fabrics' names, as in its file.

    >>> to_doc(Tag("team", "data"))
    {'key': 'team', 'value': 'data'}
    """
    if isinstance(obj, ClusterConfig):
        return _cluster_doc(obj, exclude_defaults)
    # The Structs omit their defaults when encoded (omit_defaults).
    return _json(obj if exclude_defaults else _every_field(obj))


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    """A Struct of the model from its JSON form (missing fields: defaults).

    The form is trusted (written by :func:`to_doc` from validated values): files are
    validated by ``loading.py``, never read with this.

    >>> from_doc(RetryPolicy, {"count": 2}).delay(2)
    5.0
    """
    if cls is ClusterConfig:
        return cast(T, _cluster_from_doc(doc))
    return msgspec.convert(doc, cls)


def _cluster_doc(config: ClusterConfig, exclude_defaults: bool) -> dict[str, Any]:
    head = msgspec.structs.replace(config, sections={})
    doc = _json(head if exclude_defaults else _every_field(head))
    for key in ("sections", "schemaUri", "baseDir"):
        doc.pop(key, None)
    for name, section in config.sections.items():
        doc[name] = to_doc(section, exclude_defaults=exclude_defaults)
    if config.schema_uri or not exclude_defaults:
        doc["schemaUri"] = config.schema_uri
    doc["baseDir"] = config.base_dir  # always: its default depends on the process
    return doc


def _cluster_from_doc(doc: dict[str, Any]) -> ClusterConfig:
    names = registry.names()
    sections = {
        name: msgspec.convert(doc[name], registry.section_type(name))
        for name in names
        if doc.get(name) is not None
    }
    head = msgspec.convert({k: v for k, v in doc.items() if k not in names}, ClusterConfig)
    return msgspec.structs.replace(head, sections=sections)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def _json(value: Any) -> dict[str, Any]:
    # Encoded and decoded (in C) rather than msgspec.to_builtins: arrays come back as
    # lists, as from any JSON reader, whatever Python type held them.
    doc: dict[str, Any] = _decoder.decode(_encoder.encode(value))
    return doc


def _every_field(value: Any) -> Any:
    """``value`` with every field of every Struct in it, defaults included (the
    Structs omit their defaults when encoded)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, Struct):
        names = _field_names(type(value))
        return {encoded: _every_field(getattr(value, name)) for name, encoded in names}
    if kind is tuple or kind is list:
        return [_every_field(v) for v in value]
    if kind is dict:
        return {k: _every_field(v) for k, v in value.items()}
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


@cache
def _field_names(cls: type[Struct]) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, f.encode_name) for f in msgspec.structs.fields(cls))
