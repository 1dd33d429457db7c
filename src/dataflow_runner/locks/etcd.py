"""A lock that is an etcd key bound to a lease, through etcd's v3 JSON API.

Taking it is one transaction: "if the key's create revision is 0 (it does not
exist), put it with our lease", so two runners can never both win. A thread
keeps the lease alive while the run lives; if the runner dies, the lease
expires and etcd frees the lock by itself. A *failed* run keeps a hard lock,
as the Go tool does: the key is rewritten without a lease, so it stays until
``dataflow-runner unlock``, which deletes the key only if its value is a lock
this tool wrote (``content.py``), and only as it was read (its mod revision).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import urllib.error
import urllib.request
from typing import Any

from dataflow_runner.errors import DataflowRunnerError, LockHeldError
from dataflow_runner.locks.content import key_holder, not_a_lock

TTL_SECONDS = 30
TIMEOUT = 10.0


def _b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


class EtcdLock:
    def __init__(self, endpoint: str, name: str) -> None:
        from dataflow_runner.locks import http_endpoint

        self.base, self.shown, self._auth = http_endpoint(endpoint)
        self.name = name
        self.key = f"dataflow-runner/locks/{name}"
        self.token = secrets.token_hex(8)
        self.lease: str | None = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    @classmethod
    def from_backend(cls, backend: str, name: str) -> EtcdLock:
        """``etcd://host:port`` (the ``--lock-backend``) and a lock name."""
        return cls("http://" + backend[len("etcd://") :].rstrip("/"), name)

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(
            f"{self.base}{path}",
            data=json.dumps(payload).encode(),
            method="POST",
            headers={"Content-Type": "application/json", **self._auth},
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                answer: dict[str, Any] = json.loads(resp.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            raise DataflowRunnerError(
                f"etcd at {self.shown} answered {exc.code} for lock {self.name}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataflowRunnerError(
                f"cannot reach etcd at {self.shown} for lock {self.name}: {reason}"
            ) from None

    def acquire(self, owner: dict[str, Any]) -> None:
        from dataflow_runner.locks import describe_holder

        self.lease = str(self._post("/v3/lease/grant", {"TTL": TTL_SECONDS})["ID"])
        value = json.dumps({**owner, "token": self.token})
        answer = self._post(
            "/v3/kv/txn",
            {
                "compare": [{"key": _b64(self.key), "target": "CREATE", "create_revision": "0"}],
                "success": [
                    {
                        "request_put": {
                            "key": _b64(self.key),
                            "value": _b64(value),
                            "lease": self.lease,
                        }
                    }
                ],
            },
        )
        if not answer.get("succeeded"):
            self._post("/v3/lease/revoke", {"ID": self.lease})
            self.lease = None
            raise LockHeldError(f"lock already held at {self.name}{describe_holder(self.holder())}")
        self._keeper = threading.Thread(target=self._keep_alive, name="etcd-lease", daemon=True)
        self._keeper.start()

    def _keep_alive(self) -> None:
        while not self._stop.wait(TTL_SECONDS / 3):
            try:
                self._post("/v3/lease/keepalive", {"ID": self.lease})
            except DataflowRunnerError:
                continue  # retried at the next tick; the TTL leaves room for a few misses

    def _raw(self) -> tuple[bytes, str] | None:
        """The key's value and mod revision; None when it does not exist."""
        answer = self._post("/v3/kv/range", {"key": _b64(self.key)})
        kvs = answer.get("kvs") or []
        if not kvs:
            return None
        return base64.b64decode(kvs[0].get("value", "")), str(kvs[0].get("mod_revision"))

    def _value(self) -> tuple[dict[str, Any] | None, str | None]:
        found = self._raw()
        if found is None:
            return None, None
        raw, revision = found
        try:
            info = json.loads(raw)
        except ValueError:
            info = {"value": raw.decode("utf-8", "replace")}
        return (info if isinstance(info, dict) else {"value": info}), revision

    def holder(self) -> dict[str, Any] | None:
        return self._value()[0]

    def _stop_keeping(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(timeout=5)

    def release(self, *, force: bool = False) -> None:
        self._stop_keeping()
        info, revision = self._value()
        if info is not None and (force or info.get("token") == self.token):
            self._post(
                "/v3/kv/txn",
                {
                    "compare": [{"key": _b64(self.key), "target": "MOD", "mod_revision": revision}],
                    "success": [{"request_delete_range": {"key": _b64(self.key)}}],
                },
            )
        if self.lease:
            self._post("/v3/lease/revoke", {"ID": self.lease})
            self.lease = None

    def unlock(self) -> dict[str, Any]:
        """Delete the key whoever holds it, if its value is a lock; who held it."""
        found = self._raw()
        if found is None:
            raise DataflowRunnerError(f"lock {self.name} is not held")
        raw, revision = found
        holder = key_holder(raw, go=False)  # the Go tool never used etcd
        if holder is None:
            where = f"etcd key {self.key}"
            raise DataflowRunnerError(not_a_lock(where, raw, go=False))
        answer = self._post(
            "/v3/kv/txn",
            {
                "compare": [{"key": _b64(self.key), "target": "MOD", "mod_revision": revision}],
                "success": [{"request_delete_range": {"key": _b64(self.key)}}],
            },
        )
        if not answer.get("succeeded"):
            raise DataflowRunnerError(
                f"refusing to unlock etcd key {self.key}: it changed while it was read; try again"
            )
        return holder

    def keep(self) -> None:
        """Keep the lock after this process ends (a failed run's hard lock)."""
        self._stop_keeping()
        info, revision = self._value()
        if info is not None and info.get("token") == self.token:
            self._post(
                "/v3/kv/txn",
                {
                    "compare": [{"key": _b64(self.key), "target": "MOD", "mod_revision": revision}],
                    "success": [
                        {"request_put": {"key": _b64(self.key), "value": _b64(json.dumps(info))}}
                    ],
                },
            )
        if self.lease:
            self._post("/v3/lease/revoke", {"ID": self.lease})
            self.lease = None
