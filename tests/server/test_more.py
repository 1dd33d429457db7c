"""The clusters the engine launched, with their active steps; a server that cannot
decrypt its store's requests; the auth dependencies on a page of the UI's kind (a
form with its CSRF field), served by the real uvicorn."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request

from dataflow_runner.server import auth
from tests.conftest import run_process
from tests.server.conftest import (
    PATIENCE,
    Server,
    cluster_doc,
    make_token,
    playbook_doc,
    sh,
    start_server,
)
from tests.servers import free_port


@pytest.fixture
def short_server(store_url: str | None) -> Iterator[Server]:
    """A server whose state directory has a short path: a local cluster's socket is
    in it, and a Unix socket's path is at most 107 bytes."""
    root = Path(tempfile.mkdtemp(prefix="dfr-"))
    state = root / "s"
    token = make_token(state, store_url, "root", "admin")
    running = start_server(state, store_url)
    running.token = token
    yield running
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_clusters_are_listed_with_the_steps_running_on_them(
    short_server: Server, work: Path
) -> None:
    server = short_server
    state = ["--state-dir", str(server.state_dir)] + (
        ["--store", server.store] if server.store else []
    )
    config, book = work / "cluster.json", work / "book.json"
    config.write_text(json.dumps(cluster_doc(work)))
    book.write_text(
        json.dumps(playbook_doc("held", [sh("hold", "while [ ! -e go ]; do sleep 0.05; done")]))
    )
    made = run_process("up", "--emr-config", str(config), *state)
    assert made.code == 0, made.err
    cluster_id = made.err.split("Jobflow ID: ")[1].split()[0].strip('"')
    follower = subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", "run", "--emr-playbook", str(book),
         "--emr-cluster", cluster_id, *state],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + PATIENCE
        while True:
            found = {c["id"]: c for c in server.api.get("/api/v1/clusters").json()}
            active = found.get(cluster_id, {}).get("activeSteps", [])
            if [s["stepId"] for s in active] == ["hold"]:
                break
            assert time.monotonic() < deadline, found
            time.sleep(0.1)
        assert found[cluster_id]["fabric"] == "local"
        assert found[cluster_id]["state"] in ("WAITING", "RUNNING")
        (work / "go").touch()
        assert follower.wait(PATIENCE) == 0, follower.stderr.read() if follower.stderr else ""
        while server.api.get("/api/v1/clusters").json()[0]["activeSteps"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        follower.kill()
        run_process("down", "--emr-config", str(config), "--emr-cluster", cluster_id, *state)


def test_a_server_with_another_key_leaves_the_runs_it_cannot_read_to_one_that_can(
    tmp_path: Path, work: Path
) -> None:
    state = tmp_path / "state"
    token = make_token(state, None, "root", "admin")
    first = start_server(state, workers=1)
    first.token = token
    hold = sh("hold", "echo x >> hold.count; while [ ! -e go ]; do sleep 0.05; done")
    busy = first.submit({"cluster": cluster_doc(work), "playbook": playbook_doc("a", [hold])})
    first.wait(busy, lambda r: bool(r["steps"]) and r["steps"][0]["state"] == "RUNNING")
    waiting = first.submit(
        {
            "cluster": cluster_doc(work),
            "playbook": playbook_doc("b", [sh("b", "echo x >> b.count")]),
        }
    )
    assert first.run(waiting)["state"] == "QUEUED"  # one worker, and it is busy
    first.stop(signal_kill())
    other_key = "aGVsbG8taGVsbG8taGVsbG8taGVsbG8taGVsbG8taGU="
    wrong = start_server(state, env={"DATAFLOW_RUNNER_SECRET_KEY": other_key})
    wrong.token = token
    try:
        deadline = time.monotonic() + PATIENCE
        while "takes no runs" not in wrong.output():
            assert time.monotonic() < deadline, wrong.output()
            time.sleep(0.1)
        time.sleep(1)  # a few more of its rounds: still nothing taken
        assert wrong.output().count("cannot decrypt") == 1
        assert wrong.run(waiting)["state"] == "QUEUED"
        assert wrong.run(busy)["state"] == "DEAD"
        shown = wrong.api.get("/api/v1/playbooks")
        assert shown.status_code == 200  # (none saved: nothing to decrypt)
    finally:
        wrong.stop()
    right = start_server(state)
    right.token = token
    try:
        (work / "go").touch()
        assert right.wait(busy)["state"] == "COMPLETED"
        assert right.wait(waiting)["state"] == "COMPLETED"
        assert (work / "hold.count").read_text() == "x\n"
        assert (work / "b.count").read_text() == "x\n"
    finally:
        right.stop()


def signal_kill() -> int:
    import signal

    return signal.SIGKILL


def test_a_ui_form_is_accepted_with_its_csrf_field_and_refused_without(tmp_path: Path) -> None:
    """A page's route declares ``Submitter`` as the API's do; a form posted with the
    session cookie must carry ``csrf_token`` (``auth.csrf_token`` gives it)."""
    import uvicorn

    from dataflow_runner.server.app import create_app
    from dataflow_runner.server.settings import ServerSettings

    state = tmp_path / "state"
    token = make_token(state, None, "ui", "submitter")
    viewer = make_token(state, None, "looker", "viewer")
    app = create_app(ServerSettings(state_dir=state, workers=1))
    page = APIRouter()

    @page.get("/ui/form")
    def form(who: auth.Caller) -> dict[str, str | None]:
        return {"csrf_token": auth.csrf_token(who)}

    @page.post("/ui/form")
    async def posted(request: Request, who: auth.Submitter) -> dict[str, str]:
        fields = await request.form()
        return {"by": who.name, "note": str(fields.get("note"))}

    app.include_router(page)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with httpx.Client(base_url=base) as browser:
            assert browser.post("/api/v1/session", json={"token": token}).status_code == 200
            got = browser.get("/ui/form")
            assert got.status_code == 200, got.text
            csrf = got.json()["csrf_token"]
            assert csrf
            refused = browser.post("/ui/form", data={"note": "hi"})
            # Outside /api/ an error is a page (the web UI's), with the same message.
            assert refused.status_code == 403
            assert "the request lacks the session&#39;s CSRF token" in refused.text
            posted_ok = browser.post("/ui/form", data={"note": "hi", "csrf_token": csrf})
            assert posted_ok.json() == {"by": "ui", "note": "hi"}
        with httpx.Client(base_url=base) as looker:
            assert looker.post("/api/v1/session", json={"token": viewer}).status_code == 200
            csrf = looker.get("/ui/form").json()["csrf_token"]
            forbidden = looker.post("/ui/form", data={"csrf_token": csrf})
            assert forbidden.status_code == 403 and "submitter" in forbidden.text
        # A bearer token needs no CSRF field (no cookie a page could ride on).
        bearer = httpx.post(f"{base}/ui/form", data={"note": "x"},
                            headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert bearer.json() == {"by": "ui", "note": "x"}
    finally:
        server.should_exit = True
        thread.join(30)


def test_a_nul_in_a_name_or_a_url_is_refused_not_a_server_error(server: Server) -> None:
    """No id or name holds a NUL, and PostgreSQL cannot even compare one: a URL
    holding it is a 400, a saved playbook's name holding it names none (404)."""
    for path in (
        "/api/v1/runs/r-%00",
        "/api/v1/playbooks/a%00b",
        "/api/v1/pools/p%00",
        "/api/v1/clusters/j-%00",
        "/api/v1/schedules/s%00",
        "/api/v3/jobs/x%00",
        "/api/v1/runs?playbook=a%00",
    ):
        got = server.api.get(path)
        assert got.status_code == 400, (path, got.text)
        assert got.json()["error"]["message"] == "the URL holds a NUL character (%00)"
    got = server.api.post("/api/v1/runs", json={"playbook": "a\u0000b"})
    assert got.status_code == 404, got.text
    assert got.json()["error"]["code"] == "not_found"
