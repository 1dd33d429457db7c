"""The DSL's strings and how they are written in the YAML form.

A placeholder ``{date}`` is the YAML form's template ``{{.date}}``; a brace is
written twice for a literal one (``{{`` and ``}}``, as in ``str.format``):

>>> yaml_scalar("data/{date}/{hour}.txt", placeholders=True)
'"data/{{.date}}/{{.hour}}.txt"'
>>> yaml_scalar("awk '{{print $1}}'", placeholders=True)
'"awk \\'{print $1}\\'"'
>>> yaml_scalar("steps/join.py", placeholders=True)
'steps/join.py'

The YAML form is rendered as a Go template before it is parsed, so no literal text
may read ``{{`` there: such a brace is written ``\\x7b``, the YAML escape of ``{``,
which the template does not see and the YAML parser reads back as ``{``. A
:func:`template` string is a Go template, written as it is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection
from decimal import Decimal

#: A placeholder's name: a template variable.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
# What YAML would not read back as it was in a double-quoted scalar: C0/C1 controls
# that JSON leaves as they are, line separators, surrogates, non-characters.
_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
# A template is written as it is, in single quotes: no line break, no control character.
_NOT_IN_TEMPLATE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
# A string YAML reads as the same string without quotes (and the template leaves
# alone): no indicator, no number, no YAML 1.1 boolean or null.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*\Z")
_NOT_PLAIN = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})


class DslError(ValueError):
    """A playbook built wrong: reported at the line of the file that built it."""


class Template(str):
    """A Go template, written to the YAML form as it is (see :func:`template`)."""

    __slots__ = ()


def template(text: str) -> Template:
    """A string that is a Go template, for what placeholders cannot say, such as the
    day before a partition:

    >>> template("out/{{ addDate .date 0 0 -1 }}.txt")
    'out/{{ addDate .date 0 0 -1 }}.txt'
    """
    if not isinstance(text, str):
        raise DslError(f"template() takes a string, got {type(text).__name__}")
    bad = _NOT_IN_TEMPLATE.search(text)
    if bad:
        raise DslError(
            f"template() takes one line of printable text, got {bad.group()!r} in {text!r}"
        )
    return Template(text)


def segments(text: str) -> list[tuple[str, bool]]:
    """``(literal text, False)`` and ``(placeholder name, True)``, in order.

    >>> segments("a{{b}}/{date}")
    [('a{b}/', False), ('date', True)]
    """
    out: list[tuple[str, bool]] = []
    literal: list[str] = []
    pos = 0
    for token in _TOKEN.finditer(text):
        literal.append(text[pos : token.start()])
        pos = token.end()
        raw = token.group()
        if raw in ("{{", "}}"):
            literal.append(raw[0])
            continue
        if raw in ("{", "}"):
            what = "{{" if raw == "{" else "}}"
            raise DslError(f"a single {raw!r} in {text!r}: write {what} for a literal {raw}")
        name = token.group(1)
        if not NAME.match(name):
            raise DslError(
                f"{raw!r} in {text!r} is not a placeholder: a placeholder is a name such as "
                "{date}; write {{ and }} for literal braces"
            )
        if "".join(literal):
            out.append(("".join(literal), False))
        literal = []
        out.append((name, True))
    literal.append(text[pos:])
    if "".join(literal):
        out.append(("".join(literal), False))
    return out


def placeholders(text: str) -> list[str]:
    """The names of the placeholders of a DSL string (checking its braces).

    >>> placeholders("in/{date}/{hour}-{{x}}.txt")
    ['date', 'hour']
    """
    if isinstance(text, Template):
        return []
    return [value for value, is_name in segments(text) if is_name]


def check(text: str, known: Collection[str] | None, where: str) -> None:
    """Raise :class:`DslError` when ``text`` has a bad brace or a placeholder that
    names no variable in ``known`` (None: any name)."""
    for name in placeholders(text):
        if known is not None and name not in known:
            listed = ", ".join(sorted(known)) or "none: the playbook has no partitions or params"
            raise DslError(
                f"{where}: unknown placeholder {{{name}}} (known: {listed}; a parameter is "
                "declared with params=, a variable given with --vars)"
            )


def yaml_scalar(value: str, *, placeholders: bool = False) -> str:
    """A string as a YAML scalar in the template text of the YAML form;
    ``placeholders``: its ``{name}`` are template variables."""
    if isinstance(value, Template):
        return "'" + value.replace("'", "''") + "'"
    pieces = segments(value) if placeholders else [(value, False)] if value else []
    if len(pieces) == 1 and not pieces[0][1]:
        text = pieces[0][0]
        if _PLAIN.match(text) and text.lower() not in _NOT_PLAIN:
            return text
    out = []
    for i, (text, is_name) in enumerate(pieces):
        if is_name:
            out.append("{{." + text + "}}")
            continue
        quoted = _UNSAFE.sub(
            lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False)[1:-1]
        )
        # No literal "{{", nor "{" just before a placeholder's "{{".
        quoted = re.sub(r"\{(?=\{)", r"\\x7b", quoted)
        if quoted.endswith("{") and i + 1 < len(pieces):
            quoted = quoted[:-1] + "\\x7b"
        out.append(quoted)
    return '"' + "".join(out) + '"'


def yaml_number(value: float) -> str:
    """A number as YAML reads it back (PyYAML's floats need a ``.``).

    >>> yaml_number(3600.0), yaml_number(0.5), yaml_number(1e-05), yaml_number(7)
    ('3600', '0.5', '0.00001', '7')
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DslError(f"expected a number, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DslError(f"expected a finite number, got {value!r}")
        if value.is_integer():
            return str(int(value))
        return f"{Decimal(repr(value)):f}"
    return str(value)
