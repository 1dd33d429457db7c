"""From a parsed document to validated, immutable :mod:`~dataflow_runner.config.spec`
objects: pydantic validation (``models.py``), then the checks a model cannot
express (``checks.py``).

This is the only place pydantic runs on the way to a run; ``loading.py`` imports it
when a document is not in the cache of validated configs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from dataflow_runner.config import checks
from dataflow_runner.config.models import NativeCluster, NativePlaybook, SnowplowPlaybook
from dataflow_runner.config.spec import (
    ClusterConfig,
    Credentials,
    LocalCluster,
    Playbook,
    Step,
    StepType,
    Tag,
    from_doc,
)
from dataflow_runner.config.validation import from_validation_error, unknown_fields
from dataflow_runner.errors import ConfigError, ConfigErrors

M = TypeVar("M", bound=BaseModel)


def _validate(
    model: type[M], data: Any, path: str, *, strict_fields: bool, root: tuple[str, ...] = ("data",)
) -> tuple[M | None, list[ConfigError]]:
    errors: list[ConfigError] = []
    if strict_fields:
        errors.extend(unknown_fields(model, data, file=path, path="$." + ".".join(root)))
    try:
        return model.model_validate(data), errors
    except ValidationError as exc:
        errors.extend(from_validation_error(exc, data, file=path, root=root))
        return None, errors


def _raise(errors: Iterable[ConfigError]) -> None:
    found = list(errors)
    if len(found) == 1:
        raise found[0]
    if found:
        raise ConfigErrors(found)


# --- cluster configs ---------------------------------------------------------------


def snowplow_cluster(data: Any, path: str, uri: str) -> ClusterConfig:
    from dataflow_runner.config.emr_models import EmrCluster

    emr, errors = _validate(EmrCluster, data, path, strict_fields=False)
    if emr is not None:
        errors.extend(checks.emr_cluster(emr, file=path, path="$.data"))
    _raise(errors)
    assert emr is not None
    return ClusterConfig(name=emr.name, fabric="emr", emr=emr, schema_uri=uri)


def native_cluster(data: Any, path: str, uri: str) -> ClusterConfig:
    native, errors = _validate(NativeCluster, data, path, strict_fields=True)
    emr = None
    if native is not None and native.emr is not None:
        from dataflow_runner.config.emr_models import EmrCluster

        emr, emr_errors = _validate(
            EmrCluster, native.emr, path, strict_fields=True, root=("data", "emr")
        )
        errors.extend(emr_errors)
        if emr is not None and not emr.name:
            emr = emr.model_copy(update={"name": native.name})
    config = None
    if native is not None and not errors:
        config = ClusterConfig(
            name=native.name,
            fabric=native.fabric,
            local=from_doc(LocalCluster, native.local.model_dump(mode="json", by_alias=True)),
            emr=emr,
            schema_uri=uri,
        )
        errors.extend(checks.cluster(config, file=path, emr_path="$.data.emr"))
    _raise(errors)
    assert config is not None
    return config


# --- playbooks ---------------------------------------------------------------------


def slug(name: str) -> str:
    """A step id derived from its name: ``"Combine Months"`` → ``combine-months``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _assign_ids(names: Iterable[tuple[str, str]]) -> list[str]:
    """Ids for steps given as (explicit id, name): explicit ids are kept, the others
    derived from the name and made unique with a numeric suffix."""
    pairs = list(names)
    taken = {given for given, _ in pairs if given}
    ids: list[str] = []
    for i, (given, name) in enumerate(pairs):
        if given:
            ids.append(given)
            continue
        base = slug(name) or f"step-{i + 1}"
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate)
        ids.append(candidate)
    return ids


def snowplow_playbook(data: Any, path: str, uri: str, notes: list[str]) -> Playbook:
    sp, errors = _validate(SnowplowPlaybook, data, path, strict_fields=False)
    if sp is None:
        _raise(errors)
    assert sp is not None
    for i, s in enumerate(sp.steps):
        errors.extend(
            checks.action_on_failure(s.action_on_failure, file=path, path=f"$.data.steps[{i}]")
        )
        if s.type and s.type != "CUSTOM_JAR":
            notes.append(
                f"{path}: $.data.steps[{i}].type: {s.type!r} is run as CUSTOM_JAR,"
                " as the Go tool does"
            )
    ids = _assign_ids(("", s.name) for s in sp.steps)
    steps = []
    for i, s in enumerate(sp.steps):
        steps.append(
            Step(
                id=ids[i],
                name=s.name,
                type=StepType.CUSTOM_JAR,
                action_on_failure="CONTINUE"
                if s.action_on_failure == "CONTINUE"
                else "CANCEL_AND_WAIT",
                # EMR runs a playbook's steps one after the other, whatever the outcome.
                after=(ids[i - 1],) if i else (),
                jar=s.jar,
                arguments=s.arguments,
            )
        )
    book = Playbook(
        region=sp.region,
        credentials=Credentials(sp.credentials.access_key_id, sp.credentials.secret_access_key),
        steps=tuple(steps),
        tags=tuple(Tag(t.key, t.value) for t in sp.tags),
        schema_uri=uri,
        name=os.path.splitext(os.path.basename(path))[0],
    )
    errors.extend(checks.playbook(book, file=path))
    _raise(errors)
    return book


def native_playbook(data: Any, path: str, uri: str) -> tuple[Playbook, dict[str, Any]]:
    """The playbook, and the JSON form it was read from (what the cache of validated
    configs stores: :func:`~dataflow_runner.config.spec.from_doc` reads it back to an
    equal playbook)."""
    native, errors = _validate(NativePlaybook, data, path, strict_fields=True)
    if native is None:
        _raise(errors)
    assert native is not None
    ids = _assign_ids((s.id, s.name) for s in native.steps)
    # Defaults left out: fewer values to read back (from_doc fills them in).
    doc = native.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    for i, step in enumerate(doc.get("steps", ())):
        step["id"] = ids[i]
        step["name"] = step.get("name") or ids[i]
    doc.pop("description", None)
    doc["name"] = native.name or os.path.splitext(os.path.basename(path))[0].split(".")[0]
    doc["schemaUri"] = uri
    book = from_doc(Playbook, doc)
    errors.extend(checks.playbook(book, file=path))
    _raise(errors)
    return book, doc
