"""Go's text/template, as config files use it, with Go's semantics and error messages.

The Go tool renders every config file as ``template.New(name).Funcs(five).Option(
"missingkey=error").Parse(text).Execute(vars)``, ``vars`` being a
``map[string]interface{}`` of strings. This package is a hand-written subset of
text/template laid out like Go's own:

=========== ======================================================================
module      follows
=========== ======================================================================
lex         ``text/template/parse/lex.go``: the tokens
node        ``text/template/parse/node.go``: the parse tree, ``Node.String()``
parse       ``text/template/parse/parse.go``: the parser
exec        ``text/template/exec.go``: the executor
funcs       ``text/template/funcs.go``: the builtins, and the Go tool's functions
fmt         ``fmt``: ``Sprint``, ``Sprintln``, ``Sprintf``
strconv     ``strconv``: quoting, and reading literals
gotime      ``time``: ``Time`` in a fixed zone, ``Format``, ``AddDate``, ``Add``
gotimeparse ``time/format.go``: ``time.Parse``
goduration  ``time/format.go``: ``time.ParseDuration``
timefuncs   this tool's time arithmetic: ``addDate addDuration formatTime parseTime``
=========== ======================================================================

What is supported:

* text and actions, trim markers ``{{- `` / `` -}}``, comments ``{{/* */}}``;
* fields ``.a.b``, ``.``, variables ``$``, ``$x := ...``, ``$x = ...``, chains
  ``$x.a`` and ``(pipeline).a``; literals: strings, raw strings, numbers (Go's
  syntax: ``0x1F``, ``0o17``, ``017``, ``1_000``, ``1e3``, ``0x1p-2``), characters,
  ``true``, ``false``, ``nil``;
* pipelines ``.x | f`` (the piped value is the last argument) and parentheses;
* ``if``/``else if``/``else``, ``range`` (lists, maps in key order, integers; with
  ``else``, ``$i, $v :=``, ``break``, ``continue``), ``with``/``else with``;
* Go's builtins ``and or not len index slice print printf println eq ne lt le gt
  ge html js urlquery call``, the Go tool's five functions and four for time
  arithmetic (:func:`default_funcs`).

``define``, ``template`` and ``block`` (templates calling templates) and complex
numbers are refused with a clear error.

>>> render("s3://{{ .bucket }}/{{ .day | base64 }}", "c.json", {"bucket": "b", "day": "x"})
's3://b/eA=='

Every error is a :class:`~dataflow_runner.errors.TemplateError`: parse errors carry
the template name and line (``c.json:3: function "secret" not defined``), execution
errors also Go's column, the byte offset in the line (``c.json:1:2: executing
"c.json" at <.foo>: map has no entry for key "foo" ...``).

Unlike Go, a rendering is bounded, so that a short template cannot take a machine's
memory: its output may not exceed ``max_output`` characters (16 MiB by default;
checked as it is written, and by the functions that format before they build a
string), ``{{range}}`` runs at most a million times in all, and ``base64File``
reads regular files of at most ``max_output`` bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dataflow_runner.config.limits import RAISE_IT, size_text
from dataflow_runner.config.template.exec import (
    MISSING_KEYS,
    BreakLoop,
    ContinueLoop,
    Exec,
    ExecFail,
    MissingKey,
)
from dataflow_runner.config.template.fmt import OutputLimit
from dataflow_runner.config.template.funcs import (
    DEFAULT_MAX_OUTPUT,
    Budget,
    Fn,
    bind,
    default_funcs,
    function_table,
)
from dataflow_runner.config.template.node import node_str
from dataflow_runner.config.template.parse import ParseFail, line_of
from dataflow_runner.config.template.parse import parse as parse_tree
from dataflow_runner.config.template.strconv import quote
from dataflow_runner.errors import TemplateError

__all__ = ["DEFAULT_MAX_OUTPUT", "MissingKey", "Template", "default_funcs", "render"]


def render(
    text: str,
    name: str,
    data: Mapping[str, Any],
    *,
    funcs: Mapping[str, Callable[..., Any]] | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    missing_key: MissingKey = "error",
) -> str:
    """Render ``text`` as Go's text/template does with ``missingkey=error``.

    ``name`` names the template in errors (the Go tool uses the file's base name);
    ``funcs`` defaults to :func:`default_funcs`. Text without ``{{`` is returned as is.
    The output may not exceed ``max_output`` characters, nor a file ``base64File``
    reads ``max_output`` bytes (when ``funcs`` is not given).

    ``missing_key`` is Go's ``missingkey`` option: ``"error"`` (the Go tool's choice),
    or ``"default"`` (Go's default, also named ``"invalid"``), where a missing key is
    an invalid value that prints as ``<no value>``, so that a file can be read before
    the variables it declares exist; ``"zero"`` is Go's third choice.

    >>> render('{{ if eq .env "prod" }}big{{ else }}small{{ end }}', "t", {"env": "dev"})
    'small'
    >>> render("{{ .day }}/{{ .day.hour }}", "t", {}, missing_key="default")
    '<no value>/<no value>'
    """
    return Template(text, name, funcs=funcs, max_output=max_output, missing_key=missing_key).render(
        data
    )


class Template:
    """A template parsed once and rendered for as many sets of data as needed, as
    Go's ``Parse`` then ``Execute`` (a partitioned playbook: once per partition).
    The arguments are :func:`render`'s; a syntax error is raised here, an
    execution error by :meth:`render`. Renderings share nothing but the parse
    tree, which they only read: two threads may render one template.

    >>> day = Template("s3://b/{{ .date }}/", "t")
    >>> [day.render({"date": d}) for d in ("2026-11-01", "2026-11-02")]
    ['s3://b/2026-11-01/', 's3://b/2026-11-02/']
    """

    def __init__(
        self,
        text: str,
        name: str,
        *,
        funcs: Mapping[str, Callable[..., Any]] | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        missing_key: MissingKey = "error",
    ) -> None:
        if missing_key not in MISSING_KEYS:  # Go panics on an unknown option
            raise ValueError(f"unrecognized option: missingkey={missing_key}")
        self.text, self.name = text, name
        self.max_output, self.missing_key = max_output, missing_key
        self._funcs: dict[str, Fn] = {}
        self._tree: list[Any] | None = None
        if "{{" not in text:
            return
        self._funcs = bind(default_funcs(max_file_size=max_output) if funcs is None else funcs)
        try:
            self._tree = parse_tree(text, name, function_table(self._funcs, Budget(max_output)))
        except ParseFail as exc:
            raise TemplateError(exc.message, file=name, line=exc.line) from None
        except RecursionError:
            raise TemplateError("template nested too deeply", file=name) from None

    def render(self, data: Mapping[str, Any]) -> str:
        """The text with ``data`` (Go's ``Execute``); text without ``{{`` as it is."""
        if self._tree is None:
            return self.text
        name = self.name
        budget = Budget(self.max_output)
        try:
            run = Exec(function_table(self._funcs, budget), data, budget, self.missing_key)
            run.walk(data, self._tree)
            return "".join(run.out)
        except OutputLimit:
            message = (
                f"template output exceeds the limit of {size_text(self.max_output)} ({RAISE_IT})"
            )
            raise TemplateError(message, file=name) from None
        except ExecFail as exc:
            raise _exec_error(self.text, name, exc) from None
        except RecursionError:
            raise TemplateError("template nested too deeply", file=name) from None
        except (BreakLoop, ContinueLoop):  # pragma: no cover - the parser allows them in range
            raise TemplateError("{{break}} or {{continue}} outside {{range}}", file=name) from None


def _exec_error(text: str, name: str, fail: ExecFail) -> TemplateError:
    """Go's form of an execution error: ``NAME:LINE:COL: executing "NAME" at <NODE>:``."""
    node = fail.node
    if node is None:
        return TemplateError(fail.message, file=name)
    pos = node.pos
    line_start = text.rfind("\n", 0, pos) + 1
    column = len(text[line_start:pos].encode("utf-8", "surrogatepass"))  # Go counts bytes
    return TemplateError(
        f"executing {quote(name)} at <{node_str(node)}>: {fail.message}",
        file=name,
        line=line_of(text, pos),
        column=column,
    )
