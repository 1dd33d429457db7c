"""What ``dataflow-runner server`` is told."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: Path | None = None
    #: A store URL (None: SQLite in the state directory).
    store: str | None = None
    #: Runs executed at once by this process.
    workers: int = 4
    #: Serve another address than loopback without tokens.
    insecure: bool = False
    secret_key_file: Path | None = None
    #: Seconds the runs of a server that stops get to be suspended, and open
    #: connections (a followed log) to end.
    shutdown_timeout: float = 5.0
    #: The admin's size classes: a file mapping each to a cluster config file.
    size_classes: Path | None = None
    #: Seconds between two rounds of the pool manager.
    pool_interval: float = 2.0
    #: Seconds between two polls of the registry's clusters (one call per cluster).
    cluster_poll_interval: float = 15.0
    #: A file holding the time (epoch seconds) the server takes for now: tests
    #: set the scheduler's clock with it (hidden option; None: the real time).
    clock_file: Path | None = None
    #: Seconds the scheduler's lease lasts (another server takes over after it).
    scheduler_lease: float = 15.0
    #: Deployment from git: the repository (a URL or a path), its branch, the
    #: directory of playbooks in it, seconds between polls, the webhook's secret.
    deploy_from: str | None = None
    deploy_branch: str = "main"
    deploy_path: str = ""
    deploy_interval: float = 60.0
    deploy_secret: str | None = None

    def clock(self) -> Callable[[], float]:
        """What "now" is for this server's engine and scheduler."""
        if self.clock_file is None:
            return time.time
        path = self.clock_file

        def read() -> float:
            try:
                return float(path.read_text().strip())
            except (OSError, ValueError):
                return time.time()

        return read

    @property
    def loopback_only(self) -> bool:
        """Whether the server listens on a loopback address only."""
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
