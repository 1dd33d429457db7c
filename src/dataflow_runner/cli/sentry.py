"""``--sentry DSN``: report errors to Sentry (sentry-sdk), as the Go tool does.

The DSN holds a key: it is registered as a secret and never printed.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from dataflow_runner import __version__
from dataflow_runner.config.redact import redact
from dataflow_runner.errors import FlagError

log = logging.getLogger("dataflow_runner")
_enabled = False


def dsn_secrets(dsn: str) -> list[str]:
    """What a DSN holds that must not be shown: itself, and its key (the user part
    of ``https://KEY@o1.ingest.sentry.io/42``; a secret key, if any, after it).

    >>> dsn_secrets("https://abc123def456@o1.ingest.sentry.io/42")
    ['https://abc123def456@o1.ingest.sentry.io/42', 'abc123def456']
    """
    try:
        parts = urllib.parse.urlsplit(dsn)
        found = [dsn, parts.username or "", parts.password or ""]
    except ValueError:
        found = [dsn]
    return [v for v in found if v]


def _masked(event: Any, _hint: Any) -> Any:
    # An event quotes the error's message and its frames' values: what the tool
    # prints is masked, so is what it sends.
    return redact(event)


def init(dsn: str) -> None:
    global _enabled
    try:
        import sentry_sdk
    except ImportError:
        raise FlagError("--sentry needs sentry-sdk: pip install 'dataflow-runner[emr]'") from None
    try:
        sentry_sdk.init(
            dsn=dsn,
            release=f"dataflow-runner@{__version__}",
            default_integrations=False,
            send_default_pii=False,
            # A frame's variables hold the command line, the configs, the requests:
            # secrets, some too short to be told from other text. Never sent.
            include_local_variables=False,
            before_send=_masked,
        )
    except Exception as exc:  # sentry-sdk raises BadDsn and friends
        raise FlagError(f"--sentry: the DSN is not valid ({type(exc).__name__})") from None
    _enabled = True
    log.info("Initializing sentry")


def capture(exc: BaseException) -> None:
    """Send ``exc`` to Sentry (if enabled) and wait briefly for it to leave."""
    if not _enabled:
        return
    import sentry_sdk

    sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=5)
