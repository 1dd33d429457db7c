"""``dataflow-runner server``: the checks before listening, then uvicorn.

A server without tokens takes loopback clients only, and says so; one that
would listen on another address without tokens refuses to start unless
``--insecure``. SIGTERM (or SIGINT) stops it cleanly (``app.py``); the first
signal also makes it refuse new runs at once, while open requests end.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from dataflow_runner.errors import FlagError
from dataflow_runner.server.settings import ServerSettings

log = logging.getLogger("dataflow_runner.server")


def serve(settings: ServerSettings) -> None:
    """Run the server until it is told to stop."""
    started = time.monotonic()
    import uvicorn

    from dataflow_runner.engine import tokens
    from dataflow_runner.server.app import create_app
    from dataflow_runner.server.state import ServerParts

    _logging()
    made = ServerParts(settings)
    try:
        has_tokens = tokens.configured(made.engine)
        if not has_tokens and not settings.loopback_only and not settings.insecure:
            raise FlagError(
                f"--host {settings.host}: this server has no tokens, so it would take anyone's "
                "runs; make one first (dataflow-runner tokens create --name NAME --role admin) "
                "or start it with --insecure"
            )
        app = create_app(settings, made)
    except BaseException:
        made.engine.close()
        raise

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            made.draining = True  # refuse new runs at once; the workers stop with the app
            super().handle_exit(sig, frame)
            # A stop asked for is a clean one: exit 0, not by the signal raised again.
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, round(settings.shutdown_timeout)),
        lifespan="on",
    )
    server = Server(config)
    if not has_tokens:
        log.warning(
            "no tokens: %s (make one with: dataflow-runner tokens create --name NAME --role admin)",
            "anyone may call this server (--insecure)"
            if settings.insecure
            else "taking loopback clients only, each as an admin",
        )
    log.info(
        "dataflow-runner server on http://%s:%d (store %s, %d workers, key %s), ready in %.2fs",
        settings.host,
        settings.port,
        made.engine.store.url_for_display,
        settings.workers,
        made.keyring.fingerprint,
        time.monotonic() - started,
    )
    server.run()
    if not server.started:
        raise FlagError(f"could not listen on {settings.host}:{settings.port}")


def _logging() -> None:
    """Server lines on stderr: the access log as it is, the rest with time and level."""
    access = logging.getLogger("dataflow_runner.server.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(logging.WARNING)
