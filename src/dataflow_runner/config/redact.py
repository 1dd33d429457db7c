"""Keep secrets out of everything the tool writes.

Two mechanisms, both cheap:

* :func:`redact_tree` masks values under secret-looking keys (credentials,
  passwords, tokens) in a JSON-like tree before it is printed or stored.
* :data:`SECRETS` remembers secret *values* (static keys from configs, the
  values of secret-looking environment variables) and :func:`scrub` replaces
  them wherever they appear in a line of output, whichever path they took.

>>> SECRETS.add("wJalrXUtnFEMI/K7MDENG")
>>> scrub("key=wJalrXUtnFEMI/K7MDENG")
'key=***'
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

MASK = "***"
# Values shorter than this are not scrubbed from free text: masking every "a"
# would destroy output without protecting anything.
_MIN_SECRET_LEN = 6
_SECRET_KEY = re.compile(
    r"secret|password|passwd|token|credential|private|api[-_]?key|access[-_]?key|session[-_]?key|"
    r"sessiontoken|auth",
    re.IGNORECASE,
)
# Credential values that name a source rather than being a secret.
_NOT_SECRET_VALUES = frozenset({"", "env", "iam", "default"})


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True for a field or variable name whose value must not be shown."""
    return bool(_SECRET_KEY.search(key))


class SecretRegistry:
    """The secret values seen by this process, scrubbed from every output line."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        fresh = value not in self._values and value not in _NOT_SECRET_VALUES
        if fresh and len(value) >= _MIN_SECRET_LEN:
            self._values.add(value)
            self._pattern = None

    def add_environment(self, environ: Mapping[str, str] | None = None) -> None:
        """Register the values of secret-looking environment variables."""
        for key, value in (os.environ if environ is None else environ).items():
            if is_secret_key(key):
                self.add(value)

    def scrub(self, text: str) -> str:
        if not self._values:
            return text
        if self._pattern is None:
            # Longest first, so a secret containing another is masked whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern.sub(MASK, text)

    def clear(self) -> None:
        self._values.clear()
        self._pattern = None


SECRETS = SecretRegistry()


def scrub(text: str) -> str:
    """Mask every registered secret value in ``text``."""
    return SECRETS.scrub(text)


def redact_tree(value: Any, *, key: str = "") -> Any:
    """A copy of a JSON-like tree with values under secret-looking keys masked."""
    if isinstance(value, Mapping):
        return {k: redact_tree(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(v, key=key) for v in value]
    return MASK if is_secret(key, value) else value


def is_secret(key: str, value: Any) -> bool:
    """True when :func:`redact_tree` masks ``value`` found under ``key``."""
    if not isinstance(value, str) or not key or value in _NOT_SECRET_VALUES:
        return False
    return is_secret_key(key)


def register_all(values: Iterable[str]) -> None:
    for v in values:
        SECRETS.add(v)
