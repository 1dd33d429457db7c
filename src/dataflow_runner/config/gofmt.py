"""Go's fmt for templates: ``print``, ``println`` and ``printf`` on the values a
config template handles (strings, integers, floats, booleans, nil, maps and
lists), including Go's way of reporting a bad verb (``%!d(string=abc)``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d*|\*))?([a-zA-Z%])")


def go_type(value: Any) -> str:
    """The Go type name of a template value (for error messages)."""
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
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__


def _shortest(value: float) -> tuple[str, int]:
    """The shortest digits that round-trip, and the decimal point's position
    (``value == 0.DIGITS * 10**dp``), as Go's strconv computes them."""
    text = repr(abs(value))
    mantissa, _, exp = text.partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    digits = raw.lstrip("0")
    dp = len(whole) + int(exp or 0) - (len(raw) - len(digits))
    digits = digits.rstrip("0")
    return (digits, dp) if digits else ("0", 1)


def format_float(value: float, verb: str = "g", prec: int | None = None) -> str:
    """Go's %v (shortest %g), %g, %e and %f of a float64."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if verb == "f":
        return f"{value:.{6 if prec is None else prec}f}"
    if verb == "e":
        return f"{value:.{6 if prec is None else prec}e}"
    if prec is not None:
        return f"{value:.{prec}g}"
    digits, dp = _shortest(value)
    sign = "-" if value < 0 or (value == 0 and math.copysign(1, value) < 0) else ""
    exp = dp - 1
    # Go's shortest %g switches to an exponent below 1e-4 and from 1e+06 (eprec 6).
    if digits != "0" and (exp < -4 or exp >= 6):
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def value_string(value: Any) -> str:
    """Go's %v of a template value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, dict):
        return (
            "map["
            + " ".join(f"{value_string(k)}:{value_string(v)}" for k, v in sorted(value.items()))
            + "]"
        )
    if isinstance(value, list | tuple):
        return "[" + " ".join(value_string(v) for v in value) + "]"
    return str(value)


def sprint(*args: Any) -> str:
    """Go's fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(value_string(arg))
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(value_string(a) for a in args) + "\n"


def _pad(text: str, flags: str, width: int | None, numeric: bool = False) -> str:
    if width is None or len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and numeric:
        sign = text[0] if text[:1] in "+-" else ""
        return sign + text[len(sign) :].rjust(width - len(sign), "0")
    return text.rjust(width)


def _bad(verb: str, arg: Any) -> str:
    return f"%!{verb}({go_type(arg)}={value_string(arg)})"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _one(verb: str, flags: str, width: int | None, prec: int | None, arg: Any) -> str:
    numeric = isinstance(arg, int | float) and not isinstance(arg, bool)
    if verb == "v":
        text = value_string(arg)
        if "+" in flags and isinstance(arg, int | float) and not isinstance(arg, bool) and arg >= 0:
            text = "+" + text
        return _pad(text, flags, width, numeric)
    if verb == "s":
        if isinstance(arg, str):
            return _pad(arg if prec is None else arg[:prec], flags, width)
        if numeric or isinstance(arg, bool) or arg is None:
            return _bad(verb, arg)
        return _pad(value_string(arg), flags, width)
    if verb == "q":
        if isinstance(arg, str):
            return _pad(
                f"`{arg}`" if "#" in flags and "`" not in arg else _quote(arg), flags, width
            )
        if isinstance(arg, int) and not isinstance(arg, bool):
            return _pad(f"'{chr(arg)}'", flags, width)
        return _bad(verb, arg)
    if verb == "t":
        return _pad(value_string(arg), flags, width) if isinstance(arg, bool) else _bad(verb, arg)
    if verb in "dboxXc" and isinstance(arg, int) and not isinstance(arg, bool):
        if verb == "c":
            return _pad(chr(arg), flags, width)
        base = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}[verb]
        text = format(abs(arg), base)
        if "#" in flags and verb in "xX":
            text = ("0x" if verb == "x" else "0X") + text
        if "#" in flags and verb == "o":
            text = "0" + text
        sign = "-" if arg < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
        return _pad(sign + text, flags, width, True)
    if verb in "xX" and isinstance(arg, str):
        text = arg.encode().hex()
        return _pad(text.upper() if verb == "X" else text, flags, width)
    if verb in "feEgG" and isinstance(arg, float | int) and not isinstance(arg, bool):
        text = format_float(float(arg), verb.lower() if verb != "g" else "g", prec)
        if verb in "EG":
            text = text.upper()
        if "+" in flags and arg >= 0:
            text = "+" + text
        return _pad(text, flags, width, True)
    return _bad(verb, arg)


def sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use, with Go's error forms."""
    out: list[str] = []
    pos = 0
    used = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width_s, prec_s, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        width = int(width_s) if width_s and width_s != "*" else None
        prec = int(prec_s) if prec_s not in (None, "", "*") else (0 if prec_s == "" else None)
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_one(verb, flags, width, prec, args[used]))
        used += 1
    out.append(fmt[pos:])
    if used < len(args):
        extra = ", ".join(f"{go_type(a)}={value_string(a)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)
