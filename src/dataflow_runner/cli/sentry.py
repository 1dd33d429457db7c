"""``--sentry DSN``: report errors to Sentry (sentry-sdk), as the Go tool does.

The DSN holds a key: it is registered as a secret and never printed.
"""

from __future__ import annotations

import logging

from dataflow_runner import __version__
from dataflow_runner.errors import FlagError

log = logging.getLogger("dataflow_runner")
_enabled = False


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
