"""The Go text/template subset, table-tested against Go's documented behaviour.

Expected outputs and messages come from Go's text/template documentation and the
wording of its parser and executor (``template: NAME:LINE: ...`` for parse errors,
``template: NAME:LINE:COL: executing "NAME" at <NODE>: ...`` for execution errors,
the column being the byte offset in the line); a few messages add a hint.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import signal
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow_runner.config.template import DEFAULT_MAX_OUTPUT, Template, default_funcs, render
from dataflow_runner.errors import ConfigError, TemplateError

NOW = dt.datetime(2024, 3, 9, 7, 5, 1, 123456, tzinfo=dt.UTC)
FILES = {"./config.json": b'{"k": 1}\n', "bin": bytes(range(256))}


def _reader(path: str) -> bytes:
    if path in FILES:
        return FILES[path]
    raise FileNotFoundError(2, "No such file or directory", path)


FUNCS = default_funcs(
    now=lambda: NOW, environ={"HOME_DIR": "/home/x", "EMPTY": ""}, read_file=_reader
)


def r(text: str, data: dict[str, Any] | None = None, funcs: Any = None) -> str:
    return render(text, "t.json", {} if data is None else data, funcs=funcs or FUNCS)


def error_of(text: str, data: dict[str, Any] | None = None, funcs: Any = None) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        r(text, data, funcs)
    return info.value


# --- rendering ------------------------------------------------------------------------------

RENDER = [
    # text without actions
    ("", {}, ""),
    ("plain { text } }} and {", {}, "plain { text } }} and {"),
    ("héllo ✓\n", {}, "héllo ✓\n"),
    # fields, dot, $
    ("{{.a}}", {"a": "x"}, "x"),
    ("{{ .a }}", {"a": "x"}, "x"),
    ("{{ .a}}|{{.a }}", {"a": "x"}, "x|x"),
    ("{{\n.a\n}}", {"a": "x"}, "x"),  # newlines are spaces inside actions
    ("{{.a.b}}", {"a": {"b": "deep"}}, "deep"),
    ("{{ . }}", {"b": "2", "a": "1"}, "map[a:1 b:2]"),
    ("{{ $ }}", {"a": "1"}, "map[a:1]"),
    ("{{ $.a }}", {"a": "1"}, "1"),
    ("{{ .l }}", {"l": ["a", "b", None]}, "[a b <nil>]"),
    ("{{ .n }} {{ .f }} {{ .t }}", {"n": 7, "f": 2.5, "t": True}, "7 2.5 true"),
    ('{{ index . "missing" }}', {}, "<no value>"),  # a nil value prints as <no value>
    # variables and their scopes
    ("{{ $x := .a }}{{ $x }}", {"a": "v"}, "v"),
    ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", {}, "2"),
    ('{{ $x := "o" }}{{ if true }}{{ $x := "i" }}{{ $x }}{{ end }}{{ $x }}', {}, "io"),
    ('{{ $x := "o" }}{{ if true }}{{ $x = "i" }}{{ end }}{{ $x }}', {}, "i"),
    ("{{ $n := 0 }}{{ range $i := 3 }}{{ $n = $i }}{{ end }}{{ $n }}", {}, "2"),
    ("{{ if $x := .a }}{{ $x }}{{ else }}[{{ $x }}]{{ end }}", {"a": ""}, "[]"),
    ('{{ print ($x := "v") }}{{ $x }}', {}, "vv"),  # declared in parentheses: still visible
    ("{{ $x := .a }}{{ $x.b }}", {"a": {"b": "c"}}, "c"),
    ('{{ (index . "a").b }}', {"a": {"b": "c"}}, "c"),
    # string literals
    ('{{ "a\\tb\\n\\"q\\"\\\\" }}', {}, 'a\tb\n"q"\\'),
    ('{{ "\\x41\\101\\u00e9\\U0001F600" }}', {}, "AAé😀"),
    ('{{ "\\xc3\\xa9" }}', {}, "é"),  # \x escapes are bytes
    ("{{ `raw \\n {{ }}` }}", {}, "raw \\n {{ }}"),
    ("{{ `two\nlines` }}", {}, "two\nlines"),
    ("{{ `a\r\nb` }}", {}, "a\nb"),  # raw strings lose their carriage returns
    # numbers, characters, booleans, nil
    ("{{ 42 }} {{ -7 }} {{ +7 }} {{ -0 }}", {}, "42 -7 7 0"),
    (
        "{{ 0x1F }} {{ 0X1f }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}",
        {},
        "31 31 15 15 5 1000",
    ),
    ("{{ 'a' }} {{ '\\n' }} {{ '\\x41' }} {{ 'é' }} {{ '\\u00e9' }}", {}, "97 10 65 233 233"),
    (
        "{{ 1.5 }} {{ 1e3 }} {{ 1.0 }} {{ .5 }} {{ 0x1p-2 }} {{ 1_0.5 }}",
        {},
        "1.5 1000 1 0.5 0.25 10.5",
    ),
    (
        "{{ 0.1 }} {{ 1e-7 }} {{ 123456789.0 }} {{ 1e6 }} {{ 123456.0 }}",
        {},
        "0.1 1e-07 1.23456789e+08 1e+06 123456",
    ),
    (
        "{{ 9223372036854775807 }} {{ -9223372036854775808 }}",
        {},
        "9223372036854775807 -9223372036854775808",
    ),
    ("{{ true }} {{ false }} {{ print nil }}", {}, "true false <nil>"),
    # trim markers: "{{- " and " -}}" need a space (any of space, tab, CR, LF)
    ("a  {{- .x -}}  b", {"x": "X"}, "aXb"),
    ("a \r\n\t{{- .x }}\n", {"x": "X"}, "aX\n"),
    ("{{ .x -}}\n\n\t b", {"x": "X"}, "Xb"),
    ("a\n{{-\t.x\t-}}\nb", {"x": "X"}, "aXb"),
    ("x\n{{-  3   -}}\ny", {}, "x3y"),
    ("{{-3}}", {}, "-3"),  # no space: the number -3
    ("{{3 -}} 1", {}, "31"),
    ("a {{- if true }} b {{- end }} c", {}, "a b c"),
    # comments
    ("a{{/* comment */}}b", {}, "ab"),
    ("a {{/* multi\nline {{ }} */}} b", {}, "a  b"),
    ("a \n {{- /* c */ -}} \n b", {}, "ab"),
    ("a {{- /* c */}} b", {}, "a b"),
    ("{{/* c */ -}}\n\n\ty", {}, "y"),
    # pipelines: the piped value is the last argument
    ("{{ .a | base64 }}", {"a": "x"}, "eA=="),
    ('{{ "x" | printf "%s-%s" "a" }}', {}, "a-x"),
    ('{{ "a" | printf "%s1" | printf "%s2" }}', {}, "a12"),
    ('{{ base64 (printf "%s:%s" .u .p) }}', {"u": "a", "p": "b"}, "YTpi"),
    ('{{ printf "%s" (print (print "in" "ner")) }}', {}, "inner"),
    ("{{ .a | }}", {"a": "x"}, "x"),  # Go accepts an empty stage at the end
    ("{{ .a |base64}}{{.a| base64}}", {"a": "x"}, "eA==eA=="),
    # if / else if / else
    (
        '{{ if eq .env "prod" }}P{{ else if eq .env "dev" }}D{{ else }}?{{ end }}',
        {"env": "dev"},
        "D",
    ),
    (
        '{{ if eq .env "prod" }}P{{ else if eq .env "dev" }}D{{ else }}?{{ end }}',
        {"env": "qa"},
        "?",
    ),
    ("{{ if .a }}T{{ end }}", {"a": "x"}, "T"),
    ("{{ if .a }}T{{ else }}F{{ end }}", {"a": ""}, "F"),
    ('{{ if "0" }}T{{ end }}', {}, "T"),  # a non-empty string is true
    ("{{ if 0 }}T{{ else }}F{{ end }}{{ if 1 }}T{{ end }}", {}, "FT"),
    ("{{ if 0.0 }}T{{ else }}F{{ end }}{{ if false }}T{{ else }}F{{ end }}", {}, "FF"),
    ("{{ if .l }}T{{ else }}F{{ end }}{{ if .m }}T{{ else }}F{{ end }}", {"l": [], "m": {}}, "FF"),
    ('{{ if index . "none" }}T{{ else }}F{{ end }}', {}, "F"),  # nil
    ("{{ if .a }}{{ if .b }}ab{{ else }}a{{ end }}{{ end }}", {"a": "1", "b": ""}, "a"),
    # with / else with / else
    ("{{ with .a }}[{{ . }}]{{ else }}none{{ end }}", {"a": "v"}, "[v]"),
    ("{{ with .a }}[{{ . }}]{{ else }}none{{ end }}", {"a": ""}, "none"),
    ("{{ with .a }}[{{ . }}]{{ else with .b }}<{{ . }}>{{ end }}", {"a": "", "b": "w"}, "<w>"),
    ("{{ with $v := .a }}{{ $v }}{{ . }}{{ end }}", {"a": "x"}, "xx"),
    ("{{ with .m }}{{ .k }}{{ end }}", {"m": {"k": "inner"}}, "inner"),
    # range
    ("{{ range $k, $v := . }}{{ $k }}={{ $v }};{{ end }}", {"b": "2", "a": "1"}, "a=1;b=2;"),
    ("{{ range . }}{{ . }}{{ end }}", {"b": "2", "a": "1", "c": "3"}, "123"),
    ("{{ range $v := .l }}{{ $v }}{{ end }}", {"l": ["x", "y"]}, "xy"),
    ("{{ range $i, $v := .l }}{{ $i }}{{ $v }}{{ end }}", {"l": ["x", "y"]}, "0x1y"),
    ("{{ range 3 }}{{ . }}{{ end }}", {}, "012"),
    ("{{ range $i := 3 }}{{ $i }}{{ end }}", {}, "012"),
    ("{{ range 0 }}x{{ else }}empty{{ end }}", {}, "empty"),
    ("{{ range -2 }}x{{ else }}empty{{ end }}", {}, "empty"),
    ("{{ range .l }}x{{ else }}empty{{ end }}", {"l": []}, "empty"),
    ('{{ range index . "none" }}x{{ else }}nil{{ end }}', {}, "nil"),
    (
        "{{ range .l }}{{ if eq . 2 }}{{ continue }}{{ end }}"
        "{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}",
        {"l": [1, 2, 3, 4, 5]},
        "13",
    ),
    (
        "{{ range $i := 2 }}{{ range $j := 2 }}{{ $i }}{{ $j }} {{ end }}{{ end }}",
        {},
        "00 01 10 11 ",
    ),
    ("{{ range $i, $v := .l }}{{ end }}{{ $.a }}", {"l": [1], "a": "after"}, "after"),
    (
        "{{ $i := 0 }}{{ $v := 0 }}{{ range $i, $v = .l }}{{ end }}{{ $i }}{{ $v }}",
        {"l": ["a", "b"]},
        "1b",
    ),
    # builtins: comparisons
    ('{{ eq .n "1" "2" "3" }} {{ eq .n "9" }}', {"n": "2"}, "true false"),
    (
        '{{ eq 1 1 }} {{ eq 1.5 1.5 }} {{ eq true false }} {{ ne 1 2 }} {{ ne "a" "a" }}',
        {},
        "true true false true false",
    ),
    ('{{ eq (index . "x") "a" }} {{ eq (index . "x") (index . "y") }}', {}, "false true"),
    ("{{ lt 1 2 }} {{ le 2 2 }} {{ gt 1 2 }} {{ ge 2 2 }}", {}, "true true false true"),
    (
        '{{ lt 1.5 2.5 }} {{ lt "a" "b" }} {{ gt "b" "a" }} {{ lt "é" "z" }}',
        {},
        "true true true false",
    ),
    # builtins: logic (and/or return an operand, evaluated lazily)
    ('{{ and 1 0 2 }} {{ and 1 2 }} {{ or 0 "" "z" }} {{ or 0 "" }}', {}, "0 2 z "),
    ('{{ and false (systemEnv "NOPE") }} {{ or "x" (systemEnv "NOPE") }}', {}, "false x"),
    ('{{ not 0 }} {{ not "x" }} {{ not (index . "n") }}', {}, "true false true"),
    ("{{ if and .a (not .b) }}yes{{ end }}", {"a": "1", "b": ""}, "yes"),
    ('{{ "" | or "fallback" }}', {}, "fallback"),
    # builtins: len, index, slice
    ("{{ len .s }} {{ len .l }} {{ len .m }}", {"s": "héllo", "l": [1, 2], "m": {"a": 1}}, "6 2 1"),
    (
        '{{ index .m "k" }} {{ index .l 1 }} {{ index .n "a" 0 }} {{ index "abc" 1 }}',
        {"m": {"k": "v"}, "l": ["x", "y"], "n": {"a": ["z"]}},
        "v y z 98",
    ),
    ("{{ index .l }}", {"l": ["x"]}, "[x]"),
    (
        '{{ slice "abcdef" 1 3 }} {{ slice "abc" 1 }} {{ slice "abc" }} '
        "{{ slice .l 1 }} {{ slice .l 0 1 2 }}",
        {"l": [1, 2, 3]},
        "bc bc abc [2 3] [1]",
    ),
    # builtins: printing
    ('{{ print 1 2 "x" 3 "y" }}', {}, "1 2x3y"),
    ('{{ println "a" 1 }}', {}, "a 1\n"),
    (
        '{{ printf "%s|%d|%v|%q|%x|%X|%t|%%" "s" 42 1.5 "q" 255 "hi" true }}',
        {},
        's|42|1.5|"q"|ff|6869|true|%',
    ),
    (
        '{{ printf "%5d|%-5s|%05d|%.2f|%8.3f|%+d" 42 "ab" 7 3.14159 2.5 3 }}',
        {},
        "   42|ab   |00007|3.14|   2.500|+3",
    ),
    ('{{ printf "%d %s" "abc" 5 }}', {}, "%!d(string=abc) %!s(int=5)"),
    ('{{ printf "%d %d" 1 }} {{ printf "%d" 1 2 }}', {}, "1 %!d(MISSING) 1%!(EXTRA int=2)"),
    ('{{ printf "%v %v" .m .l }}', {"m": {"b": 1, "a": "x"}, "l": [1, "a"]}, "map[a:x b:1] [1 a]"),
    (
        "{{ html `<a href=\"x\">'&'</a>` }}",
        {},
        "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;",
    ),
    ("{{ js `a'b\"c<d>=&\\` }}", {}, "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\\\"),
    ('{{ urlquery "a b&c/é?" }}', {}, "a+b%26c%2F%C3%A9%3F"),
    ("{{ html 1 2 }} {{ urlquery }}", {}, "1 2 "),
    # the tool's functions
    ('{{ nowWithFormat "2006-01-02T15:04:05.000Z07:00" }}', {}, "2024-03-09T07:05:01.123Z"),
    ('{{ timeWithFormat "1700000000" "2006-01-02 15:04:05 MST" }}', {}, "2023-11-14 22:13:20 UTC"),
    ('{{ systemEnv "HOME_DIR" }}|{{ systemEnv "EMPTY" }}|', {}, "/home/x||"),
    ('{{ base64 "hello" }} {{ base64 "" }} {{ base64 "é" }}', {}, "aGVsbG8=  w6k="),
    ('{{ base64File "./config.json" }}', {}, base64.b64encode(FILES["./config.json"]).decode()),
    ('{{ base64File "bin" }}', {}, base64.b64encode(FILES["bin"]).decode()),
    ('{{ systemEnv "HOME_DIR" | base64 }}', {}, base64.b64encode(b"/home/x").decode()),
]


@pytest.mark.parametrize(("text", "data", "expected"), RENDER)
def test_render(text: str, data: dict[str, Any], expected: str) -> None:
    assert r(text, data) == expected


@pytest.mark.parametrize(
    ("text", "data", "expected"),
    [
        # The snippets real configs use.
        ('"region": "{{.awsRegion}}"', {"awsRegion": "eu-west-1"}, '"region": "eu-west-1"'),
        ('"s3://{{ .bucket }}/x"', {"bucket": "b"}, '"s3://b/x"'),
        ('"{{ .region}}"', {"region": "us-east-1"}, '"us-east-1"'),
        ('" {{ .region }}"', {"region": "us-east-1"}, '" us-east-1"'),
        (
            '"--etl-tstamp", "{{nowWithFormat "2006-01-02-15-04-05"}}"',
            {},
            '"--etl-tstamp", "2024-03-09-07-05-01"',
        ),
        (
            '"--config", "{{base64File "./config.json"}}"',
            {},
            '"--config", "' + base64.b64encode(FILES["./config.json"]).decode() + '"',
        ),
    ],
)
def test_real_config_snippets(text: str, data: dict[str, Any], expected: str) -> None:
    assert r(text, data) == expected


def test_a_real_config_renders_to_json() -> None:
    text = (
        '{\n  "schema": "iglu:com.snowplowanalytics.dataflowrunner/PlaybookConfig/avro/1-0-1",\n'
        '  "data": {\n    "region": "{{.awsRegion}}",\n    "steps": [{"arguments": [\n'
        '      "{{nowWithFormat "2006-01-02-15-04-05"}}",\n'
        '      "{{base64File "./config.json"}}"\n    ]}]\n  }\n}\n'
    )
    doc = json.loads(r(text, {"awsRegion": "eu-central-1"}))
    assert doc["data"]["region"] == "eu-central-1"
    assert doc["data"]["steps"][0]["arguments"][0] == "2024-03-09-07-05-01"


def test_secret_is_not_a_function_of_this_tool() -> None:
    text = '{\n  "data": {\n    "accessKeyId": "{{secret "aws-access-key-id"}}"\n  }\n}'
    err = error_of(text)
    assert str(err) == 't.json:3: function "secret" not defined'
    assert (err.file, err.line, err.column, err.message) == (
        "t.json",
        3,
        None,
        'function "secret" not defined',
    )
    assert isinstance(err, ConfigError)


# --- parse errors: "NAME:LINE: message" ------------------------------------------------------

PARSE_ERRORS = [
    ('{{ secret "x" }}', 't.json:1: function "secret" not defined'),
    ("line1\n{{\nx\n}}", 't.json:3: function "x" not defined'),  # the identifier's line
    ("{{ .a b }}", 't.json:1: function "b" not defined'),
    ('{"schema": {{ .a', "t.json:1: unclosed action"),
    ("line1\n{{", "t.json:2: unclosed action"),
    ('line1\n{{"x"\n"y"\n', "t.json:4: unclosed action started at t.json:2"),
    ("{{\n\n\n\n\n", "t.json:6: unclosed action started at t.json:1"),
    ("{{ $v := `\n` }} {{", "t.json:2: unclosed action"),
    ('{{ base64 "abc\n}}', "t.json:1: unterminated quoted string"),
    ("{{'a}}", "t.json:1: unterminated character constant"),
    ("{{`a}}", "t.json:1: unterminated raw quoted string"),
    ("{{/* no end }}", "t.json:1: unclosed comment"),
    ("{{/*\nhello\n}}", "t.json:1: unclosed comment"),
    ("{{/* c */ x}}", "t.json:1: comment ends before closing delimiter"),
    (
        '{"a": 1,\n{{ if .x }}\n"b": 2}',
        "t.json:2: unexpected EOF: missing {{end}} for {{if}} started at line 2",
    ),
    ("{{ range .x }}", "t.json:1: unexpected EOF: missing {{end}} for {{range}} started at line 1"),
    (
        "a\n{{ with .x }}{{ else }}",
        "t.json:2: unexpected EOF: missing {{end}} for {{with}} started at line 2",
    ),
    ("{{ end }}", "t.json:1: unexpected {{end}}"),
    ("{{ else }}", "t.json:1: unexpected {{else}}"),
    ("{{ if .X }}a{{ end }}{{ else }}", "t.json:1: unexpected {{else}}"),
    ("{{ if .X }}1{{ else }}2{{ else }}3{{ end }}", "t.json:1: expected end; found {{else}}"),
    ("{{ if .X }}a{{ else if .Y }}b{{ end }}{{ end }}", "t.json:1: unexpected {{end}}"),
    ("{{ end x }}", 't.json:1: unexpected "x" in end'),
    ("{{ }}", "t.json:1: missing value for command"),
    ("{{\n}}", "t.json:2: missing value for command"),
    ("{{ if }}{{ end }}", "t.json:1: missing value for if"),
    ("{{ ( ) }}", "t.json:1: missing value for parenthesized pipeline"),
    ('{{ printf "%d" ( ) }}', "t.json:1: missing value for parenthesized pipeline"),
    ("{{ | .a }}", 't.json:1: unexpected "|" in command'),
    ("{{ printf 3, 4 }}", 't.json:1: unexpected "," in operand'),
    ("{{ printf 3`x` }}", 't.json:1: unexpected "`x`" in operand'),
    ("{{ printf `a very long string`3 }}", 't.json:1: unexpected "3" in operand'),
    ('{{ "a" "bcdefghijklmnop"x }}', 't.json:1: unexpected "x" in operand'),
    ("{{ 12|false }}", "t.json:1: non executable command in pipeline stage 2"),
    ('{{ .|printf|"error" }}', "t.json:1: non executable command in pipeline stage 3"),
    ("{{ true.any }}", 't.json:1: unexpected . after term "true"'),
    ('{{ "hello".guys }}', 't.json:1: unexpected . after term "\\"hello\\""'),
    ("{{ nil.E }}", 't.json:1: unexpected . after term "nil"'),
    ("{{ $x }}", 't.json:1: undefined variable "$x"'),
    ("{{ with $x := 4 }}{{ end }}{{ $x }}", 't.json:1: undefined variable "$x"'),
    ("{{ range $k }}{{ end }}", 't.json:1: undefined variable "$k"'),
    ("{{ $a,$b,$c := 23 }}", "t.json:1: too many declarations in command"),
    ("{{ with $v, $u := 3 }}{{ end }}", "t.json:1: too many declarations in with"),
    ("{{ range $u, $v, $w := 3 }}{{ end }}", "t.json:1: too many declarations in range"),
    ("{{ range $k, . }}{{ end }}", "t.json:1: range can only initialize variables"),
    ("{{ range $k, }}{{ end }}", "t.json:1: missing value for range"),
    ("{{ $x := 23 }}{{ with $x.y := 3 }}{{ end }}", 't.json:1: unexpected ":=" in operand'),
    ("{{ break }}", "t.json:1: {{break}} outside {{range}}"),
    ("{{ range . }}{{ else }}{{ continue }}{{ end }}", "t.json:1: {{continue}} outside {{range}}"),
    ("{{ range . }}{{ break 1 }}{{ end }}", 't.json:1: unexpected "1" in {{break}}'),
    ("{{ (1 }}", "t.json:1: unclosed left paren"),
    ("{{ 1) }}", "t.json:1: unexpected right paren U+0029 ')'"),
    ("{{ a# }}", "t.json:1: bad character U+0023 '#'"),
    ("{{ .a-b }}", "t.json:1: bad character U+002D '-'"),
    ("{{ $x= 1 }}", "t.json:1: bad character U+003D '='"),
    ("{{ € }}", "t.json:1: unrecognized character in action: U+20AC '€'"),
    ("{{ \x07 }}", "t.json:1: unrecognized character in action: U+0007"),
    ("{{ a:b }}", 't.json:1: function "a" not defined'),
    ("{{ $x := 1 }}{{ $x :- 1 }}", "t.json:1: expected :="),
    ("{{ 0xi }}", 't.json:1: illegal number syntax: "0xi"'),  # lexed as an imaginary number
    ("{{ 3x }}", 't.json:1: bad number syntax: "3x"'),
    ("{{ 3- }}", 't.json:1: bad number syntax: "3-"'),
    ("{{ 'ab' }}", "t.json:1: malformed character constant: 'ab'"),
    ("{{ 99999999999999999999 }}", 't.json:1: integer overflow: "99999999999999999999"'),
    ("{{ 08 }}", 't.json:1: integer overflow: "08"'),  # Go's own words for a bad octal
    ("{{ 1__0 }}", 't.json:1: illegal number syntax: "1__0"'),
    ("{{ 1+2i }}", "t.json:1: complex numbers are not supported: 1+2i"),
    ('{{ "\\q" }}', 't.json:1: invalid syntax: bad escape sequence in "\\q"'),
    ("{{ '\\q' }}", "t.json:1: invalid syntax: bad character constant '\\q'"),
    (
        '{{ define "x" }}y{{ end }}',
        "t.json:1: {{define}} is not supported: a config is a single template",
    ),
    (
        '{{ template "x" }}',
        "t.json:1: {{template}} is not supported: a config is a single template",
    ),
    (
        '{{ block "x" . }}y{{ end }}',
        "t.json:1: {{block}} is not supported: a config is a single template",
    ),
    # parse errors come before any output, and the first one in the text wins
    ("{{ .a }}\n{{ nope }}\n{{ (", 't.json:2: function "nope" not defined'),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_ERRORS)
def test_parse_errors(text: str, expected: str) -> None:
    err = error_of(text, {"a": "x"})
    assert str(err) == expected
    assert err.column is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ " + "(" * 100 + "1" + ")" * 100 + " }}", "1"),
        ("{{ if 1 }}" * 100 + "x" + "{{ end }}" * 100, "x"),
        ("{{ if 1 }}" * 99 + "{{ (1) }}" + "{{ end }}" * 99, "1"),
        (
            "{{ if 1 }}" * 50 + "{{ " + "(print " * 50 + "1" + ")" * 50 + " }}" + "{{ end }}" * 50,
            "1",
        ),
        ("{{ if 0 }}" + "{{ else if 0 }}" * 99 + "{{ else }}x{{ end }}", "x"),
    ],
)
def test_nesting_up_to_the_limit(text: str, expected: str) -> None:
    assert r(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ " + "(" * 101 + "1" + ")" * 101 + " }}", "t.json:1: max expression depth exceeded"),
        ("{{ if 1 }}" * 101 + "{{ end }}" * 101, "t.json:1: max control structure depth exceeded"),
        (
            "{{ if 1 }}" * 100 + "{{ (1) }}" + "{{ end }}" * 100,
            "t.json:1: max expression depth exceeded",
        ),
        (
            "{{ if 0 }}" + "{{ else if 0 }}" * 100 + "{{ end }}",
            "t.json:1: max control structure depth exceeded",
        ),
    ],
)
def test_nesting_beyond_the_limit(text: str, expected: str) -> None:
    assert str(error_of(text)) == expected


# --- execution errors: "NAME:LINE:COL: executing "NAME" at <NODE>: message" --------------------

EXEC_ERRORS = [
    # text, data, line:column, <node>, message
    (
        "{{.foo}}",
        {},
        "1:2",
        ".foo",
        'map has no entry for key "foo" (pass it with --vars foo,VALUE)',
    ),
    (
        "a\nb\n  {{ .foo }}",
        {},
        "3:5",
        ".foo",
        'map has no entry for key "foo" (pass it with --vars foo,VALUE)',
    ),
    # the column counts bytes, as Go does: "é" is two
    (
        "é{{.foo}}",
        {},
        "1:4",
        ".foo",
        'map has no entry for key "foo" (pass it with --vars foo,VALUE)',
    ),
    ("{{ .m.y }}", {"m": {"x": "1"}}, "1:5", ".m.y", 'map has no entry for key "y"'),
    # the values of the vars map are interface{} in Go, which shows in the message
    ("x\n  {{ .a.b }}", {"a": "x"}, "2:7", ".a.b", "can't evaluate field b in type interface {}"),
    (
        "{{ $x := .a }}{{ $x.b }}",
        {"a": "x"},
        "1:19",
        "$x.b",
        "can't evaluate field b in type string",
    ),
    (
        "{{ range . }}{{ .x }}{{ end }}",
        {"a": "s"},
        "1:16",
        ".x",
        "can't evaluate field x in type interface {}",
    ),
    ("{{ range 2 }}{{ .x }}{{ end }}", {}, "1:16", ".x", "can't evaluate field x in type int"),
    ("{{ .x.y }}", {"x": None}, "1:5", ".x.y", "nil pointer evaluating interface {}.y"),
    ('{{ $n := index . "q" }}{{ $n.x }}', {}, "1:28", "$n.x", 'nil data; no entry for key "x"'),
    ("{{ .a 1 }}", {"a": "x"}, "1:3", ".a", "a is not a method but has arguments"),
    ('{{ "a" 1 }}', {}, "1:3", '"a"', 'can\'t give argument to non-function "a"'),
    ("{{ $ 1 }}", {}, "1:3", "$", "can't give argument to non-function $"),
    ("{{ nil }}", {}, "1:3", "nil", "nil is not a command"),
    (
        "{{ 18446744073709551615 }}",
        {},
        "1:3",
        "18446744073709551615",
        "18446744073709551615 overflows int",
    ),
    ("{{ $x = 1 }}", {}, "1:8", "1", "undefined variable: $x"),
    # arguments of the tool's functions (Go strings)
    ('{{ base64 "a" "b" }}', {}, "1:3", "base64", "wrong number of args for base64: want 1 got 2"),
    ("{{ base64 }}", {}, "1:3", "base64", "wrong number of args for base64: want 1 got 0"),
    (
        '{{ "x" | base64 "y" }}',
        {},
        "1:9",
        "base64",
        "wrong number of args for base64: want 1 got 2",
    ),
    ("{{ base64 3 }}", {}, "1:10", "3", "expected string; found 3"),
    (
        '{{ timeWithFormat 1700000000 "2006" }}',
        {},
        "1:18",
        "1700000000",
        "expected string; found 1700000000",
    ),
    (
        "{{ $n := 3 }}{{ base64 $n }}",
        {},
        "1:23",
        "$n",
        "wrong type for value; expected string; got int",
    ),
    ("{{ 3 | base64 }}", {}, "1:7", "base64", "wrong type for value; expected string; got int"),
    (
        "{{ .l | base64 }}",
        {"l": ["x"]},
        "1:8",
        "base64",
        "wrong type for value; expected string; got []interface {}",
    ),
    ("{{ base64 nil }}", {}, "1:10", "nil", "cannot assign nil to string"),
    # Go reports at the last node it evaluated: here the argument "x" of index.
    ('{{ base64 (index . "x") }}', {}, "1:19", '"x"', "invalid value; expected string"),
    (
        '{{ systemEnv "NOPE" }}',
        {},
        "1:3",
        'systemEnv "NOPE"',
        "error calling systemEnv: environment variable NOPE not set",
    ),
    (
        '{{ base64File "./nope.json" }}',
        {},
        "1:3",
        'base64File "./nope.json"',
        "error calling base64File: open ./nope.json: no such file or directory",
    ),
    (
        '{{ timeWithFormat "soon" "2006" }}',
        {},
        "1:3",
        'timeWithFormat "soon" "2006"',
        'error calling timeWithFormat: strconv.ParseInt: parsing "soon": invalid syntax',
    ),
    (
        '{{ timeWithFormat "99999999999999999999" "2006" }}',
        {},
        "1:3",
        'timeWithFormat "99999999999999999999" "2006"',
        "error calling timeWithFormat: strconv.ParseInt: "
        'parsing "99999999999999999999": value out of range',
    ),
    ("{{ printf 5 }}", {}, "1:10", "5", "expected string; found 5"),
    # builtins
    (
        '{{ eq 1 "a" }}',
        {},
        "1:3",
        'eq 1 "a"',
        "error calling eq: incompatible types for comparison: int and string",
    ),
    ("{{ eq 1 }}", {}, "1:3", "eq 1", "error calling eq: missing argument for comparison"),
    (
        "{{ eq .m .m }}",
        {"m": {"a": "b"}},
        "1:3",
        "eq .m .m",
        "error calling eq: non-comparable type map[a:b]: map[string]interface {}",
    ),
    (
        "{{ lt true false }}",
        {},
        "1:3",
        "lt true false",
        "error calling lt: invalid type for comparison",
    ),
    (
        "{{ lt 1 1.5 }}",
        {},
        "1:3",
        "lt 1 1.5",
        "error calling lt: incompatible types for comparison: int and float64",
    ),
    ("{{ gt .l 1 }}", {"l": []}, "1:3", "gt .l 1", "error calling gt: invalid type for comparison"),
    ("{{ lt 1 }}", {}, "1:3", "lt", "wrong number of args for lt: want 2 got 1"),
    ("{{ and }}", {}, "1:3", "and", "wrong number of args for and: want at least 1 got 0"),
    ("{{ not 1 2 }}", {}, "1:3", "not", "wrong number of args for not: want 1 got 2"),
    ("{{ len 3 }}", {}, "1:3", "len 3", "error calling len: len of type int"),
    (
        "{{ index .l 5 }}",
        {"l": ["x"]},
        "1:3",
        "index .l 5",
        "error calling index: index out of range: 5",
    ),
    (
        "{{ index .l -1 }}",
        {"l": ["x"]},
        "1:3",
        "index .l -1",
        "error calling index: index out of range: -1",
    ),
    (
        "{{ index .l 1 }}",
        {"l": ["x"]},
        "1:3",
        "index .l 1",
        "error calling index: reflect: slice index out of range",
    ),
    (
        '{{ index .l "a" }}',
        {"l": ["x"]},
        "1:3",
        'index .l "a"',
        "error calling index: cannot index slice/array with type string",
    ),
    (
        "{{ index . 1 }}",
        {},
        "1:3",
        "index . 1",
        "error calling index: value has type int; should be string",
    ),
    (
        "{{ index 3 1 }}",
        {},
        "1:3",
        "index 3 1",
        "error calling index: can't index item of type int",
    ),
    ("{{ index nil 1 }}", {}, "1:3", "index nil 1", "error calling index: index of untyped nil"),
    (
        '{{ slice "abc" 2 1 }}',
        {},
        "1:3",
        'slice "abc" 2 1',
        "error calling slice: invalid slice index: 2 > 1",
    ),
    (
        '{{ slice "abc" 0 1 2 }}',
        {},
        "1:3",
        'slice "abc" 0 1 2',
        "error calling slice: cannot 3-index slice a string",
    ),
    (
        "{{ call .a }}",
        {"a": "s"},
        "1:3",
        "call .a",
        "error calling call: non-function .a of type string",
    ),
    ("{{ range .a }}{{ end }}", {"a": "str"}, "1:9", ".a", "range can't iterate over str"),
    (
        "{{ range $a, $b := 3 }}{{ end }}",
        {},
        "1:19",
        "3",
        "can't use 3 to iterate over more than one variable",
    ),
]


@pytest.mark.parametrize(("text", "data", "where", "node", "message"), EXEC_ERRORS)
def test_execution_errors(
    text: str, data: dict[str, Any], where: str, node: str, message: str
) -> None:
    err = error_of(text, data)
    assert str(err) == f't.json:{where}: executing "t.json" at <{node}>: {message}'
    assert err.file == "t.json"
    assert err.column is not None


def test_an_error_carries_file_line_and_column() -> None:
    err = error_of('{\n  "a": "{{ .nope }}"\n}')
    assert (err.file, err.line, err.column) == ("t.json", 2, 11)
    assert err.message.startswith('executing "t.json" at <.nope>: map has no entry for key "nope"')
    assert err.with_file("/abs/t.json").lines() == [
        '/abs/t.json:2:11: executing "t.json" at <.nope>: map has no entry for key "nope" '
        "(pass it with --vars nope,VALUE)"
    ]


def test_output_stops_at_the_first_execution_error() -> None:
    calls: list[str] = []

    def trace(text: str) -> str:
        calls.append(text)
        return text

    with pytest.raises(TemplateError):
        r('{{ trace "a" }}{{ .missing }}{{ trace "b" }}', funcs={"trace": trace})
    assert calls == ["a"]


# --- functions ------------------------------------------------------------------------------


@pytest.fixture
def local_zone() -> Iterator[pytest.MonkeyPatch]:
    """Lets a test set TZ (POSIX rules, no zone files needed); restores the zone after."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch
    time.tzset()


def test_now_with_format_uses_the_local_clock(local_zone: pytest.MonkeyPatch) -> None:
    local_zone.setenv("TZ", "IST-5:30")
    time.tzset()
    before = dt.datetime.now(dt.UTC)
    out = render('{{ nowWithFormat "2006-01-02T15:04:05Z07:00 MST" }}', "t", {})
    after = dt.datetime.now(dt.UTC)
    stamp, zone = out.split(" ")
    assert zone == "IST"
    assert stamp.endswith("+05:30")
    got = dt.datetime.fromisoformat(stamp)
    assert before.replace(microsecond=0) <= got <= after


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("UTC0", "2023-11-14 22:13:20 +0000 UTC"),
        ("IST-5:30", "2023-11-15 03:43:20 +0530 IST"),
        ("EST5", "2023-11-14 17:13:20 -0500 EST"),
    ],
)
def test_time_with_format_is_local_time(
    local_zone: pytest.MonkeyPatch, tz: str, expected: str
) -> None:
    local_zone.setenv("TZ", tz)
    time.tzset()
    text = '{{ timeWithFormat "1700000000" "2006-01-02 15:04:05 -0700 MST" }}'
    assert render(text, "t", {}) == expected


def test_time_with_format_takes_the_epoch_from_a_variable(local_zone: pytest.MonkeyPatch) -> None:
    local_zone.setenv("TZ", "UTC0")
    time.tzset()
    assert render('{{ timeWithFormat .start "Jan 2" }}', "t", {"start": "-86400"}) == "Dec 31"


def test_system_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFR_TEMPLATE_TEST", "from env")
    monkeypatch.delenv("DFR_TEMPLATE_UNSET", raising=False)
    assert render('{{ systemEnv "DFR_TEMPLATE_TEST" }}', "t", {}) == "from env"
    with pytest.raises(TemplateError) as info:
        render('{{ systemEnv "DFR_TEMPLATE_UNSET" }}', "t", {})
    assert str(info.value).endswith("environment variable DFR_TEMPLATE_UNSET not set")


def test_base64_file_reads_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    content = b'{"resolver": true}\n\x00\xff'
    (tmp_path / "config.json").write_bytes(content)
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    expected = base64.b64encode(content).decode()
    assert render('{{base64File "./config.json"}}', "t", {}) == expected
    assert render('{{base64File "config.json"}}', "t", {}) == expected
    assert render(f'{{{{base64File "{tmp_path}/config.json"}}}}', "t", {}) == expected
    with pytest.raises(TemplateError) as info:
        render('{{base64File "./nope.json"}}', "t", {})
    assert str(info.value).endswith(
        "error calling base64File: open ./nope.json: no such file or directory"
    )
    with pytest.raises(TemplateError) as info:
        render('{{base64File "sub"}}', "t", {})
    assert str(info.value).endswith("error calling base64File: read sub: is a directory")


@pytest.mark.parametrize("text", ["", "hello", "é✓", "a\nb\x00", "x" * 1000])
def test_base64_is_standard_base64_with_padding(text: str) -> None:
    assert r("{{ base64 .v }}", {"v": text}) == base64.b64encode(text.encode()).decode()


def test_the_go_tools_five_functions_and_four_for_time_and_nothing_else() -> None:
    assert sorted(default_funcs()) == [
        "addDate",
        "addDuration",
        "base64",
        "base64File",
        "formatTime",
        "nowWithFormat",
        "parseTime",
        "systemEnv",
        "timeWithFormat",
    ]


def _readme_template_rows() -> list[str]:
    """The rows of README's ``### Templates`` table."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Templates\n", 1)[1].split("\n#", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_the_readme_documents_every_function() -> None:
    names = set()
    for row in _readme_template_rows():
        # `base64 "text"`, `base64File "path"` or `addDate "2026-11-20" 0 0 -1` → `RESULT`
        calls = row.split(" | ")[0].split(" → ")[0]
        names.update(code.split()[0] for code in calls.split("`")[1::2])
    assert names == set(default_funcs())


def test_the_readme_examples_give_the_results_shown() -> None:
    examples = [row.split(" | ")[0].split(" → ") for row in _readme_template_rows()]
    examples = [example for example in examples if len(example) == 2]
    assert len(examples) == 4
    for call, result in examples:
        assert render("{{ " + call.strip("| `") + " }}", "t", {}) == result.strip("`")


def test_custom_functions() -> None:
    def upper(text: str) -> str:
        return text.upper()

    def boom(text: str) -> str:
        raise RuntimeError("it broke")

    def join(*parts: Any) -> str:
        return "+".join(map(str, parts))

    def length(value: Any) -> int:
        return 99

    funcs: dict[str, Callable[..., Any]] = {
        "upper": upper,
        "boom": boom,
        "join": join,
        "len": length,
    }
    assert r("{{ .a | upper }}", {"a": "x"}, funcs) == "X"
    assert r('{{ join 1 "b" 2.5 }}|{{ join }}', {}, funcs) == "1+b+2.5|"
    assert r('{{ len "abc" }}', {}, funcs) == "99"  # a template's functions hide the builtins
    assert str(error_of('{{ boom "x" }}', {}, funcs)) == (
        't.json:1:3: executing "t.json" at <boom "x">: error calling boom: it broke'
    )
    assert str(error_of("{{ upper 1 }}", {}, funcs)).endswith("expected string; found 1")
    assert str(error_of('{{ base64 "x" }}', {}, funcs)) == 't.json:1: function "base64" not defined'


# --- the time functions -----------------------------------------------------------------------
#
# Expected outputs and messages were checked against Go 1.27: text/template with the
# four functions written in Go over the time package (TZ=UTC), as README describes them.

TIME_FUNCS = [
    # addDate: Go's AddDate, normalised as Go's Date (a date stays a date)
    ('{{ addDate "2026-11-20" 0 0 -1 }}', {}, "2026-11-19"),
    ('{{ addDate "2026-11-20T03:00:00Z" 0 1 0 }}', {}, "2026-12-20T03:00:00Z"),
    ('{{ addDate "2026-10-31" 0 1 0 }}', {}, "2026-12-01"),
    ('{{ addDate "2026-01-31" 0 1 0 }}', {}, "2026-03-03"),
    ('{{ addDate "2024-01-31" 0 1 0 }}', {}, "2024-03-02"),
    ('{{ addDate "2024-02-29" 1 0 0 }}', {}, "2025-03-01"),
    ('{{ addDate "2024-02-29" 4 0 0 }}', {}, "2028-02-29"),
    ('{{ addDate "2024-02-29" -100 0 0 }}', {}, "1924-02-29"),
    ('{{ addDate "2000-02-29" 0 0 365 }}', {}, "2001-02-28"),
    ('{{ addDate "2026-03-01" 0 0 -1 }}', {}, "2026-02-28"),
    ('{{ addDate "2024-03-01" 0 0 -1 }}', {}, "2024-02-29"),
    ('{{ addDate "2100-03-01" 0 0 -1 }}', {}, "2100-02-28"),
    ('{{ addDate "2026-12-31" 0 0 1 }}', {}, "2027-01-01"),
    ('{{ addDate "2026-01-01" 0 -1 0 }}', {}, "2025-12-01"),
    ('{{ addDate "2026-05-31" 0 -3 0 }}', {}, "2026-03-03"),
    ('{{ addDate "2026-11-20" 0 -13 0 }}', {}, "2025-10-20"),
    ('{{ addDate "2026-11-20" 0 25 0 }}', {}, "2028-12-20"),
    ('{{ addDate "2026-11-20" 0 0 0 }}', {}, "2026-11-20"),
    ('{{ addDate "2026-11-20" 1 -12 0 }}', {}, "2026-11-20"),
    ('{{ addDate "2026-11-20" 0 0 100000 }}', {}, "2300-09-05"),
    # an RFC 3339 TIME keeps its offset and fraction; +00:00 is UTC, written Z
    (
        '{{ addDate "2026-11-20T03:04:05.123456789+05:30" 0 0 1 }}',
        {},
        "2026-11-21T03:04:05.123456789+05:30",
    ),
    ('{{ addDate "2026-10-31T23:00:00-05:00" 0 1 0 }}', {}, "2026-12-01T23:00:00-05:00"),
    ('{{ addDate "2026-11-20T00:00:00Z" 0 0 1 }}', {}, "2026-11-21T00:00:00Z"),
    ('{{ addDate "2026-11-20T00:00:00+00:00" 0 0 1 }}', {}, "2026-11-21T00:00:00Z"),
    # year 0 exists (1 BC), and is a leap year
    ('{{ addDate "0001-01-01" -1 0 0 }}', {}, "0000-01-01"),
    ('{{ addDate "0001-01-01" 0 0 -366 }}', {}, "0000-01-01"),
    # int arguments: from a pipeline, a float constant with an integral value, a variable
    ("{{ addDate .date 0 0 -1 }}", {"date": "2026-11-20"}, "2026-11-19"),
    ("{{ -1 | addDate .date 0 0 }}", {"date": "2026-11-20"}, "2026-11-19"),
    ("{{ addDate .date 0 0 1.0 }}", {"date": "2026-11-20"}, "2026-11-21"),
    ("{{ $d := 7 }}{{ addDate .date 0 0 $d }}", {"date": "2026-11-20"}, "2026-11-27"),
    # addDuration: Go's Add of a ParseDuration, to the nanosecond
    ('{{ addDuration "2026-11-20T03:00:00Z" "-1h" }}', {}, "2026-11-20T02:00:00Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "-1h30m" }}', {}, "2026-11-20T01:30:00Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "90s" }}', {}, "2026-11-20T03:01:30Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "1.5h" }}', {}, "2026-11-20T04:30:00Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "300ms" }}', {}, "2026-11-20T03:00:00.3Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "1us" }}', {}, "2026-11-20T03:00:00.000001Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "1µs" }}', {}, "2026-11-20T03:00:00.000001Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "1ns" }}', {}, "2026-11-20T03:00:00.000000001Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "-1ns" }}', {}, "2026-11-20T02:59:59.999999999Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "0" }}', {}, "2026-11-20T03:00:00Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "+2h" }}', {}, "2026-11-20T05:00:00Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "-3h" }}', {}, "2026-11-20T00:00:00Z"),
    ('{{ addDuration "2026-11-20T03:00:00Z" "-3h1ns" }}', {}, "2026-11-19T23:59:59.999999999Z"),
    ('{{ addDuration "2026-11-20T03:00:00.5Z" "500ms" }}', {}, "2026-11-20T03:00:01Z"),
    ('{{ addDuration "2026-11-20T03:00:00+05:30" "-4h" }}', {}, "2026-11-19T23:00:00+05:30"),
    ('{{ addDuration "2026-12-31T23:30:00-01:00" "1h" }}', {}, "2027-01-01T00:30:00-01:00"),
    ('{{ addDuration "2024-02-28T23:00:00Z" "1h" }}', {}, "2024-02-29T00:00:00Z"),
    # a date stays a date at midnight only
    ('{{ addDuration "2026-11-20" "-1h" }}', {}, "2026-11-19T23:00:00Z"),
    ('{{ addDuration "2026-11-20" "24h" }}', {}, "2026-11-21"),
    ('{{ addDuration "2026-11-20" "-48h" }}', {}, "2026-11-18"),
    ('{{ addDuration "2026-11-20" "1ns" }}', {}, "2026-11-20T00:00:00.000000001Z"),
    (
        '{{ addDuration "2026-11-20" "2562047h47m16.854775807s" }}',
        {},
        "2319-03-01T23:47:16.854775807Z",
    ),
    # formatTime: Go's Format; a date is midnight UTC
    ('{{ formatTime "2026-11-20T03:00:00Z" "20060102" }}', {}, "20261120"),
    ('{{ formatTime "2026-11-20T03:04:05Z" "2006/01/02/15" }}', {}, "2026/11/20/03"),
    (
        '{{ formatTime "2026-11-20" "Mon Jan _2 15:04:05 MST 2006" }}',
        {},
        "Fri Nov 20 00:00:00 UTC 2026",
    ),
    (
        '{{ formatTime "2026-11-20T03:04:05.123456789+05:30"'
        ' "2006-01-02T15:04:05.000000000 MST -0700 Z07:00" }}',
        {},
        "2026-11-20T03:04:05.123456789 +0530 +0530 +05:30",
    ),
    (
        '{{ formatTime "2026-11-20T03:04:05-08:00" "3:04PM Monday January 2 002 __2 .999 .000" }}',
        {},
        "3:04AM Friday November 20 324 324  .000",
    ),
    ('{{ formatTime "2026-11-20T03:04:05+00:00" "MST Z07:00 -07:00" }}', {}, "UTC Z +00:00"),
    ('{{ formatTime "2024-12-31" "002 Mon" }}', {}, "366 Tue"),
    ('{{ formatTime "0000-01-01" "2006 06 Mon" }}', {}, "0000 00 Sat"),
    ('{{ formatTime "2026-11-20" "" }}', {}, ""),
    ('{{ formatTime "2026-11-20" "no elements" }}', {}, "no elements"),
    # in pipelines: what the functions return is a TIME
    (
        '{{ formatTime (addDuration .partition "-1h") "2006/01/02/15" }}',
        {"partition": "2026-11-20T00:00:00Z"},
        "2026/11/19/23",
    ),
    ('{{ formatTime (addDate .date 0 0 -1) "20060102" }}', {"date": "2026-03-01"}, "20260228"),
    (
        '{{ formatTime (parseTime "20060102" .day) "2006-01-02" }}',
        {"day": "20261120"},
        "2026-11-20",
    ),
    (
        '{{ addDuration (addDate .date 0 1 0) "-1ns" }}',
        {"date": "2026-01-31"},
        "2026-03-02T23:59:59.999999999Z",
    ),
    (
        '{{ .day | parseTime "20060102" | printf "%s!" }}',
        {"day": "20261120"},
        "2026-11-20T00:00:00Z!",
    ),
    (
        '{{ addDate (parseTime "2006-01-02 15:04 MST" "2026-11-20 03:00 CET") 0 0 1 }}',
        {},
        "2026-11-21T03:00:00Z",
    ),
    # parseTime: Go's Parse, as RFC 3339; an offset RFC 3339 cannot write is UTC's
    ('{{ parseTime "20060102" "20261120" }}', {}, "2026-11-20T00:00:00Z"),
    ('{{ parseTime "2006-01-02" "2026-11-20" }}', {}, "2026-11-20T00:00:00Z"),
    (
        '{{ parseTime "2006-01-02T15:04:05Z07:00" "2026-11-20T03:00:00.500+05:30" }}',
        {},
        "2026-11-20T03:00:00.5+05:30",
    ),
    ('{{ parseTime "02/01/2006 15:04" "20/11/2026 03:00" }}', {}, "2026-11-20T03:00:00Z"),
    (
        '{{ parseTime "Jan 2, 2006 at 3:04pm (MST)" "Feb 3, 2013 at 7:54pm (PST)" }}',
        {},
        "2013-02-03T19:54:00Z",
    ),
    (
        '{{ parseTime "Jan 2, 2006 at 3:04pm -0700" "feb 3, 2013 at 12:54am -0800" }}',
        {},
        "2013-02-03T00:54:00-08:00",
    ),
    ('{{ parseTime "2006 002" "2024 366" }}', {}, "2024-12-31T00:00:00Z"),
    ('{{ parseTime "3:04PM" "12:30AM" }}', {}, "0000-01-01T00:30:00Z"),
    ('{{ parseTime "2006-01-02 -07:00:00" "2026-11-20 +01:02:03" }}', {}, "2026-11-19T22:57:57Z"),
    ('{{ parseTime "2006-01-02 -07:00" "2026-11-20 +24:00" }}', {}, "2026-11-19T00:00:00Z"),
    ('{{ parseTime "2006-01-02 MST" "2026-11-20 GMT+3" }}', {}, "2026-11-20T03:00:00+03:00"),
]

TIME_FUNC_ERRORS = [
    # results beyond the years RFC 3339 can write
    (
        '{{ addDate "0000-01-01T00:00:00Z" 0 0 -1 }}',
        {},
        "1:3",
        'addDate "0000-01-01T00:00:00Z" 0 0 -1',
        "error calling addDate: year -1 is out of range [0,9999]",
    ),
    (
        '{{ addDate "9999-12-31" 0 0 1 }}',
        {},
        "1:3",
        'addDate "9999-12-31" 0 0 1',
        "error calling addDate: year 10000 is out of range [0,9999]",
    ),
    (
        '{{ addDuration "0000-01-01" "-1ns" }}',
        {},
        "1:3",
        'addDuration "0000-01-01" "-1ns"',
        "error calling addDuration: year -1 is out of range [0,9999]",
    ),
    (
        '{{ addDuration "9999-12-31T23:59:59.999999999Z" "1ns" }}',
        {},
        "1:3",
        'addDuration "9999-12-31T23:59:59.999999999Z" "1ns"',
        "error calling addDuration: year 10000 is out of range [0,9999]",
    ),
    # durations in Go's syntax only
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "1d" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "1d"',
        'error calling addDuration: time: unknown unit "d" in duration "1d"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "1" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "1"',
        'error calling addDuration: time: missing unit in duration "1"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" ""',
        'error calling addDuration: time: invalid duration ""',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "-" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "-"',
        'error calling addDuration: time: invalid duration "-"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "h" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "h"',
        'error calling addDuration: time: invalid duration "h"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" ".h" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" ".h"',
        'error calling addDuration: time: invalid duration ".h"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "1H" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "1H"',
        'error calling addDuration: time: unknown unit "H" in duration "1H"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "1 h" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "1 h"',
        'error calling addDuration: time: unknown unit " h" in duration "1 h"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "1h " }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "1h "',
        'error calling addDuration: time: unknown unit "h " in duration "1h "',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "1é" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "1é"',
        'error calling addDuration: time: unknown unit "\\xc3\\xa9" in duration "1\\xc3\\xa9"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "9223372036854775808ns" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "9223372036854775808ns"',
        'error calling addDuration: time: invalid duration "9223372036854775808ns"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" "3000000h" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00:00Z" "3000000h"',
        'error calling addDuration: time: invalid duration "3000000h"',
    ),
    # TIMEs: a date of exactly ten characters, or RFC 3339
    (
        '{{ addDate "x" 0 0 1 }}',
        {},
        "1:3",
        'addDate "x" 0 0 1',
        'error calling addDate: parsing time "x" as "2006-01-02": cannot parse "x" as "2006"',
    ),
    (
        '{{ addDate "2026-11-2" 0 0 1 }}',
        {},
        "1:3",
        'addDate "2026-11-2" 0 0 1',
        'error calling addDate: parsing time "2026-11-2" as "2006-01-02": cannot parse "2" as "02"',
    ),
    (
        '{{ addDate "2026-11-20T03:00:00" 0 0 1 }}',
        {},
        "1:3",
        'addDate "2026-11-20T03:00:00" 0 0 1',
        'error calling addDate: parsing time "2026-11-20T03:00:00"'
        ' as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"',
    ),
    (
        '{{ addDuration "x" "1h" }}',
        {},
        "1:3",
        'addDuration "x" "1h"',
        'error calling addDuration: parsing time "x" as "2006-01-02": cannot parse "x" as "2006"',
    ),
    (
        '{{ addDuration "2026-11-20T03:00" "1h" }}',
        {},
        "1:3",
        'addDuration "2026-11-20T03:00" "1h"',
        'error calling addDuration: parsing time "2026-11-20T03:00"'
        ' as "2006-01-02T15:04:05Z07:00": cannot parse "" as ":"',
    ),
    (
        '{{ formatTime "2026-02-30" "2006" }}',
        {},
        "1:3",
        'formatTime "2026-02-30" "2006"',
        'error calling formatTime: parsing time "2026-02-30": day out of range',
    ),
    (
        '{{ formatTime "2026-11-20T25:00:00Z" "2006" }}',
        {},
        "1:3",
        'formatTime "2026-11-20T25:00:00Z" "2006"',
        'error calling formatTime: parsing time "2026-11-20T25:00:00Z": hour out of range',
    ),
    (
        '{{ formatTime "2026-11-20 03:00:00Z" "2006" }}',
        {},
        "1:3",
        'formatTime "2026-11-20 03:00:00Z" "2006"',
        'error calling formatTime: parsing time "2026-11-20 03:00:00Z"'
        ' as "2006-01-02T15:04:05Z07:00": cannot parse " 03:00:00Z" as "T"',
    ),
    # parseTime's errors are Go's
    (
        '{{ parseTime "2006-01-02" "x" }}',
        {},
        "1:3",
        'parseTime "2006-01-02" "x"',
        'error calling parseTime: parsing time "x" as "2006-01-02": cannot parse "x" as "2006"',
    ),
    (
        '{{ parseTime "2006-01-02" "2026-02-29" }}',
        {},
        "1:3",
        'parseTime "2006-01-02" "2026-02-29"',
        'error calling parseTime: parsing time "2026-02-29": day out of range',
    ),
    (
        '{{ parseTime "2006-01-02" "2026-13-01" }}',
        {},
        "1:3",
        'parseTime "2006-01-02" "2026-13-01"',
        'error calling parseTime: parsing time "2026-13-01": month out of range',
    ),
    (
        '{{ parseTime "2006-01-02" "2026-11-20T00:00:00Z" }}',
        {},
        "1:3",
        'parseTime "2006-01-02" "2026-11-20T00:00:00Z"',
        'error calling parseTime: parsing time "2026-11-20T00:00:00Z": extra text: "T00:00:00Z"',
    ),
    (
        '{{ parseTime "2006-01-02" "2026/11/20" }}',
        {},
        "1:3",
        'parseTime "2006-01-02" "2026/11/20"',
        'error calling parseTime: parsing time "2026/11/20" as "2006-01-02"'
        ': cannot parse "/11/20" as "-"',
    ),
    (
        '{{ parseTime "15:04" "25:00" }}',
        {},
        "1:3",
        'parseTime "15:04" "25:00"',
        'error calling parseTime: parsing time "25:00": hour out of range',
    ),
    (
        '{{ parseTime "2006 002" "2023 366" }}',
        {},
        "1:3",
        'parseTime "2006 002" "2023 366"',
        'error calling parseTime: parsing time "2023 366": day-of-year out of range',
    ),
    (
        '{{ parseTime "2006-01-02 -07:00" "2026-11-20 +25:00" }}',
        {},
        "1:3",
        'parseTime "2006-01-02 -07:00" "2026-11-20 +25:00"',
        'error calling parseTime: parsing time "2026-11-20 +25:00"'
        ": time zone offset hour out of range",
    ),
    (
        '{{ parseTime "2006-01-02" "" }}',
        {},
        "1:3",
        'parseTime "2006-01-02" ""',
        'error calling parseTime: parsing time "" as "2006-01-02": cannot parse "" as "2006"',
    ),
    # arguments are checked as Go checks them
    (
        '{{ addDate "2026-11-20" 0 0 }}',
        {},
        "1:3",
        "addDate",
        "wrong number of args for addDate: want 4 got 3",
    ),
    (
        '{{ addDate "2026-11-20" 0 }}',
        {},
        "1:3",
        "addDate",
        "wrong number of args for addDate: want 4 got 2",
    ),
    (
        '{{ addDate "2026-11-20" 0 0 0 0 }}',
        {},
        "1:3",
        "addDate",
        "wrong number of args for addDate: want 4 got 5",
    ),
    ('{{ addDate "2026-11-20" 0 0 "x" }}', {}, "1:28", '"x"', 'expected integer; found "x"'),
    ('{{ addDate "2026-11-20" 0 0 1.5 }}', {}, "1:28", "1.5", "expected integer; found 1.5"),
    ('{{ addDate "2026-11-20" 0 0 nil }}', {}, "1:28", "nil", "cannot assign nil to int"),
    (
        '{{ addDate "2026-11-20" 0 0 .n }}',
        {"n": "1"},
        "1:28",
        ".n",
        "wrong type for value; expected int; got string",
    ),
    ("{{ addDate 20261120 0 0 1 }}", {}, "1:11", "20261120", "expected string; found 20261120"),
    (
        '{{ "x" | addDate "2026-11-20" 0 0 }}',
        {},
        "1:32",
        "0",
        "wrong type for value; expected int; got string",
    ),
    (
        '{{ addDuration "2026-11-20" }}',
        {},
        "1:3",
        "addDuration",
        "wrong number of args for addDuration: want 2 got 1",
    ),
    (
        '{{ formatTime "2026-11-20" }}',
        {},
        "1:3",
        "formatTime",
        "wrong number of args for formatTime: want 2 got 1",
    ),
    ('{{ addDuration "2026-11-20" nil }}', {}, "1:28", "nil", "cannot assign nil to string"),
    (
        '{{ addDuration "2026-11-20T03:00:00Z" 3600 }}',
        {},
        "1:38",
        "3600",
        "expected string; found 3600",
    ),
    ('{{ formatTime "2026-11-20" 5 }}', {}, "1:27", "5", "expected string; found 5"),
    (
        '{{ parseTime "2006-01-02" }}',
        {},
        "1:3",
        "parseTime",
        "wrong number of args for parseTime: want 2 got 1",
    ),
    ('{{ parseTime "2006" 2026 }}', {}, "1:20", "2026", "expected string; found 2026"),
]


@pytest.mark.parametrize(("text", "data", "expected"), TIME_FUNCS)
def test_time_functions(text: str, data: dict[str, Any], expected: str) -> None:
    assert r(text, data) == expected


@pytest.mark.parametrize(("text", "data", "where", "node", "message"), TIME_FUNC_ERRORS)
def test_time_function_errors(
    text: str, data: dict[str, Any], where: str, node: str, message: str
) -> None:
    err = error_of(text, data)
    assert str(err) == f't.json:{where}: executing "t.json" at <{node}>: {message}'
    assert "\n" not in str(err)


def test_the_time_functions_never_read_the_clock_or_the_zone(
    local_zone: pytest.MonkeyPatch,
) -> None:
    text = (
        '{{ addDate "2026-11-20" 0 0 1 }} {{ addDuration "2026-11-20T03:00:00+00:00" "1h" }} '
        '{{ formatTime "2026-11-20" "15:04 MST" }} {{ parseTime "2006-01-02 -0700"'
        ' "2026-11-20 +0000" }}'
    )
    expected = "2026-11-21 2026-11-20T04:00:00Z 00:00 UTC 2026-11-20T00:00:00Z"
    for tz in ("UTC0", "IST-5:30", "EST5EDT"):
        local_zone.setenv("TZ", tz)
        time.tzset()
        assert render(text, "t", {}) == expected


def test_a_time_function_of_missing_values_under_missingkey_default() -> None:
    # A playbook's own sections are read before their variables exist: a missing TIME
    # is Go's invalid value, which a string parameter refuses as Go does.
    with pytest.raises(TemplateError, match=r"at <\.day>: invalid value; expected string$"):
        render("{{ addDate .day 0 0 -1 }}", "t", {}, missing_key="default")
    assert render("{{ .day }}", "t", {}, missing_key="default") == "<no value>"


# --- int parameters -------------------------------------------------------------------------


def _repeat(text: str, count: int) -> str:
    return text * count


INT_DATA: dict[str, Any] = {"s": "x", "n": 2, "f": 2.0}

INT_ARGS = [
    # As in Go's evalInteger, a constant for an int parameter is any integer, a
    # character, or a float constant with an integral value.
    ('{{ rep "a" 3 }}', "aaa"),
    ('{{ rep "a" 1.0 }}', "a"),
    ('{{ rep "a" 1e1 }}', "a" * 10),
    ('{{ rep "a" 0x1p1 }}', "aa"),
    ('{{ rep "a" -0.0 }}', ""),
    ("{{ rep \"a\" 'b' | len }}", "98"),
    ('{{ rep "a" 0x2 }}', "aa"),
    ('{{ 2 | rep "a" }}', "aa"),
    ('{{ $n := 2 }}{{ rep "a" $n }}', "aa"),
    ('{{ rep "a" (len "ab") }}', "aa"),
    ('{{ rep "a" .n }}', "aa"),
]


@pytest.mark.parametrize(("text", "expected"), INT_ARGS)
def test_int_parameters(text: str, expected: str) -> None:
    assert r(text, INT_DATA, {"rep": _repeat}) == expected


INT_ARG_ERRORS = [
    # text, line:column, <node>, message (as Go 1.19 prints them)
    ('{{ rep "a" "x" }}', "1:11", '"x"', 'expected integer; found "x"'),
    ('{{ rep "a" 1.5 }}', "1:11", "1.5", "expected integer; found 1.5"),
    ('{{ rep "a" 1e19 }}', "1:11", "1e19", "expected integer; found 1e19"),
    (
        '{{ rep "a" 18446744073709551615 }}',
        "1:11",
        "18446744073709551615",
        "expected integer; found 18446744073709551615",
    ),
    ('{{ rep "a" true }}', "1:11", "true", "expected integer; found true"),
    ('{{ rep "a" nil }}', "1:11", "nil", "cannot assign nil to int"),
    ('{{ rep "a" .s }}', "1:11", ".s", "wrong type for value; expected int; got string"),
    ('{{ rep "a" .f }}', "1:11", ".f", "wrong type for value; expected int; got float64"),
    ('{{ rep "a" (index . "q") }}', "1:20", '"q"', "invalid value; expected int"),
    ('{{ "x" | rep "a" }}', "1:13", '"a"', "wrong type for value; expected int; got string"),
    (
        '{{ rep "a" . }}',
        "1:11",
        ".",
        "wrong type for value; expected int; got map[string]interface {}",
    ),
    ('{{ rep "a" }}', "1:3", "rep", "wrong number of args for rep: want 2 got 1"),
    ('{{ rep "a" 1 2 }}', "1:3", "rep", "wrong number of args for rep: want 2 got 3"),
    ("{{ rep 1 1 }}", "1:7", "1", "expected string; found 1"),
]


@pytest.mark.parametrize(("text", "where", "node", "message"), INT_ARG_ERRORS)
def test_int_parameter_errors(text: str, where: str, node: str, message: str) -> None:
    err = error_of(text, INT_DATA, {"rep": _repeat})
    assert str(err) == f't.json:{where}: executing "t.json" at <{node}>: {message}'


# --- missingkey ------------------------------------------------------------------------------

MISSING_KEY = [
    # option, text, data, output (as Go 1.19 renders them)
    (
        "default",
        "{{ .day }}/{{ .day.hour }}/{{ .a.b.c }}|{{ if .x }}y{{ else }}n{{ end }}"
        "|{{ $v := .q }}{{ $v.z }}|{{ print .x }}|{{ .m.k }}",
        {"m": {}},
        "<no value>/<no value>/<no value>|n|<no value>|<nil>|<no value>",
    ),
    (
        "default",
        '{{ .x | printf "%v" }}|{{ eq .x "a" }}|{{ range .x }}r{{ else }}e{{ end }}'
        "|{{ with .x }}w{{ end }}|{{ html .x }}",
        {},
        "<nil>|false|e||&lt;no value&gt;",
    ),
    ("default", '{{ printf "%s" .x }}', {}, "%!s(<nil>)"),
    ("default", "{{ .a.b 1 }}", {}, "<no value>"),  # an invalid value has no fields to call
    ("default", "{{ .present }}", {"present": "here"}, "here"),
    ("invalid", "{{ .day }}|{{ .day.hour }}", {}, "<no value>|<no value>"),  # the same option
    # zero: the zero value of the map's elements, a nil interface{}
    (
        "zero",
        '{{ .x | printf "%v" }}|{{ eq .x "a" }}|{{ .m.y }}',
        {"m": {}},
        "<nil>|false|<no value>",
    ),
]


@pytest.mark.parametrize(("option", "text", "data", "expected"), MISSING_KEY)
def test_missing_key_options(option: Any, text: str, data: dict[str, Any], expected: str) -> None:
    assert render(text, "t.json", data, funcs=FUNCS, missing_key=option) == expected


MISSING_KEY_ERRORS = [
    # option, text, data, line:column, <node>, message
    (
        "default",
        "{{ .m.k.x }}",
        {"m": {"k": None}},  # a nil value is not a missing key
        "1:5",
        ".m.k.x",
        "nil pointer evaluating interface {}.x",
    ),
    (
        "default",
        "{{ len .x }}",
        {},
        "1:3",
        "len .x",
        "error calling len: reflect: call of reflect.Value.Type on zero Value",
    ),
    (
        "default",
        '{{ index .x "a" }}',
        {},
        "1:3",
        'index .x "a"',
        "error calling index: index of untyped nil",
    ),
    ("default", "{{ base64 .x }}", {}, "1:10", ".x", "invalid value; expected string"),
    ("zero", "{{ .day.x }}", {}, "1:7", ".day.x", "nil pointer evaluating interface {}.x"),
    (
        "error",
        "{{ .day }}",
        {},
        "1:3",
        ".day",
        'map has no entry for key "day" (pass it with --vars day,VALUE)',
    ),
]


@pytest.mark.parametrize(("option", "text", "data", "where", "node", "message"), MISSING_KEY_ERRORS)
def test_missing_key_option_errors(
    option: Any, text: str, data: dict[str, Any], where: str, node: str, message: str
) -> None:
    with pytest.raises(TemplateError) as info:
        render(text, "t.json", data, funcs=FUNCS, missing_key=option)
    assert str(info.value) == f't.json:{where}: executing "t.json" at <{node}>: {message}'


def test_missing_key_is_an_error_unless_told() -> None:
    with pytest.raises(TemplateError, match='map has no entry for key "day"'):
        render("{{ .day }}", "t", {})


def test_an_unknown_missing_key_option_is_refused() -> None:
    # Go panics on it; even a file without actions is refused, a mistake of the caller.
    for text in ("{{ .x }}", "no actions"):
        with pytest.raises(ValueError, match=r"^unrecognized option: missingkey=nope$"):
            render(text, "t", {}, missing_key="nope")  # type: ignore[arg-type]


# --- bounded resources --------------------------------------------------------------------------

KIB = 1024  # a small limit, so that exceeding it is quick
OVER = "template output exceeds the limit of"

OUTPUT_LIMITS = [
    # 46 bytes that would render 400 MB; the default limit stops them at 16 MiB
    pytest.param('{{range 400}}{{printf "%01000000d" 1}}{{end}}', {}, None, id="400MB-template"),
    # what is written: text, values, values in a loop
    pytest.param("x" * (KIB + 1) + "{{ .a }}", {"a": ""}, KIB, id="text"),
    pytest.param("{{ .a }}", {"a": "x" * (KIB + 1)}, KIB, id="value"),
    pytest.param("{{ range 11 }}{{ $.a }}{{ end }}", {"a": "x" * 100}, KIB, id="range"),
    # printf checks a width or a precision before it builds the string
    pytest.param('{{ printf "%01000000d" 1 }}', {}, KIB, id="printf-width"),
    pytest.param('{{ printf "%*s" 1000000 "" }}', {}, KIB, id="printf-star-width"),
    pytest.param('{{ printf "%.1000000f" 1.5 }}', {}, KIB, id="printf-precision"),
    pytest.param('{{ printf "%.1000000d" 1 }}', {}, KIB, id="printf-int-precision"),
    # a string a function returns is bounded, written or not
    pytest.param(
        '{{ $x := "ab" }}{{ range 20 }}{{ $x = print $x $x }}{{ end }}', {}, KIB, id="doubling"
    ),
    pytest.param('{{ $x := printf "%s%s%s%s" .a .a .a .a }}', {"a": "x" * 300}, KIB, id="printf"),
    pytest.param("{{ $x := print .a .a .a .a }}", {"a": "x" * 300}, KIB, id="print"),
    pytest.param("{{ $x := println .a .a .a .a }}", {"a": "x" * 300}, KIB, id="println"),
    pytest.param("{{ $x := html .a }}", {"a": '"' * 300}, KIB, id="html"),
    pytest.param("{{ $x := js .a }}", {"a": "<" * 200}, KIB, id="js"),
    pytest.param("{{ $x := urlquery .a }}", {"a": "é" * 200}, KIB, id="urlquery"),
    pytest.param("{{ $x := base64 .a }}", {"a": "x" * 800}, KIB, id="base64"),
    pytest.param('{{ if eq (big) "" }}{{ end }}', {}, KIB, id="custom-function"),
]


@pytest.mark.parametrize(("text", "data", "limit"), OUTPUT_LIMITS)
def test_output_beyond_the_limit_is_refused(
    text: str, data: dict[str, Any], limit: int | None
) -> None:
    funcs = {**FUNCS, "big": lambda: "x" * (KIB + 1)}
    limits = {} if limit is None else {"max_output": limit}
    with pytest.raises(TemplateError) as info:
        render(text, "t.json", data, funcs=funcs, **limits)
    size = "16 MiB" if limit is None else "1 KiB"
    assert str(info.value).startswith(f"t.json: {OVER} {size} (raise it with --max-config-size")


def test_the_default_limit_is_16_mib() -> None:
    assert DEFAULT_MAX_OUTPUT == 16 * 1024 * 1024
    # Right at the limit is still fine.
    assert len(r("{{ .a }}", {"a": "x" * DEFAULT_MAX_OUTPUT})) == DEFAULT_MAX_OUTPUT


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("x" * (KIB - 1) + "{{ .a }}", {"a": "y"}),
        ('{{ printf "%01024d" 1 }}', {}),
        ("{{ range 8 }}{{ $.a }}{{ end }}", {"a": "x" * 128}),
        ("{{ base64 .a }}", {"a": "x" * 768}),
    ],
)
def test_output_up_to_the_limit_is_rendered(text: str, data: dict[str, Any]) -> None:
    assert len(render(text, "t.json", data, funcs=FUNCS, max_output=KIB)) == KIB


def test_a_huge_printf_width_fails_before_its_string_is_built() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match=OVER):
            render('{{ printf "%01000000d" 1 }}', "t.json", {}, funcs=FUNCS, max_output=KIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 200_000  # the string would take a megabyte


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("{{ range 1000001 }}{{ end }}", '1:9: executing "t.json" at <1000001>'),
        ("{{ range 1000000000000000 }}{{ end }}", '1:9: executing "t.json" at <1000000000000000>'),
        # the iterations of all the loops count
        (
            "{{ range 600000 }}{{ end }}{{ range 400001 }}{{ end }}",
            '1:36: executing "t.json" at <400001>',
        ),
    ],
)
def test_range_iterations_are_bounded(text: str, node: str) -> None:
    assert str(error_of(text)) == f"t.json:{node}: too many range iterations (more than 1000000)"


@pytest.fixture
def deadline() -> Iterator[None]:
    """A read that would never end (a FIFO without a writer, /dev/zero) fails the
    test, as a TimeoutError from the read, instead of hanging it."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError("the read did not end")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 5)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _fifo(tmp_path: Path) -> str:
    os.mkfifo(tmp_path / "fifo")
    return str(tmp_path / "fifo")


def _over_limit(tmp_path: Path) -> str:
    (tmp_path / "big.bin").write_bytes(b"x" * (KIB + 1))
    return str(tmp_path / "big.bin")


def _link_to_dev_zero(tmp_path: Path) -> str:
    (tmp_path / "zero").symlink_to("/dev/zero")
    return str(tmp_path / "zero")


BASE64_FILE_REFUSED = [
    pytest.param(lambda tmp: "/dev/zero", "{path}: not a regular file", id="dev-zero"),
    pytest.param(_link_to_dev_zero, "{path}: not a regular file", id="link-to-dev-zero"),
    pytest.param(_fifo, "{path}: not a regular file", id="fifo"),
    pytest.param(_over_limit, "{path}: file is larger than the limit of 1 KiB", id="over-limit"),
    pytest.param(str, "read {path}: is a directory", id="directory"),  # Go's own refusal
]


@pytest.mark.usefixtures("deadline")
@pytest.mark.parametrize(("make", "message"), BASE64_FILE_REFUSED)
def test_base64_file_reads_only_regular_files_within_the_limit(
    tmp_path: Path, make: Callable[[Path], str], message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(TemplateError) as info:
        render("{{ base64File .p }}", "t.json", {"p": path}, max_output=KIB)
    expected = "error calling base64File: " + message.format(path=path)
    assert str(info.value) == f't.json:1:3: executing "t.json" at <base64File .p>: {expected}'


def test_base64_file_reads_a_file_within_the_limit(tmp_path: Path) -> None:
    (tmp_path / "ok.bin").write_bytes(bytes(range(256)) * 3)  # 768 bytes: 1 KiB of base64
    out = render("{{ base64File .p }}", "t", {"p": str(tmp_path / "ok.bin")}, max_output=KIB)
    assert base64.b64decode(out) == bytes(range(256)) * 3


def test_a_replaced_file_reader_is_held_to_the_limit_too() -> None:
    funcs = default_funcs(read_file=lambda path: b"x" * (KIB + 1), max_file_size=KIB)
    assert str(error_of('{{ base64File "f" }}', funcs=funcs)).endswith(
        "error calling base64File: f: file is larger than the limit of 1 KiB"
    )


# --- properties -------------------------------------------------------------------------------

_TEMPLATE_CHARS = st.sampled_from(list(" \t\n.$|()\"'`{}-=:,/*0123456789abxyzif_éend"))


@given(st.text())
def test_text_without_actions_is_returned_unchanged(text: str) -> None:
    if "{{" not in text:
        assert r(text) == text


@given(st.text(), st.text())
def test_a_variable_renders_exactly(value: str, prefix: str) -> None:
    prefix = prefix.replace("{", "(")
    assert r(prefix + "{{.v}}", {"v": value}) == prefix + value
    assert r("{{ .v | base64 }}", {"v": value}) == base64.b64encode(value.encode()).decode()
    assert r("{{ base64 .v }}", {"v": value}) == base64.b64encode(value.encode()).decode()


@settings(max_examples=300)
@given(st.text(_TEMPLATE_CHARS, max_size=40), st.text(max_size=40))
def test_garbage_in_an_action_raises_only_template_errors(inner: str, other: str) -> None:
    data = {"a": "x", "l": ["1", None], "m": {"k": "v"}}
    for text in ("{{" + inner + "}}", inner, other + "{{" + other, "{{- " + inner + " -}}"):
        error: TemplateError | None = None
        try:
            out = r(text, data)
        except TemplateError as err:  # anything else fails the test
            error = err
        else:
            assert isinstance(out, str)
        if error is not None:
            assert error.file == "t.json"
            assert error.line is None or error.line >= 1


@settings(max_examples=300)
@given(st.text(st.sampled_from(list(' .$|()"`,=:abfixyz0123456789')), max_size=30))
def test_the_shortcut_for_common_actions_agrees_with_the_general_path(body: str) -> None:
    # "{{- " and " -}}" only trim spaces (there are none around here), and they make
    # the lexer take its general path: both forms must render or fail alike.
    data = {"a": "x", "b": "y"}
    funcs = {**FUNCS, "f": lambda *args: "|".join(map(str, args)), "x": lambda: "X"}
    results: list[tuple[str, str]] = []
    for text in ("<{{" + body + "}}>", "<{{- " + body + " -}}>"):
        try:
            results.append(("ok", r(text, data, funcs)))
        except TemplateError as err:
            results.append(("error", err.message))
    assert results[0] == results[1]


# --- large inputs (speed itself is measured in bench/, never asserted in tests) ----------------


def test_a_large_file_with_few_actions() -> None:
    block = '{"key": "' + "x" * 100 + '"},\n'
    text = (
        block * 10_000 + "{{ .a }}" + block * 10_000 + '{{ .a | base64 }}{{ nowWithFormat "2006" }}'
    )
    assert len(text) > 2_000_000
    out = r(text, {"a": "v"})
    assert out == block * 10_000 + "v" + block * 10_000 + "dg==" + "2024"


def test_ten_thousand_actions() -> None:
    text = '"k": "{{ .a }}-{{ base64 .b }}",\n' * 5_000
    assert r(text, {"a": "1", "b": "2"}) == '"k": "1-Mg==",\n' * 5_000


def test_a_parsed_template_renders_again_with_other_data() -> None:
    """Parsed once (Go's Parse), executed many times (Execute): each rendering has
    its own output limit and its own variables, and the clock is read each time."""
    clock = iter([NOW, NOW + dt.timedelta(days=1)])
    funcs = default_funcs(now=lambda: next(clock))
    day = Template(
        '{{ .date }}|{{ printf "%s" .date }}|{{ nowWithFormat "2006-01-02" }}',
        "p.json",
        funcs=funcs,
        max_output=40,
    )
    assert day.render({"date": "2026-11-01"}) == "2026-11-01|2026-11-01|2024-03-09"
    assert day.render({"date": "2026-11-02"}) == "2026-11-02|2026-11-02|2024-03-10"
    with pytest.raises(TemplateError, match=r'p.json:1:3: executing "p.json" at <.date>: map'):
        day.render({})
    with pytest.raises(TemplateError, match="template output exceeds the limit of 40 bytes"):
        day.render({"date": "x" * 30})
    with pytest.raises(TemplateError, match=r"p.json:1: function \"nope\" not defined"):
        Template("{{ nope }}", "p.json")
