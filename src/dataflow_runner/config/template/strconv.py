"""Go's quoting and literal parsing, as the template engine needs them.

Follows Go's ``strconv`` package: ``quote.go`` (``Quote``, ``QuoteToASCII``,
``QuoteRune``, ``CanBackquote``, ``Unquote``, ``UnquoteChar``), ``atoi.go``
(``ParseInt`` with base 0, ``underscoreOK``) and ``atof.go`` (``ParseFloat``).
The lexer, the parser, fmt and the time functions all quote or read literals the
way Go does, so they share this module.

>>> quote("a\\tb")
'"a\\\\tb"'
>>> parse_int("0x1_F")
31
"""

from __future__ import annotations

import re

# --- quoting (quote.go) -------------------------------------------------------------------

_NAMED_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NAMED_ESCAPES["\v"] = "\\v"


def _escape(c: str, quote_char: str, ascii_only: bool) -> str:
    if c in (quote_char, "\\"):
        return "\\" + c
    o = ord(c)
    if c.isprintable() and not (ascii_only and o >= 0x80):
        return c
    if c in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[c]
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if 0xD800 <= o <= 0xDFFF:  # not a valid rune: Go writes the replacement character
        o = 0xFFFD
    return f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}"


def quote(text: str, *, ascii_only: bool = False) -> str:
    """Go's ``strconv.Quote`` (``QuoteToASCII`` with ``ascii_only``).

    >>> quote('a"b\\n')
    '"a\\\\"b\\\\n"'
    """
    if text.isprintable() and text.isascii() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return '"' + "".join(_escape(c, '"', ascii_only) for c in text) + '"'


def valid_rune(n: int) -> int:
    """``n`` if it is a valid Unicode code point, else the replacement character."""
    return n if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF else 0xFFFD


def quote_rune(n: int, *, ascii_only: bool = False) -> str:
    """Go's ``strconv.QuoteRune`` (``QuoteRuneToASCII`` with ``ascii_only``)."""
    return "'" + _escape(chr(valid_rune(n)), "'", ascii_only) + "'"


def can_backquote(text: str) -> bool:
    """Go's ``strconv.CanBackquote``: whether ``text`` can be a raw string literal."""
    return not any(c in "`\ufeff\x7f" or (c < " " and c != "\t") for c in text)


# --- unquoting (quote.go) -----------------------------------------------------------------

_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def unquote_char(s: str, i: int, quote_char: str) -> tuple[int, bool, int]:
    """One (possibly escaped) character of a Go literal at ``s[i]``: its value,
    whether it is a single byte (``\\x``, octal) rather than a rune, the next index.

    Raises ValueError (or IndexError at the end of ``s``) for a bad escape.
    """
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


def unquote(literal: str) -> str:
    """Go's ``strconv.Unquote`` of a double-quoted or raw string literal.

    Raises ValueError (or IndexError) for a bad escape sequence.
    """
    if literal[0] == "`":
        return literal[1:-1].replace("\r", "")  # Go drops carriage returns in raw strings
    body = literal[1:-1]
    if "\\" not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        value, is_byte, i = unquote_char(body, i, '"')
        if is_byte:
            out.append(value)
        else:
            out += chr(value).encode("utf-8", "surrogatepass")
    # Bytes that are not UTF-8 (from \x or octal escapes) cannot live in a str.
    return out.decode("utf-8", "replace")


# --- numbers (atoi.go, atof.go) -----------------------------------------------------------


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


def parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)``, except for the int64 range check
    (None: not an integer)."""
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


def parse_float(text: str) -> float | None:
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
