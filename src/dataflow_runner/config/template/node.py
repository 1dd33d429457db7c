"""The parse tree of a template, after Go's ``text/template/parse/node.go``.

The node classes are named after Go's (``Field``, ``Pipe``, ``Action``; ``Control``
stands for Go's IfNode, RangeNode and WithNode, which share one shape), and
:func:`node_str` prints a node as Go's ``Node.String()`` does: execution errors
quote the node they failed at (``executing "t" at <.a.b>: ...``).

Every node has ``pos``, its offset in the template text, from which errors get
their line and column.

>>> node_str(Pipe(0, [Variable(0, ("$x",))], False, [Command(0, [Field(0, ("a", "b"))])]))
'$x := .a.b'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Text:
    pos: int
    text: str


@dataclass(slots=True)
class Field:
    pos: int
    ident: tuple[str, ...]  # .a.b -> ("a", "b")


@dataclass(slots=True)
class Variable:
    pos: int
    ident: tuple[str, ...]  # $x.a -> ("$x", "a")


@dataclass(slots=True)
class Chain:
    pos: int
    node: Any  # a parenthesised pipeline or a function
    fields: tuple[str, ...]


@dataclass(slots=True)
class Identifier:
    pos: int
    name: str


@dataclass(slots=True)
class Dot:
    pos: int


@dataclass(slots=True)
class Nil:
    pos: int


@dataclass(slots=True)
class Bool:
    pos: int
    value: bool


@dataclass(slots=True)
class Number:
    pos: int
    text: str
    value: int | float | None  # None: an unsigned value beyond Go's int


@dataclass(slots=True)
class String:
    pos: int
    quoted: str
    text: str


@dataclass(slots=True)
class Command:
    pos: int
    args: list[Any]


@dataclass(slots=True)
class Pipe:
    pos: int
    decl: list[Variable]
    is_assign: bool
    cmds: list[Command]


@dataclass(slots=True)
class Action:
    pos: int
    pipe: Pipe


@dataclass(slots=True)
class Control:
    kind: str  # "if", "range" or "with"
    pos: int
    pipe: Pipe
    body: list[Any]
    else_body: list[Any] | None


@dataclass(slots=True)
class Break:
    pos: int


@dataclass(slots=True)
class Continue:
    pos: int


@dataclass(slots=True)
class End:
    """``{{end}}``: only while parsing, it closes a list of nodes (Go's endNode)."""

    pos: int


@dataclass(slots=True)
class Else:
    """``{{else}}``: only while parsing, it closes a list of nodes (Go's elseNode)."""

    pos: int


#: The nodes that are constants: a pipeline stage after the first cannot be one.
LITERALS = (Bool, Dot, Nil, Number, String)


def node_str(node: Any) -> str:
    """Go's ``Node.String()``: how error messages show a piece of the template."""
    t = type(node)
    if t is Field:
        return "".join("." + name for name in node.ident)
    if t is Variable:
        return ".".join(node.ident)
    if t is Chain:
        base = node_str(node.node)
        if type(node.node) is Pipe:
            base = f"({base})"
        return base + "".join("." + name for name in node.fields)
    if t is Identifier:
        return str(node.name)
    if t is Dot:
        return "."
    if t is Nil:
        return "nil"
    if t is Bool:
        return "true" if node.value else "false"
    if t is Number:
        return str(node.text)
    if t is String:
        return str(node.quoted)
    if t is Command:
        return " ".join(f"({node_str(a)})" if type(a) is Pipe else node_str(a) for a in node.args)
    if t is Pipe:
        decl = ", ".join(node_str(v) for v in node.decl)
        if decl:
            decl += " = " if node.is_assign else " := "
        return decl + " | ".join(node_str(c) for c in node.cmds)
    if t is Action:
        return "{{" + node_str(node.pipe) + "}}"
    if t is Text:
        return str(node.text)
    if t is Control:
        out = f"{{{{{node.kind} {node_str(node.pipe)}}}}}" + "".join(map(node_str, node.body))
        if node.else_body is not None:
            out += "{{else}}" + "".join(map(node_str, node.else_body))
        return out + "{{end}}"
    if t is End:
        return "{{end}}"
    if t is Else:
        return "{{else}}"
    return "{{break}}" if t is Break else "{{continue}}"
