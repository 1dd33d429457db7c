"""The executor of the template engine, after Go's ``text/template/exec.go``.

:class:`Exec` walks the tree of :mod:`.parse` with Go's semantics: ``missingkey=error``
(a missing map key is an error, with a hint to pass it with ``--vars``) or
``missingkey=default`` (it is Go's invalid value, printed ``<no value>``), Go's
truth, the static types Go's messages mention (a value read from a map or a list is
an ``interface {}``), arguments checked against the parameter types of
:mod:`.funcs`, ``and``/``or`` evaluating only the arguments they need, and a
failing function reported as ``error calling NAME: ...``.

It also keeps a rendering bounded: what it writes is charged to a :class:`~.funcs.Budget`
(:class:`~.fmt.OutputLimit` once it is spent), a function may not return a string
longer than what is left of it (a loop doubling a string stops there), and
``{{range}}`` runs at most :data:`MAX_ITERATIONS` times in all.

An error is raised as :class:`ExecFail` with the node it happened at, from which
the caller gets Go's line, column and ``<node>``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from dataflow_runner.config.template.fmt import OutputLimit, go_type, value_string
from dataflow_runner.config.template.funcs import (
    INT_T,
    STRING_T,
    VALUE_T,
    Budget,
    Fn,
    FuncError,
    go_os_error,
    truth,
)
from dataflow_runner.config.template.node import (
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
    Pipe,
    String,
    Text,
    Variable,
    node_str,
)
from dataflow_runner.config.template.strconv import quote

#: Iterations of {{range}} in one rendering (configs range over a handful of values).
MAX_ITERATIONS = 1_000_000


class ExecFail(Exception):
    """An execution error: Go's message, and the node it happened at."""

    def __init__(self, node: Any, message: str) -> None:
        super().__init__(message)
        self.node, self.message = node, message


class BreakLoop(Exception):
    """{{break}}: leaves the innermost {{range}}."""


class ContinueLoop(Exception):
    """{{continue}}: goes on with the next iteration of the innermost {{range}}."""


_MISSING: Any = object()  # "no value piped in" (Go's missingVal)
_NO_ENTRY: Any = object()  # a key missing under missingkey=default: Go's invalid value

#: What a missing map key is, as Go's ``Option("missingkey=...")`` says: an error, or
#: an invalid value ("default", or its other name "invalid") that prints as <no value>
#: and reads on as nothing, or the map's zero value ("zero": for the vars map, a nil
#: interface{}, which prints as <no value> too but cannot be read further).
MissingKey = Literal["error", "default", "invalid", "zero"]
MISSING_KEYS: tuple[MissingKey, ...] = ("error", "default", "invalid", "zero")


def _printed(value: Any) -> str:
    """What an action prints: Go's %v, and <no value> for nil."""
    return "<no value>" if value is None else value_string(value)


class Exec:
    """The state of one execution (Go's ``state``): variables, output, the node at work."""

    def __init__(
        self, funcs: Mapping[str, Fn], data: Any, budget: Budget, missing_key: MissingKey = "error"
    ) -> None:
        self.funcs = funcs
        self.missing_key = missing_key
        self.budget = budget
        self.root = data
        self.node: Any = None  # the node being evaluated, for error messages
        # (name, value, static type is interface{}): in Go a value read from a map or a
        # list has the static type interface{}, which shows in some error messages.
        self.vars: list[tuple[str, Any, bool]] = [("$", data, False)]
        self.dot_iface = False
        self.out: list[str] = []
        self.iterations = 0

    def fail(self, message: str) -> ExecFail:
        """The error to raise, at the node being evaluated (Go's ``s.errorf``)."""
        return ExecFail(self.node, message)

    # --- walking ---

    def write(self, text: str) -> None:
        self.budget.charge(len(text))
        self.out.append(text)

    def walk(self, dot: Any, nodes: list[Any]) -> None:
        write = self.write
        for node in nodes:
            t = type(node)
            if t is Text:
                write(node.text)
            elif t is Action:
                self.node = node
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    write(_printed(value))
            elif t is Control:
                self.node = node
                if node.kind == "range":
                    self.walk_range(dot, node)
                else:
                    self.walk_if_with(dot, node)
            elif t is Break:
                raise BreakLoop
            else:
                raise ContinueLoop

    def walk_if_with(self, dot: Any, node: Control) -> None:
        mark = len(self.vars)
        value = self.pipeline(dot, node.pipe)
        if truth(value):
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
        # The (index, element) pairs are made as the loop goes: counted first, they
        # need not exist at once ({{range 1000000}} would make a million).
        items: Iterable[tuple[Any, Any]]
        iface = True
        if isinstance(value, list | tuple):
            items, count = enumerate(value), len(value)
        elif isinstance(value, Mapping):
            keys = sorted(value, key=lambda k: (str(type(k)), k))
            items, count = ((k, value[k]) for k in keys), len(keys)
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decl) > 1:
                raise self.fail(f"can't use {value} to iterate over more than one variable")
            items, count, iface = ((i, i) for i in range(value)), max(value, 0), False
        elif value is None:
            items, count = (), 0
        else:
            raise self.fail(f"range can't iterate over {value_string(value)}")
        self.iterations += count
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
                except ContinueLoop:
                    pass
                finally:
                    del self.vars[mark:]
        except BreakLoop:
            pass
        finally:
            self.dot_iface = saved
        if not count and node.else_body is not None:
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
            # A value read from a map is an interface{}; Go's invalid value is not one,
            # and the next field of it is again an invalid value, not an error.
            iface = receiver is not _NO_ENTRY
            if not iface:
                receiver = None
        value = self.field(ident[-1], args, final, receiver, iface)
        return None if value is _NO_ENTRY else value

    def field(
        self, name: str, args: list[Any] | None, final: Any, receiver: Any, iface: bool
    ) -> Any:
        if receiver is None:
            if iface:
                raise self.fail(f"nil pointer evaluating interface {{}}.{name}")
            if self.missing_key != "error":  # Go's invalid value: its fields are too
                return _NO_ENTRY
            raise self.fail(f"nil data; no entry for key {quote(name)}")
        if isinstance(receiver, Mapping):
            if (args is not None and len(args) > 1) or final is not _MISSING:
                raise self.fail(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            if self.missing_key == "zero":
                return None  # a nil interface{}: reading a field of it is an error
            if self.missing_key != "error":
                return _NO_ENTRY
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

    def call(self, dot: Any, fn: Fn, node: Any, name: str, args: list[Any], final: Any) -> Any:
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
                value = self.arg(dot, VALUE_T, arg)
                if truth(value) == (name == "or"):
                    return value
            if final is not _MISSING:
                value = self.validate(final, VALUE_T)
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
                    raise FuncError("call of nil")
                raise FuncError(f"non-function {callee} of type {go_type(argv[0])}")
            result = fn.impl(*argv)
        except (ExecFail, BreakLoop, ContinueLoop, OutputLimit):
            raise
        except Exception as exc:  # Go's safeCall: a failing function is an error
            self.node = node
            raise self.fail(f"error calling {name}: {_func_message(exc)}") from None
        # A string that could not be written is refused even if it is not to be, which
        # bounds what a loop can build ({{ $x = html $x }} grows fivefold each time):
        # print and printf stop by themselves, this holds the others to the same limit.
        if isinstance(result, str) and len(result) > self.budget.left:
            raise OutputLimit
        return result

    def arg(self, dot: Any, kind: str | None, node: Any) -> Any:
        """Go's ``evalArg``: an argument evaluated for a parameter of type ``kind``."""
        self.node = node
        t = type(node)
        if t is Dot:
            return self.validate(dot, kind)
        if t is Nil:
            if kind in (STRING_T, INT_T):
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
        if kind == STRING_T:
            if t is String:
                return node.text
            raise self.fail(f"expected string; found {node_str(node)}")
        if kind == INT_T:
            return self.int_constant(node)
        if t is Number:
            return self.ideal(node)
        return node.value if t is Bool else node.text

    def int_constant(self, node: Any) -> int:
        """Go's ``evalInteger``: a constant for an int parameter. As in Go, a float
        constant with an integral value (``1.0``, ``1e3``) is an integer too."""
        if type(node) is Number:
            value = node.value
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer() and -(2**63) <= value < 2**63:
                return int(value)
        raise self.fail(f"expected integer; found {node_str(node)}")

    def validate(self, value: Any, kind: str | None) -> Any:
        if kind in (STRING_T, INT_T):
            if value is None:
                raise self.fail(f"invalid value; expected {kind}")
            ok = isinstance(value, str) if kind == STRING_T else _is_int(value)
            if not ok:
                raise self.fail(f"wrong type for value; expected {kind}; got {go_type(value)}")
        return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _func_message(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return go_os_error(str(exc.filename), exc)
    return str(exc) or type(exc).__name__
