"""The web UI, driven through Debian's Chromium (Playwright, headless, no browser
download) against the real server: sign in, run a saved playbook from its form,
watch the run complete on the Runs page without a reload, a failed step's log,
cancel (its processes gone), the 404 and 403 pages, the back button. Each page's
screenshot is written to ``test-artifacts/screenshots/``.

A missing Chromium or Playwright fails these tests (``/usr/bin/chromium`` is
launched as it is), never skips them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from dataflow_runner.server.ui.clusters import tags
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
from tests.store.conftest import PostgresServer

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WAIT_MS = int(PATIENCE * 1000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def store_url(request: pytest.FixtureRequest) -> str | None:
    """SQLite, unless a test asks for PostgreSQL too (``indirect`` parameters)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return None
    pg: PostgresServer = request.getfixturevalue("postgres_server")
    return pg.new_database()


@pytest.fixture
def ui(tmp_path: Path, store_url: str | None) -> Iterator[Server]:
    """A server with an admin (``server.token``), a submitter ``sam`` and a viewer
    ``val`` (``server.tokens``)."""
    state = tmp_path / "state"
    state.mkdir()
    token = make_token(state, store_url, "root", "admin")
    tokens = {
        "sam": make_token(state, store_url, "sam", "submitter"),
        "val": make_token(state, store_url, "val", "viewer"),
    }
    running = start_server(state, store_url)
    running.token = token
    running.tokens = tokens  # type: ignore[attr-defined]
    yield running
    running.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1366, "height": 850})
    made.set_default_timeout(WAIT_MS)
    yield made
    made.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, server: Server, token: str, start: str = "/runs") -> None:
    page.goto(server.url + start)
    assert "/signin" in page.url
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(re.escape(server.url + start) + "$"))


def token_of(server: Server, name: str) -> str:
    found: dict[str, str] = server.tokens  # type: ignore[attr-defined]
    return found[name]


def dag_book() -> dict[str, Any]:
    """extract → (clean, count) → report, greeting whoever ``who`` names."""
    book = playbook_doc(
        "nightly",
        [
            sh("extract", "echo hello {{.who}}; sleep 1"),
            sh("clean", "sleep 1", dependsOn=["extract"]),
            sh("count", "echo counted", dependsOn=["extract"]),
            sh("report", "echo report", dependsOn=["clean", "count"]),
        ],
    )
    book["schema"] = book["schema"].replace("1-0-0", "1-1-0")
    book["data"]["params"] = {"who": {"type": "string", "default": "world",
                                      "description": "who the first step greets"}}  # fmt: skip
    return book


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_sign_in_run_a_saved_playbook_and_watch_it_complete_live(
    ui: Server, context: BrowserContext, work: Path
) -> None:
    saved = {"playbook": dag_book(), "cluster": cluster_doc(work)}
    assert ui.api.put("/api/v1/playbooks/nightly", json=saved).status_code == 201

    page = context.new_page()
    page.goto(ui.url + "/runs")
    assert page.url == ui.url + "/signin?next=%2Fruns"  # a server with tokens
    shot(page, "signin")
    page.fill("#token", "dfr_not-a-token")
    page.click("button[type=submit]")
    expect(page.locator(".flash.bad")).to_contain_text("not valid")
    page.fill("#token", token_of(ui, "sam"))
    page.click("button[type=submit]")
    page.wait_for_url(ui.url + "/runs")
    expect(page.locator("header .who .name")).to_contain_text("sam")
    cookie = next(c for c in context.cookies() if c["name"] == "dfr_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and not cookie["secure"]

    # The Runs page, open in its own tab, marked: a reload would lose the mark.
    runs = context.new_page()
    runs.goto(ui.url + "/runs")
    runs.evaluate("window.notReloaded = true")

    page.click("header nav >> text=Playbooks")
    page.wait_for_url(ui.url + "/playbooks")
    shot(page, "playbooks")
    page.click("a >> text=nightly")
    page.wait_for_url(ui.url + "/playbooks/nightly")
    expect(page.locator("#var-who")).to_have_value("world")
    expect(page.locator("table.steps tbody tr")).to_have_count(4)
    shot(page, "playbook")
    page.fill("#var-who", "Ada")
    page.click("#run")
    page.wait_for_url(re.compile(r"/runs/r-[\w-]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("svg.dag .node")).to_have_count(4)

    row = runs.locator(f"tr[data-run='{run_id}']")
    expect(row).to_be_visible()  # the new run appeared, without a reload
    expect(row.locator(".badge")).to_have_text("COMPLETED")
    assert runs.evaluate("window.notReloaded") is True
    expect(row).to_contain_text("sam")
    shot(runs, "runs")

    # The run's own page follows it too.
    expect(page.locator("#run-state")).to_have_text("COMPLETED")
    expect(page.locator("svg.dag .node.st-COMPLETED")).to_have_count(4)
    expect(page.locator("svg.gantt rect.bar.st-COMPLETED")).to_have_count(4)
    # Layers by longest path: extract, then clean and count together, then report.
    xs = {n: float(page.locator(f"svg.dag .node[data-step='{n}'] rect").get_attribute("x") or 0)
          for n in ("extract", "clean", "count", "report")}  # fmt: skip
    assert xs["extract"] < xs["clean"] == xs["count"] < xs["report"]
    shot(page, "run-completed")
    page.click("#step-extract a.loglink")
    expect(page.locator("#log")).to_have_text("hello Ada\n")
    assert ui.run(run_id)["submittedBy"] == "sam"


LOAD = "echo loading; echo 'No such file or directory: /data/in.csv' >&2; exit 3"


def test_a_failed_steps_cause_and_log_are_one_click_from_its_run(
    ui: Server, context: BrowserContext, work: Path
) -> None:
    book = playbook_doc(
        "breaks",
        [
            sh("prepare", "echo ready"),
            sh(
                "load",
                "echo loading; echo 'No such file or directory: /data/in.csv' >&2; exit 3",
                dependsOn=["prepare"],
            ),
            sh("publish", "echo never", dependsOn=["load"]),
        ],
    )
    run_id = ui.submit({"cluster": cluster_doc(work), "playbook": book})
    assert ui.wait(run_id)["state"] == "FAILED"
    page = context.new_page()
    sign_in(page, ui, ui.token or "", f"/runs/{run_id}")
    expect(page.locator("#run-state")).to_have_text("FAILED")
    expect(page.locator("svg.dag .node[data-step='load']")).to_have_attribute(
        "data-state", "FAILED"
    )
    failed = page.locator("#step-load")
    expect(failed.locator(".badge")).to_have_text("FAILED")
    expect(failed.locator("td.num.bad")).to_have_text("3")  # the exit code
    expect(page.locator("#retry")).to_be_visible()  # an admin may retry it
    expect(page.locator("#cancel")).to_have_count(0)  # it ended
    shot(page, "run-failed")
    failed.locator("a.loglink").click()
    page.wait_for_url(re.compile(rf"/runs/{run_id}/steps/load/logs\?attempt=1$"))
    expect(page.locator("#log")).to_contain_text("No such file or directory: /data/in.csv")
    expect(page.locator(".logbar")).to_contain_text("Exit code 3")
    shot(page, "log")
    page.click("a.tab >> text=stdout")
    expect(page.locator("#log")).to_have_text("loading\n")
    page.go_back()
    page.go_back()
    page.wait_for_url(ui.url + f"/runs/{run_id}")
    page.click("#retry")
    page.wait_for_url(ui.url + f"/runs/{run_id}?done=retried")
    expect(page.locator(".flash.good")).to_contain_text("Retry queued")
    again = ui.wait(
        run_id, lambda r: len(r["steps"][1]["attempts"]) == 2 and r["state"] == "FAILED"
    )
    assert [a["attempt"] for a in again["steps"][1]["attempts"]] == [1, 2]
    assert (
        again["steps"][0]["attempts"][0]["attempt"] == 1 and len(again["steps"][0]["attempts"]) == 1
    )


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_submitter_cancels_its_running_run_and_its_processes_are_gone(
    ui: Server, context: BrowserContext, work: Path
) -> None:
    pid_file = work / "pid"
    book = playbook_doc("long", [sh("wait", f"echo $$ > {pid_file}; exec sleep 300")])
    sam = ui.client(token_of(ui, "sam"))
    run_id = ui.submit({"cluster": cluster_doc(work), "playbook": book}, client=sam)
    deadline = time.monotonic() + PATIENCE
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert not _pid_gone(pid)
    page = context.new_page()
    sign_in(page, ui, token_of(ui, "sam"), f"/runs/{run_id}")
    expect(page.locator("#run-state")).to_have_text("RUNNING")
    shot(page, "run-running")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#cancel")
    page.wait_for_url(ui.url + f"/runs/{run_id}?done=cancelled")
    expect(page.locator("#run-state")).to_have_text("CANCELLED")  # live, then ended
    assert ui.run(run_id)["state"] == "CANCELLED"
    deadline = time.monotonic() + PATIENCE
    while not _pid_gone(pid):
        assert time.monotonic() < deadline, f"process {pid} still there"
        time.sleep(0.05)


def test_a_viewer_sees_no_cancel_and_a_cancel_it_posts_is_refused(
    ui: Server, context: BrowserContext, work: Path
) -> None:
    book = playbook_doc("long", [sh("wait", "sleep 300")])
    run_id = ui.submit({"cluster": cluster_doc(work), "playbook": book})
    ui.wait(run_id, ("RUNNING",))
    page = context.new_page()
    sign_in(page, ui, token_of(ui, "val"), f"/runs/{run_id}")
    expect(page.locator("#run-state")).to_have_text("RUNNING")
    expect(page.locator("#cancel")).to_have_count(0)
    # The form posted anyway (with the viewer's own CSRF token): a page saying no.
    page.evaluate(
        """([runId, csrf]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = `/runs/${runId}/cancel`;
            form.innerHTML = `<input name="csrf_token" value="${csrf}">`;
            document.body.append(form);
            form.submit();
        }""",
        [run_id, page.locator("form[action='/signout'] input[name=csrf_token]").input_value()],
    )
    page.wait_for_url(ui.url + f"/runs/{run_id}/cancel")
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator(".text")).to_contain_text("val is a viewer")
    shot(page, "forbidden")
    assert ui.run(run_id)["state"] == "RUNNING"
    # A viewer has no Run form either.
    ui.api.put("/api/v1/playbooks/kept",
               json={"playbook": book, "cluster": cluster_doc(work)})  # fmt: skip
    page.goto(ui.url + "/playbooks/kept")
    expect(page.locator("#run-form")).to_have_count(0)
    ui.api.post(f"/api/v1/runs/{run_id}/cancel")


def test_a_missing_run_is_a_404_page_and_the_back_button_goes_back(
    ui: Server, context: BrowserContext, work: Path
) -> None:
    quick = playbook_doc("quick", [sh("a", "true")])
    done = ui.submit({"cluster": cluster_doc(work), "playbook": quick})
    failed = ui.submit({"cluster": cluster_doc(work),
                        "playbook": playbook_doc("bad", [sh("a", "exit 1")])})  # fmt: skip
    ui.wait(done), ui.wait(failed)
    page = context.new_page()
    sign_in(page, ui, token_of(ui, "val"))
    response = page.goto(ui.url + "/runs/r-20990101-000000-nothere")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("Not found")
    expect(page.locator(".text")).to_contain_text("no run 'r-20990101-000000-nothere'")
    shot(page, "not-found")

    page.goto(ui.url + "/runs")
    expect(page.locator("tbody tr[data-run]")).to_have_count(2)
    page.select_option("select[name=state]", "FAILED")
    page.click("form.filters button")
    page.wait_for_url(ui.url + "/runs?state=FAILED&playbook=&partition=")
    expect(page.locator("tbody tr[data-run]")).to_have_count(1)
    page.click(f"a >> text={failed}")
    page.wait_for_url(ui.url + f"/runs/{failed}")
    page.go_back()
    page.wait_for_url(ui.url + "/runs?state=FAILED&playbook=&partition=")
    expect(page.locator("tbody tr[data-run]")).to_have_count(1)
    expect(page.locator("select[name=state]")).to_have_value("FAILED")
    page.go_back()
    page.wait_for_url(ui.url + "/runs")
    expect(page.locator("tbody tr[data-run]")).to_have_count(2)
    page.go_forward()
    page.wait_for_url(ui.url + "/runs?state=FAILED&playbook=&partition=")


def test_the_clusters_page_shows_a_cluster_its_tags_and_its_active_step(
    context: BrowserContext, work: Path
) -> None:
    # A short state directory: a local cluster's socket is in it (at most 107 bytes).
    root = Path(tempfile.mkdtemp(prefix="dfr-"))
    server = start_server(root / "s")
    state = ["--state-dir", str(server.state_dir)]
    config, book = work / "cluster.json", work / "book.json"
    config.write_text(json.dumps(cluster_doc(work)))
    held = playbook_doc("held", [sh("hold", "while [ ! -e go ]; do sleep 0.05; done")])
    book.write_text(json.dumps(held))
    made = run_process("up", "--emr-config", str(config), *state)
    assert made.code == 0, made.err
    cluster_id = made.err.split("Jobflow ID: ")[1].split()[0].strip('"')
    follower = subprocess.Popen(
        [sys.executable, "-m", "dataflow_runner", "run", "--emr-playbook", str(book),
         "--emr-cluster", cluster_id, *state],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy(),
    )  # fmt: skip
    try:
        page = context.new_page()
        page.goto(server.url + "/runs")  # no tokens: a loopback client needs no sign-in
        page.click("header nav >> text=Clusters")
        page.wait_for_url(server.url + "/clusters")
        row = page.locator(f"tr[data-cluster='{cluster_id}']")
        expect(row.locator("td").nth(1)).to_have_text("local")
        expect(row.locator("td").nth(2)).to_contain_text(re.compile("WAITING|RUNNING"))
        deadline = time.monotonic() + PATIENCE
        while "hold" not in (row.locator("td").nth(4).text_content() or ""):
            assert time.monotonic() < deadline, "the active step never showed"
            page.reload()
        shot(page, "clusters")
        (work / "go").touch()
        assert follower.wait(PATIENCE) == 0
    finally:
        follower.kill()
        run_process("down", "--emr-config", str(config), "--emr-cluster", cluster_id, *state)
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_a_clusters_tags_are_read_from_its_data_or_its_fabrics_section() -> None:
    doc = {"schema": "x", "data": {"name": "c", "cloud": {"tags": [
        {"key": "team", "value": "data"}, {"key": "adhoc"}]}}}  # fmt: skip
    assert tags(doc) == ["team=data", "adhoc"]
    assert tags({"data": {"tags": [{"key": "k", "value": "v"}], "local": {}}}) == ["k=v"]
    assert tags({"data": {"name": "bare"}}) == []


def test_a_running_steps_log_is_followed_as_it_grows(
    ui: Server, context: BrowserContext, work: Path
) -> None:
    script = "echo first; while [ ! -e go ]; do sleep 0.05; done; echo second; echo third >&2"
    run_id = ui.submit({"cluster": cluster_doc(work), "playbook": playbook_doc(
        "grows", [sh("talk", script)])})  # fmt: skip
    ui.wait(run_id, lambda r: bool(r["steps"]) and r["steps"][0]["state"] == "RUNNING")
    page = context.new_page()
    sign_in(page, ui, ui.token or "", f"/runs/{run_id}")
    page.click("#step-talk a.loglink")
    page.click("#follow")
    page.wait_for_url(re.compile(r"/logs\?attempt=1&follow=1$"))
    expect(page.locator("#log")).to_have_text("first\n")
    expect(page.locator("#follow-state")).to_have_text("live")
    page.evaluate("window.notReloaded = true")
    (work / "go").touch()
    expect(page.locator("#follow-state")).to_have_text("the attempt ended")
    expect(page.locator("#log")).to_have_text("first\nsecond\nthird\n")
    assert page.evaluate("window.notReloaded") is True
    shot(page, "log-followed")
