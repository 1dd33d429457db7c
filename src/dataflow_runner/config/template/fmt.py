"""Go's fmt (``Sprint``, ``Sprintln``, ``Sprintf``) for the values templates handle.

Template values are Python ``str`` (Go string), ``int`` (Go int), ``float``
(float64), ``bool``, ``None`` (nil), mappings (``map[string]interface {}``) and
lists (``[]interface {}``). Formatting follows Go's fmt package: flags ``+-# 0``,
width, precision, ``*`` and ``[n]`` argument indexes, the verbs
``v T t d b o O x X c q U e E f F g G s``, and Go's error forms (``%!d(string=a)``,
``%!d(MISSING)``, ``%!(EXTRA int=1)``, ``%!(NOVERB)``, ``%!(BADWIDTH)``...).

>>> sprintf("%s-%03d|%-4s|%q|%v", "a", 7, "x", "hi", 1.5)
'a-007|x   |"hi"|1.5'
>>> sprintf("%d", "abc")
'%!d(string=abc)'

Follows Go's ``fmt`` package (``print.go``, ``format.go``); quoting is Go's strconv
(:mod:`.strconv`). One addition: the functions take a ``limit``, the characters a
rendering may still write, and raise :class:`OutputLimit` as soon as they would
write more, so that a template cannot make them build a huge string (a width of a
million, a million operands...) before the rendering's own count sees it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from dataflow_runner.config.template.strconv import can_backquote, quote, quote_rune, valid_rune


class OutputLimit(Exception):
    """Formatting would write more than the ``limit`` it was given."""


def go_type(value: Any) -> str:
    """The Go type name of a template value (``int``, ``map[string]interface {}``...)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__


# --- flags and padding -------------------------------------------------------------------


class _Flags:
    __slots__ = ("minus", "plus", "prec", "sharp", "sharp_v", "space", "wid", "zero")

    def __init__(self) -> None:
        self.wid: int | None = None
        self.prec: int | None = None
        self.minus = self.plus = self.sharp = self.space = self.zero = self.sharp_v = False


_PLAIN = _Flags()


def _pad(f: _Flags, text: str, *, zero: bool | None = None) -> str:
    if not f.wid or len(text) >= f.wid:
        return text
    fill = f.wid - len(text)
    if f.minus:
        return text + " " * fill
    use_zero = f.zero if zero is None else zero
    return ("0" if use_zero else " ") * fill + text


# --- values --------------------------------------------------------------------------------


def _bad_verb(f: _Flags, verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={_print(f, arg, 'v')})"


def _print(f: _Flags, arg: Any, verb: str) -> str:
    """Go's ``printArg``: ``arg`` formatted with ``verb`` and the flags ``f``."""
    if arg is None:
        return _pad(f, "<nil>") if verb in "Tv" else _bad_verb(f, verb, arg)
    if verb == "T":
        return _pad(f, go_type(arg))
    if isinstance(arg, bool):
        return _pad(f, "true" if arg else "false") if verb in "tv" else _bad_verb(f, verb, arg)
    if isinstance(arg, int):
        return _fmt_int(f, arg, verb)
    if isinstance(arg, float):
        return _fmt_float(f, arg, verb)
    if isinstance(arg, str):
        return _fmt_str(f, arg, verb)
    if isinstance(arg, Mapping):
        keys = sorted(arg, key=lambda k: (str(type(k)), k))
        parts = [f"{_element(f, k, verb)}:{_element(f, arg[k], verb)}" for k in keys]
        if f.sharp_v:
            return "map[string]interface {}{" + ", ".join(parts) + "}"
        return "map[" + " ".join(parts) + "]"
    if isinstance(arg, list | tuple):
        parts = [_element(f, v, verb) for v in arg]
        if f.sharp_v:
            return "[]interface {}{" + ", ".join(parts) + "}"
        return "[" + " ".join(parts) + "]"
    return _pad(f, str(arg))


def _element(f: _Flags, value: Any, verb: str) -> str:
    # A nil inside a container prints as <nil> whatever the verb (Go's printValue).
    if value is None:
        return "interface {}(nil)" if f.sharp_v else "<nil>"
    return _print(f, value, verb)


def _fmt_str(f: _Flags, s: str, verb: str) -> str:
    if f.prec is not None:
        s = s[: f.prec]
    if verb == "s" or (verb == "v" and not f.sharp_v):
        return _pad(f, s)
    if verb in ("q", "v"):
        if f.sharp and can_backquote(s):
            return _pad(f, f"`{s}`")
        return _pad(f, quote(s, ascii_only=f.plus))
    if verb in "xX":
        return _fmt_hex_bytes(f, s.encode("utf-8", "surrogatepass"), verb)
    return _bad_verb(f, verb, s)


def _fmt_hex_bytes(f: _Flags, data: bytes, verb: str) -> str:
    if f.prec is not None:
        data = data[: f.prec]
    parts = [f"{b:02x}" for b in data]
    prefix = "0x" if f.sharp else ""
    if not parts:
        text = ""
    elif f.space:
        text = " ".join(prefix + p for p in parts)
    else:
        text = prefix + "".join(parts)
    return _pad(f, text.upper() if verb == "X" else text)


def _fmt_int(f: _Flags, n: int, verb: str) -> str:
    if verb in "vd":
        return _fmt_integer(f, n, 10, verb)
    if verb == "b":
        return _fmt_integer(f, n, 2, verb)
    if verb in "oO":
        return _fmt_integer(f, n, 8, verb)
    if verb in "xX":
        return _fmt_integer(f, n, 16, verb)
    if verb == "c":
        return _pad(f, chr(valid_rune(n)))
    if verb == "q":
        return _pad(f, quote_rune(n, ascii_only=f.plus))
    if verb == "U":
        u = n & 0xFFFFFFFFFFFFFFFF
        text = "U+" + f"{u:X}".rjust(max(4, f.prec or 0), "0")
        if f.sharp and valid_rune(u) == u and chr(u).isprintable():
            text += f" '{chr(u)}'"
        return _pad(f, text, zero=False)
    return _bad_verb(f, verb, n)


def _fmt_integer(f: _Flags, n: int, base: int, verb: str) -> str:
    negative, u = n < 0, abs(n)
    prec = 0
    if f.prec is not None:
        prec = f.prec
        if prec == 0 and u == 0:  # "print nothing", but the padding
            return " " * (f.wid or 0)
    elif f.zero and not f.minus and f.wid:
        prec = f.wid - (1 if negative or f.plus or f.space else 0)
    digits = format(u, {2: "b", 8: "o", 10: "d", 16: "x"}[base])
    if verb == "X":
        digits = digits.upper()
    digits = digits.rjust(prec, "0")
    if f.sharp:
        if base == 2:
            digits = "0b" + digits
        elif base == 8 and digits[0] != "0":
            digits = "0" + digits
        elif base == 16:
            digits = ("0X" if verb == "X" else "0x") + digits
    if verb == "O":
        digits = "0o" + digits
    sign = "-" if negative else "+" if f.plus else " " if f.space else ""
    # Zero padding, if any, was done above as a precision.
    return _pad(f, sign + digits, zero=False)


def _shortest(x: float) -> tuple[str, int]:
    """The shortest decimal digits of ``abs(x)`` that round-trip, and the position of
    the decimal point (``abs(x) == 0.DIGITS * 10**dp``); ``("", 0)`` for zero."""
    if x == 0:
        return "", 0
    _, digits, exp = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(exp, int)
    text = "".join(map(str, digits))
    dp = len(text) + exp
    return text.rstrip("0"), dp


def _exp_form(digits: str, dp: int, upper: bool) -> str:
    exp = dp - 1 if digits else 0
    mantissa = (digits[:1] or "0") + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}{'E' if upper else 'e'}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _shortest_g(x: float, upper: bool) -> str:
    """strconv.FormatFloat(x, 'g', -1, 64) for a finite, non-negative x."""
    digits, dp = _shortest(x)
    exp = dp - 1
    if digits and (exp < -4 or exp >= 6):  # Go's shortest %g uses exponent precision 6
        return _exp_form(digits, dp, upper)
    if not digits:
        return "0"
    if dp <= 0:
        return "0." + "0" * -dp + digits
    if dp >= len(digits):
        return digits + "0" * (dp - len(digits))
    return digits[:dp] + "." + digits[dp:]


def _hex_float(x: float, upper: bool) -> str:
    if x == 0:
        text = "0x0p+00"
    else:
        m, e = math.frexp(x)
        frac = f"{int((m * 2 - 1) * (1 << 52)):013x}".rstrip("0")
        exp = e - 1
        text = f"0x1{'.' + frac if frac else ''}p{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return text.upper() if upper else text


def _binary_float(x: float) -> str:
    if x == 0:
        return "0p-1074"
    m, e = math.frexp(x)
    mant, exp = int(m * (1 << 53)), e - 53
    if exp < -1074:  # subnormal: Go keeps the raw mantissa with exponent -1074
        mant >>= -1074 - exp
        exp = -1074
    return f"{mant}p{'-' if exp < 0 else '+'}{abs(exp)}"


def _float_text(x: float, verb: str, prec: int | None) -> str:
    """strconv.FormatFloat of a finite, non-negative x (prec None: shortest)."""
    lower = verb.lower()
    if lower == "g":
        if prec is None:
            return _shortest_g(x, verb == "G")
        return f"{x:.{prec}{verb}}"
    if lower == "e":
        return f"{x:.{6 if prec is None else prec}{verb}}"
    if lower == "f":
        return f"{x:.{6 if prec is None else prec}f}"
    if lower == "x":
        return _hex_float(x, verb == "X")
    return _binary_float(x)


def _fmt_float(f: _Flags, x: float, verb: str) -> str:
    if verb == "v":
        verb = "g"
    if verb not in "bgGxXeEfF":
        return _bad_verb(f, verb, x)
    if math.isnan(x):
        return _pad(f, "+NaN" if f.plus else " NaN" if f.space else "NaN", zero=False)
    if math.isinf(x):
        # Go keeps the sign of an infinity even for %v: "+Inf".
        num = "-Inf" if x < 0 else " Inf" if f.space and not f.plus else "+Inf"
        return _pad(f, num, zero=False)
    negative = x < 0 or (x == 0 and math.copysign(1.0, x) < 0)
    num = ("-" if negative else "+") + _float_text(abs(x), verb, f.prec)
    if f.space and num[0] == "+" and not f.plus:
        num = " " + num[1:]
    if f.plus or num[0] != "+":
        if f.zero and not f.minus and f.wid and f.wid > len(num):
            return num[0] + "0" * (f.wid - len(num)) + num[1:]
        return _pad(f, num)
    return _pad(f, num[1:])


def value_string(value: Any) -> str:
    """Go's ``%v`` of a value (what ``{{.x}}`` prints for a non-nil value).

    >>> value_string({"b": 2, "a": [True, None, 0.1]})
    'map[a:[true <nil> 0.1] b:2]'
    """
    if isinstance(value, str):
        return value
    return _print(_PLAIN, value, "v")


def sprint(*args: Any, limit: int | None = None) -> str:
    """Go's ``fmt.Sprint``: a space between operands when neither is a string.

    >>> sprint("a", 1, 2, "b")
    'a1 2b'
    """
    out: list[str] = []
    size = 0
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        text = value_string(arg)
        if i > 0 and not is_string and not prev_string:
            text = " " + text
        out.append(text)
        size += len(text)
        if limit is not None and size > limit:
            raise OutputLimit
        prev_string = is_string
    return "".join(out)


def sprintln(*args: Any, limit: int | None = None) -> str:
    """Go's ``fmt.Sprintln``: operands separated by spaces, then a newline."""
    out: list[str] = []
    size = 0
    for arg in args:
        text = value_string(arg)
        out.append(text)
        size += len(text) + 1
        if limit is not None and size > limit:
            raise OutputLimit
    return " ".join(out) + "\n"


# --- Sprintf ---------------------------------------------------------------------------------


def _parsenum(s: str, i: int) -> tuple[int | None, int]:
    j = i
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    if j == i:
        return None, i
    num = int(s[i:j])
    if num > 1_000_000:  # Go gives up on absurd numbers and skips to the end
        return None, len(s)
    return num, j


def _int_arg(args: tuple[Any, ...], n: int) -> tuple[int | None, int]:
    if n >= len(args):
        return None, n
    value = args[n]
    if isinstance(value, int) and not isinstance(value, bool) and -1_000_000 <= value <= 1_000_000:
        return value, n + 1
    return None, n + 1


def _least(f: _Flags, arg: Any, verb: str) -> int:
    """A lower bound of the length of ``_print(f, arg, verb)``: its width, and for
    numbers whose digits are padded to it, its precision. (A list or a map pads each
    element, an empty one nothing; a bad verb on nil is not padded.)"""
    if isinstance(arg, Mapping | list | tuple) or (arg is None and verb not in "Tv"):
        return 0
    padded_digits = (isinstance(arg, int) and not isinstance(arg, bool) and verb in "vdboOxXU") or (
        isinstance(arg, float) and verb in "eEfF" and math.isfinite(arg)
    )
    if f.prec is not None and padded_digits:
        return max(f.wid or 0, f.prec)
    return f.wid or 0


class _Printf:
    """The state of one ``Sprintf`` (Go's ``pp``): output, argument number, flags."""

    def __init__(self, fmt: str, args: tuple[Any, ...], limit: int | None) -> None:
        self.fmt, self.args = fmt, args
        self.out: list[str] = []
        self.size = 0  # characters in out
        self.limit = limit
        self.argnum = 0
        self.reordered = False
        self.good_argnum = True

    def arg_number(self, i: int) -> tuple[int, bool]:
        """An explicit ``[n]`` argument index at ``i``: the new position and whether
        one was found (Go's ``argNumber``)."""
        fmt = self.fmt
        if i >= len(fmt) or fmt[i] != "[":
            return i, False
        self.reordered = True
        close = fmt.find("]", i + 1)
        if close < 0:
            self.good_argnum = False
            return i + 1, False
        num, end = _parsenum(fmt, i + 1)
        if num is None or end != close:
            self.good_argnum = False
            return close + 1, False
        if 1 <= num <= len(self.args):
            self.argnum = num - 1
            return close + 1, True
        self.good_argnum = False
        return close + 1, True

    def put(self, text: str) -> None:
        self.out.append(text)
        self.size += len(text)
        if self.limit is not None and self.size > self.limit:
            raise OutputLimit

    def run(self) -> str:
        fmt, args, put = self.fmt, self.args, self.put
        end = len(fmt)
        i = 0
        while i < end:
            self.good_argnum = True
            j = fmt.find("%", i)
            if j < 0:
                put(fmt[i:])
                break
            put(fmt[i:j])
            i = j + 1
            f = _Flags()
            while i < end and fmt[i] in "#0+- ":
                c = fmt[i]
                if c == "#":
                    f.sharp = True
                elif c == "0":
                    f.zero = True
                elif c == "+":
                    f.plus = True
                elif c == "-":
                    f.minus = True
                else:
                    f.space = True
                i += 1
            i, after_index = self.arg_number(i)
            if i < end and fmt[i] == "*":
                i += 1
                f.wid, self.argnum = _int_arg(args, self.argnum)
                if f.wid is None:
                    put("%!(BADWIDTH)")
                elif f.wid < 0:
                    f.wid, f.minus = -f.wid, True
                after_index = False
            else:
                f.wid, i = _parsenum(fmt, i)
                if after_index and f.wid is not None:
                    self.good_argnum = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:
                    self.good_argnum = False
                i, after_index = self.arg_number(i)
                if i < end and fmt[i] == "*":
                    i += 1
                    f.prec, self.argnum = _int_arg(args, self.argnum)
                    if f.prec is not None and f.prec < 0:
                        f.prec = None
                    if f.prec is None:
                        put("%!(BADPREC)")
                    after_index = False
                else:
                    f.prec, i = _parsenum(fmt, i)
                    if f.prec is None:
                        f.prec = 0
            if not after_index:
                i, after_index = self.arg_number(i)
            if i >= end:
                put("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            if verb == "%":  # a literal percent takes no operand and ignores the flags
                put("%")
            elif not self.good_argnum:
                put(f"%!{verb}(BADINDEX)")
            elif self.argnum >= len(args):
                put(f"%!{verb}(MISSING)")
            else:
                if verb == "v":
                    f.sharp_v, f.sharp = f.sharp, False
                    f.plus = False
                arg = args[self.argnum]
                if self.limit is not None and self.size + _least(f, arg, verb) > self.limit:
                    raise OutputLimit  # before building a string a million wide
                put(_print(f, arg, verb))
                self.argnum += 1
        if not self.reordered and self.argnum < len(args):
            extra = [
                "<nil>" if a is None else f"{go_type(a)}={value_string(a)}"
                for a in args[self.argnum :]
            ]
            put("%!(EXTRA " + ", ".join(extra) + ")")
        return "".join(self.out)


def sprintf(fmt: str, *args: Any, limit: int | None = None) -> str:
    """Go's ``fmt.Sprintf``.

    >>> sprintf("%5.2f|%x|%[1]v", 3.14159, 255)
    ' 3.14|ff|3.14159'
    """
    if "%" not in fmt and not args:
        if limit is not None and len(fmt) > limit:
            raise OutputLimit
        return fmt
    return _Printf(fmt, args, limit).run()
