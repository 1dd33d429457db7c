"""Keep secrets out of everything the tool writes: one redaction, applied at every
boundary where text leaves the process or is persisted (the store, the log lines,
printed lines and JSON documents, the live view, error messages, the files the
tool writes, what an engine host sends its clients, what goes to Sentry).

It masks three things:

* values under secret-looking names (:func:`is_secret_key`: ``*password*``,
  ``*passwd*``, ``*secret*``, ``*token*``, ``*_key``, credentials...) in a
  JSON-like tree (:func:`redact`);
* secret *values* this process has seen (:data:`SECRETS`: static keys from
  configs, the values of secret-looking environment variables, ``--vars`` and
  step ``env`` entries, passwords in URLs, the Sentry DSN's key), wherever
  they appear in a line of text, whichever path they took (:func:`scrub`);
* credentials in URLs (``scheme://user:PASS@host``, ``?password=PASS``), even
  when their value was never registered.

>>> SECRETS.add("wJalrXUtnFEMI/K7MDENG")
>>> scrub("key=wJalrXUtnFEMI/K7MDENG")
'key=***'
>>> scrub("cannot reach http://u:hunter2@db:5432/x?token=abc123")
'cannot reach http://u:***@db:5432/x?token=***'
>>> redact({"env": {"FOO_TOKEN": "x"}, "args": ["--key", "wJalrXUtnFEMI/K7MDENG"]})
{'env': {'FOO_TOKEN': '***'}, 'args': ['--key', '***']}

A process only knows the secrets it saw: the registry is process-wide, and
whatever writes the store or a file masks with its own. A process that writes
for another (an engine host runs a client's request) learns the secret values
from what it is given (``engine/api.py``: the request's own variables,
credentials, env entries and lock addresses; a client sends the registered
values its request holds), never from a file.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

MASK = "***"
# Values shorter than this are not scrubbed from free text: masking every "a"
# would destroy output without protecting anything (values under a secret-looking
# name are masked whatever their length).
_MIN_SECRET_LEN = 6
# ``auth`` but not an author, nor a switch such as ``spark.authenticate: "true"``.
_SECRET_KEY = re.compile(
    r"secret|password|passwd|token|credential|private|api[-_]?key|access[-_]?key|session[-_]?key|"
    r"sessiontoken|webhook|auth(?!ors?\b|enticat)|[-_.]key$",
    re.IGNORECASE,
)
# Credential values that name a source rather than being a secret.
_NOT_SECRET_VALUES = frozenset({"", "env", "iam", "default", MASK})
# ``scheme://user:PASSWORD@host``: the password ends at the first "@" (one in a
# password must be percent-encoded), and holds no "/" or white space.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/@:]*:)(?P<pw>[^\s/@]+)@")
# ``?password=...``, ``&token=...``: a query parameter with a secret-looking name.
_QUERY_PARAM = re.compile(r"(?P<head>[?&;](?P<name>[A-Za-z0-9_.\-]+)=)(?P<value>[^&;#\s\"'<>]+)")


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """True for a field or variable name whose value must not be shown.

    >>> [is_secret_key(k) for k in ("db_password", "FOO_TOKEN", "x_key", "keyName", "region")]
    [True, True, True, False, False]
    """
    return bool(_SECRET_KEY.search(key))


class SecretRegistry:
    """The secret values seen by this process, scrubbed from every output line."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._bytes: re.Pattern[bytes] | None = None
        # Runs of an engine host register from several threads.
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if not isinstance(value, str) or value in self._values or value in _NOT_SECRET_VALUES:
            return
        if len(value) >= _MIN_SECRET_LEN:
            with self._lock:
                self._values.add(value)
                self._pattern = self._bytes = None

    def add_all(self, values: Iterable[str]) -> None:
        for value in values:
            self.add(value)

    def add_url(self, text: str | None) -> None:
        """Register the passwords of the URLs in ``text`` (a flag, an address)."""
        self.add_all(url_secrets(text or ""))

    def add_environment(self, environ: Mapping[str, str] | None = None) -> None:
        """Register the values of secret-looking environment variables, and the
        passwords of URLs in the others (``DATAFLOW_RUNNER_STORE=postgresql://...``)."""
        self.add_all(secret_values(dict(os.environ if environ is None else environ)))

    @property
    def values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)

    def _forms(self) -> list[str]:
        """Every registered value as it may be written: itself, and quoted as JSON
        and Python quote it (a message that quotes it escapes a quote or a
        backslash it holds); longest first, so a secret containing another is
        masked whole."""
        forms: set[str] = set()
        for v in self._values:
            forms.update((v, json.dumps(v)[1:-1], json.dumps(v, ensure_ascii=False)[1:-1]))
            forms.add(repr(v)[1:-1])
        return sorted(forms, key=len, reverse=True)

    def _compiled(self) -> re.Pattern[str]:
        pattern = self._pattern
        if pattern is None:
            with self._lock:
                forms = self._forms()
                pattern = self._pattern = re.compile("|".join(re.escape(v) for v in forms))
        return pattern

    def found_in(self, value: Any) -> set[str]:
        """The registered values that occur in the strings of a JSON-like tree."""
        if not self._values:
            return set()
        pattern = self._compiled()
        return {hit for text in _strings(value) for hit in pattern.findall(text)}

    def byte_pattern(self) -> re.Pattern[bytes] | None:
        """The registered values as a pattern over bytes (UTF-8), None when there
        are none: for files scanned without decoding them (``logfiles.py``)."""
        if not self._values:
            return None
        pattern = self._bytes
        if pattern is None:
            with self._lock:
                forms = [v.encode("utf-8", "surrogateescape") for v in self._forms()]
                pattern = self._bytes = re.compile(b"|".join(re.escape(v) for v in forms))
        return pattern

    @property
    def longest(self) -> int:
        """The length in bytes of the longest form of a value (0 when there are none)."""
        with self._lock:
            forms = self._forms()
        return max((len(v.encode("utf-8", "surrogateescape")) for v in forms), default=0)

    def scrub(self, text: str) -> str:
        if self._values:
            text = self._compiled().sub(MASK, text)
        return mask_urls(text)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self._pattern = self._bytes = None


SECRETS = SecretRegistry()


def scrub(text: str) -> str:
    """Mask every registered secret value, and every credential in a URL, in ``text``."""
    return SECRETS.scrub(text)


def mask_urls(text: str) -> str:
    """Mask the passwords of URLs and the values of secret-looking query parameters.

    >>> mask_urls("etcd://root:pw1234@h:2379 and postgresql://u:s3cr3t@db/x?sslpassword=zz")
    'etcd://root:***@h:2379 and postgresql://u:***@db/x?sslpassword=***'
    """
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m["head"] + MASK + "@", text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_mask_param, text)
    return text


def _mask_param(m: re.Match[str]) -> str:
    return m["head"] + MASK if is_secret_key(m["name"]) else m[0]


def url_secrets(text: str) -> list[str]:
    """The passwords (and secret-looking query values) of the URLs in ``text``,
    percent-decoded too: what a library may quote of it.

    >>> url_secrets("http://u:p%40ss1234@consul:8500")
    ['p%40ss1234', 'p@ss1234']
    """
    found: list[str] = []
    if "://" in text:
        found += [m["pw"] for m in _URL_PASSWORD.finditer(text)]
    if "=" in text:
        found += [m["value"] for m in _QUERY_PARAM.finditer(text) if is_secret_key(m["name"])]
    decoded = [urllib.parse.unquote(v) for v in found]
    return list(dict.fromkeys(v for v in found + decoded if v != MASK))


def redact(value: Any, *, key: str = "") -> Any:
    """A copy of a JSON-like tree fit to be shown or stored: values under
    secret-looking keys masked whole, every other string scrubbed (:func:`scrub`)."""
    if isinstance(value, str):
        return MASK if is_secret(key, value) else scrub(value)
    if isinstance(value, Mapping):
        return {_key(k): redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v, key=key) for v in value]
    return value


def _key(key: Any) -> Any:
    # A key is a name, but may be anything: a URL (a path mapping's), a value...
    return scrub(key) if isinstance(key, str) else key


def is_secret(key: str, value: Any) -> bool:
    """True when :func:`redact` masks ``value`` found under ``key`` whole."""
    if not isinstance(value, str) or not key or value in _NOT_SECRET_VALUES:
        return False
    return is_secret_key(key)


def secret_values(value: Any, *, key: str = "") -> list[str]:
    """The secret values a JSON-like tree holds: those under secret-looking keys,
    and the passwords of the URLs in any string (a key too: it may be a URL).

    >>> sorted(secret_values({"vars": {"db_password": "pw-123456", "db": "pg://u:hunter22@h/d"}}))
    ['hunter22', 'pw-123456']
    """
    found: list[str] = []
    _collect(value, key, found)
    return found


def _collect(value: Any, key: str, found: list[str]) -> None:
    # A list filled in place, and the URL parsing only for a string that may hold
    # a URL: a 10,000-step playbook is walked in a few milliseconds.
    if isinstance(value, str):
        if is_secret(key, value):
            found.append(value)
        elif "://" in value or "=" in value:
            found += url_secrets(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            name = str(k)
            if "://" in name or "=" in name:
                found += url_secrets(name)
            _collect(v, name, found)
    elif isinstance(value, list | tuple):
        for v in value:
            _collect(v, key, found)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def register(value: Any) -> None:
    """Register every secret value a JSON-like tree holds (see :func:`secret_values`)."""
    SECRETS.add_all(secret_values(value))


def register_all(values: Iterable[str]) -> None:
    SECRETS.add_all(values)
