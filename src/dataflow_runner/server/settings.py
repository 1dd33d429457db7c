"""What ``dataflow-runner server`` is told."""

from __future__ import annotations

import ipaddress
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
