"""Dataflow Runner: run templatable playbooks of data-processing steps on dataflow fabrics.

The public Python API is what this module exports (``__all__``); every other
module is private. The command line, the engine hosts and the server are front
ends of the same :class:`Engine`::

    from dataflow_runner import Engine, RunRequest, load_cluster, load_playbook

    config = load_cluster("cluster.yaml", {})
    book = load_playbook("playbook.yaml", {"date": "2026-11-20"})
    with Engine() as engine:
        handle = engine.submit(RunRequest(playbook=book, cluster=config), on_event=print)
        outcome = handle.wait()  # handle.cancel() from any thread stops it
    print(outcome.state)  # RunState.COMPLETED

Names are imported on first use, so that ``import dataflow_runner`` (and
``dataflow-runner --help``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.9.0"

_EXPORTS = {
    "Engine": "dataflow_runner.engine.api",
    "ClusterInfo": "dataflow_runner.engine.api",
    "RunHandle": "dataflow_runner.engine.handle",
    "CancelToken": "dataflow_runner.engine.cancel",
    "RunRequest": "dataflow_runner.engine.request",
    "LockSpec": "dataflow_runner.engine.request",
    "RunOutcome": "dataflow_runner.engine.events",
    "RunStarted": "dataflow_runner.engine.events",
    "StepChanged": "dataflow_runner.engine.events",
    "RunFinished": "dataflow_runner.engine.events",
    "LogLine": "dataflow_runner.engine.events",
    "Event": "dataflow_runner.engine.events",
    "RunKind": "dataflow_runner.store.records",
    "RunState": "dataflow_runner.store.records",
    "StepState": "dataflow_runner.store.records",
    "ClusterState": "dataflow_runner.store.records",
    "RunRecord": "dataflow_runner.store.records",
    "StepRecord": "dataflow_runner.store.records",
    "AttemptRecord": "dataflow_runner.store.records",
    "ClusterRecord": "dataflow_runner.store.records",
    "RunFilter": "dataflow_runner.store.reader",
    "Page": "dataflow_runner.store.reader",
    "load_cluster": "dataflow_runner.config.loading",
    "load_playbook": "dataflow_runner.config.loading",
    "ClusterConfig": "dataflow_runner.config.model",
    "Playbook": "dataflow_runner.config.model",
    "Step": "dataflow_runner.config.model",
    "StepType": "dataflow_runner.config.model",
    "DataflowRunnerError": "dataflow_runner.errors",
    "ConfigError": "dataflow_runner.errors",
    "FabricError": "dataflow_runner.errors",
    "LockHeldError": "dataflow_runner.errors",
    "RunFailed": "dataflow_runner.errors",
    "StoreError": "dataflow_runner.errors",
}

__all__ = [
    "AttemptRecord",
    "CancelToken",
    "ClusterConfig",
    "ClusterInfo",
    "ClusterRecord",
    "ClusterState",
    "ConfigError",
    "DataflowRunnerError",
    "Engine",
    "Event",
    "FabricError",
    "LockHeldError",
    "LockSpec",
    "LogLine",
    "Page",
    "Playbook",
    "RunFailed",
    "RunFilter",
    "RunFinished",
    "RunHandle",
    "RunKind",
    "RunOutcome",
    "RunRecord",
    "RunRequest",
    "RunStarted",
    "RunState",
    "Step",
    "StepChanged",
    "StepRecord",
    "StepState",
    "StepType",
    "StoreError",
    "__version__",
    "load_cluster",
    "load_playbook",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dataflow_runner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from dataflow_runner.config.loading import load_cluster, load_playbook
    from dataflow_runner.config.model import ClusterConfig, Playbook, Step, StepType
    from dataflow_runner.engine.api import ClusterInfo, Engine
    from dataflow_runner.engine.cancel import CancelToken
    from dataflow_runner.engine.events import (
        Event,
        LogLine,
        RunFinished,
        RunOutcome,
        RunStarted,
        StepChanged,
    )
    from dataflow_runner.engine.handle import RunHandle
    from dataflow_runner.engine.request import LockSpec, RunRequest
    from dataflow_runner.errors import (
        ConfigError,
        DataflowRunnerError,
        FabricError,
        LockHeldError,
        RunFailed,
        StoreError,
    )
    from dataflow_runner.store.reader import Page, RunFilter
    from dataflow_runner.store.records import (
        AttemptRecord,
        ClusterRecord,
        ClusterState,
        RunKind,
        RunRecord,
        RunState,
        StepRecord,
        StepState,
    )
