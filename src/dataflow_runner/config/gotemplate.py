"""Go's text/template, as config files use it, with Go's semantics and error messages.

The Go tool renders every config file as ``template.New(name).Funcs(five).Option(
"missingkey=error").Parse(text).Execute(vars)``, ``vars`` being a
``map[string]interface{}`` of strings. This module is a hand-written subset of
text/template that follows Go's own lexer, parser and executor closely:

* text and actions, trim markers ``{{- `` / `` -}}``, comments ``{{/* */}}``;
* fields ``.a.b``, ``.``, variables ``$``, ``$x := ...``, ``$x = ...``, chains
  ``$x.a`` and ``(pipeline).a``; literals: strings, raw strings, numbers (Go's
  syntax: ``0x1F``, ``0o17``, ``017``, ``1_000``, ``1e3``, ``0x1p-2``), characters,
  ``true``, ``false``, ``nil``;
* pipelines ``.x | f`` (the piped value is the last argument) and parentheses;
* ``if``/``else if``/``else``, ``range`` (lists, maps in key order, integers; with
  ``else``, ``$i, $v :=``, ``break``, ``continue``), ``with``/``else with``;
* Go's builtins ``and or not len index slice print printf println eq ne lt le gt
  ge html js urlquery call`` and the tool's five functions (:func:`default_funcs`).

``define``, ``template`` and ``block`` (templates calling templates) and complex
numbers are refused with a clear error.

>>> render("s3://{{ .bucket }}/{{ .day | base64 }}", "c.json", {"bucket": "b", "day": "x"})
's3://b/eA=='

Every error is a :class:`~dataflow_runner.errors.TemplateError`: parse errors carry
the template name and line (``c.json:3: function "secret" not defined``), execution
errors also Go's column, the byte offset in the line (``c.json:1:2: executing
"c.json" at <.foo>: map has no entry for key "foo" ...``).
"""

from __future__ import annotations

import base64
import datetime as dt
import inspect
import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dataflow_runner.config import gotime
from dataflow_runner.config.gofmt import go_type, quote, sprint, sprintf, sprintln, value_string
from dataflow_runner.config.goparse import (
    Action,
    Bool,
    Break,
    Chain,
    Command,
    Control,
    Dot,
    Field,
    Identifier,
    Nil,
    Number,
    ParseFail,
    Pipe,
    String,
    Text,
    Variable,
    line_of,
    node_str,
    parse,
)
from dataflow_runner.errors import TemplateError

#: Iterations of {{range}} in one rendering (configs range over a handful of values).
MAX_ITERATIONS = 1_000_000

# --- functions ---------------------------------------------------------------------------------

_STRING_T = "string"  # a Go string parameter
_ANY_T = "interface {}"  # an interface{} parameter
_VALUE_T = "reflect.Value"  # a reflect.Value parameter (Go's builtins)


class _FuncError(Exception):
    """An error returned by a template function (Go's second result)."""


@dataclass(frozen=True, slots=True)
class _Fn:
    impl: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str | None = None
    builtin: bool = False


def _signature(fn: Callable[..., Any]) -> tuple[tuple[str, ...], str | None]:
    """Go parameter types for a Python function: ``str`` annotations are Go strings,
    anything else interface{}; ``*args`` is variadic."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return (), _ANY_T
    params: list[str] = []
    variadic = None
    for p in sig.parameters.values():
        kind = _STRING_T if p.annotation in (str, "str") else _ANY_T
        if p.kind == p.VAR_POSITIONAL:
            variadic = kind
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            params.append(kind)
    return tuple(params), variadic


def _truth(value: Any) -> bool:
    """Go's truth: not false, 0, nil, or an empty string, list or map."""
    if value is None:
        return False
    if isinstance(value, bool | int | float | str | list | tuple | Mapping):
        return bool(value)
    return True


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
        raise _FuncError("missing argument for comparison")
    k1 = _basic_kind(arg1)
    for arg in args:
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise _FuncError(
                    f"incompatible types for comparison: {go_type(arg1)} and {go_type(arg)}"
                )
            truth = False
        elif k1:
            truth = arg1 == arg
        elif arg1 is None or arg is None:
            truth = arg1 is arg
        elif go_type(arg1) != go_type(arg):
            raise _FuncError(
                f"non-comparable types {value_string(arg1)}: {go_type(arg1)}, "
                f"{go_type(arg)}: {value_string(arg)}"
            )
        else:
            raise _FuncError(f"non-comparable type {value_string(arg)}: {go_type(arg)}")
        if truth:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _basic_kind(a), _basic_kind(b)
    if not k1 or not k2:
        raise _FuncError("invalid type for comparison")
    if k1 != k2:
        raise _FuncError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
    if k1 == "bool":
        raise _FuncError("invalid type for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _len(item: Any) -> int:
    if item is None:
        raise _FuncError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))  # Go counts bytes
    if isinstance(item, list | tuple | Mapping):
        return len(item)
    raise _FuncError(f"len of type {go_type(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if index is None:
        raise _FuncError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise _FuncError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise _FuncError(f"index out of range: {index}")
    return index


def _index(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _FuncError("index of untyped nil")
    for n, index in enumerate(indexes):
        if item is None and n:
            raise _FuncError("index of nil pointer")
        if isinstance(item, str | list | tuple):
            data = item.encode("utf-8", "surrogatepass") if isinstance(item, str) else item
            x = _index_arg(index, len(data))
            if x == len(data):
                what = "string" if isinstance(item, str) else "slice"
                raise _FuncError(f"reflect: {what} index out of range")
            item = data[x]
        elif isinstance(item, Mapping):
            if index is None:
                raise _FuncError("value is nil; should be of type string")
            if not isinstance(index, str):
                raise _FuncError(f"value has type {go_type(index)}; should be string")
            item = item.get(index)  # a missing key gives the zero value: nil
        else:
            raise _FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise _FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        data: Any = item.encode("utf-8", "surrogatepass")
    elif isinstance(item, list | tuple):
        data = item
    else:
        raise _FuncError(f"can't slice item of type {go_type(item)}")
    idx = [0, len(data), 0]
    for n, index in enumerate(indexes):
        idx[n] = _index_arg(index, len(data))
    if idx[0] > idx[1]:
        raise _FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise _FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = data[idx[0] : idx[1]]
    return part.decode("utf-8", "replace") if isinstance(item, str) else list(part)


def _eval_args(args: tuple[Any, ...]) -> str:
    """``fmt.Sprint`` of the arguments, a nil one printing as <no value> (Go's evalArgs)."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*("<no value>" if a is None else a for a in args))


def _html(*args: Any) -> str:
    text = _eval_args(args)
    for c, escaped in (("&", "&amp;"), ("\0", "\ufffd"), ('"', "&#34;"), ("'", "&#39;")):
        text = text.replace(c, escaped)
    return text.replace("<", "&lt;").replace(">", "&gt;")


_JS_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E"}
_JS_ESCAPES.update({"&": "\\u0026", "=": "\\u003D"})


def _js(*args: Any) -> str:
    out = []
    for c in _eval_args(args):
        if c in _JS_ESCAPES:
            out.append(_JS_ESCAPES[c])
        elif c < " " or (c >= "\x80" and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, *args)


_BUILTINS: dict[str, _Fn] = {
    "and": _Fn(lambda *a: a[-1], (_VALUE_T,), _VALUE_T, True),
    "or": _Fn(lambda *a: a[-1], (_VALUE_T,), _VALUE_T, True),
    "call": _Fn(lambda *a: None, (_VALUE_T,), _VALUE_T, True),
    "not": _Fn(lambda a: not _truth(a), (_VALUE_T,), None, True),
    "len": _Fn(_len, (_VALUE_T,), None, True),
    "index": _Fn(_index, (_VALUE_T,), _VALUE_T, True),
    "slice": _Fn(_slice, (_VALUE_T,), _VALUE_T, True),
    "eq": _Fn(_eq, (_VALUE_T,), _VALUE_T, True),
    "ne": _Fn(lambda a, b: not _eq(a, b), (_VALUE_T, _VALUE_T), None, True),
    "lt": _Fn(_lt, (_VALUE_T, _VALUE_T), None, True),
    "le": _Fn(_le, (_VALUE_T, _VALUE_T), None, True),
    "gt": _Fn(lambda a, b: not _le(a, b), (_VALUE_T, _VALUE_T), None, True),
    "ge": _Fn(lambda a, b: not _lt(a, b), (_VALUE_T, _VALUE_T), None, True),
    "print": _Fn(sprint, (), _ANY_T, True),
    "printf": _Fn(_printf, (_STRING_T,), _ANY_T, True),
    "println": _Fn(sprintln, (), _ANY_T, True),
    "html": _Fn(_html, (), _ANY_T, True),
    "js": _Fn(_js, (), _ANY_T, True),
    "urlquery": _Fn(_urlquery, (), _ANY_T, True),
}


def _go_os_error(path: str, exc: OSError) -> str:
    """An OSError in Go's words: ``open PATH: no such file or directory``."""
    if isinstance(exc, IsADirectoryError):
        return f"read {path}: is a directory"
    reason = exc.strerror or str(exc)
    return f"open {path}: {reason[:1].lower()}{reason[1:]}"


def _read_file(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def default_funcs(
    *,
    now: Callable[[], dt.datetime] | None = None,
    environ: Mapping[str, str] | None = None,
    read_file: Callable[[str], bytes] | None = None,
) -> dict[str, Callable[..., Any]]:
    """The Go tool's five template functions; the clock, the environment and the file
    reader can be replaced (tests).

    >>> funcs = default_funcs(environ={"USER": "ann"})
    >>> render('{{ systemEnv "USER" | base64 }}', "t", {}, funcs=funcs)
    'YW5u'
    """
    clock = now or (lambda: dt.datetime.now().astimezone())
    env = os.environ if environ is None else environ
    reader = read_file or _read_file

    def now_with_format(layout: str) -> str:
        return gotime.format_go_time(clock(), layout)

    def time_with_format(epoch: str, layout: str) -> str:
        return gotime.format_go_time(gotime.from_epoch(gotime.parse_epoch(epoch)), layout)

    def system_env(name: str) -> str:
        value = env.get(name)
        if value is None:
            raise _FuncError(f"environment variable {name} not set")
        return value

    def base64_text(text: str) -> str:
        return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode("ascii")

    def base64_file(path: str) -> str:
        try:
            data = reader(path)
        except OSError as exc:
            raise _FuncError(_go_os_error(path, exc)) from None
        return base64.b64encode(data).decode("ascii")

    return {
        "nowWithFormat": now_with_format,
        "timeWithFormat": time_with_format,
        "systemEnv": system_env,
        "base64": base64_text,
        "base64File": base64_file,
    }


# --- executor (Go's text/template/exec.go) ------------------------------------------------------


class _ExecFail(Exception):
    def __init__(self, node: Any, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


class _BreakLoop(Exception):
    pass


class _ContinueLoop(Exception):
    pass


_MISSING: Any = object()  # "no value piped in" (Go's missingVal)


def _printed(value: Any) -> str:
    """What an action prints: Go's %v, and <no value> for nil."""
    return "<no value>" if value is None else value_string(value)


class _Exec:
    def __init__(self, funcs: Mapping[str, _Fn], data: Any) -> None:
        self.funcs = funcs
        self.root = data
        self.node: Any = None  # the node being evaluated, for error messages
        # (name, value, static type is interface{}): in Go a value read from a map or a
        # list has the static type interface{}, which shows in some error messages.
        self.vars: list[tuple[str, Any, bool]] = [("$", data, False)]
        self.dot_iface = False
        self.out: list[str] = []
        self.iterations = 0

    def fail(self, message: str) -> _ExecFail:
        """The error to raise, at the node being evaluated (Go's ``s.errorf``)."""
        return _ExecFail(self.node, message)

    # --- walking ---

    def walk(self, dot: Any, nodes: list[Any]) -> None:
        out = self.out
        for node in nodes:
            t = type(node)
            if t is Text:
                out.append(node.text)
            elif t is Action:
                name = node.simple
                if name is not None and type(dot) is dict and name in dot:  # fast path
                    value = dot[name]
                    out.append(value if type(value) is str else _printed(value))
                    continue
                self.node = node
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    out.append(_printed(value))
            elif t is Control:
                self.node = node
                if node.kind == "range":
                    self.walk_range(dot, node)
                else:
                    self.walk_if_with(dot, node)
            elif t is Break:
                raise _BreakLoop
            else:
                raise _ContinueLoop

    def walk_if_with(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        value = self.pipeline(dot, node.pipe)
        if _truth(value):
            if node.kind == "with":
                saved, self.dot_iface = self.dot_iface, False
                self.walk(value, node.body)
                self.dot_iface = saved
            else:
                self.walk(dot, node.body)
        elif node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark:]

    def walk_range(self, dot: Any, node: Control) -> None:
        mark0 = len(self.vars)
        value = self.pipeline(dot, node.pipe)
        decl = node.pipe.decl
        mark = len(self.vars)
        items: list[tuple[Any, Any]]
        iface = True
        if isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value, key=lambda k: (str(type(k)), k))]
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decl) > 1:
                raise self.fail(f"can't use {value} to iterate over more than one variable")
            items, iface = [(i, i) for i in range(min(value, MAX_ITERATIONS + 1))], False
        elif value is None:
            items = []
        else:
            raise self.fail(f"range can't iterate over {value_string(value)}")
        self.iterations += len(items)
        if self.iterations > MAX_ITERATIONS:
            raise self.fail(f"too many range iterations (more than {MAX_ITERATIONS})")
        saved = self.dot_iface
        try:
            for index, elem in items:
                if decl:
                    if node.pipe.is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem, iface)
                        if len(decl) > 1:
                            self.set_var(decl[1].ident[0], elem, iface)
                    else:
                        self.vars[-1] = (decl[-1].ident[0], elem, iface)
                        if len(decl) > 1:
                            self.vars[-2] = (decl[0].ident[0], index, False)
                self.dot_iface = iface
                try:
                    self.walk(elem, node.body)
                except _ContinueLoop:
                    pass
                finally:
                    del self.vars[mark:]
        except _BreakLoop:
            pass
        finally:
            self.dot_iface = saved
        if not items and node.else_body is not None:
            self.walk(dot, node.else_body)
        del self.vars[mark0:]

    # --- evaluation ---

    def pipeline(self, dot: Any, pipe: Pipe) -> Any:
        self.node = pipe
        value = _MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value, False)
            else:
                self.vars.append((var.ident[0], value, False))
        return value

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        t = type(first)
        if t is Field:
            self.node = first
            return self.field_chain(dot, dot, self.dot_iface, first, first.ident, cmd.args, final)
        if t is Chain:
            return self.chain(dot, first, cmd.args, final)
        if t is Identifier:
            return self.function(dot, first, cmd, cmd.args, final)
        if t is Pipe:
            self.not_a_function(cmd.args, final)
            return self.pipeline(dot, first)
        if t is Variable:
            return self.variable(dot, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if t is Bool:
            return first.value
        if t is Dot:
            return dot
        if t is Nil:
            raise self.fail("nil is not a command")
        if t is Number:
            return self.ideal(first)
        return first.text

    def not_a_function(self, args: list[Any], final: Any) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.fail(f"can't give argument to non-function {node_str(args[0])}")

    def ideal(self, num: Number) -> Any:
        self.node = num
        if num.value is None:
            raise self.fail(f"{num.text} overflows int")
        return num.value

    def var_value(self, name: str) -> tuple[Any, bool]:
        for var_name, value, iface in reversed(self.vars):
            if var_name == name:
                return value, iface
        raise self.fail(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any, iface: bool) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value, iface)
                return
        raise self.fail(f"undefined variable: {name}")

    def variable(self, dot: Any, node: Variable, args: list[Any] | None, final: Any) -> Any:
        self.node = node
        value, iface = self.var_value(node.ident[0])
        if len(node.ident) == 1:
            if args is not None:
                self.not_a_function(args, final)
            return value
        return self.field_chain(dot, value, iface, node, node.ident[1:], args, final)

    def chain(self, dot: Any, node: Chain, args: list[Any] | None, final: Any) -> Any:
        self.node = node
        base = self.arg(dot, None, node.node)
        return self.field_chain(dot, base, False, node, node.fields, args, final)

    def field_chain(
        self,
        dot: Any,
        receiver: Any,
        iface: bool,
        node: Any,
        ident: tuple[str, ...],
        args: list[Any] | None,
        final: Any,
    ) -> Any:
        for name in ident[:-1]:
            receiver = self.field(name, None, _MISSING, receiver, iface)
            iface = True
        return self.field(ident[-1], args, final, receiver, iface)

    def field(
        self, name: str, args: list[Any] | None, final: Any, receiver: Any, iface: bool
    ) -> Any:
        if receiver is None:
            if iface:
                raise self.fail(f"nil pointer evaluating interface {{}}.{name}")
            raise self.fail(f"nil data; no entry for key {quote(name)}")
        if isinstance(receiver, Mapping):
            if (args is not None and len(args) > 1) or final is not _MISSING:
                raise self.fail(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            hint = f" (pass it with --vars {name},VALUE)" if receiver is self.root else ""
            raise self.fail(f"map has no entry for key {quote(name)}{hint}")
        raise self.fail(
            f"can't evaluate field {name} in type {'interface {}' if iface else go_type(receiver)}"
        )

    def function(
        self, dot: Any, ident: Identifier, cmd: Any, args: list[Any] | None, final: Any
    ) -> Any:
        self.node = ident
        fn = self.funcs.get(ident.name)
        if fn is None:
            raise self.fail(f"{quote(ident.name)} is not a defined function")
        return self.call(dot, fn, cmd, ident.name, args[1:] if args else [], final)

    def call(self, dot: Any, fn: _Fn, node: Any, name: str, args: list[Any], final: Any) -> Any:
        num_in = len(args) + (final is not _MISSING)
        if fn.variadic is not None:
            num_fixed = len(fn.params)
            if num_in < num_fixed:
                raise self.fail(
                    f"wrong number of args for {name}: want at least {num_fixed} got {len(args)}"
                )
        else:
            num_fixed = len(args)
            if num_in != len(fn.params):
                raise self.fail(
                    f"wrong number of args for {name}: want {len(fn.params)} got {num_in}"
                )
        if fn.builtin and name in ("and", "or"):
            # Short-circuit: the first decisive argument is the result.
            value = None
            for arg in args:
                value = self.arg(dot, _VALUE_T, arg)
                if _truth(value) == (name == "or"):
                    return value
            if final is not _MISSING:
                value = self.validate(final, _VALUE_T)
            return value
        argv = [self.arg(dot, fn.params[i], args[i]) for i in range(min(num_fixed, len(args)))]
        for arg in args[len(argv) :]:
            argv.append(self.arg(dot, fn.variadic, arg))
        if final is not _MISSING:
            kind = fn.params[-1] if fn.params else fn.variadic
            if fn.variadic is not None:
                kind = fn.params[num_in - 1] if num_in - 1 < num_fixed else fn.variadic
            argv.append(self.validate(final, kind))
        try:
            if fn.builtin and name == "call":
                # No template value is a function, so every call fails as in Go.
                callee = node_str(args[0]) if args else "<nil>"
                if argv[0] is None:
                    raise _FuncError("call of nil")
                raise _FuncError(f"non-function {callee} of type {go_type(argv[0])}")
            return fn.impl(*argv)
        except (_ExecFail, _BreakLoop, _ContinueLoop):
            raise
        except Exception as exc:  # Go's safeCall: a failing function is an error
            self.node = node
            raise self.fail(f"error calling {name}: {_func_message(exc)}") from None

    def arg(self, dot: Any, kind: str | None, node: Any) -> Any:
        """Go's ``evalArg``: an argument evaluated for a parameter of type ``kind``."""
        self.node = node
        t = type(node)
        if t is Dot:
            return self.validate(dot, kind)
        if t is Nil:
            if kind == _STRING_T:
                raise self.fail(f"cannot assign nil to {kind}")
            return None
        if t is Field:
            value = self.field_chain(dot, dot, self.dot_iface, node, node.ident, [node], _MISSING)
            return self.validate(value, kind)
        if t is Variable:
            return self.validate(self.variable(dot, node, None, _MISSING), kind)
        if t is Pipe:
            return self.validate(self.pipeline(dot, node), kind)
        if t is Identifier:
            return self.validate(self.function(dot, node, node, None, _MISSING), kind)
        if t is Chain:
            return self.validate(self.chain(dot, node, None, _MISSING), kind)
        if kind == _STRING_T:
            if t is String:
                return node.text
            raise self.fail(f"expected string; found {node_str(node)}")
        if t is Number:
            return self.ideal(node)
        return node.value if t is Bool else node.text

    def validate(self, value: Any, kind: str | None) -> Any:
        if kind == _STRING_T:
            if value is None:
                raise self.fail("invalid value; expected string")
            if not isinstance(value, str):
                raise self.fail(f"wrong type for value; expected string; got {go_type(value)}")
        return value


def _func_message(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return _go_os_error(str(exc.filename), exc)
    return str(exc) or type(exc).__name__


# --- entry point ---------------------------------------------------------------------------------


def _function_table(funcs: Mapping[str, Callable[..., Any]]) -> dict[str, _Fn]:
    table = dict(_BUILTINS)
    for name, fn in funcs.items():  # as in Go, a template's functions hide the builtins
        params, variadic = _signature(fn)
        table[name] = _Fn(fn, params, variadic)
    return table


def _exec_error(text: str, name: str, fail: _ExecFail) -> TemplateError:
    node = fail.node
    if node is None:
        return TemplateError(fail.message, file=name)
    pos = node.pos
    line_start = text.rfind("\n", 0, pos) + 1
    column = len(text[line_start:pos].encode("utf-8", "surrogatepass"))  # Go counts bytes
    return TemplateError(
        f"executing {quote(name)} at <{node_str(node)}>: {fail.message}",
        file=name,
        line=line_of(text, pos),
        column=column,
    )


def render(
    text: str,
    name: str,
    data: Mapping[str, Any],
    *,
    funcs: Mapping[str, Callable[..., Any]] | None = None,
) -> str:
    """Render ``text`` as Go's text/template does with ``missingkey=error``.

    ``name`` names the template in errors (the Go tool uses the file's base name);
    ``funcs`` defaults to :func:`default_funcs`. Text without ``{{`` is returned as is.

    >>> render('{{ if eq .env "prod" }}big{{ else }}small{{ end }}', "t", {"env": "dev"})
    'small'
    """
    if "{{" not in text:
        return text
    table = _function_table(default_funcs() if funcs is None else funcs)
    try:
        tree = parse(text, name, table)
        run = _Exec(table, data)
        run.walk(data, tree)
        return "".join(run.out)
    except ParseFail as exc:
        raise TemplateError(exc.message, file=name, line=exc.line) from None
    except _ExecFail as exc:
        raise _exec_error(text, name, exc) from None
    except RecursionError:
        raise TemplateError("template nested too deeply", file=name) from None
    except (_BreakLoop, _ContinueLoop):  # pragma: no cover - the parser allows them in range only
        raise TemplateError("{{break}} or {{continue}} outside {{range}}", file=name) from None
