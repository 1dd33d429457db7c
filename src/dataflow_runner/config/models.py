"""The pydantic models that validate cluster configs and playbooks as read.

Two families of input formats are accepted (see ``loading.py``):

* Snowplow's self-describing Avro records (ClusterConfig 1-0-0/1-1-0,
  PlaybookConfig 1-0-0/1-0-1), read with the Go tool's leniency: unknown
  fields are ignored, ``null`` or missing optional fields take zero values.
* This project's own formats (``iglu:dev.dataflowrunner/...``), where unknown
  fields are errors (``checks.unknown_fields``), since a typo there should not
  silently change a run.

Both are normalised (``build.py``) into ``spec.ClusterConfig`` and ``spec.Playbook``,
plain dataclasses, which is what the rest of the tool consumes; the models here
mirror their fields (a test keeps the two in step) and add what validation needs:
strict scalars, bounds, aliases. Field names are snake_case in Python and
camelCase in files (the aliases), so error paths read like the file.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator
from pydantic.alias_generators import to_camel

from dataflow_runner.config.spec import (
    ActionOnFailure,
    CredentialMode,
    Fabric,
    StepType,
    credential_mode,
)

# Scalars are strict, as Go's JSON decoder is: "3" is not an integer, 1 is not a
# string. Containers stay lax so JSON arrays become immutable tuples.
Str = Annotated[str, Strict()]
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Float = Annotated[float, Strict()]


def _drop_nulls(data: Any) -> Any:
    """Go's JSON decoder gives ``null`` fields their zero value: dropping them
    lets each field's default (its zero value) apply."""
    if isinstance(data, dict) and None in data.values():  # copied only when needed
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
    def mode(self) -> CredentialMode:
        return credential_mode(self.access_key_id, self.secret_access_key)


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


# --- playbook ----------------------------------------------------------------------


class RetryPolicy(Model):
    """How often a failed step is tried again before it counts as failed."""

    count: Int = Field(0, ge=0, le=100)
    delay_seconds: Float = Field(5.0, ge=0)
    backoff: Float = Field(2.0, ge=1)
    max_delay_seconds: Float = Field(300.0, ge=0)


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
