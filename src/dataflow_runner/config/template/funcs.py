"""The functions a template can call, after Go's ``text/template/funcs.go``.

Go's builtins (``and or not len index slice print printf println eq ne lt le gt ge
html js urlquery call``) with Go's semantics and error messages, the five
functions of the Go tool (:func:`default_funcs`): ``nowWithFormat``,
``timeWithFormat``, ``systemEnv``, ``base64`` and ``base64File``, and this tool's
time arithmetic (:mod:`.timefuncs`): ``addDate``, ``addDuration``, ``formatTime``
and ``parseTime``.

A function is described to the executor by an :class:`Fn`: the Go types of its
parameters, which decide how arguments are checked (``expected string; found 1``).

Two limits keep a rendering's memory bounded (see :class:`Budget`): the functions
that format stop once they exceed what the rendering may still write, and
``base64File`` reads regular files only, and no more than the limit.

>>> funcs = default_funcs(environ={"USER": "ann"})
>>> sorted(funcs)[:5]
['addDate', 'addDuration', 'base64', 'base64File', 'formatTime']
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import inspect
import os
import stat
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dataflow_runner.config.limits import DEFAULT_MAX_SIZE, size_text
from dataflow_runner.config.template.fmt import (
    OutputLimit,
    go_type,
    sprint,
    sprintf,
    sprintln,
    value_string,
)
from dataflow_runner.config.template.gotime import format_go_time, from_epoch, parse_epoch
from dataflow_runner.config.template.timefuncs import time_funcs

#: The characters a rendering may write, and the bytes base64File may read, unless
#: told otherwise: far beyond any config, far below what hurts a machine.
DEFAULT_MAX_OUTPUT = DEFAULT_MAX_SIZE

STRING_T = "string"  # a Go string parameter
INT_T = "int"  # a Go int parameter
ANY_T = "interface {}"  # an interface{} parameter
VALUE_T = "reflect.Value"  # a reflect.Value parameter (Go's builtins)


class FuncError(Exception):
    """An error returned by a template function (Go's second result)."""


@dataclass(frozen=True, slots=True)
class Fn:
    impl: Callable[..., Any]
    params: tuple[str, ...]  # the Go types of the fixed parameters
    variadic: str | None = None  # the Go type of the variadic ones, if any
    builtin: bool = False


class Budget:
    """The characters a rendering may still write: its limit, less what it wrote.

    The executor charges what it writes; the functions that format are given what
    is left and stop as soon as they would exceed it; the executor also refuses a
    function's result longer than what is left. Either way :class:`OutputLimit`
    is raised, which the caller reports with the limit.
    """

    __slots__ = ("left",)

    def __init__(self, limit: int) -> None:
        self.left = limit

    def charge(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise OutputLimit


def truth(value: Any) -> bool:
    """Go's truth: not false, 0, nil, or an empty string, list or map."""
    if value is None:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | Mapping):
        return bool(value)
    return True


# --- comparison (Go's eq, lt...) -------------------------------------------------------------


def _basic_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return ""


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in args:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise FuncError(
                    f"incompatible types for comparison: {go_type(arg1)} and {go_type(arg)}"
                )
            equal = False
        elif k1:
            equal = arg1 == arg
        elif arg1 is None or arg is None:
            equal = arg1 is arg
        elif go_type(arg1) != go_type(arg):
            raise FuncError(
                f"non-comparable types {value_string(arg1)}: {go_type(arg1)}, "
                f"{go_type(arg)}: {value_string(arg)}"
            )
        else:
            raise FuncError(f"non-comparable type {value_string(arg)}: {go_type(arg)}")
        if equal:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if not k1 or not k2:
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
    if k1 == "bool":
        raise FuncError("invalid type for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


# --- len, index, slice -----------------------------------------------------------------------


def _len(item: Any) -> int:
    if item is None:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))  # Go counts bytes
    if isinstance(item, list | tuple | Mapping):
        return len(item)
    raise FuncError(f"len of type {go_type(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise FuncError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise FuncError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("index of untyped nil")
    for n, index in enumerate(indexes):
        if item is None and n:
            raise FuncError("index of nil pointer")
        if isinstance(item, str | list | tuple):
            data = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            x = _index_arg(index, len(data))
            if x == len(data):
                what = "string" if isinstance(item, str) else "slice"
                raise FuncError(f"reflect: {what} index out of range")
            item = data[x]
        elif isinstance(item, Mapping):
            if index is None:
                raise FuncError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise FuncError(f"value has type {go_type(index)}; should be string")
            item = item.get(index)  # a missing key gives the zero value: nil
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        data: Any = item.encode("utf-8", "surrogatepass")
    elif isinstance(item, list | tuple):
        data = item
    else:
        raise FuncError(f"can't slice item of type {go_type(item)}")
    idx = [0, len(data), 0]
    for n, index in enumerate(indexes):
        idx[n] = _index_arg(index, len(data))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = data[idx[0] : idx[1]]
    return part.decode("utf-8", "replace") if isinstance(item, str) else list(part)


# --- escaping (Go's html, js, urlquery) ------------------------------------------------------


def _eval_args(args: tuple[Any, ...], limit: int) -> str:
    """``fmt.Sprint`` of the arguments, a nil one printing as <no value> (Go's evalArgs)."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*("<no value>" if a is None else a for a in args), limit=limit)


def _html(text: str) -> str:
    for c, escaped in (("&", "&amp;"), ("\0", "\ufffd"), ('"', "&#34;"), ("'", "&#39;")):
        text = text.replace(c, escaped)
    return text.replace("<", "&lt;").replace(">", "&gt;")


_JS_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E"}
_JS_ESCAPES.update({"&": "\\u0026", "=": "\\u003D"})


def _js(text: str) -> str:
    out = []
    for c in text:
        if c in _JS_ESCAPES:
            out.append(_JS_ESCAPES[c])
        elif c < " " or (c >= "\x80" and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(text: str) -> str:
    return urllib.parse.quote_plus(text, safe="")


# --- the function table ----------------------------------------------------------------------

_BUILTINS: dict[str, Fn] = {
    "and": Fn(lambda *a: a[-1], (VALUE_T,), VALUE_T, True),
    "or": Fn(lambda *a: a[-1], (VALUE_T,), VALUE_T, True),
    "call": Fn(lambda *a: None, (VALUE_T,), VALUE_T, True),
    "not": Fn(lambda a: not truth(a), (VALUE_T,), None, True),
    "len": Fn(_len, (VALUE_T,), None, True),
    "index": Fn(_index, (VALUE_T,), VALUE_T, True),
    "slice": Fn(_slice, (VALUE_T,), VALUE_T, True),
    "eq": Fn(_eq, (VALUE_T,), VALUE_T, True),
    "ne": Fn(lambda a, b: not _eq(a, b), (VALUE_T, VALUE_T), None, True),
    "lt": Fn(_lt, (VALUE_T, VALUE_T), None, True),
    "le": Fn(_le, (VALUE_T, VALUE_T), None, True),
    "gt": Fn(lambda a, b: not _le(a, b), (VALUE_T, VALUE_T), None, True),
    "ge": Fn(lambda a, b: not _lt(a, b), (VALUE_T, VALUE_T), None, True),
}


def _formatting_builtins(budget: Budget) -> dict[str, Fn]:
    """The builtins that format their operands: they are given what the rendering may
    still write, so that many operands or a huge width stop early."""
    return {
        "print": Fn(lambda *a: sprint(*a, limit=budget.left), (), ANY_T, True),
        "printf": Fn(lambda f, *a: sprintf(f, *a, limit=budget.left), (STRING_T,), ANY_T, True),
        "println": Fn(lambda *a: sprintln(*a, limit=budget.left), (), ANY_T, True),
        "html": Fn(lambda *a: _html(_eval_args(a, budget.left)), (), ANY_T, True),
        "js": Fn(lambda *a: _js(_eval_args(a, budget.left)), (), ANY_T, True),
        "urlquery": Fn(lambda *a: _urlquery(_eval_args(a, budget.left)), (), ANY_T, True),
    }


def _signature(fn: Callable[..., Any]) -> tuple[tuple[str, ...], str | None]:
    """Go parameter types for a Python function: ``str`` annotations are Go strings,
    ``int`` ones Go ints, anything else interface{}; ``*args`` is variadic."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return (), ANY_T
    params: list[str] = []
    variadic = None
    for p in sig.parameters.values():
        kind = _go_type_of(p.annotation)
        if p.kind == p.VAR_POSITIONAL:
            variadic = kind
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            params.append(kind)
    return tuple(params), variadic


def _go_type_of(annotation: Any) -> str:
    # A string where ``from __future__ import annotations`` is in force; compared, not
    # hashed, as an annotation may be anything.
    if annotation in (str, "str"):
        return STRING_T
    if annotation in (int, "int"):
        return INT_T
    return ANY_T


def bind(funcs: Mapping[str, Callable[..., Any]]) -> dict[str, Fn]:
    """``funcs`` with their Go parameter types (read once per template: Go's ``Funcs``)."""
    return {name: Fn(fn, *_signature(fn)) for name, fn in funcs.items()}


def function_table(funcs: Mapping[str, Fn], budget: Budget) -> dict[str, Fn]:
    """Go's builtins and ``funcs`` (from :func:`bind`), for one rendering (the
    formatting builtins draw on its ``budget``); as in Go, a template's functions
    hide the builtins."""
    return _BUILTINS | _formatting_builtins(budget) | dict(funcs)


# --- the Go tool's functions -----------------------------------------------------------------


def go_os_error(path: str, exc: OSError) -> str:
    """An OSError in Go's words: ``open PATH: no such file or directory``."""
    if isinstance(exc, IsADirectoryError):
        return f"read {path}: is a directory"
    reason = exc.strerror or str(exc)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def _too_large(path: str, limit: int) -> FuncError:
    return FuncError(f"{path}: file is larger than the limit of {size_text(limit)}")


def _check_regular(path: str, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    if not stat.S_ISREG(mode):
        raise FuncError(f"{path}: not a regular file")


def read_regular_file(path: str, limit: int) -> bytes:
    """Go's ``os.ReadFile``, for a regular file of at most ``limit`` bytes.

    A FIFO would wait for a writer and /dev/zero never ends, so anything but a
    regular file is refused; so is a larger file, and no more than ``limit + 1``
    bytes are read, should the file grow meanwhile.
    """
    _check_regular(path, os.stat(path).st_mode)  # before opening: opening a device may act
    # O_NONBLOCK: should the path have become a FIFO since, opening it does not wait.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb") as fh:
        info = os.fstat(fd)
        _check_regular(path, info.st_mode)  # what was opened, not what was there before
        if info.st_size > limit:
            raise _too_large(path, limit)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise _too_large(path, limit)
    return data


def default_funcs(
    *,
    now: Callable[[], dt.datetime] | None = None,
    environ: Mapping[str, str] | None = None,
    read_file: Callable[[str], bytes] | None = None,
    max_file_size: int = DEFAULT_MAX_OUTPUT,
) -> dict[str, Callable[..., Any]]:
    """The Go tool's five template functions and the four of :mod:`.timefuncs`; the
    clock, the environment and the file reader can be replaced (tests).
    ``base64File`` refuses a file larger than ``max_file_size`` bytes.

    >>> from dataflow_runner.config.template import render
    >>> funcs = default_funcs(environ={"USER": "ann"})
    >>> render('{{ systemEnv "USER" | base64 }}', "t", {}, funcs=funcs)
    'YW5u'
    """
    clock = now or (lambda: dt.datetime.now().astimezone())
    env = os.environ if environ is None else environ

    def reader(path: str) -> bytes:
        if read_file is None:
            return read_regular_file(path, max_file_size)
        data = read_file(path)
        if len(data) > max_file_size:
            raise _too_large(path, max_file_size)
        return data

    def now_with_format(layout: str) -> str:
        return format_go_time(clock(), layout)

    def time_with_format(epoch: str, layout: str) -> str:
        return format_go_time(from_epoch(parse_epoch(epoch)), layout)

    def system_env(name: str) -> str:
        value = env.get(name)
        if value is None:
            raise FuncError(f"environment variable {name} not set")
        return value

    def base64_text(text: str) -> str:
        return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")

    def base64_file(path: str) -> str:
        try:
            data = reader(path)
        except OSError as exc:
            raise FuncError(go_os_error(path, exc)) from None
        return base64.b64encode(data).decode("ascii")

    funcs: dict[str, Callable[..., Any]] = {
        "nowWithFormat": now_with_format,
        "timeWithFormat": time_with_format,
        "systemEnv": system_env,
        "base64": base64_text,
        "base64File": base64_file,
    }
    return funcs | time_funcs()
