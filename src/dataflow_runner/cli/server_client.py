"""The few calls ``clusters`` makes to a server (``--server URL``; the token in
``DATAFLOW_RUNNER_TOKEN``), with httpx. A server's error is one line, as the
server words it; an unreachable server too."""

from __future__ import annotations

import os
from typing import Any

from dataflow_runner.errors import DataflowRunnerError

TOKEN_ENV = "DATAFLOW_RUNNER_TOKEN"


def _call(server: str, method: str, path: str, **kwargs: Any) -> Any:
    import httpx

    token = os.environ.get(TOKEN_ENV, "").strip()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = server.rstrip("/") + "/api/v1" + path
    try:
        response = httpx.request(method, url, headers=headers, timeout=30.0, **kwargs)
    except httpx.HTTPError as exc:
        raise DataflowRunnerError(f"cannot reach the server at {server}: {exc}") from None
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:200]
        raise DataflowRunnerError(f"the server answered {response.status_code}: {message}")
    return None if response.status_code == 204 else response.json()


def clusters(server: str, *, fabric: str | None, active: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _call(server, "GET", "/clusters")
    return [
        c for c in found
        if (fabric is None or c["fabric"] == fabric) and (not active or c["status"] != "TERMINATED")
    ]  # fmt: skip


def show_clusters(found: list[dict[str, Any]], output: str) -> None:
    from dataflow_runner.cli.output import echo, print_json

    if output == "json":
        print_json(found)
        return
    if not found:
        echo("no clusters")
        return
    rows = [
        [c["id"], c["status"], c["fabric"], c["name"], f"{c['load']}/{c['capacity']}",
         " ".join(c["tags"])]
        for c in found
    ]  # fmt: skip
    header = ["CLUSTER", "STATUS", "FABRIC", "NAME", "LOAD", "TAGS"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def tag(server: str, cluster_id: str, *, add: list[str], remove: list[str]) -> list[str]:
    tags: list[str] = []
    if add:
        tags = _call(server, "POST", f"/clusters/{cluster_id}/tags", json={"tags": add})
    for one in remove:
        _call(server, "DELETE", f"/clusters/{cluster_id}/tags/{one}")
    if remove:
        tags = _call(server, "GET", f"/clusters/{cluster_id}/tags")
    return tags


def drain(
    server: str, source: str, target: str, *, terminate_when_idle: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    body = {"to": target, "terminateWhenIdle": terminate_when_idle}
    found = _call(server, "POST", f"/clusters/{source}/drain", json=body)
    return found[0], found[1]
