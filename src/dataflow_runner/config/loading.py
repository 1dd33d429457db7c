"""Loading config files: read → render (Go template) → parse → choose the
model by the ``schema`` URI → validate → check → typed, immutable model.

>>> from dataflow_runner.config.loading import load_playbook  # doctest: +SKIP
>>> load_playbook("playbook.json", {"bucket": "my-bucket"}).steps[0].name  # doctest: +SKIP
'Combine Months'

Every problem is a :class:`~dataflow_runner.errors.ConfigError` naming the
file and the line or JSON path; when several are found in one pass they are
raised together as :class:`~dataflow_runner.errors.ConfigErrors`.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from dataflow_runner.config import checks
from dataflow_runner.config.models import (
    ClusterConfig,
    NativeCluster,
    NativePlaybook,
    Playbook,
    SnowplowPlaybook,
    Step,
    StepType,
)
from dataflow_runner.config.redact import SECRETS
from dataflow_runner.config.validation import from_validation_error, unknown_fields
from dataflow_runner.errors import ConfigError, ConfigErrors, FlagError

log = logging.getLogger("dataflow_runner.config")

Kind = Literal["cluster", "playbook"]
Family = Literal["snowplow", "native"]
M = TypeVar("M", bound=BaseModel)

SNOWPLOW_VENDOR = "com.snowplowanalytics.dataflowrunner"
NATIVE_VENDOR = "dev.dataflowrunner"
CLUSTER_SCHEMA = f"iglu:{NATIVE_VENDOR}/ClusterConfig/jsonschema/1-0-0"
PLAYBOOK_SCHEMA = f"iglu:{NATIVE_VENDOR}/Playbook/jsonschema/1-0-0"

_IGLU = re.compile(
    r"^iglu:(?P<vendor>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_-]+)/"
    r"(?P<format>[a-z]+)/(?P<model>[1-9][0-9]*)-(?P<rev>[0-9]+)-(?P<add>[0-9]+)$"
)


@dataclass(frozen=True)
class SchemaKind:
    kind: Kind
    family: Family
    known: tuple[str, ...]  # the versions this tool was written against


SCHEMAS: dict[tuple[str, str, str, str], SchemaKind] = {
    (SNOWPLOW_VENDOR, "ClusterConfig", "avro", "1"): SchemaKind(
        "cluster", "snowplow", ("1-0-0", "1-1-0")
    ),
    (SNOWPLOW_VENDOR, "PlaybookConfig", "avro", "1"): SchemaKind(
        "playbook", "snowplow", ("1-0-0", "1-0-1")
    ),
    (NATIVE_VENDOR, "ClusterConfig", "jsonschema", "1"): SchemaKind(
        "cluster", "native", ("1-0-0",)
    ),
    (NATIVE_VENDOR, "Playbook", "jsonschema", "1"): SchemaKind("playbook", "native", ("1-0-0",)),
}


# --- --vars ------------------------------------------------------------------------


def parse_vars(text: str | None) -> dict[str, str]:
    """``k1,v1,k2,v2`` → ``{"k1": "v1", "k2": "v2"}``, exactly as the Go tool splits it.

    >>> parse_vars("region,eu-west-1,bucket,b")
    {'region': 'eu-west-1', 'bucket': 'b'}
    """
    if not text:
        return {}
    parts = text.split(",")
    if len(parts) % 2:
        raise FlagError("--vars must have an even number of keys and values")
    return dict(zip(parts[::2], parts[1::2], strict=True))


# --- read, render, parse -----------------------------------------------------------


def read_text(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except IsADirectoryError:
        raise ConfigError("cannot read the file: it is a directory", file=path) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read the file: {reason}", file=path) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("the file is not UTF-8 text", file=path, line=line) from None


def render(text: str, path: str, variables: Mapping[str, str]) -> str:
    """Run the text through the Go template subset (template name = base name)."""
    if "{{" not in text:
        return text  # most configs: no need to even load the template engine
    from dataflow_runner.config import gotemplate

    try:
        return gotemplate.render(text, os.path.basename(path), variables)
    except ConfigError as exc:
        raise exc.with_file(path) from None


def _is_yaml(path: str) -> bool:
    name = os.path.basename(path).lower()
    return any(f".{ext}" in name for ext in ("yaml", "yml"))


def parse(text: str, path: str) -> Any:
    """JSON, or YAML for ``.yaml``/``.yml`` files (this project's own formats)."""
    if _is_yaml(path):
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            return yaml.load(text, Loader=loader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(
                f"invalid YAML: {problem}",
                file=path,
                line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None,
            ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = exc.msg[0].lower() + exc.msg[1:]
        raise ConfigError(
            f"invalid JSON: {msg}", file=path, line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise ConfigError("invalid JSON: nested too deeply", file=path) from None


# --- self-describing records -------------------------------------------------------


def _schema_kind(doc: Any, path: str, want: Kind) -> tuple[str, SchemaKind]:
    if not isinstance(doc, dict):
        got = "an array" if isinstance(doc, list) else json.dumps(doc)[:40]
        raise ConfigError(
            f'expected an object with "schema" and "data", got {got}', file=path, path="$"
        )
    uri = doc.get("schema")
    if not isinstance(uri, str):
        raise ConfigError(
            'a value is required: the iglu URI of the format, e.g. "'
            + (CLUSTER_SCHEMA if want == "cluster" else PLAYBOOK_SCHEMA)
            + '"',
            file=path,
            path="$.schema",
        )
    m = _IGLU.match(uri.strip())
    found = m and SCHEMAS.get((m["vendor"], m["name"], m["format"], m["model"]))
    if not m or not found:
        known = ", ".join(
            f"iglu:{v}/{n}/{f}/{k.known[-1]}"
            for (v, n, f, _), k in SCHEMAS.items()
            if k.kind == want
        )
        raise ConfigError(
            f'unknown schema "{uri}"; expected one of {known}', file=path, path="$.schema"
        )
    if found.kind != want:
        raise ConfigError(
            f"this is a {found.kind} config, but a {want} config was expected here"
            f" (check the order of --emr-config and --emr-playbook)",
            file=path,
            path="$.schema",
        )
    version = f"{m['model']}-{m['rev']}-{m['add']}"
    if version not in found.known:
        log.warning(
            "%s: schema version %s is newer than the ones this tool knows (%s); reading it as %s",
            path,
            version,
            ", ".join(found.known),
            found.known[-1],
        )
    if "data" not in doc or doc["data"] is None:
        raise ConfigError("a value is required: the config itself", file=path, path="$.data")
    if not isinstance(doc["data"], dict):
        raise ConfigError(
            f"expected an object, got {json.dumps(doc['data'])[:40]}", file=path, path="$.data"
        )
    return uri, found


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


def load_document(path: str, variables: Mapping[str, str]) -> Any:
    """Read, render and parse a config file (no validation)."""
    return parse(render(read_text(path), path, variables), path)


# --- cluster configs ---------------------------------------------------------------


def load_cluster(path: str, variables: Mapping[str, str]) -> ClusterConfig:
    """Load and validate a cluster config (Snowplow's or this project's format)."""
    doc = load_document(path, variables)
    uri, kind = _schema_kind(doc, path, "cluster")
    data = doc["data"]
    if kind.family == "snowplow":
        from dataflow_runner.config.emr_models import EmrCluster

        emr, errors = _validate(EmrCluster, data, path, strict_fields=False)
        if emr is not None:
            errors.extend(checks.emr_cluster(emr, file=path, path="$.data"))
        _raise(errors)
        assert emr is not None
        config = ClusterConfig(name=emr.name, fabric="emr", emr=emr, schema_uri=uri)
    else:
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
        if native is not None and not errors:
            config = ClusterConfig(
                name=native.name, fabric=native.fabric, local=native.local, emr=emr, schema_uri=uri
            )
            errors.extend(checks.cluster(config, file=path, emr_path="$.data.emr"))
        _raise(errors)
    _register_secrets(
        config.emr.credentials.secret_access_key if config.emr else "",
        config.emr.credentials.access_key_id if config.emr else "",
    )
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


def _snowplow_playbook(data: Any, path: str, uri: str) -> Playbook:
    sp, errors = _validate(SnowplowPlaybook, data, path, strict_fields=False)
    if sp is None:
        _raise(errors)
    assert sp is not None
    for i, s in enumerate(sp.steps):
        errors.extend(
            checks.action_on_failure(s.action_on_failure, file=path, path=f"$.data.steps[{i}]")
        )
        if s.type and s.type != "CUSTOM_JAR":
            log.warning(
                "%s: $.data.steps[%d].type: %r is run as CUSTOM_JAR, as the Go tool does",
                path,
                i,
                s.type,
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
        credentials=sp.credentials,
        steps=tuple(steps),
        tags=sp.tags,
        schema_uri=uri,
        name=os.path.splitext(os.path.basename(path))[0],
    )
    errors.extend(checks.playbook(book, file=path))
    _raise(errors)
    return book


def _native_playbook(data: Any, path: str, uri: str) -> Playbook:
    native, errors = _validate(NativePlaybook, data, path, strict_fields=True)
    if native is None:
        _raise(errors)
    assert native is not None
    ids = _assign_ids((s.id, s.name) for s in native.steps)
    steps = tuple(
        s.model_copy(update={"id": ids[i], "name": s.name or ids[i]})
        for i, s in enumerate(native.steps)
    )
    book = Playbook(
        name=native.name or os.path.splitext(os.path.basename(path))[0].split(".")[0],
        region=native.region,
        credentials=native.credentials,
        concurrency=native.concurrency,
        steps=steps,
        tags=native.tags,
        schema_uri=uri,
    )
    errors.extend(checks.playbook(book, file=path))
    _raise(errors)
    return book


def load_playbook(path: str, variables: Mapping[str, str]) -> Playbook:
    """Load and validate a playbook (Snowplow's or this project's format)."""
    doc = load_document(path, variables)
    uri, kind = _schema_kind(doc, path, "playbook")
    loader: Callable[[Any, str, str], Playbook] = (
        _snowplow_playbook if kind.family == "snowplow" else _native_playbook
    )
    book = loader(doc["data"], path, uri)
    _register_secrets(book.credentials.secret_access_key, book.credentials.access_key_id)
    return book


def _register_secrets(*values: str) -> None:
    for v in values:
        SECRETS.add(v)
