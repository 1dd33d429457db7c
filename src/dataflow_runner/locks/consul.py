"""A lock that is a Consul KV key, taken with check-and-set (``?cas=0``).

Consul's KV contract: ``PUT /v1/kv/KEY?cas=0`` creates the key only if it does
not exist and answers ``true`` or ``false``, so two runners can never both
win (the Go tool read, then wrote: a race). Releasing deletes the key with
``?cas=<ModifyIndex>`` after checking it still holds our token, so a lock
taken over by ``unlock`` and someone else is never deleted by mistake.
``unlock`` deletes a key only if its value is a lock this tool or the Go tool
wrote (``content.py``), and only as it was read (``?cas=<ModifyIndex>``).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from dataflow_runner.errors import DataflowRunnerError, FlagError, LockHeldError
from dataflow_runner.locks.content import key_holder, not_a_lock

TIMEOUT = 10.0


class ConsulLock:
    def __init__(self, address: str, key: str) -> None:
        if key.startswith("/"):
            raise FlagError(
                f"the Consul key {key!r} starts with '/', which Consul rejects: "
                "name the lock without it"
            )
        from dataflow_runner.locks import http_endpoint

        self.base, self.shown, auth = http_endpoint(address)
        self.name = key
        self.token = secrets.token_hex(8)
        self._headers = {"Content-Type": "application/json", **auth}
        acl = os.environ.get("CONSUL_HTTP_TOKEN")
        if acl:
            from dataflow_runner.config.redact import SECRETS

            SECRETS.add(acl)
            self._headers["X-Consul-Token"] = acl

    def _url(self, **query: Any) -> str:
        path = urllib.parse.quote(self.name, safe="/")
        suffix = f"?{urllib.parse.urlencode(query)}" if query else ""
        return f"{self.base}/v1/kv/{path}{suffix}"

    def _request(self, method: str, url: str, body: bytes | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=body, method=method, headers=self._headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return 404, b""
            raise DataflowRunnerError(
                f"Consul at {self.shown} answered {exc.code} for lock {self.name}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataflowRunnerError(
                f"cannot reach Consul at {self.shown} for lock {self.name}: {reason}"
            ) from None

    def _entry(self) -> dict[str, Any] | None:
        status, body = self._request("GET", self._url())
        if status == 404 or not body:
            return None
        entries = json.loads(body)
        return entries[0] if entries else None

    def acquire(self, owner: dict[str, Any]) -> None:
        from dataflow_runner.locks import describe_holder

        payload = json.dumps({**owner, "token": self.token}).encode()
        _, body = self._request("PUT", self._url(cas=0), payload)
        if body.strip() != b"true":
            raise LockHeldError(f"lock already held at {self.name}{describe_holder(self.holder())}")

    def holder(self) -> dict[str, Any] | None:
        entry = self._entry()
        if entry is None:
            return None
        raw = base64.b64decode(entry.get("Value") or b"")
        known = key_holder(raw, go=True)  # ours, or the Go tool's bare pid
        if known is not None:
            return known
        try:
            info = json.loads(raw)
        except ValueError:
            return {"value": raw.decode("utf-8", "replace").strip()}
        return info if isinstance(info, dict) else {"value": info}

    def keep(self) -> None:
        """A Consul key outlives its process by itself."""

    def release(self, *, force: bool = False) -> None:
        entry = self._entry()
        if entry is None:
            return
        if not force and (self.holder() or {}).get("token") != self.token:
            return  # not ours any more: someone unlocked it and took it
        self._request("DELETE", self._url(cas=entry["ModifyIndex"]))

    def unlock(self) -> dict[str, Any]:
        """Delete the key whoever holds it, if its value is a lock; who held it."""
        entry = self._entry()
        if entry is None:
            raise DataflowRunnerError(f"lock {self.name} is not held")
        raw = base64.b64decode(entry.get("Value") or b"")
        holder = key_holder(raw, go=True)
        if holder is None:
            raise DataflowRunnerError(not_a_lock(f"Consul key {self.name}", raw))
        _, body = self._request("DELETE", self._url(cas=entry["ModifyIndex"]))
        if body.strip() != b"true":
            raise DataflowRunnerError(
                f"refusing to unlock Consul key {self.name}: it changed while it was read; "
                "try again"
            )
        return holder
