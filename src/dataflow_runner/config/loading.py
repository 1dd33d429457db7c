"""Loading config files: read → render (Go template) → parse → choose the
model by the ``schema`` URI → validate → check (``build.py``) → typed, immutable
objects (``spec.py``).

A file that renders to a text already validated by this code can be read back
from the cache of validated configs (``cache.py``) instead: the commands that run
something pass one, so a rerun does not pay for importing and building the
validators. ``validate`` always validates, and leaves what it validated in the cache
for the commands that follow it (the dry run and the run of the same text).

>>> from dataflow_runner.config.loading import load_playbook  # doctest: +SKIP
>>> load_playbook("playbook.json", {"bucket": "my-bucket"}).steps[0].name  # doctest: +SKIP
'Combine Months'

Every problem is a :class:`~dataflow_runner.errors.ConfigError` naming the
file and the line or JSON path; when several are found in one pass they are
raised together as :class:`~dataflow_runner.errors.ConfigErrors`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from dataflow_runner.config.redact import SECRETS
from dataflow_runner.config.spec import ClusterConfig, Playbook, from_doc, has_secret, to_doc
from dataflow_runner.errors import ConfigError, FlagError

if TYPE_CHECKING:
    from dataflow_runner.config.cache import ConfigCache

T = TypeVar("T")

log = logging.getLogger("dataflow_runner.config")

Kind = Literal["cluster", "playbook"]
Family = Literal["snowplow", "native"]

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
    from dataflow_runner.config import template

    try:
        return template.render(text, os.path.basename(path), variables)
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


def _schema_kind(doc: Any, path: str, want: Kind, notes: list[str]) -> tuple[str, SchemaKind]:
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
        notes.append(
            f"{path}: schema version {version} is newer than the ones this tool knows"
            f" ({', '.join(found.known)}); reading it as {found.known[-1]}"
        )
    if "data" not in doc or doc["data"] is None:
        raise ConfigError("a value is required: the config itself", file=path, path="$.data")
    if not isinstance(doc["data"], dict):
        raise ConfigError(
            f"expected an object, got {json.dumps(doc['data'])[:40]}", file=path, path="$.data"
        )
    return uri, found


def load_document(path: str, variables: Mapping[str, str]) -> Any:
    """Read, render and parse a config file (no validation)."""
    return parse(render(read_text(path), path, variables), path)


def _load(
    kind: Kind,
    path: str,
    variables: Mapping[str, str],
    cache: ConfigCache | None,
    build: Callable[[Any, str, str, SchemaKind, list[str]], tuple[T, dict[str, Any] | None]],
    read: Callable[[dict[str, Any]], T],
    write: Callable[[T, dict[str, Any] | None], dict[str, Any] | None],
    reuse: bool = True,
) -> T:
    """Read and render the file, then either reuse its validated form from ``cache``
    (same rendered text, same code: no pydantic at all) or parse and ``build`` it.
    The warnings of validation are kept with the cached form and shown again.

    ``build`` gives the value and, when it has one at hand, its JSON form; ``write``
    gives the form to cache (None: not cacheable, e.g. it holds a secret), ``read``
    reads it back; ``reuse=False`` validates whatever the cache holds, and
    still stores the result.
    """
    text = render(read_text(path), path, variables)
    with _gc_paused():
        if cache is not None and reuse:
            hit = cache.get(kind, path, text)
            if hit is not None:
                try:
                    cached = read(hit.doc)
                except (KeyError, TypeError, ValueError) as exc:  # not what put wrote
                    log.debug("ignoring a cached %s of %s: %s", kind, path, exc)
                else:
                    for note in hit.notes:
                        log.warning("%s", note)
                    return cached
        notes: list[str] = []
        try:
            doc = parse(text, path)
            uri, found = _schema_kind(doc, path, kind, notes)
            value, form = build(doc["data"], path, uri, found, notes)
        finally:
            for note in notes:
                log.warning("%s", note)
        if cache is not None:
            stored = write(value, form)
            if stored is not None:
                cache.put(kind, path, text, stored, notes)
        return value


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a document is turned into objects: it
    makes no cycles, and the collector's passes over the growing number of live
    objects cost more than the work itself for large playbooks (a third of it at
    10,000 steps). Memory is still freed by reference counting."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- cluster configs ---------------------------------------------------------------


def _cluster_doc(config: ClusterConfig, _form: dict[str, Any] | None) -> dict[str, Any] | None:
    # Never anything secret on disk; nor an EMR section (reading it back needs its
    # pydantic model anyway).
    if config.emr is not None or has_secret(config.local):
        return None
    return config.to_doc()


def _build_cluster(
    data: Any, path: str, uri: str, found: SchemaKind, notes: list[str]
) -> tuple[ClusterConfig, None]:
    from dataflow_runner.config import build

    if found.family == "snowplow":
        return build.snowplow_cluster(data, path, uri), None
    return build.native_cluster(data, path, uri), None


def load_cluster(
    path: str,
    variables: Mapping[str, str],
    *,
    cache: ConfigCache | None = None,
    reuse: bool = True,
) -> ClusterConfig:
    """Load and validate a cluster config (Snowplow's or this project's format).

    ``cache``: reuse the validated form of a file rendered to the same text before
    (``reuse=False``: only store it there).
    """
    config = _load(
        "cluster",
        path,
        variables,
        cache,
        _build_cluster,
        ClusterConfig.from_doc,
        _cluster_doc,
        reuse,
    )
    # This project's configs resolve relative paths from their own directory; a
    # Snowplow config, from the working directory.
    base = os.path.dirname(path) if NATIVE_VENDOR in config.schema_uri else "."
    config = dataclasses.replace(config, base_dir=os.path.abspath(base))
    _register_secrets(
        config.emr.credentials.secret_access_key if config.emr else "",
        config.emr.credentials.access_key_id if config.emr else "",
    )
    return config


# --- playbooks ---------------------------------------------------------------------


def _read_playbook(doc: dict[str, Any]) -> Playbook:
    return from_doc(Playbook, doc)


def _book_doc(book: Playbook, form: dict[str, Any] | None) -> dict[str, Any] | None:
    # Never anything secret on disk; defaults left out (from_doc fills them in). The
    # form validation built the playbook from, when there is one, is that already.
    if has_secret(book):
        return None
    return form if form is not None else to_doc(book, exclude_defaults=True)


def _build_playbook(
    data: Any, path: str, uri: str, found: SchemaKind, notes: list[str]
) -> tuple[Playbook, dict[str, Any] | None]:
    from dataflow_runner.config import build

    if found.family == "snowplow":
        return build.snowplow_playbook(data, path, uri, notes), None
    return build.native_playbook(data, path, uri)


def load_playbook(
    path: str,
    variables: Mapping[str, str],
    *,
    cache: ConfigCache | None = None,
    reuse: bool = True,
) -> Playbook:
    """Load and validate a playbook (Snowplow's or this project's format).

    ``cache``: reuse the validated form of a file rendered to the same text before
    (``reuse=False``: only store it there).
    """
    book = _load(
        "playbook", path, variables, cache, _build_playbook, _read_playbook, _book_doc, reuse
    )
    _register_secrets(book.credentials.secret_access_key, book.credentials.access_key_id)
    return book


def _register_secrets(*values: str) -> None:
    for v in values:
        SECRETS.add(v)
