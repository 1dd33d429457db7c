"""The pages of schedules, driven in Debian's Chromium (Playwright, headless)
against the real server: a broken commit pushed shows its error on the
Deployments page while the old version keeps running; the Schedules page pauses
and triggers; the Partitions page draws the grid and backfills a selection.
Screenshots are written beside the test's files."""

# ruff: noqa: F811 - the deployment tests' fixtures, imported and used by name

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.server.conftest import Server, sh
from tests.server.schedule_helpers import Clock, ended_runs, eventually, put, scheduled
from tests.server.test_deploy import (  # noqa: F401 - fixtures
    PLAYBOOK,
    clock,
    commit,
    push,
    repo,
    server,
)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        yield launched
        launched.close()


def signed_in(browser: Browser, server: Server, target: str) -> Page:
    page = browser.new_page()
    page.goto(f"{server.url}/signin?next={target}")
    page.fill("#token", server.token or "")
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")
    return page


def test_a_broken_commit_shows_its_error_on_the_deployments_page(
    browser: Browser,
    server: Server,
    clock: Clock,
    repo: Path,
    tmp_path: Path,
) -> None:
    eventually(lambda: server.api.get("/api/v1/deployments").json() or None, "a deployment")
    broken = commit(repo, {"pipelines/minutely.yaml": PLAYBOOK.format(name="minutely",
                                                                      cron="61 * * * *")},
                    "a bad cron")  # fmt: skip
    assert push(server)["valid"] is False
    page = signed_in(browser, server, "/deployments")
    row = page.locator(f"tr[data-commit='{broken}']")
    expect(row).to_contain_text("invalid")
    expect(row).to_contain_text(
        "pipelines/minutely.yaml: $.data.schedule.cron: invalid cron expression '61 * * * *'"
    )
    expect(row).to_contain_text("the previous version keeps running")
    expect(page.locator("tr").nth(2)).to_contain_text("running")  # the first commit
    page.screenshot(path=str(tmp_path / "deployments.png"), full_page=True)
    # The old version keeps running.
    clock.set("2026-11-20T10:01:02Z")
    (run,) = ended_runs(server, "minutely", 1)
    assert run["state"] == "COMPLETED"

    # The Schedules page: the run's state; pause, then trigger by hand.
    page.goto(f"{server.url}/schedules")
    row = page.locator("tr[data-schedule='minutely']")
    expect(row).to_contain_text("COMPLETED")
    row.get_by_role("button", name="Pause").click()
    expect(page.locator("[role=status]")).to_contain_text("Schedule minutely paused.")
    expect(page.locator("tr[data-schedule='minutely']")).to_contain_text("paused")
    page.locator("tr[data-schedule='minutely']").get_by_role("button", name="Trigger").click()
    expect(page.locator("[role=status]")).to_contain_text("triggered: run")
    page.screenshot(path=str(tmp_path / "schedules.png"), full_page=True)
    ended_runs(server, "minutely", 2)


def test_the_partitions_page_shows_the_grid_and_backfills_a_selection(
    browser: Browser,
    server: Server,
    work: Path,
    tmp_path: Path,
) -> None:
    out = work / "out"
    book = scheduled(
        "hourly",
        {"cron": "0 * * * *"},
        [sh("make", f"mkdir -p {out}; echo x > {out}/{{{{.hour}}}}.txt",
            outputs=[f"{out}/{{{{.hour}}}}.txt"])],
        partitions={"every": "hour", "start": "2026-11-20T00:00Z"},
    )  # fmt: skip
    put(server, "hourly", book, work)
    out.mkdir()
    (out / "07.txt").write_text("x")  # one partition done already
    page = signed_in(browser, server, "/partitions/hourly?last=3")
    grid = page.locator("table.partitions")
    expect(grid).to_contain_text("2026-11-20T07:00:00Z")
    expect(grid.locator("tr", has_text="2026-11-20T07:00:00Z")).to_contain_text("done")
    expect(grid.locator("tr", has_text="2026-11-20T08:00:00Z")).to_contain_text("missing")
    page.check("input[value='2026-11-20T08:00:00Z']")
    page.click("text=Backfill selected")
    expect(page.locator("[role=status]")).to_contain_text("1 runs submitted.")
    eventually(lambda: (out / "08.txt").exists() or None, "the backfilled partition")
    page.reload()
    expect(page.locator("tr", has_text="2026-11-20T08:00:00Z")).to_contain_text("done")
    page.screenshot(path=str(tmp_path / "partitions.png"), full_page=True)
