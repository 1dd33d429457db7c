"""Turn model validation failures into one-line, JSON-path-addressed errors.

pydantic reports *where* (a location tuple) and *what* (an error type); the
user should read ``cluster.json: $.data.ec2.instances.core.count: expected an
integer, got "three"``. Values under secret-looking keys are never echoed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from dataflow_runner.config.redact import is_secret_key
from dataflow_runner.errors import ConfigError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_SHOWN = 60

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "an array",
    "tuple_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "is_instance_of": "an object",
}


def join_path(base: str, part: str | int) -> str:
    """``$.data`` + ``steps`` + ``0`` → ``$.data.steps[0]``; odd keys are quoted."""
    if isinstance(part, int):
        return f"{base}[{part}]"
    if _IDENT.match(part):
        return f"{base}.{part}"
    return f"{base}[{json.dumps(part)}]"


def describe(value: Any, *, secret: bool = False) -> str:
    """A short JSON rendering of a bad value, or its kind when it is secret."""
    if secret:
        return "a hidden value"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 4] + '..."'
    return text


def _walk(data: Any, loc: Sequence[str | int]) -> tuple[list[str | int], Any, bool]:
    """Follow ``loc`` through ``data``: the real path, the value found and
    whether it was found (pydantic inserts union-member names into ``loc``)."""
    path: list[str | int] = []
    node: Any = data
    found = True
    for part in loc:
        found_key = isinstance(node, Mapping) and part in node
        found_index = isinstance(node, list | tuple) and isinstance(part, int) and part < len(node)
        if found_key or found_index:
            node = node[part]
            path.append(part)
        elif isinstance(part, str) and not isinstance(node, Mapping | list):
            continue  # a union member's name, not a key of the data
        elif isinstance(part, str) and part.startswith(("function-", "tagged-union")):
            continue
        else:
            path.append(part)
            found = False
            node = None
    return path, node, found


def _message(err: Mapping[str, Any], value: Any, found: bool, secret: bool) -> str:
    kind = err["type"]
    if kind == "missing":
        return "a value is required" if not found else "a value is required, got null"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {describe(value, secret=secret)}"
    if kind in ("literal_error", "enum"):
        expected = err.get("ctx", {}).get("expected", "")
        return f"expected one of {expected}, got {describe(value, secret=secret)}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        ctx = err.get("ctx", {})
        op = {
            "greater_than_equal": ">=",
            "greater_than": ">",
            "less_than_equal": "<=",
            "less_than": "<",
        }[kind]
        bound = next(iter(ctx.values()), "")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"expected a number {op} {bound}, got {describe(value, secret=secret)}"
    if kind == "extra_forbidden":
        return "unknown field"
    msg = str(err.get("msg", "invalid value"))
    return msg[0].lower() + msg[1:] if msg else "invalid value"


def from_validation_error(
    exc: ValidationError, data: Any, *, file: str, root: Sequence[str | int] = ("data",)
) -> list[ConfigError]:
    """One ConfigError per pydantic error, addressed by JSON path from ``$``."""
    out: list[ConfigError] = []
    seen: set[tuple[str, str]] = set()
    for err in exc.errors(include_url=False):
        path, value, found = _walk(data, err["loc"])
        text_path = "$"
        for part in (*root, *path):
            text_path = join_path(text_path, part)
        secret = any(isinstance(p, str) and is_secret_key(p) for p in path)
        message = _message(err, value, found, secret)
        key = (text_path, message)
        if key not in seen:  # unions can report the same problem twice
            seen.add(key)
            out.append(ConfigError(message, file=file, path=text_path))
    return out


def unknown_fields(
    model: type[BaseModel], data: Any, *, file: str, path: str
) -> Iterable[ConfigError]:
    """Fields of ``data`` that ``model`` does not know, recursively.

    The Go tool ignores unknown fields of Snowplow configs, and so do we; in
    this project's own formats a typo (``dependson``) is an error instead.
    """
    if not isinstance(data, Mapping):
        return
    fields = _fields(model)
    for key, value in data.items():
        if key not in fields:
            hint = _closest(str(key), fields)
            yield ConfigError(
                "unknown field" + (f" (did you mean '{hint}'?)" if hint else ""),
                file=file,
                path=join_path(path, str(key)),
            )
            continue
        sub, many = fields[key]
        if sub is None:
            continue
        here = join_path(path, str(key))
        if many and isinstance(value, list):
            for i, item in enumerate(value):
                yield from unknown_fields(sub, item, file=file, path=join_path(here, i))
        elif not many:
            yield from unknown_fields(sub, value, file=file, path=here)


_FIELDS: dict[type[BaseModel], dict[str, tuple[type[BaseModel] | None, bool]]] = {}


def _fields(model: type[BaseModel]) -> dict[str, tuple[type[BaseModel] | None, bool]]:
    """A model's field names (aliases) and the model each holds, worked out once:
    a playbook of thousands of steps asks for the step model's fields each time."""
    found = _FIELDS.get(model)
    if found is None:
        found = {
            (f.alias or name): _submodel(f.annotation) for name, f in model.model_fields.items()
        }
        _FIELDS[model] = found
    return found


def _submodel(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside ``X``, ``X | None`` or ``tuple[X, ...]``, and whether it is a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = get_origin(annotation)
    for arg in get_args(annotation):
        if arg is type(None) or arg is Ellipsis:
            continue
        sub, _ = _submodel(arg)
        if sub is not None:
            return sub, origin is tuple or origin is list
    return None, False


def _closest(key: str, choices: Iterable[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.75)
    if match:
        return match[0]
    lowered = {c.lower(): c for c in choices}
    return lowered.get(key.lower().replace("_", "").replace("-", ""))
