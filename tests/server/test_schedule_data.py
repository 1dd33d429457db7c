"""Schedules on data in the real server: a partitioned playbook's ticks run the
partitions that closed, catch-up runs again a partition whose output was deleted;
a failed run's alert reaches a webhook receiver started by the test (retried
when the receiver fails first), its outcome shown, the webhook's URL masked."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Server, sh
from tests.server.schedule_helpers import (
    Clock,
    clocked_server,
    ended_runs,
    eventually,
    put,
    schedule_of,
    scheduled,
)


class Receiver:
    """A webhook receiver: answers 500 to the first ``fail_first`` posts, then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.posts: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                outer.posts.append(json.loads(self.rfile.read(length)))
                status = 500 if len(outer.posts) <= outer.fail_first else 200
                outer.statuses.append(status)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/services/T0/B0/tok3n?x=1"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()


@pytest.fixture
def clock(tmp_path: Path) -> Clock:
    return Clock(tmp_path / "clock", "2026-11-20T10:00:30Z")


@pytest.fixture
def server(tmp_path: Path, clock: Clock) -> Iterator[Server]:
    running = clocked_server(tmp_path, clock)
    yield running
    running.stop()


def test_ticks_run_closed_partitions_and_catch_up_reruns_a_deleted_output(
    server: Server, clock: Clock, work: Path
) -> None:
    out = work / "out"
    book = scheduled(
        "hourly",
        {"cron": "0 * * * *", "catchUp": {"last": 3}, "maxActiveRuns": 5},
        [
            sh(
                "count",
                f"mkdir -p {out}; echo x >> {work}/runs.{{{{.hour}}}}; "
                f"echo done > {out}/{{{{.hour}}}}.txt",
                outputs=[f"{out}/{{{{.hour}}}}.txt"],
            )
        ],
        partitions={"every": "hour", "start": "2026-11-20T00:00Z"},
    )
    put(server, "hourly", book, work)
    clock.set("2026-11-20T10:00:40Z")
    runs = ended_runs(server, "hourly", 3)
    assert sorted(r["partition"] for r in runs) == [
        "2026-11-20T07:00:00Z", "2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z"
    ]  # fmt: skip
    assert {r["state"] for r in runs} == {"COMPLETED"}
    (out / "08.txt").unlink()  # deleted by hand
    clock.set("2026-11-20T11:00:20Z")
    runs = ended_runs(server, "hourly", 5)
    newest = sorted(r["partition"] for r in runs[:2])
    assert newest == ["2026-11-20T08:00:00Z", "2026-11-20T10:00:00Z"]
    assert sorted(r["kind"] for r in runs[:2]) == ["catch-up", "tick"]
    counts = {h: (work / f"runs.{h}").read_text().count("x") for h in ("07", "08", "09", "10")}
    assert counts == {"07": 1, "08": 2, "09": 1, "10": 1}
    assert (out / "08.txt").exists()


@pytest.mark.parametrize("fail_first", [0, 2])
def test_a_failed_run_is_alerted_to_the_webhook(
    server: Server, clock: Clock, work: Path, fail_first: int
) -> None:
    receiver = Receiver(fail_first)
    try:
        book = scheduled(
            "breaks",
            {"cron": "* * * * *", "alerts": {"webhook": receiver.url}},
            [sh("boom", "echo nope >&2; exit 3")],
        )
        put(server, "breaks", book, work)
        shown = schedule_of(server, "breaks")
        assert shown["webhook"] == f"http://127.0.0.1:{receiver.http.server_address[1]}/***"
        assert "tok3n" not in json.dumps(server.api.get("/api/v1/playbooks/breaks").json())
        clock.set("2026-11-20T10:01:01Z")
        (run,) = ended_runs(server, "breaks", 1)
        assert run["state"] == "FAILED"
        eventually(lambda: len(receiver.posts) > fail_first or None, "the alert")
        body = receiver.posts[-1]
        assert body["schedule"] == "breaks" and body["kind"] == "failure"
        assert body["run"] == run["runId"]
        assert body["text"].startswith(f"Schedule 'breaks': run {run['runId']} failed")

        def delivered() -> dict[str, Any] | None:
            alert = schedule_of(server, "breaks")["lastAlert"]
            return alert if alert and alert["state"] != "pending" else None

        alert = eventually(delivered, "the alert's outcome")
        assert (alert["state"], alert["attempts"], alert["statusCode"]) == (
            "delivered", fail_first + 1, 200
        )  # fmt: skip
        assert receiver.statuses == [500] * fail_first + [200]
        assert "tok3n" not in server.output()
    finally:
        receiver.close()


def test_inputs_start_a_partition_and_a_missed_deadline_is_alerted(
    server: Server, clock: Clock, work: Path
) -> None:
    receiver = Receiver()
    try:
        book = scheduled(
            "sensed",
            {"trigger": "inputs", "pokeSeconds": 1, "deadline": 600,
             "alerts": {"webhook": receiver.url}},
            [sh("use", "cat in/{{.hour}}.txt > used.{{.hour}}", inputs=["in/{{.hour}}.txt"])],
            partitions={"every": "hour", "start": "2026-11-20T00:00Z"},
        )  # fmt: skip
        put(server, "sensed", book, work)
        # 09:00 closed 40 s ago; its input is not there: nothing starts, no alert yet.
        clock.set("2026-11-20T10:00:40Z")
        clock.set("2026-11-20T10:11:00Z")  # ten minutes after it closed: the deadline
        eventually(lambda: receiver.posts or None, "the deadline alert")
        assert receiver.posts[0]["kind"] == "deadline"
        assert "2026-11-20T09:00:00Z" in receiver.posts[0]["text"]
        assert schedule_of(server, "sensed")["lastRuns"] == []
        (work / "in").mkdir()
        (work / "in" / "09.txt").write_text("late\n")  # the input appears
        (run,) = ended_runs(server, "sensed", 1)
        assert (run["kind"], run["partition"], run["state"]) == (
            "inputs", "2026-11-20T09:00:00Z", "COMPLETED"
        )  # fmt: skip
        assert (work / "used.09").read_text() == "late\n"
        assert len(receiver.posts) == 1  # alerted once
    finally:
        receiver.close()
