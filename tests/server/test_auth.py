"""Who may do what: every role's allowed and forbidden calls (table-driven),
revoked tokens, the UI's session cookie and its CSRF token, and a server without
tokens (loopback clients only; another address refused unless --insecure)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_process
from tests.server.conftest import Server, cluster_doc, make_token, playbook_doc, sh, start_server

ROLES = ("viewer", "submitter", "admin")


def _calls(server: Server, work: Path) -> list[tuple[str, str, dict[str, Any], tuple[int, ...]]]:
    """(method, path, request, the status for viewer, submitter, admin)."""
    admin = server.api
    long = playbook_doc("long", [sh("wait", "sleep 300")])
    theirs = server.submit({"cluster": cluster_doc(work), "playbook": long})
    failed = server.submit(
        {"cluster": cluster_doc(work), "playbook": playbook_doc("f", [sh("a", "exit 1")])}
    )
    server.wait(failed)
    saved = {"playbook": playbook_doc("kept", [sh("a", "true")]), "cluster": cluster_doc(work)}
    assert admin.put("/api/v1/playbooks/kept", json=saved).status_code == 201
    quick = {"cluster": cluster_doc(work), "playbook": playbook_doc("q", [sh("a", "true")])}
    return [
        ("GET", "/api/v1/runs", {}, (200, 200, 200)),
        ("GET", f"/api/v1/runs/{failed}", {}, (200, 200, 200)),
        ("GET", f"/api/v1/runs/{failed}/steps", {}, (200, 200, 200)),
        ("GET", f"/api/v1/runs/{failed}/steps/a/logs", {}, (200, 200, 200)),
        ("GET", "/api/v1/clusters", {}, (200, 200, 200)),
        ("GET", "/api/v1/metrics", {}, (200, 200, 200)),
        ("GET", "/api/v1/playbooks", {}, (200, 200, 200)),
        ("GET", "/api/v1/playbooks/kept", {}, (200, 200, 200)),
        ("GET", "/api/v1/session", {}, (200, 200, 200)),
        ("POST", "/api/v1/runs", {"json": quick}, (403, 202, 202)),
        ("POST", "/api/v1/playbooks/kept/runs", {"json": {}}, (403, 202, 202)),
        # Someone else's runs: only an admin changes them.
        ("POST", f"/api/v1/runs/{failed}/retry", {}, (403, 403, 202)),
        ("POST", f"/api/v1/runs/{theirs}/cancel", {}, (403, 403, 202)),
        ("PUT", "/api/v1/playbooks/other", {"json": saved}, (403, 403, 201)),
        ("DELETE", "/api/v1/playbooks/other", {}, (403, 403, 204)),
        ("GET", "/api/v1/tokens", {}, (403, 403, 200)),
        ("POST", "/api/v1/tokens", {"json": {"name": "made", "role": "viewer"}}, (403, 403, 201)),
        ("DELETE", "/api/v1/tokens/made", {}, (403, 403, 204)),
    ]


def test_each_role_may_make_its_calls_and_is_refused_the_others(server: Server, work: Path) -> None:
    tokens = {role: make_token(server.state_dir, server.store, f"a-{role}", role)
              for role in ROLES}  # fmt: skip
    tokens["admin"] = server.token or ""
    calls = _calls(server, work)
    nobody = server.client(token="")
    for method, path, request, statuses in calls:
        # Without a token (tokens exist): 401, whatever the call.
        response = nobody.request(method, path, **request)
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
        for role, expected in zip(ROLES, statuses, strict=True):
            response = server.client(tokens[role]).request(method, path, **request)
            assert response.status_code == expected, (role, method, path, response.text)
            if expected == 403:
                assert response.json()["error"]["code"] == "forbidden"
    assert nobody.get("/api/v1/healthz").status_code == 200  # a probe needs no token
    assert nobody.get("/openapi.json").status_code == 200


def test_a_submitter_cancels_and_retries_its_own_runs(server: Server, work: Path) -> None:
    mine = server.client(make_token(server.state_dir, server.store, "me", "submitter"))
    run_id = server.submit(
        {"cluster": cluster_doc(work), "playbook": playbook_doc("m", [sh("w", "sleep 300")])},
        mine,
    )
    assert server.run(run_id)["submittedBy"] == "me"
    server.wait(run_id, lambda r: r["steps"] and r["steps"][0]["state"] == "RUNNING")
    assert mine.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    assert server.wait(run_id)["state"] == "CANCELLED"
    assert mine.post(f"/api/v1/runs/{run_id}/retry").status_code == 202
    assert mine.post(f"/api/v1/runs/{run_id}/cancel").status_code == 202
    assert server.wait(run_id)["state"] == "CANCELLED"


def test_a_revoked_token_is_refused(server: Server) -> None:
    made = run_process(
        "tokens", "create", "--name", "ci", "--role", "viewer", "--state-dir",
        str(server.state_dir), *(["--store", server.store] if server.store else []),
    )  # fmt: skip
    assert made.code == 0, made.err
    token = made.out.strip()
    assert token.startswith("dfr_") and "\n" not in token
    assert token not in run_process(
        "tokens", "list", "--state-dir", str(server.state_dir),
        *(["--store", server.store] if server.store else []),
    ).out  # fmt: skip
    client = server.client(token)
    assert client.get("/api/v1/runs").status_code == 200
    revoked = run_process(
        "tokens", "revoke", "ci", "--state-dir", str(server.state_dir),
        *(["--store", server.store] if server.store else []),
    )  # fmt: skip
    assert revoked.code == 0, revoked.err
    response = client.get("/api/v1/runs")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    # Its name may be given again; the old token stays refused.
    assert make_token(server.state_dir, server.store, "ci", "viewer") != token
    assert client.get("/api/v1/runs").status_code == 401
    forged = server.client(token[:-4] + "AAAA")
    assert forged.get("/api/v1/runs").status_code == 401
    assert server.client("not-even-a-token").get("/api/v1/runs").status_code == 401
    basic = server.client(token="")
    assert basic.get("/api/v1/runs", headers={"Authorization": "Basic eDp5"}).status_code == 401


def test_the_ui_session_cookie_needs_the_csrf_token_to_change_anything(
    server: Server, work: Path
) -> None:
    token = make_token(server.state_dir, server.store, "ui", "submitter")
    browser = server.client(token="")
    signed = browser.post("/api/v1/session", json={"token": token})
    assert signed.status_code == 200
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    csrf = signed.json()["csrf"]
    assert signed.json()["role"] == "submitter"
    assert browser.get("/api/v1/runs").status_code == 200
    assert browser.get("/api/v1/session").json()["csrf"] == csrf
    body = {"cluster": cluster_doc(work), "playbook": playbook_doc("ui", [sh("a", "true")])}
    refused = browser.post("/api/v1/runs", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf"
    wrong = browser.post("/api/v1/runs", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    assert (
        browser.post("/api/v1/runs", json=body, headers={"X-CSRF-Token": csrf}).status_code == 202
    )
    # A form carries it as a field.
    assert browser.request("DELETE", "/api/v1/session", data={"csrf_token": "x"}).status_code == 403
    out = browser.request("DELETE", "/api/v1/session", data={"csrf_token": csrf})
    assert out.status_code == 204
    assert browser.get("/api/v1/runs").status_code == 401  # the cookie is gone
    # A session ends with its token.
    again = server.client(token="")
    assert again.post("/api/v1/session", json={"token": token}).status_code == 200
    assert server.api.delete("/api/v1/tokens/ui").status_code == 204
    assert again.get("/api/v1/runs").status_code == 401
    tampered = server.client(token="", cookies={"dfr_session": "x.y.z"})
    assert tampered.get("/api/v1/runs").status_code == 401


def test_without_tokens_a_server_takes_loopback_clients_only(tmp_path: Path) -> None:
    server = start_server(tmp_path / "state")
    try:
        assert "taking loopback clients only" in server.output()
        response = server.client(token="").get("/api/v1/session")
        assert response.json() == {"name": "loopback", "role": "admin", "csrf": None}
    finally:
        assert server.stop() == 0
    refused = subprocess.run(
        [sys.executable, "-m", "dataflow_runner", "server", "--host", "0.0.0.0", "--port", "0",
         "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "--host 0.0.0.0: this server has no tokens" in refused.stderr
    assert "--insecure" in refused.stderr


@pytest.mark.parametrize("header", ["Bearer", "Token abc", "Bearer x y"])
def test_a_malformed_authorization_header_is_a_401(tmp_path: Path, header: str) -> None:
    server = start_server(tmp_path / "state")
    try:
        response = httpx.get(
            f"{server.url}/api/v1/runs", headers={"Authorization": header}, timeout=10
        )
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    finally:
        server.stop()
