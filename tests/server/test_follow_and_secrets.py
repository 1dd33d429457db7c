"""A growing log followed as Server-Sent Events, and secrets masked in every
response that could show them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.server.conftest import Server, cluster_doc, playbook_doc, sh

SECRET = "s3cr3t-Value-9f8e7d"
KEY = "AKIAEXAMPLEKEY123456"


def test_a_growing_log_is_followed_as_server_sent_events_until_its_step_ends(
    server: Server, work: Path
) -> None:
    # Each line waits for the test to have seen the one before (a file the test
    # writes): the log grows while it is followed, whatever the machine's speed.
    script = (
        "for i in 1 2 3; do echo line $i; while [ ! -e seen.$i ]; do sleep 0.05; done; done; "
        "printf 'no newline'"
    )
    run_id = server.submit(
        {"cluster": cluster_doc(work), "playbook": playbook_doc("grow", [sh("talk", script)])}
    )
    server.wait(run_id, lambda r: bool(r["steps"] and r["steps"][0]["attempts"]))
    events: list[tuple[str, str]] = []
    url = f"/api/v1/runs/{run_id}/steps/talk/logs"
    with server.api.stream("GET", url, params={"follow": "true", "stream": "stdout"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = "message"
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
                events.append((kind, data))
                if data.startswith("line "):
                    # The step is still running when its line arrives.
                    assert server.run(run_id)["steps"][0]["state"] == "RUNNING"
                    (work / f"seen.{data.split()[1]}").touch()
                if kind == "end":
                    break
    assert events == [
        ("message", "line 1"),
        ("message", "line 2"),
        ("message", "line 3"),
        ("message", "no newline"),
        ("end", ""),
    ]
    assert server.wait(run_id)["state"] == "COMPLETED"


def test_secrets_are_masked_in_every_response(server: Server, work: Path) -> None:
    cluster = cluster_doc(work, env={"DB_PASSWORD": SECRET})
    steps = [
        sh("show", 'echo "token={{.api_token}} password=$DB_PASSWORD key=$KEY"; exit 2',
           env={"KEY": "{{.aws_access_key}}"}),
    ]  # fmt: skip
    body = {
        "cluster": cluster,
        "playbook": playbook_doc("secretive", steps),
        "vars": {"api_token": SECRET + "-tok", "aws_access_key": KEY, "plain": "visible"},
    }
    run_id = server.submit(body)
    run = server.wait(run_id)
    assert run["state"] == "FAILED"
    kept = {"playbook": body["playbook"], "cluster": cluster, "vars": body["vars"]}
    assert server.api.put("/api/v1/playbooks/secretive", json=kept).status_code == 201
    responses = [
        server.api.get(f"/api/v1/runs/{run_id}"),
        server.api.get(f"/api/v1/runs/{run_id}/steps"),
        server.api.get("/api/v1/runs"),
        server.api.get(f"/api/v1/runs/{run_id}/steps/show/logs"),
        server.api.get(f"/api/v1/runs/{run_id}/steps/show/logs", params={"follow": "true"}),
        server.api.get("/api/v1/playbooks/secretive"),
        server.api.get("/api/v1/playbooks"),
        server.api.get("/api/v1/metrics"),
        server.api.get("/api/v1/clusters"),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        for secret in (SECRET, KEY):
            assert secret not in response.text, (response.url, response.text)
    detail = responses[0].json()
    assert detail["variables"] == {"api_token": "***", "aws_access_key": "***", "plain": "visible"}
    assert "***" in responses[3].text
    assert "password=***" in responses[3].text
    assert json.dumps(detail["clusterDoc"]).count("***") >= 1
    assert "visible" in json.dumps(responses[5].json()["vars"])
    assert SECRET not in server.output()  # nor in the server's own log
