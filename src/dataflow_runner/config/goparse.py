"""The lexer and parser of the Go text/template subset (see :mod:`.gotemplate`).

They follow Go's ``text/template/parse`` package (``lex.go``, ``parse.go``,
``node.go``) closely, so that templates are accepted or refused as Go does and
errors carry Go's wording and line. The tree is made of small node classes named
after Go's (``Field``, ``Pipe``, ``Control`` for if/range/with...), and
:func:`node_str` prints a node as Go's ``Node.String()`` does, for error messages.

>>> [type(n).__name__ for n in parse("a{{ .b | print }}", "t", {"print"})]
['Text', 'Action']
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, NamedTuple

from dataflow_runner.config.gofmt import quote

#: Nesting of {{if}}/{{range}}/{{with}} and parentheses that a template may use (Go
#: counts both against one limit too); it keeps hostile input far from Python's
#: recursion limit.
MAX_DEPTH = 100

# --- lexer (Go's text/template/parse/lex.go) ----------------------------------------------

_ERROR, _BOOL, _CHAR, _CHARCONST, _COMPLEX, _ASSIGN, _DECLARE, _EOF, _FIELD = range(9)
_IDENT, _LDELIM, _LPAREN, _NUMBER, _PIPE, _RAWSTRING, _RDELIM, _RPAREN = range(9, 17)
_SPACE, _STRING, _TEXT, _VARIABLE = range(17, 21)
_QUICK = 21  # a whole common action in one token (see _QUICK_ACTION)
_KEYWORD = 22  # the kinds after this one are keywords
_BLOCK, _BREAK, _CONTINUE, _DOT, _DEFINE, _ELSE, _END, _IF, _NIL = range(23, 32)
_RANGE, _TEMPLATE, _WITH = range(32, 35)

_KEYWORDS = {"block": _BLOCK, "break": _BREAK, "continue": _CONTINUE, "define": _DEFINE}
_KEYWORDS |= {"else": _ELSE, "end": _END, "if": _IF, "nil": _NIL, "range": _RANGE}
_KEYWORDS |= {"template": _TEMPLATE, "with": _WITH}
_SPACES = " \t\r\n"
_TERMINATORS = " \t\r\n.,|:)(}"  # what may follow an identifier ("}" starts "}}")
_SPACE_RUN = re.compile(r"[ \t\r\n]+")
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"')
# The actions configs are made of: {{ .name }}, {{ f .a "s" }}, {{ .a | f }}, {{ if .a }},
# {{ end }}. The lexer takes the first three whole and the parser builds the tree Go's
# parser would build for their tokens; the others are split with _FAST_TOKEN at once.
# Large files are made of these, so they deserve the shortcut.
_QUICK_ARG = re.compile(r'\.[A-Za-z_][A-Za-z0-9_]*|"[^"\\\n]*"|[A-Za-z_][A-Za-z0-9_]*')
_IDENT_ARG = re.compile(r"[ \t\r\n][A-Za-z_]")
_QUICK_ACTION = re.compile(
    r"\{\{[ \t\r\n]*(?:(\.[A-Za-z_][A-Za-z0-9_]*)"  # 1: a field alone, or
    r"|(?:(\.[A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]*\|[ \t\r\n]*)?"  # 2: a field piped into
    r"([A-Za-z_][A-Za-z0-9_]*)"  # 3: a function
    rf"((?:[ \t\r\n]+(?:{_QUICK_ARG.pattern}))*))"  # 4: and its arguments
    r"[ \t\r\n]*\}\}"
)
# Spaces, identifiers, fields, variables, strings and pipes, each only when Go's lexer
# would take it as such (an identifier must be followed by a terminator...); anything
# else goes through the general, character-by-character path.
_FAST_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\n]+)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)(?=[ \t\r\n.,|:)(}]|\Z)
    | (?P<field>\.[A-Za-z_][A-Za-z0-9_]*)(?=[ \t\r\n.,|:)(}]|\Z)
    | (?P<variable>\$[A-Za-z0-9_]*)(?=[ \t\r\n.,|:)(}]|\Z)
    | (?P<string>"(?:[^"\\\n]|\\[^\n])*")
    | (?P<pipe>\|)""",
    re.VERBOSE,
)
_CHAR_CONST = re.compile(r"'(?:[^'\\\n]|\\[^\n])*'")


class Tok(NamedTuple):
    kind: int
    pos: int  # offset in the template text
    val: str


def _rune(c: str) -> str:
    """Go's ``%#U``: ``U+0041 'A'``."""
    code = f"U+{ord(c):04X}"
    return f"{code} '{c}'" if c.isprintable() else code


_NOT_FUNCTIONS = {*_KEYWORDS, "true", "false"}
_new_tok = tuple.__new__  # makes a Tok without NamedTuple's slower constructor
_FAST_KINDS = (_ERROR, _SPACE, _IDENT, _FIELD, _VARIABLE, _STRING, _PIPE)  # by group number


def _skip_spaces(text: str, i: int) -> int:
    m = _SPACE_RUN.match(text, i)
    return m.end() if m else i


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _alnum_end(text: str, i: int) -> int:
    m = _WORD.match(text, i)
    if m is None:
        return i
    word = m.group()
    if not word.isascii():  # \w is wider than Go's letters and digits
        for k, c in enumerate(word):
            if not _is_alnum(c):
                return i + k
    return m.end()


def _scan_number(text: str, p: int) -> tuple[bool, int]:
    """Go's ``scanNumber``: whether a number ends cleanly, and where it ends."""
    n = len(text)

    def run(q: int, chars: str) -> int:
        while q < n and text[q] in chars:
            q += 1
        return q

    q = p + 1 if text[p] in "+-" else p
    digits = "0123456789_"
    if text[q : q + 1] == "0":
        q += 1
        prefix = text[q : q + 1]
        if prefix and prefix in "xX":
            q, digits = q + 1, "0123456789abcdefABCDEF_"
        elif prefix and prefix in "oO":
            q, digits = q + 1, "01234567_"
        elif prefix and prefix in "bB":
            q, digits = q + 1, "01_"
    q = run(q, digits)
    if text[q : q + 1] == ".":
        q = run(q + 1, digits)
    exponent = "eE" if len(digits) == 11 else "pP" if len(digits) == 23 else ""
    if exponent and text[q : q + 1] and text[q] in exponent:
        q += 1
        if text[q : q + 1] and text[q] in "+-":
            q += 1
        q = run(q, "0123456789_")
    if text[q : q + 1] == "i":
        q += 1
    if q < n and _is_alnum(text[q]):
        return False, q + 1
    return True, q


def lex(text: str) -> list[Tok]:
    """All the tokens of ``text``; an error token, if any, is the last before EOF."""
    toks: list[Tok] = []
    add = toks.append
    n = len(text)
    pos = 0  # start of the pending text

    def error(message: str, at: int) -> list[Tok]:
        add(Tok(_ERROR, at, message))
        toks.extend([Tok(_EOF, n, "")] * 4)
        return toks

    while True:
        x = text.find("{{", pos)
        if x < 0:
            if pos < n:
                add(Tok(_TEXT, pos, text[pos:]))
            break
        trim = text.startswith("-", x + 2) and x + 3 < n and text[x + 3] in _SPACES
        before = text[pos:x]
        if trim:
            before = before.rstrip(_SPACES)
        if before:
            add(Tok(_TEXT, pos, before))
        p = x + (4 if trim else 2)
        if text.startswith("/*", p):
            close = text.find("*/", p + 2)
            if close < 0:
                return error("unclosed comment", p)
            q = close + 2
            trim_right = text[q : q + 1] in _SPACES and text.startswith("-}}", q + 1)
            if not trim_right and not text.startswith("}}", q):
                return error("comment ends before closing delimiter", p)
            pos = _skip_spaces(text, q + 4) if trim_right else q + 2
            continue
        quick = None if trim else _QUICK_ACTION.match(text, x)
        if quick:
            if quick.group(1) or (
                quick.group(3) not in _NOT_FUNCTIONS and not _IDENT_ARG.search(quick.group(4))
            ):
                add(Tok(_QUICK, x, (quick.group(1) or ".")[1:]))
            else:
                add(Tok(_LDELIM, x, "{{"))
                for m in _FAST_TOKEN.finditer(text, x + 2, quick.end() - 2):
                    kind = _FAST_KINDS[m.lastindex or 0]
                    word = m.group()
                    if kind == _IDENT:
                        kind = _KEYWORDS.get(word, _BOOL if word in ("true", "false") else _IDENT)
                    add(_new_tok(Tok, (kind, m.start(), word)))
                add(Tok(_RDELIM, quick.end() - 2, "}}"))
            pos = quick.end()
            continue
        add(Tok(_LDELIM, x, "{{"))
        parens = 0
        while True:
            fast = _FAST_TOKEN.match(text, p)
            if fast:  # the common tokens, with the checks Go makes (terminators...)
                q = fast.end()
                kind = _FAST_KINDS[fast.lastindex or 0]
                if kind == _IDENT:
                    word = fast.group()
                    kind = _KEYWORDS.get(word, _BOOL if word in ("true", "false") else _IDENT)
                elif kind == _SPACE and text.startswith("-}}", q):
                    q -= 1  # leave a space for the trim marker " -}}"
                if q > p:
                    add(_new_tok(Tok, (kind, p, text[p:q])))
                    p = q
                    continue
            c = text[p] if p < n else ""
            if text.startswith("}}", p) or (c in _SPACES and c and text.startswith("-}}", p + 1)):
                if parens:
                    return error("unclosed left paren", p)
                trim_right = c != "}"
                if trim_right:
                    p += 2
                add(Tok(_RDELIM, p, "}}"))
                pos = _skip_spaces(text, p + 2) if trim_right else p + 2
                break
            if not c:
                return error("unclosed action", p)
            if c == "=":
                add(Tok(_ASSIGN, p, c))
                p += 1
            elif c == ":":
                if not text.startswith(":=", p):
                    return error("expected :=", p)
                add(Tok(_DECLARE, p, ":="))
                p += 2
            elif c in ('"', "'"):
                quoted = (_QUOTED if c == '"' else _CHAR_CONST).match(text, p)
                if quoted is None:
                    what = "quoted string" if c == '"' else "character constant"
                    return error(f"unterminated {what}", p)
                add(Tok(_STRING if c == '"' else _CHARCONST, p, quoted.group()))
                p = quoted.end()
            elif c == "`":
                q = text.find("`", p + 1)
                if q < 0:
                    return error("unterminated raw quoted string", p)
                add(Tok(_RAWSTRING, p, text[p : q + 1]))
                p = q + 1
            elif c == "$" or (c == "." and p + 1 < n and text[p + 1] not in "0123456789"):
                q = p + 1
                if q < n and text[q] not in _TERMINATORS:
                    q = _alnum_end(text, q)
                    if q < n and text[q] not in _TERMINATORS:
                        return error(f"bad character {_rune(text[q])}", p)
                kind = _VARIABLE if c == "$" else _DOT if q == p + 1 else _FIELD
                add(Tok(kind, p, text[p:q]))
                p = q
            elif c in "+-." or "0" <= c <= "9":
                ok, q = _scan_number(text, p)
                if ok and text[q : q + 1] in ("+", "-"):  # a complex number: 1+2i
                    ok, q = _scan_number(text, q)
                    ok = ok and text[q - 1] == "i"
                    if ok:
                        add(Tok(_COMPLEX, p, text[p:q]))
                        p = q
                        continue
                if not ok:
                    return error(f"bad number syntax: {quote(text[p:q])}", p)
                add(Tok(_NUMBER, p, text[p:q]))
                p = q
            elif _is_alnum(c):
                q = _alnum_end(text, p)
                if q < n and text[q] not in _TERMINATORS:
                    return error(f"bad character {_rune(text[q])}", p)
                word = text[p:q]
                kind = _KEYWORDS.get(word, _BOOL if word in ("true", "false") else _IDENT)
                add(Tok(kind, p, word))
                p = q
            elif c == "(":
                add(Tok(_LPAREN, p, c))
                parens += 1
                p += 1
            elif c == ")":
                parens -= 1
                if parens < 0:
                    return error(f"unexpected right paren {_rune(c)}", p + 1)
                add(Tok(_RPAREN, p, c))
                p += 1
            elif c.isascii() and c.isprintable():
                add(Tok(_CHAR, p, c))
                p += 1
            else:
                return error(f"unrecognized character in action: {_rune(c)}", p)
    toks.extend([Tok(_EOF, n, "")] * 4)
    return toks


def _tok_str(tok: Tok) -> str:
    """How Go names a token in "unexpected ..." messages."""
    if tok.kind == _EOF:
        return "EOF"
    if tok.kind == _ERROR:
        return tok.val
    if tok.kind > _KEYWORD:
        return f"<{tok.val}>"
    if len(tok.val) > 10:
        return quote(tok.val[:10]) + "..."
    return quote(tok.val)


# --- literals (Go's strconv.Unquote and ParseInt/ParseFloat) ---------------------------------

_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def _unquote_char(s: str, i: int, quote_char: str) -> tuple[int, bool, int]:
    """One (possibly escaped) character of a Go literal at ``s[i]``: its value,
    whether it is a single byte (``\\x``, octal) rather than a rune, the next index."""
    c = s[i]
    if c == quote_char:
        raise ValueError
    if c != "\\":
        return ord(c), False, i + 1
    e = s[i + 1 : i + 2]
    if e in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[e], False, i + 2
    if e == quote_char:
        return ord(e), False, i + 2
    if e in ("x", "u", "U"):
        size = {"x": 2, "u": 4, "U": 8}[e]
        digits = s[i + 2 : i + 2 + size]
        if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise ValueError
        value = int(digits, 16)
        if e != "x" and (value > 0x10FFFF or 0xD800 <= value <= 0xDFFF):
            raise ValueError
        return value, e == "x", i + 2 + size
    if e and e in "01234567":
        digits = s[i + 1 : i + 4]
        if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
            raise ValueError
        return int(digits, 8), True, i + 4
    raise ValueError


def _unquote(literal: str) -> str:
    """Go's ``strconv.Unquote`` of a double-quoted or raw string literal."""
    if literal[0] == "`":
        return literal[1:-1].replace("\r", "")  # Go drops carriage returns in raw strings
    body = literal[1:-1]
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        value, is_byte, i = _unquote_char(body, i, '"')
        if is_byte:
            out.append(value)
        else:
            out += chr(value).encode("utf-8", "surrogatepass")
    # Bytes that are not UTF-8 (from \x or octal escapes) cannot live in a str.
    return out.decode("utf-8", "replace")


def _underscore_ok(s: str) -> bool:
    """Go's rule: an underscore only between digits, or between a base prefix and a digit."""
    saw = "^"
    s = s[1:] if s[:1] in ("+", "-") else s
    i = 0
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i, saw, hexa = 2, "0", s[1] in "xX"
    for c in s[i:]:
        if c in "0123456789" or (hexa and c in "abcdefABCDEF"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


def _parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)``, except for the int64 range check."""
    sign = -1 if text[:1] == "-" else 1
    s = text[1:] if text[:1] in ("+", "-") else text
    base = 10
    if s[:1] == "0" and len(s) > 1:
        if len(s) >= 3 and s[1] in "xXoObB":
            base = {"x": 16, "o": 8, "b": 2}[s[1].lower()]
            s = s[2:]
        else:
            base, s = 8, s[1:]
    if "_" in s:
        if not _underscore_ok(text):
            return None
        s = s.replace("_", "")
    digits = "0123456789abcdef"[:base]
    if not s or any(c.lower() not in digits for c in s):
        return None
    return sign * int(s, base)


_DEC_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")


def _parse_float(text: str) -> float | None:
    """Go's ``strconv.ParseFloat(text, 64)`` for literal syntax (None: error or overflow)."""
    s = text
    if "_" in s:
        if not _underscore_ok(s):
            return None
        s = s.replace("_", "")
    if _DEC_FLOAT.fullmatch(s):
        value = float(s)
    elif _HEX_FLOAT.fullmatch(s):
        value = float.fromhex(s)
    else:
        return None
    return None if value in (float("inf"), float("-inf")) else value


# --- the tree (Go's text/template/parse/node.go) ---------------------------------------------


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
    simple: str | None = None  # "name" when the action is just {{ .name }}


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
class _End:  # parse-time marker only
    pos: int


@dataclass(slots=True)
class _Else:  # parse-time marker only
    pos: int


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
    if t is _End:
        return "{{end}}"
    if t is _Else:
        return "{{else}}"
    return "{{break}}" if t is Break else "{{continue}}"


# --- parser (Go's text/template/parse/parse.go) -----------------------------------------------


class ParseFail(Exception):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


_OPERAND_START = {_BOOL, _CHARCONST, _COMPLEX, _DOT, _FIELD, _IDENT, _NUMBER, _NIL}
_OPERAND_START |= {_RAWSTRING, _STRING, _VARIABLE, _LPAREN}
_LITERALS = (Bool, Dot, Nil, Number, String)


def line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


class _Parser:
    def __init__(self, text: str, name: str, funcs: Collection[str]) -> None:
        self.text, self.name = text, name
        self.funcs = funcs
        self.toks = lex(text)
        self.i = 0
        self.seen = 0  # tokens read so far, lookahead included (for error lines)
        self.vars = ["$"]
        self.range_depth = 0
        self.depth = 0
        self.action_pos = -1  # where the action being parsed starts (its "{{")

    # --- tokens ---

    def next(self) -> Tok:
        i = self.i
        self.i = i + 1
        if i >= self.seen:
            self.seen = i + 1
        return self.toks[i]

    def peek(self) -> Tok:
        i = self.i
        if i >= self.seen:
            self.seen = i + 1
        return self.toks[i]

    def next_non_space(self) -> Tok:
        i = self.i
        tok = self.toks[i]
        if tok.kind == _SPACE:  # a run of spaces is a single token
            i += 1
            tok = self.toks[i]
        self.i = i + 1
        if i >= self.seen:
            self.seen = i + 1
        return tok

    def peek_non_space(self) -> Tok:
        """The next non-space token, leaving the position just before it (as Go does)."""
        tok = self.next_non_space()
        self.i -= 1
        return tok

    def error(self, message: str, line: int | None = None) -> ParseFail:
        """The error to raise; its line is that of the last token read, as in Go."""
        if line is None:
            line = line_of(self.text, self.toks[max(self.seen - 1, 0)].pos)
        return ParseFail(message, line)

    def unexpected(self, tok: Tok, context: str) -> ParseFail:
        if tok.kind == _ERROR:
            line = line_of(self.text, tok.pos)
            action_line = line_of(self.text, self.action_pos) if self.action_pos >= 0 else 0
            extra = ""
            if action_line and action_line != line:
                extra = f" in action started at {self.name}:{action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.error(tok.val + extra, line)
        return self.error(f"unexpected {_tok_str(tok)} in {context}")

    def expect(self, kind: int, context: str) -> Tok:
        tok = self.next_non_space()
        if tok.kind != kind:
            raise self.unexpected(tok, context)
        return tok

    def enter(self, what: str) -> None:
        """One level deeper into parentheses ("expression") or {{if}}/{{range}}/{{with}}
        ("control structure"); both count against one limit, as in Go."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"max {what} depth exceeded")

    # --- structure ---

    def parse(self) -> list[Any]:
        root: list[Any] = []
        toks = self.toks
        while (tok := self.peek()).kind != _EOF:
            i = self.i
            if tok.kind == _TEXT:  # the bulk of a config, taken without ceremony
                root.append(Text(tok.pos, tok.val))
                self.i = i + 1
                continue
            if tok.kind == _LDELIM and _DEFINE in (toks[i + 1].kind, toks[i + 2].kind):
                self.next_non_space()
                if self.next_non_space().kind == _DEFINE:
                    raise self.error("{{define}} is not supported: a config is a single template")
                self.i = i
            node = self.text_or_action()
            if type(node) in (_End, _Else):
                raise self.error(f"unexpected {node_str(node)}")
            root.append(node)
        return root

    def item_list(self, context: str, start: int) -> tuple[list[Any], Any]:
        nodes: list[Any] = []
        while (tok := self.peek_non_space()).kind != _EOF:
            if tok.kind == _TEXT:
                nodes.append(Text(tok.pos, tok.val))
                self.i += 1
                continue
            node = self.text_or_action()
            if type(node) in (_End, _Else):
                return nodes, node
            nodes.append(node)
        # Go says "unexpected EOF" at the last line; the block's own line helps more.
        line = line_of(self.text, start)
        raise self.error(
            f"unexpected EOF: missing {{{{end}}}} for {{{{{context}}}}} started at line {line}",
            line,
        )

    def text_or_action(self) -> Any:
        tok = self.next_non_space()
        if tok.kind == _TEXT:
            return Text(tok.pos, tok.val)
        if tok.kind == _QUICK:
            return self.quick_action(tok)
        if tok.kind == _LDELIM:
            self.action_pos = tok.pos
            try:
                return self.action()
            finally:
                self.action_pos = -1
        raise self.unexpected(tok, "input")

    def quick_action(self, tok: Tok) -> Action:
        """The tree of a common action lexed whole (see ``_QUICK_ACTION``)."""
        text = self.text
        m = _QUICK_ACTION.match(text, tok.pos)
        assert m is not None
        if tok.val:  # {{ .name }}
            pos, name = m.start(1), tok.val
            return Action(pos, Pipe(pos, [], False, [Command(pos, [Field(pos, (name,))])]), name)
        cmds = []
        if m.group(2):
            pos = m.start(2)
            cmds.append(Command(pos, [Field(pos, (m.group(2)[1:],))]))
        pos, name = m.start(3), m.group(3)
        if name not in self.funcs:
            raise self.error(f"function {quote(name)} not defined", line_of(text, pos))
        args: list[Any] = [Identifier(pos, name)]
        for arg in _QUICK_ARG.finditer(text, m.start(4), m.end(4)):
            value = arg.group()
            if value[0] == ".":
                args.append(Field(arg.start(), (value[1:],)))
            else:
                args.append(String(arg.start(), value, value[1:-1]))
        cmds.append(Command(pos, args))
        return Action(cmds[0].pos, Pipe(cmds[0].pos, [], False, cmds))

    def action(self) -> Any:
        tok = self.next_non_space()
        kind = tok.kind
        if kind in (_IF, _RANGE, _WITH):
            return self.control(tok.val)
        if kind in (_BREAK, _CONTINUE):
            after = self.next_non_space()
            if after.kind != _RDELIM:
                raise self.unexpected(after, f"{{{{{tok.val}}}}}")
            if not self.range_depth:
                raise self.error(f"{{{{{tok.val}}}}} outside {{{{range}}}}")
            return Break(tok.pos) if kind == _BREAK else Continue(tok.pos)
        if kind == _ELSE:
            peek = self.peek_non_space()
            if peek.kind in (_IF, _WITH):  # "else if": the "if" is parsed by the caller
                return _Else(peek.pos)
            return _Else(self.expect(_RDELIM, "else").pos)
        if kind == _END:
            return _End(self.expect(_RDELIM, "end").pos)
        if kind in (_TEMPLATE, _BLOCK):
            raise self.error(f"{{{{{tok.val}}}}} is not supported: a config is a single template")
        self.i -= 1
        pos = self.peek().pos
        return Action(pos, self.pipeline("command", _RDELIM))

    def control(self, context: str) -> Control:
        start = self.action_pos if self.action_pos >= 0 else self.toks[self.i - 1].pos
        nvars = len(self.vars)
        self.enter("control structure")
        try:
            pipe = self.pipeline(context, _RDELIM)
            self.range_depth += context == "range"
            body, nxt = self.item_list(context, start)
            self.range_depth -= context == "range"
            else_body = None
            if type(nxt) is _Else:
                peek = self.peek()
                if context in ("if", "with") and peek.kind == _KEYWORDS[context]:
                    # {{else if x}} is {{else}}{{if x}}...{{end}}, sharing the final {{end}}.
                    self.next()
                    else_body = [self.control(context)]
                else:
                    else_body, nxt = self.item_list(context, start)
                    if type(nxt) is not _End:
                        raise self.error(f"expected end; found {node_str(nxt)}")
            return Control(context, pipe.pos, pipe, body, else_body)
        finally:
            del self.vars[nvars:]
            self.depth -= 1

    def pipeline(self, context: str, end: int) -> Pipe:
        pipe = Pipe(self.peek_non_space().pos, [], False, [])
        while True:  # declarations: "$x :=", "$x =", "$i, $v :="
            v = self.peek_non_space()
            if v.kind != _VARIABLE:
                break
            start = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.kind in (_ASSIGN, _DECLARE):
                pipe.is_assign = nxt.kind == _ASSIGN
                self.next_non_space()
                pipe.decl.append(Variable(v.pos, (v.val,)))
                self.vars.append(v.val)
            elif nxt.kind == _CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(Variable(v.pos, (v.val,)))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in (_VARIABLE, _RDELIM, _RPAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            else:
                self.i = start  # "$x" is an operand, not a declaration
            break
        while True:
            tok = self.next_non_space()
            if tok.kind == end:
                if not pipe.cmds:
                    raise self.error(f"missing value for {context}")
                for n, cmd in enumerate(pipe.cmds[1:], start=2):
                    if type(cmd.args[0]) in _LITERALS:
                        raise self.error(f"non executable command in pipeline stage {n}")
                return pipe
            if tok.kind not in _OPERAND_START:
                raise self.unexpected(tok, context)
            self.i -= 1
            pipe.cmds.append(self.command())

    def command(self) -> Command:
        cmd = Command(self.peek_non_space().pos, [])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind == _SPACE:
                continue
            if tok.kind in (_RDELIM, _RPAREN):
                self.i -= 1
            elif tok.kind != _PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Any:
        node = self.term()
        if node is None or self.peek().kind != _FIELD:
            return node
        pos = self.peek().pos
        fields: list[str] = []
        while self.peek().kind == _FIELD:
            fields.append(self.next().val[1:])
        t = type(node)
        if t is Field:
            return Field(pos, node.ident + tuple(fields))
        if t is Variable:
            return Variable(pos, node.ident + tuple(fields))
        if t in _LITERALS:
            raise self.error(f"unexpected . after term {quote(node_str(node))}")
        return Chain(pos, node, tuple(fields))

    def term(self) -> Any:
        tok = self.next_non_space()
        kind = tok.kind
        if kind == _FIELD:
            return Field(tok.pos, (tok.val[1:],))
        if kind == _IDENT:
            if tok.val not in self.funcs:
                raise self.error(f"function {quote(tok.val)} not defined")
            return Identifier(tok.pos, tok.val)
        if kind == _VARIABLE:
            if tok.val not in self.vars:
                raise self.error(f"undefined variable {quote(tok.val)}")
            return Variable(tok.pos, (tok.val,))
        if kind == _DOT:
            return Dot(tok.pos)
        if kind == _NIL:
            return Nil(tok.pos)
        if kind == _BOOL:
            return Bool(tok.pos, tok.val == "true")
        if kind in (_STRING, _RAWSTRING):
            try:
                return String(tok.pos, tok.val, _unquote(tok.val))
            except (ValueError, IndexError):
                raise self.error(f"invalid syntax: bad escape sequence in {tok.val}") from None
        if kind in (_NUMBER, _CHARCONST, _COMPLEX):
            return self.number(tok)
        if kind == _LPAREN:
            self.enter("expression")
            pipe = self.pipeline("parenthesized pipeline", _RPAREN)
            self.depth -= 1
            return pipe
        self.i -= 1
        return None

    def number(self, tok: Tok) -> Number:
        """Go's ``newNumber`` and ``idealConstant``: an int, a float64, or (value
        None) an unsigned value that does not fit Go's int."""
        text = tok.val
        if tok.kind == _CHARCONST:
            try:
                value, _, end = _unquote_char(text, 1, "'")
            except (ValueError, IndexError):
                raise self.error(f"invalid syntax: bad character constant {text}") from None
            if text[end:] != "'":
                raise self.error(f"malformed character constant: {text}")
            return Number(tok.pos, text, value)
        if tok.kind == _COMPLEX or (text.endswith("i") and _parse_float(text[:-1]) is not None):
            raise self.error(f"complex numbers are not supported: {text}")
        as_int = _parse_int(text)  # an integer is an int (0x1e included), as in Go
        if as_int is not None and -(2**63) <= as_int < 2**64:
            return Number(tok.pos, text, as_int if as_int < 2**63 else None)
        as_float = _parse_float(text)
        if as_float is None:
            raise self.error(f"illegal number syntax: {quote(text)}")
        if not any(c in text for c in ".eEpP"):  # a float that looks like an integer
            raise self.error(f"integer overflow: {quote(text)}")
        return Number(tok.pos, text, as_float)


def parse(text: str, name: str, funcs: Collection[str]) -> list[Any]:
    """Parse ``text`` into a tree of nodes; ``funcs`` are the known function names.

    Raises :class:`ParseFail` (message and line) for a syntax error.
    """
    return _Parser(text, name, funcs).parse()
