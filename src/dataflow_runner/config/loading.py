"""Loading config files: read → render (Go template) → parse → choose the
format by the ``schema`` URI → validate and check (``build.py``, or the reader a
fabric registers for its own format) → the model (``model.py``).

>>> from dataflow_runner.config.loading import load_playbook  # doctest: +SKIP
>>> load_playbook("playbook.json", {"bucket": "my-bucket"}).steps[0].name  # doctest: +SKIP
'Combine Months'

Every problem is a :class:`~dataflow_runner.errors.ConfigError` naming the
file and the line or JSON path; when several are found in one pass they are
raised together as :class:`~dataflow_runner.errors.ConfigErrors`. Nothing read is
trusted: a file must be a regular file under :data:`DEFAULT_MAX_SIZE` (or the
limit given), and whatever the parsers accept that no config can hold (NaN, a lone
surrogate, a YAML date where a string belongs...) is one line too, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from dataflow_runner.config.limits import DEFAULT_MAX_SIZE, RAISE_IT, size_text
from dataflow_runner.config.redact import register
from dataflow_runner.config.uris import (
    CLUSTER_SCHEMA,
    NATIVE_VENDOR,
    PLAYBOOK_SCHEMA,
    SNOWPLOW_VENDOR,
)
from dataflow_runner.config.validation import describe, join_path
from dataflow_runner.errors import ConfigError, FlagError

if TYPE_CHECKING:
    from dataflow_runner.config.model import ClusterConfig, Playbook
    from dataflow_runner.config.template import MissingKey

T = TypeVar("T")

log = logging.getLogger("dataflow_runner.config")

Kind = Literal["cluster", "playbook"]

#: The largest config file read (and template output rendered), in bytes.

_IGLU = re.compile(
    r"^iglu:(?P<vendor>[A-Za-z0-9_.-]+)/(?P<name>[A-Za-z0-9_-]+)/"
    r"(?P<format>[a-z]+)/(?P<model>[1-9][0-9]*)-(?P<rev>[0-9]+)-(?P<add>[0-9]+)$"
)
# A JSON or YAML escape of a UTF-16 surrogate: the parsers accept a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\(?:u[dD][89a-fA-F]|U0000[dD][89a-fA-F])")
_SURROGATE = re.compile("[\ud800-\udfff]")

Reader = Callable[[Any, str, str, list[str]], Any]


@dataclass(frozen=True)
class SchemaKind:
    """A config format: what it holds, the versions this tool was written against,
    its reader ``(data, path, uri, notes)``, and whether unknown fields are errors
    (this project's formats) or ignored (Snowplow's, as the Go tool does)."""

    kind: Kind
    known: tuple[str, ...]
    read: Reader
    closed: bool


def _build(name: str) -> Reader:
    def read(data: Any, path: str, uri: str, notes: list[str]) -> Any:
        from dataflow_runner.config import build

        return getattr(build, name)(data, path, uri, notes)

    return read


def _fabric_format(target: str) -> Reader:
    def read(data: Any, path: str, uri: str, notes: list[str]) -> Any:
        from dataflow_runner.fabrics import registry

        return registry.load(target)(data, path, uri)

    return read


def formats() -> dict[tuple[str, str, str, str], SchemaKind]:
    """Every format read, by (vendor, name, format, model): this project's own,
    Snowplow's playbook, and the cluster-config formats the fabrics register.

    >>> formats()[("dev.dataflowrunner", "Playbook", "jsonschema", "1")].kind
    'playbook'
    """
    from dataflow_runner.fabrics import registry

    found = {
        (SNOWPLOW_VENDOR, "PlaybookConfig", "avro", "1"): SchemaKind(
            "playbook", ("1-0-0", "1-0-1"), _build("snowplow_playbook"), closed=False
        ),
        (NATIVE_VENDOR, "ClusterConfig", "jsonschema", "1"): SchemaKind(
            "cluster", ("1-0-0",), _build("native_cluster"), closed=True
        ),
        (NATIVE_VENDOR, "Playbook", "jsonschema", "1"): SchemaKind(
            "playbook", ("1-0-0", "1-1-0"), _build("native_playbook"), closed=True
        ),
    }
    for _, fmt in registry.formats():
        key = (fmt.vendor, fmt.name, fmt.format, fmt.model)
        found[key] = SchemaKind("cluster", fmt.known, _fabric_format(fmt.reader), closed=False)
    return found


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


def _too_big(limit: int) -> str:
    return f"the file is larger than the limit of {size_text(limit)} ({RAISE_IT})"


_NOT_REGULAR = (
    (stat.S_ISDIR, "it is a directory"),
    (stat.S_ISFIFO, "it is a FIFO, not a regular file"),
    (stat.S_ISCHR, "it is a character device, not a regular file"),
    (stat.S_ISBLK, "it is a block device, not a regular file"),
    (stat.S_ISSOCK, "it is a socket, not a regular file"),
)


def read_text(path: str, max_size: int = DEFAULT_MAX_SIZE) -> str:
    """The text of a config file: a regular file of at most ``max_size`` bytes.

    Opened without blocking (a FIFO with no writer would block the open) and read
    to at most ``max_size + 1`` bytes, whatever its size said (it may grow).
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read the file: {reason}", file=path) from None
    try:
        st = os.fstat(fd)
        for test, why in _NOT_REGULAR:
            if test(st.st_mode):
                raise ConfigError(f"cannot read the file: {why}", file=path)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError("cannot read the file: it is not a regular file", file=path)
        if st.st_size > max_size:
            raise ConfigError(_too_big(max_size), file=path)
        chunks, left = [], max_size + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        raw = b"".join(chunks)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"cannot read the file: {reason}", file=path) from None
    finally:
        os.close(fd)
    if len(raw) > max_size:
        raise ConfigError(_too_big(max_size), file=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("the file is not UTF-8 text", file=path, line=line) from None


def render(
    text: str,
    path: str,
    variables: Mapping[str, str],
    *,
    max_output: int = DEFAULT_MAX_SIZE,
    missing_key: MissingKey = "error",
) -> str:
    """Run the text through the Go template subset (template name = base name).

    ``max_output`` is the limit on the rendered text, the file's own limit: the
    template package applies it while it renders, so a template that loops cannot
    fill the memory before anything is checked. ``missing_key="default"`` renders a
    variable that is not given as Go does by default (to read a playbook's own
    declarations before the variables they declare exist).
    """
    if "{{" not in text:
        return text  # most configs: no need to even load the template engine
    return ConfigTemplate(text, path, max_output=max_output, missing_key=missing_key).render(
        variables
    )


class ConfigTemplate:
    """A config file's text parsed once as a template, rendered as :func:`render`
    renders it for each set of variables given (a partitioned playbook: once per
    partition)."""

    def __init__(
        self,
        text: str,
        path: str,
        *,
        max_output: int = DEFAULT_MAX_SIZE,
        missing_key: MissingKey = "error",
    ) -> None:
        self.text, self.path = text, path
        self._template = None
        if "{{" not in text:
            return
        from dataflow_runner.config import template

        try:
            self._template = template.Template(
                text, os.path.basename(path), max_output=max_output, missing_key=missing_key
            )
        except ConfigError as exc:
            raise exc.with_file(path) from None

    def render(self, variables: Mapping[str, str]) -> str:
        if self._template is None:
            return self.text
        try:
            out = self._template.render(variables)
        except ConfigError as exc:
            raise exc.with_file(self.path) from None
        # Values passed with --vars keep the bytes of the command line that are not
        # UTF-8 as lone surrogates: no config may hold them.
        found = _SURROGATE.search(out)
        if found:
            line = out.count("\n", 0, found.start()) + 1
            raise ConfigError("the rendered text is not UTF-8 text", file=self.path, line=line)
        return out


def _is_yaml(path: str) -> bool:
    name = os.path.basename(path).lower()
    # A Python playbook's text, once run, is its YAML form.
    return any(f".{ext}" in name for ext in ("yaml", "yml")) or is_python(path)


def is_python(path: str) -> bool:
    """A Python playbook (``dataflow_runner.dsl``): a ``.py`` file.

    >>> is_python("pipelines/hourly.py"), is_python("playbook.yaml")
    (True, False)
    """
    return path.lower().endswith(".py")


def playbook_text(path: str, variables: Mapping[str, str], max_size: int = DEFAULT_MAX_SIZE) -> str:
    """The text of a playbook file, to render and parse: the file's own, or the YAML
    form a Python playbook builds (running its code, with ``variables`` as ``--vars``)."""
    text = read_text(path, max_size)
    if not is_python(path):
        return text
    from dataflow_runner.dsl.loader import yaml_form

    return yaml_form(path, text, variables)


@contextlib.contextmanager
def python_lines(path: str, text: str) -> Iterator[None]:
    """A problem found in a Python playbook's YAML form ``text`` is reported at the
    line of the Python file that built what is wrong (nothing changes for others)."""
    if not is_python(path):
        yield
        return
    try:
        yield
    except ConfigError as exc:
        from dataflow_runner.dsl.yamlform import relocate

        raise relocate(exc, path, text) from None


def _digits_limit() -> str:
    return f"more than {sys.get_int_max_str_digits()} digits"


def parse(text: str, path: str) -> Any:
    """JSON, or YAML for ``.yaml``/``.yml`` files (this project's own formats)."""
    doc = _parse_yaml(text, path) if _is_yaml(path) else _parse_json(text, path)
    if _SURROGATE_ESCAPE.search(text):
        _no_lone_surrogates(doc, "$", path)
    return doc


def _parse_json(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = exc.msg[0].lower() + exc.msg[1:]
        raise ConfigError(
            f"invalid JSON: {msg}", file=path, line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise ConfigError("invalid JSON: nested too deeply", file=path) from None
    except ValueError:  # Python's limit on the digits of an integer (a DoS guard)
        long = re.search(rf"\d{{{sys.get_int_max_str_digits() + 1},}}", text)
        line = text.count("\n", 0, long.start()) + 1 if long else None
        raise ConfigError(
            f"invalid JSON: a number with {_digits_limit()}", file=path, line=line
        ) from None


def _parse_yaml(text: str, path: str) -> Any:
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
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=path) from None
    except ValueError as exc:  # a scalar its constructor refuses: a huge integer, a bad date
        reason = f"a number with {_digits_limit()}" if "digits" in str(exc) else str(exc)
        raise ConfigError(f"invalid YAML: {reason}", file=path) from None


def _no_lone_surrogates(value: Any, where: str, path: str) -> None:
    """A lone UTF-16 surrogate (``"\\ud800"``) is no character: it could be neither
    printed nor stored."""
    items: Any = ()
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise ConfigError(
                "invalid string: a lone UTF-16 surrogate (\\ud800-\\udfff) is not a character",
                file=path,
                path=where,
            )
    elif isinstance(value, dict):
        items = ((str(k), k, v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((i, None, v) for i, v in enumerate(value))
    for part, key, item in items:
        if isinstance(key, str):
            _no_lone_surrogates(key, where, path)
        _no_lone_surrogates(item, join_path(where, part), path)


# --- self-describing records -------------------------------------------------------


def _schema_kind(doc: Any, path: str, want: Kind, notes: list[str]) -> tuple[str, SchemaKind]:
    if not isinstance(doc, dict):
        raise ConfigError(
            'expected an object with "schema" and "data", got '
            + ("an array" if isinstance(doc, list) else _shown(doc)),
            file=path,
            path="$",
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
    known = formats()
    m = _IGLU.match(uri.strip())
    found = m and known.get((m["vendor"], m["name"], m["format"], m["model"]))
    if not m or not found:
        listed = ", ".join(
            f"iglu:{v}/{n}/{f}/{k.known[-1]}" for (v, n, f, _), k in known.items() if k.kind == want
        )
        raise ConfigError(
            f'unknown schema "{uri}"; expected one of {listed}', file=path, path="$.schema"
        )
    if found.kind != want:
        raise ConfigError(
            f"this is a {found.kind} config, but a {want} config was expected here"
            f" (check the order of --emr-config and --emr-playbook)",
            file=path,
            path="$.schema",
        )
    if found.closed:
        for key in doc:
            if key not in ("schema", "data"):
                raise ConfigError("unknown field", file=path, path=join_path("$", str(key)))
    version = f"{m['model']}-{m['rev']}-{m['add']}"
    if version not in found.known:
        key = (int(m["model"]), int(m["rev"]), int(m["add"]))
        newer = all(key > tuple(int(n) for n in v.split("-")) for v in found.known)
        notes.append(
            f"{path}: schema version {version} is "
            + ("newer than the ones" if newer else "not one of the versions")
            + f" this tool knows ({', '.join(found.known)}); reading it as {found.known[-1]}"
        )
    if "data" not in doc or doc["data"] is None:
        raise ConfigError("a value is required: the config itself", file=path, path="$.data")
    if not isinstance(doc["data"], dict):
        raise ConfigError(
            f"expected an object, got {_shown(doc['data'])}", file=path, path="$.data"
        )
    return uri, found


def _shown(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)[:40]
    except (TypeError, ValueError):  # not JSON: a YAML date...
        return describe(value)


def load_document(
    path: str, variables: Mapping[str, str], *, max_size: int = DEFAULT_MAX_SIZE
) -> Any:
    """Read, render and parse a config file (no validation). The values of
    secret-looking variables (``db_password``...) are registered as secrets first:
    whatever they are rendered into, and any error quoting them, is masked."""
    register(dict(variables))
    text = render(read_text(path, max_size), path, variables, max_output=max_size)
    return parse(text, path)


def _load(
    kind: Kind,
    path: str,
    variables: Mapping[str, str],
    max_size: int,
    text: str | None = None,
    template: ConfigTemplate | None = None,
) -> Any:
    if kind == "cluster" and is_python(path):
        raise ConfigError(
            "a cluster config is a JSON or YAML file (only a playbook may be Python)", file=path
        )
    # Secret-looking variables (``db_password``...) first: whatever they are rendered
    # into, and any error quoting them, is masked.
    register(dict(variables))
    if template is not None:
        text = template.text
    elif text is None:
        text = (
            playbook_text(path, variables, max_size)
            if kind == "playbook"
            else read_text(path, max_size)
        )
    notes: list[str] = []
    try:
        with python_lines(path, text):
            if template is not None:
                rendered = template.render(variables)
            else:
                rendered = render(text, path, variables, max_output=max_size)
            doc = parse(rendered, path)
            uri, found = _schema_kind(doc, path, kind, notes)
            return found.read(doc["data"], path, uri, notes)
    except RecursionError:
        raise ConfigError("nested too deeply", file=path, path="$.data") from None
    finally:
        for note in notes:
            log.warning("%s", note)


def load_cluster(
    path: str,
    variables: Mapping[str, str],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    text: str | None = None,
) -> ClusterConfig:
    """Load and validate a cluster config (this project's format, or one a fabric
    reads, such as Snowplow's ClusterConfig); ``text``: the file's text, read already."""
    import msgspec

    from dataflow_runner.config.model import ClusterConfig, to_doc

    config = _load("cluster", path, variables, max_size, text)
    if not isinstance(config, ClusterConfig):
        raise TypeError(f"the reader of {path} gave a {type(config).__name__}")
    config = msgspec.structs.replace(config, file=path)
    # Its credentials, the secret-looking entries of its environment, the
    # passwords of URLs it holds: masked wherever they show up.
    register(to_doc(config, exclude_defaults=True))
    return config


def load_playbook(
    path: str,
    variables: Mapping[str, str],
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    text: str | None = None,
    template: ConfigTemplate | None = None,
) -> Playbook:
    """Load and validate a playbook (Snowplow's format, this project's, or a Python
    playbook's: ``dataflow_runner.dsl``); ``text``: the file's text, read already (a
    Python playbook's: its YAML form); ``template``: that text, parsed already."""
    from dataflow_runner.config.model import to_doc

    book: Playbook = _load("playbook", path, variables, max_size, text, template)
    # Static credentials, the secret-looking entries of the steps' ``env``...
    register(to_doc(book, exclude_defaults=True))
    return book
