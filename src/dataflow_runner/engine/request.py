"""What a front end asks the engine for: a run of a playbook, transient (on a
cluster launched for it) or attached (on a running cluster), with its lock.

>>> RunRequest(playbook=book, cluster=config).kind  # doctest: +SKIP
<RunKind.TRANSIENT: 'transient'>
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dataflow_runner.config.model import ClusterConfig, Playbook, to_doc
from dataflow_runner.config.redact import secret_values, url_secrets
from dataflow_runner.config.source import PlaybookSource
from dataflow_runner.data.partitions import Window
from dataflow_runner.errors import FlagError
from dataflow_runner.store.records import RunKind


@dataclass(frozen=True)
class LockSpec:
    """The Go tool's locks: a hard lock (``--lock``) is kept when the run fails, a
    soft one (``--softLock``) released whatever happens; in a file by default, in
    Consul (``consul``: its address) or etcd (``backend``: ``etcd://host:port``)."""

    name: str
    soft: bool = False
    consul: str | None = None
    backend: str | None = None


@dataclass(frozen=True)
class RunRequest:
    """A run to execute.

    Exactly one of ``cluster`` (transient: the config of the cluster to launch)
    and ``cluster_id`` (attached: a running cluster's id) is given. ``fabric``
    overrides the cluster config's. ``detach``: leave the steps to the cluster
    once submitted (the Go tool's ``--async``). Paths and variables are kept
    with the run, so that ``resume`` can load the same files again.

    The playbook is ``playbook``, or ``source`` (its file, rendered with its
    variables): a partitioned playbook needs its source, rendered again for each
    partition of ``window`` (default: the latest closed partition). A step whose
    outputs all exist is skipped, unless ``force`` or it is in ``force_steps``
    (or downstream of one). ``concurrency`` overrides the playbook's.
    """

    playbook: Playbook | None = None
    cluster: ClusterConfig | None = None
    cluster_id: str | None = None
    fabric: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    playbook_path: str = ""
    cluster_path: str = ""
    lock: LockSpec | None = None
    detach: bool = False
    log_failed_steps: bool = False
    #: Seconds between status polls of a remote fabric (None: the fabric's default).
    poll_interval: float | None = None
    #: Seconds the cleanup after a cancel or a failure may take (then the run ends
    #: saying what could not be done: a cluster left up, with the command to end it).
    cleanup_timeout: float = 60.0
    #: Seconds a remote fabric may stay unavailable before the run gives up.
    retry_timeout: float = 900.0
    #: The run's id (None: a new one is made).
    run_id: str | None = None
    source: PlaybookSource | None = None
    window: Window | None = None
    force: bool = False
    force_steps: tuple[str, ...] = ()
    concurrency: int | None = None
    #: The run was recorded QUEUED by a server (``engine/queue.py``), and its worker
    #: claimed it: starting it turns that record into the running run.
    queued: bool = False
    #: Secret values the request holds that nothing in it names as such (a value
    #: read with ``systemEnv`` and rendered into a step's argument): an engine
    #: host that runs the request is told them, to mask them. Never stored.
    secrets: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.playbook is None and self.source is None:
            raise FlagError("a run needs a playbook (or its source)")
        if self.concurrency is not None and self.concurrency < 1:
            raise FlagError(f"--concurrency must be at least 1, got {self.concurrency}")
        if (self.cluster is None) == (self.cluster_id is None):
            raise FlagError("a run needs either a cluster config or a cluster id, not both")
        if self.detach and self.lock is not None:
            raise FlagError("--async and --lock or --softLock are not compatible")

    @property
    def kind(self) -> RunKind:
        return RunKind.ATTACHED if self.cluster_id else RunKind.TRANSIENT

    def secret_values(self) -> set[str]:
        """Every secret value the request holds: its secret-looking variables, the
        configs' credentials and secret-looking ``env`` entries, the passwords of
        the URLs in it (its lock's address...), and :attr:`secrets`."""
        found = set(self.secrets)
        found.update(secret_values(dict(self.variables)))
        if self.playbook is not None:
            found.update(secret_values(to_doc(self.playbook, exclude_defaults=True)))
        if self.source is not None:  # a partitioned playbook's, rendered per partition
            found.update(secret_values(dict(self.source.given)))
        if self.cluster is not None:
            found.update(secret_values(to_doc(self.cluster, exclude_defaults=True)))
        if self.lock is not None:
            found.update(url_secrets(self.lock.consul or ""))
            found.update(url_secrets(self.lock.backend or ""))
        return found
