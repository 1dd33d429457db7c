"""The Go text/template subset, table-tested against Go's documented semantics."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dataflow_runner.config.gotemplate import default_funcs, render
from dataflow_runner.errors import TemplateError

NOW = dt.datetime(2024, 3, 9, 7, 5, 1, tzinfo=dt.UTC)
FUNCS = default_funcs(
    now=lambda: NOW,
    environ={"HOME_DIR": "/home/x", "EMPTY": ""},
    read_file=lambda p: (
        {"a.json": b'{"k": 1}'}[p]
        if p == "a.json"
        else (_ for _ in ()).throw(OSError(2, "No such file or directory"))
    ),
)


def r(text: str, data: dict[str, Any] | None = None) -> str:
    return render(text, "t.json", data or {}, funcs=FUNCS)


CASES = [
    # text, vars, expected
    ("no actions at all", {}, "no actions at all"),
    ("{{.a}}", {"a": "x"}, "x"),
    ("{{ .a }}", {"a": "x"}, "x"),
    ("{{ .a}}/{{.b }}", {"a": "1", "b": "2"}, "1/2"),
    ('"{{nowWithFormat "2006-01-02-15-04-05"}}"', {}, '"2024-03-09-07-05-01"'),
    ('{{ timeWithFormat "1700000000" "2006-01-02T15:04:05Z07:00" }}', {}, "2023-11-14T22:13:20Z"),
    ('{{ systemEnv "HOME_DIR" }}', {}, "/home/x"),
    ('{{ systemEnv "EMPTY" }}|', {}, "|"),
    ('{{ base64 "hello" }}', {}, "aGVsbG8="),
    ('{{ base64File "a.json" }}', {}, base64.b64encode(b'{"k": 1}').decode()),
    ("{{ .a | base64 }}", {"a": "x"}, "eA=="),
    ('{{ "x" | printf "%s-%s" "a" }}', {}, "a-x"),  # the piped value comes last
    ('{{ base64 (printf "%s:%s" .u .p) }}', {"u": "a", "p": "b"}, "YTpi"),
    # trimming and comments
    ("a  {{- .x -}}  b", {"x": "X"}, "aXb"),
    ("a\n\t{{- .x }}\n", {"x": "X"}, "aX\n"),
    ("a {{/* comment */}} b", {}, "a  b"),
    ("a {{- /* comment */ -}} b", {}, "ab"),
    ("{{-3}}", {}, "-3"),  # not a trim marker: a negative number
    # conditionals
    (
        '{{ if eq .env "prod" }}P{{ else if eq .env "dev" }}D{{ else }}?{{ end }}',
        {"env": "dev"},
        "D",
    ),
    ('{{ if eq .env "prod" }}P{{ else if eq .env "dev" }}D{{ else }}?{{ end }}', {"env": "x"}, "?"),
    ("{{ if .a }}yes{{ end }}", {"a": ""}, ""),
    ("{{ if not .a }}empty{{ end }}", {"a": ""}, "empty"),
    ("{{ if and .a .b }}both{{ else }}not both{{ end }}", {"a": "1", "b": ""}, "not both"),
    ('{{ or .a .b "fallback" }}', {"a": "", "b": ""}, "fallback"),
    ("{{ and .a .b }}", {"a": "1", "b": "2"}, "2"),
    ('{{ if ne (index . "spark") "off" }}spark{{ end }}', {}, "spark"),  # missing via index: nil
    ('{{ index . "spark" }}', {}, "<no value>"),
    ('{{ if eq .n "1" "2" "3" }}in{{ end }}', {"n": "2"}, "in"),
    (
        '{{ if lt 1 2 }}lt{{ end }}{{ if ge 2 2 }}ge{{ end }}{{ if gt "b" "a" }}gt{{ end }}',
        {},
        "ltgegt",
    ),
    # with
    ("{{ with .a }}[{{ . }}]{{ else }}none{{ end }}", {"a": "v"}, "[v]"),
    ("{{ with .a }}[{{ . }}]{{ else with .b }}<{{ . }}>{{ end }}", {"a": "", "b": "w"}, "<w>"),
    # range
    ("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", {"b": "2", "a": "1"}, "a=1;b=2;"),
    ("{{ range . }}{{ . }}{{ end }}", {"b": "2", "a": "1"}, "12"),
    ("{{ range 3 }}{{ . }}{{ end }}", {}, "012"),
    (
        "{{ range $i, $e := .l }}{{ if eq $i 2 }}{{ break }}{{ end }}{{ $e }}{{ end }}",
        {"l": ["a", "b", "c", "d"]},
        "ab",
    ),
    (
        '{{ range $e := .l }}{{ if eq $e "b" }}{{ continue }}{{ end }}{{ $e }}{{ end }}',
        {"l": ["a", "b", "c"]},
        "ac",
    ),
    ("{{ range .l }}x{{ else }}none{{ end }}", {"l": []}, "none"),
    # variables and scope
    ('{{ $x := .a }}{{ $x }}{{ $x = "q" }}{{ $x }}', {"a": "p"}, "pq"),
    ("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}", {}, "21"),
    ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", {}, "2"),
    ("{{ $.a }}{{ with .b }}{{ $.a }}{{ end }}", {"a": "A", "b": "B"}, "AA"),
    # literals
    ('{{ "a\\tb\\x41\\u00e9\\101" }}', {}, "a\tbAéA"),
    ("{{ `raw \\n {{ }}` }}", {}, "raw \\n {{ }}"),
    ("{{ 'a' }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}", {}, "97 31 15 15 5 1000"),
    ("{{ 1.5 }} {{ 1e6 }} {{ 0.00001 }} {{ 2.0 }}", {}, "1.5 1e+06 1e-05 2"),
    ("{{ true }} {{ false }}", {}, "true false"),
    # builtins
    ("{{ len .s }} {{ len .l }} {{ len . }}", {"s": "héllo", "l": ["a"]}, "6 1 2"),
    ('{{ index .l 1 }} {{ index .m "k" }}', {"l": ["a", "b"], "m": {"k": "v"}}, "b v"),
    ("{{ slice .s 1 3 }}|{{ slice .s 2 }}", {"s": "hello"}, "el|llo"),
    ('{{ print "a" 1 2 "b" true }}', {}, "a1 2btrue"),
    ('{{ println "a" 1 }}', {}, "a 1\n"),
    (
        '{{ printf "%d|%5s|%-4s|%05.1f|%x|%q|%t|%v" 42 "ab" "c" 3.14159 255 "q" true 7 }}',
        {},
        '42|   ab|c   |003.1|ff|"q"|true|7',
    ),
    ('{{ printf "%d" "abc" }}', {}, "%!d(string=abc)"),
    ('{{ printf "%s %s" "a" }}', {}, "a %!s(MISSING)"),
    ("{{ html \"<a href='x'>&\" }}", {}, "&lt;a href=&#39;x&#39;&gt;&amp;"),
    ('{{ urlquery "a b&c" }}', {}, "a+b%26c"),
    ('{{ js "it\'s" }}', {}, "it\\'s"),
    ("{{ . }}", {"b": "2", "a": "1"}, "map[a:1 b:2]"),
]


@pytest.mark.parametrize(("text", "data", "expected"), CASES)
def test_renders_like_go(text: str, data: dict[str, Any], expected: str) -> None:
    assert r(text, data) == expected


ERRORS = [
    # text, vars, line, column (None for parse errors), message pattern
    (
        "{{ .missing }}",
        {},
        1,
        4,
        r'executing "t.json" at <\.missing>: map has no entry for key "missing" '
        r"\(pass it with --vars missing,VALUE\)",
    ),
    ("a\nb\n  {{ .x.y }}", {"x": "s"}, 3, 6, r"can't evaluate field y in type string"),
    (
        '{\n  "k": "{{secret "aws-access-key-id"}}"\n}',
        {},
        2,
        None,
        r'function "secret" not defined \(the functions are nowWithFormat, timeWithFormat, '
        r"systemEnv, base64, base64File and Go's builtins\)",
    ),
    (
        "{{ if .a }}x",
        {"a": "1"},
        1,
        None,
        r"unexpected EOF: missing \{\{end\}\} for \{\{if\}\} started at line 1",
    ),
    ("x\n{{ end }}", {}, 2, None, r"unexpected \{\{end\}\}"),
    ("{{ else }}", {}, 1, None, r"unexpected \{\{else\}\}"),
    ('{{ "abc\n}}', {}, 1, None, r"unterminated quoted string"),
    ("{{ `abc }}", {}, 1, None, r"unterminated raw quoted string"),
    ("{{ .a ", {}, 1, None, r"unclosed action"),
    ("{{/* x", {}, 1, None, r"unclosed comment"),
    ("{{/* x */ }}", {}, 1, None, r"comment ends before closing delimiter"),
    ("{{ (.a }}", {}, 1, None, r"unclosed left paren"),
    ("{{ .a) }}", {}, 1, None, r"unexpected right paren"),
    ("{{ .a | }}", {}, 1, None, r"missing command"),
    ("{{ }}", {}, 1, None, r"missing value for command"),
    ("{{ 1abc }}", {}, 1, None, r"."),
    ('{{ "\\q" }}', {}, 1, None, r"invalid syntax"),
    ('{{ define "x" }}{{ end }}', {}, 1, None, r"\{\{define\}\} is not supported"),
    ('{{ template "x" }}', {}, 1, None, r"\{\{template\}\} is not supported"),
    ('{{ base64 "a" "b" }}', {}, 1, 4, r"wrong number of args for base64: want 1 got 2"),
    ("{{ base64 3 }}", {}, 1, 4, r"wrong type for value; expected string; got int"),
    (
        '{{ timeWithFormat 1700000000 "2006" }}',
        {},
        1,
        4,
        r"wrong type for value; expected string; got int",
    ),
    (
        '{{ timeWithFormat "x1" "2006" }}',
        {},
        1,
        4,
        r'error calling timeWithFormat: strconv\.ParseInt: parsing "x1": invalid syntax',
    ),
    (
        '{{ systemEnv "NOT_SET_HERE" }}',
        {},
        1,
        4,
        r"error calling systemEnv: environment variable NOT_SET_HERE not set",
    ),
    (
        '{{ base64File "b.json" }}',
        {},
        1,
        4,
        r"error calling base64File: open b\.json: no such file or directory",
    ),
    ("{{ eq 1 1.5 }}", {}, 1, 4, r"error calling eq: incompatible types for comparison"),
    ("{{ lt true false }}", {}, 1, 4, r"invalid type for comparison"),
    ("{{ index .l 3 }}", {"l": ["a"]}, 1, 4, r"error calling index: index out of range: 3"),
    ("{{ len 3 }}", {}, 1, 4, r"error calling len: len of type int"),
    ("{{ .a 1 }}", {"a": "x"}, 1, 4, r"can't give argument to non-function \.a"),
    ("{{ $nope }}", {}, 1, 4, r"undefined variable: \$nope"),
    ("{{ range .a }}{{ end }}", {"a": "str"}, 1, 10, r"range can't iterate over str"),
    ("{{ break }}", {}, 1, None, r"\{\{break\}\} outside \{\{range\}\}"),
    (
        "{{ if true }}{{ continue }}{{ end }}",
        {},
        1,
        None,
        r"\{\{continue\}\} outside \{\{range\}\}",
    ),
    ("{{ ne 1 }}", {}, 1, 4, r"wrong number of args for ne: want 2 got 1"),
    ("{{ nil }}", {}, 1, 4, r"nil is not a command"),
]


@pytest.mark.parametrize(("text", "data", "line", "column", "pattern"), ERRORS)
def test_errors_name_the_line_and_the_problem(
    text: str, data: dict[str, Any], line: int, column: int | None, pattern: str
) -> None:
    with pytest.raises(TemplateError) as info:
        r(text, data)
    err = info.value
    assert err.file == "t.json"
    assert err.line == line
    assert err.column == column
    assert pytest.importorskip("re").search(pattern, err.message), err.message


def test_real_config_snippets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.json").write_bytes(b"{}")
    monkeypatch.chdir(tmp_path)
    text = '"--config", "{{base64File "./config.json"}}", "--region", " {{ .region }}"'
    out = render(text, "p.json", {"region": "eu-west-1"})
    assert out == '"--config", "e30=", "--region", " eu-west-1"'


def test_default_now_is_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert render('{{ nowWithFormat "MST -0700" }}', "t", {}) == "IST +0530"
    finally:
        monkeypatch.setenv("TZ", "UTC")
        time.tzset()


def test_parse_is_cached_and_large_files_are_fast_to_render() -> None:
    body = "\n".join(f'"k{i}": "{{{{ .v }}}}-{i}",' for i in range(10_000))
    out = render("{" + body + "}", "big.json", {"v": "x"})
    assert out.count("x-") == 10_000


@given(st.text().filter(lambda t: "{{" not in t))
def test_text_without_actions_is_returned_unchanged(text: str) -> None:
    assert render(text, "t", {}) == text


@given(st.text())
def test_variables_render_exactly(value: str) -> None:
    assert render("[{{.v}}]", "t", {"v": value}) == f"[{value}]"
    assert (
        render("{{ .v | base64 }}", "t", {"v": value}, funcs=FUNCS)
        == base64.b64encode(value.encode()).decode()
    )


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_garbage_in_actions_raises_only_template_errors(garbage: str) -> None:
    with contextlib.suppress(TemplateError):
        render("{{" + garbage + "}}", "t", {"a": "x"}, funcs=FUNCS)
