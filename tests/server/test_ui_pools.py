"""The Pools page and the Clusters page's registry forms, driven through Debian's
Chromium (Playwright, headless) against the real server with a size class (a
local cluster config): an admin creates a pool from the form (its problems shown
first), sees its cluster come up without a reload, runs a saved playbook that
names the pool from its Run form, moves a tag between two clusters, and deletes
the pool, whose cluster ends. A viewer sees none of the forms, and a form it
posts anyway is refused with the 403 page.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.conftest import run_process
from tests.server import test_ui
from tests.server.conftest import (
    PATIENCE,
    Server,
    cluster_doc,
    make_token,
    playbook_doc,
    sh,
    start_server,
)
from tests.server.test_ui import shot, sign_in

#: Chromium and a page's context, as the UI's other tests have them.
browser = test_ui.browser
context = test_ui.context

POOL = {"sizeClass": "small", "tags": ["team:data"], "minClusters": 1, "maxClusters": 2,
        "maxStepsPerCluster": 2, "idleMinutes": 5}  # fmt: skip


@pytest.fixture
def pools_ui(tmp_path: Path, work: Path) -> Iterator[Server]:
    """A server (SQLite) whose size class ``small`` is a local cluster config, with
    an admin (``server.token``) and a viewer ``val`` (``server.tokens``)."""
    (tmp_path / "small.json").write_text(json.dumps(cluster_doc(work, concurrency=2)))
    sizes = tmp_path / "sizes.yaml"
    sizes.write_text("small: small.json\n")
    # A short state directory: a local cluster's socket lives there.
    root = Path(tempfile.mkdtemp(prefix="dfr-pui-", dir="/tmp"))
    state = root / "s"
    state.mkdir()
    token = make_token(state, None, "root", "admin")
    running = start_server(state, None, args=("--size-classes", str(sizes)))
    running.token = token
    running.tokens = {"val": make_token(state, None, "val", "viewer")}  # type: ignore[attr-defined]
    yield running
    api = running.api
    for pool in api.get("/api/v1/pools").json():
        api.delete(f"/api/v1/pools/{pool['name']}")
    _until(lambda: api.get("/api/v1/pools").json() == [], "the pools were never gone")
    running.stop()
    shutil.rmtree(root, ignore_errors=True)


def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _cluster(api: httpx.Client, cluster_id: str) -> dict[str, Any]:
    found = api.get(f"/api/v1/clusters/{cluster_id}")
    assert found.status_code == 200, found.text
    shown: dict[str, Any] = found.json()
    return shown


def _pool_clusters(api: httpx.Client, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.get(f"/api/v1/pools/{name}").json()["clusters"]
    return found


def _csrf(page: Page) -> str:
    return page.locator("form[action='/signout'] input[name=csrf_token]").input_value()


def _post(page: Page, action: str, fields: dict[str, str]) -> None:
    """A form posted as a page would (the caller's own CSRF token included)."""
    page.evaluate(
        """([action, fields]) => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = action;
            for (const [name, value] of Object.entries(fields)) {
                const input = document.createElement('input');
                input.name = name;
                input.value = value;
                form.append(input);
            }
            document.body.append(form);
            form.submit();
        }""",
        [action, {"csrf_token": _csrf(page), **fields}],
    )


def test_an_admin_creates_a_pool_runs_on_it_moves_a_tag_and_deletes_it(
    pools_ui: Server,
    context: BrowserContext,
    work: Path,
) -> None:
    server, api = pools_ui, pools_ui.api
    page = context.new_page()
    sign_in(page, server, server.token or "", "/pools")
    expect(page.locator("header nav a.current")).to_have_text("Pools")
    expect(page.locator("#pool-size option")).to_have_text(["none (a cluster config below)",
                                                            "small"])  # fmt: skip

    # A form with problems comes back with each one and what was typed; nothing is made.
    page.fill("#pool-name", "etl")
    page.fill("#pool-cluster", "data: {name: adhoc}")  # YAML, with no schema
    with page.expect_navigation() as sent:
        page.click("#create-pool")
    assert sent.value is not None and sent.value.status == 422
    expect(page.locator(".flash.bad li")).to_have_text(
        [re.compile(r"^pool: \$\.cluster\.schema: a value is required")]
    )
    expect(page.locator("#pool-cluster")).to_have_value("data: {name: adhoc}")
    page.fill("#pool-cluster", "")
    page.select_option("#pool-size", "small")
    page.fill("#pool-tags", "team:data")
    page.fill("#pool-min", "3")
    page.fill("#pool-max", "2")
    page.fill("#pool-idle", "soon")
    with page.expect_navigation() as sent:
        page.click("#create-pool")
    assert sent.value is not None and sent.value.status == 422
    problems = page.locator(".flash.bad li")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("$.minClusters: 3 is more than maxClusters (2)")
    expect(problems.nth(1)).to_contain_text(
        '$.idleMinutes: expected minutes (0 or more), got "soon"'
    )
    expect(page.locator("#pool-max")).to_have_value("2")
    expect(page.locator("#pool-tags")).to_have_value("team:data")
    assert api.get("/api/v1/pools").json() == []

    page.fill("#pool-min", "1")
    page.fill("#pool-steps", "2")
    page.fill("#pool-idle", "5")
    page.click("#create-pool")
    page.wait_for_url(re.compile(r"/pools\?done="))
    expect(page.locator(".notice")).to_have_text("Pool etl created.")
    made = api.get("/api/v1/pools/etl").json()
    assert {k: made[k] for k in POOL} == {**POOL, "idleMinutes": 5.0}
    assert made["fabric"] == "local" and made["updatedBy"] == "root"

    # Its cluster comes up on the page, without a reload (htmx polls the table).
    page.evaluate("window.notReloaded = true")
    row = page.locator("tr[data-pool='etl']")
    expect(row.locator(".pool-state")).to_have_text("ACTIVE")
    expect(row.locator(".pool-cluster .badge")).to_have_text(re.compile("^(WAITING|RUNNING)$"))
    assert page.evaluate("window.notReloaded") is True
    pool_cluster = _pool_clusters(api, "etl")[0]["id"]
    expect(row.locator(f".pool-cluster[data-cluster='{pool_cluster}']")).to_be_visible()
    shot(page, "pools")

    # A saved playbook that names the pool, run from its Run form.
    saved = api.put("/api/v1/playbooks/nightly", json={
        "playbook": playbook_doc("nightly", [sh("a", f"echo ok >> {work}/nightly")]),
        "pool": "etl"})  # fmt: skip
    assert saved.status_code == 201, saved.text
    page.goto(server.url + "/playbooks/nightly")
    expect(page.locator("dl.facts")).to_contain_text("pool etl")
    page.click("#run")
    page.wait_for_url(re.compile(r"/runs/r-[\w-]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#run-state")).to_have_text("COMPLETED")
    assert server.run(run_id)["clusterId"] == pool_cluster
    assert (work / "nightly").read_text() == "ok\n"

    # A second cluster (``up``'s), then a tag added to the pool's and moved to it.
    config = work / "other.json"
    config.write_text(json.dumps(cluster_doc(work)))
    state = ["--state-dir", str(server.state_dir)]
    up = run_process("up", "--emr-config", str(config), *state)
    assert up.code == 0, up.err
    other = up.err.split("Jobflow ID: ")[1].split()[0].strip('"')
    try:
        page.click("header nav >> text=Clusters")
        page.wait_for_url(server.url + "/clusters")
        source = page.locator(f"tr[data-cluster='{pool_cluster}']")
        target = page.locator(f"tr[data-cluster='{other}']")
        expect(source.locator("td").nth(6)).to_contain_text("etl")  # its pool
        expect(source).to_have_attribute("data-status", "UP")
        source.locator("form.add-tag input[name=tag]").fill("owner:ada")
        source.locator("form.add-tag button").click()
        page.wait_for_url(re.compile(r"/clusters\?done="))
        assert _cluster(api, pool_cluster)["tags"] == ["team:data", "owner:ada"]
        expect(source.locator(".cluster-tags .tag")).to_have_text(["team:data×", "owner:ada×"])

        source.locator("form.move-tag select[name=tag]").select_option("owner:ada")
        source.locator("form.move-tag select[name=to]").select_option(other)
        source.locator("form.move-tag button").click()
        page.wait_for_url(re.compile(r"/clusters\?done="))
        expect(page.locator(".notice")).to_contain_text(
            f"Tag owner:ada moved from cluster {pool_cluster} to {other}."
        )
        assert _cluster(api, pool_cluster)["tags"] == ["team:data"]
        assert _cluster(api, other)["tags"] == ["owner:ada"]
        expect(target.locator(".cluster-tags .tag[data-tag='owner:ada']")).to_be_visible()
        # The registry's tag filter (what routing reads) finds the other one only.
        carrying = api.get("/api/v1/clusters", params={"tag": "owner:ada"}).json()
        assert [c["id"] for c in carrying] == [other]

        target.locator("form.set-status button").click()
        page.wait_for_url(re.compile(r"/clusters\?done="))
        assert _cluster(api, other)["status"] == "OUT_OF_SERVICE"
        expect(target).to_have_attribute("data-status", "OUT_OF_SERVICE")
        shot(page, "clusters-tags")
        target.locator(".tag[data-tag='owner:ada'] button.untag").click()
        page.wait_for_url(re.compile(r"/clusters\?done="))
        assert _cluster(api, other)["tags"] == []
        expect(target.locator(".cluster-tags .tag")).to_have_count(0)
        target.locator("form.set-status button").click()
        page.wait_for_url(re.compile(r"/clusters\?done="))
        assert _cluster(api, other)["status"] == "UP"
    finally:
        run_process("down", "--emr-config", str(config), "--emr-cluster", other, *state)

    # Deleting the pool: DELETING, its cluster ends, then it is gone from the page.
    page.click("header nav >> text=Pools")
    page.wait_for_url(server.url + "/pools")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr[data-pool='etl'] button.delete-pool").click()
    page.wait_for_url(re.compile(r"/pools\?done="))
    expect(page.locator(".notice")).to_contain_text("Pool etl is being deleted")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("tr[data-pool='etl']")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    assert api.get("/api/v1/pools/etl").status_code == 404
    _until(lambda: _cluster(api, pool_cluster)["status"] == "TERMINATED",
           "the pool's cluster never ended")  # fmt: skip
    expect(page.locator("tbody td.empty")).to_contain_text("No pools yet")


def test_a_viewer_sees_no_pool_or_tag_forms_and_one_it_posts_is_refused(
    pools_ui: Server,
    context: BrowserContext,
) -> None:
    server, api = pools_ui, pools_ui.api
    assert api.put("/api/v1/pools/etl", json=POOL).status_code == 201
    _until(lambda: any(c["state"] in ("WAITING", "RUNNING") for c in _pool_clusters(api, "etl")),
           "the pool's cluster never came up")  # fmt: skip
    cluster_id = _pool_clusters(api, "etl")[0]["id"]
    page = context.new_page()
    sign_in(page, server, server.tokens["val"], "/pools")  # type: ignore[attr-defined]
    expect(page.locator("tr[data-pool='etl'] .pool-cluster .badge")).to_have_text(
        re.compile("WAITING|RUNNING")
    )
    expect(page.locator("#pool-form")).to_have_count(0)
    expect(page.locator("button.delete-pool")).to_have_count(0)
    page.goto(server.url + "/clusters")
    expect(page.locator(f"tr[data-cluster='{cluster_id}'] .tag")).to_have_text(["team:data"])
    expect(page.locator("form[action^='/clusters/']")).to_have_count(0)
    expect(page.locator("button.untag")).to_have_count(0)

    # Posted anyway, with the viewer's own CSRF token: the 403 page, nothing changed.
    for action, fields in (
        ("/pools", {"name": "mine", "sizeClass": "small"}),
        ("/pools/etl/delete", {}),
        (f"/clusters/{cluster_id}/tags/add", {"tag": "owner:val"}),
        (f"/clusters/{cluster_id}/tags/remove", {"tag": "team:data"}),
        (f"/clusters/{cluster_id}/status", {"status": "OUT_OF_SERVICE"}),
    ):
        with page.expect_navigation() as sent:
            _post(page, action, fields)
        assert sent.value is not None and sent.value.status == 403, action
        expect(page.locator("h1")).to_have_text("Not allowed")
        expect(page.locator(".text")).to_contain_text("val is a viewer")
        page.go_back()
    assert [p["name"] for p in api.get("/api/v1/pools").json()] == ["etl"]
    assert api.get("/api/v1/pools/etl").json()["state"] == "ACTIVE"
    found = _cluster(api, cluster_id)
    assert found["tags"] == ["team:data"] and found["status"] == "UP"
