"""What the rest of the tool consumes: validated cluster configs and playbooks as
plain, immutable dataclasses.

Validation happens once, at the edge (``loading.py``, with the pydantic models of
``models.py``); everything after it (the engine, the fabrics, the store) works on
these types, which import nothing heavy. That keeps pydantic off a run's hot path
when a validated config is reused (``config/cache.py``), and gives one JSON form
(:func:`to_doc` / :func:`from_doc`, the files' camelCase names) for the store,
the cache and a local cluster's socket.

>>> step = Step(id="count", type=StepType.COMMAND, command=("wc", "-l", "in.txt"))
>>> to_doc(step, exclude_defaults=True)
{'id': 'count', 'type': 'COMMAND', 'command': ['wc', '-l', 'in.txt']}
>>> from_doc(Step, {"id": "count", "type": "COMMAND", "command": ["wc"]}).command
('wc',)
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from dataflow_runner.config.redact import is_secret, is_secret_key

if TYPE_CHECKING:
    from dataflow_runner.config.emr_models import EmrCluster

T = TypeVar("T")

Fabric = Literal["local", "emr"]
ActionOnFailure = Literal["CANCEL_AND_WAIT", "CONTINUE"]
ACTIONS_ON_FAILURE: tuple[str, ...] = ("CANCEL_AND_WAIT", "CONTINUE")
CredentialMode = Literal["env", "iam", "default", "static"]
# The credential values with a special meaning (anything else is a static key).
CREDENTIAL_MODES = ("env", "iam", "default")


def credential_mode(access_key_id: str, secret_access_key: str) -> CredentialMode:
    """The Go tool's reading of a key pair: both ``env``: AWS environment variables;
    both ``iam``: the EC2 instance role; both ``default`` (or both empty): the SDK's
    default chain; anything else: static keys."""
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


# --- shared pieces -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credentials:
    """A playbook's AWS credentials (see :func:`credential_mode`). The secret never
    appears in a repr."""

    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)

    @property
    def mode(self) -> CredentialMode:
        return credential_mode(self.access_key_id, self.secret_access_key)


@dataclass(frozen=True, slots=True)
class Tag:
    key: str
    value: str = ""


# --- local cluster -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalSpark:
    master: str = "local[*]"
    conf: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LocalCluster:
    """The local fabric: steps run on this machine."""

    concurrency: int | None = None
    work_dir: str = "."
    env: dict[str, str] = field(default_factory=dict)
    path_mappings: dict[str, str] = field(default_factory=dict)
    spark: LocalSpark = LocalSpark()


@dataclass(frozen=True)
class ClusterConfig:
    """Where a playbook runs: the fabric and its machine settings. The EMR section
    keeps its pydantic model (``emr_models``), imported only for EMR configs."""

    name: str
    fabric: Fabric
    local: LocalCluster = LocalCluster()
    emr: EmrCluster | None = None
    schema_uri: str = ""
    base_dir: str = ""

    def section(self, name: str) -> Any:
        """The fabric ``name``'s section of the config, or None."""
        return {"local": self.local, "emr": self.emr}.get(name)

    def to_doc(self) -> dict[str, Any]:
        """JSON-able form (``from_doc`` reads it back)."""
        doc: dict[str, Any] = {
            "name": self.name,
            "fabric": self.fabric,
            "schemaUri": self.schema_uri,
            "baseDir": self.base_dir,
            "local": to_doc(self.local),
        }
        if self.emr is not None:
            doc["emr"] = self.emr.model_dump(mode="json", by_alias=True)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ClusterConfig:
        emr = None
        if doc.get("emr"):
            from dataflow_runner.config.emr_models import EmrCluster

            emr = EmrCluster.model_validate(doc["emr"])
        return cls(
            name=doc["name"],
            fabric=doc["fabric"],
            schema_uri=doc.get("schemaUri", ""),
            base_dir=doc.get("baseDir", ""),
            local=from_doc(LocalCluster, doc.get("local") or {}),
            emr=emr,
        )


# --- playbook ----------------------------------------------------------------------


class StepType(enum.StrEnum):
    CUSTOM_JAR = "CUSTOM_JAR"
    COMMAND = "COMMAND"
    SCRIPT = "SCRIPT"
    SPARK = "SPARK"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a failed step is tried again before it counts as failed."""

    count: int = 0
    delay_seconds: float = 5.0
    backoff: float = 2.0
    max_delay_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (2 = the first retry)."""
        return float(
            min(self.max_delay_seconds, self.delay_seconds * self.backoff ** (attempt - 2))
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One unit of work. Which fields apply depends on ``type``."""

    id: str = ""
    name: str = ""
    type: StepType = StepType.CUSTOM_JAR
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT"
    depends_on: tuple[str, ...] = ()
    # Order-only edges: wait for these to finish, whatever their outcome. Serial
    # (Snowplow) playbooks chain their steps this way, which keeps EMR's queue
    # semantics: after a CONTINUE failure, the next step still runs.
    after: tuple[str, ...] = ()
    retries: RetryPolicy = RetryPolicy()
    timeout_seconds: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    # CUSTOM_JAR
    jar: str = ""
    arguments: tuple[str, ...] = ()
    # COMMAND
    command: tuple[str, ...] = ()
    # SCRIPT / SPARK
    script: str = ""
    args: tuple[str, ...] = ()
    # SPARK
    application: str = ""
    main_class: str = field(default="", metadata={"alias": "class"})
    conf: dict[str, str] = field(default_factory=dict)
    py_files: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every step this one waits for."""
        return self.depends_on + self.after


@dataclass(frozen=True, slots=True)
class Playbook:
    """What to run: the steps, their order or dependencies."""

    name: str = ""
    region: str = ""
    credentials: Credentials = Credentials()
    concurrency: int | None = None
    steps: tuple[Step, ...] = ()
    tags: tuple[Tag, ...] = ()
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


# --- JSON form ---------------------------------------------------------------------


def camel(name: str) -> str:
    """A field's name in files: ``delay_seconds`` → ``delaySeconds``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    alias: str
    read: Any  # JSON value → field value; None: as is
    write: Any  # field value → JSON value, given exclude_defaults; None: as is
    default: Any  # dataclasses.MISSING when required


@dataclass(frozen=True, slots=True)
class _Form:
    """How a dataclass of this module maps to its JSON form (computed once per class)."""

    fields: tuple[_Field, ...]
    reads: dict[str, tuple[str, Any]]  # alias → (field name, read or None: as is)
    secrets: tuple[_Field, ...]  # the fields that can hold a secret (see has_secret)


_FORMS: dict[type, _Form] = {}


def _converters(hint: Any) -> tuple[Any, Any]:
    """(read, write) for a field of type ``hint`` (the shapes used above)."""
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        cls: type = hint
        return (
            lambda value: from_doc(cls, value),
            lambda value, exclude: to_doc(value, exclude_defaults=exclude),
        )
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        # A dict lookup first: calling the enum class costs ten times more.
        members = {member.value: member for member in hint}
        return (
            lambda value: members.get(value) or hint(value),
            lambda value, _exclude: value.value,
        )
    if origin is tuple:
        read, write = _converters(typing.get_args(hint)[0])
        if read is None:
            return tuple, lambda value, _exclude: list(value)
        return (
            lambda value: tuple([read(v) for v in value]),
            lambda value, exclude: [write(v, exclude) for v in value],
        )
    if origin is dict:
        # Read as is: a JSON object is already a dict (and from_doc trusts its input).
        return None, lambda value, _exclude: dict(value)
    if origin in (types.UnionType, typing.Union, Literal) or hint in (str, int, float, bool):
        return None, None  # a JSON scalar as is
    raise TypeError(f"no JSON form for {hint!r}")


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _form(cls: type) -> _Form:
    form = _FORMS.get(cls)
    if form is None:
        hints = typing.get_type_hints(cls, globalns=globals())
        fields = tuple(
            _Field(
                f.name,
                f.metadata.get("alias", camel(f.name)),
                *_converters(hints[f.name]),
                _default(f),
            )
            for f in dataclasses.fields(cls)
        )
        form = _Form(
            fields,
            {f.alias: (f.name, f.read) for f in fields},
            tuple(f for f in fields if _may_hold_secret(hints[f.name], f.alias)),
        )
        _FORMS[cls] = form
    return form


def _may_hold_secret(hint: Any, alias: str) -> bool:
    """Whether a field of type ``hint`` named ``alias`` in files can hold a value
    that ``redact.redact_tree`` masks: any mapping (its keys are the user's), a
    string (or strings) under a secret-looking name, a dataclass holding either."""
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return bool(_form(hint).secrets)
    if origin is dict:
        return True
    if origin is tuple:
        return _may_hold_secret(typing.get_args(hint)[0], alias)
    return is_secret_key(alias)


def from_doc(cls: type[T], doc: dict[str, Any]) -> T:
    """A dataclass of this module from its JSON form (missing fields: defaults).

    The form is trusted (written from validated values, by :func:`to_doc` or by
    ``build.py``): files are validated by ``loading.py``, never read with this.
    """
    own = getattr(cls, "from_doc", None)
    if own is not None:
        found: T = own(doc)
        return found
    reads = _form(cls).reads
    values: dict[str, Any] = {}
    for alias, value in doc.items():
        known = reads.get(alias)
        if known is not None:
            name, read = known
            values[name] = value if read is None or value is None else read(value)
    return cls(**values)


def to_doc(obj: Any, *, exclude_defaults: bool = False) -> dict[str, Any]:
    """The JSON form of a dataclass of this module (camelCase names)."""
    doc: dict[str, Any] = {}
    for f in _form(type(obj)).fields:
        value = getattr(obj, f.name)
        if exclude_defaults and value == f.default:
            continue
        write = f.write
        doc[f.alias] = value if write is None or value is None else write(value, exclude_defaults)
    return doc


def has_secret(obj: Any) -> bool:
    """True when the JSON form of ``obj`` holds something ``redact.redact_tree``
    would mask: a value under a secret-looking name (``secretAccessKey``, an
    ``env`` entry named ``DB_PASSWORD``...)."""
    for f in _form(type(obj)).secrets:
        value = getattr(obj, f.name)
        if isinstance(value, str):
            if is_secret(f.alias, value):
                return True
        elif isinstance(value, dict):
            for key, item in value.items():
                if is_secret(str(key), item):
                    return True
        elif isinstance(value, tuple):
            for item in value:
                if dataclasses.is_dataclass(item):
                    if has_secret(item):
                        return True
                elif is_secret(f.alias, item):
                    return True
        elif dataclasses.is_dataclass(value) and has_secret(value):
            return True
    return False
