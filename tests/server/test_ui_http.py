"""The web UI over plain HTTP (httpx against the real server): the sign-in page and
its session cookie's attributes, the redirect of a page without a session, a
form's CSRF token refused when missing or wrong, a loopback server's forms
refused from another site, and secrets masked in the pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import Server, cluster_doc, make_token, playbook_doc, sh, start_server


@pytest.fixture
def store_url() -> None:
    """These tests' server: SQLite (``test_ui.py`` runs one on PostgreSQL)."""
    return


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[Server]:
    """A server without tokens: its loopback clients need no sign-in."""
    running = start_server(tmp_path / "loopback")
    yield running
    running.stop()


def browser(server: Server, token: str | None = None) -> httpx.Client:
    """A client keeping cookies like a browser, signed in with ``token``."""
    made = server.client(token="", follow_redirects=False)
    if token is not None:
        signed = made.post("/signin", data={"token": token, "next": "/runs"})
        assert signed.status_code == 303, signed.text
    return made


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def test_pages_need_a_session_and_the_session_cookie_is_httponly_and_strict(
    server: Server,
) -> None:
    anon = browser(server)
    page = anon.get("/runs", params={"state": "FAILED"})
    assert page.status_code == 303
    assert page.headers["location"] == "/signin?next=%2Fruns%3Fstate%3DFAILED"
    # The live table of a page asks htmx for the whole sign-in page instead.
    fragment = anon.get("/fragments/runs", headers={"HX-Request": "true",
                        "HX-Current-URL": f"{server.url}/runs?state=FAILED"})  # fmt: skip
    assert fragment.headers["hx-redirect"] == "/signin?next=%2Fruns%3Fstate%3DFAILED"
    assert anon.get("/api/v1/runs").status_code == 401  # the API's errors stay JSON
    assert anon.get("/api/v1/runs").json()["error"]["code"] == "unauthorized"

    form = anon.get("/signin?next=/runs")
    assert form.status_code == 200 and 'name="token"' in form.text
    wrong = anon.post("/signin", data={"token": "dfr_wrong", "next": "/runs"})
    assert wrong.status_code == 401 and "not valid" in wrong.text
    assert "dfr_session" not in wrong.headers.get("set-cookie", "")

    signed = anon.post("/signin", data={"token": server.token, "next": "/runs?state=FAILED"})
    assert signed.status_code == 303 and signed.headers["location"] == "/runs?state=FAILED"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("dfr_session=")
    attributes = {a.strip().split("=")[0].lower(): a for a in cookie.split(";")[1:]}
    assert "httponly" in attributes and "secure" not in attributes  # plain HTTP here
    assert attributes["samesite"].strip().lower() == "samesite=strict"
    assert attributes["path"].strip() == "Path=/"
    runs = anon.get("/runs")
    assert runs.status_code == 200 and "root" in runs.text

    # Behind a proxy that speaks HTTPS (uvicorn trusts loopback's X-Forwarded-Proto).
    secure = browser(server).post(
        "/signin", data={"token": server.token}, headers={"X-Forwarded-Proto": "https"}
    )
    assert "secure" in secure.headers["set-cookie"].lower()

    # Only this server's paths are followed after signing in.
    away = browser(server).post("/signin", data={"token": server.token, "next": "//evil.test/"})
    assert away.headers["location"] == "/runs"

    # Signing out needs the CSRF token, and ends the session.
    assert anon.post("/signout").status_code == 403
    out = anon.post("/signout", data={"csrf_token": csrf_of(runs.text)})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    assert anon.get("/runs").status_code == 303


def test_a_cancel_form_without_or_with_a_wrong_csrf_token_is_refused(
    server: Server, work: Path
) -> None:
    book = playbook_doc("long", [sh("wait", "sleep 300")])
    run_id = server.submit({"cluster": cluster_doc(work), "playbook": book})
    server.wait(run_id, ("RUNNING",))
    admin = browser(server, server.token)
    page = admin.get(f"/runs/{run_id}")
    assert page.status_code == 200 and 'id="cancel"' in page.text
    token = csrf_of(page.text)
    for data in ({}, {"csrf_token": "0" * 64}, {"csrf_token": ""}):
        refused = admin.post(f"/runs/{run_id}/cancel", data=data)
        assert refused.status_code == 403, (data, refused.text)
        assert "CSRF token" in refused.text and "<h1>Not allowed</h1>" in refused.text
    assert server.run(run_id)["state"] == "RUNNING"
    # Another session's token is no better.
    other = browser(server, server.token)
    theirs = csrf_of(other.get(f"/runs/{run_id}").text)
    assert theirs != token
    assert admin.post(f"/runs/{run_id}/cancel", data={"csrf_token": theirs}).status_code == 403
    done = admin.post(f"/runs/{run_id}/cancel", data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == f"/runs/{run_id}?done=cancelled"
    assert server.wait(run_id)["state"] == "CANCELLED"
    # An ended run: a page saying why, not a traceback.
    again = admin.post(f"/runs/{run_id}/cancel", data={"csrf_token": token})
    assert again.status_code == 409 and "already ended" in again.text


def test_a_submitter_may_not_change_another_ones_run(server: Server, work: Path) -> None:
    book = playbook_doc("long", [sh("wait", "sleep 300")])
    run_id = server.submit({"cluster": cluster_doc(work), "playbook": book})
    server.wait(run_id, ("RUNNING",))
    sam = browser(server, make_token(server.state_dir, server.store, "sam", "submitter"))
    page = sam.get(f"/runs/{run_id}")
    assert page.status_code == 200 and 'id="cancel"' not in page.text
    refused = sam.post(f"/runs/{run_id}/cancel", data={"csrf_token": csrf_of(page.text)})
    assert (
        refused.status_code == 403 and "sam may change only the runs it submitted" in refused.text
    )
    assert server.run(run_id)["state"] == "RUNNING"
    server.api.post(f"/api/v1/runs/{run_id}/cancel")


def test_a_loopback_server_needs_no_sign_in_and_refuses_forms_from_other_sites(
    loopback: Server, work: Path
) -> None:
    book = playbook_doc("long", [sh("wait", "sleep 300")])
    run_id = loopback.submit({"cluster": cluster_doc(work), "playbook": book})
    loopback.wait(run_id, ("RUNNING",))
    me = browser(loopback)
    page = me.get(f"/runs/{run_id}")
    assert page.status_code == 200 and 'id="cancel"' in page.text and "loopback" in page.text
    assert "no tokens" in me.get("/signin").text
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.test"}):
        refused = me.post(f"/runs/{run_id}/cancel", headers=headers)
        assert refused.status_code == 403 and "was not sent from this server" in refused.text
    assert loopback.run(run_id)["state"] == "RUNNING"
    done = me.post(f"/runs/{run_id}/cancel",
                   headers={"Sec-Fetch-Site": "same-origin", "Origin": loopback.url})  # fmt: skip
    assert done.status_code == 303
    assert loopback.wait(run_id)["state"] == "CANCELLED"


def test_secrets_are_masked_in_the_pages(server: Server, work: Path) -> None:
    secret = "hunter2-hunter2-hunter2"
    book = playbook_doc("leaky", [sh("say", "echo the password is {{.db_password}}")])
    body = {"cluster": cluster_doc(work), "playbook": book, "vars": {"db_password": secret}}
    run_id = server.submit(body)
    assert server.wait(run_id)["state"] == "COMPLETED"
    kept = {"playbook": book, "cluster": cluster_doc(work), "vars": {"db_password": secret}}
    assert server.api.put("/api/v1/playbooks/leaky", json=kept).status_code == 201
    admin = browser(server, server.token)
    for path in (f"/runs/{run_id}", f"/runs/{run_id}/steps/say/logs", "/runs",
                 "/fragments/runs", "/playbooks", "/playbooks/leaky"):  # fmt: skip
        page = admin.get(path)
        assert page.status_code == 200, (path, page.text)
        assert secret not in page.text, path
    log = admin.get(f"/runs/{run_id}/steps/say/logs").text
    assert "the password is ***" in log
    # The saved secret is no form's value: an empty field keeps it.
    form = admin.get("/playbooks/leaky").text
    field = re.search(r'<input id="var-db_password"[^>]*>', form)
    assert field and 'value=""' in field.group(0) and 'type="password"' in field.group(0), form
