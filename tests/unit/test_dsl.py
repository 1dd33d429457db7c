"""The Python DSL (``dataflow_runner.dsl``): what its strings become once the YAML
form is rendered and parsed, the arguments it refuses (and where), and the way back
from the YAML form's lines to the Python file's."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dataflow_runner.config.loading import parse, render
from dataflow_runner.config.source import PlaybookSource
from dataflow_runner.data.partitions import Spec
from dataflow_runner.dsl import (
    DslError,
    Playbook,
    daily,
    hourly,
    monthly,
    param,
    partitions,
    retry,
    template,
    wait,
    weekly,
)
from dataflow_runner.dsl.text import yaml_scalar
from dataflow_runner.dsl.yamlform import origins, relocate
from dataflow_runner.errors import ConfigError, ConfigErrors

VALUES = {"date": "2026-11-20", "hour": "03", "bucket": "b-1"}


def rendered(scalar: str, variables: dict[str, str] | None = None) -> Any:
    """A YAML scalar of the form, as the loader reads it: rendered, then parsed."""
    text = render(f"v: {scalar}\n", "p.yaml", variables or {})
    return parse(text, "p.yaml")["v"]


# --- strings ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_a_literal_string_comes_back_as_it_was(text: str) -> None:
    assert rendered(yaml_scalar(text)) == text


_literal = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_literal, st.sampled_from(sorted(VALUES))), max_size=6))
def test_placeholders_are_rendered_and_braces_kept(parts: list[str]) -> None:
    # Odd positions are placeholders' names, even ones literal text (braces doubled).
    dsl, expected = [], []
    for i, part in enumerate(parts):
        if i % 2 and part in VALUES:
            dsl.append("{" + part + "}")
            expected.append(VALUES[part])
        else:
            dsl.append(part.replace("{", "{{").replace("}", "}}"))
            expected.append(part)
    assert rendered(yaml_scalar("".join(dsl), placeholders=True), VALUES) == "".join(expected)


@pytest.mark.parametrize(
    ("dsl", "expected"),
    [
        ("in/{date}/{hour}.txt", "in/2026-11-20/03.txt"),
        ("awk '{{print $1}}'", "awk '{print $1}'"),
        ("{{{date}}}", "{2026-11-20}"),
        ("{{{{", "{{"),
        ("x{{{date}", "x{2026-11-20"),
        ("yes", "yes"),
        ("null", "null"),
        ("1e3", "1e3"),
        ("a: b # c", "a: b # c"),
        ("line\nbreak\u2028", "line\nbreak\u2028"),
    ],
)
def test_the_yaml_form_of_a_string(dsl: str, expected: str) -> None:
    assert rendered(yaml_scalar(dsl, placeholders=True), VALUES) == expected


def test_a_template_is_passed_as_it_is() -> None:
    raw = template('{{ addDate .date 0 0 -1 }} it\'s {{ printf "%s" .hour }}')
    assert rendered(yaml_scalar(raw, placeholders=True), VALUES) == "2026-11-19 it's 03"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a { b", "a single '{'"),
        ("a } b", "a single '}'"),
        ("{date:%Y}", "is not a placeholder"),
        ("{0}", "is not a placeholder"),
        ("{ date }", "is not a placeholder"),
    ],
)
def test_a_bad_brace_is_refused(text: str, problem: str) -> None:
    pb = Playbook("p", partitions=daily(start="2026-11-01"))
    with pytest.raises(DslError, match=problem):
        pb.command("a", ["echo", text])


# --- arguments ---------------------------------------------------------------------------


def _book() -> Playbook:
    return Playbook("p", partitions=hourly(start="2026-11-01T00:00Z"))


@pytest.mark.parametrize(
    ("build", "problem"),
    [
        (lambda: partitions("fortnight", "2026-11-01"), "unknown partition unit 'fortnight'"),
        (lambda: daily("2026-11-01", timezone="Mars/Base"), "unknown time zone 'Mars/Base'"),
        (lambda: daily("the first of november"), "partitions: "),
        (lambda: param("float"), "unknown parameter type 'float'"),
        (lambda: param("int", default="three"), "an int parameter's default is an integer"),
        (lambda: retry(True), "retries: expected an integer"),
        (lambda: wait(float("inf")), "timeout \\(seconds\\): expected a number"),
        (lambda: Playbook(""), "a playbook needs a name"),
        (lambda: Playbook("p", concurrency="2"), "concurrency: expected an integer"),
        (lambda: Playbook("p", partitions="hourly"), "partitions: expected hourly"),
        (
            lambda: Playbook("p", partitions=daily("2026-11-01"), params={"date": param()}),
            "'date' is the partition's",
        ),
        (lambda: Playbook("p", params={"a b": param()}), "not a name of letters"),
        (lambda: Playbook("p", credentials="secret"), "credentials: expected 'env'"),
        (lambda: _book().command("a", "python x.py"), "command: expected a list of strings"),
        (lambda: _book().command("a", []), "command: expected a non-empty list"),
        (lambda: _book().command("-a", ["x"]), "step id '-a': expected letters"),
        (lambda: _book().command("a", ["x"], retires=2), "did you mean 'retries'"),
        (lambda: _book().command("a", ["x"], depends_on=["b"]), "depends_on: unknown step 'b'"),
        (lambda: _book().command("a", ["x"], inputs="in.txt"), "inputs: expected a list"),
        (lambda: _book().command("a", ["x"], env={"A": 1}), "env: expected strings"),
        (lambda: _book().command("a", ["x"], timeout="1h"), "timeout \\(seconds\\)"),
        (lambda: _book().command("a", ["x"], wait_for_inputs=60), "expected wait"),
        (
            lambda: _book().command("a", ["x"], action_on_failure="TERMINATE_CLUSTER"),
            "expected CANCEL_AND_WAIT or CONTINUE",
        ),
        (lambda: _book().command("a", ["x", "{bucket}"]), "unknown placeholder {bucket}"),
        (lambda: Playbook("p").command("a", ["x", "{date}"]), "unknown placeholder {date}"),
        (lambda: template("a\nb"), "template\\(\\) takes one line"),
    ],
)
def test_a_bad_argument_is_refused_when_given(build: Any, problem: str) -> None:
    with pytest.raises(DslError, match=problem):
        build()


def test_a_step_id_is_used_once_and_depended_on_once_added() -> None:
    pb = _book()
    first = pb.command("a", ["x"])
    with pytest.raises(DslError, match=r"duplicate step id 'a' \(the first is at line \d+\)"):
        pb.command("a", ["y"])
    other = _book().command("b", ["x"])
    with pytest.raises(DslError, match="step 'b' belongs to another playbook"):
        pb.command("c", ["x"], depends_on=[other])
    assert pb.command("c", ["x"], depends_on=first, after=["a"]).depends_on == ("a",)


def test_placeholders_may_name_parameters() -> None:
    pb = Playbook("p", params={"bucket": param()})
    assert pb.command("a", ["ls", "s3://{bucket}/"]).command == ("ls", "s3://{bucket}/")


def test_values_are_normalised() -> None:
    pb = Playbook(
        "p",
        partitions=weekly(dt.datetime(2026, 11, 2, tzinfo=dt.UTC)),
        params={"day": param("date", default=dt.date(2026, 11, 20))},
    )
    assert pb.partitions is not None and pb.partitions.start == "2026-11-02T00:00:00Z"
    assert pb.params["day"].default == "2026-11-20"
    assert monthly(dt.date(2026, 1, 1), timezone="Europe/Paris").start == "2026-01-01"
    step = pb.command(
        "a",
        ["x"],
        timeout=dt.timedelta(minutes=5),
        wait_for_inputs=True,
        retries=retry(2, delay=dt.timedelta(seconds=1.5)),
    )
    assert (step.timeout, step.wait_for_inputs, step.retries) == (
        300.0,
        wait(),
        retry(2, delay=1.5),
    )


# --- from the YAML form's lines to the Python file's ----------------------------------


def test_each_step_of_the_yaml_form_names_the_line_that_built_it() -> None:
    pb = Playbook("p")  # this line
    line = pb.line
    pb.command("a", ["x"])
    pb.command(
        "b",
        ["y"],
    )
    text = pb.to_yaml()
    assert f"data:  # test_dsl.py:{line}\n" in text
    assert f"    - id: a  # test_dsl.py:{line + 2}\n" in text
    assert f"    - id: b  # test_dsl.py:{line + 3}\n" in text
    found = origins(text)
    assert found.playbook == line
    assert [origin for _, origin in found.steps] == [line + 2, line + 3]


def test_an_error_in_the_yaml_form_is_moved_to_the_python_line() -> None:
    pb = Playbook("p")
    pb.command("a", ["x"])
    pb.command("b", ["y"])
    text = pb.to_yaml()
    [(_, a_line), (b_start, b_line)] = origins(text).steps
    by_path = ConfigError("bad", file="p.py", path="$.data.steps[1].retries")
    assert str(relocate(by_path, "p.py", text)) == f"p.py:{b_line}: $.data.steps[1].retries: bad"
    by_line = ConfigError("no", file="p.py", line=b_start + 1, column=3)
    assert str(relocate(by_line, "p.py", text)) == f"p.py:{b_line}: no"
    head = ConfigError("x", file="p.py", path="$.data.partitions")
    assert relocate(head, "p.py", text).line == pb.line
    several = relocate(
        ConfigErrors([ConfigError("1", path="$.data.steps[0].id"), by_path]), "p.py", text
    )
    assert isinstance(several, ConfigErrors)
    assert [e.line for e in several.errors] == [a_line, b_line]
    elsewhere = ConfigError("y", file="other.txt", line=2)
    assert relocate(elsewhere, "p.py", text).line == 2


def test_a_long_list_is_written_one_item_a_line(tmp_path: Path) -> None:
    (tmp_path / "long.py").write_text(
        textwrap.dedent(
            """\
            from dataflow_runner.dsl import Playbook
            pb = Playbook("long")
            pb.command("a", ["echo", *[f"argument-number-{n}" for n in range(12)]])
            """
        )
    )
    source = PlaybookSource(str(tmp_path / "long.py"), {})
    assert "      command:\n        - echo\n        - argument-number-0\n" in source.text
    assert source.load().steps[0].command[-1] == "argument-number-11"


def test_a_partitioned_python_playbook_renders_per_partition(tmp_path: Path) -> None:
    (tmp_path / "hourly.py").write_text(
        textwrap.dedent(
            """\
            from dataflow_runner.dsl import Playbook, hourly, template
            pb = Playbook("h", partitions=hourly(start="2026-11-01T00:00Z"))
            pb.command(
                "a",
                ["cp", template("in/{{ formatTime .partition \\"2006/01/02/15\\" }}"),
                 "out/{date}-{hour}"],
            )
            """
        )
    )
    source = PlaybookSource(str(tmp_path / "hourly.py"), {})
    partitions = source.head().partitions
    assert partitions is not None and partitions.every == "hour"
    spec = Spec.of(partitions)
    assert source.load(spec.at(27)).steps[0].command == (
        "cp",
        "in/2026/11/02/03",
        "out/2026-11-02-03",
    )
