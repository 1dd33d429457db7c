"""What a server is asked to run, kept so that any server sharing the store can
start it, resume it or retry it: the documents (a playbook, a cluster config),
the variables and the options, as JSON encrypted with Fernet (AES-128-CBC and
HMAC-SHA256, from ``cryptography``), since variables and configs may hold
secrets. The run's own record keeps only their redacted form, as for any run.

The key is the server's secret key: ``--secret-key-file``, else the environment
variable ``DATAFLOW_RUNNER_SECRET_KEY`` (the key itself), else a key file made
once in the state directory (``server.key``, mode 0600). Servers sharing a
PostgreSQL store must share the key: one that cannot decrypt a payload says so.

>>> keyring = Keyring(Keyring.new_key())
>>> keyring.open(keyring.seal({"vars": {"password": "x"}}))
{'vars': {'password': 'x'}}
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataflow_runner.config.redact import is_secret_key, register_all
from dataflow_runner.errors import DataflowRunnerError, FlagError

KEY_FILE = "server.key"
KEY_ENV = "DATAFLOW_RUNNER_SECRET_KEY"


class WrongKey(DataflowRunnerError):
    """A payload sealed with another key than this server's."""


class Keyring:
    """One Fernet key: seals and opens payloads, and derives the other secrets a
    server needs (the session cookie's signing key) from it."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise FlagError(
                "the server's secret key is not a Fernet key (32 bytes, URL-safe base64); "
                "make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
        self._key = key
        #: Which key this is, without telling it (for log lines).
        self.fingerprint = hashlib.sha256(key).hexdigest()[:12]

    @staticmethod
    def new_key() -> bytes:
        return base64.urlsafe_b64encode(os.urandom(32))

    @classmethod
    def load(cls, key_file: Path | None, state_dir: Path) -> Keyring:
        """The server's key (see the module's docstring)."""
        if key_file is not None:
            return cls(_read_key(key_file))
        given = os.environ.get(KEY_ENV, "").strip()
        if given:
            return cls(given.encode())
        path = state_dir / KEY_FILE
        if not path.exists():
            state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            except FileExistsError:  # another server made it first
                return cls(_read_key(path))
            with os.fdopen(fd, "wb") as fh:
                fh.write(cls.new_key() + b"\n")
        return cls(_read_key(path))

    def seal(self, doc: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(json.dumps(doc, ensure_ascii=False).encode()).decode()

    def open(self, token: str, *, what: str = "a request") -> dict[str, Any]:
        from cryptography.fernet import InvalidToken

        try:
            found: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise WrongKey(
                f"cannot decrypt {what}: it was sealed with another secret key than this "
                f"server's (key {self.fingerprint}); servers sharing a store must share "
                "their key (--secret-key-file or DATAFLOW_RUNNER_SECRET_KEY)"
            ) from None
        return found

    def derive(self, purpose: str) -> bytes:
        """A secret of its own for ``purpose``, made from the key."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise FlagError(f"cannot read the secret key file {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class Documents:
    """A playbook and a cluster config as documents (``{"schema", "data"}``), and
    the variables they are rendered with."""

    playbook: Mapping[str, Any]
    cluster: Mapping[str, Any] | None = None
    variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def playbook_text(self) -> str:
        return json.dumps(self.playbook, ensure_ascii=False)

    @property
    def cluster_text(self) -> str | None:
        return None if self.cluster is None else json.dumps(self.cluster, ensure_ascii=False)

    def register_secrets(self) -> None:
        """The values of secret-looking variables are masked in whatever this
        process shows (the configs' own secrets are, once loaded)."""
        register_all(v for k, v in self.variables.items() if is_secret_key(k))


@dataclass(frozen=True)
class Submission:
    """A run a server is asked for: the documents and the options of a run."""

    documents: Documents
    lock: str | None = None
    soft_lock: bool = False
    fabric: str | None = None
    partition: str | None = None
    from_: str | None = None
    to: str | None = None
    submitted_by: str = ""
    #: The saved playbook it was made from, if any.
    saved: str | None = None
    #: The pool whose clusters run it (no cluster config then).
    pool: str | None = None
    #: The running cluster it goes to (a routed job), instead of a cluster config.
    cluster_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        docs = self.documents
        return {
            "playbook": dict(docs.playbook),
            "cluster": dict(docs.cluster) if docs.cluster is not None else None,
            "vars": dict(docs.variables),
            "lock": self.lock,
            "softLock": self.soft_lock,
            "fabric": self.fabric,
            "partition": self.partition,
            "from": self.from_,
            "to": self.to,
            "submittedBy": self.submitted_by,
            "saved": self.saved,
            "pool": self.pool,
            "clusterId": self.cluster_id,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Submission:
        return cls(
            Documents(doc["playbook"], doc.get("cluster"), dict(doc.get("vars") or {})),
            lock=doc.get("lock"),
            soft_lock=bool(doc.get("softLock")),
            fabric=doc.get("fabric"),
            partition=doc.get("partition"),
            from_=doc.get("from"),
            to=doc.get("to"),
            submitted_by=str(doc.get("submittedBy") or ""),
            saved=doc.get("saved"),
            pool=doc.get("pool"),
            cluster_id=doc.get("clusterId"),
        )
