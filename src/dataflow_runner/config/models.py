"""Typed, immutable models of cluster configs and playbooks.

Two families of input formats are accepted (see ``loading.py``):

* Snowplow's self-describing Avro records (ClusterConfig 1-0-0/1-1-0,
  PlaybookConfig 1-0-0/1-0-1), read with the Go tool's leniency: unknown
  fields are ignored, ``null`` or missing optional fields take zero values.
* This project's own formats (``iglu:dev.dataflowrunner/...``), where unknown
  fields are errors (``checks.unknown_fields``), since a typo there should not
  silently change a run.

Both are normalised into :class:`ClusterConfig` and :class:`Playbook`, which is
what the rest of the tool consumes. Field names are snake_case in Python and
camelCase in files (the aliases), so error paths read like the file.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from dataflow_runner.config.emr_models import EmrCluster

# Scalars are strict, as Go's JSON decoder is: "3" is not an integer, 1 is not a
# string. Containers stay lax so JSON arrays become immutable tuples.
Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Float = Annotated[float, Strict()]

# The credential values with a special meaning (anything else is a static key).
CREDENTIAL_MODES = ("env", "iam", "default")


def _drop_nulls(data: Any) -> Any:
    """Go's JSON decoder gives ``null`` fields their zero value: dropping them
    lets each field's default (its zero value) apply."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if v is not None}
    return data


class Model(BaseModel):
    """Base of the lenient (Snowplow) models: unknown fields ignored, nulls as zero values."""

    model_config = ConfigDict(
        frozen=True,
        defer_build=True,
        extra="ignore",
        alias_generator=to_camel,
        populate_by_name=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_zero_values(cls, data: Any) -> Any:
        return _drop_nulls(data)


# --- shared pieces -----------------------------------------------------------------


class Credentials(Model):
    """AWS credentials as the Go tool reads them.

    Both ``env``: AWS environment variables; both ``iam``: the EC2 instance role;
    both ``default`` (or both absent): the SDK's default chain; anything else:
    static keys. The secret never appears in a repr.
    """

    access_key_id: Str = ""
    secret_access_key: Str = Field("", repr=False)

    @property
    def mode(self) -> Literal["env", "iam", "default", "static"]:
        a, s = self.access_key_id, self.secret_access_key
        for mode in ("env", "iam", "default"):
            if a == mode and s == mode:
                return mode
        if not a and not s:
            return "default"
        return "static"


class Tag(Model):
    key: Str
    value: Str = ""


# --- local cluster -----------------------------------------------------------------


class LocalSpark(Model):
    master: Str = "local[*]"
    conf: dict[str, Str] = {}


class LocalCluster(Model):
    """The local fabric: steps run on this machine."""

    concurrency: Int | None = Field(None, ge=1)
    work_dir: Str = "."
    env: dict[str, Str] = {}
    path_mappings: dict[str, Str] = {}
    spark: LocalSpark = LocalSpark()


Fabric = Literal["local", "emr"]


@dataclass(frozen=True)
class ClusterConfig:
    """Where a playbook runs: the fabric and its machine settings.

    A plain dataclass (built by the loader from validated parts), so that the
    EMR models are imported only when a config has an EMR section.
    """

    name: str
    fabric: Fabric
    local: LocalCluster = field(default_factory=LocalCluster)
    emr: EmrCluster | None = None
    schema_uri: str = ""

    def to_doc(self) -> dict[str, Any]:
        """JSON-able form (``from_doc`` reads it back)."""
        doc: dict[str, Any] = {
            "name": self.name,
            "fabric": self.fabric,
            "schemaUri": self.schema_uri,
            "local": self.local.model_dump(mode="json", by_alias=True),
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
            local=LocalCluster.model_validate(doc.get("local") or {}),
            emr=emr,
        )


# --- playbook ----------------------------------------------------------------------


class StepType(enum.StrEnum):
    CUSTOM_JAR = "CUSTOM_JAR"
    COMMAND = "COMMAND"
    SCRIPT = "SCRIPT"
    SPARK = "SPARK"


ActionOnFailure = Literal["CANCEL_AND_WAIT", "CONTINUE"]
ACTIONS_ON_FAILURE: tuple[str, ...] = ("CANCEL_AND_WAIT", "CONTINUE")


class RetryPolicy(Model):
    """How often a failed step is tried again before it counts as failed."""

    count: Int = Field(0, ge=0, le=100)
    delay_seconds: Float = Field(5.0, ge=0)
    backoff: Float = Field(2.0, ge=1)
    max_delay_seconds: Float = Field(300.0, ge=0)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt`` (2 = the first retry)."""
        return float(
            min(self.max_delay_seconds, self.delay_seconds * self.backoff ** (attempt - 2))
        )


class Step(Model):
    """One unit of work. Which fields apply depends on ``type``."""

    id: Str = ""
    name: Str = ""
    type: StepType = StepType.CUSTOM_JAR
    action_on_failure: ActionOnFailure = "CANCEL_AND_WAIT"
    depends_on: tuple[Str, ...] = ()
    # Order-only edges: wait for these to finish, whatever their outcome. Serial
    # (Snowplow) playbooks chain their steps this way, which keeps EMR's queue
    # semantics: after a CONTINUE failure, the next step still runs.
    after: tuple[Str, ...] = ()
    retries: RetryPolicy = RetryPolicy()
    timeout_seconds: Float | None = Field(None, gt=0)
    env: dict[str, Str] = {}
    # CUSTOM_JAR
    jar: Str = ""
    arguments: tuple[Str, ...] = ()
    # COMMAND
    command: tuple[Str, ...] = ()
    # SCRIPT / SPARK
    script: Str = ""
    args: tuple[Str, ...] = ()
    # SPARK
    application: Str = ""
    main_class: Str = Field("", alias="class")
    conf: dict[str, Str] = {}
    py_files: tuple[Str, ...] = ()
    packages: tuple[Str, ...] = ()

    @field_validator("retries", mode="before")
    @classmethod
    def _retries_count(cls, value: Any) -> Any:
        # ``"retries": 2`` is short for ``{"count": 2}``.
        if isinstance(value, int) and not isinstance(value, bool):
            return {"count": value}
        return value

    @property
    def upstream(self) -> tuple[str, ...]:
        """Every step this one waits for."""
        return self.depends_on + self.after


class Playbook(Model):
    """What to run: the steps, their order or dependencies."""

    name: Str = ""
    region: Str = ""
    credentials: Credentials = Credentials()
    concurrency: Int | None = Field(None, ge=1)
    steps: tuple[Step, ...] = ()
    tags: tuple[Tag, ...] = ()
    schema_uri: Str = ""

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


# --- input records -----------------------------------------------------------------


class SnowplowStep(Model):
    """A step of Snowplow's PlaybookConfig (``type`` is CUSTOM_JAR in practice)."""

    type: Str = ""
    name: Str = ""
    action_on_failure: Str = ""
    jar: Str = ""
    arguments: tuple[Str, ...] = ()


class SnowplowPlaybook(Model):
    region: Str = ""
    credentials: Credentials = Credentials()
    steps: tuple[SnowplowStep, ...] = ()
    tags: tuple[Tag, ...] = ()


class NativeCluster(Model):
    """``iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0`` data (its ``emr``
    section is validated apart, with ``emr_models.EmrCluster``, when present)."""

    name: Str
    fabric: Fabric = "local"
    description: Str = ""
    local: LocalCluster = LocalCluster()
    emr: dict[str, Any] | None = None


class NativePlaybook(Model):
    """``iglu:dev.dataflowrunner/Playbook/jsonschema/1-0-0`` data."""

    name: Str = ""
    description: Str = ""
    region: Str = ""
    credentials: Credentials = Credentials()
    concurrency: Int | None = Field(None, ge=1)
    steps: tuple[Step, ...] = ()
    tags: tuple[Tag, ...] = ()
