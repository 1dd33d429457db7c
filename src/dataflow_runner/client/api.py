"""``ServerClient``: the calls of a server's REST API the command line makes, each
answering JSON (or text), or raising a :class:`DataflowRunnerError` of one line:

* the server cannot be reached: ``cannot reach the server at URL: why``;
* 401 and 403: the server's words, then what to do (set ``DATAFLOW_RUNNER_TOKEN``);
* 422 with an invalid document: :class:`ConfigErrors`, each problem with its
  JSON path, addressed to the local file it came from (the server names the
  documents ``playbook`` and ``cluster``), as ``validate`` prints them;
* any other 4xx or 5xx: the server's message.

httpx is imported when a client is made, not with this module: the command line's
``--help`` stays light.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dataflow_runner.errors import ConfigError, ConfigErrors, DataflowRunnerError, FlagError

if TYPE_CHECKING:
    import httpx

API = "/api/v1"
SERVER_ENV = "DATAFLOW_RUNNER_SERVER"
TOKEN_ENV = "DATAFLOW_RUNNER_TOKEN"
#: How long one call may take (a follow of logs waits longer between lines).
TIMEOUT = 30.0
#: The most characters of a body that is not the server's JSON quoted in an error.
_QUOTED = 120


class ServerError(DataflowRunnerError):
    """The server refused a call, or could not be reached."""

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


def base_url(text: str) -> str:
    """The server's address as given (``--server``), checked: http(s)://host[:port].

    >>> base_url("http://127.0.0.1:8080/")
    'http://127.0.0.1:8080'
    """
    url = text.strip().rstrip("/")
    if url.endswith(API):
        url = url[: -len(API)]
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise FlagError(f"--server: expected an http:// or https:// URL, got {text!r}")
    return url


class ServerClient:
    """One server, one token; use it as a context manager (it holds a connection)."""

    def __init__(self, url: str, token: str | None, *, timeout: float = TIMEOUT) -> None:
        try:
            import httpx
        except ImportError:
            raise FlagError("--server needs httpx: pip install 'dataflow-runner[server]'") from None
        self.url = base_url(url)
        self.token = token or None
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        self._http = httpx.Client(
            base_url=self.url + API, headers=headers, timeout=timeout, follow_redirects=False
        )

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the calls ------------------------------------------------------------------------

    def submit(self, body: Mapping[str, Any], files: Mapping[str, str] | None = None) -> Any:
        """``POST /runs``; ``files`` names the local file each document came from."""
        return self._json("POST", "/runs", json=dict(body), files=files)

    def run(self, run_id: str) -> Any:
        return self._json("GET", f"/runs/{_segment(run_id)}")

    def runs(self, params: Mapping[str, Any]) -> Any:
        return self._json("GET", "/runs", params={k: v for k, v in params.items() if v is not None})

    def retry(self, run_id: str) -> Any:
        return self._json("POST", f"/runs/{_segment(run_id)}/retry")

    def cancel(self, run_id: str) -> Any:
        return self._json("POST", f"/runs/{_segment(run_id)}/cancel")

    def logs(self, run_id: str, step_id: str, *, stream: str, attempt: int | None) -> str:
        response = self._call(
            "GET",
            f"/runs/{_segment(run_id)}/steps/{_segment(step_id)}/logs",
            params=_params(stream=stream, attempt=attempt),
        )
        return response.text

    def follow_logs(
        self, run_id: str, step_id: str, *, stream: str, attempt: int | None
    ) -> Iterator[str]:
        """The log's lines as the server sends them (Server-Sent Events) until the
        attempt ends: each line with its newline."""
        import httpx

        path = f"/runs/{_segment(run_id)}/steps/{_segment(step_id)}/logs"
        params = _params(stream=stream, attempt=attempt, follow="true")
        try:
            with self._http.stream(
                "GET",
                path,
                params=params,
                headers={"Accept": "text/event-stream"},
                timeout=httpx.Timeout(TIMEOUT, read=None),
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._error(response, None)
                yield from _events(response.iter_lines())
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None

    # --- the registry of clusters, pools and schedules ---------------------------------------

    def clusters(self) -> Any:
        return self._json("GET", "/clusters")

    def tag(self, cluster_id: str, *, add: Sequence[str], remove: Sequence[str]) -> list[str]:
        """Adds ``add`` to a cluster's tags, then removes each of ``remove``: the
        cluster's tags after both."""
        path = f"/clusters/{_segment(cluster_id)}/tags"
        tags = self._json("POST", path, json={"tags": list(add)}) if add else None
        for one in remove:
            self._json("DELETE", f"{path}/{_segment(one)}")
        if remove or tags is None:
            tags = self._json("GET", path)
        return [str(t) for t in tags]

    def drain(self, source: str, target: str, *, terminate_when_idle: bool) -> tuple[Any, Any]:
        """Moves ``source``'s tags to ``target``: both clusters after, in that order."""
        body = {"to": target, "terminateWhenIdle": terminate_when_idle}
        found = self._json("POST", f"/clusters/{_segment(source)}/drain", json=body)
        return found[0], found[1]

    def pools(self) -> Any:
        return self._json("GET", "/pools")

    def put_pool(self, name: str, body: Mapping[str, Any]) -> Any:
        return self._json("PUT", f"/pools/{_segment(name)}", json=dict(body))

    def delete_pool(self, name: str) -> Any:
        return self._json("DELETE", f"/pools/{_segment(name)}")

    def schedules(self) -> Any:
        return self._json("GET", "/schedules")

    def trigger(self, name: str, variables: Mapping[str, str], partition: str | None) -> Any:
        """Runs a schedule now: the run the server accepted (its id, state, links)."""
        body = _params(vars=dict(variables), partition=partition)
        return self._json("POST", f"/schedules/{_segment(name)}/trigger", json=body)

    # --- plumbing -------------------------------------------------------------------------

    def _json(
        self, method: str, path: str, *, files: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Any:
        response = self._call(method, path, files=files, **kwargs)
        if response.status_code == 204:
            return None
        try:
            return response.json()
        except ValueError:
            raise ServerError(
                f"the server at {self.url} answered {method} {API}{path} with something "
                f"that is not JSON: {response.text[:_QUOTED]!r}",
                response.status_code,
            ) from None

    def _call(
        self, method: str, path: str, *, files: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        if response.status_code >= 400:
            raise self._error(response, files)
        return response

    def _unreachable(self, exc: Exception) -> ServerError:
        why = str(exc) or type(exc).__name__
        return ServerError(f"cannot reach the server at {self.url}: {why}")

    def _error(self, response: httpx.Response, files: Mapping[str, str] | None) -> Exception:
        """The error a refused call raises (see the module's docstring)."""
        status = response.status_code
        code, message, details = "", "", []
        try:
            found = response.json()["error"]
            code, message = str(found.get("code", "")), str(found.get("message", ""))
            details = list(found.get("details") or [])
        except (ValueError, KeyError, TypeError, AttributeError):
            message = response.text.strip()[:_QUOTED] or response.reason_phrase
        if status == 422 and details:
            return _config_errors(details, files or {})
        if status == 401:
            return ServerError(
                f"the server at {self.url} refused the request: {message} (set {TOKEN_ENV} "
                "to a token made with: dataflow-runner tokens create --name NAME --role ROLE)",
                status,
                code,
            )
        if status == 403:
            return ServerError(
                f"the server at {self.url} refused the request: {message} (set {TOKEN_ENV} "
                "to a token whose role allows it)",
                status,
                code,
            )
        if status >= 500:
            return ServerError(
                f"the server at {self.url} failed: {status} {message}".rstrip(), status, code
            )
        return ServerError(message or f"the server answered {status}", status, code)


def _segment(value: str) -> str:
    """``value`` as one segment of a URL's path."""
    from urllib.parse import quote

    return quote(value, safe="")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _config_errors(details: list[Any], files: Mapping[str, str]) -> ConfigError:
    """The problems of a 422 as this tool's errors, addressed to the local files."""
    errors = []
    for detail in details:
        if not isinstance(detail, dict):
            continue
        file = detail.get("file")
        line = detail.get("line")
        if isinstance(file, str) and file in files:
            file = files[file]
            line = None  # a line of the document the server was sent, not of the file
        elif file is None and detail.get("path") is None:
            errors.append(ConfigError(str(detail.get("text") or detail.get("message"))))
            continue
        errors.append(
            ConfigError(
                str(detail.get("message", "invalid")),
                file=file,
                path=detail.get("path"),
                line=line if isinstance(line, int) else None,
            )
        )
    if not errors:
        return ConfigError("the server found the request invalid")
    return errors[0] if len(errors) == 1 else ConfigErrors(errors)


def _events(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` lines of a Server-Sent Events stream, until its ``end`` event."""
    data: list[str] = []
    event = ""
    for line in lines:
        if line == "":
            if event == "end":
                return
            for item in data:
                yield item + "\n"
            data, event = [], ""
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
        elif line.startswith("event:"):
            event = line[6:].strip()
    for item in data:
        if event != "end":
            yield item + "\n"
