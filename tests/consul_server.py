"""Consul's HTTP KV contract, served on 127.0.0.1 for tests.

No Consul binary can be installed here; this server implements the documented
KV endpoints the lock client uses, and nothing more:

* ``GET /v1/kv/KEY`` → 404, or 200 with ``[{"Key", "Value" (base64),
  "CreateIndex", "ModifyIndex", "LockIndex", "Flags", "Session"}]``;
* ``PUT /v1/kv/KEY[?cas=N]`` with the raw value as body → ``true``/``false``;
  ``cas=0`` writes only if the key does not exist, ``cas=N`` only if its
  ModifyIndex is N; a key starting with ``/`` is rejected as Consul does;
* ``DELETE /v1/kv/KEY[?cas=N]`` → ``true``/``false``.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse


class ConsulKV(ThreadingHTTPServer):
    daemon_threads = True
    # Consul serves many clients at once; the standard library's listen backlog
    # of 5 would refuse a burst of racers.
    request_queue_size = 128

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.data: dict[str, dict[str, Any]] = {}
        self.index = 0
        self.lock = threading.Lock()
        self.requests = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> ConsulKV:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: ConsulKV

    def log_message(self, *args: Any) -> None:
        pass

    def _key(self) -> tuple[str, dict[str, list[str]]]:
        url = urlparse(self.path)
        if not url.path.startswith("/v1/kv/"):
            return "", {}
        return unquote(url.path[len("/v1/kv/") :]), parse_qs(url.query)

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        key, _ = self._key()
        with self.server.lock:
            self.server.requests += 1
            entry = self.server.data.get(key)
            if entry is None:
                self._send(404, b"")
                return
            self._send(200, json.dumps([entry]).encode())

    def do_PUT(self) -> None:
        key, query = self._key()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not key or key.startswith("/"):
            self._send(400, b"Missing key name" if not key else b"Invalid key name", "text/plain")
            return
        with self.server.lock:
            self.server.requests += 1
            entry = self.server.data.get(key)
            if "cas" in query:
                cas = int(query["cas"][0])
                current = entry["ModifyIndex"] if entry else 0
                if cas != current:
                    self._send(200, b"false")
                    return
            self.server.index += 1
            self.server.data[key] = {
                "Key": key,
                "Value": base64.b64encode(body).decode(),
                "Flags": 0,
                "CreateIndex": entry["CreateIndex"] if entry else self.server.index,
                "ModifyIndex": self.server.index,
                "LockIndex": 0,
                "Session": "",
            }
            self._send(200, b"true")

    def do_DELETE(self) -> None:
        key, query = self._key()
        with self.server.lock:
            self.server.requests += 1
            entry = self.server.data.get(key)
            if "cas" in query and (entry is None or int(query["cas"][0]) != entry["ModifyIndex"]):
                self._send(200, b"false")
                return
            self.server.data.pop(key, None)
            self._send(200, b"true")
