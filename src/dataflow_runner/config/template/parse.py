"""The parser of the template engine, after Go's ``text/template/parse/parse.go``.

It reads the tokens of :mod:`.lex` as Go's parser reads its items, with the same
one-token lookahead, so that a template is accepted or refused as Go does and an
error carries Go's wording and Go's line (that of the last token read). Number
literals are converted as Go's ``newNumber`` (node.go) does.

A config is a single template: ``define``, ``template`` and ``block`` are refused,
and so are complex numbers, with messages that say so.

>>> [type(n).__name__ for n in parse("a{{ .b | print }}", "t", {"print"})]
['Text', 'Action']
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from dataflow_runner.config.template.lex import (
    ASSIGN,
    BLOCK,
    BOOL,
    BREAK,
    CHAR,
    CHAR_CONST,
    COMPLEX,
    CONTINUE,
    DECLARE,
    DEFINE,
    DOT,
    ELSE,
    END,
    EOF,
    ERROR,
    FIELD,
    IDENT,
    IF,
    KEYWORDS,
    LDELIM,
    LPAREN,
    NIL,
    NUMBER,
    PIPE,
    RANGE,
    RAW_STRING,
    RDELIM,
    RPAREN,
    SPACE,
    STRING,
    TEMPLATE,
    TEXT,
    VARIABLE,
    WITH,
    Tok,
    lex,
    token_str,
)
from dataflow_runner.config.template.node import (
    LITERALS,
    Action,
    Bool,
    Break,
    Chain,
    Command,
    Continue,
    Control,
    Dot,
    Else,
    End,
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
from dataflow_runner.config.template.strconv import (
    parse_float,
    parse_int,
    quote,
    unquote,
    unquote_char,
)

#: Nesting of {{if}}/{{range}}/{{with}} and parentheses that a template may use (Go
#: counts both against one limit too); it keeps hostile input far from Python's
#: recursion limit.
MAX_DEPTH = 100


class ParseFail(Exception):
    """A syntax error: Go's message and the line it is on."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message, self.line = message, line


_OPERAND_START = {BOOL, CHAR_CONST, COMPLEX, DOT, FIELD, IDENT, NUMBER, NIL}
_OPERAND_START |= {RAW_STRING, STRING, VARIABLE, LPAREN}


def line_of(text: str, pos: int) -> int:
    """The line (from 1) of the offset ``pos`` in ``text``."""
    return text.count("\n", 0, pos) + 1


def parse(text: str, name: str, funcs: Collection[str]) -> list[Any]:
    """Parse ``text`` into a list of nodes; ``funcs`` are the known function names.

    Raises :class:`ParseFail` (message and line) for a syntax error.
    """
    return _Parser(text, name, funcs).parse()


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
        if tok.kind == SPACE:  # a run of spaces is a single token
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
        if tok.kind == ERROR:
            line = line_of(self.text, tok.pos)
            action_line = line_of(self.text, self.action_pos) if self.action_pos >= 0 else 0
            extra = ""
            if action_line and action_line != line:
                extra = f" in action started at {self.name}:{action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.error(tok.val + extra, line)
        return self.error(f"unexpected {token_str(tok)} in {context}")

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
        while self.peek().kind != EOF:
            i = self.i
            if toks[i].kind == LDELIM and DEFINE in (toks[i + 1].kind, toks[i + 2].kind):
                self.next_non_space()
                if self.next_non_space().kind == DEFINE:
                    raise self.error("{{define}} is not supported: a config is a single template")
                self.i = i
            node = self.text_or_action()
            if type(node) in (End, Else):
                raise self.error(f"unexpected {node_str(node)}")
            root.append(node)
        return root

    def item_list(self, context: str, start: int) -> tuple[list[Any], Any]:
        """The nodes up to the {{end}} or {{else}} that closes them, and that one."""
        nodes: list[Any] = []
        while self.peek_non_space().kind != EOF:
            node = self.text_or_action()
            if type(node) in (End, Else):
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
        if tok.kind == TEXT:
            return Text(tok.pos, tok.val)
        if tok.kind == LDELIM:
            self.action_pos = tok.pos
            try:
                return self.action()
            finally:
                self.action_pos = -1
        raise self.unexpected(tok, "input")

    def action(self) -> Any:
        tok = self.next_non_space()
        kind = tok.kind
        if kind in (IF, RANGE, WITH):
            return self.control(tok.val)
        if kind in (BREAK, CONTINUE):
            after = self.next_non_space()
            if after.kind != RDELIM:
                raise self.unexpected(after, f"{{{{{tok.val}}}}}")
            if not self.range_depth:
                raise self.error(f"{{{{{tok.val}}}}} outside {{{{range}}}}")
            return Break(tok.pos) if kind == BREAK else Continue(tok.pos)
        if kind == ELSE:
            peek = self.peek_non_space()
            if peek.kind in (IF, WITH):  # "else if": the "if" is parsed by the caller
                return Else(peek.pos)
            return Else(self.expect(RDELIM, "else").pos)
        if kind == END:
            return End(self.expect(RDELIM, "end").pos)
        if kind in (TEMPLATE, BLOCK):
            raise self.error(f"{{{{{tok.val}}}}} is not supported: a config is a single template")
        self.i -= 1
        pos = self.peek().pos
        return Action(pos, self.pipeline("command", RDELIM))

    def control(self, context: str) -> Control:
        start = self.action_pos if self.action_pos >= 0 else self.toks[self.i - 1].pos
        nvars = len(self.vars)
        self.enter("control structure")
        try:
            pipe = self.pipeline(context, RDELIM)
            self.range_depth += context == "range"
            body, nxt = self.item_list(context, start)
            self.range_depth -= context == "range"
            else_body = None
            if type(nxt) is Else:
                peek = self.peek()
                if context in ("if", "with") and peek.kind == KEYWORDS[context]:
                    # {{else if x}} is {{else}}{{if x}}...{{end}}, sharing the final {{end}}.
                    self.next()
                    else_body = [self.control(context)]
                else:
                    else_body, nxt = self.item_list(context, start)
                    if type(nxt) is not End:
                        raise self.error(f"expected end; found {node_str(nxt)}")
            return Control(context, pipe.pos, pipe, body, else_body)
        finally:
            del self.vars[nvars:]
            self.depth -= 1

    def pipeline(self, context: str, end: int) -> Pipe:
        pipe = Pipe(self.peek_non_space().pos, [], False, [])
        while True:  # declarations: "$x :=", "$x =", "$i, $v :="
            v = self.peek_non_space()
            if v.kind != VARIABLE:
                break
            start = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt.kind in (ASSIGN, DECLARE):
                pipe.is_assign = nxt.kind == ASSIGN
                self.next_non_space()
                pipe.decl.append(Variable(v.pos, (v.val,)))
                self.vars.append(v.val)
            elif nxt.kind == CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(Variable(v.pos, (v.val,)))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in (VARIABLE, RDELIM, RPAREN):
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
                    if type(cmd.args[0]) in LITERALS:
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
            if tok.kind == SPACE:
                continue
            if tok.kind in (RDELIM, RPAREN):
                self.i -= 1
            elif tok.kind != PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Any:
        node = self.term()
        if node is None or self.peek().kind != FIELD:
            return node
        pos = self.peek().pos
        fields: list[str] = []
        while self.peek().kind == FIELD:
            fields.append(self.next().val[1:])
        t = type(node)
        if t is Field:
            return Field(pos, node.ident + tuple(fields))
        if t is Variable:
            return Variable(pos, node.ident + tuple(fields))
        if t in LITERALS:
            raise self.error(f"unexpected . after term {quote(node_str(node))}")
        return Chain(pos, node, tuple(fields))

    def term(self) -> Any:
        tok = self.next_non_space()
        kind = tok.kind
        if kind == FIELD:
            return Field(tok.pos, (tok.val[1:],))
        if kind == IDENT:
            if tok.val not in self.funcs:
                raise self.error(f"function {quote(tok.val)} not defined")
            return Identifier(tok.pos, tok.val)
        if kind == VARIABLE:
            if tok.val not in self.vars:
                raise self.error(f"undefined variable {quote(tok.val)}")
            return Variable(tok.pos, (tok.val,))
        if kind == DOT:
            return Dot(tok.pos)
        if kind == NIL:
            return Nil(tok.pos)
        if kind == BOOL:
            return Bool(tok.pos, tok.val == "true")
        if kind in (STRING, RAW_STRING):
            try:
                return String(tok.pos, tok.val, unquote(tok.val))
            except (ValueError, IndexError):
                raise self.error(f"invalid syntax: bad escape sequence in {tok.val}") from None
        if kind in (NUMBER, CHAR_CONST, COMPLEX):
            return self.number(tok)
        if kind == LPAREN:
            self.enter("expression")
            pipe = self.pipeline("parenthesized pipeline", RPAREN)
            self.depth -= 1
            return pipe
        self.i -= 1
        return None

    def number(self, tok: Tok) -> Number:
        """Go's ``newNumber`` and ``idealConstant``: an int, a float64, or (value
        None) an unsigned value that does not fit Go's int."""
        text = tok.val
        if tok.kind == CHAR_CONST:
            try:
                value, _, end = unquote_char(text, 1, "'")
            except (ValueError, IndexError):
                raise self.error(f"invalid syntax: bad character constant {text}") from None
            if text[end:] != "'":
                raise self.error(f"malformed character constant: {text}")
            return Number(tok.pos, text, value)
        if tok.kind == COMPLEX or (text.endswith("i") and parse_float(text[:-1]) is not None):
            raise self.error(f"complex numbers are not supported: {text}")
        as_int = parse_int(text)  # an integer is an int (0x1e included), as in Go
        if as_int is not None and -(2**63) <= as_int < 2**64:
            return Number(tok.pos, text, as_int if as_int < 2**63 else None)
        as_float = parse_float(text)
        if as_float is None:
            raise self.error(f"illegal number syntax: {quote(text)}")
        if not any(c in text for c in ".eEpP"):  # a float that looks like an integer
            raise self.error(f"integer overflow: {quote(text)}")
        return Number(tok.pos, text, as_float)
