"""The subset of Go's text/template that config files use, with Go's semantics.

Config files are rendered as ``template.New(name).Funcs(...).Option(
"missingkey=error").Parse(text).Execute(vars)``. Supported: ``{{.var}}`` (a
missing key is an error), pipelines, parenthesised pipelines, variables
(``$x := ...``, ``$x = ...``, ``$``), ``if``/``else if``/``else``, ``range`` (maps
in key order, lists, integers; ``break``/``continue``; ``$i, $v :=``),
``with``/``else with``, trim markers ``{{-``/``-}}``, comments, string, raw
string, number, char, bool and nil literals, Go's builtins (``and or not len
index slice print printf println eq ne lt le gt ge html js urlquery``) and the
five functions of the Go tool (:func:`default_funcs`). ``define``, ``template``,
``block`` and ``call`` are reported as not supported.

>>> render("s3://{{ .bucket }}/{{ .day | base64 }}", "c.json", {"bucket": "b", "day": "x"})
's3://b/eA=='

Errors are :class:`~dataflow_runner.errors.TemplateError` with the template
name, line (and column for execution errors, 1-based) and Go's wording.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from dataflow_runner.config import gofmt, gotime
from dataflow_runner.errors import TemplateError

MAX_DEPTH = 100  # nesting of blocks and parentheses (Go's parser has a similar guard)
MAX_RANGE = 1_000_000  # iterations of a range over an integer

Funcs = Mapping[str, Callable[..., Any]]

# --- values ----------------------------------------------------------------------------


def truth(value: Any) -> bool:
    """Go's notion of true: non-zero, non-empty, non-nil."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | list | tuple | dict):
        return len(value) > 0
    return True


def _printable(value: Any) -> str:
    return "<no value>" if value is None else gofmt.value_string(value)


# --- lexing ------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
  | (?P<decl>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+
        |(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?))
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    pos: int  # offset in the template text


def _lex_action(text: str, start: int, name: str, src: str) -> tuple[list[Tok], int, bool]:
    """Tokens of the action starting at ``start`` (after ``{{``); returns the tokens,
    the offset after ``}}`` and whether it ends with a trim marker."""
    toks: list[Tok] = []
    i = start
    while True:
        if text.startswith("}}", i):
            return toks, i + 2, False
        if text.startswith("-}}", i) and toks and i > start and text[i - 1] in " \t\r\n":
            return toks, i + 3, True
        if i >= len(text):
            raise _parse_error(src, name, start, "unclosed action")
        m = _TOKEN.match(text, i)
        if m is None:
            problem = {
                '"': "unterminated quoted string",
                "`": "unterminated raw quoted string",
                "'": "unterminated character constant",
            }.get(text[i], f"unexpected {text[i]!r} in command")
            raise _parse_error(src, name, i, problem)
        kind = m.lastgroup or ""
        if kind != "space":
            toks.append(Tok(kind, m.group(), i))
        i = m.end()


def _line(src: str, pos: int) -> int:
    return src.count("\n", 0, pos) + 1


def _column(src: str, pos: int) -> int:
    return pos - (src.rfind("\n", 0, pos) + 1) + 1


def _parse_error(src: str, name: str, pos: int, message: str) -> TemplateError:
    return TemplateError(message, file=name, line=_line(src, pos))


# --- the tree --------------------------------------------------------------------------


@dataclass
class Node:
    pos: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Command(Node):
    args: list[Any]  # operands: Field | Var | Lit | Ident | Dot | Nil | Pipeline


@dataclass
class Pipeline(Node):
    decl: list[str] = field(default_factory=list)
    assign: bool = False  # ``=`` rather than ``:=``
    commands: list[Command] = field(default_factory=list)


@dataclass
class Field(Node):
    names: list[str]
    base: Any = None  # None: relative to dot; else an operand (``$x.a``, ``(pipe).a``)


@dataclass
class Var(Node):
    name: str


@dataclass
class Lit(Node):
    value: Any


@dataclass
class Ident(Node):
    name: str


@dataclass
class Dot(Node):
    pass


@dataclass
class Nil(Node):
    pass


@dataclass
class Action(Node):
    pipe: Pipeline


@dataclass
class Branch(Node):
    kind: str  # if | with | range
    pipe: Pipeline
    body: list[Node]
    else_body: list[Node]


@dataclass
class Loop(Node):
    kind: str  # break | continue


_KEYWORDS = {
    "if",
    "else",
    "end",
    "range",
    "with",
    "break",
    "continue",
    "define",
    "template",
    "block",
}


class _Parser:
    def __init__(self, src: str, name: str, funcs: Funcs) -> None:
        self.src, self.name, self.funcs = src, name, funcs

    def error(self, pos: int, message: str) -> TemplateError:
        return _parse_error(self.src, self.name, pos, message)

    def items(self) -> Iterator[tuple[str, Any, int]]:
        """("text", str, pos) and ("action", tokens, pos) with trimming applied."""
        src = self.src
        i = 0
        pending: list[tuple[str, Any, int]] = []
        trim_next = False
        while True:
            j = src.find("{{", i)
            text = src[i:] if j < 0 else src[i:j]
            if trim_next:
                text = text.lstrip(" \t\r\n")
            if j < 0:
                pending.append(("text", text, i))
                break
            k = j + 2
            trim_left = src.startswith("-", k) and src[k + 1 : k + 2] in (" ", "\t", "\r", "\n")
            if trim_left:
                text = text.rstrip(" \t\r\n")
                k += 2
            pending.append(("text", text, i))
            body = k
            while body < len(src) and src[body] in " \t\r\n" and trim_left:
                body += 1
            if src.startswith("/*", body):
                end = src.find("*/", body + 2)
                if end < 0:
                    raise self.error(j, "unclosed comment")
                after = end + 2
                if src.startswith("}}", after):
                    i, trim_next = after + 2, False
                elif src.startswith(" -}}", after):
                    i, trim_next = after + 4, True
                else:
                    raise self.error(j, "comment ends before closing delimiter")
                continue
            toks, i, trim_next = _lex_action(src, k, self.name, src)
            pending.append(("action", toks, j))
        return iter(pending)

    # --- structure ---------------------------------------------------------------

    def parse(self) -> list[Node]:
        self._items = self.items()
        self._ranges = 0
        body, end = self._list(depth=0)
        if end is not None:
            word, pos = end
            raise self.error(pos, f"unexpected {{{{{word}}}}}")
        return body

    def _list(self, depth: int) -> tuple[list[Node], tuple[str, int] | None]:
        """Nodes up to an ``end``/``else`` (returned) or the end of the text."""
        if depth > MAX_DEPTH:
            raise self.error(0, "template nested too deeply")
        nodes: list[Node] = []
        for kind, value, pos in self._items:
            if kind == "text":
                if value:
                    nodes.append(Text(pos, value))
                continue
            toks: list[Tok] = value
            if not toks:
                raise self.error(pos, "missing value for command")
            head = toks[0]
            if head.kind == "ident" and head.text in _KEYWORDS:
                word = head.text
                if word in ("end", "else"):
                    self._else_tokens = toks[1:]
                    if word == "end" and len(toks) > 1:
                        raise self.error(pos, "unexpected token after end")
                    return nodes, (word, pos)
                if word in ("if", "with", "range"):
                    nodes.append(self._branch(word, toks[1:], pos, depth))
                elif word in ("break", "continue"):
                    if not self._ranges:
                        raise self.error(pos, f"{{{{{word}}}}} outside {{{{range}}}}")
                    nodes.append(Loop(pos, word))
                else:
                    raise self.error(pos, f"{{{{{word}}}}} is not supported in config templates")
                continue
            nodes.append(Action(pos, self._pipeline(toks, pos, allow_decl=True)))
        return nodes, None

    def _branch(self, word: str, toks: list[Tok], pos: int, depth: int) -> Branch:
        if not toks:
            raise self.error(pos, f"missing value for {word}")
        pipe = self._pipeline(toks, pos, allow_decl=True, allow_two=word == "range")
        self._ranges += word == "range"
        body, end = self._list(depth + 1)
        self._ranges -= word == "range"
        if end is None:
            raise self.error(
                pos,
                f"unexpected EOF: missing {{{{end}}}} for {{{{{word}}}}} "
                f"started at line {_line(self.src, pos)}",
            )
        else_body: list[Node] = []
        if end[0] == "else":
            rest = self._else_tokens
            if (
                rest
                and rest[0].kind == "ident"
                and rest[0].text in ("if", "with")
                and word in ("if", "with")
            ):
                if rest[0].text != word:
                    raise self.error(end[1], f"else {rest[0].text} in {word} block")
                # ``else if X`` is ``else`` holding ``if X ... end`` (sharing the end).
                else_body = [self._branch(word, rest[1:], end[1], depth + 1)]
                return Branch(pos, word, pipe, body, else_body)
            if rest:
                raise self.error(end[1], "unexpected token after else")
            else_body, end2 = self._list(depth + 1)
            if end2 is None or end2[0] != "end":
                raise self.error(
                    pos,
                    f"unexpected EOF: missing {{{{end}}}} for {{{{{word}}}}} "
                    f"started at line {_line(self.src, pos)}",
                )
        return Branch(pos, word, pipe, body, else_body)

    # --- pipelines -----------------------------------------------------------------

    def _pipeline(
        self, toks: list[Tok], pos: int, *, allow_decl: bool = False, allow_two: bool = False
    ) -> Pipeline:
        pipe = Pipeline(toks[0].pos if toks else pos)
        i = 0
        if allow_decl and toks and toks[0].kind == "variable":
            names = [toks[0].text]
            j = 1
            if (
                allow_two
                and len(toks) > 2
                and toks[1].kind == "comma"
                and toks[2].kind == "variable"
            ):
                names.append(toks[2].text)
                j = 3
            if j < len(toks) and toks[j].kind in ("decl", "assign"):
                pipe.decl = names
                pipe.assign = toks[j].kind == "assign"
                i = j + 1
        groups: list[list[Tok]] = [[]]
        depth = 0
        for tok in toks[i:]:
            if tok.kind == "lparen":
                depth += 1
            elif tok.kind == "rparen":
                depth -= 1
                if depth < 0:
                    raise self.error(tok.pos, "unexpected right paren")
            if tok.kind == "pipe" and depth == 0:
                groups.append([])
            else:
                groups[-1].append(tok)
        if depth > 0:
            raise self.error(pos, "unclosed left paren")
        for group in groups:
            if not group:
                raise self.error(
                    pos, "missing command" if len(groups) > 1 else "missing value for command"
                )
            pipe.commands.append(self._command(group))
        return pipe

    def _command(self, toks: list[Tok]) -> Command:
        args: list[Any] = []
        i = 0
        while i < len(toks):
            operand, i = self._operand(toks, i)
            args.append(operand)
        return Command(toks[0].pos, args)

    def _operand(self, toks: list[Tok], i: int) -> tuple[Any, int]:
        tok = toks[i]
        node: Any
        if tok.kind == "lparen":
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                depth += {"lparen": 1, "rparen": -1}.get(toks[j].kind, 0)
                j += 1
            inner = toks[i + 1 : j - 1]
            if not inner:
                raise self.error(tok.pos, "missing value for parenthesized pipeline")
            node = self._pipeline(inner, tok.pos, allow_decl=True)
            i = j
        else:
            node = self._term(tok)
            i += 1
        # Field chains on a term: ``$x.a.b``, ``(pipe).a``.
        while i < len(toks) and toks[i].kind == "field" and toks[i].pos == _end(toks[i - 1]):
            names = toks[i].text[1:].split(".")
            if isinstance(node, Field) and node.base is None:
                node = Field(node.pos, node.names + names)
            else:
                node = Field(toks[i].pos, names, base=node)
            i += 1
        return node, i

    def _term(self, tok: Tok) -> Any:
        kind, text, pos = tok.kind, tok.text, tok.pos
        if kind == "field":
            return Field(pos, text[1:].split("."))
        if kind == "variable":
            return Var(pos, text)
        if kind == "dot":
            return Dot(pos)
        if kind == "ident":
            if text in ("true", "false"):
                return Lit(pos, text == "true")
            if text == "nil":
                return Nil(pos)
            if text in _KEYWORDS:
                raise self.error(pos, f"unexpected <{text}> in command")
            if text not in self.funcs and text not in BUILTINS:
                raise self.error(
                    pos,
                    f'function "{text}" not defined (the functions are '
                    "nowWithFormat, timeWithFormat, systemEnv, base64, "
                    "base64File and Go's builtins)",
                )
            return Ident(pos, text)
        if kind == "string":
            return Lit(pos, _unquote(text, self, pos))
        if kind == "raw":
            return Lit(pos, text[1:-1])
        if kind == "char":
            value = _unquote('"' + text[1:-1].replace('"', '\\"') + '"', self, pos)
            if len(value) != 1:
                raise self.error(pos, f"malformed character constant: {text}")
            return Lit(pos, ord(value))
        if kind == "number":
            return Lit(pos, _number(text, self, pos))
        raise self.error(pos, f"unexpected {text!r} in operand")


def _end(tok: Tok) -> int:
    return tok.pos + len(tok.text)


_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def _unquote(text: str, parser: _Parser, pos: int) -> str:
    """A Go double-quoted string literal's value."""
    body = text[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not re.fullmatch(r"[0-9a-fA-F]+", digits):
                raise parser.error(pos, f"invalid syntax: {text}")
            out.append(chr(int(digits, 16)))
            i += 2 + size
        elif nxt.isdigit():
            digits = body[i + 1 : i + 4]
            if not re.fullmatch(r"[0-7]{3}", digits):
                raise parser.error(pos, f"invalid syntax: {text}")
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise parser.error(pos, f"invalid syntax: {text}")
    return "".join(out)


def _number(text: str, parser: _Parser, pos: int) -> int | float:
    clean = text.replace("_", "")
    try:
        low = clean.lower().lstrip("+-")
        if low.startswith(("0x", "0b", "0o")):
            return int(clean, 0)
        if re.fullmatch(r"[+-]?0[0-7]+", clean):
            return int(clean, 8)
        if re.fullmatch(r"[+-]?\d+", clean):
            return int(clean)
        return float(clean)
    except ValueError:
        raise parser.error(pos, f"bad number syntax: {text!r}") from None


# --- builtins ------------------------------------------------------------------------


class _ExecError(Exception):
    """An error raised while executing (converted to a TemplateError with position)."""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(a: Any, *rest: Any) -> bool:
    if not rest:
        raise _ExecError("missing argument for comparison")
    for b in rest:
        ka, kb = _kind(a), _kind(b)
        if a is None or b is None:
            if a is None and b is None:
                return True
            if (a is None and kb == "other") or (b is None and ka == "other"):
                raise _ExecError("incompatible types for comparison")
            continue
        if ka == "other" or kb == "other":
            raise _ExecError(f"uncomparable type {gofmt.go_type(a if ka == 'other' else b)}")
        if ka != kb:
            raise _ExecError("incompatible types for comparison")
        if a == b:
            return True
    return False


def _order(a: Any, b: Any) -> int:
    ka, kb = _kind(a), _kind(b)
    if ka not in ("int", "float", "string") or kb not in ("int", "float", "string"):
        raise _ExecError("invalid type for comparison")
    if ka != kb:
        raise _ExecError("incompatible types for comparison")
    return int(a > b) - int(a < b)


def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, list | tuple | dict):
        return len(value)
    raise _ExecError(f"len of type {gofmt.go_type(value)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            if not isinstance(key, str):
                raise _ExecError(f"value has type {gofmt.go_type(key)}; should be string")
            item = item.get(key)
        elif isinstance(item, list | tuple | str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise _ExecError(f"cannot index slice/array with type {gofmt.go_type(key)}")
            if not 0 <= key < len(item):
                raise _ExecError(f"index out of range: {key}")
            item = item[key] if not isinstance(item, str) else item.encode()[key]
        elif item is None:
            raise _ExecError("index of untyped nil")
        else:
            raise _ExecError(f"can't index item of type {gofmt.go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if not isinstance(item, str | list | tuple):
        raise _ExecError(f"can't slice item of type {gofmt.go_type(item)}")
    if len(indexes) > (2 if isinstance(item, str) else 3):
        raise _ExecError(f"too many slice indexes: {len(indexes)}")
    bounds = [int(i) for i in indexes]
    start = bounds[0] if bounds else 0
    stop = bounds[1] if len(bounds) > 1 else len(item)
    if not 0 <= start <= stop <= len(item):
        raise _ExecError(f"index out of range: {stop if stop > len(item) else start}")
    return item[start:stop]


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _ExecError(f"wrong type for value; expected string; got {gofmt.go_type(value)}")
    return value


def _js(text: Any) -> str:
    out = []
    for c in gofmt.sprint(text):
        if c in "\\'\"<>&=":
            out.append(f"\\u{ord(c):04X}" if c in "<>&=" else "\\" + c)
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


BUILTINS: dict[str, Callable[..., Any]] = {
    "eq": _eq,
    "ne": lambda a, *b: not _eq(a, *b),
    "lt": lambda a, b: _order(a, b) < 0,
    "le": lambda a, b: _order(a, b) <= 0,
    "gt": lambda a, b: _order(a, b) > 0,
    "ge": lambda a, b: _order(a, b) >= 0,
    "not": lambda a: not truth(a),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": gofmt.sprint,
    "printf": lambda f, *a: gofmt.sprintf(_string(f), *a),
    "println": gofmt.sprintln,
    "html": lambda *a: (
        html.escape(gofmt.sprint(*a)).replace("&#x27;", "&#39;").replace("&quot;", "&#34;")
    ),
    "js": lambda *a: _js(gofmt.sprint(*a)),
    "urlquery": lambda *a: urllib.parse.quote_plus(gofmt.sprint(*a)),
    # ``and``/``or`` evaluate their arguments lazily: _Exec.call handles them.
    "and": lambda *a: a[-1],
    "or": lambda *a: a[-1],
}
_ARITY = {
    "eq": (1, None),
    "ne": (2, 2),
    "lt": (2, 2),
    "le": (2, 2),
    "gt": (2, 2),
    "ge": (2, 2),
    "not": (1, 1),
    "len": (1, 1),
    "index": (1, None),
    "slice": (1, None),
    "printf": (1, None),
    "and": (1, None),
    "or": (1, None),
}


def default_funcs(
    *,
    now: Callable[[], dt.datetime] | None = None,
    environ: Mapping[str, str] | None = None,
    read_file: Callable[[str], bytes] | None = None,
) -> dict[str, Callable[..., Any]]:
    """The Go tool's five template functions (injectable clock, env and files for tests)."""
    clock = now or (lambda: dt.datetime.now().astimezone())
    env = os.environ if environ is None else environ

    def _read(path: str) -> bytes:
        with open(path, "rb") as fh:
            return fh.read()

    reader = read_file or _read

    def base64_file(path: str) -> str:
        try:
            return base64.b64encode(reader(path)).decode()
        except OSError as exc:
            # Go's wording: "open PATH: no such file or directory".
            raise _ExecError(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None

    def now_with_format(layout: str) -> str:
        return gotime.format_go_time(clock(), layout)

    def time_with_format(epoch: str, layout: str) -> str:
        try:
            seconds = gotime.parse_epoch(epoch)
            return gotime.format_go_time(gotime.from_epoch(seconds), layout)
        except ValueError as exc:
            raise _ExecError(str(exc)) from None

    def system_env(name: str) -> str:
        if name not in env:
            raise _ExecError(f"environment variable {name} not set")
        return env[name]

    return {
        "nowWithFormat": now_with_format,
        "timeWithFormat": time_with_format,
        "systemEnv": system_env,
        "base64": lambda text: base64.b64encode(text.encode()).decode(),
        "base64File": base64_file,
    }


#: The string parameters of the five functions (Go converts arguments to them).
_STRING_PARAMS = {
    "nowWithFormat": 1,
    "timeWithFormat": 2,
    "systemEnv": 1,
    "base64": 1,
    "base64File": 1,
}


# --- execution ---------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Exec:
    def __init__(self, src: str, name: str, funcs: Funcs, data: Any) -> None:
        self.src, self.name, self.funcs = src, name, funcs
        self.out: list[str] = []
        self.vars: list[tuple[str, Any]] = [("$", data)]

    def error(self, node: Node, message: str) -> TemplateError:
        context = self.src[node.pos : node.pos + 40].split("}}")[0].split("\n")[0].strip()
        return TemplateError(
            f'executing "{self.name}" at <{context}>: {message}',
            file=self.name,
            line=_line(self.src, node.pos),
            column=_column(self.src, node.pos),
        )

    def walk(self, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipeline(node.pipe, dot)
                if not node.pipe.decl:
                    self.out.append(_printable(value))
            elif isinstance(node, Branch):
                self.branch(node, dot)
            elif isinstance(node, Loop):
                raise _Break() if node.kind == "break" else _Continue()

    def branch(self, node: Branch, dot: Any) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(node, dot)
                return
            value = self.pipeline(node.pipe, dot)
            if truth(value):
                self.walk(node.body, value if node.kind == "with" else dot)
            else:
                del self.vars[mark:]
                self.walk(node.else_body, dot)
        finally:
            del self.vars[mark:]

    def range(self, node: Branch, dot: Any) -> None:
        value = self.pipeline(node.pipe, dot, declare=False)
        if isinstance(value, dict):
            items: list[tuple[Any, Any]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            if value > MAX_RANGE:
                raise self.error(node.pipe, f"range over {value} is too long")
            items = [(i, i) for i in range(value)]
        elif value is None:
            items = []
        else:
            raise self.error(node.pipe, f"range can't iterate over {_printable(value)}")
        if not items:
            self.walk(node.else_body, dot)
            return
        mark = len(self.vars)
        for key, elem in items:
            del self.vars[mark:]
            names = node.pipe.decl
            if len(names) == 1:
                self.vars.append((names[0], elem))
            elif len(names) == 2:
                self.vars.extend([(names[0], key), (names[1], elem)])
            try:
                self.walk(node.body, elem)
            except _Break:
                break
            except _Continue:
                continue

    def pipeline(self, pipe: Pipeline, dot: Any, *, declare: bool = True) -> Any:
        value: Any = _NO_ARG
        for cmd in pipe.commands:
            value = self.command(cmd, dot, value)
        if pipe.decl and declare:
            if pipe.assign:
                self.set_var(pipe, pipe.decl[0], value)
            else:
                self.vars.append((pipe.decl[0], value))
        return value

    def set_var(self, node: Node, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise self.error(node, f"undefined variable: {name}")

    def command(self, cmd: Command, dot: Any, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, Ident):
            return self.call(first, cmd.args[1:], dot, final)
        if len(cmd.args) > 1 or final is not _NO_ARG:
            what = self.src[first.pos :].split()[0] if isinstance(first, Field) else "a value"
            raise self.error(first, f"can't give argument to non-function {what}")
        return self.operand(first, dot)

    def operand(self, node: Any, dot: Any) -> Any:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Nil):
            raise self.error(node, "nil is not a command")
        if isinstance(node, Var):
            for name, value in reversed(self.vars):
                if name == node.name:
                    return value
            raise self.error(node, f"undefined variable: {node.name}")
        if isinstance(node, Pipeline):
            mark = len(self.vars)
            try:
                return self.pipeline(node, dot)
            finally:
                del self.vars[mark:]
        if isinstance(node, Field):
            base = dot if node.base is None else self.operand(node.base, dot)
            return self.field(node, base)
        if isinstance(node, Ident):
            return self.call(node, [], dot, _NO_ARG)
        raise self.error(node, "unexpected node")

    def field(self, node: Field, value: Any) -> Any:
        for name in node.names:
            if isinstance(value, dict):
                if name not in value:
                    hint = (
                        f" (pass it with --vars {name},VALUE)" if value is self.vars[0][1] else ""
                    )
                    raise self.error(node, f'map has no entry for key "{name}"{hint}')
                value = value[name]
            elif value is None:
                raise self.error(node, f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self.error(
                    node, f"can't evaluate field {name} in type {gofmt.go_type(value)}"
                )
        return value

    def call(self, ident: Ident, args: list[Any], dot: Any, final: Any) -> Any:
        name = ident.name
        count = len(args) + (final is not _NO_ARG)
        if name in ("and", "or"):
            if count < 1:
                raise self.error(ident, f"wrong number of args for {name}: want at least 1 got 0")
            # Evaluated lazily, left to right: the first decisive value is the result.
            value: Any = None
            nodes = list(args)
            for i in range(count):
                value = final if i == len(nodes) else self.operand(nodes[i], dot)
                if truth(value) != (name == "and"):
                    return value
            return value
        fn = self.funcs.get(name) or BUILTINS.get(name)
        if fn is None:
            raise self.error(ident, f'function "{name}" not defined')
        values = [self.operand(a, dot) for a in args]
        if final is not _NO_ARG:
            values.append(final)
        self.check_args(ident, name, values)
        try:
            return fn(*values)
        except _ExecError as exc:
            raise self.error(ident, f"error calling {name}: {exc}") from None
        except TemplateError:
            raise
        except Exception as exc:  # a function must never crash the run
            raise self.error(ident, f"error calling {name}: {exc}") from None

    def check_args(self, ident: Ident, name: str, values: list[Any]) -> None:
        if name in _STRING_PARAMS:
            want = _STRING_PARAMS[name]
            if len(values) != want:
                raise self.error(
                    ident, f"wrong number of args for {name}: want {want} got {len(values)}"
                )
            for v in values:
                if not isinstance(v, str):
                    raise self.error(
                        ident, f"wrong type for value; expected string; got {gofmt.go_type(v)}"
                    )
            return
        low, high = _ARITY.get(name, (0, None))
        if len(values) < low or (high is not None and len(values) > high):
            wanted = f"{low}" if low == high else f"at least {low}"
            raise self.error(
                ident, f"wrong number of args for {name}: want {wanted} got {len(values)}"
            )


_NO_ARG = object()
_CACHE: dict[tuple[str, str, frozenset[str]], list[Node]] = {}


def parse(text: str, name: str, funcs: Funcs | None = None) -> list[Node]:
    """Parse a template (cached): raises TemplateError for a syntax error."""
    table = default_funcs() if funcs is None else funcs
    key = (text, name, frozenset(table))
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = _Parser(text, name, table).parse()
    return _CACHE[key]


def render(text: str, name: str, data: Mapping[str, Any], *, funcs: Funcs | None = None) -> str:
    """Render ``text`` as Go's text/template would, with ``missingkey=error``.

    ``name`` is the template's name (the Go tool uses the file's base name).
    """
    if "{{" not in text:
        return text
    table = default_funcs() if funcs is None else funcs
    tree = parse(text, name, table)
    run = _Exec(text, name, table, dict(data))
    try:
        run.walk(tree, run.vars[0][1])
    except RecursionError:
        raise TemplateError("template nested too deeply", file=name) from None
    return "".join(run.out)
