"""Local clusters (``up`` on the local fabric): each one is an engine host, a
detached process that runs the engine and takes runs over a Unix socket, in
``<state dir>/clusters/<id>/`` (its files: see ``hostwire.py``). It is started
by its module's name: a fabric does not import the engine.

A cluster's state is known without the store: answering on its socket, its
host says; otherwise its files tell whether it is starting, ended, or died.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

from dataflow_runner import hostwire
from dataflow_runner.errors import FabricError
from dataflow_runner.fabrics.base import ClusterRef, ClusterStatus
from dataflow_runner.procs import pid_alive
from dataflow_runner.store.records import ClusterState


def new_cluster_id() -> str:
    """Shaped like an EMR jobflow id: ``l-`` and 13 upper-case characters."""
    return "l-" + base64.b32encode(secrets.token_bytes(10)).decode()[:13]


def cluster_dir(state_dir: Path, cluster_id: str) -> Path:
    return state_dir / "clusters" / cluster_id


def socket_path(state_dir: Path, cluster_id: str) -> Path:
    return cluster_dir(state_dir, cluster_id) / hostwire.SOCKET_NAME


def spawn(config_doc: dict[str, Any], state_dir: Path, store: str | None) -> ClusterRef:
    """Start the engine host of a new local cluster; it answers once it is up."""
    cluster_id = new_cluster_id()
    here = cluster_dir(state_dir, cluster_id)
    here.mkdir(parents=True, mode=0o700)
    spec = {"id": cluster_id, "state_dir": str(state_dir), "store": store, "config": config_doc}
    hostwire.write_spec(here, spec)
    with open(here / hostwire.LOG_NAME, "ab") as host_log:
        proc = subprocess.Popen(
            [sys.executable, "-m", hostwire.HOST_MODULE, str(here)],
            stdin=subprocess.DEVNULL,
            stdout=host_log,
            stderr=host_log,
            start_new_session=True,
            close_fds=True,
        )
    (here / hostwire.PID_NAME).write_text(f"{proc.pid}\n")
    return ClusterRef(cluster_id, "local", {"endpoint": str(here), "pid": proc.pid})


def status(state_dir: Path, cluster_id: str) -> ClusterStatus:
    """The cluster's state: its host's answer, else what its files tell."""
    here = cluster_dir(state_dir, cluster_id)
    if not here.is_dir():
        raise FabricError(f"no local cluster '{cluster_id}' in {state_dir / 'clusters'}")
    try:
        reply = hostwire.request(here / hostwire.SOCKET_NAME, {"op": "ping"}, timeout=5)
        return ClusterStatus(ClusterState(reply.get("state", "WAITING")))
    except (OSError, ValueError):
        pass
    ended = hostwire.read_ended(here)
    if ended is not None:
        hostwire.remove_spec(here)
        with contextlib.suppress(ValueError, KeyError):
            return ClusterStatus(ClusterState(ended["state"]), reason=ended.get("reason"))
    if pid_alive(hostwire.host_pid(here)):
        return ClusterStatus(ClusterState.STARTING)
    # Killed before it could remove its spec, which may hold secrets: gone now.
    hostwire.remove_spec(here)
    return ClusterStatus(ClusterState.TERMINATED_WITH_ERRORS, reason="its host process died")


def address(state_dir: Path, cluster_id: str) -> Path:
    """The socket of a running local cluster's host; a one-line error otherwise."""
    current = status(state_dir, cluster_id)
    if current.state.finished:
        raise FabricError(
            f"local cluster {cluster_id} is {current.state.value}"
            + (f" ({current.reason})" if current.reason else "")
        )
    return socket_path(state_dir, cluster_id)


def terminate(state_dir: Path, cluster_id: str) -> None:
    """Ask the cluster's host to cancel what runs and end."""
    current = status(state_dir, cluster_id)
    if current.state.finished:
        return
    try:
        hostwire.request(socket_path(state_dir, cluster_id), {"op": "terminate"})
    except (OSError, ValueError) as exc:
        raise FabricError(f"cannot reach local cluster {cluster_id}: {exc}") from None
