"""One server's parts, made once when it starts: its engine (store, fabrics), its
secret key, its queue and workers, its metrics. Routes reach them through
:func:`parts` (FastAPI's ``request.app.state``)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from dataflow_runner.config.redact import scrub
from dataflow_runner.engine.api import Engine
from dataflow_runner.engine.payload import Keyring
from dataflow_runner.engine.queue import RunQueue
from dataflow_runner.engine.workers import Workers
from dataflow_runner.server.settings import ServerSettings


class ScrubbedJSON(JSONResponse):
    """JSON whose text has every secret this process knows masked."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return scrub(text).encode("utf-8")


class ServerParts:
    def __init__(self, settings: ServerSettings) -> None:
        from dataflow_runner.server.metrics import Metrics

        self.settings = settings
        self.engine = Engine(
            state_dir=settings.state_dir, store=settings.store, clock=settings.clock()
        )
        self.engine.store  # noqa: B018 - opens (and migrates) the store now, not at a request
        self.keyring = Keyring.load(settings.secret_key_file, self.engine.state_dir)
        self.queue = RunQueue(self.engine, self.keyring)
        self.metrics = Metrics(self)
        self.workers = Workers(self.queue, slots=settings.workers, on_event=self.metrics.on_event)
        from dataflow_runner.engine.pool_service import PoolService
        from dataflow_runner.engine.pools import SizeClasses

        self.size_classes = SizeClasses.load(settings.size_classes)
        from dataflow_runner.engine.lease import Lease

        #: The pool manager: one round every ``pool_interval`` seconds while this
        #: server holds its lease (one manager at a time across the servers of a store).
        self.pool_manager = PoolService(
            self.engine,
            self.keyring,
            leadership=Lease(
                self.engine, "pool-manager", ttl=settings.scheduler_lease, clock=settings.clock()
            ),
            clock=settings.clock(),
            interval=settings.pool_interval,
            on_placed=self.workers.wake,
            queue=self.queue,
            status_every=settings.cluster_poll_interval,
        )
        from dataflow_runner.engine.cluster_poller import ClusterPoller

        self.poller = ClusterPoller(self.engine, interval=settings.cluster_poll_interval)
        from dataflow_runner.engine.schedules import Scheduler

        self.scheduler = Scheduler(
            self.engine,
            self.queue,
            self.keyring,
            lease_ttl=settings.scheduler_lease,
            on_started=self.workers.wake,
        )
        self.deployer: Any = None
        if settings.deploy_secret:
            from dataflow_runner.config.redact import SECRETS

            SECRETS.add(settings.deploy_secret)
        if settings.deploy_from:
            from dataflow_runner.engine.deploy import Deployer

            self.deployer = Deployer(
                self.engine,
                self.keyring,
                settings.deploy_from,
                branch=settings.deploy_branch,
                path=settings.deploy_path,
                interval=settings.deploy_interval,
            )
        #: Set when the server stops: writes are refused (503), follows end.
        self.draining = False
        self._secrets_seen: set[str] = set()

    def reveal_secrets_of(self, run_id: str) -> None:
        """Learn the secret values of a server's run (its variables' and its
        configs'), so that they are masked in what this server shows of it, even if
        another server ran it."""
        if run_id in self._secrets_seen:
            return
        self._secrets_seen.add(run_id)
        from dataflow_runner.errors import DataflowRunnerError

        try:
            documents = self.queue.documents(run_id)
        except DataflowRunnerError:
            return  # not a server's run (its files' secrets were never stored)
        documents.register_secrets()
        from dataflow_runner.engine.saved import register_document_secrets

        register_document_secrets(documents.playbook)
        if documents.cluster is not None:
            register_document_secrets(documents.cluster)


def parts(request: Request) -> ServerParts:
    found: ServerParts = request.app.state.parts
    return found
