"""A server's bearer tokens: made and revoked by ``dataflow-runner tokens``, each
with a role (``Role``: viewer < submitter < admin).

A token is 32 random bytes (URL-safe base64, prefixed ``dfr_``), shown once when
it is made; the store keeps its SHA-256 only. The token is high-entropy, so a
fast hash is the right one (nothing to brute-force), and it is looked up by its
digest, then compared in constant time.

>>> made, secret = create(engine, "ci", Role.SUBMITTER)  # doctest: +SKIP
>>> authenticate(engine, secret).role  # doctest: +SKIP
<Role.SUBMITTER: 'submitter'>
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import TYPE_CHECKING

from dataflow_runner.errors import DataflowRunnerError, FlagError
from dataflow_runner.store.records import Role, TokenRecord

if TYPE_CHECKING:
    from dataflow_runner.engine.api import Engine

PREFIX = "dfr_"
#: A token's last use is written at most this often (not at every request).
TOUCH_EVERY = 60.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create(engine: Engine, name: str, role: Role | str) -> tuple[TokenRecord, str]:
    """A new token named ``name``: its record and the token itself (shown once)."""
    if not _NAME.match(name):
        raise FlagError(
            f"--name: '{name}' is not a token name (letters, digits, '.', '_', '@', '-'; "
            "at most 64 characters)"
        )
    try:
        role = Role(role)
    except ValueError:
        raise FlagError(
            f"--role: '{role}' is not a role ({', '.join(r.value for r in Role)})"
        ) from None
    secret = PREFIX + secrets.token_urlsafe(32)
    record = TokenRecord(
        id=secrets.token_hex(6),
        name=name,
        role=role,
        hash=digest(secret),
        created_at=time.time(),
    )
    engine.writer.create_token(record)
    return record, secret


def revoke(engine: Engine, ref: str) -> None:
    """Revoke the live token named ``ref`` (or whose id it is)."""
    if engine.writer.revoke_token(ref, at=time.time()) == 0:
        raise DataflowRunnerError(f"no live token named '{ref}'")


def listed(engine: Engine) -> list[TokenRecord]:
    return engine.store.reader.tokens()


def configured(engine: Engine) -> bool:
    """Whether any live token exists (then every client must show one)."""
    return engine.store.reader.any_token()


def authenticate(engine: Engine, secret: str) -> TokenRecord | None:
    """The live token ``secret`` is, or None."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    wanted = digest(secret)
    found = engine.store.reader.token_by_hash(wanted)
    if found is None or not hmac.compare_digest(found.hash, wanted):
        return None
    if found.revoked_at is not None:
        return None
    now = time.time()
    if found.last_used_at is None or now - found.last_used_at >= TOUCH_EVERY:
        engine.writer.touch_token(found.id, at=now)
    return found


def by_id(engine: Engine, token_id: str) -> TokenRecord | None:
    """A live token by its id (a session refers to its token so)."""
    for token in engine.store.reader.tokens():
        if token.id == token_id and token.revoked_at is None:
            return token
    return None
