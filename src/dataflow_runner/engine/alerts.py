"""Alerts of a schedule's owner: a run of the schedule failed, or a partition's
inputs missed their deadline. Each is recorded once (its key is unique for the
schedule: ``failure:RUN``, ``deadline:PARTITION``) before it is sent, then POSTed
to the schedule's webhook as JSON that Slack's incoming webhooks take as it is
(``text``), with the same facts as fields (``schedule``, ``kind``, ``run``,
``partition``). A failed POST (a network error, a 5xx, a 429) is tried again,
waiting 0.5 s, 1 s, 2 s...; after :data:`TRIES` tries it is recorded failed,
with the last status code. The outcome is kept with the alert and the schedule.

The webhook's URL may carry a token (Slack's do): it is shown with its path and
query masked (:func:`masked_url`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from dataflow_runner.config.redact import scrub
from dataflow_runner.store.records import AlertRecord

if TYPE_CHECKING:
    from dataflow_runner.config.model import Alerts
    from dataflow_runner.engine.api import Engine

log = logging.getLogger("dataflow_runner.server")

TRIES = 4
FIRST_DELAY = 0.5
TIMEOUT = 10.0


def masked_url(url: str) -> str:
    """``https://hooks.slack.com/services/T0/B0/secret`` → ``https://hooks.slack.com/***``:
    a webhook's path and query are its credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    tail = "/***" if (parts.path not in ("", "/") or parts.query) else ""
    return urlunsplit((parts.scheme, host, tail, "", ""))


def payload(schedule: str, kind: str, text: str, **facts: Any) -> dict[str, Any]:
    """The JSON an alert posts (Slack reads ``text``)."""
    return {"text": text, "schedule": schedule, "kind": kind, **facts}


def post(
    url: str,
    body: Mapping[str, Any],
    *,
    tries: int = TRIES,
    first_delay: float = FIRST_DELAY,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, int, int | None, str]:
    """POST ``body`` with retries: (delivered, tries, last status, last error)."""
    import httpx

    status: int | None = None
    error = ""
    for attempt in range(1, tries + 1):
        try:
            response = httpx.post(url, json=dict(body), timeout=TIMEOUT)
            status = response.status_code
            if status < 300:
                return True, attempt, status, ""
            error = f"HTTP {status}"
            if status < 500 and status != 429:
                return False, attempt, status, error  # it will not get better
        except httpx.HTTPError as exc:
            status, error = None, scrub(str(exc).replace(url, masked_url(url)))
        if attempt < tries:
            sleep(first_delay * 2 ** (attempt - 1))
    return False, tries, status, error


class Alerter:
    """Records and sends alerts; a thread sends them (a slow webhook does not hold
    the scheduler)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: queue.Queue[tuple[AlertRecord, str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def alarm(
        self,
        schedule: str,
        ref: str,
        kind: str,
        text: str,
        alerts: Alerts | None,
        **facts: Any,
    ) -> bool:
        """Record an alert (once per key) and send it if the schedule has a webhook
        for its kind; whether it was new."""
        record = AlertRecord(schedule, ref, kind, time.time(), text)
        wanted = alerts is not None and (
            alerts.on_failure if kind == "failure" else alerts.on_deadline
        )
        if not wanted:
            record = AlertRecord(schedule, ref, kind, time.time(), text, state="skipped")
        if not self.engine.store.scheduling.add_alert(record):
            return False
        log.warning("%s", text)
        if wanted and alerts is not None:
            self._send(record, alerts.webhook, payload(schedule, kind, text, **facts))
        return True

    def failures(self, since: float, webhooks: Mapping[str, Alerts | None]) -> None:
        """Alert the failed runs of schedules (ended since ``since``) not alerted yet."""
        for row in self.engine.store.scheduling.failed_unalerted(since):
            name, run_id = str(row["schedule"]), str(row["run_id"])
            part = f" (partition {row['partition']})" if row.get("partition") else ""
            reason = f": {row['reason']}" if row.get("reason") else ""
            text = f"Schedule '{name}': run {run_id}{part} failed{reason}"
            self.alarm(
                name, f"failure:{run_id}", "failure", text, webhooks.get(name),
                run=run_id, partition=row.get("partition"),
            )  # fmt: skip

    def _send(self, record: AlertRecord, url: str, body: dict[str, Any]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="alerts", daemon=True)
            self._thread.start()
        self._queue.put((record, url, body))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            record, url, body = item
            try:
                self._deliver(record, url, body)
            except Exception as exc:
                log.warning("alert %s could not be recorded: %s", record.ref, exc)

    def _deliver(self, record: AlertRecord, url: str, body: dict[str, Any]) -> None:
        delivered, tries, status, error = post(url, body)
        ended = AlertRecord(
            record.schedule, record.ref, record.kind, record.created_at, record.message,
            state="delivered" if delivered else "failed", attempts=tries, status_code=status,
            error=error, ended_at=time.time(),
        )  # fmt: skip
        store = self.engine.store.scheduling
        store.end_alert(ended)
        store.set_last_alert(record.schedule, shown(ended))
        if delivered:
            log.info("alert %s delivered to %s", record.ref, masked_url(url))
        else:
            log.warning(
                "alert %s not delivered to %s after %d tries: %s",
                record.ref, masked_url(url), tries, error,
            )  # fmt: skip

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)


def shown(alert: AlertRecord) -> dict[str, Any]:
    """An alert's outcome as the API shows it."""
    return {
        "ref": alert.ref,
        "kind": alert.kind,
        "message": alert.message,
        "state": alert.state,
        "attempts": alert.attempts,
        "statusCode": alert.status_code,
        "error": alert.error,
        "createdAt": alert.created_at,
        "endedAt": alert.ended_at,
    }
