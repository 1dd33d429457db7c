"""From a parsed document to the model: validation (``validation.py``), then the
checks a type cannot express (``checks.py``, and each fabric's section's own).

A cluster config's fabric sections are found through the fabric registry: each is
validated with its fabric's section type, imported only when the data has it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from dataflow_runner.config import checks, dataflow
from dataflow_runner.config.model import (
    ClusterConfig,
    ClusterData,
    Playbook,
    PlaybookData,
    SnowplowPlaybook,
    Step,
    StepType,
)
from dataflow_runner.config.validation import (
    describe,
    join_path,
    quoted_choices,
    raise_all,
    validate,
)
from dataflow_runner.errors import ConfigError
from dataflow_runner.fabrics import registry

# A step id derived from a name is cut to this length, leaving room for the
# suffix that makes it unique (ids are file names: at most 128 characters).
_SLUG_MAX = 120


# --- cluster configs ---------------------------------------------------------------


def native_cluster(data: Any, path: str, uri: str, notes: list[str]) -> ClusterConfig:
    """``iglu:dev.dataflowrunner/ClusterConfig/jsonschema/1-0-0`` data: the fields of
    :class:`ClusterData`, and each fabric's section under the fabric's name."""
    names = registry.names()
    head, errors = validate(
        ClusterData,
        {k: v for k, v in data.items() if k not in names},
        file=path,
        root="$.data",
        closed=True,
    )
    fabric = data.get("fabric", registry.DEFAULT)
    if isinstance(fabric, str) and fabric not in names:
        errors.append(
            ConfigError(
                f"expected one of {quoted_choices(names)}, got {describe(fabric)}",
                file=path,
                path="$.data.fabric",
            )
        )
    sections: dict[str, msgspec.Struct] = {}
    for name in names:
        if data.get(name) is None:  # absent, or null
            continue
        here = join_path("$.data", name)
        section, found = validate(
            registry.section_type(name), data[name], file=path, root=here, closed=True
        )
        errors.extend(found)
        if section is not None:
            sections[name] = section
    if errors or head is None:
        raise_all(errors)
        raise AssertionError("unreachable")
    if head.fabric not in sections:
        sections[head.fabric] = _default_section(head.fabric, path)
    # A section's name (the EMR cluster's) is the config's unless it gives its own.
    sections = {
        name: msgspec.structs.replace(s, name=head.name) if getattr(s, "name", None) == "" else s
        for name, s in sections.items()
    }
    for name, section in sections.items():
        check = getattr(section, "check", None)
        if check is not None:
            errors.extend(check(file=path, path=join_path("$.data", name)))
    raise_all(errors)
    return ClusterConfig(
        **msgspec.structs.asdict(head),
        sections=sections,
        schema_uri=uri,
        base_dir=str(Path(path).resolve().parent),
    )


def _default_section(fabric: str, path: str) -> msgspec.Struct:
    """The section of a fabric that the config leaves out: its defaults, when they
    make a valid section (the local fabric's); else the section is required."""
    kind = registry.section_type(fabric)
    section, _ = validate(kind, {}, file=path, root="$.data", closed=True)
    check = getattr(section, "check", None)
    if section is None or (check is not None and any(True for _ in check(file=path, path="$"))):
        raise ConfigError(
            f'an "{fabric}" section is required when the fabric is {fabric}',
            file=path,
            path=join_path("$.data", fabric),
        )
    default: msgspec.Struct = section
    return default


# --- playbooks ---------------------------------------------------------------------


def slug(name: str) -> str:
    """A step id derived from its name.

    >>> slug("Combine Months")
    'combine-months'
    """
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
        base = slug(name)[:_SLUG_MAX].strip("-") or f"step-{i + 1}"
        candidate, n = base, 2
        while candidate in taken:
            candidate, n = f"{base}-{n}", n + 1
        taken.add(candidate)
        ids.append(candidate)
    return ids


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0].split(".")[0]


def snowplow_playbook(data: Any, path: str, uri: str, notes: list[str]) -> Playbook:
    """``iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-*`` data:
    a serial playbook (EMR's queue), read as the Go tool reads it."""
    sp, errors = validate(SnowplowPlaybook, data, file=path, root="$.data", closed=False)
    if sp is None:
        raise_all(errors)
        raise AssertionError("unreachable")
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
    steps = tuple(
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
        for i, s in enumerate(sp.steps)
    )
    book = Playbook(
        name=os.path.splitext(os.path.basename(path))[0],
        region=sp.region,
        credentials=sp.credentials,
        steps=steps,
        tags=sp.tags,
        schema_uri=uri,
    )
    errors.extend(checks.playbook(book, file=path))
    raise_all(errors)
    return book


#: What schema 1-1-0 added to the playbook and to its steps (1-0-0 files refuse them).
ADDED_IN_1_1_0 = frozenset({"partitions", "params", "schedule"})
STEP_ADDED_IN_1_1_0 = frozenset(
    {"inputs", "outputs", "successMarker", "dependsOnPast", "waitForInputs"}
)


def _newer_fields(data: Any, path: str, uri: str) -> list[ConfigError]:
    """In a 1-0-0 playbook, the fields of 1-1-0 are unknown (with the way out)."""
    if not uri.endswith("/1-0-0") or not isinstance(data, dict):
        return []
    hint = f"unknown field in schema 1-0-0 (it is part of {uri[: -len('1-0-0')]}1-1-0)"
    found = [
        ConfigError(hint, file=path, path=join_path("$.data", key))
        for key in data
        if key in ADDED_IN_1_1_0
    ]
    steps = data.get("steps")
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if isinstance(step, dict):
            found += [
                ConfigError(hint, file=path, path=join_path(f"$.data.steps[{i}]", key))
                for key in step
                if key in STEP_ADDED_IN_1_1_0
            ]
    return found


def native_playbook(data: Any, path: str, uri: str, notes: list[str]) -> Playbook:
    """``iglu:dev.dataflowrunner/Playbook/jsonschema/1-*`` data: steps without an
    id get one from their name, and steps without a name their id as name; what a
    step reads of another's outputs makes it depend on that step."""
    newer = _newer_fields(data, path, uri)
    if newer:
        raise_all(newer)
    native, errors = validate(PlaybookData, data, file=path, root="$.data", closed=True)
    if native is None:
        raise_all(errors)
        raise AssertionError("unreachable")
    ids = _assign_ids((s.id, s.name) for s in native.steps)
    steps = tuple(
        s
        if s.id == ids[i] and s.name
        else msgspec.structs.replace(s, id=ids[i], name=s.name or ids[i])
        for i, s in enumerate(native.steps)
    )
    fields = msgspec.structs.asdict(native)
    fields.update(name=native.name or _stem(path), steps=steps)
    book = Playbook(**fields, schema_uri=uri)
    errors.extend(checks.playbook(book, file=path))
    if not errors:
        # What the steps read of each other's outputs orders them (once the ids
        # are known to be sound).
        inferred, found = dataflow.infer(book.steps, file=path)
        errors.extend(found)
        book = msgspec.structs.replace(book, steps=tuple(inferred))
    errors.extend(_data_checks(book, path))
    raise_all(errors)
    return book


def _data_checks(book: Playbook, path: str) -> list[ConfigError]:
    """The partitions' spec, the parameters' defaults of their types."""
    from dataflow_runner.config.params import check_default

    found: list[ConfigError] = []
    if book.partitions is not None:
        from dataflow_runner.data.partitions import Spec

        try:
            Spec.of(book.partitions)
        except ConfigError as exc:
            found.append(exc.with_file(path))
    if book.schedule is not None:
        from dataflow_runner.data.cron import check_schedule

        found.extend(e.with_file(path) for e in check_schedule(book.schedule, book.partitions))
    for name, param in book.params.items():
        problem = check_default(name, param, file=path, path=f"$.data.params.{name}.default")
        if problem is not None:
            found.append(problem)
    return found
