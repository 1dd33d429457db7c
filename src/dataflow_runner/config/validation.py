"""Validate data against a Struct of the model, in this tool's words.

The fast path is one ``msgspec.convert(data, cls, strict=True)`` of the whole
document. msgspec stops at the first problem, and a user should see them all, as
``cluster.json: $.data.ec2.instances.core.count: expected an integer, got "three"``;
so when it fails, :class:`_Walk` goes through the data beside the Struct's field
types (``msgspec.inspect``) and phrases every problem it finds. It also reads
Snowplow's formats as the Go tool does: ``null`` is the zero value (the field's
default) and unknown fields are ignored, where this project's formats report them
(with a "did you mean"). Values under secret-looking keys are never echoed.

>>> from dataflow_runner.config.model import Tag
>>> validate(Tag, {"key": 1}, file="c.json", root="$.data.tags[0]", closed=True)[1][0].args[0]
'c.json: $.data.tags[0].key: expected a string, got 1'
"""

from __future__ import annotations

import datetime as dt
import json
import math
import operator
import re
from collections.abc import Hashable, Iterable, Mapping
from functools import cache
from typing import Any, TypeVar, cast

import msgspec
from msgspec import inspect as mi

from dataflow_runner.config.redact import is_secret_key
from dataflow_runner.errors import ConfigError, ConfigErrors

T = TypeVar("T")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_SHOWN = 60


def join_path(base: str, part: str | int) -> str:
    """``$.data`` + ``steps`` + ``0`` → ``$.data.steps[0]``; odd keys are quoted.

    >>> join_path(join_path("$.data", "env"), "A B")
    '$.data.env["A B"]'
    """
    if isinstance(part, int):
        return f"{base}[{part}]"
    if _IDENT.match(part):
        return f"{base}.{part}"
    return f"{base}[{json.dumps(part)}]"


def describe(value: Any, *, secret: bool = False) -> str:
    """A short rendering of a bad value, its kind when it is secret or not JSON.

    >>> describe("x"), describe([1]), describe(float("inf")), describe(dt.date(2026, 1, 1))
    ('"x"', 'an array', 'Infinity', 'a date')
    """
    if secret:
        return "a hidden value"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dt.datetime):
        return "a date and time"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    if isinstance(value, set | frozenset):
        return "a set"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON (YAML's other types), or a huge integer
        return f"a {type(value).__name__} value"
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 4] + ('..."' if text.startswith('"') else "...")
    return text


def closest(key: str, choices: Iterable[str]) -> str | None:
    """The known name a misspelt ``key`` most likely meant, if any.

    >>> closest("dependson", ["dependsOn", "after"])
    'dependsOn'
    """
    import difflib

    known = list(choices)
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    if match:
        return match[0]
    lowered = {c.lower(): c for c in known}
    return lowered.get(key.lower().replace("_", "").replace("-", ""))


def quoted_choices(values: Iterable[Any]) -> str:
    """How a closed set of values is listed in messages.

    >>> quoted_choices(["CANCEL_AND_WAIT", "CONTINUE"])
    "'CANCEL_AND_WAIT' or 'CONTINUE'"
    """
    items = [f"'{v}'" for v in values]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def raise_all(errors: Iterable[ConfigError]) -> None:
    """Raise the problems found, if any: one ConfigError, or ConfigErrors for several.

    >>> raise_all([])  # nothing found: nothing raised
    """
    found = list(errors)
    if len(found) == 1:
        raise found[0]
    if found:
        raise ConfigErrors(found)


def validate(
    cls: type[T], data: Any, *, file: str, root: str, closed: bool
) -> tuple[T | None, list[ConfigError]]:
    """``data`` as a ``cls``, or None and every problem found, addressed from ``root``.

    ``closed``: unknown fields are errors (this project's formats); otherwise they
    are ignored (Snowplow's, as the Go tool reads them). ``null`` is the default.

    >>> from dataflow_runner.config.model import RetryPolicy
    >>> _, errors = validate(RetryPolicy, {"count": -1, "delaysecond": 2}, file="p.json",
    ...                      root="$.data.retries", closed=True)
    >>> for e in errors: print(e)
    p.json: $.data.retries.count: expected a number >= 0, got -1
    p.json: $.data.retries.delaysecond: unknown field (did you mean 'delaySeconds'?)
    """
    try:
        return msgspec.convert(data, cls, strict=True), []
    except msgspec.ValidationError:
        pass
    walk = _Walk(file, closed)
    clean = walk.value(data, _info(cast(Hashable, cls)), root, secret=False)
    if walk.errors:
        return None, walk.errors
    try:
        return msgspec.convert(clean, cls, strict=True), []
    except msgspec.ValidationError as exc:  # a rule the walk does not know: msgspec's words
        message, _, where = str(exc).partition(" - at `")
        where = where.rstrip("`")
        path = root + where[1:] if where.startswith("$") else root
        return None, [ConfigError(message[:1].lower() + message[1:], file=file, path=path)]


@cache
def _info(cls: Any) -> mi.Type:
    return mi.type_info(cls)


# What a value of each kind of type should have been, in messages.
_EXPECTED: dict[type[mi.Type], str] = {
    mi.IntType: "an integer",
    mi.FloatType: "a number",
    mi.StrType: "a string",
    mi.BoolType: "true or false",
    mi.StructType: "an object",
    mi.DictType: "an object",
    mi.ListType: "an array",
    mi.VarTupleType: "an array",
    mi.TupleType: "an array",
    mi.SetType: "an array",
    mi.FrozenSetType: "an array",
    mi.NoneType: "null",
}
_BOUNDS = (
    ("ge", ">=", operator.ge),
    ("gt", ">", operator.gt),
    ("le", "<=", operator.le),
    ("lt", "<", operator.lt),
)


def _kind_fits(value: Any, t: mi.Type) -> bool:
    """Whether ``value`` is of the JSON kind ``t`` takes (to pick a union's member)."""
    if isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(value, bool):
        return isinstance(t, mi.BoolType)
    if isinstance(value, int):
        return isinstance(t, mi.IntType | mi.FloatType)
    if isinstance(value, float):
        return isinstance(t, mi.FloatType)
    if isinstance(value, str):
        return isinstance(t, mi.StrType | mi.LiteralType | mi.EnumType)
    if isinstance(value, Mapping):
        return isinstance(t, mi.StructType | mi.DictType)
    if isinstance(value, list | tuple):
        return isinstance(t, mi.ListType | mi.VarTupleType | mi.TupleType | mi.SetType)
    return value is None and isinstance(t, mi.NoneType)


def _bound(value: float, t: mi.IntType | mi.FloatType, extra: Mapping[str, Any]) -> str:
    """The message for a number outside its bounds (empty when it is inside)."""
    for attr, op, ok in _BOUNDS:
        limit = getattr(t, attr)
        if limit is not None and not ok(value, limit):
            shown = int(limit) if float(limit).is_integer() else limit
            # An upper bound says what it amounts to ("1 day"): a reader sees the unit.
            note = f" ({extra['max']})" if op[0] == "<" and "max" in extra else ""
            noun = extra.get("noun", "a number")
            return f"expected {noun} {op} {shown}{note}, got {describe(value)}"
    return ""


def _quote_it(value: Any) -> str:
    # YAML reads an unquoted 2026-01-01 as a date: where a string was meant, say how.
    return " (quote it)" if isinstance(value, dt.date) else ""


class _Walk:
    """Goes through data beside a type, collecting problems; :meth:`value` returns
    the data as msgspec should convert it (nulls and, in lenient formats, unknown
    fields dropped)."""

    def __init__(self, file: str, closed: bool) -> None:
        self.file = file
        self.closed = closed
        self.errors: list[ConfigError] = []

    def problem(self, path: str, message: str) -> None:
        self.errors.append(ConfigError(message, file=self.file, path=path))

    def value(self, value: Any, t: mi.Type, path: str, *, secret: bool) -> Any:
        extra: dict[str, Any] = {}
        if isinstance(t, mi.Metadata):
            extra, t = t.extra or {}, t.type
        if isinstance(t, mi.StructType):
            return self.struct(value, t, path, secret=secret)
        if isinstance(t, mi.UnionType):
            return self.union(value, t, path, secret=secret)
        if isinstance(t, mi.DictType):
            return self.mapping(value, t, path, secret=secret)
        if isinstance(t, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
            if not isinstance(value, list | tuple):
                self.problem(path, f"expected an array, got {describe(value, secret=secret)}")
                return value
            return [
                self.value(item, t.item_type, join_path(path, i), secret=secret)
                for i, item in enumerate(value)
            ]
        message = self.scalar(value, t, extra, secret)
        if message:
            self.problem(path, message)
        return value

    def struct(self, value: Any, t: mi.StructType, path: str, *, secret: bool) -> Any:
        if not isinstance(value, Mapping):
            self.problem(path, f"expected an object, got {describe(value, secret=secret)}")
            return value
        fields = {f.encode_name: f for f in t.fields}
        clean: dict[str, Any] = {}
        for key, item in value.items():
            here = join_path(path, str(key))
            known = fields.get(key) if isinstance(key, str) else None
            if known is None:
                if self.closed:
                    hint = closest(str(key), fields)
                    suffix = f" (did you mean '{hint}'?)" if hint else ""
                    self.problem(here, "unknown field" + suffix)
                continue
            if item is None:  # null is the field's zero value: its default
                continue
            hidden = secret or is_secret_key(key)
            clean[key] = self.value(item, known.type, here, secret=hidden)
        for f in t.fields:
            if f.required and f.encode_name not in clean:
                self.problem(join_path(path, f.encode_name), "a value is required")
        return clean

    def union(self, value: Any, t: mi.UnionType, path: str, *, secret: bool) -> Any:
        if value is None and any(isinstance(m, mi.NoneType) for m in t.types):
            return value
        for member in t.types:
            if _kind_fits(value, member):
                return self.value(value, member, path, secret=secret)
        kinds: list[str] = []
        for member in t.types:
            inner = member.type if isinstance(member, mi.Metadata) else member
            kind = _EXPECTED.get(type(inner))
            if kind and kind != "null" and kind not in kinds:
                kinds.append(kind)
        shown = describe(value, secret=secret)
        self.problem(path, f"expected {' or '.join(kinds) or 'another value'}, got {shown}")
        return value

    def mapping(self, value: Any, t: mi.DictType, path: str, *, secret: bool) -> Any:
        if not isinstance(value, Mapping):
            self.problem(path, f"expected an object, got {describe(value, secret=secret)}")
            return value
        key_type = t.key_type
        extra: dict[str, Any] = {}
        if isinstance(key_type, mi.Metadata):
            extra, key_type = key_type.extra or {}, key_type.type
        clean: dict[Any, Any] = {}
        for key, item in value.items():
            here = join_path(path, str(key))
            if not isinstance(key, str):
                self.problem(
                    here, f"expected a name (a string), got {describe(key)}{_quote_it(key)}"
                )
            else:
                message = self.scalar(key, key_type, extra, False)
                if message:
                    self.problem(here, message)
            hidden = secret or (isinstance(key, str) and is_secret_key(key))
            clean[key] = self.value(item, t.value_type, here, secret=hidden)
        return clean

    def scalar(self, value: Any, t: mi.Type, extra: Mapping[str, Any], secret: bool) -> str:
        """The message for a bad scalar (empty when it is fine)."""
        shown = describe(value, secret=secret)
        if isinstance(t, mi.StrType):
            if not isinstance(value, str):
                return f"expected a string, got {shown}{_quote_it(value)}"
            if "\x00" in value:
                return "contains a NUL byte"
            if t.pattern is not None and not re.search(t.pattern, value):
                return f"expected {extra.get('expected', 'another value')}, got {shown}"
            return ""
        if isinstance(t, mi.IntType):
            if not isinstance(value, int) or isinstance(value, bool):
                return f"expected an integer, got {shown}"
            return _bound(value, t, extra)
        if isinstance(t, mi.FloatType):
            if not isinstance(value, int | float) or isinstance(value, bool):
                return f"expected a number, got {shown}"
            if not math.isfinite(value):
                return f"expected a finite number, got {shown}"
            return _bound(value, t, extra)
        if isinstance(t, mi.BoolType):
            return "" if isinstance(value, bool) else f"expected true or false, got {shown}"
        if isinstance(t, mi.LiteralType | mi.EnumType):
            allowed = [m.value for m in t.cls] if isinstance(t, mi.EnumType) else list(t.values)
            if isinstance(value, str) and value in allowed:
                return ""
            return f"expected one of {quoted_choices(allowed)}, got {shown}"
        if isinstance(t, mi.NoneType):
            return "" if value is None else f"expected null, got {shown}"
        return ""  # Any, and what msgspec checks alone
