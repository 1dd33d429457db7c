"""The lexer of the template engine, after Go's ``text/template/parse/lex.go``.

:func:`lex` cuts a template into the tokens Go's lexer emits (Go calls them items):
text between actions, the delimiters, and inside an action spaces, identifiers,
keywords, fields, variables, literals and punctuation. Trim markers (``{{- `` and
`` -}}``) and comments are dealt with here, as in Go, so the parser never sees them.
Each token is produced in one place; regular expressions only take runs of
characters (spaces, letters and digits, string bodies) at once.

Go stops at the first error and so does this lexer: the error token (its message
is Go's) is the last one before EOF, and the parser reports it when it gets there,
so a syntax error earlier in the template is reported first, as in Go.

>>> [kind_name(t.kind) for t in lex("a{{ .b | f }}")][:8]
['TEXT', 'LDELIM', 'SPACE', 'FIELD', 'SPACE', 'PIPE', 'SPACE', 'IDENT']
"""

from __future__ import annotations

import re
from typing import NamedTuple

from dataflow_runner.config.template.strconv import quote

# Token kinds, in Go's order: the parser names them in messages through token_str,
# which tells keywords (the kinds after KEYWORD) from the rest.
ERROR, BOOL, CHAR, CHAR_CONST, COMPLEX, ASSIGN, DECLARE, EOF, FIELD = range(9)
IDENT, LDELIM, LPAREN, NUMBER, PIPE, RAW_STRING, RDELIM, RPAREN = range(9, 17)
SPACE, STRING, TEXT, VARIABLE = range(17, 21)
KEYWORD = 21  # the kinds after this one are keywords
BLOCK, BREAK, CONTINUE, DOT, DEFINE, ELSE, END, IF, NIL = range(22, 31)
RANGE, TEMPLATE, WITH = range(31, 34)

KEYWORDS = {"block": BLOCK, "break": BREAK, "continue": CONTINUE, "define": DEFINE}
KEYWORDS |= {"else": ELSE, "end": END, "if": IF, "nil": NIL, "range": RANGE}
KEYWORDS |= {"template": TEMPLATE, "with": WITH}

_SPACES = " \t\r\n"
# What may follow an identifier, a field or a variable; "}" stands for the "}}" it
# may start.
_TERMINATORS = " \t\r\n.,|:)(}"
_SPACE_RUN = re.compile(r"[ \t\r\n]+")
_WORD = re.compile(r"\w+")
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"')
_CHAR_CONSTANT = re.compile(r"'(?:[^'\\\n]|\\[^\n])*'")


class Tok(NamedTuple):
    kind: int
    pos: int  # offset in the template text
    val: str


_KIND_NAMES = {v: k for k, v in dict(globals()).items() if k.isupper() and type(v) is int}


def kind_name(kind: int) -> str:
    """The name of a token kind (for debugging and doctests)."""
    return _KIND_NAMES.get(kind, str(kind))


def rune(c: str) -> str:
    """Go's ``%#U`` of a character: ``U+0041 'A'``."""
    code = f"U+{ord(c):04X}"
    return f"{code} '{c}'" if c.isprintable() else code


def token_str(tok: Tok) -> str:
    """How Go names a token in "unexpected ..." messages."""
    if tok.kind == EOF:
        return "EOF"
    if tok.kind == ERROR:
        return tok.val
    if tok.kind > KEYWORD:
        return f"<{tok.val}>"
    if len(tok.val) > 10:
        return quote(tok.val[:10]) + "..."
    return quote(tok.val)


class _LexError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message, self.pos = message, pos


def _skip_spaces(text: str, i: int) -> int:
    m = _SPACE_RUN.match(text, i)
    return m.end() if m else i


def _is_alnum(c: str) -> bool:
    """Go's ``isAlphaNumeric``: a letter, a digit or an underscore (Unicode's)."""
    return c == "_" or c.isalpha() or c.isdecimal()


def _alnum_end(text: str, i: int) -> int:
    """The end of the run of letters, digits and underscores at ``text[i]``."""
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
    """All the tokens of ``text``, then EOF tokens (the parser may look a few ahead).

    An error ends the tokens: the error token, if any, is the last before EOF.
    """
    toks: list[Tok] = []
    try:
        _lex_text(text, toks)
    except _LexError as exc:
        toks.append(Tok(ERROR, exc.pos, exc.message))
    toks.extend([Tok(EOF, len(text), "")] * 4)
    return toks


def _lex_text(text: str, toks: list[Tok]) -> None:
    """Go's ``lexText`` and ``lexLeftDelim``: text, then an action or a comment."""
    n = len(text)
    pos = 0  # start of the pending text
    while True:
        x = text.find("{{", pos)
        if x < 0:
            if pos < n:
                toks.append(Tok(TEXT, pos, text[pos:]))
            return
        # "{{- " trims the spaces before it (the space after the "-" is required).
        trim = text.startswith("-", x + 2) and x + 3 < n and text[x + 3] in _SPACES
        before = text[pos:x]
        if trim:
            before = before.rstrip(_SPACES)
        if before:
            toks.append(Tok(TEXT, pos, before))
        p = x + (4 if trim else 2)
        if text.startswith("/*", p):
            pos = _lex_comment(text, p)
        else:
            toks.append(Tok(LDELIM, x, "{{"))
            pos = _lex_action(text, p, toks)


def _after_right_delim(text: str, p: int) -> int | None:
    """If a right delimiter starts at ``p`` ("}}" or " -}}"), where the text resumes
    (after the spaces a trim marker removes); else None."""
    if text.startswith("}}", p):
        return p + 2
    c = text[p : p + 1]
    if not c or c not in _SPACES or not text.startswith("-}}", p + 1):
        return None
    return _skip_spaces(text, p + 4)


def _lex_comment(text: str, p: int) -> int:
    """Go's ``lexComment``: skip ``/* ... */`` and the delimiter right after it."""
    close = text.find("*/", p + 2)
    if close < 0:
        raise _LexError("unclosed comment", p)
    resume = _after_right_delim(text, close + 2)
    if resume is None:
        raise _LexError("comment ends before closing delimiter", p)
    return resume


def _lex_action(text: str, p: int, toks: list[Tok]) -> int:
    """Go's ``lexInsideAction`` and the functions it hands over to: the tokens of the
    action starting at ``p`` (after "{{"), up to its right delimiter included.
    Returns where the text after the action starts."""
    add = toks.append
    n = len(text)
    parens = 0
    while True:
        resume = _after_right_delim(text, p)
        if resume is not None:
            if parens:
                raise _LexError("unclosed left paren", p)
            add(Tok(RDELIM, p if text[p] == "}" else p + 2, "}}"))
            return resume
        if p >= n:
            raise _LexError("unclosed action", p)
        c = text[p]
        q = p + 1  # where the token ends, for a one-character one
        if c in _SPACES:
            q = _skip_spaces(text, p)
            if text.startswith("-}}", q):
                # The last space belongs to the trim marker " -}}"; the run has another
                # one, since a lone space before "-}}" was taken as the delimiter above.
                q -= 1
            kind = SPACE
        elif c == "=":
            kind = ASSIGN
        elif c == ":":
            if not text.startswith(":=", p):
                raise _LexError("expected :=", p)
            kind, q = DECLARE, p + 2
        elif c == "|":
            kind = PIPE
        elif c in ('"', "'"):
            quoted = (_QUOTED if c == '"' else _CHAR_CONSTANT).match(text, p)
            if quoted is None:
                what = "quoted string" if c == '"' else "character constant"
                raise _LexError(f"unterminated {what}", p)
            kind, q = STRING if c == '"' else CHAR_CONST, quoted.end()
        elif c == "`":
            q = text.find("`", p + 1) + 1
            if q == 0:
                raise _LexError("unterminated raw quoted string", p)
            kind = RAW_STRING
        elif c == "$" or (c == "." and q < n and text[q] not in "0123456789"):
            # Go's lexFieldOrVariable: "$" or "." alone, or followed by a name.
            if q < n and text[q] not in _TERMINATORS:
                q = _alnum_end(text, q)
                if q < n and text[q] not in _TERMINATORS:
                    raise _LexError(f"bad character {rune(text[q])}", p)
            kind = VARIABLE if c == "$" else DOT if q == p + 1 else FIELD
        elif c in "+-." or "0" <= c <= "9":
            kind, q = _lex_number(text, p)
        elif _is_alnum(c):
            q = _alnum_end(text, p)
            if q < n and text[q] not in _TERMINATORS:
                raise _LexError(f"bad character {rune(text[q])}", p)
            word = text[p:q]
            kind = KEYWORDS.get(word, BOOL if word in ("true", "false") else IDENT)
        elif c == "(":
            kind = LPAREN
            parens += 1
        elif c == ")":
            parens -= 1
            if parens < 0:
                raise _LexError(f"unexpected right paren {rune(c)}", q)
            kind = RPAREN
        elif c.isascii() and c.isprintable():
            kind = CHAR
        else:
            raise _LexError(f"unrecognized character in action: {rune(c)}", p)
        add(Tok(kind, p, text[p:q]))
        p = q


def _lex_number(text: str, p: int) -> tuple[int, int]:
    """Go's ``lexNumber``: a number (or a complex number, ``1+2i``) at ``p``."""
    ok, q = _scan_number(text, p)
    if ok and text[q : q + 1] in ("+", "-"):
        ok, q = _scan_number(text, q)
        if ok and text[q - 1] == "i":
            return COMPLEX, q
        ok = False
    if not ok:
        raise _LexError(f"bad number syntax: {quote(text[p:q])}", p)
    return NUMBER, q
